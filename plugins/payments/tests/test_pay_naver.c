/*
 * test_pay_naver.c -- NaverPay request builders and response parsers
 * (naver.c, gateway.c) against the shapes of ../shared/pg-apis.md:
 * envelope codes, AlreadyComplete, the idempotency key's 409 replay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "pay.h"

static pay_config config(void)
{
    pay_config c;
    memset(&c, 0, sizeof c);
    c.public_base = "https://mindquiz.app";
    c.naver_base = "https://dev-pay.paygate.naver.com";
    c.naver_partner = "np_abc123";
    c.naver_client_id = "client-id";
    c.naver_client_secret = "client-secret";
    c.naver_chain_id = "chain-1";
    c.naver_page_base = "https://test-m.pay.naver.com/payments";
    return c;
}

static pay_order order(void)
{
    pay_order o;
    memset(&o, 0, sizeof o);
    strcpy(o.id, "MQ20261127131000a1b2c3d4e5");
    strcpy(o.provider, "naver");
    strcpy(o.result_id, "r123");
    strcpy(o.product, "premium_result");
    strcpy(o.reserve_id, "R20261127000001");
    strcpy(o.payment_id, "20261127NP1043587746");
    strcpy(o.sig, "cba2aae725158050a13b2a4e071efb85ba02fd749707432158cb77a14649b6b2");
    o.amount = 3900;
    return o;
}

static const pay_product product = {"premium_result", "프리미엄 결과 리포트", 3900};

static mq_http_response resp(int status, const char *body)
{
    mq_http_response r = {.status = status,
                          .error = MQ_OK,
                          .error_text = "",
                          .sent = 1,
                          .headers = "",
                          .body = body,
                          .body_len = strlen(body)};
    return r;
}

static const char *header(const pay_call *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; c->headers[i]; i++)
        if (!strncmp(c->headers[i], name, n) && c->headers[i][n] == ':')
            return c->headers[i] + n + 2;
    return NULL;
}

static void assert_auth_headers(const pay_call *c)
{
    assert_string_equal(header(c, "X-Naver-Client-Id"), "client-id");
    assert_string_equal(header(c, "X-Naver-Client-Secret"), "client-secret");
    assert_string_equal(header(c, "X-NaverPay-Chain-Id"), "chain-1");
}

/* ---- builders ---------------------------------------------------------------------- */

static void reserve__request__json_body_and_idempotency_key(void **state)
{
    pay_config c = config();
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_naver_reserve(&c, &o, &product, &call), MQ_OK);
    assert_string_equal(call.url,
                        "https://dev-pay.paygate.naver.com/np_abc123/naverpay/payments/v2/reserve");
    assert_auth_headers(&call);
    assert_string_equal(header(&call, "Content-Type"), "application/json");
    assert_string_equal(header(&call, "X-NaverPay-Idempotency-Key"),
                        "MQ20261127131000a1b2c3d4e5-reserve");
    json_object *j = json_tokener_parse(call.body), *v;
    assert_non_null(j);
#define STR(k, want)                                                                               \
    assert_true(json_object_object_get_ex(j, k, &v));                                              \
    assert_string_equal(json_object_get_string(v), want)
