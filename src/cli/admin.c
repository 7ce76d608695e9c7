/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.c - the strongroom commands that manage who may do what:
 * principals (user), API tokens (token, login), cases (case) and the
 * access policy (policy). Each is a thin caller of the vault facade; the
 * library decides and logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "strongroom/notify.h"

/* Parse common options and one subcommand word; positional arguments
 * after it stay in argv from optind. Returns -1 to go on. */
static int parse_sub(const char *cmd, const char *help, int argc, char **argv,
                     const struct option *extra, size_t nextra, common *c,
                     int (*on_opt)(void *ctx, int o, const char *arg),
                     void *ctx)
{
    struct option opts[16];
    static const struct option base[] = {COMMON_OPTIONS};
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        opts[n++] = base[i];
    for (size_t i = 0; i < nextra && n < 15; i++)
        opts[n++] = extra[i];
    memset(&opts[n], 0, sizeof opts[n]);
    int o;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help, stdout);
            return 0;
        }
        if (common_option(c, o, optarg, &bad)) {
            if (bad)
                return fail(cmd, "bad option value; see --help");
            continue;
        }
        if (on_opt == NULL || on_opt(ctx, o, optarg) != 0)
            return fail(cmd, "bad option; see --help");
    }
    return -1;
}

static int done(const char *cmd, sr_status st, sr_vault *v)
{
    int r = st == SR_OK ? 0 : lib_fail(cmd, st, v);
    sr_vault_close(v);
    return r;
}

/* ---- user ---------------------------------------------------------------- */

const char help_user[] =
    "usage: strongroom user add NAME --role ROLE [--service] "
    "[--password-fd N]\n"
    "       strongroom user list\n"
    "       strongroom user disable NAME\n"
    "\n"
    "Manage principals (needs manage-principals: the admin role). A user\n"
    "may get a passphrase for 'strongroom login' (read from --password-fd\n"
    "N, or asked on the terminal with --password); a service account\n"
    "(--service) has API tokens only. Disabling stops every token of the\n"
    "principal at once. Roles come from the policy: admin, hr-clerk,\n"
    "investigator, adjudicator, security-officer, auditor by default.\n"
    "\n"
    "  --role ROLE        the principal's role\n"
    "  --service          a service account\n"
    "  --password         ask for the user's passphrase on the terminal\n"
    "  --password-fd N    read the user's passphrase from descriptor "
    "N\n" COMMON_HELP
    "\nexample: strongroom user add alice --role investigator\n";

typedef struct user_opts {
    const char *role;
    bool service;
    bool ask;
    int pw_fd;
} user_opts;

enum { OPT_ROLE = 1, OPT_SERVICE, OPT_PASSWORD, OPT_PASSWORD_FD };

static int user_opt(void *ctx, int o, const char *arg)
{
    user_opts *u = ctx;
    uint64_t fd;
    switch (o) {
    case OPT_ROLE:
        u->role = arg;
        return 0;
    case OPT_SERVICE:
        u->service = true;
        return 0;
    case OPT_PASSWORD:
        u->ask = true;
        return 0;
    case OPT_PASSWORD_FD:
        if (!parse_u64(arg, &fd) || fd > 1000000)
            return 1;
        u->pw_fd = (int)fd;
        return 0;
    default:
        return 1;
    }
}

int cmd_user(int argc, char **argv)
{
    static const struct option extra[] = {
        {"role", required_argument, NULL, OPT_ROLE},
        {"service", no_argument, NULL, OPT_SERVICE},
        {"password", no_argument, NULL, OPT_PASSWORD},
        {"password-fd", required_argument, NULL, OPT_PASSWORD_FD}};
    common c = COMMON_INIT;
    user_opts u = {NULL, false, false, -1};
    int r =
        parse_sub("user", help_user, argc, argv, extra, 4, &c, user_opt, &u);
    if (r >= 0)
        return r;
    const char *sub = optind < argc ? argv[optind] : "";
    int npos = argc - optind - 1;
    bool add = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0,
         dis = strcmp(sub, "disable") == 0;
    if (!((add || dis) && npos == 1) && !(list && npos == 0))
        return fail("user", "give add NAME, list or disable NAME; see --help");
    if (add && u.role == NULL)
        return fail("user", "user add needs --role ROLE");
    secret pw = {NULL, 0};
    if (add && (u.ask || u.pw_fd >= 0)) {
        pw.p = sodium_malloc(PASS_MAX + 1);
        bool ok = pw.p != NULL &&
                  (u.pw_fd >= 0 ? read_fd_pass(u.pw_fd, &pw)
                                : prompt_pass("New user's passphrase: ", &pw));
        if (!ok || pw.len == 0) {
            secret_free(&pw);
            return fail("user", "no passphrase for the new user");
        }
    }
    sr_vault *v;
    r = open_vault("user", &c, list ? SR_OPEN_READ : SR_OPEN_WRITE, &v);
    if (r != 0) {
        secret_free(&pw);
        return r;
    }
    sr_status st;
    if (add)
        st = sr_vault_user_add(v, argv[optind + 1], u.role, u.service, pw.p,
                               pw.len);
    else if (dis)
        st = sr_vault_user_disable(v, argv[optind + 1]);
    else
        st = sr_vault_user_list(v, print_line, NULL);
    secret_free(&pw);
    if (st == SR_OK && add)
        fprintf(stderr, "added %s %s with role %s\n",
                u.service ? "service account" : "user", argv[optind + 1],
                u.role);
    return done("user", st, v);
}

