/*
 * results.c -- result records and id resolution (see results.h).
 */
#include "results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

size_t mq_quiz_result_record(char *out, size_t cap, const char *slug, const char *type,
                             const int *answers, size_t n)
{
    /* slug and type are validated tokens ([a-z0-9_-]): no JSON escaping needed. */
    int w = snprintf(out, cap, "{\"quiz\":\"%s\",\"type\":\"%s\",\"answers\":\"", slug, type);
    if (w < 0 || (size_t)w >= cap)
        return 0;
    size_t o = (size_t)w;
    for (size_t i = 0; i < n; i++) {
        w = snprintf(out + o, cap - o, "%s%d", i ? "," : "", answers[i]);
        if (w < 0 || (size_t)w >= cap - o)
            return 0;
        o += (size_t)w;
    }
    if (o + 3 > cap)
        return 0;
    memcpy(out + o, "\"}", 3);
    return o + 2;
}

static int copy_member(json_object *root, const char *key, char *out, size_t cap)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(root, key, &v) || !json_object_is_type(v, json_type_string))
        return -1;
    const char *s = json_object_get_string(v);
    if (strlen(s) >= cap)
        return -1;
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int mq_quiz_result_parse(const char *json, size_t len, char *slug, size_t slugcap, char *type,
                         size_t typecap)
{
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    int ok = root && json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(root, json_type_object);
    json_tokener_free(tok);
    int rc = ok && copy_member(root, "quiz", slug, slugcap) == 0 &&
                     copy_member(root, "type", type, typecap) == 0
                 ? 0
                 : -1;
    json_object_put(root);
    return rc;
}

int mq_quiz_result_resolve(const mq_quiz_catalog *cat, const char *id, mq_quiz_record_get_fn get,
                           void *ud, size_t *quiz, int *result)
{
    if (!mq_quiz_id_valid(id))
        return -1;
    const mq_quiz_def *q = NULL;
    int r = -1;
    if (mq_quiz_fixed_lookup(cat, id, &q, &r) == 0) {
        *quiz = (size_t)(q - cat->quizzes);
        *result = r;
        return 0;
    }
    size_t len = 0;
    char *rec = get ? get(ud, id, &len) : NULL;
    if (!rec)
        return -1;
    char slug[64], type[64];
    int rc = mq_quiz_result_parse(rec, len, slug, sizeof slug, type, sizeof type);
    free(rec);
    if (rc != 0 || !(q = mq_quiz_find(cat, slug)) || (r = mq_quiz_result_index(q, type)) < 0)
        return -1;
    *quiz = (size_t)(q - cat->quizzes);
    *result = r;
    return 0;
}
