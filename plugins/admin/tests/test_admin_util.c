/*
 * test_admin_util.c -- CSV and HTML escaping, form bodies, base64 and
 * Korean time (util.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adm.h"
#include "fake_api.h"

static char *csv(const char *s)
{
    adm_buf b = {0};
    mq_admin_buf_csv(&b, s);
    return mq_admin_buf_take(&b);
}

static void assert_csv(const char *in, const char *want)
{
    char *got = csv(in);
    assert_string_equal(got, want);
    free(got);
}

static void csv__plain_text__unquoted(void **s)
{
    assert_csv("kakao", "kakao");
    assert_csv("MQ20261127140501abcdef0123", "MQ20261127140501abcdef0123");
    assert_csv("", "");
    assert_csv(NULL, "");
}

static void csv__comma__quoted(void **s)
{
    assert_csv("a,b", "\"a,b\"");
}

static void csv__quotes__doubled_inside_quotes(void **s)
{
    assert_csv("say \"hi\"", "\"say \"\"hi\"\"\"");
    assert_csv("\"", "\"\"\"\"");
}

static void csv__newlines__kept_inside_quotes(void **s)
{
    assert_csv("line1\nline2", "\"line1\nline2\"");
    assert_csv("a\r\nb", "\"a\r\nb\"");
}

static void csv__korean__bytes_unchanged(void **s)
{
    assert_csv("카드 한도 초과", "카드 한도 초과");
    assert_csv("한도, \"초과\"\n다음 줄", "\"한도, \"\"초과\"\"\n다음 줄\"");
}

static void csv__formula_start__apostrophe_and_quoted(void **s)
{
    assert_csv("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_csv("+1+2", "\"'+1+2\"");
    assert_csv("@SUM(A1)", "\"'@SUM(A1)\"");
    assert_csv("-x", "\"'-x\"");
    /* plain numbers stay numbers */
    assert_csv("-5", "-5");
    assert_csv("3900", "3900");
}

static void csv__leading_or_trailing_space__quoted(void **s)
{
    assert_csv(" x", "\" x\"");
    assert_csv("x ", "\"x \"");
}

