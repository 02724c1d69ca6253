/*
 * bare_evhttp.c -- the baseline the host is measured against.
 *
 * The smallest honest evhttp server: one event loop configured the way the
 * host configures its own (epoll changelist, no locks, the same evhttp
 * limits), answering GET /api/health with
 * the same body and the same response headers the host sends, so that the
 * bench's host/bare ratio measures what the host adds (router, generation
 * reference, access log, request id), not a difference in bytes on the wire.
 *
 *   mq-bench-bare PORT [ADDR]      ADDR defaults to 127.0.0.1
 *
 * Runs in the foreground until SIGTERM or SIGINT.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char health_body[] = "{\"ok\":true}";

/* The host tags every response with a request id (a random 32-bit prefix
 * and a counter, 16 hex digits); so does the baseline, in the same order and
 * shape, so both send the same headers: Content-Type, X-Request-Id, then
 * evhttp's Date and Content-Length. */
static uint32_t request_prefix;
static uint32_t request_counter;

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char id[17];
    snprintf(id, sizeof id, "%08" PRIx32 "%08" PRIx32, request_prefix, ++request_counter);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "X-Request-Id", id);

    /* Straight into the request's output buffer, as the host does. */
    struct evbuffer *body = evhttp_request_get_output_buffer(req);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET && path != NULL &&
        strcmp(path, "/api/health") == 0) {
        evbuffer_add(body, health_body, sizeof health_body - 1);
        evhttp_send_reply(req, HTTP_OK, NULL, NULL);
    } else {
        evbuffer_add_printf(body, "{\"code\":\"not_found\",\"message\":\"no such route\"}");
        evhttp_send_reply(req, HTTP_NOTFOUND, NULL, NULL);
    }
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [ADDR]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    const char *addr = argc == 3 ? argv[2] : "127.0.0.1";
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "mq-bench-bare: bad port \"%s\"\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    request_prefix = (uint32_t)getpid() * 2654435761u;

    /* The same loop configuration as the host: the changelist coalesces the
     * epoll_ctl calls a request makes into one per fd per loop iteration;
     * one thread, so no locks. */
    struct event_config *ec = event_config_new();
    if (ec == NULL)
        return 1;
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST | EVENT_BASE_FLAG_NOLOCK);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (base == NULL) {
        fprintf(stderr, "mq-bench-bare: event_base_new_with_config failed\n");
        return 1;
    }
    struct evhttp *http = evhttp_new(base);
    if (http == NULL)
        return 1;
    /* The host's evhttp limits, so both parse requests the same way. */
    evhttp_set_timeout(http, 30);
    evhttp_set_max_headers_size(http, 32 * 1024);
    evhttp_set_gencb(http, on_request, NULL);
    if (evhttp_bind_socket(http, addr, (ev_uint16_t)port) != 0) {
        fprintf(stderr, "mq-bench-bare: bind \"%s:%d\" failed\n", addr, port);
        return 1;
    }
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (sigterm == NULL || sigint == NULL)
        return 1;
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    fprintf(stderr, "mq-bench-bare: listening on %s:%d (%s)\n", addr, port,
            event_base_get_method(base));

    event_base_dispatch(base);

    event_free(sigterm);
    event_free(sigint);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
