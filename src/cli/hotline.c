/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline.c - the strongroom hotline command: make a hotline node, print
 * its public line, add and list its partner nodes (strongroom/hotline.h).
 * Needs no vault: a node is a directory of its own.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "server/server.h"

const char help_hotline[] =
    "usage: strongroom hotline init --name NAME [--dir DIR]\n"
    "       strongroom hotline key [--dir DIR]\n"
    "       strongroom hotline peer add NAME --url URL --key KEY [--dir DIR]\n"
    "       strongroom hotline peer list [--dir DIR] [--json]\n"
    "       strongroom hotline request new PEER --case CASE --tlp LABEL "
    "< BODY\n"
    "           [--person ID[,ID...] --fields F --purpose P [--vault-case C]\n"
    "            --approval A [--vault DIR]]\n"
    "       strongroom hotline ack ID [--note TEXT]\n"
    "       strongroom hotline respond ID < BODY\n"
    "       strongroom hotline close ID --reason TEXT\n"
    "       strongroom hotline send PEER --case CASE --kind KIND --tlp LABEL "
    "< BODY\n"
    "       strongroom hotline deliver [--now] [--ca FILE]\n"
    "       strongroom hotline messages [--inbox] [--json]\n"
    "       strongroom hotline inbox [--json]\n"
    "       strongroom hotline show ID\n"
    "       strongroom hotline forward ID --to PEER [--case CASE]\n"
    "       strongroom hotline attachment ID N --out FILE\n"
    "       strongroom hotline witness [--ca FILE]\n"
    "       strongroom hotline cosignatures [--json]\n"
    "       strongroom hotline status [--json]\n"
    "       strongroom hotline report --period START..END [--json]\n"
    "       strongroom hotline serve --listen ADDR:PORT (--tls-cert F "
    "--tls-key F\n"
    "                                | --insecure-loopback) [--ca FILE] "
    "[--interval S]\n"
    "\n"
    "A hotline node exchanges case referrals with partner nodes: each\n"
    "message signed by the sender, encrypted to the receiver, answered\n"
    "with a signed receipt for exactly its bytes, and taken in only in\n"
    "order within its case (docs/hotline.md).\n"
    "\n";

/* The subcommands (one string would pass C's 4,095-byte minimum). */
static const char help_hotline_commands[] =
    "  init        make a node in DIR (created, mode 0700): fresh keys in\n"
    "              DIR/node.key (mode 0600, never replaced); prints its\n"
    "              public line, also in DIR/node.pub, to give to partners\n"
    "  key         print the node's public line\n"
    "  peer add    add a partner: its name, URL and the public line it\n"
    "              gave you (srnode1:NAME:KEYS), checked with it by a\n"
    "              second channel first\n"
    "  peer list   the partners: name, URL, public line (--json: JSON lines)\n"
    "  request new queue a case referral to PEER; its body (stdin) is JSON\n"
    "              as docs/hotline.md describes (indicators: STIX 2.1).\n"
    "              With --person: add personal_data, the named --fields\n"
    "              of those people read from the vault under a second\n"
    "              person's approval (strongroom approval request share),\n"
    "              logged there; only TLP:AMBER+STRICT or TLP:RED\n"
    "  ack         queue an acknowledgement of message ID (same peer, case\n"
    "              and TLP label)\n"
    "  respond     queue a response to message ID: {\"answer\": ...,\n"
    "              \"indicators\"?: bundle} on stdin\n"
    "  close       queue the closing of message ID's case\n"
    "  send        queue any kind (request, ack, response, close)\n"
    "  deliver     send what is queued, each case in order; a failure is\n"
    "              retried after 2, 4, 8, ... s (at most 1 h; --now: now)\n"
    "  messages    every message, sent and received (--inbox: received)\n"
    "  inbox       the messages received (messages --inbox)\n"
    "  show        one message and its body\n"
    "  attachment  write attachment N (from 0) of message ID to a new\n"
    "              FILE, its size and SHA-256 checked\n"
    "  forward     pass message ID on to PEER: only TLP:CLEAR and\n"
    "              TLP:GREEN; AMBER and RED are refused\n"
    "  witness     fetch each peer's log and cosign its checkpoint if it\n"
    "              extends the last one seen, and send the cosignature\n"
    "              back to the peer; a rewritten log is caught\n"
    "  cosignatures  the latest cosignature of this node's log each peer\n"
    "              sent back: the size of the log it covers, and its file\n"
    "  status      each request: peer, case, deadline, acknowledged, and\n"
    "              answered, late, overdue, closed or open\n"
    "  report      per partner, requests sent and received in the period\n"
    "              (dates, END included): acknowledged, answered in time,\n"
    "              late, overdue, open; and messages sent that the peer\n"
    "              has not receipted\n"
    "  serve       take messages in (POST /hotline/v1/messages) with\n"
    "              signed receipts; publish the log (/hotline/log/); every\n"
    "              --interval s (default 5) deliver, checkpoint, witness\n"
    "\n";

