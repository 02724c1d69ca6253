/*
 * quiz.c -- the quiz plugin: pages, quiz submission, static files and CSP
 * reports of mindquiz.app.
 *
 *   GET  /                      landing page (the quiz list)
 *   GET  /app/quiz/:slug        a quiz (a plain form; app.js steps through it)
 *   POST /app/quiz/:slug        submit answers (form or JSON {"answers":[...]}):
 *                               the result type is computed here, stored
 *                               under a new public id, 303 -> /app/result/<id>
 *                               (JSON clients also get {"id","url"});
 *                               rate-limited per client IP: 429 + Retry-After
 *   GET  /app/result/:id        a result with Open Graph/Twitter meta, share
 *                               links and the premium section
 *   GET  /static/<path>          assets/static from memory: ETag, 304, cache
 *   GET  /robots.txt            static robots.txt
 *   POST /api/csp-report        CSP reports: counted, 204
 *
 * Config (.env): PUBLIC_BASE_URL, CSP_MODE (report-only|enforce),
 * GA4_MEASUREMENT_ID, PAYMENTS_ENABLED, QUIZ_SUBMIT_PER_MIN (30),
 * QUIZ_SUBMIT_BURST (10), CSP_REPORTS_PER_MIN (60), CSP_REPORTS_BURST (30).
 * Metrics: csp_reports_total, quiz_submissions_total{quiz,type},
 * quiz_rate_limited_total{route}.
 *
 * This file wires things up; pages.c renders, quizdef.c scores, statics.c
 * serves files, web.c builds the policy and reads bodies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq_plugin.h"
#include "pages.h"
#include "payments_service.h"
#include "referral_service.h"
#include "results.h"
#include "web.h"

typedef struct quiz_state {
    const mq_api *api;
    mq_plugin *self;
    mq_quiz_site site;
    mq_quiz_buf page;        /* the page being rendered, reused across requests */
    mq_quiz_buf csp;         /* the CSP header being built, reused */
    mq_quiz_pagecache cache; /* rendered pages with a hole for the nonce */
    /* CSPRNG output for nonces, drawn 16 nonces at a time (one random_hex
     * call per page cost 3% of the host's CPU); each byte is used once. */
    char nonce_pool[2 * 16 * MQ_QUIZ_NONCE_BYTES + 1];
    size_t nonce_pos;
    int csp_enforce;
    int pay_enabled;
    double submit_per_min, submit_burst;
    double csp_per_min, csp_burst;
    mq_metric *m_csp_reports, *m_submissions, *m_limited;
} quiz_state;

/* ---- responses ---------------------------------------------------------------------- */

/* Headers every response of this plugin carries. */
static void base_headers(quiz_state *st, mq_req *req)
{
    st->api->resp_header(req, "X-Content-Type-Options", "nosniff");
    st->api->resp_header(req, "Referrer-Policy", "strict-origin-when-cross-origin");
}

/* Send st->page as an HTML page with the security headers for `nonce`. */
static void send_page(quiz_state *st, mq_req *req, int status, const char *nonce)
{
    const mq_api *api = st->api;
    if (st->page.oom) {
        api->resp_error(req, 500, "internal", "페이지를 만들지 못했어요.");
        return;
    }
    mq_quiz_buf_reset(&st->csp);
    mq_quiz_csp_policy(&st->csp, st->site.ga4_id[0] != '\0', nonce, st->csp_enforce);
    if (st->csp.oom) {
        api->resp_error(req, 500, "internal", "페이지를 만들지 못했어요.");
        return;
    }
    if (st->csp_enforce) {
        api->resp_header(req, "Content-Security-Policy", st->csp.data);
    } else {
        /* frame-ancestors only works enforced: keep that part enforced. */
        api->resp_header(req, "Content-Security-Policy", MQ_QUIZ_CSP_FRAME_ONLY);
        api->resp_header(req, "Content-Security-Policy-Report-Only", st->csp.data);
    }
    api->resp_header(req, "X-Frame-Options", "DENY");
    base_headers(st, req);
    api->resp_header(req, "Cache-Control", "private, no-cache");
    api->resp_send(req, status, "text/html; charset=utf-8", st->page.data, st->page.len);
}

