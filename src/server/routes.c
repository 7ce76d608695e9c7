/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes.c - the route table and the /v1 handlers. Each handler reads its
 * body, calls the vault facade on the handle http.c prepared (already
 * authenticated), and replies. Identifiers travel only in bodies: search
 * and reads are POSTs. Record data in replies is assembled from the
 * library's lines in buffers that are wiped when freed.
 */
#define _GNU_SOURCE /* memfd_create, pipe2, strptime */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "server/console.h"
#include "server/server.h"

#define LIST_MAX 100000u  /* lines a listing may return */
#define AUDIT_LIMIT 1000u /* entries per audit query by default */
#define AUDIT_LIMIT_MAX 10000u
#define REJECTS_SHOWN 100u /* reject lines in an import's reply */
#define IMPORT_BATCH 2048u /* people per transaction of an import */
#define PERSON_TEXT_MAX (1u << 20)

void public_healthz(req *r);
void public_readyz(req *r);
void public_metrics(req *r);
void public_openapi(req *r);
void public_log(req *r);

/* ---- helpers ------------------------------------------------------------- */

/* Reply with a library failure and say so: `if (failed(r, st)) return;`. */
static bool failed(req *r, sr_status st)
{
    if (st == SR_OK)
        return false;
    reply_status(r, st, r->v);
    return true;
}

static void bad(req *r, const char *err)
{
    reply_problem(r, P_BAD_REQUEST, err);
}

/* Purpose and case from the body. */
static bool access_of(req *r, sr_access *acc)
{
    char err[SRV_ERR_MAX];
    if (!body_string(r->json, "purpose", true, SRV_NAME_MAX, &acc->purpose,
                     err) ||
        !body_string(r->json, "case", false, SRV_NAME_MAX, &acc->case_id,
                     err) ||
        !body_string(r->json, "approval", false, SR_APPROVAL_ID_MAX - 1,
                     &acc->approval, err)) {
        bad(r, err);
        return false;
    }
    return true;
}

static bool only(req *r, const char *const *allowed)
{
    char err[SRV_ERR_MAX];
    if (!body_only(r->json, allowed, err)) {
        bad(r, err);
        return false;
    }
    return true;
}

/* A body of exactly one member, a required string of 1..max bytes: *out
 * gets it; false with a reply set otherwise. */
static bool one_string(req *r, const char *name, size_t max, const char **out)
{
    const char *const allowed[] = {name, NULL};
    char err[SRV_ERR_MAX];
    if (!only(r, allowed))
        return false;
    if (!body_string(r->json, name, true, max, out, err)) {
        bad(r, err);
        return false;
    }
    return true;
}

/* A member that must be a JSON object, as compact text in wiped memory. */
static char *object_text(req *r, const char *name, size_t *len)
{
    const json_t *o = json_object_get(r->json, name);
    char err[SRV_ERR_MAX];
    if (o == NULL || !json_is_object(o)) {
        (void)snprintf(err, sizeof err, "/%s: required, a JSON object", name);
        bad(r, err);
        return NULL;
    }
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    char *p = n > 0 && n <= PERSON_TEXT_MAX ? malloc(n + 1) : NULL;
    if (p == NULL || json_dumpb(o, p, n, JSON_COMPACT) != n) {
        free(p);
        reply_problem(r, P_INTERNAL, NULL);
        return NULL;
    }
    p[n] = '\0';
    *len = n;
    return p;
}

/* The request's audit entry, once durable: the handle goes back first
 * (srv_settle; r->v is gone after this). If the entry cannot be made
 * durable, the reply being built is replaced by a problem when queued. */
static void entry_field(req *r, strbuf *b)
{
    (void)srv_settle(r);
    uint64_t e = r->entry;
    if (e == UINT64_MAX)
        sb_str(b, "null");
    else
        sb_fmt(b, "%llu", (unsigned long long)e);
}

/* Lines from a listing, as a JSON array in b. */
typedef struct lines {
    strbuf *b;
    size_t n, max;
    bool truncated;
} lines;

static sr_status add_line(void *ctx, const char *line, size_t len)
{
    lines *l = ctx;
    if (l->n >= l->max) {
        l->truncated = true;
        return SR_ERR_FULL; /* stops the walk; not an error here */
    }
    if (l->n > 0)
        sb_add(l->b, ",", 1);
    sb_add(l->b, line, len);
    l->n++;
    return l->b->failed ? SR_ERR_NOMEM : SR_OK;
}

/* {"<key>":[lines...]} from a listing call. */
static void reply_list(req *r, sr_status st, strbuf *b, const lines *l)
{
    /* add_line stopped the walk (at the limit); the library may report
     * that stop as its own failure (sr_vault_audit_show: SR_ERR_AUDIT), but
     * the entry of the listing was written before it began. */
    if (l->truncated)
        st = SR_OK;
    if (st != SR_OK) {
        sb_free(b);
        reply_status(r, st, r->v);
        return;
    }
    sb_fmt(b, "],\"truncated\":%s}", l->truncated ? "true" : "false");
    reply_sb(r, 200, b);
}

#define LIST_BEGIN(b, key)                                                     \
    strbuf b = {0};                                                            \
    sb_str(&b, "{\"" key "\":[")

/* ---- sign-in and who am I ------------------------------------------------ */

