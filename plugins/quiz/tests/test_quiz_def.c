/*
 * test_quiz_def.c -- quiz files, validation, scoring and result records,
 * including the quizzes shipped in assets/quizzes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quizdef.h"
#include "results.h"

#define MINI                                                                                       \
    "{\"slug\":\"mini\",\"title\":\"T\",\"description\":\"D\",%s"                                  \
    "\"questions\":[{\"text\":\"Q\",\"options\":[{\"text\":\"a\",\"scores\":{\"x\":1}},"           \
    "{\"text\":\"b\",\"scores\":{\"y\":1}}]}],"                                                    \
    "\"results\":[{\"type\":\"x\",\"name\":\"X\",\"summary\":\"s\",\"description\":[\"p\"],"       \
    "\"premium\":[{\"heading\":\"h\",\"body\":\"b\"}]},"                                           \
    "{\"type\":\"y\",\"name\":\"Y\",\"summary\":\"s\",\"description\":[\"p\"],"                    \
    "\"premium\":[{\"heading\":\"h\",\"body\":\"b\"}]}]}"

static int parse(const char *extra, mq_quiz_def *q, char *err, size_t cap)
{
    char json[4096];
    snprintf(json, sizeof json, MINI, extra);
    return mq_quiz_def_parse(json, strlen(json), q, err, cap);
}

static void parse__minimal_quiz__loads_with_defaults(void **state)
{
    mq_quiz_def q;
    char err[256];
    assert_int_equal(parse("", &q, err, sizeof err), 0);
    assert_string_equal(q.slug, "mini");
    assert_string_equal(q.theme, "sky");
    assert_int_equal(q.nquestions, 1);
    assert_int_equal(q.nresults, 2);
    assert_int_equal(q.results[0].match, -1);
    mq_quiz_def_cleanup(&q);
}

static void parse__invalid_files__are_refused_with_a_reason(void **state)
{
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"not json", "not valid JSON"},
        {"[]", "not a JSON object"},
        {"{\"slug\":\"Bad Slug\"}", "slug"},
        {"{\"slug\":\"a\",\"title\":\"\"}", "title"},
        {"{\"slug\":\"a\",\"title\":\"t\",\"description\":\"d\",\"results\":[]}", "results"},
        {"{} trailing", "trailing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mq_quiz_def q;
        char err[256] = "";
        assert_int_not_equal(
            mq_quiz_def_parse(bad[i].json, strlen(bad[i].json), &q, err, sizeof err), 0);
        if (!strstr(err, bad[i].why))
            fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].json, err, bad[i].why);
        mq_quiz_def_cleanup(&q);
    }
    mq_quiz_def q;
    char err[256];
    assert_int_not_equal(parse("\"fixed_results\":{\"0123456789\":\"x\"},", &q, err, sizeof err),
                         0);
    assert_non_null(strstr(err, "stored id"));
    mq_quiz_def_cleanup(&q);
    assert_int_not_equal(parse("\"fixed_results\":{\"demo9\":\"nope\"},", &q, err, sizeof err), 0);
    mq_quiz_def_cleanup(&q);
    assert_int_not_equal(parse("\"hidden\":\"yes\",", &q, err, sizeof err), 0);
    mq_quiz_def_cleanup(&q);
    const char *badutf = "{\"slug\":\"a\",\"title\":\"\xff\",\"description\":\"d\"}";
    assert_int_not_equal(mq_quiz_def_parse(badutf, strlen(badutf), &q, err, sizeof err), 0);
    assert_non_null(strstr(err, "UTF-8"));
    mq_quiz_def_cleanup(&q);
}

static void parse__unknown_score_type__is_refused(void **state)
{
    const char *j =
        "{\"slug\":\"a\",\"title\":\"t\",\"description\":\"d\","
        "\"results\":[{\"type\":\"x\",\"name\":\"X\",\"summary\":\"s\",\"description\":[\"p\"],"
        "\"premium\":[{\"heading\":\"h\",\"body\":\"b\"}]}],"
        "\"questions\":[{\"text\":\"Q\",\"options\":[{\"text\":\"a\",\"scores\":{\"zz\":1}},"
        "{\"text\":\"b\",\"scores\":{\"x\":1}}]}]}";
    mq_quiz_def q;
    char err[256];
    assert_int_not_equal(mq_quiz_def_parse(j, strlen(j), &q, err, sizeof err), 0);
    assert_non_null(strstr(err, "unknown type"));
    mq_quiz_def_cleanup(&q);
}

static void score__argmax_with_first_listed_winning_ties(void **state)
{
    mq_quiz_def q;
    char err[256];
    assert_int_equal(parse("", &q, err, sizeof err), 0);
    int a0[] = {0}, a1[] = {1}, bad[] = {2}, neg[] = {-1};
    assert_int_equal(mq_quiz_score(&q, a0, 1), 0);
    assert_int_equal(mq_quiz_score(&q, a1, 1), 1);
    assert_int_equal(mq_quiz_score(&q, bad, 1), -1);
    assert_int_equal(mq_quiz_score(&q, neg, 1), -1);
    assert_int_equal(mq_quiz_score(&q, a0, 0), -1);
    mq_quiz_def_cleanup(&q);
}

/* Every result type of every shipped quiz is reachable: enumerate all
 * answer combinations (4^8 at most). */
