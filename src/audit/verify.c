/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.c - sr_log_verify, the offline audit log verifier: one streaming
 * pass that recomputes the whole RFC 9162 tree from the entry bundles and
 * holds every stored tile hash, the signed checkpoint and every history
 * checkpoint against it.
 *
 * The pass goes one level-0 tile (256 entries) at a time. Workers (one
 * per CPU, the calling thread included) read a bundle and its level-0
 * tile, decode and hash the entries and fold them into the tile's level-1
 * node; the calling thread takes the results in index order and appends
 * each level-1 node to a frontier whose emits fill the tiles of levels 1
 * and up, which it compares as they complete. A checkpoint of size s is
 * checked when the pass reaches s: its root is the frontier's nodes above
 * height 8 over the first s % 256 leaves of the tile at hand. So memory is
 * a few hundred KiB whatever the log's size, besides 48 bytes per history
 * checkpoint.
 *
 * Naming the culprit. The recomputed tree depends on the entries alone. A
 * stored hash that differs from it means the entries under it, or the
 * stored hash, changed; the stored parent (one level up), whose own chain
 * up to the signed root is checked in turn, tells which: if the stored
 * tile folds to its stored parent, the tile is as signed and the entries
 * are not; if the entries' fold matches the parent, the tile was edited.
 * Mismatches under an entry already found bad are its echo and are not
 * counted again. The right-edge tiles have no stored parent; for them the
 * checkpoint root decides at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/entry.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tile.h"
#include "audit/witness.h"
#include "strongroom/audit.h"
#include "util/util.h"

#define HASH MERKLE_HASH_BYTES
#define LEVELS 8u /* tile levels 0..7 cover every 64-bit tree size */
#define THREADS_MAX 8u
#define SLOTS_PER_THREAD 4u
#define BUNDLE_MAX ((size_t)TILE_WIDTH * (2u + BUNDLE_ENTRY_MAX))
#define MSG SR_LOG_REPORT_MSG
#define PROGRESS_TILES 64u
#define NONE UINT64_MAX

_Static_assert(LEVELS *TILE_HEIGHT == 64, "levels cover 64-bit sizes");

/* ---- messages --------------------------------------------------------------
 */

static void fmt(char *out, size_t cap, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    /* Truncation is fine: the text is for people. */
    if (vsnprintf(out, cap, f, ap) < 0)
        out[0] = '\0';
    va_end(ap);
}

/* The name of tile (level, n) of the given width as the messages spell
 * it, "0/x001/234" or "entries/001.p/5": its path without "tile/". */
static void tile_name(char out[TILE_PATH_MAX], int level, uint64_t n,
                      unsigned width)
{
    char rel[TILE_PATH_MAX];
    if (tile_path(rel, sizeof rel, level, n, width) != SR_OK) {
        memcpy(out, "?", 2);
        return;
    }
    memcpy(out, rel + 5, strlen(rel + 5) + 1);
}

/* The root of a full tile's 256 hashes (`hashes` is uint8_t[256][32]):
 * the node one level up, in 255 node hashes. */
static void fold_tile(const void *hashes, uint8_t out[HASH])
{
    const uint8_t *in = hashes;
    uint8_t work[TILE_WIDTH / 2][HASH];
    for (unsigned j = 0; j < TILE_WIDTH / 2; j++)
        merkle_node_hash(in + 2 * j * HASH, in + (2 * j + 1) * HASH, work[j]);
    for (unsigned m = TILE_WIDTH / 4; m >= 1; m /= 2)
        for (unsigned j = 0; j < m; j++)
            merkle_node_hash(work[2 * j], work[2 * j + 1], work[j]);
    memcpy(out, work[0], HASH);
}

/* ---- files
 * ------------------------------------------------------------------- */

/* Read the whole file dir/rel, of at most max bytes, into *buf (grown as
 * needed). SR_ERR_NOT_FOUND, SR_ERR_IO, SR_ERR_NOMEM, or SR_ERR_CORRUPT
 * if it is larger than max; *len is then the size found. */
static sr_status read_whole(const char *dir, const char *rel, uint8_t **buf,
                            size_t *cap, size_t max, size_t *len)
{
    char path[PATH_MAX];
    struct stat sb;
    sr_status st = SR_OK;
    int n = snprintf(path, sizeof path, "%s/%s", dir, rel);

    *len = 0;
    if (n < 0 || (size_t)n >= sizeof path)
        return SR_ERR_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = SR_ERR_IO;
        goto cleanup;
    }
    if ((uint64_t)sb.st_size > max) {
        *len = (size_t)sb.st_size;
        st = SR_ERR_CORRUPT;
        goto cleanup;
    }
    /* One byte more than the file, to see it grow under us. */
    size_t want = (size_t)sb.st_size + 1;
    if (*cap < want) {
        uint8_t *p = realloc(*buf, want);
        if (p == NULL) {
            st = SR_ERR_NOMEM;
            goto cleanup;
        }
        *buf = p;
        *cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, *buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = SR_ERR_IO;
            goto cleanup;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *len = got;
    if (got > (size_t)sb.st_size)
        st = SR_ERR_CORRUPT; /* grew past what we sized for */
cleanup:
    close(fd);
    return st;
}

/* Read tile (level, n, width) of logdir: exactly width hashes.
 * SR_ERR_NOT_FOUND, SR_ERR_IO, SR_ERR_CORRUPT (wrong size, in *size). */
static sr_status read_tile(const char *logdir, unsigned level, uint64_t n,
                           unsigned width, uint8_t (*out)[HASH], uint64_t *size)
{
    char rel[TILE_PATH_MAX], path[PATH_MAX];
    struct stat sb;
    sr_status st = SR_OK;

    *size = 0;
    if (tile_path(rel, sizeof rel, (int)level, n, width) != SR_OK)
        return SR_ERR_INTERNAL;
    int len = snprintf(path, sizeof path, "%s/%s", logdir, rel);
    if (len < 0 || (size_t)len >= sizeof path)
        return SR_ERR_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO;
    size_t want = (size_t)width * HASH, got = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = SR_ERR_IO;
        goto cleanup;
    }
    *size = (uint64_t)sb.st_size;
    if ((uint64_t)sb.st_size != want) {
        st = SR_ERR_CORRUPT;
        goto cleanup;
    }
    while (got < want) {
        ssize_t r = read(fd, (uint8_t *)out + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            st = r == 0 ? SR_ERR_CORRUPT : SR_ERR_IO;
            goto cleanup;
        }
        got += (size_t)r;
    }
