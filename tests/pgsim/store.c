/*
 * store.c -- the simulator's state, ids, time and statistics.
 *
 * The state is one json-c object, shown as is by GET /sim/state and saved
 * as is to --state-file:
 *
 *   version             1
 *   clock_offset_s      seconds added to the real clock (POST /sim/clock)
 *   next_seq            last sequence number given to a NaverPay admission
 *   kakao               tid -> KakaoPay payment record (kakao.c)
 *   kakao_tokens        pg_token -> tid (a token is bound to its tid)
 *   naver               reserveId -> NaverPay payment record (naver.c)
 *   naver_payment_ids   paymentId -> reserveId
 *   naver_idempotency   "<op>:<key>" -> {status, body} (the replayed answer)
 *
 * Saving is a small synchronous write of a local file, coalesced by a
 * 100 ms timer so a burst of calls costs one write; it happens only with
 * --state-file. The file is replaced atomically (write, rename).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "pgsim.h"

static const char *const tables[] = {"kakao", "kakao_tokens", "naver", "naver_payment_ids",
                                     "naver_idempotency"};

/* ---- record helpers ------------------------------------------------------------ */

json_object *pgsim_rec_get(json_object *rec, const char *key)
{
    json_object *v = NULL;
    if (!rec || !json_object_object_get_ex(rec, key, &v))
        return NULL;
    return v;
}

const char *pgsim_rec_str(json_object *rec, const char *key)
{
    json_object *v = pgsim_rec_get(rec, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t pgsim_rec_i64(json_object *rec, const char *key)
{
    json_object *v = pgsim_rec_get(rec, key);
    return v ? json_object_get_int64(v) : 0;
}

void pgsim_rec_set_str(json_object *rec, const char *key, const char *value)
{
    json_object_object_add(rec, key, value ? json_object_new_string(value) : NULL);
}

void pgsim_rec_set_i64(json_object *rec, const char *key, int64_t value)
{
    json_object_object_add(rec, key, json_object_new_int64(value));
}

json_object *pgsim_store_table(struct pgsim *sim, const char *name)
{
    return pgsim_rec_get(sim->state, name);
}

/* ---- time ---------------------------------------------------------------------- */

int64_t pgsim_now(struct pgsim *sim)
{
    return (int64_t)time(NULL) + pgsim_rec_i64(sim->state, "clock_offset_s");
}

#define KST_OFFSET (9 * 3600)

void pgsim_fmt_kst(int64_t t, const char *fmt, char *buf, size_t len)
{
    time_t k = (time_t)(t + KST_OFFSET);
    struct tm tm;
    gmtime_r(&k, &tm);
    if (strftime(buf, len, fmt, &tm) == 0 && len)
        buf[0] = '\0';
}

int pgsim_parse_ymdhms(const char *s, int64_t *out)
{
    if (strlen(s) != 14 || strspn(s, "0123456789") != 14)
        return -1;
    struct tm tm = {0};
    char part[5];
#define FIELD(off, n) (memcpy(part, s + (off), (n)), part[(n)] = '\0', atoi(part))
    tm.tm_year = FIELD(0, 4) - 1900;
    tm.tm_mon = FIELD(4, 2) - 1;
    tm.tm_mday = FIELD(6, 2);
    tm.tm_hour = FIELD(8, 2);
    tm.tm_min = FIELD(10, 2);
    tm.tm_sec = FIELD(12, 2);
#undef FIELD
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 59)
        return -1;
    struct tm check = tm;
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March: refuse such dates. */
    if (tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon)
        return -1;
    *out = (int64_t)t - KST_OFFSET;
    return 0;
}

/* ---- ids ----------------------------------------------------------------------- */

static void random_bytes(unsigned char *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) == 1)
        return;
    if (getentropy(buf, n) == 0)
        return;
    /* No randomness at all: ids would repeat, which is worse than stopping. */
    fprintf(stderr, "mq-pgsim: RAND_bytes failed: no entropy source\n");
    exit(1);
}

void pgsim_random_hex(char *out, size_t nchars)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    if (nchars > 2 * sizeof buf)
        nchars = 2 * sizeof buf;
    random_bytes(buf, (nchars + 1) / 2);
    for (size_t i = 0; i < nchars; i++)
        out[i] = hex[(buf[i / 2] >> (i % 2 ? 0 : 4)) & 0xF];
    out[nchars] = '\0';
}

void pgsim_new_kakao_id(struct pgsim *sim, char prefix, char out[21])
{
    json_object *kakao = pgsim_store_table(sim, "kakao");
    do {
        out[0] = prefix;
        pgsim_random_hex(out + 1, 19);
    } while (prefix == 'T' && json_object_object_get_ex(kakao, out, NULL));
}

/* NaverPay ids look like 20170201NP1043587746: the KST date, a two-letter
 * tag, ten digits. */
