/* SPDX-License-Identifier: Apache-2.0 */
/*
 * note.c - C2SP signed notes, tlog checkpoints and cosignature/v1 witness
 * cosignatures (see note.h for the formats and the limits). Every byte of
 * outside input is read through an sr_reader; notes are checked whole
 * (size, UTF-8, control characters) before any line is looked at, and a
 * signature line naming a known key must verify or the note is refused
 * (c2sp.org/signed-note: "clients SHOULD reject the whole note").
 */
#include <string.h>

#include <sodium.h>

#include "audit/note.h"

/* "— ": U+2014 EM DASH in UTF-8, then a space. */
static const uint8_t sig_prefix[4] = {0xE2, 0x80, 0x94, 0x20};
#define SIG_PREFIX_BYTES sizeof sig_prefix

static const char cosig_header[] = "cosignature/v1\ntime ";
#define COSIG_HEADER_BYTES (sizeof cosig_header - 1)
/* Header, at most 20 digits, "\n". */
#define COSIG_PREFIX_MAX (COSIG_HEADER_BYTES + 20u + 1u)

#define ED25519_SIG_BYTES 64u
#define KEYHASH_BYTES 4u
#define PAYLOAD_ED25519 (KEYHASH_BYTES + ED25519_SIG_BYTES)
#define PAYLOAD_COSIG (KEYHASH_BYTES + 8u + ED25519_SIG_BYTES)
/* Canonical base64 of a vkey's type || public key (33 bytes). */
#define VKEY_KEY_B64 44u

/* ---- text ------------------------------------------------------------ */

/* Read one code point of strict UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
SR_WARN_UNUSED static bool utf8_read(sr_reader *r, uint32_t *out)
{
    uint8_t c, b;
    uint32_t cp, min;
    unsigned need;
    if (!reader_u8(r, &c))
        return false;
    if (c < 0x80) {
        *out = c;
        return true;
    } else if ((c & 0xE0) == 0xC0) {
        cp = c & 0x1Fu;
        need = 1;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        cp = c & 0x0Fu;
        need = 2;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        cp = c & 0x07u;
        need = 3;
        min = 0x10000;
    } else {
        return false;
    }
    for (unsigned j = 0; j < need; j++) {
        if (!reader_u8(r, &b) || (b & 0xC0) != 0x80)
            return false;
        cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    *out = cp;
    return true;
}

/* Valid UTF-8 with no ASCII control character but "\n" (signed-note,
 * "Format"). */
SR_WARN_UNUSED static bool text_ok(const uint8_t *p, size_t n)
{
    sr_reader r;
    uint32_t cp;
    reader_init(&r, p, n);
    while (reader_left(&r) > 0) {
        if (!utf8_read(&r, &cp))
            return false;
        if (cp < 0x20 && cp != '\n')
            return false;
    }
    return true;
}

/* Unicode White_Space (what Go's unicode.IsSpace, and so the reference
 * implementation golang.org/x/mod/sumdb/note, refuses in names). */
static bool is_unicode_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* A key name: non-empty UTF-8 without Unicode spaces or '+' (signed-note),
 * and without control characters (a note could not carry them). */
SR_WARN_UNUSED static bool name_ok(const uint8_t *p, size_t n)
{
    sr_reader r;
    uint32_t cp;
    if (n == 0)
        return false;
    reader_init(&r, p, n);
    while (reader_left(&r) > 0) {
        if (!utf8_read(&r, &cp))
            return false;
        if (cp < 0x20 || cp == '+' || is_unicode_space(cp))
            return false;
    }
    return true;
}

/* Length of a NUL-terminated name held in a char[NOTE_NAME_MAX + 1], or 0
 * if it is not a valid key name. */
static size_t name_len_of(const char name[NOTE_NAME_MAX + 1])
{
    size_t n = strnlen(name, NOTE_NAME_MAX + 1);
    if (n > NOTE_NAME_MAX || !name_ok((const uint8_t *)name, n))
        return 0;
    return n;
}

