/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.c - the web console (docs/console.md): its files, compiled in
 * from web/, served with a strict Content-Security-Policy; and its
 * sessions: POST /v1/session signs in (a passphrase, or an API token) and
 * sets the session cookie, POST /v1/session/end signs out. The console's
 * script calls the same /v1 API as any client, with the cookie instead
 * of a bearer token (http.c, session.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "server/console.h"
#include "server/server.h"

/* Scripts, styles, images and requests from this origin only; no inline
 * script or style, no framing, no plugins, forms post here only. */
#define CONSOLE_CSP                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self'; "                \
    "img-src 'self'; connect-src 'self'; font-src 'self'; "                    \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* A console session lasts at most this long, however active. */
#define CONSOLE_SESSION_TTL (8u * 3600u)

static void security_headers(req *r)
{
    reply_header(r, "Content-Security-Policy", CONSOLE_CSP);
    reply_header(r, "X-Content-Type-Options", "nosniff");
    reply_header(r, "X-Frame-Options", "DENY");
    reply_header(r, "Referrer-Policy", "no-referrer");
    reply_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    reply_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    reply_header(r, "Permissions-Policy",
                 "camera=(), microphone=(), geolocation=()");
    /* The page shows record data: nothing of it is kept by the browser
     * or a proxy. */
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static void serve_file(req *r, const char *name)
{
    for (const console_file *f = console_files; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0) {
            reply_text(r, 200, f->ctype, (const char *)f->data, f->len);
            security_headers(r);
            return;
        }
    reply_problem(r, P_NOT_FOUND, "no such console file");
}

void console_page(req *r)
{
    serve_file(r, "index.html");
}

void console_asset(req *r)
{
    /* Names only: no directories, nothing hidden. */
    const char *t = r->tail != NULL ? r->tail : "";
    if (t[0] == '\0' || t[0] == '.' || strchr(t, '/') != NULL) {
        reply_problem(r, P_NOT_FOUND, "no such console file");
        return;
    }
    serve_file(r, t);
}

/* Set the session cookie (a new id) or clear it (id NULL). */
static void session_cookie(req *r, const char *id)
{
    char c[SESSION_TOKEN_MAX + 96];
    if (id != NULL)
        (void)snprintf(c, sizeof c,
                       SESSION_COOKIE "=%s; Path=/; HttpOnly; Secure; "
                                      "SameSite=Strict",
                       id);
    else
        (void)snprintf(c, sizeof c,
                       SESSION_COOKIE "=; Path=/; HttpOnly; Secure; "
                                      "SameSite=Strict; Max-Age=0");
    reply_header(r, MHD_HTTP_HEADER_SET_COOKIE, c);
}

/* The session's description: who, the CSRF token, the idle time. */
static void session_reply(req *r, const char *csrf)
{
    reply_json(r, 200,
               json_pack("{s:s, s:s, s:s, s:I}", "principal",
                         sr_vault_principal(r->v), "role", sr_vault_role(r->v),
                         "csrf", csrf, "idle_timeout",
                         (json_int_t)srv_cfg(r->s)->session_idle));
}

void console_session_open(req *r)
{
    static const char *const allowed[] = {"name", "passphrase", "token", NULL};
    const char *name = NULL, *pass = NULL, *tok = NULL;
    char err[SRV_ERR_MAX], token[SR_TOKEN_MAX], id[SESSION_TOKEN_MAX],
        csrf[SESSION_TOKEN_MAX];
    if (!body_only(r->json, allowed, err) ||
        !body_string(r->json, "name", false, SRV_NAME_MAX, &name, err) ||
        !body_string(r->json, "passphrase", false, 1024, &pass, err) ||
        !body_string(r->json, "token", false, SR_TOKEN_MAX - 1, &tok, err)) {
        reply_problem(r, P_BAD_REQUEST, err);
        return;
    }
    if ((tok != NULL) == (name != NULL || pass != NULL) ||
        (tok == NULL && (name == NULL || pass == NULL))) {
        reply_problem(r, P_BAD_REQUEST,
                      "sign in with name and passphrase, or with token");
        return;
    }
    sr_status st;
    uint64_t expires = 0;
    if (tok != NULL) {
        st = sr_vault_authenticate_request(r->v, tok, strlen(tok));
        if (st == SR_OK)
            (void)snprintf(token, sizeof token, "%s", tok);
    } else {
        st = sr_vault_login(r->v, name, pass, strlen(pass), CONSOLE_SESSION_TTL,
                            token);
        expires = (uint64_t)time(NULL) + CONSOLE_SESSION_TTL;
    }
    if (st != SR_OK) {
        reply_status(r, st, r->v);
        return;
    }
    (void)snprintf(r->principal, sizeof r->principal, "%s",
                   sr_vault_principal(r->v));
    bool ok = sessions_open(srv_session_table(r->s), token, strlen(token),
                            expires, tok == NULL, id, csrf);
    sodium_memzero(token, sizeof token);
    if (!ok) {
        reply_problem(r, P_INTERNAL, "internal error; see the server log");
        return;
    }
    session_reply(r, csrf);
    session_cookie(r, id);
    sodium_memzero(id, sizeof id);
    sodium_memzero(csrf, sizeof csrf);
}

void console_session_info(req *r)
{
    char csrf[SESSION_TOKEN_MAX];
    const char *cookie =
        MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
    if (cookie == NULL ||
        req_header(r, MHD_HTTP_HEADER_AUTHORIZATION) != NULL ||
        !sessions_csrf(srv_session_table(r->s), cookie, csrf)) {
        reply_problem(r, P_BAD_REQUEST,
                      "no console session: this asks after the session of "
                      "the cookie alone");
        return;
    }
    session_reply(r, csrf);
    sodium_memzero(csrf, sizeof csrf);
}

void console_session_end(req *r)
{
    char token[SR_TOKEN_MAX];
    size_t len = 0;
    const char *cookie =
        MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
    /* Authenticated by the cookie (http.c prefers a bearer token): the
     * handle's token is the session's. */
    if (cookie == NULL ||
        req_header(r, MHD_HTTP_HEADER_AUTHORIZATION) != NULL) {
        reply_problem(r, P_BAD_REQUEST,
                      "sign out of a console session with its cookie alone; "
                      "a bearer token is revoked with POST "
                      "/v1/tokens/{id}/revoke");
        return;
    }
    bool own = sessions_close(srv_session_table(r->s), cookie, token, &len);
    sodium_memzero(token, sizeof token);
    /* The token the sign-in made dies with the session; one the user
     * brought stays theirs. */
    sr_status st = own ? sr_vault_logout(r->v) : SR_OK;
    if (st != SR_OK) {
        reply_status(r, st, r->v);
        return;
    }
    reply_text(r, 204, "text/plain", "", 0);
    session_cookie(r, NULL);
}
