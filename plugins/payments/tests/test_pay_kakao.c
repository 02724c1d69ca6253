/*
 * test_pay_kakao.c -- KakaoPay request builders and response parsers
 * (kakao.c, gateway.c) against the shapes of ../shared/pg-apis.md.
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

static pay_config config(const char *key)
{
    pay_config c;
    memset(&c, 0, sizeof c);
    c.public_base = "https://mindquiz.app";
    c.kakao_base = "https://open-api.kakaopay.com";
    c.kakao_secret = (char *)key;
    c.kakao_cid = "TC0ONETIME";
    return c;
}

static pay_order order(void)
{
    pay_order o;
    memset(&o, 0, sizeof o);
    strcpy(o.id, "MQ20261127131000a1b2c3d4e5");
    strcpy(o.provider, "kakao");
    strcpy(o.result_id, "r123");
    strcpy(o.product, "premium_result");
    strcpy(o.tid, "T1234567890123456789");
    strcpy(o.sig, "cba2aae725158050a13b2a4e071efb85ba02fd749707432158cb77a14649b6b2");
    o.amount = 3900;
    o.created_ms = 1795752600000LL;
    o.status = PAY_ST_READY;
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

static mq_http_response failure(int error, int sent)
{
    mq_http_response r = {.status = 0,
                          .error = error,
                          .error_text = "boom",
                          .sent = sent,
                          .headers = "",
                          .body = "",
                          .body_len = 0};
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

static json_object *body(const pay_call *c)
{
    json_object *j = json_tokener_parse(c->body);
    assert_non_null(j);
    assert_int_equal(strlen(c->body), c->body_len);
    return j;
}

static const char *jstr(json_object *j, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(j, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t jint(json_object *j, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(j, k, &v) || !json_object_is_type(v, json_type_int))
        return -999;
    return json_object_get_int64(v);
}

/* ---- builders ---------------------------------------------------------------------- */

static void ready__request__current_host_json_and_return_urls(void **state)
{
    pay_config c = config("SECRETKEY42");
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_kakao_ready(&c, &o, &product, &call), MQ_OK);
    assert_string_equal(call.method, "POST");
    assert_string_equal(call.url, "https://open-api.kakaopay.com/online/v1/payment/ready");
    assert_string_equal(header(&call, "Authorization"), "SECRET_KEY SECRETKEY42");
    assert_string_equal(header(&call, "Content-Type"), "application/json");
    json_object *j = body(&call);
    assert_string_equal(jstr(j, "cid"), "TC0ONETIME");
    assert_string_equal(jstr(j, "partner_order_id"), o.id);
    assert_string_equal(jstr(j, "partner_user_id"), "r123");
    assert_string_equal(jstr(j, "item_name"), "프리미엄 결과 리포트");
    assert_string_equal(jstr(j, "item_code"), "premium_result");
    assert_int_equal(jint(j, "quantity"), 1);
    assert_int_equal(jint(j, "total_amount"), 3900);
    assert_int_equal(jint(j, "tax_free_amount"), 0);
    assert_string_equal(jstr(j, "approval_url"),
                        "https://mindquiz.app/api/pay/kakao/approve?order="
                        "MQ20261127131000a1b2c3d4e5&sig="
                        "cba2aae725158050a13b2a4e071efb85ba02fd749707432158cb77a14649b6b2");
    assert_string_equal(jstr(j, "cancel_url"),
                        "https://mindquiz.app/api/pay/kakao/cancel?order="
                        "MQ20261127131000a1b2c3d4e5&sig="
                        "cba2aae725158050a13b2a4e071efb85ba02fd749707432158cb77a14649b6b2");
    assert_non_null(strstr(jstr(j, "fail_url"), "/api/pay/kakao/fail?order="));
    assert_true(strlen(jstr(j, "approval_url")) <= 255);
    json_object_put(j);
    mq_payments_call_cleanup(&call);
}

static void request__dev_key__dev_secret_key_scheme(void **state)
{
    pay_config c = config("DEV1234ABCD");
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_kakao_order(&c, &o, &call), MQ_OK);
    assert_string_equal(header(&call, "Authorization"), "DEV_SECRET_KEY DEV1234ABCD");
    assert_string_equal(call.url, "https://open-api.kakaopay.com/online/v1/payment/order");
    json_object *j = body(&call);
    assert_string_equal(jstr(j, "cid"), "TC0ONETIME");
    assert_string_equal(jstr(j, "tid"), "T1234567890123456789");
    assert_int_equal(json_object_object_length(j), 2);
    json_object_put(j);
    mq_payments_call_cleanup(&call);
}

