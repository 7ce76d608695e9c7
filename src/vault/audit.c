/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.c - the vault's audit queries: checkpoints on demand, inclusion
 * and consistency proofs, the decoded entries for auditors, and resolving
 * a person reference. The log itself is src/audit; this file only reads
 * it through the tiles and speaks JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/merkle.h"
#include "audit/tile.h"
#include "audit/tilefs.h"
#include "vault_int.h"

#define NOTE_READ_MAX (64u * 1024u)

static void b64(char out[45], const uint8_t h[32])
{
    sodium_bin2base64(out, 45, h, 32, sodium_base64_VARIANT_ORIGINAL);
}

/* Integrate, and give the latest tree size. */
sr_status vault_audit_checkpoint(sr_vault *v, uint64_t *size)
{
    char msg[AUDIT_MSG_MAX];
    sr_status st = audit_log_checkpoint(v->log, size, msg);
    if (st != SR_OK)
        return vault_fail(v, st == SR_ERR_FULL ? st : SR_ERR_AUDIT,
                          "cannot checkpoint the audit log: %s", msg);
    return SR_OK;
}

sr_status sr_vault_audit_checkpoint(sr_vault *v, char **note, uint64_t *size)
{
    sr_buf b;
    char path[4096];
    *note = NULL;
    sr_status st = vault_audit_checkpoint(v, size);
    if (st != SR_OK)
        return st;
    (void)snprintf(path, sizeof path, "%s/checkpoint", audit_log_dir(v->log));
    buf_init(&b, NOTE_READ_MAX);
    st = file_read(path, &b);
    if (st == SR_OK)
        st = buf_append_byte(&b, 0);
    if (st == SR_OK) {
        *note = malloc(b.len);
        if (*note == NULL)
            st = SR_ERR_NOMEM;
        else
            memcpy(*note, b.p, b.len);
    }
    buf_free(&b);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot read the checkpoint");
    return SR_OK;
}

sr_status vault_emit(sr_vault *v, json_t *o, sr_line_fn fn, void *ctx)
{
    char *text = o != NULL ? json_to_text(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    sr_status st = fn(ctx, text, strlen(text));
    free(text);
    return st;
}

static json_t *hash_array(const uint8_t (*h)[32], size_t n)
{
    json_t *a = json_array();
    char s[45];
    for (size_t i = 0; a != NULL && i < n; i++) {
        b64(s, h[i]);
        json_array_append_new(a, json_string(s));
    }
    return a;
}

/* The signed head to prove against: integrate first, then read the
 * checkpoint back with its signature checked. *size 0 becomes the head's
 * size; a larger one is refused. */
static sr_status signed_head(sr_vault *v, uint64_t *size, uint64_t *latest,
                             uint8_t head[32])
{
    char msg[AUDIT_MSG_MAX];
    sr_status st = vault_audit_checkpoint(v, latest);
    if (st != SR_OK)
        return st;
    /* Another process may have checkpointed since: its head is as good. */
    st = audit_log_head(v->log, latest, head, msg);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_AUDIT, "%s", msg);
    if (*size == 0)
        *size = *latest;
    if (*size > *latest)
        return vault_fail(v, SR_ERR_INVALID, "the log has only %llu entries",
                          (unsigned long long)*latest);
    return SR_OK;
}

/* A view of the latest tree, with the node index (pass 0) or without it
 * (pass 1). A proof for an earlier size needs only perfect subtrees
 * inside it, which are the same in every later tree, and the partial
 * tiles of an earlier size exist only if a checkpoint was made at exactly
 * that size. */
static sr_status open_view(sr_vault *v, uint64_t latest, int pass, tilefs **t)
{
    sr_status st =
        tilefs_open(t, audit_log_dir(v->log),
                    pass == 0 ? audit_log_nodes_dir(v->log) : NULL, latest);
    if (st != SR_OK)
        return vault_fail(v, st, "out of memory");
    return SR_OK;
}

/* Is root (computed from the view at size) the signed tree's root at that
 * size? The tiles are public files and the node index a cache: without
 * this a damaged one would hand out a proof that checks against a root
 * nobody signed. For an earlier size, through a consistency proof to the
 * signed head. */
