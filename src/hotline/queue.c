/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/queue.c - a hotline node's messages: queued to a partner (sealed,
 * signed, logged) and taken in from one (opened, checked, logged,
 * receipted).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <time.h>

#include "audit/entry.h"
#include "hotline/node_int.h"

/* ---- messages ------------------------------------------------------------ */

/* Open node.db and the node's log (checked: a log that fails its checks
 * fails every message operation). */
sr_status hl_store_of(sr_hotline *h)
{
    char path[PATH_MAX], m[HL_STORE_MSG_MAX], lmsg[AUDIT_MSG_MAX];
    sr_status st = hl_load_peers(h, false);
    if (st != SR_OK || h->store != NULL)
        return st;
    if (!hl_path_in(path, h->dir, "node.db"))
        return hl_say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    log_keys k;
    st = hl_log_keys_of(h->id, &k);
    if (st == SR_OK) {
        audit_log_config c = {h->dir, k.journal, k.sign, k.origin};
        st = audit_log_open(&h->log, &c, lmsg);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "the node's log: %s", lmsg);
    }
    hl_log_keys_free(&k);
    if (st != SR_OK)
        return st;
    st = hl_store_open(&h->store, path, m);
    if (st != SR_OK)
        return hl_say(h->msg, st, "%s", m);
    return SR_OK;
}

sr_status hl_message_get(sr_hotline *h, const char *id,
                         uint8_t raw[HL_ID_BYTES], hl_record *r)
{
    char m[HL_STORE_MSG_MAX];
    if (id == NULL || !hex_decode(raw, HL_ID_BYTES, id, strlen(id)))
        return hl_say(h->msg, SR_ERR_INVALID, "a message id is 32 hex digits");
    sr_status st = hl_store_of(h);
    if (st != SR_OK)
        return st;
    st = hl_store_get(h->store, raw, r, m);
    return st == SR_OK ? SR_OK : hl_say(h->msg, st, "message %s: %s", id, m);
}

void hl_log_batch_free(log_batch *lb)
{
    for (size_t i = 0; i < lb->n; i++)
        buf_free(&lb->e[i]);
    free(lb->e);
    memset(lb, 0, sizeof *lb);
}

/* Encode one entry about a message into lb: what happened to it, by its
 * hashes and numbers, never its content. action: "hotline.send.KIND",
 * "hotline.receive.KIND" or "hotline.delivered"; extra: more detail (a
 * receipt's hash), or NULL. */
sr_status hl_log_add(log_batch *lb, const char *action, const char *peer,
                     const hl_header *hd, const uint8_t env_hash[32],
                     const char *extra)
{
    char id[2 * HL_ID_BYTES + 1], hash[65];
    audit_entry e;
    if (lb->n == lb->cap) {
        size_t cap = lb->cap ? 2 * lb->cap : 16;
        sr_buf *p = realloc(lb->e, cap * sizeof *p);
        if (p == NULL)
            return SR_ERR_NOMEM;
        lb->e = p;
        lb->cap = cap;
    }
    memset(&e, 0, sizeof e);
    e.time_ns = (uint64_t)time(NULL) * 1000000000u;
    (void)snprintf(e.principal, sizeof e.principal, "%s", peer);
    (void)snprintf(e.action, sizeof e.action, "%s", action);
    e.outcome = ENTRY_ALLOWED;
    (void)snprintf(e.case_id, sizeof e.case_id, "%s", hd->case_id);
    hex_encode(id, hd->id, HL_ID_BYTES);
    hex_encode(hash, env_hash, 32);
    (void)snprintf(e.detail, sizeof e.detail,
                   "seq %llu id %s sha256 %s tlp %s%s%s",
                   (unsigned long long)hd->seq, id, hash, hl_tlp_name(hd->tlp),
                   extra != NULL ? " " : "", extra != NULL ? extra : "");
    e.count = hd->seq;
    buf_init(&lb->e[lb->n], ENTRY_MAX_BYTES);
    sr_status st = entry_encode(&e, &lb->e[lb->n]);
    if (st != SR_OK) {
        buf_free(&lb->e[lb->n]);
        return st;
    }
    lb->n++;
    return SR_OK;
}

