/*
 * fake_api.c -- see fake_api.h.
 */
#include "fake_api.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "adm.h"

fake_env fake;

static char fake_plugin_tag;
mq_plugin *fake_self(void)
{
    return (mq_plugin *)&fake_plugin_tag;
}

int64_t fake_now_ms(void)
{
    return fake.now_ms;
}

/* ---- basics --------------------------------------------------------------------------------- */

static const char *f_strerror(int s)
{
    switch (s) {
    case MQ_OK: return "success";
    case MQ_ENOMEM: return "out of memory";
    case MQ_EINVAL: return "invalid argument";
    case MQ_EEXIST: return "already exists";
    case MQ_ENOENT: return "not found";
    case MQ_EIO: return "input/output error";
    case MQ_ESTATE: return "not allowed in this state";
    default: return "unknown error";
    }
}

static void f_log(mq_plugin *self, int level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (getenv("FAKE_VERBOSE"))
        fprintf(stderr, "[log %d] %s\n", level, line);
    if (fake.nlogs < FAKE_MAX)
        fake.logs[fake.nlogs++] = strdup(line);
}

static const char *f_config_get(mq_plugin *self, const char *key)
{
    for (size_t i = 0; i < 32 && fake.config[i][0]; i++)
        if (!strcmp(fake.config[i][0], key))
            return fake.config[i][1];
    return NULL;
}

static const char *f_release_path(mq_plugin *self)
{
    return "/nonexistent";
}

static int f_route_add(mq_plugin *self, const char *method, const char *pattern, mq_handler_fn fn,
                       void *ud)
{
    if (fake.nroutes == 32)
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

/* ---- requests ------------------------------------------------------------------------------- */

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
    return NULL;
}

static const char *f_req_query(mq_req *r, const char *n)
{
    for (size_t i = 0; i < 16 && r->query[i][0]; i++)
        if (!strcmp(r->query[i][0], n))
            return r->query[i][1];
    return NULL;
}

static const char *f_req_header(mq_req *r, const char *n)
{
    for (size_t i = 0; i < 12 && r->headers[i][0]; i++)
        if (!strcasecmp(r->headers[i][0], n))
            return r->headers[i][1];
    return NULL;
}

static void *f_req_alloc(mq_req *r, size_t n)
{
    if (r->nallocs == 16)
        return NULL;
    return r->allocs[r->nallocs++] = calloc(1, n + 1);
}

/* As the host does: "a=1; b=2", a request-owned copy of the value. */
static const char *f_req_cookie(mq_req *r, const char *name)
{
    const char *hdr = f_req_header(r, "Cookie");
    if (!hdr)
        return NULL;
    size_t nl = strlen(name);
    for (const char *p = hdr; *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > nl && p[nl] == '=' && !memcmp(p, name, nl)) {
            char *v = f_req_alloc(r, len - nl - 1);
            if (v)
                memcpy(v, p + nl + 1, len - nl - 1);
            return v;
        }
        p += len;
    }
    return NULL;
}

static const void *f_req_body(mq_req *r, size_t *len)
{
    *len = r->body ? strlen(r->body) : 0;
    return r->body ? r->body : "";
}

static const char *f_req_client_ip(mq_req *r)
{
    return r->ip;
}
static const char *f_req_id(mq_req *r)
{
    return "req-1";
}

static int f_resp_header(mq_req *r, const char *name, const char *value)
{
    if (r->answered)
        return MQ_ESTATE;
    if (strpbrk(value, "\r\n"))
        return MQ_EINVAL;
    if (r->nresp_headers < 16) {
        snprintf(r->resp_headers[r->nresp_headers][0], 320, "%s", name);
        snprintf(r->resp_headers[r->nresp_headers][1], 320, "%s", value);
        r->nresp_headers++;
    }
    return MQ_OK;
}

const char *fake_resp_header(const mq_req *r, const char *name)
{
    for (size_t i = 0; i < r->nresp_headers; i++)
        if (!strcasecmp(r->resp_headers[i][0], name))
            return r->resp_headers[i][1];
    return NULL;
}

