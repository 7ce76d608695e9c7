/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/vault.h - the vault facade: the one API the CLI and the server
 * call. A vault is a directory holding the sealed root key (vault.key), the
 * encrypted store (vault.db), a writer lock, and the audit log (log/,
 * audit/, log.vkey; see strongroom/audit.h).
 *
 * Every call that touches people or principals acts for the principal the
 * handle was authenticated as (sr_vault_authenticate), is decided by the
 * vault's policy, and is recorded in the audit log, allowed or denied.
 * No plaintext leaves the library before the entry recording its release
 * is durable on disk (log-then-reveal); when the log cannot be written the
 * call fails with SR_ERR_AUDIT and reveals nothing.
 *
 * Handles are not thread-safe: use one sr_vault per thread. A vault may be
 * open for reading by many processes, and for writing by at most one.
 *
 * Plaintext handed back by the library (sr_vault_get, the find and export
 * callbacks) lives in memory that is wiped when released; callers should
 * treat it the same way and free it with sr_secret_free.
 */
#ifndef STRONGROOM_VAULT_H
#define STRONGROOM_VAULT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sr_vault sr_vault;

/* How hard the passphrase is stretched (Argon2id, libsodium presets). */
typedef enum sr_kdf_profile {
    SR_KDF_MODERATE = 0,    /* 256 MiB, 3 passes: the default */
    SR_KDF_INTERACTIVE = 1, /* 64 MiB, 2 passes: tests and demos */
    SR_KDF_SENSITIVE = 2    /* 1 GiB, 4 passes */
} sr_kdf_profile;

typedef struct sr_init_options {
    sr_kdf_profile kdf;
    /* Expected number of people; sizes the blind indexes so that each index
     * value matches several people at that size (docs/crypto.md). 0 means
     * SR_DEFAULT_EXPECTED_PEOPLE. */
    uint64_t expected_people;
    /* The first administrator (NULL: "admin") and the lifetime of its
     * first token in seconds (0: SR_DEFAULT_TOKEN_TTL). */
    const char *admin_name;
    uint64_t admin_token_ttl;
    /* Checkpoint origin and log key name (NULL: "strongroom/<vault id>"). */
    const char *log_origin;
    /* Decoy people: one per so many people stored, mixed in as they are
     * (0: SR_DEFAULT_DECOY_EVERY; SR_DECOYS_NONE: no decoys at all). A
     * new vault starts with one. */
    uint32_t decoy_every;
    /* Where the people are stored: NULL for the embedded SQLite file in
     * the vault directory, or a libpq connection string of a PostgreSQL
     * 15 database (kept in <dir>/store; a password in it is refused). */
    const char *store;
} sr_init_options;

#define SR_DEFAULT_DECOY_EVERY 10000u
#define SR_DECOYS_NONE UINT32_MAX

/* Room for an API token with its NUL: "sr1_" 16 hex "_" 43 base64url. */
#define SR_TOKEN_MAX 72
/* Room for a token id (16 hex digits) with its NUL. */
#define SR_TOKEN_ID_MAX 17
#define SR_DEFAULT_TOKEN_TTL (90u * 24u * 3600u)

#define SR_DEFAULT_EXPECTED_PEOPLE 25000000u

/* Open modes for sr_vault_open. */
#define SR_OPEN_READ 0u
#define SR_OPEN_WRITE 1u

/*
 * Create a vault in dir (created if missing; must be empty or absent) and
 * open it for writing. The root key is random and stored only sealed under
 * the passphrase. The vault starts with the default policy, an empty audit
 * log, and one principal: the administrator, whose first API token is
 * written to admin_token (shown once: only its hash is kept). The handle
 * is authenticated as that administrator. Errors: SR_ERR_EXISTS,
 * SR_ERR_INVALID (empty passphrase, bad name), SR_ERR_IO. *out is always
 * set (unless out of memory, then NULL) and must be closed with
 * sr_vault_close; read the message with sr_vault_errmsg.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_create(sr_vault **out, const char *dir,
                                                const char *pass,
                                                size_t pass_len,
                                                const sr_init_options *opt,
                                                char admin_token[SR_TOKEN_MAX]);

/*
 * Open an existing vault. flags is SR_OPEN_READ or SR_OPEN_WRITE; a writer
 * takes an exclusive lock and fails with SR_ERR_LOCKED while another process
 * holds it. Errors: SR_ERR_NOT_VAULT, SR_ERR_AUTH (wrong passphrase),
 * SR_ERR_CORRUPT, SR_ERR_VERSION, SR_ERR_LOCKED, SR_ERR_IO. *out as above.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_open(sr_vault **out, const char *dir,
                                              const char *pass, size_t pass_len,
                                              unsigned flags);

/*
 * Open one more read handle on the vault that `from` has open, sharing its
 * unlocked keys (no passphrase, no key stretching): for a server that
 * keeps a handle per thread. The new handle is unauthenticated and
 * independent of `from` (either may be closed first). Errors as for
 * sr_vault_open, and SR_ERR_INVALID when the keys were rotated meanwhile.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_open_another(sr_vault **out,
                                                      const sr_vault *from);

/*
 * The same, writable, from the handle that opened the vault with
 * SR_OPEN_WRITE (and so holds its write lock; SR_ERR_INVALID from any
 * other): a second writer in the same process, for work that should not
 * wait behind the first, such as a sign-in's key stretching. Writes of
 * the two are ordered by the store. Close it before `from`.
 */
SR_API SR_WARN_UNUSED sr_status
sr_vault_open_another_writer(sr_vault **out, const sr_vault *from);

