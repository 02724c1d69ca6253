/*
 * mq_plugin.h -- the MindQuiz plugin ABI.
 *
 * This is the only header a plugin may include. A plugin is a shared object
 * that exports exactly one symbol, MQ_PLUGIN_SYMBOL, a const mq_plugin_desc.
 * The host dlopen()s a private copy of the object (RTLD_NOW | RTLD_LOCAL),
 * checks the descriptor's ABI version and size, and calls init() with the
 * host function table (mq_api). Everything a plugin registers (routes,
 * timers, services, event handlers) belongs to the plugin's *generation*
 * and disappears with it; metrics belong to the host and survive reloads.
 *
 * Ownership notes on each prototype say who frees what:
 *   "borrowed until X"  the pointer is valid until X, never free it;
 *   "copied"            the host copies the argument before returning;
 *   "host-owned"        the host frees it, the plugin never does.
 *
 * Nothing from a third-party library crosses this boundary: plain C types
 * and opaque mq_ handles only.
 *
 * ABI changelog (major changes break old plugins; minor ones only append):
 *   1.0  descriptor {abi_major, abi_minor, size, name, version, init, fini};
 *        host table as far as req_alloc.
 *   1.1  descriptor: `summary` and four reserved slots appended. A 1.0
 *        plugin (smaller `size`) still loads; the host reads `summary` only
 *        when `size` covers it.
 *   1.2  host table: store_append, store_get, store_scan, backups_json
 *        appended. Plugins built for 1.0/1.1 never look past their `size`.
 *   1.3  host table: http_request (outbound HTTP on the event loop),
 *        hmac_sha256_hex, secure_equal, random_hex appended.
 *   1.4  host table: rate_check appended. req_client_ip now honours
 *        X-Forwarded-For when the peer is in TRUSTED_PROXIES.
 *   1.5  host table: host_status_json, backup_now, restore_check_now,
 *        ip_in_cidrs appended (for the admin plugin).
 */
#ifndef MQ_PLUGIN_H
#define MQ_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MQ_ABI_MAJOR 1
#define MQ_ABI_MINOR 5

/* The one symbol a plugin exports. */
#define MQ_PLUGIN_SYMBOL "mq_plugin_descriptor"

/* Plugins are built with -fvisibility=hidden; this marks the descriptor. */
#define MQ_PLUGIN_EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------------ */
/* Status codes: MQ_OK or negative. New codes are appended, never renumbered.
 * mq_api.strerror() turns one into text. */
enum mq_status {
    MQ_OK = 0,
    MQ_ENOMEM = -1,    /* out of memory */
    MQ_EINVAL = -2,    /* invalid argument */
    MQ_EEXIST = -3,    /* already registered (route, service, metric clash) */
    MQ_ENOENT = -4,    /* no such thing */
    MQ_EIO = -5,       /* input/output error */
    MQ_EABI = -6,      /* ABI version mismatch */
    MQ_ESTATE = -7,    /* call not allowed now (e.g. route_add after init) */
    MQ_EGONE = -8,     /* the client went away; the request is finished */
    MQ_ETOOBIG = -9,   /* value too large */
    MQ_ETIMEDOUT = -10 /* deadline passed */
};

enum mq_log_level { MQ_LOG_ERROR = 0, MQ_LOG_WARN = 1, MQ_LOG_INFO = 2, MQ_LOG_DEBUG = 3 };

enum mq_metric_type { MQ_COUNTER = 1, MQ_GAUGE = 2, MQ_HISTOGRAM = 3 };

/* store_append flags */
enum { MQ_STORE_DURABLE = 1 };
/* store_scan flags */
enum { MQ_SCAN_ALL = 0, MQ_SCAN_LATEST = 1 };

/* Opaque handles. */
typedef struct mq_plugin mq_plugin; /* one loaded plugin in one generation */
typedef struct mq_req mq_req;       /* one HTTP request */
typedef struct mq_timer mq_timer;   /* a host-owned timer */
typedef struct mq_metric mq_metric; /* a host-owned metric family */

/* A route handler. Before returning it must either send a response
 * (resp_send / resp_error) or suspend the request (req_suspend); if it does
 * neither, the host answers 500. `ud` is what route_add was given. */
typedef void (*mq_handler_fn)(mq_req *req, void *ud);

/* A timer callback, run on the event loop. */
typedef void (*mq_timer_fn)(void *ud);

/* An event handler: `payload` (usually JSON) is borrowed until it returns. */
typedef void (*mq_event_fn)(const char *event, const char *payload, size_t len, void *ud);

