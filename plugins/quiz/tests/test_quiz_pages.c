/*
 * test_quiz_pages.c -- the shipped site (assets/) renders every page with
 * absolute Open Graph URLs, and a quiz with hostile names and texts renders
 * without a single markup character of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pages.h"

#define BASE "https://mq.test"
#define NONCE "00112233445566778899aabbccddeeff"

static mq_quiz_site *load_site(const char *assets, const char *ga4)
{
    mq_quiz_site *s = calloc(1, sizeof *s);
    char err[1024], warn[2048];
    mq_quiz_site_cfg cfg = {.base_url = BASE, .ga4_id = ga4, .price = 3900};
    if (mq_quiz_site_load(s, assets, &cfg, err, sizeof err, warn, sizeof warn) != 0)
        fail_msg("site load failed: %s", err);
    return s;
}

static void free_site(mq_quiz_site *s)
{
    mq_quiz_site_cleanup(s);
    free(s);
}

/* The value of <meta property|name="key" content="..."> in html (copied), or NULL. */
static char *meta(const char *html, const char *attr, const char *key)
{
    char needle[128];
    snprintf(needle, sizeof needle, "<meta %s=\"%s\" content=\"", attr, key);
    const char *p = strstr(html, needle);
    if (!p)
        return NULL;
    p += strlen(needle);
    const char *e = strchr(p, '"');
    return strndup(p, (size_t)(e - p));
}

static void expect_prefix(const char *html, const char *attr, const char *key, const char *prefix)
{
    char *v = meta(html, attr, key);
    if (!v)
        fail_msg("no <meta %s=\"%s\">", attr, key);
    if (strncmp(v, prefix, strlen(prefix)) != 0)
        fail_msg("%s is \"%s\", want a value starting \"%s\"", key, v, prefix);
    free(v);
}

static void result_pages__every_type_has_absolute_og_tags(void **state)
{
    mq_quiz_site *s = load_site(MQ_QUIZ_ASSETS, NULL);
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    size_t pages = 0;
    for (size_t qi = 0; qi < s->cat.n; qi++) {
        const mq_quiz_def *q = &s->cat.quizzes[qi];
        for (size_t r = 0; r < q->nresults; r++, pages++) {
            mq_quiz_result_view v = {
                .id = "abcdef0123", .quiz = qi, .result = (int)r, .pay_available = 1};
            mq_quiz_buf_reset(&b);
            assert_int_equal(mq_quiz_render_result(s, &v, NONCE, NULL, &b), 0);
            char want[160];
            snprintf(want, sizeof want, BASE "/static/og/%s-%s.", q->slug, q->results[r].type);
            expect_prefix(b.data, "property", "og:image", want);
            expect_prefix(b.data, "name", "twitter:image", want);
            expect_prefix(b.data, "property", "og:url", BASE "/app/result/abcdef0123");
            mq_quiz_buf e;
            mq_quiz_buf_init(&e);
            mq_quiz_esc_attr(&e, q->title, strlen(q->title));
            expect_prefix(b.data, "property", "og:title", e.data);
            mq_quiz_buf_reset(&e);
            mq_quiz_esc_attr(&e, q->results[r].summary, strlen(q->results[r].summary));
            expect_prefix(b.data, "property", "og:description", e.data);
            mq_quiz_buf_cleanup(&e);
            assert_non_null(
                strstr(b.data, "<link rel=\"canonical\" href=\"" BASE "/app/result/abcdef0123\">"));
            /* No referral service: the share link is the plain result URL. */
            assert_null(strstr(b.data, "?ref="));
            v.ref_code = "k7m2p9qx";
            mq_quiz_buf_reset(&b);
            assert_int_equal(mq_quiz_render_result(s, &v, NONCE, NULL, &b), 0);
            assert_non_null(strstr(b.data, BASE "/app/result/abcdef0123?ref=k7m2p9qx"));
            assert_non_null(strstr(b.data, "data-pay=\"kakao\""));
            assert_non_null(strstr(b.data, "data-pay=\"naver\""));
            assert_non_null(strstr(b.data, "3,900원"));
            assert_null(strstr(b.data, "data-notice=\"payments-paused\""));
            assert_non_null(strstr(b.data, q->results[r].premium[0].heading)); /* teaser */
            assert_null(strstr(b.data, q->results[r].premium[0].body));        /* locked */
        }
    }
    assert_true(pages >= 10);
    mq_quiz_buf_cleanup(&b);
    free_site(s);
}

