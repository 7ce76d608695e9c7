/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c - the audit log's writer: a MAC-chained journal made durable by
 * group commit, and its integration into tiles under a signed checkpoint.
 *
 * Journal (<vault>/audit/journal):
 *   header  "SRJRNL01" | u64be start | mac0[16]
 *   record  u32be len | u64be index | data[len] | mac[16]
 *   mac0 = BLAKE2b-128(key, "SRJRNL01" | start)
 *   mac  = BLAKE2b-128(key, previous mac | len | index | data)
 * start is the tree size when the journal was last emptied; records carry
 * consecutive leaf indexes from there. The chain makes an edited, dropped,
 * reordered or inserted record fail verification for anyone without the
 * vault key; the one thing it cannot tell from a crash is the loss of the
 * very last records, which is why a checkpoint follows every CLI command
 * and every second of a server (docs/audit.md, "What the journal
 * protects").
 *
 * Locks: `mu` guards the queue of waiting appends; `io` serialises this
 * process's file work; the flock on audit/lock serialises processes.
 * Order: mu is never held while taking io; io before the flock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tile.h"
#include "audit/tilefs.h"
#include "crypto/crypto.h"

#define JRNL_MAGIC "SRJRNL01"
#define JRNL_MAGIC_LEN 8u
#define JRNL_MAC_BYTES 16u
#define JRNL_HEADER_BYTES (JRNL_MAGIC_LEN + 8u + JRNL_MAC_BYTES)
#define JRNL_REC_OVERHEAD (4u + 8u + JRNL_MAC_BYTES)
#define JRNL_REC_MAX (JRNL_REC_OVERHEAD + 65535u)
#define CHECKPOINT_MAX (64u * 1024u)
/* The journal is started afresh at a checkpoint once it is this large
 * (until then integration reads on from where it stopped). */
#define JRNL_RESET_BYTES (16u * 1024u * 1024u)
#define LEVELS_MAX 8u /* 8 levels of 8 bits cover 2^64 leaves */
/* The journal keeps zeros written ahead of its records (docs/audit.md,
 * "Journal"): an append then overwrites bytes the file already has, so its
 * fdatasync writes the data without the inode (the size is unchanged).
 * The room grows with the file, from JRNL_GROW_MIN to JRNL_GROW_MAX at a
 * time. */
#define JRNL_GROW_MIN (16u * 1024u)
#define JRNL_GROW_MAX (256u * 1024u)

/* A place in the journal: the byte offset of the record with index
 * `next`, and the MAC chain value before it. */
typedef struct jcursor {
    uint64_t off;
    uint64_t next;
    uint8_t chain[JRNL_MAC_BYTES];
} jcursor;

typedef struct waiter {
    const uint8_t *data;
    size_t len;
    uint64_t index;
    sr_status st;
    bool done;
    char *msg;
    struct waiter *next;
    /* The semaphore its thread sleeps on (one per appending call, so a
     * finished batch wakes its own threads and the next leader only, not
     * every thread waiting: on 2 CPUs with 64 appenders, waking all of
     * them each batch cost more than the appends). */
    struct caller *wake;
} waiter;

struct audit_log {
    /* registry */
    char *vault_dir;
    unsigned refs;
    struct audit_log *next;

    char *log_dir;
    char *nodes_dir;
    char *journal_path;
    char *checkpoint_path;
    char origin[AUDIT_ORIGIN_MAX + 1];
    uint8_t *jkey; /* sodium_malloc, JRNL key */
    note_signer signer;
    note_verifier verifier;

    pthread_mutex_t mu;
    waiter *head, *tail;
    bool leading;

    pthread_mutex_t io;
    int lock_fd;
    bool broken;
    char broken_msg[AUDIT_MSG_MAX];
    /* the journal as this process has read it */
    int jfd;
    ino_t jino;
    uint64_t jsize; /* the journal file's size when last looked at */
    uint64_t jstart;
    jcursor j; /* the end of the journal as this process has read it */
    /* Where integration stopped (the record at index `size`) in the
     * journal file ic_ino, so the next one reads only what is new. */
    jcursor ic;
    ino_t ic_ino;
    /* One integration at a time: in this process, and across processes
     * (flock on audit/ilock, never held by appenders). */
    pthread_mutex_t integ_mu;
    int ilock_fd;
    /* integrated state */
    uint64_t size;
    merkle_frontier frontier; /* valid when frontier.size == size */
    tilefs *tiles;
    /* what the log's callers wait for (audit_log_stats) */
    sr_latency append_lat, sync_lat;
    uint64_t batches;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static audit_log *registry;

static sr_status say(char *msg, sr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sr_status say(char *msg, sr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, AUDIT_MSG_MAX, fmt, ap);
    va_end(ap);
    return st;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p != NULL)
        (void)snprintf(p, n, "%s/%s", a, b);
    return p;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- journal ------------------------------------------------------------- */

static void jrnl_mac0(const uint8_t *key, uint64_t start,
                      uint8_t out[JRNL_MAC_BYTES])
{
    uint8_t in[JRNL_MAGIC_LEN + 8];
    memcpy(in, JRNL_MAGIC, JRNL_MAGIC_LEN);
    put_be64(in + JRNL_MAGIC_LEN, start);
    (void)crypto_generichash(out, JRNL_MAC_BYTES, in, sizeof in, key,
                             CRYPTO_KEY_BYTES);
}

/* mac over previous mac | record header | data. */
static void jrnl_mac(const uint8_t *key, const uint8_t prev[JRNL_MAC_BYTES],
                     const uint8_t hdr[12], const uint8_t *data, size_t len,
                     uint8_t out[JRNL_MAC_BYTES])
{
    crypto_generichash_state s;
    (void)crypto_generichash_init(&s, key, CRYPTO_KEY_BYTES, JRNL_MAC_BYTES);
    (void)crypto_generichash_update(&s, prev, JRNL_MAC_BYTES);
    (void)crypto_generichash_update(&s, hdr, 12);
    (void)crypto_generichash_update(&s, data, len);
    (void)crypto_generichash_final(&s, out, JRNL_MAC_BYTES);
}

static sr_status jrnl_header(const uint8_t *key, uint64_t start,
                             uint8_t out[JRNL_HEADER_BYTES])
{
    memcpy(out, JRNL_MAGIC, JRNL_MAGIC_LEN);
    put_be64(out + JRNL_MAGIC_LEN, start);
    jrnl_mac0(key, start, out + JRNL_MAGIC_LEN + 8);
    return SR_OK;
}

static sr_status jrnl_reset(audit_log *l, uint64_t start, char *msg)
{
    uint8_t hdr[JRNL_HEADER_BYTES];
    (void)jrnl_header(l->jkey, start, hdr);
    sr_status st = file_write_atomic(l->journal_path, hdr, sizeof hdr, 0600);
    if (st != SR_OK)
        return say(msg, st, "cannot write the audit journal %s: %s",
                   l->journal_path, strerror(errno));
    if (l->jfd >= 0)
        close(l->jfd);
    l->jfd = -1; /* reopened, and re-read, by the next refresh */
    return SR_OK;
}

/* Called for each verified record by jrnl_walk. */
typedef sr_status (*jrnl_fn)(void *ctx, uint64_t index, const uint8_t *data,
                             size_t len);

/* A window on the journal file: records are read a large block at a time
 * (an integration walks every record since the last checkpoint). */
#define JRNL_WINDOW (256u * 1024u)

typedef struct jwin {
    sr_buf b;
    uint64_t off; /* the file offset of b.p[0] */
} jwin;

/* Point *out at bytes [off, off + n) of fd, reading a window from off when
 * they are not in it; the number available (< n at the end of the file),
 * or -1 with errno. */
static ssize_t jwin_get(int fd, jwin *w, uint64_t off, size_t n,
                        const uint8_t **out)
{
    if (off >= w->off && off + n <= w->off + w->b.len) {
        *out = w->b.p + (off - w->off);
        return (ssize_t)n;
    }
    w->b.len = 0;
    if (buf_reserve(&w->b, JRNL_WINDOW) != SR_OK) {
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < JRNL_WINDOW) {
        ssize_t r =
            pread(fd, w->b.p + got, JRNL_WINDOW - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    w->off = off;
    w->b.len = got;
    *out = w->b.p;
    return (ssize_t)(got < n ? got : n);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* 1 if fd holds only zero bytes from off to its end, 0 if not, -1 on a
 * read error (errno). */
static int zero_to_eof(int fd, uint64_t off)
{
    uint8_t b[16384];
    for (;;) {
        ssize_t r = pread(fd, b, sizeof b, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? 1 : -1;
        if (!all_zero(b, (size_t)r))
            return 0;
        off += (uint64_t)r;
    }
}

/* Cut the journal at off (a crash remnant starts there), durably. */
static sr_status jrnl_cut(int fd, uint64_t off, char *msg)
{
    if (ftruncate(fd, (off_t)off) != 0 || fdatasync(fd) != 0)
        return say(msg, SR_ERR_IO,
                   "cannot cut a torn record off the audit journal: %s",
                   strerror(errno));
    return SR_OK;
}

/* Read the records of journal file fd from c to the end (or to byte
 * offset end), verifying the chain, calling fn (may be NULL) for each,
 * and advancing c. The records end at the end of the file or at a header
 * of twelve zero bytes (no record is empty): the room written ahead.
 * Two kinds of record are crash remnants (an append that never returned,
 * torn by a crash of the machine), which with `repair` are cut away with
 * everything after them: one cut off by the end of the file, and one whose
 * MAC is all zeros with only zeros after it (its last sector never reached
 * the room written ahead). */
static sr_status jrnl_walk(audit_log *l, int fd, jcursor *c, uint64_t end,
                           bool repair, jrnl_fn fn, void *ctx, char *msg)
{
    jwin w;
    sr_status st = SR_OK;
    uint8_t probe[12];

    /* Every batch of appends walks from the end, usually finding
     * nothing: one header tells, before a window is read. */
    ssize_t r =
        c->off < end ? pread(fd, probe, sizeof probe, (off_t)c->off) : 0;
    if (r < 0)
        return say(msg, SR_ERR_IO, "cannot read the audit journal: %s",
                   strerror(errno));
    if (r == 0 || (r == (ssize_t)sizeof probe && all_zero(probe, sizeof probe)))
        return SR_OK;
    buf_init(&w.b, JRNL_WINDOW);
    w.off = 0;
    while (c->off < end) {
        const uint8_t *rec_hdr;
        r = jwin_get(fd, &w, c->off, 12, &rec_hdr);
        if (r == 0 || (r == 12 && all_zero(rec_hdr, 12)))
            break;
        if (r < 0) {
            st = say(msg, SR_ERR_IO, "cannot read the audit journal: %s",
                     strerror(errno));
            goto cleanup;
        }
        uint32_t len = r == 12 ? (uint32_t)get_be(rec_hdr, 4) : 0;
        uint64_t index = r == 12 ? get_be(rec_hdr + 4, 8) : 0;
        size_t need = 12u + (size_t)len + JRNL_MAC_BYTES;
        const uint8_t *rec = rec_hdr;
        ssize_t got = 0;
        /* Only a record a writer could have written can be torn: a whole
         * header with a length over 65535 is damage, and must fail rather
         * than have the repair below cut every later record away. */
        bool len_ok = r == 12 && len <= 65535u;
        if (len_ok)
            got = jwin_get(fd, &w, c->off, need, &rec);
        if (r < 12 || (len_ok && got >= 0 && (size_t)got < need)) {
            /* Torn at the end of the file: a crash before the sync. */
            struct stat sb;
            if (fstat(fd, &sb) == 0 &&
                (uint64_t)sb.st_size < c->off + (r < 12 ? 12u : need)) {
                if (repair && (st = jrnl_cut(fd, c->off, msg)) != SR_OK)
                    goto cleanup;
                break;
            }
        }
        uint8_t mac[JRNL_MAC_BYTES];
        if (got < 0 || (size_t)got != need || len > 65535u) {
            st = say(msg, SR_ERR_AUDIT,
                     "the audit journal is damaged at entry %llu",
                     (unsigned long long)c->next);
            goto cleanup;
        }
        const uint8_t *data = rec + 12;
        jrnl_mac(l->jkey, c->chain, rec, data, len, mac);
        if (index != c->next ||
            sodium_memcmp(mac, data + len, JRNL_MAC_BYTES) != 0) {
            int after = all_zero(data + len, JRNL_MAC_BYTES)
                            ? zero_to_eof(fd, c->off + need)
                            : 0;
            if (after < 0) {
                st = say(msg, SR_ERR_IO, "cannot read the audit journal: %s",
                         strerror(errno));
                goto cleanup;
            }
            if (after == 1) {
                /* Torn in the room written ahead (its index may be torn
                 * too, when the header straddles the lost sector). */
                if (repair && (st = jrnl_cut(fd, c->off, msg)) != SR_OK)
                    goto cleanup;
                break;
            }
            st = say(msg, SR_ERR_AUDIT,
                     "the audit journal fails verification at entry %llu: "
                     "an entry was edited, removed or reordered",
                     (unsigned long long)c->next);
            goto cleanup;
        }
        if (fn != NULL) {
            st = fn(ctx, index, data, len);
            if (st != SR_OK)
                goto cleanup;
        }
        memcpy(c->chain, mac, JRNL_MAC_BYTES);
        c->off += need;
        c->next++;
    }
cleanup:
    buf_free(&w.b);
    return st;
}

/* (Re)open the journal if another process replaced it, then read what
 * other processes appended. Caller holds io and the flock. */
static sr_status jrnl_refresh(audit_log *l, char *msg)
{
    struct stat sb;
    bool opened = false;
    if (stat(l->journal_path, &sb) != 0)
        return say(msg, SR_ERR_AUDIT, "the audit journal %s is missing: %s",
                   l->journal_path, strerror(errno));
    if (l->jfd < 0 || sb.st_ino != l->jino) {
        uint8_t hdr[JRNL_HEADER_BYTES], mac0[JRNL_MAC_BYTES];
        if (l->jfd >= 0)
            close(l->jfd);
        l->jfd = open(l->journal_path, O_RDWR | O_CLOEXEC);
        if (l->jfd < 0)
            return say(msg, SR_ERR_AUDIT, "cannot open the audit journal: %s",
                       strerror(errno));
        if (fstat(l->jfd, &sb) != 0 ||
            pread(l->jfd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
            return say(msg, SR_ERR_AUDIT,
                       "the audit journal header is unreadable");
        uint64_t start = get_be(hdr + JRNL_MAGIC_LEN, 8);
        jrnl_mac0(l->jkey, start, mac0);
        if (memcmp(hdr, JRNL_MAGIC, JRNL_MAGIC_LEN) != 0 ||
            sodium_memcmp(mac0, hdr + JRNL_MAGIC_LEN + 8, JRNL_MAC_BYTES) != 0)
            return say(msg, SR_ERR_AUDIT,
                       "the audit journal header fails verification");
        l->jino = sb.st_ino;
        l->jstart = start;
        l->j.off = JRNL_HEADER_BYTES;
        l->j.next = start;
        memcpy(l->j.chain, mac0, JRNL_MAC_BYTES);
        opened = true;
    }
    l->jsize = (uint64_t)sb.st_size;
    sr_status st =
        jrnl_walk(l, l->jfd, &l->j, UINT64_MAX, true, NULL, NULL, msg);
    if (st != SR_OK || !opened)
        return st;
    /* After the records, only zeros: bytes there are what a crash of the
     * machine left of an append whose first sector was lost, and the
     * next append would land amid them. Looked for once per opening, the
     * only time such a remnant can be new. */
    int clean = zero_to_eof(l->jfd, l->j.off);
    if (clean < 0)
        return say(msg, SR_ERR_IO, "cannot read the audit journal: %s",
                   strerror(errno));
    if (clean == 0) {
        st = jrnl_cut(l->jfd, l->j.off, msg);
        l->jsize = l->j.off;
    }
    return st;
}

/* Make room for the journal to reach byte `need`: zeros written ahead,
 * which the batch's own fdatasync makes durable along with it. */
static sr_status jrnl_grow(audit_log *l, uint64_t need, char *msg)
{
    static const uint8_t zeros[16384];
    if (need <= l->jsize)
        return SR_OK;
    uint64_t step = l->jsize < JRNL_GROW_MIN   ? JRNL_GROW_MIN
                    : l->jsize > JRNL_GROW_MAX ? JRNL_GROW_MAX
                                               : l->jsize;
    uint64_t to = (need + step + 4095u) / 4096u * 4096u;
    for (uint64_t at = l->jsize; at < to;) {
        size_t n = to - at < sizeof zeros ? (size_t)(to - at) : sizeof zeros;
        ssize_t w = pwrite(l->jfd, zeros, n, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w == 0 ? ENOSPC : errno;
            (void)ftruncate(l->jfd, (off_t)l->jsize);
            return say(msg,
                       e == ENOSPC || e == EDQUOT ? SR_ERR_FULL : SR_ERR_IO,
                       "cannot write the audit journal: %s", strerror(e));
        }
        at += (uint64_t)w;
    }
    l->jsize = to;
    return SR_OK;
}

/* ---- locks --------------------------------------------------------------- */

/* A lock across threads (mu) and processes (flock on fd), in that order. */
static sr_status lock_both(pthread_mutex_t *mu, int fd, char *msg)
{
    pthread_mutex_lock(mu);
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        pthread_mutex_unlock(mu);
        return say(msg, SR_ERR_IO, "cannot lock the audit log: %s",
                   strerror(e));
    }
    return SR_OK;
}

static void unlock_both(pthread_mutex_t *mu, int fd)
{
    (void)flock(fd, LOCK_UN);
    pthread_mutex_unlock(mu);
}

/* The appenders' lock: the journal's end. */
static sr_status io_lock(audit_log *l, char *msg)
{
    return lock_both(&l->io, l->lock_fd, msg);
}

static void io_unlock(audit_log *l)
{
    unlock_both(&l->io, l->lock_fd);
}

/* ---- checkpoints --------------------------------------------------------- */

/* Read and verify <log>/checkpoint. */
static sr_status read_checkpoint(audit_log *l, note_checkpoint *cp, char *msg)
{
    sr_buf b;
    size_t body_len = 0;
    int ok = 0;

    buf_init(&b, CHECKPOINT_MAX);
    sr_status st = file_read(l->checkpoint_path, &b);
    if (st != SR_OK) {
        st = say(msg, SR_ERR_AUDIT, "cannot read the audit checkpoint %s",
                 l->checkpoint_path);
        goto cleanup;
    }
    st = note_open((const char *)b.p, b.len, &l->verifier, 1, &body_len, &ok,
                   NULL);
    if (st != SR_OK || !ok) {
        st = say(msg, SR_ERR_AUDIT,
                 "the audit checkpoint is not signed by this vault's log key");
        goto cleanup;
    }
    st = note_checkpoint_parse((const char *)b.p, body_len, cp);
    if (st != SR_OK || strcmp(cp->origin, l->origin) != 0)
        st = say(msg, SR_ERR_AUDIT,
                 "the audit checkpoint is malformed or names another log");
cleanup:
    buf_free(&b);
    return st;
}

static sr_status write_checkpoint(audit_log *l, uint64_t size,
                                  const uint8_t root[32], char *msg)
{
    sr_buf body, note;
    char hist[64];
    buf_init(&body, CHECKPOINT_MAX);
    buf_init(&note, CHECKPOINT_MAX);
    sr_status st = note_checkpoint_format(l->origin, size, root, &body);
    if (st == SR_OK)
        st = note_sign((const char *)body.p, body.len, &l->signer, &note);
    if (st != SR_OK) {
        st = say(msg, SR_ERR_INTERNAL, "cannot sign the audit checkpoint");
        goto cleanup;
    }
    (void)snprintf(hist, sizeof hist, "history/%llu", (unsigned long long)size);
    char *hpath = join(l->log_dir, hist);
    if (hpath == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    /* The checkpoint first, then its copy in history: a crash between
     * leaves history one head short, which is harmless, where the other
     * order would leave a history newer than the checkpoint, which reads
     * as a rollback. */
    st = file_write_atomic(l->checkpoint_path, note.p, note.len, 0644);
    if (st == SR_OK)
        st = file_write_atomic(hpath, note.p, note.len, 0644);
    free(hpath);
    if (st != SR_OK)
        st = say(msg, st, "cannot write the audit checkpoint: %s",
                 strerror(errno));
cleanup:
    buf_free(&body);
    buf_free(&note);
    return st;
}

/* ---- integration --------------------------------------------------------- */

typedef struct integ {
    audit_log *l;
    char *msg;
    uint64_t from;                  /* the checkpoint's size */
    uint8_t (*lvl)[TILE_WIDTH][32]; /* [LEVELS_MAX] current tile per level */
    sr_buf bundle;                  /* current entry bundle */
    unsigned bundle_n;              /* entries in it */
    int node_fd[64];
    struct node_run *run[64]; /* index writes not yet made */
} integ;

/* Node hashes of one height are completed in index order: they go to the
 * index in runs, one write per NODE_RUN hashes rather than one each. */
#define NODE_RUN 512u
typedef struct node_run {
    uint64_t first;
    unsigned n;
    uint8_t h[NODE_RUN][32];
} node_run;

static sr_status write_tile(integ *g, int level, uint64_t n, unsigned width,
                            const void *p, size_t len)
{
    char rel[TILE_PATH_MAX];
    sr_status st = tile_path(rel, sizeof rel, level, n, width);
    if (st != SR_OK)
        return say(g->msg, SR_ERR_INTERNAL, "bad tile coordinates");
    char *path = join(g->l->log_dir, rel);
    if (path == NULL)
        return SR_ERR_NOMEM;
    st = dirs_for_file(path, 0755);
    if (st == SR_OK)
        st = file_write_atomic(path, p, len, 0644);
    if (st != SR_OK)
        st = say(g->msg, st, "cannot write the audit tile %s: %s", rel,
                 strerror(errno));
    free(path);
    return st;
}

static sr_status node_flush(integ *g, unsigned h)
{
    node_run *r = g->run[h];
    if (r == NULL || r->n == 0)
        return SR_OK;
    if (g->node_fd[h] < 0) {
        char name[8];
        (void)snprintf(name, sizeof name, "%02u", h);
        char *path = join(g->l->nodes_dir, name);
        if (path == NULL)
            return SR_ERR_NOMEM;
        g->node_fd[h] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        /* The index is a derived cache: if someone removed it, start it
         * again rather than fail every checkpoint from now on. */
        if (g->node_fd[h] < 0 && errno == ENOENT &&
            dir_make(g->l->nodes_dir, 0700) == SR_OK)
            g->node_fd[h] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        free(path);
        if (g->node_fd[h] < 0)
            return say(g->msg, SR_ERR_IO, "cannot open the node index: %s",
                       strerror(errno));
    }
    size_t len = (size_t)r->n * 32u, done = 0;
    while (done < len) {
        ssize_t n = pwrite(g->node_fd[h], &r->h[0][0] + done, len - done,
                           (off_t)(r->first * 32u + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return say(g->msg,
                       n == 0 || errno == ENOSPC ? SR_ERR_FULL : SR_ERR_IO,
                       "cannot write the node index: %s",
                       n == 0 ? strerror(ENOSPC) : strerror(errno));
        done += (size_t)n;
    }
    r->n = 0;
    return SR_OK;
}

/* Every height, the tile levels too: a proof then reads one hash per
 * height from the index, not a tile per level (docs/audit.md). */
static sr_status node_store(integ *g, unsigned h, uint64_t i,
                            const uint8_t hash[32])
{
    if (h >= 64)
        return SR_OK;
    node_run *r = g->run[h];
    if (r == NULL) {
        r = g->run[h] = malloc(sizeof *r);
        if (r == NULL)
            return say(g->msg, SR_ERR_NOMEM, "out of memory");
        r->n = 0;
    }
    if (r->n == NODE_RUN || (r->n > 0 && r->first + r->n != i)) {
        sr_status st = node_flush(g, h);
        if (st != SR_OK)
            return st;
    }
    if (r->n == 0)
        r->first = i;
    memcpy(r->h[r->n++], hash, 32);
    return SR_OK;
}

/* Every node the frontier completes: into the node index, and at heights
 * that are multiples of 8 into the tile of that level. */
static sr_status integ_emit(void *ctx, unsigned height, uint64_t index,
                            const uint8_t hash[32])
{
    integ *g = ctx;
    sr_status st = node_store(g, height, index, hash);
    if (st != SR_OK || height % TILE_HEIGHT != 0)
        return st;
    unsigned level = height / TILE_HEIGHT;
    if (level >= LEVELS_MAX)
        return SR_OK;
    memcpy(g->lvl[level][index % TILE_WIDTH], hash, 32);
    if (index % TILE_WIDTH == TILE_WIDTH - 1)
        st = write_tile(g, (int)level, index / TILE_WIDTH, TILE_WIDTH,
                        g->lvl[level], sizeof g->lvl[level]);
    return st;
}

static sr_status integ_entry(void *ctx, uint64_t index, const uint8_t *data,
                             size_t len)
{
    integ *g = ctx;
    uint8_t leaf[32];
    sr_status st;

    if (index < g->from)
        return SR_OK; /* already in the tiles */
    st = bundle_add(&g->bundle, data, len);
    if (st != SR_OK)
        return say(g->msg, SR_ERR_AUDIT, "audit entry %llu is too large",
                   (unsigned long long)index);
    if (++g->bundle_n == TILE_WIDTH) {
        st = write_tile(g, TILE_LEVEL_ENTRIES, index / TILE_WIDTH, TILE_WIDTH,
                        g->bundle.p, g->bundle.len);
        buf_reset(&g->bundle);
        g->bundle_n = 0;
        if (st != SR_OK)
            return st;
    }
    merkle_leaf_hash(data, len, leaf);
    st = merkle_frontier_append(&g->l->frontier, leaf, integ_emit, g);
    if (st != SR_OK && g->msg[0] == '\0')
        st = say(g->msg, st, "cannot extend the audit tree");
    return st;
}

/* Does the right-edge tile of `level` (w hashes) hold exactly the nodes the
 * frontier has at heights 8 level .. 8 level + 7? Those are the perfect
 * subtrees over it, one per set bit of w. */
static bool edge_tile_ok(const merkle_frontier *f, unsigned level,
                         const uint8_t (*h)[32], unsigned w)
{
    merkle_frontier t;
    merkle_frontier_init(&t);
    for (unsigned i = 0; i < w; i++)
        if (merkle_frontier_append(&t, h[i], NULL, NULL) != SR_OK)
            return false;
    for (unsigned b = 0; b < TILE_HEIGHT; b++)
        if (((w >> b) & 1u) != 0 &&
            sodium_memcmp(t.h[b], f->h[level * TILE_HEIGHT + b], 32) != 0)
            return false;
    return true;
}

/* bundle_parse callback: entry i of the partial bundle hashes to hash i of
 * the partial level-0 tile. */
static sr_status edge_entry_ok(void *ctx, uint64_t i, const uint8_t *data,
                               size_t len)
{
    const integ *g = ctx;
    uint8_t leaf[32];
    merkle_leaf_hash(data, len, leaf);
    return sodium_memcmp(leaf, g->lvl[0][i], 32) == 0 ? SR_OK : SR_ERR_CORRUPT;
}

/* Load the frontier, the partial tiles and the partial bundle at size.
 * The frontier hashes to the signed root; the partial tiles and bundle,
 * which integration extends and rewrites as full ones, are checked
 * against it: a damaged one is refused, not signed over. */
static sr_status integ_load(integ *g, const note_checkpoint *cp)
{
    audit_log *l = g->l;
    sr_status st;
    unsigned w;

    tilefs_set_size(l->tiles, cp->size);
    if (l->frontier.size != cp->size) {
        st =
            merkle_frontier_load(&l->frontier, cp->size, tilefs_node, l->tiles);
        if (st != SR_OK)
            return say(g->msg, SR_ERR_AUDIT, "cannot read the audit tiles: %s",
                       tilefs_errmsg(l->tiles));
    }
    uint8_t root[32];
    merkle_frontier_root(&l->frontier, root);
    if (sodium_memcmp(root, cp->root, 32) != 0)
        return say(g->msg, SR_ERR_AUDIT,
                   "the audit tiles do not hash to the signed checkpoint");
    for (unsigned level = 0; level < LEVELS_MAX; level++) {
        uint64_t count = tile_level_count(level, cp->size);
        if (count % TILE_WIDTH == 0)
            continue;
        st = tilefs_read_tile(l->tiles, level, count / TILE_WIDTH,
                              g->lvl[level], &w);
        if (st != SR_OK)
            return say(g->msg, SR_ERR_AUDIT, "cannot read the audit tiles: %s",
                       tilefs_errmsg(l->tiles));
        if (!edge_tile_ok(&l->frontier, level,
                          (const uint8_t(*)[32])g->lvl[level], w))
            return say(g->msg, SR_ERR_AUDIT,
                       "the audit tile at level %u, right edge, does not "
                       "hash to the signed checkpoint",
                       level);
    }
    if (cp->size % TILE_WIDTH != 0) {
        st =
            tilefs_read_bundle(l->tiles, cp->size / TILE_WIDTH, &g->bundle, &w);
        if (st != SR_OK)
            return say(g->msg, SR_ERR_AUDIT, "cannot read the audit log: %s",
                       tilefs_errmsg(l->tiles));
        if (bundle_parse(g->bundle.p, g->bundle.len, w, edge_entry_ok, g) !=
            SR_OK)
            return say(g->msg, SR_ERR_AUDIT,
                       "the last audit entry bundle (entries from %llu) "
                       "does not match the signed checkpoint",
                       (unsigned long long)(cp->size - w));
        g->bundle_n = w;
    }
    return SR_OK;
}

/* The partial right-edge tiles and bundle of the new size. */
static sr_status integ_finish(integ *g, uint64_t size)
{
    sr_status st = SR_OK;
    for (unsigned level = 0; level < LEVELS_MAX && st == SR_OK; level++) {
        uint64_t count = tile_level_count(level, size);
        unsigned w = (unsigned)(count % TILE_WIDTH);
        if (w != 0)
            st = write_tile(g, (int)level, count / TILE_WIDTH, w, g->lvl[level],
                            (size_t)w * 32u);
    }
    if (st == SR_OK && g->bundle_n > 0)
        st = write_tile(g, TILE_LEVEL_ENTRIES, size / TILE_WIDTH, g->bundle_n,
                        g->bundle.p, g->bundle.len);
    for (unsigned h = 0; h < 64 && st == SR_OK; h++)
        st = node_flush(g, h);
    for (unsigned h = 0; h < 64 && st == SR_OK; h++)
        if (g->node_fd[h] >= 0 && fdatasync(g->node_fd[h]) != 0)
            st = say(g->msg, SR_ERR_IO, "cannot sync the node index: %s",
                     strerror(errno));
    return st;
}

/* Integrate the records of journal file fd (inode ino, starting at index
 * jstart) up to cursor end: the tiles, the node index and a signed
 * checkpoint for end->next. Needs only the integration locks: the records
 * before end are written and synced, appenders only add after them, and
 * nobody else replaces the journal meanwhile (that needs the integration
 * locks too). *size gets the checkpoint's size. */
static sr_status integrate(audit_log *l, int fd, ino_t ino, uint64_t jstart,
                           const jcursor *end, uint64_t *size, char *msg)
{
    note_checkpoint cp;
    integ g;
    sr_status st = read_checkpoint(l, &cp, msg);
    if (st != SR_OK)
        return st;
    if (cp.size < jstart || cp.size > end->next)
        return say(msg, SR_ERR_AUDIT,
                   "the audit journal (entries %llu to %llu) does not "
                   "continue the checkpoint (size %llu)",
                   (unsigned long long)jstart, (unsigned long long)end->next,
                   (unsigned long long)cp.size);
    l->size = cp.size;
    *size = cp.size;
    if (cp.size == end->next)
        return SR_OK;

    memset(&g, 0, sizeof g);
    g.l = l;
    g.msg = msg;
    g.from = cp.size;
    for (unsigned h = 0; h < 64; h++)
        g.node_fd[h] = -1;
    buf_init(&g.bundle, (size_t)TILE_WIDTH * 65537u);
    g.lvl = calloc(LEVELS_MAX, sizeof *g.lvl);
    msg[0] = '\0';
    if (g.lvl == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    st = integ_load(&g, &cp);
    if (st != SR_OK)
        goto cleanup;
    /* From where the last integration stopped, if that is this size in
     * this journal; else from the journal's start (the records before the
     * checkpoint are verified and skipped). */
    jcursor c;
    if (l->ic_ino == ino && l->ic.next == cp.size && l->ic.off != 0) {
        c = l->ic;
    } else {
        c.off = JRNL_HEADER_BYTES;
        c.next = jstart;
        jrnl_mac0(l->jkey, jstart, c.chain);
    }
    st = jrnl_walk(l, fd, &c, end->off, false, integ_entry, &g, msg);
    if (st == SR_OK && (c.off != end->off || c.next != end->next))
        st = say(msg, SR_ERR_AUDIT, "the audit journal changed under us");
    if (st == SR_OK)
        st = integ_finish(&g, c.next);
    uint8_t root[32];
    if (st == SR_OK) {
        merkle_frontier_root(&l->frontier, root);
        st = write_checkpoint(l, c.next, root, msg);
    }
    if (st != SR_OK) {
        l->frontier.size = UINT64_MAX; /* reload next time */
        l->ic.off = 0;
        goto cleanup;
    }
    l->size = c.next;
    *size = l->size;
    tilefs_set_size(l->tiles, l->size);
    l->ic = c;
    l->ic_ino = ino;
cleanup:
    for (unsigned h = 0; h < 64; h++) {
        if (g.node_fd[h] >= 0)
            close(g.node_fd[h]);
        free(g.run[h]);
    }
    free(g.lvl);
    buf_free(&g.bundle);
    return st;
}

/* ---- open, create, release ------------------------------------------------
 */

static void log_free(audit_log *l)
{
    if (l == NULL)
        return;
    if (l->jfd >= 0)
        close(l->jfd);
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    if (l->ilock_fd >= 0)
        close(l->ilock_fd);
    tilefs_free(l->tiles);
    note_signer_wipe(&l->signer);
    sodium_free(l->jkey);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->io);
    pthread_mutex_destroy(&l->integ_mu);
    free(l->vault_dir);
    free(l->log_dir);
    free(l->nodes_dir);
    free(l->journal_path);
    free(l->checkpoint_path);
    free(l);
}

static sr_status log_new(audit_log **out, const audit_log_config *c, char *msg)
{
    audit_log *l = calloc(1, sizeof *l);
    *out = NULL;
    if (l == NULL)
        return say(msg, SR_ERR_NOMEM, "out of memory");
    l->jfd = -1;
    l->lock_fd = -1;
    l->ilock_fd = -1;
    l->frontier.size = UINT64_MAX;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->io, NULL);
    pthread_mutex_init(&l->integ_mu, NULL);
    l->vault_dir = strdup(c->vault_dir);
    l->log_dir = join(c->vault_dir, "log");
    l->nodes_dir = join(c->vault_dir, "audit/nodes");
    l->journal_path = join(c->vault_dir, "audit/journal");
    l->checkpoint_path = join(c->vault_dir, "log/checkpoint");
    l->jkey = sodium_malloc(CRYPTO_KEY_BYTES);
    if (l->vault_dir == NULL || l->log_dir == NULL || l->nodes_dir == NULL ||
        l->journal_path == NULL || l->checkpoint_path == NULL ||
        l->jkey == NULL) {
        log_free(l);
        return say(msg, SR_ERR_NOMEM, "out of memory");
    }
    memcpy(l->jkey, c->journal_key, CRYPTO_KEY_BYTES);
    size_t on = strlen(c->origin);
    if (on == 0 || on > AUDIT_ORIGIN_MAX) {
        log_free(l);
        return say(msg, SR_ERR_INVALID, "the log origin is empty or too long");
    }
    memcpy(l->origin, c->origin, on + 1);
    if (note_signer_from_seed(&l->signer, c->origin, NOTE_TYPE_ED25519,
                              c->sign_seed) != SR_OK) {
        log_free(l);
        return say(msg, SR_ERR_INVALID,
                   "the log origin is not a valid key name");
    }
    note_verifier_from_signer(&l->verifier, &l->signer);
    /* No node index for the writer's own reads: the frontier is then
     * folded from the right-edge tiles themselves, so the root check at
     * open covers every hash of them (the index is a derived cache for
     * readers, and a hash taken from it would vouch for nothing). */
    if (tilefs_open(&l->tiles, l->log_dir, NULL, 0) != SR_OK) {
        log_free(l);
        return say(msg, SR_ERR_NOMEM, "out of memory");
    }
    *out = l;
    return SR_OK;
}

/* Open (creating) the lock file <vault>/<name> into *fd. */
static sr_status open_lock_file(audit_log *l, const char *name, int *fd,
                                char *msg)
{
    char *path = join(l->vault_dir, name);
    if (path == NULL)
        return SR_ERR_NOMEM;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(path);
    if (*fd < 0)
        return say(msg, SR_ERR_AUDIT, "cannot open the audit lock %s: %s", name,
                   strerror(errno));
    return SR_OK;
}

static sr_status open_lock(audit_log *l, char *msg)
{
    sr_status st = open_lock_file(l, "audit/lock", &l->lock_fd, msg);
    return st == SR_OK ? open_lock_file(l, "audit/ilock", &l->ilock_fd, msg)
                       : st;
}

sr_status audit_log_create(const audit_log_config *c, char msg[AUDIT_MSG_MAX])
{
    audit_log *l = NULL;
    uint8_t root[32];
    char vkey[NOTE_VKEY_MAX + 1];
    sr_status st = log_new(&l, c, msg);
    if (st != SR_OK)
        return st;
    if (access(l->checkpoint_path, F_OK) == 0) {
        st = say(msg, SR_ERR_EXISTS, "an audit log already exists in %s",
                 l->log_dir);
        goto cleanup;
    }
    char *hist = join(l->log_dir, "history");
    st = hist == NULL ? SR_ERR_NOMEM : dir_make(hist, 0755);
    free(hist);
    if (st == SR_OK)
        st = dir_make(l->nodes_dir, 0700);
    if (st != SR_OK) {
        st = say(msg, st, "cannot create the audit log directories: %s",
                 strerror(errno));
        goto cleanup;
    }
    st = open_lock(l, msg);
    if (st == SR_OK)
        st = jrnl_reset(l, 0, msg);
    merkle_empty_root(root);
    if (st == SR_OK)
        st = write_checkpoint(l, 0, root, msg);
    if (st == SR_OK &&
        note_vkey_format(&l->verifier, vkey, sizeof vkey) != SR_OK)
        st = say(msg, SR_ERR_INTERNAL, "cannot format the log verifier key");
    if (st == SR_OK) {
        char *vpath = join(c->vault_dir, "log.vkey");
        size_t vn = strlen(vkey);
        vkey[vn] = '\n';
        st = vpath == NULL ? SR_ERR_NOMEM
                           : file_write_atomic(vpath, vkey, vn + 1, 0644);
        free(vpath);
        if (st != SR_OK)
            st = say(msg, st, "cannot write log.vkey: %s", strerror(errno));
    }
cleanup:
    log_free(l);
    return st;
}

sr_status audit_log_open(audit_log **out, const audit_log_config *c,
                         char msg[AUDIT_MSG_MAX])
{
    audit_log *l = NULL;
    note_checkpoint cp;
    sr_status st;

    *out = NULL;
    pthread_mutex_lock(&registry_mu);
    for (audit_log *x = registry; x != NULL; x = x->next) {
        if (strcmp(x->vault_dir, c->vault_dir) == 0) {
            __atomic_fetch_add(&x->refs, 1, __ATOMIC_RELAXED);
            *out = x;
            pthread_mutex_unlock(&registry_mu);
            return SR_OK;
        }
    }
    st = log_new(&l, c, msg);
    if (st != SR_OK)
        goto cleanup;
    st = open_lock(l, msg);
    if (st != SR_OK)
        goto cleanup;
    st = io_lock(l, msg);
    if (st != SR_OK)
        goto cleanup;
    st = read_checkpoint(l, &cp, msg);
    if (st == SR_OK) {
        uint8_t root[32];
        tilefs_set_size(l->tiles, cp.size);
        st = merkle_frontier_load(&l->frontier, cp.size, tilefs_node, l->tiles);
        if (st != SR_OK)
            st = say(msg, SR_ERR_AUDIT, "cannot read the audit tiles: %s",
                     tilefs_errmsg(l->tiles));
        else {
            merkle_frontier_root(&l->frontier, root);
            if (sodium_memcmp(root, cp.root, 32) != 0)
                st = say(msg, SR_ERR_AUDIT,
                         "the audit tiles do not hash to the signed "
                         "checkpoint (size %llu)",
                         (unsigned long long)cp.size);
        }
        l->size = cp.size;
    }
    if (st == SR_OK)
        st = jrnl_refresh(l, msg);
    if (st == SR_OK && (cp.size < l->jstart || cp.size > l->j.next))
        st = say(msg, SR_ERR_AUDIT,
                 "the audit journal (entries %llu to %llu) does not continue "
                 "the checkpoint (size %llu)",
                 (unsigned long long)l->jstart, (unsigned long long)l->j.next,
                 (unsigned long long)cp.size);
    io_unlock(l);
    if (st != SR_OK)
        goto cleanup;
    l->refs = 1;
    l->next = registry;
    registry = l;
    *out = l;
    l = NULL;
cleanup:
    pthread_mutex_unlock(&registry_mu);
    log_free(l);
    return st;
}

void audit_log_release(audit_log *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&registry_mu);
    if (__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) > 0) {
        pthread_mutex_unlock(&registry_mu);
        return;
    }
    for (audit_log **p = &registry; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    if (!l->broken && l->j.next > l->size) {
        char msg[AUDIT_MSG_MAX];
        uint64_t size;
        sr_status ignored = audit_log_checkpoint(l, &size, msg);
        (void)ignored;
    }
    log_free(l);
}

/* ---- appends ------------------------------------------------------------- */

/* Write one batch of waiters as journal records with one sync. */
static void write_batch(audit_log *l, waiter *batch)
{
    char msg[AUDIT_MSG_MAX];
    sr_buf b;
    sr_status st = io_lock(l, msg);
    uint64_t first = 0;

    buf_init(&b, SIZE_MAX / 2);
    if (st != SR_OK)
        goto fail_unlocked;
    if (l->broken) {
        st = say(msg, SR_ERR_AUDIT, "%s", l->broken_msg);
        goto fail;
    }
    st = jrnl_refresh(l, msg);
    if (st != SR_OK)
        goto fail;
    first = l->j.next;
    uint8_t chain[JRNL_MAC_BYTES];
    memcpy(chain, l->j.chain, sizeof chain);
    uint64_t index = first;
    for (waiter *w = batch; w != NULL; w = w->next, index++) {
        uint8_t hdr[12], mac[JRNL_MAC_BYTES];
        put_be32(hdr, (uint32_t)w->len);
        put_be64(hdr + 4, index);
        jrnl_mac(l->jkey, chain, hdr, w->data, w->len, mac);
        st = buf_append(&b, hdr, sizeof hdr);
        if (st == SR_OK)
            st = buf_append(&b, w->data, w->len);
        if (st == SR_OK)
            st = buf_append(&b, mac, sizeof mac);
        if (st != SR_OK) {
            st = say(msg, SR_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(chain, mac, sizeof mac);
    }
    st = jrnl_grow(l, l->j.off + b.len, msg);
    if (st != SR_OK)
        goto fail;
    size_t done = 0;
    while (done < b.len) {
        ssize_t n =
            pwrite(l->jfd, b.p + done, b.len - done, (off_t)(l->j.off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n == 0 ? ENOSPC : errno;
            /* Leave no partial batch behind; the next writer starts at
             * joff either way. */
            (void)ftruncate(l->jfd, (off_t)l->j.off);
            st = say(msg, e == ENOSPC || e == EDQUOT ? SR_ERR_FULL : SR_ERR_IO,
                     "cannot write the audit journal: %s", strerror(e));
            goto fail;
        }
        done += (size_t)n;
    }
    uint64_t t_sync = now_ns();
    int synced = fdatasync(l->jfd);
    sr_latency_observe(&l->sync_lat, now_ns() - t_sync);
    __atomic_fetch_add(&l->batches, 1, __ATOMIC_RELAXED);
    if (synced != 0) {
        int e = errno;
        /* After a failed sync the kernel may have dropped the pages: no
         * later append can be trusted, so the log stays broken. */
        l->broken = true;
        st = say(msg, SR_ERR_AUDIT, "cannot sync the audit journal: %s",
                 strerror(e));
        (void)snprintf(l->broken_msg, sizeof l->broken_msg, "%s", msg);
        goto fail;
    }
    l->j.off += b.len;
    l->j.next = index;
    memcpy(l->j.chain, chain, sizeof chain);
    io_unlock(l);
    buf_free(&b);
    index = first;
    for (waiter *w = batch; w != NULL; w = w->next)
        w->index = index++, w->st = SR_OK;
    return;
fail:
    io_unlock(l);
fail_unlocked:
    buf_free(&b);
    for (waiter *w = batch; w != NULL; w = w->next) {
        w->st = st;
        (void)snprintf(w->msg, AUDIT_MSG_MAX, "%s", msg);
    }
}

/* Check one entry before it joins the queue. */
static sr_status entry_ok(const uint8_t *e, size_t len, char *msg)
{
    audit_entry check;
    if (len > 65535u)
        return say(msg, SR_ERR_INVALID, "an audit entry is too large");
    /* One malformed entry would make the whole log fail verification
     * forever: refuse it here. */
    if (entry_decode(e, len, &check) != SR_OK)
        return say(msg, SR_ERR_INVALID, "refusing a malformed audit entry");
    return SR_OK;
}

/* One appending call, as the leader sees it: where its thread sleeps, and
 * how many posts were promised to it (under mu) and not yet taken. */
typedef struct caller {
    sem_t sem;
    unsigned owed;
} caller;

/* Queue w[0 .. n) in one piece: a leader takes the whole queue, so they
 * land in one batch, at consecutive indexes. me is where the calling
 * thread will sleep in chain_wait. */
static void chain_queue(audit_log *l, waiter *w, size_t n, caller *me)
{
    (void)sem_init(&me->sem, 0, 0);
    me->owed = 0;
    for (size_t i = 0; i < n; i++) {
        w[i].wake = me;
        w[i].next = i + 1 < n ? &w[i + 1] : NULL;
    }
    pthread_mutex_lock(&l->mu);
    if (l->tail != NULL)
        l->tail->next = &w[0];
    else
        l->head = &w[0];
    l->tail = &w[n - 1];
    pthread_mutex_unlock(&l->mu);
}

/* Wait until w[0 .. n), queued by chain_queue, are written and synced,
 * leading a batch when nobody else is.
 *
 * Wake-ups: each call sleeps on a semaphore of its own. A leader, done,
 * marks its batch under mu and promises (owed++) one post to each other
 * call of it and one to the call first in the queue, which is to lead
 * next (unless a thread arriving meanwhile leads first and takes it
 * along); it posts only after releasing mu, so a woken thread finds mu
 * free rather than going straight back to sleep on it. A call returns
 * only once it has taken every post promised to it, so no post can reach
 * a semaphore that is gone. A queued call whose thread is not waiting yet
 * (a ticket) banks its posts and takes them when it waits. */
static void chain_wait(audit_log *l, waiter *w, size_t n, caller *me)
{
    pthread_mutex_lock(&l->mu);
    while (!w[n - 1].done || me->owed > 0) {
        if (w[n - 1].done || l->leading) {
            pthread_mutex_unlock(&l->mu);
            while (sem_wait(&me->sem) != 0 && errno == EINTR) {
            }
            pthread_mutex_lock(&l->mu);
            me->owed--;
            continue;
        }
        /* Lead: take everyone queued so far; one sync covers them. */
        waiter *batch = l->head;
        l->head = l->tail = NULL;
        l->leading = true;
        pthread_mutex_unlock(&l->mu);
        write_batch(l, batch);
        pthread_mutex_lock(&l->mu);
        /* The calls to wake: a list through `next` of their last
         * waiters would be gone once they run, so collect them here. */
        size_t ncalls = 0;
        for (waiter *x = batch; x != NULL; x = x->next)
            if (x->next == NULL || x->next->wake != x->wake)
                ncalls++;
        caller *stack_posts[64];
        caller **posts = ncalls + 1 <= 64
                             ? stack_posts
                             : malloc((ncalls + 1) * sizeof *posts);
        size_t np = 0;
        l->leading = false;
        /* The next leader first: its batch, already queued, should not
         * wait for this one's wake-ups. */
        if (posts != NULL && l->head != NULL) {
            l->head->wake->owed++;
            posts[np++] = l->head->wake;
        }
        for (waiter *x = batch; x != NULL; x = x->next) {
            x->done = true;
            if (posts != NULL && x->wake != me &&
                (x->next == NULL || x->next->wake != x->wake)) {
                x->wake->owed++;
                posts[np++] = x->wake;
            }
        }
        if (posts == NULL) {
            /* No memory for the list: wake each call under mu instead
             * (every other call owes a post it can now take at once). */
            if (l->head != NULL) {
                l->head->wake->owed++;
                (void)sem_post(&l->head->wake->sem);
            }
            for (waiter *x = batch; x != NULL; x = x->next)
                if (x->wake != me &&
                    (x->next == NULL || x->next->wake != x->wake)) {
                    x->wake->owed++;
                    (void)sem_post(&x->wake->sem);
                }
            continue;
        }
        pthread_mutex_unlock(&l->mu);
        for (size_t i = 0; i < np; i++)
            (void)sem_post(&posts[i]->sem);
        if (posts != stack_posts)
            free(posts);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    sem_destroy(&me->sem);
}

static void append_chain(audit_log *l, waiter *w, size_t n)
{
    uint64_t t0 = now_ns();
    caller me;
    chain_queue(l, w, n, &me);
    chain_wait(l, w, n, &me);
    sr_latency_observe(&l->append_lat, now_ns() - t0);
}

void audit_log_stats(audit_log *l, sr_latency *append, sr_latency *sync,
                     uint64_t *batches)
{
    sr_latency_read(&l->append_lat, append);
    sr_latency_read(&l->sync_lat, sync);
    *batches = __atomic_load_n(&l->batches, __ATOMIC_RELAXED);
}

sr_status audit_log_append(audit_log *l, const uint8_t *e, size_t len,
                           uint64_t *index, char msg[AUDIT_MSG_MAX])
{
    waiter w;
    sr_status st = entry_ok(e, len, msg);
    if (st != SR_OK)
        return st;
    memset(&w, 0, sizeof w);
    w.data = e;
    w.len = len;
    w.msg = msg;
    msg[0] = '\0';
    append_chain(l, &w, 1);
    *index = w.index;
    return w.st;
}

/* An entry queued by audit_log_submit: its bytes, its place in the queue
 * and the semaphore its waiter sleeps on. */
struct sr_audit_ticket {
    audit_log *l;
    uint64_t t0;
    waiter w;
    caller me;
    char msg[AUDIT_MSG_MAX];
    size_t len;
    uint8_t data[];
};

sr_status audit_log_submit(audit_log *l, const uint8_t *e, size_t len,
                           audit_ticket **out, char msg[AUDIT_MSG_MAX])
{
    *out = NULL;
    sr_status st = entry_ok(e, len, msg);
    if (st != SR_OK)
        return st;
    audit_ticket *t = calloc(1, sizeof *t + len);
    if (t == NULL)
        return say(msg, SR_ERR_NOMEM, "out of memory");
    t->t0 = now_ns();
    t->l = l;
    /* The ticket keeps the log open until it is waited for. */
    __atomic_fetch_add(&l->refs, 1, __ATOMIC_RELAXED);
    memcpy(t->data, e, len);
    t->len = len;
    t->w.data = t->data;
    t->w.len = len;
    t->w.msg = t->msg;
    chain_queue(l, &t->w, 1, &t->me);
    *out = t;
    return SR_OK;
}

sr_status audit_ticket_wait(audit_ticket *t, uint64_t *index,
                            char msg[AUDIT_MSG_MAX])
{
    *index = UINT64_MAX;
    msg[0] = '\0';
    if (t == NULL)
        return SR_OK;
    audit_log *l = t->l;
    chain_wait(l, &t->w, 1, &t->me);
    sr_latency_observe(&l->append_lat, now_ns() - t->t0);
    sr_status st = t->w.st;
    if (st == SR_OK)
        *index = t->w.index;
    else
        (void)snprintf(msg, AUDIT_MSG_MAX, "%s", t->msg);
    free(t);
    audit_log_release(l);
    return st;
}

sr_status audit_log_append_many(audit_log *l, const uint8_t *const *e,
                                const size_t *len, size_t n, uint64_t *first,
                                char msg[AUDIT_MSG_MAX])
{
    if (n == 0 || n > AUDIT_APPEND_MANY_MAX)
        return say(msg, SR_ERR_INVALID, "an audit batch holds 1 to %u entries",
                   AUDIT_APPEND_MANY_MAX);
    for (size_t i = 0; i < n; i++) {
        sr_status st = entry_ok(e[i], len[i], msg);
        if (st != SR_OK)
            return st;
    }
    waiter *w = calloc(n, sizeof *w);
    if (w == NULL)
        return say(msg, SR_ERR_NOMEM, "out of memory");
    msg[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        w[i].data = e[i];
        w[i].len = len[i];
        w[i].msg = msg; /* the leader writes each in turn: one message */
    }
    append_chain(l, w, n);
    /* One batch, one outcome: all written and synced, or none. */
    sr_status st = w[n - 1].st;
    *first = w[0].index;
    free(w);
    return st;
}

/* The integration lock: one checkpoint at a time. */
static sr_status integ_lock(audit_log *l, char *msg)
{
    return lock_both(&l->integ_mu, l->ilock_fd, msg);
}

static void integ_unlock(audit_log *l)
{
    unlock_both(&l->integ_mu, l->ilock_fd);
}

/* Integrate what is durable now without holding up appends: the journal's
 * end is read under the appenders' lock, the records before it are
 * integrated after it is released. */
sr_status audit_log_checkpoint(audit_log *l, uint64_t *size,
                               char msg[AUDIT_MSG_MAX])
{
    sr_status st = integ_lock(l, msg);
    if (st != SR_OK)
        return st;
    st = io_lock(l, msg);
    if (st != SR_OK) {
        integ_unlock(l);
        return st;
    }
    st = jrnl_refresh(l, msg);
    jcursor end = l->j;
    ino_t ino = l->jino;
    uint64_t jstart = l->jstart;
    /* Its own descriptor: the appenders' may be closed and reopened. */
    int fd = st == SR_OK ? dup(l->jfd) : -1;
    if (st == SR_OK && fd < 0)
        st = say(msg, SR_ERR_IO, "cannot read the audit journal: %s",
                 strerror(errno));
    io_unlock(l);
    if (st == SR_OK)
        st = integrate(l, fd, ino, jstart, &end, size, msg);
    if (fd >= 0)
        close(fd);
    /* Start the journal afresh when it holds integrated records and no
     * append came meanwhile (cheap), or when it is large (after
     * integrating what came: a short while under the appenders' lock). */
    if (st == SR_OK) {
        st = io_lock(l, msg);
        if (st == SR_OK) {
            st = jrnl_refresh(l, msg);
            bool quiet =
                st == SR_OK && l->j.next == l->size && l->jstart != l->size;
            if (st == SR_OK && !quiet && l->j.off > JRNL_RESET_BYTES) {
                end = l->j;
                st = integrate(l, l->jfd, l->jino, l->jstart, &end, size, msg);
                quiet = st == SR_OK;
            }
            if (quiet) {
                st = jrnl_reset(l, l->size, msg);
                l->ic.off = 0;
            }
            io_unlock(l);
        }
    }
    integ_unlock(l);
    return st;
}

sr_status audit_log_head(audit_log *l, uint64_t *size, uint8_t root[32],
                         char msg[AUDIT_MSG_MAX])
{
    note_checkpoint cp;
    /* The file is replaced by rename: any read sees one whole note. */
    sr_status st = read_checkpoint(l, &cp, msg);
    if (st != SR_OK)
        return st;
    *size = cp.size;
    memcpy(root, cp.root, 32);
    return SR_OK;
}

uint64_t audit_log_pending_end(audit_log *l)
{
    pthread_mutex_lock(&l->io);
    uint64_t n = l->j.next;
    pthread_mutex_unlock(&l->io);
    return n;
}

const char *audit_log_dir(const audit_log *l)
{
    return l->log_dir;
}

const char *audit_log_nodes_dir(const audit_log *l)
{
    return l->nodes_dir;
}
