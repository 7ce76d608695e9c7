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

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>

#include "alert/alert.h"
#include "strongroom/vault.h"
#include "util/util.h"

static uint64_t alert_counts[SR_ALERT_KINDS];
static uint64_t webhook_failures;

/* Room for the webhook's URL, with its NUL. */
#define ALERT_URL_MAX 2048

static const char *const kind_names[SR_ALERT_KINDS] = {
    "principal.frozen", "principal.unfrozen", "other"};

static unsigned kind_index(const char *kind)
{
    for (unsigned i = 0; i + 1 < SR_ALERT_KINDS; i++)
        if (strcmp(kind, kind_names[i]) == 0)
            return i;
    return SR_ALERT_KINDS - 1;
}

/* ---- the webhook ----------------------------------------------------------
 */

static void curl_start(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The webhook's URL: $STRONGROOM_ALERT_WEBHOOK, else the first line of
 * <vault>/alerts/webhook; "" for none. */
static void webhook_url(const char *vault_dir, char url[ALERT_URL_MAX])
{
    url[0] = '\0';
    const char *env = getenv("STRONGROOM_ALERT_WEBHOOK");
    if (env != NULL && env[0] != '\0') {
        (void)snprintf(url, ALERT_URL_MAX, "%s", env);
        return;
    }
    char path[4096];
    if (snprintf(path, sizeof path, "%s/alerts/webhook", vault_dir) >=
        (int)sizeof path)
        return;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    if (fgets(url, ALERT_URL_MAX, f) == NULL)
        url[0] = '\0';
    (void)fclose(f);
    url[strcspn(url, "\r\n")] = '\0';
}

/* POST the alert's JSON line to the webhook, if one is set: at most a
 * second, http or https only, no redirects. A failure is reported to
 * syslog and counted; the alert itself is already on disk and in syslog,
 * so it does not fail the call. */
static void webhook(const char *vault_dir, const char *line, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    char url[ALERT_URL_MAX], err[CURL_ERROR_SIZE] = "";
    webhook_url(vault_dir, url);
    if (url[0] == '\0')
        return;
    (void)pthread_once(&once, curl_start);
    CURL *c = curl_easy_init();
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/json");
    CURLcode rc = c != NULL && h != NULL ? CURLE_OK : CURLE_OUT_OF_MEMORY;
    long status = 0;
    if (rc == CURLE_OK) {
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        (void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
        (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, line);
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
            (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    if (rc != CURLE_OK || status < 200 || status > 299) {
        __atomic_fetch_add(&webhook_failures, 1, __ATOMIC_RELAXED);
        syslog(LOG_AUTH | LOG_WARNING,
               "strongroom alert webhook failed: %s (HTTP %ld)",
               err[0] != '\0' ? err : curl_easy_strerror(rc), status);
    }
    curl_slist_free_all(h);
    if (c != NULL)
        curl_easy_cleanup(c);
}

uint64_t sr_alert_webhook_failures(void)
{
    return __atomic_load_n(&webhook_failures, __ATOMIC_RELAXED);
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
    line[len] = '\0';
    webhook(vault_dir, line, len);
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