#define INT(k, want)                                                                               \
    assert_true(json_object_object_get_ex(j, k, &v));                                              \
    assert_true(json_object_is_type(v, json_type_int));                                            \
    assert_int_equal(json_object_get_int64(v), want)
    STR("modelVersion", "2");
    STR("merchantUserKey", "r123");
    STR("merchantPayKey", "MQ20261127131000a1b2c3d4e5");
    STR("productName", "프리미엄 결과 리포트");
    INT("productCount", 1);
    INT("totalPayAmount", 3900);
    INT("taxScopeAmount", 3900);
    INT("taxExScopeAmount", 0);
    STR("returnUrl", "https://mindquiz.app/api/pay/naver/return?order=MQ20261127131000a1b2c3d4e5"
                     "&sig=cba2aae725158050a13b2a4e071efb85ba02fd749707432158cb77a14649b6b2");
    assert_true(json_object_object_get_ex(j, "productItems", &v));
    assert_int_equal(json_object_array_length(v), 1);
    json_object *item = json_object_array_get_idx(v, 0), *f;
    assert_true(json_object_object_get_ex(item, "categoryType", &f));
    assert_string_equal(json_object_get_string(f), "ETC");
    assert_true(json_object_object_get_ex(item, "uid", &f));
    assert_string_equal(json_object_get_string(f), "premium_result");
    assert_true(json_object_object_get_ex(item, "count", &f));
    assert_int_equal(json_object_get_int(f), 1);
    json_object_put(j);
    mq_payments_call_cleanup(&call);
}

static void apply__request__form_payment_id_and_key(void **state)
{
    pay_config c = config();
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_naver_apply(&c, &o, "20261127NP1043587746", &call), MQ_OK);
    assert_string_equal(
        call.url,
        "https://dev-pay.paygate.naver.com/np_abc123/naverpay/payments/v2.2/apply/payment");
    assert_auth_headers(&call);
    assert_string_equal(header(&call, "Content-Type"), "application/x-www-form-urlencoded");
    assert_string_equal(header(&call, "X-NaverPay-Idempotency-Key"),
                        "MQ20261127131000a1b2c3d4e5-apply");
    assert_string_equal(call.body, "paymentId=20261127NP1043587746");
    assert_int_equal(call.body_len, strlen(call.body));
    mq_payments_call_cleanup(&call);
}

static void cancel__request__form_fields_and_key(void **state)
{
    pay_config c = config();
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_naver_cancel(&c, &o, 3900, "고객 요청 환불", &call), MQ_OK);
    assert_string_equal(call.url,
                        "https://dev-pay.paygate.naver.com/np_abc123/naverpay/payments/v1/cancel");
    assert_string_equal(header(&call, "X-NaverPay-Idempotency-Key"),
                        "MQ20261127131000a1b2c3d4e5-cancel");
    assert_string_equal(call.body, "paymentId=20261127NP1043587746&cancelAmount=3900&cancelReason="
                                   "%EA%B3%A0%EA%B0%9D%20%EC%9A%94%EC%B2%AD%20%ED%99%98%EB%B6%88"
                                   "&cancelRequester=2&taxScopeAmount=3900&taxExScopeAmount=0");
    mq_payments_call_cleanup(&call);
}

static void history__request__json_payment_id_no_key(void **state)
{
    pay_config c = config();
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_naver_history(&c, &o, &call), MQ_OK);
    assert_string_equal(
        call.url,
        "https://dev-pay.paygate.naver.com/np_abc123/naverpay/payments/v2.2/list/history");
    assert_string_equal(call.body, "{\"paymentId\":\"20261127NP1043587746\"}");
    assert_null(header(&call, "X-NaverPay-Idempotency-Key"));
    assert_auth_headers(&call);
    mq_payments_call_cleanup(&call);
}

static void page_url__reserve_id_appended(void **state)
{
    pay_config c = config();
    char *u = mq_payments_naver_page_url(&c, "R20261127000001");
    assert_string_equal(u, "https://test-m.pay.naver.com/payments/R20261127000001");
    free(u);
}

/* ---- parsers -------------------------------------------------------------------------- */