static void approve__request__tid_partner_ids_token_amount(void **state)
{
    pay_config c = config("SECRETKEY42");
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_kakao_approve(&c, &o, "a1b2c3d4e5f6a7b8c9d0", &call), MQ_OK);
    assert_string_equal(call.url, "https://open-api.kakaopay.com/online/v1/payment/approve");
    json_object *j = body(&call);
    assert_string_equal(jstr(j, "cid"), "TC0ONETIME");
    assert_string_equal(jstr(j, "tid"), "T1234567890123456789");
    assert_string_equal(jstr(j, "partner_order_id"), o.id);
    assert_string_equal(jstr(j, "partner_user_id"), "r123");
    assert_string_equal(jstr(j, "pg_token"), "a1b2c3d4e5f6a7b8c9d0");
    assert_int_equal(jint(j, "total_amount"), 3900);
    json_object_put(j);
    mq_payments_call_cleanup(&call);
}

static void cancel__request__full_amount_no_tax_free(void **state)
{
    pay_config c = config("SECRETKEY42");
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_kakao_cancel(&c, &o, 3900, &call), MQ_OK);
    assert_string_equal(call.url, "https://open-api.kakaopay.com/online/v1/payment/cancel");
    json_object *j = body(&call);
    assert_string_equal(jstr(j, "tid"), "T1234567890123456789");
    assert_int_equal(jint(j, "cancel_amount"), 3900);
    assert_int_equal(jint(j, "cancel_tax_free_amount"), 0);
    json_object_put(j);
    mq_payments_call_cleanup(&call);
}

static void builders__no_secret__einval(void **state)
{
    pay_config c = config(NULL);
    pay_order o = order();
    pay_call call;
    assert_int_equal(mq_payments_kakao_order(&c, &o, &call), MQ_EINVAL);
    assert_null(call.url);
}

/* ---- parsers -------------------------------------------------------------------------- */

static const char *READY_OK =
    "{\"tid\":\"T1234567890123456789\",\"tms_result\":false,"
    "\"created_at\":\"2026-11-27T13:10:00\","
    "\"next_redirect_app_url\":\"https://online-pay.kakao.com/mockup/v1/abc/aInfo\","
    "\"next_redirect_mobile_url\":\"https://online-pay.kakao.com/mockup/v1/abc/mInfo\","
    "\"next_redirect_pc_url\":\"https://online-pay.kakao.com/mockup/v1/abc/info\","
    "\"android_app_scheme\":\"kakaotalk://kakaopay/pg?url=x\","
    "\"ios_app_scheme\":\"kakaotalk://kakaopay/pg?url=x\"}";

static void ready__200__tid_and_redirects(void **state)
{
    mq_http_response r = resp(200, READY_OK);
    pay_result res;
    mq_payments_kakao_parse_ready(&r, &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_string_equal(res.tid, "T1234567890123456789");
    assert_string_equal(res.redirect_pc, "https://online-pay.kakao.com/mockup/v1/abc/info");
    assert_string_equal(res.redirect_mobile, "https://online-pay.kakao.com/mockup/v1/abc/mInfo");
}

static void ready__errors__fail_gateway_error_with_cause(void **state)
{
    mq_http_response r = resp(400, "{\"error_code\":-2,\"error_message\":\"invalid request\"}");
    pay_result res;
    mq_payments_kakao_parse_ready(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_GATEWAY);
    assert_non_null(strstr(res.cause, "code -2: invalid request"));

    r = resp(200, "{\"tid\":\"T1\"}");
    mq_payments_kakao_parse_ready(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);

    r = failure(MQ_ETIMEDOUT, 1);
    mq_payments_kakao_parse_ready(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL); /* nothing was charged */
    assert_string_equal(res.reason, PAY_R_TIMEOUT);

    r = resp(401, "{\"error_code\":-401,\"error_message\":\"unauthorized\"}");
    mq_payments_kakao_parse_ready(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_GATEWAY);
}

static const char *APPROVE_OK =
    "{\"aid\":\"A5678901234567890123\",\"tid\":\"T1234567890123456789\","
    "\"cid\":\"TC0ONETIME\",\"partner_order_id\":\"MQ20261127131000a1b2c3d4e5\","
    "\"partner_user_id\":\"r123\",\"payment_method_type\":\"MONEY\","
    "\"item_name\":\"프리미엄 결과 리포트\",\"quantity\":1,"
    "\"amount\":{\"total\":3900,\"tax_free\":0,\"vat\":355,\"point\":0,\"discount\":0,"
    "\"green_deposit\":0},"
    "\"created_at\":\"2026-11-27T13:10:00\",\"approved_at\":\"2026-11-27T13:10:30\"}";

static void approve__200__amount_total_and_aid(void **state)
{
    mq_http_response r = resp(200, APPROVE_OK);
    pay_result res;
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_int_equal(res.amount, 3900);
    assert_string_equal(res.aid, "A5678901234567890123");
    assert_string_equal(res.merchant_key, "MQ20261127131000a1b2c3d4e5");
}

static void approve__400_current_error_shape__declined(void **state)
{
    mq_http_response r = resp(400, "{\"error_code\":-780,\"error_message\":\"approval failure!\","
                                   "\"extras\":{\"method_result_code\":\"USER_LOCKED\","
                                   "\"method_result_message\":\"진행중인 거래가 있습니다. "
                                   "잠시 후 다시 시도해 주세요.\"}}");
    pay_result res;
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_DECLINED);
    assert_non_null(strstr(res.cause, "code -780: approval failure! (USER_LOCKED: "));
    assert_string_equal(res.gw_status, "-780");
}

