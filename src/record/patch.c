/* SPDX-License-Identifier: Apache-2.0 */
/*
 * patch.c - RFC 7386 JSON merge patch, applied in place to a person.
 *
 * Section 2 of the RFC, verbatim in behaviour: null deletes a member,
 * objects merge recursively, anything else replaces. Values taken from
 * the patch are deep-copied so the target never shares nodes with the
 * caller's patch (a later edit of one must not change the other). On an
 * error (out of memory, nesting past 2048) the target may be half patched;
 * the caller discards it.
 */
#include "record/schema.h"

/* jansson's parser stops at 2048 levels; a patch built in memory could be
 * deeper, and the recursion must stay bounded. */
#define PATCH_MAX_DEPTH 2048

/* MergePatch({}, patch) for an object patch: a copy with nulls removed. */
static json_t *patch_fresh(const json_t *patch, unsigned depth);

static sr_status patch_into(json_t *target, const json_t *patch, unsigned depth)
{
    if (depth > PATCH_MAX_DEPTH)
        return SR_ERR_INVALID;
    const char *key;
    json_t *val;
    json_t *po = (json_t *)(uintptr_t)patch; /* foreach wants non-const */
    json_object_foreach(po, key, val) {
        if (json_is_null(val)) {
            (void)json_object_del(target, key); /* absent is fine too */
            continue;
        }
        json_t *cur = json_object_get(target, key);
        if (json_is_object(val) && json_is_object(cur)) {
            sr_status st = patch_into(cur, val, depth + 1);
            if (st != SR_OK)
                return st;
            continue;
        }
        json_t *nv = json_is_object(val) ? patch_fresh(val, depth + 1)
                                         : json_deep_copy(val);
        if (nv == NULL)
            return depth + 1 > PATCH_MAX_DEPTH ? SR_ERR_INVALID : SR_ERR_NOMEM;
        if (json_object_set_new(target, key, nv) != 0)
            return SR_ERR_NOMEM;
    }
    return SR_OK;
}

static json_t *patch_fresh(const json_t *patch, unsigned depth)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (patch_into(o, patch, depth) != SR_OK) {
        json_decref(o);
        return NULL;
    }
    return o;
}

sr_status record_merge_patch(json_t *target, const json_t *patch,
                             record_error *err)
{
    if (!json_is_object(target)) {
        record_fail(err, NULL, "target must be an object");
        return SR_ERR_INVALID;
    }
    if (!json_is_object(patch)) {
        /* RFC 7386: a non-object patch replaces the target, and a person
         * replaced by a non-object is no person. */
        record_fail(err, NULL, "merge patch must be an object");
        return SR_ERR_INVALID;
    }
    sr_status st = patch_into(target, patch, 0);
    if (st == SR_ERR_INVALID)
        record_fail(err, NULL, "merge patch nested too deeply");
    else if (st != SR_OK)
        record_fail(err, NULL, "out of memory");
    return st;
}
