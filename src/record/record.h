/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.h - the person model (internal): validation of the exchange form
 * (../shared/formats/person.schema.json), the canonical binary encoding of
 * each field class (docs/record-format.md), JSON merge patch, the CSV
 * subset (docs/csv.md) and the normalisation behind the blind indexes.
 *
 * A person in memory is a jansson object in the exchange form. Everything
 * here is pure: no I/O, no keys.
 *
 * Error messages name the JSON path (RFC 6901 pointer, e.g.
 * "/addresses/2/from") and the rule broken, never the offending value, so
 * they are safe to log: no identifier ever appears in one.
 */
#ifndef SR_RECORD_H
#define SR_RECORD_H

#include <jansson.h>

#include "strongroom/common.h"
#include "util/util.h"

/* Upper bound of one person's JSON text and of one class encoding. */
#define RECORD_MAX_JSON (8u * 1024u * 1024u)
#define RECORD_MAX_ENCODED (8u * 1024u * 1024u)

typedef struct record_error {
    char path[192];   /* JSON pointer of the offending member, "" for root */
    char reason[192]; /* what rule it breaks, without its value */
} record_error;

/* "path: reason" (or just the reason at the root) into out. */
void record_error_format(const record_error *e, char *out, size_t cap);

/*
 * Parse one JSON text and validate it as a person (record_validate). On
 * success *out is a new reference the caller decrefs. Malformed JSON gives
 * SR_ERR_INVALID with reason "malformed JSON at line L column C: ..." in
 * fixed wording per jansson error code: jansson's own text can quote the
 * input, which may be an SSN.
 */
SR_WARN_UNUSED sr_status record_parse(const char *text, size_t len,
                                      int32_t today, json_t **out,
                                      record_error *err);

/*
 * Validate a person in the exchange form against every rule of the schema:
 * required members, no unknown members (the path names the unknown one),
 * types, enums, patterns, lengths and counts, valid UTF-8 without control
 * characters, SSN rules (area not 000, 666 or 900-999; group not 00; serial
 * not 0000), real calendar dates not after `today` (days since epoch) and
 * in order (from <= to, start <= end, opened <= closed), end required when
 * employment status is former and absent when current, base64 templates.
 * "id" is allowed (any string of at most 64 bytes) and otherwise ignored.
 */
SR_WARN_UNUSED sr_status record_validate(const json_t *person, int32_t today,
                                         record_error *err);

/* The class of a top-level member ("ssn" -> SR_CLASS_IDENTITY); -1 for
 * "id" and unknown names. */
int record_class_of_member(const char *name);

/* ---- named fields ----------------------------------------------------------
 */

/* Room for a list of fields as text, and for the reason it is refused. */
#define RECORD_FIELDS_TEXT_MAX 256u
#define RECORD_FIELDS_REASON 128u

/* Some of a person's fields: whole top-level members (ssn, name, birth,
 * addresses, ...; not id), or single members of an object-valued one
 * (name.family, birth.date). canon is the list in schema order, each
 * field once, a whole member standing for its members: two lists that
 * name the same fields have the same canon. */
typedef struct record_fields {
    uint32_t top;     /* bit i: person member i, whole */
    uint32_t sub[16]; /* bit j: member j of member i (16: schema.h's
                         RECORD_MAX_MEMBERS) */
    unsigned classes; /* SR_CLASS_BIT of each one's class */
    char canon[RECORD_FIELDS_TEXT_MAX];
} record_fields;

/* Parse "name,birth.date" (comma-separated, spaces around names allowed)
 * into f; false with the reason (naming the field by its position, never
 * quoting it) if a name is not a field. */
SR_WARN_UNUSED bool record_fields_parse(const char *list, size_t len,
                                        record_fields *f,
                                        char reason[RECORD_FIELDS_REASON]);
/* A new object with only f's fields of person (those it has); NULL when
 * out of memory. */
json_t *record_fields_pick(const record_fields *f, const json_t *person);
/* Does obj (an object) hold only f's fields, and of an object-valued
 * member named in part only the named members? */
bool record_fields_only(const record_fields *f, const json_t *obj);

/*
 * Append the canonical encoding of class c of a validated person to out.
 * Canonical: equal people give equal bytes. A class with no members present
 * encodes to zero bytes (out unchanged); the vault stores no ciphertext for
 * an empty class. Errors: SR_ERR_INVALID if the person was not valid,
 * SR_ERR_NOMEM, or out's cap.
 */
SR_WARN_UNUSED sr_status record_encode_class(const json_t *person, sr_class c,
                                             sr_buf *out);

