/*
 * test_admin_views.c -- /admin/status, /admin/files and /admin/coupons
 * (views.c) from canned host JSON: a refused reload with its reason, the
 * kill switch, live coupon holds, today's orders on the Korean day, the
 * last backup's age standing out past 24 h, restore-check results, and
 * every value escaped.
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

#define PASS "correct-horse-battery"
#define NOW 1795000000000LL   /* 2026-11-18 20:06:40 KST */
#define TODAY 1794927600000LL /* 2026-11-18 00:00:00 KST */
#define HOUR 3600LL

static void *st;
static char host_json[4096];

/* The host's status with a refused reload (newest first) before an ok one. */
static void host_status(int64_t last_backup_unix)
{
    snprintf(host_json, sizeof host_json,
             "{\"version\":\"0.1.0\",\"commit\":\"c0ffee\",\"started_unix\":%lld,\"uptime_s\":"
             "93784,\"release\":\"20261118-041000\",\"generation\":7,\"plugins\":[{\"name\":"
             "\"admin\",\"version\":\"1.0.0\"},{\"name\":\"payments\",\"version\":\"1.0.0\"}],"
             "\"reloads\":[{\"time_unix\":%lld,\"ok\":false,\"reason\":\"checksum\",\"message\":"
             "\"plugins/quiz.so: sha256 <mismatch> & size\",\"generation\":7,\"release\":"
             "\"20261118-041000\",\"duration_us\":5300},{\"time_unix\":%lld,\"ok\":true,\"reason\":"
             "\"\",\"message\":\"\",\"generation\":7,\"release\":\"20261118-041000\","
             "\"duration_us\":120000}],\"inflight\":2,\"store\":{\"failed\":false,\"collections\":"
             "[{\"name\":\"orders\",\"records\":12,\"keys\":5,\"bytes\":4096,\"corrupt\":1}]},"
             "\"data_files\":[{\"name\":\"orders.ndjson\",\"bytes\":4096,\"mtime_unix\":%lld}],"
             "\"last_backup_unix\":%lld,\"job_running\":false}",
             (long long)(NOW / 1000 - 93784), (long long)(NOW / 1000 - 60),
             (long long)(NOW / 1000 - 600), (long long)(NOW / 1000 - 5),
             (long long)last_backup_unix);
    fake.host_status = host_json;
}

static void start(const char *key, const char *value)
{
    fake_reset();
    fake.now_ms = NOW;
    fake_set_config("ADMIN_PASS", PASS);
    if (key)
        fake_set_config(key, value);
    host_status(NOW / 1000 - 2 * HOUR);
    int rc = -1;
    st = fake_plugin_init(&rc);
    assert_int_equal(rc, MQ_OK);
}

static int setup(void **s)
{
    start(NULL, NULL);
    return 0;
}

static int teardown(void **s)
{
    fake_plugin_fini(st);
    return 0;
}

static mq_req *get(const char *path, const char *format)
{
    mq_req *r = fake_req_new("GET", path);
    fake_req_header(r, "Authorization", "Bearer " PASS);
    if (format)
        fake_req_query(r, "format", format);
    fake_dispatch("GET", path, r);
    assert_int_equal(r->answered, 1);
    assert_int_equal(r->status, 200);
    return r;
}

static json_object *get_json(const char *path)
{
    mq_req *r = get(path, "json");
    json_object *o = json_tokener_parse(r->resp_body);
    assert_non_null(o);
    fake_req_free(r);
    return o;
}

static json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

/* ---- /admin/status -------------------------------------------------------------------------- */