/* A fresh nonce: 32 hex digits of CSPRNG output never handed out before. */
static int new_nonce(quiz_state *st, char nonce[2 * MQ_QUIZ_NONCE_BYTES + 1])
{
    const size_t n = 2 * MQ_QUIZ_NONCE_BYTES, pool = sizeof st->nonce_pool - 1;
    if (st->nonce_pos == 0 || st->nonce_pos + n > pool) {
        int rc = st->api->random_hex(st->nonce_pool, pool / 2);
        if (rc != MQ_OK)
            return rc;
        st->nonce_pos = 0;
    }
    memcpy(nonce, st->nonce_pool + st->nonce_pos, n);
    nonce[n] = '\0';
    st->nonce_pos += n;
    if (st->nonce_pos >= pool)
        st->nonce_pos = 0; /* empty: refill next time */
    return MQ_OK;
}

static void send_error_page(quiz_state *st, mq_req *req, int status, const char *title,
                            const char *message)
{
    char nonce[2 * MQ_QUIZ_NONCE_BYTES + 1];
    if (new_nonce(st, nonce) != MQ_OK) {
        st->api->resp_error(req, 500, "internal", "페이지를 만들지 못했어요.");
        return;
    }
    mq_quiz_buf_reset(&st->page);
    mq_quiz_render_error(&st->site, st->api->req_path(req), title, message, nonce, &st->page);
    send_page(st, req, status, nonce);
}

/* Renders one page into out: with holes for the cache (nonce NULL), or
 * whole with the nonce. */
typedef int (*render_fn)(quiz_state *st, void *arg, const char *nonce, mq_quiz_holes *holes,
                         mq_quiz_buf *out);

/* Send the page cached under key; render it into the cache first when it
 * is not there (or render it directly when the cache cannot take it). */
static void send_cached(quiz_state *st, mq_req *req, const char *key, render_fn fn, void *arg)
{
    char nonce[2 * MQ_QUIZ_NONCE_BYTES + 1];
    if (new_nonce(st, nonce) != MQ_OK) {
        st->api->resp_error(req, 500, "internal", "페이지를 만들지 못했어요.");
        return;
    }
    const mq_quiz_cached_page *p = mq_quiz_pagecache_get(&st->cache, key);
    if (!p) {
        mq_quiz_holes holes = {{0}, 0};
        mq_quiz_buf_reset(&st->page);
        if (fn(st, arg, NULL, &holes, &st->page) == 0)
            p = mq_quiz_pagecache_put(&st->cache, key, st->page.data, st->page.len, holes.off,
                                      holes.n, MQ_QUIZ_NONCE_LEN);
    }
    if (!p || mq_quiz_pagecache_fill(p, nonce, &st->page) != 0) {
        mq_quiz_buf_reset(&st->page);
        if (fn(st, arg, nonce, NULL, &st->page) != 0) {
            st->api->resp_error(req, 500, "internal", "페이지를 만들지 못했어요.");
            return;
        }
    }
    send_page(st, req, 200, nonce);
}

static void not_found(quiz_state *st, mq_req *req)
{
    send_error_page(
        st, req, 404, "페이지를 찾을 수 없어요",
        "주소가 바뀌었거나 지워진 페이지예요. 처음 화면에서 다른 테스트를 골라 보세요.");
}

/* 1 when the request may go on; else the 429 is sent. */
static int rate_ok(quiz_state *st, mq_req *req, const char *bucket, double per_min, double burst,
                   int json)
{
    const mq_api *api = st->api;
    const char *ip = api->req_client_ip(req);
    int retry = 1;
    if (api->rate_check(st->self, bucket, ip && *ip ? ip : "unknown", per_min, burst, &retry))
        return 1;
    const char *lv[] = {bucket};
    api->metric_add(st->m_limited, lv, 1);
    char ra[16];
    snprintf(ra, sizeof ra, "%d", retry > 0 ? retry : 1);
    api->resp_header(req, "Retry-After", ra);
    if (json) {
        base_headers(st, req);
        api->resp_error(req, 429, "rate_limited",
                        "요청이 너무 많아요. 잠시 후 다시 시도해 주세요.");
    } else {
        send_error_page(st, req, 429, "잠시 후 다시 시도해 주세요",
                        "짧은 시간에 요청이 너무 많았어요. 조금 쉬었다가 다시 해 주세요.");
    }
    return 0;
}

