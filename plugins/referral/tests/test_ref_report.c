/*
 * test_ref_report.c -- the report model of `mindquiz report ref`
 * (host/cli_report.c) against a hand-computed fixture of the files the
 * referral plugin writes. It lives beside the plugin whose records it
 * reads; it links the host's library (the report is a host command).
 *
 * The fixture (Korean days, 2026-11-19 .. 2026-11-24), codes a/b/c =
 * aaaaaaaa (result resA), bbbbbbbb (resB), cccccccc (resC):
 *   visits   a: 11-20 00:00, 09:15, 23:59:59; 11-21 00:00:30
 *            b: 11-21 13:00 x2            c: 11-19 12:00
 *   results  X1 a 11-20, X2 a 11-21, X3 b 11-22, X4 c 11-24 00:00
 *   orders   01 a 3900 11-21 granted 1000
 *            02 a 3510 11-22 granted, then refunded and voided
 *            03 b 3900 11-22 reward none (rewards off)
 *            04 b 3900 11-23 reward pending
 *            05 a 3900 11-24 granted 1000
 *            06 c 2900 11-23 23:59:59 granted 1000, refunded (reward kept: used)
 *   plus an order event (not ours), a torn visit line and a garbage line.
 *
 * By hand, 11-20 .. 11-23:
 *   a: visits 4, results 2, conversions 2 (01, 02), refunds 1 (02),
 *      revenue 3900 (01), rewards 1 (01) = 1000 KRW
 *   b: visits 2, results 1, conversions 2 (03, 04), revenue 7800, rewards 0
 *   c: visits 0 (11-19), results 0 (11-24), conversions 1 (06), refunds 1,
 *      revenue 0, rewards 1 = 1000 KRW
 *   rank: a and b have 2 conversions; b has more revenue -> b, a, c
 *   days: 20: 3 visits, 1 result
 *         21: 3 visits, 1 result, 1 conversion, 3900, 1 reward (1000)
 *         22: 1 result, 2 conversions (02, 03), 1 refund, 3900
 *         23: 2 conversions (04, 06), 1 refund, 3900, 1 reward (1000)
 *   total: 6, 3, 5, 2, 11700, 2, 2000
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_report.h"

static const char *const CODES[] = {
    "{\"k\":\"aaaaaaaa\",\"code\":\"aaaaaaaa\",\"result_id\":\"resA\",\"uid\":\"\",\"ts\":1}",
    "{\"k\":\"bbbbbbbb\",\"code\":\"bbbbbbbb\",\"result_id\":\"resB\",\"uid\":\"\",\"ts\":1}",
    "{\"k\":\"cccccccc\",\"code\":\"cccccccc\",\"result_id\":\"resC\",\"uid\":\"\",\"ts\":1}",
};

#define VISIT(code, ts)                                                                            \
    "{\"k\":\"\",\"v\":1,\"type\":\"referral.visit\",\"code\":\"" code                             \
    "\",\"referrer_result\":\"x\",\"uid\":\"u\",\"via\":\"page\",\"ts\":" ts "}"

static const char *const EVENTS[] = {
    VISIT("aaaaaaaa", "1795100400000"),
    VISIT("aaaaaaaa", "1795133700000"),
    VISIT("aaaaaaaa", "1795186799000"),
    VISIT("aaaaaaaa", "1795186830000"),
    VISIT("bbbbbbbb", "1795233600000"),
    VISIT("bbbbbbbb", "1795233600000"),
    VISIT("cccccccc", "1795057200000"),
    "{\"k\":\"\",\"type\":\"order.approved\",\"order\":\"MQ1\",\"ts\":1795233600000}",
    "{\"k\":\"\",\"type\":\"referral.visit\",\"code\":\"aaaa", /* torn */
};

#define ATTRIB(res, code, ms)                                                                      \
    "{\"k\":\"" res "\",\"result_id\":\"" res "\",\"code\":\"" code                                \
    "\",\"referrer_result\":\"x\",\"uid\":\"u\",\"created_ms\":" ms ",\"ts\":" ms "}"

static const char *const ATTRIBS[] = {
    ATTRIB("X1", "aaaaaaaa", "1795133700000"),
    ATTRIB("X2", "aaaaaaaa", "1795233600000"),
    ATTRIB("X3", "bbbbbbbb", "1795302000000"),
    ATTRIB("X4", "cccccccc", "1795446000000"),
    "garbage that is not json",
};

#define REFERRAL(id, code, amount, ms, reward, refunded)                                           \
    "{\"k\":\"" id "\",\"order\":\"" id "\",\"result_id\":\"x\",\"code\":\"" code                  \
    "\",\"referrer_result\":\"res\",\"amount\":" amount ",\"approved_ms\":" ms                     \
    ",\"reward\":\"" reward                                                                        \
    "\",\"reward_coupon\":\"REF-1\",\"reward_krw\":1000,\"refunded\":" refunded ",\"ts\":" ms "}"

