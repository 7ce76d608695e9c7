/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.c - reading a breach report (sr_vault_breach_report's JSON
 * lines) back for notification: the summary first, then a line per
 * person, decoy and denial. Only what a letter needs is kept of each
 * person: 40 bytes, so a report of tens of millions of people fits.
 * A report is outside input (a file anyone could have edited): every line
 * is checked, and the approval, bound by the vault to the exact people,
 * is what makes an edited report useless.
 */
#define _GNU_SOURCE /* timegm */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "notify_int.h"

void notify_report_init(notify_report *r)
{
    memset(r, 0, sizeof *r);
}

void notify_report_free(notify_report *r)
{
    free(r->p);
    memset(r, 0, sizeof *r);
}

static sr_status bad(notify_report *r, char msg[NOTIFY_MSG_MAX],
                     const char *why)
{
    (void)snprintf(msg, NOTIFY_MSG_MAX, "report line %llu: %s",
                   (unsigned long long)r->lines, why);
    return SR_ERR_INVALID;
}

/* "YYYY-MM-DDTHH:MM:SSZ" into Unix seconds. */
static bool time_parse(const char *s, int64_t *out)
{
    struct tm tm;
    int32_t days;
    memset(&tm, 0, sizeof tm);
    if (s == NULL || strlen(s) != 20 || s[10] != 'T' || s[19] != 'Z' ||
        !date_parse(s, 10, &days))
        return false;
    for (int i = 11; i < 19; i++)
        if ((i == 13 || i == 16) ? s[i] != ':' : (s[i] < '0' || s[i] > '9'))
            return false;
    int h = (s[11] - '0') * 10 + (s[12] - '0');
    int m = (s[14] - '0') * 10 + (s[15] - '0');
    int sec = (s[17] - '0') * 10 + (s[18] - '0');
    if (h > 23 || m > 59 || sec > 60)
        return false;
    *out = (int64_t)days * 86400 + h * 3600 + m * 60 + sec;
    return true;
}

static bool classes_parse(const json_t *a, uint8_t *mask)
{
    size_t i;
    json_t *c;
    *mask = 0;
    if (!json_is_array(a) || json_array_size(a) > SR_CLASS_COUNT)
        return false;
    json_array_foreach(a, i, c) {
        sr_class k;
        const char *name = json_string_value(c);
        if (name == NULL || sr_class_parse(name, &k) != SR_OK ||
            (*mask & SR_CLASS_BIT(k)))
            return false;
        *mask = (uint8_t)(*mask | SR_CLASS_BIT(k));
    }
    return true;
}

