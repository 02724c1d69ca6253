/*
 * test_admin_auth.c -- who gets in (auth.c): the matrix of credentials
 * (none, wrong, ?pass=, Bearer, Basic, session cookie, login form), the
 * lockout after five failures in a minute, the address allowlist, sessions
 * (cookie attributes, expiry, logout, the store never holding the id), and
 * the password never reaching a log line, a page or a Location.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adm.h"
#include "fake_api.h"

#define PASS "correct-horse-battery"
#define BASIC_OK "Basic b3BzOmNvcnJlY3QtaG9yc2UtYmF0dGVyeQ==" /* ops:PASS */
#define BASIC_NOUSER "Basic OmNvcnJlY3QtaG9yc2UtYmF0dGVyeQ==" /* :PASS */
#define BASIC_WRONG "Basic b3BzOndyb25n"                      /* ops:wrong */
#define BASIC_NOCOLON "Basic bm9jb2xvbg=="                    /* nocolon */

static const char host_status[] =
    "{\"version\":\"0.1.0\",\"commit\":\"abc\",\"started_unix\":1794990000,\"uptime_s\":10000,"
    "\"release\":\"r1\",\"generation\":3,\"plugins\":[{\"name\":\"admin\",\"version\":\"1.0.0\"}],"
    "\"reloads\":[],\"inflight\":1,\"store\":{\"failed\":false,\"collections\":[]},"
    "\"data_files\":[],\"last_backup_unix\":0,\"job_running\":false}";

static void *st;

static void start(const char *key, const char *value)
{
    fake_reset();
    fake_set_config("ADMIN_PASS", PASS);
    if (key)
        fake_set_config(key, value);
    fake.host_status = host_status;
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
    st = NULL;
    return 0;
}

static void restart(const char *key, const char *value)
{
    fake_plugin_fini(st);
    start(key, value);
}

static mq_req *req(const char *method, const char *path, const char *ip)
{
    mq_req *r = fake_req_new(method, path);
    if (ip)
        snprintf(r->ip, sizeof r->ip, "%s", ip);
    return r;
}

/* Dispatch to the route `pattern` and check one answer went out. */
static mq_req *run(mq_req *r, const char *pattern)
{
    fake_dispatch(r->method, pattern, r);
    assert_int_equal(r->answered, 1);
    return r;
}

static int status_with_query_pass(const char *ip, const char *pass)
{
    mq_req *r = req("GET", "/admin/status", ip);
    fake_req_query(r, "pass", pass);
    fake_req_query(r, "format", "json");
    int status = run(r, "/admin/status")->status;
    fake_req_free(r);
    return status;
}

static double failures(void)
{
    return fake_metric("admin_login_failures_total", "");
}

/* ---- admin off ------------------------------------------------------------------------------ */

static void no_admin_pass__no_routes_every_path_404(void **s)
{
    fake_plugin_fini(st);
    fake_reset();
    int rc = -1;
    st = fake_plugin_init(&rc);
    assert_int_equal(rc, MQ_OK);
    assert_int_equal(fake.nroutes, 0);
    assert_true(fake_logs_contain("admin is off"));
    /* metrics exist anyway, at 0 */
    assert_int_equal(failures(), 0);
}

static void empty_admin_pass__admin_off(void **s)
{
    restart("ADMIN_PASS", "");
    assert_int_equal(fake.nroutes, 0);
}

static void short_admin_pass__warned_not_printed(void **s)
{
    restart("ADMIN_PASS", "hunter2");
    assert_true(fake_logs_contain("shorter than 12"));
    assert_false(fake_logs_contain("hunter2"));
    assert_true(fake_has_route("GET", "/admin/status"));
}

/* ---- no credential, wrong, right ------------------------------------------------------------ */

static void no_credential__401_login_page_not_counted(void **s)
{
    mq_req *r = run(req("GET", "/admin/status", NULL), "/admin/status");
    assert_int_equal(r->status, 401);
    assert_string_equal(r->content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(r->resp_body, "action=\"/admin/login\""));
    assert_non_null(strstr(r->resp_body, "name=\"next\" value=\"/admin/status\""));
    assert_non_null(fake_resp_header(r, "WWW-Authenticate"));
    assert_string_equal(fake_resp_header(r, "Cache-Control"), "no-store");
    assert_null(fake_resp_header(r, "Set-Cookie"));
    assert_int_equal(failures(), 0);
    fake_req_free(r);

    r = req("GET", "/admin/logs", NULL);
    fake_req_query(r, "format", "json");
    run(r, "/admin/logs");
    assert_int_equal(r->status, 401);
    assert_non_null(strstr(r->resp_body, "\"code\":\"unauthorized\""));
    fake_req_free(r);
}

