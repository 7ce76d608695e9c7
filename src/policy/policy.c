/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c - the access policy: the built-in default, parsing and
 * validating a policy document with jansson into a small immutable table
 * (roles, purposes, bit masks), its canonical form, and policy_decide, the
 * pure function that applies the rules of docs/policy.md in their
 * documented order.
 *
 * Validation errors name the JSON pointer of the offending member and the
 * rule it breaks. A policy holds no personal data, so messages may quote
 * names from it; they quote one only when it is a valid policy name,
 * render other member names with control and non-ASCII bytes as '?', and
 * keep jansson's own text to printable ASCII, so every message is one
 * clean log line.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy.h"

/* ---- the default policy ------------------------------------------------- */

/* docs/policy.default.json, compiled in by CMake (policy_default.c.in). */
extern const char sr_policy_default_json[];

const char *policy_default_json(void)
{
    return sr_policy_default_json;
}

/* ---- actions ------------------------------------------------------------ */

static const char *const action_names[POLICY_ACTION_COUNT] = {
    "put",           "update",         "get",   "find",
    "import",        "export",         "shred", "manage-principals",
    "manage-policy", "manage-cases",   "audit", "freeze",
    "approve",       "manage-backups",
};

#define BIT(a) POLICY_ACTION_BIT(a)

/* Actions on people's records: each needs a purpose the role may act for,
 * and a caseload role needs its case. */
#define RECORD_ACTIONS                                                         \
    (BIT(POLICY_PUT) | BIT(POLICY_UPDATE) | BIT(POLICY_GET) |                  \
     BIT(POLICY_FIND) | BIT(POLICY_IMPORT) | BIT(POLICY_EXPORT) |              \
     BIT(POLICY_SHRED))

/* Record actions that read or write field classes (shred destroys the
 * person's key and touches no field). */
#define CLASS_ACTIONS (RECORD_ACTIONS & ~BIT(POLICY_SHRED))

/* Actions on exactly one stored person: a caseload role needs that person
 * on its case, and "no single person" (-1) is not an answer. */
#define ONE_PERSON_ACTIONS                                                     \
    (BIT(POLICY_GET) | BIT(POLICY_UPDATE) | BIT(POLICY_SHRED))

/* The administrator's actions: a role with any of them may hold no record
 * action and no class (separation of duties). */
#define MANAGE_ACTIONS                                                         \
    (BIT(POLICY_MANAGE_PRINCIPALS) | BIT(POLICY_MANAGE_POLICY) |               \
     BIT(POLICY_MANAGE_CASES) | BIT(POLICY_MANAGE_BACKUPS))

const char *policy_action_name(policy_action a)
{
    if ((unsigned)a >= POLICY_ACTION_COUNT)
        return NULL;
    return action_names[a];
}

sr_status policy_action_parse(const char *s, policy_action *out)
{
    if (s == NULL || out == NULL)
        return SR_ERR_INVALID;
    for (unsigned i = 0; i < POLICY_ACTION_COUNT; i++) {
        if (strcmp(s, action_names[i]) == 0) {
            *out = (policy_action)i;
            return SR_OK;
        }
    }
    return SR_ERR_INVALID;
}

int policy_action_needs_purpose(policy_action a)
{
    if ((unsigned)a >= POLICY_ACTION_COUNT)
        return 0;
    return (RECORD_ACTIONS & BIT(a)) != 0;
}

/* ---- the parsed policy -------------------------------------------------- */

typedef struct policy_purpose {
    char name[POLICY_NAME_MAX + 1];
    int requires_case;
} policy_purpose;

typedef struct policy_role {
    char name[POLICY_NAME_MAX + 1];
    uint32_t actions;  /* POLICY_ACTION_BIT per action */
    unsigned classes;  /* SR_CLASS_BIT per class */
    uint64_t purposes; /* bit i: purposes[i] of the policy */
    int caseload;
    policy_budget budget; /* 0: no limit */
} policy_role;

struct policy {
    size_t npurposes, nroles;
    uint32_t bulk_threshold;              /* 0: none */
    uint32_t retention_years;             /* 0: none */
    uint32_t class_years[SR_CLASS_COUNT]; /* 0: none */
    policy_purpose purposes[POLICY_MAX_PURPOSES];
    policy_role roles[POLICY_MAX_ROLES];
    char *canonical; /* malloc'd, NUL-terminated */
    size_t canonical_len;
};

/* Names of roles and purposes: 1..64 of [a-z0-9._-], the first a letter
 * or digit. */
