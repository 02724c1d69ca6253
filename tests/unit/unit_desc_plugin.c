/* A minimal plugin for test_cli_release: `mindquiz release` must read its
 * name, version and ABI from this descriptor. */
#include "mq_plugin.h"

static int unit_init(const mq_api *api, mq_plugin *self, void **state)
{
    (void)api;
    (void)self;
    *state = 0;
    return MQ_OK;
}

static void unit_fini(void *state)
{
    (void)state;
}

MQ_PLUGIN_EXPORT const mq_plugin_desc mq_plugin_descriptor = {
    MQ_PLUGIN_DESC_HEADER, .name = "unitdesc",
    .version = "2.3.4",    .init = unit_init,
    .fini = unit_fini,     .summary = "descriptor fixture for the release command's unit test",
};
