/*
 * coupons.c -- the coupons plugin: discount codes that payments holds,
 * redeems and releases, and that the admin and referral plugins create.
 *
 *   service "coupons" v1        ../payments/coupons_service.h
 *                               quote, hold, redeem, release (for payments)
 *   service "coupons.admin" v1  coupons_admin.h
 *                               create, disable, list_json, get_json
 *   timer                       expire overdue holds: at init, then every
 *                               COUPON_SWEEP_MS (30 s)
 *   seed                        assets/coupons.seed.json: codes not yet in
 *                               the store are created at init
 *
 * Config (.env, read at every reload):
 *   COUPON_HOLD_TTL_MS  hold lifetime; overrides the ttl payments passes
 *                       (payments asks for 30 min; tests set a short one)
 *   COUPON_SWEEP_MS     expiry check period, default 30000 (>= 100)
 *   COUPONS_SEED_FILE   seed file (relative: to the release dir); empty
 *                       for none. Default assets/coupons.seed.json
 *
 * Metrics: coupon_holds_live, coupon_hold_total{result},
 * coupon_redeem_total, coupon_release_total{reason}.
 *
 * This file wires things up; book.c keeps the coupons and holds on the
 * store, coupon.c does the records and the arithmetic, seed.c the seed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupons_admin.h"
#include "coupons_service.h"
#include "cpn.h"
#include "mq_plugin.h"

/* ---- service "coupons" v1 (payments) ---------------------------------------------------- */

static int64_t now(void *ud)
{
    cpn_state *st = ud;
    return st->clock_ms();
}

static int svc_quote(void *ud, const char *code, long amount, long *discount, const char **reason)
{
    long off = 0;
    cpn_outcome o = mq_coupons_quote(ud, code, amount, now(ud), &off, reason);
    if (discount)
        *discount = off;
    return mq_coupons_outcome_status(o);
}

/* The v1 hold carries no user: the order record names one when payments
 * has written it before the hold (see README.md, "Users"). */
static int svc_hold(void *ud, const char *code, const char *order_id, long ttl_ms)
{
    cpn_state *st = ud;
    char user[CPN_USER_MAX + 1] = "";
    if (mq_coupons_is_token(order_id, CPN_ORDER_MAX))
        mq_coupons_order_user(st, order_id, user, sizeof user);
    return mq_coupons_outcome_status(mq_coupons_hold(st, code, order_id, user, ttl_ms, now(st)));
}

static int svc_redeem(void *ud, const char *order_id)
{
    return mq_coupons_redeem(ud, order_id, now(ud));
}

static int svc_release(void *ud, const char *order_id)
{
    return mq_coupons_release(ud, order_id, now(ud));
}

static const mq_coupons_service_v1 coupons_service = {
    .quote = svc_quote,
    .hold = svc_hold,
    .redeem = svc_redeem,
    .release = svc_release,
};

/* ---- service "coupons.admin" v1 ----------------------------------------------------------- */

static int admin_create(void *ud, const char *code, int kind, long value, long total_uses,
                        long per_user, int64_t valid_from_ms, int64_t valid_until_ms)
{
    cpn_def d = {.kind = kind,
                 .value = value,
                 .total_uses = total_uses,
                 .per_user = per_user,
                 .valid_from_ms = valid_from_ms,
                 .valid_until_ms = valid_until_ms};
    if (!code || strlen(code) >= sizeof d.code)
        return MQ_EINVAL;
    memcpy(d.code, code, strlen(code) + 1);
    return mq_coupons_create(ud, &d, now(ud));
}

static int admin_disable(void *ud, const char *code)
{
    return mq_coupons_disable(ud, code, now(ud));
}

static char *admin_list(void *ud)
{
    return mq_coupons_list_json(ud);
}

static char *admin_get(void *ud, const char *code)
{
    return mq_coupons_get_json(ud, code);
}

static const mq_coupons_admin_v1 admin_service = {
    .create = admin_create,
    .disable = admin_disable,
    .list_json = admin_list,
    .get_json = admin_get,
};

/* ---- the expiry timer --------------------------------------------------------------------- */

static void on_sweep(void *ud)
{
    cpn_state *st = ud;
    mq_coupons_sweep(st, NULL, now(st));
}

/* ---- init and fini ----------------------------------------------------------------------- */

