/*
 * quizdef.c -- quiz files and scoring (see quizdef.h). json-c stays inside
 * this file: nothing of it crosses the plugin ABI.
 */
#include "quizdef.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qbuf.h"

#define TEXT_MAX 4000 /* bytes of one text field */

static int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int token_ok(const char *s, size_t max, int allow_dash)
{
    size_t n = 0;
    if (!s || !*s)
        return 0;
    for (; *s; s++, n++) {
        char c = *s;
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                          (allow_dash && (c == '-' || c == '_'))))
            return 0;
    }
    return 1;
}

int mq_quiz_id_valid(const char *s)
{
    return token_ok(s, MQ_QUIZ_ID_MAX, 0);
}

/* A required (or optional) string member, copied; valid UTF-8, 1..TEXT_MAX bytes. */
static int get_text(json_object *o, const char *key, int required, char **out, const char *where,
                    char *err, size_t cap)
{
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        if (!required)
            return 0;
        return errf(err, cap, "%s: \"%s\" is missing", where, key);
    }
    if (!json_object_is_type(v, json_type_string))
        return errf(err, cap, "%s: \"%s\" is not a string", where, key);
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (n == 0 || n > TEXT_MAX)
        return errf(err, cap, "%s: \"%s\" must hold 1 to %d bytes", where, key, TEXT_MAX);
    for (size_t i = 0; i < n;) {
        size_t l = mq_quiz_utf8_len((const unsigned char *)s + i, n - i);
        if (l == 0 || s[i] == '\0')
            return errf(err, cap, "%s: \"%s\" is not valid UTF-8 text", where, key);
        i += l;
    }
    if (!(*out = strdup(s)))
        return errf(err, cap, "out of memory");
    return 0;
}

static int get_int(json_object *o, const char *key, int def, int lo, int hi, int *out,
                   const char *where, char *err, size_t cap)
{
    json_object *v = NULL;
    *out = def;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return errf(err, cap, "%s: \"%s\" is not an integer", where, key);
    int64_t n = json_object_get_int64(v);
    if (n < lo || n > hi)
        return errf(err, cap, "%s: \"%s\" must be in %d..%d", where, key, lo, hi);
    *out = (int)n;
    return 0;
}

static json_object *get_array(json_object *o, const char *key, size_t min, size_t max, int required,
                              const char *where, char *err, size_t cap, int *failed)
{
    json_object *v = NULL;
    *failed = 0;
    if (!json_object_object_get_ex(o, key, &v)) {
        if (required) {
            errf(err, cap, "%s: \"%s\" is missing", where, key);
            *failed = 1;
        }
        return NULL;
    }
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    if (!json_object_is_type(v, json_type_array) || n < min || n > max) {
        errf(err, cap, "%s: \"%s\" must be an array of %zu to %zu entries", where, key, min, max);
        *failed = 1;
        return NULL;
    }
    return v;
}

static int text_list(json_object *o, const char *key, size_t min, size_t max, char ***out,
                     size_t *n, const char *where, char *err, size_t cap)
{
    int failed;
    json_object *a = get_array(o, key, min, max, min > 0, where, err, cap, &failed);
    if (failed)
        return -1;
    *n = 0;
    *out = NULL;
    if (!a)
        return 0;
    size_t len = json_object_array_length(a);
    if (!(*out = calloc(len ? len : 1, sizeof **out)))
        return errf(err, cap, "out of memory");
    for (size_t i = 0; i < len; i++) {
        json_object *item = json_object_array_get_idx(a, i);
        json_object *wrap = json_object_new_object();
        if (!wrap)
            return errf(err, cap, "out of memory");
        json_object_object_add(wrap, key, json_object_get(item));
        char w[160];
        snprintf(w, sizeof w, "%s %s[%zu]", where, key, i);
        int rc = get_text(wrap, key, 1, &(*out)[i], w, err, cap);
        json_object_put(wrap);
        if (rc != 0)
            return -1;
        (*n)++;
    }
    return 0;
}

