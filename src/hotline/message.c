/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/message.c - sealing and opening the hotline's messages
 * (message.h). All cryptography is libsodium's: Ed25519, X25519,
 * BLAKE2b, XChaCha20-Poly1305, SHA-256.
 *
 * The bytes signed (and, up to `epk`, the cipher's associated data):
 *
 *   "strongroom-hotline-v1\n"
 *   then each of from, to, case, seq (8 bytes, big-endian), id (16),
 *   kind, tlp, sent, epk (32) as a 4-byte big-endian length and its bytes,
 *   then nonce (24) and ct, each the same way (signature only).
 */
#include "hotline/message.h"
#include "hotline/body.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/util.h"

static const char signed_prefix[] = "strongroom-hotline-v1\n";
static const char public_prefix[] = "srnode1:";

#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES

_Static_assert(NONCE_BYTES == 24, "XChaCha20 nonce");
_Static_assert(KEY_BYTES == 32, "XChaCha20 key");
_Static_assert(HL_SEED_BYTES == crypto_kdf_KEYBYTES, "a seed is a KDF key");

struct hl_identity {
    char name[HL_NAME_MAX + 1];
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t box_pk[crypto_scalarmult_BYTES];
    uint8_t log_pk[crypto_sign_PUBLICKEYBYTES]; /* from subkey 5 */
    uint8_t *sign_sk; /* sodium_malloc: crypto_sign_SECRETKEYBYTES */
    uint8_t *box_sk;  /* sodium_malloc: crypto_scalarmult_SCALARBYTES */
    uint8_t *seed;    /* sodium_malloc: HL_SEED_BYTES */
};

static const char *const kind_names[HL_KIND_COUNT] = {
    "request", "ack", "response", "close", "receipt"};
static const char *const tlp_names[HL_TLP_COUNT] = {
    "TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"};

const char *hl_kind_name(hl_kind k)
{
    return (unsigned)k < HL_KIND_COUNT ? kind_names[k] : NULL;
}

const char *hl_tlp_name(hl_tlp t)
{
    return (unsigned)t < HL_TLP_COUNT ? tlp_names[t] : NULL;
}

static bool lookup_name(const char *const *names, unsigned n, const char *s,
                        unsigned *out)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return true;
        }
    return false;
}

sr_status hl_tlp_parse(const char *s, hl_tlp *out)
{
    unsigned i;
    if (s == NULL || !lookup_name(tlp_names, HL_TLP_COUNT, s, &i))
        return SR_ERR_INVALID;
    *out = (hl_tlp)i;
    return SR_OK;
}

bool hl_tlp_may_forward(hl_tlp t)
{
    return t == HL_TLP_CLEAR || t == HL_TLP_GREEN;
}

/* ---- names --------------------------------------------------------------- */

bool hl_name_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > HL_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '-')))
            return false;
    }
    return true;
}

bool hl_case_ok(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > HL_CASE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
              c == '-'))
            return false;
    }
    return true;
}

/* "YYYY-MM-DDTHH:MM:SSZ" exactly: a timestamp without a fraction. */
static bool sent_ok(const char *s, size_t len)
{
    return len == 20 && hl_timestamp_ok(s, len);
}

/* ---- identities and peers ------------------------------------------------ */