static int f_resp_send(mq_req *r, int status, const char *ct, const void *body, size_t len)
{
    r->answered++;
    r->status = status;
    snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
    free(r->resp_body);
    r->resp_body = malloc(len + 1);
    memcpy(r->resp_body, body ? body : "", len);
    r->resp_body[len] = '\0';
    r->resp_len = len;
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

mq_req *fake_req_new(const char *method, const char *path)
{
    mq_req *r = calloc(1, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->ip, sizeof r->ip, "127.0.0.1");
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

void fake_req_header(mq_req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < 12; i++)
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
    for (size_t i = 0; i < r->nallocs; i++)
        free(r->allocs[i]);
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

int fake_has_route(const char *method, const char *pattern)
{
    for (size_t i = 0; i < fake.nroutes; i++)
        if (!strcmp(fake.routes[i].method, method) && !strcmp(fake.routes[i].pattern, pattern))
            return 1;
    return 0;
}

/* ---- timers (unused by admin) --------------------------------------------------------------- */

static mq_timer *f_timer_start(mq_plugin *self, uint64_t d, uint64_t rp, mq_timer_fn fn, void *ud)
{
    return NULL;
}
static void f_timer_stop(mq_timer *t) {}

/* ---- metrics -------------------------------------------------------------------------------- */

typedef struct fake_family {
    char name[64];
    size_t nlabels;
} fake_family;

static fake_family families[8];

static mq_metric *f_metric_register(mq_plugin *self, int type, const char *name, const char *help,
                                    const char *const *labels, const double *b, size_t nb)
{
    for (size_t i = 0; i < 8; i++) {
        if (!families[i].name[0] || !strcmp(families[i].name, name)) {
            snprintf(families[i].name, sizeof families[i].name, "%s", name);
            families[i].nlabels = 0;
            while (labels && labels[families[i].nlabels])
                families[i].nlabels++;
            return (mq_metric *)&families[i];
        }
    }
    return NULL;
}

static void f_metric_add(mq_metric *m, const char *const *values, double delta)
{
    fake_family *f = (fake_family *)m;
    char series[160] = "";
    for (size_t i = 0; i < f->nlabels; i++) {
        size_t used = strlen(series);
        snprintf(series + used, sizeof series - used, "%s%s", i ? "," : "", values[i]);
    }
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

/* ---- services and events -------------------------------------------------------------------- */

void fake_publish(const char *name, uint32_t version, const void *vtable, void *ud)
{
    snprintf(fake.services[fake.nservices].name, 32, "%s", name);
    fake.services[fake.nservices].version = version;
    fake.services[fake.nservices].vtable = vtable;
    fake.services[fake.nservices].ud = ud;
    fake.nservices++;
}

static int f_service_publish(mq_plugin *self, const char *name, uint32_t version,
                             const void *vtable, void *ud)
{
    fake_publish(name, version, vtable, ud);
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

static int f_event_publish(mq_plugin *self, const char *e, const char *p, size_t len)
{
    return 0;
}

/* ---- store ---------------------------------------------------------------------------------- */

static int put(const char *coll, const char *key, const char *json, size_t len, int flags,
               int with_req)
{
    json_object *j = json_tokener_parse(json);
    int ok = j && json_object_is_type(j, json_type_object);
    if (ok && !json_object_object_get_ex(j, "ts", NULL)) {
        /* The host adds "ts" (ms) when absent, as the real store does. */
        json_object_object_add(j, "ts", json_object_new_int64(fake.now_ms));
    }
    char *text = ok ? strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)) : NULL;
    json_object_put(j);
    if (!ok || strlen(json) != len) {
        free(text);
        return MQ_EINVAL;
    }
    if (fake.nrecords == FAKE_MAX) {
        free(text);
        return MQ_EIO;
    }
    fake_record *r = &fake.records[fake.nrecords++];
    snprintf(r->coll, sizeof r->coll, "%s", coll);
    snprintf(r->key, sizeof r->key, "%s", key ? key : "");
    r->json = text;
    r->flags = flags;
    r->with_req = with_req;
    return MQ_OK;
}

int fake_store_put(const char *coll, const char *key, const char *json)
{
    return put(coll, key, json, strlen(json), 0, 0);
}

static int f_store_append(mq_plugin *self, mq_req *req, const char *coll, const char *key,
                          const char *json, size_t len, int flags)
{
    if (fake.fail_appends > 0) {
        fake.fail_appends--;
        return MQ_EIO;
    }
    if (req && req->answered)
        return MQ_ESTATE;
    return put(coll, key, json, len, flags, req != NULL);
}

const char *fake_store_latest(const char *coll, const char *key)
{
    for (size_t i = fake.nrecords; i-- > 0;)
        if (!strcmp(fake.records[i].coll, coll) && !strcmp(fake.records[i].key, key))
            return fake.records[i].json;
    return NULL;
}

const char *fake_store_last(const char *coll)
{
    for (size_t i = fake.nrecords; i-- > 0;)
        if (!strcmp(fake.records[i].coll, coll))
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

static char *f_backups_json(mq_plugin *self)
{
    return strdup(fake.backups ? fake.backups : "[]");
}

/* ---- crypto and limits ---------------------------------------------------------------------- */

static int f_http_request(mq_plugin *self, const mq_http_request *rq, mq_http_fn fn, void *ud)
{
    return MQ_EINVAL;
}

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

static int f_random_hex(char *out, size_t nbytes)
{
    unsigned v = ++fake.random_counter;
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", (unsigned)((v >> (8 * (i % 4))) & 0xff) ^ (unsigned)i);
    return MQ_OK;
}

/* A token bucket on the fake clock, as the host's: the latest limits apply. */
static int f_rate_check(mq_plugin *self, const char *bucket, const char *key, double per_minute,
                        double burst, int *retry_after_s)
{
    char name[128];
    snprintf(name, sizeof name, "%s/%s", bucket, key);
    double now = (double)fake.now_ms / 1000.0;
    size_t i = 0;
    while (i < fake.nbuckets && strcmp(fake.buckets[i].name, name) != 0)
        i++;
    if (i == fake.nbuckets) {
        snprintf(fake.buckets[i].name, sizeof fake.buckets[i].name, "%s", name);
        fake.buckets[i].tokens = burst;
        fake.buckets[i].last_s = now;
        fake.nbuckets++;
    }
    double t = fake.buckets[i].tokens + (now - fake.buckets[i].last_s) * per_minute / 60.0;
    fake.buckets[i].tokens = t > burst ? burst : t;
    fake.buckets[i].last_s = now;
    if (fake.buckets[i].tokens >= 1.0) {
        fake.buckets[i].tokens -= 1.0;
        return 1;
    }
    if (retry_after_s)
        *retry_after_s = (int)ceil((1.0 - fake.buckets[i].tokens) * 60.0 / per_minute);
    return 0;
}

/* ---- operations ----------------------------------------------------------------------------- */

static char *f_host_status_json(mq_plugin *self)
{
    return strdup(fake.host_status ? fake.host_status : "{}");
}

static int f_backup_now(mq_plugin *self)
{
    fake.backup_calls++;
    return fake.backup_rc;
}

static int f_restore_check_now(mq_plugin *self, const char *name)
{
    fake.restore_calls++;
    snprintf(fake.restore_name, sizeof fake.restore_name, "%s", name ? name : "");
    return fake.restore_rc;
}

/* IPv4 only: "a.b.c.d" or "a.b.c.d/n", comma-separated, spaces allowed. */
static int f_ip_in_cidrs(mq_plugin *self, const char *cidrs, const char *ip)
{
    struct in_addr want;
    int ip_ok = inet_pton(AF_INET, ip, &want) == 1;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", cidrs);
    int in = 0, entries = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && end[-1] == ' ')
            *--end = '\0';
        int bits = 32;
        char *slash = strchr(tok, '/');
        if (slash) {
            *slash = '\0';
            char *e = NULL;
            long b = strtol(slash + 1, &e, 10);
            if (!e || *e || b < 0 || b > 32)
                return MQ_EINVAL;
            bits = (int)b;
        }
        struct in_addr net;
        if (inet_pton(AF_INET, tok, &net) != 1)
            return MQ_EINVAL;
        entries++;
        uint32_t mask = bits ? htonl(0xffffffffu << (32 - bits)) : 0;
        if (ip_ok && (want.s_addr & mask) == (net.s_addr & mask))
            in = 1;
    }
    return entries ? in : MQ_EINVAL;
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
    for (size_t i = 0; i < fake.nlogs; i++)
        free(fake.logs[i]);
    memset(&fake, 0, sizeof fake);
    memset(families, 0, sizeof families);
    fake.now_ms = 1795000000000LL; /* 2026-11-18 (Korea) */
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
        .host_status_json = f_host_status_json,
        .backup_now = f_backup_now,
        .restore_check_now = f_restore_check_now,
        .ip_in_cidrs = f_ip_in_cidrs,
    };
}

extern const mq_plugin_desc mq_plugin_descriptor;

void *fake_plugin_init(int *rc)
{
    void *state = NULL;
    int r = mq_plugin_descriptor.init(&fake.api, fake_self(), &state);
    if (rc)
        *rc = r;
    if (r == MQ_OK && state)
        ((adm_state *)state)->now_ms = fake_now_ms;
    return state;
}

void fake_plugin_fini(void *state)
{
    mq_plugin_descriptor.fini(state);
}
