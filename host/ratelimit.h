/*
 * ratelimit.h -- token buckets keyed by (bucket, key), owned by the host so
 * limits hold across reloads. Idle full buckets are swept periodically.
 */
#ifndef MQ_RATELIMIT_H
#define MQ_RATELIMIT_H

typedef struct mq_ratelimit mq_ratelimit;

mq_ratelimit *mq_ratelimit_new(void);
void mq_ratelimit_free(mq_ratelimit *rl);

/* Take a token at time now_s (monotonic seconds). Returns 1 when allowed;
 * 0 when limited, with *retry_after_s (>= 1) when not NULL. Invalid rates
 * (<= 0) allow everything. */
int mq_ratelimit_take(mq_ratelimit *rl, const char *bucket, const char *key, double per_minute,
                      double burst, double now_s, int *retry_after_s);

/* Drop buckets that are full again (idle). Returns how many remain. */
unsigned long mq_ratelimit_sweep(mq_ratelimit *rl, double now_s);

#endif
