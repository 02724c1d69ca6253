/*
 * gw_json.h -- json-c helpers for the gateway parsers (kakao.c, naver.c).
 * Internal to the plugin; json-c never crosses the plugin boundary.
 */
#ifndef MQ_PAYMENTS_GW_JSON_H
#define MQ_PAYMENTS_GW_JSON_H

#include <stdint.h>

#include <json-c/json.h>

/* The response body as a JSON object (caller puts it), NULL otherwise. */
json_object *mq_payments_json_body(const char *body, size_t len);
/* Member k of o when it is a string, else NULL. Borrowed from o. */
const char *mq_payments_json_str(json_object *o, const char *k);
/* Member k of o when it is an integer: 1 and *v set, else 0. */
int mq_payments_json_int(json_object *o, const char *k, int64_t *v);
/* Member k of o when it is an object (or array for _arr), else NULL. */
json_object *mq_payments_json_obj(json_object *o, const char *k);
json_object *mq_payments_json_arr(json_object *o, const char *k);
/* Serialize (plain, no slash escapes) and free o; caller frees the text. */
char *mq_payments_json_take(json_object *o, size_t *len);

#endif /* MQ_PAYMENTS_GW_JSON_H */
