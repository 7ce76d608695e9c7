/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witness.c - a witness for tiled transparency logs (strongroom/witness.h):
 * its key and state directory, and the one decision it makes, to cosign a
 * log's checkpoint or refuse it.
 *
 * The order of a cosignature is the witness's whole guarantee
 * (c2sp.org/tlog-witness: a witness never cosigns two checkpoints that
 * are not consistent with each other):
 *   1. the state lock is taken, so no other call on this witness runs
 *      between the check and the update;
 *   2. the new checkpoint is checked against the log key and held against
 *      the last-seen one, with a consistency proof whose hashes come from
 *      the (untrusted) tiles and are checked against the two signed roots;
 *   3. the new checkpoint is made the last-seen one, durably;
 *   4. only then is the cosignature made and written anywhere.
 * A crash between 3 and 4 loses a cosignature, never the rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tilefs.h"
#include "audit/witness.h"
#include "strongroom/witness.h"
#include "util/util.h"

#define KEY_FILE "witness.key"
#define VKEY_FILE "witness.vkey"
#define LOCK_FILE "lock"
#define SEEN_DIR "logs"
#define COSIGNED_DIR "cosigned"
#define FORKS_DIR "forks"
#define ORIGIN_ID_BYTES 8u /* 16 hex digits of SHA-256(origin) */
#define ROOT_B64 45u       /* base64 of a root, with its NUL */
#define MSG SR_WITNESS_MSG_MAX

_Static_assert(NOTE_VKEY_MAX <= SR_WITNESS_VKEY_MAX,
               "SR_WITNESS_VKEY_MAX holds every vkey");

/* ---- small helpers -------------------------------------------------------
 */

static void fmt(char *out, size_t cap, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void fmt(char *out, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    /* Truncation is fine: the text is for people. */
    if (vsnprintf(out, cap, f, ap) < 0)
        out[0] = '\0';
    va_end(ap);
}

/* Append to a message already in out. */
static void fmt_more(char *out, size_t cap, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void fmt_more(char *out, size_t cap, const char *f, ...)
{
    size_t n = strnlen(out, cap);
    va_list ap;
    if (n + 1 >= cap)
        return;
    va_start(ap, f);
    if (vsnprintf(out + n, cap - n, f, ap) < 0)
        out[n] = '\0';
    va_end(ap);
}

/* dir "/" rel into out; false if it does not fit. */
SR_WARN_UNUSED static bool join(char out[PATH_MAX], const char *dir,
                                const char *rel)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, rel);
    return n > 0 && (size_t)n < PATH_MAX;
}

static sr_status errno_status(int e)
{
    return e == ENOSPC || e == EDQUOT ? SR_ERR_FULL
           : e == ENOMEM              ? SR_ERR_NOMEM
                                      : SR_ERR_IO;
}

static void root_b64(char out[ROOT_B64], const uint8_t root[32])
{
    sodium_bin2base64(out, ROOT_B64, root, 32, sodium_base64_VARIANT_ORIGINAL);
}

/* Create path holding exactly p[0..n) with `mode`, failing with
 * SR_ERR_EXISTS if it exists: written to a temporary name and fsynced,
 * then link()ed into place, which never replaces (unlike rename), so two
 * racing calls cannot both succeed. */
static sr_status write_exclusive(const char *path, const void *p, size_t n,
                                 mode_t mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int len = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof tmp)
        return SR_ERR_INVALID;
    (void)unlink(tmp); /* a leftover of a crashed call of this pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return errno_status(errno);
    if (fchmod(fd, mode) != 0 || !fd_write_all(fd, p, n) || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        (void)unlink(tmp);
        return errno_status(e);
    }
    if (close(fd) != 0) {
        int e = errno;
        (void)unlink(tmp);
        return errno_status(e);
    }
    int rc = link(tmp, path), e = errno;
    (void)unlink(tmp);
    if (rc != 0)
        return e == EEXIST ? SR_ERR_EXISTS : errno_status(e);
    const char *slash = strrchr(path, '/');
    size_t dl = slash != NULL ? (size_t)(slash - path) : 0;
    if (slash == NULL)
        return dir_sync(".");
    if (dl >= sizeof dir)
        return SR_ERR_INVALID;
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    return dir_sync(dl == 0 ? "/" : dir);
}

/* Take an exclusive flock on path (created when create), retrying EINTR.
 * *fd gets the descriptor (closing it releases the lock), or -1 if the
 * file does not exist and create is false. */
