/*
 * test_pay_flow.c -- the plugin's flows end to end in one process: the real
 * init, routes and handlers (payments.c, flow.c and the logic files) on a
 * fake host table whose outbound calls, timers and store the test drives.
 *
 * What a buyer or an operator would notice: the answers and redirects,
 * the order's status, what the gateways were asked (and how often), the
 * counters, the events, the log, and that nothing is approved, counted or
 * redeemed twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "coupons_service.h"
#include "fake_api.h"
#include "pay.h"
#include "payments_service.h"

extern const mq_plugin_desc mq_plugin_descriptor;

#define KAKAO_KEY "SECRET-KAKAO-KEY-4f1e2d"
#define NAVER_SECRET "NAVER-CLIENT-SECRET-9a8b7c"
#define ORDER_SECRET "order-secret-0123456789abcdef"

typedef struct ctx {
    void *state;
    char dir[256];
    char ids[8][PAY_ORDER_ID_LEN + 1];
} ctx;

/* ---- fixtures ------------------------------------------------------------------------ */

static void base_config(void)
{
    fake_set_config("ORDER_SECRET", ORDER_SECRET);
    fake_set_config("PUBLIC_BASE_URL", "https://mindquiz.app");
    fake_set_config("KAKAOPAY_API_BASE", "http://pg.test/kakao");
    fake_set_config("KAKAOPAY_SECRET_KEY", KAKAO_KEY);
    fake_set_config("NAVERPAY_API_BASE", "http://pg.test/naver");
    fake_set_config("NAVERPAY_PARTNER_ID", "np_test");
    fake_set_config("NAVERPAY_CLIENT_ID", "naver-client");
    fake_set_config("NAVERPAY_CLIENT_SECRET", NAVER_SECRET);
    fake_set_config("NAVERPAY_CHAIN_ID", "chain-1");
    fake_set_config("NAVERPAY_PAYMENT_PAGE_BASE", "http://pg.test/sim/naver");
}

static int init_plugin(ctx *c)
{
    return mq_plugin_descriptor.init(&fake.api, fake_self(), &c->state);
}

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s/mq-unit-pay-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(c->dir))
        return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/assets", c->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/assets/catalog.json", c->dir);
    FILE *f = fopen(path, "w");
    fputs("{\"currency\":\"KRW\",\"products\":{\"premium_result\":"
          "{\"name\":\"프리미엄 결과 리포트\",\"amount\":3900}}}",
          f);
    fclose(f);
    fake_reset();
    snprintf(fake.release_path, sizeof fake.release_path, "%s", c->dir);
    base_config();
    *state = c;
    return 0;
}

static int setup_init(void **state)
{
    if (setup(state) != 0)
        return -1;
    ctx *c = *state;
    return init_plugin(c) == MQ_OK ? 0 : -1;
}

