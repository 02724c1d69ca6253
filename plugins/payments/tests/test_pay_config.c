/*
 * test_pay_config.c -- the plugin's .env keys (config.c): defaults,
 * providers marked unusable, the kill switch failing closed, bad numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay.h"

typedef struct kv {
    const char *pairs[32][2];
} kv;

static const char *get(void *ud, const char *key)
{
    kv *k = ud;
    for (size_t i = 0; i < 32 && k->pairs[i][0]; i++)
        if (!strcmp(k->pairs[i][0], key))
            return k->pairs[i][1];
    return NULL;
}

static kv full(void)
{
    kv k = {{{"ORDER_SECRET", "0123456789abcdef0123"},
             {"PUBLIC_BASE_URL", "https://mindquiz.app/"},
             {"KAKAOPAY_SECRET_KEY", "DEVKEY123"},
             {"NAVERPAY_PARTNER_ID", "np_abc"},
             {"NAVERPAY_CLIENT_ID", "cid"},
             {"NAVERPAY_CLIENT_SECRET", "csecret"},
             {"NAVERPAY_CHAIN_ID", "chain"}}};
    return k;
}

static void set(kv *k, const char *key, const char *value)
{
    for (size_t i = 0; i < 32; i++)
        if (!k->pairs[i][0] || !strcmp(k->pairs[i][0], key)) {
            k->pairs[i][0] = key;
            k->pairs[i][1] = value;
            return;
        }
}

static void config__complete__both_providers_usable_with_defaults(void **state)
{
    kv k = full();
    pay_config c;
    assert_int_equal(mq_payments_config_load(&c, get, &k), MQ_OK);
    assert_true(c.enabled);
    assert_string_equal(mq_payments_config_problem(&c, "kakao"), "");
    assert_string_equal(mq_payments_config_problem(&c, "naver"), "");
    assert_null(mq_payments_config_problem(&c, "toss"));
    assert_string_equal(c.public_base, "https://mindquiz.app");
    assert_string_equal(c.kakao_base, "https://open-api.kakaopay.com");
    assert_string_equal(c.kakao_cid, "TC0ONETIME");
    assert_string_equal(c.naver_base, "https://pay.paygate.naver.com");
    assert_string_equal(c.naver_page_base, "https://m.pay.naver.com/payments");
    assert_int_equal(c.connect_timeout_ms, 3000);
    assert_int_equal(c.timeout_ms, 10000);
    assert_int_equal(c.reconcile_ms, 5000);
    assert_int_equal(c.return_wait_ms, 5000);
    assert_null(c.order_secret_prev);
    assert_string_equal(c.warnings, "");
    mq_payments_config_cleanup(&c);
}

static void config__no_order_secret__both_providers_misconfigured(void **state)
{
    kv k = full();
    set(&k, "ORDER_SECRET", "");
    pay_config c;
    mq_payments_config_load(&c, get, &k);
    assert_string_equal(c.kakao_problem, "ORDER_SECRET is not set");
    assert_string_equal(c.naver_problem, "ORDER_SECRET is not set");
    mq_payments_config_cleanup(&c);
}

static void config__missing_gateway_keys__only_that_provider(void **state)
{
    kv k = full();
    set(&k, "KAKAOPAY_SECRET_KEY", "");
    pay_config c;
    mq_payments_config_load(&c, get, &k);
    assert_string_equal(c.kakao_problem, "KAKAOPAY_SECRET_KEY is not set");
    assert_string_equal(c.naver_problem, "");
    mq_payments_config_cleanup(&c);

    k = full();
    set(&k, "NAVERPAY_CHAIN_ID", "");
    mq_payments_config_load(&c, get, &k);
    assert_string_equal(c.kakao_problem, "");
    assert_string_equal(c.naver_problem, "NAVERPAY_CHAIN_ID is not set");
    mq_payments_config_cleanup(&c);

    k = full();
    set(&k, "PUBLIC_BASE_URL", "mindquiz.app");
    mq_payments_config_load(&c, get, &k);
    assert_string_equal(c.kakao_problem, "PUBLIC_BASE_URL is not an http(s) URL");
    assert_string_equal(c.naver_problem, "PUBLIC_BASE_URL is not an http(s) URL");
    mq_payments_config_cleanup(&c);
}

static void config__kill_switch__values_and_fail_closed(void **state)
{
    struct {
        const char *v;
        int enabled;
        int warned;
    } cases[] = {{"1", 1, 0},     {"true", 1, 0}, {"ON", 1, 0}, {"0", 0, 0},
                 {"false", 0, 0}, {"off", 0, 0},  {"O", 0, 1},  {"2", 0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kv k = full();
        set(&k, "PAYMENTS_ENABLED", cases[i].v);
        pay_config c;
        mq_payments_config_load(&c, get, &k);
        assert_int_equal(c.enabled, cases[i].enabled);
        assert_int_equal(strstr(c.warnings, "PAYMENTS_ENABLED") != NULL, cases[i].warned);
        mq_payments_config_cleanup(&c);
    }
}

static void config__bad_numbers__defaults_and_warning(void **state)
{
    kv k = full();
    set(&k, "PAY_TIMEOUT_MS", "ten");
    set(&k, "PAY_CONNECT_TIMEOUT_MS", "-5");
    set(&k, "PAY_RECONCILE_INTERVAL_MS", "250");
    set(&k, "PAY_RETURN_WAIT_MS", "0");
    pay_config c;
    mq_payments_config_load(&c, get, &k);
    assert_int_equal(c.timeout_ms, 10000);
    assert_int_equal(c.connect_timeout_ms, 3000);
    assert_int_equal(c.reconcile_ms, 250);
    assert_int_equal(c.return_wait_ms, 0);
    assert_non_null(strstr(c.warnings, "PAY_TIMEOUT_MS"));
    assert_non_null(strstr(c.warnings, "PAY_CONNECT_TIMEOUT_MS"));
    mq_payments_config_cleanup(&c);
}

static void config__naver_dev_host__sandbox_payment_page(void **state)
{
    kv k = full();
    set(&k, "NAVERPAY_API_BASE", "https://dev-pay.paygate.naver.com/");
    set(&k, "KAKAOPAY_API_BASE", "http://127.0.0.1:9999/");
    set(&k, "KAKAOPAY_CID", "TCSUBSCRIP");
    pay_config c;
    mq_payments_config_load(&c, get, &k);
    assert_string_equal(c.naver_base, "https://dev-pay.paygate.naver.com");
    assert_string_equal(c.naver_page_base, "https://test-m.pay.naver.com/payments");
    assert_string_equal(c.kakao_base, "http://127.0.0.1:9999");
    assert_string_equal(c.kakao_cid, "TCSUBSCRIP");
    mq_payments_config_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config__complete__both_providers_usable_with_defaults),
        cmocka_unit_test(config__no_order_secret__both_providers_misconfigured),
        cmocka_unit_test(config__missing_gateway_keys__only_that_provider),
        cmocka_unit_test(config__kill_switch__values_and_fail_closed),
        cmocka_unit_test(config__bad_numbers__defaults_and_warning),
        cmocka_unit_test(config__naver_dev_host__sandbox_payment_page),
    };
    return cmocka_run_group_tests_name("payments config", tests, NULL, NULL);
}
