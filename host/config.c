#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mq_config {
    char *dir; /* absolute directory of the .env file */
    size_t n, cap;
    char **keys;
    char **values;
};

/* ---- building the table -------------------------------------------------- */

static int config_set(mq_config *c, char *key, char *value)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->keys[i], key) == 0) {
            free(key);
            free(c->values[i]);
            c->values[i] = value;
            return 0;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **k = realloc(c->keys, cap * sizeof *k);
        if (!k)
            return -1;
        c->keys = k;
        char **v = realloc(c->values, cap * sizeof *v);
        if (!v)
            return -1;
        c->values = v;
        c->cap = cap;
    }
    c->keys[c->n] = key;
    c->values[c->n] = value;
    c->n++;
    return 0;
}

void mq_config_free(mq_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    free(c->dir);
    free(c);
}

/* ---- parsing --------------------------------------------------------------- */

/* Parse the value starting at p (end e) into a malloc'd string. Returns NULL
 * and sets *why on a syntax error. */
static char *parse_value(const char *p, const char *e, const char **why)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    char *out = malloc((size_t)(e - p) + 1);
    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    size_t n = 0;
    if (p < e && (*p == '\'' || *p == '"')) {
        char q = *p++;
        int closed = 0;
        while (p < e) {
            char ch = *p++;
            if (ch == q) {
                closed = 1;
                break;
            }
            if (q == '"' && ch == '\\' && p < e) {
                char esc = *p++;
                switch (esc) {
                case 'n': ch = '\n'; break;
                case 't': ch = '\t'; break;
                case 'r': ch = '\r'; break;
                case '"': case '\\': case '$': case '\'': ch = esc; break;
                default:
                    free(out);
                    *why = "unknown escape in double-quoted value";
                    return NULL;
                }
            }
            out[n++] = ch;
        }
        if (!closed) {
            free(out);
            *why = "unterminated quoted value";
            return NULL;
        }
        /* Only blanks or a comment may follow the closing quote. */
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p < e && *p != '#') {
            free(out);
            *why = "text after closing quote";
            return NULL;
        }
    } else {
        const char *start = p;
        while (p < e) {
            if (*p == '#' && (p == start || p[-1] == ' ' || p[-1] == '\t'))
                break;
            out[n++] = *p++;
        }
        while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
            n--;
    }
    out[n] = '\0';
    return out;
}

mq_config *mq_config_parse(const char *text, size_t len, const char *dir, char *err,
                           size_t errlen)
{
    mq_config *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = strdup(dir ? dir : "."))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        lineno++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *e = eol ? eol : end;
        const char *next = eol ? eol + 1 : end;
        if (e > p && e[-1] == '\r')
            e--;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p == e || *p == '#') {
            p = next;
            continue;
        }
        if ((size_t)(e - p) > 7 && memcmp(p, "export ", 7) == 0)
            p += 7;
        const char *k = p;
        if (!(isalpha((unsigned char)*p) || *p == '_')) {
            snprintf(err, errlen, "line %d: expected KEY=VALUE", lineno);
            goto fail;
        }
        while (p < e && (isalnum((unsigned char)*p) || *p == '_'))
            p++;
        const char *ke = p;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p == e || *p != '=') {
            snprintf(err, errlen, "line %d: expected KEY=VALUE", lineno);
            goto fail;
        }
        p++;
        const char *why = NULL;
        char *value = parse_value(p, e, &why);
        if (!value) {
            snprintf(err, errlen, "line %d: %s", lineno, why);
            goto fail;
        }
        char *key = strndup(k, (size_t)(ke - k));
        if (!key || config_set(c, key, value) != 0) {
            free(key);
            free(value);
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        p = next;
    }
    return c;
fail:
    mq_config_free(c);
    return NULL;
}

mq_config *mq_config_load(const char *path, int *missing, char *err, size_t errlen)
{
    char dirbuf[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash) {
        size_t dn = (size_t)(slash - path);
        if (dn == 0)
            dn = 1; /* "/.env" */
        if (dn >= sizeof dirbuf) {
            snprintf(err, errlen, "path too long");
            return NULL;
        }
        memcpy(dirbuf, path, dn);
        dirbuf[dn] = '\0';
    } else {
        strcpy(dirbuf, ".");
    }
    char absdir[PATH_MAX];
    if (!realpath(dirbuf, absdir)) {
        snprintf(err, errlen, "resolve \"%s\" failed: %s", dirbuf, strerror(errno));
        return NULL;
    }
    if (missing)
        *missing = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            if (missing)
                *missing = 1;
            return mq_config_parse("", 0, absdir, err, errlen);
        }
        snprintf(err, errlen, "open \"%s\" failed: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > 1024 * 1024) {
        close(fd);
        snprintf(err, errlen, "\"%s\" is not a regular file under 1 MiB", path);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    mq_config *c = mq_config_parse(buf, got, absdir, err, errlen);
    free(buf);
    return c;
}

/* ---- lookups ---------------------------------------------------------------- */

const char *mq_config_get(const mq_config *c, const char *key)
{
    if (!c)
        return NULL;
    /* Last definition wins; config_set already replaced duplicates. */
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return NULL;
}

const char *mq_config_get_or(const mq_config *c, const char *key, const char *def)
{
    const char *v = mq_config_get(c, key);
    return (v && *v) ? v : def;
}

int mq_config_get_long(const mq_config *c, const char *key, long def, long min, long max,
                       long *out, char *err, size_t errlen)
{
    const char *v = mq_config_get(c, key);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *endp;
    errno = 0;
    long x = strtol(v, &endp, 10);
    if (errno || *endp || x < min || x > max) {
        snprintf(err, errlen, "%s=\"%s\" is not an integer in [%ld, %ld]", key, v, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

char *mq_config_path(const mq_config *c, const char *key, const char *def)
{
    const char *v = mq_config_get_or(c, key, def);
    if (!v)
        return NULL;
    if (v[0] == '/')
        return strdup(v);
    const char *dir = c ? c->dir : ".";
    size_t n = strlen(dir) + 1 + strlen(v) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, v);
    return out;
}

const char *mq_config_dir(const mq_config *c) { return c ? c->dir : "."; }
size_t mq_config_count(const mq_config *c) { return c ? c->n : 0; }
const char *mq_config_key_at(const mq_config *c, size_t i) { return c->keys[i]; }
const char *mq_config_value_at(const mq_config *c, size_t i) { return c->values[i]; }
