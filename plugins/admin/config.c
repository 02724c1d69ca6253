/*
 * config.c -- the admin plugin's .env keys. Read at every init (every
 * reload), copied into adm_config. A bad value never refuses the release
 * (an admin typo must not block a kill-switch reload in an incident): it
 * is reported once and fails closed.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adm.h"

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static char *dup_str(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static void warn(adm_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(adm_config *cfg, const char *fmt, ...)
{
    size_t used = strlen(cfg->warnings);
    if (used + 2 >= sizeof cfg->warnings)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->warnings + used, sizeof cfg->warnings - used - 1, fmt, ap);
    va_end(ap);
    used = strlen(cfg->warnings);
    cfg->warnings[used] = '\n';
    cfg->warnings[used + 1] = '\0';
}

int mq_admin_payments_enabled(const char *v)
{
    v = nonempty(v);
    return !v || !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "on");
}

/* scheme://host[:port] of an http(s) URL, malloc'd; NULL when it is not one. */
static char *origin_of(const char *url, int *https)
{
    const char *rest;
    if (!strncasecmp(url, "https://", 8)) {
        *https = 1;
        rest = url + 8;
    } else if (!strncasecmp(url, "http://", 7)) {
        *https = 0;
        rest = url + 7;
    } else {
        return NULL;
    }
    size_t hl = strcspn(rest, "/?#");
    if (hl == 0)
        return NULL;
    size_t n = (size_t)(rest - url) + hl;
    char *o = strndup(url, n);
    for (char *p = o; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return o;
}

int mq_admin_config_load(adm_config *cfg, adm_config_get_fn get, adm_cidrs_valid_fn valid, void *ud)
{
    memset(cfg, 0, sizeof *cfg);
    int oom = 0;
    cfg->pass = dup_str(nonempty(get(ud, "ADMIN_PASS")), &oom);
    if (cfg->pass && strlen(cfg->pass) < 12)
        warn(cfg, "config \"ADMIN_PASS\" is shorter than 12 characters: choose a longer one");

    const char *cidrs = nonempty(get(ud, "ADMIN_ALLOW_CIDRS"));
    if (cidrs) {
        cfg->allow_cidrs = dup_str(cidrs, &oom);
        if (!valid(ud, cidrs)) {
            cfg->cidrs_invalid = 1;
            warn(cfg, "config \"ADMIN_ALLOW_CIDRS\" does not parse: every admin request is "
                      "refused (403) until it is fixed");
        }
    }

    const char *pub = nonempty(get(ud, "PUBLIC_BASE_URL"));
    if (pub) {
        cfg->public_origin = origin_of(pub, &cfg->secure_cookie);
        if (!cfg->public_origin) {
            cfg->secure_cookie = 0;
            warn(cfg, "config \"PUBLIC_BASE_URL\" is not an http(s) URL: POST origins are "
                      "checked against the Host header only");
        }
    }

    cfg->lockout_s = ADM_LOCKOUT_DEFAULT_S;
    const char *lock = nonempty(get(ud, "ADMIN_LOCKOUT_S"));
    if (lock) {
        char *end = NULL;
        long v = strtol(lock, &end, 10);
        if (end && *end == '\0' && v >= 10 && v <= 86400)
            cfg->lockout_s = v;
        else
            warn(cfg,
                 "config \"ADMIN_LOCKOUT_S\" is not a number of seconds in 10..86400: "
                 "using %d",
                 ADM_LOCKOUT_DEFAULT_S);
    }

    cfg->payments_enabled = mq_admin_payments_enabled(get(ud, "PAYMENTS_ENABLED"));
    if (oom) {
        mq_admin_config_cleanup(cfg);
        return MQ_ENOMEM;
    }
    return MQ_OK;
}

void mq_admin_config_cleanup(adm_config *cfg)
{
    if (cfg->pass) {
        explicit_bzero(cfg->pass, strlen(cfg->pass));
        free(cfg->pass);
    }
    free(cfg->allow_cidrs);
    free(cfg->public_origin);
    memset(cfg, 0, sizeof *cfg);
}
