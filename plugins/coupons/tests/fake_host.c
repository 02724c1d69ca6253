/*
 * fake_host.c -- see fake_host.h.
 */
#include "fake_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

fake_env fake;

static char fake_plugin_tag;
mq_plugin *fake_self(void)
{
    return (mq_plugin *)&fake_plugin_tag;
}

/* ---- basics ------------------------------------------------------------------------ */

static const char *f_strerror(int s)
{
    switch (s) {
    case MQ_OK: return "success";
    case MQ_ENOMEM: return "out of memory";
    case MQ_EINVAL: return "invalid argument";
    case MQ_EEXIST: return "already registered";
    case MQ_ENOENT: return "not found";
    case MQ_EIO: return "input/output error";
    case MQ_ESTATE: return "not allowed in this state";
    case MQ_ETOOBIG: return "value too large";
    default: return "unknown error";
    }
}

static void f_log(mq_plugin *self, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (getenv("FAKE_VERBOSE"))
        fprintf(stderr, "[log %d] %s\n", level, line);
    if (fake.nlogs < sizeof fake.logs / sizeof fake.logs[0])
        fake.logs[fake.nlogs++] = strdup(line);
}

static const char *f_config_get(mq_plugin *self, const char *key)
{
    for (size_t i = 0; i < 32 && fake.config[i][0]; i++)
        if (strcmp(fake.config[i][0], key) == 0)
            return fake.config[i][1];
    return NULL;
}

void fake_set_config(const char *key, const char *value)
{
    size_t i = 0;
    while (i < 31 && fake.config[i][0] && strcmp(fake.config[i][0], key) != 0)
        i++;
    fake.config[i][0] = key;
    fake.config[i][1] = value;
}

static const char *f_release_path(mq_plugin *self)
{
    return fake.release_path;
}

static int f_route_add(mq_plugin *self, const char *method, const char *pattern, mq_handler_fn fn,
                       void *ud)
{
    if (fake.nroutes == 16)
        return MQ_ENOMEM;
    for (size_t i = 0; i < fake.nroutes; i++)
        if (!strcmp(fake.routes[i].method, method) && !strcmp(fake.routes[i].pattern, pattern))
            return MQ_EEXIST;
    snprintf(fake.routes[fake.nroutes].method, 8, "%s", method);
    snprintf(fake.routes[fake.nroutes].pattern, 64, "%s", pattern);
    fake.routes[fake.nroutes].fn = fn;
    fake.routes[fake.nroutes].ud = ud;
    fake.nroutes++;
    return MQ_OK;
}

/* ---- requests ------------------------------------------------------------------------ */

static const char *pair_get(const char *(*pairs)[2], size_t n, const char *name, int nocase)
{
    for (size_t i = 0; i < n && pairs[i][0]; i++)
        if (nocase ? strcasecmp(pairs[i][0], name) == 0 : strcmp(pairs[i][0], name) == 0)
            return pairs[i][1];
    return NULL;
}

static void pair_set(const char *(*pairs)[2], size_t n, const char *name, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        if (!pairs[i][0] || strcmp(pairs[i][0], name) == 0) {
            pairs[i][0] = name;
            pairs[i][1] = value;
            return;
        }
    }
}

static const char *f_req_method(mq_req *r)
{
    return r->method;
}
static const char *f_req_path(mq_req *r)
{
    return r->path;
}
static const char *f_req_param(mq_req *r, const char *n)
{
    return pair_get(r->params, 4, n, 0);
}
static const char *f_req_query(mq_req *r, const char *n)
{
    return pair_get(r->query, 8, n, 0);
}
static const char *f_req_header(mq_req *r, const char *n)
{
    return pair_get(r->headers, 8, n, 1);
}

/* Cookie: a=1; b=2 -- the value of `name`, a copy that lives as long as
 * the request (the host returns a request-owned copy too). */
static const char *f_req_cookie(mq_req *r, const char *name)
{
    const char *h = f_req_header(r, "Cookie");
    size_t nl = strlen(name);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            if (r->nscratch == 8)
                return NULL;
            return r->scratch[r->nscratch++] = strndup(p + nl + 1, len - nl - 1);
        }
        p = end ? end + 1 : p + len;
    }
    return NULL;
}

