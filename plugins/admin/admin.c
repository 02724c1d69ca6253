/*
 * admin.c -- the admin plugin: what operators look at and do in an
 * incident (runbook sections 0, 1.1, 4, 5, 6).
 *
 *   GET  /admin                           -> 303 /admin/status
 *   GET  /admin/login                     login form
 *   POST /admin/login                     pass, next -> session cookie + 303
 *   POST /admin/logout                    end the session
 *   GET  /admin/status                    host, plugins, reloads, payments,
 *                                         backups, store, holds, today's orders
 *   GET  /admin/logs                      orders and events, filtered, with
 *                                         counts; ?format=json|csv
 *   GET  /admin/files                     data files and backups
 *   GET  /admin/coupons                   coupons (service coupons.admin)
 *   POST /admin/actions/refund            order, reason?
 *   POST /admin/actions/coupon-create     code, kind, value, total_uses, ...
 *   POST /admin/actions/coupon-disable    code
 *   POST /admin/actions/backup
 *   POST /admin/actions/restore-check     name?
 *   GET, POST /admin/<anything else>      gate, then 404
 *
 * Views answer HTML, or JSON with ?format=json. With ADMIN_PASS unset the
 * plugin registers no route: every /admin path is the host's 404.
 *
 * This file only wires things up: the gate and sessions live in auth.c,
 * the views in logs.c and views.c, the actions in actions.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adm.h"
#include "coupons_admin.h"

/* ---- handlers ------------------------------------------------------------------------------- */

typedef int (*render_fn)(adm_state *st, const adm_ctx *ctx, mq_req *req, adm_buf *out);

/* The views share one shape: gate, render, send. */
static void serve_view(mq_req *req, adm_state *st, render_fn render)
{
    adm_ctx ctx;
    if (!mq_admin_gate(st, req, &ctx))
        return;
    if (ctx.format == ADM_CSV) {
        mq_admin_send_error(st, req, ADM_JSON, 400, "unsupported_format",
                            "CSV는 /admin/logs에서만 내보낼 수 있습니다.");
        return;
    }
    adm_buf out = {0};
    int rc = render(st, &ctx, req, &out);
    if (rc != MQ_OK) {
        mq_admin_buf_cleanup(&out);
        mq_admin_send_error(st, req, ctx.format, 500, "render_failed", st->api->strerror(rc));
        return;
    }
    if (ctx.format == ADM_JSON) {
        mq_admin_send_json(st, req, 200, out.data ? out.data : "{}");
        mq_admin_buf_cleanup(&out);
    } else {
        mq_admin_send_html(st, req, 200, &out);
    }
}

static int render_status(adm_state *st, const adm_ctx *ctx, mq_req *req, adm_buf *out)
{
    char *host = st->api->host_status_json(st->self);
    char *backups = st->api->backups_json(st->self);
    int rc = mq_admin_render_status(st, ctx, host, backups, st->now_ms(), out);
    free(host);
    free(backups);
    return rc;
}

static int render_files(adm_state *st, const adm_ctx *ctx, mq_req *req, adm_buf *out)
{
    char *host = st->api->host_status_json(st->self);
    char *backups = st->api->backups_json(st->self);
    int rc = mq_admin_render_files(st, ctx, host, backups, st->now_ms(), out);
    free(host);
    free(backups);
    return rc;
}

static int render_coupons(adm_state *st, const adm_ctx *ctx, mq_req *req, adm_buf *out)
{
    void *ud = NULL;
    const mq_coupons_admin_v1 *ca =
        st->api->service_lookup(st->self, MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION, &ud);
    char *list = ca ? ca->list_json(ud) : NULL;
    if (ca && !list)
        return MQ_EIO;
    int rc = mq_admin_render_coupons(st, ctx, list, st->now_ms(), out);
    free(list);
    return rc;
}

static void on_status(mq_req *req, void *ud)
{
    serve_view(req, ud, render_status);
}

static void on_files(mq_req *req, void *ud)
{
    serve_view(req, ud, render_files);
}

static void on_coupons(mq_req *req, void *ud)
{
    serve_view(req, ud, render_coupons);
}

static const char *query_param(void *ud, const char *name)
{
    void **pair = ud;
    adm_state *st = pair[0];
    return st->api->req_query(pair[1], name);
}