static int teardown(void **state)
{
    ctx *c = *state;
    if (c->state)
        mq_plugin_descriptor.fini(c->state);
    char path[512];
    snprintf(path, sizeof path, "%s/assets/catalog.json", c->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/assets", c->dir);
    rmdir(path);
    rmdir(c->dir);
    fake_reset();
    free(c);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

static const char *KAKAO_READY_OK =
    "{\"tid\":\"T1234567890123456789\",\"tms_result\":false,"
    "\"next_redirect_app_url\":\"http://pg.test/sim/kakao/T1234567890123456789/app\","
    "\"next_redirect_mobile_url\":\"http://pg.test/sim/kakao/T1234567890123456789/mobile\","
    "\"next_redirect_pc_url\":\"http://pg.test/sim/kakao/T1234567890123456789\","
    "\"android_app_scheme\":\"x\",\"ios_app_scheme\":\"x\","
    "\"created_at\":\"2026-11-27T13:10:00\"}";

static char *approve_body(const char *order_id, long total)
{
    char *b = malloc(1024);
    snprintf(b, 1024,
             "{\"aid\":\"A5678901234567890123\",\"tid\":\"T1234567890123456789\","
             "\"cid\":\"TC0ONETIME\",\"partner_order_id\":\"%s\",\"partner_user_id\":\"r123\","
             "\"payment_method_type\":\"MONEY\",\"amount\":{\"total\":%ld,\"tax_free\":0},"
             "\"approved_at\":\"2026-11-27T13:10:30\"}",
             order_id, total);
    return b;
}

static char *kakao_status_body(const char *status, long total)
{
    char *b = malloc(1024);
    snprintf(b, 1024,
             "{\"tid\":\"T1234567890123456789\",\"status\":\"%s\",\"amount\":{\"total\":%ld},"
             "\"payment_action_details\":[{\"aid\":\"A777\",\"payment_action_type\":\"PAYMENT\","
             "\"amount\":%ld}]}",
             status, total, total);
    return b;
}

static char *naver_apply_body(const char *code, const char *order_id, const char *payment_id,
                              long total)
{
    char *b = malloc(1024);
    snprintf(b, 1024,
             "{\"code\":\"%s\",\"message\":\"\",\"body\":{\"paymentId\":\"%s\",\"detail\":{"
             "\"paymentId\":\"%s\",\"payHistId\":\"H1\",\"merchantPayKey\":\"%s\","
             "\"admissionTypeCode\":\"01\",\"admissionState\":\"SUCCESS\","
             "\"totalPayAmount\":%ld}}}",
             code, payment_id, payment_id, order_id, total);
    return b;
}

static const char *json_field(const char *json, const char *key, char *buf, size_t cap)
{
    buf[0] = '\0';
    json_object *j = json ? json_tokener_parse(json) : NULL, *v = NULL;
    if (j && json_object_object_get_ex(j, key, &v))
        snprintf(buf, cap, "%s", json_object_get_string(v));
    json_object_put(j);
    return buf;
}

static const char *status_of(const char *id)
{
    static char buf[32];
    return fake_order_status(id, buf, sizeof buf);
}

static const char *sig_of(const char *id)
{
    static char buf[80];
    return json_field(fake_store_latest("orders", id), "sig", buf, sizeof buf);
}

/* POST /api/pay/ready; returns the request (answered or suspended). */
static mq_req *post_ready(const char *body, const char *ua)
{
    mq_req *r = fake_req_new("POST", "/api/pay/ready");
    r->body = body;
    if (ua)
        fake_req_header(r, "User-Agent", ua);
    fake_dispatch("POST", "/api/pay/ready", r);
    return r;
}

/* A kakao order in status ready; its id into out. */
static void kakao_ready(char out[PAY_ORDER_ID_LEN + 1])
{
    mq_req *r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r123\"}", NULL);
    assert_true(r->suspended);
    assert_int_equal(r->answered, 0);
    fake_answer(fake_last_call(), 200, KAKAO_READY_OK);
    assert_int_equal(r->answered, 1);
    assert_int_equal(r->status, 200);
    char id[64];
    json_field(r->resp_body, "orderId", id, sizeof id);
    assert_true(mq_payments_order_id_valid(id));
    strcpy(out, id);
    assert_string_equal(status_of(out), "ready");
    fake_req_free(r);
}

static mq_req *kakao_return(const char *route, const char *id, const char *sig,
                            const char *pg_token)
{
    char path[64];
    snprintf(path, sizeof path, "/api/pay/kakao/%s", route);
    mq_req *r = fake_req_new("GET", path);
    fake_req_query(r, "order", id);
    fake_req_query(r, "sig", sig);
    if (pg_token)
        fake_req_query(r, "pg_token", pg_token);
    fake_dispatch("GET", path, r);
    return r;
}

static void naver_ready(char out[PAY_ORDER_ID_LEN + 1])
{
    mq_req *r = post_ready("{\"provider\":\"naver\",\"resultId\":\"r777\"}", NULL);
    assert_true(r->suspended);
    fake_answer(fake_last_call(), 200,
                "{\"code\":\"Success\",\"message\":\"\",\"body\":{\"reserveId\":\"R000111\"}}");
    assert_int_equal(r->status, 200);
    char id[64], url[256];
    json_field(r->resp_body, "orderId", id, sizeof id);
    json_field(r->resp_body, "redirectUrl", url, sizeof url);
    assert_string_equal(url, "http://pg.test/sim/naver/R000111");
    strcpy(out, id);
    fake_req_free(r);
}

static mq_req *naver_return(const char *id, const char *sig, const char *code,
                            const char *payment_id, const char *message)
{
    mq_req *r = fake_req_new("GET", "/api/pay/naver/return");
    fake_req_query(r, "order", id);
    fake_req_query(r, "sig", sig);
    if (code)
        fake_req_query(r, "resultCode", code);
    if (payment_id)
        fake_req_query(r, "paymentId", payment_id);
    if (message)
        fake_req_query(r, "resultMessage", message);
    fake_dispatch("GET", "/api/pay/naver/return", r);
    return r;
}

static void assert_redirect(mq_req *r, const char *location)
{
    assert_int_equal(r->answered, 1);
    assert_int_equal(r->status, 302);
    assert_string_equal(r->location, location);
}

static int calls_to(const char *url_suffix)
{
    int n = 0;
    size_t k = strlen(url_suffix);
    for (size_t i = 0; i < fake.ncalls; i++) {
        size_t u = strlen(fake.calls[i].url);
        n += u >= k && !strcmp(fake.calls[i].url + u - k, url_suffix);
    }
    return n;
}

/* ---- init ---------------------------------------------------------------------------------- */

static void init__metrics__every_series_at_zero(void **state)
{
    const char *providers[] = {"kakao", "naver"};
    const char *reasons[] = {"gateway_error", "timeout", "user_cancel", "amount_mismatch",
                             "declined"};
    for (int p = 0; p < 2; p++) {
        assert_true(fake_metric("payment_ready_calls_total", providers[p]) == 0);
        assert_true(fake_metric("payment_approval_total", providers[p]) == 0);
        assert_true(fake_metric("payment_cancel_total", providers[p]) == 0);
        assert_true(fake_metric("revenue_krw_total", providers[p]) == 0);
        for (int r = 0; r < 5; r++) {
            char lv[64];
            snprintf(lv, sizeof lv, "%s,%s", providers[p], reasons[r]);
            assert_true(fake_metric("payment_failure_total", lv) == 0);
        }
    }
    assert_true(fake_metric("order_sign_calls_total", "") == 0);
    assert_int_equal(fake.nroutes, 7);
    assert_int_equal(fake.nservices, 1);
    assert_string_equal(fake.services[0].name, "payments");
}

static void init__missing_catalog__refused(void **state)
{
    ctx *c = *state;
    snprintf(fake.release_path, sizeof fake.release_path, "%s/nowhere", c->dir);
    assert_int_equal(init_plugin(c), MQ_EIO);
    c->state = NULL;
    assert_true(fake_logs_contain("read catalog \""));
    assert_true(fake_logs_contain("/nowhere/assets/catalog.json\" failed: No such file"));
}

static void init__missing_secrets__starts_and_logs_once(void **state)
{
    ctx *c = *state;
    fake_set_config("ORDER_SECRET", "");
    fake_set_config("NAVERPAY_CHAIN_ID", "");
    assert_int_equal(init_plugin(c), MQ_OK);
    assert_true(fake_logs_contain("provider \"kakao\" disabled: ORDER_SECRET is not set"));
    assert_true(fake_logs_contain("provider \"naver\" disabled: ORDER_SECRET is not set"));
    mq_req *r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r1\"}", NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->resp_body, "\"payments_misconfigured\""));
    assert_int_equal(fake.ncalls, 0);
    fake_req_free(r);
}

/* ---- ready ---------------------------------------------------------------------------------- */

