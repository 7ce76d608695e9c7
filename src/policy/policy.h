/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h - the access policy (internal): a versioned JSON document that
 * maps each role to the actions it may take, the field classes it may use
 * and the purposes it may act for (docs/policy.md), its validation, the
 * built-in default policy, and the pure decision function every request
 * passes before the audit log and the store are touched.
 *
 * Everything here is pure: no I/O, no clock, no keys. A parsed policy is
 * immutable, so one may be shared by any number of threads. Decisions
 * depend only on the policy and the request, and a request carries no
 * person id: a denial cannot say whether a person exists.
 */
#ifndef SR_POLICY_H
#define SR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"

/* The actions a role may be granted. The values are bit positions in
 * policy_role_actions(); keep them stable. */
typedef enum policy_action {
    POLICY_PUT,               /* store a new person */
    POLICY_UPDATE,            /* change a stored person */
    POLICY_GET,               /* read one person */
    POLICY_FIND,              /* search by SSN or name */
    POLICY_IMPORT,            /* bulk load (CSV, JSON lines) */
    POLICY_EXPORT,            /* bulk read out */
    POLICY_SHRED,             /* crypto-shred one person */
    POLICY_MANAGE_PRINCIPALS, /* add, change, freeze principals */
    POLICY_MANAGE_POLICY,     /* strongroom policy set */
    POLICY_MANAGE_CASES,      /* open cases, assign them, add people */
    POLICY_AUDIT,             /* read and verify the audit log */
    POLICY_FREEZE,            /* freeze and unfreeze principals */
    POLICY_APPROVE,           /* approve another's bulk request */
    POLICY_MANAGE_BACKUPS,    /* make backups and restore their keys */
    POLICY_ACTION_COUNT
} policy_action;

/* Bit of action a in policy_role_actions(). */
#define POLICY_ACTION_BIT(a) (UINT32_C(1) << (unsigned)(a))

/* "put", "update", ..., "manage-principals", ...; NULL if out of range. */
const char *policy_action_name(policy_action a);

/* Parse an action name. SR_ERR_INVALID for NULL or an unknown name. */
SR_WARN_UNUSED sr_status policy_action_parse(const char *s, policy_action *out);

/*
 * 1 if action a touches people's records (put, update, get, find, import,
 * export, shred): such a request must state a purpose the role may act
 * for, and a caseload role needs its case. 0 for the management actions
 * and audit, which take a purpose only optionally.
 */
int policy_action_needs_purpose(policy_action a);

typedef struct policy policy; /* opaque, immutable after parse */

/* Room for an error message or a decision reason, with its NUL. */
#define POLICY_ERR_MAX 256

/* Limits of a policy document (docs/policy.md). */
#define POLICY_MAX_BYTES (1024u * 1024u)
#define POLICY_MAX_ROLES 64
#define POLICY_MAX_PURPOSES 64
#define POLICY_NAME_MAX 64
#define POLICY_DESCRIPTION_MAX 1024u

/* The one format version this build reads ("strongroom_policy": 1). */
#define POLICY_FORMAT_VERSION 1

/*
 * Parse and validate a policy document of len bytes (it need not be
 * NUL-terminated). On success *out is a new policy the caller frees with
 * policy_free, and err (if not NULL) is "".
 *
 * Errors: SR_ERR_INVALID with err set to one line of printable ASCII:
 * "line L, column C: <parser text>" for malformed JSON (duplicate member
 * names included), otherwise "<JSON pointer>: <rule>", for example
 * '/roles/investigator/purposes/1: unknown purpose "x"', or just the rule
 * for the document as a whole. SR_ERR_NOMEM. *out is NULL on failure.
 * Every rule is listed in docs/policy.md.
 */
SR_WARN_UNUSED sr_status policy_parse(const char *json, size_t len,
                                      policy **out, char err[POLICY_ERR_MAX]);

/* Release a policy. Accepts NULL. */
void policy_free(policy *p);

/*
 * The built-in default policy, a static NUL-terminated string: the same
 * bytes as docs/policy.default.json (a test checks). A new vault starts
 * with it.
 */
const char *policy_default_json(void);

/* 1 if the policy defines role, 0 if not (or if p or role is NULL). */
int policy_has_role(const policy *p, const char *role);

/* The role's actions, POLICY_ACTION_BIT per action; 0 for an unknown role. */
uint32_t policy_role_actions(const policy *p, const char *role);

/* The role's field classes, SR_CLASS_BIT per class; 0 for an unknown role. */
unsigned policy_role_classes(const policy *p, const char *role);

/*
 * 1 if the role is a caseload role (it may act only on people on cases
 * assigned to the principal, so a find by it must be filtered to the
 * case), 0 if not, -1 for an unknown role.
 */
int policy_role_caseload(const policy *p, const char *role);

