/*
 * cpn.h -- the coupons plugin's internals, shared by its logic files
 * (coupon.c, book.c, seed.c) and its entry file (coupons.c), and reached
 * by the unit tests.
 *
 * The store is the truth. Every decision re-reads the records it depends
 * on (store_get: one pread from the page cache) and every change appends
 * new versions of them, so two generations alive at once during a reload
 * (the old one finishing its payments, the new one taking new holds) never
 * act on a stale copy. What a generation keeps in memory is only its
 * schedule of holds to expire -- a hint re-checked against the store.
 *
 * Collections (one JSON object per line; the host adds "k", "ts", "v"):
 *   coupons        key = CODE    the coupon and its counters:
 *                  {"v":1,"code","kind","value","total_uses","per_user",
 *                   "valid_from_ms","valid_until_ms","enabled","used","held",
 *                   "created_ms","updated_ms"}
 *   coupon_holds   key = order   {"v":1,"order","code","user","state",
 *                   "ttl_ms","expires_ms","held_ms","updated_ms","late"}
 *                  state: held -> redeemed | released | expired
 *                  (released/expired -> redeemed only as a "late" redeem)
 *   coupon_users   key = CODE/user   {"v":1,"code","user","n"}: uses of
 *                  the code by that user (redeemed + live holds)
 *   events         {"v":1,"type":"coupon.<what>","code","order",...}
 *                  what = create, disable, hold, redeem, release, expire,
 *                  redeem_refused
 *
 * The hold records are the ground truth of the counters: init recounts
 * them and repairs a coupon or user record that disagrees (possible only
 * after a crash or a failed write between two appends of one change).
 * Appends are ordered so that such a gap errs on the safe side: taking a
 * use raises the counter before the hold record is written; giving one
 * back writes the hold record before lowering the counter.
 */
#ifndef MQ_COUPONS_CPN_H
#define MQ_COUPONS_CPN_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "coupons_admin.h"
#include "mq_plugin.h"

#define CPN_CODE_MAX 32  /* coupon codes: 2..32 of [A-Za-z0-9_-], stored upper case */
#define CPN_ORDER_MAX 64 /* order ids: payments' tokens */
#define CPN_USER_MAX 64  /* user ids: a mq_uid cookie or a result id */

#define CPN_DEFAULT_TTL_MS (15 * 60 * 1000LL) /* the gateways' payment window */
#define CPN_MAX_TTL_MS (24 * 60 * 60 * 1000LL)
#define CPN_DEFAULT_SWEEP_MS 30000

#define CPN_COLL_COUPONS "coupons"
#define CPN_COLL_HOLDS "coupon_holds"
#define CPN_COLL_USERS "coupon_users"
#define CPN_COLL_EVENTS "events"

/* Why a coupon can or cannot be used: the label of coupon_hold_total. */
typedef enum cpn_outcome {
    CPN_OK = 0,
    CPN_UNKNOWN,     /* no such code */
    CPN_DISABLED,    /* disabled by an admin */
    CPN_NOT_STARTED, /* before valid_from */
    CPN_EXPIRED,     /* at or after valid_until */
    CPN_EXHAUSTED,   /* used + held = total_uses */
    CPN_USER_LIMIT,  /* this user reached per_user */
    CPN_DUPLICATE,   /* the order already holds a coupon, or its hold is settled */
    CPN_INVALID,     /* a malformed code, order or amount */
    CPN_ERROR,       /* the store failed */
    CPN_OUTCOMES
} cpn_outcome;

/* The metric label ("ok", "unknown", ...), the mq_status a service call
 * returns, and the Korean text payments shows the buyer. */
const char *mq_coupons_outcome_label(cpn_outcome o);
int mq_coupons_outcome_status(cpn_outcome o);
const char *mq_coupons_outcome_reason(cpn_outcome o);

/* ---- coupon.c: the records and the arithmetic ------------------------------------------- */

