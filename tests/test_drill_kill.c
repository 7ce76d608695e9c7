/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_drill_kill.c - the kill -9 drill for log-then-reveal (threat 5,
 * docs/audit.md "Log-then-reveal"): kill a process in the middle of heavy
 * concurrent reads, again and again, and show that every read whose
 * plaintext the caller got before the kill has its audit entry after the
 * restart, and that the log still verifies.
 *
 * Once: a vault of PEOPLE people, an "intake" service that stored them, a
 * "clerk" (hr-clerk) who reads them and an "auditor". Then, ITERATIONS
 * times (SR_DRILL_ITERATIONS, default 50):
 *
 *   1. fork a reader process: THREADS threads, each with its own handle
 *      authenticated as the clerk, call sr_vault_get on random people in a
 *      loop; after each call RETURNS (the plaintext is in the caller's
 *      hands) the thread writes (sr_vault_last_entry, person id) as one
 *      fixed-size record (atomic: under PIPE_BUF) to a pipe;
 *   2. the test reads the pipe for a random 20-300 ms from the first
 *      record, SIGKILLs the reader, and drains what was already written;
 *   3. a fresh checker process (the audit log registry is per process, so
 *      nothing of the reader's state can help it) opens the vault - this
 *      must succeed, a torn journal tail being dropped - checkpoints, and
 *      through the auditor's own query (sr_vault_audit_show) finds, at
 *      every reported index, a "get" by the clerk, allowed, naming exactly
 *      that person (its keyed reference, computed here from the vault's
 *      keyring); then sr_log_verify passes on <vault>/log with log.vkey.
 *
 * The test process itself never opens the vault: setup, reading and
 * checking each run in a child of their own, and report through exit
 * codes and pipes. Nothing is timed: the drill holds whatever the speed.
 *
 * What a kill -9 cannot show: the operating system survives it, so data
 * written but not yet fdatasync'd survives too. This drill catches a
 * library that returns plaintext before the entry is written (or before
 * its index is final); a missing fdatasync needs a power cut to show.
 *
 * SR_DRILL_SEED=<n> replays one run (the seed is printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "reseal.h"
#include "suite_store.h"
#include "crypto/crypto.h"
#include "strongroom/strongroom.h"
#include "vault/vault_int.h" /* the keyring, for person references */

#define PEOPLE 200u
#define THREADS 8u
#define PASS "kill drill passphrase"
#define GEN_SEED 20260101u
#define RUN_MS_MIN 20u
#define RUN_MS_MAX 300u
/* A reader that sends nothing for this long has failed to start. */
#define START_TIMEOUT_MS 120000

/* One revealed read, as the reader reports it: 48 bytes, well under
 * PIPE_BUF, so concurrent writes from the threads never interleave. */
typedef struct report {
    uint64_t index; /* sr_vault_last_entry after the get returned */
    char id[SR_ID_STR_LEN];
    uint32_t status; /* SR_OK, or why a get failed (then index is 0) */
    uint32_t thread;
} report;

typedef struct drill_setup {
    char clerk[SR_TOKEN_MAX];
    char auditor[SR_TOKEN_MAX];
    char ids[PEOPLE][SR_ID_STR_LEN + 1];
} drill_setup;

static char root[64];   /* the test's temporary directory */
static char vault[128]; /* root/vault */
static drill_setup setup;

/* ---- children ------------------------------------------------------------
 * cmocka's assertions must not run in a forked child (a failure would
 * unwind into the child's copy of the runner), so children check with
 * die() and the test asserts on their exit status. */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("drill: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(NULL);
    _exit(1);
}

static void run_child(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        fail_msg("a drill child failed (wait status %d)", ws);
}

static const char *errmsg(sr_vault *v, sr_status st)
{
    return v != NULL ? sr_vault_errmsg(v) : sr_status_str(st);
}

static sr_vault *open_as(const char *token, unsigned flags)
{
    sr_vault *v = NULL;
    sr_status st = sr_vault_open(&v, vault, PASS, strlen(PASS), flags);
    if (st != SR_OK)
        die("open after the kill: %s", errmsg(v, st));
    st = sr_vault_authenticate(v, token, strlen(token));
    if (st != SR_OK)
        die("authenticate: %s", errmsg(v, st));
    return v;
}

/* ---- setup: the vault, its principals and its people --------------------- */

static void make_principal(sr_vault *v, const char *name, const char *role,
                           char token[SR_TOKEN_MAX])
{
    char id[SR_TOKEN_ID_MAX];
    if (sr_vault_user_add(v, name, role, 1, NULL, 0) != SR_OK ||
        sr_vault_token_create(v, name, 0, NULL, token, id) != SR_OK)
        die("principal %s: %s", name, sr_vault_errmsg(v));
}

/* The current policy without its read budgets: the drill reads each of
 * its people many times over, far past a clerk's budget, and is about
 * crash safety, not budgets (tests/cli_budget.py). */
static void lift_budgets(sr_vault *v)
{
    char *text = NULL;
    uint32_t version;
    json_error_t jerr;
    if (sr_vault_policy_get(v, &text, &version) != SR_OK)
        die("policy get: %s", sr_vault_errmsg(v));
    json_t *pol = json_loads(text, 0, &jerr), *role;
    free(text);
    const char *name;
    if (pol == NULL)
        die("policy: %s", jerr.text);
    json_object_foreach(json_object_get(pol, "roles"), name, role)
        (void)json_object_del(role, "budget");
    /* The library gives jansson its own allocator: free with its free. */
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    text = json_dumps(pol, JSON_COMPACT);
    json_decref(pol);
    if (text == NULL ||
        sr_vault_policy_set(v, text, strlen(text), &version) != SR_OK)
        die("policy set: %s", sr_vault_errmsg(v));
    jfree(text);
}

static void setup_main(void *arg)
{
    drill_setup *out = arg;
    sr_init_options opt = {SR_KDF_INTERACTIVE, 1000, NULL, 0, NULL, 0, NULL};
    char admin[SR_TOKEN_MAX], intake[SR_TOKEN_MAX], path[256];
    sr_vault *v = NULL;
    sr_gen *g = NULL;
    sr_status st;

    if (sr_init() != SR_OK)
        die("sr_init");
    opt.store = suite_store();
    st = sr_vault_create(&v, vault, PASS, strlen(PASS), &opt, admin);
    if (st != SR_OK)
        die("create: %s", errmsg(v, st));
    make_principal(v, "intake", "intake", intake);
    make_principal(v, "clerk", "hr-clerk", out->clerk);
    make_principal(v, "auditor", "auditor", out->auditor);
    lift_budgets(v);
    sr_vault_close(v);
    /* Every round opens nine handles, each a passphrase derivation; the
     * KDF is not what this drill is about (tests/reseal.h). */
    char key_path[256];
    (void)snprintf(key_path, sizeof key_path, "%s/vault.key", vault);
    if (!reseal_cheaply(key_path, PASS))
        die("cannot reseal %s", key_path);

    v = open_as(intake, SR_OPEN_WRITE);
    if (sr_gen_new(&g, GEN_SEED) != SR_OK)
        die("sr_gen_new");
    for (uint64_t i = 0; i < PEOPLE; i++) {
        const char *line;
        size_t len;
        sr_access acc = {"intake", NULL, NULL};
        if (sr_gen_person_json(g, i, &line, &len) != SR_OK)
            die("gen %llu", (unsigned long long)i);
        if (sr_vault_put(v, &acc, line, len, out->ids[i]) != SR_OK)
            die("put %llu: %s", (unsigned long long)i, sr_vault_errmsg(v));
    }
    sr_gen_free(g);
    char *note = NULL;
    uint64_t size = 0;
    if (sr_vault_audit_checkpoint(v, &note, &size) != SR_OK)
        die("checkpoint: %s", sr_vault_errmsg(v));
    free(note);
    sr_vault_close(v);
    (void)snprintf(path, sizeof path, "%s/size", root);
    FILE *sf = fopen(path, "w");
    if (sf == NULL || fprintf(sf, "%llu\n", (unsigned long long)size) < 0 ||
        fclose(sf) != 0)
        die("cannot write %s", path);

    (void)snprintf(path, sizeof path, "%s/setup", root);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(out, sizeof *out, 1, f) != 1 || fclose(f) != 0)
        die("cannot write %s", path);
}

/* ---- the reader process -------------------------------------------------- */

typedef struct reader {
    pthread_barrier_t *go;
    int fd;
    unsigned thread;
    unsigned seed;
} reader;

static void send_report(int fd, const report *r)
{
    ssize_t n;
    do
        n = write(fd, r, sizeof *r);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof *r)
        die("cannot write to the drill pipe");
}

