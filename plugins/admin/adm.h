/*
 * adm.h -- the admin plugin's internal contracts, shared by its sources and
 * its unit tests. Nothing here crosses the plugin boundary: the host sees
 * one descriptor, and the plugin reaches payments and coupons only through
 * their published services.
 *
 * Layout of the plugin (each logic file has its own unit test):
 *   admin.c    the entry file: routes, descriptor, thin handlers, init/fini
 *   config.c   .env keys -> adm_config
 *   util.c     buffers, HTML / CSV / URL escaping, forms, base64, KST time
 *   auth.c     the gate: allowlist, lockout, password (query, Bearer,
 *              Basic), sessions, CSRF tokens, Origin/Referer
 *   logs.c     /admin/logs: filters, rows, counts; HTML, JSON, CSV
 *   views.c    /admin/status, /admin/files, /admin/coupons, page frame
 *   actions.c  POST actions: refund, coupon create/disable, backup,
 *              restore-check; audit events, log lines, metrics
 *
 * No mutable file-scope state: everything lives in adm_state, allocated by
 * init and freed by fini.
 */
#ifndef MQ_ADMIN_ADM_H
#define MQ_ADMIN_ADM_H

#include <stddef.h>
#include <stdint.h>

#include "mq_plugin.h"

/* ---- constants ------------------------------------------------------------------------------ */

#define ADM_SESSION_COOKIE "mq_admin"
#define ADM_SESSION_TTL_MS (12 * 3600 * 1000LL) /* absolute, from login */
#define ADM_SESSION_ID_BYTES 32                 /* 64 hex digits */
#define ADM_COLL_SESSIONS "admin_sessions"
#define ADM_COLL_LOCKOUTS "admin_lockouts"
#define ADM_COLL_EVENTS "events"
#define ADM_COLL_ORDERS "orders"
#define ADM_COLL_HOLDS "coupon_holds"

/* Failed logins: a token bucket per client IP (host-owned, survives
 * reloads) of ADM_FAIL_BURST tokens refilled at ADM_FAIL_PER_MINUTE. The
 * fifth failure inside any 60 s finds it empty and locks the IP out. */
#define ADM_FAIL_BUCKET "admin_login_fail"
#define ADM_FAIL_BURST 4.0
#define ADM_FAIL_PER_MINUTE 1.0
#define ADM_LOCKOUT_DEFAULT_S 900

#define ADM_LIMIT_DEFAULT 100
#define ADM_LIMIT_MAX 10000

#define KST_OFFSET_MS (9 * 3600 * 1000LL) /* Korea: UTC+9, no daylight saving */

/* ---- util.c --------------------------------------------------------------------------------- */

/* A growable NUL-terminated string. `data` is NULL until the first append;
 * a failed allocation sets `oom` and later appends do nothing. */
typedef struct adm_buf {
    char *data;
    size_t len, cap;
    int oom;
} adm_buf;

