/* SPDX-License-Identifier: Apache-2.0 */
/*
 * merkle.h - the Merkle tree of the audit log (internal): RFC 9162 section
 * 2.1 hashing, tree heads, inclusion and consistency proofs and their
 * verification, and the "frontier" (compact range) that lets the log append
 * a leaf in O(log n) and write every finished subtree out as it completes.
 *
 * Pure arithmetic over hashes: no I/O, no allocation. Stored nodes come in
 * through a merkle_node_fn supplied by the storage layer (tiles on disk, or
 * leaves in memory), so the same code serves the log writer, the HTTP tile
 * server and the offline verifier. All functions are thread-safe as long as
 * the callbacks are and no two threads share a merkle_frontier.
 *
 * Hashes are SHA-256 (libsodium). A tree of size n has leaves 0..n-1; the
 * "node (height h, index i)" is the root of the perfect subtree over leaves
 * [i << h, (i + 1) << h). Arrays of hashes that are only read are taken as
 * const uint8_t (*)[32]; before C2X, ISO C (-Wpedantic) wants an explicit
 * cast to pass a uint8_t (*)[32] there.
 */
#ifndef SR_AUDIT_MERKLE_H
#define SR_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"

#define MERKLE_HASH_BYTES 32u
/* Room for any proof over a 64-bit tree size. An inclusion proof has at most
 * 64 entries; a consistency proof can have one more (e.g. m = 3 in a tree
 * of n > 2^63 leaves: 64 path hashes plus MTH(D[2:3])). */
#define MERKLE_PROOF_MAX 65u

/* ---- hashing (RFC 9162 2.1.1) -------------------------------------------- */

/* SHA-256(0x00 || data): the hash of one log entry. data may be NULL when
 * len is 0. */
void merkle_leaf_hash(const uint8_t *data, size_t len,
                      uint8_t out[MERKLE_HASH_BYTES]);
/* SHA-256(0x01 || l || r): an interior node. out may alias l or r. */
void merkle_node_hash(const uint8_t l[MERKLE_HASH_BYTES],
                      const uint8_t r[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES]);
/* MTH({}) = SHA-256(""): the head of the empty tree. */
void merkle_empty_root(uint8_t out[MERKLE_HASH_BYTES]);

/* ---- tree heads and proofs over stored nodes ----------------------------- */

/* A source of hashes of PERFECT subtrees: write the root of the leaves
 * [index << height, (index + 1) << height) to out. The functions below only
 * ask for nodes wholly inside the tree size they were given, so a storage
 * layer may answer from tiles alone. Return SR_OK, or an error, which the
 * caller passes through unchanged. */
typedef sr_status (*merkle_node_fn)(void *ctx, unsigned height, uint64_t index,
                                    uint8_t out[MERKLE_HASH_BYTES]);

/* MTH of the first `size` leaves (the empty root for size 0), with one call
 * to fn per set bit of size. Errors: whatever fn returns; SR_ERR_INVALID if
 * fn is NULL and size > 0. */
SR_WARN_UNUSED sr_status merkle_root(merkle_node_fn fn, void *ctx,
                                     uint64_t size,
                                     uint8_t out[MERKLE_HASH_BYTES]);

/* The RFC 9162 2.1.3.1 inclusion proof PATH(index, D[size]) of leaf `index`,
 * written to proof[0 .. *n), innermost sibling first; cap is the room in
 * proof (MERKLE_PROOF_MAX is always enough). Errors: SR_ERR_INVALID if
 * index >= size or cap is too small (nothing is written), or whatever fn
 * returns (proof then holds garbage). */
SR_WARN_UNUSED sr_status merkle_inclusion_proof(
    merkle_node_fn fn, void *ctx, uint64_t index, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH_BYTES], size_t cap, size_t *n);

/* The RFC 9162 2.1.4.1 consistency proof PROOF(m, D[n]) between tree sizes
 * m and n, 0 < m <= n, written to proof[0 .. *len); m == n gives an empty
 * proof. Errors as for merkle_inclusion_proof (SR_ERR_INVALID for m == 0,
 * m > n or too small a cap). */
SR_WARN_UNUSED sr_status merkle_consistency_proof(
    merkle_node_fn fn, void *ctx, uint64_t m, uint64_t n,
    uint8_t (*proof)[MERKLE_HASH_BYTES], size_t cap, size_t *len);

/* ---- verification (untrusted proofs) ------------------------------------- */

