/* SPDX-License-Identifier: Apache-2.0 */
/*
 * import.c - bulk import of JSONL or CSV people, on every core.
 *
 * The calling thread reads the input into chunks of lines and commits
 * finished chunks to the store in input order; worker threads parse,
 * validate, encode and seal the lines of a chunk meanwhile. Chunks are a
 * fixed ring, so memory does not grow with the input. Committing in input
 * order keeps the outcome deterministic (of two lines with one SSN, the
 * first wins) and lets a fatal error name its line.
 *
 * A transaction (a batch) begins with the first person it stores, and is
 * committed when it is full, at the end, and whenever the input makes the
 * reader wait (a pipe or a socket with nothing to read yet): the vault's
 * write lock is never held while a slow sender sends, so other writers
 * (the server's) are not kept waiting by it.
 *
 * Resumable: a person whose SSN is already stored with identical content is
 * skipped, so re-running an interrupted import stores only the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vault_int.h"

#define CHUNK_LINES 256u
#define CHUNK_BYTES (4u * 1024u * 1024u)
#define READ_BLOCK (1u << 20)
#define MAX_WORKERS 16u
#define REASON_CAP 320u
/* People per transaction. Larger batches share more index pages between
 * commits: at a million people 50,000 a batch imported a third faster
 * than 10,000 (docs/BENCHMARKS.md); a crash loses at most one batch, and
 * re-running the import restores it. */
#define IMPORT_DEFAULT_BATCH 50000u

/* ---- reading lines, bounded ---------------------------------------------- */

typedef struct line_reader {
    int fd;
    sr_buf block; /* raw input not yet split into lines */
    size_t pos;
    bool eof;
    uint64_t consumed; /* bytes handed out as lines, newlines included */
    uint64_t lineno;
    /* Called before a read that would wait (input from a pipe or a
     * socket that has nothing yet): the import commits what it holds, so
     * the write lock is never held while the input is slow. Its failure
     * ends the reading with that status. */
    sr_status (*idle)(void *ctx);
    void *idle_ctx;
    sr_status failed;
} line_reader;

typedef enum { LINE_OK, LINE_TOO_LONG, LINE_EOF, LINE_ERROR } line_result;

