/* SPDX-License-Identifier: Apache-2.0 */
/*
 * misc.c - status and class names, the wiping allocator for jansson, the
 * monotonic clock, and library start-up.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "strongroom/strongroom.h"
#include "util.h"

const char *sr_status_str(sr_status s)
{
    switch (s) {
    case SR_OK:
        return "ok";
    case SR_ERR_INVALID:
        return "invalid input";
    case SR_ERR_NOT_FOUND:
        return "not found";
    case SR_ERR_DUPLICATE:
        return "duplicate";
    case SR_ERR_AUTH:
        return "authentication failed";
    case SR_ERR_CORRUPT:
        return "corrupted data";
    case SR_ERR_LOCKED:
        return "vault locked";
    case SR_ERR_FULL:
        return "disk full";
    case SR_ERR_IO:
        return "I/O error";
    case SR_ERR_NOMEM:
        return "out of memory";
    case SR_ERR_VERSION:
        return "unsupported version";
    case SR_ERR_EXISTS:
        return "already exists";
    case SR_ERR_NOT_VAULT:
        return "not a vault";
    case SR_ERR_CONFLICT:
        return "conflict";
    case SR_ERR_INTERNAL:
        return "internal error";
    case SR_ERR_DENIED:
        return "access denied";
    case SR_ERR_AUDIT:
        return "audit log unavailable";
    }
    return "unknown status";
}

static const char *const class_names[SR_CLASS_COUNT] = {
    "identity", "name", "contact", "employment", "investigation", "biometric"};

const char *sr_class_name(sr_class c)
{
    if ((unsigned)c >= SR_CLASS_COUNT)
        return NULL;
    return class_names[c];
}

sr_status sr_class_parse(const char *name, sr_class *out)
{
    for (unsigned i = 0; i < SR_CLASS_COUNT; i++) {
        if (strcmp(name, class_names[i]) == 0) {
            *out = (sr_class)i;
            return SR_OK;
        }
    }
    return SR_ERR_INVALID;
}

/* jansson frees without a size, so each block carries its size in a
 * header, aligned for any type. */
typedef union {
    size_t n;
    max_align_t align;
} block_head;

static void *wiping_malloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(block_head))
        return NULL;
    block_head *h = malloc(sizeof(block_head) + n);
    if (h == NULL)
        return NULL;
    h->n = n;
    return h + 1;
}

static void wiping_free(void *p)
{
    if (p == NULL)
        return;
    block_head *h = (block_head *)p - 1;
    sodium_memzero(p, h->n);
    free(h);
}

void json_install_wiping_allocator(void)
{
    json_set_alloc_funcs(wiping_malloc, wiping_free);
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

sr_status sr_init(void)
{
    if (sodium_init() < 0)
        return SR_ERR_INTERNAL;
    json_install_wiping_allocator();
    return SR_OK;
}

char *json_to_text(const json_t *o, size_t flags)
{
    size_t n = json_dumpb(o, NULL, 0, flags);
    char *p = n > 0 ? malloc(n + 1) : NULL;
    if (p == NULL || json_dumpb(o, p, n, flags) != n) {
        free(p);
        return NULL;
    }
    p[n] = '\0';
    return p;
}
