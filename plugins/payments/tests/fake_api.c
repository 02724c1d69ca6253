/*
 * fake_api.c -- see fake_api.h.
 */
#include "fake_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    case MQ_ETIMEDOUT: return "timed out";
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

static const char *pair_get(const char *(*pairs)[2], size_t n, const char *name)
{
    for (size_t i = 0; i < n && pairs[i][0]; i++)
        if (strcmp(pairs[i][0], name) == 0)
            return pairs[i][1];
    return NULL;
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
    return pair_get(r->params, 4, n);
}
static const char *f_req_query(mq_req *r, const char *n)
{
    return pair_get(r->query, 16, n);
}
static const char *f_req_header(mq_req *r, const char *n)
{
    for (size_t i = 0; i < 8 && r->headers[i][0]; i++)
        if (strcasecmp(r->headers[i][0], n) == 0)
            return r->headers[i][1];
    return NULL;
}
static const char *f_req_cookie(mq_req *r, const char *n)
{
    return NULL;
}
static const void *f_req_body(mq_req *r, size_t *len)
{
    *len = r->body ? strlen(r->body) : 0;
    return r->body ? r->body : "";
}
static const char *f_req_client_ip(mq_req *r)
{
    return "127.0.0.1";
}
static const char *f_req_id(mq_req *r)
{
    return "req-1";
}

static int f_resp_header(mq_req *r, const char *name, const char *value)
{
    if (strcasecmp(name, "Location") == 0)
        snprintf(r->location, sizeof r->location, "%s", value);
    if (strcasecmp(name, "Retry-After") == 0)
        snprintf(r->retry_after, sizeof r->retry_after, "%s", value);
    return MQ_OK;
}

static int f_resp_send(mq_req *r, int status, const char *ct, const void *body, size_t len)
{
    r->answered++;
    r->status = status;
    free(r->resp_body);
    r->resp_body = strndup(body ? body : "", len);
    return MQ_OK;
}

static int f_resp_error(mq_req *r, int status, const char *code, const char *message)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "code", json_object_new_string(code));
    json_object_object_add(j, "message", json_object_new_string(message));
    const char *body = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    int rc = f_resp_send(r, status, "application/json", body, strlen(body));
    json_object_put(j);
    return rc;
}

static int f_req_suspend(mq_req *r)
{
    r->suspended = 1;
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

void fake_req_query(mq_req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < 16; i++)
        if (!r->query[i][0]) {
            r->query[i][0] = name;
            r->query[i][1] = value;
            return;
        }
}

void fake_req_param(mq_req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < 4; i++)
        if (!r->params[i][0]) {
            r->params[i][0] = name;
            r->params[i][1] = value;
            return;
        }
}

void fake_req_header(mq_req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < 8; i++)
        if (!r->headers[i][0]) {
            r->headers[i][0] = name;
            r->headers[i][1] = value;
            return;
        }
}

void fake_req_free(mq_req *r)
{
    if (!r)
        return;
    free(r->resp_body);
    free(r);
}

void fake_dispatch(const char *method, const char *pattern, mq_req *r)
{
    for (size_t i = 0; i < fake.nroutes; i++)
        if (!strcmp(fake.routes[i].method, method) && !strcmp(fake.routes[i].pattern, pattern)) {
            fake.routes[i].fn(r, fake.routes[i].ud);
            return;
        }
    fprintf(stderr, "fake_dispatch: no route %s %s\n", method, pattern);
    abort();
}

/* ---- timers ---------------------------------------------------------------------------- */

static mq_timer *f_timer_start(mq_plugin *self, uint64_t delay_ms, uint64_t repeat_ms,
                               mq_timer_fn fn, void *ud)
{
    for (size_t i = 0; i < FAKE_MAX; i++) {
        struct mq_timer *t = &fake.timers[i];
        if (t->active)
            continue;
        *t = (struct mq_timer){delay_ms, repeat_ms, fn, ud, 1};
        if (i >= fake.ntimers)
            fake.ntimers = i + 1;
        return t;
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
    /* Snapshot: timers started by a callback wait for the next call. */
    struct mq_timer *due[FAKE_MAX];
    size_t n = 0;
    for (size_t i = 0; i < fake.ntimers; i++)
        if (fake.timers[i].active)
            due[n++] = &fake.timers[i];
    int fired = 0;
    for (size_t i = 0; i < n; i++) {
        struct mq_timer *t = due[i];
        if (!t->active)
            continue;
        mq_timer_fn fn = t->fn;
        void *ud = t->ud;
        if (!t->repeat_ms)
            t->active = 0; /* a one-shot handle is invalid once it has run */
        fn(ud);
        fired++;
    }
    return fired;
}

size_t fake_timers_active(void)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.ntimers; i++)
        n += fake.timers[i].active;
    return n;
}

