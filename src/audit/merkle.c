/* SPDX-License-Identifier: Apache-2.0 */
/*
 * merkle.c - the audit log's Merkle tree, exactly as RFC 9162 section 2.1
 * defines it (the RFC 6962 tree with SHA-256), and nothing else: no I/O,
 * no allocation, no recursion.
 *
 * Proofs are built by walking the RFC's recursive definitions (PATH,
 * SUBPROOF) top-down in a loop and writing each step's hash where the
 * recursion would have put it; every hash they contain is the head of an
 * aligned range of leaves, computed from at most 64 perfect subtrees
 * fetched through the caller's merkle_node_fn. Verification follows the
 * RFC's iterative algorithms step for step, since a proof is attacker
 * input and the RFC text is the reviewed one.
 */
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "audit/merkle.h"

_Static_assert(MERKLE_HASH_BYTES == crypto_hash_sha256_BYTES, "hash size");

/* ---- hashing ------------------------------------------------------------- */

void merkle_leaf_hash(const uint8_t *data, size_t len,
                      uint8_t out[MERKLE_HASH_BYTES])
{
    /* RFC 9162 2.1.1: the 0x00/0x01 prefixes keep a leaf from ever being
     * taken for an interior node (second-preimage attack). */
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void merkle_node_hash(const uint8_t l[MERKLE_HASH_BYTES],
                      const uint8_t r[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES])
{
    /* Both children are absorbed before out is written, so out may alias
     * either of them. */
    static const uint8_t prefix = 0x01;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, l, MERKLE_HASH_BYTES);
    crypto_hash_sha256_update(&st, r, MERKLE_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

void merkle_empty_root(uint8_t out[MERKLE_HASH_BYTES])
{
    crypto_hash_sha256(out, NULL, 0);
}

/* ---- ranges of leaves ---------------------------------------------------- */

/* The largest power of two strictly below n (n >= 2): the RFC's k. */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k)
        k <<= 1;
    return k;
}

/* MTH(D[begin : begin + count]), count >= 1, from one stored node per set
 * bit of count, folded right to left. Every range the RFC recursions ask
 * for starts at a multiple of a power of two >= count, so each piece is a
 * perfect subtree the node source can answer. */
static sr_status range_root(merkle_node_fn fn, void *ctx, uint64_t begin,
                            uint64_t count, uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t node[MERKLE_HASH_BYTES];
    bool have = false;
    for (unsigned h = 0; h < 64; h++) {
        if (((count >> h) & 1u) == 0)
            continue;
        /* The bits of count above h: where this subtree starts. */
        uint64_t off = ((count >> h) - 1u) << h;
        sr_status st = fn(ctx, h, (begin + off) >> h, have ? node : out);
        if (st != SR_OK)
            return st;
        if (have)
            merkle_node_hash(node, out, out);
        have = true;
    }
    return SR_OK;
}

sr_status merkle_root(merkle_node_fn fn, void *ctx, uint64_t size,
                      uint8_t out[MERKLE_HASH_BYTES])
{
    if (size == 0) {
        merkle_empty_root(out);
        return SR_OK;
    }
    if (fn == NULL)
        return SR_ERR_INVALID;
    return range_root(fn, ctx, 0, size, out);
}

/* ---- proofs -------------------------------------------------------------- */

sr_status merkle_inclusion_proof(merkle_node_fn fn, void *ctx, uint64_t index,
                                 uint64_t size,
                                 uint8_t (*proof)[MERKLE_HASH_BYTES],
                                 size_t cap, size_t *n)
{
    if (fn == NULL || n == NULL || index >= size)
        return SR_ERR_INVALID;

    /* PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])       if m < k
     *               = PATH(m - k, D[k:n]) : MTH(D[0:k])   if m >= k
     * Each level adds one hash after those of the levels below it, so
     * count the levels first and fill the proof from the end. */
    size_t depth = 0;
    for (uint64_t m = index, sz = size; sz > 1; depth++) {
        uint64_t k = split_point(sz);
        if (m >= k) {
            m -= k;
            sz -= k;
        } else {
            sz = k;
        }
    }
    if (depth > cap || (depth > 0 && proof == NULL))
        return SR_ERR_INVALID;

    size_t j = depth;
    uint64_t start = 0, m = index, sz = size;
    while (sz > 1) {
        uint64_t k = split_point(sz);
        sr_status st;
        j--;
        if (m < k) {
            st = range_root(fn, ctx, start + k, sz - k, proof[j]);
            sz = k;
        } else {
            st = range_root(fn, ctx, start, k, proof[j]);
            start += k;
            m -= k;
            sz -= k;
        }
        if (st != SR_OK)
            return st;
    }
    *n = depth;
    return SR_OK;
}

