/*
 * cli_backup.c -- `mindquiz backup` (the runbook's `npm run ops:daily`) and
 * `mindquiz restore-check` (`npm run restore:check`).
 *
 *   backup [--timeout SECONDS]
 *       With a host running (PID_FILE names a live mindquiz): ask it to take
 *       the backup, since only it may read its store consistently, and wait
 *       for its report. Without one: take the store's lock (DATA_DIR/.lock,
 *       the one the host holds while it runs), open the store, and take the
 *       backup in this process. Either way the backup lands in BACKUP_DIR
 *       (default "backups" beside the .env) and the oldest beyond
 *       BACKUP_KEEP (default 14) are deleted.
 *   restore-check [BACKUP]
 *       Restore BACKUP (a name in BACKUP_DIR or a path; default the newest)
 *       into a temp dir, verify and replay it (mq_backup_restore_check), and
 *       print a report. On failure, and when there is no backup at all,
 *       post an alert to SLACK_WEBHOOK_URL when one is configured.
 *
 * Exit status: 0 success (restore-check: OK); 1 failure (restore-check:
 * FAILED, no backup, or the backup was not found); 64 usage error.
 *
 * The host side of the backup handshake (see cli_util.h): on SIGUSR1 the
 * host takes a backup (one at a time; a request during a running backup
 * causes another after it) and then atomically replaces
 * PID_FILE.backup.json with {"seq", "started_ns" (CLOCK_REALTIME of the
 * backup's start), "ok", "name", "message", "duration_us"}.
 *
 * SLACK_WEBHOOK_URL is a secret: it is never printed or logged.
 */
#include "cli.h"

#include "backup.h"
#include "cli_util.h"
#include "log.h"
#include "paths.h"
#include "store.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 64
#define DEFAULT_BACKUP_TIMEOUT_S 600.0
#define SLACK_TIMEOUT_S 10L
#define BACKUP_STATUS_SUFFIX ".backup.json"
#define DATA_LOCK_NAME ".lock"

static void say_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* 1234567 -> "1,234,567" (for KRW). */
static void group_digits(int64_t v, char *out, size_t n)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    const char *d = digits;
    size_t o = 0;
    if (*d == '-' && o + 1 < n)
        out[o++] = *d++;
    size_t len = strlen(d);
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = d[i];
    }
    out[o] = '\0';
}

/* BACKUP_DIR as an absolute path (malloc'd) or NULL on ENOMEM. */
static char *backup_root(const mq_config *cfg)
{
    return mq_config_path(cfg, "BACKUP_DIR", "backups");
}

/* "backup <name> written to <path> (<n> files, <bytes> bytes)" */
static int print_written(const char *root, const char *name, const char *how)
{
    char dir[PATH_MAX], err[1024];
    if (snprintf(dir, sizeof dir, "%s/%s", root, name) >= (int)sizeof dir) {
        say_err("backup \"%s\" failed: path too long", name);
        return 1;
    }
    mq_backup_manifest *m = mq_backup_manifest_read(dir, err, sizeof err);
    if (!m) {
        say_err("backup \"%s\" failed: it was written, but %s", name, err);
        return 1;
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < m->nfiles; i++)
        bytes += m->files[i].bytes;
    printf("backup %s written to %s (%zu files, %" PRIu64 " bytes)%s\n", name, dir, m->nfiles,
           bytes, how);
    mq_backup_manifest_free(m);
    return 0;
}

/* ==== backup ====================================================================== */

