/*
 * web.c -- security policy, request bodies and config values (see web.h).
 */
#include "web.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

/* ---- Content-Security-Policy ----------------------------------------------------- */

#define GA4_SCRIPT " https://*.googletagmanager.com"
#define GA4_IMG " https://*.google-analytics.com https://*.googletagmanager.com"
#define GA4_CONNECT                                                                                \
    " https://*.google-analytics.com https://*.analytics.google.com "                              \
    "https://*.googletagmanager.com"

void mq_quiz_csp_policy(mq_quiz_buf *b, int ga4, const char *nonce, int with_frame_ancestors)
{
    mq_quiz_buf_adds(b, "default-src 'self'; script-src 'self' 'nonce-");
    mq_quiz_buf_adds(b, nonce);
    mq_quiz_buf_adds(b, ga4 ? "'" GA4_SCRIPT "; style-src 'self'; img-src 'self' data:" GA4_IMG
                              "; connect-src 'self'" GA4_CONNECT
                            : "'; style-src 'self'; img-src 'self' data:; connect-src 'self'");
    mq_quiz_buf_adds(b, "; font-src 'self'; object-src 'none'; base-uri 'none'; "
                        "form-action 'self'; ");
    if (with_frame_ancestors)
        mq_quiz_buf_adds(b, "frame-ancestors 'none'; ");
    mq_quiz_buf_adds(b, "report-uri " MQ_QUIZ_CSP_REPORT_PATH);
}

int mq_quiz_ga4_id_valid(const char *s)
{
    if (!s || strncmp(s, "G-", 2) != 0)
        return 0;
    size_t n = strlen(s + 2);
    if (n < 4 || n > 20)
        return 0;
    for (const char *p = s + 2; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

int mq_quiz_csp_mode(const char *v, int *bad)
{
    *bad = 0;
    if (!v || !*v || !strcasecmp(v, "report-only"))
        return 0;
    if (!strcasecmp(v, "enforce"))
        return 1;
    *bad = 1;
    return 0;
}

/* ---- config values ----------------------------------------------------------------- */

int mq_quiz_switch(const char *v, int *bad)
{
    *bad = 0;
    if (!v || !*v || !strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on"))
        return 1;
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        return 0;
    *bad = 1;
    return 0;
}

double mq_quiz_number(const char *v, double def, double lo, double hi, int *bad)
{
    *bad = 0;
    if (!v || !*v)
        return def;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || !end || *end || d != d || d < lo || d > hi) {
        *bad = 1;
        return def;
    }
    return d;
}

int mq_quiz_base_url(const char *v, char *out, size_t cap)
{
    if (!v)
        return -1;
    size_t skip = !strncmp(v, "https://", 8) ? 8 : !strncmp(v, "http://", 7) ? 7 : 0;
    size_t n = strlen(v);
    while (n > skip && v[n - 1] == '/')
        n--;
    if (!skip || n <= skip || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"'<>\\`^{}|?#", c))
            return -1;
    }
    if (v[skip] == '/' || v[skip] == ':')
        return -1; /* no host */
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

void mq_quiz_price_text(long amount, char *out, size_t cap)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%ld", amount < 0 ? 0 : amount);
    char grouped[48];
    size_t g = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            grouped[g++] = ',';
        grouped[g++] = digits[i];
    }
    grouped[g] = '\0';
    snprintf(out, cap, "%s원", grouped);
}

/* ---- requests ------------------------------------------------------------------------- */

static int hexv(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* Decode a form component (+ is a space) into out; -1 when too long. */
static int form_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && hexv((unsigned char)s[i + 1]) >= 0 &&
                   hexv((unsigned char)s[i + 2]) >= 0) {
            c = (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]));
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* A small non-negative decimal (option index); -1 otherwise. */
static int small_index(const char *s)
{
    if (!*s || strlen(s) > 3)
        return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

int mq_quiz_form_answers(const char *body, size_t len, int *answers, size_t nq)
{
    for (size_t i = 0; i < nq; i++)
        answers[i] = -1;
    size_t pos = 0;
    while (pos < len) {
        const char *amp = memchr(body + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - body) : len;
        const char *f = body + pos;
        size_t fl = end - pos;
        pos = end + 1;
        if (fl == 0)
            continue;
        const char *eq = memchr(f, '=', fl);
        char name[32], value[32];
        if (form_decode(f, eq ? (size_t)(eq - f) : fl, name, sizeof name) != 0)
            continue; /* a long name is not one of ours */
        if (name[0] != 'q')
            continue;
        int q = small_index(name + 1);
        if (q < 0 || (size_t)q >= nq)
            continue;
        if (!eq || form_decode(eq + 1, fl - (size_t)(eq + 1 - f), value, sizeof value) != 0)
            return MQ_QUIZ_ANS_BAD;
        int v = small_index(value);
        if (v < 0 || answers[q] != -1)
            return MQ_QUIZ_ANS_BAD;
        answers[q] = v;
    }
    for (size_t i = 0; i < nq; i++)
        if (answers[i] < 0)
            return MQ_QUIZ_ANS_INCOMPLETE;
    return MQ_QUIZ_ANS_OK;
}

int mq_quiz_json_answers(const char *body, size_t len, int *answers, size_t nq)
{
    for (size_t i = 0; i < nq; i++)
        answers[i] = -1;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return MQ_QUIZ_ANS_BAD;
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    int ok = root && json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    json_object *arr = NULL;
    int rc = MQ_QUIZ_ANS_BAD;
    if (ok && json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "answers", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        size_t n = json_object_array_length(arr);
        rc = n > nq ? MQ_QUIZ_ANS_BAD : MQ_QUIZ_ANS_OK;
        for (size_t i = 0; i < n && rc == MQ_QUIZ_ANS_OK; i++) {
            json_object *v = json_object_array_get_idx(arr, i);
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                json_object_get_int64(v) > 999)
                rc = MQ_QUIZ_ANS_BAD;
            else
                answers[i] = (int)json_object_get_int64(v);
        }
        if (rc == MQ_QUIZ_ANS_OK && n < nq)
            rc = MQ_QUIZ_ANS_INCOMPLETE;
    }
    json_object_put(root);
    return rc;
}

