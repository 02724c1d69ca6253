/*
 * views.c -- /admin/status, /admin/files and /admin/coupons, and the page
 * frame every admin page shares. The renderers take the host's JSON
 * (host_status_json, backups_json) and the coupons.admin list as text, so
 * the unit tests feed them fixed documents; only the live-hold and
 * today's-orders counts read the store.
 *
 * HTML: Korean labels, one inline <style>, no scripts, every value from a
 * record or the host passed through mq_admin_buf_html.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adm.h"
#include "coupons_admin.h"

#define DAY_S 86400

/* ---- the page frame ------------------------------------------------------------------------- */

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Apple SD Gothic Neo','Malgun Gothic',sans-serif;"
    "margin:0;color:#1d1d1f;background:#f6f7f9}"
    "nav{background:#23272f;padding:.5rem 1rem;display:flex;gap:1rem;align-items:center}"
    "nav a{color:#cfd3da;text-decoration:none}nav a.on{color:#fff;font-weight:700}"
    "nav form{margin-left:auto}main{padding:1rem 1.5rem}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}"
    "table{border-collapse:collapse;margin:.5rem 0 1rem;background:#fff;font-size:.875rem}"
    "th,td{border:1px solid #d8dbe0;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#eceff3}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.wrap{white-space:pre-wrap;max-width:32rem;word-break:break-all}"
    ".ok{color:#0a7d32;font-weight:600}.bad,.err{color:#b00020;font-weight:700}"
    ".stale{background:#ffe3e3;border:2px solid #b00020;color:#b00020;font-weight:700;"
    "padding:.5rem 1rem}.fresh{background:#e6f5ea;padding:.5rem 1rem}"
    ".chips span{display:inline-block;background:#fff;border:1px solid #c9ced6;"
    "border-radius:1rem;padding:.1rem .6rem;margin:.1rem}"
    "form.inline{display:inline}fieldset{background:#fff;border:1px solid #d8dbe0;"
    "margin:.5rem 0 1rem}label{margin-right:.75rem}";

static const struct {
    const char *id, *href, *label;
} nav_items[] = {
    {"status", "/admin/status", "상태"},
    {"logs", "/admin/logs", "주문·이벤트 로그"},
    {"files", "/admin/files", "파일·백업"},
    {"coupons", "/admin/coupons", "쿠폰"},
};

static void csrf_field(adm_buf *b, const adm_ctx *ctx)
{
    if (!ctx || !ctx->csrf[0])
        return;
    mq_admin_buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
    mq_admin_buf_html(b, ctx->csrf);
    mq_admin_buf_puts(b, "\">");
}

/* <form method="post" action=...> with the CSRF field. */
static void form_open(adm_buf *b, const char *action, const adm_ctx *ctx, int inline_form)
{
    mq_admin_buf_printf(b, "<form method=\"post\" action=\"%s\"%s>", action,
                        inline_form ? " class=\"inline\"" : "");
    csrf_field(b, ctx);
}

void mq_admin_page_begin(adm_buf *b, const char *title, const char *active, const adm_ctx *ctx)
{
    mq_admin_buf_puts(b, "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\">"
                         "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                         "<meta name=\"robots\" content=\"noindex,nofollow\"><title>");
    mq_admin_buf_html(b, title);
    mq_admin_buf_puts(b, " · MindQuiz 관리자</title><style>");
    mq_admin_buf_puts(b, css);
    mq_admin_buf_puts(b, "</style></head><body><nav><strong style=\"color:#fff\">MindQuiz "
                         "관리자</strong>");
    if (ctx) {
        for (size_t i = 0; i < sizeof nav_items / sizeof nav_items[0]; i++)
            mq_admin_buf_printf(b, "<a href=\"%s\"%s>%s</a>", nav_items[i].href,
                                !strcmp(active, nav_items[i].id) ? " class=\"on\"" : "",
                                nav_items[i].label);
        if (ctx->via == ADM_VIA_SESSION) {
            form_open(b, "/admin/logout", ctx, 1);
            mq_admin_buf_puts(b, "<button type=\"submit\">로그아웃</button></form>");
        }
    }
    mq_admin_buf_puts(b, "</nav><main>");
}