/*
 * Pick up a policy another handle (or process) stored since this handle
 * loaded its own; cheap when nothing changed. A server calls it before
 * each request on a long-lived handle.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_refresh(sr_vault *v);

/* Close, wiping all keys. Accepts NULL. */
SR_API void sr_vault_close(sr_vault *v);

/* The message of the last failed call on v (never an identifier). */
SR_API const char *sr_vault_errmsg(const sr_vault *v);

/* Free a buffer of plaintext the library returned; wipes it first. */
SR_API void sr_secret_free(char *p);

/*
 * Authenticate the handle as the principal holding an API token. Every
 * later call acts for that principal. Errors: SR_ERR_AUTH (malformed,
 * unknown, wrong, expired or revoked token, or a disabled principal: the
 * message does not say which, the audit log does), SR_ERR_AUDIT.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_authenticate(sr_vault *v,
                                                      const char *token,
                                                      size_t len);

/*
 * As sr_vault_authenticate, for a server that authenticates every request
 * on a long-lived handle: a success is not logged on its own (the entry of
 * the request's own action names the principal and the token); every
 * failure is.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_authenticate_request(sr_vault *v,
                                                              const char *token,
                                                              size_t len);

/*
 * Authenticate as the service account `name` on the word of the caller,
 * which must have proved the service's identity itself: a server that has
 * verified a client certificate against its client CA passes the name the
 * certificate carries. `credential` (1-32 of 0-9 a-z : -; say "x509:"
 * and the start of the certificate's SHA-256) stands in the entries where
 * a token id would. The principal must exist, be a service account and be
 * enabled; its tokens' scopes do not apply, its role's actions do.
 * Errors: SR_ERR_AUTH (logged, with the rule service.unknown,
 * service.kind or principal.disabled), SR_ERR_INVALID (bad credential),
 * SR_ERR_AUDIT.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_authenticate_service(
    sr_vault *v, const char *name, const char *credential);

/* The authenticated principal's name and role ("" before). */
SR_API const char *sr_vault_principal(const sr_vault *v);
SR_API const char *sr_vault_role(const sr_vault *v);

/*
 * Why an access is made: the purpose (a name from the policy, such as
 * "initial-investigation") and, for purposes and roles that need one, the
 * case. Record actions need a purpose (docs/policy.md).
 */
typedef struct sr_access {
    const char *purpose;
    const char *case_id;
    /* A second person's approval (sr_vault_approval_request), for an
     * export or a search over the policy's bulk threshold; NULL for
     * none. */
    const char *approval;
} sr_access;

/* The leaf index of the audit entry the last call on v appended
 * (UINT64_MAX if none): the receipt a console shows. */
SR_API uint64_t sr_vault_last_entry(const sr_vault *v);

/*
 * Deferred audit syncs, for a server on read handles. Every access is
 * logged before anything is revealed: normally each call returns only
 * once its entry is durable (written and fdatasync'd), holding the
 * handle meanwhile. With sr_vault_defer_audit(v, true) a call queues its
 * entry and returns at once; sr_vault_take_ticket then hands the wait to
 * the caller, who can give the handle back (to serve the next request)
 * before waiting in sr_audit_ticket_wait. The caller takes on the rule:
 * nothing a call returned or passed to a callback may leave the process
 * until its ticket's wait returned SR_OK, and on failure it must be
 * wiped, not revealed. A second logged call on the handle first waits
 * for the ticket still held, so a handle has at most one. Only on a
 * read-only handle (SR_ERR_INVALID otherwise: a write logs before its
 * commit). Turning it off, and sr_vault_close, wait for a ticket left.
 */
typedef struct sr_audit_ticket sr_audit_ticket;
SR_API SR_WARN_UNUSED sr_status sr_vault_defer_audit(sr_vault *v, bool on);

/* The ticket of the last call's entry, now the caller's (NULL if none:
 * the call logged nothing, or was not deferred). */
SR_API sr_audit_ticket *sr_vault_take_ticket(sr_vault *v);

/* Wait until the ticket's entry is durable, then free the ticket: SR_OK
 * with *entry its leaf index, or SR_ERR_AUDIT with the reason in msg
 * (msg_len bytes, at least 1). NULL: SR_OK and *entry UINT64_MAX. */
SR_API SR_WARN_UNUSED sr_status sr_audit_ticket_wait(sr_audit_ticket *t,
                                                     uint64_t *entry, char *msg,
                                                     size_t msg_len);

/*
 * Store one person given in the exchange form (person.schema.json). Writes
 * the new id (32 hex digits and a NUL) to id_out. Errors: SR_ERR_INVALID
 * (the message names the JSON path and the rule), SR_ERR_DUPLICATE (SSN
 * already stored), SR_ERR_FULL, SR_ERR_IO.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_put(sr_vault *v, const sr_access *acc,
                                             const char *json, size_t len,
                                             char id_out[SR_ID_STR_LEN + 1]);

/*
 * Read one person back in the exchange form, with only the classes in
 * class_mask (SR_CLASS_BIT(...) | ...; 0 = every class the role may read;
 * "id" is always present). The JSON is
 * one compact line in *json_out, freed with sr_secret_free. Errors:
 * SR_ERR_NOT_FOUND, SR_ERR_CORRUPT (a ciphertext was edited, moved or
 * replayed; the message names the person id), SR_ERR_INVALID (bad id).
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_get(sr_vault *v, const sr_access *acc,
                                             const char *id,
                                             unsigned class_mask,
                                             char **json_out, size_t *len_out);

/* Called once per line (no trailing newline). Return SR_OK to go on; any
 * other status stops the walk and is returned by the caller. The line is
 * wiped after the callback returns. */
typedef sr_status (*sr_line_fn)(void *ctx, const char *line, size_t len);

