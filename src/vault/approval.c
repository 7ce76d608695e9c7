/* SPDX-License-Identifier: Apache-2.0 */
/*
 * approval.c - the two-person rule. An export, or a search by name that
 * matches more people than the policy's bulk_threshold, runs only under
 * an approval: asked for by the principal who will run it, approved by a
 * different principal with the "approve" action, bound to the exact
 * action, purpose, case, classes and (for a search) terms, and usable by
 * its requester until it expires. Asking, approving, and each use are
 * logged.
 *
 * A notification (breach notify) is approved the same way, bound to the
 * exact set of people it will write to; so is a share (fields of people
 * sent to a partner), bound to its people and the exact fields, and so is a
 * retention run that destroys more people than the threshold (bound to its
 * purpose).
 *
 * Stored as documents "approval" / id:
 *   {"requester","action","purpose","case","classes","digest","people",
 *    "created","expires","approved_by","approved_at"}
 * where digest is the keyed digest of a search's terms or of a
 * notification's or share's people (and a share's fields) (hex; "" for
 * an export), so nothing stored names a person; people is how many a
 * notification or share names (0 otherwise); a share also has "fields",
 * its list of fields (names of fields, not their values).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "vault_int.h"

#define KIND_APPROVAL "approval"

static uint64_t now_unix(void)
{
    time_t t = time(NULL);
    return t > 0 ? (uint64_t)t : 0;
}

sr_status vault_search_digest(sr_vault *v, const char *family, const char *dob,
                              char hex[VAULT_DIGEST_HEX])
{
    char norm[RECORD_NAME_NORM_CAP], text[RECORD_NAME_NORM_CAP + 32];
    uint8_t d[CRYPTO_QUERY_DIGEST_BYTES];
    sr_status st = vault_name_dob_terms(v, family, dob, norm);
    if (st != SR_OK)
        return st;
    int n = snprintf(text, sizeof text, "find.name\n%s\n%s", norm, dob);
    crypto_query_digest(v->keys, (const uint8_t *)text, (size_t)n, d);
    hex_encode(hex, d, sizeof d);
    sodium_memzero(norm, sizeof norm);
    sodium_memzero(text, sizeof text);
    return SR_OK;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, SR_ID_BYTES);
}

/* The keyed digest of a set of people (in any order, none twice), under
 * label: what an approval for them is bound to. what names the request in
 * messages. */
