/*
 * test_quiz_escape.c -- the context escapers with hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qbuf.h"

typedef void (*esc_fn)(mq_quiz_buf *, const char *, size_t);

/* Escape s with fn; returns a static-lifetime copy owned by the test (freed at exit). */
static char *esc(esc_fn fn, const char *s, size_t n)
{
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    fn(&b, s, n);
    assert_false(b.oom);
    char *out = mq_quiz_buf_take(&b, NULL);
    assert_non_null(out);
    return out;
}

#define ESC(fn, lit) esc(fn, lit, sizeof(lit) - 1)

static void check(esc_fn fn, const char *in, size_t n, const char *want)
{
    char *got = esc(fn, in, n);
    assert_string_equal(got, want);
    free(got);
}

static void html__markup_characters__become_entities(void **state)
{
    check(mq_quiz_esc_html, "<script>alert('x')</script>&\"", 29,
          "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#34;");
}

static void html__korean_text__passes_unchanged(void **state)
{
    const char *s = "나의 여행 스타일 <b>";
    check(mq_quiz_esc_html, s, strlen(s), "나의 여행 스타일 &lt;b&gt;");
}

static void html__nul_and_invalid_utf8__become_replacement_char(void **state)
{
    /* NUL, a lone continuation byte, an overlong '<' (C0 BC), a surrogate (ED A0 80) */
    const char in[] = "a\0b\x80"
                      "c\xc0\xbc"
                      "d\xed\xa0\x80"
                      "e";
    char *got = esc(mq_quiz_esc_html, in, sizeof in - 1);
    assert_string_equal(got, "a\xef\xbf\xbd"
                             "b\xef\xbf\xbd"
                             "c\xef\xbf\xbd\xef\xbf\xbd"
                             "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             "e");
    assert_null(strchr(got, '<'));
    free(got);
}

static void html__truncated_multibyte_at_end__replaced(void **state)
{
    const char in[] = "\xea\xb0"; /* first two bytes of a three-byte Hangul syllable */
    check(mq_quiz_esc_html, in, 2, "\xef\xbf\xbd\xef\xbf\xbd");
}

static void attr__quotes_and_backtick__cannot_end_the_value(void **state)
{
    char *got = ESC(mq_quiz_esc_attr, "\" onmouseover=\"alert(1)\" x='`");
    assert_null(strchr(got, '"'));
    assert_null(strchr(got, '\''));
    assert_null(strchr(got, '`'));
    assert_string_equal(got, "&#34; onmouseover=&#34;alert(1)&#34; x=&#39;&#96;");
    free(got);
}

static void url__javascript_scheme__is_blocked(void **state)
{
    check(mq_quiz_esc_url, "javascript:alert(1)", 19, "#blocked");
    check(mq_quiz_esc_url, "JaVaScRiPt:alert(1)", 19, "#blocked");
    check(mq_quiz_esc_url, " javascript:alert(1)", 20, "#blocked");
    check(mq_quiz_esc_url, "java\tscript:alert(1)", 20, "#blocked");
    check(mq_quiz_esc_url, "data:text/html,<script>", 23, "#blocked");
    check(mq_quiz_esc_url, "vbscript:x", 10, "#blocked");
}

static void url__http_and_relative__pass_with_encoding(void **state)
{
    check(mq_quiz_esc_url, "https://mindquiz.app/app/result/abc?ref=r1&x=2", 46,
          "https://mindquiz.app/app/result/abc?ref=r1&amp;x=2");
    check(mq_quiz_esc_url, "/static/app.css", 15, "/static/app.css");
    check(mq_quiz_esc_url, "//cdn.example/x", 15, "//cdn.example/x");
    check(mq_quiz_esc_url, "mailto:a@b.c", 12, "mailto:a@b.c");
}

static void url__quotes_spaces_and_brackets__are_percent_encoded(void **state)
{
    char *got = ESC(mq_quiz_esc_url, "/a b\"c'd<e>f%zz%41");
    assert_string_equal(got, "/a%20b%22c&#39;d%3Ce%3Ef%25zz%41");
    free(got);
}

static void url__non_ascii__is_percent_encoded_utf8(void **state)
{
    const char *s = "/결과";
    check(mq_quiz_esc_url, s, strlen(s), "/%EA%B2%B0%EA%B3%BC");
}

static void url_part__everything_but_unreserved__is_encoded(void **state)
{
    check(mq_quiz_esc_url_part, "a/b?c=d&e#f g:h", 15, "a%2Fb%3Fc%3Dd%26e%23f%20g%3Ah");
    check(mq_quiz_esc_url_part, "safe-._~09AZaz", 14, "safe-._~09AZaz");
    check(mq_quiz_esc_url_part, "\"><script>", 10, "%22%3E%3Cscript%3E");
}

static void js_str__breakout_characters__are_hex_escaped(void **state)
{
    check(mq_quiz_esc_js_str, "'); alert(1); //", 16,
          "\\x27\\x29\\x3B alert\\x281\\x29\\x3B \\x2F\\x2F");
    check(mq_quiz_esc_js_str, "</script><b>", 12, "\\x3C\\x2Fscript\\x3E\\x3Cb\\x3E");
    check(mq_quiz_esc_js_str, "\"\\\n", 3, "\\x22\\x5C\\x0A");
}

static void js_str__line_separators__are_escaped(void **state)
{
    const char in[] = "a\xe2\x80\xa8"
                      "b\xe2\x80\xa9"
                      "c";
    check(mq_quiz_esc_js_str, in, sizeof in - 1, "a\\u2028b\\u2029c");
}

static void json__html_specials__are_unicode_escaped(void **state)
{
    check(mq_quiz_esc_json, "</script>\"\\\x01", 12, "\\u003c/script\\u003e\\\"\\\\\\u0001");
}

static void buf__printf_and_take__round_trip(void **state)
{
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        mq_quiz_buf_printf(&b, "%04d", i);
    assert_int_equal(b.len, 4000);
    mq_quiz_buf_reset(&b);
    assert_int_equal(b.len, 0);
    mq_quiz_buf_adds(&b, "x");
    size_t n = 0;
    char *s = mq_quiz_buf_take(&b, &n);
    assert_string_equal(s, "x");
    assert_int_equal(n, 1);
    free(s);
    mq_quiz_buf_cleanup(&b);
}

/* Random bytes in every escaper: the output never holds a character that
 * could end its context. A fixed seed keeps failures reproducible. */
static void random_input__never_breaks_out(void **state)
{
    unsigned seed = 12345;
    char in[64];
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof in);
        for (size_t i = 0; i < n; i++) {
            int r = rand_r(&seed) % 4;
            in[i] = (char)(r == 0   ? "<>\"'`&%:/\\\n=\0 "[rand_r(&seed) % 15]
                           : r == 1 ? 0x80 + rand_r(&seed) % 128
                                    : 0x20 + rand_r(&seed) % 95);
        }
        char *a = esc(mq_quiz_esc_attr, in, n);
        assert_true(strpbrk(a, "<>\"'`") == NULL);
        free(a);
        char *u = esc(mq_quiz_esc_url, in, n);
        assert_true(strpbrk(u, "<>\"'` \\") == NULL);
        free(u);
        char *p = esc(mq_quiz_esc_url_part, in, n);
        for (const char *c = p; *c; c++)
            assert_true(
                strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%", *c));
        free(p);
        char *j = esc(mq_quiz_esc_js_str, in, n);
        assert_true(strpbrk(j, "<>\"'`/\n\r") == NULL);
        free(j);
        char *h = esc(mq_quiz_esc_html, in, n);
        assert_true(strpbrk(h, "<>\"'") == NULL);
        free(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(html__markup_characters__become_entities),
        cmocka_unit_test(html__korean_text__passes_unchanged),
        cmocka_unit_test(html__nul_and_invalid_utf8__become_replacement_char),
        cmocka_unit_test(html__truncated_multibyte_at_end__replaced),
        cmocka_unit_test(attr__quotes_and_backtick__cannot_end_the_value),
        cmocka_unit_test(url__javascript_scheme__is_blocked),
        cmocka_unit_test(url__http_and_relative__pass_with_encoding),
        cmocka_unit_test(url__quotes_spaces_and_brackets__are_percent_encoded),
        cmocka_unit_test(url__non_ascii__is_percent_encoded_utf8),
        cmocka_unit_test(url_part__everything_but_unreserved__is_encoded),
        cmocka_unit_test(js_str__breakout_characters__are_hex_escaped),
        cmocka_unit_test(js_str__line_separators__are_escaped),
        cmocka_unit_test(json__html_specials__are_unicode_escaped),
        cmocka_unit_test(buf__printf_and_take__round_trip),
        cmocka_unit_test(random_input__never_breaks_out),
    };
    return cmocka_run_group_tests_name("quiz_escape", tests, NULL, NULL);
}