static int type_is_json(const char *t, size_t n)
{
    /* application/json, or any application/<subtype>+json */
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    while (n && (*t == ' ' || *t == '\t'))
        t++, n--;
    const char *semi = memchr(t, ';', n);
    if (semi)
        n = (size_t)(semi - t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 16 && !strncasecmp(t, "application/json", 16))
        return 1;
    return n > 17 && !strncasecmp(t, "application/", 12) && !strncasecmp(t + n - 5, "+json", 5);
}

int mq_quiz_is_json_type(const char *ct)
{
    return ct && type_is_json(ct, strlen(ct));
}

int mq_quiz_wants_json(const char *content_type, const char *accept)
{
    if (mq_quiz_is_json_type(content_type))
        return 1;
    if (!accept)
        return 0;
    /* JSON listed before any HTML in Accept. */
    for (const char *p = accept; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (type_is_json(p, n))
            return 1;
        const char *s = p;
        while (s < p + n && (*s == ' ' || *s == '\t'))
            s++;
        if (!strncasecmp(s, "text/html", 9))
            return 0;
        p += n + (c ? 1 : 0);
    }
    return 0;
}

/* ---- CSP reports -------------------------------------------------------------------------- */

static void copy_str(json_object *o, const char *key, char *out, size_t cap)
{
    json_object *v = NULL;
    if (!cap || out[0] || !o || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return;
    /* Printable ASCII only: the value goes into a log line. */
    const char *s = json_object_get_string(v);
    size_t o2 = 0;
    for (; *s && o2 + 1 < cap; s++)
        out[o2++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[o2] = '\0';
}

int mq_quiz_csp_report_parse(const char *body, size_t len, char *directive, size_t dcap,
                             char *blocked, size_t bcap)
{
    if (dcap)
        directive[0] = '\0';
    if (bcap)
        blocked[0] = '\0';
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return 0;
    json_object *root = json_tokener_parse_ex(tok, body, (int)len);
    int ok = root && json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    int count = 0;
    if (ok && json_object_is_type(root, json_type_object)) {
        json_object *r = NULL;
        if (json_object_object_get_ex(root, "csp-report", &r) &&
            json_object_is_type(r, json_type_object)) {
            count = 1;
            copy_str(r, "effective-directive", directive, dcap);
            copy_str(r, "violated-directive", directive, dcap);
            copy_str(r, "blocked-uri", blocked, bcap);
        }
    } else if (ok && json_object_is_type(root, json_type_array)) {
        size_t n = json_object_array_length(root);
        for (size_t i = 0; i < n && i < 100; i++) {
            json_object *item = json_object_array_get_idx(root, i), *type = NULL, *b = NULL;
            if (!json_object_is_type(item, json_type_object) ||
                !json_object_object_get_ex(item, "type", &type) ||
                !json_object_is_type(type, json_type_string) ||
                strcmp(json_object_get_string(type), "csp-violation") != 0)
                continue;
            count++;
            if (json_object_object_get_ex(item, "body", &b) &&
                json_object_is_type(b, json_type_object)) {
                copy_str(b, "effectiveDirective", directive, dcap);
                copy_str(b, "blockedURL", blocked, bcap);
            }
        }
    }
    json_object_put(root);
    return count;
}

long mq_quiz_read_price(const char *path)
{
    json_object *root = json_object_from_file(path), *p = NULL, *item = NULL, *amount = NULL;
    long price = -1;
    if (root && json_object_object_get_ex(root, "products", &p) &&
        json_object_object_get_ex(p, "premium_result", &item) &&
        json_object_object_get_ex(item, "amount", &amount) &&
        json_object_is_type(amount, json_type_int) && json_object_get_int64(amount) >= 0)
        price = (long)json_object_get_int64(amount);
    json_object_put(root);
    return price;
}
