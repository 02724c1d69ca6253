/*
 * payments_service.h -- the "payments" service, version 1, published by the
 * payments plugin for the other plugins of its generation (the admin
 * plugin refunds through it; the quiz plugin asks whether a result is
 * unlocked).
 *
 *   void *ud;
 *   const mq_payments_service_v1 *pay =
 *       api->service_lookup(self, MQ_PAYMENTS_SERVICE, MQ_PAYMENTS_SERVICE_VERSION, &ud);
 *   if (pay && pay->is_unlocked(ud, "r123")) ...
 *
 * Look the service up per request or callback (a reload swaps it); the
 * vtable and ud are borrowed until that request or callback returns.
 * Later versions only append members.
 */
#ifndef MQ_PAYMENTS_SERVICE_H
#define MQ_PAYMENTS_SERVICE_H

#define MQ_PAYMENTS_SERVICE "payments"
#define MQ_PAYMENTS_SERVICE_VERSION 1

typedef struct mq_payments_service_v1 {
    /* Refund an approved order in full: cancel the payment at its gateway,
     * then record status "refunded" durably, count payment_cancel_total,
     * append event order.refunded and publish event "order.refunded".
     * `reason` (copied; may be NULL) is sent to the gateway and recorded.
     *
     * Returns MQ_OK when the refund started: done(status, message, cb_ud)
     * is then called exactly once, later, on the event loop, with MQ_OK
     * ("refunded") or a negative status and a human message (the gateway
     * refused, timed out, ...; the order stays "approved"). Otherwise
     * returns, without calling done:
     *   MQ_ENOENT  no such order
     *   MQ_ESTATE  the order is not "approved" (already refunded, never
     *              paid, ...) or a refund of it is already running
     *   MQ_EINVAL  bad arguments; MQ_ENOMEM; MQ_EIO (gateway not configured)
     * `message` is borrowed for the call. */
    int (*refund)(void *ud, const char *order_id, const char *reason,
                  void (*done)(int status, const char *message, void *cb_ud), void *cb_ud);

    /* 1 when some approved (and not refunded) order bought the premium
     * result of `result_id`, else 0. Never blocks (in-memory, then one
     * store read on a miss). */
    int (*is_unlocked)(void *ud, const char *result_id);
} mq_payments_service_v1;

#endif /* MQ_PAYMENTS_SERVICE_H */
