/* Unit tests for host/config.c: the .env parser and path resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "unit_util.h"

/* Parse `text`; fail the test with the parser's message if it refuses. */
static mq_config *parse_ok(const char *text)
{
    char err[256] = "";
    mq_config *c = mq_config_parse(text, strlen(text), "/srv/mq", err, sizeof err);
    if (!c)
        fail_msg("parse failed: %s\n--- input ---\n%s", err, text);
    return c;
}

/* Parse `text`, expect a refusal whose message contains `needle`. */
static void parse_fails(const char *text, const char *needle)
{
    char err[256] = "";
    mq_config *c = mq_config_parse(text, strlen(text), "/srv/mq", err, sizeof err);
    if (c) {
        mq_config_free(c);
        fail_msg("parse accepted, expected \"%s\"\n--- input ---\n%s", needle, text);
    }
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
}

static void config__quoted_values__kept_literally_or_unescaped(void **state)
{
    (void)state;
    mq_config *c = parse_ok("BARE=  hello world  \n"
                            "LIT='a \\n $HOME \" # not a comment'\n"
                            "DBL=\"line1\\nline2\\t\\\"q\\\" \\\\ \\$x\"\n"
                            "HASH=\"a # b\"\n"
                            "EMPTY=\n"
                            "EMPTYQ=\"\"\n"
                            "SPACED = 'v'\n");
    assert_string_equal(mq_config_get(c, "BARE"), "hello world");
    assert_string_equal(mq_config_get(c, "LIT"), "a \\n $HOME \" # not a comment");
    assert_string_equal(mq_config_get(c, "DBL"), "line1\nline2\t\"q\" \\ $x");
    assert_string_equal(mq_config_get(c, "HASH"), "a # b");
    assert_string_equal(mq_config_get(c, "EMPTY"), "");
    assert_string_equal(mq_config_get(c, "EMPTYQ"), "");
    assert_string_equal(mq_config_get(c, "SPACED"), "v");
    assert_string_equal(mq_config_get_or(c, "EMPTY", "dflt"), "dflt");
    assert_null(mq_config_get(c, "NOPE"));
    mq_config_free(c);
}

static void config__text_after_closing_quote__error(void **state)
{
    (void)state;
    parse_fails("A='x'y\n", "line 1: text after closing quote");
    parse_fails("OK=1\nB=\"x\" y\n", "line 2: text after closing quote");
}

static void config__unknown_escape__error(void **state)
{
    (void)state;
    parse_fails("A=\"\\q\"\n", "line 1: unknown escape");
}

static void config__comments__ignored(void **state)
{
    (void)state;
    mq_config *c = parse_ok("# a comment line\n"
                            "   # indented comment\n"
                            "\n"
                            "   \n"
                            "A=1 # trailing comment\n"
                            "B=x#y\n"
                            "C='q' # after quotes\n"
                            "D=#starts with hash\n");
    assert_int_equal(mq_config_count(c), 4);
    assert_string_equal(mq_config_get(c, "A"), "1");
    assert_string_equal(mq_config_get(c, "B"), "x#y");
    assert_string_equal(mq_config_get(c, "C"), "q");
    assert_string_equal(mq_config_get(c, "D"), "");
    mq_config_free(c);
}

static void config__export_prefix__accepted(void **state)
{
    (void)state;
    mq_config *c = parse_ok("export A=1\n  export B='two'\nexported=3\n");
    assert_string_equal(mq_config_get(c, "A"), "1");
    assert_string_equal(mq_config_get(c, "B"), "two");
    assert_string_equal(mq_config_get(c, "exported"), "3");
    assert_null(mq_config_get(c, "export"));
    mq_config_free(c);
}

static void config__duplicate_key__last_wins(void **state)
{
    (void)state;
    /* The runbook's kill switch: `echo PAYMENTS_ENABLED=0 >> .env`. */
    mq_config *c = parse_ok("PAYMENTS_ENABLED=1\nOTHER=x\nPAYMENTS_ENABLED=0\n");
    assert_string_equal(mq_config_get(c, "PAYMENTS_ENABLED"), "0");
    assert_int_equal(mq_config_count(c), 2);
    mq_config_free(c);
}

static void config__key_without_equals__error_with_line_number(void **state)
{
    (void)state;
    parse_fails("A=1\n# ok\nJUSTAKEY\nB=2\n", "line 3: expected KEY=VALUE");
    parse_fails("1ABC=x\n", "line 1: expected KEY=VALUE");
    parse_fails("A-B=x\n", "line 1: expected KEY=VALUE");
}

static void config__unterminated_quote__error(void **state)
{
    (void)state;
    parse_fails("A=1\nB=\"never closed\n", "line 2: unterminated quoted value");
    parse_fails("C='open\n", "line 1: unterminated quoted value");
}