static sr_status lock_file(const char *path, bool create, int *fd)
{
    *fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
    if (*fd < 0)
        return !create && errno == ENOENT ? SR_OK : errno_status(errno);
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(*fd);
        *fd = -1;
        return errno_status(e);
    }
    return SR_OK;
}

static void unlock_file(int fd)
{
    if (fd >= 0) {
        (void)flock(fd, LOCK_UN);
        close(fd);
    }
}

/* ---- the key -------------------------------------------------------------
 */

sr_status sr_witness_init(const char *state_dir, const char *name,
                          char *vkey_out, size_t cap)
{
    char key_path[PATH_MAX], vkey_path[PATH_MAX], vkey[SR_WITNESS_VKEY_MAX + 1];
    uint8_t *seed = NULL;
    char *file = NULL;
    size_t file_len = 0;
    note_signer s;
    note_verifier v;
    sr_status st;

    memset(&s, 0, sizeof s);
    if (vkey_out != NULL && cap > 0)
        vkey_out[0] = '\0';
    if (state_dir == NULL || name == NULL || vkey_out == NULL ||
        cap < SR_WITNESS_VKEY_MAX || !join(key_path, state_dir, KEY_FILE) ||
        !join(vkey_path, state_dir, VKEY_FILE))
        return SR_ERR_INVALID;
    if (sodium_init() < 0)
        return SR_ERR_INTERNAL;
    seed = sodium_malloc(32);
    file = sodium_malloc(WITNESS_KEY_FILE_MAX + 1);
    if (seed == NULL || file == NULL) {
        st = SR_ERR_NOMEM;
        goto cleanup;
    }
    randombytes_buf(seed, 32);
    st = note_signer_from_seed(&s, name, NOTE_TYPE_COSIG_V1, seed);
    if (st != SR_OK)
        goto cleanup;
    st = witness_key_format(&s, file, WITNESS_KEY_FILE_MAX + 1, &file_len);
    if (st != SR_OK)
        goto cleanup;
    note_verifier_from_signer(&v, &s);
    st = note_vkey_format(&v, vkey, sizeof vkey);
    if (st != SR_OK)
        goto cleanup;
    st = dir_make(state_dir, 0700);
    if (st != SR_OK)
        goto cleanup;
    /* The key first, exclusively: a second init fails here and leaves the
     * first witness's vkey alone. */
    st = write_exclusive(key_path, file, file_len, 0600);
    if (st != SR_OK)
        goto cleanup;
    size_t vlen = strlen(vkey);
    vkey[vlen] = '\n';
    st = file_write_atomic(vkey_path, vkey, vlen + 1, 0644);
    vkey[vlen] = '\0';
    if (st == SR_OK)
        memcpy(vkey_out, vkey, vlen + 1);
cleanup:
    note_signer_wipe(&s);
    sodium_free(seed);
    sodium_free(file);
    return st;
}

