/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_server_body.c - libFuzzer harness for the server's request bodies
 * (src/server/body.c). The first byte picks a handler (modulo their count,
 * in the order of the table below: the seeds use 'F' for login up to 'S'
 * for audit resolve); the rest is its body. body_object must give one JSON
 * object or refuse; on an object, body_only and every member accessor run
 * as that handler calls them (the member lists and bounds below mirror
 * src/server/routes.c), all of them, past the first failure. Each result
 * must agree with what the member's JSON says, a default must stay put
 * when the member is absent, and every refusal must carry a message that
 * echoes no value (fuzz_server_leak.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "fuzz_common.h"
#include "fuzz_server_leak.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef enum field_kind { F_TEXT, F_BOOL, F_UINT, F_CLASSES } field_kind;

typedef struct field {
    const char *name;
    field_kind kind;
    bool required; /* F_TEXT */
    uint64_t max;  /* F_TEXT: bytes; F_UINT: value */
} field;

typedef struct handler {
    const char *const *allowed;
    field fields[10]; /* up to the first without a name */
} handler;

/* clang-format off */
#define REQ(n, max) {n, F_TEXT, true, max}
#define OPT(n, max) {n, F_TEXT, false, max}
#define BOOL(n) {n, F_BOOL, false, 0}
#define UINT(n, max) {n, F_UINT, false, max}
#define CLASSES {"classes", F_CLASSES, false, 0}
#define ID_LEN SR_ID_STR_LEN
#define NAME_LEN SRV_NAME_MAX

static const char *const login[] = {"name", "passphrase", "ttl", NULL};
static const char *const p_create[] = {"purpose", "case", "person", NULL};
static const char *const p_read[] = {"id", "purpose", "case", "classes", NULL};
static const char *const p_update[] = {"id", "purpose", "case", "patch", NULL};
static const char *const p_search[] = {"purpose", "case", "ssn",
                                       "family_name", "dob", NULL};
static const char *const users[] = {"name", "role", "service", "passphrase",
                                    NULL};
static const char *const tokens[] = {"principal", "ttl", "scope", NULL};
static const char *const case_open[] = {"case", NULL};
static const char *const case_assign[] = {"principal", NULL};
static const char *const case_add[] = {"id", NULL};
static const char *const witness_add[] = {"name", "vkey", NULL};
static const char *const witness_min[] = {"min", NULL};
static const char *const audit[] = {"principal", "person", "purpose",
                                    "action", "case", "since", "until",
                                    "from", "denied", "limit", NULL};
static const char *const resolve[] = {"ref", NULL};

static const handler handlers[] = {
    {login, {REQ("name", NAME_LEN), REQ("passphrase", 1024),
             UINT("ttl", 366ull * 86400)}},
    {p_create, {REQ("purpose", NAME_LEN), OPT("case", NAME_LEN)}},
    {p_read, {REQ("purpose", NAME_LEN), OPT("case", NAME_LEN),
              REQ("id", ID_LEN), CLASSES}},
    {p_update, {REQ("purpose", NAME_LEN), OPT("case", NAME_LEN),
                REQ("id", ID_LEN)}},
    {p_search, {REQ("purpose", NAME_LEN), OPT("case", NAME_LEN),
                OPT("ssn", 16), OPT("family_name", 256), OPT("dob", 16)}},
    {users, {REQ("name", NAME_LEN), REQ("role", NAME_LEN), BOOL("service"),
             OPT("passphrase", 1024)}},
    {tokens, {REQ("principal", NAME_LEN), UINT("ttl", 10ull * 366 * 86400),
              OPT("scope", 1024)}},
    {case_open, {REQ("case", NAME_LEN)}},
    {case_assign, {REQ("principal", NAME_LEN)}},
    {case_add, {REQ("id", ID_LEN)}},
    {witness_add, {REQ("name", NAME_LEN), REQ("vkey", 512)}},
    {witness_min, {UINT("min", 64)}},
    {audit, {OPT("principal", NAME_LEN), OPT("person", ID_LEN),
             OPT("purpose", NAME_LEN), OPT("action", NAME_LEN),
             OPT("case", NAME_LEN), UINT("from", UINT64_MAX >> 1),
             BOOL("denied"), UINT("limit", 10000)}},
    {resolve, {REQ("ref", 64)}},
};
#define NHANDLERS (sizeof handlers / sizeof handlers[0])

/* What body.c may say: the member names above, the fixed words of its
 * messages, and (filled in once) the bounds the handlers pass. */
static char bounds[512];
static const char *const vocab[] = {
    "name passphrase ttl purpose case person id classes patch ssn "
    "family_name dob role service principal scope vkey min action since "
    "until from denied limit ref",
    "the body is empty; the body must be one JSON object",
    "line column : the body is not valid JSON",
    "/: required", "/: must be a string", "/: must be 1 to bytes",
    "/: must not hold a NUL", "/: must be true or false",
    "/: must be a whole number from 0 to", "/: unknown member",
    "/classes: must be an array of 1 to class names",
    "/classes/: not a class name",
    bounds,
    NULL,
};
/* clang-format on */

static void fill_bounds(void)
{
    size_t n = 0;
    int w = snprintf(bounds, sizeof bounds, "%d", (int)SR_CLASS_COUNT);
    if (w < 0)
        abort();
    n = (size_t)w;
    for (size_t h = 0; h < NHANDLERS; h++)
        for (const field *f = handlers[h].fields; f->name != NULL; f++) {
            w = snprintf(bounds + n, sizeof bounds - n, " %llu",
                         (unsigned long long)f->max);
            if (w < 0 || (size_t)w >= sizeof bounds - n)
                abort();
            n += (size_t)w;
        }
}

static const uint8_t *in;
static size_t in_len;

/* Before each call: no NUL anywhere, so a message must bring its own. */
static void arm(char err[SRV_ERR_MAX])
{
    memset(err, 0xa5, SRV_ERR_MAX);
}

static void refused(const char err[SRV_ERR_MAX])
{
    leak_check(err, SRV_ERR_MAX, in, in_len, vocab);
}

static bool absent(const json_t *m)
{
    return m == NULL || json_is_null(m);
}

static void check_text(const json_t *o, const field *f)
{
    static const char sentinel[] = "unset";
    char err[SRV_ERR_MAX];
    const char *s = sentinel;
    const json_t *m = json_object_get(o, f->name);
    bool want;
    if (absent(m))
        want = !f->required;
    else
        want = json_is_string(m) && json_string_length(m) >= 1 &&
               json_string_length(m) <= f->max &&
               strlen(json_string_value(m)) == json_string_length(m);
    arm(err);
    bool ok = body_string(o, f->name, f->required, f->max, &s, err);
    if (ok != want)
        abort();
    if (!ok) {
        if (s != NULL)
            abort();
        refused(err);
    } else if (absent(m)) {
        if (s != NULL)
            abort();
    } else if (s != json_string_value(m) || strlen(s) > f->max) {
        abort();
    }
}

static void check_bool(const json_t *o, const field *f)
{
    char err[SRV_ERR_MAX];
    const json_t *m = json_object_get(o, f->name);
    bool v = (in_len & 1) != 0, before = v;
    arm(err);
    bool ok = body_bool(o, f->name, &v, err);
    if (ok != (absent(m) || json_is_boolean(m)))
        abort();
    if (!ok) {
        refused(err);
        if (v != before)
            abort();
    } else if (v != (absent(m) ? before : json_is_true(m))) {
        abort();
    }
}

static void check_uint(const json_t *o, const field *f)
{
    char err[SRV_ERR_MAX];
    const json_t *m = json_object_get(o, f->name);
    bool want =
        absent(m) || (json_is_integer(m) && json_integer_value(m) >= 0 &&
                      (uint64_t)json_integer_value(m) <= f->max);
    /* as the handlers call it: with and without "present" */
    for (int pass = 0; pass < 2; pass++) {
        const uint64_t before = 0x5a5a5a5a5a5a5a5aull;
        uint64_t v = before;
        /* present starts as the opposite of what it must become */
        bool present = absent(m), *pp = pass == 0 ? &present : NULL;
        arm(err);
        bool ok = body_uint(o, f->name, f->max, pp, &v, err);
        if (ok != want)
            abort();
        if (!ok) {
            refused(err);
            if (v != before || (pp != NULL && present))
                abort();
        } else if (absent(m)) {
            if (v != before || (pp != NULL && present))
                abort();
        } else if (v != (uint64_t)json_integer_value(m) || v > f->max ||
                   (pp != NULL && !present)) {
            abort();
        }
    }
}

static void check_classes(const json_t *o)
{
    char err[SRV_ERR_MAX];
    const json_t *a = json_object_get(o, "classes");
    unsigned want_mask = 0;
    bool want = absent(a);
    if (!want && json_is_array(a) && json_array_size(a) >= 1 &&
        json_array_size(a) <= SR_CLASS_COUNT) {
        size_t i;
        const json_t *c;
        want = true;
        json_array_foreach(a, i, c) {
            sr_class k;
            if (!json_is_string(c) ||
                sr_class_parse(json_string_value(c), &k) != SR_OK) {
                want = false;
                break;
            }
            want_mask |= SR_CLASS_BIT(k);
        }
    }
    unsigned mask = 0xdeadu;
    arm(err);
    bool ok = body_classes(o, &mask, err);
    if (ok != want)
        abort();
    if (!ok)
        refused(err);
    else if (mask != want_mask || (mask & ~SR_CLASS_ALL) != 0 ||
             (mask == 0) != absent(a))
        abort();
}

static void check_only(const json_t *o, const char *const *allowed)
{
    char err[SRV_ERR_MAX];
    bool want = true;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)o, key, value) {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        want = want && known;
    }
    arm(err);
    bool ok = body_only(o, allowed, err);
    if (ok != want)
        abort();
    if (!ok)
        refused(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    fuzz_init_once();
    if (!ready) {
        fill_bounds();
        ready = 1;
    }
    if (size == 0)
        return 0;
    const handler *h = &handlers[data[0] % NHANDLERS];
    in = data + 1;
    in_len = size - 1;

    char err[SRV_ERR_MAX];
    json_t *o = NULL;
    arm(err);
    if (!body_object((const char *)in, in_len, &o, err)) {
        if (o != NULL)
            abort();
        refused(err);
        return 0;
    }
    if (o == NULL || !json_is_object(o))
        abort();
    check_only(o, h->allowed);
    for (const field *f = h->fields; f->name != NULL; f++) {
        switch (f->kind) {
        case F_TEXT:
            check_text(o, f);
            break;
        case F_BOOL:
            check_bool(o, f);
            break;
        case F_UINT:
            check_uint(o, f);
            break;
        case F_CLASSES:
            check_classes(o);
            break;
        }
    }
    json_decref(o);
    return 0;
}