/* Append lb's entries to the node's log, durably, in one batch. */
static sr_status log_flush(sr_hotline *h, log_batch *lb)
{
    char lmsg[AUDIT_MSG_MAX] = "";
    uint64_t first = 0;
    sr_status st = SR_OK;
    for (size_t i = 0; i < lb->n && st == SR_OK;) {
        size_t k = lb->n - i < AUDIT_APPEND_MANY_MAX ? lb->n - i
                                                     : AUDIT_APPEND_MANY_MAX;
        const uint8_t **e = malloc(k * sizeof *e);
        size_t *len = malloc(k * sizeof *len);
        if (e == NULL || len == NULL) {
            st = SR_ERR_NOMEM;
        } else {
            for (size_t j = 0; j < k; j++) {
                e[j] = lb->e[i + j].p;
                len[j] = lb->e[i + j].len;
            }
            st = audit_log_append_many(h->log, e, len, k, &first, lmsg);
        }
        free(e);
        free(len);
        i += k;
    }
    hl_log_batch_free(lb);
    if (st != SR_OK)
        return hl_say(h->msg, st, "the node's log: %s",
                      lmsg[0] != '\0' ? lmsg : sr_status_str(st));
    return SR_OK;
}

const hl_peer *hl_peer_named(const sr_hotline *h, const char *name)
{
    for (size_t i = 0; i < h->npeers; i++)
        if (strcmp(h->peers[i].name, name) == 0)
            return &h->peers[i];
    return NULL;
}

void hl_now_utc(char out[21], int64_t *secs)
{
    time_t t = time(NULL);
    struct tm tm;
    (void)gmtime_r(&t, &tm);
    (void)strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (secs != NULL)
        *secs = (int64_t)t;
}

static sr_status kind_parse(const char *s, hl_kind *out)
{
    for (unsigned k = 0; k < HL_KIND_COUNT; k++)
        if (s != NULL && strcmp(s, hl_kind_name((hl_kind)k)) == 0) {
            *out = (hl_kind)k;
            return SR_OK;
        }
    return SR_ERR_INVALID;
}

/* Seal, keep a copy and store a message in one write transaction. */
static sr_status put_message(sr_hotline *h, hl_record *r, const uint8_t *body,
                             size_t len)
{
    char m[HL_STORE_MSG_MAX];
    uint8_t *self = NULL;
    size_t self_len = 0;
    sr_status st = hl_self_seal(h->id, r->h.id, body, len, &self, &self_len);
    if (st != SR_OK)
        return hl_say(h->msg, st, "cannot keep a copy of the body");
    r->body = self;
    r->body_len = self_len;
    st = hl_store_put(h->store, r, m);
    free(self);
    if (st != SR_OK)
        return hl_say(h->msg, st, "%s", m);
    return SR_OK;
}

/* End a write transaction that failed; its own failure changes nothing
 * (the connection rolls back when it closes). */
void hl_rollback(hl_store *s)
{
    char m[HL_STORE_MSG_MAX];
    if (hl_store_exec(s, "ROLLBACK", m) != SR_OK)
        return;
}

/* End a write transaction: lb's entries appended to the log, durably,
 * before the commit (the log never lacks what the node holds; it may
 * name an attempt that did not stay), then COMMIT; on any failure the
 * transaction is rolled back. lb is emptied either way. */
sr_status hl_log_and_commit(sr_hotline *h, log_batch *lb)
{
    char m[HL_STORE_MSG_MAX];
    sr_status st = lb->n > 0 ? log_flush(h, lb) : SR_OK;
    hl_log_batch_free(lb);
    if (st == SR_OK) {
        st = hl_store_exec(h->store, "COMMIT", m);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "%s", m);
    }
    if (st != SR_OK)
        hl_rollback(h->store);
    return st;
}

