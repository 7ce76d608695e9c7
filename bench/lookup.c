/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/lookup.c - lookup latency of a Strongroom vault through the public
 * API only, on the same sample of people as bench/baseline.c, so the two
 * figures compare like with like.
 *
 *   bench_lookup VAULT_DIR FILE.jsonl N
 *
 * Opens the vault read-only with the passphrase in $STRONGROOM_PASSPHRASE,
 * authenticates with the API token in $STRONGROOM_TOKEN (a principal whose
 * role may `find` for the purpose in $BENCH_PURPOSE, default "hr-action",
 * as an hr-clerk of the default policy), then times N calls of
 * sr_vault_find_ssn and N calls of sr_vault_find_name_dob (monotonic clock
 * around the call only, the callback consuming each match included).
 * Every call must find its person.
 *
 * Every search is logged before it answers (log-then-reveal): one durable
 * audit entry, so one fdatasync of the journal per call from a single
 * caller. With BENCH_CLIENTS=K, K threads search at once, each on a
 * handle of its own (sr_vault_open_another), the samples dealt out among
 * them; each call is still timed alone, and the line also gives the
 * searches per second of each phase. Prints one line of key=value pairs
 * for bench/run and bench/pg.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "strongroom/strongroom.h"

/* Consume each match as a caller would: touch its bytes. */
static sr_status on_match(void *ctx, const char *line, size_t len)
{
    size_t *sink = ctx;
    if (len > 0)
        *sink += (size_t)(unsigned char)line[len - 1] + len;
    return SR_OK;
}

/* One phase of searches (by SSN or by name and birth date). */
typedef struct phase {
    bench_phase b; /* first: bench_lookups runs the phases */
    sr_vault *v;   /* the opened vault: each client opens another handle */
    const char *token;
    sr_access acc;
} phase;

typedef struct client {
    phase *ph;
    sr_vault *v;
    size_t sink;
} client;

static void *client_open(void *ctx)
{
    phase *ph = ctx;
    client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->ph = ph;
    sr_status st = sr_vault_open_another(&c->v, ph->v);
    if (st == SR_OK)
        st = sr_vault_authenticate(c->v, ph->token, strlen(ph->token));
    if (st != SR_OK) {
        fprintf(stderr, "bench_lookup: a client's handle: %s\n",
                c->v != NULL ? sr_vault_errmsg(c->v) : sr_status_str(st));
        sr_vault_close(c->v);
        free(c);
        return NULL;
    }
    return c;
}

static bool client_one(void *state, size_t i)
{
    client *c = state;
    const phase *ph = c->ph;
    const bench_sample *s = &ph->b.s[i];
    size_t count = 0;
    double t0 = bench_now();
    sr_status st =
        ph->b.by_name
            ? sr_vault_find_name_dob(c->v, &ph->acc, s->family, s->dob,
                                     on_match, &c->sink, &count)
            : sr_vault_find_ssn(c->v, &ph->acc, s->ssn, on_match, &c->sink,
                                &count);
    ph->b.t[i] = (bench_now() - t0) * 1e6;
    if (st != SR_OK || count < 1) {
        fprintf(stderr, "bench_lookup: sample %zu: find by %s: %s\n", i,
                ph->b.by_name ? "name+DOB" : "SSN",
                st != SR_OK ? sr_vault_errmsg(c->v) : "not found");
        return false;
    }
    return true;
}

static void client_close(void *state)
{
    client *c = state;
    c->ph->b.sink += c->sink;
    sr_vault_close(c->v);
    free(c);
}

static const bench_client_ops client_ops = {client_open, client_one,
                                            client_close};

int main(int argc, char **argv)
{
    sr_vault *v = NULL;
    bench_sample *s = NULL;
    size_t n = 0, want;
    unsigned clients;
    int ret = 1;

    if (argc != 4 || !bench_parse_count(argv[3], &want)) {
        fprintf(stderr, "usage: bench_lookup VAULT_DIR FILE.jsonl N\n"
                        "  (passphrase in $STRONGROOM_PASSPHRASE, API token "
                        "in $STRONGROOM_TOKEN, concurrent callers in "
                        "$BENCH_CLIENTS)\n");
        return 2;
    }
    if (!bench_clients_wanted(&clients))
        return 2;
    const char *pass = getenv("STRONGROOM_PASSPHRASE");
    const char *token = getenv("STRONGROOM_TOKEN");
    const char *purpose = getenv("BENCH_PURPOSE");
    if (pass == NULL || *pass == '\0' || token == NULL || *token == '\0') {
        fprintf(stderr, "bench_lookup: set $STRONGROOM_PASSPHRASE and "
                        "$STRONGROOM_TOKEN\n");
        return 2;
    }
    sr_access acc = {purpose != NULL && *purpose != '\0' ? purpose
                                                         : "hr-action",
                     NULL, NULL};
    if (sr_init() != SR_OK) {
        fprintf(stderr, "bench_lookup: the library did not start\n");
        return 1;
    }
    if (!bench_load_samples(argv[2], want, &s, &n))
        goto cleanup;
    sr_status st = sr_vault_open(&v, argv[1], pass, strlen(pass), SR_OPEN_READ);
    if (st != SR_OK) {
        fprintf(stderr, "bench_lookup: open %s: %s\n", argv[1],
                v != NULL ? sr_vault_errmsg(v) : sr_status_str(st));
        goto cleanup;
    }
    phase ph = {{s, NULL, false, 0}, v, token, acc};
    if (bench_lookups("strongroom", clients, n, &client_ops, &ph.b))
        ret = 0;
cleanup:
    sr_vault_close(v);
    free(s);
    return ret;
}
