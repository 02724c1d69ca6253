/*
 * flow.c -- the payment flows, driven by the event loop.
 *
 *   ready     POST /api/pay/ready: price from the catalog, coupon hold,
 *             order "created", gateway ready/reserve, order "ready"
 *   return    the gateway sends the browser back: verify the signature,
 *             then by the order's latest status: approve, wait, or redirect
 *   approve   "approving" is written *before* the gateway is called, so a
 *             repeated or concurrent return (in this generation or another:
 *             the store is shared) waits instead of approving again
 *   reconcile an approve whose outcome is unknown asks the status API; if
 *             that is down too, the order stays "approving" and is asked
 *             again on a timer (and again at the next init)
 *   refund    the "payments" service: cancel at the gateway, "refunded"
 *
 * Exactly once: every status change goes through transition(), which
 * re-reads the order's latest record and refuses a change its state
 * machine does not allow. The loop is single-threaded and every
 * generation shares the store, so of two paths racing to approve one
 * order, exactly one performs approving -> approved; only that one counts
 * revenue, redeems the coupon, unlocks the result and publishes
 * order.approved.
 *
 * Lifetimes: every asynchronous step is a pay_op on st->ops. An op owns its
 * timer and its in-flight call (the host passes the op back as `ud`) and
 * holds the request it will answer, if any. The host cancels a finalizing
 * generation's transfers and timers without calling back, so
 * mq_payments_state_cleanup() frees what is left.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupons_service.h"
#include "gw_json.h"
#include "pay.h"

typedef enum op_kind {
    OP_READY,     /* waiting on ready/reserve */
    OP_APPROVE,   /* waiting on approve/apply */
    OP_RECONCILE, /* waiting on a status lookup, or on the timer before one */
    OP_WAIT,      /* a return polling an order someone else is approving */
    OP_VOID,      /* canceling a payment approved for the wrong amount */
    OP_REFUND,    /* the payments service's refund */
} op_kind;

struct pay_op {
    pay_state *st;
    pay_op *prev, *next;
    op_kind kind;
    mq_req *req;     /* the request to answer; NULL when nobody waits */
    pay_order order; /* the order as of this op's last step */
    mq_timer *timer; /* pending timer or NULL */
    int in_http;     /* a call is in flight with this op as its ud */
    int mobile;      /* OP_READY: the browser is a phone */

    /* OP_RECONCILE */
    int confirm;             /* confirming a refusal: one lookup, then fail */
    const char *fail_reason; /* the refusal's reason (confirm mode) */
    char fail_cause[320];    /* its cause, for the log */
    int64_t started_ms;      /* first lookup: the 30-minute budget */
    int64_t gap_ms;          /* next retry delay */
    int attempts;

    /* OP_WAIT */
    int64_t deadline_ms;

    /* OP_VOID, OP_REFUND */
    long cancel_amount;
    int looked_up; /* OP_REFUND: the lookup after a failed cancel */
    char cancel_cause[320];
    void (*done)(int status, const char *message, void *cb_ud);
    void *done_ud;
    char refund_reason[257];
};

/* ---- small helpers ------------------------------------------------------------------ */

static const char *op_name(const pay_order *o, const char *kakao, const char *naver)
{
    return strcmp(o->provider, PAY_PROVIDER_NAVER) == 0 ? naver : kakao;
}

static int is_kakao(const pay_order *o)
{
    return strcmp(o->provider, PAY_PROVIDER_KAKAO) == 0;
}

static pay_op *op_new(pay_state *st, op_kind kind, mq_req *req, const pay_order *o)
{
    pay_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->st = st;
    op->kind = kind;
    op->req = req;
    if (o)
        op->order = *o;
    op->next = st->ops;
    if (st->ops)
        st->ops->prev = op;
    st->ops = op;
    return op;
}

static void op_free(pay_op *op)
{
    if (!op)
        return;
    pay_state *st = op->st;
    if (op->timer)
        st->api->timer_stop(op->timer);
    if (op->prev)
        op->prev->next = op->next;
    else
        st->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    free(op);
}

/* The in-memory "being approved" set: an op of this generation working on
 * the order's approval. */
static pay_op *op_busy(pay_state *st, const char *order_id, int refund)
{
    for (pay_op *op = st->ops; op; op = op->next) {
        if (strcmp(op->order.id, order_id) != 0)
            continue;
        if (refund ? op->kind == OP_REFUND : (op->kind == OP_APPROVE || op->kind == OP_RECONCILE))
            return op;
    }
    return NULL;
}

static void count(pay_state *st, mq_metric *m, const char *provider, double v)
{
    const char *lv[] = {provider};
    st->api->metric_add(m, lv, v);
}

static void count_failure(pay_state *st, const char *provider, const char *reason)
{
    const char *label = PAY_R_GATEWAY;
    for (size_t i = 0; mq_payments_reasons[i]; i++)
        if (reason && strcmp(reason, mq_payments_reasons[i]) == 0)
            label = mq_payments_reasons[i];
    const char *lv[] = {provider, label};
    st->api->metric_add(st->m.failures, lv, 1);
}

/* ---- responses ---------------------------------------------------------------------- */

static void respond_error(pay_state *st, mq_req *req, int status, const char *code,
                          const char *message)
{
    if (req)
        st->api->resp_error(req, status, code, message);
}

static void respond_json(pay_state *st, mq_req *req, int status, char *json)
{
    if (!json) {
        respond_error(st, req, 500, "out_of_memory", "일시적인 오류입니다. 다시 시도해 주세요.");
        return;
    }
    st->api->resp_send(req, status, "application/json", json, strlen(json));
    free(json);
}

/* 302 to the result page: PUBLIC_BASE_URL/app/result/<resultId>?<query>. */
static void respond_redirect(pay_state *st, mq_req *req, const pay_order *o, const char *query)
{
    if (!req)
        return;
    pay_buf b = {0};
    mq_payments_buf_puts(&b, st->cfg.public_base ? st->cfg.public_base : "");
    mq_payments_buf_puts(&b, "/app/result/");
    mq_payments_buf_urlencode(&b, o->result_id);
    mq_payments_buf_printf(&b, "?%s", query);
    char *loc = mq_payments_buf_take(&b);
    if (!loc) {
        respond_error(st, req, 500, "out_of_memory", "일시적인 오류입니다. 다시 시도해 주세요.");
        return;
    }
    st->api->resp_header(req, "Location", loc);
    st->api->resp_header(req, "Cache-Control", "no-store");
    free(loc);
    st->api->resp_send(req, 302, "text/plain; charset=utf-8", "", 0);
}

/* Redirect by what the order's status means for the buyer. */
static void respond_by_status(pay_state *st, mq_req *req, const pay_order *o)
{
    switch (o->status) {
    case PAY_ST_APPROVED: respond_redirect(st, req, o, "paid=1"); break;
    case PAY_ST_FAILED:
        respond_redirect(st, req, o,
                         strcmp(o->reason, PAY_R_USER_CANCEL) == 0 ? "payment=canceled"
                                                                   : "payment=failed");
        break;
    case PAY_ST_CANCELED:
    case PAY_ST_REFUNDED: respond_redirect(st, req, o, "payment=canceled"); break;
    default: respond_redirect(st, req, o, "payment=pending"); break;
    }
}