/* ---- handlers ------------------------------------------------------------------------------ */

static int render_index(quiz_state *st, void *arg, const char *nonce, mq_quiz_holes *holes,
                        mq_quiz_buf *out)
{
    return mq_quiz_render_index(&st->site, nonce, holes, out);
}

/* The referral service of this generation, or NULL (plugins/referral is
 * optional: pages render without it, share links without ?ref=). */
static const mq_referral_service_v1 *referral(quiz_state *st, void **ud)
{
    return st->api->service_lookup(st->self, MQ_REFERRAL_SERVICE, MQ_REFERRAL_SERVICE_VERSION,
                                   ud);
}

/* A page opened from a share link (?ref=CODE): the referral plugin counts
 * the visit and sets its first-touch cookie on this response. */
static void note_visit(quiz_state *st, mq_req *req)
{
    void *rud = NULL;
    const mq_referral_service_v1 *ref;
    if (st->api->req_query(req, "ref") && (ref = referral(st, &rud)) && ref->on_visit)
        ref->on_visit(rud, req);
}

static void on_index(mq_req *req, void *ud)
{
    note_visit(ud, req);
    send_cached(ud, req, "index", render_index, NULL);
}

static int render_quiz(quiz_state *st, void *arg, const char *nonce, mq_quiz_holes *holes,
                       mq_quiz_buf *out)
{
    return mq_quiz_render_quiz(&st->site, *(const size_t *)arg, nonce, holes, NULL, out);
}

/* The quiz again, with a message above the form (not cached: rare). */
static void show_quiz_error(quiz_state *st, mq_req *req, size_t qi, int status, const char *error)
{
    char nonce[2 * MQ_QUIZ_NONCE_BYTES + 1];
    if (new_nonce(st, nonce) != MQ_OK) {
        st->api->resp_error(req, 500, "internal", "페이지를 만들지 못했어요.");
        return;
    }
    mq_quiz_buf_reset(&st->page);
    mq_quiz_render_quiz(&st->site, qi, nonce, NULL, error, &st->page);
    send_page(st, req, status, nonce);
}

static void on_quiz(mq_req *req, void *ud)
{
    quiz_state *st = ud;
    const mq_quiz_def *q = mq_quiz_find(&st->site.cat, st->api->req_param(req, "slug"));
    if (!q) {
        not_found(st, req);
        return;
    }
    size_t qi = (size_t)(q - st->site.cat.quizzes);
    char key[MQ_QUIZ_PAGE_KEY_MAX];
    snprintf(key, sizeof key, "quiz|%s", q->slug);
    note_visit(st, req);
    send_cached(st, req, key, render_quiz, &qi);
}

static char *store_get(void *ud, const char *key, size_t *len)
{
    quiz_state *st = ud;
    return st->api->store_get(st->self, MQ_QUIZ_RESULTS_COLLECTION, key, len);
}

/* A new public id that no stored result has yet. */
static int new_result_id(quiz_state *st, char id[2 * MQ_QUIZ_NEW_ID_BYTES + 1])
{
    for (int attempt = 0; attempt < 4; attempt++) {
        if (st->api->random_hex(id, MQ_QUIZ_NEW_ID_BYTES) != MQ_OK)
            return MQ_EIO;
        size_t len = 0;
        char *rec = store_get(st, id, &len);
        if (!rec)
            return MQ_OK;
        free(rec);
    }
    return MQ_EEXIST;
}

