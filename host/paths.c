#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

int mq_paths_init(mq_paths *p, const mq_config *cfg)
{
    memset(p, 0, sizeof *p);
    p->releases_dir = mq_config_path(cfg, "RELEASES_DIR", "releases");
    p->data_dir = mq_config_path(cfg, "DATA_DIR", "data");
    if (!p->releases_dir || !p->data_dir)
        goto fail;
    p->current_link = join(p->releases_dir, "/current");
    if (mq_config_get_or(cfg, "PID_FILE", NULL))
        p->pid_file = mq_config_path(cfg, "PID_FILE", NULL);
    else
        p->pid_file = join(p->data_dir, "/mindquiz.pid");
    if (!p->current_link || !p->pid_file)
        goto fail;
    p->reload_status = join(p->pid_file, ".reload.json");
    p->listen = strdup(mq_config_get_or(cfg, "LISTEN", "127.0.0.1:8080"));
    if (!p->reload_status || !p->listen)
        goto fail;
    return 0;
fail:
    mq_paths_cleanup(p);
    return -1;
}

void mq_paths_cleanup(mq_paths *p)
{
    free(p->releases_dir);
    free(p->current_link);
    free(p->data_dir);
    free(p->pid_file);
    free(p->reload_status);
    free(p->listen);
    memset(p, 0, sizeof *p);
}

int mq_listen_split(const char *listen, char *host, size_t hostlen, unsigned short *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return -1;
    const char *h = listen;
    size_t hn = (size_t)(colon - listen);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    if (hn == 0) {
        h = "0.0.0.0";
        hn = strlen(h);
    }
    if (hn >= hostlen)
        return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || v < 0 || v > 65535)
        return -1;
    *port = (unsigned short)v;
    return 0;
}
