/*
 * quizdef.h -- quizzes as data: assets/quizzes/<slug>.json, loaded and
 * validated at init, and the scoring that turns answers into a result type.
 *
 * A quiz file:
 *   { "slug": "travel", "order": 1, "theme": "sky", "minutes": 2,
 *     "title": "...", "description": "...",
 *     "questions": [ { "text": "...",
 *                      "options": [ { "text": "...", "scores": { "planner": 2 } } ] } ],
 *     "results": [ { "type": "planner", "name": "...", "summary": "...",
 *                    "description": ["paragraph", ...], "traits": ["...", ...],
 *                    "match": "<another type>",
 *                    "premium": [ { "heading": "...", "body": "..." } ] } ],
 *     "fixed_results": { "demo1": "<type>" },          (optional)
 *     "hidden": true }                                  (optional: not listed)
 *
 * Scoring: each chosen option adds its scores to result types; the type
 * with the highest total wins, ties going to the type listed first.
 * "fixed_results" are public result ids that always exist without being
 * stored (the runbook's /app/result/demo1).
 */
#ifndef MQ_QUIZ_QUIZDEF_H
#define MQ_QUIZ_QUIZDEF_H

#include <stddef.h>

#define MQ_QUIZ_MAX_QUESTIONS 40
#define MQ_QUIZ_MAX_OPTIONS 8
#define MQ_QUIZ_MAX_RESULTS 16
#define MQ_QUIZ_ID_MAX 32 /* result ids: [a-z0-9]{1,32} */

typedef struct mq_quiz_option {
    char *text;
    int scores[MQ_QUIZ_MAX_RESULTS]; /* by result index */
} mq_quiz_option;

typedef struct mq_quiz_question {
    char *text;
    mq_quiz_option *options;
    size_t noptions;
} mq_quiz_question;

typedef struct mq_quiz_section {
    char *heading;
    char *body;
} mq_quiz_section;

typedef struct mq_quiz_result {
    char *type;
    char *name;
    char *summary;
    char **paragraphs;
    size_t nparagraphs;
    char **traits;
    size_t ntraits;
    int match; /* result index, or -1 */
    mq_quiz_section *premium;
    size_t npremium;
} mq_quiz_result;

typedef struct mq_quiz_fixed {
    char *id;
    int result;
} mq_quiz_fixed;

typedef struct mq_quiz_def {
    char *slug;
    char *title;
    char *description;
    char *theme;
    int order;
    int minutes;
    int hidden; /* "hidden": true -- reachable by URL, not listed on the landing page */
    mq_quiz_question *questions;
    size_t nquestions;
    mq_quiz_result *results;
    size_t nresults;
    mq_quiz_fixed *fixed;
    size_t nfixed;
} mq_quiz_def;

typedef struct mq_quiz_catalog {
    mq_quiz_def *quizzes; /* sorted by order, then slug */
    size_t n;
} mq_quiz_catalog;

/* Parse and validate one quiz file's JSON into *q (caller storage; free
 * with mq_quiz_def_cleanup, also after a failure). 0, or -1 with a reason
 * in err. */
int mq_quiz_def_parse(const char *json, size_t len, mq_quiz_def *q, char *err, size_t errcap);
void mq_quiz_def_cleanup(mq_quiz_def *q);

/* Load every *.json of dir (no subdirectories). Fails on any invalid file,
 * a duplicate slug or a duplicate fixed result id; an empty catalog is an
 * error too. 0, or -1 with "file: reason" in err. */
int mq_quiz_catalog_load(mq_quiz_catalog *cat, const char *dir, char *err, size_t errcap);
void mq_quiz_catalog_cleanup(mq_quiz_catalog *cat);

const mq_quiz_def *mq_quiz_find(const mq_quiz_catalog *cat, const char *slug);
/* Index of the result called `type`, or -1. */
int mq_quiz_result_index(const mq_quiz_def *q, const char *type);
/* The quiz and result of a fixed result id; 0 when found, else -1. */
int mq_quiz_fixed_lookup(const mq_quiz_catalog *cat, const char *id, const mq_quiz_def **q,
                         int *result);

/* The result index for answers[0..n) (option indexes, one per question),
 * or -1 when n is not the question count or an answer is out of range. */
int mq_quiz_score(const mq_quiz_def *q, const int *answers, size_t n);

/* 1 when s is a well-formed result id: [a-z0-9]{1,32}. */
int mq_quiz_id_valid(const char *s);

#endif /* MQ_QUIZ_QUIZDEF_H */
