/* The embedded NDJSON store: append/get/scan, replay, damage at open, failed
 * appends, durability (group commit, kill -9), input validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mq_plugin.h"
#include "store.h"
#include "unit_util.h"

/* Sanitizers map huge shadow regions, so RLIMIT_DATA cannot be used. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

/* ---- helpers ------------------------------------------------------------ */

static mq_store *open_store(const char *dir, const mq_store_opts *opts)
{
    char err[512] = "";
    mq_store *s = mq_store_open(dir, opts, err, sizeof err);
    if (!s)
        fprintf(stderr, "mq_store_open: %s\n", err);
    return s;
}

static mq_store *open_inline(const char *dir)
{
    mq_store_opts o = {.no_sync_thread = 1};
    return open_store(dir, &o);
}

static int append_str(mq_store *s, const char *coll, const char *key, const char *json)
{
    return mq_store_append(s, coll, key, json, strlen(json), 0, NULL);
}

static const mq_store_coll_stats *find_stats(mq_store_coll_stats *st, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].name, name) == 0)
            return &st[i];
    return NULL;
}

/* Stats of one collection, by value (zeroes when absent). */
static mq_store_coll_stats stats_of(mq_store *s, const char *name)
{
    mq_store_coll_stats *st = NULL, r = {0};
    size_t n = 0;
    assert_int_equal(mq_store_stats(s, &st, &n), MQ_OK);
    const mq_store_coll_stats *f = find_stats(st, n, name);
    if (f)
        r = *f;
    free(st);
    return r;
}

static int64_t json_int_field(const char *json, const char *field)
{
    json_object *o = json_tokener_parse(json);
    json_object *v;
    int64_t r = INT64_MIN;
    if (o && json_object_object_get_ex(o, field, &v))
        r = json_object_get_int64(v);
    json_object_put(o);
    return r;
}

/* Collects scan results as "key=json\n" lines. */
typedef struct collect {
    char buf[8192];
    size_t n;
    int stop_after;
    int calls;
} collect;

static int collect_fn(const char *key, const char *json, size_t len, void *ud)
{
    collect *c = ud;
    assert_int_equal(strlen(json), len);
    c->n += (size_t)snprintf(c->buf + c->n, sizeof c->buf - c->n, "%s=%s\n", key, json);
    assert_true(c->n < sizeof c->buf);
    c->calls++;
    return c->stop_after && c->calls >= c->stop_after;
}

static char *scan_text(mq_store *s, const char *coll, int latest_only)
{
    collect c = {.n = 0};
    assert_int_equal(mq_store_scan(s, coll, latest_only, collect_fn, &c), MQ_OK);
    return strdup(c.buf);
}

/* Redirect stderr (where mq_log writes) into a file for a while. */
typedef struct capture {
    int saved;
    char path[PATH_MAX];
} capture;

static void capture_begin(capture *c, const char *dir)
{
    UT_SNPRINTF(c->path, sizeof c->path, "%s/stderr.log", dir);
    fflush(stderr);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    c->saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

static char *capture_end(capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    char *text = ut_read(c->path, NULL, NULL);
    unlink(c->path);
    return text;
}

static size_t count_substr(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int ends_with_newline(const char *path)
{
    size_t n;
    char *t = ut_read(path, NULL, &n);
    int r = t && n > 0 && t[n - 1] == '\n';
    free(t);
    return r;
}

/* In a forked child cmocka's asserts must not longjmp: report and exit. */
#define CHILD_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond);         \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

static void assert_child_ok(pid_t pid, const char *log_path)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = log_path ? ut_read(log_path, NULL, NULL) : NULL;
        fprintf(stderr, "child failed (status 0x%x); its log:\n%s\n", status, log ? log : "");
        free(log);
        fail();
    }
}

static int wait_synced(mq_store *s, uint64_t seq, int timeout_ms)
{
    struct pollfd p = {.fd = mq_store_notify_fd(s), .events = POLLIN};
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int failed = 0;
        if (mq_store_synced(s, &failed) >= seq)
            return 0;
        if (failed)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms)
            return -1;
        poll(&p, 1, (int)(timeout_ms - spent));
    }
}

/* ---- basics --------------------------------------------------------------- */

static void store__append_get_scan__reopen_gives_same(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_inline(dir);
    assert_non_null(s);
    assert_int_equal(append_str(s, "orders", "o1", "{\"ts\":1,\"status\":\"ready\"}"), MQ_OK);
    assert_int_equal(append_str(s, "orders", "o2", "{\"ts\":2,\"status\":\"ready\"}"), MQ_OK);
    assert_int_equal(append_str(s, "orders", "o1", "{\"ts\":3,\"status\":\"approved\"}"), MQ_OK);
    assert_int_equal(append_str(s, "events", NULL, "{\"ts\":4,\"type\":\"login\"}"), MQ_OK);
    assert_int_equal(append_str(s, "events", "", "{\"ts\":5,\"type\":\"logout\"}"), MQ_OK);

    size_t len = 0;
    char *o1 = mq_store_get(s, "orders", "o1", &len);
    assert_string_equal(o1, "{\"k\":\"o1\",\"v\":1,\"ts\":3,\"status\":\"approved\"}");
    assert_int_equal(len, strlen(o1));
    assert_null(mq_store_get(s, "orders", "nope", &len));
    assert_int_equal(len, 0);
    assert_null(mq_store_get(s, "nope", "o1", NULL));
    assert_null(mq_store_get(s, "events", "", NULL));

    char *latest = scan_text(s, "orders", 1);
    assert_string_equal(latest, "o1={\"k\":\"o1\",\"v\":1,\"ts\":3,\"status\":\"approved\"}\n"
                                "o2={\"k\":\"o2\",\"v\":1,\"ts\":2,\"status\":\"ready\"}\n");
    char *all = scan_text(s, "orders", 0);
    assert_string_equal(all, "o1={\"k\":\"o1\",\"v\":1,\"ts\":1,\"status\":\"ready\"}\n"
                             "o2={\"k\":\"o2\",\"v\":1,\"ts\":2,\"status\":\"ready\"}\n"
                             "o1={\"k\":\"o1\",\"v\":1,\"ts\":3,\"status\":\"approved\"}\n");
    char *events = scan_text(s, "events", 0);
    assert_string_equal(events, "={\"k\":\"\",\"v\":1,\"ts\":4,\"type\":\"login\"}\n"
                                "={\"k\":\"\",\"v\":1,\"ts\":5,\"type\":\"logout\"}\n");
    char *ev_latest = scan_text(s, "events", 1);
    assert_string_equal(ev_latest, ""); /* unkeyed records have no "latest" */
    assert_int_equal(mq_store_scan(s, "nope", 0, collect_fn, &(collect){.n = 0}), MQ_ENOENT);

    mq_store_coll_stats st = stats_of(s, "orders");
    assert_int_equal(st.records, 3);
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.corrupt, 0);
    char path[PATH_MAX];
    assert_int_equal(st.bytes, file_size(ut_path(path, sizeof path, dir, "orders.ndjson")));
    mq_store_close(s);

    /* Replay rebuilds the same index and the same scans. */
    s = open_store(dir, NULL);
    assert_non_null(s);
    char *o1b = mq_store_get(s, "orders", "o1", NULL);
    assert_string_equal(o1b, o1);
    char *latest2 = scan_text(s, "orders", 1), *all2 = scan_text(s, "orders", 0);
    char *events2 = scan_text(s, "events", 0);
    assert_string_equal(latest2, latest);
    assert_string_equal(all2, all);
    assert_string_equal(events2, events);
    mq_store_coll_stats st2 = stats_of(s, "orders");
    assert_int_equal(st2.records, 3);
    assert_int_equal(st2.keys, 2);
    assert_int_equal(st2.bytes, st.bytes);

    /* Stats come sorted by name. */
    mq_store_coll_stats *all_st;
    size_t n;
    assert_int_equal(mq_store_stats(s, &all_st, &n), MQ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(all_st[0].name, "events");
    assert_string_equal(all_st[1].name, "orders");
    assert_string_equal(all_st[1].path, path);
    free(all_st);
    mq_store_close(s);

    free(o1), free(latest), free(all), free(events), free(ev_latest);
    free(o1b), free(latest2), free(all2), free(events2);
    ut_rm_rf(dir);
    free(dir);
}

