/*
 * server.c -- dispatch, request bodies and parameters, and the three ways a
 * request ends: answered (now or after a latency timer), held unanswered
 * until the client gives up (a timeout fault), or its connection closed with
 * no answer (a drop fault).
 *
 * A delayed or held request watches its socket, as the host's request.c
 * does and for the same reason: libevent 2.1 stops reading a connection
 * while its request is pending, so it would notice a departed client only
 * when we write, and evhttp frees a pending request whenever it frees the
 * connection. On EOF we take ownership of the request, free the connection
 * (the client's socket is released now) and forget the request.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "pgsim.h"

const struct pgsim_op pgsim_ops[OP_COUNT] = {
    {OP_KAKAO_READY, PGSIM_KAKAO, "kakao.ready", "ready", "ready"},
    {OP_KAKAO_APPROVE, PGSIM_KAKAO, "kakao.approve", "approve", "approve"},
    {OP_KAKAO_CANCEL, PGSIM_KAKAO, "kakao.cancel", "cancel", "cancel"},
    {OP_KAKAO_ORDER, PGSIM_KAKAO, "kakao.order", "order", "order"},
    {OP_NAVER_RESERVE, PGSIM_NAVER, "naver.reserve", "reserve", "ready"},
    {OP_NAVER_APPLY, PGSIM_NAVER, "naver.apply", "apply", "approve"},
    {OP_NAVER_CANCEL, PGSIM_NAVER, "naver.cancel", "cancel", "cancel"},
    {OP_NAVER_HISTORY, PGSIM_NAVER, "naver.history", "history", "order"},
};

/* ---- small helpers ------------------------------------------------------------- */

void pgsim_log(struct pgsim *sim, const char *fmt, ...)
{
    (void)sim;
    va_list ap;
    va_start(ap, fmt);
    fputs("mq-pgsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int pgsim_secret_eq(const char *given, const char *want)
{
    if (!given || !want)
        return 0;
    size_t a = strlen(given), b = strlen(want);
    /* Compare the lengths in the open; the contents in constant time. */
    return a == b && CRYPTO_memcmp(given, want, a) == 0;
}

int pgsim_is_http_url(const char *s)
{
    const char *rest = NULL;
    if (strncasecmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        rest = s + 8;
    if (!rest || !*rest || *rest == '/')
        return 0;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return 0;
    return 1;
}

char *pgsim_url_with_query(const char *url, const char *query)
{
    size_t base = strcspn(url, "#");
    const char *frag = url + base;
    int has_q = memchr(url, '?', base) != NULL;
    char sep = has_q ? '&' : '?';
    /* "...?" or "...&" already at the end needs no separator. */
    if (base > 0 && (url[base - 1] == '?' || url[base - 1] == '&'))
        sep = 0;
    size_t n = base + 1 + strlen(query) + strlen(frag) + 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    if (sep)
        snprintf(out, n, "%.*s%c%s%s", (int)base, url, sep, query, frag);
    else
        snprintf(out, n, "%.*s%s%s", (int)base, url, query, frag);
    return out;
}

size_t pgsim_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

const char *pgsim_header(struct pgsim_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

void pgsim_add_header(struct pgsim_req *r, const char *name, const char *value)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_remove_header(h, name);
    evhttp_add_header(h, name, value);
}

int pgsim_ctype_is(struct pgsim_req *r, const char *type)
{
    const char *ct = pgsim_header(r, "Content-Type");
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0)
        return 0;
    const char *p = ct + n;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return 1;
    if (*p != ';')
        return 0;
    /* A charset parameter, when present, must be UTF-8 (KakaoPay's legacy
     * host documents "charset=utf-8"; both gateways speak UTF-8 only). */
    const char *cs = strcasestr(p, "charset=");
    if (!cs)
        return 1;
    cs += 8;
    if (*cs == '"')
        cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 &&
           (cs[5] == '\0' || cs[5] == '"' || cs[5] == ';' || cs[5] == ' ');
}

/* ---- replies ------------------------------------------------------------------- */

static void reset_output(struct pgsim_req *r)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(r->ev);
    evbuffer_drain(out, evbuffer_get_length(out));
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_remove_header(h, "Content-Type");
    evhttp_remove_header(h, "Location");
}

void pgsim_reply_text(struct pgsim_req *r, int status, const char *ctype, const char *text,
                      size_t len)
{
    reset_output(r);
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Content-Type", ctype);
    evbuffer_add(evhttp_request_get_output_buffer(r->ev), text, len);
    r->status = status;
}

void pgsim_reply_json(struct pgsim_req *r, int status, json_object *obj)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    pgsim_reply_text(r, status, "application/json;charset=UTF-8", s, len);
    json_object_put(obj);
}

