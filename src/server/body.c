/* SPDX-License-Identifier: Apache-2.0 */
/*
 * body.c - request bodies: one JSON object, and its members checked one by
 * one. Every failure names where (line and column, or the member's JSON
 * pointer) and never echoes a value: a body may hold an SSN.
 */
#include <stdio.h>
#include <string.h>

#include "server/server.h"

#define BODY_DEPTH_NOTE "the body must be one JSON object"

bool body_object(const char *data, size_t len, json_t **out,
                 char err[SRV_ERR_MAX])
{
    json_error_t je;
    *out = NULL;
    if (data == NULL || len == 0) {
        (void)snprintf(err, SRV_ERR_MAX, "the body is empty; %s",
                       BODY_DEPTH_NOTE);
        return false;
    }
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        /* jansson's text may quote the input: keep only the position and
         * a fixed reason. */
        (void)snprintf(err, SRV_ERR_MAX,
                       "line %d column %d: the body is not valid JSON", je.line,
                       je.column);
        return false;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        (void)snprintf(err, SRV_ERR_MAX, "%s", BODY_DEPTH_NOTE);
        return false;
    }
    *out = o;
    return true;
}

/* Member names in messages: ours are short ASCII; print others as "?" so
 * attacker text never reaches a log. An unknown name is printed only up to
 * 8 bytes (a typo of a short name): a longer one may be a value sent as a
 * key (an SSN is 9 digits). */
static const char *safe_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 8)
        return "?";
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_' ||
              (name[i] >= '0' && name[i] <= '9')))
            return "?";
    return name;
}

bool body_string(const json_t *o, const char *name, bool required, size_t max,
                 const char **out, char err[SRV_ERR_MAX])
{
    const json_t *m = json_object_get(o, name);
    *out = NULL;
    if (m == NULL || json_is_null(m)) {
        if (!required)
            return true;
        (void)snprintf(err, SRV_ERR_MAX, "/%s: required", name);
        return false;
    }
    if (!json_is_string(m)) {
        (void)snprintf(err, SRV_ERR_MAX, "/%s: must be a string", name);
        return false;
    }
    size_t n = json_string_length(m);
    const char *s = json_string_value(m);
    if (n == 0 || n > max) {
        (void)snprintf(err, SRV_ERR_MAX, "/%s: must be 1 to %zu bytes", name,
                       max);
        return false;
    }
    if (memchr(s, '\0', n) != NULL) {
        (void)snprintf(err, SRV_ERR_MAX, "/%s: must not hold a NUL", name);
        return false;
    }
    *out = s;
    return true;
}

bool body_bool(const json_t *o, const char *name, bool *out,
               char err[SRV_ERR_MAX])
{
    const json_t *m = json_object_get(o, name);
    if (m == NULL || json_is_null(m))
        return true;
    if (!json_is_boolean(m)) {
        (void)snprintf(err, SRV_ERR_MAX, "/%s: must be true or false", name);
        return false;
    }
    *out = json_is_true(m);
    return true;
}

bool body_uint(const json_t *o, const char *name, uint64_t max, bool *present,
               uint64_t *out, char err[SRV_ERR_MAX])
{
    const json_t *m = json_object_get(o, name);
    if (present != NULL)
        *present = false;
    if (m == NULL || json_is_null(m))
        return true;
    if (!json_is_integer(m) || json_integer_value(m) < 0 ||
        (uint64_t)json_integer_value(m) > max) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "/%s: must be a whole number from 0 to %llu", name,
                       (unsigned long long)max);
        return false;
    }
    *out = (uint64_t)json_integer_value(m);
    if (present != NULL)
        *present = true;
    return true;
}

bool body_only(const json_t *o, const char *const *allowed,
               char err[SRV_ERR_MAX])
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)o, key, value) {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            (void)snprintf(err, SRV_ERR_MAX, "/%s: unknown member",
                           safe_name(key));
            return false;
        }
    }
    return true;
}

bool body_classes(const json_t *o, unsigned *mask, char err[SRV_ERR_MAX])
{
    const json_t *a = json_object_get(o, "classes");
    *mask = 0;
    if (a == NULL || json_is_null(a))
        return true;
    if (!json_is_array(a) || json_array_size(a) == 0 ||
        json_array_size(a) > SR_CLASS_COUNT) {
        (void)snprintf(err, SRV_ERR_MAX,
                       "/classes: must be an array of 1 to %d class names",
                       (int)SR_CLASS_COUNT);
        return false;
    }
    size_t i;
    const json_t *c;
    json_array_foreach(a, i, c) {
        sr_class k;
        if (!json_is_string(c) ||
            sr_class_parse(json_string_value(c), &k) != SR_OK) {
            (void)snprintf(err, SRV_ERR_MAX, "/classes/%zu: not a class name",
                           i);
            return false;
        }
        *mask |= SR_CLASS_BIT(k);
    }
    return true;
}