static sr_status anchored(tilefs *t, uint64_t size, const uint8_t root[32],
                          uint64_t latest, const uint8_t head[32])
{
    uint8_t p[MERKLE_PROOF_MAX][32];
    size_t n = 0;
    if (size == latest)
        return sodium_memcmp(root, head, 32) == 0 ? SR_OK : SR_ERR_CORRUPT;
    sr_status st = merkle_consistency_proof(tilefs_node, t, size, latest, p,
                                            MERKLE_PROOF_MAX, &n);
    if (st == SR_OK)
        st = merkle_verify_consistency(size, latest, root, head,
                                       (const uint8_t(*)[32])p, n);
    return st;
}

sr_status sr_vault_audit_inclusion(sr_vault *v, uint64_t index, uint64_t size,
                                   sr_line_fn fn, void *ctx)
{
    tilefs *t = NULL;
    uint8_t proof[MERKLE_PROOF_MAX][32], leaf[32], root[32], head[32];
    uint64_t latest = 0;
    size_t n = 0;
    char s[45];
    if (!v->authed)
        return vault_fail(v, SR_ERR_AUTH, "not authenticated");
    sr_status st = signed_head(v, &size, &latest, head);
    if (st != SR_OK)
        return st;
    if (index >= size)
        return vault_fail(v, SR_ERR_INVALID,
                          "entry %llu is not in a tree of %llu entries",
                          (unsigned long long)index, (unsigned long long)size);
    /* Never hand out a proof that does not check against the signed
     * head; if the index misled us, prove again from the tiles alone. */
    for (int pass = 0; pass < 2; pass++) {
        tilefs_free(t);
        st = open_view(v, latest, pass, &t);
        if (st != SR_OK)
            return st;
        st = tilefs_node(t, 0, index, leaf);
        if (st == SR_OK)
            st = merkle_inclusion_proof(tilefs_node, t, index, size, proof,
                                        MERKLE_PROOF_MAX, &n);
        if (st == SR_OK)
            st = merkle_root(tilefs_node, t, size, root);
        if (st == SR_OK)
            st = merkle_verify_inclusion(leaf, index, size,
                                         (const uint8_t(*)[32])proof, n, root);
        if (st == SR_OK)
            st = anchored(t, size, root, latest, head);
        if (st == SR_OK)
            break;
    }
    if (st != SR_OK) {
        st = vault_fail(v, SR_ERR_AUDIT,
                        "cannot prove entry %llu against the signed "
                        "checkpoint: %s",
                        (unsigned long long)index, tilefs_errmsg(t));
        goto cleanup;
    }
    json_t *o = json_object();
    b64(s, leaf);
    json_object_set_new(o, "index", json_integer((json_int_t)index));
    json_object_set_new(o, "tree_size", json_integer((json_int_t)size));
    json_object_set_new(o, "leaf_hash", json_string(s));
    b64(s, root);
    json_object_set_new(o, "root_hash", json_string(s));
    json_object_set_new(o, "inclusion_path",
                        hash_array((const uint8_t(*)[32])proof, n));
    st = vault_emit(v, o, fn, ctx);
cleanup:
    tilefs_free(t);
    return st;
}

