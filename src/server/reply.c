/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reply.c - what the server sends back: JSON and text bodies, and errors
 * as RFC 9457 problem details with a stable type per kind. A problem never
 * carries a stack trace, an identifier, or a hint whether a person exists:
 * its detail is the vault's message (written never to hold an identifier)
 * or a fixed text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "server/server.h"

typedef struct problem_def {
    const char *slug;
    unsigned status;
    const char *title;
} problem_def;

static const problem_def problems[P_KIND_COUNT] = {
    [P_BAD_REQUEST] = {"bad-request", 400, "The request is malformed"},
    [P_INVALID] = {"invalid", 422, "The vault refused the request's content"},
    [P_UNAUTHORIZED] = {"unauthorized", 401, "Authentication failed"},
    [P_CERT_UNTRUSTED] = {"client-certificate-untrusted", 401,
                          "The client certificate is not trusted"},
    [P_AMBIGUOUS] = {"ambiguous-credentials", 400,
                     "Both a client certificate and a token were presented"},
    [P_DENIED] = {"denied", 403, "The policy does not allow this"},
    [P_NOT_FOUND] = {"not-found", 404, "Not found"},
    [P_METHOD] = {"method-not-allowed", 405, "Method not allowed"},
    [P_TIMEOUT] = {"request-timeout", 408, "The request took too long"},
    [P_CONFLICT] = {"conflict", 409, "Conflict with what is stored"},
    [P_TOO_LARGE] = {"payload-too-large", 413, "The request body is too large"},
    [P_LENGTH] = {"length-required", 411,
                  "The body must come with a Content-Length"},
    [P_MEDIA_TYPE] = {"unsupported-media-type", 415,
                      "Unsupported content type"},
    [P_TOO_MANY] = {"too-many-requests", 429, "Too many requests"},
    [P_INTERNAL] = {"internal", 500, "Internal error"},
    [P_AUDIT] = {"audit-unavailable", 503,
                 "The audit log cannot be written; nothing was revealed"},
    [P_UNAVAILABLE] = {"unavailable", 503, "The server is shutting down"},
    [P_FULL] = {"storage-full", 507, "The vault's disk is full"},
    [P_CSRF] = {"csrf", 403,
                "The console's request lacks its session's CSRF token"},
};

const char *problem_slug(problem_kind k)
{
    return k < P_KIND_COUNT ? problems[k].slug : "internal";
}

unsigned problem_status(problem_kind k)
{
    return k < P_KIND_COUNT ? problems[k].status : 500;
}

/* ---- strbuf -------------------------------------------------------------- */

static void sb_grow(strbuf *b, size_t need)
{
    if (b->failed)
        return;
    if (b->len + need + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return;
        }
        cap *= 2;
    }
    char *p = malloc(cap);
    if (p == NULL) {
        b->failed = true;
        return;
    }
    if (b->p != NULL) {
        memcpy(p, b->p, b->len);
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
}

