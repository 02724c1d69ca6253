/*
 * backup.h -- consistent backups of the store, rotation, and restore checks
 * (the runbook's `npm run ops:daily` and `npm run restore:check`).
 *
 * A backup is a directory "<backup_root>/<YYYYMMDD-HHMMSS>/" (0700, files
 * 0600) holding a prefix copy of each collection file taken from one
 * mq_store_snapshot() cut, and MANIFEST.json:
 *   {"format":1,"name":..,"created":"<ISO8601 UTC>","created_unix":<sec>,
 *    "host_version":..,"host_commit":..,
 *    "files":[{"collection","file","bytes","sha256","records","keys"}],
 *    "revenue_krw":{"kakao":N,"naver":N},  (see mq_backup_revenue)
 *    "orders_by_status":{"approved":N,...}}
 * It is built in "<root>/.tmp-<name>-XXXXXX" and renamed into place, so a
 * half-written backup never looks complete. After each restore check the
 * result is written beside it as CHECK.json {"ok","checked","message"}.
 */
#ifndef MQ_BACKUP_H
#define MQ_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Revenue as backups count it: over the latest record of every key in the
 * "orders" collection whose "status" is "approved", the sum of "amount"
 * (integer KRW) per "provider". Also counts latest orders per status.
 * Returns a malloc'd JSON text {"revenue_krw":{...},"orders_by_status":{...}}
 * (caller frees) or NULL on ENOMEM. Works on any open store. */
char *mq_backup_revenue_json(mq_store *s);

/* Copy the snapshot files into a new backup under root (created 0700),
 * write its manifest, rename it into place, then delete the oldest backups
 * so that at most `keep` remain. Blocking file I/O: run it off the loop
 * (the host uses a thread) or in the CLI. `snap` comes from
 * mq_store_snapshot on the loop thread; `summary_json` from
 * mq_backup_revenue_json at the same instant. On success writes the
 * backup's name into name (>= 32 bytes) and returns 0; else -1 and err. */
int mq_backup_create(const char *root, const mq_store_snap_file *snap, size_t nsnap,
                     const char *summary_json, int keep, char *name, size_t namelen,
                     char *err, size_t errlen);

/* Restore `backup_dir` into a fresh temp dir, verify every file's size and
 * sha256, open it with the real store loader (mq_store_open), and compare
 * record counts, keys and revenue with the manifest. Writes CHECK.json into
 * backup_dir. Returns 0 when it restores exactly, else -1 with the first
 * discrepancy in err. The temp dir is removed either way. */
int mq_backup_restore_check(const char *backup_dir, char *err, size_t errlen);

typedef struct mq_backup_info {
    char name[64];
    char path[4096];
    int64_t created_unix; /* 0 when the manifest is unreadable */
    uint64_t bytes;       /* sum of the files */
    char check[16];       /* "ok", "failed" or "unchecked" */
    char check_message[256];
} mq_backup_info;

/* List the complete backups under root, newest first. *out is malloc'd
 * (caller frees). Returns 0, or -1 when root cannot be read (a missing
 * root is an empty list). */
int mq_backup_list(const char *root, mq_backup_info **out, size_t *n);

/* The newest backup's directory (malloc'd) or NULL when there is none. */
char *mq_backup_latest(const char *root);

/* ---- additions (cli_backup.c, and later /admin/files) --------------------- */

/* A parsed MANIFEST.json. Strings are owned by the struct. */
typedef struct mq_backup_file {
    char *collection;
    char *file; /* "<collection>.ndjson" */
    uint64_t bytes;
    char sha256[65];
    uint64_t records;
    uint64_t keys;
} mq_backup_file;

typedef struct mq_backup_amount {
    char *name; /* provider or order status */
    int64_t n;  /* KRW or a count */
} mq_backup_amount;

typedef struct mq_backup_manifest {
    int format;
    char *name;
    char *created; /* ISO 8601 UTC */
    int64_t created_unix;
    char *host_version;
    char *host_commit;
    uint64_t max_record_bytes; /* the store's record limit at the cut; 0 if unrecorded */
    mq_backup_file *files;
    size_t nfiles;
    mq_backup_amount *revenue; /* sorted by name */
    size_t nrevenue;
    mq_backup_amount *by_status; /* sorted by name */
    size_t nstatus;
} mq_backup_manifest;

/* Read and validate "<backup_dir>/MANIFEST.json". Returns a new manifest
 * (free with mq_backup_manifest_free) or NULL with the cause in err. */
mq_backup_manifest *mq_backup_manifest_read(const char *backup_dir, char *err, size_t errlen);
void mq_backup_manifest_free(mq_backup_manifest *m); /* NULL-safe */

/* 1 when name looks like a backup's: YYYYMMDD-HHMMSS, optionally -N. Only
 * such directories are listed, and only they are ever rotated away. */
int mq_backup_name_valid(const char *name);

#endif
