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

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "audit/entry.h"
#include "audit/log.h"
#include "audit/note.h"
#include "audit/tile.h"
#include "strongroom/witness.h"
#include "hotline/body.h"
#include "hotline/files.h"
#include "hotline/store.h"
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
    struct stat peers_seen; /* the peers file as last read */
    hl_store *store;        /* node.db, opened at the first message */
    audit_log *log;         /* the node's transparency log, opened with store */
    char log_dir[PATH_MAX]; /* <dir>/log */
    char msg[SR_HOTLINE_MSG_MAX];
    hl_scratch scratch; /* bodies taken in and receipts are opened here */
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

/* The log's keys and origin ("strongroom-hotline/NAME"), for creating
 * or opening it; the keys in locked memory, freed by log_keys_free. */
typedef struct log_keys {
    uint8_t *journal, *sign;
    char origin[AUDIT_ORIGIN_MAX + 1];
} log_keys;

static void log_keys_free(log_keys *k)
{
    sodium_free(k->journal);
    sodium_free(k->sign);
}

static sr_status log_keys_of(const hl_identity *id, log_keys *k)
{
    k->journal = sodium_malloc(32);
    k->sign = sodium_malloc(32);
    (void)snprintf(k->origin, sizeof k->origin, "strongroom-hotline/%s",
                   hl_identity_name(id));
    if (k->journal == NULL || k->sign == NULL)
        return SR_ERR_NOMEM;
    sr_status st = hl_identity_subkey(id, HL_SUBKEY_LOG_JOURNAL, k->journal);
    if (st == SR_OK)
        st = hl_identity_subkey(id, HL_SUBKEY_LOG_SIGN, k->sign);
    return st;
}