static void wrong_query_pass__401_counted_logged_without_password(void **s)
{
    assert_int_equal(status_with_query_pass("127.0.0.1", "wrong-guess-1"), 401);
    assert_int_equal(failures(), 1);
    assert_true(fake_logs_contain("admin login from \"127.0.0.1\" failed (pass)"));
    assert_false(fake_logs_contain("wrong-guess-1"));
}

static void right_query_pass_on_page__session_cookie_and_303_without_pass(void **s)
{
    mq_req *r = req("GET", "/admin/logs", "10.1.2.3");
    fake_req_query(r, "provider", "kakao");
    fake_req_query(r, "pass", PASS);
    fake_req_query(r, "reason", "한도 초과");
    fake_req_query(r, "limit", "5");
    run(r, "/admin/logs");
    assert_int_equal(r->status, 303);
    const char *loc = fake_resp_header(r, "Location");
    assert_string_equal(loc,
                        "/admin/logs?provider=kakao&reason=%ED%95%9C%EB%8F%84%20%EC%B4%88%EA%B3%BC"
                        "&limit=5");
    const char *cookie = fake_resp_header(r, "Set-Cookie");
    assert_non_null(cookie);
    assert_int_equal(strncmp(cookie, "mq_admin=", 9), 0);
    char id[65];
    memcpy(id, cookie + 9, 64);
    id[64] = '\0';
    assert_int_equal(strspn(id, "0123456789abcdef"), 64);
    assert_string_equal(cookie + 9 + 64, "; Path=/admin; Max-Age=43200; HttpOnly; SameSite=Strict");
    assert_null(strstr(r->resp_body, PASS));
    fake_req_free(r);

    /* The store keeps a keyed hash of the id, never the id. */
    assert_int_equal(fake_store_count(ADM_COLL_SESSIONS), 1);
    assert_null(strstr(fake_store_last(ADM_COLL_SESSIONS), id));
    assert_null(fake_store_latest(ADM_COLL_SESSIONS, id));
    assert_true(fake_logs_contain("admin login from \"10.1.2.3\" (pass): session started"));

    /* The cookie alone lets the browser in. */
    char hdr[100];
    snprintf(hdr, sizeof hdr, "theme=dark; mq_admin=%s", id);
    r = req("GET", "/admin/status", "10.1.2.3");
    fake_req_header(r, "Cookie", hdr);
    run(r, "/admin/status");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->resp_body, "action=\"/admin/logout\""));
    fake_req_free(r);
}

static void right_query_pass_for_json__answered_without_session(void **s)
{
    assert_int_equal(status_with_query_pass("127.0.0.1", PASS), 200);
    assert_int_equal(fake_store_count(ADM_COLL_SESSIONS), 0);
    assert_int_equal(failures(), 0);
}

static void bearer__right_200_wrong_401(void **s)
{
    mq_req *r = req("GET", "/admin/files", NULL);
    fake_req_header(r, "Authorization", "Bearer " PASS);
    fake_req_query(r, "format", "json");
    assert_int_equal(run(r, "/admin/files")->status, 200);
    assert_null(fake_resp_header(r, "Set-Cookie"));
    fake_req_free(r);

    r = req("GET", "/admin/files", NULL);
    fake_req_header(r, "Authorization", "bearer nope");
    assert_int_equal(run(r, "/admin/files")->status, 401);
    fake_req_free(r);
    assert_int_equal(failures(), 1);
    assert_true(fake_logs_contain("failed (bearer)"));
}

static void basic__any_user_right_password_200(void **s)
{
    const char *ok[] = {BASIC_OK, BASIC_NOUSER};
    for (int i = 0; i < 2; i++) {
        mq_req *r = req("GET", "/admin/status", NULL);
        fake_req_header(r, "Authorization", ok[i]);
        assert_int_equal(run(r, "/admin/status")->status, 200);
        fake_req_free(r);
    }
    assert_int_equal(failures(), 0);
}

static void basic__wrong_or_malformed_401_counted(void **s)
{
    const char *bad[] = {BASIC_WRONG, BASIC_NOCOLON, "Basic !!!"};
    for (int i = 0; i < 3; i++) {
        mq_req *r = req("GET", "/admin/status", NULL);
        fake_req_header(r, "Authorization", bad[i]);
        assert_int_equal(run(r, "/admin/status")->status, 401);
        fake_req_free(r);
    }
    assert_int_equal(failures(), 3);
    assert_true(fake_logs_contain("failed (basic)"));
}

