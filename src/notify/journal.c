/* SPDX-License-Identifier: Apache-2.0 */
/*
 * journal.c - the journal of a notification run (notify.journal in its
 * output directory): a header binding it to one report and one template,
 * then a line per person done with the sizes the two CSVs had once that
 * person's rows were in them. A resumed run skips the people listed and
 * cuts the CSVs back to the last sizes recorded, so a row written after
 * the last synced journal line is written once again, not twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_int.h"

static const char *const outcome_names[] = {"letter", "gone", "no-address"};

void notify_journal_header(char out[200], const char *report_digest,
                           const char *template_digest)
{
    (void)snprintf(out, 200, "strongroom-notify 1 report %s template %s",
                   report_digest, template_digest);
}

size_t notify_journal_line(char out[128], const uint8_t id[SR_ID_BYTES],
                           notify_outcome o, uint64_t csv_end,
                           uint64_t unreach_end)
{
    char hex[SR_ID_STR_LEN + 1];
    hex_encode(hex, id, SR_ID_BYTES);
    int n = snprintf(out, 128, "%s %s %" PRIu64 " %" PRIu64 "\n", hex,
                     outcome_names[o], csv_end, unreach_end);
    return n > 0 ? (size_t)n : 0;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *out = x;
    return true;
}

/* "<id> <outcome> <csv end> <unreachable end>" */
static bool parse_line(const char *s, size_t n, notify_done *d,
                       uint64_t ends[2])
{
    const char *f[4];
    size_t len[4], k = 0, start = 0;
    for (size_t i = 0; i <= n && k < 4; i++)
        if (i == n || s[i] == ' ') {
            f[k] = s + start;
            len[k++] = i - start;
            start = i + 1;
        }
    if (k != 4 || start != n + 1 || len[0] != SR_ID_STR_LEN ||
        !hex_decode(d->id, SR_ID_BYTES, f[0], len[0]) ||
        !parse_u64(f[2], len[2], &ends[0]) ||
        !parse_u64(f[3], len[3], &ends[1]))
        return false;
    for (uint8_t o = 0; o < 3; o++)
        if (strlen(outcome_names[o]) == len[1] &&
            memcmp(outcome_names[o], f[1], len[1]) == 0) {
            d->outcome = o;
            return true;
        }
    return false;
}

static int cmp_done(const void *a, const void *b)
{
    return memcmp(((const notify_done *)a)->id, ((const notify_done *)b)->id,
                  SR_ID_BYTES);
}

sr_status notify_journal_parse(const char *data, size_t len, const char *header,
                               notify_journal *j, char msg[NOTIFY_MSG_MAX])
{
    memset(j, 0, sizeof *j);
    size_t hl = strlen(header);
    const char *nl = memchr(data, '\n', len);
    if (nl == NULL || (size_t)(nl - data) != hl || memcmp(data, header, hl)) {
        (void)snprintf(msg, NOTIFY_MSG_MAX,
                       "the output directory holds the run of another report "
                       "or template (notify.journal): give a new --out");
        return SR_ERR_INVALID;
    }
    size_t off = hl + 1, lineno = 1;
    j->valid = off;
    while (off < len) {
        const char *end = memchr(data + off, '\n', len - off);
        if (end == NULL)
            break; /* torn by a crash: that person is done again */
        notify_done d;
        uint64_t ends[2];
        lineno++;
        memset(&d, 0, sizeof d);
        if (!parse_line(data + off, (size_t)(end - (data + off)), &d, ends) ||
            ends[0] < j->csv_end || ends[1] < j->unreach_end) {
            (void)snprintf(msg, NOTIFY_MSG_MAX,
                           "notify.journal line %zu is damaged", lineno);
            notify_journal_free(j);
            return SR_ERR_CORRUPT;
        }
        if (array_room((void **)&j->d, &j->cap, j->n, sizeof *j->d) != SR_OK) {
            (void)snprintf(msg, NOTIFY_MSG_MAX, "out of memory");
            notify_journal_free(j);
            return SR_ERR_NOMEM;
        }
        j->d[j->n++] = d;
        j->csv_end = ends[0];
        j->unreach_end = ends[1];
        off = (size_t)(end - data) + 1;
        j->valid = off;
    }
    if (j->n > 1)
        qsort(j->d, j->n, sizeof *j->d, cmp_done);
    for (size_t i = 1; i < j->n; i++)
        if (memcmp(j->d[i - 1].id, j->d[i].id, SR_ID_BYTES) == 0) {
            (void)snprintf(msg, NOTIFY_MSG_MAX,
                           "notify.journal names a person twice");
            notify_journal_free(j);
            return SR_ERR_CORRUPT;
        }
    return SR_OK;
}

void notify_journal_free(notify_journal *j)
{
    free(j->d);
    memset(j, 0, sizeof *j);
}

const notify_done *notify_journal_find(const notify_journal *j,
                                       const uint8_t id[SR_ID_BYTES])
{
    notify_done key;
    memcpy(key.id, id, SR_ID_BYTES);
    if (j->n == 0)
        return NULL;
    return bsearch(&key, j->d, j->n, sizeof *j->d, cmp_done);
}
