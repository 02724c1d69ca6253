/*
 * auth.c -- who may use /admin, and how a browser stays signed in.
 *
 * Every admin route passes mq_admin_gate():
 *   1. ADMIN_ALLOW_CIDRS (when set): the client address (req_client_ip,
 *      which believes X-Forwarded-For only from TRUSTED_PROXIES) must be
 *      inside it, else 403. A list that does not parse refuses everyone.
 *   2. Lockout: an IP with a live record in admin_lockouts gets 429 with
 *      Retry-After, before any password is looked at (so a locked-out
 *      guesser learns nothing, even from a right guess).
 *   3. The credential, first found wins: Authorization Bearer <pass>,
 *      Authorization Basic (any user, the password part), ?pass=, the
 *      session cookie. Passwords are compared with secure_equal.
 *
 * Failed attempts. rate_check cannot look without taking a token, so the
 * bucket (host-owned, keyed by IP, survives reloads) is touched only by
 * failures: 4 tokens refilled at 1 per minute, so the fifth failure inside
 * any 60 s finds it empty. That failure writes a lockout record (store,
 * key = IP, until_ms): it survives reloads and restarts and costs one
 * append per lockout, since a locked-out IP is refused before it can fail
 * again. Requests without any credential are not failures (a browser's
 * first visit), and neither is a stale session cookie (its id is 256
 * random bits: nothing to guess).
 *
 * Sessions. After a right ?pass= on a page (or the login form) the browser
 * gets a random 256-bit id in an HttpOnly, SameSite=Strict cookie scoped
 * to /admin (Secure when PUBLIC_BASE_URL is https) and a 303 to the same
 * URL without pass=. The store keeps only HMAC-SHA256("mq-admin-session",
 * id) as the key with the expiry (12 h after login): the data files and
 * backups hold nothing a reader could replay as a cookie; a session
 * survives reloads and restarts; logout revokes it. A self-contained
 * signed token would need a signing key that outlives generations: either
 * a new secret to manage or one derived from ADMIN_PASS, which would make
 * every cookie an offline guessing oracle for the password.
 *
 * CSRF. A cookie or cached Basic credential rides along on a cross-site
 * request; Bearer and ?pass= do not (a foreign page cannot attach them
 * without knowing the password). So POSTs made with the session cookie
 * must carry csrf = HMAC-SHA256(session id, "mq-admin-csrf") -- per
 * session, survives reloads, needs no storage -- and Basic ones the HMAC
 * of a random per-generation key. Every POST (login too) is also refused
 * when an Origin (else Referer) header names another site.
 *
 * The password never reaches a log line, a page or a Location: log lines
 * name the client address and the means (pass, bearer, basic) only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "adm.h"

#define CSRF_SESSION_PURPOSE "mq-admin-csrf-v1"
#define CSRF_BASIC_PURPOSE "mq-admin-csrf-basic-v1"
#define SESSION_KEY_SALT "mq-admin-session-v1"

const char *mq_admin_via_name(adm_via via)
{
    switch (via) {
    case ADM_VIA_SESSION: return "session";
    case ADM_VIA_PASS: return "pass";
    case ADM_VIA_BEARER: return "bearer";
    case ADM_VIA_BASIC: return "basic";
    default: return "none";
    }
}

adm_format mq_admin_format_of(adm_state *st, mq_req *req)
{
    const char *f = st->api->req_query(req, "format");
    if (f && !strcmp(f, "json"))
        return ADM_JSON;
    if (f && !strcmp(f, "csv"))
        return ADM_CSV;
    return ADM_HTML;
}

/* ---- answers -------------------------------------------------------------------------------- */

