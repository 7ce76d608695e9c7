/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c - the server's vault handles. A vault has one writer per
 * process: it is opened with the passphrase at start and lent to one
 * request at a time. Sign-ins and imports each use a writer of their own
 * opened from it (sr_vault_open_another_writer), so neither a passphrase's
 * key stretching nor an import that runs for minutes holds up every other
 * write (SQLite still orders their transactions, and an import holds none
 * while its sender is slow). Reads use handles opened from it on demand
 * (sr_vault_open_another shares its keys) and kept for the next request,
 * so concurrent reads never wait on one another. A policy can change only
 * through the writer (the server holds the vault's write lock), so each
 * use of the writer moves a generation on, and a read handle is refreshed
 * (sr_vault_refresh) only when it was last refreshed in an older one: the
 * new policy applies from the next request on. Read handles defer their
 * audit syncs (sr_vault_defer_audit): http.c waits for them after giving
 * the handle back, and before anything is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

#define POOL_MAX_IDLE 1024 /* the most read handles */

struct srv_pool {
    /* The writers, each lent to one request at a time: the main one
     * (POOL_WRITER, which holds the vault's write lock), the sign-in one
     * (key stretching) and the import one (an import runs for minutes). */
    sr_vault *writers[POOL_WRITERS];
    pthread_mutex_t wmu[POOL_WRITERS];
    sr_vault *publisher; /* the checkpointer thread's own handle */
    pthread_mutex_t mu;
    sr_vault *idle[POOL_MAX_IDLE];
    uint64_t idle_gen[POOL_MAX_IDLE]; /* the generation each is fresh in */
    size_t nidle;
    size_t nopen, max_open; /* read handles open, and the most allowed */
    pthread_cond_t freed;
    uint64_t gen;       /* writer uses so far (atomic) */
    uint64_t published; /* tree size of the last checkpoint */
};

/* Every handle, the main writer last (it checkpoints as it closes). */
static void close_handles(srv_pool *p)
{
    for (size_t i = 0; i < p->nidle; i++)
        sr_vault_close(p->idle[i]);
    sr_vault_close(p->publisher);
    for (unsigned k = POOL_WRITERS; k-- > 0;)
        sr_vault_close(p->writers[k]);
}

sr_status pool_open(srv_pool **out, const char *dir, const char *pass,
                    size_t pass_len, unsigned max_readers,
                    char err[SRV_ERR_MAX])
{
    srv_pool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    sr_status st = sr_vault_open(&p->writers[POOL_WRITER], dir, pass, pass_len,
                                 SR_OPEN_WRITE);
    sr_vault *failed = p->writers[POOL_WRITER];
    if (st == SR_OK) {
        st = sr_vault_open_another(&p->publisher, p->writers[POOL_WRITER]);
        failed = p->publisher;
    }
    for (unsigned k = POOL_WRITER + 1; k < POOL_WRITERS && st == SR_OK; k++) {
        st = sr_vault_open_another_writer(&p->writers[k],
                                          p->writers[POOL_WRITER]);
        failed = p->writers[k];
    }
    if (st != SR_OK) {
        (void)snprintf(err, SRV_ERR_MAX, "%s",
                       failed != NULL ? sr_vault_errmsg(failed)
                                      : sr_status_str(st));
        close_handles(p);
        free(p);
        return st;
    }
    for (unsigned k = 0; k < POOL_WRITERS; k++)
        (void)pthread_mutex_init(&p->wmu[k], NULL);
    (void)pthread_mutex_init(&p->mu, NULL);
    (void)pthread_cond_init(&p->freed, NULL);
    if (max_readers == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        max_readers = cpus > 0 ? 2u * (unsigned)cpus : 4u;
    }
    p->max_open = max_readers < POOL_MAX_IDLE ? max_readers : POOL_MAX_IDLE;
    *out = p;
    return SR_OK;
}

void pool_close(srv_pool *p)
{
    if (p == NULL)
        return;
    close_handles(p);
    for (unsigned k = 0; k < POOL_WRITERS; k++)
        pthread_mutex_destroy(&p->wmu[k]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->freed);
    free(p);
}

/* Close a read handle that is not coming back; another may open. */
static void drop_reader(srv_pool *p, sr_vault *v)
{
    sr_vault_close(v);
    pthread_mutex_lock(&p->mu);
    p->nopen--;
    (void)pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

sr_vault *pool_reader(srv_pool *p, uint64_t *gen, char err[SRV_ERR_MAX])
{
    sr_vault *v = NULL;
    uint64_t fresh_in = 0;
    uint64_t now = __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&p->mu);
    while (p->nidle == 0 && p->nopen >= p->max_open)
        (void)pthread_cond_wait(&p->freed, &p->mu);
    if (p->nidle > 0) {
        p->nidle--;
        v = p->idle[p->nidle];
        fresh_in = p->idle_gen[p->nidle];
    } else {
        p->nopen++; /* opened below */
    }
    pthread_mutex_unlock(&p->mu);
    if (v == NULL) {
        /* Opening reads the writer's keys and its directory name only:
         * both fixed while the server runs, so no lock is needed. It
         * loads the policy stored now: fresh in this generation. */
        sr_status st = sr_vault_open_another(&v, p->writers[POOL_WRITER]);
        /* A read request gives its handle back before it waits for its
         * audit entry's sync (http.c, settle): fewer handles, each kept
         * warm, serve the same number of requests in flight. */
        if (st == SR_OK)
            st = sr_vault_defer_audit(v, true);
        if (st != SR_OK) {
            (void)snprintf(err, SRV_ERR_MAX, "cannot open a read handle: %s",
                           v != NULL ? sr_vault_errmsg(v) : sr_status_str(st));
            drop_reader(p, v);
            return NULL;
        }
        fresh_in = now;
    }
    if (fresh_in != now && sr_vault_refresh(v) != SR_OK) {
        (void)snprintf(err, SRV_ERR_MAX, "cannot refresh a read handle: %s",
                       sr_vault_errmsg(v));
        drop_reader(p, v);
        return NULL;
    }
    *gen = now;
    return v;
}

void pool_put_reader(srv_pool *p, sr_vault *v, uint64_t gen)
{
    if (v == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->idle_gen[p->nidle] = gen; /* nidle < max_open <= POOL_MAX_IDLE */
    p->idle[p->nidle++] = v;
    (void)pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

sr_vault *pool_writer(srv_pool *p, pool_writer_kind k)
{
    pthread_mutex_lock(&p->wmu[k]);
    return p->writers[k];
}

void pool_put_writer(srv_pool *p, pool_writer_kind k)
{
    /* What the main writer did (a policy, a principal) is committed:
     * read handles refresh before their next request. A sign-in writes a
     * token (cached tokens are checked again: the family's generation
     * moved on) and an import people: nothing a reader keeps. */
    if (k == POOL_WRITER)
        __atomic_fetch_add(&p->gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&p->wmu[k]);
}

void pool_checkpoint(srv_pool *p)
{
    sr_audit_stats as;
    if (sr_vault_audit_stats(p->publisher, &as) != SR_OK ||
        as.entries == p->published)
        return;
    char *note = NULL;
    uint64_t size = 0;
    if (sr_vault_audit_checkpoint(p->publisher, &note, &size) == SR_OK)
        p->published = size;
    else
        (void)fprintf(stderr, "strongroom serve: checkpoint failed: %s\n",
                      sr_vault_errmsg(p->publisher));
    free(note);
}
