/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/hotline.h - a hotline node (issue 9, docs/hotline.md): an
 * accountable case exchange with partner nodes.
 *
 * A node is a directory of its own, mode 0700:
 *
 *   node.key   its secret seed and name (mode 0600; src/hotline/files.h)
 *   node.pub   its public line, to hand to partners
 *   peers      the partner nodes it knows: name, URL, public line
 *   lock       serialises changes to the node's files
 *
 *   node.db    every message sent and received: as sealed on the wire,
 *              its body sealed again to this node, its delivery state
 *
 *   log/, log.vkey, audit/   the node's transparency log (the audit
 *              log's format and code), one entry a message sent, taken
 *              in or delivered
 *
 * Built so far: making a node, its public line, peers; queueing messages,
 * taking them in with a signed receipt (the server's part), delivering
 * them with retries, listing and reading them, the log. Not built yet:
 * witnessing the partner's log, deadlines and the report.
 */
#ifndef STRONGROOM_HOTLINE_H
#define STRONGROOM_HOTLINE_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A public line: "srnode1:" name ":" 128 base64 characters, a NUL (and
 * a byte to spare). */
#define SR_HOTLINE_PUBLIC_MAX 202
#define SR_HOTLINE_NAME_MAX 63
#define SR_HOTLINE_URL_MAX 255
#define SR_HOTLINE_MSG_MAX 512

typedef struct sr_hotline sr_hotline;

/* Make a node named `name` in dir (created; it must not exist) with fresh
 * keys; pub gets its public line. On failure msg says why and nothing is
 * left behind. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_init(const char *dir,
                                                const char *name,
                                                char pub[SR_HOTLINE_PUBLIC_MAX],
                                                char msg[SR_HOTLINE_MSG_MAX]);

/* Open the node in dir: its keys and peers, checked. On failure *out may
 * still be set, for sr_hotline_errmsg; close it. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_open(sr_hotline **out,
                                                const char *dir);
SR_API void sr_hotline_close(sr_hotline *h);
SR_API const char *sr_hotline_errmsg(const sr_hotline *h);

SR_API const char *sr_hotline_name(const sr_hotline *h);
/* <dir>/log: the node's log as C2SP tlog-tiles, to serve. */
SR_API const char *sr_hotline_log_dir(const sr_hotline *h);
SR_API SR_WARN_UNUSED sr_status
sr_hotline_public(const sr_hotline *h, char pub[SR_HOTLINE_PUBLIC_MAX]);

/* Add a partner: its name, the https URL it is reached at (or a loopback
 * http one), and its public line, whose name must be `name`. Refused: this
 * node itself, a name already there, a bad URL or line. The peers file is
 * replaced atomically. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_peer_add(sr_hotline *h,
                                                    const char *name,
                                                    const char *url,
                                                    const char *key);

typedef struct sr_hotline_peer_info {
    char name[SR_HOTLINE_NAME_MAX + 1];
    char url[SR_HOTLINE_URL_MAX + 1];
    char key[SR_HOTLINE_PUBLIC_MAX];
} sr_hotline_peer_info;

/* Call fn for each peer, in the order they were added; a status other
 * than SR_OK from fn stops the walk and is returned. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_peers(
    const sr_hotline *h,
    sr_status (*fn)(void *ctx, const sr_hotline_peer_info *p), void *ctx);

/* Queue a message for `peer` in case `case_id`: its kind ("request",
 * "ack", "response", "close"), TLP 2.0 label ("TLP:AMBER", ...) and body
 * (JSON text, checked against its kind: docs/hotline.md). Messages of one
 * case to one peer are numbered 1, 2, ... in the order they are queued.
 * id gets the message's id (32 hex digits). sr_hotline_deliver sends it. */
#define SR_HOTLINE_ID_LEN 32
SR_API SR_WARN_UNUSED sr_status sr_hotline_send(sr_hotline *h, const char *peer,
                                                const char *case_id,
                                                const char *kind,
                                                const char *tlp,
                                                const char *body, size_t len,
                                                char id[SR_HOTLINE_ID_LEN + 1]);

/* Queue n messages at once, in one transaction and one log sync: all or
 * none. ids[i] gets message i's id. The message names the first that
 * failed and why. */
typedef struct sr_hotline_outbound {
    const char *peer, *case_id, *kind, *tlp, *body;
    size_t len;
} sr_hotline_outbound;
SR_API SR_WARN_UNUSED sr_status
sr_hotline_send_many(sr_hotline *h, const sr_hotline_outbound *msgs, size_t n,
                     char (*ids)[SR_HOTLINE_ID_LEN + 1]);

/* Queue a message of `kind` in answer to message `to` (32 hex digits,
 * one this node received or sent): to the same peer, in the same case,
 * under the same TLP label. */