static void store__added_fields__k_ts_v_first_writer_fields_kept(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_inline(dir);
    assert_non_null(s);
    int64_t before = (int64_t)time(NULL) * 1000;
    assert_int_equal(append_str(s, "orders", "o1", "{\"amount\":12900,\"provider\":\"kakao\"}"),
                     MQ_OK);
    int64_t after = ((int64_t)time(NULL) + 1) * 1000;
    char *r = mq_store_get(s, "orders", "o1", NULL);
    assert_non_null(r);
    assert_true(strncmp(r, "{\"k\":\"o1\",\"ts\":", 15) == 0);
    assert_non_null(strstr(r, ",\"v\":1,\"amount\":12900,\"provider\":\"kakao\"}"));
    int64_t ts = json_int_field(r, "ts");
    assert_true(ts >= before && ts <= after);
    assert_int_equal(json_int_field(r, "v"), 1);
    free(r);

    /* Fields the writer set are kept, and stay where the writer put them. */
    assert_int_equal(append_str(s, "orders", "o2", "{\"v\":3,\"amount\":1,\"ts\":77}"), MQ_OK);
    r = mq_store_get(s, "orders", "o2", NULL);
    assert_string_equal(r, "{\"k\":\"o2\",\"v\":3,\"amount\":1,\"ts\":77}");
    free(r);

    /* A record may carry its own key: with key NULL it is used as is. */
    assert_int_equal(append_str(s, "orders", NULL, "{\"a\":1,\"k\":\"o3\",\"ts\":5}"), MQ_OK);
    r = mq_store_get(s, "orders", "o3", NULL);
    assert_string_equal(r, "{\"v\":1,\"a\":1,\"k\":\"o3\",\"ts\":5}");
    free(r);
    /* ... as with "" (the api passes "" for no key) ... */
    assert_int_equal(append_str(s, "orders", "", "{\"k\":\"o6\",\"ts\":5}"), MQ_OK);
    r = mq_store_get(s, "orders", "o6", NULL);
    assert_string_equal(r, "{\"v\":1,\"k\":\"o6\",\"ts\":5}");
    free(r);
    /* ... and with a key given, it must be the same key. */
    assert_int_equal(append_str(s, "orders", "o4", "{\"k\":\"o3\"}"), MQ_EINVAL);
    assert_int_equal(append_str(s, "orders", "o3", "{\"k\":\"o3\",\"ts\":6,\"v\":1}"), MQ_OK);

    /* Compact, one line; whitespace and newlines of the input are gone. */
    assert_int_equal(append_str(s, "orders", "o5", "{ \"a\" :\n [ 1 ,\t2 ] ,\r\n \"b\" : { } }\n"),
                     MQ_OK);
    r = mq_store_get(s, "orders", "o5", NULL);
    assert_non_null(strstr(r, ",\"v\":1,\"a\":[1,2],\"b\":{}}"));
    free(r);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

static void store__unknown_fields__preserved_verbatim(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_inline(dir);
    assert_non_null(s);
    const char *in =
        "{\"k\":\"u1\",\"ts\":1,\"v\":2,\"future\":{\"nested\":[1,\"x\",null,true,false]},"
        "\"price\":0.1,\"huge\":1E400,\"neg\":-12.5e+3,\"big\":18446744073709551615,"
        "\"min\":-9223372036854775808,\"name\":\"퀴즈 왕 \\\"q\\\" \\\\ /\","
        "\"ctl\":\"a\\nb\\u0001\",\"emoji\":\"\\ud83d\\ude00\"}";
    assert_int_equal(append_str(s, "quiz", "u1", in), MQ_OK);
    mq_store_close(s);
    s = open_inline(dir);
    char *r = mq_store_get(s, "quiz", "u1", NULL);
    /* Numbers keep their text; strings are re-escaped minimally (json-c
     * writes non-ASCII as UTF-8 and does not escape '/'). */
    assert_string_equal(r,
                        "{\"k\":\"u1\",\"ts\":1,\"v\":2,\"future\":{\"nested\":[1,\"x\",null,true,"
                        "false]},\"price\":0.1,\"huge\":1E400,\"neg\":-12.5e+3,"
                        "\"big\":18446744073709551615,\"min\":-9223372036854775808,"
                        "\"name\":\"퀴즈 왕 \\\"q\\\" \\\\ /\",\"ctl\":\"a\\nb\\u0001\","
                        "\"emoji\":\"😀\"}");
    free(r);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

static void store__escaped_keys__indexed_by_their_text(void **state)
{
    char *dir = ut_mkdtemp("store");
    /* A file written by another writer, escaping what it need not. */
    assert_int_equal(ut_write_str(dir, "users.ndjson",
                                  "{\"\\u006b\":\"caf\\u00e9\",\"v\":1,\"ts\":1,\"n\":1}\n"
                                  "{\"k\":\"a\\\"b\\\\c\",\"v\":1,\"ts\":1,\"n\":2}\n"
                                  "{\"k\":\"\\ud83d\\ude00\",\"v\":1,\"ts\":1,\"n\":3}\n"
                                  "{\"k\":\"x\",\"k\":\"y\",\"v\":1,\"ts\":1,\"n\":4}\n"
                                  "{\"k\":\"z\",\"v\":1,\"k\":7,\"ts\":1,\"n\":5}\n"),
                     0);
    mq_store *s = open_inline(dir);
    assert_non_null(s);
    char *r;
    assert_non_null(r = mq_store_get(s, "users", "café", NULL));
    free(r);
    assert_non_null(r = mq_store_get(s, "users", "a\"b\\c", NULL));
    free(r);
    assert_non_null(r = mq_store_get(s, "users", "😀", NULL));
    free(r);
    /* Duplicate names: the last one counts, as in json-c. */
    assert_null(mq_store_get(s, "users", "x", NULL));
    assert_non_null(r = mq_store_get(s, "users", "y", NULL));
    free(r);
    assert_null(mq_store_get(s, "users", "z", NULL)); /* "k":7 is no key */
    mq_store_coll_stats st = stats_of(s, "users");
    assert_int_equal(st.records, 5);
    assert_int_equal(st.keys, 4);

    /* Our own appends with quotes and backslashes in the key read back. */
    assert_int_equal(append_str(s, "users", "q\"\\k", "{\"n\":6}"), MQ_OK);
    mq_store_close(s);
    s = open_inline(dir);
    assert_non_null(r = mq_store_get(s, "users", "q\"\\k", NULL));
    assert_int_equal(json_int_field(r, "n"), 6);
    free(r);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

static void store__many_keys__replay_matches_last_write(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_inline(dir);
    assert_non_null(s);
    enum { KEYS = 3000, WRITES = 20000 };
    static int last[KEYS];
    memset(last, -1, sizeof last);
    uint32_t x = 12345;
    for (int i = 0; i < WRITES; i++) {
        x = x * 1103515245u + 12345u;
        int k = (int)((x >> 8) % KEYS);
        char key[32], json[64];
        snprintf(key, sizeof key, "key-%d", k);
        snprintf(json, sizeof json, "{\"ts\":1,\"i\":%d}", i);
        assert_int_equal(append_str(s, "big", key, json), MQ_OK);
        last[k] = i;
    }
    mq_store_close(s);
    s = open_inline(dir);
    size_t nkeys = 0;
    for (int k = 0; k < KEYS; k++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", k);
        char *r = mq_store_get(s, "big", key, NULL);
        if (last[k] < 0) {
            assert_null(r);
            continue;
        }
        nkeys++;
        assert_non_null(r);
        assert_int_equal(json_int_field(r, "i"), last[k]);
        free(r);
    }
    mq_store_coll_stats st = stats_of(s, "big");
    assert_int_equal(st.records, WRITES);
    assert_int_equal(st.keys, nkeys);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

/* ---- damage at open --------------------------------------------------------- */

static void store__torn_last_line__truncated_earlier_kept(void **state)
{
    char *dir = ut_mkdtemp("store");
    const char *good = "{\"k\":\"a\",\"ts\":1,\"v\":1}\n"
                       "{\"k\":\"b\",\"ts\":2,\"v\":1}\n"
                       "{\"k\":\"a\",\"ts\":3,\"v\":1}\n";
    char text[512];
    UT_SNPRINTF(text, sizeof text, "%s{\"k\":\"c\",\"ts\":4,\"am", good);
    assert_int_equal(ut_write_str(dir, "orders.ndjson", text), 0);
    char path[PATH_MAX];
    ut_path(path, sizeof path, dir, "orders.ndjson");

    capture cap;
    capture_begin(&cap, dir);
    mq_store *s = open_inline(dir);
    char *log = capture_end(&cap);
    assert_non_null(s);
    char want[PATH_MAX + 128];
    UT_SNPRINTF(want, sizeof want,
                "store \"orders\": torn last line (19 bytes) truncated from \"%s\"", path);
    assert_non_null(strstr(log, want));
    free(log);

    assert_int_equal(file_size(path), strlen(good));
    mq_store_coll_stats st = stats_of(s, "orders");
    assert_int_equal(st.records, 3);
    assert_int_equal(st.corrupt, 0);
    assert_int_equal(st.bytes, strlen(good));
    char *r = mq_store_get(s, "orders", "a", NULL);
    assert_int_equal(json_int_field(r, "ts"), 3);
    free(r);
    assert_null(mq_store_get(s, "orders", "c", NULL));

    /* The next record starts on a line of its own. */
    assert_int_equal(append_str(s, "orders", "c", "{\"ts\":5}"), MQ_OK);
    mq_store_close(s);
    s = open_inline(dir);
    st = stats_of(s, "orders");
    assert_int_equal(st.records, 4);
    assert_int_equal(st.corrupt, 0);
    r = mq_store_get(s, "orders", "c", NULL);
    assert_int_equal(json_int_field(r, "ts"), 5);
    free(r);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

typedef struct corrupt_log {
    uint64_t lines[64];
    size_t n;
    char coll[64];
} corrupt_log;

static void on_corrupt(const char *collection, uint64_t line, void *ud)
{
    corrupt_log *c = ud;
    snprintf(c->coll, sizeof c->coll, "%s", collection);
    if (c->n < 64)
        c->lines[c->n] = line;
    c->n++;
}

static void store__garbage_line_in_middle__kept_skipped_counted(void **state)
{
    char *dir = ut_mkdtemp("store");
    const char *text = "{\"k\":\"a\",\"ts\":1,\"v\":1}\n"
                       "\x01\x02garbage{\"k\":\"a\"\n"
                       "{\"k\":\"b\",\"ts\":2,\"v\":1}\n"
                       "[{\"k\":\"a\"}]\n"
                       "\n"
                       "{\"k\":\"a\",\"ts\":3,\"v\":1}\n"
                       "{\"k\":\"b\",\"ts\":NaN}\n"
                       "{\"k\":\"c\",\"ts\":4,\"v\":1} trailing\n";
    assert_int_equal(ut_write_str(dir, "orders.ndjson", text), 0);
    char path[PATH_MAX];
    ut_path(path, sizeof path, dir, "orders.ndjson");

    corrupt_log cl = {.n = 0};
    mq_store_opts o = {.no_sync_thread = 1, .on_corrupt = on_corrupt, .ud = &cl};
    capture cap;
    capture_begin(&cap, dir);
    mq_store *s = open_store(dir, &o);
    char *log = capture_end(&cap);
    assert_non_null(s);

    assert_int_equal(cl.n, 5);
    assert_string_equal(cl.coll, "orders");
    uint64_t want_lines[] = {2, 4, 5, 7, 8};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(cl.lines[i], want_lines[i]);
        char want[PATH_MAX + 128];
        UT_SNPRINTF(want, sizeof want,
                    "store \"orders\": line %llu of \"%s\" is not a JSON object; skipped",
                    (unsigned long long)want_lines[i], path);
        assert_non_null(strstr(log, want));
    }
    free(log);

    mq_store_coll_stats st = stats_of(s, "orders");
    assert_int_equal(st.records, 3);
    assert_int_equal(st.corrupt, 5);
    assert_int_equal(st.keys, 2);
    /* Records after the damage are indexed; the file is left as it was. */
    char *r = mq_store_get(s, "orders", "a", NULL);
    assert_int_equal(json_int_field(r, "ts"), 3);
    free(r);
    r = mq_store_get(s, "orders", "b", NULL);
    assert_int_equal(json_int_field(r, "ts"), 2);
    free(r);
    assert_null(mq_store_get(s, "orders", "c", NULL));
    char *all = scan_text(s, "orders", 0);
    assert_string_equal(all, "a={\"k\":\"a\",\"ts\":1,\"v\":1}\n"
                             "b={\"k\":\"b\",\"ts\":2,\"v\":1}\n"
                             "a={\"k\":\"a\",\"ts\":3,\"v\":1}\n");
    free(all);
    assert_int_equal(append_str(s, "orders", "c", "{\"ts\":9}"), MQ_OK);
    mq_store_close(s);
    size_t n = 0;
    char *now = ut_read(path, NULL, &n);
    assert_true(n > strlen(text) && memcmp(now, text, strlen(text)) == 0);
    free(now);

    /* Reopening counts the same lines again, and the new record. */
    cl.n = 0;
    s = open_store(dir, &o);
    assert_int_equal(cl.n, 5);
    st = stats_of(s, "orders");
    assert_int_equal(st.records, 4);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

static int fill_line(int fd, size_t n, char c)
{
    char buf[65536];
    memset(buf, c, sizeof buf);
    while (n > 0) {
        size_t w = n < sizeof buf ? n : sizeof buf;
        if (write(fd, buf, w) != (ssize_t)w)
            return -1;
        n -= w;
    }
    return 0;
}

/* A file with a 2 MB line (a JSON-looking one) between two records. */
static void write_two_mb_file(const char *path, int torn_tail)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const char *a = "{\"k\":\"a\",\"ts\":1,\"v\":1}\n";
    const char *b = "{\"k\":\"b\",\"ts\":2,\"v\":1}\n";
    assert_int_equal(write(fd, a, strlen(a)), strlen(a));
    assert_int_equal(write(fd, "{\"k\":\"a\",\"x\":\"", 14), 14);
    assert_int_equal(fill_line(fd, 2u << 20, 'x'), 0);
    assert_int_equal(write(fd, "\"}\n", 3), 3);
    assert_int_equal(write(fd, b, strlen(b)), strlen(b));
    if (torn_tail) /* and a 2 MB torn tail */
        assert_int_equal(fill_line(fd, 2u << 20, 'y'), 0);
    close(fd);
}

/* `test_store --replay-limited DIR`: replay DIR where a 2 MB allocation
 * cannot succeed: RLIMIT_DATA leaves room for the 1.25 MiB read buffer, not
 * for the 2 MB line. Exit status 0 when the replay worked. */
static long vm_data(void);

static int replay_limited(const char *dir)
{
    /* Large blocks as fresh mappings, which RLIMIT_DATA counts. */
    mallopt(M_MMAP_THRESHOLD, 64 << 10);
    long data = vm_data();
    CHILD_CHECK(data > 0);
    struct rlimit rl = {(rlim_t)data + (rlim_t)(1800u << 10), RLIM_INFINITY};
    CHILD_CHECK(setrlimit(RLIMIT_DATA, &rl) == 0);
    void *probe = malloc(2u << 20);
    CHILD_CHECK(probe == NULL); /* the limit bites */
    mq_store_opts o = {.no_sync_thread = 1};
    char err[256] = "";
    mq_store *s = mq_store_open(dir, &o, err, sizeof err);
    if (!s)
        fprintf(stderr, "replay under RLIMIT_DATA failed: %s\n", err);
    CHILD_CHECK(s != NULL);
    mq_store_coll_stats *st;
    size_t n;
    CHILD_CHECK(mq_store_stats(s, &st, &n) == MQ_OK && n == 1);
    CHILD_CHECK(st[0].records == 2 && st[0].corrupt == 1);
    free(st);
    mq_store_close(s);
    return 0;
}

/* VmData of this process in bytes (what RLIMIT_DATA is checked against). */
static long vm_data(void)
{
    char *st = ut_read("/proc/self/status", NULL, NULL);
    const char *p = st ? strstr(st, "VmData:") : NULL;
    long kb = p ? strtol(p + 7, NULL, 10) : -1;
    free(st);
    return kb < 0 ? -1 : kb * 1024;
}

static void store__two_mb_line_in_middle__skipped_without_holding_it(void **state)
{
    char *dir = ut_mkdtemp("store");
    char path[PATH_MAX];
    ut_path(path, sizeof path, dir, "orders.ndjson");
    write_two_mb_file(path, 1);
    off_t whole = file_size(path) - (2 << 20);

    corrupt_log cl = {.n = 0};
    mq_store_opts o = {.no_sync_thread = 1, .on_corrupt = on_corrupt, .ud = &cl};
    capture cap;
    capture_begin(&cap, dir);
    mq_store *s = open_store(dir, &o);
    char *log = capture_end(&cap);
    assert_non_null(s);
    assert_int_equal(cl.n, 1);
    assert_int_equal(cl.lines[0], 2);
    char want[PATH_MAX + 128];
    UT_SNPRINTF(want, sizeof want,
                "store \"orders\": line 2 of \"%s\" is longer than 1048576 bytes; skipped", path);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "torn last line (2097152 bytes) truncated"));
    free(log);
    assert_int_equal(file_size(path), whole);
    mq_store_coll_stats st = stats_of(s, "orders");
    assert_int_equal(st.records, 2);
    assert_int_equal(st.corrupt, 1);
    char *r = mq_store_get(s, "orders", "a", NULL);
    assert_int_equal(json_int_field(r, "ts"), 1);
    free(r);
    char *all = scan_text(s, "orders", 0);
    assert_string_equal(all,
                        "a={\"k\":\"a\",\"ts\":1,\"v\":1}\nb={\"k\":\"b\",\"ts\":2,\"v\":1}\n");
    free(all);
    mq_store_close(s);

#if !UNDER_SANITIZER
    /* The same replay where a 2 MB allocation cannot succeed: RLIMIT_DATA
     * leaves room for the 1.25 MiB read buffer, not for the line. */
    write_two_mb_file(path, 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A fresh process: no heap space freed by earlier tests to reuse. */
        execl("/proc/self/exe", "test_store", "--replay-limited", dir, (char *)NULL);
        _exit(127);
    }
    assert_child_ok(pid, NULL);
#endif
    ut_rm_rf(dir);
    free(dir);
}

/* ---- failed appends (disk full) ------------------------------------------------ */

static void store__disk_full_rlimit_fsize__append_fails_file_whole(void **state)
{
    char *dir = ut_mkdtemp("store");
    char path[PATH_MAX], logp[PATH_MAX];
    ut_path(path, sizeof path, dir, "orders.ndjson");
    ut_path(logp, sizeof logp, dir, "child.log");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int lfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(lfd, 2);
        signal(SIGXFSZ, SIG_IGN); /* the host does the same: EFBIG, not death */
        mq_store *s = open_inline(dir);
        CHILD_CHECK(s);
        for (int i = 0; i < 5; i++)
            CHILD_CHECK(append_str(s, "orders", "o", "{\"ts\":1,\"status\":\"ready\"}") == MQ_OK);
        off_t before = file_size(path);
        /* A full disk 40 bytes on: the record is written partly, then fails. */
        struct rlimit rl = {(rlim_t)before + 40, RLIM_INFINITY};
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
        char big[300];
        snprintf(big, sizeof big, "{\"ts\":2,\"pad\":\"%0200d\"}", 0);
        uint64_t seq = 99;
        CHILD_CHECK(mq_store_append(s, "orders", "o", big, strlen(big), 1, &seq) == MQ_EIO);
        CHILD_CHECK(seq == 0);
        CHILD_CHECK(file_size(path) == before);
        CHILD_CHECK(ends_with_newline(path));
        CHILD_CHECK(append_str(s, "orders", "o", big) == MQ_EIO);
        CHILD_CHECK(append_str(s, "orders", "p", big) == MQ_EIO);
        CHILD_CHECK(file_size(path) == before);
        char *r = mq_store_get(s, "orders", "o", NULL);
        CHILD_CHECK(r && json_int_field(r, "ts") == 1);
        free(r);
        CHILD_CHECK(stats_of(s, "orders").records == 5);
        /* Space again: the next append works and lands on its own line. */
        rl.rlim_cur = RLIM_INFINITY;
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
        CHILD_CHECK(mq_store_append(s, "orders", "o", big, strlen(big), 1, &seq) == MQ_OK);
        CHILD_CHECK(seq == 1);
        mq_store_close(s);
        corrupt_log cl = {.n = 0};
        mq_store_opts o = {.no_sync_thread = 1, .on_corrupt = on_corrupt, .ud = &cl};
        s = open_store(dir, &o);
        CHILD_CHECK(s && cl.n == 0);
        CHILD_CHECK(stats_of(s, "orders").records == 6);
        r = mq_store_get(s, "orders", "o", NULL);
        CHILD_CHECK(r && json_int_field(r, "ts") == 2);
        free(r);
        mq_store_close(s);
        _exit(0);
    }
    assert_child_ok(pid, logp);
    char *log = ut_read(logp, NULL, NULL);
    /* One line for the whole run of failures, one when it recovers. */
    assert_int_equal(count_substr(log, "append to \"orders\" failed: File too large"), 1);
    assert_int_equal(count_substr(log, "append to \"orders\" works again after 3 failed"), 1);
    free(log);
    ut_rm_rf(dir);
    free(dir);
}

static void store__disk_full_tmpfs__append_fails_file_whole(void **state)
{
    char *dir = ut_mkdtemp("store");
    char mnt[PATH_MAX], data[PATH_MAX], filler[PATH_MAX], path[PATH_MAX];
    ut_path(mnt, sizeof mnt, dir, "mnt");
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") != 0) {
        fprintf(stderr, "mount tmpfs failed (%s): skipped\n", strerror(errno));
        ut_rm_rf(dir);
        free(dir);
        skip();
    }
    ut_path(data, sizeof data, mnt, "data");
    ut_path(filler, sizeof filler, mnt, "filler");
    ut_path(path, sizeof path, data, "orders.ndjson");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Something else holds 16 KiB of the disk; freed later. */
        int ffd = open(filler, O_WRONLY | O_CREAT, 0600);
        CHILD_CHECK(ffd >= 0 && fill_line(ffd, 16 << 10, 'f') == 0);
        close(ffd);
        mq_store *s = open_store(data, NULL); /* with the sync thread */
        CHILD_CHECK(s);
        char rec[700];
        snprintf(rec, sizeof rec, "{\"pad\":\"%0600d\"}", 0);
        int ok = 0, rc;
        uint64_t seq = 0;
        while ((rc = mq_store_append(s, "orders", "k", rec, strlen(rec), 1, &seq)) == MQ_OK)
            ok++;
        CHILD_CHECK(rc == MQ_EIO);
        CHILD_CHECK(ok > 10);
        CHILD_CHECK(wait_synced(s, (uint64_t)ok, 5000) == 0);
        off_t size = file_size(path);
        CHILD_CHECK(size > 0 && (uint64_t)size == stats_of(s, "orders").bytes);
        CHILD_CHECK(ends_with_newline(path));
        CHILD_CHECK(unlink(filler) == 0);
        CHILD_CHECK(mq_store_append(s, "orders", "k", rec, strlen(rec), 1, &seq) == MQ_OK);
        CHILD_CHECK(wait_synced(s, seq, 5000) == 0);
        mq_store_close(s);
        corrupt_log cl = {.n = 0};
        mq_store_opts o = {.no_sync_thread = 1, .on_corrupt = on_corrupt, .ud = &cl};
        s = open_store(data, &o);
        CHILD_CHECK(s && cl.n == 0);
        CHILD_CHECK(stats_of(s, "orders").records == (uint64_t)ok + 1);
        mq_store_close(s);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    umount2(mnt, MNT_DETACH);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child failed (status 0x%x)", status);
    ut_rm_rf(dir);
    free(dir);
}

