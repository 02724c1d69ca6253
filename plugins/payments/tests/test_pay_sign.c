/*
 * test_pay_sign.c -- order signatures (sign.c): the signed text, the
 * current secret, the previous one within and after the payment window,
 * and every signed field tampered with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_api.h"
#include "pay.h"

#define SECRET "test-secret-0123456789"
#define PREV "old-secret-9876543210"
#define T0 1795752600000LL /* 2026-11-27 04:10:00 UTC */

static pay_order order(void)
{
    pay_order o;
    memset(&o, 0, sizeof o);
    strcpy(o.id, "MQ20261127131000a1b2c3d4e5");
    strcpy(o.provider, "kakao");
    strcpy(o.result_id, "r123");
    o.amount = 3900;
    o.created_ms = T0;
    return o;
}

static pay_signer signer(const char *secret, const char *prev)
{
    fake_reset();
    pay_signer s = {.api = &fake.api, .secret = secret, .prev_secret = prev};
    s.calls = fake.api.metric_register(fake_self(), MQ_COUNTER, "order_sign_calls_total", "", NULL,
                                       NULL, 0);
    return s;
}

static void sign_payload__fields__joined_with_bars(void **state)
{
    pay_order o = order();
    char *p = mq_payments_sign_payload(&o);
    assert_string_equal(p, "v1|MQ20261127131000a1b2c3d4e5|kakao|r123|3900|1795752600000");
    free(p);
}

static void sign__known_vector__matches_hmac_sha256(void **state)
{
    /* The same value as python3: hmac.new(SECRET, payload, sha256).hexdigest() */
    pay_signer s = signer(SECRET, NULL);
    pay_order o = order();
    char sig[65];
    assert_int_equal(mq_payments_sign(&s, &o, sig), MQ_OK);
    assert_string_equal(sig, "cba2aae725158050a13b2a4e071efb85ba02fd749707432158cb77a14649b6b2");
    assert_true(fake_metric("order_sign_calls_total", "") == 1);
}

static void verify__current_secret__verifies(void **state)
{
    pay_signer s = signer(SECRET, NULL);
    pay_order o = order();
    char sig[65];
    mq_payments_sign(&s, &o, sig);
    assert_true(mq_payments_verify(&s, &o, sig, T0 + 1000));
    /* The current secret verifies also long after the window. */
    assert_true(mq_payments_verify(&s, &o, sig, T0 + 3600 * 1000LL));
}

static void verify__previous_secret_within_window__verifies(void **state)
{
    pay_signer old = signer(PREV, NULL);
    pay_order o = order();
    char sig[65];
    mq_payments_sign(&old, &o, sig);
    /* Rotation: PREV moved to ORDER_SECRET_PREV. */
    pay_signer s = signer(SECRET, PREV);
    assert_true(mq_payments_verify(&s, &o, sig, T0 + 14 * 60 * 1000LL));
    assert_true(mq_payments_verify(&s, &o, sig, T0 + PAY_WINDOW_MS));
    /* Counted: one try with the current secret, one with the previous. */
    assert_true(fake_metric("order_sign_calls_total", "") == 4);
}

static void verify__previous_secret_after_window__refused(void **state)
{
    pay_signer old = signer(PREV, NULL);
    pay_order o = order();
    char sig[65];
    mq_payments_sign(&old, &o, sig);
    pay_signer s = signer(SECRET, PREV);
    assert_false(mq_payments_verify(&s, &o, sig, T0 + PAY_WINDOW_MS + 1));
    assert_false(mq_payments_verify(&s, &o, sig, T0 + 24 * 3600 * 1000LL));
}

static void verify__previous_secret_not_configured__refused(void **state)
{
    pay_signer old = signer(PREV, NULL);
    pay_order o = order();
    char sig[65];
    mq_payments_sign(&old, &o, sig);
    pay_signer s = signer(SECRET, NULL);
    assert_false(mq_payments_verify(&s, &o, sig, T0 + 1000));
}

static void verify__tampered_field__refused(void **state)
{
    pay_signer s = signer(SECRET, PREV);
    pay_order o = order();
    char sig[65];
    mq_payments_sign(&s, &o, sig);
    pay_order t = o;
    t.amount = 100;
    assert_false(mq_payments_verify(&s, &t, sig, T0));
    t = o;
    strcpy(t.provider, "naver");
    assert_false(mq_payments_verify(&s, &t, sig, T0));
    t = o;
    strcpy(t.result_id, "r124");
    assert_false(mq_payments_verify(&s, &t, sig, T0));
    t = o;
    t.id[25] = 'f';
    assert_false(mq_payments_verify(&s, &t, sig, T0));
    t = o;
    t.created_ms += 1;
    assert_false(mq_payments_verify(&s, &t, sig, T0));
}

static void verify__bad_signature_shapes__refused(void **state)
{
    pay_signer s = signer(SECRET, NULL);
    pay_order o = order();
    char sig[65];
    mq_payments_sign(&s, &o, sig);
    assert_false(mq_payments_verify(&s, &o, NULL, T0));
    assert_false(mq_payments_verify(&s, &o, "", T0));
    sig[63] = '\0';
    assert_false(mq_payments_verify(&s, &o, sig, T0));
    char upper[65];
    mq_payments_sign(&s, &o, upper);
    for (int i = 0; upper[i]; i++)
        if (upper[i] >= 'a' && upper[i] <= 'f')
            upper[i] = (char)(upper[i] - 32);
    assert_false(mq_payments_verify(&s, &o, upper, T0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_payload__fields__joined_with_bars),
        cmocka_unit_test(sign__known_vector__matches_hmac_sha256),
        cmocka_unit_test(verify__current_secret__verifies),
        cmocka_unit_test(verify__previous_secret_within_window__verifies),
        cmocka_unit_test(verify__previous_secret_after_window__refused),
        cmocka_unit_test(verify__previous_secret_not_configured__refused),
        cmocka_unit_test(verify__tampered_field__refused),
        cmocka_unit_test(verify__bad_signature_shapes__refused),
    };
    int rc = cmocka_run_group_tests_name("payments sign", tests, NULL, NULL);
    fake_reset();
    return rc;
}
