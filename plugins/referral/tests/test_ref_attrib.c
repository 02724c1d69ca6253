/*
 * test_ref_attrib.c -- the referral rules, track.c and reward.c on the fake
 * host, with browsers that keep their cookies and a fake coupons.admin:
 * first-touch visits, attribution of referred results, self-referral at
 * every stage, exactly one reward per approved order (replays, restarts
 * between the record and the coupon, a missing coupons service), voiding
 * on refund, and who may see the rewards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coupons_admin.h"
#include "fake_host.h"
#include "ref.h"

/* ---- a fake coupons.admin ------------------------------------------------------------- */

static struct fca {
    char code[40];
    long value, total, per_user;
    int64_t until;
    int enabled;
    long used;
} fca[32];
static size_t nfca;
static int fca_fail, fca_creates, fca_disables;

static struct fca *fca_find(const char *code)
{
    for (size_t i = 0; i < nfca; i++)
        if (strcmp(fca[i].code, code) == 0)
            return &fca[i];
    return NULL;
}

static int fca_create(void *ud, const char *code, int kind, long value, long total, long per_user,
                      int64_t from, int64_t until)
{
    fca_creates++;
    if (fca_fail)
        return MQ_EIO;
    if (fca_find(code))
        return MQ_EEXIST;
    assert_int_equal(kind, MQ_COUPON_FIXED);
    struct fca *c = &fca[nfca++];
    snprintf(c->code, sizeof c->code, "%s", code);
    c->value = value;
    c->total = total;
    c->per_user = per_user;
    c->until = until;
    c->enabled = 1;
    c->used = 0;
    return MQ_OK;
}

static int fca_disable(void *ud, const char *code)
{
    fca_disables++;
    struct fca *c = fca_find(code);
    if (!c)
        return MQ_ENOENT;
    c->enabled = 0;
    return MQ_OK;
}

static char *fca_list(void *ud)
{
    return strdup("[]");
}

static char *fca_get(void *ud, const char *code)
{
    struct fca *c = fca_find(code);
    if (!c)
        return NULL;
    char *s = malloc(200);
    snprintf(s, 200, "{\"code\":\"%s\",\"used\":%ld,\"held\":0,\"enabled\":%s}", c->code, c->used,
             c->enabled ? "true" : "false");
    return s;
}

static const mq_coupons_admin_v1 fca_vtable = {fca_create, fca_disable, fca_list, fca_get};

static void publish_admin(void)
{
    assert_int_equal(
        fake.api.service_publish(fake_self(), MQ_COUPONS_ADMIN_SERVICE, 1, &fca_vtable, NULL),
        MQ_OK);
}

/* ---- browsers -------------------------------------------------------------------------------- */

typedef struct browser {
    char uid[64];
    char ref[64];
} browser;

static ref_state st;

static int64_t fake_clock(void)
{
    return fake.now_ms;
}

static int setup(void **s)
{
    fake_reset();
    memset(fca, 0, sizeof fca);
    nfca = 0;
    fca_fail = fca_creates = fca_disables = 0;
    memset(&st, 0, sizeof st);
    st.api = &fake.api;
    st.self = fake_self();
    st.clock_ms = fake_clock;
    st.rewards_enabled = 1;
    st.reward_krw = 1000;
    st.reward_days = 90;
    st.cookie_days = 30;
    assert_int_equal(mq_referral_metrics_init(&st), MQ_OK);
    publish_admin();
    return 0;
}

static int teardown(void **s)
{
    fake_reset();
    return 0;
}

/* A request from b: its cookies go out; the Set-Cookies that come back are
 * kept (as a browser would). */
static mq_req *req_from(browser *b, char *cookie_buf, size_t cap)
{
    mq_req *r = fake_req_new("GET", "/app/result/x");
    snprintf(cookie_buf, cap, "%s%s%s%s%s", b->uid[0] ? "mq_uid=" : "", b->uid,
             b->uid[0] && b->ref[0] ? "; " : "", b->ref[0] ? "mq_ref=" : "", b->ref);
    if (cookie_buf[0])
        fake_req_header(r, "Cookie", cookie_buf);
    return r;
}

