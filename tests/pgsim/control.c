/*
 * control.c -- the simulator's own endpoints, for tests and for people:
 *
 *   GET    /sim/faults   the faults in force
 *   POST   /sim/faults   merge a JSON object of faults (keys replace keys)
 *   DELETE /sim/faults   no faults
 *   GET    /sim/state    every payment (the --state-file content)
 *   GET    /sim/stats    calls per op, faults fired, calls per payment id
 *   DELETE /sim/stats    zero the stats
 *   GET    /sim/clock    the simulated clock
 *   POST   /sim/clock    {"advance_s": N} moves it forward (expiry tests)
 *   GET    /             an index of all this, with the base URLs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "pgsim.h"

static void reply_error(struct pgsim_req *r, int status, const char *code, const char *msg)
{
    json_object *o = json_object_new_object();
    pgsim_rec_set_str(o, "code", code);
    pgsim_rec_set_str(o, "message", msg);
    pgsim_reply_json(r, status, o);
}

static void method_not_allowed(struct pgsim_req *r, const char *allow)
{
    pgsim_add_header(r, "Allow", allow);
    reply_error(r, 405, "MethodNotAllowed", "method not allowed here");
}

/* The body as a JSON object, or NULL (answered with 400). Caller frees. */
static json_object *json_body(struct pgsim_req *r)
{
    json_object *o = r->body_len ? json_tokener_parse(r->body) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        reply_error(r, 400, "InvalidJson", "the body must be a JSON object");
        return NULL;
    }
    return o;
}

static void faults(struct pgsim_req *r, enum evhttp_cmd_type m)
{
    struct pgsim *sim = r->sim;
    if (m == EVHTTP_REQ_POST) {
        json_object *in = json_body(r);
        if (!in)
            return;
        char err[240];
        int rc = pgsim_faults_merge(sim, in, err, sizeof err);
        json_object_put(in);
        if (rc != 0) {
            reply_error(r, 400, "InvalidFault", err);
            return;
        }
        if (!sim->cfg.quiet) {
            json_object *now = pgsim_faults_render(&sim->faults);
            pgsim_log(sim, "faults: %s",
                      json_object_to_json_string_ext(now, JSON_C_TO_STRING_PLAIN));
            json_object_put(now);
        }
    } else if (m == EVHTTP_REQ_DELETE) {
        pgsim_faults_reset(&sim->faults);
    } else if (m != EVHTTP_REQ_GET) {
        method_not_allowed(r, "GET, POST, DELETE");
        return;
    }
    pgsim_reply_json(r, 200, pgsim_faults_render(&sim->faults));
}

static void state(struct pgsim_req *r)
{
    struct pgsim *sim = r->sim;
    /* Bring lazy expiry up to date, so the dump shows what a call would see. */
    json_object_object_foreach(pgsim_store_table(sim, "kakao"), k, krec)
    {
        (void)k;
        pgsim_kakao_expire(sim, krec);
    }
    json_object_object_foreach(pgsim_store_table(sim, "naver"), n, nrec)
    {
        (void)n;
        pgsim_naver_expire(sim, nrec);
    }
    pgsim_reply_json(r, 200, json_object_get(sim->state));
}

static void clock_(struct pgsim_req *r, enum evhttp_cmd_type m)
{
    struct pgsim *sim = r->sim;
    if (m == EVHTTP_REQ_POST) {
        json_object *in = json_body(r);
        if (!in)
            return;
        json_object *v = pgsim_rec_get(in, "advance_s");
        if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
            json_object_object_length(in) != 1) {
            json_object_put(in);
            reply_error(r, 400, "InvalidClock", "the body must be {\"advance_s\": <seconds >= 0>}");
            return;
        }
        int64_t offset = pgsim_rec_i64(sim->state, "clock_offset_s") + json_object_get_int64(v);
        json_object_put(in);
        pgsim_rec_set_i64(sim->state, "clock_offset_s", offset);
        pgsim_store_dirty(sim);
    } else if (m != EVHTTP_REQ_GET) {
        method_not_allowed(r, "GET, POST");
        return;
    }
    char kst[40];
    int64_t now = pgsim_now(sim);
    pgsim_fmt_kst(now, "%Y-%m-%dT%H:%M:%S+09:00", kst, sizeof kst);
    json_object *o = json_object_new_object();
    pgsim_rec_set_i64(o, "offset_s", pgsim_rec_i64(sim->state, "clock_offset_s"));
    pgsim_rec_set_i64(o, "now", now);
    pgsim_rec_set_str(o, "now_kst", kst);
    pgsim_reply_json(r, 200, o);
}

void pgsim_control(struct pgsim_req *r, const char *rest)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->ev);
    if (strcmp(rest, "faults") == 0) {
        faults(r, m);
        return;
    }
    if (strcmp(rest, "state") == 0) {
        if (m == EVHTTP_REQ_GET)
            state(r);
        else
            method_not_allowed(r, "GET");
        return;
    }
    if (strcmp(rest, "stats") == 0) {
        if (m == EVHTTP_REQ_DELETE)
            pgsim_stats_init(r->sim);
        else if (m != EVHTTP_REQ_GET) {
            method_not_allowed(r, "GET, DELETE");
            return;
        }
        pgsim_reply_json(r, 200, json_object_get(r->sim->stats));
        return;
    }
    if (strcmp(rest, "clock") == 0) {
        clock_(r, m);
        return;
    }
    reply_error(r, 404, "NotFound", "no such simulator endpoint (see GET /)");
}

void pgsim_index(struct pgsim_req *r)
{
    const struct pgsim *sim = r->sim;
    const struct pgsim_cfg *c = &sim->cfg;
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        pgsim_reply_text(r, 500, "text/plain", "out of memory", 13);
        return;
    }
    evbuffer_add_printf(
        b,
        "mq-pgsim: local KakaoPay / NaverPay gateway simulator\n\n"
        "KakaoPay (current)  POST %s/online/v1/payment/{ready,approve,cancel,order}\n"
        "                    JSON, Authorization: SECRET_KEY <secret>\n"
        "KakaoPay (legacy)   POST %s/v1/payment/{ready,approve,cancel,order}\n"
        "                    form, Authorization: KakaoAK <admin key>\n"
        "NaverPay            POST %s/%s/naverpay/payments/v2/reserve (JSON)\n"
        "                         .../v2.2/apply/payment (form), .../v1/cancel (form),\n"
        "                         .../v2.2/list/history (JSON)\n"
        "                    X-Naver-Client-Id, X-Naver-Client-Secret, X-NaverPay-Chain-Id\n"
        "Approval pages      %s/sim/kakao/{tid}   %s/sim/naver/{reserveId} (= /payments/{id})\n"
        "Control             GET|POST|DELETE /sim/faults, GET /sim/state, GET|DELETE /sim/stats,\n"
        "                    GET|POST /sim/clock\n",
        sim->public_base, sim->public_base, sim->public_base, c->naver_partner, sim->public_base,
        sim->public_base);
    size_t len = evbuffer_get_length(b);
    const char *text = (const char *)evbuffer_pullup(b, -1);
    pgsim_reply_text(r, 200, "text/plain; charset=utf-8", text, len);
    evbuffer_free(b);
}
