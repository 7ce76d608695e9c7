/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/notify.h - breach notification (docs/breach.md): one letter
 * per person a breach report names as exposed, with their name and
 * current address read from the vault under the incident-response
 * purpose and a second person's approval, plus a CSV for a mailing
 * house. The run is resumable: a journal in the output directory records
 * each person done, and a run started again over the same report and
 * template finishes the job without writing any letter or CSV row twice.
 *
 * The output directory:
 *   letters/<person id>.html   one letter each (mode 0600)
 *   mailing.csv                reference, letter, name and address lines
 *   unreachable.csv            people with no letter: shredded since the
 *                              report, or with no address on record
 *   notify.journal             the progress of the run
 *   notify.json                the summary, written when the run is done
 *
 * These files hold names and addresses: they are the letters. Keep the
 * directory where the letters are printed, and destroy it afterwards.
 */
#ifndef STRONGROOM_NOTIFY_H
#define STRONGROOM_NOTIFY_H

#include "strongroom/vault.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SR_NOTIFY_MSG_MAX 512

typedef struct sr_notify_options {
    const char *report;   /* a breach report, JSON lines (breach report) */
    const char *letter;   /* an HTML letter template; NULL: the built-in */
    const char *out_dir;  /* created (0700) if missing */
    const char *incident; /* text for {{incident}}; NULL: "" */
    sr_access access;     /* purpose SR_NOTIFY_PURPOSE, the approval */
    /* Called after each group of letters; NULL for none. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} sr_notify_options;

typedef struct sr_notify_summary {
    uint64_t people;      /* the resolved people the report names */
    uint64_t done_before; /* of them, done by an earlier run */
    uint64_t letters;     /* letters written, in all runs */
    uint64_t gone;        /* shredded since the report: no letter */
    uint64_t no_address;  /* no address on record: no letter */
    uint64_t unresolved;  /* named only by reference (shredded before) */
    uint64_t decoys;      /* decoys the report lists: never written to */
} sr_notify_summary;

/*
 * Ask for the approval a notification needs (sr_vault_approval_request
 * with action "notify"), bound to exactly the people the report at path
 * names. *id gets the approval's id; *people how many it names.
 * SR_ERR_INVALID with msg naming the report's line for a bad report.
 */
SR_API SR_WARN_UNUSED sr_status sr_notify_request(
    sr_vault *v, const char *report, uint64_t ttl, char id[SR_APPROVAL_ID_MAX],
    uint64_t *people, char msg[SR_NOTIFY_MSG_MAX]);

/*
 * Write the letters (above). Needs the approval in o->access. A run over
 * an output directory that holds another report's or template's run, or
 * other files, is refused. On failure msg says why, naming the report's
 * or template's line, or the person by id; what was done is kept, and
 * running again resumes.
 */
SR_API SR_WARN_UNUSED sr_status sr_notify_run(sr_vault *v,
                                              const sr_notify_options *o,
                                              sr_notify_summary *out,
                                              char msg[SR_NOTIFY_MSG_MAX]);

/* The built-in letter template (HTML, NUL-terminated). */
SR_API const char *sr_notify_default_letter(void);

#ifdef __cplusplus
}
#endif

#endif
