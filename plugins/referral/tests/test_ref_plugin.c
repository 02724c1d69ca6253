/*
 * test_ref_plugin.c -- referral.c on the fake host: what init registers,
 * GET /r/:code, the service as the quiz plugin calls it, the events as
 * payments publishes them, and the config keys.
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
#include "referral_service.h"

extern const mq_plugin_desc mq_plugin_descriptor;

static int created;
static int admin_create(void *ud, const char *code, int kind, long value, long total, long per_user,
                        int64_t from, int64_t until)
{
    created++;
    return MQ_OK;
}
static int admin_disable(void *ud, const char *code)
{
    return MQ_OK;
}
static char *admin_list(void *ud)
{
    return strdup("[]");
}
static char *admin_get(void *ud, const char *code)
{
    return strdup("{\"used\":0}");
}
static const mq_coupons_admin_v1 admin = {admin_create, admin_disable, admin_list, admin_get};

static int setup(void **s)
{
    fake_reset();
    created = 0;
    *s = NULL;
    return 0;
}

static int teardown(void **s)
{
    if (*s)
        mq_plugin_descriptor.fini(*s);
    fake_reset();
    return 0;
}

static void *init_ok(void)
{
    void *state = NULL;
    assert_int_equal(mq_plugin_descriptor.init(&fake.api, fake_self(), &state), MQ_OK);
    return state;
}

static const mq_referral_service_v1 *service(void **ud)
{
    const mq_referral_service_v1 *r =
        fake_service(MQ_REFERRAL_SERVICE, MQ_REFERRAL_SERVICE_VERSION, ud);
    assert_non_null(r);
    return r;
}

static void init__registers_the_link_route_service_events_and_repair(void **s)
{
    *s = init_ok();
    assert_int_equal(fake.nroutes, 1);
    assert_string_equal(fake.routes[0].pattern, "/r/:code");
    assert_int_equal(fake.nsubs, 2);
    assert_string_equal(fake.subs[0].event, "order.approved");
    assert_string_equal(fake.subs[1].event, "order.refunded");
    assert_int_equal(fake_timers_active(), 1);
    assert_int_equal(fake.timers[0].repeat_ms, 0);
    assert_true(fake_metric_exists("referral_reward_total", ""));
    assert_true(fake_metric_exists("referral_visits_total", "link"));
    assert_true(fake_metric_exists("referral_self_ignored_total", "reward"));
    fake_fire_timers(); /* the repair: nothing pending */
    assert_int_equal(fake_timers_active(), 0);
}

static void link__sets_the_cookies_counts_and_redirects(void **s)
{
    *s = init_ok();
    void *ud = NULL;
    char code[16];
    assert_non_null(service(&ud)->code_for(ud, "resA", code, sizeof code));
    mq_req *r = fake_req_new("GET", "/r/x");
    fake_req_param(r, "code", code);
    fake_dispatch("GET", "/r/:code", r);
    assert_int_equal(r->status, 302);
    assert_string_equal(fake_resp_header(r, "Location", 0), "/app/result/resA");
    assert_string_equal(fake_resp_header(r, "Cache-Control", 0), "no-store");
    const char *c0 = fake_resp_header(r, "Set-Cookie", 0),
               *c1 = fake_resp_header(r, "Set-Cookie", 1);
    assert_non_null(c0);
    assert_non_null(c1);
    assert_int_equal(strncmp(c0, "mq_uid=", 7), 0);
    char want[120];
    snprintf(want, sizeof want, "mq_ref=%s; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax", code);
    assert_string_equal(c1, want);
    assert_true(fake_metric("referral_visits_total", "link") == 1);
    fake_req_free(r);

    r = fake_req_new("GET", "/r/x");
    fake_req_param(r, "code", "nosuchcd");
    fake_dispatch("GET", "/r/:code", r);
    assert_int_equal(r->status, 302);
    assert_string_equal(fake_resp_header(r, "Location", 0), "/");
    assert_null(fake_resp_header(r, "Set-Cookie", 0));
    fake_req_free(r);
}

