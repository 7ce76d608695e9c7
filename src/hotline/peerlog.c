/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/peerlog.c - a hotline node watching its partners' logs
 * (fetching, checking and cosigning their checkpoints) and keeping
 * their cosignatures of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include <jansson.h>

#include "audit/note.h"
#include "audit/tile.h"
#include "strongroom/witness.h"
#include "hotline/node_int.h"

/* ---- witnessing the peers' logs ------------------------------------------ */

#define CHECKPOINT_MAX (64u << 10)

/* GET <peer url>/hotline/log/<tail> into f (at most f->cap bytes). */
static bool fetch(const hl_peer *p, const char *ca_file, const char *tail,
                  reply *f, char why[HL_ERR_MAX])
{
    char path[TILE_PATH_MAX + 16];
    long status = 0;
    (void)snprintf(path, sizeof path, "hotline/log/%s", tail);
    if (!hl_http_call(p, ca_file, path, NULL, 0, f, &status, why))
        return false;
    if (status != 200) {
        (void)snprintf(why, HL_ERR_MAX, "%.60s: HTTP %ld", tail, status);
        return false;
    }
    return true;
}

/* Write f to mirror/<tail>, making its directories (the mirror's own
 * names: tile paths are checked by tile_path). */
static bool mirror_put(const char *mirror, const char *tail, const reply *f,
                       char why[HL_ERR_MAX])
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", mirror, tail);
    if (n < 0 || (size_t)n >= sizeof path) {
        (void)snprintf(why, HL_ERR_MAX, "the mirror's path is too long");
        return false;
    }
    for (char *sl = path + strlen(mirror) + 1; (sl = strchr(sl, '/')) != NULL;
         sl++) {
        *sl = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *sl = '/';
            (void)snprintf(why, HL_ERR_MAX, "cannot make the mirror: %s",
                           strerror(errno));
            return false;
        }
        *sl = '/';
    }
    if (file_write_atomic(path, f->p, f->len, 0600) != SR_OK) {
        (void)snprintf(why, HL_ERR_MAX, "cannot write the mirror: %s",
                       strerror(errno));
        return false;
    }
    return true;
}

/* The tree size of a signed checkpoint: its note body (up to the blank
 * line before the signatures) parsed by the same code that checks every
 * checkpoint (note_checkpoint_parse, fuzzed). The witness checks the
 * signature afterwards. */
static bool checkpoint_size(const reply *f, uint64_t *size)
{
    note_checkpoint cp;
    size_t body = 0;
    for (; body + 1 < f->len; body++)
        if (f->p[body] == '\n' && f->p[body + 1] == '\n')
            break;
    if (body + 1 >= f->len ||
        note_checkpoint_parse(f->p, body + 1, &cp) != SR_OK)
        return false;
    *size = cp.size;
    return true;
}

/* The bytes a node signs to vouch for its witness's cosignature of a
 * partner's checkpoint: "srcosig1\n" vkey "\n" note. */
sr_status hl_cosig_message(const char *vkey, const char *note, sr_buf *out)
{
    sr_status st = buf_append_str(out, "srcosig1\n");
    if (st == SR_OK)
        st = buf_append_str(out, vkey);
    if (st == SR_OK)
        st = buf_append_byte(out, '\n');
    if (st == SR_OK)
        st = buf_append_str(out, note);
    return st;
}

/* Send peer p the cosigned checkpoint of its log (mirror/checkpoint),
 * with this node's witness key, signed by this node. why says how it
 * went: "sent back", or why not (the cosignature is kept either way). */
