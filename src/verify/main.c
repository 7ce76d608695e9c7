/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - strongroom-verify, the offline audit log verifier: checks a
 * copy of a vault's log directory against the log's verifier key (and,
 * optionally, witness keys) with sr_log_verify, and says what failed.
 * It needs neither the vault key nor the database, and calls only the
 * public API (include/strongroom).
 *
 * Exit status: 0 the log verifies, 1 it does not (or cannot be read),
 * 2 a usage error or an unreadable key file.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strongroom/strongroom.h"

#define EXIT_VERIFY_FAILED 1
#define EXIT_USAGE 2
#define KEYFILE_MAX 4096 /* a vkey is a few hundred bytes at most */

static const char usage_text[] =
    "usage: strongroom-verify LOGDIR VKEYFILE [--witness VKEYFILE]...\n"
    "                         [--min-cosignatures K] [--quiet]\n"
    "\n"
    "Verify a Strongroom audit log (a C2SP tlog-tiles directory, usually\n"
    "<vault>/log) against the log's verifier key (<vault>/log.vkey):\n"
    "the signed checkpoint, every entry, every tile hash at every level,\n"
    "and every earlier checkpoint in LOGDIR/history.\n"
    "\n"
    "  --witness VKEYFILE      a witness's cosignature verifier key (may be\n"
    "                          given more than once)\n"
    "  --min-cosignatures K    require K valid cosignatures by those\n"
    "                          witnesses on the latest checkpoint\n"
    "                          (without either flag: the witnesses the\n"
    "                          vault requires, LOGDIR/witnesses, if any)\n"
    "  --quiet                 print nothing on success, and no progress\n"
    "  --help                  print this help\n"
    "\n"
    "Exit status: 0 verified, 1 verification failed, 2 usage error.\n";

static int usage_error(const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "strongroom-verify: %s: %s\n", what, arg);
    else
        fprintf(stderr, "strongroom-verify: %s\n", what);
    fputs("Try 'strongroom-verify --help'.\n", stderr);
    return EXIT_USAGE;
}

