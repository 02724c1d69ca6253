/*
 * logs.c -- /admin/logs: recent orders and events, filtered, with the
 * distribution by provider, reason (error code) and status at the top
 * (runbook 1.1), as HTML, JSON or CSV.
 *
 * Rows come from the store: the latest record of every order (MQ_SCAN_
 * LATEST of "orders", first-append order = creation order) and every event
 * (MQ_SCAN_ALL of "events", append order). "Newest first" is the reverse of
 * that order. Each scan keeps only the last `limit` matches in a ring, so
 * memory stays O(limit) however long the files are, while the counts cover
 * every match. The CSV holds exactly the rows the page shows: the order
 * rows, then the event rows, each newest first.
 *
 * Filters (all optional, combined with AND):
 *   provider  exact ("kakao", "naver")
 *   status    an order's status; an event's type, where "approved" also
 *             matches "order.approved" (and "order.approved" matches an
 *             order whose status is "approved")
 *   reason    exact failure reason / error code ("timeout", "declined")
 *   order     one order id
 *   from, to  an order's created_ms, an event's ts; from inclusive, to
 *             exclusive (a date-only `to` includes that day); unix s or ms,
 *             "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" in Korean time, or
 *             with Z / +HH:MM
 *   limit     rows per kind, 1..10000 (default 100)
 *   kind      orders | events | all (default)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adm.h"

/* ---- filters -------------------------------------------------------------------------------- */

static int copy_param(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

int mq_admin_filter_parse(adm_filter *f, adm_param_fn get, void *ud, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->limit = ADM_LIMIT_DEFAULT;
    const char *v;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return MQ_EINVAL;                                                                          \
    } while (0)
    if ((v = get(ud, "provider")) && *v &&
        (!mq_admin_is_token(v, sizeof f->provider - 1) ||
         copy_param(f->provider, sizeof f->provider, v)))
        BAD("provider 값이 올바르지 않습니다.");
    if ((v = get(ud, "status")) && *v &&
        (!mq_admin_is_token(v, sizeof f->status - 1) || copy_param(f->status, sizeof f->status, v)))
        BAD("status 값이 올바르지 않습니다.");
    if ((v = get(ud, "reason")) && *v &&
        (has_control(v) || copy_param(f->reason, sizeof f->reason, v)))
        BAD("reason 값이 올바르지 않습니다 (128바이트 이하).");
    if ((v = get(ud, "order")) && *v &&
        (!mq_admin_is_token(v, sizeof f->order - 1) || copy_param(f->order, sizeof f->order, v)))
        BAD("order 값이 올바르지 않습니다.");
    int date_only = 0;
    if ((v = get(ud, "from")) && *v && mq_admin_parse_time(v, &f->from_ms, &date_only) != 0)
        BAD("from 시각을 읽을 수 없습니다 (예: 2026-11-27, 2026-11-27T14:00, 유닉스 초).");
    if ((v = get(ud, "to")) && *v) {
        if (mq_admin_parse_time(v, &f->to_ms, &date_only) != 0)
            BAD("to 시각을 읽을 수 없습니다 (예: 2026-11-27, 2026-11-27T15:00, 유닉스 초).");
        if (date_only)
            f->to_ms += 86400 * 1000LL;
    }
    if (f->from_ms && f->to_ms && f->from_ms >= f->to_ms)
        BAD("from이 to보다 앞서야 합니다.");
    if ((v = get(ud, "limit")) && *v) {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (!end || *end || n < 1 || n > ADM_LIMIT_MAX)
            BAD("limit은 1에서 %d 사이의 숫자여야 합니다.", ADM_LIMIT_MAX);
        f->limit = n;
    }
    if ((v = get(ud, "kind")) && *v) {
        if (!strcmp(v, "orders"))
            f->kind = ADM_KIND_ORDERS;
        else if (!strcmp(v, "events"))
            f->kind = ADM_KIND_EVENTS;
        else if (strcmp(v, "all") != 0)
            BAD("kind는 orders, events, all 중 하나여야 합니다.");
    }
#undef BAD
    return MQ_OK;
}

static void query_param(adm_buf *out, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    if (out->len)
        mq_admin_buf_add(out, "&", 1);
    mq_admin_buf_puts(out, name);
    mq_admin_buf_add(out, "=", 1);
    mq_admin_buf_urlencode(out, value);
}

