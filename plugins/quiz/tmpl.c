/*
 * tmpl.c -- the template engine (see tmpl.h for the language and the
 * escaping rules).
 *
 * The parser follows a simplified HTML tokenizer (and, inside <script>, a
 * JavaScript string/comment scanner) over the literal text, so that at each
 * {{...}} it knows where the value lands and picks the escaper, or refuses
 * the template. The renderer only copies and escapes.
 */
#include "tmpl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NEST 16  /* nested if/each in one template */
#define MAX_DEPTH 32 /* partial calls + nesting while rendering */
#define TAG_MAX 15
#define ATTR_MAX 23

/* ---- the HTML context ----------------------------------------------------------- */

enum hst {
    H_TEXT,
    H_LT,           /* after '<' */
    H_LT_BANG,      /* after "<!" */
    H_LT_BANG_DASH, /* after "<!-" */
    H_COMMENT,      /* inside <!-- --> ; dash counts the '-' seen */
    H_DECL,         /* <!DOCTYPE ...> or <!x ...> */
    H_TAG_NAME,
    H_END_TAG, /* </name ...> up to '>' */
    H_IN_TAG,  /* between attributes */
    H_ATTR_NAME,
    H_AFTER_ATTR_NAME,
    H_BEFORE_VALUE,
    H_VALUE_DQ,
    H_VALUE_SQ,
    H_VALUE_UQ,
    H_RAW /* content of script/style/title/textarea */
};

enum attr_kind { A_NORMAL, A_URL, A_FORBID };
enum raw_kind { R_NONE, R_SCRIPT, R_STYLE, R_RCDATA };
enum js_state { J_CODE, J_SQ, J_DQ, J_BT, J_LINE_COMMENT, J_BLOCK_COMMENT };

typedef struct hctx {
    uint8_t st, attr_kind, raw_kind, js;
    uint8_t js_esc;      /* the previous char in a JS string was a backslash */
    uint8_t js_prev;     /* previous JS char, for comment starts and ends */
    uint8_t has_content; /* the current attribute value has text before here */
    uint8_t dash;        /* '-' seen at the end of a comment */
    uint8_t raw_match;   /* chars of "</tag" matched in raw text */
    uint8_t taglen;
    char tag[TAG_MAX + 1];
    uint8_t attrlen;
    char attr[ATTR_MAX + 1];
} hctx;

/* Back to HTML text: nothing of the markup before matters any more, so
 * the whole context is reset (two branches that both reach text agree). */
static void to_text(hctx *c)
{
    memset(c, 0, sizeof *c);
    c->st = H_TEXT;
}

static void tag_ended(hctx *c)
{
    c->raw_kind = R_NONE;
    c->st = H_TEXT;
    if (!strcmp(c->tag, "script"))
        c->raw_kind = R_SCRIPT;
    else if (!strcmp(c->tag, "style"))
        c->raw_kind = R_STYLE;
    else if (!strcmp(c->tag, "title") || !strcmp(c->tag, "textarea"))
        c->raw_kind = R_RCDATA;
    if (c->raw_kind != R_NONE) {
        c->st = H_RAW;
        c->js = J_CODE;
        c->js_esc = c->js_prev = 0;
        c->raw_match = 0;
        c->attrlen = 0;
        memset(c->attr, 0, sizeof c->attr);
        c->attr_kind = A_NORMAL;
        c->has_content = 0;
    } else {
        to_text(c);
    }
}

static int classify_attr(const char *name)
{
    static const char *const url_attrs[] = {"href",     "src",        "action", "formaction",
                                            "cite",     "poster",     "data",   "background",
                                            "longdesc", "manifest",   "ping",   "icon",
                                            "codebase", "xlink:href", "usemap"};
    if (name[0] == 'o' && name[1] == 'n')
        return A_FORBID; /* event handlers */
    if (!strcmp(name, "style") || !strcmp(name, "srcdoc") || !strcmp(name, "srcset"))
        return A_FORBID;
    for (size_t i = 0; i < sizeof url_attrs / sizeof url_attrs[0]; i++)
        if (!strcmp(name, url_attrs[i]))
            return A_URL;
    return A_NORMAL;
}