/* ---- metrics ----------------------------------------------------------------------------- */

typedef struct fake_family {
    char name[64];
} fake_family;

static fake_family families[16];

static mq_metric *f_metric_register(mq_plugin *self, int type, const char *name, const char *help,
                                    const char *const *labels, const double *b, size_t nb)
{
    for (size_t i = 0; i < 16; i++) {
        if (!families[i].name[0] || !strcmp(families[i].name, name)) {
            snprintf(families[i].name, sizeof families[i].name, "%s", name);
            return (mq_metric *)&families[i];
        }
    }
    return NULL;
}

static void series_name(const fake_family *f, const char *const *values, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; values && values[i] && i < 4; i++) {
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", i ? "," : "", values[i]);
        /* label lists are short and fixed per family: stop at 2 */
        if (i == 1)
            break;
    }
}

static void f_metric_add(mq_metric *m, const char *const *values, double delta)
{
    fake_family *f = (fake_family *)m;
    char series[160];
    /* payment_failure_total has two labels, the rest one or none. */
    const char *vals[3] = {NULL, NULL, NULL};
    if (values) {
        vals[0] = values[0];
        if (!strcmp(f->name, "payment_failure_total"))
            vals[1] = values[1];
    }
    series_name(f, values ? vals : NULL, series, sizeof series);
    for (size_t i = 0; i < fake.nmetrics; i++)
        if (!strcmp(fake.metrics[i].name, f->name) && !strcmp(fake.metrics[i].series, series)) {
            fake.metrics[i].value += delta;
            return;
        }
    snprintf(fake.metrics[fake.nmetrics].name, 64, "%s", f->name);
    snprintf(fake.metrics[fake.nmetrics].series, 160, "%s", series);
    fake.metrics[fake.nmetrics].value = delta;
    fake.nmetrics++;
}

static void f_metric_set(mq_metric *m, const char *const *v, double x) {}
static void f_metric_observe(mq_metric *m, const char *const *v, double x) {}

double fake_metric(const char *name, const char *labels)
{
    for (size_t i = 0; i < fake.nmetrics; i++)
        if (!strcmp(fake.metrics[i].name, name) && !strcmp(fake.metrics[i].series, labels))
            return fake.metrics[i].value;
    return -1;
}

int fake_metric_exists(const char *name, const char *labels)
{
    return fake_metric(name, labels) >= 0;
}

/* ---- services and events ----------------------------------------------------------------- */

static int f_service_publish(mq_plugin *self, const char *name, uint32_t version,
                             const void *vtable, void *ud)
{
    for (size_t i = 0; i < fake.nservices; i++)
        if (!strcmp(fake.services[i].name, name))
            return MQ_EEXIST;
    snprintf(fake.services[fake.nservices].name, 32, "%s", name);
    fake.services[fake.nservices].version = version;
    fake.services[fake.nservices].vtable = vtable;
    fake.services[fake.nservices].ud = ud;
    fake.nservices++;
    return MQ_OK;
}

static const void *f_service_lookup(mq_plugin *self, const char *name, uint32_t min_version,
                                    void **ud)
{
    for (size_t i = 0; i < fake.nservices; i++)
        if (!strcmp(fake.services[i].name, name) && fake.services[i].version >= min_version) {
            *ud = fake.services[i].ud;
            return fake.services[i].vtable;
        }
    return NULL;
}

static int f_event_subscribe(mq_plugin *self, const char *e, mq_event_fn fn, void *ud)
{
    return MQ_OK;
}

static int f_event_publish(mq_plugin *self, const char *event, const char *payload, size_t len)
{
    if (fake.nevents < FAKE_MAX) {
        snprintf(fake.events[fake.nevents].name, 64, "%s", event);
        fake.events[fake.nevents].payload = strndup(payload, len);
        fake.nevents++;
    }
    return 0;
}

size_t fake_events_named(const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.nevents; i++)
        n += !strcmp(fake.events[i].name, name);
    return n;
}

/* ---- store ---------------------------------------------------------------------------------- */

