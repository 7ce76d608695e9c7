/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hotline.c - the hotline's messages (src/hotline/message.h) and
 * bodies (src/hotline/body.h): what one node seals another opens, and
 * nothing forged, altered, re-signed or sent to another node opens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "hotline/body.h"
#include "hotline/files.h"
#include "hotline/message.h"
#include "util/util.h"
#include "strongroom/strongroom.h"

typedef struct nodes {
    hl_identity *a, *b, *m; /* sender, recipient, a dishonest third */
    hl_peer pa, pb, pm;
} nodes;

static int setup(void **state)
{
    nodes *n = calloc(1, sizeof *n);
    if (n == NULL || sr_init() != SR_OK ||
        hl_identity_new(&n->a, "us-cert") != SR_OK ||
        hl_identity_new(&n->b, "cn-cert") != SR_OK ||
        hl_identity_new(&n->m, "mallory.example") != SR_OK)
        return -1;
    hl_identity_peer(n->a, &n->pa);
    hl_identity_peer(n->b, &n->pb);
    hl_identity_peer(n->m, &n->pm);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    nodes *n = *state;
    hl_identity_free(n->a);
    hl_identity_free(n->b);
    hl_identity_free(n->m);
    free(n);
    return 0;
}

static hl_header header(const char *from, const char *to)
{
    hl_header h;
    memset(&h, 0, sizeof h);
    (void)snprintf(h.from, sizeof h.from, "%s", from);
    (void)snprintf(h.to, sizeof h.to, "%s", to);
    (void)snprintf(h.case_id, sizeof h.case_id, "US-2026-0042");
    h.seq = 3;
    randombytes_buf(h.id, sizeof h.id);
    h.kind = HL_REQUEST;
    h.tlp = HL_TLP_AMBER;
    (void)snprintf(h.sent, sizeof h.sent, "2026-12-04T17:40:00Z");
    return h;
}

static const char body_text[] = "{\"summary\":\"a test body\"}";

static char *seal_ab(nodes *n, hl_header *h)
{
    char *env = NULL;
    size_t len = 0;
    *h = header("us-cert", "cn-cert");
    assert_int_equal(hl_seal(n->a, &n->pb, h, (const uint8_t *)body_text,
                             strlen(body_text), &env, &len),
                     SR_OK);
    assert_int_equal(len, strlen(env));
    return env;
}

/* Open env at node `me` knowing peers; returns the status, checks that a
 * refusal leaves no body and says why. */
static sr_status open_at(const hl_identity *me, const hl_peer *peers, size_t np,
                         const char *env, hl_header *h)
{
    uint8_t *body = NULL;
    size_t blen = 0;
    char err[HL_ERR_MAX];
    sr_status st =
        hl_open(me, peers, np, env, strlen(env), h, &body, &blen, err);
    if (st == SR_OK) {
        assert_int_equal(blen, strlen(body_text));
        assert_memory_equal(body, body_text, blen);
        hl_body_free(body, blen);
    } else {
        assert_null(body);
        assert_true(err[0] != '\0');
        assert_null(strstr(err, "a test body"));
    }
    return st;
}

