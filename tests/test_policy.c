/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_policy.c - the access policy as a specification (docs/policy.md):
 * the built-in default is the documented one; every validation rule
 * rejects a document that breaks it with the exact JSON pointer and rule;
 * the decision table of the six default roles over every action, purpose
 * and case state, with the rule that decides each cell; field classes
 * refused rather than trimmed; and a canonical form that is stable.
 *
 * Most invalid documents are the default with one or two members changed
 * (edit()), so each case states exactly the rule it breaks.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "policy/policy.h"

/* ---- helpers ------------------------------------------------------------- */

static policy *parse_ok(const char *text)
{
    policy *p = NULL;
    char err[POLICY_ERR_MAX];
    sr_status st = policy_parse(text, strlen(text), &p, err);
    if (st != SR_OK)
        fail_msg("policy rejected: %s", err);
    assert_non_null(p);
    assert_string_equal(err, "");
    return p;
}

static policy *default_policy(void)
{
    return parse_ok(policy_default_json());
}

/* Parse text and insist on SR_ERR_INVALID with exactly this message. */
static void expect_error(const char *text, size_t len, const char *want)
{
    policy *p = (policy *)0x1;
    char err[POLICY_ERR_MAX];
    sr_status st = policy_parse(text, len, &p, err);
    if (st != SR_ERR_INVALID)
        fail_msg("expected SR_ERR_INVALID (\"%s\"), got %d", want, (int)st);
    assert_null(p);
    if (strcmp(err, want) != 0)
        fail_msg("error\n  got:  %s\n  want: %s", err, want);
}

/* A dumped document in a malloc'd string (json_dumpb: no allocator
 * assumptions). */
static char *dump(const json_t *doc)
{
    size_t n = json_dumpb(doc, NULL, 0, JSON_INDENT(2));
    assert_true(n > 0);
    char *s = malloc(n + 1);
    assert_non_null(s);
    assert_int_equal(json_dumpb(doc, s, n, JSON_INDENT(2)), n);
    s[n] = '\0';
    return s;
}

/* Set the member or array item at pointer ptr of doc to the JSON text val,
 * or delete it when val is NULL. Objects get new members; arrays take an
 * index at most their size (the size appends). */
static void set_at(json_t *doc, const char *ptr, const char *val)
{
    char buf[512];
    assert_true(strlen(ptr) < sizeof buf && ptr[0] == '/');
    memcpy(buf, ptr + 1, strlen(ptr));
    json_t *cur = doc;
    char *seg = buf;
    for (;;) {
        char *slash = strchr(seg, '/');
        if (slash != NULL)
            *slash = '\0';
        if (slash == NULL)
            break;
        cur = json_is_array(cur) ? json_array_get(cur, strtoul(seg, NULL, 10))
                                 : json_object_get(cur, seg);
        if (cur == NULL)
            fail_msg("no %s in the document", ptr);
        seg = slash + 1;
    }
    json_t *v = NULL;
    if (val != NULL) {
        json_error_t je;
        v = json_loads(val, JSON_DECODE_ANY, &je);
        if (v == NULL)
            fail_msg("bad test value %s: %s", val, je.text);
    }
    if (json_is_array(cur)) {
        size_t i = strtoul(seg, NULL, 10);
        if (v == NULL)
            assert_int_equal(json_array_remove(cur, i), 0);
        else if (i == json_array_size(cur))
            assert_int_equal(json_array_append_new(cur, v), 0);
        else
            assert_int_equal(json_array_set_new(cur, i, v), 0);
    } else if (v == NULL) {
        assert_int_equal(json_object_del(cur, seg), 0);
    } else {
        assert_int_equal(json_object_set_new(cur, seg, v), 0);
    }
}

/* The default policy with up to two edits (pointer, JSON text or NULL to
 * delete), dumped; the caller frees. */
static char *edit(const char *p1, const char *v1, const char *p2,
                  const char *v2)
{
    json_error_t je;
    json_t *doc = json_loads(policy_default_json(), 0, &je);
    assert_non_null(doc);
    if (p1 != NULL)
        set_at(doc, p1, v1);
    if (p2 != NULL)
        set_at(doc, p2, v2);
    char *s = dump(doc);
    json_decref(doc);
    return s;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (set SR_SOURCE_DIR)", path);
    size_t cap = 1u << 20;
    char *s = malloc(cap + 1);
    assert_non_null(s);
    *len = fread(s, 1, cap, f);
    assert_false(ferror(f));
    fclose(f);
    s[*len] = '\0';
    return s;
}

static char *canonical(const policy *p, size_t *len)
{
    char *s = NULL;
    assert_int_equal(policy_canonical(p, &s, len), SR_OK);
    assert_non_null(s);
    assert_int_equal(strlen(s), *len);
    return s;
}

/* ---- actions --------------------------------------------------------------
 */

static void test_action_names_round_trip(void **state)
{
    (void)state;
    static const char *const names[POLICY_ACTION_COUNT] = {
        "put",           "update",        "get",   "find",
        "import",        "export",        "shred", "manage-principals",
        "manage-policy", "manage-cases",  "audit", "freeze",
        "approve",       "manage-backups"};
    for (int a = 0; a < POLICY_ACTION_COUNT; a++) {
        assert_string_equal(policy_action_name((policy_action)a), names[a]);
        policy_action back;
        assert_int_equal(policy_action_parse(names[a], &back), SR_OK);
        assert_int_equal(back, a);
    }
    assert_null(policy_action_name(POLICY_ACTION_COUNT));
    assert_null(policy_action_name((policy_action)-1));
}

static void test_action_parse_rejects_unknown_names(void **state)
{
    (void)state;
    policy_action a = POLICY_GET;
    assert_int_equal(policy_action_parse("read", &a), SR_ERR_INVALID);
    assert_int_equal(policy_action_parse("GET", &a), SR_ERR_INVALID);
    assert_int_equal(policy_action_parse("", &a), SR_ERR_INVALID);
    assert_int_equal(policy_action_parse(NULL, &a), SR_ERR_INVALID);
    assert_int_equal(a, POLICY_GET);
}

static void test_only_record_actions_need_a_purpose(void **state)
{
    (void)state;
    for (int a = 0; a < POLICY_ACTION_COUNT; a++)
        assert_int_equal(policy_action_needs_purpose((policy_action)a),
                         a <= POLICY_SHRED);
    assert_int_equal(policy_action_needs_purpose(POLICY_ACTION_COUNT), 0);
}

/* ---- the default policy ------------------------------------------------- */

static void test_default_policy_parses(void **state)
{
    (void)state;
    policy_free(default_policy());
}

static void
test_default_policy_is_the_documented_file_byte_for_byte(void **state)
{
    (void)state;
    const char *dir = getenv("SR_SOURCE_DIR");
    char path[1024];
    int w = snprintf(path, sizeof path, "%s/docs/policy.default.json",
                     dir ? dir : ".");
    assert_true(w > 0 && (size_t)w < sizeof path);
    size_t len;
    char *doc = read_file(path, &len);
    const char *builtin = policy_default_json();
    if (len != strlen(builtin) || memcmp(doc, builtin, len) != 0)
        fail_msg("docs/policy.default.json differs from policy_default_json() "
                 "(src/policy/policy.c): keep them byte-identical");
    free(doc);
}