static int is_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f';
}

static void start_value(hctx *c, int st)
{
    c->st = (uint8_t)st;
    c->attr_kind = (uint8_t)classify_attr(c->attr);
    c->has_content = 0;
}

static void leave_value(hctx *c)
{
    c->st = H_IN_TAG;
    c->attr_kind = A_NORMAL;
    c->has_content = 0;
    c->attrlen = 0;
    memset(c->attr, 0, sizeof c->attr);
}

static void js_step(hctx *c, int ch)
{
    switch (c->js) {
    case J_CODE:
        if (ch == '\'')
            c->js = J_SQ;
        else if (ch == '"')
            c->js = J_DQ;
        else if (ch == '`')
            c->js = J_BT;
        else if (ch == '/' && c->js_prev == '/')
            c->js = J_LINE_COMMENT;
        else if (ch == '*' && c->js_prev == '/')
            c->js = J_BLOCK_COMMENT;
        c->js_prev = (uint8_t)(c->js == J_CODE ? ch : 0);
        return;
    case J_SQ:
    case J_DQ:
    case J_BT:
        if (c->js_esc)
            c->js_esc = 0;
        else if (ch == '\\')
            c->js_esc = 1;
        else if ((c->js == J_SQ && ch == '\'') || (c->js == J_DQ && ch == '"') ||
                 (c->js == J_BT && ch == '`') || (c->js != J_BT && ch == '\n'))
            c->js = J_CODE;
        c->js_prev = 0;
        return;
    case J_LINE_COMMENT:
        if (ch == '\n')
            c->js = J_CODE;
        return;
    case J_BLOCK_COMMENT:
        if (ch == '/' && c->js_prev == '*') {
            c->js = J_CODE;
            c->js_prev = 0;
        } else {
            c->js_prev = (uint8_t)ch;
        }
        return;
    }
}

/* Advance the context over one literal character. */
static void step(hctx *c, int ch)
{
    int lc = tolower(ch);
    switch (c->st) {
    case H_TEXT:
        if (ch == '<')
            c->st = H_LT;
        return;
    case H_LT:
        if (isalpha(ch)) {
            c->st = H_TAG_NAME;
            memset(c->tag, 0, sizeof c->tag);
            c->tag[0] = (char)lc;
            c->taglen = 1;
        } else if (ch == '/') {
            c->st = H_END_TAG;
        } else if (ch == '!') {
            c->st = H_LT_BANG;
        } else {
            to_text(c);
            if (ch == '<')
                c->st = H_LT;
        }
        return;
    case H_LT_BANG:
        if (ch == '>')
            to_text(c);
        else
            c->st = ch == '-' ? H_LT_BANG_DASH : H_DECL;
        return;
    case H_LT_BANG_DASH:
        if (ch == '-') {
            c->st = H_COMMENT;
            c->dash = 0;
        } else if (ch == '>') {
            to_text(c);
        } else {
            c->st = H_DECL;
        }
        return;
    case H_COMMENT:
        if (ch == '>' && c->dash >= 2) {
            to_text(c);
            return;
        }
        c->dash = ch == '-' ? (uint8_t)(c->dash < 2 ? c->dash + 1 : 2) : 0;
        return;
    case H_DECL:
    case H_END_TAG:
        if (ch == '>')
            to_text(c);
        return;
    case H_TAG_NAME:
        if (is_space(ch) || ch == '/') {
            c->st = H_IN_TAG;
        } else if (ch == '>') {
            tag_ended(c);
        } else if (c->taglen < TAG_MAX) {
            c->tag[c->taglen++] = (char)lc;
        }
        return;
    case H_IN_TAG:
    case H_AFTER_ATTR_NAME:
        if (is_space(ch) || ch == '/')
            return;
        if (ch == '>') {
            tag_ended(c);
        } else if (ch == '=' && c->st == H_AFTER_ATTR_NAME) {
            c->st = H_BEFORE_VALUE;
        } else {
            c->st = H_ATTR_NAME;
            memset(c->attr, 0, sizeof c->attr);
            c->attr[0] = (char)lc;
            c->attrlen = 1;
        }
        return;
    case H_ATTR_NAME:
        if (ch == '=')
            c->st = H_BEFORE_VALUE;
        else if (is_space(ch))
            c->st = H_AFTER_ATTR_NAME;
        else if (ch == '>')
            tag_ended(c);
        else if (ch == '/')
            c->st = H_IN_TAG;
        else if (c->attrlen < ATTR_MAX)
            c->attr[c->attrlen++] = (char)lc;
        return;
    case H_BEFORE_VALUE:
        if (is_space(ch))
            return;
        if (ch == '"')
            start_value(c, H_VALUE_DQ);
        else if (ch == '\'')
            start_value(c, H_VALUE_SQ);
        else if (ch == '>')
            tag_ended(c);
        else {
            start_value(c, H_VALUE_UQ);
            c->has_content = 1;
        }
        return;
    case H_VALUE_DQ:
    case H_VALUE_SQ:
        if ((c->st == H_VALUE_DQ && ch == '"') || (c->st == H_VALUE_SQ && ch == '\'')) {
            leave_value(c);
        } else {
            c->has_content = 1;
        }
        return;
    case H_VALUE_UQ:
        if (is_space(ch)) {
            leave_value(c);
        } else if (ch == '>') {
            leave_value(c);
            tag_ended(c);
        }
        return;
    case H_RAW: {
        /* "</tag" ends the element whatever the script state is. */
        size_t want = 2 + c->taglen;
        char expect = c->raw_match == 0 ? '<' : c->raw_match == 1 ? '/' : c->tag[c->raw_match - 2];
        if (lc == expect) {
            c->raw_match++;
            if (c->raw_match == want) {
                c->st = H_END_TAG;
                c->raw_kind = R_NONE;
                c->js = J_CODE;
                c->raw_match = 0;
                return;
            }
        } else {
            c->raw_match = lc == '<' ? 1 : 0;
        }
        if (c->raw_kind == R_SCRIPT)
            js_step(c, ch);
        return;
    }
    }
}

