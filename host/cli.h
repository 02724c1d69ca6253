/*
 * cli.h -- the `mindquiz` subcommands. main() strips the common
 * `--env PATH` option (default ./.env), loads that snapshot and calls one of
 * these with the remaining arguments (argv[0] is the subcommand name).
 * Each returns the process exit status and prints its own errors to stderr.
 */
#ifndef MQ_CLI_H
#define MQ_CLI_H

#include "config.h"

int mq_cmd_serve(int argc, char **argv, const char *env_path, mq_config *cfg);
int mq_cmd_reload(int argc, char **argv, const char *env_path, mq_config *cfg);
int mq_cmd_release(int argc, char **argv, const char *env_path, mq_config *cfg);
/* `rollback [ID]` and `activate ID` share one implementation. */
int mq_cmd_rollback(int argc, char **argv, const char *env_path, mq_config *cfg);
int mq_cmd_activate(int argc, char **argv, const char *env_path, mq_config *cfg);
/* `backup` and `restore-check [BACKUP]` (cli_backup.c). */
int mq_cmd_backup(int argc, char **argv, const char *env_path, mq_config *cfg);
int mq_cmd_restore_check(int argc, char **argv, const char *env_path, mq_config *cfg);
/* `report ref [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--top N] [--csv]` (cli_report.c). */
int mq_cmd_report(int argc, char **argv, const char *env_path, mq_config *cfg);

#endif