static void on_logs(mq_req *req, void *ud)
{
    adm_state *st = ud;
    adm_ctx ctx;
    if (!mq_admin_gate(st, req, &ctx))
        return;
    adm_filter f;
    char err[200];
    void *pair[2] = {st, req};
    if (mq_admin_filter_parse(&f, query_param, pair, err, sizeof err) != MQ_OK) {
        mq_admin_send_error(st, req, ctx.format, 400, "invalid_filter", err);
        return;
    }
    adm_rows orders, events;
    int rc = mq_admin_logs_collect(st, &f, &orders, &events);
    if (rc != MQ_OK) {
        st->api->log(st->self, MQ_LOG_ERROR, "read orders and events failed: %s",
                     st->api->strerror(rc));
        mq_admin_send_error(st, req, ctx.format, 503, "store_unavailable",
                            "주문과 이벤트를 읽지 못했습니다.");
        return;
    }
    adm_buf out = {0};
    if (ctx.format == ADM_CSV) {
        mq_admin_logs_csv(&orders, &events, &out);
        char name[96], now[32];
        mq_admin_fmt_kst(st->now_ms(), now, sizeof now);
        /* "YYYY-MM-DD HH:MM:SS" -> "YYYYMMDD-HHMMSS" */
        snprintf(name, sizeof name,
                 "attachment; filename=\"mindquiz-logs-%.4s%.2s%.2s-%.2s%.2s%.2s.csv\"", now,
                 now + 5, now + 8, now + 11, now + 14, now + 17);
        mq_admin_security_headers(st, req);
        st->api->resp_header(req, "Content-Disposition", name);
        if (out.oom)
            st->api->resp_error(req, 500, "out_of_memory", "out of memory");
        else
            st->api->resp_send(req, 200, "text/csv; charset=utf-8", out.data, out.len);
        mq_admin_buf_cleanup(&out);
    } else if (ctx.format == ADM_JSON) {
        if (mq_admin_logs_json(&f, &orders, &events, &out) != MQ_OK)
            mq_admin_send_error(st, req, ADM_JSON, 500, "out_of_memory", "out of memory");
        else
            mq_admin_send_json(st, req, 200, out.data);
        mq_admin_buf_cleanup(&out);
    } else {
        mq_admin_logs_html(&f, &orders, &events, &ctx, &out);
        mq_admin_send_html(st, req, 200, &out);
    }
    mq_admin_rows_cleanup(&orders);
    mq_admin_rows_cleanup(&events);
}

static void on_root(mq_req *req, void *ud)
{
    adm_state *st = ud;
    adm_ctx ctx;
    if (!mq_admin_gate(st, req, &ctx))
        return;
    mq_admin_security_headers(st, req);
    st->api->resp_header(req, "Location", "/admin/status");
    st->api->resp_send(req, 303, "text/plain; charset=utf-8", "", 0);
}

static void on_login_page(mq_req *req, void *ud)
{
    mq_admin_login_page(ud, req);
}

static void on_login(mq_req *req, void *ud)
{
    mq_admin_login(ud, req);
}

typedef void (*action_fn)(adm_state *st, mq_req *req, const adm_ctx *ctx);

static void serve_action(mq_req *req, adm_state *st, action_fn fn)
{
    adm_ctx ctx;
    if (mq_admin_gate(st, req, &ctx))
        fn(st, req, &ctx);
}

static void logout(adm_state *st, mq_req *req, const adm_ctx *ctx)
{
    size_t len = 0;
    const char *body = st->api->req_body(req, &len);
    adm_form form;
    if (mq_admin_form_parse(&form, body ? body : "", body ? len : 0) != MQ_OK) {
        mq_admin_send_error(st, req, ctx->format, 500, "out_of_memory", "out of memory");
        return;
    }
    if (mq_admin_post_allowed(st, req, ctx, &form))
        mq_admin_logout(st, req, ctx);
    mq_admin_form_cleanup(&form);
}

static void on_logout(mq_req *req, void *ud)
{
    serve_action(req, ud, logout);
}
static void on_refund(mq_req *req, void *ud)
{
    serve_action(req, ud, mq_admin_action_refund);
}
static void on_coupon_create(mq_req *req, void *ud)
{
    serve_action(req, ud, mq_admin_action_coupon_create);
}
static void on_coupon_disable(mq_req *req, void *ud)
{
    serve_action(req, ud, mq_admin_action_coupon_disable);
}
static void on_backup(mq_req *req, void *ud)
{
    serve_action(req, ud, mq_admin_action_backup);
}
static void on_restore_check(mq_req *req, void *ud)
{
    serve_action(req, ud, mq_admin_action_restore_check);
}

