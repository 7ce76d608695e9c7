/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/body.c - checking what a hotline message carries (body.h).
 */
#include "hotline/body.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "record/record.h"
#include "util/util.h"

/* ---- timestamps and identifiers ----------------------------------------- */

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

bool hl_timestamp_ok(const char *s, size_t len)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t head = sizeof shape - 1;
    if (s == NULL || len < head + 1 || len > head + 1 + 10 || s[len - 1] != 'Z')
        return false;
    for (size_t i = 0; i < head; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    /* An optional fraction: a dot and 1 to 9 digits. */
    if (len > head + 1) {
        if (s[head] != '.' || len < head + 3)
            return false;
        for (size_t i = head + 1; i < len - 1; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
    }
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2),
        h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59)
        return false;
    int32_t y2;
    uint32_t m2, d2;
    date_civil_from_days(date_days_from_civil(y, (uint32_t)mo, (uint32_t)d),
                         &y2, &m2, &d2);
    return y2 == y && m2 == (uint32_t)mo && d2 == (uint32_t)d;
}

bool hl_timestamp_seconds(const char *s, size_t len, int64_t *out)
{
    if (!hl_timestamp_ok(s, len))
        return false;
    int64_t days = date_days_from_civil(
        digits(s, 4), (uint32_t)digits(s + 5, 2), (uint32_t)digits(s + 8, 2));
    *out = days * 86400 + digits(s + 11, 2) * 3600 + digits(s + 14, 2) * 60 +
           digits(s + 17, 2);
    return true;
}

int64_t hl_request_deadline(const uint8_t *body, size_t len)
{
    json_error_t e;
    int64_t t = 0;
    json_t *o = json_loadb((const char *)body, len, 0, &e);
    const json_t *d = json_object_get(o, "response_deadline");
    if (!json_is_string(d) ||
        !hl_timestamp_seconds(json_string_value(d), json_string_length(d), &t))
        t = 0;
    json_decref(o);
    return t;
}

static bool hex_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

static bool uuid_ok(const char *s, size_t n)
{
    return n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' &&
           s[23] == '-' && hex_run(s, 8) && hex_run(s + 9, 4) &&
           hex_run(s + 14, 4) && hex_run(s + 19, 4) && hex_run(s + 24, 12);
}

/* A STIX type name: 3-250 of a-z, 0-9 and '-', no "--". */
static bool stix_type_ok(const char *s, size_t n)
{
    if (n < 3 || n > 250)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
        if (c == '-' && i > 0 && s[i - 1] == '-')
            return false;
    }
    return true;
}

/* "<type>--<uuid>"; if type is not NULL the prefix must be it. */
static bool stix_id_ok(const json_t *v, const char *type)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < 38 || memchr(s, '\0', n) != NULL)
        return false;
    size_t t = n - 38;
    if (memcmp(s + t, "--", 2) != 0 || !uuid_ok(s + t + 2, 36) ||
        !stix_type_ok(s, t))
        return false;
    return type == NULL || (strlen(type) == t && memcmp(s, type, t) == 0);
}

static bool string_ok(const json_t *v, size_t max)
{
    return json_is_string(v) && json_string_length(v) >= 1 &&
           json_string_length(v) <= max &&
           memchr(json_string_value(v), '\0', json_string_length(v)) == NULL;
}

static bool time_member_ok(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) &&
           hl_timestamp_ok(json_string_value(v), json_string_length(v));
}

/* ---- STIX ---------------------------------------------------------------- */

/* Cyber-observable types: spec_version optional, no created/modified. */
static bool is_observable(const char *t)
{
    static const char *const sco[] = {"artifact",
                                      "autonomous-system",
                                      "directory",
                                      "domain-name",
                                      "email-addr",
                                      "email-message",
                                      "file",
                                      "ipv4-addr",
                                      "ipv6-addr",
                                      "mac-addr",
                                      "mutex",
                                      "network-traffic",
                                      "process",
                                      "software",
                                      "url",
                                      "user-account",
                                      "windows-registry-key",
                                      "x509-certificate"};
    for (size_t i = 0; i < sizeof sco / sizeof sco[0]; i++)
        if (strcmp(t, sco[i]) == 0)
            return true;
    return false;
}