static int parse_results(json_object *root, mq_quiz_def *q, char *err, size_t cap)
{
    int failed;
    json_object *a =
        get_array(root, "results", 1, MQ_QUIZ_MAX_RESULTS, 1, "quiz", err, cap, &failed);
    if (failed)
        return -1;
    size_t n = json_object_array_length(a);
    if (!(q->results = calloc(n, sizeof *q->results)))
        return errf(err, cap, "out of memory");
    json_object **matches = calloc(n, sizeof *matches);
    if (!matches)
        return errf(err, cap, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_object *r = json_object_array_get_idx(a, i);
        mq_quiz_result *res = &q->results[i];
        q->nresults = i + 1;
        res->match = -1;
        char where[64];
        snprintf(where, sizeof where, "results[%zu]", i);
        if (!json_object_is_type(r, json_type_object)) {
            rc = errf(err, cap, "%s is not an object", where);
            break;
        }
        rc = get_text(r, "type", 1, &res->type, where, err, cap);
        if (rc == 0 && !token_ok(res->type, 32, 1))
            rc = errf(err, cap, "%s: \"type\" must be [a-z0-9_-]{1,32}", where);
        for (size_t k = 0; rc == 0 && k < i; k++)
            if (!strcmp(q->results[k].type, res->type))
                rc = errf(err, cap, "%s: type \"%s\" is defined twice", where, res->type);
        if (rc == 0)
            rc = get_text(r, "name", 1, &res->name, where, err, cap);
        if (rc == 0)
            rc = get_text(r, "summary", 1, &res->summary, where, err, cap);
        if (rc == 0)
            rc = text_list(r, "description", 1, 8, &res->paragraphs, &res->nparagraphs, where, err,
                           cap);
        if (rc == 0)
            rc = text_list(r, "traits", 0, 12, &res->traits, &res->ntraits, where, err, cap);
        json_object *m = NULL;
        if (rc == 0 && json_object_object_get_ex(r, "match", &m))
            matches[i] = m;
        json_object *prem = NULL;
        if (rc == 0) {
            prem = get_array(r, "premium", 1, 8, 1, where, err, cap, &failed);
            if (failed)
                rc = -1;
        }
        if (rc == 0) {
            size_t np = json_object_array_length(prem);
            if (!(res->premium = calloc(np, sizeof *res->premium)))
                rc = errf(err, cap, "out of memory");
            for (size_t k = 0; rc == 0 && k < np; k++) {
                json_object *s = json_object_array_get_idx(prem, k);
                char w[96];
                snprintf(w, sizeof w, "%s premium[%zu]", where, k);
                res->npremium = k + 1;
                if (!json_object_is_type(s, json_type_object))
                    rc = errf(err, cap, "%s is not an object", w);
                if (rc == 0)
                    rc = get_text(s, "heading", 1, &res->premium[k].heading, w, err, cap);
                if (rc == 0)
                    rc = get_text(s, "body", 1, &res->premium[k].body, w, err, cap);
            }
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!matches[i])
            continue;
        const char *t = json_object_is_type(matches[i], json_type_string)
                            ? json_object_get_string(matches[i])
                            : "";
        q->results[i].match = mq_quiz_result_index(q, t);
        if (q->results[i].match < 0 || (size_t)q->results[i].match == i)
            rc = errf(err, cap, "results[%zu]: \"match\" must name another result type", i);
    }
    free(matches);
    return rc;
}

