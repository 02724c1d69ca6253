/*
 * pages.c -- loading the site and rendering its pages (see pages.h).
 */
#include "pages.h"
#include "web.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SITE_NAME "마인드퀴즈"
#define SITE_TITLE "마인드퀴즈 · 3분 심리 테스트"
#define SITE_DESCRIPTION                                                                                                           \
    "가볍게 답하다 보면 몰랐던 내 모습이 보여요. 여행 스타일부터 회사에서의 나까지, 3분 심리 " \
    "테스트로 알아보세요."

static const char *const sym_names[] = {
#define MQ_QUIZ_SYM_NAME(e, n) n,
    MQ_QUIZ_SYMBOLS(MQ_QUIZ_SYM_NAME)
#undef MQ_QUIZ_SYM_NAME
};

static int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static void warnf(char *warn, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warnf(char *warn, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(warn);
    if (used + 2 >= cap)
        return;
    if (used)
        warn[used++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(warn + used, cap - used, fmt, ap);
    va_end(ap);
}

static mq_quiz_tval S(const char *s)
{
    return mq_quiz_tv_str(s, s ? strlen(s) : 0);
}

/* ---- templates -------------------------------------------------------------------- */

static int load_templates(mq_quiz_site *s, const char *dir, char *err, size_t cap)
{
    s->tmpl = mq_quiz_tmpl_set_new(sym_names, S_COUNT);
    if (!s->tmpl)
        return errf(err, cap, "out of memory");
    DIR *d = opendir(dir);
    if (!d)
        return errf(err, cap, "open \"%s\" failed: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (e->d_name[0] == '.' || nl < 6 || nl > 64 || strcmp(e->d_name + nl - 5, ".html") != 0)
            continue;
        char path[4096], name[64], why[512];
        int pn = snprintf(path, sizeof path, "%s/%.64s", dir, e->d_name);
        if (pn < 0 || (size_t)pn >= sizeof path) {
            rc = errf(err, cap, "template dir \"%s\": path too long", dir);
            break;
        }
        snprintf(name, sizeof name, "%.*s", (int)(nl - 5), e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) {
            rc = errf(err, cap, "open \"%s\" failed: %s", path, strerror(errno));
            break;
        }
        mq_quiz_buf b;
        mq_quiz_buf_init(&b);
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
            mq_quiz_buf_add(&b, chunk, n);
        int bad = ferror(f) || b.len >= (1u << 20) || b.oom;
        fclose(f);
        if (bad)
            rc = errf(err, cap, "read \"%s\" failed: %s", path,
                      b.oom ? "out of memory" : "read error or larger than 1 MiB");
        else if (mq_quiz_tmpl_add(s->tmpl, name, b.data ? b.data : "", b.len, why, sizeof why) != 0)
            rc = errf(err, cap, "template %s", why);
        mq_quiz_buf_cleanup(&b);
    }
    closedir(d);
    if (rc != 0)
        return rc;
    char why[512];
    if (mq_quiz_tmpl_link(s->tmpl, why, sizeof why) != 0)
        return errf(err, cap, "template %s", why);
    static const char *const needed[] = {"index",       "quiz",         "result",
                                         "error",       "frag_cards",   "frag_questions",
                                         "frag_result", "frag_premium", "frag_teaser"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!mq_quiz_tmpl_get(s->tmpl, needed[i]))
            return errf(err, cap, "template \"%s/%s.html\" is missing", dir, needed[i]);
    s->t_index = mq_quiz_tmpl_get(s->tmpl, "index");
    s->t_quiz = mq_quiz_tmpl_get(s->tmpl, "quiz");
    s->t_result = mq_quiz_tmpl_get(s->tmpl, "result");
    s->t_error = mq_quiz_tmpl_get(s->tmpl, "error");
    return 0;
}

/* ---- fragments rendered at load ------------------------------------------------------ */

static mq_quiz_tval *frames_new(size_t n)
{
    return calloc(n ? n : 1, S_COUNT * sizeof(mq_quiz_tval));
}

/* Render template `name` with vals into a new string. */
static char *render_frag(const mq_quiz_site *s, const char *name, const mq_quiz_tval *vals,
                         size_t *len)
{
    mq_quiz_buf b;
    mq_quiz_buf_init(&b);
    mq_quiz_tmpl_render(s->tmpl, mq_quiz_tmpl_get(s->tmpl, name), vals, &b);
    return mq_quiz_buf_take(&b, len);
}

typedef char numtext[24];

static int render_cards(mq_quiz_site *s)
{
    size_t n = s->cat.n;
    mq_quiz_tval *items = frames_new(n), top[S_COUNT] = {{0}};
    numtext *minutes = calloc(n ? n : 1, sizeof *minutes);
    int rc = -1;
    if (items && minutes) {
        size_t listed = 0;
        for (size_t i = 0; i < n; i++) {
            const mq_quiz_def *q = &s->cat.quizzes[i];
            if (q->hidden)
                continue;
            mq_quiz_tval *v = items + listed++ * S_COUNT;
            snprintf(minutes[i], sizeof minutes[i], "%d", q->minutes);
            v[S_THEME] = S(q->theme);
            v[S_QUIZ_URL] = S(s->pages[i].url);
            v[S_TITLE] = S(q->title);
            v[S_DESCRIPTION] = S(q->description);
            v[S_QUESTION_COUNT] = S(s->pages[i].count);
            v[S_MINUTES] = S(minutes[i]);
        }
        top[S_QUIZZES] = mq_quiz_tv_list(items, listed);
        s->cards = render_frag(s, "frag_cards", top, &s->cards_len);
        rc = s->cards ? 0 : -1;
    }
    free(items);
    free(minutes);
    return rc;
}

static int render_questions(mq_quiz_site *s, size_t qi)
{
    const mq_quiz_def *q = &s->cat.quizzes[qi];
    size_t nopts = 0;
    for (size_t i = 0; i < q->nquestions; i++)
        nopts += q->questions[i].noptions;
    mq_quiz_tval *qs = frames_new(q->nquestions), *os = frames_new(nopts), top[S_COUNT] = {{0}};
    numtext *text = calloc(3 * q->nquestions + nopts + 1, sizeof *text);
    int rc = -1;
    if (qs && os && text) {
        size_t t = 0, o = 0;
        for (size_t i = 0; i < q->nquestions; i++) {
            const mq_quiz_question *qq = &q->questions[i];
            mq_quiz_tval *v = qs + i * S_COUNT;
            snprintf(text[t], sizeof text[t], "%zu", i);
            v[S_INDEX] = S(text[t++]);
            snprintf(text[t], sizeof text[t], "%zu", i + 1);
            v[S_NUM] = S(text[t++]);
            snprintf(text[t], sizeof text[t], "q%zu", i);
            v[S_FIELD] = S(text[t++]);
            v[S_TEXT] = S(qq->text);
            mq_quiz_tval *first = os + o * S_COUNT;
            for (size_t k = 0; k < qq->noptions; k++, o++) {
                mq_quiz_tval *ov = os + o * S_COUNT;
                snprintf(text[t], sizeof text[t], "%zu", k);
                ov[S_VALUE] = S(text[t++]);
                ov[S_LABEL] = S(qq->options[k].text);
            }
            v[S_OPTIONS] = mq_quiz_tv_list(first, qq->noptions);
        }
        top[S_QUESTIONS] = mq_quiz_tv_list(qs, q->nquestions);
        s->pages[qi].questions = render_frag(s, "frag_questions", top, &s->pages[qi].questions_len);
        rc = s->pages[qi].questions ? 0 : -1;
    }
    free(qs);
    free(os);
    free(text);
    return rc;
}

static int render_result(mq_quiz_site *s, size_t qi, size_t ri)
{
    const mq_quiz_def *q = &s->cat.quizzes[qi];
    const mq_quiz_result *r = &q->results[ri];
    mq_quiz_result_page *rp = &s->pages[qi].results[ri];
    size_t nl = r->nparagraphs + r->ntraits + r->npremium;
    mq_quiz_tval *items = frames_new(nl), top[S_COUNT] = {{0}};
    if (!items)
        return -1;
    mq_quiz_tval *paras = items, *traits = items + r->nparagraphs * S_COUNT,
                 *secs = traits + r->ntraits * S_COUNT;
    for (size_t i = 0; i < r->nparagraphs; i++)
        paras[i * S_COUNT + S_TEXT] = S(r->paragraphs[i]);
    for (size_t i = 0; i < r->ntraits; i++)
        traits[i * S_COUNT + S_TEXT] = S(r->traits[i]);
    for (size_t i = 0; i < r->npremium; i++) {
        secs[i * S_COUNT + S_HEADING] = S(r->premium[i].heading);
        secs[i * S_COUNT + S_BODY] = S(r->premium[i].body);
    }
    top[S_PARAGRAPHS] = mq_quiz_tv_list(paras, r->nparagraphs);
    top[S_TRAITS] = mq_quiz_tv_list(traits, r->ntraits);
    top[S_SECTIONS] = mq_quiz_tv_list(secs, r->npremium);
    if (r->match >= 0)
        top[S_MATCH_NAME] = S(q->results[r->match].name);
    rp->body = render_frag(s, "frag_result", top, &rp->body_len);
    rp->premium = render_frag(s, "frag_premium", top, &rp->premium_len);
    rp->teaser = render_frag(s, "frag_teaser", top, &rp->teaser_len);
    free(items);
    size_t tl = strlen(q->title) + strlen(r->name) + 32;
    rp->og_title = malloc(tl);
    rp->og_alt = malloc(tl);
    if (!rp->body || !rp->premium || !rp->teaser || !rp->og_title || !rp->og_alt)
        return -1;
    snprintf(rp->og_title, tl, "%s 결과: %s", q->title, r->name);
    snprintf(rp->og_alt, tl, "%s 결과 카드: %s", q->title, r->name);
    return 0;
}

/* The URL of the first of these static files that exists, else NULL. */
static const char *first_static(const mq_quiz_site *s, const char *a, const char *b, const char *c)
{
    const char *u = mq_quiz_statics_url(&s->statics, a);
    if (!u && b)
        u = mq_quiz_statics_url(&s->statics, b);
    if (!u && c)
        u = mq_quiz_statics_url(&s->statics, c);
    return u;
}

/* ---- loading ------------------------------------------------------------------------------- */

int mq_quiz_site_load(mq_quiz_site *s, const char *assets, const mq_quiz_site_cfg *cfg, char *err,
                      size_t cap, char *warn, size_t wcap)
{
    memset(s, 0, sizeof *s);
    if (wcap)
        warn[0] = '\0';
    if (!cfg->base_url || strlen(cfg->base_url) >= sizeof s->base_url)
        return errf(err, cap, "no usable base URL");
    snprintf(s->base_url, sizeof s->base_url, "%s", cfg->base_url);
    if (cfg->ga4_id)
        snprintf(s->ga4_id, sizeof s->ga4_id, "%s", cfg->ga4_id);
    if (cfg->price >= 0)
        mq_quiz_price_text(cfg->price, s->price_text, sizeof s->price_text);

    char path[4096], why[768];
    snprintf(path, sizeof path, "%s/quizzes", assets);
    if (mq_quiz_catalog_load(&s->cat, path, why, sizeof why) != 0)
        return errf(err, cap, "quizzes: %s", why);
    snprintf(path, sizeof path, "%s/static", assets);
    if (mq_quiz_statics_load(&s->statics, path, why, sizeof why) != 0)
        return errf(err, cap, "static files: %s", why);
    snprintf(path, sizeof path, "%s/templates", assets);
    if (load_templates(s, path, err, cap) != 0)
        return -1;

    s->css_url = mq_quiz_statics_url(&s->statics, "app.css");
    s->js_url = mq_quiz_statics_url(&s->statics, "app.js");
    s->icon_url = mq_quiz_statics_url(&s->statics, "icon.png");
    s->default_og_path = mq_quiz_statics_url(&s->statics, "og/default.png");
    if (!s->css_url || !s->js_url)
        return errf(err, cap, "static files: app.css and app.js are required");
    if (!s->icon_url)
        warnf(warn, wcap, "static file \"icon.png\" is missing: pages link to no icon");
    if (!s->default_og_path)
        warnf(warn, wcap, "static file \"og/default.png\" is missing: some pages have no OG image");

    s->pages = calloc(s->cat.n, sizeof *s->pages);
    if (!s->pages)
        return errf(err, cap, "out of memory");
    for (size_t i = 0; i < s->cat.n; i++) {
        const mq_quiz_def *q = &s->cat.quizzes[i];
        mq_quiz_quiz_page *p = &s->pages[i];
        snprintf(p->url, sizeof p->url, "/app/quiz/%s", q->slug);
        snprintf(p->count, sizeof p->count, "%zu", q->nquestions);
        char a[128];
        snprintf(a, sizeof a, "og/%s.png", q->slug);
        p->og_path = first_static(s, a, "og/default.png", NULL);
        p->results = calloc(q->nresults, sizeof *p->results);
        if (!p->results)
            return errf(err, cap, "out of memory");
        if (render_questions(s, i) != 0)
            return errf(err, cap, "out of memory");
        for (size_t r = 0; r < q->nresults; r++) {
            snprintf(a, sizeof a, "og/%s-%s.png", q->slug, q->results[r].type);
            p->results[r].og_path = first_static(s, a, NULL, NULL);
            if (!p->results[r].og_path) {
                warnf(warn, wcap, "static file \"%s\" is missing: result \"%s/%s\" uses %s", a,
                      q->slug, q->results[r].type, p->og_path ? p->og_path : "no OG image");
                p->results[r].og_path = p->og_path;
            }
            if (render_result(s, i, r) != 0)
                return errf(err, cap, "out of memory");
        }
    }
    if (render_cards(s) != 0)
        return errf(err, cap, "out of memory");
    return 0;
}

void mq_quiz_site_cleanup(mq_quiz_site *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->pages && i < s->cat.n; i++) {
        mq_quiz_quiz_page *p = &s->pages[i];
        free(p->questions);
        for (size_t r = 0; p->results && r < s->cat.quizzes[i].nresults; r++) {
            free(p->results[r].body);
            free(p->results[r].premium);
            free(p->results[r].teaser);
            free(p->results[r].og_title);
            free(p->results[r].og_alt);
        }
        free(p->results);
    }
    free(s->pages);
    free(s->cards);
    mq_quiz_tmpl_set_free(s->tmpl);
    mq_quiz_statics_cleanup(&s->statics);
    mq_quiz_catalog_cleanup(&s->cat);
    memset(s, 0, sizeof *s);
}

/* ---- per-request pages ---------------------------------------------------------------- */

static int finish(const mq_quiz_site *s, const mq_quiz_tmpl *t, const mq_quiz_tval *v,
                  mq_quiz_holes *holes, mq_quiz_buf *out)
{
    if (!holes)
        return mq_quiz_tmpl_render(s->tmpl, t, v, out);
    return mq_quiz_tmpl_render_holes(s->tmpl, t, v, out, holes->off, MQ_QUIZ_PAGE_MAX_HOLES,
                                     &holes->n);
}

static void common(mq_quiz_tval *v, const mq_quiz_site *s, const char *nonce,
                   const mq_quiz_holes *holes)
{
    v[S_NONCE] = holes ? mq_quiz_tv_hole(MQ_QUIZ_NONCE_LEN) : S(nonce);
    v[S_CSS_URL] = S(s->css_url);
    v[S_JS_URL] = S(s->js_url);
    if (s->icon_url)
        v[S_ICON_URL] = S(s->icon_url);
    if (s->ga4_id[0])
        v[S_GA4_ID] = S(s->ga4_id);
    v[S_OG_TYPE] = S("website");
}

int mq_quiz_render_index(const mq_quiz_site *s, const char *nonce, mq_quiz_holes *holes,
                         mq_quiz_buf *out)
{
    mq_quiz_tval v[S_COUNT] = {{0}};
    char canonical[300], og[600];
    common(v, s, nonce, holes);
    snprintf(canonical, sizeof canonical, "%s/", s->base_url);
    snprintf(og, sizeof og, "%s%s", s->base_url, s->default_og_path ? s->default_og_path : "");
    v[S_PAGE_TITLE] = S(SITE_TITLE);
    v[S_OG_TITLE] = S(SITE_TITLE);
    v[S_PAGE_DESCRIPTION] = S(SITE_DESCRIPTION);
    v[S_CANONICAL_URL] = S(canonical);
    if (s->default_og_path)
        v[S_OG_IMAGE] = S(og);
    v[S_OG_IMAGE_ALT] = S(SITE_NAME " 심리 테스트");
    v[S_BODY_CLASS] = S("page-index");
    v[S_QUIZ_CARDS] = mq_quiz_tv_html(s->cards, s->cards_len);
    return finish(s, s->t_index, v, holes, out);
}

int mq_quiz_render_quiz(const mq_quiz_site *s, size_t qi, const char *nonce, mq_quiz_holes *holes,
                        const char *error_message, mq_quiz_buf *out)
{
    const mq_quiz_def *q = &s->cat.quizzes[qi];
    const mq_quiz_quiz_page *p = &s->pages[qi];
    mq_quiz_tval v[S_COUNT] = {{0}};
    char canonical[400], og[600], title[512];
    common(v, s, nonce, holes);
    snprintf(canonical, sizeof canonical, "%s%s", s->base_url, p->url);
    snprintf(og, sizeof og, "%s%s", s->base_url, p->og_path ? p->og_path : "");
    snprintf(title, sizeof title, "%s | " SITE_NAME, q->title);
    v[S_PAGE_TITLE] = S(title);
    v[S_OG_TITLE] = S(q->title);
    v[S_PAGE_DESCRIPTION] = S(q->description);
    v[S_CANONICAL_URL] = S(canonical);
    if (p->og_path)
        v[S_OG_IMAGE] = S(og);
    v[S_OG_IMAGE_ALT] = S(q->title);
    v[S_BODY_CLASS] = S("page-quiz");
    v[S_THEME] = S(q->theme);
    v[S_SLUG] = S(q->slug);
    v[S_QUIZ_TITLE] = S(q->title);
    v[S_QUIZ_DESCRIPTION] = S(q->description);
    v[S_QUESTION_COUNT] = S(p->count);
    v[S_QUESTIONS_HTML] = mq_quiz_tv_html(p->questions, p->questions_len);
    if (error_message)
        v[S_ERROR_MESSAGE] = S(error_message);
    return finish(s, s->t_quiz, v, holes, out);
}

int mq_quiz_payment_banner(const char *paid, const char *payment, int unlocked, const char **kind,
                           const char **text)
{
    *kind = NULL;
    *text = NULL;
    if (paid && !strcmp(paid, "1")) {
        if (unlocked) {
            *kind = "success";
            *text = "결제가 완료됐어요. 아래에서 프리미엄 리포트를 확인해 보세요!";
            return 1;
        }
        *kind = "info";
        *text = "결제를 확인하고 있어요. 잠시 뒤 새로고침하면 리포트가 열려요.";
        return 2;
    }
    if (payment && !strcmp(payment, "failed")) {
        *kind = "error";
        *text = "결제가 완료되지 않았어요. 다시 시도하거나 다른 결제 수단을 이용해 주세요.";
        return 3;
    }
    if (payment && !strcmp(payment, "canceled")) {
        *kind = "info";
        *text = "결제를 취소했어요. 원하실 때 언제든 다시 결제할 수 있어요.";
        return 4;
    }
    if (payment && !strcmp(payment, "pending")) {
        *kind = "info";
        *text = "결제를 확인하고 있어요. 잠시 뒤 새로고침하면 리포트가 열려요.";
        return 5;
    }
    return 0;
}

int mq_quiz_render_result(const mq_quiz_site *s, const mq_quiz_result_view *rv, const char *nonce,
                          mq_quiz_holes *holes, mq_quiz_buf *out)
{
    const mq_quiz_def *q = &s->cat.quizzes[rv->quiz];
    const mq_quiz_quiz_page *p = &s->pages[rv->quiz];
    const mq_quiz_result *r = &q->results[rv->result];
    const mq_quiz_result_page *rp = &p->results[rv->result];
    mq_quiz_tval v[S_COUNT] = {{0}};
    char canonical[400], share[480], og[600], title[600];
    common(v, s, nonce, holes);
    snprintf(canonical, sizeof canonical, "%s/app/result/%s", s->base_url, rv->id);
    /* The share link carries the sharer's referral code (plugins/referral). */
    if (rv->ref_code && *rv->ref_code)
        snprintf(share, sizeof share, "%s?ref=%.24s", canonical, rv->ref_code);
    else
        snprintf(share, sizeof share, "%s", canonical);
    snprintf(og, sizeof og, "%s%s", s->base_url, rp->og_path ? rp->og_path : "");
    snprintf(title, sizeof title, "%s | " SITE_NAME, rp->og_title);
    v[S_PAGE_TITLE] = S(title);
    v[S_OG_TITLE] = S(rp->og_title);
    v[S_OG_TYPE] = S("article");
    v[S_PAGE_DESCRIPTION] = S(r->summary);
    v[S_CANONICAL_URL] = S(canonical);
    if (rp->og_path) {
        v[S_OG_IMAGE] = S(og);
        v[S_OG_IMAGE_PATH] = S(rp->og_path);
    }
    v[S_OG_IMAGE_ALT] = S(rp->og_alt);
    v[S_BODY_CLASS] = S("page-result");
    v[S_THEME] = S(q->theme);
    v[S_QUIZ_TITLE] = S(q->title);
    v[S_QUIZ_URL] = S(p->url);
    v[S_RESULT_ID] = S(rv->id);
    v[S_RESULT_NAME] = S(r->name);
    v[S_RESULT_SUMMARY] = S(r->summary);
    v[S_RESULT_BODY] = mq_quiz_tv_html(rp->body, rp->body_len);
    v[S_SHARE_URL] = S(share);
    v[S_PREMIUM_UNLOCKED] = mq_quiz_tv_bool(rv->unlocked);
    v[S_PREMIUM_STATE] = S(rv->unlocked ? "unlocked" : rv->pay_available ? "locked" : "paused");
    v[S_PREMIUM_BODY] = mq_quiz_tv_html(rp->premium, rp->premium_len);
    v[S_PREMIUM_TEASER] = mq_quiz_tv_html(rp->teaser, rp->teaser_len);
    v[S_PAY_AVAILABLE] = mq_quiz_tv_bool(rv->pay_available);
    v[S_PAY_AGAIN] = mq_quiz_tv_bool(rv->unlocked && rv->fixed && rv->pay_available);
    v[S_PRICE_TEXT] = S(s->price_text[0] ? s->price_text : "3,900원");
    const char *kind, *text;
    mq_quiz_payment_banner(rv->paid, rv->payment, rv->unlocked, &kind, &text);
    if (text) {
        v[S_BANNER_KIND] = S(kind);
        v[S_BANNER_TEXT] = S(text);
    }
    return finish(s, s->t_result, v, holes, out);
}

int mq_quiz_render_error(const mq_quiz_site *s, const char *path, const char *title,
                         const char *message, const char *nonce, mq_quiz_buf *out)
{
    mq_quiz_tval v[S_COUNT] = {{0}};
    char canonical[300], og[600], full[300];
    common(v, s, nonce, NULL);
    snprintf(canonical, sizeof canonical, "%s/", s->base_url);
    snprintf(og, sizeof og, "%s%s", s->base_url, s->default_og_path ? s->default_og_path : "");
    snprintf(full, sizeof full, "%s | " SITE_NAME, title);
    (void)path;
    v[S_PAGE_TITLE] = S(full);
    v[S_OG_TITLE] = S(title);
    v[S_PAGE_DESCRIPTION] = S(message);
    v[S_CANONICAL_URL] = S(canonical);
    if (s->default_og_path)
        v[S_OG_IMAGE] = S(og);
    v[S_OG_IMAGE_ALT] = S(SITE_NAME);
    v[S_BODY_CLASS] = S("page-error");
    v[S_ERROR_TITLE] = S(title);
    v[S_ERROR_MESSAGE] = S(message);
    return mq_quiz_tmpl_render(s->tmpl, s->t_error, v, out);
}
