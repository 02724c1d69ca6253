#include "util.h"
#include "manifest.h"

#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A MANIFEST lists a release's files; 16 MiB is far beyond any real one and
 * keeps a corrupt file from eating memory. */
#define MANIFEST_MAX_BYTES (16u * 1024 * 1024)

#define PLUGINS_PREFIX "plugins/"


/* ---- names and paths -------------------------------------------------------- */

int mq_release_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > MQ_RELEASE_ID_MAX || id[0] == '.' || strcmp(id, "current") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

int mq_manifest_path_valid(const char *path)
{
    if (!path || !*path || path[0] == '/' || strlen(path) >= PATH_MAX)
        return 0;
    const char *comp = path;
    for (const char *p = path;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/' || c == '\0') {
            size_t n = (size_t)(p - comp);
            if (n == 0 || (n == 1 && comp[0] == '.') ||
                (n == 2 && comp[0] == '.' && comp[1] == '.'))
                return 0;
            if (c == '\0')
                return 1;
            comp = p + 1;
        } else if (c < 0x20 || c == 0x7f || c == '\\') {
            return 0;
        }
    }
}

/* "plugins/<x>.so" with nothing but a file name after the prefix. */
static int plugin_file_valid(const char *file)
{
    size_t pre = strlen(PLUGINS_PREFIX), n = strlen(file);
    return mq_manifest_path_valid(file) && n > pre + 3 && strncmp(file, PLUGINS_PREFIX, pre) == 0 &&
           !strchr(file + pre, '/') && strcmp(file + n - 3, ".so") == 0;
}

int mq_release_openat(int dirfd, const char *relpath)
{
    if (!mq_manifest_path_valid(relpath)) {
        errno = EINVAL;
        return -1;
    }
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", relpath); /* length checked by path_valid */

    /* Walk one component at a time with O_NOFOLLOW, so neither the file nor
     * a directory above it may be a symlink pointing out of the release. */
    int cur = dirfd, owned = 0;
    char *comp = buf;
    for (char *slash; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
        *slash = '\0';
        int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        if (owned)
            close(cur);
        if (next < 0) {
            errno = saved;
            return -1;
        }
        cur = next;
        owned = 1;
    }
    /* O_NONBLOCK: a FIFO planted in the tree must not block us before the
     * type check below. It has no effect on reads of a regular file. */
    int fd = openat(cur, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    int saved = errno;
    if (owned)
        close(cur);
    if (fd < 0) {
        errno = saved;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

/* ---- parsing ------------------------------------------------------------------ */

void mq_manifest_free(mq_manifest *m)
{
    if (!m)
        return;
    free(m->id);
    free(m->commit);
    free(m->built);
    free(m->published);
    for (size_t i = 0; i < m->nfiles; i++)
        free(m->files[i].path);
    free(m->files);
    for (size_t i = 0; i < m->nplugins; i++) {
        free(m->plugins[i].name);
        free(m->plugins[i].version);
        free(m->plugins[i].file);
        free(m->plugins[i].abi);
    }
    free(m->plugins);
    free(m);
}

/* Copy the string member `key` of `o` into *out. `where` prefixes messages
 * ("" at the top level, "files[3]: " inside an array). */
static int get_string(json_object *o, const char *key, const char *where, int required,
                      int nonempty, char **out, char *err, size_t errlen)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        if (!required)
            return 0;
        mq_set_err(err, errlen, "MANIFEST: %smissing field \"%s\"", where, key);
        return -1;
    }
    if (!json_object_is_type(v, json_type_string)) {
        mq_set_err(err, errlen, "MANIFEST: %sfield \"%s\" is not a string", where, key);
        return -1;
    }
    const char *s = json_object_get_string(v);
    if (nonempty && !*s) {
        mq_set_err(err, errlen, "MANIFEST: %sfield \"%s\" is empty", where, key);
        return -1;
    }
    if (strlen(s) != (size_t)json_object_get_string_len(v)) {
        mq_set_err(err, errlen, "MANIFEST: %sfield \"%s\" contains a NUL byte", where, key);
        return -1;
    }
    if (!(*out = strdup(s))) {
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* A non-negative integer member. */
static int get_int64(json_object *o, const char *key, const char *where, int64_t *out, char *err,
                     size_t errlen)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        mq_set_err(err, errlen, "MANIFEST: %smissing field \"%s\"", where, key);
        return -1;
    }
    if (!json_object_is_type(v, json_type_int)) {
        mq_set_err(err, errlen, "MANIFEST: %sfield \"%s\" is not an integer", where, key);
        return -1;
    }
    errno = 0;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || errno == ERANGE) {
        mq_set_err(err, errlen, "MANIFEST: %sfield \"%s\" is out of range", where, key);
        return -1;
    }
    *out = x;
    return 0;
}