static void *reader_main(void *arg)
{
    reader *rd = arg;
    report r;
    sr_access acc = {"hr-action", NULL, NULL};
    sr_vault *v = open_as(setup.clerk, SR_OPEN_READ);

    /* All together: the point is many reads in flight at the kill. */
    (void)pthread_barrier_wait(rd->go);
    for (;;) {
        const char *id = setup.ids[(unsigned)rand_r(&rd->seed) % PEOPLE];
        char *json = NULL;
        size_t len = 0;
        sr_status st = sr_vault_get(v, &acc, id, 0, &json, &len);
        memset(&r, 0, sizeof r);
        memcpy(r.id, id, SR_ID_STR_LEN);
        r.thread = rd->thread;
        r.status = (uint32_t)st;
        /* The plaintext is ours now: only from here on may the read be
         * told to anyone. Its id must be in what came back. */
        if (st == SR_OK && (json == NULL || strstr(json, id) == NULL))
            r.status = (uint32_t)SR_ERR_INTERNAL;
        r.index = st == SR_OK ? sr_vault_last_entry(v) : 0;
        sr_secret_free(json);
        send_report(rd->fd, &r);
        if (r.status != SR_OK)
            die("get %s: %s", id, sr_vault_errmsg(v));
    }
    return NULL;
}

