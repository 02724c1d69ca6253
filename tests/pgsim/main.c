/*
 * main.c -- mq-pgsim: command line, listener, signals.
 *
 *   mq-pgsim --listen 127.0.0.1:PORT [--public-base URL]
 *            [--kakao-secret KEY] [--kakao-admin-key KEY]
 *            [--naver-client-id ID --naver-client-secret S --naver-chain-id C]
 *            [--naver-partner PID] [--kakao-window SEC] [--naver-window SEC]
 *            [--state-file PATH] [--quiet]
 *
 * Port 0 binds a free port. When ready it prints one line to stdout,
 * "mq-pgsim listening on http://HOST:PORT", and flushes it, so a test or a
 * demo script can read the real port. SIGTERM or SIGINT exits 0 (after
 * saving the state file, if any).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "pgsim.h"

static const char USAGE[] =
    "usage: mq-pgsim --listen HOST:PORT [options]\n"
    "  --listen HOST:PORT          address to serve (port 0: any free port)\n"
    "  --public-base URL           base URL browsers reach the simulator at\n"
    "                              (default http://HOST:PORT)\n"
    "  --kakao-secret KEY          KakaoPay secret key (default DEVSIMKAKAOSECRET)\n"
    "  --kakao-admin-key KEY       KakaoPay legacy admin key (default SIMKAKAOADMINKEY)\n"
    "  --naver-client-id ID        NaverPay client id (default SIMNAVERCLIENTID)\n"
    "  --naver-client-secret S     NaverPay client secret (default SIMNAVERCLIENTSECRET)\n"
    "  --naver-chain-id C          NaverPay chain id (default SIMNAVERCHAINID)\n"
    "  --naver-partner PID         NaverPay partner id (default np_sim)\n"
    "  --kakao-window SEC          KakaoPay payment window (default 900)\n"
    "  --naver-window SEC          NaverPay approval window (default 600)\n"
    "  --state-file PATH           keep payments across restarts in PATH\n"
    "  --quiet                     no per-request log on stderr\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "mq-pgsim: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return 2;
}

static int parse_seconds(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 366LL * 24 * 3600)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct pgsim_cfg *c, const char **listen)
{
    static const struct {
        const char *name;
        size_t off;
    } strs[] = {
        {"--public-base", offsetof(struct pgsim_cfg, public_base)},
        {"--kakao-secret", offsetof(struct pgsim_cfg, kakao_secret)},
        {"--kakao-admin-key", offsetof(struct pgsim_cfg, kakao_admin_key)},
        {"--naver-client-id", offsetof(struct pgsim_cfg, naver_client_id)},
        {"--naver-client-secret", offsetof(struct pgsim_cfg, naver_client_secret)},
        {"--naver-chain-id", offsetof(struct pgsim_cfg, naver_chain_id)},
        {"--naver-partner", offsetof(struct pgsim_cfg, naver_partner)},
        {"--state-file", offsetof(struct pgsim_cfg, state_file)},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            exit(0);
        }
        if (strcmp(a, "--quiet") == 0) {
            c->quiet = 1;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("%s needs a value (or is unknown)", a);
        const char *v = argv[++i];
        int done = 0;
        for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++)
            if (strcmp(a, strs[k].name) == 0) {
                if (!*v)
                    return usage_error("%s must not be empty", a);
                *(const char **)((char *)c + strs[k].off) = v;
                done = 1;
            }
        if (done)
            continue;
        if (strcmp(a, "--listen") == 0)
            *listen = v;
        else if (strcmp(a, "--kakao-window") == 0 && parse_seconds(v, &c->kakao_window_s) == 0)
            ;
        else if (strcmp(a, "--naver-window") == 0 && parse_seconds(v, &c->naver_window_s) == 0)
            ;
        else
            return usage_error("bad option or value: %s", a);
    }
    if (!*listen)
        return usage_error("%s is required", "--listen");
    return 0;
}

/* "127.0.0.1:8081", "[::1]:0", "localhost:0". evutil_parse_sockaddr_port
 * refuses port 0, which we need. */
static int parse_listen(const char *arg, struct sockaddr_storage *ss, int *len)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -1;
    long port = strtol(colon + 1, NULL, 10);
    if (port > 65535 || strlen(colon + 1) > 5)
        return -1;
    char host[64];
    size_t hl = (size_t)(colon - arg);
    if (arg[0] == '[' && hl >= 2 && arg[hl - 1] == ']')
        arg++, hl -= 2;
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, arg, hl);
    host[hl] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (evutil_inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = (int)sizeof *s4;
    } else if (evutil_inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = (int)sizeof *s6;
    } else {
        return -1;
    }
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct pgsim *sim = arg;
    if (!sim->cfg.quiet)
        pgsim_log(sim, "signal %d: stopping", (int)sig);
    event_base_loopexit(sim->base, NULL);
}

