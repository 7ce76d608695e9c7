/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_merkle.c - the audit log's Merkle tree (src/audit/merkle.c) against
 * RFC 9162 section 2.1.
 *
 * Three kinds of evidence: the published Certificate Transparency vectors
 * (tests/data/merkle_rfc6962_vectors.txt, sources named there); a second,
 * deliberately naive implementation written here straight from the RFC's
 * recursive definitions (MTH, PATH, SUBPROOF), compared with the library's
 * iterative code for every tree of up to 64 leaves, every index and every
 * pair of sizes; and tampering - every proof is also checked NOT to verify
 * after a flipped bit, with a wrong index or size, or truncated or
 * extended. The node source used here asserts that it is only asked for
 * nodes inside the tree it was given, as the tile storage relies on that.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/merkle.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

#define HB MERKLE_HASH_BYTES
/* The library takes hash arrays it only reads as const uint8_t (*)[32];
 * before C2X, ISO C wants an explicit cast from uint8_t (*)[32]. */
#define CP(p) ((const uint8_t(*)[HB])(p))
/* Exhaustive proofs go up to this size; other checks use more leaves. */
#define PROOF_N 64u
#define LEAVES 300u

/* ---- reading the vectors file ------------------------------------------- */

typedef struct vec {
    char key[64];
    uint8_t val[8 * HB];
    size_t len;
} vec;

static vec vecs[64];
static size_t nvecs;

/* Load tests/data/merkle_rfc6962_vectors.txt: "key = hex hex ...". */
static void vectors_load(void)
{
    if (nvecs > 0)
        return;
    const char *dir = getenv("SR_SOURCE_DIR");
    char path[1024], line[2048];
    int w =
        snprintf(path, sizeof path, "%s/tests/data/merkle_rfc6962_vectors.txt",
                 dir ? dir : ".");
    assert_true(w > 0 && (size_t)w < sizeof path);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set SR_SOURCE_DIR)", path);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *eq = strstr(line, " =");
        assert_non_null(eq);
        assert_true(nvecs < sizeof vecs / sizeof vecs[0]);
        vec *v = &vecs[nvecs++];
        size_t kl = (size_t)(eq - line);
        assert_true(kl < sizeof v->key);
        memcpy(v->key, line, kl);
        v->key[kl] = '\0';
        v->len = 0;
        const char *p = eq + 2;
        for (;;) {
            while (*p == ' ')
                p++;
            if (*p == '\0')
                break;
            size_t tl = strcspn(p, " ");
            assert_true(tl % 2 == 0 && v->len + tl / 2 <= sizeof v->val);
            if (!hex_decode(v->val + v->len, tl / 2, p, tl))
                fail_msg("bad hex in vector %s", v->key);
            v->len += tl / 2;
            p += tl;
        }
    }
    fclose(f);
    assert_true(nvecs > 0);
}

static const vec *vec_get(const char *key)
{
    vectors_load();
    for (size_t i = 0; i < nvecs; i++) {
        if (strcmp(vecs[i].key, key) == 0)
            return &vecs[i];
    }
    fail_msg("no vector %s", key);
    return NULL;
}

/* "kind a b": the two numbers after kind, if the key is of that kind. */
static bool vec_args(const vec *v, const char *kind, uint64_t *a, uint64_t *b)
{
    size_t kl = strlen(kind);
    if (strncmp(v->key, kind, kl) != 0 || v->key[kl] != ' ')
        return false;
    char *end;
    *a = strtoull(v->key + kl + 1, &end, 10);
    assert_true(*end == ' ');
    *b = strtoull(end + 1, &end, 10);
    assert_true(*end == '\0');
    return true;
}

/* ---- RFC 9162 2.1, written as the RFC writes it -------------------------- */

/* The largest power of two smaller than n (n > 1). */
static uint64_t ref_k(uint64_t n)
{
    uint64_t k = 1;
    while (2 * k < n)
        k *= 2;
    return k;
}

/* MTH over leaf hashes D[0:n] (so MTH({d}) is the leaf hash itself). */
static void ref_mth(uint8_t (*d)[HB], uint64_t n, uint8_t out[HB])
{
    if (n == 0) {
        merkle_empty_root(out);
    } else if (n == 1) {
        memcpy(out, d[0], HB);
    } else {
        uint64_t k = ref_k(n);
        uint8_t l[HB], r[HB];
        ref_mth(d, k, l);
        ref_mth(d + k, n - k, r);
        merkle_node_hash(l, r, out);
    }
}

typedef struct plist {
    uint8_t h[MERKLE_PROOF_MAX][HB];
    size_t n;
} plist;

static void ref_path(uint64_t m, uint8_t (*d)[HB], uint64_t n, plist *p)
{
    if (n == 1)
        return; /* PATH(0, {d(0)}) = {} */
    uint64_t k = ref_k(n);
    if (m < k) {
        ref_path(m, d, k, p);
        ref_mth(d + k, n - k, p->h[p->n++]);
    } else {
        ref_path(m - k, d + k, n - k, p);
        ref_mth(d, k, p->h[p->n++]);
    }
}