/* ---- durability -------------------------------------------------------------- */

static void store__durable_appends__seq_notify_and_synced_advance(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_store(dir, NULL);
    assert_non_null(s);
    int nfd = mq_store_notify_fd(s);
    assert_true(nfd >= 0);
    assert_true(fcntl(nfd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(mq_store_last_seq(s), 0);
    uint64_t seq = 7;
    assert_int_equal(mq_store_append(s, "orders", "o", "{}", 2, 0, &seq), MQ_OK);
    assert_int_equal(seq, 0); /* not durable: no sequence */
    uint64_t prev = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mq_store_append(s, "orders", "o", "{}", 2, 1, &seq), MQ_OK);
        assert_true(seq > prev);
        prev = seq;
    }
    assert_int_equal(mq_store_last_seq(s), prev);
    struct pollfd p = {.fd = nfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(wait_synced(s, prev, 5000), 0);
    int failed = 1;
    assert_int_equal(mq_store_synced(s, &failed), prev);
    assert_int_equal(failed, 0);
    /* Nothing pending: once drained, it stays quiet. (A sync finishing
     * between the drain and the read of the sequence can leave one stale
     * wake-up behind, hence the second drain.) */
    assert_int_equal(mq_store_synced(s, NULL), prev);
    assert_int_equal(poll(&p, 1, 0), 0);

    /* A burst in one loop turn shares syncs: many appends, few wake-ups. */
    for (int i = 0; i < 200; i++)
        assert_int_equal(mq_store_append(s, "events", NULL, "{}", 2, 1, &seq), MQ_OK);
    assert_int_equal(seq, prev + 200);
    assert_int_equal(wait_synced(s, seq, 10000), 0);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

static void store__no_sync_thread__durable_synced_inline(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_inline(dir);
    assert_int_equal(mq_store_notify_fd(s), -1);
    uint64_t seq = 0;
    assert_int_equal(mq_store_append(s, "orders", "o", "{}", 2, 1, &seq), MQ_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(mq_store_synced(s, NULL), 1);
    assert_int_equal(mq_store_append(s, "orders", "o", "{}", 2, 1, NULL), MQ_OK);
    assert_int_equal(mq_store_synced(s, NULL), 2);
    assert_int_equal(mq_store_last_seq(s), 2);
    mq_store_close(s);
    mq_store_close(NULL);
    ut_rm_rf(dir);
    free(dir);
}

/* The heart of the durability promise: a child appends durably in bursts and
 * reports a record only once mq_store_synced has passed its sequence; we
 * SIGKILL it mid-burst; every reported record must be there on reopen. */
static void store__kill_9_mid_burst__every_acknowledged_record_survives(void **state)
{
    char *dir = ut_mkdtemp("store");
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        mq_store *s = open_store(dir, NULL);
        CHILD_CHECK(s);
        enum { MAXP = 4096 };
        static uint64_t pend_seq[MAXP];
        static uint32_t pend_id[MAXP];
        size_t np = 0;
        uint32_t id = 0;
        for (;;) {
            size_t burst = 1 + id % 37;
            for (size_t j = 0; j < burst && np < MAXP; j++, id++) {
                char key[32], json[128];
                snprintf(key, sizeof key, "r%08u", id);
                snprintf(json, sizeof json, "{\"n\":%u,\"amount\":%u,\"status\":\"approved\"}", id,
                         id * 100);
                uint64_t seq = 0;
                CHILD_CHECK(mq_store_append(s, id % 3 ? "orders" : "events", key, json,
                                            strlen(json), 1, &seq) == MQ_OK);
                pend_seq[np] = seq;
                pend_id[np++] = id;
            }
            struct pollfd p = {.fd = mq_store_notify_fd(s), .events = POLLIN};
            poll(&p, 1, 1000);
            int failed = 0;
            uint64_t synced = mq_store_synced(s, &failed);
            CHILD_CHECK(!failed);
            /* Acknowledge exactly the records whose sequence is synced. */
            uint32_t acks[MAXP];
            size_t na = 0, keep = 0;
            for (size_t i = 0; i < np; i++) {
                if (pend_seq[i] <= synced)
                    acks[na++] = pend_id[i];
                else {
                    pend_seq[keep] = pend_seq[i];
                    pend_id[keep++] = pend_id[i];
                }
            }
            np = keep;
            if (na && write(pfd[1], acks, na * sizeof acks[0]) != (ssize_t)(na * sizeof acks[0]))
                _exit(2);
        }
    }
    close(pfd[1]);
    /* Let it run until a good number of acknowledgements, then kill it. */
    size_t cap = 1 << 16, have = 0;
    unsigned char *buf = malloc(cap);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (have / 4 >= 3000 || t.tv_sec - t0.tv_sec > 15)
            break;
        ssize_t r = read(pfd[0], buf + have, cap - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        if (cap - have < 4096)
            buf = realloc(buf, cap *= 2);
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* Acknowledgements already in the pipe were given before the kill. */
    for (ssize_t r; (r = read(pfd[0], buf + have, cap - have)) > 0;) {
        have += (size_t)r;
        if (cap - have < 4096)
            buf = realloc(buf, cap *= 2);
    }
    close(pfd[0]);
    size_t nacks = have / 4;
    assert_true(nacks >= 100);

    corrupt_log cl = {.n = 0};
    mq_store_opts o = {.no_sync_thread = 1, .on_corrupt = on_corrupt, .ud = &cl};
    mq_store *s = open_store(dir, &o);
    assert_non_null(s);
    assert_int_equal(cl.n, 0);
    uint32_t max_id = 0;
    for (size_t i = 0; i < nacks; i++) {
        uint32_t id;
        memcpy(&id, buf + i * 4, 4);
        char key[32];
        snprintf(key, sizeof key, "r%08u", id);
        char *r = mq_store_get(s, id % 3 ? "orders" : "events", key, NULL);
        if (!r)
            fail_msg("acknowledged record %s is missing after kill -9", key);
        assert_int_equal(json_int_field(r, "n"), id);
        free(r);
        if (id > max_id)
            max_id = id;
    }
    uint64_t total = stats_of(s, "orders").records + stats_of(s, "events").records;
    assert_true(total >= nacks);
    fprintf(stderr, "kill -9: %zu acknowledged, %llu on disk\n", nacks, (unsigned long long)total);
    mq_store_close(s);
    free(buf);
    ut_rm_rf(dir);
    free(dir);
}

/* ---- validation ------------------------------------------------------------------ */

static void store__bad_names_keys_and_json__rejected_nothing_written(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store_opts o = {.no_sync_thread = 1, .max_record_bytes = 600};
    mq_store *s = open_store(dir, &o);
    assert_non_null(s);

    assert_false(mq_store_name_valid(NULL));
    assert_false(mq_store_name_valid(""));
    assert_false(mq_store_name_valid("Orders"));
    assert_false(mq_store_name_valid("a-b"));
    assert_false(mq_store_name_valid("../x"));
    assert_false(mq_store_name_valid("a.ndjson"));
    assert_false(mq_store_name_valid("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
    assert_true(mq_store_name_valid("abcdefghijklmnopqrstuvwxyz012345"));   /* 32 */
    assert_true(mq_store_name_valid("coupon_2024"));
    assert_int_equal(append_str(s, "Orders", "k", "{}"), MQ_EINVAL);
    assert_int_equal(append_str(s, "", "k", "{}"), MQ_EINVAL);
    assert_int_equal(append_str(s, NULL, "k", "{}"), MQ_EINVAL);

    char long_key[258];
    memset(long_key, 'x', 257);
    long_key[257] = '\0';
    const char *bad_keys[] = {
        "a\nb", "tab\t", "del\x7f", "c1\xc2\x85", "bad\xff", "half\xed\xa0\x80", long_key};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++)
        assert_int_equal(append_str(s, "orders", bad_keys[i], "{}"), MQ_EINVAL);
    long_key[256] = '\0';
    assert_int_equal(append_str(s, "orders", long_key, "{}"), MQ_OK); /* 256 bytes is fine */
    assert_int_equal(append_str(s, "orders", "한글키", "{}"), MQ_OK);

    char deep[100] = "{\"a\":";
    for (int i = 0; i < 32; i++)
        strcat(deep, "[");
    for (int i = 0; i < 32; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    const char *bad_json[] = {"",
                              "   ",
                              "[1]",
                              "\"x\"",
                              "1",
                              "null",
                              "{",
                              "{\"a\":1",
                              "{} {}",
                              "{\"a\":1}x",
                              "{\"a\":NaN}",
                              "{\"a\":Infinity}",
                              "{\"a\":1.}",
                              "{\"a\":.5}",
                              "{\"a\":01}",
                              "{'a':1}",
                              "{\"a\":1,}",
                              "{a:1}",
                              "{\"a\":\"x\ty\"}",
                              "{\"a\":\"\xff\"}",
                              "{\"a\":\"\\ud800\"}",
                              "{\"a\":\"\\x\"}",
                              "{\"a\":12345678901234567890123}",
                              "{\"a\":-9223372036854775809}",
                              "{\"a\":TRUE}",
                              "{\"a\\u0000b\":1}",
                              "{\"k\":1}",
                              "{\"k\":\"bad\\n\"}",
                              "{\"ts\":\"now\"}",
                              "{\"v\":1.5}",
                              "/*c*/{}",
                              deep};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        if (append_str(s, "orders", "k", bad_json[i]) != MQ_EINVAL)
            fail_msg("accepted bad JSON #%zu: %s", i, bad_json[i]);
    }
    deep[strlen(deep) - 2] = '\0'; /* 31 arrays in an object: 32 levels, fine */
    strcat(deep, "}");
    memmove(deep + 5, deep + 6, strlen(deep + 6) + 1);
    assert_int_equal(append_str(s, "orders", "k", deep), MQ_OK);
    /* A NUL inside the given length is not JSON either. */
    assert_int_equal(mq_store_append(s, "orders", "k", "{}\0", 3, 0, NULL), MQ_EINVAL);

    /* Too big: the input, or the record once k/ts/v are added. */
    char big[700];
    snprintf(big, sizeof big, "{\"pad\":\"%0600d\"}", 0);
    assert_int_equal(append_str(s, "orders", "k", big), MQ_ETOOBIG);
    snprintf(big, sizeof big, "{\"pad\":\"%0580d\"}", 0);
    assert_true(strlen(big) <= 600);
    assert_int_equal(append_str(s, "orders", "k", big), MQ_ETOOBIG);

    mq_store_coll_stats st = stats_of(s, "orders");
    assert_int_equal(st.records, 3);
    mq_store_close(s);
    s = open_store(dir, &o);
    assert_int_equal(stats_of(s, "orders").corrupt, 0);
    assert_int_equal(stats_of(s, "orders").records, 3);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Every line the store's own validator accepts must be a JSON object to
 * json-c (what every reader uses), with the same "k". Mutated records and
 * hand-picked edge cases, through the public interface. */
static const char *seed_lines[] = {
    "{\"k\":\"o1\",\"ts\":1700000000000,\"v\":1,\"amount\":12900,\"provider\":\"kakao\"}",
    "{\"k\":\"\",\"ts\":1,\"v\":1,\"type\":\"quiz\",\"score\":[1,2,3.5e-2],\"meta\":{\"a\":null}}",
    "{\"v\":2,\"k\":\"a\\\"b\",\"x\":\"\\u00e9\\ud83d\\ude00\\n\",\"t\":true,\"f\":false}",
    "{\"\\u006b\":\"esc\",\"n\":-0.5E+10,\"o\":{},\"l\":[]}",
    "{\"k\":\"x\",\"k\":\"y\"}",
    "{\"k\":\"x\",\"k\":{\"k\":\"z\"}}",
    " {\"k\" : \"spaced\" , \"a\" : [ 1 , 2 ] }\r",
    "{\"k\":\"퀴즈\",\"msg\":\"안녕하세요\"}",
};

/* json-c's verdict on one line (strict mode, as the store's readers use
 * it): an object with nothing but whitespace after it; *k gets its "k" when
 * that is a string, else "". */
static int jsonc_object(const char *line, char *k, size_t kcap)
{
    /* Not one reused tokener: json-c 0.16's json_tokener_reset() keeps the
     * state of an unfinished \u escape, garbling the next line's strings. */
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    size_t len = strlen(line);
    json_object *o = json_tokener_parse_ex(tok, line, (int)len);
    int ok = o && json_object_is_type(o, json_type_object);
    if (ok) {
        size_t end = json_tokener_get_parse_end(tok);
        while (end < len && strchr(" \t\r", line[end]))
            end++;
        ok = end == len;
    }
    json_object *kv;
    k[0] = '\0';
    if (ok && json_object_object_get_ex(o, "k", &kv) && json_object_is_type(kv, json_type_string))
        snprintf(k, kcap, "%s", json_object_get_string(kv));
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

static void mark_corrupt(const char *collection, uint64_t line, void *ud)
{
    ((char *)ud)[line] = 1;
}

typedef struct gathered {
    char **keys, **jsons;
    size_t n, cap;
} gathered;

static int gather(const char *key, const char *json, size_t len, void *ud)
{
    gathered *g = ud;
    if (g->n < g->cap) {
        g->keys[g->n] = strdup(key);
        g->jsons[g->n] = strndup(json, len);
    }
    g->n++;
    return 0;
}

/* Edge cases json-c reads but the store must not count (NaN, "1.", raw
 * control bytes in strings, single quotes, ...) and nesting at the limit.
 * (Lone surrogates and huge integers are JSON: replay keeps them; only
 * appends refuse them, see the bad-input test.) */
static void edge_line(int i, char *buf, size_t cap)
{
    static const char *fixed[] = {"{\"k\":\"n\",\"a\":NaN}",
                                  "{\"k\":\"i\",\"a\":-Infinity}",
                                  "{\"k\":\"d\",\"a\":1.}",
                                  "{\"k\":\"t\",\"a\":\"x\ty\"}",
                                  "{'k':'q'}",
                                  "{\"k\":\"z\",\"a\":01}",
                                  "{\"k\":\"c\"}/*c*/",
                                  "{\"k\":\"e\",}",
                                  "\xef\xbb\xbf{\"k\":\"bom\"}",
                                  "{\"k\":\"f\"}\x0c"};
    enum { NFIXED = sizeof fixed / sizeof *fixed };
    if (i < NFIXED) {
        snprintf(buf, cap, "%s", fixed[i]);
        return;
    }
    /* 32 levels (fine for both) and 33 (too deep for json-c). */
    int depth = i == NFIXED ? 32 : 33;
    size_t n = (size_t)snprintf(buf, cap, "{\"k\":\"deep%d\",\"a\":", depth);
    for (int d = 1; d < depth; d++)
        buf[n++] = '[';
    for (int d = 1; d < depth; d++)
        buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
}

static void store__validator__accepts_only_what_json_c_reads(void **state)
{
    char *dir = ut_mkdtemp("store");
    char path[PATH_MAX];
    ut_path(path, sizeof path, dir, "fuzz.ndjson");
    enum { LINES = 30000, SEEDS = sizeof seed_lines / sizeof *seed_lines, EDGES = 12 };
    static char *lines[LINES];
    uint64_t x = 88172645463325252ull;
    const char sig[] = "{}[]\":,\\ tfnu0123456789eE.+-k\x01\x80\xc3\xa9";
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < LINES; i++) {
        const char *seedl = seed_lines[i % SEEDS];
        char buf[512];
        size_t n = strlen(seedl);
        memcpy(buf, seedl, n);
        /* The seeds as they are, then edge cases, then 1..4 mutations. */
        if (i >= 4 * SEEDS && i < 4 * SEEDS + EDGES) {
            edge_line(i - 4 * SEEDS, buf, sizeof buf);
            n = strlen(buf);
        }
        int muts = i < 4 * SEEDS + EDGES ? 0 : 1 + (int)(xorshift(&x) % 4);
        for (int m = 0; m < muts && n > 0; m++) {
            size_t at = xorshift(&x) % n;
            switch (xorshift(&x) % 4) {
            case 0: /* delete */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            case 1: /* insert a significant byte */
                if (n < sizeof buf - 1) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = sig[xorshift(&x) % (sizeof sig - 1)];
                    n++;
                }
                break;
            case 2: buf[at] = sig[xorshift(&x) % (sizeof sig - 1)]; break;
            default: buf[at] = (char)(xorshift(&x) % 255 + 1); break;
            }
        }
        for (size_t j = 0; j < n; j++)
            if (buf[j] == '\n' || buf[j] == '\0')
                buf[j] = ' ';
        lines[i] = strndup(buf, n);
        fprintf(f, "%s\n", lines[i]);
    }
    assert_int_equal(fclose(f), 0);

    static char corrupt[LINES + 1];
    memset(corrupt, 0, sizeof corrupt);
    mq_store_opts o = {.no_sync_thread = 1, .on_corrupt = mark_corrupt, .ud = corrupt};
    capture cap; /* thousands of corrupt-line warnings */
    capture_begin(&cap, dir);
    mq_store *s = open_store(dir, &o);
    free(capture_end(&cap));
    assert_non_null(s);
    static char *keys[LINES], *jsons[LINES];
    gathered g = {.keys = keys, .jsons = jsons, .cap = LINES};
    assert_int_equal(mq_store_scan(s, "fuzz", 0, gather, &g), MQ_OK);

    size_t r = 0, rejected = 0, jsonc_only = 0;
    for (int i = 0; i < LINES; i++) {
        char k[512];
        int jc = jsonc_object(lines[i], k, sizeof k);
        if (corrupt[i + 1]) {
            rejected++;
            jsonc_only += (size_t)jc;
            if (i < 4 * SEEDS || strstr(lines[i], "\"deep32\""))
                fail_msg("a valid line was rejected: %s", lines[i]);
            continue;
        }
        assert_true(r < g.n);
        assert_string_equal(jsons[r], lines[i]); /* the scan returns the line as is */
        if (!jc)
            fail_msg("store accepted a line json-c rejects: %s", lines[i]);
        if (i >= 4 * SEEDS && i < 4 * SEEDS + EDGES && !strstr(lines[i], "deep32"))
            fail_msg("store accepted an edge case: %s", lines[i]);
        if (strcmp(k, keys[r]) != 0)
            fail_msg("key differs: store \"%s\", json-c \"%s\" in %s", keys[r], k, lines[i]);
        r++;
    }
    assert_int_equal(r, g.n);
    mq_store_coll_stats st = stats_of(s, "fuzz");
    assert_int_equal(st.records, g.n);
    assert_int_equal(st.corrupt, rejected);
    fprintf(stderr, "validator: %zu accepted, %zu rejected (%zu of them json-c reads)\n", g.n,
            rejected, jsonc_only);
    for (size_t i = 0; i < g.n; i++)
        free(keys[i]), free(jsons[i]);
    for (int i = 0; i < LINES; i++)
        free(lines[i]);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

/* ---- files, snapshots, scans ---------------------------------------------------- */

static void store__new_dir_and_files__0700_and_0600_whatever_the_umask(void **state)
{
    char *dir = ut_mkdtemp("store");
    char data[PATH_MAX], path[PATH_MAX];
    ut_path(data, sizeof data, dir, "a/data");
    mode_t old = umask(0);
    mq_store *s = open_inline(data);
    assert_non_null(s);
    assert_int_equal(append_str(s, "orders", "o", "{}"), MQ_OK);
    umask(0777); /* nor can a tighter one make the file unusable */
    assert_int_equal(append_str(s, "coupons", "c", "{}"), MQ_OK);
    umask(old);
    struct stat st;
    assert_int_equal(stat(data, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(ut_path(path, sizeof path, data, "orders.ndjson"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(ut_path(path, sizeof path, data, "coupons.ndjson"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    int fl = fcntl(mq_store_notify_fd(s), F_GETFD); /* -1: no thread, no fd */
    assert_int_equal(fl, -1);
    mq_store_close(s);

    /* Files that are not collections are left alone. */
    assert_int_equal(ut_write_str(data, "Bad-Name.ndjson", "garbage"), 0);
    assert_int_equal(ut_write_str(data, "notes.txt", "x"), 0);
    s = open_inline(data);
    assert_non_null(s);
    mq_store_coll_stats *all;
    size_t n;
    assert_int_equal(mq_store_stats(s, &all, &n), MQ_OK);
    assert_int_equal(n, 2);
    free(all);
    mq_store_close(s);

    /* A collection file that cannot be read fails the open, with a cause. */
    assert_int_equal(unlink(ut_path(path, sizeof path, data, "orders.ndjson")), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    char err[512] = "";
    assert_null(mq_store_open(data, NULL, err, sizeof err));
    assert_non_null(strstr(err, "orders.ndjson"));
    ut_rm_rf(dir);
    free(dir);
}

static void store__snapshot__whole_line_prefixes_unchanged_by_later_appends(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_store(dir, NULL);
    uint64_t seq = 0;
    for (int i = 0; i < 10; i++)
        assert_int_equal(
            mq_store_append(s, i % 2 ? "orders" : "events", "k", "{\"i\":1}", 7, 1, &seq), MQ_OK);
    assert_int_equal(wait_synced(s, seq, 5000), 0);
    mq_store_snap_file *snap;
    size_t n;
    assert_int_equal(mq_store_snapshot(s, &snap, &n), MQ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(snap[0].collection, "events");
    assert_string_equal(snap[1].collection, "orders");
    char *before[2];
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        before[i] = ut_read(snap[i].path, NULL, &len);
        assert_int_equal(snap[i].bytes, len);
        assert_int_equal(before[i][len - 1], '\n');
    }
    for (int i = 0; i < 10; i++)
        assert_int_equal(append_str(s, "orders", "k", "{\"i\":2}"), MQ_OK);
    size_t len;
    char *after = ut_read(snap[1].path, NULL, &len);
    assert_true(len > snap[1].bytes);
    assert_memory_equal(after, before[1], snap[1].bytes);
    free(after);
    free(before[0]);
    free(before[1]);
    mq_store_snap_free(snap, n);
    mq_store_snap_free(NULL, 0);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

typedef struct reentrant {
    mq_store *s;
    int calls, round;
    char seen[16][16];
} reentrant;

/* Appends new keys (growing the index under the scan) and updates old ones. */
static int reentrant_fn(const char *key, const char *json, size_t len, void *ud)
{
    reentrant *r = ud;
    if (r->calls < 16)
        snprintf(r->seen[r->calls], sizeof r->seen[0], "%s", key);
    r->calls++;
    for (int i = 0; i < 300; i++) {
        char k[32];
        snprintf(k, sizeof k, "new%d-%d-%d", r->round, r->calls, i);
        if (append_str(r->s, "orders", k, "{}") != MQ_OK)
            return 1;
    }
    append_str(r->s, "orders", key, "{\"again\":true}");
    return r->calls == 3; /* stop after the third */
}

static void store__scan_callback__may_append_and_stop(void **state)
{
    char *dir = ut_mkdtemp("store");
    mq_store *s = open_inline(dir);
    for (int i = 0; i < 5; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(append_str(s, "orders", k, "{}"), MQ_OK);
    }
    reentrant r = {.s = s};
    assert_int_equal(mq_store_scan(s, "orders", 1, reentrant_fn, &r), MQ_OK);
    assert_int_equal(r.calls, 3);
    assert_string_equal(r.seen[0], "k0");
    assert_string_equal(r.seen[1], "k1");
    assert_string_equal(r.seen[2], "k2");
    char *g = mq_store_get(s, "orders", "k1", NULL);
    assert_non_null(strstr(g, "\"again\":true"));
    free(g);
    r.calls = 0;
    r.round = 1;
    assert_int_equal(mq_store_scan(s, "orders", 0, reentrant_fn, &r), MQ_OK);
    assert_int_equal(r.calls, 3);
    assert_string_equal(r.seen[0], "k0");
    assert_int_equal(stats_of(s, "orders").keys, 5 + 6 * 300);
    mq_store_close(s);
    ut_rm_rf(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--replay-limited") == 0)
        return replay_limited(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store__append_get_scan__reopen_gives_same),
        cmocka_unit_test(store__added_fields__k_ts_v_first_writer_fields_kept),
        cmocka_unit_test(store__unknown_fields__preserved_verbatim),
        cmocka_unit_test(store__escaped_keys__indexed_by_their_text),
        cmocka_unit_test(store__many_keys__replay_matches_last_write),
        cmocka_unit_test(store__torn_last_line__truncated_earlier_kept),
        cmocka_unit_test(store__garbage_line_in_middle__kept_skipped_counted),
        cmocka_unit_test(store__two_mb_line_in_middle__skipped_without_holding_it),
        cmocka_unit_test(store__disk_full_rlimit_fsize__append_fails_file_whole),
        cmocka_unit_test(store__disk_full_tmpfs__append_fails_file_whole),
        cmocka_unit_test(store__durable_appends__seq_notify_and_synced_advance),
        cmocka_unit_test(store__no_sync_thread__durable_synced_inline),
        cmocka_unit_test(store__kill_9_mid_burst__every_acknowledged_record_survives),
        cmocka_unit_test(store__bad_names_keys_and_json__rejected_nothing_written),
        cmocka_unit_test(store__validator__accepts_only_what_json_c_reads),
        cmocka_unit_test(store__new_dir_and_files__0700_and_0600_whatever_the_umask),
        cmocka_unit_test(store__snapshot__whole_line_prefixes_unchanged_by_later_appends),
        cmocka_unit_test(store__scan_callback__may_append_and_stop),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