static void keep_cookies(browser *b, mq_req *r)
{
    for (int i = 0; i < 4; i++) {
        const char *set = fake_resp_header(r, "Set-Cookie", i);
        if (!set)
            break;
        char *dst = !strncmp(set, "mq_uid=", 7)   ? b->uid
                    : !strncmp(set, "mq_ref=", 7) ? b->ref
                                                  : NULL;
        assert_non_null(dst);
        const char *v = set + 7;
        snprintf(dst, 64, "%.*s", (int)strcspn(v, ";"), v);
    }
}

static ref_visit visit(browser *b, const char *code)
{
    char cookie[200];
    mq_req *r = req_from(b, cookie, sizeof cookie);
    ref_visit v = mq_referral_visit(&st, r, code, "page", NULL);
    keep_cookies(b, r);
    fake_req_free(r);
    return v;
}

static ref_attrib take_quiz(browser *b, const char *result_id)
{
    char cookie[200];
    mq_req *r = req_from(b, cookie, sizeof cookie);
    ref_attrib a = mq_referral_attribute(&st, r, result_id);
    keep_cookies(b, r);
    fake_req_free(r);
    return a;
}

static char *rewards_seen_by(browser *b, const char *result_id)
{
    char cookie[200];
    mq_req *r = req_from(b, cookie, sizeof cookie);
    char *j = mq_referral_rewards_json(&st, r, result_id);
    fake_req_free(r);
    return j;
}

static const char *code_of(const char *result_id)
{
    static char code[9];
    ref_code c;
    assert_int_equal(mq_referral_code_of(&st, result_id, NULL, 1, &c), MQ_OK);
    memcpy(code, c.code, sizeof code);
    return code;
}

static void approve(const char *order, const char *result_id, long amount)
{
    char p[400];
    snprintf(p, sizeof p,
             "{\"v\":1,\"id\":\"%s\",\"provider\":\"kakao\",\"result_id\":\"%s\",\"amount\":%ld,"
             "\"discount\":0,\"coupon\":\"\",\"status\":\"approved\",\"updated_ms\":%lld}",
             order, result_id, amount, (long long)fake.now_ms);
    mq_referral_on_approved(&st, p, strlen(p));
}

static void refund(const char *order, const char *result_id)
{
    char p[400];
    snprintf(p, sizeof p, "{\"id\":\"%s\",\"result_id\":\"%s\",\"status\":\"refunded\"}", order,
             result_id);
    mq_referral_on_refunded(&st, p, strlen(p));
}

/* A sharer with a result, and a friend referred by it with their own. */
static void sharer_and_friend(browser *sharer, browser *friend)
{
    memset(sharer, 0, sizeof *sharer);
    memset(friend, 0, sizeof *friend);
    assert_int_equal(take_quiz(sharer, "resA"), REF_ATTRIB_NONE);
    assert_int_equal(visit(friend, code_of("resA")), REF_VISIT_COUNTED);
    assert_int_equal(take_quiz(friend, "resB"), REF_ATTRIB_DONE);
}

/* ---- visits -----------------------------------------------------------------------------------
 */

static void visit__counts_once_and_keeps_the_first_touch(void **s)
{
    browser sharer = {0}, other = {0}, friend = {0};
    take_quiz(&sharer, "resA");
    take_quiz(&other, "resX");
    const char *ca = code_of("resA");
    char code_a[9], code_x[9];
    snprintf(code_a, sizeof code_a, "%s", ca);
    snprintf(code_x, sizeof code_x, "%s", code_of("resX"));

    assert_int_equal(visit(&friend, code_a), REF_VISIT_COUNTED);
    assert_true(mq_referral_uid_valid(friend.uid));
    assert_string_equal(friend.ref, code_a);
    assert_int_equal(visit(&friend, code_a), REF_VISIT_REPEAT);
    /* Another sharer's link: a visit for them, but the first touch stays. */
    assert_int_equal(visit(&friend, code_x), REF_VISIT_COUNTED);
    assert_string_equal(friend.ref, code_a);
    assert_true(fake_metric("referral_visits_total", "page") == 2);
    assert_int_equal(fake_store_count_matching("events", "\"referral.visit\""), 2);
    /* Upper case in the URL is the same code; nonsense is ignored. */
    char upper[9];
    for (int i = 0; i < 8; i++)
        upper[i] = (char)(code_a[i] >= 'a' ? code_a[i] - 32 : code_a[i]);
    upper[8] = '\0';
    assert_int_equal(visit(&friend, upper), REF_VISIT_REPEAT);
    assert_int_equal(visit(&friend, "zzzzzzzz"), REF_VISIT_UNKNOWN);
    assert_int_equal(visit(&friend, "<script>"), REF_VISIT_UNKNOWN);
}

