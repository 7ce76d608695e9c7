/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.c - principals, API tokens, cases and the stored policy, and the
 * two steps every vault call goes through: authorize (the policy decides;
 * a denial is logged at once) and record (the audit entry for what was
 * done, durable before anything is revealed).
 *
 * Stored as documents in the store (kind / key -> JSON):
 *   principal / name      {"role","kind","disabled","created","pwhash"?}
 *   token / id            {"principal","hash","scope","created","expires",
 *                          "revoked"}
 *   case / case id        {"assigned":[names],"created","people"}
 *   case_person / case "/" person reference (hex)   membership, empty
 *   policy / 8-digit version   the canonical policy JSON
 * A token is "sr1_" id "_" secret: the id (8 random bytes, hex) finds the
 * document, the secret (32 random bytes, base64url) is kept only as a
 * keyed BLAKE2b hash and compared in constant time. People appear only as
 * keyed references (crypto_person_ref), never as ids or identifiers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "alert/alert.h"
#include "vault_int.h"
#include "watch/watch.h"

#define TOKEN_PREFIX "sr1_"
#define TOKEN_ID_BYTES 8u
#define TOKEN_SECRET_BYTES 32u
#define TOKEN_HASH_BYTES 32u
#define DOC_MAX (64u * 1024u)
#define KIND_PRINCIPAL "principal"
#define KIND_TOKEN "token"
#define KIND_CASE "case"
#define KIND_CASE_PERSON "case_person"
#define KIND_POLICY "policy"
/* Passphrases of principals: the interactive preset; they are checked on
 * each sign-in, not once per vault. */
#define PW_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

/* ---- names and documents ---------------------------------------------------
 */

/* Principal names: 1..64 of [a-z0-9._-], starting with a letter or digit.
 * Case ids may use capitals too. */
static bool name_ok(const char *s, bool upper)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > ENTRY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     (upper && c >= 'A' && c <= 'Z');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

static uint64_t now_unix(void)
{
    time_t t = time(NULL);
    return t > 0 ? (uint64_t)t : 0;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n >= cap)
        n = 0; /* never log a truncated name: it would name someone else */
    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
}

/* ---- the family's token cache ------------------------------------------ */

/* Tokens found valid, by id (a slot per hash of the id). An entry holds
 * only what the store said when it was checked: the keyed hash of the
 * secret, the principal and role, the token's scope and expiry. It serves
 * while the family's generation is the one it was read in: every document
 * the family writes (a token, a principal; doc_save) moves the generation
 * on once it is committed, and no other process can write while the
 * family holds the vault's write lock. */
#define AUTH_SLOTS 64u

typedef struct auth_slot {
    bool used;
    uint64_t gen, expires;
    uint32_t scope;
    char id[SR_TOKEN_ID_MAX];
    uint8_t hash[TOKEN_HASH_BYTES];
    char principal[ENTRY_NAME_MAX + 1];
    char role[ENTRY_NAME_MAX + 1];
} auth_slot;

struct vault_family {
    unsigned refs; /* atomic */
    bool locked;   /* the first handle holds the vault's write lock */
    uint64_t gen;  /* atomic */
    pthread_mutex_t mu;
    auth_slot slot[AUTH_SLOTS];
    watch_cache *watches; /* budget.c */
    decoy_set *decoys;    /* decoy.c */
};

