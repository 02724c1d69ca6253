/*
 * kakao.c -- KakaoPay online single payment: ready, approve, cancel, order,
 * on both hosts (pg-apis.md section 1):
 *
 *   current  POST /online/v1/payment/{op}   JSON body
 *            Authorization: SECRET_KEY {secret}   (or DEV_SECRET_KEY {secret}
 *            when the secret is a dev key, i.e. starts with "DEV")
 *            errors {"error_code":..,"error_message":..,"extras":{..}}
 *   legacy   POST /v1/payment/{op}          form body (UTF-8)
 *            Authorization: KakaoAK {app admin key}
 *            errors {"code":..,"msg":..,"extras":{..}}
 *
 * A tid belongs to the host that issued it. Field names, types and the
 * answers are the same on both.
 *
 * States (pg-apis.md section 3): READY -> OPEN_PAYMENT (approval page shown)
 * -> AUTH_PASSWORD (user approved; pg_token issued) -> SUCCESS_PAYMENT ->
 * PART_CANCEL_PAYMENT / CANCEL_PAYMENT. User cancel -> QUIT_PAYMENT; failed
 * user auth -> FAIL_AUTH_PASSWORD; a declined approve -> FAIL_PAYMENT; the
 * payment window passing before approve -> QUIT_PAYMENT.
 *
 * Error codes: only the two pg-apis.md trusts, -401 (bad key, HTTP 401) and
 * -780 (every business or request failure, HTTP 400). Why a call failed is
 * in extras.method_result_code / method_result_message; those reason codes
 * (INVALID_PARAMETER, PG_TOKEN_USED, ...) are the simulator's own, so a
 * client must not depend on them. Injected 5xx answers carry -1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgsim.h"

#define AMOUNT_MAX 999999999999LL

/* ---- replies ------------------------------------------------------------------- */

static json_object *error_body(int legacy, int code, const char *mcode, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, legacy ? "code" : "error_code", json_object_new_int(code));
    json_object_object_add(o, legacy ? "msg" : "error_message", json_object_new_string(msg));
    json_object *extras = json_object_new_object();
    if (mcode) {
        json_object_object_add(extras, "method_result_code", json_object_new_string(mcode));
        json_object_object_add(extras, "method_result_message", json_object_new_string(msg));
    }
    json_object_object_add(o, "extras", extras);
    return o;
}