static void ref_subproof(uint64_t m, uint8_t (*d)[HB], uint64_t n, bool b,
                         plist *p)
{
    if (m == n) {
        if (!b)
            ref_mth(d, n, p->h[p->n++]);
        return;
    }
    uint64_t k = ref_k(n);
    if (m <= k) {
        ref_subproof(m, d, k, b, p);
        ref_mth(d + k, n - k, p->h[p->n++]);
    } else {
        ref_subproof(m - k, d + k, n - k, false, p);
        ref_mth(d, k, p->h[p->n++]);
    }
}

/* ---- fixtures ------------------------------------------------------------ */

static uint8_t leaves[LEAVES][HB];    /* leaf hashes of "entry <i>" */
static uint8_t roots[LEAVES + 1][HB]; /* roots[n] = MTH(D[0:n]) */

static int setup(void **state)
{
    (void)state;
    for (unsigned i = 0; i < LEAVES; i++) {
        char e[32];
        int w = snprintf(e, sizeof e, "entry %u", i);
        merkle_leaf_hash((const uint8_t *)e, (size_t)w, leaves[i]);
    }
    for (unsigned n = 0; n <= LEAVES; n++)
        ref_mth(leaves, n, roots[n]);
    return 0;
}

/* A node source over some leaves that fails the test if asked for a node
 * not wholly inside `limit` leaves, and can be told to fail its k-th call. */
typedef struct tree {
    uint8_t (*leaves)[HB];
    uint64_t limit;
    unsigned calls;
    int fail_at; /* -1: never */
} tree;

static tree tree_of(uint8_t (*l)[HB], uint64_t limit)
{
    tree t = {l, limit, 0, -1};
    return t;
}

static sr_status tree_node(void *ctx, unsigned height, uint64_t index,
                           uint8_t out[HB])
{
    tree *t = ctx;
    assert_true(height < 64);
    assert_true(index < (t->limit >> height)); /* wholly inside the tree */
    if (t->fail_at >= 0 && t->calls == (unsigned)t->fail_at)
        return SR_ERR_IO;
    t->calls++;
    ref_mth(t->leaves + (index << height), (uint64_t)1 << height, out);
    return SR_OK;
}

static void flip(uint8_t h[HB], unsigned bit)
{
    h[(bit / 8) % HB] ^= (uint8_t)(1u << (bit % 8));
}

/* ---- the published vectors ----------------------------------------------- */

static void hashes_match_published_leaf_and_empty_tree_values(void **state)
{
    (void)state;
    uint8_t h[HB];
    const vec *v = vec_get("leafhash 4c313233343536");
    merkle_leaf_hash((const uint8_t *)"L123456", 7, h);
    assert_int_equal(v->len, HB);
    assert_memory_equal(h, v->val, HB);

    merkle_empty_root(h);
    assert_memory_equal(h, vec_get("root 0")->val, HB);
    /* The empty tree is not the tree of one empty entry. */
    merkle_leaf_hash(NULL, 0, h);
    assert_memory_equal(h, vec_get("root 1")->val, HB);
}

/* The reference tree of the vectors file, as leaf hashes. */
static void reference_leaves(uint8_t out[8][HB])
{
    for (unsigned i = 0; i < 8; i++) {
        char key[16];
        snprintf(key, sizeof key, "leaf %u", i);
        const vec *v = vec_get(key);
        merkle_leaf_hash(v->val, v->len, out[i]);
    }
}

static void roots_match_published_roots_for_sizes_0_to_8(void **state)
{
    (void)state;
    uint8_t d[8][HB], h[HB];
    merkle_frontier f;
    reference_leaves(d);
    merkle_frontier_init(&f);
    for (unsigned n = 0; n <= 8; n++) {
        char key[16];
        snprintf(key, sizeof key, "root %u", n);
        const uint8_t *want = vec_get(key)->val;

        tree t = tree_of(d, n);
        assert_int_equal(merkle_root(tree_node, &t, n, h), SR_OK);
        assert_memory_equal(h, want, HB);
        assert_int_equal(merkle_root_of_leaves(CP(d), n, h), SR_OK);
        assert_memory_equal(h, want, HB);
        merkle_frontier_root(&f, h);
        assert_memory_equal(h, want, HB);
        ref_mth(d, n, h);
        assert_memory_equal(h, want, HB);
        if (n < 8)
            assert_int_equal(merkle_frontier_append(&f, d[n], NULL, NULL),
                             SR_OK);
    }
}

static void inclusion_proofs_match_published_paths(void **state)
{
    (void)state;
    uint8_t d[8][HB], proof[MERKLE_PROOF_MAX][HB];
    unsigned seen = 0;
    reference_leaves(d);
    vectors_load();
    for (size_t i = 0; i < nvecs; i++) {
        uint64_t index, size;
        if (!vec_args(&vecs[i], "inclusion", &index, &size))
            continue;
        size_t n = 99;
        tree t = tree_of(d, size);
        assert_int_equal(merkle_inclusion_proof(tree_node, &t, index, size,
                                                proof, MERKLE_PROOF_MAX, &n),
                         SR_OK);
        assert_int_equal(n * HB, vecs[i].len);
        if (n > 0)
            assert_memory_equal(proof, vecs[i].val, n * HB);
        char key[16];
        snprintf(key, sizeof key, "root %u", (unsigned)size);
        assert_int_equal(merkle_verify_inclusion(d[index], index, size,
                                                 CP(vecs[i].val), n,
                                                 vec_get(key)->val),
                         SR_OK);
        seen++;
    }
    assert_true(seen >= 5);
}