enum esc { E_HTML, E_ATTR, E_URL, E_URL_PART, E_JS_STR };

/* The escaper for a value at context c, or -1 with a reason. */
static int esc_for(const hctx *c, int force_url, const char **why)
{
    switch (c->st) {
    case H_TEXT:
        if (force_url) {
            *why = "|url is for attribute values";
            return -1;
        }
        return E_HTML;
    case H_VALUE_DQ:
    case H_VALUE_SQ:
        if (c->attr_kind == A_FORBID) {
            *why = "values are not allowed in event handler, style, srcdoc or srcset attributes";
            return -1;
        }
        if (c->attr_kind == A_URL || force_url)
            return c->has_content ? E_URL_PART : E_URL;
        return E_ATTR;
    case H_VALUE_UQ:
    case H_BEFORE_VALUE: *why = "attribute values holding a value must be quoted"; return -1;
    case H_RAW:
        if (c->raw_kind == R_RCDATA && !force_url)
            return E_HTML;
        if (c->raw_kind == R_SCRIPT && (c->js == J_SQ || c->js == J_DQ) && !force_url)
            return E_JS_STR;
        *why = c->raw_kind == R_SCRIPT
                   ? "in a script a value must be inside a '...' or \"...\" string"
                   : "values are not allowed in <style>";
        return -1;
    case H_COMMENT:
    case H_LT_BANG:
    case H_LT_BANG_DASH:
    case H_DECL: *why = "values are not allowed in comments or declarations"; return -1;
    default: *why = "values are not allowed in tag or attribute names"; return -1;
    }
}

/* Two contexts that may meet after branches; has_content is OR-ed. */
static int ctx_merge(hctx *into, const hctx *other)
{
    hctx a = *into, b = *other;
    uint8_t hc = a.has_content | b.has_content;
    a.has_content = b.has_content = 0;
    if (memcmp(&a, &b, sizeof a) != 0)
        return -1;
    into->has_content = hc;
    return 0;
}

/* ---- compiled form ----------------------------------------------------------------- */

enum opk { OP_TEXT, OP_VAR, OP_IF, OP_ELSE, OP_ENDIF, OP_EACH, OP_ENDEACH, OP_CALL };

