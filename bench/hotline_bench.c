/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/hotline_bench.c - the hotline between two nodes on loopback
 * (issue 9), through the public API only (strongroom/hotline.h).
 *
 *   bench_hotline A_DIR A_URL B_DIR B_URL N LAT CHUNKS PER_CHUNK
 *
 * A_DIR and B_DIR are two nodes that know each other; B is served at
 * B_URL and A at A_URL (bench/hotline starts both `hotline serve`s with
 * an hour's delivery interval, so only this program delivers). Then:
 *
 *   1. throughput: N acknowledgements in one case, queued 500 at a time
 *      (sealed, signed, stored and logged by A: sr_hotline_send_many),
 *      then one sr_hotline_deliver (POSTed in batches, opened, checked,
 *      stored and logged by B, receipts checked, logged and kept by A):
 *      messages per second end to end, and for the delivery alone;
 *   2. latency: LAT more, each queued and delivered on its own, timed
 *      from queueing to its receipt kept: p50 and p99;
 *   3. bulk: CHUNKS requests of PER_CHUNK STIX indicators each, delivered
 *      to B, acknowledged by B and the acknowledgements delivered back to
 *      A: the time for all of it.
 *
 * Prints one line of key=value pairs for bench/hotline.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "strongroom/strongroom.h"

static sr_hotline *open_node(const char *dir)
{
    sr_hotline *h = NULL;
    if (sr_hotline_open(&h, dir) != SR_OK) {
        fprintf(stderr, "bench_hotline: %s: %s\n", dir, sr_hotline_errmsg(h));
        exit(1);
    }
    return h;
}

static void check(sr_status st, const sr_hotline *h, const char *what)
{
    if (st != SR_OK) {
        fprintf(stderr, "bench_hotline: %s: %s\n", what, sr_hotline_errmsg(h));
        exit(1);
    }
}

static void deliver_all(sr_hotline *h, unsigned want)
{
    sr_hotline_delivery d;
    check(sr_hotline_deliver(h, 1, NULL, &d), h, "deliver");
    if (d.delivered != want || d.failed != 0) {
        fprintf(stderr, "bench_hotline: delivered %u of %u, %u failed\n",
                d.delivered, want, d.failed);
        exit(1);
    }
}

/* A request body with n indicators (malloc'd). */
static char *bulk_body(unsigned chunk, unsigned n, size_t *len)
{
    size_t cap = 1024 + (size_t)n * 420;
    char *b = malloc(cap);
    if (b == NULL)
        exit(1);
    size_t o = (size_t)snprintf(
        b, cap,
        "{\"requesting_party\":\"bench\",\"partner_case_id\":\"B-%u\","
        "\"summary\":\"bulk indicators\",\"legal_basis\":\"bench\","
        "\"urgency\":\"routine\",\"requested_action\":\"block\","
        "\"response_deadline\":\"2099-01-01T00:00:00Z\",\"indicators\":"
        "{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-"
        "33f4c354e56d\",\"objects\":[",
        chunk);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = chunk * n + i;
        o += (size_t)snprintf(
            b + o, cap - o,
            "%s{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":"
            "\"indicator--%08x-17d4-4cbf-938f-%012x\",\"created\":"
            "\"2026-12-01T10:00:00.000Z\",\"modified\":\"2026-12-01T10:00:00"
            ".000Z\",\"pattern\":\"[ipv4-addr:value = '10.%u.%u.%u']\","
            "\"pattern_type\":\"stix\",\"valid_from\":\"2026-12-01T10:00:00Z"
            "\"}",
            i ? "," : "", v, v, (v >> 16) & 255, (v >> 8) & 255, v & 255);
    }
    o += (size_t)snprintf(b + o, cap - o, "]}}");
    *len = o;
    return b;
}

typedef struct acks {
    sr_hotline *b;
    unsigned n;
} acks;

