/* SPDX-License-Identifier: Apache-2.0 */
/*
 * breach.c - `strongroom breach report`: the library's report
 * (sr_vault_breach_report, JSON lines) as it is (json), or rendered as
 * Markdown or as one self-contained HTML page (inline CSS, an inline SVG
 * chart of reads over time, no script, nothing fetched).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

const char help_breach[] =
    "usage: strongroom breach report [--principal P] [--token-id ID]\n"
    "                                [--since T] [--until T]\n"
    "                                [--format json|md|html] [--out FILE]\n"
    "       strongroom breach notify --report FILE --out DIR --approval ID\n"
    "                                (see strongroom breach notify --help)\n"
    "\n"
    "Scope a breach from the audit log alone: the log is verified first\n"
    "(the report is refused if it fails), then every entry of the principal,\n"
    "of the token, or of anyone in the time window (at least one; they\n"
    "combine) is read, and the report lists exactly which people were\n"
    "revealed, which field classes, when and to whom, and which attempts\n"
    "were denied, with counts per class and a chart of reads over time\n"
    "(html). Needs the audit action (the security officer's and the\n"
    "auditor's); the report is logged. People are named by their id (a\n"
    "person shredded since by the reference the log holds); decoys that\n"
    "were touched are listed apart and never counted as people.\n"
    "\n"
    "  --principal P     entries of this principal\n"
    "  --token-id ID     entries made with this token (its 16-digit id)\n"
    "  --since T         from T (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix\n"
    "                    seconds), inclusive\n"
    "  --until T         to T, exclusive\n"
    "  --format F        json (default: one JSON object per line, the\n"
    "                    summary first), md or html\n"
    "  --out FILE        write to FILE (mode 0600, replaced only when whole)\n"
    "                    instead of stdout\n" COMMON_HELP
    "\nexample: strongroom breach report --principal alice --since 2026-11-01 "
    "--format html --out alice.html\n";

/* Rows of people and denials a Markdown or HTML report shows; the JSON
 * form has them all. */
#define TABLE_ROWS 10000u

typedef enum { FMT_JSON, FMT_MD, FMT_HTML } fmt;

typedef struct render {
    fmt format;
    FILE *out;
    int section; /* 0 none yet, 1 people, 2 decoys, 3 denials */
    uint64_t rows, hidden;
    json_t *summary;
} render;

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static uint64_t jint(const json_t *o, const char *k)
{
    json_int_t x = json_integer_value(json_object_get(o, k));
    return x > 0 ? (uint64_t)x : 0;
}

/* Text into HTML. Every string in a report is a name, a time or hex, but
 * nothing is printed unescaped. */
static void html_text(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A JSON array of strings, joined by ", ". */
static void joined(render *r, const json_t *a)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (i > 0)
            fputs(", ", r->out);
        if (r->format == FMT_HTML)
            html_text(r->out, json_string_value(x) ? json_string_value(x) : "");
        else
            fputs(json_string_value(x) ? json_string_value(x) : "", r->out);
    }
}

static const char *const HTML_HEAD =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
    "'none'; style-src 'unsafe-inline'\">\n"
    "<title>Strongroom breach report</title>\n<style>\n"
    "body{font:15px/1.45 system-ui,sans-serif;margin:2rem;color:#111}\n"
    "table{border-collapse:collapse;margin:.5rem 0 1.5rem}\n"
    "td,th{border:1px solid #999;padding:.2rem .5rem;text-align:left}\n"
    "th{background:#eee}.n{text-align:right}\n"
    "code{font-size:13px}\n</style></head><body>\n";

