/*
 * unit_util.h -- small helpers shared by the cmocka unit tests: a private
 * temp dir per test, and writing/reading/removing files in it. Header-only
 * (static functions) so a test needs no extra source in mq_add_unit_test.
 */
#ifndef MQ_UNIT_UTIL_H
#define MQ_UNIT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snprintf that aborts the test process when the text does not fit: test
 * paths are short, so a truncation is a bug in the test. */
#define UT_SNPRINTF(buf, n, ...)                                                                   \
    do {                                                                                           \
        int ut_w_ = snprintf((buf), (n), __VA_ARGS__);                                             \
        if (ut_w_ < 0 || (size_t)ut_w_ >= (size_t)(n)) {                                           \
            fprintf(stderr, "%s:%d: text too long for its buffer\n", __FILE__, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Create a fresh directory under $TMPDIR (or /tmp) named mq-unit-<tag>-*,
 * resolved with realpath. Returns a malloc'd path, or NULL. */
static inline char *ut_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char tmpl[PATH_MAX];
    UT_SNPRINTF(tmpl, sizeof tmpl, "%s/mq-unit-%s-XXXXXX", base, tag);
    if (!mkdtemp(tmpl))
        return NULL;
    return realpath(tmpl, NULL);
}

static inline int ut_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    /* Tests may make things read-only; removal must still work. */
    if (type == FTW_DP)
        chmod(path, 0700);
    remove(path);
    return 0;
}

/* rm -rf path (does not follow symlinks). NULL is fine. */
static inline void ut_rm_rf(const char *path)
{
    if (path)
        nftw(path, ut_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p for the parent directories of path. */
static inline int ut_mkparents(const char *path)
{
    char buf[PATH_MAX];
    UT_SNPRINTF(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return 0;
}

/* Write len bytes to dir/rel (parents created; rel NULL: dir is the
 * file's path). Returns 0 or -1. */
static inline int ut_write(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];
    if (rel)
        UT_SNPRINTF(path, sizeof path, "%s/%s", dir, rel);
    else
        UT_SNPRINTF(path, sizeof path, "%s", dir);
    if (ut_mkparents(path) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

static inline int ut_write_str(const char *dir, const char *rel, const char *text)
{
    return ut_write(dir, rel, text, strlen(text));
}

/* Read dir/rel (rel may be NULL: dir is the path) into a malloc'd,
 * NUL-terminated buffer; *len gets the size when not NULL. NULL on error. */
static inline char *ut_read(const char *dir, const char *rel, size_t *len)
{
    char path[PATH_MAX];
    if (rel)
        UT_SNPRINTF(path, sizeof path, "%s/%s", dir, rel);
    else
        UT_SNPRINTF(path, sizeof path, "%s", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

/* "dir/rel" in a static-per-call caller buffer. */
static inline const char *ut_path(char *buf, size_t n, const char *dir, const char *rel)
{
    /* NULLs only after a failed assert that the compiler cannot see end. */
    UT_SNPRINTF(buf, n, "%s/%s", dir ? dir : "", rel ? rel : "");
    return buf;
}

#endif