/* The rest of --help (one string would pass C's 4,095-byte minimum). */
static const char help_hotline_options[] =
    "  --dir DIR          the node's directory (default $STRONGROOM_HOTLINE)\n"
    "  --name NAME        the node's name: 1-63 of a-z, 0-9, '.' and '-'\n"
    "  --url URL          https://HOST[:PORT][/PATH]; http:// only to a\n"
    "                     loopback host (127.0.0.1, [::1], localhost)\n"
    "  --key KEY          a partner's public line\n"
    "  --case CASE        the case: 1-64 of A-Z a-z 0-9 . _ : -\n"
    "  --tlp LABEL        TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT\n"
    "                     or TLP:RED (TLP 2.0)\n"
    "  --kind KIND        request, ack, response or close (send)\n"
    "  --to PEER          forward: the node to pass it on to\n"
    "  --attach FILE      request new, respond, send: attach FILE (at most\n"
    "                     16 files of 4 MiB; encrypted with the body)\n"
    "  --out FILE         attachment: a new file to write\n"
    "  --person ID[,ID]   request new: people of the vault to share (at\n"
    "                     most 100; repeatable)\n"
    "  --fields F         request new: their fields that leave, e.g.\n"
    "                     name,birth.date (nothing else does)\n"
    "  --purpose P, --vault-case C, --approval A\n"
    "                     request new: the vault read's purpose, case and\n"
    "                     approval; the vault is --vault DIR (or\n"
    "                     $STRONGROOM_VAULT), opened with\n"
    "                     $STRONGROOM_PASSPHRASE and $STRONGROOM_TOKEN\n"
    "  --note TEXT        ack: a note (at most 1,000 bytes)\n"
    "  --reason TEXT      close: why (at most 1,000 bytes)\n"
    "  --now              deliver: ignore the retry wait\n"
    "  --ca FILE          a CA bundle for the peers' https certificates\n"
    "  --listen ADDR:PORT serve: numeric address and port\n"
    "  --tls-cert F, --tls-key F  serve: TLS 1.3 preferred, 1.2 minimum\n"
    "  --insecure-loopback serve: plain HTTP, only on a loopback address\n"
    "  --interval S       serve: seconds between deliveries (1-3600)\n"
    "  --period A..B      report: two dates\n"
    "  --inbox, --json    received only; JSON lines\n"
    "  --help             this help\n"
    "\n"
    "Exit: 0 done; 1 witness caught a rewritten log; 2 usage; 10 + the\n"
    "status (11 invalid; 12 no such peer or message; 21 exists already;\n"
    "22 not a node).\n"
    "\n"
    "example: strongroom hotline init --dir ~/node --name us-cert\n"
    "(docs/hotline.md walks two nodes through a case)\n";

typedef struct list_ctx {
    bool json;
    bool inbox; /* messages: received ones only */
} list_ctx;

static sr_status print_peer(void *ctx, const sr_hotline_peer_info *p)
{
    const list_ctx *c = ctx;
    if (c->json)
        /* Names, URLs and keys hold no '"' or '\\' (checked). */
        printf("{\"name\":\"%s\",\"url\":\"%s\",\"key\":\"%s\"}\n", p->name,
               p->url, p->key);
    else
        printf("%s %s %s\n", p->name, p->url, p->key);
    return SR_OK;
}

static int node_fail(sr_status st, const sr_hotline *h)
{
    fprintf(stderr, "strongroom hotline: %s\n", sr_hotline_errmsg(h));
    return exit_for(st);
}

