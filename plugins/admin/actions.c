/*
 * actions.c -- what an operator can do from /admin (all POST, after the
 * gate and the POST checks of auth.c):
 *
 *   refund           order, reason?   the payments service; the request
 *                                     waits (suspended) for its answer
 *   coupon_create    code, kind, value, total_uses, per_user, valid_from,
 *                    valid_until      the coupons.admin service
 *   coupon_disable   code             the coupons.admin service
 *   backup           -                backup_now (off the loop)
 *   restore_check    name?            restore_check_now (newest backup
 *                                     when no name)
 *
 * Every outcome (done or refused) is one log line, one "admin.<action>"
 * event in the events collection (who: client address and means of
 * login; never a password or token) and one admin_actions_total{action,
 * result} increment. The answer is a small HTML page with a link back, or
 * JSON {"action","ok","message",...} with format=json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adm.h"
#include "coupons_admin.h"
#include "payments_service.h"

static const char *const action_names[] = {"refund", "coupon_create", "coupon_disable",
                                           "backup", "restore_check", NULL};
static const char *const result_names[] = {"ok", "failed", NULL};

/* ---- metrics -------------------------------------------------------------------------------- */

int mq_admin_metrics_init(adm_state *st)
{
    const mq_api *api = st->api;
    static const char *const labels[] = {"action", "result", NULL};
    st->m.login_failures = api->metric_register(
        st->self, MQ_COUNTER, "admin_login_failures_total",
        "Admin requests with a wrong password (query, Bearer, Basic or login form).", NULL, NULL,
        0);
    st->m.actions = api->metric_register(st->self, MQ_COUNTER, "admin_actions_total",
                                         "Admin actions by action and result.", labels, NULL, 0);
    if (!st->m.login_failures || !st->m.actions)
        return MQ_EINVAL;
    api->metric_add(st->m.login_failures, NULL, 0);
    for (const char *const *a = action_names; *a; a++)
        for (const char *const *r = result_names; *r; r++) {
            const char *v[] = {*a, *r};
            api->metric_add(st->m.actions, v, 0);
        }
    return MQ_OK;
}

void mq_admin_count_action(adm_state *st, const char *action, const char *result)
{
    const char *v[] = {action, result};
    st->api->metric_add(st->m.actions, v, 1);
}

/* ---- one action's bookkeeping and answer ---------------------------------------------------- */

/* One action: who asked, how to answer, and what it was about (empty
 * fields are left out of the event and the answer). Plain fields only: a
 * refund's act waits in request memory, which the host frees if it ever
 * has to answer the request itself, so nothing here may need freeing. */
typedef struct act {
    adm_state *st;
    mq_req *req;
    const char *name; /* "refund", ... (static) */
    adm_format format;
    adm_via via;
    char ip[64];
    const char *back; /* where the result page links to */
    char back_buf[128];
    char order[65], provider[33], reason[201], coupon[33], kind[16], backup[101];
    long long amount, value, total_uses;
    int has_amount, has_numbers;
} act;

/* Parse the form and run the POST checks. 0 when already answered. */
static int act_begin(act *a, adm_state *st, mq_req *req, const adm_ctx *ctx, const char *name,
                     adm_form *form)
{
    memset(a, 0, sizeof *a);
    a->st = st;
    a->req = req;
    a->name = name;
    a->via = ctx->via;
    snprintf(a->ip, sizeof a->ip, "%s", ctx->ip);
    size_t len = 0;
    const char *body = st->api->req_body(req, &len);
    if (mq_admin_form_parse(form, body ? body : "", body ? len : 0) != MQ_OK) {
        mq_admin_send_error(st, req, ctx->format, 500, "out_of_memory", "out of memory");
        return 0;
    }
    const char *f = mq_admin_form_get(form, "format");
    adm_ctx c = *ctx;
    if (f && !strcmp(f, "json"))
        c.format = ADM_JSON;
    a->format = c.format;
    if (!mq_admin_post_allowed(st, req, &c, form)) {
        mq_admin_form_cleanup(form);
        return 0;
    }
    return 1;
}

/* Copy s into dst[cap], cut on a UTF-8 character boundary. */
static void copy_text(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > cap - 1) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

