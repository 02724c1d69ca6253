/*
 * pgsim.h -- mq-pgsim, the local KakaoPay / NaverPay gateway simulator.
 *
 * One process, one libevent loop, one evhttp server that speaks both
 * gateways' merchant APIs as ../shared/pg-apis.md describes them, serves the
 * browser approval pages, and takes faults at runtime (/sim/faults).
 *
 * Files, in the order a request meets them:
 *   main.c     CLI, listener, signals, start-up and shutdown
 *   server.c   dispatch, request bodies and parameters, replies, deferred
 *              replies (latency), held requests (timeouts), dropped ones
 *   faults.c   the fault model: parse, render, decide
 *   kakao.c    KakaoPay ready / approve / cancel / order (both hosts)
 *   naver.c    NaverPay reserve / apply / cancel / list-history
 *   pages.c    the browser approval pages and their redirects
 *   control.c  /sim/faults, /sim/state, /sim/stats, /sim/clock, the index
 *   store.c    the state (payments, tokens, idempotency records), ids,
 *              KST time, the optional state file
 *
 * The state is one json-c tree (see store.c): it is what GET /sim/state
 * shows and what --state-file holds, so the two never disagree.
 */
#ifndef PGSIM_H
#define PGSIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

/* ---- operations ---------------------------------------------------------------- */

enum pgsim_provider { PGSIM_KAKAO, PGSIM_NAVER };

/* Index into pgsim_ops[]; also the bit of an op in a fault's op set. */
enum pgsim_op_id {
    OP_KAKAO_READY,
    OP_KAKAO_APPROVE,
    OP_KAKAO_CANCEL,
    OP_KAKAO_ORDER,
    OP_NAVER_RESERVE,
    OP_NAVER_APPLY,
    OP_NAVER_CANCEL,
    OP_NAVER_HISTORY,
    OP_COUNT
};

/* One gateway API operation. Faults name ops by `name` ("kakao.approve"),
 * by `native` ("apply") or by `generic` ("approve": both providers). */
struct pgsim_op {
    enum pgsim_op_id id;
    enum pgsim_provider provider;
    const char *name;
    const char *native;
    const char *generic;
};

extern const struct pgsim_op pgsim_ops[OP_COUNT];

#define OPSET_ALL ((1u << OP_COUNT) - 1)

/* ---- faults -------------------------------------------------------------------- */

#define PGSIM_MAX_FAIL_NEXT 16

/* An injected error: HTTP 5xx (the request never reached the gateway's
 * logic) or a business rejection (the gateway said no). */
struct pgsim_fault_error {
    int business;  /* 0: HTTP `status` 5xx; 1: the provider's business error */
    int status;    /* 500..599 when !business */
    char code[64]; /* business: Kakao extras.method_result_code / Naver code; "" = default */
};

struct pgsim_fail_next {
    unsigned ops; /* op set */
    int count;    /* remaining */
    struct pgsim_fault_error err;
};

struct pgsim_faults {
    int64_t latency_ms;
    unsigned latency_ops;
    double error_rate;
    struct pgsim_fault_error rate_err;
    unsigned error_ops;
    unsigned timeout_ops;       /* held unanswered, never processed */
    unsigned drop_ops;          /* connection closed, never processed */
    unsigned timeout_after_ops; /* processed, then held unanswered */
    unsigned drop_after_ops;    /* processed, then connection closed */
    int approve_then_timeout;   /* shorthand for kakao.approve + naver.apply in timeout_after */
    struct pgsim_fail_next fail_next[PGSIM_MAX_FAIL_NEXT];
    int n_fail_next;
    int seeded;
    uint64_t seed;
};

/* ---- configuration and the simulator ------------------------------------------- */

struct pgsim_cfg {
    const char *listen_host;
    int listen_port;
    const char *public_base; /* NULL: http://<listen host>:<bound port> */
    const char *kakao_secret;
    const char *kakao_admin_key;
    const char *naver_client_id;
    const char *naver_client_secret;
    const char *naver_chain_id;
    const char *naver_partner;
    const char *state_file;
    int quiet;
    int64_t kakao_window_s;
    int64_t naver_window_s;
};

struct pgsim_req;