/* Refill the block, keeping the unread tail. */
static bool reader_fill(line_reader *lr)
{
    if (lr->pos > 0) {
        size_t tail = lr->block.len - lr->pos;
        memmove(lr->block.p, lr->block.p + lr->pos, tail);
        sodium_memzero(lr->block.p + tail, lr->block.len - tail);
        lr->block.len = tail;
        lr->pos = 0;
    }
    if (buf_reserve(&lr->block, READ_BLOCK) != SR_OK)
        return false;
    struct pollfd pfd = {lr->fd, POLLIN, 0};
    if (lr->idle != NULL && poll(&pfd, 1, 0) == 0) {
        lr->failed = lr->idle(lr->idle_ctx);
        if (lr->failed != SR_OK)
            return false;
    }
    ssize_t n;
    do
        n = read(lr->fd, lr->block.p + lr->block.len, READ_BLOCK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return false;
    if (n == 0)
        lr->eof = true;
    lr->block.len += (size_t)n;
    return true;
}

/* True when the next line is not here yet and reading it would wait:
 * no whole line is buffered, and the input (a pipe, a socket) has
 * nothing to read now. Never for a file. */
static bool reader_would_wait(const line_reader *lr)
{
    if (lr->eof ||
        (lr->block.len > lr->pos &&
         memchr(lr->block.p + lr->pos, '\n', lr->block.len - lr->pos) != NULL))
        return false;
    struct pollfd pfd = {lr->fd, POLLIN, 0};
    return poll(&pfd, 1, 0) == 0;
}

/* Append the next line (without its newline) to dst. A line longer than
 * RECORD_MAX_JSON is skipped whole and reported as LINE_TOO_LONG, with
 * nothing of it left in dst. */
static line_result reader_next(line_reader *lr, sr_buf *dst, size_t *len)
{
    size_t start = dst->len;
    bool any = false, too_long = false;
    size_t seen = 0;
    for (;;) {
        size_t avail = lr->block.len - lr->pos;
        if (avail == 0) {
            if (lr->eof) {
                if (!any)
                    return LINE_EOF;
                break; /* a last line without a newline */
            }
            if (!reader_fill(lr))
                return LINE_ERROR;
            continue;
        }
        any = true;
        uint8_t *p = lr->block.p + lr->pos;
        uint8_t *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        seen += take;
        if (!too_long && seen > RECORD_MAX_JSON) {
            too_long = true;
            sodium_memzero(dst->p + start, dst->len - start);
            dst->len = start;
        }
        if (!too_long && buf_append(dst, p, take) != SR_OK)
            return LINE_ERROR;
        lr->pos += take;
        lr->consumed += take;
        if (nl != NULL) {
            lr->pos++;
            lr->consumed++;
            break;
        }
    }
    lr->lineno++;
    *len = dst->len - start;
    return too_long ? LINE_TOO_LONG : LINE_OK;
}

/* ---- chunks -------------------------------------------------------------- */

typedef enum { CHUNK_FREE, CHUNK_TODO, CHUNK_WORKING, CHUNK_DONE } chunk_state;

typedef enum { LINE_SEALED, LINE_REJECTED, LINE_BLANK } line_outcome;

typedef struct chunk {
    chunk_state state;
    uint64_t seq;
    sr_buf text; /* the lines, back to back: plaintext, wiped on reuse */
    size_t nlines;
    uint64_t lineno[CHUNK_LINES];
    size_t off[CHUNK_LINES], len[CHUNK_LINES];
    bool too_long[CHUNK_LINES];
    line_outcome outcome[CHUNK_LINES];
    char reason[CHUNK_LINES][REASON_CAP];
    sealed_person sp[CHUNK_LINES];
    sr_status fatal; /* a worker failure that is not the line's fault */
    uint64_t bytes_end;
} chunk;

typedef struct pipeline {
    sr_vault *v;
    sr_format format;
    record_csv_layout layout;
    int32_t today;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a chunk became TODO, or stop */
    pthread_cond_t done; /* a chunk became DONE */
    chunk *ring;
    size_t nring;
    uint64_t next_claim; /* the next seq a worker takes */
    uint64_t next_read;  /* the next seq the reader fills */
    bool stop;
} pipeline;

static void seal_line(pipeline *pl, seal_scratch *sc, chunk *c, size_t i)
{
    record_error err;
    json_t *person = NULL;
    const char *text = (const char *)c->text.p + c->off[i];
    size_t len = c->len[i];
    sr_status st;
    char msg[256] = "";

    c->reason[i][0] = '\0';
    if (c->too_long[i]) {
        c->outcome[i] = LINE_REJECTED;
        (void)snprintf(c->reason[i], REASON_CAP,
                       "the line is longer than %u bytes", RECORD_MAX_JSON);
        return;
    }
    size_t blank = 0;
    while (blank < len &&
           (text[blank] == ' ' || text[blank] == '\t' || text[blank] == '\r'))
        blank++;
    if (blank == len) {
        c->outcome[i] = LINE_BLANK;
        return;
    }
    if (pl->format == SR_FORMAT_CSV) {
        st = record_csv_row(&pl->layout, text, len, &person, &err);
        if (st == SR_OK) {
            st = record_validate(person, pl->today, &err);
        }
    } else {
        st = record_parse(text, len, pl->today, &person, &err);
    }
    if (st == SR_OK) {
        st = vault_seal_person(pl->v, sc, person, NULL, 1, &c->sp[i], msg,
                               sizeof msg);
        if (st == SR_ERR_NOMEM)
            c->fatal = st;
        else if (st != SR_OK)
            (void)snprintf(c->reason[i], REASON_CAP, "%s", msg);
    } else {
        record_error_format(&err, c->reason[i], REASON_CAP);
    }
    json_decref(person);
    c->outcome[i] = st == SR_OK ? LINE_SEALED : LINE_REJECTED;
}

static void *worker_main(void *arg)
{
    pipeline *pl = arg;
    seal_scratch sc;
    bool have_scratch = scratch_init(&sc) == SR_OK;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->stop && pl->next_claim == pl->next_read)
            pthread_cond_wait(&pl->work, &pl->mu);
        if (pl->stop)
            break;
        chunk *c = &pl->ring[pl->next_claim % pl->nring];
        pl->next_claim++;
        c->state = CHUNK_WORKING;
        pthread_mutex_unlock(&pl->mu);

        c->fatal = have_scratch ? SR_OK : SR_ERR_NOMEM;
        for (size_t i = 0; i < c->nlines && c->fatal == SR_OK; i++)
            seal_line(pl, &sc, c, i);

        pthread_mutex_lock(&pl->mu);
        c->state = CHUNK_DONE;
        pthread_cond_broadcast(&pl->done);
    }
    pthread_mutex_unlock(&pl->mu);
    if (have_scratch)
        scratch_free(&sc);
    return NULL;
}