static json_object *get_array(json_object *o, const char *key, char *err, size_t errlen)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        mq_set_err(err, errlen, "MANIFEST: missing field \"%s\"", key);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_array)) {
        mq_set_err(err, errlen, "MANIFEST: field \"%s\" is not an array", key);
        return NULL;
    }
    return v;
}

static int parse_file(json_object *o, size_t i, mq_manifest_file *f, char *err, size_t errlen)
{
    char where[48];
    snprintf(where, sizeof where, "files[%zu]: ", i);
    if (!json_object_is_type(o, json_type_object)) {
        mq_set_err(err, errlen, "MANIFEST: %snot an object", where);
        return -1;
    }
    char *hex = NULL;
    int64_t size = 0;
    if (get_string(o, "path", where, 1, 1, &f->path, err, errlen) != 0 ||
        get_int64(o, "size", where, &size, err, errlen) != 0 ||
        get_string(o, "sha256", where, 1, 1, &hex, err, errlen) != 0)
        goto fail;
    if (!mq_manifest_path_valid(f->path)) {
        mq_set_err(err, errlen,
                "MANIFEST: %spath \"%s\" is not a relative path inside the release "
                "(absolute, empty, \".\" or \"..\" component, or a control character)",
                where, f->path);
        goto fail;
    }
    if (strcmp(f->path, MQ_MANIFEST_NAME) == 0) {
        mq_set_err(err, errlen, "MANIFEST: %sthe MANIFEST cannot list itself", where);
        goto fail;
    }
    f->size = (uint64_t)size;
    if (strlen(hex) != MQ_SHA256_HEX_LEN) {
        mq_set_err(err, errlen, "MANIFEST: %ssha256 of \"%s\" is not 64 hex digits", where, f->path);
        goto fail;
    }
    for (size_t k = 0; k < MQ_SHA256_HEX_LEN; k++) {
        char c = hex[k];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            mq_set_err(err, errlen, "MANIFEST: %ssha256 of \"%s\" is not 64 hex digits", where,
                    f->path);
            goto fail;
        }
        f->sha256[k] = c;
    }
    f->sha256[MQ_SHA256_HEX_LEN] = '\0';
    free(hex);
    return 0;
fail:
    free(hex);
    return -1;
}

static int parse_plugin(json_object *o, size_t i, mq_manifest_plugin *p, char *err, size_t errlen)
{
    char where[48];
    snprintf(where, sizeof where, "plugins[%zu]: ", i);
    if (!json_object_is_type(o, json_type_object)) {
        mq_set_err(err, errlen, "MANIFEST: %snot an object", where);
        return -1;
    }
    if (get_string(o, "name", where, 1, 1, &p->name, err, errlen) != 0 ||
        get_string(o, "version", where, 1, 1, &p->version, err, errlen) != 0 ||
        get_string(o, "file", where, 1, 1, &p->file, err, errlen) != 0 ||
        get_string(o, "abi", where, 0, 0, &p->abi, err, errlen) != 0)
        return -1;
    if (!plugin_file_valid(p->file)) {
        mq_set_err(err, errlen, "MANIFEST: %sfile \"%s\" of plugin \"%s\" is not plugins/<name>.so",
                where, p->file, p->name);
        return -1;
    }
    return 0;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Find the first string that occurs twice in v[0..n). NULL if none. */
static const char *first_duplicate(char **v, size_t n, int *oom)
{
    *oom = 0;
    if (n < 2)
        return NULL;
    char **sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        *oom = 1;
        return NULL;
    }
    memcpy(sorted, v, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str_ptr);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            dup = sorted[i];
    free(sorted);
    return dup;
}

/* Reject duplicate file paths and duplicate plugin files. */
static int check_duplicates(const mq_manifest *m, char *err, size_t errlen)
{
    size_t n = m->nfiles > m->nplugins ? m->nfiles : m->nplugins;
    char **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    int oom, rc = 0;
    for (size_t i = 0; i < m->nfiles; i++)
        v[i] = m->files[i].path;
    const char *dup = first_duplicate(v, m->nfiles, &oom);
    if (dup || oom) {
        if (oom)
            mq_set_err(err, errlen, "out of memory");
        else
            mq_set_err(err, errlen, "MANIFEST: duplicate path \"%s\" in files", dup);
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < m->nplugins; i++)
        v[i] = m->plugins[i].file;
    dup = first_duplicate(v, m->nplugins, &oom);
    if (dup || oom) {
        if (oom)
            mq_set_err(err, errlen, "out of memory");
        else
            mq_set_err(err, errlen, "MANIFEST: file \"%s\" is listed for two plugins", dup);
        rc = -1;
    }
out:
    free(v);
    return rc;
}