static void k_err(struct pgsim_req *r, int legacy, int status, int code, const char *mcode,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void k_err(struct pgsim_req *r, int legacy, int status, int code, const char *mcode,
                  const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pgsim_reply_json(r, status, error_body(legacy, code, mcode, msg));
}

/* A business or request failure: HTTP 400, -780. */
#define K_FAIL(r, legacy, mcode, ...) k_err((r), (legacy), 400, -780, (mcode), __VA_ARGS__)

void pgsim_kakao_fault_reply(struct pgsim_req *r, int legacy, const struct pgsim_fault_error *e)
{
    if (e->business) {
        K_FAIL(r, legacy, e->code[0] ? e->code : "SIM_DECLINED", "approval failure! (simulated)");
        return;
    }
    k_err(r, legacy, e->status, -1, NULL, "internal server error (simulated by mq-pgsim)");
}

/* The gateway's own rejection at the point the call would take effect. */
static int business_fault(struct pgsim_req *r, int legacy, const char *what)
{
    struct pgsim_fault_error buf;
    const struct pgsim_fault_error *e = pgsim_fault_business(r->sim, r->op, &buf);
    if (!e)
        return 0;
    r->note = "business";
    pgsim_stats_fault(r->sim, r->op, "business");
    K_FAIL(r, legacy, e->code[0] ? e->code : "SIM_DECLINED", "%s (simulated)", what);
    return 1;
}

/* ---- amounts and times --------------------------------------------------------- */

static json_object *amount_obj(int64_t total, int64_t tax_free, int64_t vat, int64_t point,
                               int64_t discount, int64_t green)
{
    json_object *a = json_object_new_object();
    pgsim_rec_set_i64(a, "total", total);
    pgsim_rec_set_i64(a, "tax_free", tax_free);
    pgsim_rec_set_i64(a, "vat", vat);
    pgsim_rec_set_i64(a, "point", point);
    pgsim_rec_set_i64(a, "discount", discount);
    pgsim_rec_set_i64(a, "green_deposit", green);
    return a;
}

static int64_t amt(json_object *rec, const char *which, const char *field)
{
    return pgsim_rec_i64(pgsim_rec_get(rec, which), field);
}

/* What is left to cancel, per component. */
static json_object *remaining_obj(json_object *rec)
{
    static const char *const f[] = {"total", "tax_free", "vat",
                                    "point", "discount", "green_deposit"};
    json_object *a = json_object_new_object();
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        pgsim_rec_set_i64(a, f[i], amt(rec, "amount", f[i]) - amt(rec, "canceled", f[i]));
    return a;
}

/* round(x / 11) for x >= 0: KakaoPay's default VAT. */
static int64_t vat_of(int64_t x)
{
    return (2 * x + 11) / 22;
}

static void add_time(json_object *o, const char *key, int64_t t)
{
    char buf[32];
    pgsim_fmt_kst(t, "%Y-%m-%dT%H:%M:%S", buf, sizeof buf);
    json_object_object_add(o, key, json_object_new_string(buf));
}

static void copy_field(json_object *dst, json_object *rec, const char *key)
{
    json_object *v = pgsim_rec_get(rec, key);
    if (v)
        json_object_object_add(dst, key, json_object_get(v));
}

static int is_status(json_object *rec, const char *s)
{
    const char *st = pgsim_rec_str(rec, "status");
    return st && strcmp(st, s) == 0;
}

static int is_approved(json_object *rec)
{
    return is_status(rec, "SUCCESS_PAYMENT") || is_status(rec, "PART_CANCEL_PAYMENT") ||
           is_status(rec, "CANCEL_PAYMENT");
}

int pgsim_kakao_expire(struct pgsim *sim, json_object *rec)
{
    const char *d = pgsim_rec_str(rec, "decision");
    if (d && strcmp(d, "expired") == 0)
        return 1;
    if (!(is_status(rec, "READY") || is_status(rec, "OPEN_PAYMENT") ||
          is_status(rec, "AUTH_PASSWORD")))
        return 0;
    if (pgsim_now(sim) <= pgsim_rec_i64(rec, "expires_at"))
        return 0;
    pgsim_rec_set_str(rec, "status", "QUIT_PAYMENT");
    pgsim_rec_set_str(rec, "decision", "expired");
    pgsim_store_dirty(sim);
    return 1;
}

/* ---- common request handling --------------------------------------------------- */

static int auth_ok(struct pgsim_req *r, int legacy)
{
    const struct pgsim_cfg *c = &r->sim->cfg;
    const char *h = pgsim_header(r, "Authorization");
    if (!h)
        return 0;
    if (legacy)
        return strncmp(h, "KakaoAK ", 8) == 0 && pgsim_secret_eq(h + 8, c->kakao_admin_key);
    if (strncmp(h, "SECRET_KEY ", 11) == 0)
        return pgsim_secret_eq(h + 11, c->kakao_secret);
    /* Clients send DEV_SECRET_KEY with dev keys (pg-apis.md); only those. */
    if (strncmp(h, "DEV_SECRET_KEY ", 15) == 0)
        return strncmp(c->kakao_secret, "DEV", 3) == 0 && pgsim_secret_eq(h + 15, c->kakao_secret);
    return 0;
}

/* The payment a call names, checked against the call's host and cid; NULL
 * when answered with an error. */
static json_object *lookup(struct pgsim_req *r, int legacy, const char *tid, const char *cid)
{
    json_object *rec = pgsim_rec_get(pgsim_store_table(r->sim, "kakao"), tid);
    const char *host = pgsim_rec_str(rec, "host");
    if (!rec || !host || strcmp(host, legacy ? "legacy" : "current") != 0) {
        K_FAIL(r, legacy, "INVALID_TID", "tid %s is not a payment of this host", tid);
        return NULL;
    }
    if (strcmp(cid, pgsim_rec_str(rec, "cid")) != 0) {
        K_FAIL(r, legacy, "INVALID_CID", "cid %s does not match the payment's cid", cid);
        return NULL;
    }
    pgsim_kakao_expire(r->sim, rec);
    return rec;
}

static void invalid(struct pgsim_req *r, int legacy, const struct pgsim_pv *p)
{
    K_FAIL(r, legacy, "INVALID_PARAMETER", "invalid request: %s", p->err);
}

static void check_cid(struct pgsim_pv *p, const char *cid)
{
    if (cid && strlen(cid) != 10)
        pgsim_pv_fail(p, "cid must be 10 characters, got \"%s\"", cid);
}

static void add_action(json_object *rec, const char *aid, const char *type, int64_t at,
                       int64_t amount, int64_t green, const char *payload)
{
    json_object *a = json_object_new_object();
    pgsim_rec_set_str(a, "aid", aid);
    pgsim_rec_set_str(a, "payment_action_type", type);
    pgsim_rec_set_i64(a, "at", at);
    pgsim_rec_set_i64(a, "amount", amount);
    pgsim_rec_set_i64(a, "green_deposit", green);
    if (payload)
        pgsim_rec_set_str(a, "payload", payload);
    json_object_array_add(pgsim_rec_get(rec, "actions"), a);
}

/* ---- ready --------------------------------------------------------------------- */

static void ready(struct pgsim_req *r, int legacy)
{
    struct pgsim *sim = r->sim;
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, legacy);
    const char *cid = NULL, *cid_secret = NULL, *poid = NULL, *puid = NULL, *item = NULL;
    const char *icode = NULL, *aurl = NULL, *curl = NULL, *furl = NULL, *pmt = NULL;
    const char *share = NULL;
    int64_t qty = 0, total = 0, tax_free = 0, vat = -1, green = 0, inst = -1;
    json_object *cards = NULL, *cards_own = NULL, *custom = NULL, *custom_own = NULL;

    pgsim_pv_str(&p, "cid", PV_REQ, 10, &cid);
    check_cid(&p, cid);
    pgsim_pv_str(&p, "cid_secret", PV_OPT, 24, &cid_secret);
    pgsim_pv_str(&p, "partner_order_id", PV_REQ, 100, &poid);
    pgsim_pv_str(&p, "partner_user_id", PV_REQ, 100, &puid);
    pgsim_pv_str(&p, "item_name", PV_REQ, 100, &item);
    pgsim_pv_str(&p, "item_code", PV_OPT, 100, &icode);
    pgsim_pv_i64(&p, "quantity", PV_REQ, 1, AMOUNT_MAX, &qty);
    pgsim_pv_i64(&p, "total_amount", PV_REQ, 1, AMOUNT_MAX, &total);
    pgsim_pv_i64(&p, "tax_free_amount", PV_REQ, 0, AMOUNT_MAX, &tax_free);
    pgsim_pv_i64(&p, "vat_amount", PV_OPT, 0, AMOUNT_MAX, &vat);
    pgsim_pv_i64(&p, "green_deposit", PV_OPT, 0, AMOUNT_MAX, &green);
    pgsim_pv_str(&p, "approval_url", PV_REQ, 255, &aurl);
    pgsim_pv_str(&p, "cancel_url", PV_REQ, 255, &curl);
    pgsim_pv_str(&p, "fail_url", PV_REQ, 255, &furl);
    pgsim_pv_json(&p, "available_cards", PV_OPT, json_type_array, &cards, &cards_own);
    pgsim_pv_str(&p, "payment_method_type", PV_OPT, 0, &pmt);
    pgsim_pv_i64(&p, "install_month", PV_OPT, 0, 12, &inst);
    pgsim_pv_str(&p, "use_share_installment", PV_OPT, 0, &share);
    pgsim_pv_json(&p, "custom_json", PV_OPT, json_type_object, &custom, &custom_own);
    if (!p.err[0]) {
        if (tax_free > total)
            pgsim_pv_fail(&p, "tax_free_amount (%lld) exceeds total_amount (%lld)",
                          (long long)tax_free, (long long)total);
        else if (vat > total - tax_free)
            pgsim_pv_fail(&p, "vat_amount (%lld) exceeds the taxable amount (%lld)", (long long)vat,
                          (long long)(total - tax_free));
        const char *urls[][2] = {{"approval_url", aurl}, {"cancel_url", curl}, {"fail_url", furl}};
        for (int i = 0; i < 3; i++)
            if (!pgsim_is_http_url(urls[i][1]))
                pgsim_pv_fail(&p, "%s must be an absolute http(s) URL", urls[i][0]);
        if (pmt && strcmp(pmt, "CARD") != 0 && strcmp(pmt, "MONEY") != 0)
            pgsim_pv_fail(&p, "payment_method_type must be CARD or MONEY");
        if (share && strcmp(share, "Y") != 0 && strcmp(share, "N") != 0)
            pgsim_pv_fail(&p, "use_share_installment must be Y or N");
        for (size_t i = 0; cards && i < json_object_array_length(cards); i++)
            if (!json_object_is_type(json_object_array_get_idx(cards, i), json_type_string))
                pgsim_pv_fail(&p, "available_cards must be an array of strings");
    }
    if (p.err[0] || business_fault(r, legacy, "ready failure")) {
        if (p.err[0])
            invalid(r, legacy, &p);
        json_object_put(cards_own);
        json_object_put(custom_own);
        return;
    }

    char tid[21];
    pgsim_new_kakao_id(sim, 'T', tid);
    int64_t now = pgsim_now(sim);
    if (vat < 0)
        vat = vat_of(total - tax_free);
    json_object *rec = json_object_new_object();
    pgsim_rec_set_str(rec, "tid", tid);
    pgsim_rec_set_str(rec, "cid", cid);
    pgsim_rec_set_str(rec, "host", legacy ? "legacy" : "current");
    pgsim_rec_set_str(rec, "status", "READY");
    pgsim_rec_set_str(rec, "partner_order_id", poid);
    pgsim_rec_set_str(rec, "partner_user_id", puid);
    pgsim_rec_set_str(rec, "item_name", item);
    if (icode)
        pgsim_rec_set_str(rec, "item_code", icode);
    pgsim_rec_set_i64(rec, "quantity", qty);
    json_object_object_add(rec, "amount", amount_obj(total, tax_free, vat, 0, 0, green));
    json_object_object_add(rec, "canceled", amount_obj(0, 0, 0, 0, 0, 0));
    pgsim_rec_set_str(rec, "approval_url", aurl);
    pgsim_rec_set_str(rec, "cancel_url", curl);
    pgsim_rec_set_str(rec, "fail_url", furl);
    if (pmt)
        pgsim_rec_set_str(rec, "requested_payment_method_type", pmt);
    if (inst >= 0)
        pgsim_rec_set_i64(rec, "install_month", inst);
    if (cards)
        json_object_object_add(rec, "available_cards",
                               cards_own ? json_object_get(cards_own) : json_object_get(cards));
    if (custom)
        json_object_object_add(rec, "custom_json",
                               custom_own ? json_object_get(custom_own) : json_object_get(custom));
    pgsim_rec_set_i64(rec, "created_at", now);
    pgsim_rec_set_i64(rec, "expires_at", now + sim->cfg.kakao_window_s);
    json_object_object_add(rec, "pg_token_used", json_object_new_boolean(0));
    pgsim_rec_set_i64(rec, "approvals", 0);
    json_object_object_add(rec, "actions", json_object_new_array());
    json_object_object_add(pgsim_store_table(sim, "kakao"), tid, rec);
    json_object_put(cards_own);
    json_object_put(custom_own);
    pgsim_store_dirty(sim);

    char page[512], url[600];
    snprintf(page, sizeof page, "%s/sim/kakao/%s", sim->public_base, tid);
    json_object *o = json_object_new_object();
    pgsim_rec_set_str(o, "tid", tid);
    json_object_object_add(o, "tms_result", json_object_new_boolean(0));
    add_time(o, "created_at", now);
    pgsim_rec_set_str(o, "next_redirect_pc_url", page);
    snprintf(url, sizeof url, "%s?ui=mobile", page);
    pgsim_rec_set_str(o, "next_redirect_mobile_url", url);
    snprintf(url, sizeof url, "%s?ui=app", page);
    pgsim_rec_set_str(o, "next_redirect_app_url", url);
    snprintf(url, sizeof url, "kakaotalk://kakaopay/pg?url=%s?ui=app", page);
    pgsim_rec_set_str(o, "android_app_scheme", url);
    pgsim_rec_set_str(o, "ios_app_scheme", url);
    r->committed = 1;
    pgsim_reply_json(r, 200, o);
}

