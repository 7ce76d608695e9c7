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
 * audit entry, so one fdatasync of the journal per call from this single
 * thread (concurrent callers share syncs: bench/audit_bench.c). Prints
 * one line of key=value pairs for bench/run.
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

int main(int argc, char **argv)
{
    sr_vault *v = NULL;
    bench_sample *s = NULL;
    double *t_ssn = NULL, *t_name = NULL;
    size_t n = 0, want, sink = 0;
    int ret = 1;
    sr_status st;

    if (argc != 4 || !bench_parse_count(argv[3], &want)) {
        fprintf(stderr, "usage: bench_lookup VAULT_DIR FILE.jsonl N\n"
                        "  (passphrase in $STRONGROOM_PASSPHRASE, API token "
                        "in $STRONGROOM_TOKEN)\n");
        return 2;
    }
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
    t_ssn = calloc(n, sizeof *t_ssn);
    t_name = calloc(n, sizeof *t_name);
    if (t_ssn == NULL || t_name == NULL) {
        fprintf(stderr, "bench_lookup: out of memory\n");
        goto cleanup;
    }
    st = sr_vault_open(&v, argv[1], pass, strlen(pass), SR_OPEN_READ);
    if (st != SR_OK) {
        fprintf(stderr, "bench_lookup: open %s: %s\n", argv[1],
                v != NULL ? sr_vault_errmsg(v) : sr_status_str(st));
        goto cleanup;
    }
    st = sr_vault_authenticate(v, token, strlen(token));
    if (st != SR_OK) {
        fprintf(stderr, "bench_lookup: authenticate: %s\n", sr_vault_errmsg(v));
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        double t0 = bench_now();
        st = sr_vault_find_ssn(v, &acc, s[i].ssn, on_match, &sink, &count);
        t_ssn[i] = (bench_now() - t0) * 1e6;
        if (st != SR_OK || count < 1) {
            fprintf(stderr, "bench_lookup: sample %zu: find by SSN: %s\n", i,
                    st != SR_OK ? sr_vault_errmsg(v) : "not found");
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        double t0 = bench_now();
        st = sr_vault_find_name_dob(v, &acc, s[i].family, s[i].dob, on_match,
                                    &sink, &count);
        t_name[i] = (bench_now() - t0) * 1e6;
        if (st != SR_OK || count < 1) {
            fprintf(stderr, "bench_lookup: sample %zu: find by name+DOB: %s\n",
                    i, st != SR_OK ? sr_vault_errmsg(v) : "not found");
            goto cleanup;
        }
    }
    printf("engine=strongroom samples=%zu ssn_p50_us=%.1f ssn_p99_us=%.1f "
           "name_p50_us=%.1f name_p99_us=%.1f sink=%zu\n",
           n, bench_percentile(t_ssn, n, 50), bench_percentile(t_ssn, n, 99),
           bench_percentile(t_name, n, 50), bench_percentile(t_name, n, 99),
           sink % 10);
    ret = 0;
cleanup:
    sr_vault_close(v);
    free(t_ssn);
    free(t_name);
    free(s);
    return ret;
}