static void h_login(req *r)
{
    static const char *const allowed[] = {"name", "passphrase", "ttl", NULL};
    const char *name, *pass;
    uint64_t ttl = 0;
    char err[SRV_ERR_MAX], token[SR_TOKEN_MAX];
    if (!only(r, allowed))
        return;
    if (!body_string(r->json, "name", true, SRV_NAME_MAX, &name, err) ||
        !body_string(r->json, "passphrase", true, 1024, &pass, err) ||
        !body_uint(r->json, "ttl", 366ull * 86400, NULL, &ttl, err)) {
        bad(r, err);
        return;
    }
    sr_status st = sr_vault_login(r->v, name, pass, strlen(pass), ttl, token);
    if (failed(r, st))
        return;
    (void)snprintf(r->principal, sizeof r->principal, "%s",
                   sr_vault_principal(r->v));
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "token", token, "principal",
                  sr_vault_principal(r->v), "role", sr_vault_role(r->v));
    sodium_memzero(token, sizeof token);
    reply_json(r, 200, o);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static void h_whoami(req *r)
{
    reply_json(r, 200,
               json_pack("{s:s, s:s}", "principal", sr_vault_principal(r->v),
                         "role", sr_vault_role(r->v)));
}

static void h_stats(req *r)
{
    sr_vault_stats st;
    sr_status s = sr_vault_stats_get(r->v, &st);
    if (s != SR_OK) {
        reply_status(r, s, r->v);
        return;
    }
    reply_json(r, 200,
               json_pack("{s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:I, s:s}",
                         "people", (json_int_t)st.people, "index_entries",
                         (json_int_t)st.index_entries, "db_bytes",
                         (json_int_t)st.db_bytes, "wal_bytes",
                         (json_int_t)st.wal_bytes, "ciphertext_bytes",
                         (json_int_t)st.ciphertext_bytes, "schema_version",
                         (json_int_t)st.schema_version, "kek_version",
                         (json_int_t)st.kek_version, "index_bits",
                         (json_int_t)st.index_bits, "expected_people",
                         (json_int_t)st.expected_people, "vault_id",
                         st.vault_id));
}

/* ---- people -------------------------------------------------------------- */

static void h_person_create(req *r)
{
    static const char *const allowed[] = {"purpose", "case", "person", NULL};
    sr_access acc = {0};
    size_t n = 0;
    char id[SR_ID_STR_LEN + 1];
    if (!only(r, allowed) || !access_of(r, &acc))
        return;
    char *text = object_text(r, "person", &n);
    if (text == NULL)
        return;
    sr_status st = sr_vault_put(r->v, &acc, text, n, id);
    wipe_free(text, n);
    if (failed(r, st))
        return;
    strbuf b = {0};
    sb_fmt(&b, "{\"id\":\"%s\",\"entry\":", id);
    entry_field(r, &b);
    sb_str(&b, "}");
    reply_sb(r, 201, &b);
}

/* Once the read's entry is durable: the person, and the entry. */
static void person_read_reply(req *r)
{
    strbuf b = {0};
    sb_str(&b, "{\"entry\":");
    entry_field(r, &b);
    sb_str(&b, ",\"person\":");
    sb_add(&b, r->held.p, r->held.len);
    sb_str(&b, "}");
    sb_free(&r->held);
    reply_sb(r, 200, &b);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static void h_person_read(req *r)
{
    static const char *const allowed[] = {"id", "purpose", "case", "classes",
                                          NULL};
    sr_access acc = {0};
    const char *id;
    unsigned mask = 0;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed) || !access_of(r, &acc))
        return;
    if (!body_string(r->json, "id", true, SR_ID_STR_LEN, &id, err) ||
        !body_classes(r->json, &mask, err)) {
        bad(r, err);
        return;
    }
    char *line = NULL;
    size_t len = 0;
    sr_status st = sr_vault_get(r->v, &acc, id, mask, &line, &len);
    if (failed(r, st))
        return;
    sb_add(&r->held, line, len);
    sr_secret_free(line);
    srv_reveal(r, person_read_reply);
}

static void h_person_update(req *r)
{
    static const char *const allowed[] = {"id", "purpose", "case", "patch",
                                          NULL};
    sr_access acc = {0};
    const char *id;
    size_t n = 0;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed) || !access_of(r, &acc))
        return;
    if (!body_string(r->json, "id", true, SR_ID_STR_LEN, &id, err)) {
        bad(r, err);
        return;
    }
    char *patch = object_text(r, "patch", &n);
    if (patch == NULL)
        return;
    sr_status st = sr_vault_update(r->v, &acc, id, patch, n);
    wipe_free(patch, n);
    if (failed(r, st))
        return;
    strbuf b = {0};
    sb_fmt(&b, "{\"id\":\"%s\",\"entry\":", id);
    entry_field(r, &b);
    sb_str(&b, "}");
    reply_sb(r, 200, &b);
}

/* Once the search's entry is durable: the matches (held, from "[" on),
 * their count and the entry. */
static void person_search_reply(req *r)
{
    strbuf out = {0};
    sb_fmt(&out, "{\"count\":%zu,\"entry\":", r->held_count);
    entry_field(r, &out);
    sb_str(&out, ",\"matches\":");
    sb_add(&out, r->held.p != NULL ? r->held.p : "[", r->held.len);
    sb_str(&out, "]}");
    sb_free(&r->held);
    reply_sb(r, 200, &out);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static void h_person_search(req *r)
{
    static const char *const allowed[] = {
        "purpose", "case", "approval", "ssn", "family_name", "dob", NULL};
    sr_access acc = {0};
    const char *ssn, *family, *dob;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed) || !access_of(r, &acc))
        return;
    if (!body_string(r->json, "ssn", false, 16, &ssn, err) ||
        !body_string(r->json, "family_name", false, 256, &family, err) ||
        !body_string(r->json, "dob", false, 16, &dob, err)) {
        bad(r, err);
        return;
    }
    if ((ssn != NULL) == (family != NULL || dob != NULL) ||
        (ssn == NULL && (family == NULL || dob == NULL))) {
        bad(r, "search by \"ssn\", or by \"family_name\" and \"dob\"");
        return;
    }
    lines l = {&r->held, 0, LIST_MAX, false};
    sb_str(&r->held, "[");
    sr_status st =
        ssn != NULL
            ? sr_vault_find_ssn(r->v, &acc, ssn, add_line, &l, &r->held_count)
            : sr_vault_find_name_dob(r->v, &acc, family, dob, add_line, &l,
                                     &r->held_count);
    if (st != SR_OK) {
        sb_free(&r->held);
        reply_status(r, st, r->v);
        return;
    }
    srv_reveal(r, person_search_reply);
}

