/*
 * faults.c -- faults on demand: what POST /sim/faults accepts, what GET
 * shows, and the decisions the dispatcher asks for at three points of a
 * gateway call:
 *
 *   pre       on arrival, before auth: timeout_ops (hold, never processed),
 *             drop_ops (close, never processed), 5xx errors (fail_next with
 *             mode "5xx", error_rate with error_mode "5xx")
 *   business  at the point the call would take effect, after validation:
 *             the gateway's own rejection (mode "business")
 *   post      after the call took effect: approve_then_timeout,
 *             timeout_after_ops, drop_after_ops
 *
 * latency_ms delays every answer (and every drop) of the ops in
 * latency_ops with a timer; the call itself is processed on arrival.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "pgsim.h"

void pgsim_faults_reset(struct pgsim_faults *f)
{
    memset(f, 0, sizeof *f);
    f->latency_ops = OPSET_ALL;
    f->error_ops = OPSET_ALL;
    f->rate_err.status = 500;
}

unsigned pgsim_opset_from_name(const char *name)
{
    if (strcmp(name, "all") == 0 || strcmp(name, "*") == 0)
        return OPSET_ALL;
    /* "kakao.approve" names KakaoPay's approve only; "approve" both. */
    int provider = -1;
    const char *bare = name;
    if (strncmp(name, "kakao.", 6) == 0)
        provider = PGSIM_KAKAO, bare = name + 6;
    else if (strncmp(name, "naver.", 6) == 0)
        provider = PGSIM_NAVER, bare = name + 6;
    unsigned set = 0;
    for (int i = 0; i < OP_COUNT; i++) {
        const struct pgsim_op *op = &pgsim_ops[i];
        if (provider >= 0 && (int)op->provider != provider)
            continue;
        if (strcmp(bare, op->native) == 0 || strcmp(bare, op->generic) == 0)
            set |= 1u << i;
    }
    return set;
}

/* ---- parsing ------------------------------------------------------------------- */

struct perr {
    char *buf;
    size_t len;
};

static int fail(struct perr *e, const char *fmt, const char *a)
{
    snprintf(e->buf, e->len, fmt, a);
    return -1;
}

static int parse_opset(json_object *v, const char *key, unsigned *out, struct perr *e)
{
    if (!json_object_is_type(v, json_type_array))
        return fail(e, "%s must be an array of op names", key);
    unsigned set = 0;
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(v, i);
        if (!json_object_is_type(it, json_type_string))
            return fail(e, "%s must be an array of op names", key);
        unsigned s = pgsim_opset_from_name(json_object_get_string(it));
        if (!s) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "%s: unknown op \"%.40s\" (ready, approve, cancel, order, "
                     "reserve, apply, history, kakao.*, naver.*, all)",
                     key, json_object_get_string(it));
            return fail(e, "%s", msg);
        }
        set |= s;
    }
    *out = set;
    return 0;
}

static int parse_mode(json_object *v, const char *key, int *business, struct perr *e)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    if (strcmp(s, "5xx") == 0)
        *business = 0;
    else if (strcmp(s, "business") == 0)
        *business = 1;
    else
        return fail(e, "%s must be \"5xx\" or \"business\"", key);
    return 0;
}

static int parse_status(json_object *v, const char *key, int *status, struct perr *e)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int(v) < 500 ||
        json_object_get_int(v) > 599)
        return fail(e, "%s must be an integer 500..599", key);
    *status = json_object_get_int(v);
    return 0;
}

static int parse_code(json_object *v, const char *key, char *out, size_t len, struct perr *e)
{
    if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) >= len)
        return fail(e, "%s must be a short string", key);
    const char *s = json_object_get_string(v);
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s))
        return fail(e, "%s may hold letters, digits, '_' and '-' only", key);
    snprintf(out, len, "%s", s);
    return 0;
}

static int parse_fail_next_one(json_object *o, struct pgsim_fail_next *fn, struct perr *e)
{
    memset(fn, 0, sizeof *fn);
    fn->count = 1;
    fn->err.status = 500;
    if (!json_object_is_type(o, json_type_object))
        return fail(e, "%s", "fail_next entries must be objects {op, count, mode, status, code}");
    json_object_object_foreach(o, k, v)
    {
        if (strcmp(k, "op") == 0) {
            if (!json_object_is_type(v, json_type_string) ||
                !(fn->ops = pgsim_opset_from_name(json_object_get_string(v))))
                return fail(e, "%s", "fail_next.op must name an op (e.g. \"approve\")");
        } else if (strcmp(k, "count") == 0) {
            if (!json_object_is_type(v, json_type_int) || json_object_get_int(v) < 1)
                return fail(e, "%s", "fail_next.count must be an integer >= 1");
            fn->count = json_object_get_int(v);
        } else if (strcmp(k, "mode") == 0) {
            if (parse_mode(v, "fail_next.mode", &fn->err.business, e))
                return -1;
        } else if (strcmp(k, "status") == 0) {
            if (parse_status(v, "fail_next.status", &fn->err.status, e))
                return -1;
        } else if (strcmp(k, "code") == 0) {
            if (parse_code(v, "fail_next.code", fn->err.code, sizeof fn->err.code, e))
                return -1;
        } else {
            return fail(e, "fail_next: unknown key \"%.40s\"", k);
        }
    }
    if (!fn->ops)
        return fail(e, "%s", "fail_next.op is required");
    return 0;
}