/* ---- approve ------------------------------------------------------------------- */

static json_object *card_info(json_object *rec)
{
    char inst[8];
    snprintf(inst, sizeof inst, "%02lld", (long long)pgsim_rec_i64(rec, "install_month"));
    json_object *c = json_object_new_object();
    pgsim_rec_set_str(c, "kakaopay_purchase_corp", "비씨카드");
    pgsim_rec_set_str(c, "kakaopay_purchase_corp_code", "104");
    pgsim_rec_set_str(c, "kakaopay_issuer_corp", "비씨카드");
    pgsim_rec_set_str(c, "kakaopay_issuer_corp_code", "104");
    pgsim_rec_set_str(c, "bin", "123456");
    pgsim_rec_set_str(c, "card_type", "신용");
    pgsim_rec_set_str(c, "install_month", inst);
    pgsim_rec_set_str(c, "approved_id", pgsim_rec_str(rec, "card_approved_id"));
    pgsim_rec_set_str(c, "card_mid", "123456789");
    pgsim_rec_set_str(c, "interest_free_install", "N");
    pgsim_rec_set_str(c, "card_item_code", "");
    pgsim_rec_set_str(c, "purchase_corp", "비씨카드");
    pgsim_rec_set_str(c, "purchase_corp_code", "01");
    pgsim_rec_set_str(c, "issuer_corp", "비씨카드");
    pgsim_rec_set_str(c, "issuer_corp_code", "01");
    return c;
}

