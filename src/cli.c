/* cli.c — subcommand dispatch, common flags, usage and help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "log.h"

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;	 /* arguments after the command name */
	const char *description; /* paragraphs for `help CMD` */
};

static const struct cli_command commands[] = {
	{ "config", cmd_config,
	    "validate the configuration and print the effective values", "",
	    "Reads the configuration file (default " CONFIG_DEFAULT_PATH "),\n"
	    "the environment (RELEASE_FOLDER_NAME, BLOB_CONTAINER_NAME,\n"
	    "GREENLIGHT_<SECTION>_<KEY>) and flags, reports every problem as\n"
	    "FILE:LINE: what is wrong, then prints each key with its value and\n"
	    "where the value came from. Secrets are masked.\n"
	    "Exit 0 when valid, 3 when not.\n" },
	{ "deploy", cmd_deploy,
	    "download, install, switch to and validate a release", "[--release R]",
	    "Preflight (config, clock, the [install] lock_file lock, free\n"
	    "space), then: when R is current, intact, its units in place and\n"
	    "active, exit 0 at once (no download, no restart). Otherwise\n"
	    "download the release folder into [install] root/staging (archives\n"
	    "listed in release.ini [unpack] are extracted while they download),\n"
	    "run before_install, install it as root/releases/R (immutable),\n"
	    "run after_install, write its systemd units, switch root/current to\n"
	    "it, run before_start, restart, and validate (release.ini [health],\n"
	    "then the validate hook). When activation or validation fails, the\n"
	    "previous release is put back and restarted. A deploy killed at any\n"
	    "point is finished by the next run. --dry-run prints the plan.\n"
	    "\n"
	    "Exit codes:\n"
	    "  0  deployed, or already current (nothing done)\n"
	    "  1  internal failure, or rolled back but the previous release is\n"
	    "     not healthy either\n"
	    "  2  bad command line\n"
	    "  3  greenlight.ini or release.ini invalid, a unit systemd rejects,\n"
	    "     a before_install or after_install hook that failed\n"
	    "  4  identity, token or permission refused by IMDS or storage\n"
	    "  5  account, container or release folder not found\n"
	    "  6  integrity: size, Content-MD5, MANIFEST, or a hostile archive\n"
	    "  7  R was activated and failed (before_start, restart, health\n"
	    "     check, validate hook); the previous release is back and\n"
	    "     healthy (or, on a first deploy, R is stopped)\n"
	    "  8  temporary: network, throttling, IMDS, another deploy holds\n"
	    "     the lock past [install] lock_wait; rerun\n"
	    "  9  this machine: disk full, permissions, systemctl failed\n"
	    "Before activation nothing that runs is touched.\n" },
	{ "rollback", cmd_rollback,
	    "switch back to the previous (or a named) installed release",
	    "[--to R]",
	    "Switches root/current to the previous release (or the installed\n"
	    "release R), writes its units, restarts and validates it, with no\n"
	    "download. When it fails validation, the release that was current\n"
	    "is put back (exit 7). Exit 0 also when it is current already; 5\n"
	    "when there is no previous release or R is not installed; other\n"
	    "codes as for deploy.\n" },
	{ "status", cmd_status,
	    "current and previous release, last deploy, installed releases",
	    "[--json]",
	    "Reads [install] state_file and the layout under [install] root\n"
	    "(no root needed): current and previous release, the last deploy\n"
	    "or rollback with its result, exit code, error, per-phase timings\n"
	    "and hook output, whether a deploy is running now, the history,\n"
	    "the installed releases, and what greenlight health answers the\n"
	    "load balancer. --json prints the state file's JSON.\n" },
	{ "health", cmd_health,
	    "the health and drain daemon (load balancer probe, Scheduled "
	    "Events)", "",
	    "Serves [health] path (default /health) for the load balancer: 200\n"
	    "while serving and the workload check passes, 503 otherwise; /live\n"
	    "for the Application Health extension (Healthy unless the workload\n"
	    "is down, also while draining); /status (JSON) and /metrics\n"
	    "(Prometheus). Polls IMDS Scheduled Events; on an event of\n"
	    "[health] events for this VM it fails the probe, waits drain_min\n"
	    "and until no connection to the workload ports is left (at most\n"
	    "drain_max), then approves the event. SIGTERM drains the same way,\n"
	    "then exits 0; a second SIGTERM exits at once.\n"
	    "Exit 0 after that drain, 3 when the configuration is invalid,\n"
	    "9 when it cannot listen.\n" },
	{ "drain", cmd_drain,
	    "drain this VM by hand through the health daemon", "[--undo]",
	    "POSTs /drain (or /undrain with --undo) to the greenlight health\n"
	    "daemon of this VM ([health] listen; 127.0.0.1 when it listens on\n"
	    "0.0.0.0). While drained the probe fails and /live stays healthy.\n"
	    "Exit 0 when done, 8 when the daemon is not reachable.\n" },
	{ "check", cmd_check,
	    "preflight: config, credentials, list and read access, free space",
	    "[--release R]",
	    "Checks, in seconds and without changing anything: the\n"
	    "configuration, a credential ([auth] method), permission to list\n"
	    "the release folder and to read one blob, and free space at\n"
	    "[install] root for the listed size. Prints one line per check;\n"
	    "the first failure logs why and what to do. Waits at most 1m\n"
	    "(an IMDS that is updating gets its 70s).\n"
	    "Exit 0 when all pass; 3 config, 4 auth or permission, 5 not\n"
	    "found, 8 temporary (network, IMDS), 9 local (disk).\n" },
	{ "fetch", cmd_fetch,
	    "download and verify a release folder into a directory",
	    "--release R --dest DIR",
	    "Lists every blob under <container>/R/ and downloads them into DIR\n"
	    "with the same relative paths, in parallel over [fetch] connections\n"
	    "kept-alive connections; blobs larger than [fetch] chunk_size go as\n"
	    "ranges pinned to their ETag. Data goes to a staging area\n"
	    "(DIR.partial beside DIR);\n"
	    "a fetch cut short (kill, network, disk full) resumes where it\n"
	    "stopped when rerun. Every file is checked (size, Content-MD5 when\n"
	    "the blob has one, sha256 when the release has a MANIFEST) and\n"
	    "appears in DIR only complete and verified. Files already in DIR\n"
	    "and verified are not downloaded again.\n"
	    "Exit 0 when DIR holds the release; 3 config, 4 auth or permission,\n"
	    "5 not found, 6 integrity, 8 temporary (network, throttling,\n"
	    "deadline), 9 local (disk full, permissions).\n" },
};

