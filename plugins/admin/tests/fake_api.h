/*
 * fake_api.h -- a fake mq_api table for the admin plugin's unit tests: an
 * in-memory store, a settable clock, token buckets on that clock, an IPv4
 * CIDR matcher, canned host status and backup lists, services the test
 * publishes, metrics, logs, and requests the test builds (query, headers,
 * cookies, body, client address) whose answers it reads back (status,
 * headers, body). Never the host. One fake per test process.
 */
#ifndef MQ_ADMIN_FAKE_API_H
#define MQ_ADMIN_FAKE_API_H

#include <stddef.h>
#include <stdint.h>

#include "mq_plugin.h"

#define FAKE_MAX 512

struct mq_req {
    char method[8];
    char path[256];
    const char *query[16][2]; /* name, value (borrowed from the test) */
    const char *headers[12][2];
    const char *body;
    char ip[64];
    void *allocs[16];
    size_t nallocs;
    /* the answer */
    int suspended;
    int answered; /* resp_send / resp_error calls (must end up 1) */
    int status;
    char content_type[64];
    char *resp_body;
    size_t resp_len;
    char resp_headers[16][2][320];
    size_t nresp_headers;
};

typedef struct fake_record {
    char coll[33];
    char key[260];
    char *json;
    int flags;
    int with_req;
} fake_record;

typedef struct fake_env {
    mq_api api;
    const char *config[32][2];
    int64_t now_ms;
    struct {
        char method[8];
        char pattern[64];
        mq_handler_fn fn;
        void *ud;
    } routes[32];
    size_t nroutes;
    fake_record records[FAKE_MAX];
    size_t nrecords;
    int fail_appends; /* > 0: the next appends fail with MQ_EIO */
    struct {
        char name[64];
        char series[160];
        double value;
    } metrics[64];
    size_t nmetrics;
    struct {
        char name[32];
        uint32_t version;
        const void *vtable;
        void *ud;
    } services[4];
    size_t nservices;
    char *logs[FAKE_MAX];
    size_t nlogs;
    unsigned random_counter;
    struct {
        char name[128];
        double tokens, last_s;
    } buckets[64];
    size_t nbuckets;
    const char *host_status; /* host_status_json answer (copied on each call) */
    const char *backups;     /* backups_json answer */
    int backup_calls, backup_rc;
    int restore_calls, restore_rc;
    char restore_name[128];
} fake_env;

extern fake_env fake;
void fake_reset(void);
void fake_set_config(const char *key, const char *value);
mq_plugin *fake_self(void);
int64_t fake_now_ms(void);

/* Requests. */
mq_req *fake_req_new(const char *method, const char *path);
void fake_req_query(mq_req *r, const char *name, const char *value);
void fake_req_header(mq_req *r, const char *name, const char *value);
void fake_req_free(mq_req *r);
/* The first response header `name` (case-insensitive), or NULL. */
const char *fake_resp_header(const mq_req *r, const char *name);
/* Find the route for method + pattern and call it. */
void fake_dispatch(const char *method, const char *pattern, mq_req *r);
int fake_has_route(const char *method, const char *pattern);

/* Store. */
int fake_store_put(const char *coll, const char *key, const char *json);
const char *fake_store_latest(const char *coll, const char *key);
size_t fake_store_count(const char *coll);
/* The last record of `coll` (borrowed), or NULL. */
const char *fake_store_last(const char *coll);

/* Metrics: a series' value ("" for no labels, else "v1,v2"); -1 absent. */
double fake_metric(const char *name, const char *labels);

/* Services the code under test looks up. */
void fake_publish(const char *name, uint32_t version, const void *vtable, void *ud);

/* 1 when some log line contains `needle`. */
int fake_logs_contain(const char *needle);

/* Plugin setup through the real descriptor: init with the fake table,
 * then the plugin's clock is the fake's. Returns the plugin state. */
void *fake_plugin_init(int *rc);
void fake_plugin_fini(void *state);

#endif /* MQ_ADMIN_FAKE_API_H */