sr_status merkle_consistency_proof(merkle_node_fn fn, void *ctx, uint64_t m,
                                   uint64_t n,
                                   uint8_t (*proof)[MERKLE_HASH_BYTES],
                                   size_t cap, size_t *len)
{
    if (fn == NULL || len == NULL || m == 0 || m > n)
        return SR_ERR_INVALID;

    /* PROOF(m, D[n]) = SUBPROOF(m, D[n], true), where
     *   SUBPROOF(m, D[m], true)  = {}
     *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
     *   SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
     *                                                       if m <= k
     *                        = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
     *                                                       if m > k
     * As for PATH: count, then fill from the end; the terminal hash, if
     * any, is the first one. */
    size_t count = 0;
    bool b = true;
    for (uint64_t mm = m, sz = n; mm != sz; count++) {
        uint64_t k = split_point(sz);
        if (mm <= k) {
            sz = k;
        } else {
            mm -= k;
            sz -= k;
            b = false;
        }
    }
    if (!b)
        count++;
    if (count > cap || (count > 0 && proof == NULL))
        return SR_ERR_INVALID;

    size_t j = count;
    uint64_t start = 0, mm = m, sz = n;
    while (mm != sz) {
        uint64_t k = split_point(sz);
        sr_status st;
        j--;
        if (mm <= k) {
            st = range_root(fn, ctx, start + k, sz - k, proof[j]);
            sz = k;
        } else {
            st = range_root(fn, ctx, start, k, proof[j]);
            start += k;
            mm -= k;
            sz -= k;
        }
        if (st != SR_OK)
            return st;
    }
    if (!b) {
        sr_status st = range_root(fn, ctx, start, sz, proof[0]);
        if (st != SR_OK)
            return st;
    }
    *len = count;
    return SR_OK;
}

/* ---- verification -------------------------------------------------------- */