static void config__crlf_lines__parsed_like_lf(void **state)
{
    (void)state;
    mq_config *c = parse_ok("A=1\r\nB='two'\r\n# c\r\n\r\nC=\"3\"\r\nD=last");
    assert_string_equal(mq_config_get(c, "A"), "1");
    assert_string_equal(mq_config_get(c, "B"), "two");
    assert_string_equal(mq_config_get(c, "C"), "3");
    assert_string_equal(mq_config_get(c, "D"), "last");
    mq_config_free(c);
    parse_fails("A=1\r\nNOPE\r\n", "line 2: expected KEY=VALUE");
}

static void config__get_long__default_bounds_and_garbage(void **state)
{
    (void)state;
    mq_config *c = parse_ok("N=42\nBIG=99999\nBAD=12x\n");
    long v = 0;
    char err[256];
    assert_int_equal(mq_config_get_long(c, "N", 7, 0, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(mq_config_get_long(c, "UNSET", 7, 0, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(mq_config_get_long(c, "BIG", 7, 0, 100, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "BIG"));
    assert_int_equal(mq_config_get_long(c, "BAD", 7, 0, 100, &v, err, sizeof err), -1);
    mq_config_free(c);
}

static void config__path__relative_resolves_against_env_dir(void **state)
{
    (void)state;
    char *dir = ut_mkdtemp("config");
    assert_non_null(dir);
    assert_int_equal(ut_write_str(dir, "etc/.env",
                                  "RELEASES_DIR=releases\nDATA_DIR=/var/lib/mq\n"
                                  "UP=../shared\n"),
                     0);
    char envpath[PATH_MAX], err[256], want[PATH_MAX];
    ut_path(envpath, sizeof envpath, dir, "etc/.env");
    int missing = -1;
    mq_config *c = mq_config_load(envpath, &missing, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(missing, 0);
    ut_path(want, sizeof want, dir, "etc");
    assert_string_equal(mq_config_dir(c), want);

    char *p = mq_config_path(c, "RELEASES_DIR", "x");
    ut_path(want, sizeof want, dir, "etc/releases");
    assert_string_equal(p, want);
    free(p);
    p = mq_config_path(c, "DATA_DIR", "data");
    assert_string_equal(p, "/var/lib/mq"); /* absolute: kept */
    free(p);
    p = mq_config_path(c, "UNSET_DIR", "data");
    ut_path(want, sizeof want, dir, "etc/data"); /* the default, also relative */
    assert_string_equal(p, want);
    free(p);
    p = mq_config_path(c, "UP", NULL);
    ut_path(want, sizeof want, dir, "etc/../shared");
    assert_string_equal(p, want);
    free(p);
    assert_null(mq_config_path(c, "UNSET_DIR", NULL));
    mq_config_free(c);

    /* A relative --env path resolves against the cwd, to an absolute dir. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    ut_path(want, sizeof want, dir, "etc");
    assert_int_equal(chdir(want), 0);
    c = mq_config_load(".env", NULL, err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    assert_non_null(c);
    assert_string_equal(mq_config_dir(c), want);
    mq_config_free(c);

    ut_rm_rf(dir);
    free(dir);
}

static void config__missing_file__empty_snapshot_and_flag(void **state)
{
    (void)state;
    char *dir = ut_mkdtemp("config");
    assert_non_null(dir);
    char envpath[PATH_MAX], err[256];
    ut_path(envpath, sizeof envpath, dir, "absent.env");
    int missing = 0;
    mq_config *c = mq_config_load(envpath, &missing, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(missing, 1);
    assert_int_equal(mq_config_count(c), 0);
    mq_config_free(c);
    ut_rm_rf(dir);
    free(dir);
}

static void config__load_syntax_error__reports_line(void **state)
{
    (void)state;
    char *dir = ut_mkdtemp("config");
    assert_non_null(dir);
    assert_int_equal(ut_write_str(dir, ".env", "A=1\nB=2\nBROKEN LINE\n"), 0);
    char envpath[PATH_MAX], err[256] = "";
    ut_path(envpath, sizeof envpath, dir, ".env");
    assert_null(mq_config_load(envpath, NULL, err, sizeof err));
    assert_non_null(strstr(err, "line 3"));
    ut_rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config__quoted_values__kept_literally_or_unescaped),
        cmocka_unit_test(config__text_after_closing_quote__error),
        cmocka_unit_test(config__unknown_escape__error),
        cmocka_unit_test(config__comments__ignored),
        cmocka_unit_test(config__export_prefix__accepted),
        cmocka_unit_test(config__duplicate_key__last_wins),
        cmocka_unit_test(config__key_without_equals__error_with_line_number),
        cmocka_unit_test(config__unterminated_quote__error),
        cmocka_unit_test(config__crlf_lines__parsed_like_lf),
        cmocka_unit_test(config__get_long__default_bounds_and_garbage),
        cmocka_unit_test(config__path__relative_resolves_against_env_dir),
        cmocka_unit_test(config__missing_file__empty_snapshot_and_flag),
        cmocka_unit_test(config__load_syntax_error__reports_line),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
