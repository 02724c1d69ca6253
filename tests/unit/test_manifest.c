/* Unit tests for host/manifest.c: parsing a release MANIFEST, verifying a
 * release dir against it, and the id/path rules. Each test builds its own
 * release in a private temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "manifest.h"
#include "sha256.h"
#include "unit_util.h"

#define PLUGIN_BYTES "\177ELF pretend plugin bytes\n"
#define ROBOTS "User-agent: *\nDisallow: /admin\n"

typedef struct fixture {
    char *dir; /* the release dir */
    char err[1024];
} fixture;

/* A release dir with two plugins and one asset, and its MANIFEST written by
 * mq_manifest_write from digests of the files on disk. */
static int setup_release(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || !(fx->dir = ut_mkdtemp("manifest")))
        return -1;
    if (ut_write_str(fx->dir, "plugins/hello.so", PLUGIN_BYTES) != 0 ||
        ut_write_str(fx->dir, "plugins/quiz.so", "quiz plugin bytes") != 0 ||
        ut_write_str(fx->dir, "assets/static/robots.txt", ROBOTS) != 0)
        return -1;

    static const char *paths[] = {"plugins/hello.so", "plugins/quiz.so",
                                  "assets/static/robots.txt"};
    mq_manifest_file files[3];
    memset(files, 0, sizeof files);
    for (int i = 0; i < 3; i++) {
        char p[PATH_MAX];
        files[i].path = (char *)paths[i];
        if (mq_sha256_file(ut_path(p, sizeof p, fx->dir, paths[i]), files[i].sha256,
                           &files[i].size) != 0)
            return -1;
    }
    mq_manifest_plugin plugins[2] = {
        {.name = "hello", .version = "1.0.0", .file = "plugins/hello.so", .abi = "1.1"},
        {.name = "quiz", .version = "2.0.1", .file = "plugins/quiz.so", .abi = "1.0"},
    };
    mq_manifest m = {.id = "20261127-041000",
                     .commit = "abc123",
                     .built = "2026-11-27T04:09:00Z",
                     .published = "2026-11-27T04:10:00Z",
                     .published_ns = 1795752600123456789LL,
                     .nfiles = 3,
                     .files = files,
                     .nplugins = 2,
                     .plugins = plugins};
    if (mq_manifest_write(fx->dir, &m, fx->err, sizeof fx->err) != 0) {
        fprintf(stderr, "setup: %s\n", fx->err);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown_release(void **state)
{
    fixture *fx = *state;
    if (fx) {
        ut_rm_rf(fx->dir);
        free(fx->dir);
        free(fx);
    }
    return 0;
}

/* Replace the MANIFEST with `text`. */
static void put_manifest(fixture *fx, const char *text)
{
    assert_int_equal(ut_write_str(fx->dir, "MANIFEST", text), 0);
}

/* A syntactically complete MANIFEST with `files_json` as its files array
 * and the given plugins array. */
static void put_manifest_with(fixture *fx, const char *plugins_json, const char *files_json)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"format\":1,\"id\":\"r1\",\"commit\":\"c\",\"built\":\"b\",\"published\":\"p\","
             "\"published_ns\":5,\"plugins\":%s,\"files\":%s}",
             plugins_json, files_json);
    put_manifest(fx, text);
}

#define H64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Expect mq_manifest_read to fail with `needle` in the message. */
static void expect_read_error(fixture *fx, const char *needle)
{
    fx->err[0] = '\0';
    mq_manifest *m = mq_manifest_read(fx->dir, fx->err, sizeof fx->err);
    if (m) {
        mq_manifest_free(m);
        fail_msg("MANIFEST parsed, expected an error containing \"%s\"", needle);
    }
    if (!strstr(fx->err, needle))
        fail_msg("error \"%s\" does not contain \"%s\"", fx->err, needle);
}

/* Expect verify to fail with `reason` and `needle` in the message. */
static void expect_verify_error(fixture *fx, const char *reason, const char *needle)
{
    mq_manifest *m = mq_manifest_read(fx->dir, fx->err, sizeof fx->err);
    if (!m)
        fail_msg("read failed: %s", fx->err);
    const char *why = NULL;
    fx->err[0] = '\0';
    int rc = mq_manifest_verify(fx->dir, m, &why, fx->err, sizeof fx->err);
    mq_manifest_free(m);
    if (rc == 0)
        fail_msg("verify passed, expected reason %s", reason);
    assert_non_null(why);
    if (strcmp(why, reason) != 0)
        fail_msg("reason \"%s\" (want \"%s\"), message: %s", why, reason, fx->err);
    if (!strstr(fx->err, needle))
        fail_msg("message \"%s\" does not contain \"%s\"", fx->err, needle);
}

