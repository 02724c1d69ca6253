/*
 * ops_fx.c -- fixture plugin "ops_fx" for the ops tests (tests/ops): what
 * the nginx site must pass through, until the quiz and admin plugins serve
 * the real thing.
 *
 *   GET /static/<path>  "static <path>\n" as text/plain with the quiz
 *                       plugin's headers: ETag "\"fx-<len>-<path hash>\"",
 *                       Cache-Control "public, max-age=300"; 304 (no body)
 *                       when If-None-Match carries the ETag. Every answer
 *                       counts in fx_static_requests_total{status}, so a
 *                       test sees whether a proxy cache answered instead.
 *   GET /admin/ping     {"admin":true,"ip":"<client ip as the host sees it>"}
 *   GET /fx/client      {"ip","xff","real_ip"}: the client address the host
 *                       derived, and the X-Forwarded-For / X-Real-IP
 *                       headers it received ("" when absent)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq_plugin.h"

typedef struct ops_fx {
    const mq_api *api;
    mq_plugin *self;
    mq_metric *static_requests;
} ops_fx;

/* FNV-1a: a stable tag per path, enough for a fixture's ETag. */
static unsigned long fnv1a(const char *s)
{
    unsigned long h = 2166136261UL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619UL;
    return h & 0xffffffffUL;
}

static void count(ops_fx *st, const char *status)
{
    const char *lv[] = {status};
    st->api->metric_add(st->static_requests, lv, 1);
}

static void on_static(mq_req *req, void *ud)
{
    ops_fx *st = ud;
    const mq_api *api = st->api;
    const char *path = api->req_param(req, "path");
    if (!path)
        path = "";
    char body[512], etag[64];
    int n = snprintf(body, sizeof body, "static %s\n", path);
    if (n < 0 || (size_t)n >= sizeof body) {
        api->resp_error(req, 414, "too_long", "path too long");
        return;
    }
    snprintf(etag, sizeof etag, "\"fx-%d-%08lx\"", n, fnv1a(path));
    api->resp_header(req, "ETag", etag);
    api->resp_header(req, "Cache-Control", "public, max-age=300");
    const char *inm = api->req_header(req, "If-None-Match");
    if (inm && strstr(inm, etag)) {
        count(st, "304");
        api->resp_send(req, 304, NULL, NULL, 0);
        return;
    }
    count(st, "200");
    api->resp_send(req, 200, "text/plain; charset=utf-8", body, (size_t)n);
}

/* s as JSON string content; keeps printable ASCII but quotes/backslashes. */
static void json_str(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 3 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f)
            continue;
        if (c == '"' || c == '\\')
            out[o++] = '\\';
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void on_admin_ping(mq_req *req, void *ud)
{
    ops_fx *st = ud;
    char ip[80], out[160];
    json_str(ip, sizeof ip, st->api->req_client_ip(req));
    int n = snprintf(out, sizeof out, "{\"admin\":true,\"ip\":\"%s\"}", ip);
    st->api->resp_send(req, 200, "application/json", out, (size_t)n);
}

static void on_client(mq_req *req, void *ud)
{
    ops_fx *st = ud;
    const mq_api *api = st->api;
    char ip[80], xff[400], real[80], out[700];
    json_str(ip, sizeof ip, api->req_client_ip(req));
    json_str(xff, sizeof xff, api->req_header(req, "X-Forwarded-For"));
    json_str(real, sizeof real, api->req_header(req, "X-Real-IP"));
    int n = snprintf(out, sizeof out, "{\"ip\":\"%s\",\"xff\":\"%s\",\"real_ip\":\"%s\"}", ip, xff,
                     real);
    api->resp_send(req, 200, "application/json", out, (size_t)n);
}

static int ops_fx_init(const mq_api *api, mq_plugin *self, void **state)
{
    ops_fx *st = calloc(1, sizeof *st);
    if (!st)
        return MQ_ENOMEM;
    st->api = api;
    st->self = self;
    static const char *const labels[] = {"status", NULL};
    st->static_requests =
        api->metric_register(self, MQ_COUNTER, "fx_static_requests_total",
                             "Static fixture answers, by status.", labels, NULL, 0);
    int rc = st->static_requests ? MQ_OK : MQ_EINVAL;
    if (rc == MQ_OK)
        rc = api->route_add(self, "GET", "/static/*path", on_static, st);
    if (rc == MQ_OK)
        rc = api->route_add(self, "GET", "/admin/ping", on_admin_ping, st);
    if (rc == MQ_OK)
        rc = api->route_add(self, "GET", "/fx/client", on_client, st);
    if (rc != MQ_OK) {
        free(st);
        return rc;
    }
    *state = st;
    return MQ_OK;
}

static void ops_fx_fini(void *state)
{
    free(state);
}

/* clang-format off */
MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER,
    .name = "ops_fx",
    .version = "1.0.0",
    .init = ops_fx_init,
    .fini = ops_fx_fini,
    .summary = "ops test fixture: /static, /admin/ping, /fx/client",
};
/* clang-format on */