/*
 * Find people by SSN ("123-45-6789" or 9 digits) or by family name and date
 * of birth ("YYYY-MM-DD"; current and former family names match, compared
 * after normalising case, spaces, punctuation and diacritics). Each match is
 * one JSON line {"id":...,"name":{...}}. *count gets the number of matches
 * (may be NULL). No match is not an error.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_find_ssn(sr_vault *v,
                                                  const sr_access *acc,
                                                  const char *ssn,
                                                  sr_line_fn fn, void *ctx,
                                                  size_t *count);
SR_API SR_WARN_UNUSED sr_status sr_vault_find_name_dob(
    sr_vault *v, const sr_access *acc, const char *family, const char *dob,
    sr_line_fn fn, void *ctx, size_t *count);

/*
 * Apply a JSON merge patch (RFC 7386) to one person. The result must be a
 * valid person; "id" cannot change. The record version goes up by one.
 * Errors: SR_ERR_NOT_FOUND, SR_ERR_INVALID, SR_ERR_DUPLICATE, SR_ERR_CORRUPT.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_update(sr_vault *v,
                                                const sr_access *acc,
                                                const char *id,
                                                const char *patch, size_t len);

typedef enum sr_format {
    SR_FORMAT_AUTO = 0, /* from the file name: .csv is CSV, else JSONL */
    SR_FORMAT_JSONL = 1,
    SR_FORMAT_CSV = 2
} sr_format;

typedef struct sr_import_progress {
    uint64_t bytes_done;
    uint64_t bytes_total; /* 0 when unknown (a pipe) */
    uint64_t lines;
    uint64_t stored;
    uint64_t skipped;
    uint64_t rejected;
} sr_import_progress;

typedef struct sr_import_options {
    sr_format format;
    /* Where rejected lines are reported ("line N: /path: reason"); NULL
     * means nowhere. The file never holds the rejected data itself. */
    const char *reject_path;
    unsigned threads; /* workers that parse and encrypt; 0 = automatic */
    size_t batch;     /* people per transaction; 0 = 50000 */
    /* Called from the importing thread after each batch and at the end. */
    void (*progress)(void *ctx, const sr_import_progress *p);
    void *progress_ctx;
} sr_import_options;

typedef struct sr_import_summary {
    uint64_t lines;    /* data lines read (CSV header excluded) */
    uint64_t stored;   /* new people stored */
    uint64_t skipped;  /* already stored, identical: resumed import */
    uint64_t rejected; /* invalid or conflicting lines */
} sr_import_summary;

/*
 * Import a JSONL or CSV file ("-" for stdin). Valid people are stored in
 * batched transactions; invalid ones are counted and reported to the reject
 * file; a person whose SSN is already stored with the same content is
 * skipped, so re-running an interrupted import resumes it. A fatal error
 * (disk full, I/O) rolls back only the batch in progress; the message names
 * the line reached. The summary is filled in either case.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_import(sr_vault *v,
                                                const sr_access *acc,
                                                const char *path,
                                                const sr_import_options *opt,
                                                sr_import_summary *summary);

/*
 * As sr_vault_import, reading from the open descriptor fd to its end (it
 * is not closed): input that arrives over a network, through a pipe.
 * Whenever the input makes it wait, what it has stored so far is
 * committed first, so the write lock is not held while a sender is slow.
 * name stands for the input in messages; the format should be given
 * (SR_FORMAT_AUTO reads JSONL unless name ends in .csv).
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_import_fd(sr_vault *v,
                                                   const sr_access *acc, int fd,
                                                   const char *name,
                                                   const sr_import_options *opt,
                                                   sr_import_summary *summary);

/* Export every person in the exchange form, one line each, to fn. */
SR_API SR_WARN_UNUSED sr_status sr_vault_export(sr_vault *v,
                                                const sr_access *acc,
                                                sr_line_fn fn, void *ctx,
                                                uint64_t *count);

typedef struct sr_vault_stats {
    uint64_t people;
    uint64_t index_entries;
    uint64_t db_bytes;         /* main database file */
    uint64_t wal_bytes;        /* write-ahead log */
    uint64_t ciphertext_bytes; /* sum of all sealed classes and keys */
    uint32_t schema_version;
    uint32_t kek_version;      /* the current key-encryption key */
    uint64_t people_by_kek[8]; /* people whose data key is wrapped by
                                  KEK version i+1 (versions 1..8) */
    uint32_t index_bits;
    uint64_t expected_people;
    uint64_t kdf_opslimit;
    uint64_t kdf_memlimit;
    char vault_id[SR_ID_STR_LEN + 1];
} sr_vault_stats;

/* Counts and sizes; never an identifier. */
SR_API SR_WARN_UNUSED sr_status sr_vault_stats_get(sr_vault *v,
                                                   sr_vault_stats *st);

/* ---- principals, tokens, cases, policy ------------------------------------
 * Each needs the matching manage-* action, and is logged. Names are 1..64
 * of [a-z0-9._-], starting with a letter or digit. */

/*
 * Add a principal with a role of the policy. A human user may get a
 * passphrase (pass, pass_len; NULL for none), kept as an Argon2id hash; a
 * service account (service != 0) has tokens only. Errors: SR_ERR_EXISTS,
 * SR_ERR_INVALID (bad name, unknown role), SR_ERR_DENIED.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_user_add(sr_vault *v, const char *name,
                                                  const char *role, int service,
                                                  const char *pass,
                                                  size_t pass_len);
/* Disable a principal: its tokens stop working at once. */
SR_API SR_WARN_UNUSED sr_status sr_vault_user_disable(sr_vault *v,
                                                      const char *name);