typedef struct op {
    uint8_t kind;
    uint8_t esc;
    uint8_t neg; /* unless */
    uint16_t sym;
    uint32_t a, b; /* TEXT: offset, length; IF: else/endif index, endif index;
                    * EACH: endeach index; CALL: template index, name offset */
} op;

struct mq_quiz_tmpl {
    char *name;
    char *text; /* literal pool (and partial names) */
    size_t textlen, textcap;
    op *ops;
    size_t nops, opcap;
};

struct mq_quiz_tmpl_set {
    char **syms;
    size_t nsyms;
    mq_quiz_tmpl **t;
    size_t n, cap;
    int linked;
};

mq_quiz_tmpl_set *mq_quiz_tmpl_set_new(const char *const *syms, size_t nsyms)
{
    mq_quiz_tmpl_set *s = calloc(1, sizeof *s);
    if (!s || !(s->syms = calloc(nsyms ? nsyms : 1, sizeof *s->syms))) {
        free(s);
        return NULL;
    }
    s->nsyms = nsyms;
    for (size_t i = 0; i < nsyms; i++) {
        if (!(s->syms[i] = strdup(syms[i]))) {
            mq_quiz_tmpl_set_free(s);
            return NULL;
        }
    }
    return s;
}

static void tmpl_free(mq_quiz_tmpl *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->text);
    free(t->ops);
    free(t);
}

void mq_quiz_tmpl_set_free(mq_quiz_tmpl_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nsyms; i++)
        free(s->syms[i]);
    free(s->syms);
    for (size_t i = 0; i < s->n; i++)
        tmpl_free(s->t[i]);
    free(s->t);
    free(s);
}

size_t mq_quiz_tmpl_nsyms(const mq_quiz_tmpl_set *s)
{
    return s->nsyms;
}

int mq_quiz_tmpl_sym(const mq_quiz_tmpl_set *s, const char *name)
{
    for (size_t i = 0; i < s->nsyms; i++)
        if (!strcmp(s->syms[i], name))
            return (int)i;
    return -1;
}

const mq_quiz_tmpl *mq_quiz_tmpl_get(const mq_quiz_tmpl_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->t[i]->name, name))
            return s->t[i];
    return NULL;
}

/* ---- parser ----------------------------------------------------------------------------- */