static void ready__kakao__order_ready_and_redirect(void **state)
{
    mq_req *r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r123\",\"amount\":1}", NULL);
    assert_true(r->suspended);
    fake_call *call = fake_last_call();
    assert_string_equal(call->url, "http://pg.test/kakao/online/v1/payment/ready");
    assert_string_equal(fake_call_header(call, "Authorization"), "SECRET_KEY " KAKAO_KEY);
    assert_int_equal(call->timeout_ms, 10000);
    assert_int_equal(call->connect_timeout_ms, 3000);
    /* The price is the catalog's: the client's "amount" is ignored. */
    assert_non_null(strstr(call->body, "\"total_amount\":3900"));
    assert_true(fake_metric("payment_ready_calls_total", "kakao") == 1);
    fake_answer(call, 200, KAKAO_READY_OK);
    assert_int_equal(r->status, 200);
    char id[64], url[256];
    json_field(r->resp_body, "orderId", id, sizeof id);
    json_field(r->resp_body, "redirectUrl", url, sizeof url);
    assert_string_equal(url, "http://pg.test/sim/kakao/T1234567890123456789");
    assert_string_equal(status_of(id), "ready");
    char tid[32];
    assert_string_equal(json_field(fake_store_latest("orders", id), "tid", tid, sizeof tid),
                        "T1234567890123456789");
    assert_true(r->durable_appends >= 1);
    assert_true(fake_metric("order_sign_calls_total", "") == 1);
    /* Events: created, then ready. */
    assert_int_equal(fake_store_count("events"), 2);
    fake_req_free(r);
}

static void ready__mobile_browser__mobile_redirect(void **state)
{
    mq_req *r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r123\"}",
                           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148");
    fake_answer(fake_last_call(), 200, KAKAO_READY_OK);
    char url[256];
    json_field(r->resp_body, "redirectUrl", url, sizeof url);
    assert_string_equal(url, "http://pg.test/sim/kakao/T1234567890123456789/mobile");
    fake_req_free(r);
}

static void ready__disabled__503_and_no_order(void **state)
{
    ctx *c = *state;
    fake_set_config("PAYMENTS_ENABLED", "0");
    assert_int_equal(init_plugin(c), MQ_OK);
    mq_req *r = post_ready("{\"provider\":\"naver\",\"resultId\":\"r1\"}", NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->resp_body, "\"code\":\"payments_disabled\""));
    assert_int_equal(fake.ncalls, 0);
    assert_int_equal(fake_store_count("orders"), 0);
    fake_req_free(r);
}

static void ready__client_over_its_limit__429_retry_after_and_no_order(void **state)
{
    ctx *c = *state;
    assert_int_equal(init_plugin(c), MQ_OK);
    fake.rate_limited = 1;
    mq_req *r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r1\"}", NULL);
    assert_int_equal(r->status, 429);
    assert_string_equal(r->retry_after, "7");
    assert_non_null(strstr(r->resp_body, "\"code\":\"rate_limited\""));
    assert_int_equal(fake.ncalls, 0);
    assert_int_equal(fake_store_count("orders"), 0);
    fake_req_free(r);
}

static void ready__bad_bodies__400_with_codes(void **state)
{
    struct {
        const char *body, *code;
    } cases[] = {
        {"", "invalid_body"},
        {"not json", "invalid_body"},
        {"[\"kakao\"]", "invalid_body"},
        {"{\"resultId\":\"r1\"}", "invalid_provider"},
        {"{\"provider\":\"toss\",\"resultId\":\"r1\"}", "invalid_provider"},
        {"{\"provider\":\"kakao\"}", "invalid_result_id"},
        {"{\"provider\":\"kakao\",\"resultId\":\"../etc\"}", "invalid_result_id"},
        {"{\"provider\":\"kakao\",\"resultId\":\"r1\",\"coupon\":\"a b\"}", "invalid_coupon"},
        {"{\"provider\":\"kakao\",\"resultId\":\"r1\",\"coupon\":7}", "invalid_coupon"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mq_req *r = post_ready(cases[i].body, NULL);
        assert_int_equal(r->status, 400);
        char code[64];
        assert_string_equal(json_field(r->resp_body, "code", code, sizeof code), cases[i].code);
        fake_req_free(r);
    }
    assert_int_equal(fake.ncalls, 0);
}

static void ready__gateway_errors__502_and_failed_with_reason(void **state)
{
    mq_req *r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r1\"}", NULL);
    fake_answer(fake_last_call(), 500, "oops");
    assert_int_equal(r->status, 502);
    assert_non_null(strstr(r->resp_body, "\"gateway_error\""));
    fake_req_free(r);
    assert_true(fake_metric("payment_failure_total", "kakao,gateway_error") == 1);

    r = post_ready("{\"provider\":\"naver\",\"resultId\":\"r1\"}", NULL);
    fake_answer_error(fake_last_call(), MQ_ETIMEDOUT, 1);
    assert_int_equal(r->status, 502);
    assert_non_null(strstr(r->resp_body, "\"gateway_timeout\""));
    fake_req_free(r);
    assert_true(fake_metric("payment_failure_total", "naver,timeout") == 1);
    assert_true(fake_metric("payment_ready_calls_total", "naver") == 1);
    assert_true(fake_logs_contain("naver reserve \"MQ"));
    assert_true(fake_logs_contain("\" failed: timed out"));
}

/* ---- kakao approval ---------------------------------------------------------------------------
 */

