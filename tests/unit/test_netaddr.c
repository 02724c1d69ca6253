/* CIDR lists (TRUSTED_PROXIES, allowlists) and the rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"
#include "ratelimit.h"

static void cidr__v4_network__matches_inside_only(void **state)
{
    mq_cidr_list l;
    char err[128];
    assert_int_equal(mq_cidr_list_parse("10.0.0.0/8, 192.168.1.7", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    assert_true(mq_cidr_list_match(&l, "10.200.3.4"));
    assert_true(mq_cidr_list_match(&l, "192.168.1.7"));
    assert_false(mq_cidr_list_match(&l, "192.168.1.8"));
    assert_false(mq_cidr_list_match(&l, "11.0.0.1"));
    assert_true(mq_cidr_list_match(&l, "::ffff:10.1.2.3")); /* v4-mapped */
    assert_false(mq_cidr_list_match(&l, "not-an-ip"));
    mq_cidr_list_free(&l);
}

static void cidr__v6_and_odd_prefix__matches(void **state)
{
    mq_cidr_list l;
    char err[128];
    assert_int_equal(mq_cidr_list_parse("::1 2001:db8::/33 172.16.0.0/12", &l, err, sizeof err), 0);
    assert_true(mq_cidr_list_match(&l, "::1"));
    assert_true(mq_cidr_list_match(&l, "2001:db8:7fff::1"));
    assert_false(mq_cidr_list_match(&l, "2001:db8:8000::1"));
    assert_true(mq_cidr_list_match(&l, "172.31.255.255"));
    assert_false(mq_cidr_list_match(&l, "172.32.0.0"));
    mq_cidr_list_free(&l);
}

static void cidr__bad_items__refused_with_the_item(void **state)
{
    mq_cidr_list l;
    char err[128];
    assert_int_equal(mq_cidr_list_parse("10.0.0.0/33", &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "10.0.0.0/33"));
    assert_int_equal(mq_cidr_list_parse("1.2.3.4, nope", &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "nope"));
    assert_int_equal(mq_cidr_list_parse("", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 0);
}

static void ratelimit__burst_then_refill__retry_after_counts_down(void **state)
{
    mq_ratelimit *rl = mq_ratelimit_new();
    int retry = 0;
    /* 6 per minute = one per 10 s, burst 2. */
    assert_true(mq_ratelimit_take(rl, "quiz", "1.2.3.4", 6, 2, 100.0, &retry));
    assert_true(mq_ratelimit_take(rl, "quiz", "1.2.3.4", 6, 2, 100.0, &retry));
    assert_false(mq_ratelimit_take(rl, "quiz", "1.2.3.4", 6, 2, 100.0, &retry));
    assert_int_equal(retry, 10);
    assert_false(mq_ratelimit_take(rl, "quiz", "1.2.3.4", 6, 2, 104.5, &retry));
    assert_int_equal(retry, 6);
    assert_true(mq_ratelimit_take(rl, "quiz", "1.2.3.4", 6, 2, 110.0, &retry));
    /* Other keys and buckets have their own tokens. */
    assert_true(mq_ratelimit_take(rl, "quiz", "5.6.7.8", 6, 2, 110.0, &retry));
    assert_true(mq_ratelimit_take(rl, "pay", "1.2.3.4", 6, 2, 110.0, &retry));
    mq_ratelimit_free(rl);
}

static void ratelimit__sweep__drops_only_idle_full_buckets(void **state)
{
    mq_ratelimit *rl = mq_ratelimit_new();
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        mq_ratelimit_take(rl, "b", key, 60, 5, 0.0, NULL);
    }
    for (int i = 0; i < 5; i++)
        mq_ratelimit_take(rl, "b", "busy", 60, 5, 10.0, NULL);
    /* At t=10 s the 5000 are full again (1/s refill, 1 used); busy is empty. */
    assert_int_equal(mq_ratelimit_sweep(rl, 10.0), 1);
    int retry = 0;
    assert_false(mq_ratelimit_take(rl, "b", "busy", 60, 5, 10.0, &retry));
    mq_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cidr__v4_network__matches_inside_only),
        cmocka_unit_test(cidr__v6_and_odd_prefix__matches),
        cmocka_unit_test(cidr__bad_items__refused_with_the_item),
        cmocka_unit_test(ratelimit__burst_then_refill__retry_after_counts_down),
        cmocka_unit_test(ratelimit__sweep__drops_only_idle_full_buckets),
    };
    return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
