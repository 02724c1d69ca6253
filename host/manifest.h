/*
 * manifest.h -- the MANIFEST of a release directory: what it holds and the
 * sha256 of every file, so a half-copied or tampered release is refused
 * before a single plugin of it is loaded.
 *
 * A release directory (see DESIGN.md section 5):
 *
 *   releases/<id>/MANIFEST        JSON, described below
 *   releases/<id>/plugins/N.so     one shared object per plugin
 *   releases/<id>/assets/...      any tree, may be absent
 *   releases/current -> <id>      relative symlink, switched atomically
 *
 * MANIFEST (format 1):
 *
 *   {"format": 1, "id": "20261127-041000", "commit": "<host git commit>",
 *    "built": "<ISO 8601 UTC>", "published": "<ISO 8601 UTC>",
 *    "published_ns": <CLOCK_REALTIME ns, orders releases>,
 *    "plugins": [{"name": "hello", "version": "1.0.0",
 *                 "file": "plugins/hello_v1.so", "abi": "1.1"}],
 *    "files": [{"path": "plugins/hello_v1.so", "size": 123,
 *               "sha256": "<64 lowercase hex>"}, ...]}
 *
 * Every path is relative to the release directory: no leading '/', no
 * empty, "." or ".." component, no control character or backslash. A
 * plugin's file is "plugins/<name>.so" (directly in plugins/). Files on disk
 * are opened without following any symlink, so a release cannot reach
 * outside itself.
 *
 * Released trees are written with files 0644 and directories 0755 (code,
 * not secrets), whatever the umask.
 */
#ifndef MQ_MANIFEST_H
#define MQ_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MQ_MANIFEST_NAME "MANIFEST"
#define MQ_MANIFEST_FORMAT 1
#define MQ_RELEASE_ID_MAX 128 /* bytes, without the NUL */

typedef struct mq_manifest_file {
    char *path;      /* relative to the release dir */
    uint64_t size;   /* bytes */
    char sha256[65]; /* lowercase hex */
} mq_manifest_file;

typedef struct mq_manifest_plugin {
    char *name;    /* from the plugin's descriptor, or the file stem */
    char *version; /* from the descriptor, or "unknown" */
    char *file;    /* "plugins/<x>.so", also listed in files */
    char *abi;     /* "major.minor" or "unknown"; NULL when the MANIFEST omits it */
} mq_manifest_plugin;

typedef struct mq_manifest {
    char *id;
    char *commit;
    char *built;
    char *published;
    int64_t published_ns;
    size_t nfiles;
    mq_manifest_file *files;
    size_t nplugins;
    mq_manifest_plugin *plugins;
} mq_manifest;

/* Parse <release_dir>/MANIFEST. Returns a new manifest (caller frees with
 * mq_manifest_free), or NULL with the cause in err: missing or unreadable
 * file, not JSON, an unsupported format, a missing or mistyped field, a
 * path that is not a plain relative path inside the release, a duplicate
 * path, a plugin file outside plugins/. */
mq_manifest *mq_manifest_read(const char *release_dir, char *err, size_t errlen);

/* Parse MANIFEST text (the work of mq_manifest_read, for tests and tools).
 * Same contract. */
mq_manifest *mq_manifest_parse(const char *text, size_t len, char *err, size_t errlen);

/* Free m and everything it owns. NULL is fine. */
void mq_manifest_free(mq_manifest *m);

/* Check the release on disk against m:
 *   - every plugin's file is listed in files                  ("manifest")
 *   - every listed file exists as a regular file, reached
 *     without following a symlink                             ("missing_file")
 *   - with the listed size and sha256                         ("checksum")
 *   - every plugins/ *.so on disk is listed in plugins and
 *     in files                                                ("manifest")
 * Returns 0, or -1 with a message in err such as
 *   checksum of "plugins/hello.so" does not match the MANIFEST
 *   "plugins/x.so" listed in MANIFEST is missing
 * and *reason (when reason is not NULL) set to the stable token in brackets
 * above (a static string). Files not under plugins/ and not listed (e.g. a
 * stray asset) are not reported. */
int mq_manifest_verify(const char *release_dir, const mq_manifest *m, const char **reason,
                       char *err, size_t errlen);

/* The entry for a relative path, or NULL. Borrowed from m. */
const mq_manifest_file *mq_manifest_find(const mq_manifest *m, const char *path);

/* The plugin entry whose file is `file`, or NULL. Borrowed from m. */
const mq_manifest_plugin *mq_manifest_find_plugin(const mq_manifest *m, const char *file);

/* Serialize m as MANIFEST JSON (format 1). Returns a malloc'd string
 * (caller frees) or NULL on ENOMEM. */
char *mq_manifest_to_json(const mq_manifest *m);

/* Write m as <release_dir>/MANIFEST, 0644: through a temp file that is
 * fsync()ed and renamed into place, then the directory is fsync()ed.
 * Returns 0, or -1 with the cause in err. */
int mq_manifest_write(const char *release_dir, const mq_manifest *m, char *err, size_t errlen);

/* 1 when path is a plain relative path as described above, else 0. */
int mq_manifest_path_valid(const char *path);

/* 1 when id can name a release: [A-Za-z0-9._-]{1,MQ_RELEASE_ID_MAX}, not
 * starting with '.', and not "current"; else 0. */
int mq_release_id_valid(const char *id);

/* Open relpath under the directory dirfd for reading without following any
 * symlink on the way, and only if it is a regular file. Returns the fd
 * (O_CLOEXEC), or -1 with errno: ENOENT/ENOTDIR when missing, ELOOP when a
 * component is a symlink, EINVAL when it is not a regular file. */
int mq_release_openat(int dirfd, const char *relpath);

#endif
