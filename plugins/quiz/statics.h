/*
 * statics.h -- the release's assets/static, read into memory at init and
 * served from there: nothing outside what was loaded can ever be served,
 * whatever the request path says (no file system access per request).
 *
 * Each file is reachable under its own name ("app.css", "og/x.png") and
 * under a content-hashed alias ("app.1a2b3c4d5e6f.css": the first 12 hex
 * digits of its SHA-256 before the extension). Names that carry such a
 * hash (".<8 or more hex>.<ext>") are immutable and cached for a year;
 * other names get a short cache lifetime. The strong ETag is the file's
 * whole SHA-256.
 */
#ifndef MQ_QUIZ_STATICS_H
#define MQ_QUIZ_STATICS_H

#include <stddef.h>

#define MQ_QUIZ_STATIC_MAX_FILES 4096
#define MQ_QUIZ_STATIC_MAX_FILE (8u << 20)
#define MQ_QUIZ_STATIC_MAX_TOTAL (64u << 20)

#define MQ_QUIZ_CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define MQ_QUIZ_CACHE_SHORT "public, max-age=300"

typedef struct mq_quiz_static {
    char *path;       /* relative name, e.g. "og/travel-planner.png" */
    char *hashed;     /* the hashed alias, e.g. "og/travel-planner.0123456789ab.png" */
    char *url;        /* "/static/" + hashed: what pages link to */
    const char *type; /* Content-Type (static string) */
    char *data;
    size_t len;
    char etag[67];       /* "\"<64 hex>\"" */
    int own_name_hashed; /* the file's own name is already hashed */
} mq_quiz_static;

typedef struct mq_quiz_statics {
    mq_quiz_static *files;
    size_t n, cap;
    size_t total;
    /* open addressing over every name (own and alias): file index + 1 */
    struct mq_quiz_slot {
        const char *name;
        size_t file;
        int immutable;
    } * slots;
    size_t nslots;
} mq_quiz_statics;

/* Read every regular file under root (recursively; dot files, symlinks and
 * special files skipped). A missing root gives an empty table. 0, or -1
 * with a reason in err (limits, read errors, ENOMEM). Free with cleanup,
 * also after a failure. */
int mq_quiz_statics_load(mq_quiz_statics *s, const char *root, char *err, size_t errcap);
void mq_quiz_statics_cleanup(mq_quiz_statics *s);

/* The file served under `name` (own or alias), or NULL; *immutable tells
 * which Cache-Control applies. */
const mq_quiz_static *mq_quiz_statics_find(const mq_quiz_statics *s, const char *name,
                                           int *immutable);

/* The URL pages should use for `path` ("/static/<hashed alias>"), or NULL
 * when no such file was loaded. */
const char *mq_quiz_statics_url(const mq_quiz_statics *s, const char *path);

/* 1 when the last component of name looks like "base.<8+ hex>.ext". */
int mq_quiz_is_hashed_name(const char *name);

/* Content-Type for a file name, by extension. Static string. */
const char *mq_quiz_content_type(const char *name);

/* 1 when an If-None-Match header value matches etag (weak comparison, as
 * RFC 9110 says for If-None-Match: W/ prefixes are ignored; "*" matches). */
int mq_quiz_etag_match(const char *if_none_match, const char *etag);

#endif /* MQ_QUIZ_STATICS_H */
