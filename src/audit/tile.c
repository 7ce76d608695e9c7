/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tile.c - C2SP tlog-tiles names and widths, and entry bundles.
 *
 * Paths are untrusted input on the serving side (a client names the tile it
 * wants), so the parser accepts exactly one spelling per tile: the one
 * tile_path writes. Two spellings of one tile would let a client bypass a
 * cache or a deny rule keyed on the path, and anything looser than the
 * spec's grammar (signs, spaces, extra zeros, "..") has no business
 * reaching the filesystem layer. Bundles are read only through the bounded
 * reader and checked whole before any entry is handed out.
 */
#include <stdbool.h>
#include <string.h>

#include "audit/tile.h"

_Static_assert(TILE_WIDTH == 1u << TILE_HEIGHT, "tile width");

/* ---- paths --------------------------------------------------------------- */

/* Write the decimal digits of v (< 1000) at p; return how many. */
static size_t put_small(char *p, unsigned v)
{
    size_t n = 0;
    if (v >= 100)
        p[n++] = (char)('0' + v / 100);
    if (v >= 10)
        p[n++] = (char)('0' + v / 10 % 10);
    p[n++] = (char)('0' + v % 10);
    return n;
}

sr_status tile_path(char *out, size_t cap, int level, uint64_t n,
                    unsigned width)
{
    /* Longest: "tile/entries/" + 6 * "xDDD/" + "DDD" + ".p/255" = 52. */
    char tmp[TILE_PATH_MAX];
    size_t len = 0;

    if (out == NULL || level < TILE_LEVEL_ENTRIES || level > TILE_LEVEL_MAX ||
        width == 0 || width > TILE_WIDTH)
        return SR_ERR_INVALID;

    memcpy(tmp, "tile/", 5);
    len = 5;
    if (level == TILE_LEVEL_ENTRIES) {
        memcpy(tmp + len, "entries/", 8);
        len += 8;
    } else {
        len += put_small(tmp + len, (unsigned)level);
        tmp[len++] = '/';
    }

    /* 2^64 - 1 has 20 digits: at most 7 groups, least significant first. */
    unsigned group[7];
    size_t groups = 0;
    do {
        group[groups++] = (unsigned)(n % 1000u);
        n /= 1000u;
    } while (n != 0);
    for (size_t i = groups; i-- > 0;) {
        if (i > 0)
            tmp[len++] = 'x';
        tmp[len++] = (char)('0' + group[i] / 100);
        tmp[len++] = (char)('0' + group[i] / 10 % 10);
        tmp[len++] = (char)('0' + group[i] % 10);
        if (i > 0)
            tmp[len++] = '/';
    }

    if (width < TILE_WIDTH) {
        memcpy(tmp + len, ".p/", 3);
        len += 3;
        len += put_small(tmp + len, width);
    }

    if (len >= cap)
        return SR_ERR_INVALID;
    memcpy(out, tmp, len);
    out[len] = '\0';
    return SR_OK;
}

/* A canonical decimal of 1..3 digits at path[*pos] (no leading zero unless
 * it is "0") whose value is at most max. */
static bool take_small(const char *path, size_t len, size_t *pos, unsigned max,
                       unsigned *out)
{
    size_t i = *pos;
    unsigned v = 0;
    while (i < len && path[i] >= '0' && path[i] <= '9' && i - *pos < 4) {
        v = v * 10u + (unsigned)(path[i] - '0');
        i++;
    }
    size_t digits = i - *pos;
    if (digits == 0 || digits > 3 || (digits > 1 && path[*pos] == '0') ||
        v > max)
        return false;
    *pos = i;
    *out = v;
    return true;
}