/* ---- export: every person, streamed as JSONL ------------------------------
 */

/* One export at a time: it holds a read handle for as long as it runs. */
static atomic_bool exporting;

typedef struct export_job {
    srv_pool *pool;
    sr_vault *v; /* a read handle, taken from the request */
    uint64_t gen;
    sr_access acc;
    char purpose[SRV_NAME_MAX + 1], case_id[SRV_NAME_MAX + 1];
    char approval[SR_APPROVAL_ID_MAX];
} export_job;

static void export_drop(void *ctx)
{
    export_job *j = ctx;
    pool_put_reader(j->pool, j->v, j->gen);
    free(j);
    atomic_store(&exporting, false);
}

static sr_status export_line(void *ctx, const char *line, size_t len)
{
    srv_stream *s = ctx;
    return stream_write(s, line, len) && stream_write(s, "\n", 1) ? SR_OK
                                                                  : SR_ERR_IO;
}

/* On the stream's thread. The library logs each group of people before
 * it passes their lines on, so the handle must not defer its syncs. */
static bool export_run(srv_stream *s, void *ctx)
{
    export_job *j = ctx;
    uint64_t count = 0;
    sr_status st = sr_vault_defer_audit(j->v, false);
    if (st == SR_OK)
        st = sr_vault_export(j->v, &j->acc, export_line, s, &count);
    req *r = stream_req(s);
    if (st != SR_OK && r != NULL)
        reply_status(r, st, j->v);
    else if (st != SR_OK)
        (void)fprintf(stderr,
                      "strongroom serve: /v1/persons/export: cut off after "
                      "%llu people: %s\n",
                      (unsigned long long)count, sr_vault_errmsg(j->v));
    if (sr_vault_defer_audit(j->v, true) != SR_OK)
        (void)fprintf(stderr, "strongroom serve: %s\n", sr_vault_errmsg(j->v));
    export_drop(j);
    return st == SR_OK;
}

static void h_person_export(req *r)
{
    static const char *const allowed[] = {"purpose", "case", "approval", NULL};
    sr_access acc = {0};
    if (!only(r, allowed) || !access_of(r, &acc))
        return;
    bool idle = false;
    if (!atomic_compare_exchange_strong(&exporting, &idle, true)) {
        reply_problem(r, P_TOO_MANY,
                      "an export is running; one runs at a time");
        reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "60");
        return;
    }
    export_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        atomic_store(&exporting, false);
        reply_problem(r, P_INTERNAL, NULL);
        return;
    }
    /* access_of bounded each to its field. */
    (void)snprintf(j->purpose, sizeof j->purpose, "%s", acc.purpose);
    (void)snprintf(j->case_id, sizeof j->case_id, "%s",
                   acc.case_id != NULL ? acc.case_id : "");
    (void)snprintf(j->approval, sizeof j->approval, "%s",
                   acc.approval != NULL ? acc.approval : "");
    j->acc.purpose = j->purpose;
    j->acc.case_id = acc.case_id != NULL ? j->case_id : NULL;
    j->acc.approval = acc.approval != NULL ? j->approval : NULL;
    j->pool = srv_handles(r->s);
    if (!stream_start(r, "application/x-ndjson", export_run, export_drop, j)) {
        free(j);
        atomic_store(&exporting, false);
        return;
    }
    /* The handle is the export's now: its thread gives it back. */
    j->v = r->v;
    j->gen = r->v_gen;
    r->v = NULL;
}

/* ---- import: the body streams through a pipe into sr_vault_import_fd ---- */

typedef struct import_job {
    int pipe_w, pipe_r, rejects;
    pthread_t thread;
    bool started;
    sr_vault *v;
    sr_access acc;
    char purpose[SRV_NAME_MAX + 1], case_id[SRV_NAME_MAX + 1];
    char reject_path[64];
    sr_import_options opt;
    sr_import_summary sum;
    sr_status st;
    bool write_failed;
} import_job;

static void *import_main(void *arg)
{
    import_job *j = arg;
    j->st = sr_vault_import_fd(j->v, &j->acc, j->pipe_r, "the request body",
                               &j->opt, &j->sum);
    /* Whatever is left unread is refused: the writer sees EPIPE. */
    (void)close(j->pipe_r);
    j->pipe_r = -1;
    return NULL;
}

static void import_free(import_job *j)
{
    if (j == NULL)
        return;
    if (j->pipe_w >= 0)
        (void)close(j->pipe_w);
    if (j->started)
        (void)pthread_join(j->thread, NULL);
    if (j->pipe_r >= 0)
        (void)close(j->pipe_r);
    if (j->rejects >= 0)
        (void)close(j->rejects);
    free(j);
}

static void import_drop(req *r)
{
    import_free(r->stream); /* closes the pipe, so the import ends */
    r->stream = NULL;
}