static const void *f_req_body(mq_req *r, size_t *len)
{
    if (len)
        *len = 0;
    return NULL;
}
static const char *f_req_client_ip(mq_req *r)
{
    return "203.0.113.7";
}
static const char *f_req_id(mq_req *r)
{
    return "req-1";
}

static int f_resp_header(mq_req *r, const char *name, const char *value)
{
    if (r->answered)
        return MQ_EINVAL;
    for (size_t i = 0; i < 16; i++) {
        if (!r->resp_headers[i][0]) {
            r->resp_headers[i][0] = strdup(name);
            r->resp_headers[i][1] = strdup(value);
            r->nresp_headers++;
            return MQ_OK;
        }
    }
    return MQ_ENOMEM;
}

const char *fake_resp_header(const mq_req *r, const char *name, int n)
{
    for (size_t i = 0; i < 16; i++)
        if (r->resp_headers[i][0] && strcasecmp(r->resp_headers[i][0], name) == 0 && n-- == 0)
            return r->resp_headers[i][1];
    return NULL;
}

static int f_resp_send(mq_req *r, int status, const char *ct, const void *body, size_t len)
{
    r->answered++;
    r->status = status;
    free(r->body);
    r->body = body ? strndup(body, len) : strdup("");
    return MQ_OK;
}

static int f_resp_error(mq_req *r, int status, const char *code, const char *message)
{
    char b[512];
    snprintf(b, sizeof b, "{\"code\":\"%s\",\"message\":\"%s\"}", code, message);
    return f_resp_send(r, status, "application/json", b, strlen(b));
}

static int f_req_suspend(mq_req *r)
{
    return MQ_OK;
}
static void *f_req_alloc(mq_req *r, size_t n)
{
    return NULL;
}

mq_req *fake_req_new(const char *method, const char *path)
{
    mq_req *r = calloc(1, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    return r;
}

void fake_req_query(mq_req *r, const char *n, const char *v)
{
    pair_set(r->query, 8, n, v);
}
void fake_req_param(mq_req *r, const char *n, const char *v)
{
    pair_set(r->params, 4, n, v);
}
void fake_req_header(mq_req *r, const char *n, const char *v)
{
    pair_set(r->headers, 8, n, v);
}

void fake_req_free(mq_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < 16; i++) {
        free(r->resp_headers[i][0]);
        free(r->resp_headers[i][1]);
    }
    for (size_t i = 0; i < r->nscratch; i++)
        free(r->scratch[i]);
    free(r->body);
    free(r);
}

void fake_dispatch(const char *method, const char *pattern, mq_req *r)
{
    for (size_t i = 0; i < fake.nroutes; i++) {
        if (!strcmp(fake.routes[i].method, method) && !strcmp(fake.routes[i].pattern, pattern)) {
            fake.routes[i].fn(r, fake.routes[i].ud);
            return;
        }
    }
    fprintf(stderr, "fake_dispatch: no route %s %s\n", method, pattern);
    abort();
}

/* ---- timers ---------------------------------------------------------------------------- */

static mq_timer *f_timer_start(mq_plugin *self, uint64_t delay, uint64_t repeat, mq_timer_fn fn,
                               void *ud)
{
    for (size_t i = 0; i < 64; i++) {
        if (!fake.timers[i].active) {
            fake.timers[i] = (struct mq_timer){delay, repeat, fn, ud, 1};
            if (i >= fake.ntimers)
                fake.ntimers = i + 1;
            return &fake.timers[i];
        }
    }
    return NULL;
}

static void f_timer_stop(mq_timer *t)
{
    if (t)
        t->active = 0;
}

int fake_fire_timers(void)
{
    int n = 0;
    size_t count = fake.ntimers;
    for (size_t i = 0; i < count; i++) {
        struct mq_timer *t = &fake.timers[i];
        if (!t->active)
            continue;
        if (!t->repeat_ms)
            t->active = 0;
        t->fn(t->ud);
        n++;
    }
    return n;
}

size_t fake_timers_active(void)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.ntimers; i++)
        n += fake.timers[i].active != 0;
    return n;
}

/* ---- metrics ---------------------------------------------------------------------------- */

