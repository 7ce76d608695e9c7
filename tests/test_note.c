/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_note.c - signed notes, verifier keys, checkpoints and witness
 * cosignatures (src/audit/note). Each test name states the behaviour it
 * pins.
 *
 * Vectors live in tests/data/note_vectors.txt, each with its source: the
 * example of c2sp.org/signed-note, the keys and notes of
 * golang.org/x/mod/sumdb/note, vkeys of transparency-dev/formats, and a
 * real checkpoint of the arche2025h1.staging.ct.transparency.dev log
 * carrying a cosignature/v1 of the public witness remora.n621.de. The rest
 * are round trips and the rejections the specs call for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/note.h"
#include "strongroom/strongroom.h"
#include "util/util.h"

/* ---- helpers ---------------------------------------------------------- */

#define VEC_MAX 8192

/* Read vector `name` from tests/data/note_vectors.txt into out (NUL-
 * terminated, "\n" escapes turned into newlines); returns its length. */
static size_t vec(const char *name, char *out, size_t cap)
{
    const char *dir = getenv("SR_SOURCE_DIR");
    char path[1024];
    static char line[VEC_MAX];
    int w = snprintf(path, sizeof path, "%s/tests/data/note_vectors.txt",
                     dir ? dir : ".");
    assert_true(w > 0 && (size_t)w < sizeof path);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set SR_SOURCE_DIR)", path);
    size_t nl = strlen(name), n = 0;
    bool found = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, nl) != 0 || strncmp(line + nl, " = ", 3) != 0)
            continue;
        const char *v = line + nl + 3;
        size_t len = strcspn(v, "\n");
        for (size_t i = 0; i < len; i++) {
            char c = v[i];
            if (c == '\\' && i + 1 < len && v[i + 1] == 'n') {
                c = '\n';
                i++;
            }
            assert_true(n + 1 < cap);
            out[n++] = c;
        }
        found = true;
        break;
    }
    fclose(f);
    if (!found)
        fail_msg("note_vectors.txt: no vector named %s", name);
    out[n] = '\0';
    return n;
}

static uint64_t vec_u64(const char *name)
{
    char s[32];
    size_t n = vec(name, s, sizeof s);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(s[i] >= '0' && s[i] <= '9');
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

static note_verifier vkey_of(const char *vector)
{
    char t[VEC_MAX];
    note_verifier v;
    size_t n = vec(vector, t, sizeof t);
    assert_int_equal(note_vkey_parse(t, n, &v), SR_OK);
    return v;
}

static void seed_of(uint8_t seed[32], uint8_t tag)
{
    for (unsigned i = 0; i < 32; i++)
        seed[i] = (uint8_t)(tag * 31u + i);
}

static note_signer signer_of(const char *name, uint8_t type, uint8_t tag)
{
    uint8_t seed[32];
    note_signer s;
    seed_of(seed, tag);
    assert_int_equal(note_signer_from_seed(&s, name, type, seed), SR_OK);
    return s;
}

/* Open msg (a C string) against vs; returns the status. */
static sr_status open_str(const char *msg, const note_verifier *vs, size_t nv,
                          size_t *body_len, int *verified, uint64_t *times)
{
    return note_open(msg, strlen(msg), vs, nv, body_len, verified, times);
}

/* Concatenate up to three strings into out. */
static const char *cat3(char *out, size_t cap, const char *a, const char *b,
                        const char *c)
{
    int w = snprintf(out, cap, "%s%s%s", a, b, c);
    assert_true(w >= 0 && (size_t)w < cap);
    return out;
}

/* The Go example note: peter_text, a blank line, the given sig lines. */
static const char *go_note(char *out, size_t cap, const char *sigs)
{
    char text[VEC_MAX];
    vec("peter_text", text, sizeof text);
    return cat3(out, cap, text, "\n", sigs);
}

/* ---- published vectors ------------------------------------------------ */

static void spec_example_vkey_verifies_spec_example_note(void **state)
{
    (void)state;
    char note[VEC_MAX];
    size_t body_len = 99;
    int ok = 0;
    uint64_t t = 99;
    note_verifier v = vkey_of("spec_vkey");
    assert_string_equal(v.name, "example.com/foo");
    assert_int_equal(v.type, NOTE_TYPE_ED25519);
    assert_memory_equal(v.keyhash, "\x53\x0d\x90\x3a", 4);
    uint8_t pk[32];
    assert_true(hex_decode(pk, 32,
                           "e932791ae6e7a840a46164c904786426"
                           "d5e7821dd8b29a00d61cae72afdd4da4",
                           64));
    assert_memory_equal(v.pk, pk, 32);

    size_t n = vec("spec_note", note, sizeof note);
    assert_int_equal(note_open(note, n, &v, 1, &body_len, &ok, &t), SR_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(t, 0); /* not a cosignature key */
    assert_int_equal(body_len, strlen("This is an example message.\n"));
    assert_memory_equal(note, "This is an example message.\n", body_len);
}

static void go_seed_signs_the_published_note_byte_for_byte(void **state)
{
    (void)state;
    char skey[VEC_MAX], vkey[VEC_MAX], text[VEC_MAX], sig[VEC_MAX];
    char want[VEC_MAX], got_vkey[NOTE_VKEY_MAX];
    uint8_t key[33];
    size_t key_len = 0;
    const char prefix[] = "PRIVATE+KEY+PeterNeumann+c74f20a3+";

    vec("peter_skey", skey, sizeof skey);
    vec("peter_vkey", vkey, sizeof vkey);
    size_t tn = vec("peter_text", text, sizeof text);
    vec("peter_sig", sig, sizeof sig);
    assert_int_equal(strncmp(skey, prefix, sizeof prefix - 1), 0);
    const char *b64 = skey + sizeof prefix - 1;
    assert_int_equal(sodium_base642bin(key, sizeof key, b64, strlen(b64), NULL,
                                       &key_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(key_len, 33);
    assert_int_equal(key[0], NOTE_TYPE_ED25519);

    note_signer s;
    assert_int_equal(
        note_signer_from_seed(&s, "PeterNeumann", NOTE_TYPE_ED25519, key + 1),
        SR_OK);
    assert_memory_equal(s.keyhash, "\xc7\x4f\x20\xa3", 4);
    note_verifier v;
    note_verifier_from_signer(&v, &s);
    assert_int_equal(note_vkey_format(&v, got_vkey, sizeof got_vkey), SR_OK);
    assert_string_equal(got_vkey, vkey);

    sr_buf out;
    buf_init(&out, NOTE_MAX_BYTES);
    assert_int_equal(note_sign(text, tn, &s, &out), SR_OK);
    cat3(want, sizeof want, text, "\n", sig);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.p, want, out.len);
    buf_free(&out);
    note_signer_wipe(&s);
    sodium_memzero(key, sizeof key);
}

static void go_note_verifies_known_keys_and_ignores_unknown_ones(void **state)
{
    (void)state;
    char p[VEC_MAX], e[VEC_MAX], sigs[VEC_MAX], note[VEC_MAX];
    note_verifier both[2] = {vkey_of("peter_vkey"), vkey_of("enoch_vkey")};
    size_t body_len = 0;
    int ok[2];

    vec("peter_sig", p, sizeof p);
    vec("enoch_sig", e, sizeof e);
    go_note(note, sizeof note, cat3(sigs, sizeof sigs, p, e, ""));

    assert_int_equal(open_str(note, both, 1, &body_len, ok, NULL), SR_OK);
    assert_int_equal(ok[0], 1);
    assert_int_equal(open_str(note, both, 2, &body_len, ok, NULL), SR_OK);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 1);
    assert_int_equal(open_str(note, both + 1, 1, &body_len, ok, NULL), SR_OK);
    assert_int_equal(ok[0], 1); /* Enoch alone */
    /* No known key: well-formed, nothing verified; the caller refuses. */
    assert_int_equal(open_str(note, NULL, 0, &body_len, NULL, NULL), SR_OK);
    assert_int_equal(body_len, vec("peter_text", sigs, sizeof sigs));
}

static void go_vkey_manglings_are_all_rejected(void **state)
{
    (void)state;
    char k[VEC_MAX], bad[VEC_MAX];
    note_verifier v;
    size_t n = vec("peter_vkey", k, sizeof k);
    assert_int_equal(note_vkey_parse(k, n, &v), SR_OK);
    /* golang.org/x/mod TestNewVerifier: every proper substring, and every
     * single byte incremented. */
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i + 1; j <= n; j++) {
            if (i == 0 && j == n)
                continue;
            assert_int_not_equal(note_vkey_parse(k + i, j - i, &v), SR_OK);
        }
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, k, n);
        bad[i]++;
        assert_int_equal(note_vkey_parse(bad, n, &v), SR_ERR_INVALID);
    }
    n = vec("peter_vkey_bad_len", bad, sizeof bad);
    assert_int_equal(note_vkey_parse(bad, n, &v), SR_ERR_INVALID);
    n = vec("peter_vkey_bad_alg", bad, sizeof bad);
    assert_int_equal(note_vkey_parse(bad, n, &v), SR_ERR_INVALID);
    /* A rejected parse leaves nothing behind. */
    assert_int_equal(v.name[0], '\0');
    assert_int_equal(v.type, 0);
}

