/*
 * ref.h -- the referral plugin's internals, shared by its logic files
 * (code.c, track.c, reward.c) and its entry file (referral.c), and reached
 * by the unit tests.
 *
 * Attribution design (why it works without the order carrying a cookie):
 * a referral pays off when a referred browser buys the premium report of
 * *its own* result. So the link from a sale back to a referrer is kept per
 * result: when the referred visitor's quiz result is created (in their
 * request, cookies at hand), the quiz plugin calls attribute(), which
 * stores result -> code. payments' order.approved carries the order's
 * result_id; the reward goes to that code's owner. No cookie has to reach
 * payments, and a result bought later from another device still counts.
 *
 * Collections (the host adds "k", "ts", "v"):
 *   ref_codes    key = code       {"v":1,"code","result_id","uid","created_ms"}
 *                the code's result and its owner's browser (mq_uid, "" when
 *                unknown: results created before attribute() was called)
 *   ref_attrib   key = result id  {"v":1,"result_id","code","referrer_result",
 *                "uid","created_ms"}: a referred visitor's result (first
 *                write wins)
 *   referrals    key = order id   {"v":1,"order","result_id","code",
 *                "referrer_result","amount","reward","reward_coupon",
 *                "reward_krw","valid_until_ms","refunded","approved_ms",
 *                "updated_ms"}: one per attributed approved order, so a
 *                replayed order.approved finds it and rewards nothing more
 *                reward: pending -> granted -> voided, or none (rewards off)
 *   ref_rewards  key = referrer result id   {"v":1,"result_id","rewards":[
 *                {"order","coupon","krw","status","granted_ms",
 *                "valid_until_ms"}]}: what rewards_json shows the owner
 *   events       referral.visit {code, referrer_result, uid, via},
 *                referral.attrib {result_id, code, referrer_result},
 *                referral.reward {order, code, coupon, krw},
 *                referral.void {order, code, coupon, reward}
 */
#ifndef MQ_REFERRAL_REF_H
#define MQ_REFERRAL_REF_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "mq_plugin.h"
#include "referral_service.h"

#define REF_ID_MAX 64  /* result ids and order ids: [A-Za-z0-9_-]{1,64} */
#define REF_UID_HEX 32 /* mq_uid: 16 random bytes */
#define REF_COUPON_MAX 32

#define REF_COLL_CODES "ref_codes"
#define REF_COLL_ATTRIB "ref_attrib"
#define REF_COLL_REFERRALS "referrals"
#define REF_COLL_REWARDS "ref_rewards"
#define REF_COLL_EVENTS "events"

#define REF_COOKIE_REF "mq_ref"
#define REF_COOKIE_UID "mq_uid"
#define REF_UID_MAX_AGE_S (365 * 24 * 3600)

typedef struct ref_state {
    const mq_api *api;
    mq_plugin *self;
    int64_t (*clock_ms)(void); /* wall clock: mq_referral_now_ms (tests replace it) */
    int secure_cookies;        /* PUBLIC_BASE_URL is https: cookies get Secure */
    int rewards_enabled;       /* REFERRAL_REWARDS (1) */
    long reward_krw;           /* REFERRAL_REWARD_KRW (1000) */
    long reward_days;          /* REFERRAL_REWARD_DAYS (90): the coupon's validity */
    long cookie_days;          /* REFERRAL_COOKIE_DAYS (30): mq_ref's lifetime */
    struct {
        mq_metric *visits;       /* referral_visits_total{via} */
        mq_metric *attributions; /* referral_attributions_total */
        mq_metric *rewards;      /* referral_reward_total */
        mq_metric *voided;       /* referral_reward_voided_total */
        mq_metric *self;         /* referral_self_ignored_total{stage} */
    } m;
} ref_state;

/* ---- code.c: codes, cookies, small helpers --------------------------------------------- */

typedef struct ref_code {
    char code[MQ_REFERRAL_CODE_LEN + 1];
    char result_id[REF_ID_MAX + 1];
    char uid[REF_UID_HEX + 1]; /* "" when the owner is unknown */
} ref_code;

/* 1 when s is 1..max bytes of [A-Za-z0-9_-]. */
int mq_referral_is_token(const char *s, size_t max);
/* Lower-case `in` into out when it is a well-formed code; -1 otherwise. */
int mq_referral_code_norm(const char *in, char out[MQ_REFERRAL_CODE_LEN + 1]);
/* 1 when s is a well-formed mq_uid (32 lowercase hex digits). */
int mq_referral_uid_valid(const char *s);
/* The attempt-th candidate code of result_id (attempt 0..5): 8 characters
 * from HMAC-SHA256("mindquiz-referral-v1", result_id). Returns MQ_OK. */
