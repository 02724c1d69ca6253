/*
 * backup_job.c -- backups taken by the running host: at BACKUP_AT every day
 * (default 04:10 local time), on SIGUSR1 (`mindquiz backup` while a host
 * serves), and on request from a plugin.
 *
 * The cut is taken on the loop thread (mq_store_snapshot: file lengths at
 * one instant, plus the revenue summary at the same instant); the copying,
 * hashing and rotation run on a thread, so serving never waits for the disk.
 * The thread reports through an eventfd. One job at a time; a request that
 * arrives meanwhile runs right after, so the CLI's "started after I asked"
 * handshake always holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <json-c/json.h>

#include "backup.h"
#include "backup_job.h"
#include "host.h"
#include "log.h"
#include "notify.h"

struct mq_backup_job {
    mq_host *h;
    int check;                /* a restore check of check_dir, not a backup */
    char check_dir[PATH_MAX];
    pthread_t thread;
    mq_store_snap_file *snap;
    size_t nsnap;
    char *summary;
    int keep;
    int64_t started_ns;
    struct timespec t0;
    int rc;
    char name[64];
    char err[512];
};

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long keep_from_config(const mq_config *cfg)
{
    long keep = 14;
    char err[128];
    if (mq_config_get_long(cfg, "BACKUP_KEEP", 14, 1, 3650, &keep, err, sizeof err) != 0) {
        mq_log(MQ_L_WARN, "%s; keeping 14 backups", err);
        keep = 14;
    }
    return keep;
}

/* ---- access log rotation ---------------------------------------------------- */

/* Rename the access log aside and reopen it; keep `keep` rotated files. */
static void rotate_access_log(mq_host *h, int keep)
{
    if (!h->access_path || h->access_fd < 0)
        return;
    mq_access_flush(h);
    char stamp[32], rotated[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    /* Never over an earlier rotation of the same second: two backups in one
     * second would otherwise lose the first file's lines. */
    int rc = -1;
    for (int n = 1; n < 100 && rc != 0; n++) {
        if (n == 1)
            snprintf(rotated, sizeof rotated, "%s.%s", h->access_path, stamp);
        else
            snprintf(rotated, sizeof rotated, "%s.%s-%d", h->access_path, stamp, n);
        rc = renameat2(AT_FDCWD, h->access_path, AT_FDCWD, rotated, RENAME_NOREPLACE);
        if (rc != 0 && errno != EEXIST)
            break;
    }
    if (rc != 0) {
        mq_log(MQ_L_ERROR, "rotate \"%s\" failed: %s", h->access_path, strerror(errno));
        return;
    }
    int fd = open(h->access_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        mq_log(MQ_L_ERROR, "open \"%s\" failed: %s", h->access_path, strerror(errno));
        return; /* keep writing to the renamed file rather than nowhere */
    }
    close(h->access_fd);
    h->access_fd = fd;
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof pattern, "%s.*", h->access_path);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0) {
        /* glob sorts; the stamps sort by time: the oldest come first. */
        for (size_t i = 0; i + (size_t)keep < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
}

/* ---- the job -------------------------------------------------------------------- */

static void *job_main(void *arg)
{
    mq_backup_job *j = arg;
    if (j->check)
        j->rc = mq_backup_restore_check(j->check_dir, j->err, sizeof j->err);
    else
        j->rc = mq_backup_create(j->h->backup_root, j->snap, j->nsnap, j->summary, j->keep,
                                 j->name, sizeof j->name, j->err, sizeof j->err);
    uint64_t one = 1;
    if (write(j->h->backup_efd, &one, sizeof one) != sizeof one)
        mq_log(MQ_L_ERROR, "backup: notify the loop failed: %s", strerror(errno));
    return NULL;
}

static void write_status(mq_host *h, const mq_backup_job *j, int64_t duration_us)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)++h->backup_seq));
    json_object_object_add(o, "started_ns", json_object_new_int64(j->started_ns));
    json_object_object_add(o, "ok", json_object_new_boolean(j->rc == 0));
    json_object_object_add(o, "name", json_object_new_string(j->rc == 0 ? j->name : ""));
    json_object_object_add(o, "message", json_object_new_string(j->rc == 0 ? "" : j->err));
    json_object_object_add(o, "duration_us", json_object_new_int64(duration_us));
    mq_write_status_file(h->backup_status, o);
    json_object_put(o);
}

static void job_free(mq_backup_job *j)
{
    mq_store_snap_free(j->snap, j->nsnap);
    free(j->summary);
    free(j);
}

int mq_backup_start(mq_host *h, const char *why)
{
    if (h->backup_job) {
        h->backup_again = 1;
        return 0;
    }
    mq_backup_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->h = h;
    j->started_ns = realtime_ns();
    clock_gettime(CLOCK_MONOTONIC, &j->t0);
    j->keep = (int)keep_from_config(h->current->cfg);
    /* The cut: file lengths and the revenue summary at this one instant. */
    if (mq_store_snapshot(h->store, &j->snap, &j->nsnap) != 0 ||
        !(j->summary = mq_backup_revenue_json(h->store))) {
        j->rc = -1;
        snprintf(j->err, sizeof j->err, "snapshot of the store failed: out of memory");
        write_status(h, j, 0);
        job_free(j);
        return -1;
    }
    rotate_access_log(h, j->keep);
    mq_log(MQ_L_INFO, "backup started (%s)", why);
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        j->rc = -1;
        snprintf(j->err, sizeof j->err, "start backup thread failed: %s", strerror(errno));
        mq_log(MQ_L_ERROR, "%s", j->err);
        write_status(h, j, 0);
        job_free(j);
        return -1;
    }
    h->backup_job = j;
    return 0;
}

