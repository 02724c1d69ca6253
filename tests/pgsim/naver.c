/*
 * naver.c -- NaverPay payments API (pg-apis.md section 2), under
 * /{partnerId}/naverpay/payments/:
 *
 *   v2/reserve                         JSON   -> body.reserveId
 *   v2.2/apply/payment, v2/apply/payment   form paymentId -> body{paymentId, detail}
 *   v1/cancel                          form
 *   v2.2/list/history[/{paymentId}]    JSON
 *
 * Every call needs X-Naver-Client-Id, X-Naver-Client-Secret and
 * X-NaverPay-Chain-Id (HTTP 401 otherwise, as for a wrong partner id).
 * reserve, apply and cancel honour X-NaverPay-Idempotency-Key: the key is
 * echoed, and a repeated key gets HTTP 409 with the first answer replayed.
 *
 * Answers use the envelope {"code","message","body"}. Malformed requests
 * are HTTP 400 with RequireParameter / InvalidParameter; the gateway's
 * business rejections (AlreadyComplete, TimeExpired, OverRemainAmount, ...)
 * are HTTP 200 with their code, as clients must expect.
 *
 * States (pg-apis.md section 3): RESERVED -> AUTHORIZED (user approved on
 * the page; paymentId issued) -> APPROVED (apply; admissionTypeCode 01) ->
 * PARTIAL_CANCELED (04) / CANCELED (03). The page's cancel and fail end in
 * USER_CANCELED and AUTH_FAILED; a declined apply in APPLY_FAILED; the
 * window passing before apply in EXPIRED.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "pgsim.h"

#define AMOUNT_MAX 999999999999LL
#define WINDOW_31_DAYS (31LL * 24 * 3600)

/* ---- replies ------------------------------------------------------------------- */

