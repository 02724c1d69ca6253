/* Unit tests for host/backup.c and host/cli_backup.c: backups of a real
 * store (host/store.c), restore checks, rotation, listing, the
 * `mindquiz backup` / `restore-check` commands, the Slack alert (received
 * by a small HTTP server in a child process), and a backup taken while
 * another process keeps appending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "backup.h"
#include "cli.h"
#include "log.h"
#include "mq_plugin.h"
#include "sha256.h"
#include "store.h"
#include "unit_util.h"

typedef int (*cmd_fn)(int argc, char **argv, const char *env_path, mq_config *cfg);

typedef struct fixture {
    char *dir;
    char data[PATH_MAX];    /* DATA_DIR */
    char backups[PATH_MAX]; /* BACKUP_DIR */
    char pid_file[PATH_MAX];
    mq_config *cfg;
    pid_t child; /* a receiver or fake host, killed at teardown */
    char out[32768];
} fixture;

/* ---- plumbing ---------------------------------------------------------------------- */

static int make_config(fixture *fx, const char *extra)
{
    char text[2048], err[256];
    snprintf(text, sizeof text,
             "DATA_DIR=data\nBACKUP_DIR=backups\nPID_FILE=data/mq.pid\nBACKUP_KEEP=14\n%s",
             extra ? extra : "");
    mq_config_free(fx->cfg);
    fx->cfg = mq_config_parse(text, strlen(text), fx->dir, err, sizeof err);
    return fx->cfg ? 0 : -1;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || !(fx->dir = ut_mkdtemp("backup")))
        return -1;
    ut_path(fx->data, sizeof fx->data, fx->dir, "data");
    ut_path(fx->backups, sizeof fx->backups, fx->dir, "backups");
    ut_path(fx->pid_file, sizeof fx->pid_file, fx->dir, "data/mq.pid");
    if (mkdir(fx->data, 0700) != 0 || make_config(fx, NULL) != 0)
        return -1;
    *state = fx;
    return 0;
}

static void stop_child(fixture *fx)
{
    if (fx->child > 0) {
        kill(fx->child, SIGKILL);
        waitpid(fx->child, NULL, 0);
        fx->child = 0;
    }
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (fx) {
        stop_child(fx);
        mq_config_free(fx->cfg);
        ut_rm_rf(fx->dir);
        free(fx->dir);
        free(fx);
    }
    return 0;
}

/* Run a subcommand with stdout and stderr captured into fx->out. */
static int run(fixture *fx, cmd_fn fn, ...)
{
    va_list ap;
    va_start(ap, fn);
    int rc = ut_run_cmd_v(fx->dir, fx->cfg, fx->out, sizeof fx->out, fn, ap);
    va_end(ap);
    assert_true(rc != -1);
    return rc;
}

#define expect_out(fx, needle)                                                                     \
    do {                                                                                           \
        if (!strstr((fx)->out, (needle)))                                                          \
            fail_msg("output lacks \"%s\":\n%s", (needle), (fx)->out);                             \
    } while (0)

#define expect_no_out(fx, needle)                                                                  \
    do {                                                                                           \
        if (strstr((fx)->out, (needle)))                                                           \
            fail_msg("output must not contain \"%s\":\n%s", (needle), (fx)->out);                  \
    } while (0)

#define expect_rc(fx, got, want)                                                                   \
    do {                                                                                           \
        int got_ = (got);                                                                          \
        if (got_ != (want))                                                                        \
            fail_msg("exit status %d (want %d), output:\n%s", got_, (want), (fx)->out);            \
    } while (0)

#define expect_err(err, needle)                                                                    \
    do {                                                                                           \
        if (!strstr((err), (needle)))                                                              \
            fail_msg("error lacks \"%s\": %s", (needle), (err));                                   \
    } while (0)

/* ---- a store with money in it ---------------------------------------------------------- */

static mq_store *open_store(const char *dir)
{
    mq_store_opts opts = {.no_sync_thread = 1};
    char err[512];
    mq_store *s = mq_store_open(dir, &opts, err, sizeof err);
    if (!s)
        fail_msg("open store \"%s\" failed: %s", dir, err);
    return s;
}

static void add_order(mq_store *s, const char *key, const char *provider, const char *status,
                      long amount)
{
    char json[256];
    snprintf(json, sizeof json, "{\"provider\":\"%s\",\"status\":\"%s\",\"amount\":%ld}", provider,
             status, amount);
    assert_int_equal(mq_store_append(s, "orders", key, json, strlen(json), 1, NULL), MQ_OK);
}

static void add_event(mq_store *s, const char *what)
{
    char json[128];
    snprintf(json, sizeof json, "{\"event\":\"%s\"}", what);
    assert_int_equal(mq_store_append(s, "events", "", json, strlen(json), 0, NULL), MQ_OK);
}

/* Orders (latest state per key):
 *   o1 kakao approved 10000    o2 naver approved 25000   o3 kakao failed 5000
 *   o4 kakao ready -> approved 7000                       o5 naver approved -> cancelled 3000
 * so revenue is kakao 17000, naver 25000; 7 order records, 5 keys; 5 events. */
static void seed(mq_store *s)
{
    add_order(s, "o1", "kakao", "approved", 10000);
    add_order(s, "o2", "naver", "approved", 25000);
    add_order(s, "o3", "kakao", "failed", 5000);
    add_order(s, "o4", "kakao", "ready", 7000);
    add_order(s, "o5", "naver", "approved", 3000);
    add_order(s, "o4", "kakao", "approved", 7000);
    add_order(s, "o5", "naver", "cancelled", 3000);
    for (int i = 0; i < 5; i++)
        add_event(s, i % 2 ? "quiz_start" : "share");
}

#define SEED_REVENUE_JSON                                                                          \
    "{\"revenue_krw\":{\"kakao\":17000,\"naver\":25000},"                                          \
    "\"orders_by_status\":{\"approved\":3,\"cancelled\":1,\"failed\":1}}"