static void approve__kakao__approved_exactly_once(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("approve", id, sig_of(id), "a1b2c3d4e5f6a7b8c9d0");
    assert_true(r->suspended);
    assert_string_equal(status_of(id), "approving");
    fake_call *call = fake_last_call();
    assert_string_equal(call->url, "http://pg.test/kakao/online/v1/payment/approve");
    assert_non_null(strstr(call->body, "\"pg_token\":\"a1b2c3d4e5f6a7b8c9d0\""));
    assert_non_null(strstr(call->body, "\"tid\":\"T1234567890123456789\""));
    char *body = approve_body(id, 3900);
    fake_answer(call, 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?paid=1");
    assert_true(r->durable_appends >= 2); /* approving and approved waited for the disk */
    assert_string_equal(status_of(id), "approved");
    char aid[32];
    assert_string_equal(json_field(fake_store_latest("orders", id), "aid", aid, sizeof aid),
                        "A5678901234567890123");
    assert_true(fake_metric("payment_approval_total", "kakao") == 1);
    assert_true(fake_metric("revenue_krw_total", "kakao") == 3900);
    assert_int_equal(fake_events_named("order.approved"), 1);
    fake_req_free(r);

    /* The same return again (a reload, a double click): no gateway call. */
    size_t calls = fake.ncalls;
    r = kakao_return("approve", id, sig_of(id), "a1b2c3d4e5f6a7b8c9d0");
    assert_redirect(r, "https://mindquiz.app/app/result/r123?paid=1");
    fake_req_free(r);
    r = kakao_return("cancel", id, sig_of(id), NULL);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?paid=1");
    fake_req_free(r);
    assert_int_equal(fake.ncalls, calls);
    assert_true(fake_metric("payment_approval_total", "kakao") == 1);
    assert_true(fake_metric("revenue_krw_total", "kakao") == 3900);
    assert_int_equal(fake_events_named("order.approved"), 1);

    /* Unlocked, through the route and the service. */
    r = fake_req_new("GET", "/api/pay/unlocked/r123");
    fake_req_param(r, "resultId", "r123");
    fake_dispatch("GET", "/api/pay/unlocked/:resultId", r);
    assert_string_equal(r->resp_body, "{\"premium\":true}");
    fake_req_free(r);
    void *ud;
    const mq_payments_service_v1 *svc = fake.api.service_lookup(fake_self(), "payments", 1, &ud);
    assert_true(svc->is_unlocked(ud, "r123"));
    assert_false(svc->is_unlocked(ud, "r124"));
}

static void approve__concurrent_return__waits_and_no_second_call(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *first = kakao_return("approve", id, sig_of(id), "tok1");
    size_t calls = fake.ncalls;
    fake_call *approve = fake_last_call();
    mq_req *second = kakao_return("approve", id, sig_of(id), "tok1");
    assert_true(second->suspended);
    assert_int_equal(second->answered, 0);
    assert_int_equal(fake.ncalls, calls); /* no second approve */
    assert_int_equal(fake_timers_active(), 1);
    fake_fire_timers(); /* still approving: keeps waiting */
    assert_int_equal(second->answered, 0);

    char *body = approve_body(id, 3900);
    fake_answer(approve, 200, body);
    free(body);
    assert_redirect(first, "https://mindquiz.app/app/result/r123?paid=1");
    fake_fire_timers();
    assert_redirect(second, "https://mindquiz.app/app/result/r123?paid=1");
    assert_int_equal(fake_timers_active(), 0);
    assert_true(fake_metric("payment_approval_total", "kakao") == 1);
    fake_req_free(first);
    fake_req_free(second);
}

static void approve__wait_deadline__pending_redirect(void **state)
{
    ctx *c = *state;
    fake_set_config("PAY_RETURN_WAIT_MS", "0"); /* answer waiting returns at once */
    mq_plugin_descriptor.fini(c->state);
    fake.nroutes = 0; /* the host drops a finalized generation's routes */
    fake.nservices = 0;
    assert_int_equal(init_plugin(c), MQ_OK);
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *first = kakao_return("approve", id, sig_of(id), "tok1");
    mq_req *second = kakao_return("approve", id, sig_of(id), "tok1");
    assert_redirect(second, "https://mindquiz.app/app/result/r123?payment=pending");
    char *body = approve_body(id, 3900);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_redirect(first, "https://mindquiz.app/app/result/r123?paid=1");
    fake_req_free(first);
    fake_req_free(second);
}

static void approve__amount_mismatch__failed_and_payment_canceled(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("approve", id, sig_of(id), "tok1");
    char *body = approve_body(id, 100);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?payment=failed");
    assert_string_equal(status_of(id), "failed");
    char reason[32];
    assert_string_equal(
        json_field(fake_store_latest("orders", id), "reason", reason, sizeof reason),
        "amount_mismatch");
    assert_true(fake_metric("payment_failure_total", "kakao,amount_mismatch") == 1);
    assert_true(fake_metric("payment_approval_total", "kakao") == 0);
    assert_true(fake_metric("revenue_krw_total", "kakao") == 0);
    assert_int_equal(fake_events_named("order.approved"), 0);
    /* The payment is canceled at the gateway at once, in full. */
    fake_call *cancel = fake_last_call();
    assert_string_equal(cancel->url, "http://pg.test/kakao/online/v1/payment/cancel");
    assert_non_null(strstr(cancel->body, "\"cancel_amount\":100"));
    fake_answer(cancel, 200,
                "{\"status\":\"CANCEL_PAYMENT\",\"approved_cancel_amount\":{\"total\":100}}");
    char type[32];
    const char *last_event = NULL;
    for (size_t i = 0; i < fake.nrecords; i++)
        if (!strcmp(fake.records[i].coll, "events"))
            last_event = fake.records[i].json;
    assert_string_equal(json_field(last_event, "type", type, sizeof type), "order.voided");
    fake_req_free(r);
    /* Not unlocked. */
    void *ud;
    const mq_payments_service_v1 *svc = fake.api.service_lookup(fake_self(), "payments", 1, &ud);
    assert_false(svc->is_unlocked(ud, "r123"));
}

static void approve__timeout_after_sending__reconciled_as_approved(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("approve", id, sig_of(id), "tok1");
    fake_answer_error(fake_last_call(), MQ_ETIMEDOUT, 1);
    assert_int_equal(r->answered, 0);
    fake_call *lookup = fake_last_call();
    assert_string_equal(lookup->url, "http://pg.test/kakao/online/v1/payment/order");
    char *body = kakao_status_body("SUCCESS_PAYMENT", 3900);
    fake_answer(lookup, 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?paid=1");
    assert_string_equal(status_of(id), "approved");
    assert_true(fake_metric("payment_approval_total", "kakao") == 1);
    assert_true(fake_logs_contain("kakao approve \""));
    assert_true(fake_logs_contain("outcome unknown, reconciling"));
    fake_req_free(r);
}

static void approve__timeout_and_status_down__pending_then_timer_reconciles(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("approve", id, sig_of(id), "tok1");
    fake_answer_error(fake_last_call(), MQ_ETIMEDOUT, 1);
    fake_answer_error(fake_last_call(), MQ_EIO, 0); /* the status API is down too */
    assert_redirect(r, "https://mindquiz.app/app/result/r123?payment=pending");
    fake_req_free(r);
    assert_string_equal(status_of(id), "approving");
    char reason[32];
    assert_string_equal(
        json_field(fake_store_latest("orders", id), "reason", reason, sizeof reason), "unknown");
    assert_int_equal(fake_timers_active(), 1);
    assert_int_equal(fake.timers[0].delay_ms, 5000);
    assert_true(fake_metric("payment_failure_total", "kakao,timeout") == 0);

    /* A return meanwhile waits (no approve call). */
    size_t calls = fake.ncalls;
    r = kakao_return("approve", id, sig_of(id), "tok1");
    assert_true(r->suspended);
    assert_int_equal(fake.ncalls, calls);

    /* Still down at the first retry: the next waits twice as long. */
    fake_fire_timers(); /* the wait tick and the reconcile timer */
    fake_answer_error(fake_last_call(), MQ_EIO, 0);
    int found = 0;
    for (size_t i = 0; i < fake.ntimers; i++)
        found |= fake.timers[i].active && fake.timers[i].delay_ms == 10000;
    assert_true(found);

    fake_fire_timers();
    char *body = kakao_status_body("SUCCESS_PAYMENT", 3900);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_string_equal(status_of(id), "approved");
    fake_fire_timers(); /* the waiting return sees it */
    assert_redirect(r, "https://mindquiz.app/app/result/r123?paid=1");
    fake_req_free(r);
    assert_int_equal(fake_timers_active(), 0);
    assert_true(fake_metric("payment_approval_total", "kakao") == 1);
}

static void approve__kakao_decline__confirmed_then_failed_declined(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("approve", id, sig_of(id), "tok1");
    fake_answer(fake_last_call(), 400,
                "{\"error_code\":-780,\"error_message\":\"approval failure!\","
                "\"extras\":{\"method_result_code\":\"LACK_BALANCE\","
                "\"method_result_message\":\"잔액 부족\"}}");
    assert_int_equal(r->answered, 0);
    char *body = kakao_status_body("AUTH_PASSWORD", 3900);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?payment=failed");
    assert_string_equal(status_of(id), "failed");
    assert_true(fake_metric("payment_failure_total", "kakao,declined") == 1);
    assert_true(fake_logs_contain("approval failure! (LACK_BALANCE"));
    fake_req_free(r);
}

static void approve__kakao_400_but_already_paid__approved(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("approve", id, sig_of(id), "tok1");
    fake_answer(fake_last_call(), 400, "{\"code\":-702,\"msg\":\"already approved\"}");
    char *body = kakao_status_body("SUCCESS_PAYMENT", 3900);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?paid=1");
    assert_string_equal(status_of(id), "approved");
    fake_req_free(r);
}

static void returns__bad_requests__refused(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    char sig[80];
    strcpy(sig, sig_of(id));
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    mq_req *r = kakao_return("approve", id, sig, "tok1");
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->resp_body, "\"bad_signature\""));
    fake_req_free(r);

    r = kakao_return("approve", "MQ20200101000000aaaaaaaaaa", sig_of(id), "tok1");
    assert_int_equal(r->status, 404);
    fake_req_free(r);
    r = kakao_return("approve", "../../etc/passwd", sig_of(id), "tok1");
    assert_int_equal(r->status, 404);
    fake_req_free(r);

    r = kakao_return("approve", id, sig_of(id), NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->resp_body, "\"invalid_pg_token\""));
    fake_req_free(r);

    r = naver_return(id, sig_of(id), "Success", "P1", NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->resp_body, "\"wrong_provider\""));
    fake_req_free(r);

    /* A record whose amount was changed no longer matches its signature. */
    json_object *j = json_tokener_parse(fake_store_latest("orders", id));
    json_object_object_add(j, "amount", json_object_new_int(10));
    const char *t = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    fake.api.store_append(fake_self(), NULL, "orders", id, t, strlen(t), 0);
    json_object_put(j);
    r = kakao_return("approve", id, sig_of(id), "tok1");
    assert_int_equal(r->status, 403);
    fake_req_free(r);
    assert_int_equal(calls_to("/approve"), 0);
    assert_string_equal(status_of(id), "ready");
}