/* More descriptors than the default 1024: the benchmark opens hundreds of
 * connections at once. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* http://HOST:PORT for the bound address; a wildcard host reads as loopback. */
static void base_url(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "127.0.0.1";
    int port = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        port = ntohs(s6->sin6_port);
        if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
            snprintf(host, sizeof host, "::1");
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        snprintf(out, len, "http://[%s]:%d", host, port);
        return;
    }
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    port = ntohs(s4->sin_port);
    if (s4->sin_addr.s_addr != htonl(INADDR_ANY))
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    snprintf(out, len, "http://%s:%d", host, port);
}

int main(int argc, char **argv)
{
    struct pgsim sim;
    memset(&sim, 0, sizeof sim);
    struct pgsim_cfg *c = &sim.cfg;
    c->kakao_secret = "DEVSIMKAKAOSECRET";
    c->kakao_admin_key = "SIMKAKAOADMINKEY";
    c->naver_client_id = "SIMNAVERCLIENTID";
    c->naver_client_secret = "SIMNAVERCLIENTSECRET";
    c->naver_chain_id = "SIMNAVERCHAINID";
    c->naver_partner = "np_sim";
    c->kakao_window_s = 15 * 60;
    c->naver_window_s = 10 * 60;
    const char *listen_arg = NULL;
    int rc = parse_args(argc, argv, c, &listen_arg);
    if (rc)
        return rc;
    if (strchr(c->naver_partner, '/'))
        return usage_error("--naver-partner must not contain '/': %s", c->naver_partner);

    struct sockaddr_storage addr;
    int addrlen;
    if (parse_listen(listen_arg, &addr, &addrlen) != 0)
        return usage_error("--listen must be IP:PORT (port 0..65535), got \"%s\"", listen_arg);

    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    pgsim_faults_reset(&sim.faults);
    sim.base = event_base_new();
    sim.http = sim.base ? evhttp_new(sim.base) : NULL;
    if (!sim.http) {
        fprintf(stderr, "mq-pgsim: start failed: out of memory\n");
        return 1;
    }
    if (pgsim_store_init(&sim) != 0)
        return 1;
    pgsim_stats_init(&sim);

    /* Our own listener for a deep backlog: hundreds of clients may connect
     * in the same millisecond. */
    struct evconnlistener *lev = evconnlistener_new_bind(
        sim.base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        1024, (struct sockaddr *)&addr, addrlen);
    if (!lev) {
        int err = EVUTIL_SOCKET_ERROR();
        fprintf(stderr, "mq-pgsim: listen \"%s\" failed: %s\n", listen_arg,
                evutil_socket_error_to_string(err));
        return 1;
    }
    if (!evhttp_bind_listener(sim.http, lev)) {
        fprintf(stderr, "mq-pgsim: listen \"%s\" failed: evhttp_bind_listener\n", listen_arg);
        evconnlistener_free(lev);
        return 1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&bound, &blen) != 0) {
        fprintf(stderr, "mq-pgsim: getsockname failed: %s\n", strerror(errno));
        return 1;
    }
    char listen_url[128];
    base_url(&bound, listen_url, sizeof listen_url);
    snprintf(sim.public_base, sizeof sim.public_base, "%s",
             c->public_base ? c->public_base : listen_url);
    size_t pl = strlen(sim.public_base);
    while (pl > 0 && sim.public_base[pl - 1] == '/')
        sim.public_base[--pl] = '\0';
    if (!pgsim_is_http_url(sim.public_base))
        return usage_error("--public-base must be an http(s) URL, got \"%s\"", sim.public_base);

    evhttp_set_max_body_size(sim.http, 1 << 20);
    evhttp_set_allowed_methods(sim.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(sim.http, pgsim_on_request, &sim);

    struct event *sigterm = evsignal_new(sim.base, SIGTERM, on_signal, &sim);
    struct event *sigint = evsignal_new(sim.base, SIGINT, on_signal, &sim);
    if (!sigterm || !sigint || event_add(sigterm, NULL) || event_add(sigint, NULL)) {
        fprintf(stderr, "mq-pgsim: start failed: cannot watch signals\n");
        return 1;
    }

    printf("mq-pgsim listening on %s\n", listen_url);
    fflush(stdout);
    if (!c->quiet)
        pgsim_log(&sim, "public base %s; NaverPay partner %s", sim.public_base, c->naver_partner);

    event_base_dispatch(sim.base);

    pgsim_release_pending(&sim);
    evhttp_free(sim.http); /* frees the listener and every connection */
    pgsim_store_flush(&sim);
    event_free(sigterm);
    event_free(sigint);
    pgsim_store_free(&sim);
    event_base_free(sim.base);
    return 0;
}
