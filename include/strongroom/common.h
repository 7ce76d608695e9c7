/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/common.h - what every Strongroom header shares: the status
 * codes, the field classes, the export and result-checking macros.
 *
 * Every fallible function in the library returns an sr_status, SR_OK (0) on
 * success; results come back through out-parameters, and a readable message
 * is kept on the handle the call was made on.
 */
#ifndef STRONGROOM_COMMON_H
#define STRONGROOM_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SR_API __attribute__((visibility("default")))
#define SR_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define SR_API
#define SR_WARN_UNUSED
#endif

/* One status enum for the whole library. Keep the values stable: the CLI
 * derives its exit codes from them (docs/cli.md). */
typedef enum sr_status {
    SR_OK = 0,
    SR_ERR_INVALID = 1,    /* bad input: JSON, CSV, a field, an argument */
    SR_ERR_NOT_FOUND = 2,  /* no such person, file or key */
    SR_ERR_DUPLICATE = 3,  /* the SSN is already stored for another person */
    SR_ERR_AUTH = 4,       /* wrong passphrase, or a bad, expired or
                              revoked token */
    SR_ERR_CORRUPT = 5,    /* authentication tag failed, format damaged */
    SR_ERR_LOCKED = 6,     /* the vault is open for writing elsewhere */
    SR_ERR_FULL = 7,       /* no space left on the device */
    SR_ERR_IO = 8,         /* an operating-system or database I/O error */
    SR_ERR_NOMEM = 9,      /* out of memory */
    SR_ERR_VERSION = 10,   /* a format or schema version we do not know */
    SR_ERR_EXISTS = 11,    /* a vault already exists there */
    SR_ERR_NOT_VAULT = 12, /* not a Strongroom vault or database */
    SR_ERR_CONFLICT = 13,  /* the record changed under an update */
    SR_ERR_INTERNAL = 14,  /* a bug: please report it */
    SR_ERR_DENIED = 15,    /* the policy refused it (the message names the
                              rule) */
    SR_ERR_AUDIT = 16      /* the audit log cannot be written or fails
                              verification: nothing is revealed */
} sr_status;

/* A short, stable English name for a status ("invalid input", ...). */
SR_API const char *sr_status_str(sr_status s);

/* The field classes. Each class of a person is sealed separately, so a
 * policy can release one without decrypting the others. */
typedef enum sr_class {
    SR_CLASS_IDENTITY = 0,      /* ssn, birth, sex, citizenship */
    SR_CLASS_NAME = 1,          /* name, former_names */
    SR_CLASS_CONTACT = 2,       /* addresses, phones, emails */
    SR_CLASS_EMPLOYMENT = 3,    /* employment */
    SR_CLASS_INVESTIGATION = 4, /* investigations */
    SR_CLASS_BIOMETRIC = 5,     /* fingerprints */
    SR_CLASS_COUNT = 6
} sr_class;

#define SR_CLASS_BIT(c) (1u << (unsigned)(c))
#define SR_CLASS_ALL ((1u << SR_CLASS_COUNT) - 1u)

/* "identity", "name", ... ; NULL for an out-of-range class. */
SR_API const char *sr_class_name(sr_class c);

/* Parse a class name; returns SR_ERR_INVALID for an unknown one. */
SR_API SR_WARN_UNUSED sr_status sr_class_parse(const char *name, sr_class *out);

/* A person id is 16 random bytes, written as 32 lowercase hex digits. */
#define SR_ID_BYTES 16
#define SR_ID_STR_LEN 32

/*
 * A latency histogram: how many observations fell at or below each bound
 * (sr_latency_bound_ns(0) .. (SR_LATENCY_BUCKETS - 1), from 50 us to 5 s;
 * counts per bucket, not cumulative), above the last bound (over), their
 * number and their sum. The library keeps some (the audit log's append
 * and sync times); a server may keep its own with the same calls.
 */
#define SR_LATENCY_BUCKETS 16
typedef struct sr_latency {
    uint64_t bucket[SR_LATENCY_BUCKETS];
    uint64_t over;
    uint64_t count;
    uint64_t sum_ns;
} sr_latency;

/* The upper bound of bucket i in nanoseconds (0 past the last bucket). */
SR_API uint64_t sr_latency_bound_ns(unsigned i);
/* Count one observation of ns nanoseconds; safe from many threads at once
 * (each field is added to atomically). */
SR_API void sr_latency_observe(sr_latency *h, uint64_t ns);
/* Copy h field by field with atomic loads (the fields may be read while
 * other threads observe, so the copy is close to, not exactly, one
 * instant). */
SR_API void sr_latency_read(const sr_latency *h, sr_latency *out);
/* Monotonic nanoseconds, for timing what to observe. */
SR_API uint64_t sr_clock_ns(void);

#ifdef __cplusplus
}
#endif
#endif
