/*
 * metrics.h -- the host-owned metrics registry (Prometheus text format).
 *
 * Families live for the whole process, so a series a plugin registered
 * keeps counting across reloads: registering the same name again with the
 * same type and labels returns the existing family. Series are found by a
 * hash of their label values.
 */
#ifndef MQ_METRICS_H
#define MQ_METRICS_H

#include <stddef.h>

#include "mq_plugin.h"

typedef struct mq_registry mq_registry;
struct evbuffer;

mq_registry *mq_registry_new(void);
void mq_registry_free(mq_registry *reg);

/* Register or find a family. `labels` NULL-terminated (or NULL). Returns NULL
 * with a reason in err on a bad name/label or a clash in type/labels. */
mq_metric *mq_registry_register(mq_registry *reg, int type, const char *name, const char *help,
                                const char *const *labels, const double *buckets,
                                size_t nbuckets, char *err, size_t errlen);

void mq_metric_add(mq_metric *m, const char *const *values, double delta);
void mq_metric_set(mq_metric *m, const char *const *values, double value);
void mq_metric_observe(mq_metric *m, const char *const *values, double value);
/* Drop every series of a family (e.g. an info metric about to be re-set). */
void mq_metric_clear(mq_metric *m);
/* Current value of a counter/gauge series, 0 when absent (for tests). */
double mq_metric_value(mq_metric *m, const char *const *values);

/* Append the whole registry in text exposition format 0.0.4. */
int mq_registry_render(mq_registry *reg, struct evbuffer *out);

#endif