static void send_cosignature(sr_hotline *h, const hl_peer *p,
                             const char *ca_file, const char *mirror, reply *r,
                             char why[HL_ERR_MAX])
{
    char path[PATH_MAX + 16];
    sr_buf note, msg, vk;
    uint8_t sig[64];
    char sig64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    long status = 0;
    buf_init(&note, CHECKPOINT_MAX);
    buf_init(&msg, CHECKPOINT_MAX + NOTE_VKEY_MAX + 16);
    buf_init(&vk, NOTE_VKEY_MAX + 2);
    bool ok = hl_path_in(path, h->dir, "witness/witness.vkey") &&
              file_read(path, &vk) == SR_OK;
    while (ok && vk.len > 0 && vk.p[vk.len - 1] == '\n')
        vk.len--;
    ok = ok && vk.len > 0 && buf_append_byte(&vk, 0) == SR_OK;
    const char *vkey = ok ? (const char *)vk.p : "";
    int n = snprintf(path, sizeof path, "%s/checkpoint", mirror);
    ok = ok && n > 0 && (size_t)n < sizeof path &&
         file_read(path, &note) == SR_OK &&
         buf_append_byte(&note, 0) == SR_OK &&
         hl_cosig_message(vkey, (const char *)note.p, &msg) == SR_OK;
    json_t *o = NULL;
    if (ok) {
        hl_identity_sign(h->id, msg.p, msg.len, sig);
        sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig,
                          sodium_base64_VARIANT_ORIGINAL);
        o = json_pack("{s:s, s:s, s:s, s:s}", "from", hl_identity_name(h->id),
                      "vkey", vkey, "note", (const char *)note.p, "sig", sig64);
    }
    char *body = o != NULL ? json_to_text(o, JSON_COMPACT) : NULL;
    json_decref(o);
    buf_free(&note);
    buf_free(&msg);
    buf_free(&vk);
    if (body == NULL) {
        (void)snprintf(why, HL_ERR_MAX, "not sent back: cannot read it");
        return;
    }
    r->cap = 4096;
    char err[HL_ERR_MAX];
    if (!hl_http_call(p, ca_file, "hotline/v1/cosignatures", body, strlen(body),
                      r, &status, err))
        (void)snprintf(why, HL_ERR_MAX, "not sent back: %.150s", err);
    else if (status != 204)
        (void)snprintf(why, HL_ERR_MAX,
                       "not sent back: the partner answered "
                       "HTTP %ld",
                       status);
    else
        (void)snprintf(why, HL_ERR_MAX, "sent back");
    free(body);
}

/* Mirror peer p's log (its checkpoint and every hash tile of its tree)
 * under mirror/, and have the node's witness check and cosign it; then
 * send the cosignature back to p. */
static sr_status witness_peer(sr_hotline *h, const hl_peer *p,
                              const char *ca_file, reply *f, int *fork,
                              char why[HL_ERR_MAX])
{
    char mirror[PATH_MAX], state[PATH_MAX], tail[TILE_PATH_MAX],
        vkey[NOTE_VKEY_MAX + 1], origin[NOTE_NAME_MAX + 1], tilepath[PATH_MAX];
    uint64_t size = 0;
    note_verifier v;
    sr_witness_result res;
    *fork = 0;
    int n = snprintf(mirror, sizeof mirror, "%s/mirror/%s", h->dir, p->name);
    if (n < 0 || (size_t)n >= sizeof mirror ||
        !hl_path_in(state, h->dir, "witness"))
        return SR_ERR_INVALID;
    if (!hl_path_in(tilepath, h->dir, "mirror") ||
        (mkdir(tilepath, 0700) != 0 && errno != EEXIST) ||
        (mkdir(mirror, 0700) != 0 && errno != EEXIST)) {
        (void)snprintf(why, HL_ERR_MAX, "cannot make the mirror: %s",
                       strerror(errno));
        return SR_ERR_IO;
    }
    (void)snprintf(origin, sizeof origin, "strongroom-hotline/%s", p->name);
    if (note_verifier_make(&v, origin, NOTE_TYPE_ED25519, p->log_pk) != SR_OK ||
        note_vkey_format(&v, vkey, sizeof vkey) != SR_OK) {
        (void)snprintf(why, HL_ERR_MAX, "the peer's log key");
        return SR_ERR_INVALID;
    }
    f->cap = CHECKPOINT_MAX;
    if (!fetch(p, ca_file, "checkpoint", f, why))
        return SR_ERR_IO;
    reply cp = *f;
    char *cp_copy = malloc(f->len);
    if (cp_copy == NULL)
        return SR_ERR_NOMEM;
    memcpy(cp_copy, f->p, f->len);
    cp.p = cp_copy;
    if (!checkpoint_size(&cp, &size)) {
        free(cp_copy);
        (void)snprintf(why, HL_ERR_MAX, "the checkpoint does not parse");
        return SR_ERR_AUDIT;
    }
    sr_status st = SR_OK;
    f->cap = TILE_WIDTH * 32;
    for (int level = 0; level <= TILE_LEVEL_MAX && st == SR_OK &&
                        level * (int)TILE_HEIGHT < 64 &&
                        (size >> (TILE_HEIGHT * (unsigned)level)) > 0;
         level++) {
        uint64_t hashes = size >> (TILE_HEIGHT * (unsigned)level);
        for (uint64_t t = 0; t * TILE_WIDTH < hashes && st == SR_OK; t++) {
            unsigned w = tile_width(level, t, size);
            if (w == 0 || tile_path(tail, sizeof tail, level, t, w) != SR_OK)
                continue;
            /* Full tiles never change: one fetched before is kept. */
            struct stat sb;
            n = snprintf(tilepath, sizeof tilepath, "%s/%s", mirror, tail);
            if (w == TILE_WIDTH && n > 0 && (size_t)n < sizeof tilepath &&
                stat(tilepath, &sb) == 0)
                continue;
            if (!fetch(p, ca_file, tail, f, why) ||
                !mirror_put(mirror, tail, f, why))
                st = SR_ERR_IO;
        }
    }
    if (st == SR_OK && !mirror_put(mirror, "checkpoint", &cp, why))
        st = SR_ERR_IO;
    free(cp_copy);
    if (st != SR_OK)
        return st;
    /* Published into the mirror: its checkpoint then holds the peer's
     * signature and this node's cosignature, to send back. */
    st = sr_witness_cosign(state, mirror, vkey, 1, &res);
    *fork = res.fork;
    if (st != SR_OK) {
        (void)snprintf(why, HL_ERR_MAX, "%.190s", res.message);
        return st;
    }
    send_cosignature(h, p, ca_file, mirror, f, why);
    return SR_OK;
}

