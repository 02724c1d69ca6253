/*
 * api.c -- the host function table handed to plugins (api/mq_plugin.h).
 *
 * Every entry point checks the state it is called in: registration only
 * during init, responses only once, timers not on a finalizing generation.
 * Plugins get clear status codes rather than undefined behaviour.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "backup.h"
#include "backup_job.h"
#include "host.h"
#include "http_client.h"
#include "log.h"

/* ---- basics ---------------------------------------------------------------- */

static const char *api_strerror(int status)
{
    switch (status) {
    case MQ_OK: return "success";
    case MQ_ENOMEM: return "out of memory";
    case MQ_EINVAL: return "invalid argument";
    case MQ_EEXIST: return "already registered";
    case MQ_ENOENT: return "not found";
    case MQ_EIO: return "input/output error";
    case MQ_EABI: return "ABI version mismatch";
    case MQ_ESTATE: return "not allowed in this state";
    case MQ_EGONE: return "the client went away";
    case MQ_ETOOBIG: return "too large";
    case MQ_ETIMEDOUT: return "timed out";
    default: return "unknown error";
    }
}

static void api_log(mq_plugin *self, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mq_logv(level, self && self->name ? self->name : "plugin", fmt, ap);
    va_end(ap);
}

static const char *api_config_get(mq_plugin *self, const char *key)
{
    return self && key ? mq_config_get(self->gen->cfg, key) : NULL;
}

static const char *api_release_path(mq_plugin *self)
{
    return self && self->gen->release_path ? self->gen->release_path : "";
}

/* ---- routes ------------------------------------------------------------------- */

static int is_host_path(const char *pattern)
{
    return strcmp(pattern, "/api/health") == 0 || strcmp(pattern, "/api/version") == 0 ||
           strcmp(pattern, "/metrics") == 0;
}

static int api_route_add(mq_plugin *self, const char *method, const char *pattern,
                         mq_handler_fn fn, void *ud)
{
    if (!self || !self->gen->building)
        return MQ_ESTATE;
    mq_gen *g = self->gen;
    const mq_route *clash = NULL;
    int rc = pattern && is_host_path(pattern)
                 ? MQ_EEXIST
                 : mq_router_add(&g->router, method, pattern, fn, ud, self, &clash);
    if (rc == MQ_EEXIST && !g->conflict[0]) {
        snprintf(g->conflict, sizeof g->conflict,
                 "route %s %s of plugin \"%s\" clashes with %s%s%s", method, pattern,
                 self->name, clash ? "plugin \"" : "the host's own route",
                 clash ? clash->owner->name : "", clash ? "\"" : "");
    }
    if (rc != MQ_OK)
        mq_log(MQ_L_ERROR, "%s: route_add %s \"%s\" failed: %s", self->name,
               method ? method : "?", pattern ? pattern : "?", api_strerror(rc));
    return rc;
}

/* ---- request access ---------------------------------------------------------------- */

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decode n bytes into request memory. NULL when the result would
 * hold a NUL byte (never a valid path or parameter for us) or on ENOMEM. */
