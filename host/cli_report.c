/*
 * cli_report.c -- `mindquiz report ref [--from YYYY-MM-DD] [--to YYYY-MM-DD]
 * [--top N] [--csv]`: the referral report (the runbook's weekly
 * `npm run report:ref`): top referrers with their visits, referred
 * results, conversions, refunds, revenue and rewards, and the daily trend,
 * over a range of Korean days (both ends included; default: everything).
 *
 * It reads DATA_DIR's NDJSON files directly (see cli_report.h), so it
 * works beside a running host and changes nothing.
 *
 * Exit status: 0 report written; 1 the data could not be read or the
 * report not written; 64 usage error.
 */
#include "cli.h"
#include "cli_report.h"
#include "paths.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 64
#define DAY_MS (24 * 3600 * 1000LL)
#define KST_OFFSET_MS (9 * 3600 * 1000LL)
#define MAX_FILLED_DAYS 400 /* longer ranges list active days only */

/* ---- the model -------------------------------------------------------------------- */

typedef struct ref_row {
    char key[80];             /* the code, or the day "YYYY-MM-DD" */
    char referrer_result[80]; /* referrer rows only */
    int64_t visits, results, conversions, refunds, revenue, rewards, reward_krw;
} ref_row;

typedef struct row_set {
    json_object *index; /* key -> int index into rows */
    ref_row *rows;
    size_t n, cap;
} row_set;

struct mq_ref_report {
    int64_t from_ms, to_ms;
    json_object *codes;     /* code -> its ref_codes record (latest) */
    json_object *attrib;    /* result id -> ref_attrib record (latest) */
    json_object *referrals; /* order id -> referrals record (latest) */
    row_set referrers, days;
    ref_row total;
    size_t skipped;
    int built;
};

mq_ref_report *mq_ref_report_new(int64_t from_ms, int64_t to_ms)
{
    mq_ref_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->from_ms = from_ms;
    r->to_ms = to_ms;
    r->codes = json_object_new_object();
    r->attrib = json_object_new_object();
    r->referrals = json_object_new_object();
    r->referrers.index = json_object_new_object();
    r->days.index = json_object_new_object();
    if (!r->codes || !r->attrib || !r->referrals || !r->referrers.index || !r->days.index) {
        mq_ref_report_free(r);
        return NULL;
    }
    return r;
}

void mq_ref_report_free(mq_ref_report *r)
{
    if (!r)
        return;
    json_object_put(r->codes);
    json_object_put(r->attrib);
    json_object_put(r->referrals);
    json_object_put(r->referrers.index);
    json_object_put(r->days.index);
    free(r->referrers.rows);
    free(r->days.rows);
    free(r);
}

size_t mq_ref_report_skipped(const mq_ref_report *r)
{
    return r->skipped;
}

static ref_row *row_get(row_set *s, const char *key)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(s->index, key, &v))
        return &s->rows[json_object_get_int(v)];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        ref_row *n = realloc(s->rows, cap * sizeof *n);
        if (!n)
            return NULL;
        s->rows = n;
        s->cap = cap;
    }
    ref_row *row = &s->rows[s->n];
    memset(row, 0, sizeof *row);
    snprintf(row->key, sizeof row->key, "%s", key);
    json_object_object_add(s->index, key, json_object_new_int((int)s->n));
    s->n++;
    return row;
}

static const char *str_of(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static int64_t int_of(json_object *o, const char *k, int64_t def)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
               ? json_object_get_int64(v)
               : def;
}

static int bool_of(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

/* ---- days ------------------------------------------------------------------------------- */

int mq_ref_report_day_ms(const char *s, int64_t *ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y = 0, m = 0, d = 0, n = 0;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        s[4] != '-' || s[7] != '-' || y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    /* timegm normalizes 2026-02-30 to March: refuse what moved. */
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != m - 1)
        return -1;
    *ms = (int64_t)t * 1000 - KST_OFFSET_MS;
    return 0;
}