/* The timeline as bars, in SVG. */
static void svg_chart(FILE *f, const json_t *tl)
{
    const json_t *reads = json_object_get(tl, "reads");
    size_t n = json_array_size(reads);
    uint64_t max = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (uint64_t)json_integer_value(json_array_get(reads, i));
        if (x > max)
            max = x;
    }
    const unsigned W = 720, H = 200, bw = n > 0 ? (W - 40) / (unsigned)n : 1;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
            "height=\"%u\" role=\"img\" aria-label=\"reads over time\">\n"
            "<line x1=\"30\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#333\"/>\n",
            W, H + 30, H + 5, W, H + 5);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (uint64_t)json_integer_value(json_array_get(reads, i));
        unsigned h = (unsigned)(x * (H - 10) / max);
        fprintf(f,
                "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" "
                "fill=\"#b03030\"><title>%" PRIu64 " reads</title></rect>\n",
                30 + (unsigned)i * bw, H + 5 - h, bw > 1 ? bw - 1 : 1, h, x);
    }
    fprintf(f,
            "<text x=\"0\" y=\"15\" font-size=\"12\">%" PRIu64 "</text>\n"
            "<text x=\"30\" y=\"%u\" font-size=\"12\">from ",
            max, H + 25);
    html_text(f, jstr(tl, "start"));
    fprintf(f, ", %" PRIu64 " s a bar</text>\n</svg>\n",
            jint(tl, "bucket_seconds"));
}

