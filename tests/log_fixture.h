/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_fixture.h - what the audit log's test programs share: fixed test
 * keys, temporary directories removed by the teardown even when an
 * assertion ends a test early, and whole-file reads and writes for
 * tampering. Include after <cmocka.h>. Functions are static inline, so a
 * program that does not use one pays nothing and gets no warning.
 */
#ifndef SR_TESTS_LOG_FIXTURE_H
#define SR_TESTS_LOG_FIXTURE_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The journal MAC key, the log's signing seed, and a second seed for a
 * forger using the same key name. */
static const uint8_t journal_key[32] = {
    0x4a, 0x6f, 0x75, 0x72, 0x6e, 0x61, 0x6c, 0x20, 0x6b, 0x65, 0x79,
    0x20, 0x66, 0x6f, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x74, 0x65,
    0x73, 0x74, 0x73, 0x20, 0x6f, 0x6e, 0x6c, 0x79, 0x2e, 0x21};
static const uint8_t sign_seed[32] = {
    0x53, 0x69, 0x67, 0x6e, 0x69, 0x6e, 0x67, 0x20, 0x73, 0x65, 0x65,
    0x64, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x74, 0x68, 0x65, 0x20, 0x74,
    0x65, 0x73, 0x74, 0x73, 0x20, 0x6f, 0x6e, 0x6c, 0x79, 0x2e};
static const uint8_t other_seed[32] = {
    0x41, 0x6e, 0x6f, 0x74, 0x68, 0x65, 0x72, 0x20, 0x6b, 0x65, 0x79,
    0x2c, 0x20, 0x73, 0x61, 0x6d, 0x65, 0x20, 0x6e, 0x61, 0x6d, 0x65,
    0x3a, 0x20, 0x61, 0x20, 0x66, 0x6f, 0x72, 0x67, 0x65, 0x72};

/* Every directory a test makes is listed, so the teardown removes it. */
static char tmp_dirs[8][64];
static unsigned tmp_count;

static inline void tmp_make(char out[64])
{
    memcpy(out, "/tmp/sr_log_XXXXXX", 19);
    assert_non_null(mkdtemp(out));
    assert_true(tmp_count < 8);
    memcpy(tmp_dirs[tmp_count++], out, 64);
}

static inline void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            char sub[4096];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) <
                (int)sizeof sub)
                rm_rf(sub);
        }
        if (d != NULL)
            closedir(d);
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
}

static inline int tmp_teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < tmp_count; i++)
        rm_rf(tmp_dirs[i]);
    tmp_count = 0;
    return 0;
}

static inline void path_of(char out[4096], const char *a, const char *b)
{
    int n = snprintf(out, 4096, "%s/%s", a, b);
    assert_true(n > 0 && n < 4096);
}

/* The whole file at path, NUL-terminated; *len its size. NULL if it does
 * not exist. Free with free(). */
static inline void *slurp(const char *path, size_t *len)
{
    struct stat sb;
    *len = 0;
    if (stat(path, &sb) != 0)
        return NULL;
    char *p = malloc((size_t)sb.st_size + 1);
    assert_non_null(p);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    *len = fread(p, 1, (size_t)sb.st_size, f);
    assert_int_equal(*len, (size_t)sb.st_size);
    fclose(f);
    p[*len] = '\0';
    return p;
}

static inline void spit(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

#endif