static void status__failed_reload__result_and_reason_shown(void **s)
{
    mq_req *r = get("/admin/status", NULL);
    const char *reloads = strstr(r->resp_body, "<table id=\"reloads\">");
    assert_non_null(reloads);
    assert_non_null(strstr(reloads, "<td class=\"bad\">실패"));
    assert_non_null(strstr(reloads, "<td>checksum</td>"));
    assert_non_null(strstr(reloads, "sha256 &lt;mismatch&gt; &amp; size"));
    assert_non_null(strstr(reloads, "<td class=\"ok\">성공</td>"));
    assert_non_null(strstr(r->resp_body, "<td>20261118-041000</td>"));
    assert_non_null(strstr(r->resp_body, "<td>payments</td><td>1.0.0</td>"));
    assert_non_null(strstr(r->resp_body, "1일 2시간")); /* uptime 93784 s */
    fake_req_free(r);

    json_object *o = get_json("/admin/status");
    json_object *first = json_object_array_get_idx(jget(o, "reloads"), 0);
    assert_false(json_object_get_boolean(jget(first, "ok")));
    assert_string_equal(json_object_get_string(jget(first, "reason")), "checksum");
    json_object_put(o);
}

static void status__payments_switch__shown(void **s)
{
    json_object *o = get_json("/admin/status");
    assert_true(json_object_get_boolean(jget(o, "payments_enabled")));
    assert_true(json_object_get_boolean(jget(o, "payments_loaded")));
    json_object_put(o);

    fake_plugin_fini(st);
    start("PAYMENTS_ENABLED", "0");
    o = get_json("/admin/status");
    assert_false(json_object_get_boolean(jget(o, "payments_enabled")));
    json_object_put(o);
    mq_req *r = get("/admin/status", NULL);
    assert_non_null(strstr(r->resp_body, "킬스위치 ON"));
    fake_req_free(r);

    /* a typo fails closed, as the payments plugin reads it */
    assert_false(mq_admin_payments_enabled("O"));
    assert_true(mq_admin_payments_enabled(NULL));
    assert_true(mq_admin_payments_enabled("yes"));
    assert_false(mq_admin_payments_enabled("off"));
}

static void hold(const char *order, const char *state_key, const char *state, int64_t expires)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"v\":1,\"order\":\"%s\",\"code\":\"WELCOME10\",\"%s\":\"%s\",\"expires_ms\":%lld}",
             order, state_key, state, (long long)expires);
    assert_int_equal(fake_store_put("coupon_holds", order, json), MQ_OK);
}

static void status__live_holds__held_and_not_expired_latest_only(void **s)
{
    hold("O1", "state", "held", NOW + 60000); /* live */
    hold("O2", "state", "held", NOW - 1);     /* past its expiry */
    hold("O3", "state", "held", NOW + 60000);
    hold("O3", "state", "redeemed", NOW + 60000); /* settled since */
    hold("O4", "state", "released", NOW + 60000);
    hold("O5", "status", "held", 0); /* "status", no expiry: live */
    assert_int_equal(mq_admin_count_live_holds(st, NOW), 2);
    json_object *o = get_json("/admin/status");
    assert_int_equal(json_object_get_int(jget(o, "coupon_holds_live")), 2);
    json_object_put(o);
}

static void order_at(const char *id, const char *status, int64_t created)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"v\":1,\"id\":\"%s\",\"provider\":\"kakao\",\"status\":\"%s\",\"created_ms\":%lld}",
             id, status, (long long)created);
    assert_int_equal(fake_store_put("orders", id, json), MQ_OK);
}

static void status__todays_orders__korean_day_by_state(void **s)
{
    order_at("Y1", "approved", TODAY - 1); /* 23:59:59.999 yesterday (KST) */
    order_at("T1", "approved", TODAY);     /* 00:00 today */
    order_at("T2", "failed", TODAY + 3600000);
    order_at("T3", "ready", NOW - 1000);
    order_at("T1", "refunded", TODAY); /* T1's latest state counts */
    adm_counts c;
    assert_int_equal(mq_admin_orders_today(st, NOW, &c), MQ_OK);
    assert_int_equal(c.total, 3);
    json_object *o = get_json("/admin/status");
    json_object *t = jget(o, "orders_today");
    assert_string_equal(json_object_get_string(jget(t, "day")), "2026-11-18");
    assert_int_equal(json_object_get_int(jget(t, "total")), 3);
    json_object *by = jget(t, "by_status");
    assert_int_equal(json_object_get_int(jget(by, "refunded")), 1);
    assert_int_equal(json_object_get_int(jget(by, "failed")), 1);
    assert_int_equal(json_object_get_int(jget(by, "ready")), 1);
    assert_null(jget(by, "approved"));
    json_object_put(o);
}