void mq_admin_security_headers(adm_state *st, mq_req *req)
{
    const mq_api *api = st->api;
    api->resp_header(req, "Cache-Control", "no-store");
    api->resp_header(req, "X-Content-Type-Options", "nosniff");
    api->resp_header(req, "X-Frame-Options", "DENY");
    api->resp_header(req, "Referrer-Policy", "same-origin");
    api->resp_header(req, "Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                     "frame-ancestors 'none'; base-uri 'none'");
}

void mq_admin_send_html(adm_state *st, mq_req *req, int status, adm_buf *page)
{
    mq_admin_security_headers(st, req);
    if (page->oom) {
        mq_admin_buf_cleanup(page);
        st->api->resp_error(req, 500, "out_of_memory", "out of memory");
        return;
    }
    st->api->resp_send(req, status, "text/html; charset=utf-8", page->data ? page->data : "",
                       page->len);
    mq_admin_buf_cleanup(page);
}

void mq_admin_send_json(adm_state *st, mq_req *req, int status, const char *json)
{
    mq_admin_security_headers(st, req);
    st->api->resp_send(req, status, "application/json", json, strlen(json));
}

void mq_admin_send_error(adm_state *st, mq_req *req, adm_format fmt, int status, const char *code,
                         const char *message)
{
    if (fmt != ADM_HTML) {
        mq_admin_security_headers(st, req);
        st->api->resp_error(req, status, code, message);
        return;
    }
    adm_buf b = {0};
    mq_admin_page_begin(&b, "오류", "", NULL);
    mq_admin_buf_printf(&b, "<h1>%d</h1><p class=\"err\">", status);
    mq_admin_buf_html(&b, message);
    mq_admin_buf_puts(&b, "</p><p><small>code: ");
    mq_admin_buf_html(&b, code);
    mq_admin_buf_puts(&b, "</small></p>");
    mq_admin_page_end(&b);
    mq_admin_send_html(st, req, status, &b);
}

static void send_login_page(adm_state *st, mq_req *req, int status, const char *next,
                            const char *error)
{
    adm_buf b = {0};
    mq_admin_page_begin(&b, "로그인", "", NULL);
    mq_admin_buf_puts(&b, "<h1>관리자 로그인</h1>");
    if (error) {
        mq_admin_buf_puts(&b, "<p class=\"err\">");
        mq_admin_buf_html(&b, error);
        mq_admin_buf_puts(&b, "</p>");
    }
    mq_admin_buf_puts(&b, "<form method=\"post\" action=\"/admin/login\">"
                          "<label>비밀번호 <input type=\"password\" name=\"pass\" "
                          "autocomplete=\"current-password\" required autofocus></label>"
                          "<input type=\"hidden\" name=\"next\" value=\"");
    mq_admin_buf_html(&b, next && mq_admin_safe_next(next) ? next : "/admin/status");
    mq_admin_buf_puts(&b, "\"> <button type=\"submit\">로그인</button></form>");
    mq_admin_page_end(&b);
    mq_admin_send_html(st, req, status, &b);
}

/* 401: a login page for people, JSON for scripts. The challenge names
 * Bearer so that browsers show the page rather than a Basic prompt. */
static void send_unauthorized(adm_state *st, mq_req *req, adm_format fmt, const char *next,
                              const char *error)
{
    st->api->resp_header(req, "WWW-Authenticate", "Bearer realm=\"mindquiz-admin\"");
    if (fmt != ADM_HTML) {
        mq_admin_send_error(st, req, fmt, 401, "unauthorized",
                            error ? error : "관리자 비밀번호가 필요합니다.");
        return;
    }
    send_login_page(st, req, 401, next, error);
}

/* ---- the allowlist and the lockout ---------------------------------------------------------- */

static int64_t lockout_until(adm_state *st, const char *ip)
{
    size_t len = 0;
    char *rec = st->api->store_get(st->self, ADM_COLL_LOCKOUTS, ip, &len);
    if (!rec)
        return 0;
    int64_t until = 0;
    json_object *j = json_tokener_parse(rec), *v = NULL;
    if (j && json_object_object_get_ex(j, "until_ms", &v))
        until = json_object_get_int64(v);
    json_object_put(j);
    free(rec);
    return until;
}

/* 1 when ip may go on to authenticate; otherwise answers 403 / 429. */
static int access_allowed(adm_state *st, mq_req *req, adm_format fmt, const char *ip)
{
    const mq_api *api = st->api;
    if (st->cfg.cidrs_invalid ||
        (st->cfg.allow_cidrs && api->ip_in_cidrs(st->self, st->cfg.allow_cidrs, ip) != 1)) {
        mq_admin_send_error(st, req, fmt, 403, "forbidden_network",
                            "관리자 페이지는 허용된 네트워크에서만 열 수 있습니다.");
        return 0;
    }
    int64_t now = st->now_ms();
    int64_t until = *ip ? lockout_until(st, ip) : 0;
    if (until > now) {
        char secs[24];
        snprintf(secs, sizeof secs, "%lld", (long long)((until - now + 999) / 1000));
        api->resp_header(req, "Retry-After", secs);
        mq_admin_send_error(st, req, fmt, 429, "locked_out",
                            "로그인 실패가 너무 많아 잠시 잠겼습니다. 나중에 다시 시도해 주세요.");
        return 0;
    }
    return 1;
}

/* Count a wrong password from ip; lock the ip out on the fifth in a minute.
 * Never logs the password, only where it came from and by which means. */
static void login_failed(adm_state *st, const char *ip, adm_via via)
{
    const mq_api *api = st->api;
    api->metric_add(st->m.login_failures, NULL, 1);
    if (api->rate_check(st->self, ADM_FAIL_BUCKET, ip, ADM_FAIL_PER_MINUTE, ADM_FAIL_BURST, NULL)) {
        api->log(st->self, MQ_LOG_WARN, "admin login from \"%s\" failed (%s)", ip,
                 mq_admin_via_name(via));
        return;
    }
    int64_t now = st->now_ms();
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ip", json_object_new_string(ip));
    json_object_object_add(o, "at_ms", json_object_new_int64(now));
    json_object_object_add(o, "until_ms", json_object_new_int64(now + st->cfg.lockout_s * 1000));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int rc = *ip ? api->store_append(st->self, NULL, ADM_COLL_LOCKOUTS, ip, text, strlen(text), 0)
                 : MQ_EINVAL;
    json_object_put(o);
    if (rc != MQ_OK)
        api->log(st->self, MQ_LOG_ERROR, "lock out \"%s\" failed: %s", ip, api->strerror(rc));
    else
        api->log(st->self, MQ_LOG_WARN,
                 "admin login from \"%s\" failed (%s): 5 failures in a minute, locked out for "
                 "%ld s",
                 ip, mq_admin_via_name(via), st->cfg.lockout_s);
}

/* ---- sessions ------------------------------------------------------------------------------- */

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* The store key of a session: a keyed hash of its id, never the id. */
static int session_key(adm_state *st, const char *id, char out[65])
{
    return st->api->hmac_sha256_hex(SESSION_KEY_SALT, strlen(SESSION_KEY_SALT), id, strlen(id),
                                    out);
}

static int session_write(adm_state *st, const char *key, const char *state, int64_t created,
                         int64_t expires, const char *ip)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "state", json_object_new_string(state));
    json_object_object_add(o, "created_ms", json_object_new_int64(created));
    json_object_object_add(o, "expires_ms", json_object_new_int64(expires));
    json_object_object_add(o, "ip", json_object_new_string(ip ? ip : ""));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int rc = st->api->store_append(st->self, NULL, ADM_COLL_SESSIONS, key, text, strlen(text),
                                   MQ_STORE_DURABLE);
    json_object_put(o);
    return rc;
}