/* A store visitor: `json` (one record) is borrowed for the call. Return
 * non-zero to stop the scan. */
typedef int (*mq_scan_fn)(const char *key, const char *json, size_t len, void *ud);

/* An outbound HTTP request (since 1.3). Every field is copied by
 * http_request before it returns. */
typedef struct mq_http_request {
    const char *method;          /* "GET", "POST", ... */
    const char *url;             /* http:// or https:// only */
    const char *const *headers;  /* NULL-terminated "Name: value" lines, or NULL */
    const void *body;            /* request body, or NULL */
    size_t body_len;
    uint32_t timeout_ms;         /* whole transfer; 0 = HTTP_TIMEOUT_MS (10000) */
    uint32_t connect_timeout_ms; /* 0 = HTTP_CONNECT_TIMEOUT_MS (3000) */
} mq_http_request;

/* Its outcome, borrowed until the callback returns. */
typedef struct mq_http_response {
    int status;             /* HTTP status; 0 when no response arrived */
    int error;              /* MQ_OK, MQ_ETIMEDOUT, MQ_EIO (connect, reset...),
                             * MQ_ETOOBIG (body over 1 MiB) */
    const char *error_text; /* a human cause when error != MQ_OK, else "" */
    int sent;               /* the whole request went out: after an error the
                             * server may still have acted on it */
    const char *headers;    /* the response header block, "Name: value\r\n"... */
    const char *body;       /* NUL-terminated */
    size_t body_len;
} mq_http_response;

/* Called exactly once, on the loop, when the transfer ends. */
typedef void (*mq_http_fn)(const mq_http_response *resp, void *ud);

/* ------------------------------------------------------------------------ */
/* The host function table, passed to init(). The plugin keeps the pointer in
 * its own state; it stays valid until the plugin's fini() returns. */
