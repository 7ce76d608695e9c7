/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/benchutil.c - the bounded line reader, the shared lookup sample,
 * the clock and percentiles used by every benchmark program
 * (benchutil.h).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "benchutil.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READ_CHUNK ((size_t)1 << 20)

bool bench_reader_open(bench_reader *r, const char *path, size_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
    r->f = fopen(path, "rb");
    if (r->f == NULL) {
        fprintf(stderr, "bench: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    r->cap = READ_CHUNK < max + 1 ? READ_CHUNK : max + 1;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return false;
    }
    return true;
}

void bench_reader_close(bench_reader *r)
{
    if (r->f != NULL)
        (void)fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* Move the unread tail to the front and read more; grow the buffer (up to
 * max + 1) only when a single line fills it. Returns -1 on error. */
static int fill(bench_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        if (r->cap >= r->max + 1) {
            fprintf(stderr, "bench: line %llu is longer than %zu bytes\n",
                    (unsigned long long)r->line_no + 1, r->max);
            return -1;
        }
        size_t ncap = r->cap * 2 < r->max + 1 ? r->cap * 2 : r->max + 1;
        char *nb = realloc(r->buf, ncap);
        if (nb == NULL) {
            fprintf(stderr, "bench: out of memory\n");
            return -1;
        }
        r->buf = nb;
        r->cap = ncap;
    }
    size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
    if (got == 0) {
        if (ferror(r->f)) {
            fprintf(stderr, "bench: read error: %s\n", strerror(errno));
            return -1;
        }
        r->eof = true;
    }
    r->end += got;
    return 0;
}

int bench_reader_next(bench_reader *r, char **line, size_t *len)
{
    size_t scanned = 0; /* bytes of the pending line already searched */
    for (;;) {
        char *base = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = memchr(base + scanned, '\n', avail - scanned);
        if (nl != NULL) {
            size_t n = (size_t)(nl - base);
            if (n > r->max) {
                fprintf(stderr, "bench: line %llu is longer than %zu bytes\n",
                        (unsigned long long)r->line_no + 1, r->max);
                return -1;
            }
            *nl = '\0';
            r->start += n + 1;
            r->line_no++;
            *line = base;
            *len = n;
            return 1;
        }
        scanned = avail;
        if (r->eof) {
            if (avail == 0)
                return 0;
            /* A last line without a newline: terminate it in place. */
            if (r->end == r->cap && fill(r) != 0)
                return -1;
            base = r->buf + r->start;
            base[avail] = '\0';
            r->start = r->end;
            r->line_no++;
            *line = base;
            *len = avail;
            return 1;
        }
        if (fill(r) != 0)
            return -1;
    }
}

/* Copy a string member at a JSON path into dst; false if absent or too
 * long. */
static bool copy_str(char *dst, size_t cap, json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL)
        return false;
    size_t n = strlen(s);
    if (n + 1 > cap)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

bool bench_load_samples(const char *path, size_t n, bench_sample **out,
                        size_t *got)
{
    bench_reader r;
    bench_sample *s = NULL;
    bool ok = false;
    char *line;
    size_t len;
    int rc;
    uint64_t lines = 0;

    *out = NULL;
    *got = 0;
    if (n == 0)
        return true;
    /* First pass: count the lines. */
    if (!bench_reader_open(&r, path, BENCH_MAX_LINE))
        goto cleanup;
    while ((rc = bench_reader_next(&r, &line, &len)) == 1)
        lines++;
    bench_reader_close(&r);
    if (rc < 0)
        goto cleanup;
    if (lines == 0) {
        fprintf(stderr, "bench: %s is empty\n", path);
        goto cleanup;
    }
    if (n > lines)
        n = (size_t)lines;
    uint64_t k = lines / n;
    if (k == 0)
        k = 1;
    s = calloc(n, sizeof *s);
    if (s == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        goto cleanup;
    }
    /* Second pass: parse only the sampled lines. */
    if (!bench_reader_open(&r, path, BENCH_MAX_LINE))
        goto cleanup;
    size_t have = 0;
    uint64_t next = k / 2;
    for (uint64_t i = 0; have < n; i++) {
        rc = bench_reader_next(&r, &line, &len);
        if (rc <= 0)
            break;
        if (i != next)
            continue;
        json_error_t err;
        json_t *p = json_loadb(line, len, 0, &err);
        bool good =
            p != NULL &&
            copy_str(s[have].ssn, sizeof s[have].ssn,
                     json_object_get(p, "ssn")) &&
            copy_str(s[have].family, sizeof s[have].family,
                     json_object_get(json_object_get(p, "name"), "family")) &&
            copy_str(s[have].dob, sizeof s[have].dob,
                     json_object_get(json_object_get(p, "birth"), "date"));
        json_decref(p);
        if (!good) {
            fprintf(stderr,
                    "bench: line %llu: not a person with ssn, "
                    "name.family and birth.date\n",
                    (unsigned long long)i + 1);
            rc = -1;
            break;
        }
        have++;
        next += k;
    }
    bench_reader_close(&r);
    if (rc < 0 || have != n) {
        if (rc >= 0)
            fprintf(stderr, "bench: %s changed while sampling\n", path);
        goto cleanup;
    }
    *out = s;
    *got = n;
    s = NULL;
    ok = true;
cleanup:
    free(s);
    return ok;
}

/* The members of p named in keys, as one compact JSON object; NULL when
 * none is present (the column is then NULL). *fail is set on error. */
static char *dump_members(json_t *p, const char *const *keys, bool *fail)
{
    json_t *o = json_object();
    char *s = NULL;
    if (o == NULL) {
        *fail = true;
        return NULL;
    }
    for (size_t i = 0; keys[i] != NULL; i++) {
        json_t *v = json_object_get(p, keys[i]);
        if (v != NULL && json_object_set(o, keys[i], v) != 0) {
            *fail = true;
            goto cleanup;
        }
    }
    if (json_object_size(o) > 0) {
        s = json_dumps(o, JSON_COMPACT);
        if (s == NULL)
            *fail = true;
    }
cleanup:
    json_decref(o);
    return s;
}

/* One member as compact JSON; NULL when absent. */
static char *dump_member(json_t *p, const char *key, bool *fail)
{
    json_t *v = json_object_get(p, key);
    if (v == NULL)
        return NULL;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        *fail = true;
    return s;
}

int bench_person_parse(const char *line, size_t len, bench_person *p)
{
    static const char *const identity_keys[] = {"birth", "sex", "citizenship",
                                                NULL};
    static const char *const name_keys[] = {"name", "former_names", NULL};
    static const char *const contact_keys[] = {"addresses", "phones", "emails",
                                               NULL};
    json_error_t err;
    bool fail = false;

    memset(p, 0, sizeof *p);
    json_t *d = json_loadb(line, len, 0, &err);
    p->doc = d;
    if (d == NULL || !json_is_object(d))
        return 0;
    p->ssn = json_string_value(json_object_get(d, "ssn"));
    if (p->ssn == NULL)
        return 0;
    json_t *name = json_object_get(d, "name");
    p->given = json_string_value(json_object_get(name, "given"));
    p->family = json_string_value(json_object_get(name, "family"));
    p->dob =
        json_string_value(json_object_get(json_object_get(d, "birth"), "date"));
    p->col[0] = dump_members(d, identity_keys, &fail);
    p->col[1] = dump_members(d, name_keys, &fail);
    p->col[2] = dump_members(d, contact_keys, &fail);
    p->col[3] = dump_member(d, "employment", &fail);
    p->col[4] = dump_member(d, "investigations", &fail);
    p->col[5] = dump_member(d, "fingerprints", &fail);
    if (fail) {
        fprintf(stderr, "bench: out of memory\n");
        return -1;
    }
    return 1;
}

void bench_person_free(bench_person *p)
{
    for (int i = 0; i < BENCH_CLASSES; i++)
        free(p->col[i]);
    json_decref(p->doc);
    memset(p, 0, sizeof *p);
}

double bench_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0.0; /* CLOCK_MONOTONIC always exists on Linux */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    double rank = p / 100.0 * (double)n;
    size_t i = (size_t)rank;
    if ((double)i < rank)
        i++; /* ceil */
    if (i == 0)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1];
}