/* Runs until killed. */
static void readers_main(void *arg)
{
    int fd = *(int *)arg;
    pthread_t t[THREADS];
    reader rd[THREADS];
    pthread_barrier_t go;
    if (sr_init() != SR_OK || pthread_barrier_init(&go, NULL, THREADS) != 0)
        die("sr_init");
    for (unsigned i = 0; i < THREADS; i++) {
        rd[i].go = &go;
        rd[i].fd = fd;
        rd[i].thread = i;
        rd[i].seed = (unsigned)getpid() * 2654435761u + i;
        if (pthread_create(&t[i], NULL, reader_main, &rd[i]) != 0)
            die("pthread_create");
    }
    for (unsigned i = 0; i < THREADS; i++)
        (void)pthread_join(t[i], NULL);
    die("the readers stopped");
}

/* ---- the checker process ------------------------------------------------- */

typedef struct seen {
    bool present;
    bool get; /* a "get" by the clerk for hr-action, allowed, one person */
    char ref[2 * CRYPTO_PERSON_REF_BYTES + 1];
} seen;

typedef struct check {
    const report *reps;
    size_t n;
    unsigned iteration;
    uint64_t start;   /* the log's size when the round began */
    uint64_t end;     /* its size after the restart */
    seen *table;      /* entries start .. end - 1 */
    bool torn;        /* the journal ended in a torn record before the open */
    uint64_t pending; /* whole journal records the reader left */
} check;