sr_status sr_hotline_witness(sr_hotline *h, const char *ca_file,
                             sr_status (*fn)(void *ctx, const char *peer,
                                             sr_status st, int fork,
                                             const char *why),
                             void *ctx)
{
    char why[HL_ERR_MAX];
    sr_status st = hl_load_peers(h, false);
    if (st != SR_OK)
        return st;
    reply f = {malloc(CHECKPOINT_MAX), 0, CHECKPOINT_MAX, false};
    if (f.p == NULL)
        return hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++) {
        int fork = 0;
        why[0] = '\0';
        sr_status r = witness_peer(h, &h->peers[i], ca_file, &f, &fork, why);
        st = fn(ctx, h->peers[i].name, r, fork, why);
    }
    free(f.p);
    return st;
}

/* ---- cosignatures of this node's log, sent back by its partners -------- */

/* <dir>/cosignatures/<peer>: the latest checkpoint of this node's log that
 * the partner's witness cosigned (the largest size). */
static bool cosig_path(const sr_hotline *h, const char *peer,
                       char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%s/cosignatures/%s", h->dir, peer);
    return n > 0 && n < PATH_MAX;
}

/* Open note (len bytes) under this node's log key and the witness key
 * vkey: SR_OK only if both signed it; *cp its checkpoint, *t the
 * cosignature's time. */
static sr_status cosig_open(sr_hotline *h, const note_verifier *wit,
                            const char *note, size_t len, note_checkpoint *cp,
                            uint64_t *t)
{
    hl_peer me;
    note_verifier vs[2];
    char origin[NOTE_NAME_MAX + 1];
    int verified[2] = {0, 0};
    uint64_t times[2] = {0, 0};
    size_t body = 0;
    hl_identity_peer(h->id, &me);
    (void)snprintf(origin, sizeof origin, "strongroom-hotline/%s",
                   hl_identity_name(h->id));
    vs[1] = *wit;
    if (note_verifier_make(&vs[0], origin, NOTE_TYPE_ED25519, me.log_pk) !=
        SR_OK)
        return SR_ERR_INTERNAL;
    if (note_open(note, len, vs, 2, &body, verified, times) != SR_OK ||
        !verified[0] || !verified[1] ||
        note_checkpoint_parse(note, body, cp) != SR_OK ||
        strcmp(cp->origin, origin) != 0)
        return SR_ERR_AUTH;
    *t = times[1];
    return SR_OK;
}

