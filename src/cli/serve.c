/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve.c - `strongroom serve`: read the settings (config file, then the
 * environment, then flags) and the vault passphrase, and run the server
 * (src/server). The server itself calls only the public API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

/* clang-format off */
const char help_serve[] =
    "usage: strongroom serve [--config FILE] [SETTINGS] [--passphrase-fd N]\n"
    "\n"
    "Serve the vault over HTTPS: the JSON API under /v1 (docs/server.md,\n"
    "/openapi.json), the audit log as static tiles under /log/, and /healthz,\n"
    "/readyz, /metrics. People authenticate with API tokens (Authorization:\n"
    "Bearer ...); services may use a client certificate instead (--client-ca).\n"
    "Runs until SIGTERM or SIGINT, then finishes the requests in flight,\n"
    "checkpoints the audit log and exits 0.\n"
    "\n"
    "  --config FILE               settings as a JSON object (or $STRONGROOM_CONFIG)\n"
    "  --passphrase-fd N           read the vault passphrase from fd N (else\n"
    "                              $STRONGROOM_PASSPHRASE, else a prompt)\n"
    "  --list-routes               print each route (METHOD PATH; * marks a\n"
    "                              prefix) and exit\n"
    "\n";
/* clang-format on */

static void serve_usage(FILE *f)
{
    fputs(help_serve, f);
    fputs(srv_config_help, f);
    fputs("\nExample:\n"
          "  strongroom serve --vault /srv/vault --listen 0.0.0.0:8443 \\\n"
          "    --tls-cert server.crt --tls-key server.key --client-ca "
          "services-ca.crt\n",
          f);
}

int cmd_serve(int argc, char **argv)
{
    srv_config cfg;
    char err[SRV_ERR_MAX];
    common c = COMMON_INIT;
    const char *config = getenv("STRONGROOM_CONFIG");
    srv_config_defaults(&cfg);
    /* First pass: --help and --config, which the rest builds on. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            serve_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--list-routes") == 0) {
            for (unsigned r = 0; r < srv_route_count; r++)
                (void)printf("%s %s%s\n", srv_routes[r].method,
                             srv_routes[r].path,
                             (srv_routes[r].flags & R_PREFIX) ? "*" : "");
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config = argv[i] + 9;
    }
    if (config != NULL && config[0] != '\0' &&
        !srv_config_load(&cfg, config, err))
        return fail("serve", err);
    if (!srv_config_env(&cfg, err))
        return fail("serve", err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            (void)fprintf(stderr, "strongroom serve: unexpected '%s'\n", a);
            serve_usage(stderr);
            return EXIT_USAGE;
        }
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(a + 2, '=');
        size_t n = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (n == 0 || n >= sizeof name) {
            (void)fprintf(stderr, "strongroom serve: unknown option '%s'\n", a);
            return EXIT_USAGE;
        }
        memcpy(name, a + 2, n);
        name[n] = '\0';
        if (eq != NULL)
            value = eq + 1;
        if (strcmp(name, "insecure-loopback") == 0 && value == NULL)
            value = "true";
        if (value == NULL) {
            if (i + 1 >= argc) {
                (void)fprintf(stderr, "strongroom serve: %s needs a value\n",
                              a);
                return EXIT_USAGE;
            }
            value = argv[++i];
        }
        if (strcmp(name, "config") == 0)
            continue;
        if (strcmp(name, "passphrase-fd") == 0) {
            uint64_t fd = 0;
            if (!parse_u64(value, &fd) || fd > 1024) {
                (void)fprintf(stderr,
                              "strongroom serve: --passphrase-fd takes a "
                              "descriptor number\n");
                return EXIT_USAGE;
            }
            c.pass_fd = (int)fd;
            continue;
        }
        if (!srv_config_set(&cfg, name, value, err)) {
            (void)fprintf(stderr, "strongroom serve: %s\n", err);
            return EXIT_USAGE;
        }
    }
    if (!srv_config_check(&cfg, err)) {
        (void)fprintf(stderr, "strongroom serve: %s\n", err);
        return EXIT_USAGE;
    }
    secret pass;
    if (!get_pass("serve", &c, false, &pass)) {
        secret_free(&pass);
        return EXIT_USAGE;
    }
    int rc = srv_run(&cfg, pass.p, pass.len, err);
    secret_free(&pass);
    if (rc != 0)
        (void)fprintf(stderr, "strongroom serve: %s\n", err);
    return rc;
}
