/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - what /metrics shows, in the Prometheus text format 0.0.4:
 * requests by route and status, latency histograms by route, open
 * connections, authentication failures and policy denials, and the audit
 * log's append and sync latencies. Counters are atomic adds; rendering
 * reads them without stopping anyone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define MAX_ROUTES 64

/* The statuses we count by; others land in the last slot ("other"). */
static const unsigned status_codes[METRICS_STATUS_SLOTS] = {
    200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409, 411,
    413, 415, 422, 429, 431, 500, 501, 503, 505, 507, 0,   0};

static uint64_t requests[MAX_ROUTES + 1][METRICS_STATUS_SLOTS + 1];
static sr_latency latency[MAX_ROUTES + 1];
static int64_t open_connections;
static uint64_t connections_total;
static uint64_t auth_failures;
static uint64_t auth_throttled;
static uint64_t denials;

static unsigned status_slot(unsigned status)
{
    for (unsigned i = 0; i < METRICS_STATUS_SLOTS; i++)
        if (status_codes[i] == status && status != 0)
            return i;
    return METRICS_STATUS_SLOTS;
}

void metrics_request(unsigned rt, unsigned status, uint64_t ns)
{
    if (rt > MAX_ROUTES)
        rt = MAX_ROUTES;
    __atomic_fetch_add(&requests[rt][status_slot(status)], 1, __ATOMIC_RELAXED);
    sr_latency_observe(&latency[rt], ns);
}

void metrics_connection(int delta)
{
    __atomic_fetch_add(&open_connections, delta, __ATOMIC_RELAXED);
    if (delta > 0)
        __atomic_fetch_add(&connections_total, 1, __ATOMIC_RELAXED);
}

void metrics_auth_failure(void)
{
    __atomic_fetch_add(&auth_failures, 1, __ATOMIC_RELAXED);
}

void metrics_auth_throttled(void)
{
    __atomic_fetch_add(&auth_throttled, 1, __ATOMIC_RELAXED);
}

void metrics_denial(void)
{
    __atomic_fetch_add(&denials, 1, __ATOMIC_RELAXED);
}

static void histogram(strbuf *b, const char *name, const char *labels,
                      const sr_latency *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] != '\0' ? "," : "";
    for (unsigned i = 0; i < SR_LATENCY_BUCKETS; i++) {
        cum += h->bucket[i];
        sb_fmt(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
               (double)sr_latency_bound_ns(i) / 1e9, (unsigned long long)cum);
    }
    cum += h->over;
    sb_fmt(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
           (unsigned long long)cum);
    const char *open = labels[0] != '\0' ? "{" : "";
    const char *close = labels[0] != '\0' ? "}" : "";
    sb_fmt(b, "%s_sum%s%s%s %.9f\n", name, open, labels, close,
           (double)h->sum_ns / 1e9);
    sb_fmt(b, "%s_count%s%s%s %llu\n", name, open, labels, close,
           (unsigned long long)h->count);
}

