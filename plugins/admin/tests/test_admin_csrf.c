/*
 * test_admin_csrf.c -- POST protection (auth.c): an ambient credential (the
 * session cookie, a cached Basic password) needs the page's CSRF token;
 * Bearer and ?pass= do not (a foreign page cannot attach them); a foreign
 * Origin or Referer is refused whatever the credential. The action used
 * is "take a backup now": the fake counts its calls.
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
#define BASIC_OK "Basic b3BzOmNvcnJlY3QtaG9yc2UtYmF0dGVyeQ=="

static const char host_status[] =
    "{\"version\":\"0.1.0\",\"commit\":\"abc\",\"uptime_s\":5,\"release\":\"r1\",\"generation\":1,"
    "\"plugins\":[],\"reloads\":[],\"store\":{\"failed\":false,\"collections\":[]},"
    "\"data_files\":[],\"last_backup_unix\":0}";

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
    return 0;
}

/* A session: its cookie header ("mq_admin=<id>") and its token. */
static void session(char cookie[80], char csrf[65])
{
    mq_req *r = fake_req_new("GET", "/admin/files");
    fake_req_query(r, "pass", PASS);
    fake_dispatch("GET", "/admin/files", r);
    assert_int_equal(r->status, 303);
    snprintf(cookie, 80, "%.73s", fake_resp_header(r, "Set-Cookie"));
    fake_req_free(r);
    assert_int_equal(mq_admin_csrf_for_session(st, cookie + 9, csrf), MQ_OK);
}

typedef struct post {
    const char *cookie, *auth, *body, *origin, *referer, *csrf_header, *pass;
} post;

static int backup_post(post p)
{
    mq_req *r = fake_req_new("POST", "/admin/actions/backup");
    fake_req_header(r, "Host", "127.0.0.1:8080");
    if (p.cookie)
        fake_req_header(r, "Cookie", p.cookie);
    if (p.auth)
        fake_req_header(r, "Authorization", p.auth);
    if (p.origin)
        fake_req_header(r, "Origin", p.origin);
    if (p.referer)
        fake_req_header(r, "Referer", p.referer);
    if (p.csrf_header)
        fake_req_header(r, "X-CSRF-Token", p.csrf_header);
    if (p.pass)
        fake_req_query(r, "pass", p.pass);
    r->body = p.body;
    fake_dispatch("POST", "/admin/actions/backup", r);
    assert_int_equal(r->answered, 1);
    int status = r->status;
    fake_req_free(r);
    return status;
}

static void session__no_token__403_nothing_done(void **s)
{
    char cookie[80], csrf[65];
    session(cookie, csrf);
    assert_int_equal(backup_post((post){.cookie = cookie}), 403);
    assert_int_equal(backup_post((post){.cookie = cookie, .body = "csrf="}), 403);
    assert_int_equal(backup_post((post){.cookie = cookie, .body = "csrf=deadbeef"}), 403);
    assert_int_equal(fake.backup_calls, 0);
    assert_true(fake_logs_contain("refused: bad CSRF token"));
    assert_int_equal(fake_metric("admin_actions_total", "backup,ok"), 0);
}

static void session__right_token_in_form_or_header__done(void **s)
{
    char cookie[80], csrf[65], body[100];
    session(cookie, csrf);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    assert_int_equal(backup_post((post){.cookie = cookie, .body = body}), 202);
    assert_int_equal(backup_post((post){.cookie = cookie, .csrf_header = csrf}), 202);
    assert_int_equal(fake.backup_calls, 2);
}

static void session__token_of_another_session__403(void **s)
{
    char a[80], csrf_a[65], b[80], csrf_b[65], body[100];
    session(a, csrf_a);
    session(b, csrf_b);
    assert_string_not_equal(csrf_a, csrf_b);
    snprintf(body, sizeof body, "csrf=%s", csrf_a);
    assert_int_equal(backup_post((post){.cookie = b, .body = body}), 403);
    assert_int_equal(fake.backup_calls, 0);
}

static void session__token_survives_reload(void **s)
{
    char cookie[80], csrf[65], body[100];
    session(cookie, csrf);
    /* A new generation: same store (the fake's records stay), new state. */
    fake_plugin_fini(st);
    fake.nroutes = 0;
    int rc = -1;
    st = fake_plugin_init(&rc);
    assert_int_equal(rc, MQ_OK);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    assert_int_equal(backup_post((post){.cookie = cookie, .body = body}), 202);
}