sr_status sr_hotline_take_cosignature(sr_hotline *h, const char *body,
                                      size_t len)
{
    json_error_t je;
    note_verifier wit;
    note_checkpoint cp, old;
    uint64_t t = 0, t_old = 0;
    uint8_t sig[64];
    size_t got = 0;
    char path[PATH_MAX];
    sr_status st = hl_load_peers(h, false);
    if (st != SR_OK)
        return st;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    const char *from = json_string_value(json_object_get(o, "from"));
    const char *vkey = json_string_value(json_object_get(o, "vkey"));
    const char *note = json_string_value(json_object_get(o, "note"));
    const char *sig64 = json_string_value(json_object_get(o, "sig"));
    const hl_peer *p = from != NULL ? hl_peer_named(h, from) : NULL;
    sr_buf msg;
    buf_init(&msg, CHECKPOINT_MAX + NOTE_VKEY_MAX + 16);
    if (!json_is_object(o) || json_object_size(o) != 4 || from == NULL ||
        vkey == NULL || note == NULL || sig64 == NULL ||
        strlen(note) > CHECKPOINT_MAX) {
        st = hl_say(h->msg, SR_ERR_INVALID,
                    "a cosignature is {\"from\", \"vkey\", \"note\", "
                    "\"sig\"}");
    } else if (p == NULL) {
        /* The name is echoed only when it is one (no control bytes). */
        st = hl_name_ok(from, strlen(from))
                 ? hl_say(h->msg, SR_ERR_AUTH, "%s is not a peer of this node",
                          from)
                 : hl_say(h->msg, SR_ERR_INVALID, "from: not a node name");
    } else if (sodium_base642bin(sig, sizeof sig, sig64, strlen(sig64), NULL,
                                 &got, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) != 0 ||
               got != sizeof sig ||
               hl_cosig_message(vkey, note, &msg) != SR_OK ||
               crypto_sign_verify_detached(sig, msg.p, msg.len, p->sign_pk) !=
                   0) {
        st = hl_say(h->msg, SR_ERR_AUTH,
                    "the cosignature is not signed by %s's node key", p->name);
    } else if (note_vkey_parse(vkey, strlen(vkey), &wit) != SR_OK ||
               wit.type != NOTE_TYPE_COSIG_V1) {
        st = hl_say(h->msg, SR_ERR_INVALID,
                    "the witness key is not a cosignature/v1 key");
    } else if (cosig_open(h, &wit, note, strlen(note), &cp, &t) != SR_OK) {
        st = hl_say(h->msg, SR_ERR_AUTH,
                    "the note is not this node's checkpoint cosigned by %s's "
                    "witness",
                    p->name);
    }
    buf_free(&msg);
    /* Kept if it covers at least as much of the log as the one kept. */
    if (st == SR_OK && cosig_path(h, p->name, path)) {
        sr_buf prev;
        buf_init(&prev, CHECKPOINT_MAX + 1);
        bool older =
            file_read(path, &prev) == SR_OK &&
            cosig_open(h, &wit, (const char *)prev.p, prev.len, &old, &t_old) ==
                SR_OK &&
            (old.size > cp.size || (old.size == cp.size && t_old >= t));
        buf_free(&prev);
        char dir[PATH_MAX];
        if (!older && hl_path_in(dir, h->dir, "cosignatures") &&
            ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
             file_write_atomic(path, note, strlen(note), 0600) != SR_OK))
            st = hl_say(h->msg, SR_ERR_IO, "cannot keep the cosignature: %s",
                        strerror(errno));
    }
    json_decref(o);
    return st;
}

sr_status sr_hotline_cosignatures(
    sr_hotline *h,
    sr_status (*fn)(void *ctx, const sr_hotline_cosignature_info *c), void *ctx)
{
    char path[PATH_MAX];
    sr_status st = hl_load_peers(h, false);
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++) {
        sr_hotline_cosignature_info c;
        sr_buf b;
        memset(&c, 0, sizeof c);
        (void)snprintf(c.peer, sizeof c.peer, "%s", h->peers[i].name);
        if (!cosig_path(h, c.peer, path))
            continue;
        (void)snprintf(c.path, sizeof c.path, "%s", path);
        buf_init(&b, CHECKPOINT_MAX + 1);
        if (file_read(path, &b) == SR_OK) {
            /* Shown as it is kept; the sender's key is checked on the
             * way in, so only the log's signature is checked here. */
            note_checkpoint cp;
            size_t body = 0;
            for (; body + 1 < b.len; body++)
                if (b.p[body] == '\n' && b.p[body + 1] == '\n')
                    break;
            if (body + 1 < b.len &&
                note_checkpoint_parse((const char *)b.p, body + 1, &cp) ==
                    SR_OK) {
                c.size = cp.size;
                c.held = 1;
            }
        }
        buf_free(&b);
        st = fn(ctx, &c);
    }
    return st;
}
