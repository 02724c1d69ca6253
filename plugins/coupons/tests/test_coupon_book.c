/*
 * test_coupon_book.c -- book.c on the fake host: holds, redeems, releases,
 * expiry, per-user limits, the init recount, two generations sharing one
 * store, failed writes, and the invariant under random interleavings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpn.h"
#include "fake_host.h"

#define T0 1000000000000LL
#define MIN (60 * 1000LL)

/* ---- helpers ------------------------------------------------------------------------ */

static cpn_state *state_new(void)
{
    cpn_state *st = calloc(1, sizeof *st);
    st->api = &fake.api;
    st->self = fake_self();
    assert_int_equal(mq_coupons_metrics_init(st), MQ_OK);
    assert_int_equal(mq_coupons_rebuild(st, fake.now_ms), MQ_OK);
    return st;
}

static void state_free(cpn_state *st)
{
    mq_coupons_state_cleanup(st);
    free(st);
}

static int setup(void **s)
{
    fake_reset();
    fake.now_ms = T0;
    *s = state_new();
    return 0;
}

static int teardown(void **s)
{
    state_free(*s);
    fake_reset();
    return 0;
}

static void create(cpn_state *st, const char *code, int kind, long value, long uses, long per_user)
{
    cpn_def d = {.kind = kind, .value = value, .total_uses = uses, .per_user = per_user};
    snprintf(d.code, sizeof d.code, "%s", code);
    assert_int_equal(mq_coupons_create(st, &d, fake.now_ms), MQ_OK);
}

static cpn_def stored(const char *code)
{
    cpn_def d;
    const char *j = fake_store_latest("coupons", code);
    assert_non_null(j);
    assert_int_equal(mq_coupons_def_parse(j, strlen(j), &d), MQ_OK);
    return d;
}

static cpn_hold hold_of(const char *order)
{
    cpn_hold h;
    const char *j = fake_store_latest("coupon_holds", order);
    assert_non_null(j);
    assert_int_equal(mq_coupons_hold_parse(j, strlen(j), &h), MQ_OK);
    return h;
}

static const char *order_id(int i)
{
    static char buf[8][40];
    static int slot;
    char *b = buf[slot++ % 8];
    snprintf(b, 40, "MQ20261127120000%010d", i);
    return b;
}

/* What the hold records say: redeemed and live holds of each of the n
 * codes (one pass from the newest record back: a key's first sighting is
 * its latest record). */
static void truth_of(const char *const *codes, size_t n, long *used, long *held)
{
    memset(used, 0, n * sizeof *used);
    memset(held, 0, n * sizeof *held);
    json_object *seen = json_object_new_object();
    for (size_t i = fake.nrecords; i-- > 0;) {
        fake_record *r = &fake.records[i];
        if (strcmp(r->coll, "coupon_holds") != 0 || json_object_object_get_ex(seen, r->key, NULL))
            continue;
        json_object_object_add(seen, r->key, NULL);
        cpn_hold h;
        assert_int_equal(mq_coupons_hold_parse(r->json, strlen(r->json), &h), MQ_OK);
        for (size_t c = 0; c < n; c++) {
            if (strcmp(h.code, codes[c]) == 0) {
                used[c] += h.state == CPN_REDEEMED;
                held[c] += h.state == CPN_HELD;
            }
        }
    }
    json_object_put(seen);
}

/* The invariant for each code, and counters that never under-count the
 * truth (exact: equal to it). */
static void assert_invariants(const char *const *codes, size_t n, int exact)
{
    long used[16], held[16];
    assert_true(n <= 16);
    truth_of(codes, n, used, held);
    for (size_t c = 0; c < n; c++) {
        cpn_def d = stored(codes[c]);
        assert_true(used[c] + held[c] <= d.total_uses);
        if (exact) {
            assert_int_equal(d.used, used[c]);
            assert_int_equal(d.held, held[c]);
        } else {
            assert_true(d.used + d.held >= used[c] + held[c]);
        }
    }
}

static void assert_invariant(const char *code, int exact)
{
    assert_invariants(&code, 1, exact);
}

