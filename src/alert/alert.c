/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert.c - see alert.h. The file is opened with O_APPEND for each alert
 * (alerts are rare: a whole line lands at the end even when several
 * processes write) and synced, so a responder tailing it sees every alert
 * that was raised, in order, within the second.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alert/alert.h"
#include "strongroom/vault.h"
#include "util/util.h"

static uint64_t alert_counts[SR_ALERT_KINDS];

static const char *const kind_names[SR_ALERT_KINDS] = {
    "principal.frozen", "principal.unfrozen", "other"};

static unsigned kind_index(const char *kind)
{
    for (unsigned i = 0; i + 1 < SR_ALERT_KINDS; i++)
        if (strcmp(kind, kind_names[i]) == 0)
            return i;
    return SR_ALERT_KINDS - 1;
}

sr_status alert_emit(const char *vault_dir, const alert *a)
{
    char path[4096], dir[4096], when[32];
    struct timespec ts;
    struct tm tm;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)gmtime_r(&ts.tv_sec, &tm);
    (void)strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char stamp[48];
    (void)snprintf(stamp, sizeof stamp, "%s.%03ldZ", when,
                   ts.tv_nsec / 1000000L);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", stamp, "kind", a->kind,
                  "principal", a->principal, "by", a->by != NULL ? a->by : "",
                  "reason", a->reason != NULL ? a->reason : "");
    if (o != NULL && a->entry != UINT64_MAX)
        (void)json_object_set_new(o, "entry",
                                  json_integer((json_int_t)a->entry));
    char *line = o != NULL ? json_to_text(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (line == NULL)
        return SR_ERR_NOMEM;
    __atomic_fetch_add(&alert_counts[kind_index(a->kind)], 1, __ATOMIC_RELAXED);
    syslog(LOG_AUTH | LOG_ALERT, "strongroom alert %s", line);

    sr_status st = SR_OK;
    int n1 = snprintf(dir, sizeof dir, "%s/alerts", vault_dir);
    int n2 = snprintf(path, sizeof path, "%s/alerts/alerts.jsonl", vault_dir);
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof path) {
        free(line);
        return SR_ERR_INVALID;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        free(line);
        return SR_ERR_IO;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    size_t len = strlen(line);
    line[len] = '\n'; /* json_to_text left room for the NUL */
    if (fd < 0 || write(fd, line, len + 1) != (ssize_t)(len + 1) ||
        fdatasync(fd) != 0)
        st = SR_ERR_IO;
    int e = errno;
    if (fd >= 0)
        (void)close(fd);
    free(line);
    errno = e;
    return st;
}

void sr_alert_counts(uint64_t out[SR_ALERT_KINDS])
{
    for (unsigned i = 0; i < SR_ALERT_KINDS; i++)
        out[i] = __atomic_load_n(&alert_counts[i], __ATOMIC_RELAXED);
}

const char *sr_alert_kind_name(unsigned i)
{
    return i < SR_ALERT_KINDS ? kind_names[i] : NULL;
}
