/*
 * cli_util.c -- the running host as the subcommands see it: its pid file,
 * and the signal + status file handshake (see cli_util.h).
 */
#include "util.h"
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATUS_POLL_MS 10


int64_t mq_cli_now_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double mq_cli_now_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mq_cli_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void mq_cli_json_str(json_object *o, const char *key, char *dst, size_t n)
{
    json_object *v;
    dst[0] = '\0';
    if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        snprintf(dst, n, "%s", json_object_get_string(v));
}

int64_t mq_cli_json_i64(json_object *o, const char *key, int64_t def)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return json_object_get_int64(v);
    return def;
}

/* ---- the pid file ------------------------------------------------------------- */

/* 1 when /proc says pid runs mindquiz, or /proc cannot tell. A pid from a
 * stale pidfile may have been reused by an unrelated process, and SIGHUP
 * (or SIGUSR1) would kill most processes. */
static int pid_is_mindquiz(pid_t pid, char *comm, size_t commlen)
{
    char path[64], buf[4096];
    snprintf(comm, commlen, "?");
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 1;
    if (fgets(comm, (int)commlen, f))
        comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
    if (strncmp(comm, "mindquiz", 8) == 0)
        return 1;
    /* Under a wrapper (valgrind, ...) the program is a later argument. Only
     * file names count: a build path like /src/mindquiz/... proves nothing. */
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    for (char *arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
        const char *slash = strrchr(arg, '/');
        if (strncmp(slash ? slash + 1 : arg, "mindquiz", 8) == 0)
            return 1;
    }
    return 0;
}

int mq_cli_find_host(const mq_paths *p, pid_t *pid, char *why, size_t whylen)
{
    FILE *f = fopen(p->pid_file, "re");
    if (!f) {
        if (errno == ENOENT) {
            mq_set_err(why, whylen, "no pid file \"%s\"", p->pid_file);
            return MQ_HOST_NONE;
        }
        mq_set_err(why, whylen, "open \"%s\" failed: %s", p->pid_file, strerror(errno));
        return MQ_HOST_ERROR;
    }
    char buf[64] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == '\r' || *end == ' ' || *end == '\t')
        end++;
    if (n == 0 || errno || end == buf || *end || v <= 0 || v > INT32_MAX) {
        mq_set_err(why, whylen, "pid file \"%s\" does not hold a pid", p->pid_file);
        return MQ_HOST_ERROR;
    }
    *pid = (pid_t)v;
    if (kill(*pid, 0) != 0) {
        if (errno == ESRCH) {
            mq_set_err(why, whylen, "pid %ld from \"%s\" is not running", v, p->pid_file);
            return MQ_HOST_NONE;
        }
        mq_set_err(why, whylen, "signal pid %ld failed: %s", v, strerror(errno));
        return MQ_HOST_ERROR;
    }
    char comm[64];
    if (!pid_is_mindquiz(*pid, comm, sizeof comm)) {
        mq_set_err(why, whylen, "pid %ld from \"%s\" is \"%s\", not mindquiz (a stale pid file)", v,
                p->pid_file, comm);
        return MQ_HOST_NONE;
    }
    return MQ_HOST_RUNNING;
}

/* ---- the handshake ---------------------------------------------------------------- */

/* The status file's object when it reports an attempt started at or after
 * t0; NULL when absent, unreadable, mid-replace or older. */
static json_object *read_status(const char *path, int64_t t0)
{
    char buf[16 * 1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    json_object *o = json_tokener_parse(buf);
    if (!o || !json_object_is_type(o, json_type_object) ||
        mq_cli_json_i64(o, "started_ns", INT64_MIN) < t0) {
        json_object_put(o);
        return NULL; /* foreign, mid-replace or older: poll again */
    }
    return o;
}

/* Attempts already running when the signal lands started earlier and are
 * skipped: the one we wait for saw whatever we changed before signalling. */
int mq_cli_handshake(pid_t pid, int sig, const char *status_path, const char *what,
                     double timeout_s, json_object **status, char *err, size_t errlen)
{
    *status = NULL;
    int64_t t0 = mq_cli_now_realtime_ns();
    if (kill(pid, sig) != 0) {
        mq_set_err(err, errlen, "signal pid %ld failed: %s", (long)pid, strerror(errno));
        return -1;
    }
    double deadline = mq_cli_now_mono_s() + timeout_s;
    for (int i = 0;; i++) {
        if ((*status = read_status(status_path, t0)) != NULL)
            return 0;
        if (i % 10 == 9 && kill(pid, 0) != 0 && errno == ESRCH) {
            /* It may have written the status just before exiting. */
            if ((*status = read_status(status_path, t0)) != NULL)
                return 0;
            mq_set_err(err, errlen, "the host (pid %ld) exited before reporting the %s", (long)pid,
                    what);
            return -1;
        }
        if (mq_cli_now_mono_s() >= deadline) {
            mq_set_err(err, errlen, "no %s status in \"%s\" after %g s", what, status_path, timeout_s);
            return -1;
        }
        mq_cli_sleep_ms(STATUS_POLL_MS);
    }
}