static bool copy_query(req *r, const char *name, char *out, size_t cap,
                       bool required)
{
    const char *v = req_query(r, name);
    char err[128];
    if (v == NULL || v[0] == '\0') {
        if (!required)
            return true;
        (void)snprintf(err, sizeof err, "the query needs %s=", name);
        bad(r, err);
        return false;
    }
    if (strlen(v) >= cap) {
        (void)snprintf(err, sizeof err, "%s: too long", name);
        bad(r, err);
        return false;
    }
    memcpy(out, v, strlen(v) + 1);
    return true;
}

static bool import_begin(req *r)
{
    import_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        reply_problem(r, P_INTERNAL, NULL);
        return false;
    }
    j->pipe_w = j->pipe_r = j->rejects = -1;
    r->stream = j;
    char format[16] = "";
    if (!copy_query(r, "purpose", j->purpose, sizeof j->purpose, true) ||
        !copy_query(r, "case", j->case_id, sizeof j->case_id, false) ||
        !copy_query(r, "format", format, sizeof format, false))
        return false;
    const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (format[0] == '\0')
        (void)snprintf(format, sizeof format, "%s",
                       ct != NULL && strncasecmp(ct, "text/csv", 8) == 0
                           ? "csv"
                           : "jsonl");
    if (strcmp(format, "csv") == 0)
        j->opt.format = SR_FORMAT_CSV;
    else if (strcmp(format, "jsonl") == 0)
        j->opt.format = SR_FORMAT_JSONL;
    else {
        bad(r, "format: jsonl or csv");
        return false;
    }
    /* Rejects name lines and rules, never data: kept in memory only. */
    j->rejects = memfd_create("strongroom-rejects", MFD_CLOEXEC);
    int p[2];
    if (j->rejects < 0 || pipe2(p, O_CLOEXEC) != 0) {
        reply_problem(r, P_INTERNAL, "internal error; see the server log");
        return false;
    }
    j->pipe_r = p[0];
    j->pipe_w = p[1];
    (void)snprintf(j->reject_path, sizeof j->reject_path, "/proc/self/fd/%d",
                   j->rejects);
    j->opt.reject_path = j->reject_path;
    /* The import has a writer of its own, but SQLite still lets one
     * transaction write at a time: small ones keep other writes (and the
     * 2 s the store waits for its turn) from queueing behind it. */
    j->opt.batch = IMPORT_BATCH;
    j->acc.purpose = j->purpose;
    j->acc.case_id = j->case_id[0] != '\0' ? j->case_id : NULL;
    j->v = r->v;
    if (pthread_create(&j->thread, NULL, import_main, j) != 0) {
        reply_problem(r, P_INTERNAL, "internal error; see the server log");
        return false;
    }
    j->started = true;
    return true;
}

static void import_feed(req *r, const char *data, size_t len)
{
    import_job *j = r->stream;
    while (len > 0 && !j->write_failed) {
        ssize_t n = write(j->pipe_w, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            j->write_failed = true; /* the import stopped early */
            break;
        }
        data += n;
        len -= (size_t)n;
    }
}

static void import_end(req *r)
{
    import_job *j = r->stream;
    (void)close(j->pipe_w);
    j->pipe_w = -1;
    (void)pthread_join(j->thread, NULL);
    j->started = false;
    if (j->st != SR_OK) {
        reply_status(r, j->st, r->v);
        import_free(j);
        r->stream = NULL;
        return;
    }
    strbuf b = {0};
    sb_fmt(&b,
           "{\"lines\":%llu,\"stored\":%llu,\"skipped\":%llu,\"rejected\":%llu,"
           "\"entry\":",
           (unsigned long long)j->sum.lines, (unsigned long long)j->sum.stored,
           (unsigned long long)j->sum.skipped,
           (unsigned long long)j->sum.rejected);
    entry_field(r, &b);
    sb_str(&b, ",\"rejects\":[");
    /* The first lines of the reject report. */
    char buf[8192];
    ssize_t got = pread(j->rejects, buf, sizeof buf - 1, 0);
    unsigned shown = 0;
    if (got > 0) {
        buf[got] = '\0';
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save);
             line != NULL && shown < REJECTS_SHOWN;
             line = strtok_r(NULL, "\n", &save)) {
            json_t *s = json_string(line);
            char quoted[1024];
            size_t qn = s != NULL ? json_dumpb(s, quoted, sizeof quoted,
                                               JSON_ENCODE_ANY)
                                  : 0;
            json_decref(s);
            if (qn == 0 || qn > sizeof quoted)
                continue;
            sb_str(&b, shown > 0 ? "," : "");
            sb_add(&b, quoted, qn);
            shown++;
        }
    }
    sb_str(&b, "]}");
    import_free(j);
    r->stream = NULL;
    reply_sb(r, 200, &b);
}

/* ---- principals, tokens, cases ------------------------------------------- */

static void h_users_list(req *r)
{
    LIST_BEGIN(b, "users");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_user_list(r->v, add_line, &l), &b, &l);
}

static void h_decoys_list(req *r)
{
    LIST_BEGIN(b, "decoys");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_decoy_list(r->v, add_line, &l), &b, &l);
}

static void h_alerts_list(req *r)
{
    uint64_t limit = 100;
    const char *q = req_query(r, "limit");
    if (q != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(q, &end, 10);
        if (errno != 0 || end == q || *end != '\0' || x == 0 ||
            x > SR_ALERT_LIST_MAX) {
            bad(r, "limit: a whole number from 1 to 1000");
            return;
        }
        limit = x;
    }
    LIST_BEGIN(b, "alerts");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_alert_list(r->v, (size_t)limit, add_line, &l), &b,
               &l);
}

static void h_caseload(req *r)
{
    LIST_BEGIN(b, "cases");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_caseload(r->v, add_line, &l), &b, &l);
}

static void h_principals_list(req *r)
{
    LIST_BEGIN(b, "principals");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_watch_list(r->v, add_line, &l), &b, &l);
}