static const char *const REFERRALS[] = {
    REFERRAL("MQ01", "aaaaaaaa", "3900", "1795233600000", "pending", "false"),
    REFERRAL("MQ01", "aaaaaaaa", "3900", "1795233600000", "granted", "false"),
    REFERRAL("MQ02", "aaaaaaaa", "3510", "1795302000000", "granted", "false"),
    REFERRAL("MQ03", "bbbbbbbb", "3900", "1795345200000", "none", "false"),
    REFERRAL("MQ04", "bbbbbbbb", "3900", "1795395600000", "pending", "false"),
    REFERRAL("MQ05", "aaaaaaaa", "3900", "1795446000000", "granted", "false"),
    REFERRAL("MQ06", "cccccccc", "2900", "1795445999000", "granted", "true"),
    REFERRAL("MQ02", "aaaaaaaa", "3510", "1795302000000", "voided", "true"),
};

static void feed(mq_ref_report *r, const char *coll, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mq_ref_report_line(r, coll, lines[i], strlen(lines[i]));
}

#define FEED(r, coll, arr) feed(r, coll, arr, sizeof arr / sizeof arr[0])

static mq_ref_report *fixture(const char *from, const char *to)
{
    int64_t f = 0, t = 0;
    if (from)
        assert_int_equal(mq_ref_report_day_ms(from, &f), 0);
    if (to) {
        assert_int_equal(mq_ref_report_day_ms(to, &t), 0);
        t += 24 * 3600 * 1000LL;
    }
    mq_ref_report *r = mq_ref_report_new(f, t);
    assert_non_null(r);
    /* Files in any order: the model does not care. */
    FEED(r, "referrals", REFERRALS);
    FEED(r, "events", EVENTS);
    FEED(r, "ref_attrib", ATTRIBS);
    FEED(r, "ref_codes", CODES);
    return r;
}

static char *render(mq_ref_report *r, int csv, int top)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(mq_ref_report_write(r, f, csv, top), 0);
    fclose(f);
    return text;
}

static void csv__a_range_matches_the_hand_computed_figures(void **s)
{
    mq_ref_report *r = fixture("2026-11-20", "2026-11-23");
    char *csv = render(r, 1, 10);
    assert_string_equal(csv, "section,day,code,referrer_result,visits,results,conversions,refunds,"
                             "revenue_krw,rewards,reward_krw\r\n"
                             "referrer,,bbbbbbbb,resB,2,1,2,0,7800,0,0\r\n"
                             "referrer,,aaaaaaaa,resA,4,2,2,1,3900,1,1000\r\n"
                             "referrer,,cccccccc,resC,0,0,1,1,0,1,1000\r\n"
                             "day,2026-11-20,,,3,1,0,0,0,0,0\r\n"
                             "day,2026-11-21,,,3,1,1,0,3900,1,1000\r\n"
                             "day,2026-11-22,,,0,1,2,1,3900,0,0\r\n"
                             "day,2026-11-23,,,0,0,2,1,3900,1,1000\r\n"
                             "total,,,,6,3,5,2,11700,2,2000\r\n");
    /* The torn visit and the garbage line were skipped, not counted. */
    assert_int_equal(mq_ref_report_skipped(r), 2);
    free(csv);
    mq_ref_report_free(r);
}

static void csv__everything_when_no_range_is_given(void **s)
{
    mq_ref_report *r = fixture(NULL, NULL);
    char *csv = render(r, 1, 10);
    assert_string_equal(csv, "section,day,code,referrer_result,visits,results,conversions,refunds,"
                             "revenue_krw,rewards,reward_krw\r\n"
                             "referrer,,aaaaaaaa,resA,4,2,3,1,7800,2,2000\r\n"
                             "referrer,,bbbbbbbb,resB,2,1,2,0,7800,0,0\r\n"
                             "referrer,,cccccccc,resC,1,1,1,1,0,1,1000\r\n"
                             "day,2026-11-19,,,1,0,0,0,0,0,0\r\n"
                             "day,2026-11-20,,,3,1,0,0,0,0,0\r\n"
                             "day,2026-11-21,,,3,1,1,0,3900,1,1000\r\n"
                             "day,2026-11-22,,,0,1,2,1,3900,0,0\r\n"
                             "day,2026-11-23,,,0,0,2,1,3900,1,1000\r\n"
                             "day,2026-11-24,,,0,1,1,0,3900,1,1000\r\n"
                             "total,,,,7,4,6,2,15600,3,3000\r\n");
    /* Writing twice gives the same report. */
    char *again = render(r, 1, 10);
    assert_string_equal(csv, again);
    free(again);
    free(csv);
    mq_ref_report_free(r);
}

