/*
 * util.c -- buffers, escaping (HTML, CSV, URL), form bodies, base64 and
 * Korean time for the admin plugin. Pure functions: no host calls.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adm.h"

/* ---- buffers -------------------------------------------------------------------------------- */

static int buf_reserve(adm_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void mq_admin_buf_add(adm_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mq_admin_buf_puts(adm_buf *b, const char *s)
{
    if (s)
        mq_admin_buf_add(b, s, strlen(s));
}

void mq_admin_buf_printf(adm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        mq_admin_buf_add(b, small, (size_t)n);
        return;
    }
    if (buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mq_admin_buf_html(adm_buf *b, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *ent = NULL;
        switch (*s) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: continue;
        }
        mq_admin_buf_add(b, run, (size_t)(s - run));
        mq_admin_buf_puts(b, ent);
        run = s + 1;
    }
    mq_admin_buf_add(b, run, (size_t)(s - run));
}

/* A plain number ("-5", "12.5"): not a formula even when it starts with '-'. */
static int is_number(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!isdigit((unsigned char)*s))
        return 0;
    while (isdigit((unsigned char)*s))
        s++;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

void mq_admin_buf_csv(adm_buf *b, const char *s)
{
    if (!s || !*s)
        return;
    /* A cell starting with = + - @ (or TAB/CR) runs as a formula in
     * Excel and LibreOffice: keep it text (OWASP "CSV injection"). */
    int formula = strchr("=+-@\t\r", *s) != NULL && !is_number(s);
    size_t n = strlen(s);
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' || s[n - 1] == ' ';
    if (!quote) {
        mq_admin_buf_add(b, s, n);
        return;
    }
    mq_admin_buf_add(b, "\"", 1);
    if (formula)
        mq_admin_buf_add(b, "'", 1);
    const char *run = s;
    for (; *s; s++) {
        if (*s == '"') {
            mq_admin_buf_add(b, run, (size_t)(s - run + 1));
            mq_admin_buf_add(b, "\"", 1);
            run = s + 1;
        }
    }
    mq_admin_buf_add(b, run, (size_t)(s - run));
    mq_admin_buf_add(b, "\"", 1);
}

void mq_admin_buf_urlencode(adm_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            mq_admin_buf_add(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            mq_admin_buf_add(b, e, 3);
        }
    }
}

char *mq_admin_buf_take(adm_buf *b)
{
    if (b->oom) {
        mq_admin_buf_cleanup(b);
        return NULL;
    }
    if (!b->data)
        return strdup("");
    char *p = b->data;
    memset(b, 0, sizeof *b);
    return p;
}