static void test_default_policy_grants_what_docs_describe(void **state)
{
    (void)state;
    policy *p = default_policy();
#define A(x) POLICY_ACTION_BIT(POLICY_##x)
#define C(x) SR_CLASS_BIT(SR_CLASS_##x)
    assert_int_equal(policy_role_actions(p, "admin"),
                     A(MANAGE_PRINCIPALS) | A(MANAGE_POLICY) | A(MANAGE_CASES) |
                         A(MANAGE_BACKUPS));
    assert_int_equal(policy_role_classes(p, "admin"), 0);
    assert_int_equal(policy_role_actions(p, "hr-clerk"),
                     A(PUT) | A(UPDATE) | A(GET) | A(FIND) | A(IMPORT));
    assert_int_equal(policy_role_classes(p, "hr-clerk"),
                     C(IDENTITY) | C(NAME) | C(CONTACT) | C(EMPLOYMENT));
    assert_int_equal(policy_role_actions(p, "investigator"),
                     A(GET) | A(FIND) | A(UPDATE));
    assert_int_equal(policy_role_classes(p, "investigator"), SR_CLASS_ALL);
    assert_int_equal(policy_role_actions(p, "adjudicator"), A(GET) | A(FIND));
    assert_int_equal(policy_role_classes(p, "adjudicator"), SR_CLASS_ALL);
    assert_int_equal(policy_role_actions(p, "security-officer"),
                     A(GET) | A(FIND) | A(SHRED) | A(AUDIT) | A(FREEZE) |
                         A(APPROVE));
    assert_int_equal(policy_role_classes(p, "security-officer"),
                     C(IDENTITY) | C(NAME) | C(CONTACT));
    assert_int_equal(policy_role_actions(p, "auditor"), A(AUDIT));
    assert_int_equal(policy_role_classes(p, "auditor"), 0);
#undef A
#undef C
    assert_int_equal(policy_role_caseload(p, "investigator"), 1);
    assert_int_equal(policy_role_caseload(p, "adjudicator"), 1);
    assert_int_equal(policy_role_caseload(p, "hr-clerk"), 0);
    policy_budget b;
    assert_true(policy_role_budget(p, "investigator", &b));
    assert_int_equal(b.people_per_hour, 20);
    assert_int_equal(b.people_per_day, 60);
    assert_int_equal(b.searches_per_hour, 60);
    assert_true(policy_role_budget(p, "hr-clerk", &b));
    assert_int_equal(b.people_per_hour, 40);
    assert_false(policy_role_budget(p, "admin", &b));
    assert_int_equal(b.people_per_hour + b.people_per_day + b.searches_per_hour,
                     0);
    assert_false(policy_role_budget(p, "root", &b));
    assert_false(policy_role_budget(NULL, "investigator", &b));
    assert_int_equal(policy_role_caseload(p, "security-officer"), 0);
    assert_int_equal(policy_role_caseload(p, "nobody"), -1);

    assert_int_equal(policy_purpose_requires_case(p, "initial-investigation"),
                     1);
    assert_int_equal(policy_purpose_requires_case(p, "reinvestigation"), 1);
    assert_int_equal(policy_purpose_requires_case(p, "adjudication"), 1);
    assert_int_equal(policy_purpose_requires_case(p, "hr-action"), 0);
    assert_int_equal(policy_purpose_requires_case(p, "incident-response"), 0);
    assert_int_equal(policy_purpose_requires_case(p, "retention"), 0);
    assert_int_equal(policy_purpose_requires_case(p, "audit"), 0);
    assert_int_equal(policy_purpose_requires_case(p, "curiosity"), -1);
    assert_int_equal(policy_purpose_requires_case(p, NULL), -1);
    policy_free(p);
}

static void
test_queries_on_unknown_role_or_null_policy_give_nothing(void **state)
{
    (void)state;
    policy *p = default_policy();
    assert_int_equal(policy_has_role(p, "admin"), 1);
    assert_int_equal(policy_has_role(p, "root"), 0);
    assert_int_equal(policy_has_role(p, NULL), 0);
    assert_int_equal(policy_has_role(NULL, "admin"), 0);
    assert_int_equal(policy_role_actions(p, "root"), 0);
    assert_int_equal(policy_role_classes(p, "root"), 0);
    assert_int_equal(policy_role_actions(NULL, "admin"), 0);
    assert_int_equal(policy_purpose_requires_case(NULL, "audit"), -1);
    policy_free(p);
    policy_free(NULL);
}

/* ---- validation -----------------------------------------------------------
 */

#define NAME_RULE                                                              \
    "1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter "   \
    "or digit"

typedef struct bad_doc {
    const char *p1, *v1, *p2, *v2; /* edits of the default */
    const char *want;              /* the exact error */
} bad_doc;