/* ---- principal ------------------------------------------------------------
 */

const char help_principal[] =
    "usage: strongroom principal freeze NAME --reason REASON\n"
    "       strongroom principal unfreeze NAME --reason REASON\n"
    "\n"
    "Freeze a principal, or unfreeze it (needs the freeze action: the\n"
    "security-officer role by default; the administrator cannot). While\n"
    "frozen, its tokens, client certificate and passphrase are refused, and\n"
    "each refusal is logged as principal.frozen. Both changes are logged\n"
    "with their reason. `strongroom user list` shows who is frozen, and why.\n"
    "A principal that spends its role's read budget (docs/policy.md) is\n"
    "frozen by the vault itself, with the budget's rule as its reason.\n"
    "Unfreezing lets the reads counted so far stand: the budget starts\n"
    "afresh. Both work while a server holds the vault open.\n"
    "\n"
    "  --reason REASON    why: 1-64 of a-z 0-9 . _ -, starting with a letter\n"
    "                     (a word or a ticket reference: never a person's\n"
    "                     data, which must not reach the log)\n" COMMON_HELP
    "\nexample: strongroom principal unfreeze alice --reason ticket-4711\n";

enum { OPT_REASON = 1 };

static int principal_opt(void *ctx, int o, const char *arg)
{
    const char **reason = ctx;
    if (o != OPT_REASON)
        return 1;
    *reason = arg;
    return 0;
}

int cmd_principal(int argc, char **argv)
{
    static const struct option extra[] = {
        {"reason", required_argument, NULL, OPT_REASON}};
    common c = COMMON_INIT;
    const char *reason = NULL;
    int r = parse_sub("principal", help_principal, argc, argv, extra, 1, &c,
                      principal_opt, &reason);
    if (r >= 0)
        return r;
    const char *sub = optind < argc ? argv[optind] : "";
    bool freeze = strcmp(sub, "freeze") == 0,
         unfreeze = strcmp(sub, "unfreeze") == 0;
    if (!(freeze || unfreeze) || argc - optind != 2)
        return fail("principal",
                    "give freeze NAME or unfreeze NAME; see --help");
    if (reason == NULL)
        return fail("principal", "give --reason REASON");
    /* The mark is in the principal's watch file, not in the store: a
     * security officer can act while a server holds the vault. */
    sr_vault *v;
    r = open_vault("principal", &c, SR_OPEN_READ, &v);
    if (r != 0)
        return r;
    const char *name = argv[optind + 1];
    sr_status st = freeze ? sr_vault_principal_freeze(v, name, reason)
                          : sr_vault_principal_unfreeze(v, name, reason);
    if (st == SR_OK)
        fprintf(stderr, "%s %s\n", freeze ? "froze" : "unfroze", name);
    return done("principal", st, v);
}

/* ---- decoy --------------------------------------------------------------- */

const char help_decoy[] =
    "usage: strongroom decoy list\n"
    "\n"
    "List the vault's decoy people, one JSON line each: {\"id\",\"created\"}.\n"
    "Decoys are synthetic people stored exactly as real ones and on no\n"
    "case; reading one, or a search that returns one, freezes the reader at\n"
    "once (rule decoy.read) and raises an alert. This listing is the only\n"
    "place that tells them apart: it needs the freeze action (the\n"
    "security officer's by default) and is logged. Decoys are never\n"
    "exported and never counted by `strongroom stats`.\n" COMMON_HELP
    "\nexample: strongroom decoy list\n";

