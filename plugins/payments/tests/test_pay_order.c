/*
 * test_pay_order.c -- the order record (order.c): JSON round trip, unknown
 * fields, refused records, ids, the public view, event records, and the
 * state machine's transition table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pay.h"

static pay_order kakao_order(void)
{
    pay_order o;
    memset(&o, 0, sizeof o);
    strcpy(o.id, "MQ20261127131000a1b2c3d4e5");
    strcpy(o.provider, "kakao");
    strcpy(o.result_id, "r123");
    strcpy(o.product, "premium_result");
    o.amount = 2900;
    o.discount = 1000;
    strcpy(o.coupon, "WELCOME1000");
    o.status = PAY_ST_APPROVED;
    strcpy(o.tid, "T1234567890123456789");
    strcpy(o.aid, "A1234567890123456789");
    strcpy(o.sig, "cba2aae725158050a13b2a4e071efb85ba02fd749707432158cb77a14649b6b2");
    o.created_ms = 1795752600000LL;
    o.updated_ms = 1795752660000LL;
    o.approved_amount = 2900;
    return o;
}

static void order_json__kakao_round_trip__all_fields_equal(void **state)
{
    pay_order o = kakao_order(), back;
    char *j = mq_payments_order_to_json(&o);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"v\":1"));
    assert_non_null(strstr(j, "\"status\":\"approved\""));
    assert_non_null(strstr(j, "\"tid\":\"T1234567890123456789\""));
    assert_null(strstr(j, "reserve_id"));
    assert_int_equal(mq_payments_order_from_json(j, strlen(j), &back), MQ_OK);
    assert_memory_equal(&o, &back, sizeof o);
    free(j);
}

static void order_json__naver_round_trip__gateway_ids_kept(void **state)
{
    pay_order o = kakao_order(), back;
    strcpy(o.provider, "naver");
    memset(o.tid, 0, sizeof o.tid);
    strcpy(o.reserve_id, "R20261127abc");
    strcpy(o.payment_id, "20261127NP1043587746");
    o.status = PAY_ST_APPROVING;
    strcpy(o.reason, "unknown");
    char *j = mq_payments_order_to_json(&o);
    assert_null(strstr(j, "\"tid\""));
    assert_int_equal(mq_payments_order_from_json(j, strlen(j), &back), MQ_OK);
    assert_memory_equal(&o, &back, sizeof o);
    free(j);
}

static void order_json__unknown_fields__ignored(void **state)
{
    const char *j = "{\"k\":\"MQ20261127131000a1b2c3d4e5\",\"ts\":1,\"v\":2,"
                    "\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\","
                    "\"result_id\":\"r1\",\"status\":\"ready\",\"amount\":3900,"
                    "\"created_ms\":5,\"future_field\":{\"a\":[1,2]},\"note\":\"새 필드\"}";
    pay_order o;
    assert_int_equal(mq_payments_order_from_json(j, strlen(j), &o), MQ_OK);
    assert_int_equal(o.status, PAY_ST_READY);
    assert_int_equal(o.amount, 3900);
    assert_string_equal(o.result_id, "r1");
    assert_string_equal(o.coupon, "");
}

static void order_json__bad_records__refused(void **state)
{
    const char *bad[] = {
        "",
        "[]",
        "{\"id\":\"MQ20261127131000a1b2c3d4e5\"}",
        /* bad id */
        "{\"id\":\"XX\",\"provider\":\"kakao\",\"result_id\":\"r\",\"status\":\"ready\","
        "\"amount\":1,\"created_ms\":1}",
        /* unknown provider */
        "{\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"toss\",\"result_id\":\"r\","
        "\"status\":\"ready\",\"amount\":1,\"created_ms\":1}",
        /* unknown status */
        "{\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\",\"result_id\":\"r\","
        "\"status\":\"paid\",\"amount\":1,\"created_ms\":1}",
        /* amount as a string */
        "{\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\",\"result_id\":\"r\","
        "\"status\":\"ready\",\"amount\":\"3900\",\"created_ms\":1}",
        /* negative amount */
        "{\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\",\"result_id\":\"r\","
        "\"status\":\"ready\",\"amount\":-1,\"created_ms\":1}",
        /* too long a gateway id */
        "{\"id\":\"MQ20261127131000a1b2c3d4e5\",\"provider\":\"kakao\",\"result_id\":\"r\","
        "\"status\":\"ready\",\"amount\":1,\"created_ms\":1,\"tid\":\""
        "0123456789012345678901234567890123456789012345678901234567890123456789\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pay_order o;
        assert_int_equal(mq_payments_order_from_json(bad[i], strlen(bad[i]), &o), MQ_EINVAL);
        assert_int_equal(o.status, PAY_ST_NONE);
    }
}

static void order_id__kst_time_and_hex__26_chars(void **state)
{
    char id[PAY_ORDER_ID_LEN + 1];
    /* 2026-11-27 04:10:00 UTC is 13:10:00 in Korea. */
    assert_int_equal(mq_payments_order_id(id, 1795752600000LL, "a1b2c3d4e5"), MQ_OK);
    assert_string_equal(id, "MQ20261127131000a1b2c3d4e5");
    /* 20:00 UTC is the next day in Korea. */
    assert_int_equal(mq_payments_order_id(id, 1795809600000LL, "0000000000"), MQ_OK);
    assert_string_equal(id, "MQ20261128050000"
                            "0000000000");
    assert_int_equal(mq_payments_order_id(id, 1795752600000LL, "short"), MQ_EINVAL);
}