sr_status vault_family_join(sr_vault *v, const sr_vault *from)
{
    if (from != NULL && from->family != NULL) {
        __atomic_fetch_add(&from->family->refs, 1, __ATOMIC_RELAXED);
        v->family = from->family;
        return SR_OK;
    }
    vault_family *f = calloc(1, sizeof *f);
    if (f == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    if (watch_cache_new(&f->watches, v->dir) != SR_OK ||
        decoy_set_new(&f->decoys) != SR_OK) {
        watch_cache_free(f->watches);
        free(f);
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    }
    f->refs = 1;
    f->locked = v->lock_fd >= 0;
    (void)pthread_mutex_init(&f->mu, NULL);
    v->family = f;
    return SR_OK;
}

watch_cache *vault_watches(sr_vault *v)
{
    return v->family != NULL ? v->family->watches : NULL;
}

decoy_set *vault_decoys(sr_vault *v)
{
    return v->family != NULL ? v->family->decoys : NULL;
}

void vault_family_leave(sr_vault *v)
{
    vault_family *f = v->family;
    v->family = NULL;
    if (f == NULL || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    watch_cache_free(f->watches);
    decoy_set_free(f->decoys);
    pthread_mutex_destroy(&f->mu);
    sodium_memzero(f, sizeof *f);
    free(f);
}

static uint64_t family_gen(const sr_vault *v)
{
    return v->family != NULL
               ? __atomic_load_n(&v->family->gen, __ATOMIC_ACQUIRE)
               : 0;
}

/* After a document write: every cached token is checked again. */
static void family_changed(sr_vault *v)
{
    if (v->family != NULL)
        __atomic_fetch_add(&v->family->gen, 1, __ATOMIC_ACQ_REL);
}

static unsigned auth_slot_of(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id != '\0'; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % AUTH_SLOTS;
}

/* A token checked in generation gen: remember it. */
static void auth_remember(sr_vault *v, uint64_t gen, const char *id,
                          const uint8_t hash[TOKEN_HASH_BYTES],
                          const char *principal, const char *role,
                          uint32_t scope, uint64_t expires)
{
    vault_family *f = v->family;
    if (f == NULL || !f->locked)
        return;
    pthread_mutex_lock(&f->mu);
    auth_slot *a = &f->slot[auth_slot_of(id)];
    a->used = true;
    a->gen = gen;
    a->expires = expires;
    a->scope = scope;
    copy_name(a->id, sizeof a->id, id);
    memcpy(a->hash, hash, TOKEN_HASH_BYTES);
    copy_name(a->principal, sizeof a->principal, principal);
    copy_name(a->role, sizeof a->role, role);
    pthread_mutex_unlock(&f->mu);
}

/* The token (id, hash of its secret) as remembered, if it still holds:
 * same generation, same hash, not expired. */
static bool auth_recall(sr_vault *v, const char *id,
                        const uint8_t hash[TOKEN_HASH_BYTES], auth_slot *out)
{
    vault_family *f = v->family;
    bool hit = false;
    if (f == NULL || !f->locked)
        return false;
    uint64_t gen = family_gen(v);
    pthread_mutex_lock(&f->mu);
    const auth_slot *a = &f->slot[auth_slot_of(id)];
    if (a->used && a->gen == gen && strcmp(a->id, id) == 0 &&
        sodium_memcmp(a->hash, hash, TOKEN_HASH_BYTES) == 0) {
        *out = *a;
        hit = true;
    }
    pthread_mutex_unlock(&f->mu);
    return hit && out->expires > now_unix();
}

/* Read a document as JSON; *out is a new reference. */
sr_status vault_doc_load(sr_vault *v, const char *kind, const char *key,
                         json_t **out)
{
    sr_buf b;
    json_error_t jerr;
    *out = NULL;
    buf_init(&b, DOC_MAX);
    sr_status st = v->ops->doc_get(v->st, kind, key, &b);
    if (st == SR_OK) {
        *out = json_loadb((const char *)b.p, b.len, 0, &jerr);
        if (*out == NULL)
            st = SR_ERR_CORRUPT;
    }
    buf_free(&b);
    return st;
}

sr_status vault_doc_save(sr_vault *v, const char *kind, const char *key,
                         const json_t *doc, bool insert)
{
    char *text = json_to_text(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return SR_ERR_NOMEM;
    size_t n = strlen(text);
    sr_status st =
        insert ? v->ops->doc_insert(v->st, kind, key, (const uint8_t *)text, n)
               : v->ops->doc_put(v->st, kind, key, (const uint8_t *)text, n);
    free(text);
    family_changed(v); /* committed (or not): cached tokens are stale */
    return st;
}

/* Set a flag of a stored document (revoked, disabled) and store it back;
 * the caller has logged the change. */
static sr_status doc_set_true(sr_vault *v, const char *kind, const char *key,
                              json_t *doc, const char *member, const char *what)
{
    if (json_object_set_new(doc, member, json_true()) != 0)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    sr_status st = vault_doc_save(v, kind, key, doc, false);
    if (st != SR_OK)
        return vault_store_fail(v, st, what);
    return SR_OK;
}

const char *vault_jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

/* ---- recording -------------------------------------------------------------
 */

/* Does the case exist? A store error counts as no: the caller then logs
 * less, never more. */
static bool case_exists(sr_vault *v, const char *case_id)
{
    sr_buf b;
    buf_init(&b, DOC_MAX);
    sr_status st = v->ops->doc_get(v->st, KIND_CASE, case_id, &b);
    buf_free(&b);
    return st == SR_OK;
}

/* The purpose and case of a request go into the log only as names the
 * vault knows: a purpose of the policy, a case of the case table (or the
 * case a case-management action names). Anything else is what a caller
 * typed, perhaps by mistake, and "123-45-6789", "1971-03-09" or "smith"
 * all pass the name grammar: an SSN in --case or a name in --purpose must
 * never reach the log, which is meant to be published. */
static void copy_access(sr_vault *v, const access_req *r, audit_entry *e)
{
    const char *p = r->acc->purpose, *c = r->acc->case_id;
    if (p != NULL && p[0] != '\0')
        copy_name(e->purpose, sizeof e->purpose,
                  !name_ok(p, false) ? "(invalid)"
                  : v->pol == NULL ||
                          policy_purpose_requires_case(v->pol, p) < 0
                      ? "(undefined)"
                      : p);
    if (c != NULL && c[0] != '\0')
        copy_name(e->case_id, sizeof e->case_id,
                  !name_ok(c, true) ? "(invalid)"
                  : r->action == POLICY_MANAGE_CASES || case_exists(v, c)
                      ? c
                      : "(unknown)");
}

/* What every failed audit append says before its reason. */
#define NOT_REVEALED "the audit log cannot be written, so nothing is revealed: "

/* Wait for the ticket the handle still holds, if any. */
static sr_status settle_ticket(sr_vault *v)
{
    char msg[AUDIT_MSG_MAX];
    uint64_t index;
    if (v->ticket == NULL)
        return SR_OK;
    sr_status st = audit_ticket_wait(v->ticket, &index, msg);
    v->ticket = NULL;
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_AUDIT, NOT_REVEALED "%s", msg);
    v->last_entry = index;
    return SR_OK;
}

sr_status sr_vault_defer_audit(sr_vault *v, bool on)
{
    if (on && v->writable)
        return vault_fail(v, SR_ERR_INVALID,
                          "audit syncs are deferred only on read handles");
    sr_status st = on ? SR_OK : settle_ticket(v);
    v->defer_audit = on;
    return st;
}

sr_audit_ticket *sr_vault_take_ticket(sr_vault *v)
{
    sr_audit_ticket *t = v->ticket;
    v->ticket = NULL;
    return t;
}

sr_status sr_audit_ticket_wait(sr_audit_ticket *t, uint64_t *entry, char *msg,
                               size_t msg_len)
{
    char m[AUDIT_MSG_MAX];
    sr_status st = audit_ticket_wait(t, entry, m);
    if (msg != NULL && msg_len > 0)
        (void)snprintf(msg, msg_len, "%s%s", st == SR_OK ? "" : NOT_REVEALED,
                       st == SR_OK ? "" : m);
    return st == SR_OK ? SR_OK : SR_ERR_AUDIT;
}

/* Append one entry. req (may be NULL) gives the purpose and case. */
static sr_status record_entry(sr_vault *v, const char *action,
                              const access_req *req, entry_outcome outcome,
                              sr_status result, unsigned classes,
                              const char *rule, const char *detail,
                              uint64_t count, const uint8_t (*ids)[SR_ID_BYTES],
                              uint32_t nids)
{
    audit_entry e;
    sr_buf b;
    uint8_t(*refs)[ENTRY_REF_BYTES] = NULL;
    char msg[AUDIT_MSG_MAX];
    sr_status st;

    if (v->log == NULL)
        return vault_fail(v, SR_ERR_AUDIT, "the audit log is not open");
    if (nids > ENTRY_REFS_MAX)
        return vault_fail(v, SR_ERR_INTERNAL, "too many people in one entry");
    memset(&e, 0, sizeof e);
    e.time_ns = wall_ns();
    copy_name(e.principal, sizeof e.principal, v->principal);
    copy_name(e.token, sizeof e.token, v->token_id);
    copy_name(e.action, sizeof e.action, action);
    e.outcome = (uint8_t)outcome;
    e.status = (uint8_t)result;
    if (req != NULL && req->acc != NULL)
        copy_access(v, req, &e);
    e.classes = (uint8_t)(classes & SR_CLASS_ALL);
    copy_name(e.rule, sizeof e.rule, rule);
    copy_name(e.detail, sizeof e.detail, detail);
    e.count = count;
    if (nids > 0) {
        refs = malloc((size_t)nids * ENTRY_REF_BYTES);
        if (refs == NULL)
            return vault_fail(v, SR_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < nids; i++)
            crypto_person_ref(v->keys, ids[i], refs[i]);
        e.refs = (const uint8_t(*)[ENTRY_REF_BYTES])refs;
        e.nrefs = nids;
    }
    buf_init(&b, ENTRY_MAX_BYTES);
    st = entry_encode(&e, &b);
    if (st != SR_OK) {
        st = vault_fail(v, SR_ERR_INTERNAL, "cannot encode an audit entry");
        goto cleanup;
    }
    if (v->defer_audit) {
        /* One ticket per handle: an earlier call's entry first. */
        st = settle_ticket(v);
        if (st != SR_OK)
            goto cleanup; /* its message says the log cannot be written */
        st = audit_log_submit(v->log, b.p, b.len, &v->ticket, msg);
    } else {
        st = audit_log_append(v->log, b.p, b.len, &v->last_entry, msg);
    }
    if (st != SR_OK)
        st = vault_fail(v, SR_ERR_AUDIT, NOT_REVEALED "%s", msg);
cleanup:
    buf_free(&b);
    free(refs);
    return st;
}

sr_status vault_record(sr_vault *v, const access_req *r, entry_outcome outcome,
                       sr_status result, unsigned classes, const char *detail,
                       uint64_t count, const uint8_t (*ids)[SR_ID_BYTES],
                       uint32_t nids)
{
    return record_entry(v, r->name, r, outcome, result, classes,
                        outcome == ENTRY_ALLOWED ? "allow" : "", detail, count,
                        ids, nids);
}

sr_status vault_note(sr_vault *v, const char *action, const char *rule,
                     const char *detail)
{
    return record_entry(v, action, NULL, ENTRY_ALLOWED, SR_OK, 0, rule, detail,
                        0, NULL, 0);
}

sr_status vault_deny(sr_vault *v, const access_req *r, const char *rule,
                     const char *detail, const uint8_t (*ids)[SR_ID_BYTES],
                     uint32_t nids)
{
    return record_entry(v, r->name, r, ENTRY_DENIED, SR_ERR_DENIED, r->classes,
                        rule, detail, 0, ids, nids);
}

/* ---- authorization ---------------------------------------------------------
 */

static sr_status case_assigned(sr_vault *v, const char *case_id, bool *yes)
{
    json_t *c = NULL;
    *yes = false;
    if (!name_ok(case_id, true))
        return SR_OK;
    sr_status st = vault_doc_load(v, KIND_CASE, case_id, &c);
    if (st == SR_ERR_NOT_FOUND)
        return SR_OK;
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read a case");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(c, "assigned"), i, a) {
        if (strcmp(json_string_value(a) ? json_string_value(a) : "",
                   v->principal) == 0)
            *yes = true;
    }
    json_decref(c);
    return SR_OK;
}

static void case_person_key(sr_vault *v, const char *case_id,
                            const uint8_t id[SR_ID_BYTES],
                            char key[STORE_DOC_KEY_MAX])
{
    uint8_t ref[CRYPTO_PERSON_REF_BYTES];
    char hex[2 * CRYPTO_PERSON_REF_BYTES + 1];
    crypto_person_ref(v->keys, id, ref);
    hex_encode(hex, ref, sizeof ref);
    (void)snprintf(key, STORE_DOC_KEY_MAX, "%s/%s", case_id, hex);
}

sr_status vault_case_has_person(sr_vault *v, const char *case_id,
                                const uint8_t id[SR_ID_BYTES], bool *on)
{
    char key[STORE_DOC_KEY_MAX];
    sr_buf b;
    *on = false;
    if (!name_ok(case_id, true))
        return SR_OK;
    case_person_key(v, case_id, id, key);
    buf_init(&b, 64);
    sr_status st = v->ops->doc_get(v->st, KIND_CASE_PERSON, key, &b);
    buf_free(&b);
    if (st == SR_OK)
        *on = true;
    else if (st != SR_ERR_NOT_FOUND)
        return vault_store_fail(v, st, "cannot read a case");
    return SR_OK;
}

bool vault_caseload(const sr_vault *v)
{
    return v->pol != NULL && policy_role_caseload(v->pol, v->role) == 1;
}

sr_status vault_authorize(sr_vault *v, const access_req *r, unsigned *granted)
{
    policy_decision d;
    policy_request q;
    bool assigned = false, on = false;
    sr_status st;
    const char *purpose = r->acc != NULL ? r->acc->purpose : NULL;
    const char *case_id = r->acc != NULL ? r->acc->case_id : NULL;

    /* A denial of an act on one person names that person (by reference):
     * attempts against someone are part of their trail. */
    const uint8_t(*who)[SR_ID_BYTES] = (const uint8_t(*)[SR_ID_BYTES])r->person;
    uint32_t nwho = r->person != NULL ? 1u : 0u;

    *granted = 0;
    v->last_entry = UINT64_MAX;
    if (!v->authed) {
        st = record_entry(v, r->name, r, ENTRY_DENIED, SR_ERR_AUTH, r->classes,
                          "auth.none", "", 0, who, nwho);
        if (st != SR_OK)
            return st;
        return vault_fail(v, SR_ERR_AUTH,
                          "not authenticated: give an API token "
                          "(STRONGROOM_TOKEN or --token-fd)");
    }
    /* The token's scope narrows what the role may do; an action the role
     * lacks altogether is the policy's to refuse (role.action), so the log
     * names the real reason. */
    uint32_t bit = POLICY_ACTION_BIT(r->action);
    if ((v->token_scope & bit) == 0 &&
        (policy_role_actions(v->pol, v->role) & bit) != 0) {
        st = record_entry(v, r->name, r, ENTRY_DENIED, SR_ERR_DENIED,
                          r->classes, "token.scope", "", 0, who, nwho);
        if (st != SR_OK)
            return st;
        return vault_fail(v, SR_ERR_DENIED,
                          "denied by rule token.scope: this token is not "
                          "scoped for %s",
                          policy_action_name(r->action));
    }
    if (case_id != NULL && case_id[0] != '\0') {
        st = case_assigned(v, case_id, &assigned);
        if (st == SR_OK && r->person != NULL)
            st = vault_case_has_person(v, case_id, r->person, &on);
        if (st != SR_OK)
            return st;
    }
    memset(&q, 0, sizeof q);
    q.role = v->role;
    q.action = r->action;
    q.purpose = purpose;
    q.case_id = case_id;
    q.class_mask = r->classes;
    q.case_assigned = assigned ? 1 : 0;
    q.person_on_case = r->person != NULL ? (on ? 1 : 0) : -1;
    policy_decide(v->pol, &q, &d);
    if (d.allow) {
        *granted = d.class_mask;
        return SR_OK;
    }
    st = record_entry(v, r->name, r, ENTRY_DENIED, SR_ERR_DENIED, r->classes,
                      d.rule, "", 0, who, nwho);
    if (st != SR_OK)
        return st;
    return vault_fail(v, SR_ERR_DENIED, "%s", d.reason);
}

/* The management actions: authorize, and on allow the caller records. */
static sr_status manage(sr_vault *v, policy_action a, const char *name,
                        access_req *r)
{
    unsigned granted;
    memset(r, 0, sizeof *r);
    r->action = a;
    r->name = name;
    return vault_authorize(v, r, &granted);
}

/* ---- tokens -------------------------------------------------------------- */

static void token_hash(sr_vault *v, const uint8_t *secret,
                       uint8_t out[TOKEN_HASH_BYTES])
{
    (void)crypto_generichash(out, TOKEN_HASH_BYTES, secret, TOKEN_SECRET_BYTES,
                             keyring_audit_key(v->keys, AUDIT_KEY_TOKEN),
                             CRYPTO_KEY_BYTES);
}

/* Split "sr1_<16 hex>_<43 base64url>" into id (hex text) and secret. */
static bool token_parse(const char *tok, size_t len, char id[SR_TOKEN_ID_MAX],
                        uint8_t secret[TOKEN_SECRET_BYTES])
{
    const size_t pl = sizeof TOKEN_PREFIX - 1, hl = 2 * TOKEN_ID_BYTES;
    uint8_t idb[TOKEN_ID_BYTES];
    size_t got = 0;
    const char *end = NULL;

    while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
        len--;
    if (len < pl + hl + 2 || memcmp(tok, TOKEN_PREFIX, pl) != 0 ||
        tok[pl + hl] != '_' || !hex_decode(idb, sizeof idb, tok + pl, hl))
        return false;
    for (size_t i = 0; i < hl; i++)
        if (tok[pl + i] >= 'A' && tok[pl + i] <= 'F')
            return false; /* one spelling per token */
    if (sodium_base642bin(secret, TOKEN_SECRET_BYTES, tok + pl + hl + 1,
                          len - pl - hl - 1, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != TOKEN_SECRET_BYTES || end != tok + len)
        return false;
    /* libsodium 1.0.18's decoder takes some bytes >= 0x80 for digits:
     * accept only the one spelling the secret encodes to. */
    char again[64];
    sodium_bin2base64(again, sizeof again, secret, TOKEN_SECRET_BYTES,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    bool same = strlen(again) == len - pl - hl - 1 &&
                memcmp(again, tok + pl + hl + 1, len - pl - hl - 1) == 0;
    sodium_memzero(again, sizeof again);
    if (!same)
        return false;
    memcpy(id, tok + pl, hl);
    id[hl] = '\0';
    return true;
}

static uint32_t scope_from_json(const json_t *a)
{
    uint32_t m = 0;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        policy_action act;
        if (policy_action_parse(json_string_value(x), &act) == SR_OK)
            m |= POLICY_ACTION_BIT(act);
    }
    return m;
}

static json_t *scope_to_json(uint32_t m)
{
    json_t *a = json_array();
    for (unsigned i = 0; a != NULL && i < POLICY_ACTION_COUNT; i++)
        if (m & POLICY_ACTION_BIT(i))
            json_array_append_new(
                a, json_string(policy_action_name((policy_action)i)));
    return a;
}

/* Why principal `name` (its document p, or NULL when only its name is
 * at hand) is refused whatever its credentials are: *rule gets the rule
 * for the log, or NULL when it may go on. */
static sr_status principal_refusal(sr_vault *v, const char *name,
                                   const json_t *p, const char **rule)
{
    bool frozen;
    *rule = NULL;
    if (p != NULL && json_is_true(json_object_get(p, "disabled"))) {
        *rule = "principal.disabled";
        return SR_OK;
    }
    sr_status st = vault_frozen(v, name, &frozen, NULL);
    if (st == SR_OK && frozen)
        *rule = "principal.frozen";
    return st;
}

/* The authentication failure, logged, then one message for every cause. */
static sr_status auth_fail(sr_vault *v, const char *rule)
{
    sr_status st = record_entry(v, "authenticate", NULL, ENTRY_DENIED,
                                SR_ERR_AUTH, 0, rule, "", 0, NULL, 0);
    v->authed = false;
    v->principal[0] = v->role[0] = v->token_id[0] = '\0';
    v->token_scope = 0;
    if (st != SR_OK)
        return st;
    return vault_fail(v, SR_ERR_AUTH,
                      "authentication failed: the token is not valid (unknown, "
                      "expired, revoked, or its principal is disabled)");
}

static sr_status become(sr_vault *v, const char *name, const char *role,
                        const char *token_id, uint32_t scope)
{
    copy_name(v->principal, sizeof v->principal, name);
    copy_name(v->role, sizeof v->role, role);
    copy_name(v->token_id, sizeof v->token_id, token_id);
    v->token_scope = scope & policy_role_actions(v->pol, role);
    v->authed = true;
    return SR_OK;
}

/* Check the token and become its principal; the success is logged only
 * when log_success (failures always are). */
static sr_status authenticate(sr_vault *v, const char *token, size_t len,
                              bool log_success)
{
    char id[SR_TOKEN_ID_MAX];
    uint8_t secret[TOKEN_SECRET_BYTES], want[TOKEN_HASH_BYTES],
        got[TOKEN_HASH_BYTES];
    json_t *t = NULL, *p = NULL;
    sr_status st;
    const char *rule = NULL;

    v->authed = false;
    v->principal[0] = v->role[0] = v->token_id[0] = '\0';
    if (token == NULL || !token_parse(token, len, id, secret)) {
        sodium_memzero(secret, sizeof secret);
        return auth_fail(v, "token.malformed");
    }
    token_hash(v, secret, got);
    sodium_memzero(secret, sizeof secret);
    auth_slot known;
    if (auth_recall(v, id, got, &known)) {
        /* A freeze is not in the store, so the cache cannot know it. */
        copy_name(v->principal, sizeof v->principal, known.principal);
        copy_name(v->token_id, sizeof v->token_id, id);
        st = principal_refusal(v, known.principal, NULL, &rule);
        if (st != SR_OK || rule != NULL)
            return rule != NULL ? auth_fail(v, rule) : st;
        st = become(v, known.principal, known.role, id, known.scope);
        if (st == SR_OK && log_success)
            st = record_entry(v, "authenticate", NULL, ENTRY_ALLOWED, SR_OK, 0,
                              "allow", "", 0, NULL, 0);
        if (st != SR_OK)
            v->authed = false;
        return st;
    }
    /* Read before the store is: a write committed after it moves it on. */
    uint64_t gen = family_gen(v);
    st = vault_doc_load(v, KIND_TOKEN, id, &t);
    if (st == SR_ERR_NOT_FOUND) {
        rule = "token.unknown";
        goto cleanup;
    }
    if (st != SR_OK) {
        st = vault_store_fail(v, st, "cannot read the token");
        goto cleanup;
    }
    /* Name the principal in the log entry of a failure from here on. */
    copy_name(v->principal, sizeof v->principal, vault_jstr(t, "principal"));
    copy_name(v->token_id, sizeof v->token_id, id);
    if (!hex_decode(want, sizeof want, vault_jstr(t, "hash"),
                    strlen(vault_jstr(t, "hash"))) ||
        sodium_memcmp(want, got, sizeof want) != 0)
        rule = "token.secret";
    else if (json_is_true(json_object_get(t, "revoked")))
        rule = "token.revoked";
    else if ((uint64_t)json_integer_value(json_object_get(t, "expires")) <=
             now_unix())
        rule = "token.expired";
    if (rule != NULL)
        goto cleanup;
    st = vault_doc_load(v, KIND_PRINCIPAL, vault_jstr(t, "principal"), &p);
    if (st == SR_ERR_NOT_FOUND) {
        rule = "principal.disabled";
        st = SR_OK;
        goto cleanup;
    }
    if (st != SR_OK) {
        st = vault_store_fail(v, st, "cannot read the principal");
        goto cleanup;
    }
    st = principal_refusal(v, vault_jstr(t, "principal"), p, &rule);
    if (st != SR_OK || rule != NULL)
        goto cleanup;
    uint32_t scope = scope_from_json(json_object_get(t, "scope"));
    st =
        become(v, vault_jstr(t, "principal"), vault_jstr(p, "role"), id, scope);
    if (st == SR_OK)
        auth_remember(
            v, gen, id, got, vault_jstr(t, "principal"), vault_jstr(p, "role"),
            scope, (uint64_t)json_integer_value(json_object_get(t, "expires")));
    if (st == SR_OK && log_success)
        st = record_entry(v, "authenticate", NULL, ENTRY_ALLOWED, SR_OK, 0,
                          "allow", "", 0, NULL, 0);
    if (st != SR_OK)
        v->authed = false;
cleanup:
    sodium_memzero(secret, sizeof secret);
    json_decref(t);
    json_decref(p);
    if (rule != NULL)
        return auth_fail(v, rule);
    return st;
}

sr_status sr_vault_authenticate(sr_vault *v, const char *token, size_t len)
{
    return authenticate(v, token, len, true);
}

sr_status sr_vault_authenticate_request(sr_vault *v, const char *token,
                                        size_t len)
{
    return authenticate(v, token, len, false);
}

/* A credential label: 1..ENTRY_TOKEN_MAX of [0-9a-z:-]. */
static bool credential_ok(const char *c)
{
    size_t n = c != NULL ? strlen(c) : 0;
    if (n == 0 || n > ENTRY_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'z') ||
              c[i] == ':' || c[i] == '-'))
            return false;
    return true;
}