static void consistency_proofs_match_published_proofs(void **state)
{
    (void)state;
    uint8_t d[8][HB], proof[MERKLE_PROOF_MAX][HB];
    unsigned seen = 0;
    reference_leaves(d);
    vectors_load();
    for (size_t i = 0; i < nvecs; i++) {
        uint64_t m, n;
        if (!vec_args(&vecs[i], "consistency", &m, &n))
            continue;
        size_t len = 99;
        tree t = tree_of(d, n);
        assert_int_equal(merkle_consistency_proof(tree_node, &t, m, n, proof,
                                                  MERKLE_PROOF_MAX, &len),
                         SR_OK);
        assert_int_equal(len * HB, vecs[i].len);
        if (len > 0)
            assert_memory_equal(proof, vecs[i].val, len * HB);
        char km[16], kn[16];
        snprintf(km, sizeof km, "root %u", (unsigned)m);
        snprintf(kn, sizeof kn, "root %u", (unsigned)n);
        assert_int_equal(merkle_verify_consistency(m, n, vec_get(km)->val,
                                                   vec_get(kn)->val,
                                                   CP(vecs[i].val), len),
                         SR_OK);
        seen++;
    }
    assert_true(seen >= 5);
}

/* ---- every tree up to 64 leaves ------------------------------------------ */

static void inclusion_proofs_equal_rfc_path_and_verify_up_to_64(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX][HB];
    for (uint64_t n = 1; n <= PROOF_N; n++) {
        for (uint64_t i = 0; i < n; i++) {
            plist want = {.n = 0};
            size_t len = 0;
            tree t = tree_of(leaves, n);
            ref_path(i, leaves, n, &want);
            assert_int_equal(merkle_inclusion_proof(tree_node, &t, i, n, proof,
                                                    MERKLE_PROOF_MAX, &len),
                             SR_OK);
            assert_int_equal(len, want.n);
            if (len > 0)
                assert_memory_equal(proof, want.h, len * HB);
            assert_int_equal(merkle_verify_inclusion(leaves[i], i, n, CP(proof),
                                                     len, roots[n]),
                             SR_OK);
        }
    }
}

static void inclusion_proofs_fail_when_tampered_up_to_64(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX + 2][HB], bad[MERKLE_PROOF_MAX + 2][HB];
    uint8_t other[HB];
    memset(other, 0x5a, sizeof other);
    for (uint64_t n = 1; n <= PROOF_N; n++) {
        for (uint64_t i = 0; i < n; i++) {
            size_t len = 0;
            tree t = tree_of(leaves, n);
            assert_int_equal(merkle_inclusion_proof(tree_node, &t, i, n, proof,
                                                    MERKLE_PROOF_MAX, &len),
                             SR_OK);
            /* A flipped bit anywhere in any proof hash. */
            for (size_t j = 0; j < len; j++) {
                for (unsigned bit = 0; bit < 8 * HB; bit += 37) {
                    memcpy(bad, proof, len * HB);
                    flip(bad[j], bit + (unsigned)j);
                    assert_int_not_equal(merkle_verify_inclusion(leaves[i], i,
                                                                 n, CP(bad),
                                                                 len, roots[n]),
                                         SR_OK);
                }
            }
            /* A flipped bit in the leaf or the root. */
            memcpy(other, leaves[i], HB);
            flip(other, 3);
            assert_int_not_equal(
                merkle_verify_inclusion(other, i, n, CP(proof), len, roots[n]),
                SR_OK);
            memcpy(other, roots[n], HB);
            flip(other, 200);
            assert_int_not_equal(
                merkle_verify_inclusion(leaves[i], i, n, CP(proof), len, other),
                SR_OK);
            /* Any other index, with the leaf claimed or the one there. */
            for (uint64_t wi = 0; wi <= n; wi++) {
                if (wi == i)
                    continue;
                assert_int_not_equal(merkle_verify_inclusion(leaves[i], wi, n,
                                                             CP(proof), len,
                                                             roots[n]),
                                     SR_OK);
                if (wi < n)
                    assert_int_not_equal(merkle_verify_inclusion(leaves[wi], wi,
                                                                 n, CP(proof),
                                                                 len, roots[n]),
                                         SR_OK);
            }
            /* Any other size, against that tree's real head; and the
             * classic probes (double, half) against this one's. */
            for (uint64_t ws = i + 1; ws <= 2 * n; ws++) {
                if (ws == n)
                    continue;
                assert_int_not_equal(merkle_verify_inclusion(leaves[i], i, ws,
                                                             CP(proof), len,
                                                             roots[ws]),
                                     SR_OK);
            }
            assert_int_not_equal(merkle_verify_inclusion(leaves[i], i, 2 * n,
                                                         CP(proof), len,
                                                         roots[n]),
                                 SR_OK);
            assert_int_not_equal(merkle_verify_inclusion(leaves[i], i, n / 2,
                                                         CP(proof), len,
                                                         roots[n]),
                                 SR_OK);
            /* Truncated at either end. */
            if (len > 0) {
                assert_int_not_equal(merkle_verify_inclusion(leaves[i], i, n,
                                                             CP(proof), len - 1,
                                                             roots[n]),
                                     SR_OK);
                assert_int_not_equal(merkle_verify_inclusion(leaves[i], i, n,
                                                             CP(proof) + 1,
                                                             len - 1, roots[n]),
                                     SR_OK);
            }
            /* Extended at either end, by garbage or by a hash that is
             * really in the tree. */
            const uint8_t *extra[3] = {other, roots[n], leaves[i]};
            memset(other, 0, HB);
            for (unsigned e = 0; e < 3; e++) {
                memcpy(bad, proof, len * HB);
                memcpy(bad[len], extra[e], HB);
                assert_int_not_equal(merkle_verify_inclusion(leaves[i], i, n,
                                                             CP(bad), len + 1,
                                                             roots[n]),
                                     SR_OK);
                memcpy(bad[0], extra[e], HB);
                memcpy(bad + 1, proof, len * HB);
                assert_int_not_equal(merkle_verify_inclusion(leaves[i], i, n,
                                                             CP(bad), len + 1,
                                                             roots[n]),
                                     SR_OK);
            }
        }
    }
}