static int is_card(json_object *rec)
{
    const char *m = pgsim_rec_str(rec, "payment_method_type");
    return m && strcmp(m, "CARD") == 0;
}

static void approve(struct pgsim_req *r, int legacy)
{
    struct pgsim *sim = r->sim;
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, legacy);
    const char *cid = NULL, *cid_secret = NULL, *tid = NULL, *poid = NULL, *puid = NULL;
    const char *token = NULL, *payload = NULL;
    int64_t total = -1;
    pgsim_pv_str(&p, "cid", PV_REQ, 10, &cid);
    check_cid(&p, cid);
    pgsim_pv_str(&p, "cid_secret", PV_OPT, 24, &cid_secret);
    pgsim_pv_str(&p, "tid", PV_REQ, 20, &tid);
    pgsim_pv_str(&p, "partner_order_id", PV_REQ, 100, &poid);
    pgsim_pv_str(&p, "partner_user_id", PV_REQ, 100, &puid);
    pgsim_pv_str(&p, "pg_token", PV_REQ, 0, &token);
    pgsim_pv_str(&p, "payload", PV_OPT, 200, &payload);
    pgsim_pv_i64(&p, "total_amount", PV_OPT, 1, AMOUNT_MAX, &total);
    if (p.err[0]) {
        invalid(r, legacy, &p);
        return;
    }
    json_object *rec = lookup(r, legacy, tid, cid);
    if (!rec)
        return;
    const char *status = pgsim_rec_str(rec, "status");
    if (is_approved(rec)) {
        K_FAIL(r, legacy, "ALREADY_APPROVED", "payment %s is already approved (%s)", tid, status);
        return;
    }
    if (pgsim_kakao_expire(sim, rec)) {
        K_FAIL(r, legacy, "PAYMENT_EXPIRED",
               "the payment window of %s has passed (status QUIT_PAYMENT)", tid);
        return;
    }
    if (!is_status(rec, "AUTH_PASSWORD")) {
        K_FAIL(r, legacy,
               is_status(rec, "READY") || is_status(rec, "OPEN_PAYMENT") ? "NOT_AUTHORIZED"
                                                                         : "INVALID_STATUS",
               "payment %s cannot be approved in status %s", tid, status);
        return;
    }
    const char *owner = pgsim_rec_str(pgsim_store_table(sim, "kakao_tokens"), token);
    if (!owner) {
        K_FAIL(r, legacy, "INVALID_PG_TOKEN", "pg_token is not valid");
        return;
    }
    if (strcmp(owner, tid) != 0) {
        K_FAIL(r, legacy, "INVALID_PG_TOKEN", "pg_token was not issued for tid %s", tid);
        return;
    }
    if (json_object_get_boolean(pgsim_rec_get(rec, "pg_token_used"))) {
        K_FAIL(r, legacy, "PG_TOKEN_USED", "pg_token has already been used");
        return;
    }
    if (strcmp(poid, pgsim_rec_str(rec, "partner_order_id")) != 0 ||
        strcmp(puid, pgsim_rec_str(rec, "partner_user_id")) != 0) {
        K_FAIL(r, legacy, "PARTNER_MISMATCH",
               "partner_order_id / partner_user_id differ from the ready call");
        return;
    }
    if (total >= 0 && total != amt(rec, "amount", "total")) {
        K_FAIL(r, legacy, "AMOUNT_MISMATCH", "total_amount %lld differs from the ready call's %lld",
               (long long)total, (long long)amt(rec, "amount", "total"));
        return;
    }

    struct pgsim_fault_error buf;
    const struct pgsim_fault_error *fe = pgsim_fault_business(sim, r->op, &buf);
    if (fe) {
        /* Declined: the token is spent and the payment failed for good. */
        json_object_object_add(rec, "pg_token_used", json_object_new_boolean(1));
        pgsim_rec_set_str(rec, "status", "FAIL_PAYMENT");
        pgsim_store_dirty(sim);
        r->note = "business";
        pgsim_stats_fault(sim, r->op, "business");
        K_FAIL(r, legacy, fe->code[0] ? fe->code : "SIM_DECLINED", "approval failure! (simulated)");
        return;
    }

    int64_t now = pgsim_now(sim);
    char aid[21], approved_id[9];
    pgsim_new_kakao_id(sim, 'A', aid);
    pgsim_random_hex(approved_id, 8);
    json_object_object_add(rec, "pg_token_used", json_object_new_boolean(1));
    pgsim_rec_set_str(rec, "status", "SUCCESS_PAYMENT");
    pgsim_rec_set_str(rec, "aid", aid);
    pgsim_rec_set_i64(rec, "approved_at", now);
    pgsim_rec_set_i64(rec, "approvals", pgsim_rec_i64(rec, "approvals") + 1);
    if (!pgsim_rec_str(rec, "payment_method_type"))
        pgsim_rec_set_str(rec, "payment_method_type", "CARD");
    if (is_card(rec))
        pgsim_rec_set_str(rec, "card_approved_id", approved_id);
    if (strcmp(cid, "TCSUBSCRIP") == 0 && !pgsim_rec_str(rec, "sid")) {
        char sid[21];
        pgsim_new_kakao_id(sim, 'S', sid);
        pgsim_rec_set_str(rec, "sid", sid);
    }
    if (payload)
        pgsim_rec_set_str(rec, "payload", payload);
    add_action(rec, aid, "PAYMENT", now, amt(rec, "amount", "total"),
               amt(rec, "amount", "green_deposit"), payload);
    pgsim_store_dirty(sim);

    json_object *o = json_object_new_object();
    static const char *const head[] = {
        "aid",   "tid", "cid", "sid", "partner_order_id", "partner_user_id", "payment_method_type",
        "amount"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        copy_field(o, rec, head[i]);
    if (is_card(rec))
        json_object_object_add(o, "card_info", card_info(rec));
    copy_field(o, rec, "item_name");
    copy_field(o, rec, "item_code");
    copy_field(o, rec, "quantity");
    add_time(o, "created_at", pgsim_rec_i64(rec, "created_at"));
    add_time(o, "approved_at", now);
    copy_field(o, rec, "payload");
    r->committed = 1;
    pgsim_reply_json(r, 200, o);
}