/* ---- the store -------------------------------------------------------------------------- */

static int load_order(pay_state *st, const char *id, pay_order *o)
{
    size_t len = 0;
    char *rec = st->api->store_get(st->self, "orders", id, &len);
    if (!rec)
        return MQ_ENOENT;
    int rc = mq_payments_order_from_json(rec, len, o);
    free(rec);
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_ERROR, "read order \"%s\" failed: the record does not parse",
                     id);
    return rc;
}

static int append_json(pay_state *st, mq_req *req, const char *coll, const char *key, char *json,
                       int flags)
{
    if (!json)
        return MQ_ENOMEM;
    int rc = st->api->store_append(st->self, req, coll, key, json, strlen(json), flags);
    free(json);
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_ERROR, "store append \"%s/%s\" failed: %s", coll,
                     *key ? key : "-", st->api->strerror(rc));
    return rc;
}

/* Write o as it is now, plus its event record. */
static int write_order(pay_state *st, mq_req *req, pay_order *o, int flags)
{
    o->updated_ms = mq_payments_now_ms();
    int rc = append_json(st, req, "orders", o->id, mq_payments_order_to_json(o), flags);
    if (rc == MQ_OK)
        append_json(st, req, "events", "", mq_payments_order_event_json(o), flags);
    return rc;
}

typedef struct pay_patch {
    const char *tid, *reserve_id, *payment_id, *aid;
    long approved_amount; /* set when > 0 */
} pay_patch;

/*
 * Move order o to `to`, from its *latest* stored state. On MQ_ESTATE the
 * latest state does not allow it (another path got there first) and *o is
 * that latest state. On MQ_OK *o is the record written. Money-moving
 * changes pass MQ_STORE_DURABLE and the request whose answer depends on
 * them.
 */
static int transition(pay_state *st, mq_req *req, pay_order *o, pay_status to, const char *reason,
                      const pay_patch *patch, int flags)
{
    pay_order cur;
    int rc = load_order(st, o->id, &cur);
    if (rc != MQ_OK)
        return rc == MQ_ENOENT ? MQ_ESTATE : rc;
    if (!mq_payments_transition_allowed(cur.status, to)) {
        *o = cur;
        return MQ_ESTATE;
    }
    cur.status = to;
    mq_payments_copy(cur.reason, sizeof cur.reason, reason ? reason : "");
    if (patch) {
        if (patch->tid)
            mq_payments_copy(cur.tid, sizeof cur.tid, patch->tid);
        if (patch->reserve_id)
            mq_payments_copy(cur.reserve_id, sizeof cur.reserve_id, patch->reserve_id);
        if (patch->payment_id)
            mq_payments_copy(cur.payment_id, sizeof cur.payment_id, patch->payment_id);
        if (patch->aid)
            mq_payments_copy(cur.aid, sizeof cur.aid, patch->aid);
        if (patch->approved_amount > 0)
            cur.approved_amount = patch->approved_amount;
    }
    rc = write_order(st, req, &cur, flags);
    if (rc == MQ_OK)
        *o = cur;
    return rc;
}

/* ---- coupons and unlocks ----------------------------------------------------------------- */

static void coupon_settle(pay_state *st, const pay_order *o, int redeem)
{
    if (!o->coupon[0])
        return;
    void *ud = NULL;
    const mq_coupons_service_v1 *c =
        st->api->service_lookup(st->self, MQ_COUPONS_SERVICE, MQ_COUPONS_SERVICE_VERSION, &ud);
    int rc = !c ? MQ_ENOENT : redeem ? c->redeem(ud, o->id) : c->release(ud, o->id);
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_WARN, "coupon %s \"%s\" failed: %s",
                     redeem ? "redeem" : "release", o->id,
                     c ? st->api->strerror(rc) : "the coupons service is not loaded");
}

/* The "unlocks" collection keeps, per result id, how many approved orders
 * bought it: the truth shared by every generation (the in-memory set is
 * only a cache of positives). */
static int unlock_count(pay_state *st, const char *result_id)
{
    size_t len = 0;
    char *rec = st->api->store_get(st->self, "unlocks", result_id, &len);
    json_object *j = rec ? mq_payments_json_body(rec, len) : NULL;
    int64_t n = 0;
    if (!mq_payments_json_int(j, "count", &n) || n < 0)
        n = 0;
    json_object_put(j);
    free(rec);
    return (int)n;
}

static void unlock_update(pay_state *st, mq_req *req, const pay_order *o, int delta)
{
    int n = unlock_count(st, o->result_id) + delta;
    if (n < 0)
        n = 0;
    json_object *j = json_object_new_object();
    if (j) {
        json_object_object_add(j, "v", json_object_new_int(1));
        json_object_object_add(j, "result_id", json_object_new_string(o->result_id));
        json_object_object_add(j, "premium", json_object_new_boolean(n > 0));
        json_object_object_add(j, "count", json_object_new_int(n));
        json_object_object_add(j, "order", json_object_new_string(o->id));
    }
    append_json(st, req, "unlocks", o->result_id, mq_payments_json_take(j, NULL), MQ_STORE_DURABLE);
    if (n > 0)
        mq_payments_set_add(&st->unlocked, o->result_id);
    else
        mq_payments_set_remove(&st->unlocked, o->result_id);
}

int mq_payments_is_unlocked(void *ud, const char *result_id)
{
    pay_state *st = ud;
    if (!mq_payments_is_token(result_id, PAY_ID_MAX))
        return 0;
    if (mq_payments_set_has(&st->unlocked, result_id))
        return 1;
    /* Approved by another generation since our init? */
    if (unlock_count(st, result_id) > 0) {
        mq_payments_set_add(&st->unlocked, result_id);
        return 1;
    }
    return 0;
}

/* ---- gateway calls ------------------------------------------------------------------------ */

/* Start `call` for op; the host calls fn(resp, op) later. Consumes call. */
static int op_call(pay_op *op, pay_call *call, mq_http_fn fn)
{
    pay_state *st = op->st;
    mq_http_request rq = {.method = call->method,
                          .url = call->url,
                          .headers = (const char *const *)call->headers,
                          .body = call->body,
                          .body_len = call->body_len,
                          .timeout_ms = st->cfg.timeout_ms,
                          .connect_timeout_ms = st->cfg.connect_timeout_ms};
    int rc = st->api->http_request(st->self, &rq, fn, op);
    mq_payments_call_cleanup(call);
    if (rc == MQ_OK)
        op->in_http = 1;
    return rc;
}

/* ---- finishing an approval ----------------------------------------------------------------- */

static void start_lookup(pay_op *op);
static void start_void(pay_state *st, const pay_order *o, long amount);

