/*
 * pages.h -- the site: quizzes, templates and static files of one release,
 * loaded at init, and the page renderers the handlers call.
 *
 * Everything that does not change per request is rendered once at load:
 * the landing page's quiz list, each quiz's questions, each result type's
 * description, premium report and teaser. A page render per request then
 * fills one small frame (nonce, URLs, state) and walks the page template.
 */
#ifndef MQ_QUIZ_PAGES_H
#define MQ_QUIZ_PAGES_H

#include <stddef.h>

#include "pagecache.h"
#include "qbuf.h"
#include "quizdef.h"
#include "statics.h"
#include "tmpl.h"

/* The names templates may use: X(enum, "name"). */
#define MQ_QUIZ_SYMBOLS(X)                                                                         \
    X(S_PAGE_TITLE, "page_title")                                                                  \
    X(S_PAGE_DESCRIPTION, "page_description")                                                      \
    X(S_CANONICAL_URL, "canonical_url")                                                            \
    X(S_OG_TYPE, "og_type")                                                                        \
    X(S_OG_TITLE, "og_title")                                                                      \
    X(S_OG_IMAGE, "og_image")                                                                      \
    X(S_OG_IMAGE_ALT, "og_image_alt")                                                              \
    X(S_OG_IMAGE_PATH, "og_image_path")                                                            \
    X(S_ICON_URL, "icon_url")                                                                      \
    X(S_CSS_URL, "css_url")                                                                        \
    X(S_JS_URL, "js_url")                                                                          \
    X(S_GA4_ID, "ga4_id")                                                                          \
    X(S_NONCE, "nonce")                                                                            \
    X(S_BODY_CLASS, "body_class")                                                                  \
    X(S_QUIZ_CARDS, "quiz_cards")                                                                  \
    X(S_THEME, "theme")                                                                            \
    X(S_QUESTION_COUNT, "question_count")                                                          \
    X(S_QUIZ_TITLE, "quiz_title")                                                                  \
    X(S_QUIZ_DESCRIPTION, "quiz_description")                                                      \
    X(S_QUIZ_URL, "quiz_url")                                                                      \
    X(S_ERROR_TITLE, "error_title")                                                                \
    X(S_ERROR_MESSAGE, "error_message")                                                            \
    X(S_SLUG, "slug")                                                                              \
    X(S_QUESTIONS_HTML, "questions_html")                                                          \
    X(S_BANNER_TEXT, "banner_text")                                                                \
    X(S_BANNER_KIND, "banner_kind")                                                                \
    X(S_RESULT_ID, "result_id")                                                                    \
    X(S_RESULT_NAME, "result_name")                                                                \
    X(S_RESULT_SUMMARY, "result_summary")                                                          \
    X(S_RESULT_BODY, "result_body")                                                                \
    X(S_SHARE_URL, "share_url")                                                                    \
    X(S_PREMIUM_STATE, "premium_state")                                                            \
    X(S_PREMIUM_UNLOCKED, "premium_unlocked")                                                      \
    X(S_PREMIUM_BODY, "premium_body")                                                              \
    X(S_PREMIUM_TEASER, "premium_teaser")                                                          \
    X(S_PAY_AVAILABLE, "pay_available")                                                            \
    X(S_PAY_AGAIN, "pay_again")                                                                    \
    X(S_PRICE_TEXT, "price_text")                                                                  \
    X(S_QUIZZES, "quizzes")                                                                        \
    X(S_TITLE, "title")                                                                            \
    X(S_DESCRIPTION, "description")                                                                \
    X(S_MINUTES, "minutes")                                                                        \
    X(S_QUESTIONS, "questions")                                                                    \
    X(S_INDEX, "index")                                                                            \
    X(S_NUM, "num")                                                                                \
    X(S_TEXT, "text")                                                                              \
    X(S_OPTIONS, "options")                                                                        \
    X(S_FIELD, "field")                                                                            \
    X(S_VALUE, "value")                                                                            \
    X(S_LABEL, "label")                                                                            \
    X(S_PARAGRAPHS, "paragraphs")                                                                  \
    X(S_TRAITS, "traits")                                                                          \
    X(S_MATCH_NAME, "match_name")                                                                  \
    X(S_SECTIONS, "sections")                                                                      \
    X(S_HEADING, "heading")                                                                        \
    X(S_BODY, "body")

#define MQ_QUIZ_SYM_ENUM(e, n) e,
enum mq_quiz_sym { MQ_QUIZ_SYMBOLS(MQ_QUIZ_SYM_ENUM) S_COUNT };
#undef MQ_QUIZ_SYM_ENUM

