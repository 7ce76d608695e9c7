/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tile.h - how the audit log is laid out as static files (internal): the
 * C2SP tlog-tiles names of hash tiles and entry bundles, which tiles a tree
 * of a given size has and how wide they are, and the entry-bundle encoding.
 * https://c2sp.org/tlog-tiles
 *
 *   tile/<L>/<N>[.p/<W>]      256 hashes (8 KiB), or W < 256 for the
 *                             partial tile at the right edge; level L holds
 *                             the nodes at tree height 8 * L
 *   tile/entries/<N>[.p/<W>]  the entries hashed into tile/0/<N>, each
 *                             prefixed by its length as a big-endian uint16
 *
 * <N> is written in zero-padded 3-digit groups, all but the last prefixed
 * with "x": 1234067 is x001/x234/067.
 *
 * Pure functions, no I/O (the storage backends sit behind them), safe to
 * call from any thread.
 */
#ifndef SR_AUDIT_TILE_H
#define SR_AUDIT_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"
#include "util/util.h"

#define TILE_HEIGHT 8u
#define TILE_WIDTH 256u         /* hashes (or entries) in a full tile */
#define TILE_PATH_MAX 96u       /* room for any path and its NUL */
#define TILE_LEVEL_ENTRIES (-1) /* the level of entry bundles */
#define TILE_LEVEL_MAX 63       /* the spec's highest level */
#define BUNDLE_ENTRY_MAX 65535u /* the uint16 length prefix */

/* Write the path, relative to the log root and NUL-terminated, of tile
 * (level, n) with `width` hashes: TILE_WIDTH for a full tile, 1..255 for a
 * partial one. Level TILE_LEVEL_ENTRIES gives the entry bundle's path.
 * SR_ERR_INVALID for a level outside -1..63, a width outside 1..256, or a
 * cap too small (TILE_PATH_MAX always suffices); out is then untouched. */
SR_WARN_UNUSED sr_status tile_path(char *out, size_t cap, int level, uint64_t n,
                                   unsigned width);

/* Parse a path of len bytes (no NUL needed) as a server receives it under
 * the log root, e.g. "tile/0/x001/x234/067.p/5" or "tile/entries/000".
 * Only the canonical form that tile_path writes is accepted: no leading
 * zeros in L or W, exactly three digits per group, an "x" on every group
 * but the last, no all-zero leading group, N within 64 bits, L in 0..63,
 * W in 1..255, nothing before or after. *width is TILE_WIDTH for a full
 * tile. SR_ERR_INVALID otherwise; the outputs are then untouched. */
SR_WARN_UNUSED sr_status tile_path_parse(const char *path, size_t len,
                                         int *level, uint64_t *n,
                                         unsigned *width);

/* In a tree of `size` leaves: the width of tile (level, n) - TILE_WIDTH if
 * it is full, 1..255 if it is the partial tile at the right edge, 0 if the
 * tree has no such tile. Level TILE_LEVEL_ENTRIES behaves as level 0; any
 * level outside -1..63 gives 0. */
unsigned tile_width(int level, uint64_t n, uint64_t size);

/* The number of nodes at tree height 8 * level in a tree of `size` leaves,
 * size >> (8 * level) (0 from level 8 up): the hashes stored at that level
 * across all its tiles. */
uint64_t tile_level_count(unsigned level, uint64_t size);

/* ---- entry bundles ------------------------------------------------------- */

/* Told of entry i (0-based within the bundle) of len bytes. data points
 * into the caller's buffer and is valid only during the call. Return SR_OK
 * or an error, which stops the walk and is returned. */
typedef sr_status (*bundle_entry_fn)(void *ctx, uint64_t i, const uint8_t *data,
                                     size_t len);

/* Walk an entry bundle of len bytes that must hold exactly `expect` entries
 * (1..TILE_WIDTH) and nothing after them. The whole bundle is checked before
 * fn (which may be NULL, to only check) sees any entry, so a malformed
 * bundle is never half-processed. SR_ERR_CORRUPT if it is malformed (a
 * length running past the end, too few entries, trailing bytes);
 * SR_ERR_INVALID for expect outside 1..TILE_WIDTH; else fn's error. */
SR_WARN_UNUSED sr_status bundle_parse(const uint8_t *p, size_t len,
                                      unsigned expect, bundle_entry_fn fn,
                                      void *ctx);

/* Append one entry (its uint16 length, then its bytes) to a bundle being
 * built in b. SR_ERR_INVALID if len > BUNDLE_ENTRY_MAX or b's cap would be
 * passed, SR_ERR_NOMEM; on error b is as it was. */
SR_WARN_UNUSED sr_status bundle_add(sr_buf *b, const uint8_t *data, size_t len);

#endif