sr_status sr_vault_authenticate_service(sr_vault *v, const char *name,
                                        const char *credential)
{
    json_t *p = NULL;
    const char *rule = NULL;
    v->authed = false;
    v->principal[0] = v->role[0] = v->token_id[0] = '\0';
    if (!credential_ok(credential))
        return vault_fail(v, SR_ERR_INVALID,
                          "a service credential label is 1-%u of 0-9 a-z : -",
                          ENTRY_TOKEN_MAX);
    copy_name(v->token_id, sizeof v->token_id, credential);
    if (name == NULL || !name_ok(name, false))
        return auth_fail(v, "service.malformed");
    copy_name(v->principal, sizeof v->principal, name);
    sr_status st = vault_doc_load(v, KIND_PRINCIPAL, name, &p);
    if (st == SR_ERR_NOT_FOUND)
        rule = "service.unknown";
    else if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the principal");
    else if (strcmp(vault_jstr(p, "kind"), "service") != 0)
        rule = "service.kind";
    else
        st = principal_refusal(v, name, p, &rule);
    if (st == SR_OK && rule == NULL)
        st = become(v, name, vault_jstr(p, "role"), credential, UINT32_MAX);
    json_decref(p);
    if (rule != NULL)
        return auth_fail(v, rule);
    return st;
}

