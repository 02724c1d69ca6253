/*
 * pay.h -- the payments plugin's internal contracts, shared by its sources
 * and its unit tests. Nothing here crosses the plugin boundary: other
 * plugins see only payments_service.h, and the host sees one descriptor.
 *
 * Layout of the plugin (each logic file has its own unit test):
 *   payments.c  the entry file: routes, descriptor, thin handlers
 *   config.c    .env keys -> pay_config
 *   catalog.c   assets/catalog.json -> pay_catalog
 *   order.c     the order record (JSON), its state machine, public view
 *   sign.c      HMAC-SHA256 order signatures with secret rotation
 *   kakao.c     KakaoPay request builders and response parsers (pure)
 *   naver.c     NaverPay request builders and response parsers (pure)
 *   gateway.c   transport outcomes and failure reasons shared by both
 *   flow.c      the asynchronous flows: ready, returns, approve,
 *               reconcile, refund, waiting returns; exactly-once rules
 *   unlock.c    the in-memory set of unlocked result ids
 *   util.c      strings, url/form encoding, clocks
 */
#ifndef MQ_PAYMENTS_PAY_H
#define MQ_PAYMENTS_PAY_H

#include <stddef.h>
#include <stdint.h>

#include "mq_plugin.h"

/* ---- limits and constants ---------------------------------------------------------- */

#define PAY_PROVIDER_KAKAO "kakao"
#define PAY_PROVIDER_NAVER "naver"

/* How long after its creation an order may still be paid: KakaoPay's tid
 * window. ORDER_SECRET_PREV signatures verify only within it. */
#define PAY_WINDOW_MS (15 * 60 * 1000LL)
/* A coupon hold outlives the payment window, so an approval that finishes
 * at the window's edge can still redeem it. */
#define PAY_COUPON_HOLD_TTL_MS (30 * 60 * 1000L)
/* A return that finds its order "approving" polls it this often, this long. */
#define PAY_WAIT_POLL_MS 100
#define PAY_WAIT_DEFAULT_MS 5000
/* Reconciliation of an unknown outcome: first retry after
 * PAY_RECONCILE_INTERVAL_MS (default 5 s), doubling up to 5 min between
 * tries, for at most 30 min. */
#define PAY_RECONCILE_DEFAULT_MS 5000
#define PAY_RECONCILE_MAX_GAP_MS (5 * 60 * 1000LL)
#define PAY_RECONCILE_SPAN_MS (30 * 60 * 1000LL)

#define PAY_ORDER_ID_LEN 26 /* "MQ" + YYYYMMDDHHMMSS + 10 hex */
#define PAY_ID_MAX 64       /* result ids, coupon codes, gateway ids */

/* ---- util.c -------------------------------------------------------------------------- */

/* A growable NUL-terminated string. `data` is NULL until the first append;
 * a failed allocation sets `oom` and later appends do nothing. */
typedef struct pay_buf {
    char *data;
    size_t len, cap;
    int oom;
} pay_buf;