static int backup_via_host(const mq_paths *p, pid_t pid, const char *root, double timeout)
{
    char status_path[PATH_MAX], why[1024];
    if (snprintf(status_path, sizeof status_path, "%s%s", p->pid_file, BACKUP_STATUS_SUFFIX) >=
        (int)sizeof status_path) {
        say_err("backup failed: \"%s\" is too long a path", p->pid_file);
        return 1;
    }
    json_object *st = NULL;
    if (mq_cli_handshake(pid, SIGUSR1, status_path, "backup", timeout, &st, why, sizeof why) != 0) {
        say_err("backup \"pid %ld\" failed: %s", (long)pid, why);
        return 1;
    }
    json_object *v;
    int ok = json_object_object_get_ex(st, "ok", &v) && json_object_get_boolean(v);
    char name[64], message[1024], how[64];
    mq_cli_json_str(st, "name", name, sizeof name);
    mq_cli_json_str(st, "message", message, sizeof message);
    json_object_put(st);
    if (!ok) {
        say_err("backup failed: the host (pid %ld) reported: %s", (long)pid,
                message[0] ? message : "no reason given");
        return 1;
    }
    if (!mq_backup_name_valid(name)) {
        say_err("backup failed: the host (pid %ld) reported success but no valid name (\"%s\")",
                (long)pid, name);
        return 1;
    }
    snprintf(how, sizeof how, " by the running host (pid %ld)", (long)pid);
    return print_written(root, name, how);
}

/* Take DATA_DIR/.lock like the host does. Returns the fd holding it, or -1
 * after printing why. */