/* ---- numbers and base64 ---------------------------------------------- */

/* Decimal digits of v into out (no NUL); returns how many. */
static size_t u64_dec(char out[20], uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* ASCII decimal of a uint64 without leading zeros ("0" alone is zero). */
SR_WARN_UNUSED static bool dec_parse(const uint8_t *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Longest payload we ever encode: a cosignature. */
#define B64_TMP_BYTES                                                          \
    sodium_base64_ENCODED_LEN(PAYLOAD_COSIG, sodium_base64_VARIANT_ORIGINAL)

SR_WARN_UNUSED static sr_status b64_append(sr_buf *b, const uint8_t *in,
                                           size_t n)
{
    char tmp[B64_TMP_BYTES];
    size_t enc = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    if (enc > sizeof tmp)
        return SR_ERR_INTERNAL;
    sodium_bin2base64(tmp, enc, in, n, sodium_base64_VARIANT_ORIGINAL);
    return buf_append(b, tmp, enc - 1);
}

/* Undo a failed append: wipe and drop what was added after old_len. */
static void buf_truncate(sr_buf *b, size_t old_len)
{
    if (b->p != NULL && b->len > old_len)
        sodium_memzero(b->p + old_len, b->len - old_len);
    b->len = old_len;
}

/* ---- keys -------------------------------------------------------------- */

static void keyhash_of(uint8_t out[KEYHASH_BYTES], const char *name,
                       size_t name_len, uint8_t type, const uint8_t pk[32])
{
    crypto_hash_sha256_state h;
    uint8_t sum[crypto_hash_sha256_BYTES];
    const uint8_t nl = '\n';
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)name, name_len);
    crypto_hash_sha256_update(&h, &nl, 1);
    crypto_hash_sha256_update(&h, &type, 1);
    crypto_hash_sha256_update(&h, pk, 32);
    crypto_hash_sha256_final(&h, sum);
    memcpy(out, sum, KEYHASH_BYTES);
}

static bool type_ok(uint8_t type)
{
    return type == NOTE_TYPE_ED25519 || type == NOTE_TYPE_COSIG_V1;
}

sr_status note_signer_from_seed(note_signer *s, const char *name, uint8_t type,
                                const uint8_t seed[32])
{
    sr_status st = SR_ERR_INVALID;
    if (s == NULL)
        return SR_ERR_INVALID;
    memset(s, 0, sizeof *s);
    if (name == NULL || seed == NULL || !type_ok(type))
        goto fail;
    size_t n = strnlen(name, NOTE_NAME_MAX + 1);
    if (n > NOTE_NAME_MAX || !name_ok((const uint8_t *)name, n))
        goto fail;
    s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (s->sk == NULL) {
        st = SR_ERR_NOMEM;
        goto fail;
    }
    if (crypto_sign_seed_keypair(s->pk, s->sk, seed) != 0 ||
        sodium_mprotect_readonly(s->sk) != 0) {
        st = SR_ERR_INTERNAL;
        goto fail;
    }
    memcpy(s->name, name, n);
    s->name[n] = '\0';
    s->type = type;
    keyhash_of(s->keyhash, s->name, n, type, s->pk);
    return SR_OK;
fail:
    note_signer_wipe(s);
    return st;
}

void note_signer_wipe(note_signer *s)
{
    if (s == NULL)
        return;
    sodium_free(s->sk); /* wipes; accepts NULL and read-only memory */
    sodium_memzero(s, sizeof *s);
}

void note_verifier_from_signer(note_verifier *v, const note_signer *s)
{
    memset(v, 0, sizeof *v);
    memcpy(v->name, s->name, sizeof v->name);
    v->name[NOTE_NAME_MAX] = '\0';
    v->type = s->type;
    memcpy(v->keyhash, s->keyhash, sizeof v->keyhash);
    memcpy(v->pk, s->pk, sizeof v->pk);
}