sr_status sr_vault_audit_consistency(sr_vault *v, uint64_t m, uint64_t n,
                                     sr_line_fn fn, void *ctx)
{
    tilefs *t = NULL;
    uint8_t proof[MERKLE_PROOF_MAX][32], r1[32], r2[32], head[32];
    uint64_t latest = 0;
    size_t len = 0;
    char s[45];
    if (!v->authed)
        return vault_fail(v, SR_ERR_AUTH, "not authenticated");
    sr_status st = signed_head(v, &n, &latest, head);
    if (st != SR_OK)
        return st;
    if (m == 0 || m > n)
        return vault_fail(v, SR_ERR_INVALID,
                          "a consistency proof needs 0 < M <= N (N = %llu)",
                          (unsigned long long)n);
    for (int pass = 0; pass < 2; pass++) {
        tilefs_free(t);
        st = open_view(v, latest, pass, &t);
        if (st != SR_OK)
            return st;
        st = merkle_consistency_proof(tilefs_node, t, m, n, proof,
                                      MERKLE_PROOF_MAX, &len);
        if (st == SR_OK)
            st = merkle_root(tilefs_node, t, m, r1);
        if (st == SR_OK)
            st = merkle_root(tilefs_node, t, n, r2);
        if (st == SR_OK)
            st = merkle_verify_consistency(m, n, r1, r2,
                                           (const uint8_t(*)[32])proof, len);
        /* r2 tied to the signed head ties r1 to it through the proof. */
        if (st == SR_OK)
            st = anchored(t, n, r2, latest, head);
        if (st == SR_OK)
            break;
    }
    if (st != SR_OK) {
        st = vault_fail(v, SR_ERR_AUDIT,
                        "cannot prove consistency against the signed "
                        "checkpoint: %s",
                        tilefs_errmsg(t));
        goto cleanup;
    }
    json_t *o = json_object();
    json_object_set_new(o, "first_size", json_integer((json_int_t)m));
    json_object_set_new(o, "second_size", json_integer((json_int_t)n));
    b64(s, r1);
    json_object_set_new(o, "first_root", json_string(s));
    b64(s, r2);
    json_object_set_new(o, "second_root", json_string(s));
    json_object_set_new(o, "consistency_path",
                        hash_array((const uint8_t(*)[32])proof, len));
    st = vault_emit(v, o, fn, ctx);
cleanup:
    tilefs_free(t);
    return st;
}

/* ---- show ---------------------------------------------------------------- */

typedef struct walk_ctx {
    sr_status (*fn)(void *ctx, uint64_t i, const uint8_t *data, size_t len);
    void *ctx;
    uint64_t base; /* index of the bundle's first entry */
} walk_ctx;

static sr_status walk_entry(void *ctx, uint64_t i, const uint8_t *data,
                            size_t len)
{
    walk_ctx *w = ctx;
    return w->fn(w->ctx, w->base + i, data, len);
}

typedef struct show_ctx {
    sr_vault *v;
    const sr_audit_filter *f;
    bool by_person;
    uint8_t ref[ENTRY_REF_BYTES];
    sr_line_fn fn;
    void *ctx;
    uint64_t shown;
    sr_status stopped; /* what the caller's fn returned to stop the walk */
} show_ctx;

static bool match_str(const char *want, const char *have)
{
    return want == NULL || want[0] == '\0' || strcmp(want, have) == 0;
}

static void time_text(uint64_t ns, char out[40])
{
    time_t secs = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        (void)snprintf(out, 40, "@%llu", (unsigned long long)ns);
        return;
    }
    size_t n = strlen(out);
    (void)snprintf(out + n, 40 - n, ".%03uZ",
                   (unsigned)((ns / 1000000u) % 1000u));
}