struct mq_metric {
    char name[64];
    int type;
    size_t nlabels;
};
static struct mq_metric fake_metrics_fams[32];
static size_t fake_nfams;

static mq_metric *f_metric_register(mq_plugin *self, int type, const char *name, const char *help,
                                    const char *const *labels, const double *b, size_t nb)
{
    for (size_t i = 0; i < fake_nfams; i++)
        if (!strcmp(fake_metrics_fams[i].name, name))
            return fake_metrics_fams[i].type == type ? &fake_metrics_fams[i] : NULL;
    if (fake_nfams == 32)
        return NULL;
    struct mq_metric *m = &fake_metrics_fams[fake_nfams++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->type = type;
    m->nlabels = 0;
    while (labels && labels[m->nlabels])
        m->nlabels++;
    return m;
}

static double *series_slot(mq_metric *m, const char *const *values)
{
    char series[160] = "";
    size_t off = 0;
    for (size_t i = 0; i < m->nlabels; i++)
        off += (size_t)snprintf(series + off, sizeof series - off, "%s%s", i ? "," : "", values[i]);
    for (size_t i = 0; i < fake.nmetrics; i++)
        if (!strcmp(fake.metrics[i].name, m->name) && !strcmp(fake.metrics[i].series, series))
            return &fake.metrics[i].value;
    if (fake.nmetrics == 128)
        return NULL;
    size_t i = fake.nmetrics++;
    snprintf(fake.metrics[i].name, sizeof fake.metrics[i].name, "%s", m->name);
    snprintf(fake.metrics[i].series, sizeof fake.metrics[i].series, "%s", series);
    fake.metrics[i].value = 0;
    return &fake.metrics[i].value;
}

static void f_metric_add(mq_metric *m, const char *const *values, double d)
{
    if (!m || (m->type == MQ_COUNTER && d < 0))
        return;
    double *v = series_slot(m, values);
    if (v)
        *v += d;
}

static void f_metric_set(mq_metric *m, const char *const *values, double x)
{
    if (!m || m->type != MQ_GAUGE)
        return;
    double *v = series_slot(m, values);
    if (v)
        *v = x;
}

static void f_metric_observe(mq_metric *m, const char *const *values, double x) {}

double fake_metric(const char *name, const char *labels)
{
    for (size_t i = 0; i < fake.nmetrics; i++)
        if (!strcmp(fake.metrics[i].name, name) && !strcmp(fake.metrics[i].series, labels))
            return fake.metrics[i].value;
    return 0;
}

int fake_metric_exists(const char *name, const char *labels)
{
    for (size_t i = 0; i < fake.nmetrics; i++)
        if (!strcmp(fake.metrics[i].name, name) && !strcmp(fake.metrics[i].series, labels))
            return 1;
    return 0;
}

/* ---- services and events ------------------------------------------------------------------ */

static int f_service_publish(mq_plugin *self, const char *name, uint32_t version,
                             const void *vtable, void *ud)
{
    for (size_t i = 0; i < fake.nservices; i++)
        if (!strcmp(fake.services[i].name, name))
            return MQ_EEXIST;
    if (fake.nservices == 8)
        return MQ_ENOMEM;
    size_t i = fake.nservices++;
    snprintf(fake.services[i].name, sizeof fake.services[i].name, "%s", name);
    fake.services[i].version = version;
    fake.services[i].vtable = vtable;
    fake.services[i].ud = ud;
    return MQ_OK;
}

static const void *f_service_lookup(mq_plugin *self, const char *name, uint32_t min, void **ud)
{
    for (size_t i = 0; i < fake.nservices; i++) {
        if (!strcmp(fake.services[i].name, name) && fake.services[i].version >= min) {
            if (ud)
                *ud = fake.services[i].ud;
            return fake.services[i].vtable;
        }
    }
    return NULL;
}

const void *fake_service(const char *name, uint32_t version, void **ud)
{
    return f_service_lookup(fake_self(), name, version, ud);
}

static int f_event_subscribe(mq_plugin *self, const char *event, mq_event_fn fn, void *ud)
{
    if (fake.nsubs == 16)
        return MQ_ENOMEM;
    snprintf(fake.subs[fake.nsubs].event, 64, "%s", event);
    fake.subs[fake.nsubs].fn = fn;
    fake.subs[fake.nsubs].ud = ud;
    fake.nsubs++;
    return MQ_OK;
}

int fake_publish(const char *event, const char *payload)
{
    int n = 0;
    for (size_t i = 0; i < fake.nsubs; i++) {
        if (!strcmp(fake.subs[i].event, event)) {
            fake.subs[i].fn(event, payload, strlen(payload), fake.subs[i].ud);
            n++;
        }
    }
    return n;
}

static int f_event_publish(mq_plugin *self, const char *event, const char *payload, size_t len)
{
    return fake_publish(event, payload ? payload : "");
}

/* ---- store ------------------------------------------------------------------------------------
 */

static void latest_key(char *out, size_t cap, const char *coll, const char *key)
{
    snprintf(out, cap, "%s/%s", coll, key);
}

static void store_add(const char *coll, const char *key, char *json, int flags)
{
    if (fake.nrecords == fake.caprecords) {
        fake.caprecords = fake.caprecords ? fake.caprecords * 2 : 256;
        fake.records = realloc(fake.records, fake.caprecords * sizeof *fake.records);
    }
    fake_record *r = &fake.records[fake.nrecords++];
    snprintf(r->coll, sizeof r->coll, "%s", coll);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->json = json;
    r->flags = flags;
    if (!fake.latest)
        fake.latest = json_object_new_object();
    char k[300];
    latest_key(k, sizeof k, coll, key);
    json_object_object_add(fake.latest, k, json_object_new_int((int)fake.nrecords - 1));
}

static int f_store_append(mq_plugin *self, mq_req *req, const char *coll, const char *key,
                          const char *json, size_t len, int flags)
{
    if (fake.fail_append_after > 0 && --fake.fail_append_after == 0)
        fake.fail_appends = 1000000;
    if (fake.fail_appends > 0) {
        fake.fail_appends--;
        return MQ_EIO;
    }
    json_object *j = json_tokener_parse(json);
    if (!j || !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return MQ_EINVAL;
    }
    /* As the host does: "k", "ts" and "v" when the writer left them out. */
    if (!json_object_object_get_ex(j, "k", NULL))
        json_object_object_add(j, "k", json_object_new_string(key ? key : ""));
    if (!json_object_object_get_ex(j, "ts", NULL))
        json_object_object_add(j, "ts", json_object_new_int64(fake.now_ms));
    if (!json_object_object_get_ex(j, "v", NULL))
        json_object_object_add(j, "v", json_object_new_int(1));
    store_add(coll, key ? key : "",
              strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)), flags);
    json_object_put(j);
    if (req && (flags & MQ_STORE_DURABLE))
        req->durable_appends++;
    return MQ_OK;
}