void mq_admin_buf_add(adm_buf *b, const char *s, size_t n);
void mq_admin_buf_puts(adm_buf *b, const char *s);
void mq_admin_buf_printf(adm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s with & < > " ' as entities: safe in element text and in quoted
 * attribute values. NULL appends nothing. */
void mq_admin_buf_html(adm_buf *b, const char *s);
/* Append s as one RFC 4180 CSV field: quoted (and its quotes doubled) when
 * it holds a comma, quote, CR or LF or starts/ends with a space. A text
 * that a spreadsheet would run as a formula (first character = + - @ TAB
 * CR, except a plain number such as -5) gets a leading apostrophe. */
void mq_admin_buf_csv(adm_buf *b, const char *s);
/* Percent-encode s (RFC 3986 unreserved characters stay) and append it. */
void mq_admin_buf_urlencode(adm_buf *b, const char *s);
/* Hand the string over (caller frees); b is empty afterwards. NULL on OOM. */
char *mq_admin_buf_take(adm_buf *b);
void mq_admin_buf_cleanup(adm_buf *b);

/* Decoded application/x-www-form-urlencoded pairs ('+' is a space). */
#define ADM_FORM_MAX 32
typedef struct adm_form {
    char *mem; /* one allocation holding every name and value */
    size_t memlen;
    const char *name[ADM_FORM_MAX];
    const char *value[ADM_FORM_MAX];
    size_t n;
} adm_form;

/* Parse len bytes. Pairs past ADM_FORM_MAX are dropped; a pair whose
 * decoding holds a NUL byte is dropped. MQ_OK or MQ_ENOMEM. */
int mq_admin_form_parse(adm_form *f, const char *body, size_t len);
/* The first value of `name`, borrowed from f; NULL when absent. */
const char *mq_admin_form_get(const adm_form *f, const char *name);
void mq_admin_form_cleanup(adm_form *f);

/* Standard base64 (padding optional) into out[cap] (NUL-terminated).
 * Returns the decoded length, or -1 when malformed or too long. */
long mq_admin_base64_decode(const char *in, char *out, size_t cap);

/* Wall clock in ms since the epoch. */
int64_t mq_admin_now_ms(void);
/* ms since the epoch as Korean local time "YYYY-MM-DD HH:MM:SS" (out of
 * at least 20 bytes); "" for ms <= 0. */
void mq_admin_fmt_kst(int64_t ms, char *out, size_t cap);
/* A duration in seconds, in Korean ("3일 4시간", "5분", "12초"). */
void mq_admin_fmt_age(int64_t seconds, char *out, size_t cap);
/* Bytes in a human unit ("1.5 MB", "512 B"). */
void mq_admin_fmt_bytes(int64_t bytes, char *out, size_t cap);
/* The start (ms since the epoch) of the Korean day that holds `ms`. */
int64_t mq_admin_kst_day_start(int64_t ms);
/* ms since the epoch of the Korean civil date/time (no range checks). */
int64_t mq_admin_kst_to_ms(int y, int mon, int d, int h, int mi, int s);

/* A time for a filter. Accepted: unix seconds (1..11 digits), unix ms (12+
 * digits), "YYYY-MM-DD" (start of that Korean day), "YYYY-MM-DDTHH:MM" or
 * "YYYY-MM-DD HH:MM[:SS]" (Korean time), either with a "Z" or "+HH:MM" /
 * "-HH:MM" suffix for another zone. *date_only is set for a bare date.
 * Returns 0, or -1 when malformed. */
int mq_admin_parse_time(const char *s, int64_t *ms, int *date_only);

/* 1 when s is 1..max bytes of [A-Za-z0-9_.-]. */
int mq_admin_is_token(const char *s, size_t max);

/* ---- config.c ------------------------------------------------------------------------------- */

typedef struct adm_config {
    char *pass;           /* ADMIN_PASS; NULL (admin off) when unset or empty */
    char *allow_cidrs;    /* ADMIN_ALLOW_CIDRS; NULL: every address */
    int cidrs_invalid;    /* the list does not parse: every request 403 */
    char *public_origin;  /* scheme://host[:port] of PUBLIC_BASE_URL, or NULL */
    int secure_cookie;    /* PUBLIC_BASE_URL is https:// */
    long lockout_s;       /* ADMIN_LOCKOUT_S, default 900 (10..86400) */
    int payments_enabled; /* PAYMENTS_ENABLED as the payments plugin reads it */
    char warnings[512];   /* non-fatal remarks for the init log, one per line */
} adm_config;

typedef const char *(*adm_config_get_fn)(void *ud, const char *key);
/* 1 when `list` parses as a CIDR list, checked by the caller's function
 * (the host's ip_in_cidrs), 0 when not. */
typedef int (*adm_cidrs_valid_fn)(void *ud, const char *list);

/* Read the config through get(ud, key). MQ_OK or MQ_ENOMEM (cfg then
 * cleaned up). Never fails on a bad value: it warns and fails closed. */
int mq_admin_config_load(adm_config *cfg, adm_config_get_fn get, adm_cidrs_valid_fn valid,
                         void *ud);
/* Frees the strings; the password is wiped first. */
void mq_admin_config_cleanup(adm_config *cfg);
/* PAYMENTS_ENABLED as payments reads it: on when unset or 1/true/yes/on,
 * off for anything else (0/false/no/off, or a typo: fail closed). */
int mq_admin_payments_enabled(const char *value);

/* ---- the plugin's state --------------------------------------------------------------------- */

typedef struct adm_state {
    const mq_api *api;
    mq_plugin *self;
    adm_config cfg;
    /* A random key of this generation: CSRF tokens of Basic-auth pages.
     * (Session tokens derive from the session id and survive reloads.) */
    char gen_key[65];
    int64_t (*now_ms)(void); /* mq_admin_now_ms; tests put a fake clock here */
    struct {
        mq_metric *login_failures; /* admin_login_failures_total */
        mq_metric *actions;        /* admin_actions_total{action,result} */
    } m;
} adm_state;

/* ---- auth.c --------------------------------------------------------------------------------- */

typedef enum adm_via {
    ADM_VIA_NONE = 0,
    ADM_VIA_SESSION, /* the session cookie */
    ADM_VIA_PASS,    /* ?pass= (or the login form's pass field) */
    ADM_VIA_BEARER,  /* Authorization: Bearer <pass> */
    ADM_VIA_BASIC,   /* Authorization: Basic base64(any user ":" pass) */
} adm_via;

typedef enum adm_format { ADM_HTML = 0, ADM_JSON, ADM_CSV } adm_format;

/* What the gate learned about an admitted request. */
typedef struct adm_ctx {
    adm_via via;
    adm_format format;
    const char *ip;   /* req_client_ip, borrowed */
    char csrf[65];    /* the token forms must carry ("" when none needed) */
    char session[65]; /* the session id (cookie value) when via session */
} adm_ctx;

const char *mq_admin_via_name(adm_via via);

/* The output format a request asks for: ?format=json|csv, else HTML. */
adm_format mq_admin_format_of(adm_state *st, mq_req *req);

/* The gate every admin route passes. In order: the allowlist (403), the
 * lockout (429 + Retry-After), then the credential: Authorization (Bearer,
 * Basic), ?pass=, the session cookie. A wrong password counts as a failed
 * attempt (metric, log line without the password, the IP's failure bucket;
 * the fifth failure in a minute locks the IP out for ADMIN_LOCKOUT_S) and
 * is answered 401; so is a request with no credential (HTML: a login page).
 * A right ?pass= on a GET for HTML starts a session and answers 303 to the
 * same URL without pass= (the password leaves the browser's history).
 * Returns 1 when the caller may serve the request (ctx filled), 0 when the
 * gate already answered it. */
int mq_admin_gate(adm_state *st, mq_req *req, adm_ctx *ctx);

/* POST checks after the gate: an Origin (else Referer) header, when
 * present, must name this site; an ambient credential (session cookie,
 * Basic) needs the form's csrf field to equal ctx->csrf (secure_equal).
 * Returns 1 when allowed, else answers 403 and returns 0. */
int mq_admin_post_allowed(adm_state *st, mq_req *req, const adm_ctx *ctx, const adm_form *form);

/* 1 when the request's Origin (or, without one, Referer) is absent or
 * names this site: PUBLIC_BASE_URL's origin or http(s)://<Host>. */
int mq_admin_origin_ok(adm_state *st, mq_req *req);

/* The CSRF token of a session id: HMAC-SHA256(session id, purpose). */
int mq_admin_csrf_for_session(adm_state *st, const char *session_id, char out[65]);
/* The CSRF token of Basic-auth pages of this generation. */
int mq_admin_csrf_for_basic(adm_state *st, char out[65]);

/* Start a session: a random id, stored (as a keyed hash, never the id
 * itself) in admin_sessions with its expiry; out gets the id (the cookie
 * value). MQ_OK or a store / CSPRNG error. */
int mq_admin_session_start(adm_state *st, const char *ip, char out[65]);
/* 1 when `id` names a live session (not expired, not ended). */
int mq_admin_session_valid(adm_state *st, const char *id);
/* End a session (logout): a revoked record. MQ_OK or a store error. */
int mq_admin_session_end(adm_state *st, const char *id);
/* The Set-Cookie value for id ("" id: a deletion), into out[cap]. */
void mq_admin_session_cookie(const adm_state *st, const char *id, char *out, size_t cap);

/* GET /admin/login: the allowlist and lockout, then the login form. */
void mq_admin_login_page(adm_state *st, mq_req *req);
/* Handle POST /admin/login (form: pass, next): the allowlist and lockout,
 * then the password; success starts a session and answers 303 to `next`
 * (an /admin path, else /admin/status). */
void mq_admin_login(adm_state *st, mq_req *req);
/* POST /admin/logout after the gate and the POST checks. */
void mq_admin_logout(adm_state *st, mq_req *req, const adm_ctx *ctx);

/* "/admin/..." targets allowed after login: an /admin path without "//",
 * "\\", control characters or a scheme. */
int mq_admin_safe_next(const char *next);

/* Common answers: HTML pages for people, JSON {code, message} for
 * ADM_JSON/ADM_CSV. Every admin answer carries no-store and a strict CSP. */
void mq_admin_security_headers(adm_state *st, mq_req *req);
void mq_admin_send_error(adm_state *st, mq_req *req, adm_format fmt, int status, const char *code,
                         const char *message);
void mq_admin_send_html(adm_state *st, mq_req *req, int status, adm_buf *page);
void mq_admin_send_json(adm_state *st, mq_req *req, int status, const char *json);

/* ---- views.c -------------------------------------------------------------------------------- */

/* The page frame: <head> with the inline CSS, the navigation (with a
 * logout form carrying ctx->csrf when via session). `active` names the
 * current page ("status", "logs", "files", "coupons"). */
void mq_admin_page_begin(adm_buf *b, const char *title, const char *active, const adm_ctx *ctx);
void mq_admin_page_end(adm_buf *b);

/* Render the views from the host's JSON (host_status_json, backups_json)
 * and the store, as HTML (ctx for the forms) or JSON. Return MQ_OK or
 * MQ_ENOMEM / MQ_EINVAL (unparsable host JSON). */
int mq_admin_render_status(adm_state *st, const adm_ctx *ctx, const char *host_json,
                           const char *backups_json, int64_t now_ms, adm_buf *out);
int mq_admin_render_files(adm_state *st, const adm_ctx *ctx, const char *host_json,
                          const char *backups_json, int64_t now_ms, adm_buf *out);
/* coupons_json: the coupons.admin list, or NULL when the service is absent. */
int mq_admin_render_coupons(adm_state *st, const adm_ctx *ctx, const char *coupons_json,
                            int64_t now_ms, adm_buf *out);

/* Live coupon holds: latest records of coupon_holds whose state (or
 * status) is "held" and whose expires_ms is unset or after now_ms. */
long mq_admin_count_live_holds(adm_state *st, int64_t now_ms);

/* Orders created on the Korean day of now_ms, by status. */
typedef struct adm_count {
    char label[48];
    long n;
} adm_count;
#define ADM_COUNT_MAX 24
typedef struct adm_counts {
    adm_count c[ADM_COUNT_MAX];
    size_t n;
    long other; /* labels past ADM_COUNT_MAX */
    long total;
} adm_counts;
void mq_admin_counts_add(adm_counts *c, const char *label);
int mq_admin_orders_today(adm_state *st, int64_t now_ms, adm_counts *out);

/* The newest backup's age in seconds (-1: never), from the host status'
 * last_backup_unix and the backups list, whichever is newer. */
int64_t mq_admin_last_backup_age(const char *host_json, const char *backups_json, int64_t now_ms);

/* ---- logs.c --------------------------------------------------------------------------------- */

enum { ADM_KIND_ALL = 0, ADM_KIND_ORDERS = 1, ADM_KIND_EVENTS = 2 };

typedef struct adm_filter {
    char provider[33]; /* "" = any */
    char status[49];   /* order status, or event type ("order.<status>" matches too) */
    char reason[129];  /* the failure reason / error code */
    char order[65];    /* one order id */
    int64_t from_ms;   /* inclusive; 0 = open */
    int64_t to_ms;     /* exclusive; 0 = open */
    long limit;        /* rows per kind, 1..ADM_LIMIT_MAX */
    int kind;          /* ADM_KIND_* */
} adm_filter;

typedef const char *(*adm_param_fn)(void *ud, const char *name);

/* Read the filters through get(ud, name): provider, status, reason, order,
 * from, to, limit, kind. Returns MQ_OK, or MQ_EINVAL with a Korean cause
 * in err. A date-only `to` includes that whole day. */
int mq_admin_filter_parse(adm_filter *f, adm_param_fn get, void *ud, char *err, size_t errlen);

/* One row: an order (its latest record) or an event. Strings owned. */
typedef enum adm_row_kind { ADM_ROW_ORDER = 1, ADM_ROW_EVENT = 2 } adm_row_kind;
typedef struct adm_row {
    adm_row_kind kind;
    int64_t ts_ms;      /* order: created_ms; event: the record's ts */
    int64_t updated_ms; /* order: updated_ms; event: 0 */
    char *order;        /* order id ("" when none) */
    char *provider;
    char *status; /* order: status; event: type */
    char *reason;
    char *result_id;
    char *detail; /* event: its other fields as "key=value ..." */
    long long amount;
    int has_amount;
} adm_row;

/* Parse one store record into row (kind given). MQ_OK, MQ_EINVAL (not a
 * JSON object) or MQ_ENOMEM. */
int mq_admin_row_parse(adm_row *row, adm_row_kind kind, const char *json, size_t len);
void mq_admin_row_cleanup(adm_row *row);
/* 1 when the row passes every filter. */
int mq_admin_row_matches(const adm_filter *f, const adm_row *row);

/* The rows of one kind that match, newest first, at most f->limit; and
 * the counts by provider, reason and status over every match. */
typedef struct adm_rows {
    adm_row *rows; /* newest first after collect */
    size_t n;
    long matched; /* all matches (before the limit) */
    adm_counts by_provider, by_reason, by_status;
} adm_rows;

/* Scan `orders` (latest record per key) and `events` (every record) of
 * the store. MQ_OK (a missing collection is empty), MQ_EIO, MQ_ENOMEM. */
int mq_admin_logs_collect(adm_state *st, const adm_filter *f, adm_rows *orders, adm_rows *events);
void mq_admin_rows_cleanup(adm_rows *r);

/* Render: CSV (BOM, header, order rows then event rows), JSON, HTML. */
void mq_admin_logs_csv(const adm_rows *orders, const adm_rows *events, adm_buf *out);
int mq_admin_logs_json(const adm_filter *f, const adm_rows *orders, const adm_rows *events,
                       adm_buf *out);
void mq_admin_logs_html(const adm_filter *f, const adm_rows *orders, const adm_rows *events,
                        const adm_ctx *ctx, adm_buf *out);
/* The query string of f ("provider=kakao&limit=100"), without format. */
void mq_admin_filter_query(const adm_filter *f, adm_buf *out);

/* ---- actions.c ------------------------------------------------------------------------------ */

/* POST /admin/actions/<name>, after the gate; each checks the POST rules,
 * acts, logs one line, records an "admin.<action>" event, counts
 * admin_actions_total{action,result} and answers (HTML result page, or
 * JSON with format=json). refund suspends the request until the payments
 * service calls back. */
void mq_admin_action_refund(adm_state *st, mq_req *req, const adm_ctx *ctx);
void mq_admin_action_coupon_create(adm_state *st, mq_req *req, const adm_ctx *ctx);
void mq_admin_action_coupon_disable(adm_state *st, mq_req *req, const adm_ctx *ctx);
void mq_admin_action_backup(adm_state *st, mq_req *req, const adm_ctx *ctx);
void mq_admin_action_restore_check(adm_state *st, mq_req *req, const adm_ctx *ctx);

/* Register the metrics with every series at 0. MQ_OK or MQ_EINVAL. */
int mq_admin_metrics_init(adm_state *st);
/* Count one action outcome. */
void mq_admin_count_action(adm_state *st, const char *action, const char *result);

#endif /* MQ_ADMIN_ADM_H */