typedef struct parser {
    mq_quiz_tmpl_set *set;
    mq_quiz_tmpl *t;
    hctx ctx;
    int line;
    char *err;
    size_t errcap;
    int failed;
    /* open blocks */
    struct block {
        uint8_t kind; /* OP_IF or OP_EACH */
        uint32_t op;  /* index of the opening op */
        uint32_t else_op;
        int has_else;
        hctx at_open, then_end;
        int line;
    } stack[MAX_NEST];
    int depth;
    int at_line_start; /* nothing but a newline was emitted since the last line break */
    int standalone;    /* the last tag was a block or comment tag */
} parser;

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...)
{
    if (!p->failed && p->errcap) {
        int n = snprintf(p->err, p->errcap, "%s:%d: ", p->t->name, p->line);
        if (n >= 0 && (size_t)n < p->errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + n, p->errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    p->failed = 1;
    return -1;
}

static int grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *n = realloc(*ptr, c * elem);
    if (!n)
        return -1;
    *ptr = n;
    *cap = c;
    return 0;
}

static op *emit(parser *p, int kind)
{
    if (grow((void **)&p->t->ops, &p->t->opcap, p->t->nops + 1, sizeof(op)) != 0) {
        fail(p, "out of memory");
        return NULL;
    }
    op *o = &p->t->ops[p->t->nops++];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    return o;
}

static int pool_add(parser *p, const char *s, size_t n, uint32_t *off)
{
    if (grow((void **)&p->t->text, &p->t->textcap, p->t->textlen + n + 1, 1) != 0)
        return fail(p, "out of memory");
    *off = (uint32_t)p->t->textlen;
    memcpy(p->t->text + p->t->textlen, s, n);
    p->t->textlen += n;
    p->t->text[p->t->textlen] = '\0';
    return 0;
}

/* Literal text: advance the context, collapse newline-holding whitespace
 * runs in text and between attributes, and emit one OP_TEXT. */
static int literal(parser *p, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    /* A block or comment tag alone on its line leaves no blank line behind. */
    if (p->standalone && p->at_line_start && s[0] == '\n' && p->ctx.st == H_TEXT) {
        p->line++;
        s++;
        n--;
    }
    p->standalone = 0;
    if (n == 0)
        return 0;
    char *out = malloc(n);
    if (!out)
        return fail(p, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int collapsible = p->ctx.st == H_TEXT || p->ctx.st == H_IN_TAG;
        if (collapsible && is_space((unsigned char)s[i])) {
            size_t j = i;
            int nl = 0;
            while (j < n && is_space((unsigned char)s[j]))
                nl |= s[j++] == '\n';
            if (nl) {
                out[o++] = '\n';
            } else {
                memcpy(out + o, s + i, j - i);
                o += j - i;
            }
            for (size_t k = i; k < j; k++) {
                if (s[k] == '\n')
                    p->line++;
                step(&p->ctx, (unsigned char)s[k]);
            }
            i = j;
            continue;
        }
        if (s[i] == '\n')
            p->line++;
        step(&p->ctx, (unsigned char)s[i]);
        out[o++] = s[i++];
    }
    p->at_line_start = o > 0 ? out[o - 1] == '\n' : p->at_line_start;
    /* Join with a previous text op (a comment tag between them). */
    op *last = p->t->nops ? &p->t->ops[p->t->nops - 1] : NULL;
    uint32_t off;
    int rc = pool_add(p, out, o, &off);
    free(out);
    if (rc != 0)
        return -1;
    if (last && last->kind == OP_TEXT && last->a + last->b == off) {
        last->b += (uint32_t)o;
        return 0;
    }
    op *t = emit(p, OP_TEXT);
    if (!t)
        return -1;
    t->a = off;
    t->b = (uint32_t)o;
    return 0;
}

static const char *skip_ws(const char *s, const char *e)
{
    while (s < e && is_space((unsigned char)*s))
        s++;
    return s;
}

static const char *rtrim(const char *s, const char *e)
{
    while (e > s && is_space((unsigned char)e[-1]))
        e--;
    return e;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int lookup_sym(parser *p, const char *s, size_t n)
{
    char name[64];
    if (!valid_name(s, n))
        return fail(p, "bad name \"%.*s\"", (int)(n > 40 ? 40 : n), s);
    memcpy(name, s, n);
    name[n] = '\0';
    int sym = mq_quiz_tmpl_sym(p->set, name);
    if (sym < 0)
        return fail(p, "unknown name \"%s\"", name);
    return sym;
}

/* One {{...}} tag, body between the braces. */
static int tag(parser *p, const char *s, const char *e)
{
    s = skip_ws(s, e);
    e = rtrim(s, e);
    if (s == e)
        return fail(p, "empty tag");
    if (*s == '!')
        return 0;
    if (*s == '>') {
        if (p->ctx.st != H_TEXT)
            return fail(p, "a partial may only be included in HTML text");
        s = skip_ws(s + 1, e);
        if (!valid_name(s, (size_t)(e - s)))
            return fail(p, "bad partial name \"%.*s\"", (int)(e - s), s);
        uint32_t off;
        if (pool_add(p, s, (size_t)(e - s), &off) != 0)
            return -1;
        p->t->text[p->t->textlen++] = '\0'; /* name NUL-terminated in the pool */
        op *o = emit(p, OP_CALL);
        if (!o)
            return -1;
        o->b = off;
        return 0;
    }
    if (*s == '#') {
        s++;
        const char *kw = s;
        while (s < e && !is_space((unsigned char)*s))
            s++;
        size_t kwn = (size_t)(s - kw);
        s = skip_ws(s, e);
        int kind, neg = 0;
        if (kwn == 2 && !memcmp(kw, "if", 2))
            kind = OP_IF;
        else if (kwn == 6 && !memcmp(kw, "unless", 6))
            kind = OP_IF, neg = 1;
        else if (kwn == 4 && !memcmp(kw, "each", 4))
            kind = OP_EACH;
        else
            return fail(p, "unknown block \"#%.*s\"", (int)kwn, kw);
        int sym = lookup_sym(p, s, (size_t)(e - s));
        if (sym < 0)
            return -1;
        if (p->depth == MAX_NEST)
            return fail(p, "blocks nested deeper than %d", MAX_NEST);
        op *o = emit(p, kind);
        if (!o)
            return -1;
        o->sym = (uint16_t)sym;
        o->neg = (uint8_t)neg;
        struct block *b = &p->stack[p->depth++];
        memset(b, 0, sizeof *b);
        b->kind = (uint8_t)kind;
        b->op = (uint32_t)(p->t->nops - 1);
        b->at_open = p->ctx;
        b->line = p->line;
        return 0;
    }
    if (*s == '/') {
        s = skip_ws(s + 1, e);
        size_t kwn = (size_t)(e - s);
        if (p->depth == 0)
            return fail(p, "{{/%.*s}} without an open block", (int)kwn, s);
        struct block *b = &p->stack[p->depth - 1];
        int is_if = kwn == 2 && !memcmp(s, "if", 2);
        int is_unless = kwn == 6 && !memcmp(s, "unless", 6);
        int is_each = kwn == 4 && !memcmp(s, "each", 4);
        op *open = &p->t->ops[b->op];
        if ((b->kind == OP_IF && !((is_if && !open->neg) || (is_unless && open->neg))) ||
            (b->kind == OP_EACH && !is_each))
            return fail(p, "{{/%.*s}} closes the block opened on line %d", (int)kwn, s, b->line);
        if (b->kind == OP_IF) {
            hctx ends = b->has_else ? b->then_end : b->at_open;
            if (ctx_merge(&ends, &p->ctx) != 0)
                return fail(p,
                            "the branches of the block opened on line %d end in different "
                            "HTML contexts",
                            b->line);
            p->ctx = ends;
            op *c = emit(p, OP_ENDIF);
            if (!c)
                return -1;
            open = &p->t->ops[b->op];
            open->a = b->has_else ? b->else_op : (uint32_t)(p->t->nops - 1);
            open->b = (uint32_t)(p->t->nops - 1);
        } else {
            hctx start = b->at_open;
            if (ctx_merge(&start, &p->ctx) != 0)
                return fail(p,
                            "the each block opened on line %d ends in another HTML context "
                            "than it starts in",
                            b->line);
            p->ctx = start;
            if (!emit(p, OP_ENDEACH))
                return -1;
            p->t->ops[b->op].a = (uint32_t)(p->t->nops - 1);
        }
        p->depth--;
        return 0;
    }
    if ((size_t)(e - s) == 4 && !memcmp(s, "else", 4)) {
        if (p->depth == 0 || p->stack[p->depth - 1].kind != OP_IF ||
            p->stack[p->depth - 1].has_else)
            return fail(p, "{{else}} outside an if/unless block");
        struct block *b = &p->stack[p->depth - 1];
        b->has_else = 1;
        b->then_end = p->ctx;
        p->ctx = b->at_open;
        if (!emit(p, OP_ELSE))
            return -1;
        b->else_op = (uint32_t)(p->t->nops - 1);
        return 0;
    }
    /* A value, maybe with |url. */
    const char *bar = memchr(s, '|', (size_t)(e - s));
    int force_url = 0;
    const char *ne = bar ? rtrim(s, bar) : e;
    if (bar) {
        const char *f = skip_ws(bar + 1, e);
        if ((size_t)(e - f) != 3 || memcmp(f, "url", 3) != 0)
            return fail(p, "unknown filter \"%.*s\"", (int)(e - f), f);
        force_url = 1;
    }
    int sym = lookup_sym(p, s, (size_t)(ne - s));
    if (sym < 0)
        return -1;
    const char *why = "";
    int esc = esc_for(&p->ctx, force_url, &why);
    if (esc < 0)
        return fail(p, "{{%.*s}}: %s", (int)(ne - s), s, why);
    op *o = emit(p, OP_VAR);
    if (!o)
        return -1;
    o->sym = (uint16_t)sym;
    o->esc = (uint8_t)esc;
    if (p->ctx.st == H_VALUE_DQ || p->ctx.st == H_VALUE_SQ)
        p->ctx.has_content = 1;
    return 0;
}

int mq_quiz_tmpl_add(mq_quiz_tmpl_set *set, const char *name, const char *text, size_t len,
                     char *err, size_t errcap)
{
    if (errcap)
        err[0] = '\0';
    if (set->linked || mq_quiz_tmpl_get(set, name)) {
        snprintf(err, errcap, "%s: %s", name, set->linked ? "set already linked" : "defined twice");
        return -1;
    }
    mq_quiz_tmpl *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name)) ||
        grow((void **)&set->t, &set->cap, set->n + 1, sizeof *set->t) != 0) {
        tmpl_free(t);
        snprintf(err, errcap, "%s: out of memory", name);
        return -1;
    }
    parser p = {.set = set, .t = t, .line = 1, .err = err, .errcap = errcap, .at_line_start = 1};
    p.ctx.st = H_TEXT;
    const char *s = text, *end = text + len;
    while (s < end && !p.failed) {
        const char *open = NULL;
        for (const char *q = s; q + 1 < end; q++)
            if (q[0] == '{' && q[1] == '{') {
                open = q;
                break;
            }
        if (!open) {
            literal(&p, s, (size_t)(end - s));
            break;
        }
        if (literal(&p, s, (size_t)(open - s)) != 0)
            break;
        const char *close = NULL;
        for (const char *q = open + 2; q + 1 < end; q++)
            if (q[0] == '}' && q[1] == '}') {
                close = q;
                break;
            }
        if (!close) {
            fail(&p, "unclosed {{");
            break;
        }
        for (const char *q = open; q < close; q++)
            if (*q == '\n')
                p.line++;
        const char *k = open + 2;
        while (k < close && is_space((unsigned char)*k))
            k++;
        if (tag(&p, open + 2, close) != 0)
            break;
        if (k < close && (*k == '#' || *k == '/' || *k == '!' || !strncmp(k, "else", 4))) {
            p.standalone = 1;
        } else {
            p.standalone = 0;
            p.at_line_start = 0;
        }
        s = close + 2;
    }
    if (!p.failed && p.depth > 0)
        fail(&p, "block opened on line %d is not closed", p.stack[p.depth - 1].line);
    if (!p.failed && p.ctx.st != H_TEXT)
        fail(&p, "the template ends inside a tag, attribute, comment or raw text element");
    if (p.failed) {
        tmpl_free(t);
        return -1;
    }
    set->t[set->n++] = t;
    return 0;
}