bool bench_parse_count(const char *s, size_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

#define BENCH_CLIENTS_MAX 64u

bool bench_clients_wanted(unsigned *k)
{
    const char *e = getenv("BENCH_CLIENTS");
    size_t v = 1;
    if (e != NULL && *e != '\0' &&
        (!bench_parse_count(e, &v) || v > BENCH_CLIENTS_MAX)) {
        fprintf(stderr, "bench: BENCH_CLIENTS is a count from 1 to %u\n",
                BENCH_CLIENTS_MAX);
        return false;
    }
    *k = (unsigned)v;
    return true;
}

typedef struct client {
    pthread_t thread;
    const bench_client_ops *ops;
    void *state;
    unsigned t, k;
    size_t n;
    bool ok;
} client;

/* Every thread opens its state before any call is made; the clock runs
 * from the barrier to the last thread's end. */
static pthread_barrier_t start;

static void *client_run(void *arg)
{
    client *c = arg;
    bool ready = c->state != NULL;
    (void)pthread_barrier_wait(&start);
    for (size_t i = c->t; ready && c->ok && i < c->n; i += c->k)
        c->ok = c->ops->one(c->state, i);
    return NULL;
}

bool bench_clients(unsigned k, size_t n, const bench_client_ops *ops, void *ctx,
                   double *seconds)
{
    client *c = calloc(k, sizeof *c);
    bool ok = c != NULL && pthread_barrier_init(&start, NULL, k + 1) == 0;
    if (!ok) {
        free(c);
        fprintf(stderr, "bench: cannot start %u clients\n", k);
        return false;
    }
    for (unsigned t = 0; t < k; t++) {
        c[t] = (client){.ops = ops, .t = t, .k = k, .n = n, .ok = true};
        c[t].state = ops->open(ctx);
        ok = ok && c[t].state != NULL;
    }
    for (unsigned t = 0; t < k; t++)
        if (pthread_create(&c[t].thread, NULL, client_run, &c[t]) != 0) {
            /* The barrier would wait for it forever. */
            fprintf(stderr, "bench: cannot start client %u\n", t);
            exit(1);
        }
    (void)pthread_barrier_wait(&start);
    double t0 = bench_now();
    for (unsigned t = 0; t < k; t++) {
        (void)pthread_join(c[t].thread, NULL);
        ok = ok && c[t].ok;
    }
    *seconds = bench_now() - t0;
    for (unsigned t = 0; t < k; t++)
        if (c[t].state != NULL)
            ops->close(c[t].state);
    (void)pthread_barrier_destroy(&start);
    free(c);
    return ok;
}

bool bench_lookups(const char *engine, unsigned k, size_t n,
                   const bench_client_ops *ops, bench_phase *ph)
{
    double *t_ssn = calloc(n, sizeof *t_ssn);
    double *t_name = calloc(n, sizeof *t_name);
    double secs_ssn = 0, secs_name = 0;
    bool ok = t_ssn != NULL && t_name != NULL;
    if (!ok)
        fprintf(stderr, "bench: out of memory\n");
    ph->t = t_ssn;
    ph->by_name = false;
    ok = ok && bench_clients(k, n, ops, ph, &secs_ssn);
    ph->t = t_name;
    ph->by_name = true;
    ok = ok && bench_clients(k, n, ops, ph, &secs_name);
    if (ok)
        printf("engine=%s samples=%zu clients=%u ssn_p50_us=%.1f "
               "ssn_p99_us=%.1f name_p50_us=%.1f name_p99_us=%.1f "
               "ssn_per_s=%.0f name_per_s=%.0f sink=%zu\n",
               engine, n, k, bench_percentile(t_ssn, n, 50),
               bench_percentile(t_ssn, n, 99), bench_percentile(t_name, n, 50),
               bench_percentile(t_name, n, 99), (double)n / secs_ssn,
               (double)n / secs_name, ph->sink % 10);
    ph->t = NULL;
    free(t_ssn);
    free(t_name);
    return ok;
}