int cmd_decoy(int argc, char **argv)
{
    common c = COMMON_INIT;
    int r = parse_sub("decoy", help_decoy, argc, argv, NULL, 0, &c, NULL, NULL);
    if (r >= 0)
        return r;
    if (argc - optind != 1 || strcmp(argv[optind], "list") != 0)
        return fail("decoy", "give list; see --help");
    sr_vault *v;
    r = open_vault("decoy", &c, SR_OPEN_READ, &v);
    if (r != 0)
        return r;
    return done("decoy", sr_vault_decoy_list(v, print_line, NULL), v);
}

/* ---- approval ------------------------------------------------------------ */

const char help_approval[] =
    "usage: strongroom approval request export --purpose P [--case C]\n"
    "                                  [--expires D]\n"
    "       strongroom approval request find --name FAMILY --dob YYYY-MM-DD\n"
    "                                  --purpose P [--case C] [--expires D]\n"
    "       strongroom approval request notify --report FILE [--expires D]\n"
    "       strongroom approval request retention --purpose P [--expires D]\n"
    "       strongroom approval request share --person ID[,ID...] --fields F\n"
    "                                  --purpose P [--case C] [--expires D]\n"
    "       strongroom approval approve ID\n"
    "       strongroom approval list\n"
    "\n"
    "The two-person rule (docs/policy.md). An export, or a search by name\n"
    "that matches more people than the policy's bulk_threshold, runs only\n"
    "with --approval ID: an approval asked for by the principal who will\n"
    "run it and approved by a different one with the approve action (the\n"
    "security officer's by default). An approval is bound to the exact\n"
    "action, purpose, case and search, and may be used by its\n"
    "requester until it expires. request prints the approval's id; every\n"
    "step, and each use, is logged. Breach notification letters (strongroom\n"
    "breach notify) need one too, bound to exactly the people of the\n"
    "breach report (purpose incident-response, classes name and contact),\n"
    "and so does a retention run that would destroy more people than the\n"
    "bulk_threshold (request retention; then retention run --approval ID),\n"
    "and a hotline referral that carries personal data (request share:\n"
    "bound to exactly those people and fields; docs/hotline.md).\n"
    "\n"
    "  --purpose P, --case C   what the export or search will state\n"
    "  --name F --dob D        the search the approval is for (kept only as\n"
    "                          a keyed digest)\n"
    "  --person ID[,ID...]     share: the people (at most 100; repeatable)\n"
    "  --fields F              share: the fields that leave, e.g.\n"
    "                          name,birth.date (a dotted field is one member\n"
    "                          of name or birth)\n"
    "  --report FILE           the breach report (json) whose people the\n"
    "                          letters go to\n"
    "  --expires D             how long it may be used: 30m, 4h (default),\n"
    "                          at most 7d\n" COMMON_HELP
    "\nexample: strongroom approval request export --purpose "
    "incident-response\n"
    "         strongroom approval approve 3f2a9c0d1e4b5a67   (as another "
    "principal)\n"
    "         strongroom export --purpose incident-response --approval "
    "3f2a9c0d1e4b5a67\n";

typedef struct approval_opts {
    sr_approval_spec spec;
    const char *report;
    uint8_t people[SR_SHARE_PEOPLE_MAX][SR_ID_BYTES];
    size_t npeople;
    bool bad;
} approval_opts;

enum {
    OPT_A_NAME = 1,
    OPT_A_DOB,
    OPT_A_EXPIRES,
    OPT_A_REPORT,
    OPT_A_PERSON,
    OPT_A_FIELDS
};

static int approval_opt(void *ctx, int o, const char *arg)
{
    approval_opts *a = ctx;
    switch (o) {
    case OPT_A_NAME:
        a->spec.family = arg;
        return 0;
    case OPT_A_DOB:
        a->spec.dob = arg;
        return 0;
    case OPT_A_EXPIRES:
        return parse_duration(arg, &a->spec.ttl) ? 0 : 1;
    case OPT_A_REPORT:
        a->report = arg;
        return 0;
    case OPT_A_PERSON:
        return parse_people("approval", arg, a->people, SR_SHARE_PEOPLE_MAX,
                            &a->npeople)
                   ? 0
                   : 1;
    case OPT_A_FIELDS:
        a->spec.fields = arg;
        return 0;
    default:
        return 1;
    }
}