static void csv__a_quiet_range_still_lists_its_days(void **s)
{
    mq_ref_report *r = fixture("2026-12-01", "2026-12-02");
    char *csv = render(r, 1, 10);
    assert_string_equal(csv, "section,day,code,referrer_result,visits,results,conversions,refunds,"
                             "revenue_krw,rewards,reward_krw\r\n"
                             "day,2026-12-01,,,0,0,0,0,0,0,0\r\n"
                             "day,2026-12-02,,,0,0,0,0,0,0,0\r\n"
                             "total,,,,0,0,0,0,0,0,0\r\n");
    free(csv);
    mq_ref_report_free(r);
}

static void csv__fields_are_quoted_per_rfc4180(void **s)
{
    mq_ref_report *r = mq_ref_report_new(0, 0);
    const char *code = "{\"k\":\"dddddddd\",\"code\":\"dddddddd\",\"result_id\":\"a,\\\"b\\\"\"}";
    const char *ref = "{\"k\":\"MQ9\",\"code\":\"dddddddd\",\"amount\":100,\"approved_ms\":"
                      "1795233600000,\"reward\":\"none\"}";
    mq_ref_report_line(r, "ref_codes", code, strlen(code));
    mq_ref_report_line(r, "referrals", ref, strlen(ref));
    char *csv = render(r, 1, 10);
    assert_non_null(strstr(csv, "referrer,,dddddddd,\"a,\"\"b\"\"\",0,0,1,0,100,0,0\r\n"));
    free(csv);
    mq_ref_report_free(r);
}

static size_t screen_width(const char *line)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)line; *p && *p != '\n'; p++)
        w += (*p & 0xc0) != 0x80 ? (*p >= 0xe0 ? 2 : 1) : 0;
    return w;
}

static void table__ranks_the_top_referrers_and_shows_the_trend(void **s)
{
    mq_ref_report *r = fixture("2026-11-20", "2026-11-23");
    char *t = render(r, 0, 2);
    assert_non_null(strstr(t, "리퍼럴 리포트  2026-11-20 ~ 2026-11-23 (KST)"));
    assert_non_null(strstr(t, "상위 추천인 (전환 순, 2/3명)"));
    const char *b = strstr(t, "bbbbbbbb"), *a = strstr(t, "aaaaaaaa");
    assert_non_null(b);
    assert_non_null(a);
    assert_true(b < a);
    assert_null(strstr(t, "cccccccc")); /* --top 2 */
    assert_non_null(strstr(t, "7,800"));
    assert_non_null(strstr(t, "11,700"));
    assert_non_null(strstr(t, "일별 추이"));
    assert_non_null(strstr(t, "2026-11-22"));
    assert_non_null(strstr(t, "읽을 수 없는 줄 2개"));
    /* Columns line up: the header line and a row are as wide on screen
     * (a Hangul syllable is 3 bytes of UTF-8 and 2 columns). */
    const char *head = strstr(t, "\n순위") + 1;
    const char *row = strstr(t, "   1  bbbbbbbb");
    assert_non_null(head);
    assert_non_null(row);
    assert_int_equal(screen_width(head), screen_width(row));
    const char *dhead = strstr(t, "날짜"), *drow = strstr(t, "2026-11-21 ");
    assert_int_equal(screen_width(dhead), screen_width(drow));
    free(t);
    mq_ref_report_free(r);
}

static void day_ms__parses_korean_days_and_refuses_nonsense(void **s)
{
    int64_t ms = 0;
    assert_int_equal(mq_ref_report_day_ms("2026-11-20", &ms), 0);
    assert_int_equal(ms, 1795100400000LL);
    assert_int_equal(mq_ref_report_day_ms("2026-02-30", &ms), -1);
    assert_int_equal(mq_ref_report_day_ms("2026-11-2", &ms), -1);
    assert_int_equal(mq_ref_report_day_ms("20261120", &ms), -1);
    assert_int_equal(mq_ref_report_day_ms("yesterday", &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv__a_range_matches_the_hand_computed_figures),
        cmocka_unit_test(csv__everything_when_no_range_is_given),
        cmocka_unit_test(csv__a_quiet_range_still_lists_its_days),
        cmocka_unit_test(csv__fields_are_quoted_per_rfc4180),
        cmocka_unit_test(table__ranks_the_top_referrers_and_shows_the_trend),
        cmocka_unit_test(day_ms__parses_korean_days_and_refuses_nonsense),
    };
    return cmocka_run_group_tests_name("ref_report", tests, NULL, NULL);
}
