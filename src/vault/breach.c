/* SPDX-License-Identifier: Apache-2.0 */
/*
 * breach.c - the breach report: from the audit log alone, verified first,
 * exactly which people and which field classes were revealed to a
 * principal, a token or anyone in a time window, when and to whom, and
 * which attempts were denied.
 *
 * One pass over the entries keeps, per person reference, the classes
 * revealed, the first and last read, the number of reads and up to
 * BREACH_PRINCIPALS principals (an open-addressing table: a person costs
 * 48 bytes whatever the log's size). Then one pass over the stored people
 * turns references back into ids (a shredded person stays a reference)
 * and tells decoys apart. The report is JSON lines, the summary first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "strongroom/audit.h"
#include "vault_int.h"

#define BREACH_PRINCIPALS 4u
#define BREACH_BUCKETS 96u /* of the timeline */
#define DENIALS_MAX 100000u

typedef struct person_slot {
    uint8_t ref[ENTRY_REF_BYTES];
    uint8_t used, classes, nprin, flags; /* flags: 1 resolved, 2 decoy */
    uint16_t prin[BREACH_PRINCIPALS];
    uint32_t reads;
    uint64_t first, last;
    uint8_t id[SR_ID_BYTES];
} person_slot;

typedef struct principal_row {
    char name[ENTRY_NAME_MAX + 1];
    uint64_t reads, denied;
} principal_row;

typedef struct denial {
    uint64_t index, time;
    uint16_t prin;
    char action[ENTRY_NAME_MAX + 1];
    char rule[ENTRY_NAME_MAX + 1];
    uint32_t people;
} denial;

typedef struct breach {
    sr_vault *v;
    const sr_breach_query *q;
    person_slot *table;
    size_t cap, used;
    principal_row *prin;
    size_t nprin, prin_cap;
    denial *den;
    size_t nden, den_cap, den_dropped;
    uint64_t scanned, matched, reads, first, last;
    uint64_t *times; /* reveal times, for the timeline */
    size_t ntimes, times_cap;
    uint64_t limit; /* entries verified */
} breach;

/* ---- the tables -----------------------------------------------------------
 */

static size_t slot_hash(const uint8_t ref[ENTRY_REF_BYTES], size_t cap)
{
    uint64_t h;
    memcpy(&h, ref, sizeof h);
    return (size_t)h & (cap - 1);
}

static sr_status grow(breach *b)
{
    size_t cap = b->cap ? b->cap * 2 : 4096;
    person_slot *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return SR_ERR_NOMEM;
    for (size_t i = 0; i < b->cap; i++) {
        if (!b->table[i].used)
            continue;
        size_t k = slot_hash(b->table[i].ref, cap);
        while (t[k].used)
            k = (k + 1) & (cap - 1);
        t[k] = b->table[i];
    }
    free(b->table);
    b->table = t;
    b->cap = cap;
    return SR_OK;
}

static person_slot *person_find(const breach *b,
                                const uint8_t ref[ENTRY_REF_BYTES])
{
    if (b->cap == 0)
        return NULL;
    for (size_t k = slot_hash(ref, b->cap);; k = (k + 1) & (b->cap - 1)) {
        person_slot *s = &b->table[k];
        if (!s->used)
            return NULL;
        if (memcmp(s->ref, ref, ENTRY_REF_BYTES) == 0)
            return s;
    }
}

static sr_status person_get(breach *b, const uint8_t ref[ENTRY_REF_BYTES],
                            person_slot **out)
{
    person_slot *s = person_find(b, ref);
    if (s != NULL) {
        *out = s;
        return SR_OK;
    }
    if ((b->used + 1) * 2 > b->cap && grow(b) != SR_OK)
        return SR_ERR_NOMEM;
    size_t k = slot_hash(ref, b->cap);
    while (b->table[k].used)
        k = (k + 1) & (b->cap - 1);
    s = &b->table[k];
    s->used = 1;
    memcpy(s->ref, ref, ENTRY_REF_BYTES);
    b->used++;
    *out = s;
    return SR_OK;
}