static void page__embeds_the_session_token(void **s)
{
    char cookie[80], csrf[65], want[120];
    session(cookie, csrf);
    mq_req *r = fake_req_new("GET", "/admin/files");
    fake_req_header(r, "Cookie", cookie);
    fake_dispatch("GET", "/admin/files", r);
    assert_int_equal(r->status, 200);
    snprintf(want, sizeof want, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", csrf);
    assert_non_null(strstr(r->resp_body, want));
    assert_non_null(strstr(r->resp_body, "action=\"/admin/actions/backup\""));
    fake_req_free(r);
}

static void basic__ambient_needs_the_generation_token(void **s)
{
    char csrf[65], body[100];
    assert_int_equal(backup_post((post){.auth = BASIC_OK}), 403);
    assert_int_equal(mq_admin_csrf_for_basic(st, csrf), MQ_OK);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    assert_int_equal(backup_post((post){.auth = BASIC_OK, .body = body}), 202);
    /* the page a Basic user sees carries that token */
    mq_req *r = fake_req_new("GET", "/admin/files");
    fake_req_header(r, "Authorization", BASIC_OK);
    fake_dispatch("GET", "/admin/files", r);
    assert_non_null(strstr(r->resp_body, csrf));
    fake_req_free(r);
    /* a new generation has a new key */
    fake_plugin_fini(st);
    fake.nroutes = 0;
    int rc = -1;
    st = fake_plugin_init(&rc);
    assert_int_equal(backup_post((post){.auth = BASIC_OK, .body = body}), 403);
}

static void bearer_and_query_pass__explicit__no_token_needed(void **s)
{
    assert_int_equal(backup_post((post){.auth = "Bearer " PASS}), 202);
    assert_int_equal(backup_post((post){.pass = PASS}), 202);
    assert_int_equal(fake.backup_calls, 2);
    /* and a wrong one is still a failed login */
    assert_int_equal(backup_post((post){.auth = "Bearer nope"}), 401);
    assert_int_equal(fake.backup_calls, 2);
}

static void origin__foreign__403_whatever_the_credential(void **s)
{
    char cookie[80], csrf[65], body[100];
    session(cookie, csrf);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    assert_int_equal(
        backup_post((post){.cookie = cookie, .body = body, .origin = "https://evil.example"}), 403);
    assert_int_equal(backup_post((post){.auth = "Bearer " PASS, .origin = "null"}), 403);
    assert_int_equal(
        backup_post((post){.auth = "Bearer " PASS, .referer = "https://evil.example/admin/files"}),
        403);
    assert_int_equal(
        backup_post((post){.auth = "Bearer " PASS, .origin = "http://127.0.0.1:8080.evil.example"}),
        403);
    assert_int_equal(fake.backup_calls, 0);
    assert_true(fake_logs_contain("refused: foreign Origin/Referer"));
}

static void origin__same_site__allowed(void **s)
{
    char cookie[80], csrf[65], body[100];
    session(cookie, csrf);
    snprintf(body, sizeof body, "csrf=%s", csrf);
    assert_int_equal(
        backup_post((post){.cookie = cookie, .body = body, .origin = "http://127.0.0.1:8080"}),
        202);
    assert_int_equal(
        backup_post(
            (post){.cookie = cookie, .body = body, .referer = "http://127.0.0.1:8080/admin/files"}),
        202);
}

static void origin__public_base_url__allowed_behind_proxy(void **s)
{
    fake_plugin_fini(st);
    start("PUBLIC_BASE_URL", "https://MindQuiz.app/");
    assert_int_equal(backup_post((post){.auth = "Bearer " PASS, .origin = "https://mindquiz.app"}),
                     202);
    assert_int_equal(backup_post((post){.auth = "Bearer " PASS, .origin = "http://mindquiz.app"}),
                     403);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(session__no_token__403_nothing_done),
        T(session__right_token_in_form_or_header__done),
        T(session__token_of_another_session__403),
        T(session__token_survives_reload),
        T(page__embeds_the_session_token),
        T(basic__ambient_needs_the_generation_token),
        T(bearer_and_query_pass__explicit__no_token_needed),
        T(origin__foreign__403_whatever_the_credential),
        T(origin__same_site__allowed),
        T(origin__public_base_url__allowed_behind_proxy),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
