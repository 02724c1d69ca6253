/*
 * kakao.c -- KakaoPay online single payment, current host form
 * (../shared/pg-apis.md section 1):
 *
 *   POST {KAKAOPAY_API_BASE}/online/v1/payment/{ready,approve,cancel,order}
 *   Authorization: SECRET_KEY {key}      (DEV_SECRET_KEY for keys "DEV...")
 *   Content-Type: application/json       snake_case fields, integer KRW
 *
 * Builders make the calls; parsers turn answers into pay_result. Nothing
 * here does I/O, so every shape is unit-tested (tests/test_kakao.c).
 *
 * Errors come in two shapes, both handled:
 *   {"error_code":-780,"error_message":"approval failure!","extras":{...}}
 *   {"code":-780,"msg":"approval failure!","extras":{...}}           (legacy)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_json.h"
#include "pay.h"

/* ---- requests ---------------------------------------------------------------------- */

static int start_call(const pay_config *c, const char *op, json_object *body, pay_call *out)
{
    memset(out, 0, sizeof *out);
    if (!body)
        return MQ_ENOMEM;
    if (!c->kakao_base || !c->kakao_secret || !c->kakao_cid) {
        json_object_put(body);
        return MQ_EINVAL;
    }
    pay_buf url = {0}, auth = {0};
    mq_payments_buf_printf(&url, "%s/online/v1/payment/%s", c->kakao_base, op);
    /* Sandbox keys start with "DEV"; KakaoPay documents DEV_SECRET_KEY for
     * them and SECRET_KEY for live keys. */
    mq_payments_buf_printf(
        &auth, "Authorization: %s %s",
        strncmp(c->kakao_secret, "DEV", 3) == 0 ? "DEV_SECRET_KEY" : "SECRET_KEY", c->kakao_secret);
    out->method = "POST";
    out->url = mq_payments_buf_take(&url);
    out->headers[0] = mq_payments_buf_take(&auth);
    out->headers[1] = strdup("Content-Type: application/json");
    out->headers[2] = strdup("Accept: application/json");
    out->body = mq_payments_json_take(body, &out->body_len);
    if (!out->url || !out->headers[0] || !out->headers[1] || !out->headers[2] || !out->body) {
        mq_payments_call_cleanup(out);
        return MQ_ENOMEM;
    }
    return MQ_OK;
}