/*
 * Decode an encoding of class c and set its members on person (an object).
 * Strict: trailing bytes, unknown tags, out-of-order tags, overlong varints
 * and out-of-range values are SR_ERR_CORRUPT with err explaining. The
 * result of decoding then re-encoding is the same bytes.
 */
SR_WARN_UNUSED sr_status record_decode_class(const uint8_t *p, size_t n,
                                             sr_class c, json_t *person,
                                             record_error *err);

/*
 * The SSN (9 digits and a NUL) of an identity-class encoding, read without
 * decoding the rest: the candidate test of a search. false if the bytes do
 * not start like an identity encoding (record_decode_class then says why).
 */
SR_WARN_UNUSED bool record_identity_ssn(const uint8_t *p, size_t n,
                                        char out[10]);

/*
 * The day a person left (days since 1970-01-01, negative before), read
 * from an employment-class encoding without building its JSON: the latest
 * end of their employment when every entry is former;
 * RECORD_NOT_SEPARATED if one is not, or there is none. What a retention
 * run and a compaction need of everyone.
 * false if the bytes are not an employment encoding (record_decode_class
 * then says why). Agrees with decoding the class and reading the JSON.
 */
#define RECORD_NOT_SEPARATED INT32_MIN /* before any date's day */
SR_WARN_UNUSED bool record_employment_left(const uint8_t *p, size_t n,
                                           int32_t *day);

/*
 * RFC 7386 JSON merge patch: apply patch to target in place. A patch that
 * is not an object replaces the whole target, which for a person is
 * SR_ERR_INVALID. The result still has to be validated by the caller.
 */
SR_WARN_UNUSED sr_status record_merge_patch(json_t *target, const json_t *patch,
                                            record_error *err);

/* ---- blind-index normalisation ------------------------------------------ */

/* "123-45-6789" or "123456789" -> "123456789". false if not 9 digits in
 * one of those two forms. */
SR_WARN_UNUSED bool record_norm_ssn(const char *ssn, char out[10]);

/*
 * A family name as people type it -> the form the index keys on: Latin
 * letters folded to lowercase ASCII without diacritics (é -> e, ß -> ss,
 * Ø -> o, ...), digits kept, spaces, hyphens, apostrophes and all other
 * punctuation dropped; other scripts kept as their UTF-8 bytes, lowercased
 * where simple. Writes a NUL-terminated string; false if the result would
 * be empty, would not fit in cap, or the input is not valid UTF-8.
 */
SR_WARN_UNUSED bool record_norm_name(const char *name, char *out, size_t cap);

/* Room for any normalised name of the schema (256 code points, each at
 * most 4 bytes, with room for expansions such as "ss") and its NUL. */
#define RECORD_NAME_NORM_CAP 2048u

/* ---- CSV subset ---------------------------------------------------------- */

/*
 * Column ids (record_csv_layout.col[]) are the positions of the columns in
 * record_csv_header():
 *    0 ssn          1 given         2 middle       3 family
 *    4 suffix       5 birth_date    6 birth_city   7 birth_state
 *    8 birth_country 9 sex         10 citizenship 11 street
 *   12 city        13 state        14 postal_code 15 country
 *   16 address_from 17 agency      18 position    19 kind
 *   20 employer    21 employment_start
 * ssn, given, family and birth_date must be in every header; the others
 * may be left out of it. Cells are capped at 4096 bytes, rows at 65536,
 * the header line at 4096. See docs/csv.md for the mapping to the
 * exchange form.
 */

/* The header line of the CSV subset (docs/csv.md), without newline. */
const char *record_csv_header(void);

/*
 * Check a CSV header line: columns of the subset in any order; the required
 * ones (ssn, given, family, birth_date) must be present, others may be
 * left out; unknown or repeated columns are errors naming the column.
 * The column order is kept in *order (one entry per column, at most
 * RECORD_CSV_MAX_COLS) for record_csv_row.
 */
#define RECORD_CSV_MAX_COLS 32
typedef struct record_csv_layout {
    unsigned ncols;
    int col[RECORD_CSV_MAX_COLS]; /* subset column id per position */
} record_csv_layout;
SR_WARN_UNUSED sr_status record_csv_header_parse(const char *line, size_t len,
                                                 record_csv_layout *layout,
                                                 record_error *err);

/*
 * One CSV row (RFC 4180 quoting, no embedded newlines: one row per line)
 * -> a person in the exchange form (not yet validated; call
 * record_validate). Empty cells mean absent members. Errors name the column
 * ("/csv/birth_date") and the rule.
 */
SR_WARN_UNUSED sr_status record_csv_row(const record_csv_layout *layout,
                                        const char *line, size_t len,
                                        json_t **out, record_error *err);

#endif
