/*
 * gateway.c -- what both gateways' answers have in common: transport
 * failures, HTTP statuses, failure reasons, and the outbound call record.
 *
 * The rule that keeps money safe: a call that moves money (approve, apply,
 * cancel) and fails after its request went out has an UNKNOWN outcome --
 * the gateway may have acted on it. Only a status lookup may turn that
 * into approved or failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay.h"

const char *const mq_payments_reasons[] = {PAY_R_GATEWAY, PAY_R_TIMEOUT,  PAY_R_USER_CANCEL,
                                           PAY_R_AMOUNT,  PAY_R_DECLINED, NULL};

void mq_payments_result_init(pay_result *r)
{
    memset(r, 0, sizeof *r);
    r->outcome = PAY_UNKNOWN;
    r->reason = PAY_R_GATEWAY;
    r->amount = -1;
}

static pay_outcome after_failure(const mq_http_response *resp, pay_call_kind kind)
{
    switch (kind) {
    case PAY_CALL_START: return PAY_FAIL;
    case PAY_CALL_MONEY: return resp->sent || resp->status >= 500 ? PAY_UNKNOWN : PAY_FAIL;
    default: return PAY_UNKNOWN;
    }
}

int mq_payments_classify_transport(const mq_http_response *resp, pay_call_kind kind, pay_result *r)
{
    if (resp->error != MQ_OK) {
        r->reason = resp->error == MQ_ETIMEDOUT ? PAY_R_TIMEOUT : PAY_R_GATEWAY;
        r->outcome = after_failure(resp, kind);
        snprintf(r->cause, sizeof r->cause, "%s (%s)",
                 resp->error == MQ_ETIMEDOUT ? "timed out"
                 : resp->error == MQ_ETOOBIG ? "response too large"
                                             : "no response",
                 resp->error_text && *resp->error_text ? resp->error_text
                 : resp->sent                          ? "request sent"
                                                       : "request not sent");
        return 1;
    }
    if (resp->status >= 500 || resp->status < 100) {
        r->reason = PAY_R_GATEWAY;
        r->outcome = after_failure(resp, kind);
        snprintf(r->cause, sizeof r->cause, "HTTP %d", resp->status);
        return 1;
    }
    if (resp->status == 401 || resp->status == 403) {
        r->reason = PAY_R_GATEWAY;
        r->outcome = kind == PAY_CALL_LOOKUP ? PAY_UNKNOWN : PAY_FAIL;
        snprintf(r->cause, sizeof r->cause, "HTTP %d: the gateway refused our credentials",
                 resp->status);
        return 1;
    }
    return 0;
}

void mq_payments_call_cleanup(pay_call *c)
{
    free(c->url);
    /* Header lines carry the gateway keys: wipe them before freeing. */
    for (size_t i = 0; i < sizeof c->headers / sizeof c->headers[0]; i++) {
        if (c->headers[i])
            explicit_bzero(c->headers[i], strlen(c->headers[i]));
        free(c->headers[i]);
    }
    free(c->body);
    memset(c, 0, sizeof *c);
}

/* ---- json helpers (gw_json.h) ------------------------------------------------------- */

#include "gw_json.h"

json_object *mq_payments_json_body(const char *body, size_t len)
{
    if (!body || len == 0 || len > (1u << 20))
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    json_tokener_free(tok);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

const char *mq_payments_json_str(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int mq_payments_json_int(json_object *o, const char *k, int64_t *out)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    *out = json_object_get_int64(v);
    return 1;
}

json_object *mq_payments_json_obj(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

json_object *mq_payments_json_arr(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_array))
        return NULL;
    return v;
}

char *mq_payments_json_take(json_object *o, size_t *len)
{
    if (!o)
        return NULL;
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *d = s ? strdup(s) : NULL;
    if (d && len)
        *len = strlen(d);
    json_object_put(o);
    return d;
}
