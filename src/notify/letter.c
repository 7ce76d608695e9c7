/* SPDX-License-Identifier: Apache-2.0 */
/*
 * letter.c - the letter template and what fills it. A template is HTML
 * with {{field}} placeholders; every value is escaped for HTML when it is
 * put in, so a name can never become markup. The same values give the
 * mailing CSV's row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "notify_int.h"

static const char *const field_names[NF_COUNT] = {
    "name",      "given", "family",    "address", "classes", "first_read",
    "last_read", "reads", "reference", "date",    "incident"};

static sr_status bad(char msg[NOTIFY_MSG_MAX], const char *text, size_t at,
                     const char *why)
{
    size_t line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    (void)snprintf(msg, NOTIFY_MSG_MAX, "template line %zu: %s", line, why);
    return SR_ERR_INVALID;
}

static sr_status add_seg(notify_template *t, size_t *cap, size_t off,
                         size_t len, int field)
{
    if (array_room((void **)&t->seg, cap, t->nseg, sizeof *t->seg) != SR_OK)
        return SR_ERR_NOMEM;
    t->seg[t->nseg++] = (notify_segment){off, len, field};
    return SR_OK;
}

sr_status notify_template_parse(const char *text, size_t len,
                                notify_template *t, char msg[NOTIFY_MSG_MAX])
{
    size_t cap = 0, lit = 0;
    sr_status st = SR_OK;
    memset(t, 0, sizeof *t);
    if (len > NOTIFY_TEMPLATE_MAX) {
        (void)snprintf(msg, NOTIFY_MSG_MAX,
                       "the template is larger than %u bytes",
                       NOTIFY_TEMPLATE_MAX);
        return SR_ERR_INVALID;
    }
    if (memchr(text, '\0', len) != NULL)
        return bad(msg, text,
                   (size_t)((const char *)memchr(text, '\0', len) - text),
                   "a NUL byte (is this a text file?)");
    t->text = malloc(len + 1);
    if (t->text == NULL)
        return SR_ERR_NOMEM;
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    t->len = len;
    for (size_t i = 0; st == SR_OK && i < len;) {
        if (!(text[i] == '{' && i + 1 < len && text[i + 1] == '{')) {
            i++;
            continue;
        }
        size_t start = i + 2, end = start;
        while (end < len && end - start <= 16 &&
               ((text[end] >= 'a' && text[end] <= 'z') || text[end] == '_'))
            end++;
        if (end + 1 >= len || text[end] != '}' || text[end + 1] != '}') {
            st = bad(msg, text, i,
                     "\"{{\" opens a placeholder: {{name}}, {{address}}, ... "
                     "closed by \"}}\" (docs/breach.md)");
            break;
        }
        int field = -1;
        for (int f = 0; f < NF_COUNT; f++)
            if (strlen(field_names[f]) == end - start &&
                memcmp(field_names[f], text + start, end - start) == 0)
                field = f;
        if (field < 0) {
            char why[160];
            (void)snprintf(why, sizeof why,
                           "unknown placeholder {{%.*s}} (known: name, given, "
                           "family, address, classes, first_read, last_read, "
                           "reads, reference, date, incident)",
                           (int)(end - start), text + start);
            st = bad(msg, text, i, why);
            break;
        }
        if (i > lit)
            st = add_seg(t, &cap, lit, i - lit, -1);
        if (st == SR_OK)
            st = add_seg(t, &cap, 0, 0, field);
        i = lit = end + 2;
    }
    if (st == SR_OK && lit < len)
        st = add_seg(t, &cap, lit, len - lit, -1);
    if (st == SR_ERR_NOMEM)
        (void)snprintf(msg, NOTIFY_MSG_MAX, "out of memory");
    if (st != SR_OK)
        notify_template_free(t);
    return st;
}

void notify_template_free(notify_template *t)
{
    free(t->text);
    free(t->seg);
    memset(t, 0, sizeof *t);
}

static sr_status html_escaped(sr_buf *out, const char *s)
{
    sr_status st = SR_OK;
    for (; *s != '\0' && st == SR_OK; s++) {
        switch (*s) {
        case '<':
            st = buf_append_str(out, "&lt;");
            break;
        case '>':
            st = buf_append_str(out, "&gt;");
            break;
        case '&':
            st = buf_append_str(out, "&amp;");
            break;
        case '"':
            st = buf_append_str(out, "&quot;");
            break;
        case '\'':
            st = buf_append_str(out, "&#39;");
            break;
        case '\n':
            st = buf_append_str(out, "<br>\n");
            break;
        default:
            st = buf_append_byte(out, (uint8_t)*s);
        }
    }
    return st;
}

sr_status notify_template_render(const notify_template *t,
                                 const char *const v[NF_COUNT], sr_buf *out)
{
    sr_status st = SR_OK;
    for (size_t i = 0; i < t->nseg && st == SR_OK; i++) {
        const notify_segment *s = &t->seg[i];
        if (s->field < 0)
            st = buf_append(out, t->text + s->off, s->len);
        else if (v[s->field] != NULL)
            st = html_escaped(out, v[s->field]);
    }
    return st;
}

/* ---- a person's values ----------------------------------------------------
 */

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