void mq_admin_filter_query(const adm_filter *f, adm_buf *out)
{
    char n[32];
    query_param(out, "provider", f->provider);
    query_param(out, "status", f->status);
    query_param(out, "reason", f->reason);
    query_param(out, "order", f->order);
    if (f->from_ms) {
        snprintf(n, sizeof n, "%lld", (long long)f->from_ms);
        query_param(out, "from", n);
    }
    if (f->to_ms) {
        snprintf(n, sizeof n, "%lld", (long long)f->to_ms);
        query_param(out, "to", n);
    }
    if (f->limit != ADM_LIMIT_DEFAULT) {
        snprintf(n, sizeof n, "%ld", f->limit);
        query_param(out, "limit", n);
    }
    if (f->kind)
        query_param(out, "kind", f->kind == ADM_KIND_ORDERS ? "orders" : "events");
}

/* ---- rows ----------------------------------------------------------------------------------- */

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return "";
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *key, int *has)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v ||
        !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))) {
        if (has)
            *has = 0;
        return 0;
    }
    if (has)
        *has = 1;
    return json_object_get_int64(v);
}

/* Fields an event row shows in its own columns; the rest go to detail. */
static int column_key(const char *k)
{
    static const char *const cols[] = {"v",        "k",      "ts",     "type",      "order",
                                       "provider", "amount", "reason", "result_id", NULL};
    for (const char *const *c = cols; *c; c++)
        if (!strcmp(*c, k))
            return 1;
    return 0;
}

/* The event's other fields as "key=value key=value", at most 512 bytes
 * (cut on a UTF-8 boundary). */
static char *event_detail(json_object *j)
{
    adm_buf b = {0};
    json_object_object_foreach(j, key, val)
    {
        if (column_key(key) || !val)
            continue;
        if (b.len)
            mq_admin_buf_add(&b, " ", 1);
        mq_admin_buf_puts(&b, key);
        mq_admin_buf_add(&b, "=", 1);
        if (json_object_is_type(val, json_type_string))
            mq_admin_buf_puts(&b, json_object_get_string(val));
        else
            mq_admin_buf_puts(&b, json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN));
    }
    if (b.len > 512 && !b.oom) {
        size_t n = 512;
        while (n > 0 && ((unsigned char)b.data[n] & 0xC0) == 0x80)
            n--;
        b.data[n] = '\0';
        b.len = n;
    }
    return mq_admin_buf_take(&b);
}

int mq_admin_row_parse(adm_row *row, adm_row_kind kind, const char *json, size_t len)
{
    memset(row, 0, sizeof *row);
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return MQ_ENOMEM;
    json_object *j = json_tokener_parse_ex(tok, json, (int)len);
    json_tokener_free(tok);
    if (!j || !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        return MQ_EINVAL;
    }
    row->kind = kind;
    if (kind == ADM_ROW_ORDER) {
        row->order = strdup(jstr(j, "id"));
        row->status = strdup(jstr(j, "status"));
        row->ts_ms = jint(j, "created_ms", NULL);
        if (!row->ts_ms)
            row->ts_ms = jint(j, "ts", NULL);
        row->updated_ms = jint(j, "updated_ms", NULL);
        row->detail = strdup("");
    } else {
        row->order = strdup(jstr(j, "order"));
        row->status = strdup(jstr(j, "type"));
        row->ts_ms = jint(j, "ts", NULL);
        row->detail = event_detail(j);
    }
    row->provider = strdup(jstr(j, "provider"));
    row->reason = strdup(jstr(j, "reason"));
    row->result_id = strdup(jstr(j, "result_id"));
    row->amount = jint(j, "amount", &row->has_amount);
    json_object_put(j);
    if (!row->order || !row->status || !row->provider || !row->reason || !row->result_id ||
        !row->detail) {
        mq_admin_row_cleanup(row);
        return MQ_ENOMEM;
    }
    return MQ_OK;
}

void mq_admin_row_cleanup(adm_row *row)
{
    free(row->order);
    free(row->provider);
    free(row->status);
    free(row->reason);
    free(row->result_id);
    free(row->detail);
    memset(row, 0, sizeof *row);
}

