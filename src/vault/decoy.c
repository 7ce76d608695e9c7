/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decoy.c - honeytoken people. A vault holds a few synthetic people that
 * no case references: stored, sealed and indexed exactly as real people,
 * so that nobody reading records (or the database file) can tell them
 * apart. Reading one, or a search that returns one, freezes the principal
 * at once and raises an alert; the read itself is served and logged like
 * any other, so the reader learns nothing until its next request fails.
 *
 * A new vault starts with one decoy, and each person stored afterwards
 * (put or import) brings another with probability 1/every (the vault's
 * decoy_every, default SR_DEFAULT_DECOY_EVERY): about one decoy per
 * `every` people, mixed in as the population grows, at moments nobody can
 * predict. A decoy's family name is two generated names joined by a
 * hyphen, so an honest search by name and birth date practically never
 * meets one.
 *
 * Each decoy is marked by a document ("decoy" / hex of its keyed decoy
 * reference) holding the time it was made and its id sealed under the
 * decoy key (crypto_decoy_seal); only the security officer's listing
 * (sr_vault_decoy_list, the "freeze" action) opens them. A family of
 * handles keeps the sorted references in memory, loaded once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alert/alert.h"
#include "strongroom/gen.h"
#include "vault_int.h"
#include "watch/watch.h"

#define KIND_DECOY "decoy"
#define DECOY_VALUE_BYTES (8u + CRYPTO_DECOY_SEALED_BYTES)

struct decoy_set {
    pthread_mutex_t mu;
    bool loaded;
    uint8_t (*refs)[CRYPTO_PERSON_REF_BYTES]; /* sorted */
    size_t n, cap;
};

sr_status decoy_set_new(decoy_set **out)
{
    decoy_set *d = calloc(1, sizeof *d);
    *out = d;
    if (d == NULL)
        return SR_ERR_NOMEM;
    (void)pthread_mutex_init(&d->mu, NULL);
    return SR_OK;
}

void decoy_set_free(decoy_set *d)
{
    if (d == NULL)
        return;
    free(d->refs);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static int ref_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CRYPTO_PERSON_REF_BYTES);
}

/* Insert ref in order (the set's mutex held). */
static sr_status set_insert(decoy_set *d, const uint8_t ref[16])
{
    if (array_room((void **)&d->refs, &d->cap, d->n, sizeof *d->refs) != SR_OK)
        return SR_ERR_NOMEM;
    size_t i = d->n;
    while (i > 0 && memcmp(d->refs[i - 1], ref, CRYPTO_PERSON_REF_BYTES) > 0) {
        memcpy(d->refs[i], d->refs[i - 1], CRYPTO_PERSON_REF_BYTES);
        i--;
    }
    memcpy(d->refs[i], ref, CRYPTO_PERSON_REF_BYTES);
    d->n++;
    return SR_OK;
}

static sr_status load_doc(void *ctx, const char *key, const uint8_t *p,
                          size_t len)
{
    decoy_set *d = ctx;
    uint8_t ref[CRYPTO_PERSON_REF_BYTES];
    (void)p;
    if (len != DECOY_VALUE_BYTES || strlen(key) != 2 * sizeof ref ||
        !hex_decode(ref, sizeof ref, key, strlen(key)))
        return SR_ERR_CORRUPT;
    if (array_room((void **)&d->refs, &d->cap, d->n, sizeof *d->refs) != SR_OK)
        return SR_ERR_NOMEM;
    memcpy(d->refs[d->n++], ref, sizeof ref);
    return SR_OK;
}

/* The family's set, loaded (its mutex held on SR_OK). */
static sr_status set_take(sr_vault *v, decoy_set **out)
{
    decoy_set *d = vault_decoys(v);
    *out = NULL;
    if (d == NULL)
        return vault_fail(v, SR_ERR_INTERNAL, "the vault has no decoy set");
    pthread_mutex_lock(&d->mu);
    if (!d->loaded) {
        d->n = 0;
        sr_status st = v->ops->doc_scan(v->st, KIND_DECOY, load_doc, d);
        if (st != SR_OK) {
            pthread_mutex_unlock(&d->mu);
            return vault_store_fail(v, st, "cannot read the decoy markers");
        }
        if (d->n > 1)
            qsort(d->refs, d->n, CRYPTO_PERSON_REF_BYTES, ref_cmp);
        d->loaded = true;
    }
    *out = d;
    return SR_OK;
}