sr_status note_verifier_make(note_verifier *v, const char *name, uint8_t type,
                             const uint8_t pk[32])
{
    memset(v, 0, sizeof *v);
    size_t n = name != NULL ? strnlen(name, NOTE_NAME_MAX + 1) : 0;
    if (pk == NULL || !type_ok(type) || n > NOTE_NAME_MAX ||
        !name_ok((const uint8_t *)name, n))
        return SR_ERR_INVALID;
    memcpy(v->name, name, n);
    v->type = type;
    memcpy(v->pk, pk, 32);
    keyhash_of(v->keyhash, v->name, n, type, v->pk);
    return SR_OK;
}

sr_status note_vkey_format(const note_verifier *v, char *out, size_t cap)
{
    uint8_t key[33];
    char hex[2 * KEYHASH_BYTES + 1];
    char b64[VKEY_KEY_B64 + 1];
    if (out == NULL || cap == 0)
        return SR_ERR_INVALID;
    out[0] = '\0';
    if (v == NULL || !type_ok(v->type))
        return SR_ERR_INVALID;
    size_t n = name_len_of(v->name);
    if (n == 0 || cap < n + 1 + 2 * KEYHASH_BYTES + 1 + VKEY_KEY_B64 + 1)
        return SR_ERR_INVALID;
    key[0] = v->type;
    memcpy(key + 1, v->pk, 32);
    hex_encode(hex, v->keyhash, KEYHASH_BYTES);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key,
                      sodium_base64_VARIANT_ORIGINAL);
    size_t w = 0;
    memcpy(out + w, v->name, n);
    w += n;
    out[w++] = '+';
    memcpy(out + w, hex, 2 * KEYHASH_BYTES);
    w += 2 * KEYHASH_BYTES;
    out[w++] = '+';
    memcpy(out + w, b64, VKEY_KEY_B64);
    w += VKEY_KEY_B64;
    out[w] = '\0';
    return SR_OK;
}

/* Take bytes up to the next '+' (consumed, not returned) off r. */
SR_WARN_UNUSED static bool reader_until_plus(sr_reader *r, const uint8_t **part,
                                             size_t *n)
{
    sr_reader peek = *r;
    const uint8_t *rest, *plus;
    size_t left = reader_left(r);
    if (left == 0 || !reader_bytes(&peek, left, &rest))
        return false;
    plus = memchr(rest, '+', left);
    if (plus == NULL)
        return false;
    *n = (size_t)(plus - rest);
    return reader_bytes(r, *n + 1, part);
}

sr_status note_vkey_parse(const char *text, size_t len, note_verifier *v)
{
    sr_reader r;
    const uint8_t *name, *hash16, *key64;
    size_t name_n, hash_n, key_n, key_len = 0;
    uint8_t key[33], want[KEYHASH_BYTES], got[KEYHASH_BYTES];
    if (v == NULL)
        return SR_ERR_INVALID;
    memset(v, 0, sizeof *v);
    if (text == NULL)
        return SR_ERR_INVALID;
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len > NOTE_VKEY_MAX)
        return SR_ERR_INVALID;
    reader_init(&r, text, len);
    /* The name and the hex hold no '+'; base64 may, so it takes the rest. */
    if (!reader_until_plus(&r, &name, &name_n) ||
        !reader_until_plus(&r, &hash16, &hash_n))
        return SR_ERR_INVALID;
    key_n = reader_left(&r);
    if (!reader_bytes(&r, key_n, &key64))
        return SR_ERR_INVALID;
    if (name_n > NOTE_NAME_MAX || !name_ok(name, name_n))
        return SR_ERR_INVALID;
    /* The spec's hex is fixed-length lowercase; hex_decode takes either
     * case, so uppercase is refused here. */
    if (hash_n != 2 * KEYHASH_BYTES)
        return SR_ERR_INVALID;
    for (size_t i = 0; i < hash_n; i++) {
        uint8_t c = hash16[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return SR_ERR_INVALID;
    }
    if (!hex_decode(got, sizeof got, (const char *)hash16, hash_n))
        return SR_ERR_INVALID;
    if (key_n != VKEY_KEY_B64 ||
        !b64_decode(key64, key_n, key, sizeof key, &key_len) ||
        key_len != sizeof key || !type_ok(key[0]))
        return SR_ERR_INVALID;
    keyhash_of(want, (const char *)name, name_n, key[0], key + 1);
    if (memcmp(want, got, KEYHASH_BYTES) != 0)
        return SR_ERR_INVALID;
    memcpy(v->name, name, name_n);
    v->name[name_n] = '\0';
    v->type = key[0];
    memcpy(v->keyhash, got, KEYHASH_BYTES);
    memcpy(v->pk, key + 1, 32);
    return SR_OK;
}