cleanup:
    close(fd);
    return st;
}

/* ---- the state of one verification ------------------------------------- */

/* A checkpoint to hold against the recomputed tree when the pass reaches
 * its size: the latest one, or one from history/. */
typedef struct target {
    uint64_t size;
    uint8_t root[HASH];
    bool latest;
} target;

enum { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

/* One level-0 tile of work, written by the worker that claimed it and read
 * by the consumer once it is SLOT_DONE (both under the mutex). */
typedef struct slot {
    int state;
    uint64_t k;     /* tile index */
    unsigned width; /* entries in it */
    bool stop;      /* the pass cannot go on past this tile */
    sr_status st;   /* with stop: why */
    uint64_t bad;   /* an entry fault the worker found, or NONE */
    int mismatch;   /* first leaf differing from the stored tile, or -1 */
    uint8_t leaves[TILE_WIDTH][HASH];
    uint8_t up[HASH];        /* fold of the leaves (full tiles) */
    uint8_t stored_up[HASH]; /* fold of the stored tile (on a mismatch) */
    bool cfg;                /* the tile's last witness configuration entry */
    uint64_t cfg_index;
    uint8_t cfg_hash[HASH];
    char msg[MSG];
} slot;

/* What one thread needs to work a tile. */
typedef struct worker {
    uint8_t *buf;
    size_t cap;
    uint8_t stored[TILE_WIDTH][HASH];
    audit_entry e;
} worker;

/* A right-edge mismatch, decided by the root at the end. */
typedef struct undecided {
    bool set;
    unsigned level;
    uint64_t leaf; /* first leaf under the differing node */
    uint64_t last; /* last leaf under it */
    unsigned pos;  /* the hash within the tile */
    char tile[TILE_PATH_MAX];
} undecided;

typedef struct verifier {
    const char *logdir;
    uint64_t size; /* N, the latest checkpoint's */
    uint64_t ntiles;

    /* shared with the workers, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    uint64_t next_k, consumed;
    bool stop;
    slot *slots;
    unsigned nslots;

    /* the consumer's (the calling thread's) own */
    worker self;
    merkle_frontier upper; /* over level-1 nodes: height h is 8 + h */
    uint8_t rec[LEVELS][TILE_WIDTH][HASH];  /* recomputed, current tile */
    bool dirty[LEVELS][TILE_WIDTH];         /* an entry fault lies under */
    uint8_t st_h[LEVELS][TILE_WIDTH][HASH]; /* stored, one tile a level */
    uint64_t st_n[LEVELS];
    bool st_have[LEVELS];
    target *targets;
    size_t ntargets, next_target;
    bool root_ok;
    uint64_t entries, checked;
    undecided und[LEVELS];

    /* faults, the first of each kind */
    unsigned faults;
    bool halted; /* the pass stopped: halt_* say why */
    sr_status halt_st;
    uint64_t halt_bad;
    char halt_msg[MSG];
    uint64_t def_bad; /* an entry that does not decode, or NONE */
    char def_msg[MSG];
    /* An entry the stored tiles say differs from the signed tree: true
     * unless the entries turn out to hash to the signed root after all
     * (tiles edited consistently up to some level), when prov_tile says
     * which tile. */
    uint64_t prov_bad;
    char prov_msg[MSG];
    char prov_tile[MSG];
    bool tile_bad;
    char tile_msg[MSG];
    bool hist_bad;
    char hist_msg[MSG];

    /* the latest witness configuration the entries record */
    bool cfg;
    uint64_t cfg_index;
    uint8_t cfg_hash[HASH];
} verifier;

static void halt(verifier *v, sr_status st, uint64_t bad, const char *msg)
{
    if (v->halted)
        return;
    v->faults++;
    v->halted = true;
    v->halt_st = st;
    v->halt_bad = bad;
    fmt(v->halt_msg, sizeof v->halt_msg, "%s", msg);
}

/* Note an entry fault at leaf index `bad`: the lowest index wins. A
 * provisional one (from the tiles) carries the message to give instead
 * if the root shows the entries right. */
static void entry_fault(verifier *v, uint64_t bad, const char *msg,
                        const char *as_tile)
{
    uint64_t *at = as_tile != NULL ? &v->prov_bad : &v->def_bad;
    v->faults++;
    if (*at != NONE && *at <= bad)
        return;
    *at = bad;
    if (as_tile != NULL) {
        fmt(v->prov_msg, sizeof v->prov_msg, "%s", msg);
        fmt(v->prov_tile, sizeof v->prov_tile, "%s", as_tile);
    } else {
        fmt(v->def_msg, sizeof v->def_msg, "%s", msg);
    }
}

static void tile_fault(verifier *v, const char *msg)
{
    v->faults++;
    if (v->tile_bad)
        return;
    v->tile_bad = true;
    fmt(v->tile_msg, sizeof v->tile_msg, "%s", msg);
}

static void hist_fault(verifier *v, const char *msg)
{
    v->faults++;
    if (v->hist_bad)
        return;
    v->hist_bad = true;
    fmt(v->hist_msg, sizeof v->hist_msg, "%s", msg);
}

/* Mark the stored nodes above level `from` that cover leaf `leaf` as
 * explained by an entry fault there, so their mismatches are not counted
 * again. The pass is in index order, so each is in its level's current
 * tile. */
static void mark_dirty(verifier *v, unsigned from, uint64_t leaf)
{
    for (unsigned l = from + 1; l < LEVELS; l++)
        v->dirty[l][(leaf >> (TILE_HEIGHT * l)) % TILE_WIDTH] = true;
}

/* ---- a worker's tile ----------------------------------------------------- */

/* The bundle does not hold `width` entries: find the first index that
 * differs from the stored tile (an entry whose hash differs, or the first
 * one missing) for the message. */
static void bundle_diagnose(worker *w, slot *s, size_t len)
{
    sr_reader r;
    unsigned c = 0, first = UINT_MAX;
    bool cut = false;
    char name[TILE_PATH_MAX];

    reader_init(&r, w->buf, len);
    while (reader_left(&r) > 0 && c <= s->width) {
        const uint8_t *hdr, *data;
        uint8_t leaf[HASH];
        if (!reader_bytes(&r, 2, &hdr)) {
            cut = true;
            break;
        }
        size_t n = ((size_t)hdr[0] << 8) | hdr[1];
        if (!reader_bytes(&r, n, &data)) {
            cut = true;
            break;
        }
        merkle_leaf_hash(data, n, leaf);
        if (c < s->width && first == UINT_MAX &&
            sodium_memcmp(leaf, w->stored[c], HASH) != 0)
            first = c;
        c++;
    }
    if (first == UINT_MAX)
        first = c < s->width ? c : s->width;
    tile_name(name, TILE_LEVEL_ENTRIES, s->k, s->width);
    s->bad = s->k * TILE_WIDTH + first;
    if (c > s->width)
        fmt(s->msg, sizeof s->msg,
            "entry bundle %s holds more than its %u entries; entry %llu is "
            "the first that differs from the signed tree",
            name, s->width, (unsigned long long)s->bad);
    else
        fmt(s->msg, sizeof s->msg,
            "entry bundle %s holds %u%s entries where %u are expected; "
            "entry %llu is the first that differs from the signed tree",
            name, c, cut ? " whole" : "", s->width, (unsigned long long)s->bad);
}

static void work_tile(verifier *v, worker *w, slot *s, uint64_t k)
{
    char rel[TILE_PATH_MAX], name[TILE_PATH_MAX];
    size_t len = 0;
    uint64_t fsize = 0;
    sr_status st;

    s->k = k;
    s->width = tile_width(0, k, v->size);
    s->stop = false;
    s->st = SR_OK;
    s->bad = NONE;
    s->mismatch = -1;
    s->cfg = false;
    s->msg[0] = '\0';

    /* The bundle first: a truncated log is named by its missing entries. */
    tile_name(name, TILE_LEVEL_ENTRIES, k, s->width);
    if (tile_path(rel, sizeof rel, TILE_LEVEL_ENTRIES, k, s->width) != SR_OK)
        st = SR_ERR_INTERNAL;
    else
        st = read_whole(v->logdir, rel, &w->buf, &w->cap, BUNDLE_MAX, &len);
    if (st != SR_OK) {
        s->stop = true;
        s->st = st == SR_ERR_NOMEM || st == SR_ERR_INTERNAL ? st
                : st == SR_ERR_IO                           ? SR_ERR_IO
                                                            : SR_ERR_AUDIT;
        s->bad = k * TILE_WIDTH;
        if (st == SR_ERR_NOT_FOUND)
            fmt(s->msg, sizeof s->msg,
                "entry bundle %s is missing: the log is cut off before "
                "entry %llu",
                name, (unsigned long long)s->bad);
        else if (st == SR_ERR_CORRUPT)
            fmt(s->msg, sizeof s->msg,
                "entry bundle %s is too large (%zu bytes) for %u entries", name,
                len, s->width);
        else
            fmt(s->msg, sizeof s->msg, "entry bundle %s: cannot read it: %s",
                name, sr_status_str(st));
        return;
    }

    tile_name(name, 0, k, s->width);
    st = read_tile(v->logdir, 0, k, s->width, w->stored, &fsize);
    if (st != SR_OK) {
        s->stop = true;
        s->st = st == SR_ERR_IO || st == SR_ERR_INTERNAL ? st : SR_ERR_AUDIT;
        if (st == SR_ERR_NOT_FOUND)
            fmt(s->msg, sizeof s->msg, "tile %s is missing", name);
        else if (st == SR_ERR_CORRUPT)
            fmt(s->msg, sizeof s->msg, "tile %s: %llu bytes, expected %u", name,
                (unsigned long long)fsize, s->width * HASH);
        else
            fmt(s->msg, sizeof s->msg, "tile %s: cannot read it: %s", name,
                sr_status_str(st));
        return;
    }

    /* The shape first (bundle_parse reads through the bounded reader), so
     * the walk below cannot run off the buffer. */
    if (bundle_parse(w->buf, len, s->width, NULL, NULL) != SR_OK) {
        s->stop = true;
        s->st = SR_ERR_AUDIT;
        bundle_diagnose(w, s, len);
        return;
    }
    sr_reader r;
    reader_init(&r, w->buf, len);
    for (unsigned i = 0; i < s->width; i++) {
        const uint8_t *hdr = NULL, *data = NULL;
        size_t n = 0;
        if (reader_bytes(&r, 2, &hdr)) {
            n = ((size_t)hdr[0] << 8) | hdr[1];
            if (!reader_bytes(&r, n, &data))
                n = 0;
        }
        st = entry_decode(data, n, &w->e);
        uint8_t cfg[HASH];
        if (st == SR_OK &&
            witness_cfg_entry(w->e.action, w->e.outcome, w->e.detail, cfg)) {
            s->cfg = true;
            s->cfg_index = k * TILE_WIDTH + i;
            memcpy(s->cfg_hash, cfg, HASH);
        }
        if (st != SR_OK && s->bad == NONE) {
            s->bad = k * TILE_WIDTH + i;
            fmt(s->msg, sizeof s->msg, "entry %llu does not decode (%s)",
                (unsigned long long)s->bad, sr_status_str(st));
        }
        merkle_leaf_hash(data, n, s->leaves[i]);
    }
    /* Tile hashes are public: plain memcmp, one call for the tile. */
    if (memcmp(s->leaves, w->stored, (size_t)s->width * HASH) != 0)
        for (unsigned i = 0; i < s->width && s->mismatch < 0; i++)
            if (memcmp(s->leaves[i], w->stored[i], HASH) != 0)
                s->mismatch = (int)i;
    if (s->width == TILE_WIDTH) {
        fold_tile(s->leaves, s->up);
        if (s->mismatch >= 0)
            fold_tile(w->stored, s->stored_up);
    }
}

/* Claim the next tile if there is room for it. Caller holds mu. */
static slot *claim(verifier *v, uint64_t *k)
{
    if (v->stop || v->next_k >= v->ntiles ||
        v->next_k >= v->consumed + v->nslots)
        return NULL;
    *k = v->next_k++;
    slot *s = &v->slots[*k % v->nslots];
    s->state = SLOT_BUSY;
    return s;
}

static void *worker_main(void *arg)
{
    verifier *v = arg;
    worker *w = calloc(1, sizeof *w);

    pthread_mutex_lock(&v->mu);
    while (w != NULL && !v->stop && v->next_k < v->ntiles) {
        uint64_t k;
        slot *s = claim(v, &k);
        if (s == NULL) {
            pthread_cond_wait(&v->cv_work, &v->mu);
            continue;
        }
        pthread_mutex_unlock(&v->mu);
        work_tile(v, w, s, k);
        pthread_mutex_lock(&v->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&v->cv_done);
    }
    pthread_mutex_unlock(&v->mu);
    if (w != NULL) {
        free(w->buf);
        free(w);
    }
    return NULL;
}

/* ---- the consumer: levels 1 and up, checkpoints -------------------------- */

/* The stored tile (level, m) as the latest size implies, read once. */
static sr_status stored_tile(verifier *v, unsigned level, uint64_t m)
{
    char name[TILE_PATH_MAX], msg[MSG];
    uint64_t fsize = 0;

    if (v->st_have[level] && v->st_n[level] == m)
        return SR_OK;
    unsigned w = tile_width((int)level, m, v->size);
    v->st_have[level] = false;
    tile_name(name, (int)level, m, w);
    sr_status st =
        w == 0 ? SR_ERR_INTERNAL
               : read_tile(v->logdir, level, m, w, v->st_h[level], &fsize);
    if (st == SR_OK) {
        v->st_have[level] = true;
        v->st_n[level] = m;
        return SR_OK;
    }
    if (st == SR_ERR_NOT_FOUND)
        fmt(msg, sizeof msg, "tile %s is missing", name);
    else if (st == SR_ERR_CORRUPT)
        fmt(msg, sizeof msg, "tile %s: %llu bytes, expected %u", name,
            (unsigned long long)fsize, w * HASH);
    else
        fmt(msg, sizeof msg, "tile %s: cannot read it: %s", name,
            sr_status_str(st));
    st = st == SR_ERR_IO || st == SR_ERR_INTERNAL ? st : SR_ERR_AUDIT;
    halt(v, st, NONE, msg);
    return st;
}

/* A full tile (level, m) differs from the recomputation at `pos`, and
 * nothing found below explains it. The stored parent decides: if the
 * stored tile folds to it, the tile is as signed and the entries under
 * the node are not; otherwise the tile was edited. */
static sr_status classify(verifier *v, unsigned level, uint64_t m, unsigned pos,
                          const uint8_t stored_fold[HASH],
                          const uint8_t rec_fold[HASH])
{
    char name[TILE_PATH_MAX], pname[TILE_PATH_MAX], msg[MSG], alt[MSG];
    uint64_t node = m * TILE_WIDTH + pos;
    uint64_t first = node << (TILE_HEIGHT * level);
    uint64_t last = first + ((uint64_t)1 << (TILE_HEIGHT * level)) - 1;

    sr_status st = stored_tile(v, level + 1, m / TILE_WIDTH);
    if (st != SR_OK)
        return st;
    const uint8_t *parent = v->st_h[level + 1][m % TILE_WIDTH];
    tile_name(name, (int)level, m, TILE_WIDTH);
    tile_name(pname, (int)level + 1, m / TILE_WIDTH,
              tile_width((int)level + 1, m / TILE_WIDTH, v->size));
    bool tile_ok = sodium_memcmp(stored_fold, parent, HASH) == 0;
    bool entries_ok = sodium_memcmp(rec_fold, parent, HASH) == 0;
    if (!tile_ok && (entries_ok || level > 0)) {
        fmt(msg, sizeof msg,
            "tile %s: hash %u differs from the tree recomputed from the "
            "entries (and the tile no longer hashes to tile %s)",
            name, pos, pname);
        tile_fault(v, msg);
        return SR_OK;
    }
    if (level == 0)
        fmt(msg, sizeof msg,
            "entry %llu differs from the signed tree (tile %s hash %u): it "
            "was edited, dropped, reordered or inserted",
            (unsigned long long)first, name, pos);
    else
        fmt(msg, sizeof msg,
            "entries %llu to %llu do not hash to tile %s hash %u although "
            "the tiles below match them: entries and tiles were rewritten "
            "together",
            (unsigned long long)first, (unsigned long long)last, name, pos);
    fmt(alt, sizeof alt,
        "tile %s: hash %u differs from the tree recomputed from the entries "
        "(tiles were edited up to tile %s)",
        name, pos, pname);
    entry_fault(v, first, msg, alt);
    mark_dirty(v, level, first);
    return SR_OK;
}

/* The recomputed tile (level >= 1, m) of `width` hashes is complete:
 * compare it with the stored one. */
static sr_status compare_tile(verifier *v, unsigned level, uint64_t m,
                              unsigned width)
{
    sr_status st = stored_tile(v, level, m);
    if (st != SR_OK)
        return st;
    int pos = -1;
    for (unsigned j = 0; j < width && pos < 0; j++)
        if (!v->dirty[level][j] &&
            sodium_memcmp(v->rec[level][j], v->st_h[level][j], HASH) != 0)
            pos = (int)j;
    if (pos >= 0 && width == TILE_WIDTH) {
        uint8_t sf[HASH], rf[HASH];
        fold_tile(v->st_h[level], sf);
        fold_tile(v->rec[level], rf);
        st = classify(v, level, m, (unsigned)pos, sf, rf);
    } else if (pos >= 0) {
        undecided *u = &v->und[level];
        u->set = true;
        u->level = level;
        u->pos = (unsigned)pos;
        u->leaf = (m * TILE_WIDTH + (unsigned)pos) << (TILE_HEIGHT * level);
        u->last = u->leaf + ((uint64_t)1 << (TILE_HEIGHT * level)) - 1;
        tile_name(u->tile, (int)level, m, width);
    }
    memset(v->dirty[level], 0, sizeof v->dirty[level]);
    return st;
}

/* The frontier over level-1 nodes completed node (8 + height, index). */
static sr_status upper_emit(void *ctx, unsigned height, uint64_t index,
                            const uint8_t hash[HASH])
{
    verifier *v = ctx;
    if (height % TILE_HEIGHT != 0)
        return SR_OK;
    unsigned level = 1 + height / TILE_HEIGHT;
    if (level >= LEVELS)
        return SR_ERR_INTERNAL;
    memcpy(v->rec[level][index % TILE_WIDTH], hash, HASH);
    if (index % TILE_WIDTH != TILE_WIDTH - 1)
        return SR_OK;
    return compare_tile(v, level, index / TILE_WIDTH, TILE_WIDTH);
}

/* The root of the recomputed tree at size s: the upper frontier (which
 * must cover s >> 8 level-1 nodes) above height 8, `lower` (over the
 * s % 256 leaves of tile s >> 8) below. */
static void root_at(const verifier *v, const merkle_frontier *lower, uint64_t s,
                    uint8_t out[HASH])
{
    merkle_frontier f;
    f.size = s;
    for (unsigned h = 0; h < 64; h++) {
        if (((s >> h) & 1u) == 0)
            continue;
        if (h < TILE_HEIGHT)
            memcpy(f.h[h], lower->h[h], HASH);
        else
            memcpy(f.h[h], v->upper.h[h - TILE_HEIGHT], HASH);
    }
    merkle_frontier_root(&f, out);
}

/* Check the targets of size s with s >> 8 == k; leaves are the first
 * leaves of tile k (NULL when k is past the last tile). */
static void check_targets(verifier *v, uint64_t k,
                          const uint8_t (*leaves)[HASH])
{
    merkle_frontier lower;
    merkle_frontier_init(&lower);
    while (v->next_target < v->ntargets &&
           v->targets[v->next_target].size / TILE_WIDTH == k) {
        const target *t = &v->targets[v->next_target++];
        uint8_t root[HASH];
        while (lower.size < t->size % TILE_WIDTH)
            if (merkle_frontier_append(&lower, leaves[lower.size], NULL,
                                       NULL) != SR_OK)
                break; /* cannot fail below 2^64 - 1 leaves */
        root_at(v, &lower, t->size, root);
        bool same = sodium_memcmp(root, t->root, HASH) == 0;
        if (t->latest) {
            v->root_ok = same;
        } else if (same) {
            v->checked++;
        } else {
            char msg[MSG];
            fmt(msg, sizeof msg,
                "history/%llu: its root differs from the tree at size %llu: "
                "the log forked or was rewritten",
                (unsigned long long)t->size, (unsigned long long)t->size);
            hist_fault(v, msg);
        }
    }
}

/* Take tile k's results, in index order. */
static void consume(verifier *v, slot *s)
{
    uint64_t k = s->k;
    if (s->stop) {
        halt(v, s->st, s->bad, s->msg);
        return;
    }
    v->entries += s->width;
    if (s->bad != NONE)
        entry_fault(v, s->bad, s->msg, NULL);
    if (s->cfg) {
        v->cfg = true;
        v->cfg_index = s->cfg_index;
        memcpy(v->cfg_hash, s->cfg_hash, HASH);
    }
    if (s->mismatch >= 0 && s->width == TILE_WIDTH) {
        if (classify(v, 0, k, (unsigned)s->mismatch, s->stored_up, s->up) !=
            SR_OK)
            return;
    } else if (s->mismatch >= 0) {
        undecided *u = &v->und[0];
        u->set = true;
        u->level = 0;
        u->pos = (unsigned)s->mismatch;
        u->leaf = u->last = k * TILE_WIDTH + (unsigned)s->mismatch;
        tile_name(u->tile, 0, k, s->width);
    }
    check_targets(v, k, (const uint8_t(*)[HASH])s->leaves);
    if (s->width == TILE_WIDTH &&
        merkle_frontier_append(&v->upper, s->up, upper_emit, v) != SR_OK)
        halt(v, SR_ERR_INTERNAL, NONE, "internal error in the tree pass");
}

/* After the last tile: the checkpoints on a tile boundary past it, and
 * the right-edge tiles of levels 1 and up. */
static void finish_pass(verifier *v)
{
    check_targets(v, v->ntiles, NULL);
    for (unsigned level = 1; level < LEVELS && !v->halted; level++) {
        uint64_t count = tile_level_count(level, v->size);
        unsigned w = (unsigned)(count % TILE_WIDTH);
        if (w != 0)
            (void)compare_tile(v, level, count / TILE_WIDTH, w);
    }
    /* The right edge has no stored parent: the signed root decides whether
     * a mismatch there is the tiles' fault or the entries'. */
    for (unsigned level = 0; level < LEVELS; level++) {
        undecided *u = &v->und[level];
        char msg[MSG], alt[MSG];
        if (!u->set)
            continue;
        fmt(alt, sizeof alt,
            "tile %s: hash %u differs from the tree recomputed from the "
            "entries",
            u->tile, u->pos);
        if (level == 0)
            fmt(msg, sizeof msg,
                "entry %llu differs from the signed tree (tile %s hash %u): "
                "it was edited, dropped, reordered or inserted",
                (unsigned long long)u->leaf, u->tile, u->pos);
        else
            fmt(msg, sizeof msg,
                "entries %llu to %llu do not hash to tile %s hash %u: "
                "entries and tiles were rewritten together",
                (unsigned long long)u->leaf, (unsigned long long)u->last,
                u->tile, u->pos);
        entry_fault(v, u->leaf, msg, alt);
    }
    /* Entries that hash to the signed root are the signed entries (short
     * of a SHA-256 collision): whatever the tiles said against them, the
     * tiles are what changed. */
    if (v->root_ok && v->prov_bad != NONE) {
        v->prov_bad = NONE;
        v->tile_bad = true;
        fmt(v->tile_msg, sizeof v->tile_msg, "%s", v->prov_tile);
    }
}

static sr_status run_pass(verifier *v, const sr_log_verify_options *opt)
{
    pthread_t threads[THREADS_MAX];
    unsigned nthreads = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned workers = ncpu > 1 ? (unsigned)(ncpu - 1) : 0;
    sr_status st = SR_OK;

    if (workers > THREADS_MAX - 1)
        workers = THREADS_MAX - 1;
    if (v->ntiles < 2)
        workers = 0;
    v->nslots = SLOTS_PER_THREAD * (workers + 1);
    v->slots = calloc(v->nslots, sizeof *v->slots);
    if (v->slots == NULL)
        return SR_ERR_NOMEM;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv_work, NULL);
    pthread_cond_init(&v->cv_done, NULL);
    /* Fewer threads than asked for is fine: the caller works too. */
    for (unsigned i = 0; i < workers; i++)
        if (pthread_create(&threads[nthreads], NULL, worker_main, v) == 0)
            nthreads++;

