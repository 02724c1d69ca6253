/*
 * request.c -- one HTTP request from dispatch to response.
 *
 * A request references the generation it started in until it finishes, so
 * a reload never unmaps the code that will answer it.
 *
 * A suspended request watches its socket. libevent 2.1 stops reading an
 * incoming connection while its request is pending, so it would notice a
 * departed client only when we write the answer, and evhttp frees a pending
 * request whenever it frees the connection (shutdown, errors). So while a
 * request is suspended we peek at the socket ourselves; on EOF we take
 * ownership of the evhttp_request (evhttp_request_own), free the connection
 * at once (its socket is released now, not when the plugin finishes), and
 * free the request ourselves when the plugin answers. The plugin's work
 * still completes; only its bytes have nowhere to go (logged as 499).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "host.h"
#include "log.h"

struct mq_chunk {
    mq_chunk *next;
    max_align_t data[];
};

void *mq_req_alloc(mq_req *r, size_t n)
{
    mq_chunk *c = calloc(1, sizeof *c + n + 1);
    if (!c)
        return NULL;
    c->next = r->chunks;
    r->chunks = c;
    return c->data;
}

void mq_req_release(mq_req *r)
{
    while (r->chunks) {
        mq_chunk *c = r->chunks;
        r->chunks = c->next;
        free(c);
    }
    if (r->qargs) {
        evhttp_clear_headers(r->qargs);
        free(r->qargs);
    }
    /* Keep a few for the next requests: malloc was a visible share of the
     * per-request CPU. */
    mq_host *h = r->host;
    if (h->req_pool_n < MQ_REQ_POOL_MAX) {
        r->next = h->req_pool;
        h->req_pool = r;
        h->req_pool_n++;
        return;
    }
    free(r);
}

mq_req *mq_req_new(mq_host *h)
{
    mq_req *r = h->req_pool;
    if (r) {
        h->req_pool = r->next;
        h->req_pool_n--;
        memset(r, 0, sizeof *r);
    } else if (!(r = calloc(1, sizeof *r))) {
        return NULL;
    }
    r->host = h;
    return r;
}

void mq_req_pool_free(mq_host *h)
{
    while (h->req_pool) {
        mq_req *r = h->req_pool;
        h->req_pool = r->next;
        free(r);
    }
    h->req_pool_n = 0;
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- watching a suspended request's client ------------------------------------- */

static void stop_watching(mq_req *r)
{
    if (r->peer_watch) {
        event_free(r->peer_watch);
        r->peer_watch = NULL;
    }
    if (r->conn)
        evhttp_connection_set_closecb(r->conn, NULL, NULL);
}

/* The client is gone: keep the request for the plugin, drop the connection. */
static void client_gone(mq_req *r, int free_conn)
{
    struct evhttp_connection *conn = r->conn;
    stop_watching(r);
    evhttp_request_own(r->ev);
    r->gone = 1;
    r->conn = NULL;
    if (free_conn && conn)
        evhttp_connection_free(conn);
}

/* evhttp is freeing the connection (shutdown, error) under a pending request. */
static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    mq_req *r = arg;
    if (r->state == MQ_REQ_SUSPENDED && !r->gone)
        client_gone(r, 0);
}

static void on_peer_readable(evutil_socket_t fd, short what, void *arg)
{
    mq_req *r = arg;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        client_gone(r, 1);
    } else if (n > 0) {
        /* A pipelined request is waiting: evhttp reads it after our answer;
         * we cannot look past it, so stop watching. */
        event_free(r->peer_watch);
        r->peer_watch = NULL;
    } else {
        event_add(r->peer_watch, NULL);
    }
}

void mq_req_watch_peer(mq_req *r)
{
    if (!r->conn)
        return;
    evhttp_connection_set_closecb(r->conn, on_conn_close, r);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(r->conn);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0)
        return;
    r->peer_watch = event_new(r->host->base, fd, EV_READ, on_peer_readable, r);
    if (r->peer_watch)
        event_add(r->peer_watch, NULL);
}

/* ---- finishing ------------------------------------------------------------------ */

static void maybe_exit(mq_host *h)
{
    if (h->stopping && h->inflight == 0 && h->unsent == 0)
        event_base_loopexit(h->base, NULL);
}

static void on_reply_sent(struct evhttp_request *ev, void *arg)
{
    mq_host *h = arg;
    h->unsent--;
    maybe_exit(h);
}

