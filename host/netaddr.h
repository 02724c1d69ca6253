/*
 * netaddr.h -- IP addresses and CIDR lists (TRUSTED_PROXIES, allowlists).
 */
#ifndef MQ_NETADDR_H
#define MQ_NETADDR_H

#include <stddef.h>

typedef struct mq_cidr {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char addr[16];  /* network byte order */
    unsigned prefix;         /* bits */
} mq_cidr;

typedef struct mq_cidr_list {
    mq_cidr *v;
    size_t n;
} mq_cidr_list;

/* Parse "10.0.0.0/8, 127.0.0.1, ::1" (commas and/or spaces). A bare
 * address is a /32 or /128. Returns 0, or -1 with the bad item in err. */
int mq_cidr_list_parse(const char *text, mq_cidr_list *out, char *err, size_t errlen);
void mq_cidr_list_free(mq_cidr_list *l);

/* 1 when `ip` (text, v4 or v6; v4-mapped v6 is matched as v4) is inside
 * one of the list's networks. */
int mq_cidr_list_match(const mq_cidr_list *l, const char *ip);

/* 1 when `ip` parses as an IPv4 or IPv6 address. */
int mq_ip_valid(const char *ip);

#endif
