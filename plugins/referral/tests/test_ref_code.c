/*
 * test_ref_code.c -- code.c: code derivation, code records and owners,
 * cookies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_host.h"
#include "ref.h"

static ref_state st;

static int64_t fake_clock(void)
{
    return fake.now_ms;
}

static int setup(void **s)
{
    fake_reset();
    memset(&st, 0, sizeof st);
    st.api = &fake.api;
    st.self = fake_self();
    st.clock_ms = fake_clock;
    st.cookie_days = 30;
    return 0;
}

static int teardown(void **s)
{
    fake_reset();
    return 0;
}

static const char UID_A[] = "0123456789abcdef0123456789abcdef";
static const char UID_B[] = "fedcba9876543210fedcba9876543210";

static void candidate__is_stable_short_and_unambiguous(void **s)
{
    char a[9], b[9], c[9];
    assert_int_equal(mq_referral_code_candidate(st.api, "a1b2c3d4e5", 0, a), MQ_OK);
    assert_int_equal(mq_referral_code_candidate(st.api, "a1b2c3d4e5", 0, b), MQ_OK);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), MQ_REFERRAL_CODE_LEN);
    assert_int_equal(mq_referral_code_candidate(st.api, "a1b2c3d4e5", 1, c), MQ_OK);
    assert_string_not_equal(a, c);
    assert_int_equal(mq_referral_code_candidate(st.api, "a1b2c3d4e6", 0, c), MQ_OK);
    assert_string_not_equal(a, c);
    assert_int_equal(mq_referral_code_candidate(st.api, "x", 6, c), MQ_EINVAL);
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "res%d", i);
        assert_int_equal(mq_referral_code_candidate(st.api, id, i % 6, c), MQ_OK);
        assert_null(strpbrk(c, "01lo"));
        char norm[9];
        assert_int_equal(mq_referral_code_norm(c, norm), 0);
    }
}

static void code_norm__lower_cases_and_refuses_strangers(void **s)
{
    char out[9];
    assert_int_equal(mq_referral_code_norm("ABCD2345", out), 0);
    assert_string_equal(out, "abcd2345");
    assert_int_equal(mq_referral_code_norm("abcd234", out), -1);   /* 7 */
    assert_int_equal(mq_referral_code_norm("abcd23456", out), -1); /* 9 */
    assert_int_equal(mq_referral_code_norm("abcd2340", out), -1);  /* 0 */
    assert_int_equal(mq_referral_code_norm("abc/2345", out), -1);
    assert_int_equal(mq_referral_code_norm(NULL, out), -1);
    assert_true(mq_referral_uid_valid(UID_A));
    assert_false(mq_referral_uid_valid("0123456789ABCDEF0123456789abcdef"));
    assert_false(mq_referral_uid_valid("0123"));
    assert_false(mq_referral_uid_valid(NULL));
}

static void code_of__records_once_and_learns_the_owner_once(void **s)
{
    ref_code c, again;
    assert_int_equal(mq_referral_code_of(&st, "res1", NULL, 0, &c), MQ_ENOENT);
    assert_int_equal(mq_referral_code_of(&st, "res1", NULL, 1, &c), MQ_OK);
    assert_string_equal(c.result_id, "res1");
    assert_string_equal(c.uid, "");
    assert_int_equal(fake_store_count("ref_codes"), 1);
    /* The owner becomes known: recorded once. */
    assert_int_equal(mq_referral_code_of(&st, "res1", UID_A, 1, &again), MQ_OK);
    assert_string_equal(again.code, c.code);
    assert_string_equal(again.uid, UID_A);
    assert_int_equal(fake_store_count("ref_codes"), 2);
    /* Another browser cannot take it over; reading writes nothing. */
    assert_int_equal(mq_referral_code_of(&st, "res1", UID_B, 1, &again), MQ_OK);
    assert_string_equal(again.uid, UID_A);
    assert_int_equal(mq_referral_code_of(&st, "res1", NULL, 0, &again), MQ_OK);
    assert_int_equal(fake_store_count("ref_codes"), 2);
    ref_code looked;
    assert_int_equal(mq_referral_code_lookup(&st, c.code, &looked), MQ_OK);
    assert_string_equal(looked.result_id, "res1");
    assert_string_equal(looked.uid, UID_A);
    assert_int_equal(mq_referral_code_of(&st, "bad id", NULL, 1, &again), MQ_EINVAL);
}

static void code_of__a_taken_candidate_moves_to_the_next(void **s)
{
    char first[9], second[9];
    mq_referral_code_candidate(st.api, "res2", 0, first);
    mq_referral_code_candidate(st.api, "res2", 1, second);
    char rec[200];
    snprintf(rec, sizeof rec, "{\"code\":\"%s\",\"result_id\":\"other\",\"uid\":\"\"}", first);
    fake_store_put("ref_codes", first, rec);
    ref_code c, again;
    assert_int_equal(mq_referral_code_of(&st, "res2", NULL, 1, &c), MQ_OK);
    assert_string_equal(c.code, second);
    assert_int_equal(mq_referral_code_of(&st, "res2", NULL, 0, &again), MQ_OK);
    assert_string_equal(again.code, second);
    ref_code other;
    assert_int_equal(mq_referral_code_lookup(&st, first, &other), MQ_OK);
    assert_string_equal(other.result_id, "other");
}

static void cookies__are_httponly_lax_and_secure_on_https(void **s)
{
    char c[160];
    mq_referral_cookie(c, sizeof c, "mq_ref", "abcd2345", 2592000, 0);
    assert_string_equal(c, "mq_ref=abcd2345; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax");
    mq_referral_cookie(c, sizeof c, "mq_ref", "abcd2345", 60, 1);
    assert_string_equal(c, "mq_ref=abcd2345; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure");
}

static void ensure_uid__keeps_a_good_one_and_sets_a_new_one(void **s)
{
    char uid[33];
    mq_req *r = fake_req_new("GET", "/");
    char cookie[80];
    snprintf(cookie, sizeof cookie, "other=1; mq_uid=%s", UID_A);
    fake_req_header(r, "Cookie", cookie);
    assert_int_equal(mq_referral_ensure_uid(&st, r, uid), MQ_OK);
    assert_string_equal(uid, UID_A);
    assert_null(fake_resp_header(r, "Set-Cookie", 0));
    fake_req_free(r);

    r = fake_req_new("GET", "/");
    fake_req_header(r, "Cookie", "mq_uid=forged");
    assert_int_equal(mq_referral_ensure_uid(&st, r, uid), MQ_OK);
    assert_true(mq_referral_uid_valid(uid));
    const char *set = fake_resp_header(r, "Set-Cookie", 0);
    assert_non_null(set);
    assert_int_equal(strncmp(set, "mq_uid=", 7), 0);
    assert_non_null(strstr(set, uid));
    assert_non_null(strstr(set, "Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax"));
    fake_req_free(r);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(candidate__is_stable_short_and_unambiguous),
        T(code_norm__lower_cases_and_refuses_strangers),
        T(code_of__records_once_and_learns_the_owner_once),
        T(code_of__a_taken_candidate_moves_to_the_next),
        T(cookies__are_httponly_lax_and_secure_on_https),
        T(ensure_uid__keeps_a_good_one_and_sets_a_new_one),
    };
    return cmocka_run_group_tests_name("ref_code", tests, NULL, NULL);
}
