/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vault_int.h - what vault.c and import.c share: the handle, and the two
 * halves of storing a person. "Sealing" (parse, validate, encode, encrypt,
 * index) needs no store and runs in worker threads; "committing" (the SSN
 * uniqueness check and the insert) runs on the one thread that owns the
 * store.
 */
#ifndef SR_VAULT_INT_H
#define SR_VAULT_INT_H

#include <stdarg.h>
#include <stdbool.h>

#include <jansson.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "crypto/crypto.h"
#include "policy/policy.h"
#include "record/record.h"
#include "store/store.h"
#include "strongroom/strongroom.h"
#include "util/util.h"
#include "watch/watch.h"

/* Meta keys in the store. */
#define META_VAULT_ID "vault_id"
#define META_INDEX_BITS "index_bits"
#define META_EXPECTED "expected_people"
#define META_KEK_VERSION "kek_version"
#define META_POLICY_VERSION "policy_version"
#define META_LOG_ORIGIN "log_origin"
#define META_DECOY_EVERY "decoy_every"

/* Index rows one person can have: its SSN, and family name + birth date
 * for the current and each former name. */
#define VAULT_MAX_INDEX 18

/* The blind-index rows of one person. */
typedef struct index_rows {
    store_index idx[VAULT_MAX_INDEX];
    size_t n;
} index_rows;

/* A person sealed and ready to insert. Holds plaintext (the SSN and each
 * class's canonical encoding, for the uniqueness and resume checks): it is
 * wiped by sealed_reset and sealed_free. */
typedef struct sealed_person {
    uint8_t id[SR_ID_BYTES];
    char ssn[10];
    sr_buf plain; /* canonical class encodings, back to back */
    size_t plain_off[SR_CLASS_COUNT], plain_len[SR_CLASS_COUNT];
    sr_buf cipher; /* wrapped key, then the envelopes, back to back */
    size_t cls_off[SR_CLASS_COUNT], cls_len[SR_CLASS_COUNT];
    unsigned present; /* SR_CLASS_BIT of each non-empty class */
    struct index_rows index;
} sealed_person;

void sealed_init(sealed_person *sp);
void sealed_reset(sealed_person *sp);
void sealed_free(sealed_person *sp);

/* Per-thread scratch for sealing: the data key in guarded memory. */
typedef struct seal_scratch {
    uint8_t *dk; /* sodium_malloc, CRYPTO_KEY_BYTES */
} seal_scratch;

/* What a handle shares with the handles opened from it (and they from
 * them) by sr_vault_open_another: a cache of tokens found valid, so a
 * server does not read a token and its principal from the store on every
 * request (access.c). */
typedef struct vault_family vault_family;

struct sr_vault {
    char errmsg[512];
    char *dir;
    const store_ops *ops;
    store *st;
    keyring *keys;
    keyfile kf;
    uint8_t vault_id[SR_ID_BYTES];
    unsigned index_bits;
    uint64_t expected_people;
    uint32_t kek_version;
    bool writable;
    int lock_fd;
    /* Scratch for the thread that owns the handle. */
    uint8_t *dk; /* sodium_malloc: the data key being used */
    sr_buf pt;   /* one class of plaintext */
    sr_buf out;  /* one JSON line */
    seal_scratch sc;
    sealed_person sp;
    /* Access control and audit (access.c). */
    audit_log *log;
    policy *pol;
    uint32_t policy_version;
    bool authed;
    char principal[ENTRY_NAME_MAX + 1];
    char role[ENTRY_NAME_MAX + 1];
    char token_id[ENTRY_TOKEN_MAX + 1];
    uint32_t token_scope; /* POLICY_ACTION_BIT mask */
    uint64_t last_entry;
    vault_family *family; /* shared with handles opened from this one */
    uint32_t decoy_every; /* one decoy per so many people; 0: none */
    bool defer_audit;     /* record_entry queues; see sr_vault_defer_audit */
    audit_ticket *ticket; /* the queued entry of the last call, or NULL */
};

/* ---- access.c: who may do what, and the audit record of it -------------- */

/* One request as the policy and the audit log see it. */
typedef struct access_req {
    policy_action action;
    const char *name;      /* the entry's action: "get", "find.ssn", ... */
    const sr_access *acc;  /* purpose and case, or NULL */
    const uint8_t *person; /* the one person acted on, or NULL */
    unsigned classes;      /* classes asked for (0: the role's) */
} access_req;