static void n_reply(struct pgsim_req *r, int status, const char *code, json_object *body,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void n_reply(struct pgsim_req *r, int status, const char *code, json_object *body,
                    const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_object();
    pgsim_rec_set_str(o, "code", code);
    pgsim_rec_set_str(o, "message", msg);
    if (body)
        json_object_object_add(o, "body", body);
    pgsim_reply_json(r, status, o);
}

/* A business rejection: HTTP 200 with the code. */
#define N_FAIL(r, code, ...) n_reply((r), 200, (code), NULL, __VA_ARGS__)

static void invalid(struct pgsim_req *r, const struct pgsim_pv *p)
{
    n_reply(r, 400, p->missing ? "RequireParameter" : "InvalidParameter", NULL, "%s", p->err);
}

void pgsim_naver_fault_reply(struct pgsim_req *r, const struct pgsim_fault_error *e)
{
    if (e->business) {
        N_FAIL(r, e->code[0] ? e->code : "Fail", "simulated failure");
        return;
    }
    n_reply(r, e->status, e->status == 503 ? "MaintenanceOngoing" : "Fail", NULL,
            "internal server error (simulated by mq-pgsim)");
}

/* The gateway's own rejection at the point the call would take effect. */
static const struct pgsim_fault_error *business_fault(struct pgsim_req *r,
                                                      struct pgsim_fault_error *buf)
{
    const struct pgsim_fault_error *e = pgsim_fault_business(r->sim, r->op, buf);
    if (e) {
        r->note = "business";
        pgsim_stats_fault(r->sim, r->op, "business");
    }
    return e;
}

/* ---- records ------------------------------------------------------------------- */

static int in_state(json_object *rec, const char *s)
{
    const char *st = pgsim_rec_str(rec, "state");
    return st && strcmp(st, s) == 0;
}

static int is_approved(json_object *rec)
{
    return in_state(rec, "APPROVED") || in_state(rec, "PARTIAL_CANCELED") ||
           in_state(rec, "CANCELED");
}

int pgsim_naver_expire(struct pgsim *sim, json_object *rec)
{
    if (in_state(rec, "EXPIRED"))
        return 1;
    if (!(in_state(rec, "RESERVED") || in_state(rec, "AUTHORIZED")))
        return 0;
    if (pgsim_now(sim) <= pgsim_rec_i64(rec, "expires_at"))
        return 0;
    pgsim_rec_set_str(rec, "state", "EXPIRED");
    pgsim_store_dirty(sim);
    return 1;
}

static void ymdt(json_object *o, const char *key, int64_t t)
{
    char buf[32];
    pgsim_fmt_kst(t, "%Y%m%d%H%M%S", buf, sizeof buf);
    pgsim_rec_set_str(o, key, buf);
}

static int64_t canceled(json_object *rec, const char *field)
{
    return pgsim_rec_i64(pgsim_rec_get(rec, "canceled"), field);
}

/* The payment record a paymentId names, for this partner; NULL if none. */
static json_object *by_payment_id(struct pgsim *sim, const char *partner, const char *pid)
{
    const char *reserve = pgsim_rec_str(pgsim_store_table(sim, "naver_payment_ids"), pid);
    json_object *rec = reserve ? pgsim_rec_get(pgsim_store_table(sim, "naver"), reserve) : NULL;
    const char *owner = pgsim_rec_str(rec, "partnerId");
    return owner && strcmp(owner, partner) == 0 ? rec : NULL;
}

/* The detail of one admission (approval or cancel), as apply answers it
 * and list/history lists it. */
static json_object *detail(struct pgsim *sim, json_object *rec, json_object *ev)
{
    const char *means = pgsim_rec_str(rec, "primaryPayMeans");
    int card = !means || strcmp(means, "CARD") == 0;
    int64_t amount = pgsim_rec_i64(ev, "totalPayAmount");
    json_object *d = json_object_new_object();
    pgsim_rec_set_str(d, "paymentId", pgsim_rec_str(rec, "paymentId"));
    pgsim_rec_set_str(d, "payHistId", pgsim_rec_str(ev, "payHistId"));
    pgsim_rec_set_str(d, "merchantId", pgsim_rec_str(rec, "partnerId"));
    pgsim_rec_set_str(d, "merchantName", "mq-pgsim 가맹점");
    pgsim_rec_set_str(d, "merchantPayKey", pgsim_rec_str(rec, "merchantPayKey"));
    pgsim_rec_set_str(d, "merchantUserKey",
                      pgsim_rec_str(rec, "merchantUserKey") ? pgsim_rec_str(rec, "merchantUserKey")
                                                            : "");
    pgsim_rec_set_str(d, "productName", pgsim_rec_str(rec, "productName"));
    pgsim_rec_set_str(d, "admissionTypeCode", pgsim_rec_str(ev, "admissionTypeCode"));
    ymdt(d, "admissionYmdt", pgsim_rec_i64(ev, "at"));
    pgsim_rec_set_str(d, "tradeConfirmYmdt", "");
    pgsim_rec_set_str(d, "admissionState", "SUCCESS");
    pgsim_rec_set_i64(d, "totalPayAmount", amount);
    pgsim_rec_set_i64(d, "applyPayAmount", amount);
    pgsim_rec_set_i64(d, "primaryPayAmount", amount);
    pgsim_rec_set_i64(d, "npointPayAmount", 0);
    pgsim_rec_set_i64(d, "giftCardAmount", 0);
    pgsim_rec_set_i64(d, "discountPayAmount", 0);
    pgsim_rec_set_i64(d, "taxScopeAmount", pgsim_rec_i64(ev, "taxScopeAmount"));
    pgsim_rec_set_i64(d, "taxExScopeAmount", pgsim_rec_i64(ev, "taxExScopeAmount"));
    pgsim_rec_set_i64(d, "environmentDepositAmount", pgsim_rec_i64(ev, "environmentDepositAmount"));
    pgsim_rec_set_str(d, "primaryPayMeans", card ? "CARD" : "BANK");
    pgsim_rec_set_str(d, "cardCorpCode", card ? "C0" : "");
    pgsim_rec_set_str(d, "cardNo", card ? "465887******7334" : "");
    pgsim_rec_set_str(d, "cardAuthNo", card ? pgsim_rec_str(rec, "cardAuthNo") : "");
    pgsim_rec_set_i64(d, "cardInstCount", 0);
    json_object_object_add(d, "usedCardPoint", json_object_new_boolean(0));
    pgsim_rec_set_str(d, "bankCorpCode", card ? "" : "004");
    pgsim_rec_set_str(d, "bankAccountNo", card ? "" : "1234******5678");
    pgsim_rec_set_i64(d, "settleExpectAmount", amount);
    pgsim_rec_set_i64(d, "payCommissionAmount", 0);
    json_object_object_add(d, "settleExpected", json_object_new_boolean(0));
    json_object_object_add(d, "extraDeduction", json_object_new_boolean(0));
    pgsim_rec_set_str(d, "useCfmYmdt", "");
    pgsim_rec_set_str(d, "userIdentifier", "sim****");
    (void)sim;
    return d;
}

static json_object *add_event(struct pgsim *sim, json_object *rec, const char *hist,
                              const char *type, int64_t at, int64_t total, int64_t tax,
                              int64_t taxex, int64_t env)
{
    /* A state-wide sequence orders admissions of the same second. */
    int64_t seq = pgsim_rec_i64(sim->state, "next_seq") + 1;
    pgsim_rec_set_i64(sim->state, "next_seq", seq);
    json_object *ev = json_object_new_object();
    pgsim_rec_set_i64(ev, "seq", seq);
    pgsim_rec_set_str(ev, "payHistId", hist);
    pgsim_rec_set_str(ev, "admissionTypeCode", type);
    pgsim_rec_set_i64(ev, "at", at);
    pgsim_rec_set_i64(ev, "totalPayAmount", total);
    pgsim_rec_set_i64(ev, "taxScopeAmount", tax);
    pgsim_rec_set_i64(ev, "taxExScopeAmount", taxex);
    pgsim_rec_set_i64(ev, "environmentDepositAmount", env);
    json_object_array_add(pgsim_rec_get(rec, "events"), ev);
    return ev;
}

/* ---- reserve ------------------------------------------------------------------- */

static int digits(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789") == n;
}

static void check_items(struct pgsim_pv *p, json_object *items)
{
    size_t n = json_object_array_length(items);
    if (n == 0)
        pgsim_pv_fail(p, "productItems must not be empty");
    for (size_t i = 0; i < n && !p->err[0]; i++) {
        json_object *it = json_object_array_get_idx(items, i);
        if (!json_object_is_type(it, json_type_object)) {
            pgsim_pv_fail(p, "productItems[%zu] must be an object", i);
            break;
        }
        struct pgsim_pv q;
        pgsim_pv_init(&q, it, 0);
        const char *s;
        int64_t count;
        pgsim_pv_str(&q, "categoryType", PV_REQ, 0, &s);
        pgsim_pv_str(&q, "categoryId", PV_REQ, 0, &s);
        pgsim_pv_str(&q, "uid", PV_REQ, 0, &s);
        pgsim_pv_str(&q, "name", PV_REQ, 0, &s);
        pgsim_pv_str(&q, "payReferrer", PV_OPT, 0, &s);
        pgsim_pv_i64(&q, "count", PV_REQ, 1, AMOUNT_MAX, &count);
        if (q.err[0]) {
            p->missing = q.missing;
            pgsim_pv_fail(p, "productItems[%zu].%s", i, q.err);
        }
    }
}

static void reserve(struct pgsim_req *r, const char *partner)
{
    struct pgsim *sim = r->sim;
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, 0);
    const char *model = NULL, *pay_key = NULL, *user_key = NULL, *name = NULL, *ret = NULL;
    const char *buyer = NULL, *birthday = NULL;
    int64_t count = 0, total = 0, tax = 0, taxex = 0, env = 0;
    json_object *items = NULL, *own = NULL;
    pgsim_pv_str(&p, "modelVersion", PV_REQ, 0, &model);
    pgsim_pv_str(&p, "merchantPayKey", PV_REQ, 0, &pay_key);
    pgsim_pv_str(&p, "merchantUserKey", PV_OPT, 0, &user_key);
    pgsim_pv_str(&p, "productName", PV_REQ, 0, &name);
    pgsim_pv_i64(&p, "productCount", PV_REQ, 1, AMOUNT_MAX, &count);
    pgsim_pv_i64(&p, "totalPayAmount", PV_REQ, 1, AMOUNT_MAX, &total);
    pgsim_pv_i64(&p, "taxScopeAmount", PV_REQ, 0, AMOUNT_MAX, &tax);
    pgsim_pv_i64(&p, "taxExScopeAmount", PV_REQ, 0, AMOUNT_MAX, &taxex);
    pgsim_pv_i64(&p, "environmentDepositAmount", PV_OPT, 0, AMOUNT_MAX, &env);
    pgsim_pv_str(&p, "returnUrl", PV_REQ, 0, &ret);
    pgsim_pv_str(&p, "purchaserName", PV_OPT, 0, &buyer);
    pgsim_pv_str(&p, "purchaserBirthday", PV_OPT, 0, &birthday);
    pgsim_pv_json(&p, "productItems", PV_REQ, json_type_array, &items, &own);
    if (!p.err[0] && strcmp(model, "2") != 0)
        pgsim_pv_fail(&p, "modelVersion must be \"2\"");
    if (!p.err[0] && tax + taxex + env != total)
        pgsim_pv_fail(&p,
                      "taxScopeAmount + taxExScopeAmount + environmentDepositAmount (%lld) must "
                      "equal totalPayAmount (%lld)",
                      (long long)(tax + taxex + env), (long long)total);
    if (!p.err[0] && !pgsim_is_http_url(ret))
        pgsim_pv_fail(&p, "returnUrl must be an absolute http(s) URL");
    if (!p.err[0] && birthday && !digits(birthday, 8))
        pgsim_pv_fail(&p, "purchaserBirthday must be yyyymmdd");
    if (!p.err[0])
        check_items(&p, items);
    if (p.err[0]) {
        invalid(r, &p);
        return;
    }
    struct pgsim_fault_error buf;
    const struct pgsim_fault_error *fe = business_fault(r, &buf);
    if (fe) {
        N_FAIL(r, fe->code[0] ? fe->code : "Fail", "reserve failed (simulated)");
        return;
    }

    char id[21];
    pgsim_new_naver_id(sim, "NR", id);
    int64_t now = pgsim_now(sim);
    json_object *rec = json_object_new_object();
    pgsim_rec_set_str(rec, "reserveId", id);
    pgsim_rec_set_str(rec, "partnerId", partner);
    pgsim_rec_set_str(rec, "state", "RESERVED");
    pgsim_rec_set_str(rec, "merchantPayKey", pay_key);
    if (user_key)
        pgsim_rec_set_str(rec, "merchantUserKey", user_key);
    pgsim_rec_set_str(rec, "productName", name);
    pgsim_rec_set_i64(rec, "productCount", count);
    pgsim_rec_set_i64(rec, "totalPayAmount", total);
    pgsim_rec_set_i64(rec, "taxScopeAmount", tax);
    pgsim_rec_set_i64(rec, "taxExScopeAmount", taxex);
    pgsim_rec_set_i64(rec, "environmentDepositAmount", env);
    pgsim_rec_set_str(rec, "returnUrl", ret);
    if (buyer)
        pgsim_rec_set_str(rec, "purchaserName", buyer);
    if (birthday)
        pgsim_rec_set_str(rec, "purchaserBirthday", birthday);
    json_object_object_add(rec, "productItems", json_object_get(items));
    pgsim_rec_set_i64(rec, "created_at", now);
    pgsim_rec_set_i64(rec, "expires_at", now + sim->cfg.naver_window_s);
    json_object *c = json_object_new_object();
    pgsim_rec_set_i64(c, "total", 0);
    pgsim_rec_set_i64(c, "taxScope", 0);
    pgsim_rec_set_i64(c, "taxExScope", 0);
    pgsim_rec_set_i64(c, "environmentDeposit", 0);
    json_object_object_add(rec, "canceled", c);
    json_object_object_add(rec, "events", json_object_new_array());
    pgsim_rec_set_i64(rec, "approvals", 0);
    json_object_object_add(pgsim_store_table(sim, "naver"), id, rec);
    json_object_put(own);
    pgsim_store_dirty(sim);

    json_object *body = json_object_new_object();
    pgsim_rec_set_str(body, "reserveId", id);
    r->committed = 1;
    n_reply(r, 200, "Success", body, "detail message");
}