/* approving -> failed: release the coupon, count, answer. Frees op. */
static void fail_approval(pay_op *op, const char *reason, const char *cause)
{
    pay_state *st = op->st;
    pay_order o = op->order;
    int rc = transition(st, op->req, &o, PAY_ST_FAILED, reason, NULL, MQ_STORE_DURABLE);
    if (rc == MQ_OK) {
        st->api->log(st->self, MQ_LOG_WARN, "%s \"%s\" failed: %s (%s)",
                     op_name(&o, "kakao approve", "naver apply"), o.id, cause, reason);
        count_failure(st, o.provider, reason);
        coupon_settle(st, &o, 0);
        respond_by_status(st, op->req, &o);
    } else if (rc == MQ_ESTATE) {
        respond_by_status(st, op->req, &o);
    } else {
        respond_error(st, op->req, 503, "store_unavailable",
                      "결제 상태를 저장하지 못했습니다. 잠시 후 다시 시도해 주세요.");
    }
    op->req = NULL;
    op_free(op);
}

static void retry_later(pay_op *op, const char *cause);

/* The gateway says r approved the payment: check it and record it once. */
static void finish_approved(pay_op *op, const pay_result *r)
{
    pay_state *st = op->st;
    pay_order o = op->order;
    /* A NaverPay paymentId comes from the browser: it must belong to this
     * order. Another order's payment is that order's (its own return or
     * reconciliation records it); never cancel it from here. */
    if (!is_kakao(&o) && r->merchant_key[0] && strcmp(r->merchant_key, o.id) != 0) {
        char cause[200];
        snprintf(cause, sizeof cause, "payment %.64s belongs to order %.40s", o.payment_id,
                 r->merchant_key);
        fail_approval(op, PAY_R_DECLINED, cause);
        return;
    }
    if (r->amount != o.amount) {
        pay_patch p = {.aid = r->aid, .approved_amount = r->amount};
        int rc = transition(st, op->req, &o, PAY_ST_FAILED, PAY_R_AMOUNT, &p, MQ_STORE_DURABLE);
        if (rc == MQ_OK) {
            st->api->log(st->self, MQ_LOG_ERROR,
                         "%s \"%s\" failed: approved amount %ld is not the order's %ld: "
                         "canceling the payment",
                         op_name(&o, "kakao approve", "naver apply"), o.id, r->amount, o.amount);
            count_failure(st, o.provider, PAY_R_AMOUNT);
            coupon_settle(st, &o, 0);
            start_void(st, &o, r->amount);
        }
        if (rc == MQ_OK || rc == MQ_ESTATE)
            respond_by_status(st, op->req, &o);
        else
            respond_error(st, op->req, 503, "store_unavailable",
                          "결제 상태를 저장하지 못했습니다. 잠시 후 다시 시도해 주세요.");
        op->req = NULL;
        op_free(op);
        return;
    }
    pay_patch p = {.aid = r->aid,
                   .approved_amount = r->amount,
                   .payment_id = r->payment_id[0] ? r->payment_id : NULL};
    int rc = transition(st, op->req, &o, PAY_ST_APPROVED, "", &p, MQ_STORE_DURABLE);
    if (rc == MQ_ESTATE) {
        /* Someone else recorded the outcome first: nothing more to do. */
        respond_by_status(st, op->req, &o);
        op->req = NULL;
        op_free(op);
        return;
    }
    if (rc != MQ_OK) {
        /* Paid at the gateway but not recorded: keep the order approving
         * and reconcile until the store takes it. */
        op->kind = OP_RECONCILE;
        retry_later(op, "the approval could not be recorded");
        return;
    }
    /* The single approving -> approved transition: its side effects. */
    count(st, st->m.approvals, o.provider, 1);
    count(st, st->m.revenue, o.provider, (double)o.amount);
    coupon_settle(st, &o, 1);
    unlock_update(st, op->req, &o, +1);
    char *payload = mq_payments_order_to_json(&o);
    if (payload) {
        st->api->event_publish(st->self, "order.approved", payload, strlen(payload));
        free(payload);
    }
    st->api->log(st->self, MQ_LOG_INFO, "order \"%s\" approved: %s %ld KRW", o.id, o.provider,
                 o.amount);
    respond_redirect(st, op->req, &o, "paid=1");
    op->req = NULL;
    op_free(op);
}

/* ---- reconciliation ----------------------------------------------------------------------------
 */

static void on_reconcile_timer(void *ud)
{
    pay_op *op = ud;
    op->timer = NULL; /* one-shot: the host releases it after we return */
    pay_order o;
    if (load_order(op->st, op->order.id, &o) != MQ_OK || o.status != PAY_ST_APPROVING) {
        op_free(op); /* settled elsewhere meanwhile */
        return;
    }
    op->order = o;
    start_lookup(op);
}

/* The outcome is still unknown: answer "pending", mark the order, retry
 * later with a growing gap, for at most PAY_RECONCILE_SPAN_MS. */
static void retry_later(pay_op *op, const char *cause)
{
    pay_state *st = op->st;
    pay_order o = op->order;
    if (strcmp(o.reason, PAY_R_UNKNOWN) != 0) {
        int rc = transition(st, NULL, &o, PAY_ST_APPROVING, PAY_R_UNKNOWN, NULL, 0);
        if (rc == MQ_OK) {
            op->order = o;
        } else if (rc == MQ_ESTATE) {
            respond_by_status(st, op->req, &o); /* settled meanwhile */
            op->req = NULL;
            op_free(op);
            return;
        }
    }
    respond_by_status(st, op->req, &o);
    op->req = NULL;
    int64_t now = mq_payments_now_ms();
    if (!op->started_ms)
        op->started_ms = now;
    if (now - op->started_ms >= PAY_RECONCILE_SPAN_MS) {
        st->api->log(st->self, MQ_LOG_ERROR,
                     "reconcile \"%s\" failed: %s; gave up after 30 min, the order stays "
                     "approving: check it at the gateway",
                     o.id, cause);
        op_free(op);
        return;
    }
    if (!op->gap_ms)
        op->gap_ms = (int64_t)st->cfg.reconcile_ms;
    op->timer = st->api->timer_start(st->self, (uint64_t)op->gap_ms, 0, on_reconcile_timer, op);
    op->gap_ms =
        op->gap_ms * 2 > PAY_RECONCILE_MAX_GAP_MS ? PAY_RECONCILE_MAX_GAP_MS : op->gap_ms * 2;
    if (!op->timer)
        op_free(op); /* the generation is going away: the next init resumes it */
}

