/*
 * server.c -- the long-lived process: listener, dispatch, the host's own
 * endpoints, the access log, reload on SIGHUP and graceful shutdown.
 *
 * Signals never do work in signal context: libevent turns them into loop
 * events, and a reload only sets a flag that one loop event consumes, so a
 * storm of SIGHUPs coalesces into a few reloads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "backup.h"
#include "backup_job.h"
#include "build_info.h"
#include "cli.h"
#include "host.h"
#include "http_client.h"
#include "log.h"
#include "notify.h"
#include "util.h"

/* ---- small helpers ------------------------------------------------------------ */

const char *mq_method_name(struct evhttp_request *ev)
{
    switch (evhttp_request_get_command(ev)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}


/* ---- access log ---------------------------------------------------------------- */

/* Query keys whose values never reach a log: anything that looks like a
 * credential. Matching is by substring, case-insensitive: over-redacting a
 * harmless key costs nothing, leaking a password costs a rotation. */
static int secret_key(const char *k, size_t n)
{
    static const char *const words[] = {"pass", "token", "secret", "key", "sig", "auth", NULL};
    for (const char *const *w = words; *w; w++) {
        size_t wl = strlen(*w);
        for (size_t i = 0; i + wl <= n; i++)
            if (strncasecmp(k + i, *w, wl) == 0)
                return 1;
    }
    return 0;
}

/* Append bytes of a request target as JSON string content. Bytes that are
 * not printable ASCII (raw UTF-8, controls) are percent-encoded, as they
 * would be on the wire, so every log line stays valid UTF-8 JSON. */
static void log_json_str(struct evbuffer *b, const char *s, size_t n)
{
    const char *run = s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            continue;
        evbuffer_add(b, run, (size_t)(s + i - run));
        if (c == '"' || c == '\\')
            evbuffer_add_printf(b, "\\%c", c);
        else
            evbuffer_add_printf(b, "%%%02X", c);
        run = s + i + 1;
    }
    evbuffer_add(b, run, (size_t)(s + n - run));
}

/* The request target with credential values replaced by REDACTED. */
static void log_uri(struct evbuffer *b, const char *uri)
{
    const char *q = strchr(uri, '?');
    if (!q) {
        log_json_str(b, uri, strlen(uri));
        return;
    }
    log_json_str(b, uri, (size_t)(q + 1 - uri));
    for (const char *p = q + 1; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && secret_key(p, (size_t)(eq - p))) {
            log_json_str(b, p, (size_t)(eq + 1 - p));
            evbuffer_add(b, "REDACTED", 8);
        } else {
            log_json_str(b, p, len);
        }
        p += len;
        if (*p == '&') {
            evbuffer_add(b, "&", 1);
            p++;
        }
    }
}

void mq_access_flush(mq_host *h)
{
    struct evbuffer *b = h->access_buf;
    while (h->access_fd >= 0 && evbuffer_get_length(b) > 0) {
        int n = evbuffer_write(b, h->access_fd);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            mq_log(MQ_L_ERROR, "write access log failed: %s (dropping %zu bytes)",
                   strerror(errno), evbuffer_get_length(b));
            evbuffer_drain(b, evbuffer_get_length(b));
            break;
        }
    }
}

static void access_flush_cb(evutil_socket_t fd, short what, void *arg) { mq_access_flush(arg); }

/* Small appenders for the access log's hot path: printf's format parsing
 * was a visible share of the server's CPU per request. */
static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_uint(char *p, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void mq_access_log(mq_host *h, const mq_req *r, struct evhttp_request *ev, int status,
                   size_t bytes)
{
    if (h->access_fd < 0)
        return;
    struct timespec now, mono;
    clock_gettime(CLOCK_REALTIME, &now);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    /* The date part changes once a second: format it only then. */
    if (now.tv_sec != h->access_ts_sec) {
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        strftime(h->access_ts, sizeof h->access_ts, "%Y-%m-%dT%H:%M:%S", &tm);
        h->access_ts_sec = now.tv_sec;
    }
    long long us = (long long)(mono.tv_sec - r->t0.tv_sec) * 1000000LL +
                   (mono.tv_nsec - r->t0.tv_nsec) / 1000;
    if (us < 0)
        us = 0;
    char head[256];
    char *p = put_str(head, "{\"ts\":\"");
    p = put_str(p, h->access_ts);
    long msec = now.tv_nsec / 1000000;
    *p++ = '.';
    *p++ = (char)('0' + msec / 100);
    *p++ = (char)('0' + msec / 10 % 10);
    *p++ = (char)('0' + msec % 10);
    p = put_str(p, "Z\",\"id\":\"");
    p = put_str(p, r->id);
    p = put_str(p, "\",\"ip\":\"");
    p = put_str(p, r->ip);
    p = put_str(p, "\",\"method\":\"");
    p = put_str(p, mq_method_name(ev));
    p = put_str(p, "\",\"path\":\"");
    struct evbuffer *b = h->access_buf;
    evbuffer_add(b, head, (size_t)(p - head));
    log_uri(b, evhttp_request_get_uri(ev));
    char tail[160];
    p = put_str(tail, "\",\"status\":");
    p = put_uint(p, (unsigned)status);
    p = put_str(p, ",\"bytes\":");
    p = put_uint(p, bytes);
    p = put_str(p, ",\"ms\":");
    p = put_uint(p, (unsigned long long)(us / 1000));
    *p++ = '.';
    *p++ = (char)('0' + us % 1000 / 100);
    *p++ = (char)('0' + us % 100 / 10);
    *p++ = (char)('0' + us % 10);
    p = put_str(p, ",\"gen\":");
    p = put_uint(p, r->gen ? r->gen->id : 0);
    p = put_str(p, "}\n");
    evbuffer_add(b, tail, (size_t)(p - tail));
    if (evbuffer_get_length(b) > 64 * 1024)
        mq_access_flush(h);
}

/* ---- host endpoints ------------------------------------------------------------------ */

static void send_json_obj(mq_req *r, int status, json_object *o)
{
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    mq_req_send(r, status, "application/json", s, len);
    json_object_put(o);
}

static void send_error(mq_req *r, int status, const char *code, const char *message)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "message", json_object_new_string(message));
    send_json_obj(r, status, o);
}