static void reserve__success__reserve_id(void **state)
{
    mq_http_response r = resp(200, "{\"code\":\"Success\",\"message\":\"detail message\","
                                   "\"body\":{\"reserveId\":\"R20261127000001\"}}");
    pay_result res;
    mq_payments_naver_parse_reserve(&r, &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_string_equal(res.reserve_id, "R20261127000001");

    r = resp(409, "{\"code\":\"Success\",\"message\":\"\",\"body\":{\"reserveId\":\"R2\"}}");
    mq_payments_naver_parse_reserve(&r, &res);
    assert_int_equal(res.outcome, PAY_OK); /* an idempotent replay of the success */
    assert_string_equal(res.reserve_id, "R2");
}

static void reserve__codes__fail(void **state)
{
    mq_http_response r =
        resp(200, "{\"code\":\"InvalidMerchant\",\"message\":\"유효하지 않은 가맹점\"}");
    pay_result res;
    mq_payments_naver_parse_reserve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_GATEWAY);
    assert_non_null(strstr(res.cause, "InvalidMerchant"));

    r = resp(400, "{\"code\":\"RequireParameter\",\"message\":\"returnUrl\"}");
    mq_payments_naver_parse_reserve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);

    r = resp(200, "{\"code\":\"Success\",\"body\":{}}");
    mq_payments_naver_parse_reserve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
}

static const char *APPLY_OK =
    "{\"code\":\"Success\",\"message\":\"\",\"body\":{\"paymentId\":\"20261127NP1043587746\","
    "\"detail\":{\"paymentId\":\"20261127NP1043587746\",\"payHistId\":\"20261127NP1043587747\","
    "\"merchantId\":\"np_abc123\",\"merchantName\":\"MindQuiz\","
    "\"merchantPayKey\":\"MQ20261127131000a1b2c3d4e5\",\"merchantUserKey\":\"r123\","
    "\"productName\":\"프리미엄 결과 리포트\",\"admissionTypeCode\":\"01\","
    "\"admissionYmdt\":\"20261127131030\",\"tradeConfirmYmdt\":\"\","
    "\"admissionState\":\"SUCCESS\",\"totalPayAmount\":3900,\"applyPayAmount\":3900,"
    "\"primaryPayAmount\":3900,\"npointPayAmount\":0,\"giftCardAmount\":0,"
    "\"discountPayAmount\":0,\"taxScopeAmount\":3900,\"taxExScopeAmount\":0,"
    "\"environmentDepositAmount\":0,\"primaryPayMeans\":\"CARD\",\"cardCorpCode\":\"C0\","
    "\"cardNo\":\"465887**********\",\"cardAuthNo\":\"17545616\",\"cardInstCount\":0,"
    "\"usedCardPoint\":false,\"bankCorpCode\":\"\",\"bankAccountNo\":\"\","
    "\"settleExpected\":false,\"extraDeduction\":false,\"useCfmYmdt\":\"\"}}}";

static void apply__success__detail_amount_and_keys(void **state)
{
    mq_http_response r = resp(200, APPLY_OK);
    pay_result res;
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_int_equal(res.amount, 3900);
    assert_string_equal(res.payment_id, "20261127NP1043587746");
    assert_string_equal(res.aid, "20261127NP1043587747");
    assert_string_equal(res.merchant_key, "MQ20261127131000a1b2c3d4e5");
}

static void apply__409_replay__treated_as_the_earlier_answer(void **state)
{
    mq_http_response r = resp(409, APPLY_OK);
    pay_result res;
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_int_equal(res.amount, 3900);

    r = resp(409, "{\"code\":\"OwnerAuthFail\",\"message\":\"본인 인증 실패\"}");
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_DECLINED);
    assert_non_null(strstr(res.cause, "idempotent replay"));
}