static void on_lookup_done(const mq_http_response *resp, void *ud)
{
    pay_op *op = ud;
    pay_state *st = op->st;
    op->in_http = 0;
    op->attempts++;
    pay_result r;
    if (is_kakao(&op->order))
        mq_payments_kakao_parse_order(resp, &r);
    else
        mq_payments_naver_parse_history(resp, op->order.payment_id, &r);
    const char *what = op_name(&op->order, "kakao order", "naver history");

    switch (r.outcome) {
    case PAY_OK: finish_approved(op, &r); return;
    case PAY_FAIL:
        fail_approval(op, op->confirm ? op->fail_reason : r.reason,
                      op->confirm ? op->fail_cause : r.cause);
        return;
    case PAY_PENDING:
        if (op->confirm) {
            fail_approval(op, op->fail_reason, op->fail_cause);
            return;
        }
        /* Not final. Past the payment window (and a minute's grace) the
         * gateway will not approve it any more. */
        if (mq_payments_now_ms() - op->order.created_ms > PAY_WINDOW_MS + 60000) {
            fail_approval(op, PAY_R_TIMEOUT, r.cause);
            return;
        }
        retry_later(op, r.cause);
        return;
    default:
        st->api->log(st->self, MQ_LOG_WARN, "%s \"%s\" failed: %s", what, op->order.id, r.cause);
        if (op->confirm) {
            /* The refusal stands: the lookup only double-checks it. */
            fail_approval(op, op->fail_reason, op->fail_cause);
            return;
        }
        retry_later(op, r.cause);
        return;
    }
}

static void start_lookup(pay_op *op)
{
    pay_state *st = op->st;
    pay_call call;
    op->kind = OP_RECONCILE;
    int rc = is_kakao(&op->order) ? mq_payments_kakao_order(&st->cfg, &op->order, &call)
                                  : mq_payments_naver_history(&st->cfg, &op->order, &call);
    if (rc == MQ_OK)
        rc = op_call(op, &call, on_lookup_done);
    if (rc != MQ_OK) {
        if (op->confirm)
            fail_approval(op, op->fail_reason, op->fail_cause);
        else
            retry_later(op, st->api->strerror(rc));
    }
}

/* ---- approve / apply ----------------------------------------------------------------------- */

static void on_approve_done(const mq_http_response *resp, void *ud)
{
    pay_op *op = ud;
    pay_state *st = op->st;
    op->in_http = 0;
    pay_result r;
    if (is_kakao(&op->order))
        mq_payments_kakao_parse_approve(resp, &r);
    else
        mq_payments_naver_parse_apply(resp, &r);
    const char *what = op_name(&op->order, "kakao approve", "naver apply");

    if (r.outcome == PAY_OK) {
        finish_approved(op, &r);
    } else if (r.outcome == PAY_FAIL && is_kakao(&op->order) && resp->status >= 400 &&
               resp->status < 500) {
        /* KakaoPay refused. It also refuses a second approve of a tid that
         * is already paid (a return replayed after a crash lost our
         * "approving"): one lookup tells them apart. */
        op->confirm = 1;
        op->fail_reason = r.reason;
        mq_payments_copy(op->fail_cause, sizeof op->fail_cause, r.cause);
        start_lookup(op);
    } else if (r.outcome == PAY_FAIL) {
        fail_approval(op, r.reason, r.cause);
    } else {
        st->api->log(st->self, MQ_LOG_WARN, "%s \"%s\" failed: %s: outcome unknown, reconciling",
                     what, op->order.id, r.cause);
        start_lookup(op);
    }
}

/* ready -> approving, then call the gateway. `token` is the pg_token
 * (kakao) or paymentId (naver). Answers or suspends req. */
static void start_approve(pay_state *st, mq_req *req, pay_order *o, const char *token);
static void start_wait(pay_state *st, mq_req *req, const pay_order *o);

static void start_approve(pay_state *st, mq_req *req, pay_order *o, const char *token)
{
    pay_patch p = {.payment_id = is_kakao(o) ? NULL : token};
    int rc = transition(st, req, o, PAY_ST_APPROVING, "", &p, MQ_STORE_DURABLE);
    if (rc == MQ_ESTATE) {
        if (o->status == PAY_ST_APPROVING)
            start_wait(st, req, o);
        else
            respond_by_status(st, req, o);
        return;
    }
    if (rc != MQ_OK) {
        respond_error(st, req, 503, "store_unavailable",
                      "결제 상태를 저장하지 못했습니다. 잠시 후 다시 시도해 주세요.");
        return;
    }
    pay_op *op = op_new(st, OP_APPROVE, req, o);
    pay_call call;
    rc = !op           ? MQ_ENOMEM
         : is_kakao(o) ? mq_payments_kakao_approve(&st->cfg, o, token, &call)
                       : mq_payments_naver_apply(&st->cfg, o, token, &call);
    if (rc == MQ_OK)
        rc = op_call(op, &call, on_approve_done);
    if (rc != MQ_OK) {
        if (!op) {
            /* Not even an op: the order stays approving; the next init's
             * reconciliation settles it. */
            respond_error(st, req, 500, "out_of_memory",
                          "일시적인 오류입니다. 다시 시도해 주세요.");
            return;
        }
        /* The gateway was never called. */
        fail_approval(op, PAY_R_GATEWAY, st->api->strerror(rc));
        return;
    }
    st->api->req_suspend(req);
}

/* ---- waiting for another path's approval ---------------------------------------------------- */

static void on_wait_tick(void *ud)
{
    pay_op *op = ud;
    pay_state *st = op->st;
    pay_order o;
    int rc = load_order(st, op->order.id, &o);
    int settled = rc == MQ_OK && o.status != PAY_ST_APPROVING;
    if (settled || rc != MQ_OK || mq_payments_now_ms() >= op->deadline_ms) {
        respond_by_status(st, op->req, rc == MQ_OK ? &o : &op->order);
        op->req = NULL;
        op_free(op); /* stops the repeating timer */
    }
}

static void start_wait(pay_state *st, mq_req *req, const pay_order *o)
{
    if (st->cfg.return_wait_ms == 0) {
        respond_by_status(st, req, o);
        return;
    }
    pay_op *op = op_new(st, OP_WAIT, req, o);
    if (op) {
        op->deadline_ms = mq_payments_now_ms() + (int64_t)st->cfg.return_wait_ms;
        op->timer =
            st->api->timer_start(st->self, PAY_WAIT_POLL_MS, PAY_WAIT_POLL_MS, on_wait_tick, op);
    }
    if (!op || !op->timer) {
        op_free(op);
        respond_by_status(st, req, o);
        return;
    }
    st->api->req_suspend(req);
}

/* ---- voiding a wrong-amount approval -----------------------------------------------------------
 */

static void on_void_done(const mq_http_response *resp, void *ud)
{
    pay_op *op = ud;
    pay_state *st = op->st;
    op->in_http = 0;
    pay_result r;
    if (is_kakao(&op->order))
        mq_payments_kakao_parse_cancel(resp, &r);
    else
        mq_payments_naver_parse_cancel(resp, &r);
    const char *what = op_name(&op->order, "kakao cancel", "naver cancel");
    json_object *ev = json_object_new_object();
    if (ev) {
        json_object_object_add(ev, "v", json_object_new_int(1));
        json_object_object_add(
            ev, "type",
            json_object_new_string(r.outcome == PAY_OK ? "order.voided" : "order.void_failed"));
        json_object_object_add(ev, "order", json_object_new_string(op->order.id));
        json_object_object_add(ev, "provider", json_object_new_string(op->order.provider));
        json_object_object_add(ev, "result_id", json_object_new_string(op->order.result_id));
        json_object_object_add(ev, "amount", json_object_new_int64(op->cancel_amount));
        json_object_object_add(ev, "reason", json_object_new_string(PAY_R_AMOUNT));
    }
    append_json(st, NULL, "events", "", mq_payments_json_take(ev, NULL), MQ_STORE_DURABLE);
    if (r.outcome == PAY_OK)
        st->api->log(st->self, MQ_LOG_WARN, "order \"%s\": payment of %ld KRW canceled at %s",
                     op->order.id, op->cancel_amount, op->order.provider);
    else
        st->api->log(st->self, MQ_LOG_ERROR,
                     "%s \"%s\" failed: %s: cancel the payment of %ld KRW by hand", what,
                     op->order.id, r.cause, op->cancel_amount);
    op_free(op);
}

