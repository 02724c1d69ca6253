/*
 * backup.c -- backups of the store, their rotation, and restore checks
 * (see backup.h for the layout of a backup).
 *
 * Everything here is blocking file I/O meant for a thread or the CLI. The
 * consistency of a backup comes from the cut (mq_store_snapshot on the loop
 * thread: a prefix of whole lines per file); this file only copies those
 * prefixes, so appends that land meanwhile never reach the copy.
 *
 * Locking: rotation takes an exclusive flock on the backup root and a
 * restore check a shared one, so a check never sees the backup it is
 * reading deleted under it. Deletion renames a backup to a ".tmp-" name
 * first, so a half-deleted backup never looks complete either.
 */
#include "util.h"
#include "backup.h"

#include "build_info.h"
#include "log.h"
#include "mq_plugin.h"
#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_NAME "MANIFEST.json"
#define CHECK_NAME "CHECK.json"
#define BACKUP_FORMAT 1
#define TMP_PREFIX ".tmp-"
#define COPY_CHUNK (1024 * 1024)
/* A manifest lists a handful of files; this only stops a damaged one from
 * eating memory. */
#define MANIFEST_MAX_BYTES (16u * 1024 * 1024)
/* The loader counts a backup's records twice, when it is made and when it
 * is checked. Both times its line limit is the copy's longest line (at
 * least the store's default, at most the largest STORE_MAX_RECORD_BYTES
 * the host accepts): no line the live store accepted is ever counted as
 * corrupt in a copy, the same bytes always give the same limit, and the
 * loader's buffer stays as small as the data allows. */
#define RECORD_MIN_LIMIT ((size_t)1 << 20)
#define RECORD_MAX_LIMIT ((size_t)64 << 20)
/* Leftover temp dirs (a crash mid-backup) are removed after this long. */
#define STALE_TMP_SECONDS (24 * 3600)


/* ==== small helpers ========================================================== */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void iso8601_utc(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0; /* best effort: keep removing the rest */
}

/* rm -rf without following symlinks. Best effort. */
static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}


/* Replace dirfd/name with text atomically (temp file, fsync, rename, fsync
 * the directory); mode 0600. */
static int write_file_atomic(int dirfd, const char *dir, const char *name, const char *text,
                             char *err, size_t errlen)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, ".%s.tmp-%ld", name, (long)getpid());
    const char *op = "create";
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto fail;
    op = "write";
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0)
        goto fail;
    op = "close";
    int rc = close(fd);
    fd = -1;
    if (rc != 0)
        goto fail;
    op = "rename";
    if (renameat(dirfd, tmp, dirfd, name) != 0)
        goto fail;
    if (fsync(dirfd) != 0) {
        mq_set_err(err, errlen, "fsync \"%s\" failed: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    mq_set_err(err, errlen, "%s \"%s/%s\" failed: %s", op, dir, name, strerror(saved));
    return -1;
}

/* Read dirfd/name whole (at most max bytes) into a NUL-terminated buffer. */
static char *read_small_file(int dirfd, const char *name, size_t max, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    int bad = 0;
    if (fstat(fd, &st) != 0)
        bad = errno;
    else if (!S_ISREG(st.st_mode))
        bad = EINVAL;
    else if ((uint64_t)st.st_size > max)
        bad = EFBIG;
    if (bad) {
        close(fd);
        errno = bad;
        return NULL;
    }
    size_t cap = (size_t)st.st_size, got = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

/* A fresh DIR stream on dirfd's directory. Not fdopendir(dup(fd)): a dup
 * shares the directory offset, so a second listing would start at the
 * end of the first. */
static DIR *opendir_at(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}

int mq_backup_name_valid(const char *name)
{
    /* YYYYMMDD-HHMMSS */
    for (int i = 0; i < 15; i++) {
        char c = name[i];
        if (i == 8 ? c != '-' : (c < '0' || c > '9'))
            return 0;
    }
    if (name[15] == '\0')
        return 1;
    /* -N, N in 2..9999 without leading zeros */
    if (name[15] != '-' || name[16] < '1' || name[16] > '9')
        return 0;
    size_t n = strlen(name + 16);
    if (n > 4)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (name[16 + i] < '0' || name[16 + i] > '9')
            return 0;
    return 1;
}

/* The -N suffix of a backup name (1 when none): orders backups taken in
 * the same second. */
static long name_suffix(const char *name)
{
    return name[15] == '-' ? strtol(name + 16, NULL, 10) : 1;
}

/* The local time a backup's name says (for backups without a readable
 * manifest). */
static int64_t name_time(const char *name)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(name, "%4d%2d%2d-%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

/* ==== revenue ================================================================== */

typedef struct amounts {
    mq_backup_amount *v;
    size_t n, cap;
} amounts;

static void amounts_free(amounts *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].name);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Add x to the entry `name` (created at 0). Saturates instead of wrapping:
 * a nonsense total must still show as a mismatch, never as a small number. */
static int amounts_add(amounts *a, const char *name, int64_t x)
{
    size_t i = 0;
    while (i < a->n && strcmp(a->v[i].name, name) != 0)
        i++;
    if (i == a->n) {
        if (a->n == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 8;
            mq_backup_amount *v = realloc(a->v, cap * sizeof *v);
            if (!v)
                return -1;
            a->v = v;
            a->cap = cap;
        }
        if (!(a->v[i].name = strdup(name)))
            return -1;
        a->v[i].n = 0;
        a->n++;
    }
    if (__builtin_add_overflow(a->v[i].n, x, &a->v[i].n))
        a->v[i].n = x > 0 ? INT64_MAX : INT64_MIN;
    return 0;
}

static int cmp_amount(const void *x, const void *y)
{
    return strcmp(((const mq_backup_amount *)x)->name, ((const mq_backup_amount *)y)->name);
}

static int64_t amounts_get(const mq_backup_amount *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return v[i].n;
    return 0;
}

typedef struct revenue_scan {
    amounts revenue, by_status;
    int oom;
} revenue_scan;

/* An integer amount: a JSON integer, or a float with an integral value. */
static int get_amount(json_object *o, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, "amount", &v))
        return -1;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
        return 0;
    }
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(int64_t)d) {
            *out = (int64_t)d;
            return 0;
        }
    }
    return -1;
}

static const char *get_str_or(json_object *o, const char *key, const char *def)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) &&
        json_object_get_string_len(v) > 0)
        return json_object_get_string(v);
    return def;
}