static void backup_done_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_host *h = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        mq_log(MQ_L_ERROR, "backup: read notification failed: %s", strerror(errno));
    mq_backup_job *j = h->backup_job;
    if (!j)
        return;
    pthread_join(j->thread, NULL);
    h->backup_job = NULL;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (t1.tv_sec - j->t0.tv_sec) * 1000000LL + (t1.tv_nsec - j->t0.tv_nsec) / 1000;
    const char *lv[] = {j->rc == 0 ? "ok" : "failed"};
    if (j->check) {
        mq_metric_add(h->m_restore_checks, lv, 1);
        if (j->rc == 0) {
            mq_log(MQ_L_INFO, "restore-check of backup %s: OK (%lld ms)", j->name,
                   (long long)(us / 1000));
        } else {
            mq_log(MQ_L_ERROR, "restore-check of backup %s failed: %s", j->name, j->err);
            char notice[800];
            snprintf(notice, sizeof notice,
                     ":rotating_light: restore-check FAILED (백업 복원 점검 실패): %s: %s", j->name,
                     j->err);
            mq_notify(h, notice);
        }
        job_free(j);
        return;
    }
    mq_metric_add(h->m_backups, lv, 1);
    if (j->rc == 0) {
        mq_metric_set(h->m_last_backup, NULL, (double)time(NULL));
        mq_log(MQ_L_INFO, "backup %s written to \"%s\" in %lld ms", j->name, h->backup_root,
               (long long)(us / 1000));
    } else {
        mq_log(MQ_L_ERROR, "backup failed: %s", j->err);
        char notice[700];
        snprintf(notice, sizeof notice, ":rotating_light: backup failed (백업 실패): %s", j->err);
        mq_notify(h, notice);
    }
    write_status(h, j, us);
    job_free(j);
    if (h->backup_again && !h->stopping) {
        h->backup_again = 0;
        mq_backup_start(h, "requested while the previous one ran");
    }
}

int mq_restore_check_start(mq_host *h, const char *name)
{
    if (!name || !mq_backup_name_valid(name))
        return MQ_EINVAL;
    if (h->backup_job)
        return MQ_ESTATE; /* one backup or check at a time */
    mq_backup_job *j = calloc(1, sizeof *j);
    if (!j)
        return MQ_ENOMEM;
    j->h = h;
    j->check = 1;
    j->started_ns = realtime_ns();
    clock_gettime(CLOCK_MONOTONIC, &j->t0);
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->check_dir, sizeof j->check_dir, "%s/%s", h->backup_root, name);
    if (access(j->check_dir, F_OK) != 0) {
        free(j);
        return MQ_ENOENT;
    }
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        free(j);
        return MQ_ENOMEM;
    }
    mq_log(MQ_L_INFO, "restore-check of backup %s started", name);
    h->backup_job = j;
    return MQ_OK;
}

int mq_backup_job_running(mq_host *h) { return h->backup_job != NULL; }

/* ---- schedule -------------------------------------------------------------------- */

static void backup_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_host *h = arg;
    mq_backup_start(h, "daily schedule");
    mq_backup_schedule(h);
}

void mq_backup_schedule(mq_host *h)
{
    const char *at = mq_config_get_or(h->current->cfg, "BACKUP_AT", "04:10");
    if (h->backup_timer)
        evtimer_del(h->backup_timer);
    if (strcmp(at, "off") == 0)
        return;
    int hh, mm;
    char extra;
    if (sscanf(at, "%d:%d%c", &hh, &mm, &extra) != 2 || hh < 0 || hh > 23 || mm < 0 ||
        mm > 59) {
        mq_log(MQ_L_ERROR, "BACKUP_AT=\"%s\" is not HH:MM; using 04:10", at);
        hh = 4;
        mm = 10;
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t next = mktime(&tm);
    if (next <= now) {
        tm.tm_mday++; /* mktime normalizes the date and DST */
        tm.tm_isdst = -1;
        next = mktime(&tm);
    }
    if (!h->backup_timer && !(h->backup_timer = evtimer_new(h->base, backup_timer_cb, h)))
        return;
    struct timeval tv = {next - now, 0};
    evtimer_add(h->backup_timer, &tv);
}

static void sigusr1_cb(evutil_socket_t sig, short what, void *arg)
{
    mq_host *h = arg;
    if (!h->stopping)
        mq_backup_start(h, "SIGUSR1");
}

int mq_backup_jobs_init(mq_host *h)
{
    h->backup_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->backup_efd < 0)
        return -1;
    h->backup_done_ev = event_new(h->base, h->backup_efd, EV_READ | EV_PERSIST, backup_done_cb, h);
    h->sig_usr1 = evsignal_new(h->base, SIGUSR1, sigusr1_cb, h);
    if (!h->backup_done_ev || !h->sig_usr1)
        return -1;
    event_add(h->backup_done_ev, NULL);
    evsignal_add(h->sig_usr1, NULL);
    /* The age alert must not fire after a restart: start from the newest. */
    mq_backup_info *list = NULL;
    size_t n = 0;
    if (mq_backup_list(h->backup_root, &list, &n) == 0 && n > 0)
        mq_metric_set(h->m_last_backup, NULL, (double)list[0].created_unix);
    free(list);
    mq_backup_schedule(h);
    return 0;
}

void mq_backup_jobs_cleanup(mq_host *h)
{
    if (h->backup_job) {
        /* Let a running copy finish: a half-made backup is never visible,
         * but joining keeps the store's files open until it is done. */
        pthread_join(h->backup_job->thread, NULL);
        job_free(h->backup_job);
        h->backup_job = NULL;
    }
    struct event *evs[] = {h->backup_timer, h->backup_done_ev, h->sig_usr1};
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
        if (evs[i])
            event_free(evs[i]);
    if (h->backup_efd >= 0)
        close(h->backup_efd);
}
