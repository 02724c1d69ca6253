/*
 * test_pay_catalog.c -- the release's price list (catalog.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay.h"

static int parse(const char *json, pay_catalog *c, char *err)
{
    return mq_payments_catalog_parse(json, strlen(json), c, err, 256);
}

static void catalog__shipped_file__premium_result_3900(void **state)
{
    pay_catalog c;
    char err[256] = "";
    assert_int_equal(mq_payments_catalog_load(MQ_CATALOG_FILE, &c, err, sizeof err), MQ_OK);
    const pay_product *p = mq_payments_catalog_find(&c, "premium_result");
    assert_non_null(p);
    assert_int_equal(p->amount, 3900);
    assert_string_equal(p->name, "프리미엄 결과 리포트");
    assert_string_equal(c.currency, "KRW");
    mq_payments_catalog_cleanup(&c);
}

static void catalog__two_products__both_found(void **state)
{
    pay_catalog c;
    char err[256];
    assert_int_equal(parse("{\"currency\":\"KRW\",\"extra\":1,\"products\":{"
                           "\"premium_result\":{\"name\":\"A\",\"amount\":3900,\"x\":true},"
                           "\"bundle\":{\"name\":\"B\",\"amount\":9900}}}",
                           &c, err),
                     MQ_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(mq_payments_catalog_find(&c, "bundle")->amount, 9900);
    assert_null(mq_payments_catalog_find(&c, "nope"));
    assert_null(mq_payments_catalog_find(&c, NULL));
    mq_payments_catalog_cleanup(&c);
}

static void catalog__invalid__refused_with_cause(void **state)
{
    struct {
        const char *json, *cause;
    } bad[] = {
        {"", "empty"},
        {"{", "not JSON"},
        {"[1]", "not a JSON object"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":1}}} x",
         "trailing"},
        {"{\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":1}}}", "currency"},
        {"{\"currency\":\"USD\",\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":1}}}",
         "currency"},
        {"{\"currency\":\"KRW\",\"products\":{}}", "non-empty"},
        {"{\"currency\":\"KRW\",\"products\":[]}", "non-empty"},
        {"{\"currency\":\"KRW\",\"products\":{\"other\":{\"name\":\"A\",\"amount\":1}}}",
         "premium_result"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":0}}}",
         "amount"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":-5}}}",
         "amount"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":39.5}}"
         "}",
         "amount"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":"
         "\"3900\"}}}",
         "amount"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"name\":\"A\",\"amount\":"
         "10000001}}}",
         "amount"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"name\":\"\",\"amount\":1}}}",
         "name"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":{\"amount\":1}}}", "name"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium result\":{\"name\":\"A\",\"amount\":1}}}",
         "product id"},
        {"{\"currency\":\"KRW\",\"products\":{\"premium_result\":3900}}", "not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pay_catalog c;
        char err[256] = "";
        assert_int_equal(parse(bad[i].json, &c, err), MQ_EINVAL);
        if (!strstr(err, bad[i].cause))
            fail_msg("case %zu: cause \"%s\" lacks \"%s\"", i, err, bad[i].cause);
        assert_null(c.products);
    }
}

static void catalog__missing_file__eio(void **state)
{
    pay_catalog c;
    char err[256] = "";
    assert_int_equal(mq_payments_catalog_load("/nonexistent/catalog.json", &c, err, sizeof err),
                     MQ_EIO);
    assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(catalog__shipped_file__premium_result_3900),
        cmocka_unit_test(catalog__two_products__both_found),
        cmocka_unit_test(catalog__invalid__refused_with_cause),
        cmocka_unit_test(catalog__missing_file__eio),
    };
    return cmocka_run_group_tests_name("payments catalog", tests, NULL, NULL);
}