static void handle_version(mq_host *h, mq_req *r)
{
    mq_gen *g = r->gen;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(MQ_VERSION));
    json_object_object_add(o, "commit", json_object_new_string(MQ_COMMIT));
    json_object_object_add(o, "env",
                           json_object_new_string(mq_config_get_or(g->cfg, "APP_ENV", "production")));
    json_object_object_add(o, "time", json_object_new_string(MQ_BUILD_TIME));
    json_object_object_add(o, "release",
                           g->release_id ? json_object_new_string(g->release_id) : NULL);
    json_object_object_add(o, "generation", json_object_new_int64((int64_t)g->id));
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < g->nplugins; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(g->plugins[i]->name));
        json_object_object_add(p, "version", json_object_new_string(g->plugins[i]->version));
        json_object_array_add(arr, p);
    }
    json_object_object_add(o, "plugins", arr);
    send_json_obj(r, 200, o);
}

static void update_process_metrics(mq_host *h)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    mq_metric_set(h->m_rss, NULL, (double)rss * (double)sysconf(_SC_PAGESIZE));
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    mq_metric_set(h->m_fds, NULL, fds);
    mq_metric_set(h->m_inflight, NULL, (double)h->inflight);
    mq_store_coll_stats *st = NULL;
    size_t n = 0;
    if (h->store && mq_store_stats(h->store, &st, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            const char *lv[] = {st[i].name};
            mq_metric_set(h->m_store_records, lv, (double)st[i].records);
        }
        free(st);
    }
}

static void handle_metrics(mq_host *h, mq_req *r)
{
    const char *token = h->metrics_token;
    if (!token || !*token) {
        send_error(r, 403, "metrics_disabled", "METRICS_TOKEN is not configured");
        return;
    }
    const char *auth =
        evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !mq_secure_equal(auth + 7, token)) {
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "WWW-Authenticate",
                          "Bearer realm=\"metrics\"");
        send_error(r, 401, "unauthorized", "a valid bearer token is required");
        return;
    }
    update_process_metrics(h);
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        send_error(r, 500, "internal", "out of memory");
        return;
    }
    mq_registry_render(h->metrics, b);
    size_t n = evbuffer_get_length(b);
    mq_req_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", evbuffer_pullup(b, -1), n);
    evbuffer_free(b);
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* The client's address: the peer, unless the peer is a trusted proxy; then
 * X-Forwarded-For read from the right, skipping our own proxies (anything
 * left of the first untrusted hop could be forged by the client). */