const char *sr_vault_principal(const sr_vault *v)
{
    return v->authed ? v->principal : "";
}

const char *sr_vault_role(const sr_vault *v)
{
    return v->authed ? v->role : "";
}

uint64_t sr_vault_last_entry(const sr_vault *v)
{
    return v->last_entry;
}

static sr_status need_write(sr_vault *v)
{
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    return SR_OK;
}

/* Make and store a token; the caller has authorized and logs. */
static sr_status token_make(sr_vault *v, const char *name, const char *role,
                            uint64_t ttl, uint32_t scope,
                            char token[SR_TOKEN_MAX],
                            char token_id[SR_TOKEN_ID_MAX])
{
    uint8_t idb[TOKEN_ID_BYTES], secret[TOKEN_SECRET_BYTES],
        hash[TOKEN_HASH_BYTES];
    char hash_hex[2 * TOKEN_HASH_BYTES + 1], b64[64];
    sr_status st;

    randombytes_buf(idb, sizeof idb);
    randombytes_buf(secret, sizeof secret);
    hex_encode(token_id, idb, sizeof idb);
    token_hash(v, secret, hash);
    hex_encode(hash_hex, hash, sizeof hash);
    sodium_bin2base64(b64, sizeof b64, secret, sizeof secret,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    (void)snprintf(token, SR_TOKEN_MAX, TOKEN_PREFIX "%s_%s", token_id, b64);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(b64, sizeof b64);
    if (ttl == 0)
        ttl = SR_DEFAULT_TOKEN_TTL;
    uint64_t now = now_unix();
    json_t *t = json_pack(
        "{s:s, s:s, s:o, s:I, s:I, s:b}", "principal", name, "hash", hash_hex,
        "scope", scope_to_json(scope & policy_role_actions(v->pol, role)),
        "created", (json_int_t)now, "expires", (json_int_t)(now + ttl),
        "revoked", 0);
    if (t == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    st = vault_doc_save(v, KIND_TOKEN, token_id, t, true);
    json_decref(t);
    if (st != SR_OK) {
        sodium_memzero(token, SR_TOKEN_MAX);
        return vault_store_fail(v, st, "cannot store the token");
    }
    return SR_OK;
}

static sr_status parse_scope(sr_vault *v, const char *scope, uint32_t *out)
{
    *out = UINT32_MAX;
    if (scope == NULL || scope[0] == '\0')
        return SR_OK;
    *out = 0;
    const char *p = scope;
    while (*p != '\0') {
        char one[ENTRY_NAME_MAX + 1];
        size_t n = strcspn(p, ",");
        policy_action a;
        if (n == 0 || n > ENTRY_NAME_MAX)
            return vault_fail(v, SR_ERR_INVALID,
                              "a token scope is a comma-separated list of "
                              "actions");
        memcpy(one, p, n);
        one[n] = '\0';
        if (policy_action_parse(one, &a) != SR_OK)
            return vault_fail(v, SR_ERR_INVALID,
                              "unknown action in the token scope (put, update, "
                              "get, find, import, export, shred, "
                              "manage-principals, manage-policy, "
                              "manage-cases, audit)");
        *out |= POLICY_ACTION_BIT(a);
        p += n;
        if (*p == ',')
            p++;
    }
    return SR_OK;
}

/* Seconds left on the token the handle was authenticated with. */
static sr_status own_token_left(sr_vault *v, uint64_t *left)
{
    json_t *t = NULL;
    *left = UINT64_MAX;
    if (v->token_id[0] == '\0')
        return SR_OK; /* not signed in with a token: no bound but the default */
    sr_status st = vault_doc_load(v, KIND_TOKEN, v->token_id, &t);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the token in use");
    json_int_t exp = json_integer_value(json_object_get(t, "expires"));
    json_decref(t);
    uint64_t now = now_unix();
    if (exp <= 0 || (uint64_t)exp <= now)
        return vault_fail(v, SR_ERR_AUTH, "the token in use has expired");
    *left = (uint64_t)exp - now;
    return SR_OK;
}

sr_status sr_vault_token_create(sr_vault *v, const char *name, uint64_t ttl,
                                const char *scope, char token[SR_TOKEN_MAX],
                                char token_id[SR_TOKEN_ID_MAX])
{
    access_req r;
    json_t *p = NULL;
    uint32_t mask;
    uint64_t left = 0;
    char detail[ENTRY_TEXT_MAX];
    sr_status st = need_write(v);

    token[0] = token_id[0] = '\0';
    if (st == SR_OK)
        st = parse_scope(v, scope, &mask);
    if (st != SR_OK)
        return st;
    /* Anyone may make a token for themselves; for others it takes
     * manage-principals. */
    bool self = v->authed && name != NULL && strcmp(name, v->principal) == 0;
    if (self) {
        memset(&r, 0, sizeof r);
        r.action = POLICY_MANAGE_PRINCIPALS;
        r.name = "token.create";
    } else {
        st = manage(v, POLICY_MANAGE_PRINCIPALS, "token.create", &r);
        if (st != SR_OK)
            return st;
    }
    if (!name_ok(name, false))
        return vault_fail(v, SR_ERR_INVALID,
                          "a principal name is 1-64 of a-z 0-9 . _ -");
    st = vault_doc_load(v, KIND_PRINCIPAL, name, &p);
    if (st == SR_ERR_NOT_FOUND)
        return vault_fail(v, SR_ERR_NOT_FOUND, "no principal named %s", name);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the principal");
    if (json_is_true(json_object_get(p, "disabled"))) {
        json_decref(p);
        return vault_fail(v, SR_ERR_INVALID, "the principal %s is disabled",
                          name);
    }
    if (self) {
        /* No wider than the token in hand, in actions and in time: a
         * stolen short-lived token must not mint itself a longer life. */
        mask &= v->token_scope;
        st = own_token_left(v, &left);
        if (st != SR_OK) {
            json_decref(p);
            return st;
        }
        if (ttl == 0)
            ttl = SR_DEFAULT_TOKEN_TTL;
        if (ttl > left)
            ttl = left;
    }
    (void)snprintf(detail, sizeof detail, "token for %s, ttl %llus", name,
                   (unsigned long long)(ttl ? ttl : SR_DEFAULT_TOKEN_TTL));
    st = record_entry(v, "token.create", NULL, ENTRY_ALLOWED, SR_OK, 0, "allow",
                      detail, 0, NULL, 0);
    if (st == SR_OK)
        st = token_make(v, name, vault_jstr(p, "role"), ttl, mask, token,
                        token_id);
    json_decref(p);
    return st;
}

static sr_status revoke(sr_vault *v, const char *action, const char *id,
                        json_t *t, const char *detail);

sr_status sr_vault_token_revoke(sr_vault *v, const char *token_id)
{
    access_req r;
    json_t *t = NULL;
    char id[SR_TOKEN_ID_MAX], detail[ENTRY_TEXT_MAX];
    uint8_t secret[TOKEN_SECRET_BYTES];
    sr_status st = need_write(v);
    if (st == SR_OK)
        st = manage(v, POLICY_MANAGE_PRINCIPALS, "token.revoke", &r);
    if (st != SR_OK)
        return st;
    if (token_id != NULL && token_parse(token_id, strlen(token_id), id, secret))
        sodium_memzero(secret, sizeof secret);
    else if (token_id != NULL && strlen(token_id) == 2 * TOKEN_ID_BYTES)
        memcpy(id, token_id, 2 * TOKEN_ID_BYTES + 1);
    else
        return vault_fail(v, SR_ERR_INVALID,
                          "give a token id (16 hex digits) or the token");
    st = vault_doc_load(v, KIND_TOKEN, id, &t);
    if (st == SR_ERR_NOT_FOUND)
        return vault_fail(v, st, "no token with id %s", id);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the token");
    (void)snprintf(detail, sizeof detail, "token %s of %s", id,
                   vault_jstr(t, "principal"));
    return revoke(v, "token.revoke", id, t, detail);
}

/* Log action, then mark token id (its document t, released here)
 * revoked. */
static sr_status revoke(sr_vault *v, const char *action, const char *id,
                        json_t *t, const char *detail)
{
    sr_status st = record_entry(v, action, NULL, ENTRY_ALLOWED, SR_OK, 0,
                                "allow", detail, 0, NULL, 0);
    if (st == SR_OK)
        st = doc_set_true(v, KIND_TOKEN, id, t, "revoked",
                          "cannot store the token");
    json_decref(t);
    return st;
}

sr_status sr_vault_logout(sr_vault *v)
{
    json_t *t = NULL;
    char id[sizeof v->token_id], detail[ENTRY_TEXT_MAX];
    sr_status st = need_write(v);
    if (st != SR_OK)
        return st;
    if (!v->authed || v->token_id[0] == '\0')
        return vault_fail(v, SR_ERR_AUTH, "not signed in");
    (void)snprintf(id, sizeof id, "%s", v->token_id);
    st = vault_doc_load(v, KIND_TOKEN, id, &t);
    if (st == SR_ERR_NOT_FOUND)
        return vault_fail(v, SR_ERR_INVALID,
                          "signed in with a certificate, not a token: "
                          "nothing to sign out of");
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the token");
    (void)snprintf(detail, sizeof detail, "token %s", id);
    st = revoke(v, "logout", id, t, detail);
    if (st == SR_OK) {
        v->authed = false;
        v->principal[0] = v->role[0] = v->token_id[0] = '\0';
    }
    return st;
}

/* ---- counting principals ------------------------------------------------ */

typedef struct count_ctx {
    sr_vault *v;
    sr_principal_counts *c;
} count_ctx;

static sr_status count_doc(void *ctx, const char *key, const uint8_t *p,
                           size_t len)
{
    count_ctx *cc = ctx;
    sr_principal_counts *c = cc->c;
    json_error_t jerr;
    json_t *d = json_loadb((const char *)p, len, 0, &jerr);
    if (d == NULL)
        return SR_ERR_CORRUPT;
    bool service = strcmp(vault_jstr(d, "kind"), "service") == 0;
    bool disabled = json_is_true(json_object_get(d, "disabled"));
    json_decref(d);
    bool frozen = false;
    sr_status st = vault_frozen(cc->v, key, &frozen, NULL);
    if (st != SR_OK)
        return st;
    if (service)
        c->services++;
    else
        c->users++;
    if (disabled)
        c->disabled++;
    if (frozen)
        c->frozen++;
    return SR_OK;
}

sr_status sr_vault_principal_counts(sr_vault *v, sr_principal_counts *out)
{
    count_ctx cc = {v, out};
    memset(out, 0, sizeof *out);
    v->errmsg[0] = '\0';
    sr_status st = v->ops->doc_scan(v->st, KIND_PRINCIPAL, count_doc, &cc);
    if (st != SR_OK && v->errmsg[0] == '\0')
        return vault_store_fail(v, st, "cannot count the principals");
    return st;
}

/* ---- listing ------------------------------------------------------------- */

typedef struct list_ctx {
    sr_vault *v;
    sr_line_fn fn;
    void *ctx;
    const char *kind;
} list_ctx;

static sr_status list_doc(void *ctx, const char *key, const uint8_t *p,
                          size_t len)
{
    list_ctx *l = ctx;
    json_error_t jerr;
    json_t *d = json_loadb((const char *)p, len, 0, &jerr), *o = NULL;
    if (d == NULL)
        return vault_fail(l->v, SR_ERR_CORRUPT, "a stored %s is damaged",
                          l->kind);
    if (strcmp(l->kind, KIND_PRINCIPAL) == 0) {
        bool frozen = false;
        char why[WATCH_REASON_MAX + 1];
        sr_status st = vault_frozen(l->v, key, &frozen, why);
        if (st != SR_OK) {
            json_decref(d);
            return st;
        }
        o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:O}", "name", key, "role",
                      vault_jstr(d, "role"), "kind", vault_jstr(d, "kind"),
                      "disabled", json_is_true(json_object_get(d, "disabled")),
                      "frozen", frozen, "created",
                      json_object_get(d, "created"));
        if (o != NULL && frozen &&
            json_object_set_new(o, "frozen_reason", json_string(why)) != 0) {
            json_decref(o);
            o = NULL;
        }
    } else if (strcmp(l->kind, KIND_TOKEN) == 0)
        o = json_pack("{s:s, s:s, s:O, s:O, s:O, s:b}", "id", key, "principal",
                      vault_jstr(d, "principal"), "scope",
                      json_object_get(d, "scope"), "created",
                      json_object_get(d, "created"), "expires",
                      json_object_get(d, "expires"), "revoked",
                      json_is_true(json_object_get(d, "revoked")));
    else
        o = json_pack("{s:s, s:O, s:O}", "case", key, "assigned",
                      json_object_get(d, "assigned"), "people",
                      json_object_get(d, "people"));
    json_decref(d);
    return vault_emit(l->v, o, l->fn, l->ctx);
}

