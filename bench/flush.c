/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/flush.c - what one durable append costs on a disk, with nothing
 * else around it: the floor under every logged Strongroom read.
 *
 *   bench_flush DIR [N]
 *
 * In a file of its own in DIR (removed at the end) it times N (default
 * 2,000) appends of 300 bytes, about one audit journal record, each
 * followed by fdatasync, as the journal is written (pwrite at the end,
 * the file growing), then the same into space written with zeros
 * beforehand. Prints one line of key=value pairs (p50 and p99 in µs) for
 * bench/pg.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"

#define RECORD 300u

/* Time n appends at offsets 0, RECORD, ... of fd into t (µs). */
static bool appends(int fd, size_t n, double *t)
{
    char rec[RECORD];
    memset(rec, 'x', sizeof rec);
    for (size_t i = 0; i < n; i++) {
        double t0 = bench_now();
        if (pwrite(fd, rec, sizeof rec, (off_t)(i * RECORD)) !=
                (ssize_t)sizeof rec ||
            fdatasync(fd) != 0) {
            fprintf(stderr, "bench_flush: append %zu: %s\n", i,
                    strerror(errno));
            return false;
        }
        t[i] = (bench_now() - t0) * 1e6;
    }
    return true;
}

int main(int argc, char **argv)
{
    size_t n = 2000;
    char path[4096];
    if (argc < 2 || argc > 3 ||
        (argc == 3 && !bench_parse_count(argv[2], &n))) {
        fprintf(stderr, "usage: bench_flush DIR [N]\n");
        return 2;
    }
    int len = snprintf(path, sizeof path, "%s/bench_flush.%ld", argv[1],
                       (long)getpid());
    if (len < 0 || (size_t)len >= sizeof path) {
        fprintf(stderr, "bench_flush: the directory name is too long\n");
        return 2;
    }
    double *t = malloc(n * sizeof *t);
    char *zeros = calloc(n, RECORD);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ret = 1;
    if (t == NULL || zeros == NULL || fd < 0) {
        fprintf(stderr, "bench_flush: %s: %s\n", path,
                fd < 0 ? strerror(errno) : "out of memory");
        goto done;
    }
    if (!appends(fd, n, t))
        goto done;
    double grow50 = bench_percentile(t, n, 50),
           grow99 = bench_percentile(t, n, 99);
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, zeros, n * RECORD, 0) != (ssize_t)(n * RECORD) ||
        fsync(fd) != 0) {
        fprintf(stderr, "bench_flush: cannot fill %s: %s\n", path,
                strerror(errno));
        goto done;
    }
    if (!appends(fd, n, t))
        goto done;
    printf("appends=%zu grow_p50_us=%.1f grow_p99_us=%.1f "
           "prealloc_p50_us=%.1f prealloc_p99_us=%.1f\n",
           n, grow50, grow99, bench_percentile(t, n, 50),
           bench_percentile(t, n, 99));
    ret = 0;
done:
    if (fd >= 0) {
        (void)close(fd);
        (void)unlink(path);
    }
    free(zeros);
    free(t);
    return ret;
}
