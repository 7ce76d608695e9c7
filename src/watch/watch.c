/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watch.c - see watch.h. The state keeps each person once, with the time
 * of their last charge, so a check is one pass over at most a day's budget
 * of people; the policy bounds that budget (docs/policy.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/util.h"
#include "watch/watch.h"

/* ---- the records ------------------------------------------------------- */

static void put_u64le(uint8_t *p, uint64_t x)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 8; i++)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

void watch_record_encode(const watch_record *r, uint8_t out[WATCH_RECORD_BYTES])
{
    memset(out, 0, WATCH_RECORD_BYTES);
    put_u64le(out, r->ms);
    out[8] = (uint8_t)r->kind;
    if (r->kind == WATCH_PERSON)
        memcpy(out + 16, r->ref, WATCH_REF_BYTES);
    if (r->kind == WATCH_FREEZE || r->kind == WATCH_UNFREEZE) {
        size_t n = strnlen(r->reason, WATCH_REASON_MAX);
        memcpy(out + 32, r->reason, n);
    }
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* A reason: 1-64 of a-z 0-9 . _ -, starting with a letter, NUL-padded. */
static bool reason_ok(const uint8_t *p)
{
    size_t n = strnlen((const char *)p, WATCH_REASON_MAX);
    if (n == 0 || p[0] < 'a' || p[0] > 'z' ||
        !all_zero(p + n, WATCH_REASON_MAX - n))
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

void watch_state_init(watch_state *s)
{
    memset(s, 0, sizeof *s);
}

void watch_state_free(watch_state *s)
{
    free(s->charges);
    free(s->searches);
    free(s->table);
    watch_state_init(s);
}

size_t watch_hour_people(const watch_state *s)
{
    return s->ncharges - s->hour_start;
}

size_t watch_hour_searches(const watch_state *s)
{
    return s->nsearches - s->search_start;
}

/* Forget every charge and search (an unfreeze). */
static void state_clear(watch_state *s)
{
    s->ncharges = s->day_start = s->hour_start = 0;
    s->nsearches = s->search_start = 0;
    s->day_people = 0;
    s->table_used = 0;
    if (s->table != NULL)
        memset(s->table, 0, s->table_cap * sizeof *s->table);
}

/* References are keyed hashes: their first bytes are as good as any. */
static size_t slot_hash(const uint8_t ref[WATCH_REF_BYTES], size_t cap)
{
    uint64_t h = 0;
    memcpy(&h, ref, sizeof h);
    return (size_t)h & (cap - 1);
}

static watch_slot *slot_find(const watch_state *s,
                             const uint8_t ref[WATCH_REF_BYTES])
{
    if (s->table_cap == 0)
        return NULL;
    for (size_t i = slot_hash(ref, s->table_cap);;
         i = (i + 1) & (s->table_cap - 1)) {
        watch_slot *t = &s->table[i];
        if (!t->used)
            return NULL;
        if (memcmp(t->ref, ref, WATCH_REF_BYTES) == 0)
            return t;
    }
}

/* Make a table of cap slots (a power of two) holding the charges of the
 * last day. */
static sr_status table_build(watch_state *s, size_t cap)
{
    watch_slot *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return SR_ERR_NOMEM;
    free(s->table);
    s->table = t;
    s->table_cap = cap;
    s->table_used = 0;
    s->day_people = 0;
    for (size_t k = s->day_start; k < s->ncharges; k++) {
        const watch_charge *c = &s->charges[k];
        size_t i = slot_hash(c->ref, cap);
        while (t[i].used && memcmp(t[i].ref, c->ref, WATCH_REF_BYTES) != 0)
            i = (i + 1) & (cap - 1);
        if (!t[i].used) {
            t[i].used = true;
            memcpy(t[i].ref, c->ref, WATCH_REF_BYTES);
            s->table_used++;
        }
        if (t[i].day_charges++ == 0)
            s->day_people++;
        if (c->ms > t[i].last_ms)
            t[i].last_ms = c->ms;
    }
    return SR_OK;
}

/* Room for one more person in the table (at most half full). */
static sr_status table_room(watch_state *s)
{
    if ((s->table_used + 1) * 2 <= s->table_cap)
        return SR_OK;
    size_t live = s->ncharges - s->day_start + 1, cap = 64;
    while (cap < live * 4)
        cap *= 2;
    return table_build(s, cap);
}

static sr_status add_charge(watch_state *s, uint64_t ms,
                            const uint8_t ref[WATCH_REF_BYTES])
{
    sr_status st = array_room((void **)&s->charges, &s->charges_cap,
                              s->ncharges, sizeof *s->charges);
    if (st == SR_OK)
        st = table_room(s);
    if (st != SR_OK)
        return st;
    watch_slot *t = slot_find(s, ref);
    if (t == NULL) {
        size_t i = slot_hash(ref, s->table_cap);
        while (s->table[i].used)
            i = (i + 1) & (s->table_cap - 1);
        t = &s->table[i];
        t->used = true;
        memcpy(t->ref, ref, WATCH_REF_BYTES);
        s->table_used++;
    }
    if (t->day_charges++ == 0)
        s->day_people++;
    if (ms > t->last_ms)
        t->last_ms = ms;
    s->charges[s->ncharges].ms = ms;
    memcpy(s->charges[s->ncharges].ref, ref, WATCH_REF_BYTES);
    s->ncharges++;
    return SR_OK;
}

static sr_status add_search(watch_state *s, uint64_t ms)
{
    if (array_room((void **)&s->searches, &s->searches_cap, s->nsearches,
                   sizeof *s->searches) != SR_OK)
        return SR_ERR_NOMEM;
    s->searches[s->nsearches++] = ms;
    return SR_OK;
}

sr_status watch_prune(watch_state *s, uint64_t now_ms)
{
    while (s->day_start < s->ncharges &&
           s->charges[s->day_start].ms + WATCH_DAY_MS < now_ms) {
        watch_slot *t = slot_find(s, s->charges[s->day_start].ref);
        if (t != NULL && t->day_charges > 0 && --t->day_charges == 0)
            s->day_people--;
        s->day_start++;
    }
    if (s->hour_start < s->day_start)
        s->hour_start = s->day_start;
    while (s->hour_start < s->ncharges &&
           s->charges[s->hour_start].ms + WATCH_HOUR_MS < now_ms)
        s->hour_start++;
    while (s->search_start < s->nsearches &&
           s->searches[s->search_start] + WATCH_HOUR_MS < now_ms)
        s->search_start++;
    /* Drop what left the windows once it is half the arrays, and rebuild
     * the table without the people who left. */
    if (s->search_start > 1024 && s->search_start * 2 > s->nsearches) {
        s->nsearches -= s->search_start;
        memmove(s->searches, s->searches + s->search_start,
                s->nsearches * sizeof *s->searches);
        s->search_start = 0;
    }
    if (s->day_start > 1024 && s->day_start * 2 > s->ncharges) {
        s->ncharges -= s->day_start;
        memmove(s->charges, s->charges + s->day_start,
                s->ncharges * sizeof *s->charges);
        s->hour_start -= s->day_start;
        s->day_start = 0;
        return table_build(s, s->table_cap);
    }
    return SR_OK;
}

const char *watch_record_decode(const uint8_t in[WATCH_RECORD_BYTES],
                                watch_record *r)
{
    memset(r, 0, sizeof *r);
    r->ms = get_u64le(in);
    r->kind = (watch_kind)in[8];
    if (!all_zero(in + 9, 7))
        return "non-zero padding";
    switch (in[8]) {
    case WATCH_PERSON:
    case WATCH_SEARCH:
        if (!all_zero(in + 32, WATCH_REASON_MAX) ||
            (in[8] == WATCH_SEARCH && !all_zero(in + 16, WATCH_REF_BYTES)))
            return "non-zero padding";
        memcpy(r->ref, in + 16, WATCH_REF_BYTES);
        return NULL;
    case WATCH_FREEZE:
    case WATCH_UNFREEZE:
        if (!all_zero(in + 16, WATCH_REF_BYTES))
            return "non-zero padding";
        if (!reason_ok(in + 32))
            return "a reason that is not a name";
        memcpy(r->reason, in + 32, WATCH_REASON_MAX);
        return NULL;
    default:
        return "an unknown kind";
    }
}

static sr_status apply_one(watch_state *s, const watch_record *r,
                           uint64_t now_ms)
{
    if (r->ms > s->last_ms)
        s->last_ms = r->ms;
    switch (r->kind) {
    case WATCH_PERSON:
        return r->ms + WATCH_DAY_MS < now_ms ? SR_OK
                                             : add_charge(s, r->ms, r->ref);
    case WATCH_SEARCH:
        return r->ms + WATCH_HOUR_MS < now_ms ? SR_OK : add_search(s, r->ms);
    case WATCH_FREEZE:
    case WATCH_UNFREEZE:
        s->frozen = r->kind == WATCH_FREEZE;
        s->frozen_ms = r->ms;
        memcpy(s->reason, r->reason, sizeof s->reason);
        if (r->kind == WATCH_UNFREEZE)
            state_clear(s); /* the officer let the reads stand */
        return SR_OK;
    }
    return SR_ERR_CORRUPT;
}

sr_status watch_apply(watch_state *s, const uint8_t *p, size_t n,
                      uint64_t first_index, uint64_t now_ms,
                      char msg[WATCH_MSG_MAX])
{
    if (n % WATCH_RECORD_BYTES != 0) {
        (void)snprintf(msg, WATCH_MSG_MAX, "%zu bytes are no whole records", n);
        return SR_ERR_CORRUPT;
    }
    for (size_t i = 0; i < n / WATCH_RECORD_BYTES; i++) {
        watch_record r;
        const char *fault = watch_record_decode(p + i * WATCH_RECORD_BYTES, &r);
        if (fault != NULL) {
            (void)snprintf(msg, WATCH_MSG_MAX, "record %llu has %s",
                           (unsigned long long)(first_index + i), fault);
            return SR_ERR_CORRUPT;
        }
        if (apply_one(s, &r, now_ms) != SR_OK) {
            (void)snprintf(msg, WATCH_MSG_MAX, "out of memory");
            return SR_ERR_NOMEM;
        }
    }
    return SR_OK;
}

bool watch_charged(const watch_state *s, const uint8_t ref[WATCH_REF_BYTES],
                   uint64_t now_ms)
{
    const watch_slot *t = slot_find(s, ref);
    return t != NULL && t->day_charges > 0 &&
           t->last_ms + WATCH_HOUR_MS >= now_ms;
}

/* Is refs[i] a repeat of an earlier one in refs? */
static bool repeat(const uint8_t (*refs)[WATCH_REF_BYTES], size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (memcmp(refs[j], refs[i], WATCH_REF_BYTES) == 0)
            return true;
    return false;
}

const char *watch_over_budget(const watch_state *s, const policy_budget *b,
                              uint64_t now_ms,
                              const uint8_t (*refs)[WATCH_REF_BYTES], size_t n,
                              unsigned searches, bool need_room)
{
    uint64_t hour = watch_hour_people(s), day = s->day_people;
    if (b->searches_per_hour != 0 && searches > 0 &&
        watch_hour_searches(s) + searches > b->searches_per_hour)
        return "budget.searches_per_hour";
    for (size_t i = 0; i < n; i++) {
        if (repeat(refs, i))
            continue;
        const watch_slot *t = slot_find(s, refs[i]);
        bool today = t != NULL && t->day_charges > 0;
        if (today && t->last_ms + WATCH_HOUR_MS >= now_ms)
            continue; /* charged this hour already */
        hour++;
        if (!today)
            day++;
    }
    unsigned room = need_room ? 1u : 0u;
    if (b->people_per_hour != 0 && hour + room > b->people_per_hour)
        return "budget.people_per_hour";
    if (b->people_per_day != 0 && day + room > b->people_per_day)
        return "budget.people_per_day";
    return NULL;
}

/* ---- the file ---------------------------------------------------------- */

struct watch_file {
    char path[4096];
    char rel[80]; /* "watch/<name>", for messages */
    int fd;
    ino_t ino;
    uint64_t applied; /* bytes of the file reflected in st */
    watch_state st;
};

static sr_status sys_fail(char msg[WATCH_MSG_MAX], const char *what,
                          const char *path)
{
    int e = errno;
    (void)snprintf(msg, WATCH_MSG_MAX, "cannot %s %s: %s", what, path,
                   strerror(e));
    return e == ENOSPC ? SR_ERR_FULL : SR_ERR_IO;
}

/* ---- the freeze generation -------------------------------------------- */

#define WATCH_GEN_BYTES 8u

struct watch_gen {
    uint64_t *counter; /* in a MAP_SHARED page of <vault>/watch/.gen */
};

void watch_gen_open(const char *vault_dir, watch_gen **out)
{
    char path[4096];
    struct stat sb;
    *out = NULL;
    int n = snprintf(path, sizeof path, "%s/watch", vault_dir);
    if (n < 0 || (size_t)n + 6 >= sizeof path || dir_make(path, 0700) != SR_OK)
        return;
    memcpy(path + n, "/.gen", 6);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    /* Made eight zero bytes long by whoever comes first (ftruncate to
     * the same length is harmless when two do). */
    void *m = MAP_FAILED;
    if (fstat(fd, &sb) == 0 &&
        (sb.st_size == WATCH_GEN_BYTES ||
         (sb.st_size == 0 && ftruncate(fd, WATCH_GEN_BYTES) == 0)))
        m = mmap(NULL, WATCH_GEN_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                 0);
    (void)close(fd);
    watch_gen *g = m != MAP_FAILED ? calloc(1, sizeof *g) : NULL;
    if (g == NULL) {
        if (m != MAP_FAILED)
            (void)munmap(m, WATCH_GEN_BYTES);
        return;
    }
    g->counter = m;
    *out = g;
}

void watch_gen_close(watch_gen *g)
{
    if (g == NULL)
        return;
    (void)munmap(g->counter, WATCH_GEN_BYTES);
    free(g);
}

uint64_t watch_gen_load(const watch_gen *g)
{
    return g != NULL ? __atomic_load_n(g->counter, __ATOMIC_ACQUIRE)
                     : UINT64_MAX;
}

void watch_gen_bump(watch_gen *g)
{
    if (g != NULL)
        (void)__atomic_add_fetch(g->counter, 1, __ATOMIC_ACQ_REL);
}

/* Open the file, writing its header if it is new. */
static sr_status open_fd(watch_file *w, char msg[WATCH_MSG_MAX])
{
    struct stat sb;
    w->fd = open(w->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (w->fd < 0)
        return sys_fail(msg, "open", w->rel);
    if (fstat(w->fd, &sb) != 0)
        return sys_fail(msg, "stat", w->rel);
    w->ino = sb.st_ino;
    w->applied = 0;
    watch_state_free(&w->st);
    return SR_OK;
}

sr_status watch_file_open(const char *vault_dir, const char *name,
                          watch_file **out, char msg[WATCH_MSG_MAX])
{
    char dir[4096];
    *out = NULL;
    watch_file *w = calloc(1, sizeof *w);
    if (w == NULL) {
        (void)snprintf(msg, WATCH_MSG_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    w->fd = -1;
    int n1 = snprintf(dir, sizeof dir, "%s/watch", vault_dir);
    int n2 = snprintf(w->path, sizeof w->path, "%s/watch/%s", vault_dir, name);
    (void)snprintf(w->rel, sizeof w->rel, "watch/%.64s", name);
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof w->path) {
        free(w);
        (void)snprintf(msg, WATCH_MSG_MAX, "the vault path is too long");
        return SR_ERR_INVALID;
    }
    sr_status st = dir_make(dir, 0700);
    if (st != SR_OK)
        st = sys_fail(msg, "create", "watch/");
    if (st == SR_OK)
        st = open_fd(w, msg);
    if (st != SR_OK) {
        watch_file_close(w);
        return st;
    }
    *out = w;
    return SR_OK;
}

void watch_file_close(watch_file *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        (void)close(w->fd);
    watch_state_free(&w->st);
    free(w);
}

const watch_state *watch_file_state(const watch_file *w)
{
    return &w->st;
}

static sr_status prune(watch_file *w, uint64_t now_ms, char msg[WATCH_MSG_MAX])
{
    if (watch_prune(&w->st, now_ms) == SR_OK)
        return SR_OK;
    (void)snprintf(msg, WATCH_MSG_MAX, "out of memory");
    return SR_ERR_NOMEM;
}

/* Records in the windows, and the freeze: what a rewrite keeps. */
static size_t live_records(const watch_state *s)
{
    return (s->ncharges - s->day_start) + watch_hour_searches(s) + 1;
}

/* Read what was appended since the last look. Holds the lock. */
static sr_status catch_up(watch_file *w, uint64_t now_ms,
                          char msg[WATCH_MSG_MAX])
{
    struct stat sb;
    uint8_t hdr[WATCH_HEADER_BYTES];
    if (fstat(w->fd, &sb) != 0)
        return sys_fail(msg, "stat", w->rel);
    uint64_t size = (uint64_t)sb.st_size;
    if (size < WATCH_HEADER_BYTES) {
        /* New (or cut short before its header was whole): start it. */
        memset(hdr, 0, sizeof hdr);
        memcpy(hdr, WATCH_MAGIC, 8);
        if (ftruncate(w->fd, 0) != 0 ||
            pwrite(w->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
            return sys_fail(msg, "write", w->rel);
        w->applied = WATCH_HEADER_BYTES;
        watch_state_free(&w->st);
        return SR_OK;
    }
    if (w->applied == 0) {
        if (pread(w->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
            return sys_fail(msg, "read", w->rel);
        if (memcmp(hdr, WATCH_MAGIC, 8) != 0 || !all_zero(hdr + 8, 8)) {
            (void)snprintf(msg, WATCH_MSG_MAX,
                           "%s is not a watch file (bad header)", w->rel);
            return SR_ERR_CORRUPT;
        }
        w->applied = WATCH_HEADER_BYTES;
    }
    uint64_t whole = size - (size - WATCH_HEADER_BYTES) % WATCH_RECORD_BYTES;
    if (whole < size && ftruncate(w->fd, (off_t)whole) != 0)
        return sys_fail(msg, "cut the torn end of", w->rel);
    if (whole < w->applied) {
        (void)snprintf(msg, WATCH_MSG_MAX, "%s shrank while in use", w->rel);
        return SR_ERR_CORRUPT;
    }
    size_t n = (size_t)(whole - w->applied);
    if (n == 0)
        return prune(w, now_ms, msg);
    uint8_t *p = malloc(n);
    if (p == NULL) {
        (void)snprintf(msg, WATCH_MSG_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    sr_status st = SR_OK;
    if (pread(w->fd, p, n, (off_t)w->applied) != (ssize_t)n)
        st = sys_fail(msg, "read", w->rel);
    char why[WATCH_MSG_MAX];
    if (st == SR_OK) {
        st = watch_apply(&w->st, p, n,
                         (w->applied - WATCH_HEADER_BYTES) / WATCH_RECORD_BYTES,
                         now_ms, why);
        if (st != SR_OK)
            (void)snprintf(msg, WATCH_MSG_MAX, "%s: %.200s", w->rel, why);
    }
    free(p);
    if (st != SR_OK)
        return st;
    w->applied = whole;
    return prune(w, now_ms, msg);
}

sr_status watch_file_lock(watch_file *w, uint64_t now_ms,
                          char msg[WATCH_MSG_MAX])
{
    for (;;) {
        struct stat sb;
        if (flock(w->fd, LOCK_EX) != 0)
            return sys_fail(msg, "lock", w->rel);
        /* A rewrite renamed a new file into place: follow it. */
        if (stat(w->path, &sb) == 0 && sb.st_ino == w->ino)
            break;
        (void)flock(w->fd, LOCK_UN);
        (void)close(w->fd);
        sr_status st = open_fd(w, msg);
        if (st != SR_OK)
            return st;
    }
    sr_status st = catch_up(w, now_ms, msg);
    if (st != SR_OK)
        (void)flock(w->fd, LOCK_UN);
    return st;
}

void watch_file_unlock(watch_file *w)
{
    (void)flock(w->fd, LOCK_UN);
}

/* Rewrite the file with the state alone and rename it into place. Holds
 * the lock on the old file, so nobody appends meanwhile. */
static sr_status compact(watch_file *w, char msg[WATCH_MSG_MAX])
{
    const watch_state *s = &w->st;
    size_t n = live_records(s);
    uint8_t *p = calloc(1, WATCH_HEADER_BYTES + n * WATCH_RECORD_BYTES);
    if (p == NULL) {
        (void)snprintf(msg, WATCH_MSG_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    memcpy(p, WATCH_MAGIC, 8);
    size_t k = 0;
    uint8_t *at = p + WATCH_HEADER_BYTES;
    if (s->frozen_ms != 0) {
        /* The last freeze or unfreeze first: an unfreeze after the people
         * would clear them. */
        watch_record r = {
            s->frozen_ms, s->frozen ? WATCH_FREEZE : WATCH_UNFREEZE, {0}, ""};
        memcpy(r.reason, s->reason, sizeof r.reason);
        watch_record_encode(&r, at + k++ * WATCH_RECORD_BYTES);
    }
    for (size_t i = s->day_start; i < s->ncharges; i++) {
        watch_record r = {s->charges[i].ms, WATCH_PERSON, {0}, ""};
        memcpy(r.ref, s->charges[i].ref, WATCH_REF_BYTES);
        watch_record_encode(&r, at + k++ * WATCH_RECORD_BYTES);
    }
    for (size_t i = s->search_start; i < s->nsearches; i++) {
        watch_record r = {s->searches[i], WATCH_SEARCH, {0}, ""};
        watch_record_encode(&r, at + k++ * WATCH_RECORD_BYTES);
    }
    size_t len = WATCH_HEADER_BYTES + k * WATCH_RECORD_BYTES;
    sr_status st = file_write_atomic(w->path, p, len, 0600);
    free(p);
    if (st != SR_OK)
        return sys_fail(msg, "rewrite", w->rel);
    /* Other handles see the new inode at their next lock; this one reads
     * the new file afresh at its next lock too. */
    return SR_OK;
}

sr_status watch_file_append(watch_file *w, const watch_record *recs, size_t n,
                            bool sync, uint64_t now_ms, char msg[WATCH_MSG_MAX])
{
    if (n == 0)
        return SR_OK;
    size_t len = n * WATCH_RECORD_BYTES;
    uint8_t *p = malloc(len);
    if (p == NULL) {
        (void)snprintf(msg, WATCH_MSG_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        /* In time order, even when another process's clock ran ahead. */
        watch_record r = recs[i];
        if (r.ms < w->st.last_ms)
            r.ms = w->st.last_ms;
        watch_record_encode(&r, p + i * WATCH_RECORD_BYTES);
    }
    sr_status st = SR_OK;
    if (pwrite(w->fd, p, len, (off_t)w->applied) != (ssize_t)len ||
        (sync && fdatasync(w->fd) != 0))
        st = sys_fail(msg, "write", w->rel);
    char why[WATCH_MSG_MAX];
    if (st == SR_OK && watch_apply(&w->st, p, len, 0, now_ms, why) != SR_OK) {
        (void)snprintf(msg, WATCH_MSG_MAX, "%s", why);
        st = SR_ERR_NOMEM;
    }
    free(p);
    if (st != SR_OK) {
        /* Whatever landed is read back at the next lock, or cut off. */
        w->applied = 0;
        watch_state_free(&w->st);
        return st;
    }
    w->applied += len;
    st = prune(w, now_ms, msg);
    size_t live =
        WATCH_HEADER_BYTES + live_records(&w->st) * WATCH_RECORD_BYTES;
    if (st == SR_OK && w->applied > WATCH_COMPACT_BYTES &&
        live * 2 < w->applied)
        return compact(w, msg);
    return st;
}
