/*
 * pages.c -- the browser side: the approval pages a user is sent to after
 * ready / reserve, and the redirects their buttons make.
 *
 *   GET /sim/kakao/{tid}                 page (next_redirect_*_url point here)
 *   GET /sim/kakao/{tid}/approve         302 approval_url + pg_token=<20 hex>
 *                                        (?method=CARD|MONEY picks the means)
 *   GET /sim/kakao/{tid}/cancel          302 cancel_url
 *   GET /sim/kakao/{tid}/fail            302 fail_url
 *   GET /sim/naver/{reserveId}           page (also /payments/{reserveId})
 *   GET /sim/naver/{reserveId}/approve   302 returnUrl?resultCode=Success&paymentId=..
 *                                        (?means=CARD|BANK)
 *   GET /sim/naver/{reserveId}/cancel    302 returnUrl?resultCode=Fail
 *                                        &resultMessage=userCancel&reserveId=..
 *   GET /sim/naver/{reserveId}/fail      302 .. resultMessage=OwnerAuthFail ..
 *   GET /sim/naver/{reserveId}/expire    302 .. resultMessage=paymentTimeExpire ..
 *
 * The buttons are plain links to the action URLs, so tests "click" with a
 * GET and read the Location header. POST works too. A user decides once:
 * the same action again replays the same redirect (a browser reload or a
 * double return), another action is refused with 409. After the payment
 * window the approve action sends the user to the failure URL instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "pgsim.h"

/* ---- HTML ---------------------------------------------------------------------- */

static void add_escaped(struct evbuffer *b, const char *s)
{
    char *e = evhttp_htmlescape(s ? s : "");
    if (e)
        evbuffer_add(b, e, strlen(e));
    free(e);
}

static void fmt_won(int64_t n, char *buf, size_t len)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(n < 0 ? -n : n));
    size_t nd = strlen(digits), o = 0;
    if (n < 0 && o + 1 < len)
        buf[o++] = '-';
    for (size_t i = 0; i < nd && o + 2 < len; i++) {
        if (i && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static void page_head(struct evbuffer *b, const char *title)
{
    evbuffer_add_printf(
        b,
        "<!doctype html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<title>%s (mq-pgsim)</title><style>"
        "body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}"
        "dt{color:#666;font-size:.85rem}dd{margin:0 0 .6rem}"
        ".sim{background:#fff3cd;padding:.4rem .6rem;font-size:.85rem}"
        ".b{display:inline-block;margin:.3rem .3rem 0 0;padding:.6rem 1rem;border:1px solid #888;"
        "border-radius:.4rem;text-decoration:none;color:#000}.ok{background:#fee500}"
        "</style></head><body><main><h1>%s</h1>"
        "<p class=\"sim\">mq-pgsim 결제 시뮬레이터입니다. 실제 결제는 일어나지 않습니다.</p><dl>",
        title, title);
}

static void page_row(struct evbuffer *b, const char *label, const char *value)
{
    evbuffer_add_printf(b, "<dt>%s</dt><dd>", label);
    add_escaped(b, value);
    evbuffer_add(b, "</dd>", 5);
}

/* The three buttons (plus NaverPay's expiry): links to the actions under
 * the public base, the same base the gateway's redirect URLs use. */
static void page_buttons(struct pgsim_req *r, struct evbuffer *b, const char *provider,
                         const char *id)
{
    static const struct {
        const char *action, *label;
    } buttons[] = {{"approve", "결제 승인 (approve)"},
                   {"cancel", "취소 (cancel)"},
                   {"fail", "실패 (fail)"},
                   {"expire", "시간 초과 (expire)"}};
    int n = strcmp(provider, "naver") == 0 ? 4 : 3;
    evbuffer_add(b, "</dl><p>", 8);
    for (int i = 0; i < n; i++) {
        evbuffer_add_printf(b, "<a class=\"b%s\" id=\"%s\" href=\"", i == 0 ? " ok" : "",
                            buttons[i].action);
        add_escaped(b, r->sim->public_base);
        evbuffer_add_printf(b, "/sim/%s/", provider);
        add_escaped(b, id);
        evbuffer_add_printf(b, "/%s\">%s</a>", buttons[i].action, buttons[i].label);
    }
    evbuffer_add_printf(b, "</p></main></body></html>\n");
}

static void send_page(struct pgsim_req *r, int status, struct evbuffer *b)
{
    size_t len = evbuffer_get_length(b);
    const char *html = (const char *)evbuffer_pullup(b, -1);
    pgsim_reply_text(r, status, "text/html; charset=utf-8", html ? html : "", html ? len : 0);
    evbuffer_free(b);
}

static void message_page(struct pgsim_req *r, int status, const char *title, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        pgsim_reply_text(r, 500, "text/plain", "out of memory", 13);
        return;
    }
    page_head(b, title);
    evbuffer_add(b, "</dl><p>", 8);
    add_escaped(b, msg);
    evbuffer_add_printf(b, "</p></main></body></html>\n");
    send_page(r, status, b);
}

/* ---- request parts ------------------------------------------------------------- */

/* Split "{id}" or "{id}/{action}". 0 ok, -1 malformed. */
static int split(const char *rest, char *id, size_t idlen, const char **action)
{
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= idlen)
        return -1;
    memcpy(id, rest, n);
    id[n] = '\0';
    *action = slash ? slash + 1 : NULL;
    if (*action && (!**action || strchr(*action, '/')))
        return -1;
    return 0;
}

