/*
 * naver.c -- NaverPay payments API (../shared/pg-apis.md section 2):
 *
 *   {NAVERPAY_API_BASE}/{NAVERPAY_PARTNER_ID}/naverpay/payments/
 *     v2/reserve          JSON   -> body.reserveId
 *     v2.2/apply/payment  form   paymentId -> body.detail (admissionState,
 *                                 totalPayAmount, merchantPayKey, payHistId)
 *     v1/cancel           form   paymentId, cancelAmount, cancelReason,
 *                                 cancelRequester, taxScopeAmount, taxExScopeAmount
 *     v2.2/list/history   JSON   {"paymentId"} -> body.list[]
 *   X-Naver-Client-Id, X-Naver-Client-Secret, X-NaverPay-Chain-Id,
 *   X-NaverPay-Idempotency-Key (<orderId>-reserve|-apply|-cancel).
 *
 * Every answer is an envelope {"code":"Success","message":..,"body":{..}};
 * business refusals arrive in `code`, often with HTTP 200. A repeated
 * idempotency key gets HTTP 409 with the earlier answer replayed: it is
 * parsed as that answer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_json.h"
#include "pay.h"

/* ---- requests ---------------------------------------------------------------------- */

static int start_call(const pay_config *c, const pay_order *o, const char *path,
                      const char *idem_suffix, int form, char *body, size_t body_len, pay_call *out)
{
    memset(out, 0, sizeof *out);
    if (!body)
        return MQ_ENOMEM;
    if (!c->naver_base || !c->naver_partner || !c->naver_client_id || !c->naver_client_secret ||
        !c->naver_chain_id) {
        free(body);
        return MQ_EINVAL;
    }
    pay_buf url = {0}, id = {0}, secret = {0}, chain = {0}, idem = {0};
    mq_payments_buf_printf(&url, "%s/%s/naverpay/payments/%s", c->naver_base, c->naver_partner,
                           path);
    mq_payments_buf_printf(&id, "X-Naver-Client-Id: %s", c->naver_client_id);
    mq_payments_buf_printf(&secret, "X-Naver-Client-Secret: %s", c->naver_client_secret);
    mq_payments_buf_printf(&chain, "X-NaverPay-Chain-Id: %s", c->naver_chain_id);
    out->method = "POST";
    out->url = mq_payments_buf_take(&url);
    out->headers[0] = mq_payments_buf_take(&id);
    out->headers[1] = mq_payments_buf_take(&secret);
    out->headers[2] = mq_payments_buf_take(&chain);
    out->headers[3] = strdup(form ? "Content-Type: application/x-www-form-urlencoded"
                                  : "Content-Type: application/json");
    out->headers[4] = strdup("Accept: application/json");
    int nh = 5;
    if (idem_suffix) {
        mq_payments_buf_printf(&idem, "X-NaverPay-Idempotency-Key: %s-%s", o->id, idem_suffix);
        out->headers[nh++] = mq_payments_buf_take(&idem);
    }
    out->body = body;
    out->body_len = body_len;
    for (int i = 0; i < nh; i++)
        if (!out->headers[i])
            goto nomem;
    if (!out->url)
        goto nomem;
    return MQ_OK;
nomem:
    mq_payments_call_cleanup(out);
    return MQ_ENOMEM;
}