static void start_void(pay_state *st, const pay_order *o, long amount)
{
    pay_op *op = op_new(st, OP_VOID, NULL, o);
    pay_call call;
    int rc = !op ? MQ_ENOMEM
             : is_kakao(o)
                 ? mq_payments_kakao_cancel(&st->cfg, o, amount, &call)
                 : mq_payments_naver_cancel(&st->cfg, o, amount, "amount mismatch", &call);
    if (op)
        op->cancel_amount = amount;
    if (rc == MQ_OK)
        rc = op_call(op, &call, on_void_done);
    if (rc != MQ_OK) {
        st->api->log(
            st->self, MQ_LOG_ERROR, "%s \"%s\" failed: %s: cancel the payment of %ld KRW by hand",
            op_name(o, "kakao cancel", "naver cancel"), o->id, st->api->strerror(rc), amount);
        op_free(op);
    }
}

/* ---- POST /api/pay/ready -------------------------------------------------------------------- */

int mq_payments_parse_ready(const char *body, size_t len, pay_ready_input *in, const char **code,
                            const char **message)
{
    memset(in, 0, sizeof *in);
    json_object *j = mq_payments_json_body(body, len);
    int rc = MQ_EINVAL;
    const char *provider = mq_payments_json_str(j, "provider");
    const char *result_id = mq_payments_json_str(j, "resultId");
    json_object *coupon = NULL;
    if (!j) {
        *code = "invalid_body";
        *message = "요청 본문은 JSON 객체여야 합니다.";
    } else if (!provider || (strcmp(provider, PAY_PROVIDER_KAKAO) != 0 &&
                             strcmp(provider, PAY_PROVIDER_NAVER) != 0)) {
        *code = "invalid_provider";
        *message = "provider는 \"kakao\" 또는 \"naver\"여야 합니다.";
    } else if (!mq_payments_is_token(result_id, PAY_ID_MAX)) {
        *code = "invalid_result_id";
        *message = "resultId가 올바르지 않습니다.";
    } else if (json_object_object_get_ex(j, "coupon", &coupon) && coupon &&
               !json_object_is_type(coupon, json_type_null) &&
               (!json_object_is_type(coupon, json_type_string) ||
                (json_object_get_string_len(coupon) > 0 &&
                 !mq_payments_is_token(json_object_get_string(coupon), PAY_ID_MAX)))) {
        *code = "invalid_coupon";
        *message = "쿠폰 코드가 올바르지 않습니다.";
    } else {
        memcpy(in->provider, provider, strlen(provider) + 1);
        mq_payments_copy(in->result_id, sizeof in->result_id, result_id);
        if (coupon && json_object_is_type(coupon, json_type_string))
            mq_payments_copy(in->coupon, sizeof in->coupon, json_object_get_string(coupon));
        rc = MQ_OK;
    }
    json_object_put(j);
    return rc;
}

static int is_mobile(const char *ua)
{
    return ua && (strstr(ua, "Mobi") || strstr(ua, "Android") || strstr(ua, "iPhone") ||
                  strstr(ua, "iPad"));
}

static void on_ready_done(const mq_http_response *resp, void *ud)
{
    pay_op *op = ud;
    pay_state *st = op->st;
    op->in_http = 0;
    pay_order o = op->order;
    pay_result r;
    if (is_kakao(&o))
        mq_payments_kakao_parse_ready(resp, &r);
    else
        mq_payments_naver_parse_reserve(resp, &r);

    if (r.outcome == PAY_OK) {
        pay_patch p = {.tid = r.tid[0] ? r.tid : NULL,
                       .reserve_id = r.reserve_id[0] ? r.reserve_id : NULL};
        int rc = transition(st, op->req, &o, PAY_ST_READY, "", &p, MQ_STORE_DURABLE);
        char *url = NULL;
        if (rc == MQ_OK)
            url = is_kakao(&o) ? strdup(op->mobile && r.redirect_mobile[0] ? r.redirect_mobile
                                                                           : r.redirect_pc)
                               : mq_payments_naver_page_url(&st->cfg, r.reserve_id);
        if (rc == MQ_OK && url) {
            json_object *j = json_object_new_object();
            if (j) {
                json_object_object_add(j, "orderId", json_object_new_string(o.id));
                json_object_object_add(j, "redirectUrl", json_object_new_string(url));
            }
            respond_json(st, op->req, 200, mq_payments_json_take(j, NULL));
        } else {
            respond_error(st, op->req, 503, "store_unavailable",
                          "주문을 저장하지 못했습니다. 잠시 후 다시 시도해 주세요.");
        }
        free(url);
    } else {
        st->api->log(st->self, MQ_LOG_WARN, "%s \"%s\" failed: %s",
                     op_name(&o, "kakao ready", "naver reserve"), o.id, r.cause);
        /* Nothing was charged: the failure need not wait for the disk. */
        if (transition(st, NULL, &o, PAY_ST_FAILED, r.reason, NULL, 0) == MQ_OK) {
            count_failure(st, o.provider, r.reason);
            coupon_settle(st, &o, 0);
        }
        respond_error(st, op->req, 502,
                      strcmp(r.reason, PAY_R_TIMEOUT) == 0 ? "gateway_timeout" : "gateway_error",
                      "결제사 연결에 실패했습니다. 잠시 후 다시 시도해 주세요.");
    }
    op->req = NULL;
    op_free(op);
}