int cmd_approval(int argc, char **argv)
{
    static const struct option extra[] = {
        ACCESS_OPTIONS,
        {"name", required_argument, NULL, OPT_A_NAME},
        {"dob", required_argument, NULL, OPT_A_DOB},
        {"expires", required_argument, NULL, OPT_A_EXPIRES},
        {"report", required_argument, NULL, OPT_A_REPORT},
        {"person", required_argument, NULL, OPT_A_PERSON},
        {"fields", required_argument, NULL, OPT_A_FIELDS}};
    common c = COMMON_INIT;
    approval_opts a;
    memset(&a, 0, sizeof a);
    int r = parse_sub("approval", help_approval, argc, argv, extra,
                      sizeof extra / sizeof extra[0], &c, approval_opt, &a);
    if (r >= 0)
        return r;
    const char *sub = optind < argc ? argv[optind] : "";
    int npos = argc - optind - 1;
    bool request = strcmp(sub, "request") == 0,
         approve = strcmp(sub, "approve") == 0, list = strcmp(sub, "list") == 0;
    if (!((request || approve) && npos == 1) && !(list && npos == 0))
        return fail("approval", "give request export|find, approve ID or "
                                "list; see --help");
    if (request) {
        const char *what = argv[optind + 1];
        if (strcmp(what, "export") == 0)
            a.spec.action = "export";
        else if (strcmp(what, "find") == 0)
            a.spec.action = "find.name";
        else if (strcmp(what, "notify") == 0)
            a.spec.action = "notify";
        else if (strcmp(what, "retention") == 0)
            a.spec.action = "retention.run";
        else if (strcmp(what, "share") == 0)
            a.spec.action = "share";
        else
            return fail("approval", "request export, find, notify, "
                                    "retention or share");
        bool share = strcmp(a.spec.action, "share") == 0;
        if (share != (a.npeople > 0) || share != (a.spec.fields != NULL))
            return fail("approval", "--person and --fields go with request "
                                    "share (both; and only there)");
        if (share) {
            a.spec.people = (const uint8_t(*)[SR_ID_BYTES])a.people;
            a.spec.npeople = a.npeople;
        }
        if ((a.report != NULL) != (strcmp(a.spec.action, "notify") == 0))
            return fail("approval", "--report FILE goes with request notify "
                                    "(and only there)");
        if (a.report != NULL && c.purpose == NULL)
            c.purpose = SR_NOTIFY_PURPOSE;
        if (c.purpose == NULL)
            return fail("approval", "give --purpose P");
        a.spec.purpose = c.purpose;
        a.spec.case_id = c.case_id;
    }
    sr_vault *v;
    r = open_vault("approval", &c, list ? SR_OPEN_READ : SR_OPEN_WRITE, &v);
    if (r != 0)
        return r;
    sr_status st;
    if (request && a.report != NULL) {
        char id[SR_APPROVAL_ID_MAX], msg[SR_NOTIFY_MSG_MAX];
        uint64_t people = 0;
        st = sr_notify_request(v, a.report, a.spec.ttl, id, &people, msg);
        if (st != SR_OK) {
            fprintf(stderr, "strongroom approval: %s\n", msg);
            sr_vault_close(v);
            return exit_for(st);
        }
        fprintf(stderr,
                "approval %s asked for, to write to %" PRIu64
                " people; another principal with the approve action must "
                "approve it\n",
                id, people);
        printf("%s\n", id);
    } else if (request) {
        char id[SR_APPROVAL_ID_MAX];
        st = sr_vault_approval_request(v, &a.spec, id);
        if (st == SR_OK) {
            fprintf(stderr,
                    "approval %s asked for; another principal with "
                    "the approve action must approve it\n",
                    id);
            printf("%s\n", id);
        }
    } else if (approve) {
        st = sr_vault_approval_approve(v, argv[optind + 1]);
        if (st == SR_OK)
            fprintf(stderr, "approved %s\n", argv[optind + 1]);
    } else {
        st = sr_vault_approval_list(v, print_line, NULL);
    }
    return done("approval", st, v);
}

/* ---- shred and retention ------------------------------------------------- */