    if (opt->progress != NULL)
        opt->progress(opt->progress_ctx, 0, v->size);
    for (uint64_t k = 0; k < v->ntiles && !v->halted; k++) {
        slot *s = &v->slots[k % v->nslots];
        pthread_mutex_lock(&v->mu);
        while (s->state != SLOT_DONE || s->k != k) {
            uint64_t kk;
            slot *t = claim(v, &kk);
            if (t == NULL) {
                pthread_cond_wait(&v->cv_done, &v->mu);
                continue;
            }
            pthread_mutex_unlock(&v->mu);
            work_tile(v, &v->self, t, kk);
            pthread_mutex_lock(&v->mu);
            t->state = SLOT_DONE;
        }
        pthread_mutex_unlock(&v->mu);
        consume(v, s);
        pthread_mutex_lock(&v->mu);
        s->state = SLOT_FREE;
        v->consumed = k + 1;
        if (v->halted)
            v->stop = true;
        pthread_cond_broadcast(&v->cv_work);
        pthread_mutex_unlock(&v->mu);
        if (opt->progress != NULL && (k + 1) % PROGRESS_TILES == 0)
            opt->progress(opt->progress_ctx, v->entries, v->size);
    }
    pthread_mutex_lock(&v->mu);
    v->stop = true;
    pthread_cond_broadcast(&v->cv_work);
    pthread_mutex_unlock(&v->mu);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    if (!v->halted)
        finish_pass(v);
    if (opt->progress != NULL && !v->halted)
        opt->progress(opt->progress_ctx, v->entries, v->size);
    pthread_cond_destroy(&v->cv_done);
    pthread_cond_destroy(&v->cv_work);
    pthread_mutex_destroy(&v->mu);
    return st;
}

