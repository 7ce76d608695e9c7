/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotline.c - the strongroom hotline command: make a hotline node, print
 * its public line, add and list its partner nodes (strongroom/hotline.h).
 * Needs no vault: a node is a directory of its own.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char help_hotline[] =
    "usage: strongroom hotline init --name NAME [--dir DIR]\n"
    "       strongroom hotline key [--dir DIR]\n"
    "       strongroom hotline peer add NAME --url URL --key KEY [--dir DIR]\n"
    "       strongroom hotline peer list [--dir DIR] [--json]\n"
    "\n"
    "A hotline node exchanges case referrals with partner nodes; every\n"
    "message is signed by the sending node and encrypted to the receiving\n"
    "one (docs/hotline.md). This command makes a node and names its\n"
    "partners. Sending, receiving and the node's log are not built yet.\n"
    "\n"
    "  init       make a node in DIR (created, mode 0700): fresh keys in\n"
    "             DIR/node.key (mode 0600, never replaced); prints its\n"
    "             public line, also in DIR/node.pub, to give to partners\n"
    "  key        print the node's public line\n"
    "  peer add   add a partner: its name, the URL it is reached at, and\n"
    "             the public line it gave you (srnode1:NAME:KEYS), which\n"
    "             must be for NAME; compare it with the partner by a second\n"
    "             channel before you add it\n"
    "  peer list  the partners, one a line: name, URL, public line (or\n"
    "             JSON lines with --json)\n"
    "\n"
    "  --dir DIR    the node's directory (default $STRONGROOM_HOTLINE)\n"
    "  --name NAME  the node's name: 1-63 of a-z, 0-9, '.' and '-'\n"
    "  --url URL    https://HOST[:PORT][/PATH]; http:// only to a loopback\n"
    "               host (127.0.0.1, [::1], localhost), for tests\n"
    "  --key KEY    a partner's public line\n"
    "  --json       peer list as JSON lines\n"
    "  --help       this help\n"
    "\n"
    "Exit: 0 done; 2 usage; 10 + the status otherwise (21: DIR exists\n"
    "already; 21 also for a peer already there; 22: DIR is not a node).\n"
    "\n"
    "example: strongroom hotline init --dir ~/node --name us-cert\n"
    "         strongroom hotline peer add cn-cert --dir ~/node \\\n"
    "             --url https://hotline.cn.example:8443 --key srnode1:...\n";

typedef struct list_ctx {
    bool json;
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

int cmd_hotline(int argc, char **argv)
{
    enum { OPT_DIR = 1, OPT_NAME, OPT_URL, OPT_KEY, OPT_JSON };
    static const struct option opts[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"name", required_argument, NULL, OPT_NAME},
        {"url", required_argument, NULL, OPT_URL},
        {"key", required_argument, NULL, OPT_KEY},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, OPT_HELP},
        {0, 0, 0, 0}};
    const char *dir = getenv("STRONGROOM_HOTLINE"), *name = NULL, *url = NULL,
               *key = NULL;
    bool json = false;
    int o;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case OPT_HELP:
            fputs(help_hotline, stdout);
            return 0;
        case OPT_DIR:
            dir = optarg;
            break;
        case OPT_NAME:
            name = optarg;
            break;
        case OPT_URL:
            url = optarg;
            break;
        case OPT_KEY:
            key = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        default:
            return fail("hotline", "bad option; see --help");
        }
    }
    int rest = argc - optind;
    const char *sub = rest > 0 ? argv[optind] : "";
    const char *sub2 = rest > 1 ? argv[optind + 1] : "";
    if (dir == NULL || dir[0] == '\0')
        return fail("hotline", "give --dir DIR (or set $STRONGROOM_HOTLINE)");

    if (strcmp(sub, "init") == 0) {
        char pub[SR_HOTLINE_PUBLIC_MAX], msg[SR_HOTLINE_MSG_MAX];
        if (rest != 1 || name == NULL || url != NULL || key != NULL || json)
            return fail("hotline", "init takes --name NAME [--dir DIR]");
        sr_status st = sr_hotline_init(dir, name, pub, msg);
        if (st != SR_OK) {
            fprintf(stderr, "strongroom hotline: %s\n", msg);
            return exit_for(st);
        }
        printf("%s\n", pub);
        fprintf(stderr,
                "made hotline node %s in %s; give partners the line above "
                "(also in %s/node.pub)\n",
                name, dir, dir);
        return 0;
    }
    bool is_key = strcmp(sub, "key") == 0 && rest == 1;
    bool add =
        strcmp(sub, "peer") == 0 && strcmp(sub2, "add") == 0 && rest == 3;
    bool list =
        strcmp(sub, "peer") == 0 && strcmp(sub2, "list") == 0 && rest == 2;
    if (!is_key && !add && !list)
        return fail("hotline", "give init, key, peer add NAME or peer list; "
                               "see --help");
    if (name != NULL || (!add && (url != NULL || key != NULL)) ||
        (!list && json))
        return fail("hotline", "an option that does not go with this "
                               "subcommand; see --help");
    if (add && (url == NULL || key == NULL))
        return fail("hotline", "peer add takes NAME --url URL --key KEY");

    sr_hotline *h = NULL;
    sr_status st = sr_hotline_open(&h, dir);
    int ret = 0;
    if (st != SR_OK) {
        ret = node_fail(st, h);
    } else if (is_key) {
        char pub[SR_HOTLINE_PUBLIC_MAX];
        st = sr_hotline_public(h, pub);
        if (st == SR_OK)
            printf("%s\n", pub);
        else
            ret = exit_for(st);
    } else if (add) {
        st = sr_hotline_peer_add(h, argv[optind + 2], url, key);
        if (st != SR_OK)
            ret = node_fail(st, h);
        else
            fprintf(stderr, "added peer %s at %s\n", argv[optind + 2], url);
    } else {
        list_ctx c = {json};
        st = sr_hotline_peers(h, print_peer, &c);
        if (st != SR_OK)
            ret = exit_for(st);
    }
    sr_hotline_close(h);
    return ret;
}