static void h_users_add(req *r)
{
    static const char *const allowed[] = {"name", "role", "service",
                                          "passphrase", NULL};
    const char *name, *role, *pass;
    bool service = false;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed))
        return;
    if (!body_string(r->json, "name", true, SRV_NAME_MAX, &name, err) ||
        !body_string(r->json, "role", true, SRV_NAME_MAX, &role, err) ||
        !body_bool(r->json, "service", &service, err) ||
        !body_string(r->json, "passphrase", false, 1024, &pass, err)) {
        bad(r, err);
        return;
    }
    sr_status st = sr_vault_user_add(r->v, name, role, service ? 1 : 0, pass,
                                     pass != NULL ? strlen(pass) : 0);
    if (failed(r, st))
        return;
    reply_json(r, 201,
               json_pack("{s:s, s:s, s:s}", "name", name, "role", role, "kind",
                         service ? "service" : "user"));
}

static void h_user_disable(req *r)
{
    sr_status st = sr_vault_user_disable(r->v, r->param[0]);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:s, s:b}", "name", r->param[0], "disabled", 1));
}

static void set_frozen(req *r, bool frozen)
{
    const char *reason;
    if (!one_string(r, "reason", SRV_NAME_MAX, &reason))
        return;
    sr_status st = frozen
                       ? sr_vault_principal_freeze(r->v, r->param[0], reason)
                       : sr_vault_principal_unfreeze(r->v, r->param[0], reason);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:s, s:b}", "name", r->param[0], "frozen", frozen));
}

static void h_principal_freeze(req *r)
{
    set_frozen(r, true);
}

static void h_principal_unfreeze(req *r)
{
    set_frozen(r, false);
}

static void h_tokens_list(req *r)
{
    LIST_BEGIN(b, "tokens");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_token_list(r->v, add_line, &l), &b, &l);
}

static void h_token_create(req *r)
{
    static const char *const allowed[] = {"principal", "ttl", "scope", NULL};
    const char *name, *scope;
    uint64_t ttl = 0;
    char err[SRV_ERR_MAX], token[SR_TOKEN_MAX], id[SR_TOKEN_ID_MAX];
    if (!only(r, allowed))
        return;
    if (!body_string(r->json, "principal", true, SRV_NAME_MAX, &name, err) ||
        !body_uint(r->json, "ttl", 10ull * 366 * 86400, NULL, &ttl, err) ||
        !body_string(r->json, "scope", false, 1024, &scope, err)) {
        bad(r, err);
        return;
    }
    sr_status st = sr_vault_token_create(r->v, name, ttl, scope, token, id);
    if (failed(r, st))
        return;
    json_t *o = json_pack("{s:s, s:s, s:s}", "token", token, "id", id,
                          "principal", name);
    sodium_memzero(token, sizeof token);
    reply_json(r, 201, o);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static void h_token_revoke(req *r)
{
    sr_status st = sr_vault_token_revoke(r->v, r->param[0]);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:s, s:b}", "id", r->param[0], "revoked", 1));
}

/* ---- the two-person rule ------------------------------------------------ */

static void h_approvals_list(req *r)
{
    LIST_BEGIN(b, "approvals");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_approval_list(r->v, add_line, &l), &b, &l);
}

static void h_approval_request(req *r)
{
    static const char *const allowed[] = {
        "action", "purpose", "case", "family_name", "dob", "ttl", NULL};
    sr_approval_spec q;
    char err[SRV_ERR_MAX], id[SR_APPROVAL_ID_MAX];
    memset(&q, 0, sizeof q);
    if (!only(r, allowed))
        return;
    if (!body_string(r->json, "action", true, 16, &q.action, err) ||
        !body_string(r->json, "purpose", true, SRV_NAME_MAX, &q.purpose, err) ||
        !body_string(r->json, "case", false, SRV_NAME_MAX, &q.case_id, err) ||
        !body_string(r->json, "family_name", false, 256, &q.family, err) ||
        !body_string(r->json, "dob", false, 16, &q.dob, err) ||
        !body_uint(r->json, "ttl", SR_MAX_APPROVAL_TTL, NULL, &q.ttl, err)) {
        bad(r, err);
        return;
    }
    sr_status st = sr_vault_approval_request(r->v, &q, id);
    if (failed(r, st))
        return;
    reply_json(r, 201, json_pack("{s:s, s:s}", "id", id, "action", q.action));
}

static void h_approval_approve(req *r)
{
    sr_status st = sr_vault_approval_approve(r->v, r->param[0]);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:s, s:b}", "id", r->param[0], "approved", 1));
}

static void h_cases_list(req *r)
{
    LIST_BEGIN(b, "cases");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_case_list(r->v, add_line, &l), &b, &l);
}

static void h_case_open(req *r)
{
    const char *c;
    if (!one_string(r, "case", SRV_NAME_MAX, &c))
        return;
    sr_status st = sr_vault_case_open(r->v, c);
    if (failed(r, st))
        return;
    reply_json(r, 201, json_pack("{s:s}", "case", c));
}

static void h_case_assign(req *r)
{
    const char *name;
    if (!one_string(r, "principal", SRV_NAME_MAX, &name))
        return;
    sr_status st = sr_vault_case_assign(r->v, r->param[0], name);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:s, s:s}", "case", r->param[0], "principal", name));
}

static void h_case_add(req *r)
{
    const char *id;
    if (!one_string(r, "id", SR_ID_STR_LEN, &id))
        return;
    sr_status st = sr_vault_case_add_person(r->v, r->param[0], id);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:s, s:b}", "case", r->param[0], "added", 1));
}

