/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - the daemon. libmicrohttpd runs a pool of worker threads, each
 * polling its own connections; GnuTLS does TLS (1.3 preferred, 1.2 the least,
 * AEAD ciphers only). Each request is matched to a route, its body read
 * (bounded), its caller authenticated (a bearer token, or a client
 * certificate the client CA signed, mapped to a service account), and its
 * handler run on a vault handle from the pool. One JSON line per request
 * goes to the access log: route template, status, latency, principal and
 * the audit entry; never a path's values or a body.
 *
 * Limits: body size (413), header size (431, from libmicrohttpd),
 * idle connections (closed after idle-timeout), whole requests (a
 * connection that has not delivered a request within request-timeout is
 * shut down; a body still arriving then is refused), connections per
 * client address (closed at accept) and in all (further ones wait in the
 * kernel's queue until a place frees).
 *
 * SIGTERM or SIGINT: stop accepting, let requests in flight finish (up to
 * drain-timeout), close, checkpoint the audit log, exit 0. Every write was
 * committed and its entry synced before its response, so nothing
 * acknowledged is lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <sodium.h>

#include "server/server.h"

/* TLS 1.3 and 1.2 only; AEAD ciphers; forward-secret key exchange, X25519
 * first (the group clients offer a key share for, so a TLS 1.3 handshake
 * needs no extra round trip). */
#define DEFAULT_PRIORITIES                                                     \
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"    \
    "+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:"     \
    "+ECDHE-ECDSA:+ECDHE-RSA:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"       \
    "+GROUP-SECP384R1:+GROUP-SECP521R1:%SERVER_PRECEDENCE"

#define PEM_MAX (256u * 1024u)

/* One connection, for the request deadline. */
typedef struct conn_rec {
    int fd;
    uint64_t since; /* connect, or the end of the last response */
    bool in_request;
    struct conn_rec *prev, *next;
} conn_rec;

struct srv {
    srv_config cfg;
    srv_pool *pool;
    struct MHD_Daemon *d;
    char log_dir[SRV_PATH_MAX + 8];
    FILE *access;
    pthread_mutex_t access_mu;
    char *cert_pem, *key_pem, *ca_pem; /* key_pem: sodium_malloc */
    atomic_bool draining;
    atomic_uint active;
    pthread_mutex_t conns_mu;
    conn_rec *conns;
    pthread_t ticker;
    atomic_bool stop_ticker;
    srv_settler *settler;
    srv_throttle *throttle;
    srv_sessions *sessions;
};

const srv_config *srv_cfg(const srv *s)
{
    return &s->cfg;
}

const char *srv_log_dir(const srv *s)
{
    return s->log_dir;
}

bool srv_draining(const srv *s)
{
    return atomic_load(&s->draining);
}

srv_pool *srv_handles(srv *s)
{
    return s->pool;
}

srv_sessions *srv_session_table(srv *s)
{
    return s->sessions;
}

const char *req_query(req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_header(req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- routing ------------------------------------------------------------- */

/* Does url match the route's path? {x} segments are captured (names of
 * principals, tokens, cases, witnesses: never identifiers of people). */
static bool path_match(const route *rt, const char *url, req *r)
{
    const char *p = rt->path, *u = url;
    unsigned np = 0;
    while (*p != '\0') {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *slash = strchr(u, '/');
            size_t n = slash != NULL ? (size_t)(slash - u) : strlen(u);
            if (close == NULL || n == 0 || n > SRV_NAME_MAX || np >= 2)
                return false;
            if (r != NULL) {
                memcpy(r->param[np], u, n);
                r->param[np][n] = '\0';
            }
            np++;
            p = close + 1;
            u += n;
            continue;
        }
        if (*p != *u)
            return false;
        p++;
        u++;
    }
    if (rt->flags & R_PREFIX) {
        if (r != NULL)
            r->tail = u;
        return true;
    }
    return *u == '\0';
}

/* The route for method and url; *path_known says whether some route has
 * that path (405 rather than 404). */
static int find_route(const char *method, const char *url, req *r,
                      bool *path_known)
{
    *path_known = false;
    for (unsigned i = 0; i < srv_route_count; i++) {
        if (!path_match(&srv_routes[i], url, NULL))
            continue;
        *path_known = true;
        if (strcmp(srv_routes[i].method, method) == 0) {
            (void)path_match(&srv_routes[i], url, r);
            return (int)i;
        }
    }
    return -1;
}

static void allow_header(req *r, const char *url)
{
    char allow[64] = "";
    size_t n = 0;
    for (unsigned i = 0; i < srv_route_count; i++) {
        const char *m = srv_routes[i].method;
        if (!path_match(&srv_routes[i], url, NULL) || strstr(allow, m) != NULL)
            continue;
        int w =
            snprintf(allow + n, sizeof allow - n, "%s%s", n > 0 ? ", " : "", m);
        if (w < 0 || (size_t)w >= sizeof allow - n)
            break;
        n += (size_t)w;
    }
    reply_header(r, MHD_HTTP_HEADER_ALLOW, allow);
}

/* ---- authentication ------------------------------------------------------ */

/* The verified client certificate's common name and a credential label
 * ("x509:" and the first 16 hex digits of its SHA-256). 0: none was
 * presented; 1: trusted; -1: presented and not trusted (or unreadable). */
static int client_cert(req *r, char name[SRV_NAME_MAX + 1], char cred[32])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL || r->s->ca_pem == NULL)
        return 0;
    gnutls_session_t tls = (gnutls_session_t)ci->tls_session;
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(tls, &n);
    if (chain == NULL || n == 0)
        return 0;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(tls, &status) != GNUTLS_E_SUCCESS ||
        status != 0)
        return -1;
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
        return -1;
    int rc = -1;
    size_t len = SRV_NAME_MAX + 1;
    uint8_t fp[32];
    size_t fplen = sizeof fp;
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) ==
            GNUTLS_E_SUCCESS &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                      name, &len) == GNUTLS_E_SUCCESS &&
        len > 0 && len <= SRV_NAME_MAX &&
        gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen) ==
            GNUTLS_E_SUCCESS &&
        fplen == sizeof fp) {
        name[len] = '\0';
        char hex[17];
        (void)sodium_bin2hex(hex, sizeof hex, fp, 8);
        (void)snprintf(cred, 32, "x509:%s", hex);
        rc = 1;
    }
    gnutls_x509_crt_deinit(crt);
    return rc;
}