static int parse_questions(json_object *root, mq_quiz_def *q, char *err, size_t cap)
{
    int failed;
    json_object *a =
        get_array(root, "questions", 1, MQ_QUIZ_MAX_QUESTIONS, 1, "quiz", err, cap, &failed);
    if (failed)
        return -1;
    size_t n = json_object_array_length(a);
    if (!(q->questions = calloc(n, sizeof *q->questions)))
        return errf(err, cap, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_object *qo = json_object_array_get_idx(a, i);
        mq_quiz_question *qq = &q->questions[i];
        q->nquestions = i + 1;
        char where[64];
        snprintf(where, sizeof where, "questions[%zu]", i);
        if (!json_object_is_type(qo, json_type_object))
            return errf(err, cap, "%s is not an object", where);
        if (get_text(qo, "text", 1, &qq->text, where, err, cap) != 0)
            return -1;
        json_object *opts =
            get_array(qo, "options", 2, MQ_QUIZ_MAX_OPTIONS, 1, where, err, cap, &failed);
        if (failed)
            return -1;
        size_t no = json_object_array_length(opts);
        if (!(qq->options = calloc(no, sizeof *qq->options)))
            return errf(err, cap, "out of memory");
        for (size_t k = 0; k < no; k++) {
            json_object *oo = json_object_array_get_idx(opts, k);
            mq_quiz_option *opt = &qq->options[k];
            qq->noptions = k + 1;
            char w[96];
            snprintf(w, sizeof w, "%s options[%zu]", where, k);
            if (!json_object_is_type(oo, json_type_object))
                return errf(err, cap, "%s is not an object", w);
            if (get_text(oo, "text", 1, &opt->text, w, err, cap) != 0)
                return -1;
            json_object *scores = NULL;
            if (!json_object_object_get_ex(oo, "scores", &scores) ||
                !json_object_is_type(scores, json_type_object) ||
                json_object_object_length(scores) == 0)
                return errf(err, cap, "%s: \"scores\" must be a non-empty object", w);
            json_object_object_foreach(scores, key, val)
            {
                int r = mq_quiz_result_index(q, key);
                if (r < 0)
                    return errf(err, cap, "%s: scores name an unknown type \"%s\"", w, key);
                if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0 ||
                    json_object_get_int64(val) > 100)
                    return errf(err, cap, "%s: score of \"%s\" must be an integer in 0..100", w,
                                key);
                opt->scores[r] = (int)json_object_get_int64(val);
            }
        }
    }
    return 0;
}

static int parse_fixed(json_object *root, mq_quiz_def *q, char *err, size_t cap)
{
    json_object *f = NULL;
    if (!json_object_object_get_ex(root, "fixed_results", &f))
        return 0;
    if (!json_object_is_type(f, json_type_object))
        return errf(err, cap, "\"fixed_results\" must be an object");
    size_t n = (size_t)json_object_object_length(f);
    if (!(q->fixed = calloc(n ? n : 1, sizeof *q->fixed)))
        return errf(err, cap, "out of memory");
    json_object_object_foreach(f, id, val)
    {
        int hexish = strlen(id) == 10 && strspn(id, "0123456789abcdef") == 10;
        if (!mq_quiz_id_valid(id) || hexish)
            return errf(err, cap,
                        "fixed result id \"%.40s\" must be [a-z0-9]{1,32} and not look like a "
                        "stored id (10 hex digits)",
                        id);
        int r = json_object_is_type(val, json_type_string)
                    ? mq_quiz_result_index(q, json_object_get_string(val))
                    : -1;
        if (r < 0)
            return errf(err, cap, "fixed result \"%s\" names no result type", id);
        if (!(q->fixed[q->nfixed].id = strdup(id)))
            return errf(err, cap, "out of memory");
        q->fixed[q->nfixed++].result = r;
    }
    return 0;
}