static const struct cli_opt common_opts[] = {
	{ "config", 1, NULL, NULL, NULL,
	    "configuration file (default " CONFIG_DEFAULT_PATH ")", "FILE" },
	{ "set", 1, NULL, NULL, NULL,
	    "override one key, e.g. --set fetch.connections=8",
	    "SECTION.KEY=VALUE" },
	{ "verbose", 0, NULL, NULL, NULL, "more detail (-v, -vv)", NULL },
	{ "help", 0, NULL, NULL, NULL, "show this help", NULL },
	{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
};

static const struct cli_command *
command_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
print_opts(FILE *out, const struct cli_opt *opts)
{
	char left[64];

	for (; opts != NULL && opts->name != NULL; opts++) {
		snprintf(left, sizeof(left), "--%s%s%s", opts->name,
		    opts->has_arg ? " " : "",
		    opts->has_arg ? (opts->argname ? opts->argname : "VALUE") :
		    "");
		fprintf(out, "  %-28s %s\n", left, opts->help);
	}
}

static void
command_help(FILE *out, const struct cli_command *cmd,
    const struct cli_opt *opts)
{
	fprintf(out, "usage: greenlight %s%s%s [options]\n\n%s.\n\n%s\n",
	    cmd->name, *cmd->usage ? " " : "", cmd->usage, cmd->summary,
	    cmd->description);
	fprintf(out, "options:\n");
	print_opts(out, opts);
	print_opts(out, common_opts);
}

static void
main_usage(FILE *out)
{
	fprintf(out, "usage: greenlight [--version] [--help] COMMAND "
	    "[options]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fprintf(out, "  %-10s %s\n", "help", "explain a command: help COMMAND");
	fprintf(out, "\n'greenlight help COMMAND' or 'greenlight COMMAND "
	    "--help' explains one.\n");
}

/* Match "--name" or "--name=value" against opt; returns 1 on match. */
static int
opt_match(const char *arg, const char *name, const char **inline_val)
{
	size_t n = strlen(name);

	if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0)
		return 0;
	if (arg[2 + n] == '\0') {
		*inline_val = NULL;
		return 1;
	}
	if (arg[2 + n] == '=') {
		*inline_val = arg + 3 + n;
		return 1;
	}
	return 0;
}

static int
usage_error(struct cli_ctx *ctx, const char *first, const char *second)
{
	const struct cli_command *cmd = command_find(ctx->command);

	fprintf(stderr, "greenlight %s: %s%s\n", ctx->command, first, second);
	if (cmd != NULL)
		fprintf(stderr, "usage: greenlight %s%s%s [options]\n",
		    cmd->name, *cmd->usage ? " " : "", cmd->usage);
	fprintf(stderr, "Try 'greenlight help %s'.\n", ctx->command);
	return -1;
}

int
cli_parse(struct cli_ctx *ctx, int argc, char **argv,
    const struct cli_opt *opts)
{
	const struct cli_command *cmd;
	static char *rest[64];

	memset(ctx, 0, sizeof(*ctx));
	ctx->command = argv[0];
	ctx->rest = rest;
	cmd = command_find(argv[0]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct cli_opt *o;
		int matched = 0;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			if (cmd != NULL)
				command_help(stdout, cmd, opts);
			return 1;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			ctx->verbose++;
			continue;
		}
		if (strcmp(a, "-vv") == 0) {
			ctx->verbose += 2;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			for (i++; i < argc && ctx->nrest < 64; i++)
				ctx->rest[ctx->nrest++] = argv[i];
			break;
		}
		if (strcmp(a, "-c") == 0 || opt_match(a, "config", &val)) {
			if (val == NULL && i + 1 >= argc)
				return usage_error(ctx, a, " needs a FILE");
			ctx->config_path = val ? val : argv[++i];
			continue;
		}
		if (opt_match(a, "set", &val)) {
			if (val == NULL && i + 1 >= argc)
				return usage_error(ctx, a,
				    " needs SECTION.KEY=VALUE");
			if (ctx->nsets >= 64)
				return usage_error(ctx, a, ": too many");
			ctx->set_origin[ctx->nsets] = "flag --set";
			ctx->sets[ctx->nsets++] = val ? val : argv[++i];
			continue;
		}
		for (o = opts; o != NULL && o->name != NULL; o++) {
			if (!opt_match(a, o->name, &val))
				continue;
			matched = 1;
			if (o->has_arg && val == NULL) {
				if (i + 1 >= argc)
					return usage_error(ctx, a,
					    " needs a value");
				val = argv[++i];
			} else if (!o->has_arg && val != NULL) {
				return usage_error(ctx, a,
				    " takes no value");
			}
			if (o->flag != NULL)
				*o->flag = 1;
			if (o->str != NULL)
				*o->str = val;
			if (o->cfg_key != NULL) {
				static char buf[64][160];

				if (ctx->nsets >= 64)
					return usage_error(ctx,
					    "too many options", "");
				snprintf(buf[ctx->nsets], sizeof(buf[0]),
				    "flag --%s", o->name);
				ctx->set_origin[ctx->nsets] = buf[ctx->nsets];
				/* "key" then value: stored as a pair */
				ctx->sets[ctx->nsets++] = o->cfg_key;
				if (ctx->nsets >= 64)
					return usage_error(ctx,
					    "too many options", "");
				ctx->set_origin[ctx->nsets] = NULL;
				ctx->sets[ctx->nsets++] = val;
			}
			break;
		}
		if (matched)
			continue;
		if (a[0] == '-' && a[1] != '\0')
			return usage_error(ctx, "unknown option ", a);
		if (ctx->nrest >= 64)
			return usage_error(ctx, "too many arguments", "");
		ctx->rest[ctx->nrest++] = argv[i];
	}
	if (ctx->verbose > 0)
		log_set_level(ctx->verbose > 1 ? LOG_LEVEL_TRACE :
		    LOG_LEVEL_DEBUG);
	return 0;
}

