/*
 * main.c -- the `mindquiz` command: one binary, several subcommands.
 * Every subcommand takes `--env PATH` (default ./.env).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "build_info.h"
#include "cli.h"
#include "config.h"

typedef int (*cmd_fn)(int argc, char **argv, const char *env_path, mq_config *cfg);

static const struct {
    const char *name;
    cmd_fn fn;
    const char *help;
} commands[] = {
    {"serve", mq_cmd_serve, "run the server in the foreground"},
    {"reload", mq_cmd_reload, "ask the running server to load releases/current and .env again"},
    {"release", mq_cmd_release, "--from BUILD_DIR [--id ID]: publish an immutable release"},
    {"rollback", mq_cmd_rollback, "[ID]: serve the previous (or the given) release"},
    {"activate", mq_cmd_activate, "ID: serve the given release"},
    {"backup", mq_cmd_backup, "back up the store now (the running server takes it)"},
    {"restore-check", mq_cmd_restore_check, "[BACKUP]: prove the newest (or a given) backup"},
    {"report", mq_cmd_report, "ref [--from D] [--to D] [--csv]: the referral report"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mindquiz <command> [--env PATH] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "  version       print the build's version and commit\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("mindquiz %s (commit %s, built %s)\n", MQ_VERSION, MQ_COMMIT, MQ_BUILD_TIME);
        return 0;
    }
    cmd_fn fn = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            fn = commands[i].fn;
    if (!fn) {
        fprintf(stderr, "mindquiz: unknown command \"%s\"\n", argv[1]);
        usage(stderr);
        return 2;
    }
    /* Strip --env PATH / --env=PATH; pass the rest on, argv[0] = command. */
    const char *env_path = "./.env";
    char **args = calloc((size_t)argc, sizeof *args);
    if (!args)
        return 1;
    int n = 0;
    args[n++] = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--env") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mindquiz: --env needs a path\n");
                free(args);
                return 2;
            }
            env_path = argv[++i];
        } else if (strncmp(argv[i], "--env=", 6) == 0) {
            env_path = argv[i] + 6;
        } else {
            args[n++] = argv[i];
        }
    }
    char err[512];
    int missing = 0;
    mq_config *cfg = mq_config_load(env_path, &missing, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "mindquiz: parse \"%s\" failed: %s\n", env_path, err);
        free(args);
        return 2;
    }
    if (missing)
        fprintf(stderr, "mindquiz: \"%s\" not found, using defaults\n", env_path);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread exists */
    int rc = fn(n, args, env_path, cfg);
    curl_global_cleanup();
    mq_config_free(cfg);
    free(args);
    return rc;
}