/* ---- cancel -------------------------------------------------------------------- */

static void cancel(struct pgsim_req *r, int legacy)
{
    struct pgsim *sim = r->sim;
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, legacy);
    const char *cid = NULL, *cid_secret = NULL, *tid = NULL, *payload = NULL;
    int64_t amount = 0, tax_free = 0, vat = -1, available = -1;
    pgsim_pv_str(&p, "cid", PV_REQ, 10, &cid);
    check_cid(&p, cid);
    pgsim_pv_str(&p, "cid_secret", PV_OPT, 24, &cid_secret);
    pgsim_pv_str(&p, "tid", PV_REQ, 20, &tid);
    pgsim_pv_i64(&p, "cancel_amount", PV_REQ, 1, AMOUNT_MAX, &amount);
    pgsim_pv_i64(&p, "cancel_tax_free_amount", PV_REQ, 0, AMOUNT_MAX, &tax_free);
    pgsim_pv_i64(&p, "cancel_vat_amount", PV_OPT, 0, AMOUNT_MAX, &vat);
    pgsim_pv_i64(&p, "cancel_available_amount", PV_OPT, 0, AMOUNT_MAX, &available);
    pgsim_pv_str(&p, "payload", PV_OPT, 200, &payload);
    if (!p.err[0] && tax_free > amount)
        pgsim_pv_fail(&p, "cancel_tax_free_amount (%lld) exceeds cancel_amount (%lld)",
                      (long long)tax_free, (long long)amount);
    if (!p.err[0] && vat > amount - tax_free)
        pgsim_pv_fail(&p, "cancel_vat_amount (%lld) exceeds the taxable part (%lld)",
                      (long long)vat, (long long)(amount - tax_free));
    if (p.err[0]) {
        invalid(r, legacy, &p);
        return;
    }
    json_object *rec = lookup(r, legacy, tid, cid);
    if (!rec)
        return;
    if (is_status(rec, "CANCEL_PAYMENT")) {
        K_FAIL(r, legacy, "ALREADY_CANCELED", "payment %s is already fully canceled", tid);
        return;
    }
    if (!is_approved(rec)) {
        K_FAIL(r, legacy, "INVALID_STATUS", "payment %s is not approved (status %s)", tid,
               pgsim_rec_str(rec, "status"));
        return;
    }
    json_object *left = remaining_obj(rec);
    int64_t left_total = pgsim_rec_i64(left, "total");
    int64_t left_tf = pgsim_rec_i64(left, "tax_free"), left_vat = pgsim_rec_i64(left, "vat");
    int64_t left_green = pgsim_rec_i64(left, "green_deposit");
    json_object_put(left);
    if (amount > left_total) {
        K_FAIL(r, legacy, "CANCEL_AMOUNT_EXCEEDED",
               "cancel_amount %lld exceeds the cancelable amount %lld", (long long)amount,
               (long long)left_total);
        return;
    }
    if (tax_free > left_tf) {
        K_FAIL(r, legacy, "CANCEL_AMOUNT_EXCEEDED",
               "cancel_tax_free_amount %lld exceeds the cancelable tax-free amount %lld",
               (long long)tax_free, (long long)left_tf);
        return;
    }
    if (available >= 0 && available != left_total) {
        K_FAIL(r, legacy, "CANCEL_AVAILABLE_MISMATCH",
               "cancel_available_amount %lld differs from the cancelable amount %lld",
               (long long)available, (long long)left_total);
        return;
    }
    int full = amount == left_total;
    if (vat < 0) {
        /* Not given: the default, and the exact rest on the last cancel so
         * rounding never leaves (or overdraws) a won of VAT. */
        vat = full ? left_vat : vat_of(amount - tax_free);
        if (vat > left_vat)
            vat = left_vat;
    } else if (vat > left_vat) {
        K_FAIL(r, legacy, "CANCEL_AMOUNT_EXCEEDED",
               "cancel_vat_amount %lld exceeds the cancelable VAT %lld", (long long)vat,
               (long long)left_vat);
        return;
    }
    int64_t green = full ? left_green : 0;
    if (business_fault(r, legacy, "cancel failure"))
        return;

    int64_t now = pgsim_now(sim);
    char aid[21];
    pgsim_new_kakao_id(sim, 'A', aid);
    json_object *c = pgsim_rec_get(rec, "canceled");
    pgsim_rec_set_i64(c, "total", amt(rec, "canceled", "total") + amount);
    pgsim_rec_set_i64(c, "tax_free", amt(rec, "canceled", "tax_free") + tax_free);
    pgsim_rec_set_i64(c, "vat", amt(rec, "canceled", "vat") + vat);
    pgsim_rec_set_i64(c, "green_deposit", amt(rec, "canceled", "green_deposit") + green);
    pgsim_rec_set_str(rec, "status", full ? "CANCEL_PAYMENT" : "PART_CANCEL_PAYMENT");
    pgsim_rec_set_i64(rec, "canceled_at", now);
    add_action(rec, aid, "CANCEL", now, amount, green, payload);
    pgsim_store_dirty(sim);

    json_object *o = json_object_new_object();
    pgsim_rec_set_str(o, "aid", aid);
    static const char *const head[] = {
        "tid",   "cid", "status", "partner_order_id", "partner_user_id", "payment_method_type",
        "amount"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        copy_field(o, rec, head[i]);
    json_object_object_add(o, "approved_cancel_amount",
                           amount_obj(amount, tax_free, vat, 0, 0, green));
    json_object_object_add(o, "canceled_amount", json_object_get(pgsim_rec_get(rec, "canceled")));
    json_object_object_add(o, "cancel_available_amount", remaining_obj(rec));
    copy_field(o, rec, "item_name");
    copy_field(o, rec, "item_code");
    copy_field(o, rec, "quantity");
    add_time(o, "created_at", pgsim_rec_i64(rec, "created_at"));
    add_time(o, "approved_at", pgsim_rec_i64(rec, "approved_at"));
    add_time(o, "canceled_at", now);
    if (payload)
        pgsim_rec_set_str(o, "payload", payload);
    r->committed = 1;
    pgsim_reply_json(r, 200, o);
}