const char help_shred[] =
    "usage: strongroom shred ID --reason REASON --purpose P\n"
    "\n"
    "Destroy one person for good (crypto-shredding, docs/retention.md):\n"
    "their data key, every ciphertext and their blind-index rows are\n"
    "deleted with the bytes overwritten in the database file, their case\n"
    "memberships go too, and the write-ahead log is emptied. Only the audit\n"
    "log keeps that they existed, by keyed reference. Needs the shred\n"
    "action (the security officer's) and a purpose such as retention. The\n"
    "reason is a word or a ticket reference (1-64 of a-z 0-9 . _ "
    "-).\n" ACCESS_HELP COMMON_HELP "\nexample: strongroom shred "
    "5c0e8d2f6b1a4e93a7d4c2b8e1f06a57 --reason court-order-1138 "
    "--purpose retention\n";

enum { OPT_SHRED_REASON = 1 };

static int shred_opt(void *ctx, int o, const char *arg)
{
    if (o != OPT_SHRED_REASON)
        return 1;
    *(const char **)ctx = arg;
    return 0;
}

int cmd_shred(int argc, char **argv)
{
    static const struct option extra[] = {
        ACCESS_OPTIONS, {"reason", required_argument, NULL, OPT_SHRED_REASON}};
    common c = COMMON_INIT;
    const char *reason = NULL;
    int r = parse_sub("shred", help_shred, argc, argv, extra,
                      sizeof extra / sizeof extra[0], &c, shred_opt, &reason);
    if (r >= 0)
        return r;
    if (argc - optind != 1)
        return fail("shred", "give the person's ID; see --help");
    if (reason == NULL)
        return fail("shred", "give --reason REASON");
    sr_vault *v;
    r = open_vault("shred", &c, SR_OPEN_WRITE, &v);
    if (r != 0)
        return r;
    sr_access acc = {c.purpose, c.case_id, c.approval};
    sr_status st = sr_vault_shred(v, &acc, argv[optind], reason);
    if (st == SR_OK)
        fprintf(stderr, "shredded %s\n", argv[optind]);
    return done("shred", st, v);
}

const char help_retention[] =
    "usage: strongroom retention run --purpose P [--dry-run]\n"
    "\n"
    "Apply the policy's retention schedule (\"retention\":\n"
    "{\"destroy_after_separation_years\": N}, docs/policy.md): every person\n"
    "whose employment has all ended, the last end N years ago or more, is\n"
    "destroyed as by `strongroom shred`, in batches, each logged. Field\n"
    "classes with a shorter schedule (\"destroy_classes_after_separation_\n"
    "years\": {\"investigation\": M}) are destroyed from the people\n"
    "separated M years or more: each is sealed afresh without them. With\n"
    "--dry-run nothing changes: it prints how many are due (and the count\n"
    "is logged). Prints one JSON line: scanned, separated, due, shredded,\n"
    "classes_due, classes_destroyed, unclustered (people read from no\n"
    "retention cluster: written since the last `store compact`; when they\n"
    "are many, it says that a compaction would speed up later runs).\n"
    "Shows a progress line on a terminal.\n"
    "Needs the shred action (the security officer's).\n"
    "  --dry-run            count only\n"
    "  --quiet              no progress line\n" ACCESS_HELP COMMON_HELP
    "\nexample: strongroom retention run --purpose retention --dry-run\n";

enum { OPT_DRY_RUN = 1, OPT_RETENTION_QUIET };

/* Outside the clusters, this many people (and a fifth of those read) are
 * worth a compaction: at about 100,000 people a second read, some 0.1 s
 * of every run, and more as they grow. */
#define RETENTION_HINT_PEOPLE 10000u

typedef struct retention_cli {
    bool dry, quiet, shown;
} retention_cli;

static int retention_opt(void *ctx, int o, const char *arg)
{
    retention_cli *rc = ctx;
    (void)arg;
    if (o == OPT_DRY_RUN)
        rc->dry = true;
    else if (o == OPT_RETENTION_QUIET)
        rc->quiet = true;
    else
        return 1;
    return 0;
}

static void retention_progress(void *ctx, const char *phase, uint64_t done,
                               uint64_t total)
{
    retention_cli *rc = ctx;
    if (total > 0)
        fprintf(stderr, "\rretention: %s %" PRIu64 " of %" PRIu64 " people ",
                phase, done, total);
    else
        fprintf(stderr, "\rretention: %s, %" PRIu64 " people so far ", phase,
                done);
    rc->shown = true;
}