/* A query parameter of the request, copied into buf; NULL when absent. */
static const char *query_param(struct pgsim_req *r, const char *key, char *buf, size_t len)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!q)
        return NULL;
    struct evkeyvalq args;
    TAILQ_INIT(&args);
    const char *found = NULL;
    if (evhttp_parse_query_str(q, &args) == 0) {
        const char *v = evhttp_find_header(&args, key);
        if (v) {
            snprintf(buf, len, "%s", v);
            found = buf;
        }
    }
    evhttp_clear_headers(&args);
    return found;
}

static int page_method_ok(struct pgsim_req *r)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->ev);
    if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_POST || m == EVHTTP_REQ_HEAD)
        return 1;
    pgsim_add_header(r, "Allow", "GET, POST");
    message_page(r, 405, "mq-pgsim", "GET 또는 POST만 지원합니다.");
    return 0;
}

/* A decision already taken: replay it (same action) or refuse (another). */
static int replay_decision(struct pgsim_req *r, json_object *rec, const char *action,
                           const char *title)
{
    const char *decision = pgsim_rec_str(rec, "decision");
    const char *redirect = pgsim_rec_str(rec, "redirect");
    if (!decision || !redirect)
        return 0;
    /* A window that ran out answers every action the same way. */
    if (strcmp(decision, action) == 0 || strcmp(decision, "expire") == 0) {
        pgsim_reply_redirect(r, redirect);
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "이미 처리된 결제입니다 (%s). 다른 동작은 할 수 없습니다.",
                 decision);
        message_page(r, 409, title, msg);
    }
    return 1;
}

static void decide(struct pgsim *sim, json_object *rec, const char *action, const char *redirect)
{
    pgsim_rec_set_str(rec, "decision", action);
    pgsim_rec_set_str(rec, "redirect", redirect);
    pgsim_store_dirty(sim);
}

/* ---- KakaoPay ------------------------------------------------------------------ */

static const char KAKAO_TITLE[] = "카카오페이 결제";

static void kakao_view(struct pgsim_req *r, json_object *rec, const char *tid)
{
    const char *status = pgsim_rec_str(rec, "status");
    if (strcmp(status, "READY") == 0) {
        pgsim_rec_set_str(rec, "status", "OPEN_PAYMENT");
        pgsim_store_dirty(r->sim);
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        pgsim_reply_text(r, 500, "text/plain", "out of memory", 13);
        return;
    }
    char won[40], amount[48];
    fmt_won(pgsim_rec_i64(pgsim_rec_get(rec, "amount"), "total"), won, sizeof won);
    snprintf(amount, sizeof amount, "%s원", won);
    page_head(b, KAKAO_TITLE);
    page_row(b, "상품명", pgsim_rec_str(rec, "item_name"));
    page_row(b, "결제 금액", amount);
    page_row(b, "주문 번호", pgsim_rec_str(rec, "partner_order_id"));
    page_row(b, "상태", pgsim_rec_str(rec, "status"));
    page_row(b, "거래 번호 (tid)", tid);
    page_buttons(r, b, "kakao", tid);
    send_page(r, 200, b);
}