static int lock_data_dir(const mq_paths *p)
{
    char path[PATH_MAX];
    struct stat st;
    if (stat(p->data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        say_err("backup failed: data dir \"%s\" %s (check DATA_DIR)", p->data_dir,
                errno == ENOENT ? "does not exist" : "is not a directory");
        return -1;
    }
    if (snprintf(path, sizeof path, "%s/%s", p->data_dir, DATA_LOCK_NAME) >= (int)sizeof path) {
        say_err("backup failed: \"%s\" is too long a path", p->data_dir);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        say_err("backup failed: open \"%s\" failed: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            say_err("backup failed: lock \"%s\" failed: another process holds it (a host "
                    "without its pid file \"%s\", or another backup); let it finish, or "
                    "stop it and try again",
                    path, p->pid_file);
        else
            say_err("backup failed: lock \"%s\" failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int backup_in_process(const mq_paths *p, const char *root, int keep)
{
    int lockfd = lock_data_dir(p);
    if (lockfd < 0)
        return 1;
    int status = 1;
    char err[1024], name[64];
    mq_store_snap_file *snap = NULL;
    size_t nsnap = 0;
    char *summary = NULL;
    mq_store_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.no_sync_thread = 1;
    mq_store *s = mq_store_open(p->data_dir, &opts, err, sizeof err);
    if (!s) {
        say_err("backup failed: open store \"%s\" failed: %s", p->data_dir, err);
        goto out;
    }
    if (mq_store_snapshot(s, &snap, &nsnap) != 0 || !(summary = mq_backup_revenue_json(s))) {
        say_err("backup failed: snapshot of \"%s\" failed", p->data_dir);
        goto out;
    }
    if (mq_backup_create(root, snap, nsnap, summary, keep, name, sizeof name, err, sizeof err) !=
        0) {
        say_err("backup failed: %s", err);
        goto out;
    }
    status = print_written(root, name, "");
out:
    mq_store_snap_free(snap, nsnap);
    free(summary);
    mq_store_close(s);
    close(lockfd);
    return status;
}

static void backup_usage(FILE *f)
{
    fprintf(f, "usage: mindquiz backup [--timeout SECONDS]\n"
               "  Back up the store into BACKUP_DIR (default \"backups\") and keep the\n"
               "  newest BACKUP_KEEP (default 14). A running host takes it itself.\n");
}

static void alert_slack(const char *url, const char *what, const char *detail);

int mq_cmd_backup(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    (void)env_path;
    double timeout = DEFAULT_BACKUP_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            backup_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--timeout") == 0)
            v = i + 1 < argc ? argv[++i] : "";
        else if (strncmp(a, "--timeout=", 10) == 0)
            v = a + 10;
        if (v) {
            char *end;
            errno = 0;
            timeout = strtod(v, &end);
            if (errno || end == v || *end || !(timeout > 0) || timeout > 86400) {
                say_err("backup failed: --timeout needs a number of seconds in (0, 86400]");
                return EXIT_USAGE;
            }
            continue;
        }
        say_err("backup failed: unexpected argument \"%s\"", a);
        backup_usage(stderr);
        return EXIT_USAGE;
    }

    char err[256];
    long keep = 0;
    if (mq_config_get_long(cfg, "BACKUP_KEEP", 14, 1, 3650, &keep, err, sizeof err) != 0) {
        say_err("backup failed: %s", err);
        return 1;
    }
    mq_paths paths;
    char *root = backup_root(cfg);
    if (!root || mq_paths_init(&paths, cfg) != 0) {
        free(root);
        say_err("backup failed: out of memory");
        return 1;
    }
    int status = 1;
    pid_t pid = 0;
    char why[1024];
    int hs = mq_cli_find_host(&paths, &pid, why, sizeof why);
    if (hs == MQ_HOST_ERROR)
        say_err("backup failed: %s", why);
    else if (hs == MQ_HOST_RUNNING)
        status = backup_via_host(&paths, pid, root, timeout);
    else
        status = backup_in_process(&paths, root, (int)keep);
    /* A backup the running host took failed: the host has posted it. One
     * taken here failing is ours to report. */
    const char *webhook = mq_config_get(cfg, "SLACK_WEBHOOK_URL");
    if (status != 0 && hs != MQ_HOST_RUNNING && webhook && *webhook)
        alert_slack(webhook, "backup FAILED (백업 실패)",
                    "mindquiz backup could not write a backup; see its output on the server");
    mq_paths_cleanup(&paths);
    free(root);
    return status;
}

/* ==== restore-check ================================================================== */

/* Discard the webhook's answer body. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

/* Post a failure to a Slack incoming webhook: ":rotating_light: MindQuiz
 * <what> on <host>: <detail>". The URL is a secret: only libcurl's generic
 * error text or the HTTP status is ever printed. */
static void alert_slack(const char *url, const char *what, const char *detail)
{
    char host[256] = "?", *text = NULL;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    if (asprintf(&text, ":rotating_light: MindQuiz %s on %s: %s", what, host, detail) < 0)
        text = NULL;
    json_object *o = text ? json_object_new_object() : NULL;
    const char *body = NULL;
    if (o) {
        json_object_object_add(o, "text", json_object_new_string(text));
        body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
    }
    if (!body) {
        say_err("alert to Slack failed: out of memory");
        json_object_put(o);
        free(text);
        return;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        say_err("alert to Slack failed: curl_global_init failed");
        json_object_put(o);
        free(text);
        return;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (!c || !hdr) {
        say_err("alert to Slack failed: out of memory");
    } else {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(c, CURLOPT_TIMEOUT, SLACK_TIMEOUT_S);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK)
            say_err("alert to Slack failed: %s", curl_easy_strerror(rc));
        else if (code < 200 || code > 299)
            say_err("alert to Slack failed: HTTP %ld", code);
        else
            printf("alert sent to Slack\n");
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    json_object_put(o);
    free(text);
}

/* The readable report of what the backup holds (as its manifest says; the
 * check has compared every number with the restored copy). */
static void print_report(const char *name, const char *dir)
{
    char err[1024];
    printf("restore-check %s (%s)\n", name, dir);
    mq_backup_manifest *m = mq_backup_manifest_read(dir, err, sizeof err);
    if (!m)
        return; /* the failure line says why */
    uint64_t records = 0, bytes = 0;
    printf("  created  %s by mindquiz %s (commit %s)\n", m->created, m->host_version,
           m->host_commit);
    printf("  files    %zu\n", m->nfiles);
    for (size_t i = 0; i < m->nfiles; i++) {
        const mq_backup_file *f = &m->files[i];
        printf("    %-24s %10" PRIu64 " records %10" PRIu64 " keys %12" PRIu64 " bytes\n", f->file,
               f->records, f->keys, f->bytes);
        records += f->records;
        bytes += f->bytes;
    }
    printf("  records  %" PRIu64 " (%" PRIu64 " bytes)\n", records, bytes);
    printf("  revenue ");
    for (size_t i = 0; i < m->nrevenue; i++) {
        char krw[40];
        group_digits(m->revenue[i].n, krw, sizeof krw);
        printf("%s %s %s KRW", i ? ";" : "", m->revenue[i].name, krw);
    }
    printf("%s\n", m->nrevenue ? "" : " none");
    printf("  orders  ");
    for (size_t i = 0; i < m->nstatus; i++)
        printf("%s %s %" PRId64, i ? "," : "", m->by_status[i].name, m->by_status[i].n);
    printf("%s\n", m->nstatus ? "" : " none");
    mq_backup_manifest_free(m);
}

/* Which backup: a path (has a '/'), a name in root, or a directory. */
static char *resolve_backup(const char *root, const char *arg)
{
    struct stat st;
    char p[PATH_MAX];
    if (!strchr(arg, '/') && strcmp(arg, ".") != 0 && strcmp(arg, "..") != 0 &&
        snprintf(p, sizeof p, "%s/%s", root, arg) < (int)sizeof p && stat(p, &st) == 0 &&
        S_ISDIR(st.st_mode))
        return strdup(p);
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
        return realpath(arg, NULL);
    return NULL;
}

static void restore_check_usage(FILE *f)
{
    fprintf(f, "usage: mindquiz restore-check [BACKUP]\n"
               "  Restore BACKUP (a name in BACKUP_DIR or a path; default the newest) into a\n"
               "  temp dir, verify it and compare it with its manifest. Alerts\n"
               "  SLACK_WEBHOOK_URL on failure.\n");
}

int mq_cmd_restore_check(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    (void)env_path;
    const char *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            restore_check_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' || arg) {
            say_err("restore-check failed: unexpected argument \"%s\"", argv[i]);
            restore_check_usage(stderr);
            return EXIT_USAGE;
        }
        arg = argv[i];
    }
    /* The report says what the loader's info lines would (one per restored
     * store); its warnings (corrupt lines) still show. */
    mq_log_set_level(MQ_L_WARN);
    char *root = backup_root(cfg);
    if (!root) {
        say_err("restore-check failed: out of memory");
        return 1;
    }
    const char *webhook = mq_config_get_or(cfg, "SLACK_WEBHOOK_URL", NULL);
    char reason[1024] = "", label[PATH_MAX];
    char *dir = arg ? resolve_backup(root, arg) : mq_backup_latest(root);
    int status = 1;
    if (!dir) {
        if (arg)
            snprintf(reason, sizeof reason, "no backup \"%s\" in \"%s\"", arg, root);
        else
            snprintf(reason, sizeof reason, "there is no backup in \"%s\"", root);
        snprintf(label, sizeof label, "%s", arg ? arg : root);
        say_err("restore-check failed: %s", reason);
    } else {
        const char *slash = strrchr(dir, '/');
        snprintf(label, sizeof label, "%s", slash ? slash + 1 : dir);
        int rc = mq_backup_restore_check(dir, reason, sizeof reason);
        print_report(label, dir);
        if (rc == 0) {
            printf("result   OK: sizes, sha256, record counts, keys and revenue match the "
                   "manifest\n");
            status = 0;
        } else {
            printf("result   FAILED\n");
            fflush(stdout);
            say_err("restore-check \"%s\" failed: %s", label, reason);
        }
    }
    fflush(stdout);
    if (status != 0 && webhook) {
        char *detail = NULL;
        if (asprintf(&detail, "%s: %s", label, reason) < 0)
            detail = NULL;
        alert_slack(webhook, "restore-check FAILED (백업 복원 점검 실패)", detail ? detail : reason);
        free(detail);
    }
    free(dir);
    free(root);
    return status;
}