/* One row per rule of docs/policy.md, "Validation". */
static const bad_doc bad_docs[] = {
    /* the version */
    {"/strongroom_policy", "2", NULL, NULL,
     "/strongroom_policy: unsupported policy format version (this build "
     "reads version 1)"},
    {"/strongroom_policy", "\"1\"", NULL, NULL,
     "/strongroom_policy: must be the integer 1"},
    {"/strongroom_policy", "1.0", NULL, NULL,
     "/strongroom_policy: must be the integer 1"},
    {"/strongroom_policy", NULL, NULL, NULL,
     "/strongroom_policy: required member is missing (the policy format "
     "version, 1)"},
    /* unknown members, at every level */
    {"/colour", "1", NULL, NULL,
     "/colour: unknown member (expected strongroom_policy, description, "
     "bulk_threshold, retention, purposes, roles)"},
    {"/retention", "{\"destroy_after_separation_years\": 0}", NULL, NULL,
     "/retention/destroy_after_separation_years: must be a whole number of "
     "years from 1 to 200"},
    {"/retention", "{}", NULL, NULL,
     "/retention/destroy_after_separation_years: required member is "
     "missing"},
    {"/retention", "{\"years\": 5}", NULL, NULL,
     "/retention/years: unknown member (expected "
     "destroy_after_separation_years, "
     "destroy_classes_after_separation_years)"},
    {"/retention",
     "{\"destroy_after_separation_years\": 20, "
     "\"destroy_classes_after_separation_years\": {\"contact\": 20}}",
     NULL, NULL,
     "/retention/destroy_classes_after_separation_years/contact: must be a "
     "whole number of years from 1 to less than "
     "destroy_after_separation_years (20)"},
    {"/bulk_threshold", "0", NULL, NULL,
     "/bulk_threshold: must be a whole number from 1 to 1000000"},
    {"/bulk_threshold", "\"100\"", NULL, NULL,
     "/bulk_threshold: must be a whole number from 1 to 1000000"},
    {"/purposes/audit/colour", "1", NULL, NULL,
     "/purposes/audit/colour: unknown member (expected requires_case, "
     "description)"},
    {"/roles/auditor/colour", "1", NULL, NULL,
     "/roles/auditor/colour: unknown member (expected actions, classes, "
     "purposes, caseload, budget, description)"},
    /* read budgets */
    {"/roles/investigator/budget", "[]", NULL, NULL,
     "/roles/investigator/budget: must be an object"},
    {"/roles/investigator/budget/colour", "1", NULL, NULL,
     "/roles/investigator/budget/colour: unknown member (expected "
     "people_per_hour, people_per_day, searches_per_hour)"},
    {"/roles/investigator/budget/people_per_hour", "0", NULL, NULL,
     "/roles/investigator/budget/people_per_hour: must be a whole number "
     "from 1 to 10000"},
    {"/roles/investigator/budget/people_per_day", "10001", NULL, NULL,
     "/roles/investigator/budget/people_per_day: must be a whole number "
     "from 1 to 10000"},
    {"/roles/investigator/budget/searches_per_hour", "\"60\"", NULL, NULL,
     "/roles/investigator/budget/searches_per_hour: must be a whole number "
     "from 1 to 10000"},
    {"/roles/investigator/budget/people_per_hour", "1.5", NULL, NULL,
     "/roles/investigator/budget/people_per_hour: must be a whole number "
     "from 1 to 10000"},
    {"/roles/investigator/budget/people_per_hour", "61", NULL, NULL,
     "/roles/investigator/budget: people_per_hour is more than "
     "people_per_day"},
    {"/roles/auditor/budget", "{\"people_per_hour\": 5}", NULL, NULL,
     "/roles/auditor/budget: only a role with \"get\" or \"find\" has a "
     "read budget"},
    /* descriptions */
    {"/description", "1", NULL, NULL, "/description: must be a string"},
    {"/roles/admin/description", "\"line\\nbreak\"", NULL, NULL,
     "/roles/admin/description: must not contain control characters"},
    /* purposes */
    {"/purposes", NULL, NULL, NULL, "/purposes: required member is missing"},
    {"/purposes", "[]", NULL, NULL, "/purposes: must be an object"},
    {"/purposes/Audit", "{\"requires_case\": false}", NULL, NULL,
     "/purposes/Audit: invalid purpose name (" NAME_RULE ")"},
    {"/purposes/-audit", "{\"requires_case\": false}", NULL, NULL,
     "/purposes/-audit: invalid purpose name (" NAME_RULE ")"},
    {"/purposes/", "{\"requires_case\": false}", NULL, NULL,
     "/purposes/: invalid purpose name (" NAME_RULE ")"},
    {"/purposes/audit", "true", NULL, NULL,
     "/purposes/audit: must be an object"},
    {"/purposes/audit/requires_case", NULL, NULL, NULL,
     "/purposes/audit/requires_case: required member is missing"},
    {"/purposes/audit/requires_case", "\"no\"", NULL, NULL,
     "/purposes/audit/requires_case: must be true or false"},
    /* roles */
    {"/roles", NULL, NULL, NULL, "/roles: required member is missing"},
    {"/roles", "[]", NULL, NULL, "/roles: must be an object"},
    {"/roles/Big Boss", "{\"actions\": [], \"classes\": [], \"purposes\": []}",
     NULL, NULL, "/roles/Big Boss: invalid role name (" NAME_RULE ")"},
    {"/roles/auditor", "[]", NULL, NULL, "/roles/auditor: must be an object"},
    {"/roles/auditor/actions", NULL, NULL, NULL,
     "/roles/auditor/actions: required member is missing"},
    {"/roles/auditor/classes", NULL, NULL, NULL,
     "/roles/auditor/classes: required member is missing"},
    {"/roles/auditor/purposes", NULL, NULL, NULL,
     "/roles/auditor/purposes: required member is missing"},
    {"/roles/auditor/actions", "\"audit\"", NULL, NULL,
     "/roles/auditor/actions: must be an array"},
    {"/roles/auditor/caseload", "1", NULL, NULL,
     "/roles/auditor/caseload: must be true or false"},
    /* known actions, classes and purposes, without duplicates */
    {"/roles/auditor/actions/0", "7", NULL, NULL,
     "/roles/auditor/actions/0: must be a string"},
    {"/roles/hr-clerk/actions/4", "\"fly\"", NULL, NULL,
     "/roles/hr-clerk/actions/4: unknown action \"fly\""},
    {"/roles/hr-clerk/actions/4", "\"Fly\\u0007\"", NULL, NULL,
     "/roles/hr-clerk/actions/4: unknown action"},
    {"/roles/hr-clerk/actions/5", "\"get\"", NULL, NULL,
     "/roles/hr-clerk/actions/5: duplicate action \"get\""},
    {"/roles/hr-clerk/classes/1", "\"medical\"", NULL, NULL,
     "/roles/hr-clerk/classes/1: unknown field class \"medical\""},
    {"/roles/hr-clerk/classes/4", "\"identity\"", NULL, NULL,
     "/roles/hr-clerk/classes/4: duplicate field class \"identity\""},
    {"/roles/hr-clerk/classes/0", "null", NULL, NULL,
     "/roles/hr-clerk/classes/0: must be a string"},
    {"/roles/investigator/purposes/1", "\"x\"", NULL, NULL,
     "/roles/investigator/purposes/1: unknown purpose \"x\""},
    {"/roles/investigator/purposes/2", "\"initial-investigation\"", NULL, NULL,
     "/roles/investigator/purposes/2: duplicate purpose "
     "\"initial-investigation\""},
    /* separation of duties */
    {"/roles/admin/actions/3", "\"get\"", NULL, NULL,
     "/roles/admin/actions/3: separation of duties: a role with "
     "\"manage-principals\" may not also have \"get\""},
    {"/roles/admin/actions/0", "\"shred\"", NULL, NULL,
     "/roles/admin/actions/0: separation of duties: a role with "
     "\"manage-policy\" may not also have \"shred\""},
    {"/roles/admin/classes/0", "\"name\"", NULL, NULL,
     "/roles/admin/classes/0: separation of duties: a role with "
     "\"manage-principals\" may not also have field class \"name\""},
    {"/roles/security-officer/actions/4", "\"manage-cases\"", NULL, NULL,
     "/roles/security-officer/actions/0: separation of duties: a role with "
     "\"manage-cases\" may not also have \"get\""},
    /* a role that touches records needs classes and purposes */
    {"/roles/security-officer/classes", "[]", NULL, NULL,
     "/roles/security-officer/classes: a role with \"get\" needs at least "
     "one field class"},
    {"/roles/security-officer/purposes", "[]", NULL, NULL,
     "/roles/security-officer/purposes: a role with \"get\" needs at least "
     "one purpose"},
    {"/roles/auditor/actions", "[\"shred\"]", "/roles/auditor/purposes", "[]",
     "/roles/auditor/purposes: a role with \"shred\" needs at least one "
     "purpose"},
    {"/roles/auditor/actions", "[\"export\"]", NULL, NULL,
     "/roles/auditor/classes: a role with \"export\" needs at least one "
     "field class"},
    /* the vault must not lock itself out */
    {"/roles/admin/actions", "[\"manage-policy\", \"manage-cases\"]", NULL,
     NULL,
     "/roles: no role has \"manage-principals\": nobody could add or change "
     "a principal again (the vault would lock itself out)"},
    {"/roles/admin/actions", "[\"manage-principals\"]", NULL, NULL,
     "/roles: no role has \"manage-policy\": nobody could change the policy "
     "again (the vault would lock itself out)"},
    {"/roles", "{}", NULL, NULL,
     "/roles: no role has \"manage-principals\": nobody could add or change "
     "a principal again (the vault would lock itself out)"},
};

static void test_each_validation_rule_names_path_and_rule(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        const bad_doc *b = &bad_docs[i];
        char *doc = edit(b->p1, b->v1, b->p2, b->v2);
        print_message("  %s\n", b->want);
        expect_error(doc, strlen(doc), b->want);
        free(doc);
    }
}

