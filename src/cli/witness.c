/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witness.c - the strongroom witness command: make a witness key, and
 * cosign a log's checkpoint after checking it extends the last one this
 * witness saw (strongroom/witness.h). Needs no vault: a witness is run by
 * someone other than the vault's operator, against a copy or a mount of
 * the log directory and the log's public key.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

const char help_witness[] =
    "usage: strongroom witness init --state DIR --name NAME\n"
    "       strongroom witness cosign --state DIR --log LOGDIR "
    "--log-key VKEYFILE\n"
    "                                 [--publish]\n"
    "\n"
    "A witness keeps the last checkpoint it saw of each log it watches,\n"
    "and cosigns a new one (C2SP tlog-cosignature, cosignature/v1) only\n"
    "after checking an RFC 9162 consistency proof from that one to it.\n"
    "A relying party that requires cosignatures from witnesses it trusts\n"
    "(audit verify --witness ... --min-cosignatures K, or the vault's own\n"
    "'audit witness require') then knows it is shown the same log as\n"
    "everyone else.\n"
    "\n"
    "  init      make a witness in DIR (created, mode 0700): a random\n"
    "            Ed25519 key named NAME (e.g. witness.example.org/w1) in\n"
    "            DIR/witness.key (mode 0600), never replaced; prints its\n"
    "            verifier key, also in DIR/witness.vkey, for relying\n"
    "            parties ('strongroom audit witness add')\n"
    "  cosign    check LOGDIR/checkpoint (usually VAULT/log) against the\n"
    "            log's key (VAULT/log.vkey) and the last checkpoint seen,\n"
    "            and cosign it; the cosigned checkpoint is kept in\n"
    "            DIR/cosigned/\n"
    "\n"
    "The first checkpoint seen of a log is trusted on first use: check\n"
    "it some other way (compare it with the log operator's). After that,\n"
    "a checkpoint with a smaller tree, another root at the same size, or\n"
    "a tree that does not begin with the last-seen tree is a fork or a\n"
    "rollback: it is refused, both signed checkpoints are kept as\n"
    "evidence in DIR/forks/, and the witness stays where it was, so a\n"
    "later honest checkpoint is still cosigned. The log's tiles are only\n"
    "used to build the consistency proof, which is checked against the\n"
    "signed roots: damaged tiles make it refuse, never cosign.\n"
    "\n"
    "  --state DIR        the witness's directory\n"
    "  --name NAME        the witness's key name (init)\n"
    "  --log LOGDIR       the log directory (cosign)\n"
    "  --log-key FILE     the log's verifier key file (cosign)\n"
    "  --publish          also add the cosignature to LOGDIR/checkpoint\n"
    "                     (and LOGDIR/history/SIZE), if it still holds the\n"
    "                     checkpoint that was checked; under the vault's\n"
    "                     writers' lock when LOGDIR is a vault's\n"
    "  --help             this help\n"
    "\n"
    "Exit: 0 cosigned; 1 refused: a fork or a rollback; 2 usage; 10 + the\n"
    "status otherwise (26: refused for another reason, such as a\n"
    "checkpoint not signed by the log key, or tiles too damaged to check).\n"
    "\n"
    "example: strongroom witness init --state ~/w1 --name "
    "witness.example.org/w1\n"
    "         strongroom witness cosign --state ~/w1 --log VAULT/log \\\n"
    "             --log-key VAULT/log.vkey --publish\n";

#define KEYFILE_MAX 4096u

int cmd_witness(int argc, char **argv)
{
    enum { OPT_STATE = 1, OPT_NAME, OPT_LOG, OPT_LOG_KEY, OPT_PUBLISH };
    static const struct option opts[] = {
        {"state", required_argument, NULL, OPT_STATE},
        {"name", required_argument, NULL, OPT_NAME},
        {"log", required_argument, NULL, OPT_LOG},
        {"log-key", required_argument, NULL, OPT_LOG_KEY},
        {"publish", no_argument, NULL, OPT_PUBLISH},
        {"help", no_argument, NULL, OPT_HELP},
        {0, 0, 0, 0}};
    const char *state = NULL, *name = NULL, *log = NULL, *log_key = NULL;
    bool publish = false;
    int o;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case OPT_HELP:
            fputs(help_witness, stdout);
            return 0;
        case OPT_STATE:
            state = optarg;
            break;
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_LOG:
            log = optarg;
            break;
        case OPT_LOG_KEY:
            log_key = optarg;
            break;
        case OPT_PUBLISH:
            publish = true;
            break;
        default:
            return fail("witness", "bad option; see --help");
        }
    }
    const char *sub = optind < argc ? argv[optind] : "";
    bool init = strcmp(sub, "init") == 0, cosign = strcmp(sub, "cosign") == 0;
    if (optind + 1 != argc || (!init && !cosign))
        return fail("witness", "give init or cosign; see --help");
    if (state == NULL)
        return fail("witness", "give --state DIR");

    if (init) {
        char vkey[SR_WITNESS_VKEY_MAX];
        if (name == NULL || log != NULL || log_key != NULL || publish)
            return fail("witness", "init takes --state DIR --name NAME");
        sr_status st = sr_witness_init(state, name, vkey, sizeof vkey);
        if (st == SR_ERR_EXISTS) {
            fprintf(stderr,
                    "strongroom witness: %s already holds a witness key; it "
                    "is never replaced\n",
                    state);
            return exit_for(st);
        }
        if (st != SR_OK) {
            fprintf(stderr,
                    "strongroom witness: cannot make the witness: %s%s\n",
                    sr_status_str(st),
                    st == SR_ERR_INVALID ? " (is NAME a valid key name, "
                                           "without spaces or '+'?)"
                                         : "");
            return exit_for(st);
        }
        printf("%s\n", vkey);
        fprintf(stderr,
                "the witness key is in %s/witness.key; give relying parties "
                "its verifier key (above, and in %s/witness.vkey)\n",
                state, state);
        return 0;
    }

    char key[KEYFILE_MAX];
    if (log == NULL || log_key == NULL || name != NULL)
        return fail("witness",
                    "cosign takes --state DIR --log LOGDIR --log-key FILE");
    if (!read_small_file(log_key, key, sizeof key, NULL)) {
        fprintf(stderr, "strongroom witness: cannot read %s: %s\n", log_key,
                strerror(errno));
        return exit_for(SR_ERR_NOT_FOUND);
    }
    sr_witness_result res;
    sr_status st = sr_witness_cosign(state, log, key, publish ? 1 : 0, &res);
    if (st == SR_OK) {
        printf("%s\n", res.message);
        return 0;
    }
    fprintf(stderr, "strongroom witness: %s\n", res.message);
    return res.fork ? EXIT_REJECTS : exit_for(st);
}