int mq_admin_session_start(adm_state *st, const char *ip, char out[65])
{
    char key[65];
    out[0] = '\0';
    int rc = st->api->random_hex(out, ADM_SESSION_ID_BYTES);
    if (rc == MQ_OK)
        rc = session_key(st, out, key);
    if (rc == MQ_OK) {
        int64_t now = st->now_ms();
        rc = session_write(st, key, "active", now, now + ADM_SESSION_TTL_MS, ip);
    }
    if (rc != MQ_OK)
        out[0] = '\0';
    return rc;
}

int mq_admin_session_valid(adm_state *st, const char *id)
{
    char key[65];
    if (!is_hex64(id) || session_key(st, id, key) != MQ_OK)
        return 0;
    size_t len = 0;
    char *rec = st->api->store_get(st->self, ADM_COLL_SESSIONS, key, &len);
    if (!rec)
        return 0;
    int ok = 0;
    json_object *j = json_tokener_parse(rec), *state = NULL, *exp = NULL;
    if (j && json_object_object_get_ex(j, "state", &state) &&
        json_object_object_get_ex(j, "expires_ms", &exp))
        ok = !strcmp(json_object_get_string(state), "active") &&
             json_object_get_int64(exp) > st->now_ms();
    json_object_put(j);
    free(rec);
    return ok;
}

int mq_admin_session_end(adm_state *st, const char *id)
{
    char key[65];
    if (!is_hex64(id) || session_key(st, id, key) != MQ_OK)
        return MQ_EINVAL;
    int64_t now = st->now_ms();
    return session_write(st, key, "ended", 0, now, NULL);
}

