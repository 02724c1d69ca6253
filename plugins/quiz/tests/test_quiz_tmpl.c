/*
 * test_quiz_tmpl.c -- the template engine: context detection, escaping of
 * hostile values in every context, refused templates, blocks, partials.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tmpl.h"

enum { X, Y, FLAG, ITEMS, NAME, NSYMS };
static const char *const syms[] = {"x", "y", "flag", "items", "name"};

/* A hostile value: it tries to leave every context it could land in. */
#define HOSTILE "\"'><script>alert(1)</script><img src=x onerror=alert(2)>javascript:alert(3)"

static mq_quiz_tmpl_set *set_with(const char *name, const char *text)
{
    mq_quiz_tmpl_set *s = mq_quiz_tmpl_set_new(syms, NSYMS);
    char err[256];
    assert_non_null(s);
    if (mq_quiz_tmpl_add(s, name, text, strlen(text), err, sizeof err) != 0)
        fail_msg("template refused: %s", err);
    assert_int_equal(mq_quiz_tmpl_link(s, err, sizeof err), 0);
    return s;
}

/* Render `text` with x = xval (and y = yval); caller frees. */
static char *render2(const char *text, const char *xval, const char *yval)
{
    mq_quiz_tmpl_set *s = set_with("t", text);
    mq_quiz_tval v[NSYMS] = {{0}};
    if (xval)
        v[X] = mq_quiz_tv_str(xval, strlen(xval));
    if (yval)
        v[Y] = mq_quiz_tv_str(yval, strlen(yval));
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    assert_int_equal(mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "t"), v, &b), 0);
    mq_quiz_tmpl_set_free(s);
    char *out = mq_quiz_buf_take(&b, NULL);
    assert_non_null(out);
    return out;
}

static char *render(const char *text, const char *xval)
{
    return render2(text, xval, NULL);
}

static void expect(const char *text, const char *xval, const char *want)
{
    char *got = render(text, xval);
    assert_string_equal(got, want);
    free(got);
}

static void refused(const char *text, const char *why_part)
{
    mq_quiz_tmpl_set *s = mq_quiz_tmpl_set_new(syms, NSYMS);
    char err[256] = "";
    int rc = mq_quiz_tmpl_add(s, "bad", text, strlen(text), err, sizeof err);
    mq_quiz_tmpl_set_free(s);
    if (rc == 0)
        fail_msg("template was accepted: %s", text);
    if (why_part && !strstr(err, why_part))
        fail_msg("error \"%s\" does not mention \"%s\"", err, why_part);
}

/* ---- contexts ----------------------------------------------------------------------- */

static void text__hostile_value__is_entity_escaped(void **state)
{
    char *got = render("<p>{{x}}</p>", HOSTILE);
    assert_null(strstr(got, "<script"));
    assert_null(strstr(got, "<img"));
    assert_string_equal(got, "<p>&#34;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img "
                             "src=x onerror=alert(2)&gt;javascript:alert(3)</p>");
    free(got);
}

static void title__hostile_value__is_escaped_as_rcdata(void **state)
{
    expect("<title>{{x}}</title>", "</title><script>",
           "<title>&lt;/title&gt;&lt;script&gt;</title>");
}

static void attr__hostile_value__cannot_leave_quotes(void **state)
{
    char *got = render("<div title=\"{{x}}\" class='{{x}}'>", HOSTILE);
    /* Only the template's own four quotes remain. */
    size_t quotes = 0;
    for (const char *p = got; *p; p++)
        quotes += *p == '"' || *p == '\'';
    assert_int_equal(quotes, 4);
    assert_null(strchr(got + 1, '<'));
    free(got);
}

static void href__javascript_url__is_blocked(void **state)
{
    expect("<a href=\"{{x}}\">", "javascript:alert(1)", "<a href=\"#blocked\">");
    expect("<a href='{{x}}'>", " JAVASCRIPT:alert(1)", "<a href='#blocked'>");
    expect("<img src=\"{{x}}\">", "data:image/svg+xml,<svg onload=alert(1)>",
           "<img src=\"#blocked\">");
    expect("<form action=\"{{x}}\">", "https://mindquiz.app/x?a=1&b=2",
           "<form action=\"https://mindquiz.app/x?a=1&amp;b=2\">");
}

