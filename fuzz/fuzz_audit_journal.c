/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_audit_journal.c - libFuzzer harness for the audit journal as the
 * log reads it when it opens (src/audit/log.c, docs/audit.md "Journal"):
 * records after a MAC'd header, the room of zeros written ahead, and the
 * crash remnants cut away. Nobody without the vault key can forge a
 * record, so the input is not a journal but edits to a real one: a
 * journal of three records after a checkpoint at size 3, then the input's
 * edits, each
 *
 *   0 | u16be off | u8 n | n bytes   write them at off (growing the file)
 *   1 | u16be off                    cut the file at off
 *   2 | u16be off | u16be n          zero n bytes from off
 *   3 | u16be off | u8 n | n bytes   XOR them in at off
 *
 * The open must either fail with a message, or succeed with between 3
 * and 6 entries; then an append must land at the next index and the log
 * must verify at its new size. Each input gets a fresh copy of the vault
 * (made once, in a temporary directory, removed at exit).
 * Seeds: fuzz/corpus/audit_journal/.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "fuzz_common.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t jkey[32] = "fuzz_audit_journal journal key!";
static const uint8_t seed[32] = "fuzz_audit_journal signing seed";
#define ORIGIN "fuzz.example/journal"

static char top[64], tmpl[128], work[128];
static uint8_t *base; /* the template's journal */
static size_t base_len;

static audit_log_config config_of(const char *dir)
{
    audit_log_config c = {dir, jkey, seed, ORIGIN};
    return c;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_audit_journal: %s\n", what);
    abort();
}

static void encode(uint64_t tag, sr_buf *b)
{
    audit_entry e;
    memset(&e, 0, sizeof e);
    e.time_ns = 1764000000000000000ull + tag;
    (void)snprintf(e.principal, sizeof e.principal, "fuzz%02u", (unsigned)tag);
    (void)snprintf(e.action, sizeof e.action, "get");
    e.outcome = ENTRY_ALLOWED;
    e.count = tag;
    b->len = 0;
    if (entry_encode(&e, b) != SR_OK)
        die("cannot encode an entry");
}

static uint64_t append(audit_log *l, uint64_t tag)
{
    char msg[AUDIT_MSG_MAX];
    sr_buf b;
    uint64_t index = UINT64_MAX;
    buf_init(&b, ENTRY_MAX_BYTES);
    encode(tag, &b);
    if (audit_log_append(l, b.p, b.len, &index, msg) != SR_OK)
        die(msg);
    buf_free(&b);
    return index;
}

/* Copy the tree at from to the new path to (directories and files). */
static void copy_tree(const char *from, const char *to)
{
    struct stat sb;
    if (lstat(from, &sb) != 0)
        die("cannot stat the template");
    if (S_ISDIR(sb.st_mode)) {
        if (mkdir(to, 0700) != 0)
            die("cannot make a directory");
        DIR *d = opendir(from);
        struct dirent *e;
        if (d == NULL)
            die("cannot read the template");
        while ((e = readdir(d)) != NULL) {
            char a[512], b[512];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (snprintf(a, sizeof a, "%s/%s", from, e->d_name) >=
                    (int)sizeof a ||
                snprintf(b, sizeof b, "%s/%s", to, e->d_name) >= (int)sizeof b)
                die("a path is too long");
            copy_tree(a, b);
        }
        closedir(d);
        return;
    }
    sr_buf b;
    buf_init(&b, (size_t)64 << 20);
    if (file_read(from, &b) != SR_OK)
        die("cannot read a template file");
    int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || (b.len > 0 && write(fd, b.p, b.len) != (ssize_t)b.len))
        die("cannot copy a template file");
    close(fd);
    buf_free(&b);
}

static void cleanup(void)
{
    dir_remove_tree(top);
}

/* The template: 3 entries in a checkpoint, then 3 more in the journal
 * only (as a crash before the next checkpoint leaves them). */