static void set_client_ip(mq_req *r)
{
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (r->conn)
        evhttp_connection_get_peer(r->conn, &addr, &port);
    snprintf(r->ip, sizeof r->ip, "%s", addr ? addr : "-");
    const mq_cidr_list *trusted = &r->gen->proxies;
    if (!trusted->n || !mq_cidr_list_match(trusted, r->ip))
        return;
    const char *xff = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "X-Forwarded-For");
    if (!xff)
        return;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", xff);
    for (;;) {
        char *comma = strrchr(buf, ',');
        char *hop = comma ? comma + 1 : buf;
        while (*hop == ' ' || *hop == '\t')
            hop++;
        hop[strcspn(hop, " \t")] = '\0';
        size_t hl = strlen(hop);
        if (hl >= sizeof r->ip || !mq_ip_valid(hop))
            return; /* garbage: keep the last address we could trust */
        memcpy(r->ip, hop, hl + 1);
        if (!comma || !mq_cidr_list_match(trusted, hop))
            return;
        *comma = '\0';
    }
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    mq_host *h = arg;
    mq_req *r = mq_req_new(h);
    if (!r) {
        evhttp_send_error(ev, 503, "Out of memory");
        return;
    }
    r->ev = ev;
    r->conn = evhttp_request_get_connection(ev);
    r->gen = h->current;
    mq_gen_ref(r->gen);
    h->inflight++;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    /* 16 hex digits: a random per-process prefix and a counter. */
    static const char hex[] = "0123456789abcdef";
    uint64_t idv = ((uint64_t)h->req_prefix << 32) | (++h->req_counter & 0xffffffffULL);
    for (int i = 15; i >= 0; i--, idv >>= 4)
        r->id[i] = hex[idv & 15];
    r->id[16] = '\0';
    set_client_ip(r);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    r->query = uri ? evhttp_uri_get_query(uri) : NULL;
    const char *method = mq_method_name(ev);

    r->in_handler = 1;
    if (strstr(path, "%00") || strstr(path, "%2500")) {
        send_error(r, 400, "bad_request", "the path holds a NUL byte");
    } else if (strcmp(path, "/api/health") == 0) {
        r->route_label = "/api/health";
        mq_req_send(r, 200, "application/json", "{\"ok\":true}", 11);
    } else if (strcmp(path, "/api/version") == 0) {
        r->route_label = "/api/version";
        handle_version(h, r);
    } else if (strcmp(path, "/metrics") == 0) {
        r->route_label = "/metrics";
        handle_metrics(h, r);
    } else {
        int path_matched = 0;
        const mq_route *rt = mq_router_match(&r->gen->router, method, path, r->params,
                                             &r->nparams, &path_matched);
        if (!rt) {
            if (path_matched)
                send_error(r, 405, "method_not_allowed", "this path does not take that method");
            else
                send_error(r, 404, "not_found", "no such page");
        } else {
            r->route = rt;
            r->route_label = rt->pattern;
            rt->fn(r, rt->ud);
            if (r->state == MQ_REQ_HANDLING) {
                mq_log(MQ_L_ERROR, "route %s %s of plugin \"%s\" returned without a response",
                       rt->method, rt->pattern, rt->owner->name);
                send_error(r, 500, "internal", "the handler did not answer");
            }
        }
    }
    r->in_handler = 0;
    if (r->state == MQ_REQ_DONE)
        mq_req_release(r); /* mq_req_finish left the memory to us meanwhile */
}

/* ---- reload ------------------------------------------------------------------------------- */

void mq_write_status_file(const char *path, json_object *o)
{
    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0)
        mq_log(MQ_L_ERROR, "write \"%s\" failed: %s", path, strerror(errno));
}

static void write_reload_status(mq_host *h, int64_t started_ns, int ok, const char *reason,
                                const char *message, int64_t duration_us)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)++h->reload_seq));
    json_object_object_add(o, "started_ns", json_object_new_int64(started_ns));
    json_object_object_add(o, "ok", json_object_new_boolean(ok));
    json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
    json_object_object_add(o, "message", json_object_new_string(message ? message : ""));
    json_object_object_add(o, "generation", json_object_new_int64((int64_t)h->current->id));
    json_object_object_add(o, "release", h->current->release_id
                                             ? json_object_new_string(h->current->release_id)
                                             : NULL);
    json_object_object_add(o, "duration_us", json_object_new_int64(duration_us));
    mq_write_status_file(h->paths.reload_status, o);
    json_object_put(o);
}

/* PAYMENTS_ENABLED as the payments plugin reads it: fail closed, so only an
 * unset key, 1, true, yes or on means enabled (anything else stops payment
 * starts, and ops must hear about it). */
static int payments_enabled(const mq_config *cfg)
{
    const char *v = mq_config_get(cfg, "PAYMENTS_ENABLED");
    return !v || strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
           strcasecmp(v, "on") == 0;
}