/* Depth-first: every partial exists and none calls itself, even through others. */
static int link_one(mq_quiz_tmpl_set *set, size_t idx, uint8_t *mark, char *err, size_t errcap)
{
    if (mark[idx] == 2)
        return 0;
    if (mark[idx] == 1) {
        snprintf(err, errcap, "%s: partials include each other in a cycle", set->t[idx]->name);
        return -1;
    }
    mark[idx] = 1;
    mq_quiz_tmpl *t = set->t[idx];
    for (size_t i = 0; i < t->nops; i++) {
        op *o = &t->ops[i];
        if (o->kind != OP_CALL)
            continue;
        const char *name = t->text + o->b;
        size_t k = 0;
        while (k < set->n && strcmp(set->t[k]->name, name) != 0)
            k++;
        if (k == set->n) {
            snprintf(err, errcap, "%s: unknown partial \"%s\"", t->name, name);
            return -1;
        }
        o->a = (uint32_t)k;
        if (link_one(set, k, mark, err, errcap) != 0)
            return -1;
    }
    mark[idx] = 2;
    return 0;
}

int mq_quiz_tmpl_link(mq_quiz_tmpl_set *set, char *err, size_t errcap)
{
    uint8_t *mark = calloc(set->n + 1, 1);
    if (!mark) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < set->n && rc == 0; i++)
        rc = link_one(set, i, mark, err, errcap);
    free(mark);
    if (rc == 0)
        set->linked = 1;
    return rc;
}