void pgsim_reply_redirect(struct pgsim_req *r, const char *location)
{
    reset_output(r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_add_header(h, "Location", location);
    evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
    char *esc = evhttp_htmlescape(location);
    evbuffer_add_printf(evhttp_request_get_output_buffer(r->ev),
                        "<!doctype html><meta charset=\"utf-8\"><a href=\"%s\">%s</a>\n",
                        esc ? esc : "", esc ? esc : "");
    free(esc);
    r->status = 302;
}

static void reply_plain_error(struct pgsim_req *r, int status, const char *code, const char *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "message", json_object_new_string(msg));
    pgsim_reply_json(r, status, o);
}

/* ---- bodies -------------------------------------------------------------------- */

static void params_fail(struct pgsim_req *r, const char *msg)
{
    snprintf(r->params_err, sizeof r->params_err, "%s", msg);
}

static void parse_json_body(struct pgsim_req *r)
{
    if (r->body_len == 0) {
        params_fail(r, "the request body is empty (a JSON object is required)");
        return;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        params_fail(r, "out of memory");
        return;
    }
    json_object *o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || jerr != json_tokener_success) {
        json_object_put(o);
        char msg[160];
        snprintf(msg, sizeof msg, "the request body is not valid JSON (%s)",
                 json_tokener_error_desc(jerr));
        params_fail(r, msg);
        return;
    }
    for (; end < r->body_len; end++) {
        char c = r->body[end];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            json_object_put(o);
            params_fail(r, "the request body has data after its JSON value");
            return;
        }
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        params_fail(r, "the request body must be a JSON object");
        return;
    }
    r->params = o;
}

/* application/x-www-form-urlencoded: name=value pairs joined by '&', both
 * percent-encoded with '+' for space. A name given twice is refused rather
 * than guessed at. */
static void parse_form_body(struct pgsim_req *r)
{
    json_object *o = json_object_new_object();
    char *copy = strdup(r->body);
    if (!o || !copy) {
        json_object_put(o);
        free(copy);
        params_fail(r, "out of memory");
        return;
    }
    if (strlen(copy) != r->body_len) {
        json_object_put(o);
        free(copy);
        params_fail(r, "the form body contains a NUL byte");
        return;
    }
    char *save = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (eq)
            *eq = '\0';
        size_t klen = 0, vlen = 0;
        char *k = evhttp_uridecode(pair, 1, &klen);
        char *v = evhttp_uridecode(eq ? eq + 1 : "", 1, &vlen);
        const char *bad = NULL;
        if (!k || !v)
            bad = "out of memory";
        else if (klen == 0)
            bad = "the form body has a field with an empty name";
        else if (strlen(k) != klen || strlen(v) != vlen)
            bad = "the form body contains an encoded NUL byte";
        else if (json_object_object_get_ex(o, k, NULL))
            bad = "the form body gives a field twice";
        if (bad) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s%s%.40s%s", bad, k && klen ? " (" : "", k && klen ? k : "",
                     k && klen ? ")" : "");
            free(k);
            free(v);
            free(copy);
            json_object_put(o);
            params_fail(r, msg);
            return;
        }
        json_object_object_add(o, k, json_object_new_string_len(v, (int)vlen));
        free(k);
        free(v);
    }
    free(copy);
    r->params = o;
}

/* ---- parameter validation ------------------------------------------------------ */

void pgsim_pv_init(struct pgsim_pv *p, json_object *obj, int form)
{
    memset(p, 0, sizeof *p);
    p->obj = obj;
    p->form = form;
}

int pgsim_pv_fail(struct pgsim_pv *p, const char *fmt, ...)
{
    if (p->err[0])
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int pv_missing(struct pgsim_pv *p, const char *key)
{
    if (p->err[0])
        return -1;
    p->missing = 1;
    return pgsim_pv_fail(p, "%s is required", key);
}

/* "a string", "an array": for messages about a value of the wrong type. */
static const char *type_phrase(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a decimal number";
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    default: return "null";
    }
}