mq_manifest *mq_manifest_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (len > MANIFEST_MAX_BYTES) {
        mq_set_err(err, errlen, "MANIFEST is larger than %u bytes", MANIFEST_MAX_BYTES);
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        mq_set_err(err, errlen, "MANIFEST is not valid JSON: it contains a NUL byte");
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        mq_set_err(err, errlen, "out of memory");
        return NULL;
    }
    json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        mq_set_err(err, errlen, "MANIFEST is not valid JSON: %s",
                jerr == json_tokener_continue ? "unexpected end of text"
                                              : json_tokener_error_desc(jerr));
        return NULL;
    }
    for (size_t i = end; i < len; i++) {
        if (!strchr(" \t\r\n", text[i])) {
            json_object_put(root);
            mq_set_err(err, errlen, "MANIFEST is not valid JSON: text after the object");
            return NULL;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        mq_set_err(err, errlen, "MANIFEST is not a JSON object");
        return NULL;
    }

    mq_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        json_object_put(root);
        mq_set_err(err, errlen, "out of memory");
        return NULL;
    }
    int64_t format = 0;
    json_object *files, *plugins;
    if (get_int64(root, "format", "", &format, err, errlen) != 0)
        goto fail;
    if (format != MQ_MANIFEST_FORMAT) {
        mq_set_err(err, errlen, "MANIFEST: unsupported format %" PRId64 " (this host reads %d)",
                format, MQ_MANIFEST_FORMAT);
        goto fail;
    }
    if (get_string(root, "id", "", 1, 1, &m->id, err, errlen) != 0 ||
        get_string(root, "commit", "", 1, 0, &m->commit, err, errlen) != 0 ||
        get_string(root, "built", "", 1, 0, &m->built, err, errlen) != 0 ||
        get_string(root, "published", "", 1, 0, &m->published, err, errlen) != 0 ||
        get_int64(root, "published_ns", "", &m->published_ns, err, errlen) != 0)
        goto fail;
    if (!mq_release_id_valid(m->id)) {
        mq_set_err(err, errlen, "MANIFEST: id \"%s\" is not a valid release id", m->id);
        goto fail;
    }
    if (!(files = get_array(root, "files", err, errlen)) ||
        !(plugins = get_array(root, "plugins", err, errlen)))
        goto fail;

    size_t nf = json_object_array_length(files), np = json_object_array_length(plugins);
    m->files = calloc(nf ? nf : 1, sizeof *m->files);
    m->plugins = calloc(np ? np : 1, sizeof *m->plugins);
    if (!m->files || !m->plugins) {
        mq_set_err(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nf; i++) {
        m->nfiles = i + 1; /* so free() sees a partly filled entry */
        if (parse_file(json_object_array_get_idx(files, i), i, &m->files[i], err, errlen) != 0)
            goto fail;
    }
    for (size_t i = 0; i < np; i++) {
        m->nplugins = i + 1;
        if (parse_plugin(json_object_array_get_idx(plugins, i), i, &m->plugins[i], err, errlen) !=
            0)
            goto fail;
    }
    if (check_duplicates(m, err, errlen) != 0)
        goto fail;
    json_object_put(root);
    return m;
fail:
    json_object_put(root);
    mq_manifest_free(m);
    return NULL;
}

