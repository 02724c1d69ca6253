/*
 * statics.c -- static files in memory (see statics.h).
 */
#include "statics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"

#define MAX_DEPTH 8

static int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

const char *mq_quiz_content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"html", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"webmanifest", "application/manifest+json"},
        {"xml", "application/xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"avif", "image/avif"},
        {"svg", "image/svg+xml"},
        {"ico", "image/x-icon"},
        {"woff2", "font/woff2"},
        {"woff", "font/woff"},
    };
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot + 1, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

int mq_quiz_is_hashed_name(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *ext = strrchr(base, '.');
    if (!ext || ext == base)
        return 0;
    const char *h = ext;
    while (h > base && h[-1] != '.')
        h--;
    if (h == base) /* "abcdef12.css": no name before the hash */
        return 0;
    size_t n = (size_t)(ext - h);
    if (n < 8)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return 0;
    return 1;
}

/* ---- the name table ----------------------------------------------------------------- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int slot_put(mq_quiz_statics *s, const char *name, size_t file, int immutable)
{
    size_t mask = s->nslots - 1, i = (size_t)fnv(name) & mask;
    while (s->slots[i].name) {
        if (!strcmp(s->slots[i].name, name))
            return -1; /* a file named like another's alias: keep the first */
        i = (i + 1) & mask;
    }
    s->slots[i].name = name;
    s->slots[i].file = file;
    s->slots[i].immutable = immutable;
    return 0;
}

const mq_quiz_static *mq_quiz_statics_find(const mq_quiz_statics *s, const char *name,
                                           int *immutable)
{
    if (!s->nslots || !name)
        return NULL;
    size_t mask = s->nslots - 1, i = (size_t)fnv(name) & mask;
    while (s->slots[i].name) {
        if (!strcmp(s->slots[i].name, name)) {
            if (immutable)
                *immutable = s->slots[i].immutable;
            return &s->files[s->slots[i].file];
        }
        i = (i + 1) & mask;
    }
    return NULL;
}

const char *mq_quiz_statics_url(const mq_quiz_statics *s, const char *path)
{
    int imm;
    const mq_quiz_static *f = mq_quiz_statics_find(s, path, &imm);
    return f ? f->url : NULL;
}

/* ---- loading ----------------------------------------------------------------------- */

static int add_file(mq_quiz_statics *s, const char *rel, const char *full, const struct stat *sb,
                    char *err, size_t cap)
{
    if (s->n == MQ_QUIZ_STATIC_MAX_FILES)
        return errf(err, cap, "more than %d static files", MQ_QUIZ_STATIC_MAX_FILES);
    if ((uint64_t)sb->st_size > MQ_QUIZ_STATIC_MAX_FILE)
        return errf(err, cap, "\"%s\" is larger than %u bytes", full, MQ_QUIZ_STATIC_MAX_FILE);
    if (s->total + (size_t)sb->st_size > MQ_QUIZ_STATIC_MAX_TOTAL)
        return errf(err, cap, "static files exceed %u bytes in all", MQ_QUIZ_STATIC_MAX_TOTAL);
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        mq_quiz_static *nf = realloc(s->files, nc * sizeof *nf);
        if (!nf)
            return errf(err, cap, "out of memory");
        s->files = nf;
        s->cap = nc;
    }
    mq_quiz_static *f = &s->files[s->n];
    memset(f, 0, sizeof *f);
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errf(err, cap, "open \"%s\" failed: %s", full, strerror(errno));
    size_t want = (size_t)sb->st_size, got = 0;
    f->data = malloc(want + 1);
    while (f->data && got < want) {
        ssize_t r = read(fd, f->data + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    int rerr = errno, oom = !f->data;
    close(fd);
    if (oom)
        return errf(err, cap, "out of memory");
    if (got != want) {
        free(f->data);
        f->data = NULL;
        return errf(err, cap, "read \"%s\" failed: %s", full, rerr ? strerror(rerr) : "short read");
    }
    f->data[want] = '\0';
    f->len = want;
    s->n++; /* from here cleanup frees it */
    char hex[65];
    mq_quiz_sha256_hex(f->data, f->len, hex);
    snprintf(f->etag, sizeof f->etag, "\"%s\"", hex);
    f->type = mq_quiz_content_type(rel);
    f->own_name_hashed = mq_quiz_is_hashed_name(rel);
    f->path = strdup(rel);
    /* alias: insert ".<12 hex>" before the extension of the last component */
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base ? (size_t)(dot - rel) : strlen(rel);
    size_t alen = strlen(rel) + 14;
    f->hashed = malloc(alen);
    f->url = malloc(alen + 8);
    if (!f->path || !f->hashed || !f->url)
        return errf(err, cap, "out of memory");
    if (f->own_name_hashed)
        snprintf(f->hashed, alen, "%s", rel);
    else
        snprintf(f->hashed, alen, "%.*s.%.12s%s", (int)stem, rel, hex, rel + stem);
    snprintf(f->url, alen + 8, "/static/%s", f->hashed);
    s->total += f->len;
    return 0;
}

static int walk(mq_quiz_statics *s, const char *root, const char *rel, int depth, char *err,
                size_t cap)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) {
        if (depth == 0 && errno == ENOENT)
            return 0;
        return errf(err, cap, "open \"%s\" failed: %s", dir, strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char r2[1024], full[4096 + 256];
        int n = snprintf(r2, sizeof r2, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        if (n < 0 || (size_t)n >= sizeof r2)
            continue; /* absurdly long names are not served */
        snprintf(full, sizeof full, "%s/%s", root, r2);
        struct stat sb;
        if (lstat(full, &sb) != 0) {
            rc = errf(err, cap, "stat \"%s\" failed: %s", full, strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            if (depth + 1 < MAX_DEPTH)
                rc = walk(s, root, r2, depth + 1, err, cap);
        } else if (S_ISREG(sb.st_mode)) {
            rc = add_file(s, r2, full, &sb, err, cap);
        }
    }
    closedir(d);
    return rc;
}

int mq_quiz_statics_load(mq_quiz_statics *s, const char *root, char *err, size_t cap)
{
    memset(s, 0, sizeof *s);
    if (walk(s, root, "", 0, err, cap) != 0)
        return -1;
    size_t want = 16;
    while (want < s->n * 4)
        want *= 2;
    s->slots = calloc(want, sizeof *s->slots);
    if (!s->slots)
        return errf(err, cap, "out of memory");
    s->nslots = want;
    /* Own names first, so a file's own name wins over another's alias. */
    for (size_t i = 0; i < s->n; i++)
        slot_put(s, s->files[i].path, i, s->files[i].own_name_hashed);
    for (size_t i = 0; i < s->n; i++)
        if (!s->files[i].own_name_hashed)
            slot_put(s, s->files[i].hashed, i, 1);
    return 0;
}

void mq_quiz_statics_cleanup(mq_quiz_statics *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].data);
        free(s->files[i].path);
        free(s->files[i].hashed);
        free(s->files[i].url);
    }
    free(s->files);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* ---- conditional requests ------------------------------------------------------------ */

int mq_quiz_etag_match(const char *inm, const char *etag)
{
    if (!inm || !etag)
        return 0;
    size_t el = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *start = p;
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q)
                return 0;
            p = q + 1;
        } else {
            while (*p && *p != ',')
                p++;
        }
        if ((size_t)(p - start) == el && !memcmp(start, etag, el))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}
