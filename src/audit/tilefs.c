/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tilefs.c - read tiles, entry bundles and node hashes from a log
 * directory (C2SP tlog-tiles layout), with a small cache of recent tiles.
 *
 * Node hashes come from the node index when there is one, at every
 * height: one read of 32 bytes instead of a tile file opened, read and
 * closed, or up to 127 hashes folded. A view that keeps asking one height
 * (a proof server: every proof needs a node at each height) maps that
 * height's file once it has read it TILEFS_MAP_AFTER times, and then
 * answers without a system call; a view made for one proof never maps.
 * The writer only ever extends these files (docs/audit.md, "Node index");
 * a file cut shorter while mapped would fault on access, like any mapped
 * file, which is why nothing but the writer may touch audit/nodes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/merkle.h"
#include "audit/tile.h"
#include "audit/tilefs.h"

#define TILEFS_CACHE 64u
#define TILEFS_HEIGHTS 64u
/* Reads of one height by one view before its index file is mapped. */
#define TILEFS_MAP_AFTER 32u

typedef struct tile_slot {
    bool used;
    unsigned level;
    uint64_t n;
    unsigned width;
    uint8_t h[TILE_WIDTH][MERKLE_HASH_BYTES];
} tile_slot;

struct tilefs {
    char *logdir;
    char *nodes_dir;
    uint64_t size;
    int node_fd[TILEFS_HEIGHTS];             /* -1 unopened, -2 absent */
    const uint8_t *node_map[TILEFS_HEIGHTS]; /* NULL: not mapped */
    size_t node_map_len[TILEFS_HEIGHTS];
    uint32_t node_reads[TILEFS_HEIGHTS];
    tile_slot cache[TILEFS_CACHE];
    char msg[TILEFS_MSG_MAX];
};

static sr_status tfail(tilefs *t, sr_status st, const char *what,
                       const char *path)
{
    /* Truncation is fine: the message is for people. */
    if (snprintf(t->msg, sizeof t->msg, "%s %s", what, path) < 0)
        t->msg[0] = '\0';
    return st;
}

sr_status tilefs_open(tilefs **out, const char *logdir, const char *nodes_dir,
                      uint64_t size)
{
    tilefs *t = calloc(1, sizeof *t);
    *out = NULL;
    if (t == NULL)
        return SR_ERR_NOMEM;
    t->logdir = strdup(logdir);
    t->nodes_dir = nodes_dir != NULL ? strdup(nodes_dir) : NULL;
    if (t->logdir == NULL || (nodes_dir != NULL && t->nodes_dir == NULL)) {
        tilefs_free(t);
        return SR_ERR_NOMEM;
    }
    for (unsigned i = 0; i < TILEFS_HEIGHTS; i++)
        t->node_fd[i] = -1;
    t->size = size;
    *out = t;
    return SR_OK;
}

void tilefs_free(tilefs *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < TILEFS_HEIGHTS; i++) {
        if (t->node_map[i] != NULL)
            (void)munmap((void *)t->node_map[i], t->node_map_len[i]);
        if (t->node_fd[i] >= 0)
            close(t->node_fd[i]);
    }
    free(t->logdir);
    free(t->nodes_dir);
    free(t);
}

void tilefs_set_size(tilefs *t, uint64_t size)
{
    /* Cached full tiles stay right; partial ones are keyed by width, so
     * a new size simply misses them. Node files only grow. */
    t->size = size;
}

uint64_t tilefs_size(const tilefs *t)
{
    return t->size;
}

const char *tilefs_errmsg(const tilefs *t)
{
    return t->msg[0] != '\0' ? t->msg : "no error";
}

static sr_status tile_file(tilefs *t, int level, uint64_t n, unsigned width,
                           char out[PATH_MAX])
{
    char rel[TILE_PATH_MAX];
    sr_status st = tile_path(rel, sizeof rel, level, n, width);
    if (st != SR_OK)
        return tfail(t, SR_ERR_INTERNAL, "bad tile coordinates for", "");
    int len = snprintf(out, PATH_MAX, "%s/%s", t->logdir, rel);
    if (len < 0 || len >= PATH_MAX)
        return tfail(t, SR_ERR_INVALID, "path too long:", t->logdir);
    return SR_OK;
}