static void
consistency_proofs_equal_rfc_subproof_and_verify_up_to_64(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX][HB];
    for (uint64_t n = 1; n <= PROOF_N; n++) {
        for (uint64_t m = 1; m <= n; m++) {
            plist want = {.n = 0};
            size_t len = 99;
            tree t = tree_of(leaves, n);
            ref_subproof(m, leaves, n, true, &want);
            assert_int_equal(merkle_consistency_proof(tree_node, &t, m, n,
                                                      proof, MERKLE_PROOF_MAX,
                                                      &len),
                             SR_OK);
            assert_int_equal(len, want.n);
            if (len > 0)
                assert_memory_equal(proof, want.h, len * HB);
            assert_int_equal(merkle_verify_consistency(m, n, roots[m], roots[n],
                                                       CP(proof), len),
                             SR_OK);
        }
    }
}

static void consistency_proofs_fail_when_tampered_up_to_64(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX + 2][HB], bad[MERKLE_PROOF_MAX + 2][HB];
    uint8_t garbage[HB];
    for (uint64_t n = 2; n <= PROOF_N; n++) {
        for (uint64_t m = 1; m < n; m++) {
            size_t len = 0;
            tree t = tree_of(leaves, n);
            assert_int_equal(merkle_consistency_proof(tree_node, &t, m, n,
                                                      proof, MERKLE_PROOF_MAX,
                                                      &len),
                             SR_OK);
            assert_true(len > 0);
#define VC(mm, nn, rm, rn, p, l)                                               \
    merkle_verify_consistency((mm), (nn), (rm), (rn), CP(p), (l))
            /* A flipped bit anywhere in any proof hash, or in a head. */
            for (size_t j = 0; j < len; j++) {
                for (unsigned bit = 0; bit < 8 * HB; bit += 37) {
                    memcpy(bad, proof, len * HB);
                    flip(bad[j], bit + (unsigned)j);
                    assert_int_not_equal(VC(m, n, roots[m], roots[n], bad, len),
                                         SR_OK);
                }
            }
            memcpy(garbage, roots[m], HB);
            flip(garbage, 77);
            assert_int_not_equal(VC(m, n, garbage, roots[n], proof, len),
                                 SR_OK);
            memcpy(garbage, roots[n], HB);
            flip(garbage, 78);
            assert_int_not_equal(VC(m, n, roots[m], garbage, proof, len),
                                 SR_OK);
            assert_int_not_equal(VC(m, n, roots[n], roots[m], proof, len),
                                 SR_OK);
            /* Any other first size, against its real head and against
             * this one's. */
            for (uint64_t wm = 1; wm <= n; wm++) {
                if (wm == m)
                    continue;
                assert_int_not_equal(VC(wm, n, roots[wm], roots[n], proof, len),
                                     SR_OK);
                assert_int_not_equal(VC(wm, n, roots[m], roots[n], proof, len),
                                     SR_OK);
            }
            /* Any other second size against its real head; and the
             * classic probes (double, half) against this one's (see
             * proofs_bind_size_only_together_with_its_head). */
            for (uint64_t wn = m; wn <= 2 * n; wn++) {
                if (wn == n)
                    continue;
                assert_int_not_equal(VC(m, wn, roots[m], roots[wn], proof, len),
                                     SR_OK);
            }
            assert_int_not_equal(VC(m, 2 * n, roots[m], roots[n], proof, len),
                                 SR_OK);
            assert_int_not_equal(VC(m, n / 2, roots[m], roots[n], proof, len),
                                 SR_OK);
            /* Empty, or truncated at either end. */
            assert_int_not_equal(VC(m, n, roots[m], roots[n], proof, 0), SR_OK);
            assert_int_not_equal(VC(m, n, roots[m], roots[n], proof, len - 1),
                                 SR_OK);
            if (len > 1)
                assert_int_not_equal(
                    VC(m, n, roots[m], roots[n], proof + 1, len - 1), SR_OK);
            /* Extended at either end, by garbage or by real heads. */
            memset(garbage, 0, HB);
            const uint8_t *extra[4] = {garbage, roots[m], roots[n], proof[0]};
            for (unsigned e = 0; e < 4; e++) {
                memcpy(bad, proof, len * HB);
                memcpy(bad[len], extra[e], HB);
                assert_int_not_equal(VC(m, n, roots[m], roots[n], bad, len + 1),
                                     SR_OK);
                memcpy(bad[0], extra[e], HB);
                memcpy(bad + 1, proof, len * HB);
                assert_int_not_equal(VC(m, n, roots[m], roots[n], bad, len + 1),
                                     SR_OK);
            }
#undef VC
        }
    }
}