/* Load state/witness.key into *s. */
static sr_status load_key(const char *state, note_signer *s, char *why,
                          size_t cap)
{
    char path[PATH_MAX];
    struct stat sb;
    uint8_t *p = NULL;
    size_t got = 0;
    sr_status st = SR_OK;

    memset(s, 0, sizeof *s);
    if (!join(path, state, KEY_FILE)) {
        fmt(why, cap, "the state directory's path is too long");
        return SR_ERR_INVALID;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        fmt(why, cap, "no witness key: cannot open %s: %s%s", path, strerror(e),
            e == ENOENT ? " (make one with 'strongroom witness init')" : "");
        return e == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO;
    }
    p = sodium_malloc(WITNESS_KEY_FILE_MAX + 1);
    if (p == NULL) {
        st = SR_ERR_NOMEM;
        fmt(why, cap, "out of memory");
        goto cleanup;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = SR_ERR_IO;
        fmt(why, cap, "%s is not a regular file", path);
        goto cleanup;
    }
    /* One byte past the largest key file, to see a longer one. */
    while (got < WITNESS_KEY_FILE_MAX + 1) {
        ssize_t r = read(fd, p + got, WITNESS_KEY_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = SR_ERR_IO;
            fmt(why, cap, "cannot read %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    st = witness_key_parse(p, got, s);
    if (st != SR_OK)
        fmt(why, cap, "%s is not a witness key file (damaged?)", path);
cleanup:
    close(fd);
    if (p != NULL)
        sodium_free(p);
    return st;
}

/* ---- checkpoints ---------------------------------------------------------
 */

/* Read a signed note of at most NOTE_MAX_BYTES from path into b. */
static sr_status read_note(const char *path, sr_buf *b)
{
    buf_reset(b);
    sr_status st = file_read(path, b);
    return st == SR_ERR_INVALID ? SR_ERR_CORRUPT : st;
}

/* Open the signed checkpoint in b with the log key: signed by it, a
 * checkpoint, of the log's origin (the key's name). */
static sr_status open_checkpoint(const sr_buf *b, const note_verifier *key,
                                 size_t *body_len, note_checkpoint *cp,
                                 char *why, size_t cap)
{
    int ok = 0;
    sr_status st =
        note_open((const char *)b->p, b->len, key, 1, body_len, &ok, NULL);
    if (st == SR_ERR_NOMEM) {
        fmt(why, cap, "out of memory");
        return st;
    }
    if (st != SR_OK) {
        fmt(why, cap,
            "not a well-formed signed note, or its signature by the log key "
            "does not verify");
        return SR_ERR_AUDIT;
    }
    if (!ok) {
        fmt(why, cap, "not signed by the log key %s", key->name);
        return SR_ERR_AUDIT;
    }
    if (note_checkpoint_parse((const char *)b->p, *body_len, cp) != SR_OK) {
        fmt(why, cap, "signed, but not a well-formed checkpoint");
        return SR_ERR_AUDIT;
    }
    if (strcmp(cp->origin, key->name) != 0) {
        fmt(why, cap, "names the origin %s, not the log key's %s", cp->origin,
            key->name);
        return SR_ERR_AUDIT;
    }
    return SR_OK;
}

/* Is the signed tree c an extension of the signed tree o (o->size <
 * c->size)? SR_OK if the tiles give a consistency proof that verifies
 * against both signed roots. Otherwise SR_ERR_AUDIT, with *fork set only
 * when the tiles are shown to be c's tree (they hash to c's signed root
 * and the proof verifies from their own prefix) and that prefix is not
 * o's root: proof that the log signed two trees that are not one history.
 * Tiles that cannot show anything (missing, damaged) refuse without a
 * fork: that is a broken mirror, not evidence. */
static sr_status check_consistency(const char *logdir, const note_checkpoint *o,
                                   const note_checkpoint *c, int *fork,
                                   char *why, size_t cap)
{
    uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_BYTES];
    uint8_t root[MERKLE_HASH_BYTES], prefix[MERKLE_HASH_BYTES];
    char a[ROOT_B64], b[ROOT_B64];
    size_t plen = 0;
    tilefs *t = NULL;
    sr_status st;

    *fork = 0;
    if (o->size == 0) {
        /* Every tree extends the empty one, whose head is fixed. */
        merkle_empty_root(root);
        if (sodium_memcmp(root, o->root, MERKLE_HASH_BYTES) == 0)
            return SR_OK;
        *fork = 1;
        fmt(why, cap,
            "fork: the last-seen checkpoint of size 0 does not carry the "
            "empty tree's root");
        return SR_ERR_AUDIT;
    }
    st = tilefs_open(&t, logdir, NULL, c->size);
    if (st != SR_OK) {
        fmt(why, cap, "out of memory");
        return st;
    }
    st = merkle_root(tilefs_node, t, c->size, root);
    if (st != SR_OK) {
        fmt(why, cap,
            "cannot check consistency from size %" PRIu64 " to %" PRIu64
            ": cannot read the log's tiles: %s",
            o->size, c->size, tilefs_errmsg(t));
        st = SR_ERR_AUDIT;
        goto cleanup;
    }
    if (sodium_memcmp(root, c->root, MERKLE_HASH_BYTES) != 0) {
        fmt(why, cap,
            "cannot check consistency from size %" PRIu64 " to %" PRIu64
            ": the log's tiles do not hash to its signed root (they are "
            "damaged or incomplete)",
            o->size, c->size);
        st = SR_ERR_AUDIT;
        goto cleanup;
    }
    st = merkle_consistency_proof(tilefs_node, t, o->size, c->size, proof,
                                  MERKLE_PROOF_MAX, &plen);
    if (st != SR_OK) {
        fmt(why, cap,
            "cannot check consistency from size %" PRIu64 " to %" PRIu64
            ": cannot read the log's tiles: %s",
            o->size, c->size, tilefs_errmsg(t));
        st = SR_ERR_AUDIT;
        goto cleanup;
    }
    if (merkle_verify_consistency(o->size, c->size, o->root, c->root,
                                  (const uint8_t(*)[MERKLE_HASH_BYTES])proof,
                                  plen) == SR_OK) {
        st = SR_OK;
        goto cleanup;
    }
    st = SR_ERR_AUDIT;
    if (merkle_root(tilefs_node, t, o->size, prefix) == SR_OK &&
        merkle_verify_consistency(o->size, c->size, prefix, c->root,
                                  (const uint8_t(*)[MERKLE_HASH_BYTES])proof,
                                  plen) == SR_OK &&
        sodium_memcmp(prefix, o->root, MERKLE_HASH_BYTES) != 0) {
        *fork = 1;
        root_b64(a, prefix);
        root_b64(b, o->root);
        fmt(why, cap,
            "fork: the log's signed tree of size %" PRIu64
            " begins with a tree of size %" PRIu64
            " whose root is %s, not the last-seen root %s",
            c->size, o->size, a, b);
    } else {
        fmt(why, cap,
            "cannot check consistency from size %" PRIu64 " to %" PRIu64
            ": the proof from the log's tiles does not verify (damaged "
            "tiles)",
            o->size, c->size);
    }
cleanup:
    tilefs_free(t);
    return st;
}

/* The signed note in b without signature lines by s's key (name and key
 * ID), into out: a re-cosign replaces this witness's earlier cosignature
 * instead of piling them up. b has passed note_open, so its lines are
 * well-formed: "— " name " " base64(key ID || ...) "\n". */
static sr_status strip_own(const sr_buf *b, size_t body_len,
                           const note_signer *s, sr_buf *out)
{
    static const char dash[] = "\xE2\x80\x94 ";
    const size_t dl = sizeof dash - 1, nl = strlen(s->name);
    const uint8_t *line;
    sr_reader r;
    sr_status st;

    buf_reset(out);
    if ((st = buf_append(out, b->p, body_len + 1)) != SR_OK)
        return st;
    reader_init(&r, b->p, b->len);
    if (!reader_bytes(&r, body_len + 1, &line))
        return SR_ERR_INTERNAL;
    while (reader_left(&r) > 0) {
        sr_reader peek = r;
        const uint8_t *rest, *end;
        size_t left = reader_left(&r);
        if (!reader_bytes(&peek, left, &rest) ||
            (end = memchr(rest, '\n', left)) == NULL)
            return SR_ERR_INTERNAL;
        size_t n = (size_t)(end - rest) + 1;
        if (!reader_bytes(&r, n, &line))
            return SR_ERR_INTERNAL;
        uint8_t id[6];
        size_t got = 0;
        bool own =
            n > dl + nl + 1 + 8 && memcmp(line, dash, dl) == 0 &&
            memcmp(line + dl, s->name, nl) == 0 && line[dl + nl] == ' ' &&
            sodium_base642bin(id, sizeof id, (const char *)line + dl + nl + 1,
                              8, NULL, &got, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            got == sizeof id && memcmp(id, s->keyhash, 4) == 0;
        if (!own && (st = buf_append(out, line, n)) != SR_OK)
            return st;
    }
    return SR_OK;
}

/* ---- the state -----------------------------------------------------------
 */

typedef struct witness_run {
    const char *state, *logdir;
    sr_witness_result *res;
    note_verifier logkey;
    note_signer signer;
    char id[2 * ORIGIN_ID_BYTES + 1]; /* hex of SHA-256(origin)[:8] */
    sr_buf cur;                       /* logdir/checkpoint as read */
    size_t cur_body;
    note_checkpoint cp;
    sr_buf seen; /* the last-seen checkpoint */
    size_t seen_body;
    note_checkpoint old;
    sr_buf clean;    /* cur without this witness's cosignatures */
    sr_buf cosigned; /* clean with the new cosignature */
} witness_run;

/* Write the evidence of a refusal: both signed checkpoints, and why. */
static sr_status write_evidence(witness_run *w, char *path_out)
{
    char dir[PATH_MAX], name[96], head[MSG + 256];
    sr_buf e;
    sr_status st;
    time_t now = time(NULL);

    if (!join(dir, w->state, FORKS_DIR))
        return SR_ERR_INVALID;
    fmt(name, sizeof name, "%lld-%" PRIu64 "-%" PRIu64,
        (long long)(now > 0 ? now : 0), w->old.size, w->cp.size);
    if (!join(path_out, dir, name))
        return SR_ERR_INVALID;
    if ((st = dir_make(dir, 0700)) != SR_OK)
        return st;
    buf_init(&e, 2u * NOTE_MAX_BYTES + sizeof head + 256u);
    fmt(head, sizeof head,
        "strongroom witness: refused a checkpoint of %s\n"
        "reason: %s\n"
        "last-seen checkpoint (size %" PRIu64 "):\n",
        w->cp.origin, w->res->message, w->old.size);
    if ((st = buf_append_str(&e, head)) == SR_OK &&
        (st = buf_append(&e, w->seen.p, w->seen.len)) == SR_OK) {
        fmt(head, sizeof head, "refused checkpoint (size %" PRIu64 "):\n",
            w->cp.size);
        if ((st = buf_append_str(&e, head)) == SR_OK &&
            (st = buf_append(&e, w->cur.p, w->cur.len)) == SR_OK)
            st = file_write_atomic(path_out, e.p, e.len, 0600);
    }
    buf_free(&e);
    return st;
}

/* Replace logdir/rel with w->cosigned if it holds exactly w->cur. */
static sr_status publish_one(witness_run *w, const char *rel, bool *done)
{
    char path[PATH_MAX];
    sr_buf now;
    sr_status st;

    *done = false;
    if (!join(path, w->logdir, rel))
        return SR_ERR_INVALID;
    buf_init(&now, NOTE_MAX_BYTES);
    st = read_note(path, &now);
    if (st == SR_ERR_NOT_FOUND || st == SR_ERR_CORRUPT) {
        st = SR_OK; /* gone or grown past any note: not the one we saw */
    } else if (st == SR_OK && now.len == w->cur.len &&
               memcmp(now.p, w->cur.p, now.len) == 0) {
        st = file_write_atomic(path, w->cosigned.p, w->cosigned.len, 0644);
        *done = st == SR_OK;
    }
    buf_free(&now);
    return st;
}

/* Add the cosignature to the published checkpoint (and its history copy),
 * under the vault's writers' lock when the log is a vault's. */
static sr_status publish(witness_run *w)
{
    char parent[PATH_MAX], lock[PATH_MAX], hist[64];
    sr_witness_result *res = w->res;
    bool cp_done = false, hist_done = false;
    int fd = -1;
    sr_status st;

    size_t n = strlen(w->logdir);
    while (n > 1 && w->logdir[n - 1] == '/')
        n--;
    while (n > 0 && w->logdir[n - 1] != '/')
        n--;
    if (n == 0) {
        memcpy(parent, ".", 2);
    } else if (n < sizeof parent) {
        memcpy(parent, w->logdir, n);
        parent[n] = '\0';
    } else {
        return SR_ERR_INVALID;
    }
    if (!join(lock, parent, "audit/lock"))
        return SR_ERR_INVALID;
    st = lock_file(lock, false, &fd);
    if (st == SR_OK)
        st = publish_one(w, "checkpoint", &cp_done);
    fmt(hist, sizeof hist, "history/%" PRIu64, w->cp.size);
    if (st == SR_OK && cp_done)
        st = publish_one(w, hist, &hist_done);
    unlock_file(fd);
    if (st != SR_OK) {
        fmt_more(res->message, MSG, "; publishing failed: cannot write %s: %s",
                 w->logdir, strerror(errno));
        return st;
    }
    res->published = cp_done ? 1 : 0;
    if (cp_done)
        fmt_more(res->message, MSG, "; published to %s/checkpoint%s", w->logdir,
                 hist_done ? " and its history copy" : "");
    else
        fmt_more(res->message, MSG,
                 "; NOT published: %s/checkpoint changed since it was read "
                 "(the log moved on; cosign again)",
                 w->logdir);
    return SR_OK;
}

/* Cosign w->cur: the last-seen checkpoint first, then the cosignature. */
static sr_status accept(witness_run *w, const char *seen_path, int publish_it)
{
    char path[PATH_MAX], dir[PATH_MAX];
    sr_witness_result *res = w->res;
    time_t now = time(NULL);
    sr_status st;

    if (!join(dir, w->state, COSIGNED_DIR) || !join(path, dir, w->id))
        return SR_ERR_INVALID;
    st = file_write_atomic(seen_path, w->cur.p, w->cur.len, 0600);
    if (st != SR_OK) {
        fmt(res->message, MSG, "cannot record the last-seen checkpoint %s: %s",
            seen_path, strerror(errno));
        return st;
    }
    st = strip_own(&w->cur, w->cur_body, &w->signer, &w->clean);
    if (st == SR_OK)
        st = buf_append(&w->cosigned, w->clean.p, w->clean.len);
    if (st == SR_OK)
        st = note_cosign((const char *)w->cur.p, w->cur_body,
                         now > 0 ? (uint64_t)now : 0, &w->signer, &w->cosigned);
    if (st != SR_OK) {
        fmt(res->message, MSG, "cannot cosign: %s", sr_status_str(st));
        return st == SR_ERR_NOMEM ? st : SR_ERR_INTERNAL;
    }
    st = dir_make(dir, 0700);
    if (st == SR_OK)
        st = file_write_atomic(path, w->cosigned.p, w->cosigned.len, 0644);
    if (st != SR_OK) {
        fmt(res->message, MSG, "cannot write %s: %s", path, strerror(errno));
        return st;
    }
    if (res->first_seen)
        fmt(res->message, MSG,
            "first sight of %s: trusted on first use at size %" PRIu64
            "; cosigned, in %s",
            w->cp.origin, w->cp.size, path);
    else if (w->old.size == w->cp.size)
        fmt(res->message, MSG,
            "%s unchanged at size %" PRIu64 "; cosigned again, in %s",
            w->cp.origin, w->cp.size, path);
    else
        fmt(res->message, MSG,
            "%s grew from size %" PRIu64 " to %" PRIu64
            ", consistently; cosigned, in %s",
            w->cp.origin, w->old.size, w->cp.size, path);
    return publish_it ? publish(w) : SR_OK;
}

sr_status sr_witness_cosign(const char *state_dir, const char *logdir,
                            const char *log_vkey_text, int publish_it,
                            sr_witness_result *res)
{
    char path[PATH_MAX], seen_path[PATH_MAX], dir[PATH_MAX], why[MSG];
    char a[ROOT_B64], b[ROOT_B64];
    uint8_t h[crypto_hash_sha256_BYTES];
    witness_run w;
    int lock_fd = -1;
    sr_status st;

    if (res == NULL)
        return SR_ERR_INVALID;
    memset(res, 0, sizeof *res);
    memset(&w, 0, sizeof w);
    buf_init(&w.cur, NOTE_MAX_BYTES);
    buf_init(&w.seen, NOTE_MAX_BYTES);
    buf_init(&w.clean, NOTE_MAX_BYTES);
    buf_init(&w.cosigned, NOTE_MAX_BYTES);
    w.state = state_dir;
    w.logdir = logdir;
    w.res = res;
    why[0] = '\0';
    if (state_dir == NULL || logdir == NULL || log_vkey_text == NULL) {
        fmt(res->message, MSG, "a required argument is NULL");
        return SR_ERR_INVALID;
    }
    if (sodium_init() < 0) {
        fmt(res->message, MSG, "libsodium cannot start");
        return SR_ERR_INTERNAL;
    }
    if (note_vkey_parse(log_vkey_text, strlen(log_vkey_text), &w.logkey) !=
            SR_OK ||
        w.logkey.type != NOTE_TYPE_ED25519) {
        fmt(res->message, MSG,
            "the log key is not a signed-note Ed25519 verifier key");
        return SR_ERR_INVALID;
    }

    /* 1. Nothing else runs on this witness until we are done. */
    if (!join(path, state_dir, LOCK_FILE)) {
        fmt(res->message, MSG, "the state directory's path is too long");
        return SR_ERR_INVALID;
    }
    st = lock_file(path, true, &lock_fd);
    if (st != SR_OK) {
        int e = errno;
        fmt(res->message, MSG, "cannot lock %s: %s%s", path, strerror(e),
            e == ENOENT ? " (no witness here: make one with 'strongroom "
                          "witness init')"
                        : "");
        if (e == ENOENT)
            st = SR_ERR_NOT_FOUND;
        goto cleanup;
    }
    st = load_key(state_dir, &w.signer, res->message, MSG);
    if (st != SR_OK)
        goto cleanup;

    /* 2. The log's checkpoint, signed by its key. */
    if (!join(path, logdir, "checkpoint")) {
        st = SR_ERR_INVALID;
        fmt(res->message, MSG, "the log directory's path is too long");
        goto cleanup;
    }
    st = read_note(path, &w.cur);
    if (st != SR_OK) {
        fmt(res->message, MSG, "cannot read %s: %s", path,
            st == SR_ERR_CORRUPT ? "larger than any checkpoint"
                                 : strerror(errno));
        if (st == SR_ERR_CORRUPT)
            st = SR_ERR_AUDIT;
        goto cleanup;
    }
    st =
        open_checkpoint(&w.cur, &w.logkey, &w.cur_body, &w.cp, why, sizeof why);
    if (st != SR_OK) {
        fmt(res->message, MSG, "refused %s: %s", path, why);
        goto cleanup;
    }
    res->new_size = w.cp.size;
    crypto_hash_sha256(h, (const uint8_t *)w.cp.origin, strlen(w.cp.origin));
    hex_encode(w.id, h, ORIGIN_ID_BYTES);

    /* ... held against the last-seen one. */
    if (!join(dir, state_dir, SEEN_DIR) || !join(seen_path, dir, w.id)) {
        st = SR_ERR_INVALID;
        fmt(res->message, MSG, "the state directory's path is too long");
        goto cleanup;
    }
    st = read_note(seen_path, &w.seen);
    if (st == SR_ERR_NOT_FOUND) {
        res->first_seen = 1;
    } else if (st != SR_OK) {
        fmt(res->message, MSG, "cannot read the last-seen checkpoint %s: %s",
            seen_path,
            st == SR_ERR_CORRUPT ? "larger than any checkpoint"
                                 : strerror(errno));
        if (st == SR_ERR_CORRUPT)
            st = SR_ERR_AUDIT;
        goto cleanup;
    } else {
        st = open_checkpoint(&w.seen, &w.logkey, &w.seen_body, &w.old, why,
                             sizeof why);
        if (st != SR_OK) {
            fmt(res->message, MSG,
                "refused: the last-seen checkpoint %s does not verify under "
                "the log key (%s): the log's key changed, or the witness's "
                "state was altered",
                seen_path, why);
            goto cleanup;
        }
        res->old_size = w.old.size;
    }

    if (!res->first_seen) {
        int fork = 0;
        root_b64(a, w.old.root);
        root_b64(b, w.cp.root);
        if (w.cp.size < w.old.size) {
            fork = 1;
            st = SR_ERR_AUDIT;
            fmt(why, sizeof why,
                "rollback: the log's checkpoint has size %" PRIu64
                ", smaller than the last-seen size %" PRIu64,
                w.cp.size, w.old.size);
        } else if (w.cp.size == w.old.size) {
            st = sodium_memcmp(w.cp.root, w.old.root, 32) == 0 ? SR_OK
                                                               : SR_ERR_AUDIT;
            fork = st != SR_OK;
            if (fork)
                fmt(why, sizeof why,
                    "fork: two signed checkpoints of size %" PRIu64
                    " with different roots: last seen %s, now %s",
                    w.cp.size, a, b);
        } else {
            st = check_consistency(logdir, &w.old, &w.cp, &fork, why,
                                   sizeof why);
        }
        if (st != SR_OK) {
            res->fork = fork;
            fmt(res->message, MSG, "refused the checkpoint of %s: %s",
                w.cp.origin, why);
            if (fork) {
                char ev[PATH_MAX];
                sr_status est = write_evidence(&w, ev);
                if (est == SR_OK)
                    fmt_more(res->message, MSG, "; evidence in %s", ev);
                else
                    fmt_more(res->message, MSG,
                             "; the evidence could not be written (%s)",
                             sr_status_str(est));
            }
            goto cleanup;
        }
    }

    /* 3 and 4. */
    st = dir_make(dir, 0700);
    if (st != SR_OK) {
        fmt(res->message, MSG, "cannot create %s: %s", dir, strerror(errno));
        goto cleanup;
    }
    st = accept(&w, seen_path, publish_it);

cleanup:
    unlock_file(lock_fd);
    note_signer_wipe(&w.signer);
    buf_free(&w.cur);
    buf_free(&w.seen);
    buf_free(&w.clean);
    buf_free(&w.cosigned);
    if (st != SR_OK && res->message[0] == '\0')
        fmt(res->message, MSG, "%s", sr_status_str(st));
    return st;
}