/* ---- parsing -------------------------------------------------------------------- */

static void manifest__written_release__parses_every_field(void **state)
{
    fixture *fx = *state;
    mq_manifest *m = mq_manifest_read(fx->dir, fx->err, sizeof fx->err);
    if (!m)
        fail_msg("%s", fx->err);
    assert_string_equal(m->id, "20261127-041000");
    assert_string_equal(m->commit, "abc123");
    assert_string_equal(m->built, "2026-11-27T04:09:00Z");
    assert_string_equal(m->published, "2026-11-27T04:10:00Z");
    assert_true(m->published_ns == 1795752600123456789LL);
    assert_int_equal(m->nplugins, 2);
    assert_string_equal(m->plugins[0].name, "hello");
    assert_string_equal(m->plugins[0].version, "1.0.0");
    assert_string_equal(m->plugins[0].file, "plugins/hello.so");
    assert_string_equal(m->plugins[0].abi, "1.1");
    assert_string_equal(m->plugins[1].abi, "1.0");
    assert_int_equal(m->nfiles, 3);
    const mq_manifest_file *f = mq_manifest_find(m, "assets/static/robots.txt");
    assert_non_null(f);
    assert_int_equal(f->size, strlen(ROBOTS));
    char hex[65];
    mq_sha256_buf(ROBOTS, strlen(ROBOTS), hex);
    assert_string_equal(f->sha256, hex);
    assert_null(mq_manifest_find(m, "assets/static/missing.txt"));
    assert_null(mq_manifest_find(m, "MANIFEST"));
    assert_non_null(mq_manifest_find_plugin(m, "plugins/quiz.so"));
    assert_null(mq_manifest_find_plugin(m, "assets/static/robots.txt"));
    mq_manifest_free(m);
}

static void manifest__serialized__parses_back_identically(void **state)
{
    fixture *fx = *state;
    mq_manifest *m = mq_manifest_read(fx->dir, fx->err, sizeof fx->err);
    assert_non_null(m);
    char *json = mq_manifest_to_json(m);
    assert_non_null(json);
    mq_manifest *m2 = mq_manifest_parse(json, strlen(json), fx->err, sizeof fx->err);
    if (!m2)
        fail_msg("%s", fx->err);
    char *json2 = mq_manifest_to_json(m2);
    assert_string_equal(json, json2);
    free(json);
    free(json2);
    mq_manifest_free(m);
    mq_manifest_free(m2);
}

static void manifest__absent__reports_missing(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    unlink(ut_path(p, sizeof p, fx->dir, "MANIFEST"));
    expect_read_error(fx, "MANIFEST is missing");
}

static void manifest__not_json__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest(fx, "format = 1\n");
    expect_read_error(fx, "not valid JSON");
    put_manifest(fx, "{\"format\":1,");
    expect_read_error(fx, "not valid JSON");
    put_manifest(fx, "");
    expect_read_error(fx, "not valid JSON");
}

static void manifest__text_after_object__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]", "[]");
    char *text = ut_read(fx->dir, "MANIFEST", NULL);
    assert_non_null(text);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s {}", text);
    free(text);
    put_manifest(fx, buf);
    expect_read_error(fx, "text after the object");
}

static void manifest__array_at_top__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest(fx, "[1, 2]");
    expect_read_error(fx, "not a JSON object");
}

static void manifest__each_required_field_missing__named_in_error(void **state)
{
    fixture *fx = *state;
    static const char *fields[] = {"format",    "id",           "commit",  "built",
                                   "published", "published_ns", "plugins", "files"};
    static const char *values[] = {"1", "\"r1\"", "\"c\"", "\"b\"", "\"p\"", "5", "[]", "[]"};
    for (size_t skip = 0; skip < 8; skip++) {
        char text[1024] = "{", needle[64];
        for (size_t i = 0; i < 8; i++) {
            if (i == skip)
                continue;
            size_t n = strlen(text);
            snprintf(text + n, sizeof text - n, "%s\"%s\":%s", n > 1 ? "," : "", fields[i],
                     values[i]);
        }
        strcat(text, "}");
        put_manifest(fx, text);
        snprintf(needle, sizeof needle, "missing field \"%s\"", fields[skip]);
        expect_read_error(fx, needle);
    }
}

