/*
 * seed.c -- the coupons a release brings along (assets/coupons.seed.json):
 * the zero-setup demo's WELCOME10 without any admin step. A code already
 * in the store is left alone, so an admin's disable or the uses taken
 * survive every later release.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpn.h"

#define SEED_MAX_BYTES (1 << 20)

static char *read_file(const char *path, size_t *len, int *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = errno;
        return NULL;
    }
    char *buf = malloc(SEED_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SEED_MAX_BYTES + 1, f) : 0;
    *err = !buf ? ENOMEM : ferror(f) ? EIO : n > SEED_MAX_BYTES ? EFBIG : 0;
    fclose(f);
    if (*err) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *str_member(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Integer member k into *out: 0 when absent (def kept), -1 when mistyped. */
static int int_member(json_object *o, const char *k, long *out)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    *out = (long)json_object_get_int64(v);
    return 0;
}

/* A Korean date member into ms (0 when absent); -1 when malformed. */
static int day_member(json_object *o, const char *k, int64_t *ms)
{
    json_object *v = NULL;
    *ms = 0;
    if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
        return 0;
    return json_object_is_type(v, json_type_string) &&
                   mq_coupons_kst_day_ms(json_object_get_string(v), ms) == 0
               ? 0
               : -1;
}

/* One seed entry into d; a cause when it is unusable. */
static const char *entry_def(json_object *e, cpn_def *d)
{
    memset(d, 0, sizeof *d);
    if (!json_object_is_type(e, json_type_object))
        return "an entry is not an object";
    const char *code = str_member(e, "code");
    const char *kind = str_member(e, "kind");
    if (!code || mq_coupons_code_norm(code, d->code) != 0)
        return "an entry has no valid \"code\"";
    d->kind = !kind                          ? 0
              : strcmp(kind, "percent") == 0 ? MQ_COUPON_PERCENT
              : strcmp(kind, "fixed") == 0   ? MQ_COUPON_FIXED
                                             : 0;
    if (!d->kind)
        return "\"kind\" must be \"percent\" or \"fixed\"";
    if (int_member(e, "value", &d->value) != 0 ||
        int_member(e, "total_uses", &d->total_uses) != 0 ||
        int_member(e, "per_user", &d->per_user) != 0)
        return "\"value\", \"total_uses\" and \"per_user\" must be integers";
    if (day_member(e, "valid_from", &d->valid_from_ms) != 0 ||
        day_member(e, "valid_until", &d->valid_until_ms) != 0)
        return "\"valid_from\" and \"valid_until\" must be dates (YYYY-MM-DD)";
    const char *cause = NULL;
    return mq_coupons_def_check(d, &cause) == MQ_OK ? NULL : cause;
}

int mq_coupons_seed_apply(cpn_state *st, const char *path, int64_t now, int *created, char *err,
                          size_t errlen)
{
    *created = 0;
    size_t len = 0;
    int e = 0;
    char *text = read_file(path, &len, &e);
    if (!text) {
        if (e == ENOENT)
            return MQ_OK;
        snprintf(err, errlen, "read failed: %s", strerror(e));
        return MQ_EIO;
    }
    json_object *root = json_tokener_parse(text);
    free(text);
    json_object *list = NULL;
    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "coupons", &list) ||
        !json_object_is_type(list, json_type_array)) {
        snprintf(err, errlen, "not a JSON object with a \"coupons\" array");
        json_object_put(root);
        return MQ_EINVAL;
    }
    /* Check every entry before creating any: a bad file changes nothing. */
    size_t n = json_object_array_length(list);
    int rc = MQ_OK;
    for (size_t i = 0; i < n && rc == MQ_OK; i++) {
        cpn_def d;
        const char *cause = entry_def(json_object_array_get_idx(list, i), &d);
        if (cause) {
            snprintf(err, errlen, "entry %zu: %s", i + 1, cause);
            rc = MQ_EINVAL;
        }
    }
    for (size_t i = 0; i < n && rc == MQ_OK; i++) {
        cpn_def d;
        entry_def(json_object_array_get_idx(list, i), &d);
        int c = mq_coupons_create(st, &d, now);
        if (c == MQ_OK) {
            (*created)++;
        } else if (c != MQ_EEXIST) {
            snprintf(err, errlen, "create coupon \"%s\" failed: %s", d.code, st->api->strerror(c));
            rc = c;
        }
    }
    json_object_put(root);
    return rc;
}
