/*
 * book.c -- coupons, holds and their counters on the store: quote, hold,
 * redeem, release, expiry, the init recount, and the admin calls.
 *
 * Invariant: for every coupon, used + held <= total_uses, where used
 * counts the hold records in state "redeemed" and held those in "held".
 * The loop is single-threaded and every change below re-reads the latest
 * records it depends on before appending new ones, so changes made by
 * different generations (they share the store) serialize like changes made
 * by one. A hold is counted before its record exists and uncounted only
 * after its record says it ended, so a failed write in between leaves a
 * use taken, never a use given twice (init recounts and repairs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpn.h"

/* ---- store access ------------------------------------------------------------------ */

static int append(cpn_state *st, const char *coll, const char *key, char *json)
{
    if (!json)
        return MQ_ENOMEM;
    int rc = st->api->store_append(st->self, NULL, coll, key, json, strlen(json), MQ_STORE_DURABLE);
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_ERROR, "append to \"%s\" key \"%s\" failed: %s", coll, key,
                     st->api->strerror(rc));
    free(json);
    return rc;
}

/* MQ_OK, MQ_ENOENT, or MQ_EINVAL for a record that does not parse. */
static int load_def(cpn_state *st, const char *code, cpn_def *d)
{
    size_t len = 0;
    char *rec = st->api->store_get(st->self, CPN_COLL_COUPONS, code, &len);
    if (!rec)
        return MQ_ENOENT;
    int rc = mq_coupons_def_parse(rec, len, d);
    free(rec);
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_ERROR, "read coupon \"%s\" failed: unreadable record", code);
    return rc;
}

static int put_def(cpn_state *st, cpn_def *d, int64_t now)
{
    d->updated_ms = now;
    return append(st, CPN_COLL_COUPONS, d->code, mq_coupons_def_json(d));
}

static int load_hold(cpn_state *st, const char *order, cpn_hold *h)
{
    size_t len = 0;
    char *rec = st->api->store_get(st->self, CPN_COLL_HOLDS, order, &len);
    if (!rec)
        return MQ_ENOENT;
    int rc = mq_coupons_hold_parse(rec, len, h);
    free(rec);
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_ERROR, "read coupon hold \"%s\" failed: unreadable record",
                     order);
    return rc;
}

static int put_hold(cpn_state *st, cpn_hold *h, int64_t now)
{
    h->updated_ms = now;
    return append(st, CPN_COLL_HOLDS, h->order, mq_coupons_hold_json(h));
}

static void user_key(char *key, size_t cap, const char *code, const char *user)
{
    snprintf(key, cap, "%s/%s", code, user);
}

static long user_count(cpn_state *st, const char *code, const char *user)
{
    char key[CPN_CODE_MAX + CPN_USER_MAX + 2];
    user_key(key, sizeof key, code, user);
    size_t len = 0;
    char *rec = st->api->store_get(st->self, CPN_COLL_USERS, key, &len);
    json_object *j = rec ? json_tokener_parse(rec) : NULL;
    json_object *n = NULL;
    long v = j && json_object_object_get_ex(j, "n", &n) ? (long)json_object_get_int64(n) : 0;
    json_object_put(j);
    free(rec);
    return v > 0 ? v : 0;
}

static int put_user_count(cpn_state *st, const char *code, const char *user, long n)
{
    char key[CPN_CODE_MAX + CPN_USER_MAX + 2];
    user_key(key, sizeof key, code, user);
    json_object *j = json_object_new_object();
    if (j) {
        json_object_object_add(j, "v", json_object_new_int(1));
        json_object_object_add(j, "code", json_object_new_string(code));
        json_object_object_add(j, "user", json_object_new_string(user));
        json_object_object_add(j, "n", json_object_new_int64(n < 0 ? 0 : n));
    }
    return append(st, CPN_COLL_USERS, key, mq_coupons_json_take(j));
}

/* Move the per-user count of (code, user) by delta, when the coupon has a
 * per-user limit and the user is known. */
static void user_adjust(cpn_state *st, const cpn_def *d, const char *user, long delta)
{
    if (d->per_user > 0 && user && *user)
        put_user_count(st, d->code, user, user_count(st, d->code, user) + delta);
}

