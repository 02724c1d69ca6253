/*
 * test_coupon_plugin.c -- coupons.c on the fake host: what init registers,
 * the seed file, the config keys, and the two services as payments and the
 * admin plugin call them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "coupons_admin.h"
#include "coupons_service.h"
#include "cpn.h"
#include "fake_host.h"

extern const mq_plugin_desc mq_plugin_descriptor;

static char tmpdir[256];

static void write_seed(const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/assets", tmpdir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/assets/coupons.seed.json", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **s)
{
    fake_reset();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mq-coupons-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(fake.release_path, sizeof fake.release_path, "%s", tmpdir);
    *s = NULL;
    return 0;
}

static int teardown(void **s)
{
    if (*s)
        mq_plugin_descriptor.fini(*s);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    fake_reset();
    return 0;
}

static void *init_ok(void)
{
    void *state = NULL;
    assert_int_equal(mq_plugin_descriptor.init(&fake.api, fake_self(), &state), MQ_OK);
    assert_non_null(state);
    return state;
}

static const char *SEED = "{\"coupons\":[{\"code\":\"welcome10\",\"kind\":\"percent\",\"value\":10,"
                          "\"total_uses\":1000,\"per_user\":1,\"valid_from\":\"2026-01-01\","
                          "\"valid_until\":\"2099-01-01\"},"
                          "{\"code\":\"FIXED500\",\"kind\":\"fixed\",\"value\":500,"
                          "\"total_uses\":3}]}";

static void init__publishes_both_services_metrics_and_the_sweep_timer(void **s)
{
    write_seed(SEED);
    fake.now_ms = mq_coupons_now_ms();
    *s = init_ok();
    void *ud = NULL;
    assert_non_null(fake_service(MQ_COUPONS_SERVICE, MQ_COUPONS_SERVICE_VERSION, &ud));
    assert_ptr_equal(ud, *s);
    assert_non_null(fake_service(MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION, &ud));
    assert_int_equal(fake_timers_active(), 1);
    assert_int_equal(fake.timers[0].delay_ms, 0);
    assert_int_equal(fake.timers[0].repeat_ms, CPN_DEFAULT_SWEEP_MS);
    assert_true(fake_metric_exists("coupon_holds_live", ""));
    assert_true(fake_metric_exists("coupon_redeem_total", ""));
    assert_true(fake_metric_exists("coupon_hold_total", "ok"));
    assert_true(fake_metric_exists("coupon_hold_total", "exhausted"));
    assert_true(fake_metric_exists("coupon_release_total", "expired"));
    assert_int_equal(fake.nroutes, 0);
}

static void seed__creates_only_codes_the_store_lacks(void **s)
{
    write_seed(SEED);
    *s = init_ok();
    const char *w = fake_store_latest("coupons", "WELCOME10");
    assert_non_null(w);
    assert_non_null(strstr(w, "\"valid_from_ms\":1767193200000"));
    assert_non_null(fake_store_latest("coupons", "FIXED500"));
    void *ud = NULL;
    const mq_coupons_admin_v1 *ca = fake_service(MQ_COUPONS_ADMIN_SERVICE, 1, &ud);
    assert_int_equal(ca->disable(ud, "WELCOME10"), MQ_OK);
    size_t before = fake_store_count("coupons");
    /* A reload (or the next release) brings the same seed: nothing new,
     * and the disabled code stays disabled. */
    mq_plugin_descriptor.fini(*s);
    fake.nservices = 0;
    *s = init_ok();
    assert_int_equal(fake_store_count("coupons"), before);
    assert_non_null(strstr(fake_store_latest("coupons", "WELCOME10"), "\"enabled\":false"));
}

static void seed__a_broken_file_refuses_the_release(void **s)
{
    void *state = NULL;
    write_seed("{\"coupons\":[{\"code\":\"OK1\",\"kind\":\"fixed\",\"value\":5,\"total_uses\":1},"
               "{\"code\":\"BAD\",\"kind\":\"percent\",\"value\":150,\"total_uses\":1}]}");
    assert_int_equal(mq_plugin_descriptor.init(&fake.api, fake_self(), &state), MQ_EINVAL);
    assert_null(fake_store_latest("coupons", "OK1")); /* all or nothing */
    assert_true(fake_logs_contain("entry 2"));
    write_seed("[not json");
    assert_int_equal(mq_plugin_descriptor.init(&fake.api, fake_self(), &state), MQ_EINVAL);
}

static void seed__missing_file_or_turned_off_is_fine(void **s)
{
    *s = init_ok(); /* no assets/coupons.seed.json at all */
    assert_int_equal(fake_store_count("coupons"), 0);
    mq_plugin_descriptor.fini(*s);
    *s = NULL;
    fake_reset();
    snprintf(fake.release_path, sizeof fake.release_path, "%s", tmpdir);
    write_seed(SEED);
    fake_set_config("COUPONS_SEED_FILE", "");
    *s = init_ok();
    assert_int_equal(fake_store_count("coupons"), 0);
}