/* ---- order --------------------------------------------------------------------- */

static void order(struct pgsim_req *r, int legacy)
{
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, legacy);
    const char *cid = NULL, *cid_secret = NULL, *tid = NULL;
    pgsim_pv_str(&p, "cid", PV_REQ, 10, &cid);
    check_cid(&p, cid);
    pgsim_pv_str(&p, "cid_secret", PV_OPT, 24, &cid_secret);
    pgsim_pv_str(&p, "tid", PV_REQ, 20, &tid);
    if (p.err[0]) {
        invalid(r, legacy, &p);
        return;
    }
    json_object *rec = lookup(r, legacy, tid, cid);
    if (!rec || business_fault(r, legacy, "order lookup failure"))
        return;
    int approved = is_approved(rec);
    json_object *o = json_object_new_object();
    static const char *const head[] = {"tid", "cid", "status", "partner_order_id",
                                       "partner_user_id"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        copy_field(o, rec, head[i]);
    if (approved)
        copy_field(o, rec, "payment_method_type");
    copy_field(o, rec, "amount");
    json_object_object_add(o, "canceled_amount", json_object_get(pgsim_rec_get(rec, "canceled")));
    json_object_object_add(o, "cancel_available_amount",
                           approved ? remaining_obj(rec) : amount_obj(0, 0, 0, 0, 0, 0));
    copy_field(o, rec, "item_name");
    copy_field(o, rec, "item_code");
    copy_field(o, rec, "quantity");
    add_time(o, "created_at", pgsim_rec_i64(rec, "created_at"));
    if (approved)
        add_time(o, "approved_at", pgsim_rec_i64(rec, "approved_at"));
    if (pgsim_rec_get(rec, "canceled_at"))
        add_time(o, "canceled_at", pgsim_rec_i64(rec, "canceled_at"));
    if (approved && is_card(rec)) {
        json_object *s = json_object_new_object();
        pgsim_rec_set_str(s, "card_bin", "123456");
        pgsim_rec_set_i64(s, "install_month", pgsim_rec_i64(rec, "install_month"));
        pgsim_rec_set_str(s, "card_corp_name", "비씨카드");
        pgsim_rec_set_str(s, "interest_free_install", "N");
        json_object_object_add(o, "selected_card_info", s);
    }
    json_object *details = json_object_new_array();
    json_object *actions = pgsim_rec_get(rec, "actions");
    for (size_t i = 0; i < json_object_array_length(actions); i++) {
        json_object *a = json_object_array_get_idx(actions, i);
        json_object *d = json_object_new_object();
        copy_field(d, a, "aid");
        add_time(d, "approved_at", pgsim_rec_i64(a, "at"));
        copy_field(d, a, "amount");
        pgsim_rec_set_i64(d, "point_amount", 0);
        pgsim_rec_set_i64(d, "discount_amount", 0);
        copy_field(d, a, "green_deposit");
        copy_field(d, a, "payment_action_type");
        copy_field(d, a, "payload");
        json_object_array_add(details, d);
    }
    json_object_object_add(o, "payment_action_details", details);
    r->committed = 1;
    pgsim_reply_json(r, 200, o);
}