static void day_of(int64_t ms, char out[11])
{
    time_t t = (time_t)((ms + KST_OFFSET_MS) / 1000);
    if (ms + KST_OFFSET_MS < 0)
        t = 0;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static int in_range(const mq_ref_report *r, int64_t ms)
{
    return ms > 0 && (!r->from_ms || ms >= r->from_ms) && (!r->to_ms || ms < r->to_ms);
}

/* ---- feeding ------------------------------------------------------------------------------ */

/* The rows a happening at `ms` through `code` counts in; NULL when it is
 * outside the range. */
static int rows_for(mq_ref_report *r, const char *code, int64_t ms, ref_row **ref, ref_row **day)
{
    char d[11];
    if (!in_range(r, ms) || !*code)
        return -1;
    day_of(ms, d);
    *ref = row_get(&r->referrers, code);
    *day = row_get(&r->days, d);
    return *ref && *day ? 0 : -1;
}

void mq_ref_report_line(mq_ref_report *r, const char *coll, const char *line, size_t len)
{
    int is_events = strcmp(coll, "events") == 0;
    /* events.ndjson holds every payment event too: only parse ours. */
    if (is_events && !memmem(line, len, "\"referral.visit\"", 16))
        return;
    if (len == 0 || len > 1 << 20)
        return;
    json_tokener *tok = json_tokener_new();
    json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
    if (o && (json_tokener_get_error(tok) != json_tokener_success ||
              !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    if (!o) {
        r->skipped++;
        return;
    }
    r->built = 0;
    const char *key = str_of(o, "k");
    if (is_events) {
        ref_row *ref, *day;
        if (strcmp(str_of(o, "type"), "referral.visit") == 0 &&
            rows_for(r, str_of(o, "code"), int_of(o, "ts", 0), &ref, &day) == 0) {
            ref->visits++;
            day->visits++;
            r->total.visits++;
            if (!ref->referrer_result[0])
                snprintf(ref->referrer_result, sizeof ref->referrer_result, "%s",
                         str_of(o, "referrer_result"));
        }
        json_object_put(o);
    } else if (*key && strcmp(coll, "ref_codes") == 0) {
        json_object_object_add(r->codes, key, o);
    } else if (*key && strcmp(coll, "ref_attrib") == 0) {
        json_object_object_add(r->attrib, key, o);
    } else if (*key && strcmp(coll, "referrals") == 0) {
        json_object_object_add(r->referrals, key, o);
    } else {
        json_object_put(o);
    }
}

int mq_ref_report_load(mq_ref_report *r, const char *data_dir, char *err, size_t errlen)
{
    static const char *const colls[] = {"ref_codes", "events", "ref_attrib", "referrals"};
    char path[4096];
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < sizeof colls / sizeof colls[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.ndjson", data_dir, colls[i]);
        FILE *f = fopen(path, "r");
        if (!f) {
            if (errno == ENOENT)
                continue;
            snprintf(err, errlen, "open \"%s\" failed: %s", path, strerror(errno));
            free(line);
            return -1;
        }
        ssize_t n;
        while ((n = getline(&line, &cap, f)) >= 0) {
            size_t len = (size_t)n;
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            if (len)
                mq_ref_report_line(r, colls[i], line, len);
        }
        int bad = ferror(f);
        fclose(f);
        if (bad) {
            snprintf(err, errlen, "read \"%s\" failed", path);
            free(line);
            return -1;
        }
    }
    free(line);
    return 0;
}

/* The keyed records (latest per key) into the rows. */
static void build(mq_ref_report *r)
{
    if (r->built)
        return;
    /* Visits were counted as lines came; the rest is (re)counted here. */
    for (size_t i = 0; i < r->referrers.n; i++) {
        ref_row *x = &r->referrers.rows[i];
        memset(&x->results, 0, sizeof *x - offsetof(ref_row, results));
    }
    for (size_t i = 0; i < r->days.n; i++) {
        ref_row *x = &r->days.rows[i];
        memset(&x->results, 0, sizeof *x - offsetof(ref_row, results));
    }
    int64_t visits = r->total.visits;
    memset(&r->total, 0, sizeof r->total);
    r->total.visits = visits;

    ref_row *ref, *day;
    json_object_object_foreach(r->attrib, ak, a)
    {
        (void)ak;
        if (rows_for(r, str_of(a, "code"), int_of(a, "created_ms", int_of(a, "ts", 0)), &ref,
                     &day) == 0) {
            ref->results++;
            day->results++;
            r->total.results++;
        }
    }
    json_object_object_foreach(r->referrals, ok, o)
    {
        (void)ok;
        if (rows_for(r, str_of(o, "code"), int_of(o, "approved_ms", int_of(o, "ts", 0)), &ref,
                     &day) != 0)
            continue;
        int refunded = bool_of(o, "refunded");
        int64_t amount = refunded ? 0 : int_of(o, "amount", 0);
        int granted = strcmp(str_of(o, "reward"), "granted") == 0;
        int64_t krw = granted ? int_of(o, "reward_krw", 0) : 0;
        ref_row *rows[] = {ref, day, &r->total};
        for (size_t i = 0; i < 3; i++) {
            rows[i]->conversions++;
            rows[i]->refunds += refunded;
            rows[i]->revenue += amount;
            rows[i]->rewards += granted;
            rows[i]->reward_krw += krw;
        }
        if (!ref->referrer_result[0])
            snprintf(ref->referrer_result, sizeof ref->referrer_result, "%s",
                     str_of(o, "referrer_result"));
    }
    /* The code's own record names its result best. */
    for (size_t i = 0; i < r->referrers.n; i++) {
        json_object *c = NULL;
        ref_row *x = &r->referrers.rows[i];
        if (json_object_object_get_ex(r->codes, x->key, &c) && *str_of(c, "result_id"))
            snprintf(x->referrer_result, sizeof x->referrer_result, "%s", str_of(c, "result_id"));
    }
    r->built = 1;
}

/* ---- output -----------------------------------------------------------------------------------
 */

static int by_rank(const void *a, const void *b)
{
    const ref_row *x = a, *y = b;
    if (x->conversions != y->conversions)
        return x->conversions > y->conversions ? -1 : 1;
    if (x->revenue != y->revenue)
        return x->revenue > y->revenue ? -1 : 1;
    if (x->visits != y->visits)
        return x->visits > y->visits ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const ref_row *)a)->key, ((const ref_row *)b)->key);
}