static void put_s(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void put_i(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

/* {base}/api/pay/kakao/<what>?order=<id>&sig=<sig> */
static char *return_url(const pay_config *c, const pay_order *o, const char *what)
{
    pay_buf b = {0};
    mq_payments_buf_printf(&b, "%s/api/pay/kakao/%s?order=", c->public_base ? c->public_base : "",
                           what);
    mq_payments_buf_urlencode(&b, o->id);
    mq_payments_buf_puts(&b, "&sig=");
    mq_payments_buf_urlencode(&b, o->sig);
    return mq_payments_buf_take(&b);
}

int mq_payments_kakao_ready(const pay_config *c, const pay_order *o, const pay_product *p,
                            pay_call *out)
{
    memset(out, 0, sizeof *out);
    if (!c->public_base)
        return MQ_EINVAL;
    char *ok = return_url(c, o, "approve"), *cancel = return_url(c, o, "cancel"),
         *fail = return_url(c, o, "fail");
    json_object *b = json_object_new_object();
    int rc = MQ_ENOMEM;
    if (ok && cancel && fail && b) {
        put_s(b, "cid", c->kakao_cid);
        put_s(b, "partner_order_id", o->id);
        put_s(b, "partner_user_id", o->result_id);
        put_s(b, "item_name", p->name);
        put_s(b, "item_code", p->id);
        put_i(b, "quantity", 1);
        put_i(b, "total_amount", o->amount);
        put_i(b, "tax_free_amount", 0);
        put_s(b, "approval_url", ok);
        put_s(b, "cancel_url", cancel);
        put_s(b, "fail_url", fail);
        rc = start_call(c, "ready", b, out);
        b = NULL;
    }
    json_object_put(b);
    free(ok);
    free(cancel);
    free(fail);
    return rc;
}

int mq_payments_kakao_approve(const pay_config *c, const pay_order *o, const char *pg_token,
                              pay_call *out)
{
    json_object *b = json_object_new_object();
    if (b) {
        put_s(b, "cid", c->kakao_cid);
        put_s(b, "tid", o->tid);
        put_s(b, "partner_order_id", o->id);
        put_s(b, "partner_user_id", o->result_id);
        put_s(b, "pg_token", pg_token);
        /* Optional, but KakaoPay then refuses an approval of another amount. */
        put_i(b, "total_amount", o->amount);
    }
    return start_call(c, "approve", b, out);
}

int mq_payments_kakao_order(const pay_config *c, const pay_order *o, pay_call *out)
{
    json_object *b = json_object_new_object();
    if (b) {
        put_s(b, "cid", c->kakao_cid);
        put_s(b, "tid", o->tid);
    }
    return start_call(c, "order", b, out);
}

int mq_payments_kakao_cancel(const pay_config *c, const pay_order *o, long amount, pay_call *out)
{
    json_object *b = json_object_new_object();
    if (b) {
        put_s(b, "cid", c->kakao_cid);
        put_s(b, "tid", o->tid);
        put_i(b, "cancel_amount", amount);
        put_i(b, "cancel_tax_free_amount", 0);
    }
    return start_call(c, "cancel", b, out);
}

/* ---- answers ---------------------------------------------------------------------------- */

/* The cause of a 4xx from either error shape; returns 1 when the error is
 * about the payment itself (a decline) rather than our request. */
static int error_cause(const mq_http_response *resp, json_object *j, pay_result *r)
{
    int64_t code = 0;
    int has_code =
        mq_payments_json_int(j, "error_code", &code) || mq_payments_json_int(j, "code", &code);
    const char *msg = mq_payments_json_str(j, "error_message");
    if (!msg)
        msg = mq_payments_json_str(j, "msg");
    json_object *extras = mq_payments_json_obj(j, "extras");
    const char *mcode = mq_payments_json_str(extras, "method_result_code");
    const char *mmsg = mq_payments_json_str(extras, "method_result_message");
    if (has_code)
        snprintf(r->gw_status, sizeof r->gw_status, "%" PRId64, code);
    snprintf(r->cause, sizeof r->cause, "HTTP %d, code %s: %.120s%s%.32s%s%.100s%s", resp->status,
             has_code ? r->gw_status : "?", msg ? msg : "(no message)", mcode ? " (" : "",
             mcode ? mcode : "", mcode && mmsg ? ": " : "", mcode && mmsg ? mmsg : "",
             mcode ? ")" : "");
    /* -780 is "approval failure"; extras name the payment method's verdict. */
    return (has_code && code == -780) || mcode != NULL;
}

static void copy_id(char *dst, size_t cap, const char *src)
{
    if (src && mq_payments_copy(dst, cap, src) != 0)
        dst[0] = '\0';
}

void mq_payments_kakao_parse_ready(const mq_http_response *resp, pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_START, r))
        return;
    json_object *j = mq_payments_json_body(resp->body, resp->body_len);
    r->outcome = PAY_FAIL;
    r->reason = PAY_R_GATEWAY;
    if (resp->status < 200 || resp->status > 299) {
        if (j)
            error_cause(resp, j, r);
        else
            snprintf(r->cause, sizeof r->cause, "HTTP %d", resp->status);
        json_object_put(j);
        return;
    }
    const char *tid = mq_payments_json_str(j, "tid");
    const char *pc = mq_payments_json_str(j, "next_redirect_pc_url");
    const char *mobile = mq_payments_json_str(j, "next_redirect_mobile_url");
    if (!tid || !*tid || mq_payments_copy(r->tid, sizeof r->tid, tid) != 0 || !pc ||
        (strncmp(pc, "https://", 8) != 0 && strncmp(pc, "http://", 7) != 0) ||
        mq_payments_copy(r->redirect_pc, sizeof r->redirect_pc, pc) != 0) {
        snprintf(r->cause, sizeof r->cause, "HTTP %d without a tid and next_redirect_pc_url",
                 resp->status);
    } else {
        if (mobile && (strncmp(mobile, "https://", 8) == 0 || strncmp(mobile, "http://", 7) == 0))
            copy_id(r->redirect_mobile, sizeof r->redirect_mobile, mobile);
        r->outcome = PAY_OK;
        r->reason = NULL;
    }
    json_object_put(j);
}

void mq_payments_kakao_parse_approve(const mq_http_response *resp, pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_MONEY, r))
        return;
    json_object *j = mq_payments_json_body(resp->body, resp->body_len);
    if (resp->status < 200 || resp->status > 299) {
        /* KakaoPay refused the approval (400 with an error body): nothing
         * was charged. The caller confirms with a status lookup anyway. */
        int declined = 0;
        if (j)
            declined = error_cause(resp, j, r);
        else
            snprintf(r->cause, sizeof r->cause, "HTTP %d", resp->status);
        r->outcome = PAY_FAIL;
        r->reason = declined ? PAY_R_DECLINED : PAY_R_GATEWAY;
        json_object_put(j);
        return;
    }
    int64_t total = 0;
    json_object *amount = mq_payments_json_obj(j, "amount");
    if (!j || !mq_payments_json_int(amount, "total", &total)) {
        /* A 2xx we cannot read: it may well be an approval. */
        r->outcome = PAY_UNKNOWN;
        r->reason = PAY_R_GATEWAY;
        snprintf(r->cause, sizeof r->cause, "HTTP %d without amount.total", resp->status);
        json_object_put(j);
        return;
    }
    copy_id(r->aid, sizeof r->aid, mq_payments_json_str(j, "aid"));
    copy_id(r->tid, sizeof r->tid, mq_payments_json_str(j, "tid"));
    copy_id(r->merchant_key, sizeof r->merchant_key, mq_payments_json_str(j, "partner_order_id"));
    r->amount = (long)total;
    r->outcome = PAY_OK;
    r->reason = NULL;
    json_object_put(j);
}