char *metrics_render(const char *const *names, unsigned n, sr_vault *v,
                     size_t *len)
{
    strbuf b = {0};
    if (n > MAX_ROUTES)
        n = MAX_ROUTES;
    sb_str(&b, "# HELP strongroom_http_requests_total HTTP requests answered, "
               "by route and status.\n"
               "# TYPE strongroom_http_requests_total counter\n");
    for (unsigned r = 0; r <= n; r++) {
        const char *name = r < n ? names[r] : "unmatched";
        for (unsigned s = 0; s <= METRICS_STATUS_SLOTS; s++) {
            uint64_t x = __atomic_load_n(&requests[r < n ? r : MAX_ROUTES][s],
                                         __ATOMIC_RELAXED);
            if (x == 0)
                continue;
            if (s < METRICS_STATUS_SLOTS)
                sb_fmt(&b,
                       "strongroom_http_requests_total{route=\"%s\","
                       "status=\"%u\"} %llu\n",
                       name, status_codes[s], (unsigned long long)x);
            else
                sb_fmt(&b,
                       "strongroom_http_requests_total{route=\"%s\","
                       "status=\"other\"} %llu\n",
                       name, (unsigned long long)x);
        }
    }
    sb_str(&b, "# HELP strongroom_http_request_duration_seconds Time from "
               "a request's headers to its response, by route.\n"
               "# TYPE strongroom_http_request_duration_seconds histogram\n");
    for (unsigned r = 0; r <= n; r++) {
        sr_latency h;
        sr_latency_read(&latency[r < n ? r : MAX_ROUTES], &h);
        if (h.count == 0)
            continue;
        char labels[160];
        (void)snprintf(labels, sizeof labels, "route=\"%s\"",
                       r < n ? names[r] : "unmatched");
        histogram(&b, "strongroom_http_request_duration_seconds", labels, &h);
    }
    sb_fmt(&b,
           "# HELP strongroom_http_connections_open Connections open now.\n"
           "# TYPE strongroom_http_connections_open gauge\n"
           "strongroom_http_connections_open %lld\n"
           "# HELP strongroom_http_connections_total Connections accepted.\n"
           "# TYPE strongroom_http_connections_total counter\n"
           "strongroom_http_connections_total %llu\n",
           (long long)__atomic_load_n(&open_connections, __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&connections_total,
                                               __ATOMIC_RELAXED));
    sb_fmt(
        &b,
        "# HELP strongroom_auth_failures_total Requests refused for bad "
        "credentials.\n"
        "# TYPE strongroom_auth_failures_total counter\n"
        "strongroom_auth_failures_total %llu\n"
        "# HELP strongroom_auth_throttled_total Requests refused (429) from "
        "an address over auth-failures-per-minute.\n"
        "# TYPE strongroom_auth_throttled_total counter\n"
        "strongroom_auth_throttled_total %llu\n"
        "# HELP strongroom_denials_total Requests the policy refused.\n"
        "# TYPE strongroom_denials_total counter\n"
        "strongroom_denials_total %llu\n",
        (unsigned long long)__atomic_load_n(&auth_failures, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&auth_throttled, __ATOMIC_RELAXED),
        (unsigned long long)__atomic_load_n(&denials, __ATOMIC_RELAXED));
    sr_audit_stats as;
    if (v != NULL && sr_vault_audit_stats(v, &as) == SR_OK) {
        sb_fmt(&b,
               "# HELP strongroom_audit_entries Entries in the audit log.\n"
               "# TYPE strongroom_audit_entries gauge\n"
               "strongroom_audit_entries %llu\n"
               "# HELP strongroom_audit_syncs_total Journal syncs (each "
               "covers a batch of entries).\n"
               "# TYPE strongroom_audit_syncs_total counter\n"
               "strongroom_audit_syncs_total %llu\n",
               (unsigned long long)as.entries, (unsigned long long)as.batches);
        sb_str(&b, "# HELP strongroom_audit_append_seconds Time an entry "
                   "waits to be durable (queue, write, sync).\n"
                   "# TYPE strongroom_audit_append_seconds histogram\n");
        histogram(&b, "strongroom_audit_append_seconds", "", &as.append);
        sb_str(&b, "# HELP strongroom_audit_sync_seconds Time of one "
                   "journal fdatasync.\n"
                   "# TYPE strongroom_audit_sync_seconds histogram\n");
        histogram(&b, "strongroom_audit_sync_seconds", "", &as.sync);
    }
    uint64_t alerts[SR_ALERT_KINDS];
    sr_alert_counts(alerts);
    sb_str(&b, "# HELP strongroom_alerts_total Alerts raised by this "
               "process (alerts/alerts.jsonl and syslog), by kind.\n"
               "# TYPE strongroom_alerts_total counter\n");
    for (unsigned i = 0; i < SR_ALERT_KINDS; i++)
        sb_fmt(&b, "strongroom_alerts_total{kind=\"%s\"} %llu\n",
               sr_alert_kind_name(i), (unsigned long long)alerts[i]);
    sb_fmt(&b,
           "# HELP strongroom_alert_webhook_failures_total Alerts this "
           "process could not POST to the webhook (still in the file and "
           "syslog).\n"
           "# TYPE strongroom_alert_webhook_failures_total counter\n"
           "strongroom_alert_webhook_failures_total %llu\n",
           (unsigned long long)sr_alert_webhook_failures());
    sr_principal_counts pc;
    if (v != NULL && sr_vault_principal_counts(v, &pc) == SR_OK) {
        sb_fmt(&b,
               "# HELP strongroom_principals Principals by kind, and how "
               "many are disabled.\n"
               "# TYPE strongroom_principals gauge\n"
               "strongroom_principals{kind=\"user\"} %llu\n"
               "strongroom_principals{kind=\"service\"} %llu\n"
               "# HELP strongroom_principals_disabled Principals disabled "
               "(their tokens refused).\n"
               "# TYPE strongroom_principals_disabled gauge\n"
               "strongroom_principals_disabled %llu\n",
               (unsigned long long)pc.users, (unsigned long long)pc.services,
               (unsigned long long)pc.disabled);
        sb_fmt(&b,
               "# HELP strongroom_principals_frozen Principals frozen "
               "(their credentials refused until a security officer "
               "unfreezes them).\n"
               "# TYPE strongroom_principals_frozen gauge\n"
               "strongroom_principals_frozen %llu\n",
               (unsigned long long)pc.frozen);
    }
    if (b.failed) {
        sb_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