static char *pct_decode(mq_req *r, const char *s, size_t n)
{
    char *out = mq_req_alloc(r, n);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n &&
            (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            char c = (char)(hi * 16 + lo);
            if (c == '\0')
                return NULL;
            out[j++] = c;
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static const char *api_req_method(mq_req *r) { return r && r->ev ? mq_method_name(r->ev) : ""; }

static const char *api_req_path(mq_req *r)
{
    if (!r || !r->ev)
        return NULL;
    if (!r->path) {
        const char *raw = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(r->ev));
        raw = raw ? raw : "/";
        r->path = pct_decode(r, raw, strlen(raw));
    }
    return r->path;
}

static const char *api_req_param(mq_req *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return pct_decode(r, r->params[i].raw, r->params[i].len);
    return NULL;
}

static const char *api_req_query(mq_req *r, const char *name)
{
    if (!r || !name || !r->query)
        return NULL;
    if (!r->qargs) {
        r->qargs = calloc(1, sizeof *r->qargs);
        if (!r->qargs)
            return NULL;
        TAILQ_INIT(r->qargs);
        /* A malformed query leaves the list empty: every lookup misses. */
        if (evhttp_parse_query_str(r->query, r->qargs) != 0)
            evhttp_clear_headers(r->qargs);
    }
    return evhttp_find_header(r->qargs, name);
}

static const char *api_req_header(mq_req *r, const char *name)
{
    if (!r || !r->ev || !name)
        return NULL;
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

static const char *api_req_cookie(mq_req *r, const char *name)
{
    const char *hdr = api_req_header(r, "Cookie");
    if (!hdr || !name)
        return NULL;
    size_t nl = strlen(name);
    /* Cookie: a=1; b=2 -- return a request-owned copy of the value. */
    for (const char *p = hdr; *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > nl && p[nl] == '=' && memcmp(p, name, nl) == 0) {
            char *v = mq_req_alloc(r, len - nl - 1);
            if (v)
                memcpy(v, p + nl + 1, len - nl - 1);
            return v;
        }
        p += len;
    }
    return NULL;
}

static const void *api_req_body(mq_req *r, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !r->ev)
        return NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    size_t n = evbuffer_get_length(in);
    if (len)
        *len = n;
    return n ? (const void *)evbuffer_pullup(in, -1) : (const void *)"";
}

static const char *api_req_client_ip(mq_req *r) { return r ? r->ip : NULL; }
static const char *api_req_id(mq_req *r) { return r ? r->id : NULL; }

/* ---- responses -------------------------------------------------------------------- */

static int api_resp_header(mq_req *r, const char *name, const char *value)
{
    if (!r || r->state == MQ_REQ_DONE || !name || !value)
        return MQ_EINVAL;
    if (r->gone)
        return MQ_EGONE;
    /* evhttp refuses CR/LF in values, which keeps header injection out. */
    return evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value) == 0
               ? MQ_OK
               : MQ_EINVAL;
}

static int api_resp_send(mq_req *r, int status, const char *content_type, const void *body,
                         size_t len)
{
    return mq_req_send(r, status, content_type, body, len);
}

static void json_escape(struct evbuffer *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            evbuffer_add_printf(b, "\\%c", c);
        else if (c < 0x20)
            evbuffer_add_printf(b, "\\u%04x", c);
        else
            evbuffer_add(b, s, 1);
    }
}

static int api_resp_error(mq_req *r, int status, const char *code, const char *message)
{
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return MQ_ENOMEM;
    evbuffer_add_printf(b, "{\"code\":\"");
    json_escape(b, code ? code : "error");
    evbuffer_add_printf(b, "\",\"message\":\"");
    json_escape(b, message ? message : "");
    evbuffer_add_printf(b, "\"}");
    size_t n = evbuffer_get_length(b);
    int rc = mq_req_send(r, status, "application/json", evbuffer_pullup(b, -1), n);
    evbuffer_free(b);
    return rc;
}

static int api_req_suspend(mq_req *r)
{
    if (!r || r->state != MQ_REQ_HANDLING)
        return MQ_ESTATE;
    r->state = MQ_REQ_SUSPENDED;
    mq_gen *g = r->gen;
    r->prev = NULL;
    r->next = g->suspended;
    if (g->suspended)
        g->suspended->prev = r;
    g->suspended = r;
    mq_req_watch_peer(r);
    return MQ_OK;
}

static void *api_req_alloc(mq_req *r, size_t n) { return r ? mq_req_alloc(r, n) : NULL; }

/* ---- timers -------------------------------------------------------------------------- */