static sr_status person_line(notify_report *r, const json_t *o,
                             char msg[NOTIFY_MSG_MAX])
{
    notify_person p;
    memset(&p, 0, sizeof p);
    const json_t *id = json_object_get(o, "id");
    const char *ref = json_string_value(json_object_get(o, "ref"));
    json_int_t reads = json_integer_value(json_object_get(o, "reads"));
    if (!classes_parse(json_object_get(o, "classes"), &p.classes))
        return bad(r, msg, "\"classes\" is not a list of field classes");
    if (!json_is_integer(json_object_get(o, "reads")) || reads < 1 ||
        reads > UINT32_MAX)
        return bad(r, msg, "\"reads\" is not a count");
    p.reads = (uint32_t)reads;
    if (!time_parse(json_string_value(json_object_get(o, "first")), &p.first) ||
        !time_parse(json_string_value(json_object_get(o, "last")), &p.last) ||
        p.last < p.first)
        return bad(r, msg, "\"first\" and \"last\" are not times in order");
    if (id == NULL) {
        if (ref == NULL || strlen(ref) != 32 || !hex_decode(p.id, 16, ref, 32))
            return bad(r, msg, "a person has neither an id nor a reference");
        r->unresolved++; /* shredded before the report: no one to write to */
        return SR_OK;
    }
    const char *hex = json_string_value(id);
    if (hex == NULL || strlen(hex) != SR_ID_STR_LEN ||
        !hex_decode(p.id, SR_ID_BYTES, hex, SR_ID_STR_LEN))
        return bad(r, msg, "\"id\" is not a person id");
    if (r->n >= SR_NOTIFY_PEOPLE_MAX)
        return bad(r, msg, "too many people for one notification");
    if (array_room((void **)&r->p, &r->cap, r->n, sizeof *r->p) != SR_OK) {
        (void)snprintf(msg, NOTIFY_MSG_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    r->p[r->n++] = p;
    return SR_OK;
}

sr_status notify_report_line(notify_report *r, const char *line, size_t len,
                             char msg[NOTIFY_MSG_MAX])
{
    json_error_t jerr;
    r->lines++;
    if (len > NOTIFY_REPORT_LINE_MAX)
        return bad(r, msg, "the line is too long");
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        return bad(r, msg,
                   "not a JSON object (is this a breach report in "
                   "its json format?)");
    }
    const char *kind = json_string_value(json_object_get(o, "kind"));
    sr_status st = SR_OK;
    if (kind == NULL)
        st = bad(r, msg, "no \"kind\"");
    else if (r->lines == 1 && strcmp(kind, "summary") != 0)
        st = bad(r, msg, "a report starts with its summary");
    else if (strcmp(kind, "summary") == 0)
        st = r->lines == 1 ? SR_OK : bad(r, msg, "a second summary");
    else if (strcmp(kind, "person") == 0)
        st = person_line(r, o, msg);
    else if (strcmp(kind, "decoy") == 0)
        r->decoys++;
    else if (strcmp(kind, "denial") != 0)
        st = bad(r, msg, "an unknown kind of line");
    if (st == SR_OK && r->lines == 1)
        r->summary = true;
    json_decref(o);
    return st;
}

static int cmp_person(const void *a, const void *b)
{
    return memcmp(((const notify_person *)a)->id,
                  ((const notify_person *)b)->id, SR_ID_BYTES);
}

sr_status notify_report_end(notify_report *r, char msg[NOTIFY_MSG_MAX])
{
    if (!r->summary) {
        (void)snprintf(msg, NOTIFY_MSG_MAX,
                       "the report is empty (no summary line)");
        return SR_ERR_INVALID;
    }
    /* The report's own order is a hash table's: sort, which also finds a
     * person named twice. */
    if (r->n > 1)
        qsort(r->p, r->n, sizeof *r->p, cmp_person);
    for (size_t i = 1; i < r->n; i++)
        if (memcmp(r->p[i - 1].id, r->p[i].id, SR_ID_BYTES) == 0) {
            char hex[SR_ID_STR_LEN + 1];
            hex_encode(hex, r->p[i].id, SR_ID_BYTES);
            (void)snprintf(msg, NOTIFY_MSG_MAX,
                           "the report names person %s twice", hex);
            return SR_ERR_INVALID;
        }
    return SR_OK;
}

typedef struct read_ctx {
    notify_report *r;
    crypto_generichash_state h;
    char *msg;
} read_ctx;

static sr_status read_line(void *ctx, const char *line, size_t len,
                           bool newline, uint64_t lineno)
{
    read_ctx *c = ctx;
    (void)lineno;
    (void)crypto_generichash_update(&c->h, (const uint8_t *)line, len);
    if (newline)
        (void)crypto_generichash_update(&c->h, (const uint8_t *)"\n", 1);
    return notify_report_line(c->r, line, len, c->msg);
}

sr_status notify_report_read(const char *path, notify_report *r,
                             char digest[65], char msg[NOTIFY_MSG_MAX])
{
    uint8_t d[32];
    uint64_t lineno = 0;
    read_ctx c = {r, {{0}}, msg};
    msg[0] = '\0';
    (void)crypto_generichash_init(&c.h, NULL, 0, sizeof d);
    sr_status st =
        file_lines(path, NOTIFY_REPORT_LINE_MAX, read_line, &c, &lineno);
    (void)crypto_generichash_final(&c.h, d, sizeof d);
    hex_encode(digest, d, sizeof d);
    if (st != SR_OK && msg[0] == '\0') {
        if (st == SR_ERR_INVALID)
            (void)snprintf(msg, NOTIFY_MSG_MAX,
                           "report line %llu: the line is too long",
                           (unsigned long long)lineno);
        else
            (void)snprintf(
                msg, NOTIFY_MSG_MAX, "cannot read the report %s: %s", path,
                st == SR_ERR_NOT_FOUND ? "no such file" : strerror(errno));
    }
    return st == SR_OK ? notify_report_end(r, msg) : st;
}
