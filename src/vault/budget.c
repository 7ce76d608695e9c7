/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget.c - read budgets and freezes: each principal's watch file
 * (src/watch) as the vault uses it. A family of handles keeps the files it
 * has opened, one per principal, and uses them one thread at a time; other
 * processes are kept out by the files' own locks.
 *
 * A read is charged before anything is revealed: a get before the person
 * is even looked up (so the budget cannot tell who exists), a search for
 * itself and for room for one more person before the lookup, and for the
 * people it found after it. At the budget the request is denied, the
 * principal frozen (synced), the denial logged with the budget's rule and
 * an alert raised, all before the call returns.
 *
 * Every authentication asks whether the principal is frozen. A freeze or
 * an unfreeze, in any process, raises the vault's freeze generation
 * (watch_gen) once synced; a family that read the file when the
 * generation stood where it stands now answers from what it read, with
 * no lock and no system call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alert/alert.h"
#include "vault_int.h"
#include "watch/watch.h"

#define WATCH_SLOTS 64u

typedef struct cached_watch {
    char name[ENTRY_NAME_MAX + 1];
    watch_file *file;
    bool read;        /* file's state was read, when gen stood at: */
    uint64_t gen_was; /* (watch_gen_load) */
} cached_watch;

struct watch_cache {
    pthread_mutex_t mu;
    unsigned next; /* the slot to reuse when all are taken */
    cached_watch slot[WATCH_SLOTS];
    watch_gen *gen; /* NULL: every freeze check reads the file */
};

sr_status watch_cache_new(watch_cache **out, const char *vault_dir)
{
    watch_cache *c = calloc(1, sizeof *c);
    *out = c;
    if (c == NULL)
        return SR_ERR_NOMEM;
    (void)pthread_mutex_init(&c->mu, NULL);
    watch_gen_open(vault_dir, &c->gen);
    return SR_OK;
}

void watch_cache_free(watch_cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < WATCH_SLOTS; i++)
        watch_file_close(c->slot[i].file);
    watch_gen_close(c->gen);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The cache's slot for principal `name`, NULL if it has none. Caller
 * holds the cache's mutex. */
static cached_watch *slot_of(watch_cache *c, const char *name)
{
    for (unsigned i = 0; i < WATCH_SLOTS; i++)
        if (c->slot[i].file != NULL && strcmp(c->slot[i].name, name) == 0)
            return &c->slot[i];
    return NULL;
}

/* The family's watch file of principal `name`, opened if need be. Holds
 * the cache's mutex on SR_OK. */
static sr_status watch_find(sr_vault *v, const char *name, cached_watch **out)
{
    char msg[WATCH_MSG_MAX];
    watch_cache *c = vault_watches(v);
    *out = NULL;
    if (c == NULL)
        return vault_fail(v, SR_ERR_INTERNAL, "the vault has no watch cache");
    pthread_mutex_lock(&c->mu);
    cached_watch *s = slot_of(c, name);
    if (s == NULL) {
        s = &c->slot[c->next];
        c->next = (c->next + 1) % WATCH_SLOTS;
        watch_file_close(s->file);
        memset(s, 0, sizeof *s);
        sr_status st = watch_file_open(v->dir, name, &s->file, msg);
        if (st != SR_OK) {
            pthread_mutex_unlock(&c->mu);
            return vault_fail(v, st, "cannot open the watch file: %s", msg);
        }
        (void)snprintf(s->name, sizeof s->name, "%s", name);
    }
    *out = s;
    return SR_OK;
}

/* Lock the principal's watch file, its state brought up to date: on SR_OK
 * the cache's mutex and the file's lock are held, and watch_release lets
 * both go. */
static sr_status watch_take(sr_vault *v, const char *name, uint64_t now,
                            watch_file **out)
{
    char msg[WATCH_MSG_MAX];
    cached_watch *s;
    *out = NULL;
    sr_status st = watch_find(v, name, &s);
    if (st != SR_OK)
        return st;
    /* Read before the file: a freeze after this moves it on. */
    uint64_t gen = watch_gen_load(vault_watches(v)->gen);
    st = watch_file_lock(s->file, now, msg);
    if (st != SR_OK) {
        pthread_mutex_unlock(&vault_watches(v)->mu);
        return vault_fail(v, st, "cannot read the watch file: %s", msg);
    }
    s->read = true;
    s->gen_was = gen;
    *out = s->file;
    return SR_OK;
}