static void kakao_cancel__ready_order__canceled_and_counted(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("cancel", id, sig_of(id), NULL);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?payment=canceled");
    assert_true(r->durable_appends >= 1);
    fake_req_free(r);
    assert_string_equal(status_of(id), "canceled");
    assert_true(fake_metric("payment_failure_total", "kakao,user_cancel") == 1);
    assert_true(fake_metric("payment_cancel_total", "kakao") == 1);
    /* A late approval return changes nothing. */
    r = kakao_return("approve", id, sig_of(id), "tok1");
    assert_redirect(r, "https://mindquiz.app/app/result/r123?payment=canceled");
    fake_req_free(r);
    assert_int_equal(calls_to("/approve"), 0);
}

static void kakao_fail__ready_order__failed_declined(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = kakao_return("fail", id, sig_of(id), NULL);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?payment=failed");
    fake_req_free(r);
    assert_string_equal(status_of(id), "failed");
    assert_true(fake_metric("payment_failure_total", "kakao,declined") == 1);
}

/* ---- naver ------------------------------------------------------------------------------------
 */

static void naver__full_flow__approved(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    naver_ready(id);
    fake_call *reserve = &fake.calls[0];
    assert_string_equal(reserve->url, "http://pg.test/naver/np_test/naverpay/payments/v2/reserve");
    char key[64];
    snprintf(key, sizeof key, "%s-reserve", id);
    assert_string_equal(fake_call_header(reserve, "X-NaverPay-Idempotency-Key"), key);
    mq_req *r = naver_return(id, sig_of(id), "Success", "20261127NP1043587746", NULL);
    assert_true(r->suspended);
    fake_call *apply = fake_last_call();
    assert_string_equal(apply->url,
                        "http://pg.test/naver/np_test/naverpay/payments/v2.2/apply/payment");
    assert_string_equal(apply->body, "paymentId=20261127NP1043587746");
    assert_string_equal(fake_call_header(apply, "X-Naver-Client-Secret"), NAVER_SECRET);
    char *body = naver_apply_body("Success", id, "20261127NP1043587746", 3900);
    fake_answer(apply, 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r777?paid=1");
    assert_string_equal(status_of(id), "approved");
    char pid[64];
    assert_string_equal(json_field(fake_store_latest("orders", id), "payment_id", pid, sizeof pid),
                        "20261127NP1043587746");
    assert_true(fake_metric("payment_approval_total", "naver") == 1);
    assert_true(fake_metric("revenue_krw_total", "naver") == 3900);
    fake_req_free(r);
}

static void naver__apply_409_replay__treated_as_that_answer(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    naver_ready(id);
    mq_req *r = naver_return(id, sig_of(id), "Success", "PAY1", NULL);
    char *body = naver_apply_body("Success", id, "PAY1", 3900);
    fake_answer(fake_last_call(), 409, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r777?paid=1");
    fake_req_free(r);
}

static void naver__already_complete__history_reconciles(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    naver_ready(id);
    mq_req *r = naver_return(id, sig_of(id), "Success", "PAY1", NULL);
    fake_answer(fake_last_call(), 200, "{\"code\":\"AlreadyComplete\",\"message\":\"이미 완료\"}");
    fake_call *hist = fake_last_call();
    assert_string_equal(hist->url,
                        "http://pg.test/naver/np_test/naverpay/payments/v2.2/list/history");
    assert_string_equal(hist->body, "{\"paymentId\":\"PAY1\"}");
    char body[512];
    snprintf(
        body, sizeof body,
        "{\"code\":\"Success\",\"body\":{\"list\":[{\"paymentId\":\"PAY1\",\"payHistId\":\"H1\","
        "\"merchantPayKey\":\"%s\",\"admissionTypeCode\":\"01\",\"admissionState\":\"SUCCESS\","
        "\"totalPayAmount\":3900}]}}",
        id);
    fake_answer(hist, 200, body);
    assert_redirect(r, "https://mindquiz.app/app/result/r777?paid=1");
    assert_true(fake_metric("payment_approval_total", "naver") == 1);
    fake_req_free(r);
}

static void naver__user_cancel__canceled(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    naver_ready(id);
    mq_req *r = naver_return(id, sig_of(id), "Fail", NULL, "userCancel");
    assert_redirect(r, "https://mindquiz.app/app/result/r777?payment=canceled");
    fake_req_free(r);
    assert_string_equal(status_of(id), "canceled");
    assert_true(fake_metric("payment_failure_total", "naver,user_cancel") == 1);
    assert_int_equal(calls_to("/apply/payment"), 0);
}

static void naver__payment_of_another_order__failed_and_not_canceled(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    naver_ready(id);
    mq_req *r = naver_return(id, sig_of(id), "Success", "PAYX", NULL);
    char *body = naver_apply_body("Success", "MQ20261127131000ffffffffff", "PAYX", 3900);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r777?payment=failed");
    assert_string_equal(status_of(id), "failed");
    assert_int_equal(calls_to("/v1/cancel"), 0);
    assert_true(fake_metric("payment_approval_total", "naver") == 0);
    fake_req_free(r);
}

/* ---- restart / reload
 * ------------------------------------------------------------------------------ */

static void resume__approving_order__reconciled_after_one_interval(void **state)
{
    ctx *c = *state;
    /* A previous process wrote "approving" and died before the answer. */
    const char *rec = "{\"v\":1,\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\","
                      "\"result_id\":\"r9\",\"product\":\"premium_result\",\"amount\":3900,"
                      "\"discount\":0,\"coupon\":\"\",\"status\":\"approving\","
                      "\"tid\":\"T1234567890123456789\",\"aid\":\"\",\"reason\":\"\","
                      "\"sig\":\"x\",\"created_ms\":1795752600000,\"updated_ms\":1,"
                      "\"approved_amount\":0}";
    const char *done = "{\"v\":1,\"id\":\"MQ20261127131000bbbbbbbbbb\",\"provider\":\"naver\","
                       "\"result_id\":\"r8\",\"amount\":3900,\"status\":\"approved\","
                       "\"created_ms\":1795752600000}";
    fake.api.store_append(fake_self(), NULL, "orders", "MQ20261127131000a1b2c3d4e5", rec,
                          strlen(rec), 0);
    fake.api.store_append(fake_self(), NULL, "orders", "MQ20261127131000bbbbbbbbbb", done,
                          strlen(done), 0);
    assert_int_equal(init_plugin(c), MQ_OK);
    assert_true(fake_logs_contain("order \"MQ20261127131000a1b2c3d4e5\" was left approving"));
    assert_int_equal(fake.ncalls, 0);
    assert_int_equal(fake_timers_active(), 1);
    void *ud;
    const mq_payments_service_v1 *svc = fake.api.service_lookup(fake_self(), "payments", 1, &ud);
    assert_true(svc->is_unlocked(ud, "r8")); /* rebuilt from the store */
    assert_false(svc->is_unlocked(ud, "r9"));

    fake_fire_timers();
    fake_call *lookup = fake_last_call();
    assert_string_equal(lookup->url, "http://pg.test/kakao/online/v1/payment/order");
    char *body = kakao_status_body("SUCCESS_PAYMENT", 3900);
    fake_answer(lookup, 200, body);
    free(body);
    assert_string_equal(status_of("MQ20261127131000a1b2c3d4e5"), "approved");
    assert_true(svc->is_unlocked(ud, "r9"));
    assert_true(fake_metric("payment_approval_total", "kakao") == 1);
}

static void resume__settled_by_another_generation__no_lookup(void **state)
{
    ctx *c = *state;
    const char *rec = "{\"v\":1,\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\","
                      "\"result_id\":\"r9\",\"amount\":3900,\"status\":\"approving\","
                      "\"tid\":\"T1\",\"created_ms\":1795752600000}";
    fake.api.store_append(fake_self(), NULL, "orders", "MQ20261127131000a1b2c3d4e5", rec,
                          strlen(rec), 0);
    assert_int_equal(init_plugin(c), MQ_OK);
    /* The old generation finishes its approval meanwhile. */
    const char *approved = "{\"v\":1,\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\","
                           "\"result_id\":\"r9\",\"amount\":3900,\"status\":\"approved\","
                           "\"tid\":\"T1\",\"created_ms\":1795752600000}";
    fake.api.store_append(fake_self(), NULL, "orders", "MQ20261127131000a1b2c3d4e5", approved,
                          strlen(approved), 0);
    fake_fire_timers();
    assert_int_equal(fake.ncalls, 0);
    assert_int_equal(fake_timers_active(), 0);
    assert_true(fake_metric("payment_approval_total", "kakao") == 0); /* counted by the other */
}

/* ---- refunds
 * ---------------------------------------------------------------------------------------- */

typedef struct done_rec {
    int calls, status;
    char message[128];
} done_rec;

static void on_done(int status, const char *message, void *ud)
{
    done_rec *d = ud;
    d->calls++;
    d->status = status;
    snprintf(d->message, sizeof d->message, "%s", message);
}

static void approve_kakao(char *id)
{
    kakao_ready(id);
    mq_req *r = kakao_return("approve", id, sig_of(id), "tok1");
    char *body = approve_body(id, 3900);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_string_equal(status_of(id), "approved");
    fake_req_free(r);
}

static void refund__approved_order__refunded_once(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    approve_kakao(id);
    void *ud;
    const mq_payments_service_v1 *svc = fake.api.service_lookup(fake_self(), "payments", 1, &ud);
    done_rec d = {0};
    assert_int_equal(svc->refund(ud, id, "고객 요청", on_done, &d), MQ_OK);
    assert_int_equal(svc->refund(ud, id, "again", on_done, &d), MQ_ESTATE); /* one at a time */
    fake_call *cancel = fake_last_call();
    assert_string_equal(cancel->url, "http://pg.test/kakao/online/v1/payment/cancel");
    assert_non_null(strstr(cancel->body, "\"cancel_amount\":3900"));
    fake_answer(cancel, 200,
                "{\"status\":\"CANCEL_PAYMENT\",\"approved_cancel_amount\":{\"total\":3900}}");
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, MQ_OK);
    assert_string_equal(status_of(id), "refunded");
    assert_true(fake_metric("payment_cancel_total", "kakao") == 1);
    assert_int_equal(fake_events_named("order.refunded"), 1);
    assert_false(svc->is_unlocked(ud, "r123"));
    assert_int_equal(svc->refund(ud, id, "again", on_done, &d), MQ_ESTATE);
    assert_int_equal(svc->refund(ud, "MQ20200101000000aaaaaaaaaa", "x", on_done, &d), MQ_ENOENT);
    assert_int_equal(d.calls, 1);
}

static void refund__gateway_refuses__order_stays_approved(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    approve_kakao(id);
    void *ud;
    const mq_payments_service_v1 *svc = fake.api.service_lookup(fake_self(), "payments", 1, &ud);
    done_rec d = {0};
    assert_int_equal(svc->refund(ud, id, NULL, on_done, &d), MQ_OK);
    fake_answer(fake_last_call(), 400, "{\"error_code\":-721,\"error_message\":\"no\"}");
    char *body = kakao_status_body("SUCCESS_PAYMENT", 3900);
    fake_answer(fake_last_call(), 200, body); /* the lookup: not canceled */
    free(body);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, MQ_EIO);
    assert_non_null(strstr(d.message, "kakao cancel failed"));
    assert_string_equal(status_of(id), "approved");
    assert_true(fake_metric("payment_cancel_total", "kakao") == 0);
}

