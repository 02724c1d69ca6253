/* Unit tests for host/cli_release.c: `mindquiz release`, `activate`,
 * `rollback` and `reload`, run in-process against a private temp dir and,
 * where a host is needed, a small fake host in a child process that speaks
 * the reload handshake (pid file, SIGHUP, status file) and /api/version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>

#include "mq_plugin.h"
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "cli.h"
#include "manifest.h"
#include "unit_util.h"

#ifndef UNIT_DESC_PLUGIN
#error "UNIT_DESC_PLUGIN must name the built descriptor fixture"
#endif

typedef int (*cmd_fn)(int argc, char **argv, const char *env_path, mq_config *cfg);

typedef struct fixture {
    char *dir;               /* everything lives here */
    char build[PATH_MAX];    /* a build tree: plugins/, assets/ */
    char releases[PATH_MAX]; /* RELEASES_DIR */
    char pid_file[PATH_MAX];
    char status_file[PATH_MAX];
    mq_config *cfg;
    int port;        /* LISTEN port (the fake host's, when one runs) */
    pid_t host;      /* fake host, or 0 */
    char out[16384]; /* stdout + stderr of the last command */
} fixture;

/* ---- plumbing ---------------------------------------------------------------------- */

static int copy_path(const char *src, const char *dst)
{
    size_t n;
    char *data = ut_read(src, NULL, &n);
    if (!data)
        return -1;
    FILE *f = fopen(dst, "wb");
    int rc = f && fwrite(data, 1, n, f) == n ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    free(data);
    return rc;
}

static int make_config(fixture *fx)
{
    char text[1024], err[256];
    snprintf(text, sizeof text,
             "RELEASES_DIR=releases\nDATA_DIR=data\nPID_FILE=data/mq.pid\n"
             "LISTEN=127.0.0.1:%d\n",
             fx->port);
    mq_config_free(fx->cfg);
    fx->cfg = mq_config_parse(text, strlen(text), fx->dir, err, sizeof err);
    return fx->cfg ? 0 : -1;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || !(fx->dir = ut_mkdtemp("cli")))
        return -1;
    ut_path(fx->build, sizeof fx->build, fx->dir, "build");
    ut_path(fx->releases, sizeof fx->releases, fx->dir, "releases");
    ut_path(fx->pid_file, sizeof fx->pid_file, fx->dir, "data/mq.pid");
    UT_SNPRINTF(fx->status_file, sizeof fx->status_file, "%s.reload.json", fx->pid_file);
    char p[PATH_MAX];
    if (ut_write_str(fx->build, "assets/static/robots.txt", "User-agent: *\n") != 0 ||
        ut_write_str(fx->build, "assets/quiz/a/b.json", "{}") != 0 ||
        ut_write_str(fx->build, "assets/.well-known/security.txt", "x") != 0 ||
        ut_mkparents(ut_path(p, sizeof p, fx->build, "plugins/x")) != 0 ||
        copy_path(UNIT_DESC_PLUGIN, ut_path(p, sizeof p, fx->build, "plugins/unitdesc.so")) != 0 ||
        ut_mkparents(fx->pid_file) != 0)
        return -1;
    fx->port = 9; /* discard: nothing answers unless a fake host runs */
    if (make_config(fx) != 0)
        return -1;
    *state = fx;
    return 0;
}

static void stop_host(fixture *fx)
{
    if (fx->host > 0) {
        kill(fx->host, SIGKILL);
        waitpid(fx->host, NULL, 0);
        fx->host = 0;
    }
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (fx) {
        stop_host(fx);
        mq_config_free(fx->cfg);
        ut_rm_rf(fx->dir);
        free(fx->dir);
        free(fx);
    }
    return 0;
}

/* Run a subcommand with stdout and stderr captured into fx->out. */
static int run(fixture *fx, cmd_fn fn, ...)
{
    va_list ap;
    va_start(ap, fn);
    int rc = ut_run_cmd_v(fx->dir, fx->cfg, fx->out, sizeof fx->out, fn, ap);
    va_end(ap);
    assert_true(rc != -1);
    return rc;
}

#define expect_out(fx, needle)                                                                     \
    do {                                                                                           \
        if (!strstr((fx)->out, (needle)))                                                          \
            fail_msg("output lacks \"%s\":\n%s", (needle), (fx)->out);                             \
    } while (0)

#define expect_rc(fx, got, want)                                                                   \
    do {                                                                                           \
        int got_ = (got);                                                                          \
        if (got_ != (want))                                                                        \
            fail_msg("exit status %d (want %d), output:\n%s", got_, (want), (fx)->out);            \
    } while (0)

