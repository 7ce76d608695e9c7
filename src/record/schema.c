/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema.c - the person schema as one table (docs/formats/person.schema.json
 * is the source of truth; this is its executable form), plus the helpers
 * every walker of the table needs: member lookup, JSON pointer rendering,
 * error reporting and strict UTF-8 decoding.
 *
 * The table drives validation (validate.c), the binary encoding and its
 * decoding (encode.c): a member's binary tag is its position in its object
 * plus one, so never reorder or delete rows; a new member is appended (and
 * documented in docs/record-format.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "record/schema.h"

/* ---- the table ----------------------------------------------------------- */

/* The table is laid out by hand, one member a line. */
/* clang-format off */
#define MEMBER(n, req, t) {n, (uint8_t)(sizeof n - 1), req, -1, t}
#define TOP(n, req, c, t) {n, (uint8_t)(sizeof n - 1), req, c, t}
#define COUNT(a) ((uint8_t)(sizeof(a) / sizeof((a)[0])))
#define OBJECT(m) .kind = RK_OBJECT, .members = m, .nmembers = COUNT(m)
#define ENUM(e, list) .kind = RK_ENUM, .enums = e, .nenums = COUNT(e), \
                      .enum_list = list

static const record_type t_text = {.kind = RK_TEXT, .min = 1, .max = 256};
static const record_type t_date = {.kind = RK_DATE};
static const record_type t_country = {.kind = RK_COUNTRY};
static const record_type t_str16 = {.kind = RK_STRING, .max = 16};
static const record_type t_str24 = {.kind = RK_STRING, .max = 24};
static const record_type t_str4096 = {.kind = RK_STRING, .max = 4096};
static const record_type t_str65536 = {.kind = RK_STRING, .max = 65536};
static const record_type t_id = {.kind = RK_ID, .max = 64};
static const record_type t_ssn = {.kind = RK_SSN};
static const record_type t_phone = {.kind = RK_PHONE};
static const record_type t_email = {.kind = RK_EMAIL, .max = 254};
static const record_type t_case = {.kind = RK_CASE_NUMBER};
static const record_type t_number = {.kind = RK_NUMBER};
static const record_type t_finger = {.kind = RK_INT, .min = 1, .max = 10};
static const record_type t_template = {.kind = RK_BASE64, .max = 16384};

static const char *const e_sex[] = {"F", "M", "X"};
static const char *const e_emp_kind[] = {"employee", "contractor"};
static const char *const e_emp_status[] = {"current", "former"};
static const char *const e_inv_type[] = {"tier1", "tier2", "tier3",
                                         "tier4", "tier5", "reinvestigation"};
static const char *const e_inv_status[] = {"open", "closed"};
static const char *const e_adjudication[] = {"pending", "favorable",
                                             "unfavorable"};
static const char *const e_fp_format[] = {"iso-19794-2-2005",
                                          "ansi-378-2004"};

static const record_type t_sex = {ENUM(e_sex, "F, M, X")};
static const record_type t_emp_kind = {ENUM(e_emp_kind,
                                            "employee, contractor")};
static const record_type t_emp_status = {ENUM(e_emp_status,
                                              "current, former")};
static const record_type t_inv_type = {
    ENUM(e_inv_type, "tier1, tier2, tier3, tier4, tier5, reinvestigation")};
static const record_type t_inv_status = {ENUM(e_inv_status, "open, closed")};
static const record_type t_adjudication = {
    ENUM(e_adjudication, "pending, favorable, unfavorable")};
static const record_type t_fp_format = {
    ENUM(e_fp_format, "iso-19794-2-2005, ansi-378-2004")};

/* $defs/name */
static const record_member m_name[] = {
    MEMBER("given", true, &t_text), MEMBER("middle", false, &t_text),
    MEMBER("family", true, &t_text), MEMBER("suffix", false, &t_str16)};
static const record_type t_name = {OBJECT(m_name)};
static const record_type t_names16 = {.kind = RK_ARRAY, .max = 16,
                                      .items = &t_name};

/* $defs/event */
static const record_member m_event[] = {
    MEMBER("date", true, &t_date), MEMBER("kind", true, &t_text),
    MEMBER("details", false, &t_str4096), MEMBER("amount", false, &t_number)};
static const record_type t_event = {OBJECT(m_event)};
static const record_type t_events = {.kind = RK_ARRAY, .max = 64,
                                     .items = &t_event};

static const record_member m_birth[] = {
    MEMBER("date", true, &t_date), MEMBER("city", false, &t_text),
    MEMBER("state", false, &t_text), MEMBER("country", false, &t_country)};
static const record_type t_birth = {OBJECT(m_birth)};

static const record_type t_citizenship = {.kind = RK_ARRAY, .max = 8,
                                          .items = &t_country};

static const record_member m_address[] = {
    MEMBER("street", true, &t_text),       MEMBER("city", true, &t_text),
    MEMBER("state", false, &t_text),       MEMBER("postal_code", false, &t_str16),
    MEMBER("country", true, &t_country),   MEMBER("from", false, &t_date),
    MEMBER("to", false, &t_date)};
static const record_type t_address = {OBJECT(m_address), .order_lo = 6,
                                      .order_hi = 7};
static const record_type t_addresses = {.kind = RK_ARRAY, .max = 64,
                                        .items = &t_address};

static const record_type t_phones = {.kind = RK_ARRAY, .max = 16,
                                     .items = &t_phone};
static const record_type t_emails = {.kind = RK_ARRAY, .max = 16,
                                     .items = &t_email};

static const record_member m_employment[] = {
    MEMBER("agency", true, &t_text),      MEMBER("position", false, &t_text),
    MEMBER("kind", true, &t_emp_kind),    MEMBER("employer", false, &t_text),
    MEMBER("status", true, &t_emp_status), MEMBER("start", true, &t_date),
    MEMBER("end", false, &t_date)};
/* end is present exactly when status is "former" (enum value 1). */
static const record_type t_job = {OBJECT(m_employment), .order_lo = 6,
                                  .order_hi = 7, .dep_on = 5,
                                  .dep_target = 7, .dep_value = 1};
static const record_type t_employment = {.kind = RK_ARRAY, .max = 64,
                                         .items = &t_job};

static const record_member m_relative[] = {
    MEMBER("relation", true, &t_text), MEMBER("name", true, &t_name),
    MEMBER("birth_date", false, &t_date),
    MEMBER("citizenship", false, &t_country)};
static const record_type t_relative = {OBJECT(m_relative)};
static const record_type t_relatives = {.kind = RK_ARRAY, .max = 64,
                                        .items = &t_relative};

static const record_member m_contact[] = {
    MEMBER("name", true, &t_text), MEMBER("country", true, &t_country),
    MEMBER("nature", false, &t_text), MEMBER("frequency", false, &t_text)};
static const record_type t_contact = {OBJECT(m_contact)};
static const record_type t_contacts = {.kind = RK_ARRAY, .max = 64,
                                       .items = &t_contact};

static const record_member m_reference[] = {
    MEMBER("name", true, &t_text), MEMBER("phone", false, &t_str24),
    MEMBER("relation", false, &t_text)};
static const record_type t_reference = {OBJECT(m_reference)};
static const record_type t_references = {.kind = RK_ARRAY, .max = 16,
                                         .items = &t_reference};

static const record_member m_sections[] = {
    MEMBER("relatives", false, &t_relatives),
    MEMBER("foreign_contacts", false, &t_contacts),
    MEMBER("financial", false, &t_events),
    MEMBER("police", false, &t_events),
    MEMBER("drug_use", false, &t_events),
    MEMBER("mental_health", false, &t_events),
    MEMBER("references", false, &t_references),
    MEMBER("notes", false, &t_str65536)};
static const record_type t_sections = {OBJECT(m_sections)};

static const record_member m_investigation[] = {
    MEMBER("case_number", true, &t_case),
    MEMBER("type", true, &t_inv_type),
    MEMBER("status", true, &t_inv_status),
    MEMBER("opened", true, &t_date),
    MEMBER("closed", false, &t_date),
    MEMBER("adjudication", false, &t_adjudication),
    MEMBER("sections", false, &t_sections)};
static const record_type t_investigation = {OBJECT(m_investigation),
                                            .order_lo = 4, .order_hi = 5};
static const record_type t_investigations = {.kind = RK_ARRAY, .max = 32,
                                             .items = &t_investigation};

static const record_member m_fingerprint[] = {
    MEMBER("finger", true, &t_finger), MEMBER("format", true, &t_fp_format),
    MEMBER("template", true, &t_template)};
static const record_type t_fingerprint = {OBJECT(m_fingerprint)};
static const record_type t_fingerprints = {.kind = RK_ARRAY, .max = 10,
                                           .items = &t_fingerprint};

/* The person. Top-level rows carry their field class; "id" has none: the
 * vault assigns it and keeps it outside the sealed classes. */
static const record_member m_person[] = {
    TOP("id", false, -1, &t_id),
    TOP("ssn", true, SR_CLASS_IDENTITY, &t_ssn),
    TOP("name", true, SR_CLASS_NAME, &t_name),
    TOP("former_names", false, SR_CLASS_NAME, &t_names16),
    TOP("birth", true, SR_CLASS_IDENTITY, &t_birth),
    TOP("sex", false, SR_CLASS_IDENTITY, &t_sex),
    TOP("citizenship", false, SR_CLASS_IDENTITY, &t_citizenship),
    TOP("addresses", false, SR_CLASS_CONTACT, &t_addresses),
    TOP("phones", false, SR_CLASS_CONTACT, &t_phones),
    TOP("emails", false, SR_CLASS_CONTACT, &t_emails),
    TOP("employment", false, SR_CLASS_EMPLOYMENT, &t_employment),
    TOP("investigations", false, SR_CLASS_INVESTIGATION, &t_investigations),
    TOP("fingerprints", false, SR_CLASS_BIOMETRIC, &t_fingerprints)};
static const record_type t_person = {OBJECT(m_person)};
/* clang-format on */

const record_type *record_schema_person(void)
{
    return &t_person;
}

/* ---- lookups ------------------------------------------------------------- */

int record_member_find(const record_type *t, const char *key, size_t len)
{
    /* At most 13 rows: a length check first makes the linear scan cheaper
     * than hashing the key. */
    for (uint8_t i = 0; i < t->nmembers; i++) {
        const record_member *m = &t->members[i];
        if (m->name_len == len && memcmp(m->name, key, len) == 0)
            return i;
    }
    return -1;
}

int record_class_of_member(const char *name)
{
    if (name == NULL)
        return -1;
    int i = record_member_find(&t_person, name, strlen(name));
    return i < 0 ? -1 : t_person.members[i].cls;
}

/* ---- UTF-8 --------------------------------------------------------------- */

bool record_utf8_next(const char *s, size_t len, size_t *i, uint32_t *cp)
{
    size_t k = *i;
    uint8_t c = (uint8_t)s[k];
    uint32_t v;
    size_t n;
    uint32_t lo;
    if (c < 0x80) {
        *cp = c;
        *i = k + 1;
        return true;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        v = c & 0x1fu;
        lo = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        v = c & 0x0fu;
        lo = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        v = c & 0x07u;
        lo = 0x10000;
    } else {
        return false;
    }
    if (n > len - k - 1)
        return false;
    for (size_t j = 1; j <= n; j++) {
        uint8_t cc = (uint8_t)s[k + j];
        if ((cc & 0xc0) != 0x80)
            return false;
        v = v << 6 | (cc & 0x3fu);
    }
    /* Overlong forms, UTF-16 surrogates and values past Unicode. */
    if (v < lo || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
        return false;
    *cp = v;
    *i = k + 1 + n;
    return true;
}

bool record_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        if (!record_utf8_next(s, len, &i, &cp) || cp == 0)
            return false;
    }
    return true;
}