/* ---- signed notes -------------------------------------------------------- */

/* A note text: non-empty, ending in "\n", UTF-8 without control
 * characters but "\n". */
static bool body_ok(const uint8_t *p, size_t n)
{
    return p != NULL && n > 0 && n <= NOTE_MAX_BYTES && p[n - 1] == '\n' &&
           text_ok(p, n);
}

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

static size_t sig_line_len(size_t name_len, size_t payload_len)
{
    return SIG_PREFIX_BYTES + name_len + 1 + b64_len(payload_len) + 1;
}

SR_WARN_UNUSED static sr_status append_sig_line(sr_buf *out, const char *name,
                                                size_t name_len,
                                                const uint8_t *payload,
                                                size_t n)
{
    sr_status st;
    if ((st = buf_reserve(out, sig_line_len(name_len, n))) != SR_OK)
        return st;
    if ((st = buf_append(out, sig_prefix, SIG_PREFIX_BYTES)) != SR_OK ||
        (st = buf_append(out, name, name_len)) != SR_OK ||
        (st = buf_append_byte(out, ' ')) != SR_OK ||
        (st = b64_append(out, payload, n)) != SR_OK)
        return st;
    return buf_append_byte(out, '\n');
}

sr_status note_sign(const char *body, size_t len, const note_signer *s,
                    sr_buf *out)
{
    uint8_t payload[PAYLOAD_ED25519];
    sr_status st;
    if (s == NULL || out == NULL || s->type != NOTE_TYPE_ED25519 ||
        s->sk == NULL || !body_ok((const uint8_t *)body, len))
        return SR_ERR_INVALID;
    size_t name_len = name_len_of(s->name);
    if (name_len == 0 ||
        len + 1 + sig_line_len(name_len, PAYLOAD_ED25519) > NOTE_MAX_BYTES)
        return SR_ERR_INVALID;
    memcpy(payload, s->keyhash, KEYHASH_BYTES);
    if (crypto_sign_detached(payload + KEYHASH_BYTES, NULL,
                             (const uint8_t *)body, len, s->sk) != 0)
        return SR_ERR_INTERNAL;
    size_t old_len = out->len;
    if ((st = buf_reserve(out,
                          len + 1 + sig_line_len(name_len, PAYLOAD_ED25519))) !=
            SR_OK ||
        (st = buf_append(out, body, len)) != SR_OK ||
        (st = buf_append_byte(out, '\n')) != SR_OK ||
        (st = append_sig_line(out, s->name, name_len, payload,
                              sizeof payload)) != SR_OK)
        buf_truncate(out, old_len);
    return st;
}

/* Build "cosignature/v1\ntime <t>\n" || body into m (tlog-cosignature,
 * "Ed25519 signed message": the whole body, extension lines included). */