/* {"KEY":"TEXT"} with TEXT escaped for JSON, into a new buffer. */
static char *text_body(const char *key, const char *text, size_t *len)
{
    size_t n = strlen(text), cap = strlen(key) + 8 + 6 * n + 1;
    char *b = sodium_malloc(cap), *o = b;
    if (b == NULL)
        return NULL;
    o += snprintf(o, cap, "{\"%s\":\"", key);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += snprintf(o, 7, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o++ = '}';
    *o = '\0';
    *len = (size_t)(o - b);
    return b;
}

static sr_status print_message(void *ctx, const sr_hotline_message_info *m)
{
    const list_ctx *c = ctx;
    if (c->inbox && m->outgoing)
        return SR_OK;
    if (c->json)
        /* Ids, names, case ids, labels and states hold no '"' or '\\'. */
        printf("{\"id\":\"%s\",\"direction\":\"%s\",\"peer\":\"%s\","
               "\"case\":\"%s\",\"seq\":%llu,\"kind\":\"%s\",\"tlp\":\"%s\","
               "\"sent\":\"%s\",\"state\":\"%s\",\"attempts\":%u}\n",
               m->id, m->outgoing ? "out" : "in", m->peer, m->case_id, m->seq,
               m->kind, m->tlp, m->sent, m->state, m->attempts);
    else
        printf("%s %s %-16s %-20s %3llu %-8s %-16s %s%s%s\n", m->id,
               m->outgoing ? "->" : "<-", m->peer, m->case_id, m->seq, m->kind,
               m->tlp, m->state, m->error[0] ? ": " : "", m->error);
    return SR_OK;
}

typedef struct opts {
    const char *dir, *name, *url, *key, *case_id, *kind, *tlp, *note, *reason,
        *ca, *listen, *tls_cert, *tls_key;
    const char *period, *to, *out;
    const char *attach[16];
    size_t nattach;
    bool json, inbox, now, insecure;
    unsigned interval;
    /* request new with personal data: the vault read */
    const char *fields;
    common vault;
    uint8_t people[SR_SHARE_PEOPLE_MAX][SR_ID_BYTES];
    size_t npeople;
} opts;

/* Collects the shared people, one JSON object a line, into an array. */
static sr_status add_person(void *ctx, const char *line, size_t len)
{
    json_error_t e;
    json_t *o = json_loadb(line, len, 0, &e);
    if (o == NULL || json_array_append_new(ctx, o) != 0)
        return SR_ERR_NOMEM;
    return SR_OK;
}

/* The referral on stdin with personal_data added: o's fields of o's
 * people, read from the vault under o's approval (and logged there).
 * The new body is in locked memory (*out, *len). */
static int with_personal_data(const opts *o, char **out, size_t *len)
{
    char *in = NULL;
    size_t in_len = 0;
    json_error_t e;
    sr_vault *v = NULL;
    *out = NULL;
    if (!read_stdin("hotline", &in, &in_len))
        return EXIT_USAGE;
    json_t *body = json_loadb(in, in_len, JSON_REJECT_DUPLICATES, &e);
    sodium_free(in);
    if (!json_is_object(body) ||
        json_object_get(body, "personal_data") != NULL) {
        json_decref(body);
        return fail("hotline", "the referral on stdin must be a JSON object "
                               "without personal_data (--person adds it)");
    }
    int r = open_vault("hotline", &o->vault, SR_OPEN_READ, &v);
    if (r != 0) {
        json_decref(body);
        return r;
    }
    sr_access acc = {o->vault.purpose, o->vault.case_id, o->vault.approval};
    json_t *people = json_array();
    sr_status st = people == NULL
                       ? SR_ERR_NOMEM
                       : sr_vault_share_read(
                             v, &acc, (const uint8_t(*)[SR_ID_BYTES])o->people,
                             o->npeople, o->fields, add_person, people);
    if (st != SR_OK) {
        json_decref(people);
        json_decref(body);
        r = lib_fail("hotline", st, v);
        sr_vault_close(v);
        return r;
    }
    fprintf(stderr,
            "read %zu people's fields %s from the vault under approval %s "
            "(audit entry %llu)\n",
            o->npeople, o->fields, o->vault.approval,
            (unsigned long long)sr_vault_last_entry(v));
    sr_vault_close(v);
    /* The fields in the form the receiver checks: in schema order. */
    char canon[SR_SHARE_FIELDS_MAX + 1];
    st = sr_fields_canonical(o->fields, canon);
    json_t *pd = st != SR_OK ? NULL
                             : json_pack("{s:s, s:s, s:o}", "approval",
                                         o->vault.approval, "fields", canon,
                                         "people", people);
    if (pd == NULL && st != SR_OK)
        json_decref(people);
    if (pd == NULL || json_object_set_new(body, "personal_data", pd) != 0) {
        json_decref(body);
        return exit_for(SR_ERR_NOMEM);
    }
    size_t need = json_dumpb(body, NULL, 0, JSON_COMPACT);
    *out = need > 0 ? sodium_malloc(need) : NULL;
    if (*out == NULL || json_dumpb(body, *out, need, JSON_COMPACT) != need) {
        sodium_free(*out);
        *out = NULL;
        json_decref(body);
        return exit_for(SR_ERR_NOMEM);
    }
    *len = need;
    json_decref(body);
    return 0;
}

/* Queue a message whose body comes on stdin (or is body, if not NULL: in
 * locked memory, freed here). */
static int queue(sr_hotline *h, const char *peer_or_id, bool reply,
                 const char *kind, const opts *o, char *body, size_t len)
{
    char id[SR_HOTLINE_ID_LEN + 1], *with = NULL;
    size_t with_len = 0;
    bool from_stdin = body == NULL;
    if (from_stdin && !read_stdin("hotline", &body, &len))
        return EXIT_USAGE;
    sr_status st = SR_OK;
    if (o->nattach > 0) {
        st = sr_hotline_attach(h, body, len, o->attach, o->nattach, &with,
                               &with_len);
    }
    if (st == SR_OK) {
        const char *b = with != NULL ? with : body;
        size_t n = with != NULL ? with_len : len;
        st = reply ? sr_hotline_reply(h, peer_or_id, kind, b, n, id)
                   : sr_hotline_send(h, peer_or_id, o->case_id, kind, o->tlp, b,
                                     n, id);
    }
    sr_hotline_free(with);
    sodium_free(body);
    if (st != SR_OK)
        return node_fail(st, h);
    printf("%s\n", id);
    fprintf(stderr, "queued %s %s (hotline deliver, or serve, sends it)\n",
            kind, id);
    return 0;
}

typedef struct witness_ctx {
    int forks;
} witness_ctx;

static sr_status print_witness(void *ctx, const char *peer, sr_status st,
                               int fork, const char *why)
{
    witness_ctx *w = ctx;
    if (st == SR_OK)
        printf("%s cosigned%s%s%s\n", peer, why[0] ? " (" : "", why,
               why[0] ? ")" : "");
    else if (fork) {
        printf("%s REWRITTEN OR ROLLED BACK: %s\n", peer, why);
        w->forks++;
    } else
        printf("%s not checked: %s\n", peer, why);
    return SR_OK;
}

static sr_status print_cosignature(void *ctx,
                                   const sr_hotline_cosignature_info *c)
{
    const list_ctx *l = ctx;
    if (l->json)
        /* Peer names hold no '"' or '\\'; the path is the node's own. */
        printf("{\"peer\":\"%s\",\"held\":%s,\"size\":%llu,"
               "\"file\":\"%s\"}\n",
               c->peer, c->held ? "true" : "false", c->size,
               c->held ? c->path : "");
    else if (c->held)
        printf("%s cosigned this log at size %llu (%s)\n", c->peer, c->size,
               c->path);
    else
        printf("%s has sent no cosignature\n", c->peer);
    return SR_OK;
}

static void print_time(long long t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL)
        (void)snprintf(out, 21, "-");
    else
        (void)strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static sr_status print_case(void *ctx, const sr_hotline_case_info *c)
{
    const list_ctx *l = ctx;
    char asked[21], dl[21], ans[21];
    print_time(c->requested, asked);
    print_time(c->deadline, dl);
    print_time(c->answered, ans);
    if (l->json)
        printf("{\"direction\":\"%s\",\"peer\":\"%s\",\"case\":\"%s\","
               "\"requested\":\"%s\",\"deadline\":\"%s\","
               "\"answered\":\"%s\",\"acknowledged\":%s,"
               "\"closed\":%s,\"state\":\"%s\"}\n",
               c->outgoing ? "out" : "in", c->peer, c->case_id, asked, dl, ans,
               c->acked ? "true" : "false", c->closed ? "true" : "false",
               c->state);
    else
        printf("%s %-16s %-20s requested %s deadline %s %s%s\n",
               c->outgoing ? "->" : "<-", c->peer, c->case_id, asked, dl,
               c->state, c->acked ? " (acknowledged)" : "");
    return SR_OK;
}

static sr_status print_report(void *ctx, const sr_hotline_report_row *r)
{
    const list_ctx *l = ctx;
    if (l->json)
        printf("{\"peer\":\"%s\",\"direction\":\"%s\",\"requests\":%u,"
               "\"acknowledged\":%u,\"in_time\":%u,\"late\":%u,"
               "\"overdue\":%u,\"open\":%u,\"unreceipted\":%u}\n",
               r->peer, r->outgoing ? "sent" : "received", r->requests,
               r->acked, r->in_time, r->late, r->overdue, r->open,
               r->unreceipted);
    else
        printf("%-16s %-8s requests %u, acknowledged %u, answered in time "
               "%u, late %u, overdue %u, open %u; messages not receipted "
               "%u\n",
               r->peer, r->outgoing ? "sent" : "received", r->requests,
               r->acked, r->in_time, r->late, r->overdue, r->open,
               r->unreceipted);
    return SR_OK;
}

/* "A..B": A at 00:00 UTC up to the end of B (a date) or B (a time). */
static bool parse_period(const char *p, long long *since, long long *until)
{
    char a[40], b[40];
    const char *dots = strstr(p, "..");
    uint64_t s_ns = 0, u_ns = 0;
    if (dots == NULL || (size_t)(dots - p) >= sizeof a ||
        strlen(dots + 2) >= sizeof b)
        return false;
    memcpy(a, p, (size_t)(dots - p));
    a[dots - p] = '\0';
    (void)snprintf(b, sizeof b, "%s", dots + 2);
    if (!parse_time(a, &s_ns) || !parse_time(b, &u_ns))
        return false;
    *since = (long long)(s_ns / 1000000000u);
    *until = (long long)(u_ns / 1000000000u) + (strlen(b) == 10 ? 86400 : 0);
    return *since < *until;
}

static int show(sr_hotline *h, const char *id)
{
    sr_hotline_message_info m;
    char *body = NULL;
    size_t len = 0;
    sr_status st = sr_hotline_read(h, id, &m, &body, &len);
    if (st != SR_OK)
        return node_fail(st, h);
    list_ctx c = {true, false};
    (void)print_message(&c, &m);
    fwrite(body, 1, len, stdout);
    putchar('\n');
    sr_hotline_free_body(body, len);
    return 0;
}

int cmd_hotline(int argc, char **argv)
{
    enum {
        OPT_DIR = 1,
        OPT_NAME,
        OPT_URL,
        OPT_KEY,
        OPT_JSON,
        OPT_HCASE,
        OPT_KIND,
        OPT_TLP,
        OPT_NOTE,
        OPT_REASON,
        OPT_NOW,
        OPT_CA,
        OPT_LISTEN,
        OPT_CERT,
        OPT_TLSKEY,
        OPT_INSECURE,
        OPT_INTERVAL,
        OPT_INBOX,
        OPT_PERIOD,
        OPT_TO,
        OPT_ATTACH,
        OPT_OUT,
        OPT_PERSON,
        OPT_FIELDS,
        OPT_SPURPOSE,
        OPT_VCASE,
        OPT_SAPPROVAL,
        OPT_HVAULT
    };
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"name", required_argument, NULL, OPT_NAME},
        {"url", required_argument, NULL, OPT_URL},
        {"key", required_argument, NULL, OPT_KEY},
        {"json", no_argument, NULL, OPT_JSON},
        {"case", required_argument, NULL, OPT_HCASE},
        {"kind", required_argument, NULL, OPT_KIND},
        {"tlp", required_argument, NULL, OPT_TLP},
        {"note", required_argument, NULL, OPT_NOTE},
        {"reason", required_argument, NULL, OPT_REASON},
        {"now", no_argument, NULL, OPT_NOW},
        {"ca", required_argument, NULL, OPT_CA},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_CERT},
        {"tls-key", required_argument, NULL, OPT_TLSKEY},
        {"insecure-loopback", no_argument, NULL, OPT_INSECURE},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"inbox", no_argument, NULL, OPT_INBOX},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"to", required_argument, NULL, OPT_TO},
        {"attach", required_argument, NULL, OPT_ATTACH},
        {"out", required_argument, NULL, OPT_OUT},
        {"person", required_argument, NULL, OPT_PERSON},
        {"fields", required_argument, NULL, OPT_FIELDS},
        {"purpose", required_argument, NULL, OPT_SPURPOSE},
        {"vault-case", required_argument, NULL, OPT_VCASE},
        {"approval", required_argument, NULL, OPT_SAPPROVAL},
        {"vault", required_argument, NULL, OPT_HVAULT},
        {"help", no_argument, NULL, OPT_HELP},
        {0, 0, 0, 0}};
    opts o = {.dir = getenv("STRONGROOM_HOTLINE"),
              .interval = 5,
              .vault = COMMON_INIT};
    unsigned given = 0; /* options other than --dir, by bit */
    uint64_t u = 0;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c > OPT_DIR && c <= OPT_HVAULT)
            given |= 1u << c;
        switch (c) {
        case OPT_HELP:
            fputs(help_hotline, stdout);
            fputs(help_hotline_commands, stdout);
            fputs(help_hotline_options, stdout);
            return 0;
        case OPT_DIR:
            o.dir = optarg;
            break;
        case OPT_NAME:
            o.name = optarg;
            break;
        case OPT_URL:
            o.url = optarg;
            break;
        case OPT_KEY:
            o.key = optarg;
            break;
        case OPT_JSON:
            o.json = true;
            break;
        case OPT_HCASE:
            o.case_id = optarg;
            break;
        case OPT_KIND:
            o.kind = optarg;
            break;
        case OPT_TLP:
            o.tlp = optarg;
            break;
        case OPT_NOTE:
            o.note = optarg;
            break;
        case OPT_REASON:
            o.reason = optarg;
            break;
        case OPT_NOW:
            o.now = true;
            break;
        case OPT_CA:
            o.ca = optarg;
            break;
        case OPT_LISTEN:
            o.listen = optarg;
            break;
        case OPT_CERT:
            o.tls_cert = optarg;
            break;
        case OPT_TLSKEY:
            o.tls_key = optarg;
            break;
        case OPT_INSECURE:
            o.insecure = true;
            break;
        case OPT_INTERVAL:
            if (!parse_u64(optarg, &u) || u < 1 || u > 3600)
                return fail("hotline", "--interval takes 1 to 3600 seconds");
            o.interval = (unsigned)u;
            break;
        case OPT_INBOX:
            o.inbox = true;
            break;
        case OPT_PERIOD:
            o.period = optarg;
            break;
        case OPT_TO:
            o.to = optarg;
            break;
        case OPT_ATTACH:
            if (o.nattach == sizeof o.attach / sizeof o.attach[0])
                return fail("hotline", "at most 16 --attach");
            o.attach[o.nattach++] = optarg;
            break;
        case OPT_OUT:
            o.out = optarg;
            break;
        case OPT_PERSON:
            if (!parse_people("hotline", optarg, o.people, SR_SHARE_PEOPLE_MAX,
                              &o.npeople))
                return EXIT_USAGE;
            break;
        case OPT_FIELDS:
            o.fields = optarg;
            break;
        case OPT_SPURPOSE:
            o.vault.purpose = optarg;
            break;
        case OPT_VCASE:
            o.vault.case_id = optarg;
            break;
        case OPT_SAPPROVAL:
            o.vault.approval = optarg;
            break;
        case OPT_HVAULT:
            o.vault.vault = optarg;
            break;
        default:
            return fail("hotline", "bad option; see --help");
        }
    }
    int rest = argc - optind;
    const char *sub = rest > 0 ? argv[optind] : "";
    const char *arg1 = rest > 1 ? argv[optind + 1] : "";
    const char *arg2 = rest > 2 ? argv[optind + 2] : "";
    if (o.dir == NULL || o.dir[0] == '\0')
        return fail("hotline", "give --dir DIR (or set $STRONGROOM_HOTLINE)");

        /* Each subcommand: its word(s), operands, and the options it takes. */