/* ---- the committing side ------------------------------------------------- */

typedef struct import_run {
    sr_vault *v;
    const sr_import_options *opt;
    sr_import_summary *sum;
    int reject_fd;
    size_t batch;
    pipeline *pl;
    uint64_t next_commit;     /* the next chunk (seq) to commit */
    bool txn_open;            /* begun on the first write it needs */
    uint64_t last_line;       /* the last line committed into it */
    size_t in_txn;            /* people stored in the open transaction */
    uint64_t lines_committed; /* lines whose outcome is durable */
    sr_import_progress prog;
    uint64_t last_progress_ns;
    unsigned granted; /* classes the principal may write */
} import_run;

static sr_status write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno == ENOSPC ? SR_ERR_FULL : SR_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return SR_OK;
}

static sr_status reject(import_run *r, uint64_t lineno, const char *reason)
{
    r->sum->rejected++;
    if (r->reject_fd < 0)
        return SR_OK;
    char line[REASON_CAP + 64];
    int n = snprintf(line, sizeof line, "line %llu: %s\n",
                     (unsigned long long)lineno, reason);
    if (n < 0)
        return SR_ERR_INTERNAL;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    sr_status st = write_all(r->reject_fd, line, len);
    if (st != SR_OK)
        return vault_fail(r->v, st, "cannot write the reject file: %s",
                          strerror(errno));
    return SR_OK;
}

static sr_status txn_begin(import_run *r)
{
    if (r->txn_open)
        return SR_OK;
    sr_status st = r->v->ops->begin(r->v->st);
    if (st != SR_OK)
        return vault_store_fail(r->v, st, "cannot start a transaction");
    r->txn_open = true;
    return SR_OK;
}

/* Commit the open batch (if one is open), which ends at line lineno. */
static sr_status txn_commit(import_run *r, uint64_t lineno)
{
    sr_vault *v = r->v;
    char what[96];
    if (!r->txn_open)
        return SR_OK;
    sr_status st = v->ops->commit(v->st);
    if (st != SR_OK) {
        (void)snprintf(what, sizeof what,
                       "line %llu: cannot commit the batch ending there",
                       (unsigned long long)lineno);
        return vault_store_fail(v, st, what);
    }
    r->txn_open = false;
    r->sum->stored += r->in_txn;
    r->in_txn = 0;
    r->last_line = lineno;
    return SR_OK;
}

/* May the role write every class line i of c holds? If not, why into
 * why (cap REASON_CAP). */
static bool classes_allowed(const import_run *r, const chunk *c, size_t i,
                            char *why)
{
    unsigned extra = c->sp[i].present & ~r->granted;
    if (extra == 0)
        return true;
    unsigned k = 0;
    while (!(extra & SR_CLASS_BIT(k)))
        k++;
    (void)snprintf(why, REASON_CAP,
                   "the %s class may not be written by this role",
                   sr_class_name((sr_class)k));
    return false;
}

/*
 * Commit lines [from, to) of c, whose storable people are the np lines in
 * pend (np fits in the open batch): one bulk commit for them all, then
 * each line's outcome in order (rejections to the reject file, decoys
 * among the people stored, the batch committed when full).
 */