/* Decide r for the authenticated principal. On allow, *granted gets the
 * classes that may be revealed and nothing is logged yet (the caller
 * records the outcome with vault_record before revealing anything). On
 * deny the denial is logged and SR_ERR_DENIED (or SR_ERR_AUTH when
 * nobody is authenticated) is returned with the rule in the message;
 * SR_ERR_AUDIT if even the denial cannot be logged. */
SR_WARN_UNUSED sr_status vault_authorize(sr_vault *v, const access_req *r,
                                         unsigned *granted);

/* Append the entry for r, durable on return. refs name the people
 * revealed or changed (person ids, nrefs of them; the entry holds their
 * keyed references). SR_ERR_AUDIT with the message set on failure. */
SR_WARN_UNUSED sr_status vault_record(sr_vault *v, const access_req *r,
                                      entry_outcome outcome, sr_status result,
                                      unsigned classes, const char *detail,
                                      uint64_t count,
                                      const uint8_t (*ids)[SR_ID_BYTES],
                                      uint32_t nids);
/* A request that was allowed but failed (a person not found, a store
 * error): log it as failed, then return result with v's message kept. */
SR_WARN_UNUSED sr_status vault_record_failure(sr_vault *v, const access_req *r,
                                              sr_status result,
                                              unsigned classes);

/* Set up access control on a newly created vault: the default policy,
 * the administrator and its first token. The handle becomes the
 * administrator's. */
SR_WARN_UNUSED sr_status vault_access_init(sr_vault *v, const char *admin,
                                           uint64_t ttl,
                                           char token[SR_TOKEN_MAX]);
/* Load the current policy of an opened vault. */
SR_WARN_UNUSED sr_status vault_access_load(sr_vault *v);
void vault_access_free(sr_vault *v);
/* Join from's family, or start one (from NULL): its token cache is used
 * only when the family's first handle holds the vault's write lock, so
 * tokens and principals change only through the family's own handles. */
SR_WARN_UNUSED sr_status vault_family_join(sr_vault *v, const sr_vault *from);
void vault_family_leave(sr_vault *v);

/* Record a denial of r by rule (its people: ids), then return SR_OK; the
 * caller sets the message. SR_ERR_AUDIT if it cannot be logged. */
SR_WARN_UNUSED sr_status vault_deny(sr_vault *v, const access_req *r,
                                    const char *rule, const char *detail,
                                    const uint8_t (*ids)[SR_ID_BYTES],
                                    uint32_t nids);

/* ---- budget.c: read budgets and freezes (each principal's watch file) -- */

typedef struct watch_cache watch_cache; /* the family's open watch files */
SR_WARN_UNUSED sr_status watch_cache_new(watch_cache **out,
                                         const char *vault_dir);
void watch_cache_free(watch_cache *c);
/* The cache of v's family (access.c). */
watch_cache *vault_watches(sr_vault *v);

/* Is the principal `name` frozen? reason (may be NULL; 65 bytes) gets why. */
SR_WARN_UNUSED sr_status vault_frozen(sr_vault *v, const char *name,
                                      bool *frozen, char *reason);
/* Freeze or unfreeze `name` (synced): an unfreeze also lets the reads
 * counted so far stand, so the budget starts afresh. reason is a name. */
SR_WARN_UNUSED sr_status vault_mark_frozen(sr_vault *v, const char *name,
                                           bool frozen, const char *reason);
/*
 * Charge r to the principal's read budget, before anything is revealed:
 * the people ids (n of them) and `searches` searches (with charge false,
 * only check them), and with need_room room for one more person. Roles
 * without a budget pass at once. Over the budget, or frozen meanwhile:
 * the principal is frozen, the denial logged by its rule, an alert raised
 * and SR_ERR_DENIED returned.
 */
/* A principal's use of its read budget and its freeze, as its watch file
 * says now (the file is locked and brought up to date). */
typedef struct watch_usage {
    bool frozen;
    uint64_t frozen_ms;
    char reason[WATCH_REASON_MAX + 1];
    size_t people_hour, people_day, searches_hour;
} watch_usage;
SR_WARN_UNUSED sr_status vault_watch_usage(sr_vault *v, const char *name,
                                           watch_usage *out);
SR_WARN_UNUSED sr_status vault_budget_charge(sr_vault *v, const access_req *r,
                                             const uint8_t (*ids)[SR_ID_BYTES],
                                             size_t n, unsigned searches,
                                             bool need_room, bool charge);
/* vault_budget_charge(v, r, NULL, 0, searches, need_room, false), which
 * reads the file a second time only to refuse: a search's check before
 * it looks. */
SR_WARN_UNUSED sr_status vault_budget_check(sr_vault *v, const access_req *r,
                                            unsigned searches, bool need_room);