/* RFC 9162's verifiers walk the proof by the bits of the sizes, and some
 * sizes walk alike: a proof for a tree of 3 also "verifies" for a claimed
 * size of 4 with the size-3 head. No head of a 4-leaf tree is involved, so
 * nothing false is proven about a real tree - but it means a tree size
 * means nothing unless it arrives bound to its head (a signed checkpoint).
 * Pinned here so that no caller ever verifies against a size taken from
 * anywhere else. */
static void proofs_bind_size_only_together_with_its_head(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX][HB];
    size_t len;
    tree t = tree_of(leaves, 3);
    assert_int_equal(merkle_inclusion_proof(tree_node, &t, 0, 3, proof,
                                            MERKLE_PROOF_MAX, &len),
                     SR_OK);
    assert_int_equal(
        merkle_verify_inclusion(leaves[0], 0, 3, CP(proof), len, roots[3]),
        SR_OK);
    assert_int_equal(
        merkle_verify_inclusion(leaves[0], 0, 4, CP(proof), len, roots[3]),
        SR_OK);
    assert_int_not_equal(
        merkle_verify_inclusion(leaves[0], 0, 4, CP(proof), len, roots[4]),
        SR_OK);

    assert_int_equal(merkle_consistency_proof(tree_node, &t, 1, 3, proof,
                                              MERKLE_PROOF_MAX, &len),
                     SR_OK);
    assert_int_equal(
        merkle_verify_consistency(1, 4, roots[1], roots[3], CP(proof), len),
        SR_OK);
    assert_int_not_equal(
        merkle_verify_consistency(1, 4, roots[1], roots[4], CP(proof), len),
        SR_OK);
}

static void
consistency_of_equal_sizes_needs_empty_proof_and_equal_heads(void **state)
{
    (void)state;
    const uint8_t(*p)[HB] = CP(roots);
    for (uint64_t n = 1; n <= 16; n++) {
        assert_int_equal(
            merkle_verify_consistency(n, n, roots[n], roots[n], NULL, 0),
            SR_OK);
        assert_int_equal(
            merkle_verify_consistency(n, n, roots[n], roots[n + 1], NULL, 0),
            SR_ERR_CORRUPT);
        assert_int_equal(
            merkle_verify_consistency(n, n, roots[n], roots[n], p + n, 1),
            SR_ERR_CORRUPT);
    }
}

static void impossible_arguments_are_invalid_not_corrupt(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX][HB];
    size_t n = 77;
    tree t = tree_of(leaves, 8);

    /* Verification: index outside the tree, first size 0 or past the
     * second. */
    assert_int_equal(
        merkle_verify_inclusion(leaves[0], 0, 0, NULL, 0, roots[0]),
        SR_ERR_INVALID);
    assert_int_equal(
        merkle_verify_inclusion(leaves[8], 8, 8, NULL, 0, roots[8]),
        SR_ERR_INVALID);
    assert_int_equal(
        merkle_verify_consistency(0, 8, roots[0], roots[8], NULL, 0),
        SR_ERR_INVALID);
    assert_int_equal(
        merkle_verify_consistency(0, 0, roots[0], roots[0], NULL, 0),
        SR_ERR_INVALID);
    assert_int_equal(
        merkle_verify_consistency(5, 4, roots[5], roots[4], CP(roots), 2),
        SR_ERR_INVALID);

    /* Generation: the same, and a cap too small (nothing written). */
    assert_int_equal(merkle_inclusion_proof(tree_node, &t, 8, 8, proof,
                                            MERKLE_PROOF_MAX, &n),
                     SR_ERR_INVALID);
    assert_int_equal(merkle_consistency_proof(tree_node, &t, 0, 8, proof,
                                              MERKLE_PROOF_MAX, &n),
                     SR_ERR_INVALID);
    assert_int_equal(merkle_consistency_proof(tree_node, &t, 9, 8, proof,
                                              MERKLE_PROOF_MAX, &n),
                     SR_ERR_INVALID);
    memset(proof, 0xee, sizeof proof);
    assert_int_equal(merkle_inclusion_proof(tree_node, &t, 3, 8, proof, 2, &n),
                     SR_ERR_INVALID);
    assert_int_equal(
        merkle_consistency_proof(tree_node, &t, 3, 8, proof, 2, &n),
        SR_ERR_INVALID);
    for (size_t i = 0; i < sizeof proof; i++)
        assert_int_equal(((uint8_t *)proof)[i], 0xee);
    assert_int_equal(n, 77);
    assert_int_equal(t.calls, 0);

    /* Exactly enough room is enough. */
    assert_int_equal(merkle_inclusion_proof(tree_node, &t, 3, 8, proof, 3, &n),
                     SR_OK);
    assert_int_equal(n, 3);
}