/*
 * Freeze a principal, or unfreeze it (the policy's "freeze" action: the
 * security officer's by default): while frozen, its tokens, certificate
 * and passphrase are refused (the audit log says principal.frozen) until
 * it is unfrozen. reason: 1-64 of a-z 0-9 . _ -, starting with a letter
 * (a word or a ticket reference), logged with the change. Errors:
 * SR_ERR_NOT_FOUND, SR_ERR_INVALID, SR_ERR_DENIED.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_principal_freeze(sr_vault *v,
                                                          const char *name,
                                                          const char *reason);
SR_API SR_WARN_UNUSED sr_status sr_vault_principal_unfreeze(sr_vault *v,
                                                            const char *name,
                                                            const char *reason);

/*
 * Alerts: each freeze and unfreeze (and, to come, each spent read budget
 * and touched decoy) is one JSON line {"time","kind","principal","by",
 * "reason","entry"} appended to <vault>/alerts/alerts.jsonl and synced
 * before the call returns, and a syslog message (LOG_AUTH, LOG_ALERT).
 * The counts raised by this process, by kind (for /metrics):
 */
#define SR_ALERT_KINDS 3u
SR_API void sr_alert_counts(uint64_t out[SR_ALERT_KINDS]);
/* Alerts this process could not POST to the webhook
 * ($STRONGROOM_ALERT_WEBHOOK or <vault>/alerts/webhook; docs/breach.md).
 * Each is still in the alert file and syslog. */
SR_API uint64_t sr_alert_webhook_failures(void);
/* "principal.frozen", "principal.unfrozen", "other"; NULL past the end. */
SR_API const char *sr_alert_kind_name(unsigned i);

/* The cases assigned to the authenticated principal, one JSON line each:
 * {"case","created","people"} (any principal, for itself; logged as
 * caseload.list). */
SR_API SR_WARN_UNUSED sr_status sr_vault_caseload(sr_vault *v, sr_line_fn fn,
                                                  void *ctx);

/* The most alerts sr_vault_alert_list returns at once. */
#define SR_ALERT_LIST_MAX 1000u

/* The last `limit` alerts (0 or more than SR_ALERT_LIST_MAX: that many),
 * oldest first, one JSON line each as the alert file holds it (the
 * "freeze" action; logged as alert.list). */
SR_API SR_WARN_UNUSED sr_status sr_vault_alert_list(sr_vault *v, size_t limit,
                                                    sr_line_fn fn, void *ctx);

/* Each principal's state, one JSON line each: {"name","role","kind",
 * "disabled","frozen","people_hour","people_day","searches_hour",
 * "budget": {"people_per_hour","people_per_day","searches_per_hour"} or
 * null for a role without one}, and "frozen_reason", "frozen_at_ms" while
 * frozen (the "freeze" action; logged as watch.list). */
SR_API SR_WARN_UNUSED sr_status sr_vault_watch_list(sr_vault *v, sr_line_fn fn,
                                                    void *ctx);

/* ---- crypto-shredding and retention (docs/retention.md) ---------------- */

/*
 * Destroy person id (the "shred" action, with a purpose such as retention
 * or incident-response): their data key, every ciphertext and their
 * blind-index rows are deleted with secure delete (the bytes overwritten
 * in the database file), their case memberships and decoy marker go too,
 * and the write-ahead log is emptied so no older page image survives. The
 * audit entry ("shred", detail "reason R", the person by keyed reference)
 * is written before the deletion is committed. reason: 1-64 of a-z 0-9 .
 * _ -, starting with a letter. Errors: SR_ERR_INVALID, SR_ERR_NOT_FOUND,
 * SR_ERR_DENIED, SR_ERR_AUDIT, store errors.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_shred(sr_vault *v,
                                               const sr_access *acc,
                                               const char *id,
                                               const char *reason);

typedef struct sr_retention_summary {
    uint64_t scanned;   /* people read */
    uint64_t separated; /* of them, all of whose employment is former */
    uint64_t due;       /* of them, separated longer than the retention */
    uint64_t shredded;  /* destroyed (0 for a dry run) */
    /* Separated people not yet due whose classes with a shorter schedule
     * are ("destroy_classes_after_separation_years"), and of them, those
     * whose classes were destroyed (0 for a dry run). */
    uint64_t classes_due;
    uint64_t classes_destroyed;
    /* Of the people read, those in no retention cluster: written since
     * the vault's file was last compacted (`store compact`), or all of
     * them if it never was. They are read by every run whatever their
     * year; a compaction groups them. 0 on PostgreSQL, which keeps no
     * clusters (and reads everyone). */
    uint64_t unclustered;
} sr_retention_summary;

/*
 * Apply the policy's retention ("retention": {"destroy_after_separation_
 * years": N}): every person whose employment has all ended, the last end
 * N years ago or more, is destroyed as by sr_vault_shred, in batches (one
 * transaction and a few audit entries each, "retention.run"). The
 * classes the policy destroys sooner ("destroy_classes_after_separation_
 * years") go from the people separated that long: each is sealed afresh
 * without them (entries "retention.run" with those classes). dry_run only
 * counts (logged as "retention.plan"). The "shred" action, with its
 * purpose. SR_ERR_INVALID if the policy sets no retention.
 *
 * progress, if set, is called as the run goes: phase "reading" while
 * every person is read (done: people read so far; total 0, unknown),
 * then "destroying" (done of total people, and then of the people whose
 * classes go). A few hundred calls per million people.
 */
typedef struct sr_retention_opts {
    bool dry_run;
    void (*progress)(void *ctx, const char *phase, uint64_t done,
                     uint64_t total);
    void *progress_ctx;
} sr_retention_opts;