/* ---- renderer -------------------------------------------------------------------------- */

typedef struct render {
    const mq_quiz_tmpl_set *set;
    const mq_quiz_tval *frames[MAX_DEPTH];
    int nframes;
    int depth;
    mq_quiz_buf *out;
    size_t base; /* out->len when rendering started */
    size_t *holes, maxholes, nholes;
    int too_many;
} render;

static const mq_quiz_tval *lookup(const render *r, unsigned sym)
{
    for (int i = r->nframes - 1; i >= 0; i--)
        if (r->frames[i][sym].type != MQ_TV_NONE)
            return &r->frames[i][sym];
    return NULL;
}

static int truthy(const mq_quiz_tval *v)
{
    return v && v->type != MQ_TV_NONE && v->len > 0;
}

static void put_value(render *r, const mq_quiz_tval *v, int esc)
{
    if (v && v->type == MQ_TV_HOLE) {
        if (!r->holes || r->nholes == r->maxholes) {
            r->too_many = 1;
            return;
        }
        r->holes[r->nholes++] = r->out->len - r->base;
        for (size_t i = 0; i < v->len; i++)
            mq_quiz_buf_addc(r->out, '0');
        return;
    }
    if (!v || (v->type != MQ_TV_STR && v->type != MQ_TV_HTML) || !v->len)
        return;
    const char *s = v->ptr;
    if (v->type == MQ_TV_HTML && esc == E_HTML) {
        mq_quiz_buf_add(r->out, s, v->len);
        return;
    }
    switch (esc) {
    case E_HTML: mq_quiz_esc_html(r->out, s, v->len); break;
    case E_ATTR: mq_quiz_esc_attr(r->out, s, v->len); break;
    case E_URL: mq_quiz_esc_url(r->out, s, v->len); break;
    case E_URL_PART: mq_quiz_esc_url_part(r->out, s, v->len); break;
    case E_JS_STR: mq_quiz_esc_js_str(r->out, s, v->len); break;
    default: break;
    }
}