typedef struct cpn_def {
    char code[CPN_CODE_MAX + 1];
    int kind;   /* MQ_COUPON_PERCENT or MQ_COUPON_FIXED */
    long value; /* percent 1..100, or KRW >= 1 */
    long total_uses;
    long per_user;          /* 0 = no per-user limit */
    int64_t valid_from_ms;  /* 0 = no lower bound */
    int64_t valid_until_ms; /* exclusive; 0 = no upper bound */
    int enabled;
    long used; /* redeemed uses */
    long held; /* live holds */
    int64_t created_ms, updated_ms;
} cpn_def;

typedef enum cpn_hold_state {
    CPN_HELD = 1,
    CPN_REDEEMED,
    CPN_RELEASED,
    CPN_EXPIRED_HOLD,
} cpn_hold_state;

typedef struct cpn_hold {
    char order[CPN_ORDER_MAX + 1];
    char code[CPN_CODE_MAX + 1];
    char user[CPN_USER_MAX + 1]; /* "" when unknown */
    cpn_hold_state state;
    int64_t ttl_ms, expires_ms, held_ms, updated_ms;
    int late; /* redeemed after it had been released or had expired */
} cpn_hold;

/* Copy `in` upper-cased into out; -1 unless it is 2..32 of [A-Za-z0-9_-]. */
int mq_coupons_code_norm(const char *in, char out[CPN_CODE_MAX + 1]);
/* 1 when s is 1..max bytes of [A-Za-z0-9_-]. */
int mq_coupons_is_token(const char *s, size_t max);

/* MQ_OK when the definition part of d (code, kind, value, uses, per_user,
 * window) is acceptable; MQ_EINVAL with a cause otherwise. */
int mq_coupons_def_check(const cpn_def *d, const char **cause);

/* The discount on `amount` KRW (amount >= 0): percent rounds down to a
 * whole won; never more than amount, never negative. */
long mq_coupons_discount(const cpn_def *d, long amount);

/* Whether d may be used at `now`, apart from its counters: CPN_OK,
 * CPN_DISABLED, CPN_NOT_STARTED or CPN_EXPIRED. */
cpn_outcome mq_coupons_usable(const cpn_def *d, int64_t now);

/* Records <-> structs. The parsers return MQ_OK or MQ_EINVAL (missing or
 * mistyped member). The writers return a malloc'd JSON text (caller
 * frees) or NULL on ENOMEM; _obj returns a new json_object (caller puts). */
int mq_coupons_def_parse(const char *json, size_t len, cpn_def *d);
json_object *mq_coupons_def_obj(const cpn_def *d);
char *mq_coupons_def_json(const cpn_def *d);
int mq_coupons_hold_parse(const char *json, size_t len, cpn_hold *h);
char *mq_coupons_hold_json(const cpn_hold *h);
const char *mq_coupons_hold_state_name(cpn_hold_state s);

/* "YYYY-MM-DD" as ms since the epoch at the start of that day in Korea
 * (UTC+9, no daylight saving). Returns 0, or -1 when malformed. */
int mq_coupons_kst_day_ms(const char *s, int64_t *ms);

/* Wall clock in ms since the epoch. */
int64_t mq_coupons_now_ms(void);

/* JSON text of a json_object, malloc'd (caller frees); puts o. */
char *mq_coupons_json_take(json_object *o);

/* ---- book.c: coupons, holds and counters on the store ------------------------------------ */

/* A hold this generation will expire unless the store says it settled. */
typedef struct cpn_live {
    char order[CPN_ORDER_MAX + 1];
    char code[CPN_CODE_MAX + 1];
    int64_t expires_ms;
} cpn_live;

typedef struct cpn_state {
    const mq_api *api;
    mq_plugin *self;
    int64_t (*clock_ms)(void); /* the wall clock: mq_coupons_now_ms (tests replace it) */
    int64_t ttl_override_ms;   /* COUPON_HOLD_TTL_MS; 0 = the caller's ttl */
    uint64_t sweep_ms;         /* COUPON_SWEEP_MS */
    mq_timer *sweep_timer;
    cpn_live *live;
    size_t nlive, caplive;
    struct {
        mq_metric *holds_live;    /* gauge coupon_holds_live */
        mq_metric *hold_total;    /* counter coupon_hold_total{result} */
        mq_metric *redeem_total;  /* counter coupon_redeem_total */
        mq_metric *release_total; /* counter coupon_release_total{reason} */
    } m;
} cpn_state;

