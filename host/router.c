#include "router.h"

#include <stdlib.h>
#include <string.h>

void mq_router_init(mq_router *r) { memset(r, 0, sizeof *r); }

static void route_cleanup(mq_route *rt)
{
    for (size_t i = 0; i < rt->nsegs; i++)
        free(rt->segs[i].text);
    free(rt->segs);
    free(rt->method);
    free(rt->pattern);
}

void mq_router_cleanup(mq_router *r)
{
    for (size_t i = 0; i < r->n; i++)
        route_cleanup(&r->routes[i]);
    free(r->routes);
    memset(r, 0, sizeof *r);
}

static int valid_method(const char *m)
{
    if (!*m || strlen(m) > 16)
        return 0;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return 0;
    return 1;
}

/* Split a pattern into segments. Returns MQ_OK or MQ_EINVAL/MQ_ENOMEM. */
static int parse_pattern(const char *pattern, mq_route *rt)
{
    if (pattern[0] != '/')
        return MQ_EINVAL;
    size_t cap = 1;
    for (const char *p = pattern; *p; p++)
        cap += *p == '/';
    rt->segs = calloc(cap, sizeof *rt->segs);
    if (!rt->segs)
        return MQ_ENOMEM;
    const char *p = pattern + 1;
    if (*p == '\0')
        return MQ_OK; /* "/" has no segments */
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            return MQ_EINVAL; /* "//" or trailing "/" */
        mq_route_seg *s = &rt->segs[rt->nsegs];
        if (p[0] == ':' || p[0] == '*') {
            if (n == 1)
                return MQ_EINVAL;
            s->kind = p[0] == ':' ? MQ_SEG_PARAM : MQ_SEG_REST;
            s->text = strndup(p + 1, n - 1);
        } else {
            s->kind = MQ_SEG_LIT;
            s->text = strndup(p, n);
        }
        rt->nsegs++; /* counted before any return, so cleanup frees it */
        if (!s->text)
            return MQ_ENOMEM;
        if (s->kind == MQ_SEG_REST && e)
            return MQ_EINVAL; /* "*rest" must be last */
        if (!e)
            break;
        p = e + 1;
    }
    size_t nparams = 0;
    for (size_t i = 0; i < rt->nsegs; i++)
        nparams += rt->segs[i].kind != MQ_SEG_LIT;
    return nparams > MQ_ROUTE_MAX_PARAMS ? MQ_EINVAL : MQ_OK;
}

static int same_shape(const mq_route *a, const mq_route *b)
{
    if (strcmp(a->method, b->method) != 0 || a->nsegs != b->nsegs)
        return 0;
    for (size_t i = 0; i < a->nsegs; i++) {
        if (a->segs[i].kind != b->segs[i].kind)
            return 0;
        if (a->segs[i].kind == MQ_SEG_LIT && strcmp(a->segs[i].text, b->segs[i].text) != 0)
            return 0;
    }
    return 1;
}

int mq_router_add(mq_router *r, const char *method, const char *pattern, mq_handler_fn fn,
                  void *ud, mq_plugin *owner, const mq_route **clash)
{
    if (!method || !pattern || !fn || !valid_method(method))
        return MQ_EINVAL;
    mq_route rt = {.fn = fn, .ud = ud, .owner = owner};
    int rc = parse_pattern(pattern, &rt);
    if (rc == MQ_OK && (!(rt.method = strdup(method)) || !(rt.pattern = strdup(pattern))))
        rc = MQ_ENOMEM;
    if (rc == MQ_OK) {
        for (size_t i = 0; i < r->n; i++) {
            if (same_shape(&r->routes[i], &rt)) {
                if (clash)
                    *clash = &r->routes[i];
                rc = MQ_EEXIST;
                break;
            }
        }
    }
    if (rc == MQ_OK && r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        mq_route *nr = realloc(r->routes, cap * sizeof *nr);
        if (!nr)
            rc = MQ_ENOMEM;
        else {
            r->routes = nr;
            r->cap = cap;
        }
    }
    if (rc != MQ_OK) {
        route_cleanup(&rt);
        return rc;
    }
    r->routes[r->n++] = rt;
    return MQ_OK;
}

/* Match one route against the path. Fills params; returns 1 on a match. */
static int route_matches(const mq_route *rt, const char *path, mq_route_param *params,
                         size_t *nparams)
{
    const char *p = path[0] == '/' ? path + 1 : path;
    int at_end = *p == '\0'; /* "/" has no segments */
    size_t np = 0;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const mq_route_seg *s = &rt->segs[i];
        if (s->kind == MQ_SEG_REST) {
            params[np++] = (mq_route_param){s->text, p, strlen(p)};
            *nparams = np;
            return 1;
        }
        if (at_end)
            return 0;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0)
            return 0;
        if (s->kind == MQ_SEG_LIT) {
            if (strlen(s->text) != n || memcmp(s->text, p, n) != 0)
                return 0;
        } else {
            params[np++] = (mq_route_param){s->text, p, n};
        }
        if (e) {
            p = e + 1; /* a trailing '/' leaves p at "" with at_end unset: no match */
        } else {
            p += n;
            at_end = 1;
        }
    }
    if (!at_end)
        return 0;
    *nparams = np;
    return 1;
}

/* -1, 0, 1 as a is less, equally or more specific than b. */
static int specificity_cmp(const mq_route *a, const mq_route *b)
{
    size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;
    for (size_t i = 0; i < n; i++)
        if (a->segs[i].kind != b->segs[i].kind)
            return a->segs[i].kind > b->segs[i].kind ? 1 : -1;
    return a->nsegs > b->nsegs ? 1 : a->nsegs < b->nsegs ? -1 : 0;
}

const mq_route *mq_router_match(const mq_router *r, const char *method, const char *path,
                                mq_route_param *params, size_t *nparams, int *path_matched)
{
    const mq_route *best = NULL;
    mq_route_param tmp[MQ_ROUTE_MAX_PARAMS];
    size_t ntmp = 0;
    int is_head = strcmp(method, "HEAD") == 0;
    *path_matched = 0;
    *nparams = 0;
    /* Two passes for HEAD: exact method first, then GET. */
    for (int pass = 0; pass < 1 + is_head && !best; pass++) {
        const char *want = pass == 0 ? method : "GET";
        for (size_t i = 0; i < r->n; i++) {
            const mq_route *rt = &r->routes[i];
            if (!route_matches(rt, path, tmp, &ntmp))
                continue;
            if (strcmp(rt->method, want) != 0) {
                *path_matched = 1;
                continue;
            }
            if (!best || specificity_cmp(rt, best) > 0) {
                best = rt;
                memcpy(params, tmp, ntmp * sizeof *tmp);
                *nparams = ntmp;
            }
        }
    }
    return best;
}