static void vkey_with_plus_in_base64_and_cosigner_vkey_parse(void **state)
{
    (void)state;
    const char *names[] = {"plus_vkey", "remora_vkey", "arche_vkey",
                           "enoch_vkey"};
    const uint8_t types[] = {NOTE_TYPE_ED25519, NOTE_TYPE_COSIG_V1,
                             NOTE_TYPE_ED25519, NOTE_TYPE_ED25519};
    for (size_t i = 0; i < 4; i++) {
        char k[VEC_MAX], again[NOTE_VKEY_MAX];
        note_verifier v;
        size_t n = vec(names[i], k, sizeof k);
        assert_int_equal(note_vkey_parse(k, n, &v), SR_OK);
        assert_int_equal(v.type, types[i]);
        /* Format gives back exactly the published text. */
        assert_int_equal(note_vkey_format(&v, again, sizeof again), SR_OK);
        assert_string_equal(again, k);
    }
    note_verifier v = vkey_of("remora_vkey");
    assert_string_equal(v.name, "remora.n621.de");
    assert_memory_equal(v.keyhash, "\xda\x77\xad\xe7", 4);
}

/* The real arche2025h1 checkpoint: the log's signature and remora's
 * cosignature both verify; the RFC 6962 and the other witnesses' lines are
 * unknown keys and ignored. */
static void real_checkpoint_log_signature_and_cosignature_verify(void **state)
{
    (void)state;
    char note[VEC_MAX], origin[VEC_MAX], hex[VEC_MAX];
    note_verifier vs[2] = {vkey_of("arche_vkey"), vkey_of("remora_vkey")};
    size_t body_len = 0;
    int ok[2];
    uint64_t t[2];
    size_t n = vec("arche_note", note, sizeof note);

    assert_int_equal(note_open(note, n, vs, 2, &body_len, ok, t), SR_OK);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 1);
    assert_int_equal(t[0], 0);
    assert_int_equal(t[1], vec_u64("arche_remora_time"));

    note_checkpoint cp;
    assert_int_equal(note_checkpoint_parse(note, body_len, &cp), SR_OK);
    vec("arche_origin", origin, sizeof origin);
    assert_string_equal(cp.origin, origin);
    assert_int_equal(cp.size, vec_u64("arche_size"));
    uint8_t root[32];
    vec("arche_root_hex", hex, sizeof hex);
    assert_true(hex_decode(root, 32, hex, 64));
    assert_memory_equal(cp.root, root, 32);
    assert_int_equal(cp.ext_len, 0);

    /* Re-formatting gives the same body. */
    sr_buf b;
    buf_init(&b, NOTE_MAX_BYTES);
    assert_int_equal(note_checkpoint_format(cp.origin, cp.size, cp.root, &b),
                     SR_OK);
    assert_int_equal(b.len, body_len);
    assert_memory_equal(b.p, note, body_len);
    buf_free(&b);

    /* The witness alone. */
    assert_int_equal(note_open(note, n, vs + 1, 1, &body_len, ok, t), SR_OK);
    assert_int_equal(ok[0], 1);
    assert_int_equal(t[0], vec_u64("arche_remora_time"));
}