void fake_store_put(const char *coll, const char *key, const char *json)
{
    f_store_append(fake_self(), NULL, coll, key, json, strlen(json), MQ_STORE_DURABLE);
}

const char *fake_store_latest(const char *coll, const char *key)
{
    char k[300];
    json_object *v = NULL;
    latest_key(k, sizeof k, coll, key);
    if (!fake.latest || !json_object_object_get_ex(fake.latest, k, &v))
        return NULL;
    return fake.records[json_object_get_int(v)].json;
}

static char *f_store_get(mq_plugin *self, const char *coll, const char *key, size_t *len)
{
    const char *j = fake_store_latest(coll, key);
    if (len)
        *len = j ? strlen(j) : 0;
    return j ? strdup(j) : NULL;
}

static int f_store_scan(mq_plugin *self, const char *coll, int flags, mq_scan_fn fn, void *ud)
{
    int any = 0;
    json_object *seen = json_object_new_object();
    /* Records appended by the visitor are not visited (as with the host's
     * file offsets taken before the scan). */
    size_t n = fake.nrecords;
    for (size_t i = 0; i < n; i++) {
        fake_record *r = &fake.records[i];
        if (strcmp(r->coll, coll) != 0)
            continue;
        any = 1;
        /* The visitor may append (and move fake.records): pass copies. */
        char key[260];
        snprintf(key, sizeof key, "%s", r->key);
        const char *json = r->json;
        if (flags & MQ_SCAN_LATEST) {
            /* Visit a key once, at its first record, with its latest one. */
            char k[300];
            latest_key(k, sizeof k, coll, key);
            if (!key[0] || json_object_object_get_ex(seen, k, NULL))
                continue;
            json_object_object_add(seen, k, NULL);
            json = fake_store_latest(coll, key);
        }
        char *copy = strdup(json);
        int stop = fn(key, copy, strlen(copy), ud);
        free(copy);
        if (stop)
            break;
    }
    json_object_put(seen);
    return any ? MQ_OK : MQ_ENOENT;
}

