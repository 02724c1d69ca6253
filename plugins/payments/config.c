/*
 * config.c -- the payments plugin's .env keys.
 *
 * Nothing here fails init except memory: a provider without its keys is
 * marked unusable (POST /api/pay/ready answers 503 payments_misconfigured
 * for it) and a bad number falls back to its default, both reported once
 * in the init log. The kill switch fails closed: a PAYMENTS_ENABLED value
 * that is neither on nor off disables payment starts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pay.h"

#define KAKAO_DEFAULT_BASE "https://open-api.kakaopay.com"
#define KAKAO_DEFAULT_CID "TC0ONETIME"
#define NAVER_DEFAULT_BASE "https://pay.paygate.naver.com"
#define NAVER_PAGE_PROD "https://m.pay.naver.com/payments"
#define NAVER_PAGE_DEV "https://test-m.pay.naver.com/payments"

static const char *nonempty(const char *v)
{
    return v && *v ? v : NULL;
}

static int is_http_url(const char *v)
{
    return v && (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) && strlen(v) > 8;
}

/* strdup without trailing slashes; *oom set on failure. */
static char *dup_url(const char *v, int *oom)
{
    if (!v)
        return NULL;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == '/')
        n--;
    char *d = strndup(v, n);
    if (!d)
        *oom = 1;
    return d;
}

static char *dup_str(const char *v, int *oom)
{
    if (!v)
        return NULL;
    char *d = strdup(v);
    if (!d)
        *oom = 1;
    return d;
}

static void warn(pay_config *cfg, const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(cfg->warnings);
    if (used + 1 >= sizeof cfg->warnings)
        return;
    if (used)
        cfg->warnings[used++] = '\n';
    snprintf(cfg->warnings + used, sizeof cfg->warnings - used, fmt, a, b);
}

static uint64_t number(pay_config *cfg, pay_config_get_fn get, void *ud, const char *key,
                       uint64_t def, uint64_t lo, uint64_t hi)
{
    const char *v = nonempty(get(ud, key));
    if (!v)
        return def;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || !end || *end || *v == '-' || n < lo || n > hi) {
        char range[64];
        snprintf(range, sizeof range, "%llu..%llu", (unsigned long long)lo, (unsigned long long)hi);
        warn(cfg, "config \"%s\" ignored: not a number in %s, using the default", key, range);
        return def;
    }
    return n;
}

static void problem(char *dst, size_t cap, const char *what)
{
    if (!dst[0])
        snprintf(dst, cap, "%s", what);
}