int mq_quiz_def_parse(const char *json, size_t len, mq_quiz_def *q, char *err, size_t cap)
{
    memset(q, 0, sizeof *q);
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return errf(err, cap, "out of memory");
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = (size_t)json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        return errf(err, cap, "not valid JSON: %s", json_tokener_error_desc(jerr));
    }
    while (used < len && strchr(" \t\r\n", json[used]))
        used++;
    int rc = 0;
    if (used != len)
        rc = errf(err, cap, "not valid JSON: trailing data");
    else if (!json_object_is_type(root, json_type_object))
        rc = errf(err, cap, "not a JSON object");
    if (rc == 0)
        rc = get_text(root, "slug", 1, &q->slug, "quiz", err, cap);
    if (rc == 0 && !token_ok(q->slug, 32, 1))
        rc = errf(err, cap, "quiz: \"slug\" must be [a-z0-9_-]{1,32}");
    if (rc == 0)
        rc = get_text(root, "title", 1, &q->title, "quiz", err, cap);
    if (rc == 0)
        rc = get_text(root, "description", 1, &q->description, "quiz", err, cap);
    if (rc == 0)
        rc = get_text(root, "theme", 0, &q->theme, "quiz", err, cap);
    if (rc == 0 && q->theme && !token_ok(q->theme, 16, 1))
        rc = errf(err, cap, "quiz: \"theme\" must be [a-z0-9_-]{1,16}");
    if (rc == 0 && !q->theme && !(q->theme = strdup("sky")))
        rc = errf(err, cap, "out of memory");
    if (rc == 0)
        rc = get_int(root, "order", 100, 0, 10000, &q->order, "quiz", err, cap);
    if (rc == 0)
        rc = get_int(root, "minutes", 2, 1, 60, &q->minutes, "quiz", err, cap);
    if (rc == 0) {
        json_object *h = NULL;
        if (json_object_object_get_ex(root, "hidden", &h)) {
            if (!json_object_is_type(h, json_type_boolean))
                rc = errf(err, cap, "quiz: \"hidden\" must be true or false");
            else
                q->hidden = json_object_get_boolean(h);
        }
    }
    if (rc == 0)
        rc = parse_results(root, q, err, cap);
    if (rc == 0)
        rc = parse_questions(root, q, err, cap);
    if (rc == 0)
        rc = parse_fixed(root, q, err, cap);
    json_object_put(root);
    return rc;
}

void mq_quiz_def_cleanup(mq_quiz_def *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nquestions; i++) {
        for (size_t k = 0; k < q->questions[i].noptions; k++)
            free(q->questions[i].options[k].text);
        free(q->questions[i].options);
        free(q->questions[i].text);
    }
    free(q->questions);
    for (size_t i = 0; i < q->nresults; i++) {
        mq_quiz_result *r = &q->results[i];
        free(r->type);
        free(r->name);
        free(r->summary);
        for (size_t k = 0; k < r->nparagraphs; k++)
            free(r->paragraphs[k]);
        free(r->paragraphs);
        for (size_t k = 0; k < r->ntraits; k++)
            free(r->traits[k]);
        free(r->traits);
        for (size_t k = 0; k < r->npremium; k++) {
            free(r->premium[k].heading);
            free(r->premium[k].body);
        }
        free(r->premium);
    }
    free(q->results);
    for (size_t i = 0; i < q->nfixed; i++)
        free(q->fixed[i].id);
    free(q->fixed);
    free(q->slug);
    free(q->title);
    free(q->description);
    free(q->theme);
    memset(q, 0, sizeof *q);
}

/* ---- the catalog -------------------------------------------------------------------- */