static void manifest__file_entry_field_missing__named_with_index(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]",
                      "[{\"path\":\"a\",\"size\":0,\"sha256\":\"" H64 "\"},"
                      "{\"path\":\"b\",\"size\":0}]");
    expect_read_error(fx, "files[1]: missing field \"sha256\"");
    put_manifest_with(fx, "[{\"name\":\"x\",\"file\":\"plugins/x.so\"}]", "[]");
    expect_read_error(fx, "plugins[0]: missing field \"version\"");
}

static void manifest__wrong_types__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]", "[{\"path\":\"a\",\"size\":\"12\",\"sha256\":\"" H64 "\"}]");
    expect_read_error(fx, "\"size\" is not an integer");
    put_manifest_with(fx, "[]", "[{\"path\":\"a\",\"size\":-1,\"sha256\":\"" H64 "\"}]");
    expect_read_error(fx, "\"size\" is out of range");
    put_manifest_with(fx, "{}", "[]");
    expect_read_error(fx, "\"plugins\" is not an array");
    put_manifest(fx, "{\"format\":1,\"id\":7,\"commit\":\"c\",\"built\":\"b\",\"published\":\"p\","
                     "\"published_ns\":5,\"plugins\":[],\"files\":[]}");
    expect_read_error(fx, "\"id\" is not a string");
}

static void manifest__path_with_dotdot__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]",
                      "[{\"path\":\"assets/../../etc/passwd\",\"size\":0,"
                      "\"sha256\":\"" H64 "\"}]");
    expect_read_error(fx, "not a relative path inside the release");
    put_manifest_with(fx, "[]", "[{\"path\":\"..\",\"size\":0,\"sha256\":\"" H64 "\"}]");
    expect_read_error(fx, "not a relative path inside the release");
}

static void manifest__absolute_path__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]", "[{\"path\":\"/etc/passwd\",\"size\":0,\"sha256\":\"" H64 "\"}]");
    expect_read_error(fx, "\"/etc/passwd\" is not a relative path");
}

static void manifest__duplicate_path__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]",
                      "[{\"path\":\"a/b\",\"size\":0,\"sha256\":\"" H64 "\"},"
                      "{\"path\":\"c\",\"size\":0,\"sha256\":\"" H64 "\"},"
                      "{\"path\":\"a/b\",\"size\":1,\"sha256\":\"" H64 "\"}]");
    expect_read_error(fx, "duplicate path \"a/b\"");
}

static void manifest__plugin_file_outside_plugins_dir__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[{\"name\":\"x\",\"version\":\"1\",\"file\":\"assets/x.so\"}]", "[]");
    expect_read_error(fx, "is not plugins/<name>.so");
    put_manifest_with(fx, "[{\"name\":\"x\",\"version\":\"1\",\"file\":\"plugins/sub/x.so\"}]",
                      "[]");
    expect_read_error(fx, "is not plugins/<name>.so");
    put_manifest_with(fx, "[{\"name\":\"x\",\"version\":\"1\",\"file\":\"plugins/x.txt\"}]", "[]");
    expect_read_error(fx, "is not plugins/<name>.so");
}

static void manifest__bad_sha256__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]", "[{\"path\":\"a\",\"size\":0,\"sha256\":\"abc\"}]");
    expect_read_error(fx, "is not 64 hex digits");
    put_manifest_with(fx, "[]",
                      "[{\"path\":\"a\",\"size\":0,\"sha256\":\""
                      "zz0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                      "\"}]");
    expect_read_error(fx, "is not 64 hex digits");
}

static void manifest__unknown_format__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest(fx, "{\"format\":2,\"id\":\"r1\",\"commit\":\"c\",\"built\":\"b\","
                     "\"published\":\"p\",\"published_ns\":5,\"plugins\":[],\"files\":[]}");
    expect_read_error(fx, "unsupported format 2");
}

static void manifest__invalid_id__rejected(void **state)
{
    fixture *fx = *state;
    put_manifest(fx, "{\"format\":1,\"id\":\"../x\",\"commit\":\"c\",\"built\":\"b\","
                     "\"published\":\"p\",\"published_ns\":5,\"plugins\":[],\"files\":[]}");
    expect_read_error(fx, "not a valid release id");
}

static void manifest__uppercase_sha__normalized(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[]",
                      "[{\"path\":\"a\",\"size\":0,\"sha256\":\""
                      "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
                      "\"}]");
    mq_manifest *m = mq_manifest_read(fx->dir, fx->err, sizeof fx->err);
    if (!m)
        fail_msg("%s", fx->err);
    assert_string_equal(m->files[0].sha256, H64);
    mq_manifest_free(m);
}