static sr_status on_entry(void *ctx, const char *line, size_t len)
{
    check *c = ctx;
    json_error_t err;
    json_t *o = json_loadb(line, len, 0, &err);
    if (o == NULL)
        die("audit show printed a line that is not JSON");
    json_int_t index = json_integer_value(json_object_get(o, "index"));
    if (index >= 0 && (uint64_t)index >= c->start && (uint64_t)index < c->end) {
        seen *s = &c->table[(uint64_t)index - c->start];
        const char *action = json_string_value(json_object_get(o, "action"));
        const char *outcome = json_string_value(json_object_get(o, "outcome"));
        const char *who = json_string_value(json_object_get(o, "principal"));
        const char *purpose = json_string_value(json_object_get(o, "purpose"));
        json_t *people = json_object_get(o, "people");
        const char *ref = json_string_value(json_array_get(people, 0));
        s->present = true;
        s->get = action != NULL && strcmp(action, "get") == 0 &&
                 outcome != NULL && strcmp(outcome, "allowed") == 0 &&
                 who != NULL && strcmp(who, "clerk") == 0 && purpose != NULL &&
                 strcmp(purpose, "hr-action") == 0 &&
                 json_array_size(people) == 1 && ref != NULL &&
                 strlen(ref) < sizeof s->ref;
        if (s->get)
            memcpy(s->ref, ref, strlen(ref) + 1);
    }
    json_decref(o);
    return SR_OK;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Walk the journal as the kill left it (docs/audit.md, "Journal": a
 * header, then records len | index | entry | mac, then zeros, the room
 * written ahead): *whole records, the offset after the last one, the
 * index the next one would have, and whether a torn record follows. */
static void journal_tail(uint64_t *records, uint64_t *off_out, uint64_t *next,
                         bool *torn)
{
    char path[256];
    struct stat sb;
    uint8_t head[16], hdr[12];
    (void)snprintf(path, sizeof path, "%s/audit/journal", vault);
    FILE *f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &sb) != 0 ||
        fread(head, 1, sizeof head, f) != sizeof head)
        die("no journal after the kill");
    uint64_t off = 8 + 8 + 16, size = (uint64_t)sb.st_size;
    *next = be(head + 8, 8); /* the tree size the journal starts at */
    *records = 0;
    *torn = false;
    static const uint8_t zeros[16];
    uint8_t mac[16];
    while (off < size) {
        if (size - off < sizeof hdr || fseek(f, (long)off, SEEK_SET) != 0 ||
            fread(hdr, 1, sizeof hdr, f) != sizeof hdr) {
            *torn = true;
            break;
        }
        if (memcmp(hdr, zeros, sizeof hdr) == 0)
            break; /* the room written ahead: the end of the records */
        /* Cut off by the end of the file, or written only in part into
         * the room (its MAC still zeros). */
        if (size - off < sizeof hdr + be(hdr, 4) + 16 ||
            fseek(f, (long)(off + sizeof hdr + be(hdr, 4)), SEEK_SET) != 0 ||
            fread(mac, 1, sizeof mac, f) != sizeof mac ||
            memcmp(mac, zeros, sizeof mac) == 0) {
            *torn = true;
            break;
        }
        off += sizeof hdr + be(hdr, 4) + 16;
        *next = be(hdr + 4, 8) + 1;
        (*records)++;
    }
    *off_out = off;
    fclose(f);
}

/* A kill inside a write that spans pages can leave the last record cut
 * short (the kernel stops such a write at a page boundary). Kills rarely
 * land there, so some rounds add one: the header of the next record and
 * part of its body, an append that was never acknowledged. */
static void tear_journal(void)
{
    uint64_t records, off, next;
    bool torn;
    uint8_t rec[12 + 60];
    char path[256];
    journal_tail(&records, &off, &next, &torn);
    if (torn)
        return; /* the kill did it already */
    memset(rec, 0xa5, sizeof rec);
    for (int i = 0; i < 4; i++)
        rec[i] = (uint8_t)(120u >> (8 * (3 - i)));
    for (int i = 0; i < 8; i++)
        rec[4 + i] = (uint8_t)(next >> (8 * (7 - i)));
    (void)snprintf(path, sizeof path, "%s/audit/journal", vault);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, rec, sizeof rec, (off_t)off),
                     (ssize_t)sizeof rec);
    close(fd);
}