/* A stored document (kind / key) as JSON, a new reference in *out;
 * SR_ERR_NOT_FOUND, SR_ERR_CORRUPT or the store's error (no message). */
SR_WARN_UNUSED sr_status vault_doc_load(sr_vault *v, const char *kind,
                                        const char *key, json_t **out);
/* Store a document (insert: fail with SR_ERR_EXISTS if the key is taken);
 * the store's error, without a message. */
SR_WARN_UNUSED sr_status vault_doc_save(sr_vault *v, const char *kind,
                                        const char *key, const json_t *doc,
                                        bool insert);
/* Member k of o as a string, "" if absent or not a string. */
const char *vault_jstr(const json_t *o, const char *k);

/* Record an entry for the vault's own act (no request): action, rule
 * and detail; SR_ERR_AUDIT if it cannot be logged. */
SR_WARN_UNUSED sr_status vault_note(sr_vault *v, const char *action,
                                    const char *rule, const char *detail);

/* ---- audit.c: reading the log back ------------------------------------- */

/* Hand fn the compact JSON text of o (which it takes: decref'd), as one
 * line; SR_ERR_NOMEM with the message, or what fn returned. */
SR_WARN_UNUSED sr_status vault_emit(sr_vault *v, json_t *o, sr_line_fn fn,
                                    void *ctx);

/* Checkpoint the log now (*size gets its tree size). */
SR_WARN_UNUSED sr_status vault_audit_checkpoint(sr_vault *v, uint64_t *size);

/* Checkpoint the log, then hand fn each entry from index `from` on (its
 * index and encoded bytes), bundle by bundle. *size_out (may be NULL) gets
 * the tree size walked. A non-SR_OK from fn stops the walk: if *stopped
 * (may be NULL) is then set, that status is returned as it is, else the
 * log is reported malformed. SR_ERR_AUDIT with the message for a log that
 * cannot be read. */
SR_WARN_UNUSED sr_status vault_audit_walk(
    sr_vault *v, uint64_t from,
    sr_status (*fn)(void *ctx, uint64_t i, const uint8_t *data, size_t len),
    void *ctx, const sr_status *stopped, uint64_t *size_out);

/* ---- held lines: revealed only once their entry is on disk -------------- */

/* People per entry of a bulk read (export, notify). */
#define VAULT_GROUP 256u

/* A bulk read (export, notify): its request, and its lines held until
 * the entry naming the group's people is written (vault.c). Lines that
 * name nobody (a notification's "gone") may be held between them, at most
 * 3 * VAULT_GROUP. */
typedef struct vault_held {
    sr_vault *v;
    access_req r;
    unsigned granted;
    char detail[ENTRY_TEXT_MAX]; /* "approval <id>" */
    sr_line_fn fn;
    void *fn_ctx;
    const char *what; /* "the export", for a stopped writer's message */
    sr_buf lines;
    uint8_t ids[VAULT_GROUP][SR_ID_BYTES];
    size_t n;        /* people in the group */
    size_t held;     /* lines held */
    uint64_t passed; /* lines handed over so far */
} vault_held;

/* Start a bulk read r: decide it, and check the approval it needs (bound
 * to digest, "" for none), each refusal logged; then ready h to hold its
 * lines for fn. Release h with vault_held_free (it wipes), begun or not. */
SR_WARN_UNUSED sr_status vault_held_begin(sr_vault *v, const access_req *r,
                                          const char *digest, sr_line_fn fn,
                                          void *ctx, const char *what,
                                          vault_held *h);
void vault_held_free(vault_held *h);
/* Hold one line, of person id (NULL: of nobody); when the group is full,
 * flush it. */
SR_WARN_UNUSED sr_status vault_held_add(vault_held *h, const void *line,
                                        size_t len, const uint8_t *id);
/* Log the group (allowed, the classes granted, the detail), then hand
 * each held line to fn. */
SR_WARN_UNUSED sr_status vault_held_flush(vault_held *h);

/* ---- backup.c: the key file ---------------------------------------------- */

typedef struct vault_key_line {
    uint8_t id[SR_ID_BYTES];
    uint32_t kek;
    uint8_t wrapped[WRAPPED_KEY_BYTES];
} vault_key_line;

/* A key file's first line, and each line after it (backup.c's header
 * comment). SR_ERR_INVALID for anything else. */
SR_WARN_UNUSED sr_status vault_keys_header(const char *line, size_t len,
                                           uint8_t vault_id[SR_ID_BYTES]);