/* ---- policy and witnesses ------------------------------------------------ */

static void h_policy_get(req *r)
{
    char *text = NULL;
    uint32_t version = 0;
    sr_status st = sr_vault_policy_get(r->v, &text, &version);
    if (failed(r, st))
        return;
    strbuf b = {0};
    sb_fmt(&b, "{\"version\":%u,\"policy\":", version);
    sb_str(&b, text);
    sb_str(&b, "}");
    free(text);
    reply_sb(r, 200, &b);
}

static void h_policy_put(req *r)
{
    uint32_t version = 0;
    /* The text as sent, so errors give its own lines and columns. */
    sr_status st = sr_vault_policy_set(r->v, r->body, r->body_len, &version);
    if (failed(r, st))
        return;
    reply_json(r, 200, json_pack("{s:i}", "version", (json_int_t)version));
}

static void h_witness_list(req *r)
{
    strbuf b = {0};
    unsigned min = 0;
    sb_str(&b, "{\"witnesses\":[");
    lines l = {&b, 0, LIST_MAX, false};
    sr_status st = sr_vault_witness_list(r->v, &min, add_line, &l);
    if (st != SR_OK) {
        sb_free(&b);
        reply_status(r, st, r->v);
        return;
    }
    sb_fmt(&b, "],\"min\":%u}", min);
    reply_sb(r, 200, &b);
}

static void h_witness_add(req *r)
{
    static const char *const allowed[] = {"name", "vkey", NULL};
    const char *name, *vkey;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed))
        return;
    if (!body_string(r->json, "name", true, SRV_NAME_MAX, &name, err) ||
        !body_string(r->json, "vkey", true, 512, &vkey, err)) {
        bad(r, err);
        return;
    }
    sr_status st = sr_vault_witness_add(r->v, name, vkey);
    if (failed(r, st))
        return;
    reply_json(r, 201, json_pack("{s:s}", "name", name));
}

static void h_witness_remove(req *r)
{
    sr_status st = sr_vault_witness_remove(r->v, r->param[0]);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:s, s:b}", "name", r->param[0], "removed", 1));
}

static void h_witness_require(req *r)
{
    static const char *const allowed[] = {"min", NULL};
    uint64_t min = 0;
    bool present = false;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed))
        return;
    if (!body_uint(r->json, "min", 64, &present, &min, err) || !present) {
        bad(r, present ? err : "/min: required");
        return;
    }
    sr_status st = sr_vault_witness_require(r->v, (unsigned)min);
    if (failed(r, st))
        return;
    reply_json(r, 200, json_pack("{s:i}", "min", (json_int_t)min));
}

/* ---- the audit log ------------------------------------------------------- */

/* A time bound: Unix nanoseconds, or RFC 3339 "YYYY-MM-DDTHH:MM:SSZ". */
static bool time_of(req *r, const char *name, uint64_t *out)
{
    const json_t *m = json_object_get(r->json, name);
    char err[SRV_ERR_MAX];
    if (m == NULL || json_is_null(m))
        return true;
    if (json_is_integer(m) && json_integer_value(m) >= 0) {
        *out = (uint64_t)json_integer_value(m);
        return true;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *s = json_is_string(m) ? json_string_value(m) : NULL;
    const char *end = s != NULL ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (end == NULL || *end != '\0') {
        (void)snprintf(err, sizeof err,
                       "/%s: Unix nanoseconds or YYYY-MM-DDTHH:MM:SSZ", name);
        bad(r, err);
        return false;
    }
    time_t t = timegm(&tm);
    if (t < 0) {
        (void)snprintf(err, sizeof err, "/%s: before 1970", name);
        bad(r, err);
        return false;
    }
    *out = (uint64_t)t * 1000000000ull;
    return true;
}

static void h_audit_entries(req *r)
{
    static const char *const allowed[] = {
        "principal", "person", "purpose", "action", "case", "since",
        "until",     "from",   "denied",  "limit",  NULL};
    sr_audit_filter f;
    memset(&f, 0, sizeof f);
    bool denied = false;
    uint64_t limit = AUDIT_LIMIT;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed))
        return;
    if (!body_string(r->json, "principal", false, SRV_NAME_MAX, &f.principal,
                     err) ||
        !body_string(r->json, "person", false, SR_ID_STR_LEN, &f.person_id,
                     err) ||
        !body_string(r->json, "purpose", false, SRV_NAME_MAX, &f.purpose,
                     err) ||
        !body_string(r->json, "action", false, SRV_NAME_MAX, &f.action, err) ||
        !body_string(r->json, "case", false, SRV_NAME_MAX, &f.case_id, err) ||
        !body_uint(r->json, "from", UINT64_MAX >> 1, NULL, &f.from_index,
                   err) ||
        !body_bool(r->json, "denied", &denied, err) ||
        !body_uint(r->json, "limit", AUDIT_LIMIT_MAX, NULL, &limit, err)) {
        bad(r, err);
        return;
    }
    if (!time_of(r, "since", &f.since_ns) || !time_of(r, "until", &f.until_ns))
        return;
    f.denied_only = denied ? 1 : 0;
    LIST_BEGIN(b, "entries");
    lines l = {&b, 0, limit, false};
    reply_list(r, sr_vault_audit_show(r->v, &f, add_line, &l), &b, &l);
}