void mq_payments_ready(pay_state *st, mq_req *req, const pay_ready_input *in)
{
    const mq_api *api = st->api;
    if (!st->cfg.enabled) {
        respond_error(st, req, 503, "payments_disabled",
                      "결제가 일시 중지되었습니다. 잠시 후 다시 시도해 주세요.");
        return;
    }
    const char *problem = mq_payments_config_problem(&st->cfg, in->provider);
    if (!problem || *problem) {
        respond_error(st, req, 503, "payments_misconfigured",
                      "이 결제 수단은 지금 사용할 수 없습니다.");
        return;
    }
    const pay_product *p = mq_payments_catalog_find(&st->catalog, "premium_result");
    if (!p) {
        respond_error(st, req, 503, "payments_misconfigured", "상품 정보를 찾을 수 없습니다.");
        return;
    }

    /* The price: the catalog's, minus a coupon's discount. */
    long discount = 0;
    void *cud = NULL;
    const mq_coupons_service_v1 *coupons = NULL;
    if (in->coupon[0]) {
        coupons =
            api->service_lookup(st->self, MQ_COUPONS_SERVICE, MQ_COUPONS_SERVICE_VERSION, &cud);
        if (!coupons) {
            respond_error(st, req, 400, "coupon_unavailable", "지금은 쿠폰을 사용할 수 없습니다.");
            return;
        }
        const char *why = NULL;
        int rc = coupons->quote(cud, in->coupon, p->amount, &discount, &why);
        if (rc != MQ_OK || discount < 0 || discount >= p->amount) {
            respond_error(st, req, 400, "coupon_invalid",
                          rc != MQ_OK && why && *why ? why : "사용할 수 없는 쿠폰입니다.");
            return;
        }
    }

    pay_order o;
    memset(&o, 0, sizeof o);
    int64_t now = mq_payments_now_ms();
    char rnd[11];
    int rc = MQ_EINVAL;
    for (int tries = 0; tries < 3; tries++) {
        size_t len = 0;
        char *clash = NULL;
        if (api->random_hex(rnd, 5) != MQ_OK || mq_payments_order_id(o.id, now, rnd) != MQ_OK)
            break;
        clash = api->store_get(st->self, "orders", o.id, &len);
        free(clash);
        if (!clash) {
            rc = MQ_OK;
            break;
        }
    }
    if (rc != MQ_OK) {
        respond_error(st, req, 500, "order_id_failed", "일시적인 오류입니다. 다시 시도해 주세요.");
        return;
    }
    memcpy(o.provider, in->provider, sizeof o.provider);
    memcpy(o.result_id, in->result_id, sizeof o.result_id);
    memcpy(o.product, p->id, sizeof o.product);
    memcpy(o.coupon, in->coupon, sizeof o.coupon);
    o.amount = p->amount - discount;
    o.discount = discount;
    o.status = PAY_ST_CREATED;
    o.created_ms = now;
    if (mq_payments_sign(&st->signer, &o, o.sig) != MQ_OK) {
        respond_error(st, req, 500, "sign_failed", "일시적인 오류입니다. 다시 시도해 주세요.");
        return;
    }
    /* The order exists before the coupon is held: the coupons plugin reads
     * it to know whose use this is (its per-user limit). */
    if (write_order(st, NULL, &o, 0) != MQ_OK) {
        respond_error(st, req, 503, "store_unavailable",
                      "주문을 저장하지 못했습니다. 잠시 후 다시 시도해 주세요.");
        return;
    }
    if (coupons && coupons->hold(cud, o.coupon, o.id, PAY_COUPON_HOLD_TTL_MS) != MQ_OK) {
        /* Not a payment failure (nothing reached a gateway): no failure
         * metric, but the order does not stay "created" forever. */
        transition(st, NULL, &o, PAY_ST_FAILED, "coupon_refused", NULL, 0);
        respond_error(st, req, 400, "coupon_invalid", "사용할 수 없는 쿠폰입니다.");
        return;
    }

    pay_op *op = op_new(st, OP_READY, req, &o);
    pay_call call;
    rc = !op            ? MQ_ENOMEM
         : is_kakao(&o) ? mq_payments_kakao_ready(&st->cfg, &o, p, &call)
                        : mq_payments_naver_reserve(&st->cfg, &o, p, &call);
    if (op)
        op->mobile = is_mobile(api->req_header(req, "User-Agent"));
    if (rc == MQ_OK) {
        count(st, st->m.ready_calls, o.provider, 1);
        rc = op_call(op, &call, on_ready_done);
    }
    if (rc != MQ_OK) {
        api->log(st->self, MQ_LOG_ERROR, "%s \"%s\" failed: %s",
                 op_name(&o, "kakao ready", "naver reserve"), o.id, api->strerror(rc));
        if (transition(st, NULL, &o, PAY_ST_FAILED, PAY_R_GATEWAY, NULL, 0) == MQ_OK) {
            count_failure(st, o.provider, PAY_R_GATEWAY);
            coupon_settle(st, &o, 0);
        }
        if (op)
            op->req = NULL;
        op_free(op);
        respond_error(st, req, 502, "gateway_error",
                      "결제사 연결에 실패했습니다. 잠시 후 다시 시도해 주세요.");
        return;
    }
    api->req_suspend(req);
}

/* ---- returns ------------------------------------------------------------------------------ */

/* Load the order of a return and check its signature. Answers req and
 * returns non-zero when the return goes no further. */
static int load_verified(pay_state *st, mq_req *req, const char *provider, const char *order_id,
                         const char *sig, pay_order *o)
{
    int rc = mq_payments_order_id_valid(order_id) ? load_order(st, order_id, o) : MQ_ENOENT;
    if (rc == MQ_ENOENT) {
        respond_error(st, req, 404, "unknown_order", "주문을 찾을 수 없습니다.");
        return -1;
    }
    if (rc != MQ_OK) {
        respond_error(st, req, 500, "order_unreadable", "주문 정보를 읽지 못했습니다.");
        return -1;
    }
    if (!st->signer.secret) {
        respond_error(st, req, 503, "payments_misconfigured", "결제 설정에 문제가 있습니다.");
        return -1;
    }
    if (!mq_payments_verify(&st->signer, o, sig, mq_payments_now_ms())) {
        st->api->log(st->self, MQ_LOG_WARN, "verify order \"%s\" failed: bad signature from %s",
                     o->id, st->api->req_client_ip(req) ? st->api->req_client_ip(req) : "?");
        respond_error(st, req, 403, "bad_signature", "주문 서명이 올바르지 않습니다.");
        return -1;
    }
    if (strcmp(o->provider, provider) != 0) {
        respond_error(st, req, 400, "wrong_provider", "다른 결제사의 주문입니다.");
        return -1;
    }
    return 0;
}

/* A return for an order whose approval is not ours to start: answer by
 * its status. Returns 1 when it answered. */
static int settled_return(pay_state *st, mq_req *req, const pay_order *o)
{
    if (o->status == PAY_ST_APPROVING || op_busy(st, o->id, 0)) {
        start_wait(st, req, o);
        return 1;
    }
    if (o->status == PAY_ST_CREATED) {
        respond_error(st, req, 409, "wrong_state", "결제 준비가 끝나지 않은 주문입니다.");
        return 1;
    }
    if (o->status != PAY_ST_READY) {
        respond_by_status(st, req, o);
        return 1;
    }
    return 0;
}

/* ready -> canceled (user_cancel) or failed: the buyer left the gateway. */
static void end_at_gateway(pay_state *st, mq_req *req, pay_order *o, pay_status to,
                           const char *reason)
{
    int rc = transition(st, req, o, to, reason, NULL, MQ_STORE_DURABLE);
    if (rc == MQ_OK) {
        count_failure(st, o->provider, reason);
        if (to == PAY_ST_CANCELED)
            count(st, st->m.cancels, o->provider, 1);
        coupon_settle(st, o, 0);
        st->api->log(st->self, MQ_LOG_INFO, "order \"%s\" %s at %s: %s", o->id,
                     mq_payments_status_name(to), o->provider, reason);
    }
    if (rc == MQ_OK || rc == MQ_ESTATE)
        respond_by_status(st, req, o);
    else
        respond_error(st, req, 503, "store_unavailable",
                      "결제 상태를 저장하지 못했습니다. 잠시 후 다시 시도해 주세요.");
}