sr_status hl_identity_from_seed(hl_identity **out, const char *name,
                                const uint8_t seed[HL_SEED_BYTES])
{
    *out = NULL;
    if (name == NULL || !hl_name_ok(name, strlen(name)))
        return SR_ERR_INVALID;
    hl_identity *id = calloc(1, sizeof *id);
    if (id == NULL)
        return SR_ERR_NOMEM;
    uint8_t *sign_seed = sodium_malloc(crypto_sign_SEEDBYTES);
    id->sign_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    id->box_sk = sodium_malloc(crypto_scalarmult_SCALARBYTES);
    id->seed = sodium_malloc(HL_SEED_BYTES);
    sr_status st = SR_ERR_NOMEM;
    if (sign_seed != NULL && id->sign_sk != NULL && id->box_sk != NULL &&
        id->seed != NULL) {
        (void)snprintf(id->name, sizeof id->name, "%s", name);
        memcpy(id->seed, seed, HL_SEED_BYTES);
        /* Two keys from one seed, each for its own use. */
        st = crypto_kdf_derive_from_key(sign_seed, crypto_sign_SEEDBYTES, 1,
                                        "hlnode__", seed) == 0 &&
                     crypto_kdf_derive_from_key(id->box_sk,
                                                crypto_scalarmult_SCALARBYTES,
                                                2, "hlnode__", seed) == 0 &&
                     crypto_sign_seed_keypair(id->sign_pk, id->sign_sk,
                                              sign_seed) == 0 &&
                     crypto_scalarmult_base(id->box_pk, id->box_sk) == 0
                 ? SR_OK
                 : SR_ERR_INTERNAL;
    }
    /* The log's checkpoint key: its public half goes in the public line;
     * the log derives the same pair from the same subkey. */
    uint8_t *log_seed = sodium_malloc(32), *log_sk = sodium_malloc(64);
    if (st == SR_OK &&
        (log_seed == NULL || log_sk == NULL ||
         crypto_kdf_derive_from_key(log_seed, 32, HL_SUBKEY_LOG_SIGN,
                                    "hlnode__", seed) != 0 ||
         crypto_sign_seed_keypair(id->log_pk, log_sk, log_seed) != 0))
        st =
            log_seed == NULL || log_sk == NULL ? SR_ERR_NOMEM : SR_ERR_INTERNAL;
    sodium_free(log_seed);
    sodium_free(log_sk);
    sodium_free(sign_seed);
    if (st != SR_OK) {
        hl_identity_free(id);
        return st;
    }
    *out = id;
    return SR_OK;
}

sr_status hl_identity_new(hl_identity **out, const char *name)
{
    uint8_t *seed = sodium_malloc(HL_SEED_BYTES);
    *out = NULL;
    if (seed == NULL)
        return SR_ERR_NOMEM;
    randombytes_buf(seed, HL_SEED_BYTES);
    sr_status st = hl_identity_from_seed(out, name, seed);
    sodium_free(seed);
    return st;
}

void hl_identity_free(hl_identity *id)
{
    if (id == NULL)
        return;
    sodium_free(id->sign_sk); /* sodium_free wipes */
    sodium_free(id->box_sk);
    sodium_free(id->seed);
    free(id);
}

sr_status hl_identity_subkey(const hl_identity *id, uint64_t n, uint8_t out[32])
{
    return n >= 4 && crypto_kdf_derive_from_key(out, 32, n, "hlnode__",
                                                id->seed) == 0
               ? SR_OK
               : SR_ERR_INVALID;
}

const char *hl_identity_name(const hl_identity *id)
{
    return id->name;
}

const uint8_t *hl_identity_seed(const hl_identity *id)
{
    return id->seed;
}

void hl_identity_peer(const hl_identity *id, hl_peer *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->name, id->name, sizeof out->name);
    memcpy(out->sign_pk, id->sign_pk, sizeof out->sign_pk);
    memcpy(out->box_pk, id->box_pk, sizeof out->box_pk);
    memcpy(out->log_pk, id->log_pk, sizeof out->log_pk);
}

sr_status hl_peer_format(const hl_peer *p, char *out, size_t cap)
{
    uint8_t keys[96];
    char b64[sodium_base64_ENCODED_LEN(96, sodium_base64_VARIANT_ORIGINAL)];
    memcpy(keys, p->sign_pk, 32);
    memcpy(keys + 32, p->box_pk, 32);
    memcpy(keys + 64, p->log_pk, 32);
    sodium_bin2base64(b64, sizeof b64, keys, sizeof keys,
                      sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, cap, "%s%s:%s", public_prefix, p->name, b64);
    return n > 0 && (size_t)n < cap ? SR_OK : SR_ERR_INVALID;
}