static void setup_once(void)
{
    char msg[AUDIT_MSG_MAX], path[256];
    if (base != NULL)
        return;
    fuzz_init_once();
    /* In memory where there is a tmpfs: every append and checkpoint
     * syncs, which a disk would make the slowest part of a run. */
    memcpy(top, "/dev/shm/sr_fuzz_journal_XXXXXX", 32);
    if (mkdtemp(top) == NULL) {
        memcpy(top, "/tmp/sr_fuzz_journal_XXXXXX", 28);
        if (mkdtemp(top) == NULL)
            die("mkdtemp");
    }
    atexit(cleanup);
    (void)snprintf(tmpl, sizeof tmpl, "%s/template", top);
    (void)snprintf(work, sizeof work, "%s/work", top);
    if (mkdir(tmpl, 0700) != 0)
        die("mkdir");
    audit_log_config c = config_of(tmpl);
    audit_log *l = NULL;
    uint64_t size;
    if (audit_log_create(&c, msg) != SR_OK ||
        audit_log_open(&l, &c, msg) != SR_OK)
        die(msg);
    for (uint64_t i = 0; i < 3; i++)
        (void)append(l, i);
    if (audit_log_checkpoint(l, &size, msg) != SR_OK || size != 3)
        die("cannot checkpoint the template");
    for (uint64_t i = 3; i < 6; i++)
        (void)append(l, i);
    /* The journal as it is now, before the release checkpoints it. */
    sr_buf b;
    (void)snprintf(path, sizeof path, "%s/audit/journal", tmpl);
    buf_init(&b, (size_t)1 << 20);
    if (file_read(path, &b) != SR_OK)
        die("cannot read the template's journal");
    audit_log_release(l);
    base = malloc(b.len);
    if (base == NULL)
        die("out of memory");
    memcpy(base, b.p, b.len);
    base_len = b.len;
    buf_free(&b);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* Apply the input's edits to a copy of the base journal; its new length
 * in *len. NULL if out of memory. */
static uint8_t *edited(const uint8_t *d, size_t n, size_t *len)
{
    size_t cap = 65536u + 256u + base_len;
    uint8_t *j = calloc(1, cap);
    if (j == NULL)
        return NULL;
    memcpy(j, base, base_len);
    *len = base_len;
    size_t i = 0;
    while (i + 3 <= n) {
        uint8_t op = d[i] & 3u;
        size_t off = be16(d + i + 1);
        i += 3;
        if (op == 1) {
            if (off < *len)
                *len = off;
            continue;
        }
        if (op == 2) {
            if (i + 2 > n)
                break;
            size_t k = be16(d + i);
            i += 2;
            for (size_t x = off; x < off + k && x < *len; x++)
                j[x] = 0;
            continue;
        }
        if (i + 1 > n)
            break;
        size_t k = d[i++];
        if (k > n - i)
            k = n - i;
        for (size_t x = 0; x < k; x++)
            j[off + x] = op == 0 ? d[i + x] : (uint8_t)(j[off + x] ^ d[i + x]);
        if (op == 0 && off + k > *len)
            *len = off + k;
        i += k;
    }
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[AUDIT_MSG_MAX], path[256];
    size_t len;
    setup_once();
    uint8_t *j = edited(data, size, &len);
    if (j == NULL)
        return 0;
    dir_remove_tree(work);
    copy_tree(tmpl, work);
    (void)snprintf(path, sizeof path, "%s/audit/journal", work);
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0 || (len > 0 && write(fd, j, len) != (ssize_t)len))
        die("cannot write the journal");
    close(fd);
    free(j);

    audit_log_config c = config_of(work);
    audit_log *l = NULL;
    msg[0] = '\0';
    sr_status st = audit_log_open(&l, &c, msg);
    if (st != SR_OK) {
        if (l != NULL || msg[0] == '\0')
            abort();
        return 0;
    }
    uint64_t end = audit_log_pending_end(l);
    if (end < 3 || end > 6)
        abort();
    if (append(l, 100) != end)
        abort();
    uint64_t cp;
    if (audit_log_checkpoint(l, &cp, msg) != SR_OK || cp != end + 1)
        abort();
    audit_log_release(l);
    /* And it opens again, the append in it. */
    l = NULL;
    if (audit_log_open(&l, &c, msg) != SR_OK ||
        audit_log_pending_end(l) != end + 1)
        abort();
    audit_log_release(l);
    return 0;
}