mq_manifest *mq_manifest_read(const char *release_dir, char *err, size_t errlen)
{
    int dfd = open(release_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        mq_set_err(err, errlen, "cannot open the release directory: %s", strerror(errno));
        return NULL;
    }
    /* The MANIFEST itself must not be a symlink either. */
    int fd = mq_release_openat(dfd, MQ_MANIFEST_NAME);
    int saved = errno;
    close(dfd);
    if (fd < 0) {
        if (saved == ENOENT)
            mq_set_err(err, errlen, "MANIFEST is missing");
        else if (saved == ELOOP || saved == EINVAL)
            mq_set_err(err, errlen, "MANIFEST is not a regular file");
        else
            mq_set_err(err, errlen, "cannot open MANIFEST: %s", strerror(saved));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > (off_t)MANIFEST_MAX_BYTES) {
        close(fd);
        mq_set_err(err, errlen, "MANIFEST is larger than %u bytes", MANIFEST_MAX_BYTES);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        mq_set_err(err, errlen, "out of memory");
        return NULL;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            saved = errno;
            close(fd);
            free(buf);
            mq_set_err(err, errlen, "cannot read MANIFEST: %s", strerror(saved));
            return NULL;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    mq_manifest *m = mq_manifest_parse(buf, got, err, errlen);
    free(buf);
    return m;
}

/* ---- look-ups ------------------------------------------------------------------ */

const mq_manifest_file *mq_manifest_find(const mq_manifest *m, const char *path)
{
    for (size_t i = 0; m && i < m->nfiles; i++)
        if (strcmp(m->files[i].path, path) == 0)
            return &m->files[i];
    return NULL;
}

const mq_manifest_plugin *mq_manifest_find_plugin(const mq_manifest *m, const char *file)
{
    for (size_t i = 0; m && i < m->nplugins; i++)
        if (strcmp(m->plugins[i].file, file) == 0)
            return &m->plugins[i];
    return NULL;
}

/* ---- verification ---------------------------------------------------------------- */

/* Check one listed file: present, regular, reached without symlinks, of the
 * listed size and digest. */
static int verify_file(int rootfd, const mq_manifest_file *f, const char **reason, char *err,
                       size_t errlen)
{
    int fd = mq_release_openat(rootfd, f->path);
    if (fd < 0) {
        *reason = "missing_file";
        if (errno == ENOENT || errno == ENOTDIR)
            mq_set_err(err, errlen, "\"%s\" listed in MANIFEST is missing", f->path);
        else if (errno == ELOOP)
            mq_set_err(err, errlen, "\"%s\" listed in MANIFEST is a symbolic link or lies under one",
                    f->path);
        else if (errno == EINVAL)
            mq_set_err(err, errlen, "\"%s\" listed in MANIFEST is not a regular file", f->path);
        else
            mq_set_err(err, errlen, "open \"%s\" failed: %s", f->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size != f->size) {
        close(fd);
        *reason = "checksum";
        mq_set_err(err, errlen, "size of \"%s\" is %" PRIu64 " bytes, the MANIFEST says %" PRIu64,
                f->path, (uint64_t)st.st_size, f->size);
        return -1;
    }
    char hex[MQ_SHA256_HEX_LEN + 1];
    uint64_t size = 0;
    int rc = mq_sha256_fd(fd, hex, &size);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        *reason = "missing_file";
        mq_set_err(err, errlen, "read \"%s\" failed: %s", f->path, strerror(saved));
        return -1;
    }
    if (size != f->size || strcmp(hex, f->sha256) != 0) {
        *reason = "checksum";
        mq_set_err(err, errlen, "checksum of \"%s\" does not match the MANIFEST", f->path);
        return -1;
    }
    return 0;
}

/* Every *.so in plugins/ must be a listed plugin: an unlisted one is either
 * a half-done copy or a tampered release. */
static int verify_no_stray_plugins(int rootfd, const mq_manifest *m, const char **reason, char *err,
                                   size_t errlen)
{
    int dfd = openat(rootfd, "plugins", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT)
            return 0; /* no plugins dir: nothing unlisted (listed ones were checked) */
        *reason = "manifest";
        mq_set_err(err, errlen, "open \"plugins\" failed: %s",
                errno == ELOOP || errno == ENOTDIR ? "not a directory" : strerror(errno));
        return -1;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        *reason = "manifest";
        mq_set_err(err, errlen, "open \"plugins\" failed: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    char rel[PATH_MAX];
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 3 || strcmp(de->d_name + n - 3, ".so") != 0)
            continue;
        snprintf(rel, sizeof rel, PLUGINS_PREFIX "%s", de->d_name);
        if (!mq_manifest_find(m, rel) || !mq_manifest_find_plugin(m, rel)) {
            *reason = "manifest";
            mq_set_err(err, errlen, "\"%s\" is on disk but not listed in the MANIFEST", rel);
            rc = -1;
            break;
        }
    }
    closedir(d);
    return rc;
}

