/*
 * qbuf.c -- growable buffer and context escapers (see qbuf.h).
 */
#include "qbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- buffer ------------------------------------------------------------------ */

void mq_quiz_buf_init(mq_quiz_buf *b)
{
    memset(b, 0, sizeof *b);
}

void mq_quiz_buf_cleanup(mq_quiz_buf *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

void mq_quiz_buf_reset(mq_quiz_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

int mq_quiz_buf_reserve(mq_quiz_buf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (n < b->cap && b->len < b->cap - n)
        return 0;
    size_t want = b->len + n + 1, cap = b->cap ? b->cap : 256;
    if (want < b->len) { /* overflow */
        b->oom = 1;
        return -1;
    }
    while (cap < want)
        cap = cap * 2 > cap ? cap * 2 : want;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void mq_quiz_buf_add(mq_quiz_buf *b, const void *p, size_t n)
{
    if (mq_quiz_buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mq_quiz_buf_adds(mq_quiz_buf *b, const char *s)
{
    mq_quiz_buf_add(b, s, strlen(s));
}

void mq_quiz_buf_addc(mq_quiz_buf *b, char c)
{
    if (mq_quiz_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void mq_quiz_buf_printf(mq_quiz_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        mq_quiz_buf_add(b, small, (size_t)n);
        return;
    }
    if (mq_quiz_buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *mq_quiz_buf_take(mq_quiz_buf *b, size_t *len)
{
    char *d = NULL;
    if (!b->oom) {
        d = b->data ? b->data : strdup("");
        if (len)
            *len = b->data ? b->len : 0;
        b->data = NULL;
    } else {
        free(b->data);
        b->data = NULL;
    }
    mq_quiz_buf_init(b);
    return d;
}

/* ---- UTF-8 ---------------------------------------------------------------------- */

size_t mq_quiz_utf8_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static const char REPLACEMENT[] = "\xef\xbf\xbd"; /* U+FFFD */

/* ---- HTML and attributes ------------------------------------------------------- */

/* Bytes that need a look in markup: the five specials, backtick, NUL, and
 * every non-ASCII byte (checked as UTF-8). Runs of the rest are copied. */
static inline int markup_special(unsigned c)
{
    return c >= 0x80 || c == '&' || c == '<' || c == '>' || c == '"' || c == '\'' || c == '`' ||
           c == 0;
}

/* Length of a valid UTF-8 sequence at p, with the Hangul/CJK case (three
 * bytes) checked inline: most of our text is Korean. */
static size_t utf8_at(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c >= 0xe1 && c <= 0xec && n >= 3 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80)
        return 3;
    return mq_quiz_utf8_len(p, n);
}

static void esc_markup(mq_quiz_buf *b, const char *s, size_t n, int attr)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    if (mq_quiz_buf_reserve(b, n + n / 8 + 16) != 0)
        return;
    while (i < n) {
        unsigned c = p[i];
        if (!markup_special(c)) {
            i++;
            continue;
        }
        const char *rep = NULL;
        size_t step = 1;
        if (c >= 0x80) {
            step = utf8_at(p + i, n - i);
            if (step == 0) {
                rep = REPLACEMENT;
                step = 1;
            }
        } else {
            switch (c) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&#34;"; break;
            case '\'': rep = "&#39;"; break;
            case '`': rep = attr ? "&#96;" : NULL; break;
            default: rep = REPLACEMENT; break; /* NUL */
            }
        }
        if (rep) {
            mq_quiz_buf_add(b, s + run, i - run);
            mq_quiz_buf_adds(b, rep);
            i += step;
            run = i;
        } else {
            i += step;
        }
    }
    mq_quiz_buf_add(b, s + run, n - run);
}

void mq_quiz_esc_html(mq_quiz_buf *b, const char *s, size_t n)
{
    esc_markup(b, s, n, 0);
}
void mq_quiz_esc_attr(mq_quiz_buf *b, const char *s, size_t n)
{
    esc_markup(b, s, n, 1);
}

/* ---- URLs ------------------------------------------------------------------------ */

static const char HEX[] = "0123456789ABCDEF";

static inline int is_unreserved(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Characters kept as they are in a whole URL (RFC 3986 reserved and
 * unreserved; '&' and '\'' are kept too but written as entities). */
static inline int url_keep(unsigned c)
{
    if (is_unreserved(c))
        return 1;
    switch (c) {
    case ':':
    case '/':
    case '?':
    case '#':
    case '[':
    case ']':
    case '@':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=': return 1;
    default: return 0;
    }
}

static int is_hex(unsigned c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void pct(mq_quiz_buf *b, unsigned c)
{
    char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
    mq_quiz_buf_add(b, e, 3);
}

/* 1 when the URL's scheme (if any) is one we allow in links. */
static int url_scheme_ok(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != ':' && s[i] != '/' && s[i] != '?' && s[i] != '#')
        i++;
    if (i == n || s[i] != ':')
        return 1; /* no scheme: relative (or protocol-relative "//host") */
    static const char *const allowed[] = {"http", "https", "mailto", "tel"};
    for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
        if (strlen(allowed[k]) == i && strncasecmp(s, allowed[k], i) == 0)
            return 1;
    return 0;
}

void mq_quiz_esc_url(mq_quiz_buf *b, const char *s, size_t n)
{
    if (!url_scheme_ok(s, n)) {
        mq_quiz_buf_adds(b, "#blocked");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c == '%' ? (i + 2 < n && is_hex(p[i + 1]) && is_hex(p[i + 2]))
                     : (url_keep(c) && c != '&' && c != '\''))
            continue;
        mq_quiz_buf_add(b, s + run, i - run);
        run = i + 1;
        if (c == '&')
            mq_quiz_buf_adds(b, "&amp;");
        else if (c == '\'')
            mq_quiz_buf_adds(b, "&#39;");
        else
            pct(b, c);
    }
    mq_quiz_buf_add(b, s + run, n - run);
}

void mq_quiz_esc_url_part(mq_quiz_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_unreserved(p[i]))
            continue;
        mq_quiz_buf_add(b, s + run, i - run);
        pct(b, p[i]);
        run = i + 1;
    }
    mq_quiz_buf_add(b, s + run, n - run);
}

/* ---- JavaScript and JSON strings --------------------------------------------------- */

void mq_quiz_esc_js_str(mq_quiz_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == ' ' || c == ',' || c == '.' || c == '_' || c == '-') {
            mq_quiz_buf_addc(b, (char)c);
            i++;
        } else if (c < 0x80) {
            char e[4] = {'\\', 'x', HEX[c >> 4], HEX[c & 15]};
            mq_quiz_buf_add(b, e, 4);
            i++;
        } else {
            size_t len = mq_quiz_utf8_len(p + i, n - i);
            if (len == 0) {
                mq_quiz_buf_adds(b, "\\uFFFD");
                i++;
            } else if (len == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
                       (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                mq_quiz_buf_adds(b, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
                i += 3;
            } else {
                mq_quiz_buf_add(b, s + i, len);
                i += len;
            }
        }
    }
}

void mq_quiz_esc_json(mq_quiz_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            mq_quiz_buf_add(b, e, 2);
            i++;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            mq_quiz_buf_printf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            mq_quiz_buf_addc(b, (char)c);
            i++;
        } else {
            size_t len = mq_quiz_utf8_len(p + i, n - i);
            if (len == 0) {
                mq_quiz_buf_adds(b, "\\ufffd");
                i++;
            } else {
                mq_quiz_buf_add(b, s + i, len);
                i += len;
            }
        }
    }
}
