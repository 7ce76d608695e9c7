/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.c - the strongroom audit command: checkpoints, inclusion and
 * consistency proofs, the decoded entries (auditor role), resolving a
 * person reference, and verifying the whole log. Verification needs no
 * vault key: it reads <vault>/log and <vault>/log.vkey only, as the
 * separate strongroom-verify program does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char help_audit[] =
    "usage: strongroom audit checkpoint\n"
    "       strongroom audit proof --inclusion INDEX [--size N]\n"
    "       strongroom audit proof --consistency M N\n"
    "       strongroom audit show [--principal P] [--person ID] [--purpose P]\n"
    "                             [--action A] [--case C] [--since T]\n"
    "                             [--until T] [--from INDEX] [--denied]\n"
    "       strongroom audit resolve REF\n"
    "       strongroom audit verify [--witness VKEYFILE]... "
    "[--min-cosignatures K]\n"
    "       strongroom audit witness add NAME VKEYFILE\n"
    "       strongroom audit witness remove NAME\n"
    "       strongroom audit witness require K\n"
    "       strongroom audit witness list\n"
    "\n"
    "Every access to the vault, allowed or denied, and every administrative\n"
    "change is an entry of a Merkle-tree log (RFC 9162) stored as C2SP\n"
    "tlog-tiles in VAULT/log, under checkpoints signed with the key in\n"
    "VAULT/log.vkey (docs/audit.md).\n"
    "\n"
    "  checkpoint    integrate pending entries, sign and print a checkpoint\n"
    "  proof         an inclusion proof for an entry, or a consistency proof\n"
    "                between two tree sizes, as JSON (verified first)\n"
    "  show          the decoded entries as JSON lines (auditor role);\n"
    "                people appear as references; --person ID finds a\n"
    "                person's entries; T is YYYY-MM-DD[THH:MM:SSZ] or Unix\n"
    "                seconds\n"
    "  resolve       the person id behind a reference (auditor role)\n"
    "  verify        recompute the whole tree from the entries, check every\n"
    "                tile, the checkpoint's signature, and every checkpoint\n"
    "                in VAULT/log/history against the latest; names the\n"
    "                first bad entry. Needs neither passphrase nor token.\n"
    "                Without --witness and --min-cosignatures it enforces\n"
    "                the vault's witness configuration (VAULT/log/\n"
    "                witnesses), which must be the one the log recorded\n"
    "  witness       the witnesses whose cosignatures the latest checkpoint\n"
    "                must carry (manage-policy): add a witness's verifier\n"
    "                key (what 'strongroom witness init' printed) under a\n"
    "                name, remove one, require K cosignatures, list them.\n"
    "                Each change is logged and published as\n"
    "                VAULT/log/witnesses; witnesses then cosign each new\n"
    "                checkpoint ('strongroom witness cosign "
    "--publish')\n" COMMON_HELP
    "\nexamples: strongroom audit show --person 3f2a...c9\n"
    "          strongroom audit proof --inclusion 1234\n"
    "          strongroom audit verify\n"
    "          strongroom audit witness add w1 w1.vkey\n"
    "          strongroom audit witness require 1\n";

bool parse_time(const char *s, uint64_t *ns)
{
    uint64_t secs;
    if (parse_u64(s, &secs) && strchr(s, '-') == NULL) {
        *ns = secs * 1000000000u;
        return secs < UINT64_MAX / 1000000000u;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char tail = 0;
    int n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tail);
    if (!(n == 3 && strlen(s) == 10) && !(n == 7 && tail == 'Z'))
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    *ns = (uint64_t)t * 1000000000u;
    return true;
}

static void verify_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fprintf(stderr, "\rverifying: %" PRIu64 " / %" PRIu64 " entries ", done,
            total);
}

#define MAX_WITNESSES 16

