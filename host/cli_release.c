/*
 * cli_release.c -- `mindquiz release`, `activate`, `rollback` and `reload`.
 *
 * These run as a short-lived command beside the host, never inside it, so
 * blocking calls (libcurl easy, sleeps while polling) are fine here.
 *
 *   release --from BUILD_DIR [--id ID]
 *       Copy BUILD_DIR/plugins/ *.so and BUILD_DIR/assets/ into a hidden
 *       temp dir under RELEASES_DIR, write its MANIFEST, then rename it to
 *       RELEASES_DIR/<id> in one step. Does not touch `current`.
 *   activate ID / rollback [ID]
 *       Verify the target release, point `current` at it atomically, ask
 *       the host to reload and wait for /api/version to report it. When the
 *       host refuses, `current` is put back.
 *   reload
 *       SIGHUP the host and report the outcome of the attempt it made.
 *
 * Exit status: 0 success; 1 failure (also: the host refused); 2 `reload`
 * found no running host; 64 usage error.
 *
 * The host side of the reload handshake (see reload_handshake() and
 * cli_util.h):
 *   PID_FILE holds the host's decimal pid and a newline;
 *   after every reload attempt the host atomically replaces
 *   PID_FILE.reload.json with {"seq", "started_ns" (CLOCK_REALTIME of the
 *   attempt's start), "ok", "reason", "message", "generation", "release",
 *   "duration_us"}; a SIGHUP that arrives during an attempt causes another
 *   attempt after it.
 */
#include "util.h"
#include "cli.h"

#include "build_info.h"
#include "cli_util.h"
#include "manifest.h"
#include "mq_plugin.h"
#include "paths.h"
#include "sha256.h"

#include <curl/curl.h>
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 64
#define EXIT_NOHOST 2

#define DEFAULT_RELOAD_TIMEOUT_S 30.0
#define VERSION_WAIT_S 10.0
#define VERSION_POLL_MS 50
#define ASSETS_MAX_DEPTH 64

/* ==== small helpers ========================================================== */

static void say_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


static void iso8601_utc(time_t t, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "a" + "/" + "b" into buf; -1 when it does not fit. */
static int path_join(char *buf, size_t n, const char *a, const char *b)
{
    int w = snprintf(buf, n, "%s/%s", a, b);
    if (w < 0 || (size_t)w >= n) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}


static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0; /* best effort: keep removing the rest */
}

/* Remove a tree without following symlinks. Best effort. */
static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Parse "--timeout SECONDS" style values. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400)
        return -1;
    *out = v;
    return 0;
}

/* Match "--name VALUE" or "--name=VALUE" at argv[*i]; advance *i past it.
 * Returns 1 matched (value in *val, NULL when missing), 0 not this option. */
static int take_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    *val = (*i + 1 < argc) ? argv[++*i] : NULL;
    return 1;
}

/* ==== release: copying a build tree into a new release ===================== */

typedef struct release_build {
    const char *id;     /* current candidate id */
    const char *tmpdir; /* the hidden temp release dir */
    mq_manifest m;      /* filled as files are copied */
    size_t files_cap, plugins_cap;
    time_t newest_mtime;
} release_build;

static int add_file_entry(release_build *b, const char *rel, uint64_t size, const char *hex)
{
    if (b->m.nfiles == b->files_cap) {
        size_t cap = b->files_cap ? b->files_cap * 2 : 16;
        mq_manifest_file *f = realloc(b->m.files, cap * sizeof *f);
        if (!f)
            return -1;
        b->m.files = f;
        b->files_cap = cap;
    }
    mq_manifest_file *f = &b->m.files[b->m.nfiles];
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(rel)))
        return -1;
    f->size = size;
    memcpy(f->sha256, hex, sizeof f->sha256);
    b->m.nfiles++;
    return 0;
}

/* Copy the regular file src to dst_name in dst_dirfd (created, 0644),
 * hashing the bytes as they are written, and list it as `rel`. */