/* Register the metrics (every series at 0). MQ_OK or MQ_EINVAL. */
int mq_coupons_metrics_init(cpn_state *st);

/* Price `amount` with `code` at `now`: *discount, or a failure whose Korean
 * text goes to *reason (static). Returns the outcome. */
cpn_outcome mq_coupons_quote(cpn_state *st, const char *code, long amount, int64_t now,
                             long *discount, const char **reason);

/* Reserve one use of `code` for `order` until now + ttl (COUPON_HOLD_TTL_MS
 * when set, else ttl_ms, else 15 min; at most 24 h). `user` may be NULL or
 * "" (unknown: no per-user check). A repeated hold of the same order and
 * code while it is live is CPN_OK and changes nothing. */
cpn_outcome mq_coupons_hold(cpn_state *st, const char *code, const char *order, const char *user,
                            long ttl_ms, int64_t now);

/* Turn the hold of `order` into a use. MQ_OK, also when it was redeemed
 * already (nothing changes). A hold that was released or expired is
 * redeemed "late" when a use is still free (the buyer has paid the
 * discounted price); otherwise MQ_ETOOBIG and a coupon.redeem_refused
 * event. MQ_ENOENT: no hold for the order; MQ_EIO: the store failed. */
int mq_coupons_redeem(cpn_state *st, const char *order, int64_t now);

/* Drop the hold of `order`. MQ_OK, also when it was released or expired
 * already; MQ_ESTATE when it was redeemed; MQ_ENOENT; MQ_EIO. */
int mq_coupons_release(cpn_state *st, const char *order, int64_t now);

/* Expire every hold of this generation's schedule whose time has come
 * (re-checked against the store); with `code`, only that coupon's.
 * Returns how many expired. */
int mq_coupons_sweep(cpn_state *st, const char *code, int64_t now);

/* At init: recount every coupon's counters from coupon_holds, repair the
 * coupon and user records that disagree, schedule the live holds and set
 * coupon_holds_live. MQ_OK or a store error. */
int mq_coupons_rebuild(cpn_state *st, int64_t now);

/* The user a hold of `order` is counted against, from the order record
 * payments wrote (orders/<order>): its "uid" (the mq_uid cookie) when it
 * carries one, else its "result_id". "" when there is no such record. */
void mq_coupons_order_user(cpn_state *st, const char *order, char *user, size_t cap);

/* coupons.admin: see coupons_admin.h. create takes d's definition part
 * (counters and times are set here). */
int mq_coupons_create(cpn_state *st, const cpn_def *d, int64_t now);
int mq_coupons_disable(cpn_state *st, const char *code, int64_t now);
char *mq_coupons_list_json(cpn_state *st);
char *mq_coupons_get_json(cpn_state *st, const char *code);

/* Free the schedule (timers are the host's: it stops them). */
void mq_coupons_state_cleanup(cpn_state *st);

/* ---- seed.c: the demo's coupons -------------------------------------------------------- */

/* Create the coupons listed in the seed file at `path` that the store does
 * not know yet (by code: a coupon disabled or used up stays so):
 *   {"coupons":[{"code":"WELCOME10","kind":"percent","value":10,
 *                "total_uses":1000,"per_user":1,
 *                "valid_from":"2026-01-01","valid_until":"2027-01-01"}]}
 * valid_from/valid_until are Korean dates (start of day), optional.
 * A missing file is not an error (*created = 0). Returns MQ_OK, or
 * MQ_EINVAL / MQ_EIO with a cause in err (the release is then refused:
 * a broken seed file is a broken release). */
int mq_coupons_seed_apply(cpn_state *st, const char *path, int64_t now, int *created, char *err,
                          size_t errlen);

#endif /* MQ_COUPONS_CPN_H */