static void timer_unlink(mq_timer *t)
{
    mq_gen *g = t->owner->gen;
    if (t->prev)
        t->prev->next = t->next;
    else
        g->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static void timer_release(mq_timer *t)
{
    timer_unlink(t);
    event_free(t->ev);
    free(t);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_timer *t = arg;
    mq_gen *g = t->owner->gen;
    mq_gen_ref(g); /* the code we call into stays mapped until we return */
    t->firing = 1;
    t->fn(t->ud);
    t->firing = 0;
    if (!t->repeat || t->stopped) {
        timer_release(t);
    } else if (!g->finalizing) {
        struct timeval tv = {(time_t)(t->repeat_ms / 1000),
                             (suseconds_t)((t->repeat_ms % 1000) * 1000)};
        event_add(t->ev, &tv);
    }
    mq_gen_unref(g);
}

static mq_timer *api_timer_start(mq_plugin *self, uint64_t delay_ms, uint64_t repeat_ms,
                                 mq_timer_fn fn, void *ud)
{
    if (!self || !fn || self->gen->finalizing)
        return NULL;
    mq_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->owner = self;
    t->fn = fn;
    t->ud = ud;
    t->repeat = repeat_ms > 0;
    t->ev = event_new(self->gen->host->base, -1, 0, timer_cb, t);
    if (!t->ev) {
        free(t);
        return NULL;
    }
    t->repeat_ms = repeat_ms;
    mq_gen *g = self->gen;
    t->next = g->timers;
    if (g->timers)
        g->timers->prev = t;
    g->timers = t;
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)((delay_ms % 1000) * 1000)};
    event_add(t->ev, &tv);
    return t;
}

static void api_timer_stop(mq_timer *t)
{
    if (!t)
        return;
    if (t->firing) {
        t->stopped = 1; /* released when its callback returns */
        return;
    }
    timer_release(t);
}

/* ---- metrics ------------------------------------------------------------------------- */

static mq_metric *api_metric_register(mq_plugin *self, int type, const char *name,
                                      const char *help, const char *const *labels,
                                      const double *buckets, size_t nbuckets)
{
    if (!self)
        return NULL;
    char err[256];
    mq_metric *m = mq_registry_register(self->gen->host->metrics, type, name, help, labels,
                                        buckets, nbuckets, err, sizeof err);
    if (!m)
        mq_log(MQ_L_ERROR, "%s: metric_register failed: %s", self->name, err);
    return m;
}

/* ---- services and events ---------------------------------------------------------------- */

static int api_service_publish(mq_plugin *self, const char *name, uint32_t version,
                               const void *vtable, void *ud)
{
    if (!self || !self->gen->building)
        return MQ_ESTATE;
    if (!name || !*name || !vtable)
        return MQ_EINVAL;
    mq_gen *g = self->gen;
    for (size_t i = 0; i < g->nservices; i++)
        if (strcmp(g->services[i].name, name) == 0)
            return MQ_EEXIST;
    mq_service *s = realloc(g->services, (g->nservices + 1) * sizeof *s);
    if (!s)
        return MQ_ENOMEM;
    g->services = s;
    char *n = strdup(name);
    if (!n)
        return MQ_ENOMEM;
    g->services[g->nservices++] = (mq_service){n, version, vtable, ud, self};
    return MQ_OK;
}

static const void *api_service_lookup(mq_plugin *self, const char *name, uint32_t min_version,
                                      void **ud)
{
    if (!self || !name)
        return NULL;
    mq_gen *g = self->gen;
    for (size_t i = 0; i < g->nservices; i++) {
        mq_service *s = &g->services[i];
        if (strcmp(s->name, name) == 0 && s->version >= min_version) {
            if (ud)
                *ud = s->ud;
            return s->vtable;
        }
    }
    return NULL;
}

static int api_event_subscribe(mq_plugin *self, const char *event, mq_event_fn fn, void *ud)
{
    if (!self || !self->gen->building)
        return MQ_ESTATE;
    if (!event || !*event || !fn)
        return MQ_EINVAL;
    mq_gen *g = self->gen;
    mq_subscription *s = realloc(g->subs, (g->nsubs + 1) * sizeof *s);
    if (!s)
        return MQ_ENOMEM;
    g->subs = s;
    char *e = strdup(event);
    if (!e)
        return MQ_ENOMEM;
    g->subs[g->nsubs++] = (mq_subscription){e, fn, ud, self};
    return MQ_OK;
}