static void do_reload(mq_host *h)
{
    int64_t started = realtime_ns();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *reason = "runtime";
    char err[1024] = "";
    int was_enabled = payments_enabled(h->current->cfg);
    mq_gen *g = mq_gen_build(h, &reason, err, sizeof err);
    if (g) {
        mq_gen_activate(h, g);
        mq_backup_schedule(h); /* BACKUP_AT may have changed */
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
    char notice[1400];
    if (g) {
        const char *lv[] = {"ok"};
        mq_metric_add(h->m_reloads, lv, 1);
        mq_log(MQ_L_INFO, "reload: generation %llu serves release \"%s\" (%zu plugins, %lld us)",
               (unsigned long long)g->id, g->release_id ? g->release_id : "-", g->nplugins,
               (long long)us);
        int enabled = payments_enabled(g->cfg);
        if (enabled != was_enabled) {
            snprintf(notice, sizeof notice,
                     enabled ? "결제 킬스위치 OFF: payments enabled again (PAYMENTS_ENABLED=1), "
                               "release %s"
                             : "결제 킬스위치 ON: payments disabled (PAYMENTS_ENABLED=0); pages "
                               "and shares keep working, release %s",
                     g->release_id ? g->release_id : "-");
            mq_notify(h, notice);
        }
    } else {
        const char *lv[] = {"failed"};
        const char *rv[] = {reason};
        mq_metric_add(h->m_reloads, lv, 1);
        mq_metric_add(h->m_reload_failures, rv, 1);
        mq_log(MQ_L_ERROR, "reload refused (%s): %s; generation %llu keeps serving", reason, err,
               (unsigned long long)h->current->id);
        snprintf(notice, sizeof notice,
                 ":warning: reload refused (%s): %s -- release %s (generation %llu) keeps serving",
                 reason, err, h->current->release_id ? h->current->release_id : "-",
                 (unsigned long long)h->current->id);
        mq_notify(h, notice);
    }
    write_reload_status(h, started, g != NULL, g ? "" : reason, g ? "" : err, us);
    struct mq_reload_rec *rec = &h->reload_hist[h->reload_hist_n++ % 20];
    rec->time = time(NULL);
    rec->ok = g != NULL;
    /* Truncation is fine here: the full text went to the log and status file. */
    snprintf(rec->reason, sizeof rec->reason, "%.23s", g ? "" : reason);
    snprintf(rec->message, sizeof rec->message, "%.255s", g ? "" : err);
    rec->generation = h->current->id;
    snprintf(rec->release, sizeof rec->release, "%.79s",
             h->current->release_id ? h->current->release_id : "");
    rec->duration_us = us;
}

char *mq_host_status_json(mq_host *h)
{
    mq_gen *g = h->current;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(MQ_VERSION));
    json_object_object_add(o, "commit", json_object_new_string(MQ_COMMIT));
    json_object_object_add(o, "started_unix", json_object_new_int64(h->started));
    json_object_object_add(o, "uptime_s", json_object_new_int64(time(NULL) - h->started));
    json_object_object_add(o, "release",
                           g->release_id ? json_object_new_string(g->release_id) : NULL);
    json_object_object_add(o, "generation", json_object_new_int64((int64_t)g->id));
    json_object *pl = json_object_new_array();
    for (size_t i = 0; i < g->nplugins; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(g->plugins[i]->name));
        json_object_object_add(p, "version", json_object_new_string(g->plugins[i]->version));
        json_object_array_add(pl, p);
    }
    json_object_object_add(o, "plugins", pl);
    json_object *rl = json_object_new_array();
    unsigned n = h->reload_hist_n < 20 ? h->reload_hist_n : 20;
    for (unsigned i = 0; i < n; i++) {
        const struct mq_reload_rec *r = &h->reload_hist[(h->reload_hist_n - 1 - i) % 20];
        json_object *e = json_object_new_object();
        json_object_object_add(e, "time_unix", json_object_new_int64(r->time));
        json_object_object_add(e, "ok", json_object_new_boolean(r->ok));
        json_object_object_add(e, "reason", json_object_new_string(r->reason));
        json_object_object_add(e, "message", json_object_new_string(r->message));
        json_object_object_add(e, "generation", json_object_new_int64((int64_t)r->generation));
        json_object_object_add(e, "release", json_object_new_string(r->release));
        json_object_object_add(e, "duration_us", json_object_new_int64(r->duration_us));
        json_object_array_add(rl, e);
    }
    json_object_object_add(o, "reloads", rl);
    json_object_object_add(o, "inflight", json_object_new_int64(h->inflight));
    json_object *st = json_object_new_object();
    json_object_object_add(st, "failed", json_object_new_boolean(h->store_failed));
    json_object *cols = json_object_new_array();
    json_object *files = json_object_new_array();
    mq_store_coll_stats *cs = NULL;
    size_t nc = 0;
    if (h->store && mq_store_stats(h->store, &cs, &nc) == 0) {
        for (size_t i = 0; i < nc; i++) {
            json_object *c = json_object_new_object();
            json_object_object_add(c, "name", json_object_new_string(cs[i].name));
            json_object_object_add(c, "records", json_object_new_int64((int64_t)cs[i].records));
            json_object_object_add(c, "keys", json_object_new_int64((int64_t)cs[i].keys));
            json_object_object_add(c, "bytes", json_object_new_int64((int64_t)cs[i].bytes));
            json_object_object_add(c, "corrupt", json_object_new_int64((int64_t)cs[i].corrupt));
            json_object_array_add(cols, c);
            struct stat sb;
            json_object *f = json_object_new_object();
            const char *slash = strrchr(cs[i].path, '/');
            json_object_object_add(f, "name", json_object_new_string(slash ? slash + 1 : cs[i].path));
            json_object_object_add(f, "bytes", json_object_new_int64((int64_t)cs[i].bytes));
            json_object_object_add(f, "mtime_unix", json_object_new_int64(
                                                       stat(cs[i].path, &sb) == 0 ? sb.st_mtime : 0));
            json_object_array_add(files, f);
        }
        free(cs);
    }
    json_object_object_add(st, "collections", cols);
    json_object_object_add(o, "store", st);
    json_object_object_add(o, "data_files", files);
    json_object_object_add(o, "last_backup_unix",
                           json_object_new_int64((int64_t)mq_metric_value(h->m_last_backup, NULL)));
    json_object_object_add(o, "job_running", json_object_new_boolean(mq_backup_job_running(h)));
    char *out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static void reload_cb(evutil_socket_t fd, short what, void *arg) { do_reload(arg); }

