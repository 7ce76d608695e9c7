/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline_http.c - `strongroom hotline serve`: a hotline node over HTTPS
 * (libmicrohttpd with GnuTLS, as `strongroom serve`), and its delivery
 * loop. A thin caller of the node facade (strongroom/hotline.h):
 *
 *   POST /hotline/v1/messages   a message from a peer (application/json,
 *                               at most one envelope's length); 200 with
 *                               this node's signed receipt, or a problem
 *                               (400, 403, 409, 413, 500)
 *   GET  /hotline/log/...       the node's transparency log, C2SP
 *                               tlog-tiles (checkpoint, tile/...), as
 *                               `strongroom serve` serves a vault's /log/
 *   GET  /healthz               200 "ok"
 *
 * One request at a time (libmicrohttpd's internal thread): a node takes
 * its messages in order anyway. Beside it, every `interval` seconds, the
 * delivery loop sends what is queued (sr_hotline_deliver, on a second
 * handle of its own). SIGINT or SIGTERM stops both after the request in
 * hand.
 */
#include <errno.h>
#include <pthread.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "hotline/message.h"
#include "server/server.h"
#include "strongroom/hotline.h"

typedef struct hl_conn {
    char *buf;
    size_t len, cap; /* cap: the request's Content-Length */
    bool too_long;
    bool cosig; /* POST /hotline/v1/cosignatures */
} hl_conn;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code,
                              const char *type, const char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, "Content-Type", type) == MHD_YES &&
        MHD_add_response_header(r, "Cache-Control", "no-store") == MHD_YES)
        ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* An RFC 9457 problem; detail is the node's message (fixed phrases, node
 * names, case ids and numbers: never a body). */
static enum MHD_Result problem(struct MHD_Connection *c, unsigned code,
                               const char *slug, const char *detail)
{
    static const struct {
        const char *slug, *title;
    } titles[] = {
        {"bad-message", "The message is malformed or does not open"},
        {"not-accepted", "The message is not for this node, or not from a "
                         "peer"},
        {"sequence", "The message is out of order, or a replay"},
        {"not-found", "No such route"},
        {"method-not-allowed", "Method not allowed"},
        {"length-required", "Content-Length required"},
        {"too-large", "The message is too large"},
        {"internal", "Internal error"},
    };
    const char *title = "Error";
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (strcmp(titles[i].slug, slug) == 0)
            title = titles[i].title;
    char body[900], safe[600];
    size_t n = 0;
    for (const char *p = detail; *p != '\0' && n + 1 < sizeof safe; p++)
        safe[n++] =
            *p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '\'' : *p;
    safe[n] = '\0';
    int len = snprintf(body, sizeof body,
                       "{\"type\":\"urn:strongroom:problem:%s\","
                       "\"title\":\"%s\",\"status\":%u,\"detail\":\"%s\"}",
                       slug, title, code, safe);
    if (len < 0 || (size_t)len >= sizeof body)
        len = 0;
    return answer(c, code, "application/problem+json", body, (size_t)len);
}

static unsigned code_for(sr_status st, const char **slug)
{
    switch (st) {
    case SR_ERR_INVALID:
    case SR_ERR_VERSION:
    case SR_ERR_CORRUPT:
        *slug = "bad-message";
        return 400;
    case SR_ERR_AUTH:
        *slug = "not-accepted";
        return 403;
    case SR_ERR_CONFLICT:
        *slug = "sequence";
        return 409;
    default:
        *slug = "internal";
        return 500;
    }
}

#define BATCH_MAX 1024u /* messages in one POST */

/* A batch: one envelope a line (application/x-ndjson). The answer is one
 * line for each, in order: the receipt, or a problem object
 * {"problem":SLUG,"status":CODE,"detail":...}. */