static sr_status commit_lines(import_run *r, chunk *c, size_t from, size_t to,
                              const size_t *pend, size_t np)
{
    sr_vault *v = r->v;
    char hex[SR_ID_STR_LEN + 1], why[REASON_CAP];
    const sealed_person *sps[CHUNK_LINES];
    commit_outcome out[CHUNK_LINES];
    uint8_t existing[CHUNK_LINES][SR_ID_BYTES];
    sr_status st = SR_OK;
    if (np > 0) {
        st = txn_begin(r);
        if (st != SR_OK)
            return st;
        for (size_t k = 0; k < np; k++)
            sps[k] = &c->sp[pend[k]];
        r->last_line = c->lineno[pend[np - 1]];
        st = vault_commit_people(v, sps, np, out, existing);
        if (st != SR_OK) {
            char cause[sizeof v->errmsg];
            (void)snprintf(cause, sizeof cause, "%s", v->errmsg);
            if (np == 1)
                return vault_fail(v, st, "line %llu: %s",
                                  (unsigned long long)c->lineno[pend[0]],
                                  cause);
            return vault_fail(v, st, "lines %llu-%llu: %s",
                              (unsigned long long)c->lineno[pend[0]],
                              (unsigned long long)c->lineno[pend[np - 1]],
                              cause);
        }
    }
    size_t k = 0;
    for (size_t i = from; i < to && st == SR_OK; i++) {
        uint64_t lineno = c->lineno[i];
        switch (c->outcome[i]) {
        case LINE_BLANK:
            continue;
        case LINE_REJECTED:
            r->sum->lines++;
            st = reject(r, lineno, c->reason[i]);
            continue;
        case LINE_SEALED:
            break;
        }
        r->sum->lines++;
        if (k >= np || pend[k] != i) {
            (void)classes_allowed(r, c, i, why);
            st = reject(r, lineno, why);
            continue;
        }
        commit_outcome o = out[k++];
        if (o == COMMIT_SAME) {
            r->sum->skipped++;
        } else if (o == COMMIT_CONFLICT) {
            hex_encode(hex, existing[k - 1], SR_ID_BYTES);
            (void)snprintf(why, sizeof why,
                           "/ssn: already stored, with other content, for "
                           "person %s",
                           hex);
            st = reject(r, lineno, why);
        } else {
            /* A decoy now and then, among the people it came with. */
            st = vault_decoy_maybe(v);
            if (st == SR_OK && ++r->in_txn >= r->batch)
                st = txn_commit(r, lineno);
        }
    }
    return st;
}

/* Commit a sealed chunk, in pieces that each fit in the open batch. */
static sr_status commit_chunk(import_run *r, chunk *c)
{
    char why[REASON_CAP];
    size_t pend[CHUNK_LINES];
    sr_status st = SR_OK;
    if (c->fatal != SR_OK)
        return vault_fail(r->v, c->fatal, "line %llu: %s while sealing",
                          (unsigned long long)c->lineno[0],
                          sr_status_str(c->fatal));
    size_t i = 0;
    while (i < c->nlines && st == SR_OK) {
        /* The batch has room for at least one: it commits when full. */
        size_t room = r->batch - r->in_txn;
        size_t from = i, np = 0;
        while (i < c->nlines && np < room) {
            if (c->outcome[i] == LINE_SEALED && classes_allowed(r, c, i, why))
                pend[np++] = i;
            i++;
        }
        st = commit_lines(r, c, from, i, pend, np);
    }
    return st;
}

static void report_progress(import_run *r, uint64_t bytes, bool force)
{
    if (r->opt == NULL || r->opt->progress == NULL)
        return;
    uint64_t now = now_ns();
    if (!force && now - r->last_progress_ns < 200000000u)
        return;
    r->last_progress_ns = now;
    r->prog.bytes_done = bytes;
    r->prog.lines = r->sum->lines;
    r->prog.stored = r->sum->stored + r->in_txn;
    r->prog.skipped = r->sum->skipped;
    r->prog.rejected = r->sum->rejected;
    r->opt->progress(r->opt->progress_ctx, &r->prog);
}