static void
test_role_name_longer_than_64_is_rejected_and_cut_in_path(void **state)
{
    (void)state;
    char name[66], ptr[80], want[256];
    memset(name, 'a', 65);
    name[65] = '\0';
    (void)snprintf(ptr, sizeof ptr, "/roles/%s", name);
    char *doc = edit(ptr, "{\"actions\":[],\"classes\":[],\"purposes\":[]}",
                     NULL, NULL);
    (void)snprintf(want, sizeof want,
                   "/roles/%.64s...: invalid role name (" NAME_RULE ")", name);
    expect_error(doc, strlen(doc), want);
    free(doc);
    /* 64 is allowed. */
    name[64] = '\0';
    (void)snprintf(ptr, sizeof ptr, "/roles/%s", name);
    doc = edit(ptr,
               "{\"actions\":[\"audit\"],\"classes\":[],\"purposes\":[],"
               "\"caseload\":false,\"description\":\"\"}",
               NULL, NULL);
    policy *p = parse_ok(doc);
    assert_int_equal(policy_has_role(p, name), 1);
    policy_free(p);
    free(doc);
}

static void test_member_names_in_errors_are_escaped_and_printable(void **state)
{
    (void)state;
    /* Built by hand: the edit helper splits pointers on '/'. */
    const char *text =
        "{\"strongroom_policy\":1,\"x~y/z\\u0001\\u00e9\":1,\"purposes\":{},"
        "\"roles\":{}}";
    expect_error(text, strlen(text),
                 "/x~0y~1z???: unknown member (expected strongroom_policy, "
                 "description, bulk_threshold, retention, purposes, roles)");
}

static void test_description_longer_than_1024_bytes_is_rejected(void **state)
{
    (void)state;
    char val[1100];
    val[0] = '"';
    memset(val + 1, 'a', 1025);
    val[1026] = '"';
    val[1027] = '\0';
    char *doc = edit("/purposes/audit/description", val, NULL, NULL);
    expect_error(doc, strlen(doc),
                 "/purposes/audit/description: too long (at most 1024 "
                 "bytes)");
    free(doc);
    val[1025] = '"';
    val[1026] = '\0';
    doc = edit("/purposes/audit/description", val, NULL, NULL);
    policy_free(parse_ok(doc));
    free(doc);
}

/* A document with n purposes (p0..) or n roles (r0..) beside admin. */
static char *many(int purposes, int roles)
{
    json_error_t je;
    json_t *doc = json_loads(policy_default_json(), 0, &je);
    assert_non_null(doc);
    json_t *ps = json_object_get(doc, "purposes");
    json_t *rs = json_object_get(doc, "roles");
    json_object_clear(ps);
    json_object_clear(rs);
    for (int i = 0; i < purposes; i++) {
        char name[16];
        (void)snprintf(name, sizeof name, "p%d", i);
        json_object_set_new(ps, name, json_pack("{s:b}", "requires_case", 0));
    }
    json_object_set_new(rs, "admin",
                        json_pack("{s:[ss],s:[],s:[]}", "actions",
                                  "manage-principals", "manage-policy",
                                  "classes", "purposes"));
    for (int i = 1; i < roles; i++) {
        char name[16];
        (void)snprintf(name, sizeof name, "r%d", i);
        json_object_set_new(rs, name,
                            json_pack("{s:[s],s:[],s:[]}", "actions", "audit",
                                      "classes", "purposes"));
    }
    char *s = dump(doc);
    json_decref(doc);
    return s;
}

static void test_at_most_64_roles_and_64_purposes(void **state)
{
    (void)state;
    char *doc = many(64, 64);
    policy_free(parse_ok(doc));
    free(doc);
    doc = many(65, 1);
    expect_error(doc, strlen(doc), "/purposes: too many purposes (at most 64)");
    free(doc);
    doc = many(1, 65);
    expect_error(doc, strlen(doc), "/roles: too many roles (at most 64)");
    free(doc);
}

static void test_document_up_to_1_mib_is_read_and_larger_refused(void **state)
{
    (void)state;
    const char *def = policy_default_json();
    size_t dlen = strlen(def), cap = POLICY_MAX_BYTES + 1;
    char *doc = malloc(cap);
    assert_non_null(doc);
    memcpy(doc, def, dlen);
    memset(doc + dlen, ' ', cap - dlen);
    policy *p = NULL;
    char err[POLICY_ERR_MAX];
    assert_int_equal(policy_parse(doc, POLICY_MAX_BYTES, &p, err), SR_OK);
    policy_free(p);
    expect_error(doc, cap, "the policy is too large (at most 1048576 bytes)");
    free(doc);
}

static void test_syntax_error_names_line_and_column(void **state)
{
    (void)state;
    const char *text = "{\n  \"strongroom_policy\": 1,\n  \"roles\": {,}\n}\n";
    policy *p = (policy *)0x1;
    char err[POLICY_ERR_MAX];
    assert_int_equal(policy_parse(text, strlen(text), &p, err), SR_ERR_INVALID);
    assert_null(p);
    if (strncmp(err, "line 3, column 13: ", 19) != 0)
        fail_msg("got: %s", err);
    assert_true(strlen(err) > 19);
}

static void test_duplicate_member_is_a_syntax_error_with_line(void **state)
{
    (void)state;
    const char *text = "{\"strongroom_policy\": 1,\n\"roles\": {},\n"
                       "\"roles\": {}}";
    policy *p = NULL;
    char err[POLICY_ERR_MAX];
    assert_int_equal(policy_parse(text, strlen(text), &p, err), SR_ERR_INVALID);
    if (strncmp(err, "line 3, column ", 15) != 0 ||
        strstr(err, "duplicate") == NULL)
        fail_msg("got: %s", err);
}

static void test_syntax_error_text_is_printable_ascii(void **state)
{
    (void)state;
    const char text[] = "{\"strongroom_policy\": \x01\xc3\xa9\n}";
    policy *p = NULL;
    char err[POLICY_ERR_MAX];
    assert_int_equal(policy_parse(text, sizeof text - 1, &p, err),
                     SR_ERR_INVALID);
    assert_true(strncmp(err, "line 1, column ", 15) == 0);
    for (const char *s = err; *s; s++)
        assert_true(*s >= 0x20 && *s < 0x7f);
}

static void test_document_must_be_an_object(void **state)
{
    (void)state;
    expect_error("[]", 2, "the policy must be a JSON object");
    policy *p = NULL;
    char err[POLICY_ERR_MAX];
    assert_int_equal(policy_parse("", 0, &p, err), SR_ERR_INVALID);
    assert_true(strncmp(err, "line ", 5) == 0);
    assert_int_equal(policy_parse(NULL, 3, &p, err), SR_ERR_INVALID);
    assert_string_equal(err, "no policy text");
    assert_int_equal(policy_parse("{}", 2, NULL, err), SR_ERR_INVALID);
}

static void test_custom_policy_need_not_use_default_role_names(void **state)
{
    (void)state;
    const char *text =
        "{\"strongroom_policy\":1,"
        "\"purposes\":{\"review\":{\"requires_case\":false}},"
        "\"roles\":{"
        "\"keeper\":{\"actions\":[\"manage-principals\"],\"classes\":[],"
        "\"purposes\":[]},"
        "\"warden\":{\"actions\":[\"manage-policy\",\"audit\"],"
        "\"classes\":[],\"purposes\":[\"review\"]},"
        "\"reviewer\":{\"actions\":[\"get\"],\"classes\":[\"name\"],"
        "\"purposes\":[\"review\"],\"caseload\":true}}}";
    policy *p = parse_ok(text);
    assert_int_equal(policy_has_role(p, "admin"), 0);
    assert_int_equal(policy_has_role(p, "keeper"), 1);
    assert_int_equal(policy_role_caseload(p, "reviewer"), 1);
    policy_free(p);
}