int cmd_retention(int argc, char **argv)
{
    static const struct option extra[] = {
        ACCESS_OPTIONS,
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"quiet", no_argument, NULL, OPT_RETENTION_QUIET}};
    common c = COMMON_INIT;
    retention_cli rc = {false, false, false};
    int r = parse_sub("retention", help_retention, argc, argv, extra,
                      sizeof extra / sizeof extra[0], &c, retention_opt, &rc);
    bool dry = rc.dry;
    if (r >= 0)
        return r;
    if (argc - optind != 1 || strcmp(argv[optind], "run") != 0)
        return fail("retention", "give run; see --help");
    sr_vault *v;
    r = open_vault("retention", &c, dry ? SR_OPEN_READ : SR_OPEN_WRITE, &v);
    if (r != 0)
        return r;
    sr_access acc = {c.purpose, c.case_id, c.approval};
    sr_retention_summary sum;
    sr_retention_opts opts = {dry, NULL, &rc};
    if (!rc.quiet && isatty(STDERR_FILENO))
        opts.progress = retention_progress;
    sr_status st = sr_vault_retention_run(v, &acc, &opts, &sum);
    if (rc.shown)
        fputc('\n', stderr);
    if (st == SR_OK) {
        printf("{\"scanned\":%llu,\"separated\":%llu,\"due\":%llu,"
               "\"shredded\":%llu,\"classes_due\":%llu,"
               "\"classes_destroyed\":%llu,\"unclustered\":%llu,"
               "\"dry_run\":%s}\n",
               (unsigned long long)sum.scanned,
               (unsigned long long)sum.separated, (unsigned long long)sum.due,
               (unsigned long long)sum.shredded,
               (unsigned long long)sum.classes_due,
               (unsigned long long)sum.classes_destroyed,
               (unsigned long long)sum.unclustered, dry ? "true" : "false");
        /* Many people outside the clusters make every run read them all:
         * say what helps, once it is worth a compaction. */
        if (!rc.quiet && sum.unclustered >= RETENTION_HINT_PEOPLE &&
            sum.unclustered >= sum.scanned / 5)
            fprintf(stderr,
                    "strongroom retention: %llu of the %llu people read are "
                    "in no retention cluster (written since the vault was "
                    "last compacted, or never compacted); "
                    "`strongroom store compact` groups them, so later runs "
                    "read only the years that can be due "
                    "(docs/retention.md)\n",
                    (unsigned long long)sum.unclustered,
                    (unsigned long long)sum.scanned);
    }
    return done("retention", st, v);
}

/* ---- token --------------------------------------------------------------- */

const char help_token[] =
    "usage: strongroom token create NAME [--expires DURATION] "
    "[--scope ACTIONS]\n"
    "       strongroom token list\n"
    "       strongroom token revoke TOKEN_ID\n"
    "\n"
    "API tokens are 256-bit random secrets, stored only as a keyed hash.\n"
    "create prints the new token once, on stdout (and its id on stderr).\n"
    "The administrator creates tokens for anyone; every principal may\n"
    "create one for itself, no wider than the token it uses.\n"
    "\n"
    "  --expires D     lifetime: 30d, 12h, 45m, 90s (default 90d)\n"
    "  --scope LIST    the actions the token may be used for, e.g.\n"
    "                  get,find (default: every action of the "
    "role)\n" COMMON_HELP
    "\nexample: strongroom token create alice --expires 8h --scope get,find\n";

typedef struct token_opts {
    uint64_t ttl;
    const char *scope;
    bool bad;
} token_opts;

enum { OPT_EXPIRES = 1, OPT_SCOPE };

static int token_opt(void *ctx, int o, const char *arg)
{
    token_opts *t = ctx;
    if (o == OPT_EXPIRES)
        return parse_duration(arg, &t->ttl) ? 0 : 1;
    if (o == OPT_SCOPE) {
        t->scope = arg;
        return 0;
    }
    return 1;
}