/* Queue one message inside the caller's write transaction; its log entry
 * goes to lb. */
static sr_status queue_one(sr_hotline *h, const sr_hotline_outbound *o,
                           char id[SR_HOTLINE_ID_LEN + 1], log_batch *lb)
{
    char err[HL_ERR_MAX], m[HL_STORE_MSG_MAX];
    hl_record r;
    char *env = NULL;
    size_t env_len = 0;
    memset(&r, 0, sizeof r);
    id[0] = '\0';
    const hl_peer *to = o->peer != NULL ? hl_peer_named(h, o->peer) : NULL;
    if (to == NULL)
        return hl_say(h->msg, SR_ERR_NOT_FOUND,
                      "%s is not a peer of this node (hotline peer add)",
                      o->peer != NULL ? o->peer : "");
    if (o->case_id == NULL || !hl_case_ok(o->case_id, strlen(o->case_id)))
        return hl_say(h->msg, SR_ERR_INVALID,
                      "a case id is 1-64 of A-Z, a-z, 0-9, '.', '_', ':', '-'");
    if (kind_parse(o->kind, &r.h.kind) != SR_OK || r.h.kind == HL_RECEIPT)
        return hl_say(h->msg, SR_ERR_INVALID,
                      "the kind is request, ack, response or close");
    if (hl_tlp_parse(o->tlp, &r.h.tlp) != SR_OK)
        return hl_say(h->msg, SR_ERR_INVALID,
                      "the TLP label is TLP:CLEAR, TLP:GREEN, TLP:AMBER, "
                      "TLP:AMBER+STRICT or TLP:RED");
    const uint8_t *body = (const uint8_t *)o->body;
    if (hl_body_check_marked(r.h.kind, r.h.tlp, body, o->len, err) != SR_OK)
        return hl_say(h->msg, SR_ERR_INVALID, "%s", err);
    (void)snprintf(r.h.from, sizeof r.h.from, "%s", hl_identity_name(h->id));
    (void)snprintf(r.h.to, sizeof r.h.to, "%s", to->name);
    (void)snprintf(r.h.case_id, sizeof r.h.case_id, "%s", o->case_id);
    randombytes_buf(r.h.id, sizeof r.h.id);
    hl_now_utc(r.h.sent, &r.at);
    r.outgoing = true;
    r.state = HL_QUEUED;
    if (r.h.kind == HL_REQUEST)
        r.deadline = hl_request_deadline(body, o->len);
    sr_status st =
        hl_store_next_seq(h->store, to->name, o->case_id, true, &r.h.seq, m);
    if (st != SR_OK)
        (void)hl_say(h->msg, st, "%s", m);
    if (st == SR_OK) {
        st = hl_seal(h->id, to, &r.h, body, o->len, &env, &env_len);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "cannot seal the message");
    }
    if (st == SR_OK) {
        r.envelope = (const uint8_t *)env;
        r.envelope_len = env_len;
        hl_envelope_hash(env, env_len, r.env_hash);
        st = put_message(h, &r, body, o->len);
    }
    if (st == SR_OK) {
        char action[ENTRY_NAME_MAX + 1];
        (void)snprintf(action, sizeof action, "hotline.send.%s",
                       hl_kind_name(r.h.kind));
        st = hl_log_add(lb, action, to->name, &r.h, r.env_hash, NULL);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "the node's log: %s", sr_status_str(st));
    }
    free(env);
    if (st == SR_OK)
        hex_encode(id, r.h.id, HL_ID_BYTES);
    return st;
}