static void shipped_quizzes__load_and_every_type_is_reachable(void **state)
{
    mq_quiz_catalog cat;
    char err[512];
    if (mq_quiz_catalog_load(&cat, MQ_QUIZ_ASSETS "/quizzes", err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(cat.n >= 3);
    size_t real = 0;
    for (size_t i = 0; i < cat.n; i++) {
        const mq_quiz_def *q = &cat.quizzes[i];
        real += !q->hidden && q->nresults >= 3 && q->nquestions >= 6;
        int hit[MQ_QUIZ_MAX_RESULTS] = {0}, ans[MQ_QUIZ_MAX_QUESTIONS] = {0};
        for (;;) {
            int r = mq_quiz_score(q, ans, q->nquestions);
            assert_true(r >= 0);
            hit[r]++;
            size_t k = 0;
            while (k < q->nquestions && ++ans[k] == (int)q->questions[k].noptions)
                ans[k++] = 0;
            if (k == q->nquestions)
                break;
        }
        for (size_t r = 0; r < q->nresults; r++)
            if (!hit[r])
                fail_msg("quiz %s: result %s is unreachable", q->slug, q->results[r].type);
    }
    assert_true(real >= 2);
    const mq_quiz_def *dq = NULL;
    int dr = -1;
    assert_int_equal(mq_quiz_fixed_lookup(&cat, "demo1", &dq, &dr), 0);
    assert_string_equal(dq->slug, "demo");
    assert_true(dq->hidden);
    assert_int_equal(mq_quiz_fixed_lookup(&cat, "demo2", &dq, &dr), -1);
    mq_quiz_catalog_cleanup(&cat);
}

static void id_valid__only_short_lowercase_alnum(void **state)
{
    assert_true(mq_quiz_id_valid("demo1"));
    assert_true(mq_quiz_id_valid("0123456789"));
    assert_false(mq_quiz_id_valid(""));
    assert_false(mq_quiz_id_valid("Demo1"));
    assert_false(mq_quiz_id_valid("a-b"));
    assert_false(mq_quiz_id_valid("../x"));
    assert_false(mq_quiz_id_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 33 */
}

/* ---- result records ---------------------------------------------------------------------- */

static char *fake_store_get(void *ud, const char *key, size_t *len)
{
    const char *const *kv = ud;
    for (; kv[0]; kv += 2)
        if (!strcmp(kv[0], key)) {
            *len = strlen(kv[1]);
            return strdup(kv[1]);
        }
    return NULL;
}

static void record__round_trips_and_resolves(void **state)
{
    char rec[256], slug[64], type[64];
    int answers[] = {0, 3, 1};
    size_t n = mq_quiz_result_record(rec, sizeof rec, "travel", "planner", answers, 3);
    assert_true(n > 0);
    assert_string_equal(rec, "{\"quiz\":\"travel\",\"type\":\"planner\",\"answers\":\"0,3,1\"}");
    assert_int_equal(mq_quiz_result_parse(rec, n, slug, sizeof slug, type, sizeof type), 0);
    assert_string_equal(slug, "travel");
    assert_string_equal(type, "planner");
    char small[10];
    assert_int_equal(mq_quiz_result_record(small, sizeof small, "travel", "planner", answers, 3),
                     0);

    mq_quiz_catalog cat;
    char err[512];
    assert_int_equal(mq_quiz_catalog_load(&cat, MQ_QUIZ_ASSETS "/quizzes", err, sizeof err), 0);
    const char *store[] = {"abcdef0123", rec,
                           "gone000000", "{\"quiz\":\"nosuch\",\"type\":\"x\"}",
                           "oldtype000", "{\"quiz\":\"travel\",\"type\":\"removed\"}",
                           "garbage000", "not json",
                           NULL,         NULL};
    size_t qi;
    int ri;
    assert_int_equal(mq_quiz_result_resolve(&cat, "abcdef0123", fake_store_get, store, &qi, &ri),
                     0);
    assert_string_equal(cat.quizzes[qi].slug, "travel");
    assert_string_equal(cat.quizzes[qi].results[ri].type, "planner");
    assert_int_equal(mq_quiz_result_resolve(&cat, "demo1", fake_store_get, store, &qi, &ri), 0);
    assert_string_equal(cat.quizzes[qi].slug, "demo");
    assert_int_equal(mq_quiz_result_resolve(&cat, "gone000000", fake_store_get, store, &qi, &ri),
                     -1);
    assert_int_equal(mq_quiz_result_resolve(&cat, "oldtype000", fake_store_get, store, &qi, &ri),
                     -1);
    assert_int_equal(mq_quiz_result_resolve(&cat, "garbage000", fake_store_get, store, &qi, &ri),
                     -1);
    assert_int_equal(mq_quiz_result_resolve(&cat, "missing", fake_store_get, store, &qi, &ri), -1);
    assert_int_equal(mq_quiz_result_resolve(&cat, "../etc", fake_store_get, store, &qi, &ri), -1);
    mq_quiz_catalog_cleanup(&cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse__minimal_quiz__loads_with_defaults),
        cmocka_unit_test(parse__invalid_files__are_refused_with_a_reason),
        cmocka_unit_test(parse__unknown_score_type__is_refused),
        cmocka_unit_test(score__argmax_with_first_listed_winning_ties),
        cmocka_unit_test(shipped_quizzes__load_and_every_type_is_reachable),
        cmocka_unit_test(id_valid__only_short_lowercase_alnum),
        cmocka_unit_test(record__round_trips_and_resolves),
    };
    return cmocka_run_group_tests_name("quiz_def", tests, NULL, NULL);
}