static int status_matches(const char *want, const adm_row *row)
{
    if (!strcmp(row->status, want))
        return 1;
    /* "approved" ~ "order.approved", both ways. */
    if (!strncmp(row->status, "order.", 6) && !strcmp(row->status + 6, want))
        return 1;
    return !strncmp(want, "order.", 6) && !strcmp(want + 6, row->status);
}

int mq_admin_row_matches(const adm_filter *f, const adm_row *row)
{
    if (f->provider[0] && strcmp(row->provider, f->provider) != 0)
        return 0;
    if (f->status[0] && !status_matches(f->status, row))
        return 0;
    if (f->reason[0] && strcmp(row->reason, f->reason) != 0)
        return 0;
    if (f->order[0] && strcmp(row->order, f->order) != 0)
        return 0;
    if (f->from_ms && row->ts_ms < f->from_ms)
        return 0;
    if (f->to_ms && row->ts_ms >= f->to_ms)
        return 0;
    return 1;
}

/* ---- collecting ----------------------------------------------------------------------------- */

typedef struct collect {
    const adm_filter *f;
    adm_rows *r;
    adm_row_kind kind;
    size_t cap, head; /* ring: the oldest kept row is at head once full */
    int err;
} collect;

static int on_record(const char *key, const char *json, size_t len, void *ud)
{
    collect *c = ud;
    adm_row row;
    int rc = mq_admin_row_parse(&row, c->kind, json, len);
    if (rc == MQ_ENOMEM) {
        c->err = rc;
        return 1;
    }
    if (rc != MQ_OK)
        return 0; /* not an object: the host skips corrupt lines already */
    if (c->kind == ADM_ROW_ORDER && !row.order[0] && key && *key) {
        char *k = strdup(key);
        if (!k) {
            mq_admin_row_cleanup(&row);
            c->err = MQ_ENOMEM;
            return 1;
        }
        free(row.order);
        row.order = k;
    }
    if (!mq_admin_row_matches(c->f, &row)) {
        mq_admin_row_cleanup(&row);
        return 0;
    }
    adm_rows *r = c->r;
    r->matched++;
    mq_admin_counts_add(&r->by_provider, row.provider);
    mq_admin_counts_add(&r->by_reason, row.reason);
    mq_admin_counts_add(&r->by_status, row.status);
    if (r->n < c->cap) {
        r->rows[r->n++] = row;
    } else {
        mq_admin_row_cleanup(&r->rows[c->head]);
        r->rows[c->head] = row;
        c->head = (c->head + 1) % c->cap;
    }
    return 0;
}

static int collect_kind(adm_state *st, const adm_filter *f, adm_row_kind kind, adm_rows *r)
{
    memset(r, 0, sizeof *r);
    size_t cap = (size_t)f->limit;
    r->rows = calloc(cap, sizeof *r->rows);
    if (!r->rows)
        return MQ_ENOMEM;
    collect c = {.f = f, .r = r, .kind = kind, .cap = cap};
    int rc =
        st->api->store_scan(st->self, kind == ADM_ROW_ORDER ? ADM_COLL_ORDERS : ADM_COLL_EVENTS,
                            kind == ADM_ROW_ORDER ? MQ_SCAN_LATEST : MQ_SCAN_ALL, on_record, &c);
    if (rc == MQ_ENOENT)
        rc = MQ_OK;
    if (c.err)
        rc = c.err;
    /* Oldest-to-newest starts at head: reverse into newest first. */
    adm_row *sorted = rc == MQ_OK ? calloc(cap, sizeof *sorted) : NULL;
    if (rc == MQ_OK && !sorted)
        rc = MQ_ENOMEM;
    if (rc != MQ_OK) {
        free(sorted);
        mq_admin_rows_cleanup(r);
        return rc;
    }
    size_t start = r->n == cap ? c.head : 0;
    for (size_t i = 0; i < r->n; i++)
        sorted[r->n - 1 - i] = r->rows[(start + i) % cap];
    free(r->rows);
    r->rows = sorted;
    return MQ_OK;
}