int cmd_token(int argc, char **argv)
{
    static const struct option extra[] = {
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"scope", required_argument, NULL, OPT_SCOPE}};
    common c = COMMON_INIT;
    token_opts t = {0, NULL, false};
    int r =
        parse_sub("token", help_token, argc, argv, extra, 2, &c, token_opt, &t);
    if (r >= 0)
        return r;
    const char *sub = optind < argc ? argv[optind] : "";
    int npos = argc - optind - 1;
    bool create = strcmp(sub, "create") == 0, list = strcmp(sub, "list") == 0,
         revoke = strcmp(sub, "revoke") == 0;
    if (!((create || revoke) && npos == 1) && !(list && npos == 0))
        return fail("token",
                    "give create NAME, list or revoke TOKEN_ID; see --help");
    sr_vault *v;
    r = open_vault("token", &c, list ? SR_OPEN_READ : SR_OPEN_WRITE, &v);
    if (r != 0)
        return r;
    sr_status st;
    if (create) {
        char token[SR_TOKEN_MAX], id[SR_TOKEN_ID_MAX];
        st = sr_vault_token_create(v, argv[optind + 1], t.ttl, t.scope, token,
                                   id);
        if (st == SR_OK) {
            fprintf(stderr, "token %s for %s (shown once):\n", id,
                    argv[optind + 1]);
            printf("%s\n", token);
        }
        sodium_memzero(token, sizeof token);
    } else if (revoke) {
        st = sr_vault_token_revoke(v, argv[optind + 1]);
        if (st == SR_OK)
            fprintf(stderr, "revoked\n");
    } else {
        st = sr_vault_token_list(v, print_line, NULL);
    }
    return done("token", st, v);
}

/* ---- login --------------------------------------------------------------- */

const char help_login[] =
    "usage: strongroom login NAME [--expires DURATION] [--password-fd N]\n"
    "\n"
    "Sign in with a user's passphrase (set by 'user add --password') and\n"
    "print a new API token for the session on stdout (default lifetime 8h).\n"
    "The passphrase is asked on the terminal, or read from "
    "--password-fd.\n" COMMON_HELP
    "\nexample: export STRONGROOM_TOKEN=$(strongroom login alice)\n";

int cmd_login(int argc, char **argv)
{
    static const struct option extra[] = {
        {"expires", required_argument, NULL, OPT_EXPIRES},
        {"password-fd", required_argument, NULL, OPT_PASSWORD_FD}};
    common c = COMMON_INIT;
    user_opts u = {NULL, false, false, -1};
    token_opts t = {8u * 3600u, NULL, false};
    int o;
    bool bad = false;
    struct option opts[8];
    static const struct option base[] = {COMMON_OPTIONS};
    size_t n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        opts[n++] = base[i];
    opts[n++] = extra[0];
    opts[n++] = extra[1];
    memset(&opts[n], 0, sizeof opts[n]);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_login, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad) && !bad)
            continue;
        if (o == OPT_EXPIRES && token_opt(&t, o, optarg) == 0)
            continue;
        if (o == OPT_PASSWORD_FD && user_opt(&u, o, optarg) == 0)
            continue;
        return fail("login", "bad option; see --help");
    }
    if (optind != argc - 1)
        return fail("login", "give the user's name; see --help");
    secret pw = {sodium_malloc(PASS_MAX + 1), 0};
    bool ok = pw.p != NULL && (u.pw_fd >= 0 ? read_fd_pass(u.pw_fd, &pw)
                                            : prompt_pass("Passphrase: ", &pw));
    if (!ok) {
        secret_free(&pw);
        return fail("login", "no passphrase: no terminal; use --password-fd");
    }
    sr_vault *v;
    int r = open_vault_as("login", &c, SR_OPEN_WRITE, false, &v);
    if (r != 0) {
        secret_free(&pw);
        return r;
    }
    char token[SR_TOKEN_MAX];
    sr_status st = sr_vault_login(v, argv[optind], pw.p, pw.len, t.ttl, token);
    secret_free(&pw);
    if (st == SR_OK)
        printf("%s\n", token);
    sodium_memzero(token, sizeof token);
    return done("login", st, v);
}

/* ---- case ---------------------------------------------------------------- */

const char help_case[] =
    "usage: strongroom case open CASE\n"
    "       strongroom case assign CASE --to NAME\n"
    "       strongroom case add CASE --person ID\n"
    "       strongroom case list\n"
    "\n"
    "Cases bound what caseload roles (investigators, adjudicators) may read:\n"
    "only people put on a case assigned to them, and only with that case\n"
    "given as --case. Needs manage-cases (the admin role by default); the\n"
    "case administrator is not told whether a person id exists.\n"
    "\n"
    "  --to NAME       the principal to assign the case to\n"
    "  --person ID     the person (32 hex digits) to put on the "
    "case\n" COMMON_HELP
    "\nexample: strongroom case open C-2026-17 && strongroom case assign "
    "C-2026-17 --to alice\n";

typedef struct case_opts {
    const char *to;
    const char *person;
} case_opts;

enum { OPT_TO = 1, OPT_PERSON };

static int case_opt(void *ctx, int o, const char *arg)
{
    case_opts *k = ctx;
    if (o == OPT_TO)
        k->to = arg;
    else if (o == OPT_PERSON)
        k->person = arg;
    else
        return 1;
    return 0;
}