SR_WARN_UNUSED static sr_status cosig_message(sr_buf *m, uint64_t t,
                                              const uint8_t *body, size_t len)
{
    char dec[20];
    size_t nd = u64_dec(dec, t);
    sr_status st;
    buf_reset(m);
    if ((st = buf_reserve(m, COSIG_HEADER_BYTES + nd + 1 + len)) != SR_OK ||
        (st = buf_append(m, cosig_header, COSIG_HEADER_BYTES)) != SR_OK ||
        (st = buf_append(m, dec, nd)) != SR_OK ||
        (st = buf_append_byte(m, '\n')) != SR_OK)
        return st;
    return buf_append(m, body, len);
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The known key matching a signature line's name and key ID, or NULL. */
static const note_verifier *find_known(const note_verifier *vs, size_t nv,
                                       const uint8_t *name, size_t name_len,
                                       const uint8_t keyhash[KEYHASH_BYTES],
                                       size_t *idx)
{
    for (size_t i = 0; i < nv; i++) {
        if (strnlen(vs[i].name, NOTE_NAME_MAX + 1) == name_len &&
            memcmp(vs[i].name, name, name_len) == 0 &&
            memcmp(vs[i].keyhash, keyhash, KEYHASH_BYTES) == 0) {
            *idx = i;
            return &vs[i];
        }
    }
    return NULL;
}

/* Every known key is well-formed and no two share name and key ID (which
 * would make "the" key of a signature line ambiguous). */
static bool verifiers_ok(const note_verifier *vs, size_t nv)
{
    for (size_t i = 0; i < nv; i++) {
        size_t n = name_len_of(vs[i].name);
        if (n == 0 || !type_ok(vs[i].type))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(vs[i].name, vs[j].name) == 0 &&
                memcmp(vs[i].keyhash, vs[j].keyhash, KEYHASH_BYTES) == 0)
                return false;
        }
    }
    return true;
}

/* Check one signature line (without its "\n"). A line of an unknown key is
 * only parsed; one of a known key must verify (SR_ERR_CORRUPT if not). */
SR_WARN_UNUSED static sr_status
open_sig_line(const uint8_t *line, size_t n, const uint8_t *body,
              size_t body_len, const note_verifier *vs, size_t nv,
              int *verified, uint64_t *times, sr_buf *cmsg)
{
    sr_reader r;
    const uint8_t *pre, *rest, *space, *name, *b64;
    uint8_t sig[NOTE_SIG_MAX];
    size_t sig_len = 0, name_len, b64_n, left, idx = 0;
    sr_status st;

    reader_init(&r, line, n);
    if (!reader_bytes(&r, SIG_PREFIX_BYTES, &pre) ||
        memcmp(pre, sig_prefix, SIG_PREFIX_BYTES) != 0)
        return SR_ERR_CORRUPT;
    /* The name ends at the first space; the rest is the base64. */
    sr_reader peek = r;
    left = reader_left(&r);
    if (left == 0 || !reader_bytes(&peek, left, &rest))
        return SR_ERR_CORRUPT;
    space = memchr(rest, ' ', left);
    if (space == NULL)
        return SR_ERR_CORRUPT;
    name_len = (size_t)(space - rest);
    if (!reader_bytes(&r, name_len, &name) || !reader_bytes(&r, 1, &space))
        return SR_ERR_CORRUPT;
    b64_n = reader_left(&r);
    if (!reader_bytes(&r, b64_n, &b64))
        return SR_ERR_CORRUPT;
    if (!name_ok(name, name_len) ||
        !b64_decode(b64, b64_n, sig, sizeof sig, &sig_len) ||
        sig_len < KEYHASH_BYTES + 1)
        return SR_ERR_CORRUPT;

    const note_verifier *v = find_known(vs, nv, name, name_len, sig, &idx);
    if (v == NULL)
        return SR_OK; /* unknown key: ignored (signed-note, "Signatures") */
    if (v->type == NOTE_TYPE_ED25519) {
        if (sig_len != PAYLOAD_ED25519 ||
            crypto_sign_verify_detached(sig + KEYHASH_BYTES, body, body_len,
                                        v->pk) != 0)
            return SR_ERR_CORRUPT;
        verified[idx] = 1;
        return SR_OK;
    }
    /* NOTE_TYPE_COSIG_V1: key ID || u64 timestamp || signature. */
    if (sig_len != PAYLOAD_COSIG)
        return SR_ERR_CORRUPT;
    uint64_t t = be64(sig + KEYHASH_BYTES);
    if (t > NOTE_COSIG_TIME_MAX)
        return SR_ERR_CORRUPT;
    if ((st = cosig_message(cmsg, t, body, body_len)) != SR_OK)
        return st;
    if (crypto_sign_verify_detached(sig + KEYHASH_BYTES + 8, cmsg->p, cmsg->len,
                                    v->pk) != 0)
        return SR_ERR_CORRUPT;
    verified[idx] = 1;
    if (times != NULL && t > times[idx])
        times[idx] = t;
    return SR_OK;
}