void pgsim_new_naver_id(struct pgsim *sim, const char *tag, char out[21])
{
    json_object *naver = pgsim_store_table(sim, "naver");
    json_object *pays = pgsim_store_table(sim, "naver_payment_ids");
    char date[16];
    pgsim_fmt_kst(pgsim_now(sim), "%Y%m%d", date, sizeof date);
    do {
        unsigned char b[10];
        random_bytes(b, sizeof b);
        int n = snprintf(out, 21, "%.8s%.2s", date, tag);
        for (int i = 0; i < 10; i++)
            out[n + i] = (char)('0' + b[i] % 10);
        out[n + 10] = '\0';
    } while (json_object_object_get_ex(naver, out, NULL) ||
             json_object_object_get_ex(pays, out, NULL));
}

/* ---- persistence --------------------------------------------------------------- */

static int save(struct pgsim *sim)
{
    const char *path = sim->cfg.state_file;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        pgsim_log(sim, "save \"%s\" failed: path too long", path);
        return -1;
    }
    if (json_object_to_file_ext(tmp, sim->state,
                                JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) != 0) {
        pgsim_log(sim, "save \"%s\" failed: %s", tmp, json_util_get_last_err());
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        pgsim_log(sim, "rename \"%s\" failed: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void on_save(evutil_socket_t fd, short what, void *arg)
{
    pgsim_store_flush(arg);
}

void pgsim_store_dirty(struct pgsim *sim)
{
    if (!sim->cfg.state_file || sim->dirty)
        return;
    sim->dirty = 1;
    if (sim->save_ev) {
        struct timeval tv = {0, 100 * 1000};
        evtimer_add(sim->save_ev, &tv);
    }
}

void pgsim_store_flush(struct pgsim *sim)
{
    if (!sim->dirty)
        return;
    sim->dirty = 0;
    if (sim->save_ev)
        evtimer_del(sim->save_ev);
    save(sim);
}

static json_object *empty_state(void)
{
    json_object *s = json_object_new_object();
    json_object_object_add(s, "version", json_object_new_int(1));
    json_object_object_add(s, "clock_offset_s", json_object_new_int64(0));
    json_object_object_add(s, "next_seq", json_object_new_int64(0));
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        json_object_object_add(s, tables[i], json_object_new_object());
    return s;
}

static int load(struct pgsim *sim, const char *path)
{
    if (access(path, F_OK) != 0) {
        if (errno == ENOENT)
            return 0; /* first run: start empty, save on the first change */
        pgsim_log(sim, "load \"%s\" failed: %s", path, strerror(errno));
        return -1;
    }
    json_object *s = json_object_from_file(path);
    if (!s || !json_object_is_type(s, json_type_object) || pgsim_rec_i64(s, "version") != 1) {
        pgsim_log(sim, "load \"%s\" failed: %s", path,
                  s ? "not a version 1 mq-pgsim state file" : json_util_get_last_err());
        json_object_put(s);
        return -1;
    }
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        json_object *t = pgsim_rec_get(s, tables[i]);
        if (!t || !json_object_is_type(t, json_type_object))
            json_object_object_add(s, tables[i], json_object_new_object());
    }
    json_object_put(sim->state);
    sim->state = s;
    return 0;
}

int pgsim_store_init(struct pgsim *sim)
{
    sim->state = empty_state();
    if (!sim->state)
        return -1;
    if (sim->cfg.state_file) {
        sim->save_ev = evtimer_new(sim->base, on_save, sim);
        if (!sim->save_ev || load(sim, sim->cfg.state_file) != 0)
            return -1;
    }
    return 0;
}

void pgsim_store_free(struct pgsim *sim)
{
    if (sim->save_ev)
        event_free(sim->save_ev);
    sim->save_ev = NULL;
    json_object_put(sim->state);
    sim->state = NULL;
    json_object_put(sim->stats);
    sim->stats = NULL;
}

/* ---- stats --------------------------------------------------------------------- */

void pgsim_stats_init(struct pgsim *sim)
{
    json_object_put(sim->stats);
    sim->stats = json_object_new_object();
    json_object_object_add(sim->stats, "calls", json_object_new_object());
    json_object_object_add(sim->stats, "faults", json_object_new_object());
}

static json_object *subtable(json_object *parent, const char *name)
{
    json_object *t = pgsim_rec_get(parent, name);
    if (!t) {
        t = json_object_new_object();
        json_object_object_add(parent, name, t);
    }
    return t;
}

static void bump(json_object *table, const char *key)
{
    json_object_object_add(table, key, json_object_new_int64(pgsim_rec_i64(table, key) + 1));
}

void pgsim_stats_bump(struct pgsim *sim, const char *table, const char *key)
{
    bump(subtable(sim->stats, table), key);
}

void pgsim_stats_fault(struct pgsim *sim, const struct pgsim_op *op, const char *kind)
{
    bump(subtable(subtable(sim->stats, "faults"), op->name), kind);
}
