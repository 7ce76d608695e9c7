/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_server_config.c - libFuzzer harness for the server's config file
 * parser (srv_config_parse, src/server/config.c) on top of the defaults.
 * A refusal must carry a message that echoes no value of the file
 * (fuzz_server_leak.h): config.c may name a member of the file, the
 * operator's own typo of a setting, but nothing else; what parses must leave
 * every text setting NUL-terminated and free of control characters and every
 * number in its documented range (srv_config_help), and srv_config_check must
 * then answer, a refusal again with a proper message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "fuzz_common.h"
#include "fuzz_server_leak.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What config.c may say: the setting names, the fixed words of its
 * messages and the bounds of its settings. */
/* clang-format off */
static const char *const vocab[] = {
    "vault listen tls-cert tls-key client-ca tls-priorities access-log "
    "insecure-loopback threads max-body max-import max-header idle-timeout "
    "request-timeout max-connections max-connections-per-client "
    "checkpoint-interval drain-timeout",
    "line column : not valid JSON",
    "the config must be one JSON object of settings",
    "/: holds a NUL", "/: must be a string, a whole number or a boolean",
    "unknown setting ''", ": longer than bytes",
    ": holds a control character", ": must be true or false",
    ": must be a number from to (K, M, G allowed)",
    "no vault given (--vault or STRONGROOM_VAULT)",
    "--tls-cert and --tls-key go together",
    "--insecure-loopback cannot be combined with TLS",
    "TLS is required: give --tls-cert and --tls-key (plain HTTP only with "
    "--insecure-loopback, on a loopback address)",
    "--client-ca needs TLS",
    "1 100 127 511 1023 1024 3600 4096 65536 1048576 3600000 67108864 "
    "1099511627776",
    NULL,
};
/* clang-format on */

static void check_setting_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
}

static void check_range(uint64_t v, uint64_t lo, uint64_t hi)
{
    if (v < lo || v > hi)
        abort();
}

static void check_settings(const srv_config *c)
{
    check_setting_text(c->vault, sizeof c->vault);
    check_setting_text(c->listen, sizeof c->listen);
    check_setting_text(c->tls_cert, sizeof c->tls_cert);
    check_setting_text(c->tls_key, sizeof c->tls_key);
    check_setting_text(c->client_ca, sizeof c->client_ca);
    check_setting_text(c->tls_priorities, sizeof c->tls_priorities);
    check_setting_text(c->access_log, sizeof c->access_log);
    check_range(c->threads, 1, 1024);
    check_range(c->max_body, 1024, 64ull << 20);
    check_range(c->max_import, 1024, 1ull << 40);
    check_range(c->max_header, 4096, 1ull << 20);
    check_range(c->idle_timeout, 1, 3600);
    check_range(c->request_timeout, 1, 3600);
    check_range(c->max_connections, 1, 65536);
    check_range(c->max_per_client, 1, 65536);
    check_range(c->checkpoint_ms, 100, 3600000);
    check_range(c->drain_timeout, 1, 3600);
}

/* The file's member names, space-separated (malloc'd; "" when the file is
 * no JSON object): names are the file's own words that config.c may
 * repeat ("unknown setting 'max-bodies'"); values are not. */
static char *member_names(const uint8_t *data, size_t size)
{
    json_t *o =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const char *key;
    json_t *v;
    size_t n = 1;
    json_object_foreach(o, key, v) {
        n += strlen(key) + 1;
    }
    char *names = malloc(n), *p = names;
    if (names == NULL)
        abort();
    json_object_foreach(o, key, v) {
        size_t k = strlen(key);
        memcpy(p, key, k);
        p[k] = ' ';
        p += k + 1;
    }
    *p = '\0';
    json_decref(o);
    return names;
}

static void refused(const char *err, size_t cap, const uint8_t *data,
                    size_t size)
{
    const char *words[sizeof vocab / sizeof vocab[0] + 1];
    size_t n = 0;
    for (; vocab[n] != NULL; n++)
        words[n] = vocab[n];
    char *names = member_names(data, size);
    words[n++] = names;
    words[n] = NULL;
    leak_check(err, cap, data, size, words);
    free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv_config c;
    char err[SRV_ERR_MAX];

    fuzz_init_once();
    srv_config_defaults(&c);
    /* no NUL anywhere, so a message must bring its own */
    memset(err, 0xa5, sizeof err);
    if (!srv_config_parse(&c, (const char *)data, size, err)) {
        refused(err, sizeof err, data, size);
        return 0;
    }
    check_settings(&c);
    memset(err, 0xa5, sizeof err);
    if (!srv_config_check(&c, err))
        refused(err, sizeof err, data, size);
    return 0;
}