static void service__payments_sequence_quote_hold_redeem(void **s)
{
    write_seed(SEED);
    *s = init_ok();
    void *ud = NULL;
    const mq_coupons_service_v1 *c = fake_service(MQ_COUPONS_SERVICE, 1, &ud);
    long off = 0;
    const char *why = NULL;
    assert_int_equal(c->quote(ud, "welcome10", 3900, &off, &why), MQ_OK);
    assert_int_equal(off, 390);
    assert_int_equal(c->quote(ud, "NOPE", 3900, &off, &why), MQ_ENOENT);
    assert_string_equal(why, "존재하지 않는 쿠폰입니다.");
    const char *order = "MQ20261127120000aaaaaaaaaa";
    assert_int_equal(c->hold(ud, "WELCOME10", order, 30 * 60 * 1000L), MQ_OK);
    assert_int_equal(c->redeem(ud, order), MQ_OK);
    assert_int_equal(c->redeem(ud, order), MQ_OK);
    assert_int_equal(c->release(ud, order), MQ_ESTATE);
    assert_true(fake_metric("coupon_redeem_total", "") == 1);
    /* Three uses of FIXED500, then "exhausted". */
    char o[40];
    for (int i = 0; i < 3; i++) {
        snprintf(o, sizeof o, "MQ20261127120000bbbbbbbbb%d", i);
        assert_int_equal(c->hold(ud, "FIXED500", o, 60000), MQ_OK);
    }
    assert_int_equal(c->hold(ud, "FIXED500", "MQ20261127120000cccccccccc", 60000), MQ_ETOOBIG);
    assert_int_equal(c->release(ud, o), MQ_OK);
    assert_int_equal(c->hold(ud, "FIXED500", "MQ20261127120000cccccccccc", 60000), MQ_OK);
}

static void service__hold_counts_the_user_the_order_record_names(void **s)
{
    write_seed(SEED);
    *s = init_ok();
    void *ud = NULL;
    const mq_coupons_service_v1 *c = fake_service(MQ_COUPONS_SERVICE, 1, &ud);
    /* When payments has written the order before the hold, its result id
     * is the user: WELCOME10 is one per user. */
    fake_store_put("orders", "MQ20261127120000dddddddd01", "{\"result_id\":\"resX\"}");
    fake_store_put("orders", "MQ20261127120000dddddddd02", "{\"result_id\":\"resX\"}");
    assert_int_equal(c->hold(ud, "WELCOME10", "MQ20261127120000dddddddd01", 60000), MQ_OK);
    assert_int_equal(c->hold(ud, "WELCOME10", "MQ20261127120000dddddddd02", 60000), MQ_ETOOBIG);
    assert_true(fake_metric("coupon_hold_total", "user_limit") == 1);
}

static void config__hold_ttl_override_and_sweep_period(void **s)
{
    write_seed(SEED);
    fake_set_config("COUPON_HOLD_TTL_MS", "1500");
    fake_set_config("COUPON_SWEEP_MS", "250");
    fake.now_ms = mq_coupons_now_ms();
    *s = init_ok();
    assert_int_equal(fake.timers[0].repeat_ms, 250);
    void *ud = NULL;
    const mq_coupons_service_v1 *c = fake_service(MQ_COUPONS_SERVICE, 1, &ud);
    assert_int_equal(c->hold(ud, "FIXED500", "MQ20261127120000eeeeeeeeee", 30 * 60 * 1000L), MQ_OK);
    const char *h = fake_store_latest("coupon_holds", "MQ20261127120000eeeeeeeeee");
    assert_non_null(strstr(h, "\"ttl_ms\":1500"));
    /* A malformed value is ignored with a warning. */
    mq_plugin_descriptor.fini(*s);
    fake.nservices = 0;
    fake_set_config("COUPON_SWEEP_MS", "soon");
    *s = init_ok();
    assert_true(fake_logs_contain("config COUPON_SWEEP_MS=\"soon\" ignored"));
}

static int64_t fake_clock(void)
{
    return fake.now_ms;
}

static void timer__expires_holds_when_it_fires(void **s)
{
    write_seed(SEED);
    fake_set_config("COUPON_HOLD_TTL_MS", "1000");
    *s = init_ok();
    cpn_state *st = *s;
    fake.now_ms = mq_coupons_now_ms();
    st->clock_ms = fake_clock;
    void *ud = NULL;
    const mq_coupons_service_v1 *c = fake_service(MQ_COUPONS_SERVICE, 1, &ud);
    assert_int_equal(c->hold(ud, "FIXED500", "MQ20261127120000ffffffffff", 0), MQ_OK);
    assert_true(fake_metric("coupon_holds_live", "") == 1);
    fake_fire_timers(); /* not due yet */
    assert_true(fake_metric("coupon_holds_live", "") == 1);
    fake.now_ms += 1000;
    fake_fire_timers();
    assert_true(fake_metric("coupon_holds_live", "") == 0);
    assert_true(fake_metric("coupon_release_total", "expired") == 1);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(init__publishes_both_services_metrics_and_the_sweep_timer),
        T(seed__creates_only_codes_the_store_lacks),
        T(seed__a_broken_file_refuses_the_release),
        T(seed__missing_file_or_turned_off_is_fine),
        T(service__payments_sequence_quote_hold_redeem),
        T(service__hold_counts_the_user_the_order_record_names),
        T(config__hold_ttl_override_and_sweep_period),
        T(timer__expires_holds_when_it_fires),
    };
    return cmocka_run_group_tests_name("coupon_plugin", tests, NULL, NULL);
}