static void h_audit_checkpoint(req *r)
{
    char *note = NULL;
    uint64_t size = 0;
    sr_status st = sr_vault_audit_checkpoint(r->v, &note, &size);
    if (failed(r, st))
        return;
    reply_text(r, 200, "text/plain; charset=utf-8", note, strlen(note));
    free(note);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static bool query_u64(req *r, const char *name, bool required, uint64_t *out)
{
    const char *v = req_query(r, name);
    char err[96];
    if (v == NULL) {
        if (!required)
            return true;
        (void)snprintf(err, sizeof err, "the query needs %s=", name);
        bad(r, err);
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0') {
        (void)snprintf(err, sizeof err, "%s: a whole number", name);
        bad(r, err);
        return false;
    }
    *out = (uint64_t)x;
    return true;
}

/* The one line a proof call prints. */
static sr_status one_line(void *ctx, const char *line, size_t len)
{
    strbuf *b = ctx;
    sb_add(b, line, len);
    return b->failed ? SR_ERR_NOMEM : SR_OK;
}

static void h_audit_inclusion(req *r)
{
    uint64_t index = 0, size = 0;
    if (!query_u64(r, "index", true, &index) ||
        !query_u64(r, "size", false, &size))
        return;
    strbuf b = {0};
    sr_status st = sr_vault_audit_inclusion(r->v, index, size, one_line, &b);
    if (st != SR_OK) {
        sb_free(&b);
        reply_status(r, st, r->v);
        return;
    }
    reply_sb(r, 200, &b);
}

static void h_audit_key(req *r)
{
    char vkey[SR_LOG_VKEY_MAX];
    sr_status st = sr_vault_log_vkey(r->v, vkey);
    if (failed(r, st))
        return;
    reply_json(r, 200, json_pack("{s:s}", "vkey", vkey));
}

static void h_audit_consistency(req *r)
{
    uint64_t from = 0, to = 0;
    if (!query_u64(r, "from", true, &from) || !query_u64(r, "to", false, &to))
        return;
    strbuf b = {0};
    sr_status st = sr_vault_audit_consistency(r->v, from, to, one_line, &b);
    if (st != SR_OK) {
        sb_free(&b);
        reply_status(r, st, r->v);
        return;
    }
    reply_sb(r, 200, &b);
}

static void h_audit_resolve(req *r)
{
    const char *ref;
    char id[SR_ID_STR_LEN + 1];
    if (!one_string(r, "ref", 64, &ref))
        return;
    sr_status st = sr_vault_audit_resolve(r->v, ref, id);
    if (failed(r, st))
        return;
    reply_json(r, 200, json_pack("{s:s}", "id", id));
}

/* ---- breach response and retention (docs/breach.md, docs/retention.md) -- */

static void h_person_shred(req *r)
{
    static const char *const allowed[] = {"id", "purpose", "case", "reason",
                                          NULL};
    sr_access acc = {0};
    const char *id, *reason;
    char err[SRV_ERR_MAX];
    if (!only(r, allowed) || !access_of(r, &acc))
        return;
    if (!body_string(r->json, "id", true, SR_ID_STR_LEN, &id, err) ||
        !body_string(r->json, "reason", true, SRV_NAME_MAX, &reason, err)) {
        bad(r, err);
        return;
    }
    sr_status st = sr_vault_shred(r->v, &acc, id, reason);
    if (failed(r, st))
        return;
    strbuf b = {0};
    sb_fmt(&b, "{\"id\":\"%s\",\"shredded\":true,\"entry\":", id);
    entry_field(r, &b);
    sb_str(&b, "}");
    reply_sb(r, 200, &b);
}

static void h_retention_run(req *r)
{
    static const char *const allowed[] = {"purpose", "case", "approval",
                                          "dry_run", NULL};
    sr_access acc = {0};
    bool dry = false;
    char err[SRV_ERR_MAX];
    sr_retention_summary s;
    if (!only(r, allowed) || !access_of(r, &acc))
        return;
    if (!body_bool(r->json, "dry_run", &dry, err)) {
        bad(r, err);
        return;
    }
    sr_retention_opts opts = {dry, NULL, NULL};
    sr_status st = sr_vault_retention_run(r->v, &acc, &opts, &s);
    if (failed(r, st))
        return;
    reply_json(r, 200,
               json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "scanned",
                         (json_int_t)s.scanned, "separated",
                         (json_int_t)s.separated, "due", (json_int_t)s.due,
                         "shredded", (json_int_t)s.shredded, "classes_due",
                         (json_int_t)s.classes_due, "classes_destroyed",
                         (json_int_t)s.classes_destroyed, "unclustered",
                         (json_int_t)s.unclustered, "dry_run", dry));
}

/* Unix seconds, as the breach report takes them in nanoseconds. */
#define SECONDS_MAX (UINT64_MAX / 1000000000u)

static void h_breach_report(req *r)
{
    static const char *const allowed[] = {"principal", "token_id", "since",
                                          "until", NULL};
    sr_breach_query q;
    uint64_t since = 0, until = 0;
    char err[SRV_ERR_MAX];
    memset(&q, 0, sizeof q);
    if (!only(r, allowed))
        return;
    if (!body_string(r->json, "principal", false, SRV_NAME_MAX, &q.principal,
                     err) ||
        !body_string(r->json, "token_id", false, 16, &q.token, err) ||
        !body_uint(r->json, "since", SECONDS_MAX, NULL, &since, err) ||
        !body_uint(r->json, "until", SECONDS_MAX, NULL, &until, err)) {
        bad(r, err);
        return;
    }
    q.since_ns = since * 1000000000u;
    q.until_ns = until * 1000000000u;
    LIST_BEGIN(b, "report");
    lines l = {&b, 0, LIST_MAX, false};
    reply_list(r, sr_vault_breach_report(r->v, &q, add_line, &l), &b, &l);
}

/* ---- the table ----------------------------------------------------------- */

#define RJ (R_READ | R_JSON)
#define WJ (R_WRITE | R_JSON)

