/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csv.c - the CSV subset for HR feeds (docs/csv.md): one person per line,
 * identity, name, birth, the current address and the current employment,
 * turned into a person in the exchange form.
 *
 * The lines come from outside systems, so every byte is read through an
 * sr_reader with hard caps on line and cell length. Cells hold SSNs and
 * names: error messages name only columns and 1-based cell positions, and
 * the scratch buffer that unquotes a cell is wiped before return. Values
 * are not checked here beyond UTF-8 - the caller runs record_validate,
 * whose messages point at the exchange-form member instead.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "record.h"

/* Caps on untrusted input. The schema's longest text is 256 bytes, so a
 * cell of 4 KiB is already far beyond any valid one; the line cap leaves
 * room for every column at that size only in theory, and stops a feed
 * without newlines from being read as one endless row. */
#define CSV_MAX_CELL 4096u
#define CSV_MAX_LINE 65536u
#define CSV_MAX_HEADER 4096u

/* Column ids: the position of each column in the canonical header. */
enum csv_col {
    COL_SSN,
    COL_GIVEN,
    COL_MIDDLE,
    COL_FAMILY,
    COL_SUFFIX,
    COL_BIRTH_DATE,
    COL_BIRTH_CITY,
    COL_BIRTH_STATE,
    COL_BIRTH_COUNTRY,
    COL_SEX,
    COL_CITIZENSHIP,
    COL_STREET,
    COL_CITY,
    COL_STATE,
    COL_POSTAL_CODE,
    COL_COUNTRY,
    COL_ADDRESS_FROM,
    COL_AGENCY,
    COL_POSITION,
    COL_KIND,
    COL_EMPLOYER,
    COL_EMPLOYMENT_START,
    COL_COUNT
};

static const struct {
    const char *name;
    bool required; /* the header must have it; the cell may still be empty */
} csv_cols[COL_COUNT] = {
    [COL_SSN] = {"ssn", true},
    [COL_GIVEN] = {"given", true},
    [COL_MIDDLE] = {"middle", false},
    [COL_FAMILY] = {"family", true},
    [COL_SUFFIX] = {"suffix", false},
    [COL_BIRTH_DATE] = {"birth_date", true},
    [COL_BIRTH_CITY] = {"birth_city", false},
    [COL_BIRTH_STATE] = {"birth_state", false},
    [COL_BIRTH_COUNTRY] = {"birth_country", false},
    [COL_SEX] = {"sex", false},
    [COL_CITIZENSHIP] = {"citizenship", false},
    [COL_STREET] = {"street", false},
    [COL_CITY] = {"city", false},
    [COL_STATE] = {"state", false},
    [COL_POSTAL_CODE] = {"postal_code", false},
    [COL_COUNTRY] = {"country", false},
    [COL_ADDRESS_FROM] = {"address_from", false},
    [COL_AGENCY] = {"agency", false},
    [COL_POSITION] = {"position", false},
    [COL_KIND] = {"kind", false},
    [COL_EMPLOYER] = {"employer", false},
    [COL_EMPLOYMENT_START] = {"employment_start", false},
};

_Static_assert(COL_COUNT <= RECORD_CSV_MAX_COLS, "layout too small");
_Static_assert(COL_COUNT <= 32, "column set is a 32-bit mask");

const char *record_csv_header(void)
{
    return "ssn,given,middle,family,suffix,birth_date,birth_city,"
           "birth_state,birth_country,sex,citizenship,street,city,state,"
           "postal_code,country,address_from,agency,position,kind,employer,"
           "employment_start";
}

/* ---- errors ------------------------------------------------------------- */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static sr_status
csv_fail(record_error *err, const char *column, const char *fmt, ...)
{
    if (err == NULL)
        return SR_ERR_INVALID;
    if (column != NULL)
        (void)snprintf(err->path, sizeof err->path, "/csv/%s", column);
    else
        (void)snprintf(err->path, sizeof err->path, "/csv");
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    return SR_ERR_INVALID;
}

/* ---- cells --------------------------------------------------------------- */

/* Drop one trailing "\n", then one trailing "\r": callers may hand over a
 * line with or without its terminator, and CRLF files are the norm. */
