#include "ratelimit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    double tokens, last, per_s, burst;
    size_t len;
    char name[]; /* bucket "\0" key */
} entry;

struct mq_ratelimit {
    entry **slots;
    size_t nslots;
    unsigned long n;
};

mq_ratelimit *mq_ratelimit_new(void)
{
    mq_ratelimit *rl = calloc(1, sizeof *rl);
    if (rl && !(rl->slots = calloc(rl->nslots = 1024, sizeof *rl->slots))) {
        free(rl);
        rl = NULL;
    }
    return rl;
}

void mq_ratelimit_free(mq_ratelimit *rl)
{
    if (!rl)
        return;
    for (size_t i = 0; i < rl->nslots; i++)
        for (entry *e = rl->slots[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(rl->slots);
    free(rl);
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void grow(mq_ratelimit *rl)
{
    size_t nslots = rl->nslots * 2;
    entry **slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return; /* keep the longer chains */
    for (size_t i = 0; i < rl->nslots; i++)
        for (entry *e = rl->slots[i], *next; e; e = next) {
            next = e->next;
            e->next = slots[e->hash & (nslots - 1)];
            slots[e->hash & (nslots - 1)] = e;
        }
    free(rl->slots);
    rl->slots = slots;
    rl->nslots = nslots;
}

static void refill(entry *e, double now_s)
{
    if (now_s > e->last) {
        e->tokens = fmin(e->burst, e->tokens + (now_s - e->last) * e->per_s);
        e->last = now_s;
    }
}

int mq_ratelimit_take(mq_ratelimit *rl, const char *bucket, const char *key, double per_minute,
                      double burst, double now_s, int *retry_after_s)
{
    if (!(per_minute > 0) || !(burst >= 1))
        return 1;
    size_t bl = strlen(bucket ? bucket : ""), kl = strlen(key ? key : "");
    size_t len = bl + 1 + kl;
    char stackname[256];
    char *name = len < sizeof stackname ? stackname : malloc(len + 1);
    if (!name)
        return 1; /* out of memory: fail open rather than lock users out */
    memcpy(name, bucket ? bucket : "", bl);
    name[bl] = '\0';
    memcpy(name + bl + 1, key ? key : "", kl);
    uint64_t h = fnv(name, len);
    entry *e = rl->slots[h & (rl->nslots - 1)];
    while (e && !(e->hash == h && e->len == len && memcmp(e->name, name, len) == 0))
        e = e->next;
    if (!e) {
        if ((e = calloc(1, sizeof *e + len + 1))) {
            e->hash = h;
            e->len = len;
            memcpy(e->name, name, len);
            e->tokens = burst;
            e->last = now_s;
            e->next = rl->slots[h & (rl->nslots - 1)];
            rl->slots[h & (rl->nslots - 1)] = e;
            if (++rl->n > rl->nslots)
                grow(rl);
        }
    }
    if (name != stackname)
        free(name);
    if (!e)
        return 1;
    /* The latest limits apply (a reload may have changed them). */
    e->per_s = per_minute / 60.0;
    e->burst = burst;
    refill(e, now_s);
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
        return 1;
    }
    if (retry_after_s) {
        double wait = (1.0 - e->tokens) / e->per_s;
        *retry_after_s = wait < 1.0 ? 1 : (int)ceil(wait);
    }
    return 0;
}

unsigned long mq_ratelimit_sweep(mq_ratelimit *rl, double now_s)
{
    for (size_t i = 0; i < rl->nslots; i++) {
        entry **pp = &rl->slots[i];
        while (*pp) {
            entry *e = *pp;
            refill(e, now_s);
            if (e->tokens >= e->burst) {
                *pp = e->next;
                free(e);
                rl->n--;
            } else {
                pp = &e->next;
            }
        }
    }
    return rl->n;
}