sr_status hl_peer_parse(const char *s, size_t len, hl_peer *out)
{
    size_t plen = sizeof public_prefix - 1;
    uint8_t keys[96];
    size_t klen = 0;
    memset(out, 0, sizeof *out);
    if (s == NULL || len <= plen || memcmp(s, public_prefix, plen) != 0)
        return SR_ERR_INVALID;
    const char *name = s + plen;
    const char *colon = memchr(name, ':', len - plen);
    if (colon == NULL || !hl_name_ok(name, (size_t)(colon - name)))
        return SR_ERR_INVALID;
    const char *b64 = colon + 1;
    size_t blen = len - (size_t)(b64 - s);
    if (!b64_decode((const uint8_t *)b64, blen, keys, sizeof keys, &klen) ||
        klen != sizeof keys)
        return SR_ERR_INVALID;
    memcpy(out->name, name, (size_t)(colon - name));
    memcpy(out->sign_pk, keys, 32);
    memcpy(out->box_pk, keys + 32, 32);
    memcpy(out->log_pk, keys + 64, 32);
    /* An all-zero or small-order X25519 key would make every message's
     * key predictable. */
    uint8_t probe[32], q[32];
    randombytes_buf(probe, sizeof probe);
    bool weak = crypto_scalarmult(q, probe, out->box_pk) != 0;
    sodium_memzero(probe, sizeof probe);
    sodium_memzero(q, sizeof q);
    if (weak) {
        memset(out, 0, sizeof *out);
        return SR_ERR_INVALID;
    }
    return SR_OK;
}

/* ---- the signed bytes ---------------------------------------------------- */

typedef struct signed_bytes {
    uint8_t *p;
    size_t len, cap;
} signed_bytes;

static void put(signed_bytes *b, const void *v, size_t n)
{
    /* The callers size cap for everything they put. */
    b->p[b->len++] = (uint8_t)(n >> 24);
    b->p[b->len++] = (uint8_t)(n >> 16);
    b->p[b->len++] = (uint8_t)(n >> 8);
    b->p[b->len++] = (uint8_t)n;
    memcpy(b->p + b->len, v, n);
    b->len += n;
}

/* The header part (through epk) into a new buffer with room for nonce and
 * ct_len bytes of ciphertext after it; *ad_len gets the header's length. */
static sr_status header_bytes(const hl_header *h, const uint8_t epk[32],
                              size_t ct_len, signed_bytes *b, size_t *ad_len)
{
    uint8_t seq[8];
    for (int i = 0; i < 8; i++)
        seq[i] = (uint8_t)(h->seq >> (56 - 8 * i));
    const char *kind = hl_kind_name(h->kind), *tlp = hl_tlp_name(h->tlp);
    if (kind == NULL || tlp == NULL)
        return SR_ERR_INVALID;
    b->cap = sizeof signed_prefix + 11 * 4 + strlen(h->from) + strlen(h->to) +
             strlen(h->case_id) + 8 + HL_ID_BYTES + strlen(kind) + strlen(tlp) +
             strlen(h->sent) + 32 + NONCE_BYTES + ct_len;
    b->p = malloc(b->cap);
    b->len = 0;
    if (b->p == NULL)
        return SR_ERR_NOMEM;
    memcpy(b->p, signed_prefix, sizeof signed_prefix - 1);
    b->len = sizeof signed_prefix - 1;
    put(b, h->from, strlen(h->from));
    put(b, h->to, strlen(h->to));
    put(b, h->case_id, strlen(h->case_id));
    put(b, seq, sizeof seq);
    put(b, h->id, HL_ID_BYTES);
    put(b, kind, strlen(kind));
    put(b, tlp, strlen(tlp));
    put(b, h->sent, strlen(h->sent));
    put(b, epk, 32);
    *ad_len = b->len;
    return SR_OK;
}

/* The message key: BLAKE2b-256(X25519(sk, pk) || epk || recipient pk). */
static sr_status message_key(uint8_t key[KEY_BYTES], const uint8_t *sk,
                             const uint8_t pk[32], const uint8_t epk[32],
                             const uint8_t recipient[32])
{
    uint8_t q[crypto_scalarmult_BYTES];
    crypto_generichash_state st;
    if (crypto_scalarmult(q, sk, pk) != 0)
        return SR_ERR_CORRUPT;
    int rc = crypto_generichash_init(&st, NULL, 0, KEY_BYTES);
    rc |= crypto_generichash_update(&st, q, sizeof q);
    rc |= crypto_generichash_update(&st, epk, 32);
    rc |= crypto_generichash_update(&st, recipient, 32);
    rc |= crypto_generichash_final(&st, key, KEY_BYTES);
    sodium_memzero(q, sizeof q);
    sodium_memzero(&st, sizeof st);
    return rc == 0 ? SR_OK : SR_ERR_INTERNAL;
}

