/* cli.h — command table, common flags, and the per-command entry points. */
#ifndef GREENLIGHT_CLI_H
#define GREENLIGHT_CLI_H

#include "config.h"

/* One command-specific flag. Exactly one of cfg_key, str, flag is used. */
struct cli_opt {
	const char *name;	/* long name without "--" */
	int has_arg;		/* 1: --name VALUE or --name=VALUE */
	const char *cfg_key;	/* set this config key ("storage.release") */
	const char **str;	/* or store the argument here */
	int *flag;		/* or set this to 1 */
	const char *help;	/* one line for usage */
	const char *argname;	/* "R", "DIR", ... */
};

/* What every command gets after its flags are parsed. */
struct cli_ctx {
	const char *command;
	const char *config_path; /* --config, or NULL for the default */
	int verbose;
	char **rest;		 /* positional arguments left */
	int nrest;
	/* --set and flag overrides, applied after the file and environment */
	const char *sets[64];
	const char *set_origin[64];
	int nsets;
};

/*
 * Parse argv for command (argv[0] is the command name) with its options
 * plus the common ones (--config, --set, -v, --help). Returns 0, 1 when
 * --help was printed, or -1 after printing usage to stderr.
 */
int cli_parse(struct cli_ctx *ctx, int argc, char **argv,
    const struct cli_opt *opts);
/*
 * Load the configuration for a parsed command: file, environment, flag
 * overrides, then config_check(need). Returns it also when it has problems
 * (each logged; *problems gets the count), NULL when out of memory.
 */
struct config *cli_config_load(struct cli_ctx *ctx, unsigned need,
    int *problems);
/* cli_config_load, but NULL (problems logged, then a summary) when invalid. */
struct config *cli_config(struct cli_ctx *ctx, unsigned need);
/* 0, or -1 after telling the user that the command takes no arguments. */
int cli_no_args(const struct cli_ctx *ctx);
/*
 * How a command without positional arguments starts: cli_parse, then
 * cli_config(need). The configuration with *rc = EXIT_OK, or NULL with *rc
 * the exit code to return at once (EXIT_OK after --help, EXIT_USAGE,
 * EXIT_CONFIG).
 */
struct config *cli_start(struct cli_ctx *ctx, int argc, char **argv,
    const struct cli_opt *opts, unsigned need, int *rc);
/* The whole CLI: dispatch argv to a command; returns the exit code. */
int cli_main(int argc, char **argv);

/* Commands: each returns an enum exit_code. */
int cmd_config(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_health(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_fetch(int argc, char **argv);

#endif