static sr_status principal_index(breach *b, const char *name, uint16_t *out)
{
    for (size_t i = 0; i < b->nprin; i++)
        if (strcmp(b->prin[i].name, name) == 0) {
            *out = (uint16_t)i;
            return SR_OK;
        }
    if (b->nprin >= UINT16_MAX)
        return SR_ERR_INVALID;
    if (array_room((void **)&b->prin, &b->prin_cap, b->nprin,
                   sizeof *b->prin) != SR_OK)
        return SR_ERR_NOMEM;
    memset(&b->prin[b->nprin], 0, sizeof b->prin[b->nprin]);
    (void)snprintf(b->prin[b->nprin].name, sizeof b->prin[b->nprin].name, "%s",
                   name);
    *out = (uint16_t)b->nprin++;
    return SR_OK;
}

static sr_status push_time(breach *b, uint64_t t)
{
    if (array_room((void **)&b->times, &b->times_cap, b->ntimes,
                   sizeof *b->times) != SR_OK)
        return SR_ERR_NOMEM;
    b->times[b->ntimes++] = t;
    return SR_OK;
}

static sr_status push_denial(breach *b, const audit_entry *e, uint64_t index,
                             uint16_t prin)
{
    if (b->nden >= DENIALS_MAX) {
        b->den_dropped++;
        return SR_OK;
    }
    if (array_room((void **)&b->den, &b->den_cap, b->nden, sizeof *b->den) !=
        SR_OK)
        return SR_ERR_NOMEM;
    denial *d = &b->den[b->nden++];
    d->index = index;
    d->time = e->time_ns;
    d->prin = prin;
    (void)snprintf(d->action, sizeof d->action, "%s", e->action);
    (void)snprintf(d->rule, sizeof d->rule, "%.64s", e->rule);
    d->people = e->nrefs;
    return SR_OK;
}

/* ---- the pass over the log ------------------------------------------------
 */

/* The classes an allowed entry revealed: a search shows a match's id and
 * name only; a get, an export or a share (named fields sent to a
 * partner) the classes granted. */
static unsigned revealed(const audit_entry *e)
{
    if (strncmp(e->action, "find.", 5) == 0)
        return e->classes & SR_CLASS_BIT(SR_CLASS_NAME);
    return e->classes;
}

static bool reads_people(const char *action)
{
    return strcmp(action, "get") == 0 || strcmp(action, "export") == 0 ||
           strcmp(action, "share") == 0 || strncmp(action, "find.", 5) == 0;
}

static bool matches(const breach *b, const audit_entry *e)
{
    const sr_breach_query *q = b->q;
    if (q->principal != NULL && strcmp(q->principal, e->principal) != 0)
        return false;
    if (q->token != NULL && strcmp(q->token, e->token) != 0)
        return false;
    if (e->time_ns < q->since_ns)
        return false;
    return q->until_ns == 0 || e->time_ns < q->until_ns;
}

