/*
 * test_quiz_statics.c -- static files: loading, hashed aliases, lookups
 * that cannot escape the loaded set, ETags and If-None-Match.
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

#include "sha256.h"
#include "statics.h"

static char root[256];

static void put(const char *rel, const char *content)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int setup(void **state)
{
    snprintf(root, sizeof root, "/tmp/mq-quiz-statics-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char d[512];
    snprintf(d, sizeof d, "%s/og", root);
    mkdir(d, 0755);
    snprintf(d, sizeof d, "%s/.hidden", root);
    mkdir(d, 0755);
    put("app.css", "body{}");
    put("og/a.png", "PNG");
    put("lib.0123abcd.js", "x");
    put(".env", "SECRET=1");
    put(".hidden/x.txt", "no");
    char outside[512], link[512];
    snprintf(outside, sizeof outside, "%s-outside.txt", root);
    FILE *f = fopen(outside, "w");
    fputs("outside", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/link.txt", root);
    assert_int_equal(symlink(outside, link), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s-outside.txt'", root, root);
    return system(cmd) == 0 ? 0 : -1;
}

static void load__regular_files_only__dotfiles_and_symlinks_skipped(void **state)
{
    mq_quiz_statics s;
    char err[256];
    assert_int_equal(mq_quiz_statics_load(&s, root, err, sizeof err), 0);
    assert_int_equal(s.n, 3);
    int imm = -1;
    assert_non_null(mq_quiz_statics_find(&s, "app.css", &imm));
    assert_int_equal(imm, 0);
    assert_non_null(mq_quiz_statics_find(&s, "og/a.png", &imm));
    assert_null(mq_quiz_statics_find(&s, ".env", &imm));
    assert_null(mq_quiz_statics_find(&s, ".hidden/x.txt", &imm));
    assert_null(mq_quiz_statics_find(&s, "link.txt", &imm));
    mq_quiz_statics_cleanup(&s);
}

static void find__traversal_and_odd_names__never_match(void **state)
{
    mq_quiz_statics s;
    char err[256];
    assert_int_equal(mq_quiz_statics_load(&s, root, err, sizeof err), 0);
    const char *bad[] = {"../app.css",
                         "./app.css",
                         "og/../app.css",
                         "/app.css",
                         "app.css/",
                         "APP.CSS",
                         "og//a.png",
                         "..",
                         "",
                         "../../../../etc/passwd",
                         "app.css\n",
                         "og/a.png%00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mq_quiz_statics_find(&s, bad[i], NULL))
            fail_msg("\"%s\" matched a file", bad[i]);
    mq_quiz_statics_cleanup(&s);
}

static void alias__content_hash_in_name__is_immutable(void **state)
{
    mq_quiz_statics s;
    char err[256], hex[65], alias[64];
    assert_int_equal(mq_quiz_statics_load(&s, root, err, sizeof err), 0);
    mq_quiz_sha256_hex("body{}", 6, hex);
    snprintf(alias, sizeof alias, "app.%.12s.css", hex);
    int imm = 0;
    const mq_quiz_static *f = mq_quiz_statics_find(&s, alias, &imm);
    assert_non_null(f);
    assert_int_equal(imm, 1);
    assert_string_equal(f->path, "app.css");
    char url[80], etag[70];
    snprintf(url, sizeof url, "/static/%s", alias);
    assert_string_equal(mq_quiz_statics_url(&s, "app.css"), url);
    snprintf(etag, sizeof etag, "\"%s\"", hex);
    assert_string_equal(f->etag, etag);
    assert_string_equal(f->type, "text/css; charset=utf-8");
    /* a wrong hash is not a file */
    snprintf(alias, sizeof alias, "app.%.11s0.css", hex);
    if (hex[11] != '0')
        assert_null(mq_quiz_statics_find(&s, alias, &imm));
    /* a file whose own name is hashed keeps it, immutable */
    assert_non_null(mq_quiz_statics_find(&s, "lib.0123abcd.js", &imm));
    assert_int_equal(imm, 1);
    assert_string_equal(mq_quiz_statics_url(&s, "lib.0123abcd.js"), "/static/lib.0123abcd.js");
    mq_quiz_statics_cleanup(&s);
}

static void hashed_names__recognized(void **state)
{
    assert_true(mq_quiz_is_hashed_name("app.0123abcd.css"));
    assert_true(mq_quiz_is_hashed_name("og/x.0123456789ab.png"));
    assert_false(mq_quiz_is_hashed_name("app.css"));
    assert_false(mq_quiz_is_hashed_name("app.0123abc.css")); /* 7 hex */
    assert_false(mq_quiz_is_hashed_name("app.0123abcg.css"));
    assert_false(mq_quiz_is_hashed_name("0123abcd.css"));
    assert_false(mq_quiz_is_hashed_name("app.0123ABCD.css"));
}

static void etag_match__list_weak_and_star(void **state)
{
    const char *e = "\"abc\"";
    assert_true(mq_quiz_etag_match("\"abc\"", e));
    assert_true(mq_quiz_etag_match("W/\"abc\"", e));
    assert_true(mq_quiz_etag_match("\"x\", \"abc\"", e));
    assert_true(mq_quiz_etag_match("*", e));
    assert_false(mq_quiz_etag_match("\"abcd\"", e));
    assert_false(mq_quiz_etag_match("abc", e));
    assert_false(mq_quiz_etag_match("", e));
    assert_false(mq_quiz_etag_match(NULL, e));
    assert_false(mq_quiz_etag_match("\"ab", e));
}

static void missing_root__is_an_empty_table(void **state)
{
    mq_quiz_statics s;
    char err[256];
    assert_int_equal(mq_quiz_statics_load(&s, "/nonexistent/mq-static", err, sizeof err), 0);
    assert_int_equal(s.n, 0);
    assert_null(mq_quiz_statics_find(&s, "app.css", NULL));
    mq_quiz_statics_cleanup(&s);
}

static void content_types__by_extension(void **state)
{
    assert_string_equal(mq_quiz_content_type("a.js"), "text/javascript; charset=utf-8");
    assert_string_equal(mq_quiz_content_type("og/a.PNG"), "image/png");
    assert_string_equal(mq_quiz_content_type("x.svg"), "image/svg+xml");
    assert_string_equal(mq_quiz_content_type("noext"), "application/octet-stream");
    assert_string_equal(mq_quiz_content_type(".png"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load__regular_files_only__dotfiles_and_symlinks_skipped),
        cmocka_unit_test(find__traversal_and_odd_names__never_match),
        cmocka_unit_test(alias__content_hash_in_name__is_immutable),
        cmocka_unit_test(hashed_names__recognized),
        cmocka_unit_test(etag_match__list_weak_and_star),
        cmocka_unit_test(missing_root__is_an_empty_table),
        cmocka_unit_test(content_types__by_extension),
    };
    return cmocka_run_group_tests_name("quiz_statics", tests, setup, teardown);
}
