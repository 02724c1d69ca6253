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

/* ---- running a `mindquiz` subcommand in-process ---------------------------- */

#include <stdarg.h>

struct mq_config;
typedef int (*ut_cmd_fn)(int argc, char **argv, const char *env_path, struct mq_config *cfg);

/* Run fn(argv...) (a NULL-terminated list of strings, argv[0] included)
 * with cfg, capturing its stdout and stderr into out (NUL-terminated,
 * truncated to outlen) through a file in dir. Returns fn's exit status,
 * or -1 when the capture could not be set up. */
static inline int ut_run_cmd_v(const char *dir, struct mq_config *cfg, char *out, size_t outlen,
                               ut_cmd_fn fn, va_list ap)
{
    char *argv[16];
    int argc = 0;
    for (const char *a; argc < 15 && (a = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = (char *)a;
    argv[argc] = NULL;
    char cap[PATH_MAX];
    ut_path(cap, sizeof cap, dir, "captured.txt");
    fflush(stdout);
    fflush(stderr);
    int o = dup(1), e = dup(2);
    int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0 || fd < 0)
        return -1;
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    int rc = fn(argc, argv, "unused.env", cfg);
    fflush(stdout);
    fflush(stderr);
    dup2(o, 1);
    dup2(e, 2);
    close(o);
    close(e);
    char *text = ut_read(cap, NULL, NULL);
    snprintf(out, outlen, "%s", text ? text : "");
    free(text);
    return rc;
}

#endif