/* What the action was about, as JSON fields (caller puts). */
static json_object *act_fields(const act *a)
{
    json_object *o = json_object_new_object();
    const struct {
        const char *key, *value;
    } strs[] = {{"order", a->order}, {"provider", a->provider}, {"coupon", a->coupon},
                {"kind", a->kind},   {"backup", a->backup},     {"reason", a->reason}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i].value[0])
            json_object_object_add(o, strs[i].key, json_object_new_string(strs[i].value));
    if (a->has_amount)
        json_object_object_add(o, "amount", json_object_new_int64(a->amount));
    if (a->has_numbers) {
        json_object_object_add(o, "value", json_object_new_int64(a->value));
        json_object_object_add(o, "total_uses", json_object_new_int64(a->total_uses));
    }
    return o;
}

/* Log, record and count one outcome, then answer. `status` is the HTTP
 * status of the answer; ok decides the result label. */
static void act_finish(act *a, int status, int ok, const char *code, const char *message)
{
    adm_state *st = a->st;
    const mq_api *api = st->api;
    const char *result = ok ? "ok" : "failed";

    char type[48];
    snprintf(type, sizeof type, "admin.%s", a->name);
    json_object *ev = act_fields(a);
    json_object_object_add(ev, "type", json_object_new_string(type));
    json_object_object_add(ev, "result", json_object_new_string(result));
    json_object_object_add(ev, "code", json_object_new_string(code));
    json_object_object_add(ev, "message", json_object_new_string(message));
    json_object_object_add(ev, "via", json_object_new_string(mq_admin_via_name(a->via)));
    json_object_object_add(ev, "ip", json_object_new_string(a->ip));
    const char *text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
    /* Durable, but not bound to the answer: the action happened whether or
     * not its audit record could be written, and the answer must say so. */
    int rc = api->store_append(st->self, NULL, ADM_COLL_EVENTS, "", text, strlen(text),
                               MQ_STORE_DURABLE);
    if (rc != MQ_OK)
        api->log(st->self, MQ_LOG_ERROR, "record event \"%s\" failed: %s", type, api->strerror(rc));
    json_object_put(ev);

    /* One line: what, by whom, on what, how it ended. Free text (the
     * refund reason) stays in the event, out of the log. */
    adm_buf what = {0};
    const struct {
        const char *key, *value;
    } ids[] = {{"order", a->order},
               {"provider", a->provider},
               {"coupon", a->coupon},
               {"backup", a->backup}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].value[0])
            mq_admin_buf_printf(&what, " %s \"%s\"", ids[i].key, ids[i].value);
    api->log(st->self, ok ? MQ_LOG_INFO : MQ_LOG_WARN,
             "admin action \"%s\" by \"%s\" (%s)%s: %s (%s)", a->name, a->ip,
             mq_admin_via_name(a->via), what.data ? what.data : "", result, message);
    mq_admin_buf_cleanup(&what);
    mq_admin_count_action(st, a->name, result);

    if (a->format != ADM_HTML) {
        json_object *o = act_fields(a);
        json_object_object_add(o, "action", json_object_new_string(a->name));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        json_object_object_add(o, "code", json_object_new_string(code));
        json_object_object_add(o, "message", json_object_new_string(message));
        mq_admin_send_json(st, a->req, status,
                           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return;
    }
    adm_buf b = {0};
    mq_admin_page_begin(&b, "관리 작업", "", NULL);
    mq_admin_buf_printf(&b, "<h1>관리 작업: %s</h1><p id=\"result\" class=\"%s\">", a->name,
                        ok ? "ok" : "err");
    mq_admin_buf_html(&b, message);
    mq_admin_buf_puts(&b, "</p><p><a href=\"");
    mq_admin_buf_html(&b, a->back ? a->back : "/admin/status");
    mq_admin_buf_puts(&b, "\">돌아가기</a></p>");
    mq_admin_page_end(&b);
    mq_admin_send_html(st, a->req, status, &b);
}

/* ---- refund --------------------------------------------------------------------------------- */

/* The waiting refund lives in request memory and dies with the request.
 * The payments service calls done exactly once, later, unless the
 * generation is forced out at its drain deadline: then its transfers are
 * cancelled without callbacks and the host answers the request itself. */
static void refund_done(int status, const char *message, void *cb_ud)
{
    act *a = cb_ud;
    if (status == MQ_OK) {
        act_finish(a, 200, 1, "refunded", "환불했습니다 (결제사 취소와 주문 기록 완료).");
        return;
    }
    char text[512];
    snprintf(text, sizeof text, "환불 실패, 주문은 승인 상태로 남았습니다: %s",
             message && *message ? message : a->st->api->strerror(status));
    act_finish(a, 502, 0, "refund_failed", text);
}