/* Unknown /admin paths: the same gate first, so an address outside the
 * allowlist or a client without the password learns nothing about them. */
static void on_unknown(mq_req *req, void *ud)
{
    adm_state *st = ud;
    adm_ctx ctx;
    if (mq_admin_gate(st, req, &ctx))
        mq_admin_send_error(st, req, ctx.format, 404, "not_found",
                            "그런 관리자 페이지가 없습니다.");
}

/* ---- tables --------------------------------------------------------------------------------- */

static const struct {
    const char *method;
    const char *pattern;
    mq_handler_fn fn;
} routes[] = {
    {"GET", "/admin", on_root},
    {"GET", "/admin/login", on_login_page},
    {"POST", "/admin/login", on_login},
    {"POST", "/admin/logout", on_logout},
    {"GET", "/admin/status", on_status},
    {"GET", "/admin/logs", on_logs},
    {"GET", "/admin/files", on_files},
    {"GET", "/admin/coupons", on_coupons},
    {"POST", "/admin/actions/refund", on_refund},
    {"POST", "/admin/actions/coupon-create", on_coupon_create},
    {"POST", "/admin/actions/coupon-disable", on_coupon_disable},
    {"POST", "/admin/actions/backup", on_backup},
    {"POST", "/admin/actions/restore-check", on_restore_check},
    {"GET", "/admin/*rest", on_unknown},
    {"POST", "/admin/*rest", on_unknown},
};

/* ---- init and fini -------------------------------------------------------------------------- */

static const char *config_get(void *ud, const char *key)
{
    adm_state *st = ud;
    return st->api->config_get(st->self, key);
}

static int cidrs_valid(void *ud, const char *list)
{
    adm_state *st = ud;
    return st->api->ip_in_cidrs(st->self, list, "127.0.0.1") >= 0;
}

static void admin_fini(void *state)
{
    adm_state *st = state;
    if (!st)
        return;
    mq_admin_config_cleanup(&st->cfg);
    explicit_bzero(st->gen_key, sizeof st->gen_key);
    free(st);
}

static int admin_init(const mq_api *api, mq_plugin *self, void **state)
{
    if (api->abi_major != MQ_ABI_MAJOR ||
        api->size < offsetof(mq_api, ip_in_cidrs) + sizeof api->ip_in_cidrs)
        return MQ_EABI; /* needs host_status_json, backup_now, ip_in_cidrs of ABI 1.5 */
    adm_state *st = calloc(1, sizeof *st);
    if (!st)
        return MQ_ENOMEM;
    st->api = api;
    st->self = self;
    st->now_ms = mq_admin_now_ms;
    int rc = mq_admin_config_load(&st->cfg, config_get, cidrs_valid, st);
    if (rc != MQ_OK) {
        free(st);
        return rc;
    }
    if ((rc = mq_admin_metrics_init(st)) != MQ_OK)
        goto fail;
    for (const char *w = st->cfg.warnings; *w;) {
        const char *nl = strchr(w, '\n');
        int n = nl ? (int)(nl - w) : (int)strlen(w);
        api->log(self, MQ_LOG_WARN, "%.*s", n, w);
        w += n + (nl ? 1 : 0);
    }
    if (!st->cfg.pass) {
        api->log(self, MQ_LOG_INFO,
                 "admin is off: ADMIN_PASS is not set (every /admin path is 404)");
        *state = st;
        return MQ_OK;
    }
    if ((rc = api->random_hex(st->gen_key, 32)) != MQ_OK)
        goto fail;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((rc = api->route_add(self, routes[i].method, routes[i].pattern, routes[i].fn, st)) !=
            MQ_OK) {
            api->log(self, MQ_LOG_ERROR, "add route %s \"%s\" failed: %s", routes[i].method,
                     routes[i].pattern, api->strerror(rc));
            goto fail;
        }
    api->log(self, MQ_LOG_INFO, "admin is on%s%s%s, lockout %ld s",
             st->cfg.allow_cidrs ? " for " : " from any address",
             st->cfg.allow_cidrs ? st->cfg.allow_cidrs : "",
             st->cfg.cidrs_invalid ? " (invalid: refusing all)" : "", st->cfg.lockout_s);
    *state = st;
    return MQ_OK;
fail:
    admin_fini(st);
    return rc;
}

/* clang-format off */
MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER,
    .name = "admin",
    .version = "1.0.0",
    .init = admin_init,
    .fini = admin_fini,
    .summary = "operator views (logs, files, status) and incident actions",
};
/* clang-format on */