/* ---- apply --------------------------------------------------------------------- */

static void apply(struct pgsim_req *r, const char *partner)
{
    struct pgsim *sim = r->sim;
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, 1);
    const char *pid = NULL;
    pgsim_pv_str(&p, "paymentId", PV_REQ, 0, &pid);
    if (!p.err[0] && strlen(pid) > 50)
        pgsim_pv_fail(&p, "paymentId is longer than 50 bytes");
    if (p.err[0]) {
        invalid(r, &p);
        return;
    }
    json_object *rec = by_payment_id(sim, partner, pid);
    if (!rec) {
        N_FAIL(r, "InvalidPaymentId", "no payment %s", pid);
        return;
    }
    if (is_approved(rec)) {
        N_FAIL(r, "AlreadyComplete", "payment %s is already approved", pid);
        return;
    }
    if (in_state(rec, "APPLY_FAILED")) {
        N_FAIL(r, "Fail", "payment %s was declined", pid);
        return;
    }
    if (pgsim_naver_expire(sim, rec)) {
        N_FAIL(r, "TimeExpired", "the approval window of payment %s has passed", pid);
        return;
    }
    if (!in_state(rec, "AUTHORIZED")) {
        N_FAIL(r, "Fail", "payment %s cannot be approved (%s)", pid, pgsim_rec_str(rec, "state"));
        return;
    }
    struct pgsim_fault_error buf;
    const struct pgsim_fault_error *fe = business_fault(r, &buf);
    if (fe) {
        pgsim_rec_set_str(rec, "state", "APPLY_FAILED");
        pgsim_store_dirty(sim);
        N_FAIL(r, fe->code[0] ? fe->code : "Fail", "approval failed (simulated)");
        return;
    }

    int64_t now = pgsim_now(sim);
    char hist[21], auth[9];
    pgsim_new_naver_id(sim, "NP", hist);
    pgsim_random_hex(auth, 8);
    for (char *c = auth; *c; c++)
        if (*c > '9')
            *c = (char)('0' + (*c - 'a'));
    pgsim_rec_set_str(rec, "state", "APPROVED");
    pgsim_rec_set_str(rec, "admissionTypeCode", "01");
    pgsim_rec_set_i64(rec, "approved_at", now);
    pgsim_rec_set_str(rec, "cardAuthNo", auth);
    pgsim_rec_set_i64(rec, "approvals", pgsim_rec_i64(rec, "approvals") + 1);
    json_object *ev =
        add_event(sim, rec, hist, "01", now, pgsim_rec_i64(rec, "totalPayAmount"),
                  pgsim_rec_i64(rec, "taxScopeAmount"), pgsim_rec_i64(rec, "taxExScopeAmount"),
                  pgsim_rec_i64(rec, "environmentDepositAmount"));
    pgsim_store_dirty(sim);

    json_object *body = json_object_new_object();
    pgsim_rec_set_str(body, "paymentId", pid);
    json_object_object_add(body, "detail", detail(sim, rec, ev));
    r->committed = 1;
    n_reply(r, 200, "Success", body, "detail message");
}