static void node_source_errors_pass_through_unchanged(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX][HB], h[HB];
    size_t n;
    tree t = tree_of(leaves, 45);
    unsigned calls[3];

    /* Count the node calls of each function, then fail each one in turn:
     * every failure must surface as the source's own error. */
    assert_int_equal(merkle_root(tree_node, &t, 45, h), SR_OK);
    calls[0] = t.calls;
    t.calls = 0;
    assert_int_equal(merkle_inclusion_proof(tree_node, &t, 44, 45, proof,
                                            MERKLE_PROOF_MAX, &n),
                     SR_OK);
    calls[1] = t.calls;
    t.calls = 0;
    assert_int_equal(merkle_consistency_proof(tree_node, &t, 21, 45, proof,
                                              MERKLE_PROOF_MAX, &n),
                     SR_OK);
    calls[2] = t.calls;
    assert_int_equal(calls[0], 4); /* 45 = 32 + 8 + 4 + 1 */

    for (unsigned k = 0; k < calls[0]; k++) {
        t.calls = 0;
        t.fail_at = (int)k;
        assert_int_equal(merkle_root(tree_node, &t, 45, h), SR_ERR_IO);
    }
    for (unsigned k = 0; k < calls[1]; k++) {
        t.calls = 0;
        t.fail_at = (int)k;
        assert_int_equal(merkle_inclusion_proof(tree_node, &t, 44, 45, proof,
                                                MERKLE_PROOF_MAX, &n),
                         SR_ERR_IO);
    }
    for (unsigned k = 0; k < calls[2]; k++) {
        t.calls = 0;
        t.fail_at = (int)k;
        assert_int_equal(merkle_consistency_proof(tree_node, &t, 21, 45, proof,
                                                  MERKLE_PROOF_MAX, &n),
                         SR_ERR_IO);
    }
}

/* ---- huge trees ---------------------------------------------------------- */

/* A tree whose leaves are all equal, so node (h, i) is the same for every
 * i and trees of any 64-bit size can be checked cheaply. */
static uint8_t uniform[64][HB];

static sr_status uniform_node(void *ctx, unsigned height, uint64_t index,
                              uint8_t out[HB])
{
    uint64_t limit = *(const uint64_t *)ctx;
    assert_true(height < 64);
    assert_true(index < (limit >> height));
    memcpy(out, uniform[height], HB);
    return SR_OK;
}

static void
proofs_for_64_bit_sizes_fit_merkle_proof_max_and_verify(void **state)
{
    (void)state;
    uint8_t proof[MERKLE_PROOF_MAX][HB], rm[HB], rn[HB];
    size_t len;
    merkle_leaf_hash((const uint8_t *)"same", 4, uniform[0]);
    for (unsigned h = 1; h < 64; h++)
        merkle_node_hash(uniform[h - 1], uniform[h - 1], uniform[h]);

    uint64_t n = UINT64_MAX;
    assert_int_equal(merkle_root(uniform_node, &n, n, rn), SR_OK);
    const uint64_t idx[] = {0, 1, UINT64_MAX / 2, UINT64_MAX - 2,
                            UINT64_MAX - 1};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        assert_int_equal(merkle_inclusion_proof(uniform_node, &n, idx[i], n,
                                                proof, MERKLE_PROOF_MAX, &len),
                         SR_OK);
        assert_true(len <= 64);
        assert_int_equal(
            merkle_verify_inclusion(uniform[0], idx[i], n, CP(proof), len, rn),
            SR_OK);
    }

    /* The longest consistency proof there is: 65 hashes. */
    const uint64_t pairs[][2] = {{3, ((uint64_t)1 << 63) + 1},
                                 {1, UINT64_MAX},
                                 {UINT64_MAX - 1, UINT64_MAX},
                                 {((uint64_t)1 << 63) - 1, UINT64_MAX}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        uint64_t m = pairs[i][0], big = pairs[i][1];
        assert_int_equal(merkle_root(uniform_node, &m, m, rm), SR_OK);
        assert_int_equal(merkle_root(uniform_node, &big, big, rn), SR_OK);
        assert_int_equal(merkle_consistency_proof(uniform_node, &big, m, big,
                                                  proof, MERKLE_PROOF_MAX,
                                                  &len),
                         SR_OK);
        if (i == 0)
            assert_int_equal(len, 65);
        assert_int_equal(
            merkle_verify_consistency(m, big, rm, rn, CP(proof), len), SR_OK);
    }

    /* A frontier can be loaded at the largest size, and is then full. */
    merkle_frontier f, before;
    uint8_t h[HB];
    assert_int_equal(merkle_frontier_load(&f, n, uniform_node, &n), SR_OK);
    merkle_frontier_root(&f, h);
    assert_int_equal(merkle_root(uniform_node, &n, n, rn), SR_OK);
    assert_memory_equal(h, rn, HB);
    before = f;
    assert_int_equal(merkle_frontier_append(&f, uniform[0], NULL, NULL),
                     SR_ERR_INVALID);
    assert_memory_equal(&f, &before, sizeof f);
    /* One below it, the last append still works. */
    uint64_t almost = UINT64_MAX - 1;
    assert_int_equal(merkle_frontier_load(&f, almost, uniform_node, &almost),
                     SR_OK);
    assert_int_equal(merkle_frontier_append(&f, uniform[0], NULL, NULL), SR_OK);
    merkle_frontier_root(&f, h);
    assert_memory_equal(h, rn, HB);
}