/* ---- entry --------------------------------------------------------------------- */

void pgsim_kakao_handle(struct pgsim_req *r, int legacy)
{
    if (!auth_ok(r, legacy)) {
        k_err(r, legacy, 401, -401, NULL,
              legacy ? "unauthorized: Authorization must be \"KakaoAK {app admin key}\""
                     : "unauthorized: Authorization must be \"SECRET_KEY {secret key}\"");
        return;
    }
    const char *type = legacy ? "application/x-www-form-urlencoded" : "application/json";
    if (!pgsim_ctype_is(r, type)) {
        K_FAIL(r, legacy, "INVALID_CONTENT_TYPE", "Content-Type must be %s%s", type,
               legacy ? ";charset=utf-8" : "");
        return;
    }
    if (!r->params) {
        K_FAIL(r, legacy, "INVALID_PARAMETER", "invalid request: %s", r->params_err);
        return;
    }
    switch (r->op->id) {
    case OP_KAKAO_READY: ready(r, legacy); break;
    case OP_KAKAO_APPROVE: approve(r, legacy); break;
    case OP_KAKAO_CANCEL: cancel(r, legacy); break;
    case OP_KAKAO_ORDER: order(r, legacy); break;
    default: K_FAIL(r, legacy, "INVALID_REQUEST", "unknown operation"); break;
    }
}
