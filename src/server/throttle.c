/* SPDX-License-Identifier: Apache-2.0 */
/*
 * throttle.c - failed authentications per client address. Every failed
 * authentication is an audit entry, written and fdatasync'd: without a
 * limit, anyone who can reach the port could make the server sync entries
 * as fast as it can send bad tokens, and fill the log. Past
 * `auth-failures-per-minute` failures from one address within a minute of
 * its first failure, every request from it that needs a credential gets
 * 429 until that minute is over, without reaching the vault (so without
 * an entry); the first refusal in a minute goes to the server's log with
 * the address. (A minute from the first failure, not a clock minute: a
 * burst that straddles the turn of the minute is not counted twice over.)
 *
 * Addresses are counted in a fixed table (IPv6 by /64, since one host
 * holds a whole /64); an address that falls on a full slot takes it over
 * when the slot's minute is over, or shares its count (an attacker
 * cannot free a slot by flooding others, only share one).
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/server.h"

#define SLOTS 4096u
#define WINDOW_S 60u

typedef struct slot {
    uint8_t key[9]; /* family, then 4 (IPv4) or 8 (IPv6 /64) bytes */
    uint64_t start; /* monotonic second of the minute's first failure */
    unsigned count;
    bool reported;
} slot;

struct srv_throttle {
    unsigned limit;
    pthread_mutex_t mu;
    slot slots[SLOTS];
};

srv_throttle *throttle_new(unsigned per_minute)
{
    srv_throttle *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->limit = per_minute;
    (void)pthread_mutex_init(&t->mu, NULL);
    return t;
}

void throttle_free(srv_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static uint64_t seconds_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

/* Is the minute that started at s->start still running at now? */
static bool in_minute(const slot *s, uint64_t now)
{
    return s->count > 0 && now - s->start < WINDOW_S;
}

/* The key of an address; false for one we cannot read (not counted). */
static bool key_of(const struct sockaddr *sa, uint8_t key[9])
{
    memset(key, 0, 9);
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        key[0] = 4;
        memcpy(key + 1, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        key[0] = 6;
        memcpy(key + 1, &in6->sin6_addr, 8);
        return true;
    }
    return false;
}

static slot *slot_of(srv_throttle *t, const uint8_t key[9])
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < 9; i++)
        h = (h ^ key[i]) * 16777619u;
    return &t->slots[h % SLOTS];
}

unsigned throttle_blocked(srv_throttle *t, const struct sockaddr *sa,
                          bool *first)
{
    uint8_t key[9];
    *first = false;
    if (t == NULL || t->limit == 0 || !key_of(sa, key))
        return 0;
    uint64_t now = seconds_now();
    unsigned wait = 0;
    pthread_mutex_lock(&t->mu);
    slot *s = slot_of(t, key);
    if (in_minute(s, now) && s->count >= t->limit &&
        memcmp(s->key, key, sizeof key) == 0) {
        wait = (unsigned)(s->start + WINDOW_S - now);
        *first = !s->reported;
        s->reported = true;
    }
    pthread_mutex_unlock(&t->mu);
    return wait;
}

void throttle_failure(srv_throttle *t, const struct sockaddr *sa)
{
    uint8_t key[9];
    if (t == NULL || t->limit == 0 || !key_of(sa, key))
        return;
    uint64_t now = seconds_now();
    pthread_mutex_lock(&t->mu);
    slot *s = slot_of(t, key);
    if (!in_minute(s, now)) {
        memcpy(s->key, key, sizeof key);
        s->start = now;
        s->count = 0;
        s->reported = false;
    }
    /* A slot another address holds this minute: counted together, so a
     * flood from elsewhere cannot reset this address's count. */
    if (s->count < UINT32_MAX)
        s->count++;
    if (memcmp(s->key, key, sizeof key) != 0 && s->count >= t->limit)
        memcpy(s->key, key, sizeof key); /* the one failing now is blocked */
    pthread_mutex_unlock(&t->mu);
}