/* ---- the frontier -------------------------------------------------------- */

typedef struct emitted {
    unsigned height[2 * LEAVES];
    uint64_t index[2 * LEAVES];
    uint8_t hash[2 * LEAVES][HB];
    size_t n;
    int fail_at; /* -1: never */
    unsigned calls;
} emitted;

static sr_status record_emit(void *ctx, unsigned height, uint64_t index,
                             const uint8_t hash[HB])
{
    emitted *e = ctx;
    if (e->fail_at >= 0 && e->calls == (unsigned)e->fail_at)
        return SR_ERR_FULL;
    e->calls++;
    assert_true(e->n < 2 * LEAVES);
    e->height[e->n] = height;
    e->index[e->n] = index;
    memcpy(e->hash[e->n], hash, HB);
    e->n++;
    return SR_OK;
}

static void
frontier_root_equals_recursive_mth_for_every_size_to_300(void **state)
{
    (void)state;
    merkle_frontier f;
    uint8_t h[HB];
    merkle_frontier_init(&f);
    merkle_frontier_root(&f, h);
    assert_memory_equal(h, roots[0], HB);
    for (unsigned n = 1; n <= LEAVES; n++) {
        assert_int_equal(merkle_frontier_append(&f, leaves[n - 1], NULL, NULL),
                         SR_OK);
        assert_int_equal(f.size, n);
        merkle_frontier_root(&f, h);
        assert_memory_equal(h, roots[n], HB);
    }
}

static void frontier_emits_every_perfect_subtree_once_bottom_up(void **state)
{
    (void)state;
    static emitted e;
    merkle_frontier f;
    memset(&e, 0, sizeof e);
    e.fail_at = -1;
    merkle_frontier_init(&f);
    for (unsigned i = 0; i < LEAVES; i++)
        assert_int_equal(merkle_frontier_append(&f, leaves[i], record_emit, &e),
                         SR_OK);

    /* Leaf i completes itself, then each subtree it is the last leaf of,
     * smallest first; every node (h, j) with (j + 1) << h <= 300 appears
     * exactly once, with its true hash. */
    size_t k = 0, total = 0;
    for (uint64_t i = 0; i < LEAVES; i++) {
        for (unsigned h = 0; h < 64 && ((i + 1) & ((1ull << h) - 1)) == 0;
             h++) {
            uint8_t want[HB];
            uint64_t j = ((i + 1) >> h) - 1;
            assert_true(k < e.n);
            assert_int_equal(e.height[k], h);
            assert_int_equal(e.index[k], j);
            ref_mth(leaves + (j << h), 1ull << h, want);
            assert_memory_equal(e.hash[k], want, HB);
            k++;
        }
    }
    assert_int_equal(k, e.n);
    for (unsigned h = 0; h < 10; h++)
        total += LEAVES >> h;
    assert_int_equal(e.n, total);
}

static void frontier_load_from_stored_nodes_equals_appending(void **state)
{
    (void)state;
    merkle_frontier grown, loaded;
    merkle_frontier_init(&grown);
    for (uint64_t n = 0; n <= LEAVES; n++) {
        tree t = tree_of(leaves, n);
        memset(&loaded, 0xcc, sizeof loaded);
        assert_int_equal(merkle_frontier_load(&loaded, n, tree_node, &t),
                         SR_OK);
        assert_int_equal(loaded.size, grown.size);
        for (unsigned h = 0; h < 64; h++) {
            if ((n >> h) & 1u)
                assert_memory_equal(loaded.h[h], grown.h[h], HB);
        }
        /* Loaded frontiers keep growing like appended ones. */
        if (n < LEAVES) {
            uint8_t a[HB], b[HB];
            assert_int_equal(
                merkle_frontier_append(&loaded, leaves[n], NULL, NULL), SR_OK);
            assert_int_equal(
                merkle_frontier_append(&grown, leaves[n], NULL, NULL), SR_OK);
            merkle_frontier_root(&loaded, a);
            merkle_frontier_root(&grown, b);
            assert_memory_equal(a, b, HB);
            assert_memory_equal(a, roots[n + 1], HB);
        }
    }

    /* A failing node source leaves the frontier as it was. */
    merkle_frontier before;
    tree t = tree_of(leaves, 255);
    t.fail_at = 5;
    before = grown;
    assert_int_equal(merkle_frontier_load(&grown, 255, tree_node, &t),
                     SR_ERR_IO);
    assert_memory_equal(&grown, &before, sizeof grown);
}

static void
frontier_emit_error_aborts_append_and_leaves_frontier_unchanged(void **state)
{
    (void)state;
    static emitted e;
    merkle_frontier f, before;
    uint8_t h[HB];
    merkle_frontier_init(&f);
    /* 255 leaves: the 256th completes heights 0..8, nine emits. */
    for (unsigned i = 0; i < 255; i++)
        assert_int_equal(merkle_frontier_append(&f, leaves[i], NULL, NULL),
                         SR_OK);
    for (int k = 0; k < 9; k++) {
        memset(&e, 0, sizeof e);
        e.fail_at = k;
        before = f;
        assert_int_equal(
            merkle_frontier_append(&f, leaves[255], record_emit, &e),
            SR_ERR_FULL);
        assert_memory_equal(&f, &before, sizeof f);
        assert_int_equal(e.n, (size_t)k);
    }
    memset(&e, 0, sizeof e);
    e.fail_at = -1;
    assert_int_equal(merkle_frontier_append(&f, leaves[255], record_emit, &e),
                     SR_OK);
    assert_int_equal(e.n, 9);
    assert_int_equal(e.height[8], 8);
    assert_int_equal(e.index[8], 0);
    merkle_frontier_root(&f, h);
    assert_memory_equal(h, roots[256], HB);
    assert_memory_equal(e.hash[8], roots[256], HB);
}