/* ---- coupons
 * ------------------------------------------------------------------------------------------ */

typedef struct coupons {
    int quotes, holds, redeems, releases;
    char held[PAY_ORDER_ID_LEN + 1];
} coupons;

static int c_quote(void *ud, const char *code, long amount, long *discount, const char **reason)
{
    coupons *c = ud;
    c->quotes++;
    if (strcmp(code, "WELCOME1000") != 0) {
        *reason = "만료된 쿠폰입니다.";
        return MQ_ENOENT;
    }
    *discount = 1000;
    return MQ_OK;
}
static int c_hold(void *ud, const char *code, const char *order_id, long ttl_ms)
{
    coupons *c = ud;
    c->holds++;
    snprintf(c->held, sizeof c->held, "%s", order_id);
    return ttl_ms >= 15 * 60 * 1000 ? MQ_OK : MQ_EINVAL;
}
static int c_redeem(void *ud, const char *order_id)
{
    ((coupons *)ud)->redeems++;
    return MQ_OK;
}
static int c_release(void *ud, const char *order_id)
{
    ((coupons *)ud)->releases++;
    return MQ_OK;
}
static const mq_coupons_service_v1 coupons_vt = {c_quote, c_hold, c_redeem, c_release};

static void coupon__without_service__400_unavailable(void **state)
{
    mq_req *r =
        post_ready("{\"provider\":\"kakao\",\"resultId\":\"r1\",\"coupon\":\"WELCOME1000\"}", NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->resp_body, "\"coupon_unavailable\""));
    fake_req_free(r);
    assert_int_equal(fake.ncalls, 0);
}

