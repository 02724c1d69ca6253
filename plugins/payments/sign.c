/*
 * sign.c -- order signatures.
 *
 * An order is signed once, at creation, over the fields that decide what is
 * bought and for how much:
 *     "v1|" id "|" provider "|" result_id "|" amount "|" created_ms
 * with HMAC-SHA256 under ORDER_SECRET. The signature travels in the
 * gateway's return URLs (sig=) and is checked on every return, so a
 * return for another order, provider, result or amount is refused.
 *
 * ORDER_SECRET rotates monthly. During a rotation ORDER_SECRET_PREV holds
 * the old secret, and a signature made with it still verifies while the
 * order is within its payment window (15 minutes from creation): no
 * payment in flight breaks, and an old signature is useless afterwards.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay.h"

char *mq_payments_sign_payload(const pay_order *o)
{
    pay_buf b = {0};
    mq_payments_buf_printf(&b, "v1|%s|%s|%s|%ld|%" PRId64, o->id, o->provider, o->result_id,
                           o->amount, o->created_ms);
    return mq_payments_buf_take(&b);
}

static int sign_with(const pay_signer *s, const char *secret, const pay_order *o, char out[65])
{
    out[0] = '\0';
    if (!secret || !*secret)
        return MQ_EINVAL;
    char *payload = mq_payments_sign_payload(o);
    if (!payload)
        return MQ_ENOMEM;
    int rc = s->api->hmac_sha256_hex(secret, strlen(secret), payload, strlen(payload), out);
    free(payload);
    if (s->calls)
        s->api->metric_add(s->calls, NULL, 1);
    return rc;
}

int mq_payments_sign(const pay_signer *s, const pay_order *o, char out[65])
{
    return sign_with(s, s->secret, o, out);
}

int mq_payments_verify(const pay_signer *s, const pay_order *o, const char *sig, int64_t now_ms)
{
    char want[65];
    if (!sig || strlen(sig) != 64)
        return 0;
    if (sign_with(s, s->secret, o, want) == MQ_OK && s->api->secure_equal(want, sig))
        return 1;
    /* The previous secret only within the payment window (and never for a
     * creation time in the future). */
    int64_t age = now_ms - o->created_ms;
    if (s->prev_secret && *s->prev_secret && age >= -60000 && age <= PAY_WINDOW_MS &&
        sign_with(s, s->prev_secret, o, want) == MQ_OK && s->api->secure_equal(want, sig))
        return 1;
    return 0;
}