/* RFC 9162 2.1.3.2, step by step: does `proof` (n hashes) show that `leaf`
 * (a leaf hash) is entry `index` of the tree of `size` leaves whose head is
 * `root`? SR_OK if so; SR_ERR_CORRUPT if not (a hash mismatch, or a proof
 * of the wrong length); SR_ERR_INVALID if index >= size. At most 64 proof
 * entries are hashed whatever n is. */
SR_WARN_UNUSED sr_status merkle_verify_inclusion(
    const uint8_t leaf[MERKLE_HASH_BYTES], uint64_t index, uint64_t size,
    const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t n,
    const uint8_t root[MERKLE_HASH_BYTES]);

/* RFC 9162 2.1.4.2, step by step: does `proof` (len hashes) show that the
 * tree of m leaves with head root_m is a prefix of the tree of n leaves with
 * head root_n? For m == n the proof must be empty and the heads equal.
 * SR_OK, SR_ERR_CORRUPT (mismatch or wrong length), SR_ERR_INVALID (m == 0
 * or m > n: no proof is defined). At most 65 proof entries are hashed
 * whatever len is. */
SR_WARN_UNUSED sr_status merkle_verify_consistency(
    uint64_t m, uint64_t n, const uint8_t root_m[MERKLE_HASH_BYTES],
    const uint8_t root_n[MERKLE_HASH_BYTES],
    const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t len);

/* ---- the frontier of a growing tree -------------------------------------- */

/* The right edge of a tree ("compact range"): one perfect-subtree hash per
 * set bit of size. h[k] is the node (k, (size >> k) - 1), valid when bit k
 * of size is set; other entries are stale and must not be read. */
typedef struct merkle_frontier {
    uint64_t size;
    uint8_t h[64][MERKLE_HASH_BYTES];
} merkle_frontier;

/* Told of each node that becomes complete, so a storage layer can fill
 * tiles. Return SR_OK or an error, which aborts the append. */
typedef sr_status (*merkle_emit_fn)(void *ctx, unsigned height, uint64_t index,
                                    const uint8_t hash[MERKLE_HASH_BYTES]);

/* The frontier of the empty tree. */
void merkle_frontier_init(merkle_frontier *f);

/* Rebuild the frontier of a tree of `size` leaves from stored nodes (one fn
 * call per set bit of size). On error, which is fn's, *f is unchanged. */
SR_WARN_UNUSED sr_status merkle_frontier_load(merkle_frontier *f, uint64_t size,
                                              merkle_node_fn fn, void *ctx);

/* Append one leaf hash. Every node that this completes is passed to emit
 * (when not NULL) bottom-up: first the leaf itself as (0, old size), then
 * each merged subtree up to the new highest one. If emit fails, its error is
 * returned and *f is unchanged (the nodes already emitted may be written
 * again by a retry). SR_ERR_INVALID if the tree already has 2^64 - 1
 * leaves. */
SR_WARN_UNUSED sr_status merkle_frontier_append(
    merkle_frontier *f, const uint8_t leaf[MERKLE_HASH_BYTES],
    merkle_emit_fn emit, void *ctx);

/* MTH of the f->size leaves (the empty root for size 0). */
void merkle_frontier_root(const merkle_frontier *f,
                          uint8_t out[MERKLE_HASH_BYTES]);

/* ---- leaves in memory ---------------------------------------------------- */

/* MTH of n leaf hashes held in memory: n - 1 node hashes, no allocation,
 * no recursion (for the full-log verifier). The empty root for n == 0.
 * SR_ERR_INVALID if leaves is NULL and n > 0. */
SR_WARN_UNUSED sr_status
merkle_root_of_leaves(const uint8_t (*leaves)[MERKLE_HASH_BYTES], uint64_t n,
                      uint8_t out[MERKLE_HASH_BYTES]);

/* A merkle_node_fn over leaf hashes in memory: pass a merkle_leaves as ctx.
 * Each node costs 2^height - 1 hashes, so a proof over n leaves costs O(n):
 * meant for tests and for verifiers that hold the whole log anyway.
 * SR_ERR_INVALID for a node not wholly inside the n leaves. */
typedef struct merkle_leaves {
    const uint8_t (*leaves)[MERKLE_HASH_BYTES];
    uint64_t n;
} merkle_leaves;

SR_WARN_UNUSED sr_status merkle_leaves_node(void *ctx, unsigned height,
                                            uint64_t index,
                                            uint8_t out[MERKLE_HASH_BYTES]);

#endif