static void html__specials__entities(void **s)
{
    adm_buf b = {0};
    mq_admin_buf_html(&b, "<script>alert('x')</script> & \"q\"");
    assert_string_equal(b.data,
                        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
    mq_admin_buf_cleanup(&b);
    mq_admin_buf_html(&b, "한국어");
    assert_string_equal(b.data, "한국어");
    mq_admin_buf_cleanup(&b);
}

static void form__pairs__decoded(void **s)
{
    adm_form f;
    const char *body = "order=MQ1&reason=%ED%99%98%EB%B6%88+%EC%9A%94%EC%B2%AD%2C+%22x%22&"
                       "empty=&flag&csrf=abc";
    assert_int_equal(mq_admin_form_parse(&f, body, strlen(body)), MQ_OK);
    assert_string_equal(mq_admin_form_get(&f, "order"), "MQ1");
    assert_string_equal(mq_admin_form_get(&f, "reason"), "환불 요청, \"x\"");
    assert_string_equal(mq_admin_form_get(&f, "empty"), "");
    assert_string_equal(mq_admin_form_get(&f, "flag"), "");
    assert_string_equal(mq_admin_form_get(&f, "csrf"), "abc");
    assert_null(mq_admin_form_get(&f, "missing"));
    mq_admin_form_cleanup(&f);
}

static void form__nul_or_truncated_escape__dropped_or_literal(void **s)
{
    adm_form f;
    const char *body = "a=x%00y&b=50%&c=%4";
    assert_int_equal(mq_admin_form_parse(&f, body, strlen(body)), MQ_OK);
    assert_null(mq_admin_form_get(&f, "a"));
    assert_string_equal(mq_admin_form_get(&f, "b"), "50%");
    assert_string_equal(mq_admin_form_get(&f, "c"), "%4");
    mq_admin_form_cleanup(&f);
}

static void base64__basic_credentials__decoded(void **s)
{
    char out[64];
    assert_int_equal(mq_admin_base64_decode("YWRtaW46czNjcjN0", out, sizeof out), 12);
    assert_string_equal(out, "admin:s3cr3t");
    assert_int_equal(mq_admin_base64_decode("Og==", out, sizeof out), 1);
    assert_string_equal(out, ":");
    assert_int_equal(mq_admin_base64_decode("not base64!", out, sizeof out), -1);
    assert_int_equal(mq_admin_base64_decode("QUJDREVGR0g=", out, 4), -1); /* too long */
}

static void time__iso_date__korean_midnight(void **s)
{
    int64_t ms = 0;
    int date_only = 0;
    assert_int_equal(mq_admin_parse_time("2026-11-27", &ms, &date_only), 0);
    assert_true(date_only);
    /* 2026-11-27 00:00 KST = 2026-11-26 15:00 UTC */
    assert_int_equal(ms, 1795705200000LL);
}

static void time__datetime_forms__same_instant(void **s)
{
    int64_t a = 0, b = 0, c = 0, d = 0, e = 0;
    assert_int_equal(mq_admin_parse_time("2026-11-27T14:05", &a, NULL), 0);
    assert_int_equal(mq_admin_parse_time("2026-11-27 14:05:00", &b, NULL), 0);
    assert_int_equal(mq_admin_parse_time("2026-11-27T05:05:00Z", &c, NULL), 0);
    assert_int_equal(mq_admin_parse_time("2026-11-27T14:05+09:00", &d, NULL), 0);
    assert_int_equal(mq_admin_parse_time("1795755900", &e, NULL), 0);
    assert_int_equal(a, 1795755900000LL);
    assert_int_equal(b, a);
    assert_int_equal(c, a);
    assert_int_equal(d, a);
    assert_int_equal(e, a);
    assert_int_equal(mq_admin_parse_time("1795755900000", &e, NULL), 0);
    assert_int_equal(e, a);
}

static void time__garbage__rejected(void **s)
{
    int64_t ms;
    const char *bad[] = {"",
                         "yesterday",
                         "2026-13-01",
                         "2026-02-30",
                         "2026-11-27T25:00",
                         "2026-11-27X",
                         "2026-11-27T14:05+99",
                         "12345678901234567",
                         NULL};
    for (const char **b = bad; *b; b++)
        assert_int_equal(mq_admin_parse_time(*b, &ms, NULL), -1);
}

static void time__format__korean_time(void **s)
{
    char out[32];
    mq_admin_fmt_kst(1795755900000LL, out, sizeof out);
    assert_string_equal(out, "2026-11-27 14:05:00");
    mq_admin_fmt_kst(0, out, sizeof out);
    assert_string_equal(out, "");
    /* 2026-11-27 15:30 UTC is already 2026-11-28 (00:30) in Korea */
    assert_int_equal(mq_admin_kst_day_start(1795793400000LL), 1795705200000LL + 86400000LL);
    assert_int_equal(mq_admin_kst_day_start(1795705200000LL), 1795705200000LL);
    assert_int_equal(mq_admin_kst_day_start(1795705199999LL), 1795705200000LL - 86400000LL);
}

static void age__units__korean(void **s)
{
    char out[40];
    mq_admin_fmt_age(12, out, sizeof out);
    assert_string_equal(out, "12초");
    mq_admin_fmt_age(300, out, sizeof out);
    assert_string_equal(out, "5분");
    mq_admin_fmt_age(3 * 3600 + 120, out, sizeof out);
    assert_string_equal(out, "3시간 2분");
    mq_admin_fmt_age(2 * 86400 + 3 * 3600, out, sizeof out);
    assert_string_equal(out, "2일 3시간");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv__plain_text__unquoted),
        cmocka_unit_test(csv__comma__quoted),
        cmocka_unit_test(csv__quotes__doubled_inside_quotes),
        cmocka_unit_test(csv__newlines__kept_inside_quotes),
        cmocka_unit_test(csv__korean__bytes_unchanged),
        cmocka_unit_test(csv__formula_start__apostrophe_and_quoted),
        cmocka_unit_test(csv__leading_or_trailing_space__quoted),
        cmocka_unit_test(html__specials__entities),
        cmocka_unit_test(form__pairs__decoded),
        cmocka_unit_test(form__nul_or_truncated_escape__dropped_or_literal),
        cmocka_unit_test(base64__basic_credentials__decoded),
        cmocka_unit_test(time__iso_date__korean_midnight),
        cmocka_unit_test(time__datetime_forms__same_instant),
        cmocka_unit_test(time__garbage__rejected),
        cmocka_unit_test(time__format__korean_time),
        cmocka_unit_test(age__units__korean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
