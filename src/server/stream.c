/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.c - replies written by a thread of their own as they go (an
 * export of every person), without holding a worker thread. The handler
 * calls stream_start; once the connection is suspended the producer runs
 * on a new thread and writes through a pipe. Its first write decides the
 * reply (200 and a chunked body read from the pipe); a failure before
 * that is an ordinary problem reply. libmicrohttpd pulls the body with a
 * content reader: when the pipe is empty the reader suspends the
 * connection and the producer's next write (or its end) resumes it, so
 * no worker waits on the producer. A client that stops reading stops the
 * producer (the pipe fills) and one that goes away ends it (its writes
 * fail). On SIGTERM, stream_cancel_all stops every producer at its next
 * write.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "server/server.h"

#define STREAM_BUF (64u * 1024u) /* written to the pipe when full */
#define STREAM_POLL_MS 200       /* a blocked writer checks for cancel */

struct srv_stream {
    req *r; /* until the reply is decided; then NULL */
    struct MHD_Connection *conn;
    const char *ctype;
    stream_fn fn;
    void (*drop)(void *ctx);
    void *ctx;
    int rfd, wfd;
    char *buf; /* sodium_malloc: the lines not yet in the pipe */
    size_t len;
    pthread_mutex_t mu;
    bool waiting; /* the reader suspended the connection for data */
    bool closed;  /* the response is gone (sent, or the client left) */
    bool ok;      /* the producer ended well: the body ends cleanly */
    bool failed;  /* a write failed: everything after it is refused */
    unsigned refs;
};

static atomic_uint running;
static atomic_bool cancelled;

static void stream_unref(srv_stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    if (s->rfd >= 0)
        (void)close(s->rfd);
    if (s->wfd >= 0)
        (void)close(s->wfd);
    sodium_free(s->buf);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Resume the connection if the reader is waiting for what was just
 * written (or for the end). */
static void wake(srv_stream *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->waiting && !s->closed) {
        s->waiting = false;
        MHD_resume_connection(s->conn);
    }
    pthread_mutex_unlock(&s->mu);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    srv_stream *s = cls;
    (void)pos;
    pthread_mutex_lock(&s->mu);
    ssize_t n = read(s->rfd, out, max);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        /* Nothing yet: the producer's next write resumes us. It takes
         * this lock first, so it cannot write and miss the flag. */
        s->waiting = true;
        MHD_suspend_connection(s->conn);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    bool ok = s->ok;
    pthread_mutex_unlock(&s->mu);
    if (n > 0)
        return n;
    /* The end of the pipe: a clean end only if the producer ended well;
     * otherwise the body is cut off, which the client sees. */
    return n == 0 && ok ? MHD_CONTENT_READER_END_OF_STREAM
                        : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_gone(void *cls)
{
    srv_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    /* The producer's next write fails (EPIPE) and it stops. */
    (void)close(s->rfd);
    s->rfd = -1;
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

/* The reply: 200 with the body from the pipe. Before this, s->r is the
 * request's; after the resume it is not ours to touch. */
static void decide(srv_stream *s)
{
    req *r = s->r;
    s->r = NULL;
    if (r->resp == NULL) {
        struct MHD_Response *resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, STREAM_BUF, stream_read, s, stream_gone);
        if (resp != NULL) {
            s->refs++; /* the response's; under no lock: not shared yet */
            r->resp = resp;
            r->status = 200;
            reply_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, s->ctype);
            reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        } else {
            reply_problem(r, P_INTERNAL, NULL);
        }
    }
    MHD_resume_connection(s->conn);
}

/* Write everything buffered to the pipe, waiting while it is full. */
static bool drain(srv_stream *s)
{
    size_t off = 0;
    while (off < s->len && !s->failed) {
        ssize_t n = write(s->wfd, s->buf + off, s->len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && !atomic_load(&cancelled)) {
            struct pollfd p = {s->wfd, POLLOUT, 0};
            (void)poll(&p, 1, STREAM_POLL_MS);
            continue;
        }
        s->failed = true; /* the client left (EPIPE), or SIGTERM */
    }
    sodium_memzero(s->buf, s->len);
    s->len = 0;
    return !s->failed;
}