static void other_auth_scheme__ignored_falls_back_to_query(void **s)
{
    mq_req *r = req("GET", "/admin/status", NULL);
    fake_req_header(r, "Authorization", "Digest username=x");
    fake_req_query(r, "pass", PASS);
    fake_req_query(r, "format", "json");
    assert_int_equal(run(r, "/admin/status")->status, 200);
    fake_req_free(r);
}

/* ---- sessions ------------------------------------------------------------------------------- */

/* Log in by ?pass= and return the cookie header value "mq_admin=<id>". */
static void login(char out[80])
{
    mq_req *r = req("GET", "/admin/status", NULL);
    fake_req_query(r, "pass", PASS);
    run(r, "/admin/status");
    assert_int_equal(r->status, 303);
    snprintf(out, 80, "%.73s", fake_resp_header(r, "Set-Cookie"));
    fake_req_free(r);
}

static int with_cookie(const char *cookie, const char *path)
{
    mq_req *r = req("GET", path, NULL);
    fake_req_header(r, "Cookie", cookie);
    int status = run(r, path)->status;
    if (status == 401) {
        /* a stale cookie is cleared */
        const char *sc = fake_resp_header(r, "Set-Cookie");
        assert_non_null(sc);
        assert_non_null(strstr(sc, "mq_admin=; Path=/admin; Max-Age=0"));
    }
    fake_req_free(r);
    return status;
}

static void session__expires_after_12_hours(void **s)
{
    char cookie[80];
    login(cookie);
    fake.now_ms += 12 * 3600 * 1000LL - 1000;
    assert_int_equal(with_cookie(cookie, "/admin/status"), 200);
    fake.now_ms += 2000;
    assert_int_equal(with_cookie(cookie, "/admin/status"), 401);
    assert_int_equal(failures(), 0);
}

static void session__unknown_or_malformed_cookie__401_not_counted(void **s)
{
    assert_int_equal(with_cookie("mq_admin="
                                 "0000000000000000000000000000000000000000000000000000000000000000",
                                 "/admin/status"),
                     401);
    assert_int_equal(with_cookie("mq_admin=../../etc", "/admin/status"), 401);
    assert_int_equal(failures(), 0);
}

static void session__secure_cookie_behind_https(void **s)
{
    restart("PUBLIC_BASE_URL", "https://mindquiz.app");
    mq_req *r = req("GET", "/admin/status", NULL);
    fake_req_query(r, "pass", PASS);
    run(r, "/admin/status");
    const char *sc = fake_resp_header(r, "Set-Cookie");
    assert_non_null(strstr(sc, "; HttpOnly; SameSite=Strict; Secure"));
    fake_req_free(r);
}

static void session__logout_ends_it(void **s)
{
    char cookie[80], csrf[65];
    login(cookie);
    mq_admin_csrf_for_session(st, cookie + 9, csrf);
    char body[120];
    snprintf(body, sizeof body, "csrf=%s", csrf);
    mq_req *r = req("POST", "/admin/logout", NULL);
    fake_req_header(r, "Cookie", cookie);
    r->body = body;
    run(r, "/admin/logout");
    assert_int_equal(r->status, 303);
    assert_string_equal(fake_resp_header(r, "Location"), "/admin/login");
    assert_non_null(strstr(fake_resp_header(r, "Set-Cookie"), "Max-Age=0"));
    fake_req_free(r);
    assert_int_equal(with_cookie(cookie, "/admin/status"), 401);
}

/* ---- the login form ------------------------------------------------------------------------- */

static mq_req *post_login(const char *body)
{
    mq_req *r = req("POST", "/admin/login", NULL);
    r->body = body;
    return run(r, "/admin/login");
}

static void login_form__right__cookie_and_303_to_next(void **s)
{
    mq_req *r = post_login("pass=" PASS "&next=%2Fadmin%2Flogs%3Fprovider%3Dnaver");
    assert_int_equal(r->status, 303);
    assert_string_equal(fake_resp_header(r, "Location"), "/admin/logs?provider=naver");
    assert_non_null(fake_resp_header(r, "Set-Cookie"));
    fake_req_free(r);
}