static void href__value_after_literal__is_a_url_component(void **state)
{
    expect("<a href=\"/app/quiz/{{x}}\">", "../../admin?x=\"><script>",
           "<a href=\"/app/quiz/..%2F..%2Fadmin%3Fx%3D%22%3E%3Cscript%3E\">");
    /* a prefix that is not a scheme yet cannot be completed into javascript: */
    expect("<a href=\"java{{x}}\">", "script:alert(1)", "<a href=\"javascript%3Aalert%281%29\">");
    char *got = render2("<a href=\"{{x}}?ref={{y}}\">", "/app/result/abc", "a&b=c d");
    assert_string_equal(got, "<a href=\"/app/result/abc?ref=a%26b%3Dc%20d\">");
    free(got);
}

static void url_filter__in_content_attribute__checks_scheme(void **state)
{
    expect("<meta property=\"og:image\" content=\"{{x|url}}\">", "javascript:alert(1)",
           "<meta property=\"og:image\" content=\"#blocked\">");
    expect("<meta property=\"og:url\" content=\"{{x|url}}\">", "https://m.app/a b\"",
           "<meta property=\"og:url\" content=\"https://m.app/a%20b%22\">");
}

static void script_string__hostile_value__is_js_escaped(void **state)
{
    expect("<script>gtag('config','{{x}}');</script>", "');alert(1);//</script>",
           "<script>gtag('config','\\x27\\x29\\x3Balert\\x281\\x29\\x3B\\x2F\\x2F\\x3C\\x2Fscript"
           "\\x3E');</script>");
    expect("<script>var a=\"{{x}}\";</script>", "\"\n", "<script>var a=\"\\x22\\x0A\";</script>");
}

static void script_src__is_a_url_attribute(void **state)
{
    expect("<script src=\"https://www.googletagmanager.com/gtag/js?id={{x}}\"></script>",
           "G-AB12\"><script>",
           "<script src=\"https://www.googletagmanager.com/gtag/js?id="
           "G-AB12%22%3E%3Cscript%3E\"></script>");
}

static void text_after_script__is_text_again(void **state)
{
    expect("<script>var s='</p>';</script><p>{{x}}</p>", "<b>",
           "<script>var s='</p>';</script><p>&lt;b&gt;</p>");
}

static void comments_and_doctype__do_not_confuse_context(void **state)
{
    expect("<!doctype html><!-- <a href=\" --><p>{{x}}</p>", "<i>",
           "<!doctype html><!-- <a href=\" --><p>&lt;i&gt;</p>");
}

/* ---- refused templates ------------------------------------------------------------------ */

static void unsafe_places__are_refused_at_parse_time(void **state)
{
    refused("<a href={{x}}>", "quoted");
    refused("<a title=x{{x}}>", "quoted");
    refused("<div onclick=\"go('{{x}}')\">", "event handler");
    refused("<div style=\"color:{{x}}\">", "style");
    refused("<iframe srcdoc=\"{{x}}\"></iframe>", "srcdoc");
    refused("<img srcset=\"{{x}}\">", "srcset");
    refused("<style>p{color:{{x}}}</style>", "style");
    refused("<script>var a={{x}};</script>", "string");
    refused("<script>var a=`{{x}}`;</script>", "string");
    refused("<script>// '{{x}}'\n</script>", "string");
    refused("<!-- {{x}} -->", "comment");
    refused("<{{x}}>", "tag");
    refused("<a {{x}}=\"1\">", "tag");
    refused("<p>{{x|url}}</p>", "attribute");
}

static void bad_syntax__is_refused_with_line(void **state)
{
    refused("<p>\n{{#if x}}\n", "line 2");
    refused("{{/if}}", "without an open block");
    refused("{{#if x}}{{/each}}", "closes");
    refused("{{nosuchname}}", "unknown name");
    refused("{{x|upper}}", "filter");
    refused("{{x", "unclosed");
    refused("{{else}}", "outside");
    refused("<a href=\"", "ends inside");
    refused("{{#if x}}<a href=\"{{/if}}", "different");
    refused("{{#each items}}<a title=\"{{/each}}", "another HTML context");
    refused("<p title=\"{{> part}}\">", "partial");
}