static bool header_ok(const hl_header *h)
{
    return hl_name_ok(h->from, strnlen(h->from, sizeof h->from)) &&
           hl_name_ok(h->to, strnlen(h->to, sizeof h->to)) &&
           hl_case_ok(h->case_id, strnlen(h->case_id, sizeof h->case_id)) &&
           h->seq >= 1 && (unsigned)h->kind < HL_KIND_COUNT &&
           (unsigned)h->tlp < HL_TLP_COUNT &&
           sent_ok(h->sent, strnlen(h->sent, sizeof h->sent));
}

static char *b64_of(const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (s != NULL)
        sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* ---- sealing ------------------------------------------------------------- */

sr_status hl_seal(const hl_identity *me, const hl_peer *to, const hl_header *h,
                  const uint8_t *body, size_t len, char **out, size_t *out_len)
{
    uint8_t epk[32], key[KEY_BYTES], nonce[NONCE_BYTES], sig[crypto_sign_BYTES];
    char hex_id[HL_ID_BYTES * 2 + 1];
    /* The ephemeral secret lives on the stack for the few microseconds it
     * is needed and is wiped, as crypto_box_seal keeps its own, and as the
     * message key beside it is: a sodium_malloc a message (guard pages,
     * mlock: about 50 us here) was an eighth of the hotline's time. */
    uint8_t esk[crypto_scalarmult_SCALARBYTES];
    signed_bytes b = {NULL, 0, 0};
    size_t ad_len = 0;
    char *s_epk = NULL, *s_nonce = NULL, *s_ct = NULL, *s_sig = NULL;
    json_t *o = NULL;
    sr_status st;

    *out = NULL;
    *out_len = 0;
    if (!header_ok(h) || strcmp(h->from, me->name) != 0 ||
        strcmp(h->to, to->name) != 0 || len > HL_BODY_MAX ||
        (body == NULL && len > 0) || h->seq > (uint64_t)INT64_MAX)
        return SR_ERR_INVALID;
    randombytes_buf(esk, sizeof esk);
    st = crypto_scalarmult_base(epk, esk) == 0 ? SR_OK : SR_ERR_INTERNAL;
    if (st == SR_OK)
        st = message_key(key, esk, to->box_pk, epk, to->box_pk);
    sodium_memzero(esk, sizeof esk);
    if (st == SR_OK)
        st = header_bytes(h, epk, len + TAG_BYTES + 8, &b, &ad_len);
    if (st != SR_OK)
        goto cleanup;
    randombytes_buf(nonce, sizeof nonce);
    put(&b, nonce, sizeof nonce);
    /* The ciphertext goes straight into the signed bytes, after its
     * length. */
    size_t ct_len = len + TAG_BYTES;
    uint8_t *ct = b.p + b.len + 4;
    unsigned long long clen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(
            ct, &clen, body, len, b.p, ad_len, NULL, nonce, key) != 0 ||
        clen != ct_len) {
        st = SR_ERR_INTERNAL;
        goto cleanup;
    }
    b.p[b.len++] = (uint8_t)(ct_len >> 24);
    b.p[b.len++] = (uint8_t)(ct_len >> 16);
    b.p[b.len++] = (uint8_t)(ct_len >> 8);
    b.p[b.len++] = (uint8_t)ct_len;
    b.len += ct_len;
    if (crypto_sign_detached(sig, NULL, b.p, b.len, me->sign_sk) != 0) {
        st = SR_ERR_INTERNAL;
        goto cleanup;
    }
    hex_encode(hex_id, h->id, HL_ID_BYTES);
    s_epk = b64_of(epk, sizeof epk);
    s_nonce = b64_of(nonce, sizeof nonce);
    s_ct = b64_of(ct, ct_len);
    s_sig = b64_of(sig, sizeof sig);
    o = json_pack("{si ss ss ss sI ss ss ss ss ss ss ss ss}", "hotline", 1,
                  "from", h->from, "to", h->to, "case", h->case_id, "seq",
                  (json_int_t)h->seq, "id", hex_id, "kind",
                  hl_kind_name(h->kind), "tlp", hl_tlp_name(h->tlp), "sent",
                  h->sent, "epk", s_epk, "nonce", s_nonce, "ct", s_ct, "sig",
                  s_sig);
    if (s_epk == NULL || s_nonce == NULL || s_ct == NULL || s_sig == NULL ||
        o == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    *out = json_to_text(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*out == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    *out_len = strlen(*out);
cleanup:
    sodium_memzero(key, sizeof key);
    free(b.p);
    free(s_epk);
    free(s_nonce);
    free(s_ct);
    free(s_sig);
    json_decref(o);
    return st;
}

/* ---- opening ------------------------------------------------------------- */

static sr_status refuse(char err[HL_ERR_MAX], sr_status st, const char *why)
{
    (void)snprintf(err, HL_ERR_MAX, "%s", why);
    return st;
}

/* A string member of o that passes ok(), copied into dst (cap bytes). */
static bool str_member(const json_t *o, const char *key, char *dst, size_t cap,
                       bool (*ok)(const char *, size_t))
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= cap || memchr(s, '\0', n) != NULL || !ok(s, n))
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* A base64 member decoded into a new buffer of exactly want bytes (or,
 * want == 0, any length up to max). */
static bool b64_member(const json_t *o, const char *key, size_t want,
                       size_t max, uint8_t **dst, size_t *n)
{
    const json_t *v = json_object_get(o, key);
    *dst = NULL;
    if (!json_is_string(v))
        return false;
    size_t slen = json_string_length(v);
    size_t cap = want != 0 ? want : max;
    if (slen > (cap + 2) / 3 * 4)
        return false;
    *dst = malloc(cap > 0 ? cap : 1);
    if (*dst == NULL)
        return false;
    if (!b64_decode((const uint8_t *)json_string_value(v), slen, *dst, cap,
                    n) ||
        (want != 0 && *n != want)) {
        free(*dst);
        *dst = NULL;
        return false;
    }
    return true;
}

static bool any_text(const char *s, size_t n)
{
    (void)s;
    (void)n;
    return true;
}

static bool hex_id_ok(const char *s, size_t n)
{
    uint8_t tmp[HL_ID_BYTES];
    return n == 2 * HL_ID_BYTES && hex_decode(tmp, HL_ID_BYTES, s, n);
}

/* Parse and check every member but the cryptographic ones' meaning. */
static sr_status parse_header(const json_t *o, hl_header *h,
                              char err[HL_ERR_MAX])
{
    static const char *const members[] = {
        "hotline", "from", "to",  "case",  "seq", "id", "kind",
        "tlp",     "sent", "epk", "nonce", "ct",  "sig"};
    char kind[16], tlp[24], id[2 * HL_ID_BYTES + 1];
    unsigned k;
    if (!json_is_object(o))
        return refuse(err, SR_ERR_INVALID, "not a JSON object");
    if (json_object_size(o) != sizeof members / sizeof members[0])
        return refuse(err, SR_ERR_INVALID, "members missing or unknown");
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        if (json_object_get(o, members[i]) == NULL)
            return refuse(err, SR_ERR_INVALID, "members missing or unknown");
    const json_t *v = json_object_get(o, "hotline");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return refuse(err, SR_ERR_VERSION, "not a hotline version 1 message");
    if (!str_member(o, "from", h->from, sizeof h->from, hl_name_ok) ||
        !str_member(o, "to", h->to, sizeof h->to, hl_name_ok))
        return refuse(err, SR_ERR_INVALID, "from/to: not a node name");
    if (!str_member(o, "case", h->case_id, sizeof h->case_id, hl_case_ok))
        return refuse(err, SR_ERR_INVALID, "case: not a case id");
    v = json_object_get(o, "seq");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return refuse(err, SR_ERR_INVALID, "seq: not a positive integer");
    h->seq = (uint64_t)json_integer_value(v);
    if (!str_member(o, "id", id, sizeof id, hex_id_ok) ||
        !hex_decode(h->id, HL_ID_BYTES, id, 2 * HL_ID_BYTES))
        return refuse(err, SR_ERR_INVALID, "id: not 32 hex digits");
    if (!str_member(o, "kind", kind, sizeof kind, any_text) ||
        !lookup_name(kind_names, HL_KIND_COUNT, kind, &k))
        return refuse(err, SR_ERR_INVALID, "kind: unknown");
    h->kind = (hl_kind)k;
    if (!str_member(o, "tlp", tlp, sizeof tlp, any_text) ||
        hl_tlp_parse(tlp, &h->tlp) != SR_OK)
        return refuse(err, SR_ERR_INVALID, "tlp: not a TLP 2.0 label");
    if (!str_member(o, "sent", h->sent, sizeof h->sent, sent_ok))
        return refuse(err, SR_ERR_INVALID, "sent: not YYYY-MM-DDTHH:MM:SSZ");
    return SR_OK;
}

/* Room for n bytes in s: a new allocation only when it has less (and then
 * at least 16 KiB, so a run of small bodies makes one). */
static sr_status scratch_room(hl_scratch *s, size_t n)
{
    if (s->p != NULL && s->cap >= n)
        return SR_OK;
    size_t want = n > 16384 ? n : 16384;
    sodium_free(s->p);
    s->p = sodium_malloc(want);
    s->cap = s->p != NULL ? want : 0;
    return s->p != NULL ? SR_OK : SR_ERR_NOMEM;
}

void hl_scratch_free(hl_scratch *s)
{
    sodium_free(s->p);
    s->p = NULL;
    s->cap = 0;
}

sr_status hl_open(const hl_identity *me, const hl_peer *peers, size_t npeers,
                  const char *env, size_t len, hl_header *h, uint8_t **body,
                  size_t *body_len, char err[HL_ERR_MAX])
{
    /* A scratch of the body's exact size, handed over whole. */
    hl_scratch s = {NULL, 0};
    const uint8_t *in = NULL;
    *body = NULL;
    sr_status st =
        hl_open_in(me, peers, npeers, env, len, h, &s, &in, body_len, err);
    if (st == SR_OK)
        *body = s.p;
    else
        hl_scratch_free(&s);
    return st;
}

sr_status hl_open_in(const hl_identity *me, const hl_peer *peers, size_t npeers,
                     const char *env, size_t len, hl_header *h,
                     hl_scratch *scratch, const uint8_t **body,
                     size_t *body_len, char err[HL_ERR_MAX])
{
    json_error_t jerr;
    uint8_t *epk = NULL, *nonce = NULL, *ct = NULL, *sig = NULL;
    uint8_t key[KEY_BYTES];
    size_t n_epk = 0, n_nonce = 0, ct_len = 0, n_sig = 0, ad_len = 0;
    signed_bytes b = {NULL, 0, 0};
    const hl_peer *from = NULL;
    sr_status st;

    memset(h, 0, sizeof *h);
    *body = NULL;
    *body_len = 0;
    err[0] = '\0';
    if (env == NULL || len == 0 || len > HL_ENVELOPE_MAX)
        return refuse(err, SR_ERR_INVALID, "empty or too long");
    json_t *o = json_loadb(env, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL)
        return refuse(err, SR_ERR_INVALID, "not JSON");
    st = parse_header(o, h, err);
    if (st == SR_OK &&
        (!b64_member(o, "epk", 32, 0, &epk, &n_epk) ||
         !b64_member(o, "nonce", NONCE_BYTES, 0, &nonce, &n_nonce) ||
         !b64_member(o, "sig", crypto_sign_BYTES, 0, &sig, &n_sig) ||
         !b64_member(o, "ct", 0, HL_BODY_MAX + TAG_BYTES, &ct, &ct_len) ||
         ct_len < TAG_BYTES))
        st = refuse(err, SR_ERR_INVALID,
                    "epk/nonce/ct/sig: bad base64 or "
                    "length");
    json_decref(o);
    if (st != SR_OK)
        goto cleanup;
    if (strcmp(h->to, me->name) != 0) {
        st = refuse(err, SR_ERR_AUTH, "addressed to another node");
        goto cleanup;
    }
    for (size_t i = 0; i < npeers && from == NULL; i++)
        if (strcmp(peers[i].name, h->from) == 0)
            from = &peers[i];
    if (from == NULL) {
        st = refuse(err, SR_ERR_AUTH, "from a node that is not a peer");
        goto cleanup;
    }
    st = header_bytes(h, epk, ct_len + 8, &b, &ad_len);
    if (st != SR_OK) {
        (void)refuse(err, st, "cannot rebuild the signed bytes");
        goto cleanup;
    }
    put(&b, nonce, NONCE_BYTES);
    put(&b, ct, ct_len);
    if (crypto_sign_verify_detached(sig, b.p, b.len, from->sign_pk) != 0) {
        st = refuse(err, SR_ERR_AUTH, "the signature is not the sender's");
        goto cleanup;
    }
    st = message_key(key, me->box_sk, epk, epk, me->box_pk);
    if (st != SR_OK) {
        (void)refuse(err, SR_ERR_CORRUPT, "the message key cannot be made");
        st = SR_ERR_CORRUPT;
        goto cleanup;
    }
    if (scratch_room(scratch, ct_len - TAG_BYTES + 1) != SR_OK) {
        st = refuse(err, SR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(scratch->p, &plen, NULL, ct,
                                                   ct_len, b.p, ad_len, nonce,
                                                   key) != 0) {
        st = refuse(err, SR_ERR_CORRUPT, "the ciphertext does not open");
        goto cleanup;
    }
    scratch->p[plen] = 0;
    *body = scratch->p;
    *body_len = (size_t)plen;
cleanup:
    sodium_memzero(key, sizeof key);
    if (st != SR_OK)
        memset(h, 0, sizeof *h);
    free(b.p);
    free(epk);
    free(nonce);
    free(ct);
    free(sig);
    return st;
}

void hl_body_free(uint8_t *body, size_t len)
{
    (void)len; /* sodium_free wipes the whole allocation */
    sodium_free(body);
}

void hl_envelope_hash(const char *env, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, (const uint8_t *)env, len);
}

/* ---- bodies kept by the node itself -------------------------------------- */

/* The key a node keeps its own copies under: subkey 3 of its seed. */
static sr_status self_key(const hl_identity *me, uint8_t key[KEY_BYTES])
{
    return crypto_kdf_derive_from_key(key, KEY_BYTES, 3, "hlnode__",
                                      me->seed) == 0
               ? SR_OK
               : SR_ERR_INTERNAL;
}

sr_status hl_self_seal(const hl_identity *me, const uint8_t id[HL_ID_BYTES],
                       const uint8_t *body, size_t len, uint8_t **out,
                       size_t *out_len)
{
    uint8_t key[KEY_BYTES];
    *out = NULL;
    *out_len = 0;
    if (len > HL_BODY_MAX || (body == NULL && len > 0))
        return SR_ERR_INVALID;
    uint8_t *p = malloc(NONCE_BYTES + len + TAG_BYTES);
    if (p == NULL)
        return SR_ERR_NOMEM;
    sr_status st = self_key(me, key);
    unsigned long long clen = 0;
    if (st == SR_OK) {
        randombytes_buf(p, NONCE_BYTES);
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(
                p + NONCE_BYTES, &clen, body, len, id, HL_ID_BYTES, NULL, p,
                key) != 0)
            st = SR_ERR_INTERNAL;
    }
    sodium_memzero(key, sizeof key);
    if (st != SR_OK) {
        free(p);
        return st;
    }
    *out = p;
    *out_len = NONCE_BYTES + (size_t)clen;
    return SR_OK;
}