const route srv_routes[] = {
    {"GET", "/healthz", R_PUBLIC, public_healthz, NULL, NULL, NULL},
    {"GET", "/readyz", R_PUBLIC, public_readyz, NULL, NULL, NULL},
    {"GET", "/metrics", R_PUBLIC, public_metrics, NULL, NULL, NULL},
    {"GET", "/openapi.json", R_PUBLIC, public_openapi, NULL, NULL, NULL},
    {"GET", "/log/", R_PUBLIC | R_PREFIX, public_log, NULL, NULL, NULL},
    {"GET", "/", R_PUBLIC, console_page, NULL, NULL, NULL},
    {"GET", "/console/", R_PUBLIC | R_PREFIX, console_asset, NULL, NULL, NULL},
    {"POST", "/v1/session", R_LOGIN | R_JSON, console_session_open, NULL, NULL,
     NULL},
    {"GET", "/v1/session", R_READ, console_session_info, NULL, NULL, NULL},
    {"POST", "/v1/session/end", R_WRITE, console_session_end, NULL, NULL, NULL},
    {"POST", "/v1/login", R_LOGIN | R_JSON, h_login, NULL, NULL, NULL},
    {"GET", "/v1/whoami", R_READ, h_whoami, NULL, NULL, NULL},
    {"GET", "/v1/stats", R_READ, h_stats, NULL, NULL, NULL},
    {"POST", "/v1/persons", WJ, h_person_create, NULL, NULL, NULL},
    {"POST", "/v1/persons/read", RJ, h_person_read, NULL, NULL, NULL},
    {"POST", "/v1/persons/update", WJ, h_person_update, NULL, NULL, NULL},
    {"POST", "/v1/persons/search", RJ, h_person_search, NULL, NULL, NULL},
    {"POST", "/v1/persons/export", RJ, h_person_export, NULL, NULL, NULL},
    {"POST", "/v1/persons/import", R_WRITE | R_STREAM, import_end, import_begin,
     import_feed, import_drop},
    {"POST", "/v1/persons/shred", WJ, h_person_shred, NULL, NULL, NULL},
    {"POST", "/v1/retention/run", WJ, h_retention_run, NULL, NULL, NULL},
    {"POST", "/v1/breach/report", RJ, h_breach_report, NULL, NULL, NULL},
    {"GET", "/v1/users", R_READ, h_users_list, NULL, NULL, NULL},
    {"POST", "/v1/users", WJ, h_users_add, NULL, NULL, NULL},
    {"POST", "/v1/users/{name}/disable", R_WRITE, h_user_disable, NULL, NULL,
     NULL},
    {"POST", "/v1/principals/{name}/freeze", WJ, h_principal_freeze, NULL, NULL,
     NULL},
    {"POST", "/v1/principals/{name}/unfreeze", WJ, h_principal_unfreeze, NULL,
     NULL, NULL},
    {"GET", "/v1/decoys", R_READ, h_decoys_list, NULL, NULL, NULL},
    {"GET", "/v1/alerts", R_READ, h_alerts_list, NULL, NULL, NULL},
    {"GET", "/v1/principals", R_READ, h_principals_list, NULL, NULL, NULL},
    {"GET", "/v1/caseload", R_READ, h_caseload, NULL, NULL, NULL},
    {"GET", "/v1/approvals", R_READ, h_approvals_list, NULL, NULL, NULL},
    {"POST", "/v1/approvals", WJ, h_approval_request, NULL, NULL, NULL},
    {"POST", "/v1/approvals/{id}/approve", R_WRITE, h_approval_approve, NULL,
     NULL, NULL},
    {"GET", "/v1/tokens", R_READ, h_tokens_list, NULL, NULL, NULL},
    {"POST", "/v1/tokens", WJ, h_token_create, NULL, NULL, NULL},
    {"POST", "/v1/tokens/{id}/revoke", R_WRITE, h_token_revoke, NULL, NULL,
     NULL},
    {"GET", "/v1/cases", R_READ, h_cases_list, NULL, NULL, NULL},
    {"POST", "/v1/cases", WJ, h_case_open, NULL, NULL, NULL},
    {"POST", "/v1/cases/{case}/assign", WJ, h_case_assign, NULL, NULL, NULL},
    {"POST", "/v1/cases/{case}/people", WJ, h_case_add, NULL, NULL, NULL},
    {"GET", "/v1/policy", R_READ, h_policy_get, NULL, NULL, NULL},
    {"PUT", "/v1/policy", WJ, h_policy_put, NULL, NULL, NULL},
    {"GET", "/v1/witnesses", R_READ, h_witness_list, NULL, NULL, NULL},
    {"POST", "/v1/witnesses", WJ, h_witness_add, NULL, NULL, NULL},
    {"POST", "/v1/witnesses/{name}/remove", R_WRITE, h_witness_remove, NULL,
     NULL, NULL},
    {"PUT", "/v1/witnesses/required", WJ, h_witness_require, NULL, NULL, NULL},
    {"POST", "/v1/audit/entries", RJ, h_audit_entries, NULL, NULL, NULL},
    {"GET", "/v1/audit/checkpoint", R_READ, h_audit_checkpoint, NULL, NULL,
     NULL},
    {"GET", "/v1/audit/proof/inclusion", R_READ, h_audit_inclusion, NULL, NULL,
     NULL},
    {"GET", "/v1/audit/key", R_READ, h_audit_key, NULL, NULL, NULL},
    {"GET", "/v1/audit/proof/consistency", R_READ, h_audit_consistency, NULL,
     NULL, NULL},
    {"POST", "/v1/audit/resolve", RJ, h_audit_resolve, NULL, NULL, NULL},
};
const unsigned srv_route_count = sizeof srv_routes / sizeof srv_routes[0];