void pgsim_page_kakao(struct pgsim_req *r, const char *rest)
{
    struct pgsim *sim = r->sim;
    char tid[64], buf[16];
    const char *action;
    if (!page_method_ok(r))
        return;
    json_object *rec = NULL;
    if (split(rest, tid, sizeof tid, &action) == 0)
        rec = pgsim_rec_get(pgsim_store_table(sim, "kakao"), tid);
    if (!rec) {
        message_page(r, 404, KAKAO_TITLE, "결제를 찾을 수 없습니다.");
        return;
    }
    int expired = pgsim_kakao_expire(sim, rec);
    if (!action) {
        kakao_view(r, rec, tid);
        return;
    }
    if (strcmp(action, "approve") != 0 && strcmp(action, "cancel") != 0 &&
        strcmp(action, "fail") != 0) {
        message_page(r, 404, KAKAO_TITLE, "알 수 없는 동작입니다.");
        return;
    }
    if (expired) {
        pgsim_reply_redirect(r, pgsim_rec_str(rec, "fail_url"));
        return;
    }
    if (replay_decision(r, rec, action, KAKAO_TITLE))
        return;
    const char *status = pgsim_rec_str(rec, "status");
    if (strcmp(status, "READY") != 0 && strcmp(status, "OPEN_PAYMENT") != 0) {
        message_page(r, 409, KAKAO_TITLE, "이 결제는 더 이상 진행할 수 없습니다.");
        return;
    }

    if (strcmp(action, "approve") == 0) {
        const char *want = pgsim_rec_str(rec, "requested_payment_method_type");
        const char *method = query_param(r, "method", buf, sizeof buf);
        if (method && strcmp(method, "CARD") != 0 && strcmp(method, "MONEY") != 0) {
            message_page(r, 400, KAKAO_TITLE, "method는 CARD 또는 MONEY입니다.");
            return;
        }
        if (method && want && strcmp(method, want) != 0) {
            message_page(r, 409, KAKAO_TITLE, "가맹점이 지정한 결제 수단만 쓸 수 있습니다.");
            return;
        }
        char token[21], query[40];
        pgsim_random_hex(token, 20);
        snprintf(query, sizeof query, "pg_token=%s", token);
        char *url = pgsim_url_with_query(pgsim_rec_str(rec, "approval_url"), query);
        if (!url) {
            message_page(r, 500, KAKAO_TITLE, "out of memory");
            return;
        }
        json_object_object_add(pgsim_store_table(sim, "kakao_tokens"), token,
                               json_object_new_string(tid));
        pgsim_rec_set_str(rec, "pg_token", token);
        pgsim_rec_set_str(rec, "status", "AUTH_PASSWORD");
        pgsim_rec_set_str(rec, "payment_method_type", method ? method : want ? want : "CARD");
        decide(sim, rec, action, url);
        pgsim_reply_redirect(r, url);
        free(url);
    } else if (strcmp(action, "cancel") == 0) {
        pgsim_rec_set_str(rec, "status", "QUIT_PAYMENT");
        decide(sim, rec, action, pgsim_rec_str(rec, "cancel_url"));
        pgsim_reply_redirect(r, pgsim_rec_str(rec, "cancel_url"));
    } else {
        pgsim_rec_set_str(rec, "status", "FAIL_AUTH_PASSWORD");
        decide(sim, rec, action, pgsim_rec_str(rec, "fail_url"));
        pgsim_reply_redirect(r, pgsim_rec_str(rec, "fail_url"));
    }
}

/* ---- NaverPay ------------------------------------------------------------------ */

static const char NAVER_TITLE[] = "네이버페이 결제";