void mq_admin_page_end(adm_buf *b)
{
    mq_admin_buf_puts(b, "</main></body></html>\n");
}

/* ---- JSON helpers --------------------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v ? json_object_get_int64(v) : 0;
}

static int jbool(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v ? json_object_get_boolean(v) : 0;
}

static size_t jlen(json_object *arr)
{
    return arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

static int out_json(json_object *o, adm_buf *out)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    mq_admin_buf_add(out, s, n);
    json_object_put(o);
    return out->oom ? MQ_ENOMEM : MQ_OK;
}

/* ---- counts --------------------------------------------------------------------------------- */

void mq_admin_counts_add(adm_counts *c, const char *label)
{
    c->total++;
    if (!label)
        label = "";
    for (size_t i = 0; i < c->n; i++)
        if (!strncmp(c->c[i].label, label, sizeof c->c[i].label - 1) &&
            strlen(label) < sizeof c->c[i].label) {
            c->c[i].n++;
            return;
        }
    if (c->n == ADM_COUNT_MAX || strlen(label) >= sizeof c->c[0].label) {
        c->other++;
        return;
    }
    snprintf(c->c[c->n].label, sizeof c->c[c->n].label, "%s", label);
    c->c[c->n].n = 1;
    c->n++;
}

typedef struct scan_ctx {
    int64_t now, day_start;
    long holds;
    adm_counts *today;
} scan_ctx;

static int count_hold(const char *key, const char *json, size_t len, void *ud)
{
    scan_ctx *sc = ud;
    json_object *j = json_tokener_parse(json);
    if (j) {
        /* The coupons plugin writes "state"; "status" is accepted too. */
        const char *state = jget(j, "state") ? jstr(j, "state") : jstr(j, "status");
        int64_t expires = jint(j, "expires_ms");
        if (!strcmp(state, "held") && (expires == 0 || expires > sc->now))
            sc->holds++;
        json_object_put(j);
    }
    return 0;
}

long mq_admin_count_live_holds(adm_state *st, int64_t now_ms)
{
    scan_ctx sc = {.now = now_ms};
    int rc = st->api->store_scan(st->self, ADM_COLL_HOLDS, MQ_SCAN_LATEST, count_hold, &sc);
    return rc == MQ_OK || rc == MQ_ENOENT ? sc.holds : -1;
}

static int count_today(const char *key, const char *json, size_t len, void *ud)
{
    scan_ctx *sc = ud;
    json_object *j = json_tokener_parse(json);
    if (j) {
        int64_t created = jint(j, "created_ms");
        if (!created)
            created = jint(j, "ts");
        if (created >= sc->day_start && created < sc->day_start + DAY_S * 1000LL)
            mq_admin_counts_add(sc->today, jstr(j, "status"));
        json_object_put(j);
    }
    return 0;
}

int mq_admin_orders_today(adm_state *st, int64_t now_ms, adm_counts *out)
{
    memset(out, 0, sizeof *out);
    scan_ctx sc = {.now = now_ms, .day_start = mq_admin_kst_day_start(now_ms), .today = out};
    int rc = st->api->store_scan(st->self, ADM_COLL_ORDERS, MQ_SCAN_LATEST, count_today, &sc);
    return rc == MQ_ENOENT ? MQ_OK : rc;
}

int64_t mq_admin_last_backup_age(const char *host_json, const char *backups_json, int64_t now_ms)
{
    int64_t last = 0;
    json_object *h = host_json ? json_tokener_parse(host_json) : NULL;
    json_object *b = backups_json ? json_tokener_parse(backups_json) : NULL;
    last = jint(h, "last_backup_unix");
    if (jlen(b) > 0) {
        int64_t newest = jint(json_object_array_get_idx(b, 0), "created_unix");
        if (newest > last)
            last = newest;
    }
    json_object_put(h);
    json_object_put(b);
    if (last <= 0)
        return -1;
    int64_t age = now_ms / 1000 - last;
    return age < 0 ? 0 : age;
}