SR_API SR_WARN_UNUSED sr_status
sr_hotline_reply(sr_hotline *h, const char *to, const char *kind,
                 const char *body, size_t len, char id[SR_HOTLINE_ID_LEN + 1]);

/* Pass message id (one this node holds) on to another peer, as a new
 * message of the same kind, body and TLP label, in case_id (NULL: the
 * same case id). TLP 2.0 decides: only TLP:CLEAR and TLP:GREEN may go to
 * a third node; anything else is refused (SR_ERR_DENIED) and nothing is
 * queued. */
SR_API SR_WARN_UNUSED sr_status
sr_hotline_forward(sr_hotline *h, const char *id, const char *peer,
                   const char *case_id, char out_id[SR_HOTLINE_ID_LEN + 1]);

/* The body (JSON object text) with files[0..n) added to its
 * "attachments" (each: name, media_type, size, sha256, base64 data; at
 * most 16 of 4 MiB): *out (free with sr_hotline_free). */
SR_API SR_WARN_UNUSED sr_status sr_hotline_attach(sr_hotline *h,
                                                  const char *body, size_t len,
                                                  const char *const *files,
                                                  size_t n, char **out,
                                                  size_t *out_len);
/* Write attachment `index` (from 0) of message id to a new file at path
 * (mode 0600; never over an existing one), after checking its size and
 * SHA-256. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_attachment(sr_hotline *h,
                                                      const char *id,
                                                      size_t index,
                                                      const char *path);

/* Take in a message from a peer (what the server was POSTed). On SR_OK
 * *receipt (free with sr_hotline_free) is this node's signed receipt for
 * it, to answer with; a message taken in before gets the same receipt
 * again. Refused: SR_ERR_INVALID (malformed, a bad body), SR_ERR_VERSION,
 * SR_ERR_AUTH (not for this node, not from a peer, a bad signature),
 * SR_ERR_CORRUPT (does not open), SR_ERR_CONFLICT (a sequence number
 * already taken by another message, or one that skips ahead: the
 * message says which and what is expected). */
SR_API SR_WARN_UNUSED sr_status sr_hotline_receive(sr_hotline *h,
                                                   const char *env, size_t len,
                                                   char **receipt,
                                                   size_t *receipt_len);
SR_API void sr_hotline_free(void *p);

/* Take in n messages at once (a peer's batch: one write transaction and
 * one log sync for all). out[i] says how message i went: on SR_OK its
 * receipt (free with sr_hotline_free), else why not, as for
 * sr_hotline_receive. A message refused leaves nothing behind, and those
 * after it are still taken (a later one of its case is then out of
 * order). Returns SR_OK once each has its answer, or the status that
 * failed the whole batch (the store, the log); then nothing of it stays
 * and every out[i] says so. */
typedef struct sr_hotline_taken {
    sr_status status;
    char *receipt;
    size_t receipt_len;
    char msg[SR_HOTLINE_MSG_MAX];
} sr_hotline_taken;
SR_API SR_WARN_UNUSED sr_status
sr_hotline_receive_batch(sr_hotline *h, const char *const *envs,
                         const size_t *lens, size_t n, sr_hotline_taken *out);

typedef struct sr_hotline_delivery {
    unsigned delivered; /* receipted by their recipient */
    unsigned failed;    /* tried and not receipted: retried later */
    unsigned waiting;   /* not tried: backing off, or behind a failure */
} sr_hotline_delivery;

/* Send the queued messages, oldest first and each case in order: POST
 * to the peer's URL + "/hotline/v1/messages", and keep the peer's
 * receipt, checked (its signature, and that it names this very
 * envelope). A message that fails waits 2^attempts seconds (at most an
 * hour) before the next try, and holds back the later messages of its
 * case; force ignores the wait. ca_file: a CA bundle for the peers'
 * https certificates (NULL: the system's). */
SR_API SR_WARN_UNUSED sr_status sr_hotline_deliver(sr_hotline *h, int force,
                                                   const char *ca_file,
                                                   sr_hotline_delivery *out);

typedef struct sr_hotline_message_info {
    char id[SR_HOTLINE_ID_LEN + 1];
    int outgoing;
    char peer[SR_HOTLINE_NAME_MAX + 1];
    char case_id[65];
    unsigned long long seq;
    char kind[16];
    char tlp[24];
    char sent[21];
    char state[16]; /* "queued", "delivered", "received" */
    unsigned attempts;
    char error[200]; /* the last failed attempt's cause */
} sr_hotline_message_info;

/* Sign a new checkpoint of the node's transparency log (<dir>/log, C2SP
 * tlog-tiles; its verifier key in <dir>/log.vkey) over every entry
 * appended so far; *size gets its tree size. Closing a node does it too.
 * Each message sent, taken in or delivered appends one entry (hashes,
 * numbers and names, never content: docs/hotline.md). */