sr_status vault_list_docs(sr_vault *v, policy_action a, const char *action,
                          const char *kind, store_doc_fn each, void *ctx)
{
    access_req r;
    sr_status st = manage(v, a, action, &r);
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, "", 0, NULL, 0);
    if (st != SR_OK)
        return st;
    v->errmsg[0] = '\0';
    st = v->ops->doc_scan(v->st, kind, each, ctx);
    if (st != SR_OK && v->errmsg[0] == '\0')
        st = vault_store_fail(v, st, "cannot list");
    return st;
}

static sr_status list_kind(sr_vault *v, policy_action a, const char *action,
                           const char *kind, sr_line_fn fn, void *ctx)
{
    list_ctx l = {v, fn, ctx, kind};
    return vault_list_docs(v, a, action, kind, list_doc, &l);
}

sr_status sr_vault_user_list(sr_vault *v, sr_line_fn fn, void *ctx)
{
    return list_kind(v, POLICY_MANAGE_PRINCIPALS, "user.list", KIND_PRINCIPAL,
                     fn, ctx);
}

sr_status sr_vault_token_list(sr_vault *v, sr_line_fn fn, void *ctx)
{
    return list_kind(v, POLICY_MANAGE_PRINCIPALS, "token.list", KIND_TOKEN, fn,
                     ctx);
}