/* ---- checkpoints -----------------------------------------------------------
 */

/* Open and parse a signed checkpoint (len bytes) with the known keys vs[0]
 * (the log's) and vs[1 .. nv). verified has nv slots. */
static sr_status open_checkpoint(const uint8_t *p, size_t len,
                                 const note_verifier *vs, size_t nv,
                                 int *verified, note_checkpoint *cp, char *why,
                                 size_t why_cap)
{
    size_t body = 0;
    sr_status st =
        note_open((const char *)p, len, vs, nv, &body, verified, NULL);
    if (st == SR_ERR_INVALID) {
        fmt(why, why_cap, "two of the keys given share a name and key ID");
        return SR_ERR_INVALID;
    }
    if (st == SR_ERR_NOMEM) {
        fmt(why, why_cap, "out of memory");
        return st;
    }
    if (st != SR_OK) {
        fmt(why, why_cap,
            "not a well-formed signed note, or a signature by a known key "
            "does not verify");
        return SR_ERR_AUDIT;
    }
    if (!verified[0]) {
        fmt(why, why_cap, "not signed by the log key %s", vs[0].name);
        return SR_ERR_AUDIT;
    }
    if (note_checkpoint_parse((const char *)p, body, cp) != SR_OK) {
        fmt(why, why_cap, "signed, but not a well-formed checkpoint");
        return SR_ERR_AUDIT;
    }
    return SR_OK;
}