void mq_admin_session_cookie(const adm_state *st, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s=%s; Path=/admin; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
             ADM_SESSION_COOKIE, id, *id ? (long long)(ADM_SESSION_TTL_MS / 1000) : 0LL,
             st->cfg.secure_cookie ? "; Secure" : "");
}

/* ---- CSRF and origins ----------------------------------------------------------------------- */

int mq_admin_csrf_for_session(adm_state *st, const char *session_id, char out[65])
{
    return st->api->hmac_sha256_hex(session_id, strlen(session_id), CSRF_SESSION_PURPOSE,
                                    strlen(CSRF_SESSION_PURPOSE), out);
}

int mq_admin_csrf_for_basic(adm_state *st, char out[65])
{
    return st->api->hmac_sha256_hex(st->gen_key, strlen(st->gen_key), CSRF_BASIC_PURPOSE,
                                    strlen(CSRF_BASIC_PURPOSE), out);
}

/* scheme://host[:port] of a URL, lower-cased, into out; 0 when not http(s). */
static int url_origin(const char *url, char *out, size_t cap)
{
    const char *rest;
    if (!strncasecmp(url, "https://", 8))
        rest = url + 8;
    else if (!strncasecmp(url, "http://", 7))
        rest = url + 7;
    else
        return 0;
    size_t n = (size_t)(rest - url) + strcspn(rest, "/?#");
    if (n == (size_t)(rest - url) || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)((url[i] >= 'A' && url[i] <= 'Z') ? url[i] + 32 : url[i]);
    out[n] = '\0';
    return 1;
}