static void service__quiz_flow_from_share_to_reward(void **s)
{
    fake_set_config("PUBLIC_BASE_URL", "https://mindquiz.app");
    fake_set_config("REFERRAL_REWARD_KRW", "1500");
    fake_set_config("REFERRAL_COOKIE_DAYS", "7");
    *s = init_ok();
    assert_int_equal(
        fake.api.service_publish(fake_self(), MQ_COUPONS_ADMIN_SERVICE, 1, &admin, NULL), MQ_OK);
    void *ud = NULL;
    const mq_referral_service_v1 *ref = service(&ud);

    /* The sharer takes the quiz: result resA, owned by their browser. */
    mq_req *r = fake_req_new("POST", "/app/quiz/x");
    assert_int_equal(ref->attribute(ud, r, "resA"), MQ_OK);
    const char *uid_cookie = fake_resp_header(r, "Set-Cookie", 0);
    assert_non_null(strstr(uid_cookie, "; Secure"));
    fake_req_free(r);
    char code[16];
    assert_non_null(ref->code_for(ud, "resA", code, sizeof code));
    char scratch[16];
    assert_null(ref->code_for(ud, "resA", scratch, 8)); /* too small a buffer */
    assert_null(ref->code_for(ud, "../etc", scratch, sizeof scratch));
    assert_string_equal(scratch, "");

    /* A friend opens the share link /app/result/resA?ref=<code>. */
    r = fake_req_new("GET", "/app/result/resA");
    fake_req_query(r, "ref", code);
    ref->on_visit(ud, r);
    const char *ref_cookie = fake_resp_header(r, "Set-Cookie", 1);
    assert_non_null(ref_cookie);
    assert_non_null(strstr(ref_cookie, "Max-Age=604800"));
    char friend_cookie[120];
    snprintf(friend_cookie, sizeof friend_cookie, "mq_ref=%s", code);
    fake_req_free(r);
    assert_true(fake_metric("referral_visits_total", "page") == 1);

    /* ...takes the quiz (resB, attributed) and buys its report. */
    r = fake_req_new("POST", "/app/quiz/x");
    fake_req_header(r, "Cookie", friend_cookie);
    assert_int_equal(ref->attribute(ud, r, "resB"), MQ_OK);
    fake_req_free(r);
    assert_int_equal(fake_publish("order.approved",
                                  "{\"id\":\"MQ20261127120000abcdefabcd\",\"result_id\":\"resB\","
                                  "\"amount\":3900,\"status\":\"approved\"}"),
                     1);
    assert_int_equal(created, 1);
    assert_true(fake_metric("referral_reward_total", "") == 1);
    assert_non_null(strstr(fake_store_latest("referrals", "MQ20261127120000abcdefabcd"),
                           "\"reward_krw\":1500"));
    fake_publish("order.refunded",
                 "{\"id\":\"MQ20261127120000abcdefabcd\",\"status\":\"refunded\"}");
    assert_true(fake_metric("referral_reward_voided_total", "") == 1);

    r = fake_req_new("POST", "/app/quiz/x");
    assert_int_equal(ref->attribute(ud, r, "bad id"), MQ_EINVAL);
    fake_req_free(r);
}

static void config__bad_values_fall_back_and_rewards_can_be_off(void **s)
{
    fake_set_config("REFERRAL_REWARD_KRW", "lots");
    fake_set_config("REFERRAL_REWARDS", "off");
    *s = init_ok();
    ref_state *st = *s;
    assert_int_equal(st->reward_krw, 1000);
    assert_int_equal(st->rewards_enabled, 0);
    assert_int_equal(st->secure_cookies, 0);
    assert_true(fake_logs_contain("config REFERRAL_REWARD_KRW=\"lots\" ignored"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(init__registers_the_link_route_service_events_and_repair),
        T(link__sets_the_cookies_counts_and_redirects),
        T(service__quiz_flow_from_share_to_reward),
        T(config__bad_values_fall_back_and_rewards_can_be_off),
    };
    return cmocka_run_group_tests_name("ref_plugin", tests, NULL, NULL);
}
