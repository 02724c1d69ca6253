/*
 * tmpl.h -- a small HTML template engine with context-aware escaping.
 *
 * Templates are parsed once (at plugin init) into flat op lists; rendering
 * is a walk over the ops that copies literal text and escapes each value
 * for the place it lands in, decided at parse time by following the HTML
 * tokenizer through the literal text:
 *
 *   <p>{{x}}</p>                 HTML text        mq_quiz_esc_html
 *   <title>{{x}}</title>         RCDATA           mq_quiz_esc_html
 *   <a title="{{x}}">            attribute        mq_quiz_esc_attr
 *   <a href="{{x}}">             whole URL        mq_quiz_esc_url (scheme allow-list)
 *   <a href="/q/{{x}}?r={{y}}">  part of a URL    mq_quiz_esc_url_part
 *   <meta content="{{x|url}}">   forced whole URL mq_quiz_esc_url
 *   <script>f('{{x}}')</script>  JS string        mq_quiz_esc_js_str
 *
 * Anywhere else a substitution is a parse error, so a template that could
 * be unsafe never loads: unquoted attribute values, attribute or tag names,
 * event handlers (on*), style attributes and <style>, srcdoc/srcset, JS
 * outside a '...' or "..." string, comments and declarations.
 *
 * Syntax:
 *   {{name}} {{name|url}}                 a value
 *   {{#if name}}..{{else}}..{{/if}}       {{#unless name}}..{{/unless}}
 *   {{#each name}}..{{/each}}             a list; names resolve in the item first
 *   {{> partial}}                         another template of the set (HTML text only)
 *   {{! comment }}
 * Both branches of an if, and an each body, must end in the same context
 * they started in (checked at parse time). Every template starts and ends
 * in HTML text. Names are the fixed symbol list given to the set, so a typo
 * is a load error, and lookups are array indexing.
 *
 * Runs of whitespace that hold a newline, in text and between attributes,
 * are collapsed to one newline.
 */
#ifndef MQ_QUIZ_TMPL_H
#define MQ_QUIZ_TMPL_H

#include <stddef.h>

#include "qbuf.h"

enum mq_quiz_tv_type {
    MQ_TV_NONE = 0, /* unset: renders nothing, false */
    MQ_TV_STR,      /* text, escaped for its context */
    MQ_TV_BOOL,     /* len is 0 or 1 */
    MQ_TV_LIST,     /* ptr: len frames of nsyms values each, contiguous */
    MQ_TV_HTML,     /* markup produced by mq_quiz_tmpl_render: inserted as is
                     * in HTML text, escaped like text elsewhere */
    MQ_TV_HOLE      /* len placeholder bytes ('0'), their offsets recorded by
                     * mq_quiz_tmpl_render_holes: filled later with a value
                     * that every escaper leaves unchanged ([A-Za-z0-9]) */
};

typedef struct mq_quiz_tval {
    int type;
    size_t len;
    const void *ptr;
} mq_quiz_tval;

typedef struct mq_quiz_tmpl mq_quiz_tmpl;
typedef struct mq_quiz_tmpl_set mq_quiz_tmpl_set;

/* A set of templates that may use the names syms[0..nsyms) (copied).
 * NULL on ENOMEM. */
mq_quiz_tmpl_set *mq_quiz_tmpl_set_new(const char *const *syms, size_t nsyms);
/* NULL is fine. */
void mq_quiz_tmpl_set_free(mq_quiz_tmpl_set *set);

/* Parse `text` as template `name` (both copied). Returns 0, or -1 with a
 * message "name:line: what" in err. */
int mq_quiz_tmpl_add(mq_quiz_tmpl_set *set, const char *name, const char *text, size_t len,
                     char *err, size_t errcap);

/* Resolve every {{> partial}}; refuses unknown partials and cycles. Call
 * once after the last add, before rendering. 0 or -1 with err. */
int mq_quiz_tmpl_link(mq_quiz_tmpl_set *set, char *err, size_t errcap);

/* The template called `name`, or NULL. Borrowed for the set's life. */
const mq_quiz_tmpl *mq_quiz_tmpl_get(const mq_quiz_tmpl_set *set, const char *name);

size_t mq_quiz_tmpl_nsyms(const mq_quiz_tmpl_set *set);
/* The index of a symbol name, or -1. */
int mq_quiz_tmpl_sym(const mq_quiz_tmpl_set *set, const char *name);

/* Append template t rendered with vals (nsyms entries) to out. Returns 0,
 * or -1 when out ran out of memory. */
int mq_quiz_tmpl_render(const mq_quiz_tmpl_set *set, const mq_quiz_tmpl *t,
                        const mq_quiz_tval *vals, mq_quiz_buf *out);

/* The same, recording the output offset of every MQ_TV_HOLE value in
 * holes[0..max) and their count in *nholes (a page with more holes than max
 * fails: -1). Offsets are relative to where out ended before the call. */
int mq_quiz_tmpl_render_holes(const mq_quiz_tmpl_set *set, const mq_quiz_tmpl *t,
                              const mq_quiz_tval *vals, mq_quiz_buf *out, size_t *holes, size_t max,
                              size_t *nholes);

/* Value constructors (borrow their arguments). */
static inline mq_quiz_tval mq_quiz_tv_str(const char *s, size_t n)
{
    mq_quiz_tval v = {MQ_TV_STR, n, s};
    return v;
}
static inline mq_quiz_tval mq_quiz_tv_bool(int b)
{
    mq_quiz_tval v = {MQ_TV_BOOL, b ? 1u : 0u, NULL};
    return v;
}
static inline mq_quiz_tval mq_quiz_tv_html(const char *s, size_t n)
{
    mq_quiz_tval v = {MQ_TV_HTML, n, s};
    return v;
}
static inline mq_quiz_tval mq_quiz_tv_hole(size_t n)
{
    mq_quiz_tval v = {MQ_TV_HOLE, n, NULL};
    return v;
}
static inline mq_quiz_tval mq_quiz_tv_list(const mq_quiz_tval *frames, size_t n)
{
    mq_quiz_tval v = {MQ_TV_LIST, n, frames};
    return v;
}

#endif /* MQ_QUIZ_TMPL_H */
