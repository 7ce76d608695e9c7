/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h - `strongroom serve`: the HTTP API over libmicrohttpd and GnuTLS
 * (docs/server.md). The server is a thin caller of the vault facade
 * (strongroom/vault.h); what its files share is here:
 *
 *   config.c   settings from a file, the environment and flags
 *   http.c     the daemon: TLS, limits, routing, authentication, the
 *              access log, draining on SIGTERM
 *   routes.c   the route table and the /v1 handlers
 *   public.c   /healthz, /readyz, /metrics, /openapi.json and /log/
 *   reply.c    responses: JSON, text, RFC 9457 problems
 *   body.c     reading request bodies (the fuzzed parser)
 *   metrics.c  counters and histograms in the Prometheus text format
 *   pool.c     vault handles: one writer, readers on demand
 *   settle.c   replies that wait for their audit entry
 *   stream.c   reply bodies a thread writes as it goes (exports)
 *   throttle.c failed authentications per client address
 */
#ifndef SR_SERVER_H
#define SR_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "strongroom/strongroom.h"

#define SRV_ERR_MAX 512
#define SRV_PATH_MAX 1024
#define SRV_NAME_MAX 64

/* ---- config.c ------------------------------------------------------------ */

typedef struct srv_config {
    char vault[SRV_PATH_MAX];
    char listen[128]; /* ADDR:PORT, [ADDR]:PORT for IPv6 */
    char tls_cert[SRV_PATH_MAX];
    char tls_key[SRV_PATH_MAX];
    char client_ca[SRV_PATH_MAX];
    char tls_priorities[512];
    char access_log[SRV_PATH_MAX]; /* "-": standard error; "": none */
    bool insecure_loopback;
    unsigned threads;
    unsigned read_handles;             /* 0: two per CPU */
    unsigned auth_failures_per_minute; /* per client address; 0: none */
    uint64_t max_body;                 /* bytes, JSON bodies */
    uint64_t max_import;               /* bytes, an import's body */
    uint64_t max_header;               /* bytes of request line and headers */
    unsigned idle_timeout;             /* seconds a connection may sit silent */
    unsigned request_timeout;          /* seconds from connect (or the last
                                          response) to a whole request */
    unsigned max_connections;
    unsigned max_per_client;
    unsigned checkpoint_ms; /* publish a checkpoint this often */
    unsigned session_idle;  /* seconds a console session may sit idle */
    unsigned drain_timeout; /* seconds to finish requests on SIGTERM */
} srv_config;

void srv_config_defaults(srv_config *c);
/* Set one setting by its name ("listen", "tls-cert", "max-body", ...)
 * from text. false with err set if the name or the value is bad. */
bool srv_config_set(srv_config *c, const char *name, const char *value,
                    char err[SRV_ERR_MAX]);
/* A config file: one JSON object of settings (strings, numbers, booleans;
 * names as for srv_config_set). err names the line or the member. */
bool srv_config_parse(srv_config *c, const char *text, size_t len,
                      char err[SRV_ERR_MAX]);
bool srv_config_load(srv_config *c, const char *path, char err[SRV_ERR_MAX]);
/* STRONGROOM_<NAME> for each setting (upper case, '-' as '_'). */
bool srv_config_env(srv_config *c, char err[SRV_ERR_MAX]);
/* Cross-checks once everything is set: TLS files or the insecure flag,
 * loopback only without TLS, the listen address well formed. */
bool srv_config_check(const srv_config *c, char err[SRV_ERR_MAX]);
/* The settings' help text (for --help). */
extern const char srv_config_help[];

/* ---- session.c: the web console's sessions (docs/console.md) ------------ */

/* The cookie that carries a session's id, and the header that carries its
 * CSRF token on every request that is not a GET or HEAD. */
#define SESSION_COOKIE "sr_session"
#define SESSION_CSRF_HEADER "X-CSRF-Token"
/* Room for a session id or CSRF token: 32 random bytes as unpadded
 * base64url (43 characters) and the NUL. */
#define SESSION_TOKEN_MAX 48
#define SESSIONS_MAX 4096u

typedef struct srv_sessions srv_sessions;
typedef enum session_use {
    SESSION_OK,
    SESSION_UNKNOWN, /* no such session, or it ended (idle, expired) */
    SESSION_BAD_CSRF
} session_use;

/* A table of at most max sessions, each ended after idle_s seconds
 * without a request. NULL when out of memory. */
srv_sessions *sessions_new(unsigned idle_s, unsigned max);
void sessions_free(srv_sessions *t);
/* A new session for token (expires: Unix seconds, 0 for the token's own
 * expiry; own_token: the sign-in made it, revoke it at sign-out): its id
 * (for the cookie) and CSRF token. false if token is too long. */