/* Back up the store in `data` (opened for the occasion) into root. */
static void take_backup_of(const char *data, const char *root, int keep, char name[64])
{
    mq_store *s = open_store(data);
    mq_store_snap_file *snap = NULL;
    size_t n = 0;
    assert_int_equal(mq_store_snapshot(s, &snap, &n), MQ_OK);
    char *summary = mq_backup_revenue_json(s);
    assert_non_null(summary);
    char err[1024] = "";
    int rc = mq_backup_create(root, snap, n, summary, keep, name, 64, err, sizeof err);
    if (rc != 0)
        fail_msg("mq_backup_create failed: %s", err);
    free(summary);
    mq_store_snap_free(snap, n);
    mq_store_close(s);
}

static void seeded_backup(fixture *fx, char name[64], char dir[PATH_MAX])
{
    mq_store *s = open_store(fx->data);
    seed(s);
    mq_store_close(s);
    take_backup_of(fx->data, fx->backups, 14, name);
    ut_path(dir, PATH_MAX, fx->backups, name);
}

static json_object *read_json(const char *dir, const char *rel)
{
    char *text = ut_read(dir, rel, NULL);
    if (!text)
        fail_msg("read \"%s/%s\" failed", dir, rel);
    json_object *o = json_tokener_parse(text);
    free(text);
    if (!o)
        fail_msg("\"%s/%s\" is not JSON", dir, rel);
    return o;
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
    return v;
}

/* The manifest's entry for `file`. Borrowed from m. */
static json_object *manifest_file(json_object *m, const char *file)
{
    json_object *files = jget(m, "files");
    for (size_t i = 0; i < json_object_array_length(files); i++) {
        json_object *f = json_object_array_get_idx(files, i);
        if (strcmp(json_object_get_string(jget(f, "file")), file) == 0)
            return f;
    }
    fail_msg("the manifest does not list \"%s\"", file);
    return NULL;
}

static mode_t mode_of(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    assert_int_equal(lstat(rel ? ut_path(p, sizeof p, dir, rel) : dir, &st), 0);
    return st.st_mode & 07777;
}

/* Names of the entries in dir starting with ".tmp-". */
static int tmp_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, ".tmp-", 5) == 0;
    closedir(d);
    return n;
}

/* ---- create + check --------------------------------------------------------------------- */

static void backup__store_with_orders__restore_check_ok(void **state)
{
    fixture *fx = *state;
    /* Whatever the umask, backups are private: 0700 dirs, 0600 files. */
    mode_t old = umask(0277);
    char name[64], dir[PATH_MAX], err[1024] = "";
    seeded_backup(fx, name, dir);
    umask(old);

    assert_true(mq_backup_name_valid(name));
    assert_int_equal(mode_of(fx->backups, NULL), 0700);
    assert_int_equal(mode_of(dir, NULL), 0700);
    assert_int_equal(mode_of(dir, "MANIFEST.json"), 0600);
    assert_int_equal(mode_of(dir, "orders.ndjson"), 0600);
    assert_int_equal(mode_of(dir, "events.ndjson"), 0600);
    assert_int_equal(tmp_entries(fx->backups), 0);

    json_object *m = read_json(dir, "MANIFEST.json");
    assert_int_equal(json_object_get_int(jget(m, "format")), 1);
    assert_string_equal(json_object_get_string(jget(m, "name")), name);
    json_object *orders = manifest_file(m, "orders.ndjson");
    assert_int_equal(json_object_get_int64(jget(orders, "records")), 7);
    assert_int_equal(json_object_get_int64(jget(orders, "keys")), 5);
    assert_string_equal(json_object_get_string(jget(orders, "collection")), "orders");
    json_object *events = manifest_file(m, "events.ndjson");
    assert_int_equal(json_object_get_int64(jget(events, "records")), 5);
    assert_int_equal(json_object_get_int64(jget(events, "keys")), 0);
    json_object *rev = jget(m, "revenue_krw");
    assert_int_equal(json_object_get_int64(jget(rev, "kakao")), 17000);
    assert_int_equal(json_object_get_int64(jget(rev, "naver")), 25000);
    assert_int_equal(json_object_get_int64(jget(jget(m, "orders_by_status"), "approved")), 3);
    /* The copy is the file's bytes: same size and digest as the source. */
    char src[PATH_MAX], hex[MQ_SHA256_HEX_LEN + 1];
    uint64_t size;
    assert_int_equal(
        mq_sha256_file(ut_path(src, sizeof src, fx->data, "orders.ndjson"), hex, &size), 0);
    assert_string_equal(json_object_get_string(jget(orders, "sha256")), hex);
    assert_int_equal(json_object_get_int64(jget(orders, "bytes")), (int64_t)size);
    json_object_put(m);

    int rc = mq_backup_restore_check(dir, err, sizeof err);
    if (rc != 0)
        fail_msg("restore check failed: %s", err);
    json_object *check = read_json(dir, "CHECK.json");
    assert_true(json_object_get_boolean(jget(check, "ok")));
    assert_non_null(strstr(json_object_get_string(jget(check, "checked")), "T"));
    json_object_put(check);
    assert_int_equal(mode_of(dir, "CHECK.json"), 0600);
    /* The restore dir is gone. */
    assert_int_equal(tmp_entries(fx->backups), 0);
}

static void backup__revenue_json__matches_hand_computed_fixture(void **state)
{
    fixture *fx = *state;
    mq_store *s = open_store(fx->data);
    /* No orders yet: both providers show, at 0. */
    char *empty = mq_backup_revenue_json(s);
    assert_non_null(empty);
    assert_string_equal(empty,
                        "{\"revenue_krw\":{\"kakao\":0,\"naver\":0},\"orders_by_status\":{}}");
    free(empty);
    seed(s);
    char *j = mq_backup_revenue_json(s);
    assert_non_null(j);
    assert_string_equal(j, SEED_REVENUE_JSON);
    free(j);
    mq_store_close(s);
}