/* Re-read the coupon and move its counters (never below 0). *out (may be
 * NULL) receives the coupon as written. */
static int adjust(cpn_state *st, const char *code, long d_used, long d_held, int64_t now,
                  cpn_def *out)
{
    cpn_def d;
    int rc = load_def(st, code, &d);
    if (rc != MQ_OK)
        return rc;
    d.used = d.used + d_used < 0 ? 0 : d.used + d_used;
    d.held = d.held + d_held < 0 ? 0 : d.held + d_held;
    rc = put_def(st, &d, now);
    if (out)
        *out = d;
    return rc;
}

/* One "coupon.<what>" record in the events collection. */
static void emit(cpn_state *st, const char *what, const char *code, const cpn_hold *h)
{
    json_object *j = json_object_new_object();
    if (!j)
        return;
    char type[48];
    snprintf(type, sizeof type, "coupon.%s", what);
    json_object_object_add(j, "v", json_object_new_int(1));
    json_object_object_add(j, "type", json_object_new_string(type));
    json_object_object_add(j, "code", json_object_new_string(code));
    if (h) {
        json_object_object_add(j, "order", json_object_new_string(h->order));
        if (h->user[0])
            json_object_object_add(j, "user", json_object_new_string(h->user));
        if (h->state == CPN_HELD)
            json_object_object_add(j, "expires_ms", json_object_new_int64(h->expires_ms));
        if (h->late)
            json_object_object_add(j, "late", json_object_new_boolean(1));
    }
    append(st, CPN_COLL_EVENTS, "", mq_coupons_json_take(j));
}

/* ---- metrics ----------------------------------------------------------------------------- */

int mq_coupons_metrics_init(cpn_state *st)
{
    const mq_api *api = st->api;
    static const char *const result_label[] = {"result", NULL};
    static const char *const reason_label[] = {"reason", NULL};
    st->m.holds_live = api->metric_register(st->self, MQ_GAUGE, "coupon_holds_live",
                                            "Coupon holds taken and not yet redeemed, released "
                                            "or expired.",
                                            NULL, NULL, 0);
    st->m.hold_total =
        api->metric_register(st->self, MQ_COUNTER, "coupon_hold_total",
                             "Coupon hold attempts by result.", result_label, NULL, 0);
    st->m.redeem_total =
        api->metric_register(st->self, MQ_COUNTER, "coupon_redeem_total",
                             "Coupon uses redeemed by approved orders.", NULL, NULL, 0);
    st->m.release_total = api->metric_register(
        st->self, MQ_COUNTER, "coupon_release_total",
        "Coupon holds given back, by reason (released, expired).", reason_label, NULL, 0);
    if (!st->m.holds_live || !st->m.hold_total || !st->m.redeem_total || !st->m.release_total)
        return MQ_EINVAL;
    for (int o = 0; o < CPN_OUTCOMES; o++) {
        const char *lv[] = {mq_coupons_outcome_label((cpn_outcome)o)};
        api->metric_add(st->m.hold_total, lv, 0);
    }
    const char *released[] = {"released"}, *expired[] = {"expired"};
    api->metric_add(st->m.release_total, released, 0);
    api->metric_add(st->m.release_total, expired, 0);
    api->metric_add(st->m.redeem_total, NULL, 0);
    return MQ_OK;
}

static cpn_outcome counted(cpn_state *st, cpn_outcome o)
{
    const char *lv[] = {mq_coupons_outcome_label(o)};
    st->api->metric_add(st->m.hold_total, lv, 1);
    return o;
}

/* ---- the schedule ------------------------------------------------------------------------ */

static void live_add(cpn_state *st, const cpn_hold *h)
{
    if (st->nlive == st->caplive) {
        size_t cap = st->caplive ? st->caplive * 2 : 16;
        cpn_live *n = realloc(st->live, cap * sizeof *n);
        if (!n)
            return; /* the next init schedules it; until then it only counts */
        st->live = n;
        st->caplive = cap;
    }
    cpn_live *l = &st->live[st->nlive++];
    memcpy(l->order, h->order, sizeof l->order);
    memcpy(l->code, h->code, sizeof l->code);
    l->expires_ms = h->expires_ms;
}