static void on_submit(mq_req *req, void *ud)
{
    quiz_state *st = ud;
    const mq_api *api = st->api;
    const char *ctype = api->req_header(req, "Content-Type");
    int json = mq_quiz_wants_json(ctype, api->req_header(req, "Accept"));
    if (!rate_ok(st, req, "quiz_submit", st->submit_per_min, st->submit_burst, json))
        return;
    const mq_quiz_def *q = mq_quiz_find(&st->site.cat, api->req_param(req, "slug"));
    if (!q) {
        if (json)
            api->resp_error(req, 404, "unknown_quiz", "그런 테스트는 없어요.");
        else
            not_found(st, req);
        return;
    }
    size_t qi = (size_t)(q - st->site.cat.quizzes), len = 0;
    const char *body = api->req_body(req, &len);
    int answers[MQ_QUIZ_MAX_QUESTIONS];
    int rc = mq_quiz_is_json_type(ctype) ? mq_quiz_json_answers(body, len, answers, q->nquestions)
                                         : mq_quiz_form_answers(body, len, answers, q->nquestions);
    int result = rc == MQ_QUIZ_ANS_OK ? mq_quiz_score(q, answers, q->nquestions) : -1;
    if (rc == MQ_QUIZ_ANS_INCOMPLETE || (rc == MQ_QUIZ_ANS_OK && result < 0) ||
        rc == MQ_QUIZ_ANS_BAD) {
        const char *msg = rc == MQ_QUIZ_ANS_INCOMPLETE
                              ? "아직 답하지 않은 문항이 있어요. 모든 문항에 답해 주세요."
                              : "답변을 읽지 못했어요. 보기 중에서 하나씩 골라 주세요.";
        if (json) {
            base_headers(st, req);
            api->resp_error(req, rc == MQ_QUIZ_ANS_INCOMPLETE ? 422 : 400,
                            rc == MQ_QUIZ_ANS_INCOMPLETE ? "incomplete_answers" : "bad_answers",
                            msg);
        } else {
            show_quiz_error(st, req, qi, rc == MQ_QUIZ_ANS_INCOMPLETE ? 422 : 400, msg);
        }
        return;
    }
    char id[2 * MQ_QUIZ_NEW_ID_BYTES + 1], rec[512];
    size_t rl = mq_quiz_result_record(rec, sizeof rec, q->slug, q->results[result].type, answers,
                                      q->nquestions);
    int src = rl ? new_result_id(st, id) : MQ_ETOOBIG;
    if (src == MQ_OK)
        src = api->store_append(st->self, req, MQ_QUIZ_RESULTS_COLLECTION, id, rec, rl,
                                MQ_STORE_DURABLE);
    if (src != MQ_OK) {
        api->log(st->self, MQ_LOG_ERROR, "store result of quiz \"%s\" failed: %s", q->slug,
                 api->strerror(src));
        base_headers(st, req);
        api->resp_error(req, 503, "store_unavailable",
                        "결과를 저장하지 못했어요. 잠시 후 다시 시도해 주세요.");
        return;
    }
    const char *lv[] = {q->slug, q->results[result].type};
    api->metric_add(st->m_submissions, lv, 1);
    /* The browser now owns this result; a referred browser's result is
     * attributed to the referrer (rewarded when it is bought). */
    void *rud = NULL;
    const mq_referral_service_v1 *ref = referral(st, &rud);
    if (ref && ref->attribute)
        ref->attribute(rud, req, id);
    char url[64], out[128];
    snprintf(url, sizeof url, "/app/result/%s", id);
    api->resp_header(req, "Location", url);
    api->resp_header(req, "Cache-Control", "no-store");
    base_headers(st, req);
    if (json) {
        int n = snprintf(out, sizeof out, "{\"id\":\"%s\",\"url\":\"%s\"}", id, url);
        api->resp_send(req, 303, "application/json", out, (size_t)n);
    } else {
        api->resp_send(req, 303, NULL, NULL, 0);
    }
}

typedef struct result_arg {
    mq_quiz_result_view v;
    int resolved; /* v.quiz and v.result are set */
} result_arg;

static int render_result(quiz_state *st, void *arg, const char *nonce, mq_quiz_holes *holes,
                         mq_quiz_buf *out)
{
    result_arg *a = arg;
    if (!a->resolved && mq_quiz_result_resolve(&st->site.cat, a->v.id, store_get, st, &a->v.quiz,
                                               &a->v.result) != 0)
        return -1;
    a->resolved = 1;
    return mq_quiz_render_result(&st->site, &a->v, nonce, holes, out);
}