static enum MHD_Result take_batch(struct MHD_Connection *c, sr_hotline *node,
                                  hl_conn *hc)
{
    const char *envs[BATCH_MAX];
    size_t lens[BATCH_MAX], n = 0;
    for (size_t at = 0; at < hc->len;) {
        const char *nl = memchr(hc->buf + at, '\n', hc->len - at);
        size_t end = nl != NULL ? (size_t)(nl - hc->buf) : hc->len;
        if (end > at) {
            if (n == BATCH_MAX)
                return problem(c, 413, "too-large",
                               "more messages than a batch may hold");
            envs[n] = hc->buf + at;
            lens[n++] = end - at;
        }
        at = end + 1;
    }
    sr_hotline_taken *t = calloc(n > 0 ? n : 1, sizeof *t);
    if (t == NULL)
        return MHD_NO;
    sr_status st = sr_hotline_receive_batch(node, envs, lens, n, t);
    if (st != SR_OK) {
        const char *slug;
        unsigned code = code_for(st, &slug);
        free(t);
        (void)fprintf(stderr, "strongroom hotline serve: batch: %u %s\n", code,
                      sr_hotline_errmsg(node));
        return problem(c, code, slug, sr_hotline_errmsg(node));
    }
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < n; i++)
        cap += (t[i].status == SR_OK ? t[i].receipt_len : 800) + 1;
    char *out = malloc(cap);
    for (size_t i = 0; i < n && out != NULL; i++) {
        if (t[i].status == SR_OK) {
            memcpy(out + len, t[i].receipt, t[i].receipt_len);
            len += t[i].receipt_len;
        } else {
            char safe[600];
            const char *slug;
            unsigned code = code_for(t[i].status, &slug);
            size_t k = 0;
            for (const char *p = t[i].msg; *p != '\0' && k + 1 < sizeof safe;
                 p++)
                safe[k++] = *p == '"' || *p == '\\' || (unsigned char)*p < 0x20
                                ? '\''
                                : *p;
            safe[k] = '\0';
            int w = snprintf(out + len, cap - len,
                             "{\"problem\":\"%s\",\"status\":%u,"
                             "\"detail\":\"%s\"}",
                             slug, code, safe);
            if (w > 0 && (size_t)w < cap - len)
                len += (size_t)w;
        }
        out[len++] = '\n';
    }
    for (size_t i = 0; i < n; i++)
        sr_hotline_free(t[i].receipt);
    free(t);
    if (out == NULL)
        return MHD_NO;
    enum MHD_Result r = answer(c, 200, "application/x-ndjson", out, len);
    free(out);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    sr_hotline *node = cls;
    hl_conn *hc = *state;
    (void)version;
    if (hc == NULL) {
        if (strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0)
            return answer(c, 200, "text/plain", "ok\n", 3);
        if (strcmp(method, "GET") == 0 &&
            strncmp(url, "/hotline/log/", 13) == 0) {
            struct MHD_Response *r =
                srv_log_file(sr_hotline_log_dir(node), url + 13);
            if (r == NULL)
                return problem(c, 404, "not-found", "no such log file");
            enum MHD_Result ret = MHD_queue_response(c, 200, r);
            MHD_destroy_response(r);
            return ret;
        }
        bool cosig = strcmp(url, "/hotline/v1/cosignatures") == 0;
        if (strcmp(url, "/hotline/v1/messages") != 0 && !cosig)
            return problem(c, 404, "not-found", "no such route");
        if (strcmp(method, "POST") != 0)
            return problem(c, 405, "method-not-allowed", "POST only");
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl == NULL)
            return problem(c, 411, "length-required",
                           "send the message with a Content-Length");
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        /* One envelope, or a batch: at most BATCH_BYTES (the sender's
         * bound) unless one message alone is longer. */
        if (errno != 0 || end == cl || *end != '\0' ||
            n > HL_ENVELOPE_MAX + BATCH_MAX)
            return problem(c, 413, "too-large", "longer than a message can be");
        hc = calloc(1, sizeof *hc);
        if (hc == NULL || (hc->buf = malloc((size_t)n + 1)) == NULL) {
            free(hc);
            return MHD_NO;
        }
        hc->cap = (size_t)n;
        hc->cosig = cosig;
        *state = hc;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (*upload_size > hc->cap - hc->len)
            hc->too_long = true;
        else {
            memcpy(hc->buf + hc->len, upload, *upload_size);
            hc->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (hc->too_long)
        return problem(c, 413, "too-large", "longer than its Content-Length");
    if (hc->cosig) {
        sr_status st = sr_hotline_take_cosignature(node, hc->buf, hc->len);
        if (st == SR_OK)
            return answer(c, 204, "text/plain", "", 0);
        const char *slug;
        unsigned code = code_for(st, &slug);
        (void)fprintf(stderr, "strongroom hotline serve: cosignature: %u %s\n",
                      code, sr_hotline_errmsg(node));
        return problem(c, code, slug, sr_hotline_errmsg(node));
    }
    const char *ctype =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (ctype != NULL && strncmp(ctype, "application/x-ndjson", 20) == 0)
        return take_batch(c, node, hc);
    char *receipt = NULL;
    size_t rlen = 0;
    sr_status st = sr_hotline_receive(node, hc->buf, hc->len, &receipt, &rlen);
    if (st != SR_OK) {
        const char *slug;
        unsigned code = code_for(st, &slug);
        (void)fprintf(stderr, "strongroom hotline serve: %u %s\n", code,
                      sr_hotline_errmsg(node));
        return problem(c, code, slug, sr_hotline_errmsg(node));
    }
    enum MHD_Result r = answer(c, 200, "application/json", receipt, rlen);
    sr_hotline_free(receipt);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    hl_conn *hc = *state;
    if (hc != NULL) {
        free(hc->buf);
        free(hc);
        *state = NULL;
    }
}