static void visit__by_the_codes_owner_is_ignored(void **s)
{
    browser sharer = {0};
    take_quiz(&sharer, "resA");
    assert_int_equal(visit(&sharer, code_of("resA")), REF_VISIT_SELF);
    assert_string_equal(sharer.ref, "");
    assert_true(fake_metric("referral_visits_total", "page") == 0);
    assert_true(fake_metric("referral_self_ignored_total", "visit") == 1);
}

/* ---- attribution
 * --------------------------------------------------------------------------------- */

static void attribute__ties_a_referred_result_to_the_code_once(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    const char *rec = fake_store_latest("ref_attrib", "resB");
    assert_non_null(rec);
    assert_non_null(strstr(rec, "\"referrer_result\":\"resA\""));
    assert_non_null(strstr(rec, friend.uid));
    assert_int_equal(take_quiz(&friend, "resB"), REF_ATTRIB_ALREADY);
    /* The friend's result is the friend's: its code knows its owner. */
    ref_code mine;
    assert_int_equal(mq_referral_code_of(&st, "resB", NULL, 0, &mine), MQ_OK);
    assert_string_equal(mine.uid, friend.uid);
    assert_true(fake_metric("referral_attributions_total", "") == 1);
    assert_int_equal(fake_store_count_matching("events", "\"referral.attrib\""), 1);
}

static void attribute__own_code_is_self_referral(void **s)
{
    browser sharer = {0};
    take_quiz(&sharer, "resA");
    /* The sharer's browser carries its own code (a copied link, say)... */
    snprintf(sharer.ref, sizeof sharer.ref, "%s", code_of("resA"));
    assert_int_equal(take_quiz(&sharer, "resA2"), REF_ATTRIB_SELF);
    /* ...and a result can never refer itself. */
    browser blank = {0};
    snprintf(blank.ref, sizeof blank.ref, "%s", code_of("resC"));
    assert_int_equal(take_quiz(&blank, "resC"), REF_ATTRIB_SELF);
    assert_null(fake_store_latest("ref_attrib", "resA2"));
    assert_null(fake_store_latest("ref_attrib", "resC"));
    assert_true(fake_metric("referral_self_ignored_total", "attribute") == 2);
    browser nobody = {0};
    assert_int_equal(take_quiz(&nobody, "resD"), REF_ATTRIB_NONE);
    assert_int_equal(take_quiz(&nobody, "bad id!"), REF_ATTRIB_ERROR);
}

/* ---- rewards
 * ------------------------------------------------------------------------------------- */