void mq_admin_buf_cleanup(adm_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- forms ---------------------------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode n bytes of s into out (room for n + 1); -1 when a NUL results. */
static int form_decode(const char *s, size_t n, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[j++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
                   (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            char c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            out[j++] = c;
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return 0;
}

int mq_admin_form_parse(adm_form *f, const char *body, size_t len)
{
    memset(f, 0, sizeof *f);
    /* Decoded text never grows: len + one NUL per pair (at most len + 1
     * pairs, each name and value) is enough. */
    f->memlen = 2 * len + 2;
    f->mem = malloc(f->memlen);
    if (!f->mem)
        return MQ_ENOMEM;
    char *w = f->mem;
    size_t i = 0;
    while (i < len && f->n < ADM_FORM_MAX) {
        const char *p = body + i;
        const char *amp = memchr(p, '&', len - i);
        size_t plen = amp ? (size_t)(amp - p) : len - i;
        i += plen + (amp ? 1 : 0);
        if (plen == 0)
            continue;
        const char *eq = memchr(p, '=', plen);
        size_t nlen = eq ? (size_t)(eq - p) : plen;
        size_t vlen = eq ? plen - nlen - 1 : 0;
        char *name = w;
        if (form_decode(p, nlen, name) != 0)
            continue;
        char *value = name + strlen(name) + 1;
        if (form_decode(eq ? eq + 1 : "", vlen, value) != 0)
            continue;
        w = value + strlen(value) + 1;
        f->name[f->n] = name;
        f->value[f->n] = value;
        f->n++;
    }
    return MQ_OK;
}

const char *mq_admin_form_get(const adm_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    return NULL;
}

void mq_admin_form_cleanup(adm_form *f)
{
    if (f->mem) {
        /* The login form carries the password: leave no copy behind. */
        explicit_bzero(f->mem, f->memlen);
        free(f->mem);
    }
    memset(f, 0, sizeof *f);
}

/* ---- base64 --------------------------------------------------------------------------------- */

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long mq_admin_base64_decode(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* ---- time ----------------------------------------------------------------------------------- */

int64_t mq_admin_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t mq_admin_kst_to_ms(int y, int mon, int d, int h, int mi, int s)
{
    int64_t days = days_from_civil(y, mon, d);
    return ((days * 86400 + h * 3600 + mi * 60 + s) * 1000) - KST_OFFSET_MS;
}

int64_t mq_admin_kst_day_start(int64_t ms)
{
    int64_t local = ms + KST_OFFSET_MS;
    return floor_div(local, 86400000) * 86400000 - KST_OFFSET_MS;
}

void mq_admin_fmt_kst(int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        if (cap)
            out[0] = '\0';
        return;
    }
    int64_t local = ms + KST_OFFSET_MS;
    int64_t days = floor_div(local, 86400000);
    int64_t rem = local - days * 86400000;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    int secs = (int)(rem / 1000);
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d", y, m, d, secs / 3600, secs / 60 % 60,
             secs % 60);
}

void mq_admin_fmt_age(int64_t s, char *out, size_t cap)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(out, cap, "%lld일 %lld시간", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(out, cap, "%lld시간 %lld분", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(out, cap, "%lld분", (long long)(s / 60));
    else
        snprintf(out, cap, "%lld초", (long long)s);
}

void mq_admin_fmt_bytes(int64_t bytes, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    if (bytes < 1024) {
        snprintf(out, cap, "%lld B", (long long)(bytes < 0 ? 0 : bytes));
        return;
    }
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, "%.1f %s", v, units[u]);
}

/* Read exactly n digits at *p; -1 when they are not there. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

int mq_admin_parse_time(const char *s, int64_t *ms, int *date_only)
{
    if (date_only)
        *date_only = 0;
    if (!s || !*s)
        return -1;
    size_t n = strlen(s);
    if (strspn(s, "0123456789") == n) {
        if (n > 15)
            return -1;
        long long v = strtoll(s, NULL, 10);
        *ms = n <= 11 ? (int64_t)v * 1000 : (int64_t)v;
        return 0;
    }
    const char *p = s;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return -1;
    int mon = digits(&p, 2);
    if (mon < 1 || mon > 12 || *p++ != '-')
        return -1;
    int d = digits(&p, 2);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d < 1 || d > mdays[mon - 1])
        return -1;
    int h = 0, mi = 0, sec = 0;
    if (*p == '\0') {
        if (date_only)
            *date_only = 1;
        *ms = mq_admin_kst_to_ms(y, mon, d, 0, 0, 0);
        return 0;
    }
    if (*p != 'T' && *p != ' ')
        return -1;
    p++;
    if ((h = digits(&p, 2)) < 0 || h > 23 || *p++ != ':' || (mi = digits(&p, 2)) < 0 || mi > 59)
        return -1;
    if (*p == ':') {
        p++;
        if ((sec = digits(&p, 2)) < 0 || sec > 60)
            return -1;
    }
    int64_t offset_ms = KST_OFFSET_MS;
    if (*p == 'Z' && p[1] == '\0') {
        offset_ms = 0;
    } else if ((*p == '+' || *p == '-') && p[1]) {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh = digits(&p, 2), om = 0;
        if (oh < 0 || oh > 14)
            return -1;
        if (*p == ':')
            p++;
        if (*p && (om = digits(&p, 2)) < 0)
            return -1;
        if (*p)
            return -1;
        offset_ms = sign * (oh * 3600 + om * 60) * 1000LL;
    } else if (*p) {
        return -1;
    }
    *ms = mq_admin_kst_to_ms(y, mon, d, h, mi, sec) + KST_OFFSET_MS - offset_ms;
    return 0;
}

int mq_admin_is_token(const char *s, size_t max)
{
    if (!s || !*s)
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= max || !(isalnum(c) || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}