static void apply__codes__classified(void **state)
{
    struct {
        const char *code;
        pay_outcome outcome;
        const char *reason;
    } cases[] = {
        {"AlreadyComplete", PAY_UNKNOWN, NULL},
        {"AlreadyOnGoing", PAY_UNKNOWN, NULL},
        {"TimeExpired", PAY_FAIL, PAY_R_TIMEOUT},
        {"Fail", PAY_FAIL, PAY_R_DECLINED},
        {"OwnerAuthFail", PAY_FAIL, PAY_R_DECLINED},
        {"NotEnoughAccountBalance", PAY_FAIL, PAY_R_DECLINED},
        {"InvalidMerchant", PAY_FAIL, PAY_R_GATEWAY},
        {"MaintenanceOngoing", PAY_FAIL, PAY_R_GATEWAY},
        {"FaultCheckOngoing", PAY_FAIL, PAY_R_GATEWAY},
        {"BankMaintenance", PAY_FAIL, PAY_R_GATEWAY},
        {"InvalidParameter", PAY_FAIL, PAY_R_GATEWAY},
        {"SomethingNew", PAY_UNKNOWN, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"m\",\"body\":null}",
                 cases[i].code);
        mq_http_response r = resp(200, body);
        pay_result res;
        mq_payments_naver_parse_apply(&r, &res);
        if (res.outcome != cases[i].outcome)
            fail_msg("%s: outcome %d, want %d", cases[i].code, res.outcome, cases[i].outcome);
        if (cases[i].reason)
            assert_string_equal(res.reason, cases[i].reason);
        assert_string_equal(res.gw_status, cases[i].code);
    }
}