/* The value for key, NULL when absent or JSON null. */
static json_object *pv_get(struct pgsim_pv *p, const char *key)
{
    json_object *v = NULL;
    if (!p->obj || !json_object_object_get_ex(p->obj, key, &v))
        return NULL;
    return v;
}

int pgsim_pv_str(struct pgsim_pv *p, const char *key, int required, size_t maxchars,
                 const char **out)
{
    if (p->err[0])
        return -1;
    json_object *v = pv_get(p, key);
    if (!v)
        return required ? pv_missing(p, key) : 0;
    if (!json_object_is_type(v, json_type_string))
        return pgsim_pv_fail(p, "%s must be a string, not %s", key, type_phrase(v));
    const char *s = json_object_get_string(v);
    if ((size_t)json_object_get_string_len(v) != strlen(s))
        return pgsim_pv_fail(p, "%s contains a NUL character", key);
    if (!*s)
        return required ? pv_missing(p, key) : 0;
    if (maxchars && pgsim_utf8_len(s) > maxchars)
        return pgsim_pv_fail(p, "%s is longer than %zu characters", key, maxchars);
    *out = s;
    return 1;
}

int pgsim_pv_i64(struct pgsim_pv *p, const char *key, int required, int64_t min, int64_t max,
                 int64_t *out)
{
    if (p->err[0])
        return -1;
    json_object *v = pv_get(p, key);
    if (!v)
        return required ? pv_missing(p, key) : 0;
    int64_t n;
    if (p->form) {
        const char *s = json_object_get_string(v);
        if (!*s)
            return required ? pv_missing(p, key) : 0;
        const char *d = s[0] == '-' ? s + 1 : s;
        if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 15)
            return pgsim_pv_fail(p, "%s must be an integer, got \"%.32s\"", key, s);
        n = strtoll(s, NULL, 10);
    } else {
        if (!json_object_is_type(v, json_type_int))
            return pgsim_pv_fail(p, "%s must be a JSON integer (like 4900), not %s", key,
                                 type_phrase(v));
        errno = 0;
        n = json_object_get_int64(v);
        if (errno || n > 999999999999999LL || n < -999999999999999LL)
            return pgsim_pv_fail(p, "%s is out of range", key);
    }
    if (n < min || n > max)
        return pgsim_pv_fail(p, "%s must be between %lld and %lld, got %lld", key, (long long)min,
                             (long long)max, (long long)n);
    *out = n;
    return 1;
}

int pgsim_pv_json(struct pgsim_pv *p, const char *key, int required, json_type type,
                  json_object **out, json_object **owned)
{
    *owned = NULL;
    if (p->err[0])
        return -1;
    json_object *v = pv_get(p, key);
    if (!v)
        return required ? pv_missing(p, key) : 0;
    if (p->form) {
        const char *s = json_object_get_string(v);
        if (!*s)
            return required ? pv_missing(p, key) : 0;
        json_object *parsed = json_tokener_parse(s);
        if (!parsed || !json_object_is_type(parsed, type)) {
            json_object_put(parsed);
            return pgsim_pv_fail(p, "%s must be a JSON %s", key, json_type_to_name(type));
        }
        *owned = parsed;
        *out = parsed;
        return 1;
    }
    if (!json_object_is_type(v, type))
        return pgsim_pv_fail(p, "%s must be a JSON %s, not %s", key, json_type_to_name(type),
                             type_phrase(v));
    *out = v;
    return 1;
}

/* ---- ending a request ---------------------------------------------------------- */

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void log_request(struct pgsim_req *r, const char *what)
{
    if (r->sim->cfg.quiet)
        return;
    fprintf(stderr, "mq-pgsim: %s %s %s%s%s%s%s %.1fms\n", r->method, r->path, what,
            r->op ? " " : "", r->op ? r->op->name : "", r->note ? " fault=" : "",
            r->note ? r->note : "", elapsed_ms(&r->t0));
}

static void req_free(struct pgsim_req *r)
{
    if (r->timer)
        event_free(r->timer);
    if (r->peer_watch)
        event_free(r->peer_watch);
    json_object_put(r->params);
    free(r->body);
    free(r->path);
    free(r);
}