static sr_status show_entry(void *ctx, uint64_t i, const uint8_t *data,
                            size_t len)
{
    show_ctx *s = ctx;
    const sr_audit_filter *f = s->f;
    audit_entry e;
    uint64_t index = i;
    char when[40], hex[2 * ENTRY_REF_BYTES + 1];

    if (index < f->from_index)
        return SR_OK;
    if (entry_decode(data, len, &e) != SR_OK)
        return vault_fail(s->v, SR_ERR_AUDIT,
                          "audit entry %llu does not decode: run strongroom "
                          "audit verify",
                          (unsigned long long)index);
    if (!match_str(f->principal, e.principal) ||
        !match_str(f->purpose, e.purpose) || !match_str(f->action, e.action) ||
        !match_str(f->case_id, e.case_id) || e.time_ns < f->since_ns ||
        (f->until_ns != 0 && e.time_ns >= f->until_ns) ||
        (f->denied_only && e.outcome != ENTRY_DENIED))
        return SR_OK;
    if (s->by_person) {
        bool found = false;
        for (uint32_t k = 0; k < e.nrefs && !found; k++)
            found = sodium_memcmp(e.refs[k], s->ref, ENTRY_REF_BYTES) == 0;
        if (!found)
            return SR_OK;
    }
    json_t *o = json_object(), *classes = json_array(), *people = json_array();
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        if (e.classes & SR_CLASS_BIT(c))
            json_array_append_new(classes,
                                  json_string(sr_class_name((sr_class)c)));
    for (uint32_t k = 0; k < e.nrefs; k++) {
        hex_encode(hex, e.refs[k], ENTRY_REF_BYTES);
        json_array_append_new(people, json_string(hex));
    }
    time_text(e.time_ns, when);
    json_object_set_new(o, "index", json_integer((json_int_t)index));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "principal", json_string(e.principal));
    json_object_set_new(o, "token", json_string(e.token));
    json_object_set_new(o, "action", json_string(e.action));
    json_object_set_new(o, "outcome",
                        json_string(entry_outcome_name(e.outcome)));
    json_object_set_new(o, "status",
                        json_string(sr_status_str((sr_status)e.status)));
    json_object_set_new(o, "purpose", json_string(e.purpose));
    json_object_set_new(o, "case", json_string(e.case_id));
    json_object_set_new(o, "classes", classes);
    json_object_set_new(o, "rule", json_string(e.rule));
    json_object_set_new(o, "detail", json_string(e.detail));
    json_object_set_new(o, "count", json_integer((json_int_t)e.count));
    json_object_set_new(o, "people", people);
    s->shown++;
    sr_status st = vault_emit(s->v, o, s->fn, s->ctx);
    if (st != SR_OK && s->stopped == SR_OK)
        s->stopped = st;
    return st;
}

sr_status sr_vault_audit_show(sr_vault *v, const sr_audit_filter *f,
                              sr_line_fn fn, void *ctx)
{
    static const sr_audit_filter all = {0};
    access_req r = {POLICY_AUDIT, "audit.show", NULL, NULL, 0};
    unsigned granted;
    show_ctx s;
    uint8_t id[SR_ID_BYTES];

    if (f == NULL)
        f = &all;
    memset(&s, 0, sizeof s);
    if (f->person_id != NULL && f->person_id[0] != '\0') {
        if (strlen(f->person_id) != SR_ID_STR_LEN ||
            !hex_decode(id, sizeof id, f->person_id, SR_ID_STR_LEN))
            return vault_fail(v, SR_ERR_INVALID,
                              "a person id is %d hexadecimal digits",
                              SR_ID_STR_LEN);
        crypto_person_ref(v->keys, id, s.ref);
        s.by_person = true;
        r.person = id;
    }
    sr_status st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    /* The query is on the record before its answer is. */
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0,
                      s.by_person ? "by person" : "", 0,
                      s.by_person ? (const uint8_t(*)[SR_ID_BYTES])id : NULL,
                      s.by_person ? 1u : 0u);
    if (st != SR_OK)
        return st;
    s.v = v;
    s.f = f;
    s.fn = fn;
    s.ctx = ctx;
    return vault_audit_walk(v, f->from_index, show_entry, &s, &s.stopped, NULL);
}

sr_status vault_audit_walk(sr_vault *v, uint64_t from,
                           sr_status (*fn)(void *ctx, uint64_t i,
                                           const uint8_t *data, size_t len),
                           void *ctx, const sr_status *stopped,
                           uint64_t *size_out)
{
    tilefs *t = NULL;
    sr_buf b;
    uint64_t size = 0;
    walk_ctx w = {fn, ctx, 0};
    sr_status st = vault_audit_checkpoint(v, &size);
    if (st == SR_OK)
        st = open_view(v, size, 1, &t); /* bundles only: no index */
    if (st != SR_OK)
        return st;
    if (size_out != NULL)
        *size_out = size;
    buf_init(&b, (size_t)TILE_WIDTH * 65537u);
    v->errmsg[0] = '\0';
    for (uint64_t n = from / TILE_WIDTH; n * TILE_WIDTH < size && st == SR_OK;
         n++) {
        unsigned width;
        buf_reset(&b);
        st = tilefs_read_bundle(t, n, &b, &width);
        if (st != SR_OK) {
            st = vault_fail(v, SR_ERR_AUDIT, "cannot read the audit log: %s",
                            tilefs_errmsg(t));
            break;
        }
        w.base = n * TILE_WIDTH;
        st = bundle_parse(b.p, b.len, width, walk_entry, &w);
        if (st != SR_OK && stopped != NULL && *stopped != SR_OK) {
            st = *stopped; /* the caller's own stop, passed through */
            break;
        }
        if (st != SR_OK && v->errmsg[0] == '\0')
            st = vault_fail(v, SR_ERR_AUDIT,
                            "entry bundle %llu is malformed: run strongroom "
                            "audit verify",
                            (unsigned long long)n);
    }
    buf_free(&b);
    tilefs_free(t);
    return st;
}

