#include "metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

/* ---- data -------------------------------------------------------------------- */

typedef struct series {
    char **values;    /* one per label */
    uint64_t hash;
    double v;         /* counter / gauge */
    uint64_t *counts; /* histogram: per bucket (not cumulative), +Inf last */
    double sum;
    uint64_t count;
} series;

struct mq_metric {
    int type;
    char *name;
    char *help;
    char **labels;
    size_t nlabels;
    double *buckets;
    size_t nbuckets;
    series **slots; /* open addressing, power-of-two size */
    size_t nslots, nseries;
    series **order; /* insertion order, for stable output */
};

struct mq_registry {
    mq_metric **fams;
    size_t n, cap;
};

static const double default_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};

/* ---- registry --------------------------------------------------------------------- */

mq_registry *mq_registry_new(void) { return calloc(1, sizeof(mq_registry)); }

static void series_free(series *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->counts);
    free(s);
}

void mq_metric_clear(mq_metric *m)
{
    for (size_t i = 0; i < m->nseries; i++)
        series_free(m->order[i], m->nlabels);
    free(m->order);
    free(m->slots);
    m->order = NULL;
    m->slots = NULL;
    m->nseries = m->nslots = 0;
}

static void family_free(mq_metric *m)
{
    mq_metric_clear(m);
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->labels);
    free(m->buckets);
    free(m->name);
    free(m->help);
    free(m);
}

void mq_registry_free(mq_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        family_free(reg->fams[i]);
    free(reg->fams);
    free(reg);
}

static int valid_name(const char *s, int allow_colon)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_' || (allow_colon && *s == ':')))
        return 0;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || (allow_colon && *s == ':')))
            return 0;
    return 1;
}

static size_t count_labels(const char *const *labels)
{
    size_t n = 0;
    while (labels && labels[n])
        n++;
    return n;
}

mq_metric *mq_registry_register(mq_registry *reg, int type, const char *name, const char *help,
                                const char *const *labels, const double *buckets,
                                size_t nbuckets, char *err, size_t errlen)
{
    size_t nlabels = count_labels(labels);
    if (type != MQ_COUNTER && type != MQ_GAUGE && type != MQ_HISTOGRAM) {
        snprintf(err, errlen, "metric \"%s\": unknown type %d", name ? name : "", type);
        return NULL;
    }
    if (!valid_name(name, 1)) {
        snprintf(err, errlen, "metric name \"%s\" is not valid", name ? name : "");
        return NULL;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0 ||
            (type == MQ_HISTOGRAM && strcmp(labels[i], "le") == 0)) {
            snprintf(err, errlen, "metric \"%s\": label name \"%s\" is not valid", name,
                     labels[i]);
            return NULL;
        }
    }
    for (size_t i = 0; i < reg->n; i++) {
        mq_metric *m = reg->fams[i];
        if (strcmp(m->name, name) != 0)
            continue;
        int same = m->type == type && m->nlabels == nlabels;
        for (size_t j = 0; same && j < nlabels; j++)
            same = strcmp(m->labels[j], labels[j]) == 0;
        if (!same) {
            snprintf(err, errlen, "metric \"%s\" exists with another type or label set", name);
            return NULL;
        }
        return m; /* survives reloads: the same family again */
    }
    if (type == MQ_HISTOGRAM && (!buckets || nbuckets == 0)) {
        buckets = default_buckets;
        nbuckets = sizeof default_buckets / sizeof *default_buckets;
    }
    for (size_t i = 1; type == MQ_HISTOGRAM && i < nbuckets; i++) {
        if (!(buckets[i] > buckets[i - 1])) {
            snprintf(err, errlen, "metric \"%s\": buckets must increase", name);
            return NULL;
        }
    }
    mq_metric *m = calloc(1, sizeof *m);
    if (!m)
        goto nomem;
    m->type = type;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    m->labels = calloc(nlabels + 1, sizeof *m->labels);
    if (!m->name || !m->help || !m->labels)
        goto nomem;
    for (; m->nlabels < nlabels; m->nlabels++)
        if (!(m->labels[m->nlabels] = strdup(labels[m->nlabels])))
            goto nomem;
    if (type == MQ_HISTOGRAM) {
        if (!(m->buckets = malloc(nbuckets * sizeof *buckets)))
            goto nomem;
        memcpy(m->buckets, buckets, nbuckets * sizeof *buckets);
        m->nbuckets = nbuckets;
    }
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 32;
        mq_metric **f = realloc(reg->fams, cap * sizeof *f);
        if (!f)
            goto nomem;
        reg->fams = f;
        reg->cap = cap;
    }
    reg->fams[reg->n++] = m;
    return m;
