/*
 * test_admin_actions.c -- the POST actions (actions.c) against fake
 * payments and coupons.admin services: a refund waits for the service's
 * callback and answers then; every outcome is one log line (no free text,
 * no secret), one admin.<action> event and one admin_actions_total count.
 * Requests use Bearer (no CSRF token needed: test_admin_csrf.c covers it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "adm.h"
#include "coupons_admin.h"
#include "fake_api.h"
#include "payments_service.h"

#define PASS "correct-horse-battery"

static void *st;

/* ---- a fake payments service ---------------------------------------------------------------- */

static struct {
    int calls;
    int rc;
    char order[80];
    char reason[512];
    int reason_null;
    void (*done)(int, const char *, void *);
    void *cb_ud;
} pay;

static int fake_refund(void *ud, const char *order_id, const char *reason,
                       void (*done)(int status, const char *message, void *cb_ud), void *cb_ud)
{
    pay.calls++;
    snprintf(pay.order, sizeof pay.order, "%s", order_id);
    pay.reason_null = reason == NULL;
    snprintf(pay.reason, sizeof pay.reason, "%s", reason ? reason : "");
    if (pay.rc == MQ_OK) {
        pay.done = done;
        pay.cb_ud = cb_ud;
    }
    return pay.rc;
}

static int fake_is_unlocked(void *ud, const char *r)
{
    return 0;
}

static const mq_payments_service_v1 payments = {.refund = fake_refund,
                                                .is_unlocked = fake_is_unlocked};

/* ---- a fake coupons.admin service ----------------------------------------------------------- */

static struct {
    int creates, disables, rc;
    char code[64];
    int kind;
    long value, total, per_user;
    int64_t from, until;
} cpn;

static int fake_create(void *ud, const char *code, int kind, long value, long total_uses,
                       long per_user, int64_t from, int64_t until)
{
    cpn.creates++;
    snprintf(cpn.code, sizeof cpn.code, "%s", code);
    cpn.kind = kind;
    cpn.value = value;
    cpn.total = total_uses;
    cpn.per_user = per_user;
    cpn.from = from;
    cpn.until = until;
    return cpn.rc;
}

static int fake_disable(void *ud, const char *code)
{
    cpn.disables++;
    snprintf(cpn.code, sizeof cpn.code, "%s", code);
    return cpn.rc;
}

static char *fake_list(void *ud)
{
    return strdup("[]");
}

static const mq_coupons_admin_v1 coupons = {
    .create = fake_create, .disable = fake_disable, .list_json = fake_list};

/* ---- setup ---------------------------------------------------------------------------------- */

static int setup(void **s)
{
    fake_reset();
    memset(&pay, 0, sizeof pay);
    memset(&cpn, 0, sizeof cpn);
    fake_set_config("ADMIN_PASS", PASS);
    int rc = -1;
    st = fake_plugin_init(&rc);
    assert_int_equal(rc, MQ_OK);
    fake_publish(MQ_PAYMENTS_SERVICE, MQ_PAYMENTS_SERVICE_VERSION, &payments, NULL);
    fake_publish(MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION, &coupons, NULL);
    fake_store_put("orders", "MQ20261127140501abcdef0123",
                   "{\"v\":1,\"id\":\"MQ20261127140501abcdef0123\",\"provider\":\"kakao\","
                   "\"amount\":3900,\"status\":\"approved\",\"reason\":\"\"}");
    return 0;
}

static int teardown(void **s)
{
    fake_plugin_fini(st);
    return 0;
}

static mq_req *post(const char *path, const char *body)
{
    mq_req *r = fake_req_new("POST", path);
    fake_req_header(r, "Authorization", "Bearer " PASS);
    snprintf(r->ip, sizeof r->ip, "10.0.0.5");
    r->body = body;
    fake_dispatch("POST", path, r);
    return r;
}

/* The last admin event, parsed (caller puts). */
static json_object *last_event(void)
{
    const char *e = fake_store_last("events");
    assert_non_null(e);
    return json_tokener_parse(e);
}

