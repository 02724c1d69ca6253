/*
 * config.h -- a snapshot of the `.env` file.
 *
 * Syntax: one KEY=VALUE per line; blank lines and lines starting with '#'
 * are ignored; an optional leading `export `; KEY is [A-Za-z_][A-Za-z0-9_]*;
 * VALUE is either bare (trimmed, a " #" starts a comment), 'single quoted'
 * (literal) or "double quoted" (\n \t \" \\ \$ escapes). A key given twice
 * keeps its last value, so the runbook's `echo KEY=0 >> .env` works.
 * A snapshot is immutable once loaded: each generation reads its own.
 */
#ifndef MQ_CONFIG_H
#define MQ_CONFIG_H

#include <stddef.h>

typedef struct mq_config mq_config;

/* Parse `path`. A missing file gives an empty snapshot (defaults apply) and
 * sets *missing when `missing` is not NULL. On a syntax error returns NULL
 * and writes "line N: cause" into err. Caller frees with mq_config_free. */
mq_config *mq_config_load(const char *path, int *missing, char *err, size_t errlen);

/* Parse a buffer (for tests and for loading). Same contract as above. */
mq_config *mq_config_parse(const char *text, size_t len, const char *dir, char *err,
                           size_t errlen);

void mq_config_free(mq_config *c);

/* Value or NULL. Borrowed until mq_config_free. */
const char *mq_config_get(const mq_config *c, const char *key);

/* Value, or `def` when unset or empty. */
const char *mq_config_get_or(const mq_config *c, const char *key, const char *def);

/* Integer value; `def` when unset; -1 and an error message when malformed
 * or outside [min, max]. */
int mq_config_get_long(const mq_config *c, const char *key, long def, long min, long max,
                       long *out, char *err, size_t errlen);

/* A path-valued key: relative values are taken relative to the directory
 * of the .env file, so `mindquiz --env /srv/mq/.env` works from any cwd.
 * Returns a malloc'd absolute path (caller frees) or NULL on ENOMEM. */
char *mq_config_path(const mq_config *c, const char *key, const char *def);

/* Directory the snapshot's relative paths resolve against. Borrowed. */
const char *mq_config_dir(const mq_config *c);

/* Number of entries, and the i-th key/value (for iteration). */
size_t mq_config_count(const mq_config *c);
const char *mq_config_key_at(const mq_config *c, size_t i);
const char *mq_config_value_at(const mq_config *c, size_t i);

#endif