sr_status sr_vault_case_list(sr_vault *v, sr_line_fn fn, void *ctx)
{
    return list_kind(v, POLICY_MANAGE_CASES, "case.list", KIND_CASE, fn, ctx);
}

static sr_status caseload_doc(void *ctx, const char *key, const uint8_t *p,
                              size_t len)
{
    vault_lines *l = ctx;
    json_error_t jerr;
    size_t i;
    json_t *a, *d = json_loadb((const char *)p, len, 0, &jerr);
    if (d == NULL)
        return vault_fail(l->v, SR_ERR_CORRUPT, "a stored case is damaged");
    bool mine = false;
    json_array_foreach(json_object_get(d, "assigned"), i, a) {
        if (json_is_string(a) &&
            strcmp(json_string_value(a), l->v->principal) == 0)
            mine = true;
    }
    json_t *o = mine ? json_pack("{s:s, s:O, s:O}", "case", key, "created",
                                 json_object_get(d, "created"), "people",
                                 json_object_get(d, "people"))
                     : NULL;
    json_decref(d);
    if (!mine)
        return SR_OK;
    if (o == NULL)
        return vault_fail(l->v, SR_ERR_NOMEM, "out of memory");
    return vault_emit(l->v, o, l->fn, l->ctx);
}

sr_status sr_vault_caseload(sr_vault *v, sr_line_fn fn, void *ctx)
{
    vault_lines l = {v, fn, ctx};
    if (!v->authed)
        return vault_fail(v, SR_ERR_AUTH, "not authenticated");
    sr_status st = record_entry(v, "caseload.list", NULL, ENTRY_ALLOWED, SR_OK,
                                0, "allow", "", 0, NULL, 0);
    if (st != SR_OK)
        return st;
    v->errmsg[0] = '\0';
    st = v->ops->doc_scan(v->st, KIND_CASE, caseload_doc, &l);
    if (st != SR_OK && v->errmsg[0] == '\0')
        st = vault_store_fail(v, st, "cannot list the cases");
    return st;
}

/* ---- principals ---------------------------------------------------------- */

static sr_status principal_store(sr_vault *v, const char *name,
                                 const char *role, int service,
                                 const char *pass, size_t pass_len)
{
    char pwhash[crypto_pwhash_STRBYTES];
    json_t *p = json_pack("{s:s, s:s, s:b, s:I}", "role", role, "kind",
                          service ? "service" : "user", "disabled", 0,
                          "created", (json_int_t)now_unix());
    if (p == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    if (pass != NULL && pass_len > 0) {
        if (crypto_pwhash_str(pwhash, pass, pass_len, PW_OPSLIMIT,
                              PW_MEMLIMIT) != 0) {
            json_decref(p);
            return vault_fail(v, SR_ERR_NOMEM,
                              "not enough memory to hash the passphrase");
        }
        json_object_set_new(p, "pwhash", json_string(pwhash));
    }
    sr_status st = vault_doc_save(v, KIND_PRINCIPAL, name, p, true);
    json_decref(p);
    if (st == SR_ERR_EXISTS)
        return vault_fail(v, st, "a principal named %s already exists", name);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot store the principal");
    return SR_OK;
}

sr_status sr_vault_user_add(sr_vault *v, const char *name, const char *role,
                            int service, const char *pass, size_t pass_len)
{
    access_req r;
    char detail[ENTRY_TEXT_MAX];
    sr_status st = need_write(v);
    if (st == SR_OK)
        st = manage(v, POLICY_MANAGE_PRINCIPALS, "user.add", &r);
    if (st != SR_OK)
        return st;
    if (!name_ok(name, false))
        return vault_fail(v, SR_ERR_INVALID,
                          "a principal name is 1-64 of a-z 0-9 . _ - "
                          "starting with a letter or digit");
    if (role == NULL || !policy_has_role(v->pol, role))
        return vault_fail(v, SR_ERR_INVALID,
                          "no role of that name in the policy (see "
                          "strongroom policy show)");
    if (service && pass != NULL && pass_len > 0)
        return vault_fail(v, SR_ERR_INVALID,
                          "a service account has tokens, not a passphrase");
    (void)snprintf(detail, sizeof detail, "%s %s, role %s",
                   service ? "service" : "user", name, role);
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, 0, NULL, 0);
    if (st == SR_OK)
        st = principal_store(v, name, role, service, pass, pass_len);
    return st;
}

/* A principal's document by name, for a change to it: SR_ERR_INVALID,
 * SR_ERR_NOT_FOUND or a store failure, each with its message. */
static sr_status principal_load(sr_vault *v, const char *name, json_t **p)
{
    *p = NULL;
    if (!name_ok(name, false))
        return vault_fail(v, SR_ERR_INVALID, "bad principal name");
    sr_status st = vault_doc_load(v, KIND_PRINCIPAL, name, p);
    if (st == SR_ERR_NOT_FOUND)
        return vault_fail(v, st, "no principal named %s", name);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the principal");
    return SR_OK;
}

sr_status sr_vault_user_disable(sr_vault *v, const char *name)
{
    access_req r;
    json_t *p = NULL;
    char detail[ENTRY_TEXT_MAX];
    sr_status st = need_write(v);
    if (st == SR_OK)
        st = manage(v, POLICY_MANAGE_PRINCIPALS, "user.disable", &r);
    if (st != SR_OK)
        return st;
    st = principal_load(v, name, &p);
    if (st != SR_OK)
        return st;
    (void)snprintf(detail, sizeof detail, "principal %s", name);
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, 0, NULL, 0);
    if (st == SR_OK)
        st = doc_set_true(v, KIND_PRINCIPAL, name, p, "disabled",
                          "cannot store the principal");
    json_decref(p);
    return st;
}

/* Freeze or unfreeze a principal (the "freeze" action): a frozen
 * principal's tokens, certificate and passphrase stop working until a
 * principal with "freeze" unfreezes it. The mark is in the principal's
 * watch file (budget.c), so any handle can set it, read-only or not. The reason
 * is a name (1-64 of a-z 0-9 . _ -, starting with a letter: "budget",
 * "ticket-4711"), so no identifier can be typed into the log by mistake. */
static sr_status set_frozen(sr_vault *v, const char *name, const char *reason,
                            bool frozen)
{
    access_req r;
    json_t *p = NULL;
    char detail[ENTRY_TEXT_MAX];
    const char *action = frozen ? "principal.freeze" : "principal.unfreeze";
    sr_status st = manage(v, POLICY_FREEZE, action, &r);
    if (st != SR_OK)
        return st;
    if (reason == NULL || !name_ok(reason, false) || reason[0] < 'a' ||
        reason[0] > 'z')
        return vault_fail(v, SR_ERR_INVALID,
                          "a reason is 1-64 of a-z 0-9 . _ - starting with a "
                          "letter (a word or a ticket reference, never a "
                          "person's data)");
    st = principal_load(v, name, &p);
    json_decref(p);
    if (st != SR_OK)
        return st;
    (void)snprintf(detail, sizeof detail, "principal %s, reason %s", name,
                   reason);
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, 0, NULL, 0);
    if (st == SR_OK)
        st = vault_mark_frozen(v, name, frozen, reason);
    if (st == SR_OK) {
        alert a = {frozen ? "principal.frozen" : "principal.unfrozen", name,
                   v->principal, reason, v->last_entry};
        if (alert_emit(v->dir, &a) != SR_OK)
            st = vault_fail(v, SR_ERR_IO,
                            "principal %s is %s, but the alert could not be "
                            "written to %s/alerts/alerts.jsonl: %s",
                            name, frozen ? "frozen" : "unfrozen", v->dir,
                            strerror(errno));
    }
    return st;
}

