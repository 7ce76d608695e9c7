/* SPDX-License-Identifier: Apache-2.0 */
/*
 * settle.c - replies that wait for their audit entry without holding a
 * worker thread. A read's entry must be durable before anything it read
 * is sent (log-then-reveal). Waiting for the sync in the worker thread
 * would stall every other connection that thread serves, so a read
 * handler queues its entry (read handles defer their syncs), gives its
 * vault handle back and hands the request here (srv_reveal); its
 * connection is suspended. Settler threads wait for each entry in turn
 * (the first wait leads one sync for every entry queued by then, so the
 * later waits mostly return at once), build the reply with the entry's
 * index, and resume the connection, whose worker then sends it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "server/server.h"

struct srv_settler {
    pthread_mutex_t mu;
    pthread_cond_t more;
    req *head, *tail;
    bool stop;
    unsigned nthreads;
    pthread_t threads[SETTLER_THREADS_MAX];
};

/* Wait for r's entry, then build its reply (or an audit problem). */
static void settle_one(req *r)
{
    char msg[SRV_ERR_MAX];
    uint64_t e = UINT64_MAX;
    sr_audit_ticket *t = r->ticket;
    r->ticket = NULL;
    if (sr_audit_ticket_wait(t, &e, msg, sizeof msg) != SR_OK) {
        (void)fprintf(stderr, "strongroom serve: %s: %s\n",
                      r->rt != NULL ? r->rt->path : "-", msg);
        r->audit_failed = true;
        sb_free(&r->held); /* wiped: nothing of it may be sent */
        reply_problem(r, P_AUDIT, NULL);
    } else {
        r->entry = e;
        r->finish(r);
    }
    if (r->resp == NULL)
        reply_problem(r, P_INTERNAL, NULL);
}

static void *settler_main(void *arg)
{
    srv_settler *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->head == NULL && !q->stop)
            (void)pthread_cond_wait(&q->more, &q->mu);
        req *r = q->head;
        if (r == NULL)
            break; /* stopping, and nothing left */
        q->head = r->next_settle;
        if (q->head == NULL)
            q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        settle_one(r);
        /* The worker sends the reply once the connection is resumed (and
         * may free r at once): r is not touched after this. */
        MHD_resume_connection(r->conn);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

sr_status settler_start(srv_settler **out, unsigned n, char err[SRV_ERR_MAX])
{
    srv_settler *q = calloc(1, sizeof *q);
    *out = NULL;
    if (q == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "out of memory");
        return SR_ERR_NOMEM;
    }
    (void)pthread_mutex_init(&q->mu, NULL);
    (void)pthread_cond_init(&q->more, NULL);
    if (n == 0 || n > SETTLER_THREADS_MAX)
        n = SETTLER_THREADS_MAX;
    for (; q->nthreads < n; q->nthreads++) {
        if (pthread_create(&q->threads[q->nthreads], NULL, settler_main, q) !=
            0) {
            (void)snprintf(err, SRV_ERR_MAX, "cannot start a settler thread");
            settler_stop(q);
            return SR_ERR_INTERNAL;
        }
    }
    *out = q;
    return SR_OK;
}

void settler_push(srv_settler *q, req *r)
{
    r->next_settle = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail != NULL)
        q->tail->next_settle = r;
    else
        q->head = r;
    q->tail = r;
    (void)pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->mu);
}

void settler_stop(srv_settler *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    (void)pthread_cond_broadcast(&q->more);
    pthread_mutex_unlock(&q->mu);
    /* Each thread empties the queue before it ends: every suspended
     * connection is resumed. */
    for (unsigned i = 0; i < q->nthreads; i++)
        (void)pthread_join(q->threads[i], NULL);
    pthread_cond_destroy(&q->more);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
