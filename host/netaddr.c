#include "netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

/* Parse an address; v4-mapped v6 becomes v4. Returns the family or 0. */
static int parse_ip(const char *s, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, s, out) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            return AF_INET;
        }
        return AF_INET6;
    }
    return 0;
}

int mq_ip_valid(const char *ip)
{
    unsigned char buf[16];
    return ip && parse_ip(ip, buf) != 0;
}

int mq_cidr_list_parse(const char *text, mq_cidr_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return 0;
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ", \t");
        char item[80];
        if (n >= sizeof item) {
            mq_set_err(err, errlen, "\"%.*s\" is not an address or network", (int)n, p);
            goto fail;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        p += n;
        mq_cidr c = {0};
        char *slash = strchr(item, '/');
        if (slash)
            *slash = '\0';
        c.family = parse_ip(item, c.addr);
        unsigned max = c.family == AF_INET ? 32 : 128;
        c.prefix = max;
        if (slash) {
            char *end;
            long v = strtol(slash + 1, &end, 10);
            if (*end || end == slash + 1 || v < 0 || v > (long)max)
                c.family = 0;
            else
                c.prefix = (unsigned)v;
        }
        if (!c.family) {
            if (slash)
                *slash = '/';
            mq_set_err(err, errlen, "\"%s\" is not an address or network", item);
            goto fail;
        }
        mq_cidr *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
        if (!nv) {
            mq_set_err(err, errlen, "out of memory");
            goto fail;
        }
        out->v = nv;
        out->v[out->n++] = c;
    }
    return 0;
fail:
    mq_cidr_list_free(out);
    return -1;
}

void mq_cidr_list_free(mq_cidr_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int in_net(const mq_cidr *c, const unsigned char *a)
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, full) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

int mq_cidr_list_match(const mq_cidr_list *l, const char *ip)
{
    unsigned char a[16];
    int fam = ip ? parse_ip(ip, a) : 0;
    if (!fam)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == fam && in_net(&l->v[i], a))
            return 1;
    return 0;
}