/* Provider and amount of an order, for the event's columns. */
static void order_facts(adm_state *st, const char *id, act *a)
{
    size_t len = 0;
    char *rec = st->api->store_get(st->self, ADM_COLL_ORDERS, id, &len);
    json_object *j = rec ? json_tokener_parse(rec) : NULL, *v = NULL;
    if (j && json_object_object_get_ex(j, "provider", &v) &&
        json_object_is_type(v, json_type_string))
        copy_text(a->provider, sizeof a->provider, json_object_get_string(v));
    if (j && json_object_object_get_ex(j, "amount", &v) && json_object_is_type(v, json_type_int)) {
        a->amount = json_object_get_int64(v);
        a->has_amount = 1;
    }
    json_object_put(j);
    free(rec);
}

void mq_admin_action_refund(adm_state *st, mq_req *req, const adm_ctx *ctx)
{
    const mq_api *api = st->api;
    adm_form form;
    act *a = api->req_alloc(req, sizeof *a);
    if (!a) {
        mq_admin_send_error(st, req, ctx->format, 500, "out_of_memory", "out of memory");
        return;
    }
    if (!act_begin(a, st, req, ctx, "refund", &form))
        return;
    const char *order = mq_admin_form_get(&form, "order");
    const char *reason = mq_admin_form_get(&form, "reason");
    if (reason && !*reason)
        reason = NULL;
    if (!mq_admin_is_token(order, 64)) {
        act_finish(a, 400, 0, "invalid_order", "주문 ID가 올바르지 않습니다.");
        mq_admin_form_cleanup(&form);
        return;
    }
    copy_text(a->order, sizeof a->order, order);
    snprintf(a->back_buf, sizeof a->back_buf, "/admin/logs?order=%s", a->order);
    a->back = a->back_buf;
    order_facts(st, a->order, a);
    /* Sent to the gateway (NaverPay takes 256 bytes) and recorded. */
    copy_text(a->reason, sizeof a->reason, reason);
    const char *why = a->reason[0] ? a->reason : NULL;
    mq_admin_form_cleanup(&form);

    void *ud = NULL;
    const mq_payments_service_v1 *pay =
        api->service_lookup(st->self, MQ_PAYMENTS_SERVICE, MQ_PAYMENTS_SERVICE_VERSION, &ud);
    if (!pay) {
        act_finish(a, 503, 0, "payments_unavailable",
                   "결제 플러그인(서비스 payments)이 이 릴리스에 없습니다.");
        return;
    }
    /* Suspend first: however the service answers, the request is ours to
     * finish exactly once (below on a refusal, in refund_done otherwise). */
    api->req_suspend(req);
    int rc = pay->refund(ud, a->order, why, refund_done, a);
    switch (rc) {
    case MQ_OK: return;
    case MQ_ENOENT: act_finish(a, 404, 0, "unknown_order", "그런 주문이 없습니다."); return;
    case MQ_ESTATE:
        act_finish(a, 409, 0, "wrong_state",
                   "승인된 주문만 환불할 수 있습니다 (이미 환불됐거나, 결제되지 않았거나, "
                   "환불이 진행 중입니다).");
        return;
    case MQ_EIO:
        act_finish(a, 503, 0, "gateway_unavailable",
                   "이 주문의 결제사 설정이 없어 환불할 수 없습니다.");
        return;
    case MQ_EINVAL: act_finish(a, 400, 0, "invalid_order", "주문 ID가 올바르지 않습니다."); return;
    default: act_finish(a, 500, 0, "refund_error", api->strerror(rc)); return;
    }
}

/* ---- coupons -------------------------------------------------------------------------------- */

static const mq_coupons_admin_v1 *coupons_service(adm_state *st, void **ud)
{
    return st->api->service_lookup(st->self, MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION,
                                   ud);
}