static const char *field(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static double actions(const char *labels)
{
    return fake_metric("admin_actions_total", labels);
}

/* ---- refund --------------------------------------------------------------------------------- */

#define ORDER "MQ20261127140501abcdef0123"

static void refund__waits_for_the_service_then_200_recorded(void **s)
{
    mq_req *r = post("/admin/actions/refund",
                     "order=" ORDER "&reason=%EA%B3%A0%EA%B0%9D+%EC%9A%94%EC%B2%AD%2C+%22%EC%A4%91"
                     "%EB%B3%B5%22");
    assert_int_equal(pay.calls, 1);
    assert_string_equal(pay.order, ORDER);
    assert_string_equal(pay.reason, "고객 요청, \"중복\"");
    assert_true(r->suspended);
    assert_int_equal(r->answered, 0);
    assert_int_equal(fake_store_count("events"), 0);

    pay.done(MQ_OK, "refunded", pay.cb_ud);
    assert_int_equal(r->answered, 1);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->resp_body, "환불했습니다"));
    assert_non_null(strstr(r->resp_body, "href=\"/admin/logs?order=" ORDER "\""));

    json_object *e = last_event();
    assert_string_equal(field(e, "type"), "admin.refund");
    assert_string_equal(field(e, "result"), "ok");
    assert_string_equal(field(e, "order"), ORDER);
    assert_string_equal(field(e, "provider"), "kakao");
    assert_string_equal(field(e, "amount"), "3900");
    assert_string_equal(field(e, "reason"), "고객 요청, \"중복\"");
    assert_string_equal(field(e, "via"), "bearer");
    assert_string_equal(field(e, "ip"), "10.0.0.5");
    json_object_put(e);
    assert_int_equal(actions("refund,ok"), 1);
    assert_int_equal(actions("refund,failed"), 0);
    assert_true(fake_logs_contain("admin action \"refund\" by \"10.0.0.5\" (bearer) order \"" ORDER
                                  "\" provider \"kakao\": ok"));
    assert_false(fake_logs_contain("고객 요청")); /* free text stays out of the log */
    assert_false(fake_logs_contain(PASS));
    fake_req_free(r);
}

static void refund__gateway_refuses__502_failed_with_message(void **s)
{
    mq_req *r = post("/admin/actions/refund", "order=" ORDER "&format=json");
    assert_true(pay.reason_null);
    pay.done(MQ_EIO, "kakao cancel failed: 400 -780", pay.cb_ud);
    assert_int_equal(r->status, 502);
    json_object *o = json_tokener_parse(r->resp_body);
    assert_false(json_object_get_boolean(json_object_object_get(o, "ok")));
    assert_string_equal(field(o, "code"), "refund_failed");
    assert_non_null(strstr(field(o, "message"), "kakao cancel failed: 400 -780"));
    assert_string_equal(field(o, "order"), ORDER);
    json_object_put(o);
    assert_int_equal(actions("refund,failed"), 1);
    json_object *e = last_event();
    assert_string_equal(field(e, "result"), "failed");
    json_object_put(e);
    fake_req_free(r);
}

static void refund__refused_at_once__mapped_and_recorded(void **s)
{
    const struct {
        int rc, status;
        const char *code;
    } cases[] = {{MQ_ENOENT, 404, "unknown_order"},
                 {MQ_ESTATE, 409, "wrong_state"},
                 {MQ_EIO, 503, "gateway_unavailable"}};
    for (int i = 0; i < 3; i++) {
        pay.rc = cases[i].rc;
        mq_req *r = post("/admin/actions/refund", "order=" ORDER "&format=json");
        assert_int_equal(r->answered, 1);
        assert_int_equal(r->status, cases[i].status);
        assert_non_null(strstr(r->resp_body, cases[i].code));
        fake_req_free(r);
    }
    assert_int_equal(actions("refund,failed"), 3);
    assert_int_equal(fake_store_count("events"), 3);
}

static void refund__bad_order_id__400_service_not_called(void **s)
{
    mq_req *r = post("/admin/actions/refund", "order=..%2F..%2Fx%3B");
    assert_int_equal(r->status, 400);
    assert_int_equal(pay.calls, 0);
    fake_req_free(r);
    r = post("/admin/actions/refund", "");
    assert_int_equal(r->status, 400);
    fake_req_free(r);
    assert_int_equal(actions("refund,failed"), 2);
}