static void coupon__discount_hold_redeem__once(void **state)
{
    coupons cs = {0};
    fake.api.service_publish(fake_self(), "coupons", 1, &coupons_vt, &cs);
    mq_req *r =
        post_ready("{\"provider\":\"kakao\",\"resultId\":\"r123\",\"coupon\":\"NOPE\"}", NULL);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->resp_body, "만료된 쿠폰입니다."));
    fake_req_free(r);

    r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r123\",\"coupon\":\"WELCOME1000\"}",
                   NULL);
    assert_non_null(strstr(fake_last_call()->body, "\"total_amount\":2900"));
    fake_answer(fake_last_call(), 200, KAKAO_READY_OK);
    char id[64];
    json_field(r->resp_body, "orderId", id, sizeof id);
    fake_req_free(r);
    assert_int_equal(cs.holds, 1);
    assert_string_equal(cs.held, id);
    char amount[16];
    assert_string_equal(
        json_field(fake_store_latest("orders", id), "amount", amount, sizeof amount), "2900");

    r = kakao_return("approve", id, sig_of(id), "tok");
    char *body = approve_body(id, 2900);
    fake_answer(fake_last_call(), 200, body);
    free(body);
    assert_redirect(r, "https://mindquiz.app/app/result/r123?paid=1");
    fake_req_free(r);
    r = kakao_return("approve", id, sig_of(id), "tok");
    fake_req_free(r);
    assert_int_equal(cs.redeems, 1);
    assert_int_equal(cs.releases, 0);
    assert_true(fake_metric("revenue_krw_total", "kakao") == 2900);
}