size_t fake_store_count(const char *coll)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.nrecords; i++)
        n += !strcmp(fake.records[i].coll, coll);
    return n;
}

size_t fake_store_count_matching(const char *coll, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.nrecords; i++)
        n += !strcmp(fake.records[i].coll, coll) && strstr(fake.records[i].json, needle);
    return n;
}

static char *f_backups_json(mq_plugin *self)
{
    return strdup("[]");
}

/* ---- crypto and limits ------------------------------------------------------------------------
 */

static int f_http_request(mq_plugin *self, const mq_http_request *rq, mq_http_fn fn, void *ud)
{
    return MQ_EINVAL;
}

static int f_hmac(const void *key, size_t keylen, const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen))
        return MQ_EIO;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return MQ_OK;
}

static int f_secure_equal(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Deterministic "random" bytes: a counter, so tests can predict ids. */
static int f_random_hex(char *out, size_t nbytes)
{
    unsigned c = ++fake.random_counter;
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", (unsigned)((c >> (8 * (i % 4))) & 0xff) ^ (unsigned)i);
    return MQ_OK;
}

static int f_rate_check(mq_plugin *self, const char *bucket, const char *key, double per_minute,
                        double burst, int *retry)
{
    return 1;
}

/* ---- reset -------------------------------------------------------------------------------------
 */

int fake_logs_contain(const char *needle)
{
    for (size_t i = 0; i < fake.nlogs; i++)
        if (strstr(fake.logs[i], needle))
            return 1;
    return 0;
}

void fake_reset(void)
{
    for (size_t i = 0; i < fake.nrecords; i++)
        free(fake.records[i].json);
    free(fake.records);
    json_object_put(fake.latest);
    for (size_t i = 0; i < fake.nlogs; i++)
        free(fake.logs[i]);
    memset(&fake, 0, sizeof fake);
    fake_nfams = 0;
    fake.now_ms = 1000000000000LL;
    snprintf(fake.release_path, sizeof fake.release_path, "/nonexistent-release");
    mq_api *a = &fake.api;
    a->abi_major = MQ_ABI_MAJOR;
    a->abi_minor = MQ_ABI_MINOR;
    a->size = sizeof *a;
    a->strerror = f_strerror;
    a->log = f_log;
    a->config_get = f_config_get;
    a->release_path = f_release_path;
    a->route_add = f_route_add;
    a->req_method = f_req_method;
    a->req_path = f_req_path;
    a->req_param = f_req_param;
    a->req_query = f_req_query;
    a->req_header = f_req_header;
    a->req_cookie = f_req_cookie;
    a->req_body = f_req_body;
    a->req_client_ip = f_req_client_ip;
    a->req_id = f_req_id;
    a->resp_header = f_resp_header;
    a->resp_send = f_resp_send;
    a->resp_error = f_resp_error;
    a->req_suspend = f_req_suspend;
    a->req_alloc = f_req_alloc;
    a->timer_start = f_timer_start;
    a->timer_stop = f_timer_stop;
    a->metric_register = f_metric_register;
    a->metric_add = f_metric_add;
    a->metric_set = f_metric_set;
    a->metric_observe = f_metric_observe;
    a->service_publish = f_service_publish;
    a->service_lookup = f_service_lookup;
    a->event_subscribe = f_event_subscribe;
    a->event_publish = f_event_publish;
    a->store_append = f_store_append;
    a->store_get = f_store_get;
    a->store_scan = f_store_scan;
    a->backups_json = f_backups_json;
    a->http_request = f_http_request;
    a->hmac_sha256_hex = f_hmac;
    a->secure_equal = f_secure_equal;
    a->random_hex = f_random_hex;
    a->rate_check = f_rate_check;
}