static void sighup_cb(evutil_socket_t sig, short what, void *arg)
{
    mq_host *h = arg;
    /* Coalesce: one pending reload event, however many signals arrived. */
    if (!h->stopping && !event_pending(h->reload_ev, EV_TIMEOUT, NULL))
        event_active(h->reload_ev, EV_TIMEOUT, 1);
}

/* ---- shutdown ------------------------------------------------------------------------------- */

static void exit_cb(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopexit(((mq_host *)arg)->base, NULL);
}

static void shutdown_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_host *h = arg;
    mq_log(MQ_L_WARN, "shutdown deadline passed with %ld requests in flight: answering 503",
           h->inflight);
    for (mq_gen *g = h->retired; g; g = g->next_retired)
        mq_gen_force_drain(g, "shutting_down");
    mq_gen_force_drain(h->current, "shutting_down");
    if (h->inflight == 0 && h->unsent == 0) {
        event_base_loopexit(h->base, NULL);
        return;
    }
    /* The 503s are queued: on_reply_sent exits once they are written. A
     * client that stopped reading cannot hold us longer than a second. */
    struct timeval grace = {1, 0};
    event_base_once(h->base, -1, EV_TIMEOUT, exit_cb, h, &grace);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
    mq_host *h = arg;
    if (h->stopping)
        return;
    h->stopping = 1;
    /* Stop accepting; connections already open finish what they started. */
    if (h->bound) {
        evhttp_del_accept_socket(h->http, h->bound);
        h->bound = NULL;
    }
    mq_log(MQ_L_INFO, "%s: stopping, %ld requests in flight", strsignal((int)sig), h->inflight);
    if (h->inflight == 0 && h->unsent == 0) {
        event_base_loopexit(h->base, NULL);
        return;
    }
    /* A reply whose client vanished mid-write never completes: the deadline
     * bounds the wait for those as well as for slow requests. */
    struct timeval tv = {h->shutdown_timeout_ms / 1000, (h->shutdown_timeout_ms % 1000) * 1000};
    h->shutdown_timer = evtimer_new(h->base, shutdown_deadline_cb, h);
    if (h->shutdown_timer)
        evtimer_add(h->shutdown_timer, &tv);
}

/* ---- start-up ------------------------------------------------------------------------------ */

static int register_host_metrics(mq_host *h)
{
    static const char *const route_status[] = {"route", "status", NULL};
    static const char *const result[] = {"result", NULL};
    static const char *const reason[] = {"reason", NULL};
    static const char *const plugin[] = {"name", "version", NULL};
    static const char *const build[] = {"version", "commit", NULL};
    static const char *const coll[] = {"collection", NULL};
    struct {
        mq_metric **slot;
        int type;
        const char *name, *help;
        const char *const *labels;
    } defs[] = {
        {&h->m_requests, MQ_COUNTER, "http_requests_total", "HTTP requests answered, by route pattern and status.", route_status},
        {&h->m_duration, MQ_HISTOGRAM, "http_request_duration_seconds", "Time from request to response, by route pattern and status.", route_status},
        {&h->m_5xx, MQ_COUNTER, "http_5xx_total", "HTTP responses with a 5xx status.", NULL},
        {&h->m_reloads, MQ_COUNTER, "mq_reloads_total", "Reload attempts, by result.", result},
        {&h->m_reload_failures, MQ_COUNTER, "mq_reload_failures_total", "Refused reloads, by reason.", reason},
        {&h->m_generation, MQ_GAUGE, "mq_generation", "Number of the generation now serving.", NULL},
        {&h->m_gens_loaded, MQ_GAUGE, "mq_generations_loaded", "Generations loaded (serving or draining).", NULL},
        {&h->m_drain_forced, MQ_COUNTER, "mq_drain_forced_total", "Requests answered 503 at a drain or shutdown deadline.", NULL},
        {&h->m_plugin_info, MQ_GAUGE, "mq_plugin_info", "Plugins of the serving generation (value 1).", plugin},
        {&h->m_build_info, MQ_GAUGE, "mq_build_info", "The host build (value 1).", build},
        {&h->m_inflight, MQ_GAUGE, "mq_requests_in_flight", "Requests being handled or suspended.", NULL},
        {&h->m_rss, MQ_GAUGE, "process_resident_memory_bytes", "Resident memory size in bytes.", NULL},
        {&h->m_fds, MQ_GAUGE, "process_open_fds", "Number of open file descriptors.", NULL},
        {&h->m_start_time, MQ_GAUGE, "process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", NULL},
        {&h->m_store_corrupt, MQ_COUNTER, "mq_store_corrupt_lines_total", "Corrupt store lines skipped when loading, by collection.", coll},
        {&h->m_store_records, MQ_GAUGE, "mq_store_records", "Valid records in the store, by collection.", coll},
        {&h->m_store_sync_failures, MQ_COUNTER, "mq_store_sync_failures_total", "Failed fdatasync calls of the store (it then refuses durable writes).", NULL},
        {&h->m_last_backup, MQ_GAUGE, "mq_last_backup_timestamp", "Time of the last successful backup (Unix seconds).", NULL},
        {&h->m_backups, MQ_COUNTER, "mq_backups_total", "Backups taken, by result.", result},
        {&h->m_notices, MQ_COUNTER, "mq_notices_total", "Notices posted to SLACK_WEBHOOK_URL, by result.", result},
        {&h->m_restore_checks, MQ_COUNTER, "mq_restore_checks_total", "Restore checks run by the host, by result.", result},
    };
    char err[256];
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++) {
        *defs[i].slot = mq_registry_register(h->metrics, defs[i].type, defs[i].name,
                                             defs[i].help, defs[i].labels, NULL, 0, err, sizeof err);
        if (!*defs[i].slot) {
            mq_log(MQ_L_ERROR, "register metric failed: %s", err);
            return -1;
        }
    }
    const char *bv[] = {MQ_VERSION, MQ_COMMIT};
    mq_metric_set(h->m_build_info, bv, 1);
    mq_metric_set(h->m_start_time, NULL, (double)h->started);
    /* Reasons exist from the start so a rate() has a zero to begin from. */
    static const char *const reasons[] = {"env", "release", "manifest", "missing_file",
                                          "checksum", "dlopen", "symbol", "abi", "init",
                                          "route_conflict", "runtime", NULL};
    for (const char *const *rs = reasons; *rs; rs++) {
        const char *lv[] = {*rs};
        mq_metric_add(h->m_reload_failures, lv, 0);
    }
    mq_metric_add(h->m_5xx, NULL, 0);
    mq_metric_add(h->m_store_sync_failures, NULL, 0);
    mq_metric_add(h->m_drain_forced, NULL, 0); /* exists from the start: increase() sees the first */
    for (int i = 0; i < 2; i++) {
        const char *bv2[] = {i ? "failed" : "ok"};
        mq_metric_add(h->m_backups, bv2, 0);
        mq_metric_add(h->m_notices, bv2, 0);
        mq_metric_add(h->m_restore_checks, bv2, 0);
    }
    mq_metric_set(h->m_last_backup, NULL, 0);
    return 0;
}