static int revenue_visit(const char *key, const char *json, size_t len, void *ud)
{
    (void)key;
    revenue_scan *rs = ud;
    if (len > INT_MAX)
        return 0;
    /* A fresh tokener per record: json-c 0.16's reset keeps state after a
     * failed \u escape, which would corrupt the next record's strings. */
    json_tokener *tok = json_tokener_new();
    json_object *o = tok ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
    if (tok)
        json_tokener_free(tok);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return 0;
    }
    const char *status = get_str_or(o, "status", "unknown");
    if (amounts_add(&rs->by_status, status, 1) != 0)
        rs->oom = 1;
    int64_t amount;
    if (strcmp(status, "approved") == 0 && get_amount(o, &amount) == 0 &&
        amounts_add(&rs->revenue, get_str_or(o, "provider", "unknown"), amount) != 0)
        rs->oom = 1;
    json_object_put(o);
    return rs->oom;
}

static json_object *amounts_to_json(amounts *a)
{
    if (a->n)
        qsort(a->v, a->n, sizeof *a->v, cmp_amount);
    json_object *o = json_object_new_object();
    for (size_t i = 0; o && i < a->n; i++) {
        json_object *v = json_object_new_int64(a->v[i].n);
        if (!v || json_object_object_add(o, a->v[i].name, v) != 0) {
            json_object_put(v);
            json_object_put(o);
            return NULL;
        }
    }
    return o;
}

char *mq_backup_revenue_json(mq_store *s)
{
    revenue_scan rs;
    memset(&rs, 0, sizeof rs);
    /* The runbook's providers always show, with 0 when they sold nothing. */
    if (amounts_add(&rs.revenue, "kakao", 0) != 0 || amounts_add(&rs.revenue, "naver", 0) != 0)
        rs.oom = 1;
    int rc = rs.oom ? MQ_ENOMEM : mq_store_scan(s, "orders", 1, revenue_visit, &rs);
    char *out = NULL;
    if (!rs.oom && (rc == MQ_OK || rc == MQ_ENOENT)) {
        json_object *root = json_object_new_object();
        json_object *rev = amounts_to_json(&rs.revenue);
        json_object *st = amounts_to_json(&rs.by_status);
        if (root && rev && st) {
            json_object_object_add(root, "revenue_krw", rev);
            json_object_object_add(root, "orders_by_status", st);
            rev = st = NULL;
            const char *t = json_object_to_json_string_ext(
                root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            out = t ? strdup(t) : NULL;
        }
        json_object_put(rev);
        json_object_put(st);
        json_object_put(root);
    } else if (!rs.oom) {
        mq_log(MQ_L_ERROR, "scan \"orders\" failed: status %d", rc);
    }
    amounts_free(&rs.revenue);
    amounts_free(&rs.by_status);
    return out;
}

/* ==== the manifest ================================================================== */

void mq_backup_manifest_free(mq_backup_manifest *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->created);
    free(m->host_version);
    free(m->host_commit);
    for (size_t i = 0; i < m->nfiles; i++) {
        free(m->files[i].collection);
        free(m->files[i].file);
    }
    free(m->files);
    for (size_t i = 0; i < m->nrevenue; i++)
        free(m->revenue[i].name);
    free(m->revenue);
    for (size_t i = 0; i < m->nstatus; i++)
        free(m->by_status[i].name);
    free(m->by_status);
    free(m);
}

static int m_str(json_object *o, const char *key, const char *where, char **out, char *err,
                 size_t errlen)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
        mq_set_err(err, errlen, "%smissing string \"%s\"", where, key);
        return -1;
    }
    if (!(*out = strdup(json_object_get_string(v)))) {
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int m_int(json_object *o, const char *key, const char *where, int64_t *out, char *err,
                 size_t errlen)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        mq_set_err(err, errlen, "%smissing integer \"%s\"", where, key);
        return -1;
    }
    errno = 0;
    *out = json_object_get_int64(v);
    if (*out < 0 || errno == ERANGE) {
        mq_set_err(err, errlen, "%s\"%s\" is out of range", where, key);
        return -1;
    }
    return 0;
}

/* An object of integers (revenue_krw, orders_by_status) into a sorted
 * array. */
static int m_amounts(json_object *root, const char *key, mq_backup_amount **out, size_t *n,
                     char *err, size_t errlen)
{
    json_object *o;
    if (!json_object_object_get_ex(root, key, &o) || !json_object_is_type(o, json_type_object)) {
        mq_set_err(err, errlen, "missing object \"%s\"", key);
        return -1;
    }
    amounts a;
    memset(&a, 0, sizeof a);
    json_object_object_foreach(o, k, v)
    {
        if (!json_object_is_type(v, json_type_int)) {
            mq_set_err(err, errlen, "\"%s\".\"%s\" is not an integer", key, k);
            amounts_free(&a);
            return -1;
        }
        if (amounts_add(&a, k, json_object_get_int64(v)) != 0) {
            mq_set_err(err, errlen, "out of memory");
            amounts_free(&a);
            return -1;
        }
    }
    if (a.n)
        qsort(a.v, a.n, sizeof *a.v, cmp_amount);
    *out = a.v;
    *n = a.n;
    return 0;
}