static size_t strip_eol(const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    return len;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t need;
        uint32_t c, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            need = 1, c = b & 0x1Fu, min = 0x80;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2, c = b & 0x0Fu, min = 0x800;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3, c = b & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (need > n - i - 1)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0u) != 0x80u)
                return false;
            c = (c << 6) | (s[i + k] & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

/* What broke in a cell; the reasons quote none of its bytes. */
typedef enum cell_err {
    CELL_OK,
    CELL_UNTERMINATED,
    CELL_AFTER_QUOTE,
    CELL_BREAK_QUOTED,
    CELL_BARE_QUOTE,
    CELL_BREAK,
    CELL_TOO_LONG
} cell_err;

static const char *const cell_why[] = {
    [CELL_OK] = "ok",
    [CELL_UNTERMINATED] = "unterminated quoted cell",
    [CELL_AFTER_QUOTE] = "text after the closing quote",
    [CELL_BREAK_QUOTED] = "line break inside a quoted cell",
    [CELL_BARE_QUOTE] = "quote inside an unquoted cell",
    [CELL_BREAK] = "line break inside the row",
    [CELL_TOO_LONG] = "cell too long",
};

/*
 * Read one cell (RFC 4180 section 2) from r into cell[0..*n). *last is set
 * when the cell ended the line. A cell is either bare - no quote, no line
 * break - or wholly quoted, with "" for a quote inside; a quoted cell may
 * hold commas but not line breaks, since a row is one line.
 */
static cell_err csv_cell(sr_reader *r, char *cell, size_t cap, size_t *n,
                         bool *last)
{
    uint8_t c;
    *n = 0;
    *last = false;
    if (!reader_u8(r, &c)) {
        *last = true; /* an empty cell at the end of the line */
        return CELL_OK;
    }
    if (c == '"') {
        for (;;) {
            if (!reader_u8(r, &c))
                return CELL_UNTERMINATED;
            if (c == '"') {
                if (!reader_u8(r, &c)) {
                    *last = true;
                    return CELL_OK;
                }
                if (c == ',')
                    return CELL_OK;
                if (c != '"')
                    return CELL_AFTER_QUOTE;
            } else if (c == '\r' || c == '\n') {
                return CELL_BREAK_QUOTED;
            }
            if (*n >= cap)
                return CELL_TOO_LONG;
            cell[(*n)++] = (char)c;
        }
    }
    for (;;) {
        if (c == ',')
            return CELL_OK;
        if (c == '"')
            return CELL_BARE_QUOTE;
        if (c == '\r' || c == '\n')
            return CELL_BREAK;
        if (*n >= cap)
            return CELL_TOO_LONG;
        cell[(*n)++] = (char)c;
        if (!reader_u8(r, &c)) {
            *last = true;
            return CELL_OK;
        }
    }
}

/* ---- header -------------------------------------------------------------- */

static int col_lookup(const char *s, size_t n)
{
    for (int i = 0; i < COL_COUNT; i++) {
        if (strlen(csv_cols[i].name) == n &&
            memcmp(csv_cols[i].name, s, n) == 0)
            return i;
    }
    return -1;
}

/* An unknown header cell is echoed in the error path only if it looks like
 * a column name. A file sent without its header has a row of data on line
 * one, and an SSN or a name must not end up in a log line. */
static bool looks_like_column(const char *s, size_t n)
{
    if (n == 0 || n > 32 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

sr_status record_csv_header_parse(const char *line, size_t len,
                                  record_csv_layout *layout, record_error *err)
{
    char cell[64];
    if (layout == NULL)
        return csv_fail(err, NULL, "no layout to fill");
    layout->ncols = 0;
    record_csv_layout got = {0, {0}};
    if (line == NULL)
        len = 0;
    size_t start = 0;
    if (len >= 3 && (uint8_t)line[0] == 0xEF && (uint8_t)line[1] == 0xBB &&
        (uint8_t)line[2] == 0xBF)
        start = 3; /* the UTF-8 byte order mark spreadsheets write */
    len = strip_eol(line, len);
    if (len <= start)
        return csv_fail(err, NULL, "empty header line");
    if (len - start > CSV_MAX_HEADER)
        return csv_fail(err, NULL, "header line longer than %u bytes",
                        CSV_MAX_HEADER);

    sr_reader r;
    reader_init(&r, line + start, len - start);
    sr_status st = SR_ERR_INVALID;
    uint32_t seen = 0;
    unsigned pos[COL_COUNT] = {0};
    bool last = false;
    for (unsigned i = 1; !last; i++) {
        size_t n;
        if (i > RECORD_CSV_MAX_COLS) {
            st = csv_fail(err, NULL, "more than %u columns",
                          RECORD_CSV_MAX_COLS);
            goto cleanup;
        }
        cell_err ce = csv_cell(&r, cell, sizeof cell, &n, &last);
        /* A cell too long for any column name is just unknown. */
        if (ce == CELL_TOO_LONG) {
            st = csv_fail(err, NULL, "unknown column at position %u", i);
            goto cleanup;
        }
        if (ce != CELL_OK) {
            st = csv_fail(err, NULL, "header column %u: %s", i, cell_why[ce]);
            goto cleanup;
        }
        int id = col_lookup(cell, n);
        if (id < 0) {
            char name[33] = "";
            if (looks_like_column(cell, n)) {
                memcpy(name, cell, n);
                name[n] = '\0';
            }
            st = csv_fail(err, name[0] ? name : NULL,
                          "unknown column at position %u", i);
            goto cleanup;
        }
        uint32_t bit = 1u << (unsigned)id;
        if (seen & bit) {
            st = csv_fail(err, csv_cols[id].name,
                          "column repeated at positions %u and %u", pos[id], i);
            goto cleanup;
        }
        seen |= bit;
        pos[id] = i;
        got.col[i - 1] = id;
        got.ncols = i;
    }
    for (int id = 0; id < COL_COUNT; id++) {
        if (csv_cols[id].required && !(seen & (1u << (unsigned)id))) {
            st = csv_fail(err, csv_cols[id].name,
                          "required column missing from the header");
            goto cleanup;
        }
    }
    /* Only a complete header yields a layout: a half-filled one must not
     * be usable for rows. */
    *layout = got;
    st = SR_OK;

cleanup:
    /* A file without its header puts a person on line one. */
    sodium_memzero(cell, sizeof cell);
    return st;
}

/* ---- rows ---------------------------------------------------------------- */

/* citizenship: ISO codes separated by ';', each item taken verbatim. */
static sr_status split_list(const char *s, size_t n, unsigned cellno,
                            json_t **out, record_error *err)
{
    json_t *a = json_array();
    if (a == NULL)
        return SR_ERR_NOMEM;
    size_t begin = 0;
    unsigned item = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ';')
            continue;
        item++;
        if (i == begin) {
            json_decref(a);
            return csv_fail(err, csv_cols[COL_CITIZENSHIP].name,
                            "cell %u: item %u of the ';' list is empty", cellno,
                            item);
        }
        if (json_array_append_new(a, json_stringn(s + begin, i - begin))) {
            json_decref(a);
            return SR_ERR_NOMEM;
        }
        begin = i + 1;
    }
    *out = a;
    return SR_OK;
}

/* Check that a layout came from record_csv_header_parse: the column ids
 * index the value table of record_csv_row. */
static bool layout_ok(const record_csv_layout *layout)
{
    if (layout->ncols == 0 || layout->ncols > RECORD_CSV_MAX_COLS)
        return false;
    uint32_t seen = 0;
    for (unsigned i = 0; i < layout->ncols; i++) {
        int id = layout->col[i];
        if (id < 0 || id >= COL_COUNT || (seen & (1u << (unsigned)id)))
            return false;
        seen |= 1u << (unsigned)id;
    }
    return true;
}

/* Set key to v when v is present; steals v (jansson releases it even when
 * setting fails). */
static bool put(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL)
        return true;
    return json_object_set_new(obj, key, v) == 0;
}

