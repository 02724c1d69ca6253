/*
 * qbuf.h -- a growable byte buffer and the escapers the template engine
 * writes through, one per output context.
 *
 * Every escaper appends to a buffer and never fails silently: on ENOMEM
 * the buffer is marked failed (b->oom) and keeps what it had; callers check
 * once at the end. Inputs are byte strings with a length; they need not be
 * NUL-terminated and may hold any bytes (NUL, invalid UTF-8).
 */
#ifndef MQ_QUIZ_QBUF_H
#define MQ_QUIZ_QBUF_H

#include <stddef.h>

typedef struct mq_quiz_buf {
    char *data; /* NUL-terminated while !oom; owned */
    size_t len;
    size_t cap;
    int oom; /* an append failed: the content is incomplete */
} mq_quiz_buf;

/* Start an empty buffer on caller storage (no allocation yet). */
void mq_quiz_buf_init(mq_quiz_buf *b);
/* Free the data; the buffer is empty again and reusable. NULL is fine. */
void mq_quiz_buf_cleanup(mq_quiz_buf *b);
/* Empty the buffer, keeping its memory for reuse. */
void mq_quiz_buf_reset(mq_quiz_buf *b);
/* Make room for n more bytes (plus a NUL). 0, or -1 (and oom set). */
int mq_quiz_buf_reserve(mq_quiz_buf *b, size_t n);
void mq_quiz_buf_add(mq_quiz_buf *b, const void *p, size_t n);
void mq_quiz_buf_adds(mq_quiz_buf *b, const char *s);
void mq_quiz_buf_addc(mq_quiz_buf *b, char c);
void mq_quiz_buf_printf(mq_quiz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take the data (caller frees); the buffer is left empty. NULL after oom. */
char *mq_quiz_buf_take(mq_quiz_buf *b, size_t *len);

/* ---- escapers: one per context ------------------------------------------------- */

/* HTML text (and RCDATA such as <title>): & < > " ' become entities; NUL
 * and bytes that are not valid UTF-8 become U+FFFD. */
void mq_quiz_esc_html(mq_quiz_buf *b, const char *s, size_t n);

/* A quoted attribute value: as HTML text, plus the backtick. */
void mq_quiz_esc_attr(mq_quiz_buf *b, const char *s, size_t n);

/* A whole URL in an attribute (href="{{x}}"): only http, https, mailto
 * and tel schemes, or a relative URL, pass; anything else (javascript:,
 * data:, " javascript:", "java\tscript:") becomes "#blocked". Bytes that
 * may not appear in a URL are percent-encoded (an existing %XX is kept),
 * then the result is attribute-escaped. */
void mq_quiz_esc_url(mq_quiz_buf *b, const char *s, size_t n);

/* Part of a URL after literal text (href="/app/quiz/{{slug}}",
 * "?ref={{code}}"): every byte but A-Z a-z 0-9 - . _ ~ is percent-encoded,
 * so it can change neither the scheme nor the structure. */
void mq_quiz_esc_url_part(mq_quiz_buf *b, const char *s, size_t n);

/* Inside a quoted JavaScript string in a <script>: everything but
 * A-Z a-z 0-9 space , . _ - becomes \xHH (ASCII) or \uXXXX (U+2028,
 * U+2029, U+FFFD for invalid UTF-8); other valid UTF-8 passes. */
void mq_quiz_esc_js_str(mq_quiz_buf *b, const char *s, size_t n);

/* A JSON string body (no quotes added): " \ and control characters
 * escaped; < > & as \u003c \u003e \u0026 so it is safe in HTML too. */
void mq_quiz_esc_json(mq_quiz_buf *b, const char *s, size_t n);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0..n) does
 * not start with one. */
size_t mq_quiz_utf8_len(const unsigned char *s, size_t n);

#endif /* MQ_QUIZ_QBUF_H */
