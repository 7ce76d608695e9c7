/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_int.h - the parts of breach notification (strongroom/notify.h):
 * the breach report reader (report.c), the letter template (letter.c) and
 * the run's journal (journal.c), each a parser of outside input with its
 * fuzz target, and the run itself (run.c).
 */
#ifndef SR_NOTIFY_INT_H
#define SR_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "strongroom/notify.h"
#include "util/util.h"

#define NOTIFY_MSG_MAX SR_NOTIFY_MSG_MAX
/* The longest line of a report read. */
#define NOTIFY_REPORT_LINE_MAX (1u << 20)
/* The largest letter template. */
#define NOTIFY_TEMPLATE_MAX (1u << 20)

/* ---- report.c: the people of a breach report ----------------------------- */

typedef struct notify_person {
    uint8_t id[SR_ID_BYTES];
    uint8_t classes; /* SR_CLASS_BIT mask revealed */
    uint32_t reads;
    int64_t first, last; /* Unix seconds of the first and last read */
} notify_person;

typedef struct notify_report {
    notify_person *p;
    size_t n, cap;
    uint64_t lines, unresolved, decoys;
    bool summary; /* its first line was the summary */
} notify_report;

void notify_report_init(notify_report *r);
void notify_report_free(notify_report *r);
/* One line (without its newline) of a report, the lines in order. Keeps
 * each person line's id, classes, reads and times; counts the people
 * named only by reference and the decoys; skips denials. SR_ERR_INVALID
 * with msg "line N: why" for a line that is not a report's. */
SR_WARN_UNUSED sr_status notify_report_line(notify_report *r, const char *line,
                                            size_t len,
                                            char msg[NOTIFY_MSG_MAX]);
/* After the last line: a report has its summary and names each person
 * once. */
SR_WARN_UNUSED sr_status notify_report_end(notify_report *r,
                                           char msg[NOTIFY_MSG_MAX]);
/* Read the report file at path: the lines above, and the BLAKE2b-256 of
 * its bytes (hex) that the journal binds a run to. */
SR_WARN_UNUSED sr_status notify_report_read(const char *path, notify_report *r,
                                            char digest[65],
                                            char msg[NOTIFY_MSG_MAX]);

/* ---- letter.c: the template and what fills it -----------------------------
 */

typedef enum notify_field {
    NF_NAME, /* given middle family suffix */
    NF_GIVEN,
    NF_FAMILY,
    NF_ADDRESS,    /* the current address, a line each */
    NF_CLASSES,    /* the field classes exposed, in words */
    NF_FIRST_READ, /* the first and last exposure, as dates */
    NF_LAST_READ,
    NF_READS,
    NF_REFERENCE, /* the letter's reference: the person's vault id */
    NF_DATE,      /* today */
    NF_INCIDENT,  /* --incident */
    NF_COUNT
} notify_field;

typedef struct notify_segment {
    size_t off, len; /* literal text of the template, then */
    int field;       /* a field, or -1 */
} notify_segment;

typedef struct notify_template {
    char *text;
    size_t len;
    notify_segment *seg;
    size_t nseg;
} notify_template;

/* Parse a template: text with {{field}} placeholders (the names of
 * notify_field in lower case: name, given, family, address, classes,
 * first_read, last_read, reads, reference, date, incident). SR_ERR_INVALID
 * with msg "line N: why" for an unknown or unclosed placeholder, a NUL
 * byte or a template over NOTIFY_TEMPLATE_MAX. */
SR_WARN_UNUSED sr_status notify_template_parse(const char *text, size_t len,
                                               notify_template *t,
                                               char msg[NOTIFY_MSG_MAX]);
void notify_template_free(notify_template *t);
/* The letter: each placeholder replaced by its value escaped for HTML (a
 * newline in a value becomes <br>), appended to out. */
SR_WARN_UNUSED sr_status notify_template_render(const notify_template *t,
                                                const char *const v[NF_COUNT],
                                                sr_buf *out);

/* The values a person's line from sr_vault_notify_read gives (name and
 * address; NULL address when none is on record), into scratch (wiped by
 * the caller); false if out of room. */
typedef struct notify_values {
    const char *v[NF_COUNT];
} notify_values;
SR_WARN_UNUSED bool notify_person_values(const json_t *person,
                                         notify_values *out, sr_buf *scratch);
/* The address's parts for the mailing CSV: street, city, state,
 * postal_code, country ("" when absent), or false with none on record. */
bool notify_current_address(const json_t *person, const char *parts[5]);
/* One CSV field (RFC 4180 quoting; a leading = + - @ tab or CR is
 * prefixed with ' so a spreadsheet never runs it as a formula). */
SR_WARN_UNUSED sr_status notify_csv_field(sr_buf *out, const char *s,
                                          bool last);

/* ---- journal.c: what a run has done -------------------------------------- */

typedef enum notify_outcome {
    NOTIFY_LETTER,
    NOTIFY_GONE,
    NOTIFY_NO_ADDRESS
} notify_outcome;

typedef struct notify_done {
    uint8_t id[SR_ID_BYTES];
    uint8_t outcome;
} notify_done;

typedef struct notify_journal {
    notify_done *d; /* sorted by id after notify_journal_parse */
    size_t n, cap;
    uint64_t csv_end, unreach_end; /* the CSVs' sizes when last synced */
    size_t valid;                  /* bytes of whole lines */
} notify_journal;

/* The journal's first line for a run of this report and template. */
void notify_journal_header(char out[200], const char *report_digest,
                           const char *template_digest);
/* Parse a journal's bytes: its first line must be header; then one line
 * "<id hex> letter|gone|no-address <csv end> <unreachable end>\n" per
 * person done, the ends never decreasing. A torn last line is ignored
 * (valid stops before it). SR_ERR_INVALID with msg for a journal of
 * another run, SR_ERR_CORRUPT for a damaged one. */
SR_WARN_UNUSED sr_status notify_journal_parse(const char *data, size_t len,
                                              const char *header,
                                              notify_journal *j,
                                              char msg[NOTIFY_MSG_MAX]);
void notify_journal_free(notify_journal *j);
/* Is id done (after notify_journal_parse)? */
const notify_done *notify_journal_find(const notify_journal *j,
                                       const uint8_t id[SR_ID_BYTES]);
/* The line for one person done. */
size_t notify_journal_line(char out[128], const uint8_t id[SR_ID_BYTES],
                           notify_outcome o, uint64_t csv_end,
                           uint64_t unreach_end);

#endif