/* Read exactly n bytes of a file (no more, no less). */
static sr_status read_exact(tilefs *t, const char *path, uint8_t *dst, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tfail(t, errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO,
                     "cannot open", path);
    size_t got = 0;
    uint8_t extra;
    sr_status st = SR_OK;
    while (got < n) {
        ssize_t r = pread(fd, dst + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != n || pread(fd, &extra, 1, (off_t)n) != 0)
        st = tfail(t, SR_ERR_CORRUPT, "wrong size:", path);
    close(fd);
    return st;
}

sr_status tilefs_read_tile(tilefs *t, unsigned level, uint64_t n,
                           uint8_t (*hashes)[32], unsigned *width)
{
    char path[PATH_MAX];
    unsigned w = tile_width((int)level, n, t->size);
    *width = 0;
    if (w == 0)
        return tfail(t, SR_ERR_NOT_FOUND,
                     "no such tile in this tree:", t->logdir);
    sr_status st = tile_file(t, (int)level, n, w, path);
    if (st == SR_OK)
        st = read_exact(t, path, &hashes[0][0], (size_t)w * 32u);
    if (st == SR_OK)
        *width = w;
    return st;
}

sr_status tilefs_read_bundle(tilefs *t, uint64_t n, sr_buf *out,
                             unsigned *width)
{
    char path[PATH_MAX];
    unsigned w = tile_width(TILE_LEVEL_ENTRIES, n, t->size);
    *width = 0;
    if (w == 0)
        return tfail(t, SR_ERR_NOT_FOUND,
                     "no such entry bundle in this tree:", t->logdir);
    sr_status st = tile_file(t, TILE_LEVEL_ENTRIES, n, w, path);
    if (st != SR_OK)
        return st;
    st = file_read(path, out);
    if (st == SR_ERR_INVALID)
        return tfail(t, SR_ERR_CORRUPT, "entry bundle too large:", path);
    if (st != SR_OK)
        return tfail(t, st, "cannot read", path);
    *width = w;
    return SR_OK;
}

static tile_slot *cached_tile(tilefs *t, unsigned level, uint64_t n,
                              sr_status *st)
{
    unsigned w = tile_width((int)level, n, t->size);
    tile_slot *s = &t->cache[(n * 31u + level) % TILEFS_CACHE];
    if (s->used && s->level == level && s->n == n && s->width == w && w > 0) {
        *st = SR_OK;
        return s;
    }
    s->used = false;
    *st = tilefs_read_tile(t, level, n, s->h, &s->width);
    if (*st != SR_OK)
        return NULL;
    s->level = level;
    s->n = n;
    s->used = true;
    return s;
}

/* The node index: node (h, i) at offset 32 i of nodes/<h>, if written. */
static bool node_from_index(tilefs *t, unsigned h, uint64_t i, uint8_t out[32])
{
    if (t->nodes_dir == NULL || h >= TILEFS_HEIGHTS || t->node_fd[h] == -2)
        return false;
    if (t->node_fd[h] == -1) {
        char path[PATH_MAX];
        int len = snprintf(path, sizeof path, "%s/%02u", t->nodes_dir, h);
        int fd = len > 0 && len < (int)sizeof path
                     ? open(path, O_RDONLY | O_CLOEXEC)
                     : -1;
        t->node_fd[h] = fd >= 0 ? fd : -2;
        if (fd < 0)
            return false;
    }
    if (i > (uint64_t)INT64_MAX / 32u)
        return false;
    uint64_t off = i * 32u;
    if (t->node_map[h] == NULL || off + 32u > t->node_map_len[h]) {
        /* Not mapped, or the file grew past the mapping: map (again)
         * once this view has shown it reads this height often. */
        struct stat sb;
        if (++t->node_reads[h] >= TILEFS_MAP_AFTER &&
            fstat(t->node_fd[h], &sb) == 0 &&
            (uint64_t)sb.st_size >= off + 32u &&
            (uint64_t)sb.st_size <= SIZE_MAX) {
            void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED,
                           t->node_fd[h], 0);
            if (m != MAP_FAILED) {
                if (t->node_map[h] != NULL)
                    (void)munmap((void *)t->node_map[h], t->node_map_len[h]);
                t->node_map[h] = m;
                t->node_map_len[h] = (size_t)sb.st_size;
            }
            t->node_reads[h] = 0;
        }
    }
    if (t->node_map[h] != NULL && off + 32u <= t->node_map_len[h])
        memcpy(out, t->node_map[h] + off, 32);
    else if (pread(t->node_fd[h], out, 32, (off_t)off) != 32)
        return false;
    /* A hole (the index was deleted and rewritten from a later size on)
     * reads as zeros: no SHA-256 output, so fold from the tiles instead. */
    static const uint8_t zero[32];
    return memcmp(out, zero, sizeof zero) != 0;
}

sr_status tilefs_node(void *ctx, unsigned height, uint64_t index,
                      uint8_t out[32])
{
    tilefs *t = ctx;
    sr_status st;

    if (height >= TILEFS_HEIGHTS ||
        (height > 0 && index >= (t->size >> height)) ||
        (height == 0 && index >= t->size))
        return tfail(t, SR_ERR_INVALID, "node outside the tree of", t->logdir);
    if (node_from_index(t, height, index, out))
        return SR_OK;
    /* Fold the 2^k hashes of tile level L under the node. */
    unsigned level = height / TILE_HEIGHT, k = height % TILE_HEIGHT;
    uint64_t first = index << k, count = (uint64_t)1 << k;
    tile_slot *s = cached_tile(t, level, first / TILE_WIDTH, &st);
    if (s == NULL)
        return st;
    unsigned off = (unsigned)(first % TILE_WIDTH);
    if (off + count > s->width)
        return tfail(t, SR_ERR_CORRUPT, "tile shorter than its tree in",
                     t->logdir);
    uint8_t work[TILE_WIDTH][MERKLE_HASH_BYTES];
    memcpy(work, s->h[off], (size_t)count * 32u);
    for (uint64_t m = count; m > 1; m /= 2)
        for (uint64_t j = 0; j < m / 2; j++) {
            uint8_t h[MERKLE_HASH_BYTES];
            merkle_node_hash(work[2 * j], work[2 * j + 1], h);
            memcpy(work[j], h, sizeof h);
        }
    memcpy(out, work[0], 32);
    return SR_OK;
}