static const struct sockaddr *client_addr(req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci != NULL ? ci->client_addr : NULL;
}

/* An address over auth-failures-per-minute: 429, no vault, no entry. */
static bool throttled(req *r)
{
    bool first = false;
    const struct sockaddr *sa = client_addr(r);
    unsigned wait = throttle_blocked(r->s->throttle, sa, &first);
    if (wait == 0)
        return false;
    metrics_auth_throttled();
    if (first) {
        char host[64] = "?";
        if (sa != NULL && sa->sa_family == AF_INET)
            (void)inet_ntop(
                AF_INET,
                &((const struct sockaddr_in *)(const void *)sa)->sin_addr, host,
                sizeof host);
        else if (sa != NULL && sa->sa_family == AF_INET6)
            (void)inet_ntop(
                AF_INET6,
                &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                host, sizeof host);
        (void)fprintf(stderr,
                      "strongroom serve: %s made %u failed authentications "
                      "in a minute; its requests get 429 for %u s\n",
                      host, r->s->cfg.auth_failures_per_minute, wait);
    }
    char d[128], after[16];
    (void)snprintf(d, sizeof d,
                   "too many failed authentications from this address; "
                   "try again in %u s",
                   wait);
    reply_problem(r, P_TOO_MANY, d);
    (void)snprintf(after, sizeof after, "%u", wait);
    reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, after);
    return true;
}

/* A web console's request: its session cookie's token, and for a request
 * that changes something its CSRF header too. SR_ERR_DENIED with the
 * reply set for a missing or wrong CSRF token; SR_ERR_AUTH for a session
 * that does not exist or has ended. */
static sr_status session_authenticate(req *r, const char *cookie)
{
    char token[SR_TOKEN_MAX];
    size_t len = 0;
    bool safe = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    const char *csrf = NULL;
    if (!safe) {
        csrf = req_header(r, SESSION_CSRF_HEADER);
        if (csrf == NULL)
            csrf = "";
    }
    session_use u = sessions_use(r->s->sessions, cookie, csrf, token, &len);
    if (u == SESSION_BAD_CSRF) {
        reply_problem(r, P_CSRF,
                      "a request that changes something carries the "
                      "session's CSRF token in " SESSION_CSRF_HEADER);
        return SR_ERR_DENIED;
    }
    if (u != SESSION_OK)
        return SR_ERR_AUTH;
    sr_status st = sr_vault_authenticate_request(r->v, token, len);
    sodium_memzero(token, sizeof token);
    return st;
}

