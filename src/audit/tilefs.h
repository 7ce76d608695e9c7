/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tilefs.h - reading a log directory laid out as C2SP tlog-tiles
 * (internal): tiles, entry bundles and the stored node hashes that make
 * proofs cheap. Needs no key: the verifier, the witness and the vault's
 * own log all read through it.
 *
 * A view is made for one tree size; it reads the full or partial tile
 * that size implies. Node hashes are taken from the node index
 * (<vault>/audit/nodes/<h>, a derived cache the writer keeps) when it has
 * them, at any height, and otherwise from the tiles (folded from the tile
 * below for heights between tile levels). The index vouches for nothing:
 * whoever hands out what it read checks it against a signed root. A
 * handle is used by one thread at a time.
 */
#ifndef SR_AUDIT_TILEFS_H
#define SR_AUDIT_TILEFS_H

#include <stdint.h>

#include "strongroom/common.h"
#include "util/util.h"

typedef struct tilefs tilefs;

#define TILEFS_MSG_MAX 512u

/* Open a view of logdir (the directory holding checkpoint and tile/) at
 * tree size `size`. nodes_dir may be NULL (no node index). */
SR_WARN_UNUSED sr_status tilefs_open(tilefs **out, const char *logdir,
                                     const char *nodes_dir, uint64_t size);
void tilefs_free(tilefs *t);
/* Move the view to another tree size (after the log grew). */
void tilefs_set_size(tilefs *t, uint64_t size);
uint64_t tilefs_size(const tilefs *t);
/* What the last failure was, naming the file. */
const char *tilefs_errmsg(const tilefs *t);

/* A merkle_node_fn (ctx is the tilefs). SR_ERR_NOT_FOUND if a tile is
 * missing, SR_ERR_CORRUPT if one has the wrong size. */
SR_WARN_UNUSED sr_status tilefs_node(void *ctx, unsigned height, uint64_t index,
                                     uint8_t out[32]);

/* The hashes of tile (level, n) as the view's size implies: *width of them
 * (256 for a full tile). */
SR_WARN_UNUSED sr_status tilefs_read_tile(tilefs *t, unsigned level, uint64_t n,
                                          uint8_t (*hashes)[32],
                                          unsigned *width);

/* The raw entry bundle n (out is appended to); *width entries. */
SR_WARN_UNUSED sr_status tilefs_read_bundle(tilefs *t, uint64_t n, sr_buf *out,
                                            unsigned *width);

#endif