static void real_checkpoint_with_edited_size_is_corrupt(void **state)
{
    (void)state;
    char note[VEC_MAX];
    note_verifier vs[2] = {vkey_of("arche_vkey"), vkey_of("remora_vkey")};
    size_t body_len = 0;
    int ok[2];
    uint64_t t[2];
    size_t n = vec("arche_note", note, sizeof note);
    char *size = strstr(note, "\n1432088532\n");
    assert_non_null(size);
    size[10] = '3'; /* 1432088533 */

    assert_int_equal(note_open(note, n, vs, 1, &body_len, ok, t),
                     SR_ERR_CORRUPT);
    assert_int_equal(note_open(note, n, vs + 1, 1, &body_len, ok, t),
                     SR_ERR_CORRUPT);
    assert_int_equal(ok[0], 0);
    assert_int_equal(t[0], 0);
    assert_int_equal(body_len, 0);
    /* Nobody we know signed it: still well-formed. */
    assert_int_equal(note_open(note, n, NULL, 0, &body_len, NULL, NULL), SR_OK);
}

static void ecdsa_signed_rekor_checkpoint_is_unknown_and_parses(void **state)
{
    (void)state;
    char note[VEC_MAX];
    note_verifier v = vkey_of("peter_vkey");
    size_t body_len = 0;
    int ok = 1;
    size_t n = vec("rekor_note", note, sizeof note);
    assert_int_equal(note_open(note, n, &v, 1, &body_len, &ok, NULL), SR_OK);
    assert_int_equal(ok, 0);
    note_checkpoint cp;
    assert_int_equal(note_checkpoint_parse(note, body_len, &cp), SR_OK);
    assert_string_equal(cp.origin, "Rekor");
    assert_int_equal(cp.size, vec_u64("rekor_size"));
}

static void text_ends_at_the_last_empty_line(void **state)
{
    (void)state;
    char note[VEC_MAX], text[VEC_MAX];
    size_t body_len = 0;
    size_t n = vec("spec_quasimodo", note, sizeof note);
    size_t tn = vec("spec_quasimodo_text", text, sizeof text);
    assert_int_equal(note_open(note, n, NULL, 0, &body_len, NULL, NULL), SR_OK);
    assert_int_equal(body_len, tn);
    assert_memory_equal(note, text, tn);
}

/* ---- round trips ------------------------------------------------------- */

static void sign_then_open_verifies_and_returns_the_body(void **state)
{
    (void)state;
    const char body[] = "first line\n\nthird line, after an empty one: é\n";
    note_signer s = signer_of("example.org/log", NOTE_TYPE_ED25519, 1);
    note_verifier v;
    note_verifier_from_signer(&v, &s);
    sr_buf out;
    buf_init(&out, NOTE_MAX_BYTES);
    assert_int_equal(out.len, 0);
    assert_int_equal(note_sign(body, sizeof body - 1, &s, &out), SR_OK);
    size_t body_len = 0;
    int ok = 0;
    assert_int_equal(
        note_open((const char *)out.p, out.len, &v, 1, &body_len, &ok, NULL),
        SR_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(body_len, sizeof body - 1);
    assert_memory_equal(out.p, body, body_len);
    buf_free(&out);
    note_signer_wipe(&s);
}

static void vkey_format_then_parse_round_trips_both_types(void **state)
{
    (void)state;
    const uint8_t types[] = {NOTE_TYPE_ED25519, NOTE_TYPE_COSIG_V1};
    for (size_t i = 0; i < 2; i++) {
        note_signer s = signer_of("witness.example/w1", types[i], 2);
        note_verifier v, back;
        char text[NOTE_VKEY_MAX + 1];
        note_verifier_from_signer(&v, &s);
        assert_int_equal(note_vkey_format(&v, text, sizeof text), SR_OK);
        assert_int_equal(note_vkey_parse(text, strlen(text), &back), SR_OK);
        assert_memory_equal(&back, &v, sizeof v);
        /* One trailing newline is accepted, as a vkey file would end. */
        size_t n = strlen(text);
        text[n] = '\n';
        assert_int_equal(note_vkey_parse(text, n + 1, &back), SR_OK);
        assert_memory_equal(&back, &v, sizeof v);
        note_signer_wipe(&s);
    }
    /* The same key under the two types has two key IDs. */
    note_signer a = signer_of("w", NOTE_TYPE_ED25519, 3);
    note_signer b = signer_of("w", NOTE_TYPE_COSIG_V1, 3);
    assert_memory_equal(a.pk, b.pk, 32);
    assert_memory_not_equal(a.keyhash, b.keyhash, 4);
    note_signer_wipe(&a);
    note_signer_wipe(&b);
}

static void checkpoint_format_then_parse_round_trips(void **state)
{
    (void)state;
    const uint64_t sizes[] = {0, 1, 10, 20852163, UINT64_MAX};
    uint8_t root[32];
    for (unsigned i = 0; i < 32; i++)
        root[i] = (uint8_t)(0xF0 ^ i);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        sr_buf b;
        note_checkpoint cp;
        buf_init(&b, NOTE_MAX_BYTES);
        assert_int_equal(
            note_checkpoint_format("example.com/log42", sizes[i], root, &b),
            SR_OK);
        assert_int_equal(note_checkpoint_parse((const char *)b.p, b.len, &cp),
                         SR_OK);
        assert_string_equal(cp.origin, "example.com/log42");
        assert_int_equal(cp.size, sizes[i]);
        assert_memory_equal(cp.root, root, 32);
        assert_int_equal(cp.ext_len, 0);
        buf_free(&b);
    }
    /* The spec's example body, and the decimal of 2^64 - 1. */
    sr_buf b;
    buf_init(&b, NOTE_MAX_BYTES);
    uint8_t r2[32];
    size_t r2_len = 0;
    assert_int_equal(
        sodium_base642bin(r2, sizeof r2,
                          "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", 44,
                          NULL, &r2_len, NULL, sodium_base64_VARIANT_ORIGINAL),
        0);
    assert_int_equal(
        note_checkpoint_format("example.com/behind-the-sofa", 20852163, r2, &b),
        SR_OK);
    const char want[] = "example.com/behind-the-sofa\n20852163\n"
                        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.p, want, b.len);
    buf_reset(&b);
    assert_int_equal(note_checkpoint_format("o", UINT64_MAX, r2, &b), SR_OK);
    assert_memory_equal(b.p, "o\n18446744073709551615\n", 23);
    buf_free(&b);
}

static void checkpoint_extension_lines_are_counted_not_interpreted(void **state)
{
    (void)state;
    const char body[] = "example.com/log\n5\n"
                        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
                        "ext one\n— ext two\n";
    note_checkpoint cp;
    assert_int_equal(note_checkpoint_parse(body, sizeof body - 1, &cp), SR_OK);
    assert_int_equal(cp.ext_len, strlen("ext one\n— ext two\n"));
    assert_int_equal(cp.size, 5);
}

