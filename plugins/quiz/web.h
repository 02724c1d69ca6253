/*
 * web.h -- small HTTP-facing helpers of the quiz plugin: the security
 * policy, request bodies, config values. No host calls here, so all of it
 * is unit-tested directly.
 */
#ifndef MQ_QUIZ_WEB_H
#define MQ_QUIZ_WEB_H

#include <stddef.h>

#include "qbuf.h"

/* ---- Content-Security-Policy ------------------------------------------------- */

#define MQ_QUIZ_CSP_REPORT_PATH "/api/csp-report"
#define MQ_QUIZ_NONCE_BYTES 16 /* 32 hex digits */

/* The page policy for one response:
 *   default-src 'self'; script-src 'self' 'nonce-<nonce>' [GA4];
 *   style-src 'self'; img-src 'self' data: [GA4]; connect-src 'self' [GA4];
 *   font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';
 *   [frame-ancestors 'none';] report-uri /api/csp-report
 * With ga4, exactly the hosts Google documents for GA4 are added, each as
 * "https://" plus any subdomain of: googletagmanager.com (script-src);
 * google-analytics.com and googletagmanager.com (img-src); those two and
 * analytics.google.com (connect-src).
 * frame-ancestors is left out when with_frame_ancestors is 0: browsers
 * ignore it in a Report-Only policy (and say so in the console), so in that
 * mode it is sent in a separate, enforced header (MQ_QUIZ_CSP_FRAME_ONLY). */
void mq_quiz_csp_policy(mq_quiz_buf *b, int ga4, const char *nonce, int with_frame_ancestors);
#define MQ_QUIZ_CSP_FRAME_ONLY "frame-ancestors 'none'"

/* 1 for a GA4 measurement id: G- and 4 to 20 of [A-Z0-9]. */
int mq_quiz_ga4_id_valid(const char *s);

/* CSP_MODE: "enforce" -> 1, "report-only" or unset -> 0, anything else ->
 * 0 with *bad set. */
int mq_quiz_csp_mode(const char *v, int *bad);

/* ---- config values ------------------------------------------------------------- */

/* A switch like PAYMENTS_ENABLED, read the way the payments plugin reads
 * it: unset, 1, true, yes, on -> 1; 0, false, no, off -> 0; anything else
 * -> 0 (fail closed) with *bad set. */
int mq_quiz_switch(const char *v, int *bad);

/* A number in [lo, hi]; def when unset, and def with *bad set when bad. */
double mq_quiz_number(const char *v, double def, double lo, double hi, int *bad);

/* PUBLIC_BASE_URL: "http(s)://host[:port][/prefix]" without a trailing
 * slash, no spaces, quotes, angle brackets, query or fragment. Copies it
 * into out and returns 0, or -1 when unusable. */
int mq_quiz_base_url(const char *v, char *out, size_t cap);

/* 3900 -> "3,900원". */
void mq_quiz_price_text(long amount, char *out, size_t cap);

/* ---- requests ------------------------------------------------------------------ */

enum { MQ_QUIZ_ANS_OK = 0, MQ_QUIZ_ANS_INCOMPLETE = 1, MQ_QUIZ_ANS_BAD = -1 };

/* Answers from an application/x-www-form-urlencoded body: fields
 * q0..q<nq-1> holding option indexes. answers[i] is -1 when question i has
 * no answer. Unknown fields are ignored; a repeated or non-numeric q field
 * is BAD. Returns OK, INCOMPLETE or BAD. */
int mq_quiz_form_answers(const char *body, size_t len, int *answers, size_t nq);

/* Answers from a JSON body {"answers": [i0, i1, ...]}. Same results. */
int mq_quiz_json_answers(const char *body, size_t len, int *answers, size_t nq);

/* 1 when the client sent or asks for JSON (Content-Type or Accept). */
int mq_quiz_wants_json(const char *content_type, const char *accept);

/* 1 when the Content-Type is JSON (application/json or +json). */
int mq_quiz_is_json_type(const char *content_type);


/* The violated directive named by a CSP report body (report-uri's
 * application/csp-report or the Reporting API's application/reports+json),
 * copied into out ("" when none is found). Returns the number of reports
 * in the body (>= 1 when it parsed as a report), 0 when it is not one. */
int mq_quiz_csp_report_parse(const char *body, size_t len, char *directive, size_t dcap,
                             char *blocked, size_t bcap);

/* The premium report's price in KRW from the payments plugin's price list
 * (assets/catalog.json: products.premium_result.amount), or -1 when the
 * file or the entry is missing. Read-only: the file is payments' own. */
long mq_quiz_read_price(const char *catalog_path);
#endif /* MQ_QUIZ_WEB_H */
