/*
 * metrics_bench.c -- time to render /metrics with 10,000 series.
 *
 * Builds a registry shaped like a busy host: a request counter and a
 * latency histogram by route and status, plus plugin counters by label,
 * 10,000 series in all (histogram buckets not counted), then renders it
 * repeatedly and prints the median, p99 and size of one render.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/buffer.h>

#include "metrics.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    char err[256], route[64], status[8], label[32];
    mq_registry *reg = mq_registry_new();
    const char *rs[] = {"route", "status", NULL};
    const char *one[] = {"id", NULL};
    mq_metric *req = mq_registry_register(reg, MQ_COUNTER, "http_requests_total", "Requests.",
                                          rs, NULL, 0, err, sizeof err);
    mq_metric *lat = mq_registry_register(reg, MQ_HISTOGRAM, "http_request_duration_seconds",
                                          "Latency.", rs, NULL, 0, err, sizeof err);
    mq_metric *plug = mq_registry_register(reg, MQ_COUNTER, "plugin_events_total", "Events.",
                                           one, NULL, 0, err, sizeof err);
    int series = 0;
    /* 200 routes x 5 statuses, counter + histogram: 2,000 series. */
    for (int r = 0; r < 200; r++) {
        for (int s = 0; s < 5; s++) {
            snprintf(route, sizeof route, "/app/route%d/:id", r);
            snprintf(status, sizeof status, "%d", 200 + s * 100);
            const char *lv[] = {route, status};
            mq_metric_add(req, lv, r * 7 + s);
            mq_metric_observe(lat, lv, 0.001 * (r % 50));
            series += 2;
        }
    }
    for (; series < 10000; series++) {
        snprintf(label, sizeof label, "event-%d", series);
        const char *lv[] = {label};
        mq_metric_add(plug, lv, series);
    }
    enum { RUNS = 200 };
    double t[RUNS];
    size_t bytes = 0;
    for (int i = 0; i < RUNS; i++) {
        struct evbuffer *b = evbuffer_new();
        double t0 = now_ms();
        mq_registry_render(reg, b);
        t[i] = now_ms() - t0;
        bytes = evbuffer_get_length(b);
        evbuffer_free(b);
    }
    qsort(t, RUNS, sizeof *t, cmp);
    printf("| /metrics render | series | bytes | median ms | p99 ms |\n|---|---|---|---|---|\n");
    printf("| registry of a busy host | %d | %zu | %.2f | %.2f |\n", series, bytes, t[RUNS / 2],
           t[RUNS * 99 / 100]);
    mq_registry_free(reg);
    return 0;
}