/* The envelope with member key set to value (JSON text). */
static char *with_member(const char *env, const char *key, json_t *value)
{
    json_error_t e;
    json_t *o = json_loads(env, 0, &e);
    assert_non_null(o);
    if (value != NULL)
        assert_int_equal(json_object_set_new(o, key, value), 0);
    else
        assert_int_equal(json_object_del(o, key), 0);
    char *s = json_to_text(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(s);
    return s;
}

static void a_sealed_message_opens_at_its_recipient_only(void **state)
{
    nodes *n = *state;
    hl_header h, got;
    char *env = seal_ab(n, &h);
    assert_null(strstr(env, "a test body"));
    assert_int_equal(open_at(n->b, &n->pa, 1, env, &got), SR_OK);
    assert_string_equal(got.from, "us-cert");
    assert_string_equal(got.to, "cn-cert");
    assert_string_equal(got.case_id, "US-2026-0042");
    assert_int_equal(got.seq, 3);
    assert_memory_equal(got.id, h.id, HL_ID_BYTES);
    assert_int_equal(got.kind, HL_REQUEST);
    assert_int_equal(got.tlp, HL_TLP_AMBER);
    assert_string_equal(got.sent, h.sent);
    /* Re-targeted: a third node that knows the sender cannot open it. */
    assert_int_equal(open_at(n->m, &n->pa, 1, env, &got), SR_ERR_AUTH);
    /* A recipient that does not know the sender refuses it. */
    assert_int_equal(open_at(n->b, &n->pm, 1, env, &got), SR_ERR_AUTH);
    free(env);
}

static void an_altered_header_or_ciphertext_is_refused(void **state)
{
    nodes *n = *state;
    hl_header h, got;
    char *env = seal_ab(n, &h);
    const char *keys[] = {"seq", "case", "tlp", "kind", "sent", "ct", "to"};
    json_t *values[] = {json_integer(4),
                        json_string("US-2026-0043"),
                        json_string("TLP:CLEAR"),
                        json_string("response"),
                        json_string("2026-12-04T17:40:01Z"),
                        NULL,
                        json_string("mallory.example")};
    /* The ciphertext with one bit flipped, in valid base64. */
    json_error_t e;
    json_t *o = json_loads(env, 0, &e);
    uint8_t ct[256];
    size_t ctlen = 0;
    const char *b64 = json_string_value(json_object_get(o, "ct"));
    assert_int_equal(sodium_base642bin(ct, sizeof ct, b64, strlen(b64), NULL,
                                       &ctlen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    ct[ctlen / 2] ^= 1;
    char flipped[400];
    sodium_bin2base64(flipped, sizeof flipped, ct, ctlen,
                      sodium_base64_VARIANT_ORIGINAL);
    values[5] = json_string(flipped);
    json_decref(o);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *bad = with_member(env, keys[i], values[i]);
        hl_identity *at = strcmp(keys[i], "to") == 0 ? n->m : n->b;
        assert_int_equal(open_at(at, &n->pa, 1, bad, &got), SR_ERR_AUTH);
        free(bad);
    }
    free(env);
}

/* The bytes a node signs, built here from the envelope's members exactly
 * as src/hotline/message.c documents them. */
static void put_field(uint8_t *buf, size_t *len, const void *p, size_t n)
{
    buf[(*len)++] = (uint8_t)(n >> 24);
    buf[(*len)++] = (uint8_t)(n >> 16);
    buf[(*len)++] = (uint8_t)(n >> 8);
    buf[(*len)++] = (uint8_t)n;
    memcpy(buf + *len, p, n);
    *len += n;
}

static void put_b64(uint8_t *buf, size_t *len, const json_t *o, const char *key)
{
    uint8_t raw[512];
    size_t n = 0;
    const char *s = json_string_value(json_object_get(o, key));
    assert_int_equal(sodium_base642bin(raw, sizeof raw, s, strlen(s), NULL, &n,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    put_field(buf, len, raw, n);
}

static void put_str(uint8_t *buf, size_t *len, const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    put_field(buf, len, s, strlen(s));
}

static size_t signed_bytes(const json_t *o, uint8_t *buf)
{
    size_t len = 0;
    uint8_t seq[8], id[HL_ID_BYTES];
    uint64_t v = (uint64_t)json_integer_value(json_object_get(o, "seq"));
    for (int i = 0; i < 8; i++)
        seq[i] = (uint8_t)(v >> (56 - 8 * i));
    assert_int_equal(sodium_hex2bin(id, sizeof id,
                                    json_string_value(json_object_get(o, "id")),
                                    32, NULL, NULL, NULL),
                     0);
    memcpy(buf, "strongroom-hotline-v1\n", 22);
    len = 22;
    put_str(buf, &len, o, "from");
    put_str(buf, &len, o, "to");
    put_str(buf, &len, o, "case");
    put_field(buf, &len, seq, sizeof seq);
    put_field(buf, &len, id, sizeof id);
    put_str(buf, &len, o, "kind");
    put_str(buf, &len, o, "tlp");
    put_str(buf, &len, o, "sent");
    put_b64(buf, &len, o, "epk");
    put_b64(buf, &len, o, "nonce");
    put_b64(buf, &len, o, "ct");
    return len;
}

static void a_peer_re_signing_anothers_ciphertext_cannot_open_it(void **state)
{
    nodes *n = *state;
    hl_header h, got;
    uint8_t buf[2048], sig[crypto_sign_BYTES], pk[crypto_sign_PUBLICKEYBYTES],
        sk[crypto_sign_SECRETKEYBYTES];
    char sig64[100];
    json_error_t e;
    char *env = seal_ab(n, &h);
    json_t *o = json_loads(env, 0, &e);
    assert_non_null(o);
    /* The documented bytes are what the sender signed. */
    size_t len = signed_bytes(o, buf);
    assert_int_equal(
        sodium_base642bin(sig, sizeof sig,
                          json_string_value(json_object_get(o, "sig")), 88,
                          NULL, NULL, NULL, sodium_base64_VARIANT_ORIGINAL),
        0);
    assert_int_equal(crypto_sign_verify_detached(sig, buf, len, n->pa.sign_pk),
                     0);
    /* Mallory, also a peer of B, puts its own name on A's ciphertext and
     * signs it: the signature is good, but the header is the cipher's
     * associated data, so the body does not open. */
    assert_int_equal(crypto_sign_keypair(pk, sk), 0);
    hl_peer mallory = n->pm;
    memcpy(mallory.sign_pk, pk, sizeof pk);
    json_object_set_new(o, "from", json_string("mallory.example"));
    len = signed_bytes(o, buf);
    assert_int_equal(crypto_sign_detached(sig, NULL, buf, len, sk), 0);
    sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig,
                      sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(o, "sig", json_string(sig64));
    char *resigned = json_to_text(o, JSON_COMPACT);
    hl_peer peers[2] = {n->pa, mallory};
    assert_int_equal(open_at(n->b, peers, 2, resigned, &got), SR_ERR_CORRUPT);
    free(resigned);
    json_decref(o);
    free(env);
}

static void malformed_envelopes_are_refused_with_a_reason(void **state)
{
    nodes *n = *state;
    hl_header h, got;
    char *env = seal_ab(n, &h);
    struct {
        const char *key;
        json_t *value;
        sr_status want;
    } cases[] = {
        {"extra", json_string("x"), SR_ERR_INVALID},
        {"sig", NULL, SR_ERR_INVALID},
        {"hotline", json_integer(2), SR_ERR_VERSION},
        {"sent", json_string("2026-02-30T10:00:00Z"), SR_ERR_INVALID},
        {"sent", json_string("2026-12-04T17:40:00.5Z"), SR_ERR_INVALID},
        {"seq", json_integer(0), SR_ERR_INVALID},
        {"from", json_string("US-CERT"), SR_ERR_INVALID},
        {"id", json_string("0011"), SR_ERR_INVALID},
        {"tlp", json_string("TLP:WHITE"), SR_ERR_INVALID},
        {"epk", json_string("AAAA"), SR_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = with_member(env, cases[i].key, cases[i].value);
        assert_int_equal(open_at(n->b, &n->pa, 1, bad, &got), cases[i].want);
        free(bad);
    }
    assert_int_equal(open_at(n->b, &n->pa, 1, "[]", &got), SR_ERR_INVALID);
    assert_int_equal(open_at(n->b, &n->pa, 1, "{", &got), SR_ERR_INVALID);
    free(env);
}

static void public_lines_round_trip_and_bad_ones_are_refused(void **state)
{
    nodes *n = *state;
    char line[HL_PUBLIC_MAX];
    hl_peer p;
    assert_int_equal(hl_peer_format(&n->pa, line, sizeof line), SR_OK);
    assert_true(strncmp(line, "srnode1:us-cert:", 16) == 0);
    assert_int_equal(hl_peer_parse(line, strlen(line), &p), SR_OK);
    assert_memory_equal(&p, &n->pa, sizeof p);
    /* Cut short, a bad name, another prefix, an all-zero receiving key. */
    assert_int_not_equal(hl_peer_parse(line, strlen(line) - 4, &p), SR_OK);
    char bad[HL_PUBLIC_MAX];
    (void)snprintf(bad, sizeof bad, "srnode1:US cert:%s", line + 16);
    assert_int_not_equal(hl_peer_parse(bad, strlen(bad), &p), SR_OK);
    (void)snprintf(bad, sizeof bad, "srnode2:%s", line + 8);
    assert_int_not_equal(hl_peer_parse(bad, strlen(bad), &p), SR_OK);
    hl_peer zero = n->pa;
    memset(zero.box_pk, 0, sizeof zero.box_pk);
    assert_int_equal(hl_peer_format(&zero, bad, sizeof bad), SR_OK);
    assert_int_equal(hl_peer_parse(bad, strlen(bad), &p), SR_ERR_INVALID);
}

static void tlp_labels_parse_and_only_clear_and_green_go_further(void **state)
{
    (void)state;
    hl_tlp t;
    for (unsigned i = 0; i < HL_TLP_COUNT; i++) {
        assert_int_equal(hl_tlp_parse(hl_tlp_name((hl_tlp)i), &t), SR_OK);
        assert_int_equal(t, i);
    }
    assert_int_equal(hl_tlp_parse("TLP:WHITE", &t), SR_ERR_INVALID);
    assert_true(hl_tlp_may_forward(HL_TLP_CLEAR));
    assert_true(hl_tlp_may_forward(HL_TLP_GREEN));
    assert_false(hl_tlp_may_forward(HL_TLP_AMBER));
    assert_false(hl_tlp_may_forward(HL_TLP_AMBER_STRICT));
    assert_false(hl_tlp_may_forward(HL_TLP_RED));
}

#define INDICATOR(uuid)                                                        \
    "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator-"     \
    "-" uuid                                                                   \
    "\",\"created\":\"2026-12-01T10:00:00.000Z\",\"modified\":\"2026-12-01T"   \
    "10:00:00.000Z\",\"pattern\":\"[ipv4-addr:value = '198.51.100.7']\","      \
    "\"pattern_type\":\"stix\",\"valid_from\":\"2026-12-01T10:00:00Z\"}"
#define BUNDLE(objects)                                                        \
    "{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-"           \
    "33f4c354e56d"                                                             \
    "\",\"objects\":[" objects "]}"
#define REQUEST(indicators, extra)                                             \
    "{\"requesting_party\":\"US-CERT\",\"partner_case_id\":\"CN-88\","         \
    "\"summary\":\"intrusion into a personnel records system\","               \
    "\"indicators\":" indicators ",\"legal_basis\":\"2015 guidelines\","       \
    "\"urgency\":\"priority\",\"requested_action\":\"identify the hosts\","    \
    "\"response_deadline\":\"2026-12-11T00:00:00Z\"" extra "}"

static sr_status check(hl_kind k, const char *text)
{
    char err[HL_ERR_MAX];
    return hl_body_check(k, (const uint8_t *)text, strlen(text), err);
}

static void bodies_are_checked_against_their_kind(void **state)
{
    (void)state;
    assert_int_equal(
        check(HL_REQUEST,
              REQUEST(BUNDLE(INDICATOR(
                          "8e2e2d2b-17d4-4cbf-938f-"
                          "98ee46b3cd3f") "," INDICATOR("1f5b3c8e-0a1b-4c2d-"
                                                        "8e3f-4a5b6c7d8e9f")),
                      ",\"incident_ref\":\"breach-2026-03\"")),
        SR_OK);
    /* Unknown member, missing member, bad urgency. */
    assert_int_equal(check(HL_REQUEST, REQUEST(BUNDLE(""), ",\"ssn\":\"x\"")),
                     SR_ERR_INVALID);
    assert_int_equal(check(HL_RESPONSE, "{\"indicators\":" BUNDLE("") "}"),
                     SR_ERR_INVALID);
    assert_int_equal(check(HL_ACK, "{}"), SR_OK);
    assert_int_equal(check(HL_CLOSE, "{\"reason\":\"answered\"}"), SR_OK);
    assert_int_equal(check(HL_CLOSE, "[]"), SR_ERR_INVALID);
    assert_int_equal(check(HL_RECEIPT,
                           "{\"message\":\""
                           "00112233445566778899aabbccddeeff"
                           "00112233445566778899aabbccddeeff\",\"received\":"
                           "\"2026-12-04T17:41:00Z\"}"),
                     SR_OK);
    /* STIX: an indicator without its pattern, an id of another type, a
     * 2.0 object, a bundle that is not one. */
    assert_int_equal(
        check(HL_RESPONSE,
              "{\"answer\":\"a\",\"indicators\":" BUNDLE(
                  "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":"
                  "\"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
                  "\"created\":\"2026-12-01T10:00:00Z\",\"modified\":"
                  "\"2026-12-01T10:00:00Z\",\"pattern_type\":\"stix\","
                  "\"valid_from\":\"2026-12-01T10:00:00Z\"}") "}"),
        SR_ERR_INVALID);
    assert_int_equal(
        check(HL_RESPONSE,
              "{\"answer\":\"a\",\"indicators\":" BUNDLE(
                  "{\"type\":\"ipv4-addr\",\"id\":\"url--8e2e2d2b-17d4-4cbf-"
                  "938f-98ee46b3cd3f\",\"value\":\"198.51.100.7\"}") "}"),
        SR_ERR_INVALID);
    assert_int_equal(
        check(HL_RESPONSE,
              "{\"answer\":\"a\",\"indicators\":" BUNDLE(
                  "{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--8e2e2d2b-17d4-"
                  "4cbf-938f-98ee46b3cd3f\",\"value\":\"198.51.100.7\"}") "}"),
        SR_OK);
    assert_int_equal(
        check(HL_RESPONSE,
              "{\"answer\":\"a\",\"indicators\":" BUNDLE(
                  "{\"type\":\"malware\",\"spec_version\":\"2.0\",\"id\":"
                  "\"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
                  "\"created\":\"2026-12-01T10:00:00Z\",\"modified\":"
                  "\"2026-12-01T10:00:00Z\"}") "}"),
        SR_ERR_INVALID);
    assert_int_equal(check(HL_RESPONSE,
                           "{\"answer\":\"a\",\"indicators\":{\"type\":"
                           "\"report\"}}"),
                     SR_ERR_INVALID);
}

static void a_key_file_round_trips_and_has_one_spelling(void **state)
{
    nodes *n = *state;
    char text[HL_KEYFILE_MAX];
    size_t len = 0;
    hl_identity *back = NULL;
    hl_peer p;
    assert_int_equal(hl_keyfile_format(n->a, text, sizeof text, &len), SR_OK);
    assert_true(strncmp(text, HL_KEYFILE_MAGIC "us-cert\n", 35) == 0);
    assert_int_equal(hl_keyfile_parse((const uint8_t *)text, len, &back),
                     SR_OK);
    /* The same keys: the same public half. */
    hl_identity_peer(back, &p);
    assert_memory_equal(&p, &n->pa, sizeof p);
    hl_identity_free(back);
    /* No trailing newline, an extra byte, a lower-case magic, a bad name. */
    const size_t cuts[] = {len - 1, len + 1};
    text[len] = '\n';
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(
            hl_keyfile_parse((const uint8_t *)text, cuts[i], &back),
            SR_ERR_CORRUPT);
        assert_null(back);
    }
    text[0] = 'S';
    assert_int_equal(hl_keyfile_parse((const uint8_t *)text, len, &back),
                     SR_ERR_CORRUPT);
    text[0] = 's';
    text[sizeof HL_KEYFILE_MAGIC - 1] = 'U';
    assert_int_equal(hl_keyfile_parse((const uint8_t *)text, len, &back),
                     SR_ERR_CORRUPT);
    sodium_memzero(text, sizeof text);
}

static void a_peers_file_is_read_line_by_line_and_faults_are_named(void **state)
{
    nodes *n = *state;
    static hl_peer got[HL_PEERS_MAX];
    char text[4 * (HL_PEER_LINE_MAX + 2)], err[HL_ERR_MAX];
    size_t len = 0, k = 0, np = 0;
    hl_peer b = n->pb, m = n->pm;
    (void)snprintf(b.url, sizeof b.url, "https://cn.example:8443/hotline");
    (void)snprintf(m.url, sizeof m.url, "http://127.0.0.1:9000/");
    assert_int_equal(hl_peer_line(&b, text, sizeof text, &k), SR_OK);
    len += k;
    assert_int_equal(hl_peer_line(&m, text + len, sizeof text - len, &k),
                     SR_OK);
    len += k;
    assert_int_equal(hl_peers_parse((const uint8_t *)text, len, got, &np, err),
                     SR_OK);
    assert_int_equal(np, 2);
    assert_memory_equal(&got[0], &b, sizeof b);
    assert_memory_equal(&got[1], &m, sizeof m);
    assert_int_equal(hl_peers_parse((const uint8_t *)"", 0, got, &np, err),
                     SR_OK);
    assert_int_equal(np, 0);
    /* The same peer twice: line 2. */
    char twice[2 * (HL_PEER_LINE_MAX + 2)];
    assert_int_equal(hl_peer_line(&b, twice, sizeof twice, &k), SR_OK);
    memcpy(twice + k, twice, k);
    assert_int_equal(
        hl_peers_parse((const uint8_t *)twice, 2 * k, got, &np, err),
        SR_ERR_CORRUPT);
    assert_non_null(strstr(err, "line 2"));
    /* A line whose key is another node's; an http URL off loopback. */
    memcpy(twice, "xx-cert", 7);
    assert_int_equal(hl_peers_parse((const uint8_t *)twice, k, got, &np, err),
                     SR_ERR_CORRUPT);
    assert_non_null(strstr(err, "another node's"));
    assert_false(hl_url_ok("http://example.com/", 19));
    assert_false(hl_url_ok("https:///x", 10));
    assert_false(hl_url_ok("https://a b", 11));
    assert_true(hl_url_ok("https://a", 9));
    assert_true(hl_url_ok("http://[::1]:80/", 16));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(a_sealed_message_opens_at_its_recipient_only),
        T(an_altered_header_or_ciphertext_is_refused),
        T(a_peer_re_signing_anothers_ciphertext_cannot_open_it),
        T(malformed_envelopes_are_refused_with_a_reason),
        T(public_lines_round_trip_and_bad_ones_are_refused),
        T(tlp_labels_parse_and_only_clear_and_green_go_further),
        T(bodies_are_checked_against_their_kind),
        T(a_key_file_round_trips_and_has_one_spelling),
        T(a_peers_file_is_read_line_by_line_and_faults_are_named),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
