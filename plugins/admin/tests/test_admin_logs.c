/*
 * test_admin_logs.c -- /admin/logs (logs.c): filter parsing, which rows
 * match, newest first, the limit, counts over every match, and the three
 * renderings -- CSV byte for byte (BOM, CRLF, RFC 4180 quoting of commas,
 * quotes, newlines and Korean), JSON, HTML (escaped, refund buttons).
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
#include "fake_api.h"

#define PASS "correct-horse-battery"
#define T0 1795755900000LL /* 2026-11-27 14:05:00 KST */
#define MIN 60000LL

static void *st;

static void order(const char *id, const char *provider, const char *status, const char *reason,
                  long amount, int64_t created)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "v", json_object_new_int(1));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "provider", json_object_new_string(provider));
    json_object_object_add(o, "result_id", json_object_new_string("r1"));
    json_object_object_add(o, "amount", json_object_new_int64(amount));
    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_object_add(o, "created_ms", json_object_new_int64(created));
    json_object_object_add(o, "updated_ms", json_object_new_int64(created + 1000));
    assert_int_equal(
        fake_store_put("orders", id, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)),
        MQ_OK);
    json_object_put(o);
}

static void event(const char *type, const char *id, const char *provider, const char *reason,
                  int64_t ts, const char *extra_key, const char *extra_value)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "v", json_object_new_int(1));
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "order", json_object_new_string(id));
    json_object_object_add(o, "provider", json_object_new_string(provider));
    json_object_object_add(o, "amount", json_object_new_int64(3900));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_object_add(o, "ts", json_object_new_int64(ts));
    if (extra_key)
        json_object_object_add(o, extra_key, json_object_new_string(extra_value));
    assert_int_equal(
        fake_store_put("events", "", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)),
        MQ_OK);
    json_object_put(o);
}

/* Six orders over six minutes, one updated later; events for each. */
static void seed(void)
{
    order("MQA", "kakao", "approved", "", 3900, T0);
    order("MQB", "naver", "failed", "timeout", 3900, T0 + 1 * MIN);
    order("MQC", "kakao", "failed", "declined", 3900, T0 + 2 * MIN);
    order("MQD", "kakao", "failed", "timeout", 3900, T0 + 3 * MIN);
    order("MQE", "naver", "approved", "", 3900, T0 + 4 * MIN);
    order("MQF", "kakao", "ready", "", 3900, T0 + 5 * MIN);
    order("MQA", "kakao", "refunded", "admin_refund", 3900, T0); /* MQA, later */
    event("order.approved", "MQA", "kakao", "", T0 + 10, NULL, NULL);
    event("order.failed", "MQB", "naver", "timeout", T0 + 1 * MIN + 10, NULL, NULL);
    event("order.failed", "MQC", "kakao", "declined", T0 + 2 * MIN + 10, NULL, NULL);
    event("order.failed", "MQD", "kakao", "timeout", T0 + 3 * MIN + 10, NULL, NULL);
    event("coupon.create", "", "", "", T0 + 3 * MIN + 20, "code", "WELCOME10");
    event("order.refunded", "MQA", "kakao", "admin_refund", T0 + 6 * MIN, NULL, NULL);
}

static int setup(void **s)
{
    fake_reset();
    fake_set_config("ADMIN_PASS", PASS);
    int rc = -1;
    st = fake_plugin_init(&rc);
    assert_int_equal(rc, MQ_OK);
    seed();
    return 0;
}

static int teardown(void **s)
{
    fake_plugin_fini(st);
    return 0;
}

/* ---- filter parsing ------------------------------------------------------------------------- */

static const char *const *params;
static const char *param(void *ud, const char *name)
{
    for (const char *const *p = params; p && *p; p += 2)
        if (!strcmp(p[0], name))
            return p[1];
    return NULL;
}

static int parse(adm_filter *f, const char *const *pairs, char *err)
{
    params = pairs;
    return mq_admin_filter_parse(f, param, NULL, err, 200);
}

static void filter__defaults(void **s)
{
    adm_filter f;
    char err[200];
    assert_int_equal(parse(&f, NULL, err), MQ_OK);
    assert_int_equal(f.limit, ADM_LIMIT_DEFAULT);
    assert_int_equal(f.kind, ADM_KIND_ALL);
    assert_int_equal(f.from_ms, 0);
    assert_string_equal(f.provider, "");
}