static void check_main(void *arg)
{
    check *c = arg;
    char *note = NULL;
    char path[256], id[SR_ID_STR_LEN + 1];
    uint8_t bin[SR_ID_BYTES], ref[CRYPTO_PERSON_REF_BYTES];
    char refs[PEOPLE][2 * CRYPTO_PERSON_REF_BYTES + 1];
    uint64_t revealed[PEOPLE], logged[PEOPLE], off, next;

    if (sr_init() != SR_OK)
        die("sr_init");
    journal_tail(&c->pending, &off, &next, &c->torn);
    /* The open checks the checkpoint, the tiles and the journal's MAC
     * chain, and cuts a torn tail: it must succeed after any kill. */
    sr_vault *v = open_as(setup.auditor, SR_OPEN_READ);
    sr_status st = sr_vault_audit_checkpoint(v, &note, &c->end);
    if (st != SR_OK)
        die("checkpoint: %s", sr_vault_errmsg(v));
    free(note);
    c->table = calloc(c->end - c->start + 1, sizeof *c->table);
    if (c->table == NULL)
        die("out of memory");
    sr_audit_filter f;
    memset(&f, 0, sizeof f);
    f.from_index = c->start;
    st = sr_vault_audit_show(v, &f, on_entry, c);
    if (st != SR_OK)
        die("audit show: %s", sr_vault_errmsg(v));
    for (unsigned p = 0; p < PEOPLE; p++) {
        if (!hex_decode(bin, sizeof bin, setup.ids[p], SR_ID_STR_LEN))
            die("bad person id");
        crypto_person_ref(v->keys, bin, ref);
        hex_encode(refs[p], ref, sizeof ref);
        revealed[p] = logged[p] = 0;
    }

    /* Each revealed read, at the index it was told: its own entry. */
    for (size_t i = 0; i < c->n; i++) {
        const report *r = &c->reps[i];
        unsigned p = 0;
        memcpy(id, r->id, SR_ID_STR_LEN);
        id[SR_ID_STR_LEN] = '\0';
        while (p < PEOPLE && strcmp(setup.ids[p], id) != 0)
            p++;
        if (p == PEOPLE)
            die("a report names nobody of the vault");
        revealed[p]++;
        if (r->index < c->start || r->index >= c->end)
            die("iteration %u: the read of %s (thread %u) was revealed as "
                "entry %llu, but this round's entries after the restart "
                "are %llu to %llu",
                c->iteration, id, r->thread, (unsigned long long)r->index,
                (unsigned long long)c->start, (unsigned long long)c->end - 1);
        const seen *s = &c->table[r->index - c->start];
        if (!s->present || !s->get || strcmp(s->ref, refs[p]) != 0)
            die("iteration %u: entry %llu is not the clerk's allowed get "
                "of %s (thread %u)",
                c->iteration, (unsigned long long)r->index, id, r->thread);
    }
    /* And by count, whatever the indexes said: no person was revealed
     * more often than the round's entries name them. */
    for (uint64_t i = c->start; i < c->end; i++) {
        const seen *s = &c->table[i - c->start];
        if (!s->present)
            die("iteration %u: audit show skipped entry %llu", c->iteration,
                (unsigned long long)i);
        for (unsigned p = 0; s->get && p < PEOPLE; p++)
            if (strcmp(s->ref, refs[p]) == 0)
                logged[p]++;
    }
    for (unsigned p = 0; p < PEOPLE; p++)
        if (revealed[p] > logged[p])
            die("iteration %u: %s was revealed %llu times but the log "
                "holds %llu gets of them",
                c->iteration, setup.ids[p], (unsigned long long)revealed[p],
                (unsigned long long)logged[p]);
    sr_vault_close(v); /* checkpoints the auditor's own entries */

    /* The whole log, from the outside: no key, no database. */
    sr_buf vk;
    sr_log_report rep;
    buf_init(&vk, 4096);
    (void)snprintf(path, sizeof path, "%s/log.vkey", vault);
    if (file_read(path, &vk) != SR_OK || buf_append_byte(&vk, 0) != SR_OK)
        die("cannot read %s", path);
    (void)snprintf(path, sizeof path, "%s/log", vault);
    st = sr_log_verify(path, (const char *)vk.p, NULL, &rep);
    if (st != SR_OK)
        die("iteration %u: sr_log_verify: %s", c->iteration, rep.message);
    buf_free(&vk);
    printf("drill %2u: %5zu reads revealed; journal left with %4llu "
           "records%s; log of %llu verified\n",
           c->iteration, c->n, (unsigned long long)c->pending,
           c->torn ? " and a torn tail" : "", (unsigned long long)rep.size);
    /* Where the next round starts. */
    (void)snprintf(path, sizeof path, "%s/size", root);
    FILE *out = fopen(path, "w");
    if (out == NULL ||
        fprintf(out, "%llu\n", (unsigned long long)rep.size) < 0 ||
        fclose(out) != 0)
        die("cannot write %s", path);
    free(c->table);
}

static uint64_t log_size(void)
{
    char path[256];
    unsigned long long n = 0;
    (void)snprintf(path, sizeof path, "%s/size", root);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%llu", &n), 1);
    fclose(f);
    return n;
}

/* ---- the drill ----------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct reports {
    report *v;
    size_t n, cap;
    uint8_t part[sizeof(report)]; /* a record split across reads */
    size_t part_len;
} reports;

static void take(reports *rs, const uint8_t *p, size_t len)
{
    while (len > 0) {
        size_t k = sizeof(report) - rs->part_len;
        if (k > len)
            k = len;
        memcpy(rs->part + rs->part_len, p, k);
        rs->part_len += k;
        p += k;
        len -= k;
        if (rs->part_len < sizeof(report))
            continue;
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? 2 * rs->cap : 4096;
            rs->v = realloc(rs->v, rs->cap * sizeof *rs->v);
            assert_non_null(rs->v);
        }
        memcpy(&rs->v[rs->n++], rs->part, sizeof(report));
        rs->part_len = 0;
    }
}