static int f_store_append(mq_plugin *self, mq_req *req, const char *coll, const char *key,
                          const char *json, size_t len, int flags)
{
    if (fake.fail_appends > 0) {
        fake.fail_appends--;
        return MQ_EIO;
    }
    json_object *j = json_tokener_parse(json);
    int ok = j && json_object_is_type(j, json_type_object);
    json_object_put(j);
    if (!ok || strlen(json) != len)
        return MQ_EINVAL;
    if (fake.nrecords == sizeof fake.records / sizeof fake.records[0])
        return MQ_EIO;
    if (req && req->answered)
        return MQ_ESTATE;
    fake_record *r = &fake.records[fake.nrecords++];
    snprintf(r->coll, sizeof r->coll, "%s", coll);
    snprintf(r->key, sizeof r->key, "%s", key ? key : "");
    r->json = strndup(json, len);
    r->flags = flags;
    if (req && (flags & MQ_STORE_DURABLE))
        req->durable_appends++;
    return MQ_OK;
}

const char *fake_store_latest(const char *coll, const char *key)
{
    for (size_t i = fake.nrecords; i-- > 0;)
        if (!strcmp(fake.records[i].coll, coll) && !strcmp(fake.records[i].key, key))
            return fake.records[i].json;
    return NULL;
}

size_t fake_store_count(const char *coll)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.nrecords; i++)
        n += !strcmp(fake.records[i].coll, coll);
    return n;
}

static char *f_store_get(mq_plugin *self, const char *coll, const char *key, size_t *len)
{
    const char *j = key && *key ? fake_store_latest(coll, key) : NULL;
    if (len)
        *len = j ? strlen(j) : 0;
    return j ? strdup(j) : NULL;
}

static int f_store_scan(mq_plugin *self, const char *coll, int flags, mq_scan_fn fn, void *ud)
{
    int found = 0;
    for (size_t i = 0; i < fake.nrecords; i++) {
        fake_record *r = &fake.records[i];
        if (strcmp(r->coll, coll) != 0)
            continue;
        found = 1;
        if (flags == MQ_SCAN_LATEST) {
            /* first-append order, latest record of each key */
            int first = 1;
            for (size_t k = 0; k < i; k++)
                if (!strcmp(fake.records[k].coll, coll) && !strcmp(fake.records[k].key, r->key))
                    first = 0;
            if (!first || !*r->key)
                continue;
            const char *latest = fake_store_latest(coll, r->key);
            if (fn(r->key, latest, strlen(latest), ud))
                break;
        } else if (fn(r->key, r->json, strlen(r->json), ud)) {
            break;
        }
    }
    return found ? MQ_OK : MQ_ENOENT;
}

const char *fake_order_status(const char *id, char *buf, size_t cap)
{
    buf[0] = '\0';
    const char *rec = fake_store_latest("orders", id);
    json_object *j = rec ? json_tokener_parse(rec) : NULL, *s = NULL;
    if (j && json_object_object_get_ex(j, "status", &s))
        snprintf(buf, cap, "%s", json_object_get_string(s));
    json_object_put(j);
    return buf;
}

static char *f_backups_json(mq_plugin *self)
{
    return NULL;
}

/* ---- outbound HTTP --------------------------------------------------------------------------- */

static int f_http_request(mq_plugin *self, const mq_http_request *rq, mq_http_fn fn, void *ud)
{
    if (!rq || !rq->url || !fn || fake.ncalls == FAKE_MAX)
        return MQ_EINVAL;
    fake_call *c = &fake.calls[fake.ncalls++];
    memset(c, 0, sizeof *c);
    snprintf(c->method, sizeof c->method, "%s", rq->method ? rq->method : "GET");
    c->url = strdup(rq->url);
    for (size_t i = 0; rq->headers && rq->headers[i] && i < 15; i++)
        c->headers[i] = strdup(rq->headers[i]);
    c->body = rq->body ? strndup(rq->body, rq->body_len) : NULL;
    c->body_len = rq->body_len;
    c->timeout_ms = rq->timeout_ms;
    c->connect_timeout_ms = rq->connect_timeout_ms;
    c->fn = fn;
    c->ud = ud;
    return MQ_OK;
}

fake_call *fake_last_call(void)
{
    return fake.ncalls ? &fake.calls[fake.ncalls - 1] : NULL;
}

size_t fake_calls_pending(void)
{
    size_t n = 0;
    for (size_t i = 0; i < fake.ncalls; i++)
        n += !fake.calls[i].answered;
    return n;
}

static void answer(fake_call *c, const mq_http_response *resp)
{
    if (c->answered) {
        fprintf(stderr, "fake_answer: call answered twice\n");
        abort();
    }
    c->answered = 1;
    c->fn(resp, c->ud);
}