static void open_reset(size_t *body_len, int *verified, uint64_t *times,
                       size_t nv)
{
    *body_len = 0;
    for (size_t i = 0; i < nv; i++) {
        verified[i] = 0;
        if (times != NULL)
            times[i] = 0;
    }
}

sr_status note_open(const char *msg, size_t len, const note_verifier *vs,
                    size_t nv, size_t *body_len, int *verified, uint64_t *times)
{
    const uint8_t *p = (const uint8_t *)msg;
    sr_status st = SR_ERR_CORRUPT;
    sr_buf cmsg;
    sr_reader r;
    size_t split = 0, nsig = 0;
    bool found = false;

    if (body_len == NULL || (nv > 0 && (vs == NULL || verified == NULL)))
        return SR_ERR_INVALID;
    open_reset(body_len, verified, times, nv);
    if (!verifiers_ok(vs, nv))
        return SR_ERR_INVALID;
    buf_init(&cmsg, COSIG_PREFIX_MAX + NOTE_MAX_BYTES);
    if (p == NULL || len < 2 || len > NOTE_MAX_BYTES || p[len - 1] != '\n' ||
        !text_ok(p, len))
        goto cleanup;
    /* The text ends at the last empty line (signed-note, "Format"). */
    for (size_t i = len - 1; i > 0; i--) {
        if (p[i] == '\n' && p[i - 1] == '\n') {
            split = i - 1;
            found = true;
            break;
        }
    }
    if (!found || split + 2 >= len)
        goto cleanup;
    /* Count the lines first: too many is refused before any signature
     * work is spent on them. */
    reader_init(&r, p + split + 2, len - split - 2);
    while (reader_left(&r) > 0) {
        const uint8_t *line;
        size_t n;
        if (!reader_line(&r, &line, &n) || ++nsig > NOTE_MAX_SIGS)
            goto cleanup;
    }
    reader_init(&r, p + split + 2, len - split - 2);
    while (reader_left(&r) > 0) {
        const uint8_t *line;
        size_t n;
        if (!reader_line(&r, &line, &n)) {
            st = SR_ERR_CORRUPT;
            goto cleanup;
        }
        st = open_sig_line(line, n, p, split + 1, vs, nv, verified, times,
                           &cmsg);
        if (st != SR_OK)
            goto cleanup;
    }
    *body_len = split + 1;
    st = SR_OK;
cleanup:
    if (st != SR_OK)
        open_reset(body_len, verified, times, nv);
    buf_free(&cmsg);
    return st;
}

/* ---- checkpoints ------------------------------------------------------- */