nomem:
    if (m)
        family_free(m);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

/* ---- series lookup ------------------------------------------------------------------- */

static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : ""); *p;
             p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int series_equal(const series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return 0;
    return 1;
}

static int grow_slots(mq_metric *m)
{
    size_t nslots = m->nslots ? m->nslots * 2 : 8;
    series **slots = calloc(nslots, sizeof *slots);
    series **order = realloc(m->order, nslots * sizeof *order);
    if (!slots || !order) {
        free(slots);
        if (order)
            m->order = order;
        return -1;
    }
    m->order = order;
    for (size_t i = 0; i < m->nseries; i++) {
        size_t j = order[i]->hash & (nslots - 1);
        while (slots[j])
            j = (j + 1) & (nslots - 1);
        slots[j] = order[i];
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    return 0;
}

/* Find or create the series for `values`; NULL only on ENOMEM. */
static series *series_get(mq_metric *m, const char *const *values)
{
    uint64_t h = hash_values(values, m->nlabels);
    if (m->nslots) {
        for (size_t j = h & (m->nslots - 1); m->slots[j]; j = (j + 1) & (m->nslots - 1))
            if (m->slots[j]->hash == h && series_equal(m->slots[j], values, m->nlabels))
                return m->slots[j];
    }
    if ((m->nseries + 1) * 2 > m->nslots && grow_slots(m) != 0)
        return NULL;
    series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hash = h;
    s->values = calloc(m->nlabels + 1, sizeof *s->values);
    if (!s->values)
        goto fail;
    for (size_t i = 0; i < m->nlabels; i++)
        if (!(s->values[i] = strdup(values[i] ? values[i] : "")))
            goto fail;
    if (m->type == MQ_HISTOGRAM && !(s->counts = calloc(m->nbuckets + 1, sizeof *s->counts)))
        goto fail;
    size_t j = h & (m->nslots - 1);
    while (m->slots[j])
        j = (j + 1) & (m->nslots - 1);
    m->slots[j] = s;
    m->order[m->nseries++] = s;
    return s;
fail:
    series_free(s, m->nlabels);
    return NULL;
}

void mq_metric_add(mq_metric *m, const char *const *values, double delta)
{
    if (!m || m->type == MQ_HISTOGRAM || (m->type == MQ_COUNTER && !(delta >= 0)))
        return; /* counters only go up */
    series *s = series_get(m, values);
    if (s)
        s->v += delta;
}

void mq_metric_set(mq_metric *m, const char *const *values, double value)
{
    if (!m || m->type != MQ_GAUGE)
        return;
    series *s = series_get(m, values);
    if (s)
        s->v = value;
}

void mq_metric_observe(mq_metric *m, const char *const *values, double value)
{
    if (!m || m->type != MQ_HISTOGRAM || isnan(value))
        return;
    series *s = series_get(m, values);
    if (!s)
        return;
    size_t i = 0;
    while (i < m->nbuckets && value > m->buckets[i])
        i++;
    s->counts[i]++;
    s->sum += value;
    s->count++;
}

double mq_metric_value(mq_metric *m, const char *const *values)
{
    if (!m || !m->nslots)
        return 0;
    uint64_t h = hash_values(values, m->nlabels);
    for (size_t j = h & (m->nslots - 1); m->slots[j]; j = (j + 1) & (m->nslots - 1))
        if (m->slots[j]->hash == h && series_equal(m->slots[j], values, m->nlabels))
            return m->type == MQ_HISTOGRAM ? (double)m->slots[j]->count : m->slots[j]->v;
    return 0;
}

/* ---- rendering ------------------------------------------------------------------------ */

static void put_escaped(struct evbuffer *out, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : (quote && *s == '"') ? "\\\"" : NULL;
        if (!rep)
            continue;
        evbuffer_add(out, run, (size_t)(s - run));
        evbuffer_add(out, rep, strlen(rep));
        run = s + 1;
    }
    evbuffer_add(out, run, (size_t)(s - run));
}