static int origin_allowed(adm_state *st, mq_req *req, const char *origin)
{
    if (st->cfg.public_origin && !strcmp(origin, st->cfg.public_origin))
        return 1;
    const char *host = st->api->req_header(req, "Host");
    if (!host || !*host || strlen(host) > 255)
        return 0;
    char want[300];
    for (int https = 0; https < 2; https++) {
        snprintf(want, sizeof want, "%s://%s", https ? "https" : "http", host);
        for (char *p = want; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        if (!strcmp(origin, want))
            return 1;
    }
    return 0;
}

int mq_admin_origin_ok(adm_state *st, mq_req *req)
{
    char o[300];
    const char *origin = st->api->req_header(req, "Origin");
    if (origin)
        return url_origin(origin, o, sizeof o) && origin_allowed(st, req, o);
    const char *referer = st->api->req_header(req, "Referer");
    if (referer)
        return url_origin(referer, o, sizeof o) && origin_allowed(st, req, o);
    return 1;
}

int mq_admin_post_allowed(adm_state *st, mq_req *req, const adm_ctx *ctx, const adm_form *form)
{
    const mq_api *api = st->api;
    if (!mq_admin_origin_ok(st, req)) {
        api->log(st->self, MQ_LOG_WARN, "admin POST %s from \"%s\" refused: foreign Origin/Referer",
                 api->req_path(req), ctx->ip);
        mq_admin_send_error(st, req, ctx->format, 403, "bad_origin",
                            "다른 사이트에서 보낸 요청은 받지 않습니다.");
        return 0;
    }
    if (ctx->via == ADM_VIA_SESSION || ctx->via == ADM_VIA_BASIC) {
        const char *token = form ? mq_admin_form_get(form, "csrf") : NULL;
        if (!token)
            token = api->req_header(req, "X-CSRF-Token");
        if (!ctx->csrf[0] || !api->secure_equal(token, ctx->csrf)) {
            api->log(st->self, MQ_LOG_WARN, "admin POST %s from \"%s\" refused: bad CSRF token",
                     api->req_path(req), ctx->ip);
            mq_admin_send_error(st, req, ctx->format, 403, "bad_csrf",
                                "요청이 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.");
            return 0;
        }
    }
    return 1;
}

/* ---- the gate ------------------------------------------------------------------------------- */

int mq_admin_safe_next(const char *next)
{
    if (!next || strncmp(next, "/admin", 6) != 0 || strlen(next) > 1024)
        return 0;
    if (next[6] != '\0' && next[6] != '/' && next[6] != '?')
        return 0;
    for (const char *p = next; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 0;
    }
    return strstr(next, "//") == NULL;
}

/* The filter parameters a page keeps across the redirect that drops pass=. */
static const char *const kept_params[] = {"provider", "status", "reason", "order", "from",
                                          "to",       "limit",  "kind",   NULL};

/* The request's path and its kept parameters, never pass=. */
static void target_without_pass(adm_state *st, mq_req *req, adm_buf *out)
{
    const char *path = st->api->req_path(req);
    if (!path || !mq_admin_safe_next(path)) {
        mq_admin_buf_puts(out, "/admin/status");
        return;
    }
    mq_admin_buf_puts(out, path);
    char sep = '?';
    for (const char *const *k = kept_params; *k; k++) {
        const char *v = st->api->req_query(req, *k);
        if (!v || !*v)
            continue;
        mq_admin_buf_printf(out, "%c%s=", sep, *k);
        mq_admin_buf_urlencode(out, v);
        sep = '&';
    }
}

/* Answer a successful login: a session cookie and a 303 to `target`. */
static void start_session_and_redirect(adm_state *st, mq_req *req, const char *ip,
                                       const char *target, adm_via via)
{
    const mq_api *api = st->api;
    char id[65], cookie[200];
    int rc = mq_admin_session_start(st, ip, id);
    if (rc != MQ_OK) {
        api->log(st->self, MQ_LOG_ERROR, "start admin session failed: %s", api->strerror(rc));
        mq_admin_send_error(st, req, ADM_HTML, 503, "store_unavailable",
                            "세션을 저장하지 못했습니다. 잠시 후 다시 시도해 주세요.");
        return;
    }
    mq_admin_session_cookie(st, id, cookie, sizeof cookie);
    explicit_bzero(id, sizeof id);
    api->resp_header(req, "Set-Cookie", cookie);
    explicit_bzero(cookie, sizeof cookie);
    api->resp_header(req, "Location", target);
    api->log(st->self, MQ_LOG_INFO, "admin login from \"%s\" (%s): session started", ip,
             mq_admin_via_name(via));
    adm_buf b = {0};
    mq_admin_page_begin(&b, "이동", "", NULL);
    mq_admin_buf_puts(&b, "<p><a href=\"");
    mq_admin_buf_html(&b, target);
    mq_admin_buf_puts(&b, "\">계속</a></p>");
    mq_admin_page_end(&b);
    mq_admin_send_html(st, req, 303, &b);
}

/* The password of an Authorization header into out (borrowed or decoded),
 * and the means; ADM_VIA_NONE for another scheme. A malformed Basic value
 * is a (wrong) empty password. */
static adm_via authorization(const char *hdr, const char **pass, char *buf, size_t cap)
{
    while (*hdr == ' ')
        hdr++;
    if (!strncasecmp(hdr, "Bearer ", 7)) {
        const char *p = hdr + 7;
        while (*p == ' ')
            p++;
        *pass = p;
        return ADM_VIA_BEARER;
    }
    if (!strncasecmp(hdr, "Basic ", 6)) {
        const char *p = hdr + 6;
        while (*p == ' ')
            p++;
        *pass = "";
        if (mq_admin_base64_decode(p, buf, cap) >= 0) {
            char *colon = strchr(buf, ':');
            if (colon)
                *pass = colon + 1;
        }
        return ADM_VIA_BASIC;
    }
    return ADM_VIA_NONE;
}

int mq_admin_gate(adm_state *st, mq_req *req, adm_ctx *ctx)
{
    const mq_api *api = st->api;
    memset(ctx, 0, sizeof *ctx);
    ctx->format = mq_admin_format_of(st, req);
    ctx->ip = api->req_client_ip(req);
    if (!ctx->ip)
        ctx->ip = "";
    if (!access_allowed(st, req, ctx->format, ctx->ip))
        return 0;

    const char *given = NULL;
    char basic[512];
    adm_via via = ADM_VIA_NONE;
    const char *auth = api->req_header(req, "Authorization");
    if (auth)
        via = authorization(auth, &given, basic, sizeof basic);
    if (via == ADM_VIA_NONE && (given = api->req_query(req, "pass")) != NULL)
        via = ADM_VIA_PASS;

    if (via != ADM_VIA_NONE) {
        int ok = api->secure_equal(given, st->cfg.pass);
        explicit_bzero(basic, sizeof basic);
        if (!ok) {
            login_failed(st, ctx->ip, via);
            send_unauthorized(st, req, ctx->format, NULL, "비밀번호가 맞지 않습니다.");
            return 0;
        }
        ctx->via = via;
        const char *method = api->req_method(req);
        if (via == ADM_VIA_PASS && ctx->format == ADM_HTML &&
            (!strcmp(method, "GET") || !strcmp(method, "HEAD"))) {
            adm_buf target = {0};
            target_without_pass(st, req, &target);
            start_session_and_redirect(
                st, req, ctx->ip, target.oom || !target.data ? "/admin/status" : target.data, via);
            mq_admin_buf_cleanup(&target);
            return 0;
        }
        if (via == ADM_VIA_BASIC && mq_admin_csrf_for_basic(st, ctx->csrf) != MQ_OK)
            ctx->csrf[0] = '\0';
        return 1;
    }

    const char *sid = api->req_cookie(req, ADM_SESSION_COOKIE);
    if (sid && mq_admin_session_valid(st, sid)) {
        ctx->via = ADM_VIA_SESSION;
        snprintf(ctx->session, sizeof ctx->session, "%s", sid);
        if (mq_admin_csrf_for_session(st, sid, ctx->csrf) != MQ_OK)
            ctx->csrf[0] = '\0';
        return 1;
    }
    if (sid) {
        char cookie[200];
        mq_admin_session_cookie(st, "", cookie, sizeof cookie);
        api->resp_header(req, "Set-Cookie", cookie);
    }
    adm_buf next = {0};
    target_without_pass(st, req, &next);
    send_unauthorized(st, req, ctx->format, next.data,
                      sid ? "세션이 만료되었습니다. 다시 로그인해 주세요." : NULL);
    mq_admin_buf_cleanup(&next);
    return 0;
}

/* ---- login and logout ----------------------------------------------------------------------- */

void mq_admin_login_page(adm_state *st, mq_req *req)
{
    const char *ip = st->api->req_client_ip(req);
    if (!access_allowed(st, req, ADM_HTML, ip ? ip : ""))
        return;
    send_login_page(st, req, 200, st->api->req_query(req, "next"), NULL);
}

void mq_admin_login(adm_state *st, mq_req *req)
{
    const mq_api *api = st->api;
    const char *ip = api->req_client_ip(req);
    if (!ip)
        ip = "";
    if (!access_allowed(st, req, ADM_HTML, ip))
        return;
    if (!mq_admin_origin_ok(st, req)) {
        api->log(st->self, MQ_LOG_WARN, "admin login from \"%s\" refused: foreign Origin/Referer",
                 ip);
        mq_admin_send_error(st, req, ADM_HTML, 403, "bad_origin",
                            "다른 사이트에서 보낸 요청은 받지 않습니다.");
        return;
    }
    size_t len = 0;
    const char *body = api->req_body(req, &len);
    adm_form form;
    if (mq_admin_form_parse(&form, body ? body : "", body ? len : 0) != MQ_OK) {
        mq_admin_send_error(st, req, ADM_HTML, 500, "out_of_memory", "out of memory");
        return;
    }
    const char *pass = mq_admin_form_get(&form, "pass");
    const char *next = mq_admin_form_get(&form, "next");
    if (!next || !mq_admin_safe_next(next))
        next = "/admin/status";
    if (!api->secure_equal(pass ? pass : "", st->cfg.pass)) {
        login_failed(st, ip, ADM_VIA_PASS);
        send_unauthorized(st, req, ADM_HTML, next, "비밀번호가 맞지 않습니다.");
    } else {
        start_session_and_redirect(st, req, ip, next, ADM_VIA_PASS);
    }
    mq_admin_form_cleanup(&form);
}

void mq_admin_logout(adm_state *st, mq_req *req, const adm_ctx *ctx)
{
    const mq_api *api = st->api;
    if (ctx->via == ADM_VIA_SESSION) {
        int rc = mq_admin_session_end(st, ctx->session);
        if (rc != MQ_OK)
            api->log(st->self, MQ_LOG_ERROR, "end admin session failed: %s", api->strerror(rc));
        else
            api->log(st->self, MQ_LOG_INFO, "admin logout from \"%s\"", ctx->ip);
    }
    char cookie[200];
    mq_admin_session_cookie(st, "", cookie, sizeof cookie);
    api->resp_header(req, "Set-Cookie", cookie);
    api->resp_header(req, "Location", "/admin/login");
    adm_buf b = {0};
    mq_admin_page_begin(&b, "로그아웃", "", NULL);
    mq_admin_buf_puts(&b, "<p>로그아웃했습니다. <a href=\"/admin/login\">다시 로그인</a></p>");
    mq_admin_page_end(&b);
    mq_admin_send_html(st, req, 303, &b);
}