static void on_result(mq_req *req, void *ud)
{
    quiz_state *st = ud;
    const mq_api *api = st->api;
    result_arg a = {.v = {.id = api->req_param(req, "id")}};
    mq_quiz_result_view *v = &a.v;
    if (!mq_quiz_id_valid(v->id)) {
        send_error_page(
            st, req, 404, "결과를 찾을 수 없어요",
            "링크가 잘못되었거나 더 이상 볼 수 없는 결과예요. 테스트를 새로 해 보세요.");
        return;
    }
    /* Payments is optional: without it the report stays locked, quietly. */
    void *pud = NULL;
    const mq_payments_service_v1 *pay =
        api->service_lookup(st->self, MQ_PAYMENTS_SERVICE, MQ_PAYMENTS_SERVICE_VERSION, &pud);
    v->unlocked = pay && pay->is_unlocked && pay->is_unlocked(pud, v->id);
    v->pay_available = pay != NULL && st->pay_enabled;
    const mq_quiz_def *fq;
    int fr;
    v->fixed = mq_quiz_fixed_lookup(&st->site.cat, v->id, &fq, &fr) == 0;
    v->paid = api->req_query(req, "paid");
    v->payment = api->req_query(req, "payment");
    void *rud = NULL;
    const mq_referral_service_v1 *ref = referral(st, &rud);
    char code[16] = "";
    if (ref && ref->code_for)
        v->ref_code = ref->code_for(rud, v->id, code, sizeof code);
    note_visit(st, req);
    const char *kind, *text;
    int banner = mq_quiz_payment_banner(v->paid, v->payment, v->unlocked, &kind, &text);
    /* A stored result never changes, so a cached page for this id is proof
     * enough that it exists: no store read then. */
    char key[MQ_QUIZ_PAGE_KEY_MAX];
    snprintf(key, sizeof key, "result|%s|%d%d%d%d", v->id, v->unlocked, v->pay_available, banner,
             v->ref_code && *v->ref_code);
    if (!mq_quiz_pagecache_get(&st->cache, key)) {
        if (mq_quiz_result_resolve(&st->site.cat, v->id, store_get, st, &v->quiz, &v->result) !=
            0) {
            send_error_page(st, req, 404, "결과를 찾을 수 없어요",
                            "링크가 잘못되었거나 더 이상 볼 수 없는 결과예요. 테스트를 새로 해 "
                            "보세요.");
            return;
        }
        a.resolved = 1;
    }
    send_cached(st, req, key, render_result, &a);
}

static void serve_static(quiz_state *st, mq_req *req, const char *name)
{
    const mq_api *api = st->api;
    int immutable = 0;
    const mq_quiz_static *f = mq_quiz_statics_find(&st->site.statics, name, &immutable);
    base_headers(st, req);
    if (!f) {
        api->resp_send(req, 404, "text/plain; charset=utf-8", "파일을 찾을 수 없어요.\n",
                       strlen("파일을 찾을 수 없어요.\n"));
        return;
    }
    api->resp_header(req, "ETag", f->etag);
    api->resp_header(req, "Cache-Control",
                     immutable ? MQ_QUIZ_CACHE_IMMUTABLE : MQ_QUIZ_CACHE_SHORT);
    if (!strncmp(f->type, "image/svg", 9) || !strncmp(f->type, "text/html", 9))
        api->resp_header(req, "Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    if (mq_quiz_etag_match(api->req_header(req, "If-None-Match"), f->etag)) {
        api->resp_send(req, 304, NULL, NULL, 0);
        return;
    }
    api->resp_send(req, 200, f->type, f->data, f->len);
}

static void on_static(mq_req *req, void *ud)
{
    quiz_state *st = ud;
    serve_static(st, req, st->api->req_param(req, "path"));
}

static void on_robots(mq_req *req, void *ud)
{
    serve_static(ud, req, "robots.txt");
}

static void on_csp_report(mq_req *req, void *ud)
{
    quiz_state *st = ud;
    const mq_api *api = st->api;
    if (!rate_ok(st, req, "csp_report", st->csp_per_min, st->csp_burst, 1))
        return;
    size_t len = 0;
    const char *body = api->req_body(req, &len);
    char directive[64], blocked[160];
    int n = len ? mq_quiz_csp_report_parse(body, len, directive, sizeof directive, blocked,
                                           sizeof blocked)
                : 0;
    base_headers(st, req);
    if (n <= 0) {
        api->resp_error(req, 400, "bad_report", "CSP 위반 보고서 형식이 아니에요.");
        return;
    }
    api->metric_add(st->m_csp_reports, NULL, n);
    /* A line per report helps decide Report-Only -> Enforce; at most 30 a minute. */
    if (api->rate_check(st->self, "csp_report_log", "all", 30, 10, NULL))
        api->log(st->self, MQ_LOG_WARN, "csp violation: directive \"%s\" blocked \"%s\"",
                 directive[0] ? directive : "?", blocked[0] ? blocked : "?");
    api->resp_send(req, 204, NULL, NULL, 0);
}