SR_API SR_WARN_UNUSED sr_status sr_hotline_checkpoint(sr_hotline *h,
                                                      unsigned long long *size);

/* Witness every peer's log: fetch its checkpoint and hash tiles
 * (<url>/hotline/log/...) into <dir>/mirror/<peer>/, and have the node's
 * witness (<dir>/witness, strongroom/witness.h) check that the checkpoint
 * is signed by the peer's log key (from its public line) and extends the
 * last one seen, and cosign it. A peer that rewrote or rolled back its
 * log is refused, with both checkpoints kept as evidence in
 * <dir>/witness/forks/. A cosignature is then sent back to the peer
 * (POST /hotline/v1/cosignatures, sr_hotline_take_cosignature). fn is
 * told each peer's outcome: SR_OK (cosigned; why says "sent back" or why
 * not), SR_ERR_AUDIT with fork set (caught), or another status (could not
 * check: unreachable, malformed) with why. */
/* Take a partner's cosignature of this node's log (the body of POST
 * /hotline/v1/cosignatures, which `witness` sends after cosigning):
 * {"from": peer, "vkey": its witness's cosignature/v1 key, "note": this
 * node's checkpoint with the witness's cosignature, "sig": base64 of the
 * peer node's Ed25519 signature of "srcosig1\n" vkey "\n" note}. The
 * note must carry this node's own log signature and the witness's
 * cosignature; it is kept in <dir>/cosignatures/<peer> unless the one
 * kept covers more of the log. SR_ERR_INVALID (malformed), SR_ERR_AUTH
 * (not a peer, not its signature, not this log's checkpoint or not
 * cosigned by that key), SR_ERR_IO. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_take_cosignature(sr_hotline *h,
                                                            const char *body,
                                                            size_t len);

typedef struct sr_hotline_cosignature_info {
    char peer[SR_HOTLINE_NAME_MAX + 1];
    int held;                /* a cosignature by this peer is kept */
    unsigned long long size; /* of this node's log, when it cosigned */
    char path[4096];         /* the file: the cosigned checkpoint */
} sr_hotline_cosignature_info;

/* For each peer, the latest cosignature of this node's log it sent. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_cosignatures(
    sr_hotline *h,
    sr_status (*fn)(void *ctx, const sr_hotline_cosignature_info *c),
    void *ctx);

SR_API SR_WARN_UNUSED sr_status
sr_hotline_witness(sr_hotline *h, const char *ca_file,
                   sr_status (*fn)(void *ctx, const char *peer, sr_status st,
                                   int fork, const char *why),
                   void *ctx);

/* A request and how it was handled, seen from this node: sent by it
 * (outgoing) or received. Times are Unix seconds (0: none). answered: when
 * the first response was taken in (a request this node sent) or
 * receipted by the requester (one it received). state: "answered" (by
 * the deadline), "late" (answered after it), "overdue" (unanswered past
 * it), "closed" (closed unanswered, before it) or "open". */
typedef struct sr_hotline_case_info {
    int outgoing;
    char peer[SR_HOTLINE_NAME_MAX + 1];
    char case_id[65];
    long long requested, deadline, answered;
    int acked, closed;
    char state[12];
} sr_hotline_case_info;

/* Every request, oldest first, its state as of `now`. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_cases(
    sr_hotline *h, long long now,
    sr_status (*fn)(void *ctx, const sr_hotline_case_info *c), void *ctx);

/* Per partner and direction, the requests made in [since, until) and
 * how they stand at `now`. */
typedef struct sr_hotline_report_row {
    char peer[SR_HOTLINE_NAME_MAX + 1];
    int outgoing; /* requests this node sent (1) or received (0) */
    unsigned requests, acked, in_time, late, overdue, open;
    /* sent only: messages of any kind sent in the period, tried at least
     * once, that the peer has not receipted (it is down, or withholds
     * its receipts) */
    unsigned unreceipted;
} sr_hotline_report_row;

SR_API SR_WARN_UNUSED sr_status sr_hotline_report(
    sr_hotline *h, long long since, long long until, long long now,
    sr_status (*fn)(void *ctx, const sr_hotline_report_row *r), void *ctx);

/* Every message, oldest first. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_messages(
    sr_hotline *h, sr_status (*fn)(void *ctx, const sr_hotline_message_info *m),
    void *ctx);

/* One message (id: 32 hex digits) and its body, decrypted: *body is
 * NUL-terminated, in locked memory; free it with sr_hotline_free_body. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_read(sr_hotline *h, const char *id,
                                                sr_hotline_message_info *info,
                                                char **body, size_t *len);
SR_API void sr_hotline_free_body(char *body, size_t len);

#ifdef __cplusplus
}
#endif
#endif