/* Commit the oldest chunk read, once its workers are done with it. */
static sr_status commit_next(import_run *r)
{
    pipeline *pl = r->pl;
    chunk *c = &pl->ring[r->next_commit % pl->nring];
    pthread_mutex_lock(&pl->mu);
    while (c->state != CHUNK_DONE)
        pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
    sr_status st = commit_chunk(r, c);
    for (size_t i = 0; i < c->nlines; i++)
        sealed_reset(&c->sp[i]);
    buf_reset(&c->text);
    c->state = CHUNK_FREE;
    r->next_commit++;
    if (st == SR_OK)
        report_progress(r, c->bytes_end, false);
    return st;
}

/* The input makes the reader wait (line_reader.idle): commit every chunk
 * read so far, and the transaction, first. */
static sr_status commit_idle(void *ctx)
{
    import_run *r = ctx;
    sr_status st = SR_OK;
    while (st == SR_OK && r->next_commit < r->pl->next_read)
        st = commit_next(r);
    return st == SR_OK ? txn_commit(r, r->last_line) : st;
}

/* ---- the whole run ------------------------------------------------------- */

static sr_format pick_format(const char *path, sr_format f)
{
    if (f != SR_FORMAT_AUTO)
        return f;
    size_t n = strlen(path);
    if (n >= 4 && strcasecmp(path + n - 4, ".csv") == 0)
        return SR_FORMAT_CSV;
    return SR_FORMAT_JSONL;
}

/* Fill chunk c from the reader; false at end of input. */
static sr_status fill_chunk(sr_vault *v, line_reader *lr, chunk *c)
{
    c->nlines = 0;
    buf_reset(&c->text);
    while (c->nlines < CHUNK_LINES && c->text.len < CHUNK_BYTES) {
        /* A slow sender's lines go on at once rather than wait for a
         * full chunk: they are then committed while it is silent. */
        if (c->nlines > 0 && lr->idle != NULL && reader_would_wait(lr))
            break;
        size_t i = c->nlines, len = 0;
        size_t off = c->text.len;
        line_result res = reader_next(lr, &c->text, &len);
        if (res == LINE_EOF)
            break;
        if (res == LINE_ERROR && lr->failed != SR_OK)
            return lr->failed; /* the idle commit's, with its message */
        if (res == LINE_ERROR)
            return vault_fail(v, SR_ERR_IO, "cannot read line %llu: %s",
                              (unsigned long long)lr->lineno + 1,
                              errno ? strerror(errno) : "out of memory");
        c->lineno[i] = lr->lineno;
        c->too_long[i] = res == LINE_TOO_LONG;
        c->off[i] = c->too_long[i] ? c->text.len : off;
        c->len[i] = c->too_long[i] ? 0 : len;
        c->nlines++;
    }
    c->bytes_end = lr->consumed;
    return SR_OK;
}

static sr_status read_header(sr_vault *v, line_reader *lr, pipeline *pl)
{
    sr_buf line;
    size_t len = 0;
    record_error err;
    buf_init(&line, RECORD_MAX_JSON);
    line_result res = reader_next(lr, &line, &len);
    sr_status st = SR_OK;
    if (res == LINE_EOF)
        st = vault_fail(v, SR_ERR_INVALID,
                        "line 1: the CSV file is empty; "
                        "it needs a header line");
    else if (res != LINE_OK)
        st = vault_fail(v, SR_ERR_INVALID, "line 1: cannot read the header");
    else if (record_csv_header_parse((const char *)line.p, len, &pl->layout,
                                     &err) != SR_OK) {
        char why[400];
        record_error_format(&err, why, sizeof why);
        st = vault_fail(v, SR_ERR_INVALID, "line 1: bad CSV header: %s", why);
    }
    buf_free(&line);
    return st;
}

static sr_status import_run_all(sr_vault *v, unsigned granted, const char *path,
                                int fd, const sr_import_options *opt,
                                sr_import_summary *summary);

/* Import from path, or from fd when fd >= 0 (path then only names it),
 * logged from start to end. */