static bool name_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > POLICY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* s, if it is a valid name and so safe to quote in a message; else NULL. */
static const char *quotable(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strnlen(s, POLICY_NAME_MAX + 1);
    return name_valid(s, n) ? s : NULL;
}

static const policy_role *role_find(const policy *p, const char *name)
{
    if (p == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i].name, name) == 0)
            return &p->roles[i];
    return NULL;
}

static int purpose_find(const policy *p, const char *name)
{
    if (p == NULL || name == NULL)
        return -1;
    for (size_t i = 0; i < p->npurposes; i++)
        if (strcmp(p->purposes[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* ---- error messages ----------------------------------------------------- */

/* A JSON pointer under construction, one frame per level on the stack; key
 * is NULL for an array index. Rendered only when an error needs it. */
typedef struct ppath {
    const struct ppath *up;
    const char *key;
    size_t index;
} ppath;

typedef struct msg_out {
    char *s;
    size_t cap, len;
} msg_out;

static void msg_put(msg_out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->len + 1 < o->cap; i++)
        o->s[o->len++] = s[i];
    o->s[o->len] = '\0';
}

/* One key of a pointer: RFC 6901 escaping (~0, ~1), and bytes that are
 * not printable ASCII as '?', so a hostile member name can neither forge
 * a log line nor leave a broken code point behind a cut. Long keys are
 * cut after 64 bytes and marked with "...". */
static void msg_key(msg_out *o, const char *k)
{
    size_t i = 0;
    for (; k[i] != '\0' && i < POLICY_NAME_MAX; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c == '~')
            msg_put(o, "~0", 2);
        else if (c == '/')
            msg_put(o, "~1", 2);
        else if (c < 0x20 || c >= 0x7f)
            msg_put(o, "?", 1);
        else
            msg_put(o, (const char *)&k[i], 1);
    }
    if (k[i] != '\0')
        msg_put(o, "...", 3);
}

static void msg_path(msg_out *o, const ppath *p)
{
    if (p == NULL)
        return;
    msg_path(o, p->up);
    if (p->key == NULL) {
        char tmp[32];
        int w = snprintf(tmp, sizeof tmp, "/%zu", p->index);
        if (w > 0 && (size_t)w < sizeof tmp)
            msg_put(o, tmp, (size_t)w);
        return;
    }
    msg_put(o, "/", 1);
    msg_key(o, p->key);
}

/* Keep only printable ASCII: text from jansson can quote the input. */
static void msg_clean(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

/* Set err (if not NULL) to "<pointer>: <reason>", or just the reason for
 * the document itself (p NULL). Returns SR_ERR_INVALID. */
static sr_status fail(char *err, const ppath *p, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static sr_status fail(char *err, const ppath *p, const char *fmt, ...)
{
    if (err == NULL)
        return SR_ERR_INVALID;
    msg_out o = {err, POLICY_ERR_MAX, 0};
    err[0] = '\0';
    if (p != NULL) {
        msg_path(&o, p);
        msg_put(&o, ": ", 2);
    }
    char reason[POLICY_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (w < 0)
        reason[0] = '\0';
    msg_put(&o, reason, strlen(reason));
    msg_clean(err);
    return SR_ERR_INVALID;
}

/* ---- validation --------------------------------------------------------- */

#define NAME_RULE                                                              \
    "1-64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter "   \
    "or digit"

/* Fail on the first member of obj not in allowed (NULL-terminated);
 * expected lists them for the message. */
static sr_status check_members(const json_t *obj, const char *const *allowed,
                               const char *expected, const ppath *p, char *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            ppath here = {p, key, 0};
            return fail(err, &here, "unknown member (expected %s)", expected);
        }
    }
    return SR_OK;
}

/* An optional "description": text for people, at most
 * POLICY_DESCRIPTION_MAX bytes, without control characters. */
static sr_status check_description(const json_t *obj, const ppath *p, char *err)
{
    const json_t *v = json_object_get(obj, "description");
    if (v == NULL)
        return SR_OK;
    ppath here = {p, "description", 0};
    if (!json_is_string(v))
        return fail(err, &here, "must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > POLICY_DESCRIPTION_MAX)
        return fail(err, &here, "too long (at most %u bytes)",
                    POLICY_DESCRIPTION_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail(err, &here, "must not contain control characters");
    return SR_OK;
}

/* A required member of obj that must be an array. */
static sr_status get_array(const json_t *obj, const char *name, const ppath *p,
                           const json_t **out, char *err)
{
    ppath here = {p, name, 0};
    *out = json_object_get(obj, name);
    if (*out == NULL)
        return fail(err, &here, "required member is missing");
    if (!json_is_array(*out))
        return fail(err, &here, "must be an array");
    return SR_OK;
}

static sr_status load_purpose(policy *pol, const char *name, const json_t *v,
                              const ppath *p, char *err)
{
    static const char *const members[] = {"requires_case", "description", NULL};
    if (!name_valid(name, strlen(name)))
        return fail(err, p, "invalid purpose name (" NAME_RULE ")");
    if (!json_is_object(v))
        return fail(err, p, "must be an object");
    sr_status st =
        check_members(v, members, "requires_case, description", p, err);
    if (st != SR_OK)
        return st;
    ppath rc = {p, "requires_case", 0};
    const json_t *r = json_object_get(v, "requires_case");
    if (r == NULL)
        return fail(err, &rc, "required member is missing");
    if (!json_is_boolean(r))
        return fail(err, &rc, "must be true or false");
    if ((st = check_description(v, p, err)) != SR_OK)
        return st;
    policy_purpose *pp = &pol->purposes[pol->npurposes++];
    memcpy(pp->name, name, strlen(name) + 1);
    pp->requires_case = json_is_true(r);
    return SR_OK;
}

/* The string at index i of an array, or a failure naming it. */
static sr_status item_string(const json_t *a, size_t i, const ppath *p,
                             const char **out, char *err)
{
    const json_t *v = json_array_get(a, i);
    if (!json_is_string(v)) {
        ppath here = {p, NULL, i};
        return fail(err, &here, "must be a string");
    }
    *out = json_string_value(v);
    return SR_OK;
}

/* The rules that bind a role's grants together (docs/policy.md). first[a]
 * is the index of action a in the role's "actions" array, class0 the first
 * item of its "classes" (when it has any). */
static sr_status check_role_rules(const policy_role *role, const size_t first[],
                                  sr_class class0, const ppath *p, char *err)
{
    ppath actions = {p, "actions", 0};
    /* The action named in messages: the first of a kind, by position. */
    int manage = -1, record = -1, classy = -1;
    for (unsigned a = 0; a < POLICY_ACTION_COUNT; a++) {
        if (!(role->actions & BIT(a)))
            continue;
        if ((MANAGE_ACTIONS & BIT(a)) &&
            (manage < 0 || first[a] < first[manage]))
            manage = (int)a;
        if ((RECORD_ACTIONS & BIT(a)) &&
            (record < 0 || first[a] < first[record]))
            record = (int)a;
        if ((CLASS_ACTIONS & BIT(a)) &&
            (classy < 0 || first[a] < first[classy]))
            classy = (int)a;
    }
    /* Separation of duties: whoever manages principals, policy or cases
     * must not also read or write records, or one stolen administrator
     * credential would be both the key and the door. */
    if (manage >= 0 && record >= 0) {
        ppath here = {&actions, NULL, first[record]};
        return fail(err, &here,
                    "separation of duties: a role with \"%s\" may not also "
                    "have \"%s\"",
                    action_names[manage], action_names[record]);
    }
    if (manage >= 0 && role->classes != 0) {
        ppath cls = {p, "classes", 0};
        ppath here = {&cls, NULL, 0};
        return fail(err, &here,
                    "separation of duties: a role with \"%s\" may not also "
                    "have field class \"%s\"",
                    action_names[manage], sr_class_name(class0));
    }
    if (classy >= 0 && role->classes == 0) {
        ppath here = {p, "classes", 0};
        return fail(err, &here,
                    "a role with \"%s\" needs at least one field class",
                    action_names[classy]);
    }
    if (record >= 0 && role->purposes == 0) {
        ppath here = {p, "purposes", 0};
        return fail(err, &here, "a role with \"%s\" needs at least one purpose",
                    action_names[record]);
    }
    return SR_OK;
}

/* One limit of a budget: a whole number 1..POLICY_BUDGET_MAX. */
static sr_status budget_limit(const json_t *b, const char *name, const ppath *p,
                              uint32_t *out, char *err)
{
    const json_t *x = json_object_get(b, name);
    *out = 0;
    if (x == NULL)
        return SR_OK;
    ppath here = {p, name, 0};
    if (!json_is_integer(x) || json_integer_value(x) < 1 ||
        json_integer_value(x) > POLICY_BUDGET_MAX)
        return fail(err, &here, "must be a whole number from 1 to %u",
                    POLICY_BUDGET_MAX);
    *out = (uint32_t)json_integer_value(x);
    return SR_OK;
}

/* "budget": {"people_per_hour", "people_per_day", "searches_per_hour"},
 * each optional; only a role that reads records may have one. */
static sr_status load_budget(policy_role *role, const json_t *v, const ppath *p,
                             char *err)
{
    static const char *const members[] = {"people_per_hour", "people_per_day",
                                          "searches_per_hour", NULL};
    const json_t *b = json_object_get(v, "budget");
    if (b == NULL)
        return SR_OK;
    ppath here = {p, "budget", 0};
    if (!json_is_object(b))
        return fail(err, &here, "must be an object");
    sr_status st = check_members(
        b, members, "people_per_hour, people_per_day, searches_per_hour", &here,
        err);
    if (st == SR_OK)
        st = budget_limit(b, "people_per_hour", &here,
                          &role->budget.people_per_hour, err);
    if (st == SR_OK)
        st = budget_limit(b, "people_per_day", &here,
                          &role->budget.people_per_day, err);
    if (st == SR_OK)
        st = budget_limit(b, "searches_per_hour", &here,
                          &role->budget.searches_per_hour, err);
    if (st != SR_OK)
        return st;
    if ((role->actions & (BIT(POLICY_GET) | BIT(POLICY_FIND))) == 0)
        return fail(err, &here,
                    "only a role with \"get\" or \"find\" has a read budget");
    if (role->budget.people_per_hour > 0 && role->budget.people_per_day > 0 &&
        role->budget.people_per_hour > role->budget.people_per_day)
        return fail(err, &here, "people_per_hour is more than people_per_day");
    return SR_OK;
}

/* "destroy_classes_after_separation_years": {"investigation": N, ...}:
 * classes that go sooner than the person. Identity and name stay (they
 * index the person), and so does employment (it dates the separation). */
static sr_status load_class_years(policy *pol, const json_t *c,
                                  const ppath *here, char *err)
{
    const char *name;
    json_t *y;
    if (!json_is_object(c))
        return fail(err, here, "must be an object of field classes");
    json_object_foreach((json_t *)c, name, y) {
        ppath py = {here, name, 0};
        sr_class k;
        if (sr_class_parse(name, &k) != SR_OK)
            return fail(err, &py, "unknown field class \"%s\"", name);
        if (k == SR_CLASS_IDENTITY || k == SR_CLASS_NAME ||
            k == SR_CLASS_EMPLOYMENT)
            return fail(err, &py,
                        "the %s class stays as long as the person (identity "
                        "and name index them, employment dates their "
                        "separation); only contact, investigation and "
                        "biometric go sooner",
                        name);
        if (!json_is_integer(y) || json_integer_value(y) < 1 ||
            json_integer_value(y) >= (json_int_t)pol->retention_years)
            return fail(err, &py,
                        "must be a whole number of years from 1 to less than "
                        "destroy_after_separation_years (%u)",
                        pol->retention_years);
        pol->class_years[k] = (uint32_t)json_integer_value(y);
    }
    return SR_OK;
}

/* "retention": {"destroy_after_separation_years": N,
 *               "destroy_classes_after_separation_years": {...}}, optional. */
static sr_status load_retention(policy *pol, const json_t *doc, char *err)
{
    static const char *const members[] = {
        "destroy_after_separation_years",
        "destroy_classes_after_separation_years", NULL};
    const json_t *r = json_object_get(doc, "retention");
    if (r == NULL)
        return SR_OK;
    ppath here = {NULL, "retention", 0};
    if (!json_is_object(r))
        return fail(err, &here, "must be an object");
    sr_status st = check_members(r, members,
                                 "destroy_after_separation_years, "
                                 "destroy_classes_after_separation_years",
                                 &here, err);
    if (st != SR_OK)
        return st;
    const json_t *y = json_object_get(r, "destroy_after_separation_years");
    ppath py = {&here, "destroy_after_separation_years", 0};
    if (y == NULL)
        return fail(err, &py, "required member is missing");
    if (!json_is_integer(y) || json_integer_value(y) < 1 ||
        json_integer_value(y) > POLICY_RETENTION_MAX_YEARS)
        return fail(err, &py, "must be a whole number of years from 1 to %u",
                    POLICY_RETENTION_MAX_YEARS);
    pol->retention_years = (uint32_t)json_integer_value(y);
    const json_t *c =
        json_object_get(r, "destroy_classes_after_separation_years");
    ppath pc = {&here, "destroy_classes_after_separation_years", 0};
    return c != NULL ? load_class_years(pol, c, &pc, err) : SR_OK;
}

static sr_status load_role(policy *pol, const char *name, const json_t *v,
                           const ppath *p, char *err)
{
    static const char *const members[] = {"actions",  "classes", "purposes",
                                          "caseload", "budget",  "description",
                                          NULL};
    if (!name_valid(name, strlen(name)))
        return fail(err, p, "invalid role name (" NAME_RULE ")");
    if (!json_is_object(v))
        return fail(err, p, "must be an object");
    sr_status st = check_members(
        v, members, "actions, classes, purposes, caseload, budget, description",
        p, err);
    if (st != SR_OK)
        return st;

    policy_role *role = &pol->roles[pol->nroles];
    memset(role, 0, sizeof *role);
    memcpy(role->name, name, strlen(name) + 1);
    size_t first[POLICY_ACTION_COUNT] = {0};
    sr_class class0 = SR_CLASS_IDENTITY;
    const json_t *a;
    const char *s = NULL;

    ppath pa = {p, "actions", 0};
    if ((st = get_array(v, "actions", p, &a, err)) != SR_OK)
        return st;
    for (size_t i = 0; i < json_array_size(a); i++) {
        if ((st = item_string(a, i, &pa, &s, err)) != SR_OK)
            return st;
        ppath here = {&pa, NULL, i};
        policy_action act;
        if (policy_action_parse(s, &act) != SR_OK)
            return quotable(s) ? fail(err, &here, "unknown action \"%s\"", s)
                               : fail(err, &here, "unknown action");
        if (role->actions & BIT(act))
            return fail(err, &here, "duplicate action \"%s\"", s);
        role->actions |= BIT(act);
        first[act] = i;
    }

    ppath pc = {p, "classes", 0};
    if ((st = get_array(v, "classes", p, &a, err)) != SR_OK)
        return st;
    for (size_t i = 0; i < json_array_size(a); i++) {
        if ((st = item_string(a, i, &pc, &s, err)) != SR_OK)
            return st;
        ppath here = {&pc, NULL, i};
        sr_class c;
        if (sr_class_parse(s, &c) != SR_OK)
            return quotable(s)
                       ? fail(err, &here, "unknown field class \"%s\"", s)
                       : fail(err, &here, "unknown field class");
        if (role->classes & SR_CLASS_BIT(c))
            return fail(err, &here, "duplicate field class \"%s\"", s);
        role->classes |= SR_CLASS_BIT(c);
        if (i == 0)
            class0 = c;
    }

    ppath pp = {p, "purposes", 0};
    if ((st = get_array(v, "purposes", p, &a, err)) != SR_OK)
        return st;
    for (size_t i = 0; i < json_array_size(a); i++) {
        if ((st = item_string(a, i, &pp, &s, err)) != SR_OK)
            return st;
        ppath here = {&pp, NULL, i};
        int k = purpose_find(pol, s);
        if (k < 0)
            return quotable(s) ? fail(err, &here, "unknown purpose \"%s\"", s)
                               : fail(err, &here, "unknown purpose");
        if (role->purposes & (UINT64_C(1) << k))
            return fail(err, &here, "duplicate purpose \"%s\"", s);
        role->purposes |= UINT64_C(1) << k;
    }

    const json_t *cl = json_object_get(v, "caseload");
    if (cl != NULL && !json_is_boolean(cl)) {
        ppath here = {p, "caseload", 0};
        return fail(err, &here, "must be true or false");
    }
    role->caseload = json_is_true(cl);
    if ((st = load_budget(role, v, p, err)) != SR_OK)
        return st;
    if ((st = check_description(v, p, err)) != SR_OK)
        return st;
    if ((st = check_role_rules(role, first, class0, p, err)) != SR_OK)
        return st;
    pol->nroles++;
    return SR_OK;
}

static sr_status load_document(policy *pol, const json_t *doc, char *err)
{
    static const char *const members[] = {"strongroom_policy",
                                          "description",
                                          "bulk_threshold",
                                          "retention",
                                          "purposes",
                                          "roles",
                                          NULL};
    if (!json_is_object(doc))
        return fail(err, NULL, "the policy must be a JSON object");

    /* The version first: a newer document may have members this build
     * does not know, and "unsupported version" is the useful message. */
    ppath pv = {NULL, "strongroom_policy", 0};
    const json_t *ver = json_object_get(doc, "strongroom_policy");
    if (ver == NULL)
        return fail(err, &pv,
                    "required member is missing (the policy format "
                    "version, %d)",
                    POLICY_FORMAT_VERSION);
    if (!json_is_integer(ver))
        return fail(err, &pv, "must be the integer %d", POLICY_FORMAT_VERSION);
    if (json_integer_value(ver) != POLICY_FORMAT_VERSION)
        return fail(err, &pv,
                    "unsupported policy format version (this build reads "
                    "version %d)",
                    POLICY_FORMAT_VERSION);

    sr_status st = check_members(
        doc, members,
        "strongroom_policy, description, bulk_threshold, retention, purposes, "
        "roles",
        NULL, err);
    if (st != SR_OK)
        return st;
    if ((st = load_retention(pol, doc, err)) != SR_OK)
        return st;
    ppath pb = {NULL, "bulk_threshold", 0};
    const json_t *bulk = json_object_get(doc, "bulk_threshold");
    if (bulk != NULL &&
        (!json_is_integer(bulk) || json_integer_value(bulk) < 1 ||
         json_integer_value(bulk) > POLICY_BULK_MAX))
        return fail(err, &pb, "must be a whole number from 1 to %u",
                    POLICY_BULK_MAX);
    pol->bulk_threshold = bulk != NULL ? (uint32_t)json_integer_value(bulk) : 0;
    if ((st = check_description(doc, NULL, err)) != SR_OK)
        return st;

    /* Purposes before roles, whatever their order in the text: roles
     * refer to purposes. */
    ppath pp = {NULL, "purposes", 0};
    const json_t *purposes = json_object_get(doc, "purposes");
    if (purposes == NULL)
        return fail(err, &pp, "required member is missing");
    if (!json_is_object(purposes))
        return fail(err, &pp, "must be an object");
    if (json_object_size(purposes) > POLICY_MAX_PURPOSES)
        return fail(err, &pp, "too many purposes (at most %d)",
                    POLICY_MAX_PURPOSES);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)purposes, key, v) {
        ppath here = {&pp, key, 0};
        if ((st = load_purpose(pol, key, v, &here, err)) != SR_OK)
            return st;
    }

    ppath pr = {NULL, "roles", 0};
    const json_t *roles = json_object_get(doc, "roles");
    if (roles == NULL)
        return fail(err, &pr, "required member is missing");
    if (!json_is_object(roles))
        return fail(err, &pr, "must be an object");
    if (json_object_size(roles) > POLICY_MAX_ROLES)
        return fail(err, &pr, "too many roles (at most %d)", POLICY_MAX_ROLES);
    json_object_foreach((json_t *)roles, key, v) {
        ppath here = {&pr, key, 0};
        if ((st = load_role(pol, key, v, &here, err)) != SR_OK)
            return st;
    }

    /* A policy nobody can change, or a vault whose principals nobody can
     * manage, can only be fixed by rebuilding the vault. */
    uint32_t all = 0;
    for (size_t i = 0; i < pol->nroles; i++)
        all |= pol->roles[i].actions;
    if (!(all & BIT(POLICY_MANAGE_PRINCIPALS)))
        return fail(err, &pr,
                    "no role has \"manage-principals\": nobody could add or "
                    "change a principal again (the vault would lock itself "
                    "out)");
    if (!(all & BIT(POLICY_MANAGE_POLICY)))
        return fail(err, &pr,
                    "no role has \"manage-policy\": nobody could change the "
                    "policy again (the vault would lock itself out)");
    return SR_OK;
}

/* ---- parse, free, canonical --------------------------------------------- */

sr_status policy_parse(const char *json, size_t len, policy **out,
                       char err[POLICY_ERR_MAX])
{
    if (err != NULL)
        err[0] = '\0';
    if (out == NULL)
        return fail(err, NULL, "no place for the policy");
    *out = NULL;
    if (json == NULL && len > 0)
        return fail(err, NULL, "no policy text");
    if (len > POLICY_MAX_BYTES)
        return fail(err, NULL, "the policy is too large (at most %u bytes)",
                    POLICY_MAX_BYTES);

    json_error_t je;
    json_t *doc =
        json_loadb(json == NULL ? "" : json, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        if (json_error_code(&je) == json_error_out_of_memory) {
            (void)fail(err, NULL, "out of memory");
            return SR_ERR_NOMEM;
        }
        return fail(err, NULL, "line %d, column %d: %s", je.line, je.column,
                    je.text);
    }

    sr_status st = SR_OK;
    policy *pol = calloc(1, sizeof *pol);
    if (pol == NULL) {
        st = SR_ERR_NOMEM;
        (void)fail(err, NULL, "out of memory");
        goto cleanup;
    }
    if ((st = load_document(pol, doc, err)) != SR_OK)
        goto cleanup;

    /* The canonical text is made once, here: dumping a shared json_t from
     * several threads would not be safe, a private string is. */
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
    size_t n = json_dumpb(doc, NULL, 0, flags);
    if (n == 0 || (pol->canonical = malloc(n + 1)) == NULL ||
        json_dumpb(doc, pol->canonical, n, flags) != n) {
        st = SR_ERR_NOMEM;
        (void)fail(err, NULL, "out of memory");
        goto cleanup;
    }
    pol->canonical[n] = '\0';
    pol->canonical_len = n;
    *out = pol;
    pol = NULL;
    if (err != NULL)
        err[0] = '\0';
cleanup:
    policy_free(pol);
    json_decref(doc);
    return st;
}

void policy_free(policy *p)
{
    if (p == NULL)
        return;
    free(p->canonical);
    free(p);
}

sr_status policy_canonical(const policy *p, char **out, size_t *len)
{
    if (out != NULL)
        *out = NULL;
    if (len != NULL)
        *len = 0;
    if (p == NULL || out == NULL || len == NULL || p->canonical == NULL)
        return SR_ERR_INVALID;
    char *s = malloc(p->canonical_len + 1);
    if (s == NULL)
        return SR_ERR_NOMEM;
    memcpy(s, p->canonical, p->canonical_len + 1);
    *out = s;
    *len = p->canonical_len;
    return SR_OK;
}

/* ---- queries --------------------------------------------------------------
 */

int policy_has_role(const policy *p, const char *role)
{
    return role_find(p, role) != NULL;
}

uint32_t policy_role_actions(const policy *p, const char *role)
{
    const policy_role *r = role_find(p, role);
    return r == NULL ? 0 : r->actions;
}

unsigned policy_role_classes(const policy *p, const char *role)
{
    const policy_role *r = role_find(p, role);
    return r == NULL ? 0 : r->classes;
}

int policy_role_caseload(const policy *p, const char *role)
{
    const policy_role *r = role_find(p, role);
    return r == NULL ? -1 : r->caseload;
}

bool policy_role_budget(const policy *p, const char *role, policy_budget *out)
{
    const policy_role *r = role_find(p, role);
    memset(out, 0, sizeof *out);
    if (r == NULL)
        return false;
    *out = r->budget;
    return r->budget.people_per_hour != 0 || r->budget.people_per_day != 0 ||
           r->budget.searches_per_hour != 0;
}

uint32_t policy_retention_years(const policy *p)
{
    return p != NULL ? p->retention_years : 0;
}

uint32_t policy_retention_class_years(const policy *p, sr_class c)
{
    return p != NULL && (unsigned)c < SR_CLASS_COUNT ? p->class_years[c] : 0;
}

uint32_t policy_bulk_threshold(const policy *p)
{
    return p != NULL ? p->bulk_threshold : 0;
}

int policy_purpose_requires_case(const policy *p, const char *purpose)
{
    int k = purpose_find(p, purpose);
    return k < 0 ? -1 : p->purposes[k].requires_case;
}

/* ---- decisions ------------------------------------------------------------
 */

/* Record the deciding rule and a one-line reason in d. */
static void decide(policy_decision *d, int allow, const char *rule,
                   const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void decide(policy_decision *d, int allow, const char *rule,
                   const char *fmt, ...)
{
    d->allow = allow;
    if (!allow)
        d->class_mask = 0;
    int w = snprintf(d->rule, sizeof d->rule, "%s", rule);
    if (w < 0)
        d->rule[0] = '\0';
    w = snprintf(d->reason, sizeof d->reason,
                 "%s by rule %s: ", allow ? "allowed" : "denied", rule);
    size_t n = w < 0 ? 0 : strlen(d->reason);
    va_list ap;
    va_start(ap, fmt);
    w = vsnprintf(d->reason + n, sizeof d->reason - n, fmt, ap);
    va_end(ap);
    if (w < 0)
        d->reason[n] = '\0';
    msg_clean(d->reason);
}

void policy_decide(const policy *p, const policy_request *r, policy_decision *d)
{
    if (d == NULL)
        return;
    memset(d, 0, sizeof *d);
    if (p == NULL || r == NULL) {
        decide(d, 0, "request.invalid", "no policy or no request");
        return;
    }
    if ((unsigned)r->action >= POLICY_ACTION_COUNT) {
        decide(d, 0, "request.invalid", "the action is out of range");
        return;
    }
    if (r->class_mask & ~SR_CLASS_ALL) {
        decide(d, 0, "request.invalid",
               "the request asks for field classes that do not exist");
        return;
    }
    if (r->person_on_case < -1 || r->person_on_case > 1) {
        decide(d, 0, "request.invalid", "person_on_case must be -1, 0 or 1");
        return;
    }
    const char *act = action_names[r->action];

    const policy_role *role = role_find(p, r->role);
    if (role == NULL) {
        const char *q = quotable(r->role);
        if (q != NULL)
            decide(d, 0, "role.unknown",
                   "role \"%s\" is not defined in the policy", q);
        else
            decide(d, 0, "role.unknown",
                   "the principal's role is not a valid role name");
        return;
    }
    const char *rn = role->name;

    if (!(role->actions & BIT(r->action))) {
        decide(d, 0, "role.action", "role \"%s\" is not granted \"%s\"", rn,
               act);
        return;
    }

    /* A purpose is stated for every record action; for the others it is
     * optional, but one that is stated must still be the role's, so the
     * audit trail never records a purpose the policy did not allow. */
    bool record = (RECORD_ACTIONS & BIT(r->action)) != 0;
    bool have_purpose = r->purpose != NULL && r->purpose[0] != '\0';
    if (record && !have_purpose) {
        decide(d, 0, "purpose.missing",
               "role \"%s\" must state a purpose (--purpose) to \"%s\"", rn,
               act);
        return;
    }
    const policy_purpose *purpose = NULL;
    if (have_purpose) {
        int k = purpose_find(p, r->purpose);
        if (k < 0) {
            /* Never echo it: an unknown "purpose" may be an identifier
             * typed into the wrong field. */
            decide(d, 0, "purpose.unknown",
                   "the purpose given is not defined in the policy");
            return;
        }
        if (!(role->purposes & (UINT64_C(1) << k))) {
            decide(d, 0, "role.purpose",
                   "role \"%s\" may not act for purpose \"%s\"", rn,
                   p->purposes[k].name);
            return;
        }
        purpose = &p->purposes[k];
    }

    /* Caseload: evaluated from the case tables alone, before any person
     * is looked up, so the answer cannot depend on whether one exists. */
    bool have_case = r->case_id != NULL && r->case_id[0] != '\0';
    bool caseload = record && role->caseload;
    if (!have_case && purpose != NULL && purpose->requires_case) {
        decide(d, 0, "case.missing", "purpose \"%s\" requires a case (--case)",
               purpose->name);
        return;
    }
    if (!have_case && caseload) {
        decide(d, 0, "case.missing",
               "role \"%s\" works only on its caseload, so \"%s\" requires "
               "a case (--case)",
               rn, act);
        return;
    }
    if (caseload && r->case_assigned != 1) {
        decide(d, 0, "case.unassigned",
               "role \"%s\" may use only cases assigned to the principal, "
               "and the case given is not one of them",
               rn);
        return;
    }
    if (caseload &&
        (r->person_on_case == 0 ||
         (r->person_on_case == -1 && (ONE_PERSON_ACTIONS & BIT(r->action))))) {
        decide(d, 0, "case.person",
               "role \"%s\" may \"%s\" only a person listed on the case "
               "given",
               rn, act);
        return;
    }

    /* Classes asked for beyond the role's are refused, not trimmed: a
     * silent trim would hide a misconfigured client or a probe. */
    unsigned extra = r->class_mask & ~role->classes;
    if (extra != 0) {
        unsigned c = 0;
        while (!(extra & SR_CLASS_BIT(c)))
            c++;
        decide(d, 0, "role.classes",
               "role \"%s\" may not use field class \"%s\"", rn,
               sr_class_name((sr_class)c));
        return;
    }

    d->class_mask = r->class_mask != 0 ? r->class_mask : role->classes;
    if (purpose != NULL)
        decide(d, 1, "allow", "role \"%s\" may \"%s\" for purpose \"%s\"%s", rn,
               act, purpose->name,
               caseload ? " on a case assigned to the principal" : "");
    else
        decide(d, 1, "allow", "role \"%s\" may \"%s\"", rn, act);
}