static void manifest__path_rules__table(void **state)
{
    (void)state;
    static const char *good[] = {
        "a",   "plugins/x.so", "assets/static/robots.txt", ".well-known/x", "a/.b/c",
        "..a", "a..b/c"};
    static const char *bad[] = {"",     "/a",   "a/",     "a//b", "./a",  "a/./b", "..",
                                "../a", "a/..", "a/../b", "a\\b", "a\nb", "a\tb"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!mq_manifest_path_valid(good[i]))
            fail_msg("\"%s\" should be a valid path", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (mq_manifest_path_valid(bad[i]))
            fail_msg("\"%s\" should be refused", bad[i]);
    assert_false(mq_manifest_path_valid(NULL));
}

static void release_id__rules__table(void **state)
{
    (void)state;
    static const char *good[] = {"20261127-041000", "v1.2.3",   "a", "A_b-c.d",
                                 "x.current",       "current2", "0"};
    static const char *bad[] = {"",     "current", ".hidden", ".", "..",  "a/b",
                                "../x", "a b",     "a:b",     "ü", "a\n", "-\t"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!mq_release_id_valid(good[i]))
            fail_msg("\"%s\" should be a valid release id", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (mq_release_id_valid(bad[i]))
            fail_msg("\"%s\" should be refused", bad[i]);
    char longid[MQ_RELEASE_ID_MAX + 2];
    memset(longid, 'a', sizeof longid);
    longid[MQ_RELEASE_ID_MAX] = '\0';
    assert_true(mq_release_id_valid(longid));
    longid[MQ_RELEASE_ID_MAX] = 'a';
    longid[MQ_RELEASE_ID_MAX + 1] = '\0';
    assert_false(mq_release_id_valid(longid));
    assert_false(mq_release_id_valid(NULL));
}

/* ---- verification ------------------------------------------------------------------ */

static void verify__untouched_release__passes(void **state)
{
    fixture *fx = *state;
    mq_manifest *m = mq_manifest_read(fx->dir, fx->err, sizeof fx->err);
    assert_non_null(m);
    const char *why = "unset";
    int rc = mq_manifest_verify(fx->dir, m, &why, fx->err, sizeof fx->err);
    if (rc != 0)
        fail_msg("%s: %s", why, fx->err);
    assert_null(why);
    /* reason may be NULL */
    assert_int_equal(mq_manifest_verify(fx->dir, m, NULL, fx->err, sizeof fx->err), 0);
    mq_manifest_free(m);
}

static void verify__byte_flipped__checksum_reason(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    FILE *f = fopen(ut_path(p, sizeof p, fx->dir, "plugins/hello.so"), "r+b");
    assert_non_null(f);
    fseek(f, 3, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 3, SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
    expect_verify_error(fx, "checksum",
                        "checksum of \"plugins/hello.so\" does not match the MANIFEST");
}

static void verify__asset_tampered__checksum_reason(void **state)
{
    fixture *fx = *state;
    char robots[] = ROBOTS;
    robots[0] = 'u'; /* same size, other bytes */
    assert_int_equal(ut_write_str(fx->dir, "assets/static/robots.txt", robots), 0);
    expect_verify_error(fx, "checksum", "\"assets/static/robots.txt\"");
}

static void verify__truncated_file__checksum_reason(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    assert_int_equal(truncate(ut_path(p, sizeof p, fx->dir, "plugins/quiz.so"), 4), 0);
    expect_verify_error(fx, "checksum", "size of \"plugins/quiz.so\" is 4 bytes");
}

static void verify__listed_file_missing__missing_file_reason(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    assert_int_equal(unlink(ut_path(p, sizeof p, fx->dir, "assets/static/robots.txt")), 0);
    expect_verify_error(fx, "missing_file",
                        "\"assets/static/robots.txt\" listed in MANIFEST is missing");
}

static void verify__listed_dir_missing__missing_file_reason(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    ut_rm_rf(ut_path(p, sizeof p, fx->dir, "assets"));
    expect_verify_error(fx, "missing_file", "listed in MANIFEST is missing");
}

static void verify__extra_unlisted_so__manifest_reason(void **state)
{
    fixture *fx = *state;
    assert_int_equal(ut_write_str(fx->dir, "plugins/evil.so", "x"), 0);
    expect_verify_error(fx, "manifest",
                        "\"plugins/evil.so\" is on disk but not listed in the MANIFEST");
}

static void verify__so_in_files_but_not_plugins__manifest_reason(void **state)
{
    fixture *fx = *state;
    /* Listed as a file but not as a plugin: still an unlisted plugin. */
    char hex[65];
    mq_sha256_buf("x", 1, hex);
    char files[1024];
    snprintf(files, sizeof files, "[{\"path\":\"plugins/extra.so\",\"size\":1,\"sha256\":\"%s\"}]",
             hex);
    ut_rm_rf(fx->dir);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(ut_write_str(fx->dir, "plugins/extra.so", "x"), 0);
    put_manifest_with(fx, "[]", files);
    expect_verify_error(fx, "manifest", "\"plugins/extra.so\" is on disk but not listed");
}

static void verify__plugin_not_in_files__manifest_reason(void **state)
{
    fixture *fx = *state;
    put_manifest_with(fx, "[{\"name\":\"hello\",\"version\":\"1\",\"file\":\"plugins/hello.so\"}]",
                      "[]");
    expect_verify_error(fx, "manifest",
                        "plugin \"hello\": its file \"plugins/hello.so\" is not listed");
}

static void verify__file_replaced_by_symlink__missing_file_reason(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX], q[PATH_MAX];
    /* Same bytes, reached through a symlink: still refused, a release must
     * not reach outside itself. */
    ut_path(p, sizeof p, fx->dir, "assets/static/robots.txt");
    ut_path(q, sizeof q, fx->dir, "robots.copy");
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(symlink(q, p), 0);
    expect_verify_error(fx, "missing_file", "is a symbolic link or lies under one");
}

static void verify__directory_replaced_by_symlink__missing_file_reason(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX], q[PATH_MAX];
    ut_path(p, sizeof p, fx->dir, "assets");
    ut_path(q, sizeof q, fx->dir, "assets.real");
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(symlink("assets.real", p), 0);
    expect_verify_error(fx, "missing_file", "\"assets/static/robots.txt\"");
}

static void verify__directory_where_file_listed__missing_file_reason(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    ut_path(p, sizeof p, fx->dir, "assets/static/robots.txt");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0755), 0);
    expect_verify_error(fx, "missing_file", "is not a regular file");
}