/* A peer's log that could not be checked is said once a round; one
 * caught rewritten is said loudly. */
static sr_status report_witness(void *ctx, const char *peer, sr_status st,
                                int fork, const char *why)
{
    (void)ctx;
    if (st != SR_OK)
        (void)fprintf(stderr, "strongroom hotline serve: witness %s: %s%s\n",
                      peer, fork ? "REWRITTEN OR ROLLED BACK: " : "", why);
    return SR_OK;
}

int hotline_serve(const hotline_serve_config *cfg, char err[SRV_ERR_MAX])
{
    struct sockaddr_storage ss;
    bool v6 = false, loopback = false, tls = cfg->tls_cert != NULL;
    char *cert = NULL, *key = NULL;
    sr_hotline *in = NULL, *out = NULL;
    struct MHD_Daemon *d = NULL;
    int ret = 1;
    sigset_t stop;

    if (!srv_parse_listen(cfg->listen, &ss, &v6, &loopback, err))
        return 2;
    if (!tls && !(cfg->insecure_loopback && loopback)) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "give --tls-cert and --tls-key, or --insecure-loopback "
                       "with a loopback --listen address");
        return 2;
    }
    if (tls && (cfg->tls_key == NULL ||
                !srv_read_pem(cfg->tls_cert, &cert, false, err) ||
                !srv_read_pem(cfg->tls_key, &key, true, err)))
        goto done;
    sr_status st = sr_hotline_open(&in, cfg->dir);
    if (st != SR_OK) {
        (void)snprintf(err, SRV_ERR_MAX, "%s", sr_hotline_errmsg(in));
        goto done;
    }
    st = sr_hotline_open(&out, cfg->dir);
    if (st != SR_OK) {
        (void)snprintf(err, SRV_ERR_MAX, "%s", sr_hotline_errmsg(out));
        goto done;
    }
    /* SIGINT and SIGTERM are waited for, not handled. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
        (void)snprintf(err, SRV_ERR_MAX, "cannot block SIGINT and SIGTERM");
        goto done;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0) |
                     (v6 ? MHD_USE_IPv6 : 0);
    if (tls)
        d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, in, MHD_OPTION_SOCK_ADDR, &ss,
            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT,
            64u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
            MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
            MHD_OPTION_HTTPS_PRIORITIES,
            "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
    else
        d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, in, MHD_OPTION_SOCK_ADDR, &ss,
            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT,
            64u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
            MHD_OPTION_END);
    if (d == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "cannot listen on %s: %s", cfg->listen,
                       strerror(errno));
        goto done;
    }
    (void)fprintf(stderr, "strongroom hotline serve: node %s on %s%s\n",
                  sr_hotline_name(in), cfg->listen,
                  tls ? "" : " (plain HTTP, loopback only)");
    (void)fflush(stderr);
    for (;;) {
        struct timespec wait = {(time_t)cfg->interval, 0};
        int sig = sigtimedwait(&stop, NULL, &wait);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        sr_hotline_delivery dl;
        unsigned long long size = 0;
        st = sr_hotline_deliver(out, 0, cfg->ca_file, &dl);
        if (sr_hotline_checkpoint(out, &size) != SR_OK)
            (void)fprintf(stderr, "strongroom hotline serve: log: %s\n",
                          sr_hotline_errmsg(out));
        if (sr_hotline_witness(out, cfg->ca_file, report_witness, NULL) !=
            SR_OK)
            (void)fprintf(stderr, "strongroom hotline serve: witness: %s\n",
                          sr_hotline_errmsg(out));
        if (st != SR_OK)
            (void)fprintf(stderr, "strongroom hotline serve: delivery: %s\n",
                          sr_hotline_errmsg(out));
        else if (dl.delivered + dl.failed > 0)
            (void)fprintf(stderr,
                          "strongroom hotline serve: delivered %u, failed "
                          "%u, waiting %u\n",
                          dl.delivered, dl.failed, dl.waiting);
    }
    ret = 0;
done:
    if (d != NULL)
        MHD_stop_daemon(d);
    sr_hotline_close(in);
    sr_hotline_close(out);
    free(cert);
    if (key != NULL)
        sodium_free(key);
    return ret;
}