/* The "last backup" line: stands out (class stale) past 24 h or never. */
static void backup_banner(adm_buf *b, int64_t age)
{
    char a[64];
    if (age < 0) {
        mq_admin_buf_puts(b, "<p id=\"backup-age\" class=\"stale\">마지막 백업: 없음 — 백업이 "
                             "한 번도 만들어지지 않았습니다.</p>");
        return;
    }
    mq_admin_fmt_age(age, a, sizeof a);
    if (age > DAY_S)
        mq_admin_buf_printf(b,
                            "<p id=\"backup-age\" class=\"stale\">마지막 백업: %s 전 — 24시간이 "
                            "지났습니다. 백업을 확인하세요.</p>",
                            a);
    else
        mq_admin_buf_printf(b, "<p id=\"backup-age\" class=\"fresh\">마지막 백업: %s 전</p>", a);
}

static void kv_row(adm_buf *b, const char *label, const char *value, const char *cls)
{
    mq_admin_buf_printf(b, "<tr><th>%s</th><td%s%s%s>", label, cls ? " class=\"" : "",
                        cls ? cls : "", cls ? "\"" : "");
    mq_admin_buf_html(b, value);
    mq_admin_buf_puts(b, "</td></tr>");
}

/* ---- /admin/status -------------------------------------------------------------------------- */

static int plugin_loaded(json_object *host, const char *name)
{
    json_object *pl = jget(host, "plugins");
    for (size_t i = 0; i < jlen(pl); i++)
        if (!strcmp(jstr(json_object_array_get_idx(pl, i), "name"), name))
            return 1;
    return 0;
}