/* The trend's days: every day from the range's (or the data's) first to
 * its last, zeros included, unless that is more than MAX_FILLED_DAYS. */
static ref_row *trend_days(mq_ref_report *r, size_t *n)
{
    ref_row *days = NULL;
    *n = 0;
    char first[11] = "", last[11] = "";
    if (r->days.n) {
        qsort(r->days.rows, r->days.n, sizeof *r->days.rows, by_key);
        json_object_put(r->days.index); /* the order changed: reindex */
        r->days.index = json_object_new_object();
        for (size_t i = 0; i < r->days.n; i++)
            json_object_object_add(r->days.index, r->days.rows[i].key, json_object_new_int((int)i));
        memcpy(first, r->days.rows[0].key, 11);
        memcpy(last, r->days.rows[r->days.n - 1].key, 11);
    }
    if (r->from_ms)
        day_of(r->from_ms, first);
    if (r->to_ms)
        day_of(r->to_ms - 1, last);
    int64_t a = 0, b = 0;
    if (!first[0] || !last[0] || mq_ref_report_day_ms(first, &a) != 0 ||
        mq_ref_report_day_ms(last, &b) != 0 || b < a || (b - a) / DAY_MS >= MAX_FILLED_DAYS) {
        /* Active days only. */
        days = r->days.n ? malloc(r->days.n * sizeof *days) : NULL;
        if (days) {
            memcpy(days, r->days.rows, r->days.n * sizeof *days);
            *n = r->days.n;
        }
        return days;
    }
    size_t count = (size_t)((b - a) / DAY_MS) + 1;
    days = calloc(count, sizeof *days);
    if (!days)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        day_of(a + (int64_t)i * DAY_MS, days[i].key);
        json_object *v = NULL;
        if (json_object_object_get_ex(r->days.index, days[i].key, &v))
            days[i] = r->days.rows[json_object_get_int(v)];
    }
    *n = count;
    return days;
}