/* ---- tables --------------------------------------------------------------------------------- */

static const struct {
    const char *method;
    const char *pattern;
    mq_handler_fn fn;
} routes[] = {
    {"GET", "/", on_index},
    {"GET", "/app/quiz/:slug", on_quiz},
    {"POST", "/app/quiz/:slug", on_submit},
    {"GET", "/app/result/:id", on_result},
    {"GET", "/static/*path", on_static},
    {"GET", "/robots.txt", on_robots},
    {"POST", MQ_QUIZ_CSP_REPORT_PATH, on_csp_report},
};

/* ---- init and fini ------------------------------------------------------------------------- */

static double config_number(quiz_state *st, const char *key, double def, double lo, double hi)
{
    int bad = 0;
    double v = mq_quiz_number(st->api->config_get(st->self, key), def, lo, hi, &bad);
    if (bad)
        st->api->log(st->self, MQ_LOG_WARN,
                     "config \"%s\" ignored: not a number in %g..%g, using %g", key, lo, hi, def);
    return v;
}

/* Read the config; fills cfg (strings in the buffers given). */
static void read_config(quiz_state *st, mq_quiz_site_cfg *cfg, char *base, size_t basecap)
{
    const mq_api *api = st->api;
    mq_plugin *self = st->self;
    int bad = 0;
    const char *pub = api->config_get(self, "PUBLIC_BASE_URL");
    if (mq_quiz_base_url(pub, base, basecap) != 0) {
        const char *listen = api->config_get(self, "LISTEN");
        char guess[200];
        snprintf(guess, sizeof guess, "http://%s", listen && *listen ? listen : "127.0.0.1:8080");
        if (mq_quiz_base_url(guess, base, basecap) != 0)
            snprintf(base, basecap, "http://127.0.0.1:8080");
        api->log(self, MQ_LOG_WARN,
                 "config \"PUBLIC_BASE_URL\" %s: Open Graph and share links use \"%s\"",
                 pub && *pub ? "is not an http(s) URL" : "is not set", base);
    }
    cfg->base_url = base;

    st->csp_enforce = mq_quiz_csp_mode(api->config_get(self, "CSP_MODE"), &bad);
    if (bad)
        api->log(self, MQ_LOG_WARN,
                 "config \"CSP_MODE\" is neither report-only nor enforce: using report-only");

    const char *ga4 = api->config_get(self, "GA4_MEASUREMENT_ID");
    cfg->ga4_id = NULL;
    if (ga4 && *ga4) {
        if (mq_quiz_ga4_id_valid(ga4))
            cfg->ga4_id = ga4;
        else
            api->log(self, MQ_LOG_WARN,
                     "config \"GA4_MEASUREMENT_ID\" is not a G-XXXXXXXX id: the GA4 tag is off");
    }

    st->pay_enabled = mq_quiz_switch(api->config_get(self, "PAYMENTS_ENABLED"), &bad);
    if (bad)
        api->log(self, MQ_LOG_WARN,
                 "config \"PAYMENTS_ENABLED\" is neither 1 nor 0: pages show "
                 "payments as paused");

    st->submit_per_min = config_number(st, "QUIZ_SUBMIT_PER_MIN", 30, 1, 100000);
    st->submit_burst = config_number(st, "QUIZ_SUBMIT_BURST", 10, 1, 100000);
    st->csp_per_min = config_number(st, "CSP_REPORTS_PER_MIN", 60, 1, 100000);
    st->csp_burst = config_number(st, "CSP_REPORTS_BURST", 30, 1, 100000);
}