/* A group of columns that forms one nested object of the exchange form. */
typedef struct csv_group {
    const char *key;    /* member of the person */
    bool array;         /* a one-element array of the object */
    const char *status; /* an implied "status" member, or NULL */
    size_t n;
    int ids[6];
    const char *keys[6];
} csv_group;

static const csv_group csv_groups[] = {
    {"name",
     false,
     NULL,
     4,
     {COL_GIVEN, COL_MIDDLE, COL_FAMILY, COL_SUFFIX},
     {"given", "middle", "family", "suffix"}},
    {"birth",
     false,
     NULL,
     4,
     {COL_BIRTH_DATE, COL_BIRTH_CITY, COL_BIRTH_STATE, COL_BIRTH_COUNTRY},
     {"date", "city", "state", "country"}},
    {"addresses",
     true,
     NULL,
     6,
     {COL_STREET, COL_CITY, COL_STATE, COL_POSTAL_CODE, COL_COUNTRY,
      COL_ADDRESS_FROM},
     {"street", "city", "state", "postal_code", "country", "from"}},
    /* The subset carries only the current job, so its status is implied. */
    {"employment",
     true,
     "current",
     5,
     {COL_AGENCY, COL_POSITION, COL_KIND, COL_EMPLOYER, COL_EMPLOYMENT_START},
     {"agency", "position", "kind", "employer", "start"}},
};

/* Give away the reference in val[id], leaving NULL behind. */
static json_t *take(json_t **val, int id)
{
    json_t *v = val[id];
    val[id] = NULL;
    return v;
}

/* Move the group's cell values into a new object on p, if any is present.
 * The values are moved, so val[] keeps only what still needs releasing. */