static int api_event_publish(mq_plugin *self, const char *event, const char *payload,
                             size_t len)
{
    if (!self || !event)
        return MQ_EINVAL;
    mq_gen *g = self->gen;
    int called = 0;
    mq_gen_ref(g);
    for (size_t i = 0; i < g->nsubs; i++) {
        if (strcmp(g->subs[i].event, event) == 0) {
            g->subs[i].fn(event, payload ? payload : "", payload ? len : 0, g->subs[i].ud);
            called++;
        }
    }
    mq_gen_unref(g);
    return called;
}

/* ---- store ------------------------------------------------------------------------------------ */

static int api_store_append(mq_plugin *self, mq_req *req, const char *collection,
                            const char *key, const char *json, size_t len, int flags)
{
    if (!self || !collection || !json)
        return MQ_EINVAL;
    mq_host *h = self->gen->host;
    int durable = (flags & MQ_STORE_DURABLE) != 0;
    if (!h->store || (durable && h->store_failed))
        return MQ_EIO;
    if (req && (req->state == MQ_REQ_DONE || req->state == MQ_REQ_SYNCWAIT))
        return MQ_ESTATE; /* its answer is already out: nothing can wait */
    uint64_t seq = 0;
    int rc = mq_store_append(h->store, collection, key ? key : "", json, len, durable, &seq);
    if (rc == MQ_OK && req && seq > req->need_seq)
        req->need_seq = seq;
    return rc;
}

static char *api_store_get(mq_plugin *self, const char *collection, const char *key,
                           size_t *len)
{
    if (len)
        *len = 0;
    if (!self || !collection || !key || !self->gen->host->store)
        return NULL;
    size_t n = 0;
    char *rec = mq_store_get(self->gen->host->store, collection, key, &n);
    if (len)
        *len = n;
    return rec;
}

static int api_store_scan(mq_plugin *self, const char *collection, int flags, mq_scan_fn fn,
                          void *ud)
{
    if (!self || !collection || !fn)
        return MQ_EINVAL;
    if (!self->gen->host->store)
        return MQ_EIO;
    return mq_store_scan(self->gen->host->store, collection, (flags & MQ_SCAN_LATEST) != 0, fn,
                         ud);
}

static char *api_backups_json(mq_plugin *self)
{
    if (!self)
        return NULL;
    mq_backup_info *list = NULL;
    size_t n = 0;
    json_object *arr = json_object_new_array();
    if (mq_backup_list(self->gen->host->backup_root, &list, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_new_string(list[i].name));
            json_object_object_add(o, "created_unix", json_object_new_int64(list[i].created_unix));
            json_object_object_add(o, "bytes", json_object_new_int64((int64_t)list[i].bytes));
            json_object_object_add(o, "check", json_object_new_string(list[i].check));
            json_object_object_add(o, "check_message",
                                   json_object_new_string(list[i].check_message));
            json_object_array_add(arr, o);
        }
    }
    free(list);
    char *text = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return text;
}

/* ---- outbound HTTP and crypto ---------------------------------------------------------------- */

static int api_http_request(mq_plugin *self, const mq_http_request *rq, mq_http_fn fn, void *ud)
{
    if (!self || self->gen->finalizing)
        return MQ_EINVAL;
    return mq_http_start(self->gen->host, self, rq, fn, ud);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int api_hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
                               char out[65])
{
    unsigned char mac[SHA256_DIGEST_LENGTH];
    unsigned int maclen = 0;
    if (!key || !out || (!data && len) ||
        !HMAC(EVP_sha256(), key, (int)keylen, data ? data : (const void *)"", len, mac, &maclen))
        return MQ_EINVAL;
    to_hex(mac, maclen, out);
    return MQ_OK;
}