static void result_page__unlocked_paused_and_banners(void **state)
{
    mq_quiz_site *s = load_site(MQ_QUIZ_ASSETS, NULL);
    const mq_quiz_def *q = NULL;
    int r;
    assert_int_equal(mq_quiz_fixed_lookup(&s->cat, "demo1", &q, &r), 0);
    size_t qi = (size_t)(q - s->cat.quizzes);
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);

    mq_quiz_result_view v = {
        .id = "demo1", .quiz = qi, .result = r, .unlocked = 1, .pay_available = 1, .paid = "1"};
    mq_quiz_render_result(s, &v, NONCE, NULL, &b);
    assert_non_null(strstr(b.data, "data-state=\"unlocked\""));
    assert_non_null(strstr(b.data, q->results[r].premium[0].body));
    assert_null(strstr(b.data, "data-pay="));
    assert_non_null(strstr(b.data, "data-banner=\"success\""));

    /* a stored result, once bought, shows no buttons; demo1 keeps them for
     * the runbook's repeated test payments */
    mq_quiz_result_view demo = {
        .id = "demo1", .quiz = qi, .result = r, .unlocked = 1, .pay_available = 1, .fixed = 1};
    mq_quiz_buf_reset(&b);
    mq_quiz_render_result(s, &demo, NONCE, NULL, &b);
    assert_non_null(strstr(b.data, q->results[r].premium[0].body));
    assert_non_null(strstr(b.data, "data-pay=\"kakao\""));
    assert_non_null(strstr(b.data, "data-pay=\"naver\""));

    mq_quiz_result_view paused = {.id = "demo1", .quiz = qi, .result = r};
    mq_quiz_buf_reset(&b);
    mq_quiz_render_result(s, &paused, NONCE, NULL, &b);
    assert_non_null(strstr(b.data, "data-state=\"paused\""));
    assert_non_null(strstr(b.data, "data-notice=\"payments-paused\""));
    assert_non_null(strstr(b.data, "지금은 결제를 잠시 쉬고 있어요"));
    assert_null(strstr(b.data, "data-pay="));
    assert_null(strstr(b.data, "data-banner"));

    const char *kind, *text;
    mq_quiz_payment_banner(NULL, "failed", 0, &kind, &text);
    assert_string_equal(kind, "error");
    mq_quiz_payment_banner(NULL, "canceled", 0, &kind, &text);
    assert_string_equal(kind, "info");
    mq_quiz_payment_banner("1", NULL, 0, &kind, &text);
    assert_string_equal(kind, "info");
    mq_quiz_payment_banner(NULL, "<script>", 0, &kind, &text);
    assert_null(text);
    mq_quiz_buf_cleanup(&b);
    free_site(s);
}