/* A non-negative integer config value, or def (with a warning) when unset
 * or malformed. */
static long long config_num(cpn_state *st, const char *key, long long def, long long min,
                            long long max)
{
    const char *v = st->api->config_get(st->self, key);
    if (!v || !*v)
        return def;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < min || n > max) {
        st->api->log(st->self, MQ_LOG_WARN, "config %s=\"%s\" ignored: want %lld..%lld, using %lld",
                     key, v, min, max, def);
        return def;
    }
    return n;
}

static int apply_seed(cpn_state *st)
{
    const char *v = st->api->config_get(st->self, "COUPONS_SEED_FILE");
    if (v && !*v)
        return MQ_OK; /* seeding turned off */
    char path[PATH_MAX];
    const char *rel = st->api->release_path(st->self);
    int n = !v            ? snprintf(path, sizeof path, "%s/assets/coupons.seed.json", rel)
            : v[0] == '/' ? snprintf(path, sizeof path, "%s", v)
                          : snprintf(path, sizeof path, "%s/%s", rel, v);
    if (n < 0 || (size_t)n >= sizeof path)
        return MQ_ETOOBIG;
    int created = 0;
    char err[256] = "";
    int rc = mq_coupons_seed_apply(st, path, now(st), &created, err, sizeof err);
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_ERROR, "seed coupons from \"%s\" failed: %s", path, err);
    else if (created)
        st->api->log(st->self, MQ_LOG_INFO, "seeded %d coupon(s) from \"%s\"", created, path);
    return rc;
}

static void coupons_fini(void *state)
{
    cpn_state *st = state;
    if (!st)
        return;
    mq_coupons_state_cleanup(st);
    free(st);
}

static int coupons_init(const mq_api *api, mq_plugin *self, void **state)
{
    if (api->abi_major != MQ_ABI_MAJOR ||
        api->size < offsetof(mq_api, backups_json) + sizeof api->backups_json)
        return MQ_EABI; /* needs the store of ABI 1.2 */
    cpn_state *st = calloc(1, sizeof *st);
    if (!st)
        return MQ_ENOMEM;
    st->api = api;
    st->self = self;
    st->clock_ms = mq_coupons_now_ms;
    st->ttl_override_ms = config_num(st, "COUPON_HOLD_TTL_MS", 0, 1000, CPN_MAX_TTL_MS);
    st->sweep_ms =
        (uint64_t)config_num(st, "COUPON_SWEEP_MS", CPN_DEFAULT_SWEEP_MS, 100, 3600 * 1000LL);

    int rc = mq_coupons_metrics_init(st);
    if (rc != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "register coupon metrics failed: %s", api->strerror(rc));
        goto fail;
    }
    /* The counters first (a crash may have left them behind the holds),
     * then the seed, which only adds codes the store lacks. */
    if ((rc = mq_coupons_rebuild(st, now(st))) != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "rebuild coupon holds failed: %s", api->strerror(rc));
        goto fail;
    }
    if ((rc = apply_seed(st)) != MQ_OK)
        goto fail;
    if ((rc = api->service_publish(self, MQ_COUPONS_SERVICE, MQ_COUPONS_SERVICE_VERSION,
                                   &coupons_service, st)) != MQ_OK ||
        (rc = api->service_publish(self, MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION,
                                   &admin_service, st)) != MQ_OK) {
        api->log(self, MQ_LOG_ERROR, "publish the coupons services failed: %s", api->strerror(rc));
        goto fail;
    }
    /* Holds that expired while no generation ran go at once, then a check
     * every sweep_ms. The host owns the timer and stops it before fini. */
    st->sweep_timer = api->timer_start(self, 0, st->sweep_ms, on_sweep, st);
    if (!st->sweep_timer) {
        rc = MQ_ENOMEM;
        goto fail;
    }
    if (st->ttl_override_ms)
        api->log(self, MQ_LOG_INFO, "coupon holds last %lld ms (COUPON_HOLD_TTL_MS)",
                 (long long)st->ttl_override_ms);
    *state = st;
    return MQ_OK;
fail:
    coupons_fini(st);
    return rc;
}

/* clang-format off */
MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER,
    .name = "coupons",
    .version = "1.0.0",
    .init = coupons_init,
    .fini = coupons_fini,
    .summary = "discount coupons: quote, hold, redeem, release; admin create and disable",
};
/* clang-format on */