static void publish(fixture *fx, const char *id)
{
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "--id", id, NULL), 0);
}

/* The target of releases/current, or "" when there is none. */
static const char *current(fixture *fx)
{
    static char buf[PATH_MAX];
    char link[PATH_MAX];
    ssize_t n = readlink(ut_path(link, sizeof link, fx->releases, "current"), buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void set_current(fixture *fx, const char *id)
{
    char link[PATH_MAX];
    ut_path(link, sizeof link, fx->releases, "current");
    unlink(link);
    assert_int_equal(symlink(id, link), 0);
}

/* Names in releases/ that start with '.' (temp dirs, temp links). */
static int hidden_entries(fixture *fx)
{
    DIR *d = opendir(fx->releases);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void write_pid(fixture *fx, pid_t pid)
{
    char text[32];
    snprintf(text, sizeof text, "%ld\n", (long)pid);
    FILE *f = fopen(fx->pid_file, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- the fake host ------------------------------------------------------------------- */

enum fake_mode { FAKE_ACCEPT, FAKE_REFUSE, FAKE_SILENT };

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fake_write_status(const char *path, long seq, int64_t started, int ok, long generation,
                              const char *release)
{
    char tmp[PATH_MAX + 8], text[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(text, sizeof text,
             "{\"seq\":%ld,\"started_ns\":%lld,\"ok\":%s,\"reason\":\"%s\",\"message\":\"%s\","
             "\"generation\":%ld,\"release\":\"%s\",\"duration_us\":7}",
             seq, (long long)started, ok ? "true" : "false", ok ? "" : "checksum",
             ok ? "" : "checksum of \\\"plugins/x.so\\\" does not match the MANIFEST", generation,
             release);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

/* The child: serve /api/version and answer SIGHUP as the real host does:
 * re-resolve releases/current (or refuse), then replace the status file. */
static void fake_host_main(fixture *fx, int lfd, int ready_fd, enum fake_mode mode,
                           const char *serving0)
{
    prctl(PR_SET_NAME, "mindquiz-fake");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    int sfd = signalfd(-1, &set, 0);
    /* Named and listening for signals: the parent may write the pid file. */
    if (write(ready_fd, "r", 1) != 1)
        _exit(1);
    close(ready_fd);
    char serving[256], link[PATH_MAX];
    snprintf(serving, sizeof serving, "%s", serving0);
    ut_path(link, sizeof link, fx->releases, "current");
    long generation = 1, seq = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = lfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0)
            continue;
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) != sizeof si)
                continue;
            int64_t started = now_ns();
            if (mode == FAKE_SILENT)
                continue;
            if (mode == FAKE_ACCEPT) {
                char target[PATH_MAX];
                ssize_t n = readlink(link, target, sizeof target - 1);
                target[n > 0 ? n : 0] = '\0';
                UT_SNPRINTF(serving, sizeof serving, "%s", target);
                generation++;
            }
            fake_write_status(fx->status_file, ++seq, started, mode == FAKE_ACCEPT, generation,
                              serving);
        }
        if (p[1].revents & POLLIN) {
            int c = accept(lfd, NULL, NULL);
            if (c < 0)
                continue;
            char req[4096];
            size_t got = 0;
            while (got < sizeof req - 1) {
                ssize_t r = read(c, req + got, sizeof req - 1 - got);
                if (r <= 0)
                    break;
                got += (size_t)r;
                req[got] = '\0';
                if (strstr(req, "\r\n\r\n"))
                    break;
            }
            char body[512], resp[1024];
            snprintf(body, sizeof body, "{\"version\":\"0\",\"release\":\"%s\",\"generation\":%ld}",
                     serving, generation);
            int n = snprintf(resp, sizeof resp,
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                             strlen(body), body);
            if (write(c, resp, (size_t)n) < 0) {
            }
            close(c);
        }
    }
}

/* Start a fake host serving `serving`, write its pid file, point LISTEN at it. */
static void start_host(fixture *fx, enum fake_mode mode, const char *serving)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 16), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    fx->port = ntohs(sa.sin_port);
    assert_int_equal(make_config(fx), 0);

    /* Block SIGHUP before fork so the child cannot die of an early one. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        fake_host_main(fx, lfd, ready[1], mode, serving);
        _exit(0);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(lfd);
    close(ready[1]);
    char byte;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    fx->host = pid;
    write_pid(fx, pid);
}

/* ---- release ----------------------------------------------------------------------------- */

static void release__build_dir__publishes_verified_release(void **state)
{
    fixture *fx = *state;
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "--id", "r1", NULL), 0);
    char dir[PATH_MAX], want[PATH_MAX + 64];
    ut_path(dir, sizeof dir, fx->releases, "r1");
    snprintf(want, sizeof want, "published release r1 (1 plugins) at %s", dir);
    expect_out(fx, want);

    char err[512];
    mq_manifest *m = mq_manifest_read(dir, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    const char *why = NULL;
    if (mq_manifest_verify(dir, m, &why, err, sizeof err) != 0)
        fail_msg("%s: %s", why, err);
    assert_string_equal(m->id, "r1");
    assert_true(m->published_ns > 0);
    assert_int_equal(strlen(m->published), 20); /* 2026-11-27T04:10:00Z */
    assert_int_equal(m->published[19], 'Z');
    assert_int_equal(m->nplugins, 1);
    assert_string_equal(m->plugins[0].name, "unitdesc");
    assert_string_equal(m->plugins[0].version, "2.3.4");
    assert_string_equal(m->plugins[0].file, "plugins/unitdesc.so");
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", MQ_ABI_MAJOR, MQ_ABI_MINOR);
    assert_string_equal(m->plugins[0].abi, abi);
    assert_int_equal(m->nfiles, 4);
    assert_non_null(mq_manifest_find(m, "assets/static/robots.txt"));
    assert_non_null(mq_manifest_find(m, "assets/quiz/a/b.json"));
    assert_non_null(mq_manifest_find(m, "assets/.well-known/security.txt"));
    mq_manifest_free(m);

    /* Fixed modes whatever the umask; no temp dir left; current untouched. */
    struct stat st;
    char p[PATH_MAX];
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(ut_path(p, sizeof p, dir, "plugins/unitdesc.so"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(stat(ut_path(p, sizeof p, dir, "MANIFEST"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(hidden_entries(fx), 0);
    assert_string_equal(current(fx), "");
}

static void release__plugin_fails_dlopen__published_as_unknown_with_warning(void **state)
{
    fixture *fx = *state;
    assert_int_equal(ut_write_str(fx->build, "plugins/broken.so", "not an ELF file"), 0);
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "--id", "bad", NULL), 0);
    expect_out(fx, "warning: plugin \"plugins/broken.so\"");
    expect_out(fx, "published release bad (2 plugins)");
    char dir[PATH_MAX], err[512];
    mq_manifest *m =
        mq_manifest_read(ut_path(dir, sizeof dir, fx->releases, "bad"), err, sizeof err);
    assert_non_null(m);
    assert_int_equal(m->nplugins, 2);
    assert_string_equal(m->plugins[0].file, "plugins/broken.so");
    assert_string_equal(m->plugins[0].name, "broken");
    assert_string_equal(m->plugins[0].version, "unknown");
    assert_string_equal(m->plugins[1].name, "unitdesc");
    assert_int_equal(mq_manifest_verify(dir, m, NULL, err, sizeof err), 0);
    mq_manifest_free(m);
}

static void release__existing_id__refused_and_nothing_left(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    char before[PATH_MAX], p[PATH_MAX];
    char *m1 = ut_read(ut_path(p, sizeof p, fx->releases, "r1/MANIFEST"), NULL, NULL);
    snprintf(before, sizeof before, "%s", m1 ? m1 : "");
    free(m1);
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "--id", "r1", NULL), 1);
    expect_out(fx, "release \"r1\" failed:");
    expect_out(fx, "already exists");
    char *m2 = ut_read(p, NULL, NULL);
    assert_string_equal(before, m2 ? m2 : "");
    free(m2);
    assert_int_equal(hidden_entries(fx), 0);
}

static void release__invalid_ids__usage_error(void **state)
{
    fixture *fx = *state;
    static const char *bad[] = {"current", ".hidden", "../x", "a/b", "a b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "--id", bad[i], NULL),
                  64);
        expect_out(fx, "not a valid release id");
    }
    assert_int_equal(access(fx->releases, F_OK), -1); /* nothing created */
}