static void backup__tampered_file__restore_check_fails(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX], err[1024] = "";
    seeded_backup(fx, name, dir);
    /* Turn 25000 into 95000: still valid JSON, only the digest knows. */
    size_t len = 0;
    char *text = ut_read(dir, "orders.ndjson", &len);
    assert_non_null(text);
    char *p = strstr(text, "25000");
    assert_non_null(p);
    *p = '9';
    assert_int_equal(ut_write(dir, "orders.ndjson", text, len), 0);
    free(text);

    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    expect_err(err, "\"orders.ndjson\"");
    expect_err(err, "sha256");
    json_object *check = read_json(dir, "CHECK.json");
    assert_false(json_object_get_boolean(jget(check, "ok")));
    assert_non_null(strstr(json_object_get_string(jget(check, "message")), "orders.ndjson"));
    json_object_put(check);
    assert_int_equal(tmp_entries(fx->backups), 0);
}

static void backup__deleted_file__restore_check_fails(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX], p[PATH_MAX], err[1024] = "";
    seeded_backup(fx, name, dir);
    assert_int_equal(unlink(ut_path(p, sizeof p, dir, "events.ndjson")), 0);
    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    expect_err(err, "\"events.ndjson\"");
    expect_err(err, "missing");
}

static void backup__truncated_file__restore_check_names_both_sizes(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX], p[PATH_MAX], err[1024] = "", want[128];
    seeded_backup(fx, name, dir);
    struct stat st;
    assert_int_equal(stat(ut_path(p, sizeof p, dir, "orders.ndjson"), &st), 0);
    assert_int_equal(truncate(p, st.st_size - 10), 0);
    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    snprintf(want, sizeof want, "\"orders.ndjson\": %lld bytes in the backup, manifest says %lld",
             (long long)st.st_size - 10, (long long)st.st_size);
    expect_err(err, want);
}

static void backup__truncated_manifest__restore_check_fails(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX], p[PATH_MAX], err[1024] = "";
    seeded_backup(fx, name, dir);
    struct stat st;
    assert_int_equal(stat(ut_path(p, sizeof p, dir, "MANIFEST.json"), &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    expect_err(err, "MANIFEST.json");
    expect_err(err, "not valid JSON");
    json_object *check = read_json(dir, "CHECK.json");
    assert_false(json_object_get_boolean(jget(check, "ok")));
    json_object_put(check);
}

/* Rewrite one member of the manifest (a consistent-looking lie). */
static void edit_manifest(const char *dir, const char *file, const char *key, int64_t value)
{
    json_object *m = read_json(dir, "MANIFEST.json");
    json_object *target = file ? manifest_file(m, file) : jget(m, "revenue_krw");
    json_object_object_add(target, key, json_object_new_int64(value));
    const char *t = json_object_to_json_string(m);
    assert_int_equal(ut_write_str(dir, "MANIFEST.json", t), 0);
    json_object_put(m);
}

static void backup__record_count_mismatch__names_file_and_both_numbers(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX], err[1024] = "";
    seeded_backup(fx, name, dir);
    edit_manifest(dir, "orders.ndjson", "records", 8);
    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    expect_err(err, "\"orders.ndjson\": 7 records restored, manifest says 8");

    seeded_backup(fx, name, dir);
    edit_manifest(dir, "orders.ndjson", "keys", 4);
    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    expect_err(err, "\"orders.ndjson\": 5 keys restored, manifest says 4");
}

static void backup__revenue_mismatch__names_provider_and_both_amounts(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX], err[1024] = "";
    seeded_backup(fx, name, dir);
    edit_manifest(dir, NULL, "kakao", 18000);
    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    expect_err(err, "revenue \"kakao\": 17000 KRW restored, manifest says 18000 KRW");
}

static void backup__unlisted_file__restore_check_fails(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX], err[1024] = "";
    seeded_backup(fx, name, dir);
    assert_int_equal(ut_write_str(dir, "coupons.ndjson", "{\"k\":\"c1\",\"v\":1,\"ts\":1}\n"), 0);
    assert_int_equal(mq_backup_restore_check(dir, err, sizeof err), -1);
    expect_err(err, "\"coupons.ndjson\" is in the backup but not in its MANIFEST.json");
}

static void backup__snapshot_inside_a_line__fails_and_leaves_nothing(void **state)
{
    fixture *fx = *state;
    mq_store *s = open_store(fx->data);
    seed(s);
    mq_store_snap_file *snap = NULL;
    size_t n = 0;
    assert_int_equal(mq_store_snapshot(s, &snap, &n), MQ_OK);
    char *summary = mq_backup_revenue_json(s);
    for (size_t i = 0; i < n; i++)
        snap[i].bytes -= 3;
    char name[64], err[1024] = "";
    assert_int_equal(
        mq_backup_create(fx->backups, snap, n, summary, 14, name, sizeof name, err, sizeof err),
        -1);
    expect_err(err, "end inside a line");
    mq_backup_info *list = NULL;
    size_t cnt = 9;
    assert_int_equal(mq_backup_list(fx->backups, &list, &cnt), 0);
    assert_int_equal(cnt, 0);
    free(list);
    assert_int_equal(tmp_entries(fx->backups), 0);
    free(summary);
    mq_store_snap_free(snap, n);
    mq_store_close(s);
}

static void backup__summary_not_of_the_cut__fails(void **state)
{
    fixture *fx = *state;
    mq_store *s = open_store(fx->data);
    seed(s);
    mq_store_snap_file *snap = NULL;
    size_t n = 0;
    assert_int_equal(mq_store_snapshot(s, &snap, &n), MQ_OK);
    /* A summary from another instant: the copy cannot match it. */
    const char *other = "{\"revenue_krw\":{\"kakao\":1,\"naver\":25000},"
                        "\"orders_by_status\":{\"approved\":3,\"cancelled\":1,\"failed\":1}}";
    char name[64], err[1024] = "";
    assert_int_equal(
        mq_backup_create(fx->backups, snap, n, other, 14, name, sizeof name, err, sizeof err), -1);
    expect_err(err, "revenue \"kakao\": 17000 KRW in the copy, the store had 1 KRW");
    assert_int_equal(tmp_entries(fx->backups), 0);
    mq_store_snap_free(snap, n);
    mq_store_close(s);
}