#define B(x) (1u << (x))
    struct {
        const char *w1, *w2;
        int operands; /* after the words */
        unsigned allowed;
    } const subs[] = {
        {"init", NULL, 0, B(OPT_NAME)},
        {"key", NULL, 0, 0},
        {"peer", "add", 1, B(OPT_URL) | B(OPT_KEY)},
        {"peer", "list", 0, B(OPT_JSON)},
        {"request", "new", 1,
         B(OPT_HCASE) | B(OPT_TLP) | B(OPT_ATTACH) | B(OPT_PERSON) |
             B(OPT_FIELDS) | B(OPT_SPURPOSE) | B(OPT_VCASE) | B(OPT_SAPPROVAL) |
             B(OPT_HVAULT)},
        {"ack", NULL, 1, B(OPT_NOTE)},
        {"respond", NULL, 1, B(OPT_ATTACH)},
        {"close", NULL, 1, B(OPT_REASON)},
        {"send", NULL, 1,
         B(OPT_HCASE) | B(OPT_KIND) | B(OPT_TLP) | B(OPT_ATTACH)},
        {"attachment", NULL, 2, B(OPT_OUT)},
        {"deliver", NULL, 0, B(OPT_NOW) | B(OPT_CA)},
        {"messages", NULL, 0, B(OPT_INBOX) | B(OPT_JSON)},
        {"inbox", NULL, 0, B(OPT_JSON)},
        {"show", NULL, 1, 0},
        {"forward", NULL, 1, B(OPT_TO) | B(OPT_HCASE)},
        {"witness", NULL, 0, B(OPT_CA)},
        {"cosignatures", NULL, 0, B(OPT_JSON)},
        {"status", NULL, 0, B(OPT_JSON)},
        {"report", NULL, 0, B(OPT_PERIOD) | B(OPT_JSON)},
        {"serve", NULL, 0,
         B(OPT_LISTEN) | B(OPT_CERT) | B(OPT_TLSKEY) | B(OPT_INSECURE) |
             B(OPT_CA) | B(OPT_INTERVAL)},
    };