static void reward__one_coupon_for_an_attributed_sale(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    approve("MQ20261127120000aaaaaaaaaa", "resB", 3900);
    assert_int_equal(nfca, 1);
    assert_int_equal(strncmp(fca[0].code, "REF-", 4), 0);
    assert_int_equal(strlen(fca[0].code), 14);
    assert_int_equal(fca[0].value, 1000);
    assert_int_equal(fca[0].total, 1);
    assert_int_equal(fca[0].per_user, 1);
    assert_int_equal(fca[0].until, fake.now_ms + 90 * 86400000LL);
    const char *rec = fake_store_latest("referrals", "MQ20261127120000aaaaaaaaaa");
    assert_non_null(strstr(rec, "\"reward\":\"granted\""));
    assert_non_null(strstr(rec, "\"referrer_result\":\"resA\""));
    assert_non_null(strstr(rec, "\"amount\":3900"));
    assert_true(fake_metric("referral_reward_total", "") == 1);
    assert_int_equal(fake_store_count_matching("events", "\"referral.reward\""), 1);
    /* The same approval again (a replay, a second subscriber): nothing. */
    approve("MQ20261127120000aaaaaaaaaa", "resB", 3900);
    assert_int_equal(fca_creates, 1);
    assert_true(fake_metric("referral_reward_total", "") == 1);
    /* A second purchase of the referred result is another referred sale. */
    approve("MQ20261127120000bbbbbbbbbb", "resB", 3900);
    assert_true(fake_metric("referral_reward_total", "") == 2);
}

static void reward__none_without_attribution_or_approval(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    approve("MQ20261127120000cccccccccc", "resA", 3900); /* the sharer's own result */
    const char *p = "{\"id\":\"MQ20261127120000dddddddddd\",\"result_id\":\"resB\","
                    "\"status\":\"failed\"}";
    mq_referral_on_approved(&st, p, strlen(p));
    mq_referral_on_approved(&st, "{not json", 9);
    assert_int_equal(fca_creates, 0);
    assert_int_equal(fake_store_count("referrals"), 0);
}

static void reward__self_referral_found_at_payment_is_ignored(void **s)
{
    browser sharer = {0};
    take_quiz(&sharer, "resA");
    /* An attribution record whose buyer is the code's owner (written by an
     * older release, or by hand): no reward. */
    char rec[300];
    snprintf(rec, sizeof rec,
             "{\"result_id\":\"resS\",\"code\":\"%s\",\"referrer_result\":\"resA\",\"uid\":\"%s\"}",
             code_of("resA"), sharer.uid);
    fake_store_put("ref_attrib", "resS", rec);
    approve("MQ20261127120000eeeeeeeeee", "resS", 3900);
    assert_int_equal(fca_creates, 0);
    assert_true(fake_metric("referral_self_ignored_total", "reward") == 1);
    assert_true(fake_metric("referral_reward_total", "") == 0);
}

static void reward__off_records_the_sale_without_a_coupon(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    st.rewards_enabled = 0;
    approve("MQ20261127120000ffffffffff", "resB", 3900);
    assert_int_equal(fca_creates, 0);
    assert_non_null(strstr(fake_store_latest("referrals", "MQ20261127120000ffffffffff"),
                           "\"reward\":\"none\""));
}

static void reward__pending_is_finished_once_by_repair(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    /* The coupons service is not there (a release without coupons.so). */
    fake.nservices = 0;
    approve("MQ20261127120000gggggggggg", "resB", 3900);
    assert_non_null(strstr(fake_store_latest("referrals", "MQ20261127120000gggggggggg"),
                           "\"reward\":\"pending\""));
    assert_true(fake_metric("referral_reward_total", "") == 0);
    assert_true(fake_logs_contain("pending: the coupons.admin service is not loaded"));
    /* Then it fails to create. */
    publish_admin();
    fca_fail = 1;
    assert_int_equal(mq_referral_repair(&st), 0);
    /* Then it works: granted once, whatever repeats. */
    fca_fail = 0;
    assert_int_equal(mq_referral_repair(&st), 1);
    assert_int_equal(mq_referral_repair(&st), 0);
    approve("MQ20261127120000gggggggggg", "resB", 3900);
    assert_true(fake_metric("referral_reward_total", "") == 1);
    assert_int_equal(nfca, 1);
}

static void reward__a_coupon_created_before_a_stop_is_not_created_twice(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    /* The record says granted failed to be written (store error) after
     * the coupon was created: the record stays pending. */
    fake.fail_append_after = 2; /* record ok, then the "granted" write fails */
    approve("MQ20261127120000hhhhhhhhhh", "resB", 3900);
    fake.fail_appends = 0;
    assert_int_equal(nfca, 1);
    assert_non_null(strstr(fake_store_latest("referrals", "MQ20261127120000hhhhhhhhhh"),
                           "\"reward\":\"pending\""));
    assert_true(fake_metric("referral_reward_total", "") == 0);
    /* After a restart, repair finds the coupon there (EEXIST) and records it. */
    assert_int_equal(mq_referral_repair(&st), 1);
    assert_int_equal(nfca, 1);
    assert_true(fake_metric("referral_reward_total", "") == 1);
}

