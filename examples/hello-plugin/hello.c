/*
 * hello.c -- the smallest useful MindQuiz plugin, built out of tree against
 * the installed SDK (see CMakeLists.txt beside it, or in one line:
 *   cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags mindquiz-plugin) -o hello.so hello.c
 * ).
 *
 *   GET /hello/sdk  ->  {"plugin":"sdk_hello","version":"0.1.0"}
 *
 * Like every plugin it exports only its descriptor, keeps its state in a
 * struct allocated by init (never in globals: a reload starts a fresh copy
 * of the code) and reaches the host only through the table init receives.
 */
#include <stdlib.h>

#include "mq_plugin.h"

#define HELLO_NAME "sdk_hello"
#define HELLO_VERSION "0.1.0"

/* Per-generation state: the host table is kept here, not in a global. */
struct hello_state {
    const mq_api *api;
};

static int hello_init(const mq_api *api, mq_plugin *self, void **state);
static void hello_fini(void *state);
static void hello_get(mq_req *req, void *ud);

/* clang-format off */
MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER,
    .name = HELLO_NAME,
    .version = HELLO_VERSION,
    .summary = "SDK example: GET /hello/sdk",
    .init = hello_init,
    .fini = hello_fini,
};
/* clang-format on */

/* Allocate the state and register the route; on failure free the state and
 * return the status (the host then drops the route and refuses the load). */
static int hello_init(const mq_api *api, mq_plugin *self, void **state)
{
    struct hello_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return MQ_ENOMEM;
    st->api = api;

    int rc = api->route_add(self, "GET", "/hello/sdk", hello_get, st);
    if (rc != MQ_OK) { /* the host has logged why */
        free(st);
        return rc;
    }
    *state = st;
    return MQ_OK;
}

/* Free what init allocated; the host calls it after the last request. */
static void hello_fini(void *state)
{
    free(state);
}

/* GET /hello/sdk: who and which version answered. */
static void hello_get(mq_req *req, void *ud)
{
    const struct hello_state *st = ud;
    static const char body[] = "{\"plugin\":\"" HELLO_NAME "\",\"version\":\"" HELLO_VERSION "\"}";

    st->api->resp_send(req, 200, "application/json", body, sizeof body - 1);
}
