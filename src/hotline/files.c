/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/files.c - a hotline node's key file and peers file (files.h).
 */
#include "hotline/files.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "util/util.h"

#define SEED_B64 44u /* base64 of 32 bytes, padded */

sr_status hl_keyfile_format(const hl_identity *id, char *out, size_t cap,
                            size_t *len)
{
    const char *name = hl_identity_name(id);
    size_t mlen = sizeof HL_KEYFILE_MAGIC - 1, nlen = strlen(name);
    size_t need = mlen + nlen + 1 + SEED_B64 + 1;
    *len = 0;
    if (cap < need + 1)
        return SR_ERR_INVALID;
    memcpy(out, HL_KEYFILE_MAGIC, mlen);
    memcpy(out + mlen, name, nlen);
    out[mlen + nlen] = '\n';
    sodium_bin2base64(out + mlen + nlen + 1, SEED_B64 + 1, hl_identity_seed(id),
                      HL_SEED_BYTES, sodium_base64_VARIANT_ORIGINAL);
    out[need - 1] = '\n';
    out[need] = '\0';
    *len = need;
    return SR_OK;
}

sr_status hl_keyfile_parse(const uint8_t *p, size_t len, hl_identity **out)
{
    size_t mlen = sizeof HL_KEYFILE_MAGIC - 1;
    char name[HL_NAME_MAX + 1];
    uint8_t *seed = NULL;
    size_t got = 0;
    *out = NULL;
    if (p == NULL || len < mlen + 2 + SEED_B64 + 1 || len > HL_KEYFILE_MAX ||
        memcmp(p, HL_KEYFILE_MAGIC, mlen) != 0 || p[len - 1] != '\n')
        return SR_ERR_CORRUPT;
    const uint8_t *nm = p + mlen;
    const uint8_t *nl = memchr(nm, '\n', len - mlen);
    size_t nlen = (size_t)(nl - nm);
    if (nl == NULL || !hl_name_ok((const char *)nm, nlen) ||
        (size_t)(p + len - (nl + 1)) != SEED_B64 + 1)
        return SR_ERR_CORRUPT;
    memcpy(name, nm, nlen);
    name[nlen] = '\0';
    seed = sodium_malloc(HL_SEED_BYTES);
    if (seed == NULL)
        return SR_ERR_NOMEM;
    sr_status st = SR_ERR_CORRUPT;
    if (b64_decode(nl + 1, SEED_B64, seed, HL_SEED_BYTES, &got) &&
        got == HL_SEED_BYTES) {
        st = hl_identity_from_seed(out, name, seed);
        if (st == SR_ERR_INVALID)
            st = SR_ERR_CORRUPT;
    }
    sodium_free(seed);
    return st;
}

static bool printable_url(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

bool hl_url_ok(const char *s, size_t len)
{
    static const char *const loopback[] = {
        "http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:",
        "http://[::1]/",     "http://localhost:", "http://localhost/"};
    if (s == NULL || len == 0 || len > HL_URL_MAX || !printable_url(s, len))
        return false;
    if (len > 8 && memcmp(s, "https://", 8) == 0)
        return s[8] != '/' && s[8] != ':';
    for (size_t i = 0; i < sizeof loopback / sizeof loopback[0]; i++) {
        size_t n = strlen(loopback[i]);
        if (len >= n && memcmp(s, loopback[i], n) == 0)
            return true;
    }
    return false;
}

sr_status hl_peer_line(const hl_peer *p, char *out, size_t cap, size_t *len)
{
    char pub[HL_PUBLIC_MAX];
    *len = 0;
    sr_status st = hl_peer_format(p, pub, sizeof pub);
    if (st != SR_OK || !hl_url_ok(p->url, strlen(p->url)))
        return SR_ERR_INVALID;
    int n = snprintf(out, cap, "%s %s %s\n", p->name, p->url, pub);
    if (n < 0 || (size_t)n >= cap)
        return SR_ERR_INVALID;
    *len = (size_t)n;
    return SR_OK;
}

static sr_status line_fault(char err[HL_ERR_MAX], size_t line, const char *why)
{
    (void)snprintf(err, HL_ERR_MAX, "peers, line %zu: %s", line, why);
    return SR_ERR_CORRUPT;
}

sr_status hl_peers_parse(const uint8_t *p, size_t len, hl_peer *out, size_t *n,
                         char err[HL_ERR_MAX])
{
    sr_reader r;
    const uint8_t *line;
    size_t llen, no = 0;
    *n = 0;
    err[0] = '\0';
    if (len > HL_PEERS_FILE_MAX)
        return line_fault(err, 0, "the file is too long");
    if (len > 0 && p[len - 1] != '\n')
        return line_fault(err, 0, "the last line has no newline");
    reader_init(&r, p, len);
    while (reader_line(&r, &line, &llen)) {
        no++;
        if (*n == HL_PEERS_MAX)
            return line_fault(err, no, "more peers than a node keeps");
        const uint8_t *sp1 = memchr(line, ' ', llen);
        const uint8_t *sp2 =
            sp1 != NULL ? memchr(sp1 + 1, ' ', llen - (size_t)(sp1 + 1 - line))
                        : NULL;
        if (sp2 == NULL)
            return line_fault(err, no, "not: name url key");
        size_t nlen = (size_t)(sp1 - line), ulen = (size_t)(sp2 - sp1 - 1);
        size_t klen = llen - (size_t)(sp2 + 1 - line);
        hl_peer *e = &out[*n];
        if (!hl_name_ok((const char *)line, nlen))
            return line_fault(err, no, "not a node name");
        if (!hl_url_ok((const char *)sp1 + 1, ulen))
            return line_fault(err, no,
                              "not an https URL (or a loopback "
                              "http one)");
        if (hl_peer_parse((const char *)sp2 + 1, klen, e) != SR_OK)
            return line_fault(err, no, "not a node's public line");
        if (strlen(e->name) != nlen || memcmp(e->name, line, nlen) != 0)
            return line_fault(err, no, "the key is another node's");
        for (size_t i = 0; i < *n; i++)
            if (strcmp(out[i].name, e->name) == 0)
                return line_fault(err, no, "the name is there already");
        memcpy(e->url, sp1 + 1, ulen);
        e->url[ulen] = '\0';
        (*n)++;
    }
    return SR_OK;
}
