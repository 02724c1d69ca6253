/*
 * pagecache.h -- rendered pages, kept per key so a page is rendered once
 * and then only copied, with its per-response nonce written into the holes
 * the renderer left for it (mq_quiz_tmpl_render_holes).
 *
 * A page is fully determined by its key (page, result id, unlock state,
 * payment banner...) and the generation's assets and config, which never
 * change while the plugin's state lives: nothing is ever stale. The table
 * is direct-mapped and bounded: a new key takes its slot over from the
 * previous one, so memory stays at most nslots pages.
 */
#ifndef MQ_QUIZ_PAGECACHE_H
#define MQ_QUIZ_PAGECACHE_H

#include <stddef.h>

#include "qbuf.h"

#define MQ_QUIZ_PAGE_KEY_MAX 80
#define MQ_QUIZ_PAGE_MAX_HOLES 8

typedef struct mq_quiz_cached_page {
    char key[MQ_QUIZ_PAGE_KEY_MAX]; /* "" when the slot is empty */
    char *data;
    size_t len;
    size_t holes[MQ_QUIZ_PAGE_MAX_HOLES];
    size_t nholes;
    size_t hole_len;
} mq_quiz_cached_page;

typedef struct mq_quiz_pagecache {
    mq_quiz_cached_page *slots;
    size_t nslots; /* a power of two */
    unsigned long hits, misses;
} mq_quiz_pagecache;

/* nslots is rounded up to a power of two. 0, or -1 on ENOMEM. */
int mq_quiz_pagecache_init(mq_quiz_pagecache *pc, size_t nslots);
void mq_quiz_pagecache_cleanup(mq_quiz_pagecache *pc);

/* The page stored under key, or NULL (counted as a hit or a miss). */
const mq_quiz_cached_page *mq_quiz_pagecache_get(mq_quiz_pagecache *pc, const char *key);

/* Store a copy of data[0..len) with its holes (each hole_len bytes) under
 * key, replacing what the slot held. Returns the stored page, or NULL when
 * the key is too long, a hole lies outside the data, or on ENOMEM (the
 * caller then renders without the cache). */
const mq_quiz_cached_page *mq_quiz_pagecache_put(mq_quiz_pagecache *pc, const char *key,
                                                 const char *data, size_t len, const size_t *holes,
                                                 size_t nholes, size_t hole_len);

/* Write the page into out (reset first) with every hole filled with fill,
 * which must be hole_len characters of [A-Za-z0-9] (a value that no
 * escaper would change). 0, or -1 (bad fill, ENOMEM). */
int mq_quiz_pagecache_fill(const mq_quiz_cached_page *page, const char *fill, mq_quiz_buf *out);

#endif /* MQ_QUIZ_PAGECACHE_H */