static int sha256_hex_valid(const char *s)
{
    size_t n = strlen(s);
    if (n != MQ_SHA256_HEX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int parse_manifest(json_object *root, mq_backup_manifest *m, char *err, size_t errlen)
{
    int64_t x;
    if (!json_object_is_type(root, json_type_object)) {
        mq_set_err(err, errlen, "not a JSON object");
        return -1;
    }
    if (m_int(root, "format", "", &x, err, errlen) != 0)
        return -1;
    if (x != BACKUP_FORMAT) {
        mq_set_err(err, errlen, "format %" PRId64 " is not %d (written by a newer mindquiz?)", x,
                BACKUP_FORMAT);
        return -1;
    }
    m->format = (int)x;
    if (m_str(root, "name", "", &m->name, err, errlen) != 0 ||
        m_str(root, "created", "", &m->created, err, errlen) != 0 ||
        m_int(root, "created_unix", "", &m->created_unix, err, errlen) != 0 ||
        m_str(root, "host_version", "", &m->host_version, err, errlen) != 0 ||
        m_str(root, "host_commit", "", &m->host_commit, err, errlen) != 0)
        return -1;
    json_object *lim;
    if (json_object_object_get_ex(root, "max_record_bytes", &lim) &&
        json_object_is_type(lim, json_type_int) && json_object_get_int64(lim) > 0)
        m->max_record_bytes = (uint64_t)json_object_get_int64(lim);
    json_object *files;
    if (!json_object_object_get_ex(root, "files", &files) ||
        !json_object_is_type(files, json_type_array)) {
        mq_set_err(err, errlen, "missing array \"files\"");
        return -1;
    }
    size_t n = json_object_array_length(files);
    if (n && !(m->files = calloc(n, sizeof *m->files))) {
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *f = json_object_array_get_idx(files, i);
        mq_backup_file *bf = &m->files[i];
        m->nfiles = i + 1;
        char where[48];
        snprintf(where, sizeof where, "files[%zu]: ", i);
        if (!json_object_is_type(f, json_type_object)) {
            mq_set_err(err, errlen, "%snot an object", where);
            return -1;
        }
        char *sha = NULL;
        int64_t bytes, records, keys;
        if (m_str(f, "collection", where, &bf->collection, err, errlen) != 0 ||
            m_str(f, "file", where, &bf->file, err, errlen) != 0 ||
            m_str(f, "sha256", where, &sha, err, errlen) != 0 ||
            m_int(f, "bytes", where, &bytes, err, errlen) != 0 ||
            m_int(f, "records", where, &records, err, errlen) != 0 ||
            m_int(f, "keys", where, &keys, err, errlen) != 0) {
            free(sha);
            return -1;
        }
        int sha_ok = sha256_hex_valid(sha);
        if (sha_ok)
            memcpy(bf->sha256, sha, sizeof bf->sha256);
        free(sha);
        bf->bytes = (uint64_t)bytes;
        bf->records = (uint64_t)records;
        bf->keys = (uint64_t)keys;
        char want[64];
        snprintf(want, sizeof want, "%s.ndjson", bf->collection);
        if (!mq_store_name_valid(bf->collection) || strcmp(bf->file, want) != 0) {
            mq_set_err(err, errlen, "%s\"%s\" is not a collection file name", where, bf->file);
            return -1;
        }
        if (!sha_ok) {
            mq_set_err(err, errlen, "%s\"sha256\" of \"%s\" is not 64 hex digits", where, bf->file);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->files[j].file, bf->file) == 0) {
                mq_set_err(err, errlen, "\"%s\" is listed twice", bf->file);
                return -1;
            }
    }
    if (m_amounts(root, "revenue_krw", &m->revenue, &m->nrevenue, err, errlen) != 0 ||
        m_amounts(root, "orders_by_status", &m->by_status, &m->nstatus, err, errlen) != 0)
        return -1;
    return 0;
}

static mq_backup_manifest *manifest_read_at(int dirfd, const char *dir, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = read_small_file(dirfd, MANIFEST_NAME, MANIFEST_MAX_BYTES, &len);
    if (!text) {
        mq_set_err(err, errlen, "read \"%s/%s\" failed: %s", dir, MANIFEST_NAME, strerror(errno));
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    int whole = root && json_tokener_get_parse_end(tok) == len;
    /* Anything but whitespace after the object is damage too. */
    if (root && !whole) {
        whole = 1;
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
            if (text[i] != ' ' && text[i] != '\n' && text[i] != '\t' && text[i] != '\r')
                whole = 0;
    }
    if (tok)
        json_tokener_free(tok);
    free(text);
    if (!root || !whole) {
        json_object_put(root);
        mq_set_err(err, errlen, "%s/%s: not valid JSON (truncated or damaged)", dir, MANIFEST_NAME);
        return NULL;
    }
    mq_backup_manifest *m = calloc(1, sizeof *m);
    char why[512];
    if (!m) {
        mq_set_err(err, errlen, "out of memory");
    } else if (parse_manifest(root, m, why, sizeof why) != 0) {
        mq_set_err(err, errlen, "%s/%s: %s", dir, MANIFEST_NAME, why);
        mq_backup_manifest_free(m);
        m = NULL;
    }
    json_object_put(root);
    return m;
}

mq_backup_manifest *mq_backup_manifest_read(const char *backup_dir, char *err, size_t errlen)
{
    int dfd = open(backup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", backup_dir, strerror(errno));
        return NULL;
    }
    mq_backup_manifest *m = manifest_read_at(dfd, backup_dir, err, errlen);
    close(dfd);
    return m;
}

static int add_amounts_json(json_object *root, const char *key, json_object *src, char *err,
                            size_t errlen)
{
    json_object *v, *copy = NULL;
    if (!json_object_object_get_ex(src, key, &v) || !json_object_is_type(v, json_type_object)) {
        mq_set_err(err, errlen, "the revenue summary has no object \"%s\"", key);
        return -1;
    }
    json_object_object_foreach(v, k, x)
    {
        if (!json_object_is_type(x, json_type_int)) {
            mq_set_err(err, errlen, "the revenue summary's \"%s\".\"%s\" is not an integer", key, k);
            return -1;
        }
    }
    if (json_object_deep_copy(v, &copy, NULL) != 0 ||
        json_object_object_add(root, key, copy) != 0) {
        json_object_put(copy);
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The MANIFEST text for a backup called `name`. */
static char *manifest_text(const char *name, time_t created, size_t max_record,
                           const mq_backup_file *files, size_t nfiles, json_object *summary,
                           char *err, size_t errlen)
{
    char iso[32];
    iso8601_utc(created, iso, sizeof iso);
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    char *out = NULL;
    int bad = !root || !arr;
    if (!bad) {
        json_object_object_add(root, "format", json_object_new_int(BACKUP_FORMAT));
        json_object_object_add(root, "name", json_object_new_string(name));
        json_object_object_add(root, "created", json_object_new_string(iso));
        json_object_object_add(root, "created_unix", json_object_new_int64((int64_t)created));
        json_object_object_add(root, "host_version", json_object_new_string(MQ_VERSION));
        json_object_object_add(root, "host_commit", json_object_new_string(MQ_COMMIT));
        if (max_record)
            json_object_object_add(root, "max_record_bytes",
                                   json_object_new_int64((int64_t)max_record));
        for (size_t i = 0; i < nfiles; i++) {
            const mq_backup_file *f = &files[i];
            json_object *o = json_object_new_object();
            if (!o || json_object_array_add(arr, o) != 0) {
                json_object_put(o);
                bad = 1;
                break;
            }
            json_object_object_add(o, "collection", json_object_new_string(f->collection));
            json_object_object_add(o, "file", json_object_new_string(f->file));
            json_object_object_add(o, "bytes", json_object_new_int64((int64_t)f->bytes));
            json_object_object_add(o, "sha256", json_object_new_string(f->sha256));
            json_object_object_add(o, "records", json_object_new_int64((int64_t)f->records));
            json_object_object_add(o, "keys", json_object_new_int64((int64_t)f->keys));
        }
        json_object_object_add(root, "files", arr);
        arr = NULL;
    }
    if (bad) {
        mq_set_err(err, errlen, "out of memory");
    } else if (add_amounts_json(root, "revenue_krw", summary, err, errlen) == 0 &&
               add_amounts_json(root, "orders_by_status", summary, err, errlen) == 0) {
        const char *s =
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n = s ? strlen(s) : 0;
        if (s && (out = malloc(n + 2))) {
            memcpy(out, s, n);
            out[n] = '\n';
            out[n + 1] = '\0';
        } else {
            mq_set_err(err, errlen, "out of memory");
        }
    }
    json_object_put(arr);
    json_object_put(root);
    return out;
}

/* ==== the loader's view of a copy ================================================ */

/* The longest line in a stream fed in chunks. */
typedef struct line_len {
    uint64_t cur, longest;
} line_len;

static void line_len_feed(line_len *ll, const char *p, size_t n)
{
    const char *e = p + n;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        uint64_t part = (uint64_t)((nl ? nl : e) - p);
        ll->cur += part;
        if (ll->cur > ll->longest)
            ll->longest = ll->cur;
        if (!nl)
            break;
        ll->cur = 0;
        p = nl + 1;
    }
}

static size_t record_limit(const line_len *ll)
{
    if (ll->longest < RECORD_MIN_LIMIT)
        return RECORD_MIN_LIMIT;
    return ll->longest < RECORD_MAX_LIMIT ? (size_t)ll->longest : RECORD_MAX_LIMIT;
}

/* Compare one list of amounts (revenue or order counts) over the union of
 * their names; messages read "<what> "<name>": <got><unit> <got_label>,
 * <want_label> <want><unit>". */
static int compare_amounts(const char *what, const char *unit, const mq_backup_amount *want,
                           size_t nwant, const char *want_label, const mq_backup_amount *got,
                           size_t ngot, const char *got_label, char *err, size_t errlen)
{
    for (int pass = 0; pass < 2; pass++) {
        const mq_backup_amount *v = pass ? got : want;
        size_t n = pass ? ngot : nwant;
        for (size_t i = 0; i < n; i++) {
            int64_t w = amounts_get(want, nwant, v[i].name);
            int64_t g = amounts_get(got, ngot, v[i].name);
            if (w != g) {
                mq_set_err(err, errlen, "%s \"%s\": %" PRId64 "%s %s, %s %" PRId64 "%s", what,
                        v[i].name, g, unit, got_label, want_label, w, unit);
                return -1;
            }
        }
    }
    return 0;
}

/* Revenue and order states as lists, from a revenue JSON object. */
typedef struct money {
    mq_backup_amount *revenue, *by_status;
    size_t nrevenue, nstatus;
} money;

static void money_free(money *mo)
{
    for (size_t i = 0; i < mo->nrevenue; i++)
        free(mo->revenue[i].name);
    free(mo->revenue);
    for (size_t i = 0; i < mo->nstatus; i++)
        free(mo->by_status[i].name);
    free(mo->by_status);
    memset(mo, 0, sizeof *mo);
}

static int money_parse(json_object *o, money *mo, char *err, size_t errlen)
{
    memset(mo, 0, sizeof *mo);
    if (m_amounts(o, "revenue_krw", &mo->revenue, &mo->nrevenue, err, errlen) != 0 ||
        m_amounts(o, "orders_by_status", &mo->by_status, &mo->nstatus, err, errlen) != 0) {
        money_free(mo);
        return -1;
    }
    return 0;
}

/* Compare the money of `got` with `want`. */
static int money_compare(const money *want, const char *want_label, const money *got,
                         const char *got_label, char *err, size_t errlen)
{
    if (compare_amounts("revenue", " KRW", want->revenue, want->nrevenue, want_label, got->revenue,
                        got->nrevenue, got_label, err, errlen) != 0)
        return -1;
    return compare_amounts("orders with status", "", want->by_status, want->nstatus, want_label,
                           got->by_status, got->nstatus, got_label, err, errlen);
}

/* The copy in `dir` as the real loader reads it: per file, the records and
 * keys it indexes (after checking it kept every byte), and the money. A
 * copy is opened without a sync thread: nothing is appended to it. */
static int load_copy(const char *dir, size_t max_record, mq_backup_file *files, size_t nfiles,
                     money *mo, char *err, size_t errlen)
{
    mq_store_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.no_sync_thread = 1;
    opts.max_record_bytes = max_record;
    char why[512];
    mq_store_coll_stats *st = NULL;
    size_t nst = 0;
    char *rev = NULL;
    json_object *revj = NULL;
    int rc = -1;
    memset(mo, 0, sizeof *mo);
    mq_store *s = mq_store_open(dir, &opts, why, sizeof why);
    if (!s) {
        mq_set_err(err, errlen, "the store loader refused the copy: %s", why);
        return -1;
    }
    if (mq_store_stats(s, &st, &nst) != MQ_OK) {
        mq_set_err(err, errlen, "statistics of the copy failed: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nfiles; i++) {
        mq_backup_file *f = &files[i];
        const mq_store_coll_stats *cs = NULL;
        for (size_t j = 0; j < nst && !cs; j++)
            if (strcmp(st[j].name, f->collection) == 0)
                cs = &st[j];
        if (!cs) {
            mq_set_err(err, errlen, "\"%s\": the loader did not find it", f->file);
            goto out;
        }
        if (cs->bytes != f->bytes) {
            mq_set_err(err, errlen,
                    "\"%s\": %" PRIu64 " bytes after loading, %" PRIu64
                    " before (the loader cut a damaged end away)",
                    f->file, cs->bytes, f->bytes);
            goto out;
        }
        f->records = cs->records;
        f->keys = cs->keys;
    }
    if (!(rev = mq_backup_revenue_json(s)) || !(revj = json_tokener_parse(rev))) {
        mq_set_err(err, errlen, "revenue of the copy failed: unreadable orders or out of memory");
        goto out;
    }
    if (money_parse(revj, mo, why, sizeof why) != 0) {
        mq_set_err(err, errlen, "revenue of the copy failed: %s", why);
        goto out;
    }
    rc = 0;
out:
    json_object_put(revj);
    free(rev);
    free(st);
    mq_store_close(s);
    return rc;
}

/* ==== create ===================================================================== */

/* Copy [0, sf->bytes) of the snapshot file into a new file f->file in
 * dirfd (0600), hashing as it goes, then fsync it. pread: the store keeps
 * appending to the same file meanwhile. */
static int copy_prefix(const mq_store_snap_file *sf, int dirfd, mq_backup_file *f, char *buf,
                       line_len *ll, char *err, size_t errlen)
{
    mq_sha256 h = {0};
    int in = -1, out = -1, rc = -1;
    uint64_t off = 0;
    char last = '\n';

    in = open(sf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (in < 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", sf->path, strerror(errno));
        goto out;
    }
    out = openat(dirfd, f->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0 || fchmod(out, 0600) != 0) {
        mq_set_err(err, errlen, "create \"%s\" failed: %s", f->file, strerror(errno));
        goto out;
    }
    if (mq_sha256_init(&h) != 0) {
        mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", sf->path);
        goto out;
    }
    while (off < sf->bytes) {
        size_t want = sf->bytes - off < COPY_CHUNK ? (size_t)(sf->bytes - off) : COPY_CHUNK;
        ssize_t r = pread(in, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            mq_set_err(err, errlen, "read \"%s\" failed: %s", sf->path, strerror(errno));
            goto out;
        }
        if (r == 0) {
            mq_set_err(err, errlen,
                    "copy \"%s\" failed: the file ends at %" PRIu64
                    " bytes, before the snapshot's %" PRIu64,
                    sf->path, off, sf->bytes);
            goto out;
        }
        if (mq_sha256_update(&h, buf, (size_t)r) != 0) {
            mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", sf->path);
            goto out;
        }
        if (write_all(out, buf, (size_t)r) != 0) {
            mq_set_err(err, errlen, "write \"%s\" failed: %s", f->file, strerror(errno));
            goto out;
        }
        line_len_feed(ll, buf, (size_t)r);
        last = buf[r - 1];
        off += (uint64_t)r;
    }
    if (last != '\n') {
        /* The loader would cut the last line away: this copy would not
         * restore what the snapshot promised. */
        mq_set_err(err, errlen,
                "copy \"%s\" failed: the snapshot's %" PRIu64 " bytes end inside a line", sf->path,
                sf->bytes);
        goto out;
    }
    if (fsync(out) != 0) {
        mq_set_err(err, errlen, "fsync \"%s\" failed: %s", f->file, strerror(errno));
        goto out;
    }
    int c = close(out);
    out = -1;
    if (c != 0) {
        mq_set_err(err, errlen, "close \"%s\" failed: %s", f->file, strerror(errno));
        goto out;
    }
    if (mq_sha256_final(&h, f->sha256) != 0) {
        mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", f->file);
        goto out;
    }
    f->bytes = off;
    rc = 0;
out:
    mq_sha256_cleanup(&h);
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* A free name under root: base, else base-N with N above every suffix
 * already used with this base. Never a lower one: a backup's suffix orders
 * it among those taken in the same second, and a name freed by rotation
 * must not make the newest backup look like the oldest. */
static int free_name(int rootfd, const char *base, int *k, char *name, size_t namelen)
{
    size_t bn = strlen(base);
    DIR *d = opendir_at(rootfd);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, base, bn) != 0 || !mq_backup_name_valid(de->d_name))
            continue;
        int used = (int)name_suffix(de->d_name);
        if (used >= *k)
            *k = used + 1;
    }
    if (d)
        closedir(d);
    for (; *k < 10000; (*k)++) {
        if (*k == 1)
            snprintf(name, namelen, "%s", base);
        else
            snprintf(name, namelen, "%s-%d", base, *k);
        struct stat st;
        if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
            return 0;
    }
    return -1;
}

/* ---- rotation ---- */

typedef struct backup_ref {
    char name[64];
    int64_t t;
    long suffix;
} backup_ref;

/* Newest first: by creation time, then by the -N suffix. */
static int cmp_ref_newest_first(const void *a, const void *b)
{
    const backup_ref *x = a, *y = b;
    if (x->t != y->t)
        return x->t > y->t ? -1 : 1;
    if (x->suffix != y->suffix)
        return x->suffix > y->suffix ? -1 : 1;
    return strcmp(y->name, x->name);
}

/* Remove temp dirs a crashed backup or check left behind, once they are
 * old enough that no running one can own them. */
static void remove_stale_tmp(int rootfd, const char *root)
{
    DIR *d = opendir_at(rootfd);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 ||
            fstatat(rootfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
            now - st.st_mtime < STALE_TMP_SECONDS)
            continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", root, de->d_name) < (int)sizeof p) {
            mq_log(MQ_L_INFO, "backup: removing leftover \"%s\"", p);
            rm_rf(p);
        }
    }
    closedir(d);
}

/* Delete the oldest complete backups so that `keep` remain, counting (and
 * never deleting) `just_made`. Only directories named like a backup with a
 * readable manifest count: anything else under root is left alone. */
static void rotate(int rootfd, const char *root, int keep, const char *just_made)
{
    if (flock(rootfd, LOCK_EX | LOCK_NB) != 0) {
        mq_log(MQ_L_WARN,
               "rotate \"%s\" skipped: a restore check is reading it; the next backup rotates",
               root);
        return;
    }
    DIR *d = opendir_at(rootfd);
    backup_ref *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if (!mq_backup_name_valid(de->d_name) || strcmp(de->d_name, just_made) == 0 ||
            strlen(de->d_name) >= sizeof v->name ||
            fstatat(rootfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        char dir[PATH_MAX], why[256];
        if (snprintf(dir, sizeof dir, "%s/%s", root, de->d_name) >= (int)sizeof dir)
            continue;
        mq_backup_manifest *m = mq_backup_manifest_read(dir, why, sizeof why);
        if (!m)
            continue; /* not provably ours and complete: a human decides */
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            backup_ref *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                mq_backup_manifest_free(m);
                break;
            }
            v = nv;
        }
        size_t nl = strnlen(de->d_name, sizeof v[n].name); /* valid names are short */
        if (nl == sizeof v[n].name) {
            mq_backup_manifest_free(m);
            continue;
        }
        memcpy(v[n].name, de->d_name, nl + 1);
        v[n].t = m->created_unix;
        v[n].suffix = name_suffix(de->d_name);
        n++;
        mq_backup_manifest_free(m);
    }
    if (d)
        closedir(d);
    if (n)
        qsort(v, n, sizeof *v, cmp_ref_newest_first);
    /* just_made is one of the `keep`. */
    for (size_t i = keep > 1 ? (size_t)keep - 1 : 0; i < n; i++) {
        char gone[128], p[PATH_MAX];
        snprintf(gone, sizeof gone, "%s%s-deleting-%ld", TMP_PREFIX, v[i].name, (long)getpid());
        /* Out of sight first, in one step; then remove at leisure. */
        if (renameat(rootfd, v[i].name, rootfd, gone) != 0) {
            mq_log(MQ_L_ERROR, "rotate \"%s/%s\" failed: %s", root, v[i].name, strerror(errno));
            continue;
        }
        if (snprintf(p, sizeof p, "%s/%s", root, gone) < (int)sizeof p)
            rm_rf(p);
        mq_log(MQ_L_INFO, "backup %s removed (keeping %d)", v[i].name, keep);
    }
    free(v);
    remove_stale_tmp(rootfd, root);
    if (fsync(rootfd) != 0)
        mq_log(MQ_L_WARN, "fsync \"%s\" failed: %s", root, strerror(errno));
    flock(rootfd, LOCK_UN);
}