static void coupon__user_cancel__hold_released(void **state)
{
    coupons cs = {0};
    fake.api.service_publish(fake_self(), "coupons", 1, &coupons_vt, &cs);
    mq_req *r = post_ready(
        "{\"provider\":\"naver\",\"resultId\":\"r777\",\"coupon\":\"WELCOME1000\"}", NULL);
    fake_answer(fake_last_call(), 200, "{\"code\":\"Success\",\"body\":{\"reserveId\":\"R1\"}}");
    char id[64];
    json_field(r->resp_body, "orderId", id, sizeof id);
    fake_req_free(r);
    r = naver_return(id, sig_of(id), "Fail", NULL, "userCancel");
    fake_req_free(r);
    assert_int_equal(cs.releases, 1);
    assert_int_equal(cs.redeems, 0);
}

/* ---- hygiene
 * ------------------------------------------------------------------------------------------- */

static void logs__after_failures__never_hold_secrets(void **state)
{
    ctx *c = *state;
    kakao_ready(c->ids[0]);
    mq_req *r = kakao_return("approve", c->ids[0], sig_of(c->ids[0]), "tok");
    fake_answer_error(fake_last_call(), MQ_ETIMEDOUT, 1);
    fake_answer(fake_last_call(), 401, "{\"error_code\":-401,\"error_message\":\"bad key\"}");
    fake_req_free(r);
    naver_ready(c->ids[1]);
    r = naver_return(c->ids[1], sig_of(c->ids[1]), "Success", "P1", NULL);
    fake_answer(fake_last_call(), 200, "{\"code\":\"InvalidMerchant\",\"message\":\"x\"}");
    fake_req_free(r);
    r = post_ready("{\"provider\":\"kakao\",\"resultId\":\"r1\"}", NULL);
    fake_answer(fake_last_call(), 500, "");
    fake_req_free(r);
    assert_true(fake.nlogs > 3);
    assert_false(fake_logs_contain(KAKAO_KEY));
    assert_false(fake_logs_contain(NAVER_SECRET));
    assert_false(fake_logs_contain(ORDER_SECRET));
    assert_false(fake_logs_contain("http://pg.test"));
    assert_true(fake_logs_contain("naver apply \""));
}

static void order_route__public_view__no_secrets(void **state)
{
    ctx *c = *state;
    char *id = c->ids[0];
    kakao_ready(id);
    mq_req *r = fake_req_new("GET", "/api/pay/order/x");
    fake_req_param(r, "id", id);
    fake_dispatch("GET", "/api/pay/order/:id", r);
    assert_int_equal(r->status, 200);
    char st[32];
    assert_string_equal(json_field(r->resp_body, "status", st, sizeof st), "ready");
    assert_null(strstr(r->resp_body, sig_of(id)));
    assert_null(strstr(r->resp_body, "T1234567890123456789"));
    fake_req_free(r);
    r = fake_req_new("GET", "/api/pay/order/x");
    fake_req_param(r, "id", "MQ20200101000000aaaaaaaaaa");
    fake_dispatch("GET", "/api/pay/order/:id", r);
    assert_int_equal(r->status, 404);
    fake_req_free(r);
}

static void fini__work_in_flight__everything_freed(void **state)
{
    ctx *c = *state;
    kakao_ready(c->ids[0]);
    mq_req *a = kakao_return("approve", c->ids[0], sig_of(c->ids[0]), "tok");
    mq_req *b = kakao_return("approve", c->ids[0], sig_of(c->ids[0]), "tok");
    mq_req *d = post_ready("{\"provider\":\"naver\",\"resultId\":\"r1\"}", NULL);
    assert_true(a->suspended && b->suspended && d->suspended);
    /* The host cancels transfers and timers without callbacks, then fini:
     * teardown's fini must free the ops (the sanitizer build checks). */
    fake_req_free(a);
    fake_req_free(b);
    fake_req_free(d);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_init, teardown)
#define T0(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(init__metrics__every_series_at_zero),
        T0(init__missing_catalog__refused),
        T0(init__missing_secrets__starts_and_logs_once),
        T(ready__kakao__order_ready_and_redirect),
        T(ready__mobile_browser__mobile_redirect),
        T0(ready__disabled__503_and_no_order),
        T0(ready__client_over_its_limit__429_retry_after_and_no_order),
        T(ready__bad_bodies__400_with_codes),
        T(ready__gateway_errors__502_and_failed_with_reason),
        T(approve__kakao__approved_exactly_once),
        T(approve__concurrent_return__waits_and_no_second_call),
        T(approve__wait_deadline__pending_redirect),
        T(approve__amount_mismatch__failed_and_payment_canceled),
        T(approve__timeout_after_sending__reconciled_as_approved),
        T(approve__timeout_and_status_down__pending_then_timer_reconciles),
        T(approve__kakao_decline__confirmed_then_failed_declined),
        T(approve__kakao_400_but_already_paid__approved),
        T(returns__bad_requests__refused),
        T(kakao_cancel__ready_order__canceled_and_counted),
        T(kakao_fail__ready_order__failed_declined),
        T(naver__full_flow__approved),
        T(naver__apply_409_replay__treated_as_that_answer),
        T(naver__already_complete__history_reconciles),
        T(naver__user_cancel__canceled),
        T(naver__payment_of_another_order__failed_and_not_canceled),
        T0(resume__approving_order__reconciled_after_one_interval),
        T0(resume__settled_by_another_generation__no_lookup),
        T(refund__approved_order__refunded_once),
        T(refund__gateway_refuses__order_stays_approved),
        T(coupon__without_service__400_unavailable),
        T(coupon__discount_hold_redeem__once),
        T(coupon__user_cancel__hold_released),
        T(logs__after_failures__never_hold_secrets),
        T(order_route__public_view__no_secrets),
        T(fini__work_in_flight__everything_freed),
    };
    return cmocka_run_group_tests_name("payments flows", tests, NULL, NULL);
}