static void unlink_pending(struct pgsim_req *r)
{
    struct pgsim *sim = r->sim;
    if (r->prev)
        r->prev->next = r->next;
    else if (sim->pending == r)
        sim->pending = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void stop_watching(struct pgsim_req *r)
{
    if (r->peer_watch) {
        event_free(r->peer_watch);
        r->peer_watch = NULL;
    }
    if (r->conn)
        evhttp_connection_set_closecb(r->conn, NULL, NULL);
}

static void send_now(struct pgsim_req *r)
{
    char what[16];
    snprintf(what, sizeof what, "%d", r->status);
    log_request(r, what);
    evhttp_send_reply(r->ev, r->status, NULL, NULL);
    r->ev = NULL;
}

/* Close the connection without a response. */
static void drop_now(struct pgsim_req *r)
{
    log_request(r, "dropped");
    stop_watching(r);
    evhttp_request_own(r->ev);
    if (r->conn)
        evhttp_connection_free(r->conn);
    r->conn = NULL;
    evhttp_request_free(r->ev);
    r->ev = NULL;
}

/* The client left (or evhttp freed the connection): forget the request. */
static void release_gone(struct pgsim_req *r)
{
    log_request(r, "client gone");
    if (r->ev)
        evhttp_request_free(r->ev); /* owned since client_gone */
    r->ev = NULL;
    unlink_pending(r);
    req_free(r);
}

static void client_gone(struct pgsim_req *r, int free_conn)
{
    struct evhttp_connection *conn = r->conn;
    stop_watching(r);
    evhttp_request_own(r->ev);
    r->gone = 1;
    r->conn = NULL;
    if (free_conn && conn)
        evhttp_connection_free(conn);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pgsim_req *r = arg;
    if (r->gone) {
        release_gone(r);
        return;
    }
    unlink_pending(r);
    if (r->outcome == PGSIM_DROP) {
        drop_now(r);
    } else {
        stop_watching(r);
        send_now(r);
    }
    req_free(r);
}

/* evhttp is freeing the connection under a pending request. We are inside
 * evhttp_connection_free, which still walks its request list: own the
 * request now and free it from the timer, not here. */
static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct pgsim_req *r = arg;
    if (r->gone)
        return;
    client_gone(r, 0);
    if (!r->timer)
        r->timer = evtimer_new(r->sim->base, on_timer, r);
    if (r->timer) {
        struct timeval zero = {0, 0};
        evtimer_add(r->timer, &zero);
    }
}

static void on_peer_readable(evutil_socket_t fd, short what, void *arg)
{
    struct pgsim_req *r = arg;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        client_gone(r, 1);
        release_gone(r);
    } else if (n > 0) {
        /* A pipelined request waits behind ours; evhttp reads it after our
         * answer. We cannot see past it, so stop watching. */
        event_free(r->peer_watch);
        r->peer_watch = NULL;
    } else {
        event_add(r->peer_watch, NULL);
    }
}