static void partials__unknown_and_cycles__are_refused_by_link(void **state)
{
    mq_quiz_tmpl_set *s = mq_quiz_tmpl_set_new(syms, NSYMS);
    char err[256];
    assert_int_equal(mq_quiz_tmpl_add(s, "a", "{{> b}}", 7, err, sizeof err), 0);
    assert_int_equal(mq_quiz_tmpl_add(s, "b", "{{> a}}", 7, err, sizeof err), 0);
    assert_int_not_equal(mq_quiz_tmpl_link(s, err, sizeof err), 0);
    assert_non_null(strstr(err, "cycle"));
    mq_quiz_tmpl_set_free(s);

    s = mq_quiz_tmpl_set_new(syms, NSYMS);
    assert_int_equal(mq_quiz_tmpl_add(s, "a", "{{> missing}}", 13, err, sizeof err), 0);
    assert_int_not_equal(mq_quiz_tmpl_link(s, err, sizeof err), 0);
    assert_non_null(strstr(err, "missing"));
    mq_quiz_tmpl_set_free(s);
}

/* ---- blocks, lists, partials, HTML values ---------------------------------------------------- */

static void if_else_unless__pick_branches(void **state)
{
    mq_quiz_tmpl_set *s = set_with(
        "t", "{{#if flag}}yes{{else}}no{{/if}}/{{#unless flag}}U{{/unless}}/{{#if x}}X{{/if}}");
    mq_quiz_tval v[NSYMS] = {{0}};
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "t"), v, &b);
    assert_string_equal(b.data, "no/U/");
    mq_quiz_buf_reset(&b);
    v[FLAG] = mq_quiz_tv_bool(1);
    v[X] = mq_quiz_tv_str("a", 1);
    mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "t"), v, &b);
    assert_string_equal(b.data, "yes//X");
    mq_quiz_buf_cleanup(&b);
    mq_quiz_tmpl_set_free(s);
}

static void each__items_shadow_outer_names(void **state)
{
    mq_quiz_tmpl_set *s =
        set_with("t", "<ul>{{#each items}}<li title=\"{{y}}\">{{x}}</li>{{/each}}</ul>");
    mq_quiz_tval items[3 * NSYMS] = {{0}}, v[NSYMS] = {{0}};
    items[0 * NSYMS + X] = mq_quiz_tv_str("<1>", 3);
    items[1 * NSYMS + X] = mq_quiz_tv_str("2", 1);
    items[1 * NSYMS + Y] = mq_quiz_tv_str("inner\"", 6);
    items[2 * NSYMS + X] = mq_quiz_tv_str("3", 1);
    v[ITEMS] = mq_quiz_tv_list(items, 3);
    v[Y] = mq_quiz_tv_str("outer", 5);
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "t"), v, &b);
    assert_string_equal(b.data,
                        "<ul><li title=\"outer\">&lt;1&gt;</li><li title=\"inner&#34;\">2</li>"
                        "<li title=\"outer\">3</li></ul>");
    mq_quiz_buf_cleanup(&b);
    mq_quiz_tmpl_set_free(s);
}

static void html_value__raw_in_text__escaped_in_attributes(void **state)
{
    mq_quiz_tmpl_set *s = set_with("t", "<div>{{x}}</div><a title=\"{{x}}\">");
    mq_quiz_tval v[NSYMS] = {{0}};
    v[X] = mq_quiz_tv_html("<b>hi</b>", 9);
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "t"), v, &b);
    assert_string_equal(b.data, "<div><b>hi</b></div><a title=\"&lt;b&gt;hi&lt;/b&gt;\">");
    mq_quiz_buf_cleanup(&b);
    mq_quiz_tmpl_set_free(s);
}

static void partial__renders_with_callers_names(void **state)
{
    mq_quiz_tmpl_set *s = mq_quiz_tmpl_set_new(syms, NSYMS);
    char err[256];
    const char *head = "<h1>{{name}}</h1>", *page = "{{> head}}<p>{{x}}</p>";
    assert_int_equal(mq_quiz_tmpl_add(s, "head", head, strlen(head), err, sizeof err), 0);
    assert_int_equal(mq_quiz_tmpl_add(s, "page", page, strlen(page), err, sizeof err), 0);
    assert_int_equal(mq_quiz_tmpl_link(s, err, sizeof err), 0);
    mq_quiz_tval v[NSYMS] = {{0}};
    v[NAME] = mq_quiz_tv_str("<퀴즈>", strlen("<퀴즈>"));
    v[X] = mq_quiz_tv_str("&", 1);
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "page"), v, &b);
    assert_string_equal(b.data, "<h1>&lt;퀴즈&gt;</h1><p>&amp;</p>");
    mq_quiz_buf_cleanup(&b);
    mq_quiz_tmpl_set_free(s);
}