static void login_form__foreign_next__goes_to_status(void **s)
{
    const char *bodies[] = {"pass=" PASS "&next=%2F%2Fevil.example%2Fadmin",
                            "pass=" PASS "&next=https%3A%2F%2Fevil.example%2F",
                            "pass=" PASS "&next=%2Fadminx",
                            "pass=" PASS "&next=%2Fadmin%0d%0aX: y"};
    for (int i = 0; i < 4; i++) {
        mq_req *r = post_login(bodies[i]);
        assert_int_equal(r->status, 303);
        assert_string_equal(fake_resp_header(r, "Location"), "/admin/status");
        fake_req_free(r);
    }
}

static void login_form__wrong__401_counted(void **s)
{
    mq_req *r = post_login("pass=nope&next=%2Fadmin%2Ffiles");
    assert_int_equal(r->status, 401);
    assert_non_null(strstr(r->resp_body, "value=\"/admin/files\""));
    assert_null(fake_resp_header(r, "Set-Cookie"));
    fake_req_free(r);
    r = post_login("next=%2Fadmin%2Ffiles");
    assert_int_equal(r->status, 401);
    fake_req_free(r);
    assert_int_equal(failures(), 2);
}

static void login_form__foreign_origin__403(void **s)
{
    mq_req *r = req("POST", "/admin/login", NULL);
    r->body = "pass=" PASS;
    fake_req_header(r, "Host", "mindquiz.app");
    fake_req_header(r, "Origin", "https://evil.example");
    assert_int_equal(run(r, "/admin/login")->status, 403);
    assert_null(fake_resp_header(r, "Set-Cookie"));
    fake_req_free(r);
}

/* ---- lockout -------------------------------------------------------------------------------- */

static void lockout__fifth_failure_in_a_minute__429_even_with_right_password(void **s)
{
    for (int i = 0; i < 5; i++) {
        if (i)
            fake.now_ms += 14 * 1000; /* five failures within 56 s */
        assert_int_equal(status_with_query_pass("203.0.113.7", "guess"), 401);
    }
    assert_int_equal(failures(), 5);
    assert_true(fake_logs_contain("5 failures in a minute, locked out for 900 s"));
    /* the right password does not help, and is not even counted */
    mq_req *r = req("GET", "/admin/status", "203.0.113.7");
    fake_req_query(r, "pass", PASS);
    run(r, "/admin/status");
    assert_int_equal(r->status, 429);
    assert_string_equal(fake_resp_header(r, "Retry-After"), "900");
    fake_req_free(r);
    assert_int_equal(failures(), 5);
    /* a session cookie from that address is refused too */
    assert_int_equal(fake_store_count(ADM_COLL_LOCKOUTS), 1);

    /* other addresses are not affected */
    assert_int_equal(status_with_query_pass("203.0.113.8", PASS), 200);
    /* the lock lifts after ADMIN_LOCKOUT_S */
    fake.now_ms += 900 * 1000;
    assert_int_equal(status_with_query_pass("203.0.113.7", PASS), 200);
}

static void lockout__failures_spread_over_minutes__no_lock(void **s)
{
    for (int i = 0; i < 5; i++) {
        assert_int_equal(status_with_query_pass("203.0.113.9", "guess"), 401);
        fake.now_ms += 20 * 1000;
    }
    assert_int_equal(status_with_query_pass("203.0.113.9", PASS), 200);
    assert_int_equal(fake_store_count(ADM_COLL_LOCKOUTS), 0);
}

static void lockout__configurable_duration(void **s)
{
    restart("ADMIN_LOCKOUT_S", "60");
    for (int i = 0; i < 5; i++)
        status_with_query_pass("198.51.100.1", "guess");
    mq_req *r = req("GET", "/admin/status", "198.51.100.1");
    fake_req_header(r, "Authorization", "Bearer " PASS);
    assert_int_equal(run(r, "/admin/status")->status, 429);
    assert_string_equal(fake_resp_header(r, "Retry-After"), "60");
    fake_req_free(r);
}

/* ---- the allowlist -------------------------------------------------------------------------- */

static void allowlist__outside__403_not_counted_inside__200(void **s)
{
    restart("ADMIN_ALLOW_CIDRS", "10.0.0.0/8, 127.0.0.1");
    assert_int_equal(status_with_query_pass("192.168.1.5", PASS), 403);
    assert_int_equal(status_with_query_pass("192.168.1.5", "guess"), 403);
    assert_int_equal(failures(), 0);
    assert_int_equal(status_with_query_pass("10.20.30.40", PASS), 200);
    assert_int_equal(status_with_query_pass("127.0.0.1", PASS), 200);
    /* the login form and unknown paths too */
    mq_req *r = req("POST", "/admin/login", "192.168.1.5");
    r->body = "pass=" PASS;
    assert_int_equal(run(r, "/admin/login")->status, 403);
    fake_req_free(r);
    r = req("GET", "/admin/nope", "192.168.1.5");
    assert_int_equal(run(r, "/admin/*rest")->status, 403);
    fake_req_free(r);
}

