/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - the server's settings. One table names each setting; a config
 * file (a JSON object), the environment (STRONGROOM_<NAME>) and flags
 * (--<name>) all set them through srv_config_set, in that order, so a flag
 * wins over the environment, which wins over the file.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define CONFIG_FILE_MAX (64u * 1024u)

typedef enum kind { K_TEXT, K_PATH, K_BOOL, K_UINT, K_BYTES } kind;

typedef struct setting {
    const char *name;
    kind k;
    size_t off;  /* offsetof in srv_config */
    size_t size; /* of a text field */
    uint64_t min, max;
} setting;

#define TEXT(n, f, k)                                                          \
    {                                                                          \
        n, k, offsetof(srv_config, f), sizeof(((srv_config *)0)->f), 0, 0      \
    }
#define NUM(n, f, k, lo, hi)                                                   \
    {                                                                          \
        n, k, offsetof(srv_config, f), sizeof(((srv_config *)0)->f), lo, hi    \
    }

static const setting settings[] = {
    TEXT("vault", vault, K_PATH),
    TEXT("listen", listen, K_TEXT),
    TEXT("tls-cert", tls_cert, K_PATH),
    TEXT("tls-key", tls_key, K_PATH),
    TEXT("client-ca", client_ca, K_PATH),
    TEXT("tls-priorities", tls_priorities, K_TEXT),
    TEXT("access-log", access_log, K_PATH),
    NUM("insecure-loopback", insecure_loopback, K_BOOL, 0, 1),
    NUM("threads", threads, K_UINT, 1, 1024),
    NUM("read-handles", read_handles, K_UINT, 0, 1024),
    NUM("auth-failures-per-minute", auth_failures_per_minute, K_UINT, 0,
        1000000),
    NUM("max-body", max_body, K_BYTES, 1024, 64ull << 20),
    NUM("max-import", max_import, K_BYTES, 1024, 1ull << 40),
    NUM("max-header", max_header, K_BYTES, 4096, 1ull << 20),
    NUM("idle-timeout", idle_timeout, K_UINT, 1, 3600),
    NUM("request-timeout", request_timeout, K_UINT, 1, 3600),
    NUM("max-connections", max_connections, K_UINT, 1, 65536),
    NUM("max-connections-per-client", max_per_client, K_UINT, 1, 65536),
    NUM("checkpoint-interval", checkpoint_ms, K_UINT, 100, 3600000),
    NUM("drain-timeout", drain_timeout, K_UINT, 1, 3600),
    NUM("session-idle", session_idle, K_UINT, 1, 86400),
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

/* clang-format off */
const char srv_config_help[] =
    "Settings (flag / environment / config file member):\n"
    "  --vault DIR                 STRONGROOM_VAULT        the vault\n"
    "  --listen ADDR:PORT          STRONGROOM_LISTEN       default 127.0.0.1:8443;\n"
    "                              [ADDR]:PORT for IPv6; port 0 picks a free one\n"
    "  --tls-cert FILE             STRONGROOM_TLS_CERT     server certificate chain (PEM)\n"
    "  --tls-key FILE              STRONGROOM_TLS_KEY      its private key (PEM)\n"
    "  --client-ca FILE            STRONGROOM_CLIENT_CA    CA certificates (PEM) for\n"
    "                              mutual TLS: a client certificate they sign, whose\n"
    "                              common name is a service account, authenticates\n"
    "                              as that account\n"
    "  --tls-priorities STRING     GnuTLS priorities (default: TLS 1.3 and 1.2 only,\n"
    "                              AEAD ciphers, ECDHE; see docs/server.md)\n"
    "  --insecure-loopback         plain HTTP, allowed only on a loopback address\n"
    "  --access-log FILE|-         one JSON line per request (default -, stderr):\n"
    "                              route, status, latency, principal; never a body\n"
    "  --threads N                 worker threads (default 8): reads never\n"
    "                              wait in one; a write waits for the writer\n"
    "  --read-handles N            vault handles for reads, each with its own\n"
    "                              store connection (default 0: two per CPU)\n"
    "  --auth-failures-per-minute N   failed authentications one address may\n"
    "                              make in a minute before its requests get\n"
    "                              429 for the rest of it (default 20; 0: no\n"
    "                              limit); each failure is an audit entry\n"
    "  --max-body BYTES            largest JSON body (default 1M)\n"
    "  --max-import BYTES          largest import body (default 4G)\n"
    "  --max-header BYTES          request line and headers (default 16K)\n"
    "  --idle-timeout SECONDS      a silent connection is closed (default 30)\n"
    "  --request-timeout SECONDS   a request must arrive whole (default 60)\n"
    "  --max-connections N         open connections in all (default 1024)\n"
    "  --max-connections-per-client N   from one address (default 64)\n"
    "  --checkpoint-interval MS    publish a checkpoint this often when the log\n"
    "                              grew (default 1000)\n"
    "  --drain-timeout SECONDS     on SIGTERM, time for requests to finish (30)\n"
    "  --session-idle SECONDS      a web console session ends after this long\n"
    "                              without a request (900)\n"
    "Sizes take K, M, G suffixes (powers of 1024). Environment names are the\n"
    "flag names in capitals with _ for -, after STRONGROOM_. A config file\n"
    "(--config FILE or STRONGROOM_CONFIG) is a JSON object of the same names,\n"
    "e.g. {\"listen\": \"0.0.0.0:8443\", \"threads\": 16, \"insecure-loopback\": false}.\n"
    "Flags win over the environment, which wins over the file.\n";
/* clang-format on */

void srv_config_defaults(srv_config *c)
{
    memset(c, 0, sizeof *c);
    (void)snprintf(c->listen, sizeof c->listen, "127.0.0.1:8443");
    (void)snprintf(c->access_log, sizeof c->access_log, "-");
    c->threads = 8;
    c->auth_failures_per_minute = 20;
    c->max_body = 1u << 20;
    c->max_import = 4ull << 30;
    c->max_header = 16u << 10;
    c->idle_timeout = 30;
    c->request_timeout = 60;
    c->max_connections = 1024;
    c->max_per_client = 64;
    c->checkpoint_ms = 1000;
    c->drain_timeout = 30;
    c->session_idle = 900;
}

static const setting *find_setting(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

static bool parse_number(const char *v, bool sizes, uint64_t *out)
{
    if (v[0] < '0' || v[0] > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0)
        return false;
    unsigned shift = 0;
    if (sizes && *end != '\0') {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        default:
            return false;
        }
        end++;
    }
    if (*end != '\0' || (shift > 0 && x > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)x << shift;
    return true;
}

/* A name we print back: settings names are short; anything else is "?". */
static const char *printable(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 40)
        return "?";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
            name[i] != '_')
            return "?";
    return name;
}

