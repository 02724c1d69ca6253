/*
 * test_coupon_math.c -- coupon.c: codes, the discount, the validity window,
 * Korean dates and the records' JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpn.h"

static cpn_def def(int kind, long value)
{
    cpn_def d = {.kind = kind, .value = value, .total_uses = 10, .enabled = 1};
    strcpy(d.code, "TEST");
    return d;
}

static void discount__percent__rounds_down_to_a_won(void **s)
{
    cpn_def d = def(MQ_COUPON_PERCENT, 10);
    assert_int_equal(mq_coupons_discount(&d, 3900), 390);
    assert_int_equal(mq_coupons_discount(&d, 3999), 399); /* 399.9 -> 399 */
    assert_int_equal(mq_coupons_discount(&d, 9), 0);      /* 0.9 -> 0 */
    d.value = 15;
    assert_int_equal(mq_coupons_discount(&d, 3900), 585);
    d.value = 33;
    assert_int_equal(mq_coupons_discount(&d, 100), 33);
    assert_int_equal(mq_coupons_discount(&d, 101), 33); /* 33.33 */
}

static void discount__percent_100__is_the_whole_price(void **s)
{
    cpn_def d = def(MQ_COUPON_PERCENT, 100);
    assert_int_equal(mq_coupons_discount(&d, 3900), 3900);
}

static void discount__percent_of_a_huge_amount__does_not_overflow(void **s)
{
    cpn_def d = def(MQ_COUPON_PERCENT, 99);
    long big = 9000000000000000000L;
    assert_int_equal(mq_coupons_discount(&d, big), 8910000000000000000L);
}

static void discount__fixed__is_capped_at_the_amount(void **s)
{
    cpn_def d = def(MQ_COUPON_FIXED, 1000);
    assert_int_equal(mq_coupons_discount(&d, 3900), 1000);
    assert_int_equal(mq_coupons_discount(&d, 700), 700);
    assert_int_equal(mq_coupons_discount(&d, 0), 0);
    assert_int_equal(mq_coupons_discount(&d, -5), 0);
}

static void code_norm__upper_cases_and_checks_the_alphabet(void **s)
{
    char out[CPN_CODE_MAX + 1];
    assert_int_equal(mq_coupons_code_norm("welcome10", out), 0);
    assert_string_equal(out, "WELCOME10");
    assert_int_equal(mq_coupons_code_norm("REF-ab_9", out), 0);
    assert_string_equal(out, "REF-AB_9");
    assert_int_equal(mq_coupons_code_norm("A", out), -1);        /* too short */
    assert_int_equal(mq_coupons_code_norm("BAD CODE", out), -1); /* space */
    assert_int_equal(mq_coupons_code_norm("할인", out), -1);     /* not ASCII */
    assert_int_equal(mq_coupons_code_norm(NULL, out), -1);
    assert_int_equal(mq_coupons_code_norm("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", out), -1); /* 33 */
    assert_int_equal(mq_coupons_code_norm("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", out), 0);   /* 32 */
}

static void def_check__refuses_what_cannot_be_sold(void **s)
{
    cpn_def d = def(MQ_COUPON_PERCENT, 10);
    const char *cause = NULL;
    assert_int_equal(mq_coupons_def_check(&d, &cause), MQ_OK);
    d.value = 0;
    assert_int_equal(mq_coupons_def_check(&d, &cause), MQ_EINVAL);
    assert_non_null(cause);
    d.value = 101;
    assert_int_equal(mq_coupons_def_check(&d, NULL), MQ_EINVAL);
    d = def(MQ_COUPON_FIXED, 1000);
    d.total_uses = 0;
    assert_int_equal(mq_coupons_def_check(&d, NULL), MQ_EINVAL);
    d.total_uses = 5;
    d.per_user = 6;
    assert_int_equal(mq_coupons_def_check(&d, NULL), MQ_EINVAL);
    d.per_user = 1;
    d.valid_from_ms = 2000;
    d.valid_until_ms = 2000;
    assert_int_equal(mq_coupons_def_check(&d, NULL), MQ_EINVAL);
    d.valid_until_ms = 2001;
    assert_int_equal(mq_coupons_def_check(&d, NULL), MQ_OK);
    d.kind = 7;
    assert_int_equal(mq_coupons_def_check(&d, NULL), MQ_EINVAL);
}

static void usable__window_is_from_inclusive_until_exclusive(void **s)
{
    cpn_def d = def(MQ_COUPON_FIXED, 1000);
    d.valid_from_ms = 1000;
    d.valid_until_ms = 2000;
    assert_int_equal(mq_coupons_usable(&d, 999), CPN_NOT_STARTED);
    assert_int_equal(mq_coupons_usable(&d, 1000), CPN_OK);
    assert_int_equal(mq_coupons_usable(&d, 1999), CPN_OK);
    assert_int_equal(mq_coupons_usable(&d, 2000), CPN_EXPIRED);
    d.enabled = 0;
    assert_int_equal(mq_coupons_usable(&d, 1500), CPN_DISABLED);
    d.enabled = 1;
    d.valid_from_ms = d.valid_until_ms = 0;
    assert_int_equal(mq_coupons_usable(&d, 0), CPN_OK);
    assert_int_equal(mq_coupons_usable(&d, INT64_MAX), CPN_OK);
}

