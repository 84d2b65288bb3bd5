/* cmd_drain.c — `greenlight drain [--undo]` via the daemon's admin URL. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "health/server.h"
#include "http.h"
#include "log.h"

#define ADMIN_TIMEOUT_MS 5000

/* The "message" or "error" member of a reply body, or the body itself. */
static void
reply_text(const char *body, size_t len, char *out, size_t outsz)
{
	json_t *root, *v;

	snprintf(out, outsz, "%.*s", (int)(len > 200 ? 200 : len),
	    body ? body : "");
	root = body ? json_loadb(body, len, 0, NULL) : NULL;
	if (root == NULL)
		return;
	v = json_object_get(root, "message");
	if (!json_is_string(v))
		v = json_object_get(root, "error");
	if (json_is_string(v))
		snprintf(out, outsz, "%s", json_string_value(v));
	json_decref(root);
}

int
cmd_drain(int argc, char **argv)
{
	int undo = 0;
	const struct cli_opt opts[] = {
		{ "undo", 0, NULL, NULL, &undo,
		    "lift a manual drain: serve again", NULL },
		{ NULL, 0, NULL, NULL, NULL, NULL, NULL },
	};
	struct cli_ctx ctx;
	struct config *cfg = NULL;
	struct http_client *http = NULL;
	struct http_request req = { 0 };
	struct http_response resp = { 0 };
	char base[300], url[320], text[512];
	int rc;

	rc = cli_parse(&ctx, argc, argv, opts);
	if (rc != 0)
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	cfg = cli_config(&ctx, 0);
	if (cfg == NULL)
		return EXIT_CONFIG;
	rc = EXIT_FAILURE_;
	if (server_local_url(cfg->health_listen, base, sizeof(base)) < 0 ||
	    snprintf(url, sizeof(url), "%s/%s", base, undo ? "undrain" :
	    "drain") >= (int)sizeof(url)) {
		log_error("drain: [health] listen \"%s\" is not HOST:PORT",
		    cfg->health_listen);
		rc = EXIT_CONFIG;
		goto out;
	}
	http = http_client_new(NULL);
	if (http == NULL)
		goto out;
	req.method = "POST";
	req.url = url;
	req.body = "";
	req.body_len = 0;
	req.timeout_ms = ADMIN_TIMEOUT_MS;
	req.max_body = 64 * 1024;
	req.imds = 1; /* plain http on this host, never through a proxy */
	if (http_do(http, &req, &resp) < 0) {
		log_error("drain: cannot reach greenlight health at %s (%s); "
		    "is the service running?", base, resp.errmsg);
		rc = EXIT_TEMPORARY;
		goto out;
	}
	reply_text(resp.body, resp.body_len, text, sizeof(text));
	if (resp.status == 200) {
		printf("%s\n", text);
		rc = EXIT_OK;
	} else if (resp.status == 403) {
		log_error("drain: %s refused: %s", url, text);
		rc = EXIT_AUTH;
	} else {
		log_error("drain: %s answered HTTP %ld: %s", url, resp.status,
		    text);
	}
out:
	http_response_clear(&resp);
	http_client_free(http);
	config_free(cfg);
	return rc;
}