SR_API SR_WARN_UNUSED sr_status sr_vault_retention_run(
    sr_vault *v, const sr_access *acc, const sr_retention_opts *opts,
    sr_retention_summary *out);

/* ---- backups (docs/retention.md, "Backups") ------------------------------ */

typedef struct sr_backup_summary {
    uint64_t people;   /* people in the backup (decoys among them) */
    uint64_t log_size; /* the audit log's size in the backup */
} sr_backup_summary;

/*
 * Back the vault up into dir (created, mode 0700; it must not exist): the
 * records without their keys (vault.db: a consistent copy with every
 * person's wrapped data key emptied), the sealed root key (vault.key) and
 * the audit log (log/, log.vkey, audit/, copied under the log's locks),
 * and backup.json (what it holds). The key table (every person's wrapped
 * data key) goes to keys_path instead, which must lie outside dir: keys
 * are kept apart from the records and for a shorter time, so a person
 * shredded after the backup cannot be restored once the key files older
 * than the shred are gone. The "manage-backups" action; logged as
 * backup.create before the log is copied. Works on a read-only handle.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_backup(sr_vault *v, const char *dir,
                                                const char *keys_path,
                                                sr_backup_summary *out);

/* The vault's key table alone into keys_path (as sr_vault_backup writes
 * it): what a restore needs to leave out everyone shredded since the
 * backup. "manage-backups"; logged as backup.keys. */
SR_API SR_WARN_UNUSED sr_status sr_vault_backup_keys(sr_vault *v,
                                                     const char *keys_path,
                                                     uint64_t *people);

/* Copy backup dir `from` into `to` (a new vault directory, which must not
 * exist): the files a vault opens, not the key table. Then open `to` and
 * call sr_vault_restore_keys. On failure msg says why, and nothing of
 * `to` is left. If a later step fails, sr_backup_abandon(to) removes the
 * half-restored vault (close it first), so the restore can be run again. */
SR_API SR_WARN_UNUSED sr_status sr_backup_copy(const char *from, const char *to,
                                               char *msg, size_t msg_cap);
SR_API void sr_backup_abandon(const char *to);

/*
 * Move the vault's records from its embedded SQLite file onto PostgreSQL
 * (docs/storage.md, "Moving a vault onto PostgreSQL"): conninfo names an
 * empty database (no password in it). Everything the file holds is copied
 * in one snapshot and one transaction, the move is logged ("store.move",
 * the manage-backups action), then <dir>/store is written and the file
 * removed; the handle goes on, on PostgreSQL. Opened for writing (so no
 * other process writes meanwhile); stop readers such as a server first.
 * *people gets the people moved (decoys included). If the copy fails the
 * vault stays on its file. progress (may be NULL) is called after each
 * batch of people copied, with the total.
 */
SR_API SR_WARN_UNUSED sr_status
sr_vault_move_store(sr_vault *v, const char *conninfo,
                    void (*progress)(void *ctx, uint64_t done, uint64_t total),
                    void *progress_ctx, uint64_t *people);

/*
 * Rewrite the vault's SQLite file with its people grouped by retention
 * cluster: those who left in the same year together, under a keyed tag
 * of the year (docs/storage.md, "Compaction"). A retention run then reads
 * and deletes only the clusters that may be due, and everyone written
 * since. Every table is written in key order into a new file, which
 * takes the old one's place; the old file is overwritten with zeros, so
 * no stale copy of anything is left of it. "manage-backups"; logged as
 * store.compact. Opened for writing; stop readers such as a server first
 * (SR_ERR_LOCKED while one still reads the WAL). *people gets the people
 * written. SQLite only (SR_ERR_INVALID on PostgreSQL). progress (may be
 * NULL) hears the work done out of total (people read, then written).
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_compact(
    sr_vault *v, void (*progress)(void *ctx, uint64_t done, uint64_t total),
    void *progress_ctx, uint64_t *people);

typedef struct sr_restore_summary {
    uint64_t keys;     /* key lines read */
    uint64_t restored; /* people given their key back */
    uint64_t unknown;  /* keys of people not in the backup (added since) */
    uint64_t removed;  /* people left without a key (shredded since), now
                          deleted */
} sr_restore_summary;

/*
 * Give the people of a restored backup (sr_backup_copy, then opened
 * writable) their keys from keys_path (sr_vault_backup's or
 * sr_vault_backup_keys's file, of this vault), each checked by unwrapping
 * it; then delete everyone left without one: they were shredded after
 * the backup, and stay gone. One transaction; logged as backup.restore;
 * the write-ahead log emptied after. "manage-backups". SR_ERR_INVALID
 * naming the line for a bad key file, SR_ERR_CORRUPT for a key that does
 * not open.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_restore_keys(sr_vault *v,
                                                      const char *keys_path,
                                                      sr_restore_summary *out);

/* ---- the two-person rule (docs/policy.md, "Two-person rule") ----------- */

/* Room for an approval id (16 hex digits) with its NUL. */
#define SR_APPROVAL_ID_MAX 17
#define SR_DEFAULT_APPROVAL_TTL (4u * 3600u)
#define SR_MAX_APPROVAL_TTL (7u * 24u * 3600u)

/* A notification (sr_vault_notify_read) reads these classes, under this
 * purpose, of at most this many people. */
#define SR_NOTIFY_CLASSES                                                      \
    (SR_CLASS_BIT(SR_CLASS_NAME) | SR_CLASS_BIT(SR_CLASS_CONTACT))
#define SR_NOTIFY_PURPOSE "incident-response"
#define SR_NOTIFY_PEOPLE_MAX 100000000u