static void put_u64(struct evbuffer *out, uint64_t v)
{
    char buf[24];
    int n = 0;
    char tmp[24];
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    evbuffer_add(out, buf, (size_t)n);
}

static void put_number(struct evbuffer *out, double v)
{
    if (isinf(v))
        evbuffer_add_printf(out, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        evbuffer_add_printf(out, "NaN");
    else if (v >= 0 && v < 1e15 && v == (double)(uint64_t)v)
        put_u64(out, (uint64_t)v);
    else if (v == (double)(int64_t)v && fabs(v) < 1e15)
        evbuffer_add_printf(out, "%lld", (long long)v);
    else {
        /* Shortest text that reads back as the same double: 7.55, not
         * 7.5499999999999998. */
        char buf[32];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        evbuffer_add(out, buf, strlen(buf));
    }
}

/* The label text of a series, without braces: l1="v1",l2="v2". Rendered
 * once per series: a histogram repeats it on every bucket line. */
static void put_labels(struct evbuffer *out, const mq_metric *m, const series *s)
{
    for (size_t i = 0; i < m->nlabels; i++) {
        evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
        put_escaped(out, s->values[i], 1);
        evbuffer_add(out, "\"", 1);
    }
}


int mq_registry_render(mq_registry *reg, struct evbuffer *out)
{
    static const char *types[] = {"", "counter", "gauge", "histogram"};
    struct evbuffer *lbl = evbuffer_new();
    if (!lbl)
        return -1;
    for (size_t f = 0; f < reg->n; f++) {
        mq_metric *m = reg->fams[f];
        evbuffer_add_printf(out, "# HELP %s ", m->name);
        put_escaped(out, m->help, 0);
        evbuffer_add_printf(out, "\n# TYPE %s %s\n", m->name, types[m->type]);
        size_t namelen = strlen(m->name);
        for (size_t i = 0; i < m->nseries; i++) {
            series *s = m->order[i];
            evbuffer_drain(lbl, evbuffer_get_length(lbl));
            put_labels(lbl, m, s);
            size_t ll = evbuffer_get_length(lbl);
            const char *labels = (const char *)evbuffer_pullup(lbl, -1);
            if (m->type != MQ_HISTOGRAM) {
                evbuffer_add(out, m->name, namelen);
                if (ll) {
                    evbuffer_add(out, "{", 1);
                    evbuffer_add(out, labels, ll);
                    evbuffer_add(out, "}", 1);
                }
                evbuffer_add(out, " ", 1);
                put_number(out, s->v);
                evbuffer_add(out, "\n", 1);
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b <= m->nbuckets; b++) {
                cum += s->counts[b];
                evbuffer_add(out, m->name, namelen);
                evbuffer_add(out, "_bucket{", 8);
                if (ll) {
                    evbuffer_add(out, labels, ll);
                    evbuffer_add(out, ",", 1);
                }
                evbuffer_add(out, "le=\"", 4);
                if (b < m->nbuckets)
                    put_number(out, m->buckets[b]);
                else
                    evbuffer_add(out, "+Inf", 4);
                evbuffer_add(out, "\"} ", 3);
                put_u64(out, cum);
                evbuffer_add(out, "\n", 1);
            }
            const char *suffix[] = {"_sum", "_count"};
            for (int k = 0; k < 2; k++) {
                evbuffer_add(out, m->name, namelen);
                evbuffer_add(out, suffix[k], strlen(suffix[k]));
                if (ll) {
                    evbuffer_add(out, "{", 1);
                    evbuffer_add(out, labels, ll);
                    evbuffer_add(out, "}", 1);
                }
                evbuffer_add(out, " ", 1);
                if (k == 0)
                    put_number(out, s->sum);
                else
                    put_u64(out, s->count);
                evbuffer_add(out, "\n", 1);
            }
        }
    }
    evbuffer_free(lbl);
    return 0;
}