static void outcomes__map_to_a_status_a_label_and_korean_text(void **s)
{
    assert_int_equal(mq_coupons_outcome_status(CPN_OK), MQ_OK);
    assert_int_equal(mq_coupons_outcome_status(CPN_UNKNOWN), MQ_ENOENT);
    assert_int_equal(mq_coupons_outcome_status(CPN_EXHAUSTED), MQ_ETOOBIG);
    assert_string_equal(mq_coupons_outcome_label(CPN_USER_LIMIT), "user_limit");
    assert_string_equal(mq_coupons_outcome_reason(CPN_EXPIRED), "사용 기간이 지난 쿠폰입니다.");
    for (int o = 1; o < CPN_OUTCOMES; o++) {
        assert_true(mq_coupons_outcome_status((cpn_outcome)o) < 0);
        assert_true(strlen(mq_coupons_outcome_reason((cpn_outcome)o)) > 0);
    }
}

static void kst_day__is_midnight_in_seoul(void **s)
{
    int64_t ms = 0;
    assert_int_equal(mq_coupons_kst_day_ms("2026-01-01", &ms), 0);
    /* 2026-01-01T00:00+09:00 = 2025-12-31T15:00Z = 1767193200 */
    assert_int_equal(ms, 1767193200000LL);
    assert_int_equal(mq_coupons_kst_day_ms("2024-02-29", &ms), 0);
    assert_int_equal(mq_coupons_kst_day_ms("2023-02-29", &ms), -1);
    assert_int_equal(mq_coupons_kst_day_ms("2026-13-01", &ms), -1);
    assert_int_equal(mq_coupons_kst_day_ms("2026-1-01", &ms), -1);
    assert_int_equal(mq_coupons_kst_day_ms("2026-01-01T", &ms), -1);
    assert_int_equal(mq_coupons_kst_day_ms(NULL, &ms), -1);
}

static void assert_defs_equal(const cpn_def *a, const cpn_def *b)
{
    assert_string_equal(a->code, b->code);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->value, b->value);
    assert_int_equal(a->total_uses, b->total_uses);
    assert_int_equal(a->per_user, b->per_user);
    assert_int_equal(a->valid_from_ms, b->valid_from_ms);
    assert_int_equal(a->valid_until_ms, b->valid_until_ms);
    assert_int_equal(a->enabled, b->enabled);
    assert_int_equal(a->used, b->used);
    assert_int_equal(a->held, b->held);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->updated_ms, b->updated_ms);
}

static void def_json__round_trips(void **s)
{
    cpn_def d = def(MQ_COUPON_PERCENT, 10), back;
    d.per_user = 1;
    d.valid_from_ms = 5;
    d.valid_until_ms = 9;
    d.used = 3;
    d.held = 2;
    d.enabled = 0;
    d.created_ms = 11;
    d.updated_ms = 12;
    char *j = mq_coupons_def_json(&d);
    assert_non_null(strstr(j, "\"kind\":\"percent\""));
    assert_int_equal(mq_coupons_def_parse(j, strlen(j), &back), MQ_OK);
    assert_defs_equal(&d, &back);
    free(j);
    const char *bad = "{\"code\":\"X1\",\"kind\":\"half\",\"value\":1,\"total_uses\":1}";
    assert_int_equal(mq_coupons_def_parse(bad, strlen(bad), &back), MQ_EINVAL);
    const char *torn = "{\"code\":\"X1\",\"kind\":\"fixed\"";
    assert_int_equal(mq_coupons_def_parse(torn, strlen(torn), &back), MQ_EINVAL);
}

static void hold_json__round_trips_and_knows_its_states(void **s)
{
    cpn_hold h = {.state = CPN_EXPIRED_HOLD,
                  .ttl_ms = 60000,
                  .expires_ms = 70,
                  .held_ms = 10,
                  .updated_ms = 80,
                  .late = 1},
             back;
    strcpy(h.order, "MQ20260101000000abcdef0123");
    strcpy(h.code, "WELCOME10");
    strcpy(h.user, "r42");
    char *j = mq_coupons_hold_json(&h);
    assert_non_null(strstr(j, "\"state\":\"expired\""));
    assert_int_equal(mq_coupons_hold_parse(j, strlen(j), &back), MQ_OK);
    assert_string_equal(h.order, back.order);
    assert_string_equal(h.code, back.code);
    assert_string_equal(h.user, back.user);
    assert_int_equal(h.state, back.state);
    assert_int_equal(h.ttl_ms, back.ttl_ms);
    assert_int_equal(h.expires_ms, back.expires_ms);
    assert_int_equal(h.held_ms, back.held_ms);
    assert_int_equal(h.updated_ms, back.updated_ms);
    assert_int_equal(h.late, back.late);
    free(j);
    const char *odd = "{\"order\":\"o1\",\"code\":\"C1\",\"state\":\"lost\"}";
    assert_int_equal(mq_coupons_hold_parse(odd, strlen(odd), &back), MQ_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discount__percent__rounds_down_to_a_won),
        cmocka_unit_test(discount__percent_100__is_the_whole_price),
        cmocka_unit_test(discount__percent_of_a_huge_amount__does_not_overflow),
        cmocka_unit_test(discount__fixed__is_capped_at_the_amount),
        cmocka_unit_test(code_norm__upper_cases_and_checks_the_alphabet),
        cmocka_unit_test(def_check__refuses_what_cannot_be_sold),
        cmocka_unit_test(usable__window_is_from_inclusive_until_exclusive),
        cmocka_unit_test(outcomes__map_to_a_status_a_label_and_korean_text),
        cmocka_unit_test(kst_day__is_midnight_in_seoul),
        cmocka_unit_test(def_json__round_trips),
        cmocka_unit_test(hold_json__round_trips_and_knows_its_states),
    };
    return cmocka_run_group_tests_name("coupon_math", tests, NULL, NULL);
}