/* A share (sr_vault_share_read) reads at most this many people, and
 * names its fields in at most this many bytes. */
#define SR_SHARE_PEOPLE_MAX 100u
#define SR_SHARE_FIELDS_MAX 255u

/* What a request for approval binds: the action ("export"; "find.name"
 * for a search by family name and birth date that may match more people
 * than the policy's bulk_threshold; "notify" for the letters to the
 * people of a breach report; "share" for named fields of named people
 * sent to a partner, as a hotline referral), its purpose, case and
 * classes, the search's terms or the people (and a share's fields)
 * (bound by a keyed digest, never stored), and how long the approval may
 * be used. */
typedef struct sr_approval_spec {
    const char *action;
    const char *purpose;
    const char *case_id;      /* NULL for none */
    unsigned classes;         /* export: SR_CLASS_BIT mask, 0: the role's;
                                 notify: SR_NOTIFY_CLASSES */
    const char *family, *dob; /* find.name only */
    const uint8_t (*people)[SR_ID_BYTES]; /* notify, share: in any order */
    size_t npeople;
    uint64_t ttl;       /* seconds; 0: SR_DEFAULT_APPROVAL_TTL */
    const char *fields; /* share only: "name,birth.date" (the classes are
                           those of the fields; leave classes 0) */
} sr_approval_spec;

/*
 * Ask for a second person's approval of spec, as the authenticated
 * principal, who must itself be allowed the action for that purpose and
 * case. *id gets the approval's id. Logged as approval.request. Needs a
 * writable handle. Errors: SR_ERR_INVALID (a bad spec, with the reason),
 * SR_ERR_DENIED (the policy's rule), SR_ERR_AUDIT.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_approval_request(
    sr_vault *v, const sr_approval_spec *spec, char id[SR_APPROVAL_ID_MAX]);

/*
 * Approve request id (the "approve" action: the security officer's by
 * default), as a different principal from the one who asked: denied by
 * rule approval.self otherwise. Logged as approval.approve. Errors:
 * SR_ERR_NOT_FOUND, SR_ERR_EXISTS (approved already), SR_ERR_INVALID
 * (expired), SR_ERR_DENIED, SR_ERR_AUDIT.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_approval_approve(sr_vault *v,
                                                          const char *id);

/* Every approval, one JSON line each: {"id","requester","action",
 * "purpose","case","classes","people","created","expires","approved_by",
 * "approved_at"} (the "approve" action; logged as approval.list). */
SR_API SR_WARN_UNUSED sr_status sr_vault_approval_list(sr_vault *v,
                                                       sr_line_fn fn,
                                                       void *ctx);

/*
 * Notification (docs/breach.md): the name and contact classes of the
 * people ids[0..n), for the letters that tell them of a breach. Needs the
 * "get" action with purpose SR_NOTIFY_PURPOSE and an approved "notify"
 * approval (acc->approval) bound to exactly these people (in any order),
 * and is not charged to the read budget. People whose skip[i] is set
 * (NULL: none) are not read: a resumed run. Each group of up to 256
 * people read is logged (action "notify", detail "approval <id>") before
 * fn gets one JSON line per person, in the order of ids: the person with
 * "name" and the contact members, or {"id","gone":true} for one shredded
 * since, or a decoy. Errors: SR_ERR_INVALID, SR_ERR_DENIED, SR_ERR_AUDIT,
 * the store's, or fn's status.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_notify_read(
    sr_vault *v, const sr_access *acc, const uint8_t (*ids)[SR_ID_BYTES],
    size_t n, const bool *skip, sr_line_fn fn, void *ctx);

/*
 * Share (docs/hotline.md, "Personal data in a referral"): the named
 * fields (a list as sr_approval_spec's fields, e.g. "name,birth.date") of
 * the people ids[0..n) (at most SR_SHARE_PEOPLE_MAX), for a referral to a
 * partner. Needs the "get" action for the fields' classes, under
 * acc->purpose and acc->case, for each person (a caseload role: each on
 * the case), and an approved "share" approval (acc->approval) bound to
 * exactly these people, fields, purpose and case. Charged to the read
 * budget; a decoy among them freezes the principal, as a get does. The
 * read is logged (action "share", the people by reference, detail
 * "approval <id>, fields <list>") before fn gets one JSON line per
 * person, in the order of ids, holding only those fields: no id, nothing
 * else. A person not found fails the whole share (SR_ERR_NOT_FOUND naming
 * it), and nothing is revealed. Errors: SR_ERR_INVALID, SR_ERR_DENIED,
 * SR_ERR_NOT_FOUND, SR_ERR_AUDIT, the store's, or fn's status.
 */
/* A list of fields (as sr_vault_share_read takes) in canonical form:
 * schema order, each once, a whole member standing for its members
 * ("birth.date, name" -> "name,birth.date"). SR_ERR_INVALID if one is
 * not a field. */
SR_API SR_WARN_UNUSED sr_status
sr_fields_canonical(const char *list, char out[SR_SHARE_FIELDS_MAX + 1]);

SR_API SR_WARN_UNUSED sr_status sr_vault_share_read(
    sr_vault *v, const sr_access *acc, const uint8_t (*ids)[SR_ID_BYTES],
    size_t n, const char *fields, sr_line_fn fn, void *ctx);

/*
 * The decoy people (the "freeze" action: the security officer's by
 * default; logged as decoy.list): one JSON line {"id","created"} each.
 * Decoys are stored exactly as people are; reading one, or a search that
 * returns one, freezes the principal (rule decoy.read) and raises an
 * alert. They are never exported, nor counted in sr_vault_stats_get.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_decoy_list(sr_vault *v, sr_line_fn fn,
                                                    void *ctx);

/* One JSON line per principal: {"name","role","kind","disabled","frozen",
 * "created"}, and "frozen_reason" while frozen. */