static sr_status stix_refuse(char err[HL_ERR_MAX], size_t i, const char *why)
{
    (void)snprintf(err, HL_ERR_MAX, "indicators: object %zu: %s", i, why);
    return SR_ERR_INVALID;
}

static sr_status check_object(const json_t *o, size_t i, char err[HL_ERR_MAX])
{
    if (!json_is_object(o))
        return stix_refuse(err, i, "not an object");
    const json_t *t = json_object_get(o, "type");
    if (!json_is_string(t) ||
        !stix_type_ok(json_string_value(t), json_string_length(t)) ||
        strcmp(json_string_value(t), "bundle") == 0)
        return stix_refuse(err, i, "type: not a STIX object type");
    const char *type = json_string_value(t);
    if (!stix_id_ok(json_object_get(o, "id"), type))
        return stix_refuse(err, i, "id: not <type>--<uuid>");
    const json_t *sv = json_object_get(o, "spec_version");
    bool sco = is_observable(type);
    if ((sv != NULL || !sco) &&
        (!json_is_string(sv) || strcmp(json_string_value(sv), "2.1") != 0))
        return stix_refuse(err, i, "spec_version: not 2.1");
    if (!sco && !time_member_ok(o, "created"))
        return stix_refuse(err, i, "created: not a timestamp");
    if (!sco && strcmp(type, "marking-definition") != 0 &&
        !time_member_ok(o, "modified"))
        return stix_refuse(err, i, "modified: not a timestamp");
    if (strcmp(type, "indicator") == 0 &&
        (!string_ok(json_object_get(o, "pattern"), HL_BODY_MAX) ||
         !string_ok(json_object_get(o, "pattern_type"), 250) ||
         !time_member_ok(o, "valid_from")))
        return stix_refuse(err, i,
                           "an indicator needs pattern, "
                           "pattern_type and valid_from");
    if (strcmp(type, "relationship") == 0 &&
        (!string_ok(json_object_get(o, "relationship_type"), 250) ||
         !stix_id_ok(json_object_get(o, "source_ref"), NULL) ||
         !stix_id_ok(json_object_get(o, "target_ref"), NULL)))
        return stix_refuse(err, i,
                           "a relationship needs relationship_type, "
                           "source_ref and target_ref");
    return SR_OK;
}

sr_status hl_stix_check(const json_t *bundle, size_t *objects,
                        char err[HL_ERR_MAX])
{
    *objects = 0;
    if (!json_is_object(bundle) ||
        !json_is_string(json_object_get(bundle, "type")) ||
        strcmp(json_string_value(json_object_get(bundle, "type")), "bundle") !=
            0) {
        (void)snprintf(err, HL_ERR_MAX, "indicators: not a STIX bundle");
        return SR_ERR_INVALID;
    }
    if (!stix_id_ok(json_object_get(bundle, "id"), "bundle")) {
        (void)snprintf(err, HL_ERR_MAX, "indicators: id: not bundle--<uuid>");
        return SR_ERR_INVALID;
    }
    const json_t *objs = json_object_get(bundle, "objects");
    if (objs == NULL)
        return SR_OK;
    if (!json_is_array(objs) || json_array_size(objs) > HL_STIX_OBJECTS_MAX) {
        (void)snprintf(err, HL_ERR_MAX,
                       "indicators: objects: not an array of at most %u",
                       HL_STIX_OBJECTS_MAX);
        return SR_ERR_INVALID;
    }
    for (size_t i = 0; i < json_array_size(objs); i++) {
        sr_status st = check_object(json_array_get(objs, i), i, err);
        if (st != SR_OK)
            return st;
    }
    *objects = json_array_size(objs);
    return SR_OK;
}