/* Authenticate r's caller on r->v; false with a reply set on failure. */
static bool authenticate(req *r)
{
    char name[SRV_NAME_MAX + 1], cred[32];
    const char *authz = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    int cert = client_cert(r, name, cred);
    sr_status st;
    if ((cert != 0 || authz != NULL) && throttled(r))
        return false;
    if (cert < 0) {
        throttle_failure(r->s->throttle, client_addr(r));
        metrics_auth_failure();
        reply_problem(r, P_CERT_UNTRUSTED,
                      "the client certificate is not signed by a trusted "
                      "authority, has expired, or cannot be read");
        return false;
    }
    if (cert > 0 && authz != NULL) {
        reply_problem(r, P_AMBIGUOUS,
                      "present a client certificate or a bearer token, not "
                      "both");
        return false;
    }
    const char *cookie = cert == 0 && authz == NULL
                             ? MHD_lookup_connection_value(
                                   r->conn, MHD_COOKIE_KIND, SESSION_COOKIE)
                             : NULL;
    if (cookie != NULL) {
        st = session_authenticate(r, cookie);
        if (st == SR_ERR_DENIED)
            return false; /* the reply is set */
    } else if (cert > 0) {
        st = sr_vault_authenticate_service(r->v, name, cred);
    } else {
        if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0) {
            /* The one 401 for every failure (docs/server.md). */
            reply_status(r, SR_ERR_AUTH, NULL);
            return false;
        }
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        st = sr_vault_authenticate_request(r->v, tok, strlen(tok));
    }
    if (st != SR_OK) {
        if (st == SR_ERR_AUTH)
            throttle_failure(r->s->throttle, client_addr(r));
        reply_status(r, st, r->v);
        return false;
    }
    (void)snprintf(r->principal, sizeof r->principal, "%s",
                   sr_vault_principal(r->v));
    return true;
}

/* Take the handle the route needs and authenticate on it; false with a
 * reply set when that fails. */
static bool prepare(req *r)
{
    unsigned f = r->rt->flags;
    if ((f & (R_READ | R_WRITE | R_LOGIN)) == 0)
        return true;
    if (f & (R_LOGIN | R_WRITE)) {
        r->writer_kind = (f & R_LOGIN)    ? POOL_SIGNER
                         : (f & R_STREAM) ? POOL_IMPORTER
                                          : POOL_WRITER;
        r->v = pool_writer(r->s->pool, r->writer_kind);
        r->writer = true;
    } else {
        char err[SRV_ERR_MAX];
        r->v = pool_reader(r->s->pool, &r->v_gen, err);
        if (r->v == NULL) {
            (void)fprintf(stderr, "strongroom serve: %s\n", err);
            reply_problem(r, P_INTERNAL, "internal error; see the server log");
            return false;
        }
    }
    /* Handles are reused: an entry already there is an earlier request's. */
    r->entry0 = sr_vault_last_entry(r->v);
    if (f & R_LOGIN)
        return true;
    return authenticate(r);
}

/* Give the handle back to the pool and, for a read handle whose calls
 * deferred their audit sync, wait until the entry is durable: nothing may
 * be sent before. The request's entry is noted. false (the reason on
 * stderr) when the entry cannot be made durable: then nothing the call
 * returned may be revealed. Safe to call again (true once settled). */
bool srv_settle(req *r)
{
    if (r->v == NULL)
        return !r->audit_failed;
    sr_audit_ticket *t = r->writer ? NULL : sr_vault_take_ticket(r->v);
    uint64_t e = sr_vault_last_entry(r->v);
    if (r->entry == UINT64_MAX && e != UINT64_MAX && e != r->entry0)
        r->entry = e;
    if (r->writer)
        pool_put_writer(r->s->pool, r->writer_kind);
    else
        pool_put_reader(r->s->pool, r->v, r->v_gen);
    r->v = NULL;
    r->writer = false;
    if (t == NULL)
        return true;
    char msg[SRV_ERR_MAX];
    if (sr_audit_ticket_wait(t, &e, msg, sizeof msg) != SR_OK) {
        (void)fprintf(stderr, "strongroom serve: %s: %s\n",
                      r->rt != NULL ? r->rt->path : "-", msg);
        r->audit_failed = true;
        return false;
    }
    r->entry = e;
    return true;
}

