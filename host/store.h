/*
 * store.h -- the embedded store: append-only NDJSON collections in a data
 * directory (DESIGN.md section 6).
 *
 * One file per collection, "<dir>/<collection>.ndjson", one JSON object per
 * line. Every record carries "k" (its key, "" for unkeyed records such as
 * events), "ts" (milliseconds since the epoch) and "v" (schema version);
 * the host adds them when the writer did not. Readers ignore fields they do
 * not know, so an older release reads newer files.
 *
 * In memory the store keeps, per collection, an index "latest record per
 * key" (key -> file offset and length) rebuilt at open by replaying the
 * files; record bodies stay on disk (page cache) and are read with pread.
 *
 * Damage at open: a torn last line (no final newline: a crash mid-write) is
 * truncated away with a log line; a line that is not a JSON object (or is
 * longer than max_record_bytes) in the middle is kept in the file, skipped
 * by the index, logged with file and line number, and counted. A failed
 * append (ENOSPC, EIO, EFBIG) truncates the file back to its previous size,
 * so no partial line ever precedes the next record.
 *
 * Durability: a durable append returns a sequence number; a sync thread
 * fdatasync()s the dirty files and advances the "synced" sequence, batching
 * every append made meanwhile into one sync (group commit). The event loop
 * never waits on the disk: it watches notify_fd and releases the responses
 * whose records are synced.
 *
 * Threading: every function but the sync thread's internals is called from
 * the loop thread only.
 */
#ifndef MQ_STORE_H
#define MQ_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mq_store mq_store;

typedef struct mq_store_opts {
    size_t max_record_bytes; /* default 1 MiB when 0 */
    int no_sync_thread;      /* tests/tools: durable appends fdatasync inline */
    /* Called (on the loop thread, from mq_store_open) for each corrupt line
     * found, so the host can count it. May be NULL. */
    void (*on_corrupt)(const char *collection, uint64_t line, void *ud);
    void *ud;
} mq_store_opts;

typedef struct mq_store_coll_stats {
    const char *name;   /* borrowed until mq_store_close */
    const char *path;   /* absolute file path, borrowed */
    uint64_t records;   /* valid records in the file */
    uint64_t keys;      /* distinct non-empty keys */
    uint64_t bytes;     /* file size: whole lines only */
    uint64_t corrupt;   /* corrupt lines skipped at open */
} mq_store_coll_stats;

/* Open (creating dir 0700 when missing) and replay every *.ndjson in it.
 * Returns NULL with a cause in err (unreadable dir, a file that cannot be
 * repaired, ENOMEM). Does not lock the directory: the host does. */
mq_store *mq_store_open(const char *dir, const mq_store_opts *opts, char *err, size_t errlen);

/* Sync what is pending, stop the sync thread, close files, free. NULL-safe. */
void mq_store_close(mq_store *s);

/* Collection names are [a-z0-9_]{1,32}; keys are 0..256 bytes of UTF-8
 * without control characters. */
int mq_store_name_valid(const char *collection);

/* Append one record. `json` must be one JSON object (len bytes, no NUL);
 * the store adds "k", "ts", "v" when absent and writes one line (files are
 * created 0600). With durable != 0, *seq receives the sequence number to
 * wait for (see mq_store_synced); otherwise *seq is 0. Returns MQ_OK,
 * MQ_EINVAL (bad name/key/JSON), MQ_ETOOBIG (over max_record_bytes), or
 * MQ_EIO (write failed or the store failed an earlier sync; nothing of
 * this record is in the file). seq may be NULL. */
int mq_store_append(mq_store *s, const char *collection, const char *key, const char *json,
                    size_t len, int durable, uint64_t *seq);

/* The latest record of a key: malloc'd, NUL-terminated, caller frees; NULL
 * (and *len = 0) when absent or unreadable. */
char *mq_store_get(mq_store *s, const char *collection, const char *key, size_t *len);

/* Visit records of a collection: with latest_only, the latest record of
 * each non-empty key in first-append order; otherwise every valid record in
 * file order. `json` is borrowed for the call. fn returns non-zero to stop.
 * Returns MQ_OK, MQ_ENOENT (no such collection) or MQ_EIO. */
int mq_store_scan(mq_store *s, const char *collection, int latest_only,
                  int (*fn)(const char *key, const char *json, size_t len, void *ud), void *ud);

/* Statistics of every collection (sorted by name). *out is malloc'd, caller
 * frees the array only (strings are borrowed). */
int mq_store_stats(mq_store *s, mq_store_coll_stats **out, size_t *n);

/* ---- durability (group commit) ------------------------------------------ */

/* A file descriptor that becomes readable when the synced sequence has
 * advanced (or a sync failed). -1 with no_sync_thread. */
int mq_store_notify_fd(mq_store *s);

/* Drain notify_fd and return the highest sequence known to be on disk.
 * *failed (may be NULL) is set when an fdatasync failed: the store then
 * refuses durable appends (MQ_EIO) until reopened. */
uint64_t mq_store_synced(mq_store *s, int *failed);

/* Highest sequence handed out so far. */
uint64_t mq_store_last_seq(mq_store *s);

/* ---- snapshots (backups) ------------------------------------------------------ */

typedef struct mq_store_snap_file {
    char *collection;
    char *path;     /* absolute */
    uint64_t bytes; /* prefix of whole, synced lines to copy */
    size_t max_record_bytes; /* the store's limit: read a copy with the same
                              * limit, or it would count lines the store skips */
} mq_store_snap_file;

/* A consistent cut: for each collection, the length of its file at this
 * instant (whole lines only; durable records before this call are included
 * once synced). Appends after the call never change these prefixes, so the
 * copy may run on another thread. Free with mq_store_snap_free. */
int mq_store_snapshot(mq_store *s, mq_store_snap_file **out, size_t *n);
void mq_store_snap_free(mq_store_snap_file *f, size_t n);

#endif
