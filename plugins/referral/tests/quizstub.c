/*
 * quizstub.c -- a test plugin standing in for the quiz plugin in the
 * referral integration tests (tests/integration/test_referral.py), and the
 * reference for how the quiz plugin calls the "referral" service:
 *
 *   POST /app/quiz/:slug     a new result (random id, stored in "results"),
 *                            attribute(req, id) before the answer;
 *                            303 -> /app/result/<id>, body {"id"}
 *   GET  /app/result/:id     on_visit(req) when ?ref= is there, then
 *                            {"id","code","share","rewards"} where share is
 *                            the link the page would offer and rewards what
 *                            rewards_json gives this browser (null if none)
 *
 * Built into <build>/fixtures/plugins/quizstub.so (never shipped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq_plugin.h"
#include "referral_service.h"

typedef struct stub {
    const mq_api *api;
    mq_plugin *self;
} stub;

static const mq_referral_service_v1 *referral(stub *s, void **ud)
{
    return s->api->service_lookup(s->self, MQ_REFERRAL_SERVICE, MQ_REFERRAL_SERVICE_VERSION, ud);
}

static void on_submit(mq_req *req, void *ud)
{
    stub *s = ud;
    char id[11], body[64], loc[40];
    if (s->api->random_hex(id, 5) != MQ_OK) {
        s->api->resp_error(req, 500, "internal", "no randomness");
        return;
    }
    const char rec[] = "{\"v\":1,\"slug\":\"stub\"}";
    s->api->store_append(s->self, req, "results", id, rec, strlen(rec), MQ_STORE_DURABLE);
    void *rud = NULL;
    const mq_referral_service_v1 *ref = referral(s, &rud);
    if (ref)
        ref->attribute(rud, req, id);
    snprintf(loc, sizeof loc, "/app/result/%s", id);
    int n = snprintf(body, sizeof body, "{\"id\":\"%s\"}", id);
    s->api->resp_header(req, "Location", loc);
    s->api->resp_send(req, 303, "application/json", body, (size_t)n);
}

static void on_result(mq_req *req, void *ud)
{
    stub *s = ud;
    const char *id = s->api->req_param(req, "id");
    void *rud = NULL;
    const mq_referral_service_v1 *ref = referral(s, &rud);
    char code[16] = "";
    char *rewards = NULL;
    if (ref) {
        const char *q = s->api->req_query(req, "ref");
        if (q && *q)
            ref->on_visit(rud, req);
        ref->code_for(rud, id, code, sizeof code);
        rewards = ref->rewards_json(rud, req, id);
    }
    char body[4096];
    int n = snprintf(body, sizeof body,
                     "{\"id\":\"%s\",\"code\":\"%s\",\"share\":\"/app/result/%s%s%s\","
                     "\"rewards\":%s}",
                     id, code, id, code[0] ? "?ref=" : "", code, rewards ? rewards : "null");
    free(rewards);
    if (n < 0 || (size_t)n >= sizeof body) {
        s->api->resp_error(req, 500, "internal", "too big");
        return;
    }
    s->api->resp_send(req, 200, "application/json", body, (size_t)n);
}

static int stub_init(const mq_api *api, mq_plugin *self, void **state)
{
    stub *s = calloc(1, sizeof *s);
    if (!s)
        return MQ_ENOMEM;
    s->api = api;
    s->self = self;
    int rc = api->route_add(self, "POST", "/app/quiz/:slug", on_submit, s);
    if (rc == MQ_OK)
        rc = api->route_add(self, "GET", "/app/result/:id", on_result, s);
    if (rc != MQ_OK) {
        free(s);
        return rc;
    }
    *state = s;
    return MQ_OK;
}

static void stub_fini(void *state)
{
    free(state);
}

MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER, .name = "quizstub",
    .version = "0.0.1",    .init = stub_init,
    .fini = stub_fini,     .summary = "test stand-in for the quiz plugin's calls into referral",
};
