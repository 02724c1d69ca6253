/*
 * store_bench.c -- how fast the embedded store appends and replays
 * (mq-bench-store). Reports, never asserts; about half a minute in all.
 *
 *   mq-bench-store [--dir DIR] [--records N] [--keys K] [--seconds S]
 *
 * DIR (default: a fresh dir under $TMPDIR or /var/tmp) must be on the disk
 * the host will use: fdatasync costs are the disk's, and the filesystem
 * type is printed with the results. Replay is measured twice: with the file
 * in the page cache (a restart) and after evicting it (a reboot); eviction
 * uses posix_fadvise on our own file only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <ftw.h>

#include "log.h"
#include "mq_plugin.h"
#include "store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "mq-bench-store: %s failed: %s\n", what, strerror(errno));
    exit(1);
}

/* kB value of a /proc/self/status line, or -1. */
static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(p);
    return 0;
}

static void rm_rf(const char *p)
{
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Thousands separators make the table readable. */
static const char *num(double v, char *buf, size_t n)
{
    char raw[64];
    snprintf(raw, sizeof raw, "%.0f", v);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *record(char *buf, size_t n, uint32_t i, uint32_t keys)
{
    static const char *providers[] = {"kakao", "naver", "toss"};
    static const char *status[] = {"ready", "approved", "canceled"};
    snprintf(buf, n,
             "{\"amount\":%u,\"provider\":\"%s\",\"status\":\"%s\",\"quiz\":\"q%05u\","
             "\"note\":\"퀴즈 보상\",\"user\":\"u%07u\"}",
             1000 + i % 50000, providers[i % 3], status[i % 3], i % 9973, (i * 7919u) % keys);
    return buf;
}

/* ---- appends ---------------------------------------------------------------- */

typedef struct result {
    double per_s;
    double ms_each;
    uint64_t n;
} result;

static mq_store *open_or_die(const char *dir, int no_thread)
{
    char err[512];
    mq_store_opts o = {.no_sync_thread = no_thread};
    mq_store *s = mq_store_open(dir, &o, err, sizeof err);
    if (!s) {
        fprintf(stderr, "mq-bench-store: %s\n", err);
        exit(1);
    }
    return s;
}

/* Durable appends with an fdatasync inside each one (no sync thread). */
static result bench_sync_each(const char *dir, double seconds)
{
    mq_store *s = open_or_die(dir, 1);
    char key[32], json[256];
    uint64_t n = 0, seq;
    double t0 = now_s(), t;
    do {
        snprintf(key, sizeof key, "o%08" PRIu64, n);
        const char *r = record(json, sizeof json, (uint32_t)n, 200000);
        if (mq_store_append(s, "sync_each", key, r, strlen(r), 1, &seq) != MQ_OK)
            die("append");
        n++;
        t = now_s();
    } while (t - t0 < seconds);
    mq_store_close(s);
    return (result){n / (t - t0), (t - t0) * 1000 / n, n};
}

/* Bursts of durable appends (one loop turn's worth), then wait on notify_fd
 * until the burst is synced, as the host releases responses. */
static result bench_group(const char *dir, int burst, double seconds)
{
    mq_store *s = open_or_die(dir, 0);
    char key[32], json[256], coll[32];
    snprintf(coll, sizeof coll, "group_%d", burst);
    uint64_t n = 0, seq = 0;
    struct pollfd p = {.fd = mq_store_notify_fd(s), .events = POLLIN};
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < burst; i++, n++) {
            snprintf(key, sizeof key, "o%08" PRIu64, n);
            const char *r = record(json, sizeof json, (uint32_t)n, 200000);
            if (mq_store_append(s, coll, key, r, strlen(r), 1, &seq) != MQ_OK)
                die("append");
        }
        int failed = 0;
        while (mq_store_synced(s, &failed) < seq && !failed)
            poll(&p, 1, 1000);
        if (failed)
            die("sync");
        t = now_s();
    } while (t - t0 < seconds);
    mq_store_close(s);
    return (result){n / (t - t0), (t - t0) * 1000 / n, n};
}

static result bench_plain(const char *dir, uint64_t count)
{
    mq_store *s = open_or_die(dir, 1);
    char key[32], json[256];
    double t0 = now_s();
    for (uint64_t n = 0; n < count; n++) {
        snprintf(key, sizeof key, "o%08" PRIu64, n % 200000);
        const char *r = record(json, sizeof json, (uint32_t)n, 200000);
        if (mq_store_append(s, "plain", key, r, strlen(r), 0, NULL) != MQ_OK)
            die("append");
    }
    double t = now_s() - t0;
    mq_store_close(s);
    return (result){count / t, t * 1000 / count, count};
}

/* ---- replay ------------------------------------------------------------------ */

/* Write `records` store-shaped lines (~150 bytes, `keys` distinct keys)
 * straight into dir/orders.ndjson. Returns the file size. */
