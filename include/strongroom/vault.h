/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/vault.h - the vault facade: the one API the CLI and the server
 * call. A vault is a directory holding the sealed root key (vault.key), the
 * encrypted store (vault.db) and a writer lock.
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
} sr_init_options;

#define SR_DEFAULT_EXPECTED_PEOPLE 25000000u

/* Open modes for sr_vault_open. */
#define SR_OPEN_READ 0u
#define SR_OPEN_WRITE 1u

/*
 * Create a vault in dir (created if missing; must be empty or absent) and
 * open it for writing. The root key is random and stored only sealed under
 * the passphrase. Errors: SR_ERR_EXISTS, SR_ERR_INVALID (empty passphrase),
 * SR_ERR_IO. *out is always set (unless out of memory, then NULL) and must
 * be closed with sr_vault_close; read the message with sr_vault_errmsg.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_create(sr_vault **out, const char *dir,
                                                const char *pass,
                                                size_t pass_len,
                                                const sr_init_options *opt);

/*
 * Open an existing vault. flags is SR_OPEN_READ or SR_OPEN_WRITE; a writer
 * takes an exclusive lock and fails with SR_ERR_LOCKED while another process
 * holds it. Errors: SR_ERR_NOT_VAULT, SR_ERR_AUTH (wrong passphrase),
 * SR_ERR_CORRUPT, SR_ERR_VERSION, SR_ERR_LOCKED, SR_ERR_IO. *out as above.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_open(sr_vault **out, const char *dir,
                                              const char *pass, size_t pass_len,
                                              unsigned flags);

/* Close, wiping all keys. Accepts NULL. */
SR_API void sr_vault_close(sr_vault *v);

/* The message of the last failed call on v (never an identifier). */
SR_API const char *sr_vault_errmsg(const sr_vault *v);

/* Free a buffer of plaintext the library returned; wipes it first. */
SR_API void sr_secret_free(char *p);

/*
 * Store one person given in the exchange form (person.schema.json). Writes
 * the new id (32 hex digits and a NUL) to id_out. Errors: SR_ERR_INVALID
 * (the message names the JSON path and the rule), SR_ERR_DUPLICATE (SSN
 * already stored), SR_ERR_FULL, SR_ERR_IO.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_put(sr_vault *v, const char *json,
                                             size_t len,
                                             char id_out[SR_ID_STR_LEN + 1]);

/*
 * Read one person back in the exchange form, with only the classes in
 * class_mask (SR_CLASS_BIT(...) | ...; "id" is always present). The JSON is
 * one compact line in *json_out, freed with sr_secret_free. Errors:
 * SR_ERR_NOT_FOUND, SR_ERR_CORRUPT (a ciphertext was edited, moved or
 * replayed; the message names the person id), SR_ERR_INVALID (bad id).
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_get(sr_vault *v, const char *id,
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
SR_API SR_WARN_UNUSED sr_status sr_vault_find_ssn(sr_vault *v, const char *ssn,
                                                  sr_line_fn fn, void *ctx,
                                                  size_t *count);
SR_API SR_WARN_UNUSED sr_status sr_vault_find_name_dob(sr_vault *v,
                                                       const char *family,
                                                       const char *dob,
                                                       sr_line_fn fn, void *ctx,
                                                       size_t *count);

/*
 * Apply a JSON merge patch (RFC 7386) to one person. The result must be a
 * valid person; "id" cannot change. The record version goes up by one.
 * Errors: SR_ERR_NOT_FOUND, SR_ERR_INVALID, SR_ERR_DUPLICATE, SR_ERR_CORRUPT.
 */
SR_API SR_WARN_UNUSED sr_status sr_vault_update(sr_vault *v, const char *id,
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
SR_API SR_WARN_UNUSED sr_status sr_vault_import(sr_vault *v, const char *path,
                                                const sr_import_options *opt,
                                                sr_import_summary *summary);

/* Export every person in the exchange form, one line each, to fn. */
SR_API SR_WARN_UNUSED sr_status sr_vault_export(sr_vault *v, sr_line_fn fn,
                                                void *ctx, uint64_t *count);

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

#ifdef __cplusplus
}
#endif
#endif