static void watch_release(sr_vault *v, watch_file *w)
{
    watch_file_unlock(w);
    pthread_mutex_unlock(&vault_watches(v)->mu);
}

/* Copy the freeze of state s out. */
static void freeze_of(const watch_state *s, bool *frozen, char *reason)
{
    *frozen = s->frozen;
    if (reason != NULL && s->frozen)
        memcpy(reason, s->reason, WATCH_REASON_MAX + 1);
}

sr_status vault_frozen(sr_vault *v, const char *name, bool *frozen,
                       char *reason)
{
    watch_file *w;
    *frozen = false;
    if (reason != NULL)
        reason[0] = '\0';
    /* Every authentication asks. Unless a freeze or an unfreeze came (in
     * any process) since this family last read the file, what it read
     * then still holds: no lock, no system call. */
    watch_cache *c = vault_watches(v);
    if (c != NULL) {
        uint64_t gen = watch_gen_load(c->gen);
        pthread_mutex_lock(&c->mu);
        const cached_watch *s = slot_of(c, name);
        bool fresh =
            s != NULL && s->read && s->gen_was == gen && gen != UINT64_MAX;
        if (fresh)
            freeze_of(watch_file_state(s->file), frozen, reason);
        pthread_mutex_unlock(&c->mu);
        if (fresh)
            return SR_OK;
    }
    sr_status st = watch_take(v, name, now_ms(), &w);
    if (st != SR_OK)
        return st;
    freeze_of(watch_file_state(w), frozen, reason);
    watch_release(v, w);
    return SR_OK;
}

sr_status vault_watch_usage(sr_vault *v, const char *name, watch_usage *out)
{
    watch_file *w;
    memset(out, 0, sizeof *out);
    sr_status st = watch_take(v, name, now_ms(), &w);
    if (st != SR_OK)
        return st;
    const watch_state *s = watch_file_state(w);
    out->frozen = s->frozen;
    out->frozen_ms = s->frozen ? s->frozen_ms : 0;
    if (s->frozen)
        memcpy(out->reason, s->reason, sizeof out->reason);
    out->people_hour = watch_hour_people(s);
    out->people_day = s->day_people;
    out->searches_hour = watch_hour_searches(s);
    watch_release(v, w);
    return SR_OK;
}

/* Append a freeze or unfreeze, synced, while w is held. */
static sr_status mark(sr_vault *v, watch_file *w, uint64_t now, bool frozen,
                      const char *reason)
{
    char msg[WATCH_MSG_MAX];
    watch_record r = {now, frozen ? WATCH_FREEZE : WATCH_UNFREEZE, {0}, ""};
    (void)snprintf(r.reason, sizeof r.reason, "%s", reason);
    sr_status st = watch_file_append(w, &r, 1, true, now, msg);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot write the watch file: %s", msg);
    /* Synced: now every process's next check reads the file. */
    watch_gen_bump(vault_watches(v)->gen);
    return SR_OK;
}

sr_status vault_mark_frozen(sr_vault *v, const char *name, bool frozen,
                            const char *reason)
{
    watch_file *w;
    uint64_t now = now_ms();
    sr_status st = watch_take(v, name, now, &w);
    if (st != SR_OK)
        return st;
    st = mark(v, w, now, frozen, reason);
    watch_release(v, w);
    return st;
}

/* Deny r by rule and freeze the principal: the freeze is on disk before
 * the denial is logged, the alert names the denial's entry. */
static sr_status trip(sr_vault *v, const access_req *r, watch_file *w,
                      uint64_t now, const char *rule,
                      const uint8_t (*ids)[SR_ID_BYTES], uint32_t n)
{
    sr_status st = mark(v, w, now, true, rule);
    watch_release(v, w);
    if (st != SR_OK)
        return st;
    st = vault_deny(v, r, rule, "frozen", ids, n);
    if (st != SR_OK)
        return st;
    alert a = {"principal.frozen", v->principal, "", rule, v->last_entry};
    if (alert_emit(v->dir, &a) != SR_OK)
        return vault_fail(v, SR_ERR_IO,
                          "denied by rule %s, and principal %s is frozen, but "
                          "the alert could not be written to "
                          "%s/alerts/alerts.jsonl: %s",
                          rule, v->principal, v->dir, strerror(errno));
    return vault_fail(v, SR_ERR_DENIED,
                      "denied by rule %s: the read budget of role \"%s\" is "
                      "spent, so principal %s is frozen until a security "
                      "officer unfreezes it",
                      rule, v->role, v->principal);
}