static void approve__400_legacy_error_shape__declined(void **state)
{
    mq_http_response r = resp(400, "{\"code\":-780,\"msg\":\"approval failure!\","
                                   "\"extras\":{\"method_result_code\":\"LACK_BALANCE\","
                                   "\"method_result_message\":\"잔액이 부족합니다.\"}}");
    pay_result res;
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_DECLINED);
    assert_non_null(strstr(res.cause, "approval failure! (LACK_BALANCE"));
}

static void approve__400_other_code__gateway_error(void **state)
{
    mq_http_response r = resp(400, "{\"code\":-702,\"msg\":\"invalid pg_token\"}");
    pay_result res;
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_GATEWAY);
}

static void approve__after_sending__unknown(void **state)
{
    pay_result res;
    mq_http_response r = failure(MQ_ETIMEDOUT, 1);
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
    assert_string_equal(res.reason, PAY_R_TIMEOUT);

    r = failure(MQ_EIO, 1); /* reset after the request went out */
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);

    r = resp(502, "<html>bad gateway</html>");
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);

    r = resp(200, "{\"aid\":\"A1\"}"); /* 2xx without an amount */
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
}

static void approve__not_sent__fail(void **state)
{
    pay_result res;
    mq_http_response r = failure(MQ_EIO, 0); /* connection refused */
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_GATEWAY);

    r = failure(MQ_ETIMEDOUT, 0); /* connect timeout */
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_string_equal(res.reason, PAY_R_TIMEOUT);

    r = resp(401, "{\"error_code\":-401,\"error_message\":\"invalid secret key\"}");
    mq_payments_kakao_parse_approve(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
}

