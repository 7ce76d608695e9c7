/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline/node.c - a hotline node's directory (strongroom/hotline.h): its
 * keys, its public line, its peers; listing and reading its messages, its
 * cases, the report and attachments. The rest of the node is in queue.c,
 * deliver.c and peerlog.c (hotline/node_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sodium.h>

#include <jansson.h>

#include "strongroom/witness.h"
#include "hotline/node_int.h"

_Static_assert(HL_PUBLIC_MAX <= SR_HOTLINE_PUBLIC_MAX, "public line room");
_Static_assert(HL_NAME_MAX == SR_HOTLINE_NAME_MAX, "name room");
_Static_assert(HL_URL_MAX == SR_HOTLINE_URL_MAX, "URL room");

sr_status hl_say(char *msg, sr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, SR_HOTLINE_MSG_MAX, fmt, ap);
    va_end(ap);
    return st;
}

bool hl_path_in(char out[PATH_MAX], const char *dir, const char *name)
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

void hl_log_keys_free(log_keys *k)
{
    sodium_free(k->journal);
    sodium_free(k->sign);
}

sr_status hl_log_keys_of(const hl_identity *id, log_keys *k)
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
        if (hl_path_in(path, dir, files[i]))
            (void)unlink(path);
    /* The log's and the witness's directories, if it got as far. */
    const char *dirs[] = {"log", "audit", "witness"};
    for (size_t i = 0; i < 3; i++)
        if (hl_path_in(path, dir, dirs[i]))
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
        return hl_say(msg, SR_ERR_INVALID,
                      "a node name is 1-63 of a-z, 0-9, '.' and '-', starting "
                      "with a letter or digit");
    if (!hl_path_in(path, dir, "node.key"))
        return hl_say(msg, SR_ERR_INVALID, "the directory path is too long");
    if (mkdir(dir, 0700) != 0)
        return hl_say(msg, errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO,
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
        st = hl_path_in(path, dir, "node.pub")
                 ? write_new(path, line, n + 1, 0644)
                 : SR_ERR_INVALID;
        line[n] = '\0';
    }
    if (st == SR_OK)
        st = hl_path_in(path, dir, "peers") ? write_new(path, "", 0, 0600)
                                            : SR_ERR_INVALID;
    int saved = errno;
    char lmsg[AUDIT_MSG_MAX] = "";
    if (st == SR_OK) {
        log_keys k;
        st = hl_log_keys_of(id, &k);
        if (st == SR_OK) {
            audit_log_config c = {dir, k.journal, k.sign, k.origin};
            st = audit_log_create(&c, lmsg);
        }
        hl_log_keys_free(&k);
        saved = errno;
    }
    /* The node witnesses its peers' logs with a key of its own. */
    if (st == SR_OK) {
        char wname[HL_NAME_MAX + 40], vkey[SR_WITNESS_VKEY_MAX];
        (void)snprintf(wname, sizeof wname, "strongroom-hotline/%s/witness",
                       name);
        st = hl_path_in(path, dir, "witness")
                 ? sr_witness_init(path, wname, vkey, sizeof vkey)
                 : SR_ERR_INVALID;
        saved = errno;
    }
    if (st == SR_OK)
        st = dir_sync(dir);
    hl_identity_free(id);
    if (st != SR_OK) {
        unmake(dir);
        return hl_say(msg, st, "cannot make the node in %s: %s", dir,
                      lmsg[0] != '\0' ? lmsg
                      : st == SR_ERR_IO || st == SR_ERR_FULL
                          ? strerror(saved)
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
    if (!hl_path_in(path, h->dir, name))
        return hl_say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    sr_status st = file_read(path, b);
    if (st == SR_ERR_NOT_FOUND)
        return hl_say(h->msg, SR_ERR_NOT_VAULT,
                      "%s: not a hotline node (no %s; strongroom hotline init "
                      "makes one)",
                      h->dir, name);
    if (st != SR_OK)
        return hl_say(h->msg, st, "cannot read %s: %s", path,
                      st == SR_ERR_INVALID ? "too long" : strerror(errno));
    return SR_OK;
}

/* Read the peers file again if it changed since it was last read (a
 * `peer add` from another process replaces it), or always with force.
 * A running server thus sees a new peer at its next request. */
sr_status hl_load_peers(sr_hotline *h, bool force)
{
    char path[PATH_MAX], err[HL_ERR_MAX];
    struct stat now;
    sr_buf b;
    if (!hl_path_in(path, h->dir, "peers"))
        return hl_say(h->msg, SR_ERR_INVALID, "the directory path is too long");
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
            (void)hl_say(h->msg, st, "%s/%s", h->dir, err);
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
        !hl_path_in(h->log_dir, dir, "log"))
        return hl_say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    h->peers = calloc(HL_PEERS_MAX, sizeof *h->peers);
    if (h->peers == NULL)
        return hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
    sr_status st = read_file(h, "node.key", HL_KEYFILE_MAX, &b);
    if (st == SR_OK) {
        st = hl_keyfile_parse(b.p, b.len, &h->id);
        if (st != SR_OK)
            (void)hl_say(h->msg, st, "%s/node.key: not a hotline key file",
                         h->dir);
    }
    buf_free(&b);
    if (st != SR_OK)
        return st;
    return hl_load_peers(h, true);
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
        return hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
    sr_status st = SR_OK;
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++) {
        st = hl_peer_line(&h->peers[i], text + len, HL_PEERS_FILE_MAX + 1 - len,
                          &n);
        len += n;
    }
    if (st == SR_OK)
        st = hl_path_in(path, h->dir, "peers")
                 ? file_write_atomic(path, text, len, 0600)
                 : SR_ERR_INVALID;
    free(text);
    if (st != SR_OK)
        return hl_say(h->msg, st, "cannot write %s/peers: %s", h->dir,
                      sr_status_str(st));
    return SR_OK;
}

