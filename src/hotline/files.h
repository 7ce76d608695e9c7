/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/files.h - a hotline node's files (docs/hotline.md, "A node's
 * directory"): its key file and its peers file. Both are outside input
 * (an operator edits them, a disk can damage them): each has one
 * canonical spelling, and a parser with a fuzz target.
 *
 *   node.key   "strongroom hotline node v1\n" <name> "\n" <base64 seed> "\n"
 *   peers      one line a peer: <name> " " <url> " " <public line> "\n",
 *              in the order they were added; at most HL_PEERS_MAX
 */
#ifndef STRONGROOM_HOTLINE_FILES_H
#define STRONGROOM_HOTLINE_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotline/message.h"
#include "strongroom/common.h"

#define HL_KEYFILE_MAGIC "strongroom hotline node v1\n"
#define HL_KEYFILE_MAX 160u
#define HL_PEERS_MAX 256u
#define HL_PEER_LINE_MAX (HL_NAME_MAX + 1u + HL_URL_MAX + 1u + HL_PUBLIC_MAX)
#define HL_PEERS_FILE_MAX (HL_PEERS_MAX * (HL_PEER_LINE_MAX + 1u))

/* The key file's bytes for an identity into out (cap >= HL_KEYFILE_MAX);
 * *len gets their number. The caller wipes out. */
SR_WARN_UNUSED sr_status hl_keyfile_format(const hl_identity *id, char *out,
                                           size_t cap, size_t *len);
/* Parse a key file: exactly the canonical bytes, or SR_ERR_CORRUPT. */
SR_WARN_UNUSED sr_status hl_keyfile_parse(const uint8_t *p, size_t len,
                                          hl_identity **out);

/* A peer's URL: https://HOST[:PORT][/PATH], or http:// to a loopback
 * host (127.0.0.1, [::1], localhost) for tests; printable, no spaces. */
bool hl_url_ok(const char *s, size_t len);

/* Parse a peers file into out[0..HL_PEERS_MAX-1], *n of them. A fault
 * names its line in err. Names are unique. */
SR_WARN_UNUSED sr_status hl_peers_parse(const uint8_t *p, size_t len,
                                        hl_peer *out, size_t *n,
                                        char err[HL_ERR_MAX]);
/* One peer's line (with its newline) into out (cap >= HL_PEER_LINE_MAX
 * + 2); *len its length. */
SR_WARN_UNUSED sr_status hl_peer_line(const hl_peer *p, char *out, size_t cap,
                                      size_t *len);

#endif