static void unlink_suspended(mq_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->gen->suspended = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

/* Bookkeeping once the response is out (or the client is gone). */
void mq_req_finish(mq_req *r, int status, size_t bytes)
{
    mq_host *h = r->host;
    r->state = MQ_REQ_DONE;
    double secs = elapsed_s(&r->t0);
    const char *route = r->route_label ? r->route_label : "unmatched";
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), '\0'}; /* status is 100..599 */
    const char *lv[] = {route, code};
    mq_metric_add(h->m_requests, lv, 1);
    mq_metric_observe(h->m_duration, lv, secs);
    if (status >= 500 && status <= 599)
        mq_metric_add(h->m_5xx, NULL, 1);
    h->inflight--;
    mq_gen *g = r->gen;
    r->gen = NULL;
    if (!r->in_handler)
        mq_req_release(r);
    mq_gen_unref(g);
    maybe_exit(h);
}

/* Put a prepared response on the wire and finish the request. */
static void commit(mq_req *r)
{
    mq_host *h = r->host;
    struct evhttp_request *ev = r->ev;
    mq_access_log(h, r, ev, r->pending_status, r->pending_len);
    /* Count replies not yet written so shutdown waits for their bytes. */
    h->unsent++;
    evhttp_request_set_on_complete_cb(ev, on_reply_sent, h);
    evhttp_send_reply(ev, r->pending_status, NULL, NULL);
    r->ev = NULL;
    mq_req_finish(r, r->pending_status, r->pending_len);
}

/* Swap a prepared response for a JSON error (its records could not be
 * made durable: the client must not see a success). */
static void replace_with_error(mq_req *r, int status, const char *code, const char *message)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(r->ev);
    evbuffer_drain(out, evbuffer_get_length(out));
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(r->ev);
    evhttp_remove_header(hdr, "Content-Type");
    evhttp_remove_header(hdr, "Location");
    evhttp_add_header(hdr, "Content-Type", "application/json");
    evbuffer_add_printf(out, "{\"code\":\"%s\",\"message\":\"%s\"}", code, message);
    r->pending_status = status;
    r->pending_len = evbuffer_get_length(out);
}

/* Send a response: the one path every answer takes, host or plugin. */
int mq_req_send(mq_req *r, int status, const char *content_type, const void *body, size_t len)
{
    if (!r || r->state == MQ_REQ_DONE || r->state == MQ_REQ_SYNCWAIT)
        return MQ_ESTATE;
    if (status < 100 || status > 599)
        status = 500;
    struct evhttp_request *ev = r->ev;
    mq_host *h = r->host;
    if (r->state == MQ_REQ_SUSPENDED) {
        unlink_suspended(r);
        if (!r->gone)
            stop_watching(r);
    }
    if (r->gone) {
        /* The client left while we worked: the request is ours to free.
         * Its durable records are written all the same. */
        mq_access_log(h, r, ev, 499, 0);
        evhttp_request_free(ev);
        r->ev = NULL;
        mq_req_finish(r, 499, 0);
        return MQ_EGONE;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(ev);
    if (content_type)
        evhttp_add_header(out, "Content-Type", content_type);
    evhttp_add_header(out, "X-Request-Id", r->id);
    if (h->stopping)
        evhttp_add_header(out, "Connection", "close");
    if (len)
        evbuffer_add(evhttp_request_get_output_buffer(ev), body, len);
    r->pending_status = status;
    r->pending_len = len;
    if (r->need_seq > h->synced_seq) {
        if (!h->store_failed) {
            /* Durable before acknowledged: hold the answer for the sync. */
            r->state = MQ_REQ_SYNCWAIT;
            r->prev = h->syncwait_tail;
            r->next = NULL;
            if (h->syncwait_tail)
                h->syncwait_tail->next = r;
            else
                h->syncwait_head = r;
            h->syncwait_tail = r;
            return MQ_OK;
        }
        replace_with_error(r, 503, "store_unavailable",
                           "the change could not be saved; nothing was confirmed");
    }
    commit(r);
    return MQ_OK;
}

void mq_req_release_synced(mq_host *h, uint64_t synced, int failed)
{
    mq_req *r = h->syncwait_head;
    while (r) {
        mq_req *next = r->next;
        if (r->need_seq <= synced || failed) {
            if (r->prev)
                r->prev->next = r->next;
            else
                h->syncwait_head = r->next;
            if (r->next)
                r->next->prev = r->prev;
            else
                h->syncwait_tail = r->prev;
            r->prev = r->next = NULL;
            if (r->need_seq > synced)
                replace_with_error(r, 503, "store_unavailable",
                                   "the change could not be saved; nothing was confirmed");
            commit(r);
        }
        r = next;
    }
}

void mq_req_drop_waiting(mq_host *h)
{
    while (h->syncwait_head) {
        mq_req *r = h->syncwait_head;
        h->syncwait_head = r->next;
        r->ev = NULL; /* evhttp_free frees it with its connection */
        mq_req_finish(r, 503, 0);
    }
    h->syncwait_tail = NULL;
}
