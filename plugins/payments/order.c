/*
 * order.c -- the order record and its state machine.
 *
 * An order lives in collection "orders" under its id; each change appends
 * a whole new record (the store keeps the latest per key), so the file is
 * also the order's history. Records carry "v":1; readers ignore fields
 * they do not know, so an older release reads a newer record.
 *
 *   created --> ready --> approving --> approved --> refunded
 *      |          |           |
 *      +-> failed +-> failed  +-> failed
 *                 +-> canceled
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "pay.h"

/* ---- statuses --------------------------------------------------------------------- */

static const char *const status_names[] = {
    [PAY_ST_NONE] = "",
    [PAY_ST_CREATED] = "created",
    [PAY_ST_READY] = "ready",
    [PAY_ST_APPROVING] = "approving",
    [PAY_ST_APPROVED] = "approved",
    [PAY_ST_FAILED] = "failed",
    [PAY_ST_CANCELED] = "canceled",
    [PAY_ST_REFUNDED] = "refunded",
};

const char *mq_payments_status_name(pay_status s)
{
    return s >= PAY_ST_NONE && s <= PAY_ST_REFUNDED ? status_names[s] : "";
}

pay_status mq_payments_status_parse(const char *name)
{
    for (int s = PAY_ST_CREATED; name && s <= PAY_ST_REFUNDED; s++)
        if (strcmp(status_names[s], name) == 0)
            return (pay_status)s;
    return PAY_ST_NONE;
}

/* allowed[from] is a bit set of the statuses `from` may become. */
#define BIT(s) (1u << (s))
static const unsigned allowed[] = {
    [PAY_ST_NONE] = 0,
    [PAY_ST_CREATED] = BIT(PAY_ST_READY) | BIT(PAY_ST_FAILED),
    [PAY_ST_READY] = BIT(PAY_ST_APPROVING) | BIT(PAY_ST_FAILED) | BIT(PAY_ST_CANCELED),
    [PAY_ST_APPROVING] = BIT(PAY_ST_APPROVED) | BIT(PAY_ST_FAILED) | BIT(PAY_ST_APPROVING),
    [PAY_ST_APPROVED] = BIT(PAY_ST_REFUNDED),
    [PAY_ST_FAILED] = 0,
    [PAY_ST_CANCELED] = 0,
    [PAY_ST_REFUNDED] = 0,
};

int mq_payments_transition_allowed(pay_status from, pay_status to)
{
    if (from < PAY_ST_NONE || from > PAY_ST_REFUNDED || to <= PAY_ST_NONE || to > PAY_ST_REFUNDED)
        return 0;
    return (allowed[from] & BIT(to)) != 0;
}

/* ---- ids ------------------------------------------------------------------------------ */

