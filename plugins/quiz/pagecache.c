/*
 * pagecache.c -- rendered pages with holes (see pagecache.h).
 */
#include "pagecache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int mq_quiz_pagecache_init(mq_quiz_pagecache *pc, size_t nslots)
{
    memset(pc, 0, sizeof *pc);
    size_t n = 1;
    while (n < nslots)
        n *= 2;
    pc->slots = calloc(n, sizeof *pc->slots);
    if (!pc->slots)
        return -1;
    pc->nslots = n;
    return 0;
}

void mq_quiz_pagecache_cleanup(mq_quiz_pagecache *pc)
{
    if (!pc)
        return;
    for (size_t i = 0; i < pc->nslots; i++)
        free(pc->slots[i].data);
    free(pc->slots);
    memset(pc, 0, sizeof *pc);
}

static size_t slot_of(const mq_quiz_pagecache *pc, const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29)) & (pc->nslots - 1);
}

const mq_quiz_cached_page *mq_quiz_pagecache_get(mq_quiz_pagecache *pc, const char *key)
{
    if (!pc->nslots)
        return NULL;
    const mq_quiz_cached_page *p = &pc->slots[slot_of(pc, key)];
    if (p->key[0] && !strcmp(p->key, key)) {
        pc->hits++;
        return p;
    }
    pc->misses++;
    return NULL;
}

const mq_quiz_cached_page *mq_quiz_pagecache_put(mq_quiz_pagecache *pc, const char *key,
                                                 const char *data, size_t len, const size_t *holes,
                                                 size_t nholes, size_t hole_len)
{
    if (!pc->nslots || strlen(key) >= MQ_QUIZ_PAGE_KEY_MAX || nholes > MQ_QUIZ_PAGE_MAX_HOLES)
        return NULL;
    for (size_t i = 0; i < nholes; i++)
        if (holes[i] > len || hole_len > len - holes[i])
            return NULL;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, data, len);
    copy[len] = '\0';
    mq_quiz_cached_page *p = &pc->slots[slot_of(pc, key)];
    free(p->data);
    memset(p, 0, sizeof *p);
    strcpy(p->key, key);
    p->data = copy;
    p->len = len;
    if (nholes)
        memcpy(p->holes, holes, nholes * sizeof *holes);
    p->nholes = nholes;
    p->hole_len = hole_len;
    return p;
}

int mq_quiz_pagecache_fill(const mq_quiz_cached_page *page, const char *fill, mq_quiz_buf *out)
{
    size_t fl = strlen(fill);
    if (page->nholes && fl != page->hole_len)
        return -1;
    for (size_t i = 0; i < fl; i++) {
        char c = fill[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return -1;
    }
    mq_quiz_buf_reset(out);
    if (mq_quiz_buf_reserve(out, page->len) != 0)
        return -1;
    memcpy(out->data, page->data, page->len);
    out->len = page->len;
    out->data[out->len] = '\0';
    for (size_t i = 0; i < page->nholes; i++)
        memcpy(out->data + page->holes[i], fill, fl);
    return 0;
}
