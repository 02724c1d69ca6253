/*
 * generation.c -- building, activating, draining and finalizing generations
 * (DESIGN.md section 3).
 *
 * A reload builds a whole new generation off to the side and swaps it in
 * only when every step succeeded; any failure destroys the half-built one
 * and leaves the current generation untouched. Plugins are loaded from a
 * private copy per generation, hashed while copying, so the bytes we map
 * are exactly the bytes the MANIFEST vouches for, and a .so overwritten in
 * place later can never change (or crash) code we already mapped.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "http_client.h"
#include "log.h"
#include "manifest.h"
#include "sha256.h"

/* ---- small helpers ------------------------------------------------------------ */

static void gen_free_lists(mq_gen *g)
{
    for (size_t i = 0; i < g->nservices; i++)
        free(g->services[i].name);
    free(g->services);
    for (size_t i = 0; i < g->nsubs; i++)
        free(g->subs[i].event);
    free(g->subs);
    g->services = NULL;
    g->subs = NULL;
    g->nservices = g->nsubs = 0;
}

/* Copy src to a new private file dst while hashing it; compare the digest
 * with the MANIFEST's. Returns 0, or -1 with *reason and err set. */
static int copy_verified(const char *src, const char *dst, const char *want_sha,
                         const char **reason, char *err, size_t errlen)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        *reason = errno == ENOENT ? "missing_file" : "release";
        snprintf(err, errlen, "open \"%s\" failed: %s", src, strerror(errno));
        return -1;
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (out < 0) {
        *reason = "runtime";
        snprintf(err, errlen, "create \"%s\" failed: %s", dst, strerror(errno));
        close(in);
        return -1;
    }
    mq_sha256 ctx;
    char buf[65536];
    int rc = 0;
    if (mq_sha256_init(&ctx) != 0) {
        *reason = "runtime";
        snprintf(err, errlen, "sha256 of \"%s\" failed: out of memory", src);
        close(in);
        close(out);
        return -1;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *reason = "release";
            snprintf(err, errlen, "read \"%s\" failed: %s", src, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (mq_sha256_update(&ctx, buf, (size_t)n) != 0) {
            *reason = "runtime";
            snprintf(err, errlen, "sha256 of \"%s\" failed", src);
            rc = -1;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                *reason = "runtime";
                snprintf(err, errlen, "write \"%s\" failed: %s", dst, strerror(errno));
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    char hex[MQ_SHA256_HEX_LEN + 1] = "";
    if (rc == 0 && mq_sha256_final(&ctx, hex) != 0) {
        *reason = "runtime";
        snprintf(err, errlen, "sha256 of \"%s\" failed", src);
        rc = -1;
    }
    mq_sha256_cleanup(&ctx);
    close(in);
    if (close(out) != 0 && rc == 0) {
        *reason = "runtime";
        snprintf(err, errlen, "write \"%s\" failed: %s", dst, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && strcmp(hex, want_sha) != 0) {
        *reason = "checksum";
        snprintf(err, errlen, "checksum of \"%s\" does not match the MANIFEST (changed while loading?)", src);
        rc = -1;
    }
    return rc;
}

/* Load one plugin of the manifest into g (dlopen + descriptor checks; no
 * init yet). Returns 0, or -1 with *reason and err set. */
static int load_plugin(mq_gen *g, const mq_manifest *m, const mq_manifest_plugin *mp,
                       const char **reason, char *err, size_t errlen)
{
    mq_host *h = g->host;
    const mq_manifest_file *mf = mq_manifest_find(m, mp->file);
    if (!mf) {
        *reason = "manifest";
        snprintf(err, errlen, "plugin \"%s\" is not listed in the MANIFEST's files", mp->file);
        return -1;
    }
    char src[PATH_MAX], dst[PATH_MAX];
    snprintf(src, sizeof src, "%s/%s", g->release_path, mp->file);
    const char *base = strrchr(mp->file, '/');
    base = base ? base + 1 : mp->file;
    snprintf(dst, sizeof dst, "%s/mq-%ld-g%llu-%s", h->runtime_dir, (long)getpid(),
             (unsigned long long)g->id, base);
    if (copy_verified(src, dst, mf->sha256, reason, err, errlen) != 0) {
        unlink(dst);
        return -1;
    }
    mq_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->file = strdup(mp->file))) {
        free(p);
        unlink(dst);
        *reason = "runtime";
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->gen = g;
    g->plugins[g->nplugins++] = p;
    /* RTLD_NOW: an unresolved symbol fails here, not in the middle of a
     * request. RTLD_LOCAL: one plugin's symbols never bind another's. */
    p->dl = dlopen(dst, RTLD_NOW | RTLD_LOCAL);
    /* The mapping keeps the code; the name is not needed once mapped. */
    unlink(dst);
    if (!p->dl) {
        *reason = "dlopen";
        snprintf(err, errlen, "dlopen \"%s\" failed: %s", mp->file, dlerror());
        return -1;
    }
    const mq_plugin_desc *d = dlsym(p->dl, MQ_PLUGIN_SYMBOL);
    if (!d) {
        *reason = "symbol";
        snprintf(err, errlen, "plugin \"%s\" has no %s symbol", mp->file, MQ_PLUGIN_SYMBOL);
        return -1;
    }
    if (d->abi_major != MQ_ABI_MAJOR || d->abi_minor > MQ_ABI_MINOR ||
        d->size < MQ_PLUGIN_DESC_SIZE_1_0) {
        *reason = "abi";
        snprintf(err, errlen,
                 "plugin \"%s\" was built for ABI %u.%u (descriptor size %u); this host "
                 "provides ABI %d.%d and loads %d.0 to %d.%d",
                 mp->file, d->abi_major, d->abi_minor, d->size, MQ_ABI_MAJOR, MQ_ABI_MINOR,
                 MQ_ABI_MAJOR, MQ_ABI_MAJOR, MQ_ABI_MINOR);
        return -1;
    }
    if (!d->name || !d->version || !d->init) {
        *reason = "abi";
        snprintf(err, errlen, "plugin \"%s\" has an incomplete descriptor", mp->file);
        return -1;
    }
    p->desc = d;
    p->name = strdup(d->name);
    p->version = strdup(d->version);
    if (!p->name || !p->version) {
        *reason = "runtime";
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i + 1 < g->nplugins; i++) {
        if (strcmp(g->plugins[i]->name, p->name) == 0) {
            *reason = "manifest";
            snprintf(err, errlen, "two plugins are named \"%s\"", p->name);
            return -1;
        }
    }
    return 0;
}

/* ---- building ------------------------------------------------------------------------ */

mq_gen *mq_gen_build(mq_host *h, const char **reason, char *err, size_t errlen)
{
    mq_gen *g = calloc(1, sizeof *g);
    mq_manifest *m = NULL;
    if (!g) {
        *reason = "runtime";
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->host = h;
    g->id = ++h->next_gen_id; /* every attempt gets its own id: unique copy names */
    mq_router_init(&g->router);
    h->live_gens++;

    char cerr[256];
    g->cfg = mq_config_load(h->env_path, NULL, cerr, sizeof cerr);
    if (!g->cfg) {
        *reason = "env";
        snprintf(err, errlen, "parse \"%s\" failed: %s", h->env_path, cerr);
        goto fail;
    }
    long v;
    if (mq_config_get_long(g->cfg, "DRAIN_TIMEOUT_MS", 30000, 0, 86400000, &v, cerr,
                           sizeof cerr) != 0 ||
        mq_config_get_long(g->cfg, "MAX_BODY_BYTES", 1048576, 0, 1L << 30, &v, cerr,
                           sizeof cerr) != 0 ||
        mq_config_get_long(g->cfg, "SHUTDOWN_TIMEOUT_MS", 10000, 0, 3600000, &v, cerr,
                           sizeof cerr) != 0 ||
        mq_config_get_long(g->cfg, "HTTP_TIMEOUT_MS", 10000, 100, 600000, &v, cerr,
                           sizeof cerr) != 0 ||
        mq_config_get_long(g->cfg, "HTTP_CONNECT_TIMEOUT_MS", 3000, 100, 600000, &v, cerr,
                           sizeof cerr) != 0) {
        *reason = "env";
        snprintf(err, errlen, "%s", cerr);
        goto fail;
    }
    if (mq_cidr_list_parse(mq_config_get(g->cfg, "TRUSTED_PROXIES"), &g->proxies, cerr,
                           sizeof cerr) != 0) {
        *reason = "env";
        snprintf(err, errlen, "TRUSTED_PROXIES: %s", cerr);
        goto fail;
    }

    /* Resolve the link once per reload: everything below uses this path, so
     * an operator flipping `current` mid-load cannot mix two releases. */
    char real[PATH_MAX];
    struct stat lst;
    if (lstat(h->paths.current_link, &lst) != 0 && errno == ENOENT) {
        /* No release yet is fine (host endpoints only); losing the link
         * while a release serves is an accident, never a reason to unload. */
        if (!h->current || !h->current->release_id)
            return g;
        *reason = "release";
        snprintf(err, errlen, "\"%s\" does not exist (release \"%s\" keeps serving)",
                 h->paths.current_link, h->current->release_id);
        goto fail;
    }
    if (!realpath(h->paths.current_link, real)) {
        *reason = "release";
        snprintf(err, errlen, "resolve \"%s\" failed: %s", h->paths.current_link,
                 strerror(errno));
        goto fail;
    }
    g->release_path = strdup(real);
    const char *slash = strrchr(real, '/');
    g->release_id = strdup(slash ? slash + 1 : real);
    if (!g->release_path || !g->release_id) {
        *reason = "runtime";
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    char merr[512];
    m = mq_manifest_read(g->release_path, merr, sizeof merr);
    if (!m) {
        *reason = "manifest";
        snprintf(err, errlen, "release \"%s\": %s", g->release_id, merr);
        goto fail;
    }
    const char *vreason = "manifest";
    if (mq_manifest_verify(g->release_path, m, &vreason, merr, sizeof merr) != 0) {
        *reason = vreason;
        snprintf(err, errlen, "release \"%s\": %s", g->release_id, merr);
        goto fail;
    }
    g->plugins = calloc(m->nplugins + 1, sizeof *g->plugins);
    if (!g->plugins) {
        *reason = "runtime";
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < m->nplugins; i++)
        if (load_plugin(g, m, &m->plugins[i], reason, err, errlen) != 0)
            goto fail;

    /* init in MANIFEST order; route_add is allowed only meanwhile. */
    for (size_t i = 0; i < g->nplugins; i++) {
        mq_plugin *p = g->plugins[i];
        g->building = 1;
        int rc = p->desc->init(&mq_host_api, p, &p->state);
        g->building = 0;
        p->inited = rc == MQ_OK;
        /* A clash seen by route_add is the cause, whatever init returned. */
        if (g->conflict[0]) {
            *reason = "route_conflict";
            snprintf(err, errlen, "%s", g->conflict);
            goto fail;
        }
        if (rc != MQ_OK) {
            *reason = "init";
            snprintf(err, errlen, "init of plugin \"%s\" %s failed: %s", p->name, p->version,
                     mq_host_api.strerror(rc));
            goto fail;
        }
    }
    mq_manifest_free(m);
    return g;
fail:
    mq_manifest_free(m);
    mq_gen_destroy(g);
    return NULL;
}

/* ---- references and finalization --------------------------------------------------------- */

static void finalize_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_gen *g = arg;
    mq_host *h = g->host;
    for (mq_gen **pp = &h->retired; *pp; pp = &(*pp)->next_retired) {
        if (*pp == g) {
            *pp = g->next_retired;
            break;
        }
    }
    mq_log(MQ_L_INFO, "generation %llu (release \"%s\") finalized",
           (unsigned long long)g->id, g->release_id ? g->release_id : "-");
    mq_gen_destroy(g);
}

void mq_gen_ref(mq_gen *g) { g->refs++; }

/* Never dlclose inside a plugin's call stack: finalize on a later turn. */
static void schedule_finalize(mq_gen *g)
{
    if (g->finalize_ev)
        return;
    g->finalizing = 1;
    g->finalize_ev = event_new(g->host->base, -1, 0, finalize_cb, g);
    if (g->finalize_ev)
        event_active(g->finalize_ev, EV_TIMEOUT, 1);
    else
        mq_log(MQ_L_ERROR, "finalize of generation %llu failed: out of memory",
               (unsigned long long)g->id);
}

void mq_gen_unref(mq_gen *g)
{
    if (--g->refs == 0 && g->retired)
        schedule_finalize(g);
}

static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    mq_gen *g = arg;
    mq_log(MQ_L_WARN, "generation %llu still had requests at the drain deadline: answering 503",
           (unsigned long long)g->id);
    mq_gen_force_drain(g, "drain_timeout");
}

void mq_gen_force_drain(mq_gen *g, const char *code)
{
    /* Stop the generation's timers first so no plugin callback can resume a
     * request we are about to answer; the structs stay until fini. */
    g->finalizing = 1;
    for (mq_timer *t = g->timers; t; t = t->next)
        if (t->ev)
            event_del(t->ev);
    g->refs++; /* cancelling transfers drops their references */
    mq_http_cancel_gen(g);
    g->refs--;
    int forced = 0;
    g->refs++; /* keep the generation alive through the loop below */
    while (g->suspended) {
        char body[160];
        int n = snprintf(body, sizeof body,
                         "{\"code\":\"%s\",\"message\":\"the request outlived its "
                         "release's drain deadline\"}",
                         code);
        mq_req_send(g->suspended, 503, "application/json", body, (size_t)n);
        forced++;
    }
    if (forced)
        mq_metric_add(g->host->m_drain_forced, NULL, forced);
    mq_gen_unref(g);
}

void mq_gen_activate(mq_host *h, mq_gen *g)
{
    mq_gen *old = h->current;
    g->refs++; /* the "current" reference */
    h->current = g;
    long v = 0;
    char e[8];
    mq_config_get_long(g->cfg, "DRAIN_TIMEOUT_MS", 30000, 0, 86400000, &v, e, sizeof e);
    h->drain_timeout_ms = v;
    mq_config_get_long(g->cfg, "SHUTDOWN_TIMEOUT_MS", 10000, 0, 3600000, &v, e, sizeof e);
    h->shutdown_timeout_ms = v;
    mq_config_get_long(g->cfg, "HTTP_TIMEOUT_MS", 10000, 100, 600000, &v, e, sizeof e);
    h->http_timeout_ms = v;
    mq_config_get_long(g->cfg, "HTTP_CONNECT_TIMEOUT_MS", 3000, 100, 600000, &v, e, sizeof e);
    h->http_connect_timeout_ms = v;
    mq_config_get_long(g->cfg, "MAX_BODY_BYTES", 1048576, 0, 1L << 30, &v, e, sizeof e);
    if (h->http)
        evhttp_set_max_body_size(h->http, (ev_ssize_t)v);
    h->metrics_token = mq_config_get(g->cfg, "METRICS_TOKEN");

    mq_metric_set(h->m_generation, NULL, (double)g->id);
    mq_metric_set(h->m_gens_loaded, NULL, h->live_gens);
    mq_metric_clear(h->m_plugin_info);
    for (size_t i = 0; i < g->nplugins; i++) {
        const char *lv[] = {g->plugins[i]->name, g->plugins[i]->version};
        mq_metric_set(h->m_plugin_info, lv, 1);
    }
    if (!old)
        return;
    old->retired = 1;
    old->next_retired = h->retired;
    h->retired = old;
    if (old->refs > 1 && h->drain_timeout_ms >= 0) {
        old->drain_timer = evtimer_new(h->base, drain_timeout_cb, old);
        struct timeval tv = {h->drain_timeout_ms / 1000, (h->drain_timeout_ms % 1000) * 1000};
        if (old->drain_timer)
            evtimer_add(old->drain_timer, &tv);
    }
    mq_gen_unref(old);
}

void mq_gen_destroy(mq_gen *g)
{
    if (!g)
        return;
    mq_host *h = g->host;
    g->finalizing = 1;
    if (g->suspended)
        mq_gen_force_drain(g, "shutting_down");
    g->refs++; /* shutdown: transfers still running hold references */
    mq_http_cancel_gen(g);
    g->refs--;
    if (g->drain_timer)
        event_free(g->drain_timer);
    if (g->finalize_ev)
        event_free(g->finalize_ev);
    /* fini in reverse order of init; timers stay valid (but idle) meanwhile
     * so a fini that stops its own timers touches live structs. */
    for (size_t i = g->nplugins; i-- > 0;) {
        mq_plugin *p = g->plugins[i];
        if (p->inited && p->desc->fini)
            p->desc->fini(p->state);
        p->inited = 0;
    }
    while (g->timers) {
        mq_timer *t = g->timers;
        g->timers = t->next;
        if (t->ev)
            event_free(t->ev);
        free(t);
    }
    mq_router_cleanup(&g->router);
    gen_free_lists(g);
    for (size_t i = 0; i < g->nplugins; i++) {
        mq_plugin *p = g->plugins[i];
        if (p->dl && dlclose(p->dl) != 0)
            mq_log(MQ_L_ERROR, "dlclose \"%s\" failed: %s", p->file, dlerror());
        free(p->name);
        free(p->version);
        free(p->file);
        free(p);
    }
    free(g->plugins);
    mq_config_free(g->cfg);
    mq_cidr_list_free(&g->proxies);
    free(g->release_id);
    free(g->release_path);
    h->live_gens--;
    mq_metric_set(h->m_gens_loaded, NULL, h->live_gens);
    free(g);
}