static void backup__corrupt_lines_in_store__counted_as_the_loader_counts(void **state)
{
    fixture *fx = *state;
    /* Lines json-c would take but the store's strict loader skips (NaN,
     * single quotes, a trailing comma, invalid UTF-8), plus plain garbage:
     * a backup counts what the loader counts, so it still checks out. */
    const char *lines = "{\"k\":\"a\",\"v\":1,\"ts\":1,\"provider\":\"kakao\","
                        "\"status\":\"approved\",\"amount\":100}\n"
                        "{\"k\":\"b\",\"v\":1,\"ts\":1,\"amount\":NaN}\n"
                        "{'k':'c','v':1}\n"
                        "{\"k\":\"d\",\"v\":1,}\n"
                        "{\"k\":\"e\xff\",\"v\":1}\n"
                        "garbage\n"
                        "{\"k\":\"f\",\"v\":1,\"ts\":2,\"provider\":\"naver\","
                        "\"status\":\"approved\",\"amount\":200}\n";
    assert_int_equal(ut_write_str(fx->data, "orders.ndjson", lines), 0);
    mq_store *s = open_store(fx->data);
    mq_store_coll_stats *st = NULL;
    size_t n = 0;
    assert_int_equal(mq_store_stats(s, &st, &n), MQ_OK);
    assert_int_equal(n, 1);
    uint64_t live_records = st[0].records, live_corrupt = st[0].corrupt;
    free(st);
    mq_store_close(s);
    assert_true(live_corrupt >= 3);

    char name[64], dir[PATH_MAX], err[1024] = "";
    take_backup_of(fx->data, fx->backups, 14, name);
    ut_path(dir, sizeof dir, fx->backups, name);
    json_object *m = read_json(dir, "MANIFEST.json");
    assert_int_equal(json_object_get_int64(jget(manifest_file(m, "orders.ndjson"), "records")),
                     (int64_t)live_records);
    assert_int_equal(json_object_get_int64(jget(jget(m, "revenue_krw"), "kakao")), 100);
    assert_int_equal(json_object_get_int64(jget(jget(m, "revenue_krw"), "naver")), 200);
    json_object_put(m);
    if (mq_backup_restore_check(dir, err, sizeof err) != 0)
        fail_msg("restore check failed: %s", err);
}

/* ---- rotation and listing ------------------------------------------------------------------ */

static void backup__rotation__keeps_n_newest(void **state)
{
    fixture *fx = *state;
    mq_store *s = open_store(fx->data);
    seed(s);
    mq_store_close(s);
    /* Things that are not complete backups must survive any rotation. */
    char p[PATH_MAX];
    assert_int_equal(ut_write_str(fx->backups, "notes/README", "keep me"), 0);
    assert_int_equal(ut_write_str(fx->backups, "20000101-000000/orders.ndjson", "{}\n"), 0);
    assert_int_equal(ut_write_str(fx->backups, ".tmp-20000101-000000-abcdef/x", "y"), 0);

    char names[5][64];
    for (int i = 0; i < 5; i++)
        take_backup_of(fx->data, fx->backups, 3, names[i]);

    for (int i = 0; i < 5; i++) {
        struct stat st;
        int exists = stat(ut_path(p, sizeof p, fx->backups, names[i]), &st) == 0;
        if (exists != (i >= 2))
            fail_msg("backup %d (%s) %s", i, names[i],
                     exists ? "survived rotation" : "was rotated away");
    }
    struct stat st;
    assert_int_equal(stat(ut_path(p, sizeof p, fx->backups, "notes/README"), &st), 0);
    assert_int_equal(stat(ut_path(p, sizeof p, fx->backups, "20000101-000000"), &st), 0);
    assert_int_equal(stat(ut_path(p, sizeof p, fx->backups, ".tmp-20000101-000000-abcdef"), &st),
                     0);

    /* keep = 1 keeps only the one just made. */
    char last[64];
    take_backup_of(fx->data, fx->backups, 1, last);
    mq_backup_info *list = NULL;
    size_t n = 0;
    assert_int_equal(mq_backup_list(fx->backups, &list, &n), 0);
    assert_int_equal(n, 2); /* the new one, and the manifest-less 20000101-000000 */
    assert_string_equal(list[0].name, last);
    assert_string_equal(list[1].name, "20000101-000000");
    assert_int_equal(list[1].created_unix, 0);
    free(list);
}

