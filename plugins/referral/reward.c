/*
 * reward.c -- a referral pays: on order.approved for an attributed result,
 * exactly one reward coupon for the referrer (issued through the
 * coupons.admin service); on order.refunded, that coupon is disabled when
 * it has not been used.
 *
 * Exactly once: the referrals record (key = order id) is written before
 * the coupon is created, so a replayed or repeated order.approved finds it
 * and stops. Between the two steps the record says "pending"; the coupon
 * code is in it, so finishing a pending reward later (the next event for
 * the order, or init's repair) creates the same coupon -- MQ_EEXIST then
 * means it exists already -- and only the step "pending -> granted" counts
 * referral_reward_total.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupons_admin.h"
#include "ref.h"

#define REF_DAY_MS (24 * 3600 * 1000LL)

int mq_referral_metrics_init(ref_state *st)
{
    const mq_api *api = st->api;
    static const char *const via[] = {"via", NULL};
    static const char *const stage[] = {"stage", NULL};
    st->m.visits = api->metric_register(st->self, MQ_COUNTER, "referral_visits_total",
                                        "Visits through a referral link (via: link = /r/CODE, "
                                        "page = ?ref=CODE), once per browser and code.",
                                        via, NULL, 0);
    st->m.attributions =
        api->metric_register(st->self, MQ_COUNTER, "referral_attributions_total",
                             "Quiz results created by referred visitors.", NULL, NULL, 0);
    st->m.rewards = api->metric_register(st->self, MQ_COUNTER, "referral_reward_total",
                                         "Referral rewards issued (one per attributed approved "
                                         "order).",
                                         NULL, NULL, 0);
    st->m.voided = api->metric_register(st->self, MQ_COUNTER, "referral_reward_voided_total",
                                        "Referral rewards voided because their order was "
                                        "refunded.",
                                        NULL, NULL, 0);
    st->m.self = api->metric_register(st->self, MQ_COUNTER, "referral_self_ignored_total",
                                      "Self-referrals ignored, by stage.", stage, NULL, 0);
    if (!st->m.visits || !st->m.attributions || !st->m.rewards || !st->m.voided || !st->m.self)
        return MQ_EINVAL;
    const char *vl[][1] = {{"link"}, {"page"}}, *sl[][1] = {{"visit"}, {"attribute"}, {"reward"}};
    for (size_t i = 0; i < 2; i++)
        api->metric_add(st->m.visits, vl[i], 0);
    for (size_t i = 0; i < 3; i++)
        api->metric_add(st->m.self, sl[i], 0);
    api->metric_add(st->m.attributions, NULL, 0);
    api->metric_add(st->m.rewards, NULL, 0);
    api->metric_add(st->m.voided, NULL, 0);
    return MQ_OK;
}

/* ---- helpers -------------------------------------------------------------------------- */

