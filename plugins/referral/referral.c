/*
 * referral.c -- the referral plugin: share codes, first-touch attribution,
 * and one reward coupon per referred sale.
 *
 *   GET /r/:code             count the visit, set mq_ref (first touch) and
 *                            302 to the code's result page
 *   service "referral" v1    referral_service.h, for the quiz plugin:
 *                            code_for, on_visit, attribute, rewards_json
 *   events                   order.approved -> reward (coupons.admin)
 *                            order.refunded -> void an unused reward
 *
 * Config (.env, read at every reload):
 *   REFERRAL_REWARDS       1 (0/false/no/off: record referred sales, issue
 *                          no rewards)
 *   REFERRAL_REWARD_KRW    1000: the reward coupon's discount (1 use)
 *   REFERRAL_REWARD_DAYS   90: how long the reward coupon is valid
 *   REFERRAL_COOKIE_DAYS   30: the lifetime of the mq_ref cookie
 *   PUBLIC_BASE_URL        https:// makes the cookies Secure
 *
 * Metrics: referral_reward_total, referral_reward_voided_total,
 * referral_visits_total{via}, referral_attributions_total,
 * referral_self_ignored_total{stage}.
 *
 * This file wires things up; code.c makes codes and cookies, track.c
 * counts visits and attributes results, reward.c pays and voids.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mq_plugin.h"
#include "ref.h"
#include "referral_service.h"

/* ---- GET /r/:code --------------------------------------------------------------------- */

static void on_link(mq_req *req, void *ud)
{
    ref_state *st = ud;
    const mq_api *api = st->api;
    ref_code c;
    mq_referral_visit(st, req, api->req_param(req, "code"), "link", &c);
    /* An unknown code still lands somewhere useful: the quiz list. */
    char loc[16 + REF_ID_MAX];
    snprintf(loc, sizeof loc, "%s%s", c.result_id[0] ? "/app/result/" : "/", c.result_id);
    api->resp_header(req, "Location", loc);
    api->resp_header(req, "Cache-Control", "no-store");
    api->resp_header(req, "X-Robots-Tag", "noindex");
    api->resp_header(req, "Referrer-Policy", "strict-origin-when-cross-origin");
    api->resp_send(req, 302, NULL, NULL, 0);
}

static const struct {
    const char *method;
    const char *pattern;
    mq_handler_fn fn;
} routes[] = {
    {"GET", "/r/:code", on_link},
};

/* ---- service "referral" v1 ------------------------------------------------------------------ */

static const char *svc_code_for(void *ud, const char *result_id, char *buf, size_t len)
{
    ref_code c;
    if (!buf || len <= MQ_REFERRAL_CODE_LEN)
        return NULL;
    buf[0] = '\0';
    if (mq_referral_code_of(ud, result_id, NULL, 1, &c) != MQ_OK)
        return NULL;
    memcpy(buf, c.code, MQ_REFERRAL_CODE_LEN + 1);
    return buf;
}

static void svc_on_visit(void *ud, mq_req *req)
{
    ref_state *st = ud;
    const char *code = req ? st->api->req_query(req, "ref") : NULL;
    if (code && *code)
        mq_referral_visit(st, req, code, "page", NULL);
}

static int svc_attribute(void *ud, mq_req *req, const char *result_id)
{
    switch (mq_referral_attribute(ud, req, result_id)) {
    case REF_ATTRIB_ERROR: return mq_referral_is_token(result_id, REF_ID_MAX) ? MQ_EIO : MQ_EINVAL;
    default: return MQ_OK;
    }
}

static char *svc_rewards_json(void *ud, mq_req *req, const char *result_id)
{
    return mq_referral_rewards_json(ud, req, result_id);
}

static const mq_referral_service_v1 referral_service = {
    .code_for = svc_code_for,
    .on_visit = svc_on_visit,
    .attribute = svc_attribute,
    .rewards_json = svc_rewards_json,
};