static void verify__fifo_where_file_listed__refused_without_blocking(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    ut_path(p, sizeof p, fx->dir, "assets/static/robots.txt");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkfifo(p, 0644), 0);
    expect_verify_error(fx, "missing_file", "is not a regular file");
}

static void verify__release_openat__refuses_symlinks(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    int dfd = open(fx->dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    int fd = mq_release_openat(dfd, "plugins/hello.so");
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink("/etc/passwd", ut_path(p, sizeof p, fx->dir, "plugins/link.so")), 0);
    errno = 0;
    assert_int_equal(mq_release_openat(dfd, "plugins/link.so"), -1);
    assert_int_equal(errno, ELOOP);
    assert_int_equal(mq_release_openat(dfd, "../etc/passwd"), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mq_release_openat(dfd, "plugins/none.so"), -1);
    assert_int_equal(errno, ENOENT);
    close(dfd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_release, teardown_release)
    const struct CMUnitTest tests[] = {
        T(manifest__written_release__parses_every_field),
        T(manifest__serialized__parses_back_identically),
        T(manifest__absent__reports_missing),
        T(manifest__not_json__rejected),
        T(manifest__text_after_object__rejected),
        T(manifest__array_at_top__rejected),
        T(manifest__each_required_field_missing__named_in_error),
        T(manifest__file_entry_field_missing__named_with_index),
        T(manifest__wrong_types__rejected),
        T(manifest__path_with_dotdot__rejected),
        T(manifest__absolute_path__rejected),
        T(manifest__duplicate_path__rejected),
        T(manifest__plugin_file_outside_plugins_dir__rejected),
        T(manifest__bad_sha256__rejected),
        T(manifest__unknown_format__rejected),
        T(manifest__invalid_id__rejected),
        T(manifest__uppercase_sha__normalized),
        cmocka_unit_test(manifest__path_rules__table),
        cmocka_unit_test(release_id__rules__table),
        T(verify__untouched_release__passes),
        T(verify__byte_flipped__checksum_reason),
        T(verify__asset_tampered__checksum_reason),
        T(verify__truncated_file__checksum_reason),
        T(verify__listed_file_missing__missing_file_reason),
        T(verify__listed_dir_missing__missing_file_reason),
        T(verify__extra_unlisted_so__manifest_reason),
        T(verify__so_in_files_but_not_plugins__manifest_reason),
        T(verify__plugin_not_in_files__manifest_reason),
        T(verify__file_replaced_by_symlink__missing_file_reason),
        T(verify__directory_replaced_by_symlink__missing_file_reason),
        T(verify__directory_where_file_listed__missing_file_reason),
        T(verify__fifo_where_file_listed__refused_without_blocking),
        T(verify__release_openat__refuses_symlinks),
    };
#undef T
    return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