/* ---- decisions: the table of the default roles ----------------------------
 */

/* What docs/policy.md says each default role holds, written out here
 * independently of the JSON. */
typedef struct role_spec {
    const char *role;
    const char *actions[8];
    const char *purposes[4];
    unsigned classes;
} role_spec;

#define CL(x) SR_CLASS_BIT(SR_CLASS_##x)
static const role_spec specs[] = {
    {"admin",
     {"manage-principals", "manage-policy", "manage-cases", "manage-backups"},
     {NULL},
     0},
    {"hr-clerk",
     {"put", "update", "get", "find", "import"},
     {"hr-action"},
     CL(IDENTITY) | CL(NAME) | CL(CONTACT) | CL(EMPLOYMENT)},
    {"investigator",
     {"get", "find", "update"},
     {"initial-investigation", "reinvestigation"},
     SR_CLASS_ALL},
    {"adjudicator", {"get", "find"}, {"adjudication"}, SR_CLASS_ALL},
    {"security-officer",
     {"get", "find", "shred", "audit", "freeze", "approve"},
     {"incident-response", "retention"},
     CL(IDENTITY) | CL(NAME) | CL(CONTACT)},
    {"auditor", {"audit"}, {"audit"}, 0},
};
#undef CL
#define NSPECS (sizeof specs / sizeof specs[0])

/* The case states of a request, in the column order of the table. */
enum { NO_CASE, UNASSIGNED, PERSON_OFF, PERSON_ON, NO_PERSON, NSCEN };
static const struct {
    const char *case_id;
    int assigned, person;
} scen[NSCEN] = {
    {NULL, 0, -1},          /* NO_CASE: no --case */
    {"C-SECRET-17", 0, 1},  /* UNASSIGNED: a case not assigned to them */
    {"C-SECRET-17", 1, 0},  /* PERSON_OFF: assigned, person not on it */
    {"C-SECRET-17", 1, 1},  /* PERSON_ON: assigned, person on it */
    {"C-SECRET-17", 1, -1}, /* NO_PERSON: assigned, no single person */
};

/* Every (role, action, purpose) that gets past role.action and the purpose
 * rules, and the rule that decides it in each case state. */
typedef struct row {
    const char *role, *action, *purpose;
    const char *rule[NSCEN];
} row;

#define ALL_ALLOW                                                              \
    {                                                                          \
        "allow", "allow", "allow", "allow", "allow"                            \
    }
#define ONE_PERSON                                                             \
    {                                                                          \
        "case.missing", "case.unassigned", "case.person", "allow",             \
            "case.person"                                                      \
    }
#define MANY_PEOPLE                                                            \
    {                                                                          \
        "case.missing", "case.unassigned", "case.person", "allow", "allow"     \
    }

static const row table[] = {
    {"admin", "manage-principals", NULL, ALL_ALLOW},
    {"admin", "manage-policy", NULL, ALL_ALLOW},
    {"admin", "manage-cases", NULL, ALL_ALLOW},
    {"admin", "manage-backups", NULL, ALL_ALLOW},
    {"hr-clerk", "put", "hr-action", ALL_ALLOW},
    {"hr-clerk", "update", "hr-action", ALL_ALLOW},
    {"hr-clerk", "get", "hr-action", ALL_ALLOW},
    {"hr-clerk", "find", "hr-action", ALL_ALLOW},
    {"hr-clerk", "import", "hr-action", ALL_ALLOW},
    {"investigator", "get", "initial-investigation", ONE_PERSON},
    {"investigator", "get", "reinvestigation", ONE_PERSON},
    {"investigator", "update", "initial-investigation", ONE_PERSON},
    {"investigator", "update", "reinvestigation", ONE_PERSON},
    {"investigator", "find", "initial-investigation", MANY_PEOPLE},
    {"investigator", "find", "reinvestigation", MANY_PEOPLE},
    {"adjudicator", "get", "adjudication", ONE_PERSON},
    {"adjudicator", "find", "adjudication", MANY_PEOPLE},
    {"security-officer", "get", "incident-response", ALL_ALLOW},
    {"security-officer", "get", "retention", ALL_ALLOW},
    {"security-officer", "find", "incident-response", ALL_ALLOW},
    {"security-officer", "find", "retention", ALL_ALLOW},
    {"security-officer", "shred", "incident-response", ALL_ALLOW},
    {"security-officer", "shred", "retention", ALL_ALLOW},
    {"security-officer", "audit", NULL, ALL_ALLOW},
    {"security-officer", "audit", "incident-response", ALL_ALLOW},
    {"security-officer", "audit", "retention", ALL_ALLOW},
    {"security-officer", "freeze", NULL, ALL_ALLOW},
    {"security-officer", "freeze", "incident-response", ALL_ALLOW},
    {"security-officer", "freeze", "retention", ALL_ALLOW},
    {"security-officer", "approve", NULL, ALL_ALLOW},
    {"security-officer", "approve", "incident-response", ALL_ALLOW},
    {"security-officer", "approve", "retention", ALL_ALLOW},
    {"auditor", "audit", NULL, ALL_ALLOW},
    {"auditor", "audit", "audit", ALL_ALLOW},
};
#define NROWS (sizeof table / sizeof table[0])

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n && list[i] != NULL; i++)
        if (s != NULL && strcmp(list[i], s) == 0)
            return true;
    return false;
}

static const char *const purposes_tried[] = {
    NULL,           "",          "initial-investigation", "reinvestigation",
    "adjudication", "hr-action", "incident-response",     "retention",
    "audit",        "curiosity", "Not A Name\n",
};
#define NPURPOSES_TRIED (sizeof purposes_tried / sizeof purposes_tried[0])

/* The rule a cell must end in; *row_used is set when the table decides. */
static const char *expected_rule(const role_spec *s, const char *action,
                                 const char *purpose, int sc, bool *row_used)
{
    static const char *const defined[] = {
        "initial-investigation", "reinvestigation", "adjudication", "hr-action",
        "incident-response",     "retention",       "audit"};
    policy_action a;
    assert_int_equal(policy_action_parse(action, &a), SR_OK);
    bool have = purpose != NULL && purpose[0] != '\0';
    if (!in_list(s->actions, 8, action))
        return "role.action";
    if (a <= POLICY_SHRED && !have)
        return "purpose.missing";
    if (have && !in_list(defined, 7, purpose))
        return "purpose.unknown";
    if (have && !in_list(s->purposes, 4, purpose))
        return "role.purpose";
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &table[i];
        bool same_purpose =
            (!have && r->purpose == NULL) ||
            (have && r->purpose != NULL && strcmp(r->purpose, purpose) == 0);
        if (strcmp(r->role, s->role) == 0 && strcmp(r->action, action) == 0 &&
            same_purpose) {
            *row_used = true;
            return r->rule[sc];
        }
    }
    fail_msg("the table has no row for %s %s %s", s->role, action,
             have ? purpose : "(no purpose)");
    return NULL;
}