static int audit_verify(const common *c, const char *const *wfiles, size_t nw,
                        unsigned min_cos, bool use_file)
{
    char path[PATH_MAX], vkey[1024];
    char *wkeys[MAX_WITNESSES];
    size_t len;
    int r = 0;
    if (c->vault == NULL)
        return fail("audit", "no vault: give --vault DIR or set "
                             "STRONGROOM_VAULT");
    (void)snprintf(path, sizeof path, "%s/log.vkey", c->vault);
    if (!read_small_file(path, vkey, sizeof vkey, &len)) {
        fprintf(stderr, "strongroom audit: cannot read %s: %s\n", path,
                strerror(errno));
        return exit_for(SR_ERR_NOT_FOUND);
    }
    for (size_t i = 0; i < nw; i++) {
        wkeys[i] = malloc(1024);
        if (wkeys[i] == NULL ||
            !read_small_file(wfiles[i], wkeys[i], 1024, &len)) {
            fprintf(stderr, "strongroom audit: cannot read %s\n", wfiles[i]);
            for (size_t k = 0; k <= i; k++)
                free(wkeys[k]);
            return exit_for(SR_ERR_NOT_FOUND);
        }
    }
    sr_log_verify_options opt;
    memset(&opt, 0, sizeof opt);
    opt.witness_vkeys = (const char *const *)wkeys;
    opt.witness_count = nw;
    opt.min_cosignatures = min_cos;
    opt.use_witness_file = use_file ? 1 : 0;
    if (isatty(STDERR_FILENO))
        opt.progress = verify_progress;
    (void)snprintf(path, sizeof path, "%s/log", c->vault);
    sr_log_report rep;
    sr_status st = sr_log_verify(path, vkey, &opt, &rep);
    if (opt.progress != NULL)
        fputc('\n', stderr);
    if (st == SR_OK) {
        printf("ok: %" PRIu64 " entries, %" PRIu64
               " earlier checkpoints consistent, %u witness cosignatures",
               rep.size, rep.checkpoints, rep.cosignatures);
        if (rep.witness_file)
            printf(" (%u required by log/witnesses)", rep.min_cosignatures);
        putchar('\n');
    } else {
        fprintf(stderr, "strongroom audit: the log FAILS verification: %s\n",
                rep.message);
        r = EXIT_REJECTS;
    }
    for (size_t i = 0; i < nw; i++)
        free(wkeys[i]);
    return r;
}

/* audit witness add NAME VKEYFILE | remove NAME | require K | list */
static int audit_witness(const common *c, int n, char **args)
{
    const char *op = n > 0 ? args[0] : "";
    bool add = strcmp(op, "add") == 0 && n == 3,
         remove = strcmp(op, "remove") == 0 && n == 2,
         require = strcmp(op, "require") == 0 && n == 2,
         list = strcmp(op, "list") == 0 && n == 1;
    char vkey[1024];
    uint64_t k = 0;
    size_t len;
    if (!add && !remove && !require && !list)
        return fail("audit", "give witness add NAME VKEYFILE, witness remove "
                             "NAME, witness require K or witness list; see "
                             "--help");
    if (require && (!parse_u64(args[1], &k) || k > MAX_WITNESSES))
        return fail("audit", "witness require takes 0 to 16");
    if (add && !read_small_file(args[2], vkey, sizeof vkey, &len)) {
        fprintf(stderr, "strongroom audit: cannot read %s: %s\n", args[2],
                strerror(errno));
        return exit_for(SR_ERR_NOT_FOUND);
    }
    sr_vault *v;
    int r = open_vault("audit", c, list ? SR_OPEN_READ : SR_OPEN_WRITE, &v);
    if (r != 0)
        return r;
    sr_status st;
    unsigned min = 0;
    if (add)
        st = sr_vault_witness_add(v, args[1], vkey);
    else if (remove)
        st = sr_vault_witness_remove(v, args[1]);
    else if (require)
        st = sr_vault_witness_require(v, (unsigned)k);
    else
        st = sr_vault_witness_list(v, &min, print_line, NULL);
    if (st == SR_OK && list)
        fprintf(stderr, "%u cosignatures required on the latest checkpoint\n",
                min);
    else if (st == SR_OK)
        fprintf(stderr,
                "recorded, and published in %s/log/witnesses; the next "
                "checkpoints need the witnesses' cosignatures to verify\n",
                c->vault);
    r = st == SR_OK ? 0 : lib_fail("audit", st, v);
    sr_vault_close(v);
    return r;
}

enum {
    OPT_INCLUSION = 1,
    OPT_CONSISTENCY,
    OPT_SIZE,
    OPT_PRINCIPAL,
    OPT_PERSON,
    OPT_ACTION,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_FROM,
    OPT_DENIED,
    OPT_WITNESS,
    OPT_MIN_COS
};

int cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        COMMON_OPTIONS,
        ACCESS_OPTIONS,
        {"inclusion", required_argument, NULL, OPT_INCLUSION},
        {"consistency", no_argument, NULL, OPT_CONSISTENCY},
        {"size", required_argument, NULL, OPT_SIZE},
        {"principal", required_argument, NULL, OPT_PRINCIPAL},
        {"person", required_argument, NULL, OPT_PERSON},
        {"action", required_argument, NULL, OPT_ACTION},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"from", required_argument, NULL, OPT_FROM},
        {"denied", no_argument, NULL, OPT_DENIED},
        {"witness", required_argument, NULL, OPT_WITNESS},
        {"min-cosignatures", required_argument, NULL, OPT_MIN_COS},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    sr_audit_filter f;
    uint64_t index = 0, size = 0, k = 0;
    bool inclusion = false, consistency = false, bad = false, min_set = false;
    const char *witness[MAX_WITNESSES];
    size_t nw = 0;
    int o;

    memset(&f, 0, sizeof f);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_audit, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad)) {
            if (bad)
                return fail("audit", "bad option value; see --help");
            continue;
        }
        switch (o) {
        case OPT_INCLUSION:
            inclusion = true;
            if (!parse_u64(optarg, &index))
                return fail("audit", "--inclusion takes an entry index");
            break;
        case OPT_CONSISTENCY:
            consistency = true;
            break;
        case OPT_SIZE:
            if (!parse_u64(optarg, &size) || size == 0)
                return fail("audit", "--size takes a tree size");
            break;
        case OPT_PRINCIPAL:
            f.principal = optarg;
            break;
        case OPT_PERSON:
            f.person_id = optarg;
            break;
        case OPT_ACTION:
            f.action = optarg;
            break;
        case OPT_SINCE:
            if (!parse_time(optarg, &f.since_ns))
                return fail("audit", "--since takes YYYY-MM-DD, "
                                     "YYYY-MM-DDTHH:MM:SSZ or Unix seconds");
            break;
        case OPT_UNTIL:
            if (!parse_time(optarg, &f.until_ns))
                return fail("audit", "--until takes YYYY-MM-DD, "
                                     "YYYY-MM-DDTHH:MM:SSZ or Unix seconds");
            break;
        case OPT_FROM:
            if (!parse_u64(optarg, &f.from_index))
                return fail("audit", "--from takes an entry index");
            break;
        case OPT_DENIED:
            f.denied_only = 1;
            break;
        case OPT_WITNESS:
            if (nw == MAX_WITNESSES)
                return fail("audit", "at most 16 witnesses");
            witness[nw++] = optarg;
            break;
        case OPT_MIN_COS:
            if (!parse_u64(optarg, &k) || k > MAX_WITNESSES)
                return fail("audit", "--min-cosignatures takes 0 to 16");
            min_set = true;
            break;
        default:
            return fail("audit", "bad option; see --help");
        }
    }
    f.purpose = c.purpose;
    f.case_id = c.case_id;
    const char *sub = optind < argc ? argv[optind] : "";
    int npos = argc - optind - 1;
    if (strcmp(sub, "verify") == 0 && npos == 0)
        return audit_verify(&c, witness, nw, (unsigned)k, nw == 0 && !min_set);
    if (strcmp(sub, "witness") == 0)
        return audit_witness(&c, argc - optind - 1, argv + optind + 1);
    bool cp = strcmp(sub, "checkpoint") == 0 && npos == 0,
         proof = strcmp(sub, "proof") == 0 &&
                 ((inclusion && !consistency && npos == 0) ||
                  (consistency && !inclusion && npos == 2)),
         show = strcmp(sub, "show") == 0 && npos == 0,
         resolve = strcmp(sub, "resolve") == 0 && npos == 1;
    if (!cp && !proof && !show && !resolve)
        return fail("audit", "give checkpoint, proof --inclusion I, proof "
                             "--consistency M N, show, resolve REF, verify "
                             "or witness; see --help");
    uint64_t m = 0, n = 0;
    if (proof && consistency &&
        (!parse_u64(argv[optind + 1], &m) || !parse_u64(argv[optind + 2], &n)))
        return fail("audit", "--consistency takes two tree sizes M N");
    sr_vault *v;
    int r = open_vault("audit", &c, SR_OPEN_READ, &v);
    if (r != 0)
        return r;
    sr_status st;
    if (cp) {
        char *note = NULL;
        uint64_t sz = 0;
        st = sr_vault_audit_checkpoint(v, &note, &sz);
        if (st == SR_OK)
            fputs(note, stdout);
        free(note);
    } else if (proof && inclusion) {
        st = sr_vault_audit_inclusion(v, index, size, print_line, NULL);
    } else if (proof) {
        st = sr_vault_audit_consistency(v, m, n, print_line, NULL);
    } else if (show) {
        st = sr_vault_audit_show(v, &f, print_line, NULL);
    } else {
        char id[SR_ID_STR_LEN + 1];
        st = sr_vault_audit_resolve(v, argv[optind + 1], id);
        if (st == SR_OK)
            printf("%s\n", id);
    }
    r = st == SR_OK ? 0 : lib_fail("audit", st, v);
    sr_vault_close(v);
    return r;
}
