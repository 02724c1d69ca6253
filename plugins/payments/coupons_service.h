/*
 * coupons_service.h -- the contract payments expects from the "coupons"
 * service, version 1 (published by the coupons plugin, written later).
 *
 * payments looks it up per request (api->service_lookup(self, "coupons",
 * 1, &ud)) when POST /api/pay/ready carries a coupon; without the service
 * that request answers 400 "coupon_unavailable".
 *
 * Sequence for one order:
 *   quote(code, amount)            at ready: how much the coupon takes off
 *   hold(code, order_id, ttl_ms)   at ready, before the gateway is called:
 *                                  reserve one use for this order
 *   redeem(order_id)               once the order is approved
 *   release(order_id)              when the order fails or is canceled
 *                                  (also when ready fails at the gateway)
 * A hold not redeemed nor released within ttl_ms expires by itself.
 *
 * Every function returns 0 on success and a negative mq_status otherwise,
 * never blocks, and copies its string arguments. redeem and release must be
 * idempotent per order id (payments may call them again after a restart,
 * and a subscriber of "order.approved" may redeem too): a second call for
 * the same order returns 0 and changes nothing.
 */
#ifndef MQ_COUPONS_SERVICE_H
#define MQ_COUPONS_SERVICE_H

#define MQ_COUPONS_SERVICE "coupons"
#define MQ_COUPONS_SERVICE_VERSION 1

typedef struct mq_coupons_service_v1 {
    /* Price `amount` (KRW) with coupon `code`: *discount receives the
     * amount taken off (0 <= *discount <= amount). On failure (unknown,
     * expired or used-up code: a negative status) *reason may be set to a
     * short human text (static or owned by the coupons plugin, borrowed
     * for the call). */
    int (*quote)(void *ud, const char *code, long amount, long *discount, const char **reason);
    /* Reserve one use of `code` for `order_id` for ttl_ms. */
    int (*hold)(void *ud, const char *code, const char *order_id, long ttl_ms);
    /* Turn the hold of `order_id` into a use. */
    int (*redeem)(void *ud, const char *order_id);
    /* Drop the hold of `order_id`. */
    int (*release)(void *ud, const char *order_id);
} mq_coupons_service_v1;

#endif /* MQ_COUPONS_SERVICE_H */
