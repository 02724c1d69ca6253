/*
 * payments.c -- the payments plugin: KakaoPay and NaverPay checkout for the
 * premium result report.
 *
 *   POST /api/pay/ready                 {provider, resultId, coupon?}
 *                                       -> {orderId, redirectUrl}
 *   GET  /api/pay/kakao/approve         ?order=&sig=&pg_token=   -> 302
 *   GET  /api/pay/kakao/cancel          ?order=&sig=             -> 302
 *   GET  /api/pay/kakao/fail            ?order=&sig=             -> 302
 *   GET  /api/pay/naver/return          ?order=&sig=&resultCode=&paymentId=
 *                                        &resultMessage=         -> 302
 *   GET  /api/pay/order/:id             public order status
 *   GET  /api/pay/unlocked/:resultId    {"premium":true|false}
 *
 *   service "payments" v1   payments_service.h (refund, is_unlocked)
 *   events published        order.approved, order.refunded (the order JSON)
 *
 * This file only wires things up; the flows live in flow.c, the gateways
 * in kakao.c and naver.c, the order record in order.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq_plugin.h"
#include "pay.h"
#include "payments_service.h"

/* ---- handlers ---------------------------------------------------------------------- */

static void on_ready(mq_req *req, void *ud)
{
    pay_state *st = ud;
    /* Per client IP, host-owned buckets: a reload does not reset them. */
    int retry = 0;
    if (!st->api->rate_check(st->self, "pay_ready", st->api->req_client_ip(req),
                             st->cfg.ready_per_minute, st->cfg.ready_burst, &retry)) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", retry);
        st->api->resp_header(req, "Retry-After", secs);
        st->api->resp_error(req, 429, "rate_limited",
                            "결제 요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.");
        return;
    }
    size_t len = 0;
    const char *body = st->api->req_body(req, &len);
    pay_ready_input in;
    const char *code = NULL, *message = NULL;
    if (mq_payments_parse_ready(body, len, &in, &code, &message) != MQ_OK) {
        st->api->resp_error(req, 400, code, message);
        return;
    }
    mq_payments_ready(st, req, &in);
}

static void kakao_return(mq_req *req, pay_state *st, pay_kakao_return kind)
{
    const mq_api *api = st->api;
    mq_payments_kakao_return(st, req, kind, api->req_query(req, "order"),
                             api->req_query(req, "sig"), api->req_query(req, "pg_token"));
}

static void on_kakao_approve(mq_req *req, void *ud)
{
    kakao_return(req, ud, PAY_KAKAO_APPROVE);
}
static void on_kakao_cancel(mq_req *req, void *ud)
{
    kakao_return(req, ud, PAY_KAKAO_CANCEL);
}
static void on_kakao_fail(mq_req *req, void *ud)
{
    kakao_return(req, ud, PAY_KAKAO_FAIL);
}

static void on_naver_return(mq_req *req, void *ud)
{
    pay_state *st = ud;
    const mq_api *api = st->api;
    mq_payments_naver_return(st, req, api->req_query(req, "order"), api->req_query(req, "sig"),
                             api->req_query(req, "resultCode"), api->req_query(req, "paymentId"),
                             api->req_query(req, "resultMessage"));
}

static void on_order(mq_req *req, void *ud)
{
    pay_state *st = ud;
    mq_payments_order_status(st, req, st->api->req_param(req, "id"));
}

static void on_unlocked(mq_req *req, void *ud)
{
    pay_state *st = ud;
    mq_payments_unlocked(st, req, st->api->req_param(req, "resultId"));
}

/* ---- tables --------------------------------------------------------------------------- */

static const struct {
    const char *method;
    const char *pattern;
    mq_handler_fn fn;
} routes[] = {
    {"POST", "/api/pay/ready", on_ready},
    {"GET", "/api/pay/kakao/approve", on_kakao_approve},
    {"GET", "/api/pay/kakao/cancel", on_kakao_cancel},
    {"GET", "/api/pay/kakao/fail", on_kakao_fail},
    {"GET", "/api/pay/naver/return", on_naver_return},
    {"GET", "/api/pay/order/:id", on_order},
    {"GET", "/api/pay/unlocked/:resultId", on_unlocked},
};

