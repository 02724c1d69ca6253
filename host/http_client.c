/*
 * http_client.c -- libcurl multi on libevent (see http_client.h).
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and
 * when to wake it (CURLMOPT_TIMERFUNCTION); libevent watches them and we
 * call curl_multi_socket_action. Finished transfers are collected after
 * each action and their callbacks run on the loop, with the plugin's
 * generation referenced so its code stays mapped until they return.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/buffer.h>

#include "host.h"
#include "http_client.h"
#include "log.h"

#define MQ_HTTP_MAX_BODY (1u << 20)

struct mq_http_transfer {
    mq_host *h;
    mq_plugin *owner; /* NULL for host calls */
    mq_gen *gen;      /* referenced while running, NULL for host calls */
    CURL *easy;
    struct curl_slist *hdrs;
    struct evbuffer *body, *headers;
    size_t expect_upload;
    int too_big;
    mq_http_fn fn;
    void *ud;
    char errbuf[CURL_ERROR_SIZE];
    mq_http_transfer *prev, *next; /* in h->transfers */
};

typedef struct sock_ctx {
    mq_host *h;
    curl_socket_t fd;
    struct event *ev;
} sock_ctx;

/* ---- driving libcurl from libevent -------------------------------------------- */

static void collect_done(mq_host *h);

static void on_socket_event(evutil_socket_t fd, short kind, void *arg)
{
    sock_ctx *c = arg;
    mq_host *h = c->h;
    int action = ((kind & EV_READ) ? CURL_CSELECT_IN : 0) | ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(h->curl_multi, fd, action, &running);
    collect_done(h);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    mq_host *h = userp;
    sock_ctx *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c) {
            event_free(c->ev);
            free(c);
            curl_multi_assign(h->curl_multi, fd, NULL);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        c->h = h;
        c->fd = fd;
        curl_multi_assign(h->curl_multi, fd, c);
    } else {
        event_free(c->ev);
    }
    c->ev = event_new(h->base, fd, kind, on_socket_event, c);
    if (!c->ev)
        return -1;
    event_add(c->ev, NULL);
    return 0;
}

static void on_curl_timeout(evutil_socket_t fd, short kind, void *arg)
{
    mq_host *h = arg;
    int running = 0;
    curl_multi_socket_action(h->curl_multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(h);
}

/* libcurl asks to be woken after timeout_ms (-1: never). Never call back
 * into libcurl from here: only arm the timer. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    mq_host *h = userp;
    if (timeout_ms < 0) {
        evtimer_del(h->curl_timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(h->curl_timer, &tv);
    return 0;
}

/* ---- transfers ---------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    mq_http_transfer *t = arg;
    size_t len = size * n;
    if (evbuffer_get_length(t->body) + len > MQ_HTTP_MAX_BODY) {
        t->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    evbuffer_add(t->body, data, len);
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    mq_http_transfer *t = arg;
    size_t len = size * n;
    if (evbuffer_get_length(t->headers) + len <= 64 * 1024)
        evbuffer_add(t->headers, data, len);
    return len;
}

static void unlink_transfer(mq_http_transfer *t)
{
    mq_host *h = t->h;
    if (t->prev)
        t->prev->next = t->next;
    else
        h->transfers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    h->transfers_running--;
}

static void transfer_free(mq_http_transfer *t)
{
    if (t->easy) {
        curl_multi_remove_handle(t->h->curl_multi, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->hdrs);
    if (t->body)
        evbuffer_free(t->body);
    if (t->headers)
        evbuffer_free(t->headers);
    free(t);
}

static void finish(mq_http_transfer *t, CURLcode rc)
{
    mq_http_response resp = {0};
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    long req_size = 0;
    curl_off_t uploaded = 0;
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &req_size);
    curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    resp.status = (int)status;
    resp.sent = req_size > 0 && (size_t)uploaded >= t->expect_upload;
    if (rc == CURLE_OK) {
        resp.error = MQ_OK;
        resp.error_text = "";
    } else {
        resp.error = t->too_big ? MQ_ETOOBIG
                     : rc == CURLE_OPERATION_TIMEDOUT ? MQ_ETIMEDOUT
                                                      : MQ_EIO;
        resp.error_text = t->too_big ? "response body over 1 MiB"
                          : t->errbuf[0] ? t->errbuf
                                         : curl_easy_strerror(rc);
    }
    evbuffer_add(t->body, "", 1); /* NUL-terminate */
    resp.body_len = evbuffer_get_length(t->body) - 1;
    resp.body = (const char *)evbuffer_pullup(t->body, -1);
    evbuffer_add(t->headers, "", 1);
    resp.headers = (const char *)evbuffer_pullup(t->headers, -1);
    mq_gen *g = t->gen;
    t->fn(&resp, t->ud);
    transfer_free(t);
    if (g)
        mq_gen_unref(g);
}

