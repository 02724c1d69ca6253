/*
 * code.c -- referral codes, the two cookies, and the store helpers the
 * referral plugin's logic files share.
 *
 * A result's code is derived from its id (a keyed hash cut to 8 letters
 * and digits), so finding a result's code needs no reverse index: derive
 * the candidate, read ref_codes/<candidate>, and take the next candidate
 * in the rare case another result already has it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ref.h"

/* 32 symbols: no 0/o, 1/l, so a code read aloud or retyped survives. */
static const char ALPHABET[] = "abcdefghijkmnpqrstuvwxyz23456789";
static const char CODE_KEY[] = "mindquiz-referral-v1";
#define CODE_ATTEMPTS 6 /* 6 x 10 hex digits of the 64 */

int64_t mq_referral_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mq_referral_is_token(const char *s, size_t max)
{
    if (!s || !*s)
        return 0;
    for (size_t n = 0; s[n]; n++)
        if (n >= max || !(isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-'))
            return 0;
    return 1;
}

int mq_referral_code_norm(const char *in, char out[MQ_REFERRAL_CODE_LEN + 1])
{
    out[0] = '\0';
    if (!in || strlen(in) != MQ_REFERRAL_CODE_LEN)
        return -1;
    for (size_t i = 0; i < MQ_REFERRAL_CODE_LEN; i++) {
        char c = (char)tolower((unsigned char)in[i]);
        if (!strchr(ALPHABET, c) || c == '\0')
            return -1;
        out[i] = c;
    }
    out[MQ_REFERRAL_CODE_LEN] = '\0';
    return 0;
}

int mq_referral_uid_valid(const char *s)
{
    if (!s || strlen(s) != REF_UID_HEX)
        return 0;
    for (size_t i = 0; i < REF_UID_HEX; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return 0;
    return 1;
}

int mq_referral_code_candidate(const mq_api *api, const char *result_id, int attempt,
                               char out[MQ_REFERRAL_CODE_LEN + 1])
{
    char hex[65];
    out[0] = '\0';
    if (attempt < 0 || attempt >= CODE_ATTEMPTS ||
        api->hmac_sha256_hex(CODE_KEY, strlen(CODE_KEY), result_id, strlen(result_id), hex) !=
            MQ_OK)
        return MQ_EINVAL;
    /* 10 hex digits = 40 bits = 8 symbols of 5 bits. */
    char part[11];
    memcpy(part, hex + attempt * 10, 10);
    part[10] = '\0';
    uint64_t bits = strtoull(part, NULL, 16);
    for (int i = MQ_REFERRAL_CODE_LEN - 1; i >= 0; i--) {
        out[i] = ALPHABET[bits & 31];
        bits >>= 5;
    }
    out[MQ_REFERRAL_CODE_LEN] = '\0';
    return MQ_OK;
}

/* ---- store helpers ------------------------------------------------------------------------- */

const char *mq_referral_str(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

int64_t mq_referral_int(json_object *o, const char *k, int64_t def)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
               ? json_object_get_int64(v)
               : def;
}

json_object *mq_referral_load(ref_state *st, const char *coll, const char *key)
{
    size_t len = 0;
    char *rec = st->api->store_get(st->self, coll, key, &len);
    json_object *o = rec ? json_tokener_parse(rec) : NULL;
    free(rec);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

int mq_referral_append(ref_state *st, mq_req *req, const char *coll, const char *key,
                       json_object *o)
{
    if (!o)
        return MQ_ENOMEM;
    if (!json_object_object_get_ex(o, "v", NULL))
        json_object_object_add(o, "v", json_object_new_int(1));
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc =
        text ? st->api->store_append(st->self, req, coll, key, text, strlen(text), MQ_STORE_DURABLE)
             : MQ_ENOMEM;
    if (rc != MQ_OK)
        st->api->log(st->self, MQ_LOG_ERROR, "append to \"%s\" key \"%s\" failed: %s", coll, key,
                     st->api->strerror(rc));
    json_object_put(o);
    return rc;
}

void mq_referral_event(ref_state *st, mq_req *req, const char *type, json_object *o)
{
    json_object *e = json_object_new_object();
    if (!e || !o) {
        json_object_put(e);
        json_object_put(o);
        return;
    }
    json_object_object_add(e, "v", json_object_new_int(1));
    json_object_object_add(e, "type", json_object_new_string(type));
    json_object_object_foreach(o, k, v) json_object_object_add(e, k, json_object_get(v));
    json_object_put(o);
    mq_referral_append(st, req, REF_COLL_EVENTS, "", e);
}

/* ---- codes ------------------------------------------------------------------------------- */

static int code_parse(json_object *o, ref_code *out)
{
    const char *code = mq_referral_str(o, "code"), *res = mq_referral_str(o, "result_id");
    const char *uid = mq_referral_str(o, "uid");
    if (strlen(code) != MQ_REFERRAL_CODE_LEN || !mq_referral_is_token(res, REF_ID_MAX))
        return MQ_EINVAL;
    memcpy(out->code, code, MQ_REFERRAL_CODE_LEN + 1);
    memcpy(out->result_id, res, strlen(res) + 1);
    snprintf(out->uid, sizeof out->uid, "%s", mq_referral_uid_valid(uid) ? uid : "");
    return MQ_OK;
}

int mq_referral_code_lookup(ref_state *st, const char *code_in, ref_code *out)
{
    char code[MQ_REFERRAL_CODE_LEN + 1];
    memset(out, 0, sizeof *out);
    if (mq_referral_code_norm(code_in, code) != 0)
        return MQ_ENOENT;
    json_object *o = mq_referral_load(st, REF_COLL_CODES, code);
    int rc = o ? code_parse(o, out) : MQ_ENOENT;
    json_object_put(o);
    return rc == MQ_OK ? MQ_OK : MQ_ENOENT;
}

static int code_write(ref_state *st, const ref_code *c, int64_t created_ms)
{
    json_object *o = json_object_new_object();
    if (o) {
        json_object_object_add(o, "code", json_object_new_string(c->code));
        json_object_object_add(o, "result_id", json_object_new_string(c->result_id));
        json_object_object_add(o, "uid", json_object_new_string(c->uid));
        json_object_object_add(o, "created_ms", json_object_new_int64(created_ms));
    }
    return mq_referral_append(st, NULL, REF_COLL_CODES, c->code, o);
}

int mq_referral_code_of(ref_state *st, const char *result_id, const char *owner_uid, int create,
                        ref_code *out)
{
    memset(out, 0, sizeof *out);
    if (!mq_referral_is_token(result_id, REF_ID_MAX))
        return MQ_EINVAL;
    if (owner_uid && !mq_referral_uid_valid(owner_uid))
        owner_uid = NULL;
    for (int attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
        char cand[MQ_REFERRAL_CODE_LEN + 1];
        if (mq_referral_code_candidate(st->api, result_id, attempt, cand) != MQ_OK)
            return MQ_EIO;
        json_object *o = mq_referral_load(st, REF_COLL_CODES, cand);
        ref_code c;
        int have = o && code_parse(o, &c) == MQ_OK;
        int64_t created = mq_referral_int(o, "created_ms", st->clock_ms());
        json_object_put(o);
        if (have && strcmp(c.result_id, result_id) != 0)
            continue; /* another result's code: try the next candidate */
        if (!have && !create)
            return MQ_ENOENT;
        if (!have) {
            memset(&c, 0, sizeof c);
            memcpy(c.code, cand, sizeof c.code);
            snprintf(c.result_id, sizeof c.result_id, "%s", result_id);
        }
        /* The owner is learnt once; an owner once known never changes. */
        int learn = owner_uid && !c.uid[0];
        if (learn)
            memcpy(c.uid, owner_uid, REF_UID_HEX + 1);
        if ((!have || learn) && code_write(st, &c, created) != MQ_OK)
            return MQ_EIO;
        *out = c;
        return MQ_OK;
    }
    return MQ_EEXIST;
}

/* ---- cookies ------------------------------------------------------------------------------- */

void mq_referral_cookie(char *out, size_t cap, const char *name, const char *value, long max_age_s,
                        int secure)
{
    snprintf(out, cap, "%s=%s; Max-Age=%ld; Path=/; HttpOnly; SameSite=Lax%s", name, value,
             max_age_s, secure ? "; Secure" : "");
}

int mq_referral_ensure_uid(ref_state *st, mq_req *req, char uid[REF_UID_HEX + 1])
{
    const char *have = st->api->req_cookie(req, REF_COOKIE_UID);
    if (mq_referral_uid_valid(have)) {
        memcpy(uid, have, REF_UID_HEX + 1);
        return MQ_OK;
    }
    if (st->api->random_hex(uid, REF_UID_HEX / 2) != MQ_OK) {
        uid[0] = '\0';
        return MQ_EIO;
    }
    char cookie[160];
    mq_referral_cookie(cookie, sizeof cookie, REF_COOKIE_UID, uid, REF_UID_MAX_AGE_S,
                       st->secure_cookies);
    st->api->resp_header(req, "Set-Cookie", cookie);
    return MQ_OK;
}