static const mq_payments_service_v1 payments_service = {
    .refund = mq_payments_refund,
    .is_unlocked = mq_payments_is_unlocked,
};

/* ---- init and fini ---------------------------------------------------------------------- */

static const char *config_get(void *ud, const char *key)
{
    pay_state *st = ud;
    return st->api->config_get(st->self, key);
}

/* Say once, at init, what this generation will and will not do. */
static void log_config(pay_state *st)
{
    const pay_config *c = &st->cfg;
    for (const char *w = c->warnings; *w;) {
        const char *nl = strchr(w, '\n');
        int n = nl ? (int)(nl - w) : (int)strlen(w);
        st->api->log(st->self, MQ_LOG_WARN, "%.*s", n, w);
        w += n + (nl ? 1 : 0);
    }
    if (c->kakao_problem[0])
        st->api->log(st->self, MQ_LOG_WARN, "provider \"kakao\" disabled: %s", c->kakao_problem);
    if (c->naver_problem[0])
        st->api->log(st->self, MQ_LOG_WARN, "provider \"naver\" disabled: %s", c->naver_problem);
    st->api->log(st->self, MQ_LOG_INFO,
                 "payment starts %s (kakao %s, naver %s), premium_result %ld KRW",
                 c->enabled ? "enabled" : "disabled by PAYMENTS_ENABLED",
                 c->kakao_problem[0] ? "off" : "on", c->naver_problem[0] ? "off" : "on",
                 mq_payments_catalog_find(&st->catalog, "premium_result")->amount);
}

static void payments_fini(void *state)
{
    pay_state *st = state;
    if (!st)
        return;
    mq_payments_state_cleanup(st);
    free(st);
}

static int payments_init(const mq_api *api, mq_plugin *self, void **state)
{
    if (api->abi_major != MQ_ABI_MAJOR ||
        api->size < offsetof(mq_api, rate_check) + sizeof api->rate_check)
        return MQ_EABI; /* needs the store, outbound HTTP and rate limits of ABI 1.4 */
    pay_state *st = calloc(1, sizeof *st);
    if (!st)
        return MQ_ENOMEM;
    st->api = api;
    st->self = self;

    int rc = mq_payments_config_load(&st->cfg, config_get, st);
    if (rc != MQ_OK) {
        free(st);
        return rc;
    }

    char path[4096], err[256] = "";
    int n = snprintf(path, sizeof path, "%s/assets/catalog.json", api->release_path(self));
    rc = n > 0 && (size_t)n < sizeof path
             ? mq_payments_catalog_load(path, &st->catalog, err, sizeof err)
             : MQ_ETOOBIG;
    if (rc != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "read catalog \"%s\" failed: %s", path,
                 err[0] ? err : api->strerror(rc));
        goto fail;
    }

    st->signer = (pay_signer){
        .api = api, .secret = st->cfg.order_secret, .prev_secret = st->cfg.order_secret_prev};
    if ((rc = mq_payments_metrics_init(st)) != MQ_OK)
        goto fail;
    st->signer.calls = st->m.sign_calls;

    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((rc = api->route_add(self, routes[i].method, routes[i].pattern, routes[i].fn, st)) !=
            MQ_OK)
            goto fail;
    rc = api->service_publish(self, MQ_PAYMENTS_SERVICE, MQ_PAYMENTS_SERVICE_VERSION,
                              &payments_service, st);
    if (rc != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "publish service \"%s\" failed: %s", MQ_PAYMENTS_SERVICE,
                 api->strerror(rc));
        goto fail;
    }
    if ((rc = mq_payments_resume(st)) != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "scan orders failed: %s", api->strerror(rc));
        goto fail;
    }
    log_config(st);
    *state = st;
    return MQ_OK;
fail:
    payments_fini(st);
    return rc;
}

/* clang-format off */
MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER,
    .name = "payments",
    .version = "1.0.0",
    .init = payments_init,
    .fini = payments_fini,
    .summary = "KakaoPay and NaverPay checkout for premium results",
};
/* clang-format on */