sr_status vault_decoy_hit(sr_vault *v, const uint8_t (*ids)[SR_ID_BYTES],
                          size_t n, bool *hit)
{
    decoy_set *d;
    *hit = false;
    sr_status st = set_take(v, &d);
    if (st != SR_OK)
        return st;
    for (size_t i = 0; i < n && !*hit && d->n > 0; i++) {
        uint8_t ref[CRYPTO_PERSON_REF_BYTES];
        crypto_decoy_ref(v->keys, ids[i], ref);
        *hit = bsearch(ref, d->refs, d->n, sizeof ref, ref_cmp) != NULL;
    }
    pthread_mutex_unlock(&d->mu);
    return SR_OK;
}

sr_status vault_decoy_count(sr_vault *v, uint64_t *count)
{
    decoy_set *d;
    sr_status st = set_take(v, &d);
    if (st != SR_OK)
        return st;
    *count = d->n;
    pthread_mutex_unlock(&d->mu);
    return SR_OK;
}

/* The person id a marker's value seals; SR_ERR_CORRUPT if it is not one
 * of this vault's. */
static sr_status marker_open(const sr_vault *v, const uint8_t *p, size_t len,
                             uint8_t id[SR_ID_BYTES])
{
    if (len != DECOY_VALUE_BYTES)
        return SR_ERR_CORRUPT;
    return crypto_decoy_open(v->keys, p + 8, len - 8, id);
}

typedef struct kek_ctx {
    sr_vault *v;
    uint64_t *by_kek; /* 8 counters */
} kek_ctx;

static sr_status kek_row(void *ctx, const store_row *row)
{
    kek_ctx *k = ctx;
    if (row->kek_version >= 1 && row->kek_version <= 8)
        k->by_kek[row->kek_version - 1]++;
    return SR_OK;
}

static sr_status kek_doc(void *ctx, const char *key, const uint8_t *p,
                         size_t len)
{
    kek_ctx *k = ctx;
    uint8_t id[SR_ID_BYTES];
    (void)key;
    if (marker_open(k->v, p, len, id) != SR_OK)
        return SR_ERR_CORRUPT;
    sr_status st = k->v->ops->get(k->v->st, id, 0, kek_row, k);
    return st == SR_ERR_NOT_FOUND ? SR_OK : st; /* shredded since */
}

sr_status vault_decoy_by_kek(sr_vault *v, uint64_t by_kek[8])
{
    kek_ctx k = {v, by_kek};
    memset(by_kek, 0, 8 * sizeof *by_kek);
    sr_status st = v->ops->doc_scan(v->st, KIND_DECOY, kek_doc, &k);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the decoy markers");
    return SR_OK;
}

sr_status vault_decoy_trip(sr_vault *v)
{
    char detail[ENTRY_TEXT_MAX];
    const char *rule = "decoy.read";
    sr_status st = vault_mark_frozen(v, v->principal, true, rule);
    if (st != SR_OK)
        return st;
    (void)snprintf(detail, sizeof detail, "principal %s", v->principal);
    st = vault_note(v, "principal.freeze", rule, detail);
    if (st != SR_OK)
        return st;
    alert a = {"principal.frozen", v->principal, "", rule, v->last_entry};
    if (alert_emit(v->dir, &a) != SR_OK)
        return vault_fail(v, SR_ERR_IO,
                          "principal %s is frozen, but the alert could not "
                          "be written to %s/alerts/alerts.jsonl",
                          v->principal, v->dir);
    return SR_OK;
}

/* ---- making decoys --------------------------------------------------------
 */

static uint64_t rand64(void)
{
    uint64_t x;
    randombytes_buf(&x, sizeof x);
    return x;
}

/* A generated person with a hyphenated family name, as JSON text (the
 * caller frees it with free()). */
static char *decoy_json(void)
{
    sr_gen *g = NULL, *g2 = NULL;
    const char *line, *other;
    size_t len, len2;
    char *text = NULL;
    json_error_t jerr;
    if (sr_gen_new(&g, rand64()) != SR_OK || sr_gen_new(&g2, rand64()) != SR_OK)
        goto cleanup;
    if (sr_gen_person_json(g, rand64() % 1000000u, &line, &len) != SR_OK)
        goto cleanup;
    json_t *p = json_loadb(line, len, 0, &jerr);
    if (sr_gen_person_json(g2, rand64() % 1000000u, &other, &len2) != SR_OK) {
        json_decref(p);
        goto cleanup;
    }
    json_t *q = json_loadb(other, len2, 0, &jerr);
    const char *f1 = json_string_value(
        json_object_get(json_object_get(p, "name"), "family"));
    const char *f2 = json_string_value(
        json_object_get(json_object_get(q, "name"), "family"));
    char family[160];
    if (f1 != NULL && f2 != NULL &&
        snprintf(family, sizeof family, "%s-%s", f1, f2) < (int)sizeof family &&
        strcmp(f1, f2) != 0 &&
        json_object_set_new(json_object_get(p, "name"), "family",
                            json_string(family)) == 0)
        text = json_to_text(p, JSON_COMPACT);
    sodium_memzero(family, sizeof family);
    json_decref(p);
    json_decref(q);
cleanup:
    sr_gen_free(g);
    sr_gen_free(g2);
    return text;
}