/* Remove a half-made node: the files init writes, and the log's. */
static void unmake(const char *dir)
{
    char path[PATH_MAX];
    const char *files[] = {"node.key", "node.pub", "peers", "log.vkey"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (path_in(path, dir, files[i]))
            (void)unlink(path);
    /* The log's and the witness's directories, if it got as far. */
    const char *dirs[] = {"log", "audit", "witness"};
    for (size_t i = 0; i < 3; i++)
        if (path_in(path, dir, dirs[i]))
            dir_remove_tree(path);
    (void)rmdir(dir);
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
    int saved = errno;
    char lmsg[AUDIT_MSG_MAX] = "";
    if (st == SR_OK) {
        log_keys k;
        st = log_keys_of(id, &k);
        if (st == SR_OK) {
            audit_log_config c = {dir, k.journal, k.sign, k.origin};
            st = audit_log_create(&c, lmsg);
        }
        log_keys_free(&k);
        saved = errno;
    }
    /* The node witnesses its peers' logs with a key of its own. */
    if (st == SR_OK) {
        char wname[HL_NAME_MAX + 40], vkey[SR_WITNESS_VKEY_MAX];
        (void)snprintf(wname, sizeof wname, "strongroom-hotline/%s/witness",
                       name);
        st = path_in(path, dir, "witness")
                 ? sr_witness_init(path, wname, vkey, sizeof vkey)
                 : SR_ERR_INVALID;
        saved = errno;
    }
    if (st == SR_OK)
        st = dir_sync(dir);
    hl_identity_free(id);
    if (st != SR_OK) {
        unmake(dir);
        return say(msg, st, "cannot make the node in %s: %s", dir,
                   lmsg[0] != '\0'                        ? lmsg
                   : st == SR_ERR_IO || st == SR_ERR_FULL ? strerror(saved)
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

/* Read the peers file again if it changed since it was last read (a
 * `peer add` from another process replaces it), or always with force.
 * A running server thus sees a new peer at its next request. */
static sr_status load_peers(sr_hotline *h, bool force)
{
    char path[PATH_MAX], err[HL_ERR_MAX];
    struct stat now;
    sr_buf b;
    if (!path_in(path, h->dir, "peers"))
        return say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    if (!force && stat(path, &now) == 0 && now.st_ino == h->peers_seen.st_ino &&
        now.st_size == h->peers_seen.st_size &&
        now.st_mtim.tv_sec == h->peers_seen.st_mtim.tv_sec &&
        now.st_mtim.tv_nsec == h->peers_seen.st_mtim.tv_nsec)
        return SR_OK;
    struct stat before;
    bool known = stat(path, &before) == 0;
    sr_status st = read_file(h, "peers", HL_PEERS_FILE_MAX, &b);
    if (st == SR_OK) {
        st = hl_peers_parse(b.p, b.len, h->peers, &h->npeers, err);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s/%s", h->dir, err);
        else if (known)
            h->peers_seen = before;
    }
    buf_free(&b);
    return st;
}

sr_status sr_hotline_open(sr_hotline **out, const char *dir)
{
    sr_buf b;
    *out = NULL;
    sr_hotline *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SR_ERR_NOMEM;
    *out = h;
    if (dir == NULL ||
        snprintf(h->dir, sizeof h->dir, "%s", dir) >= (int)sizeof h->dir ||
        !path_in(h->log_dir, dir, "log"))
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
    return load_peers(h, true);
}

void sr_hotline_close(sr_hotline *h)
{
    if (h == NULL)
        return;
    audit_log_release(h->log); /* checkpoints what is pending */
    hl_identity_free(h->id);
    hl_store_close(h->store);
    hl_scratch_free(&h->scratch);
    free(h->peers);
    free(h);
}

const char *sr_hotline_errmsg(const sr_hotline *h)
{
    return h != NULL ? h->msg : "out of memory";
}

const char *sr_hotline_log_dir(const sr_hotline *h)
{
    return h->log_dir;
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
    char path[PATH_MAX];
    hl_peer p;
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
    sr_status st = load_peers(h, true);
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

/* ---- messages ------------------------------------------------------------ */

/* Open node.db and the node's log (checked: a log that fails its checks
 * fails every message operation). */
static sr_status store_of(sr_hotline *h)
{
    char path[PATH_MAX], m[HL_STORE_MSG_MAX], lmsg[AUDIT_MSG_MAX];
    sr_status st = load_peers(h, false);
    if (st != SR_OK || h->store != NULL)
        return st;
    if (!path_in(path, h->dir, "node.db"))
        return say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    log_keys k;
    st = log_keys_of(h->id, &k);
    if (st == SR_OK) {
        audit_log_config c = {h->dir, k.journal, k.sign, k.origin};
        st = audit_log_open(&h->log, &c, lmsg);
        if (st != SR_OK)
            (void)say(h->msg, st, "the node's log: %s", lmsg);
    }
    log_keys_free(&k);
    if (st != SR_OK)
        return st;
    st = hl_store_open(&h->store, path, m);
    if (st != SR_OK)
        return say(h->msg, st, "%s", m);
    return SR_OK;
}

/* One entry in the node's log: what happened to which message, by its
 * hashes and numbers, never its content. action: "hotline.send.KIND",
 * "hotline.receive.KIND" or "hotline.delivered"; extra: more detail (the
 * receipt's hash), or NULL. Durable when it returns. */
/* Log entries gathered to be appended together: one sync for a batch. */
typedef struct log_batch {
    sr_buf *e;
    size_t n, cap;
} log_batch;

static void log_batch_free(log_batch *lb)
{
    for (size_t i = 0; i < lb->n; i++)
        buf_free(&lb->e[i]);
    free(lb->e);
    memset(lb, 0, sizeof *lb);
}

/* Encode one entry about a message into lb: what happened to it, by its
 * hashes and numbers, never its content. action: "hotline.send.KIND",
 * "hotline.receive.KIND" or "hotline.delivered"; extra: more detail (a
 * receipt's hash), or NULL. */
static sr_status log_add(log_batch *lb, const char *action, const char *peer,
                         const hl_header *hd, const uint8_t env_hash[32],
                         const char *extra)
{
    char id[2 * HL_ID_BYTES + 1], hash[65];
    audit_entry e;
    if (lb->n == lb->cap) {
        size_t cap = lb->cap ? 2 * lb->cap : 16;
        sr_buf *p = realloc(lb->e, cap * sizeof *p);
        if (p == NULL)
            return SR_ERR_NOMEM;
        lb->e = p;
        lb->cap = cap;
    }
    memset(&e, 0, sizeof e);
    e.time_ns = (uint64_t)time(NULL) * 1000000000u;
    (void)snprintf(e.principal, sizeof e.principal, "%s", peer);
    (void)snprintf(e.action, sizeof e.action, "%s", action);
    e.outcome = ENTRY_ALLOWED;
    (void)snprintf(e.case_id, sizeof e.case_id, "%s", hd->case_id);
    hex_encode(id, hd->id, HL_ID_BYTES);
    hex_encode(hash, env_hash, 32);
    (void)snprintf(e.detail, sizeof e.detail,
                   "seq %llu id %s sha256 %s tlp %s%s%s",
                   (unsigned long long)hd->seq, id, hash, hl_tlp_name(hd->tlp),
                   extra != NULL ? " " : "", extra != NULL ? extra : "");
    e.count = hd->seq;
    buf_init(&lb->e[lb->n], ENTRY_MAX_BYTES);
    sr_status st = entry_encode(&e, &lb->e[lb->n]);
    if (st != SR_OK) {
        buf_free(&lb->e[lb->n]);
        return st;
    }
    lb->n++;
    return SR_OK;
}

/* Append lb's entries to the node's log, durably, in one batch. */
static sr_status log_flush(sr_hotline *h, log_batch *lb)
{
    char lmsg[AUDIT_MSG_MAX] = "";
    uint64_t first = 0;
    sr_status st = SR_OK;
    for (size_t i = 0; i < lb->n && st == SR_OK;) {
        size_t k = lb->n - i < AUDIT_APPEND_MANY_MAX ? lb->n - i
                                                     : AUDIT_APPEND_MANY_MAX;
        const uint8_t **e = malloc(k * sizeof *e);
        size_t *len = malloc(k * sizeof *len);
        if (e == NULL || len == NULL) {
            st = SR_ERR_NOMEM;
        } else {
            for (size_t j = 0; j < k; j++) {
                e[j] = lb->e[i + j].p;
                len[j] = lb->e[i + j].len;
            }
            st = audit_log_append_many(h->log, e, len, k, &first, lmsg);
        }
        free(e);
        free(len);
        i += k;
    }
    log_batch_free(lb);
    if (st != SR_OK)
        return say(h->msg, st, "the node's log: %s",
                   lmsg[0] != '\0' ? lmsg : sr_status_str(st));
    return SR_OK;
}

static const hl_peer *peer_named(const sr_hotline *h, const char *name)
{
    for (size_t i = 0; i < h->npeers; i++)
        if (strcmp(h->peers[i].name, name) == 0)
            return &h->peers[i];
    return NULL;
}

static void now_utc(char out[21], int64_t *secs)
{
    time_t t = time(NULL);
    struct tm tm;
    (void)gmtime_r(&t, &tm);
    (void)strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (secs != NULL)
        *secs = (int64_t)t;
}

static sr_status kind_parse(const char *s, hl_kind *out)
{
    for (unsigned k = 0; k < HL_KIND_COUNT; k++)
        if (s != NULL && strcmp(s, hl_kind_name((hl_kind)k)) == 0) {
            *out = (hl_kind)k;
            return SR_OK;
        }
    return SR_ERR_INVALID;
}

/* Seal, keep a copy and store a message in one write transaction. */
static sr_status put_message(sr_hotline *h, hl_record *r, const uint8_t *body,
                             size_t len)
{
    char m[HL_STORE_MSG_MAX];
    uint8_t *self = NULL;
    size_t self_len = 0;
    sr_status st = hl_self_seal(h->id, r->h.id, body, len, &self, &self_len);
    if (st != SR_OK)
        return say(h->msg, st, "cannot keep a copy of the body");
    r->body = self;
    r->body_len = self_len;
    st = hl_store_put(h->store, r, m);
    free(self);
    if (st != SR_OK)
        return say(h->msg, st, "%s", m);
    return SR_OK;
}

/* End a write transaction that failed; its own failure changes nothing
 * (the connection rolls back when it closes). */
static void rollback(hl_store *s)
{
    char m[HL_STORE_MSG_MAX];
    if (hl_store_exec(s, "ROLLBACK", m) != SR_OK)
        return;
}

/* End a write transaction: lb's entries appended to the log, durably,
 * before the commit (the log never lacks what the node holds; it may
 * name an attempt that did not stay), then COMMIT; on any failure the
 * transaction is rolled back. lb is emptied either way. */
static sr_status log_and_commit(sr_hotline *h, log_batch *lb)
{
    char m[HL_STORE_MSG_MAX];
    sr_status st = lb->n > 0 ? log_flush(h, lb) : SR_OK;
    log_batch_free(lb);
    if (st == SR_OK) {
        st = hl_store_exec(h->store, "COMMIT", m);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s", m);
    }
    if (st != SR_OK)
        rollback(h->store);
    return st;
}

/* Queue one message inside the caller's write transaction; its log entry
 * goes to lb. */
static sr_status queue_one(sr_hotline *h, const sr_hotline_outbound *o,
                           char id[SR_HOTLINE_ID_LEN + 1], log_batch *lb)
{
    char err[HL_ERR_MAX], m[HL_STORE_MSG_MAX];
    hl_record r;
    char *env = NULL;
    size_t env_len = 0;
    memset(&r, 0, sizeof r);
    id[0] = '\0';
    const hl_peer *to = o->peer != NULL ? peer_named(h, o->peer) : NULL;
    if (to == NULL)
        return say(h->msg, SR_ERR_NOT_FOUND,
                   "%s is not a peer of this node (hotline peer add)",
                   o->peer != NULL ? o->peer : "");
    if (o->case_id == NULL || !hl_case_ok(o->case_id, strlen(o->case_id)))
        return say(h->msg, SR_ERR_INVALID,
                   "a case id is 1-64 of A-Z, a-z, 0-9, '.', '_', ':', '-'");
    if (kind_parse(o->kind, &r.h.kind) != SR_OK || r.h.kind == HL_RECEIPT)
        return say(h->msg, SR_ERR_INVALID,
                   "the kind is request, ack, response or close");
    if (hl_tlp_parse(o->tlp, &r.h.tlp) != SR_OK)
        return say(h->msg, SR_ERR_INVALID,
                   "the TLP label is TLP:CLEAR, TLP:GREEN, TLP:AMBER, "
                   "TLP:AMBER+STRICT or TLP:RED");
    const uint8_t *body = (const uint8_t *)o->body;
    if (hl_body_check_marked(r.h.kind, r.h.tlp, body, o->len, err) != SR_OK)
        return say(h->msg, SR_ERR_INVALID, "%s", err);
    (void)snprintf(r.h.from, sizeof r.h.from, "%s", hl_identity_name(h->id));
    (void)snprintf(r.h.to, sizeof r.h.to, "%s", to->name);
    (void)snprintf(r.h.case_id, sizeof r.h.case_id, "%s", o->case_id);
    randombytes_buf(r.h.id, sizeof r.h.id);
    now_utc(r.h.sent, &r.at);
    r.outgoing = true;
    r.state = HL_QUEUED;
    if (r.h.kind == HL_REQUEST)
        r.deadline = hl_request_deadline(body, o->len);
    sr_status st =
        hl_store_next_seq(h->store, to->name, o->case_id, true, &r.h.seq, m);
    if (st != SR_OK)
        (void)say(h->msg, st, "%s", m);
    if (st == SR_OK) {
        st = hl_seal(h->id, to, &r.h, body, o->len, &env, &env_len);
        if (st != SR_OK)
            (void)say(h->msg, st, "cannot seal the message");
    }
    if (st == SR_OK) {
        r.envelope = (const uint8_t *)env;
        r.envelope_len = env_len;
        hl_envelope_hash(env, env_len, r.env_hash);
        st = put_message(h, &r, body, o->len);
    }
    if (st == SR_OK) {
        char action[ENTRY_NAME_MAX + 1];
        (void)snprintf(action, sizeof action, "hotline.send.%s",
                       hl_kind_name(r.h.kind));
        st = log_add(lb, action, to->name, &r.h, r.env_hash, NULL);
        if (st != SR_OK)
            (void)say(h->msg, st, "the node's log: %s", sr_status_str(st));
    }
    free(env);
    if (st == SR_OK)
        hex_encode(id, r.h.id, HL_ID_BYTES);
    return st;
}

sr_status sr_hotline_send_many(sr_hotline *h, const sr_hotline_outbound *msgs,
                               size_t n, char (*ids)[SR_HOTLINE_ID_LEN + 1])
{
    char m[HL_STORE_MSG_MAX];
    log_batch lb = {NULL, 0, 0};
    sr_status st = store_of(h);
    if (st != SR_OK)
        return st;
    st = hl_store_exec(h->store, "BEGIN IMMEDIATE", m);
    if (st != SR_OK)
        return say(h->msg, st, "%s", m);
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        st = queue_one(h, &msgs[i], ids[i], &lb);
        if (st != SR_OK && n > 1) {
            char keep[SR_HOTLINE_MSG_MAX];
            memcpy(keep, h->msg, sizeof keep);
            (void)say(h->msg, st, "message %zu: %s", i + 1, keep);
        }
    }
    if (st == SR_OK)
        st = log_and_commit(h, &lb);
    else {
        log_batch_free(&lb);
        rollback(h->store);
    }
    if (st != SR_OK)
        for (size_t i = 0; i < n; i++)
            ids[i][0] = '\0';
    return st;
}

sr_status sr_hotline_send(sr_hotline *h, const char *peer, const char *case_id,
                          const char *kind, const char *tlp, const char *body,
                          size_t len, char id[SR_HOTLINE_ID_LEN + 1])
{
    sr_hotline_outbound o = {peer, case_id, kind, tlp, body, len};
    return sr_hotline_send_many(h, &o, 1, (char(*)[SR_HOTLINE_ID_LEN + 1]) id);
}

sr_status sr_hotline_reply(sr_hotline *h, const char *to, const char *kind,
                           const char *body, size_t len,
                           char id[SR_HOTLINE_ID_LEN + 1])
{
    char m[HL_STORE_MSG_MAX], peer[HL_NAME_MAX + 1], case_id[HL_CASE_MAX + 1];
    uint8_t raw[HL_ID_BYTES];
    hl_record r;
    id[0] = '\0';
    if (to == NULL || !hex_decode(raw, sizeof raw, to, strlen(to)))
        return say(h->msg, SR_ERR_INVALID, "a message id is 32 hex digits");
    sr_status st = store_of(h);
    if (st == SR_OK)
        st = hl_store_get(h->store, raw, &r, m);
    if (st != SR_OK)
        return h->store != NULL ? say(h->msg, st, "message %s: %s", to, m) : st;
    (void)snprintf(peer, sizeof peer, "%s", r.outgoing ? r.h.to : r.h.from);
    (void)snprintf(case_id, sizeof case_id, "%s", r.h.case_id);
    return sr_hotline_send(h, peer, case_id, kind, hl_tlp_name(r.h.tlp), body,
                           len, id);
}

sr_status sr_hotline_forward(sr_hotline *h, const char *id, const char *peer,
                             const char *case_id,
                             char out_id[SR_HOTLINE_ID_LEN + 1])
{
    sr_hotline_message_info m;
    char *body = NULL;
    size_t len = 0;
    out_id[0] = '\0';
    sr_status st = sr_hotline_read(h, id, &m, &body, &len);
    if (st != SR_OK)
        return st;
    hl_tlp t = HL_TLP_RED;
    if (hl_body_personal(HL_REQUEST, (const uint8_t *)body, len))
        st = say(h->msg, SR_ERR_DENIED,
                 "message %s carries personal data: it was shared with %s "
                 "alone, under a second person's approval, and is never "
                 "passed on",
                 id, m.outgoing ? m.peer : "this node");
    else if (hl_tlp_parse(m.tlp, &t) != SR_OK || !hl_tlp_may_forward(t))
        st = say(h->msg, SR_ERR_DENIED,
                 "message %s is marked %s: it goes no further than its "
                 "recipient%s (only TLP:CLEAR and TLP:GREEN are passed on)",
                 id, m.tlp, t == HL_TLP_RED ? "" : "'s organisation");
    else if (peer != NULL && strcmp(peer, m.peer) == 0)
        st = say(h->msg, SR_ERR_INVALID,
                 "message %s came from %s: forward it to another node", id,
                 m.peer);
    else
        st = sr_hotline_send(h, peer, case_id != NULL ? case_id : m.case_id,
                             m.kind, m.tlp, body, len, out_id);
    sr_hotline_free_body(body, len);
    return st;
}

void sr_hotline_free(void *p)
{
    free(p);
}

/* The receipt for an envelope taken in: its hash and when. */
static sr_status make_receipt(sr_hotline *h, const hl_peer *to,
                              const hl_header *in, const uint8_t hash[32],
                              char **out, size_t *out_len)
{
    char body[160], hex[65];
    hl_header r;
    memset(&r, 0, sizeof r);
    (void)snprintf(r.from, sizeof r.from, "%s", hl_identity_name(h->id));
    (void)snprintf(r.to, sizeof r.to, "%s", to->name);
    (void)snprintf(r.case_id, sizeof r.case_id, "%s", in->case_id);
    r.seq = in->seq;
    randombytes_buf(r.id, sizeof r.id);
    r.kind = HL_RECEIPT;
    r.tlp = in->tlp;
    now_utc(r.sent, NULL);
    hex_encode(hex, hash, 32);
    int n = snprintf(body, sizeof body,
                     "{\"message\":\"%s\",\"received\":\"%s\"}", hex, r.sent);
    if (n < 0 || (size_t)n >= sizeof body)
        return SR_ERR_INTERNAL;
    return hl_seal(h->id, to, &r, (const uint8_t *)body, (size_t)n, out,
                   out_len);
}

/* Take one envelope in, inside the caller's write transaction: its
 * receipt (malloc'd) to *receipt, its log entry added to lb (none for a
 * message taken in before, which gets its first receipt again). Refusals
 * are said in msg. */
static sr_status take_in(sr_hotline *h, const char *env, size_t len,
                         char **receipt, size_t *receipt_len, log_batch *lb,
                         char msg[SR_HOTLINE_MSG_MAX])
{
    char err[HL_ERR_MAX], m[HL_STORE_MSG_MAX];
    hl_record r, old;
    const uint8_t *body = NULL;
    size_t blen = 0;
    uint64_t expect = 0;
    *receipt = NULL;
    *receipt_len = 0;
    memset(&r, 0, sizeof r);
    sr_status st = hl_open_in(h->id, h->peers, h->npeers, env, len, &r.h,
                              &h->scratch, &body, &blen, err);
    if (st != SR_OK)
        return say(msg, st, "refused: %s", err);
    if (r.h.kind == HL_RECEIPT)
        st = say(msg, SR_ERR_INVALID,
                 "refused: a receipt comes as the answer to a message");
    else if (hl_body_check_marked(r.h.kind, r.h.tlp, body, blen, err) != SR_OK)
        st = say(msg, SR_ERR_INVALID, "refused: %s", err);
    if (st != SR_OK)
        return st;
    const hl_peer *from = peer_named(h, r.h.from);
    r.envelope = (const uint8_t *)env;
    r.envelope_len = len;
    hl_envelope_hash(env, len, r.env_hash);
    /* Taken in before (its receipt was lost on the way back): the same
     * receipt again. The same id with other bytes is a replay. */
    st = hl_store_get(h->store, r.h.id, &old, m);
    if (st == SR_OK) {
        if (!old.outgoing && sodium_memcmp(old.env_hash, r.env_hash, 32) == 0 &&
            old.receipt != NULL) {
            *receipt = malloc(old.receipt_len + 1);
            if (*receipt == NULL) {
                st = say(msg, SR_ERR_NOMEM, "out of memory");
            } else {
                memcpy(*receipt, old.receipt, old.receipt_len);
                (*receipt)[old.receipt_len] = '\0';
                *receipt_len = old.receipt_len;
            }
        } else {
            st = say(msg, SR_ERR_CONFLICT,
                     "refused: replayed: message id taken by another message");
        }
        return st;
    }
    if (st == SR_ERR_NOT_FOUND)
        st = hl_store_next_seq(h->store, r.h.from, r.h.case_id, false, &expect,
                               m);
    if (st != SR_OK) {
        (void)say(msg, st, "%s", m);
    } else if (r.h.seq != expect) {
        st = say(msg, SR_ERR_CONFLICT,
                 r.h.seq < expect ? "refused: replayed: message %llu of case "
                                    "%s was taken in already (next: %llu)"
                                  : "refused: out of order: message %llu of "
                                    "case %s, but %llu comes first",
                 (unsigned long long)r.h.seq, r.h.case_id,
                 (unsigned long long)expect);
    } else {
        st = make_receipt(h, from, &r.h, r.env_hash, receipt, receipt_len);
        if (st != SR_OK)
            (void)say(msg, st, "cannot make the receipt");
    }
    if (st == SR_OK) {
        r.outgoing = false;
        r.state = HL_RECEIVED;
        if (r.h.kind == HL_REQUEST)
            r.deadline = hl_request_deadline(body, blen);
        r.receipt = (const uint8_t *)*receipt;
        r.receipt_len = *receipt_len;
        now_utc((char[21]){0}, &r.at);
        st = put_message(h, &r, body, blen);
        if (st != SR_OK)
            (void)say(msg, st, "%s", h->msg);
    }
    if (st == SR_OK) {
        char action[ENTRY_NAME_MAX + 1], extra[96], hex[65];
        uint8_t rh[32];
        hl_envelope_hash(*receipt, *receipt_len, rh);
        hex_encode(hex, rh, 32);
        (void)snprintf(action, sizeof action, "hotline.receive.%s",
                       hl_kind_name(r.h.kind));
        (void)snprintf(extra, sizeof extra, "receipt sha256 %s", hex);
        st = log_add(lb, action, r.h.from, &r.h, r.env_hash, extra);
        if (st != SR_OK)
            (void)say(msg, st, "the node's log: %s", sr_status_str(st));
    }
    if (st != SR_OK) {
        free(*receipt);
        *receipt = NULL;
        *receipt_len = 0;
    }
    return st;
}

sr_status sr_hotline_receive_batch(sr_hotline *h, const char *const *envs,
                                   const size_t *lens, size_t n,
                                   sr_hotline_taken *out)
{
    char m[HL_STORE_MSG_MAX];
    log_batch lb = {NULL, 0, 0};
    memset(out, 0, n * sizeof *out);
    sr_status st = store_of(h);
    if (st == SR_OK) {
        st = hl_store_exec(h->store, "BEGIN IMMEDIATE", m);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s", m);
    }
    if (st != SR_OK) {
        for (size_t i = 0; i < n; i++) {
            out[i].status = st;
            (void)snprintf(out[i].msg, sizeof out[i].msg, "%s", h->msg);
        }
        return st;
    }
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        /* A message that fails leaves nothing of itself behind. */
        st = hl_store_exec(h->store, "SAVEPOINT msg", m);
        if (st != SR_OK) {
            (void)say(h->msg, st, "%s", m);
            break;
        }
        out[i].status = take_in(h, envs[i], lens[i], &out[i].receipt,
                                &out[i].receipt_len, &lb, out[i].msg);
        st = hl_store_exec(h->store,
                           out[i].status == SR_OK
                               ? "RELEASE msg"
                               : "ROLLBACK TO msg; RELEASE msg",
                           m);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s", m);
    }
    /* No receipt leaves before its message and log entry are durable. */
    if (st == SR_OK)
        st = log_and_commit(h, &lb);
    else {
        log_batch_free(&lb);
        rollback(h->store);
    }
    if (st != SR_OK) {
        for (size_t i = 0; i < n; i++) {
            free(out[i].receipt);
            out[i].receipt = NULL;
            out[i].receipt_len = 0;
            if (out[i].status == SR_OK) {
                out[i].status = st;
                (void)snprintf(out[i].msg, sizeof out[i].msg, "%s", h->msg);
            }
        }
    }
    return st;
}

sr_status sr_hotline_receive(sr_hotline *h, const char *env, size_t len,
                             char **receipt, size_t *receipt_len)
{
    sr_hotline_taken t;
    *receipt = NULL;
    *receipt_len = 0;
    sr_status st = sr_hotline_receive_batch(h, &env, &len, 1, &t);
    if (st != SR_OK)
        return st;
    if (t.status != SR_OK)
        return say(h->msg, t.status, "%s", t.msg);
    *receipt = t.receipt;
    *receipt_len = t.receipt_len;
    return SR_OK;
}

/* ---- delivery ------------------------------------------------------------ */

#define BATCH_MSGS 256u           /* messages in one POST */
#define BATCH_BYTES (8u << 20)    /* envelope bytes in one POST */
#define REPLY_LINE_MAX (4u << 10) /* a receipt or problem line */

typedef struct reply {
    char *p;
    size_t len, cap;
    bool too_long;
} reply;

static size_t on_reply(char *data, size_t size, size_t n, void *ctx)
{
    reply *r = ctx;
    size_t add = size * n;
    if (r->too_long || add > r->cap - r->len) {
        r->too_long = true;
        return 0; /* stops the transfer */
    }
    memcpy(r->p + r->len, data, add);
    r->len += add;
    return add;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_start(void)
{
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A request to <peer url>/<path>: a POST of body (envelopes, one a line)
 * when body is not NULL, else a GET; the reply into r (at most r->cap
 * bytes). false, with why, if it could not be made; else *status is the
 * HTTP status. */
static bool http_call(const hl_peer *to, const char *ca_file, const char *path,
                      const char *body, size_t len, reply *r, long *status,
                      char why[HL_ERR_MAX])
{
    char url[HL_URL_MAX + TILE_PATH_MAX + 32], cerr[CURL_ERROR_SIZE] = "";
    size_t ul = strlen(to->url);
    *status = 0;
    r->len = 0;
    r->too_long = false;
    (void)snprintf(url, sizeof url, "%s%s%s", to->url,
                   ul > 0 && to->url[ul - 1] == '/' ? "" : "/", path);
    (void)pthread_once(&curl_once, curl_start);
    CURL *c = curl_easy_init();
    struct curl_slist *hd =
        body != NULL
            ? curl_slist_append(NULL, "Content-Type: application/x-ndjson")
            : NULL;
    CURLcode rc = c != NULL && (body == NULL || hd != NULL)
                      ? CURLE_OK
                      : CURLE_OUT_OF_MEMORY;
    if (rc == CURLE_OK) {
        (void)curl_easy_setopt(c, CURLOPT_URL, url);
        (void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        (void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        (void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
        if (body != NULL) {
            (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
            (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            (void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t)len);
        }
        (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
        (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        if (ca_file != NULL)
            (void)curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
            (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        (void)snprintf(why, HL_ERR_MAX, "%.60s: %.120s", path,
                       r->too_long       ? "the reply is too long"
                       : cerr[0] != '\0' ? cerr
                                         : curl_easy_strerror(rc));
        return false;
    }
    return true;
}

/* POST a batch; false, with why, unless the peer answered 200. */
static bool post(const hl_peer *to, const char *ca_file, const char *body,
                 size_t len, reply *r, char why[HL_ERR_MAX])
{
    long status = 0;
    if (!http_call(to, ca_file, "hotline/v1/messages", body, len, r, &status,
                   why))
        return false;
    if (status != 200) {
        /* The problem says why; printable bytes only. */
        size_t n = r->len < 120 ? r->len : 120;
        char text[121];
        for (size_t i = 0; i < n; i++)
            text[i] = r->p[i] >= 0x20 && r->p[i] < 0x7f ? r->p[i] : '.';
        text[n] = '\0';
        (void)snprintf(why, HL_ERR_MAX, "HTTP %ld: %s", status, text);
        return false;
    }
    return true;
}

/* One queued message on its way. */
typedef struct outgoing {
    uint8_t id[HL_ID_BYTES];
    hl_header h;
    uint8_t env_hash[32];
    char *env;
    size_t env_len;
    uint32_t attempts;
    char key[HL_NAME_MAX + HL_CASE_MAX + 2]; /* "peer case" */
} outgoing;

/* Is line (a reply line) the recipient's receipt for exactly q? */
static bool receipt_ok(sr_hotline *h, const hl_peer *to, const outgoing *q,
                       const char *line, size_t len, char why[HL_ERR_MAX])
{
    char err[HL_ERR_MAX], hex[65];
    hl_header rh;
    const uint8_t *body = NULL;
    size_t blen = 0;
    json_error_t je;
    json_t *o = NULL;
    if (hl_open_in(h->id, to, 1, line, len, &rh, &h->scratch, &body, &blen,
                   err) != SR_OK) {
        /* Not a receipt: the peer's problem for this message? */
        o = json_loadb(line, len, 0, &je);
        const char *d = json_string_value(json_object_get(o, "detail"));
        (void)snprintf(why, HL_ERR_MAX, "%.190s",
                       d != NULL ? d : "the reply is not a receipt");
        for (char *p = why; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '.';
        json_decref(o);
        return false;
    }
    bool ok = false;
    if (rh.kind != HL_RECEIPT || strcmp(rh.case_id, q->h.case_id) != 0 ||
        rh.seq != q->h.seq)
        (void)snprintf(why, HL_ERR_MAX, "the reply is not its receipt");
    else if (hl_body_check(HL_RECEIPT, body, blen, err) != SR_OK)
        (void)snprintf(why, HL_ERR_MAX, "the receipt: %.180s", err);
    else if ((o = json_loadb((const char *)body, blen, 0, &je)) == NULL)
        (void)snprintf(why, HL_ERR_MAX, "the receipt does not parse");
    else {
        hex_encode(hex, q->env_hash, 32);
        ok = strcmp(json_string_value(json_object_get(o, "message")), hex) == 0;
        if (!ok)
            (void)snprintf(why, HL_ERR_MAX,
                           "the receipt names another message");
    }
    json_decref(o);
    return ok;
}

typedef struct deliver_run {
    sr_hotline *h;
    bool force;
    const char *ca_file;
    int64_t now;
    sr_hotline_delivery *out;
    /* Cases held back this run: "peer case" keys. */
    char (*held)[HL_NAME_MAX + HL_CASE_MAX + 2];
    size_t nheld, capheld;
    /* The queue is read first, then sent: sending writes to the store. */
    uint8_t (*ids)[HL_ID_BYTES];
    size_t nids, capids;
} deliver_run;

static sr_status collect(void *ctx, const hl_record *r)
{
    deliver_run *d = ctx;
    sr_status st =
        array_room((void **)&d->ids, &d->capids, d->nids, sizeof *d->ids);
    if (st != SR_OK)
        return st;
    memcpy(d->ids[d->nids++], r->h.id, HL_ID_BYTES);
    return SR_OK;
}

static bool is_held(deliver_run *d, const char *key)
{
    for (size_t i = 0; i < d->nheld; i++)
        if (strcmp(d->held[i], key) == 0)
            return true;
    return false;
}

static sr_status hold(deliver_run *d, const char *key)
{
    if (is_held(d, key))
        return SR_OK;
    if (d->nheld == d->capheld) {
        size_t cap = d->capheld ? 2 * d->capheld : 16;
        void *p = realloc(d->held, cap * sizeof *d->held);
        if (p == NULL)
            return SR_ERR_NOMEM;
        d->held = p;
        d->capheld = cap;
    }
    (void)snprintf(d->held[d->nheld++], sizeof d->held[0], "%s", key);
    return SR_OK;
}

/* What became of each message of a batch: a receipt to keep, a failed
 * attempt to note (its cause), or nothing (it waits behind its case). */
typedef struct verdict {
    const char *receipt; /* into the reply */
    size_t receipt_len;
    bool failed;
    char why[HL_ERR_MAX];
} verdict;

/* Record a batch's outcome: every state change in one transaction, the
 * receipts' log entries made durable (one sync) before it commits. */
static sr_status settle(deliver_run *d, const hl_peer *to, outgoing *q,
                        verdict *v, size_t n)
{
    sr_hotline *h = d->h;
    char m[HL_STORE_MSG_MAX];
    log_batch lb = {NULL, 0, 0};
    sr_status st = SR_OK;
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        if (v[i].receipt == NULL)
            continue;
        char extra[96], hex[65];
        uint8_t rh[32];
        hl_envelope_hash(v[i].receipt, v[i].receipt_len, rh);
        hex_encode(hex, rh, 32);
        (void)snprintf(extra, sizeof extra, "receipt sha256 %s", hex);
        st = log_add(&lb, "hotline.delivered", to->name, &q[i].h, q[i].env_hash,
                     extra);
    }
    if (st == SR_OK) {
        st = hl_store_exec(h->store, "BEGIN IMMEDIATE", m);
        if (st != SR_OK)
            (void)say(h->msg, st, "%s", m);
    }
    if (st != SR_OK) {
        log_batch_free(&lb);
        return st;
    }
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        if (v[i].receipt != NULL) {
            st = hl_store_delivered(h->store, q[i].id,
                                    (const uint8_t *)v[i].receipt,
                                    v[i].receipt_len, d->now, m);
            if (st == SR_ERR_NOT_FOUND) /* delivered meanwhile */
                st = SR_OK;
            else if (st == SR_OK)
                d->out->delivered++;
        } else if (v[i].failed) {
            unsigned shift = q[i].attempts < 12 ? q[i].attempts + 1 : 12;
            int64_t wait = (int64_t)1 << shift;
            if (wait > 3600)
                wait = 3600;
            st = hl_store_attempt_failed(h->store, q[i].id, d->now + wait,
                                         v[i].why, m);
            if (st == SR_ERR_NOT_FOUND)
                st = SR_OK;
            d->out->failed++;
        } else {
            d->out->waiting++;
        }
    }
    if (st == SR_OK)
        return log_and_commit(h, &lb);
    (void)say(h->msg, st, "%s", m);
    log_batch_free(&lb);
    rollback(h->store);
    return st;
}

/* Send q[0..n) (one peer's, in queue order) in one POST and settle. */
static sr_status send_batch(deliver_run *d, const hl_peer *to, outgoing *q,
                            size_t n)
{
    char why[HL_ERR_MAX] = "";
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += q[i].env_len + 1;
    char *body = calloc(total + 1, 1);
    verdict *v = calloc(n, sizeof *v);
    reply r = {NULL, 0, n * REPLY_LINE_MAX, false};
    r.p = malloc(r.cap);
    if (body == NULL || v == NULL || r.p == NULL) {
        free(body);
        free(v);
        free(r.p);
        return say(d->h->msg, SR_ERR_NOMEM, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(body + at, q[i].env, q[i].env_len);
        at += q[i].env_len;
        body[at++] = '\n';
    }
    bool sent = post(to, d->ca_file, body, at, &r, why);
    const char *line = r.p, *end = r.p + r.len;
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        if (sent) {
            const char *nl =
                line < end ? memchr(line, '\n', (size_t)(end - line)) : NULL;
            if (nl == NULL) {
                (void)snprintf(v[i].why, sizeof v[i].why,
                               "no answer for it in the reply");
            } else {
                ok = receipt_ok(d->h, to, &q[i], line, (size_t)(nl - line),
                                v[i].why);
                if (ok) {
                    v[i].receipt = line;
                    v[i].receipt_len = (size_t)(nl - line);
                }
                line = nl + 1;
            }
        } else {
            (void)snprintf(v[i].why, sizeof v[i].why, "%s", why);
        }
        /* The first failure of a case counts; those behind it wait. */
        if (!ok && !is_held(d, q[i].key)) {
            v[i].failed = true;
            if (hold(d, q[i].key) != SR_OK)
                break;
        }
    }
    sr_status st = settle(d, to, q, v, n);
    free(body);
    free(v);
    free(r.p);
    return st;
}

static void outgoing_free(outgoing *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(q[i].env);
}

sr_status sr_hotline_deliver(sr_hotline *h, int force, const char *ca_file,
                             sr_hotline_delivery *out)
{
    char m[HL_STORE_MSG_MAX];
    memset(out, 0, sizeof *out);
    h->msg[0] = '\0';
    sr_status st = store_of(h);
    if (st != SR_OK)
        return st;
    deliver_run d = {h, force != 0, ca_file, 0, out, NULL, 0, 0, NULL, 0, 0};
    now_utc((char[21]){0}, &d.now);
    st = hl_store_each(h->store, true, collect, &d, m);
    if (st != SR_OK)
        (void)say(h->msg, st, "%s", m);
    outgoing *q = calloc(BATCH_MSGS, sizeof *q);
    if (q == NULL && st == SR_OK)
        st = say(h->msg, SR_ERR_NOMEM, "out of memory");
    /* Peer by peer, their messages in queue order, a batch at a time. */
    for (size_t p = 0; p < h->npeers && st == SR_OK; p++) {
        const hl_peer *to = &h->peers[p];
        size_t n = 0, bytes = 0;
        for (size_t i = 0; i < d.nids && st == SR_OK; i++) {
            hl_record r;
            st = hl_store_get(h->store, d.ids[i], &r, m);
            if (st == SR_ERR_NOT_FOUND) {
                st = SR_OK;
                continue;
            }
            if (st != SR_OK) {
                (void)say(h->msg, st, "%s", m);
                break;
            }
            if (r.state != HL_QUEUED || strcmp(r.h.to, to->name) != 0)
                continue;
            outgoing *o = &q[n];
            memset(o, 0, sizeof *o);
            (void)snprintf(o->key, sizeof o->key, "%s %s", r.h.to, r.h.case_id);
            if (is_held(&d, o->key) || (!d.force && r.next_attempt > d.now)) {
                out->waiting++;
                st = hold(&d, o->key);
                continue;
            }
            /* Taken out of the row now: sending a batch (below) ends the
             * store's hold on it. */
            char *env = malloc(r.envelope_len + 1);
            if (env == NULL) {
                st = say(h->msg, SR_ERR_NOMEM, "out of memory");
                break;
            }
            memcpy(env, r.envelope, r.envelope_len);
            outgoing next = *o;
            memcpy(next.id, r.h.id, HL_ID_BYTES);
            next.h = r.h;
            memcpy(next.env_hash, r.env_hash, 32);
            next.attempts = r.attempts;
            next.env = env;
            next.env_len = r.envelope_len;
            /* A batch stays within BATCH_BYTES unless one message alone
             * is larger: the peer takes at most one envelope's length
             * and a newline a message. */
            if (n > 0 && bytes + next.env_len > BATCH_BYTES) {
                st = send_batch(&d, to, q, n);
                outgoing_free(q, n);
                n = bytes = 0;
                /* The batch may have failed this message's case. */
                if (st != SR_OK || is_held(&d, next.key)) {
                    free(next.env);
                    if (st != SR_OK)
                        break;
                    out->waiting++;
                    continue;
                }
            }
            q[n] = next;
            o = &q[n];
            n++;
            bytes += o->env_len;
            if (n == BATCH_MSGS || bytes >= BATCH_BYTES) {
                st = send_batch(&d, to, q, n);
                outgoing_free(q, n);
                n = bytes = 0;
            }
        }
        if (st == SR_OK && n > 0)
            st = send_batch(&d, to, q, n);
        outgoing_free(q, n);
    }
    /* Messages to nodes that are no longer peers stay queued. */
    free(q);
    free(d.ids);
    free(d.held);
    return st;
}

/* ---- listing and reading ------------------------------------------------- */

static void info_of(const hl_record *r, sr_hotline_message_info *m)
{
    static const char *const states[] = {"queued", "delivered", "received"};
    memset(m, 0, sizeof *m);
    hex_encode(m->id, r->h.id, HL_ID_BYTES);
    m->outgoing = r->outgoing;
    (void)snprintf(m->peer, sizeof m->peer, "%s",
                   r->outgoing ? r->h.to : r->h.from);
    (void)snprintf(m->case_id, sizeof m->case_id, "%s", r->h.case_id);
    m->seq = r->h.seq;
    (void)snprintf(m->kind, sizeof m->kind, "%s", hl_kind_name(r->h.kind));
    (void)snprintf(m->tlp, sizeof m->tlp, "%s", hl_tlp_name(r->h.tlp));
    (void)snprintf(m->sent, sizeof m->sent, "%s", r->h.sent);
    (void)snprintf(m->state, sizeof m->state, "%s",
                   (unsigned)r->state < 3 ? states[r->state] : "?");
    m->attempts = r->attempts;
    (void)snprintf(m->error, sizeof m->error, "%s", r->last_error);
}

typedef struct list_run {
    sr_status (*fn)(void *ctx, const sr_hotline_message_info *m);
    void *ctx;
} list_run;

static sr_status list_one(void *ctx, const hl_record *r)
{
    list_run *l = ctx;
    sr_hotline_message_info m;
    info_of(r, &m);
    return l->fn(l->ctx, &m);
}

sr_status sr_hotline_messages(sr_hotline *h,
                              sr_status (*fn)(void *ctx,
                                              const sr_hotline_message_info *m),
                              void *ctx)
{
    char m[HL_STORE_MSG_MAX];
    sr_status st = store_of(h);
    if (st != SR_OK)
        return st;
    list_run l = {fn, ctx};
    st = hl_store_each(h->store, false, list_one, &l, m);
    if (st != SR_OK && st != SR_ERR_NOMEM)
        (void)say(h->msg, st, "%s", m);
    return st;
}

sr_status sr_hotline_read(sr_hotline *h, const char *id,
                          sr_hotline_message_info *info, char **body,
                          size_t *len)
{
    char m[HL_STORE_MSG_MAX];
    uint8_t raw[HL_ID_BYTES], *b = NULL;
    hl_record r;
    *body = NULL;
    *len = 0;
    if (id == NULL || !hex_decode(raw, sizeof raw, id, strlen(id)))
        return say(h->msg, SR_ERR_INVALID, "a message id is 32 hex digits");
    sr_status st = store_of(h);
    if (st == SR_OK)
        st = hl_store_get(h->store, raw, &r, m);
    if (st != SR_OK)
        return h->store != NULL ? say(h->msg, st, "%s", m) : st;
    info_of(&r, info);
    st = hl_self_open(h->id, raw, r.body, r.body_len, &b, len);
    if (st != SR_OK)
        return say(h->msg, st, "message %s: its kept body does not open", id);
    *body = (char *)b;
    return SR_OK;
}

void sr_hotline_free_body(char *body, size_t len)
{
    hl_body_free((uint8_t *)body, len);
}

sr_status sr_hotline_checkpoint(sr_hotline *h, unsigned long long *size)
{
    char lmsg[AUDIT_MSG_MAX];
    uint64_t n = 0;
    *size = 0;
    sr_status st = store_of(h);
    if (st != SR_OK)
        return st;
    st = audit_log_checkpoint(h->log, &n, lmsg);
    if (st != SR_OK)
        return say(h->msg, st, "the node's log: %s", lmsg);
    *size = n;
    return SR_OK;
}

/* ---- witnessing the peers' logs ------------------------------------------ */

#define CHECKPOINT_MAX (64u << 10)

/* GET <peer url>/hotline/log/<tail> into f (at most f->cap bytes). */
static bool fetch(const hl_peer *p, const char *ca_file, const char *tail,
                  reply *f, char why[HL_ERR_MAX])
{
    char path[TILE_PATH_MAX + 16];
    long status = 0;
    (void)snprintf(path, sizeof path, "hotline/log/%s", tail);
    if (!http_call(p, ca_file, path, NULL, 0, f, &status, why))
        return false;
    if (status != 200) {
        (void)snprintf(why, HL_ERR_MAX, "%.60s: HTTP %ld", tail, status);
        return false;
    }
    return true;
}

/* Write f to mirror/<tail>, making its directories (the mirror's own
 * names: tile paths are checked by tile_path). */
static bool mirror_put(const char *mirror, const char *tail, const reply *f,
                       char why[HL_ERR_MAX])
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", mirror, tail);
    if (n < 0 || (size_t)n >= sizeof path) {
        (void)snprintf(why, HL_ERR_MAX, "the mirror's path is too long");
        return false;
    }
    for (char *sl = path + strlen(mirror) + 1; (sl = strchr(sl, '/')) != NULL;
         sl++) {
        *sl = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *sl = '/';
            (void)snprintf(why, HL_ERR_MAX, "cannot make the mirror: %s",
                           strerror(errno));
            return false;
        }
        *sl = '/';
    }
    if (file_write_atomic(path, f->p, f->len, 0600) != SR_OK) {
        (void)snprintf(why, HL_ERR_MAX, "cannot write the mirror: %s",
                       strerror(errno));
        return false;
    }
    return true;
}

/* The tree size of a signed checkpoint: its note body (up to the blank
 * line before the signatures) parsed by the same code that checks every
 * checkpoint (note_checkpoint_parse, fuzzed). The witness checks the
 * signature afterwards. */
static bool checkpoint_size(const reply *f, uint64_t *size)
{
    note_checkpoint cp;
    size_t body = 0;
    for (; body + 1 < f->len; body++)
        if (f->p[body] == '\n' && f->p[body + 1] == '\n')
            break;
    if (body + 1 >= f->len ||
        note_checkpoint_parse(f->p, body + 1, &cp) != SR_OK)
        return false;
    *size = cp.size;
    return true;
}

/* The bytes a node signs to vouch for its witness's cosignature of a
 * partner's checkpoint: "srcosig1\n" vkey "\n" note. */
static sr_status cosig_message(const char *vkey, const char *note, sr_buf *out)
{
    sr_status st = buf_append_str(out, "srcosig1\n");
    if (st == SR_OK)
        st = buf_append_str(out, vkey);
    if (st == SR_OK)
        st = buf_append_byte(out, '\n');
    if (st == SR_OK)
        st = buf_append_str(out, note);
    return st;
}

/* Send peer p the cosigned checkpoint of its log (mirror/checkpoint),
 * with this node's witness key, signed by this node. why says how it
 * went: "sent back", or why not (the cosignature is kept either way). */
static void send_cosignature(sr_hotline *h, const hl_peer *p,
                             const char *ca_file, const char *mirror, reply *r,
                             char why[HL_ERR_MAX])
{
    char path[PATH_MAX + 16];
    sr_buf note, msg, vk;
    uint8_t sig[64];
    char sig64[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    long status = 0;
    buf_init(&note, CHECKPOINT_MAX);
    buf_init(&msg, CHECKPOINT_MAX + NOTE_VKEY_MAX + 16);
    buf_init(&vk, NOTE_VKEY_MAX + 2);
    bool ok = path_in(path, h->dir, "witness/witness.vkey") &&
              file_read(path, &vk) == SR_OK;
    while (ok && vk.len > 0 && vk.p[vk.len - 1] == '\n')
        vk.len--;
    ok = ok && vk.len > 0 && buf_append_byte(&vk, 0) == SR_OK;
    const char *vkey = ok ? (const char *)vk.p : "";
    int n = snprintf(path, sizeof path, "%s/checkpoint", mirror);
    ok = ok && n > 0 && (size_t)n < sizeof path &&
         file_read(path, &note) == SR_OK &&
         buf_append_byte(&note, 0) == SR_OK &&
         cosig_message(vkey, (const char *)note.p, &msg) == SR_OK;
    json_t *o = NULL;
    if (ok) {
        hl_identity_sign(h->id, msg.p, msg.len, sig);
        sodium_bin2base64(sig64, sizeof sig64, sig, sizeof sig,
                          sodium_base64_VARIANT_ORIGINAL);
        o = json_pack("{s:s, s:s, s:s, s:s}", "from", hl_identity_name(h->id),
                      "vkey", vkey, "note", (const char *)note.p, "sig", sig64);
    }
    char *body = o != NULL ? json_to_text(o, JSON_COMPACT) : NULL;
    json_decref(o);
    buf_free(&note);
    buf_free(&msg);
    buf_free(&vk);
    if (body == NULL) {
        (void)snprintf(why, HL_ERR_MAX, "not sent back: cannot read it");
        return;
    }
    r->cap = 4096;
    char err[HL_ERR_MAX];
    if (!http_call(p, ca_file, "hotline/v1/cosignatures", body, strlen(body), r,
                   &status, err))
        (void)snprintf(why, HL_ERR_MAX, "not sent back: %.150s", err);
    else if (status != 204)
        (void)snprintf(why, HL_ERR_MAX,
                       "not sent back: the partner answered "
                       "HTTP %ld",
                       status);
    else
        (void)snprintf(why, HL_ERR_MAX, "sent back");
    free(body);
}

/* Mirror peer p's log (its checkpoint and every hash tile of its tree)
 * under mirror/, and have the node's witness check and cosign it; then
 * send the cosignature back to p. */
static sr_status witness_peer(sr_hotline *h, const hl_peer *p,
                              const char *ca_file, reply *f, int *fork,
                              char why[HL_ERR_MAX])
{
    char mirror[PATH_MAX], state[PATH_MAX], tail[TILE_PATH_MAX],
        vkey[NOTE_VKEY_MAX + 1], origin[NOTE_NAME_MAX + 1], tilepath[PATH_MAX];
    uint64_t size = 0;
    note_verifier v;
    sr_witness_result res;
    *fork = 0;
    int n = snprintf(mirror, sizeof mirror, "%s/mirror/%s", h->dir, p->name);
    if (n < 0 || (size_t)n >= sizeof mirror ||
        !path_in(state, h->dir, "witness"))
        return SR_ERR_INVALID;
    if (!path_in(tilepath, h->dir, "mirror") ||
        (mkdir(tilepath, 0700) != 0 && errno != EEXIST) ||
        (mkdir(mirror, 0700) != 0 && errno != EEXIST)) {
        (void)snprintf(why, HL_ERR_MAX, "cannot make the mirror: %s",
                       strerror(errno));
        return SR_ERR_IO;
    }
    (void)snprintf(origin, sizeof origin, "strongroom-hotline/%s", p->name);
    if (note_verifier_make(&v, origin, NOTE_TYPE_ED25519, p->log_pk) != SR_OK ||
        note_vkey_format(&v, vkey, sizeof vkey) != SR_OK) {
        (void)snprintf(why, HL_ERR_MAX, "the peer's log key");
        return SR_ERR_INVALID;
    }
    f->cap = CHECKPOINT_MAX;
    if (!fetch(p, ca_file, "checkpoint", f, why))
        return SR_ERR_IO;
    reply cp = *f;
    char *cp_copy = malloc(f->len);
    if (cp_copy == NULL)
        return SR_ERR_NOMEM;
    memcpy(cp_copy, f->p, f->len);
    cp.p = cp_copy;
    if (!checkpoint_size(&cp, &size)) {
        free(cp_copy);
        (void)snprintf(why, HL_ERR_MAX, "the checkpoint does not parse");
        return SR_ERR_AUDIT;
    }
    sr_status st = SR_OK;
    f->cap = TILE_WIDTH * 32;
    for (int level = 0; level <= TILE_LEVEL_MAX && st == SR_OK &&
                        level * (int)TILE_HEIGHT < 64 &&
                        (size >> (TILE_HEIGHT * (unsigned)level)) > 0;
         level++) {
        uint64_t hashes = size >> (TILE_HEIGHT * (unsigned)level);
        for (uint64_t t = 0; t * TILE_WIDTH < hashes && st == SR_OK; t++) {
            unsigned w = tile_width(level, t, size);
            if (w == 0 || tile_path(tail, sizeof tail, level, t, w) != SR_OK)
                continue;
            /* Full tiles never change: one fetched before is kept. */
            struct stat sb;
            n = snprintf(tilepath, sizeof tilepath, "%s/%s", mirror, tail);
            if (w == TILE_WIDTH && n > 0 && (size_t)n < sizeof tilepath &&
                stat(tilepath, &sb) == 0)
                continue;
            if (!fetch(p, ca_file, tail, f, why) ||
                !mirror_put(mirror, tail, f, why))
                st = SR_ERR_IO;
        }
    }
    if (st == SR_OK && !mirror_put(mirror, "checkpoint", &cp, why))
        st = SR_ERR_IO;
    free(cp_copy);
    if (st != SR_OK)
        return st;
    /* Published into the mirror: its checkpoint then holds the peer's
     * signature and this node's cosignature, to send back. */
    st = sr_witness_cosign(state, mirror, vkey, 1, &res);
    *fork = res.fork;
    if (st != SR_OK) {
        (void)snprintf(why, HL_ERR_MAX, "%.190s", res.message);
        return st;
    }
    send_cosignature(h, p, ca_file, mirror, f, why);
    return SR_OK;
}

sr_status sr_hotline_witness(sr_hotline *h, const char *ca_file,
                             sr_status (*fn)(void *ctx, const char *peer,
                                             sr_status st, int fork,
                                             const char *why),
                             void *ctx)
{
    char why[HL_ERR_MAX];
    sr_status st = load_peers(h, false);
    if (st != SR_OK)
        return st;
    reply f = {malloc(CHECKPOINT_MAX), 0, CHECKPOINT_MAX, false};
    if (f.p == NULL)
        return say(h->msg, SR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++) {
        int fork = 0;
        why[0] = '\0';
        sr_status r = witness_peer(h, &h->peers[i], ca_file, &f, &fork, why);
        st = fn(ctx, h->peers[i].name, r, fork, why);
    }
    free(f.p);
    return st;
}

/* ---- cosignatures of this node's log, sent back by its partners -------- */

/* <dir>/cosignatures/<peer>: the latest checkpoint of this node's log that
 * the partner's witness cosigned (the largest size). */
static bool cosig_path(const sr_hotline *h, const char *peer,
                       char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%s/cosignatures/%s", h->dir, peer);
    return n > 0 && n < PATH_MAX;
}

/* Open note (len bytes) under this node's log key and the witness key
 * vkey: SR_OK only if both signed it; *cp its checkpoint, *t the
 * cosignature's time. */
static sr_status cosig_open(sr_hotline *h, const note_verifier *wit,
                            const char *note, size_t len, note_checkpoint *cp,
                            uint64_t *t)
{
    hl_peer me;
    note_verifier vs[2];
    char origin[NOTE_NAME_MAX + 1];
    int verified[2] = {0, 0};
    uint64_t times[2] = {0, 0};
    size_t body = 0;
    hl_identity_peer(h->id, &me);
    (void)snprintf(origin, sizeof origin, "strongroom-hotline/%s",
                   hl_identity_name(h->id));
    vs[1] = *wit;
    if (note_verifier_make(&vs[0], origin, NOTE_TYPE_ED25519, me.log_pk) !=
        SR_OK)
        return SR_ERR_INTERNAL;
    if (note_open(note, len, vs, 2, &body, verified, times) != SR_OK ||
        !verified[0] || !verified[1] ||
        note_checkpoint_parse(note, body, cp) != SR_OK ||
        strcmp(cp->origin, origin) != 0)
        return SR_ERR_AUTH;
    *t = times[1];
    return SR_OK;
}

sr_status sr_hotline_take_cosignature(sr_hotline *h, const char *body,
                                      size_t len)
{
    json_error_t je;
    note_verifier wit;
    note_checkpoint cp, old;
    uint64_t t = 0, t_old = 0;
    uint8_t sig[64];
    size_t got = 0;
    char path[PATH_MAX];
    sr_status st = load_peers(h, false);
    if (st != SR_OK)
        return st;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    const char *from = json_string_value(json_object_get(o, "from"));
    const char *vkey = json_string_value(json_object_get(o, "vkey"));
    const char *note = json_string_value(json_object_get(o, "note"));
    const char *sig64 = json_string_value(json_object_get(o, "sig"));
    const hl_peer *p = from != NULL ? peer_named(h, from) : NULL;
    sr_buf msg;
    buf_init(&msg, CHECKPOINT_MAX + NOTE_VKEY_MAX + 16);
    if (!json_is_object(o) || json_object_size(o) != 4 || from == NULL ||
        vkey == NULL || note == NULL || sig64 == NULL ||
        strlen(note) > CHECKPOINT_MAX) {
        st = say(h->msg, SR_ERR_INVALID,
                 "a cosignature is {\"from\", \"vkey\", \"note\", "
                 "\"sig\"}");
    } else if (p == NULL) {
        /* The name is echoed only when it is one (no control bytes). */
        st = hl_name_ok(from, strlen(from))
                 ? say(h->msg, SR_ERR_AUTH, "%s is not a peer of this node",
                       from)
                 : say(h->msg, SR_ERR_INVALID, "from: not a node name");
    } else if (sodium_base642bin(sig, sizeof sig, sig64, strlen(sig64), NULL,
                                 &got, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) != 0 ||
               got != sizeof sig || cosig_message(vkey, note, &msg) != SR_OK ||
               crypto_sign_verify_detached(sig, msg.p, msg.len, p->sign_pk) !=
                   0) {
        st = say(h->msg, SR_ERR_AUTH,
                 "the cosignature is not signed by %s's node key", p->name);
    } else if (note_vkey_parse(vkey, strlen(vkey), &wit) != SR_OK ||
               wit.type != NOTE_TYPE_COSIG_V1) {
        st = say(h->msg, SR_ERR_INVALID,
                 "the witness key is not a cosignature/v1 key");
    } else if (cosig_open(h, &wit, note, strlen(note), &cp, &t) != SR_OK) {
        st = say(h->msg, SR_ERR_AUTH,
                 "the note is not this node's checkpoint cosigned by %s's "
                 "witness",
                 p->name);
    }
    buf_free(&msg);
    /* Kept if it covers at least as much of the log as the one kept. */
    if (st == SR_OK && cosig_path(h, p->name, path)) {
        sr_buf prev;
        buf_init(&prev, CHECKPOINT_MAX + 1);
        bool older =
            file_read(path, &prev) == SR_OK &&
            cosig_open(h, &wit, (const char *)prev.p, prev.len, &old, &t_old) ==
                SR_OK &&
            (old.size > cp.size || (old.size == cp.size && t_old >= t));
        buf_free(&prev);
        char dir[PATH_MAX];
        if (!older && path_in(dir, h->dir, "cosignatures") &&
            ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
             file_write_atomic(path, note, strlen(note), 0600) != SR_OK))
            st = say(h->msg, SR_ERR_IO, "cannot keep the cosignature: %s",
                     strerror(errno));
    }
    json_decref(o);
    return st;
}

sr_status sr_hotline_cosignatures(
    sr_hotline *h,
    sr_status (*fn)(void *ctx, const sr_hotline_cosignature_info *c), void *ctx)
{
    char path[PATH_MAX];
    sr_status st = load_peers(h, false);
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++) {
        sr_hotline_cosignature_info c;
        sr_buf b;
        memset(&c, 0, sizeof c);
        (void)snprintf(c.peer, sizeof c.peer, "%s", h->peers[i].name);
        if (!cosig_path(h, c.peer, path))
            continue;
        (void)snprintf(c.path, sizeof c.path, "%s", path);
        buf_init(&b, CHECKPOINT_MAX + 1);
        if (file_read(path, &b) == SR_OK) {
            /* Shown as it is kept; the sender's key is checked on the
             * way in, so only the log's signature is checked here. */
            note_checkpoint cp;
            size_t body = 0;
            for (; body + 1 < b.len; body++)
                if (b.p[body] == '\n' && b.p[body + 1] == '\n')
                    break;
            if (body + 1 < b.len &&
                note_checkpoint_parse((const char *)b.p, body + 1, &cp) ==
                    SR_OK) {
                c.size = cp.size;
                c.held = 1;
            }
        }
        buf_free(&b);
        st = fn(ctx, &c);
    }
    return st;
}

/* ---- cases, deadlines and the report ------------------------------------- */

static void case_info(const hl_case *c, long long now, sr_hotline_case_info *i)
{
    memset(i, 0, sizeof *i);
    i->outgoing = c->outgoing;
    (void)snprintf(i->peer, sizeof i->peer, "%s", c->peer);
    (void)snprintf(i->case_id, sizeof i->case_id, "%s", c->case_id);
    i->requested = c->requested;
    i->deadline = c->deadline;
    i->answered = c->answered;
    i->acked = c->acked;
    i->closed = c->closed;
    const char *state;
    if (c->answered != 0)
        state = c->deadline == 0 || c->answered <= c->deadline ? "answered"
                                                               : "late";
    else if (c->deadline != 0 && now > c->deadline)
        state = "overdue";
    else
        state = c->closed ? "closed" : "open";
    (void)snprintf(i->state, sizeof i->state, "%s", state);
}

typedef struct cases_run {
    long long now;
    sr_status (*fn)(void *ctx, const sr_hotline_case_info *c);
    void *ctx;
} cases_run;

static sr_status case_one(void *ctx, const hl_case *c)
{
    cases_run *r = ctx;
    sr_hotline_case_info i;
    case_info(c, r->now, &i);
    return r->fn(r->ctx, &i);
}

sr_status sr_hotline_cases(sr_hotline *h, long long now,
                           sr_status (*fn)(void *ctx,
                                           const sr_hotline_case_info *c),
                           void *ctx)
{
    char m[HL_STORE_MSG_MAX];
    sr_status st = store_of(h);
    if (st != SR_OK)
        return st;
    cases_run r = {now, fn, ctx};
    st = hl_store_cases(h->store, case_one, &r, m);
    if (st != SR_OK && st != SR_ERR_NOMEM)
        (void)say(h->msg, st, "%s", m);
    return st;
}

typedef struct report_run {
    long long since, until;
    sr_hotline_report_row *rows;
    size_t n, cap;
} report_run;

/* The row of peer and direction, added if missing; NULL when out of
 * memory. */
static sr_hotline_report_row *report_row(report_run *r, const char *peer,
                                         int sent)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->rows[i].outgoing == sent && strcmp(r->rows[i].peer, peer) == 0)
            return &r->rows[i];
    if (array_room((void **)&r->rows, &r->cap, r->n, sizeof *r->rows) != SR_OK)
        return NULL;
    sr_hotline_report_row *row = &r->rows[r->n++];
    memset(row, 0, sizeof *row);
    row->outgoing = sent;
    (void)snprintf(row->peer, sizeof row->peer, "%s", peer);
    return row;
}

static sr_status report_one(void *ctx, const sr_hotline_case_info *c)
{
    report_run *r = ctx;
    if (c->requested < r->since || c->requested >= r->until)
        return SR_OK;
    sr_hotline_report_row *row = report_row(r, c->peer, c->outgoing);
    if (row == NULL)
        return SR_ERR_NOMEM;
    row->requests++;
    row->acked += c->acked ? 1u : 0u;
    if (strcmp(c->state, "answered") == 0)
        row->in_time++;
    else if (strcmp(c->state, "late") == 0)
        row->late++;
    else if (strcmp(c->state, "overdue") == 0)
        row->overdue++;
    else
        row->open++;
    return SR_OK;
}

/* A message this node sent in the period, tried and never receipted. */
static sr_status report_unreceipted(void *ctx, const sr_hotline_message_info *m)
{
    report_run *r = ctx;
    int64_t sent = 0;
    if (!m->outgoing || m->attempts == 0 ||
        strcmp(m->state, "delivered") == 0 ||
        !hl_timestamp_seconds(m->sent, strlen(m->sent), &sent) ||
        sent < r->since || sent >= r->until)
        return SR_OK;
    sr_hotline_report_row *row = report_row(r, m->peer, 1);
    if (row == NULL)
        return SR_ERR_NOMEM;
    row->unreceipted++;
    return SR_OK;
}

sr_status sr_hotline_report(
    sr_hotline *h, long long since, long long until, long long now,
    sr_status (*fn)(void *ctx, const sr_hotline_report_row *r), void *ctx)
{
    report_run r = {since, until, NULL, 0, 0};
    sr_status st = sr_hotline_cases(h, now, report_one, &r);
    if (st == SR_OK)
        st = sr_hotline_messages(h, report_unreceipted, &r);
    for (size_t i = 0; i < r.n && st == SR_OK; i++)
        st = fn(ctx, &r.rows[i]);
    free(r.rows);
    if (st == SR_ERR_NOMEM)
        (void)say(h->msg, st, "out of memory");
    return st;
}

/* ---- attachments --------------------------------------------------------- */

sr_status sr_hotline_attach(sr_hotline *h, const char *body, size_t len,
                            const char *const *files, size_t n, char **out,
                            size_t *out_len)
{
    json_error_t je;
    uint8_t sum[32];
    char hex[65];
    *out = NULL;
    *out_len = 0;
    if (n > HL_ATTACHMENTS_MAX)
        return say(h->msg, SR_ERR_INVALID, "at most %u attachments",
                   HL_ATTACHMENTS_MAX);
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return say(h->msg, SR_ERR_INVALID, "the body is not a JSON object");
    }
    json_t *list = json_object_get(o, "attachments");
    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(o, "attachments", list) != 0) {
            json_decref(o);
            return say(h->msg, SR_ERR_NOMEM, "out of memory");
        }
    }
    sr_status st = json_is_array(list)
                       ? SR_OK
                       : say(h->msg, SR_ERR_INVALID,
                             "the body's attachments is not an array");
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        sr_buf b;
        /* file_read reads on past a full buffer to find the end: room. */
        buf_init(&b, HL_ATTACHMENT_MAX + 4096);
        st = file_read(files[i], &b);
        if (st == SR_OK && b.len > HL_ATTACHMENT_MAX)
            st = SR_ERR_INVALID;
        if (st != SR_OK) {
            (void)say(h->msg, st, "cannot read %s: %s", files[i],
                      st == SR_ERR_INVALID ? "larger than 4 MiB"
                                           : strerror(errno));
            buf_free(&b);
            break;
        }
        size_t cap =
            sodium_base64_ENCODED_LEN(b.len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        const char *slash = strrchr(files[i], '/');
        crypto_hash_sha256(sum, b.p != NULL ? b.p : (const uint8_t *)"", b.len);
        hex_encode(hex, sum, 32);
        json_t *a = NULL;
        if (b64 != NULL) {
            sodium_bin2base64(b64, cap, b.p != NULL ? b.p : (const uint8_t *)"",
                              b.len, sodium_base64_VARIANT_ORIGINAL);
            a = json_pack("{ss ss sI ss ss}", "name",
                          slash != NULL ? slash + 1 : files[i], "media_type",
                          "application/octet-stream", "size", (json_int_t)b.len,
                          "sha256", hex, "data", b64);
        }
        if (a == NULL || json_array_append_new(list, a) != 0)
            st = say(h->msg, SR_ERR_NOMEM, "out of memory");
        free(b64);
        buf_free(&b);
    }
    if (st == SR_OK) {
        *out = json_to_text(o, JSON_COMPACT);
        if (*out == NULL)
            st = say(h->msg, SR_ERR_NOMEM, "out of memory");
        else
            *out_len = strlen(*out);
    }
    json_decref(o);
    return st;
}

sr_status sr_hotline_attachment(sr_hotline *h, const char *id, size_t index,
                                const char *path)
{
    sr_hotline_message_info m;
    char *body = NULL, err[HL_ERR_MAX];
    size_t len = 0;
    json_error_t je;
    sr_status st = sr_hotline_read(h, id, &m, &body, &len);
    if (st != SR_OK)
        return st;
    json_t *o = json_loadb(body, len, 0, &je);
    sr_hotline_free_body(body, len);
    const json_t *a = json_array_get(json_object_get(o, "attachments"), index);
    if (a == NULL) {
        json_decref(o);
        return say(h->msg, SR_ERR_NOT_FOUND, "message %s has no attachment %zu",
                   id, index);
    }
    uint8_t *data = NULL;
    size_t n = 0;
    st = hl_attachment_decode(a, &data, &n, err);
    json_decref(o);
    if (st != SR_OK)
        return say(h->msg, st, "message %s: %s", id, err);
    /* A new file only: a sample never overwrites anything. */
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0 && fd_write_all(fd, data, n) && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    free(data);
    if (!ok) {
        if (fd >= 0)
            (void)unlink(path);
        return say(h->msg, saved == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO,
                   "cannot write %s: %s", path, strerror(saved));
    }
    return SR_OK;
}