sr_status sr_vault_principal_freeze(sr_vault *v, const char *name,
                                    const char *reason)
{
    return set_frozen(v, name, reason, true);
}

sr_status sr_vault_principal_unfreeze(sr_vault *v, const char *name,
                                      const char *reason)
{
    return set_frozen(v, name, reason, false);
}

/* A failed sign-in, logged, then one message for every cause: it is a
 * name and passphrase that failed here, not a token. */
static sr_status login_fail(sr_vault *v, const char *rule)
{
    sr_status st = auth_fail(v, rule);
    if (st != SR_ERR_AUTH)
        return st;
    return vault_fail(v, SR_ERR_AUTH,
                      "sign-in failed: wrong name or passphrase, or the "
                      "principal is disabled");
}

/* An Argon2id hash of a random passphrase, made once per process. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static bool dummy_ok;

static void dummy_make(void)
{
    uint8_t pw[16];
    randombytes_buf(pw, sizeof pw);
    dummy_ok = crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof pw,
                                 PW_OPSLIMIT, PW_MEMLIMIT) == 0;
    sodium_memzero(pw, sizeof pw);
}

static const char *dummy_pwhash(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, dummy_make);
    return dummy_ok ? dummy_hash : NULL;
}

sr_status sr_vault_login(sr_vault *v, const char *name, const char *pass,
                         size_t pass_len, uint64_t ttl,
                         char token[SR_TOKEN_MAX])
{
    json_t *p = NULL;
    char id[SR_TOKEN_ID_MAX];
    const char *rule = NULL;
    sr_status st = need_write(v);

    token[0] = '\0';
    v->authed = false;
    v->principal[0] = v->role[0] = v->token_id[0] = '\0';
    if (st != SR_OK)
        return st;
    if (!name_ok(name, false) || pass == NULL)
        return login_fail(v, "login.malformed");
    st = vault_doc_load(v, KIND_PRINCIPAL, name, &p);
    if (st != SR_OK && st != SR_ERR_NOT_FOUND)
        return vault_store_fail(v, st, "cannot read the principal");
    copy_name(v->principal, sizeof v->principal, name);
    const char *hash = p != NULL ? vault_jstr(p, "pwhash") : "";
    bool known = p != NULL && hash[0] != '\0';
    /* Unknown names are checked against a dummy hash, so the time taken
     * does not tell which names exist. */
    const char *check = known ? hash : dummy_pwhash();
    bool ok = check != NULL &&
              crypto_pwhash_str_verify(check, pass, pass_len) == 0 && known;
    /* A name that is no principal is what someone typed (perhaps an SSN
     * in the wrong field): it stays out of the log. */
    if (p == NULL)
        v->principal[0] = '\0';
    if (!known)
        rule = "login.unknown";
    else if (!ok)
        rule = "login.passphrase";
    else
        st = principal_refusal(v, name, p, &rule);
    if (st != SR_OK || rule != NULL) {
        json_decref(p);
        return rule != NULL ? login_fail(v, rule) : st;
    }
    st = become(v, name, vault_jstr(p, "role"), "", UINT32_MAX);
    if (st == SR_OK)
        st = record_entry(v, "login", NULL, ENTRY_ALLOWED, SR_OK, 0, "allow",
                          "", 0, NULL, 0);
    if (st == SR_OK)
        st = token_make(v, name, vault_jstr(p, "role"), ttl, UINT32_MAX, token,
                        id);
    if (st == SR_OK)
        copy_name(v->token_id, sizeof v->token_id, id);
    else
        v->authed = false;
    json_decref(p);
    return st;
}

/* ---- cases --------------------------------------------------------------- */

static sr_status case_change(sr_vault *v, const char *action,
                             const char *case_id, json_t **c)
{
    access_req r;
    sr_status st = need_write(v);
    *c = NULL;
    if (st == SR_OK)
        st = manage(v, POLICY_MANAGE_CASES, action, &r);
    if (st != SR_OK)
        return st;
    if (!name_ok(case_id, true))
        return vault_fail(v, SR_ERR_INVALID,
                          "a case id is 1-64 of A-Z a-z 0-9 . _ - starting "
                          "with a letter or digit");
    st = vault_doc_load(v, KIND_CASE, case_id, c);
    if (st == SR_ERR_NOT_FOUND)
        return vault_fail(v, st,
                          "no case %s (open it with strongroom case "
                          "open)",
                          case_id);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the case");
    return SR_OK;
}

sr_status sr_vault_case_open(sr_vault *v, const char *case_id)
{
    access_req r;
    sr_status st = need_write(v);
    if (st == SR_OK)
        st = manage(v, POLICY_MANAGE_CASES, "case.open", &r);
    if (st != SR_OK)
        return st;
    if (!name_ok(case_id, true))
        return vault_fail(v, SR_ERR_INVALID,
                          "a case id is 1-64 of A-Z a-z 0-9 . _ - starting "
                          "with a letter or digit");
    sr_access acc = {NULL, case_id, NULL};
    r.acc = &acc;
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, "", 0, NULL, 0);
    if (st != SR_OK)
        return st;
    json_t *c = json_pack("{s:[], s:I, s:I}", "assigned", "created",
                          (json_int_t)now_unix(), "people", (json_int_t)0);
    if (c == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    st = vault_doc_save(v, KIND_CASE, case_id, c, true);
    json_decref(c);
    if (st == SR_ERR_EXISTS)
        return vault_fail(v, st, "the case %s is already open", case_id);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot store the case");
    return SR_OK;
}

sr_status sr_vault_case_assign(sr_vault *v, const char *case_id,
                               const char *name)
{
    json_t *c = NULL, *p = NULL;
    char detail[ENTRY_TEXT_MAX];
    sr_status st = case_change(v, "case.assign", case_id, &c);
    if (st != SR_OK)
        return st;
    if (!name_ok(name, false) ||
        (st = vault_doc_load(v, KIND_PRINCIPAL, name, &p)) != SR_OK) {
        json_decref(c);
        return vault_fail(v, SR_ERR_NOT_FOUND, "no principal named %s",
                          name_ok(name, false) ? name : "(invalid)");
    }
    json_decref(p);
    sr_access acc = {NULL, case_id, NULL};
    access_req r = {POLICY_MANAGE_CASES, "case.assign", &acc, NULL, 0};
    (void)snprintf(detail, sizeof detail, "to %s", name);
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, 0, NULL, 0);
    json_t *a = json_object_get(c, "assigned");
    bool have = false;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (strcmp(json_string_value(x) ? json_string_value(x) : "", name) == 0)
            have = true;
    }
    if (st == SR_OK && !have && json_array_append_new(a, json_string(name)))
        st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
    if (st == SR_OK && !have) {
        st = vault_doc_save(v, KIND_CASE, case_id, c, false);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot store the case");
    }
    json_decref(c);
    return st;
}

sr_status sr_vault_case_add_person(sr_vault *v, const char *case_id,
                                   const char *person_id)
{
    json_t *c = NULL;
    uint8_t id[SR_ID_BYTES];
    char key[STORE_DOC_KEY_MAX];
    sr_status st = case_change(v, "case.add", case_id, &c);
    if (st != SR_OK)
        return st;
    if (person_id == NULL || strlen(person_id) != SR_ID_STR_LEN ||
        !hex_decode(id, sizeof id, person_id, SR_ID_STR_LEN)) {
        json_decref(c);
        return vault_fail(v, SR_ERR_INVALID,
                          "a person id is %d hexadecimal digits",
                          SR_ID_STR_LEN);
    }
    /* Whether the person exists is not checked: the case administrator
     * cannot read records, and so is not told. */
    sr_access acc = {NULL, case_id, NULL};
    access_req r = {POLICY_MANAGE_CASES, "case.add", &acc, id, 0};
    const uint8_t(*ids)[SR_ID_BYTES] = (const uint8_t(*)[SR_ID_BYTES])id;
    bool already = false;
    st = vault_case_has_person(v, case_id, id, &already);
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0,
                          already ? "already on the case" : "", 1, ids, 1);
    /* Adding a person twice changes nothing: the count is of people. */
    if (st == SR_OK && !already) {
        case_person_key(v, case_id, id, key);
        st = v->ops->doc_put(v->st, KIND_CASE_PERSON, key, (const uint8_t *)"",
                             0);
        json_int_t n = json_integer_value(json_object_get(c, "people"));
        if (st == SR_OK)
            json_object_set_new(c, "people", json_integer(n + 1));
        if (st == SR_OK)
            st = vault_doc_save(v, KIND_CASE, case_id, c, false);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot store the case");
    }
    json_decref(c);
    return st;
}