static void put_s(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void put_i(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

int mq_payments_naver_reserve(const pay_config *c, const pay_order *o, const pay_product *p,
                              pay_call *out)
{
    memset(out, 0, sizeof *out);
    if (!c->public_base)
        return MQ_EINVAL;
    pay_buf ret = {0};
    mq_payments_buf_printf(&ret, "%s/api/pay/naver/return?order=", c->public_base);
    mq_payments_buf_urlencode(&ret, o->id);
    mq_payments_buf_puts(&ret, "&sig=");
    mq_payments_buf_urlencode(&ret, o->sig);
    char *return_url = mq_payments_buf_take(&ret);
    json_object *b = json_object_new_object(), *items = json_object_new_array(),
                *item = json_object_new_object();
    if (!return_url || !b || !items || !item) {
        free(return_url);
        json_object_put(b);
        json_object_put(items);
        json_object_put(item);
        return MQ_ENOMEM;
    }
    put_s(b, "modelVersion", "2");
    put_s(b, "merchantUserKey", o->result_id);
    put_s(b, "merchantPayKey", o->id);
    put_s(b, "productName", p->name);
    put_i(b, "productCount", 1);
    put_i(b, "totalPayAmount", o->amount);
    put_i(b, "taxScopeAmount", o->amount);
    put_i(b, "taxExScopeAmount", 0);
    put_s(b, "returnUrl", return_url);
    put_s(item, "categoryType", "ETC");
    put_s(item, "categoryId", "ETC");
    put_s(item, "uid", p->id);
    put_s(item, "name", p->name);
    put_i(item, "count", 1);
    json_object_array_add(items, item);
    json_object_object_add(b, "productItems", items);
    free(return_url);
    size_t len = 0;
    char *body = mq_payments_json_take(b, &len);
    return start_call(c, o, "v2/reserve", "reserve", 0, body, len, out);
}

int mq_payments_naver_apply(const pay_config *c, const pay_order *o, const char *payment_id,
                            pay_call *out)
{
    pay_buf b = {0};
    mq_payments_buf_form(&b, "paymentId", payment_id);
    size_t len = b.len;
    return start_call(c, o, "v2.2/apply/payment", "apply", 1, mq_payments_buf_take(&b), len, out);
}

int mq_payments_naver_history(const pay_config *c, const pay_order *o, pay_call *out)
{
    json_object *b = json_object_new_object();
    if (b)
        put_s(b, "paymentId", o->payment_id);
    size_t len = 0;
    char *body = mq_payments_json_take(b, &len);
    /* A lookup changes nothing: no idempotency key. */
    return start_call(c, o, "v2.2/list/history", NULL, 0, body, len, out);
}

int mq_payments_naver_cancel(const pay_config *c, const pay_order *o, long amount,
                             const char *reason, pay_call *out)
{
    char num[32];
    pay_buf b = {0};
    mq_payments_buf_form(&b, "paymentId", o->payment_id);
    snprintf(num, sizeof num, "%ld", amount);
    mq_payments_buf_form(&b, "cancelAmount", num);
    mq_payments_buf_form(&b, "cancelReason", reason && *reason ? reason : "merchant cancel");
    mq_payments_buf_form(&b, "cancelRequester", "2"); /* 2: the merchant's admin */
    mq_payments_buf_form(&b, "taxScopeAmount", num);
    mq_payments_buf_form(&b, "taxExScopeAmount", "0");
    size_t len = b.len;
    return start_call(c, o, "v1/cancel", "cancel", 1, mq_payments_buf_take(&b), len, out);
}

char *mq_payments_naver_page_url(const pay_config *c, const char *reserve_id)
{
    pay_buf b = {0};
    mq_payments_buf_printf(&b, "%s/", c->naver_page_base ? c->naver_page_base : "");
    mq_payments_buf_urlencode(&b, reserve_id);
    return mq_payments_buf_take(&b);
}

/* ---- answers ---------------------------------------------------------------------------- */

const char *mq_payments_naver_code_reason(const char *code)
{
    if (!code)
        return PAY_R_GATEWAY;
    if (!strcmp(code, "TimeExpired") || !strcmp(code, "paymentTimeExpire"))
        return PAY_R_TIMEOUT;
    if (!strcmp(code, "UserCancel") || !strcmp(code, "userCancel"))
        return PAY_R_USER_CANCEL;
    if (!strcmp(code, "Fail") || !strcmp(code, "OwnerAuthFail") ||
        !strcmp(code, "NotEnoughAccountBalance"))
        return PAY_R_DECLINED;
    /* InvalidMerchant, RequireParameter, InvalidParameter, maintenance...:
     * our side or theirs, not the buyer's. */
    return PAY_R_GATEWAY;
}

/* Parse the envelope: returns the JSON (caller puts), sets *code, *body.
 * NULL when the answer is not an envelope (r->cause says why). */
static json_object *envelope(const mq_http_response *resp, pay_result *r, const char **code,
                             json_object **body)
{
    json_object *j = mq_payments_json_body(resp->body, resp->body_len);
    *code = mq_payments_json_str(j, "code");
    *body = mq_payments_json_obj(j, "body");
    if (!j || !*code) {
        snprintf(r->cause, sizeof r->cause, "HTTP %d without a NaverPay envelope", resp->status);
        json_object_put(j);
        return NULL;
    }
    const char *msg = mq_payments_json_str(j, "message");
    mq_payments_copy(r->gw_status, sizeof r->gw_status, *code);
    snprintf(r->cause, sizeof r->cause, "HTTP %d, code %.40s: %.200s%s", resp->status, *code,
             msg ? msg : "(no message)", resp->status == 409 ? " (idempotent replay)" : "");
    return j;
}

static void copy_id(char *dst, size_t cap, const char *src)
{
    if (src && mq_payments_copy(dst, cap, src) != 0)
        dst[0] = '\0';
}

void mq_payments_naver_parse_reserve(const mq_http_response *resp, pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_START, r))
        return;
    const char *code;
    json_object *body;
    json_object *j = envelope(resp, r, &code, &body);
    r->outcome = PAY_FAIL;
    r->reason = PAY_R_GATEWAY;
    if (!j)
        return;
    const char *rid = mq_payments_json_str(body, "reserveId");
    if (!strcmp(code, "Success")) {
        if (rid && *rid && mq_payments_copy(r->reserve_id, sizeof r->reserve_id, rid) == 0) {
            r->outcome = PAY_OK;
            r->reason = NULL;
        } else {
            snprintf(r->cause, sizeof r->cause, "HTTP %d, code Success without body.reserveId",
                     resp->status);
        }
    } else {
        r->reason = mq_payments_naver_code_reason(code);
    }
    json_object_put(j);
}