static void defer(struct pgsim_req *r, int64_t delay_ms)
{
    struct pgsim *sim = r->sim;
    r->next = sim->pending;
    if (sim->pending)
        sim->pending->prev = r;
    sim->pending = r;
    if (r->conn) {
        evhttp_connection_set_closecb(r->conn, on_conn_close, r);
        struct bufferevent *bev = evhttp_connection_get_bufferevent(r->conn);
        evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
        if (fd >= 0) {
            r->peer_watch = event_new(sim->base, fd, EV_READ, on_peer_readable, r);
            if (r->peer_watch)
                event_add(r->peer_watch, NULL);
        }
    }
    if (delay_ms < 0) {
        log_request(r, "held");
        return; /* held: no timer, answered never */
    }
    r->timer = evtimer_new(sim->base, on_timer, r);
    struct timeval tv = {(time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000};
    if (!r->timer || evtimer_add(r->timer, &tv) != 0) {
        /* Out of memory: answer (or drop) now rather than never. */
        on_timer(-1, 0, r);
    }
}

static void finish(struct pgsim_req *r)
{
    int64_t latency = r->op ? pgsim_fault_latency(r->sim, r->op) : 0;
    if (r->outcome == PGSIM_HOLD) {
        defer(r, -1);
        return;
    }
    /* A drop waits for a timer even without latency: freeing the
     * connection from inside evhttp's own callback is asking for trouble. */
    if (latency > 0 || r->outcome == PGSIM_DROP) {
        defer(r, latency);
        return;
    }
    send_now(r);
    req_free(r);
}

void pgsim_release_pending(struct pgsim *sim)
{
    while (sim->pending) {
        struct pgsim_req *r = sim->pending;
        if (!r->gone)
            client_gone(r, 1);
        sim->pending = r->next;
        if (sim->pending)
            sim->pending->prev = NULL;
        r->next = NULL;
        if (r->ev)
            evhttp_request_free(r->ev);
        req_free(r);
    }
}

/* ---- the gateway APIs ---------------------------------------------------------- */

enum body_kind { BODY_JSON, BODY_FORM };

/* The payment id a call names, for the per-payment call counts. */
static const char *peek_id(struct pgsim_req *r, const char *key)
{
    json_object *v;
    if (r->params && json_object_object_get_ex(r->params, key, &v) &&
        json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

static void count_call(struct pgsim_req *r, const char *path_id)
{
    struct pgsim *sim = r->sim;
    pgsim_stats_bump(sim, "calls", r->op->name);
    const char *table = NULL, *id = NULL;
    switch (r->op->id) {
    case OP_KAKAO_APPROVE: table = "kakao_approve_calls", id = peek_id(r, "tid"); break;
    case OP_KAKAO_CANCEL: table = "kakao_cancel_calls", id = peek_id(r, "tid"); break;
    case OP_KAKAO_ORDER: table = "kakao_order_calls", id = peek_id(r, "tid"); break;
    case OP_NAVER_APPLY: table = "naver_apply_calls", id = peek_id(r, "paymentId"); break;
    case OP_NAVER_CANCEL: table = "naver_cancel_calls", id = peek_id(r, "paymentId"); break;
    case OP_NAVER_HISTORY:
        table = "naver_history_calls", id = path_id ? path_id : peek_id(r, "paymentId");
        break;
    default: break;
    }
    if (table && id && *id && strlen(id) <= 64)
        pgsim_stats_bump(sim, table, id);
}

static void fault_reply(struct pgsim_req *r, int legacy, const struct pgsim_fault_error *e)
{
    if (r->op->provider == PGSIM_KAKAO)
        pgsim_kakao_fault_reply(r, legacy, e);
    else
        pgsim_naver_fault_reply(r, e);
}

static void api(struct pgsim_req *r, enum pgsim_op_id id, enum body_kind kind, int legacy,
                const char *partner, const char *path_id)
{
    struct pgsim *sim = r->sim;
    r->op = &pgsim_ops[id];
    if (evhttp_request_get_command(r->ev) != EVHTTP_REQ_POST) {
        pgsim_add_header(r, "Allow", "POST");
        reply_plain_error(r, 405, "MethodNotAllowed", "the gateway APIs take POST only");
        return;
    }
    if (kind == BODY_JSON)
        parse_json_body(r);
    else
        parse_form_body(r);
    count_call(r, path_id);

    struct pgsim_fault_error err;
    if (pgsim_fault_pre(sim, r->op, &r->outcome, &err)) {
        if (r->outcome == PGSIM_HOLD) {
            r->note = "timeout";
        } else if (r->outcome == PGSIM_DROP) {
            r->note = "drop";
        } else {
            r->note = "error";
            fault_reply(r, legacy, &err);
        }
        pgsim_stats_fault(sim, r->op, r->note);
        return;
    }
    if (r->op->provider == PGSIM_KAKAO)
        pgsim_kakao_handle(r, legacy);
    else
        pgsim_naver_handle(r, partner, path_id);

    if (r->committed && pgsim_fault_post(sim, r->op, &r->outcome)) {
        r->note = r->outcome == PGSIM_HOLD ? "timeout_after" : "drop_after";
        pgsim_stats_fault(sim, r->op, r->note);
    }
}

/* ---- routing ------------------------------------------------------------------- */

static int kakao_op(const char *name, enum pgsim_op_id *id)
{
    static const struct {
        const char *name;
        enum pgsim_op_id id;
    } t[] = {{"ready", OP_KAKAO_READY},
             {"approve", OP_KAKAO_APPROVE},
             {"cancel", OP_KAKAO_CANCEL},
             {"order", OP_KAKAO_ORDER}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0) {
            *id = t[i].id;
            return 1;
        }
    return 0;
}

static void not_found(struct pgsim_req *r)
{
    reply_plain_error(r, 404, "NotFound", "no such endpoint on mq-pgsim (see GET /)");
}

/* /{partnerId}/naverpay/payments/{version}/{api}. `p` points after the
 * leading '/'. */
static int route_naver(struct pgsim_req *r, const char *p)
{
    const char *slash = strchr(p, '/');
    static const char mid[] = "/naverpay/payments/";
    if (!slash || slash == p || strncmp(slash, mid, sizeof mid - 1) != 0)
        return 0;
    char partner[128];
    size_t plen = (size_t)(slash - p);
    if (plen >= sizeof partner)
        return 0;
    memcpy(partner, p, plen);
    partner[plen] = '\0';
    const char *rest = slash + sizeof mid - 1;
    static const char hist[] = "v2.2/list/history/";
    if (strcmp(rest, "v2/reserve") == 0)
        api(r, OP_NAVER_RESERVE, BODY_JSON, 0, partner, NULL);
    else if (strcmp(rest, "v2.2/apply/payment") == 0 || strcmp(rest, "v2/apply/payment") == 0)
        api(r, OP_NAVER_APPLY, BODY_FORM, 0, partner, NULL);
    else if (strcmp(rest, "v1/cancel") == 0)
        api(r, OP_NAVER_CANCEL, BODY_FORM, 0, partner, NULL);
    else if (strcmp(rest, "v2.2/list/history") == 0)
        api(r, OP_NAVER_HISTORY, BODY_JSON, 0, partner, NULL);
    else if (strncmp(rest, hist, sizeof hist - 1) == 0 && rest[sizeof hist - 1] &&
             !strchr(rest + sizeof hist - 1, '/'))
        api(r, OP_NAVER_HISTORY, BODY_JSON, 0, partner, rest + sizeof hist - 1);
    else
        return 0;
    return 1;
}

static void route(struct pgsim_req *r)
{
    const char *p = r->path;
    enum pgsim_op_id id;
    static const char cur[] = "/online/v1/payment/", leg[] = "/v1/payment/";
    if (strncmp(p, cur, sizeof cur - 1) == 0 && kakao_op(p + sizeof cur - 1, &id)) {
        api(r, id, BODY_JSON, 0, NULL, NULL);
        return;
    }
    if (strncmp(p, leg, sizeof leg - 1) == 0 && kakao_op(p + sizeof leg - 1, &id)) {
        api(r, id, BODY_FORM, 1, NULL, NULL);
        return;
    }
    if (strncmp(p, "/sim/kakao/", 11) == 0) {
        pgsim_page_kakao(r, p + 11);
        return;
    }
    if (strncmp(p, "/sim/naver/", 11) == 0) {
        pgsim_page_naver(r, p + 11);
        return;
    }
    /* The real NaverPay page is {page host}/payments/{reserveId}: serve the
     * same shape, so a client's page base can point here unchanged. */
    if (strncmp(p, "/payments/", 10) == 0 && !strchr(p + 10, '/')) {
        pgsim_page_naver(r, p + 10);
        return;
    }
    if (strncmp(p, "/sim/", 5) == 0) {
        pgsim_control(r, p + 5);
        return;
    }
    if (strcmp(p, "/") == 0) {
        pgsim_index(r);
        return;
    }
    if (route_naver(r, p + 1))
        return;
    not_found(r);
}

static const char *method_name(struct evhttp_request *ev)
{
    switch (evhttp_request_get_command(ev)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

void pgsim_on_request(struct evhttp_request *ev, void *arg)
{
    struct pgsim *sim = arg;
    struct pgsim_req *r = calloc(1, sizeof *r);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t len = evbuffer_get_length(in);
    if (r) {
        r->path = strdup(path && *path ? path : "/");
        r->body = malloc(len + 1);
    }
    if (!r || !r->path || !r->body) {
        if (r)
            req_free(r);
        evhttp_send_error(ev, 500, "out of memory");
        return;
    }
    r->sim = sim;
    r->ev = ev;
    r->conn = evhttp_request_get_connection(ev);
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    snprintf(r->method, sizeof r->method, "%s", method_name(ev));
    evbuffer_copyout(in, r->body, len);
    r->body[len] = '\0';
    r->body_len = len;
    r->status = 500;
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Content-Type",
                      "text/plain; charset=utf-8");
    route(r);
    finish(r);
}
