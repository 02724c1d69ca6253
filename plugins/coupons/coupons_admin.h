/*
 * coupons_admin.h -- the "coupons.admin" service, version 1, published by
 * the coupons plugin for the other plugins of its generation: the admin
 * plugin creates, disables and lists coupons through it, and the referral
 * plugin issues its rewards (one-use coupons) through it.
 *
 *   void *ud;
 *   const mq_coupons_admin_v1 *ca =
 *       api->service_lookup(self, MQ_COUPONS_ADMIN_SERVICE, MQ_COUPONS_ADMIN_VERSION, &ud);
 *   if (ca && ca->create(ud, "SPRING5000", MQ_COUPON_FIXED, 5000, 100, 1, 0, 0) == MQ_OK) ...
 *
 * Look the service up per request or callback (a reload swaps it); the
 * vtable and ud are borrowed until that request or callback returns. Every
 * function copies its string arguments, never blocks (one store read or
 * append), and returns MQ_OK or a negative mq_status. Later versions only
 * append members.
 *
 * Codes are 2..32 characters of [A-Za-z0-9_-], compared case-insensitively
 * (stored in upper case: "welcome10" is "WELCOME10").
 */
#ifndef MQ_COUPONS_ADMIN_H
#define MQ_COUPONS_ADMIN_H

#include <stdint.h>

#define MQ_COUPONS_ADMIN_SERVICE "coupons.admin"
#define MQ_COUPONS_ADMIN_VERSION 1

/* Kinds of discount. */
enum { MQ_COUPON_PERCENT = 1, MQ_COUPON_FIXED = 2 };

typedef struct mq_coupons_admin_v1 {
    /* Create coupon `code`: `kind` MQ_COUPON_PERCENT (value 1..100: that
     * percent of the price, rounded down to a whole won) or MQ_COUPON_FIXED
     * (value >= 1 KRW, at most the price); `total_uses` >= 1 uses in all;
     * `per_user` uses per user (0: no per-user limit); usable from
     * valid_from_ms (inclusive) until valid_until_ms (exclusive), ms since
     * the epoch, 0 for no bound. The coupon starts enabled. Returns MQ_OK,
     * MQ_EEXIST (the code exists, enabled or not: codes are never reused),
     * MQ_EINVAL (a bad argument), MQ_EIO (the store refused the write). */
    int (*create)(void *ud, const char *code, int kind, long value, long total_uses, long per_user,
                  int64_t valid_from_ms, int64_t valid_until_ms);
    /* Disable `code`: no new quote or hold succeeds; holds already taken
     * may still be redeemed or released. MQ_OK (also when it was disabled
     * already), MQ_ENOENT, MQ_EIO. */
    int (*disable)(void *ud, const char *code);
    /* Every coupon as a JSON array, oldest first, of
     *   {"code","kind":"percent"|"fixed","value","total_uses","per_user",
     *    "valid_from_ms","valid_until_ms","enabled","used","held",
     *    "created_ms","updated_ms"}
     * where used = redeemed uses and held = live holds. Caller frees with
     * free(); NULL on error. */
    char *(*list_json)(void *ud);
    /* One coupon as the same JSON object; caller frees; NULL when unknown. */
    char *(*get_json)(void *ud, const char *code);
} mq_coupons_admin_v1;

#endif /* MQ_COUPONS_ADMIN_H */