static void live_remove(cpn_state *st, const char *order)
{
    for (size_t i = 0; i < st->nlive; i++) {
        if (strcmp(st->live[i].order, order) == 0) {
            st->live[i] = st->live[--st->nlive];
            return;
        }
    }
}

void mq_coupons_state_cleanup(cpn_state *st)
{
    free(st->live);
    st->live = NULL;
    st->nlive = st->caplive = 0;
}

/* ---- users ---------------------------------------------------------------------------------- */

void mq_coupons_order_user(cpn_state *st, const char *order, char *user, size_t cap)
{
    user[0] = '\0';
    size_t len = 0;
    char *rec = st->api->store_get(st->self, "orders", order, &len);
    json_object *j = rec ? json_tokener_parse(rec) : NULL;
    json_object *v = NULL;
    const char *s = NULL;
    if (j && json_object_object_get_ex(j, "uid", &v) && json_object_is_type(v, json_type_string))
        s = json_object_get_string(v);
    if ((!s || !*s) && j && json_object_object_get_ex(j, "result_id", &v) &&
        json_object_is_type(v, json_type_string))
        s = json_object_get_string(v);
    if (s && mq_coupons_is_token(s, CPN_USER_MAX) && strlen(s) < cap)
        memcpy(user, s, strlen(s) + 1);
    json_object_put(j);
    free(rec);
}

/* ---- quote and hold ----------------------------------------------------------------------- */

/* The coupon `code` may take one more use at `now`: CPN_OK with *d, or why
 * not. Expires this generation's overdue holds of the code before it says
 * "exhausted", so an expired hold frees its use at once, not at the next
 * sweep. */
static cpn_outcome check_capacity(cpn_state *st, const char *code, int64_t now, cpn_def *d)
{
    int rc = load_def(st, code, d);
    if (rc == MQ_ENOENT)
        return CPN_UNKNOWN;
    if (rc != MQ_OK)
        return CPN_ERROR;
    cpn_outcome o = mq_coupons_usable(d, now);
    if (o != CPN_OK)
        return o;
    if (d->used + d->held >= d->total_uses) {
        if (mq_coupons_sweep(st, code, now) == 0)
            return CPN_EXHAUSTED;
        if (load_def(st, code, d) != MQ_OK)
            return CPN_ERROR;
        if (d->used + d->held >= d->total_uses)
            return CPN_EXHAUSTED;
    }
    return CPN_OK;
}

cpn_outcome mq_coupons_quote(cpn_state *st, const char *code_in, long amount, int64_t now,
                             long *discount, const char **reason)
{
    char code[CPN_CODE_MAX + 1];
    cpn_def d;
    cpn_outcome o = CPN_INVALID;
    *discount = 0;
    if (mq_coupons_code_norm(code_in, code) == 0 && amount >= 0)
        o = check_capacity(st, code, now, &d);
    if (o == CPN_OK)
        *discount = mq_coupons_discount(&d, amount);
    if (reason)
        *reason = o == CPN_OK ? NULL : mq_coupons_outcome_reason(o);
    return o;
}

