/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witness_fmt.c - the pure half of witnessing (formats in witness.h): the
 * witness key file, the published witness configuration, and the audit
 * entries that record it. No I/O; every byte of input is read through an
 * sr_reader, and each format has exactly one spelling of each value, so
 * what parses formats back to the same bytes.
 */
#include <string.h>

#include <sodium.h>

#include "audit/entry.h"
#include "audit/witness.h"

#define SEED_BYTES 32u

/* Canonical padded base64 of exactly 32 bytes: 43 digits and one '='. */
static bool seed_decode(const uint8_t *s, size_t n, uint8_t seed[SEED_BYTES])
{
    size_t got = 0;
    return n == WITNESS_SEED_B64 && b64_decode(s, n, seed, SEED_BYTES, &got) &&
           got == SEED_BYTES;
}

sr_status witness_key_parse(const uint8_t *p, size_t len, note_signer *s)
{
    char name[NOTE_NAME_MAX + 1];
    const uint8_t *line;
    size_t n;
    sr_reader r;
    sr_status st = SR_ERR_CORRUPT;
    uint8_t *seed = NULL;

    if (s == NULL)
        return SR_ERR_INVALID;
    memset(s, 0, sizeof *s);
    if (p == NULL || len > WITNESS_KEY_FILE_MAX ||
        len < WITNESS_KEY_MAGIC_LEN ||
        memcmp(p, WITNESS_KEY_MAGIC, WITNESS_KEY_MAGIC_LEN) != 0)
        return SR_ERR_CORRUPT;
    seed = sodium_malloc(SEED_BYTES);
    if (seed == NULL)
        return SR_ERR_NOMEM;
    reader_init(&r, p + WITNESS_KEY_MAGIC_LEN, len - WITNESS_KEY_MAGIC_LEN);
    /* The name: its grammar is note_signer_from_seed's to check; a NUL
     * would cut it short there, so it is refused here. */
    if (!reader_line(&r, &line, &n) || n == 0 || n > NOTE_NAME_MAX ||
        memchr(line, '\0', n) != NULL)
        goto cleanup;
    memcpy(name, line, n);
    name[n] = '\0';
    if (!reader_line(&r, &line, &n) || reader_left(&r) != 0 ||
        !seed_decode(line, n, seed))
        goto cleanup;
    st = note_signer_from_seed(s, name, NOTE_TYPE_COSIG_V1, seed);
    if (st == SR_ERR_INVALID)
        st = SR_ERR_CORRUPT;
cleanup:
    sodium_free(seed);
    if (st != SR_OK)
        note_signer_wipe(s);
    return st;
}

sr_status witness_key_format(const note_signer *s, char *out, size_t cap,
                             size_t *len)
{
    size_t name_len, need;
    if (len != NULL)
        *len = 0;
    if (s == NULL || out == NULL || len == NULL || s->sk == NULL ||
        s->type != NOTE_TYPE_COSIG_V1)
        return SR_ERR_INVALID;
    name_len = strnlen(s->name, sizeof s->name);
    need = WITNESS_KEY_MAGIC_LEN + name_len + 1 + WITNESS_SEED_B64 + 1;
    if (name_len == 0 || name_len > NOTE_NAME_MAX || cap < need + 1) {
        if (cap > 0)
            sodium_memzero(out, cap);
        return SR_ERR_INVALID;
    }
    memcpy(out, WITNESS_KEY_MAGIC, WITNESS_KEY_MAGIC_LEN);
    memcpy(out + WITNESS_KEY_MAGIC_LEN, s->name, name_len);
    out[WITNESS_KEY_MAGIC_LEN + name_len] = '\n';
    /* libsodium keeps the seed as the first half of the secret key. */
    sodium_bin2base64(out + WITNESS_KEY_MAGIC_LEN + name_len + 1,
                      WITNESS_SEED_B64 + 1, s->sk, SEED_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    out[need - 1] = '\n';
    out[need] = '\0';
    *len = need;
    return SR_OK;
}

/* ---- the published configuration ----------------------------------------
 */

/* Canonical decimal (no sign, no leading zero) of at most `max`. */
static bool small_dec(const uint8_t *s, size_t n, unsigned max, unsigned *out)
{
    unsigned v = 0;
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

sr_status witness_cfg_parse(const uint8_t *p, size_t len, note_verifier *keys,
                            size_t cap, size_t *n, unsigned *min)
{
    const uint8_t *line;
    size_t ln, count = 0;
    unsigned k = 0;
    sr_reader r;

    if (n == NULL || min == NULL || (cap > 0 && keys == NULL))
        return SR_ERR_INVALID;
    *n = 0;
    *min = 0;
    if (p == NULL || len > WITNESS_CFG_MAX)
        return SR_ERR_CORRUPT;
    reader_init(&r, p, len);
    if (!reader_line(&r, &line, &ln) || ln < 4 ||
        memcmp(line, "min ", 4) != 0 ||
        !small_dec(line + 4, ln - 4, SR_LOG_WITNESS_MAX, &k))
        return SR_ERR_CORRUPT;
    while (reader_left(&r) > 0) {
        if (count == cap || count == SR_LOG_WITNESS_MAX ||
            !reader_line(&r, &line, &ln) || ln == 0 ||
            note_vkey_parse((const char *)line, ln, &keys[count]) != SR_OK ||
            keys[count].type != NOTE_TYPE_COSIG_V1)
            return SR_ERR_CORRUPT;
        for (size_t i = 0; i < count; i++)
            if (strcmp(keys[i].name, keys[count].name) == 0 &&
                memcmp(keys[i].keyhash, keys[count].keyhash, 4) == 0)
                return SR_ERR_CORRUPT;
        count++;
    }
    if (k > count)
        return SR_ERR_CORRUPT;
    *n = count;
    *min = k;
    return SR_OK;
}

bool witness_cfg_entry(const char *action, unsigned outcome, const char *detail,
                       uint8_t hash[32])
{
    static const size_t tag = sizeof WITNESS_CFG_TAG - 1;
    if (action == NULL || detail == NULL || outcome != ENTRY_ALLOWED ||
        (strcmp(action, "witness.add") != 0 &&
         strcmp(action, "witness.remove") != 0 &&
         strcmp(action, "witness.require") != 0))
        return false;
    size_t n = strlen(detail);
    if (n < tag + 64)
        return false;
    const char *hex = detail + n - 64;
    if (memcmp(hex - tag, WITNESS_CFG_TAG, tag) != 0)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') ||
              (hex[i] >= 'a' && hex[i] <= 'f')))
            return false;
    return hex_decode(hash, 32, hex, 64);
}