int mq_payments_order_id(char out[PAY_ORDER_ID_LEN + 1], int64_t now_ms, const char *rand10)
{
    if (!rand10 || strlen(rand10) != 10)
        return MQ_EINVAL;
    time_t t = (time_t)(now_ms / 1000) + 9 * 3600; /* KST has no DST */
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return MQ_EINVAL;
    int n = snprintf(out, PAY_ORDER_ID_LEN + 1, "MQ%04d%02d%02d%02d%02d%02d%s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rand10);
    return n == PAY_ORDER_ID_LEN && mq_payments_order_id_valid(out) ? MQ_OK : MQ_EINVAL;
}

int mq_payments_order_id_valid(const char *s)
{
    if (!s || strlen(s) != PAY_ORDER_ID_LEN || s[0] != 'M' || s[1] != 'Q')
        return 0;
    for (int i = 2; i < 16; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    for (int i = 16; i < PAY_ORDER_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void add_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static char *finish(json_object *o)
{
    if (!o)
        return NULL;
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *d = s ? strdup(s) : NULL;
    json_object_put(o);
    return d;
}

char *mq_payments_order_to_json(const pay_order *o)
{
    json_object *j = json_object_new_object();
    if (!j)
        return NULL;
    add_int(j, "v", 1);
    add_str(j, "id", o->id);
    add_str(j, "provider", o->provider);
    add_str(j, "result_id", o->result_id);
    add_str(j, "product", o->product);
    add_int(j, "amount", o->amount);
    add_int(j, "discount", o->discount);
    add_str(j, "coupon", o->coupon);
    add_str(j, "status", mq_payments_status_name(o->status));
    if (strcmp(o->provider, PAY_PROVIDER_NAVER) == 0) {
        add_str(j, "reserve_id", o->reserve_id);
        add_str(j, "payment_id", o->payment_id);
    } else {
        add_str(j, "tid", o->tid);
    }
    add_str(j, "aid", o->aid);
    add_str(j, "reason", o->reason);
    add_str(j, "sig", o->sig);
    add_int(j, "created_ms", o->created_ms);
    add_int(j, "updated_ms", o->updated_ms);
    add_int(j, "approved_amount", o->approved_amount);
    return finish(j);
}

/* Copy member k (a string, or absent when !required) into dst[cap]. */
static int get_str(json_object *j, const char *k, char *dst, size_t cap, int required)
{
    json_object *v = NULL;
    dst[0] = '\0';
    if (!json_object_object_get_ex(j, k, &v) || json_object_is_type(v, json_type_null))
        return required ? -1 : 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    return mq_payments_copy(dst, cap, json_object_get_string(v));
}

static int get_int(json_object *j, const char *k, int64_t *dst, int required)
{
    json_object *v = NULL;
    *dst = 0;
    if (!json_object_object_get_ex(j, k, &v) || json_object_is_type(v, json_type_null))
        return required ? -1 : 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    *dst = json_object_get_int64(v);
    return 0;
}

int mq_payments_order_from_json(const char *json, size_t len, pay_order *o)
{
    memset(o, 0, sizeof *o);
    if (!json)
        return MQ_EINVAL;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return MQ_ENOMEM;
    json_object *j = json_tokener_parse_ex(tok, json, (int)len);
    json_tokener_free(tok);
    int rc = MQ_EINVAL;
    char status[16];
    int64_t amount, discount, created, updated, approved;
    if (!j || !json_object_is_type(j, json_type_object))
        goto done;
    if (get_str(j, "id", o->id, sizeof o->id, 1) || !mq_payments_order_id_valid(o->id) ||
        get_str(j, "provider", o->provider, sizeof o->provider, 1) ||
        (strcmp(o->provider, PAY_PROVIDER_KAKAO) && strcmp(o->provider, PAY_PROVIDER_NAVER)) ||
        get_str(j, "result_id", o->result_id, sizeof o->result_id, 1) ||
        get_str(j, "status", status, sizeof status, 1) ||
        (o->status = mq_payments_status_parse(status)) == PAY_ST_NONE ||
        get_int(j, "amount", &amount, 1) || amount < 0 || get_int(j, "created_ms", &created, 1) ||
        get_str(j, "product", o->product, sizeof o->product, 0) ||
        get_int(j, "discount", &discount, 0) || discount < 0 ||
        get_str(j, "coupon", o->coupon, sizeof o->coupon, 0) ||
        get_str(j, "tid", o->tid, sizeof o->tid, 0) ||
        get_str(j, "reserve_id", o->reserve_id, sizeof o->reserve_id, 0) ||
        get_str(j, "payment_id", o->payment_id, sizeof o->payment_id, 0) ||
        get_str(j, "aid", o->aid, sizeof o->aid, 0) ||
        get_str(j, "reason", o->reason, sizeof o->reason, 0) ||
        get_str(j, "sig", o->sig, sizeof o->sig, 0) || get_int(j, "updated_ms", &updated, 0) ||
        get_int(j, "approved_amount", &approved, 0) || approved < 0)
        goto done;
    o->amount = (long)amount;
    o->discount = (long)discount;
    o->created_ms = created;
    o->updated_ms = updated;
    o->approved_amount = (long)approved;
    rc = MQ_OK;
done:
    json_object_put(j);
    if (rc != MQ_OK) {
        memset(o, 0, sizeof *o);
        o->status = PAY_ST_NONE;
    }
    return rc;
}

char *mq_payments_order_public_json(const pay_order *o)
{
    json_object *j = json_object_new_object();
    if (!j)
        return NULL;
    add_str(j, "orderId", o->id);
    add_str(j, "provider", o->provider);
    add_str(j, "resultId", o->result_id);
    add_str(j, "product", o->product);
    add_int(j, "amount", o->amount);
    add_int(j, "discount", o->discount);
    add_str(j, "currency", "KRW");
    add_str(j, "status", mq_payments_status_name(o->status));
    add_str(j, "reason", o->reason);
    json_object_object_add(j, "paid", json_object_new_boolean(o->status == PAY_ST_APPROVED));
    add_int(j, "createdMs", o->created_ms);
    add_int(j, "updatedMs", o->updated_ms);
    return finish(j);
}

char *mq_payments_order_event_json(const pay_order *o)
{
    json_object *j = json_object_new_object();
    if (!j)
        return NULL;
    char type[32];
    snprintf(type, sizeof type, "order.%s", mq_payments_status_name(o->status));
    add_int(j, "v", 1);
    add_str(j, "type", type);
    add_str(j, "order", o->id);
    add_str(j, "provider", o->provider);
    add_str(j, "result_id", o->result_id);
    add_int(j, "amount", o->amount);
    add_str(j, "reason", o->reason);
    return finish(j);
}
