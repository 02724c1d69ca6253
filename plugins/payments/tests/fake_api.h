/*
 * fake_api.h -- a fake mq_api table for the payments plugin's unit tests:
 * an in-memory store, recorded outbound calls answered by the test,
 * timers fired by the test, metrics, services, events, logs and requests.
 * Never the host. One fake per test process (tests run one at a time).
 */
#ifndef MQ_PAY_FAKE_API_H
#define MQ_PAY_FAKE_API_H

#include <stddef.h>
#include <stdint.h>

#include "mq_plugin.h"

#define FAKE_MAX 256

/* A request the test builds and hands to a route handler. */
struct mq_req {
    char method[8];
    char path[256];
    const char *query[16][2]; /* name, value (borrowed from the test) */
    const char *params[4][2];
    const char *headers[8][2];
    const char *body;
    /* the answer */
    int suspended;
    int answered; /* resp_send/resp_error calls (must end up 1) */
    int status;
    char location[512];
    char retry_after[16];
    char *resp_body;
    int durable_appends; /* durable store appends made with this request */
};

typedef struct fake_call {
    char method[8];
    char *url;
    char *headers[16];
    char *body;
    size_t body_len;
    uint32_t timeout_ms, connect_timeout_ms;
    mq_http_fn fn;
    void *ud;
    int answered;
} fake_call;

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

typedef struct fake_event {
    char name[64];
    char *payload;
} fake_event;

typedef struct fake_env {
    mq_api api;
    const char *config[32][2];
    char release_path[512];
    /* routes */
    struct {
        char method[8];
        char pattern[64];
        mq_handler_fn fn;
        void *ud;
    } routes[16];
    size_t nroutes;
    /* store */
    fake_record records[4 * FAKE_MAX];
    size_t nrecords;
    int fail_appends; /* > 0: the next appends fail with MQ_EIO */
    /* outbound calls */
    fake_call calls[FAKE_MAX];
    size_t ncalls;
    /* timers */
    struct mq_timer timers[FAKE_MAX];
    size_t ntimers;
    /* metrics: one line per series "name{v1,v2}" */
    struct {
        char name[64];
        char series[160];
        double value;
    } metrics[128];
    size_t nmetrics;
    /* services */
    struct {
        char name[32];
        uint32_t version;
        const void *vtable;
        void *ud;
    } services[4];
    size_t nservices;
    fake_event events[FAKE_MAX];
    size_t nevents;
    char *logs[4 * FAKE_MAX];
    size_t nlogs;
    unsigned random_counter;
    int rate_limited; /* rate_check answers "limited" (retry after 7 s) */
} fake_env;

/* The one fake of this process. fake_reset() frees what the last test left. */
extern fake_env fake;
void fake_reset(void);
void fake_set_config(const char *key, const char *value);
/* mq_plugin * the fake hands around (never dereferenced). */
mq_plugin *fake_self(void);

/* Requests. */
mq_req *fake_req_new(const char *method, const char *path);
void fake_req_query(mq_req *r, const char *name, const char *value);
void fake_req_param(mq_req *r, const char *name, const char *value);
void fake_req_header(mq_req *r, const char *name, const char *value);
void fake_req_free(mq_req *r);
/* Find the registered route for method+pattern and call it. */
void fake_dispatch(const char *method, const char *pattern, mq_req *r);

/* Outbound calls: the index of the last one, answering one. */
fake_call *fake_last_call(void);
size_t fake_calls_pending(void);
void fake_answer(fake_call *c, int status, const char *body);
void fake_answer_error(fake_call *c, int error, int sent);
const char *fake_call_header(const fake_call *c, const char *name);

/* Timers: fire every active timer once (one-shot ones end). Returns how
 * many fired. */
int fake_fire_timers(void);
size_t fake_timers_active(void);

/* Metrics: a series' value ("" labels for none, else "v1,v2"). */
double fake_metric(const char *name, const char *labels);
int fake_metric_exists(const char *name, const char *labels);

/* Store. The latest record of a key (borrowed), or NULL. */
const char *fake_store_latest(const char *coll, const char *key);
size_t fake_store_count(const char *coll);
/* Status string of an order's latest record ("" when absent). */
const char *fake_order_status(const char *id, char *buf, size_t cap);

/* Published events named `name`. */
size_t fake_events_named(const char *name);
/* 1 when some log line contains `needle`. */
int fake_logs_contain(const char *needle);

#endif /* MQ_PAY_FAKE_API_H */
