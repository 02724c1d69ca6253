/*
 * results.h -- stored quiz results: the record kept in the store's
 * "results" collection under the public id, and resolving a public id to
 * a quiz and result type (fixed ids such as "demo1" first, then the store).
 *
 * Record (the host adds "k", "ts" and "v"):
 *   {"quiz":"travel","type":"planner","answers":"0,2,1,3"}
 */
#ifndef MQ_QUIZ_RESULTS_H
#define MQ_QUIZ_RESULTS_H

#include <stddef.h>

#include "quizdef.h"

#define MQ_QUIZ_RESULTS_COLLECTION "results"
#define MQ_QUIZ_NEW_ID_BYTES 5 /* 10 hex digits */

/* The record for a new result, NUL-terminated in out. Returns its length,
 * or 0 when it does not fit. */
size_t mq_quiz_result_record(char *out, size_t cap, const char *slug, const char *type,
                             const int *answers, size_t n);

/* Read a quiz slug and type from a stored record. 0, or -1 when the record
 * is not one of ours. */
int mq_quiz_result_parse(const char *json, size_t len, char *slug, size_t slugcap, char *type,
                         size_t typecap);

/* Returns the latest record stored under key (caller frees), or NULL. */
typedef char *(*mq_quiz_record_get_fn)(void *ud, const char *key, size_t *len);

/* Resolve public id `id` to a quiz index and result index in cat: a fixed
 * id, or a stored record whose quiz and type still exist. 0 when found,
 * -1 when not (unknown id, or a quiz or type this release no longer has). */
int mq_quiz_result_resolve(const mq_quiz_catalog *cat, const char *id, mq_quiz_record_get_fn get,
                           void *ud, size_t *quiz, int *result);

#endif /* MQ_QUIZ_RESULTS_H */