int mq_backup_create(const char *root, const mq_store_snap_file *snap, size_t nsnap,
                     const char *summary_json, int keep, char *name, size_t namelen, char *err,
                     size_t errlen)
{
    char tmpdir[PATH_MAX] = "", base[32], cand[64];
    int rootfd = -1, tmpfd = -1, rc = -1;
    mq_backup_file *files = NULL;
    json_object *summary = NULL;
    char *buf = NULL, *text = NULL;
    money copy_money, cut_money;
    line_len ll = {0, 0};
    memset(&copy_money, 0, sizeof copy_money);
    memset(&cut_money, 0, sizeof cut_money);

    if (!root || !*root || keep < 1 || !name || namelen < 32 || (nsnap && !snap)) {
        mq_set_err(err, errlen, "backup failed: invalid argument");
        return -1;
    }
    name[0] = '\0';
    if (!summary_json || !(summary = json_tokener_parse(summary_json)) ||
        !json_object_is_type(summary, json_type_object)) {
        mq_set_err(err, errlen, "backup failed: no valid revenue summary");
        goto out;
    }
    if (mq_mkdir_p(root, 0700) != 0) {
        mq_set_err(err, errlen, "create \"%s\" failed: %s", root, strerror(errno));
        goto out;
    }
    if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", root, strerror(errno));
        goto out;
    }
    if (nsnap && !(files = calloc(nsnap, sizeof *files))) {
        mq_set_err(err, errlen, "backup failed: out of memory");
        goto out;
    }
    if (!(buf = malloc(COPY_CHUNK))) {
        mq_set_err(err, errlen, "backup failed: out of memory");
        goto out;
    }

    time_t created = time(NULL);
    struct tm tm;
    localtime_r(&created, &tm);
    strftime(base, sizeof base, "%Y%m%d-%H%M%S", &tm);

    /* Build under a dot-name that listing and rotation ignore. */
    if (snprintf(tmpdir, sizeof tmpdir, "%s/%s%s-XXXXXX", root, TMP_PREFIX, base) >=
        (int)sizeof tmpdir) {
        tmpdir[0] = '\0';
        mq_set_err(err, errlen, "backup failed: \"%s\" is too long a path", root);
        goto out;
    }
    if (!mkdtemp(tmpdir)) {
        mq_set_err(err, errlen, "create \"%s\" failed: %s", tmpdir, strerror(errno));
        tmpdir[0] = '\0';
        goto out;
    }
    if ((tmpfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        fchmod(tmpfd, 0700) != 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", tmpdir, strerror(errno));
        goto out;
    }

    for (size_t i = 0; i < nsnap; i++) {
        const mq_store_snap_file *sf = &snap[i];
        if (!sf->collection || !mq_store_name_valid(sf->collection) || !sf->path) {
            mq_set_err(err, errlen, "backup failed: snapshot entry %zu is not a valid collection", i);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(snap[j].collection, sf->collection) == 0) {
                mq_set_err(err, errlen, "backup failed: collection \"%s\" is in the snapshot twice",
                        sf->collection);
                goto out;
            }
        mq_backup_file *f = &files[i];
        size_t fn = strlen(sf->collection) + sizeof ".ndjson";
        if (!(f->collection = strdup(sf->collection)) || !(f->file = malloc(fn))) {
            mq_set_err(err, errlen, "backup failed: out of memory");
            goto out;
        }
        snprintf(f->file, fn, "%s.ndjson", sf->collection);
        ll.cur = 0;
        if (copy_prefix(sf, tmpfd, f, buf, &ll, err, errlen) != 0)
            goto out;
    }
    if (fsync(tmpfd) != 0) {
        mq_set_err(err, errlen, "fsync \"%s\" failed: %s", tmpdir, strerror(errno));
        goto out;
    }

    /* Count what the loader will count, and prove the copy is the cut: its
     * revenue and order states must be those the store had at that
     * instant (the summary). */
    char why[1024];
    /* Read the copy with the live store's own record limit: a line it
     * skipped as too long must be skipped in the copy too. */
    size_t limit = nsnap && snap[0].max_record_bytes ? snap[0].max_record_bytes : record_limit(&ll);
    if (load_copy(tmpdir, limit, files, nsnap, &copy_money, why, sizeof why) != 0) {
        mq_set_err(err, errlen, "backup failed: %s", why);
        goto out;
    }
    if (money_parse(summary, &cut_money, why, sizeof why) != 0) {
        mq_set_err(err, errlen, "backup failed: the revenue summary is unusable: %s", why);
        goto out;
    }
    if (money_compare(&cut_money, "the store had", &copy_money, "in the copy", why, sizeof why) !=
        0) {
        mq_set_err(err, errlen,
                "backup failed: the copy does not hold the store's state at the cut: %s", why);
        goto out;
    }

    /* Publish: write the manifest under the candidate name, rename the
     * finished dir into place in one step. RENAME_NOREPLACE makes a
     * concurrent backup that took the same name push us to the next. */
    for (int k = 1;; k++) {
        if (free_name(rootfd, base, &k, cand, sizeof cand) != 0) {
            mq_set_err(err, errlen, "backup failed: no free name for \"%s\" in \"%s\"", base, root);
            goto out;
        }
        free(text);
        if (!(text = manifest_text(cand, created, limit, files, nsnap, summary, err, errlen)) ||
            write_file_atomic(tmpfd, tmpdir, MANIFEST_NAME, text, err, errlen) != 0)
            goto out;
        int r = renameat2(AT_FDCWD, tmpdir, rootfd, cand, RENAME_NOREPLACE);
        if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
            /* A filesystem without RENAME_NOREPLACE: a non-empty target
             * makes a plain rename fail anyway. */
            struct stat st;
            if (fstatat(rootfd, cand, &st, AT_SYMLINK_NOFOLLOW) == 0)
                errno = EEXIST;
            else
                r = renameat(AT_FDCWD, tmpdir, rootfd, cand);
        }
        if (r == 0)
            break;
        if (errno != EEXIST && errno != ENOTEMPTY) {
            mq_set_err(err, errlen, "rename \"%s\" to \"%s/%s\" failed: %s", tmpdir, root, cand,
                    strerror(errno));
            goto out;
        }
    }
    tmpdir[0] = '\0'; /* published: no longer ours to remove */
    if (fsync(rootfd) != 0) {
        mq_set_err(err, errlen, "fsync \"%s\" failed: %s", root, strerror(errno));
        goto out;
    }
    snprintf(name, namelen, "%s", cand);
    rotate(rootfd, root, keep, cand);
    rc = 0;