SR_WARN_UNUSED sr_status vault_keys_line(const char *line, size_t len,
                                         vault_key_line *out);

/* ---- approval.c: the two-person rule ------------------------------------ */

#define VAULT_DIGEST_HEX (2 * CRYPTO_QUERY_DIGEST_BYTES + 1)

/* The keyed digests an approval is bound to (hex): of a search by family
 * name and birth date, and of a notification's people (in any order;
 * SR_ERR_INVALID if one is named twice, or none). */
SR_WARN_UNUSED sr_status vault_search_digest(sr_vault *v, const char *family,
                                             const char *dob,
                                             char hex[VAULT_DIGEST_HEX]);
SR_WARN_UNUSED sr_status vault_people_digest(sr_vault *v,
                                             const uint8_t (*ids)[SR_ID_BYTES],
                                             size_t n,
                                             char hex[VAULT_DIGEST_HEX]);
/* A share's: its fields (canonical) and people (at most
 * SR_SHARE_PEOPLE_MAX). */
SR_WARN_UNUSED sr_status vault_share_digest(sr_vault *v, const record_fields *f,
                                            const uint8_t (*ids)[SR_ID_BYTES],
                                            size_t n,
                                            char hex[VAULT_DIGEST_HEX]);
/* Parse a share's list of fields; SR_ERR_INVALID with the reason. */
SR_WARN_UNUSED sr_status vault_share_fields(sr_vault *v, const char *list,
                                            record_fields *f);

/* Does the approval named in r->acc cover r (an export; a search by
 * family and dob over the bulk threshold; a notification) for the
 * authenticated principal, with the request's digest ("" for an export)?
 * SR_OK with detail "approval <id>" for the entries of the request; else
 * the denial is logged (approval.required without one, approval.invalid
 * with one that does not cover it) and SR_ERR_DENIED returned with the
 * reason. */
SR_WARN_UNUSED sr_status vault_approval_check(sr_vault *v, const access_req *r,
                                              const char *digest,
                                              char detail[ENTRY_TEXT_MAX]);

/* ---- decoy.c: honeytoken people ------------------------------------------ */

typedef struct decoy_set decoy_set; /* the family's decoy references */
SR_WARN_UNUSED sr_status decoy_set_new(decoy_set **out);
void decoy_set_free(decoy_set *d);
/* The set of v's family (access.c). */
decoy_set *vault_decoys(sr_vault *v);

/* Is any of the people ids a decoy? */
SR_WARN_UNUSED sr_status vault_decoy_hit(sr_vault *v,
                                         const uint8_t (*ids)[SR_ID_BYTES],
                                         size_t n, bool *hit);
/* How many decoys the vault holds, in all and by the KEK version that
 * wraps their data keys (reads each decoy's row: for statistics). */
SR_WARN_UNUSED sr_status vault_decoy_count(sr_vault *v, uint64_t *count);
SR_WARN_UNUSED sr_status vault_decoy_by_kek(sr_vault *v, uint64_t by_kek[8]);
/* The principal touched a decoy: freeze it (rule decoy.read), log that
 * and raise the alert. */
SR_WARN_UNUSED sr_status vault_decoy_trip(sr_vault *v);
/* After a read is logged, before it is revealed: a decoy among the people
 * freezes the principal. The read is still served, so the reader cannot
 * tell a decoy from a person until its next request is refused. */
SR_WARN_UNUSED sr_status vault_decoy_check(sr_vault *v,
                                           const uint8_t (*ids)[SR_ID_BYTES],
                                           size_t n);
/* Store n decoys, or one with probability 1/decoy_every, inside the
 * caller's transaction. */
SR_WARN_UNUSED sr_status vault_decoy_add(sr_vault *v, unsigned n);
SR_WARN_UNUSED sr_status vault_decoy_maybe(sr_vault *v);

/* Is the person on the case (by its keyed reference)? */
SR_WARN_UNUSED sr_status vault_case_has_person(sr_vault *v, const char *case_id,
                                               const uint8_t id[SR_ID_BYTES],
                                               bool *on);
/* Does the principal's role read only its caseload? */
bool vault_caseload(const sr_vault *v);

SR_WARN_UNUSED sr_status scratch_init(seal_scratch *sc);
void scratch_free(seal_scratch *sc);

/* Seal a validated person under a fresh data key as record `version`,
 * with the given id, or a fresh random one if id is NULL. Thread-safe for
 * distinct sp/sc. On failure msg says why (never with a value). */