/* Is the principal (its state s) over budget b with this request? The
 * rule, or NULL. */
static const char *over(const watch_state *s, const policy_budget *b,
                        uint64_t now, const uint8_t (*refs)[WATCH_REF_BYTES],
                        size_t n, unsigned searches, bool need_room)
{
    if (s->frozen)
        return "principal.frozen";
    return watch_over_budget(s, b, now, refs, n, searches, need_room);
}

sr_status vault_budget_check(sr_vault *v, const access_req *r,
                             unsigned searches, bool need_room)
{
    policy_budget b;
    watch_file *w;
    if (!policy_role_budget(v->pol, v->role, &b))
        return SR_OK;
    /* The file as it is now (other processes charge it too) lets the
     * request go on; a refusal, which freezes, is decided by the charge
     * below, under the file's lock. */
    uint64_t now = now_ms();
    sr_status st = watch_take(v, v->principal, now, &w);
    if (st != SR_OK)
        return st;
    bool fine = over(watch_file_state(w), &b, now, NULL, 0, searches,
                     need_room) == NULL;
    watch_release(v, w);
    if (fine)
        return SR_OK;
    return vault_budget_charge(v, r, NULL, 0, searches, need_room, false);
}

sr_status vault_budget_charge(sr_vault *v, const access_req *r,
                              const uint8_t (*ids)[SR_ID_BYTES], size_t n,
                              unsigned searches, bool need_room, bool charge)
{
    policy_budget b;
    watch_file *w;
    char msg[WATCH_MSG_MAX];
    if (!policy_role_budget(v->pol, v->role, &b))
        return SR_OK;
    if (n > ENTRY_REFS_MAX)
        return vault_fail(v, SR_ERR_INTERNAL, "too many people in one charge");
    uint8_t(*refs)[WATCH_REF_BYTES] = NULL;
    watch_record *recs = malloc((n + searches + 1) * sizeof *recs);
    if (n > 0)
        refs = malloc(n * WATCH_REF_BYTES);
    if (recs == NULL || (n > 0 && refs == NULL)) {
        free(recs);
        free(refs);
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        crypto_person_ref(v->keys, ids[i], refs[i]);
    uint64_t now = now_ms();
    sr_status st = watch_take(v, v->principal, now, &w);
    if (st != SR_OK)
        goto cleanup;
    const watch_state *s = watch_file_state(w);
    const char *rule = over(s, &b, now, (const uint8_t(*)[WATCH_REF_BYTES])refs,
                            n, searches, need_room);
    if (rule != NULL && s->frozen) {
        /* Frozen by another handle since this one authenticated. */
        watch_release(v, w);
        st = vault_deny(v, r, rule, "", ids, (uint32_t)n);
        if (st == SR_OK)
            st = vault_fail(v, SR_ERR_DENIED,
                            "denied by rule principal.frozen: principal %s "
                            "is frozen",
                            v->principal);
        goto cleanup;
    }
    if (rule != NULL) {
        st = trip(v, r, w, now, rule, ids, (uint32_t)n);
        goto cleanup;
    }
    size_t k = 0;
    for (unsigned i = 0; charge && i < searches; i++)
        recs[k++] = (watch_record){now, WATCH_SEARCH, {0}, ""};
    for (size_t i = 0; charge && i < n; i++) {
        bool again = watch_charged(s, refs[i], now);
        for (size_t j = 0; j < i && !again; j++)
            again = memcmp(refs[j], refs[i], WATCH_REF_BYTES) == 0;
        if (again)
            continue;
        recs[k] = (watch_record){now, WATCH_PERSON, {0}, ""};
        memcpy(recs[k++].ref, refs[i], WATCH_REF_BYTES);
    }
    st = watch_file_append(w, recs, k, false, now, msg);
    watch_release(v, w);
    if (st != SR_OK)
        st = vault_fail(v, st, "cannot write the watch file: %s", msg);
cleanup:
    free(recs);
    if (refs != NULL)
        sodium_memzero(refs, n * WATCH_REF_BYTES);
    free(refs);
    return st;
}
