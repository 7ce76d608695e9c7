/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_server_leak.h - the check both server harnesses make of every error
 * message the server code writes: it ends with a NUL inside SRV_ERR_MAX, is
 * not empty, is printable ASCII on one line, and echoes no run of more than
 * LEAK_ECHO_MAX input bytes. Server errors go to clients and to logs, and a
 * request body may hold an SSN.
 *
 * A message is read as words ([A-Za-z0-9_-]+) and the separators between
 * them. The words of the caller's vocabulary -- the member or setting names
 * we define, the fixed words of the messages, the bounds we print -- are
 * ours. Any other words, with the separators between them, are a run that
 * may have come from the input: no LEAK_ECHO_MAX + 1 bytes of a run may
 * occur in the input. (A value spelled entirely in our own words passes;
 * nothing else does.)
 */
#ifndef SR_FUZZ_SERVER_LEAK_H
#define SR_FUZZ_SERVER_LEAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LEAK_ECHO_MAX 8

static inline bool leak_word_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Is w[0..n) a word of the vocabulary (NULL-terminated list of texts)?
 * A truncated last word (at_end) may be a prefix of one. */
static inline bool leak_ours(const char *w, size_t n, bool at_end,
                             const char *const *vocab)
{
    for (size_t i = 0; vocab[i] != NULL; i++) {
        const char *s = vocab[i];
        while (*s != '\0') {
            while (*s != '\0' && !leak_word_byte(*s))
                s++;
            size_t m = 0;
            while (leak_word_byte(s[m]))
                m++;
            if (m > 0 && (m == n || (at_end && m > n)) && memcmp(s, w, n) == 0)
                return true;
            s += m;
        }
    }
    return false;
}

/* A plain loop, not memmem: libFuzzer intercepts memmem and would learn
 * the message texts as a dictionary, then feed them back as input. */
static inline bool leak_occurs(const uint8_t *in, size_t n, const char *w,
                               size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        size_t j = 0;
        while (j < k && in[i + j] == (uint8_t)w[j])
            j++;
        if (j == k)
            return true;
    }
    return false;
}

static inline void leak_run(const char *run, size_t len, const uint8_t *in,
                            size_t n)
{
    for (size_t i = 0; i + LEAK_ECHO_MAX + 1 <= len; i++)
        if (leak_occurs(in, n, run + i, LEAK_ECHO_MAX + 1))
            abort();
}

/* Abort unless err (a buffer of cap bytes) is a proper message that does
 * not echo in[0..n). */
static inline void leak_check(const char *err, size_t cap, const uint8_t *in,
                              size_t n, const char *const *vocab)
{
    size_t len = strnlen(err, cap);
    if (len == 0 || len == cap)
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
            abort();
    size_t i = 0, start = 0, end = 0;
    bool in_run = false;
    while (i < len) {
        if (!leak_word_byte(err[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && leak_word_byte(err[j]))
            j++;
        if (leak_ours(err + i, j - i, j == len, vocab)) {
            if (in_run)
                leak_run(err + start, end - start, in, n);
            in_run = false;
        } else {
            if (!in_run)
                start = i;
            in_run = true;
            end = j;
        }
        i = j;
    }
    if (in_run)
        leak_run(err + start, end - start, in, n);
}

#endif