void mq_payments_kakao_return(pay_state *st, mq_req *req, pay_kakao_return kind,
                              const char *order_id, const char *sig, const char *pg_token)
{
    pay_order o;
    if (load_verified(st, req, PAY_PROVIDER_KAKAO, order_id, sig, &o) != 0 ||
        settled_return(st, req, &o))
        return;
    if (kind == PAY_KAKAO_CANCEL) {
        end_at_gateway(st, req, &o, PAY_ST_CANCELED, PAY_R_USER_CANCEL);
    } else if (kind == PAY_KAKAO_FAIL) {
        end_at_gateway(st, req, &o, PAY_ST_FAILED, PAY_R_DECLINED);
    } else if (!mq_payments_is_token(pg_token, PAY_ID_MAX)) {
        respond_error(st, req, 400, "invalid_pg_token", "pg_token이 올바르지 않습니다.");
    } else {
        start_approve(st, req, &o, pg_token);
    }
}

void mq_payments_naver_return(pay_state *st, mq_req *req, const char *order_id, const char *sig,
                              const char *result_code, const char *payment_id,
                              const char *result_message)
{
    pay_order o;
    if (load_verified(st, req, PAY_PROVIDER_NAVER, order_id, sig, &o) != 0 ||
        settled_return(st, req, &o))
        return;
    const char *reason = NULL;
    if (mq_payments_naver_return_outcome(result_code, result_message, &reason) != PAY_OK) {
        int cancel = strcmp(reason, PAY_R_USER_CANCEL) == 0;
        end_at_gateway(st, req, &o, cancel ? PAY_ST_CANCELED : PAY_ST_FAILED, reason);
    } else if (!mq_payments_is_token(payment_id, 50)) {
        respond_error(st, req, 400, "invalid_payment_id", "paymentId가 올바르지 않습니다.");
    } else {
        start_approve(st, req, &o, payment_id);
    }
}

/* ---- status routes ------------------------------------------------------------------------ */

void mq_payments_order_status(pay_state *st, mq_req *req, const char *order_id)
{
    pay_order o;
    int rc = mq_payments_order_id_valid(order_id) ? load_order(st, order_id, &o) : MQ_ENOENT;
    if (rc == MQ_ENOENT) {
        respond_error(st, req, 404, "unknown_order", "주문을 찾을 수 없습니다.");
        return;
    }
    if (rc != MQ_OK) {
        respond_error(st, req, 500, "order_unreadable", "주문 정보를 읽지 못했습니다.");
        return;
    }
    st->api->resp_header(req, "Cache-Control", "no-store");
    respond_json(st, req, 200, mq_payments_order_public_json(&o));
}

void mq_payments_unlocked(pay_state *st, mq_req *req, const char *result_id)
{
    if (!mq_payments_is_token(result_id, PAY_ID_MAX)) {
        respond_error(st, req, 400, "invalid_result_id", "resultId가 올바르지 않습니다.");
        return;
    }
    int yes = mq_payments_is_unlocked(st, result_id);
    st->api->resp_header(req, "Cache-Control", "no-store");
    const char *body = yes ? "{\"premium\":true}" : "{\"premium\":false}";
    st->api->resp_send(req, 200, "application/json", body, strlen(body));
}

/* ---- refunds (the payments service) -----------------------------------------------------------
 */

static void refund_done(pay_op *op, int status, const char *message)
{
    if (op->done)
        op->done(status, message, op->done_ud);
    op_free(op);
}

static void refund_recorded(pay_op *op)
{
    pay_state *st = op->st;
    pay_order o = op->order;
    int rc = transition(st, NULL, &o, PAY_ST_REFUNDED, "admin_refund", NULL, MQ_STORE_DURABLE);
    if (rc == MQ_ESTATE && o.status == PAY_ST_REFUNDED) {
        refund_done(op, MQ_OK, "already refunded");
        return;
    }
    if (rc != MQ_OK) {
        st->api->log(st->self, MQ_LOG_ERROR,
                     "refund \"%s\" failed: canceled at %s but not recorded (%s)", o.id, o.provider,
                     st->api->strerror(rc));
        refund_done(op, rc == MQ_ESTATE ? MQ_ESTATE : MQ_EIO,
                    "canceled at the gateway, but the order could not be updated");
        return;
    }
    count(st, st->m.cancels, o.provider, 1);
    unlock_update(st, NULL, &o, -1);
    char *payload = mq_payments_order_to_json(&o);
    if (payload) {
        st->api->event_publish(st->self, "order.refunded", payload, strlen(payload));
        free(payload);
    }
    st->api->log(st->self, MQ_LOG_INFO, "order \"%s\" refunded: %s %ld KRW (%s)", o.id, o.provider,
                 op->cancel_amount, op->refund_reason);
    refund_done(op, MQ_OK, "refunded");
}

static void on_refund_lookup(const mq_http_response *resp, void *ud)
{
    pay_op *op = ud;
    op->in_http = 0;
    pay_result r;
    if (is_kakao(&op->order))
        mq_payments_kakao_parse_order(resp, &r);
    else
        mq_payments_naver_parse_history(resp, op->order.payment_id, &r);
    if (r.canceled)
        refund_recorded(op); /* our cancel went through after all */
    else
        refund_done(op, MQ_EIO, op->cancel_cause);
}

static void on_refund_cancel(const mq_http_response *resp, void *ud)
{
    pay_op *op = ud;
    pay_state *st = op->st;
    op->in_http = 0;
    pay_result r;
    if (is_kakao(&op->order))
        mq_payments_kakao_parse_cancel(resp, &r);
    else
        mq_payments_naver_parse_cancel(resp, &r);
    if (r.outcome == PAY_OK) {
        refund_recorded(op);
        return;
    }
    const char *what = op_name(&op->order, "kakao cancel", "naver cancel");
    st->api->log(st->self, MQ_LOG_WARN, "%s \"%s\" failed: %s", what, op->order.id, r.cause);
    snprintf(op->cancel_cause, sizeof op->cancel_cause, "%.20s failed: %.280s", what, r.cause);
    /* Refused or unknown: was it canceled already (an earlier refund whose
     * answer was lost)? One lookup tells. */
    pay_call call;
    int rc = is_kakao(&op->order) ? mq_payments_kakao_order(&st->cfg, &op->order, &call)
                                  : mq_payments_naver_history(&st->cfg, &op->order, &call);
    if (rc == MQ_OK)
        rc = op_call(op, &call, on_refund_lookup);
    if (rc != MQ_OK)
        refund_done(op, MQ_EIO, op->cancel_cause);
}