int mq_secure_equal(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    /* Compare digests: the work does not depend on where the strings
     * differ, nor (beyond hashing) on their lengths. */
    unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)a, strlen(a), da);
    SHA256((const unsigned char *)b, strlen(b), db);
    return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

static int api_random_hex(char *out, size_t nbytes)
{
    unsigned char buf[256];
    if (!out || nbytes == 0 || nbytes > sizeof buf || RAND_bytes(buf, (int)nbytes) != 1)
        return MQ_EINVAL;
    to_hex(buf, nbytes, out);
    return MQ_OK;
}

static int api_rate_check(mq_plugin *self, const char *bucket, const char *key,
                          double per_minute, double burst, int *retry_after_s)
{
    if (!self)
        return 1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return mq_ratelimit_take(self->gen->host->ratelimit, bucket, key, per_minute, burst,
                             (double)now.tv_sec + now.tv_nsec / 1e9, retry_after_s);
}

/* ---- operations ------------------------------------------------------------------------------- */

static char *api_host_status_json(mq_plugin *self)
{
    return self ? mq_host_status_json(self->gen->host) : NULL;
}

static int api_backup_now(mq_plugin *self)
{
    if (!self)
        return MQ_EINVAL;
    return mq_backup_start(self->gen->host, "asked by a plugin") == 0 ? MQ_OK : MQ_ENOMEM;
}

static int api_restore_check_now(mq_plugin *self, const char *name)
{
    return self ? mq_restore_check_start(self->gen->host, name) : MQ_EINVAL;
}

static int api_ip_in_cidrs(mq_plugin *self, const char *cidrs, const char *ip)
{
    mq_cidr_list l;
    char err[160];
    if (mq_cidr_list_parse(cidrs, &l, err, sizeof err) != 0)
        return MQ_EINVAL;
    int in = mq_cidr_list_match(&l, ip);
    mq_cidr_list_free(&l);
    return in;
}

/* ---- the table ------------------------------------------------------------------------------ */

const mq_api mq_host_api = {
    .abi_major = MQ_ABI_MAJOR,
    .abi_minor = MQ_ABI_MINOR,
    .size = sizeof(mq_api),
    .strerror = api_strerror,
    .log = api_log,
    .config_get = api_config_get,
    .release_path = api_release_path,
    .route_add = api_route_add,
    .req_method = api_req_method,
    .req_path = api_req_path,
    .req_param = api_req_param,
    .req_query = api_req_query,
    .req_header = api_req_header,
    .req_cookie = api_req_cookie,
    .req_body = api_req_body,
    .req_client_ip = api_req_client_ip,
    .req_id = api_req_id,
    .resp_header = api_resp_header,
    .resp_send = api_resp_send,
    .resp_error = api_resp_error,
    .req_suspend = api_req_suspend,
    .req_alloc = api_req_alloc,
    .timer_start = api_timer_start,
    .timer_stop = api_timer_stop,
    .metric_register = api_metric_register,
    .metric_add = mq_metric_add,
    .metric_set = mq_metric_set,
    .metric_observe = mq_metric_observe,
    .service_publish = api_service_publish,
    .service_lookup = api_service_lookup,
    .event_subscribe = api_event_subscribe,
    .event_publish = api_event_publish,
    .store_append = api_store_append,
    .store_get = api_store_get,
    .store_scan = api_store_scan,
    .backups_json = api_backups_json,
    .http_request = api_http_request,
    .hmac_sha256_hex = api_hmac_sha256_hex,
    .secure_equal = mq_secure_equal,
    .random_hex = api_random_hex,
    .rate_check = api_rate_check,
    .host_status_json = api_host_status_json,
    .backup_now = api_backup_now,
    .restore_check_now = api_restore_check_now,
    .ip_in_cidrs = api_ip_in_cidrs,
};