/* ---- bodies -------------------------------------------------------------- */

typedef enum member_kind {
    M_TEXT,
    M_TIME,
    M_BUNDLE,
    M_ENUM,
    M_REF,
    M_SHA256,
    M_ATTACHMENTS,
    M_PERSONAL
} member_kind;

typedef struct member {
    const char *name;
    member_kind kind;
    size_t max; /* M_TEXT: bytes of UTF-8 */
    bool required;
    const char *const *values; /* M_ENUM */
} member;

static const char *const urgencies[] = {"routine", "priority", "immediate",
                                        NULL};

static const member request_members[] = {
    {"requesting_party", M_TEXT, 200, true, NULL},
    {"partner_case_id", M_TEXT, 64, true, NULL},
    {"summary", M_TEXT, 4000, true, NULL},
    {"indicators", M_BUNDLE, 0, true, NULL},
    {"legal_basis", M_TEXT, 1000, true, NULL},
    {"urgency", M_ENUM, 0, true, urgencies},
    {"requested_action", M_TEXT, 2000, true, NULL},
    {"response_deadline", M_TIME, 0, true, NULL},
    {"incident_ref", M_REF, 0, false, NULL},
    {"attachments", M_ATTACHMENTS, 0, false, NULL},
    {"personal_data", M_PERSONAL, 0, false, NULL},
    {NULL, M_TEXT, 0, false, NULL}};
static const member ack_members[] = {{"note", M_TEXT, 1000, false, NULL},
                                     {NULL, M_TEXT, 0, false, NULL}};
static const member response_members[] = {
    {"answer", M_TEXT, 20000, true, NULL},
    {"indicators", M_BUNDLE, 0, false, NULL},
    {"attachments", M_ATTACHMENTS, 0, false, NULL},
    {NULL, M_TEXT, 0, false, NULL}};
static const member close_members[] = {{"reason", M_TEXT, 1000, true, NULL},
                                       {NULL, M_TEXT, 0, false, NULL}};
static const member receipt_members[] = {{"message", M_SHA256, 0, true, NULL},
                                         {"received", M_TIME, 0, true, NULL},
                                         {NULL, M_TEXT, 0, false, NULL}};

static const member *const members_of[HL_KIND_COUNT] = {
    request_members, ack_members, response_members, close_members,
    receipt_members};

/* An attachment's file name: printable, no path, not "." or "..". */
static bool file_name_ok(const json_t *v)
{
    if (!string_ok(v, 255))
        return false;
    const char *s = json_string_value(v);
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
            return false;
    return true;
}