static sr_status import_logged(sr_vault *v, const sr_access *acc,
                               const char *path, int fd,
                               const sr_import_options *opt,
                               sr_import_summary *summary)
{
    access_req r = {POLICY_IMPORT, "import", acc, NULL, 0};
    unsigned granted = 0;
    char detail[96];
    if (summary != NULL)
        memset(summary, 0, sizeof *summary);
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    sr_status st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    /* The start is logged before the first person is stored, the
     * outcome after the last; an import that dies between shows as a
     * start without an end. */
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, granted, "started", 0, NULL,
                      0);
    if (st != SR_OK)
        return st;
    sr_import_summary sum;
    sr_status result = import_run_all(v, granted, path, fd, opt, &sum);
    if (summary != NULL)
        *summary = sum;
    (void)snprintf(
        detail, sizeof detail,
        "finished: %llu lines, %llu stored, %llu skipped, %llu "
        "rejected",
        (unsigned long long)sum.lines, (unsigned long long)sum.stored,
        (unsigned long long)sum.skipped, (unsigned long long)sum.rejected);
    char keep[sizeof v->errmsg];
    memcpy(keep, v->errmsg, sizeof keep);
    r.name = "import.end";
    st = vault_record(v, &r, result == SR_OK ? ENTRY_ALLOWED : ENTRY_FAILED,
                      result, granted, detail, sum.stored, NULL, 0);
    if (result != SR_OK) {
        memcpy(v->errmsg, keep, sizeof keep);
        return result;
    }
    return st;
}

sr_status sr_vault_import(sr_vault *v, const sr_access *acc, const char *path,
                          const sr_import_options *opt,
                          sr_import_summary *summary)
{
    return import_logged(v, acc, path, -1, opt, summary);
}

sr_status sr_vault_import_fd(sr_vault *v, const sr_access *acc, int fd,
                             const char *name, const sr_import_options *opt,
                             sr_import_summary *summary)
{
    if (fd < 0) {
        if (summary != NULL)
            memset(summary, 0, sizeof *summary);
        return vault_fail(v, SR_ERR_INVALID, "no input descriptor given");
    }
    return import_logged(v, acc, name != NULL ? name : "input", fd, opt,
                         summary);
}