static void whitespace_with_newlines__collapses_outside_raw_text(void **state)
{
    expect("<ul>\n    <li>{{x}}</li>\n\n   </ul>\n<script>\n  var a = '  ';\n</script>", "a",
           "<ul>\n<li>a</li>\n</ul>\n<script>\n  var a = '  ';\n</script>");
}

static void missing_values__render_empty(void **state)
{
    expect("<a href=\"{{x}}\" title=\"{{x}}\">{{x}}</a>", NULL, "<a href=\"\" title=\"\"></a>");
}

/* Random templates either load or are refused; none crashes, and what
 * loads renders (checked under ASan in the sanitizer build). */
static void random_templates__load_or_refuse_cleanly(void **state)
{
    static const char *const pieces[] = {"<a href=\"",
                                         "\"",
                                         "'",
                                         ">",
                                         "<",
                                         "{{x}}",
                                         "{{#if flag}}",
                                         "{{else}}",
                                         "{{/if}}",
                                         "{{#each items}}",
                                         "{{/each}}",
                                         "<script>",
                                         "</script>",
                                         "<!--",
                                         "-->",
                                         "<style>",
                                         " ",
                                         "\n",
                                         "title=",
                                         "{{",
                                         "}}",
                                         "{{> t}}",
                                         "x",
                                         "</"};
    unsigned seed = 777;
    int loaded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char text[512] = "";
        int parts = 1 + rand_r(&seed) % 12;
        for (int i = 0; i < parts; i++)
            strcat(text, pieces[rand_r(&seed) % (sizeof pieces / sizeof pieces[0])]);
        mq_quiz_tmpl_set *s = mq_quiz_tmpl_set_new(syms, NSYMS);
        char err[256];
        if (mq_quiz_tmpl_add(s, "t", text, strlen(text), err, sizeof err) == 0 &&
            mq_quiz_tmpl_link(s, err, sizeof err) == 0) {
            loaded++;
            mq_quiz_tval items[2 * NSYMS] = {{0}}, v[NSYMS] = {{0}};
            v[X] = mq_quiz_tv_str(HOSTILE, strlen(HOSTILE));
            v[FLAG] = mq_quiz_tv_bool(iter & 1);
            items[X] = v[X];
            v[ITEMS] = mq_quiz_tv_list(items, 2);
            mq_quiz_buf b;
            mq_quiz_buf_init(&b);
            assert_int_equal(mq_quiz_tmpl_render(s, mq_quiz_tmpl_get(s, "t"), v, &b), 0);
            if (b.data)
                assert_null(strstr(b.data, "<script>alert"));
            mq_quiz_buf_cleanup(&b);
        }
        mq_quiz_tmpl_set_free(s);
    }
    assert_true(loaded > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text__hostile_value__is_entity_escaped),
        cmocka_unit_test(title__hostile_value__is_escaped_as_rcdata),
        cmocka_unit_test(attr__hostile_value__cannot_leave_quotes),
        cmocka_unit_test(href__javascript_url__is_blocked),
        cmocka_unit_test(href__value_after_literal__is_a_url_component),
        cmocka_unit_test(url_filter__in_content_attribute__checks_scheme),
        cmocka_unit_test(script_string__hostile_value__is_js_escaped),
        cmocka_unit_test(script_src__is_a_url_attribute),
        cmocka_unit_test(text_after_script__is_text_again),
        cmocka_unit_test(comments_and_doctype__do_not_confuse_context),
        cmocka_unit_test(unsafe_places__are_refused_at_parse_time),
        cmocka_unit_test(bad_syntax__is_refused_with_line),
        cmocka_unit_test(partials__unknown_and_cycles__are_refused_by_link),
        cmocka_unit_test(if_else_unless__pick_branches),
        cmocka_unit_test(each__items_shadow_outer_names),
        cmocka_unit_test(html_value__raw_in_text__escaped_in_attributes),
        cmocka_unit_test(partial__renders_with_callers_names),
        cmocka_unit_test(whitespace_with_newlines__collapses_outside_raw_text),
        cmocka_unit_test(missing_values__render_empty),
        cmocka_unit_test(random_templates__load_or_refuse_cleanly),
    };
    return cmocka_run_group_tests_name("quiz_tmpl", tests, NULL, NULL);
}