/* ---- backups' age --------------------------------------------------------------------------- */

static void backup_age__over_24h__stands_out(void **s)
{
    host_status(NOW / 1000 - 25 * HOUR);
    fake.backups = "[{\"name\":\"20261117-041000\",\"created_unix\":1794856200,\"bytes\":2048,"
                   "\"check\":\"ok\",\"check_message\":\"\"}]";
    /* the newer of the two sources counts: the host's, 25 h ago */
    int64_t age = mq_admin_last_backup_age(fake.host_status, fake.backups, NOW);
    assert_int_equal(age, 25 * HOUR);
    /* and the list's when it is the newer one */
    host_status(0);
    assert_int_equal(mq_admin_last_backup_age(fake.host_status, fake.backups, NOW),
                     NOW / 1000 - 1794856200);
    host_status(NOW / 1000 - 25 * HOUR);
    mq_req *r = get("/admin/files", NULL);
    assert_non_null(strstr(r->resp_body, "<p id=\"backup-age\" class=\"stale\">"));
    assert_non_null(strstr(r->resp_body, "24시간이 지났습니다"));
    fake_req_free(r);
    r = get("/admin/status", NULL);
    assert_non_null(strstr(r->resp_body, "class=\"stale\""));
    fake_req_free(r);
    json_object *o = get_json("/admin/files");
    assert_true(json_object_get_boolean(jget(o, "backup_stale")));
    json_object_put(o);
}

static void backup_age__recent__plain(void **s)
{
    host_status(NOW / 1000 - 2 * HOUR);
    mq_req *r = get("/admin/files", NULL);
    assert_non_null(strstr(r->resp_body, "<p id=\"backup-age\" class=\"fresh\">마지막 백업: "
                                         "2시간 0분 전</p>"));
    assert_null(strstr(r->resp_body, "class=\"stale\""));
    fake_req_free(r);
    json_object *o = get_json("/admin/files");
    assert_false(json_object_get_boolean(jget(o, "backup_stale")));
    assert_int_equal(json_object_get_int(jget(o, "last_backup_age_s")), 2 * HOUR);
    json_object_put(o);
}

static void backup_age__never__stands_out(void **s)
{
    host_status(0);
    assert_int_equal(mq_admin_last_backup_age(fake.host_status, "[]", NOW), -1);
    mq_req *r = get("/admin/files", NULL);
    assert_non_null(strstr(r->resp_body, "class=\"stale\">마지막 백업: 없음"));
    fake_req_free(r);
}

/* ---- /admin/files --------------------------------------------------------------------------- */

static void files__data_files_and_backups_with_checks(void **s)
{
    fake.backups =
        "[{\"name\":\"20261118-041000\",\"created_unix\":1794942600,\"bytes\":1536,\"check\":"
        "\"failed\",\"check_message\":\"orders.ndjson: sha256 <differs>\"},"
        "{\"name\":\"20261117-041000\",\"created_unix\":1794856200,\"bytes\":1024,\"check\":"
        "\"ok\",\"check_message\":\"\"},"
        "{\"name\":\"20261116-041000\",\"created_unix\":1794769800,\"bytes\":1024,\"check\":"
        "\"unchecked\",\"check_message\":\"\"}]";
    mq_req *r = get("/admin/files", NULL);
    const char *b = r->resp_body;
    assert_non_null(strstr(b, "<td>orders.ndjson</td><td class=\"num\">4.0 KB</td>"
                              "<td class=\"num\">4096</td>"));
    assert_non_null(strstr(b, "<td class=\"bad\">실패</td>"));
    assert_non_null(strstr(b, "sha256 &lt;differs&gt;"));
    assert_non_null(strstr(b, "<td class=\"ok\">통과</td>"));
    assert_non_null(strstr(b, "점검 안 됨"));
    assert_non_null(strstr(b, "name=\"name\" value=\"20261116-041000\""));
    assert_non_null(strstr(b, "1.5 KB"));
    fake_req_free(r);

    json_object *o = get_json("/admin/files");
    assert_int_equal(json_object_array_length(jget(o, "backups")), 3);
    assert_int_equal(json_object_array_length(jget(o, "data_files")), 1);
    json_object_put(o);
}