static void other_pages__render_with_nonce_and_assets(void **state)
{
    mq_quiz_site *s = load_site(MQ_QUIZ_ASSETS, "G-TEST12345");
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    assert_int_equal(mq_quiz_render_index(s, NONCE, NULL, &b), 0);
    assert_non_null(strstr(b.data, "/app/quiz/travel"));
    assert_non_null(strstr(b.data, "/app/quiz/work"));
    assert_null(strstr(b.data, "/app/quiz/demo")); /* hidden */
    assert_non_null(strstr(b.data,
                           "<script async nonce=\"" NONCE
                           "\" src=\"https://www.googletagmanager.com/gtag/js?id=G-TEST12345\">"));
    assert_non_null(strstr(b.data, "gtag('config','G-TEST12345')"));
    expect_prefix(b.data, "property", "og:image", BASE "/static/og/default.");
    mq_quiz_buf_reset(&b);
    assert_int_equal(mq_quiz_render_quiz(s, 0, NONCE, NULL, "모든 문항에 답해 주세요.", &b), 0);
    assert_non_null(strstr(b.data, "name=\"q0\" value=\"0\""));
    assert_non_null(strstr(b.data, "role=\"alert\""));
    expect_prefix(b.data, "property", "og:url", BASE "/app/quiz/");
    mq_quiz_buf_reset(&b);
    assert_int_equal(mq_quiz_render_error(s, "/x", "없어요", "<b>", NONCE, &b), 0);
    assert_non_null(strstr(b.data, "&lt;b&gt;"));
    /* every script tag carries the nonce */
    for (const char *p = b.data; (p = strstr(p, "<script")); p++)
        assert_true(strncmp(p, "<script async nonce=", 20) == 0 ||
                    strncmp(p, "<script nonce=", 14) == 0 ||
                    strstr(p, "nonce=\"" NONCE "\"") < strchr(p, '>'));
    mq_quiz_buf_cleanup(&b);
    free_site(s);
}

/* A page rendered with holes and filled from the cache is byte for byte the
 * page rendered directly with the same nonce. */
static void cached_pages__equal_direct_rendering(void **state)
{
    mq_quiz_site *s = load_site(MQ_QUIZ_ASSETS, "G-TEST12345");
    mq_quiz_pagecache pc;
    assert_int_equal(mq_quiz_pagecache_init(&pc, 4), 0);
    mq_quiz_buf direct, holed, filled;
    mq_quiz_buf_init(&direct);
    mq_quiz_buf_init(&holed);
    mq_quiz_buf_init(&filled);
    for (int page = 0; page < 3; page++) {
        mq_quiz_holes h = {{0}, 0};
        mq_quiz_buf_reset(&direct);
        mq_quiz_buf_reset(&holed);
        mq_quiz_result_view v = {.id = "demo1", .quiz = 0, .result = 1, .pay_available = 1};
        if (page == 0) {
            mq_quiz_render_index(s, NONCE, NULL, &direct);
            mq_quiz_render_index(s, NULL, &h, &holed);
        } else if (page == 1) {
            mq_quiz_render_quiz(s, 1, NONCE, NULL, NULL, &direct);
            mq_quiz_render_quiz(s, 1, NULL, &h, NULL, &holed);
        } else {
            mq_quiz_render_result(s, &v, NONCE, NULL, &direct);
            mq_quiz_render_result(s, &v, NULL, &h, &holed);
        }
        assert_int_equal(h.n, 3); /* the two GA4 scripts and app.js */
        const mq_quiz_cached_page *p =
            mq_quiz_pagecache_put(&pc, "k", holed.data, holed.len, h.off, h.n, MQ_QUIZ_NONCE_LEN);
        assert_non_null(p);
        assert_int_equal(mq_quiz_pagecache_fill(p, NONCE, &filled), 0);
        assert_int_equal(filled.len, direct.len);
        assert_memory_equal(filled.data, direct.data, direct.len);
    }
    mq_quiz_buf_cleanup(&direct);
    mq_quiz_buf_cleanup(&holed);
    mq_quiz_buf_cleanup(&filled);
    mq_quiz_pagecache_cleanup(&pc);
    free_site(s);
}

/* ---- a hostile quiz ------------------------------------------------------------------------ */