void mq_payments_buf_add(pay_buf *b, const char *s, size_t n);
void mq_payments_buf_puts(pay_buf *b, const char *s);
void mq_payments_buf_printf(pay_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Percent-encode s (RFC 3986 unreserved characters stay) and append it. */
void mq_payments_buf_urlencode(pay_buf *b, const char *s);
/* Append "&key=value" ("key=value" when b is empty), both url-encoded. */
void mq_payments_buf_form(pay_buf *b, const char *key, const char *value);
/* Hand the string over (caller frees); b is empty afterwards. NULL on OOM. */
char *mq_payments_buf_take(pay_buf *b);
void mq_payments_buf_cleanup(pay_buf *b);

/* Copy src into dst[cap]; -1 (dst emptied) when it does not fit or is NULL. */
int mq_payments_copy(char *dst, size_t cap, const char *src);
/* 1 when s is 1..max bytes of [A-Za-z0-9_-]. */
int mq_payments_is_token(const char *s, size_t max);
/* Wall clock in ms since the epoch. */
int64_t mq_payments_now_ms(void);

/* ---- config.c -------------------------------------------------------------------------- */

/* Everything the plugin reads from .env, copied (owned strings). */
typedef struct pay_config {
    int enabled;             /* PAYMENTS_ENABLED (unset: enabled) */
    char *order_secret;      /* ORDER_SECRET; NULL when unset */
    char *order_secret_prev; /* ORDER_SECRET_PREV; NULL when unset */
    char *public_base;       /* PUBLIC_BASE_URL without a trailing '/' */

    char *kakao_base;   /* KAKAOPAY_API_BASE, default https://open-api.kakaopay.com */
    char *kakao_secret; /* KAKAOPAY_SECRET_KEY */
    char *kakao_cid;    /* KAKAOPAY_CID, default TC0ONETIME */

    char *naver_base;          /* NAVERPAY_API_BASE, default https://pay.paygate.naver.com */
    char *naver_partner;       /* NAVERPAY_PARTNER_ID */
    char *naver_client_id;     /* NAVERPAY_CLIENT_ID */
    char *naver_client_secret; /* NAVERPAY_CLIENT_SECRET */
    char *naver_chain_id;      /* NAVERPAY_CHAIN_ID */
    char *naver_page_base;     /* NAVERPAY_PAYMENT_PAGE_BASE: redirect = <it>/<reserveId> */

    uint32_t connect_timeout_ms; /* PAY_CONNECT_TIMEOUT_MS, default 3000 */
    uint32_t timeout_ms;         /* PAY_TIMEOUT_MS, default 10000 */
    uint64_t reconcile_ms;       /* PAY_RECONCILE_INTERVAL_MS, default 5000 */
    uint64_t return_wait_ms;     /* PAY_RETURN_WAIT_MS, default 5000 */
    uint32_t ready_per_minute;   /* PAY_READY_PER_MINUTE per client IP, default 20 */
    uint32_t ready_burst;        /* PAY_READY_BURST, default 10 */

    /* Why a provider cannot be used ("" when it can): shown in logs. */
    char kakao_problem[160];
    char naver_problem[160];
    /* Non-fatal remarks (bad numbers replaced by defaults, an unknown
     * PAYMENTS_ENABLED value), one per line, for the init log. */
    char warnings[512];
} pay_config;

typedef const char *(*pay_config_get_fn)(void *ud, const char *key);

/* Read the config through get(ud, key). Returns MQ_OK or MQ_ENOMEM (then
 * cfg is cleaned up). A missing secret or gateway key is not an error: it
 * marks the provider unusable (see *_problem). */
int mq_payments_config_load(pay_config *cfg, pay_config_get_fn get, void *ud);
void mq_payments_config_cleanup(pay_config *cfg);
/* The problem text for a provider, "" when it is usable, NULL when the
 * provider is unknown. */
const char *mq_payments_config_problem(const pay_config *cfg, const char *provider);

/* ---- catalog.c ---------------------------------------------------------------------------- */

typedef struct pay_product {
    char id[33];
    char name[301];
    long amount; /* KRW, > 0 */
} pay_product;

typedef struct pay_catalog {
    char currency[4]; /* "KRW" */
    pay_product *products;
    size_t n;
} pay_catalog;

/* Parse {"currency":"KRW","products":{"<id>":{"name":..,"amount":..}}}.
 * Every product needs a non-empty name and an integer amount in
 * 1..10000000; the currency must be KRW; "premium_result" must exist.
 * Returns MQ_OK, MQ_EINVAL (cause in err) or MQ_ENOMEM. */
int mq_payments_catalog_parse(const char *json, size_t len, pay_catalog *out, char *err,
                              size_t errlen);
/* Read and parse a file: MQ_EIO when it cannot be read. */
int mq_payments_catalog_load(const char *path, pay_catalog *out, char *err, size_t errlen);
const pay_product *mq_payments_catalog_find(const pay_catalog *c, const char *id);
void mq_payments_catalog_cleanup(pay_catalog *c);

/* ---- order.c -------------------------------------------------------------------------------- */

typedef enum pay_status {
    PAY_ST_NONE = 0, /* not a status: "no record" */
    PAY_ST_CREATED,
    PAY_ST_READY,
    PAY_ST_APPROVING,
    PAY_ST_APPROVED,
    PAY_ST_FAILED,
    PAY_ST_CANCELED,
    PAY_ST_REFUNDED,
} pay_status;

/* One order, as stored in collection "orders" under its id. */
typedef struct pay_order {
    char id[PAY_ORDER_ID_LEN + 6];
    char provider[8];
    char result_id[PAY_ID_MAX + 1];
    char product[33];
    long amount;   /* charged: catalog price minus discount */
    long discount; /* coupon discount, 0 without one */
    char coupon[PAY_ID_MAX + 1];
    pay_status status;
    char tid[PAY_ID_MAX + 1];        /* kakao */
    char reserve_id[PAY_ID_MAX + 1]; /* naver */
    char payment_id[PAY_ID_MAX + 1]; /* naver */
    char aid[PAY_ID_MAX + 1];        /* kakao approval id / naver payHistId */
    char reason[32];
    char sig[65];
    int64_t created_ms;
    int64_t updated_ms;
    long approved_amount; /* 0 until approved */
} pay_order;

const char *mq_payments_status_name(pay_status s);
pay_status mq_payments_status_parse(const char *name);
/* 1 when `from` may become `to`:
 *   created   -> ready | failed
 *   ready     -> approving | failed | canceled
 *   approving -> approved | failed | approving (a reason update)
 *   approved  -> refunded
 * and nothing else (failed, canceled, refunded are final). */
int mq_payments_transition_allowed(pay_status from, pay_status to);

/* "MQ" + YYYYMMDDHHMMSS (Korea time, UTC+9) + 10 hex digits from `rand10`. */
int mq_payments_order_id(char out[PAY_ORDER_ID_LEN + 1], int64_t now_ms, const char *rand10);
/* 1 when s has the shape of an order id. */
int mq_payments_order_id_valid(const char *s);

/* The stored record as JSON (caller frees), NULL on ENOMEM. */
char *mq_payments_order_to_json(const pay_order *o);
/* Parse a stored record; unknown fields are ignored. MQ_OK or MQ_EINVAL
 * (not an object, a missing or bad id/provider/status/amount). */
int mq_payments_order_from_json(const char *json, size_t len, pay_order *o);
/* The public view (GET /api/pay/order/:id): no signature, no gateway ids,
 * no coupon code. Caller frees. */
char *mq_payments_order_public_json(const pay_order *o);
/* An events-collection record {"type":"order.<status>",...}. Caller frees. */
char *mq_payments_order_event_json(const pay_order *o);

/* ---- sign.c -----------------------------------------------------------------------------------
 */

typedef struct pay_signer {
    const mq_api *api;       /* hmac_sha256_hex, secure_equal, metric_add */
    mq_metric *calls;        /* order_sign_calls_total, or NULL */
    const char *secret;      /* ORDER_SECRET */
    const char *prev_secret; /* ORDER_SECRET_PREV, or NULL */
} pay_signer;

/* The text signed: "v1|id|provider|result_id|amount|created_ms". Caller frees. */
char *mq_payments_sign_payload(const pay_order *o);
/* Sign o with the current secret into out. Counts one signature. */
int mq_payments_sign(const pay_signer *s, const pay_order *o, char out[65]);
/* 1 when `sig` is o's signature under the current secret, or under the
 * previous one while o is within its payment window at now_ms. Counts one
 * signature per secret tried. */
int mq_payments_verify(const pay_signer *s, const pay_order *o, const char *sig, int64_t now_ms);

/* ---- gateway.c: outcomes shared by both gateways ----------------------------------------------
 */

/* What a gateway call came to. */
typedef enum pay_outcome {
    PAY_OK = 0,      /* success (for a status lookup: approved) */
    PAY_FAIL = 1,    /* a definite failure: nothing was charged */
    PAY_UNKNOWN = 2, /* the call may or may not have acted: reconcile */
    PAY_PENDING = 3, /* status lookup: the payment is not final yet */
} pay_outcome;

/* Failure reasons, the `reason` label of payment_failure_total. */
#define PAY_R_GATEWAY "gateway_error"
#define PAY_R_TIMEOUT "timeout"
#define PAY_R_USER_CANCEL "user_cancel"
#define PAY_R_AMOUNT "amount_mismatch"
#define PAY_R_DECLINED "declined"
#define PAY_R_UNKNOWN "unknown" /* an order left approving: not a failure label */

extern const char *const mq_payments_reasons[]; /* the five labels, NULL-terminated */

/* A parsed gateway answer. */
typedef struct pay_result {
    pay_outcome outcome;
    const char *reason; /* a PAY_R_* for PAY_FAIL (and the likely one for UNKNOWN) */
    char cause[320];    /* for logs: never holds a secret or a URL */
    char tid[PAY_ID_MAX + 1];
    char aid[PAY_ID_MAX + 1];
    char reserve_id[PAY_ID_MAX + 1];
    char payment_id[PAY_ID_MAX + 1];
    char merchant_key[PAY_ID_MAX + 1]; /* partner_order_id / merchantPayKey */
    char redirect_pc[512];
    char redirect_mobile[512];
    long amount;        /* approved (or canceled) amount, -1 when absent */
    int canceled;       /* lookups: the payment was approved, then fully canceled */
    char gw_status[32]; /* kakao status / naver code, for logs and tests */
} pay_result;

void mq_payments_result_init(pay_result *r);
/* What kind of call a response answers: it decides what a failure means. */
typedef enum pay_call_kind {
    PAY_CALL_START,  /* ready/reserve: no money moves; any failure is FAIL */
    PAY_CALL_MONEY,  /* approve/apply/cancel: a failure after the request
                        went out (resp->sent) or a 5xx is UNKNOWN */
    PAY_CALL_LOOKUP, /* status lookups: any failure is UNKNOWN (ask again) */
} pay_call_kind;

/* Classify a transport failure or an HTTP status outside 2xx before the
 * body is looked at. Returns 1 (r filled) when that settles it:
 *   timeout               reason timeout; FAIL or UNKNOWN by kind
 *   connect/reset/too big reason gateway_error; FAIL or UNKNOWN by kind
 *   5xx                   reason gateway_error; FAIL or UNKNOWN by kind
 *   401, 403              FAIL gateway_error (our keys): never acted on
 * Returns 0 when the caller must parse the body (2xx, other 4xx). */
int mq_payments_classify_transport(const mq_http_response *resp, pay_call_kind kind, pay_result *r);

/* An outbound call: caller cleans it up. */
typedef struct pay_call {
    const char *method;
    char *url;
    char *headers[8]; /* NULL-terminated "Name: value"; may hold secrets: never log */
    char *body;
    size_t body_len;
} pay_call;

void mq_payments_call_cleanup(pay_call *c);

/* ---- kakao.c ------------------------------------------------------------------------------------
 */

/* Builders return MQ_OK, MQ_EINVAL (config missing) or MQ_ENOMEM. */
int mq_payments_kakao_ready(const pay_config *c, const pay_order *o, const pay_product *p,
                            pay_call *out);
int mq_payments_kakao_approve(const pay_config *c, const pay_order *o, const char *pg_token,
                              pay_call *out);
int mq_payments_kakao_order(const pay_config *c, const pay_order *o, pay_call *out);
int mq_payments_kakao_cancel(const pay_config *c, const pay_order *o, long amount, pay_call *out);

/* Parsers fill r from a response. */
void mq_payments_kakao_parse_ready(const mq_http_response *resp, pay_result *r);
void mq_payments_kakao_parse_approve(const mq_http_response *resp, pay_result *r);
/* Status lookup: OK (SUCCESS_PAYMENT, amount = amount.total), PENDING (not
 * final), FAIL (declined/quit/canceled), UNKNOWN (lookup failed). */
void mq_payments_kakao_parse_order(const mq_http_response *resp, pay_result *r);
/* OK when the payment is (now) canceled. */
void mq_payments_kakao_parse_cancel(const mq_http_response *resp, pay_result *r);
/* The PAY_R_* reason for a KakaoPay order status, NULL when not final. */
const char *mq_payments_kakao_status_reason(const char *status);

/* ---- naver.c ------------------------------------------------------------------------------------
 */

int mq_payments_naver_reserve(const pay_config *c, const pay_order *o, const pay_product *p,
                              pay_call *out);
int mq_payments_naver_apply(const pay_config *c, const pay_order *o, const char *payment_id,
                            pay_call *out);
int mq_payments_naver_history(const pay_config *c, const pay_order *o, pay_call *out);
int mq_payments_naver_cancel(const pay_config *c, const pay_order *o, long amount,
                             const char *reason, pay_call *out);
/* The browser URL of a reserved payment: <page base>/<reserveId>. */
char *mq_payments_naver_page_url(const pay_config *c, const char *reserve_id);

void mq_payments_naver_parse_reserve(const mq_http_response *resp, pay_result *r);
void mq_payments_naver_parse_apply(const mq_http_response *resp, pay_result *r);
/* Lookup of o's payment: OK (an approval SUCCESS for o), FAIL, PENDING
 * (no approval yet), UNKNOWN (lookup failed). */
void mq_payments_naver_parse_history(const mq_http_response *resp, const char *payment_id,
                                     pay_result *r);
void mq_payments_naver_parse_cancel(const mq_http_response *resp, pay_result *r);
/* The browser return: resultCode/resultMessage -> PAY_OK (Success) or
 * PAY_FAIL with reason user_cancel, timeout or declined. */
pay_outcome mq_payments_naver_return_outcome(const char *result_code, const char *result_message,
                                             const char **reason);
/* The PAY_R_* reason of a NaverPay envelope code other than Success. */
const char *mq_payments_naver_code_reason(const char *code);

/* ---- unlock.c
 * ------------------------------------------------------------------------------------- */

/* A set of strings (result ids), open addressing. */
typedef struct pay_set {
    char **slots;
    size_t cap, n, used; /* used counts tombstones too */
} pay_set;

int mq_payments_set_add(pay_set *s, const char *key); /* MQ_OK or MQ_ENOMEM */
int mq_payments_set_has(const pay_set *s, const char *key);
void mq_payments_set_remove(pay_set *s, const char *key);
void mq_payments_set_cleanup(pay_set *s);

/* ---- flow.c -------------------------------------------------------------------------------------
 */

/* Metric families, registered at init. */
typedef struct pay_metrics {
    mq_metric *ready_calls; /* payment_ready_calls_total{provider} */
    mq_metric *approvals;   /* payment_approval_total{provider} */
    mq_metric *failures;    /* payment_failure_total{provider,reason} */
    mq_metric *cancels;     /* payment_cancel_total{provider} */
    mq_metric *revenue;     /* revenue_krw_total{provider} */
    mq_metric *sign_calls;  /* order_sign_calls_total */
} pay_metrics;

typedef struct pay_op pay_op;

/* The plugin's state: one per generation, freed by fini. */
typedef struct pay_state {
    const mq_api *api;
    mq_plugin *self;
    pay_config cfg;
    pay_catalog catalog;
    pay_metrics m;
    pay_signer signer;
    pay_op *ops;      /* asynchronous work in flight (the approving set too) */
    pay_set unlocked; /* result ids with an approved order */
} pay_state;

/* Register the metric families and create every series at 0. */
int mq_payments_metrics_init(pay_state *st);
/* Scan the orders: rebuild the unlocked set and schedule reconciliation
 * for every order left "approving". */
int mq_payments_resume(pay_state *st);
/* Free every operation still in flight (the host has cancelled their
 * transfers and timers), then the state's own memory. */
void mq_payments_state_cleanup(pay_state *st);

/* The parsed body of POST /api/pay/ready. */
typedef struct pay_ready_input {
    char provider[8];
    char result_id[PAY_ID_MAX + 1];
    char coupon[PAY_ID_MAX + 1]; /* "" without one */
} pay_ready_input;

/* Parse and validate the body. MQ_OK, or MQ_EINVAL with *code (a stable
 * error code) and *message (Korean, for the user) set. */
int mq_payments_parse_ready(const char *body, size_t len, pay_ready_input *in, const char **code,
                            const char **message);

/* The request flows: each answers or suspends `req`. */
void mq_payments_ready(pay_state *st, mq_req *req, const pay_ready_input *in);
typedef enum pay_kakao_return {
    PAY_KAKAO_APPROVE,
    PAY_KAKAO_CANCEL,
    PAY_KAKAO_FAIL
} pay_kakao_return;
void mq_payments_kakao_return(pay_state *st, mq_req *req, pay_kakao_return kind,
                              const char *order_id, const char *sig, const char *pg_token);
void mq_payments_naver_return(pay_state *st, mq_req *req, const char *order_id, const char *sig,
                              const char *result_code, const char *payment_id,
                              const char *result_message);
void mq_payments_order_status(pay_state *st, mq_req *req, const char *order_id);
void mq_payments_unlocked(pay_state *st, mq_req *req, const char *result_id);

/* The "payments" service (payments_service.h). */
int mq_payments_refund(void *ud, const char *order_id, const char *reason,
                       void (*done)(int status, const char *message, void *cb_ud), void *cb_ud);
int mq_payments_is_unlocked(void *ud, const char *result_id);

#endif /* MQ_PAYMENTS_PAY_H */
