/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run.c - strongroom breach notify: read the report, have the vault read
 * the name and contact classes of its people under the approval (each
 * group logged before it is revealed), and write a letter and a mailing
 * row per person. Every NOTIFY_SYNC people the letters and CSVs are made
 * durable (syncfs) and only then are those people journalled, so a run
 * killed at any point resumes where its journal ends.
 */
#define _GNU_SOURCE /* syncfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "notify_int.h"

#define NOTIFY_SYNC 256u
#define JOURNAL "notify.journal"
#define MAILING "mailing.csv"
#define UNREACHABLE "unreachable.csv"
#define SUMMARY "notify.json"
#define LETTERS "letters"

static const char mailing_header[] =
    "reference,letter,name,street,city,state,postal_code,country\r\n";
static const char unreach_header[] = "reference,reason\r\n";

/* The built-in letter, docs/letter.html compiled in (gen/letter_default.c). */
extern const char sr_notify_letter_html[];

const char *sr_notify_default_letter(void)
{
    return sr_notify_letter_html;
}

typedef struct run {
    sr_vault *v;
    const sr_notify_options *o;
    notify_report rep;
    notify_template tpl;
    notify_journal jr;
    bool *skip;
    size_t cursor; /* the report's person the next line is of */
    int dir, letters, journal, mailing, unreach;
    uint64_t csv_end, unreach_end;
    sr_buf letter, scratch, row, pending; /* pending: journal lines */
    size_t npending;
    uint64_t done, total;
    char today[40];
    sr_notify_summary *sum;
    char *msg;
} run;

static sr_status fail(run *r, sr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sr_status fail(run *r, sr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(r->msg, NOTIFY_MSG_MAX, fmt, ap);
    va_end(ap);
    return st;
}

static sr_status io_fail(run *r, const char *what)
{
    int e = errno;
    return fail(r, e == ENOSPC ? SR_ERR_FULL : SR_ERR_IO, "cannot %s: %s", what,
                strerror(e));
}

/* A date as "December 4, 2026". */
static void long_date(int64_t secs, char out[40])
{
    static const char *const months[12] = {
        "January", "February", "March",     "April",   "May",      "June",
        "July",    "August",   "September", "October", "November", "December"};
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_mon < 0 || tm.tm_mon > 11)
        (void)snprintf(out, 40, "?");
    else
        (void)snprintf(out, 40, "%s %d, %d", months[tm.tm_mon], tm.tm_mday,
                       tm.tm_year + 1900);
}

/* The classes exposed, in words a letter can carry. */
static void class_words(unsigned mask, char out[600])
{
    static const char *const words[SR_CLASS_COUNT] = {
        ("identity (Social Security number, date and place of birth, sex, "
         "citizenship)"),
        "name (your name and former names)",
        "contact (addresses, telephone numbers, e-mail addresses)",
        "employment (your employment history)",
        "investigation (your background investigation records)",
        "biometric (fingerprints)"};
    size_t n = 0;
    out[0] = '\0';
    for (unsigned c = 0; c < SR_CLASS_COUNT; c++)
        if (mask & SR_CLASS_BIT(c)) {
            int k = snprintf(out + n, 600 - n, "%s%s", n ? "; " : "", words[c]);
            if (k < 0 || (size_t)k >= 600 - n)
                break;
            n += (size_t)k;
        }
}

/* ---- the output directory -------------------------------------------------
 */