int pgsim_faults_merge(struct pgsim *sim, json_object *in, char *errbuf, size_t errlen)
{
    struct perr e = {errbuf, errlen};
    struct pgsim_faults f = sim->faults;
    int reseed = 0;
    if (!in || !json_object_is_type(in, json_type_object))
        return fail(&e, "%s", "the body must be a JSON object");
    json_object_object_foreach(in, k, v)
    {
        if (strcmp(k, "latency_ms") == 0) {
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                json_object_get_int64(v) > 3600 * 1000)
                return fail(&e, "%s", "latency_ms must be an integer 0..3600000");
            f.latency_ms = json_object_get_int64(v);
        } else if (strcmp(k, "latency_ops") == 0) {
            if (parse_opset(v, k, &f.latency_ops, &e))
                return -1;
            if (!f.latency_ops)
                f.latency_ops = OPSET_ALL;
        } else if (strcmp(k, "error_rate") == 0) {
            if ((!json_object_is_type(v, json_type_double) &&
                 !json_object_is_type(v, json_type_int)) ||
                json_object_get_double(v) < 0 || json_object_get_double(v) > 1)
                return fail(&e, "%s", "error_rate must be a number 0..1");
            f.error_rate = json_object_get_double(v);
        } else if (strcmp(k, "error_mode") == 0) {
            if (parse_mode(v, k, &f.rate_err.business, &e))
                return -1;
        } else if (strcmp(k, "error_status") == 0) {
            if (parse_status(v, k, &f.rate_err.status, &e))
                return -1;
        } else if (strcmp(k, "error_code") == 0) {
            if (parse_code(v, k, f.rate_err.code, sizeof f.rate_err.code, &e))
                return -1;
        } else if (strcmp(k, "error_ops") == 0) {
            if (parse_opset(v, k, &f.error_ops, &e))
                return -1;
            if (!f.error_ops)
                f.error_ops = OPSET_ALL;
        } else if (strcmp(k, "timeout_ops") == 0) {
            if (parse_opset(v, k, &f.timeout_ops, &e))
                return -1;
        } else if (strcmp(k, "drop_ops") == 0) {
            if (parse_opset(v, k, &f.drop_ops, &e))
                return -1;
        } else if (strcmp(k, "timeout_after_ops") == 0) {
            if (parse_opset(v, k, &f.timeout_after_ops, &e))
                return -1;
        } else if (strcmp(k, "drop_after_ops") == 0) {
            if (parse_opset(v, k, &f.drop_after_ops, &e))
                return -1;
        } else if (strcmp(k, "approve_then_timeout") == 0) {
            if (!json_object_is_type(v, json_type_boolean))
                return fail(&e, "%s", "approve_then_timeout must be true or false");
            f.approve_then_timeout = json_object_get_boolean(v);
        } else if (strcmp(k, "fail_next") == 0) {
            f.n_fail_next = 0;
            if (json_object_is_type(v, json_type_array)) {
                size_t n = json_object_array_length(v);
                if (n > PGSIM_MAX_FAIL_NEXT)
                    return fail(&e, "%s", "fail_next: at most 16 entries");
                for (size_t i = 0; i < n; i++)
                    if (parse_fail_next_one(json_object_array_get_idx(v, i),
                                            &f.fail_next[f.n_fail_next++], &e))
                        return -1;
            } else if (v) {
                if (parse_fail_next_one(v, &f.fail_next[f.n_fail_next++], &e))
                    return -1;
            }
        } else if (strcmp(k, "seed") == 0) {
            if (!json_object_is_type(v, json_type_int))
                return fail(&e, "%s", "seed must be an integer");
            f.seeded = 1;
            f.seed = (uint64_t)json_object_get_int64(v);
            reseed = 1;
        } else {
            return fail(&e, "unknown fault \"%.40s\" (see GET /sim/faults)", k);
        }
    }
    sim->faults = f;
    if (reseed) /* xorshift must not start at 0 */
        sim->rng = f.seed ? f.seed : 0x9E3779B97F4A7C15ULL;
    return 0;
}

/* ---- rendering ----------------------------------------------------------------- */

static json_object *render_opset(unsigned set)
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < OP_COUNT; i++)
        if (set & (1u << i))
            json_object_array_add(a, json_object_new_string(pgsim_ops[i].name));
    return a;
}

static void render_err(json_object *o, const struct pgsim_fault_error *e, const char *mode_key,
                       const char *status_key, const char *code_key)
{
    json_object_object_add(o, mode_key, json_object_new_string(e->business ? "business" : "5xx"));
    json_object_object_add(o, status_key, json_object_new_int(e->status));
    json_object_object_add(o, code_key, json_object_new_string(e->code));
}