static bool add_group(json_t *p, const csv_group *g, json_t **val)
{
    bool present = false;
    for (size_t i = 0; i < g->n; i++)
        present = present || val[g->ids[i]] != NULL;
    if (!present)
        return true;
    json_t *o = json_object();
    if (o == NULL)
        return false;
    for (size_t i = 0; i < g->n; i++) {
        if (!put(o, g->keys[i], take(val, g->ids[i])))
            goto fail;
    }
    if (g->status != NULL) {
        json_t *st = json_string(g->status);
        if (st == NULL || !put(o, "status", st))
            goto fail;
    }
    if (g->array) {
        json_t *a = json_array();
        if (a == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a); /* o went with a failed append, or is ours */
            if (a == NULL)
                json_decref(o);
            return false;
        }
        o = a;
    }
    return put(p, g->key, o);
fail:
    json_decref(o);
    return false;
}

/* Values not yet moved into the person when a step fails stay in val[]
 * and are released by the caller with the rest. */
static json_t *build_person(json_t **val)
{
    json_t *p = json_object();
    if (p == NULL)
        return NULL;
    /* Member order follows the schema, for readable output. */
    bool ok = put(p, "ssn", take(val, COL_SSN)) &&
              add_group(p, &csv_groups[0], val) &&
              add_group(p, &csv_groups[1], val) &&
              put(p, "sex", take(val, COL_SEX)) &&
              put(p, "citizenship", take(val, COL_CITIZENSHIP)) &&
              add_group(p, &csv_groups[2], val) &&
              add_group(p, &csv_groups[3], val);
    if (!ok) {
        json_decref(p);
        return NULL;
    }
    return p;
}

sr_status record_csv_row(const record_csv_layout *layout, const char *line,
                         size_t len, json_t **out, record_error *err)
{
    char cell[CSV_MAX_CELL];
    json_t *val[COL_COUNT] = {NULL};
    sr_status st = SR_ERR_INVALID;

    if (out == NULL || layout == NULL || !layout_ok(layout))
        return csv_fail(err, NULL, "layout not from the header parser");
    *out = NULL;
    if (line == NULL)
        len = 0;
    len = strip_eol(line, len);
    if (len == 0)
        return csv_fail(err, NULL, "empty row");
    if (len > CSV_MAX_LINE)
        return csv_fail(err, NULL, "row longer than %u bytes", CSV_MAX_LINE);

    sr_reader r;
    reader_init(&r, line, len);
    unsigned ncells = 0;
    bool last = false;
    while (!last) {
        size_t n;
        ncells++;
        cell_err ce = csv_cell(&r, cell, sizeof cell, &n, &last);
        if (ce != CELL_OK) {
            if (ncells > layout->ncols) {
                st = csv_fail(err, NULL,
                              "row has more than %u cells; the header has "
                              "%u columns",
                              layout->ncols, layout->ncols);
            } else {
                int id = layout->col[ncells - 1];
                if (ce == CELL_TOO_LONG)
                    st = csv_fail(err, csv_cols[id].name,
                                  "cell %u longer than %u bytes", ncells,
                                  CSV_MAX_CELL);
                else
                    st = csv_fail(err, csv_cols[id].name, "cell %u: %s", ncells,
                                  cell_why[ce]);
            }
            goto cleanup;
        }
        if (ncells > layout->ncols || n == 0)
            continue; /* extra cells are only counted */
        int id = layout->col[ncells - 1];
        const char *col = csv_cols[id].name;
        if (memchr(cell, '\0', n) != NULL) {
            st = csv_fail(err, col, "cell %u contains a NUL byte", ncells);
            goto cleanup;
        }
        if (!utf8_valid((const uint8_t *)cell, n)) {
            st = csv_fail(err, col, "cell %u is not valid UTF-8", ncells);
            goto cleanup;
        }
        if (id == COL_CITIZENSHIP) {
            st = split_list(cell, n, ncells, &val[id], err);
            if (st != SR_OK)
                goto cleanup;
        } else if ((val[id] = json_stringn(cell, n)) == NULL) {
            st = SR_ERR_NOMEM;
            goto cleanup;
        }
    }
    if (ncells != layout->ncols) {
        st = csv_fail(err, NULL, "row has %u cells; the header has %u columns",
                      ncells, layout->ncols);
        goto cleanup;
    }

    *out = build_person(val);
    st = *out != NULL ? SR_OK : SR_ERR_NOMEM;

cleanup:
    for (int i = 0; i < COL_COUNT; i++)
        json_decref(val[i]);
    sodium_memzero(cell, sizeof cell);
    return st;
}
