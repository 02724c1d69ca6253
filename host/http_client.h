/*
 * http_client.h -- outbound HTTP on the event loop: libcurl's multi
 * interface driven by libevent (socket and timer callbacks), so a slow
 * gateway or webhook never blocks serving. Plugins reach it through
 * mq_api.http_request; the host uses it for its own notices.
 */
#ifndef MQ_HTTP_CLIENT_H
#define MQ_HTTP_CLIENT_H

#include "mq_plugin.h"

typedef struct mq_host mq_host;
typedef struct mq_gen mq_gen;
typedef struct mq_http_transfer mq_http_transfer;

/* Create the multi handle and its loop hooks. Returns 0 or -1. */
int mq_http_init(mq_host *h);
/* Abort what is still running (callbacks not called) and free. */
void mq_http_cleanup(mq_host *h);

/* Start a transfer. `owner` may be NULL for the host's own calls (then
 * no generation is referenced). Contract as mq_api.http_request. */
int mq_http_start(mq_host *h, mq_plugin *owner, const mq_http_request *rq, mq_http_fn fn,
                  void *ud);

/* Abort every transfer started by plugins of g, without callbacks. */
void mq_http_cancel_gen(mq_gen *g);

/* Transfers running now (for metrics and tests). */
long mq_http_running(mq_host *h);

#endif