static void check_reason_is_clean(const policy_decision *d)
{
    char head[160];
    (void)snprintf(head, sizeof head,
                   "%s by rule %s: ", d->allow ? "allowed" : "denied", d->rule);
    if (strncmp(d->reason, head, strlen(head)) != 0)
        fail_msg("reason does not start with \"%s\": %s", head, d->reason);
    for (const char *c = d->reason; *c; c++)
        assert_true(*c >= 0x20 && *c < 0x7f);
    /* Never the case id, never raw input that is not a name. */
    assert_null(strstr(d->reason, "C-SECRET-17"));
    assert_null(strstr(d->reason, "Not A Name"));
}

static void
test_decision_table_of_default_roles_actions_purposes_and_cases(void **state)
{
    (void)state;
    policy *p = default_policy();
    bool used[NROWS] = {false};
    unsigned cells = 0;
    for (size_t si = 0; si < NSPECS; si++) {
        const role_spec *s = &specs[si];
        for (int a = 0; a < POLICY_ACTION_COUNT; a++) {
            const char *an = policy_action_name((policy_action)a);
            for (size_t pi = 0; pi < NPURPOSES_TRIED; pi++) {
                for (int sc = 0; sc < NSCEN; sc++) {
                    bool row_used = false;
                    const char *want =
                        expected_rule(s, an, purposes_tried[pi], sc, &row_used);
                    policy_request rq = {s->role,
                                         (policy_action)a,
                                         purposes_tried[pi],
                                         scen[sc].case_id,
                                         0,
                                         scen[sc].assigned,
                                         scen[sc].person};
                    policy_decision d;
                    policy_decide(p, &rq, &d);
                    if (strcmp(d.rule, want) != 0 ||
                        d.allow != (strcmp(want, "allow") == 0))
                        fail_msg("%s %s purpose=%s case-state=%d: got %s "
                                 "(%s), want %s",
                                 s->role, an,
                                 purposes_tried[pi] ? purposes_tried[pi]
                                                    : "(none)",
                                 sc, d.rule, d.reason, want);
                    assert_int_equal(d.class_mask, d.allow ? s->classes : 0);
                    check_reason_is_clean(&d);
                    for (size_t i = 0; row_used && i < NROWS; i++)
                        if (strcmp(table[i].role, s->role) == 0 &&
                            strcmp(table[i].action, an) == 0)
                            used[i] |= (table[i].purpose == NULL &&
                                        (purposes_tried[pi] == NULL ||
                                         purposes_tried[pi][0] == '\0')) ||
                                       (table[i].purpose != NULL &&
                                        purposes_tried[pi] != NULL &&
                                        strcmp(table[i].purpose,
                                               purposes_tried[pi]) == 0);
                    cells++;
                }
            }
        }
    }
    for (size_t i = 0; i < NROWS; i++)
        if (!used[i])
            fail_msg("row %s %s %s never reached", table[i].role,
                     table[i].action, table[i].purpose);
    assert_int_equal(cells,
                     NSPECS * POLICY_ACTION_COUNT * NPURPOSES_TRIED * NSCEN);
    policy_free(p);
}

static void test_unknown_role_is_denied_for_every_action(void **state)
{
    (void)state;
    policy *p = default_policy();
    const char *roles[] = {"root", "", NULL, "Admin", "admin\n"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        for (int a = 0; a < POLICY_ACTION_COUNT; a++) {
            policy_request rq = {
                roles[i], (policy_action)a, "audit", "C-SECRET-17", 0, 1, 1};
            policy_decision d;
            policy_decide(p, &rq, &d);
            assert_false(d.allow);
            assert_string_equal(d.rule, "role.unknown");
            check_reason_is_clean(&d);
        }
    }
    policy_request rq = {"root", POLICY_GET, NULL, NULL, 0, 0, -1};
    policy_decision d;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.reason, "denied by rule role.unknown: role \"root\" "
                                  "is not defined in the policy");
    policy_free(p);
}

static void test_admin_can_never_read_whatever_it_asks(void **state)
{
    (void)state;
    policy *p = default_policy();
    for (int a = 0; a <= POLICY_SHRED; a++) {
        policy_request rq = {
            "admin", (policy_action)a, "audit", "C-SECRET-17", SR_CLASS_ALL, 1,
            1};
        policy_decision d;
        policy_decide(p, &rq, &d);
        assert_false(d.allow);
        assert_string_equal(d.rule, "role.action");
        assert_int_equal(d.class_mask, 0);
    }
    policy_free(p);
}

static void test_reasons_name_rule_role_action_and_purpose(void **state)
{
    (void)state;
    policy *p = default_policy();
    struct {
        policy_request rq;
        const char *reason;
    } cases[] = {
        {{"hr-clerk", POLICY_SHRED, "hr-action", NULL, 0, 0, -1},
         "denied by rule role.action: role \"hr-clerk\" is not granted "
         "\"shred\""},
        {{"investigator", POLICY_GET, NULL, NULL, 0, 0, -1},
         "denied by rule purpose.missing: role \"investigator\" must state a "
         "purpose (--purpose) to \"get\""},
        {{"investigator", POLICY_GET, "curiosity", NULL, 0, 0, -1},
         /* never echoed: it may be an identifier in the wrong field */
         "denied by rule purpose.unknown: the purpose given is not "
         "defined in the policy"},
        {{"investigator", POLICY_GET, "Bad\tname", NULL, 0, 0, -1},
         "denied by rule purpose.unknown: the purpose given is not "
         "defined in the policy"},
        {{"hr-clerk", POLICY_GET, "adjudication", NULL, 0, 0, -1},
         "denied by rule role.purpose: role \"hr-clerk\" may not act for "
         "purpose \"adjudication\""},
        {{"investigator", POLICY_GET, "reinvestigation", "", 0, 0, 1},
         "denied by rule case.missing: purpose \"reinvestigation\" requires "
         "a case (--case)"},
        {{"investigator", POLICY_GET, "reinvestigation", "C-1", 0, 0, 1},
         "denied by rule case.unassigned: role \"investigator\" may use only "
         "cases assigned to the principal, and the case given is not one of "
         "them"},
        {{"adjudicator", POLICY_GET, "adjudication", "C-1", 0, 1, 0},
         "denied by rule case.person: role \"adjudicator\" may \"get\" only a "
         "person listed on the case given"},
        {{"hr-clerk", POLICY_GET, "hr-action", NULL,
          SR_CLASS_BIT(SR_CLASS_BIOMETRIC), 0, -1},
         "denied by rule role.classes: role \"hr-clerk\" may not use field "
         "class \"biometric\""},
        {{"investigator", POLICY_GET, "reinvestigation", "C-1", 0, 1, 1},
         "allowed by rule allow: role \"investigator\" may \"get\" for "
         "purpose \"reinvestigation\" on a case assigned to the principal"},
        {{"admin", POLICY_MANAGE_POLICY, NULL, NULL, 0, 0, -1},
         "allowed by rule allow: role \"admin\" may \"manage-policy\""},
        {{"hr-clerk", POLICY_IMPORT, "hr-action", NULL, 0, 0, -1},
         "allowed by rule allow: role \"hr-clerk\" may \"import\" for "
         "purpose \"hr-action\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_decision d;
        policy_decide(p, &cases[i].rq, &d);
        assert_string_equal(d.reason, cases[i].reason);
    }
    policy_free(p);
}

static void test_person_off_case_denial_is_the_same_for_any_case(void **state)
{
    (void)state;
    /* The caller fills person_on_case from the case's list of people, so a
     * person who does not exist is simply "not on the case": the decision
     * carries nothing that could tell the two apart. */
    policy *p = default_policy();
    policy_request a = {
        "investigator", POLICY_GET, "initial-investigation", "C-1", 0, 1, 0};
    policy_request b = a;
    b.case_id = "C-2";
    policy_decision da, db;
    policy_decide(p, &a, &da);
    policy_decide(p, &b, &db);
    assert_false(da.allow);
    assert_string_equal(da.rule, "case.person");
    assert_memory_equal(&da, &db, sizeof da);
    policy_free(p);
}

static void test_denial_clears_every_output_field(void **state)
{
    (void)state;
    policy *p = default_policy();
    policy_decision d;
    memset(&d, 0x5a, sizeof d);
    policy_request rq = {"auditor", POLICY_GET, "audit", NULL, 0, 0, -1};
    policy_decide(p, &rq, &d);
    assert_int_equal(d.allow, 0);
    assert_int_equal(d.class_mask, 0);
    assert_string_equal(d.rule, "role.action");
    /* Everything after the strings is zero, not stale. */
    assert_int_equal(d.rule[sizeof d.rule - 1], 0);
    assert_int_equal(d.reason[sizeof d.reason - 1], 0);
    policy_free(p);
}

/* ---- decisions: classes ----------------------------------------------------
 */

static void
test_requested_classes_beyond_role_are_denied_not_trimmed(void **state)
{
    (void)state;
    policy *p = default_policy();
    unsigned ask = SR_CLASS_BIT(SR_CLASS_NAME) |
                   SR_CLASS_BIT(SR_CLASS_INVESTIGATION) |
                   SR_CLASS_BIT(SR_CLASS_BIOMETRIC);
    policy_request rq = {"hr-clerk", POLICY_GET, "hr-action", NULL, ask, 0, -1};
    policy_decision d;
    policy_decide(p, &rq, &d);
    assert_false(d.allow);
    assert_string_equal(d.rule, "role.classes");
    assert_int_equal(d.class_mask, 0);
    /* The lowest class outside the role is named. */
    assert_non_null(strstr(d.reason, "\"investigation\""));

    rq.role = "security-officer";
    rq.purpose = "incident-response";
    rq.class_mask = SR_CLASS_BIT(SR_CLASS_EMPLOYMENT);
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "role.classes");
    policy_free(p);
}