static void backup__list__newest_first_and_skips_tmp_dirs(void **state)
{
    fixture *fx = *state;
    mq_store *s = open_store(fx->data);
    seed(s);
    mq_store_close(s);
    char a[64], b[64], c[64], p[PATH_MAX], q[PATH_MAX];
    take_backup_of(fx->data, fx->backups, 14, a);
    take_backup_of(fx->data, fx->backups, 14, b);
    take_backup_of(fx->data, fx->backups, 14, c);
    /* Order comes from the manifests' times (then the -N suffix), not
     * from the directory names: give the newest an old-looking name. */
    json_object *m = read_json(ut_path(p, sizeof p, fx->backups, c), "MANIFEST.json");
    json_object_object_add(m, "created_unix", json_object_new_int64(time(NULL) + 3600));
    assert_int_equal(ut_write_str(p, "MANIFEST.json", json_object_to_json_string(m)), 0);
    json_object_put(m);
    assert_int_equal(rename(p, ut_path(q, sizeof q, fx->backups, "20000101-000000")), 0);
    /* A temp dir, even one with a manifest, is not a backup. */
    ut_path(q, sizeof q, fx->backups, ".tmp-29990101-000000-abcdef");
    assert_int_equal(mkdir(q, 0700), 0);
    char *mt = ut_read(ut_path(p, sizeof p, fx->backups, a), "MANIFEST.json", NULL);
    assert_int_equal(ut_write_str(q, "MANIFEST.json", mt), 0);
    free(mt);

    char err[1024];
    assert_int_equal(mq_backup_restore_check(ut_path(p, sizeof p, fx->backups, a), err, sizeof err),
                     0);
    ut_path(p, sizeof p, fx->backups, b);
    assert_int_equal(unlink(ut_path(q, sizeof q, p, "events.ndjson")), 0);
    assert_int_equal(mq_backup_restore_check(p, err, sizeof err), -1);

    mq_backup_info *list = NULL;
    size_t n = 0;
    assert_int_equal(mq_backup_list(fx->backups, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "20000101-000000");
    assert_string_equal(list[1].name, b);
    assert_string_equal(list[2].name, a);
    assert_string_equal(list[0].check, "unchecked");
    assert_string_equal(list[1].check, "failed");
    assert_non_null(strstr(list[1].check_message, "events.ndjson"));
    assert_string_equal(list[2].check, "ok");
    assert_true(list[2].bytes > 0);
    assert_true(list[2].created_unix > 0);
    assert_string_equal(list[2].path, ut_path(p, sizeof p, fx->backups, a));
    char *latest = mq_backup_latest(fx->backups);
    assert_non_null(latest);
    assert_string_equal(latest, list[0].path);
    free(latest);
    free(list);

    /* A missing root is an empty list. */
    assert_int_equal(mq_backup_list(ut_path(p, sizeof p, fx->dir, "nope"), &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    assert_null(mq_backup_latest(p));
}

static void backup__name_valid__only_backup_shaped_names(void **state)
{
    (void)state;
    assert_true(mq_backup_name_valid("20260127-041000"));
    assert_true(mq_backup_name_valid("20260127-041000-2"));
    assert_true(mq_backup_name_valid("20260127-041000-9999"));
    assert_false(mq_backup_name_valid("20260127-041000-0"));
    assert_false(mq_backup_name_valid("20260127-041000-10000"));
    assert_false(mq_backup_name_valid("20260127-041000-x"));
    assert_false(mq_backup_name_valid(".tmp-20260127-041000-abc"));
    assert_false(mq_backup_name_valid("2026012-0410000"));
    assert_false(mq_backup_name_valid("20260127_041000"));
    assert_false(mq_backup_name_valid("current"));
    assert_false(mq_backup_name_valid(""));
}

/* ---- a backup while another process appends ------------------------------------------ */

typedef struct job {
    const char *root;
    mq_store_snap_file *snap;
    size_t n;
    char *summary;
    char name[64];
    char err[1024];
    int rc;
    int done;
} job;

static void *job_main(void *arg)
{
    job *j = arg;
    j->rc = mq_backup_create(j->root, j->snap, j->n, j->summary, 14, j->name, sizeof j->name,
                             j->err, sizeof j->err);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The child plays the host: it owns the store, takes the cut on its "loop
 * thread", copies on another thread, and keeps appending meanwhile. It
 * reports "<rc> <name> <appends during the copy>" on fd. */
static void appender_main(const char *data, const char *root, int fd)
{
    mq_store_opts opts = {.no_sync_thread = 1};
    char err[512], line[256];
    mq_store *s = mq_store_open(data, &opts, err, sizeof err);
    if (!s)
        _exit(2);
    for (int i = 0; i < 20000; i++) {
        char key[32], json[160];
        snprintf(key, sizeof key, "o%d", i % 5000);
        int n = snprintf(json, sizeof json, "{\"provider\":\"%s\",\"status\":\"%s\",\"amount\":%d}",
                         i % 2 ? "kakao" : "naver", i % 3 ? "approved" : "failed", 1000 + i);
        if (mq_store_append(s, "orders", key, json, (size_t)n, 0, NULL) != MQ_OK ||
            mq_store_append(s, "events", "", "{\"e\":1}", 7, 0, NULL) != MQ_OK)
            _exit(3);
    }
    job j = {.root = root};
    if (mq_store_snapshot(s, &j.snap, &j.n) != MQ_OK || !(j.summary = mq_backup_revenue_json(s)))
        _exit(4);
    /* Some appends land after the cut and before the copy starts, for
     * certain; more land while it runs, as they would on a real host. */
    for (int i = 0; i < 50; i++) {
        char key[32], json[160];
        snprintf(key, sizeof key, "late%d", i);
        int n = snprintf(json, sizeof json,
                         "{\"provider\":\"naver\",\"status\":\"approved\",\"amount\":%d}", 7 + i);
        if (mq_store_append(s, "orders", key, json, (size_t)n, 1, NULL) != MQ_OK)
            _exit(6);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, job_main, &j) != 0)
        _exit(5);
    long during = 0;
    for (int i = 0; !__atomic_load_n(&j.done, __ATOMIC_ACQUIRE) || i < 100; i++) {
        char key[32], json[160];
        snprintf(key, sizeof key, "n%d", i);
        int n = snprintf(json, sizeof json,
                         "{\"provider\":\"kakao\",\"status\":\"approved\",\"amount\":%d}", 50 + i);
        /* Durable, like a payment: fdatasync inline, as slow as the real thing. */
        if (mq_store_append(s, "orders", key, json, (size_t)n, 1, NULL) != MQ_OK ||
            mq_store_append(s, "events", "", "{\"e\":2}", 7, 0, NULL) != MQ_OK)
            _exit(6);
        if (!__atomic_load_n(&j.done, __ATOMIC_ACQUIRE))
            during++;
    }
    pthread_join(t, NULL);
    int n = snprintf(line, sizeof line, "%d %s %ld\n", j.rc, j.rc == 0 ? j.name : "-", during);
    if (write(fd, line, (size_t)n) != n)
        _exit(7);
    mq_store_snap_free(j.snap, j.n);
    free(j.summary);
    mq_store_close(s);
    _exit(0);
}

static void backup__taken_while_appending__restores_matching_counts(void **state)
{
    fixture *fx = *state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        appender_main(fx->data, fx->backups, pfd[1]);
    }
    fx->child = pid;
    close(pfd[1]);
    char line[256] = "";
    size_t got = 0;
    for (ssize_t r;
         got < sizeof line - 1 && (r = read(pfd[0], line + got, sizeof line - 1 - got)) > 0;)
        got += (size_t)r;
    line[got] = '\0';
    close(pfd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    fx->child = 0;
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("the appender exited with %d", WEXITSTATUS(status));
    int rc = -1;
    char name[64] = "";
    long during = -1;
    assert_int_equal(sscanf(line, "%d %63s %ld", &rc, name, &during), 3);
    assert_int_equal(rc, 0);
    /* Appends landed after the cut (and `during` of them while the copy
     * ran); none of them may be in the backup. */
    assert_true(during >= 0);

    char dir[PATH_MAX], err[1024] = "";
    ut_path(dir, sizeof dir, fx->backups, name);
    if (mq_backup_restore_check(dir, err, sizeof err) != 0)
        fail_msg("restore check failed: %s", err);
    json_object *m = read_json(dir, "MANIFEST.json");
    assert_int_equal(json_object_get_int64(jget(manifest_file(m, "orders.ndjson"), "records")),
                     20000);
    assert_int_equal(json_object_get_int64(jget(manifest_file(m, "orders.ndjson"), "keys")), 5000);
    assert_int_equal(json_object_get_int64(jget(manifest_file(m, "events.ndjson"), "records")),
                     20000);
    json_object_put(m);
    /* The live store went on: it holds more than the cut. */
    mq_store *s = open_store(fx->data);
    mq_store_coll_stats *st = NULL;
    size_t n = 0;
    assert_int_equal(mq_store_stats(s, &st, &n), MQ_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(st[i].records >= 20000 + 100);
    /* ... and the revenue in the backup is the cut's: no "late" order. */
    json_object *m2 = read_json(dir, "MANIFEST.json");
    int64_t naver = json_object_get_int64(jget(jget(m2, "revenue_krw"), "naver"));
    json_object_put(m2);
    int64_t want_naver = 0;
    for (int i = 15000; i < 20000; i++) /* the latest record of o0..o4999 */
        if (i % 2 == 0 && i % 3 != 0)
            want_naver += 1000 + i;
    assert_int_equal(naver, want_naver);
    free(st);
    mq_store_close(s);
}

/* ---- the commands -----------------------------------------------------------------------------
 */

static void backup_cmd__no_host__backs_up_in_process(void **state)
{
    fixture *fx = *state;
    mq_store *s = open_store(fx->data);
    seed(s);
    mq_store_close(s);
    expect_rc(fx, run(fx, mq_cmd_backup, "backup", NULL), 0);
    mq_backup_info *list = NULL;
    size_t n = 0;
    assert_int_equal(mq_backup_list(fx->backups, &list, &n), 0);
    assert_int_equal(n, 1);
    char want[PATH_MAX + 128];
    uint64_t bytes = 0;
    mq_backup_manifest *m = mq_backup_manifest_read(list[0].path, NULL, 0);
    assert_non_null(m);
    for (size_t i = 0; i < m->nfiles; i++)
        bytes += m->files[i].bytes;
    snprintf(want, sizeof want, "backup %s written to %s (2 files, %llu bytes)", list[0].name,
             list[0].path, (unsigned long long)bytes);
    expect_out(fx, want);
    mq_backup_manifest_free(m);
    free(list);

    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", NULL), 0);
    expect_out(fx, "orders.ndjson");
    expect_out(fx, "kakao 17,000 KRW; naver 25,000 KRW");
    expect_out(fx, "approved 3, cancelled 1, failed 1");
    expect_out(fx, "result   OK");
}

static void backup_cmd__store_locked__refuses_clearly(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    /* The lock the host holds while it serves (another open file
     * description, so it conflicts even within this process). */
    int fd = open(ut_path(p, sizeof p, fx->data, ".lock"), O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    expect_rc(fx, run(fx, mq_cmd_backup, "backup", NULL), 1);
    expect_out(fx, "backup failed: lock");
    expect_out(fx, "another process holds it");
    close(fd);
    assert_int_equal(tmp_entries(fx->backups), 0);
}

static void backup_cmd__bad_usage__exit_64(void **state)
{
    fixture *fx = *state;
    expect_rc(fx, run(fx, mq_cmd_backup, "backup", "--bogus", NULL), 64);
    expect_rc(fx, run(fx, mq_cmd_backup, "backup", "--timeout", "0", NULL), 64);
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", "a", "b", NULL), 64);
    assert_int_equal(make_config(fx, "BACKUP_KEEP=0\n"), 0);
    expect_rc(fx, run(fx, mq_cmd_backup, "backup", NULL), 1);
    expect_out(fx, "BACKUP_KEEP");
}

/* A fake host: answers SIGUSR1 like the real one (take the backup, then
 * replace PID_FILE.backup.json), or reports a failure. */
static void fake_host_main(fixture *fx, int ready_fd, int fail)
{
    prctl(PR_SET_NAME, "mindquiz-fake");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    int sfd = signalfd(-1, &set, 0);
    if (write(ready_fd, "r", 1) != 1)
        _exit(1);
    close(ready_fd);
    char status_path[PATH_MAX + 16];
    snprintf(status_path, sizeof status_path, "%s.backup.json", fx->pid_file);
    for (long seq = 1;; seq++) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != sizeof si)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long started = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        char name[64] = "", err[1024] = "disk full (test)", text[2048], tmp[PATH_MAX + 32];
        int ok = 0;
        if (!fail) {
            mq_store_opts opts = {.no_sync_thread = 1};
            mq_store *s = mq_store_open(fx->data, &opts, err, sizeof err);
            mq_store_snap_file *snap = NULL;
            size_t n = 0;
            char *sum = NULL;
            if (s && mq_store_snapshot(s, &snap, &n) == MQ_OK && (sum = mq_backup_revenue_json(s)))
                ok = mq_backup_create(fx->backups, snap, n, sum, 14, name, sizeof name, err,
                                      sizeof err) == 0;
            free(sum);
            mq_store_snap_free(snap, n);
            mq_store_close(s);
        }
        snprintf(text, sizeof text,
                 "{\"seq\":%ld,\"started_ns\":%lld,\"ok\":%s,\"name\":\"%s\",\"message\":\"%s\","
                 "\"duration_us\":5}",
                 seq, started, ok ? "true" : "false", name, ok ? "" : err);
        snprintf(tmp, sizeof tmp, "%s.tmp", status_path);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fputs(text, f);
            fclose(f);
            rename(tmp, status_path);
        }
    }
}

static void start_fake_host(fixture *fx, int fail)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        fake_host_main(fx, ready[1], fail);
        _exit(0);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(ready[1]);
    char byte;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    fx->child = pid;
    char text[32];
    snprintf(text, sizeof text, "%ld\n", (long)pid);
    assert_int_equal(ut_write_str(fx->pid_file, NULL, text), 0);
}

static void backup_cmd__host_running__the_host_takes_it(void **state)
{
    fixture *fx = *state;
    mq_store *s = open_store(fx->data);
    seed(s);
    mq_store_close(s);
    /* The host holds the store's lock: the CLI must not need it. */
    char p[PATH_MAX];
    int fd = open(ut_path(p, sizeof p, fx->data, ".lock"), O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    start_fake_host(fx, 0);
    expect_rc(fx, run(fx, mq_cmd_backup, "backup", "--timeout", "20", NULL), 0);
    char want[64];
    snprintf(want, sizeof want, "by the running host (pid %ld)", (long)fx->child);
    expect_out(fx, want);
    expect_out(fx, "(2 files, ");
    char *latest = mq_backup_latest(fx->backups);
    assert_non_null(latest);
    expect_out(fx, latest);
    free(latest);
    close(fd);
}

static void backup_cmd__host_fails__reports_its_reason(void **state)
{
    fixture *fx = *state;
    start_fake_host(fx, 1);
    char want[128];
    expect_rc(fx, run(fx, mq_cmd_backup, "backup", "--timeout", "20", NULL), 1);
    snprintf(want, sizeof want, "backup failed: the host (pid %ld) reported: disk full (test)",
             (long)fx->child);
    expect_out(fx, want);
}

/* ---- the Slack alert
 * ------------------------------------------------------------------------------ */

/* A one-shot HTTP receiver in a child: it writes the whole request it
 * gets to out_fd, answers `status`, and exits. Returns its port. */
static int start_receiver(fixture *fx, int out_fd, int status)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct pollfd pf = {.fd = lfd, .events = POLLIN};
        if (poll(&pf, 1, 30000) != 1)
            _exit(1);
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            _exit(1);
        static char req[65536];
        size_t got = 0, need = SIZE_MAX;
        while (got < sizeof req - 1 && got < need) {
            struct pollfd cp = {.fd = c, .events = POLLIN};
            if (poll(&cp, 1, 10000) != 1)
                break;
            ssize_t r = read(c, req + got, sizeof req - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            req[got] = '\0';
            char *end = strstr(req, "\r\n\r\n");
            char *cl = strcasestr(req, "Content-Length:");
            if (end && cl)
                need = (size_t)(end + 4 - req) + strtoul(cl + 15, NULL, 10);
            else if (end)
                need = (size_t)(end + 4 - req);
        }
        if (write(out_fd, req, got) != (ssize_t)got)
            _exit(1);
        char resp[128];
        int n =
            snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
        if (write(c, resp, (size_t)n) < 0) {
        }
        close(c);
        _exit(0);
    }
    close(lfd);
    fx->child = pid;
    return ntohs(sa.sin_port);
}

/* Everything the receiver wrote, after it exited. */
static char *receiver_request(fixture *fx, int in_fd)
{
    static char buf[65536];
    size_t got = 0;
    for (ssize_t r; got < sizeof buf - 1 && (r = read(in_fd, buf + got, sizeof buf - 1 - got)) > 0;)
        got += (size_t)r;
    buf[got] = '\0';
    waitpid(fx->child, NULL, 0);
    fx->child = 0;
    return buf;
}

/* The "text" of the JSON body of a request. Caller frees. */
static char *slack_text(const char *req)
{
    const char *body = strstr(req, "\r\n\r\n");
    if (!body)
        fail_msg("no body in the request:\n%s", req);
    json_object *o = json_tokener_parse(body + 4);
    if (!o)
        fail_msg("the body is not JSON: %s", body + 4);
    char *t = strdup(json_object_get_string(jget(o, "text")));
    json_object_put(o);
    return t;
}

static void restore_check__tampered_backup__alerts_slack(void **state)
{
    fixture *fx = *state;
    char name[64], dir[PATH_MAX];
    seeded_backup(fx, name, dir);
    size_t len = 0;
    char *text = ut_read(dir, "orders.ndjson", &len);
    assert_non_null(text);
    text[len / 2] ^= 0x01;
    assert_int_equal(ut_write(dir, "orders.ndjson", text, len), 0);
    free(text);

    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    int port = start_receiver(fx, pfd[1], 200);
    close(pfd[1]);
    char extra[256];
    snprintf(extra, sizeof extra,
             "SLACK_WEBHOOK_URL=http://127.0.0.1:%d/services/T0SECRET/B0SECRET/xoxSECRET\n", port);
    assert_int_equal(make_config(fx, extra), 0);

    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", NULL), 1);
    char *req = receiver_request(fx, pfd[0]);
    close(pfd[0]);
    expect_out(fx, "result   FAILED");
    expect_out(fx, "alert sent to Slack");
    char want[256];
    snprintf(want, sizeof want, "restore-check \"%s\" failed: \"orders.ndjson\": sha256", name);
    expect_out(fx, want);
    expect_no_out(fx, "SECRET");
    expect_no_out(fx, "services/");

    if (strncmp(req, "POST /services/T0SECRET/B0SECRET/xoxSECRET HTTP/1.1\r\n", 52) != 0)
        fail_msg("unexpected request:\n%s", req);
    assert_non_null(strcasestr(req, "\r\nContent-Type: application/json\r\n"));
    char *t = slack_text(req);
    snprintf(want, sizeof want,
             ":rotating_light: MindQuiz restore-check FAILED (백업 복원 점검 실패) on ");
    if (strncmp(t, want, strlen(want)) != 0)
        fail_msg("unexpected alert text: %s", t);
    snprintf(want, sizeof want, ": %s: \"orders.ndjson\": sha256 ", name);
    if (!strstr(t, want))
        fail_msg("alert text lacks \"%s\": %s", want, t);
    free(t);
}

static void restore_check__no_backup__exits_1_and_alerts(void **state)
{
    fixture *fx = *state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    int port = start_receiver(fx, pfd[1], 200);
    close(pfd[1]);
    char extra[256];
    snprintf(extra, sizeof extra, "SLACK_WEBHOOK_URL=http://127.0.0.1:%d/hook\n", port);
    assert_int_equal(make_config(fx, extra), 0);
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", NULL), 1);
    char *req = receiver_request(fx, pfd[0]);
    close(pfd[0]);
    expect_out(fx, "restore-check failed: there is no backup in");
    expect_out(fx, "alert sent to Slack");
    char *t = slack_text(req);
    assert_non_null(strstr(t, "there is no backup in"));
    free(t);
}

static void restore_check__webhook_unreachable__says_so_without_the_url(void **state)
{
    fixture *fx = *state;
    /* A port nobody listens on: bind, read the port, close. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    close(lfd);
    char extra[256];
    snprintf(extra, sizeof extra, "SLACK_WEBHOOK_URL=http://127.0.0.1:%d/hook/SECRET\n",
             ntohs(sa.sin_port));
    assert_int_equal(make_config(fx, extra), 0);
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", NULL), 1);
    expect_out(fx, "alert to Slack failed: ");
    expect_no_out(fx, "SECRET");

    /* And a webhook that answers 4xx is a failed alert too. */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    int port = start_receiver(fx, pfd[1], 404);
    close(pfd[1]);
    snprintf(extra, sizeof extra, "SLACK_WEBHOOK_URL=http://127.0.0.1:%d/hook/SECRET\n", port);
    assert_int_equal(make_config(fx, extra), 0);
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", NULL), 1);
    receiver_request(fx, pfd[0]);
    close(pfd[0]);
    expect_out(fx, "alert to Slack failed: HTTP 404");
    expect_no_out(fx, "SECRET");
}

static void restore_check__by_name_or_path__checks_that_backup(void **state)
{
    fixture *fx = *state;
    char a[64], b[64], dir[PATH_MAX];
    seeded_backup(fx, a, dir);
    take_backup_of(fx->data, fx->backups, 14, b);
    /* Break the newest; the older one, named, still checks out. */
    char p[PATH_MAX];
    ut_path(p, sizeof p, fx->backups, b);
    assert_int_equal(ut_write_str(p, "MANIFEST.json", "{"), 0);
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", a, NULL), 0);
    expect_out(fx, "result   OK");
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", dir, NULL), 0);
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", NULL), 1);
    expect_out(fx, "MANIFEST.json: not valid JSON");
    expect_no_out(fx, "alert"); /* no webhook configured: nothing to say */
    expect_rc(fx, run(fx, mq_cmd_restore_check, "restore-check", "20000101-000000", NULL), 1);
    expect_out(fx, "no backup \"20000101-000000\" in");
}

int main(void)
{
    /* The alert goes to a child on loopback; a proxy from the environment
     * must not intercept it. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    mq_log_set_level(MQ_L_WARN); /* every store open logs a line at info */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(backup__store_with_orders__restore_check_ok, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup__revenue_json__matches_hand_computed_fixture, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup__tampered_file__restore_check_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup__deleted_file__restore_check_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(backup__truncated_file__restore_check_names_both_sizes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(backup__truncated_manifest__restore_check_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup__record_count_mismatch__names_file_and_both_numbers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(backup__revenue_mismatch__names_provider_and_both_amounts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(backup__unlisted_file__restore_check_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup__snapshot_inside_a_line__fails_and_leaves_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(backup__summary_not_of_the_cut__fails, setup, teardown),
        cmocka_unit_test_setup_teardown(
            backup__corrupt_lines_in_store__counted_as_the_loader_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(backup__rotation__keeps_n_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(backup__list__newest_first_and_skips_tmp_dirs, setup,
                                        teardown),
        cmocka_unit_test(backup__name_valid__only_backup_shaped_names),
        cmocka_unit_test_setup_teardown(backup__taken_while_appending__restores_matching_counts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(backup_cmd__no_host__backs_up_in_process, setup, teardown),
        cmocka_unit_test_setup_teardown(backup_cmd__store_locked__refuses_clearly, setup, teardown),
        cmocka_unit_test_setup_teardown(backup_cmd__bad_usage__exit_64, setup, teardown),
        cmocka_unit_test_setup_teardown(backup_cmd__host_running__the_host_takes_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(backup_cmd__host_fails__reports_its_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(restore_check__tampered_backup__alerts_slack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(restore_check__no_backup__exits_1_and_alerts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(restore_check__webhook_unreachable__says_so_without_the_url,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(restore_check__by_name_or_path__checks_that_backup, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("backup", tests, NULL, NULL);
}