static sr_status ack_request(void *ctx, const sr_hotline_message_info *m)
{
    acks *a = ctx;
    char id[SR_HOTLINE_ID_LEN + 1];
    if (m->outgoing || strcmp(m->kind, "request") != 0)
        return SR_OK;
    a->n++;
    return sr_hotline_reply(a->b, m->id, "ack", "{}", 2, id);
}

int main(int argc, char **argv)
{
    size_t n, lat, chunks, per;
    if (argc != 9 || !bench_parse_count(argv[5], &n) ||
        !bench_parse_count(argv[6], &lat) ||
        !bench_parse_count(argv[7], &chunks) ||
        !bench_parse_count(argv[8], &per)) {
        fprintf(stderr, "usage: bench_hotline A_DIR A_URL B_DIR B_URL N LAT "
                        "CHUNKS PER_CHUNK\n");
        return 2;
    }
    if (sr_init() != SR_OK)
        return 1;
    sr_hotline *a = open_node(argv[1]), *b = open_node(argv[3]);
    char id[SR_HOTLINE_ID_LEN + 1];

    /* 1. throughput: queued 500 at a time (one transaction and one log
     * sync each), then delivered */
    double t0 = bench_now();
    enum { QUEUE_BATCH = 500 };
    static char notes[QUEUE_BATCH][32];
    static char ids[QUEUE_BATCH][SR_HOTLINE_ID_LEN + 1];
    sr_hotline_outbound out[QUEUE_BATCH];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < QUEUE_BATCH ? n - i : QUEUE_BATCH;
        for (size_t j = 0; j < k; j++) {
            int w = snprintf(notes[j], sizeof notes[j], "{\"note\":\"%zu\"}",
                             i + j);
            out[j] = (sr_hotline_outbound){"b",         "T-1",    "ack",
                                           "TLP:GREEN", notes[j], (size_t)w};
        }
        check(sr_hotline_send_many(a, out, k, ids), a, "send");
        i += k;
    }
    double t1 = bench_now();
    deliver_all(a, (unsigned)n);
    double t2 = bench_now();

    /* 2. latency, one at a time */
    double *l = calloc(lat, sizeof *l);
    if (l == NULL)
        return 1;
    for (size_t i = 0; i < lat; i++) {
        double s = bench_now();
        check(sr_hotline_send(a, "b", "T-2", "ack", "TLP:GREEN", "{}", 2, id),
              a, "send");
        deliver_all(a, 1);
        l[i] = (bench_now() - s) * 1e3;
    }

    /* 3. bulk indicators, delivered and acknowledged */
    double t3 = bench_now();
    for (size_t c = 0; c < chunks; c++) {
        size_t len = 0;
        char *body = bulk_body((unsigned)c, (unsigned)per, &len);
        char cid[32];
        (void)snprintf(cid, sizeof cid, "BULK-%zu", c);
        check(
            sr_hotline_send(a, "b", cid, "request", "TLP:AMBER", body, len, id),
            a, "send bulk");
        free(body);
    }
    deliver_all(a, (unsigned)chunks);
    /* B's handle reads what its server took in. */
    acks ak = {b, 0};
    check(sr_hotline_messages(b, ack_request, &ak), b, "list");
    deliver_all(b, ak.n);
    double t4 = bench_now();
    if (ak.n != chunks) {
        fprintf(stderr, "bench_hotline: B holds %u requests, not %zu\n", ak.n,
                chunks);
        return 1;
    }
    printf("messages=%zu queue_s=%.3f deliver_s=%.3f msgs_per_s=%.0f "
           "end_to_end_per_s=%.0f "
           "lat_n=%zu lat_p50_ms=%.2f lat_p99_ms=%.2f indicators=%zu "
           "bulk_s=%.3f\n",
           n, t1 - t0, t2 - t1, (double)n / (t2 - t1), (double)n / (t2 - t0),
           lat, bench_percentile(l, lat, 50), bench_percentile(l, lat, 99),
           chunks * per, t4 - t3);
    free(l);
    sr_hotline_close(a);
    sr_hotline_close(b);
    return 0;
}