static void release__usage_errors__exit_64(void **state)
{
    fixture *fx = *state;
    expect_rc(fx, run(fx, mq_cmd_release, "release", NULL), 64);
    expect_out(fx, "--from BUILD_DIR is required");
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", NULL), 64);
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "extra", NULL), 64);
    expect_out(fx, "unexpected argument \"extra\"");
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--help", NULL), 0);
    expect_out(fx, "usage: mindquiz release");
}

static void release__no_plugins__fails_and_removes_temp_dir(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    assert_int_equal(unlink(ut_path(p, sizeof p, fx->build, "plugins/unitdesc.so")), 0);
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "--id", "r1", NULL), 1);
    expect_out(fx, "release \"r1\" failed: no plugins");
    assert_int_equal(access(ut_path(p, sizeof p, fx->releases, "r1"), F_OK), -1);
    assert_int_equal(hidden_entries(fx), 0);
}

static void release__unreadable_asset__fails_and_removes_temp_dir(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    /* A dangling symlink in assets: the copy fails halfway. */
    assert_int_equal(symlink("nowhere", ut_path(p, sizeof p, fx->build, "assets/zz-dangling")), 0);
    expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, "--id", "r1", NULL), 1);
    expect_out(fx, "release \"r1\" failed: stat \"");
    expect_out(fx, "zz-dangling\" failed: No such file or directory");
    assert_int_equal(access(ut_path(p, sizeof p, fx->releases, "r1"), F_OK), -1);
    assert_int_equal(hidden_entries(fx), 0);
}