static uint64_t generate(const char *dir, uint32_t records, uint32_t keys)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/orders.ndjson", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        die("create replay file");
    size_t cap = 4 << 20, len = 0;
    char *buf = malloc(cap), body[256];
    uint64_t total = 0;
    for (uint32_t i = 0; i < records; i++) {
        record(body, sizeof body, i, keys);
        /* The store's own shape: k, ts, v first, then the writer's fields. */
        len += (size_t)snprintf(
            buf + len, cap - len, "{\"k\":\"order-%07u\",\"ts\":%" PRIu64 ",\"v\":1,%s\n",
            (uint32_t)((uint64_t)i * 7919 % keys), (uint64_t)1732670000000 + i, body + 1);
        if (cap - len < 512 || i + 1 == records) {
            if (write(fd, buf, len) != (ssize_t)len)
                die("write replay file");
            total += len;
            len = 0;
        }
    }
    free(buf);
    if (fdatasync(fd) != 0)
        die("fdatasync replay file");
    close(fd);
    return total;
}

static void evict(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/orders.ndjson", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

static double bench_open(const char *dir, mq_store_coll_stats *st_out)
{
    double t0 = now_s();
    mq_store *s = open_or_die(dir, 1);
    double t = now_s() - t0;
    mq_store_coll_stats *st;
    size_t n;
    if (mq_store_stats(s, &st, &n) == MQ_OK && n == 1)
        *st_out = st[0];
    free(st);
    mq_store_close(s);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir_arg = NULL;
    uint32_t records = 1000000, keys = 200000;
    double seconds = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir_arg = argv[++i];
        else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
            records = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
            keys = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--dir DIR] [--records N] [--keys K] [--seconds S]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!records || !keys || seconds <= 0)
        return 2;
    mq_log_set_level(MQ_L_WARN);

    char root[PATH_MAX];
    if (dir_arg) {
        snprintf(root, sizeof root, "%s/mq-bench-store-XXXXXX", dir_arg);
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(root, sizeof root, "%s/mq-bench-store-XXXXXX", t && *t ? t : "/var/tmp");
    }
    if (!mkdtemp(root))
        die("mkdtemp");
    char replay_dir[PATH_MAX + 16], append_dir[PATH_MAX + 16];
    snprintf(replay_dir, sizeof replay_dir, "%s/replay", root);
    snprintf(append_dir, sizeof append_dir, "%s/append", root);
    if (mkdir(replay_dir, 0700) != 0)
        die("mkdir");

    struct statfs sfs;
    const char *fstype = "unknown";
    if (statfs(root, &sfs) == 0)
        fstype = sfs.f_type == 0xEF53       ? "ext4"
                 : sfs.f_type == 0x01021994 ? "tmpfs"
                 : sfs.f_type == 0x58465342 ? "xfs"
                 : sfs.f_type == 0x9123683E ? "btrfs"
                                            : "other";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    /* Replay first, so peak RSS is the replay's own. */
    long rss0 = status_kb("VmRSS");
    double tg = now_s();
    uint64_t bytes = generate(replay_dir, records, keys);
    tg = now_s() - tg;
    mq_store_coll_stats st = {0};
    double warm = bench_open(replay_dir, &st); /* the file was just written: cached */
    /* RSS with the store open: the index itself. */
    mq_store *held = open_or_die(replay_dir, 1);
    long rss_open = status_kb("VmRSS");
    mq_store_close(held);
    long hwm = status_kb("VmHWM");
    evict(replay_dir);
    mq_store_coll_stats st2 = {0};
    double cold = bench_open(replay_dir, &st2);
    rm_rf(replay_dir);

    result each = bench_sync_each(append_dir, seconds);
    int bursts[] = {1, 16, 128};
    result group[3];
    for (int i = 0; i < 3; i++)
        group[i] = bench_group(append_dir, bursts[i], seconds);
    result plain = bench_plain(append_dir, 300000);
    rm_rf(root);

    char a[32], b[32], c[32];
    printf("## mq-bench-store (%ld CPUs, %s at %s)\n\n", cpus, fstype,
           dir_arg ? dir_arg : (getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp"));
    printf("| measurement | result |\n|---|---|\n");
    printf("| durable append, fdatasync per record (no sync thread) | %s appends/s (%.2f ms "
           "each, %" PRIu64 " in %g s) |\n",
           num(each.per_s, a, sizeof a), each.ms_each, each.n, seconds);
    for (int i = 0; i < 3; i++)
        printf("| durable append, group commit, bursts of %d then wait for notify_fd | %s "
               "appends/s (%.3f ms each) |\n",
               bursts[i], num(group[i].per_s, a, sizeof a), group[i].ms_each);
    printf("| append, not durable (json-c parse + serialise + write) | %s appends/s "
           "(%.1f us each) |\n",
           num(plain.per_s, a, sizeof a), plain.ms_each * 1000);
    printf("| replay at open: %s records, %.0f MB, %s keys, file in page cache | %.2f s "
           "(%s records/s) |\n",
           num(st.records, a, sizeof a), bytes / 1e6, num(st.keys, b, sizeof b), warm,
           num(st.records / warm, c, sizeof c));
    printf("| replay at open, same file evicted from the page cache | %.2f s (%s records/s) |\n",
           cold, num(st2.records / cold, c, sizeof c));
    printf("| RSS with the replayed store open (index of %s keys) | %.1f MB (%.1f MB before) |\n",
           num(st.keys, a, sizeof a), rss_open / 1024.0, rss0 / 1024.0);
    printf("| peak RSS of the process up to here | %.1f MB |\n", hwm / 1024.0);
    printf("\n(generating the %.0f MB file took %.2f s; corrupt lines at replay: %" PRIu64 ")\n",
           bytes / 1e6, tg, st.corrupt + st2.corrupt);
    return 0;
}