/* A history file name: the canonical decimal of a tree size. *tmp is set
 * for "<size>.tmp<digits>", the leftover of an interrupted atomic write. */
static bool history_name(const char *name, uint64_t *size, bool *tmp)
{
    uint64_t v = 0;
    size_t i = 0;

    *tmp = false;
    while (name[i] >= '0' && name[i] <= '9') {
        unsigned d = (unsigned)(name[i] - '0');
        if (i > 19 || v > (UINT64_MAX - d) / 10u)
            return false;
        v = v * 10u + d;
        i++;
    }
    if (i == 0 || (i > 1 && name[0] == '0'))
        return false;
    *size = v;
    if (name[i] == '\0')
        return true;
    if (strncmp(name + i, ".tmp", 4) != 0 || name[i + 4] == '\0')
        return false;
    for (i += 4; name[i] != '\0'; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    *tmp = true;
    return true;
}

static int target_cmp(const void *a, const void *b)
{
    const target *x = a, *y = b;
    return x->size < y->size ? -1 : x->size > y->size;
}

static sr_status add_target(verifier *v, size_t *cap, uint64_t size,
                            const uint8_t root[HASH], bool latest)
{
    if (v->ntargets == *cap) {
        size_t n = *cap == 0 ? 16 : *cap * 2;
        target *t = realloc(v->targets, n * sizeof *t);
        if (t == NULL)
            return SR_ERR_NOMEM;
        v->targets = t;
        *cap = n;
    }
    target *t = &v->targets[v->ntargets++];
    t->size = size;
    memcpy(t->root, root, HASH);
    t->latest = latest;
    return SR_OK;
}

/* Read every checkpoint in logdir/history/ and queue it as a target;
 * what is wrong with one is a history fault. */
static sr_status load_history(verifier *v, size_t *cap,
                              const note_verifier *logkey,
                              const note_checkpoint *latest, char *why,
                              size_t why_cap)
{
    char dir[PATH_MAX], rel[NAME_MAX + 16], msg[MSG], reason[MSG];
    uint8_t *buf = NULL;
    size_t bcap = 0, len = 0;
    sr_status st = SR_OK;
    note_checkpoint cp;
    int ok = 0;

    int n = snprintf(dir, sizeof dir, "%s/history", v->logdir);
    if (n < 0 || (size_t)n >= sizeof dir) {
        fmt(why, why_cap, "history/: the path is too long");
        return SR_ERR_IO;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return SR_OK;
        fmt(why, why_cap, "history/: cannot list it: %s", strerror(errno));
        return SR_ERR_IO;
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0) {
                fmt(why, why_cap, "history/: cannot list it: %s",
                    strerror(errno));
                st = SR_ERR_IO;
            }
            break;
        }
        uint64_t size;
        bool tmp;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!history_name(e->d_name, &size, &tmp)) {
            fmt(msg, sizeof msg, "history/%s: not a checkpoint file name",
                e->d_name);
            hist_fault(v, msg);
            continue;
        }
        if (tmp)
            continue;
        fmt(rel, sizeof rel, "history/%s", e->d_name);
        st = read_whole(v->logdir, rel, &buf, &bcap, NOTE_MAX_BYTES, &len);
        if (st == SR_ERR_NOMEM || st == SR_ERR_IO) {
            fmt(why, why_cap, "%s: cannot read it: %s", rel, sr_status_str(st));
            break;
        }
        st = SR_OK;
        if (len > NOTE_MAX_BYTES) {
            fmt(msg, sizeof msg, "%s: larger than any checkpoint", rel);
            hist_fault(v, msg);
            continue;
        }
        sr_status cst = open_checkpoint(buf, len, logkey, 1, &ok, &cp, reason,
                                        sizeof reason);
        if (cst == SR_ERR_NOMEM) {
            st = cst;
            fmt(why, why_cap, "out of memory");
            break;
        }
        if (cst != SR_OK) {
            fmt(msg, sizeof msg, "%s: %s", rel, reason);
            hist_fault(v, msg);
        } else if (cp.size != size) {
            fmt(msg, sizeof msg, "%s: holds the checkpoint of size %llu", rel,
                (unsigned long long)cp.size);
            hist_fault(v, msg);
        } else if (strcmp(cp.origin, latest->origin) != 0) {
            fmt(msg, sizeof msg, "%s: names another log, %s", rel, cp.origin);
            hist_fault(v, msg);
        } else if (size > latest->size) {
            fmt(msg, sizeof msg,
                "%s: size %llu is past the checkpoint's (%llu): the "
                "checkpoint was rolled back (or a crash interrupted the "
                "last checkpoint, which the next one repairs)",
                rel, (unsigned long long)size,
                (unsigned long long)latest->size);
            hist_fault(v, msg);
        } else {
            st = add_target(v, cap, size, cp.root, false);
            if (st != SR_OK) {
                fmt(why, why_cap, "out of memory");
                break;
            }
        }
    }
    closedir(d);
    free(buf);
    return st;
}