sr_status sr_hotline_send_many(sr_hotline *h, const sr_hotline_outbound *msgs,
                               size_t n, char (*ids)[SR_HOTLINE_ID_LEN + 1])
{
    char m[HL_STORE_MSG_MAX];
    log_batch lb = {NULL, 0, 0};
    sr_status st = hl_store_of(h);
    if (st != SR_OK)
        return st;
    st = hl_store_exec(h->store, "BEGIN IMMEDIATE", m);
    if (st != SR_OK)
        return hl_say(h->msg, st, "%s", m);
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        st = queue_one(h, &msgs[i], ids[i], &lb);
        if (st != SR_OK && n > 1) {
            char keep[SR_HOTLINE_MSG_MAX];
            memcpy(keep, h->msg, sizeof keep);
            (void)hl_say(h->msg, st, "message %zu: %s", i + 1, keep);
        }
    }
    if (st == SR_OK)
        st = hl_log_and_commit(h, &lb);
    else {
        hl_log_batch_free(&lb);
        hl_rollback(h->store);
    }
    if (st != SR_OK)
        for (size_t i = 0; i < n; i++)
            ids[i][0] = '\0';
    return st;
}

sr_status sr_hotline_send(sr_hotline *h, const char *peer, const char *case_id,
                          const char *kind, const char *tlp, const char *body,
                          size_t len, char id[SR_HOTLINE_ID_LEN + 1])
{
    sr_hotline_outbound o = {peer, case_id, kind, tlp, body, len};
    return sr_hotline_send_many(h, &o, 1, (char(*)[SR_HOTLINE_ID_LEN + 1]) id);
}

sr_status sr_hotline_reply(sr_hotline *h, const char *to, const char *kind,
                           const char *body, size_t len,
                           char id[SR_HOTLINE_ID_LEN + 1])
{
    char peer[HL_NAME_MAX + 1], case_id[HL_CASE_MAX + 1];
    uint8_t raw[HL_ID_BYTES];
    hl_record r;
    id[0] = '\0';
    sr_status st = hl_message_get(h, to, raw, &r);
    if (st != SR_OK)
        return st;
    (void)snprintf(peer, sizeof peer, "%s", r.outgoing ? r.h.to : r.h.from);
    (void)snprintf(case_id, sizeof case_id, "%s", r.h.case_id);
    return sr_hotline_send(h, peer, case_id, kind, hl_tlp_name(r.h.tlp), body,
                           len, id);
}

sr_status sr_hotline_forward(sr_hotline *h, const char *id, const char *peer,
                             const char *case_id,
                             char out_id[SR_HOTLINE_ID_LEN + 1])
{
    sr_hotline_message_info m;
    char *body = NULL;
    size_t len = 0;
    out_id[0] = '\0';
    sr_status st = sr_hotline_read(h, id, &m, &body, &len);
    if (st != SR_OK)
        return st;
    hl_tlp t = HL_TLP_RED;
    if (hl_body_personal(HL_REQUEST, (const uint8_t *)body, len))
        st = hl_say(h->msg, SR_ERR_DENIED,
                    "message %s carries personal data: it was shared with %s "
                    "alone, under a second person's approval, and is never "
                    "passed on",
                    id, m.outgoing ? m.peer : "this node");
    else if (hl_tlp_parse(m.tlp, &t) != SR_OK || !hl_tlp_may_forward(t))
        st = hl_say(h->msg, SR_ERR_DENIED,
                    "message %s is marked %s: it goes no further than its "
                    "recipient%s (only TLP:CLEAR and TLP:GREEN are passed on)",
                    id, m.tlp, t == HL_TLP_RED ? "" : "'s organisation");
    else if (peer != NULL && strcmp(peer, m.peer) == 0)
        st = hl_say(h->msg, SR_ERR_INVALID,
                    "message %s came from %s: forward it to another node", id,
                    m.peer);
    else
        st = sr_hotline_send(h, peer, case_id != NULL ? case_id : m.case_id,
                             m.kind, m.tlp, body, len, out_id);
    sr_hotline_free_body(body, len);
    return st;
}

void sr_hotline_free(void *p)
{
    free(p);
}