struct pgsim {
    struct pgsim_cfg cfg;
    struct event_base *base;
    struct evhttp *http;
    char public_base[256];
    json_object *state; /* persisted: see store.c */
    json_object *stats; /* not persisted */
    struct pgsim_faults faults;
    uint64_t rng;
    struct pgsim_req *pending; /* delayed, held or dropping requests */
    struct event *save_ev;
    int dirty;
};

/* ---- requests ------------------------------------------------------------------ */

enum pgsim_outcome { PGSIM_SEND, PGSIM_HOLD, PGSIM_DROP };

/* One HTTP request. Handlers write the response into `ev`'s output buffer
 * with the pgsim_reply_* calls; the dispatcher then sends it now, later
 * (latency), never (hold) or closes the connection instead (drop). */
struct pgsim_req {
    struct pgsim *sim;
    struct evhttp_request *ev;
    struct evhttp_connection *conn;
    const struct pgsim_op *op; /* NULL outside the gateway APIs */
    char method[8];
    char *path; /* the URI's path, still percent-encoded; owned */
    char *body; /* NUL-terminated copy, owned */
    size_t body_len;
    json_object *params;  /* the body as an object (form values as strings), owned */
    char params_err[160]; /* why params is NULL */
    int status;
    int committed;        /* the op succeeded (after-faults apply) */
    const char *idem_key; /* NaverPay idempotency key (borrowed from headers) */
    enum pgsim_outcome outcome;
    const char *note; /* fault applied, for the log */
    struct event *timer;
    struct event *peer_watch;
    int gone;
    struct timespec t0;
    struct pgsim_req *prev, *next;
};

/* ---- server.c ------------------------------------------------------------------ */

/* The evhttp callback for every request. */
void pgsim_on_request(struct evhttp_request *ev, void *arg);

/* Release every delayed or held request (shutdown). */
void pgsim_release_pending(struct pgsim *sim);

/* Responses. Each replaces any response already prepared. `obj` is taken
 * (freed here). */
void pgsim_reply_json(struct pgsim_req *r, int status, json_object *obj);
void pgsim_reply_text(struct pgsim_req *r, int status, const char *ctype, const char *text,
                      size_t len);
void pgsim_reply_redirect(struct pgsim_req *r, const char *location);
void pgsim_add_header(struct pgsim_req *r, const char *name, const char *value);
const char *pgsim_header(struct pgsim_req *r, const char *name);

/* True when the request's Content-Type media type is `type` (parameters
 * ignored, except that a form's charset, if any, must be utf-8). */
int pgsim_ctype_is(struct pgsim_req *r, const char *type);

/* Constant-time string equality for credentials; NULL never matches. */
int pgsim_secret_eq(const char *given, const char *want);

/* Parameter validation over r->params, for JSON and form bodies alike: a
 * form value is a string, so an integer there must be all digits; a JSON
 * integer must be a JSON integer (not "1000", not 1000.0). The first error
 * sticks in `err` and makes every later call a no-op returning -1. */
struct pgsim_pv {
    json_object *obj;
    int form;
    int missing; /* the first error is a missing field (NaverPay RequireParameter) */
    char err[200];
};

enum { PV_OPT = 0, PV_REQ = 1 };

void pgsim_pv_init(struct pgsim_pv *p, json_object *obj, int form);
/* 1 present and valid, 0 absent (optional), -1 error. `maxchars` counts
 * UTF-8 characters (0: no limit); an empty string counts as absent. */
int pgsim_pv_str(struct pgsim_pv *p, const char *key, int required, size_t maxchars,
                 const char **out);
int pgsim_pv_i64(struct pgsim_pv *p, const char *key, int required, int64_t min, int64_t max,
                 int64_t *out);
/* A JSON value of `type` (array/object); in a form, a string holding one. *out is borrowed
 * from p->obj, or owned by *owned (free it) when parsed from a form string. */
int pgsim_pv_json(struct pgsim_pv *p, const char *key, int required, json_type type,
                  json_object **out, json_object **owned);