static void collect_done(mq_host *h)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->curl_multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        mq_http_transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode rc = msg->data.result;
        unlink_transfer(t);
        finish(t, rc);
    }
}

int mq_http_start(mq_host *h, mq_plugin *owner, const mq_http_request *rq, mq_http_fn fn,
                  void *ud)
{
    if (!rq || !rq->url || !fn || !h->curl_multi)
        return MQ_EINVAL;
    if (strncmp(rq->url, "http://", 7) != 0 && strncmp(rq->url, "https://", 8) != 0)
        return MQ_EINVAL;
    mq_http_transfer *t = calloc(1, sizeof *t);
    if (!t)
        return MQ_ENOMEM;
    t->h = h;
    t->owner = owner;
    t->fn = fn;
    t->ud = ud;
    t->body = evbuffer_new();
    t->headers = evbuffer_new();
    t->easy = curl_easy_init();
    if (!t->body || !t->headers || !t->easy)
        goto nomem;
    /* curl would add "Expect: 100-continue" to larger POSTs and wait. */
    if (!(t->hdrs = curl_slist_append(NULL, "Expect:")))
        goto nomem;
    for (const char *const *hp = rq->headers; hp && *hp; hp++) {
        struct curl_slist *n = curl_slist_append(t->hdrs, *hp);
        if (!n)
            goto nomem;
        t->hdrs = n;
    }
    const char *method = rq->method ? rq->method : "GET";
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)t);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     (long)(rq->timeout_ms ? rq->timeout_ms : h->http_timeout_ms));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(rq->connect_timeout_ms ? rq->connect_timeout_ms
                                                   : h->http_connect_timeout_ms));
    if (strcmp(method, "GET") != 0 || rq->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, rq->body ? (const char *)rq->body : "");
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        t->expect_upload = rq->body_len;
        /* A request with a body is not idempotent (a payment approval): on a
         * reused keep-alive connection that dies before answering, libcurl
         * would silently send it again on a new one. A fresh connection
         * means it goes out exactly once; a failure is reported instead. */
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    }
    if (curl_multi_add_handle(h->curl_multi, e) != CURLM_OK)
        goto nomem;
    if (owner) {
        t->gen = owner->gen;
        mq_gen_ref(t->gen); /* the callback's code stays mapped */
    }
    t->next = h->transfers;
    if (h->transfers)
        h->transfers->prev = t;
    h->transfers = t;
    h->transfers_running++;
    return MQ_OK;
nomem:
    transfer_free(t);
    return MQ_ENOMEM;
}

void mq_http_cancel_gen(mq_gen *g)
{
    mq_host *h = g->host;
    for (mq_http_transfer *t = h->transfers, *next; t; t = next) {
        next = t->next;
        if (t->gen != g)
            continue;
        unlink_transfer(t);
        transfer_free(t);
        mq_gen_unref(g);
    }
}

long mq_http_running(mq_host *h) { return h->transfers_running; }

int mq_http_init(mq_host *h)
{
    h->curl_multi = curl_multi_init();
    h->curl_timer = evtimer_new(h->base, on_curl_timeout, h);
    if (!h->curl_multi || !h->curl_timer)
        return -1;
    curl_multi_setopt(h->curl_multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->curl_multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->curl_multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->curl_multi, CURLMOPT_TIMERDATA, h);
    return 0;
}

void mq_http_cleanup(mq_host *h)
{
    while (h->transfers) {
        mq_http_transfer *t = h->transfers;
        unlink_transfer(t);
        mq_gen *g = t->gen;
        transfer_free(t);
        if (g)
            mq_gen_unref(g);
    }
    if (h->curl_multi)
        curl_multi_cleanup(h->curl_multi);
    if (h->curl_timer)
        event_free(h->curl_timer);
    h->curl_multi = NULL;
    h->curl_timer = NULL;
}