static void test_requested_subset_is_granted_exactly(void **state)
{
    (void)state;
    policy *p = default_policy();
    for (unsigned ask = 1; ask <= SR_CLASS_ALL; ask++) {
        policy_request rq = {
            "adjudicator", POLICY_GET, "adjudication", "C-1", ask, 1, 1};
        policy_decision d;
        policy_decide(p, &rq, &d);
        assert_true(d.allow);
        assert_int_equal(d.class_mask, ask);

        unsigned hr = policy_role_classes(p, "hr-clerk");
        policy_request h = {"hr-clerk", POLICY_GET, "hr-action", NULL,
                            ask,        0,          -1};
        policy_decide(p, &h, &d);
        assert_int_equal(d.allow, (ask & ~hr) == 0);
        assert_int_equal(d.class_mask, (ask & ~hr) == 0 ? ask : 0);
    }
    policy_free(p);
}

static void test_zero_class_mask_grants_the_roles_classes(void **state)
{
    (void)state;
    policy *p = default_policy();
    policy_request rq = {
        "security-officer", POLICY_FIND, "incident-response", NULL, 0, 0, -1};
    policy_decision d;
    policy_decide(p, &rq, &d);
    assert_true(d.allow);
    assert_int_equal(d.class_mask, policy_role_classes(p, "security-officer"));
    policy_free(p);
}

static void test_class_request_on_admin_action_is_denied(void **state)
{
    (void)state;
    policy *p = default_policy();
    policy_request rq = {"admin",
                         POLICY_MANAGE_CASES,
                         NULL,
                         NULL,
                         SR_CLASS_BIT(SR_CLASS_IDENTITY),
                         0,
                         -1};
    policy_decision d;
    policy_decide(p, &rq, &d);
    assert_false(d.allow);
    assert_string_equal(d.rule, "role.classes");
    policy_free(p);
}

/* ---- decisions: malformed requests and custom policies --------------------
 */

static void test_malformed_requests_are_denied_as_invalid(void **state)
{
    (void)state;
    policy *p = default_policy();
    policy_decision d;
    policy_request ok = {"hr-clerk", POLICY_GET, "hr-action", NULL, 0, 0, -1};
    policy_decide(p, &ok, &d);
    assert_true(d.allow);

    policy_request rq = ok;
    rq.action = POLICY_ACTION_COUNT;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "request.invalid");
    rq = ok;
    rq.action = (policy_action)-1;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "request.invalid");
    rq = ok;
    rq.class_mask = SR_CLASS_ALL + 1;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "request.invalid");
    rq = ok;
    rq.person_on_case = 2;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "request.invalid");
    policy_decide(NULL, &ok, &d);
    assert_string_equal(d.rule, "request.invalid");
    assert_false(d.allow);
    policy_decide(p, NULL, &d);
    assert_string_equal(d.rule, "request.invalid");
    policy_decide(p, &ok, NULL); /* no crash */
    policy_free(p);
}

static const char CUSTOM[] =
    "{\"strongroom_policy\":1,"
    "\"purposes\":{\"review\":{\"requires_case\":false},"
    "\"inquiry\":{\"requires_case\":true}},"
    "\"roles\":{"
    "\"keeper\":{\"actions\":[\"manage-principals\",\"manage-policy\"],"
    "\"classes\":[],\"purposes\":[]},"
    "\"reviewer\":{\"actions\":[\"get\",\"put\",\"audit\"],"
    "\"classes\":[\"name\"],\"purposes\":[\"review\",\"inquiry\"],"
    "\"caseload\":true},"
    "\"inspector\":{\"actions\":[\"get\"],\"classes\":[\"name\"],"
    "\"purposes\":[\"inquiry\"]}}}";

static void
test_caseload_role_needs_case_even_where_purpose_does_not(void **state)
{
    (void)state;
    policy *p = parse_ok(CUSTOM);
    policy_request rq = {"reviewer", POLICY_GET, "review", NULL, 0, 0, 1};
    policy_decision d;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "case.missing");
    assert_non_null(strstr(d.reason, "works only on its caseload"));
    rq.case_id = "C-1";
    rq.case_assigned = 1;
    policy_decide(p, &rq, &d);
    assert_true(d.allow);
    /* put has no person on a case yet: -1 is fine, the case is not. */
    rq.action = POLICY_PUT;
    rq.person_on_case = -1;
    policy_decide(p, &rq, &d);
    assert_true(d.allow);
    rq.case_assigned = 0;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "case.unassigned");
    /* Caseload binds record actions only: audit needs no case. */
    policy_request au = {"reviewer", POLICY_AUDIT, NULL, NULL, 0, 0, -1};
    policy_decide(p, &au, &d);
    assert_true(d.allow);
    policy_free(p);
}