int mq_admin_render_status(adm_state *st, const adm_ctx *ctx, const char *host_json,
                           const char *backups_json, int64_t now_ms, adm_buf *out)
{
    json_object *host = host_json ? json_tokener_parse(host_json) : NULL;
    if (!host || !json_object_is_type(host, json_type_object)) {
        json_object_put(host);
        return MQ_EINVAL;
    }
    int64_t age = mq_admin_last_backup_age(host_json, backups_json, now_ms);
    long holds = mq_admin_count_live_holds(st, now_ms);
    adm_counts today;
    int today_rc = mq_admin_orders_today(st, now_ms, &today);
    char day[24];
    mq_admin_fmt_kst(mq_admin_kst_day_start(now_ms), day, sizeof day);
    day[10] = '\0';
    int pay_loaded = plugin_loaded(host, "payments");

    if (ctx->format == ADM_JSON) {
        json_object *o = host; /* the host's fields, then ours */
        json_object_object_add(o, "payments_enabled",
                               json_object_new_boolean(st->cfg.payments_enabled));
        json_object_object_add(o, "payments_loaded", json_object_new_boolean(pay_loaded));
        json_object_object_add(o, "last_backup_age_s", age < 0 ? NULL : json_object_new_int64(age));
        json_object_object_add(o, "backup_stale", json_object_new_boolean(age < 0 || age > DAY_S));
        json_object_object_add(o, "coupon_holds_live",
                               holds < 0 ? NULL : json_object_new_int64(holds));
        json_object *t = json_object_new_object();
        json_object_object_add(t, "day", json_object_new_string(day));
        json_object_object_add(t, "total", json_object_new_int64(today.total));
        json_object *by = json_object_new_object();
        for (size_t i = 0; i < today.n; i++)
            json_object_object_add(by, today.c[i].label, json_object_new_int64(today.c[i].n));
        json_object_object_add(t, "by_status", by);
        json_object_object_add(o, "orders_today", today_rc == MQ_OK ? t : NULL);
        if (today_rc != MQ_OK)
            json_object_put(t);
        return out_json(o, out);
    }

    char a[64], b2[80];
    mq_admin_page_begin(out, "상태", "status", ctx);
    mq_admin_buf_puts(out, "<h1>서비스 상태</h1>");
    backup_banner(out, age);
    mq_admin_buf_puts(out, "<table id=\"summary\">");
    snprintf(a, sizeof a, "%s (%s)", jstr(host, "version"), jstr(host, "commit"));
    kv_row(out, "호스트 버전", a, NULL);
    kv_row(out, "릴리스", jstr(host, "release"), NULL);
    snprintf(a, sizeof a, "%lld", (long long)jint(host, "generation"));
    kv_row(out, "세대", a, NULL);
    mq_admin_fmt_age(jint(host, "uptime_s"), a, sizeof a);
    mq_admin_fmt_kst(jint(host, "started_unix") * 1000, b2, sizeof b2);
    mq_admin_buf_printf(out, "<tr><th>가동 시간</th><td>%s (시작 %s)</td></tr>", a, b2);
    snprintf(a, sizeof a, "%lld", (long long)jint(host, "inflight"));
    kv_row(out, "처리 중 요청", a, NULL);
    if (!pay_loaded)
        kv_row(out, "결제", "결제 플러그인이 로드되지 않음", "bad");
    else if (st->cfg.payments_enabled)
        kv_row(out, "결제", "켜짐 (PAYMENTS_ENABLED)", "ok");
    else
        kv_row(out, "결제", "꺼짐 — 킬스위치 ON (PAYMENTS_ENABLED=0): 결제 시작만 503", "bad");
    if (age < 0) {
        kv_row(out, "마지막 백업", "없음", "bad");
    } else {
        mq_admin_fmt_age(age, a, sizeof a);
        snprintf(b2, sizeof b2, "%s 전", a);
        kv_row(out, "마지막 백업", b2, age > DAY_S ? "bad" : NULL);
    }
    kv_row(out, "백업/점검 작업", jbool(host, "job_running") ? "진행 중" : "없음", NULL);
    json_object *store = jget(host, "store");
    kv_row(out, "저장소", jbool(store, "failed") ? "쓰기 실패 — 변경이 저장되지 않습니다" : "정상",
           jbool(store, "failed") ? "bad" : "ok");
    if (holds < 0)
        kv_row(out, "활성 쿠폰 홀드", "읽기 실패", "bad");
    else {
        snprintf(a, sizeof a, "%ld", holds);
        kv_row(out, "활성 쿠폰 홀드", a, NULL);
    }
    mq_admin_buf_puts(out, "</table>");

    mq_admin_buf_printf(out, "<h2>오늘의 주문 (%s, 한국 시간)</h2>", day);
    if (today_rc != MQ_OK) {
        mq_admin_buf_puts(out, "<p class=\"err\">주문을 읽지 못했습니다.</p>");
    } else {
        mq_admin_buf_puts(out, "<table id=\"orders-today\"><tr><th>상태</th><th>건수</th></tr>");
        for (size_t i = 0; i < today.n; i++) {
            mq_admin_buf_puts(out, "<tr><td>");
            mq_admin_buf_html(out, today.c[i].label[0] ? today.c[i].label : "(없음)");
            mq_admin_buf_printf(out, "</td><td class=\"num\">%ld</td></tr>", today.c[i].n);
        }
        mq_admin_buf_printf(out, "<tr><th>합계</th><th class=\"num\">%ld</th></tr></table>",
                            today.total);
    }

    mq_admin_buf_puts(out,
                      "<h2>플러그인</h2><table id=\"plugins\"><tr><th>이름</th><th>버전</th></tr>");
    json_object *pl = jget(host, "plugins");
    for (size_t i = 0; i < jlen(pl); i++) {
        json_object *p = json_object_array_get_idx(pl, i);
        mq_admin_buf_puts(out, "<tr><td>");
        mq_admin_buf_html(out, jstr(p, "name"));
        mq_admin_buf_puts(out, "</td><td>");
        mq_admin_buf_html(out, jstr(p, "version"));
        mq_admin_buf_puts(out, "</td></tr>");
    }
    mq_admin_buf_puts(out, "</table>");

    mq_admin_buf_puts(out,
                      "<h2>최근 리로드</h2><table id=\"reloads\"><tr><th>시각</th><th>결과</th>"
                      "<th>사유</th><th>메시지</th><th>세대</th><th>릴리스</th>"
                      "<th>소요</th></tr>");
    json_object *rl = jget(host, "reloads");
    if (!jlen(rl))
        mq_admin_buf_puts(out, "<tr><td colspan=\"7\">시작 이후 리로드 없음</td></tr>");
    for (size_t i = 0; i < jlen(rl); i++) {
        json_object *r = json_object_array_get_idx(rl, i);
        int ok = jbool(r, "ok");
        mq_admin_fmt_kst(jint(r, "time_unix") * 1000, a, sizeof a);
        mq_admin_buf_printf(out, "<tr><td>%s</td><td class=\"%s\">%s</td><td>", a,
                            ok ? "ok" : "bad", ok ? "성공" : "실패 (이전 세대가 계속 서비스)");
        mq_admin_buf_html(out, jstr(r, "reason"));
        mq_admin_buf_puts(out, "</td><td class=\"wrap\">");
        mq_admin_buf_html(out, jstr(r, "message"));
        mq_admin_buf_printf(out, "</td><td class=\"num\">%lld</td><td>",
                            (long long)jint(r, "generation"));
        mq_admin_buf_html(out, jstr(r, "release"));
        mq_admin_buf_printf(out, "</td><td class=\"num\">%.1f ms</td></tr>",
                            (double)jint(r, "duration_us") / 1000.0);
    }
    mq_admin_buf_puts(out, "</table>");

    mq_admin_buf_puts(out, "<h2>저장소</h2><table id=\"store\"><tr><th>컬렉션</th><th>레코드</th>"
                           "<th>키</th><th>크기</th><th>손상된 줄</th></tr>");
    json_object *cols = jget(store, "collections");
    for (size_t i = 0; i < jlen(cols); i++) {
        json_object *c = json_object_array_get_idx(cols, i);
        mq_admin_fmt_bytes(jint(c, "bytes"), a, sizeof a);
        mq_admin_buf_puts(out, "<tr><td>");
        mq_admin_buf_html(out, jstr(c, "name"));
        mq_admin_buf_printf(out,
                            "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
                            "<td class=\"num\">%s</td><td class=\"num%s\">%lld</td></tr>",
                            (long long)jint(c, "records"), (long long)jint(c, "keys"), a,
                            jint(c, "corrupt") ? " bad" : "", (long long)jint(c, "corrupt"));
    }
    mq_admin_buf_puts(out, "</table>");
    mq_admin_page_end(out);
    json_object_put(host);
    return out->oom ? MQ_ENOMEM : MQ_OK;
}

