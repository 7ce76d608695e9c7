/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_hotline_cosig.c - libFuzzer harness for what a node takes at POST
 * /hotline/v1/cosignatures (sr_hotline_take_cosignature): a partner's
 * cosignature of this node's log, as JSON with a signed note inside. Two
 * nodes are made once in a temporary directory, the second a peer of the
 * first; each input is offered to the first. Nothing an outsider sends
 * can be kept (it is not signed by the peer), and every refusal has a
 * printable message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "strongroom/hotline.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sr_hotline *node;
static char root[64];

static void cleanup(void)
{
    sr_hotline_close(node);
    dir_remove_tree(root);
}

static void setup(void)
{
    char a[128], b[128], pub_a[SR_HOTLINE_PUBLIC_MAX],
        pub_b[SR_HOTLINE_PUBLIC_MAX], msg[SR_HOTLINE_MSG_MAX];
    (void)snprintf(root, sizeof root, "/tmp/sr-fuzz-cosig-XXXXXX");
    if (mkdtemp(root) == NULL)
        abort();
    (void)snprintf(a, sizeof a, "%s/a", root);
    (void)snprintf(b, sizeof b, "%s/b", root);
    if (sr_hotline_init(a, "node-a", pub_a, msg) != SR_OK ||
        sr_hotline_init(b, "node-b", pub_b, msg) != SR_OK ||
        sr_hotline_open(&node, a) != SR_OK ||
        sr_hotline_peer_add(node, "node-b", "http://127.0.0.1:9/", pub_b) !=
            SR_OK)
        abort();
    (void)atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    if (node == NULL)
        setup();
    sr_status st = sr_hotline_take_cosignature(node, (const char *)data, size);
    if (st == SR_OK)
        abort(); /* not signed by node-b's key: never taken */
    const char *m = sr_hotline_errmsg(node);
    if (m[0] == 0)
        abort();
    for (size_t i = 0; m[i] != 0; i++)
        if ((unsigned char)m[i] < 0x20)
            abort();
    return 0;
}