out:
    if (tmpfd >= 0)
        close(tmpfd);
    if (tmpdir[0])
        rm_rf(tmpdir);
    if (rootfd >= 0)
        close(rootfd);
    for (size_t i = 0; files && i < nsnap; i++) {
        free(files[i].collection);
        free(files[i].file);
    }
    free(files);
    free(buf);
    free(text);
    json_object_put(summary);
    money_free(&copy_money);
    money_free(&cut_money);
    return rc;
}

/* ==== restore check ============================================================== */

/* Copy fd `in` to EOF into a new file `name` in dirfd (0600), hashing. */
static int copy_all(int in, int dirfd, const char *name, char *buf, line_len *ll, uint64_t *bytes,
                    char hex[MQ_SHA256_HEX_LEN + 1], char *err, size_t errlen)
{
    mq_sha256 h = {0};
    int rc = -1;
    int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    *bytes = 0;
    if (out < 0) {
        mq_set_err(err, errlen, "restore \"%s\" failed: %s", name, strerror(errno));
        return -1;
    }
    if (mq_sha256_init(&h) != 0) {
        mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", name);
        goto out;
    }
    for (;;) {
        ssize_t r = read(in, buf, COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            mq_set_err(err, errlen, "read \"%s\" failed: %s", name, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        if (mq_sha256_update(&h, buf, (size_t)r) != 0) {
            mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", name);
            goto out;
        }
        if (write_all(out, buf, (size_t)r) != 0) {
            mq_set_err(err, errlen, "restore \"%s\" failed: %s", name, strerror(errno));
            goto out;
        }
        line_len_feed(ll, buf, (size_t)r);
        *bytes += (uint64_t)r;
    }
    if (mq_sha256_final(&h, hex) != 0) {
        mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", name);
        goto out;
    }
    rc = 0;
out:
    mq_sha256_cleanup(&h);
    close(out);
    return rc;
}

/* Where to restore: beside the backup (same filesystem, so it has room for
 * a copy the size of what it already holds), else $TMPDIR. */
static int make_restore_dir(const char *backup_dir, const char *base, char *out, size_t outlen,
                            char *err, size_t errlen)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", backup_dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    const char *tmp = getenv("TMPDIR");
    const char *bases[] = {parent, tmp && *tmp ? tmp : "/tmp"};
    int saved = 0;
    for (size_t i = 0; i < 2; i++) {
        if (snprintf(out, outlen, "%s/%srestore-%s-XXXXXX", bases[i], TMP_PREFIX, base) >=
            (int)outlen)
            continue;
        if (mkdtemp(out)) {
            chmod(out, 0700);
            return 0;
        }
        if (!saved)
            saved = errno;
    }
    mq_set_err(err, errlen, "create a restore dir beside \"%s\" failed: %s", backup_dir,
            strerror(saved ? saved : ENAMETOOLONG));
    out[0] = '\0';
    return -1;
}

/* A *.ndjson file in the backup that its manifest does not list: the
 * manifest no longer describes the backup. */
static int find_unlisted(int dirfd, const mq_backup_manifest *m, char *err, size_t errlen)
{
    DIR *d = opendir_at(dirfd);
    if (!d)
        return 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 8 || strcmp(de->d_name + n - 7, ".ndjson") != 0)
            continue;
        int listed = 0;
        for (size_t i = 0; i < m->nfiles && !listed; i++)
            listed = strcmp(m->files[i].file, de->d_name) == 0;
        if (!listed) {
            mq_set_err(err, errlen, "\"%s\" is in the backup but not in its %s", de->d_name,
                    MANIFEST_NAME);
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

/* The check proper; the caller records the outcome. */
static int check_backup(const char *backup_dir, int bfd, const mq_backup_manifest *m, char *summary,
                        size_t summarylen, char *err, size_t errlen)
{
    char tmp[PATH_MAX] = "";
    char *buf = NULL;
    int tmpfd = -1, rc = -1;
    mq_backup_file *loaded = NULL;
    line_len ll = {0, 0};
    money got, want = {m->revenue, m->by_status, m->nrevenue, m->nstatus};
    memset(&got, 0, sizeof got);

    if (find_unlisted(bfd, m, err, errlen) != 0)
        goto out;
    if (!(buf = malloc(COPY_CHUNK))) {
        mq_set_err(err, errlen, "out of memory");
        goto out;
    }
    /* The manifest's name is only data: it goes into a path only when it is
     * backup-shaped. */
    const char *label = mq_backup_name_valid(m->name) ? m->name : "backup";
    if (make_restore_dir(backup_dir, label, tmp, sizeof tmp, err, errlen) != 0)
        goto out;
    if ((tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", tmp, strerror(errno));
        goto out;
    }

    /* ---- restore: copy every file, verifying what was written */
    for (size_t i = 0; i < m->nfiles; i++) {
        const mq_backup_file *f = &m->files[i];
        int in = openat(bfd, f->file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat sb;
        if (in < 0) {
            mq_set_err(err, errlen, "\"%s\" is missing from the backup (open failed: %s)", f->file,
                    strerror(errno));
            goto out;
        }
        if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            mq_set_err(err, errlen, "\"%s\" in the backup is not a regular file", f->file);
            close(in);
            goto out;
        }
        uint64_t bytes;
        char hex[MQ_SHA256_HEX_LEN + 1];
        ll.cur = 0;
        int c = copy_all(in, tmpfd, f->file, buf, &ll, &bytes, hex, err, errlen);
        close(in);
        if (c != 0)
            goto out;
        if (bytes != f->bytes) {
            mq_set_err(err, errlen, "\"%s\": %" PRIu64 " bytes in the backup, manifest says %" PRIu64,
                    f->file, bytes, f->bytes);
            goto out;
        }
        if (strcmp(hex, f->sha256) != 0) {
            mq_set_err(err, errlen, "\"%s\": sha256 %s does not match the manifest's %s", f->file, hex,
                    f->sha256);
            goto out;
        }
    }
    /* ---- replay every record through the real loader, compare */
    if (!(loaded = calloc(m->nfiles ? m->nfiles : 1, sizeof *loaded))) {
        mq_set_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->nfiles; i++)
        loaded[i] = m->files[i]; /* borrowed names; counts overwritten */
    size_t limit = m->max_record_bytes ? (size_t)m->max_record_bytes : record_limit(&ll);
    if (load_copy(tmp, limit, loaded, m->nfiles, &got, err, errlen) != 0)
        goto out;
    uint64_t total = 0;
    for (size_t i = 0; i < m->nfiles; i++) {
        const mq_backup_file *f = &m->files[i];
        if (loaded[i].records != f->records) {
            mq_set_err(err, errlen, "\"%s\": %" PRIu64 " records restored, manifest says %" PRIu64,
                    f->file, loaded[i].records, f->records);
            goto out;
        }
        if (loaded[i].keys != f->keys) {
            mq_set_err(err, errlen, "\"%s\": %" PRIu64 " keys restored, manifest says %" PRIu64,
                    f->file, loaded[i].keys, f->keys);
            goto out;
        }
        total += f->records;
    }
    if (money_compare(&want, "manifest says", &got, "restored", err, errlen) != 0)
        goto out;
    snprintf(summary, summarylen,
             "restored %zu files, %" PRIu64 " records; sizes, sha256, counts and revenue match "
             "the manifest",
             m->nfiles, total);
    rc = 0;
out:
    money_free(&got);
    free(loaded);
    free(buf);
    if (tmpfd >= 0)
        close(tmpfd);
    if (tmp[0])
        rm_rf(tmp);
    return rc;
}

/* Record the outcome beside the backup. A failure to write it is logged,
 * not fatal: the check's answer stands. */
static void write_check(int bfd, const char *backup_dir, int ok, const char *message)
{
    char iso[32], e[512];
    iso8601_utc(time(NULL), iso, sizeof iso);
    json_object *o = json_object_new_object();
    if (!o)
        return;
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    json_object_object_add(o, "checked", json_object_new_string(iso));
    json_object_object_add(o, "message", json_object_new_string(message));
    const char *s = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *text = NULL;
    if (s && (text = malloc(strlen(s) + 2)))
        sprintf(text, "%s\n", s);
    if (!text || write_file_atomic(bfd, backup_dir, CHECK_NAME, text, e, sizeof e) != 0)
        mq_log(MQ_L_WARN, "record the restore check failed: %s", text ? e : "out of memory");
    free(text);
    json_object_put(o);
}

int mq_backup_restore_check(const char *backup_dir, char *err, size_t errlen)
{
    char msg[1024] = "", summary[512] = "";
    int rc = -1, lockfd = -1;
    mq_backup_manifest *m = NULL;

    int bfd = open(backup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bfd < 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", backup_dir, strerror(errno));
        return -1;
    }
    /* Hold rotation off while we read (see the top of this file). */
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof parent, "%s/..", backup_dir) < (int)sizeof parent &&
        (lockfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
        flock(lockfd, LOCK_SH);

    if (!(m = manifest_read_at(bfd, backup_dir, msg, sizeof msg)))
        goto out;
    if (check_backup(backup_dir, bfd, m, summary, sizeof summary, msg, sizeof msg) != 0)
        goto out;
    rc = 0;
out:
    write_check(bfd, backup_dir, rc == 0, rc == 0 ? summary : msg);
    if (rc != 0)
        mq_set_err(err, errlen, "%s", msg);
    mq_backup_manifest_free(m);
    close(bfd);
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}

/* ==== listing ======================================================================= */

static void read_check(int dirfd, mq_backup_info *bi)
{
    snprintf(bi->check, sizeof bi->check, "unchecked");
    char *text = read_small_file(dirfd, CHECK_NAME, 64 * 1024, NULL);
    json_object *o = text ? json_tokener_parse(text) : NULL;
    json_object *ok, *msg;
    if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "ok", &ok) &&
        json_object_is_type(ok, json_type_boolean)) {
        snprintf(bi->check, sizeof bi->check, "%s", json_object_get_boolean(ok) ? "ok" : "failed");
        if (json_object_object_get_ex(o, "message", &msg) &&
            json_object_is_type(msg, json_type_string))
            snprintf(bi->check_message, sizeof bi->check_message, "%s",
                     json_object_get_string(msg));
    }
    json_object_put(o);
    free(text);
}

/* Bytes of the regular files in dirfd. */
static uint64_t dir_bytes(int dirfd)
{
    DIR *d = opendir_at(dirfd);
    uint64_t sum = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            sum += (uint64_t)st.st_size;
    }
    if (d)
        closedir(d);
    return sum;
}