/* ---- cancel -------------------------------------------------------------------- */

static void cancel(struct pgsim_req *r, const char *partner)
{
    struct pgsim *sim = r->sim;
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, 1);
    const char *pid = NULL, *reason = NULL, *requester = NULL, *compare = NULL, *txkey = NULL;
    int64_t amount = 0, tax = 0, taxex = 0, env = 0, expected = -1;
    pgsim_pv_str(&p, "paymentId", PV_REQ, 0, &pid);
    pgsim_pv_i64(&p, "cancelAmount", PV_REQ, 1, AMOUNT_MAX, &amount);
    pgsim_pv_str(&p, "cancelReason", PV_REQ, 0, &reason);
    pgsim_pv_str(&p, "cancelRequester", PV_REQ, 0, &requester);
    pgsim_pv_i64(&p, "taxScopeAmount", PV_REQ, 0, AMOUNT_MAX, &tax);
    pgsim_pv_i64(&p, "taxExScopeAmount", PV_REQ, 0, AMOUNT_MAX, &taxex);
    pgsim_pv_i64(&p, "environmentDepositAmount", PV_OPT, 0, AMOUNT_MAX, &env);
    pgsim_pv_str(&p, "doCompareRest", PV_OPT, 0, &compare);
    pgsim_pv_i64(&p, "expectedRestAmount", PV_OPT, 0, AMOUNT_MAX, &expected);
    pgsim_pv_str(&p, "merchantPayTransactionKey", PV_OPT, 0, &txkey);
    if (!p.err[0] && strlen(pid) > 50)
        pgsim_pv_fail(&p, "paymentId is longer than 50 bytes");
    if (!p.err[0] && strlen(reason) > 256)
        pgsim_pv_fail(&p, "cancelReason is longer than 256 bytes");
    if (!p.err[0] && strcmp(requester, "1") != 0 && strcmp(requester, "2") != 0)
        pgsim_pv_fail(&p, "cancelRequester must be 1 (buyer) or 2 (merchant admin)");
    if (!p.err[0] && compare && strcmp(compare, "0") != 0 && strcmp(compare, "1") != 0)
        pgsim_pv_fail(&p, "doCompareRest must be 0 or 1");
    if (!p.err[0] && compare && strcmp(compare, "1") == 0 && expected < 0) {
        p.missing = 1;
        pgsim_pv_fail(&p, "expectedRestAmount is required with doCompareRest=1");
    }
    if (p.err[0]) {
        invalid(r, &p);
        return;
    }
    json_object *rec = by_payment_id(sim, partner, pid);
    if (!rec || !is_approved(rec)) {
        N_FAIL(r, "InvalidPaymentId", "no approved payment %s", pid);
        return;
    }
    if (in_state(rec, "CANCELED")) {
        N_FAIL(r, "AlreadyCanceled", "payment %s is already fully canceled", pid);
        return;
    }
    if (tax + taxex + env != amount) {
        N_FAIL(r, "TaxScopeAmountError",
               "taxScopeAmount + taxExScopeAmount + environmentDepositAmount (%lld) must "
               "equal cancelAmount (%lld)",
               (long long)(tax + taxex + env), (long long)amount);
        return;
    }
    int64_t rest = pgsim_rec_i64(rec, "totalPayAmount") - canceled(rec, "total");
    int64_t rest_tax = pgsim_rec_i64(rec, "taxScopeAmount") - canceled(rec, "taxScope");
    int64_t rest_taxex = pgsim_rec_i64(rec, "taxExScopeAmount") - canceled(rec, "taxExScope");
    int64_t rest_env =
        pgsim_rec_i64(rec, "environmentDepositAmount") - canceled(rec, "environmentDeposit");
    if (amount > rest) {
        N_FAIL(r, "OverRemainAmount", "cancelAmount %lld exceeds the remaining %lld",
               (long long)amount, (long long)rest);
        return;
    }
    if (tax > rest_tax || taxex > rest_taxex || env > rest_env) {
        N_FAIL(r, "TaxScopeAmtGreaterThanRemainError",
               "the tax split exceeds what remains (taxScope %lld, taxExScope %lld, "
               "environmentDeposit %lld)",
               (long long)rest_tax, (long long)rest_taxex, (long long)rest_env);
        return;
    }
    if (compare && strcmp(compare, "1") == 0 && expected != rest - amount) {
        N_FAIL(r, "RestAmountDiff", "expectedRestAmount %lld, but %lld would remain",
               (long long)expected, (long long)(rest - amount));
        return;
    }
    struct pgsim_fault_error buf;
    const struct pgsim_fault_error *fe = business_fault(r, &buf);
    /* CancelNotComplete means NaverPay took the cancel and finishes it on
     * its own: apply it, answer the code with an empty payHistId. */
    int not_complete = fe && strcmp(fe->code, "CancelNotComplete") == 0;
    if (fe && !not_complete) {
        N_FAIL(r, fe->code[0] ? fe->code : "Fail", "cancel failed (simulated)");
        return;
    }

    int64_t now = pgsim_now(sim);
    char hist[21];
    pgsim_new_naver_id(sim, "NP", hist);
    int full = amount == rest;
    const char *type = full ? "03" : "04";
    json_object *c = pgsim_rec_get(rec, "canceled");
    pgsim_rec_set_i64(c, "total", canceled(rec, "total") + amount);
    pgsim_rec_set_i64(c, "taxScope", canceled(rec, "taxScope") + tax);
    pgsim_rec_set_i64(c, "taxExScope", canceled(rec, "taxExScope") + taxex);
    pgsim_rec_set_i64(c, "environmentDeposit", canceled(rec, "environmentDeposit") + env);
    pgsim_rec_set_str(rec, "state", full ? "CANCELED" : "PARTIAL_CANCELED");
    pgsim_rec_set_str(rec, "admissionTypeCode", type);
    add_event(sim, rec, hist, type, now, amount, tax, taxex, env);
    pgsim_store_dirty(sim);

    json_object *b = json_object_new_object();
    pgsim_rec_set_str(b, "paymentId", pid);
    pgsim_rec_set_str(b, "payHistId", not_complete ? "" : hist);
    pgsim_rec_set_str(b, "primaryPayMeans", pgsim_rec_str(rec, "primaryPayMeans"));
    pgsim_rec_set_i64(b, "primaryPayCancelAmount", amount);
    pgsim_rec_set_i64(b, "primaryPayRestAmount", rest - amount);
    pgsim_rec_set_i64(b, "npointCancelAmount", 0);
    pgsim_rec_set_i64(b, "npointRestAmount", 0);
    pgsim_rec_set_i64(b, "giftCardCancelAmount", 0);
    pgsim_rec_set_i64(b, "giftCardRestAmount", 0);
    pgsim_rec_set_i64(b, "discountCancelAmount", 0);
    pgsim_rec_set_i64(b, "discountRestAmount", 0);
    pgsim_rec_set_i64(b, "taxScopeAmount", tax);
    pgsim_rec_set_i64(b, "taxExScopeAmount", taxex);
    pgsim_rec_set_i64(b, "taxScopeRestAmount", rest_tax - tax);
    pgsim_rec_set_i64(b, "taxExScopeRestAmount", rest_taxex - taxex);
    ymdt(b, "cancelYmdt", now);
    pgsim_rec_set_i64(b, "totalRestAmount", rest - amount);
    if (not_complete) {
        n_reply(r, 200, "CancelNotComplete", b, "cancel accepted, not complete yet");
        return;
    }
    r->committed = 1;
    n_reply(r, 200, "Success", b, "detail message");
}