static sr_status ids_digest(sr_vault *v, const char *label, const char *what,
                            size_t max, const uint8_t (*ids)[SR_ID_BYTES],
                            size_t n, char hex[VAULT_DIGEST_HEX])
{
    uint8_t d[CRYPTO_QUERY_DIGEST_BYTES];
    uint8_t(*sorted)[SR_ID_BYTES] = NULL;
    if (n == 0 || ids == NULL)
        return vault_fail(v, SR_ERR_INVALID, "a %s names no people", what);
    if (n > max)
        return vault_fail(v, SR_ERR_INVALID, "a %s names at most %zu people",
                          what, max);
    sorted = malloc(n * SR_ID_BYTES);
    if (sorted == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    memcpy(sorted, ids, n * SR_ID_BYTES);
    qsort(sorted, n, SR_ID_BYTES, cmp_id);
    for (size_t i = 1; i < n; i++)
        if (memcmp(sorted[i - 1], sorted[i], SR_ID_BYTES) == 0) {
            char id[SR_ID_STR_LEN + 1];
            hex_encode(id, sorted[i], SR_ID_BYTES);
            free(sorted);
            return vault_fail(v, SR_ERR_INVALID,
                              "person %s is named twice in the %s", id, what);
        }
    crypto_ids_digest(v->keys, label, (const uint8_t(*)[SR_ID_BYTES])sorted, n,
                      d);
    free(sorted);
    hex_encode(hex, d, sizeof d);
    return SR_OK;
}

sr_status vault_people_digest(sr_vault *v, const uint8_t (*ids)[SR_ID_BYTES],
                              size_t n, char hex[VAULT_DIGEST_HEX])
{
    return ids_digest(v, "notify", "notification", SR_NOTIFY_PEOPLE_MAX, ids, n,
                      hex);
}

sr_status vault_share_digest(sr_vault *v, const record_fields *f,
                             const uint8_t (*ids)[SR_ID_BYTES], size_t n,
                             char hex[VAULT_DIGEST_HEX])
{
    char label[RECORD_FIELDS_TEXT_MAX + 8];
    (void)snprintf(label, sizeof label, "share\n%s", f->canon);
    return ids_digest(v, label, "share", SR_SHARE_PEOPLE_MAX, ids, n, hex);
}

sr_status vault_share_fields(sr_vault *v, const char *list, record_fields *f)
{
    char why[RECORD_FIELDS_REASON];
    if (list == NULL || !record_fields_parse(list, strlen(list), f, why))
        return vault_fail(v, SR_ERR_INVALID, "the fields to share: %s",
                          list == NULL ? "none named" : why);
    return SR_OK;
}

static policy_action action_of(const char *name)
{
    if (strcmp(name, "export") == 0)
        return POLICY_EXPORT;
    if (strcmp(name, "retention.run") == 0)
        return POLICY_SHRED;
    return strcmp(name, "notify") == 0 || strcmp(name, "share") == 0
               ? POLICY_GET
               : POLICY_FIND;
}

sr_status sr_vault_approval_request(sr_vault *v, const sr_approval_spec *q,
                                    char id[SR_APPROVAL_ID_MAX])
{
    char digest[VAULT_DIGEST_HEX] = "";
    char detail[ENTRY_TEXT_MAX];
    unsigned granted;
    id[0] = '\0';
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    if (q == NULL || q->action == NULL ||
        (strcmp(q->action, "export") != 0 &&
         strcmp(q->action, "find.name") != 0 &&
         strcmp(q->action, "notify") != 0 && strcmp(q->action, "share") != 0 &&
         strcmp(q->action, "retention.run") != 0))
        return vault_fail(v, SR_ERR_INVALID,
                          "an approval is for \"export\", \"find.name\", "
                          "\"notify\", \"share\" or \"retention.run\"");
    if (q->ttl > SR_MAX_APPROVAL_TTL)
        return vault_fail(v, SR_ERR_INVALID,
                          "an approval lasts at most %u seconds (7 days)",
                          SR_MAX_APPROVAL_TTL);
    bool search = strcmp(q->action, "find.name") == 0;
    bool notify = strcmp(q->action, "notify") == 0;
    bool share = strcmp(q->action, "share") == 0;
    record_fields f;
    unsigned classes = q->classes;
    sr_status st = SR_OK;
    if (share != (q->fields != NULL))
        return vault_fail(v, SR_ERR_INVALID,
                          "a share's approval names its fields, and only a "
                          "share's");
    if (share && q->classes != 0)
        return vault_fail(v, SR_ERR_INVALID,
                          "a share's classes are those of its fields");
    if (share && (st = vault_share_fields(v, q->fields, &f)) != SR_OK)
        return st;
    if (share)
        classes = f.classes;
    if ((search || strcmp(q->action, "retention.run") == 0) && q->classes != 0)
        return vault_fail(v, SR_ERR_INVALID,
                          "a search's or a retention run's approval names no "
                          "classes");
    if (!search && (q->family != NULL || q->dob != NULL))
        return vault_fail(v, SR_ERR_INVALID,
                          "only a search's approval names a search");
    if (!notify && !share && q->people != NULL)
        return vault_fail(v, SR_ERR_INVALID,
                          "only a notification's or a share's approval "
                          "names people");
    if (notify && q->classes != SR_NOTIFY_CLASSES)
        return vault_fail(v, SR_ERR_INVALID,
                          "a notification reads the name and contact classes");
    if (notify &&
        (q->purpose == NULL || strcmp(q->purpose, SR_NOTIFY_PURPOSE) != 0))
        return vault_fail(v, SR_ERR_INVALID,
                          "a notification is for purpose " SR_NOTIFY_PURPOSE);
    if (search)
        st = vault_search_digest(v, q->family, q->dob, digest);
    else if (notify)
        st = vault_people_digest(v, q->people, q->npeople, digest);
    else if (share)
        st = vault_share_digest(v, &f, q->people, q->npeople, digest);
    if (st != SR_OK)
        return st;
    /* The requester must be allowed the action itself: the policy decides
     * (and logs a denial) as if it were run now. */
    sr_access acc = {q->purpose, q->case_id, NULL};
    access_req r = {action_of(q->action), "approval.request", &acc, NULL,
                    classes};
    /* A share: the requester must be allowed each person (a caseload
     * role: each on the case). */
    for (size_t i = 0; share && i < q->npeople && st == SR_OK; i++) {
        r.person = q->people[i];
        st = vault_authorize(v, &r, &granted);
    }
    r.person = NULL;
    if (!share)
        st = vault_authorize(v, &r, &granted);
    if (st != SR_OK)
        return st;
    uint8_t raw[8];
    randombytes_buf(raw, sizeof raw);
    hex_encode(id, raw, sizeof raw);
    uint64_t now = now_unix();
    uint64_t ttl = q->ttl != 0 ? q->ttl : SR_DEFAULT_APPROVAL_TTL;
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:s, s:I}", "requester",
        v->principal, "action", q->action, "purpose", q->purpose, "case",
        q->case_id != NULL ? q->case_id : "", "classes", (int)classes, "digest",
        digest, "people", (json_int_t)(notify || share ? q->npeople : 0),
        "created", (json_int_t)now, "expires", (json_int_t)(now + ttl),
        "approved_by", "", "approved_at", (json_int_t)0);
    /* The approver sees which fields will leave (never whose). */
    if (doc != NULL && share &&
        json_object_set_new(doc, "fields", json_string(f.canon)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    if (doc == NULL)
        return vault_fail(v, SR_ERR_NOMEM, "out of memory");
    (void)snprintf(detail, sizeof detail, "approval %s for %s", id, q->action);
    st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, classes, detail, 0, NULL, 0);
    if (st == SR_OK) {
        st = vault_doc_save(v, KIND_APPROVAL, id, doc, true);
        if (st != SR_OK)
            st = vault_store_fail(v, st, "cannot store the approval request");
    }
    json_decref(doc);
    if (st != SR_OK)
        id[0] = '\0';
    return st;
}