/* One CSV field (RFC 4180: quoted when it holds , " CR or LF). */
static void csv_field(FILE *out, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputs(last ? "\r\n" : ",", out);
}

static void csv_row(FILE *out, const char *section, const char *day, const char *code,
                    const char *result, const ref_row *x)
{
    csv_field(out, section, 0);
    csv_field(out, day, 0);
    csv_field(out, code, 0);
    csv_field(out, result, 0);
    fprintf(
        out,
        "%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "\r\n",
        x->visits, x->results, x->conversions, x->refunds, x->revenue, x->rewards, x->reward_krw);
}

/* Columns of a UTF-8 string on a terminal: Hangul and CJK take two. */
static size_t display_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp = *p;
        int extra = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;
        if (extra)
            cp &= 0x3f >> extra;
        p++;
        for (int i = 0; i < extra && (*p & 0xc0) == 0x80; i++, p++)
            cp = (cp << 6) | (*p & 0x3f);
        w += (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
                     (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
                     (cp >= 0xff00 && cp <= 0xff60)
                 ? 2
                 : 1;
    }
    return w;
}

/* s padded to `width` columns, on the left (right-aligned) or the right. */
static void cell(FILE *out, const char *s, size_t width, int right)
{
    size_t w = display_width(s);
    if (right)
        for (; w < width; w++)
            fputc(' ', out);
    fputs(s, out);
    if (!right)
        for (; w < width; w++)
            fputc(' ', out);
}