/* ---- /admin/files --------------------------------------------------------------------------- */

static const char *check_label(const char *check, const char **cls)
{
    if (!strcmp(check, "ok")) {
        *cls = "ok";
        return "통과";
    }
    if (!strcmp(check, "failed")) {
        *cls = "bad";
        return "실패";
    }
    *cls = "";
    return "점검 안 됨";
}

int mq_admin_render_files(adm_state *st, const adm_ctx *ctx, const char *host_json,
                          const char *backups_json, int64_t now_ms, adm_buf *out)
{
    json_object *host = host_json ? json_tokener_parse(host_json) : NULL;
    json_object *bk = backups_json ? json_tokener_parse(backups_json) : NULL;
    if (!host || !json_object_is_type(host, json_type_object)) {
        json_object_put(host);
        json_object_put(bk);
        return MQ_EINVAL;
    }
    if (!bk || !json_object_is_type(bk, json_type_array)) {
        json_object_put(bk);
        bk = json_object_new_array();
    }
    int64_t age = mq_admin_last_backup_age(host_json, backups_json, now_ms);

    if (ctx->format == ADM_JSON) {
        json_object *o = json_object_new_object();
        json_object *files = jget(host, "data_files");
        json_object_object_add(o, "data_files",
                               files ? json_object_get(files) : json_object_new_array());
        json_object_object_add(o, "backups", bk);
        json_object_object_add(o, "last_backup_unix",
                               json_object_new_int64(age < 0 ? 0 : now_ms / 1000 - age));
        json_object_object_add(o, "last_backup_age_s", age < 0 ? NULL : json_object_new_int64(age));
        json_object_object_add(o, "backup_stale", json_object_new_boolean(age < 0 || age > DAY_S));
        json_object_object_add(o, "job_running",
                               json_object_new_boolean(jbool(host, "job_running")));
        json_object_put(host);
        return out_json(o, out);
    }

    char a[64], b2[64];
    mq_admin_page_begin(out, "파일·백업", "files", ctx);
    mq_admin_buf_puts(out, "<h1>데이터 파일과 백업</h1>");
    backup_banner(out, age);
    if (jbool(host, "job_running"))
        mq_admin_buf_puts(out, "<p>백업 또는 복원 점검이 진행 중입니다.</p>");
    form_open(out, "/admin/actions/backup", ctx, 1);
    mq_admin_buf_puts(out, "<button type=\"submit\">지금 백업</button></form> ");
    form_open(out, "/admin/actions/restore-check", ctx, 1);
    mq_admin_buf_puts(out, "<button type=\"submit\">최신 백업 복원 점검</button></form>");

    mq_admin_buf_puts(out, "<h2>데이터 파일</h2><table id=\"data-files\"><tr><th>파일</th>"
                           "<th>크기</th><th>바이트</th><th>수정 시각</th></tr>");
    json_object *files = jget(host, "data_files");
    for (size_t i = 0; i < jlen(files); i++) {
        json_object *f = json_object_array_get_idx(files, i);
        mq_admin_fmt_bytes(jint(f, "bytes"), a, sizeof a);
        mq_admin_fmt_kst(jint(f, "mtime_unix") * 1000, b2, sizeof b2);
        mq_admin_buf_puts(out, "<tr><td>");
        mq_admin_buf_html(out, jstr(f, "name"));
        mq_admin_buf_printf(out,
                            "</td><td class=\"num\">%s</td><td class=\"num\">%lld</td>"
                            "<td>%s</td></tr>",
                            a, (long long)jint(f, "bytes"), b2);
    }
    mq_admin_buf_puts(out, "</table>");

    mq_admin_buf_puts(out, "<h2>백업 (최신순)</h2><table id=\"backups\"><tr><th>이름</th>"
                           "<th>만든 시각</th><th>경과</th><th>크기</th><th>복원 점검</th>"
                           "<th>점검 메시지</th><th></th></tr>");
    if (!jlen(bk))
        mq_admin_buf_puts(out, "<tr><td colspan=\"7\">백업이 없습니다.</td></tr>");
    for (size_t i = 0; i < jlen(bk); i++) {
        json_object *x = json_object_array_get_idx(bk, i);
        int64_t created = jint(x, "created_unix");
        const char *cls;
        const char *label = check_label(jstr(x, "check"), &cls);
        mq_admin_fmt_kst(created * 1000, a, sizeof a);
        mq_admin_buf_printf(out, "<tr%s><td>",
                            i == 0 && (age < 0 || age > DAY_S) ? " class=\"stale\"" : "");
        mq_admin_buf_html(out, jstr(x, "name"));
        mq_admin_buf_printf(out, "</td><td>%s</td><td>", created > 0 ? a : "알 수 없음");
        if (created > 0) {
            mq_admin_fmt_age(now_ms / 1000 - created, b2, sizeof b2);
            mq_admin_buf_printf(out, "%s 전", b2);
        }
        mq_admin_fmt_bytes(jint(x, "bytes"), b2, sizeof b2);
        mq_admin_buf_printf(out,
                            "</td><td class=\"num\">%s</td><td class=\"%s\">%s</td>"
                            "<td class=\"wrap\">",
                            b2, cls, label);
        mq_admin_buf_html(out, jstr(x, "check_message"));
        mq_admin_buf_puts(out, "</td><td>");
        form_open(out, "/admin/actions/restore-check", ctx, 1);
        mq_admin_buf_puts(out, "<input type=\"hidden\" name=\"name\" value=\"");
        mq_admin_buf_html(out, jstr(x, "name"));
        mq_admin_buf_puts(out, "\"><button type=\"submit\">복원 점검</button></form></td></tr>");
    }
    mq_admin_buf_puts(out, "</table><p><small>각 백업의 파일별 sha256은 백업의 MANIFEST에 있고, "
                           "복원 점검이 그 값을 검증합니다.</small></p>");
    mq_admin_page_end(out);
    json_object_put(host);
    json_object_put(bk);
    return out->oom ? MQ_ENOMEM : MQ_OK;
}

