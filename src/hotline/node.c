/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/node.c - a hotline node's directory (strongroom/hotline.h): its
 * keys, its public line, its peers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "hotline/files.h"
#include "strongroom/hotline.h"
#include "util/util.h"

_Static_assert(HL_PUBLIC_MAX <= SR_HOTLINE_PUBLIC_MAX, "public line room");
_Static_assert(HL_NAME_MAX == SR_HOTLINE_NAME_MAX, "name room");
_Static_assert(HL_URL_MAX == SR_HOTLINE_URL_MAX, "URL room");

struct sr_hotline {
    char dir[PATH_MAX];
    hl_identity *id;
    hl_peer *peers; /* HL_PEERS_MAX */
    size_t npeers;
    char msg[SR_HOTLINE_MSG_MAX];
};

static sr_status say(char *msg, sr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sr_status say(char *msg, sr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, SR_HOTLINE_MSG_MAX, fmt, ap);
    va_end(ap);
    return st;
}

static bool path_in(char out[PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    return n > 0 && n < PATH_MAX;
}

/* Write a whole new file (O_EXCL) with mode, synced. */
static sr_status write_new(const char *path, const void *p, size_t n, int mode)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO;
    bool ok = fd_write_all(fd, p, n) && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    errno = saved;
    return ok ? SR_OK : (errno == ENOSPC ? SR_ERR_FULL : SR_ERR_IO);
}

sr_status sr_hotline_init(const char *dir, const char *name,
                          char pub[SR_HOTLINE_PUBLIC_MAX],
                          char msg[SR_HOTLINE_MSG_MAX])
{
    char path[PATH_MAX], key[HL_KEYFILE_MAX], line[HL_PUBLIC_MAX + 1];
    hl_identity *id = NULL;
    hl_peer me;
    size_t klen = 0;
    sr_status st;
    pub[0] = '\0';
    msg[0] = '\0';
    if (dir == NULL || name == NULL || !hl_name_ok(name, strlen(name)))
        return say(msg, SR_ERR_INVALID,
                   "a node name is 1-63 of a-z, 0-9, '.' and '-', starting "
                   "with a letter or digit");
    if (!path_in(path, dir, "node.key"))
        return say(msg, SR_ERR_INVALID, "the directory path is too long");
    if (mkdir(dir, 0700) != 0)
        return say(msg, errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO,
                   "cannot create %s: %s", dir, strerror(errno));
    st = hl_identity_new(&id, name);
    if (st == SR_OK)
        st = hl_keyfile_format(id, key, sizeof key, &klen);
    if (st == SR_OK)
        st = write_new(path, key, klen, 0600);
    sodium_memzero(key, sizeof key);
    if (st == SR_OK) {
        hl_identity_peer(id, &me);
        st = hl_peer_format(&me, line, sizeof line - 1);
    }
    if (st == SR_OK) {
        size_t n = strlen(line);
        line[n] = '\n';
        st = path_in(path, dir, "node.pub") ? write_new(path, line, n + 1, 0644)
                                            : SR_ERR_INVALID;
        line[n] = '\0';
    }
    if (st == SR_OK)
        st = path_in(path, dir, "peers") ? write_new(path, "", 0, 0600)
                                         : SR_ERR_INVALID;
    if (st == SR_OK)
        st = dir_sync(dir);
    hl_identity_free(id);
    if (st != SR_OK) {
        int saved = errno;
        const char *files[] = {"node.key", "node.pub", "peers"};
        for (size_t i = 0; i < 3; i++)
            if (path_in(path, dir, files[i]))
                (void)unlink(path);
        (void)rmdir(dir);
        return say(msg, st, "cannot make the node in %s: %s", dir,
                   st == SR_ERR_IO || st == SR_ERR_FULL ? strerror(saved)
                                                        : sr_status_str(st));
    }
    (void)snprintf(pub, SR_HOTLINE_PUBLIC_MAX, "%s", line);
    return SR_OK;
}

/* Read dir/name (at most max bytes) into b. */
static sr_status read_file(sr_hotline *h, const char *name, size_t max,
                           sr_buf *b)
{
    char path[PATH_MAX];
    buf_init(b, max);
    if (!path_in(path, h->dir, name))
        return say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    sr_status st = file_read(path, b);
    if (st == SR_ERR_NOT_FOUND)
        return say(h->msg, SR_ERR_NOT_VAULT,
                   "%s: not a hotline node (no %s; strongroom hotline init "
                   "makes one)",
                   h->dir, name);
    if (st != SR_OK)
        return say(h->msg, st, "cannot read %s: %s", path,
                   st == SR_ERR_INVALID ? "too long" : strerror(errno));
    return SR_OK;
}