void srv_reveal(req *r, void (*finish)(req *r))
{
    sr_audit_ticket *t =
        r->v != NULL && !r->writer ? sr_vault_take_ticket(r->v) : NULL;
    bool ok = srv_settle(r); /* the handle goes back */
    if (t != NULL) {
        r->ticket = t;
        r->finish = finish;
        r->suspend = true;
        return;
    }
    if (!ok) {
        sb_free(&r->held);
        reply_problem(r, P_AUDIT, NULL);
        return;
    }
    finish(r);
}

/* ---- the access log ------------------------------------------------------ */

static void access_line(req *r, const char *method, uint64_t ns)
{
    if (r->s->access == NULL)
        return;
    struct timespec ts;
    struct tm tm;
    char when[40];
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)gmtime_r(&ts.tv_sec, &tm);
    (void)strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char entry[32] = "null";
    if (r->entry != UINT64_MAX)
        (void)snprintf(entry, sizeof entry, "%llu",
                       (unsigned long long)r->entry);
    char principal[SRV_NAME_MAX + 3] = "null";
    if (r->principal[0] != '\0')
        (void)snprintf(principal, sizeof principal, "\"%s\"", r->principal);
    pthread_mutex_lock(&r->s->access_mu);
    (void)fprintf(r->s->access,
                  "{\"time\":\"%s.%03ldZ\",\"method\":\"%s\",\"route\":\"%s\","
                  "\"status\":%u,\"ms\":%.3f,\"principal\":%s,\"entry\":%s}\n",
                  when, ts.tv_nsec / 1000000, method,
                  r->rt != NULL ? r->rt->path : "unmatched", r->status,
                  (double)ns / 1e6, principal, entry);
    (void)fflush(r->s->access);
    pthread_mutex_unlock(&r->s->access_mu);
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

static const char *known_method(const char *m)
{
    static const char *const methods[] = {"GET",  "POST",  "PUT",    "DELETE",
                                          "HEAD", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(m, methods[i]) == 0)
            return methods[i];
    return "OTHER";
}

static conn_rec *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? (conn_rec *)ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    srv *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_rec *cr = calloc(1, sizeof *cr);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_ctx = cr;
        metrics_connection(1);
        if (cr == NULL || ci == NULL)
            return;
        cr->fd = ci->connect_fd;
        cr->since = sr_clock_ns();
        pthread_mutex_lock(&s->conns_mu);
        cr->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = cr;
        s->conns = cr;
        pthread_mutex_unlock(&s->conns_mu);
        return;
    }
    conn_rec *cr = *socket_ctx;
    metrics_connection(-1);
    if (cr == NULL)
        return;
    pthread_mutex_lock(&s->conns_mu);
    if (cr->prev != NULL)
        cr->prev->next = cr->next;
    else if (s->conns == cr)
        s->conns = cr->next;
    if (cr->next != NULL)
        cr->next->prev = cr->prev;
    pthread_mutex_unlock(&s->conns_mu);
    free(cr);
    *socket_ctx = NULL;
}