int mq_payments_refund(void *ud, const char *order_id, const char *reason,
                       void (*done)(int status, const char *message, void *cb_ud), void *cb_ud)
{
    pay_state *st = ud;
    if (!st || !mq_payments_order_id_valid(order_id))
        return order_id && *order_id ? MQ_ENOENT : MQ_EINVAL;
    pay_order o;
    int rc = load_order(st, order_id, &o);
    if (rc != MQ_OK)
        return rc == MQ_ENOENT ? MQ_ENOENT : MQ_EIO;
    if (o.status != PAY_ST_APPROVED || op_busy(st, o.id, 1))
        return MQ_ESTATE;
    const char *problem = mq_payments_config_problem(&st->cfg, o.provider);
    if (!problem || *problem)
        return MQ_EIO;
    pay_op *op = op_new(st, OP_REFUND, NULL, &o);
    if (!op)
        return MQ_ENOMEM;
    op->done = done;
    op->done_ud = cb_ud;
    op->cancel_amount = o.approved_amount > 0 ? o.approved_amount : o.amount;
    /* NaverPay takes at most 256 bytes of reason; cut on a UTF-8 boundary. */
    mq_payments_copy(op->refund_reason, sizeof op->refund_reason, "");
    if (reason) {
        size_t n = strlen(reason);
        if (n > sizeof op->refund_reason - 1) {
            n = sizeof op->refund_reason - 1;
            while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
                n--;
        }
        memcpy(op->refund_reason, reason, n);
        op->refund_reason[n] = '\0';
    }
    pay_call call;
    rc = is_kakao(&o)
             ? mq_payments_kakao_cancel(&st->cfg, &o, op->cancel_amount, &call)
             : mq_payments_naver_cancel(&st->cfg, &o, op->cancel_amount,
                                        op->refund_reason[0] ? op->refund_reason : "admin refund",
                                        &call);
    if (rc == MQ_OK)
        rc = op_call(op, &call, on_refund_cancel);
    if (rc != MQ_OK) {
        op_free(op);
        return rc;
    }
    return MQ_OK;
}

/* ---- init and fini ------------------------------------------------------------------------ */

int mq_payments_metrics_init(pay_state *st)
{
    const mq_api *api = st->api;
    static const char *const by_provider[] = {"provider", NULL};
    static const char *const by_reason[] = {"provider", "reason", NULL};
    pay_metrics *m = &st->m;
    m->ready_calls =
        api->metric_register(st->self, MQ_COUNTER, "payment_ready_calls_total",
                             "Payment ready/reserve calls to the gateway.", by_provider, NULL, 0);
    m->approvals = api->metric_register(st->self, MQ_COUNTER, "payment_approval_total",
                                        "Payments approved.", by_provider, NULL, 0);
    m->failures = api->metric_register(st->self, MQ_COUNTER, "payment_failure_total",
                                       "Payments failed, by reason.", by_reason, NULL, 0);
    m->cancels = api->metric_register(st->self, MQ_COUNTER, "payment_cancel_total",
                                      "Payments canceled by the buyer or refunded by an admin.",
                                      by_provider, NULL, 0);
    m->revenue =
        api->metric_register(st->self, MQ_COUNTER, "revenue_krw_total",
                             "Revenue of approved payments, in KRW.", by_provider, NULL, 0);
    m->sign_calls = api->metric_register(st->self, MQ_COUNTER, "order_sign_calls_total",
                                         "Order signatures computed (HMAC-SHA256).", NULL, NULL, 0);
    if (!m->ready_calls || !m->approvals || !m->failures || !m->cancels || !m->revenue ||
        !m->sign_calls)
        return MQ_EEXIST;
    /* Every series exists from the start, so rate() works at once. */
    const char *providers[] = {PAY_PROVIDER_KAKAO, PAY_PROVIDER_NAVER};
    for (size_t i = 0; i < 2; i++) {
        count(st, m->ready_calls, providers[i], 0);
        count(st, m->approvals, providers[i], 0);
        count(st, m->cancels, providers[i], 0);
        count(st, m->revenue, providers[i], 0);
        for (size_t r = 0; mq_payments_reasons[r]; r++) {
            const char *lv[] = {providers[i], mq_payments_reasons[r]};
            api->metric_add(m->failures, lv, 0);
        }
    }
    api->metric_add(m->sign_calls, NULL, 0);
    return MQ_OK;
}

typedef struct resume_scan {
    pay_state *st;
    char (*ids)[PAY_ORDER_ID_LEN + 1];
    size_t n, cap;
    int oom;
} resume_scan;

static int resume_visit(const char *key, const char *json, size_t len, void *ud)
{
    resume_scan *rs = ud;
    pay_order o;
    if (mq_payments_order_from_json(json, len, &o) != MQ_OK)
        return 0;
    if (o.status == PAY_ST_APPROVED && mq_payments_set_add(&rs->st->unlocked, o.result_id) != MQ_OK)
        rs->oom = 1;
    if (o.status == PAY_ST_APPROVING) {
        if (rs->n == rs->cap) {
            size_t cap = rs->cap ? rs->cap * 2 : 16;
            void *ids = realloc(rs->ids, cap * sizeof *rs->ids);
            if (!ids) {
                rs->oom = 1;
                return 1;
            }
            rs->ids = ids;
            rs->cap = cap;
        }
        memcpy(rs->ids[rs->n++], o.id, PAY_ORDER_ID_LEN + 1);
    }
    return 0;
}

int mq_payments_resume(pay_state *st)
{
    resume_scan rs = {.st = st};
    int rc = st->api->store_scan(st->self, "orders", MQ_SCAN_LATEST, resume_visit, &rs);
    if (rc == MQ_ENOENT)
        rc = MQ_OK; /* no orders yet */
    if (rc == MQ_OK && rs.oom)
        rc = MQ_ENOMEM;
    for (size_t i = 0; rc == MQ_OK && i < rs.n; i++) {
        pay_order o;
        if (load_order(st, rs.ids[i], &o) != MQ_OK)
            continue;
        pay_op *op = op_new(st, OP_RECONCILE, NULL, &o);
        if (!op) {
            rc = MQ_ENOMEM;
            break;
        }
        /* Not at once: a generation being replaced may be finishing this
         * very approval; the first lookup comes after one interval. */
        op->started_ms = mq_payments_now_ms();
        op->gap_ms = (int64_t)st->cfg.reconcile_ms;
        op->timer = st->api->timer_start(st->self, (uint64_t)op->gap_ms, 0, on_reconcile_timer, op);
        if (!op->timer) {
            op_free(op);
            rc = MQ_ENOMEM;
            break;
        }
        op->gap_ms *= 2;
        st->api->log(st->self, MQ_LOG_INFO,
                     "order \"%s\" was left approving (%s): reconciling with %s", o.id,
                     o.reason[0] ? o.reason : "in flight", o.provider);
    }
    free(rs.ids);
    return rc;
}

void mq_payments_state_cleanup(pay_state *st)
{
    /* Transfers and timers of a finalizing generation are already cancelled
     * without callbacks; requests were answered by the host. */
    while (st->ops) {
        pay_op *op = st->ops;
        op->req = NULL;
        op_free(op);
    }
    mq_payments_set_cleanup(&st->unlocked);
    mq_payments_catalog_cleanup(&st->catalog);
    mq_payments_config_cleanup(&st->cfg);
}