/* ---- refunds
 * ------------------------------------------------------------------------------------- */

static void refund__voids_an_unused_reward_once(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    approve("MQ20261127120000iiiiiiiiii", "resB", 3900);
    refund("MQ20261127120000iiiiiiiiii", "resB");
    assert_int_equal(fca[0].enabled, 0);
    const char *rec = fake_store_latest("referrals", "MQ20261127120000iiiiiiiiii");
    assert_non_null(strstr(rec, "\"reward\":\"voided\""));
    assert_non_null(strstr(rec, "\"refunded\":true"));
    assert_true(fake_metric("referral_reward_voided_total", "") == 1);
    assert_non_null(strstr(fake_store_latest("ref_rewards", "resA"), "\"status\":\"voided\""));
    refund("MQ20261127120000iiiiiiiiii", "resB");
    assert_int_equal(fca_disables, 1);
    assert_true(fake_metric("referral_reward_voided_total", "") == 1);
    assert_int_equal(fake_store_count_matching("events", "\"referral.void\""), 1);
    /* Refunds of orders no referral is about change nothing. */
    refund("MQ20261127120000jjjjjjjjjj", "resZ");
    assert_int_equal(fca_disables, 1);
}

static void refund__keeps_a_reward_already_used(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    approve("MQ20261127120000kkkkkkkkkk", "resB", 3900);
    fca[0].used = 1;
    refund("MQ20261127120000kkkkkkkkkk", "resB");
    assert_int_equal(fca[0].enabled, 1);
    const char *rec = fake_store_latest("referrals", "MQ20261127120000kkkkkkkkkk");
    assert_non_null(strstr(rec, "\"reward\":\"granted\""));
    assert_non_null(strstr(rec, "\"refunded\":true"));
    assert_true(fake_metric("referral_reward_voided_total", "") == 0);
}

/* ---- who sees the rewards
 * ------------------------------------------------------------------------- */

static void rewards_json__only_for_the_results_owner(void **s)
{
    browser sharer, friend;
    sharer_and_friend(&sharer, &friend);
    approve("MQ20261127120000llllllllll", "resB", 3900);
    char *mine = rewards_seen_by(&sharer, "resA");
    assert_non_null(mine);
    assert_non_null(strstr(mine, fca[0].code));
    assert_non_null(strstr(mine, "\"krw\":1000"));
    assert_non_null(strstr(mine, "\"status\":\"granted\""));
    assert_null(strstr(mine, "MQ2026")); /* not the buyer's order id */
    free(mine);
    assert_null(rewards_seen_by(&friend, "resA"));
    browser stranger = {0};
    assert_null(rewards_seen_by(&stranger, "resA"));
    char *none = rewards_seen_by(&friend, "resB");
    assert_string_equal(none, "[]");
    free(none);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(visit__counts_once_and_keeps_the_first_touch),
        T(visit__by_the_codes_owner_is_ignored),
        T(attribute__ties_a_referred_result_to_the_code_once),
        T(attribute__own_code_is_self_referral),
        T(reward__one_coupon_for_an_attributed_sale),
        T(reward__none_without_attribution_or_approval),
        T(reward__self_referral_found_at_payment_is_ignored),
        T(reward__off_records_the_sale_without_a_coupon),
        T(reward__pending_is_finished_once_by_repair),
        T(reward__a_coupon_created_before_a_stop_is_not_created_twice),
        T(refund__voids_an_unused_reward_once),
        T(refund__keeps_a_reward_already_used),
        T(rewards_json__only_for_the_results_owner),
    };
    return cmocka_run_group_tests_name("ref_attrib", tests, NULL, NULL);
}