void fake_answer(fake_call *c, int status, const char *body)
{
    mq_http_response resp = {.status = status,
                             .error = MQ_OK,
                             .error_text = "",
                             .sent = 1,
                             .headers = "",
                             .body = body ? body : "",
                             .body_len = body ? strlen(body) : 0};
    answer(c, &resp);
}

void fake_answer_error(fake_call *c, int error, int sent)
{
    mq_http_response resp = {.status = 0,
                             .error = error,
                             .error_text = error == MQ_ETIMEDOUT
                                               ? "Operation timed out after 10000 milliseconds"
                                               : "Failed to connect to 127.0.0.1 port 9",
                             .sent = sent,
                             .headers = "",
                             .body = "",
                             .body_len = 0};
    answer(c, &resp);
}

const char *fake_call_header(const fake_call *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; c->headers[i]; i++)
        if (strncasecmp(c->headers[i], name, n) == 0 && c->headers[i][n] == ':')
            return c->headers[i] + n + 2;
    return NULL;
}

/* ---- crypto -------------------------------------------------------------------------------- */

static int f_hmac(const void *key, size_t keylen, const void *data, size_t len, char out[65])
{
    unsigned char mac[32];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, mac, &maclen))
        return MQ_EINVAL;
    for (unsigned i = 0; i < maclen; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return MQ_OK;
}

static int f_secure_equal(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static int f_rate_check(mq_plugin *self, const char *bucket, const char *key, double per_minute,
                        double burst, int *retry_after_s)
{
    if (!fake.rate_limited)
        return 1;
    if (retry_after_s)
        *retry_after_s = 7;
    return 0;
}

static int f_random_hex(char *out, size_t nbytes)
{
    /* Deterministic and distinct per call. */
    unsigned v = ++fake.random_counter;
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", (unsigned)((v >> (8 * (i % 4))) & 0xff) ^ (unsigned)i);
    return MQ_OK;
}

/* ---- setup ---------------------------------------------------------------------------------- */

void fake_set_config(const char *key, const char *value)
{
    for (size_t i = 0; i < 32; i++) {
        if (!fake.config[i][0] || !strcmp(fake.config[i][0], key)) {
            fake.config[i][0] = key;
            fake.config[i][1] = value;
            return;
        }
    }
}

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
    for (size_t i = 0; i < fake.ncalls; i++) {
        free(fake.calls[i].url);
        free(fake.calls[i].body);
        for (size_t h = 0; h < 16; h++)
            free(fake.calls[i].headers[h]);
    }
    for (size_t i = 0; i < fake.nevents; i++)
        free(fake.events[i].payload);
    for (size_t i = 0; i < fake.nlogs; i++)
        free(fake.logs[i]);
    memset(&fake, 0, sizeof fake);
    memset(families, 0, sizeof families);
    fake.api = (mq_api){
        .abi_major = MQ_ABI_MAJOR,
        .abi_minor = MQ_ABI_MINOR,
        .size = sizeof(mq_api),
        .strerror = f_strerror,
        .log = f_log,
        .config_get = f_config_get,
        .release_path = f_release_path,
        .route_add = f_route_add,
        .req_method = f_req_method,
        .req_path = f_req_path,
        .req_param = f_req_param,
        .req_query = f_req_query,
        .req_header = f_req_header,
        .req_cookie = f_req_cookie,
        .req_body = f_req_body,
        .req_client_ip = f_req_client_ip,
        .req_id = f_req_id,
        .resp_header = f_resp_header,
        .resp_send = f_resp_send,
        .resp_error = f_resp_error,
        .req_suspend = f_req_suspend,
        .req_alloc = f_req_alloc,
        .timer_start = f_timer_start,
        .timer_stop = f_timer_stop,
        .metric_register = f_metric_register,
        .metric_add = f_metric_add,
        .metric_set = f_metric_set,
        .metric_observe = f_metric_observe,
        .service_publish = f_service_publish,
        .service_lookup = f_service_lookup,
        .event_subscribe = f_event_subscribe,
        .event_publish = f_event_publish,
        .store_append = f_store_append,
        .store_get = f_store_get,
        .store_scan = f_store_scan,
        .backups_json = f_backups_json,
        .http_request = f_http_request,
        .hmac_sha256_hex = f_hmac,
        .secure_equal = f_secure_equal,
        .random_hex = f_random_hex,
        .rate_check = f_rate_check,
    };
}