static void filter__values__parsed_date_only_to_includes_the_day(void **s)
{
    adm_filter f;
    char err[200];
    const char *p[] = {"provider", "kakao", "status",     "failed", "reason",
                       "timeout",  "from",  "2026-11-27", "to",     "2026-11-27",
                       "limit",    "7",     "kind",       "orders", NULL};
    assert_int_equal(parse(&f, p, err), MQ_OK);
    assert_string_equal(f.provider, "kakao");
    assert_string_equal(f.status, "failed");
    assert_string_equal(f.reason, "timeout");
    assert_int_equal(f.from_ms, 1795705200000LL);
    assert_int_equal(f.to_ms, 1795705200000LL + 86400000LL);
    assert_int_equal(f.limit, 7);
    assert_int_equal(f.kind, ADM_KIND_ORDERS);
}

static void filter__bad_values__einval_with_korean_cause(void **s)
{
    adm_filter f;
    char err[200];
    const char *bad[][3] = {
        {"provider", "ka kao", NULL}, {"limit", "0", NULL},         {"limit", "10001", NULL},
        {"limit", "ten", NULL},       {"kind", "users", NULL},      {"from", "yesterday", NULL},
        {"to", "2026-02-31", NULL},   {"status", "<script>", NULL}, {"reason", "a\nb", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(parse(&f, bad[i], err), MQ_EINVAL);
        assert_true(strlen(err) > 0);
    }
    const char *order[] = {"from", "2026-11-28", "to", "2026-11-27", NULL};
    assert_int_equal(parse(&f, order, err), MQ_EINVAL);
}

/* ---- matching and collecting ---------------------------------------------------------------- */

static void collect(const char *const *pairs, adm_rows *o, adm_rows *e)
{
    adm_filter f;
    char err[200];
    assert_int_equal(parse(&f, pairs, err), MQ_OK);
    assert_int_equal(mq_admin_logs_collect(st, &f, o, e), MQ_OK);
}

static void assert_ids(const adm_rows *r, const char *want)
{
    char got[256] = "";
    for (size_t i = 0; i < r->n; i++) {
        if (i)
            strcat(got, " ");
        strcat(got, r->rows[i].order[0] ? r->rows[i].order : "-");
    }
    assert_string_equal(got, want);
}

static long count_of(const adm_counts *c, const char *label)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->c[i].label, label))
            return c->c[i].n;
    return 0;
}

static void collect__no_filter__newest_first_latest_order_record(void **s)
{
    adm_rows o, e;
    collect(NULL, &o, &e);
    assert_ids(&o, "MQF MQE MQD MQC MQB MQA");
    assert_string_equal(o.rows[5].status, "refunded"); /* the latest record of MQA */
    assert_ids(&e, "MQA - MQD MQC MQB MQA");
    assert_string_equal(e.rows[0].status, "order.refunded");
    assert_string_equal(e.rows[1].detail, "code=WELCOME10");
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);
}

static void collect__provider_status_reason__exact_rows_and_counts(void **s)
{
    adm_rows o, e;
    const char *p[] = {"provider", "kakao", "status", "failed", NULL};
    collect(p, &o, &e);
    assert_ids(&o, "MQD MQC");
    assert_ids(&e, "MQD MQC"); /* "failed" matches order.failed */
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);

    const char *q[] = {"reason", "timeout", NULL};
    collect(q, &o, &e);
    assert_ids(&o, "MQD MQB");
    assert_int_equal(count_of(&o.by_provider, "kakao"), 1);
    assert_int_equal(count_of(&o.by_provider, "naver"), 1);
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);

    const char *r[] = {"status", "order.approved", NULL};
    collect(r, &o, &e);
    assert_ids(&o, "MQE"); /* MQA is refunded now */
    assert_ids(&e, "MQA");
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);
}

