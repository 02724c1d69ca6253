/*
 * test_pay_unlock.c -- the string set behind the unlocked result ids
 * (unlock.c): add, has, remove, growth past many keys, tombstones reused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay.h"

static void set__add_has_remove__as_a_set(void **state)
{
    pay_set s = {0};
    assert_false(mq_payments_set_has(&s, "r1"));
    assert_int_equal(mq_payments_set_add(&s, "r1"), MQ_OK);
    assert_int_equal(mq_payments_set_add(&s, "r1"), MQ_OK);
    assert_int_equal(s.n, 1);
    assert_true(mq_payments_set_has(&s, "r1"));
    assert_false(mq_payments_set_has(&s, "r2"));
    assert_false(mq_payments_set_has(&s, NULL));
    mq_payments_set_remove(&s, "r1");
    mq_payments_set_remove(&s, "r1");
    mq_payments_set_remove(&s, "never");
    assert_false(mq_payments_set_has(&s, "r1"));
    assert_int_equal(s.n, 0);
    mq_payments_set_cleanup(&s);
}

static void set__ten_thousand_keys__all_found_after_growth(void **state)
{
    pay_set s = {0};
    char k[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "result-%d", i);
        assert_int_equal(mq_payments_set_add(&s, k), MQ_OK);
    }
    for (int i = 0; i < 10000; i += 2) {
        snprintf(k, sizeof k, "result-%d", i);
        mq_payments_set_remove(&s, k);
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "result-%d", i);
        assert_int_equal(mq_payments_set_has(&s, k), i % 2);
    }
    assert_int_equal(s.n, 5000);
    mq_payments_set_cleanup(&s);
}

static void set__churn__tombstones_do_not_fill_the_table(void **state)
{
    pay_set s = {0};
    char k[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "r%d", i);
        assert_int_equal(mq_payments_set_add(&s, k), MQ_OK);
        mq_payments_set_remove(&s, k);
    }
    assert_int_equal(s.n, 0);
    assert_true(s.cap <= 1024);
    assert_int_equal(mq_payments_set_add(&s, "last"), MQ_OK);
    assert_true(mq_payments_set_has(&s, "last"));
    mq_payments_set_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set__add_has_remove__as_a_set),
        cmocka_unit_test(set__ten_thousand_keys__all_found_after_growth),
        cmocka_unit_test(set__churn__tombstones_do_not_fill_the_table),
    };
    return cmocka_run_group_tests_name("payments unlock set", tests, NULL, NULL);
}