/* ---- events and the repair timer ------------------------------------------------------------- */

static void on_approved(const char *event, const char *payload, size_t len, void *ud)
{
    mq_referral_on_approved(ud, payload, len);
}

static void on_refunded(const char *event, const char *payload, size_t len, void *ud)
{
    mq_referral_on_refunded(ud, payload, len);
}

/* Once, right after init (when every plugin of the generation has
 * published its services): finish rewards a stop left pending. */
static void on_repair(void *ud)
{
    ref_state *st = ud;
    int n = mq_referral_repair(st);
    if (n)
        st->api->log(st->self, MQ_LOG_INFO, "granted %d pending referral reward(s)", n);
}

/* ---- init and fini -----------------------------------------------------------------------------
 */

static long config_num(ref_state *st, const char *key, long def, long min, long max)
{
    const char *v = st->api->config_get(st->self, key);
    if (!v || !*v)
        return def;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max) {
        st->api->log(st->self, MQ_LOG_WARN, "config %s=\"%s\" ignored: want %ld..%ld, using %ld",
                     key, v, min, max, def);
        return def;
    }
    return n;
}

static int config_off(const char *v)
{
    return v && (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
                 strcasecmp(v, "off") == 0);
}

static void referral_fini(void *state)
{
    free(state);
}

static int referral_init(const mq_api *api, mq_plugin *self, void **state)
{
    if (api->abi_major != MQ_ABI_MAJOR ||
        api->size < offsetof(mq_api, random_hex) + sizeof api->random_hex)
        return MQ_EABI; /* needs the store (1.2) and HMAC / randomness (1.3) */
    ref_state *st = calloc(1, sizeof *st);
    if (!st)
        return MQ_ENOMEM;
    st->api = api;
    st->self = self;
    st->clock_ms = mq_referral_now_ms;
    const char *base = api->config_get(self, "PUBLIC_BASE_URL");
    st->secure_cookies = base && strncasecmp(base, "https://", 8) == 0;
    st->rewards_enabled = !config_off(api->config_get(self, "REFERRAL_REWARDS"));
    st->reward_krw = config_num(st, "REFERRAL_REWARD_KRW", 1000, 1, 1000000);
    st->reward_days = config_num(st, "REFERRAL_REWARD_DAYS", 90, 1, 3650);
    st->cookie_days = config_num(st, "REFERRAL_COOKIE_DAYS", 30, 1, 365);

    int rc = mq_referral_metrics_init(st);
    if (rc != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "register referral metrics failed: %s", api->strerror(rc));
        goto fail;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((rc = api->route_add(self, routes[i].method, routes[i].pattern, routes[i].fn, st)) !=
            MQ_OK)
            goto fail;
    if ((rc = api->service_publish(self, MQ_REFERRAL_SERVICE, MQ_REFERRAL_SERVICE_VERSION,
                                   &referral_service, st)) != MQ_OK ||
        (rc = api->event_subscribe(self, "order.approved", on_approved, st)) != MQ_OK ||
        (rc = api->event_subscribe(self, "order.refunded", on_refunded, st)) != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "publish the referral service failed: %s", api->strerror(rc));
        goto fail;
    }
    if (!api->timer_start(self, 0, 0, on_repair, st)) {
        rc = MQ_ENOMEM;
        goto fail;
    }
    api->log(self, MQ_LOG_INFO, "referral rewards %s (%ld KRW coupon, %ld days)",
             st->rewards_enabled ? "on" : "off (REFERRAL_REWARDS)", st->reward_krw,
             st->reward_days);
    *state = st;
    return MQ_OK;
fail:
    referral_fini(st);
    return rc;
}

/* clang-format off */
MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER,
    .name = "referral",
    .version = "1.0.0",
    .init = referral_init,
    .fini = referral_fini,
    .summary = "referral codes, first-touch attribution, rewards for referred sales",
};
/* clang-format on */