/* The receipt for an envelope taken in: its hash and when. */
static sr_status make_receipt(sr_hotline *h, const hl_peer *to,
                              const hl_header *in, const uint8_t hash[32],
                              char **out, size_t *out_len)
{
    char body[160], hex[65];
    hl_header r;
    memset(&r, 0, sizeof r);
    (void)snprintf(r.from, sizeof r.from, "%s", hl_identity_name(h->id));
    (void)snprintf(r.to, sizeof r.to, "%s", to->name);
    (void)snprintf(r.case_id, sizeof r.case_id, "%s", in->case_id);
    r.seq = in->seq;
    randombytes_buf(r.id, sizeof r.id);
    r.kind = HL_RECEIPT;
    r.tlp = in->tlp;
    hl_now_utc(r.sent, NULL);
    hex_encode(hex, hash, 32);
    int n = snprintf(body, sizeof body,
                     "{\"message\":\"%s\",\"received\":\"%s\"}", hex, r.sent);
    if (n < 0 || (size_t)n >= sizeof body)
        return SR_ERR_INTERNAL;
    return hl_seal(h->id, to, &r, (const uint8_t *)body, (size_t)n, out,
                   out_len);
}

/* Take one envelope in, inside the caller's write transaction: its
 * receipt (malloc'd) to *receipt, its log entry added to lb (none for a
 * message taken in before, which gets its first receipt again). Refusals
 * are said in msg. */
static sr_status take_in(sr_hotline *h, const char *env, size_t len,
                         char **receipt, size_t *receipt_len, log_batch *lb,
                         char msg[SR_HOTLINE_MSG_MAX])
{
    char err[HL_ERR_MAX], m[HL_STORE_MSG_MAX];
    hl_record r, old;
    const uint8_t *body = NULL;
    size_t blen = 0;
    uint64_t expect = 0;
    *receipt = NULL;
    *receipt_len = 0;
    memset(&r, 0, sizeof r);
    sr_status st = hl_open_in(h->id, h->peers, h->npeers, env, len, &r.h,
                              &h->scratch, &body, &blen, err);
    if (st != SR_OK)
        return hl_say(msg, st, "refused: %s", err);
    if (r.h.kind == HL_RECEIPT)
        st = hl_say(msg, SR_ERR_INVALID,
                    "refused: a receipt comes as the answer to a message");
    else if (hl_body_check_marked(r.h.kind, r.h.tlp, body, blen, err) != SR_OK)
        st = hl_say(msg, SR_ERR_INVALID, "refused: %s", err);
    if (st != SR_OK)
        return st;
    const hl_peer *from = hl_peer_named(h, r.h.from);
    r.envelope = (const uint8_t *)env;
    r.envelope_len = len;
    hl_envelope_hash(env, len, r.env_hash);
    /* Taken in before (its receipt was lost on the way back): the same
     * receipt again. The same id with other bytes is a replay. */
    st = hl_store_get(h->store, r.h.id, &old, m);
    if (st == SR_OK) {
        if (!old.outgoing && sodium_memcmp(old.env_hash, r.env_hash, 32) == 0 &&
            old.receipt != NULL) {
            *receipt = malloc(old.receipt_len + 1);
            if (*receipt == NULL) {
                st = hl_say(msg, SR_ERR_NOMEM, "out of memory");
            } else {
                memcpy(*receipt, old.receipt, old.receipt_len);
                (*receipt)[old.receipt_len] = '\0';
                *receipt_len = old.receipt_len;
            }
        } else {
            st = hl_say(
                msg, SR_ERR_CONFLICT,
                "refused: replayed: message id taken by another message");
        }
        return st;
    }
    if (st == SR_ERR_NOT_FOUND)
        st = hl_store_next_seq(h->store, r.h.from, r.h.case_id, false, &expect,
                               m);
    if (st != SR_OK) {
        (void)hl_say(msg, st, "%s", m);
    } else if (r.h.seq != expect) {
        st =
            hl_say(msg, SR_ERR_CONFLICT,
                   r.h.seq < expect ? "refused: replayed: message %llu of case "
                                      "%s was taken in already (next: %llu)"
                                    : "refused: out of order: message %llu of "
                                      "case %s, but %llu comes first",
                   (unsigned long long)r.h.seq, r.h.case_id,
                   (unsigned long long)expect);
    } else {
        st = make_receipt(h, from, &r.h, r.env_hash, receipt, receipt_len);
        if (st != SR_OK)
            (void)hl_say(msg, st, "cannot make the receipt");
    }
    if (st == SR_OK) {
        r.outgoing = false;
        r.state = HL_RECEIVED;
        if (r.h.kind == HL_REQUEST)
            r.deadline = hl_request_deadline(body, blen);
        r.receipt = (const uint8_t *)*receipt;
        r.receipt_len = *receipt_len;
        hl_now_utc((char[21]){0}, &r.at);
        st = put_message(h, &r, body, blen);
        if (st != SR_OK)
            (void)hl_say(msg, st, "%s", h->msg);
    }
    if (st == SR_OK) {
        char action[ENTRY_NAME_MAX + 1], extra[96], hex[65];
        uint8_t rh[32];
        hl_envelope_hash(*receipt, *receipt_len, rh);
        hex_encode(hex, rh, 32);
        (void)snprintf(action, sizeof action, "hotline.receive.%s",
                       hl_kind_name(r.h.kind));
        (void)snprintf(extra, sizeof extra, "receipt sha256 %s", hex);
        st = hl_log_add(lb, action, r.h.from, &r.h, r.env_hash, extra);
        if (st != SR_OK)
            (void)hl_say(msg, st, "the node's log: %s", sr_status_str(st));
    }
    if (st != SR_OK) {
        free(*receipt);
        *receipt = NULL;
        *receipt_len = 0;
    }
    return st;
}