static void release__missing_build_dir__fails(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX];
    expect_rc(
        fx,
        run(fx, mq_cmd_release, "release", "--from", ut_path(p, sizeof p, fx->dir, "nope"), NULL),
        1);
    expect_out(fx, "No such file or directory");
}

static int id_matches_default(const char *id)
{
    /* YYYYMMDD-HHMMSS, optionally -N */
    if (strlen(id) < 15)
        return 0;
    for (int i = 0; i < 15; i++)
        if (i == 8 ? id[i] != '-' : !(id[i] >= '0' && id[i] <= '9'))
            return 0;
    if (id[15] == '\0')
        return 1;
    if (id[15] != '-' || !id[16])
        return 0;
    for (const char *p = id + 16; *p; p++)
        if (!(*p >= '0' && *p <= '9'))
            return 0;
    return 1;
}

static void release__default_id__local_time_then_suffix(void **state)
{
    fixture *fx = *state;
    char ids[3][64];
    for (int i = 0; i < 3; i++) {
        expect_rc(fx, run(fx, mq_cmd_release, "release", "--from", fx->build, NULL), 0);
        const char *p = strstr(fx->out, "published release ");
        assert_non_null(p);
        assert_int_equal(sscanf(p, "published release %63s", ids[i]), 1);
        if (!id_matches_default(ids[i]))
            fail_msg("default id \"%s\" is not YYYYMMDD-HHMMSS[-N]", ids[i]);
    }
    assert_string_not_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[1], ids[2]);
    assert_string_not_equal(ids[0], ids[2]);
    /* Two in the same second: the second one got a suffix. */
    if (strncmp(ids[0], ids[1], 15) == 0)
        assert_string_equal(ids[1] + 15, "-2");
}

/* ---- activate / rollback without a host ------------------------------------------------ */

static void activate__no_host__switches_current_exit_0(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    publish(fx, "r2");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r1", NULL), 0);
    assert_string_equal(current(fx), "r1");
    expect_out(fx, "current -> r1 (was none)");
    expect_out(fx, "no host is running");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r2", NULL), 0);
    assert_string_equal(current(fx), "r2");
    expect_out(fx, "current -> r2 (was r1)");
    assert_int_equal(hidden_entries(fx), 0);

    /* A stale pid file counts as no host. */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    write_pid(fx, child);
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r1", NULL), 0);
    expect_out(fx, "is not running");
    assert_string_equal(current(fx), "r1");
}

static void activate__damaged_release__refused_current_unchanged(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    publish(fx, "r2");
    set_current(fx, "r1");
    char p[PATH_MAX];
    FILE *f = fopen(ut_path(p, sizeof p, fx->releases, "r2/plugins/unitdesc.so"), "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r2", NULL), 1);
    expect_out(fx, "activate \"r2\" failed: checksum of \"plugins/unitdesc.so\" does not match "
                   "the MANIFEST (checksum)");
    assert_string_equal(current(fx), "r1");

    /* A missing MANIFEST too. */
    unlink(ut_path(p, sizeof p, fx->releases, "r2/MANIFEST"));
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r2", NULL), 1);
    expect_out(fx, "MANIFEST is missing (manifest)");
    assert_string_equal(current(fx), "r1");
}