static void files__csv_format__refused(void **s)
{
    mq_req *r = fake_req_new("GET", "/admin/files");
    fake_req_header(r, "Authorization", "Bearer " PASS);
    fake_req_query(r, "format", "csv");
    fake_dispatch("GET", "/admin/files", r);
    assert_int_equal(r->status, 400);
    fake_req_free(r);
}

/* ---- /admin/coupons ------------------------------------------------------------------------- */

static char *list_json(void *ud)
{
    return strdup("[{\"code\":\"WELCOME10\",\"kind\":\"percent\",\"value\":10,\"total_uses\":100,"
                  "\"per_user\":1,\"valid_from_ms\":0,\"valid_until_ms\":0,\"enabled\":true,"
                  "\"used\":3,\"held\":1,\"created_ms\":1,\"updated_ms\":2},"
                  "{\"code\":\"OLD<B>\",\"kind\":\"fixed\",\"value\":1000,\"total_uses\":5,"
                  "\"per_user\":0,\"valid_from_ms\":0,\"valid_until_ms\":0,\"enabled\":false,"
                  "\"used\":5,\"held\":0,\"created_ms\":1,\"updated_ms\":2}]");
}

static const mq_coupons_admin_v1 coupons = {.list_json = list_json};

static void coupons__service_absent__notice(void **s)
{
    mq_req *r = get("/admin/coupons", NULL);
    assert_non_null(strstr(r->resp_body, "coupons.admin"));
    assert_null(strstr(r->resp_body, "/admin/actions/coupon-create"));
    fake_req_free(r);
    json_object *o = get_json("/admin/coupons");
    assert_false(json_object_get_boolean(jget(o, "available")));
    json_object_put(o);
}

static void coupons__listed_disable_only_when_enabled_escaped(void **s)
{
    fake_publish(MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION, &coupons, NULL);
    mq_req *r = get("/admin/coupons", NULL);
    const char *b = r->resp_body;
    assert_non_null(strstr(b, "action=\"/admin/actions/coupon-create\""));
    assert_non_null(strstr(b, "name=\"code\" value=\"WELCOME10\""));
    assert_null(strstr(b, "name=\"code\" value=\"OLD")); /* disabled: no button */
    assert_non_null(strstr(b, "OLD&lt;B&gt;"));
    assert_non_null(strstr(b, "10%"));
    fake_req_free(r);
    json_object *o = get_json("/admin/coupons");
    assert_true(json_object_get_boolean(jget(o, "available")));
    assert_int_equal(json_object_array_length(jget(o, "coupons")), 2);
    json_object_put(o);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(status__failed_reload__result_and_reason_shown),
        T(status__payments_switch__shown),
        T(status__live_holds__held_and_not_expired_latest_only),
        T(status__todays_orders__korean_day_by_state),
        T(backup_age__over_24h__stands_out),
        T(backup_age__recent__plain),
        T(backup_age__never__stands_out),
        T(files__data_files_and_backups_with_checks),
        T(files__csv_format__refused),
        T(coupons__service_absent__notice),
        T(coupons__listed_disable_only_when_enabled_escaped),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
