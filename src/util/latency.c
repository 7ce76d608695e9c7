/* SPDX-License-Identifier: Apache-2.0 */
/*
 * latency.c - latency histograms (strongroom/common.h): fixed buckets from
 * 50 us to 5 s, counted with atomic adds so that any thread may observe.
 */
#include "strongroom/common.h"
#include "util/util.h"

static const uint64_t bounds_ns[SR_LATENCY_BUCKETS] = {
    50000u,     100000u,     250000u,     500000u,    1000000u,   2500000u,
    5000000u,   10000000u,   25000000u,   50000000u,  100000000u, 250000000u,
    500000000u, 1000000000u, 2500000000u, 5000000000u};

uint64_t sr_latency_bound_ns(unsigned i)
{
    return i < SR_LATENCY_BUCKETS ? bounds_ns[i] : 0;
}

void sr_latency_observe(sr_latency *h, uint64_t ns)
{
    unsigned i = 0;
    while (i < SR_LATENCY_BUCKETS && ns > bounds_ns[i])
        i++;
    uint64_t *slot = i < SR_LATENCY_BUCKETS ? &h->bucket[i] : &h->over;
    __atomic_fetch_add(slot, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_ns, ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
}

void sr_latency_read(const sr_latency *h, sr_latency *out)
{
    for (unsigned i = 0; i < SR_LATENCY_BUCKETS; i++)
        out->bucket[i] = __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
    out->over = __atomic_load_n(&h->over, __ATOMIC_RELAXED);
    out->count = __atomic_load_n(&h->count, __ATOMIC_RELAXED);
    out->sum_ns = __atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED);
}

uint64_t sr_clock_ns(void)
{
    return now_ns();
}
