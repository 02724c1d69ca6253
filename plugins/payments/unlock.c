/*
 * unlock.c -- a set of strings (the result ids whose premium report is
 * paid for), open addressing with linear probing and tombstones.
 */
#include <stdlib.h>
#include <string.h>

#include "pay.h"

/* A removed slot: probing goes past it, insertion may reuse it. Only its
 * address is used; it is never written. */
static const char tombstone_mark = 0;
#define tombstone ((char *)&tombstone_mark)

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot holding key, or NULL. */
static char **find(const pay_set *s, const char *key)
{
    if (!s->cap)
        return NULL;
    for (size_t i = hash(key) & (s->cap - 1), n = 0; n < s->cap; i = (i + 1) & (s->cap - 1), n++) {
        char *k = s->slots[i];
        if (!k)
            return NULL;
        if (k != tombstone && strcmp(k, key) == 0)
            return &s->slots[i];
    }
    return NULL;
}

/* Rehash into a table sized for the live keys: it doubles when they need
 * room and stays (or shrinks) when tombstones were what filled it. */
static int grow(pay_set *s)
{
    size_t cap = 64;
    while ((s->n + 1) * 2 >= cap)
        cap *= 2;
    char **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return MQ_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        char *k = s->slots[i];
        if (!k || k == tombstone)
            continue;
        size_t j = hash(k) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = k;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    s->used = s->n;
    return MQ_OK;
}

int mq_payments_set_add(pay_set *s, const char *key)
{
    if (!key)
        return MQ_EINVAL;
    if (find(s, key))
        return MQ_OK;
    if ((s->used + 1) * 4 >= s->cap * 3 && grow(s) != MQ_OK)
        return MQ_ENOMEM;
    char *copy = strdup(key);
    if (!copy)
        return MQ_ENOMEM;
    size_t i = hash(key) & (s->cap - 1);
    while (s->slots[i] && s->slots[i] != tombstone)
        i = (i + 1) & (s->cap - 1);
    if (!s->slots[i])
        s->used++;
    s->slots[i] = copy;
    s->n++;
    return MQ_OK;
}

int mq_payments_set_has(const pay_set *s, const char *key)
{
    return key && find(s, key) != NULL;
}

void mq_payments_set_remove(pay_set *s, const char *key)
{
    char **slot = key ? find(s, key) : NULL;
    if (!slot)
        return;
    free(*slot);
    *slot = tombstone;
    s->n--;
}

void mq_payments_set_cleanup(pay_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] != tombstone)
            free(s->slots[i]);
    free(s->slots);
    memset(s, 0, sizeof *s);
}