/* ---- paths and errors ---------------------------------------------------- */

typedef struct path_out {
    char *p;
    size_t cap;
    size_t len;
    bool full;
} path_out;

static void out_put(path_out *o, const char *s, size_t n)
{
    if (o->full)
        return;
    if (n >= o->cap - o->len) {
        /* Keep whole segments only, so a cut never splits a code point. */
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void path_render(const record_path *p, path_out *o)
{
    if (p == NULL)
        return;
    path_render(p->up, o);
    if (p->key == NULL) {
        char tmp[24];
        int w = snprintf(tmp, sizeof tmp, "/%zu", p->index);
        if (w > 0 && (size_t)w < sizeof tmp)
            out_put(o, tmp, (size_t)w);
        return;
    }
    /* The key may come from the input (an unknown member): RFC 6901
     * escaping, and control characters replaced so the message stays one
     * clean log line. */
    char seg[192];
    size_t n = 0;
    const char *k = p->key;
    seg[n++] = '/';
    for (; *k != '\0' && n + 2 < sizeof seg; k++) {
        uint8_t c = (uint8_t)*k;
        if (c == '~') {
            seg[n++] = '~';
            seg[n++] = '0';
        } else if (c == '/') {
            seg[n++] = '~';
            seg[n++] = '1';
        } else if (c < 0x20 || c == 0x7f) {
            seg[n++] = '?';
        } else {
            seg[n++] = (char)c;
        }
    }
    /* A segment cut short could end inside a code point: drop the partial
     * sequence. */
    if (*k != '\0') {
        while (n > 1 && ((uint8_t)seg[n - 1] & 0xc0) == 0x80)
            n--;
        if (n > 1 && ((uint8_t)seg[n - 1] & 0xc0) == 0xc0)
            n--;
    }
    out_put(o, seg, n);
}

void record_fail(record_error *err, const record_path *p, const char *fmt, ...)
{
    if (err == NULL)
        return;
    path_out o = {err->path, sizeof err->path, 0, false};
    err->path[0] = '\0';
    path_render(p, &o);
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    if (w < 0)
        err->reason[0] = '\0';
}

void record_error_format(const record_error *e, char *out, size_t cap)
{
    if (out == NULL || cap == 0)
        return;
    if (e == NULL) {
        out[0] = '\0';
        return;
    }
    int w;
    if (e->path[0] == '\0')
        w = snprintf(out, cap, "%s", e->reason);
    else
        w = snprintf(out, cap, "%s: %s", e->path, e->reason);
    if (w < 0)
        out[0] = '\0';
}
