/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fields.c - a named list of a person's fields ("name,birth.date"): what a
 * referral that carries personal data may hold (docs/hotline.md). Parsed
 * against the schema table, kept as bit sets, written back in one
 * canonical form, and used both to cut a person down to those fields and
 * to check that an object holds nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "record/schema.h"

_Static_assert(sizeof(((record_fields *)0)->sub) / sizeof(uint32_t) >=
                   RECORD_MAX_MEMBERS,
               "a record_fields has a set for each member of the person");

/* The member of t named s[0..n) (trimmed of spaces), or -1. */
static int find_trimmed(const record_type *t, const char *s, size_t n)
{
    while (n > 0 && s[0] == ' ') {
        s++;
        n--;
    }
    while (n > 0 && s[n - 1] == ' ')
        n--;
    return n == 0 ? -1 : record_member_find(t, s, n);
}

/* Write f's canonical text; false if it does not fit. */
static bool canon(record_fields *f)
{
    const record_type *p = record_schema_person();
    size_t at = 0;
    f->canon[0] = '\0';
    for (uint8_t i = 0; i < p->nmembers; i++) {
        const record_member *m = &p->members[i];
        for (uint8_t j = 0; j < RECORD_MAX_MEMBERS; j++) {
            bool whole = (f->top & (1u << i)) != 0;
            if (whole ? j > 0 : (f->sub[i] & (1u << j)) == 0)
                continue;
            int n = whole ? snprintf(f->canon + at, sizeof f->canon - at,
                                     "%s%s", at > 0 ? "," : "", m->name)
                          : snprintf(f->canon + at, sizeof f->canon - at,
                                     "%s%s.%s", at > 0 ? "," : "", m->name,
                                     m->type->members[j].name);
            if (n < 0 || (size_t)n >= sizeof f->canon - at)
                return false;
            at += (size_t)n;
        }
    }
    return true;
}

bool record_fields_parse(const char *list, size_t len, record_fields *f,
                         char reason[RECORD_FIELDS_REASON])
{
    const record_type *p = record_schema_person();
    memset(f, 0, sizeof *f);
    reason[0] = '\0';
    if (list == NULL || len == 0 || len >= RECORD_FIELDS_TEXT_MAX) {
        (void)snprintf(reason, RECORD_FIELDS_REASON,
                       "a list of fields is 1 to %u bytes",
                       RECORD_FIELDS_TEXT_MAX - 1);
        return false;
    }
    for (size_t at = 0, item = 1; at <= len; item++) {
        const char *s = list + at;
        const char *comma = memchr(s, ',', len - at);
        size_t n = comma != NULL ? (size_t)(comma - s) : len - at;
        const char *dot = memchr(s, '.', n);
        size_t head = dot != NULL ? (size_t)(dot - s) : n;
        int top = find_trimmed(p, s, head);
        const record_member *m = top >= 0 ? &p->members[top] : NULL;
        if (m == NULL || m->cls < 0) {
            (void)snprintf(reason, RECORD_FIELDS_REASON,
                           "field %zu: not a field of the person (ssn, "
                           "name, birth, ...; id is not one)",
                           item);
            return false;
        }
        if (dot == NULL) {
            f->top |= 1u << top;
        } else {
            int sub = m->type->kind == RK_OBJECT
                          ? find_trimmed(m->type, dot + 1, n - head - 1)
                          : -1;
            if (sub < 0) {
                (void)snprintf(reason, RECORD_FIELDS_REASON,
                               "field %zu: %s has no such member (a dotted "
                               "field names a member of name or birth)",
                               item, m->name);
                return false;
            }
            f->sub[top] |= 1u << sub;
        }
        f->classes |= SR_CLASS_BIT(m->cls);
        at += n + 1;
    }
    /* A whole member covers any of its members also named. */
    for (uint8_t i = 0; i < p->nmembers; i++)
        if ((f->top & (1u << i)) != 0)
            f->sub[i] = 0;
    if (!canon(f)) {
        (void)snprintf(reason, RECORD_FIELDS_REASON, "too many fields");
        return false;
    }
    return true;
}

json_t *record_fields_pick(const record_fields *f, const json_t *person)
{
    const record_type *p = record_schema_person();
    json_t *out = json_object();
    bool ok = out != NULL;
    for (uint8_t i = 0; ok && i < p->nmembers; i++) {
        const record_member *m = &p->members[i];
        json_t *v = json_object_get(person, m->name);
        if (v == NULL || (f->top & (1u << i)) == 0) {
            if (v == NULL || f->sub[i] == 0 || !json_is_object(v))
                continue;
            json_t *part = json_object();
            ok = part != NULL;
            for (uint8_t j = 0; ok && j < m->type->nmembers; j++) {
                json_t *w = json_object_get(v, m->type->members[j].name);
                if ((f->sub[i] & (1u << j)) != 0 && w != NULL)
                    ok =
                        json_object_set(part, m->type->members[j].name, w) == 0;
            }
            ok = ok && json_object_set_new(out, m->name, part) == 0;
            if (!ok)
                json_decref(part);
            continue;
        }
        ok = json_object_set(out, m->name, v) == 0;
    }
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}

bool record_fields_only(const record_fields *f, const json_t *obj)
{
    const record_type *p = record_schema_person();
    const char *key;
    json_t *v;
    if (!json_is_object(obj))
        return false;
    json_t *o = (json_t *)(uintptr_t)obj; /* jansson's iterators */
    json_object_foreach(o, key, v) {
        int i = record_member_find(p, key, strlen(key));
        if (i < 0)
            return false;
        if ((f->top & (1u << i)) != 0)
            continue;
        if (f->sub[i] == 0 || !json_is_object(v))
            return false;
        const record_type *t = p->members[i].type;
        const char *k2;
        json_t *w;
        json_object_foreach(v, k2, w) {
            int j = record_member_find(t, k2, strlen(k2));
            if (j < 0 || (f->sub[i] & (1u << j)) == 0)
                return false;
        }
    }
    return true;
}
