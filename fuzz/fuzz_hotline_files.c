/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_hotline_files.c - libFuzzer harness for a hotline node's two files
 * (src/hotline/files.h): the first byte picks the parser, the rest is the
 * file. A key file that parses formats back to exactly the same bytes
 * (one key, one spelling); a peers file that parses gives peers whose
 * lines, written again, parse to the same peers; a refusal of the peers
 * file names its line in printable text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hotline/files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hl_peer peers[HL_PEERS_MAX], again[HL_PEERS_MAX];
static char text[HL_PEERS_FILE_MAX + 1];

static void peers_file(const uint8_t *p, size_t len)
{
    char err[HL_ERR_MAX];
    size_t n = 0, m = 0, used = 0, k = 0;
    if (hl_peers_parse(p, len, peers, &n, err) != SR_OK) {
        if (err[0] == 0)
            abort();
        for (size_t i = 0; err[i] != 0; i++)
            if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
                abort();
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (hl_peer_line(&peers[i], text + used, sizeof text - used, &k) !=
            SR_OK)
            abort();
        used += k;
    }
    if (hl_peers_parse((const uint8_t *)text, used, again, &m, err) != SR_OK ||
        m != n || memcmp(peers, again, n * sizeof peers[0]) != 0)
        abort();
}

static void key_file(const uint8_t *p, size_t len)
{
    hl_identity *id = NULL;
    char out[HL_KEYFILE_MAX];
    size_t n = 0;
    sr_status st = hl_keyfile_parse(p, len, &id);
    if (st != SR_OK) {
        if (id != NULL || (st != SR_ERR_CORRUPT && st != SR_ERR_NOMEM))
            abort();
        return;
    }
    if (hl_keyfile_format(id, out, sizeof out, &n) != SR_OK || n != len ||
        memcmp(out, p, len) != 0)
        abort();
    hl_identity_free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    if (size == 0)
        return 0;
    if (data[0] & 1)
        peers_file(data + 1, size - 1);
    else
        key_file(data + 1, size - 1);
    return 0;
}