json_object *pgsim_faults_render(const struct pgsim_faults *f)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "latency_ms", json_object_new_int64(f->latency_ms));
    json_object_object_add(o, "latency_ops", render_opset(f->latency_ops));
    json_object_object_add(o, "error_rate", json_object_new_double(f->error_rate));
    render_err(o, &f->rate_err, "error_mode", "error_status", "error_code");
    json_object_object_add(o, "error_ops", render_opset(f->error_ops));
    json_object_object_add(o, "timeout_ops", render_opset(f->timeout_ops));
    json_object_object_add(o, "drop_ops", render_opset(f->drop_ops));
    json_object_object_add(o, "timeout_after_ops", render_opset(f->timeout_after_ops));
    json_object_object_add(o, "drop_after_ops", render_opset(f->drop_after_ops));
    json_object_object_add(o, "approve_then_timeout",
                           json_object_new_boolean(f->approve_then_timeout));
    json_object *fn = json_object_new_array();
    for (int i = 0; i < f->n_fail_next; i++) {
        const struct pgsim_fail_next *x = &f->fail_next[i];
        if (x->count <= 0)
            continue;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "ops", render_opset(x->ops));
        json_object_object_add(e, "count", json_object_new_int(x->count));
        render_err(e, &x->err, "mode", "status", "code");
        json_object_array_add(fn, e);
    }
    json_object_object_add(o, "fail_next", fn);
    if (f->seeded)
        json_object_object_add(o, "seed", json_object_new_int64((int64_t)f->seed));
    return o;
}

/* ---- decisions ----------------------------------------------------------------- */

double pgsim_rand01(struct pgsim *sim)
{
    uint64_t x;
    if (sim->faults.seeded) {
        /* xorshift64*: reproducible error sequences for a given seed. */
        x = sim->rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        sim->rng = x;
        x *= 0x2545F4914F6CDD1DULL;
    } else if (RAND_bytes((unsigned char *)&x, sizeof x) != 1) {
        x = (uint64_t)rand() << 32 ^ (uint64_t)rand();
    }
    return (double)(x >> 11) / (double)(1ULL << 53);
}

static int has(unsigned set, const struct pgsim_op *op)
{
    return (set >> op->id) & 1u;
}

/* The first fail_next entry for op with the given mode, consumed. */
static int take_fail_next(struct pgsim *sim, const struct pgsim_op *op, int business,
                          struct pgsim_fault_error *out)
{
    struct pgsim_faults *f = &sim->faults;
    for (int i = 0; i < f->n_fail_next; i++) {
        struct pgsim_fail_next *x = &f->fail_next[i];
        if (x->count > 0 && has(x->ops, op) && x->err.business == business) {
            *out = x->err;
            if (--x->count == 0) {
                memmove(x, x + 1, (size_t)(f->n_fail_next - i - 1) * sizeof *x);
                f->n_fail_next--;
            }
            return 1;
        }
    }
    return 0;
}

static int roll(struct pgsim *sim, const struct pgsim_op *op, int business)
{
    const struct pgsim_faults *f = &sim->faults;
    return f->error_rate > 0 && f->rate_err.business == business && has(f->error_ops, op) &&
           pgsim_rand01(sim) < f->error_rate;
}

int pgsim_fault_pre(struct pgsim *sim, const struct pgsim_op *op, enum pgsim_outcome *outcome,
                    struct pgsim_fault_error *err)
{
    const struct pgsim_faults *f = &sim->faults;
    *outcome = PGSIM_SEND;
    if (has(f->timeout_ops, op)) {
        *outcome = PGSIM_HOLD;
        return 1;
    }
    if (has(f->drop_ops, op)) {
        *outcome = PGSIM_DROP;
        return 1;
    }
    if (take_fail_next(sim, op, 0, err))
        return 1;
    if (roll(sim, op, 0)) {
        *err = f->rate_err;
        return 1;
    }
    return 0;
}

const struct pgsim_fault_error *pgsim_fault_business(struct pgsim *sim, const struct pgsim_op *op,
                                                     struct pgsim_fault_error *buf)
{
    if (take_fail_next(sim, op, 1, buf))
        return buf;
    if (roll(sim, op, 1)) {
        *buf = sim->faults.rate_err;
        return buf;
    }
    return NULL;
}

int pgsim_fault_post(struct pgsim *sim, const struct pgsim_op *op, enum pgsim_outcome *outcome)
{
    const struct pgsim_faults *f = &sim->faults;
    int approve = op->id == OP_KAKAO_APPROVE || op->id == OP_NAVER_APPLY;
    if ((f->approve_then_timeout && approve) || has(f->timeout_after_ops, op)) {
        *outcome = PGSIM_HOLD;
        return 1;
    }
    if (has(f->drop_after_ops, op)) {
        *outcome = PGSIM_DROP;
        return 1;
    }
    return 0;
}

int64_t pgsim_fault_latency(struct pgsim *sim, const struct pgsim_op *op)
{
    const struct pgsim_faults *f = &sim->faults;
    return has(f->latency_ops, op) ? f->latency_ms : 0;
}