bool sessions_open(srv_sessions *t, const char *token, size_t token_len,
                   uint64_t expires, bool own_token, char id[SESSION_TOKEN_MAX],
                   char csrf[SESSION_TOKEN_MAX]);
/* The token of session id, copied to token (the caller wipes it), its
 * idle time restarted. csrf: the request's CSRF header for a request that
 * changes something ("" when absent), NULL for a safe one. */
session_use sessions_use(srv_sessions *t, const char *id, const char *csrf,
                         char token[SR_TOKEN_MAX], size_t *token_len);
/* The CSRF token of session id (for a page loaded again); false if there
 * is no such session. */
bool sessions_csrf(srv_sessions *t, const char *id,
                   char csrf[SESSION_TOKEN_MAX]);
/* End session id: its token copied out (token_len 0 if there was no such
 * session); true if the sign-in made the token (to be revoked). */
bool sessions_close(srv_sessions *t, const char *id, char token[SR_TOKEN_MAX],
                    size_t *token_len);

/* ---- metrics.c ----------------------------------------------------------- */

#define METRICS_STATUS_SLOTS 24

void metrics_request(unsigned route, unsigned status, uint64_t ns);
void metrics_connection(int delta);
void metrics_auth_failure(void);
void metrics_auth_throttled(void);
void metrics_denial(void);
/* The exposition text (malloc'd) for the routes named in names[0..n). */
char *metrics_render(const char *const *names, unsigned n, sr_vault *v,
                     size_t *len);

/* ---- pool.c -------------------------------------------------------------- */

typedef struct srv_pool srv_pool;

/* Open the writer (with the passphrase) and keep it; readers are opened
 * from it on demand. */
sr_status pool_open(srv_pool **out, const char *dir, const char *pass,
                    size_t pass_len, unsigned max_readers,
                    char err[SRV_ERR_MAX]);
void pool_close(srv_pool *p);
/* A read handle with the current policy; NULL with err on failure. *gen
 * gets the generation it is fresh in, to give back with it. */
sr_vault *pool_reader(srv_pool *p, uint64_t *gen, char err[SRV_ERR_MAX]);
void pool_put_reader(srv_pool *p, sr_vault *v, uint64_t gen);
/* The writers: the one that opened the vault, and two more opened from
 * it (sr_vault_open_another_writer) so that a sign-in's key stretching
 * and a long import do not hold up every other write. Each is lent to
 * one request at a time, locked until pool_put_writer. */
typedef enum pool_writer_kind {
    POOL_WRITER,
    POOL_SIGNER,
    POOL_IMPORTER,
    POOL_WRITERS
} pool_writer_kind;
sr_vault *pool_writer(srv_pool *p, pool_writer_kind k);
void pool_put_writer(srv_pool *p, pool_writer_kind k);
/* Publish a checkpoint if the log grew since the last one (from the
 * checkpointer thread only: it uses a handle of its own). */
void pool_checkpoint(srv_pool *p);

/* ---- body.c -------------------------------------------------------------- */

/* Parse a request body as one JSON object. false with err ("line L column
 * C: ..." or "the body must be a JSON object") when it is not. */
bool body_object(const char *data, size_t len, json_t **out,
                 char err[SRV_ERR_MAX]);
/* Members of a parsed body, checked: a string of 1..max bytes without
 * NUL (optional ones may be absent: *out = NULL), a boolean, an integer
 * in [0, max]. err names the member by its JSON pointer. */
bool body_string(const json_t *o, const char *name, bool required, size_t max,
                 const char **out, char err[SRV_ERR_MAX]);
bool body_bool(const json_t *o, const char *name, bool *out,
               char err[SRV_ERR_MAX]);
bool body_uint(const json_t *o, const char *name, uint64_t max, bool *present,
               uint64_t *out, char err[SRV_ERR_MAX]);
/* Refuse members other than those listed (NULL-terminated). */
bool body_only(const json_t *o, const char *const *allowed,
               char err[SRV_ERR_MAX]);
/* "classes": an array of class names -> a mask (0 when absent). */
bool body_classes(const json_t *o, unsigned *mask, char err[SRV_ERR_MAX]);

/* ---- http.c, reply.c: one request ---------------------------------------- */

typedef struct srv srv;
typedef struct req req;

/* The problems the server answers with (RFC 9457; reply.c has the table:
 * type "urn:strongroom:problem:<slug>", status, title). */
typedef enum problem_kind {
    P_BAD_REQUEST,
    P_INVALID,
    P_UNAUTHORIZED,
    P_CERT_UNTRUSTED,
    P_AMBIGUOUS,
    P_DENIED,
    P_NOT_FOUND,
    P_METHOD,
    P_TIMEOUT,
    P_CONFLICT,
    P_TOO_LARGE,
    P_LENGTH,
    P_MEDIA_TYPE,
    P_TOO_MANY,
    P_INTERNAL,
    P_AUDIT,
    P_UNAVAILABLE,
    P_FULL,
    P_CSRF,
    P_KIND_COUNT
} problem_kind;