const char *mq_payments_kakao_status_reason(const char *status)
{
    if (!status)
        return NULL;
    if (!strcmp(status, "FAIL_AUTH_PASSWORD") || !strcmp(status, "FAIL_PAYMENT"))
        return PAY_R_DECLINED;
    if (!strcmp(status, "QUIT_PAYMENT"))
        return PAY_R_USER_CANCEL;
    if (!strcmp(status, "CANCEL_PAYMENT"))
        return PAY_R_GATEWAY;
    return NULL;
}

void mq_payments_kakao_parse_order(const mq_http_response *resp, pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_LOOKUP, r))
        return;
    json_object *j = mq_payments_json_body(resp->body, resp->body_len);
    if (resp->status < 200 || resp->status > 299 || !j) {
        if (j)
            error_cause(resp, j, r);
        else
            snprintf(r->cause, sizeof r->cause, "HTTP %d without a JSON body", resp->status);
        r->outcome = PAY_UNKNOWN;
        json_object_put(j);
        return;
    }
    const char *status = mq_payments_json_str(j, "status");
    copy_id(r->gw_status, sizeof r->gw_status, status);
    copy_id(r->tid, sizeof r->tid, mq_payments_json_str(j, "tid"));
    copy_id(r->merchant_key, sizeof r->merchant_key, mq_payments_json_str(j, "partner_order_id"));
    int64_t total = 0;
    if (mq_payments_json_int(mq_payments_json_obj(j, "amount"), "total", &total))
        r->amount = (long)total;
    /* The approval's aid is on its PAYMENT action. */
    json_object *acts = mq_payments_json_arr(j, "payment_action_details");
    for (size_t i = 0; acts && i < json_object_array_length(acts); i++) {
        json_object *a = json_object_array_get_idx(acts, i);
        const char *type = mq_payments_json_str(a, "payment_action_type");
        if (type && !strcmp(type, "PAYMENT")) {
            copy_id(r->aid, sizeof r->aid, mq_payments_json_str(a, "aid"));
            break;
        }
    }
    if (!status) {
        r->outcome = PAY_UNKNOWN;
        snprintf(r->cause, sizeof r->cause, "order lookup without a status");
    } else if (!strcmp(status, "SUCCESS_PAYMENT") || !strcmp(status, "PART_CANCEL_PAYMENT")) {
        /* Approved (a partial cancel happened after an approval). */
        r->outcome = r->amount >= 0 ? PAY_OK : PAY_UNKNOWN;
        r->reason = NULL;
        snprintf(r->cause, sizeof r->cause, "status %s", status);
    } else if (mq_payments_kakao_status_reason(status)) {
        r->outcome = PAY_FAIL;
        r->reason = mq_payments_kakao_status_reason(status);
        r->canceled = !strcmp(status, "CANCEL_PAYMENT");
        snprintf(r->cause, sizeof r->cause, "status %s", status);
    } else {
        r->outcome = PAY_PENDING;
        snprintf(r->cause, sizeof r->cause, "status %.40s (not final)", status);
    }
    json_object_put(j);
}

void mq_payments_kakao_parse_cancel(const mq_http_response *resp, pay_result *r)
{
    mq_payments_result_init(r);
    if (mq_payments_classify_transport(resp, PAY_CALL_MONEY, r))
        return;
    json_object *j = mq_payments_json_body(resp->body, resp->body_len);
    if (resp->status < 200 || resp->status > 299) {
        if (j)
            error_cause(resp, j, r);
        else
            snprintf(r->cause, sizeof r->cause, "HTTP %d", resp->status);
        r->outcome = PAY_FAIL;
        r->reason = PAY_R_GATEWAY;
        json_object_put(j);
        return;
    }
    const char *status = mq_payments_json_str(j, "status");
    copy_id(r->gw_status, sizeof r->gw_status, status);
    int64_t total = 0;
    if (mq_payments_json_int(mq_payments_json_obj(j, "approved_cancel_amount"), "total", &total))
        r->amount = (long)total;
    if (status && (!strcmp(status, "CANCEL_PAYMENT") || !strcmp(status, "PART_CANCEL_PAYMENT"))) {
        r->outcome = PAY_OK;
        r->reason = NULL;
        r->canceled = !strcmp(status, "CANCEL_PAYMENT");
    } else {
        r->outcome = PAY_UNKNOWN;
        snprintf(r->cause, sizeof r->cause, "cancel answered status %.40s",
                 status ? status : "(none)");
    }
    json_object_put(j);
}