static void refund__no_payments_plugin__503(void **s)
{
    fake.nservices = 0;
    mq_req *r = post("/admin/actions/refund", "order=" ORDER);
    assert_int_equal(r->answered, 1);
    assert_int_equal(r->status, 503);
    fake_req_free(r);
}

static void refund__long_reason__cut_on_a_character(void **s)
{
    char body[1200] = "order=" ORDER "&reason=";
    for (int i = 0; i < 100; i++)
        strcat(body, "%ED%95%9C"); /* 한: 3 bytes */
    mq_req *r = post("/admin/actions/refund", body);
    assert_int_equal(strlen(pay.reason), 198); /* 66 whole characters <= 200 bytes */
    pay.done(MQ_OK, "refunded", pay.cb_ud);
    fake_req_free(r);
}

/* ---- coupons -------------------------------------------------------------------------------- */

static void coupon_create__valid__passed_through_200(void **s)
{
    mq_req *r = post("/admin/actions/coupon-create",
                     "code=SPRING5000&kind=fixed&value=5000&total_uses=100&per_user=1&"
                     "valid_from=2026-12-01&valid_until=2026-12-31");
    assert_int_equal(r->status, 200);
    assert_int_equal(cpn.creates, 1);
    assert_string_equal(cpn.code, "SPRING5000");
    assert_int_equal(cpn.kind, MQ_COUPON_FIXED);
    assert_int_equal(cpn.value, 5000);
    assert_int_equal(cpn.total, 100);
    assert_int_equal(cpn.per_user, 1);
    assert_int_equal(cpn.from, mq_admin_kst_to_ms(2026, 12, 1, 0, 0, 0));
    assert_int_equal(cpn.until, mq_admin_kst_to_ms(2027, 1, 1, 0, 0, 0)); /* the 31st included */
    json_object *e = last_event();
    assert_string_equal(field(e, "type"), "admin.coupon_create");
    assert_string_equal(field(e, "coupon"), "SPRING5000");
    json_object_put(e);
    assert_int_equal(actions("coupon_create,ok"), 1);
    fake_req_free(r);
}

static void coupon_create__bad_input__400_service_not_called(void **s)
{
    const char *bodies[] = {
        "code=X&kind=fixed&value=1&total_uses=1",
        "code=OK10&kind=bogus&value=1&total_uses=1",
        "code=OK10&kind=percent&value=101&total_uses=1",
        "code=OK10&kind=fixed&value=0&total_uses=1",
        "code=OK10&kind=fixed&value=10&total_uses=0",
        "code=OK10&kind=fixed&value=10&total_uses=1&valid_from=tomorrow",
        "code=OK10&kind=fixed&value=10&total_uses=1&valid_from=2026-12-31&valid_until=2026-12-01",
        "code=%3Cscript%3E&kind=fixed&value=10&total_uses=1",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        mq_req *r = post("/admin/actions/coupon-create", bodies[i]);
        assert_int_equal(r->status, 400);
        assert_null(strstr(r->resp_body, "<script>"));
        fake_req_free(r);
    }
    assert_int_equal(cpn.creates, 0);
}

static void coupon_create__exists__409(void **s)
{
    cpn.rc = MQ_EEXIST;
    mq_req *r = post("/admin/actions/coupon-create",
                     "code=WELCOME10&kind=percent&value=10&total_uses=5&format=json");
    assert_int_equal(r->status, 409);
    assert_non_null(strstr(r->resp_body, "coupon_exists"));
    fake_req_free(r);
    assert_int_equal(actions("coupon_create,failed"), 1);
}

static void coupon_disable__ok_and_unknown(void **s)
{
    mq_req *r = post("/admin/actions/coupon-disable", "code=welcome10");
    assert_int_equal(r->status, 200);
    assert_string_equal(cpn.code, "WELCOME10"); /* as coupons stores it */
    fake_req_free(r);
    cpn.rc = MQ_ENOENT;
    r = post("/admin/actions/coupon-disable", "code=NOPE99");
    assert_int_equal(r->status, 404);
    fake_req_free(r);
    assert_int_equal(actions("coupon_disable,ok"), 1);
    assert_int_equal(actions("coupon_disable,failed"), 1);
}