/* Fail with a message (printf-style), unless an error is already recorded. */
int pgsim_pv_fail(struct pgsim_pv *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- faults.c ------------------------------------------------------------------ */

void pgsim_faults_reset(struct pgsim_faults *f);
/* Merge a POSTed JSON object into f. 0 ok, -1 with `err` filled (f unchanged). */
int pgsim_faults_merge(struct pgsim *sim, json_object *in, char *err, size_t errlen);
json_object *pgsim_faults_render(const struct pgsim_faults *f);
/* Resolve an op name (see struct pgsim_op) to an op set; 0 if unknown. */
unsigned pgsim_opset_from_name(const char *name);

/* Decisions, each consuming what it fires (fail_next counts). */
int pgsim_fault_pre(struct pgsim *sim, const struct pgsim_op *op, enum pgsim_outcome *outcome,
                    struct pgsim_fault_error *err);
const struct pgsim_fault_error *pgsim_fault_business(struct pgsim *sim, const struct pgsim_op *op,
                                                     struct pgsim_fault_error *buf);
int pgsim_fault_post(struct pgsim *sim, const struct pgsim_op *op, enum pgsim_outcome *outcome);
int64_t pgsim_fault_latency(struct pgsim *sim, const struct pgsim_op *op);

/* A uniform double in [0, 1). */
double pgsim_rand01(struct pgsim *sim);

/* ---- store.c ------------------------------------------------------------------- */

int pgsim_store_init(struct pgsim *sim); /* loads --state-file if set; -1 on error */
void pgsim_store_free(struct pgsim *sim);
void pgsim_store_dirty(struct pgsim *sim); /* schedule a save (coalesced) */
void pgsim_store_flush(struct pgsim *sim); /* save now if dirty */
json_object *pgsim_store_table(struct pgsim *sim, const char *name); /* borrowed */

/* Simulated wall clock: real time plus the /sim/clock offset. */
int64_t pgsim_now(struct pgsim *sim);
/* Korea Standard Time (UTC+9, no DST) formatting and parsing. */
void pgsim_fmt_kst(int64_t t, const char *fmt, char *buf, size_t len);
int pgsim_parse_ymdhms(const char *s, int64_t *out); /* "yyyyMMddHHmmss" KST; -1 if malformed */

/* Random ids. `out` must hold the id and its NUL. */
void pgsim_random_hex(char *out, size_t nchars);
void pgsim_new_kakao_id(struct pgsim *sim, char prefix, char out[21]);
void pgsim_new_naver_id(struct pgsim *sim, const char *tag, char out[21]);

/* Record helpers (json-c objects). Getters return a default when absent. */
const char *pgsim_rec_str(json_object *rec, const char *key);
int64_t pgsim_rec_i64(json_object *rec, const char *key);
json_object *pgsim_rec_get(json_object *rec, const char *key);
void pgsim_rec_set_str(json_object *rec, const char *key, const char *value);
void pgsim_rec_set_i64(json_object *rec, const char *key, int64_t value);

/* Stats (calls per op, faults, calls per payment id). */
void pgsim_stats_init(struct pgsim *sim);
void pgsim_stats_bump(struct pgsim *sim, const char *table, const char *key);
void pgsim_stats_fault(struct pgsim *sim, const struct pgsim_op *op, const char *kind);

/* ---- providers and pages ------------------------------------------------------- */

void pgsim_kakao_handle(struct pgsim_req *r, int legacy);
void pgsim_kakao_fault_reply(struct pgsim_req *r, int legacy, const struct pgsim_fault_error *e);
void pgsim_naver_handle(struct pgsim_req *r, const char *partner, const char *path_id);
void pgsim_naver_fault_reply(struct pgsim_req *r, const struct pgsim_fault_error *e);

/* GET /sim/kakao/{tid}[/action], /sim/naver/{reserveId}[/action], /payments/{reserveId}. */
void pgsim_page_kakao(struct pgsim_req *r, const char *rest);
void pgsim_page_naver(struct pgsim_req *r, const char *rest);
/* Lazy expiry of an unfinished payment; 1 when it is (now) expired. */
int pgsim_kakao_expire(struct pgsim *sim, json_object *rec);
int pgsim_naver_expire(struct pgsim *sim, json_object *rec);

void pgsim_control(struct pgsim_req *r, const char *rest);
void pgsim_index(struct pgsim_req *r);

/* ---- small shared helpers (server.c) ------------------------------------------- */

void pgsim_log(struct pgsim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pgsim_is_http_url(const char *s);
/* url + (? or &) + query, before any #fragment. Caller frees. */
char *pgsim_url_with_query(const char *url, const char *query);
size_t pgsim_utf8_len(const char *s);

#endif
