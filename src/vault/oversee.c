/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oversee.c - what a security officer watches (the "freeze" action): each
 * principal's state (frozen, and its use of its read budget against the
 * limits of its role), and the alerts the vault has raised. Both name
 * principals, rules and audit entries, never a person; both are logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault_int.h"

#define KIND_PRINCIPAL "principal"

/* The alert file is read from its last ALERT_TAIL_BYTES at most. */
#define ALERT_TAIL_BYTES (1u << 20)

static sr_status watch_line(void *ctx, const char *key, const uint8_t *p,
                            size_t len)
{
    vault_lines *l = ctx;
    json_error_t jerr;
    watch_usage u;
    policy_budget b;
    json_t *d = json_loadb((const char *)p, len, 0, &jerr);
    if (d == NULL)
        return vault_fail(l->v, SR_ERR_CORRUPT,
                          "a stored principal is damaged");
    sr_status st = vault_watch_usage(l->v, key, &u);
    if (st != SR_OK) {
        json_decref(d);
        return st;
    }
    const char *role = vault_jstr(d, "role");
    json_t *budget =
        policy_role_budget(l->v->pol, role, &b)
            ? json_pack("{s:I, s:I, s:I}", "people_per_hour",
                        (json_int_t)b.people_per_hour, "people_per_day",
                        (json_int_t)b.people_per_day, "searches_per_hour",
                        (json_int_t)b.searches_per_hour)
            : json_null();
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:o}", "name", key,
                  "role", role, "kind", vault_jstr(d, "kind"), "disabled",
                  json_is_true(json_object_get(d, "disabled")), "frozen",
                  u.frozen, "people_hour", (json_int_t)u.people_hour,
                  "people_day", (json_int_t)u.people_day, "searches_hour",
                  (json_int_t)u.searches_hour, "budget", budget);
    json_decref(d);
    if (o != NULL && u.frozen &&
        (json_object_set_new(o, "frozen_reason", json_string(u.reason)) != 0 ||
         json_object_set_new(o, "frozen_at_ms",
                             json_integer((json_int_t)u.frozen_ms)) != 0)) {
        json_decref(o);
        o = NULL;
    }
    if (o == NULL)
        return vault_fail(l->v, SR_ERR_NOMEM, "out of memory");
    return vault_emit(l->v, o, l->fn, l->ctx);
}

sr_status sr_vault_watch_list(sr_vault *v, sr_line_fn fn, void *ctx)
{
    vault_lines l = {v, fn, ctx};
    return vault_list_docs(v, POLICY_FREEZE, "watch.list", KIND_PRINCIPAL,
                           watch_line, &l);
}

sr_status sr_vault_alert_list(sr_vault *v, size_t limit, sr_line_fn fn,
                              void *ctx)
{
    char path[4096];
    struct stat sb;
    unsigned granted;
    access_req r = {POLICY_FREEZE, "alert.list", NULL, NULL, 0};
    if (limit == 0 || limit > SR_ALERT_LIST_MAX)
        limit = SR_ALERT_LIST_MAX;
    sr_status st = vault_authorize(v, &r, &granted);
    if (st == SR_OK)
        st = vault_record(v, &r, ENTRY_ALLOWED, SR_OK, 0, "", 0, NULL, 0);
    if (st != SR_OK)
        return st;
    int n = snprintf(path, sizeof path, "%s/alerts/alerts.jsonl", v->dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return vault_fail(v, SR_ERR_INVALID, "the vault's path is too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return SR_OK; /* no alert yet */
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        if (fd >= 0)
            (void)close(fd);
        return vault_fail(v, SR_ERR_IO, "cannot read %s: %s", path,
                          strerror(e));
    }
    off_t start = sb.st_size > (off_t)ALERT_TAIL_BYTES
                      ? sb.st_size - ALERT_TAIL_BYTES
                      : 0;
    size_t want = (size_t)(sb.st_size - start);
    char *buf = malloc(want + 1);
    ssize_t got = buf != NULL ? pread(fd, buf, want, start) : -1;
    int e = errno;
    (void)close(fd);
    if (buf == NULL || got < 0) {
        free(buf);
        return vault_fail(v, buf == NULL ? SR_ERR_NOMEM : SR_ERR_IO,
                          "cannot read %s: %s", path, strerror(e));
    }
    /* Whole lines only: from the first after a cut, up to the last newline
     * (a line being appended is not one yet). */
    size_t end = (size_t)got;
    while (end > 0 && buf[end - 1] != '\n')
        end--;
    size_t from = 0;
    if (start > 0) {
        char *nl = memchr(buf, '\n', end);
        from = nl != NULL ? (size_t)(nl - buf) + 1 : end;
    }
    /* The last `limit` lines, oldest first. */
    size_t lines = 0, at = end;
    while (at > from && lines < limit) {
        size_t s = at - 1;
        while (s > from && buf[s - 1] != '\n')
            s--;
        lines++;
        at = s;
    }
    for (size_t i = at; i < end && st == SR_OK;) {
        char *nl = memchr(buf + i, '\n', end - i);
        size_t len = (size_t)(nl - (buf + i));
        json_error_t jerr;
        json_t *o = json_loadb(buf + i, len, 0, &jerr);
        if (json_is_object(o))
            st = vault_emit(v, o, fn, ctx);
        else
            json_decref(o); /* a damaged line is skipped */
        i += len + 1;
    }
    free(buf);
    return st;
}