int cmd_case(int argc, char **argv)
{
    static const struct option extra[] = {
        {"to", required_argument, NULL, OPT_TO},
        {"person", required_argument, NULL, OPT_PERSON}};
    common c = COMMON_INIT;
    case_opts k = {NULL, NULL};
    int r =
        parse_sub("case", help_case, argc, argv, extra, 2, &c, case_opt, &k);
    if (r >= 0)
        return r;
    const char *sub = optind < argc ? argv[optind] : "";
    int npos = argc - optind - 1;
    bool open_ = strcmp(sub, "open") == 0, assign = strcmp(sub, "assign") == 0,
         add = strcmp(sub, "add") == 0, list = strcmp(sub, "list") == 0;
    if (!((open_ || assign || add) && npos == 1) && !(list && npos == 0))
        return fail("case", "give open, assign, add or list; see --help");
    if (assign && k.to == NULL)
        return fail("case", "case assign needs --to NAME");
    if (add && k.person == NULL)
        return fail("case", "case add needs --person ID");
    sr_vault *v;
    r = open_vault("case", &c, list ? SR_OPEN_READ : SR_OPEN_WRITE, &v);
    if (r != 0)
        return r;
    sr_status st;
    const char *id = npos == 1 ? argv[optind + 1] : NULL;
    if (open_)
        st = sr_vault_case_open(v, id);
    else if (assign)
        st = sr_vault_case_assign(v, id, k.to);
    else if (add)
        st = sr_vault_case_add_person(v, id, k.person);
    else
        st = sr_vault_case_list(v, print_line, NULL);
    return done("case", st, v);
}

/* ---- policy -------------------------------------------------------------- */

const char help_policy[] =
    "usage: strongroom policy show\n"
    "       strongroom policy set FILE\n"
    "       strongroom policy default\n"
    "\n"
    "show prints the vault's current policy (canonical JSON) and its\n"
    "version on stderr; set validates FILE (errors name the line or the\n"
    "field and the rule), stores it as the next version and logs it with\n"
    "its SHA-256 (needs manage-policy); default prints the built-in\n"
    "default policy, a starting point for your own "
    "(docs/policy.md).\n" COMMON_HELP
    "\nexample: strongroom policy show > p.json && $EDITOR p.json && "
    "strongroom policy set p.json\n";

static bool read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t cap = 2u << 20, n = 0;
    char *p = malloc(cap);
    bool ok = p != NULL;
    while (ok) {
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ok = r == 0;
            break;
        }
        n += (size_t)r;
        if (n == cap) {
            errno = EFBIG;
            ok = false;
        }
    }
    close(fd);
    if (!ok) {
        free(p);
        return false;
    }
    *out = p;
    *len = n;
    return true;
}

int cmd_policy(int argc, char **argv)
{
    common c = COMMON_INIT;
    int r =
        parse_sub("policy", help_policy, argc, argv, NULL, 0, &c, NULL, NULL);
    if (r >= 0)
        return r;
    const char *sub = optind < argc ? argv[optind] : "";
    int npos = argc - optind - 1;
    bool show = strcmp(sub, "show") == 0 && npos == 0,
         set = strcmp(sub, "set") == 0 && npos == 1,
         def = strcmp(sub, "default") == 0 && npos == 0;
    if (!show && !set && !def)
        return fail("policy", "give show, set FILE or default; see --help");
    if (def) {
        printf("%s", sr_policy_default());
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    if (set && !read_file(argv[optind + 1], &text, &len)) {
        fprintf(stderr, "strongroom policy: cannot read %s: %s\n",
                argv[optind + 1], strerror(errno));
        return exit_for(SR_ERR_IO);
    }
    sr_vault *v;
    r = open_vault("policy", &c, set ? SR_OPEN_WRITE : SR_OPEN_READ, &v);
    if (r != 0) {
        free(text);
        return r;
    }
    uint32_t version = 0;
    sr_status st;
    if (set) {
        st = sr_vault_policy_set(v, text, len, &version);
        if (st == SR_OK)
            fprintf(stderr, "policy version %u is in force\n", version);
    } else {
        char *json = NULL;
        st = sr_vault_policy_get(v, &json, &version);
        if (st == SR_OK) {
            printf("%s\n", json);
            fprintf(stderr, "policy version %u\n", version);
        }
        free(json);
    }
    free(text);
    return done("policy", st, v);
}