sr_status merkle_verify_inclusion(const uint8_t leaf[MERKLE_HASH_BYTES],
                                  uint64_t index, uint64_t size,
                                  const uint8_t (*proof)[MERKLE_HASH_BYTES],
                                  size_t n,
                                  const uint8_t root[MERKLE_HASH_BYTES])
{
    /* RFC 9162 2.1.3.2 step 1. */
    if (index >= size || (n > 0 && proof == NULL))
        return SR_ERR_INVALID;
    /* Steps 2 and 3. */
    uint64_t fn = index, sn = size - 1;
    uint8_t r[MERKLE_HASH_BYTES];
    memcpy(r, leaf, sizeof r);
    /* Step 4. sn loses a bit per entry, so a long proof fails by step 4a
     * within 64 entries: the work is bounded whatever n is. */
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return SR_ERR_CORRUPT; /* 4a: the proof is too long */
        if ((fn & 1u) != 0 || fn == sn) {
            merkle_node_hash(proof[i], r, r); /* 4b.i */
            if ((fn & 1u) == 0) {             /* 4b.ii */
                while ((fn & 1u) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            merkle_node_hash(r, proof[i], r); /* 4b, otherwise */
        }
        fn >>= 1; /* 4c */
        sn >>= 1;
    }
    /* Step 5: sn == 0 (the proof was not too short) and r == root. */
    if (sn != 0)
        return SR_ERR_CORRUPT;
    return sodium_memcmp(r, root, MERKLE_HASH_BYTES) == 0 ? SR_OK
                                                          : SR_ERR_CORRUPT;
}

/* Entry i of the consistency path of RFC 9162 2.1.4.2 after step 2. */
static const uint8_t *path_at(const uint8_t root_m[MERKLE_HASH_BYTES],
                              const uint8_t (*proof)[MERKLE_HASH_BYTES],
                              size_t pre, size_t i)
{
    return i < pre ? root_m : proof[i - pre];
}

sr_status merkle_verify_consistency(uint64_t m, uint64_t n,
                                    const uint8_t root_m[MERKLE_HASH_BYTES],
                                    const uint8_t root_n[MERKLE_HASH_BYTES],
                                    const uint8_t (*proof)[MERKLE_HASH_BYTES],
                                    size_t len)
{
    if (m == 0 || m > n || (len > 0 && proof == NULL))
        return SR_ERR_INVALID;
    /* PROOF(m, D[m]) is empty (2.1.4.1): the heads must simply agree. */
    if (m == n) {
        if (len != 0)
            return SR_ERR_CORRUPT;
        return sodium_memcmp(root_m, root_n, MERKLE_HASH_BYTES) == 0
                   ? SR_OK
                   : SR_ERR_CORRUPT;
    }
    /* RFC 9162 2.1.4.2 step 1. */
    if (len == 0)
        return SR_ERR_CORRUPT;
    /* Step 2: for m a power of two, the path is root_m followed by the
     * proof; read through path_at instead of copying. */
    const size_t pre = (m & (m - 1)) == 0 ? 1u : 0u;
    const size_t total = pre + len;
    /* Steps 3 and 4. */
    uint64_t fn = m - 1, sn = n - 1;
    while ((fn & 1u) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 5. */
    uint8_t fr[MERKLE_HASH_BYTES], sr[MERKLE_HASH_BYTES];
    memcpy(fr, path_at(root_m, proof, pre, 0), sizeof fr);
    memcpy(sr, path_at(root_m, proof, pre, 0), sizeof sr);
    /* Step 6; bounded like the inclusion loop. */
    for (size_t i = 1; i < total; i++) {
        const uint8_t *c = path_at(root_m, proof, pre, i);
        if (sn == 0)
            return SR_ERR_CORRUPT; /* 6a: the proof is too long */
        if ((fn & 1u) != 0 || fn == sn) {
            merkle_node_hash(c, fr, fr); /* 6b.i */
            merkle_node_hash(c, sr, sr);
            if ((fn & 1u) == 0) { /* 6b.ii */
                while ((fn & 1u) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            merkle_node_hash(sr, c, sr); /* 6b, otherwise */
        }
        fn >>= 1; /* 6c */
        sn >>= 1;
    }
    /* Step 7: fr == root_m, sr == root_n and sn == 0. Both comparisons run
     * so the time does not say which failed. */
    int bad_m = sodium_memcmp(fr, root_m, MERKLE_HASH_BYTES);
    int bad_n = sodium_memcmp(sr, root_n, MERKLE_HASH_BYTES);
    if (sn != 0 || bad_m != 0 || bad_n != 0)
        return SR_ERR_CORRUPT;
    return SR_OK;
}

/* ---- the frontier -------------------------------------------------------- */

void merkle_frontier_init(merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

sr_status merkle_frontier_load(merkle_frontier *f, uint64_t size,
                               merkle_node_fn fn, void *ctx)
{
    if (f == NULL || (size > 0 && fn == NULL))
        return SR_ERR_INVALID;
    /* Build aside, so a failing node source leaves *f as it was. */
    merkle_frontier t;
    merkle_frontier_init(&t);
    for (unsigned h = 0; h < 64; h++) {
        if (((size >> h) & 1u) == 0)
            continue;
        sr_status st = fn(ctx, h, (size >> h) - 1u, t.h[h]);
        if (st != SR_OK)
            return st;
    }
    t.size = size;
    *f = t;
    return SR_OK;
}

sr_status merkle_frontier_append(merkle_frontier *f,
                                 const uint8_t leaf[MERKLE_HASH_BYTES],
                                 merkle_emit_fn emit, void *ctx)
{
    if (f == NULL || f->size == UINT64_MAX)
        return SR_ERR_INVALID;
    /* The new leaf completes the subtrees of heights 0 .. h, where h is
     * the lowest clear bit of size: each one-bit below h is a finished
     * left sibling in f->h. Nothing in *f changes until every emit has
     * succeeded. */
    uint8_t cur[MERKLE_HASH_BYTES];
    uint64_t index = f->size;
    unsigned h = 0;
    memcpy(cur, leaf, sizeof cur);
    for (;;) {
        if (emit != NULL) {
            sr_status st = emit(ctx, h, index, cur);
            if (st != SR_OK)
                return st;
        }
        if (((f->size >> h) & 1u) == 0)
            break;
        merkle_node_hash(f->h[h], cur, cur);
        h++;
        index >>= 1;
    }
    memcpy(f->h[h], cur, sizeof cur);
    f->size++;
    return SR_OK;
}

void merkle_frontier_root(const merkle_frontier *f,
                          uint8_t out[MERKLE_HASH_BYTES])
{
    if (f->size == 0) {
        merkle_empty_root(out);
        return;
    }
    /* MTH folds the perfect subtrees right to left: smallest first. */
    bool have = false;
    for (unsigned h = 0; h < 64; h++) {
        if (((f->size >> h) & 1u) == 0)
            continue;
        if (have)
            merkle_node_hash(f->h[h], out, out);
        else
            memcpy(out, f->h[h], MERKLE_HASH_BYTES);
        have = true;
    }
}

/* ---- leaves in memory ---------------------------------------------------- */

sr_status merkle_root_of_leaves(const uint8_t (*leaves)[MERKLE_HASH_BYTES],
                                uint64_t n, uint8_t out[MERKLE_HASH_BYTES])
{
    if (leaves == NULL && n > 0)
        return SR_ERR_INVALID;
    /* The frontier again, without the emits: each leaf is merged with the
     * finished subtrees to its left, so the whole tree costs n - 1 node
     * hashes (plus one per set bit of n at the end) and 2 KiB of stack. */
    merkle_frontier f;
    f.size = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t cur[MERKLE_HASH_BYTES];
        unsigned h = 0;
        memcpy(cur, leaves[i], sizeof cur);
        while (((i >> h) & 1u) != 0) {
            merkle_node_hash(f.h[h], cur, cur);
            h++;
        }
        memcpy(f.h[h], cur, sizeof cur);
    }
    f.size = n;
    merkle_frontier_root(&f, out);
    return SR_OK;
}

sr_status merkle_leaves_node(void *ctx, unsigned height, uint64_t index,
                             uint8_t out[MERKLE_HASH_BYTES])
{
    const merkle_leaves *ml = ctx;
    if (ml == NULL || height >= 64 || index >= (ml->n >> height))
        return SR_ERR_INVALID;
    return merkle_root_of_leaves(ml->leaves + (size_t)(index << height),
                                 (uint64_t)1 << height, out);
}