/* Read what is there, waiting at most ms; false at end of file. */
static bool pump(int fd, reports *rs, int ms)
{
    uint8_t b[sizeof(report) * 256];
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    if (r < 0 && errno == EINTR)
        return true;
    assert_true(r >= 0);
    if (r == 0)
        return true;
    ssize_t n = read(fd, b, sizeof b);
    if (n < 0 && errno == EINTR)
        return true;
    assert_true(n >= 0);
    if (n == 0)
        return false;
    take(rs, b, (size_t)n);
    return true;
}

static int by_index(const void *a, const void *b)
{
    uint64_t x = ((const report *)a)->index, y = ((const report *)b)->index;
    return x < y ? -1 : x > y;
}

static void one_round(unsigned iteration, unsigned *rng)
{
    int p[2];
    reports rs;
    memset(&rs, 0, sizeof rs);
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        readers_main(&p[1]);
        _exit(1);
    }
    close(p[1]);

    /* Start the clock at the first revealed read: opening the handles
     * is not part of the run. */
    bool open = true;
    double waited = 0;
    while (open && rs.n == 0 && waited < START_TIMEOUT_MS) {
        double t0 = now_ms();
        open = pump(p[0], &rs, 100);
        waited += now_ms() - t0;
    }
    unsigned run_ms =
        RUN_MS_MIN + (unsigned)rand_r(rng) % (RUN_MS_MAX - RUN_MS_MIN + 1);
    double end = now_ms() + run_ms;
    while (open && rs.n > 0) {
        double left = end - now_ms();
        if (left <= 0)
            break;
        open = pump(p[0], &rs, (int)left + 1);
    }
    (void)kill(pid, SIGKILL);
    while (pump(p[0], &rs, -1)) {
    }
    close(p[0]);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_int_equal(rs.part_len, 0);
    for (size_t i = 0; i < rs.n; i++)
        if (rs.v[i].status != SR_OK)
            fail_msg("iteration %u: a get failed: %s", iteration,
                     sr_status_str((sr_status)rs.v[i].status));
    /* Killed by us, not dead of its own accord. */
    if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL)
        fail_msg("iteration %u: the reader died before the kill (wait "
                 "status %d)",
                 iteration, ws);
    assert_true(rs.n > 0);

    /* Every read appended an entry of its own. */
    for (size_t i = 0; i < rs.n; i++)
        if (rs.v[i].index == UINT64_MAX)
            fail_msg("iteration %u: a get returned plaintext with no "
                     "audit entry (thread %u)",
                     iteration, rs.v[i].thread);
    qsort(rs.v, rs.n, sizeof *rs.v, by_index);
    for (size_t i = 1; i < rs.n; i++)
        if (rs.v[i].index == rs.v[i - 1].index)
            fail_msg("iteration %u: two reads were given the same audit "
                     "entry %llu",
                     iteration, (unsigned long long)rs.v[i].index);
    if (iteration % 5 == 0)
        tear_journal();

    check c;
    memset(&c, 0, sizeof c);
    c.reps = rs.v;
    c.n = rs.n;
    c.iteration = iteration;
    c.start = log_size();
    run_child(check_main, &c);
    free(rs.v);
}

static void rm_rf(const char *path)
{
    char cmd[256];
    /* Our own mkdtemp directory; the name has no shell metacharacters. */
    (void)snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        print_message("cannot remove %s\n", path);
}

static void every_revealed_read_survives_kill_9(void **state)
{
    (void)state;
    const char *env = getenv("SR_DRILL_ITERATIONS");
    unsigned iterations = env != NULL ? (unsigned)strtoul(env, NULL, 10) : 50;
    env = getenv("SR_DRILL_SEED");
    unsigned seed = env != NULL ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ (unsigned)getpid();
    print_message("kill -9 drill: %u iterations, %u threads, %u people, "
                  "SR_DRILL_SEED=%u\n",
                  iterations, THREADS, PEOPLE, seed);

    memcpy(root, "/tmp/sr_drill_XXXXXX", 21);
    assert_non_null(mkdtemp(root));
    (void)snprintf(vault, sizeof vault, "%s/vault", root);
    run_child(setup_main, &setup);
    char path[256];
    (void)snprintf(path, sizeof path, "%s/setup", root);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(&setup, sizeof setup, 1, f), 1);
    fclose(f);

    for (unsigned i = 1; i <= iterations; i++)
        one_round(i, &seed);
    rm_rf(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_revealed_read_survives_kill_9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