static sr_status scan_entry(void *ctx, uint64_t index, const uint8_t *data,
                            size_t len)
{
    breach *b = ctx;
    audit_entry e;
    uint16_t prin;
    if (index >= b->limit)
        return SR_OK;
    b->scanned++;
    if (entry_decode(data, len, &e) != SR_OK)
        return vault_fail(b->v, SR_ERR_AUDIT,
                          "audit entry %llu does not decode",
                          (unsigned long long)index);
    if (!matches(b, &e))
        return SR_OK;
    b->matched++;
    sr_status st = principal_index(b, e.principal, &prin);
    if (st == SR_OK && e.outcome == ENTRY_DENIED) {
        b->prin[prin].denied++;
        st = push_denial(b, &e, index, prin);
    }
    if (st == SR_OK && e.outcome == ENTRY_ALLOWED && e.nrefs > 0 &&
        reads_people(e.action)) {
        unsigned cls = revealed(&e);
        b->reads++;
        b->prin[prin].reads++;
        if (b->first == 0 || e.time_ns < b->first)
            b->first = e.time_ns;
        if (e.time_ns > b->last)
            b->last = e.time_ns;
        st = push_time(b, e.time_ns);
        for (uint32_t k = 0; k < e.nrefs && st == SR_OK; k++) {
            person_slot *s;
            st = person_get(b, e.refs[k], &s);
            if (st != SR_OK)
                break;
            s->classes |= (uint8_t)cls;
            s->reads++;
            if (s->first == 0 || e.time_ns < s->first)
                s->first = e.time_ns;
            if (e.time_ns > s->last)
                s->last = e.time_ns;
            bool known = false;
            for (unsigned j = 0; j < s->nprin && !known; j++)
                known = s->prin[j] == prin;
            if (!known && s->nprin < BREACH_PRINCIPALS)
                s->prin[s->nprin++] = prin;
        }
    }
    if (st == SR_ERR_NOMEM)
        return vault_fail(b->v, st, "out of memory");
    return st;
}

/* ---- references back to ids -----------------------------------------------
 */

static sr_status resolve_row(void *ctx, const store_row *row)
{
    breach *b = ctx;
    uint8_t ref[ENTRY_REF_BYTES];
    crypto_person_ref(b->v->keys, row->id, ref);
    person_slot *s = person_find(b, ref);
    if (s == NULL)
        return SR_OK;
    memcpy(s->id, row->id, SR_ID_BYTES);
    s->flags |= 1;
    bool decoy = false;
    sr_status st = vault_decoy_hit(b->v, (const uint8_t(*)[SR_ID_BYTES])row->id,
                                   1, &decoy);
    if (decoy)
        s->flags |= 2;
    return st;
}

/* ---- the report -----------------------------------------------------------
 */

static void time_text(uint64_t ns, char out[40])
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (ns == 0 || gmtime_r(&secs, &tm) == NULL ||
        strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(out, 40, "%s", ns == 0 ? "" : "?");
}

static sr_status emit(breach *b, json_t *o, sr_line_fn fn, void *ctx)
{
    b->v->errmsg[0] = '\0';
    sr_status st = vault_emit(b->v, o, fn, ctx);
    if (st != SR_OK && b->v->errmsg[0] == '\0')
        return vault_fail(b->v, st, "the report's writer stopped");
    return st;
}

static json_t *class_list(unsigned mask)
{
    json_t *a = json_array();
    for (unsigned c = 0; a != NULL && c < SR_CLASS_COUNT; c++)
        if (mask & SR_CLASS_BIT(c))
            json_array_append_new(a, json_string(sr_class_name((sr_class)c)));
    return a;
}

