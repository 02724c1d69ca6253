/*
 * catalog.c -- the release's price list, assets/catalog.json.
 *
 *   {"currency":"KRW",
 *    "products":{"premium_result":{"name":"프리미엄 결과 리포트","amount":3900}}}
 *
 * Prices come from here and nowhere else: never from a client. The file
 * ships with each release, so a price change is a release (and a rollback
 * restores the old price). A catalog that does not parse fails init, and
 * the host then refuses the whole release.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "pay.h"

#define CATALOG_MAX_BYTES (256 * 1024)
#define CATALOG_MAX_AMOUNT 10000000L

static int fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg ? arg : "");
    return MQ_EINVAL;
}

int mq_payments_catalog_parse(const char *json, size_t len, pay_catalog *out, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json || len == 0)
        return fail(err, errlen, "empty catalog%s", NULL);
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return MQ_ENOMEM;
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    int jerr = json_tokener_get_error(tok);
    size_t used = (size_t)json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    int rc = MQ_OK;
    if (!root || jerr != json_tokener_success) {
        rc = fail(err, errlen, "not JSON (%s)", json_tokener_error_desc(jerr));
        goto done;
    }
    for (; used < len; used++) {
        if (!strchr(" \t\r\n", json[used])) {
            rc = fail(err, errlen, "trailing data after the JSON object%s", NULL);
            goto done;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        rc = fail(err, errlen, "not a JSON object%s", NULL);
        goto done;
    }
    json_object *cur = NULL, *products = NULL;
    if (!json_object_object_get_ex(root, "currency", &cur) ||
        !json_object_is_type(cur, json_type_string) ||
        strcmp(json_object_get_string(cur), "KRW") != 0) {
        rc = fail(err, errlen, "\"currency\" must be \"KRW\"%s", NULL);
        goto done;
    }
    memcpy(out->currency, "KRW", 4);
    if (!json_object_object_get_ex(root, "products", &products) ||
        !json_object_is_type(products, json_type_object) ||
        json_object_object_length(products) == 0) {
        rc = fail(err, errlen, "\"products\" must be a non-empty object%s", NULL);
        goto done;
    }
    size_t n = (size_t)json_object_object_length(products);
    out->products = calloc(n, sizeof *out->products);
    if (!out->products) {
        rc = MQ_ENOMEM;
        goto done;
    }
    json_object_object_foreach(products, id, p)
    {
        pay_product *pp = &out->products[out->n];
        json_object *name = NULL, *amount = NULL;
        if (!mq_payments_is_token(id, sizeof pp->id - 1)) {
            rc = fail(err, errlen, "product id \"%.40s\" is not 1-32 of [A-Za-z0-9_-]", id);
            goto done;
        }
        if (!json_object_is_type(p, json_type_object)) {
            rc = fail(err, errlen, "product \"%s\" is not an object", id);
            goto done;
        }
        if (!json_object_object_get_ex(p, "name", &name) ||
            !json_object_is_type(name, json_type_string) || json_object_get_string_len(name) == 0 ||
            mq_payments_copy(pp->name, sizeof pp->name, json_object_get_string(name)) != 0) {
            rc = fail(err, errlen, "product \"%s\": \"name\" must be a string of 1-300 bytes", id);
            goto done;
        }
        int64_t a = 0;
        if (!json_object_object_get_ex(p, "amount", &amount) ||
            !json_object_is_type(amount, json_type_int) ||
            (a = json_object_get_int64(amount)) < 1 || a > CATALOG_MAX_AMOUNT) {
            rc = fail(err, errlen, "product \"%s\": \"amount\" must be an integer in 1..10000000",
                      id);
            goto done;
        }
        memcpy(pp->id, id, strlen(id) + 1);
        pp->amount = (long)a;
        out->n++;
    }
    if (!mq_payments_catalog_find(out, "premium_result"))
        rc = fail(err, errlen, "no product \"premium_result\"%s", NULL);
done:
    json_object_put(root);
    if (rc != MQ_OK)
        mq_payments_catalog_cleanup(out);
    return rc;
}

int mq_payments_catalog_load(const char *path, pay_catalog *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return MQ_EIO;
    }
    char *text = malloc(CATALOG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        return MQ_ENOMEM;
    }
    size_t n = fread(text, 1, CATALOG_MAX_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    int rc;
    if (rerr) {
        snprintf(err, errlen, "read error");
        rc = MQ_EIO;
    } else if (n > CATALOG_MAX_BYTES) {
        snprintf(err, errlen, "larger than %d bytes", CATALOG_MAX_BYTES);
        rc = MQ_EINVAL;
    } else {
        rc = mq_payments_catalog_parse(text, n, out, err, errlen);
    }
    free(text);
    return rc;
}

const pay_product *mq_payments_catalog_find(const pay_catalog *c, const char *id)
{
    for (size_t i = 0; id && i < c->n; i++)
        if (strcmp(c->products[i].id, id) == 0)
            return &c->products[i];
    return NULL;
}

void mq_payments_catalog_cleanup(pay_catalog *c)
{
    free(c->products);
    memset(c, 0, sizeof *c);
}
