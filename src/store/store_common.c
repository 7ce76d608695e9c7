/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_common.c - what the backends share (store.h, "shared by the
 * backends"): the check of a row before it is written, the text of the
 * row-returning queries (one variant per class mask), and a backup's new
 * file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

sr_status store_backup_claim(const char *path)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO;
    return close(fd) == 0 ? SR_OK : SR_ERR_IO;
}

bool store_row_valid_keyless(const store_row *row)
{
    if (row == NULL || row->version == 0 || row->kek_version == 0)
        return false;
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        if (row->cls[c] != NULL && row->cls_len[c] == 0)
            return false;
    return true;
}

bool store_row_valid(const store_row *row)
{
    return store_row_valid_keyless(row) && row->wrapped != NULL &&
           row->wrapped_len > 0;
}

static void sql_append(char *dst, size_t cap, size_t *len, const char *src)
{
    size_t n = strlen(src);
    if (*len + n >= cap)
        n = 0; /* never: the buffer is sized for the longest variant */
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
}

void store_masked_sql(char sql[STORE_SQL_MAX], store_query q, unsigned mask,
                      const store_dialect *d)
{
    static const char *const heads[STORE_QUERIES] = {
        "SELECT id, version, kek_version, wrapped",
        "SELECT p.id, p.version, p.kek_version, p.wrapped",
        "SELECT id, version, kek_version, wrapped",
    };
    static const char *const cols[2][SR_CLASS_COUNT] = {
        {", c0", ", c1", ", c2", ", c3", ", c4", ", c5"},
        {", p.c0", ", p.c1", ", p.c2", ", p.c3", ", p.c4", ", p.c5"},
    };
    size_t len = 0;
    sql[0] = '\0';
    sql_append(sql, STORE_SQL_MAX, &len, heads[q]);
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        sql_append(sql, STORE_SQL_MAX, &len,
                   (mask & SR_CLASS_BIT(c)) ? cols[q == STORE_Q_LOOKUP][c]
                                            : d->null_column);
    sql_append(sql, STORE_SQL_MAX, &len, d->tails[q]);
}