/* Take the pid file: one host per pid file (and so per data dir by
 * default). The lock lives as long as the process. */
static int take_pidfile(mq_host *h)
{
    const char *path = h->paths.pid_file;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        mq_log(MQ_L_ERROR, "open \"%s\" failed: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        mq_log(MQ_L_ERROR, "lock \"%s\" failed: another mindquiz (pid %s) is serving with it",
               path, buf[0] ? buf : "?");
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        mq_log(MQ_L_ERROR, "write \"%s\" failed: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    h->pid_fd = fd;
    return 0;
}

static void warn_env_permissions(const char *env_path)
{
    struct stat st;
    if (stat(env_path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        mq_log(MQ_L_WARN,
               "\"%s\" has permissions %03o: it holds secrets, make it 0600 (chmod 600 %s)",
               env_path, (unsigned)(st.st_mode & 0777), env_path);
}

static int open_access_log(mq_host *h, const mq_config *cfg)
{
    char *def = NULL;
    if (asprintf(&def, "%s/logs/access.log", h->paths.data_dir) < 0)
        return -1;
    char *path = mq_config_path(cfg, "ACCESS_LOG", def);
    free(def);
    if (!path)
        return -1;
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        mq_mkdir_p(dir, 0700);
    }
    free(dir);
    h->access_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (h->access_fd < 0)
        mq_log(MQ_L_ERROR, "open \"%s\" failed: %s", path, strerror(errno));
    h->access_path = path;
    return h->access_fd < 0 ? -1 : 0;
}

static int make_runtime_dir(mq_host *h, const mq_config *cfg)
{
    const char *base = mq_config_get_or(cfg, "RUNTIME_DIR", getenv("TMPDIR"));
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/mindquiz-%ld-XXXXXX", base && *base ? base : "/tmp",
             (long)getpid());
    if (!mkdtemp(tmpl)) {
        mq_log(MQ_L_ERROR, "mkdtemp \"%s\" failed: %s", tmpl, strerror(errno));
        return -1;
    }
    h->runtime_dir = strdup(tmpl);
    return h->runtime_dir ? 0 : -1;
}

/* ---- the store ------------------------------------------------------------------------ */

/* One host per data dir: a second one would interleave appends. */
static int lock_data_dir(mq_host *h)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/.lock", h->paths.data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        mq_log(MQ_L_ERROR, "open \"%s\" failed: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        mq_log(MQ_L_ERROR,
               "lock \"%s\" failed: another mindquiz process uses the data dir \"%s\"", path,
               h->paths.data_dir);
        close(fd);
        return -1;
    }
    h->data_lock_fd = fd;
    return 0;
}

static void on_corrupt_line(const char *collection, uint64_t line, void *ud)
{
    mq_host *h = ud;
    const char *lv[] = {collection};
    mq_metric_add(h->m_store_corrupt, lv, 1);
}