/* Fill r from an approval detail (apply's body.detail, a history item). */
static void read_detail(json_object *d, pay_result *r)
{
    int64_t total = 0;
    if (mq_payments_json_int(d, "totalPayAmount", &total))
        r->amount = (long)total;
    copy_id(r->payment_id, sizeof r->payment_id, mq_payments_json_str(d, "paymentId"));
    copy_id(r->aid, sizeof r->aid, mq_payments_json_str(d, "payHistId"));
    copy_id(r->merchant_key, sizeof r->merchant_key, mq_payments_json_str(d, "merchantPayKey"));
}

void mq_payments_naver_parse_apply(const mq_http_response *resp, pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_MONEY, r))
        return;
    const char *code;
    json_object *body;
    json_object *j = envelope(resp, r, &code, &body);
    if (!j) {
        /* A 4xx without an envelope was refused before any payment logic;
         * anything else we cannot read may have been an approval. */
        int refused = resp->status >= 400 && resp->status != 409;
        r->outcome = refused ? PAY_FAIL : PAY_UNKNOWN;
        r->reason = PAY_R_GATEWAY;
        return;
    }
    if (!strcmp(code, "Success")) {
        json_object *d = mq_payments_json_obj(body, "detail");
        const char *state = mq_payments_json_str(d, "admissionState");
        read_detail(d, r);
        if (!r->payment_id[0])
            copy_id(r->payment_id, sizeof r->payment_id, mq_payments_json_str(body, "paymentId"));
        if (state && !strcmp(state, "SUCCESS") && r->amount >= 0) {
            r->outcome = PAY_OK;
            r->reason = NULL;
        } else if (state && !strcmp(state, "FAIL")) {
            r->outcome = PAY_FAIL;
            r->reason = PAY_R_DECLINED;
            snprintf(r->cause, sizeof r->cause, "code Success, admissionState FAIL");
        } else {
            r->outcome = PAY_UNKNOWN;
            snprintf(r->cause, sizeof r->cause,
                     "code Success without detail.admissionState SUCCESS and totalPayAmount");
        }
    } else if (!strcmp(code, "AlreadyComplete") || !strcmp(code, "AlreadyOnGoing")) {
        /* Approved (or being approved) already: only a lookup tells for
         * how much, and for which order. */
        r->outcome = PAY_UNKNOWN;
        r->reason = PAY_R_GATEWAY;
    } else if (!strcmp(code, "TimeExpired") || !strcmp(code, "Fail") ||
               !strcmp(code, "OwnerAuthFail") || !strcmp(code, "NotEnoughAccountBalance") ||
               !strcmp(code, "InvalidMerchant") || !strcmp(code, "RequireParameter") ||
               !strcmp(code, "InvalidParameter") || !strcmp(code, "MaintenanceOngoing") ||
               !strcmp(code, "FaultCheckOngoing") || !strcmp(code, "BankMaintenance")) {
        r->outcome = PAY_FAIL;
        r->reason = mq_payments_naver_code_reason(code);
    } else {
        /* A code we do not know: do not guess about money. */
        r->outcome = PAY_UNKNOWN;
        r->reason = PAY_R_GATEWAY;
    }
    json_object_put(j);
}