static json_t *timeline(const breach *b)
{
    uint64_t span = b->last > b->first ? b->last - b->first : 0;
    uint64_t secs = span / 1000000000u / BREACH_BUCKETS + 1;
    /* Round the bucket to a readable size. */
    static const uint64_t steps[] = {1,    5,     15,    60,     300,    900,
                                     3600, 21600, 86400, 604800, 2592000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (secs <= steps[i]) {
            secs = steps[i];
            break;
        }
    uint64_t start = b->first / 1000000000u / secs * secs;
    size_t n = b->ntimes == 0
                   ? 0
                   : (size_t)((b->last / 1000000000u - start) / secs + 1);
    uint64_t *counts = calloc(n + 1, sizeof *counts);
    json_t *c = json_array();
    if (counts != NULL && c != NULL) {
        for (size_t i = 0; i < b->ntimes; i++)
            counts[(b->times[i] / 1000000000u - start) / secs]++;
        for (size_t i = 0; i < n; i++)
            json_array_append_new(c, json_integer((json_int_t)counts[i]));
    }
    free(counts);
    char when[40];
    time_text(start * 1000000000u, when);
    return json_pack("{s:s, s:I, s:o*}", "start", when, "bucket_seconds",
                     (json_int_t)secs, "reads", c);
}

static sr_status emit_summary(breach *b, const sr_log_report *rep,
                              sr_line_fn fn, void *ctx)
{
    uint64_t by_class[SR_CLASS_COUNT] = {0}, people = 0, decoys = 0,
             unresolved = 0;
    for (size_t i = 0; i < b->cap; i++) {
        const person_slot *s = &b->table[i];
        if (!s->used)
            continue;
        if (s->flags & 2) {
            decoys++;
            continue;
        }
        people++;
        if (!(s->flags & 1))
            unresolved++;
        for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
            if (s->classes & SR_CLASS_BIT(c))
                by_class[c]++;
    }
    json_t *classes = json_object(), *prin = json_array();
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        json_object_set_new(classes, sr_class_name((sr_class)c),
                            json_integer((json_int_t)by_class[c]));
    for (size_t i = 0; i < b->nprin; i++)
        json_array_append_new(
            prin, json_pack("{s:s, s:I, s:I}", "name", b->prin[i].name, "reads",
                            (json_int_t)b->prin[i].reads, "denied",
                            (json_int_t)b->prin[i].denied));
    char first[40], last[40], since[40], until[40];
    time_text(b->first, first);
    time_text(b->last, last);
    time_text(b->q->since_ns, since);
    time_text(b->q->until_ns, until);
    json_t *query = json_pack("{s:s, s:s, s:s, s:s}", "principal",
                              b->q->principal ? b->q->principal : "", "token",
                              b->q->token ? b->q->token : "", "since", since,
                              "until", until);
    json_t *o = json_pack(
        "{s:s, s:o*, s:{s:I, s:b, s:s}, s:I, s:I, s:I, s:s, s:s, s:I, s:I, "
        "s:I, s:o*, s:o*, s:I, s:I, s:o*}",
        "kind", "summary", "query", query, "log", "size", (json_int_t)rep->size,
        "verified", 1, "message", rep->message, "entries_scanned",
        (json_int_t)b->scanned, "entries_matched", (json_int_t)b->matched,
        "reads", (json_int_t)b->reads, "first_read", first, "last_read", last,
        "people", (json_int_t)people, "people_unresolved",
        (json_int_t)unresolved, "decoys_touched", (json_int_t)decoys,
        "people_by_class", classes, "principals", prin, "denials",
        (json_int_t)(b->nden + b->den_dropped), "denials_listed",
        (json_int_t)b->nden, "timeline", timeline(b));
    return emit(b, o, fn, ctx);
}

static sr_status emit_people(breach *b, sr_line_fn fn, void *ctx)
{
    sr_status st = SR_OK;
    for (size_t i = 0; i < b->cap && st == SR_OK; i++) {
        const person_slot *s = &b->table[i];
        if (!s->used)
            continue;
        char hex[2 * SR_ID_BYTES + 1], first[40], last[40];
        json_t *names = json_array();
        for (unsigned j = 0; j < s->nprin; j++)
            json_array_append_new(names, json_string(b->prin[s->prin[j]].name));
        time_text(s->first, first);
        time_text(s->last, last);
        json_t *o =
            json_pack("{s:s, s:o*, s:s, s:s, s:I, s:o*}", "kind",
                      (s->flags & 2) ? "decoy" : "person", "classes",
                      class_list(s->classes), "first", first, "last", last,
                      "reads", (json_int_t)s->reads, "principals", names);
        if (o != NULL && (s->flags & 1)) {
            hex_encode(hex, s->id, SR_ID_BYTES);
            json_object_set_new(o, "id", json_string(hex));
        } else if (o != NULL) {
            hex_encode(hex, s->ref, ENTRY_REF_BYTES);
            json_object_set_new(o, "ref", json_string(hex));
        }
        st = emit(b, o, fn, ctx);
    }
    return st;
}

static sr_status emit_denials(breach *b, sr_line_fn fn, void *ctx)
{
    sr_status st = SR_OK;
    for (size_t i = 0; i < b->nden && st == SR_OK; i++) {
        const denial *d = &b->den[i];
        char when[40];
        time_text(d->time, when);
        st = emit(b,
                  json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I}", "kind",
                            "denial", "index", (json_int_t)d->index, "time",
                            when, "principal", b->prin[d->prin].name, "action",
                            d->action, "rule", d->rule, "people",
                            (json_int_t)d->people),
                  fn, ctx);
    }
    return st;
}