cpn_outcome mq_coupons_hold(cpn_state *st, const char *code_in, const char *order, const char *user,
                            long ttl_ms, int64_t now)
{
    char code[CPN_CODE_MAX + 1];
    if (mq_coupons_code_norm(code_in, code) != 0 || !mq_coupons_is_token(order, CPN_ORDER_MAX))
        return counted(st, CPN_INVALID);
    if (!user || !mq_coupons_is_token(user, CPN_USER_MAX))
        user = "";

    cpn_hold h;
    int rc = load_hold(st, order, &h);
    if (rc == MQ_OK) {
        /* The same hold asked for again (a retried call): nothing to do. */
        if (h.state == CPN_HELD && strcmp(h.code, code) == 0 && h.expires_ms > now)
            return CPN_OK;
        return counted(st, CPN_DUPLICATE);
    }
    if (rc != MQ_ENOENT)
        return counted(st, CPN_ERROR);

    cpn_def d;
    cpn_outcome o = check_capacity(st, code, now, &d);
    if (o != CPN_OK)
        return counted(st, o);
    long mine = 0;
    if (d.per_user > 0 && *user && (mine = user_count(st, code, user)) >= d.per_user)
        return counted(st, CPN_USER_LIMIT);

    int64_t ttl = st->ttl_override_ms > 0 ? st->ttl_override_ms
                  : ttl_ms > 0            ? (int64_t)ttl_ms
                                          : CPN_DEFAULT_TTL_MS;
    if (ttl > CPN_MAX_TTL_MS)
        ttl = CPN_MAX_TTL_MS;

    /* Count the use first, then record the hold (see the top of the file). */
    d.held++;
    if (put_def(st, &d, now) != MQ_OK)
        return counted(st, CPN_ERROR);
    if (d.per_user > 0 && *user)
        put_user_count(st, code, user, mine + 1);
    memset(&h, 0, sizeof h);
    snprintf(h.order, sizeof h.order, "%s", order);
    memcpy(h.code, code, sizeof h.code);
    snprintf(h.user, sizeof h.user, "%s", user);
    h.state = CPN_HELD;
    h.ttl_ms = ttl;
    h.held_ms = now;
    h.expires_ms = now + ttl;
    if (put_hold(st, &h, now) != MQ_OK) {
        adjust(st, code, 0, -1, now, NULL);
        user_adjust(st, &d, user, -1);
        return counted(st, CPN_ERROR);
    }
    emit(st, "hold", code, &h);
    live_add(st, &h);
    st->api->metric_add(st->m.holds_live, NULL, 1);
    st->api->log(st->self, MQ_LOG_INFO,
                 "coupon \"%s\" held for order \"%s\" until +%llds (%ld used, %ld held of %ld)",
                 code, order, (long long)(ttl / 1000), d.used, d.held, d.total_uses);
    return counted(st, CPN_OK);
}

/* ---- redeem ------------------------------------------------------------------------------- */

/* A hold made without a known user: learn it now from the order record,
 * so the per-user count includes redeemed uses. */
static void bind_user(cpn_state *st, cpn_hold *h)
{
    if (!h->user[0])
        mq_coupons_order_user(st, h->order, h->user, sizeof h->user);
}

/* The buyer paid with a hold that had ended: take a use now if one is free. */
static int redeem_late(cpn_state *st, cpn_hold *h, int64_t now)
{
    cpn_def d;
    int rc = load_def(st, h->code, &d);
    if (rc != MQ_OK)
        return rc == MQ_ENOENT ? MQ_ENOENT : MQ_EIO;
    if (d.used + d.held >= d.total_uses) {
        emit(st, "redeem_refused", h->code, h);
        st->api->log(st->self, MQ_LOG_ERROR,
                     "redeem coupon \"%s\" for order \"%s\" failed: its hold %s and all %ld uses "
                     "are taken (the order was paid with the discount)",
                     h->code, h->order, mq_coupons_hold_state_name(h->state), d.total_uses);
        return MQ_ETOOBIG;
    }
    const char *was = mq_coupons_hold_state_name(h->state);
    bind_user(st, h);
    d.used++;
    if (put_def(st, &d, now) != MQ_OK)
        return MQ_EIO;
    user_adjust(st, &d, h->user, +1);
    h->state = CPN_REDEEMED;
    h->late = 1;
    if (put_hold(st, h, now) != MQ_OK) {
        adjust(st, h->code, -1, 0, now, NULL);
        user_adjust(st, &d, h->user, -1);
        return MQ_EIO;
    }
    emit(st, "redeem", h->code, h);
    st->api->metric_add(st->m.redeem_total, NULL, 1);
    st->api->log(st->self, MQ_LOG_WARN, "coupon \"%s\" redeemed late by order \"%s\" (hold %s)",
                 h->code, h->order, was);
    return MQ_OK;
}

