/* Metrics registry: families survive re-registration, text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

static char *render(mq_registry *reg)
{
    struct evbuffer *b = evbuffer_new();
    mq_registry_render(reg, b);
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    evbuffer_free(b);
    return s;
}

static void metrics__register_again__same_family_keeps_count(void **state)
{
    char err[256];
    mq_registry *reg = mq_registry_new();
    const char *labels[] = {"provider", NULL};
    mq_metric *a = mq_registry_register(reg, MQ_COUNTER, "payment_approval_total", "Approvals.",
                                        labels, NULL, 0, err, sizeof err);
    assert_non_null(a);
    const char *kakao[] = {"kakao"};
    mq_metric_add(a, kakao, 3);
    /* A reloaded plugin registers the same family again. */
    mq_metric *b = mq_registry_register(reg, MQ_COUNTER, "payment_approval_total", "Approvals.",
                                        labels, NULL, 0, err, sizeof err);
    assert_ptr_equal(a, b);
    mq_metric_add(b, kakao, 1);
    assert_true(mq_metric_value(b, kakao) == 4.0);
    mq_registry_free(reg);
}

static void metrics__clashing_type_or_labels__refused(void **state)
{
    char err[256];
    mq_registry *reg = mq_registry_new();
    const char *labels[] = {"provider", NULL};
    assert_non_null(mq_registry_register(reg, MQ_COUNTER, "x_total", "", labels, NULL, 0, err,
                                         sizeof err));
    assert_null(mq_registry_register(reg, MQ_GAUGE, "x_total", "", labels, NULL, 0, err,
                                     sizeof err));
    assert_null(mq_registry_register(reg, MQ_COUNTER, "x_total", "", NULL, NULL, 0, err,
                                     sizeof err));
    assert_null(mq_registry_register(reg, MQ_COUNTER, "9bad", "", NULL, NULL, 0, err, sizeof err));
    const char *bad_label[] = {"__reserved", NULL};
    assert_null(mq_registry_register(reg, MQ_COUNTER, "y_total", "", bad_label, NULL, 0, err,
                                     sizeof err));
    mq_registry_free(reg);
}

static void metrics__counter_decrement__ignored(void **state)
{
    char err[256];
    mq_registry *reg = mq_registry_new();
    mq_metric *m = mq_registry_register(reg, MQ_COUNTER, "c_total", "", NULL, NULL, 0, err,
                                        sizeof err);
    mq_metric_add(m, NULL, 5);
    mq_metric_add(m, NULL, -2);
    assert_true(mq_metric_value(m, NULL) == 5.0);
    mq_registry_free(reg);
}

static void metrics__render__escapes_and_histogram_lines(void **state)
{
    char err[256];
    mq_registry *reg = mq_registry_new();
    const char *labels[] = {"route", NULL};
    mq_metric *c = mq_registry_register(reg, MQ_COUNTER, "req_total", "Help with \\ and\nnewline.",
                                        labels, NULL, 0, err, sizeof err);
    const char *v[] = {"say \"hi\"\n"};
    mq_metric_add(c, v, 2);
    double buckets[] = {0.1, 1};
    mq_metric *h = mq_registry_register(reg, MQ_HISTOGRAM, "lat_seconds", "Latency.", NULL,
                                        buckets, 2, err, sizeof err);
    mq_metric_observe(h, NULL, 0.05);
    mq_metric_observe(h, NULL, 0.5);
    mq_metric_observe(h, NULL, 7);
    char *s = render(reg);
    assert_non_null(strstr(s, "# HELP req_total Help with \\\\ and\\nnewline.\n"));
    assert_non_null(strstr(s, "# TYPE req_total counter\n"));
    assert_non_null(strstr(s, "req_total{route=\"say \\\"hi\\\"\\n\"} 2\n"));
    assert_non_null(strstr(s, "lat_seconds_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(s, "lat_seconds_bucket{le=\"1\"} 2\n"));
    assert_non_null(strstr(s, "lat_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(s, "lat_seconds_sum 7.55\n"));
    assert_non_null(strstr(s, "lat_seconds_count 3\n"));
    free(s);
    mq_registry_free(reg);
}

static void metrics__many_series__each_found_again(void **state)
{
    char err[256];
    mq_registry *reg = mq_registry_new();
    const char *labels[] = {"id", NULL};
    mq_metric *m = mq_registry_register(reg, MQ_GAUGE, "g", "", labels, NULL, 0, err, sizeof err);
    char buf[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "s%d", i);
        const char *v[] = {buf};
        mq_metric_set(m, v, i);
    }
    for (int i = 0; i < 5000; i += 499) {
        snprintf(buf, sizeof buf, "s%d", i);
        const char *v[] = {buf};
        assert_true(mq_metric_value(m, v) == (double)i);
    }
    mq_metric_clear(m);
    const char *v[] = {"s1"};
    assert_true(mq_metric_value(m, v) == 0.0);
    mq_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics__register_again__same_family_keeps_count),
        cmocka_unit_test(metrics__clashing_type_or_labels__refused),
        cmocka_unit_test(metrics__counter_decrement__ignored),
        cmocka_unit_test(metrics__render__escapes_and_histogram_lines),
        cmocka_unit_test(metrics__many_series__each_found_again),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