const char *problem_slug(problem_kind k);
unsigned problem_status(problem_kind k);

/* What a route needs before its handler runs. */
enum route_flags {
    R_PUBLIC = 0,
    R_READ = 1u << 0,   /* an authenticated read handle */
    R_WRITE = 1u << 1,  /* the authenticated writer */
    R_LOGIN = 1u << 2,  /* the sign-in writer, unauthenticated */
    R_JSON = 1u << 3,   /* a JSON object body, parsed into r->json */
    R_STREAM = 1u << 4, /* a body streamed to begin/feed as it arrives */
    R_PREFIX = 1u << 5  /* the path is a prefix; the rest is r->tail */
};

typedef struct route {
    const char *method;
    const char *path; /* "/v1/users/{name}/disable": also its metrics name */
    unsigned flags;
    void (*fn)(req *r);
    /* R_STREAM: called once authenticated, before the body (false: a
     * reply is set), then with each piece of the body. */
    bool (*begin)(req *r);
    void (*feed)(req *r, const char *data, size_t len);
    /* R_STREAM: free r->stream when the request ends without fn (the
     * client went away): stop and wait for whatever reads the body. */
    void (*drop)(req *r);
} route;

extern const route srv_routes[];
extern const unsigned srv_route_count;

/* A growing text buffer for replies built from library lines (which may
 * hold record data): wiped when grown or freed. */
typedef struct strbuf {
    char *p;
    size_t len, cap;
    bool failed;
} strbuf;
struct req {
    srv *s;
    struct MHD_Connection *conn;
    const route *rt;
    unsigned route_index;
    const char *method;              /* a known method's name, or "OTHER" */
    char param[2][SRV_NAME_MAX + 1]; /* {..} segments, in order */
    const char *tail;                /* R_PREFIX: the rest of the path */
    char *body;                      /* whole body (not for R_STREAM) */
    size_t body_len, body_cap;
    uint64_t body_seen; /* bytes of the body received so far */
    bool body_over;
    json_t *json;
    sr_vault *v;
    uint64_t v_gen;               /* the read handle's generation (pool.c) */
    bool writer;                  /* r->v is one of the pool's writers: */
    pool_writer_kind writer_kind; /* which */
    void *stream;                 /* the R_STREAM route's state */
    /* the reply */
    struct MHD_Response *resp;
    unsigned status;
    uint64_t t0;
    uint64_t entry;    /* the audit entry of the request, UINT64_MAX: none */
    uint64_t entry0;   /* the handle's last entry when the request took it */
    bool audit_failed; /* srv_settle could not make the entry durable */
    /* srv_reveal: what waits for the entry, and what builds the reply */
    sr_audit_ticket *ticket;
    void (*finish)(req *r);
    strbuf held;       /* what the vault call revealed, not sent yet */
    size_t held_count; /* e.g. the number of matches in held */
    bool suspend;      /* on_request suspends and hands it to a settler */
    req *next_settle;  /* the settlers' queue */
    /* Instead of a settler: called once the connection is suspended
     * (stream.c); whoever it starts resumes the connection. */
    void (*park)(req *r);
    void *park_ctx;
    char principal[SRV_NAME_MAX + 1];
};

/* Run the server until SIGTERM or SIGINT: the exit code (0 after a clean
 * drain; 2 for bad settings; 10 + status when the vault cannot be opened;
 * 1 otherwise) with err set when it is not 0. */
/* A log file (checkpoint, witnesses, history/N, tile/...) of log_dir
 * as a response with its content type and caching headers (full tiles
 * immutable, partial ones a minute, the checkpoint revalidated); NULL if
 * tail is not such a file or cannot be opened. */
struct MHD_Response;
struct MHD_Response *srv_log_file(const char *log_dir, const char *tail);

/* strongroom hotline serve (hotline_http.c): the node in dir on listen,
 * over TLS (tls_cert, tls_key) or, with insecure_loopback, plain HTTP on
 * a loopback address; its delivery loop every interval seconds, with
 * ca_file (or the system's CAs) for the peers' certificates. Returns
 * when stopped by SIGINT or SIGTERM: 0, or 1 (2 for bad settings) with
 * err. */
typedef struct hotline_serve_config {
    const char *dir, *listen, *tls_cert, *tls_key, *ca_file;
    bool insecure_loopback;
    unsigned interval;
} hotline_serve_config;
int hotline_serve(const hotline_serve_config *cfg, char err[SRV_ERR_MAX]);

/* Read a PEM file (at most 256 KiB; a secret one into sodium_malloc'd
 * memory) into *out, NUL-terminated; false with err set. */
bool srv_read_pem(const char *path, char **out, bool secret,
                  char err[SRV_ERR_MAX]);