static json_object *parse_payload(const char *payload, size_t len)
{
    if (!payload || len > 1 << 20)
        return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *o = tok ? json_tokener_parse_ex(tok, payload, (int)len) : NULL;
    if (o && (json_tokener_get_error(tok) != json_tokener_success ||
              !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

static void set_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void set_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static int get_bool(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static const mq_coupons_admin_v1 *coupons_admin(ref_state *st, void **ud)
{
    return st->api->service_lookup(st->self, MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION,
                                   ud);
}

/* Set the status of the referrer's reward for `order` in ref_rewards
 * (adding the entry when add is set). */
static void rewards_update(ref_state *st, json_object *rec, const char *status, int add)
{
    const char *referrer = mq_referral_str(rec, "referrer_result");
    const char *order = mq_referral_str(rec, "order");
    json_object *rr = mq_referral_load(st, REF_COLL_REWARDS, referrer);
    json_object *list = NULL;
    if (!rr) {
        rr = json_object_new_object();
        if (!rr)
            return;
        set_str(rr, "result_id", referrer);
    }
    if (!json_object_object_get_ex(rr, "rewards", &list) ||
        !json_object_is_type(list, json_type_array)) {
        list = json_object_new_array();
        json_object_object_add(rr, "rewards", list);
    }
    int found = 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *e = json_object_array_get_idx(list, i);
        if (strcmp(mq_referral_str(e, "order"), order) == 0) {
            set_str(e, "status", status);
            found = 1;
        }
    }
    if (!found && add) {
        json_object *e = json_object_new_object();
        set_str(e, "order", order);
        set_str(e, "coupon", mq_referral_str(rec, "reward_coupon"));
        set_int(e, "krw", mq_referral_int(rec, "reward_krw", 0));
        set_str(e, "status", status);
        set_int(e, "granted_ms", mq_referral_int(rec, "updated_ms", 0));
        set_int(e, "valid_until_ms", mq_referral_int(rec, "valid_until_ms", 0));
        json_object_array_add(list, e);
    }
    mq_referral_append(st, NULL, REF_COLL_REWARDS, referrer, rr);
}

/* ---- granting ----------------------------------------------------------------------------- */

/* pending -> granted: create the coupon, then record it. Returns 1 when
 * the reward was granted now. rec is borrowed. */
static int grant(ref_state *st, json_object *rec)
{
    const char *order = mq_referral_str(rec, "order");
    const char *coupon = mq_referral_str(rec, "reward_coupon");
    void *ud = NULL;
    const mq_coupons_admin_v1 *ca = coupons_admin(st, &ud);
    if (!ca) {
        st->api->log(st->self, MQ_LOG_WARN,
                     "reward for order \"%s\" pending: the coupons.admin service is not loaded",
                     order);
        return 0;
    }
    int64_t now = st->clock_ms();
    int rc = ca->create(ud, coupon, MQ_COUPON_FIXED, (long)mq_referral_int(rec, "reward_krw", 0), 1,
                        1, now, mq_referral_int(rec, "valid_until_ms", 0));
    /* MQ_EEXIST: created by an earlier attempt that stopped before its
     * record (the code is random per order: no one else has it). */
    if (rc != MQ_OK && rc != MQ_EEXIST) {
        st->api->log(st->self, MQ_LOG_ERROR,
                     "create reward coupon \"%s\" for order \"%s\" failed: %s", coupon, order,
                     st->api->strerror(rc));
        return 0;
    }
    json_object *next = json_object_get(rec);
    set_str(next, "reward", "granted");
    set_int(next, "updated_ms", now);
    if (mq_referral_append(st, NULL, REF_COLL_REFERRALS, order, next) != MQ_OK)
        return 0;
    rewards_update(st, rec, "granted", 1);
    json_object *e = json_object_new_object();
    if (e) {
        set_str(e, "order", order);
        set_str(e, "code", mq_referral_str(rec, "code"));
        set_str(e, "coupon", coupon);
        set_int(e, "krw", mq_referral_int(rec, "reward_krw", 0));
    }
    mq_referral_event(st, NULL, "referral.reward", e);
    st->api->metric_add(st->m.rewards, NULL, 1);
    st->api->log(st->self, MQ_LOG_INFO,
                 "referral reward \"%s\" (%lld KRW) for code \"%s\": order \"%s\"", coupon,
                 (long long)mq_referral_int(rec, "reward_krw", 0), mq_referral_str(rec, "code"),
                 order);
    return 1;
}

void mq_referral_on_approved(ref_state *st, const char *payload, size_t len)
{
    json_object *o = parse_payload(payload, len);
    const char *order = mq_referral_str(o, "id"), *result_id = mq_referral_str(o, "result_id");
    json_object *rec = NULL, *attrib = NULL;
    if (!o || strcmp(mq_referral_str(o, "status"), "approved") != 0 ||
        !mq_referral_is_token(order, REF_ID_MAX) || !mq_referral_is_token(result_id, REF_ID_MAX))
        goto out;
    /* Seen this order before: at most finish what it started. */
    if ((rec = mq_referral_load(st, REF_COLL_REFERRALS, order))) {
        if (strcmp(mq_referral_str(rec, "reward"), "pending") == 0 && !get_bool(rec, "refunded"))
            grant(st, rec);
        goto out;
    }
    if (!(attrib = mq_referral_load(st, REF_COLL_ATTRIB, result_id)))
        goto out; /* not a referred result */
    ref_code c;
    if (mq_referral_code_lookup(st, mq_referral_str(attrib, "code"), &c) != MQ_OK)
        goto out;
    const char *buyer = mq_referral_str(attrib, "uid");
    if (strcmp(c.result_id, result_id) == 0 || (c.uid[0] && strcmp(c.uid, buyer) == 0)) {
        const char *lv[] = {"reward"};
        st->api->metric_add(st->m.self, lv, 1);
        goto out;
    }
    int64_t now = st->clock_ms();
    rec = json_object_new_object();
    if (!rec)
        goto out;
    set_str(rec, "order", order);
    set_str(rec, "result_id", result_id);
    set_str(rec, "code", c.code);
    set_str(rec, "referrer_result", c.result_id);
    set_int(rec, "amount", mq_referral_int(o, "amount", 0));
    set_int(rec, "approved_ms", mq_referral_int(o, "updated_ms", now));
    json_object_object_add(rec, "refunded", json_object_new_boolean(0));
    if (st->rewards_enabled) {
        char rnd[11], coupon[REF_COUPON_MAX];
        if (st->api->random_hex(rnd, 5) != MQ_OK)
            goto out;
        for (char *p = rnd; *p; p++)
            *p = (char)(*p >= 'a' ? *p - 'a' + 'A' : *p);
        snprintf(coupon, sizeof coupon, "REF-%s", rnd);
        set_str(rec, "reward", "pending");
        set_str(rec, "reward_coupon", coupon);
        set_int(rec, "reward_krw", st->reward_krw);
        set_int(rec, "valid_until_ms", now + st->reward_days * REF_DAY_MS);
    } else {
        set_str(rec, "reward", "none");
    }
    set_int(rec, "updated_ms", now);
    if (mq_referral_append(st, NULL, REF_COLL_REFERRALS, order, json_object_get(rec)) != MQ_OK)
        goto out; /* nothing recorded: a later event for the order may try again */
    if (st->rewards_enabled)
        grant(st, rec);
out:
    json_object_put(rec);
    json_object_put(attrib);
    json_object_put(o);
}

/* ---- voiding ----------------------------------------------------------------------------- */

/* Whether coupon `code` has been redeemed (1), not (0), or unknown (-1). */
static int coupon_used(const mq_coupons_admin_v1 *ca, void *ud, const char *code)
{
    char *text = ca->get_json(ud, code);
    json_object *o = text ? json_tokener_parse(text) : NULL;
    free(text);
    int used = o ? mq_referral_int(o, "used", 0) > 0 : -1;
    json_object_put(o);
    return used;
}

void mq_referral_on_refunded(ref_state *st, const char *payload, size_t len)
{
    json_object *o = parse_payload(payload, len);
    const char *order = mq_referral_str(o, "id");
    json_object *rec = mq_referral_is_token(order, REF_ID_MAX)
                           ? mq_referral_load(st, REF_COLL_REFERRALS, order)
                           : NULL;
    if (!rec || get_bool(rec, "refunded"))
        goto out; /* not a referral, or handled already */
    const char *coupon = mq_referral_str(rec, "reward_coupon");
    char reward[16]; /* a copy: rec's member is replaced below */
    snprintf(reward, sizeof reward, "%s", mq_referral_str(rec, "reward"));
    const char *next = reward;
    void *ud = NULL;
    const mq_coupons_admin_v1 *ca = coupons_admin(st, &ud);
    if (strcmp(reward, "pending") == 0) {
        /* Never granted; a coupon an interrupted grant created goes too. */
        if (ca)
            ca->disable(ud, coupon);
        next = "voided";
    } else if (strcmp(reward, "granted") == 0) {
        int used = ca ? coupon_used(ca, ud, coupon) : -1;
        if (used == 0 && ca->disable(ud, coupon) == MQ_OK) {
            next = "voided";
        } else {
            st->api->log(st->self, used == 1 ? MQ_LOG_INFO : MQ_LOG_ERROR,
                         "void reward \"%s\" of refunded order \"%s\" %s", coupon, order,
                         used == 1 ? "skipped: it was used already"
                                   : "failed: the coupons service could not disable it");
        }
    }
    json_object *upd = json_object_get(rec);
    json_object_object_add(upd, "refunded", json_object_new_boolean(1));
    set_str(upd, "reward", next); /* next is reward's copy or a literal */
    set_int(upd, "updated_ms", st->clock_ms());
    if (mq_referral_append(st, NULL, REF_COLL_REFERRALS, order, upd) != MQ_OK)
        goto out;
    if (strcmp(next, "voided") == 0 && strcmp(reward, "voided") != 0) {
        if (strcmp(reward, "granted") == 0) {
            rewards_update(st, rec, "voided", 0);
            st->api->metric_add(st->m.voided, NULL, 1);
        }
        json_object *e = json_object_new_object();
        if (e) {
            set_str(e, "order", order);
            set_str(e, "code", mq_referral_str(rec, "code"));
            set_str(e, "coupon", coupon);
            set_str(e, "reward", reward);
        }
        mq_referral_event(st, NULL, "referral.void", e);
        st->api->log(st->self, MQ_LOG_INFO, "referral reward \"%s\" voided: order \"%s\" refunded",
                     coupon, order);
    }
out:
    json_object_put(rec);
    json_object_put(o);
}

/* ---- repair and the owner's view --------------------------------------------------------- */

static int collect_pending(const char *key, const char *json, size_t len, void *ud)
{
    json_object *o = json_tokener_parse(json);
    if (o && strcmp(mq_referral_str(o, "reward"), "pending") == 0 && !get_bool(o, "refunded"))
        json_object_array_add(ud, json_object_new_string(key));
    json_object_put(o);
    return 0;
}

int mq_referral_repair(ref_state *st)
{
    json_object *keys = json_object_new_array();
    if (!keys)
        return 0;
    /* Collect first: grant appends to the collection being scanned. */
    st->api->store_scan(st->self, REF_COLL_REFERRALS, MQ_SCAN_LATEST, collect_pending, keys);
    int granted = 0;
    for (size_t i = 0; i < json_object_array_length(keys); i++) {
        json_object *rec = mq_referral_load(
            st, REF_COLL_REFERRALS, json_object_get_string(json_object_array_get_idx(keys, i)));
        if (rec && strcmp(mq_referral_str(rec, "reward"), "pending") == 0)
            granted += grant(st, rec);
        json_object_put(rec);
    }
    json_object_put(keys);
    return granted;
}

char *mq_referral_rewards_json(ref_state *st, mq_req *req, const char *result_id)
{
    const char *uid = st->api->req_cookie(req, REF_COOKIE_UID);
    ref_code mine;
    if (!mq_referral_uid_valid(uid) ||
        mq_referral_code_of(st, result_id, NULL, 0, &mine) != MQ_OK || !mine.uid[0] ||
        strcmp(mine.uid, uid) != 0)
        return NULL;
    json_object *rr = mq_referral_load(st, REF_COLL_REWARDS, result_id);
    json_object *list = NULL, *out = json_object_new_array();
    if (rr && json_object_object_get_ex(rr, "rewards", &list) &&
        json_object_is_type(list, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(list); i++) {
            json_object *e = json_object_array_get_idx(list, i), *x = json_object_new_object();
            /* Not the order id: that is the buyer's, not the referrer's. */
            set_str(x, "coupon", mq_referral_str(e, "coupon"));
            set_int(x, "krw", mq_referral_int(e, "krw", 0));
            set_str(x, "status", mq_referral_str(e, "status"));
            set_int(x, "granted_ms", mq_referral_int(e, "granted_ms", 0));
            set_int(x, "valid_until_ms", mq_referral_int(e, "valid_until_ms", 0));
            json_object_array_add(out, x);
        }
    }
    json_object_put(rr);
    const char *s = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
    char *text = s ? strdup(s) : NULL;
    json_object_put(out);
    return text;
}
