/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witness_cfg.c - the witnesses a vault requires: which witness keys
 * count, and how many of their cosignatures the latest checkpoint must
 * carry (sr_vault_witness_add, _remove, _require, _list).
 *
 * Stored as documents (kind "witness", key the witness's name, value
 * {"vkey","added"}) and the meta value "witness_min" (8 bytes, big
 * endian). Every change takes the manage-policy action and is an audit
 * entry whose detail ends in the SHA-256 of the configuration it produced
 * (src/audit/witness.h); the configuration is then published as
 * <vault>/log/witnesses, "min K" and one verifier key a line in name
 * order, so that a keyless verifier (sr_log_verify's use_witness_file)
 * can enforce it and hold it to the signed log: an edited or deleted file
 * fails verification.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit/note.h"
#include "audit/witness.h"
#include "vault_int.h"

#define KIND_WITNESS "witness"
#define META_WITNESS_MIN "witness_min"
#define WITNESS_DOC_MAX 4096u
#define PATH_CAP 4096

/* Witness names: the grammar of principal names (1..64 of [a-z0-9._-],
 * starting with a letter or digit), so one can never smuggle text into
 * the log. */
static bool witness_name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > ENTRY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* Authorize a change (or the listing) under manage-policy. */
static sr_status authorize(sr_vault *v, const char *action, bool write,
                           access_req *r)
{
    unsigned granted;
    if (write && !v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    memset(r, 0, sizeof *r);
    r->action = POLICY_MANAGE_POLICY;
    r->name = action;
    return vault_authorize(v, r, &granted);
}

static sr_status load_min(sr_vault *v, unsigned *min)
{
    uint8_t b[8];
    size_t n = 0;
    uint64_t k = 0;
    *min = 0;
    sr_status st = v->ops->meta_get(v->st, META_WITNESS_MIN, b, sizeof b, &n);
    if (st == SR_ERR_NOT_FOUND)
        return SR_OK;
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the witness requirement");
    if (n != sizeof b)
        return vault_fail(v, SR_ERR_CORRUPT,
                          "the stored witness requirement is damaged");
    for (size_t i = 0; i < sizeof b; i++)
        k = (k << 8) | b[i];
    if (k > SR_LOG_WITNESS_MAX)
        return vault_fail(v, SR_ERR_CORRUPT,
                          "the stored witness requirement is damaged");
    *min = (unsigned)k;
    return SR_OK;
}

/* ---- walking the stored witnesses ---------------------------------------
 */

typedef struct walk {
    sr_vault *v;
    size_t count;
    /* find: the stored witness holding this key, other than skip */
    const note_verifier *key;
    const char *skip;
    char holder[ENTRY_NAME_MAX + 1];
    bool skipped; /* skip is stored */
    /* the configuration text, if not NULL */
    sr_buf *text;
    /* list: one JSON line each */
    sr_line_fn fn;
    void *ctx;
} walk;

static sr_status walk_doc(void *ctx, const char *key, const uint8_t *p,
                          size_t len)
{
    walk *w = ctx;
    json_error_t jerr;
    note_verifier k;
    sr_status st = SR_OK;
    json_t *doc = json_loadb((const char *)p, len, 0, &jerr);
    const char *vkey = json_string_value(json_object_get(doc, "vkey"));

    if (vkey == NULL || note_vkey_parse(vkey, strlen(vkey), &k) != SR_OK ||
        k.type != NOTE_TYPE_COSIG_V1) {
        st = vault_fail(w->v, SR_ERR_CORRUPT,
                        "the stored witness %s is damaged", key);
        goto cleanup;
    }
    w->count++;
    if (w->skip != NULL && strcmp(key, w->skip) == 0)
        w->skipped = true;
    else if (w->key != NULL && w->holder[0] == '\0' &&
             strcmp(k.name, w->key->name) == 0 &&
             memcmp(k.keyhash, w->key->keyhash, sizeof k.keyhash) == 0 &&
             strlen(key) < sizeof w->holder)
        memcpy(w->holder, key, strlen(key) + 1);
    if (w->text != NULL && ((st = buf_append_str(w->text, vkey)) != SR_OK ||
                            (st = buf_append_byte(w->text, '\n')) != SR_OK)) {
        st = vault_fail(w->v, st, "the witness configuration is too large");
        goto cleanup;
    }
    if (w->fn != NULL) {
        json_t *line = json_pack(
            "{s:s, s:s, s:O}", "name", key, "vkey", vkey, "added",
            json_object_get(doc, "added") ? json_object_get(doc, "added")
                                          : json_null());
        char *t = line != NULL ? json_to_text(line, JSON_COMPACT) : NULL;
        json_decref(line);
        if (t == NULL) {
            st = vault_fail(w->v, SR_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
        st = w->fn(w->ctx, t, strlen(t));
        free(t);
    }
cleanup:
    json_decref(doc);
    return st;
}

static sr_status walk_all(sr_vault *v, walk *w)
{
    w->v = v;
    v->errmsg[0] = '\0';
    sr_status st = v->ops->doc_scan(v->st, KIND_WITNESS, walk_doc, w);
    if (st != SR_OK && v->errmsg[0] == '\0')
        st = vault_store_fail(v, st, "cannot read the witnesses");
    return st;
}

/* ---- changing the configuration -----------------------------------------
 */

/* Inside the caller's transaction, after the change: build the new
 * configuration, record the entry (detail: head and the configuration's
 * hash), commit, and publish <vault>/log/witnesses. Rolls back on any
 * failure before the commit. */
static sr_status finish(sr_vault *v, const access_req *r, const char *head)
{
    char detail[ENTRY_TEXT_MAX + 1], hex[2 * crypto_hash_sha256_BYTES + 1];
    char path[PATH_CAP], line[32];
    uint8_t h[crypto_hash_sha256_BYTES];
    unsigned min = 0;
    sr_buf text;
    walk w;
    sr_status st;

    buf_init(&text, WITNESS_CFG_MAX);
    memset(&w, 0, sizeof w);
    w.text = &text;
    st = load_min(v, &min);
    if (st == SR_OK) {
        (void)snprintf(line, sizeof line, "min %u\n", min);
        if (buf_append_str(&text, line) != SR_OK)
            st = vault_fail(v, SR_ERR_INTERNAL, "cannot build the witnesses");
    }
    if (st == SR_OK)
        st = walk_all(v, &w);
    if (st == SR_OK) {
        crypto_hash_sha256(h, text.p, text.len);
        hex_encode(hex, h, sizeof h);
        (void)snprintf(detail, sizeof detail, "%s %s%s", head, WITNESS_CFG_TAG,
                       hex);
        st = vault_record(v, r, ENTRY_ALLOWED, SR_OK, 0, detail, w.count, NULL,
                          0);
    }
    if (st == SR_OK) {
        st = v->ops->commit(v->st);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot store the witnesses");
    }
    if (st != SR_OK) {
        (void)v->ops->rollback(v->st);
        goto cleanup;
    }
    (void)snprintf(path, sizeof path, "%s/log/%s", v->dir, WITNESS_CFG_FILE);
    st = file_write_atomic(path, text.p, text.len, 0644);
    if (st != SR_OK)
        st = vault_fail(v, st,
                        "the change is recorded, but %s cannot be written "
                        "(%s): verification will fail until it is; repeat "
                        "'audit witness require %u' to publish it",
                        path, sr_status_str(st), min);
cleanup:
    buf_free(&text);
    return st;
}

sr_status sr_vault_witness_add(sr_vault *v, const char *name,
                               const char *vkey_text)
{
    char vkey[NOTE_VKEY_MAX], head[ENTRY_TEXT_MAX];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    uint8_t h[crypto_hash_sha256_BYTES];
    note_verifier k;
    access_req r;
    walk w;

    sr_status st = authorize(v, "witness.add", true, &r);
    if (st != SR_OK)
        return st;
    if (!witness_name_ok(name))
        return vault_fail(v, SR_ERR_INVALID,
                          "a witness name is 1 to 64 of a-z 0-9 . _ -, "
                          "starting with a letter or digit");
    if (vkey_text == NULL ||
        note_vkey_parse(vkey_text, strlen(vkey_text), &k) != SR_OK ||
        k.type != NOTE_TYPE_COSIG_V1 ||
        note_vkey_format(&k, vkey, sizeof vkey) != SR_OK)
        return vault_fail(v, SR_ERR_INVALID,
                          "not a witness verifier key: give the "
                          "cosignature/v1 key 'strongroom witness init' "
                          "printed (NAME+HASH+KEY)");
    st = v->ops->begin(v->st);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot store the witness");
    memset(&w, 0, sizeof w);
    w.key = &k;
    w.skip = name;
    st = walk_all(v, &w);
    if (st == SR_OK && w.holder[0] != '\0')
        st = vault_fail(v, SR_ERR_EXISTS,
                        "that key is already the witness %s: a witness counts "
                        "once",
                        w.holder);
    else if (st == SR_OK && !w.skipped && w.count >= SR_LOG_WITNESS_MAX)
        st = vault_fail(v, SR_ERR_INVALID, "at most %d witnesses",
                        SR_LOG_WITNESS_MAX);
    if (st == SR_OK) {
        json_t *doc = json_pack("{s:s, s:I}", "vkey", vkey, "added",
                                (json_int_t)time(NULL));
        char *text = doc != NULL
                         ? json_to_text(doc, JSON_COMPACT | JSON_SORT_KEYS)
                         : NULL;
        json_decref(doc);
        if (text == NULL)
            st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
        else
            st = v->ops->doc_put(v->st, KIND_WITNESS, name,
                                 (const uint8_t *)text, strlen(text));
        free(text);
        if (st != SR_OK && st != SR_ERR_NOMEM)
            st = vault_store_fail(v, st, "cannot store the witness");
    }
    if (st != SR_OK) {
        (void)v->ops->rollback(v->st);
        return st;
    }
    crypto_hash_sha256(h, (const uint8_t *)vkey, strlen(vkey));
    hex_encode(hex, h, sizeof h);
    (void)snprintf(head, sizeof head, "name %s%s key sha256 %s", name,
                   w.skipped ? " (replaced)" : "", hex);
    return finish(v, &r, head);
}

sr_status sr_vault_witness_remove(sr_vault *v, const char *name)
{
    char head[ENTRY_TEXT_MAX];
    unsigned min = 0;
    access_req r;
    walk w;

    sr_status st = authorize(v, "witness.remove", true, &r);
    if (st != SR_OK)
        return st;
    if (!witness_name_ok(name))
        return vault_fail(v, SR_ERR_INVALID, "not a witness name");
    st = v->ops->begin(v->st);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot remove the witness");
    memset(&w, 0, sizeof w);
    w.skip = name;
    st = walk_all(v, &w);
    if (st == SR_OK)
        st = load_min(v, &min);
    if (st == SR_OK && !w.skipped)
        st = vault_fail(v, SR_ERR_NOT_FOUND, "no witness named %s", name);
    else if (st == SR_OK && w.count - 1 < min)
        st = vault_fail(v, SR_ERR_INVALID,
                        "%u cosignatures are required and only %zu witnesses "
                        "would be left: lower the requirement first",
                        min, w.count - 1);
    if (st == SR_OK) {
        st = v->ops->doc_delete(v->st, KIND_WITNESS, name);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot remove the witness");
    }
    if (st != SR_OK) {
        (void)v->ops->rollback(v->st);
        return st;
    }
    (void)snprintf(head, sizeof head, "name %s", name);
    return finish(v, &r, head);
}

sr_status sr_vault_witness_require(sr_vault *v, unsigned k)
{
    char head[ENTRY_TEXT_MAX];
    uint8_t b[8];
    access_req r;
    walk w;

    sr_status st = authorize(v, "witness.require", true, &r);
    if (st != SR_OK)
        return st;
    if (k > SR_LOG_WITNESS_MAX)
        return vault_fail(v, SR_ERR_INVALID, "at most %d cosignatures",
                          SR_LOG_WITNESS_MAX);
    st = v->ops->begin(v->st);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot store the requirement");
    memset(&w, 0, sizeof w);
    st = walk_all(v, &w);
    if (st == SR_OK && k > w.count)
        st = vault_fail(v, SR_ERR_INVALID,
                        "%u cosignatures asked for, but only %zu witnesses "
                        "are configured: add them first",
                        k, w.count);
    if (st == SR_OK) {
        for (int i = 7, x = 0; i >= 0; i--, x++)
            b[i] = (uint8_t)((uint64_t)k >> (8 * x));
        st = v->ops->meta_put(v->st, META_WITNESS_MIN, b, sizeof b);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot store the requirement");
    }
    if (st != SR_OK) {
        (void)v->ops->rollback(v->st);
        return st;
    }
    (void)snprintf(head, sizeof head, "min %u", k);
    return finish(v, &r, head);
}

sr_status sr_vault_witness_list(sr_vault *v, unsigned *min_cosignatures,
                                sr_line_fn fn, void *ctx)
{
    access_req r;
    walk w;
    unsigned min = 0;

    if (min_cosignatures != NULL)
        *min_cosignatures = 0;
    sr_status st = authorize(v, "witness.list", false, &r);
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, "", 0, NULL, 0);
    if (st == SR_OK)
        st = load_min(v, &min);
    if (st != SR_OK)
        return st;
    memset(&w, 0, sizeof w);
    w.fn = fn;
    w.ctx = ctx;
    st = walk_all(v, &w);
    if (st == SR_OK && min_cosignatures != NULL)
        *min_cosignatures = min;
    return st;
}