/* Store one decoy inside the caller's transaction. */
static sr_status add_one(sr_vault *v)
{
    record_error err;
    json_t *person = NULL;
    char msg[256];
    sealed_person sp;
    sealed_init(&sp);
    sr_status st = SR_ERR_EXISTS;
    /* Two generated people with the same family name, a joined name the
     * schema finds too long, an SSN that is taken already: try another. */
    for (int tries = 0; tries < 16 && st == SR_ERR_EXISTS; tries++) {
        char *text = decoy_json();
        if (text == NULL)
            continue;
        st = record_parse(text, strlen(text), date_today(), &person, &err);
        sodium_memzero(text, strlen(text));
        free(text);
        if (st != SR_OK) {
            st = SR_ERR_EXISTS;
            continue;
        }
        st =
            vault_seal_person(v, &v->sc, person, NULL, 1, &sp, msg, sizeof msg);
        json_decref(person);
        if (st != SR_OK) {
            st = vault_fail(v, st, "cannot seal a decoy");
            break;
        }
        commit_outcome out;
        uint8_t existing[SR_ID_BYTES];
        st = vault_commit_person(v, &sp, &out, existing);
        if (st == SR_OK && out != COMMIT_STORED)
            st = SR_ERR_EXISTS;
        if (st != SR_OK)
            sealed_reset(&sp);
    }
    if (st == SR_ERR_EXISTS)
        st = vault_fail(v, SR_ERR_INTERNAL,
                        "cannot make a decoy (16 generated people were "
                        "unusable)");
    decoy_set *d;
    /* The set is loaded before the marker is written, so it is counted
     * once. */
    if (st == SR_OK && (st = set_take(v, &d)) == SR_OK) {
        uint8_t ref[CRYPTO_PERSON_REF_BYTES], value[DECOY_VALUE_BYTES];
        char key[2 * CRYPTO_PERSON_REF_BYTES + 1];
        uint64_t now = (uint64_t)time(NULL);
        crypto_decoy_ref(v->keys, sp.id, ref);
        hex_encode(key, ref, sizeof ref);
        for (unsigned i = 0; i < 8; i++)
            value[i] = (uint8_t)(now >> (56 - 8 * i));
        crypto_decoy_seal(v->keys, sp.id, value + 8);
        st = v->ops->doc_put(v->st, KIND_DECOY, key, value, sizeof value);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot mark a decoy");
        else if (set_insert(d, ref) != SR_OK)
            st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
        pthread_mutex_unlock(&d->mu);
    }
    sealed_free(&sp);
    return st;
}

sr_status vault_decoy_add(sr_vault *v, unsigned n)
{
    sr_status st = SR_OK;
    for (unsigned i = 0; i < n && st == SR_OK; i++)
        st = add_one(v);
    return st;
}

sr_status vault_decoy_maybe(sr_vault *v)
{
    if (v->decoy_every == 0 || randombytes_uniform(v->decoy_every) != 0)
        return SR_OK;
    return add_one(v);
}

/* ---- the security officer's listing ---------------------------------------
 */

static sr_status list_doc(void *ctx, const char *key, const uint8_t *p,
                          size_t len)
{
    vault_lines *l = ctx;
    uint8_t id[SR_ID_BYTES];
    char hex[SR_ID_STR_LEN + 1], line[128];
    (void)key;
    if (marker_open(l->v, p, len, id) != SR_OK)
        return vault_fail(l->v, SR_ERR_CORRUPT,
                          "a decoy marker is damaged (not sealed by this "
                          "vault's key)");
    uint64_t made = 0;
    for (unsigned i = 0; i < 8; i++)
        made = made << 8 | p[i];
    hex_encode(hex, id, sizeof id);
    int n = snprintf(line, sizeof line, "{\"id\":\"%s\",\"created\":%llu}", hex,
                     (unsigned long long)made);
    return l->fn(l->ctx, line, (size_t)n);
}

sr_status sr_vault_decoy_list(sr_vault *v, sr_line_fn fn, void *ctx)
{
    vault_lines l = {v, fn, ctx};
    return vault_list_docs(v, POLICY_FREEZE, "decoy.list", KIND_DECOY, list_doc,
                           &l);
}