bool srv_config_set(srv_config *c, const char *name, const char *value,
                    char err[SRV_ERR_MAX])
{
    const setting *s = find_setting(name);
    if (s == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "unknown setting '%s'",
                       printable(name));
        return false;
    }
    char *field = (char *)c + s->off;
    size_t n = strlen(value);
    switch (s->k) {
    case K_TEXT:
    case K_PATH:
        if (n >= s->size) {
            (void)snprintf(err, SRV_ERR_MAX, "%s: longer than %zu bytes", name,
                           s->size - 1);
            return false;
        }
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
                (void)snprintf(err, SRV_ERR_MAX,
                               "%s: holds a control character", name);
                return false;
            }
        memcpy(field, value, n + 1);
        return true;
    case K_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
            strcmp(value, "yes") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                 strcmp(value, "no") == 0)
            *(bool *)field = false;
        else {
            (void)snprintf(err, SRV_ERR_MAX, "%s: must be true or false", name);
            return false;
        }
        return true;
    case K_UINT:
    case K_BYTES: {
        uint64_t x = 0;
        if (!parse_number(value, s->k == K_BYTES, &x) || x < s->min ||
            x > s->max) {
            (void)snprintf(
                err, SRV_ERR_MAX, "%s: must be a number from %llu to %llu%s",
                name, (unsigned long long)s->min, (unsigned long long)s->max,
                s->k == K_BYTES ? " (K, M, G allowed)" : "");
            return false;
        }
        if (s->size == sizeof(uint64_t))
            *(uint64_t *)field = x;
        else
            *(unsigned *)field = (unsigned)x;
        return true;
    }
    }
    return false;
}