int mq_coupons_redeem(cpn_state *st, const char *order, int64_t now)
{
    if (!mq_coupons_is_token(order, CPN_ORDER_MAX))
        return MQ_EINVAL;
    cpn_hold h;
    int rc = load_hold(st, order, &h);
    if (rc != MQ_OK)
        return rc == MQ_ENOENT ? MQ_ENOENT : MQ_EIO;
    if (h.state == CPN_REDEEMED)
        return MQ_OK; /* idempotent */
    if (h.state != CPN_HELD)
        return redeem_late(st, &h, now);

    int had_user = h.user[0] != '\0';
    bind_user(st, &h);
    h.state = CPN_REDEEMED;
    if (put_hold(st, &h, now) != MQ_OK)
        return MQ_EIO;
    cpn_def d;
    if (adjust(st, h.code, +1, -1, now, &d) == MQ_OK && !had_user)
        user_adjust(st, &d, h.user, +1);
    emit(st, "redeem", h.code, &h);
    live_remove(st, order);
    st->api->metric_add(st->m.holds_live, NULL, -1);
    st->api->metric_add(st->m.redeem_total, NULL, 1);
    st->api->log(st->self, MQ_LOG_INFO, "coupon \"%s\" redeemed by order \"%s\"", h.code, order);
    return MQ_OK;
}

/* ---- release and expiry ------------------------------------------------------------------- */

/* held -> released or expired (only once due when `to` is expired). */
static int give_back(cpn_state *st, const char *order, cpn_hold_state to, int64_t now, int *changed)
{
    *changed = 0;
    cpn_hold h;
    int rc = load_hold(st, order, &h);
    if (rc != MQ_OK)
        return rc == MQ_ENOENT ? MQ_ENOENT : MQ_EIO;
    if (h.state == CPN_RELEASED || h.state == CPN_EXPIRED_HOLD)
        return MQ_OK; /* idempotent */
    if (h.state == CPN_REDEEMED)
        return MQ_ESTATE;
    if (to == CPN_EXPIRED_HOLD && h.expires_ms > now)
        return MQ_OK; /* not due */
    h.state = to;
    if (put_hold(st, &h, now) != MQ_OK)
        return MQ_EIO;
    cpn_def d;
    if (adjust(st, h.code, 0, -1, now, &d) == MQ_OK)
        user_adjust(st, &d, h.user, -1);
    const char *what = to == CPN_RELEASED ? "release" : "expire";
    emit(st, what, h.code, &h);
    *changed = 1;
    const char *lv[] = {to == CPN_RELEASED ? "released" : "expired"};
    st->api->metric_add(st->m.release_total, lv, 1);
    st->api->metric_add(st->m.holds_live, NULL, -1);
    st->api->log(st->self, MQ_LOG_INFO, "coupon \"%s\" hold of order \"%s\" %s", h.code, order,
                 to == CPN_RELEASED ? "released" : "expired");
    return MQ_OK;
}

int mq_coupons_release(cpn_state *st, const char *order, int64_t now)
{
    if (!mq_coupons_is_token(order, CPN_ORDER_MAX))
        return MQ_EINVAL;
    int changed = 0;
    int rc = give_back(st, order, CPN_RELEASED, now, &changed);
    if (rc != MQ_EIO)
        live_remove(st, order);
    return rc;
}

int mq_coupons_sweep(cpn_state *st, const char *code, int64_t now)
{
    int expired = 0;
    /* Downwards: give_back's live_remove moves the last entry into the
     * removed one's place, which this loop has already visited. */
    for (size_t i = st->nlive; i-- > 0;) {
        if (i >= st->nlive)
            continue;
        cpn_live l = st->live[i];
        if (code && strcmp(l.code, code) != 0)
            continue;
        if (l.expires_ms > now) {
            if (code)
                continue;
            /* Settled by another generation meanwhile? Then forget it. */
            cpn_hold h;
            int rc = load_hold(st, l.order, &h);
            if (rc == MQ_ENOENT || (rc == MQ_OK && h.state != CPN_HELD))
                live_remove(st, l.order);
            continue;
        }
        int changed = 0;
        if (give_back(st, l.order, CPN_EXPIRED_HOLD, now, &changed) != MQ_EIO)
            live_remove(st, l.order);
        expired += changed;
    }
    return expired;
}

/* ---- the init recount --------------------------------------------------------------------- */

typedef struct tally {
    json_object *index; /* key -> int index into rows */
    struct tally_row {
        char key[CPN_CODE_MAX + CPN_USER_MAX + 2];
        long used, held; /* counted from the holds */
        long stored_used, stored_held;
        long per_user;
        int has_record;
    } * rows;
    size_t n, cap;
} tally;