typedef struct mq_api {
    uint16_t abi_major; /* MQ_ABI_MAJOR of the host */
    uint16_t abi_minor; /* MQ_ABI_MINOR of the host */
    uint32_t size;      /* sizeof(mq_api) in the host */

    /* -- basics ---------------------------------------------------------- */

    /* Text for a status code. Static string. */
    const char *(*strerror)(int status);

    /* Log one line, prefixed with the plugin's name. Never log secrets. */
    void (*log)(mq_plugin *self, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Value of a config key from this generation's .env, or NULL if unset.
     * Borrowed until the plugin's fini(). */
    const char *(*config_get)(mq_plugin *self, const char *key);

    /* Absolute path of this generation's release directory (its assets are
     * under "<path>/assets"). Borrowed until the plugin's fini(). */
    const char *(*release_path)(mq_plugin *self);

    /* -- routes (only during init) -------------------------------------- */

    /* Serve `method` ("GET", "POST", ...) on `pattern`: literal segments and
     * ":name" parameters, e.g. "/app/result/:id"; a final "*name" matches
     * the rest of the path. Strings are copied. MQ_EEXIST when another
     * plugin of the generation registered the same method and shape: the
     * whole generation is then refused ("route_conflict"). */
    int (*route_add)(mq_plugin *self, const char *method, const char *pattern,
                     mq_handler_fn fn, void *ud);

    /* -- request access: results borrowed until the response is sent ------ */

    const char *(*req_method)(mq_req *req);
    const char *(*req_path)(mq_req *req);  /* decoded path, no query */
    const char *(*req_param)(mq_req *req, const char *name); /* route param */
    const char *(*req_query)(mq_req *req, const char *name); /* first value */
    const char *(*req_header)(mq_req *req, const char *name);
    const char *(*req_cookie)(mq_req *req, const char *name);
    const void *(*req_body)(mq_req *req, size_t *len);
    /* The client's address: the peer, or -- when the peer is listed in
     * TRUSTED_PROXIES -- the last address of X-Forwarded-For that is not
     * itself a trusted proxy. */
    const char *(*req_client_ip)(mq_req *req);
    const char *(*req_id)(mq_req *req);

    /* -- response ------------------------------------------------------- */

    /* Add a response header. Copied. */
    int (*resp_header)(mq_req *req, const char *name, const char *value);

    /* Send the response (body copied). `req` is invalid afterwards, also
     * when the result is MQ_EGONE (the client disconnected meanwhile). */
    int (*resp_send)(mq_req *req, int status, const char *content_type,
                     const void *body, size_t len);

    /* Send {"code": code, "message": message} as application/json. Same
     * contract as resp_send. */
    int (*resp_error)(mq_req *req, int status, const char *code, const char *message);

    /* Keep the request open after the handler returns; some later callback
     * (a timer, an outbound call) must send the response exactly once. The
     * request keeps its generation loaded until then, up to the host's drain
     * deadline, after which the host answers 503 for it and finalizes. */
    int (*req_suspend)(mq_req *req);

    /* Request-scoped memory, zeroed, freed when the request finishes. */
    void *(*req_alloc)(mq_req *req, size_t n);

    /* -- timers ------------------------------------------------------------ */

    /* Run fn(ud) after delay_ms, then every repeat_ms if repeat_ms > 0.
     * Host-owned: a one-shot timer's handle is invalid once its callback has
     * returned; all of a plugin's timers are stopped before its fini(). */
    mq_timer *(*timer_start)(mq_plugin *self, uint64_t delay_ms, uint64_t repeat_ms,
                             mq_timer_fn fn, void *ud);
    /* Stop a pending timer. NULL is fine. */
    void (*timer_stop)(mq_timer *timer);

    /* -- metrics (host-owned, survive reloads) ------------------------------ */

    /* Register (or find again, after a reload) a metric family. `labels` is a
     * NULL-terminated list of label names (NULL for none); `buckets` are the
     * histogram upper bounds in increasing order (NULL/0 for a default set).
     * Returns NULL on error (bad name, or the name exists with another type
     * or label set). Host-owned; valid for the life of the process. */
    mq_metric *(*metric_register)(mq_plugin *self, int type, const char *name,
                                  const char *help, const char *const *labels,
                                  const double *buckets, size_t nbuckets);
    /* `values` has one entry per label name (NULL when there are none). */
    void (*metric_add)(mq_metric *m, const char *const *values, double delta);
    void (*metric_set)(mq_metric *m, const char *const *values, double value);
    void (*metric_observe)(mq_metric *m, const char *const *values, double value);

    /* -- services and events between plugins ------------------------------ */

    /* Publish a named, versioned service: `vtable` is a plugin-defined
     * struct of functions, `ud` its context. Borrowed until fini(). */
    int (*service_publish)(mq_plugin *self, const char *name, uint32_t version,
                           const void *vtable, void *ud);
    /* Find a service of this generation with version >= min_version.
     * Returns the vtable (borrowed until the caller's request or callback
     * returns) and sets *ud; NULL if there is none. Look it up per use. */
    const void *(*service_lookup)(mq_plugin *self, const char *name,
                                  uint32_t min_version, void **ud);

    /* Subscribe to an event of this generation. */
    int (*event_subscribe)(mq_plugin *self, const char *event, mq_event_fn fn, void *ud);
    /* Call every subscriber of `event` in this generation, synchronously.
     * Returns how many were called, or a negative status. */
    int (*event_publish)(mq_plugin *self, const char *event, const char *payload,
                         size_t len);

    /* -- store (since 1.2): append-only NDJSON collections, host-owned ----- */

    /* Append one record, a JSON object, to `collection` ([a-z0-9_]{1,32})
     * under `key` ("" for unkeyed records such as events). The host adds
     * "k", "ts" (ms since the epoch) and "v" (1) when absent. With
     * MQ_STORE_DURABLE the record is on disk (fdatasync, shared by the
     * appends of one moment: group commit) before `req`'s response is
     * sent; pass the request the answer depends on (NULL when none).
     * Returns MQ_OK, MQ_EINVAL (bad name, key or JSON), MQ_ETOOBIG, or
     * MQ_EIO (the write failed and nothing was written: answer an error).
     * `json` is copied. */
    int (*store_append)(mq_plugin *self, mq_req *req, const char *collection,
                        const char *key, const char *json, size_t len, int flags);
    /* The latest record of `key`, NUL-terminated; caller frees with free().
     * NULL (and *len = 0) when there is none. */
    char *(*store_get)(mq_plugin *self, const char *collection, const char *key,
                       size_t *len);
    /* Visit the latest record of every key (MQ_SCAN_LATEST, first-append
     * order) or every record in file order (MQ_SCAN_ALL). Returns MQ_OK,
     * MQ_ENOENT (no such collection yet) or MQ_EIO. Reads from the page
     * cache on the loop: keep it for admin views and reports. */
    int (*store_scan)(mq_plugin *self, const char *collection, int flags, mq_scan_fn fn,
                      void *ud);
    /* The backups, newest first, as a JSON array of {name, created_unix,
     * bytes, check, check_message}; caller frees with free(). */
    char *(*backups_json)(mq_plugin *self);

    /* -- outbound HTTP and crypto (since 1.3) ------------------------------ */

    /* Start an HTTP request driven by the event loop (libcurl multi): it
     * never blocks. fn(resp, ud) runs exactly once when it ends; until then
     * the plugin's generation stays loaded. If the generation is forced out
     * at its drain deadline the transfer is aborted and fn is not called.
     * Returns MQ_OK or MQ_EINVAL / MQ_ENOMEM (fn is then never called). */
    int (*http_request)(mq_plugin *self, const mq_http_request *rq, mq_http_fn fn, void *ud);
    /* HMAC-SHA256 of data under key, as 64 lowercase hex digits and a NUL. */
    int (*hmac_sha256_hex)(const void *key, size_t keylen, const void *data, size_t len,
                           char out[65]);
    /* 1 when the strings are equal, compared in constant time (their
     * lengths do not shorten the comparison); 0 otherwise or for NULL. */
    int (*secure_equal)(const char *a, const char *b);
    /* nbytes from the OS CSPRNG as 2*nbytes hex digits and a NUL in out. */
    int (*random_hex)(char *out, size_t nbytes);

    /* -- rate limits (since 1.4) ---------------------------------------------- */

    /* A token bucket per (bucket, key), host-owned so it survives reloads:
     * `per_minute` requests refill per minute, up to `burst`. Returns 1 when
     * this request may proceed (a token was taken), 0 when it is limited;
     * then *retry_after_s (may be NULL) is the whole seconds until a token
     * is back (at least 1), for a Retry-After header. */
    int (*rate_check)(mq_plugin *self, const char *bucket, const char *key, double per_minute,
                      double burst, int *retry_after_s);

    /* -- operations (since 1.5) ------------------------------------------------ */

    /* The host's state as JSON (caller frees with free()): version, commit,
     * started_unix, uptime_s, release, generation, plugins [{name,version}],
     * reloads (newest first: time_unix, ok, reason, message, generation,
     * release, duration_us), inflight, store {failed, collections [{name,
     * records, keys, bytes, corrupt}]}, data_files [{name, bytes,
     * mtime_unix}], last_backup_unix, job_running. No secrets. */
    char *(*host_status_json)(mq_plugin *self);
    /* Start a backup now (off the loop). MQ_OK; it shows up in backups_json
     * when done. */
    int (*backup_now)(mq_plugin *self);
    /* Start a restore check of backup `name` (off the loop); its result
     * shows in backups_json (check, check_message). MQ_OK, MQ_EINVAL,
     * MQ_ENOENT, or MQ_ESTATE while a backup or check runs. */
    int (*restore_check_now)(mq_plugin *self, const char *name);
    /* 1 when `ip` is inside one of `cidrs` ("10.0.0.0/8, ::1"), 0 when not,
     * MQ_EINVAL when the list does not parse. */
    int (*ip_in_cidrs)(mq_plugin *self, const char *cidrs, const char *ip);
} mq_api;

/* ------------------------------------------------------------------------ */
/* The descriptor a plugin exports as MQ_PLUGIN_SYMBOL. */
typedef struct mq_plugin_desc {
    uint16_t abi_major; /* MQ_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor; /* MQ_ABI_MINOR the plugin was built against */
    uint32_t size;      /* sizeof(mq_plugin_desc) the plugin was built with */
    const char *name;    /* [a-z0-9_-]+, unique in a release */
    const char *version; /* semantic version, e.g. "1.4.2" */

    /* Register routes, metrics, services, handlers; allocate state and
     * return it in *state. Return MQ_OK, or a negative status after freeing
     * what it allocated (fini is not called then, and the host drops what it
     * registered). The whole generation is refused when one init fails. */
    int (*init)(const mq_api *api, mq_plugin *self, void **state);
    /* Free the state. Called once, after the generation's last request. */
    void (*fini)(void *state);

    /* since 1.1 */
    const char *summary; /* one line for status pages; may be NULL */
    void *reserved[4];   /* zero */
} mq_plugin_desc;

/* Size of a 1.0 descriptor: the smallest one the host accepts. */
#define MQ_PLUGIN_DESC_SIZE_1_0 offsetof(mq_plugin_desc, summary)

/* Start a descriptor initializer with this:
 *   MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
 *       MQ_PLUGIN_DESC_HEADER, .name = "quiz", .version = "1.0.0",
 *       .init = quiz_init, .fini = quiz_fini };
 */
#define MQ_PLUGIN_DESC_HEADER \
    .abi_major = MQ_ABI_MAJOR, .abi_minor = MQ_ABI_MINOR, .size = sizeof(mq_plugin_desc)

#ifdef __cplusplus
}
#endif

#endif /* MQ_PLUGIN_H */