int mq_manifest_verify(const char *release_dir, const mq_manifest *m, const char **reason,
                       char *err, size_t errlen)
{
    const char *unused;
    if (!reason)
        reason = &unused;
    *reason = NULL;

    for (size_t i = 0; i < m->nplugins; i++) {
        if (!mq_manifest_find(m, m->plugins[i].file)) {
            *reason = "manifest";
            mq_set_err(err, errlen, "plugin \"%s\": its file \"%s\" is not listed in MANIFEST files",
                    m->plugins[i].name, m->plugins[i].file);
            return -1;
        }
    }
    int rootfd = open(release_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        *reason = "missing_file";
        mq_set_err(err, errlen, "cannot open the release directory: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < m->nfiles && rc == 0; i++)
        rc = verify_file(rootfd, &m->files[i], reason, err, errlen);
    if (rc == 0)
        rc = verify_no_stray_plugins(rootfd, m, reason, err, errlen);
    close(rootfd);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------ */

/* Add key: string (NULL as ""), noting an allocation failure in *bad. */
static void put_str(json_object *o, const char *key, const char *v, int *bad)
{
    json_object *s = json_object_new_string(v ? v : "");
    if (!s || json_object_object_add(o, key, s) != 0) {
        json_object_put(s);
        *bad = 1;
    }
}

static void put_i64(json_object *o, const char *key, int64_t v, int *bad)
{
    json_object *s = json_object_new_int64(v);
    if (!s || json_object_object_add(o, key, s) != 0) {
        json_object_put(s);
        *bad = 1;
    }
}

static void put_obj(json_object *parent_array, json_object *o, int *bad)
{
    if (!o || json_object_array_add(parent_array, o) != 0) {
        json_object_put(o);
        *bad = 1;
    }
}

char *mq_manifest_to_json(const mq_manifest *m)
{
    int bad = 0;
    json_object *root = json_object_new_object();
    json_object *plugins = json_object_new_array();
    json_object *files = json_object_new_array();
    if (!root || !plugins || !files) {
        json_object_put(root);
        json_object_put(plugins);
        json_object_put(files);
        return NULL;
    }
    put_i64(root, "format", MQ_MANIFEST_FORMAT, &bad);
    put_str(root, "id", m->id, &bad);
    put_str(root, "commit", m->commit, &bad);
    put_str(root, "built", m->built, &bad);
    put_str(root, "published", m->published, &bad);
    put_i64(root, "published_ns", m->published_ns, &bad);
    for (size_t i = 0; i < m->nplugins; i++) {
        const mq_manifest_plugin *p = &m->plugins[i];
        json_object *o = json_object_new_object();
        if (o) {
            put_str(o, "name", p->name, &bad);
            put_str(o, "version", p->version, &bad);
            put_str(o, "file", p->file, &bad);
            if (p->abi)
                put_str(o, "abi", p->abi, &bad);
        }
        put_obj(plugins, o, &bad);
    }
    for (size_t i = 0; i < m->nfiles; i++) {
        const mq_manifest_file *f = &m->files[i];
        json_object *o = json_object_new_object();
        if (o) {
            put_str(o, "path", f->path, &bad);
            put_i64(o, "size", (int64_t)f->size, &bad);
            put_str(o, "sha256", f->sha256, &bad);
        }
        put_obj(files, o, &bad);
    }
    if (json_object_object_add(root, "plugins", plugins) != 0) {
        json_object_put(plugins);
        bad = 1;
    }
    if (json_object_object_add(root, "files", files) != 0) {
        json_object_put(files);
        bad = 1;
    }
    char *out = NULL;
    if (!bad) {
        const char *s =
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        if (s) {
            size_t n = strlen(s);
            out = malloc(n + 2);
            if (out) {
                memcpy(out, s, n);
                out[n] = '\n';
                out[n + 1] = '\0';
            }
        }
    }
    json_object_put(root);
    return out;
}

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

int mq_manifest_write(const char *release_dir, const mq_manifest *m, char *err, size_t errlen)
{
    char *json = mq_manifest_to_json(m);
    if (!json) {
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    char tmp[PATH_MAX], dst[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp-%ld", release_dir, MQ_MANIFEST_NAME,
                 (long)getpid()) >= (int)sizeof tmp ||
        snprintf(dst, sizeof dst, "%s/%s", release_dir, MQ_MANIFEST_NAME) >= (int)sizeof dst) {
        free(json);
        mq_set_err(err, errlen, "path too long");
        return -1;
    }
    const char *op = "create";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        goto fail;
    op = "write";
    /* Fixed mode whatever the umask: releases are code, readable by all. */
    if (fchmod(fd, 0644) != 0 || write_all(fd, json, strlen(json)) != 0 || fsync(fd) != 0)
        goto fail;
    op = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    op = "rename";
    if (rename(tmp, dst) != 0)
        goto fail;
    free(json);
    int dfd = open(release_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        int saved = errno;
        if (dfd >= 0)
            close(dfd);
        mq_set_err(err, errlen, "fsync \"%s\" failed: %s", release_dir, strerror(saved));
        return -1;
    }
    close(dfd);
    return 0;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(json);
    mq_set_err(err, errlen, "%s \"%s\" failed: %s", op, tmp, strerror(saved));
    return -1;
}