static void coupons__plugin_absent__503(void **s)
{
    fake.nservices = 1; /* payments only */
    mq_req *r = post("/admin/actions/coupon-disable", "code=WELCOME10");
    assert_int_equal(r->status, 503);
    fake_req_free(r);
}

/* ---- backup and restore-check --------------------------------------------------------------- */

static void backup__started_202_recorded(void **s)
{
    mq_req *r = post("/admin/actions/backup", "");
    assert_int_equal(r->status, 202);
    assert_int_equal(fake.backup_calls, 1);
    json_object *e = last_event();
    assert_string_equal(field(e, "type"), "admin.backup");
    json_object_put(e);
    assert_int_equal(actions("backup,ok"), 1);
    fake_req_free(r);
}

static void backup__audit_write_fails__answer_still_true(void **s)
{
    fake.fail_appends = 1;
    mq_req *r = post("/admin/actions/backup", "");
    assert_int_equal(r->status, 202);
    assert_true(fake_logs_contain("record event \"admin.backup\" failed"));
    fake_req_free(r);
}

static void restore_check__newest_by_default_or_named(void **s)
{
    fake.backups = "[{\"name\":\"20261127-041000\",\"created_unix\":1,\"bytes\":1,\"check\":"
                   "\"unchecked\",\"check_message\":\"\"},{\"name\":\"20261126-041000\","
                   "\"created_unix\":1,\"bytes\":1,\"check\":\"ok\",\"check_message\":\"\"}]";
    mq_req *r = post("/admin/actions/restore-check", "");
    assert_int_equal(r->status, 202);
    assert_string_equal(fake.restore_name, "20261127-041000");
    fake_req_free(r);
    r = post("/admin/actions/restore-check", "name=20261126-041000");
    assert_int_equal(r->status, 202);
    assert_string_equal(fake.restore_name, "20261126-041000");
    json_object *e = last_event();
    assert_string_equal(field(e, "backup"), "20261126-041000");
    json_object_put(e);
    fake_req_free(r);
}

static void restore_check__refusals_mapped(void **s)
{
    mq_req *r = post("/admin/actions/restore-check", ""); /* no backups at all */
    assert_int_equal(r->status, 404);
    assert_int_equal(fake.restore_calls, 0);
    fake_req_free(r);
    r = post("/admin/actions/restore-check", "name=..%2Fetc");
    assert_int_equal(r->status, 400);
    fake_req_free(r);
    fake.restore_rc = MQ_ESTATE;
    r = post("/admin/actions/restore-check", "name=x1");
    assert_int_equal(r->status, 409);
    fake_req_free(r);
    fake.restore_rc = MQ_ENOENT;
    r = post("/admin/actions/restore-check", "name=x1");
    assert_int_equal(r->status, 404);
    fake_req_free(r);
    assert_int_equal(actions("restore_check,failed"), 4);
}

static void metrics__every_series_exists_at_zero(void **s)
{
    const char *a[] = {"refund", "coupon_create", "coupon_disable", "backup", "restore_check"};
    char labels[64];
    for (int i = 0; i < 5; i++) {
        snprintf(labels, sizeof labels, "%s,ok", a[i]);
        assert_int_equal(actions(labels), 0);
        snprintf(labels, sizeof labels, "%s,failed", a[i]);
        assert_int_equal(actions(labels), 0);
    }
    assert_int_equal(fake_metric("admin_login_failures_total", ""), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(refund__waits_for_the_service_then_200_recorded),
        T(refund__gateway_refuses__502_failed_with_message),
        T(refund__refused_at_once__mapped_and_recorded),
        T(refund__bad_order_id__400_service_not_called),
        T(refund__no_payments_plugin__503),
        T(refund__long_reason__cut_on_a_character),
        T(coupon_create__valid__passed_through_200),
        T(coupon_create__bad_input__400_service_not_called),
        T(coupon_create__exists__409),
        T(coupon_disable__ok_and_unknown),
        T(coupons__plugin_absent__503),
        T(backup__started_202_recorded),
        T(backup__audit_write_fails__answer_still_true),
        T(restore_check__newest_by_default_or_named),
        T(restore_check__refusals_mapped),
        T(metrics__every_series_exists_at_zero),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
