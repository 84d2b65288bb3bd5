/*
 * test_service.c — unit rendering as golden text (system and user scope),
 * ExecStart quoting and command resolution, validation messages, unit paths,
 * change-detecting writes, and `systemd-analyze verify` of every kind of
 * unit greenlight generates (the real tool; it needs no running systemd).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fsutil.h"
#include "service.h"
#include "testutil.h"

static char tmp[256];
static char rel[512];	/* a release directory with bin/server */
static char wpath[512]; /* an existing writable path */

static int
setup(void **state)
{
	char dir[600], path[700];

	tmpdir_make(tmp, sizeof(tmp));
	snprintf(rel, sizeof(rel), "%s/releases/v1", tmp);
	snprintf(dir, sizeof(dir), "%s/bin", rel);
	fs_mkdir_p(dir, 0755);
	file_put(dir, "server", "#!/bin/sh\nexec sleep 1\n", path,
	    sizeof(path));
	chmod(path, 0755);
	file_put(rel, "tool", "#!/bin/sh\n", path, sizeof(path));
	chmod(path, 0755);
	snprintf(wpath, sizeof(wpath), "%s/data", tmp);
	fs_mkdir_p(wpath, 0755);
	return 0;
}

static int
teardown(void **state)
{
	fs_rm_rf(tmp);
	return 0;
}

static const char hardening_all[] =
    "NoNewPrivileges=yes\n"
    "RestrictSUIDSGID=yes\n"
    "RestrictRealtime=yes\n"
    "LockPersonality=yes\n"
    "SystemCallArchitectures=native\n";

static const char hardening_system_tail[] =
    "PrivateTmp=yes\n"
    "PrivateDevices=yes\n"
    "ProtectKernelTunables=yes\n"
    "ProtectKernelModules=yes\n"
    "ProtectKernelLogs=yes\n"
    "ProtectControlGroups=yes\n"
    "ProtectClock=yes\n"
    "ProtectHostname=yes\n";

static void
test_render_system_golden(void **state)
{
	char *argv[] = { "bin/server", "--port", "8080", "a b", "$HOME", NULL };
	char *env[] = { "A=x y", "B=$HOME", "C=100%", "D=q\"uote", NULL };
	char *wp[] = { wpath, NULL };
	struct service_unit u = {
		.name = "web",
		.description = "Web 100% ready\n(blue)",
		.argv = argv,
		.user = "daemon",
		.group = "daemon",
		.env = env,
		.writable_paths = wp,
		.release_dir = rel,
		.current_dir = "/opt/greenlight/current",
		.release = "v1",
		.scope = SCOPE_SYSTEM,
	};
	char want[4096], *text = NULL;

	snprintf(want, sizeof(want),
	    "# Written by greenlight; do not edit: every deploy rewrites it.\n"
	    "[Unit]\n"
	    "Description=Web 100%%%% ready (blue)\n"
	    "Wants=network-online.target\n"
	    "After=network-online.target\n"
	    "\n"
	    "[Service]\n"
	    "Type=exec\n"
	    "ExecStart=/opt/greenlight/current/bin/server --port 8080 \"a b\" "
	    "\"$$HOME\"\n"
	    "WorkingDirectory=/opt/greenlight/current\n"
	    "User=daemon\n"
	    "Group=daemon\n"
	    "Environment=\"A=x y\"\n"
	    "Environment=\"B=$HOME\"\n"
	    "Environment=\"C=100%%%%\"\n"
	    "Environment=\"D=q\\\"uote\"\n"
	    "Restart=on-failure\n"
	    "RestartSec=1s\n"
	    "TimeoutStopSec=30s\n"
	    "%s"
	    "ProtectSystem=strict\n"
	    "ReadWritePaths=%s\n"
	    "ProtectHome=yes\n"
	    "%s"
	    "\n"
	    "[Install]\n"
	    "WantedBy=multi-user.target\n", hardening_all, wpath,
	    hardening_system_tail);
	assert_int_equal(service_render(&u, &text), 0);
	assert_string_equal(text, want);
	free(text);
}

