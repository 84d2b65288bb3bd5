/*
 * svc_tool.c — test-only driver for service.c, so integration tests can
 * render, verify, install and drive units against a real systemd before a
 * greenlight command does it. Not installed.
 *
 *   svc_tool render|verify|install [options] -- ARGV...
 *   svc_tool ctl [--scope S] [--timeout MS] VERB [UNIT]
 *
 * options: --scope system|user, --name N, --description D, --shell CMD,
 *   --user U, --group G, --workdir DIR, --env K=V (repeat), --writable P
 *   (repeat), --restart R, --release-dir DIR, --current-dir DIR,
 *   --unit-dir DIR, --no-hardening
 * install prints "written PATH" or "unchanged PATH".
 * Exit status: 0 ok, 1 failed (logged), 2 usage; ctl: systemctl's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "service.h"

#define LIST_MAX 32

static int
usage(void)
{
	fprintf(stderr, "usage: svc_tool render|verify|install [options] -- "
	    "ARGV...\n       svc_tool ctl [--scope S] [--timeout MS] VERB "
	    "[UNIT]\n");
	return 2;
}

static int
scope_parse(const char *s, enum install_scope *out)
{
	if (strcmp(s, "system") == 0)
		*out = SCOPE_SYSTEM;
	else if (strcmp(s, "user") == 0)
		*out = SCOPE_USER;
	else
		return -1;
	return 0;
}

static int
ctl_main(int argc, char **argv)
{
	enum install_scope scope = SCOPE_USER;
	long timeout = 0;
	int i = 2;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--scope") == 0) {
			if (scope_parse(argv[i + 1], &scope) < 0)
				return usage();
		} else if (strcmp(argv[i], "--timeout") == 0) {
			timeout = strtol(argv[i + 1], NULL, 10);
		} else {
			return usage();
		}
	}
	if (i >= argc)
		return usage();
	return service_ctl(scope, argv[i], i + 1 < argc ? argv[i + 1] : NULL,
	    timeout);
}

int
main(int argc, char **argv)
{
	struct service_unit u = { .scope = SCOPE_USER };
	char *env[LIST_MAX + 1] = { NULL }, *wp[LIST_MAX + 1] = { NULL };
	const char *unit_dir = NULL, *cmd;
	int nenv = 0, nwp = 0, i, rc = 1;
	char *text = NULL, path[4096];

	log_set_journal(0);
	if (argc < 2)
		return usage();
	cmd = argv[1];
	if (strcmp(cmd, "ctl") == 0)
		return ctl_main(argc, argv);
	for (i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(o, "--no-hardening") == 0) {
			u.no_hardening = 1;
			continue;
		}
		if (v == NULL)
			return usage();
		i++;
		if (strcmp(o, "--scope") == 0) {
			if (scope_parse(v, &u.scope) < 0)
				return usage();
		} else if (strcmp(o, "--name") == 0) {
			u.name = v;
		} else if (strcmp(o, "--description") == 0) {
			u.description = v;
		} else if (strcmp(o, "--shell") == 0) {
			u.shell = v;
		} else if (strcmp(o, "--user") == 0) {
			u.user = v;
		} else if (strcmp(o, "--group") == 0) {
			u.group = v;
		} else if (strcmp(o, "--workdir") == 0) {
			u.working_directory = v;
		} else if (strcmp(o, "--env") == 0 && nenv < LIST_MAX) {
			env[nenv++] = (char *)v;
		} else if (strcmp(o, "--writable") == 0 && nwp < LIST_MAX) {
			wp[nwp++] = (char *)v;
		} else if (strcmp(o, "--restart") == 0) {
			u.restart = v;
		} else if (strcmp(o, "--release-dir") == 0) {
			u.release_dir = v;
		} else if (strcmp(o, "--current-dir") == 0) {
			u.current_dir = v;
		} else if (strcmp(o, "--unit-dir") == 0) {
			unit_dir = v;
		} else {
			return usage();
		}
	}
	if (i < argc)
		u.argv = &argv[i];
	u.env = nenv ? env : NULL;
	u.writable_paths = nwp ? wp : NULL;

	if (strcmp(cmd, "render") == 0) {
		if (service_render(&u, &text) == 0) {
			fputs(text, stdout);
			rc = 0;
		}
	} else if (strcmp(cmd, "verify") == 0) {
		rc = service_verify(&u) == 0 ? 0 : 1;
	} else if (strcmp(cmd, "install") == 0) {
		int w;

		if (u.name == NULL || service_unit_path(u.scope, unit_dir,
		    u.name, path, sizeof(path)) < 0 ||
		    service_render(&u, &text) < 0 ||
		    (w = service_write(path, text)) < 0)
			goto out;
		printf("%s %s\n", w ? "written" : "unchanged", path);
		rc = 0;
	} else {
		return usage();
	}
out:
	free(text);
	return rc;
}