/* A witness cosigns the log's signed checkpoint; the line is appended and
 * note_open returns the witness's timestamp. */
static void cosign_then_open_verifies_and_returns_the_time(void **state)
{
    (void)state;
    uint8_t root[32];
    memset(root, 0xAB, sizeof root);
    note_signer log = signer_of("example.com/log", NOTE_TYPE_ED25519, 4);
    note_signer wit = signer_of("witness.example/w1", NOTE_TYPE_COSIG_V1, 5);
    note_verifier vs[2];
    note_verifier_from_signer(&vs[0], &log);
    note_verifier_from_signer(&vs[1], &wit);
    sr_buf body, note;
    buf_init(&body, NOTE_MAX_BYTES);
    buf_init(&note, NOTE_MAX_BYTES);
    assert_int_equal(note_checkpoint_format("example.com/log", 7, root, &body),
                     SR_OK);
    assert_int_equal(note_sign((const char *)body.p, body.len, &log, &note),
                     SR_OK);
    const uint64_t when = 1679315147;
    assert_int_equal(
        note_cosign((const char *)body.p, body.len, when, &wit, &note), SR_OK);

    size_t body_len = 0;
    int ok[2];
    uint64_t t[2];
    assert_int_equal(
        note_open((const char *)note.p, note.len, vs, 2, &body_len, ok, t),
        SR_OK);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 1);
    assert_int_equal(t[0], 0);
    assert_int_equal(t[1], when);
    assert_int_equal(body_len, body.len);

    /* A second, later cosignature by the same witness: the latest time. */
    assert_int_equal(
        note_cosign((const char *)body.p, body.len, when + 60, &wit, &note),
        SR_OK);
    assert_int_equal(
        note_open((const char *)note.p, note.len, vs, 2, &body_len, ok, t),
        SR_OK);
    assert_int_equal(t[1], when + 60);

    /* The cosignature is not a plain signature: a type 0x01 verifier of the
     * witness key has another key ID and sees only unknown lines. */
    note_signer plain = signer_of("witness.example/w1", NOTE_TYPE_ED25519, 5);
    note_verifier pv;
    note_verifier_from_signer(&pv, &plain);
    assert_int_equal(
        note_open((const char *)note.p, note.len, &pv, 1, &body_len, ok, t),
        SR_OK);
    assert_int_equal(ok[0], 0);
    note_signer_wipe(&plain);
    buf_free(&body);
    buf_free(&note);
    note_signer_wipe(&log);
    note_signer_wipe(&wit);
}

/* tlog-cosignature: payload = key ID || u64be(timestamp) || Ed25519 over
 * "cosignature/v1\ntime <t>\n" || whole body (extension lines included).
 * Checked here by hand against the spec's example message. */
static void cosignature_line_has_the_spec_layout(void **state)
{
    (void)state;
    const char body[] = "example.com/behind-the-sofa\n20852163\n"
                        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
                        "an extension line\n";
    const char msg[] = "cosignature/v1\ntime 1679315147\n"
                       "example.com/behind-the-sofa\n20852163\n"
                       "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
                       "an extension line\n";
    note_signer wit =
        signer_of("witness.example.com/w1", NOTE_TYPE_COSIG_V1, 6);
    sr_buf line;
    buf_init(&line, 4096);
    assert_int_equal(
        note_cosign(body, sizeof body - 1, 1679315147, &wit, &line), SR_OK);
    const char head[] = "— witness.example.com/w1 ";
    assert_true(line.len > sizeof head);
    assert_memory_equal(line.p, head, sizeof head - 1);
    assert_int_equal(line.p[line.len - 1], '\n');
    uint8_t payload[128];
    size_t plen = 0;
    const char *b64 = (const char *)line.p + sizeof head - 1;
    assert_int_equal(sodium_base642bin(payload, sizeof payload, b64,
                                       line.len - (sizeof head - 1) - 1, NULL,
                                       &plen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(plen, 4 + 8 + 64);
    /* Key ID = SHA-256(name || 0x0A || 0x04 || pk)[:4]. */
    uint8_t h[32];
    crypto_hash_sha256_state st;
    const uint8_t sep[2] = {0x0A, 0x04};
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)"witness.example.com/w1",
                              22);
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, wit.pk, 32);
    crypto_hash_sha256_final(&st, h);
    assert_memory_equal(payload, h, 4);
    /* 1679315147 = 0x641850CB, big-endian in 8 bytes. */
    assert_memory_equal(payload + 4, "\x00\x00\x00\x00\x64\x18\x50\xcb", 8);
    assert_int_equal(crypto_sign_verify_detached(payload + 12,
                                                 (const uint8_t *)msg,
                                                 sizeof msg - 1, wit.pk),
                     0);
    buf_free(&line);
    note_signer_wipe(&wit);
}