static bool id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n != SR_APPROVAL_ID_MAX - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

static sr_status approval_load(sr_vault *v, const char *id, json_t **doc)
{
    *doc = NULL;
    if (!id_ok(id))
        return vault_fail(v, SR_ERR_INVALID,
                          "an approval id is 16 hexadecimal digits");
    sr_status st = vault_doc_load(v, KIND_APPROVAL, id, doc);
    if (st == SR_ERR_NOT_FOUND)
        return vault_fail(v, st, "no approval %s", id);
    if (st != SR_OK)
        return vault_store_fail(v, st, "cannot read the approval");
    return SR_OK;
}

static uint64_t jint(const json_t *o, const char *k)
{
    json_int_t x = json_integer_value(json_object_get(o, k));
    return x > 0 ? (uint64_t)x : 0;
}

sr_status sr_vault_approval_approve(sr_vault *v, const char *id)
{
    access_req r;
    json_t *doc = NULL;
    char detail[ENTRY_TEXT_MAX];
    unsigned granted;
    if (!v->writable)
        return vault_fail(v, SR_ERR_INVALID, "the vault was opened read-only");
    memset(&r, 0, sizeof r);
    r.action = POLICY_APPROVE;
    r.name = "approval.approve";
    sr_status st = vault_authorize(v, &r, &granted);
    if (st == SR_OK)
        st = approval_load(v, id, &doc);
    if (st != SR_OK)
        return st;
    const char *requester = vault_jstr(doc, "requester");
    (void)snprintf(detail, sizeof detail, "approval %s, requested by %s", id,
                   requester);
    if (strcmp(requester, v->principal) == 0) {
        st = vault_deny(v, &r, "approval.self", detail, NULL, 0);
        if (st == SR_OK)
            st = vault_fail(v, SR_ERR_DENIED,
                            "denied by rule approval.self: a request is "
                            "approved by a second person, not by the one "
                            "who asked");
    } else if (vault_jstr(doc, "approved_by")[0] != '\0') {
        st = vault_fail(v, SR_ERR_EXISTS, "approval %s was approved by %s", id,
                        vault_jstr(doc, "approved_by"));
    } else if (jint(doc, "expires") <= now_unix()) {
        st = vault_fail(v, SR_ERR_INVALID, "approval %s has expired", id);
    } else {
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, detail, 0, NULL, 0);
        if (st == SR_OK &&
            (json_object_set_new(doc, "approved_by",
                                 json_string(v->principal)) != 0 ||
             json_object_set_new(doc, "approved_at",
                                 json_integer((json_int_t)now_unix())) != 0))
            st = vault_fail(v, SR_ERR_NOMEM, "out of memory");
        if (st == SR_OK &&
            (st = vault_doc_save(v, KIND_APPROVAL, id, doc, false)) != SR_OK)
            st = vault_store_fail(v, st, "cannot store the approval");
    }
    json_decref(doc);
    return st;
}