static void
test_render_user_golden(void **state)
{
	char *argv[] = { "python3", "-m", "http.server", "8080", NULL };
	struct service_unit u = {
		.name = "web",
		.argv = argv,
		.user = "daemon", /* ignored in user scope */
		.group = "daemon",
		.working_directory = "/srv/www",
		.restart = "always",
		.restart_sec_ms = 1500,
		.stop_timeout_ms = 120000,
		.release_dir = rel,
		.current_dir = "/home/me/gl/current",
		.scope = SCOPE_USER,
	};
	char want[8192], *text = NULL, py[256];
	struct capture c;

	/* a bare command not in the release: systemd's fixed PATH */
	assert_true(access("/usr/bin/python3", X_OK) == 0 ||
	    access("/usr/local/bin/python3", X_OK) == 0);
	snprintf(py, sizeof(py), "%s", access("/usr/local/bin/python3",
	    X_OK) == 0 ? "/usr/local/bin/python3" : "/usr/bin/python3");
	snprintf(want, sizeof(want),
	    "# Written by greenlight; do not edit: every deploy rewrites it.\n"
	    "[Unit]\n"
	    "Description=greenlight workload web\n"
	    "\n"
	    "[Service]\n"
	    "Type=exec\n"
	    "ExecStart=%s -m http.server 8080\n"
	    "WorkingDirectory=/srv/www\n"
	    "Restart=always\n"
	    "RestartSec=1500ms\n"
	    "TimeoutStopSec=2m\n"
	    "%s"
	    "\n"
	    "[Install]\n"
	    "WantedBy=default.target\n", py, hardening_all);
	capture_begin(&c);
	assert_int_equal(service_render(&u, &text), 0);
	capture_end(&c);
	assert_string_equal(text, want);
	assert_int_equal(count_lines_with(c.text, "service web: ExecStart "
	    "\"python3\" resolved to "), 1);
	free(text);

	/* no hardening at all when the unit opts out */
	u.no_hardening = 1;
	assert_int_equal(service_render(&u, &text), 0);
	assert_null(strstr(text, "NoNewPrivileges"));
	free(text);
}

/* The ExecStart line for argv {"/bin/echo", arg}. */
static void
exec_line(const char *arg, char *out, size_t outsz)
{
	char *argv[] = { "/bin/echo", (char *)arg, NULL };
	struct service_unit u = {
		.name = "q", .argv = argv, .current_dir = "/opt/g/current",
		.scope = SCOPE_USER,
	};
	char *text = NULL, *p, *eol;

	assert_int_equal(service_render(&u, &text), 0);
	p = strstr(text, "\nExecStart=/bin/echo ");
	assert_non_null(p);
	p += strlen("\nExecStart=/bin/echo ");
	eol = strchr(p, '\n');
	snprintf(out, outsz, "%.*s", (int)(eol - p), p);
	free(text);
}

static void
test_exec_quoting(void **state)
{
	static const struct {
		const char *arg, *want;
	} t[] = {
		{ "plain", "plain" },
		{ "--port=8080", "--port=8080" },
		{ "/a/b.c:d,e+f@g", "/a/b.c:d,e+f@g" },
		{ "a b", "\"a b\"" },
		{ "", "\"\"" },
		{ "100%", "\"100%%\"" },
		{ "%n", "\"%%n\"" },
		{ "$HOME", "\"$$HOME\"" },
		{ "${X}", "\"$${X}\"" },
		{ "it's", "\"it's\"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ ";", "\";\"" },
		{ "a;b", "\"a;b\"" },
		{ "tab\there", "\"tab\\there\"" },
		{ "line\nbreak", "\"line\\nbreak\"" },
		{ "\x01\x7f", "\"\\x01\\x7f\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
		{ "*?[]", "\"*?[]\"" },
	};
	char got[256];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		exec_line(t[i].arg, got, sizeof(got));
		if (strcmp(got, t[i].want) != 0)
			fail_msg("arg [%s]: got [%s], want [%s]", t[i].arg, got,
			    t[i].want);
	}
}