/* ---- policy -------------------------------------------------------------- */

static sr_status policy_store(sr_vault *v, const policy *p, uint32_t version)
{
    char key[16], *text = NULL;
    size_t len = 0;
    uint8_t ver[8];
    sr_status st = policy_canonical(p, &text, &len);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot serialise the policy");
    (void)snprintf(key, sizeof key, "%08u", version);
    for (int i = 7, x = 0; i >= 0; i--, x++)
        ver[i] = (uint8_t)((uint64_t)version >> (8 * x));
    st = v->ops->begin(v->st);
    if (st == SR_OK)
        st = v->ops->doc_insert(v->st, KIND_POLICY, key, (const uint8_t *)text,
                                len);
    if (st == SR_OK)
        st = v->ops->meta_put(v->st, META_POLICY_VERSION, ver, sizeof ver);
    if (st == SR_OK)
        st = v->ops->commit(v->st);
    free(text);
    if (st != SR_OK) {
        (void)v->ops->rollback(v->st);
        return vault_store_fail(v, st, "cannot store the policy");
    }
    return SR_OK;
}

sr_status sr_vault_policy_set(sr_vault *v, const char *json, size_t len,
                              uint32_t *version)
{
    access_req r;
    policy *p = NULL;
    char err[POLICY_ERR_MAX], detail[ENTRY_TEXT_MAX], *text = NULL;
    size_t tlen = 0;
    uint8_t h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sr_status st = need_write(v);
    if (st == SR_OK)
        st = manage(v, POLICY_MANAGE_POLICY, "policy.set", &r);
    if (st != SR_OK)
        return st;
    st = policy_parse(json, len, &p, err);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_INVALID, "invalid policy: %s", err);
    if (!policy_has_role(p, v->role) ||
        !(policy_role_actions(p, v->role) &
          POLICY_ACTION_BIT(POLICY_MANAGE_POLICY))) {
        policy_free(p);
        return vault_fail(v, SR_ERR_INVALID,
                          "invalid policy: it would take manage-policy from "
                          "your own role (%s), locking you out",
                          v->role);
    }
    st = policy_canonical(p, &text, &tlen);
    if (st != SR_OK) {
        policy_free(p);
        return vault_fail(v, st, "cannot serialise the policy");
    }
    crypto_hash_sha256(h, (const uint8_t *)text, tlen);
    free(text);
    hex_encode(hex, h, sizeof h);
    uint32_t nv = v->policy_version + 1;
    (void)snprintf(detail, sizeof detail, "version %u, sha256 %s", nv, hex);
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, 0, NULL, 0);
    if (st == SR_OK)
        st = policy_store(v, p, nv);
    if (st != SR_OK) {
        policy_free(p);
        return st;
    }
    policy_free(v->pol);
    v->pol = p;
    v->policy_version = nv;
    if (version != NULL)
        *version = nv;
    /* The role's actions may have changed under the token in hand. */
    v->token_scope &= policy_role_actions(p, v->role);
    return SR_OK;
}

sr_status sr_vault_policy_get(sr_vault *v, char **json, uint32_t *version)
{
    size_t len;
    *json = NULL;
    if (!v->authed)
        return vault_fail(v, SR_ERR_AUTH, "not authenticated");
    sr_status st = policy_canonical(v->pol, json, &len);
    if (st != SR_OK)
        return vault_fail(v, st, "cannot serialise the policy");
    if (version != NULL)
        *version = v->policy_version;
    return SR_OK;
}

sr_status vault_access_load(sr_vault *v)
{
    uint8_t ver[8];
    size_t n = 0;
    char key[16], err[POLICY_ERR_MAX];
    sr_buf b;
    sr_status st =
        v->ops->meta_get(v->st, META_POLICY_VERSION, ver, sizeof ver, &n);
    if (st != SR_OK || n != sizeof ver)
        return vault_fail(v, SR_ERR_NOT_VAULT,
                          "the vault has no policy (made by an older "
                          "version?)");
    uint64_t version = 0;
    for (size_t i = 0; i < 8; i++)
        version = (version << 8) | ver[i];
    if (version == 0 || version > UINT32_MAX)
        return vault_fail(v, SR_ERR_CORRUPT, "the policy version is damaged");
    (void)snprintf(key, sizeof key, "%08u", (unsigned)version);
    buf_init(&b, POLICY_MAX_BYTES + 1);
    st = v->ops->doc_get(v->st, KIND_POLICY, key, &b);
    if (st != SR_OK) {
        buf_free(&b);
        return vault_store_fail(v, st, "cannot read the policy");
    }
    policy *p = NULL;
    st = policy_parse((const char *)b.p, b.len, &p, err);
    buf_free(&b);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_CORRUPT, "the stored policy is invalid: %s",
                          err);
    policy_free(v->pol);
    v->pol = p;
    v->policy_version = (uint32_t)version;
    return SR_OK;
}

sr_status sr_vault_refresh(sr_vault *v)
{
    uint8_t ver[8];
    size_t n = 0;
    uint64_t version = 0;
    sr_status st =
        v->ops->meta_get(v->st, META_POLICY_VERSION, ver, sizeof ver, &n);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the policy version");
    for (size_t i = 0; i < 8 && i < n; i++)
        version = (version << 8) | ver[i];
    if (n == sizeof ver && version == v->policy_version)
        return SR_OK;
    st = vault_access_load(v);
    if (st == SR_OK && v->authed)
        v->token_scope &= policy_role_actions(v->pol, v->role);
    return st;
}

sr_status vault_access_init(sr_vault *v, const char *admin, uint64_t ttl,
                            char token[SR_TOKEN_MAX])
{
    char err[POLICY_ERR_MAX], id[SR_TOKEN_ID_MAX], detail[ENTRY_TEXT_MAX];
    const char *def = policy_default_json();
    const char *role = "admin";
    sr_status st;

    if (admin == NULL)
        admin = "admin";
    if (!name_ok(admin, false))
        return vault_fail(v, SR_ERR_INVALID,
                          "the administrator's name is 1-64 of a-z 0-9 . _ -");
    st = policy_parse(def, strlen(def), &v->pol, err);
    if (st != SR_OK)
        return vault_fail(v, SR_ERR_INTERNAL, "the default policy: %s", err);
    if (!policy_has_role(v->pol, role))
        return vault_fail(v, SR_ERR_INTERNAL,
                          "the default policy has no admin");
    /* The first entries: who set the vault up, and with what. */
    copy_name(v->principal, sizeof v->principal, admin);
    copy_name(v->role, sizeof v->role, role);
    v->token_scope = UINT32_MAX;
    v->authed = true;
    st = record_entry(v, "vault.create", NULL, ENTRY_ALLOWED, SR_OK, 0, "allow",
                      "", 0, NULL, 0);
    (void)snprintf(detail, sizeof detail, "version 1 (default)");
    if (st == SR_OK)
        st = record_entry(v, "policy.set", NULL, ENTRY_ALLOWED, SR_OK, 0,
                          "allow", detail, 0, NULL, 0);
    if (st == SR_OK)
        st = policy_store(v, v->pol, 1);
    v->policy_version = 1;
    (void)snprintf(detail, sizeof detail, "user %s, role %s", admin, role);
    if (st == SR_OK)
        st = record_entry(v, "user.add", NULL, ENTRY_ALLOWED, SR_OK, 0, "allow",
                          detail, 0, NULL, 0);
    if (st == SR_OK)
        st = principal_store(v, admin, role, 0, NULL, 0);
    (void)snprintf(detail, sizeof detail, "token for %s, ttl %llus", admin,
                   (unsigned long long)(ttl ? ttl : SR_DEFAULT_TOKEN_TTL));
    if (st == SR_OK)
        st = record_entry(v, "token.create", NULL, ENTRY_ALLOWED, SR_OK, 0,
                          "allow", detail, 0, NULL, 0);
    if (st == SR_OK)
        st = token_make(v, admin, role, ttl, UINT32_MAX, token, id);
    if (st == SR_OK) {
        copy_name(v->token_id, sizeof v->token_id, id);
        v->token_scope = policy_role_actions(v->pol, role);
    }
    return st;
}

const char *sr_policy_default(void)
{
    return policy_default_json();
}

void vault_access_free(sr_vault *v)
{
    policy_free(v->pol);
    v->pol = NULL;
}