SR_WARN_UNUSED sr_status vault_seal_person(const sr_vault *v, seal_scratch *sc,
                                           const json_t *person,
                                           const uint8_t *id, uint32_t version,
                                           sealed_person *sp, char *msg,
                                           size_t msg_cap);

/* Outcome of committing one sealed person. */
typedef enum commit_outcome {
    COMMIT_STORED,
    COMMIT_SAME,    /* the SSN is stored with identical content */
    COMMIT_CONFLICT /* the SSN is stored with other content */
} commit_outcome;

/* Insert sp unless its SSN is already stored (inside the caller's
 * transaction). *existing gets the id holding the SSN, if any. A store
 * failure is returned with the message on v. */
SR_WARN_UNUSED sr_status vault_commit_person(sr_vault *v,
                                             const sealed_person *sp,
                                             commit_outcome *outcome,
                                             uint8_t existing[SR_ID_BYTES]);

/* The same for sp[0..n-1] (n <= VAULT_COMMIT_MAX) in input order, as
 * if committed one after another: a later one with an earlier one's SSN
 * is COMMIT_SAME or COMMIT_CONFLICT against it. On a store with bulk
 * operations, one search and one bulk insert serve them all. */
#define VAULT_COMMIT_MAX 1024u
SR_WARN_UNUSED sr_status vault_commit_people(sr_vault *v,
                                             const sealed_person *const *sp,
                                             size_t n, commit_outcome *outcome,
                                             uint8_t (*existing)[SR_ID_BYTES]);

/* Read one person (classes in mask) into v->out as one JSON line: no
 * policy, no log. Only sr_vault_get (after its checks, and before its
 * entry) and the benchmark's unlogged baseline call it; the caller wipes
 * v->out. */
SR_WARN_UNUSED sr_status vault_read_line(sr_vault *v, const char *id,
                                         unsigned mask);

/* Check a search's family name and date of birth, and normalise the name
 * into norm (its message names the fault, never the value). */
SR_WARN_UNUSED sr_status vault_name_dob_terms(sr_vault *v, const char *family,
                                              const char *dob,
                                              char norm[RECORD_NAME_NORM_CAP]);

/* A caller's line sink, for listings. */
typedef struct vault_lines {
    sr_vault *v;
    sr_line_fn fn;
    void *ctx;
} vault_lines;

/* A listing: authorize action a (logged as `action` once allowed), then
 * hand each stored document of kind to each(ctx, ...). */
SR_WARN_UNUSED sr_status vault_list_docs(sr_vault *v, policy_action a,
                                         const char *action, const char *kind,
                                         store_doc_fn each, void *ctx);

/* The blind-index rows of a stored person (its identity and name classes
 * opened), as the store holds them: what a removal must delete. */
/* Destroy the classes in mask of person id, inside the caller's
 * transaction: the person is sealed afresh (a new version and data key)
 * without them. Retention (shred.c). */
SR_WARN_UNUSED sr_status vault_drop_classes(sr_vault *v,
                                            const uint8_t id[SR_ID_BYTES],
                                            unsigned mask);
SR_WARN_UNUSED sr_status vault_row_index(sr_vault *v, const store_row *row,
                                         index_rows *rows);
/* The retention cluster (store.h) of a person who left on day left
 * (RECORD_NOT_SEPARATED: not separated; vault_row_left): a keyed tag of the
 * year they left, or of "not separated"; and of a year (0: not separated).
 * Years before VAULT_CLUSTER_FIRST_YEAR share its tag. Never 0. */
#define VAULT_CLUSTER_FIRST_YEAR 1900
uint16_t vault_cluster_of(const sr_vault *v, int32_t left);
uint16_t vault_cluster_of_year(const sr_vault *v, int year);
/* The day a stored person left (days since 1970-01-01, negative before):
 * the latest end of their employment when all of it is former;
 * RECORD_NOT_SEPARATED if they are still employed or never were. Read from the
 * employment class without building JSON (record_employment_left): what a
 * retention run and a compaction read of everyone. */
SR_WARN_UNUSED sr_status vault_row_left(sr_vault *v, const store_row *row,
                                        int32_t *left);
/* Open the classes in mask of a stored row into person (a JSON object). */
SR_WARN_UNUSED sr_status vault_open_row(sr_vault *v, const store_row *row,
                                        unsigned mask, json_t *person);

/* Set v's message to what we were doing and the store's own message
 * (saying "disk full" plainly when it is); returns st. */
sr_status vault_store_fail(sr_vault *v, sr_status st, const char *what);

/* Set v's message, printf-style; returns st for tail calls. */
sr_status vault_fail(sr_vault *v, sr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
