/*
 * referral_service.h -- the "referral" service, version 1, published by
 * the referral plugin for the quiz plugin (result pages and share links).
 *
 *   void *ud;
 *   const mq_referral_service_v1 *ref =
 *       api->service_lookup(self, MQ_REFERRAL_SERVICE, MQ_REFERRAL_SERVICE_VERSION, &ud);
 *
 * What the quiz plugin calls, and when:
 *   POST /app/quiz/:slug (a result is created), before the 303 is sent:
 *       ref->attribute(ud, req, new_result_id);
 *   GET /app/result/:id (and any page) with ?ref=CODE, before the page is sent:
 *       ref->on_visit(ud, req);
 *   rendering a result page: the share link's code
 *       char code[16];
 *       if (ref->code_for(ud, result_id, code, sizeof code))
 *           share = "<base>/app/result/<id>?ref=<code>"   (or "<base>/r/<code>")
 *   optionally, on the result page: the owner's reward coupons
 *       char *json = ref->rewards_json(ud, req, result_id);  ... free(json);
 *
 * Look the service up per request (a reload swaps it); the vtable and ud
 * are borrowed until that request returns. Without the service the quiz
 * plugin should still render (a share link without ?ref=). Every function
 * copies its arguments and never blocks (store reads and appends only).
 * Later versions only append members.
 *
 * Cookies (both HttpOnly, SameSite=Lax, Path=/, Secure when
 * PUBLIC_BASE_URL is https):
 *   mq_uid  the browser's anonymous id (32 hex), 1 year: set by attribute
 *           and on_visit when the browser has none. It makes a result
 *           "owned": the owner's own visits and results never count as
 *           referrals, and only the owner sees the result's rewards.
 *   mq_ref  the first referral code this browser arrived with, 30 days
 *           (REFERRAL_COOKIE_DAYS): never replaced while it is valid.
 */
#ifndef MQ_REFERRAL_SERVICE_H
#define MQ_REFERRAL_SERVICE_H

#include <stddef.h>

#include "mq_plugin.h"

#define MQ_REFERRAL_SERVICE "referral"
#define MQ_REFERRAL_SERVICE_VERSION 1

/* Referral codes: 8 characters of [a-km-np-z2-9]. */
#define MQ_REFERRAL_CODE_LEN 8

typedef struct mq_referral_service_v1 {
    /* The referral code of `result_id` into buf (len >= 9): returns buf, or
     * NULL (buf "") when the id is not a token of [A-Za-z0-9_-]{1,64} or
     * the code could not be recorded. The same result always gets the same
     * code; GET /r/<code> leads to its page. */
    const char *(*code_for)(void *ud, const char *result_id, char *buf, size_t len);
    /* A page was requested with ?ref=CODE: count the visit and, on the
     * browser's first referral, set mq_ref (first touch wins). Ignored
     * for an unknown code and for the code's owner (self-referral). Adds
     * Set-Cookie headers to req: call it before sending the response. */
    void (*on_visit)(void *ud, mq_req *req);
    /* A quiz result `result_id` was just created in request `req`: record
     * the browser (mq_uid, set when missing) as its owner and, when the
     * browser carries mq_ref of someone else's code, attribute the result
     * to that code: a later approved order for this result rewards the
     * code's owner. Call before sending the response. Returns MQ_OK (also
     * when there is nothing to attribute), MQ_EINVAL (bad id), MQ_EIO. */
    int (*attribute)(void *ud, mq_req *req, const char *result_id);
    /* The reward coupons earned by `result_id`'s referrals, as a JSON array
     * of {"coupon","krw","status":"granted"|"voided","granted_ms",
     * "valid_until_ms"}, only when req's browser owns the result (mq_uid);
     * NULL otherwise. Caller frees with free(). */
    char *(*rewards_json)(void *ud, mq_req *req, const char *result_id);
} mq_referral_service_v1;

#endif /* MQ_REFERRAL_SERVICE_H */