struct config *
cli_config_load(struct cli_ctx *ctx, unsigned need, int *problems)
{
	struct config *cfg;
	int n = 0;

	cfg = config_load(ctx->config_path, &n);
	if (cfg == NULL) {
		log_error("out of memory");
		return NULL;
	}
	for (int i = 0; i < ctx->nsets; i++) {
		int rc;

		if (i + 1 < ctx->nsets && ctx->set_origin[i + 1] == NULL) {
			/* a command flag bound to a key: (key, value) pair */
			rc = config_set(cfg, ctx->sets[i], ctx->sets[i + 1],
			    ctx->set_origin[i]);
			i++;
		} else {
			rc = config_set(cfg, ctx->sets[i], NULL,
			    ctx->set_origin[i]);
		}
		if (rc < 0)
			n++;
	}
	/* a file that could not be opened is the one problem to report:
	 * the required keys it would have set are missing only because of
	 * it */
	if (!(n > 0 && cfg->path == NULL))
		n += config_check(cfg, need);
	*problems = n;
	return cfg;
}

struct config *
cli_config(struct cli_ctx *ctx, unsigned need)
{
	struct config *cfg;
	int problems = 0;

	cfg = cli_config_load(ctx, need, &problems);
	if (cfg == NULL)
		return NULL;
	if (problems > 0) {
		log_error("configuration has %d problem%s; fix %s and rerun "
		    "(greenlight config shows the effective values)", problems,
		    problems == 1 ? "" : "s",
		    problems == 1 ? "it" : "them");
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

int
cli_no_args(const struct cli_ctx *ctx)
{
	if (ctx->nrest == 0)
		return 0;
	fprintf(stderr,
	    "greenlight %s: unexpected argument '%s'\n"
	    "Try 'greenlight help %s'.\n",
	    ctx->command, ctx->rest[0], ctx->command);
	return -1;
}

struct config *
cli_start(struct cli_ctx *ctx, int argc, char **argv,
    const struct cli_opt *opts, unsigned need, int *rc)
{
	struct config *cfg;
	int parsed;

	*rc = EXIT_OK;
	parsed = cli_parse(ctx, argc, argv, opts);
	if (parsed != 0) {
		*rc = parsed > 0 ? EXIT_OK : EXIT_USAGE;
		return NULL;
	}
	if (cli_no_args(ctx) < 0) {
		*rc = EXIT_USAGE;
		return NULL;
	}
	cfg = cli_config(ctx, need);
	if (cfg == NULL)
		*rc = EXIT_CONFIG;
	return cfg;
}

int
cli_main(int argc, char **argv)
{
	const struct cli_command *cmd;

	log_set_tag("greenlight");
	if (argc < 2) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("greenlight %s\n", GREENLIGHT_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		main_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		char *hargv[3];

		if (argc < 3) {
			main_usage(stdout);
			return EXIT_OK;
		}
		cmd = command_find(argv[2]);
		if (cmd == NULL) {
			fprintf(stderr, "greenlight: unknown command '%s'\n\n",
			    argv[2]);
			main_usage(stderr);
			return EXIT_USAGE;
		}
		hargv[0] = argv[2];
		hargv[1] = (char *)"--help";
		hargv[2] = NULL;
		return cmd->run(2, hargv);
	}
	cmd = command_find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "greenlight: unknown command '%s'\n\n",
		    argv[1]);
		main_usage(stderr);
		return EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