int mq_admin_logs_collect(adm_state *st, const adm_filter *f, adm_rows *orders, adm_rows *events)
{
    memset(orders, 0, sizeof *orders);
    memset(events, 0, sizeof *events);
    int rc = MQ_OK;
    if (f->kind != ADM_KIND_EVENTS)
        rc = collect_kind(st, f, ADM_ROW_ORDER, orders);
    if (rc == MQ_OK && f->kind != ADM_KIND_ORDERS)
        rc = collect_kind(st, f, ADM_ROW_EVENT, events);
    if (rc != MQ_OK) {
        mq_admin_rows_cleanup(orders);
        mq_admin_rows_cleanup(events);
    }
    return rc;
}

void mq_admin_rows_cleanup(adm_rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        mq_admin_row_cleanup(&r->rows[i]);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static void csv_row(adm_buf *out, const adm_row *row)
{
    char t[32], u[32], n[32];
    mq_admin_fmt_kst(row->ts_ms, t, sizeof t);
    mq_admin_fmt_kst(row->updated_ms, u, sizeof u);
    mq_admin_buf_puts(out, row->kind == ADM_ROW_ORDER ? "order," : "event,");
    mq_admin_buf_csv(out, t);
    mq_admin_buf_printf(out, ",%lld,", (long long)row->ts_ms);
    mq_admin_buf_csv(out, row->order);
    mq_admin_buf_add(out, ",", 1);
    mq_admin_buf_csv(out, row->provider);
    mq_admin_buf_add(out, ",", 1);
    mq_admin_buf_csv(out, row->status);
    mq_admin_buf_add(out, ",", 1);
    if (row->has_amount) {
        snprintf(n, sizeof n, "%lld", row->amount);
        mq_admin_buf_csv(out, n);
    }
    mq_admin_buf_add(out, ",", 1);
    mq_admin_buf_csv(out, row->reason);
    mq_admin_buf_add(out, ",", 1);
    mq_admin_buf_csv(out, row->result_id);
    mq_admin_buf_add(out, ",", 1);
    mq_admin_buf_csv(out, u);
    mq_admin_buf_add(out, ",", 1);
    mq_admin_buf_csv(out, row->detail);
    mq_admin_buf_add(out, "\r\n", 2);
}

void mq_admin_logs_csv(const adm_rows *orders, const adm_rows *events, adm_buf *out)
{
    /* The BOM makes Excel read UTF-8 (Korean) instead of the ANSI code page. */
    mq_admin_buf_puts(out, "\xEF\xBB\xBF"
                           "kind,time_kst,ts_ms,order,provider,status,amount,reason,result_id,"
                           "updated_kst,detail\r\n");
    for (size_t i = 0; i < orders->n; i++)
        csv_row(out, &orders->rows[i]);
    for (size_t i = 0; i < events->n; i++)
        csv_row(out, &events->rows[i]);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static json_object *counts_obj(const adm_counts *c)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < c->n; i++)
        json_object_object_add(o, c->c[i].label, json_object_new_int64(c->c[i].n));
    if (c->other)
        json_object_object_add(o, "(other)", json_object_new_int64(c->other));
    return o;
}

static json_object *rows_obj(const adm_rows *r, adm_row_kind kind)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "matched", json_object_new_int64(r->matched));
    json_object *counts = json_object_new_object();
    json_object_object_add(counts, "provider", counts_obj(&r->by_provider));
    json_object_object_add(counts, "reason", counts_obj(&r->by_reason));
    json_object_object_add(counts, kind == ADM_ROW_ORDER ? "status" : "type",
                           counts_obj(&r->by_status));
    json_object_object_add(o, "counts", counts);
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < r->n; i++) {
        const adm_row *row = &r->rows[i];
        json_object *x = json_object_new_object();
        char t[32];
        mq_admin_fmt_kst(row->ts_ms, t, sizeof t);
        json_object_object_add(x, kind == ADM_ROW_ORDER ? "id" : "order",
                               json_object_new_string(row->order));
        json_object_object_add(x, kind == ADM_ROW_ORDER ? "status" : "type",
                               json_object_new_string(row->status));
        json_object_object_add(x, "provider", json_object_new_string(row->provider));
        json_object_object_add(x, "amount",
                               row->has_amount ? json_object_new_int64(row->amount) : NULL);
        json_object_object_add(x, "reason", json_object_new_string(row->reason));
        json_object_object_add(x, "result_id", json_object_new_string(row->result_id));
        json_object_object_add(x, kind == ADM_ROW_ORDER ? "created_ms" : "ts_ms",
                               json_object_new_int64(row->ts_ms));
        json_object_object_add(x, "time_kst", json_object_new_string(t));
        if (kind == ADM_ROW_ORDER)
            json_object_object_add(x, "updated_ms", json_object_new_int64(row->updated_ms));
        else
            json_object_object_add(x, "detail", json_object_new_string(row->detail));
        json_object_array_add(arr, x);
    }
    json_object_object_add(o, "rows", arr);
    return o;
}