sr_status hl_self_open(const hl_identity *me, const uint8_t id[HL_ID_BYTES],
                       const uint8_t *sealed, size_t len, uint8_t **body,
                       size_t *body_len)
{
    uint8_t key[KEY_BYTES];
    *body = NULL;
    *body_len = 0;
    if (sealed == NULL || len < NONCE_BYTES + TAG_BYTES ||
        len > NONCE_BYTES + TAG_BYTES + HL_BODY_MAX)
        return SR_ERR_CORRUPT;
    size_t n = len - NONCE_BYTES - TAG_BYTES;
    uint8_t *p = sodium_malloc(n + 1);
    if (p == NULL)
        return SR_ERR_NOMEM;
    sr_status st = self_key(me, key);
    unsigned long long plen = 0;
    if (st == SR_OK &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            p, &plen, NULL, sealed + NONCE_BYTES, len - NONCE_BYTES, id,
            HL_ID_BYTES, sealed, key) != 0)
        st = SR_ERR_CORRUPT;
    sodium_memzero(key, sizeof key);
    if (st != SR_OK) {
        sodium_free(p);
        return st;
    }
    p[plen] = 0;
    *body = p;
    *body_len = (size_t)plen;
    return SR_OK;
}

void hl_identity_sign(const hl_identity *id, const uint8_t *m, size_t len,
                      uint8_t sig[64])
{
    (void)crypto_sign_detached(sig, NULL, m, len, id->sign_sk);
}
