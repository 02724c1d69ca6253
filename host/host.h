/*
 * host.h -- the host's internal state: the server, generations, requests.
 * Nothing here crosses the plugin ABI; plugins see only mq_plugin.h.
 *
 * Lifetimes (DESIGN.md section 3):
 *   mq_host   the process: listener, loop, metrics registry, current gen.
 *   mq_gen    one release's plugins, routes, services and config. It holds
 *             one reference for being current and one per request that
 *             started in it; at zero it is finalized on a later loop turn
 *             (never inside a plugin's call stack).
 *   mq_req    one HTTP request, from dispatch until its response is sent
 *             (or its client is gone and the plugin has finished with it).
 */
#ifndef MQ_HOST_H
#define MQ_HOST_H

#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "metrics.h"
#include "netaddr.h"
#include "mq_plugin.h"
#include "paths.h"
#include "ratelimit.h"
#include "router.h"
#include "store.h"

typedef struct mq_host mq_host;
typedef struct mq_gen mq_gen;

/* ---- plugins, timers, services, events -------------------------------------- */

struct mq_plugin {
    mq_gen *gen;
    const mq_plugin_desc *desc;
    void *dl;     /* dlopen handle of the private copy */
    void *state;  /* what init returned */
    int inited;   /* init succeeded: fini is owed */
    char *name;    /* copied from the descriptor */
    char *version; /* copied from the descriptor */
    char *file;    /* release-relative path, e.g. plugins/hello.so */
};

struct mq_timer {
    mq_plugin *owner;
    struct event *ev;
    mq_timer_fn fn;
    void *ud;
    int repeat;
    uint64_t repeat_ms;
    int firing;  /* its callback is running */
    int stopped; /* stopped from inside its own callback */
    mq_timer *prev, *next; /* in gen->timers */
};

typedef struct mq_service {
    char *name;
    uint32_t version;
    const void *vtable;
    void *ud;
    mq_plugin *owner;
} mq_service;

typedef struct mq_subscription {
    char *event;
    mq_event_fn fn;
    void *ud;
    mq_plugin *owner;
} mq_subscription;

/* ---- requests ---------------------------------------------------------------- */

enum mq_req_state {
    MQ_REQ_HANDLING,  /* the route handler is running */
    MQ_REQ_SUSPENDED, /* the handler returned; a callback will answer */
    MQ_REQ_SYNCWAIT,  /* answered; held until its durable records are synced */
    MQ_REQ_DONE
};

typedef struct mq_chunk mq_chunk;

struct mq_req {
    mq_host *host;
    mq_gen *gen; /* referenced until the request finishes */
    struct evhttp_request *ev; /* NULL once finished */
    struct evhttp_connection *conn;
    int gone;  /* the client disconnected; ev is ours to free */
    int in_handler; /* the route handler is on the stack: free after it */
    struct event *peer_watch; /* EOF watch on the socket while suspended */
    uint64_t need_seq;   /* store sequence the response must wait for */
    int pending_status;  /* the response held in MQ_REQ_SYNCWAIT */
    size_t pending_len;
    int state;
    const mq_route *route;
    const char *route_label; /* metrics label: the pattern, never the raw path */
    mq_route_param params[MQ_ROUTE_MAX_PARAMS];
    size_t nparams;
    char *path;        /* decoded path (req_alloc'd) */
    const char *query; /* raw query string, or NULL */
    struct evkeyvalq *qargs; /* parsed lazily */
    struct evkeyvalq *headers_out;
    char *cookie_copy; /* lazily parsed Cookie header (req_alloc'd) */
    char id[17];
    char ip[48];
    struct timespec t0;
    mq_chunk *chunks; /* request-scoped allocations */
    mq_req *prev, *next; /* in gen->suspended, or host->syncwait */
};

/* ---- generations -------------------------------------------------------------- */

struct mq_gen {
    mq_host *host;
    uint64_t id;
    int refs;
    int building;   /* init() is running: route_add allowed */
    int retired;    /* no longer current */
    int finalizing; /* scheduled for finalization: no new timers */
    mq_config *cfg;
    char *release_id;   /* NULL when no release is loaded */
    char *release_path; /* realpath of the release dir */
    mq_plugin **plugins;
    size_t nplugins;
    mq_router router;
    mq_service *services;
    size_t nservices;
    mq_subscription *subs;
    size_t nsubs;
    mq_timer *timers;
    mq_req *suspended;
    struct event *drain_timer;
    struct event *finalize_ev;
    mq_cidr_list proxies; /* TRUSTED_PROXIES of this generation's .env */
    char conflict[256];   /* first route conflict seen during init */
    mq_gen *next_retired;
};

/* ---- the host ------------------------------------------------------------------ */