static struct tally_row *tally_get(tally *t, const char *key)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(t->index, key, &v))
        return &t->rows[json_object_get_int(v)];
    if (strlen(key) >= sizeof t->rows[0].key)
        return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct tally_row *r = realloc(t->rows, cap * sizeof *r);
        if (!r)
            return NULL;
        t->rows = r;
        t->cap = cap;
    }
    struct tally_row *r = &t->rows[t->n];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    json_object_object_add(t->index, key, json_object_new_int((int)t->n));
    t->n++;
    return r;
}

typedef struct rebuild_ctx {
    cpn_state *st;
    tally coupons, users;
    cpn_hold *held; /* the live holds, to schedule */
    size_t nheld, capheld;
    int oom;
} rebuild_ctx;

static int scan_coupon(const char *key, const char *json, size_t len, void *ud)
{
    rebuild_ctx *c = ud;
    cpn_def d;
    struct tally_row *r = NULL;
    if (mq_coupons_def_parse(json, len, &d) != MQ_OK)
        return 0;
    if (!(r = tally_get(&c->coupons, d.code))) {
        c->oom = 1;
        return 1;
    }
    r->has_record = 1;
    r->stored_used = d.used;
    r->stored_held = d.held;
    r->per_user = d.per_user;
    return 0;
}

static int scan_hold(const char *key, const char *json, size_t len, void *ud)
{
    rebuild_ctx *c = ud;
    cpn_hold h;
    if (mq_coupons_hold_parse(json, len, &h) != MQ_OK ||
        (h.state != CPN_HELD && h.state != CPN_REDEEMED))
        return 0;
    struct tally_row *r = tally_get(&c->coupons, h.code);
    if (!r) {
        c->oom = 1;
        return 1;
    }
    if (h.state == CPN_HELD) {
        r->held++;
        if (c->nheld == c->capheld) {
            size_t cap = c->capheld ? c->capheld * 2 : 16;
            cpn_hold *n = realloc(c->held, cap * sizeof *n);
            if (!n) {
                c->oom = 1;
                return 1;
            }
            c->held = n;
            c->capheld = cap;
        }
        c->held[c->nheld++] = h;
    } else {
        r->used++;
    }
    if (h.user[0] && r->per_user > 0) {
        char k[CPN_CODE_MAX + CPN_USER_MAX + 2];
        user_key(k, sizeof k, h.code, h.user);
        struct tally_row *u = tally_get(&c->users, k);
        if (!u) {
            c->oom = 1;
            return 1;
        }
        u->used++;
    }
    return 0;
}

static int scan_user(const char *key, const char *json, size_t len, void *ud)
{
    rebuild_ctx *c = ud;
    struct tally_row *u = tally_get(&c->users, key);
    if (!u) {
        c->oom = 1;
        return 1;
    }
    json_object *j = json_tokener_parse(json);
    json_object *n = NULL;
    u->has_record = 1;
    u->stored_used =
        j && json_object_object_get_ex(j, "n", &n) ? (long)json_object_get_int64(n) : 0;
    json_object_put(j);
    return 0;
}

static int scan_ok(int rc)
{
    return rc == MQ_OK || rc == MQ_ENOENT; /* no such collection yet: empty */
}