sr_status note_checkpoint_format(const char *origin, uint64_t size,
                                 const uint8_t root[32], sr_buf *body)
{
    char dec[20];
    sr_status st;
    if (origin == NULL || root == NULL || body == NULL)
        return SR_ERR_INVALID;
    size_t n = strnlen(origin, NOTE_ORIGIN_MAX + 1);
    /* The same rules note_checkpoint_parse applies, so what we write reads
     * back. */
    if (n == 0 || n > NOTE_ORIGIN_MAX || memchr(origin, '\n', n) != NULL ||
        !text_ok((const uint8_t *)origin, n))
        return SR_ERR_INVALID;
    size_t nd = u64_dec(dec, size);
    size_t old_len = body->len;
    if ((st = buf_reserve(body, n + 1 + nd + 1 + b64_len(32) + 1)) != SR_OK ||
        (st = buf_append(body, origin, n)) != SR_OK ||
        (st = buf_append_byte(body, '\n')) != SR_OK ||
        (st = buf_append(body, dec, nd)) != SR_OK ||
        (st = buf_append_byte(body, '\n')) != SR_OK ||
        (st = b64_append(body, root, 32)) != SR_OK ||
        (st = buf_append_byte(body, '\n')) != SR_OK)
        buf_truncate(body, old_len);
    return st;
}

sr_status note_checkpoint_parse(const char *body, size_t len,
                                note_checkpoint *cp)
{
    const uint8_t *p = (const uint8_t *)body;
    const uint8_t *line;
    size_t n, root_len = 0;
    sr_reader r;
    if (cp == NULL)
        return SR_ERR_INVALID;
    memset(cp, 0, sizeof *cp);
    if (!body_ok(p, len))
        return SR_ERR_CORRUPT;
    reader_init(&r, p, len);
    /* tlog-checkpoint, "Note text": origin, size, root, extensions. */
    if (!reader_line(&r, &line, &n) || n == 0 || n > NOTE_ORIGIN_MAX)
        goto bad;
    memcpy(cp->origin, line, n);
    cp->origin[n] = '\0';
    if (!reader_line(&r, &line, &n) || !dec_parse(line, n, &cp->size))
        goto bad;
    if (!reader_line(&r, &line, &n) || n != b64_len(32) ||
        !b64_decode(line, n, cp->root, sizeof cp->root, &root_len) ||
        root_len != sizeof cp->root)
        goto bad;
    cp->ext_len = reader_left(&r);
    while (reader_left(&r) > 0) {
        if (!reader_line(&r, &line, &n) || n == 0)
            goto bad;
    }
    return SR_OK;
bad:
    memset(cp, 0, sizeof *cp);
    return SR_ERR_CORRUPT;
}

sr_status note_cosign(const char *cp_body, size_t len, uint64_t t,
                      const note_signer *witness, sr_buf *out)
{
    note_checkpoint cp;
    uint8_t payload[PAYLOAD_COSIG];
    sr_status st;
    sr_buf m;
    if (witness == NULL || out == NULL || witness->type != NOTE_TYPE_COSIG_V1 ||
        witness->sk == NULL || t > NOTE_COSIG_TIME_MAX)
        return SR_ERR_INVALID;
    size_t name_len = name_len_of(witness->name);
    if (name_len == 0 || note_checkpoint_parse(cp_body, len, &cp) != SR_OK)
        return SR_ERR_INVALID;
    buf_init(&m, COSIG_PREFIX_MAX + NOTE_MAX_BYTES);
    if ((st = cosig_message(&m, t, (const uint8_t *)cp_body, len)) != SR_OK)
        goto cleanup;
    memcpy(payload, witness->keyhash, KEYHASH_BYTES);
    for (unsigned i = 0; i < 8; i++)
        payload[KEYHASH_BYTES + i] = (uint8_t)(t >> (56 - 8 * i));
    if (crypto_sign_detached(payload + KEYHASH_BYTES + 8, NULL, m.p, m.len,
                             witness->sk) != 0) {
        st = SR_ERR_INTERNAL;
        goto cleanup;
    }
    size_t old_len = out->len;
    if ((st = append_sig_line(out, witness->name, name_len, payload,
                              sizeof payload)) != SR_OK)
        buf_truncate(out, old_len);
cleanup:
    buf_free(&m);
    return st;
}