static int copy_file(release_build *b, const char *src, int dst_dirfd, const char *dst_name,
                     const char *rel, char *err, size_t errlen)
{
    char buf[64 * 1024];
    mq_sha256 h = {0};
    uint64_t total = 0;
    int in = -1, out = -1;
    const char *op = "open", *subject = src;

    in = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (in < 0)
        goto fail;
    struct stat st;
    op = "stat";
    if (fstat(in, &st) != 0)
        goto fail;
    if (!S_ISREG(st.st_mode)) {
        mq_set_err(err, errlen, "copy \"%s\" failed: not a regular file", src);
        goto fail_msg;
    }
    if (st.st_mtime > b->newest_mtime)
        b->newest_mtime = st.st_mtime;
    op = "create";
    subject = rel;
    out = openat(dst_dirfd, dst_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (out < 0 || fchmod(out, 0644) != 0)
        goto fail;
    if (mq_sha256_init(&h) != 0) {
        mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", rel);
        goto fail_msg;
    }
    for (;;) {
        op = "read";
        subject = src;
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        if (mq_sha256_update(&h, buf, (size_t)r) != 0) {
            mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", rel);
            goto fail_msg;
        }
        op = "write";
        subject = rel;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                goto fail;
            off += w;
        }
        total += (uint64_t)r;
    }
    op = "fsync";
    subject = rel;
    if (fsync(out) != 0)
        goto fail;
    op = "close";
    int rc = close(out);
    out = -1;
    if (rc != 0)
        goto fail;
    close(in);
    in = -1;
    char hex[MQ_SHA256_HEX_LEN + 1];
    if (mq_sha256_final(&h, hex) != 0) {
        mq_set_err(err, errlen, "sha256 \"%s\" failed: OpenSSL error", rel);
        return -1;
    }
    if (add_file_entry(b, rel, total, hex) != 0) {
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
fail:
    mq_set_err(err, errlen, "%s \"%s\" failed: %s", op, subject, strerror(errno));
fail_msg:
    mq_sha256_cleanup(&h);
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return -1;
}

static int skip_dots(const struct dirent *de)
{
    return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* Copy the directory src (symlinks followed) into dst_dirfd, listing files
 * under the relative prefix `rel`. Entries go in name order, so MANIFESTs
 * of the same tree are identical but for timestamps. */
static int copy_tree(release_build *b, const char *src, int dst_dirfd, const char *rel, int depth,
                     char *err, size_t errlen)
{
    if (depth > ASSETS_MAX_DEPTH) {
        mq_set_err(err, errlen, "copy \"%s\" failed: nested deeper than %d levels (a symlink loop?)",
                src, ASSETS_MAX_DEPTH);
        return -1;
    }
    struct dirent **names = NULL;
    int n = scandir(src, &names, skip_dots, alphasort);
    if (n < 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", src, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *name = names[i]->d_name;
        char s[PATH_MAX], r[PATH_MAX];
        if (path_join(s, sizeof s, src, name) != 0 || path_join(r, sizeof r, rel, name) != 0) {
            mq_set_err(err, errlen, "copy \"%s/%s\" failed: path too long", src, name);
            rc = -1;
            break;
        }
        if (!mq_manifest_path_valid(r)) {
            mq_set_err(err, errlen,
                    "copy \"%s\" failed: the name contains a control character or a backslash", s);
            rc = -1;
            break;
        }
        struct stat st;
        if (stat(s, &st) != 0) {
            mq_set_err(err, errlen, "stat \"%s\" failed: %s", s, strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = -1;
            if (mkdirat(dst_dirfd, name, 0755) != 0 ||
                (sub = openat(dst_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
                    0 ||
                fchmod(sub, 0755) != 0) {
                mq_set_err(err, errlen, "create \"%s\" failed: %s", r, strerror(errno));
                rc = -1;
            } else {
                rc = copy_tree(b, s, sub, r, depth + 1, err, errlen);
                if (rc == 0 && fsync(sub) != 0) {
                    mq_set_err(err, errlen, "fsync \"%s\" failed: %s", r, strerror(errno));
                    rc = -1;
                }
            }
            if (sub >= 0)
                close(sub);
        } else if (S_ISREG(st.st_mode)) {
            rc = copy_file(b, s, dst_dirfd, name, r, err, errlen);
        } else {
            mq_set_err(err, errlen, "copy \"%s\" failed: not a regular file or directory", s);
            rc = -1;
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int is_plugin_name(const struct dirent *de)
{
    size_t n = strlen(de->d_name);
    return de->d_name[0] != '.' && n > 3 && strcmp(de->d_name + n - 3, ".so") == 0;
}

/* Copy a bounded, printable string out of a plugin's memory. */
static char *dup_plugin_string(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strnlen(s, 129);
    if (n == 0 || n > 128)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return NULL;
    return strndup(s, n);
}

/* Read name, version and ABI from the descriptor of the copied plugin at
 * `path`. On any problem fall back to the file stem and "unknown" and warn:
 * a broken release can still be published (the host refuses it at load,
 * and tests need such releases). Returns -1 only on ENOMEM. */
static int describe_plugin(const char *path, const char *file_name, mq_manifest_plugin *p)
{
    char *name = NULL, *version = NULL, abi[32] = "unknown";
    const char *problem = NULL;
    char why[512];

    /* RTLD_LAZY: describing must not fail on a function the host would
     * provide; RTLD_LOCAL: nothing of it leaks into this process. The copy
     * has a unique path, so dlopen's cache cannot hand us another file. */
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "dlopen failed: %s", e ? e : "unknown error");
        problem = why;
    } else {
        dlerror();
        const mq_plugin_desc *d = dlsym(h, MQ_PLUGIN_SYMBOL);
        Dl_info info;
        const ElfW(Sym) *sym = NULL;
        size_t have = SIZE_MAX; /* bytes of the symbol we may read */
        if (d && dladdr1(d, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size)
            have = (size_t)sym->st_size;
        if (!d) {
            snprintf(why, sizeof why, "no \"%s\" symbol", MQ_PLUGIN_SYMBOL);
            problem = why;
        } else if (have < offsetof(mq_plugin_desc, name)) {
            snprintf(why, sizeof why, "\"%s\" is too small to be a descriptor", MQ_PLUGIN_SYMBOL);
            problem = why;
        } else {
            snprintf(abi, sizeof abi, "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
            size_t size = d->size < have ? d->size : have;
            if (size >= offsetof(mq_plugin_desc, name) + sizeof d->name)
                name = dup_plugin_string(d->name);
            if (size >= offsetof(mq_plugin_desc, version) + sizeof d->version)
                version = dup_plugin_string(d->version);
            if (!name || !version) {
                snprintf(why, sizeof why,
                         "the descriptor (size %u) has no readable name or version",
                         (unsigned)d->size);
                problem = why;
            }
        }
        dlclose(h);
    }
    if (!name)
        name = strndup(file_name, strlen(file_name) - 3); /* the stem */
    if (!version)
        version = strdup("unknown");
    p->name = name;
    p->version = version;
    p->abi = strdup(abi);
    if (!p->name || !p->version || !p->abi)
        return -1;
    if (problem)
        fprintf(stderr,
                "warning: plugin \"plugins/%s\": %s; recorded as name \"%s\", version \"%s\" "
                "(the host will refuse to load it)\n",
                file_name, problem, p->name, p->version);
    return 0;
}

/* Copy BUILD_DIR/plugins/ *.so into the temp release and describe each. */
static int copy_plugins(release_build *b, const char *from, int tmpfd, char *err, size_t errlen)
{
    char src[PATH_MAX];
    if (path_join(src, sizeof src, from, "plugins") != 0) {
        mq_set_err(err, errlen, "path \"%s/plugins\" is too long", from);
        return -1;
    }
    struct dirent **names = NULL;
    int n = scandir(src, &names, is_plugin_name, alphasort);
    if (n < 0) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", src, strerror(errno));
        return -1;
    }
    int rc = 0, pfd = -1;
    if (n == 0) {
        mq_set_err(err, errlen, "no plugins: \"%s\" has no *.so file", src);
        rc = -1;
        goto out;
    }
    if (mkdirat(tmpfd, "plugins", 0755) != 0 ||
        (pfd = openat(tmpfd, "plugins", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        fchmod(pfd, 0755) != 0) {
        mq_set_err(err, errlen, "create \"plugins\" failed: %s", strerror(errno));
        rc = -1;
        goto out;
    }
    b->m.plugins = calloc((size_t)n, sizeof *b->m.plugins);
    if (!b->m.plugins) {
        mq_set_err(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const char *name = names[i]->d_name;
        char s[PATH_MAX], rel[PATH_MAX], copy[PATH_MAX];
        if (path_join(s, sizeof s, src, name) != 0 ||
            path_join(rel, sizeof rel, "plugins", name) != 0 ||
            path_join(copy, sizeof copy, b->tmpdir, rel) != 0) {
            mq_set_err(err, errlen, "copy \"%s\" failed: path too long", name);
            rc = -1;
            break;
        }
        if (!mq_manifest_path_valid(rel)) {
            mq_set_err(err, errlen,
                    "copy \"%s\" failed: the name contains a control character or a backslash", s);
            rc = -1;
            break;
        }
        if ((rc = copy_file(b, s, pfd, name, rel, err, errlen)) != 0)
            break;
        mq_manifest_plugin *p = &b->m.plugins[b->m.nplugins++];
        if (!(p->file = strdup(rel)) || describe_plugin(copy, name, p) != 0) {
            mq_set_err(err, errlen, "out of memory");
            rc = -1;
        }
    }
    if (rc == 0 && fsync(pfd) != 0) {
        mq_set_err(err, errlen, "fsync \"plugins\" failed: %s", strerror(errno));
        rc = -1;
    }
out:
    if (pfd >= 0)
        close(pfd);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Warn about two plugins claiming one name: the host refuses such a release,
 * but publishing it is allowed (it may be a test of exactly that). */
static void warn_duplicate_names(const mq_manifest *m)
{
    for (size_t i = 0; i < m->nplugins; i++)
        for (size_t j = i + 1; j < m->nplugins; j++)
            if (strcmp(m->plugins[i].name, m->plugins[j].name) == 0)
                fprintf(stderr,
                        "warning: \"%s\" and \"%s\" both call themselves plugin \"%s\" "
                        "(the host will refuse this release)\n",
                        m->plugins[i].file, m->plugins[j].file, m->plugins[i].name);
}

/* The default id: `base` (local time YYYYMMDD-HHMMSS), or base-2, base-3,
 * ... when taken. */
static int default_release_id(const char *releases_dir, const char *base, char *id, size_t idlen)
{
    for (int k = 1; k < 1000; k++) {
        if (k == 1)
            snprintf(id, idlen, "%s", base);
        else
            snprintf(id, idlen, "%s-%d", base, k);
        char p[PATH_MAX];
        struct stat st;
        if (path_join(p, sizeof p, releases_dir, id) != 0)
            return -1;
        if (lstat(p, &st) != 0 && errno == ENOENT)
            return 0;
    }
    errno = EEXIST;
    return -1;
}

static void release_usage(FILE *f)
{
    fprintf(f, "usage: mindquiz release --from BUILD_DIR [--id ID]\n"
               "  Publish BUILD_DIR/plugins/*.so and BUILD_DIR/assets/ as a new release\n"
               "  under RELEASES_DIR (default id: local time YYYYMMDD-HHMMSS).\n"
               "  Does not switch `current`: use `mindquiz activate ID` for that.\n");
}

int mq_cmd_release(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    (void)env_path;
    const char *from = NULL, *id_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            release_usage(stdout);
            return 0;
        } else if (take_opt(argc, argv, &i, "--from", &v)) {
            if (!v || !*v) {
                say_err("release failed: --from needs a directory");
                return EXIT_USAGE;
            }
            from = v;
        } else if (take_opt(argc, argv, &i, "--id", &v)) {
            if (!v) {
                say_err("release failed: --id needs a value");
                return EXIT_USAGE;
            }
            id_arg = v;
        } else {
            say_err("release failed: unexpected argument \"%s\"", argv[i]);
            release_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!from) {
        say_err("release failed: --from BUILD_DIR is required");
        release_usage(stderr);
        return EXIT_USAGE;
    }
    if (id_arg && !mq_release_id_valid(id_arg)) {
        say_err("release \"%s\" failed: not a valid release id (letters, digits, '.', '_', '-'; "
                "not starting with '.'; not \"current\"; at most %d characters)",
                id_arg, MQ_RELEASE_ID_MAX);
        return EXIT_USAGE;
    }

    mq_paths paths;
    if (mq_paths_init(&paths, cfg) != 0) {
        say_err("release failed: out of memory");
        return 1;
    }
    int status = 1, tmpfd = -1;
    char id[MQ_RELEASE_ID_MAX + 1], base_id[MQ_RELEASE_ID_MAX + 1];
    char tmpdir[PATH_MAX] = "", final[PATH_MAX], err[1024];
    release_build b;
    memset(&b, 0, sizeof b);
    mq_manifest *check = NULL;

    struct stat st;
    if (stat(from, &st) != 0) {
        say_err("release from \"%s\" failed: %s", from, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        say_err("release from \"%s\" failed: not a directory", from);
        goto out;
    }
    if (mq_mkdir_p(paths.releases_dir, 0755) != 0) {
        say_err("release failed: create \"%s\" failed: %s", paths.releases_dir, strerror(errno));
        goto out;
    }
    if (id_arg) {
        snprintf(id, sizeof id, "%s", id_arg);
        if (path_join(final, sizeof final, paths.releases_dir, id) != 0) {
            say_err("release \"%s\" failed: path too long", id);
            goto out;
        }
        if (lstat(final, &st) == 0) {
            say_err("release \"%s\" failed: \"%s\" already exists", id, final);
            goto out;
        }
        if (errno != ENOENT) {
            say_err("release \"%s\" failed: stat \"%s\" failed: %s", id, final, strerror(errno));
            goto out;
        }
    } else {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(base_id, sizeof base_id, "%Y%m%d-%H%M%S", &tm);
        if (default_release_id(paths.releases_dir, base_id, id, sizeof id) != 0) {
            say_err("release \"%s\" failed: no free release id in \"%s\"", base_id,
                    paths.releases_dir);
            goto out;
        }
    }

    /* Build off to the side, under a dot-name the host and `rollback`
     * ignore, so nobody ever sees a half-copied release. */
    if (snprintf(tmpdir, sizeof tmpdir, "%s/.tmp-%s-XXXXXX", paths.releases_dir, id) >=
        (int)sizeof tmpdir) {
        tmpdir[0] = '\0';
        say_err("release \"%s\" failed: path too long", id);
        goto out;
    }
    if (!mkdtemp(tmpdir)) {
        say_err("release \"%s\" failed: create \"%s\" failed: %s", id, tmpdir, strerror(errno));
        tmpdir[0] = '\0';
        goto out;
    }
    tmpfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tmpfd < 0 || fchmod(tmpfd, 0755) != 0) {
        say_err("release \"%s\" failed: open \"%s\" failed: %s", id, tmpdir, strerror(errno));
        goto out;
    }
    b.id = id;
    b.tmpdir = tmpdir;

    if (copy_plugins(&b, from, tmpfd, err, sizeof err) != 0) {
        say_err("release \"%s\" failed: %s", id, err);
        goto out;
    }
    char assets[PATH_MAX];
    if (path_join(assets, sizeof assets, from, "assets") == 0 && stat(assets, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            say_err("release \"%s\" failed: \"%s\" is not a directory", id, assets);
            goto out;
        }
        int afd = -1;
        if (mkdirat(tmpfd, "assets", 0755) != 0 ||
            (afd = openat(tmpfd, "assets", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
            fchmod(afd, 0755) != 0) {
            say_err("release \"%s\" failed: create \"assets\" failed: %s", id, strerror(errno));
            if (afd >= 0)
                close(afd);
            goto out;
        }
        int rc = copy_tree(&b, assets, afd, "assets", 1, err, sizeof err);
        if (rc == 0 && fsync(afd) != 0) {
            mq_set_err(err, sizeof err, "fsync \"assets\" failed: %s", strerror(errno));
            rc = -1;
        }
        close(afd);
        if (rc != 0) {
            say_err("release \"%s\" failed: %s", id, err);
            goto out;
        }
    }
    warn_duplicate_names(&b.m);

    /* The MANIFEST. */
    char built[32], published[32];
    int64_t pub_ns = mq_cli_now_realtime_ns();
    iso8601_utc(b.newest_mtime ? b.newest_mtime : (time_t)(pub_ns / 1000000000), built,
                sizeof built);
    iso8601_utc((time_t)(pub_ns / 1000000000), published, sizeof published);
    b.m.commit = MQ_COMMIT;
    b.m.built = built;
    b.m.published = published;
    b.m.published_ns = pub_ns;

    /* Publish: rename the finished dir into place in one step. With
     * RENAME_NOREPLACE a concurrent `release` that took the same default id
     * makes us move on to the next suffix instead of clobbering it. */
    for (int tries = 0;; tries++) {
        b.m.id = id;
        if (mq_manifest_write(tmpdir, &b.m, err, sizeof err) != 0) {
            say_err("release \"%s\" failed: %s", id, err);
            goto out;
        }
        /* Read back what we wrote: the writer and the loader's reader must
         * agree, and the copy must verify, before anyone can see it. */
        const char *reason = NULL;
        mq_manifest_free(check);
        check = mq_manifest_read(tmpdir, err, sizeof err);
        if (!check || mq_manifest_verify(tmpdir, check, &reason, err, sizeof err) != 0) {
            say_err("release \"%s\" failed: the new release does not verify: %s", id, err);
            goto out;
        }
        if (path_join(final, sizeof final, paths.releases_dir, id) != 0) {
            say_err("release \"%s\" failed: path too long", id);
            goto out;
        }
        int rc = renameat2(AT_FDCWD, tmpdir, AT_FDCWD, final, RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
            /* A filesystem without RENAME_NOREPLACE: check, then rename. A
             * non-empty target makes rename() fail anyway. */
            if (lstat(final, &st) == 0)
                errno = EEXIST;
            else
                rc = rename(tmpdir, final);
        }
        if (rc == 0)
            break;
        int e = errno;
        int taken = e == EEXIST || e == ENOTEMPTY;
        if (taken && !id_arg && tries < 100 &&
            default_release_id(paths.releases_dir, base_id, id, sizeof id) == 0)
            continue;
        say_err("release \"%s\" failed: rename to \"%s\" failed: %s", b.m.id, final,
                taken ? "it already exists" : strerror(e));
        goto out;
    }
    tmpdir[0] = '\0'; /* published: no longer ours to remove */
    if (fsync_dir(paths.releases_dir) != 0)
        fprintf(stderr, "warning: fsync \"%s\" failed: %s\n", paths.releases_dir, strerror(errno));
    printf("published release %s (%zu plugins) at %s\n", id, b.m.nplugins, final);
    status = 0;
out:
    if (tmpfd >= 0)
        close(tmpfd);
    if (tmpdir[0])
        rm_rf(tmpdir);
    mq_manifest_free(check);
    /* b.m borrows id/commit/built/published from this frame. */
    b.m.id = b.m.commit = b.m.built = b.m.published = NULL;
    for (size_t i = 0; i < b.m.nfiles; i++)
        free(b.m.files[i].path);
    free(b.m.files);
    for (size_t i = 0; i < b.m.nplugins; i++) {
        free(b.m.plugins[i].name);
        free(b.m.plugins[i].version);
        free(b.m.plugins[i].file);
        free(b.m.plugins[i].abi);
    }
    free(b.m.plugins);
    mq_paths_cleanup(&paths);
    return status;
}

/* ==== the host: pidfile and reload handshake =================================== */

typedef struct reload_result {
    int ok;
    char reason[64];
    char message[1024];
    char release[MQ_RELEASE_ID_MAX + 1];
    int64_t generation;
    int64_t seq;
    int64_t duration_us;
} reload_result;

enum { RELOAD_OK = 0, RELOAD_REFUSED = 1, RELOAD_FAILED = 2 };

/* SIGHUP the host and wait for the status of an attempt that began after
 * the signal (so it saw whatever we changed before sending it). */
static int reload_handshake(const mq_paths *p, pid_t pid, double timeout_s, reload_result *r,
                            char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    json_object *o = NULL;
    if (mq_cli_handshake(pid, SIGHUP, p->reload_status, "reload", timeout_s, &o, err, errlen) != 0)
        return RELOAD_FAILED;
    json_object *v;
    r->ok = json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
    mq_cli_json_str(o, "reason", r->reason, sizeof r->reason);
    mq_cli_json_str(o, "message", r->message, sizeof r->message);
    mq_cli_json_str(o, "release", r->release, sizeof r->release);
    r->generation = mq_cli_json_i64(o, "generation", -1);
    r->seq = mq_cli_json_i64(o, "seq", -1);
    r->duration_us = mq_cli_json_i64(o, "duration_us", -1);
    json_object_put(o);
    return r->ok ? RELOAD_OK : RELOAD_REFUSED;
}

/* ==== /api/version ================================================================ */

typedef struct body_buf {
    char data[64 * 1024];
    size_t len;
} body_buf;

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body_buf *b = ud;
    size_t n = size * nmemb;
    if (n > sizeof b->data - 1 - b->len)
        return 0; /* too big: abort the transfer */
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* http://HOST:PORT/api/version for LISTEN, connecting to loopback when the
 * host listens on every address. */
static int version_url(const char *listen, char *url, size_t n)
{
    char host[256];
    unsigned short port;
    if (mq_listen_split(listen, host, sizeof host, &port) != 0)
        return -1;
    if (!*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, sizeof host, "::1");
    int w = strchr(host, ':') ? snprintf(url, n, "http://[%s]:%u/api/version", host, port)
                              : snprintf(url, n, "http://%s:%u/api/version", host, port);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}

/* Poll /api/version until its "release" is `id`. Returns 0 (generation in
 * *generation when the body has one) or -1 with what it last saw in err. */
static int wait_serving(const char *listen, const char *id, int64_t *generation, char *err,
                        size_t errlen)
{
    char url[512];
    if (version_url(listen, url, sizeof url) != 0) {
        mq_set_err(err, errlen, "LISTEN \"%s\" is not host:port", listen);
        return -1;
    }
    CURL *c = curl_easy_init();
    body_buf *b = malloc(sizeof *b);
    if (!c || !b) {
        curl_easy_cleanup(c);
        free(b);
        mq_set_err(err, errlen, "out of memory");
        return -1;
    }
    char curl_err[CURL_ERROR_SIZE];
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* never via an http_proxy */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    mq_set_err(err, errlen, "GET %s: no answer", url);
    int rc = -1;
    double deadline = mq_cli_now_mono_s() + VERSION_WAIT_S;
    for (;;) {
        b->len = 0;
        b->data[0] = '\0';
        curl_err[0] = '\0';
        CURLcode cc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (cc != CURLE_OK) {
            mq_set_err(err, errlen, "GET %s failed: %s", url,
                    curl_err[0] ? curl_err : curl_easy_strerror(cc));
        } else if (code != 200) {
            mq_set_err(err, errlen, "GET %s answered HTTP %ld", url, code);
        } else {
            json_object *o = json_tokener_parse(b->data);
            char release[MQ_RELEASE_ID_MAX + 1] = "";
            if (o && json_object_is_type(o, json_type_object)) {
                mq_cli_json_str(o, "release", release, sizeof release);
                *generation = mq_cli_json_i64(o, "generation", *generation);
            }
            json_object_put(o);
            if (strcmp(release, id) == 0) {
                rc = 0;
                break;
            }
            mq_set_err(err, errlen, "GET %s still reports release \"%s\"", url, release);
        }
        if (mq_cli_now_mono_s() >= deadline)
            break;
        mq_cli_sleep_ms(VERSION_POLL_MS);
    }
    curl_easy_cleanup(c);
    free(b);
    return rc;
}

/* ==== reload ======================================================================= */

/* Parse the only option of reload/activate/rollback. Returns 0, or -1
 * after printing the problem. */
static int parse_timeout_opt(const char *op, int argc, char **argv, int *i, double *timeout,
                             int *matched)
{
    const char *v;
    *matched = take_opt(argc, argv, i, "--timeout", &v);
    if (!*matched)
        return 0;
    if (!v || parse_seconds(v, timeout) != 0) {
        say_err("%s failed: --timeout needs a number of seconds in (0, 86400]", op);
        return -1;
    }
    return 0;
}

int mq_cmd_reload(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    (void)env_path;
    double timeout = DEFAULT_RELOAD_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        int matched;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: mindquiz reload [--timeout SECONDS]\n"
                   "  Ask the running host to load `current` again and report the outcome.\n");
            return 0;
        }
        if (parse_timeout_opt("reload", argc, argv, &i, &timeout, &matched) != 0)
            return EXIT_USAGE;
        if (!matched) {
            say_err("reload failed: unexpected argument \"%s\"\n"
                    "usage: mindquiz reload [--timeout SECONDS]",
                    argv[i]);
            return EXIT_USAGE;
        }
    }
    mq_paths paths;
    if (mq_paths_init(&paths, cfg) != 0) {
        say_err("reload failed: out of memory");
        return 1;
    }
    int status = 1;
    pid_t pid = 0;
    char why[1024];
    int hs = mq_cli_find_host(&paths, &pid, why, sizeof why);
    if (hs == MQ_HOST_NONE) {
        say_err("reload failed: no host is running (%s)", why);
        status = EXIT_NOHOST;
    } else if (hs == MQ_HOST_ERROR) {
        say_err("reload failed: %s", why);
    } else {
        reload_result r;
        int rr = reload_handshake(&paths, pid, timeout, &r, why, sizeof why);
        if (rr == RELOAD_OK) {
            printf("reloaded: generation %" PRId64 ", release %s\n", r.generation, r.release);
            status = 0;
        } else if (rr == RELOAD_REFUSED) {
            say_err("reload refused (%s): %s", r.reason[0] ? r.reason : "unknown", r.message);
        } else {
            say_err("reload \"pid %ld\" failed: %s", (long)pid, why);
        }
    }
    mq_paths_cleanup(&paths);
    return status;
}

/* ==== activate / rollback =========================================================== */

typedef struct release_ref {
    char *id;
    int64_t published_ns;
} release_ref;

static int cmp_release_ref(const void *a, const void *b)
{
    const release_ref *x = a, *y = b;
    if (x->published_ns != y->published_ns)
        return x->published_ns < y->published_ns ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The release published just before `cur` (by published_ns, then id).
 * Releases whose MANIFEST cannot be read are skipped with a warning: their
 * place in the order is unknown, and they could not be activated anyway. */
static int previous_release(const char *releases_dir, const char *cur, char *out, size_t outlen,
                            char *err, size_t errlen)
{
    DIR *d = opendir(releases_dir);
    if (!d) {
        mq_set_err(err, errlen, "open \"%s\" failed: %s", releases_dir, strerror(errno));
        return -1;
    }
    release_ref *v = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!mq_release_id_valid(de->d_name))
            continue; /* ".", "..", dot-dirs (temp builds), "current" */
        char dir[PATH_MAX], merr[512];
        struct stat st;
        if (path_join(dir, sizeof dir, releases_dir, de->d_name) != 0 || lstat(dir, &st) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        mq_manifest *m = mq_manifest_read(dir, merr, sizeof merr);
        if (!m) {
            fprintf(stderr, "warning: skipping release \"%s\": %s\n", de->d_name, merr);
            continue;
        }
        int64_t ns = m->published_ns;
        mq_manifest_free(m);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            release_ref *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                mq_set_err(err, errlen, "out of memory");
                goto out;
            }
            v = nv;
        }
        if (!(v[n].id = strdup(de->d_name))) {
            mq_set_err(err, errlen, "out of memory");
            goto out;
        }
        v[n++].published_ns = ns;
    }
    qsort(v, n, sizeof *v, cmp_release_ref);
    size_t at = n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, cur) == 0)
            at = i;
    if (at == n)
        mq_set_err(err, errlen,
                "the current release \"%s\" has no readable MANIFEST, so there is "
                "no order to go back in; name the target: rollback ID",
                cur);
    else if (at == 0)
        mq_set_err(err, errlen, "no release was published before \"%s\"", cur);
    else {
        snprintf(out, outlen, "%s", v[at - 1].id);
        rc = 0;
    }
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(v[i].id);
    free(v);
    return rc;
}

/* Point `current` at `target` (a link text, e.g. "<id>") atomically: a
 * new symlink under a temp name renamed over the old one, so a reader
 * sees either the old or the new link, never none. NULL target removes
 * the link (when there was none before). */
static int point_current(const mq_paths *p, const char *target, char *err, size_t errlen)
{
    if (!target) {
        if (unlink(p->current_link) != 0 && errno != ENOENT) {
            mq_set_err(err, errlen, "unlink \"%s\" failed: %s", p->current_link, strerror(errno));
            return -1;
        }
    } else {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s/.current.tmp-%ld", p->releases_dir, (long)getpid());
        unlink(tmp); /* a leftover of a killed run with our pid */
        if (symlink(target, tmp) != 0) {
            mq_set_err(err, errlen, "symlink \"%s\" failed: %s", tmp, strerror(errno));
            return -1;
        }
        if (rename(tmp, p->current_link) != 0) {
            mq_set_err(err, errlen, "rename \"%s\" to \"%s\" failed: %s", tmp, p->current_link,
                    strerror(errno));
            unlink(tmp);
            return -1;
        }
    }
    if (fsync_dir(p->releases_dir) != 0)
        fprintf(stderr, "warning: fsync \"%s\" failed: %s\n", p->releases_dir, strerror(errno));
    return 0;
}

/* The release `current` points at (basename of its target), or "" when
 * there is no link. Also returns the raw link text in old_link. */
static int read_current(const mq_paths *p, char *old_link, size_t linklen, char *cur, size_t curlen,
                        char *err, size_t errlen)
{
    old_link[0] = cur[0] = '\0';
    ssize_t n = readlink(p->current_link, old_link, linklen - 1);
    if (n < 0) {
        if (errno == ENOENT)
            return 0;
        mq_set_err(err, errlen, "readlink \"%s\" failed: %s", p->current_link,
                errno == EINVAL ? "not a symbolic link" : strerror(errno));
        return -1;
    }
    old_link[n] = '\0';
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", old_link);
    size_t len = strlen(tmp);
    while (len > 1 && tmp[len - 1] == '/')
        tmp[--len] = '\0';
    const char *slash = strrchr(tmp, '/');
    snprintf(cur, curlen, "%s", slash ? slash + 1 : tmp);
    return 0;
}

/* Serialize activate/rollback runs on one releases dir: both read
 * `current` and may put it back, which must not interleave. The lock is
 * the directory itself, so nothing is left behind. */
static int lock_releases(const char *dir, const char *op)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        say_err("%s failed: open \"%s\" failed: %s", op, dir, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "waiting for another activate/rollback on \"%s\" to finish...\n", dir);
        if (flock(fd, LOCK_EX) != 0) {
            say_err("%s failed: lock \"%s\" failed: %s", op, dir, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static int switch_release(const char *op, const char *id_arg, double timeout, mq_config *cfg)
{
    mq_paths paths;
    if (mq_paths_init(&paths, cfg) != 0) {
        say_err("%s failed: out of memory", op);
        return 1;
    }
    int status = 1, lockfd = -1;
    char id[MQ_RELEASE_ID_MAX + 1], cur[PATH_MAX], old_link[PATH_MAX], dir[PATH_MAX];
    char err[1024];
    mq_manifest *m = NULL;
    int curl_ready = 0;

    struct stat st;
    if (stat(paths.releases_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        say_err("%s failed: no releases dir \"%s\"", op, paths.releases_dir);
        goto out;
    }
    if ((lockfd = lock_releases(paths.releases_dir, op)) < 0)
        goto out;
    if (read_current(&paths, old_link, sizeof old_link, cur, sizeof cur, err, sizeof err) != 0) {
        say_err("%s failed: %s", op, err);
        goto out;
    }

    /* ---- which release */
    if (id_arg) {
        snprintf(id, sizeof id, "%s", id_arg);
    } else if (!cur[0]) {
        say_err("%s failed: \"%s\" does not exist, so there is nothing to roll back from; "
                "name the target: %s ID",
                op, paths.current_link, op);
        goto out;
    } else if (previous_release(paths.releases_dir, cur, id, sizeof id, err, sizeof err) != 0) {
        say_err("%s failed: %s", op, err);
        goto out;
    }

    /* ---- is it whole */
    if (path_join(dir, sizeof dir, paths.releases_dir, id) != 0 || lstat(dir, &st) != 0 ||
        !S_ISDIR(st.st_mode)) {
        say_err("%s \"%s\" failed: no release \"%s\" in \"%s\"", op, id, id, paths.releases_dir);
        goto out;
    }
    const char *reason = NULL;
    if (!(m = mq_manifest_read(dir, err, sizeof err)) ||
        mq_manifest_verify(dir, m, &reason, err, sizeof err) != 0) {
        say_err("%s \"%s\" failed: %s (%s)", op, id, err, reason ? reason : "manifest");
        goto out;
    }
    if (strcmp(m->id, id) != 0) {
        /* The host reports the MANIFEST id; we could never confirm it. */
        say_err("%s \"%s\" failed: its MANIFEST says it is release \"%s\" (manifest)", op, id,
                m->id);
        goto out;
    }

    /* ---- is a host running (check before touching anything) */
    pid_t pid = 0;
    char why[1024];
    int hs = mq_cli_find_host(&paths, &pid, why, sizeof why);
    if (hs == MQ_HOST_ERROR) {
        say_err("%s \"%s\" failed: %s", op, id, why);
        goto out;
    }

    /* ---- switch */
    const char *old_target = old_link[0] ? old_link : NULL;
    if (point_current(&paths, id, err, sizeof err) != 0) {
        say_err("%s \"%s\" failed: %s", op, id, err);
        goto out;
    }
    printf("current -> %s (was %s)\n", id, cur[0] ? cur : "none");
    fflush(stdout);
    if (hs == MQ_HOST_NONE) {
        printf("no host is running (%s); the next start will serve release %s\n", why, id);
        status = 0;
        goto out;
    }

    /* ---- reload, and put the link back when the host says no */
    reload_result r;
    int rr = reload_handshake(&paths, pid, timeout, &r, why, sizeof why);
    if (rr != RELOAD_OK) {
        int back = point_current(&paths, old_target, err, sizeof err);
        if (rr == RELOAD_REFUSED)
            say_err("%s \"%s\" failed: the host refused it (%s): %s", op, id,
                    r.reason[0] ? r.reason : "unknown", r.message);
        else
            say_err("%s \"%s\" failed: %s", op, id, why);
        if (back == 0)
            say_err("current -> %s again", cur[0] ? cur : "none (link removed)");
        else
            say_err("restoring \"%s\" failed: %s", paths.current_link, err);
        goto out;
    }
    printf("reloaded: generation %" PRId64 ", release %s\n", r.generation, r.release);
    fflush(stdout);

    /* ---- confirm from the outside, as a user would see it */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        say_err("%s \"%s\" failed: curl_global_init failed", op, id);
        goto out;
    }
    curl_ready = 1;
    int64_t generation = r.generation;
    if (wait_serving(paths.listen, id, &generation, err, sizeof err) != 0) {
        say_err("%s \"%s\" failed: not serving after %g s: %s", op, id, VERSION_WAIT_S, err);
        goto out;
    }
    printf("release %s is serving (generation %" PRId64 ")\n", id, generation);
    status = 0;
out:
    if (curl_ready)
        curl_global_cleanup();
    mq_manifest_free(m);
    if (lockfd >= 0)
        close(lockfd);
    mq_paths_cleanup(&paths);
    return status;
}

static int switch_cmd(const char *op, int need_id, int argc, char **argv, mq_config *cfg)
{
    const char *usage = need_id ? "usage: mindquiz activate ID [--timeout SECONDS]"
                                : "usage: mindquiz rollback [ID] [--timeout SECONDS]";
    const char *id = NULL;
    double timeout = DEFAULT_RELOAD_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        int matched;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("%s\n", usage);
            return 0;
        }
        if (parse_timeout_opt(op, argc, argv, &i, &timeout, &matched) != 0)
            return EXIT_USAGE;
        if (matched)
            continue;
        if (argv[i][0] == '-' || id) {
            say_err("%s failed: unexpected argument \"%s\"\n%s", op, argv[i], usage);
            return EXIT_USAGE;
        }
        id = argv[i];
    }
    if (need_id && !id) {
        say_err("%s failed: which release? %s", op, usage);
        return EXIT_USAGE;
    }
    if (id && !mq_release_id_valid(id)) {
        say_err("%s \"%s\" failed: not a valid release id", op, id);
        return EXIT_USAGE;
    }
    return switch_release(op, id, timeout, cfg);
}

int mq_cmd_activate(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    (void)env_path;
    return switch_cmd("activate", 1, argc, argv, cfg);
}

int mq_cmd_rollback(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    (void)env_path;
    return switch_cmd("rollback", 0, argc, argv, cfg);
}