/* ---- the entry point ------------------------------------------------------
 */

sr_status sr_log_verify(const char *logdir, const char *vkey_text,
                        const sr_log_verify_options *opt, sr_log_report *rep)
{
    static const sr_log_verify_options none;
    note_verifier *keys = NULL;
    int *verified = NULL;
    uint8_t *buf = NULL;
    size_t bcap = 0, len = 0, tcap = 0;
    verifier *v = NULL;
    note_checkpoint cp;
    char why[MSG];
    sr_status st;
    uint8_t cfg_hash[HASH];
    bool from_file, have_cfg = false;
    size_t nw;
    unsigned need;

    if (rep == NULL)
        return SR_ERR_INVALID;
    memset(rep, 0, sizeof *rep);
    rep->first_bad = NONE;
    why[0] = '\0';
    if (opt == NULL)
        opt = &none;
    if (logdir == NULL || vkey_text == NULL ||
        (opt->witness_count > 0 && opt->witness_vkeys == NULL)) {
        fmt(rep->message, sizeof rep->message, "a required argument is NULL");
        return SR_ERR_INVALID;
    }
    if (opt->min_cosignatures > opt->witness_count) {
        fmt(rep->message, sizeof rep->message,
            "%u cosignatures asked for, but only %zu witness keys given",
            opt->min_cosignatures, opt->witness_count);
        return SR_ERR_INVALID;
    }
    if (sodium_init() < 0) {
        fmt(rep->message, sizeof rep->message, "libsodium cannot start");
        return SR_ERR_INTERNAL;
    }

    /* ---- keys: the log's, then the witnesses' given or published */
    from_file = opt->use_witness_file && opt->witness_count == 0 &&
                opt->min_cosignatures == 0;
    nw = opt->witness_count;
    need = opt->min_cosignatures;
    size_t room = 1 + (from_file ? SR_LOG_WITNESS_MAX : nw);
    keys = calloc(room, sizeof *keys);
    verified = calloc(room, sizeof *verified);
    v = calloc(1, sizeof *v);
    if (keys == NULL || verified == NULL || v == NULL) {
        st = SR_ERR_NOMEM;
        fmt(why, sizeof why, "out of memory");
        goto cleanup;
    }
    if (note_vkey_parse(vkey_text, strlen(vkey_text), &keys[0]) != SR_OK ||
        keys[0].type != NOTE_TYPE_ED25519) {
        st = SR_ERR_INVALID;
        fmt(why, sizeof why,
            "the log key is not a signed-note Ed25519 verifier key");
        goto cleanup;
    }
    for (size_t i = 0; i < opt->witness_count; i++) {
        const char *w = opt->witness_vkeys[i];
        if (w == NULL || note_vkey_parse(w, strlen(w), &keys[1 + i]) != SR_OK) {
            st = SR_ERR_INVALID;
            fmt(why, sizeof why, "witness key %zu is not a verifier key",
                i + 1);
            goto cleanup;
        }
    }
    if (from_file) {
        st = read_whole(logdir, WITNESS_CFG_FILE, &buf, &bcap, WITNESS_CFG_MAX,
                        &len);
        if (st == SR_OK) {
            have_cfg = true;
            crypto_hash_sha256(cfg_hash, buf, len);
            if (witness_cfg_parse(buf, len, keys + 1, SR_LOG_WITNESS_MAX, &nw,
                                  &need) != SR_OK) {
                st = SR_ERR_AUDIT;
                fmt(why, sizeof why,
                    "witnesses: not a witness configuration (\"min K\" "
                    "then K or more distinct cosignature/v1 verifier keys, "
                    "one a line)");
                goto cleanup;
            }
        } else if (st == SR_ERR_CORRUPT) {
            st = SR_ERR_AUDIT;
            fmt(why, sizeof why,
                "witnesses: larger than any witness configuration");
            goto cleanup;
        } else if (st != SR_ERR_NOT_FOUND) {
            fmt(why, sizeof why, "witnesses: cannot read it: %s",
                sr_status_str(st));
            goto cleanup;
        }
        rep->witness_file = have_cfg ? 1 : 0;
    }
    size_t nkeys = 1 + nw;
    rep->min_cosignatures = need;

    /* ---- the latest checkpoint */
    st = read_whole(logdir, "checkpoint", &buf, &bcap, NOTE_MAX_BYTES, &len);
    if (st != SR_OK) {
        if (st == SR_ERR_CORRUPT) {
            st = SR_ERR_AUDIT;
            fmt(why, sizeof why, "checkpoint: larger than any checkpoint");
        } else {
            fmt(why, sizeof why, "checkpoint: cannot read %s/checkpoint: %s",
                logdir, sr_status_str(st));
        }
        goto cleanup;
    }
    st = open_checkpoint(buf, len, keys, nkeys, verified, &cp, rep->message,
                         sizeof rep->message);
    if (st != SR_OK) {
        fmt(why, sizeof why, "checkpoint: %s", rep->message);
        goto cleanup;
    }
    rep->size = cp.size;
    for (size_t i = 1; i < nkeys; i++)
        rep->cosignatures += verified[i] ? 1u : 0u;
    if (rep->cosignatures < need) {
        st = SR_ERR_AUDIT;
        fmt(why, sizeof why,
            "checkpoint: %u valid witness cosignatures, %u required%s",
            rep->cosignatures, need,
            have_cfg ? " (by the vault's witness configuration in "
                       "witnesses)"
                     : "");
        goto cleanup;
    }

    /* ---- history, then the pass */
    v->logdir = logdir;
    v->size = cp.size;
    v->ntiles = cp.size / TILE_WIDTH + (cp.size % TILE_WIDTH != 0);
    v->def_bad = NONE;
    v->prov_bad = NONE;
    v->halt_bad = NONE;
    merkle_frontier_init(&v->upper);
    st = add_target(v, &tcap, cp.size, cp.root, true);
    if (st == SR_OK)
        st = load_history(v, &tcap, &keys[0], &cp, why, sizeof why);
    if (st != SR_OK) {
        if (why[0] == '\0')
            fmt(why, sizeof why, "out of memory");
        goto cleanup;
    }
    qsort(v->targets, v->ntargets, sizeof *v->targets, target_cmp);
    st = run_pass(v, opt);
    rep->entries = v->entries;
    rep->checkpoints = v->checked;
    if (st != SR_OK) {
        fmt(why, sizeof why, "out of memory");
        goto cleanup;
    }

    /* ---- the verdict: what stopped the pass, then entries, then the
     * root, then tiles, then history */
    st = SR_ERR_AUDIT;
    uint64_t ebad = v->def_bad;
    const char *emsg = v->def_msg;
    if (v->prov_bad != NONE && v->prov_bad < ebad) {
        ebad = v->prov_bad;
        emsg = v->prov_msg;
    }
    if (v->halted) {
        st = v->halt_st;
        rep->first_bad = v->halt_bad;
        if (ebad != NONE && ebad < v->halt_bad) {
            rep->first_bad = ebad;
            fmt(why, sizeof why, "%s", emsg);
        } else {
            fmt(why, sizeof why, "%s", v->halt_msg);
        }
    } else if (ebad != NONE) {
        rep->first_bad = ebad;
        fmt(why, sizeof why, "%s", emsg);
    } else if (!v->root_ok) {
        v->faults++;
        fmt(why, sizeof why,
            "checkpoint: the entries and tiles agree but do not hash to the "
            "signed root of size %llu: the log was rewritten",
            (unsigned long long)cp.size);
    } else if (v->tile_bad) {
        fmt(why, sizeof why, "%s", v->tile_msg);
    } else if (v->hist_bad) {
        fmt(why, sizeof why, "%s", v->hist_msg);
    } else if (from_file && have_cfg && !v->cfg) {
        fmt(why, sizeof why,
            "witnesses: the log records no witness configuration, so the "
            "file is not the vault's (put there by hand?)");
    } else if (from_file && !have_cfg && v->cfg) {
        fmt(why, sizeof why,
            "witnesses: missing, but entry %llu of the log records a witness "
            "configuration: the file was removed",
            (unsigned long long)v->cfg_index);
    } else if (from_file && have_cfg &&
               sodium_memcmp(cfg_hash, v->cfg_hash, HASH) != 0) {
        fmt(why, sizeof why,
            "witnesses: differs from the witness configuration that entry "
            "%llu of the log records: the file was edited (or changed after "
            "the latest checkpoint)",
            (unsigned long long)v->cfg_index);
    } else {
        st = SR_OK;
    }
    if (st != SR_OK && v->faults > 1) {
        size_t n = strlen(why);
        fmt(why + n, sizeof why - n, " (%u problems found)", v->faults);
    }

cleanup:
    if (st == SR_OK)
        fmt(rep->message, sizeof rep->message, "ok");
    else
        fmt(rep->message, sizeof rep->message, "%s", why);
    if (v != NULL) {
        if (v->self.buf != NULL)
            free(v->self.buf);
        free(v->slots);
        free(v->targets);
        free(v);
    }
    free(buf);
    free(verified);
    free(keys);
    return st;
}