/* ---- list/history -------------------------------------------------------------- */

struct hist_item {
    json_object *rec, *ev;
    int64_t at, seq;
};

static int by_time(const void *a, const void *b)
{
    const struct hist_item *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void collect(json_object *rec, int types, int use_range, int64_t from, int64_t to,
                    struct hist_item **items, size_t *n, size_t *cap)
{
    json_object *events = pgsim_rec_get(rec, "events");
    for (size_t i = 0; i < json_object_array_length(events); i++) {
        json_object *ev = json_object_array_get_idx(events, i);
        int approval = strcmp(pgsim_rec_str(ev, "admissionTypeCode"), "01") == 0;
        int64_t at = pgsim_rec_i64(ev, "at");
        if (!(types & (approval ? 1 : 2)) || (use_range && (at < from || at > to)))
            continue;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            struct hist_item *grown = realloc(*items, ncap * sizeof **items);
            if (!grown)
                return;
            *items = grown;
            *cap = ncap;
        }
        (*items)[(*n)++] = (struct hist_item){rec, ev, at, pgsim_rec_i64(ev, "seq")};
    }
}

static void history(struct pgsim_req *r, const char *partner, const char *path_id)
{
    struct pgsim *sim = r->sim;
    struct pgsim_pv p;
    pgsim_pv_init(&p, r->params, 0);
    const char *pid = path_id, *start = NULL, *end = NULL, *type = NULL;
    int64_t page = 1, rows = 20;
    if (!pid)
        pgsim_pv_str(&p, "paymentId", PV_OPT, 50, &pid);
    /* With a paymentId every other condition is ignored (pg-apis.md). */
    if (!pid || path_id) {
        pgsim_pv_i64(&p, "pageNumber", PV_OPT, 1, 1000000, &page);
        pgsim_pv_i64(&p, "rowsPerPage", PV_OPT, 1, 100, &rows);
    }
    int64_t from = 0, to = 0;
    int types = 3;
    if (!pid) {
        pgsim_pv_str(&p, "startTime", PV_REQ, 0, &start);
        pgsim_pv_str(&p, "endTime", PV_REQ, 0, &end);
        pgsim_pv_str(&p, "approvalType", PV_OPT, 0, &type);
        if (!p.err[0] && pgsim_parse_ymdhms(start, &from) != 0)
            pgsim_pv_fail(&p, "startTime must be YYYYMMDDHH24MMSS");
        if (!p.err[0] && pgsim_parse_ymdhms(end, &to) != 0)
            pgsim_pv_fail(&p, "endTime must be YYYYMMDDHH24MMSS");
        if (!p.err[0] && type) {
            if (strcmp(type, "ALL") == 0)
                types = 3;
            else if (strcmp(type, "APPROVAL") == 0)
                types = 1;
            else if (strcmp(type, "CANCEL") == 0)
                types = 2;
            else
                pgsim_pv_fail(&p, "approvalType must be ALL, APPROVAL or CANCEL");
        }
    }
    if (p.err[0]) {
        invalid(r, &p);
        return;
    }
    if (!pid && (to < from || to - from > WINDOW_31_DAYS)) {
        N_FAIL(r, "TimeConditionError",
               "endTime must not be before startTime, and the span at most 31 days");
        return;
    }
    struct pgsim_fault_error buf;
    const struct pgsim_fault_error *fe = business_fault(r, &buf);
    if (fe) {
        N_FAIL(r, fe->code[0] ? fe->code : "Fail", "history lookup failed (simulated)");
        return;
    }

    struct hist_item *items = NULL;
    size_t n = 0, cap = 0;
    if (pid) {
        json_object *rec = by_payment_id(sim, partner, pid);
        if (rec)
            collect(rec, 3, 0, 0, 0, &items, &n, &cap);
    } else {
        json_object_object_foreach(pgsim_store_table(sim, "naver"), k, rec)
        {
            (void)k;
            const char *owner = pgsim_rec_str(rec, "partnerId");
            if (owner && strcmp(owner, partner) == 0)
                collect(rec, types, 1, from, to, &items, &n, &cap);
        }
    }
    if (n > 1)
        qsort(items, n, sizeof *items, by_time);
    int64_t pages = ((int64_t)n + rows - 1) / rows;
    int64_t first = (page - 1) * rows;
    json_object *list = json_object_new_array();
    for (int64_t i = first; i < (int64_t)n && i < first + rows; i++) {
        json_object *d = detail(sim, items[i].rec, items[i].ev);
        json_object *settle = json_object_new_object();
        int64_t amount = pgsim_rec_i64(items[i].ev, "totalPayAmount");
        pgsim_rec_set_i64(settle, "primaryCommissionAmount", 0);
        pgsim_rec_set_i64(settle, "npointCommissionAmount", 0);
        pgsim_rec_set_i64(settle, "giftCardCommissionAmount", 0);
        pgsim_rec_set_i64(settle, "discountCommissionAmount", 0);
        pgsim_rec_set_i64(settle, "totalCommissionAmount", 0);
        pgsim_rec_set_i64(settle, "totalSettleAmount", amount);
        json_object_object_add(d, "settleInfo", settle);
        pgsim_rec_set_str(d, "merchantExtraParameter", "");
        json_object_array_add(list, d);
    }
    free(items);
    json_object *b = json_object_new_object();
    pgsim_rec_set_i64(b, "responseCount", (int64_t)json_object_array_length(list));
    pgsim_rec_set_i64(b, "totalCount", (int64_t)n);
    pgsim_rec_set_i64(b, "totalPageCount", pages);
    pgsim_rec_set_i64(b, "currentPageNumber", page);
    json_object_object_add(b, "list", list);
    r->committed = 1;
    n_reply(r, 200, "Success", b, "detail message");
}