static void store_notify_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_host *h = arg;
    int failed = 0;
    h->synced_seq = mq_store_synced(h->store, &failed);
    if (failed && !h->store_failed) {
        h->store_failed = 1;
        mq_metric_add(h->m_store_sync_failures, NULL, 1);
        mq_log(MQ_L_ERROR, "store sync failed: durable writes are refused until a restart; "
                           "check the disk of \"%s\"", h->paths.data_dir);
    }
    mq_req_release_synced(h, h->synced_seq, failed);
}

static int open_store(mq_host *h, const mq_config *cfg)
{
    if (lock_data_dir(h) != 0)
        return -1;
    long max_record = 1 << 20;
    char err[512];
    if (mq_config_get_long(cfg, "STORE_MAX_RECORD_BYTES", 1 << 20, 1024, 64L << 20, &max_record,
                           err, sizeof err) != 0) {
        mq_log(MQ_L_ERROR, "%s", err);
        return -1;
    }
    mq_store_opts opts = {.max_record_bytes = (size_t)max_record,
                          .on_corrupt = on_corrupt_line,
                          .ud = h};
    h->store = mq_store_open(h->paths.data_dir, &opts, err, sizeof err);
    if (!h->store) {
        mq_log(MQ_L_ERROR, "open store \"%s\" failed: %s", h->paths.data_dir, err);
        return -1;
    }
    h->synced_seq = mq_store_synced(h->store, NULL);
    mq_store_coll_stats *cs = NULL;
    size_t nc = 0;
    if (mq_store_stats(h->store, &cs, &nc) == 0) {
        for (size_t i = 0; i < nc; i++) {
            const char *lv[] = {cs[i].name};
            mq_metric_add(h->m_store_corrupt, lv, 0); /* a series per collection from the start */
        }
        free(cs);
    }
    h->store_notify_ev = event_new(h->base, mq_store_notify_fd(h->store), EV_READ | EV_PERSIST,
                                   store_notify_cb, h);
    if (!h->store_notify_ev || event_add(h->store_notify_ev, NULL) != 0)
        return -1;
    h->backup_root = mq_config_path(cfg, "BACKUP_DIR", "backups");
    if (asprintf(&h->backup_status, "%s.backup.json", h->paths.pid_file) < 0)
        h->backup_status = NULL;
    return h->backup_root && h->backup_status ? 0 : -1;
}

static void ratelimit_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_host *h = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    mq_ratelimit_sweep(h->ratelimit, (double)now.tv_sec + now.tv_nsec / 1e9);
}

/* The signals the host handles. Blocked from before the pid file exists
 * until their handlers are installed, and again from the start of cleanup,
 * so `mindquiz reload` or `backup` aimed at a host that is still starting
 * (or stopping) waits or is dropped instead of killing it. */
static void block_host_signals(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(how, &set, NULL);
}

static void host_cleanup(mq_host *h)
{
    block_host_signals(SIG_BLOCK);
    mq_backup_jobs_cleanup(h);
    mq_http_cleanup(h); /* before the generations: transfers hold references */
    mq_req_drop_waiting(h);
    if (h->http)
        evhttp_free(h->http); /* closes every connection */
    while (h->retired) {
        mq_gen *g = h->retired;
        h->retired = g->next_retired;
        mq_gen_destroy(g);
    }
    if (h->current)
        mq_gen_destroy(h->current);
    h->current = NULL;
    if (h->access_buf) {
        mq_access_flush(h);
        evbuffer_free(h->access_buf);
    }
    if (h->access_fd >= 0)
        close(h->access_fd);
    struct event *evs[] = {h->sig_hup, h->sig_term, h->sig_int, h->reload_ev,
                           h->shutdown_timer, h->access_flush_ev};
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
        if (evs[i])
            event_free(evs[i]);
    if (h->runtime_dir) {
        rmdir(h->runtime_dir);
        free(h->runtime_dir);
    }
    if (h->pid_fd >= 0) {
        unlink(h->paths.pid_file);
        close(h->pid_fd);
    }
    if (h->store_notify_ev)
        event_free(h->store_notify_ev);
    mq_store_close(h->store); /* a final sync */
    if (h->data_lock_fd >= 0)
        close(h->data_lock_fd);
    free(h->backup_root);
    free(h->backup_status);
    free(h->access_path);
    if (h->ratelimit_sweep_ev)
        event_free(h->ratelimit_sweep_ev);
    mq_ratelimit_free(h->ratelimit);
    mq_req_pool_free(h);
    mq_registry_free(h->metrics);
    if (h->base)
        event_base_free(h->base);
    mq_paths_cleanup(&h->paths);
    free(h->env_path);
}