sr_status sr_hotline_peer_add(sr_hotline *h, const char *name, const char *url,
                              const char *key)
{
    char path[PATH_MAX];
    hl_peer p;
    if (name == NULL || !hl_name_ok(name, strlen(name)))
        return hl_say(h->msg, SR_ERR_INVALID, "not a node name");
    if (url == NULL || !hl_url_ok(url, strlen(url)))
        return hl_say(h->msg, SR_ERR_INVALID,
                      "--url: not an https URL (http only to a loopback host)");
    if (key == NULL || hl_peer_parse(key, strlen(key), &p) != SR_OK)
        return hl_say(h->msg, SR_ERR_INVALID,
                      "--key: not a node's public line (srnode1:NAME:KEYS)");
    if (strcmp(p.name, name) != 0)
        return hl_say(h->msg, SR_ERR_INVALID,
                      "--key: the line is for node %s, not %s", p.name, name);
    if (strcmp(name, hl_identity_name(h->id)) == 0)
        return hl_say(h->msg, SR_ERR_INVALID, "%s is this node", name);
    (void)snprintf(p.url, sizeof p.url, "%s", url);
    if (!hl_path_in(path, h->dir, "lock"))
        return hl_say(h->msg, SR_ERR_INVALID, "the directory path is too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        sr_status st = hl_say(h->msg, SR_ERR_IO, "cannot lock %s: %s", path,
                              strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        return st;
    }
    /* Read the file again under the lock: another process may have added
     * a peer since this handle was opened. */
    sr_status st = hl_load_peers(h, true);
    for (size_t i = 0; i < h->npeers && st == SR_OK; i++)
        if (strcmp(h->peers[i].name, name) == 0)
            st = hl_say(h->msg, SR_ERR_EXISTS, "%s is a peer already", name);
    if (st == SR_OK && h->npeers == HL_PEERS_MAX)
        st = hl_say(h->msg, SR_ERR_FULL, "a node keeps at most %u peers",
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
    sr_status st = hl_store_of(h);
    if (st != SR_OK)
        return st;
    list_run l = {fn, ctx};
    st = hl_store_each(h->store, false, list_one, &l, m);
    if (st != SR_OK && st != SR_ERR_NOMEM)
        (void)hl_say(h->msg, st, "%s", m);
    return st;
}

sr_status sr_hotline_read(sr_hotline *h, const char *id,
                          sr_hotline_message_info *info, char **body,
                          size_t *len)
{
    uint8_t raw[HL_ID_BYTES], *b = NULL;
    hl_record r;
    *body = NULL;
    *len = 0;
    sr_status st = hl_message_get(h, id, raw, &r);
    if (st != SR_OK)
        return st;
    info_of(&r, info);
    st = hl_self_open(h->id, raw, r.body, r.body_len, &b, len);
    if (st != SR_OK)
        return hl_say(h->msg, st, "message %s: its kept body does not open",
                      id);
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
    sr_status st = hl_store_of(h);
    if (st != SR_OK)
        return st;
    st = audit_log_checkpoint(h->log, &n, lmsg);
    if (st != SR_OK)
        return hl_say(h->msg, st, "the node's log: %s", lmsg);
    *size = n;
    return SR_OK;
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
    sr_status st = hl_store_of(h);
    if (st != SR_OK)
        return st;
    cases_run r = {now, fn, ctx};
    st = hl_store_cases(h->store, case_one, &r, m);
    if (st != SR_OK && st != SR_ERR_NOMEM)
        (void)hl_say(h->msg, st, "%s", m);
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
        (void)hl_say(h->msg, st, "out of memory");
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
        return hl_say(h->msg, SR_ERR_INVALID, "at most %u attachments",
                      HL_ATTACHMENTS_MAX);
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return hl_say(h->msg, SR_ERR_INVALID, "the body is not a JSON object");
    }
    json_t *list = json_object_get(o, "attachments");
    if (list == NULL) {
        list = json_array();
        if (list == NULL || json_object_set_new(o, "attachments", list) != 0) {
            json_decref(o);
            return hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
        }
    }
    sr_status st = json_is_array(list)
                       ? SR_OK
                       : hl_say(h->msg, SR_ERR_INVALID,
                                "the body's attachments is not an array");
    for (size_t i = 0; i < n && st == SR_OK; i++) {
        sr_buf b;
        /* file_read reads on past a full buffer to find the end: room. */
        buf_init(&b, HL_ATTACHMENT_MAX + 4096);
        st = file_read(files[i], &b);
        if (st == SR_OK && b.len > HL_ATTACHMENT_MAX)
            st = SR_ERR_INVALID;
        if (st != SR_OK) {
            (void)hl_say(h->msg, st, "cannot read %s: %s", files[i],
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
            st = hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
        free(b64);
        buf_free(&b);
    }
    if (st == SR_OK) {
        *out = json_to_text(o, JSON_COMPACT);
        if (*out == NULL)
            st = hl_say(h->msg, SR_ERR_NOMEM, "out of memory");
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
        return hl_say(h->msg, SR_ERR_NOT_FOUND,
                      "message %s has no attachment %zu", id, index);
    }
    uint8_t *data = NULL;
    size_t n = 0;
    st = hl_attachment_decode(a, &data, &n, err);
    json_decref(o);
    if (st != SR_OK)
        return hl_say(h->msg, st, "message %s: %s", id, err);
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
        return hl_say(h->msg, saved == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO,
                      "cannot write %s: %s", path, strerror(saved));
    }
    return SR_OK;
}