int mq_admin_logs_json(const adm_filter *f, const adm_rows *orders, const adm_rows *events,
                       adm_buf *out)
{
    json_object *o = json_object_new_object();
    json_object *fl = json_object_new_object();
    json_object_object_add(fl, "provider", json_object_new_string(f->provider));
    json_object_object_add(fl, "status", json_object_new_string(f->status));
    json_object_object_add(fl, "reason", json_object_new_string(f->reason));
    json_object_object_add(fl, "order", json_object_new_string(f->order));
    json_object_object_add(fl, "from_ms", f->from_ms ? json_object_new_int64(f->from_ms) : NULL);
    json_object_object_add(fl, "to_ms", f->to_ms ? json_object_new_int64(f->to_ms) : NULL);
    json_object_object_add(fl, "limit", json_object_new_int64(f->limit));
    json_object_object_add(fl, "kind",
                           json_object_new_string(f->kind == ADM_KIND_ORDERS   ? "orders"
                                                  : f->kind == ADM_KIND_EVENTS ? "events"
                                                                               : "all"));
    json_object_object_add(o, "filters", fl);
    if (f->kind != ADM_KIND_EVENTS)
        json_object_object_add(o, "orders", rows_obj(orders, ADM_ROW_ORDER));
    if (f->kind != ADM_KIND_ORDERS)
        json_object_object_add(o, "events", rows_obj(events, ADM_ROW_EVENT));
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    mq_admin_buf_add(out, s, n);
    json_object_put(o);
    return out->oom ? MQ_ENOMEM : MQ_OK;
}

/* ---- HTML ----------------------------------------------------------------------------------- */