static void req_free(req *r)
{
    if (r == NULL)
        return;
    /* The body's reader may still use the handle: stop it first. */
    if (r->stream != NULL && r->rt != NULL && r->rt->drop != NULL)
        r->rt->drop(r);
    (void)srv_settle(r); /* a request cut short still waits for its entry */
    if (r->ticket != NULL) {
        char msg[SRV_ERR_MAX];
        uint64_t e;
        sr_status ignored =
            sr_audit_ticket_wait(r->ticket, &e, msg, sizeof msg);
        (void)ignored; /* nothing is sent: only the entry must be done */
        r->ticket = NULL;
    }
    sb_free(&r->held);
    if (r->resp != NULL)
        MHD_destroy_response(r->resp);
    json_decref(r->json);
    if (r->body != NULL) {
        sodium_memzero(r->body, r->body_cap);
        free(r->body);
    }
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    srv *s = cls;
    (void)why;
    req *r = *con_cls;
    conn_rec *cr = conn_of(c);
    if (cr != NULL) {
        pthread_mutex_lock(&s->conns_mu);
        cr->in_request = false;
        cr->since = sr_clock_ns();
        pthread_mutex_unlock(&s->conns_mu);
    }
    if (r == NULL)
        return;
    req_free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

static bool media_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (ct == NULL || strncasecmp(ct, want, n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Checks made once the headers are in: the content type and the announced
 * length. false with a reply set. */
static bool check_headers(req *r)
{
    const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *cl = req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const srv_config *cfg = &r->s->cfg;
    uint64_t limit =
        (r->rt->flags & R_STREAM) ? cfg->max_import : cfg->max_body;
    if (cl != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && n > limit) {
            char d[96];
            (void)snprintf(d, sizeof d, "the body is over %llu bytes",
                           (unsigned long long)limit);
            reply_problem(r, P_TOO_LARGE, d);
            return false;
        }
    }
    /* A JSON body's length must be known before it is read: a chunked
     * one over the limit could only be refused by dropping the
     * connection (libmicrohttpd queues no reply mid-body). */
    if (!(r->rt->flags & R_STREAM) && cl == NULL &&
        req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL) {
        char d[128];
        (void)snprintf(d, sizeof d,
                       "send the body with a Content-Length (at most %llu "
                       "bytes), not chunked",
                       (unsigned long long)limit);
        reply_problem(r, P_LENGTH, d);
        return false;
    }
    if ((r->rt->flags & R_JSON) && !media_type_is(ct, "application/json")) {
        reply_problem(r, P_MEDIA_TYPE, "send the body as application/json");
        return false;
    }
    return true;
}

static void add_body(req *r, const char *data, size_t n)
{
    uint64_t limit = r->s->cfg.max_body;
    if (r->body_over || r->body_len + n > limit) {
        r->body_over = true;
        return;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *p = malloc(cap);
        if (p == NULL) {
            r->body_over = true;
            return;
        }
        if (r->body != NULL) {
            memcpy(p, r->body, r->body_len);
            sodium_memzero(r->body, r->body_cap);
            free(r->body);
        }
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static void run(req *r)
{
    if (r->resp != NULL || r->finish != NULL)
        return; /* answered, or its answer was built by a settler */
    if (r->body_over) {
        char d[96];
        (void)snprintf(d, sizeof d, "the body is over %llu bytes",
                       (unsigned long long)r->s->cfg.max_body);
        reply_problem(r, P_TOO_LARGE, d);
        return;
    }
    if (r->rt->flags & R_JSON) {
        char err[SRV_ERR_MAX];
        if (!body_object(r->body, r->body_len, &r->json, err)) {
            reply_problem(r, P_BAD_REQUEST, err);
            return;
        }
    }
    if (!(r->rt->flags & R_STREAM) && !prepare(r))
        return;
    r->rt->fn(r);
    if (r->resp == NULL && !r->suspend)
        reply_problem(r, P_INTERNAL, NULL);
}

static enum MHD_Result queue(req *r)
{
    enum MHD_Result rc;
    if (!srv_settle(r)) {
        /* The reply may hold what the call revealed: drop it (its buffer
         * is wiped as it is freed). */
        MHD_destroy_response(r->resp);
        r->resp = NULL;
        reply_problem(r, P_AUDIT, NULL);
    }
    if (srv_draining(r->s))
        reply_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    /* Nothing the API answers is kept by a browser or a proxy: record
     * data, the audit log's entries, reports. (The public log's files
     * set their own caching.) */
    if (r->rt != NULL && strncmp(r->rt->path, "/v1/", 4) == 0 &&
        MHD_get_response_header(r->resp, MHD_HTTP_HEADER_CACHE_CONTROL) == NULL)
        reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    rc = MHD_queue_response(r->conn, r->status, r->resp);
    uint64_t ns = sr_clock_ns() - r->t0;
    metrics_request(r->rt != NULL ? r->route_index : 1000, r->status, ns);
    access_line(r, r->method, ns);
    return rc;
}

/* Drop the connection mid-body: nothing can be answered, but the access
 * log and the metrics say why. */
static enum MHD_Result cut(req *r, unsigned status)
{
    uint64_t ns = sr_clock_ns() - r->t0;
    r->status = status;
    access_line(r, r->method, ns);
    metrics_request(r->route_index, status, ns);
    return MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    srv *s = cls;
    req *r = *con_cls;
    (void)version;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        r->s = s;
        r->conn = c;
        r->t0 = sr_clock_ns();
        r->entry = UINT64_MAX;
        r->method = known_method(method);
        *con_cls = r;
        atomic_fetch_add(&s->active, 1);
        conn_rec *cr = conn_of(c);
        if (cr != NULL) {
            pthread_mutex_lock(&s->conns_mu);
            cr->in_request = true;
            pthread_mutex_unlock(&s->conns_mu);
        }
        bool path_known = false;
        /* HEAD is GET without the body (libmicrohttpd leaves it out). */
        int i = find_route(strcmp(method, "HEAD") == 0 ? "GET" : method, url, r,
                           &path_known);
        if (i < 0) {
            r->rt = NULL;
            if (path_known) {
                reply_problem(r, P_METHOD, NULL);
                allow_header(r, url);
            } else {
                reply_problem(r, P_NOT_FOUND, "no such route");
            }
            return queue(r);
        }
        r->rt = &srv_routes[i];
        r->route_index = (unsigned)i;
        if (!check_headers(r))
            return queue(r);
        if (r->rt->flags & R_STREAM) {
            if (!prepare(r) || !r->rt->begin(r))
                return queue(r);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        bool stream = (r->rt->flags & R_STREAM) != 0;
        r->body_seen += n;
        /* libmicrohttpd queues no response mid-body: a body still coming
         * after the deadline, or an import past its limit (a chunked
         * one: an announced length was refused before), drops the
         * connection. An import stops where it is: what it committed
         * stays, and a re-send skips it. */
        if (!stream && sr_clock_ns() - r->t0 >
                           (uint64_t)s->cfg.request_timeout * 1000000000ull)
            return cut(r, 408);
        if (stream && r->body_seen > s->cfg.max_import) {
            r->rt->drop(r);
            return cut(r, 413);
        }
        if (r->resp == NULL) {
            if (stream)
                r->rt->feed(r, upload, n);
            else
                add_body(r, upload, n);
        }
        /* Taken (or refused): libmicrohttpd's copy of it is wiped. The
         * piece lies in the connection's own read buffer, writable memory
         * that it does not read again. */
        sodium_memzero((void *)(uintptr_t)upload, n);
        return MHD_YES;
    }
    if (r->resp == NULL &&
        sr_clock_ns() - r->t0 >
            (uint64_t)s->cfg.request_timeout * 1000000000ull &&
        !(r->rt->flags & R_STREAM))
        reply_problem(r, P_TIMEOUT, "the request body arrived too slowly");
    if (r->rt->flags & R_STREAM) {
        if (r->resp == NULL)
            r->rt->fn(r);
        if (r->resp == NULL)
            reply_problem(r, P_INTERNAL, NULL);
    } else {
        run(r);
        if (r->suspend) {
            /* The reply waits for the audit entry: a settler builds it
             * and resumes the connection, which calls back here. */
            r->suspend = false;
            MHD_suspend_connection(c);
            if (r->park != NULL)
                r->park(r);
            else
                settler_push(s->settler, r);
            return MHD_YES;
        }
    }
    if (r->resp == NULL)
        reply_problem(r, P_INTERNAL, NULL);
    return queue(r);
}

/* ---- the ticker: checkpoints and request deadlines ----------------------- */

static void *ticker_main(void *arg)
{
    srv *s = arg;
    uint64_t last_ckpt = sr_clock_ns();
    while (!atomic_load(&s->stop_ticker)) {
        struct timespec ts = {0, 100 * 1000000L};
        (void)nanosleep(&ts, NULL);
        uint64_t now = sr_clock_ns();
        if (now - last_ckpt >= (uint64_t)s->cfg.checkpoint_ms * 1000000ull) {
            pool_checkpoint(s->pool);
            last_ckpt = now;
        }
        uint64_t limit = (uint64_t)s->cfg.request_timeout * 1000000000ull;
        pthread_mutex_lock(&s->conns_mu);
        /* now was read before the checkpoint and the lock: a connection
         * opened (or a request finished) since then has since > now, and
         * the unsigned difference would wrap and shut it down at once. */
        for (conn_rec *cr = s->conns; cr != NULL; cr = cr->next)
            if (!cr->in_request && cr->fd >= 0 && cr->since < now &&
                now - cr->since > limit) {
                /* Too slow to send a whole request (or idle past every
                 * timeout): the daemon sees the socket close and cleans
                 * up. The record is dropped before its fd is closed, under
                 * this lock, so the fd is still this connection's. */
                (void)shutdown(cr->fd, SHUT_RDWR);
                cr->fd = -1;
            }
        pthread_mutex_unlock(&s->conns_mu);
    }
    return NULL;
}

/* ---- start, run, stop ---------------------------------------------------- */

bool srv_read_pem(const char *path, char **out, bool secret,
                  char err[SRV_ERR_MAX])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        (void)snprintf(err, SRV_ERR_MAX, "cannot open %.300s: %s", path,
                       strerror(errno));
        return false;
    }
    char *buf = secret ? sodium_malloc(PEM_MAX + 1) : malloc(PEM_MAX + 1);
    size_t n = 0;
    ssize_t got = 1;
    while (buf != NULL && n <= PEM_MAX &&
           (got = read(fd, buf + n, PEM_MAX + 1 - n)) > 0)
        n += (size_t)got;
    (void)close(fd);
    if (buf == NULL || got < 0 || n > PEM_MAX || n == 0) {
        (void)snprintf(err, SRV_ERR_MAX, "cannot read %.300s%s", path,
                       n > PEM_MAX ? ": over 256 KiB" : "");
        if (buf != NULL && secret)
            sodium_free(buf);
        else
            free(buf);
        return false;
    }
    buf[n] = '\0';
    *out = buf;
    return true;
}

bool srv_parse_listen(const char *text, struct sockaddr_storage *ss, bool *v6,
                      bool *loopback, char err[SRV_ERR_MAX])
{
    char host[128];
    const char *colon;
    memset(ss, 0, sizeof *ss);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' ||
            (size_t)(close - text - 1) >= sizeof host)
            goto bad;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || (size_t)(colon - text) >= sizeof host)
            goto bad;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
    }
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port > 65535)
        goto bad;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
        *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
        return true;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        return true;
    }