/* ---- idempotency --------------------------------------------------------------- */

static int idem_op(const struct pgsim_op *op)
{
    return op->id == OP_NAVER_RESERVE || op->id == OP_NAVER_APPLY || op->id == OP_NAVER_CANCEL;
}

static void idem_slot(struct pgsim_req *r, const char *partner, char *out, size_t len)
{
    snprintf(out, len, "%s:%s:%s", r->op->native, partner, r->idem_key);
}

/* 1 when answered: a malformed key (400) or a repeated one (409 replay). */
static int idem_check(struct pgsim_req *r, const char *partner)
{
    if (!idem_op(r->op))
        return 0;
    const char *key = pgsim_header(r, "X-NaverPay-Idempotency-Key");
    if (!key)
        return 0;
    size_t n = strlen(key);
    /* pg-apis.md: up to 64 characters, [A-Za-z0-9_-] recommended; the
     * simulator insists on the recommendation. */
    if (n == 0 || n > 64 ||
        strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
        n_reply(r, 400, "InvalidParameter", NULL,
                "X-NaverPay-Idempotency-Key must be 1..64 characters of [A-Za-z0-9_-]");
        return 1;
    }
    r->idem_key = key;
    pgsim_add_header(r, "X-NaverPay-Idempotency-Key", key);
    char slot[200];
    idem_slot(r, partner, slot, sizeof slot);
    json_object *saved = pgsim_rec_get(pgsim_store_table(r->sim, "naver_idempotency"), slot);
    if (!saved)
        return 0;
    const char *body = pgsim_rec_str(saved, "body");
    r->note = "idempotent-replay";
    pgsim_stats_bump(r->sim, "idempotent_replays", r->op->name);
    pgsim_reply_text(r, 409, "application/json;charset=UTF-8", body ? body : "",
                     body ? strlen(body) : 0);
    return 1;
}

