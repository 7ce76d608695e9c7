/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.h - small pieces every module shares: a capped, wiping growable
 * buffer (sr_buf), a bounded reader over untrusted bytes (sr_reader),
 * varints, hex, calendar dates and the zeroing allocator for jansson.
 *
 * Internal: not part of the installed API.
 */
#ifndef SR_UTIL_H
#define SR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strongroom/common.h"

/* ---- growable buffer ------------------------------------------------ */

/* A byte buffer with a hard cap fixed at creation: input can never grow it
 * past max. Contents are wiped whenever memory is released or reused, so it
 * may hold plaintext. */
typedef struct sr_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t max;
} sr_buf;

void buf_init(sr_buf *b, size_t max);
/* Wipe and release. Accepts a zeroed or initialised buffer. */
void buf_free(sr_buf *b);
/* Wipe the contents and set len to 0, keeping the memory. */
void buf_reset(sr_buf *b);
/* Make room for n more bytes. SR_ERR_INVALID past max, SR_ERR_NOMEM. */
SR_WARN_UNUSED sr_status buf_reserve(sr_buf *b, size_t n);

/* Room in the array *p (of *cap elements of elem bytes, n of them used)
 * for one more: doubles it (at least 16) when full. SR_ERR_NOMEM, with
 * *p and *cap unchanged, if it cannot. */
SR_WARN_UNUSED sr_status array_room(void **p, size_t *cap, size_t n,
                                    size_t elem);
SR_WARN_UNUSED sr_status buf_append(sr_buf *b, const void *p, size_t n);
SR_WARN_UNUSED sr_status buf_append_byte(sr_buf *b, uint8_t c);
SR_WARN_UNUSED sr_status buf_append_str(sr_buf *b, const char *s);
/* Unsigned LEB128. */
SR_WARN_UNUSED sr_status buf_append_varint(sr_buf *b, uint64_t v);
SR_WARN_UNUSED sr_status buf_append_u32be(sr_buf *b, uint32_t v);

/* ---- bounded reader --------------------------------------------------- */

/* A cursor over [p, p+len). Every read checks the bound; after the first
 * failure the reader stays failed (ok == false) and reads return errors. */
typedef struct sr_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool ok;
} sr_reader;

void reader_init(sr_reader *r, const void *p, size_t len);
size_t reader_left(const sr_reader *r);
SR_WARN_UNUSED bool reader_u8(sr_reader *r, uint8_t *out);
SR_WARN_UNUSED bool reader_u32be(sr_reader *r, uint32_t *out);
SR_WARN_UNUSED bool reader_u64be(sr_reader *r, uint64_t *out);
/* Canonical (shortest) LEB128 of at most 10 bytes; rejects overlong forms. */
SR_WARN_UNUSED bool reader_varint(sr_reader *r, uint64_t *out);
/* Point *out at the next n bytes without copying. */
SR_WARN_UNUSED bool reader_bytes(sr_reader *r, size_t n, const uint8_t **out);
SR_WARN_UNUSED bool reader_copy(sr_reader *r, void *dst, size_t n);

/* Take the next line (without its "\n") off r: peek, then take, so no
 * pointer runs past the reader. false if no "\n" is left. */
SR_WARN_UNUSED bool reader_line(sr_reader *r, const uint8_t **line, size_t *n);

/* Decode canonical padded base64 (RFC 4648 section 4) of at most cap
 * bytes: the alphabet is checked before libsodium sees it (1.0.18 takes
 * some bytes >= 0x80 for digits), and the bytes must encode back to
 * exactly the input, so each byte string has one spelling. */
SR_WARN_UNUSED bool b64_decode(const uint8_t *s, size_t n, uint8_t *out,
                               size_t cap, size_t *out_len);

/* ---- hex -------------------------------------------------------------- */

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(char *out, const uint8_t *in, size_t n);
/* Exactly 2n hex digits (either case) into n bytes; false otherwise. */
SR_WARN_UNUSED bool hex_decode(uint8_t *out, size_t n, const char *in,
                               size_t in_len);

/* ---- dates -------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (negative before). */
int32_t date_days_from_civil(int32_t y, uint32_t m, uint32_t d);
void date_civil_from_days(int32_t days, int32_t *y, uint32_t *m, uint32_t *d);
/* Parse exactly "YYYY-MM-DD" naming a real calendar date. */
SR_WARN_UNUSED bool date_parse(const char *s, size_t len, int32_t *days);
/* Format as "YYYY-MM-DD" (out has room for 11 bytes). */
void date_format(int32_t days, char out[11]);
/* Today's date in UTC, as days since the epoch. */
int32_t date_today(void);