sr_status hl_attachment_decode(const json_t *a, uint8_t **data, size_t *len,
                               char err[HL_ERR_MAX])
{
    static const char *const keys[] = {"name", "media_type", "size", "sha256",
                                       "data"};
    uint8_t sum[32];
    char hex[65];
    *data = NULL;
    *len = 0;
    if (!json_is_object(a) || json_object_size(a) != 5) {
        (void)snprintf(err, HL_ERR_MAX,
                       "attachments: not an object of name, "
                       "media_type, size, sha256, data");
        return SR_ERR_INVALID;
    }
    for (size_t i = 0; i < 5; i++)
        if (json_object_get(a, keys[i]) == NULL) {
            (void)snprintf(err, HL_ERR_MAX, "attachments: %s: missing",
                           keys[i]);
            return SR_ERR_INVALID;
        }
    const json_t *size = json_object_get(a, "size");
    const json_t *b64 = json_object_get(a, "data");
    const json_t *sha = json_object_get(a, "sha256");
    if (!file_name_ok(json_object_get(a, "name")) ||
        !string_ok(json_object_get(a, "media_type"), 127) ||
        !json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > (json_int_t)HL_ATTACHMENT_MAX ||
        !json_is_string(sha) || json_string_length(sha) != 64 ||
        !hex_run(json_string_value(sha), 64) || !json_is_string(b64)) {
        (void)snprintf(err, HL_ERR_MAX,
                       "attachments: a bad name, media_type, size (at most "
                       "%u bytes) or sha256",
                       HL_ATTACHMENT_MAX);
        return SR_ERR_INVALID;
    }
    size_t want = (size_t)json_integer_value(size);
    uint8_t *p = malloc(want > 0 ? want : 1);
    if (p == NULL)
        return SR_ERR_NOMEM;
    size_t got = 0;
    if ((json_string_length(b64) > 0 || want > 0) &&
        (!b64_decode((const uint8_t *)json_string_value(b64),
                     json_string_length(b64), p, want, &got) ||
         got != want)) {
        free(p);
        (void)snprintf(err, HL_ERR_MAX,
                       "attachments: data is not base64 of size bytes");
        return SR_ERR_INVALID;
    }
    crypto_hash_sha256(sum, p, want);
    hex_encode(hex, sum, 32);
    /* Either case of hex digits names the same hash. */
    bool same = true;
    for (size_t i = 0; i < 64; i++) {
        char c = json_string_value(sha)[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        same = same && c == hex[i];
    }
    if (!same) {
        free(p);
        (void)snprintf(err, HL_ERR_MAX,
                       "attachments: the data does not hash to its sha256");
        return SR_ERR_CORRUPT;
    }
    *data = p;
    *len = want;
    return SR_OK;
}

static bool attachments_ok(const json_t *v, char err[HL_ERR_MAX])
{
    if (!json_is_array(v) || json_array_size(v) > HL_ATTACHMENTS_MAX) {
        (void)snprintf(err, HL_ERR_MAX,
                       "attachments: not an array of at most %u",
                       HL_ATTACHMENTS_MAX);
        return false;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (hl_attachment_decode(json_array_get(v, i), &data, &len, err) !=
            SR_OK)
            return false;
        free(data);
    }
    return true;
}

/* {"approval": the sender's vault approval id (16 hex digits), "fields":
 * the list of fields in canonical form, "people": 1..HL_PEOPLE_MAX
 * objects holding those fields and nothing else}. */
static bool personal_ok(const json_t *v, char err[HL_ERR_MAX])
{
    record_fields f;
    char why[RECORD_FIELDS_REASON];
    const json_t *approval = json_object_get(v, "approval");
    const json_t *fields = json_object_get(v, "fields");
    const json_t *people = json_object_get(v, "people");
    if (!json_is_object(v) || json_object_size(v) != 3 ||
        !json_is_string(approval) || json_string_length(approval) != 16 ||
        !hex_run(json_string_value(approval), 16) || !json_is_string(fields) ||
        !json_is_array(people) || json_array_size(people) == 0 ||
        json_array_size(people) > HL_PEOPLE_MAX) {
        (void)snprintf(err, HL_ERR_MAX,
                       "personal_data: not an object of approval (16 hex "
                       "digits), fields and people (1 to %u)",
                       HL_PEOPLE_MAX);
        return false;
    }
    if (!record_fields_parse(json_string_value(fields),
                             json_string_length(fields), &f, why)) {
        (void)snprintf(err, HL_ERR_MAX, "personal_data: fields: %s", why);
        return false;
    }
    if (strcmp(f.canon, json_string_value(fields)) != 0) {
        (void)snprintf(err, HL_ERR_MAX,
                       "personal_data: fields: not in canonical form "
                       "(schema order, each once)");
        return false;
    }
    for (size_t i = 0; i < json_array_size(people); i++)
        if (!record_fields_only(&f, json_array_get(people, i))) {
            (void)snprintf(err, HL_ERR_MAX,
                           "personal_data: people/%zu: holds more than the "
                           "fields named",
                           i);
            return false;
        }
    return true;
}

static bool member_value_ok(const member *m, const json_t *v,
                            char err[HL_ERR_MAX])
{
    size_t n = 0;
    switch (m->kind) {
    case M_TEXT:
        return string_ok(v, m->max);
    case M_TIME:
        return json_is_string(v) &&
               hl_timestamp_ok(json_string_value(v), json_string_length(v));
    case M_BUNDLE:
        if (hl_stix_check(v, &n, err) != SR_OK)
            return false;
        return true;
    case M_ENUM:
        if (!json_is_string(v))
            return false;
        for (size_t i = 0; m->values[i] != NULL; i++)
            if (strcmp(json_string_value(v), m->values[i]) == 0)
                return true;
        return false;
    case M_REF:
        return json_is_string(v) &&
               hl_case_ok(json_string_value(v), json_string_length(v));
    case M_ATTACHMENTS:
        return attachments_ok(v, err);
    case M_PERSONAL:
        return personal_ok(v, err);
    case M_SHA256:
        return json_is_string(v) && json_string_length(v) == 64 &&
               hex_run(json_string_value(v), 64);
    }
    return false;
}

sr_status hl_body_check_marked(hl_kind kind, hl_tlp tlp, const uint8_t *body,
                               size_t len, char err[HL_ERR_MAX])
{
    json_error_t jerr;
    err[0] = '\0';
    if ((unsigned)kind >= HL_KIND_COUNT || body == NULL || len > HL_BODY_MAX) {
        (void)snprintf(err, HL_ERR_MAX, "body: missing or too long");
        return SR_ERR_INVALID;
    }
    json_t *o =
        json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        (void)snprintf(err, HL_ERR_MAX, "body: not a JSON object");
        return SR_ERR_INVALID;
    }
    const member *ms = members_of[kind];
    size_t known = 0;
    sr_status st = SR_OK;
    for (size_t i = 0; ms[i].name != NULL && st == SR_OK; i++) {
        const json_t *v = json_object_get(o, ms[i].name);
        if (v == NULL) {
            if (ms[i].required) {
                (void)snprintf(err, HL_ERR_MAX, "body: %s: missing",
                               ms[i].name);
                st = SR_ERR_INVALID;
            }
            continue;
        }
        known++;
        if (!member_value_ok(&ms[i], v, err)) {
            if (ms[i].kind != M_BUNDLE && ms[i].kind != M_ATTACHMENTS &&
                ms[i].kind != M_PERSONAL)
                (void)snprintf(err, HL_ERR_MAX, "body: %s: not valid",
                               ms[i].name);
            st = SR_ERR_INVALID;
        }
    }
    if (st == SR_OK && known != json_object_size(o)) {
        (void)snprintf(err, HL_ERR_MAX, "body: an unknown member for a %s",
                       hl_kind_name(kind));
        st = SR_ERR_INVALID;
    }
    /* Personal data stays within the recipient's organisation. */
    if (st == SR_OK && tlp < HL_TLP_AMBER_STRICT &&
        json_object_get(o, "personal_data") != NULL) {
        (void)snprintf(err, HL_ERR_MAX,
                       "a referral that carries personal data is marked "
                       "TLP:AMBER+STRICT or TLP:RED");
        st = SR_ERR_INVALID;
    }
    json_decref(o);
    return st;
}

sr_status hl_body_check(hl_kind kind, const uint8_t *body, size_t len,
                        char err[HL_ERR_MAX])
{
    /* The marking is not known here: no rule on it (TLP:RED passes all). */
    return hl_body_check_marked(kind, HL_TLP_RED, body, len, err);
}

bool hl_body_personal(hl_kind kind, const uint8_t *body, size_t len)
{
    json_error_t jerr;
    if (kind != HL_REQUEST)
        return false;
    json_t *o = json_loadb((const char *)body, len, 0, &jerr);
    bool has = json_object_get(o, "personal_data") != NULL;
    json_decref(o);
    return has;
}
