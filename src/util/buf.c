/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c - the capped, wiping growable buffer and the bounded reader.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util.h"

void buf_init(sr_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(sr_buf *b)
{
    if (b == NULL)
        return;
    if (b->p != NULL) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(sr_buf *b)
{
    if (b->p != NULL)
        sodium_memzero(b->p, b->len);
    b->len = 0;
}

sr_status array_room(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return SR_OK;
    size_t want = *cap ? *cap * 2 : 16;
    if (want < *cap || elem == 0 || want > SIZE_MAX / elem)
        return SR_ERR_NOMEM;
    void *q = realloc(*p, want * elem);
    if (q == NULL)
        return SR_ERR_NOMEM;
    *p = q;
    *cap = want;
    return SR_OK;
}

sr_status buf_reserve(sr_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return SR_ERR_INVALID;
    size_t need = b->len + n;
    if (need <= b->cap)
        return SR_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    /* Never realloc: the old block would be released without wiping. */
    uint8_t *np = malloc(ncap);
    if (np == NULL)
        return SR_ERR_NOMEM;
    if (b->p != NULL) {
        memcpy(np, b->p, b->len);
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    b->p = np;
    b->cap = ncap;
    return SR_OK;
}

sr_status buf_append(sr_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return SR_OK;
    sr_status st = buf_reserve(b, n);
    if (st != SR_OK)
        return st;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return SR_OK;
}

sr_status buf_append_byte(sr_buf *b, uint8_t c)
{
    return buf_append(b, &c, 1);
}

sr_status buf_append_str(sr_buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

sr_status buf_append_varint(sr_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        tmp[n++] = v ? (uint8_t)(c | 0x80) : c;
    } while (v);
    return buf_append(b, tmp, n);
}

sr_status buf_append_u32be(sr_buf *b, uint32_t v)
{
    uint8_t tmp[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                      (uint8_t)v};
    return buf_append(b, tmp, 4);
}

void reader_init(sr_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->ok = true;
}

size_t reader_left(const sr_reader *r)
{
    return r->ok ? r->len - r->pos : 0;
}

bool reader_bytes(sr_reader *r, size_t n, const uint8_t **out)
{
    if (!r->ok || n > r->len - r->pos) {
        r->ok = false;
        return false;
    }
    *out = r->p + r->pos;
    r->pos += n;
    return true;
}

bool reader_copy(sr_reader *r, void *dst, size_t n)
{
    const uint8_t *p;
    if (!reader_bytes(r, n, &p))
        return false;
    if (n)
        memcpy(dst, p, n);
    return true;
}

bool reader_u8(sr_reader *r, uint8_t *out)
{
    return reader_copy(r, out, 1);
}

bool reader_u32be(sr_reader *r, uint32_t *out)
{
    const uint8_t *p;
    if (!reader_bytes(r, 4, &p))
        return false;
    *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
    return true;
}

bool reader_u64be(sr_reader *r, uint64_t *out)
{
    uint32_t hi, lo;
    if (!reader_u32be(r, &hi) || !reader_u32be(r, &lo))
        return false;
    *out = (uint64_t)hi << 32 | lo;
    return true;
}

bool reader_varint(sr_reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        uint8_t c;
        if (!reader_u8(r, &c))
            return false;
        if (i == 9 && c > 1)
            break; /* would overflow 64 bits */
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (c == 0 && i > 0)
                break; /* overlong: not canonical */
            *out = v;
            return true;
        }
    }
    r->ok = false;
    return false;
}

void hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool hex_decode(uint8_t *out, size_t n, const char *in, size_t in_len)
{
    if (in_len != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* ---- lines and base64 (shared by the text formats) --------------------- */

/* Take the next line (without its "\n") off r; false if no "\n" is left. */
bool reader_line(sr_reader *r, const uint8_t **line, size_t *n)
{
    sr_reader peek = *r;
    const uint8_t *rest, *nl;
    size_t left = reader_left(r);
    if (left == 0 || !reader_bytes(&peek, left, &rest))
        return false;
    nl = memchr(rest, '\n', left);
    if (nl == NULL)
        return false;
    *n = (size_t)(nl - rest);
    return reader_bytes(r, *n + 1, line);
}

static bool b64_digit(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Canonical padded base64 (RFC 4648 section 4) of at most cap bytes.
 * libsodium 1.0.18's decoder takes some bytes >= 0x80 for digits (its
 * constant-time classifier assumes a non-negative char), so the alphabet
 * is checked here first; and the decoded bytes must encode back to exactly
 * the input, so only the one canonical spelling of each byte string passes
 * (no missing padding, no non-zero trailing bits, nothing after). */
bool b64_decode(const uint8_t *s, size_t n, uint8_t *out, size_t cap,
                size_t *out_len)
{
    char tmp[sodium_base64_ENCODED_LEN(48, sodium_base64_VARIANT_ORIGINAL)];
    const char *end = NULL;
    size_t len = 0, pad = 0, off = 0, pos = 0;
    if (n == 0 || n % 4 != 0 || n / 4 > cap / 3 + 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 >= n)
            pad++;
        else if (pad > 0 || !b64_digit(s[i]))
            return false;
    }
    if (sodium_base642bin(out, cap, (const char *)s, n, NULL, &len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != (const char *)s + n)
        return false;
    /* Re-encode 48 bytes (64 characters) at a time and compare. */
    while (off < len) {
        size_t k = len - off < 48 ? len - off : 48;
        size_t enc =
            sodium_base64_ENCODED_LEN(k, sodium_base64_VARIANT_ORIGINAL) - 1;
        sodium_bin2base64(tmp, sizeof tmp, out + off, k,
                          sodium_base64_VARIANT_ORIGINAL);
        if (enc > n - pos || memcmp(tmp, s + pos, enc) != 0)
            return false;
        off += k;
        pos += enc;
    }
    if (pos != n)
        return false;
    *out_len = len;
    return true;
}