#undef B
    size_t k = 0, n = sizeof subs / sizeof subs[0];
    for (; k < n; k++) {
        int words = subs[k].w2 != NULL ? 2 : 1;
        if (strcmp(sub, subs[k].w1) == 0 &&
            (subs[k].w2 == NULL || strcmp(arg1, subs[k].w2) == 0) &&
            rest == words + subs[k].operands)
            break;
    }
    if (k == n)
        return fail("hotline", "give a subcommand and its operands; see "
                               "--help");
    if ((given & ~subs[k].allowed) != 0)
        return fail("hotline", "an option that does not go with this "
                               "subcommand; see --help");
    const char *operand = subs[k].w2 != NULL ? arg2 : arg1;

    if (k == 0) { /* init */
        char pub[SR_HOTLINE_PUBLIC_MAX], msg[SR_HOTLINE_MSG_MAX];
        if (o.name == NULL)
            return fail("hotline", "init takes --name NAME");
        sr_status st = sr_hotline_init(o.dir, o.name, pub, msg);
        if (st != SR_OK) {
            fprintf(stderr, "strongroom hotline: %s\n", msg);
            return exit_for(st);
        }
        printf("%s\n", pub);
        fprintf(stderr,
                "made hotline node %s in %s; give partners the line above "
                "(also in %s/node.pub)\n",
                o.name, o.dir, o.dir);
        return 0;
    }
    if (strcmp(sub, "serve") == 0) {
        char err[SRV_ERR_MAX];
        if (o.listen == NULL)
            return fail("hotline", "serve takes --listen ADDR:PORT");
        if ((o.tls_cert == NULL) != (o.tls_key == NULL) ||
            (o.tls_cert != NULL && o.insecure) ||
            (o.tls_cert == NULL && !o.insecure))
            return fail("hotline", "serve takes --tls-cert F --tls-key F, or "
                                   "--insecure-loopback");
        hotline_serve_config cfg = {o.dir, o.listen,   o.tls_cert, o.tls_key,
                                    o.ca,  o.insecure, o.interval};
        int r = hotline_serve(&cfg, err);
        if (r != 0)
            fprintf(stderr, "strongroom hotline serve: %s\n", err);
        return r == 2 ? EXIT_USAGE : r;
    }
    if (strcmp(sub, "peer") == 0 && strcmp(arg1, "add") == 0 &&
        (o.url == NULL || o.key == NULL))
        return fail("hotline", "peer add takes NAME --url URL --key KEY");
    if ((strcmp(sub, "request") == 0 || strcmp(sub, "send") == 0) &&
        (o.case_id == NULL || o.tlp == NULL ||
         (strcmp(sub, "send") == 0 && o.kind == NULL)))
        return fail("hotline", "give --case CASE and --tlp LABEL (and, for "
                               "send, --kind KIND)");
    if (strcmp(sub, "close") == 0 && o.reason == NULL)
        return fail("hotline", "close takes --reason TEXT");
    bool share = (given & ((1u << OPT_PERSON) | (1u << OPT_FIELDS) |
                           (1u << OPT_SPURPOSE) | (1u << OPT_VCASE) |
                           (1u << OPT_SAPPROVAL) | (1u << OPT_HVAULT))) != 0;
    if (share && (o.npeople == 0 || o.fields == NULL ||
                  o.vault.purpose == NULL || o.vault.approval == NULL))
        return fail("hotline", "personal data in a referral takes --person, "
                               "--fields, --purpose and --approval");
    /* Refused before the vault is read (the library refuses it too). */
    if (share && o.tlp != NULL && strcmp(o.tlp, "TLP:AMBER+STRICT") != 0 &&
        strcmp(o.tlp, "TLP:RED") != 0)
        return fail("hotline", "a referral that carries personal data is "
                               "marked TLP:AMBER+STRICT or TLP:RED");

    sr_hotline *h = NULL;
    sr_status st = sr_hotline_open(&h, o.dir);
    int ret = 0;
    char *body = NULL;
    size_t len = 0;
    if (st != SR_OK) {
        ret = node_fail(st, h);
    } else if (strcmp(sub, "key") == 0) {
        char pub[SR_HOTLINE_PUBLIC_MAX];
        st = sr_hotline_public(h, pub);
        if (st == SR_OK)
            printf("%s\n", pub);
        else
            ret = exit_for(st);
    } else if (strcmp(sub, "peer") == 0 && strcmp(arg1, "add") == 0) {
        st = sr_hotline_peer_add(h, operand, o.url, o.key);
        if (st != SR_OK)
            ret = node_fail(st, h);
        else
            fprintf(stderr, "added peer %s at %s\n", operand, o.url);
    } else if (strcmp(sub, "peer") == 0) {
        list_ctx lc = {o.json, false};
        st = sr_hotline_peers(h, print_peer, &lc);
        if (st != SR_OK)
            ret = exit_for(st);
    } else if (strcmp(sub, "request") == 0 && share) {
        ret = with_personal_data(&o, &body, &len);
        if (ret == 0)
            ret = queue(h, operand, false, "request", &o, body, len);
    } else if (strcmp(sub, "request") == 0) {
        ret = queue(h, operand, false, "request", &o, NULL, 0);
    } else if (strcmp(sub, "send") == 0) {
        ret = queue(h, operand, false, o.kind, &o, NULL, 0);
    } else if (strcmp(sub, "respond") == 0) {
        ret = queue(h, operand, true, "response", &o, NULL, 0);
    } else if (strcmp(sub, "ack") == 0 || strcmp(sub, "close") == 0) {
        bool ack = strcmp(sub, "ack") == 0;
        if (ack && o.note == NULL) {
            body = sodium_malloc(3);
            if (body != NULL) {
                memcpy(body, "{}", 3);
                len = 2;
            }
        } else {
            body = text_body(ack ? "note" : "reason", ack ? o.note : o.reason,
                             &len);
        }
        ret = body == NULL ? exit_for(SR_ERR_NOMEM)
                           : queue(h, operand, true, ack ? "ack" : "close", &o,
                                   body, len);
    } else if (strcmp(sub, "deliver") == 0) {
        sr_hotline_delivery d;
        st = sr_hotline_deliver(h, o.now, o.ca, &d);
        if (st != SR_OK)
            ret = node_fail(st, h);
        else
            printf("delivered %u, failed %u, waiting %u\n", d.delivered,
                   d.failed, d.waiting);
    } else if (strcmp(sub, "messages") == 0 || strcmp(sub, "inbox") == 0) {
        list_ctx lc = {o.json, o.inbox || strcmp(sub, "inbox") == 0};
        st = sr_hotline_messages(h, print_message, &lc);
        if (st != SR_OK)
            ret = node_fail(st, h);
    } else if (strcmp(sub, "attachment") == 0) {
        uint64_t index = 0;
        if (o.out == NULL || !parse_u64(argv[optind + 2], &index)) {
            ret = fail("hotline", "attachment takes ID N --out FILE");
        } else {
            st = sr_hotline_attachment(h, operand, (size_t)index, o.out);
            if (st != SR_OK)
                ret = node_fail(st, h);
            else
                fprintf(stderr, "wrote %s (its size and SHA-256 checked)\n",
                        o.out);
        }
    } else if (strcmp(sub, "forward") == 0) {
        char id[SR_HOTLINE_ID_LEN + 1];
        if (o.to == NULL) {
            ret = fail("hotline", "forward takes ID --to PEER");
        } else {
            st = sr_hotline_forward(h, operand, o.to, o.case_id, id);
            if (st != SR_OK) {
                ret = node_fail(st, h);
            } else {
                printf("%s\n", id);
                fprintf(stderr, "queued %s to %s\n", id, o.to);
            }
        }
    } else if (strcmp(sub, "status") == 0) {
        list_ctx lc = {o.json, false};
        st = sr_hotline_cases(h, (long long)time(NULL), print_case, &lc);
        if (st != SR_OK)
            ret = node_fail(st, h);
    } else if (strcmp(sub, "report") == 0) {
        list_ctx lc = {o.json, false};
        long long since = 0, until = 0;
        if (o.period == NULL || !parse_period(o.period, &since, &until)) {
            ret = fail("hotline", "report takes --period START..END (dates "
                                  "YYYY-MM-DD, or times)");
        } else {
            st = sr_hotline_report(h, since, until, (long long)time(NULL),
                                   print_report, &lc);
            if (st != SR_OK)
                ret = node_fail(st, h);
        }
    } else if (strcmp(sub, "cosignatures") == 0) {
        list_ctx lc = {o.json, false};
        st = sr_hotline_cosignatures(h, print_cosignature, &lc);
        if (st != SR_OK)
            ret = node_fail(st, h);
    } else if (strcmp(sub, "witness") == 0) {
        witness_ctx w = {0};
        st = sr_hotline_witness(h, o.ca, print_witness, &w);
        if (st != SR_OK)
            ret = node_fail(st, h);
        else if (w.forks > 0)
            ret = 1;
    } else {
        ret = show(h, operand);
    }
    sr_hotline_close(h);
    return ret;
}
