/*
 * coupon.c -- the coupons plugin's records and arithmetic: codes, the
 * discount, the validity window, and the JSON of the coupon and hold
 * records. No store and no host calls here.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpn.h"

/* ---- outcomes ---------------------------------------------------------------------- */

static const struct {
    const char *label;
    int status;
    const char *reason;
} outcomes[CPN_OUTCOMES] = {
    [CPN_OK] = {"ok", MQ_OK, ""},
    [CPN_UNKNOWN] = {"unknown", MQ_ENOENT, "존재하지 않는 쿠폰입니다."},
    [CPN_DISABLED] = {"disabled", MQ_ESTATE, "사용이 중지된 쿠폰입니다."},
    [CPN_NOT_STARTED] = {"not_started", MQ_ESTATE, "아직 사용할 수 없는 쿠폰입니다."},
    [CPN_EXPIRED] = {"expired", MQ_ESTATE, "사용 기간이 지난 쿠폰입니다."},
    [CPN_EXHAUSTED] = {"exhausted", MQ_ETOOBIG, "모두 소진된 쿠폰입니다."},
    [CPN_USER_LIMIT] = {"user_limit", MQ_ETOOBIG, "이미 사용한 쿠폰입니다."},
    [CPN_DUPLICATE] = {"duplicate", MQ_EEXIST, "이 주문에는 이미 쿠폰이 적용되었습니다."},
    [CPN_INVALID] = {"invalid", MQ_EINVAL, "쿠폰 코드가 올바르지 않습니다."},
    [CPN_ERROR] = {"error", MQ_EIO,
                   "지금은 쿠폰을 사용할 수 없습니다. 잠시 후 다시 시도해 주세요."},
};

const char *mq_coupons_outcome_label(cpn_outcome o)
{
    return o < CPN_OUTCOMES ? outcomes[o].label : "error";
}

int mq_coupons_outcome_status(cpn_outcome o)
{
    return o < CPN_OUTCOMES ? outcomes[o].status : MQ_EIO;
}

const char *mq_coupons_outcome_reason(cpn_outcome o)
{
    return o < CPN_OUTCOMES ? outcomes[o].reason : outcomes[CPN_ERROR].reason;
}

/* ---- codes ------------------------------------------------------------------------------ */

static int is_token_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '-';
}

int mq_coupons_is_token(const char *s, size_t max)
{
    if (!s || !*s)
        return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= max || !is_token_char((unsigned char)s[n]))
            return 0;
    return 1;
}

int mq_coupons_code_norm(const char *in, char out[CPN_CODE_MAX + 1])
{
    out[0] = '\0';
    if (!mq_coupons_is_token(in, CPN_CODE_MAX) || strlen(in) < 2)
        return -1;
    size_t i = 0;
    for (; in[i]; i++)
        out[i] = (char)toupper((unsigned char)in[i]);
    out[i] = '\0';
    return 0;
}

/* ---- the arithmetic --------------------------------------------------------------------- */

int mq_coupons_def_check(const cpn_def *d, const char **cause)
{
    char norm[CPN_CODE_MAX + 1];
    const char *why = NULL;
    if (mq_coupons_code_norm(d->code, norm) != 0)
        why = "code must be 2..32 characters of A-Z, 0-9, _ and -";
    else if (d->kind != MQ_COUPON_PERCENT && d->kind != MQ_COUPON_FIXED)
        why = "kind must be percent or fixed";
    else if (d->kind == MQ_COUPON_PERCENT && (d->value < 1 || d->value > 100))
        why = "a percent coupon takes 1..100 percent";
    else if (d->kind == MQ_COUPON_FIXED && (d->value < 1 || d->value > 100000000))
        why = "a fixed coupon takes 1..100000000 KRW";
    else if (d->total_uses < 1 || d->total_uses > 100000000)
        why = "total_uses must be 1..100000000";
    else if (d->per_user < 0 || d->per_user > d->total_uses)
        why = "per_user must be 0 (no limit) up to total_uses";
    else if (d->valid_from_ms < 0 || d->valid_until_ms < 0 ||
             (d->valid_until_ms && d->valid_until_ms <= d->valid_from_ms))
        why = "valid_until must come after valid_from";
    if (cause)
        *cause = why;
    return why ? MQ_EINVAL : MQ_OK;
}

