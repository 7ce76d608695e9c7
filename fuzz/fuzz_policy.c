/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_policy.c - libFuzzer harness for the policy parser: policy_parse on
 * arbitrary bytes. A rejection must come with a message of printable ASCII
 * (it goes to logs as one line). Every accepted policy must give a
 * canonical form that parses again to the same canonical bytes and to the
 * same decisions, and its decisions must keep the invariants no policy can
 * lift: nothing is allowed beyond the role's classes, and no role that
 * manages principals, policy or cases is ever allowed a record action.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            abort();
}

static const char *const roles[] = {
    "admin",   "hr-clerk", "investigator", "adjudicator", "security-officer",
    "auditor", "a",        "r1",           "nobody",
};

static const char *const purposes[] = {
    NULL,        "initial-investigation", "reinvestigation", "adjudication",
    "hr-action", "incident-response",     "retention",       "audit",
    "p0",
};

static void check_decisions(const policy *p, const policy *q)
{
    const uint32_t manage = POLICY_ACTION_BIT(POLICY_MANAGE_PRINCIPALS) |
                            POLICY_ACTION_BIT(POLICY_MANAGE_POLICY) |
                            POLICY_ACTION_BIT(POLICY_MANAGE_CASES);
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
        uint32_t acts = policy_role_actions(p, roles[r]);
        unsigned cls = policy_role_classes(p, roles[r]);
        for (int a = 0; a < POLICY_ACTION_COUNT; a++) {
            for (size_t u = 0; u < sizeof purposes / sizeof purposes[0]; u++) {
                policy_request rq = {
                    roles[r], (policy_action)a, purposes[u], "C-1", 0, 1, 1};
                policy_decision d, e;
                policy_decide(p, &rq, &d);
                policy_decide(q, &rq, &e);
                if (memcmp(&d, &e, sizeof d) != 0)
                    abort();
                check_text(d.reason, sizeof d.reason);
                if (d.allow && (d.class_mask & ~cls) != 0)
                    abort();
                if (d.allow && policy_action_needs_purpose((policy_action)a) &&
                    (acts & manage) != 0)
                    abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    policy *p = NULL, *q = NULL;
    char err[POLICY_ERR_MAX];
    if (policy_parse((const char *)data, size, &p, err) != SR_OK) {
        if (p != NULL || err[0] == '\0')
            abort();
        check_text(err, sizeof err);
        return 0;
    }
    char *c1 = NULL, *c2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (policy_canonical(p, &c1, &n1) != SR_OK)
        abort();
    if (policy_parse(c1, n1, &q, err) != SR_OK)
        abort();
    if (policy_canonical(q, &c2, &n2) != SR_OK)
        abort();
    if (n1 != n2 || memcmp(c1, c2, n1) != 0)
        abort();
    check_decisions(p, q);
    free(c1);
    free(c2);
    policy_free(p);
    policy_free(q);
    return 0;
}