/* A role's read budget (docs/policy.md): at most so many distinct people
 * read in any sliding hour and day, and so many searches in any sliding
 * hour. 0: no limit. */
typedef struct policy_budget {
    uint32_t people_per_hour, people_per_day, searches_per_hour;
} policy_budget;

/* The largest limit a budget may set. */
#define POLICY_BUDGET_MAX 10000u

/* The role's budget into *out (all 0 for none or an unknown role); true
 * if it sets any limit. */
bool policy_role_budget(const policy *p, const char *role, policy_budget *out);

/* The largest bulk threshold a policy may set. */
#define POLICY_BULK_MAX 1000000u

/* The policy's "bulk_threshold": a read that touches more people than
 * this needs a second person's approval (docs/policy.md); 0 for none.
 * An export always does. */
uint32_t policy_bulk_threshold(const policy *p);

/* The largest retention a policy may set, in years. */
#define POLICY_RETENTION_MAX_YEARS 200u

/* The policy's "retention": a person separated (every employment former)
 * for more than this many years is destroyed by `strongroom retention
 * run` (docs/retention.md); 0 for none. */
uint32_t policy_retention_years(const policy *p);
/* Its "destroy_classes_after_separation_years": class c of a person
 * separated this many years is destroyed sooner than the person; 0 for
 * none (and always 0 for identity, name and employment). */
uint32_t policy_retention_class_years(const policy *p, sr_class c);

/* 1 if the purpose needs a case, 0 if not, -1 for an unknown purpose. */
int policy_purpose_requires_case(const policy *p, const char *purpose);

/*
 * The canonical form of the policy, for storage in the vault and for
 * hashing: the document as parsed, compact, members sorted by name
 * (json_dumps with JSON_COMPACT | JSON_SORT_KEYS), without trailing
 * newline. Parsing it gives a policy with the same canonical form.
 * *out is NUL-terminated (not counted in *len) and the caller frees it
 * with free(). Errors: SR_ERR_INVALID for a NULL argument, SR_ERR_NOMEM;
 * on error *out is NULL and *len 0.
 */
SR_WARN_UNUSED sr_status policy_canonical(const policy *p, char **out,
                                          size_t *len);

/* One request, as the vault sees it before looking at any record. */
typedef struct policy_request {
    const char *role;     /* the principal's role */
    policy_action action; /* what it wants to do */
    const char *purpose;  /* NULL or "" when none was given */
    const char *case_id;  /* NULL or "" when none was given */
    unsigned class_mask;  /* classes asked for; 0 = what the role allows */
    int case_assigned;    /* 1 if case_id is assigned to the principal */
    int person_on_case;   /* 1 or 0 from the case's list of people, or -1
                           * when the action has no single person (find,
                           * import, export, put, management, audit) */
} policy_request;

/* The outcome, with the rule that decided it. */
typedef struct policy_decision {
    int allow;           /* 1 allow, 0 deny */
    unsigned class_mask; /* granted: the classes asked for, or the role's
                          * classes when none were asked; 0 on a denial */
    char rule[96];       /* stable rule id, see policy_decide */
    char reason[POLICY_ERR_MAX]; /* one printable ASCII sentence */
} policy_decision;

/*
 * Decide a request. Pure and total: any p and r (NULL included) give a
 * decision, and the first rule that applies decides (docs/policy.md):
 *
 *   request.invalid  p or r NULL, action out of range, class bits beyond
 *                    SR_CLASS_ALL, or person_on_case not -1, 0 or 1
 *   role.unknown     the role is not in the policy
 *   role.action      the action is not granted to the role
 *   purpose.missing  a record action (policy_action_needs_purpose) without
 *                    a purpose
 *   purpose.unknown  the purpose given is not in the policy
 *   role.purpose     the role may not act for the purpose given
 *   case.missing     no case, but the purpose requires one or the role is
 *                    a caseload role (record actions)
 *   case.unassigned  caseload role: the case is not assigned to the
 *                    principal (case_assigned != 1)
 *   case.person      caseload role: person_on_case is 0, or -1 for get,
 *                    update or shred (actions on one person)
 *   role.classes     classes asked for that the role does not have: denied,
 *                    never trimmed silently
 *   allow            everything above passed
 *
 * The caller fills case_assigned and person_on_case from the case tables
 * (never from the person's record), so the decision, and with it the
 * denial, is the same whether or not the person exists; only after an
 * allow may it look the person up. The reason reads "denied by rule
 * <id>: <sentence>" (or "allowed by rule allow: ..."), so it can be shown
 * as it is; the sentence names the role, the action, the purpose or a
 * class, never the case id or any other identifier, and quotes a name
 * from the request only if it is a valid policy name, so it is safe to
 * log.
 */
void policy_decide(const policy *p, const policy_request *r,
                   policy_decision *d);

#endif