/* The address the person lives at: one with no end date (the latest
 * begun), else the one that ended last. NULL if none is on record. */
static const json_t *current_address(const json_t *person)
{
    const json_t *best = NULL;
    bool best_open = false;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(person, "addresses"), i, a) {
        bool open = json_object_get(a, "to") == NULL;
        if (best == NULL || (open && !best_open) ||
            (open == best_open &&
             strcmp(jstr(a, open ? "from" : "to"),
                    jstr(best, open ? "from" : "to")) > 0)) {
            best = a;
            best_open = open;
        }
    }
    return best;
}

bool notify_current_address(const json_t *person, const char *parts[5])
{
    static const char *const keys[5] = {"street", "city", "state",
                                        "postal_code", "country"};
    const json_t *a = current_address(person);
    for (size_t i = 0; i < 5; i++)
        parts[i] = a != NULL ? jstr(a, keys[i]) : "";
    return a != NULL;
}

static bool append_part(sr_buf *b, size_t line_start, const char *sep,
                        const char *part)
{
    if (part[0] == '\0')
        return true;
    if (b->len > line_start && buf_append_str(b, sep) != SR_OK)
        return false;
    return buf_append_str(b, part) == SR_OK;
}

bool notify_person_values(const json_t *person, notify_values *out,
                          sr_buf *scratch)
{
    const json_t *name = json_object_get(person, "name");
    const char *n4[4] = {jstr(name, "given"), jstr(name, "middle"),
                         jstr(name, "family"), jstr(name, "suffix")};
    const char *a[5]; /* street, city, state, postal code, country */
    /* Offsets, not pointers, while the scratch buffer may still move. */
    size_t name_at = scratch->len, line;
    for (size_t i = 0; i < 4; i++)
        if (!append_part(scratch, name_at, " ", n4[i]))
            return false;
    if (buf_append_byte(scratch, 0) != SR_OK)
        return false;
    size_t addr_at = scratch->len;
    bool have = notify_current_address(person, a);
    /* street / city, state postal code / country */
    if (have && (!append_part(scratch, addr_at, "", a[0]) ||
                 buf_append_byte(scratch, '\n') != SR_OK ||
                 !append_part(scratch, line = scratch->len, "", a[1]) ||
                 !append_part(scratch, line, ", ", a[2]) ||
                 !append_part(scratch, line, " ", a[3]) ||
                 buf_append_byte(scratch, '\n') != SR_OK ||
                 !append_part(scratch, scratch->len, "", a[4])))
        return false;
    if (buf_append_byte(scratch, 0) != SR_OK)
        return false;
    out->v[NF_NAME] = (const char *)scratch->p + name_at;
    out->v[NF_ADDRESS] = have ? (const char *)scratch->p + addr_at : NULL;
    out->v[NF_GIVEN] = n4[0];
    out->v[NF_FAMILY] = n4[2];
    return true;
}

/* ---- the mailing CSV -------------------------------------------------------
 */

sr_status notify_csv_field(sr_buf *out, const char *s, bool last)
{
    sr_status st = buf_append_byte(out, '"');
    if (st == SR_OK && (s[0] == '=' || s[0] == '+' || s[0] == '-' ||
                        s[0] == '@' || s[0] == '\t' || s[0] == '\r'))
        st = buf_append_byte(out, '\'');
    for (; *s != '\0' && st == SR_OK; s++)
        st = *s == '"' ? buf_append_str(out, "\"\"")
                       : buf_append_byte(out, (uint8_t)*s);
    if (st == SR_OK)
        st = buf_append_byte(out, '"');
    if (st == SR_OK)
        st = last ? buf_append_str(out, "\r\n") : buf_append_byte(out, ',');
    return st;
}
