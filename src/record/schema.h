/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema.h - the one table-driven description of the person schema
 * (docs/formats/person.schema.json) and the internals shared by the
 * validator, the binary codec and the merge patch of the record module.
 *
 * The table in schema.c is the only place that knows which members a
 * person has, their kinds, bounds, enums, binary tags and field classes;
 * validate.c, encode.c and the tests walk it. Internal: never installed.
 */
#ifndef SR_RECORD_SCHEMA_H
#define SR_RECORD_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "record/record.h"
#include "strongroom/common.h"

/* What a value is. Each kind names one rule set of the schema. */
typedef enum record_kind {
    RK_ID,          /* string of at most `max` bytes (the vault's id) */
    RK_TEXT,        /* $defs/text: min..max code points, no controls */
    RK_STRING,      /* string of at most `max` code points, no pattern */
    RK_DATE,        /* $defs/date: real calendar date, not after today */
    RK_COUNTRY,     /* $defs/country: ^[A-Z]{2}$ */
    RK_ENUM,        /* one of enums[0..nenums) */
    RK_INT,         /* JSON integer in min..max (min >= 0) */
    RK_NUMBER,      /* any JSON number; integer or real kept as such */
    RK_SSN,         /* ^[0-9]{3}-[0-9]{2}-[0-9]{4}$ plus the SSA rules */
    RK_PHONE,       /* ^\+?[0-9 ()-]{4,24}$ */
    RK_EMAIL,       /* ^[^@\s]+@[^@\s]+$, at most `max` code points */
    RK_CASE_NUMBER, /* ^[A-Z0-9-]{4,32}$ */
    RK_BASE64,      /* canonical padded base64, at most `max` chars */
    RK_OBJECT,      /* members[0..nmembers), additionalProperties false */
    RK_ARRAY        /* at most `max` items of type `items` */
} record_kind;

typedef struct record_type record_type;

/* One member of an object. Its binary tag is its position in the table
 * plus one, so table order is schema order is tag order. */
typedef struct record_member {
    const char *name;
    uint8_t name_len;
    bool required;
    int8_t cls; /* sr_class at the top level, -1 elsewhere or for "id" */
    const record_type *type;
} record_member;

struct record_type {
    record_kind kind;
    uint32_t min; /* minLength (code points) or minimum */
    uint32_t max; /* maxLength, maxItems or maximum */
    const char *const *enums;
    uint8_t nenums;
    const char *enum_list; /* "F, M, X" for messages */
    const record_type *items;
    const record_member *members;
    uint8_t nmembers;
    /* Cross-member rules, by tag (0 = none): the date at order_hi may not
     * precede the one at order_lo; the member dep_target is present exactly
     * when dep_on holds enum value dep_value. */
    uint8_t order_lo, order_hi;
    uint8_t dep_on, dep_target, dep_value;
};

/* The most members any object of the schema has (the person: 13). */
#define RECORD_MAX_MEMBERS 16

/* A base64 template of at most 16384 characters decodes to this many. */
#define RECORD_MAX_TEMPLATE_BYTES (16384u / 4u * 3u)

/* The person object type: the root of the table. */
const record_type *record_schema_person(void);

/* Index of the member named key[0..len) in object type t, or -1. */
int record_member_find(const record_type *t, const char *key, size_t len);

/*
 * A JSON pointer under construction, one frame per level on the stack, so
 * a path costs nothing until an error renders it. key is NULL for an array
 * index. Keys are escaped when rendered (RFC 6901 ~0 ~1, and control
 * characters as '?' so a hostile member name cannot forge log lines).
 */
typedef struct record_path {
    const struct record_path *up;
    const char *key;
    size_t index;
} record_path;

/* Set err (if not NULL) to path p and a printf-style reason. The reason
 * must never include a value from the person. */
void record_fail(record_error *err, const record_path *p, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Check one value against type t (recursively), with dates not after
 * today (pass INT32_MAX to skip that rule). SR_ERR_INVALID with err set,
 * or SR_ERR_NOMEM.
 */
SR_WARN_UNUSED sr_status record_check_value(const record_type *t,
                                            const json_t *v, int32_t today,
                                            const record_path *p,
                                            record_error *err);

/*
 * One pass over the members of obj (of object type t): slots[i] gets the
 * value of member i or NULL. Unknown members are SR_ERR_INVALID naming
 * the member.
 */
SR_WARN_UNUSED sr_status record_object_slots(const record_type *t,
                                             const json_t *obj,
                                             const json_t **slots,
                                             const record_path *p,
                                             record_error *err);

/* Decode the next UTF-8 code point of s[*i..len): strict (no overlong
 * forms, surrogates or values past U+10FFFF). false if invalid. */
SR_WARN_UNUSED bool record_utf8_next(const char *s, size_t len, size_t *i,
                                     uint32_t *cp);

/* true if s[0..len) is valid UTF-8 without NUL. */
SR_WARN_UNUSED bool record_utf8_valid(const char *s, size_t len);

#endif