static void fmt_krw(long long v, char *out, size_t cap)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t n = strlen(digits), o = 0;
    if (v < 0 && o + 1 < cap)
        out[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

/* A link to the logs with f plus one changed filter. */
static void filter_link(adm_buf *out, const adm_filter *f, const char *field, const char *value)
{
    adm_filter g = *f;
    char *dst = !strcmp(field, "provider") ? g.provider
                : !strcmp(field, "reason") ? g.reason
                                           : g.status;
    size_t cap = !strcmp(field, "provider") ? sizeof g.provider
                 : !strcmp(field, "reason") ? sizeof g.reason
                                            : sizeof g.status;
    snprintf(dst, cap, "%s", value);
    adm_buf q = {0};
    mq_admin_filter_query(&g, &q);
    mq_admin_buf_puts(out, "/admin/logs");
    if (q.len) {
        mq_admin_buf_add(out, "?", 1);
        mq_admin_buf_html(out, q.data);
    }
    mq_admin_buf_cleanup(&q);
}

static void counts_html(adm_buf *out, const adm_filter *f, const char *title, const char *field,
                        const adm_counts *c)
{
    mq_admin_buf_printf(out, "<div class=\"chips\" data-count=\"%s\"><b>%s</b> ", field, title);
    if (!c->n && !c->other)
        mq_admin_buf_puts(out, "<span>-</span>");
    for (size_t i = 0; i < c->n; i++) {
        if (!c->c[i].label[0]) {
            mq_admin_buf_printf(out, "<span>(없음) %ld</span>", c->c[i].n);
            continue;
        }
        mq_admin_buf_puts(out, "<span><a href=\"");
        filter_link(out, f, field, c->c[i].label);
        mq_admin_buf_puts(out, "\">");
        mq_admin_buf_html(out, c->c[i].label);
        mq_admin_buf_printf(out, "</a> %ld</span>", c->c[i].n);
    }
    if (c->other)
        mq_admin_buf_printf(out, "<span>(기타) %ld</span>", c->other);
    mq_admin_buf_puts(out, "</div>");
}

static void input(adm_buf *out, const char *label, const char *name, const char *value,
                  const char *placeholder)
{
    mq_admin_buf_printf(out, "<label>%s <input name=\"%s\" value=\"", label, name);
    mq_admin_buf_html(out, value);
    mq_admin_buf_printf(out, "\" placeholder=\"%s\" size=\"14\"></label>", placeholder);
}

static void td(adm_buf *out, const char *s, const char *cls)
{
    if (cls)
        mq_admin_buf_printf(out, "<td class=\"%s\">", cls);
    else
        mq_admin_buf_puts(out, "<td>");
    mq_admin_buf_html(out, s);
    mq_admin_buf_puts(out, "</td>");
}

static void filter_form(adm_buf *out, const adm_filter *f)
{
    char from[32] = "", to[32] = "", lim[16];
    mq_admin_fmt_kst(f->from_ms, from, sizeof from);
    mq_admin_fmt_kst(f->to_ms, to, sizeof to);
    snprintf(lim, sizeof lim, "%ld", f->limit);
    mq_admin_buf_puts(out, "<form method=\"get\" action=\"/admin/logs\"><fieldset><legend>필터"
                           "</legend>");
    input(out, "결제수단", "provider", f->provider, "kakao, naver");
    input(out, "상태", "status", f->status, "failed, approved");
    input(out, "사유(에러 코드)", "reason", f->reason, "timeout");
    input(out, "주문", "order", f->order, "MQ...");
    input(out, "시작", "from", from, "2026-11-27 14:00");
    input(out, "끝", "to", to, "2026-11-27 15:00");
    input(out, "최대 건수", "limit", lim, "100");
    mq_admin_buf_printf(out,
                        "<label>종류 <select name=\"kind\"><option value=\"all\"%s>주문+이벤트"
                        "</option><option value=\"orders\"%s>주문</option><option value=\"events\""
                        "%s>이벤트</option></select></label> <button type=\"submit\">적용</button> "
                        "<a href=\"/admin/logs\">초기화</a></fieldset></form>",
                        f->kind == ADM_KIND_ALL ? " selected" : "",
                        f->kind == ADM_KIND_ORDERS ? " selected" : "",
                        f->kind == ADM_KIND_EVENTS ? " selected" : "");
}

static void orders_html(adm_buf *out, const adm_rows *r, const adm_ctx *ctx)
{
    mq_admin_buf_printf(out, "<h2>주문 (%ld건 중 %zu건, 최신순)</h2>", r->matched, r->n);
    mq_admin_buf_puts(out, "<table id=\"orders\"><tr><th>생성 시각</th><th>주문</th><th>결제수단"
                           "</th><th>상태</th><th>금액</th><th>사유</th><th>결과 ID</th>"
                           "<th>갱신 시각</th><th>작업</th></tr>");
    for (size_t i = 0; i < r->n; i++) {
        const adm_row *row = &r->rows[i];
        char t[32], u[32], amount[40] = "";
        mq_admin_fmt_kst(row->ts_ms, t, sizeof t);
        mq_admin_fmt_kst(row->updated_ms, u, sizeof u);
        if (row->has_amount) {
            fmt_krw(row->amount, amount, sizeof amount - 4);
            strcat(amount, "원");
        }
        mq_admin_buf_puts(out, "<tr data-kind=\"order\">");
        td(out, t, NULL);
        td(out, row->order, NULL);
        td(out, row->provider, NULL);
        td(out, row->status, !strcmp(row->status, "failed") ? "bad" : NULL);
        td(out, amount, "num");
        td(out, row->reason, "wrap");
        td(out, row->result_id, NULL);
        td(out, u, NULL);
        mq_admin_buf_puts(out, "<td>");
        if (!strcmp(row->status, "approved")) {
            mq_admin_buf_puts(out, "<form method=\"post\" action=\"/admin/actions/refund\" "
                                   "class=\"inline\">");
            if (ctx->csrf[0]) {
                mq_admin_buf_puts(out, "<input type=\"hidden\" name=\"csrf\" value=\"");
                mq_admin_buf_html(out, ctx->csrf);
                mq_admin_buf_puts(out, "\">");
            }
            mq_admin_buf_puts(out, "<input type=\"hidden\" name=\"order\" value=\"");
            mq_admin_buf_html(out, row->order);
            mq_admin_buf_puts(out,
                              "\"><input name=\"reason\" placeholder=\"환불 사유\" size=\"10\">"
                              "<button type=\"submit\">환불</button></form>");
        }
        mq_admin_buf_puts(out, "</td></tr>");
    }
    if (!r->n)
        mq_admin_buf_puts(out, "<tr><td colspan=\"9\">해당하는 주문이 없습니다.</td></tr>");
    mq_admin_buf_puts(out, "</table>");
}

static void events_html(adm_buf *out, const adm_rows *r)
{
    mq_admin_buf_printf(out, "<h2>이벤트 (%ld건 중 %zu건, 최신순)</h2>", r->matched, r->n);
    mq_admin_buf_puts(out, "<table id=\"events\"><tr><th>시각</th><th>종류</th><th>주문</th>"
                           "<th>결제수단</th><th>금액</th><th>사유</th><th>상세</th></tr>");
    for (size_t i = 0; i < r->n; i++) {
        const adm_row *row = &r->rows[i];
        char t[32], amount[40] = "";
        mq_admin_fmt_kst(row->ts_ms, t, sizeof t);
        if (row->has_amount) {
            fmt_krw(row->amount, amount, sizeof amount - 4);
            strcat(amount, "원");
        }
        mq_admin_buf_puts(out, "<tr data-kind=\"event\">");
        td(out, t, NULL);
        td(out, row->status, NULL);
        td(out, row->order, NULL);
        td(out, row->provider, NULL);
        td(out, amount, "num");
        td(out, row->reason, "wrap");
        td(out, row->detail, "wrap");
        mq_admin_buf_puts(out, "</tr>");
    }
    if (!r->n)
        mq_admin_buf_puts(out, "<tr><td colspan=\"7\">해당하는 이벤트가 없습니다.</td></tr>");
    mq_admin_buf_puts(out, "</table>");
}

void mq_admin_logs_html(const adm_filter *f, const adm_rows *orders, const adm_rows *events,
                        const adm_ctx *ctx, adm_buf *out)
{
    mq_admin_page_begin(out, "로그", "logs", ctx);
    mq_admin_buf_puts(out, "<h1>주문·이벤트 로그</h1>");
    filter_form(out, f);
    adm_buf q = {0};
    mq_admin_filter_query(f, &q);
    mq_admin_buf_puts(out, "<p><a id=\"csv\" href=\"/admin/logs?");
    if (q.len) {
        mq_admin_buf_html(out, q.data);
        mq_admin_buf_puts(out, "&amp;");
    }
    mq_admin_buf_puts(out, "format=csv\">CSV 내보내기 (이 필터 그대로)</a> · <a href=\"/admin/"
                           "logs?");
    if (q.len) {
        mq_admin_buf_html(out, q.data);
        mq_admin_buf_puts(out, "&amp;");
    }
    mq_admin_buf_puts(out, "format=json\">JSON</a> · 시각은 한국 시간(KST)</p>");
    mq_admin_buf_cleanup(&q);

    mq_admin_buf_puts(out, "<h2>분포</h2>");
    if (f->kind != ADM_KIND_EVENTS) {
        counts_html(out, f, "주문 · 결제수단별", "provider", &orders->by_provider);
        counts_html(out, f, "주문 · 사유(에러 코드)별", "reason", &orders->by_reason);
        counts_html(out, f, "주문 · 상태별", "status", &orders->by_status);
    }
    if (f->kind != ADM_KIND_ORDERS) {
        counts_html(out, f, "이벤트 · 결제수단별", "provider", &events->by_provider);
        counts_html(out, f, "이벤트 · 사유(에러 코드)별", "reason", &events->by_reason);
        counts_html(out, f, "이벤트 · 종류별", "status", &events->by_status);
    }
    if (f->kind != ADM_KIND_EVENTS)
        orders_html(out, orders, ctx);
    if (f->kind != ADM_KIND_ORDERS)
        events_html(out, events);
    mq_admin_page_end(out);
}