static int register_metrics(quiz_state *st)
{
    const mq_api *api = st->api;
    static const char *const quiz_type[] = {"quiz", "type", NULL};
    static const char *const route[] = {"route", NULL};
    st->m_csp_reports = api->metric_register(st->self, MQ_COUNTER, "csp_reports_total",
                                             "CSP violation reports received.", NULL, NULL, 0);
    st->m_submissions =
        api->metric_register(st->self, MQ_COUNTER, "quiz_submissions_total",
                             "Quiz submissions that produced a stored result, by quiz and "
                             "result type.",
                             quiz_type, NULL, 0);
    st->m_limited =
        api->metric_register(st->self, MQ_COUNTER, "quiz_rate_limited_total",
                             "Requests refused by a per-IP rate limit.", route, NULL, 0);
    return st->m_csp_reports && st->m_submissions && st->m_limited ? MQ_OK : MQ_EINVAL;
}

static void quiz_fini(void *state)
{
    quiz_state *st = state;
    if (!st)
        return;
    mq_quiz_site_cleanup(&st->site);
    mq_quiz_buf_cleanup(&st->page);
    mq_quiz_buf_cleanup(&st->csp);
    mq_quiz_pagecache_cleanup(&st->cache);
    free(st);
}

static int quiz_init(const mq_api *api, mq_plugin *self, void **state)
{
    if (api->abi_major != MQ_ABI_MAJOR ||
        api->size < offsetof(mq_api, rate_check) + sizeof api->rate_check)
        return MQ_EABI; /* needs the store, random_hex and rate_check of ABI 1.4 */
    quiz_state *st = calloc(1, sizeof *st);
    if (!st)
        return MQ_ENOMEM;
    st->api = api;
    st->self = self;
    mq_quiz_buf_init(&st->page);
    mq_quiz_buf_init(&st->csp);

    char base[256], assets[4096], err[1024], warn[2048];
    mq_quiz_site_cfg cfg = {0};
    read_config(st, &cfg, base, sizeof base);
    snprintf(assets, sizeof assets, "%s/assets/catalog.json", api->release_path(self));
    cfg.price = mq_quiz_read_price(assets);
    snprintf(assets, sizeof assets, "%s/assets", api->release_path(self));

    int rc = MQ_OK;
    if (mq_quiz_site_load(&st->site, assets, &cfg, err, sizeof err, warn, sizeof warn) != 0) {
        api->log(self, MQ_LOG_ERROR, "load site \"%s\" failed: %s", assets, err);
        rc = MQ_EINVAL;
        goto fail;
    }
    for (const char *w = warn; *w;) {
        const char *nl = strchr(w, '\n');
        int n = nl ? (int)(nl - w) : (int)strlen(w);
        api->log(self, MQ_LOG_WARN, "%.*s", n, w);
        w += n + (nl ? 1 : 0);
    }
    /* The page buffer starts big enough for any page: no growth per request. */
    if (mq_quiz_buf_reserve(&st->page, 32768) != 0 || mq_quiz_buf_reserve(&st->csp, 1024) != 0 ||
        mq_quiz_pagecache_init(&st->cache, 256) != 0) {
        rc = MQ_ENOMEM;
        goto fail;
    }
    if ((rc = register_metrics(st)) != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "register metrics failed: %s", api->strerror(rc));
        goto fail;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        rc = api->route_add(self, routes[i].method, routes[i].pattern, routes[i].fn, st);
        if (rc != MQ_OK) {
            api->log(self, MQ_LOG_ERROR, "route %s %s failed: %s", routes[i].method,
                     routes[i].pattern, api->strerror(rc));
            goto fail;
        }
    }
    api->log(self, MQ_LOG_INFO,
             "%zu quizzes, %zu static files (%zu bytes), CSP %s, GA4 %s, payments %s, base %s",
             st->site.cat.n, st->site.statics.n, st->site.statics.total,
             st->csp_enforce ? "enforce" : "report-only", cfg.ga4_id ? "on" : "off",
             st->pay_enabled ? "enabled" : "paused", st->site.base_url);
    *state = st;
    return MQ_OK;
fail:
    quiz_fini(st);
    return rc;
}

/* clang-format off */
MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER,
    .name = "quiz",
    .version = "1.0.0",
    .init = quiz_init,
    .fini = quiz_fini,
    .summary = "quiz pages, results, static files and CSP reports",
};
/* clang-format on */