static void order__success_payment__approved_with_aid(void **state)
{
    mq_http_response r = resp(
        200,
        "{\"tid\":\"T1234567890123456789\",\"cid\":\"TC0ONETIME\",\"status\":\"SUCCESS_PAYMENT\","
        "\"partner_order_id\":\"MQ20261127131000a1b2c3d4e5\",\"partner_user_id\":\"r123\","
        "\"payment_method_type\":\"CARD\",\"amount\":{\"total\":3900,\"tax_free\":0,\"vat\":355},"
        "\"canceled_amount\":{\"total\":0},\"cancel_available_amount\":{\"total\":3900},"
        "\"item_name\":\"프리미엄 결과 리포트\",\"quantity\":1,"
        "\"selected_card_info\":{\"card_bin\":\"123456\",\"install_month\":0},"
        "\"payment_action_details\":[{\"aid\":\"A5678901234567890123\","
        "\"approved_at\":\"2026-11-27T13:10:30\",\"amount\":3900,\"point_amount\":0,"
        "\"discount_amount\":0,\"payment_action_type\":\"PAYMENT\",\"payload\":\"\"}]}");
    pay_result res;
    mq_payments_kakao_parse_order(&r, &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_int_equal(res.amount, 3900);
    assert_string_equal(res.aid, "A5678901234567890123");
    assert_string_equal(res.gw_status, "SUCCESS_PAYMENT");
}

static void order__statuses__classified(void **state)
{
    struct {
        const char *status;
        pay_outcome outcome;
        const char *reason;
    } cases[] = {
        {"READY", PAY_PENDING, NULL},
        {"SEND_TMS", PAY_PENDING, NULL},
        {"OPEN_PAYMENT", PAY_PENDING, NULL},
        {"SELECT_METHOD", PAY_PENDING, NULL},
        {"ARS_WAITING", PAY_PENDING, NULL},
        {"AUTH_PASSWORD", PAY_PENDING, NULL},
        {"ISSUED_SID", PAY_PENDING, NULL},
        {"SUCCESS_PAYMENT", PAY_OK, NULL},
        {"PART_CANCEL_PAYMENT", PAY_OK, NULL},
        {"CANCEL_PAYMENT", PAY_FAIL, PAY_R_GATEWAY},
        {"FAIL_AUTH_PASSWORD", PAY_FAIL, PAY_R_DECLINED},
        {"FAIL_PAYMENT", PAY_FAIL, PAY_R_DECLINED},
        {"QUIT_PAYMENT", PAY_FAIL, PAY_R_USER_CANCEL},
        {"SOMETHING_NEW", PAY_PENDING, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"tid\":\"T1\",\"status\":\"%s\",\"amount\":{\"total\":3900}}", cases[i].status);
        mq_http_response r = resp(200, body);
        pay_result res;
        mq_payments_kakao_parse_order(&r, &res);
        if (res.outcome != cases[i].outcome)
            fail_msg("%s: outcome %d, want %d", cases[i].status, res.outcome, cases[i].outcome);
        if (cases[i].reason)
            assert_string_equal(res.reason, cases[i].reason);
        assert_int_equal(res.canceled, !strcmp(cases[i].status, "CANCEL_PAYMENT"));
    }
    assert_null(mq_payments_kakao_status_reason("AUTH_PASSWORD"));
    assert_null(mq_payments_kakao_status_reason(NULL));
}

static void order__lookup_failures__unknown(void **state)
{
    pay_result res;
    mq_http_response r = failure(MQ_EIO, 0);
    mq_payments_kakao_parse_order(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
    r = resp(503, "");
    mq_payments_kakao_parse_order(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
    r = resp(400, "{\"error_code\":-1,\"error_message\":\"x\"}");
    mq_payments_kakao_parse_order(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
    r = resp(200, "not json");
    mq_payments_kakao_parse_order(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
}

static void cancel__200__canceled_amount(void **state)
{
    mq_http_response r = resp(
        200, "{\"aid\":\"A9\",\"tid\":\"T1234567890123456789\",\"cid\":\"TC0ONETIME\","
             "\"status\":\"CANCEL_PAYMENT\",\"partner_order_id\":\"MQ20261127131000a1b2c3d4e5\","
             "\"partner_user_id\":\"r123\",\"payment_method_type\":\"MONEY\","
             "\"amount\":{\"total\":3900},\"approved_cancel_amount\":{\"total\":3900},"
             "\"canceled_amount\":{\"total\":3900},\"cancel_available_amount\":{\"total\":0},"
             "\"canceled_at\":\"2026-11-27T14:00:00\"}");
    pay_result res;
    mq_payments_kakao_parse_cancel(&r, &res);
    assert_int_equal(res.outcome, PAY_OK);
    assert_int_equal(res.amount, 3900);
    assert_true(res.canceled);

    r = resp(400, "{\"error_code\":-721,\"error_message\":\"cancel amount exceeds\"}");
    mq_payments_kakao_parse_cancel(&r, &res);
    assert_int_equal(res.outcome, PAY_FAIL);
    assert_non_null(strstr(res.cause, "cancel amount exceeds"));

    r = failure(MQ_ETIMEDOUT, 1);
    mq_payments_kakao_parse_cancel(&r, &res);
    assert_int_equal(res.outcome, PAY_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ready__request__current_host_json_and_return_urls),
        cmocka_unit_test(request__dev_key__dev_secret_key_scheme),
        cmocka_unit_test(approve__request__tid_partner_ids_token_amount),
        cmocka_unit_test(cancel__request__full_amount_no_tax_free),
        cmocka_unit_test(builders__no_secret__einval),
        cmocka_unit_test(ready__200__tid_and_redirects),
        cmocka_unit_test(ready__errors__fail_gateway_error_with_cause),
        cmocka_unit_test(approve__200__amount_total_and_aid),
        cmocka_unit_test(approve__400_current_error_shape__declined),
        cmocka_unit_test(approve__400_legacy_error_shape__declined),
        cmocka_unit_test(approve__400_other_code__gateway_error),
        cmocka_unit_test(approve__after_sending__unknown),
        cmocka_unit_test(approve__not_sent__fail),
        cmocka_unit_test(order__success_payment__approved_with_aid),
        cmocka_unit_test(order__statuses__classified),
        cmocka_unit_test(order__lookup_failures__unknown),
        cmocka_unit_test(cancel__200__canceled_amount),
    };
    return cmocka_run_group_tests_name("payments kakao", tests, NULL, NULL);
}