typedef struct resolve_ctx {
    sr_vault *v;
    uint8_t want[ENTRY_REF_BYTES];
    bool found;
    uint8_t id[SR_ID_BYTES];
} resolve_ctx;

static sr_status resolve_row(void *ctx, const store_row *row)
{
    resolve_ctx *rc = ctx;
    uint8_t ref[ENTRY_REF_BYTES];
    crypto_person_ref(rc->v->keys, row->id, ref);
    if (sodium_memcmp(ref, rc->want, sizeof ref) == 0) {
        memcpy(rc->id, row->id, SR_ID_BYTES);
        rc->found = true;
    }
    return SR_OK;
}

sr_status sr_vault_audit_resolve(sr_vault *v, const char *ref,
                                 char id_out[SR_ID_STR_LEN + 1])
{
    access_req r = {POLICY_AUDIT, "audit.resolve", NULL, NULL, 0};
    unsigned granted;
    resolve_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.v = v;
    id_out[0] = '\0';
    if (ref == NULL || strlen(ref) != 2 * ENTRY_REF_BYTES ||
        !hex_decode(rc.want, sizeof rc.want, ref, 2 * ENTRY_REF_BYTES))
        return vault_fail(v, SR_ERR_INVALID,
                          "a person reference is %u hexadecimal digits",
                          2 * ENTRY_REF_BYTES);
    sr_status st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    v->errmsg[0] = '\0';
    st = v->ops->scan(v->st, 0, resolve_row, &rc);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the vault");
    st = vault_record(v, &r, rc.found ? ENTRY_ALLOWED : ENTRY_FAILED,
                      rc.found ? SR_OK : SR_ERR_NOT_FOUND, 0, "", 0,
                      rc.found ? (const uint8_t(*)[SR_ID_BYTES])rc.id : NULL,
                      rc.found ? 1u : 0u);
    if (st != SR_OK)
        return st;
    if (!rc.found)
        return vault_fail(v, SR_ERR_NOT_FOUND,
                          "no stored person has that reference");
    hex_encode(id_out, rc.id, SR_ID_BYTES);
    return SR_OK;
}

sr_status sr_vault_audit_stats(sr_vault *v, sr_audit_stats *out)
{
    memset(out, 0, sizeof *out);
    if (v->log == NULL)
        return vault_fail(v, SR_ERR_INVALID, "the vault is not open");
    out->entries = audit_log_pending_end(v->log);
    audit_log_stats(v->log, &out->append, &out->sync, &out->batches);
    return SR_OK;
}

sr_status sr_vault_log_vkey(sr_vault *v, char out[SR_LOG_VKEY_MAX])
{
    char path[4096];
    sr_buf key;
    out[0] = '\0';
    int n = snprintf(path, sizeof path, "%s/log.vkey", v->dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return vault_fail(v, SR_ERR_INVALID, "the vault's path is too long");
    buf_init(&key, SR_LOG_VKEY_MAX);
    sr_status st = file_read(path, &key);
    /* One line: the key text, without its newline. */
    size_t len = key.len;
    while (st == SR_OK && len > 0 &&
           (key.p[len - 1] == '\n' || key.p[len - 1] == '\r'))
        len--;
    if (st == SR_OK &&
        (len == 0 || len >= SR_LOG_VKEY_MAX || memchr(key.p, '\n', len)))
        st = SR_ERR_CORRUPT;
    if (st == SR_OK) {
        memcpy(out, key.p, len);
        out[len] = '\0';
    }
    buf_free(&key);
    return st == SR_OK
               ? SR_OK
               : vault_fail(v, st, "cannot read the log's key %s", path);
}