SR_API SR_WARN_UNUSED sr_status sr_vault_user_list(sr_vault *v, sr_line_fn fn,
                                                   void *ctx);

/*
 * Create an API token for principal `name`, valid ttl seconds (0 =
 * SR_DEFAULT_TOKEN_TTL) and for the actions in scope (a comma-separated
 * list of policy actions; NULL or "" = every action of the role). The
 * token is written to token (shown once) and its id to token_id. The
 * administrator may create tokens for anyone; a principal for itself.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_token_create(
    sr_vault *v, const char *name, uint64_t ttl, const char *scope,
    char token[SR_TOKEN_MAX], char token_id[SR_TOKEN_ID_MAX]);
/* Revoke a token by its id (or by the whole token). */
SR_API SR_WARN_UNUSED sr_status sr_vault_token_revoke(sr_vault *v,
                                                      const char *token_id);
/* Sign out: revoke the token this handle authenticated with (any
 * principal may revoke its own), logged as logout; the handle is no
 * longer authenticated. SR_ERR_AUTH when not signed in, SR_ERR_INVALID
 * for a client certificate's service account. Needs a writable handle. */
SR_API SR_WARN_UNUSED sr_status sr_vault_logout(sr_vault *v);
/* One JSON line per token: {"id","principal","scope","created",
 * "expires","revoked"}; never the secret or its hash. */
SR_API SR_WARN_UNUSED sr_status sr_vault_token_list(sr_vault *v, sr_line_fn fn,
                                                    void *ctx);

/*
 * Sign in with a principal's passphrase: on success the handle is
 * authenticated and a token valid ttl seconds is written to token.
 * SR_ERR_AUTH for a wrong name or passphrase (not said which).
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_login(sr_vault *v, const char *name,
                                               const char *pass,
                                               size_t pass_len, uint64_t ttl,
                                               char token[SR_TOKEN_MAX]);

/* How many principals there are, by kind, and how many are disabled:
 * numbers only, for monitoring (no authentication needed). */
typedef struct sr_principal_counts {
    uint64_t users;
    uint64_t services;
    uint64_t disabled;
    uint64_t frozen;
} sr_principal_counts;
SR_API SR_WARN_UNUSED sr_status
sr_vault_principal_counts(sr_vault *v, sr_principal_counts *out);

/* Cases: open one, assign it to a principal, put a person on it. */
SR_API SR_WARN_UNUSED sr_status sr_vault_case_open(sr_vault *v,
                                                   const char *case_id);
SR_API SR_WARN_UNUSED sr_status sr_vault_case_assign(sr_vault *v,
                                                     const char *case_id,
                                                     const char *name);
SR_API SR_WARN_UNUSED sr_status sr_vault_case_add_person(sr_vault *v,
                                                         const char *case_id,
                                                         const char *person_id);
/* One JSON line per case: {"case","assigned":[...],"people":N}. */
SR_API SR_WARN_UNUSED sr_status sr_vault_case_list(sr_vault *v, sr_line_fn fn,
                                                   void *ctx);

/*
 * Replace the policy with the JSON document json (docs/policy.md). It is
 * validated first (the message names the line or the field and the
 * rule), stored as a new version, and logged with its hash. *version gets
 * the new version number (may be NULL).
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_policy_set(sr_vault *v,
                                                    const char *json,
                                                    size_t len,
                                                    uint32_t *version);
/* The current policy in canonical JSON (free with free()) and its
 * version. */
SR_API SR_WARN_UNUSED sr_status sr_vault_policy_get(sr_vault *v, char **json,
                                                    uint32_t *version);

/* The built-in default policy (docs/policy.default.json). */
SR_API const char *sr_policy_default(void);

/* ---- the audit log ----------------------------------------------------------
 * Entries are leaves of an RFC 9162 Merkle tree stored as C2SP tlog-tiles
 * in <vault>/log/ (docs/audit.md); strongroom/audit.h verifies a log with
 * no vault key at all. */

/*
 * Integrate every logged entry into the tiles and sign a checkpoint now
 * (one is also made when a handle closes). *note gets the signed
 * checkpoint text (free with free()), *size its tree size. Needs no
 * authentication: checkpoints are public, and signing one reveals and
 * changes nothing but the public log.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_audit_checkpoint(sr_vault *v,
                                                          char **note,
                                                          uint64_t *size);

/* Room for the log's verifier key text (a signed-note key: name, "+", 8
 * hex digits, "+", base64 of 33 bytes) with its NUL. */
#define SR_LOG_VKEY_MAX 512

/* The verifier key of the log's checkpoints (<vault>/log.vkey, without
 * its newline): public, as the checkpoints are; a relying party should
 * still get it from a channel it trusts. */
SR_API SR_WARN_UNUSED sr_status sr_vault_log_vkey(sr_vault *v,
                                                  char out[SR_LOG_VKEY_MAX]);

/*
 * Proofs, as one JSON line each to fn: an inclusion proof of entry index
 * in the tree of size (0: the latest checkpoint's), with the leaf hash and
 * root, or a consistency proof between sizes m and n (0: latest). Hashes
 * are base64. Each proof is verified before it is handed out.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_audit_inclusion(
    sr_vault *v, uint64_t index, uint64_t size, sr_line_fn fn, void *ctx);
SR_API SR_WARN_UNUSED sr_status sr_vault_audit_consistency(
    sr_vault *v, uint64_t m, uint64_t n, sr_line_fn fn, void *ctx);

/* Which entries sr_vault_audit_show prints; NULL/0 fields match all. */
typedef struct sr_audit_filter {
    const char *principal;
    const char *person_id; /* 32 hex digits: entries naming this person */
    const char *purpose;
    const char *action;
    const char *case_id;
    uint64_t since_ns; /* Unix nanoseconds, inclusive */
    uint64_t until_ns; /* exclusive; 0 = no bound */
    uint64_t from_index;
    int denied_only;
} sr_audit_filter;