/* 1234567 -> "1,234,567" */
static const char *grouped(int64_t v, char *buf, size_t cap)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, v < 0 ? -v : v);
    size_t len = strlen(digits), o = 0;
    if (v < 0 && o + 1 < cap)
        buf[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < cap; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

enum { NUM_COLS = 7 };
static const char *const NUM_HEADS[NUM_COLS] = {"방문",     "참여", "전환",      "환불",
                                                "매출(원)", "보상", "보상액(원)"};
static const size_t NUM_WIDTH[NUM_COLS] = {6, 6, 6, 6, 12, 6, 12};

static void table_numbers(FILE *out, const ref_row *x)
{
    int64_t v[NUM_COLS] = {x->visits,  x->results, x->conversions, x->refunds,
                           x->revenue, x->rewards, x->reward_krw};
    for (int i = 0; i < NUM_COLS; i++) {
        char b[40];
        fputs("  ", out);
        cell(out, grouped(v[i], b, sizeof b), NUM_WIDTH[i], 1);
    }
    fputc('\n', out);
}

static void table_heads(FILE *out)
{
    for (int i = 0; i < NUM_COLS; i++) {
        fputs("  ", out);
        cell(out, NUM_HEADS[i], NUM_WIDTH[i], 1);
    }
    fputc('\n', out);
}

int mq_ref_report_write(mq_ref_report *r, FILE *out, int csv, int top)
{
    build(r);
    ref_row *refs = r->referrers.n ? malloc(r->referrers.n * sizeof *refs) : NULL;
    if (r->referrers.n && !refs)
        return -1;
    if (refs) {
        memcpy(refs, r->referrers.rows, r->referrers.n * sizeof *refs);
        qsort(refs, r->referrers.n, sizeof *refs, by_rank);
    }
    size_t ndays = 0;
    ref_row *days = trend_days(r, &ndays);

    if (csv) {
        fputs("section,day,code,referrer_result,visits,results,conversions,refunds,revenue_krw,"
              "rewards,reward_krw\r\n",
              out);
        for (size_t i = 0; i < r->referrers.n; i++)
            csv_row(out, "referrer", "", refs[i].key, refs[i].referrer_result, &refs[i]);
        for (size_t i = 0; i < ndays; i++)
            csv_row(out, "day", days[i].key, "", "", &days[i]);
        csv_row(out, "total", "", "", "", &r->total);
    } else {
        char from[11] = "처음", to[11] = "지금";
        if (r->from_ms)
            day_of(r->from_ms, from);
        if (r->to_ms)
            day_of(r->to_ms - 1, to);
        fprintf(out, "리퍼럴 리포트  %s ~ %s (KST)\n\n", from, to);
        size_t shown = top > 0 && (size_t)top < r->referrers.n ? (size_t)top : r->referrers.n;
        fprintf(out, "상위 추천인 (전환 순, %zu/%zu명)\n", shown, r->referrers.n);
        cell(out, "순위", 4, 1);
        fputs("  ", out);
        cell(out, "코드", 8, 0);
        fputs("  ", out);
        cell(out, "추천인 결과", 14, 0);
        table_heads(out);
        for (size_t i = 0; i < shown; i++) {
            char rank[24];
            snprintf(rank, sizeof rank, "%zu", i + 1);
            cell(out, rank, 4, 1);
            fputs("  ", out);
            cell(out, refs[i].key, 8, 0);
            fputs("  ", out);
            cell(out, refs[i].referrer_result[0] ? refs[i].referrer_result : "-", 14, 0);
            table_numbers(out, &refs[i]);
        }
        if (!shown)
            fputs("  (없음)\n", out);
        fputs("\n일별 추이\n", out);
        cell(out, "날짜", 10, 0);
        table_heads(out);
        for (size_t i = 0; i < ndays; i++) {
            cell(out, days[i].key, 10, 0);
            table_numbers(out, &days[i]);
        }
        cell(out, "합계", 10, 0);
        table_numbers(out, &r->total);
        if (r->skipped)
            fprintf(out, "\n(읽을 수 없는 줄 %zu개를 건너뛰었습니다)\n", r->skipped);
    }
    free(refs);
    free(days);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/* ---- the command ---------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: mindquiz report ref [--env PATH] [--from YYYY-MM-DD] "
                    "[--to YYYY-MM-DD] [--top N] [--csv]\n"
                    "  Referral report from DATA_DIR: top referrers (visits, referred results,\n"
                    "  conversions, refunds, revenue, rewards) and the daily trend, Korean days,\n"
                    "  both ends included. --csv: one RFC 4180 table of every referrer and day.\n");
    return EXIT_USAGE;
}

int mq_cmd_report(int argc, char **argv, const char *env_path, mq_config *cfg)
{
    (void)env_path;
    if (argc < 2 || strcmp(argv[1], "ref") != 0)
        return usage();
    int64_t from = 0, to = 0;
    int csv = 0;
    long top = 10;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--csv") == 0) {
            csv = 1;
        } else if ((strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) && i + 1 < argc) {
            int64_t ms = 0;
            if (mq_ref_report_day_ms(argv[++i], &ms) != 0) {
                fprintf(stderr, "mindquiz report ref: %s \"%s\" is not a date (YYYY-MM-DD)\n", a,
                        argv[i]);
                return EXIT_USAGE;
            }
            if (a[2] == 'f')
                from = ms;
            else
                to = ms + DAY_MS; /* --to is included */
        } else if (strcmp(a, "--top") == 0 && i + 1 < argc) {
            char *end = NULL;
            top = strtol(argv[++i], &end, 10);
            if (*end || top < 1 || top > 100000)
                return usage();
        } else {
            return usage();
        }
    }
    if (from && to && to <= from) {
        fprintf(stderr, "mindquiz report ref: --to is before --from\n");
        return EXIT_USAGE;
    }
    mq_paths p;
    if (mq_paths_init(&p, cfg) != 0) {
        fprintf(stderr, "mindquiz report ref: out of memory\n");
        return 1;
    }
    mq_ref_report *r = mq_ref_report_new(from, to);
    char err[4200] = "";
    int rc = !r ? -1 : mq_ref_report_load(r, p.data_dir, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "mindquiz report ref: %s\n", err[0] ? err : "out of memory");
    else if ((rc = mq_ref_report_write(r, stdout, csv, (int)top)) != 0)
        fprintf(stderr, "mindquiz report ref: write failed: %s\n", strerror(errno));
    if (rc == 0 && mq_ref_report_skipped(r))
        fprintf(stderr, "mindquiz report ref: skipped %zu unreadable line(s) in \"%s\"\n",
                mq_ref_report_skipped(r), p.data_dir);
    mq_ref_report_free(r);
    mq_paths_cleanup(&p);
    return rc == 0 ? 0 : 1;
}