sr_status tile_path_parse(const char *path, size_t len, int *level, uint64_t *n,
                          unsigned *width)
{
    size_t pos = 0;
    int lv;

    if (path == NULL || level == NULL || n == NULL || width == NULL ||
        len >= TILE_PATH_MAX)
        return SR_ERR_INVALID;
    if (len < 5 || memcmp(path, "tile/", 5) != 0)
        return SR_ERR_INVALID;
    pos = 5;

    if (len - pos >= 8 && memcmp(path + pos, "entries/", 8) == 0) {
        lv = TILE_LEVEL_ENTRIES;
        pos += 8;
    } else {
        unsigned v;
        if (!take_small(path, len, &pos, (unsigned)TILE_LEVEL_MAX, &v) ||
            pos >= len || path[pos] != '/')
            return SR_ERR_INVALID;
        pos++;
        lv = (int)v;
    }

    /* <N>: "xDDD/" groups, then a last "DDD" without the x. */
    uint64_t val = 0;
    for (bool first = true;; first = false) {
        bool more = pos < len && path[pos] == 'x';
        if (more)
            pos++;
        if (len - pos < 3)
            return SR_ERR_INVALID;
        unsigned g = 0;
        for (size_t i = 0; i < 3; i++) {
            char c = path[pos + i];
            if (c < '0' || c > '9')
                return SR_ERR_INVALID;
            g = g * 10u + (unsigned)(c - '0');
        }
        pos += 3;
        /* "x000/..." would spell N with a leading zero group. */
        if (first && more && g == 0)
            return SR_ERR_INVALID;
        if (val > (UINT64_MAX - g) / 1000u)
            return SR_ERR_INVALID;
        val = val * 1000u + g;
        if (!more)
            break;
        if (pos >= len || path[pos] != '/')
            return SR_ERR_INVALID;
        pos++;
    }

    unsigned w = TILE_WIDTH;
    if (pos < len) {
        if (len - pos < 3 || memcmp(path + pos, ".p/", 3) != 0)
            return SR_ERR_INVALID;
        pos += 3;
        if (!take_small(path, len, &pos, TILE_WIDTH - 1u, &w) || w == 0)
            return SR_ERR_INVALID;
    }
    if (pos != len)
        return SR_ERR_INVALID;

    *level = lv;
    *n = val;
    *width = w;
    return SR_OK;
}

/* ---- widths -------------------------------------------------------------- */

uint64_t tile_level_count(unsigned level, uint64_t size)
{
    /* Level 8 is tree height 64: no 64-bit tree reaches it (and the shift
     * would be undefined). */
    if (level >= 64u / TILE_HEIGHT)
        return 0;
    return size >> (TILE_HEIGHT * level);
}

unsigned tile_width(int level, uint64_t n, uint64_t size)
{
    if (level == TILE_LEVEL_ENTRIES)
        level = 0;
    if (level < 0 || level > TILE_LEVEL_MAX)
        return 0;
    uint64_t count = tile_level_count((unsigned)level, size);
    uint64_t full = count / TILE_WIDTH;
    if (n < full)
        return TILE_WIDTH;
    if (n == full)
        return (unsigned)(count % TILE_WIDTH); /* 0: no partial tile */
    return 0;
}

/* ---- entry bundles ------------------------------------------------------- */

/* The next length-prefixed entry of a bundle. */
static bool bundle_next(sr_reader *r, const uint8_t **data, size_t *n)
{
    const uint8_t *hdr;
    if (!reader_bytes(r, 2, &hdr))
        return false;
    size_t l = ((size_t)hdr[0] << 8) | (size_t)hdr[1];
    if (!reader_bytes(r, l, data))
        return false;
    *n = l;
    return true;
}

sr_status bundle_parse(const uint8_t *p, size_t len, unsigned expect,
                       bundle_entry_fn fn, void *ctx)
{
    sr_reader r;
    const uint8_t *data;
    size_t n;

    if (expect == 0 || expect > TILE_WIDTH || (p == NULL && len > 0))
        return SR_ERR_INVALID;

    /* First pass: the shape alone, so fn never acts on part of a bundle
     * that turns out to be damaged. */
    reader_init(&r, p, len);
    for (unsigned i = 0; i < expect; i++) {
        if (!bundle_next(&r, &data, &n))
            return SR_ERR_CORRUPT;
    }
    if (reader_left(&r) != 0)
        return SR_ERR_CORRUPT;
    if (fn == NULL)
        return SR_OK;

    reader_init(&r, p, len);
    for (unsigned i = 0; i < expect; i++) {
        if (!bundle_next(&r, &data, &n))
            return SR_ERR_INTERNAL; /* the first pass succeeded */
        sr_status st = fn(ctx, i, data, n);
        if (st != SR_OK)
            return st;
    }
    return SR_OK;
}

sr_status bundle_add(sr_buf *b, const uint8_t *data, size_t len)
{
    if (b == NULL || len > BUNDLE_ENTRY_MAX || (data == NULL && len > 0))
        return SR_ERR_INVALID;
    /* Reserve for both parts first, so a failure cannot leave a length
     * prefix without its entry. */
    sr_status st = buf_reserve(b, 2 + len);
    if (st != SR_OK)
        return st;
    const size_t old = b->len;
    const uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    st = buf_append(b, hdr, sizeof hdr);
    if (st == SR_OK)
        st = buf_append(b, data, len);
    if (st != SR_OK)
        b->len = old;
    return st;
}