/* A whole number in [min, max] from a form field; `dflt` when empty. */
static int form_long(const adm_form *f, const char *name, long min, long max, long dflt, long *out)
{
    const char *v = mq_admin_form_get(f, name);
    if (!v || !*v) {
        *out = dflt;
        return dflt >= min ? 0 : -1;
    }
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!end || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

/* A coupon bound: empty = none; a bare date is the start of that Korean
 * day (valid_until: of the day after, so the date itself is included). */
static int form_bound(const adm_form *f, const char *name, int until, int64_t *out)
{
    const char *v = mq_admin_form_get(f, name);
    *out = 0;
    if (!v || !*v)
        return 0;
    int date_only = 0;
    if (mq_admin_parse_time(v, out, &date_only) != 0)
        return -1;
    if (until && date_only)
        *out += 86400 * 1000LL;
    return 0;
}

/* Codes compare case-insensitively; coupons stores them upper-cased, and
 * so do our records. */
static void copy_code(act *a, const char *code)
{
    copy_text(a->coupon, sizeof a->coupon, code);
    for (char *p = a->coupon; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
}

static int coupon_code_ok(const char *code)
{
    if (!code)
        return 0;
    size_t n = strlen(code);
    if (n < 2 || n > 32)
        return 0;
    for (const char *p = code; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

void mq_admin_action_coupon_create(adm_state *st, mq_req *req, const adm_ctx *ctx)
{
    adm_form form;
    act a;
    if (!act_begin(&a, st, req, ctx, "coupon_create", &form))
        return;
    a.back = "/admin/coupons";
    const char *code = mq_admin_form_get(&form, "code");
    const char *kind_s = mq_admin_form_get(&form, "kind");
    long value = 0, total = 0, per_user = 0;
    int64_t from = 0, until = 0;
    int kind = kind_s && !strcmp(kind_s, "percent") ? MQ_COUPON_PERCENT
               : kind_s && !strcmp(kind_s, "fixed") ? MQ_COUPON_FIXED
                                                    : 0;
    if (coupon_code_ok(code))
        copy_code(&a, code);
    const char *bad = NULL;
    if (!coupon_code_ok(code))
        bad = "쿠폰 코드는 영문·숫자·_·- 2~32자여야 합니다.";
    else if (!kind)
        bad = "종류는 percent(정률) 또는 fixed(정액)여야 합니다.";
    else if (form_long(&form, "value", 1, kind == MQ_COUPON_PERCENT ? 100 : 100000000, 0, &value))
        bad = kind == MQ_COUPON_PERCENT ? "정률 할인은 1~100(%)이어야 합니다."
                                        : "정액 할인은 1원 이상이어야 합니다.";
    else if (form_long(&form, "total_uses", 1, 100000000, 0, &total))
        bad = "총 사용 횟수는 1 이상이어야 합니다.";
    else if (form_long(&form, "per_user", 0, 100000000, 0, &per_user))
        bad = "1인당 사용 횟수는 0(제한 없음) 이상이어야 합니다.";
    else if (form_bound(&form, "valid_from", 0, &from) ||
             form_bound(&form, "valid_until", 1, &until))
        bad = "기간은 2026-12-01 같은 날짜(한국 시간)여야 합니다.";
    else if (from && until && from >= until)
        bad = "시작일이 종료일보다 앞서야 합니다.";
    if (bad) {
        act_finish(&a, 400, 0, "invalid_coupon", bad);
        mq_admin_form_cleanup(&form);
        return;
    }
    copy_text(a.kind, sizeof a.kind, kind_s);
    a.value = value;
    a.total_uses = total;
    a.has_numbers = 1;
    void *ud = NULL;
    const mq_coupons_admin_v1 *ca = coupons_service(st, &ud);
    int rc = ca ? ca->create(ud, a.coupon, kind, value, total, per_user, from, until) : MQ_ENOENT;
    mq_admin_form_cleanup(&form);
    if (!ca)
        act_finish(&a, 503, 0, "coupons_unavailable",
                   "쿠폰 플러그인(서비스 coupons.admin)이 이 릴리스에 없습니다.");
    else if (rc == MQ_OK)
        act_finish(&a, 200, 1, "created", "쿠폰을 만들었습니다.");
    else if (rc == MQ_EEXIST)
        act_finish(&a, 409, 0, "coupon_exists",
                   "같은 코드의 쿠폰이 이미 있습니다 (코드는 재사용할 수 "
                   "없습니다).");
    else if (rc == MQ_EINVAL)
        act_finish(&a, 400, 0, "invalid_coupon", "쿠폰 플러그인이 값을 거절했습니다.");
    else
        act_finish(&a, 503, 0, "store_unavailable", "쿠폰을 저장하지 못했습니다.");
}

void mq_admin_action_coupon_disable(adm_state *st, mq_req *req, const adm_ctx *ctx)
{
    adm_form form;
    act a;
    if (!act_begin(&a, st, req, ctx, "coupon_disable", &form))
        return;
    a.back = "/admin/coupons";
    const char *code = mq_admin_form_get(&form, "code");
    if (coupon_code_ok(code))
        copy_code(&a, code);
    if (!coupon_code_ok(code)) {
        act_finish(&a, 400, 0, "invalid_coupon", "쿠폰 코드가 올바르지 않습니다.");
        mq_admin_form_cleanup(&form);
        return;
    }
    void *ud = NULL;
    const mq_coupons_admin_v1 *ca = coupons_service(st, &ud);
    int rc = ca ? ca->disable(ud, a.coupon) : MQ_ENOENT;
    mq_admin_form_cleanup(&form);
    if (!ca)
        act_finish(&a, 503, 0, "coupons_unavailable",
                   "쿠폰 플러그인(서비스 coupons.admin)이 이 릴리스에 없습니다.");
    else if (rc == MQ_OK)
        act_finish(&a, 200, 1, "disabled",
                   "쿠폰을 중지했습니다. 이미 잡힌 홀드는 그대로 끝납니다.");
    else if (rc == MQ_ENOENT)
        act_finish(&a, 404, 0, "unknown_coupon", "그런 쿠폰이 없습니다.");
    else
        act_finish(&a, 503, 0, "store_unavailable", "쿠폰을 저장하지 못했습니다.");
}

/* ---- backup and restore-check ---------------------------------------------------------------- */

void mq_admin_action_backup(adm_state *st, mq_req *req, const adm_ctx *ctx)
{
    adm_form form;
    act a;
    if (!act_begin(&a, st, req, ctx, "backup", &form))
        return;
    mq_admin_form_cleanup(&form);
    a.back = "/admin/files";
    int rc = st->api->backup_now(st->self);
    if (rc == MQ_OK)
        act_finish(&a, 202, 1, "started",
                   "백업을 시작했습니다. 끝나면 파일·백업 페이지에 나타납니다.");
    else
        act_finish(&a, 503, 0, "backup_error", st->api->strerror(rc));
}

/* The newest backup's name into out; 0 when there is one. */
static int newest_backup(adm_state *st, char *out, size_t cap)
{
    char *text = st->api->backups_json(st->self);
    json_object *arr = text ? json_tokener_parse(text) : NULL, *name = NULL;
    int rc = -1;
    if (arr && json_object_is_type(arr, json_type_array) && json_object_array_length(arr) > 0 &&
        json_object_object_get_ex(json_object_array_get_idx(arr, 0), "name", &name)) {
        snprintf(out, cap, "%s", json_object_get_string(name));
        rc = 0;
    }
    json_object_put(arr);
    free(text);
    return rc;
}

void mq_admin_action_restore_check(adm_state *st, mq_req *req, const adm_ctx *ctx)
{
    adm_form form;
    act a;
    if (!act_begin(&a, st, req, ctx, "restore_check", &form))
        return;
    a.back = "/admin/files";
    char name[128] = "";
    const char *given = mq_admin_form_get(&form, "name");
    int bad = 0;
    if (given && *given) {
        bad = !mq_admin_is_token(given, 100);
        snprintf(name, sizeof name, "%s", bad ? "" : given);
    }
    mq_admin_form_cleanup(&form);
    if (bad) {
        act_finish(&a, 400, 0, "invalid_backup", "백업 이름이 올바르지 않습니다.");
        return;
    }
    if (!name[0] && newest_backup(st, name, sizeof name) != 0) {
        act_finish(&a, 404, 0, "no_backup", "점검할 백업이 없습니다. 먼저 백업을 만드세요.");
        return;
    }
    copy_text(a.backup, sizeof a.backup, name);
    int rc = st->api->restore_check_now(st->self, name);
    switch (rc) {
    case MQ_OK:
        act_finish(&a, 202, 1, "started",
                   "복원 점검을 시작했습니다. 결과는 파일·백업 페이지의 점검 열에 나타납니다.");
        return;
    case MQ_ENOENT: act_finish(&a, 404, 0, "unknown_backup", "그런 백업이 없습니다."); return;
    case MQ_ESTATE:
        act_finish(&a, 409, 0, "busy",
                   "다른 백업이나 복원 점검이 진행 중입니다. 끝난 뒤 다시 "
                   "시도하세요.");
        return;
    case MQ_EINVAL:
        act_finish(&a, 400, 0, "invalid_backup", "백업 이름이 올바르지 않습니다.");
        return;
    default: act_finish(&a, 500, 0, "restore_check_error", st->api->strerror(rc)); return;
    }
}