static void order_id_valid__shapes(void **state)
{
    assert_true(mq_payments_order_id_valid("MQ20261127131000a1b2c3d4e5"));
    assert_false(mq_payments_order_id_valid(NULL));
    assert_false(mq_payments_order_id_valid("MQ20261127131000a1b2c3d4e"));
    assert_false(mq_payments_order_id_valid("MQ20261127131000A1B2C3D4E5"));
    assert_false(mq_payments_order_id_valid("mq20261127131000a1b2c3d4e5"));
    assert_false(mq_payments_order_id_valid("MQ2026112713100xa1b2c3d4e5"));
    assert_false(mq_payments_order_id_valid("MQ20261127131000a1b2c3d4e5/../x"));
}

static void public_json__no_secrets_no_gateway_ids(void **state)
{
    pay_order o = kakao_order();
    char *j = mq_payments_order_public_json(&o);
    assert_non_null(strstr(j, "\"orderId\":\"MQ20261127131000a1b2c3d4e5\""));
    assert_non_null(strstr(j, "\"status\":\"approved\""));
    assert_non_null(strstr(j, "\"paid\":true"));
    assert_non_null(strstr(j, "\"amount\":2900"));
    assert_null(strstr(j, "sig"));
    assert_null(strstr(j, o.sig));
    assert_null(strstr(j, o.tid));
    assert_null(strstr(j, o.aid));
    assert_null(strstr(j, o.coupon));
    free(j);
}

static void event_json__type_from_status(void **state)
{
    pay_order o = kakao_order();
    o.status = PAY_ST_FAILED;
    strcpy(o.reason, "amount_mismatch");
    char *j = mq_payments_order_event_json(&o);
    assert_string_equal(
        j, "{\"v\":1,\"type\":\"order.failed\",\"order\":\"MQ20261127131000a1b2c3d4e5\","
           "\"provider\":\"kakao\",\"result_id\":\"r123\",\"amount\":2900,"
           "\"reason\":\"amount_mismatch\"}");
    free(j);
}

static void status_names__round_trip(void **state)
{
    for (int s = PAY_ST_CREATED; s <= PAY_ST_REFUNDED; s++)
        assert_int_equal(mq_payments_status_parse(mq_payments_status_name((pay_status)s)), s);
    assert_int_equal(mq_payments_status_parse("nope"), PAY_ST_NONE);
    assert_int_equal(mq_payments_status_parse(""), PAY_ST_NONE);
    assert_int_equal(mq_payments_status_parse(NULL), PAY_ST_NONE);
}

static void transitions__table__only_the_design_edges(void **state)
{
    /* want[from][to] */
    enum { N = PAY_ST_REFUNDED + 1 };
    int want[N][N];
    memset(want, 0, sizeof want);
    want[PAY_ST_CREATED][PAY_ST_READY] = 1;
    want[PAY_ST_CREATED][PAY_ST_FAILED] = 1;
    want[PAY_ST_READY][PAY_ST_APPROVING] = 1;
    want[PAY_ST_READY][PAY_ST_FAILED] = 1;
    want[PAY_ST_READY][PAY_ST_CANCELED] = 1;
    want[PAY_ST_APPROVING][PAY_ST_APPROVED] = 1;
    want[PAY_ST_APPROVING][PAY_ST_FAILED] = 1;
    want[PAY_ST_APPROVING][PAY_ST_APPROVING] = 1; /* a reason update */
    want[PAY_ST_APPROVED][PAY_ST_REFUNDED] = 1;
    for (int f = 0; f < N; f++)
        for (int t = 0; t < N; t++) {
            if (mq_payments_transition_allowed((pay_status)f, (pay_status)t) != want[f][t])
                fail_msg("transition %s -> %s: got %d", mq_payments_status_name((pay_status)f),
                         mq_payments_status_name((pay_status)t), !want[f][t]);
        }
}

static void transitions__illegal__refused(void **state)
{
    /* The ones that would charge or count twice, or resurrect an order. */
    assert_false(mq_payments_transition_allowed(PAY_ST_APPROVED, PAY_ST_APPROVED));
    assert_false(mq_payments_transition_allowed(PAY_ST_APPROVED, PAY_ST_FAILED));
    assert_false(mq_payments_transition_allowed(PAY_ST_APPROVED, PAY_ST_APPROVING));
    assert_false(mq_payments_transition_allowed(PAY_ST_READY, PAY_ST_APPROVED));
    assert_false(mq_payments_transition_allowed(PAY_ST_CREATED, PAY_ST_APPROVING));
    assert_false(mq_payments_transition_allowed(PAY_ST_FAILED, PAY_ST_APPROVED));
    assert_false(mq_payments_transition_allowed(PAY_ST_CANCELED, PAY_ST_APPROVING));
    assert_false(mq_payments_transition_allowed(PAY_ST_REFUNDED, PAY_ST_APPROVED));
    assert_false(mq_payments_transition_allowed(PAY_ST_REFUNDED, PAY_ST_REFUNDED));
    assert_false(mq_payments_transition_allowed(PAY_ST_NONE, PAY_ST_CREATED));
    assert_false(mq_payments_transition_allowed((pay_status)42, PAY_ST_READY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_json__kakao_round_trip__all_fields_equal),
        cmocka_unit_test(order_json__naver_round_trip__gateway_ids_kept),
        cmocka_unit_test(order_json__unknown_fields__ignored),
        cmocka_unit_test(order_json__bad_records__refused),
        cmocka_unit_test(order_id__kst_time_and_hex__26_chars),
        cmocka_unit_test(order_id_valid__shapes),
        cmocka_unit_test(public_json__no_secrets_no_gateway_ids),
        cmocka_unit_test(event_json__type_from_status),
        cmocka_unit_test(status_names__round_trip),
        cmocka_unit_test(transitions__table__only_the_design_edges),
        cmocka_unit_test(transitions__illegal__refused),
    };
    return cmocka_run_group_tests_name("payments order", tests, NULL, NULL);
}