static void allowlist__unparsable__everyone_403_and_warned(void **s)
{
    restart("ADMIN_ALLOW_CIDRS", "10.0.0.0/99");
    assert_true(fake_logs_contain("ADMIN_ALLOW_CIDRS\" does not parse"));
    assert_int_equal(status_with_query_pass("127.0.0.1", PASS), 403);
}

/* ---- unknown paths, and the password never shown -------------------------------------------- */

static void unknown_path__gate_first_then_404(void **s)
{
    mq_req *r = req("GET", "/admin/secret", NULL);
    assert_int_equal(run(r, "/admin/*rest")->status, 401);
    fake_req_free(r);
    r = req("GET", "/admin/secret", NULL);
    fake_req_header(r, "Authorization", "Bearer " PASS);
    assert_int_equal(run(r, "/admin/*rest")->status, 404);
    fake_req_free(r);
}

static void password__never_in_logs_pages_or_headers(void **s)
{
    const char *paths[] = {"/admin/status", "/admin/logs", "/admin/files", "/admin/coupons"};
    for (int i = 0; i < 4; i++) {
        mq_req *r = req("GET", paths[i], NULL);
        fake_req_header(r, "Authorization", BASIC_OK);
        run(r, paths[i]);
        assert_int_equal(r->status, 200);
        assert_null(strstr(r->resp_body, PASS));
        for (size_t h = 0; h < r->nresp_headers; h++)
            assert_null(strstr(r->resp_headers[h][1], PASS));
        fake_req_free(r);
    }
    status_with_query_pass("127.0.0.1", PASS "x");
    mq_req *r = post_login("pass=" PASS "&next=%2Fadmin");
    for (size_t h = 0; h < r->nresp_headers; h++)
        assert_null(strstr(r->resp_headers[h][1], PASS));
    fake_req_free(r);
    assert_false(fake_logs_contain(PASS));
    for (size_t i = 0; i < fake.nrecords; i++)
        assert_null(strstr(fake.records[i].json, PASS));
}

static void safe_next__only_admin_paths(void **s)
{
    assert_true(mq_admin_safe_next("/admin"));
    assert_true(mq_admin_safe_next("/admin/logs?provider=kakao"));
    assert_false(mq_admin_safe_next("/adminx"));
    assert_false(mq_admin_safe_next("//evil.example/admin"));
    assert_false(mq_admin_safe_next("/admin//evil"));
    assert_false(mq_admin_safe_next("/admin\\x"));
    assert_false(mq_admin_safe_next("https://evil.example/admin"));
    assert_false(mq_admin_safe_next("/admin/\r\nSet-Cookie: x"));
    assert_false(mq_admin_safe_next(NULL));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(no_admin_pass__no_routes_every_path_404),
        T(empty_admin_pass__admin_off),
        T(short_admin_pass__warned_not_printed),
        T(no_credential__401_login_page_not_counted),
        T(wrong_query_pass__401_counted_logged_without_password),
        T(right_query_pass_on_page__session_cookie_and_303_without_pass),
        T(right_query_pass_for_json__answered_without_session),
        T(bearer__right_200_wrong_401),
        T(basic__any_user_right_password_200),
        T(basic__wrong_or_malformed_401_counted),
        T(other_auth_scheme__ignored_falls_back_to_query),
        T(session__expires_after_12_hours),
        T(session__unknown_or_malformed_cookie__401_not_counted),
        T(session__secure_cookie_behind_https),
        T(session__logout_ends_it),
        T(login_form__right__cookie_and_303_to_next),
        T(login_form__foreign_next__goes_to_status),
        T(login_form__wrong__401_counted),
        T(login_form__foreign_origin__403),
        T(lockout__fifth_failure_in_a_minute__429_even_with_right_password),
        T(lockout__failures_spread_over_minutes__no_lock),
        T(lockout__configurable_duration),
        T(allowlist__outside__403_not_counted_inside__200),
        T(allowlist__unparsable__everyone_403_and_warned),
        T(unknown_path__gate_first_then_404),
        T(password__never_in_logs_pages_or_headers),
        T(safe_next__only_admin_paths),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