struct mq_host {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    char *env_path;
    mq_config *boot_cfg; /* the snapshot the process started with */
    mq_paths paths;
    char *runtime_dir; /* private copies of plugins live here briefly */
    mq_gen *current;
    mq_gen *retired; /* draining generations */
    uint64_t next_gen_id;
    int live_gens;
    long drain_timeout_ms;
    long shutdown_timeout_ms;
    const char *metrics_token; /* borrowed from current->cfg */
    int stopping;
    long inflight;
    long unsent; /* replies handed to evhttp, not yet fully written */
    mq_req *req_pool; /* released requests kept for reuse */
    unsigned req_pool_n;
    uint64_t req_counter;
    uint32_t req_prefix;
    time_t started;
    int pid_fd;
    uint64_t reload_seq;
    /* the last reloads, for /admin/status (a ring, newest at reload_hist_n-1) */
    struct mq_reload_rec {
        time_t time;
        int ok;
        char reason[24];
        char message[256];
        uint64_t generation;
        char release[80];
        int64_t duration_us;
    } reload_hist[20];
    unsigned reload_hist_n;
    /* access log: buffered, flushed on a timer */
    int access_fd;
    time_t access_ts_sec; /* the second access_ts was formatted for */
    char access_ts[24];
    char *access_path;
    struct evbuffer *access_buf;
    struct event *access_flush_ev;
    struct event *sig_hup, *sig_term, *sig_int, *reload_ev, *shutdown_timer;
    /* the store and group commit */
    mq_store *store;
    int data_lock_fd;
    struct event *store_notify_ev;
    uint64_t synced_seq;
    int store_failed; /* an fdatasync failed: durable appends refused */
    mq_req *syncwait_head, *syncwait_tail; /* answered, waiting for a sync */
    /* backups */
    char *backup_root;
    struct mq_backup_job *backup_job; /* the one running, or NULL */
    char *backup_status; /* PID_FILE.backup.json */
    int backup_efd;      /* the backup thread reports here */
    int backup_again;                 /* another was asked for meanwhile */
    int64_t backup_requested_ns;
    uint64_t backup_seq;
    struct event *backup_timer, *backup_done_ev, *sig_usr1;
    /* outbound HTTP (http_client.c) */
    void *curl_multi; /* CURLM * */
    struct event *curl_timer;
    struct mq_http_transfer *transfers;
    long transfers_running;
    long http_timeout_ms, http_connect_timeout_ms;
    mq_ratelimit *ratelimit;
    struct event *ratelimit_sweep_ev;
    mq_registry *metrics;
    mq_metric *m_requests, *m_duration, *m_5xx, *m_reloads, *m_reload_failures,
        *m_generation, *m_gens_loaded, *m_plugin_info, *m_build_info, *m_rss, *m_fds,
        *m_start_time, *m_inflight, *m_drain_forced, *m_store_corrupt, *m_store_records,
        *m_store_sync_failures, *m_last_backup, *m_backups, *m_notices, *m_restore_checks;
};

/* The function table handed to every plugin (api.c). */
extern const mq_api mq_host_api;
/* Constant-time string equality (api.c): 1 when equal. */
int mq_secure_equal(const char *a, const char *b);

/* generation.c */
/* Build a generation from the current .env and releases/current. On failure
 * returns NULL, *reason is a stable token and err the human cause. */
mq_gen *mq_gen_build(mq_host *h, const char **reason, char *err, size_t errlen);
void mq_gen_ref(mq_gen *g);
void mq_gen_unref(mq_gen *g);
/* Make g current; the previous generation drains and is finalized. */
void mq_gen_activate(mq_host *h, mq_gen *g);
/* Finalize now (shutdown, or a generation that never became current). */
void mq_gen_destroy(mq_gen *g);
/* Answer every suspended request of g with 503 and let it finalize. */
void mq_gen_force_drain(mq_gen *g, const char *code);

/* request.c */
void mq_req_finish(mq_req *r, int status, size_t bytes);
int mq_req_send(mq_req *r, int status, const char *content_type, const void *body,
                size_t len);
void *mq_req_alloc(mq_req *r, size_t n);
/* Answer the requests held for a sync up to `synced` (all of them, with a
 * 503, when the store failed). */
void mq_req_release_synced(mq_host *h, uint64_t synced, int failed);
/* At exit: forget requests still held for a sync. */
void mq_req_drop_waiting(mq_host *h);
/* Watch a suspended request's client (see request.c). */
void mq_req_watch_peer(mq_req *r);
/* A zeroed request (reused from the pool when possible), or NULL. */
mq_req *mq_req_new(mq_host *h);
/* Free a finished request's memory (back to the pool). */
void mq_req_release(mq_req *r);
/* At exit: free the pool. */
void mq_req_pool_free(mq_host *h);
#define MQ_REQ_POOL_MAX 256

/* server.c */
/* The host's state for /admin/status (see mq_api.host_status_json). */
char *mq_host_status_json(mq_host *h);
/* Write a JSON status file atomically (tmp + rename, 0600). */
struct json_object;
void mq_write_status_file(const char *path, struct json_object *o);
/* Write the buffered access log lines now. */
void mq_access_flush(mq_host *h);
/* One JSON line for a finished request (query secrets redacted). */
void mq_access_log(mq_host *h, const mq_req *r, struct evhttp_request *ev, int status,
                   size_t bytes);
const char *mq_method_name(struct evhttp_request *ev);

#endif