static void collect__time_range__from_inclusive_to_exclusive(void **s)
{
    adm_rows o, e;
    char from[24], to[24];
    snprintf(from, sizeof from, "%lld", (long long)(T0 + 1 * MIN));
    snprintf(to, sizeof to, "%lld", (long long)(T0 + 3 * MIN));
    const char *p[] = {"from", from, "to", to, NULL};
    collect(p, &o, &e);
    assert_ids(&o, "MQC MQB");
    assert_ids(&e, "MQC MQB");
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);

    /* Korean local time, as the form sends it */
    const char *q[] = {"from", "2026-11-27 14:07", "to", "2026-11-27T14:09",
                       "kind", "orders",           NULL};
    collect(q, &o, &e);
    assert_ids(&o, "MQD MQC"); /* MQE, created at 14:09:00 exactly, is out */
    assert_int_equal(e.n, 0);
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);
}

static void collect__limit__newest_kept_counts_cover_all(void **s)
{
    adm_rows o, e;
    const char *p[] = {"limit", "2", NULL};
    collect(p, &o, &e);
    assert_ids(&o, "MQF MQE");
    assert_int_equal(o.matched, 6);
    assert_int_equal(count_of(&o.by_status, "failed"), 3);
    assert_int_equal(count_of(&o.by_provider, "kakao"), 4);
    assert_ids(&e, "MQA -");
    assert_int_equal(e.matched, 6);
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);
}

static void collect__empty_store__no_rows(void **s)
{
    fake_plugin_fini(st);
    fake_reset();
    fake_set_config("ADMIN_PASS", PASS);
    st = fake_plugin_init(NULL);
    adm_rows o, e;
    collect(NULL, &o, &e);
    assert_int_equal(o.n + e.n, 0);
    mq_admin_rows_cleanup(&o);
    mq_admin_rows_cleanup(&e);
}

/* ---- through the route ---------------------------------------------------------------------- */

static mq_req *get_logs(const char *format, const char *const *pairs)
{
    mq_req *r = fake_req_new("GET", "/admin/logs");
    fake_req_header(r, "Authorization", "Bearer " PASS);
    if (format)
        fake_req_query(r, "format", format);
    for (const char *const *p = pairs; p && *p; p += 2)
        fake_req_query(r, p[0], p[1]);
    fake_dispatch("GET", "/admin/logs", r);
    assert_int_equal(r->answered, 1);
    return r;
}

static void csv__exact_rows_quoting_bom_crlf(void **s)
{
    /* A reason that needs every rule, and an admin note with Korean. */
    order("MQX", "naver", "failed", "카드사 거절, \"한도\"\n초과", 12000, T0 + 30 * MIN);
    event("admin.refund", "MQA", "kakao", "고객 요청, 중복 결제", T0 + 31 * MIN, "result", "ok");
    const char *p[] = {"provider", "naver", "status", "failed", NULL};
    mq_req *r = get_logs("csv", p);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "text/csv; charset=utf-8");
    const char *cd = fake_resp_header(r, "Content-Disposition");
    assert_non_null(cd);
    assert_int_equal(strncmp(cd, "attachment; filename=\"mindquiz-logs-", 36), 0);
    const char *want =
        "\xEF\xBB\xBF"
        "kind,time_kst,ts_ms,order,provider,status,amount,reason,result_id,updated_kst,detail\r\n"
        "order,2026-11-27 14:35:00,1795757700000,MQX,naver,failed,12000,"
        "\"카드사 거절, \"\"한도\"\"\n초과\",r1,2026-11-27 14:35:01,\r\n"
        "order,2026-11-27 14:06:00,1795755960000,MQB,naver,failed,3900,timeout,r1,"
        "2026-11-27 14:06:01,\r\n"
        "event,2026-11-27 14:06:00,1795755960010,MQB,naver,order.failed,3900,timeout,,,\r\n";
    assert_string_equal(r->resp_body, want);
    fake_req_free(r);

    const char *q[] = {"status", "admin.refund", "kind", "events", NULL};
    r = get_logs("csv", q);
    assert_string_equal(r->resp_body,
                        "\xEF\xBB\xBF"
                        "kind,time_kst,ts_ms,order,provider,status,amount,reason,result_id,"
                        "updated_kst,detail\r\n"
                        "event,2026-11-27 14:36:00,1795757760000,MQA,kakao,admin.refund,3900,"
                        "\"고객 요청, 중복 결제\",,,result=ok\r\n");
    fake_req_free(r);
}