typedef struct info_sort {
    mq_backup_info info;
    backup_ref ref;
} info_sort;

static int cmp_info(const void *a, const void *b)
{
    return cmp_ref_newest_first(&((const info_sort *)a)->ref, &((const info_sort *)b)->ref);
}

int mq_backup_list(const char *root, mq_backup_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return errno == ENOENT ? 0 : -1;
    DIR *d = opendir_at(rootfd);
    if (!d) {
        close(rootfd);
        return -1;
    }
    info_sort *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        /* Only backup-shaped names: ".tmp-*" (being built or deleted) and
         * anything else an operator put there are not backups. */
        if (!mq_backup_name_valid(de->d_name) ||
            fstatat(rootfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            info_sort *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            v = nv;
        }
        info_sort *e = &v[cnt];
        memset(e, 0, sizeof *e);
        snprintf(e->info.name, sizeof e->info.name, "%.63s", de->d_name);
        if (snprintf(e->info.path, sizeof e->info.path, "%s/%s", root, de->d_name) >=
            (int)sizeof e->info.path)
            continue;
        int dfd = openat(rootfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
            continue; /* deleted meanwhile */
        char why[256];
        mq_backup_manifest *m = manifest_read_at(dfd, e->info.path, why, sizeof why);
        e->info.created_unix = m ? m->created_unix : 0;
        e->info.bytes = dir_bytes(dfd);
        read_check(dfd, &e->info);
        close(dfd);
        mq_backup_manifest_free(m);
        snprintf(e->ref.name, sizeof e->ref.name, "%.63s", de->d_name);
        e->ref.t = e->info.created_unix ? e->info.created_unix : name_time(de->d_name);
        e->ref.suffix = name_suffix(de->d_name);
        cnt++;
    }
    closedir(d);
    close(rootfd);
    if (rc != 0) {
        free(v);
        return -1;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_info);
    mq_backup_info *res = NULL;
    if (cnt && !(res = malloc(cnt * sizeof *res))) {
        free(v);
        return -1;
    }
    for (size_t i = 0; i < cnt; i++)
        res[i] = v[i].info;
    free(v);
    *out = res;
    *n = cnt;
    return 0;
}

char *mq_backup_latest(const char *root)
{
    mq_backup_info *v = NULL;
    size_t n = 0;
    char *p = NULL;
    if (mq_backup_list(root, &v, &n) == 0 && n > 0)
        p = strdup(v[0].path);
    free(v);
    return p;
}