void mq_payments_naver_parse_history(const mq_http_response *resp, const char *payment_id,
                                     pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_LOOKUP, r))
        return;
    const char *code;
    json_object *body;
    json_object *j = envelope(resp, r, &code, &body);
    r->outcome = PAY_UNKNOWN;
    if (!j)
        return;
    json_object *list = mq_payments_json_arr(body, "list");
    if (strcmp(code, "Success") != 0 || !list) {
        json_object_put(j);
        return;
    }
    int approved = 0, failed = 0, canceled = 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *it = json_object_array_get_idx(list, i);
        const char *pid = mq_payments_json_str(it, "paymentId");
        const char *type = mq_payments_json_str(it, "admissionTypeCode");
        const char *state = mq_payments_json_str(it, "admissionState");
        if (!pid || !payment_id || strcmp(pid, payment_id) != 0 || !type || !state)
            continue;
        int ok = !strcmp(state, "SUCCESS");
        if (!strcmp(type, "01")) {
            if (ok && !approved) {
                approved = 1;
                read_detail(it, r);
            } else if (!ok) {
                failed = 1;
            }
        } else if (!strcmp(type, "03") && ok) {
            canceled = 1;
        }
    }
    if (approved && canceled) {
        r->outcome = PAY_FAIL;
        r->reason = PAY_R_GATEWAY;
        r->canceled = 1;
        snprintf(r->cause, sizeof r->cause, "approved, then canceled in full");
    } else if (approved && r->amount >= 0) {
        r->outcome = PAY_OK;
        r->reason = NULL;
        snprintf(r->cause, sizeof r->cause, "approval SUCCESS in history");
    } else if (failed) {
        r->outcome = PAY_FAIL;
        r->reason = PAY_R_DECLINED;
        snprintf(r->cause, sizeof r->cause, "approval FAIL in history");
    } else {
        r->outcome = PAY_PENDING;
        snprintf(r->cause, sizeof r->cause, "no approval in history yet");
    }
    json_object_put(j);
}

void mq_payments_naver_parse_cancel(const mq_http_response *resp, pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_MONEY, r))
        return;
    const char *code;
    json_object *body;
    json_object *j = envelope(resp, r, &code, &body);
    if (!j) {
        r->outcome = resp->status >= 400 && resp->status != 409 ? PAY_FAIL : PAY_UNKNOWN;
        r->reason = PAY_R_GATEWAY;
        return;
    }
    /* CancelNotComplete: NaverPay finishes the cancel by itself. */
    if (!strcmp(code, "Success") || !strcmp(code, "CancelNotComplete") ||
        !strcmp(code, "AlreadyCanceled")) {
        int64_t amt = 0;
        if (mq_payments_json_int(body, "primaryPayCancelAmount", &amt))
            r->amount = (long)amt;
        r->outcome = PAY_OK;
        r->reason = NULL;
        r->canceled = 1;
    } else {
        r->outcome = PAY_FAIL;
        r->reason = PAY_R_GATEWAY;
    }
    json_object_put(j);
}

pay_outcome mq_payments_naver_return_outcome(const char *result_code, const char *result_message,
                                             const char **reason)
{
    if (result_code && !strcmp(result_code, "Success")) {
        *reason = NULL;
        return PAY_OK;
    }
    /* Four public handlers key on resultMessage (resultCode=Fail); one
     * comment puts the cause in resultCode itself. Accept both. */
    const char *cands[] = {result_code, result_message};
    for (size_t i = 0; i < 2; i++) {
        const char *why = cands[i];
        if (!why)
            continue;
        if (!strcmp(why, "userCancel") || !strcmp(why, "UserCancel")) {
            *reason = PAY_R_USER_CANCEL;
            return PAY_FAIL;
        }
        if (!strcmp(why, "paymentTimeExpire") || !strcmp(why, "TimeExpired")) {
            *reason = PAY_R_TIMEOUT;
            return PAY_FAIL;
        }
        if (!strcmp(why, "webhookFail")) {
            *reason = PAY_R_GATEWAY;
            return PAY_FAIL;
        }
    }
    *reason = PAY_R_DECLINED; /* OwnerAuthFail and anything else */
    return PAY_FAIL;
}