static void start_summary(render *r, const json_t *s)
{
    FILE *f = r->out;
    const json_t *q = json_object_get(s, "query");
    const json_t *log = json_object_get(s, "log");
    bool html = r->format == FMT_HTML;
    const char *h1 = html ? "<h1>" : "# ", *h1e = html ? "</h1>\n" : "\n\n";
    if (html)
        fputs(HTML_HEAD, f);
    fprintf(f, "%sBreach report%s", h1, h1e);
    const char *labels[] = {"principal", "token", "since", "until"};
    if (html)
        fputs("<table>\n", f);
    else
        fputs("| scope | |\n|---|---|\n", f);
    for (size_t i = 0; i < 4; i++) {
        const char *v = jstr(q, labels[i]);
        if (v[0] == '\0')
            continue;
        if (html) {
            fprintf(f, "<tr><th>%s</th><td>", labels[i]);
            html_text(f, v);
            fputs("</td></tr>\n", f);
        } else {
            fprintf(f, "| %s | %s |\n", labels[i], v);
        }
    }
    struct {
        const char *label, *key;
    } counts[] = {
        {"audit log entries (verified)", NULL},
        {"entries matching", "entries_matched"},
        {"reads that revealed people", "reads"},
        {"people revealed", "people"},
        {"of them no longer stored (by reference)", "people_unresolved"},
        {"decoys touched", "decoys_touched"},
        {"denied attempts", "denials"}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        uint64_t x =
            counts[i].key != NULL ? jint(s, counts[i].key) : jint(log, "size");
        if (html)
            fprintf(f, "<tr><th>%s</th><td class=\"n\">%" PRIu64 "</td></tr>\n",
                    counts[i].label, x);
        else
            fprintf(f, "| %s | %" PRIu64 " |\n", counts[i].label, x);
    }
    if (html) {
        fputs("<tr><th>first and last read</th><td>", f);
        html_text(f, jstr(s, "first_read"));
        fputs(" &ndash; ", f);
        html_text(f, jstr(s, "last_read"));
        fputs("</td></tr>\n</table>\n<h2>People revealed, by field class</h2>"
              "\n<table><tr><th>class</th><th>people</th></tr>\n",
              f);
    } else {
        fprintf(f, "| first and last read | %s – %s |\n\n",
                jstr(s, "first_read"), jstr(s, "last_read"));
        fputs("## People revealed, by field class\n\n| class | people |\n"
              "|---|---:|\n",
              f);
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "people_by_class"), k, v) {
        if (html)
            fprintf(f, "<tr><td>%s</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                    k, (uint64_t)json_integer_value(v));
        else
            fprintf(f, "| %s | %" PRIu64 " |\n", k,
                    (uint64_t)json_integer_value(v));
    }
    fputs(html ? "</table>\n<h2>Principals</h2>\n<table><tr><th>principal</th>"
                 "<th>reads</th><th>denied</th></tr>\n"
               : "\n## Principals\n\n| principal | reads | denied |\n"
                 "|---|---:|---:|\n",
          f);
    size_t i;
    json_array_foreach(json_object_get(s, "principals"), i, v) {
        if (html) {
            fputs("<tr><td>", f);
            html_text(f, jstr(v, "name"));
            fprintf(f,
                    "</td><td class=\"n\">%" PRIu64
                    "</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                    jint(v, "reads"), jint(v, "denied"));
        } else {
            fprintf(f, "| %s | %" PRIu64 " | %" PRIu64 " |\n", jstr(v, "name"),
                    jint(v, "reads"), jint(v, "denied"));
        }
    }
    if (html) {
        fputs("</table>\n<h2>Reads over time</h2>\n", f);
        svg_chart(f, json_object_get(s, "timeline"));
    } else {
        const json_t *tl = json_object_get(s, "timeline");
        fprintf(f, "\n## Reads over time\n\nFrom %s, %" PRIu64 " s a bucket: ",
                jstr(tl, "start"), jint(tl, "bucket_seconds"));
        json_array_foreach(json_object_get(tl, "reads"), i, v) {
            fprintf(f, "%s%" PRIu64, i > 0 ? " " : "",
                    (uint64_t)json_integer_value(v));
        }
        fputs("\n", f);
    }
}

static const char *const SECTION_TITLE[] = {
    "", "People revealed", "Decoys touched", "Denied attempts"};

static void end_table(render *r)
{
    if (r->section == 0)
        return;
    if (r->format == FMT_HTML)
        fputs("</table>\n", r->out);
    if (r->hidden > 0)
        fprintf(r->out,
                r->format == FMT_HTML
                    ? "<p>And %" PRIu64 " more: see --format json.</p>\n"
                    : "\nAnd %" PRIu64 " more: see --format json.\n",
                r->hidden);
}

static void begin_section(render *r, int section)
{
    end_table(r);
    r->section = section;
    r->rows = r->hidden = 0;
    bool html = r->format == FMT_HTML;
    fprintf(r->out, html ? "<h2>%s</h2>\n<table>" : "\n## %s\n\n",
            SECTION_TITLE[section]);
    if (section == 3)
        fputs(html ? "<tr><th>entry</th><th>time</th><th>principal</th>"
                     "<th>action</th><th>rule</th><th>people</th></tr>\n"
                   : "| entry | time | principal | action | rule | people |\n"
                     "|---:|---|---|---|---|---:|\n",
              r->out);
    else
        fputs(html ? "<tr><th>person</th><th>classes</th><th>first</th>"
                     "<th>last</th><th>reads</th><th>by</th></tr>\n"
                   : "| person | classes | first | last | reads | by |\n"
                     "|---|---|---|---|---:|---|\n",
              r->out);
}

static void row(render *r, const json_t *o, int section)
{
    FILE *f = r->out;
    bool html = r->format == FMT_HTML;
    if (r->section != section)
        begin_section(r, section);
    if (r->rows >= TABLE_ROWS) {
        r->hidden++;
        return;
    }
    r->rows++;
    const char *sep = html ? "</td><td>" : " | ";
    fputs(html ? "<tr><td><code>" : "| ", f);
    if (section == 3) {
        fprintf(f, "%" PRIu64 "%s", jint(o, "index"), html ? "</code>" : "");
        const char *cols[] = {"time", "principal", "action", "rule"};
        for (size_t i = 0; i < 4; i++)
            fprintf(f, "%s%s", sep, jstr(o, cols[i]));
        fprintf(f, "%s%" PRIu64, sep, jint(o, "people"));
    } else {
        const char *id = jstr(o, "id");
        fprintf(f, "%s%s%s%s", id[0] ? id : "ref ", id[0] ? "" : jstr(o, "ref"),
                html ? "</code>" : "", sep);
        joined(r, json_object_get(o, "classes"));
        fprintf(f, "%s%s%s%s%s%" PRIu64 "%s", sep, jstr(o, "first"), sep,
                jstr(o, "last"), sep, jint(o, "reads"), sep);
        joined(r, json_object_get(o, "principals"));
    }
    fputs(html ? "</td></tr>\n" : " |\n", f);
}

static sr_status on_line(void *ctx, const char *line, size_t len)
{
    render *r = ctx;
    if (r->format == FMT_JSON) {
        fwrite(line, 1, len, r->out);
        fputc('\n', r->out);
        return ferror(r->out) ? SR_ERR_IO : SR_OK;
    }
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    if (o == NULL)
        return SR_ERR_INTERNAL;
    const char *kind = jstr(o, "kind");
    if (strcmp(kind, "summary") == 0)
        start_summary(r, o);
    else if (strcmp(kind, "person") == 0)
        row(r, o, 1);
    else if (strcmp(kind, "decoy") == 0)
        row(r, o, 2);
    else if (strcmp(kind, "denial") == 0)
        row(r, o, 3);
    json_decref(o);
    return ferror(r->out) ? SR_ERR_IO : SR_OK;
}

/* The subcommand: the first argument that is neither an option nor the
 * value of one (every option but these flags takes a value). */
static const char *subcommand(int argc, char **argv)
{
    static const char *const flags[] = {"--help", "--quiet",
                                        "--print-template"};
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0)
            return argv[i];
        bool flag = strchr(argv[i], '=') != NULL;
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
            flag = flag || strcmp(argv[i], flags[k]) == 0;
        i += !flag;
    }
    return "";
}