/* ---- /admin/coupons ------------------------------------------------------------------------- */

static void fmt_day(int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    mq_admin_fmt_kst(ms, out, cap);
}

int mq_admin_render_coupons(adm_state *st, const adm_ctx *ctx, const char *coupons_json,
                            int64_t now_ms, adm_buf *out)
{
    json_object *list = coupons_json ? json_tokener_parse(coupons_json) : NULL;
    if (list && !json_object_is_type(list, json_type_array)) {
        json_object_put(list);
        list = NULL;
    }
    if (ctx->format == ADM_JSON) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "available", json_object_new_boolean(coupons_json != NULL));
        json_object_object_add(o, "coupons", list ? list : json_object_new_array());
        return out_json(o, out);
    }
    char a[40], b2[40];
    mq_admin_page_begin(out, "쿠폰", "coupons", ctx);
    mq_admin_buf_puts(out, "<h1>쿠폰</h1>");
    if (!coupons_json) {
        mq_admin_buf_puts(out, "<p class=\"err\">쿠폰 플러그인(서비스 coupons.admin)이 이 "
                               "릴리스에 없습니다.</p>");
        mq_admin_page_end(out);
        json_object_put(list);
        return out->oom ? MQ_ENOMEM : MQ_OK;
    }
    mq_admin_buf_puts(out, "<fieldset><legend>새 쿠폰</legend>");
    form_open(out, "/admin/actions/coupon-create", ctx, 0);
    mq_admin_buf_puts(
        out, "<label>코드 <input name=\"code\" required pattern=\"[A-Za-z0-9_-]{2,32}\"></label>"
             "<label>종류 <select name=\"kind\"><option value=\"percent\">정률(%)</option>"
             "<option value=\"fixed\">정액(원)</option></select></label>"
             "<label>값 <input name=\"value\" type=\"number\" min=\"1\" required></label>"
             "<label>총 사용 횟수 <input name=\"total_uses\" type=\"number\" min=\"1\" "
             "required></label>"
             "<label>1인당 <input name=\"per_user\" type=\"number\" min=\"0\" value=\"1\"></label>"
             "<label>시작일 <input name=\"valid_from\" type=\"date\"></label>"
             "<label>종료일(포함) <input name=\"valid_until\" type=\"date\"></label>"
             "<button type=\"submit\">만들기</button></form></fieldset>");
    mq_admin_buf_puts(out, "<table id=\"coupons\"><tr><th>코드</th><th>할인</th><th>사용</th>"
                           "<th>홀드</th><th>총</th><th>1인당</th><th>시작</th><th>종료</th>"
                           "<th>상태</th><th></th></tr>");
    for (size_t i = 0; i < jlen(list); i++) {
        json_object *c = json_object_array_get_idx(list, i);
        int enabled = jbool(c, "enabled");
        mq_admin_buf_puts(out, "<tr><td>");
        mq_admin_buf_html(out, jstr(c, "code"));
        mq_admin_buf_printf(out, "</td><td class=\"num\">%lld%s</td>", (long long)jint(c, "value"),
                            !strcmp(jstr(c, "kind"), "percent") ? "%" : "원");
        fmt_day(jint(c, "valid_from_ms"), a, sizeof a);
        fmt_day(jint(c, "valid_until_ms"), b2, sizeof b2);
        mq_admin_buf_printf(out,
                            "<td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
                            "<td class=\"num\">%lld</td><td class=\"num\">%lld</td><td>%s</td>"
                            "<td>%s</td><td class=\"%s\">%s</td><td>",
                            (long long)jint(c, "used"), (long long)jint(c, "held"),
                            (long long)jint(c, "total_uses"), (long long)jint(c, "per_user"), a, b2,
                            enabled ? "ok" : "bad", enabled ? "사용 가능" : "중지됨");
        if (enabled) {
            form_open(out, "/admin/actions/coupon-disable", ctx, 1);
            mq_admin_buf_puts(out, "<input type=\"hidden\" name=\"code\" value=\"");
            mq_admin_buf_html(out, jstr(c, "code"));
            mq_admin_buf_puts(out, "\"><button type=\"submit\">중지</button></form>");
        }
        mq_admin_buf_puts(out, "</td></tr>");
    }
    if (!jlen(list))
        mq_admin_buf_puts(out, "<tr><td colspan=\"10\">쿠폰이 없습니다.</td></tr>");
    mq_admin_buf_puts(out, "</table>");
    mq_admin_page_end(out);
    json_object_put(list);
    (void)st;
    (void)now_ms;
    return out->oom ? MQ_ENOMEM : MQ_OK;
}