/* Why approval doc does not cover request r (by the authenticated
 * principal, with the search digest, "" for an export), or NULL if it
 * does. */
static const char *mismatch(sr_vault *v, const json_t *doc, const access_req *r,
                            const char *digest)
{
    const sr_access *acc = r->acc;
    if (vault_jstr(doc, "approved_by")[0] == '\0')
        return "it is not approved yet";
    if (strcmp(vault_jstr(doc, "requester"), v->principal) != 0)
        return "it was asked for by another principal";
    if (jint(doc, "expires") <= now_unix())
        return "it has expired";
    if (strcmp(vault_jstr(doc, "action"), r->name) != 0)
        return "it is for another action";
    if (strcmp(vault_jstr(doc, "purpose"),
               acc->purpose != NULL ? acc->purpose : "") != 0)
        return "it is for another purpose";
    if (strcmp(vault_jstr(doc, "case"),
               acc->case_id != NULL ? acc->case_id : "") != 0)
        return "it is for another case";
    if (jint(doc, "classes") != r->classes)
        return "it is for other field classes";
    const char *want = vault_jstr(doc, "digest");
    if (strlen(want) != strlen(digest) ||
        sodium_memcmp(want, digest, strlen(digest)) != 0)
        return strcmp(r->name, "notify") == 0  ? "it is for other people"
               : strcmp(r->name, "share") == 0 ? "it is for other people or "
                                                 "fields"
                                               : "it is for another search";
    return NULL;
}

sr_status vault_approval_check(sr_vault *v, const access_req *r,
                               const char *digest, char detail[ENTRY_TEXT_MAX])
{
    const char *id = r->acc != NULL ? r->acc->approval : NULL;
    json_t *doc = NULL;
    detail[0] = '\0';
    if (id == NULL || id[0] == '\0') {
        sr_status st = vault_deny(v, r, "approval.required", "", NULL, 0);
        if (st != SR_OK)
            return st;
        return vault_fail(v, SR_ERR_DENIED,
                          "denied by rule approval.required: %s needs a "
                          "second person's approval (strongroom approval "
                          "request, then approve by another principal)",
                          r->name);
    }
    sr_status st = approval_load(v, id, &doc);
    if (st != SR_OK)
        return st;
    const char *why = mismatch(v, doc, r, digest);
    json_decref(doc);
    (void)snprintf(detail, ENTRY_TEXT_MAX, "approval %s", id);
    if (why == NULL)
        return SR_OK;
    st = vault_deny(v, r, "approval.invalid", detail, NULL, 0);
    if (st != SR_OK)
        return st;
    return vault_fail(v, SR_ERR_DENIED,
                      "denied by rule approval.invalid: approval %s does not "
                      "cover this request: %s",
                      id, why);
}

static sr_status list_doc(void *ctx, const char *key, const uint8_t *p,
                          size_t len)
{
    vault_lines *l = ctx;
    json_error_t jerr;
    json_t *d = json_loadb((const char *)p, len, 0, &jerr);
    if (d == NULL)
        return vault_fail(l->v, SR_ERR_CORRUPT, "a stored approval is damaged");
    (void)json_object_del(d, "digest");
    if (json_object_set_new(d, "id", json_string(key)) != 0) {
        json_decref(d);
        return vault_fail(l->v, SR_ERR_NOMEM, "out of memory");
    }
    return vault_emit(l->v, d, l->fn, l->ctx);
}

sr_status sr_vault_approval_list(sr_vault *v, sr_line_fn fn, void *ctx)
{
    vault_lines l = {v, fn, ctx};
    return vault_list_docs(v, POLICY_APPROVE, "approval.list", KIND_APPROVAL,
                           list_doc, &l);
}