bad:
    (void)snprintf(err, SRV_ERR_MAX,
                   "--listen must be ADDR:PORT or [ADDR]:PORT with a numeric "
                   "address");
    return false;
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    (void)vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    /* libmicrohttpd's messages name addresses and states, never bodies. */
    (void)fprintf(stderr, "strongroom serve: %s\n", line);
}

static void srv_free(srv *s)
{
    if (s->key_pem != NULL)
        sodium_free(s->key_pem);
    free(s->cert_pem);
    free(s->ca_pem);
    if (s->access != NULL && s->access != stderr)
        (void)fclose(s->access);
    settler_stop(s->settler);
    throttle_free(s->throttle);
    sessions_free(s->sessions);
    pool_close(s->pool);
    pthread_mutex_destroy(&s->access_mu);
    pthread_mutex_destroy(&s->conns_mu);
    free(s);
}

int srv_run(const srv_config *cfg, const char *pass, size_t pass_len,
            char err[SRV_ERR_MAX])
{
    struct sockaddr_storage ss;
    bool v6 = false, loopback = false;
    if (!srv_config_check(cfg, err) ||
        !srv_parse_listen(cfg->listen, &ss, &v6, &loopback, err))
        return 2;
    if (cfg->insecure_loopback && !loopback) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "--insecure-loopback serves plain HTTP on loopback "
                       "addresses only (127.0.0.0/8, ::1), not %.100s",
                       cfg->listen);
        return 2;
    }
    srv *s = calloc(1, sizeof *s);
    if (s == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "out of memory");
        return 1;
    }
    s->cfg = *cfg;
    pthread_mutex_init(&s->access_mu, NULL);
    pthread_mutex_init(&s->conns_mu, NULL);
    bool tls = cfg->tls_cert[0] != '\0';
    if (tls && (!srv_read_pem(cfg->tls_cert, &s->cert_pem, false, err) ||
                !srv_read_pem(cfg->tls_key, &s->key_pem, true, err) ||
                (cfg->client_ca[0] != '\0' &&
                 !srv_read_pem(cfg->client_ca, &s->ca_pem, false, err)))) {
        srv_free(s);
        return 1;
    }
    if (strcmp(cfg->access_log, "-") == 0) {
        s->access = stderr;
    } else if (cfg->access_log[0] != '\0') {
        s->access = fopen(cfg->access_log, "ae");
        if (s->access == NULL) {
            (void)snprintf(err, SRV_ERR_MAX,
                           "cannot open the access log %.300s: %s",
                           cfg->access_log, strerror(errno));
            srv_free(s);
            return 1;
        }
    }
    sr_status st =
        pool_open(&s->pool, cfg->vault, pass, pass_len, cfg->read_handles, err);
    if (st != SR_OK) {
        srv_free(s);
        return 10 + (int)st;
    }
    (void)snprintf(s->log_dir, sizeof s->log_dir, "%s/log", cfg->vault);

    /* Signals go to this thread only (sigwait below); a closed socket is
     * an error return, not a signal. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    (void)signal(SIGPIPE, SIG_IGN);
    s->throttle = throttle_new(cfg->auth_failures_per_minute);
    s->sessions = sessions_new(cfg->session_idle, SESSIONS_MAX);
    if (s->throttle == NULL || s->sessions == NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "out of memory");
        srv_free(s);
        return 1;
    }
    /* Two: while one leads a sync, the other finishes the batch before. */
    if (settler_start(&s->settler, 2, err) != SR_OK) {
        srv_free(s);
        return 1;
    }

    /* poll(), not epoll: libmicrohttpd 0.9.75's epoll mode spins on a TLS
     * handshake waiting for its client (epoll_wait with a zero timeout,
     * then EAGAIN, again and again), and 256 handshakes at once took both
     * cores (bench/server). Each worker polls only its own connections. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (tls)
        flags |= MHD_USE_TLS;
    if (v6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem opts[24];
    unsigned k = 0;
#define OPT(o, v, p) opts[k++] = (struct MHD_OptionItem){o, (intptr_t)(v), p}
    OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL);
    OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
    OPT(MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL);
    OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL);
    OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_client, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout, NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header, NULL);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, s);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, s);
    OPT(MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
    if (tls) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem);
        if (s->cfg.tls_priorities[0] == '\0')
            (void)snprintf(s->cfg.tls_priorities, sizeof s->cfg.tls_priorities,
                           "%s", DEFAULT_PRIORITIES);
        OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, s->cfg.tls_priorities);
        if (s->ca_pem != NULL)
            OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca_pem);
    }
    OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (s->d == NULL) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "cannot start the server on %.100s (address in use, "
                       "bad TLS files, or bad TLS priorities)",
                       cfg->listen);
        srv_free(s);
        return 1;
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di != NULL ? di->port : 0;
    char host[128];
    (void)snprintf(host, sizeof host, "%s", cfg->listen);
    char *colon = strrchr(host, ':');
    if (colon != NULL)
        *colon = '\0';
    (void)fprintf(stderr, "strongroom serve: listening on %s://%s:%u\n",
                  tls ? "https" : "http", host, port);
    (void)fflush(stderr);
    if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
        MHD_stop_daemon(s->d);
        (void)snprintf(err, SRV_ERR_MAX, "cannot start the ticker thread");
        srv_free(s);
        return 1;
    }

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    (void)fprintf(stderr,
                  "strongroom serve: %s: draining (no new connections)\n",
                  sig == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&s->draining, true);
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET)
        (void)close(lfd);
    uint64_t deadline =
        sr_clock_ns() + (uint64_t)cfg->drain_timeout * 1000000000ull;
    while (atomic_load(&s->active) > 0 && sr_clock_ns() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    unsigned left = atomic_load(&s->active);
    /* Streams still running (an export) stop at their next write; each
     * resumes its connection as it ends. */
    stream_cancel_all();
    while (stream_running() > 0) {
        struct timespec ts = {0, 20 * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
    /* Every suspended connection is resumed before the daemon stops. */
    settler_stop(s->settler);
    s->settler = NULL;
    MHD_stop_daemon(s->d);
    atomic_store(&s->stop_ticker, true);
    (void)pthread_join(s->ticker, NULL);
    pool_checkpoint(s->pool);
    (void)fprintf(stderr,
                  "strongroom serve: stopped (%u requests cut off by the "
                  "drain timeout)\n",
                  left);
    srv_free(s);
    return 0;
}