static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = !buf || ferror(f) || n > max;
    fclose(f);
    if (bad) {
        free(buf);
        errno = buf ? EFBIG : ENOMEM;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int cmp_def(const void *a, const void *b)
{
    const mq_quiz_def *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp(x->slug, y->slug);
}

int mq_quiz_catalog_load(mq_quiz_catalog *cat, const char *dir, char *err, size_t cap)
{
    memset(cat, 0, sizeof *cat);
    DIR *d = opendir(dir);
    if (!d)
        return errf(err, cap, "open \"%s\" failed: %s", dir, strerror(errno));
    int rc = 0;
    size_t capn = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (e->d_name[0] == '.' || nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *text = read_file(path, 1 << 20, &len);
        if (!text) {
            rc = errf(err, cap, "read \"%s\" failed: %s", path, strerror(errno));
            break;
        }
        if (cat->n == capn) {
            size_t nc = capn ? capn * 2 : 8;
            mq_quiz_def *nq = realloc(cat->quizzes, nc * sizeof *nq);
            if (!nq) {
                free(text);
                rc = errf(err, cap, "out of memory");
                break;
            }
            cat->quizzes = nq;
            capn = nc;
        }
        char why[512];
        mq_quiz_def *q = &cat->quizzes[cat->n];
        int prc = mq_quiz_def_parse(text, len, q, why, sizeof why);
        free(text);
        cat->n++;
        if (prc != 0) {
            rc = errf(err, cap, "%s: %s", e->d_name, why);
            break;
        }
    }
    closedir(d);
    if (rc == 0 && cat->n == 0)
        rc = errf(err, cap, "no quiz (*.json) in \"%s\"", dir);
    for (size_t i = 0; rc == 0 && i < cat->n; i++) {
        for (size_t k = i + 1; rc == 0 && k < cat->n; k++) {
            if (!strcmp(cat->quizzes[i].slug, cat->quizzes[k].slug))
                rc = errf(err, cap, "slug \"%s\" is used by two quizzes", cat->quizzes[i].slug);
            for (size_t a = 0; rc == 0 && a < cat->quizzes[i].nfixed; a++)
                for (size_t b = 0; rc == 0 && b < cat->quizzes[k].nfixed; b++)
                    if (!strcmp(cat->quizzes[i].fixed[a].id, cat->quizzes[k].fixed[b].id))
                        rc = errf(err, cap, "fixed result \"%s\" is defined twice",
                                  cat->quizzes[i].fixed[a].id);
        }
    }
    if (rc != 0) {
        mq_quiz_catalog_cleanup(cat);
        return -1;
    }
    qsort(cat->quizzes, cat->n, sizeof *cat->quizzes, cmp_def);
    return 0;
}

void mq_quiz_catalog_cleanup(mq_quiz_catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n; i++)
        mq_quiz_def_cleanup(&cat->quizzes[i]);
    free(cat->quizzes);
    memset(cat, 0, sizeof *cat);
}

const mq_quiz_def *mq_quiz_find(const mq_quiz_catalog *cat, const char *slug)
{
    for (size_t i = 0; slug && i < cat->n; i++)
        if (!strcmp(cat->quizzes[i].slug, slug))
            return &cat->quizzes[i];
    return NULL;
}

int mq_quiz_result_index(const mq_quiz_def *q, const char *type)
{
    for (size_t i = 0; type && i < q->nresults; i++)
        if (q->results[i].type && !strcmp(q->results[i].type, type))
            return (int)i;
    return -1;
}

int mq_quiz_fixed_lookup(const mq_quiz_catalog *cat, const char *id, const mq_quiz_def **q,
                         int *result)
{
    for (size_t i = 0; id && i < cat->n; i++)
        for (size_t k = 0; k < cat->quizzes[i].nfixed; k++)
            if (!strcmp(cat->quizzes[i].fixed[k].id, id)) {
                *q = &cat->quizzes[i];
                *result = cat->quizzes[i].fixed[k].result;
                return 0;
            }
    return -1;
}

int mq_quiz_score(const mq_quiz_def *q, const int *answers, size_t n)
{
    if (n != q->nquestions)
        return -1;
    long total[MQ_QUIZ_MAX_RESULTS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (answers[i] < 0 || (size_t)answers[i] >= q->questions[i].noptions)
            return -1;
        const mq_quiz_option *o = &q->questions[i].options[answers[i]];
        for (size_t r = 0; r < q->nresults; r++)
            total[r] += o->scores[r];
    }
    size_t best = 0;
    for (size_t r = 1; r < q->nresults; r++)
        if (total[r] > total[best])
            best = r;
    return (int)best;
}
