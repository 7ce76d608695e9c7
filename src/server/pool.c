/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c - the server's vault handles. A vault has one writer per
 * process: it is opened with the passphrase at start and lent to one
 * request at a time. Reads use handles opened from it on demand
 * (sr_vault_open_another shares its keys) and kept for the next request,
 * so concurrent reads never wait on one another; each is refreshed before
 * use so a policy stored through the writer applies at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define POOL_MAX_IDLE 1024

struct srv_pool {
    sr_vault *writer;
    sr_vault *publisher; /* the checkpointer thread's own handle */
    pthread_mutex_t wmu;
    pthread_mutex_t mu;
    sr_vault *idle[POOL_MAX_IDLE];
    size_t nidle;
    uint64_t published; /* tree size of the last checkpoint */
};

sr_status pool_open(srv_pool **out, const char *dir, const char *pass,
                    size_t pass_len, char err[SRV_ERR_MAX])
{
    srv_pool *p = calloc(1, sizeof *p);
    *out = NULL;
    if (p == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    sr_status st =
        sr_vault_open(&p->writer, dir, pass, pass_len, SR_OPEN_WRITE);
    if (st != SR_OK) {
        (void)snprintf(err, SRV_ERR_MAX, "%s",
                       p->writer != NULL ? sr_vault_errmsg(p->writer)
                                         : sr_status_str(st));
        sr_vault_close(p->writer);
        free(p);
        return st;
    }
    st = sr_vault_open_another(&p->publisher, p->writer);
    if (st != SR_OK) {
        (void)snprintf(err, SRV_ERR_MAX, "%s",
                       p->publisher != NULL ? sr_vault_errmsg(p->publisher)
                                            : sr_status_str(st));
        sr_vault_close(p->publisher);
        sr_vault_close(p->writer);
        free(p);
        return st;
    }
    (void)pthread_mutex_init(&p->wmu, NULL);
    (void)pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return SR_OK;
}

void pool_close(srv_pool *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        sr_vault_close(p->idle[i]);
    sr_vault_close(p->publisher);
    sr_vault_close(p->writer); /* the last handle: it checkpoints */
    pthread_mutex_destroy(&p->wmu);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

sr_vault *pool_reader(srv_pool *p, char err[SRV_ERR_MAX])
{
    sr_vault *v = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nidle > 0)
        v = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    if (v == NULL) {
        /* Opening reads the writer's keys and its directory name only:
         * both fixed while the server runs, so no lock is needed. */
        sr_status st = sr_vault_open_another(&v, p->writer);
        if (st != SR_OK) {
            (void)snprintf(err, SRV_ERR_MAX, "cannot open a read handle: %s",
                           v != NULL ? sr_vault_errmsg(v) : sr_status_str(st));
            sr_vault_close(v);
            return NULL;
        }
    }
    if (sr_vault_refresh(v) != SR_OK) {
        (void)snprintf(err, SRV_ERR_MAX, "cannot refresh a read handle: %s",
                       sr_vault_errmsg(v));
        sr_vault_close(v);
        return NULL;
    }
    return v;
}

void pool_put_reader(srv_pool *p, sr_vault *v)
{
    if (v == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->nidle < POOL_MAX_IDLE) {
        p->idle[p->nidle++] = v;
        v = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    sr_vault_close(v);
}

sr_vault *pool_writer(srv_pool *p)
{
    pthread_mutex_lock(&p->wmu);
    return p->writer;
}

void pool_put_writer(srv_pool *p)
{
    pthread_mutex_unlock(&p->wmu);
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