/* No order was redeemed twice: at most one coupon.redeem event each. */
static void assert_no_double_redeem(void)
{
    for (size_t i = 0; i < fake.nrecords; i++) {
        fake_record *r = &fake.records[i];
        if (strcmp(r->coll, "events") != 0 || !strstr(r->json, "\"coupon.redeem\""))
            continue;
        const char *o = strstr(r->json, "\"order\":\"");
        assert_non_null(o);
        char needle[80];
        snprintf(needle, sizeof needle, "%.*s", 9 + 26, o);
        size_t n = 0;
        for (size_t k = 0; k < fake.nrecords; k++)
            n += !strcmp(fake.records[k].coll, "events") &&
                 strstr(fake.records[k].json, "\"coupon.redeem\"") &&
                 strstr(fake.records[k].json, needle);
        assert_int_equal(n, 1);
    }
}

/* ---- hold ------------------------------------------------------------------------------ */

static void hold__takes_a_use_and_records_the_hold_and_an_event(void **s)
{
    cpn_state *st = *s;
    create(st, "welcome10", MQ_COUPON_PERCENT, 10, 5, 0);
    assert_int_equal(mq_coupons_hold(st, "WELCOME10", order_id(1), "", 30 * MIN, T0), CPN_OK);
    cpn_def d = stored("WELCOME10");
    assert_int_equal(d.held, 1);
    assert_int_equal(d.used, 0);
    cpn_hold h = hold_of(order_id(1));
    assert_int_equal(h.state, CPN_HELD);
    assert_string_equal(h.code, "WELCOME10");
    assert_int_equal(h.expires_ms, T0 + 30 * MIN);
    assert_int_equal(fake_store_count_matching("events", "\"coupon.hold\""), 1);
    assert_true(fake_metric("coupon_holds_live", "") == 1);
    assert_true(fake_metric("coupon_hold_total", "ok") == 1);
}

static void hold__ten_uses__exactly_ten_orders_get_one(void **s)
{
    cpn_state *st = *s;
    create(st, "TEN", MQ_COUPON_FIXED, 500, 10, 0);
    int ok = 0;
    for (int i = 0; i < 25; i++)
        ok += mq_coupons_hold(st, "TEN", order_id(i), NULL, 30 * MIN, T0) == CPN_OK;
    assert_int_equal(ok, 10);
    assert_true(fake_metric("coupon_hold_total", "ok") == 10);
    assert_true(fake_metric("coupon_hold_total", "exhausted") == 15);
    assert_true(fake_metric("coupon_holds_live", "") == 10);
    long d = 0;
    const char *why = NULL;
    assert_int_equal(mq_coupons_quote(st, "ten", 3900, T0, &d, &why), CPN_EXHAUSTED);
    assert_string_equal(why, "모두 소진된 쿠폰입니다.");
    assert_invariant("TEN", 1);
}