static sr_status import_run_all(sr_vault *v, unsigned granted, const char *path,
                                int fd, const sr_import_options *opt,
                                sr_import_summary *summary)
{
    sr_import_summary dummy;
    sr_import_summary *sum = summary ? summary : &dummy;
    memset(sum, 0, sizeof *sum);
    import_run r;
    memset(&r, 0, sizeof r);
    r.v = v;
    r.opt = opt;
    r.sum = sum;
    r.reject_fd = -1;
    r.batch = IMPORT_DEFAULT_BATCH;
    r.granted = granted;
    pipeline pl;
    line_reader lr;
    memset(&lr, 0, sizeof lr);
    lr.fd = -1;
    pthread_t threads[MAX_WORKERS];
    unsigned nthreads = 0;
    bool sync_ok = false;
    sr_status st;

    memset(&pl, 0, sizeof pl);
    v->errmsg[0] = '\0';
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    if (path == NULL)
        return vault_fail(v, SR_ERR_INVALID, "no input file given");
    if (opt != NULL && opt->batch > 0)
        r.batch = opt->batch;

    buf_init(&lr.block, 2u * READ_BLOCK + RECORD_MAX_JSON);
    if (fd >= 0) {
        lr.fd = fd;
    } else if (strcmp(path, "-") == 0) {
        lr.fd = STDIN_FILENO;
    } else {
        lr.fd = open(path, O_RDONLY | O_CLOEXEC);
        if (lr.fd < 0) {
            st = vault_fail(v, errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO,
                            "cannot open %s: %s", path, strerror(errno));
            goto cleanup;
        }
        struct stat sb;
        if (fstat(lr.fd, &sb) == 0 && S_ISREG(sb.st_mode))
            r.prog.bytes_total = (uint64_t)sb.st_size;
    }
    if (opt != NULL && opt->reject_path != NULL) {
        r.reject_fd = open(opt->reject_path,
                           O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (r.reject_fd < 0) {
            st =
                vault_fail(v, SR_ERR_IO, "cannot create the reject file %s: %s",
                           opt->reject_path, strerror(errno));
            goto cleanup;
        }
    }

    pl.v = v;
    pl.format = pick_format(path, opt ? opt->format : SR_FORMAT_AUTO);
    pl.today = date_today();
    if (pl.format == SR_FORMAT_CSV) {
        st = read_header(v, &lr, &pl);
        if (st != SR_OK)
            goto cleanup;
    }

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want =
        opt && opt->threads ? opt->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    pl.nring = 2u * want + 2u;
    pl.ring = calloc(pl.nring, sizeof *pl.ring);
    if (pl.ring == NULL) {
        st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < pl.nring; i++) {
        buf_init(&pl.ring[i].text, CHUNK_BYTES + RECORD_MAX_JSON);
        for (size_t j = 0; j < CHUNK_LINES; j++)
            sealed_init(&pl.ring[i].sp[j]);
    }
    if (pthread_mutex_init(&pl.mu, NULL) != 0 ||
        pthread_cond_init(&pl.work, NULL) != 0 ||
        pthread_cond_init(&pl.done, NULL) != 0) {
        st = vault_fail(v, SR_ERR_INTERNAL, "cannot create thread primitives");
        goto cleanup;
    }
    for (; nthreads < want; nthreads++)
        if (pthread_create(&threads[nthreads], NULL, worker_main, &pl) != 0)
            break;
    if (nthreads == 0) {
        st = vault_fail(v, SR_ERR_INTERNAL, "cannot start worker threads");
        goto cleanup;
    }

    r.pl = &pl;
    lr.idle = commit_idle;
    lr.idle_ctx = &r;
    bool eof = false;
    for (;;) {
        /* Keep the workers fed. */
        while (!eof && pl.next_read - r.next_commit < pl.nring) {
            chunk *c = &pl.ring[pl.next_read % pl.nring];
            st = fill_chunk(v, &lr, c);
            if (st != SR_OK)
                goto stop;
            if (c->nlines == 0) {
                eof = true;
                break;
            }
            pthread_mutex_lock(&pl.mu);
            c->seq = pl.next_read;
            c->state = CHUNK_TODO;
            pl.next_read++;
            pthread_cond_signal(&pl.work);
            pthread_mutex_unlock(&pl.mu);
        }
        if (r.next_commit == pl.next_read)
            break;
        st = commit_next(&r);
        if (st != SR_OK)
            goto stop;
    }
    st = txn_commit(&r, lr.lineno);
stop:
    pthread_mutex_lock(&pl.mu);
    pl.stop = true;
    pthread_cond_broadcast(&pl.work);
    pthread_mutex_unlock(&pl.mu);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    if (r.txn_open) {
        /* Only the batch in progress is lost; say where to resume. */
        (void)v->ops->rollback(v->st);
        r.txn_open = false;
        r.in_txn = 0;
        char why[sizeof v->errmsg];
        (void)snprintf(why, sizeof why, "%s", v->errmsg);
        (void)vault_fail(v, st,
                         "%s; the %llu people stored before are intact, and "
                         "re-running the import resumes it",
                         why, (unsigned long long)sum->stored);
    }
    report_progress(&r, lr.consumed, true);
    pthread_cond_destroy(&pl.work);
    pthread_cond_destroy(&pl.done);
    pthread_mutex_destroy(&pl.mu);
cleanup:
    if (pl.ring != NULL) {
        for (size_t i = 0; i < pl.nring; i++) {
            buf_free(&pl.ring[i].text);
            for (size_t j = 0; j < CHUNK_LINES; j++)
                sealed_free(&pl.ring[i].sp[j]);
        }
        free(pl.ring);
    }
    if (r.reject_fd >= 0) {
        sync_ok = fsync(r.reject_fd) == 0;
        if (close(r.reject_fd) != 0)
            sync_ok = false;
        if (!sync_ok && st == SR_OK)
            st = vault_fail(v, SR_ERR_IO, "cannot write the reject file %s",
                            opt->reject_path);
    }
    if (lr.fd >= 0 && lr.fd != STDIN_FILENO && lr.fd != fd)
        close(lr.fd);
    buf_free(&lr.block);
    return st;
}
