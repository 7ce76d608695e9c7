/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c - the web console's sessions (docs/console.md): a browser
 * signs in once and then holds only a random session id, in an HttpOnly,
 * Secure, SameSite=Strict cookie. The API token the sign-in made stays
 * here, in locked memory, and never reaches the page's script. A session
 * ends after idle_s seconds without a request, when its token expires, or
 * at sign-out; every request that changes something must also carry the
 * session's CSRF token in a header (a value the page reads from the
 * sign-in reply, which another site cannot).
 *
 * Sessions are kept by the BLAKE2b hash of their id, so the table does
 * not hold what the cookie does. A full table drops its least recently
 * used session.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/server.h"

typedef struct session {
    uint8_t id_hash[32];
    char csrf[SESSION_TOKEN_MAX];
    char token[SR_TOKEN_MAX];
    size_t token_len;
    uint64_t last_used, expires; /* monotonic seconds; wall-clock seconds */
    bool own_token;              /* made by the sign-in: revoke at the end */
    bool used;
} session;

struct srv_sessions {
    pthread_mutex_t mu;
    unsigned idle_s, max;
    session *s; /* sodium_malloc: max of them */
};

static uint64_t mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

static uint64_t wall_s(void)
{
    time_t t = time(NULL);
    return t > 0 ? (uint64_t)t : 0;
}

srv_sessions *sessions_new(unsigned idle_s, unsigned max)
{
    srv_sessions *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->s = sodium_allocarray(max, sizeof *t->s);
    if (t->s == NULL || pthread_mutex_init(&t->mu, NULL) != 0) {
        sodium_free(t->s);
        free(t);
        return NULL;
    }
    memset(t->s, 0, (size_t)max * sizeof *t->s);
    t->idle_s = idle_s;
    t->max = max;
    return t;
}

void sessions_free(srv_sessions *t)
{
    if (t == NULL)
        return;
    sodium_free(t->s); /* wipes */
    (void)pthread_mutex_destroy(&t->mu);
    free(t);
}

static void random_text(char out[SESSION_TOKEN_MAX])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, SESSION_TOKEN_MAX, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

static void id_hash(const char *id, size_t len, uint8_t out[32])
{
    (void)crypto_generichash(out, 32, (const uint8_t *)id, len, NULL, 0);
}

bool sessions_open(srv_sessions *t, const char *token, size_t token_len,
                   uint64_t expires, bool own_token, char id[SESSION_TOKEN_MAX],
                   char csrf[SESSION_TOKEN_MAX])
{
    if (token_len == 0 || token_len >= SR_TOKEN_MAX)
        return false;
    random_text(id);
    random_text(csrf);
    uint64_t now = mono_s();
    (void)pthread_mutex_lock(&t->mu);
    session *slot = NULL;
    for (unsigned i = 0; i < t->max; i++) {
        session *s = &t->s[i];
        bool idle = s->used && (now - s->last_used > t->idle_s ||
                                (s->expires != 0 && wall_s() >= s->expires));
        if (!s->used || idle) {
            slot = s;
            break;
        }
        if (slot == NULL || s->last_used < slot->last_used)
            slot = s;
    }
    if (slot == NULL) { /* a table of no sessions */
        (void)pthread_mutex_unlock(&t->mu);
        return false;
    }
    sodium_memzero(slot, sizeof *slot);
    id_hash(id, strlen(id), slot->id_hash);
    memcpy(slot->csrf, csrf, SESSION_TOKEN_MAX);
    memcpy(slot->token, token, token_len);
    slot->token_len = token_len;
    slot->last_used = now;
    slot->expires = expires;
    slot->own_token = own_token;
    slot->used = true;
    (void)pthread_mutex_unlock(&t->mu);
    return true;
}

/* The live session of cookie id, or NULL (an ended one is wiped). Under
 * the lock. */
static session *find(srv_sessions *t, const char *id, uint64_t now)
{
    uint8_t h[32];
    size_t len = id != NULL ? strnlen(id, SESSION_TOKEN_MAX) : 0;
    if (len == 0 || len >= SESSION_TOKEN_MAX)
        return NULL;
    id_hash(id, len, h);
    for (unsigned i = 0; i < t->max; i++) {
        session *s = &t->s[i];
        if (!s->used || sodium_memcmp(s->id_hash, h, sizeof h) != 0)
            continue;
        if (now - s->last_used > t->idle_s ||
            (s->expires != 0 && wall_s() >= s->expires)) {
            sodium_memzero(s, sizeof *s);
            return NULL;
        }
        return s;
    }
    return NULL;
}

session_use sessions_use(srv_sessions *t, const char *id, const char *csrf,
                         char token[SR_TOKEN_MAX], size_t *token_len)
{
    uint64_t now = mono_s();
    session_use u = SESSION_UNKNOWN;
    *token_len = 0;
    (void)pthread_mutex_lock(&t->mu);
    session *s = find(t, id, now);
    if (s != NULL) {
        size_t n = csrf != NULL ? strnlen(csrf, SESSION_TOKEN_MAX) : 0;
        size_t want = strlen(s->csrf);
        if (csrf != NULL &&
            (n != want || sodium_memcmp(csrf, s->csrf, want) != 0)) {
            u = SESSION_BAD_CSRF;
        } else {
            memcpy(token, s->token, s->token_len);
            token[s->token_len] = '\0';
            *token_len = s->token_len;
            s->last_used = now;
            u = SESSION_OK;
        }
    }
    (void)pthread_mutex_unlock(&t->mu);
    return u;
}

bool sessions_close(srv_sessions *t, const char *id, char token[SR_TOKEN_MAX],
                    size_t *token_len)
{
    bool own = false;
    *token_len = 0;
    (void)pthread_mutex_lock(&t->mu);
    session *s = find(t, id, mono_s());
    if (s != NULL) {
        own = s->own_token;
        memcpy(token, s->token, s->token_len);
        token[s->token_len] = '\0';
        *token_len = s->token_len;
        sodium_memzero(s, sizeof *s);
    }
    (void)pthread_mutex_unlock(&t->mu);
    return own;
}

bool sessions_csrf(srv_sessions *t, const char *id,
                   char csrf[SESSION_TOKEN_MAX])
{
    bool ok = false;
    csrf[0] = '\0';
    (void)pthread_mutex_lock(&t->mu);
    session *s = find(t, id, mono_s());
    if (s != NULL) {
        memcpy(csrf, s->csrf, SESSION_TOKEN_MAX);
        ok = true;
    }
    (void)pthread_mutex_unlock(&t->mu);
    return ok;
}