/*
 * Print the log's entries, decoded, one JSON line each (needs the audit
 * action: the auditor role). People appear as their references; an
 * auditor finds a person's entries with person_id, or resolves a
 * reference with sr_vault_audit_resolve. The query itself is logged.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_audit_show(sr_vault *v,
                                                    const sr_audit_filter *f,
                                                    sr_line_fn fn, void *ctx);

/* What a breach report covers: the entries of a principal, of a token
 * (its id), or of everyone in a time window, or any combination (at
 * least one). Times are Unix nanoseconds, until exclusive; 0 = open. */
typedef struct sr_breach_query {
    const char *principal;
    const char *token;
    uint64_t since_ns, until_ns;
} sr_breach_query;

/*
 * The breach report (the "audit" action; logged as breach.report): from
 * the audit log alone, after verifying the whole log against the vault's
 * log key (SR_ERR_AUDIT, naming the fault, if it fails), the people whose
 * data the matching entries revealed, which field classes, when and to
 * whom, and the attempts that were denied. One JSON object per line:
 *   {"kind":"summary", ...}   first: the query, the log verified, counts
 *                             (reads, people, per class, per principal,
 *                             denials, decoys touched) and a timeline of
 *                             reads in up to 96 buckets;
 *   {"kind":"person"|"decoy", "id" (or "ref" when the person is no longer
 *    stored), "classes", "first", "last", "reads", "principals"};
 *   {"kind":"denial", "index", "time", "principal", "action", "rule",
 *    "people"} (at most 100,000; the summary counts them all).
 * A search reveals a match's id and name only; a get or an export the
 * classes it names. Memory grows with the people revealed, not with the
 * log.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_breach_report(sr_vault *v,
                                                       const sr_breach_query *q,
                                                       sr_line_fn fn,
                                                       void *ctx);

/* The person id behind a reference (32 hex digits), by trying every
 * stored person; SR_ERR_NOT_FOUND if none (shredded, or never stored). */
SR_API SR_WARN_UNUSED sr_status sr_vault_audit_resolve(
    sr_vault *v, const char *ref, char id_out[SR_ID_STR_LEN + 1]);

/* How the audit log has been doing in this process: entries in the log
 * (integrated or not), journal syncs, and how long appending calls and
 * syncs took. Needs no authentication: it holds no entry's content. */
typedef struct sr_audit_stats {
    uint64_t entries;
    uint64_t batches;
    sr_latency append;
    sr_latency sync;
} sr_audit_stats;
SR_API SR_WARN_UNUSED sr_status sr_vault_audit_stats(sr_vault *v,
                                                     sr_audit_stats *out);

/* ---- witnesses ----------------------------------------------------------
 * The witnesses whose cosignatures the vault's latest checkpoint must
 * carry (strongroom/witness.h runs a witness). Each call needs the
 * manage-policy action and is logged; a change's entry (witness.add,
 * witness.remove, witness.require) records the SHA-256 of the resulting
 * configuration, which is then published as <vault>/log/witnesses ("min
 * K", then one verifier key a line, in name order) for keyless verifiers:
 * sr_log_verify with use_witness_file enforces it and fails if the file
 * is not the one the log last recorded. Publishing follows the commit; if
 * it fails the call returns the error (the change stands: repeat
 * sr_vault_witness_require to publish). At most SR_LOG_WITNESS_MAX
 * witnesses. Names follow the principal name rules. */

/*
 * Add (or, for a name already present, replace) the witness `name` with
 * its verifier key vkey_text (the cosignature/v1 key text, type 0x04, that
 * sr_witness_init returns; one trailing newline allowed). Errors:
 * SR_ERR_INVALID (bad name, not a cosignature/v1 key, read-only handle,
 * already SR_LOG_WITNESS_MAX witnesses), SR_ERR_EXISTS (that key is
 * configured under another name: a witness counts once), SR_ERR_DENIED,
 * SR_ERR_AUDIT, SR_ERR_IO.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_witness_add(sr_vault *v,
                                                     const char *name,
                                                     const char *vkey_text);

/* Remove the witness `name`. Errors: SR_ERR_NOT_FOUND, SR_ERR_INVALID
 * (fewer witnesses would be left than cosignatures required: lower the
 * requirement first), SR_ERR_DENIED, SR_ERR_AUDIT, SR_ERR_IO. */
SR_API SR_WARN_UNUSED sr_status sr_vault_witness_remove(sr_vault *v,
                                                        const char *name);

/* Require k valid cosignatures by distinct configured witnesses on the
 * latest checkpoint (0: none). Errors: SR_ERR_INVALID (k larger than the
 * number of witnesses, or than SR_LOG_WITNESS_MAX), SR_ERR_DENIED,
 * SR_ERR_AUDIT, SR_ERR_IO. Repeating a call republishes the file. */
SR_API SR_WARN_UNUSED sr_status sr_vault_witness_require(sr_vault *v,
                                                         unsigned k);

/* The configuration: *min_cosignatures (may be NULL) gets the required
 * count, and fn one JSON line per witness, in name order:
 * {"name","vkey","added"} (added: Unix seconds). */
SR_API SR_WARN_UNUSED sr_status sr_vault_witness_list(
    sr_vault *v, unsigned *min_cosignatures, sr_line_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
