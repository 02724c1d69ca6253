/*
 * cli_util.h -- helpers shared by the short-lived subcommands (cli_*.c):
 * finding the running host from its pid file, and the "signal, then wait
 * for a status file" handshake the host answers (SIGHUP: reload, SIGUSR1:
 * backup).
 *
 * The handshake: the host atomically replaces a JSON status file after
 * every attempt; each status carries "started_ns", the CLOCK_REALTIME of
 * the attempt's start. The CLI notes the time, sends the signal and waits
 * for a status whose started_ns is at or after that time, so it never
 * mistakes the outcome of an older attempt for its own.
 */
#ifndef MQ_CLI_UTIL_H
#define MQ_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "paths.h"

struct json_object;

enum { MQ_HOST_ERROR = -1, MQ_HOST_NONE = 0, MQ_HOST_RUNNING = 1 };

/* Find the running host from PID_FILE. MQ_HOST_NONE (with why) when there
 * is no pid file, its pid is gone, or the pid belongs to something that is
 * not mindquiz (a stale file); MQ_HOST_ERROR (with why) when the pid cannot
 * be signalled or the file is garbage; MQ_HOST_RUNNING with *pid. */
int mq_cli_find_host(const mq_paths *p, pid_t *pid, char *why, size_t whylen);

/* Send `sig` to pid and wait up to timeout_s for status_path to report an
 * attempt that started at or after the signal. Returns 0 with the parsed
 * status object in *status (caller json_object_put()s it), or -1 with a
 * cause in err: the signal failed, the host exited, or the time ran out.
 * `what` names the attempt in messages ("reload", "backup"). */
int mq_cli_handshake(pid_t pid, int sig, const char *status_path, const char *what,
                     double timeout_s, struct json_object **status, char *err, size_t errlen);

/* A string member copied into dst ("" when absent or not a string). */
void mq_cli_json_str(struct json_object *o, const char *key, char *dst, size_t n);

/* A numeric member, or def when absent or not a number. */
int64_t mq_cli_json_i64(struct json_object *o, const char *key, int64_t def);

int64_t mq_cli_now_realtime_ns(void);
double mq_cli_now_mono_s(void);

/* Sleep, resuming after signals. */
void mq_cli_sleep_ms(long ms);

#endif