static void activate__unknown_or_invalid_release__fails(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r9", NULL), 1);
    expect_out(fx, "activate \"r9\" failed: no release \"r9\"");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "../r1", NULL), 64);
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", NULL), 64);
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r1", "r2", NULL), 64);
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r1", "--timeout", "zero", NULL), 64);
    assert_string_equal(current(fx), "");
}

static void activate__renamed_release_dir__refused(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    char a[PATH_MAX], b[PATH_MAX];
    assert_int_equal(rename(ut_path(a, sizeof a, fx->releases, "r1"),
                            ut_path(b, sizeof b, fx->releases, "copy")),
                     0);
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "copy", NULL), 1);
    expect_out(fx, "its MANIFEST says it is release \"r1\"");
}

static void rollback__no_id__goes_to_previously_published(void **state)
{
    fixture *fx = *state;
    /* Published in this order; names sort differently on purpose. */
    publish(fx, "zeta");
    publish(fx, "alpha");
    publish(fx, "mid");
    set_current(fx, "mid");
    expect_rc(fx, run(fx, mq_cmd_rollback, "rollback", NULL), 0);
    assert_string_equal(current(fx), "alpha");
    expect_rc(fx, run(fx, mq_cmd_rollback, "rollback", NULL), 0);
    assert_string_equal(current(fx), "zeta");
    expect_rc(fx, run(fx, mq_cmd_rollback, "rollback", NULL), 1);
    expect_out(fx, "rollback failed: no release was published before \"zeta\"");
    assert_string_equal(current(fx), "zeta");
    /* An explicit id works like activate. */
    expect_rc(fx, run(fx, mq_cmd_rollback, "rollback", "mid", NULL), 0);
    assert_string_equal(current(fx), "mid");
}

static void rollback__damaged_previous__refused(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    publish(fx, "r2");
    set_current(fx, "r2");
    char p[PATH_MAX];
    assert_int_equal(unlink(ut_path(p, sizeof p, fx->releases, "r1/assets/quiz/a/b.json")), 0);
    expect_rc(fx, run(fx, mq_cmd_rollback, "rollback", NULL), 1);
    expect_out(fx, "rollback \"r1\" failed: \"assets/quiz/a/b.json\" listed in MANIFEST is "
                   "missing (missing_file)");
    assert_string_equal(current(fx), "r2");
}

static void rollback__no_current__fails(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    expect_rc(fx, run(fx, mq_cmd_rollback, "rollback", NULL), 1);
    expect_out(fx, "nothing to roll back from");
    assert_string_equal(current(fx), "");
}

/* ---- reload and the handshake ---------------------------------------------------------- */

static void reload__no_pid_file__exit_2(void **state)
{
    fixture *fx = *state;
    expect_rc(fx, run(fx, mq_cmd_reload, "reload", NULL), 2);
    expect_out(fx, "reload failed: no host is running (no pid file");
}