static void run(render *r, const mq_quiz_tmpl *t, size_t from, size_t to)
{
    if (r->depth >= MAX_DEPTH)
        return;
    r->depth++;
    for (size_t i = from; i < to && !r->out->oom;) {
        const op *o = &t->ops[i];
        switch (o->kind) {
        case OP_TEXT:
            mq_quiz_buf_add(r->out, t->text + o->a, o->b);
            i++;
            break;
        case OP_VAR:
            put_value(r, lookup(r, o->sym), o->esc);
            i++;
            break;
        case OP_IF: {
            int yes = truthy(lookup(r, o->sym)) != o->neg;
            if (yes)
                run(r, t, i + 1, o->a);
            else if (o->a != o->b)
                run(r, t, o->a + 1, o->b);
            i = o->b + 1;
            break;
        }
        case OP_EACH: {
            const mq_quiz_tval *v = lookup(r, o->sym);
            if (v && v->type == MQ_TV_LIST && r->nframes < MAX_DEPTH) {
                const mq_quiz_tval *items = v->ptr;
                for (size_t k = 0; k < v->len; k++) {
                    r->frames[r->nframes++] = items + k * r->set->nsyms;
                    run(r, t, i + 1, o->a);
                    r->nframes--;
                }
            }
            i = o->a + 1;
            break;
        }
        case OP_CALL: {
            const mq_quiz_tmpl *pt = r->set->t[o->a];
            run(r, pt, 0, pt->nops);
            i++;
            break;
        }
        default: /* ELSE/ENDIF/ENDEACH are only jump targets */ i++; break;
        }
    }
    r->depth--;
}

int mq_quiz_tmpl_render_holes(const mq_quiz_tmpl_set *set, const mq_quiz_tmpl *t,
                              const mq_quiz_tval *vals, mq_quiz_buf *out, size_t *holes, size_t max,
                              size_t *nholes)
{
    render r = {.set = set, .out = out, .base = out->len, .holes = holes, .maxholes = max};
    r.frames[r.nframes++] = vals;
    run(&r, t, 0, t->nops);
    if (nholes)
        *nholes = r.nholes;
    return out->oom || r.too_many ? -1 : 0;
}

int mq_quiz_tmpl_render(const mq_quiz_tmpl_set *set, const mq_quiz_tmpl *t,
                        const mq_quiz_tval *vals, mq_quiz_buf *out)
{
    return mq_quiz_tmpl_render_holes(set, t, vals, out, NULL, 0, NULL);
}