sr_status sr_hotline_receive_batch(sr_hotline *h, const char *const *envs,
                                   const size_t *lens, size_t n,
                                   sr_hotline_taken *out)
{
    char m[HL_STORE_MSG_MAX];
    log_batch lb = {NULL, 0, 0};
    memset(out, 0, n * sizeof *out);
    sr_status st = hl_store_of(h);
    if (st == SR_OK) {
        st = hl_store_exec(h->store, "BEGIN IMMEDIATE", m);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "%s", m);
    }
    if (st != SR_OK) {
        for (size_t i = 0; i < n; i++) {
            out[i].status = st;
            (void)snprintf(out[i].msg, sizeof out[i].msg, "%s", h->msg);
        }
        return st;
    }
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        /* A message that fails leaves nothing of itself behind. */
        st = hl_store_exec(h->store, "SAVEPOINT msg", m);
        if (st != SR_OK) {
            (void)hl_say(h->msg, st, "%s", m);
            break;
        }
        out[i].status = take_in(h, envs[i], lens[i], &out[i].receipt,
                                &out[i].receipt_len, &lb, out[i].msg);
        st = hl_store_exec(h->store,
                           out[i].status == SR_OK
                               ? "RELEASE msg"
                               : "ROLLBACK TO msg; RELEASE msg",
                           m);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "%s", m);
    }
    /* No receipt leaves before its message and log entry are durable. */
    if (st == SR_OK)
        st = hl_log_and_commit(h, &lb);
    else {
        hl_log_batch_free(&lb);
        hl_rollback(h->store);
    }
    if (st != SR_OK) {
        for (size_t i = 0; i < n; i++) {
            free(out[i].receipt);
            out[i].receipt = NULL;
            out[i].receipt_len = 0;
            if (out[i].status == SR_OK) {
                out[i].status = st;
                (void)snprintf(out[i].msg, sizeof out[i].msg, "%s", h->msg);
            }
        }
    }
    return st;
}

sr_status sr_hotline_receive(sr_hotline *h, const char *env, size_t len,
                             char **receipt, size_t *receipt_len)
{
    sr_hotline_taken t;
    *receipt = NULL;
    *receipt_len = 0;
    sr_status st = sr_hotline_receive_batch(h, &env, &len, 1, &t);
    if (st != SR_OK)
        return st;
    if (t.status != SR_OK)
        return hl_say(h->msg, t.status, "%s", t.msg);
    *receipt = t.receipt;
    *receipt_len = t.receipt_len;
    return SR_OK;
}
