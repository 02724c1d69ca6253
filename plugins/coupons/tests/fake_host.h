/*
 * fake_host.h -- a fake mq_api table for the coupons and referral plugins'
 * unit tests: an in-memory store (latest-per-key and full scans, injected
 * write failures), metrics, services, events, timers fired by the test,
 * requests with cookies and captured response headers, logs. Never the
 * host. One fake per test process; fake_reset() before each test.
 */
#ifndef MQ_FAKE_HOST_H
#define MQ_FAKE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "mq_plugin.h"

/* A request the test builds and hands to a handler or a service call. */
struct mq_req {
    char method[8];
    char path[256];
    const char *query[8][2]; /* name, value: borrowed from the test */
    const char *params[4][2];
    const char *headers[8][2];
    /* the answer */
    int answered;
    int status;
    char *body;
    char *resp_headers[16][2]; /* copied */
    size_t nresp_headers;
    char *scratch[8]; /* request-owned copies (cookie values) */
    size_t nscratch;
    int durable_appends;
};

struct mq_timer {
    uint64_t delay_ms, repeat_ms;
    mq_timer_fn fn;
    void *ud;
    int active;
};

typedef struct fake_record {
    char coll[33];
    char key[260];
    char *json;
    int flags;
} fake_record;

typedef struct fake_env {
    mq_api api;
    const char *config[32][2];
    char release_path[512];
    int64_t now_ms; /* the "ts" the store stamps */
    struct {
        char method[8];
        char pattern[64];
        mq_handler_fn fn;
        void *ud;
    } routes[16];
    size_t nroutes;
    fake_record *records;
    size_t nrecords, caprecords;
    void *latest;          /* json_object: "coll/key" -> index of the key's latest record */
    int fail_appends;      /* > 0: that many next appends fail with MQ_EIO */
    int fail_append_after; /* > 0: appends after that many more succeed fail */
    struct mq_timer timers[64];
    size_t ntimers;
    struct {
        char name[64];
        char series[160];
        double value;
    } metrics[128];
    size_t nmetrics;
    struct {
        char name[32];
        uint32_t version;
        const void *vtable;
        void *ud;
    } services[8];
    size_t nservices;
    struct {
        char event[64];
        mq_event_fn fn;
        void *ud;
    } subs[16];
    size_t nsubs;
    char *logs[1024];
    size_t nlogs;
    unsigned random_counter;
} fake_env;

extern fake_env fake;

/* Free what the last test left and set up a fresh table (now_ms = 1e12). */
void fake_reset(void);
void fake_set_config(const char *key, const char *value);
mq_plugin *fake_self(void);

/* Requests (free with fake_req_free; the answer stays readable until then). */
mq_req *fake_req_new(const char *method, const char *path);
void fake_req_query(mq_req *r, const char *name, const char *value);
void fake_req_param(mq_req *r, const char *name, const char *value);
void fake_req_header(mq_req *r, const char *name, const char *value);
void fake_req_free(mq_req *r);
/* The n-th response header called `name` (0-based), or NULL. */
const char *fake_resp_header(const mq_req *r, const char *name, int n);
/* Call the registered route for method + pattern. */
void fake_dispatch(const char *method, const char *pattern, mq_req *r);

/* Fire every active timer once (one-shot ones end). Returns how many. */
int fake_fire_timers(void);
size_t fake_timers_active(void);

/* A series' value: labels "" for none, else "v1,v2". 0 when absent. */
double fake_metric(const char *name, const char *labels);
int fake_metric_exists(const char *name, const char *labels);

/* Store. The latest record of a key (borrowed) or NULL; record counts. */
const char *fake_store_latest(const char *coll, const char *key);
size_t fake_store_count(const char *coll);
/* Records of `coll` whose JSON contains `needle`. */
size_t fake_store_count_matching(const char *coll, const char *needle);
/* Append a record as another writer (another generation) would. */
void fake_store_put(const char *coll, const char *key, const char *json);

/* A published service's vtable (and *ud), or NULL. */
const void *fake_service(const char *name, uint32_t version, void **ud);
/* Publish an event to the subscribers; returns how many were called. */
int fake_publish(const char *event, const char *payload);

/* 1 when some log line contains needle. */
int fake_logs_contain(const char *needle);

#endif /* MQ_FAKE_HOST_H */