void sb_add(strbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_str(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_fmt(strbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    sb_add(b, tmp, (size_t)n);
}

void sb_free(strbuf *b)
{
    if (b->p != NULL) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/* ---- responses ----------------------------------------------------------- */

void wipe_free(char *p, size_t n)
{
    if (p != NULL)
        sodium_memzero(p, n);
    free(p);
}

/* libmicrohttpd's free callback for a sent body; it passes no length, so
 * the buffer is preceded by it. */
static void free_sent(void *p)
{
    if (p == NULL)
        return;
    size_t *head = (size_t *)p - 1;
    sodium_memzero(head, *head + sizeof *head);
    free(head);
}

static void set_response(req *r, unsigned status, const char *ctype,
                         struct MHD_Response *resp)
{
    if (resp == NULL) {
        r->status = 500;
        r->resp = MHD_create_response_from_buffer(0, (void *)"",
                                                  MHD_RESPMEM_PERSISTENT);
        return;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    r->resp = resp;
    r->status = status;
}

void reply_owned(req *r, unsigned status, const char *ctype, char *buf,
                 size_t len)
{
    if (r->resp != NULL) {
        wipe_free(buf, len);
        return;
    }
    /* Copy behind a length header so the free callback can wipe it. */
    size_t *head = malloc(sizeof *head + len + 1);
    struct MHD_Response *resp = NULL;
    if (head != NULL) {
        *head = len + 1;
        char *p = (char *)(head + 1);
        if (len > 0)
            memcpy(p, buf, len);
        p[len] = '\0';
        resp = MHD_create_response_from_buffer_with_free_callback(len, p,
                                                                  free_sent);
        if (resp == NULL)
            free_sent(p);
    }
    wipe_free(buf, len);
    set_response(r, status, ctype, resp);
}

void reply_text(req *r, unsigned status, const char *ctype, const char *text,
                size_t len)
{
    if (r->resp != NULL)
        return;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)text, MHD_RESPMEM_MUST_COPY);
    set_response(r, status, ctype, resp);
}

void reply_sb(req *r, unsigned status, strbuf *b)
{
    if (b->failed) {
        sb_free(b);
        reply_problem(r, P_INTERNAL, NULL);
        return;
    }
    char *p = b->p;
    size_t n = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    reply_owned(r, status, "application/json", p, n);
}

void reply_json(req *r, unsigned status, json_t *o)
{
    size_t n = o != NULL ? json_dumpb(o, NULL, 0, JSON_COMPACT) : 0;
    char *p = n > 0 ? malloc(n) : NULL;
    if (p == NULL || json_dumpb(o, p, n, JSON_COMPACT) != n) {
        free(p);
        json_decref(o);
        reply_problem(r, P_INTERNAL, NULL);
        return;
    }
    json_decref(o);
    reply_owned(r, status, "application/json", p, n);
}

void reply_header(req *r, const char *name, const char *value)
{
    if (r->resp != NULL)
        (void)MHD_add_response_header(r->resp, name, value);
}

void reply_problem(req *r, problem_kind k, const char *detail)
{
    if (r->resp != NULL)
        return;
    if (k >= P_KIND_COUNT)
        k = P_INTERNAL;
    const problem_def *d = &problems[k];
    char type[96];
    (void)snprintf(type, sizeof type, "urn:strongroom:problem:%s", d->slug);
    json_t *o = json_pack("{s:s, s:s, s:i}", "type", type, "title", d->title,
                          "status", (json_int_t)d->status);
    if (o != NULL && detail != NULL && detail[0] != '\0')
        (void)json_object_set_new(o, "detail", json_string(detail));
    if (o != NULL && r->rt != NULL)
        (void)json_object_set_new(o, "instance", json_string(r->rt->path));
    size_t n = o != NULL ? json_dumpb(o, NULL, 0, JSON_COMPACT) : 0;
    char *p = n > 0 ? malloc(n) : NULL;
    if (p != NULL && json_dumpb(o, p, n, JSON_COMPACT) != n) {
        free(p);
        p = NULL;
    }
    json_decref(o);
    if (p == NULL)
        set_response(r, d->status, "application/problem+json", NULL);
    else
        reply_owned(r, d->status, "application/problem+json", p, n);
    if (k == P_UNAUTHORIZED)
        reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                     "Bearer realm=\"strongroom\"");
    if (k == P_UNAVAILABLE || k == P_AUDIT)
        reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "5");
}

void reply_status(req *r, sr_status st, const sr_vault *v)
{
    const char *msg = v != NULL ? sr_vault_errmsg(v) : NULL;
    switch (st) {
    case SR_OK:
        reply_problem(r, P_INTERNAL, NULL);
        return;
    case SR_ERR_INVALID:
    case SR_ERR_VERSION:
        reply_problem(r, P_INVALID, msg);
        return;
    case SR_ERR_NOT_FOUND:
        reply_problem(r, P_NOT_FOUND, msg);
        return;
    case SR_ERR_DUPLICATE:
        /* The vault's message names the person holding the SSN: over the
         * network that would turn put into an SSN-to-id lookup. */
        reply_problem(r, P_CONFLICT,
                      "a person with this SSN is already stored");
        return;
    case SR_ERR_EXISTS:
    case SR_ERR_CONFLICT:
        reply_problem(r, P_CONFLICT, msg);
        return;
    case SR_ERR_AUTH:
        metrics_auth_failure();
        reply_problem(r, P_UNAUTHORIZED,
                      "the credentials are not valid (unknown, expired, "
                      "revoked, or the principal is disabled)");
        return;
    case SR_ERR_DENIED:
        metrics_denial();
        reply_problem(r, P_DENIED, msg);
        return;
    case SR_ERR_AUDIT:
        (void)fprintf(stderr, "strongroom serve: %s: %s\n",
                      r->rt != NULL ? r->rt->path : "-",
                      msg != NULL ? msg : "the audit log failed");
        reply_problem(r, P_AUDIT, NULL);
        return;
    case SR_ERR_FULL:
        reply_problem(r, P_FULL, NULL);
        return;
    case SR_ERR_LOCKED:
        reply_problem(r, P_UNAVAILABLE, "the vault is busy");
        return;
    case SR_ERR_CORRUPT:
    case SR_ERR_IO:
    case SR_ERR_NOMEM:
    case SR_ERR_NOT_VAULT:
    case SR_ERR_INTERNAL:
    default:
        /* The operator's copy: the vault's messages name no identifier
         * (a damaged record is named by its random id). */
        (void)fprintf(stderr, "strongroom serve: %s: %s: %s\n",
                      r->rt != NULL ? r->rt->path : "-", sr_status_str(st),
                      msg != NULL ? msg : "");
        reply_problem(r, P_INTERNAL, "internal error; see the server log");
        return;
    }
}