int mq_referral_code_candidate(const mq_api *api, const char *result_id, int attempt,
                               char out[MQ_REFERRAL_CODE_LEN + 1]);

/* The code's record: MQ_OK, MQ_ENOENT (also for a malformed code). */
int mq_referral_code_lookup(ref_state *st, const char *code, ref_code *out);
/* The code of result_id, recorded in ref_codes on first use (with
 * owner_uid when given; an unknown owner is filled in later, a known one
 * never changes). MQ_OK with *out, MQ_EINVAL, MQ_EIO, MQ_EEXIST (six
 * candidates taken by other results: practically never). With create = 0
 * only looks (MQ_ENOENT when the result has no code yet). */
int mq_referral_code_of(ref_state *st, const char *result_id, const char *owner_uid, int create,
                        ref_code *out);

/* "name=value; Max-Age=N; Path=/; HttpOnly; SameSite=Lax[; Secure]". */
void mq_referral_cookie(char *out, size_t cap, const char *name, const char *value, long max_age_s,
                        int secure);
/* The browser's mq_uid into uid; when it has none (or a malformed one), a
 * new one, set on req's response. Returns MQ_OK or MQ_EIO (no randomness). */
int mq_referral_ensure_uid(ref_state *st, mq_req *req, char uid[REF_UID_HEX + 1]);

/* Append one JSON object to a collection, durable (with req when an
 * answer depends on it). Consumes o. */
int mq_referral_append(ref_state *st, mq_req *req, const char *coll, const char *key,
                       json_object *o);
/* An "events" record {"v":1,"type":type, ...members of o}. Consumes o. */
void mq_referral_event(ref_state *st, mq_req *req, const char *type, json_object *o);
/* The latest record of key as a JSON object (caller puts), or NULL. */
json_object *mq_referral_load(ref_state *st, const char *coll, const char *key);
/* String member or "" ; integer member or def. */
const char *mq_referral_str(json_object *o, const char *k);
int64_t mq_referral_int(json_object *o, const char *k, int64_t def);

int64_t mq_referral_now_ms(void);

/* ---- track.c: visits and attribution ------------------------------------------------------ */

typedef enum ref_visit {
    REF_VISIT_COUNTED, /* a new visit: counted (and mq_ref set if first) */
    REF_VISIT_REPEAT,  /* this browser already carries this code */
    REF_VISIT_SELF,    /* the code's owner: ignored */
    REF_VISIT_UNKNOWN, /* no such code (or malformed) */
} ref_visit;

/* A visit through `code` (via "link" for GET /r/:code, "page" for
 * ?ref=): see on_visit in referral_service.h. *found (may be NULL)
 * receives the code's record when it exists. */
ref_visit mq_referral_visit(ref_state *st, mq_req *req, const char *code, const char *via,
                            ref_code *found);

typedef enum ref_attrib {
    REF_ATTRIB_DONE,    /* result -> code recorded */
    REF_ATTRIB_NONE,    /* no (valid) mq_ref: nothing to attribute */
    REF_ATTRIB_SELF,    /* mq_ref is the visitor's own code: ignored */
    REF_ATTRIB_ALREADY, /* the result was attributed before */
    REF_ATTRIB_ERROR,   /* bad id, or the store failed */
} ref_attrib;

ref_attrib mq_referral_attribute(ref_state *st, mq_req *req, const char *result_id);

/* ---- reward.c: rewards on approval, voids on refund ------------------------------------- */

/* order.approved / order.refunded handlers' bodies (payload: the order). */
void mq_referral_on_approved(ref_state *st, const char *payload, size_t len);
void mq_referral_on_refunded(ref_state *st, const char *payload, size_t len);
/* Grant the rewards left "pending" (the coupons service was missing, or
 * the process stopped between the record and the coupon). Returns how
 * many were granted. */
int mq_referral_repair(ref_state *st);
/* See rewards_json in referral_service.h. */
char *mq_referral_rewards_json(ref_state *st, mq_req *req, const char *result_id);

/* Register the metrics (every series at 0). MQ_OK or MQ_EINVAL. */
int mq_referral_metrics_init(ref_state *st);

#endif /* MQ_REFERRAL_REF_H */