int cmd_breach(int argc, char **argv)
{
    if (strcmp(subcommand(argc, argv), "notify") == 0)
        return cmd_breach_notify(argc, argv);
    enum {
        OPT_PRINCIPAL = 1,
        OPT_TOKEN,
        OPT_SINCE,
        OPT_UNTIL,
        OPT_FORMAT,
        OPT_OUT
    };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        {"principal", required_argument, NULL, OPT_PRINCIPAL},
        {"token-id", required_argument, NULL, OPT_TOKEN},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"out", required_argument, NULL, OPT_OUT},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    sr_breach_query q;
    render r;
    const char *out = NULL;
    memset(&q, 0, sizeof q);
    memset(&r, 0, sizeof r);
    int o;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_breach, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        switch (o) {
        case OPT_PRINCIPAL:
            q.principal = optarg;
            break;
        case OPT_TOKEN:
            q.token = optarg;
            break;
        case OPT_SINCE:
        case OPT_UNTIL:
            if (!parse_time(optarg, o == OPT_SINCE ? &q.since_ns : &q.until_ns))
                return fail("breach", "--since and --until take YYYY-MM-DD, "
                                      "YYYY-MM-DDTHH:MM:SSZ or Unix seconds");
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0)
                r.format = FMT_JSON;
            else if (strcmp(optarg, "md") == 0)
                r.format = FMT_MD;
            else if (strcmp(optarg, "html") == 0)
                r.format = FMT_HTML;
            else
                return fail("breach", "--format is json, md or html");
            break;
        case OPT_OUT:
            out = optarg;
            break;
        default:
            return fail("breach", "bad option; see --help");
        }
    }
    if (bad || optind + 1 != argc || strcmp(argv[optind], "report") != 0)
        return fail("breach", "give report and its options; see --help");
    if (q.principal == NULL && q.token == NULL && q.since_ns == 0 &&
        q.until_ns == 0)
        return fail("breach",
                    "give --principal, --token-id, or --since/--until");
    sr_vault *v;
    int rc = open_vault("breach", &c, SR_OPEN_READ, &v);
    if (rc != 0)
        return rc;
    char tmp[PATH_MAX];
    if (!out_begin("breach", out, tmp)) {
        sr_vault_close(v);
        return exit_for(SR_ERR_IO);
    }
    r.out = stdout;
    sr_status st = sr_vault_breach_report(v, &q, on_line, &r);
    if (st == SR_OK && r.format != FMT_JSON) {
        end_table(&r);
        if (r.format == FMT_HTML)
            fputs("</body></html>\n", stdout);
    }
    st = out_end(out, tmp, st);
    rc = st == SR_OK ? 0 : lib_fail("breach", st, v);
    sr_vault_close(v);
    return rc;
}