/* Parse ADDR:PORT or [ADDR]:PORT (numeric); *loopback says whether ADDR
 * is a loopback address. */
struct sockaddr_storage;
bool srv_parse_listen(const char *text, struct sockaddr_storage *ss, bool *v6,
                      bool *loopback, char err[SRV_ERR_MAX]);

int srv_run(const srv_config *cfg, const char *pass, size_t pass_len,
            char err[SRV_ERR_MAX]);

/* Give the request's vault handle back and wait for its audit entry
 * (http.c); false if the entry cannot be made durable: the handler must
 * then wipe what the vault call returned and reply P_AUDIT. Done for
 * every request before its reply is sent; a handler that names the
 * entry in its reply (r->entry) calls it first. */
bool srv_settle(req *r);

/* For a handler whose vault call revealed something (kept in r->held):
 * give the handle back, and once the call's audit entry is durable
 * (r->entry its index) call finish to build the reply. Without a deferred
 * entry to wait for, finish runs at once; otherwise the connection is
 * suspended and a settler thread (settle.c) waits, calls finish (or
 * replies P_AUDIT, wiping r->held, when the entry cannot be made durable)
 * and resumes it. */
void srv_reveal(req *r, void (*finish)(req *r));

/* throttle.c: failed authentications per client address. */
typedef struct srv_throttle srv_throttle;
struct sockaddr;
srv_throttle *throttle_new(unsigned per_minute); /* 0: no limit */
void throttle_free(srv_throttle *t);
/* Seconds until sa may try again (0: it may now); *first is true for the
 * first refusal of its minute (to report it once). */
unsigned throttle_blocked(srv_throttle *t, const struct sockaddr *sa,
                          bool *first);
void throttle_failure(srv_throttle *t, const struct sockaddr *sa);

/* settle.c: the threads that wait for deferred entries. */
#define SETTLER_THREADS_MAX 8u
typedef struct srv_settler srv_settler;
sr_status settler_start(srv_settler **out, unsigned n, char err[SRV_ERR_MAX]);
void settler_push(srv_settler *q, req *r);
void settler_stop(srv_settler *q); /* settles everything queued first */

/* stream.c: a reply body a thread of its own writes as it goes. fn runs
 * on that thread once the connection is suspended, and writes with
 * stream_write; the first write decides the reply (200, ctype, chunked,
 * not cached). Before it, stream_req gives the request so fn can set a
 * problem reply instead (NULL once decided). fn returns false when it
 * failed: a problem if nothing was decided yet, else the body is cut off
 * (no clean end: the client sees it). stream_write is false once the
 * client went away or the server is stopping: fn should stop. If fn
 * cannot be started, drop(ctx) is called instead (a problem is the
 * reply). false from stream_start: a problem is the reply. */
typedef struct srv_stream srv_stream;
typedef bool (*stream_fn)(srv_stream *s, void *ctx);
bool stream_start(req *r, const char *ctype, stream_fn fn,
                  void (*drop)(void *ctx), void *ctx);
bool stream_write(srv_stream *s, const char *data, size_t len);
req *stream_req(srv_stream *s);
/* SIGTERM: every producer's next write fails; stream_running counts the
 * producers not yet ended. */
void stream_cancel_all(void);
unsigned stream_running(void);

/* Settings and paths handlers need. */
const srv_config *srv_cfg(const srv *s);
const char *srv_log_dir(const srv *s);
bool srv_draining(const srv *s);
srv_pool *srv_handles(srv *s);
srv_sessions *srv_session_table(srv *s);

/* A query-string argument (NULL if absent). Never carries identifiers. */
const char *req_query(req *r, const char *name);
const char *req_header(req *r, const char *name);

/* Replies. Each sets r->resp and r->status once (later calls are
 * ignored). reply_owned takes buf (malloc'd), wipes and frees it when
 * sent: for bodies that may hold record data. */
void reply_owned(req *r, unsigned status, const char *ctype, char *buf,
                 size_t len);
void reply_text(req *r, unsigned status, const char *ctype, const char *text,
                size_t len);
void reply_json(req *r, unsigned status, json_t *o); /* steals o */
void reply_problem(req *r, problem_kind k, const char *detail);
/* A library failure: the status picks the problem; the vault's message
 * is the detail where it is safe to show (never for internal errors). */
void reply_status(req *r, sr_status st, const sr_vault *v);
void reply_header(req *r, const char *name, const char *value);

/* Wipe n bytes at p and free it (accepts NULL). */
void wipe_free(char *p, size_t n);

void sb_add(strbuf *b, const char *s, size_t n);
void sb_str(strbuf *b, const char *s);
void sb_fmt(strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sb_free(strbuf *b);
/* Reply with b's text as JSON (b is taken over). */
void reply_sb(req *r, unsigned status, strbuf *b);

#endif