/* Verify the whole log against the vault's key before reading a word of
 * it: a report from a log that was tampered with would be worse than
 * none. */
static sr_status verify_log(sr_vault *v, sr_log_report *rep)
{
    char path[4096];
    sr_buf key;
    sr_log_verify_options opt;
    memset(&opt, 0, sizeof opt);
    opt.use_witness_file = 1;
    (void)snprintf(path, sizeof path, "%s/log.vkey", v->dir);
    buf_init(&key, 4096);
    sr_status st = file_read(path, &key);
    if (st == SR_OK)
        st = buf_append_byte(&key, 0);
    if (st != SR_OK) {
        buf_free(&key);
        return vault_fail(v, SR_ERR_AUDIT, "cannot read %s", path);
    }
    (void)snprintf(path, sizeof path, "%s/log", v->dir);
    st = sr_log_verify(path, (const char *)key.p, &opt, rep);
    buf_free(&key);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_AUDIT,
                          "the audit log fails verification, so no report "
                          "is made from it: %s",
                          rep->message);
    return SR_OK;
}

sr_status sr_vault_breach_report(sr_vault *v, const sr_breach_query *q,
                                 sr_line_fn fn, void *ctx)
{
    access_req r = {POLICY_AUDIT, "breach.report", NULL, NULL, 0};
    unsigned granted;
    char detail[ENTRY_TEXT_MAX];
    breach b;
    sr_log_report rep;
    memset(&b, 0, sizeof b);
    if (q == NULL || ((q->principal == NULL || q->principal[0] == '\0') &&
                      (q->token == NULL || q->token[0] == '\0') &&
                      q->since_ns == 0 && q->until_ns == 0))
        return vault_fail(v, SR_ERR_INVALID,
                          "a breach report needs a principal, a token or a "
                          "time window");
    if (q->until_ns != 0 && q->until_ns <= q->since_ns)
        return vault_fail(v, SR_ERR_INVALID, "--until is not after --since");
    sr_status st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    (void)snprintf(detail, sizeof detail, "principal %.64s, token %.32s",
                   q->principal != NULL ? q->principal : "",
                   q->token != NULL ? q->token : "");
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, 0, NULL, 0);
    if (st != SR_OK)
        return st;
    /* A checkpoint that covers everything up to now, then the proof that
     * the log is whole, then the pass. */
    uint64_t size = 0;
    st = vault_audit_checkpoint(v, &size);
    if (st == SR_OK)
        st = verify_log(v, &rep);
    b.v = v;
    b.q = q;
    b.limit = rep.size; /* only what was verified */
    if (st == SR_OK)
        st = vault_audit_walk(v, 0, scan_entry, &b, NULL, NULL);
    if (st == SR_OK) {
        v->errmsg[0] = '\0';
        st = v->ops->scan(v->st, 0, resolve_row, &b);
        if (st != SR_OK && v->errmsg[0] == '\0')
            st = vault_store_fail(v, st, "cannot read the vault");
    }
    if (st == SR_OK)
        st = emit_summary(&b, &rep, fn, ctx);
    if (st == SR_OK)
        st = emit_people(&b, fn, ctx);
    if (st == SR_OK)
        st = emit_denials(&b, fn, ctx);
    free(b.table);
    free(b.prin);
    free(b.den);
    free(b.times);
    return st;
}
