/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/hotline.h - a hotline node (issue 9, docs/hotline.md): an
 * accountable case exchange with partner nodes.
 *
 * A node is a directory of its own, mode 0700:
 *
 *   node.key   its secret seed and name (mode 0600; src/hotline/files.h)
 *   node.pub   its public line, to hand to partners
 *   peers      the partner nodes it knows: name, URL, public line
 *   lock       serialises changes to the node's files
 *
 * Built so far: making a node, its public line, adding and listing
 * peers. Messages between nodes are sealed and opened by the library
 * (src/hotline/message.h); sending them is not built yet.
 */
#ifndef STRONGROOM_HOTLINE_H
#define STRONGROOM_HOTLINE_H

#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A public line: "srnode1:" name ":" 88 base64 characters, and a NUL. */
#define SR_HOTLINE_PUBLIC_MAX 162
#define SR_HOTLINE_NAME_MAX 63
#define SR_HOTLINE_URL_MAX 255
#define SR_HOTLINE_MSG_MAX 512

typedef struct sr_hotline sr_hotline;

/* Make a node named `name` in dir (created; it must not exist) with fresh
 * keys; pub gets its public line. On failure msg says why and nothing is
 * left behind. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_init(const char *dir,
                                                const char *name,
                                                char pub[SR_HOTLINE_PUBLIC_MAX],
                                                char msg[SR_HOTLINE_MSG_MAX]);

/* Open the node in dir: its keys and peers, checked. On failure *out may
 * still be set, for sr_hotline_errmsg; close it. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_open(sr_hotline **out,
                                                const char *dir);
SR_API void sr_hotline_close(sr_hotline *h);
SR_API const char *sr_hotline_errmsg(const sr_hotline *h);

SR_API const char *sr_hotline_name(const sr_hotline *h);
SR_API SR_WARN_UNUSED sr_status
sr_hotline_public(const sr_hotline *h, char pub[SR_HOTLINE_PUBLIC_MAX]);

/* Add a partner: its name, the https URL it is reached at (or a loopback
 * http one), and its public line, whose name must be `name`. Refused: this
 * node itself, a name already there, a bad URL or line. The peers file is
 * replaced atomically. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_peer_add(sr_hotline *h,
                                                    const char *name,
                                                    const char *url,
                                                    const char *key);

typedef struct sr_hotline_peer_info {
    char name[SR_HOTLINE_NAME_MAX + 1];
    char url[SR_HOTLINE_URL_MAX + 1];
    char key[SR_HOTLINE_PUBLIC_MAX];
} sr_hotline_peer_info;

/* Call fn for each peer, in the order they were added; a status other
 * than SR_OK from fn stops the walk and is returned. */
SR_API SR_WARN_UNUSED sr_status sr_hotline_peers(
    const sr_hotline *h,
    sr_status (*fn)(void *ctx, const sr_hotline_peer_info *p), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