static void
test_exec_resolution(void **state)
{
	static const struct {
		const char *argv0, *want;
	} t[] = {
		{ "/usr/bin/env", "/usr/bin/env" },
		{ "bin/server", "/opt/g/current/bin/server" },
		{ "./bin/server", "/opt/g/current/bin/server" },
		{ "bin/not-there-yet", "/opt/g/current/bin/not-there-yet" },
		{ "tool", "/opt/g/current/tool" },	/* in the release */
		{ "sh", "/bin/sh" },			/* systemd's PATH */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char *argv[] = { (char *)t[i].argv0, NULL };
		struct service_unit u = {
			.name = "r", .argv = argv, .release_dir = rel,
			.current_dir = "/opt/g/current", .scope = SCOPE_USER,
		};
		char *text = NULL, want[300];
		struct capture c;

		capture_begin(&c);
		assert_int_equal(service_render(&u, &text), 0);
		capture_end(&c);
		snprintf(want, sizeof(want), "\nExecStart=%s\n", t[i].want);
		if (strstr(text, want) == NULL &&
		    !(strcmp(t[i].argv0, "sh") == 0 &&
		    strstr(text, "\nExecStart=/usr/bin/sh\n") != NULL))
			fail_msg("%s: %s", t[i].argv0, text);
		free(text);
	}
}

static void
test_shell_command(void **state)
{
	struct service_unit u = {
		.name = "sh", .shell = "echo \"$HOME\" 50% && exec app",
		.current_dir = "/opt/g/current", .scope = SCOPE_USER,
	};
	char *text = NULL;

	assert_int_equal(service_render(&u, &text), 0);
	assert_non_null(strstr(text, "\nExecStart=/bin/sh -c \"echo "
	    "\\\"$$HOME\\\" 50%% && exec app\"\n"));
	free(text);
}

static void
test_home_root_stays_visible(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	struct service_unit u = {
		.name = "h", .argv = argv,
		.current_dir = "/home/app/gl/current",
		.scope = SCOPE_SYSTEM,
	};
	char *text = NULL;

	assert_int_equal(service_render(&u, &text), 0);
	assert_non_null(strstr(text, "\nProtectHome=read-only\n"));
	assert_null(strstr(text, "\nUser="));
	free(text);
}

