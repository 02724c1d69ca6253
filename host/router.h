/*
 * router.h -- method + path-pattern routing for one generation.
 *
 * Patterns are split on '/': a literal segment matches itself, ":name"
 * matches any one non-empty segment, and a final "*name" matches the rest
 * of the path (possibly empty). When several routes match, the most
 * specific wins: segment by segment, literal beats parameter beats rest.
 * Two routes with the same method and shape (e.g. /a/:x and /a/:y) conflict.
 */
#ifndef MQ_ROUTER_H
#define MQ_ROUTER_H

#include <stddef.h>

#include "mq_plugin.h"

#define MQ_ROUTE_MAX_PARAMS 8

enum { MQ_SEG_LIT = 2, MQ_SEG_PARAM = 1, MQ_SEG_REST = 0 };

typedef struct mq_route_seg {
    int kind;
    char *text; /* literal text, or the parameter name */
} mq_route_seg;

typedef struct mq_route {
    char *method;
    char *pattern;
    mq_route_seg *segs;
    size_t nsegs;
    mq_handler_fn fn;
    void *ud;
    mq_plugin *owner;
} mq_route;

typedef struct mq_router {
    mq_route *routes;
    size_t n, cap;
} mq_router;

/* A matched parameter: a slice of the raw (still percent-encoded) path. */
typedef struct mq_route_param {
    const char *name;
    const char *raw;
    size_t len;
} mq_route_param;

void mq_router_init(mq_router *r);
void mq_router_cleanup(mq_router *r);

/* Add a route (strings copied). MQ_EINVAL for a bad method or pattern,
 * MQ_EEXIST when it conflicts (then *clash, if given, names the existing
 * route), MQ_ENOMEM. */
int mq_router_add(mq_router *r, const char *method, const char *pattern, mq_handler_fn fn,
                  void *ud, mq_plugin *owner, const mq_route **clash);

/* Match `path` (raw, without query). HEAD falls back to GET. Returns the
 * route or NULL; *path_matched is set when some route matched the path
 * with another method (so the caller can answer 405 rather than 404).
 * params must hold MQ_ROUTE_MAX_PARAMS entries. */
const mq_route *mq_router_match(const mq_router *r, const char *method, const char *path,
                                mq_route_param *params, size_t *nparams, int *path_matched);

#endif