/* ---- jansson ------------------------------------------------------------- */

/* Install an allocator for jansson that wipes every block when it is freed,
 * so the plaintext held in parsed JSON does not linger on the heap. Called
 * by sr_init; idempotent. */
void json_install_wiping_allocator(void);

/* The JSON text of o (json_dumpb flags) in a NUL-terminated buffer from
 * malloc, to release with free(): json_dumps's buffer comes from the
 * wiping allocator and must not reach free(). NULL if out of memory. */
struct json_t;
char *json_to_text(const struct json_t *o, size_t flags);

/* ---- files -----------------------------------------------------------------
 */

/* Write all n bytes to fd, retrying short writes and EINTR. false with errno
 * set on failure (ENOSPC for a full device). */
SR_WARN_UNUSED bool fd_write_all(int fd, const void *p, size_t n);

/* Replace path with exactly p[0..n): a temporary file beside it, fsync,
 * rename, fsync of the directory; a crash leaves the old file or the new
 * one, never a mix. SR_ERR_FULL, SR_ERR_IO with errno kept. */
SR_WARN_UNUSED sr_status file_write_atomic(const char *path, const void *p,
                                           size_t n, int mode);

/* Read a whole file (at most out->max bytes) into out. SR_ERR_NOT_FOUND if
 * it does not exist, SR_ERR_INVALID if larger than out->max, SR_ERR_IO. */
SR_WARN_UNUSED sr_status file_read(const char *path, sr_buf *out);

/* Remove dir and everything under it (symbolic links are removed, not
 * followed), as far as it can: for undoing what a failed operation made. */
void dir_remove_tree(const char *dir);

/* fsync a directory, so that the renames and creations in it are durable.
 * file_sync: fsync a file written through other means (errno kept). */
SR_WARN_UNUSED sr_status dir_sync(const char *dir);
SR_WARN_UNUSED sr_status file_sync(const char *path);
/* fsync the directory that holds path. */
SR_WARN_UNUSED sr_status parent_sync(const char *path);

/* Overwrite the whole of an open file with zeros and fdatasync it
 * (fd_zero); the same for the file at path, then remove it (file_wipe; a
 * missing file is no error). For files that held keys: on a filesystem
 * that writes in place (ext4, XFS) the old bytes are gone from the disk;
 * a copy-on-write filesystem or an SSD's remapping may keep them
 * (docs/storage.md). SR_ERR_FULL, SR_ERR_IO with errno kept. */
SR_WARN_UNUSED sr_status fd_zero(int fd);
SR_WARN_UNUSED sr_status file_wipe(const char *path);

/* Read the file at path a line at a time: fn gets each line without its
 * newline (newline tells whether it had one: only the last may not) and
 * its number from 1; what fn returns other than SR_OK stops the read and
 * is returned. A line longer than max bytes is SR_ERR_INVALID (*lineno
 * names it); SR_ERR_NOT_FOUND, SR_ERR_IO with errno kept. Memory: max. */
typedef sr_status (*file_line_fn)(void *ctx, const char *line, size_t len,
                                  bool newline, uint64_t lineno);
SR_WARN_UNUSED sr_status file_lines(const char *path, size_t max,
                                    file_line_fn fn, void *ctx,
                                    uint64_t *lineno);

/* Copy src (a regular file or a directory tree of them) to dst, which
 * must not exist: each file written whole with its mode and fsynced, each
 * directory synced. Symbolic links and other special files are refused
 * (SR_ERR_INVALID). SR_ERR_EXISTS, SR_ERR_FULL, SR_ERR_IO with errno kept. */
SR_WARN_UNUSED sr_status path_copy(const char *src, const char *dst);

/* mkdir -p for the directories leading to path's last component
 * (dirs_for_file) or to path itself (dir_make). */
SR_WARN_UNUSED sr_status dir_make(const char *path, int mode);
SR_WARN_UNUSED sr_status dirs_for_file(const char *path, int mode);

/* ---- process ------------------------------------------------------------- */

/* Monotonic time in nanoseconds. */
uint64_t now_ns(void);

#endif
