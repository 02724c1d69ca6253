/*
 * paths.h -- where things live, resolved from a config snapshot. Relative
 * values resolve against the .env file's directory (see config.h).
 *
 *   RELEASES_DIR  default "releases"      release dirs + the `current` link
 *   DATA_DIR      default "data"          store, logs, backups
 *   PID_FILE      default "$DATA_DIR/mindquiz.pid"
 *   reload status file: "$PID_FILE.reload.json" (written by the host after
 *                 every reload attempt, read by `mindquiz reload/rollback`)
 *   LISTEN        default "127.0.0.1:8080"
 */
#ifndef MQ_PATHS_H
#define MQ_PATHS_H

#include "config.h"

typedef struct mq_paths {
    char *releases_dir;
    char *current_link; /* releases_dir + "/current" */
    char *data_dir;
    char *pid_file;
    char *reload_status; /* pid_file + ".reload.json" */
    char *listen;        /* host:port as configured */
} mq_paths;

/* Fill *p from cfg. Returns 0, or -1 on ENOMEM. Free with mq_paths_cleanup. */
int mq_paths_init(mq_paths *p, const mq_config *cfg);
void mq_paths_cleanup(mq_paths *p);

/* Split LISTEN ("host:port", "[v6]:port" or ":port") into host and port.
 * Returns 0 or -1 when malformed. */
int mq_listen_split(const char *listen, char *host, size_t hostlen, unsigned short *port);

#endif