static void
test_invalid(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	char *missing[] = { "no-such-program-greenlight", NULL };
	char *badenv[] = { "1X=y", NULL };
	char *noeq[] = { "NOEQ", NULL };
	char *wp_space[] = { "/var/lib/my app", NULL };
	char *wp_rel[] = { "var/lib", NULL };
	char *wp_dots[] = { "/var/../etc", NULL };
	static const struct {
		int field;
		const char *value;
		const char *msg;
	} t[] = {
		{ 0, "a/b", "service \"a/b\": not a valid unit name" },
		{ 0, "x.service", "not a valid unit name" },
		{ 0, "", "not a valid unit name" },
		{ 0, "-x", "not a valid unit name" },
		{ 1, "sometimes", "service t: restart \"sometimes\" is not one "
		    "of no, always" },
		{ 2, "srv/www", "working directory \"srv/www\" must be an "
		    "absolute path" },
		{ 3, "no-such-user-gl", "service t: user \"no-such-user-gl\" "
		    "does not exist on this machine; create it (useradd "
		    "--system no-such-user-gl)" },
		{ 4, "no-such-group-gl", "group \"no-such-group-gl\" does not "
		    "exist" },
		{ 5, NULL, "environment entry \"1X=y\" is not NAME=value" },
		{ 6, NULL, "environment entry \"NOEQ\" is not NAME=value" },
		{ 7, NULL, "writable path \"/var/lib/my app\" must be" },
		{ 8, NULL, "writable path \"var/lib\" must be" },
		{ 9, NULL, "writable path \"/var/../etc\" must be" },
		{ 10, NULL, "command \"no-such-program-greenlight\" not found "
		    "in the release nor in" },
		{ 11, NULL, "give exactly one of a command and a shell "
		    "command" },
		{ 12, NULL, "give exactly one of a command and a shell "
		    "command" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct service_unit u = {
			.name = "t", .argv = argv, .release_dir = rel,
			.current_dir = "/opt/g/current",
			.scope = SCOPE_SYSTEM,
		};
		char *text = NULL;
		struct capture c;
		int rc;

		switch (t[i].field) {
		case 0: u.name = t[i].value; break;
		case 1: u.restart = t[i].value; break;
		case 2: u.working_directory = t[i].value; break;
		case 3: u.user = t[i].value; break;
		case 4: u.group = t[i].value; break;
		case 5: u.env = badenv; break;
		case 6: u.env = noeq; break;
		case 7: u.writable_paths = wp_space; break;
		case 8: u.writable_paths = wp_rel; break;
		case 9: u.writable_paths = wp_dots; break;
		case 10: u.argv = missing; break;
		case 11: u.shell = "true"; break;
		case 12: u.argv = NULL; break;
		}
		capture_begin(&c);
		rc = service_render(&u, &text);
		capture_end(&c);
		if (rc != -1 || text != NULL)
			fail_msg("case %zu rendered: %s", i, text);
		if (strstr(c.text, t[i].msg) == NULL)
			fail_msg("case %zu: want \"%s\" in: %s", i, t[i].msg,
			    c.text);
	}
}

static void
test_missing_writable_path_warns(void **state)
{
	char *argv[] = { "/bin/true", NULL };
	char *wp[] = { "/nonexistent/greenlight/data", NULL };
	struct service_unit u = {
		.name = "w", .argv = argv, .writable_paths = wp,
		.current_dir = "/opt/g/current", .scope = SCOPE_SYSTEM,
	};
	char *text = NULL;
	struct capture c;

	capture_begin(&c);
	assert_int_equal(service_render(&u, &text), 0);
	capture_end(&c);
	assert_int_equal(count_lines_with(c.text, "writable path "
	    "/nonexistent/greenlight/data does not exist; the service will "
	    "fail to start (status 226/NAMESPACE)"), 1);
	free(text);
}

static void
test_unit_path(void **state)
{
	char out[PATH_MAX];
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
	char *save_home = home ? strdup(home) : NULL;
	char *save_xdg = xdg ? strdup(xdg) : NULL;

	assert_int_equal(service_unit_path(SCOPE_SYSTEM, NULL, "web", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/etc/systemd/system/web.service");
	assert_int_equal(service_unit_path(SCOPE_USER, "/x/units/", "web",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "/x/units/web.service");
	setenv("XDG_CONFIG_HOME", "/cfg", 1);
	assert_int_equal(service_unit_path(SCOPE_USER, NULL, "web", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/cfg/systemd/user/web.service");
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", "/home/me", 1);
	assert_int_equal(service_unit_path(SCOPE_USER, NULL, "web", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/home/me/.config/systemd/user/web.service");
	assert_int_equal(service_unit_path(SCOPE_USER, NULL, "../x", out,
	    sizeof(out)), -1);
	if (save_home)
		setenv("HOME", save_home, 1);
	if (save_xdg)
		setenv("XDG_CONFIG_HOME", save_xdg, 1);
	free(save_home);
	free(save_xdg);
}

static void
test_write_detects_change(void **state)
{
	char path[PATH_MAX];
	struct stat st;
	char *back;

	snprintf(path, sizeof(path), "%s/units/sub/web.service", tmp);
	assert_int_equal(service_write(path, "[Service]\nA=1\n"), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(service_write(path, "[Service]\nA=1\n"), 0);
	assert_int_equal(service_write(path, "[Service]\nA=2\n"), 1);
	back = fs_read_file(path, 4096, NULL, 0);
	assert_string_equal(back, "[Service]\nA=2\n");
	free(back);
}

static int
have_analyze(void)
{
	return access("/usr/bin/systemd-analyze", X_OK) == 0 ||
	    access("/bin/systemd-analyze", X_OK) == 0;
}

/* Every kind of unit greenlight writes passes verify with no output. */
static void
test_verify_generated(void **state)
{
	char *argv[] = { "bin/server", "--listen", "127.0.0.1:8080", "a b",
		"100%", "$HOME", ";", NULL };
	char *health[] = { "/bin/sleep", "health", NULL };
	char *env[] = { "A=x y", "B=$HOME", "C=100%", "D=q\"uote\\", NULL };
	char *wp[] = { wpath, NULL };
	static const enum install_scope scopes[] = { SCOPE_SYSTEM,
		SCOPE_USER };

	if (!have_analyze())
		skip();
	for (size_t s = 0; s < ARRAY_SIZE(scopes); s++) {
		struct service_unit units[] = {
			{ .name = "web", .description = "web 100%",
			  .argv = argv, .user = "daemon", .group = "daemon",
			  .env = env, .writable_paths = wp,
			  .release_dir = rel,
			  .current_dir = "/opt/greenlight/current",
			  .scope = scopes[s] },
			{ .name = "greenlight-health",
			  .description = "greenlight health daemon",
			  .argv = health, .restart = "always",
			  .release_dir = rel,
			  .current_dir = "/opt/greenlight/current",
			  .scope = scopes[s] },
			{ .name = "web.shell",
			  .shell = "exec bin/server \"$X\"",
			  .release_dir = rel,
			  .current_dir = "/home/app/current",
			  .scope = scopes[s], .no_hardening = 1 },
		};

		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			struct capture c;
			int rc;

			capture_begin(&c);
			rc = service_verify(&units[i]);
			capture_end(&c);
			if (rc != 0)
				fail_msg("scope %zu unit %s: %s", s,
				    units[i].name, c.text);
		}
	}
}

/* Anything systemd-analyze prints fails the check, even with status 0. */
static void
test_verify_fails_on_output(void **state)
{
	char *argv[] = { "bin/server", NULL };
	char *missing[] = { "bin/missing", NULL };
	struct service_unit u = {
		.name = "web", .argv = argv, .user = "nobody",
		.release_dir = rel, .current_dir = "/opt/greenlight/current",
		.scope = SCOPE_SYSTEM,
	};
	struct capture c;
	int rc;

	if (!have_analyze())
		skip();
	/* systemd only warns (status 0) about User=nobody */
	capture_begin(&c);
	rc = service_verify(&u);
	capture_end(&c);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "service web: the generated unit fails "
	    "`systemd-analyze verify` (exited with status 0, with "
	    "warnings):"));
	assert_non_null(strstr(c.text, "Special user nobody configured"));

	/* ExecStart not in the release: status 1 */
	u.user = NULL;
	u.argv = missing;
	capture_begin(&c);
	rc = service_verify(&u);
	capture_end(&c);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(c.text, "(exited with status 1)"));
	assert_non_null(strstr(c.text, "bin/missing"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_system_golden),
		cmocka_unit_test(test_render_user_golden),
		cmocka_unit_test(test_exec_quoting),
		cmocka_unit_test(test_exec_resolution),
		cmocka_unit_test(test_shell_command),
		cmocka_unit_test(test_home_root_stays_visible),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_missing_writable_path_warns),
		cmocka_unit_test(test_unit_path),
		cmocka_unit_test(test_write_detects_change),
		cmocka_unit_test(test_verify_generated),
		cmocka_unit_test(test_verify_fails_on_output),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