static const char hostile_quiz[] =
    "{\"slug\":\"evil\",\"title\":\"<script>alert('title')</script>\","
    "\"description\":\"\\\"><img src=x onerror=alert(1)>\","
    "\"questions\":[{\"text\":\"</legend><script>alert(2)</script>\",\"options\":["
    "{\"text\":\"<input name=q0 value=9>\",\"scores\":{\"a\":1}},"
    "{\"text\":\"{{nonce}} javascript:alert(3)\",\"scores\":{\"b\":1}}]}],"
    "\"results\":[{\"type\":\"a\",\"name\":\"</title><script>alert(4)</script>\","
    "\"summary\":\"\\\" onmouseover=\\\"alert(5)\",\"description\":[\"<iframe "
    "src=javascript:alert(6)>\"],"
    "\"traits\":[\"</li><script>alert(7)</script>\"],\"match\":\"b\","
    "\"premium\":[{\"heading\":\"<h1>x</h1>\",\"body\":\"</p><script>alert(8)</script>\"}]},"
    "{\"type\":\"b\",\"name\":\"'-alert(9)-'\",\"summary\":\"s\",\"description\":[\"p\"],"
    "\"premium\":[{\"heading\":\"h\",\"body\":\"b\"}]}],"
    "\"fixed_results\":{\"evil1\":\"a\"}}";

static char dir[256];

static int make_hostile_assets(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/mq-quiz-hostile-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char p[512], t[512];
    snprintf(p, sizeof p, "%s/quizzes", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/quizzes/evil.json", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputs(hostile_quiz, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/templates", dir);
    snprintf(t, sizeof t, "%s/templates", MQ_QUIZ_ASSETS);
    if (symlink(t, p) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/static", dir);
    snprintf(t, sizeof t, "%s/static", MQ_QUIZ_ASSETS);
    return symlink(t, p);
}

static int remove_hostile_assets(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* No tag or attribute from the data: only the template's own markup. */
static void assert_inert(const char *html)
{
    const char *bad[] = {"<script>alert",
                         "<img src=x",
                         "onmouseover=\"alert",
                         "<iframe",
                         "<input name=q0 value=9>",
                         "</title><script>",
                         "<h1>x</h1>",
                         "javascript:alert(6)\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strstr(html, bad[i]))
            fail_msg("hostile text \"%s\" reached the page", bad[i]);
    size_t scripts = 0;
    for (const char *p = html; (p = strstr(p, "<script")); p++)
        scripts++;
    assert_int_equal(scripts, 1); /* app.js only */
}

static void hostile_quiz__every_page__stays_inert(void **state)
{
    mq_quiz_site *s = load_site(dir, NULL);
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_render_index(s, NONCE, NULL, &b);
    assert_inert(b.data);
    mq_quiz_buf_reset(&b);
    mq_quiz_render_quiz(s, 0, NONCE, NULL, NULL, &b);
    assert_inert(b.data);
    assert_non_null(strstr(b.data, "{{nonce}} javascript:alert(3)")); /* data is never a template */
    for (int r = 0; r < 2; r++) {
        for (int unlocked = 0; unlocked < 2; unlocked++) {
            mq_quiz_result_view v = {
                .id = "evil1", .quiz = 0, .result = r, .unlocked = unlocked, .pay_available = 1};
            mq_quiz_buf_reset(&b);
            mq_quiz_render_result(s, &v, NONCE, NULL, &b);
            assert_inert(b.data);
        }
    }
    assert_non_null(strstr(b.data, "&#39;-alert(9)-&#39;"));
    mq_quiz_buf_cleanup(&b);
    free_site(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(result_pages__every_type_has_absolute_og_tags),
        cmocka_unit_test(result_page__unlocked_paused_and_banners),
        cmocka_unit_test(other_pages__render_with_nonce_and_assets),
        cmocka_unit_test(cached_pages__equal_direct_rendering),
        cmocka_unit_test_setup_teardown(hostile_quiz__every_page__stays_inert, make_hostile_assets,
                                        remove_hostile_assets),
    };
    return cmocka_run_group_tests_name("quiz_pages", tests, NULL, NULL);
}