static void test_case_purpose_needs_a_case_but_not_a_caseload(void **state)
{
    (void)state;
    policy *p = parse_ok(CUSTOM);
    policy_request rq = {"inspector", POLICY_GET, "inquiry", NULL, 0, 0, 0};
    policy_decision d;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "case.missing");
    rq.case_id = "C-1"; /* not assigned, person not on it: no caseload */
    policy_decide(p, &rq, &d);
    assert_true(d.allow);
    /* A purpose given to a non-record action is still checked. */
    policy_request au = {"reviewer", POLICY_AUDIT, "inquiry", NULL, 0, 0, -1};
    policy_decide(p, &au, &d);
    assert_string_equal(d.rule, "case.missing");
    policy_free(p);
}

static void test_purpose_given_to_admin_action_must_be_the_roles(void **state)
{
    (void)state;
    policy *p = default_policy();
    policy_request rq = {
        "admin", POLICY_MANAGE_PRINCIPALS, "hr-action", NULL, 0, 0, -1};
    policy_decision d;
    policy_decide(p, &rq, &d);
    assert_string_equal(d.rule, "role.purpose");
    rq.purpose = "";
    policy_decide(p, &rq, &d);
    assert_true(d.allow);
    policy_free(p);
}

/* ---- canonical form ------------------------------------------------------ */

static void test_canonical_form_is_compact_sorted_and_stable(void **state)
{
    (void)state;
    policy *p = default_policy();
    size_t n1, n2;
    char *c1 = canonical(p, &n1);
    assert_true(strncmp(c1, "{\"bulk_threshold\":100,\"description\":", 36) ==
                0);
    assert_null(strchr(c1, '\n'));
    assert_null(strstr(c1, "\": "));
    assert_true(strstr(c1, "\"purposes\":") < strstr(c1, "\"roles\":"));
    assert_true(strstr(c1, "\"roles\":") < strstr(c1, "\"strongroom_policy\""));
    policy *q = parse_ok(c1);
    char *c2 = canonical(q, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(c1, c2, n1);
    free(c1);
    free(c2);
    policy_free(p);
    policy_free(q);
}

static void test_canonical_form_ignores_member_order_and_spacing(void **state)
{
    (void)state;
    const char *a = "{\"strongroom_policy\":1,\"purposes\":{},\"roles\":{"
                    "\"a\":{\"actions\":[\"manage-principals\"],"
                    "\"classes\":[],\"purposes\":[]},"
                    "\"b\":{\"purposes\":[],\"classes\":[],"
                    "\"actions\":[\"manage-policy\"]}}}";
    const char *b = "{ \"roles\" : { \"b\": {\"classes\": [], \"actions\": "
                    "[\"manage-policy\"], \"purposes\": []},\n \"a\": "
                    "{\"purposes\":[], \"actions\":[\"manage-principals\"], "
                    "\"classes\":[]}},\n\"purposes\":{},"
                    "\"strongroom_policy\":1}\n";
    policy *pa = parse_ok(a), *pb = parse_ok(b);
    size_t na, nb;
    char *ca = canonical(pa, &na), *cb = canonical(pb, &nb);
    assert_string_equal(ca, cb);
    free(ca);
    free(cb);
    policy_free(pa);
    policy_free(pb);
}

static void test_canonical_form_changes_with_any_grant(void **state)
{
    (void)state;
    policy *p = default_policy();
    char *doc = edit("/roles/auditor/purposes", "[]", NULL, NULL);
    policy *q = parse_ok(doc);
    size_t n1, n2;
    char *c1 = canonical(p, &n1), *c2 = canonical(q, &n2);
    assert_true(n1 != n2 || memcmp(c1, c2, n1) != 0);
    free(c1);
    free(c2);
    free(doc);
    policy_free(p);
    policy_free(q);
    char *s = (char *)0x1;
    size_t n = 7;
    assert_int_equal(policy_canonical(NULL, &s, &n), SR_ERR_INVALID);
    assert_null(s);
    assert_int_equal(n, 0);
}

/* ---- sharing ------------------------------------------------------------- */

typedef struct share_arg {
    const policy *p;
    int bad;
} share_arg;

static void *share_worker(void *v)
{
    share_arg *a = v;
    for (int i = 0; i < 20000; i++) {
        policy_request rq = {"investigator",
                             POLICY_GET,
                             i % 2 ? "reinvestigation" : "hr-action",
                             "C-1",
                             0,
                             1,
                             1};
        policy_decision d;
        policy_decide(a->p, &rq, &d);
        if (d.allow != (i % 2))
            a->bad = 1;
    }
    return NULL;
}

static void test_one_policy_serves_many_threads(void **state)
{
    (void)state;
    policy *p = default_policy();
    pthread_t t[4];
    share_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].p = p;
        args[i].bad = 0;
        assert_int_equal(pthread_create(&t[i], NULL, share_worker, &args[i]),
                         0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(args[i].bad, 0);
    }
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_names_round_trip),
        cmocka_unit_test(test_action_parse_rejects_unknown_names),
        cmocka_unit_test(test_only_record_actions_need_a_purpose),
        cmocka_unit_test(test_default_policy_parses),
        cmocka_unit_test(
            test_default_policy_is_the_documented_file_byte_for_byte),
        cmocka_unit_test(test_default_policy_grants_what_docs_describe),
        cmocka_unit_test(
            test_queries_on_unknown_role_or_null_policy_give_nothing),
        cmocka_unit_test(test_each_validation_rule_names_path_and_rule),
        cmocka_unit_test(
            test_role_name_longer_than_64_is_rejected_and_cut_in_path),
        cmocka_unit_test(test_member_names_in_errors_are_escaped_and_printable),
        cmocka_unit_test(test_description_longer_than_1024_bytes_is_rejected),
        cmocka_unit_test(test_at_most_64_roles_and_64_purposes),
        cmocka_unit_test(test_document_up_to_1_mib_is_read_and_larger_refused),
        cmocka_unit_test(test_syntax_error_names_line_and_column),
        cmocka_unit_test(test_duplicate_member_is_a_syntax_error_with_line),
        cmocka_unit_test(test_syntax_error_text_is_printable_ascii),
        cmocka_unit_test(test_document_must_be_an_object),
        cmocka_unit_test(test_custom_policy_need_not_use_default_role_names),
        cmocka_unit_test(
            test_decision_table_of_default_roles_actions_purposes_and_cases),
        cmocka_unit_test(test_unknown_role_is_denied_for_every_action),
        cmocka_unit_test(test_admin_can_never_read_whatever_it_asks),
        cmocka_unit_test(test_reasons_name_rule_role_action_and_purpose),
        cmocka_unit_test(test_person_off_case_denial_is_the_same_for_any_case),
        cmocka_unit_test(test_denial_clears_every_output_field),
        cmocka_unit_test(
            test_requested_classes_beyond_role_are_denied_not_trimmed),
        cmocka_unit_test(test_requested_subset_is_granted_exactly),
        cmocka_unit_test(test_zero_class_mask_grants_the_roles_classes),
        cmocka_unit_test(test_class_request_on_admin_action_is_denied),
        cmocka_unit_test(test_malformed_requests_are_denied_as_invalid),
        cmocka_unit_test(
            test_caseload_role_needs_case_even_where_purpose_does_not),
        cmocka_unit_test(test_case_purpose_needs_a_case_but_not_a_caseload),
        cmocka_unit_test(test_purpose_given_to_admin_action_must_be_the_roles),
        cmocka_unit_test(test_canonical_form_is_compact_sorted_and_stable),
        cmocka_unit_test(test_canonical_form_ignores_member_order_and_spacing),
        cmocka_unit_test(test_canonical_form_changes_with_any_grant),
        cmocka_unit_test(test_one_policy_serves_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