static void csv__same_rows_as_json(void **s)
{
    const char *p[] = {"provider", "kakao", "limit", "3", NULL};
    mq_req *c = get_logs("csv", p);
    mq_req *j = get_logs("json", p);
    json_object *o = json_tokener_parse(j->resp_body);
    json_object *orders = json_object_object_get(json_object_object_get(o, "orders"), "rows");
    json_object *events = json_object_object_get(json_object_object_get(o, "events"), "rows");
    size_t lines = 0;
    for (const char *q = c->resp_body; (q = strstr(q, "\r\n")); q += 2)
        lines++;
    assert_int_equal(lines,
                     1 + json_object_array_length(orders) + json_object_array_length(events));
    assert_int_equal(json_object_array_length(orders), 3);
    json_object_put(o);
    fake_req_free(c);
    fake_req_free(j);
}

static void json__counts_by_provider_and_reason(void **s)
{
    mq_req *r = get_logs("json", NULL);
    assert_int_equal(r->status, 200);
    json_object *o = json_tokener_parse(r->resp_body);
    json_object *oc = json_object_object_get(json_object_object_get(o, "orders"), "counts");
    assert_int_equal(json_object_get_int(
                         json_object_object_get(json_object_object_get(oc, "provider"), "kakao")),
                     4);
    assert_int_equal(json_object_get_int(
                         json_object_object_get(json_object_object_get(oc, "reason"), "timeout")),
                     2);
    assert_int_equal(
        json_object_get_int(json_object_object_get(json_object_object_get(oc, "status"), "failed")),
        3);
    json_object *rows = json_object_object_get(json_object_object_get(o, "orders"), "rows");
    json_object *first = json_object_array_get_idx(rows, 0);
    assert_string_equal(json_object_get_string(json_object_object_get(first, "id")), "MQF");
    assert_string_equal(json_object_get_string(json_object_object_get(first, "time_kst")),
                        "2026-11-27 14:10:00");
    json_object_put(o);
    fake_req_free(r);
}

static void html__escaped_refund_button_only_for_approved_csv_link_keeps_filters(void **s)
{
    order("MQY", "kakao", "failed", "<script>alert(1)</script>", 3900, T0 + 40 * MIN);
    const char *p[] = {"provider", "kakao", NULL};
    mq_req *r = get_logs(NULL, p);
    assert_int_equal(r->status, 200);
    assert_null(strstr(r->resp_body, "<script>"));
    assert_non_null(strstr(r->resp_body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    /* MQA is refunded, MQF ready: no approved kakao order, no refund form */
    assert_null(strstr(r->resp_body, "/admin/actions/refund"));
    assert_non_null(strstr(r->resp_body, "href=\"/admin/logs?provider=kakao&amp;format=csv\""));
    assert_non_null(strstr(r->resp_body, "data-count=\"provider\""));
    fake_req_free(r);

    const char *q[] = {"provider", "naver", NULL};
    r = get_logs(NULL, q);
    const char *form = strstr(r->resp_body, "action=\"/admin/actions/refund\"");
    assert_non_null(form);
    assert_non_null(strstr(form, "name=\"order\" value=\"MQE\""));
    fake_req_free(r);
}

static void invalid_filter__400_with_cause(void **s)
{
    const char *p[] = {"limit", "-1", NULL};
    mq_req *r = get_logs("json", p);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->resp_body, "\"code\":\"invalid_filter\""));
    fake_req_free(r);
    r = get_logs("csv", p);
    assert_int_equal(r->status, 400);
    fake_req_free(r);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(filter__defaults),
        T(filter__values__parsed_date_only_to_includes_the_day),
        T(filter__bad_values__einval_with_korean_cause),
        T(collect__no_filter__newest_first_latest_order_record),
        T(collect__provider_status_reason__exact_rows_and_counts),
        T(collect__time_range__from_inclusive_to_exclusive),
        T(collect__limit__newest_kept_counts_cover_all),
        T(collect__empty_store__no_rows),
        T(csv__exact_rows_quoting_bom_crlf),
        T(csv__same_rows_as_json),
        T(json__counts_by_provider_and_reason),
        T(html__escaped_refund_button_only_for_approved_csv_link_keeps_filters),
        T(invalid_filter__400_with_cause),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
