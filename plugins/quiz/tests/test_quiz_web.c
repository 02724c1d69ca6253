/*
 * test_quiz_web.c -- the CSP, config values, request bodies and CSP
 * report parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web.h"

static char *policy(int ga4, int frame)
{
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_csp_policy(&b, ga4, "0123456789abcdef0123456789abcdef", frame);
    return mq_quiz_buf_take(&b, NULL);
}

static void csp__without_ga4__is_self_and_nonce_only(void **state)
{
    char *p = policy(0, 1);
    assert_string_equal(
        p, "default-src 'self'; script-src 'self' 'nonce-0123456789abcdef0123456789abcdef'; "
           "style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
           "object-src 'none'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'; report-uri /api/csp-report");
    assert_null(strstr(p, "unsafe-inline"));
    assert_null(strstr(p, "google"));
    free(p);
}

static void csp__with_ga4__adds_exactly_the_google_hosts(void **state)
{
    char *p = policy(1, 0);
    assert_non_null(strstr(p, "script-src 'self' 'nonce-0123456789abcdef0123456789abcdef' "
                              "https://*.googletagmanager.com;"));
    assert_non_null(strstr(p, "img-src 'self' data: https://*.google-analytics.com "
                              "https://*.googletagmanager.com;"));
    assert_non_null(strstr(p, "connect-src 'self' https://*.google-analytics.com "
                              "https://*.analytics.google.com https://*.googletagmanager.com;"));
    assert_null(strstr(p, "frame-ancestors")); /* report-only mode sends it separately */
    assert_null(strstr(p, "unsafe"));
    free(p);
}

static void ga4_ids__validated(void **state)
{
    assert_true(mq_quiz_ga4_id_valid("G-ABC123XYZ9"));
    assert_false(mq_quiz_ga4_id_valid("UA-1234-1"));
    assert_false(mq_quiz_ga4_id_valid("G-abc123"));
    assert_false(mq_quiz_ga4_id_valid("G-12"));
    assert_false(mq_quiz_ga4_id_valid("G-ABC123');alert(1)//"));
    assert_false(mq_quiz_ga4_id_valid(NULL));
}