static void apply__transport__unknown_after_sending(void **state)
{
    pay_result res;
    mq_http_response r = {.status = 0,
                          .error = MQ_ETIMEDOUT,
                          .error_text = "t",
                          .sent = 1,
                          .headers = "",
                          .body = "",
                          .body_len = 0};
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
    r.sent = 0;
    r.error = MQ_EIO;
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    r = resp(503, "{\"code\":\"MaintenanceOngoing\"}");
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
    r = resp(200, "{\"code\":\"Success\",\"body\":{\"paymentId\":\"x\"}}");
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
    r = resp(404, "Not Found");
    mq_payments_naver_parse_apply(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
}

static void history__approval_success__approved(void **state)
{
    mq_http_response r = resp(
        200,
        "{\"code\":\"Success\",\"message\":\"\",\"body\":{\"responseCount\":2,\"totalCount\":2,"
        "\"totalPageCount\":1,\"currentPageNumber\":1,\"list\":["
        "{\"paymentId\":\"other\",\"admissionTypeCode\":\"01\",\"admissionState\":\"SUCCESS\","
        "\"totalPayAmount\":100,\"merchantPayKey\":\"MQ20261127131000ffffffffff\"},"
        "{\"paymentId\":\"20261127NP1043587746\",\"payHistId\":\"20261127NP1043587747\","
        "\"merchantPayKey\":\"MQ20261127131000a1b2c3d4e5\",\"admissionTypeCode\":\"01\","
        "\"admissionState\":\"SUCCESS\",\"totalPayAmount\":3900,"
        "\"settleInfo\":{\"primaryCommissionAmount\":0}}]}}");
    pay_result res;
    mq_payments_naver_parse_history(&r, "20261127NP1043587746", &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_int_equal(res.amount, 3900);
    assert_string_equal(res.merchant_key, "MQ20261127131000a1b2c3d4e5");
    assert_false(res.canceled);
}

static void history__shapes__pending_failed_canceled_unknown(void **state)
{
    pay_result res;
    mq_http_response r = resp(200, "{\"code\":\"Success\",\"body\":{\"list\":[]}}");
    mq_payments_naver_parse_history(&r, "P1", &res);
    assert_int_equal(res.outcome, PAY_PENDING);

    r = resp(200, "{\"code\":\"Success\",\"body\":{\"list\":[{\"paymentId\":\"P1\","
                  "\"admissionTypeCode\":\"01\",\"admissionState\":\"FAIL\"}]}}");
    mq_payments_naver_parse_history(&r, "P1", &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_DECLINED);

    r = resp(200,
             "{\"code\":\"Success\",\"body\":{\"list\":["
             "{\"paymentId\":\"P1\",\"admissionTypeCode\":\"01\",\"admissionState\":\"SUCCESS\","
             "\"totalPayAmount\":3900},"
             "{\"paymentId\":\"P1\",\"admissionTypeCode\":\"03\",\"admissionState\":\"SUCCESS\","
             "\"totalPayAmount\":3900}]}}");
    mq_payments_naver_parse_history(&r, "P1", &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_true(res.canceled);

    r = resp(200, "{\"code\":\"TimeConditionError\",\"message\":\"x\"}");
    mq_payments_naver_parse_history(&r, "P1", &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);

    r = resp(500, "");
    mq_payments_naver_parse_history(&r, "P1", &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
}

static void cancel__codes__classified(void **state)
{
    struct {
        const char *code;
        pay_outcome outcome;
    } cases[] = {
        {"Success", PAY_OK},
        {"CancelNotComplete", PAY_OK},
        {"AlreadyCanceled", PAY_OK},
        {"OverRemainAmount", PAY_FAIL},
        {"CancelDeadlineExpired", PAY_FAIL},
        {"InvalidPaymentId", PAY_FAIL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[200];
        snprintf(body, sizeof body,
                 "{\"code\":\"%s\",\"message\":\"m\",\"body\":{\"paymentId\":\"P1\","
                 "\"primaryPayCancelAmount\":3900,\"totalRestAmount\":0}}",
                 cases[i].code);
        mq_http_response r = resp(200, body);
        pay_result res;
        mq_payments_naver_parse_cancel(&r, &res);
        if (res.outcome != cases[i].outcome)
            fail_msg("%s: outcome %d", cases[i].code, res.outcome);
    }
}

static void return_outcome__result_codes__reasons(void **state)
{
    struct {
        const char *code, *message;
        pay_outcome outcome;
        const char *reason;
    } cases[] = {
        {"Success", NULL, PAY_OK, NULL},
        {"Fail", "userCancel", PAY_FAIL, PAY_R_USER_CANCEL},
        {"Fail", "paymentTimeExpire", PAY_FAIL, PAY_R_TIMEOUT},
        {"Fail", "OwnerAuthFail", PAY_FAIL, PAY_R_DECLINED},
        {"Fail", "webhookFail", PAY_FAIL, PAY_R_GATEWAY},
        {"UserCancel", NULL, PAY_FAIL, PAY_R_USER_CANCEL},
        {"TimeExpired", "", PAY_FAIL, PAY_R_TIMEOUT},
        {NULL, NULL, PAY_FAIL, PAY_R_DECLINED},
        {"Fail", "something", PAY_FAIL, PAY_R_DECLINED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *reason = "x";
        assert_int_equal(mq_payments_naver_return_outcome(cases[i].code, cases[i].message, &reason),
                         cases[i].outcome);
        if (cases[i].reason)
            assert_string_equal(reason, cases[i].reason);
        else
            assert_null(reason);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserve__request__json_body_and_idempotency_key),
        cmocka_unit_test(apply__request__form_payment_id_and_key),
        cmocka_unit_test(cancel__request__form_fields_and_key),
        cmocka_unit_test(history__request__json_payment_id_no_key),
        cmocka_unit_test(page_url__reserve_id_appended),
        cmocka_unit_test(reserve__success__reserve_id),
        cmocka_unit_test(reserve__codes__fail),
        cmocka_unit_test(apply__success__detail_amount_and_keys),
        cmocka_unit_test(apply__409_replay__treated_as_the_earlier_answer),
        cmocka_unit_test(apply__codes__classified),
        cmocka_unit_test(apply__transport__unknown_after_sending),
        cmocka_unit_test(history__approval_success__approved),
        cmocka_unit_test(history__shapes__pending_failed_canceled_unknown),
        cmocka_unit_test(cancel__codes__classified),
        cmocka_unit_test(return_outcome__result_codes__reasons),
    };
    return cmocka_run_group_tests_name("payments naver", tests, NULL, NULL);
}