bool srv_config_parse(srv_config *c, const char *text, size_t len,
                      char err[SRV_ERR_MAX])
{
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "line %d column %d: not valid JSON",
                       je.line, je.column);
        return false;
    }
    bool ok = json_is_object(o);
    if (!ok)
        (void)snprintf(err, SRV_ERR_MAX,
                       "the config must be one JSON object of settings");
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!ok)
            break;
        char num[32], e[SRV_ERR_MAX];
        const char *text_value = NULL;
        if (json_is_string(v)) {
            text_value = json_string_value(v);
            if (strlen(text_value) != json_string_length(v)) {
                (void)snprintf(err, SRV_ERR_MAX, "/%s: holds a NUL",
                               printable(key));
                ok = false;
                break;
            }
        } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
            (void)snprintf(num, sizeof num, "%lld",
                           (long long)json_integer_value(v));
            text_value = num;
        } else if (json_is_boolean(v)) {
            text_value = json_is_true(v) ? "true" : "false";
        } else {
            (void)snprintf(err, SRV_ERR_MAX,
                           "/%s: must be a string, a whole number or a "
                           "boolean",
                           printable(key));
            ok = false;
            break;
        }
        if (!srv_config_set(c, key, text_value, e)) {
            (void)snprintf(err, SRV_ERR_MAX, "%.500s", e);
            ok = false;
        }
    }
    json_decref(o);
    return ok;
}

bool srv_config_load(srv_config *c, const char *path, char err[SRV_ERR_MAX])
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "cannot open the config %.200s: %s",
                       path, strerror(errno));
        return false;
    }
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
    bool bad_read = ferror(f) != 0;
    (void)fclose(f);
    bool ok = false;
    char e[SRV_ERR_MAX];
    if (buf == NULL)
        (void)snprintf(err, SRV_ERR_MAX, "out of memory");
    else if (bad_read)
        (void)snprintf(err, SRV_ERR_MAX, "cannot read the config %.200s", path);
    else if (n > CONFIG_FILE_MAX)
        (void)snprintf(err, SRV_ERR_MAX, "the config %.200s is over %u bytes",
                       path, CONFIG_FILE_MAX);
    else if (!srv_config_parse(c, buf, n, e))
        (void)snprintf(err, SRV_ERR_MAX, "%.200s: %.300s", path, e);
    else
        ok = true;
    free(buf);
    return ok;
}

bool srv_config_env(srv_config *c, char err[SRV_ERR_MAX])
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        char env[64] = "STRONGROOM_";
        size_t n = strlen(env);
        for (const char *p = settings[i].name; *p && n + 1 < sizeof env; p++)
            env[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[n] = '\0';
        const char *v = getenv(env);
        char e[SRV_ERR_MAX];
        if (v != NULL && v[0] != '\0' &&
            !srv_config_set(c, settings[i].name, v, e)) {
            (void)snprintf(err, SRV_ERR_MAX, "%s: %.400s", env, e);
            return false;
        }
    }
    return true;
}

bool srv_config_check(const srv_config *c, char err[SRV_ERR_MAX])
{
    if (c->vault[0] == '\0') {
        (void)snprintf(err, SRV_ERR_MAX,
                       "no vault given (--vault or STRONGROOM_VAULT)");
        return false;
    }
    bool tls = c->tls_cert[0] != '\0' || c->tls_key[0] != '\0';
    if (tls && (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0')) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "--tls-cert and --tls-key go together");
        return false;
    }
    if (tls && c->insecure_loopback) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "--insecure-loopback cannot be combined with TLS");
        return false;
    }
    if (!tls && !c->insecure_loopback) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "TLS is required: give --tls-cert and --tls-key (plain "
                       "HTTP only with --insecure-loopback, on a loopback "
                       "address)");
        return false;
    }
    if (!tls && c->client_ca[0] != '\0') {
        (void)snprintf(err, SRV_ERR_MAX, "--client-ca needs TLS");
        return false;
    }
    return true;
}