static int open_in(run *r, const char *name, int flags)
{
    return openat(r->dir, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* A directory holding nothing at all (a new run's). */
static bool dir_empty(int dirfd)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    bool empty = d != NULL;
    struct dirent *e;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    while (empty && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    closedir(d);
    return empty;
}

static sr_status read_journal(run *r, const char *header, bool *found)
{
    sr_buf b;
    char path[PATH_MAX];
    *found = false;
    if (snprintf(path, sizeof path, "%s/" JOURNAL, r->o->out_dir) >=
        (int)sizeof path)
        return fail(r, SR_ERR_INVALID, "the output path is too long");
    buf_init(&b, (size_t)SR_NOTIFY_PEOPLE_MAX * 80u);
    sr_status st = file_read(path, &b);
    if (st == SR_ERR_NOT_FOUND) {
        buf_free(&b);
        return SR_OK;
    }
    if (st != SR_OK) {
        buf_free(&b);
        return io_fail(r, "read " JOURNAL);
    }
    *found = true;
    st = notify_journal_parse((const char *)b.p, b.len, header, &r->jr, r->msg);
    buf_free(&b);
    return st;
}

/* Open one CSV as the journal left it: with nobody journalled yet, made
 * afresh with its header line; else cut back to the size the journal
 * last recorded (*end), so a row written after it is written again once. */
static sr_status open_csv(run *r, const char *name, const char *header,
                          uint64_t *end, int *fd)
{
    size_t hl = strlen(header);
    struct stat sb;
    *fd = open_in(r, name, O_RDWR | O_CREAT);
    if (*fd < 0) {
        char what[64];
        (void)snprintf(what, sizeof what, "open %s", name);
        return io_fail(r, what);
    }
    if (r->jr.n == 0) {
        if (ftruncate(*fd, 0) != 0 || !fd_write_all(*fd, header, hl) ||
            fsync(*fd) != 0)
            return io_fail(r, "write the CSV header");
        *end = hl;
        return SR_OK;
    }
    if (fstat(*fd, &sb) != 0 || (uint64_t)sb.st_size < *end)
        return fail(r, SR_ERR_CORRUPT,
                    "%s is shorter than notify.journal says: the output "
                    "directory was changed; give a new --out",
                    name);
    if (ftruncate(*fd, (off_t)*end) != 0 ||
        lseek(*fd, (off_t)*end, SEEK_SET) < 0)
        return io_fail(r, "cut a CSV back to the journal");
    return SR_OK;
}

/* The output directory: a new run's journal first (so a run stopped at any
 * point after is resumed, not refused), then letters/ and the CSVs as
 * the journal says. */
static sr_status open_out(run *r, const char *header)
{
    const char *dir = r->o->out_dir;
    bool resume = false;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return io_fail(r, "create the output directory");
    r->dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dir < 0)
        return io_fail(r, "open the output directory");
    sr_status st = read_journal(r, header, &resume);
    if (st != SR_OK)
        return st;
    if (!resume && !dir_empty(r->dir))
        return fail(r, SR_ERR_EXISTS,
                    "%s holds files but no notification run: give an empty "
                    "or new directory",
                    dir);
    r->journal = open_in(r, JOURNAL, O_RDWR | O_CREAT);
    if (r->journal < 0)
        return io_fail(r, "open " JOURNAL);
    if (!resume) {
        if (!fd_write_all(r->journal, header, strlen(header)) ||
            !fd_write_all(r->journal, "\n", 1) || fsync(r->journal) != 0 ||
            fsync(r->dir) != 0)
            return io_fail(r, "start " JOURNAL);
    } else if (ftruncate(r->journal, (off_t)r->jr.valid) != 0 ||
               lseek(r->journal, (off_t)r->jr.valid, SEEK_SET) < 0) {
        return io_fail(r, "cut a torn line off " JOURNAL);
    }
    if (mkdirat(r->dir, LETTERS, 0700) != 0 && errno != EEXIST)
        return io_fail(r, "create letters/");
    r->letters = openat(r->dir, LETTERS,
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (r->letters < 0)
        return io_fail(r, "open letters/");
    r->csv_end = r->jr.csv_end;
    r->unreach_end = r->jr.unreach_end;
    st = open_csv(r, MAILING, mailing_header, &r->csv_end, &r->mailing);
    if (st == SR_OK)
        st = open_csv(r, UNREACHABLE, unreach_header, &r->unreach_end,
                      &r->unreach);
    if (st == SR_OK && fsync(r->dir) != 0)
        st = io_fail(r, "sync the output directory");
    return st;
}

/* ---- each person ----------------------------------------------------------
 */

/* Make the letters and rows so far durable, then journal their people. */
static sr_status commit(run *r)
{
    if (r->npending == 0)
        return SR_OK;
    if (syncfs(r->dir) != 0)
        return io_fail(r, "sync the letters");
    if (!fd_write_all(r->journal, r->pending.p, r->pending.len) ||
        fdatasync(r->journal) != 0)
        return io_fail(r, "write " JOURNAL);
    buf_reset(&r->pending);
    r->npending = 0;
    if (r->o->progress != NULL)
        r->o->progress(r->o->progress_ctx, r->done, r->total);
    return SR_OK;
}

static sr_status journal(run *r, const uint8_t id[SR_ID_BYTES],
                         notify_outcome o)
{
    char line[128];
    size_t n = notify_journal_line(line, id, o, r->csv_end, r->unreach_end);
    if (buf_append(&r->pending, line, n) != SR_OK)
        return fail(r, SR_ERR_NOMEM, "out of memory");
    r->npending++;
    r->done++;
    return r->npending == NOTIFY_SYNC ? commit(r) : SR_OK;
}

static sr_status write_row(run *r, int fd, uint64_t *end)
{
    if (!fd_write_all(fd, r->row.p, r->row.len))
        return io_fail(r, "write a CSV row");
    *end += r->row.len;
    buf_reset(&r->row);
    return SR_OK;
}

static sr_status unreachable(run *r, const char *hex, const char *reason)
{
    buf_reset(&r->row);
    if (notify_csv_field(&r->row, hex, false) != SR_OK ||
        notify_csv_field(&r->row, reason, true) != SR_OK)
        return fail(r, SR_ERR_NOMEM, "out of memory");
    return write_row(r, r->unreach, &r->unreach_end);
}

/* The letter into letters/<id>.html: whole, or not at all. */
static sr_status write_letter(run *r, const char *hex)
{
    char name[SR_ID_STR_LEN + 8], tmp[SR_ID_STR_LEN + 16];
    (void)snprintf(name, sizeof name, "%s.html", hex);
    (void)snprintf(tmp, sizeof tmp, ".%s.tmp", hex);
    int fd =
        openat(r->letters, tmp,
               O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return io_fail(r, "create a letter");
    bool ok = fd_write_all(fd, r->letter.p, r->letter.len);
    int e = errno;
    ok = close(fd) == 0 && ok;
    if (ok && renameat(r->letters, tmp, r->letters, name) == 0)
        return SR_OK;
    e = errno != 0 ? errno : e;
    (void)unlinkat(r->letters, tmp, 0);
    errno = e;
    return io_fail(r, "write a letter");
}

static sr_status letter_for(run *r, const notify_person *p, const json_t *o,
                            const char *hex)
{
    notify_values val;
    const char *a[5];
    char classes[600], first[40], last[40], reads[24];
    memset(&val, 0, sizeof val);
    buf_reset(&r->scratch);
    buf_reset(&r->letter);
    buf_reset(&r->row);
    if (!notify_person_values(o, &val, &r->scratch))
        return fail(r, SR_ERR_NOMEM, "person %s: the letter is too large", hex);
    if (val.v[NF_ADDRESS] == NULL) {
        sr_status st = unreachable(r, hex, "no address on record");
        if (st == SR_OK)
            r->sum->no_address++;
        return st == SR_OK ? journal(r, p->id, NOTIFY_NO_ADDRESS) : st;
    }
    class_words(p->classes, classes);
    long_date(p->first, first);
    long_date(p->last, last);
    (void)snprintf(reads, sizeof reads, "%" PRIu32, p->reads);
    val.v[NF_CLASSES] = classes;
    val.v[NF_FIRST_READ] = first;
    val.v[NF_LAST_READ] = last;
    val.v[NF_READS] = reads;
    val.v[NF_REFERENCE] = hex;
    val.v[NF_DATE] = r->today;
    val.v[NF_INCIDENT] = r->o->incident != NULL ? r->o->incident : "";
    if (notify_template_render(&r->tpl, val.v, &r->letter) != SR_OK)
        return fail(r, SR_ERR_NOMEM, "person %s: the letter is too large", hex);
    char file[SR_ID_STR_LEN + 16];
    (void)snprintf(file, sizeof file, LETTERS "/%s.html", hex);
    notify_current_address(o, a);
    sr_status st = SR_OK;
    const char *cols[8] = {hex,  file, val.v[NF_NAME], a[0],
                           a[1], a[2], a[3],           a[4]};
    for (size_t i = 0; i < 8 && st == SR_OK; i++)
        st = notify_csv_field(&r->row, cols[i], i == 7);
    if (st != SR_OK)
        return fail(r, SR_ERR_NOMEM, "person %s: the row is too large", hex);
    st = write_letter(r, hex);
    if (st == SR_OK)
        st = write_row(r, r->mailing, &r->csv_end);
    if (st == SR_OK)
        r->sum->letters++;
    return st == SR_OK ? journal(r, p->id, NOTIFY_LETTER) : st;
}

/* One line from sr_vault_notify_read: the next person not skipped. */
static sr_status on_line(void *ctx, const char *line, size_t len)
{
    run *r = ctx;
    json_error_t jerr;
    uint8_t id[SR_ID_BYTES];
    while (r->cursor < r->rep.n && r->skip[r->cursor])
        r->cursor++;
    json_t *o = json_loadb(line, len, 0, &jerr);
    const char *hex = json_string_value(json_object_get(o, "id"));
    if (r->cursor >= r->rep.n || hex == NULL || strlen(hex) != SR_ID_STR_LEN ||
        !hex_decode(id, SR_ID_BYTES, hex, SR_ID_STR_LEN) ||
        memcmp(id, r->rep.p[r->cursor].id, SR_ID_BYTES) != 0) {
        json_decref(o);
        return fail(r, SR_ERR_INTERNAL,
                    "the vault answered out of order (a bug)");
    }
    const notify_person *p = &r->rep.p[r->cursor++];
    sr_status st;
    if (json_is_true(json_object_get(o, "gone"))) {
        st = unreachable(r, hex, "shredded since the report");
        if (st == SR_OK) {
            r->sum->gone++;
            st = journal(r, p->id, NOTIFY_GONE);
        }
    } else {
        st = letter_for(r, p, o, hex);
    }
    json_decref(o);
    buf_reset(&r->scratch);
    buf_reset(&r->letter);
    return st;
}

/* ---- the run --------------------------------------------------------------
 */

static sr_status load_template(run *r, char digest[65])
{
    sr_buf b;
    uint8_t d[32];
    buf_init(&b, NOTIFY_TEMPLATE_MAX);
    sr_status st = SR_OK;
    if (r->o->letter != NULL) {
        st = file_read(r->o->letter, &b);
        if (st == SR_ERR_INVALID)
            st = fail(r, st, "the template %s is larger than %u bytes",
                      r->o->letter, NOTIFY_TEMPLATE_MAX);
        else if (st != SR_OK)
            st = fail(r, st, "cannot read the template %s: %s", r->o->letter,
                      st == SR_ERR_NOT_FOUND ? "no such file" : "I/O error");
    } else {
        st = buf_append_str(&b, sr_notify_letter_html);
    }
    if (st == SR_OK)
        st = notify_template_parse((const char *)b.p, b.len, &r->tpl, r->msg);
    if (st == SR_OK) {
        (void)crypto_generichash(d, sizeof d, b.p, b.len, NULL, 0);
        hex_encode(digest, d, sizeof d);
    }
    buf_free(&b);
    return st;
}

static sr_status write_summary(run *r, const char *report, const char *tpl)
{
    const sr_notify_summary *s = r->sum;
    char path[PATH_MAX];
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "report", report,
        "template", tpl, "approval",
        r->o->access.approval ? r->o->access.approval : "", "people",
        (json_int_t)s->people, "done_before", (json_int_t)s->done_before,
        "letters", (json_int_t)s->letters, "gone", (json_int_t)s->gone,
        "no_address", (json_int_t)s->no_address, "unresolved",
        (json_int_t)s->unresolved, "decoys", (json_int_t)s->decoys);
    char *text = o != NULL ? json_to_text(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return fail(r, SR_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n';
    sr_status st = SR_OK;
    if (snprintf(path, sizeof path, "%s/" SUMMARY, r->o->out_dir) >=
        (int)sizeof path)
        st = fail(r, SR_ERR_INVALID, "the output path is too long");
    else if ((st = file_write_atomic(path, text, n + 1, 0600)) != SR_OK)
        st = io_fail(r, "write " SUMMARY);
    free(text);
    return st;
}

static void run_free(run *r)
{
    notify_report_free(&r->rep);
    notify_template_free(&r->tpl);
    notify_journal_free(&r->jr);
    free(r->skip);
    buf_free(&r->letter);
    buf_free(&r->scratch);
    buf_free(&r->row);
    buf_free(&r->pending);
    int *fds[5] = {&r->dir, &r->letters, &r->journal, &r->mailing, &r->unreach};
    for (size_t i = 0; i < 5; i++)
        if (*fds[i] >= 0)
            (void)close(*fds[i]);
}

static sr_status ids_of(const notify_report *rep, uint8_t (**ids)[SR_ID_BYTES])
{
    *ids = malloc((rep->n ? rep->n : 1) * SR_ID_BYTES);
    if (*ids == NULL)
        return SR_ERR_NOMEM;
    for (size_t i = 0; i < rep->n; i++)
        memcpy((*ids)[i], rep->p[i].id, SR_ID_BYTES);
    return SR_OK;
}

static sr_status vault_said(sr_vault *v, sr_status st, char *msg)
{
    (void)snprintf(msg, NOTIFY_MSG_MAX, "%s", sr_vault_errmsg(v));
    return st;
}

sr_status sr_notify_request(sr_vault *v, const char *report, uint64_t ttl,
                            char id[SR_APPROVAL_ID_MAX], uint64_t *people,
                            char msg[SR_NOTIFY_MSG_MAX])
{
    notify_report rep;
    char digest[65];
    uint8_t(*ids)[SR_ID_BYTES] = NULL;
    id[0] = '\0';
    *people = 0;
    notify_report_init(&rep);
    sr_status st = notify_report_read(report, &rep, digest, msg);
    if (st == SR_OK && (st = ids_of(&rep, &ids)) != SR_OK)
        (void)snprintf(msg, NOTIFY_MSG_MAX, "out of memory");
    if (st == SR_OK) {
        sr_approval_spec spec = {"notify",
                                 SR_NOTIFY_PURPOSE,
                                 NULL,
                                 SR_NOTIFY_CLASSES,
                                 NULL,
                                 NULL,
                                 (const uint8_t(*)[SR_ID_BYTES])ids,
                                 rep.n,
                                 ttl,
                                 NULL};
        st = sr_vault_approval_request(v, &spec, id);
        if (st != SR_OK)
            st = vault_said(v, st, msg);
        else
            *people = rep.n;
    }
    free(ids);
    notify_report_free(&rep);
    return st;
}

sr_status sr_notify_run(sr_vault *v, const sr_notify_options *o,
                        sr_notify_summary *out, char msg[SR_NOTIFY_MSG_MAX])
{
    run r;
    char report[65], tpl[65], header[200];
    uint8_t(*ids)[SR_ID_BYTES] = NULL;
    memset(&r, 0, sizeof r);
    memset(out, 0, sizeof *out);
    msg[0] = '\0';
    r.v = v;
    r.o = o;
    r.sum = out;
    r.msg = msg;
    r.dir = r.letters = r.journal = r.mailing = r.unreach = -1;
    buf_init(&r.letter, NOTIFY_TEMPLATE_MAX * 4u);
    buf_init(&r.scratch, 1u << 20);
    buf_init(&r.row, 1u << 20);
    buf_init(&r.pending, NOTIFY_SYNC * 128u);
    notify_report_init(&r.rep);
    long_date((int64_t)time(NULL), r.today);
    sr_status st = notify_report_read(o->report, &r.rep, report, msg);
    if (st == SR_OK)
        st = load_template(&r, tpl);
    if (st == SR_OK && r.rep.n == 0)
        st = fail(&r, SR_ERR_INVALID,
                  "the report names no person who can be written to");
    out->people = r.rep.n;
    out->unresolved = r.rep.unresolved;
    out->decoys = r.rep.decoys;
    notify_journal_header(header, report, tpl);
    if (st == SR_OK)
        st = open_out(&r, header);
    if (st == SR_OK && ((r.skip = calloc(r.rep.n, sizeof *r.skip)) == NULL ||
                        ids_of(&r.rep, &ids) != SR_OK))
        st = fail(&r, SR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == SR_OK && i < r.rep.n; i++) {
        const notify_done *d = notify_journal_find(&r.jr, r.rep.p[i].id);
        if (d == NULL)
            continue;
        r.skip[i] = true;
        out->done_before++;
        out->letters += d->outcome == NOTIFY_LETTER;
        out->gone += d->outcome == NOTIFY_GONE;
        out->no_address += d->outcome == NOTIFY_NO_ADDRESS;
    }
    if (st == SR_OK && out->done_before != r.jr.n)
        st = fail(&r, SR_ERR_CORRUPT,
                  "notify.journal names people the report does not");
    r.done = out->done_before;
    r.total = r.rep.n;
    if (st == SR_OK && out->done_before < r.rep.n) {
        st = sr_vault_notify_read(v, &o->access,
                                  (const uint8_t(*)[SR_ID_BYTES])ids, r.rep.n,
                                  r.skip, on_line, &r);
        if (st != SR_OK && msg[0] == '\0')
            st = vault_said(v, st, msg);
        /* What was written stays: journal it, so a new run resumes. */
        sr_status cs = commit(&r);
        if (st == SR_OK)
            st = cs;
    }
    if (st == SR_OK)
        st = write_summary(&r, report, tpl);
    free(ids);
    run_free(&r);
    return st;
}