/* Per quiz, rendered at load. */
typedef struct mq_quiz_result_page {
    char *body, *premium, *teaser; /* HTML fragments */
    size_t body_len, premium_len, teaser_len;
    const char *og_path; /* "/static/og/...png" (hashed) */
    char *og_alt;
    char *og_title;
} mq_quiz_result_page;

typedef struct mq_quiz_quiz_page {
    char *questions; /* HTML fragment */
    size_t questions_len;
    const char *og_path;
    char url[64];  /* "/app/quiz/<slug>" */
    char count[8]; /* question count as text */
    mq_quiz_result_page *results;
} mq_quiz_quiz_page;

typedef struct mq_quiz_site_cfg {
    const char *base_url; /* normalized PUBLIC_BASE_URL (required) */
    const char *ga4_id;   /* a valid GA4 id, or NULL */
    long price;           /* premium price in KRW, or < 0 when unknown */
} mq_quiz_site_cfg;

typedef struct mq_quiz_site {
    mq_quiz_catalog cat;
    mq_quiz_statics statics;
    mq_quiz_tmpl_set *tmpl;
    const mq_quiz_tmpl *t_index, *t_quiz, *t_result, *t_error;
    char *cards; /* landing fragment */
    size_t cards_len;
    mq_quiz_quiz_page *pages; /* parallel to cat.quizzes */
    char base_url[256];
    char ga4_id[32];
    char price_text[32];
    const char *css_url, *js_url, *icon_url, *default_og_path;
} mq_quiz_site;

/* Load <assets>/quizzes, <assets>/templates and <assets>/static and render
 * the fragments. 0, or -1 with the reason in err (free with cleanup then
 * too). Problems that do not stop the site (a missing OG image, so the
 * default is used) are appended to warn, one per line. */
int mq_quiz_site_load(mq_quiz_site *site, const char *assets, const mq_quiz_site_cfg *cfg,
                      char *err, size_t errcap, char *warn, size_t warncap);
void mq_quiz_site_cleanup(mq_quiz_site *site);

/* ---- pages --------------------------------------------------------------------------
 * Each appends the whole HTML document to out; 0, or -1 on ENOMEM. The
 * nonce (32 hex digits) goes into every script tag and the GA4 snippet.
 * With holes non-NULL the nonce is left as a hole of MQ_QUIZ_NONCE_LEN
 * bytes instead, its offsets recorded in *holes: a page for the cache. */

#define MQ_QUIZ_NONCE_LEN 32

typedef struct mq_quiz_holes {
    size_t off[MQ_QUIZ_PAGE_MAX_HOLES];
    size_t n;
} mq_quiz_holes;

int mq_quiz_render_index(const mq_quiz_site *s, const char *nonce, mq_quiz_holes *holes,
                         mq_quiz_buf *out);

/* error_message: shown above the form (already chosen text), or NULL. */
int mq_quiz_render_quiz(const mq_quiz_site *s, size_t quiz, const char *nonce, mq_quiz_holes *holes,
                        const char *error_message, mq_quiz_buf *out);

typedef struct mq_quiz_result_view {
    const char *id;      /* public result id (validated) */
    size_t quiz;         /* index in the catalog */
    int result;          /* index in the quiz's results */
    int unlocked;        /* payments says the premium report is bought */
    int pay_available;   /* payments enabled and present */
    int fixed;           /* a fixed id (demo1): the runbook's test payments repeat on it,
                          * so the pay buttons stay under the unlocked report */
    const char *paid;    /* the ?paid= query value, or NULL */
    const char *payment; /* the ?payment= query value, or NULL */
    const char *ref_code; /* the referral plugin's code for this result, or NULL
                           * (no referral service: the share link has no ?ref=) */
} mq_quiz_result_view;

int mq_quiz_render_result(const mq_quiz_site *s, const mq_quiz_result_view *v, const char *nonce,
                          mq_quiz_holes *holes, mq_quiz_buf *out);

/* path: the page's own path (for the canonical URL). */
int mq_quiz_render_error(const mq_quiz_site *s, const char *path, const char *title,
                         const char *message, const char *nonce, mq_quiz_buf *out);

/* The notice shown above a result after a payment return: kind is
 * "success", "info" or "error"; NULL text when nothing is to be said.
 * Returns which notice it is (0 for none, 1..5), for cache keys. */
int mq_quiz_payment_banner(const char *paid, const char *payment, int unlocked, const char **kind,
                           const char **text);

#endif /* MQ_QUIZ_PAGES_H */