static void reload__pid_of_other_program__not_signalled_exit_2(void **state)
{
    fixture *fx = *state;
    /* Our own pid: alive, but not mindquiz (a reused pid). Block SIGHUP so
     * a wrong signal shows up as pending instead of killing the runner. */
    sigset_t set, old, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    write_pid(fx, getpid());
    int rc = run(fx, mq_cmd_reload, "reload", NULL);
    sigpending(&pending);
    int got_hup = sigismember(&pending, SIGHUP);
    if (got_hup) {
        int sig;
        sigwait(&set, &sig);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    assert_false(got_hup);
    expect_rc(fx, rc, 2);
    expect_out(fx, "not mindquiz");
}

static void reload__garbage_pid_file__exit_1(void **state)
{
    fixture *fx = *state;
    FILE *f = fopen(fx->pid_file, "w");
    assert_non_null(f);
    fputs("twelve\n", f);
    fclose(f);
    expect_rc(fx, run(fx, mq_cmd_reload, "reload", NULL), 1);
    expect_out(fx, "does not hold a pid");
}

static void reload__host_accepts__reports_generation_exit_0(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    set_current(fx, "r1");
    start_host(fx, FAKE_ACCEPT, "r1");
    expect_rc(fx, run(fx, mq_cmd_reload, "reload", NULL), 0);
    expect_out(fx, "reloaded: generation 2, release r1");
    expect_rc(fx, run(fx, mq_cmd_reload, "reload", NULL), 0);
    expect_out(fx, "reloaded: generation 3, release r1");
}

static void reload__host_refuses__reason_and_exit_1(void **state)
{
    fixture *fx = *state;
    start_host(fx, FAKE_REFUSE, "r1");
    expect_rc(fx, run(fx, mq_cmd_reload, "reload", NULL), 1);
    expect_out(fx, "reload refused (checksum): checksum of \"plugins/x.so\" does not match the "
                   "MANIFEST");
}

static void reload__old_status_and_silent_host__times_out_exit_1(void **state)
{
    fixture *fx = *state;
    start_host(fx, FAKE_SILENT, "r1");
    /* A status from an earlier attempt must not be taken for ours. */
    fake_write_status(fx->status_file, 4, now_ns() - 1000000000LL, 0, 1, "r1");
    expect_rc(fx, run(fx, mq_cmd_reload, "reload", "--timeout", "0.3", NULL), 1);
    expect_out(fx, "no reload status in");
    /* Half-written (not JSON) status: still just waiting. */
    assert_int_equal(ut_write_str(fx->status_file, NULL, "{\"seq\": 5, \"started"), 0);
    expect_rc(fx, run(fx, mq_cmd_reload, "reload", "--timeout=0.2", NULL), 1);
    expect_out(fx, "no reload status in");
}

static void activate__host_accepts__confirmed_through_api_version(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    publish(fx, "r2");
    set_current(fx, "r1");
    start_host(fx, FAKE_ACCEPT, "r1");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r2", NULL), 0);
    expect_out(fx, "current -> r2 (was r1)");
    expect_out(fx, "reloaded: generation 2, release r2");
    expect_out(fx, "release r2 is serving (generation 2)");
    assert_string_equal(current(fx), "r2");

    expect_rc(fx, run(fx, mq_cmd_rollback, "rollback", NULL), 0);
    expect_out(fx, "release r1 is serving (generation 3)");
    assert_string_equal(current(fx), "r1");
    assert_int_equal(hidden_entries(fx), 0);
}

static void activate__host_refuses__current_restored_exit_1(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    publish(fx, "r2");
    set_current(fx, "r1");
    start_host(fx, FAKE_REFUSE, "r1");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r2", NULL), 1);
    expect_out(fx, "activate \"r2\" failed: the host refused it (checksum): checksum of");
    expect_out(fx, "current -> r1 again");
    assert_string_equal(current(fx), "r1");
    assert_int_equal(hidden_entries(fx), 0);
}

static void activate__host_refuses_first_release__link_removed_again(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    start_host(fx, FAKE_REFUSE, "");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r1", NULL), 1);
    expect_out(fx, "current -> none (link removed) again");
    assert_string_equal(current(fx), "");
}

static void activate__host_never_answers__current_restored_exit_1(void **state)
{
    fixture *fx = *state;
    publish(fx, "r1");
    publish(fx, "r2");
    set_current(fx, "r1");
    start_host(fx, FAKE_SILENT, "r1");
    expect_rc(fx, run(fx, mq_cmd_activate, "activate", "r2", "--timeout", "0.3", NULL), 1);
    expect_out(fx, "no reload status in");
    assert_string_equal(current(fx), "r1");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(release__build_dir__publishes_verified_release),
        T(release__plugin_fails_dlopen__published_as_unknown_with_warning),
        T(release__existing_id__refused_and_nothing_left),
        T(release__invalid_ids__usage_error),
        T(release__usage_errors__exit_64),
        T(release__no_plugins__fails_and_removes_temp_dir),
        T(release__unreadable_asset__fails_and_removes_temp_dir),
        T(release__missing_build_dir__fails),
        T(release__default_id__local_time_then_suffix),
        T(activate__no_host__switches_current_exit_0),
        T(activate__damaged_release__refused_current_unchanged),
        T(activate__unknown_or_invalid_release__fails),
        T(activate__renamed_release_dir__refused),
        T(rollback__no_id__goes_to_previously_published),
        T(rollback__damaged_previous__refused),
        T(rollback__no_current__fails),
        T(reload__no_pid_file__exit_2),
        T(reload__pid_of_other_program__not_signalled_exit_2),
        T(reload__garbage_pid_file__exit_1),
        T(reload__host_accepts__reports_generation_exit_0),
        T(reload__host_refuses__reason_and_exit_1),
        T(reload__old_status_and_silent_host__times_out_exit_1),
        T(activate__host_accepts__confirmed_through_api_version),
        T(activate__host_refuses__current_restored_exit_1),
        T(activate__host_refuses_first_release__link_removed_again),
        T(activate__host_never_answers__current_restored_exit_1),
    };
#undef T
    return cmocka_run_group_tests_name("cli_release", tests, NULL, NULL);
}