int mq_payments_config_load(pay_config *cfg, pay_config_get_fn get, void *ud)
{
    memset(cfg, 0, sizeof *cfg);
    int oom = 0;

    const char *en = nonempty(get(ud, "PAYMENTS_ENABLED"));
    if (!en || !strcmp(en, "1") || !strcasecmp(en, "true") || !strcasecmp(en, "yes") ||
        !strcasecmp(en, "on")) {
        cfg->enabled = 1;
    } else if (!strcmp(en, "0") || !strcasecmp(en, "false") || !strcasecmp(en, "no") ||
               !strcasecmp(en, "off")) {
        cfg->enabled = 0;
    } else {
        cfg->enabled = 0;
        warn(cfg, "config \"%s\" is neither 1 nor 0: payment starts are disabled%s",
             "PAYMENTS_ENABLED", "");
    }

    cfg->order_secret = dup_str(nonempty(get(ud, "ORDER_SECRET")), &oom);
    cfg->order_secret_prev = dup_str(nonempty(get(ud, "ORDER_SECRET_PREV")), &oom);
    const char *pub = nonempty(get(ud, "PUBLIC_BASE_URL"));
    if (pub && is_http_url(pub))
        cfg->public_base = dup_url(pub, &oom);

    const char *kb = nonempty(get(ud, "KAKAOPAY_API_BASE"));
    cfg->kakao_base = dup_url(kb ? kb : KAKAO_DEFAULT_BASE, &oom);
    cfg->kakao_secret = dup_str(nonempty(get(ud, "KAKAOPAY_SECRET_KEY")), &oom);
    const char *cid = nonempty(get(ud, "KAKAOPAY_CID"));
    cfg->kakao_cid = dup_str(cid ? cid : KAKAO_DEFAULT_CID, &oom);

    const char *nb = nonempty(get(ud, "NAVERPAY_API_BASE"));
    cfg->naver_base = dup_url(nb ? nb : NAVER_DEFAULT_BASE, &oom);
    cfg->naver_partner = dup_str(nonempty(get(ud, "NAVERPAY_PARTNER_ID")), &oom);
    cfg->naver_client_id = dup_str(nonempty(get(ud, "NAVERPAY_CLIENT_ID")), &oom);
    cfg->naver_client_secret = dup_str(nonempty(get(ud, "NAVERPAY_CLIENT_SECRET")), &oom);
    cfg->naver_chain_id = dup_str(nonempty(get(ud, "NAVERPAY_CHAIN_ID")), &oom);
    const char *page = nonempty(get(ud, "NAVERPAY_PAYMENT_PAGE_BASE"));
    if (!page) /* the sandbox API hosts have "dev" in their name */
        page = cfg->naver_base && strstr(cfg->naver_base, "dev") ? NAVER_PAGE_DEV : NAVER_PAGE_PROD;
    cfg->naver_page_base = dup_url(page, &oom);

    cfg->connect_timeout_ms =
        (uint32_t)number(cfg, get, ud, "PAY_CONNECT_TIMEOUT_MS", 3000, 100, 60000);
    cfg->timeout_ms = (uint32_t)number(cfg, get, ud, "PAY_TIMEOUT_MS", 10000, 100, 120000);
    cfg->reconcile_ms =
        number(cfg, get, ud, "PAY_RECONCILE_INTERVAL_MS", PAY_RECONCILE_DEFAULT_MS, 100, 600000);
    cfg->return_wait_ms = number(cfg, get, ud, "PAY_RETURN_WAIT_MS", PAY_WAIT_DEFAULT_MS, 0, 60000);
    cfg->ready_per_minute = (uint32_t)number(cfg, get, ud, "PAY_READY_PER_MINUTE", 20, 1, 100000);
    cfg->ready_burst = (uint32_t)number(cfg, get, ud, "PAY_READY_BURST", 10, 1, 100000);

    if (oom) {
        mq_payments_config_cleanup(cfg);
        return MQ_ENOMEM;
    }

    /* What keeps each provider from starting payments. */
    char *kp = cfg->kakao_problem, *np = cfg->naver_problem;
    size_t kc = sizeof cfg->kakao_problem, nc = sizeof cfg->naver_problem;
    if (!cfg->order_secret) {
        problem(kp, kc, "ORDER_SECRET is not set");
        problem(np, nc, "ORDER_SECRET is not set");
    }
    if (!cfg->public_base) {
        const char *why =
            pub ? "PUBLIC_BASE_URL is not an http(s) URL" : "PUBLIC_BASE_URL is not set";
        problem(kp, kc, why);
        problem(np, nc, why);
    } else if (strlen(cfg->public_base) > 120) {
        /* KakaoPay takes return URLs of at most 255 characters. */
        problem(kp, kc, "PUBLIC_BASE_URL is longer than 120 characters");
        problem(np, nc, "PUBLIC_BASE_URL is longer than 120 characters");
    }
    if (!is_http_url(cfg->kakao_base))
        problem(kp, kc, "KAKAOPAY_API_BASE is not an http(s) URL");
    if (!cfg->kakao_secret)
        problem(kp, kc, "KAKAOPAY_SECRET_KEY is not set");
    if (!is_http_url(cfg->naver_base))
        problem(np, nc, "NAVERPAY_API_BASE is not an http(s) URL");
    if (!is_http_url(cfg->naver_page_base))
        problem(np, nc, "NAVERPAY_PAYMENT_PAGE_BASE is not an http(s) URL");
    if (!cfg->naver_partner || !mq_payments_is_token(cfg->naver_partner, 64))
        problem(np, nc,
                cfg->naver_partner ? "NAVERPAY_PARTNER_ID is not [A-Za-z0-9_-]"
                                   : "NAVERPAY_PARTNER_ID is not set");
    if (!cfg->naver_client_id)
        problem(np, nc, "NAVERPAY_CLIENT_ID is not set");
    if (!cfg->naver_client_secret)
        problem(np, nc, "NAVERPAY_CLIENT_SECRET is not set");
    if (!cfg->naver_chain_id)
        problem(np, nc, "NAVERPAY_CHAIN_ID is not set");
    if (cfg->order_secret && strlen(cfg->order_secret) < 16)
        warn(cfg, "config \"%s\" is shorter than 16 characters: use a long random secret%s",
             "ORDER_SECRET", "");
    return MQ_OK;
}

void mq_payments_config_cleanup(pay_config *cfg)
{
    char **owned[] = {&cfg->order_secret,        &cfg->order_secret_prev, &cfg->public_base,
                      &cfg->kakao_base,          &cfg->kakao_secret,      &cfg->kakao_cid,
                      &cfg->naver_base,          &cfg->naver_partner,     &cfg->naver_client_id,
                      &cfg->naver_client_secret, &cfg->naver_chain_id,    &cfg->naver_page_base};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        free(*owned[i]);
        *owned[i] = NULL;
    }
}

const char *mq_payments_config_problem(const pay_config *cfg, const char *provider)
{
    if (provider && strcmp(provider, PAY_PROVIDER_KAKAO) == 0)
        return cfg->kakao_problem;
    if (provider && strcmp(provider, PAY_PROVIDER_NAVER) == 0)
        return cfg->naver_problem;
    return NULL;
}
