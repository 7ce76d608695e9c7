/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c - `strongroom breach notify`: the letters to the people a
 * breach report names (sr_notify_run), with a progress line on a
 * terminal, and `--print-template` for the built-in letter to edit.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "strongroom/notify.h"

const char help_breach_notify[] =
    "usage: strongroom breach notify --report FILE --out DIR --approval ID\n"
    "                                [--template FILE] [--incident TEXT]\n"
    "                                [--purpose incident-response] [--quiet]\n"
    "       strongroom breach notify --print-template\n"
    "\n"
    "Write one letter per person a breach report (breach report --format\n"
    "json) names as exposed: their name and current address are read from\n"
    "the vault under the incident-response purpose, each group of people\n"
    "logged before it is read, and only under a second person's approval\n"
    "bound to exactly the report's people:\n"
    "\n"
    "  strongroom approval request notify --report FILE   (prints ID)\n"
    "  strongroom approval approve ID                     (another officer)\n"
    "\n"
    "DIR gets letters/<person id>.html (one each), mailing.csv (a row per\n"
    "letter with the name and address lines, for a mailing house),\n"
    "unreachable.csv (people shredded since the report, or with no\n"
    "address), notify.journal (the progress) and notify.json (the summary,\n"
    "also printed). DIR must be new or empty, or hold an interrupted run of\n"
    "the same report and template, which is then resumed: no letter or row\n"
    "is written twice. These files hold names and addresses: keep DIR\n"
    "where the letters are printed, and destroy it afterwards.\n"
    "\n"
    "  --report FILE     the breach report, in its json format\n"
    "  --out DIR         where the letters go (created, mode 0700)\n"
    "  --approval ID     the approved notify approval\n"
    "  --template FILE   an HTML letter with {{name}}, {{given}},\n"
    "                    {{family}}, {{address}}, {{classes}},\n"
    "                    {{first_read}}, {{last_read}}, {{reads}},\n"
    "                    {{reference}}, {{date}}, {{incident}}\n"
    "                    (default: the built-in letter; see\n"
    "                    --print-template)\n"
    "  --incident TEXT   a sentence for {{incident}}\n"
    "  --purpose P       incident-response (the default; no other)\n"
    "  --quiet           no progress line\n"
    "  --print-template  print the built-in letter, to edit\n" COMMON_HELP
    "\nexample: strongroom breach notify --report mallory.jsonl "
    "--out letters-2026-12 --approval 3f2a9c0d1e4b5a67\n";

typedef struct progress {
    bool shown;
} progress;

static void show(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    fprintf(stderr, "\rnotify: %" PRIu64 " of %" PRIu64 " people done ", done,
            total);
    p->shown = true;
}

int cmd_breach_notify(int argc, char **argv)
{
    enum {
        OPT_REPORT = 1,
        OPT_OUT,
        OPT_TEMPLATE,
        OPT_INCIDENT,
        OPT_QUIET,
        OPT_PRINT
    };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        ACCESS_OPTIONS,
        {"report", required_argument, NULL, OPT_REPORT},
        {"out", required_argument, NULL, OPT_OUT},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"incident", required_argument, NULL, OPT_INCIDENT},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"print-template", no_argument, NULL, OPT_PRINT},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    sr_notify_options o;
    bool quiet = false, print = false, bad = false;
    int opt;
    memset(&o, 0, sizeof o);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(help_breach_notify, stdout);
            return 0;
        }
        if (common_option(&c, opt, optarg, &bad))
            continue;
        switch (opt) {
        case OPT_REPORT:
            o.report = optarg;
            break;
        case OPT_OUT:
            o.out_dir = optarg;
            break;
        case OPT_TEMPLATE:
            o.letter = optarg;
            break;
        case OPT_INCIDENT:
            o.incident = optarg;
            break;
        case OPT_QUIET:
            quiet = true;
            break;
        case OPT_PRINT:
            print = true;
            break;
        default:
            return fail("breach notify", "bad option; see --help");
        }
    }
    if (bad || optind + 1 != argc || strcmp(argv[optind], "notify") != 0)
        return fail("breach notify", "bad arguments; see --help");
    if (print) {
        fputs(sr_notify_default_letter(), stdout);
        return 0;
    }
    if (o.report == NULL || o.out_dir == NULL || c.approval == NULL)
        return fail("breach notify",
                    "give --report FILE, --out DIR and --approval ID");
    if (c.purpose != NULL && strcmp(c.purpose, SR_NOTIFY_PURPOSE) != 0)
        return fail("breach notify",
                    "letters are written under purpose " SR_NOTIFY_PURPOSE);
    o.access.purpose = SR_NOTIFY_PURPOSE;
    o.access.case_id = c.case_id;
    o.access.approval = c.approval;
    progress pg = {false};
    if (!quiet && isatty(STDERR_FILENO)) {
        o.progress = show;
        o.progress_ctx = &pg;
    }
    sr_vault *v;
    int rc = open_vault("breach notify", &c, SR_OPEN_WRITE, &v);
    if (rc != 0)
        return rc;
    sr_notify_summary s;
    char msg[SR_NOTIFY_MSG_MAX];
    sr_status st = sr_notify_run(v, &o, &s, msg);
    if (pg.shown)
        fputc('\n', stderr);
    sr_vault_close(v);
    if (st != SR_OK) {
        fprintf(stderr, "strongroom breach notify: %s\n", msg);
        if (s.letters + s.gone + s.no_address > 0)
            fprintf(stderr,
                    "strongroom breach notify: %" PRIu64
                    " people are done; run the same command again to "
                    "resume\n",
                    s.letters + s.gone + s.no_address);
        return exit_for(st);
    }
    printf("{\"people\":%" PRIu64 ",\"done_before\":%" PRIu64
           ",\"letters\":%" PRIu64 ",\"gone\":%" PRIu64
           ",\"no_address\":%" PRIu64 ",\"unresolved\":%" PRIu64
           ",\"decoys\":%" PRIu64 "}\n",
           s.people, s.done_before, s.letters, s.gone, s.no_address,
           s.unresolved, s.decoys);
    return 0;
}