static void cosigned_extension_lines_are_covered(void **state)
{
    (void)state;
    const char body[] = "example.com/log\n3\n"
                        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
                        "Extendo\n";
    note_signer wit = signer_of("w.example", NOTE_TYPE_COSIG_V1, 7);
    note_verifier v;
    note_verifier_from_signer(&v, &wit);
    sr_buf note;
    buf_init(&note, 4096);
    assert_int_equal(buf_append(&note, body, sizeof body - 1), SR_OK);
    assert_int_equal(buf_append_byte(&note, '\n'), SR_OK);
    assert_int_equal(note_cosign(body, sizeof body - 1, 1, &wit, &note), SR_OK);
    size_t body_len;
    int ok;
    uint64_t t;
    assert_int_equal(
        note_open((const char *)note.p, note.len, &v, 1, &body_len, &ok, &t),
        SR_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(t, 1);
    note.p[sizeof body - 3] = '@'; /* "Extend@" */
    assert_int_equal(
        note_open((const char *)note.p, note.len, &v, 1, &body_len, &ok, &t),
        SR_ERR_CORRUPT);
    buf_free(&note);
    note_signer_wipe(&wit);
}

/* ---- rejections: signed notes ------------------------------------------ */

static void edited_body_byte_is_corrupt(void **state)
{
    (void)state;
    char p[VEC_MAX], note[VEC_MAX];
    note_verifier v = vkey_of("peter_vkey");
    size_t body_len = 0;
    int ok = 0;
    vec("peter_sig", p, sizeof p);
    go_note(note, sizeof note, p);
    assert_int_equal(open_str(note, &v, 1, &body_len, &ok, NULL), SR_OK);
    size_t text_len = body_len;
    for (size_t i = 0; i < text_len; i++) {
        note[i] ^= 0x01;
        assert_int_equal(open_str(note, &v, 1, &body_len, &ok, NULL),
                         SR_ERR_CORRUPT);
        assert_int_equal(ok, 0);
        note[i] ^= 0x01;
    }
}

/* signed-note: a line that shares only the name, or only the key ID, with
 * a known key is an unknown key: ignored, not verified, not an error. */
static void same_name_other_key_or_other_name_is_unknown(void **state)
{
    (void)state;
    char text[VEC_MAX], p[VEC_MAX], note[VEC_MAX];
    note_verifier v = vkey_of("peter_vkey");
    size_t tn = vec("peter_text", text, sizeof text);
    size_t body_len = 0;
    int ok = 1;

    note_signer imp = signer_of("PeterNeumann", NOTE_TYPE_ED25519, 8);
    assert_memory_not_equal(imp.keyhash, v.keyhash, 4);
    sr_buf out;
    buf_init(&out, NOTE_MAX_BYTES);
    assert_int_equal(note_sign(text, tn, &imp, &out), SR_OK);
    assert_int_equal(
        note_open((const char *)out.p, out.len, &v, 1, &body_len, &ok, NULL),
        SR_OK);
    assert_int_equal(ok, 0);
    buf_free(&out);
    note_signer_wipe(&imp);

    /* Peter's own line under another name: same key ID, unknown. */
    vec("peter_sig", p, sizeof p);
    char renamed[VEC_MAX];
    const char *rest = strchr(p + 4, ' ');
    assert_non_null(rest);
    cat3(renamed, sizeof renamed, "— CarmenSandiego", rest, "");
    go_note(note, sizeof note, renamed);
    ok = 1;
    assert_int_equal(open_str(note, &v, 1, &body_len, &ok, NULL), SR_OK);
    assert_int_equal(ok, 0);
}

static void known_key_with_bad_signature_is_corrupt(void **state)
{
    (void)state;
    char p[VEC_MAX], bad[VEC_MAX], note[VEC_MAX];
    note_verifier v = vkey_of("peter_vkey");
    size_t body_len = 0;
    int ok = 0;
    size_t n = vec("peter_sig", p, sizeof p);
    /* golang.org/x/mod TestOpen: "ABCD" spliced into the base64. */
    memcpy(bad, p, 60);
    memcpy(bad + 60, "ABCD", 4);
    memcpy(bad + 64, p + 60, n - 60 + 1);
    go_note(note, sizeof note, bad);
    assert_int_equal(open_str(note, &v, 1, &body_len, &ok, NULL),
                     SR_ERR_CORRUPT);
    assert_int_equal(body_len, 0);
    assert_int_equal(ok, 0);
    /* Without the key, it is just an unknown signature. */
    assert_int_equal(open_str(note, NULL, 0, &body_len, NULL, NULL), SR_OK);

    /* A valid signature followed by a bad one by the same key. */
    char two[VEC_MAX];
    go_note(note, sizeof note, cat3(two, sizeof two, p, bad, ""));
    assert_int_equal(open_str(note, &v, 1, &body_len, &ok, NULL),
                     SR_ERR_CORRUPT);
    assert_int_equal(ok, 0);

    /* The right key ID with a truncated signature. */
    note_signer s = signer_of("short.example", NOTE_TYPE_ED25519, 9);
    note_verifier sv;
    note_verifier_from_signer(&sv, &s);
    uint8_t payload[5];
    char b64[16];
    memcpy(payload, s.keyhash, 4);
    payload[4] = 0;
    sodium_bin2base64(b64, sizeof b64, payload, 5,
                      sodium_base64_VARIANT_ORIGINAL);
    char line[64];
    cat3(line, sizeof line, "— short.example ", b64, "\n");
    cat3(note, sizeof note, "x\n", "\n", line);
    assert_int_equal(open_str(note, &sv, 1, &body_len, &ok, NULL),
                     SR_ERR_CORRUPT);
    assert_int_equal(open_str(note, NULL, 0, &body_len, NULL, NULL), SR_OK);
    note_signer_wipe(&s);
}

static void cosignature_with_time_over_2_63_is_corrupt(void **state)
{
    (void)state;
    /* Build the payload by hand: a valid signature over a message with a
     * timestamp of 2^63, which the spec forbids. */
    const char body[] = "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const char msg[] = "cosignature/v1\ntime 9223372036854775808\n"
                       "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    note_signer w = signer_of("w", NOTE_TYPE_COSIG_V1, 10);
    note_verifier v;
    note_verifier_from_signer(&v, &w);
    uint8_t payload[76];
    memcpy(payload, w.keyhash, 4);
    memcpy(payload + 4, "\x80\0\0\0\0\0\0\0", 8);
    assert_int_equal(crypto_sign_detached(payload + 12, NULL,
                                          (const uint8_t *)msg, sizeof msg - 1,
                                          w.sk),
                     0);
    char b64[128], note[512];
    sodium_bin2base64(b64, sizeof b64, payload, sizeof payload,
                      sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(note, sizeof note, "%s\n— w %s\n", body, b64);
    assert_true(n > 0 && (size_t)n < sizeof note);
    size_t body_len;
    int ok;
    uint64_t t;
    assert_int_equal(open_str(note, &v, 1, &body_len, &ok, &t), SR_ERR_CORRUPT);
    /* And note_cosign refuses to make one. */
    sr_buf out;
    buf_init(&out, 4096);
    assert_int_equal(note_cosign(body, sizeof body - 1,
                                 (uint64_t)NOTE_COSIG_TIME_MAX + 1, &w, &out),
                     SR_ERR_INVALID);
    assert_int_equal(out.len, 0);
    assert_int_equal(note_cosign(body, sizeof body - 1,
                                 (uint64_t)NOTE_COSIG_TIME_MAX, &w, &out),
                     SR_OK);
    assert_int_equal(open_str(note, NULL, 0, &body_len, NULL, NULL), SR_OK);
    buf_free(&out);
    note_signer_wipe(&w);
}

/* Concatenate four strings into out. */
static const char *cat4(char *out, size_t cap, const char *a, const char *b,
                        const char *c, const char *d)
{
    int w = snprintf(out, cap, "%s%s%s%s", a, b, c, d);
    assert_true(w >= 0 && (size_t)w < cap);
    return out;
}

static void malformed_notes_are_corrupt(void **state)
{
    (void)state;
    char t[VEC_MAX], p[VEC_MAX];
    note_verifier v = vkey_of("peter_vkey");
    size_t body_len = 0;
    int ok = 0;
    vec("peter_text", t, sizeof t);
    size_t pn = vec("peter_sig", p, sizeof p);
    const char *b64 = p + 17; /* after "— PeterNeumann " */
    char p_nonl[VEC_MAX], p_nopad[VEC_MAX], p_noncanon[VEC_MAX];
    memcpy(p_nonl, p, pn - 1);
    p_nonl[pn - 1] = '\0';
    memcpy(p_nopad, p, pn - 2); /* drop the "=" */
    memcpy(p_nopad + pn - 2, "\n", 2);
    memcpy(p_noncanon, p, pn + 1);
    assert_int_equal(p_noncanon[pn - 3], 'M');
    p_noncanon[pn - 3] = 'N'; /* same bytes, non-zero trailing bits */

    static char m[16][VEC_MAX];
    size_t k = 0;
    /* golang.org/x/mod TestOpen's bad messages first. */
    cat4(m[k++], VEC_MAX, t, "", "", "");               /* no signatures */
    cat4(m[k++], VEC_MAX, t, "\n", "", "");             /* blank, nothing */
    cat4(m[k++], VEC_MAX, t, "\n", p_nonl, "");         /* no final newline */
    cat4(m[k++], VEC_MAX, "\x01", t, "\n", p);          /* control character */
    cat4(m[k++], VEC_MAX, t, "\n— Bad Name ", b64, ""); /* space in name */
    cat4(m[k++], VEC_MAX, t, "\n", p, "Unexpected line.\n");
    /* No blank line between the text and the signatures. */
    cat4(m[k++], VEC_MAX, t, p, "", "");
    /* A hyphen-minus where the em dash goes. */
    cat4(m[k++], VEC_MAX, t, "\n- PeterNeumann ", b64, "");
    /* An empty line after the signatures: nothing follows the last one. */
    cat4(m[k++], VEC_MAX, t, "\n", p, "\n");
    /* Name with '+'; empty base64; two spaces. */
    cat4(m[k++], VEC_MAX, t, "\n— Peter+Neumann ", b64, "");
    cat4(m[k++], VEC_MAX, t, "\n— PeterNeumann \n", "", "");
    cat4(m[k++], VEC_MAX, t, "\n— PeterNeumann  ", b64, "");
    /* Missing padding; a non-canonical last character. */
    cat4(m[k++], VEC_MAX, t, "\n", p_nopad, "");
    cat4(m[k++], VEC_MAX, t, "\n", p_noncanon, "");

    for (size_t i = 0; i < k; i++) {
        ok = 1;
        body_len = 1;
        assert_int_equal(open_str(m[i], &v, 1, &body_len, &ok, NULL),
                         SR_ERR_CORRUPT);
        assert_int_equal(ok, 0);
        assert_int_equal(body_len, 0);
        /* Syntax, not trust: the same without any known key. */
        assert_int_equal(open_str(m[i], NULL, 0, &body_len, NULL, NULL),
                         SR_ERR_CORRUPT);
    }
    assert_int_equal(note_open(NULL, 0, NULL, 0, &body_len, NULL, NULL),
                     SR_ERR_CORRUPT);
}

static void control_characters_and_bad_utf8_are_corrupt(void **state)
{
    (void)state;
    char p[VEC_MAX], note[VEC_MAX];
    vec("peter_sig", p, sizeof p);
#define T(x)                                                                   \
    {                                                                          \
        x, sizeof x - 1                                                        \
    }
    static const struct {
        const char *s;
        size_t n;
    } texts[] = {
        T("tab\there\n"),
        T("carriage\rreturn\n"),
        T("nul\x00hidden\n"),
        T("esc\x1b[0m\n"),
        T("bad \xff byte\n"),
        T("overlong \xc0\xaf\n"),
        T("surrogate \xed\xa0\x80\n"),
        T("too high \xf4\x90\x80\x80\n"),
        T("truncated \xe2\x80\n"),
    };
#undef T
    size_t body_len = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = texts[i].n;
        memcpy(note, texts[i].s, n);
        note[n] = '\n';
        size_t pn = strlen(p);
        memcpy(note + n + 1, p, pn);
        assert_int_equal(
            note_open(note, n + 1 + pn, NULL, 0, &body_len, NULL, NULL),
            SR_ERR_CORRUPT);
        /* And note_sign refuses to sign such a text. */
        note_signer s = signer_of("n", NOTE_TYPE_ED25519, 11);
        sr_buf out;
        buf_init(&out, 4096);
        assert_int_equal(note_sign(texts[i].s, n, &s, &out), SR_ERR_INVALID);
        assert_int_equal(out.len, 0);
        buf_free(&out);
        note_signer_wipe(&s);
    }
    /* DEL and non-ASCII are fine. */
    const char okt[] = "del \x7f and \xf0\x9f\x93\x9c\n";
    note_signer s = signer_of("n", NOTE_TYPE_ED25519, 11);
    note_verifier v;
    note_verifier_from_signer(&v, &s);
    sr_buf out;
    buf_init(&out, 4096);
    assert_int_equal(note_sign(okt, sizeof okt - 1, &s, &out), SR_OK);
    int ok = 0;
    assert_int_equal(
        note_open((const char *)out.p, out.len, &v, 1, &body_len, &ok, NULL),
        SR_OK);
    assert_int_equal(ok, 1);
    buf_free(&out);
    note_signer_wipe(&s);
}

static void note_of_max_bytes_opens_and_one_more_is_corrupt(void **state)
{
    (void)state;
    note_signer s = signer_of("big.example", NOTE_TYPE_ED25519, 12);
    note_verifier v;
    note_verifier_from_signer(&v, &s);
    /* "— big.example " + 92 base64 + "\n" after body and blank line. */
    const size_t line = 4 + 11 + 1 + 92 + 1;
    size_t body_n = NOTE_MAX_BYTES - 1 - line;
    char *body = malloc(body_n + 1);
    assert_non_null(body);
    memset(body, 'a', body_n);
    body[body_n - 1] = '\n';
    sr_buf out;
    buf_init(&out, 2 * (size_t)NOTE_MAX_BYTES);
    assert_int_equal(note_sign(body, body_n, &s, &out), SR_OK);
    assert_int_equal(out.len, NOTE_MAX_BYTES);
    size_t body_len = 0;
    int ok = 0;
    assert_int_equal(
        note_open((const char *)out.p, out.len, &v, 1, &body_len, &ok, NULL),
        SR_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(body_len, body_n);
    /* One byte more: refused before any signature is looked at. */
    buf_reset(&out);
    body[body_n - 1] = 'a';
    body[body_n] = '\n';
    assert_int_equal(note_sign(body, body_n + 1, &s, &out), SR_ERR_INVALID);
    assert_int_equal(out.len, 0);
    assert_int_equal(buf_append(&out, body, body_n + 1), SR_OK);
    assert_int_equal(buf_append_byte(&out, '\n'), SR_OK);
    sr_buf tail;
    buf_init(&tail, 4096);
    assert_int_equal(note_sign("x\n", 2, &s, &tail), SR_OK);
    assert_int_equal(buf_append(&out, tail.p + 3, tail.len - 3), SR_OK);
    assert_int_equal(out.len, NOTE_MAX_BYTES + 1);
    assert_int_equal(
        note_open((const char *)out.p, out.len, &v, 1, &body_len, &ok, NULL),
        SR_ERR_CORRUPT);
    buf_free(&tail);
    buf_free(&out);
    free(body);
    note_signer_wipe(&s);
}

static void more_than_100_signatures_is_corrupt(void **state)
{
    (void)state;
    char p[VEC_MAX], text[VEC_MAX];
    note_verifier v = vkey_of("peter_vkey");
    size_t tn = vec("peter_text", text, sizeof text);
    size_t pn = vec("peter_sig", p, sizeof p);
    sr_buf m;
    buf_init(&m, NOTE_MAX_BYTES);
    assert_int_equal(buf_append(&m, text, tn), SR_OK);
    assert_int_equal(buf_append_byte(&m, '\n'), SR_OK);
    for (unsigned i = 0; i < NOTE_MAX_SIGS; i++)
        assert_int_equal(buf_append(&m, p, pn), SR_OK);
    size_t body_len = 0;
    int ok = 0;
    assert_int_equal(
        note_open((const char *)m.p, m.len, &v, 1, &body_len, &ok, NULL),
        SR_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(buf_append(&m, p, pn), SR_OK);
    assert_int_equal(
        note_open((const char *)m.p, m.len, &v, 1, &body_len, &ok, NULL),
        SR_ERR_CORRUPT);
    assert_int_equal(
        note_open((const char *)m.p, m.len, NULL, 0, &body_len, NULL, NULL),
        SR_ERR_CORRUPT);
    buf_free(&m);
}

static void ambiguous_verifier_list_is_invalid(void **state)
{
    (void)state;
    char note[VEC_MAX], p[VEC_MAX];
    note_verifier vs[2] = {vkey_of("peter_vkey"), vkey_of("peter_vkey")};
    size_t body_len = 0;
    int ok[2];
    vec("peter_sig", p, sizeof p);
    go_note(note, sizeof note, p);
    assert_int_equal(open_str(note, vs, 2, &body_len, ok, NULL),
                     SR_ERR_INVALID);
    vs[1].type = 0x02; /* a type we cannot verify */
    vs[1].keyhash[0] ^= 1;
    assert_int_equal(open_str(note, vs, 2, &body_len, ok, NULL),
                     SR_ERR_INVALID);
    assert_int_equal(open_str(note, vs, 1, &body_len, NULL, NULL),
                     SR_ERR_INVALID);
}

/* ---- rejections: verifier keys, signers --------------------------------- */

static void vkey_with_bad_hash_case_or_parts_is_invalid(void **state)
{
    (void)state;
    note_verifier v;
    const char *bad[] = {
        /* Uppercase hex: the spec's hex is lowercase. */
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        /* Wrong hash. */
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        /* Name not matching the hash, a name with a space, no name. */
        "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        /* Short hash, missing part, two newlines, CRLF. */
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TW\n\n",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
        "LDE4izWy10TW\r\n",
        /* base64 url alphabet, whitespace inside. */
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwx bzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwx\xe2zhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(note_vkey_parse(bad[i], strlen(bad[i]), &v),
                         SR_ERR_INVALID);
    }
    assert_int_equal(note_vkey_parse(NULL, 0, &v), SR_ERR_INVALID);
    /* Formatting refuses a short buffer, leaving an empty string. */
    v = vkey_of("peter_vkey");
    char small[20];
    assert_int_equal(note_vkey_format(&v, small, sizeof small), SR_ERR_INVALID);
    assert_string_equal(small, "");
}

static void signer_rejects_bad_names_and_types(void **state)
{
    (void)state;
    uint8_t seed[32];
    seed_of(seed, 13);
    char long_name[NOTE_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad_names[] = {"",          "a+b",           "a b",
                               "tab\there", "nbsp\xc2\xa0x", "ideo\xe3\x80\x80",
                               "bad\xff",   long_name};
    note_signer s;
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        assert_int_equal(
            note_signer_from_seed(&s, bad_names[i], NOTE_TYPE_ED25519, seed),
            SR_ERR_INVALID);
        assert_null(s.sk);
    }
    assert_int_equal(note_signer_from_seed(&s, "ok", 0x02, seed),
                     SR_ERR_INVALID);
    long_name[NOTE_NAME_MAX] = '\0'; /* exactly NOTE_NAME_MAX: fine */
    assert_int_equal(
        note_signer_from_seed(&s, long_name, NOTE_TYPE_ED25519, seed), SR_OK);
    assert_non_null(s.sk);
    note_signer_wipe(&s);
    assert_null(s.sk);
    note_signer_wipe(&s); /* twice is fine */
    note_signer zero;
    memset(&zero, 0, sizeof zero);
    note_signer_wipe(&zero);
    note_signer_wipe(NULL);
}

static void signers_refuse_the_other_signature_type(void **state)
{
    (void)state;
    const char body[] = "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    note_signer plain = signer_of("p", NOTE_TYPE_ED25519, 14);
    note_signer wit = signer_of("w", NOTE_TYPE_COSIG_V1, 14);
    sr_buf out;
    buf_init(&out, 4096);
    assert_int_equal(note_sign(body, sizeof body - 1, &wit, &out),
                     SR_ERR_INVALID);
    assert_int_equal(note_cosign(body, sizeof body - 1, 1, &plain, &out),
                     SR_ERR_INVALID);
    /* note_cosign only cosigns checkpoints. */
    assert_int_equal(note_cosign("hello\n", 6, 1, &wit, &out), SR_ERR_INVALID);
    /* note_sign needs a text ending in a newline. */
    assert_int_equal(note_sign("no newline", 10, &plain, &out), SR_ERR_INVALID);
    assert_int_equal(note_sign("", 0, &plain, &out), SR_ERR_INVALID);
    assert_int_equal(out.len, 0);
    /* A cap too small leaves out as it was. */
    sr_buf tiny;
    buf_init(&tiny, 40);
    assert_int_equal(buf_append(&tiny, "keep", 4), SR_OK);
    assert_int_equal(note_sign(body, sizeof body - 1, &plain, &tiny),
                     SR_ERR_INVALID);
    assert_int_equal(tiny.len, 4);
    assert_int_equal(note_cosign(body, sizeof body - 1, 1, &wit, &tiny),
                     SR_ERR_INVALID);
    assert_int_equal(tiny.len, 4);
    buf_free(&tiny);
    buf_free(&out);
    note_signer_wipe(&plain);
    note_signer_wipe(&wit);
}

/* ---- rejections: checkpoints ------------------------------------------- */

static void malformed_checkpoints_are_corrupt(void **state)
{
    (void)state;
    char long_origin[NOTE_ORIGIN_MAX + 80];
    memset(long_origin, 'o', NOTE_ORIGIN_MAX + 1);
    memcpy(long_origin + NOTE_ORIGIN_MAX + 1,
           "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 49);
    const char *bad[] = {
        /* Size with leading zeros, sign, overflow, empty, not decimal. */
        "o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n00\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        ("o\n18446744073709551616\n"
         "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
        "o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n0x1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        /* Root: 31 bytes, 33 bytes, non-canonical, unpadded, missing. */
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        "o\n1\n",
        /* Non-ASCII bytes in the root's base64: libsodium 1.0.18 alone
         * decodes some of them as digits (found by fuzz_note). */
        "o\n1\nCsUYaxV\xc6\x8biFupLLr8pAcElZInN7h2fB2MPA3j2jxq2I=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2\xc9=\n",
        /* Empty origin, empty extension line, no final newline. */
        "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\next",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        /* Control character in the origin, and an over-long origin. */
        "o\to\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        long_origin,
        "",
    };
    note_checkpoint cp;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&cp, 0x5A, sizeof cp);
        assert_int_equal(note_checkpoint_parse(bad[i], strlen(bad[i]), &cp),
                         SR_ERR_CORRUPT);
        assert_int_equal(cp.size, 0);
        assert_int_equal(cp.origin[0], '\0');
    }
    /* The boundaries that do pass. */
    const char *good[] = {
        "o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        ("o\n18446744073709551615\n"
         "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
        "a b+c\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(note_checkpoint_parse(good[i], strlen(good[i]), &cp),
                         SR_OK);
    long_origin[NOTE_ORIGIN_MAX] = '\n';
    memcpy(long_origin + NOTE_ORIGIN_MAX + 1,
           "1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 48);
    assert_int_equal(
        note_checkpoint_parse(long_origin, strlen(long_origin), &cp), SR_OK);
    assert_int_equal(strlen(cp.origin), NOTE_ORIGIN_MAX);
}

static void checkpoint_format_rejects_bad_origins(void **state)
{
    (void)state;
    uint8_t root[32] = {0};
    char long_origin[NOTE_ORIGIN_MAX + 2];
    memset(long_origin, 'o', sizeof long_origin - 1);
    long_origin[sizeof long_origin - 1] = '\0';
    const char *bad[] = {"", "two\nlines", "tab\t", "bad\xff", long_origin};
    sr_buf b;
    buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(note_checkpoint_format(bad[i], 1, root, &b),
                         SR_ERR_INVALID);
        assert_int_equal(b.len, 0);
    }
    buf_free(&b);
}

int main(void)
{
    if (sr_init() != SR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_example_vkey_verifies_spec_example_note),
        cmocka_unit_test(go_seed_signs_the_published_note_byte_for_byte),
        cmocka_unit_test(go_note_verifies_known_keys_and_ignores_unknown_ones),
        cmocka_unit_test(go_vkey_manglings_are_all_rejected),
        cmocka_unit_test(vkey_with_plus_in_base64_and_cosigner_vkey_parse),
        cmocka_unit_test(real_checkpoint_log_signature_and_cosignature_verify),
        cmocka_unit_test(real_checkpoint_with_edited_size_is_corrupt),
        cmocka_unit_test(ecdsa_signed_rekor_checkpoint_is_unknown_and_parses),
        cmocka_unit_test(text_ends_at_the_last_empty_line),
        cmocka_unit_test(sign_then_open_verifies_and_returns_the_body),
        cmocka_unit_test(vkey_format_then_parse_round_trips_both_types),
        cmocka_unit_test(checkpoint_format_then_parse_round_trips),
        cmocka_unit_test(
            checkpoint_extension_lines_are_counted_not_interpreted),
        cmocka_unit_test(cosign_then_open_verifies_and_returns_the_time),
        cmocka_unit_test(cosignature_line_has_the_spec_layout),
        cmocka_unit_test(cosigned_extension_lines_are_covered),
        cmocka_unit_test(edited_body_byte_is_corrupt),
        cmocka_unit_test(same_name_other_key_or_other_name_is_unknown),
        cmocka_unit_test(known_key_with_bad_signature_is_corrupt),
        cmocka_unit_test(cosignature_with_time_over_2_63_is_corrupt),
        cmocka_unit_test(malformed_notes_are_corrupt),
        cmocka_unit_test(control_characters_and_bad_utf8_are_corrupt),
        cmocka_unit_test(note_of_max_bytes_opens_and_one_more_is_corrupt),
        cmocka_unit_test(more_than_100_signatures_is_corrupt),
        cmocka_unit_test(ambiguous_verifier_list_is_invalid),
        cmocka_unit_test(vkey_with_bad_hash_case_or_parts_is_invalid),
        cmocka_unit_test(signer_rejects_bad_names_and_types),
        cmocka_unit_test(signers_refuse_the_other_signature_type),
        cmocka_unit_test(malformed_checkpoints_are_corrupt),
        cmocka_unit_test(checkpoint_format_rejects_bad_origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