bool stream_write(srv_stream *s, const char *data, size_t len)
{
    if (s->failed || atomic_load(&cancelled)) {
        s->failed = true;
        return false;
    }
    while (len > 0) {
        size_t n = STREAM_BUF - s->len < len ? STREAM_BUF - s->len : len;
        memcpy(s->buf + s->len, data, n);
        s->len += n;
        data += n;
        len -= n;
        if (s->len == STREAM_BUF) {
            if (s->r != NULL)
                decide(s);
            bool ok = drain(s);
            wake(s);
            if (!ok)
                return false;
        }
    }
    return true;
}

req *stream_req(srv_stream *s)
{
    return s->r;
}

static void *stream_main(void *arg)
{
    srv_stream *s = arg;
    bool ok = s->fn(s, s->ctx);
    if (!ok && s->r != NULL && s->r->resp == NULL)
        reply_problem(s->r, P_INTERNAL, NULL);
    /* The end: what is still buffered goes out, unless the producer
     * failed (before the reply was decided: its problem is the reply;
     * after: the body is cut off). */
    ok = ok && !s->failed && (s->r == NULL || s->r->resp == NULL);
    if (ok) {
        if (s->r != NULL)
            decide(s);
        ok = drain(s);
    } else {
        sodium_memzero(s->buf, s->len);
        s->len = 0;
        ok = false;
        if (s->r != NULL)
            decide(s); /* its problem reply */
    }
    pthread_mutex_lock(&s->mu);
    s->ok = ok && !s->failed;
    (void)close(s->wfd);
    s->wfd = -1;
    pthread_mutex_unlock(&s->mu);
    wake(s);
    stream_unref(s);
    atomic_fetch_sub(&running, 1);
    return NULL;
}

/* Called by http.c once the connection is suspended. */
static void stream_park(req *r)
{
    srv_stream *s = r->park_ctx;
    pthread_t t;
    pthread_attr_t a;
    bool started = pthread_attr_init(&a) == 0;
    if (started) {
        (void)pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        atomic_fetch_add(&running, 1);
        started = pthread_create(&t, &a, stream_main, s) == 0;
        if (!started)
            atomic_fetch_sub(&running, 1);
        (void)pthread_attr_destroy(&a);
    }
    if (started)
        return;
    s->r = NULL;
    reply_problem(r, P_INTERNAL, "internal error; see the server log");
    (void)fprintf(stderr, "strongroom serve: cannot start a stream thread\n");
    s->drop(s->ctx);
    stream_unref(s);
    MHD_resume_connection(r->conn);
}

bool stream_start(req *r, const char *ctype, stream_fn fn,
                  void (*drop)(void *ctx), void *ctx)
{
    srv_stream *s = calloc(1, sizeof *s);
    int p[2] = {-1, -1};
    if (s == NULL || (s->buf = sodium_malloc(STREAM_BUF)) == NULL ||
        pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        if (s != NULL)
            sodium_free(s->buf);
        free(s);
        reply_problem(r, P_INTERNAL, "internal error; see the server log");
        return false;
    }
    (void)pthread_mutex_init(&s->mu, NULL);
    s->r = r;
    s->conn = r->conn;
    s->ctype = ctype;
    s->fn = fn;
    s->drop = drop;
    s->ctx = ctx;
    s->rfd = p[0];
    s->wfd = p[1];
    s->refs = 1; /* the producer's */
    r->park = stream_park;
    r->park_ctx = s;
    r->suspend = true;
    return true;
}

void stream_cancel_all(void)
{
    atomic_store(&cancelled, true);
}

unsigned stream_running(void)
{
    return atomic_load(&running);
}