static void config_values__parsed_like_payments(void **state)
{
    int bad;
    assert_int_equal(mq_quiz_csp_mode(NULL, &bad), 0);
    assert_int_equal(mq_quiz_csp_mode("enforce", &bad), 1);
    assert_int_equal(mq_quiz_csp_mode("Report-Only", &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(mq_quiz_csp_mode("block", &bad), 0);
    assert_int_equal(bad, 1);
    assert_int_equal(mq_quiz_switch(NULL, &bad), 1);
    assert_int_equal(mq_quiz_switch("0", &bad), 0);
    assert_int_equal(mq_quiz_switch("off", &bad), 0);
    assert_int_equal(mq_quiz_switch("TRUE", &bad), 1);
    assert_int_equal(mq_quiz_switch("maybe", &bad), 0);
    assert_int_equal(bad, 1);
    assert_true(mq_quiz_number("12.5", 3, 1, 100, &bad) == 12.5 && !bad);
    assert_true(mq_quiz_number("0", 3, 1, 100, &bad) == 3 && bad);
    assert_true(mq_quiz_number("x", 3, 1, 100, &bad) == 3 && bad);
}

static void base_url__normalized_or_refused(void **state)
{
    char out[128];
    assert_int_equal(mq_quiz_base_url("https://mindquiz.app/", out, sizeof out), 0);
    assert_string_equal(out, "https://mindquiz.app");
    assert_int_equal(mq_quiz_base_url("http://127.0.0.1:8080", out, sizeof out), 0);
    assert_string_equal(out, "http://127.0.0.1:8080");
    const char *bad[] = {NULL,
                         "",
                         "mindquiz.app",
                         "ftp://x",
                         "https://",
                         "https:///x",
                         "https://a b",
                         "https://a\"b",
                         "https://a?x=1",
                         "https://a#f",
                         "javascript:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mq_quiz_base_url(bad[i], out, sizeof out), -1);
}

static void price__grouped_with_won(void **state)
{
    char out[32];
    mq_quiz_price_text(3900, out, sizeof out);
    assert_string_equal(out, "3,900원");
    mq_quiz_price_text(1234567, out, sizeof out);
    assert_string_equal(out, "1,234,567원");
    mq_quiz_price_text(500, out, sizeof out);
    assert_string_equal(out, "500원");
}

static void form_answers__complete_incomplete_and_bad(void **state)
{
    int a[3];
    const char *ok = "q0=1&q2=0&csrf=x&q1=3&q9=7";
    assert_int_equal(mq_quiz_form_answers(ok, strlen(ok), a, 3), MQ_QUIZ_ANS_OK);
    assert_int_equal(a[0], 1);
    assert_int_equal(a[1], 3);
    assert_int_equal(a[2], 0);
    const char *part = "q0=1&q1=2";
    assert_int_equal(mq_quiz_form_answers(part, strlen(part), a, 3), MQ_QUIZ_ANS_INCOMPLETE);
    assert_int_equal(a[2], -1);
    const char *enc = "q%30=1&q1=%32&q2=0";
    assert_int_equal(mq_quiz_form_answers(enc, strlen(enc), a, 3), MQ_QUIZ_ANS_OK);
    assert_int_equal(a[1], 2);
    const char *bad[] = {"q0=x&q1=1&q2=1", "q0=1&q0=2&q1=1&q2=1", "q0=&q1=1&q2=1",
                         "q0&q1=1&q2=1",   "q0=-1&q1=1&q2=1",     "q0=99999&q1=1&q2=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mq_quiz_form_answers(bad[i], strlen(bad[i]), a, 3), MQ_QUIZ_ANS_BAD);
    assert_int_equal(mq_quiz_form_answers("", 0, a, 3), MQ_QUIZ_ANS_INCOMPLETE);
}

static void json_answers__complete_incomplete_and_bad(void **state)
{
    int a[3];
    const char *ok = "{\"answers\":[2,0,1]}";
    assert_int_equal(mq_quiz_json_answers(ok, strlen(ok), a, 3), MQ_QUIZ_ANS_OK);
    assert_int_equal(a[0], 2);
    const char *part = "{\"answers\":[2]}";
    assert_int_equal(mq_quiz_json_answers(part, strlen(part), a, 3), MQ_QUIZ_ANS_INCOMPLETE);
    const char *bad[] = {
        "{\"answers\":[1,2,3,4]}", "{\"answers\":[\"1\",2,3]}", "{\"answers\":{}}", "[1,2,3]", "{",
        "{\"answers\":[-1,0,0]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mq_quiz_json_answers(bad[i], strlen(bad[i]), a, 3), MQ_QUIZ_ANS_BAD);
}

static void wants_json__content_type_or_accept(void **state)
{
    assert_true(mq_quiz_wants_json("application/json; charset=utf-8", NULL));
    assert_true(mq_quiz_wants_json("application/x-www-form-urlencoded", "application/json"));
    assert_true(mq_quiz_wants_json(NULL, "application/problem+json, */*"));
    assert_false(mq_quiz_wants_json("application/x-www-form-urlencoded",
                                    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*"));
    assert_false(mq_quiz_wants_json(NULL, NULL));
    assert_false(mq_quiz_is_json_type("text/json-ish"));
}

static void csp_report__both_formats_counted(void **state)
{
    char dir[64], blocked[128];
    const char *legacy = "{\"csp-report\":{\"document-uri\":\"http://x/\",\"violated-directive\":"
                         "\"script-src-elem\",\"effective-directive\":\"script-src-elem\","
                         "\"blocked-uri\":\"inline\"}}";
    assert_int_equal(
        mq_quiz_csp_report_parse(legacy, strlen(legacy), dir, sizeof dir, blocked, sizeof blocked),
        1);
    assert_string_equal(dir, "script-src-elem");
    assert_string_equal(blocked, "inline");
    const char *api =
        "[{\"type\":\"csp-violation\",\"body\":{\"effectiveDirective\":\"img-src\","
        "\"blockedURL\":\"https://evil.example/\\u0007x\"}},{\"type\":\"deprecation\"},"
        "{\"type\":\"csp-violation\",\"body\":{}}]";
    assert_int_equal(
        mq_quiz_csp_report_parse(api, strlen(api), dir, sizeof dir, blocked, sizeof blocked), 2);
    assert_string_equal(dir, "img-src");
    assert_string_equal(blocked, "https://evil.example/?x");
    assert_int_equal(mq_quiz_csp_report_parse("{}", 2, dir, sizeof dir, blocked, sizeof blocked),
                     0);
    assert_int_equal(mq_quiz_csp_report_parse("nope", 4, dir, sizeof dir, blocked, sizeof blocked),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csp__without_ga4__is_self_and_nonce_only),
        cmocka_unit_test(csp__with_ga4__adds_exactly_the_google_hosts),
        cmocka_unit_test(ga4_ids__validated),
        cmocka_unit_test(config_values__parsed_like_payments),
        cmocka_unit_test(base_url__normalized_or_refused),
        cmocka_unit_test(price__grouped_with_won),
        cmocka_unit_test(form_answers__complete_incomplete_and_bad),
        cmocka_unit_test(json_answers__complete_incomplete_and_bad),
        cmocka_unit_test(wants_json__content_type_or_accept),
        cmocka_unit_test(csp_report__both_formats_counted),
    };
    return cmocka_run_group_tests_name("quiz_web", tests, NULL, NULL);
}
