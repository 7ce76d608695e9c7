/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/benchutil.h - what the benchmark programs share: a bounded JSONL
 * line reader, the deterministic sample of people that every lookup run
 * uses (so Strongroom, plain SQLite and SQLCipher answer the same
 * questions), a monotonic clock and percentiles.
 *
 * Benchmark code, not part of the library: it prints and exits freely.
 */
#ifndef STRONGROOM_BENCHUTIL_H
#define STRONGROOM_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The longest line we accept. A person within person.schema.json's
 * limits stays far below this; a longer line is an error, never a reason
 * to grow without bound. */
#define BENCH_MAX_LINE ((size_t)8 << 20)

typedef struct bench_reader {
    FILE *f;
    char *buf;
    size_t cap;   /* allocated; grows up to max + 1 */
    size_t max;   /* longest line accepted */
    size_t start; /* first unread byte */
    size_t end;   /* one past the last byte read from f */
    bool eof;
    uint64_t line_no; /* lines returned so far */
} bench_reader;

/* Open path for reading. Returns false (with a message on stderr) on
 * failure; r is then safe to pass to bench_reader_close. */
bool bench_reader_open(bench_reader *r, const char *path, size_t max);

/*
 * The next line without its newline, NUL-terminated, in r's buffer (valid
 * until the next call). Returns 1 for a line, 0 at the end of the file,
 * -1 on a read error or a line longer than max (message on stderr).
 */
int bench_reader_next(bench_reader *r, char **line, size_t *len);

void bench_reader_close(bench_reader *r);

/* One sampled person: what both lookups ask for. */
typedef struct bench_sample {
    char ssn[16];
    char family[260];
    char dob[16];
} bench_sample;

/*
 * Pick up to n people spread evenly over the file: with L lines and
 * k = max(1, L / n), lines k/2, k/2 + k, k/2 + 2k, ... (0-based), so the
 * sample covers early and late inserts alike and is the same for every
 * program given the same file and n. *out (free with free) gets the
 * samples, *got their number (n, or L if the file is shorter).
 */
bool bench_load_samples(const char *path, size_t n, bench_sample **out,
                        size_t *got);

/*
 * One person as the baselines store it: the SSN, given and family name and
 * birth date as plain strings (pointers into the parsed document, NULL
 * when absent), and one compact JSON text per field class, in this order:
 * identity (birth, sex, citizenship), name (name, former_names), contact
 * (addresses, phones, emails), employment, investigations, fingerprints
 * (NULL when the person has none of it).
 */
#define BENCH_CLASSES 6
typedef struct bench_person {
    const char *ssn, *given, *family, *dob;
    char *col[BENCH_CLASSES];
    void *doc; /* the parsed line (json_t), owned */
} bench_person;

/* Parse one JSONL line into *p. Returns 1 for a person with an SSN, 0 for
 * a line that is not one (to be counted as rejected), -1 when out of
 * memory (message on stderr). Free *p with bench_person_free in every
 * case. */
int bench_person_parse(const char *line, size_t len, bench_person *p);
void bench_person_free(bench_person *p);

/* Seconds on CLOCK_MONOTONIC. */
double bench_now(void);

/* Nearest-rank percentile (0 < p <= 100) of v[0..n-1]; sorts v. */
double bench_percentile(double *v, size_t n, double p);

/* Parse a positive decimal count (no sign, no junk). */
bool bench_parse_count(const char *s, size_t *out);

/*
 * Concurrent callers: k threads (BENCH_CLIENTS in the environment, 1 if
 * unset; bench_clients_wanted reads it, false with a message if it is not
 * a count of at most 64). Each thread makes its own state with open(ctx)
 * (NULL: it failed, having said why), then calls one(state, i) for the
 * samples i = t, t + k, t + 2k, ... of n (one records its own time in a
 * slot of its own: no locking needed), then close(state). Returns false if
 * any open or call failed; *seconds gets the wall time from the first
 * call to the last.
 */
typedef struct bench_client_ops {
    void *(*open)(void *ctx);
    bool (*one)(void *state, size_t i);
    void (*close)(void *state);
} bench_client_ops;
bool bench_clients_wanted(unsigned *k);
bool bench_clients(unsigned k, size_t n, const bench_client_ops *ops, void *ctx,
                   double *seconds);

/*
 * A lookup benchmark's two phases over the same n samples, by SSN and
 * then by family name and birth date, each by k clients (bench_clients
 * with ph as their ctx), and the one line bench/run and bench/pg read:
 * engine=E samples clients, p50/p99 of each phase (µs) and its searches
 * per second. ph is the start of the caller's context: the clients read
 * the samples, the phase's time array and by_name there, time each
 * search into t[i] and add what they consumed to sink. False (having
 * said why) if a phase failed.
 */
typedef struct bench_phase {
    const bench_sample *s;
    double *t;
    bool by_name;
    size_t sink;
} bench_phase;
bool bench_lookups(const char *engine, unsigned k, size_t n,
                   const bench_client_ops *ops, bench_phase *ph);

#endif