/* ---- leaves in memory ---------------------------------------------------- */

static void root_of_leaves_equals_recursive_mth(void **state)
{
    (void)state;
    uint8_t h[HB];
    for (uint64_t n = 0; n <= LEAVES; n++) {
        assert_int_equal(merkle_root_of_leaves(CP(leaves), n, h), SR_OK);
        assert_memory_equal(h, roots[n], HB);
    }
    assert_int_equal(merkle_root_of_leaves(NULL, 0, h), SR_OK);
    assert_memory_equal(h, roots[0], HB);
    assert_int_equal(merkle_root_of_leaves(NULL, 1, h), SR_ERR_INVALID);
}

static void leaves_node_source_serves_only_nodes_inside_its_leaves(void **state)
{
    (void)state;
    uint8_t h[HB], want[HB];
    merkle_leaves ml = {CP(leaves), 100};
    assert_int_equal(merkle_leaves_node(&ml, 0, 99, h), SR_OK);
    assert_memory_equal(h, leaves[99], HB);
    assert_int_equal(merkle_leaves_node(&ml, 5, 2, h), SR_OK);
    ref_mth(leaves + 64, 32, want);
    assert_memory_equal(h, want, HB);
    assert_int_equal(merkle_leaves_node(&ml, 0, 100, h), SR_ERR_INVALID);
    assert_int_equal(merkle_leaves_node(&ml, 2, 25, h), SR_ERR_INVALID);
    assert_int_equal(merkle_leaves_node(&ml, 7, 0, h), SR_ERR_INVALID);
    assert_int_equal(merkle_leaves_node(&ml, 64, 0, h), SR_ERR_INVALID);
    /* And it serves the proof functions. */
    assert_int_equal(merkle_root(merkle_leaves_node, &ml, 100, h), SR_OK);
    assert_memory_equal(h, roots[100], HB);
}

static void root_of_a_million_leaves_speed(void **state)
{
    (void)state;
    const uint64_t n = 1u << 20;
    uint8_t(*big)[HB] = malloc((size_t)n * HB);
    uint8_t h[HB], want[HB];
    merkle_frontier f;
    assert_non_null(big);
    for (uint64_t i = 0; i < n; i++)
        memcpy(big[i], leaves[i % LEAVES], HB);
    uint64_t t0 = now_ns();
    assert_int_equal(merkle_root_of_leaves(CP(big), n, h), SR_OK);
    uint64_t t1 = now_ns();
    merkle_frontier_init(&f);
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(merkle_frontier_append(&f, big[i], NULL, NULL), SR_OK);
    merkle_frontier_root(&f, want);
    assert_memory_equal(h, want, HB);
    free(big);
    print_message("merkle_root_of_leaves: %.2f M leaves/s\n",
                  (double)n / ((double)(t1 - t0) / 1e9) / 1e6);
}

int main(void)
{
    if (sr_init() != SR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hashes_match_published_leaf_and_empty_tree_values),
        cmocka_unit_test(roots_match_published_roots_for_sizes_0_to_8),
        cmocka_unit_test(inclusion_proofs_match_published_paths),
        cmocka_unit_test(consistency_proofs_match_published_proofs),
        cmocka_unit_test(inclusion_proofs_equal_rfc_path_and_verify_up_to_64),
        cmocka_unit_test(inclusion_proofs_fail_when_tampered_up_to_64),
        cmocka_unit_test(
            consistency_proofs_equal_rfc_subproof_and_verify_up_to_64),
        cmocka_unit_test(consistency_proofs_fail_when_tampered_up_to_64),
        cmocka_unit_test(proofs_bind_size_only_together_with_its_head),
        cmocka_unit_test(
            consistency_of_equal_sizes_needs_empty_proof_and_equal_heads),
        cmocka_unit_test(impossible_arguments_are_invalid_not_corrupt),
        cmocka_unit_test(node_source_errors_pass_through_unchanged),
        cmocka_unit_test(
            proofs_for_64_bit_sizes_fit_merkle_proof_max_and_verify),
        cmocka_unit_test(
            frontier_root_equals_recursive_mth_for_every_size_to_300),
        cmocka_unit_test(frontier_emits_every_perfect_subtree_once_bottom_up),
        cmocka_unit_test(frontier_load_from_stored_nodes_equals_appending),
        cmocka_unit_test(
            frontier_emit_error_aborts_append_and_leaves_frontier_unchanged),
        cmocka_unit_test(root_of_leaves_equals_recursive_mth),
        cmocka_unit_test(
            leaves_node_source_serves_only_nodes_inside_its_leaves),
        cmocka_unit_test(root_of_a_million_leaves_speed),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
