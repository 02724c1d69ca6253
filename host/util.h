/*
 * util.h -- small helpers shared by the host and its commands.
 */
#ifndef MQ_UTIL_H
#define MQ_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* snprintf into an error buffer; does nothing when err is NULL or errlen 0. */
void mq_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mkdir -p. Directories it creates get exactly `mode` (the umask does not
 * apply); existing ones are left alone. Returns 0, or -1 with errno set
 * (ENOTDIR when the path exists but is not a directory). */
int mq_mkdir_p(const char *path, mode_t mode);

#endif