int mq_cmd_serve(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    if (argc > 1) {
        fprintf(stderr, "usage: mindquiz serve [--env PATH]\n");
        return 2;
    }
    mq_host host = {.pid_fd = -1,
                    .access_fd = -1,
                    .data_lock_fd = -1,
                    .backup_efd = -1,
                    .started = time(NULL)};
    mq_host *h = &host;
    int rc = 1;
    signal(SIGPIPE, SIG_IGN);
    block_host_signals(SIG_BLOCK);
    if (!(h->env_path = strdup(env_path)) || mq_paths_init(&h->paths, cfg) != 0)
        goto out;
    warn_env_permissions(env_path);
    if (mq_mkdir_p(h->paths.data_dir, 0700) != 0) {
        mq_log(MQ_L_ERROR, "mkdir \"%s\" failed: %s", h->paths.data_dir, strerror(errno));
        goto out;
    }
    if (take_pidfile(h) != 0 || make_runtime_dir(h, cfg) != 0)
        goto out;
    RAND_bytes((unsigned char *)&h->req_prefix, sizeof h->req_prefix);

    struct event_config *ecfg = event_config_new();
    if (ecfg) {
        /* Changelist batching saves an epoll_ctl per request, single thread. */
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST | EVENT_BASE_FLAG_NOLOCK);
        h->base = event_base_new_with_config(ecfg);
        event_config_free(ecfg);
    }
    if (!h->base || !(h->metrics = mq_registry_new()) || register_host_metrics(h) != 0 ||
        !(h->access_buf = evbuffer_new()) || mq_http_init(h) != 0 ||
        !(h->ratelimit = mq_ratelimit_new()) ||
        !(h->ratelimit_sweep_ev = event_new(h->base, -1, EV_PERSIST, ratelimit_sweep_cb, h)))
        goto out;
    struct timeval sweep_tv = {60, 0};
    event_add(h->ratelimit_sweep_ev, &sweep_tv);
    if (open_access_log(h, cfg) != 0)
        goto out;
    /* Writes to a file past RLIMIT_FSIZE must fail (EFBIG), not kill us. */
    signal(SIGXFSZ, SIG_IGN);

    /* The store opens before the first generation: plugins may read it in
     * init (coupons rebuild their holds from it). */
    if (open_store(h, cfg) != 0)
        goto out;

    const char *reason = NULL;
    char err[1024];
    mq_gen *g = mq_gen_build(h, &reason, err, sizeof err);
    if (!g) {
        mq_log(MQ_L_ERROR, "start refused (%s): %s", reason, err);
        goto out;
    }
    if (!(h->http = evhttp_new(h->base))) {
        mq_gen_destroy(g);
        goto out;
    }
    mq_gen_activate(h, g);
    if (mq_backup_jobs_init(h) != 0)
        goto out;
    const char *lv[] = {"ok"};
    mq_metric_add(h->m_reloads, lv, 0);

    long timeout_s = 30;
    mq_config_get_long(g->cfg, "REQUEST_TIMEOUT_S", 30, 1, 3600, &timeout_s, err, sizeof err);
    evhttp_set_timeout(h->http, (int)timeout_s);
    evhttp_set_max_headers_size(h->http, 32 * 1024);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(h->http, "application/octet-stream");
    evhttp_set_gencb(h->http, on_request, h);

    char addr[256];
    unsigned short port;
    if (mq_listen_split(h->paths.listen, addr, sizeof addr, &port) != 0) {
        mq_log(MQ_L_ERROR, "LISTEN=\"%s\" is not host:port", h->paths.listen);
        goto out;
    }
    h->bound = evhttp_bind_socket_with_handle(h->http, addr, port);
    if (!h->bound) {
        mq_log(MQ_L_ERROR, "listen on \"%s\" failed: %s", h->paths.listen, strerror(errno));
        goto out;
    }

    h->sig_hup = evsignal_new(h->base, SIGHUP, sighup_cb, h);
    h->sig_term = evsignal_new(h->base, SIGTERM, sigterm_cb, h);
    h->sig_int = evsignal_new(h->base, SIGINT, sigterm_cb, h);
    h->reload_ev = event_new(h->base, -1, 0, reload_cb, h);
    h->access_flush_ev = event_new(h->base, -1, EV_PERSIST, access_flush_cb, h);
    if (!h->sig_hup || !h->sig_term || !h->sig_int || !h->reload_ev || !h->access_flush_ev)
        goto out;
    evsignal_add(h->sig_hup, NULL);
    evsignal_add(h->sig_term, NULL);
    evsignal_add(h->sig_int, NULL);
    struct timeval flush_tv = {0, 250000};
    event_add(h->access_flush_ev, &flush_tv);
    if (!h->metrics_token || !*h->metrics_token)
        mq_log(MQ_L_WARN, "METRICS_TOKEN is not set: /metrics answers 403 until it is "
                          "(set it in \"%s\" and run mindquiz reload)", env_path);
    block_host_signals(SIG_UNBLOCK); /* signals sent meanwhile are handled now */

    mq_log(MQ_L_INFO, "listening on http://%s (release \"%s\", generation %llu, %zu plugins)",
           h->paths.listen, g->release_id ? g->release_id : "-", (unsigned long long)g->id,
           g->nplugins);
    event_base_dispatch(h->base);
    mq_log(MQ_L_INFO, "stopped");
    rc = 0;
out:
    host_cleanup(h);
    return rc;
}