sr_status sr_hotline_open(sr_hotline **out, const char *dir)
{
    sr_buf b;
    char err[HL_ERR_MAX];
    *out = NULL;
    sr_hotline *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SR_ERR_NOMEM;
    *out = h;
    if (dir == NULL ||
        snprintf(h->dir, sizeof h->dir, "%s", dir) >= (int)sizeof h->dir)
        return say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    h->peers = calloc(HL_PEERS_MAX, sizeof *h->peers);
    if (h->peers == NULL)
        return say(h->msg, SR_ERR_NOMEM, "out of memory");
    sr_status st = read_file(h, "node.key", HL_KEYFILE_MAX, &b);
    if (st == SR_OK) {
        st = hl_keyfile_parse(b.p, b.len, &h->id);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s/node.key: not a hotline key file",
                      h->dir);
    }
    buf_free(&b);
    if (st != SR_OK)
        return st;
    st = read_file(h, "peers", HL_PEERS_FILE_MAX, &b);
    if (st == SR_OK) {
        st = hl_peers_parse(b.p, b.len, h->peers, &h->npeers, err);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s/%s", h->dir, err);
    }
    buf_free(&b);
    return st;
}

void sr_hotline_close(sr_hotline *h)
{
    if (h == NULL)
        return;
    hl_identity_free(h->id);
    free(h->peers);
    free(h);
}

const char *sr_hotline_errmsg(const sr_hotline *h)
{
    return h != NULL ? h->msg : "out of memory";
}

const char *sr_hotline_name(const sr_hotline *h)
{
    return hl_identity_name(h->id);
}

sr_status sr_hotline_public(const sr_hotline *h,
                            char pub[SR_HOTLINE_PUBLIC_MAX])
{
    hl_peer me;
    hl_identity_peer(h->id, &me);
    return hl_peer_format(&me, pub, SR_HOTLINE_PUBLIC_MAX);
}

/* Rewrite the peers file from h->peers, under the node's lock. */
static sr_status save_peers(sr_hotline *h)
{
    char path[PATH_MAX];
    size_t len = 0, n = 0;
    char *text = malloc(HL_PEERS_FILE_MAX + 1);
    if (text == NULL)
        return say(h->msg, SR_ERR_NOMEM, "out of memory");
    sr_status st = SR_OK;
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++) {
        st = hl_peer_line(&h->peers[i], text + len, HL_PEERS_FILE_MAX + 1 - len,
                          &n);
        len += n;
    }
    if (st == SR_OK)
        st = path_in(path, h->dir, "peers")
                 ? file_write_atomic(path, text, len, 0600)
                 : SR_ERR_INVALID;
    free(text);
    if (st != SR_OK)
        return say(h->msg, st, "cannot write %s/peers: %s", h->dir,
                   sr_status_str(st));
    return SR_OK;
}

sr_status sr_hotline_peer_add(sr_hotline *h, const char *name, const char *url,
                              const char *key)
{
    char path[PATH_MAX], err[HL_ERR_MAX];
    hl_peer p;
    sr_buf b;
    if (name == NULL || !hl_name_ok(name, strlen(name)))
        return say(h->msg, SR_ERR_INVALID, "not a node name");
    if (url == NULL || !hl_url_ok(url, strlen(url)))
        return say(h->msg, SR_ERR_INVALID,
                   "--url: not an https URL (http only to a loopback host)");
    if (key == NULL || hl_peer_parse(key, strlen(key), &p) != SR_OK)
        return say(h->msg, SR_ERR_INVALID,
                   "--key: not a node's public line (srnode1:NAME:KEYS)");
    if (strcmp(p.name, name) != 0)
        return say(h->msg, SR_ERR_INVALID,
                   "--key: the line is for node %s, not %s", p.name, name);
    if (strcmp(name, hl_identity_name(h->id)) == 0)
        return say(h->msg, SR_ERR_INVALID, "%s is this node", name);
    (void)snprintf(p.url, sizeof p.url, "%s", url);
    if (!path_in(path, h->dir, "lock"))
        return say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        sr_status st =
            say(h->msg, SR_ERR_IO, "cannot lock %s: %s", path, strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        return st;
    }
    /* Read the file again under the lock: another process may have added
     * a peer since this handle was opened. */
    sr_status st = read_file(h, "peers", HL_PEERS_FILE_MAX, &b);
    if (st == SR_OK) {
        st = hl_peers_parse(b.p, b.len, h->peers, &h->npeers, err);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s/%s", h->dir, err);
    }
    buf_free(&b);
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++)
        if (strcmp(h->peers[i].name, name) == 0)
            st = say(h->msg, SR_ERR_EXISTS, "%s is a peer already", name);
    if (st == SR_OK && h->npeers == HL_PEERS_MAX)
        st = say(h->msg, SR_ERR_FULL, "a node keeps at most %u peers",
                 HL_PEERS_MAX);
    if (st == SR_OK) {
        h->peers[h->npeers++] = p;
        st = save_peers(h);
        if (st != SR_OK)
            h->npeers--;
    }
    (void)close(fd); /* releases the lock */
    return st;
}

sr_status sr_hotline_peers(const sr_hotline *h,
                           sr_status (*fn)(void *ctx,
                                           const sr_hotline_peer_info *p),
                           void *ctx)
{
    sr_hotline_peer_info info;
    for (size_t i = 0; i < h->npeers; i++) {
        memset(&info, 0, sizeof info);
        memcpy(info.name, h->peers[i].name, sizeof info.name);
        memcpy(info.url, h->peers[i].url, sizeof info.url);
        sr_status st = hl_peer_format(&h->peers[i], info.key, sizeof info.key);
        if (st == SR_OK)
            st = fn(ctx, &info);
        if (st != SR_OK)
            return st;
    }
    return SR_OK;
}