static void naver_view(struct pgsim_req *r, json_object *rec, const char *id)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        pgsim_reply_text(r, 500, "text/plain", "out of memory", 13);
        return;
    }
    char won[40], amount[48];
    fmt_won(pgsim_rec_i64(rec, "totalPayAmount"), won, sizeof won);
    snprintf(amount, sizeof amount, "%s원", won);
    page_head(b, NAVER_TITLE);
    page_row(b, "상품명", pgsim_rec_str(rec, "productName"));
    page_row(b, "결제 금액", amount);
    page_row(b, "가맹점 주문 번호", pgsim_rec_str(rec, "merchantPayKey"));
    page_row(b, "상태", pgsim_rec_str(rec, "state"));
    page_row(b, "예약 번호 (reserveId)", id);
    page_buttons(r, b, "naver", id);
    send_page(r, 200, b);
}

static void naver_fail(struct pgsim_req *r, json_object *rec, const char *action, const char *state,
                       const char *message)
{
    char query[200];
    snprintf(query, sizeof query, "resultCode=Fail&resultMessage=%s&reserveId=%s", message,
             pgsim_rec_str(rec, "reserveId"));
    char *url = pgsim_url_with_query(pgsim_rec_str(rec, "returnUrl"), query);
    if (!url) {
        message_page(r, 500, NAVER_TITLE, "out of memory");
        return;
    }
    pgsim_rec_set_str(rec, "state", state);
    decide(r->sim, rec, action, url);
    pgsim_reply_redirect(r, url);
    free(url);
}

void pgsim_page_naver(struct pgsim_req *r, const char *rest)
{
    struct pgsim *sim = r->sim;
    char id[64], buf[16];
    const char *action;
    if (!page_method_ok(r))
        return;
    json_object *rec = NULL;
    if (split(rest, id, sizeof id, &action) == 0)
        rec = pgsim_rec_get(pgsim_store_table(sim, "naver"), id);
    if (!rec) {
        message_page(r, 404, NAVER_TITLE, "결제를 찾을 수 없습니다.");
        return;
    }
    pgsim_naver_expire(sim, rec);
    if (!action) {
        naver_view(r, rec, id);
        return;
    }
    if (strcmp(action, "approve") != 0 && strcmp(action, "cancel") != 0 &&
        strcmp(action, "fail") != 0 && strcmp(action, "expire") != 0) {
        message_page(r, 404, NAVER_TITLE, "알 수 없는 동작입니다.");
        return;
    }
    if (replay_decision(r, rec, action, NAVER_TITLE))
        return;
    const char *state = pgsim_rec_str(rec, "state");
    if (strcmp(state, "EXPIRED") == 0 || strcmp(action, "expire") == 0) {
        naver_fail(r, rec, "expire", "EXPIRED", "paymentTimeExpire");
        return;
    }
    if (strcmp(state, "RESERVED") != 0) {
        message_page(r, 409, NAVER_TITLE, "이 결제는 더 이상 진행할 수 없습니다.");
        return;
    }
    if (strcmp(action, "cancel") == 0) {
        naver_fail(r, rec, action, "USER_CANCELED", "userCancel");
        return;
    }
    if (strcmp(action, "fail") == 0) {
        naver_fail(r, rec, action, "AUTH_FAILED", "OwnerAuthFail");
        return;
    }

    const char *means = query_param(r, "means", buf, sizeof buf);
    if (means && strcmp(means, "CARD") != 0 && strcmp(means, "BANK") != 0) {
        message_page(r, 400, NAVER_TITLE, "means는 CARD 또는 BANK입니다.");
        return;
    }
    char pid[21], query[80];
    pgsim_new_naver_id(sim, "NP", pid);
    snprintf(query, sizeof query, "resultCode=Success&paymentId=%s", pid);
    char *url = pgsim_url_with_query(pgsim_rec_str(rec, "returnUrl"), query);
    if (!url) {
        message_page(r, 500, NAVER_TITLE, "out of memory");
        return;
    }
    json_object_object_add(pgsim_store_table(sim, "naver_payment_ids"), pid,
                           json_object_new_string(id));
    pgsim_rec_set_str(rec, "paymentId", pid);
    pgsim_rec_set_str(rec, "state", "AUTHORIZED");
    pgsim_rec_set_str(rec, "primaryPayMeans", means ? means : "CARD");
    pgsim_rec_set_i64(rec, "authorized_at", pgsim_now(sim));
    decide(sim, rec, action, url);
    pgsim_reply_redirect(r, url);
    free(url);
}
