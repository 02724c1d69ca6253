/*
 * track.c -- what a referral link does to a browser: visits (counted once
 * per browser and code, first touch kept in mq_ref) and attribution (a new
 * result of a referred browser is tied to the referring code). Both ignore
 * the code's own owner: sharing a link and opening it yourself, or taking
 * the quiz again through your own link, refers nobody.
 */
#include <stdio.h>
#include <string.h>

#include "ref.h"

static void count_self(ref_state *st, const char *stage)
{
    const char *lv[] = {stage};
    st->api->metric_add(st->m.self, lv, 1);
}

ref_visit mq_referral_visit(ref_state *st, mq_req *req, const char *code_in, const char *via,
                            ref_code *found)
{
    ref_code c;
    if (found)
        memset(found, 0, sizeof *found);
    if (mq_referral_code_lookup(st, code_in, &c) != MQ_OK)
        return REF_VISIT_UNKNOWN;
    if (found)
        *found = c;
    char uid[REF_UID_HEX + 1] = "";
    mq_referral_ensure_uid(st, req, uid);
    if (c.uid[0] && strcmp(c.uid, uid) == 0) {
        count_self(st, "visit");
        return REF_VISIT_SELF;
    }
    char have[MQ_REFERRAL_CODE_LEN + 1];
    const char *cookie = st->api->req_cookie(req, REF_COOKIE_REF);
    int has_ref = mq_referral_code_norm(cookie, have) == 0;
    if (has_ref && strcmp(have, c.code) == 0)
        return REF_VISIT_REPEAT;
    /* First touch: a browser keeps the first code it came with (codes are
     * never deleted; a malformed cookie counts as none). */
    if (!has_ref) {
        char set[160];
        mq_referral_cookie(set, sizeof set, REF_COOKIE_REF, c.code, st->cookie_days * 86400,
                           st->secure_cookies);
        st->api->resp_header(req, "Set-Cookie", set);
    }
    json_object *e = json_object_new_object();
    if (e) {
        json_object_object_add(e, "code", json_object_new_string(c.code));
        json_object_object_add(e, "referrer_result", json_object_new_string(c.result_id));
        json_object_object_add(e, "uid", json_object_new_string(uid));
        json_object_object_add(e, "via", json_object_new_string(via));
    }
    /* A visit is statistics: it need not wait for the disk. */
    mq_referral_event(st, NULL, "referral.visit", e);
    const char *lv[] = {via};
    st->api->metric_add(st->m.visits, lv, 1);
    return REF_VISIT_COUNTED;
}

ref_attrib mq_referral_attribute(ref_state *st, mq_req *req, const char *result_id)
{
    if (!mq_referral_is_token(result_id, REF_ID_MAX))
        return REF_ATTRIB_ERROR;
    char uid[REF_UID_HEX + 1] = "";
    mq_referral_ensure_uid(st, req, uid);
    /* The new result is this browser's: record its code and owner now. */
    ref_code mine;
    if (mq_referral_code_of(st, result_id, uid[0] ? uid : NULL, 1, &mine) != MQ_OK)
        return REF_ATTRIB_ERROR;

    ref_code c;
    const char *cookie = st->api->req_cookie(req, REF_COOKIE_REF);
    if (!cookie || mq_referral_code_lookup(st, cookie, &c) != MQ_OK)
        return REF_ATTRIB_NONE;
    if (strcmp(c.result_id, result_id) == 0 || (c.uid[0] && strcmp(c.uid, uid) == 0)) {
        count_self(st, "attribute");
        return REF_ATTRIB_SELF;
    }
    json_object *old = mq_referral_load(st, REF_COLL_ATTRIB, result_id);
    if (old) {
        json_object_put(old);
        return REF_ATTRIB_ALREADY;
    }
    json_object *o = json_object_new_object();
    if (o) {
        json_object_object_add(o, "result_id", json_object_new_string(result_id));
        json_object_object_add(o, "code", json_object_new_string(c.code));
        json_object_object_add(o, "referrer_result", json_object_new_string(c.result_id));
        json_object_object_add(o, "uid", json_object_new_string(uid));
        json_object_object_add(o, "created_ms", json_object_new_int64(st->clock_ms()));
    }
    if (mq_referral_append(st, req, REF_COLL_ATTRIB, result_id, o) != MQ_OK)
        return REF_ATTRIB_ERROR;
    json_object *e = json_object_new_object();
    if (e) {
        json_object_object_add(e, "result_id", json_object_new_string(result_id));
        json_object_object_add(e, "code", json_object_new_string(c.code));
        json_object_object_add(e, "referrer_result", json_object_new_string(c.result_id));
    }
    mq_referral_event(st, NULL, "referral.attrib", e);
    st->api->metric_add(st->m.attributions, NULL, 1);
    return REF_ATTRIB_DONE;
}