/* Read a small text file (a vkey) into a new NUL-terminated string. */
static char *read_key_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "strongroom-verify: cannot open %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    char *text = malloc(KEYFILE_MAX + 1);
    if (text == NULL) {
        fclose(f);
        fputs("strongroom-verify: out of memory\n", stderr);
        return NULL;
    }
    size_t n = fread(text, 1, KEYFILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > KEYFILE_MAX || memchr(text, '\0', n) != NULL) {
        fprintf(stderr, "strongroom-verify: %s is not a verifier key file\n",
                path);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* A decimal count: digits only, no sign, at most UINT_MAX. */
static int parse_count(const char *s, unsigned *out)
{
    unsigned long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10u + (unsigned long)(*s - '0');
        if (v > UINT_MAX)
            return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* Progress on a terminal: overwrite one line of stderr. */
static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
    int *shown = ctx;
    unsigned pct = total > 0 ? (unsigned)(done * 100u / total) : 100u;
    fprintf(stderr, "\rverifying: %llu of %llu entries (%u%%)",
            (unsigned long long)done, (unsigned long long)total, pct);
    *shown = 1;
}

int main(int argc, char **argv)
{
    const char *logdir = NULL, *vkey_path = NULL;
    const char **witness_paths = NULL;
    char **witness_keys = NULL;
    char *vkey = NULL;
    size_t nwitness = 0;
    unsigned min_cosig = 0;
    int quiet = 0, positional = 0, options_done = 0, shown = 0;
    int rc = EXIT_USAGE;

    witness_paths = calloc((size_t)argc, sizeof *witness_paths);
    if (witness_paths == NULL) {
        fputs("strongroom-verify: out of memory\n", stderr);
        return EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (!options_done &&
                   (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(usage_text, stdout);
            rc = EXIT_SUCCESS;
            goto cleanup;
        } else if (!options_done && strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (!options_done && strcmp(a, "--witness") == 0) {
            if (i + 1 >= argc) {
                rc = usage_error("--witness needs a key file", NULL);
                goto cleanup;
            }
            witness_paths[nwitness++] = argv[++i];
        } else if (!options_done && strncmp(a, "--witness=", 10) == 0) {
            witness_paths[nwitness++] = a + 10;
        } else if (!options_done && strcmp(a, "--min-cosignatures") == 0) {
            if (i + 1 >= argc || parse_count(argv[i + 1], &min_cosig) != 0) {
                rc = usage_error("--min-cosignatures needs a count",
                                 i + 1 < argc ? argv[i + 1] : NULL);
                goto cleanup;
            }
            i++;
        } else if (!options_done &&
                   strncmp(a, "--min-cosignatures=", 19) == 0) {
            if (parse_count(a + 19, &min_cosig) != 0) {
                rc = usage_error("--min-cosignatures needs a count", a + 19);
                goto cleanup;
            }
        } else if (!options_done && a[0] == '-' && a[1] != '\0') {
            rc = usage_error("unknown option", a);
            goto cleanup;
        } else if (positional == 0) {
            logdir = a;
            positional++;
        } else if (positional == 1) {
            vkey_path = a;
            positional++;
        } else {
            rc = usage_error("unexpected argument", a);
            goto cleanup;
        }
    }
    if (positional != 2) {
        rc = usage_error("LOGDIR and VKEYFILE are required", NULL);
        goto cleanup;
    }
    if (min_cosig > nwitness) {
        rc = usage_error("--min-cosignatures asks for more cosignatures "
                         "than --witness keys given",
                         NULL);
        goto cleanup;
    }

    vkey = read_key_file(vkey_path);
    witness_keys = calloc(nwitness + 1, sizeof *witness_keys);
    if (vkey == NULL || witness_keys == NULL)
        goto cleanup;
    for (size_t i = 0; i < nwitness; i++) {
        witness_keys[i] = read_key_file(witness_paths[i]);
        if (witness_keys[i] == NULL)
            goto cleanup;
    }

    rc = EXIT_VERIFY_FAILED;
    if (sr_init() != SR_OK) {
        fputs("strongroom-verify: the library cannot start\n", stderr);
        goto cleanup;
    }
    sr_log_verify_options opt;
    sr_log_report rep;
    memset(&opt, 0, sizeof opt);
    opt.witness_vkeys = (const char *const *)witness_keys;
    opt.witness_count = nwitness;
    opt.min_cosignatures = min_cosig;
    /* Without flags, hold the log to the witnesses its vault requires
     * (LOGDIR/witnesses, checked against the log's own entries). */
    opt.use_witness_file = nwitness == 0 && min_cosig == 0;
    if (!quiet && isatty(STDERR_FILENO)) {
        opt.progress = show_progress;
        opt.progress_ctx = &shown;
    }
    sr_status st = sr_log_verify(logdir, vkey, &opt, &rep);
    if (shown)
        fputs("\r\033[K", stderr); /* clear the progress line */
    if (st == SR_OK) {
        if (!quiet)
            printf("ok: %llu entries, tree size %llu; %llu earlier "
                   "checkpoints consistent; %u witness cosignatures\n",
                   (unsigned long long)rep.entries,
                   (unsigned long long)rep.size,
                   (unsigned long long)rep.checkpoints, rep.cosignatures);
        rc = EXIT_SUCCESS;
    } else {
        fprintf(stderr, "strongroom-verify: %s: %s\n", logdir, rep.message);
        if (rep.first_bad != UINT64_MAX)
            fprintf(stderr, "strongroom-verify: first bad entry: %llu\n",
                    (unsigned long long)rep.first_bad);
        /* A bad key or argument is the caller's mistake, not the log's. */
        if (st == SR_ERR_INVALID)
            rc = EXIT_USAGE;
    }

cleanup:
    if (witness_keys != NULL) {
        for (size_t i = 0; i < nwitness; i++)
            free(witness_keys[i]);
        free(witness_keys);
    }
    free(vkey);
    free(witness_paths);
    return rc;
}
