/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/deliver.c - delivering a hotline node's queued messages to
 * its partners over HTTPS, in batches, and keeping their receipts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>

#include "audit/tile.h"
#include "hotline/node_int.h"

/* ---- delivery ------------------------------------------------------------ */

#define BATCH_MSGS 256u           /* messages in one POST */
#define BATCH_BYTES (8u << 20)    /* envelope bytes in one POST */
#define REPLY_LINE_MAX (4u << 10) /* a receipt or problem line */

static size_t on_reply(char *data, size_t size, size_t n, void *ctx)
{
    reply *r = ctx;
    size_t add = size * n;
    if (r->too_long || add > r->cap - r->len) {
        r->too_long = true;
        return 0; /* stops the transfer */
    }
    memcpy(r->p + r->len, data, add);
    r->len += add;
    return add;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_start(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A request to <peer url>/<path>: a POST of body (envelopes, one a line)
 * when body is not NULL, else a GET; the reply into r (at most r->cap
 * bytes). false, with why, if it could not be made; else *status is the
 * HTTP status. */
bool hl_http_call(const hl_peer *to, const char *ca_file, const char *path,
                  const char *body, size_t len, reply *r, long *status,
                  char why[HL_ERR_MAX])
{
    char url[HL_URL_MAX + TILE_PATH_MAX + 32], cerr[CURL_ERROR_SIZE] = "";
    size_t ul = strlen(to->url);
    *status = 0;
    r->len = 0;
    r->too_long = false;
    (void)snprintf(url, sizeof url, "%s%s%s", to->url,
                   ul > 0 && to->url[ul - 1] == '/' ? "" : "/", path);
    (void)pthread_once(&curl_once, curl_start);
    CURL *c = curl_easy_init();
    struct curl_slist *hd =
        body != NULL
            ? curl_slist_append(NULL, "Content-Type: application/x-ndjson")
            : NULL;
    CURLcode rc = c != NULL && (body == NULL || hd != NULL)
                      ? CURLE_OK
                      : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK) {
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        (void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
        if (body != NULL) {
            (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
            (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t)len);
        }
        (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
        (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        if (ca_file != NULL)
            (void)curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
            (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        (void)snprintf(why, HL_ERR_MAX, "%.60s: %.120s", path,
                       r->too_long       ? "the reply is too long"
                       : cerr[0] != '\0' ? cerr
                                         : curl_easy_strerror(rc));
        return false;
    }
    return true;
}

/* POST a batch; false, with why, unless the peer answered 200. */
static bool post(const hl_peer *to, const char *ca_file, const char *body,
                 size_t len, reply *r, char why[HL_ERR_MAX])
{
    long status = 0;
    if (!hl_http_call(to, ca_file, "hotline/v1/messages", body, len, r, &status,
                      why))
        return false;
    if (status != 200) {
        /* The problem says why; printable bytes only. */
        size_t n = r->len < 120 ? r->len : 120;
        char text[121];
        for (size_t i = 0; i < n; i++)
            text[i] = r->p[i] >= 0x20 && r->p[i] < 0x7f ? r->p[i] : '.';
        text[n] = '\0';
        (void)snprintf(why, HL_ERR_MAX, "HTTP %ld: %s", status, text);
        return false;
    }
    return true;
}

/* One queued message on its way. */
typedef struct outgoing {
    uint8_t id[HL_ID_BYTES];
    hl_header h;
    uint8_t env_hash[32];
    char *env;
    size_t env_len;
    uint32_t attempts;
    char key[HL_NAME_MAX + HL_CASE_MAX + 2]; /* "peer case" */
} outgoing;

/* Is line (a reply line) the recipient's receipt for exactly q? */
static bool receipt_ok(sr_hotline *h, const hl_peer *to, const outgoing *q,
                       const char *line, size_t len, char why[HL_ERR_MAX])
{
    char err[HL_ERR_MAX], hex[65];
    hl_header rh;
    const uint8_t *body = NULL;
    size_t blen = 0;
    json_error_t je;
    json_t *o = NULL;
    if (hl_open_in(h->id, to, 1, line, len, &rh, &h->scratch, &body, &blen,
                   err) != SR_OK) {
        /* Not a receipt: the peer's problem for this message? */
        o = json_loadb(line, len, 0, &je);
        const char *d = json_string_value(json_object_get(o, "detail"));
        (void)snprintf(why, HL_ERR_MAX, "%.190s",
                       d != NULL ? d : "the reply is not a receipt");
        for (char *p = why; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '.';
        json_decref(o);
        return false;
    }
    bool ok = false;
    if (rh.kind != HL_RECEIPT || strcmp(rh.case_id, q->h.case_id) != 0 ||
        rh.seq != q->h.seq)
        (void)snprintf(why, HL_ERR_MAX, "the reply is not its receipt");
    else if (hl_body_check(HL_RECEIPT, body, blen, err) != SR_OK)
        (void)snprintf(why, HL_ERR_MAX, "the receipt: %.180s", err);
    else if ((o = json_loadb((const char *)body, blen, 0, &je)) == NULL)
        (void)snprintf(why, HL_ERR_MAX, "the receipt does not parse");
    else {
        hex_encode(hex, q->env_hash, 32);
        ok = strcmp(json_string_value(json_object_get(o, "message")), hex) == 0;
        if (!ok)
            (void)snprintf(why, HL_ERR_MAX,
                           "the receipt names another message");
    }
    json_decref(o);
    return ok;
}

typedef struct deliver_run {
    sr_hotline *h;
    bool force;
    const char *ca_file;
    int64_t now;
    sr_hotline_delivery *out;
    /* Cases held back this run: "peer case" keys. */
    char (*held)[HL_NAME_MAX + HL_CASE_MAX + 2];
    size_t nheld, capheld;
    /* The queue is read first, then sent: sending writes to the store. */
    uint8_t (*ids)[HL_ID_BYTES];
    size_t nids, capids;
} deliver_run;

static sr_status collect(void *ctx, const hl_record *r)
{
    deliver_run *d = ctx;
    sr_status st =
        array_room((void **)&d->ids, &d->capids, d->nids, sizeof *d->ids);
    if (st != SR_OK)
        return st;
    memcpy(d->ids[d->nids++], r->h.id, HL_ID_BYTES);
    return SR_OK;
}

static bool is_held(deliver_run *d, const char *key)
{
    for (size_t i = 0; i < d->nheld; i++)
        if (strcmp(d->held[i], key) == 0)
            return true;
    return false;
}

static sr_status hold(deliver_run *d, const char *key)
{
    if (is_held(d, key))
        return SR_OK;
    if (d->nheld == d->capheld) {
        size_t cap = d->capheld ? 2 * d->capheld : 16;
        void *p = realloc(d->held, cap * sizeof *d->held);
        if (p == NULL)
            return SR_ERR_NOMEM;
        d->held = p;
        d->capheld = cap;
    }
    (void)snprintf(d->held[d->nheld++], sizeof d->held[0], "%s", key);
    return SR_OK;
}

/* What became of each message of a batch: a receipt to keep, a failed
 * attempt to note (its cause), or nothing (it waits behind its case). */
typedef struct verdict {
    const char *receipt; /* into the reply */
    size_t receipt_len;
    bool failed;
    char why[HL_ERR_MAX];
} verdict;

/* Record a batch's outcome: every state change in one transaction, the
 * receipts' log entries made durable (one sync) before it commits. */
static sr_status settle(deliver_run *d, const hl_peer *to, outgoing *q,
                        verdict *v, size_t n)
{
    sr_hotline *h = d->h;
    char m[HL_STORE_MSG_MAX];
    log_batch lb = {NULL, 0, 0};
    sr_status st = SR_OK;
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        if (v[i].receipt == NULL)
            continue;
        char extra[96], hex[65];
        uint8_t rh[32];
        hl_envelope_hash(v[i].receipt, v[i].receipt_len, rh);
        hex_encode(hex, rh, 32);
        (void)snprintf(extra, sizeof extra, "receipt sha256 %s", hex);
        st = hl_log_add(&lb, "hotline.delivered", to->name, &q[i].h,
                        q[i].env_hash, extra);
    }
    if (st == SR_OK) {
        st = hl_store_exec(h->store, "BEGIN IMMEDIATE", m);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "%s", m);
    }
    if (st != SR_OK) {
        hl_log_batch_free(&lb);
        return st;
    }
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        if (v[i].receipt != NULL) {
            st = hl_store_delivered(h->store, q[i].id,
                                    (const uint8_t *)v[i].receipt,
                                    v[i].receipt_len, d->now, m);
            if (st == SR_ERR_NOT_FOUND) /* delivered meanwhile */
                st = SR_OK;
            else if (st == SR_OK)
                d->out->delivered++;
        } else if (v[i].failed) {
            unsigned shift = q[i].attempts < 12 ? q[i].attempts + 1 : 12;
            int64_t wait = (int64_t)1 << shift;
            if (wait > 3600)
                wait = 3600;
            st = hl_store_attempt_failed(h->store, q[i].id, d->now + wait,
                                         v[i].why, m);
            if (st == SR_ERR_NOT_FOUND)
                st = SR_OK;
            d->out->failed++;
        } else {
            d->out->waiting++;
        }
    }
    if (st == SR_OK)
        return hl_log_and_commit(h, &lb);
    (void)hl_say(h->msg, st, "%s", m);
    hl_log_batch_free(&lb);
    hl_rollback(h->store);
    return st;
}

/* Send q[0..n) (one peer's, in queue order) in one POST and settle. */
static sr_status send_batch(deliver_run *d, const hl_peer *to, outgoing *q,
                            size_t n)
{
    char why[HL_ERR_MAX] = "";
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += q[i].env_len + 1;
    char *body = calloc(total + 1, 1);
    verdict *v = calloc(n, sizeof *v);
    reply r = {NULL, 0, n * REPLY_LINE_MAX, false};
    r.p = malloc(r.cap);
    if (body == NULL || v == NULL || r.p == NULL) {
        free(body);
        free(v);
        free(r.p);
        return hl_say(d->h->msg, SR_ERR_NOMEM, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(body + at, q[i].env, q[i].env_len);
        at += q[i].env_len;
        body[at++] = '\n';
    }
    bool sent = post(to, d->ca_file, body, at, &r, why);
    const char *line = r.p, *end = r.p + r.len;
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        if (sent) {
            const char *nl =
                line < end ? memchr(line, '\n', (size_t)(end - line)) : NULL;
            if (nl == NULL) {
                (void)snprintf(v[i].why, sizeof v[i].why,
                               "no answer for it in the reply");
            } else {
                ok = receipt_ok(d->h, to, &q[i], line, (size_t)(nl - line),
                                v[i].why);
                if (ok) {
                    v[i].receipt = line;
                    v[i].receipt_len = (size_t)(nl - line);
                }
                line = nl + 1;
            }
        } else {
            (void)snprintf(v[i].why, sizeof v[i].why, "%s", why);
        }
        /* The first failure of a case counts; those behind it wait. */
        if (!ok && !is_held(d, q[i].key)) {
            v[i].failed = true;
            if (hold(d, q[i].key) != SR_OK)
                break;
        }
    }
    sr_status st = settle(d, to, q, v, n);
    free(body);
    free(v);
    free(r.p);
    return st;
}

static void outgoing_free(outgoing *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(q[i].env);
}

sr_status sr_hotline_deliver(sr_hotline *h, int force, const char *ca_file,
                             sr_hotline_delivery *out)
{
    char m[HL_STORE_MSG_MAX];
    memset(out, 0, sizeof *out);
    h->msg[0] = '\0';
    sr_status st = hl_store_of(h);
    if (st != SR_OK)
        return st;
    deliver_run d = {h, force != 0, ca_file, 0, out, NULL, 0, 0, NULL, 0, 0};
    hl_now_utc((char[21]){0}, &d.now);
    st = hl_store_each(h->store, true, collect, &d, m);
    if (st != SR_OK)
        (void)hl_say(h->msg, st, "%s", m);
    outgoing *q = calloc(BATCH_MSGS, sizeof *q);
    if (q == NULL && st == SR_OK)
        st = hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
    /* Peer by peer, their messages in queue order, a batch at a time. */
    for (size_t p = 0; p < h->npeers && st == SR_OK; p++) {
        const hl_peer *to = &h->peers[p];
        size_t n = 0, bytes = 0;
        for (size_t i = 0; i < d.nids && st == SR_OK; i++) {
            hl_record r;
            st = hl_store_get(h->store, d.ids[i], &r, m);
            if (st == SR_ERR_NOT_FOUND) {
                st = SR_OK;
                continue;
            }
            if (st != SR_OK) {
                (void)hl_say(h->msg, st, "%s", m);
                break;
            }
            if (r.state != HL_QUEUED || strcmp(r.h.to, to->name) != 0)
                continue;
            outgoing *o = &q[n];
            memset(o, 0, sizeof *o);
            (void)snprintf(o->key, sizeof o->key, "%s %s", r.h.to, r.h.case_id);
            if (is_held(&d, o->key) || (!d.force && r.next_attempt > d.now)) {
                out->waiting++;
                st = hold(&d, o->key);
                continue;
            }
            /* Taken out of the row now: sending a batch (below) ends the
             * store's hold on it. */
            char *env = malloc(r.envelope_len + 1);
            if (env == NULL) {
                st = hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
                break;
            }
            memcpy(env, r.envelope, r.envelope_len);
            outgoing next = *o;
            memcpy(next.id, r.h.id, HL_ID_BYTES);
            next.h = r.h;
            memcpy(next.env_hash, r.env_hash, 32);
            next.attempts = r.attempts;
            next.env = env;
            next.env_len = r.envelope_len;
            /* A batch stays within BATCH_BYTES unless one message alone
             * is larger: the peer takes at most one envelope's length
             * and a newline a message. */
            if (n > 0 && bytes + next.env_len > BATCH_BYTES) {
                st = send_batch(&d, to, q, n);
                outgoing_free(q, n);
                n = bytes = 0;
                /* The batch may have failed this message's case. */
                if (st != SR_OK || is_held(&d, next.key)) {
                    free(next.env);
                    if (st != SR_OK)
                        break;
                    out->waiting++;
                    continue;
                }
            }
            q[n] = next;
            o = &q[n];
            n++;
            bytes += o->env_len;
            if (n == BATCH_MSGS || bytes >= BATCH_BYTES) {
                st = send_batch(&d, to, q, n);
                outgoing_free(q, n);
                n = bytes = 0;
            }
        }
        if (st == SR_OK && n > 0)
            st = send_batch(&d, to, q, n);
        outgoing_free(q, n);
    }
    /* Messages to nodes that are no longer peers stay queued. */
    free(q);
    free(d.ids);
    free(d.held);
    return st;
}