int mq_coupons_rebuild(cpn_state *st, int64_t now)
{
    rebuild_ctx c = {.st = st};
    c.coupons.index = json_object_new_object();
    c.users.index = json_object_new_object();
    int rc = MQ_ENOMEM;
    if (!c.coupons.index || !c.users.index)
        goto out;
    /* Scan first, write after: nothing appends to a collection being read. */
    if (!scan_ok(rc = st->api->store_scan(st->self, CPN_COLL_COUPONS, MQ_SCAN_LATEST, scan_coupon,
                                          &c)) ||
        !scan_ok(
            rc = st->api->store_scan(st->self, CPN_COLL_HOLDS, MQ_SCAN_LATEST, scan_hold, &c)) ||
        !scan_ok(rc = st->api->store_scan(st->self, CPN_COLL_USERS, MQ_SCAN_LATEST, scan_user, &c)))
        goto out;
    rc = c.oom ? MQ_ENOMEM : MQ_OK;
    if (rc != MQ_OK)
        goto out;

    long live = 0;
    for (size_t i = 0; i < c.coupons.n; i++) {
        struct tally_row *r = &c.coupons.rows[i];
        live += r->held;
        if (!r->has_record || (r->used == r->stored_used && r->held == r->stored_held))
            continue;
        cpn_def d;
        if (load_def(st, r->key, &d) != MQ_OK)
            continue;
        st->api->log(st->self, MQ_LOG_WARN,
                     "coupon \"%s\": counters said %ld used + %ld held, its holds say %ld + %ld: "
                     "repaired",
                     r->key, d.used, d.held, r->used, r->held);
        d.used = r->used;
        d.held = r->held;
        put_def(st, &d, now);
    }
    for (size_t i = 0; i < c.users.n; i++) {
        struct tally_row *u = &c.users.rows[i];
        char *slash = strchr(u->key, '/');
        if (u->used == u->stored_used || !slash)
            continue;
        *slash = '\0';
        put_user_count(st, u->key, slash + 1, u->used);
    }
    for (size_t i = 0; i < c.nheld; i++)
        live_add(st, &c.held[i]);
    st->api->metric_set(st->m.holds_live, NULL, (double)live);
out:
    json_object_put(c.coupons.index);
    json_object_put(c.users.index);
    free(c.coupons.rows);
    free(c.users.rows);
    free(c.held);
    return rc;
}

/* ---- coupons.admin ----------------------------------------------------------------------- */

int mq_coupons_create(cpn_state *st, const cpn_def *in, int64_t now)
{
    if (mq_coupons_def_check(in, NULL) != MQ_OK)
        return MQ_EINVAL;
    cpn_def d = *in, old;
    mq_coupons_code_norm(in->code, d.code);
    int rc = load_def(st, d.code, &old);
    if (rc != MQ_ENOENT)
        return rc == MQ_OK ? MQ_EEXIST : MQ_EIO;
    d.enabled = 1;
    d.used = d.held = 0;
    d.created_ms = now;
    if ((rc = put_def(st, &d, now)) != MQ_OK)
        return rc == MQ_EINVAL ? MQ_EINVAL : MQ_EIO;
    emit(st, "create", d.code, NULL);
    st->api->log(st->self, MQ_LOG_INFO, "coupon \"%s\" created: %ld%s off, %ld uses (%ld per user)",
                 d.code, d.value, d.kind == MQ_COUPON_PERCENT ? "%" : " KRW", d.total_uses,
                 d.per_user);
    return MQ_OK;
}

int mq_coupons_disable(cpn_state *st, const char *code_in, int64_t now)
{
    char code[CPN_CODE_MAX + 1];
    cpn_def d;
    if (mq_coupons_code_norm(code_in, code) != 0)
        return MQ_ENOENT;
    int rc = load_def(st, code, &d);
    if (rc != MQ_OK)
        return rc == MQ_ENOENT ? MQ_ENOENT : MQ_EIO;
    if (!d.enabled)
        return MQ_OK;
    d.enabled = 0;
    if (put_def(st, &d, now) != MQ_OK)
        return MQ_EIO;
    emit(st, "disable", code, NULL);
    st->api->log(st->self, MQ_LOG_INFO, "coupon \"%s\" disabled (%ld used, %ld held)", code, d.used,
                 d.held);
    return MQ_OK;
}

static int list_one(const char *key, const char *json, size_t len, void *ud)
{
    cpn_def d;
    if (mq_coupons_def_parse(json, len, &d) == MQ_OK)
        json_object_array_add(ud, mq_coupons_def_obj(&d));
    return 0;
}

char *mq_coupons_list_json(cpn_state *st)
{
    json_object *arr = json_object_new_array();
    if (!arr)
        return NULL;
    int rc = st->api->store_scan(st->self, CPN_COLL_COUPONS, MQ_SCAN_LATEST, list_one, arr);
    if (!scan_ok(rc)) {
        json_object_put(arr);
        return NULL;
    }
    return mq_coupons_json_take(arr);
}

char *mq_coupons_get_json(cpn_state *st, const char *code_in)
{
    char code[CPN_CODE_MAX + 1];
    cpn_def d;
    if (mq_coupons_code_norm(code_in, code) != 0 || load_def(st, code, &d) != MQ_OK)
        return NULL;
    return mq_coupons_def_json(&d);
}
