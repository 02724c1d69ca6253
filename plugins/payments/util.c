/*
 * util.c -- small string helpers and the clock, shared by the payments
 * plugin's logic files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay.h"

/* ---- pay_buf ---------------------------------------------------------------------- */

static int buf_reserve(pay_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void mq_payments_buf_add(pay_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mq_payments_buf_puts(pay_buf *b, const char *s)
{
    mq_payments_buf_add(b, s, strlen(s));
}

void mq_payments_buf_printf(pay_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mq_payments_buf_urlencode(pay_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            mq_payments_buf_add(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            mq_payments_buf_add(b, e, 3);
        }
    }
}

void mq_payments_buf_form(pay_buf *b, const char *key, const char *value)
{
    if (b->len)
        mq_payments_buf_add(b, "&", 1);
    mq_payments_buf_urlencode(b, key);
    mq_payments_buf_add(b, "=", 1);
    mq_payments_buf_urlencode(b, value);
}

char *mq_payments_buf_take(pay_buf *b)
{
    char *d = NULL;
    if (!b->oom) {
        d = b->data ? b->data : strdup("");
        b->data = NULL;
    }
    mq_payments_buf_cleanup(b);
    return d;
}

void mq_payments_buf_cleanup(pay_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- strings ------------------------------------------------------------------------ */

int mq_payments_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (!src || n >= cap) {
        if (cap)
            dst[0] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

int mq_payments_is_token(const char *s, size_t max)
{
    if (!s || !*s)
        return 0;
    size_t n = 0;
    for (; *s; s++, n++) {
        unsigned char c = (unsigned char)*s;
        if (n >= max || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int64_t mq_payments_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