static void idem_store(struct pgsim_req *r, const char *partner)
{
    if (!r->idem_key || r->status >= 500)
        return;
    struct evbuffer *out = evhttp_request_get_output_buffer(r->ev);
    size_t len = evbuffer_get_length(out);
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    evbuffer_copyout(out, copy, len);
    copy[len] = '\0';
    char slot[200];
    idem_slot(r, partner, slot, sizeof slot);
    json_object *saved = json_object_new_object();
    pgsim_rec_set_i64(saved, "status", r->status);
    json_object_object_add(saved, "body", json_object_new_string_len(copy, (int)len));
    pgsim_rec_set_i64(saved, "at", pgsim_now(r->sim));
    json_object_object_add(pgsim_store_table(r->sim, "naver_idempotency"), slot, saved);
    pgsim_store_dirty(r->sim);
    free(copy);
}

/* ---- entry --------------------------------------------------------------------- */

void pgsim_naver_handle(struct pgsim_req *r, const char *partner, const char *path_id)
{
    const struct pgsim_cfg *c = &r->sim->cfg;
    if (strcmp(partner, c->naver_partner) != 0) {
        n_reply(r, 401, "InvalidMerchant", NULL, "unknown partner id %s", partner);
        return;
    }
    if (!pgsim_secret_eq(pgsim_header(r, "X-Naver-Client-Id"), c->naver_client_id) ||
        !pgsim_secret_eq(pgsim_header(r, "X-Naver-Client-Secret"), c->naver_client_secret) ||
        !pgsim_secret_eq(pgsim_header(r, "X-NaverPay-Chain-Id"), c->naver_chain_id)) {
        n_reply(r, 401, "Unauthorized", NULL,
                "X-Naver-Client-Id, X-Naver-Client-Secret and X-NaverPay-Chain-Id must "
                "match the partner's keys");
        return;
    }
    if (idem_check(r, partner))
        return;
    int form = r->op->id == OP_NAVER_APPLY || r->op->id == OP_NAVER_CANCEL;
    const char *type = form ? "application/x-www-form-urlencoded" : "application/json";
    if (!pgsim_ctype_is(r, type))
        n_reply(r, 400, "InvalidParameter", NULL, "Content-Type must be %s", type);
    else if (!r->params)
        n_reply(r, 400, "InvalidParameter", NULL, "%s", r->params_err);
    else if (r->op->id == OP_NAVER_RESERVE)
        reserve(r, partner);
    else if (r->op->id == OP_NAVER_APPLY)
        apply(r, partner);
    else if (r->op->id == OP_NAVER_CANCEL)
        cancel(r, partner);
    else
        history(r, partner, path_id);
    idem_store(r, partner);
}