long mq_coupons_discount(const cpn_def *d, long amount)
{
    if (amount <= 0)
        return 0;
    long off = 0;
    if (d->kind == MQ_COUPON_PERCENT) {
        /* amount * percent / 100 without overflow for any long amount. */
        off = amount / 100 * d->value + amount % 100 * d->value / 100;
    } else if (d->kind == MQ_COUPON_FIXED) {
        off = d->value;
    }
    if (off < 0)
        off = 0;
    return off > amount ? amount : off;
}

cpn_outcome mq_coupons_usable(const cpn_def *d, int64_t now)
{
    if (!d->enabled)
        return CPN_DISABLED;
    if (d->valid_from_ms && now < d->valid_from_ms)
        return CPN_NOT_STARTED;
    if (d->valid_until_ms && now >= d->valid_until_ms)
        return CPN_EXPIRED;
    return CPN_OK;
}

/* ---- JSON helpers --------------------------------------------------------------------------- */

char *mq_coupons_json_take(json_object *o)
{
    if (!o)
        return NULL;
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *d = s ? strdup(s) : NULL;
    json_object_put(o);
    return d;
}

static json_object *parse_obj(const char *json, size_t len)
{
    if (!json || len > INT_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, json, (int)len);
    if (o && (json_tokener_get_error(tok) != json_tokener_success ||
              !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* Copy string member k into dst[cap]; -1 when absent, not a string or too long. */
static int get_str(json_object *j, const char *k, char *dst, size_t cap)
{
    json_object *v = NULL;
    dst[0] = '\0';
    if (!json_object_object_get_ex(j, k, &v) || !json_object_is_type(v, json_type_string))
        return -1;
    const char *s = json_object_get_string(v);
    size_t n = strlen(s);
    if (n >= cap)
        return -1;
    memcpy(dst, s, n + 1);
    return 0;
}

/* Integer member k; `def` when absent; -1 when present but not an integer. */
static int get_i64(json_object *j, const char *k, int64_t def, int64_t *out)
{
    json_object *v = NULL;
    *out = def;
    if (!json_object_object_get_ex(j, k, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_int64(v);
    return 0;
}

static int get_long(json_object *j, const char *k, long def, long *out)
{
    int64_t v = 0;
    if (get_i64(j, k, def, &v) != 0 || v < LONG_MIN || v > LONG_MAX)
        return -1;
    *out = (long)v;
    return 0;
}

static int get_bool(json_object *j, const char *k, int def, int *out)
{
    json_object *v = NULL;
    *out = def;
    if (!json_object_object_get_ex(j, k, &v))
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return -1;
    *out = json_object_get_boolean(v);
    return 0;
}

/* ---- the coupon record ------------------------------------------------------------------ */

int mq_coupons_def_parse(const char *json, size_t len, cpn_def *d)
{
    memset(d, 0, sizeof *d);
    json_object *j = parse_obj(json, len);
    char kind[16];
    int rc = MQ_EINVAL;
    if (j && get_str(j, "code", d->code, sizeof d->code) == 0 &&
        get_str(j, "kind", kind, sizeof kind) == 0 && get_long(j, "value", 0, &d->value) == 0 &&
        get_long(j, "total_uses", 0, &d->total_uses) == 0 &&
        get_long(j, "per_user", 0, &d->per_user) == 0 &&
        get_i64(j, "valid_from_ms", 0, &d->valid_from_ms) == 0 &&
        get_i64(j, "valid_until_ms", 0, &d->valid_until_ms) == 0 &&
        get_bool(j, "enabled", 1, &d->enabled) == 0 && get_long(j, "used", 0, &d->used) == 0 &&
        get_long(j, "held", 0, &d->held) == 0 && get_i64(j, "created_ms", 0, &d->created_ms) == 0 &&
        get_i64(j, "updated_ms", 0, &d->updated_ms) == 0) {
        d->kind = strcmp(kind, "percent") == 0 ? MQ_COUPON_PERCENT
                  : strcmp(kind, "fixed") == 0 ? MQ_COUPON_FIXED
                                               : 0;
        rc = d->kind ? MQ_OK : MQ_EINVAL;
    }
    json_object_put(j);
    return rc;
}

json_object *mq_coupons_def_obj(const cpn_def *d)
{
    json_object *j = json_object_new_object();
    if (!j)
        return NULL;
    json_object_object_add(j, "v", json_object_new_int(1));
    json_object_object_add(j, "code", json_object_new_string(d->code));
    json_object_object_add(
        j, "kind", json_object_new_string(d->kind == MQ_COUPON_PERCENT ? "percent" : "fixed"));
    json_object_object_add(j, "value", json_object_new_int64(d->value));
    json_object_object_add(j, "total_uses", json_object_new_int64(d->total_uses));
    json_object_object_add(j, "per_user", json_object_new_int64(d->per_user));
    json_object_object_add(j, "valid_from_ms", json_object_new_int64(d->valid_from_ms));
    json_object_object_add(j, "valid_until_ms", json_object_new_int64(d->valid_until_ms));
    json_object_object_add(j, "enabled", json_object_new_boolean(d->enabled));
    json_object_object_add(j, "used", json_object_new_int64(d->used));
    json_object_object_add(j, "held", json_object_new_int64(d->held));
    json_object_object_add(j, "created_ms", json_object_new_int64(d->created_ms));
    json_object_object_add(j, "updated_ms", json_object_new_int64(d->updated_ms));
    return j;
}

char *mq_coupons_def_json(const cpn_def *d)
{
    return mq_coupons_json_take(mq_coupons_def_obj(d));
}

/* ---- the hold record -------------------------------------------------------------------- */

static const char *const hold_states[] = {
    [CPN_HELD] = "held",
    [CPN_REDEEMED] = "redeemed",
    [CPN_RELEASED] = "released",
    [CPN_EXPIRED_HOLD] = "expired",
};

const char *mq_coupons_hold_state_name(cpn_hold_state s)
{
    return s >= CPN_HELD && s <= CPN_EXPIRED_HOLD ? hold_states[s] : "?";
}

int mq_coupons_hold_parse(const char *json, size_t len, cpn_hold *h)
{
    memset(h, 0, sizeof *h);
    json_object *j = parse_obj(json, len);
    char state[16];
    int rc = MQ_EINVAL;
    if (j && get_str(j, "order", h->order, sizeof h->order) == 0 &&
        get_str(j, "code", h->code, sizeof h->code) == 0 &&
        get_str(j, "state", state, sizeof state) == 0 && get_i64(j, "ttl_ms", 0, &h->ttl_ms) == 0 &&
        get_i64(j, "expires_ms", 0, &h->expires_ms) == 0 &&
        get_i64(j, "held_ms", 0, &h->held_ms) == 0 &&
        get_i64(j, "updated_ms", 0, &h->updated_ms) == 0 && get_bool(j, "late", 0, &h->late) == 0) {
        if (get_str(j, "user", h->user, sizeof h->user) != 0)
            h->user[0] = '\0';
        for (int s = CPN_HELD; s <= CPN_EXPIRED_HOLD; s++)
            if (strcmp(state, hold_states[s]) == 0)
                h->state = (cpn_hold_state)s;
        rc = h->state ? MQ_OK : MQ_EINVAL;
    }
    json_object_put(j);
    return rc;
}

char *mq_coupons_hold_json(const cpn_hold *h)
{
    json_object *j = json_object_new_object();
    if (!j)
        return NULL;
    json_object_object_add(j, "v", json_object_new_int(1));
    json_object_object_add(j, "order", json_object_new_string(h->order));
    json_object_object_add(j, "code", json_object_new_string(h->code));
    json_object_object_add(j, "user", json_object_new_string(h->user));
    json_object_object_add(j, "state",
                           json_object_new_string(mq_coupons_hold_state_name(h->state)));
    json_object_object_add(j, "ttl_ms", json_object_new_int64(h->ttl_ms));
    json_object_object_add(j, "expires_ms", json_object_new_int64(h->expires_ms));
    json_object_object_add(j, "held_ms", json_object_new_int64(h->held_ms));
    json_object_object_add(j, "updated_ms", json_object_new_int64(h->updated_ms));
    if (h->late)
        json_object_object_add(j, "late", json_object_new_boolean(1));
    return mq_coupons_json_take(j);
}

/* ---- time -------------------------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's
 * days_from_civil. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int mq_coupons_kst_day_ms(const char *s, int64_t *ms)
{
    int y = 0, m = 0, d = 0, n = 0;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        s[4] != '-' || s[7] != '-' || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1)
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    *ms = (days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 - 9 * 3600) * 1000;
    return 0;
}

int64_t mq_coupons_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