static void hold__repeated_for_the_same_order__is_one_hold(void **s)
{
    cpn_state *st = *s;
    create(st, "AGAIN", MQ_COUPON_FIXED, 500, 3, 0);
    create(st, "OTHER", MQ_COUPON_FIXED, 500, 3, 0);
    assert_int_equal(mq_coupons_hold(st, "AGAIN", order_id(1), NULL, MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_hold(st, "again", order_id(1), NULL, MIN, T0 + 1), CPN_OK);
    assert_int_equal(stored("AGAIN").held, 1);
    assert_int_equal(mq_coupons_hold(st, "OTHER", order_id(1), NULL, MIN, T0), CPN_DUPLICATE);
    assert_int_equal(stored("OTHER").held, 0);
    /* A settled order cannot hold again. */
    assert_int_equal(mq_coupons_redeem(st, order_id(1), T0), MQ_OK);
    assert_int_equal(mq_coupons_hold(st, "AGAIN", order_id(1), NULL, MIN, T0), CPN_DUPLICATE);
    assert_int_equal(stored("AGAIN").used, 1);
    assert_int_equal(stored("AGAIN").held, 0);
}

static void hold__refuses_unknown_disabled_early_late_and_malformed(void **s)
{
    cpn_state *st = *s;
    cpn_def d = {.kind = MQ_COUPON_FIXED,
                 .value = 500,
                 .total_uses = 5,
                 .valid_from_ms = T0 + MIN,
                 .valid_until_ms = T0 + 2 * MIN};
    strcpy(d.code, "WINDOW");
    assert_int_equal(mq_coupons_create(st, &d, T0), MQ_OK);
    assert_int_equal(mq_coupons_hold(st, "NOPE", order_id(1), NULL, MIN, T0), CPN_UNKNOWN);
    assert_int_equal(mq_coupons_hold(st, "WINDOW", order_id(1), NULL, MIN, T0), CPN_NOT_STARTED);
    assert_int_equal(mq_coupons_hold(st, "WINDOW", order_id(1), NULL, MIN, T0 + MIN), CPN_OK);
    assert_int_equal(mq_coupons_hold(st, "WINDOW", order_id(2), NULL, MIN, T0 + 2 * MIN),
                     CPN_EXPIRED);
    assert_int_equal(mq_coupons_disable(st, "window", T0), MQ_OK);
    assert_int_equal(mq_coupons_hold(st, "WINDOW", order_id(3), NULL, MIN, T0 + MIN), CPN_DISABLED);
    assert_int_equal(mq_coupons_hold(st, "BAD CODE", order_id(4), NULL, MIN, T0), CPN_INVALID);
    assert_int_equal(mq_coupons_hold(st, "WINDOW", "bad order", NULL, MIN, T0), CPN_INVALID);
    assert_true(fake_metric("coupon_hold_total", "unknown") == 1);
    assert_true(fake_metric("coupon_hold_total", "not_started") == 1);
    assert_true(fake_metric("coupon_hold_total", "expired") == 1);
    assert_true(fake_metric("coupon_hold_total", "disabled") == 1);
    assert_true(fake_metric("coupon_hold_total", "invalid") == 2);
    /* The hold taken before the disable can still be redeemed. */
    assert_int_equal(mq_coupons_redeem(st, order_id(1), T0 + MIN), MQ_OK);
}

static void hold__ttl_override_and_bounds(void **s)
{
    cpn_state *st = *s;
    create(st, "TTL", MQ_COUPON_FIXED, 500, 10, 0);
    assert_int_equal(mq_coupons_hold(st, "TTL", order_id(1), NULL, 0, T0), CPN_OK);
    assert_int_equal(hold_of(order_id(1)).expires_ms, T0 + CPN_DEFAULT_TTL_MS);
    assert_int_equal(mq_coupons_hold(st, "TTL", order_id(2), NULL, 1000L * 3600 * 48, T0), CPN_OK);
    assert_int_equal(hold_of(order_id(2)).expires_ms, T0 + CPN_MAX_TTL_MS);
    st->ttl_override_ms = 2000;
    assert_int_equal(mq_coupons_hold(st, "TTL", order_id(3), NULL, 30 * MIN, T0), CPN_OK);
    assert_int_equal(hold_of(order_id(3)).expires_ms, T0 + 2000);
    assert_int_equal(hold_of(order_id(3)).ttl_ms, 2000);
}

/* ---- redeem and release ------------------------------------------------------------------ */

static void redeem__turns_the_hold_into_a_use_once(void **s)
{
    cpn_state *st = *s;
    create(st, "ONCE", MQ_COUPON_FIXED, 1000, 2, 0);
    assert_int_equal(mq_coupons_hold(st, "ONCE", order_id(1), NULL, MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_redeem(st, order_id(1), T0 + 1), MQ_OK);
    assert_int_equal(mq_coupons_redeem(st, order_id(1), T0 + 2), MQ_OK); /* a replay */
    cpn_def d = stored("ONCE");
    assert_int_equal(d.used, 1);
    assert_int_equal(d.held, 0);
    assert_int_equal(hold_of(order_id(1)).state, CPN_REDEEMED);
    assert_int_equal(fake_store_count_matching("events", "\"coupon.redeem\""), 1);
    assert_true(fake_metric("coupon_redeem_total", "") == 1);
    assert_true(fake_metric("coupon_holds_live", "") == 0);
    assert_int_equal(mq_coupons_release(st, order_id(1), T0 + 3), MQ_ESTATE);
    assert_int_equal(mq_coupons_redeem(st, order_id(9), T0), MQ_ENOENT);
    assert_int_equal(mq_coupons_release(st, order_id(9), T0), MQ_ENOENT);
    assert_no_double_redeem();
}

static void release__gives_the_use_back_once(void **s)
{
    cpn_state *st = *s;
    create(st, "BACK", MQ_COUPON_FIXED, 1000, 1, 0);
    assert_int_equal(mq_coupons_hold(st, "BACK", order_id(1), NULL, MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_hold(st, "BACK", order_id(2), NULL, MIN, T0), CPN_EXHAUSTED);
    assert_int_equal(mq_coupons_release(st, order_id(1), T0), MQ_OK);
    assert_int_equal(mq_coupons_release(st, order_id(1), T0), MQ_OK);
    assert_int_equal(stored("BACK").held, 0);
    assert_int_equal(fake_store_count_matching("events", "\"coupon.release\""), 1);
    assert_true(fake_metric("coupon_release_total", "released") == 1);
    assert_int_equal(mq_coupons_hold(st, "BACK", order_id(2), NULL, MIN, T0), CPN_OK);
    assert_invariant("BACK", 1);
}

static void redeem__after_release__takes_a_free_use_or_refuses(void **s)
{
    cpn_state *st = *s;
    create(st, "LATE", MQ_COUPON_FIXED, 1000, 1, 0);
    assert_int_equal(mq_coupons_hold(st, "LATE", order_id(1), NULL, MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_release(st, order_id(1), T0), MQ_OK);
    /* The buyer paid anyway and the use is free: it is counted. */
    assert_int_equal(mq_coupons_redeem(st, order_id(1), T0), MQ_OK);
    assert_true(hold_of(order_id(1)).late);
    assert_int_equal(stored("LATE").used, 1);
    /* Another ended hold when nothing is free: refused, never oversold. */
    create(st, "FULL", MQ_COUPON_FIXED, 1000, 1, 0);
    assert_int_equal(mq_coupons_hold(st, "FULL", order_id(2), NULL, MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_release(st, order_id(2), T0), MQ_OK);
    assert_int_equal(mq_coupons_hold(st, "FULL", order_id(3), NULL, MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_redeem(st, order_id(2), T0), MQ_ETOOBIG);
    assert_int_equal(fake_store_count_matching("events", "\"coupon.redeem_refused\""), 1);
    assert_true(fake_logs_contain("redeem coupon \"FULL\" for order"));
    assert_invariant("FULL", 1);
    assert_invariant("LATE", 1);
}

/* ---- expiry ------------------------------------------------------------------------------ */

static void expiry__the_sweep_frees_the_use(void **s)
{
    cpn_state *st = *s;
    create(st, "EXP", MQ_COUPON_FIXED, 1000, 2, 0);
    assert_int_equal(mq_coupons_hold(st, "EXP", order_id(1), NULL, 1000, T0), CPN_OK);
    assert_int_equal(mq_coupons_hold(st, "EXP", order_id(2), NULL, 5000, T0), CPN_OK);
    assert_int_equal(mq_coupons_sweep(st, NULL, T0 + 999), 0);
    assert_int_equal(mq_coupons_sweep(st, NULL, T0 + 1000), 1);
    assert_int_equal(hold_of(order_id(1)).state, CPN_EXPIRED_HOLD);
    assert_int_equal(hold_of(order_id(2)).state, CPN_HELD);
    assert_int_equal(stored("EXP").held, 1);
    assert_true(fake_metric("coupon_release_total", "expired") == 1);
    assert_true(fake_metric("coupon_holds_live", "") == 1);
    assert_int_equal(fake_store_count_matching("events", "\"coupon.expire\""), 1);
    /* Releasing an expired hold is a no-op; the schedule forgot it. */
    assert_int_equal(mq_coupons_release(st, order_id(1), T0 + 2000), MQ_OK);
    assert_int_equal(st->nlive, 1);
    assert_int_equal(mq_coupons_sweep(st, NULL, T0 + 6000), 1);
    assert_int_equal(st->nlive, 0);
    assert_invariant("EXP", 1);
}

static void expiry__a_full_coupon_frees_an_overdue_hold_at_once(void **s)
{
    cpn_state *st = *s;
    create(st, "LAZY", MQ_COUPON_FIXED, 1000, 1, 0);
    assert_int_equal(mq_coupons_hold(st, "LAZY", order_id(1), NULL, 1000, T0), CPN_OK);
    assert_int_equal(mq_coupons_hold(st, "LAZY", order_id(2), NULL, 1000, T0 + 999), CPN_EXHAUSTED);
    /* No sweep ran: the hold attempt itself expires the overdue hold. */
    assert_int_equal(mq_coupons_hold(st, "LAZY", order_id(2), NULL, 1000, T0 + 1000), CPN_OK);
    assert_int_equal(hold_of(order_id(1)).state, CPN_EXPIRED_HOLD);
    assert_invariant("LAZY", 1);
}

/* ---- users -------------------------------------------------------------------------------- */

static void per_user__counts_holds_and_uses_of_one_user(void **s)
{
    cpn_state *st = *s;
    create(st, "ONEEACH", MQ_COUPON_PERCENT, 10, 100, 1);
    assert_int_equal(mq_coupons_hold(st, "ONEEACH", order_id(1), "u1", MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_hold(st, "ONEEACH", order_id(2), "u1", MIN, T0), CPN_USER_LIMIT);
    assert_int_equal(mq_coupons_hold(st, "ONEEACH", order_id(3), "u2", MIN, T0), CPN_OK);
    /* Giving the hold back gives the user's use back. */
    assert_int_equal(mq_coupons_release(st, order_id(1), T0), MQ_OK);
    assert_int_equal(mq_coupons_hold(st, "ONEEACH", order_id(4), "u1", MIN, T0), CPN_OK);
    assert_int_equal(mq_coupons_redeem(st, order_id(4), T0), MQ_OK);
    assert_int_equal(mq_coupons_hold(st, "ONEEACH", order_id(5), "u1", MIN, T0), CPN_USER_LIMIT);
    assert_true(fake_metric("coupon_hold_total", "user_limit") == 2);
    /* An unknown user is not limited (the v1 hold may not know one). */
    assert_int_equal(mq_coupons_hold(st, "ONEEACH", order_id(6), "", MIN, T0), CPN_OK);
}

static void order_user__is_the_orders_uid_else_its_result(void **s)
{
    cpn_state *st = *s;
    char user[CPN_USER_MAX + 1];
    mq_coupons_order_user(st, order_id(1), user, sizeof user);
    assert_string_equal(user, "");
    fake_store_put("orders", order_id(1), "{\"id\":\"o\",\"result_id\":\"res42\"}");
    mq_coupons_order_user(st, order_id(1), user, sizeof user);
    assert_string_equal(user, "res42");
    fake_store_put("orders", order_id(1), "{\"id\":\"o\",\"result_id\":\"res42\",\"uid\":\"abc\"}");
    mq_coupons_order_user(st, order_id(1), user, sizeof user);
    assert_string_equal(user, "abc");
}

static void redeem__learns_the_user_from_the_order_record(void **s)
{
    cpn_state *st = *s;
    create(st, "BIND", MQ_COUPON_PERCENT, 10, 100, 1);
    /* payments holds before it writes the order: no user yet. */
    assert_int_equal(mq_coupons_hold(st, "BIND", order_id(1), "", MIN, T0), CPN_OK);
    fake_store_put("orders", order_id(1), "{\"id\":\"o\",\"result_id\":\"resA\"}");
    assert_int_equal(mq_coupons_redeem(st, order_id(1), T0), MQ_OK);
    assert_string_equal(hold_of(order_id(1)).user, "resA");
    assert_non_null(fake_store_latest("coupon_users", "BIND/resA"));
    assert_non_null(strstr(fake_store_latest("coupon_users", "BIND/resA"), "\"n\":1"));
    /* A later hold that knows the user is limited by that use. */
    assert_int_equal(mq_coupons_hold(st, "BIND", order_id(2), "resA", MIN, T0), CPN_USER_LIMIT);
}

/* ---- restarts, generations, failures ---------------------------------------------------- */

static void rebuild__after_a_restart_keeps_live_holds(void **s)
{
    cpn_state *st = *s;
    create(st, "KEEP", MQ_COUPON_FIXED, 1000, 3, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mq_coupons_hold(st, "KEEP", order_id(i), NULL, 10000, T0), CPN_OK);
    assert_int_equal(mq_coupons_redeem(st, order_id(0), T0), MQ_OK);
    /* The process restarts: the gauge starts from nothing... */
    state_free(st);
    for (size_t i = 0; i < fake.nmetrics; i++)
        fake.metrics[i].value = 0;
    *s = st = state_new();
    /* ...and the new generation finds the two live holds. */
    assert_true(fake_metric("coupon_holds_live", "") == 2);
    assert_int_equal(st->nlive, 2);
    assert_int_equal(mq_coupons_hold(st, "KEEP", order_id(9), NULL, 10000, T0), CPN_EXHAUSTED);
    assert_int_equal(mq_coupons_redeem(st, order_id(1), T0), MQ_OK);
    assert_int_equal(mq_coupons_sweep(st, NULL, T0 + 10000), 1); /* order 2 */
    assert_int_equal(mq_coupons_hold(st, "KEEP", order_id(9), NULL, 10000, T0 + 10000), CPN_OK);
    assert_invariant("KEEP", 1);
}

static void rebuild__repairs_counters_a_crash_left_behind(void **s)
{
    cpn_state *st = *s;
    create(st, "TORN", MQ_COUPON_FIXED, 1000, 5, 1);
    assert_int_equal(mq_coupons_hold(st, "TORN", order_id(1), "u1", MIN, T0), CPN_OK);
    /* A crash between two appends of one change: the counter says 3
     * held, the hold records say 1; the user record says 0. */
    cpn_def d = stored("TORN");
    d.held = 3;
    char *j = mq_coupons_def_json(&d);
    fake_store_put("coupons", "TORN", j);
    free(j);
    fake_store_put("coupon_users", "TORN/u1", "{\"code\":\"TORN\",\"user\":\"u1\",\"n\":0}");
    state_free(st);
    *s = st = state_new();
    assert_int_equal(stored("TORN").held, 1);
    assert_non_null(strstr(fake_store_latest("coupon_users", "TORN/u1"), "\"n\":1"));
    assert_true(fake_logs_contain("repaired"));
    assert_invariant("TORN", 1);
}

static void generations__two_at_once_share_the_truth(void **s)
{
    cpn_state *old = *s;
    create(old, "GEN", MQ_COUPON_FIXED, 1000, 2, 0);
    assert_int_equal(mq_coupons_hold(old, "GEN", order_id(1), NULL, 1000, T0), CPN_OK);
    assert_int_equal(mq_coupons_hold(old, "GEN", order_id(2), NULL, 1000, T0), CPN_OK);
    /* A reload: the new generation starts while the old one drains. */
    cpn_state *cur = state_new();
    assert_int_equal(cur->nlive, 2);
    /* The old one finishes its payments: one approved, one failed. */
    assert_int_equal(mq_coupons_redeem(old, order_id(1), T0 + 10), MQ_OK);
    assert_int_equal(mq_coupons_release(old, order_id(2), T0 + 10), MQ_OK);
    /* The new one sees the freed use at once (the store is shared)... */
    assert_int_equal(mq_coupons_hold(cur, "GEN", order_id(3), NULL, 1000, T0 + 20), CPN_OK);
    assert_int_equal(mq_coupons_hold(cur, "GEN", order_id(4), NULL, 1000, T0 + 20), CPN_EXHAUSTED);
    /* ...and neither sweep gives back what the other settled. */
    assert_int_equal(mq_coupons_sweep(cur, NULL, T0 + 5000), 1); /* order 3 only */
    assert_int_equal(mq_coupons_sweep(old, NULL, T0 + 5000), 0);
    assert_int_equal(cur->nlive, 0);
    assert_int_equal(old->nlive, 0);
    assert_invariant("GEN", 1);
    assert_int_equal(stored("GEN").used, 1);
    state_free(cur);
}

static void failures__a_failed_write_never_gives_a_use_twice(void **s)
{
    cpn_state *st = *s;
    create(st, "FAIL", MQ_COUPON_FIXED, 1000, 1, 0);
    /* The counter write fails: nothing changes. */
    fake.fail_appends = 1;
    assert_int_equal(mq_coupons_hold(st, "FAIL", order_id(1), NULL, MIN, T0), CPN_ERROR);
    assert_int_equal(stored("FAIL").held, 0);
    assert_null(fake_store_latest("coupon_holds", order_id(1)));
    /* The counter is written, the hold record fails, and so does the
     * rollback: the use stays taken (over-counted, never given twice)... */
    fake.fail_append_after = 2;
    assert_int_equal(mq_coupons_hold(st, "FAIL", order_id(1), NULL, MIN, T0), CPN_ERROR);
    fake.fail_appends = 0;
    assert_null(fake_store_latest("coupon_holds", order_id(1)));
    assert_int_equal(stored("FAIL").held, 1);
    assert_invariant("FAIL", 0);
    assert_true(fake_metric("coupon_hold_total", "error") == 2);
    assert_int_equal(mq_coupons_hold(st, "FAIL", order_id(2), NULL, MIN, T0), CPN_EXHAUSTED);
    /* ...until the next init recounts it. */
    state_free(st);
    *s = st = state_new();
    assert_int_equal(stored("FAIL").held, 0);
    /* A release whose counter update fails still ends the hold: the
     * counter over-counts (safe) until the next init repairs it. */
    assert_int_equal(mq_coupons_hold(st, "FAIL", order_id(2), NULL, MIN, T0), CPN_OK);
    fake.fail_append_after = 2;
    assert_int_equal(mq_coupons_release(st, order_id(2), T0), MQ_OK);
    fake.fail_appends = 0;
    assert_int_equal(hold_of(order_id(2)).state, CPN_RELEASED);
    assert_invariant("FAIL", 0);
    state_free(st);
    *s = st = state_new();
    assert_invariant("FAIL", 1);
}

/* ---- the invariant under random interleavings --------------------------------------------- */

static unsigned rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

static void invariant__holds_under_random_interleavings(void **s)
{
    /* Eight coupons, two in play at a time (redeemed uses never come back,
     * so each pair is worked until it is used up, then the next). */
    cpn_state *gens[2] = {*s, NULL};
    char names[8][8];
    const char *codes[8];
    for (int i = 0; i < 8; i++) {
        snprintf(names[i], sizeof names[i], "R%d", i);
        codes[i] = names[i];
        create(gens[0], codes[i], i % 2 ? MQ_COUPON_PERCENT : MQ_COUPON_FIXED, 10, 5 + i,
               i % 2 ? 2 : 0);
    }
    const char *users[] = {"", "u1", "u2", "u3"};
    unsigned seed = 12345;
    int next = 0; /* orders 0..next-1 exist; the recent ones are settled at random */
    for (int step = 0; step < 3000; step++) {
        unsigned op = rnd(&seed) % 100;
        cpn_state *g = gens[gens[1] && rnd(&seed) % 2 ? 1 : 0];
        cpn_state *newest = gens[1] ? gens[1] : gens[0];
        int pick = next - 1 - (int)(rnd(&seed) % 12);
        const char *order = op < 40 ? order_id(next++) : order_id(pick < 0 ? 0 : pick);
        const char *code = codes[(step / 400) * 2 % 8 + rnd(&seed) % 2];
        if (rnd(&seed) % 25 == 0)
            fake.fail_append_after = 1 + (int)(rnd(&seed) % 4);
        if (op < 40) {
            /* New holds are taken by the newest generation only. */
            mq_coupons_hold(newest, code, order, users[rnd(&seed) % 4],
                            (long)(500 + rnd(&seed) % 3000), fake.now_ms);
        } else if (op < 60) {
            mq_coupons_redeem(g, order, fake.now_ms);
        } else if (op < 75) {
            mq_coupons_release(g, order, fake.now_ms);
        } else if (op < 88) {
            fake.now_ms += rnd(&seed) % 1500;
            mq_coupons_sweep(g, NULL, fake.now_ms);
        } else if (op < 94) {
            /* A reload: a new generation beside the old one (at most two). */
            if (gens[1]) {
                state_free(gens[0]);
                *s = gens[0] = gens[1];
            }
            gens[1] = state_new();
        } else if (op < 97) {
            /* A restart: every generation goes. */
            for (int i = 0; i < 2; i++)
                if (gens[i])
                    state_free(gens[i]);
            *s = gens[0] = state_new();
            gens[1] = NULL;
        } else {
            long d = 0;
            mq_coupons_quote(newest, code, 3900, fake.now_ms, &d, NULL);
            assert_true(d >= 0 && d <= 3900);
        }
        fake.fail_appends = 0;
        fake.fail_append_after = 0;
        assert_invariants(codes, 8, 0);
    }
    assert_no_double_redeem();
    if (getenv("FAKE_VERBOSE"))
        for (size_t i = 0; i < fake.nmetrics; i++)
            fprintf(stderr, "%s{%s} %g\n", fake.metrics[i].name, fake.metrics[i].series,
                    fake.metrics[i].value);
    /* The walk went through every kind of step (not a vacuous pass). */
    assert_true(fake_metric("coupon_hold_total", "ok") > 50);
    assert_true(fake_metric("coupon_hold_total", "exhausted") > 50);
    assert_true(fake_metric("coupon_hold_total", "user_limit") > 0);
    assert_true(fake_metric("coupon_hold_total", "error") > 0);
    assert_true(fake_metric("coupon_redeem_total", "") > 20);
    assert_true(fake_metric("coupon_release_total", "released") > 10);
    assert_true(fake_metric("coupon_release_total", "expired") > 10);
    assert_true(fake_store_count_matching("events", "\"late\":true") > 0);
    /* After a restart the counters are exact again. */
    for (int i = 0; i < 2; i++)
        if (gens[i])
            state_free(gens[i]);
    *s = state_new();
    assert_invariants(codes, 8, 1);
}

/* ---- admin -------------------------------------------------------------------------------- */

static void admin__create_disable_list_get(void **s)
{
    cpn_state *st = *s;
    create(st, "spring5000", MQ_COUPON_FIXED, 5000, 100, 1);
    cpn_def d = {.kind = MQ_COUPON_FIXED, .value = 1, .total_uses = 1};
    strcpy(d.code, "SPRING5000");
    assert_int_equal(mq_coupons_create(st, &d, T0), MQ_EEXIST);
    strcpy(d.code, "X");
    assert_int_equal(mq_coupons_create(st, &d, T0), MQ_EINVAL);
    char *one = mq_coupons_get_json(st, "Spring5000");
    assert_non_null(one);
    assert_non_null(strstr(one, "\"code\":\"SPRING5000\""));
    assert_non_null(strstr(one, "\"enabled\":true"));
    free(one);
    assert_null(mq_coupons_get_json(st, "NONE"));
    assert_int_equal(mq_coupons_disable(st, "SPRING5000", T0), MQ_OK);
    assert_int_equal(mq_coupons_disable(st, "SPRING5000", T0), MQ_OK);
    assert_int_equal(mq_coupons_disable(st, "NONE", T0), MQ_ENOENT);
    assert_int_equal(fake_store_count_matching("events", "\"coupon.disable\""), 1);
    long off = 0;
    const char *why = NULL;
    assert_int_equal(mq_coupons_quote(st, "SPRING5000", 3900, T0, &off, &why), CPN_DISABLED);
    create(st, "SECOND", MQ_COUPON_PERCENT, 20, 10, 0);
    char *all = mq_coupons_list_json(st);
    assert_non_null(all);
    assert_true(strstr(all, "SPRING5000") < strstr(all, "SECOND"));
    assert_non_null(strstr(all, "\"enabled\":false"));
    free(all);
}

static void quote__prices_without_taking_a_use(void **s)
{
    cpn_state *st = *s;
    create(st, "Q10", MQ_COUPON_PERCENT, 10, 1, 0);
    long off = -1;
    const char *why = "x";
    assert_int_equal(mq_coupons_quote(st, "q10", 3900, T0, &off, &why), CPN_OK);
    assert_int_equal(off, 390);
    assert_null(why);
    assert_int_equal(stored("Q10").held, 0);
    assert_int_equal(mq_coupons_quote(st, "NOPE", 3900, T0, &off, &why), CPN_UNKNOWN);
    assert_int_equal(off, 0);
    assert_string_equal(why, "존재하지 않는 쿠폰입니다.");
    assert_int_equal(mq_coupons_quote(st, "Q10", -1, T0, &off, &why), CPN_INVALID);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(hold__takes_a_use_and_records_the_hold_and_an_event),
        T(hold__ten_uses__exactly_ten_orders_get_one),
        T(hold__repeated_for_the_same_order__is_one_hold),
        T(hold__refuses_unknown_disabled_early_late_and_malformed),
        T(hold__ttl_override_and_bounds),
        T(redeem__turns_the_hold_into_a_use_once),
        T(release__gives_the_use_back_once),
        T(redeem__after_release__takes_a_free_use_or_refuses),
        T(expiry__the_sweep_frees_the_use),
        T(expiry__a_full_coupon_frees_an_overdue_hold_at_once),
        T(per_user__counts_holds_and_uses_of_one_user),
        T(order_user__is_the_orders_uid_else_its_result),
        T(redeem__learns_the_user_from_the_order_record),
        T(rebuild__after_a_restart_keeps_live_holds),
        T(rebuild__repairs_counters_a_crash_left_behind),
        T(generations__two_at_once_share_the_truth),
        T(failures__a_failed_write_never_gives_a_use_twice),
        T(invariant__holds_under_random_interleavings),
        T(admin__create_disable_list_get),
        T(quote__prices_without_taking_a_use),
    };
    return cmocka_run_group_tests_name("coupon_book", tests, NULL, NULL);
}
