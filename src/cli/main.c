/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the strongroom command: a thin front end over the vault facade
 * (strongroom/strongroom.h). It parses arguments, gets the passphrase,
 * moves bytes between files and the library, and turns statuses into exit
 * codes (docs/cli.md). No record logic lives here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

int exit_for(sr_status st)
{
    return st == SR_OK ? 0 : EXIT_STATUS_BASE + (int)st;
}

/* stdout's buffer holds plaintext (records on their way out): keep it
 * ours, so it can be wiped at exit. */
static char out_buf[1u << 16];

static void wipe_stdout(void)
{
    (void)fflush(stdout);
    sodium_memzero(out_buf, sizeof out_buf);
}

int fail(const char *cmd, const char *msg)
{
    fprintf(stderr, "strongroom %s: %s\n", cmd, msg);
    return EXIT_USAGE;
}

int lib_fail(const char *cmd, sr_status st, const sr_vault *v)
{
    fprintf(stderr, "strongroom %s: %s\n", cmd,
            v ? sr_vault_errmsg(v) : sr_status_str(st));
    return exit_for(st);
}

/* ---- common options ----------------------------------------------------- */

bool parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* Handle a common option; false if opt is not one. */
bool common_option(common *c, int opt, const char *arg, bool *bad)
{
    uint64_t fd;
    switch (opt) {
    case OPT_VAULT:
        c->vault = arg;
        return true;
    case OPT_PASS_FD:
    case OPT_TOKEN_FD:
        if (!parse_u64(arg, &fd) || fd > INT_MAX)
            *bad = true;
        else if (opt == OPT_PASS_FD)
            c->pass_fd = (int)fd;
        else
            c->token_fd = (int)fd;
        return true;
    case OPT_PURPOSE:
        c->purpose = arg;
        return true;
    case OPT_CASE:
        c->case_id = arg;
        return true;
    case OPT_APPROVAL:
        c->approval = arg;
        return true;
    default:
        return false;
    }
}

/* ---- the passphrase ------------------------------------------------------ */

void secret_free(secret *s)
{
    if (s->p != NULL)
        sodium_free(s->p);
    s->p = NULL;
    s->len = 0;
}

bool read_fd_pass(int fd, secret *s)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, s->p + n, PASS_MAX - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return false;
        if (r == 0)
            break;
        n += (size_t)r;
        if (memchr(s->p, '\n', n) != NULL || n == PASS_MAX)
            break;
    }
    char *nl = memchr(s->p, '\n', n);
    if (nl != NULL)
        n = (size_t)(nl - s->p);
    if (n > 0 && s->p[n - 1] == '\r')
        n--;
    s->len = n;
    return true;
}

bool prompt_pass(const char *prompt, secret *s)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct termios old, quiet;
    bool have_tty = tcgetattr(fd, &old) == 0;
    if (have_tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        (void)tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    (void)!write(fd, prompt, strlen(prompt));
    bool ok = read_fd_pass(fd, s);
    if (have_tty)
        (void)tcsetattr(fd, TCSAFLUSH, &old);
    (void)!write(fd, "\n", 1);
    close(fd);
    return ok;
}

/* Get the passphrase: --passphrase-fd, $STRONGROOM_PASSPHRASE, or a prompt
 * (twice when confirm, for init). Never from the command line: arguments
 * are visible to every user through /proc. */
bool get_pass(const char *cmd, const common *c, bool confirm, secret *s)
{
    s->p = sodium_malloc(PASS_MAX + 1);
    s->len = 0;
    if (s->p == NULL) {
        fprintf(stderr, "strongroom %s: cannot allocate locked memory\n", cmd);
        return false;
    }
    const char *env = getenv("STRONGROOM_PASSPHRASE");
    bool ok;
    if (c->pass_fd >= 0) {
        ok = read_fd_pass(c->pass_fd, s);
        if (!ok)
            fprintf(
                stderr,
                "strongroom %s: cannot read the passphrase from fd %d: %s\n",
                cmd, c->pass_fd, strerror(errno));
    } else if (env != NULL) {
        size_t n = strlen(env);
        ok = n <= PASS_MAX;
        if (ok) {
            memcpy(s->p, env, n);
            s->len = n;
        } else {
            fprintf(stderr,
                    "strongroom %s: $STRONGROOM_PASSPHRASE is longer than %u "
                    "bytes\n",
                    cmd, PASS_MAX);
        }
    } else {
        ok = prompt_pass("Vault passphrase: ", s);
        if (ok && confirm) {
            secret again = {sodium_malloc(PASS_MAX + 1), 0};
            ok = again.p != NULL && prompt_pass("Again: ", &again) &&
                 again.len == s->len &&
                 sodium_memcmp(again.p, s->p, s->len) == 0;
            secret_free(&again);
            if (!ok)
                fprintf(stderr, "strongroom %s: the passphrases differ\n", cmd);
        } else if (!ok) {
            fprintf(stderr,
                    "strongroom %s: no passphrase: no terminal to ask on; use "
                    "--passphrase-fd N or $STRONGROOM_PASSPHRASE\n",
                    cmd);
        }
    }
    if (ok && s->len == 0) {
        fprintf(stderr, "strongroom %s: the passphrase is empty\n", cmd);
        ok = false;
    }
    if (!ok)
        secret_free(s);
    return ok;
}

/* The caller's API token: --token-fd N or $STRONGROOM_TOKEN. */
static bool get_token(const char *cmd, const common *c, secret *t)
{
    t->p = sodium_malloc(PASS_MAX + 1);
    t->len = 0;
    if (t->p == NULL) {
        fprintf(stderr, "strongroom %s: cannot allocate locked memory\n", cmd);
        return false;
    }
    const char *env = getenv("STRONGROOM_TOKEN");
    bool ok = true;
    if (c->token_fd >= 0) {
        ok = read_fd_pass(c->token_fd, t);
        if (!ok)
            fprintf(stderr,
                    "strongroom %s: cannot read the token from fd %d: %s\n",
                    cmd, c->token_fd, strerror(errno));
    } else if (env != NULL && strlen(env) <= PASS_MAX) {
        t->len = strlen(env);
        memcpy(t->p, env, t->len);
    }
    if (ok && t->len == 0) {
        fprintf(stderr,
                "strongroom %s: no API token: set $STRONGROOM_TOKEN or give "
                "--token-fd N (init prints the administrator's; 'strongroom "
                "token create' makes more)\n",
                cmd);
        ok = false;
    }
    if (!ok)
        secret_free(t);
    return ok;
}

int open_vault_as(const char *cmd, const common *c, unsigned flags, bool auth,
                  sr_vault **v)
{
    secret pass, token = {NULL, 0};
    *v = NULL;
    if (c->vault == NULL)
        return fail(cmd, "no vault: give --vault DIR or set STRONGROOM_VAULT");
    if (auth && !get_token(cmd, c, &token))
        return EXIT_USAGE;
    if (!get_pass(cmd, c, false, &pass)) {
        secret_free(&token);
        return EXIT_USAGE;
    }
    sr_status st = sr_vault_open(v, c->vault, pass.p, pass.len, flags);
    secret_free(&pass);
    if (st == SR_OK && auth)
        st = sr_vault_authenticate(*v, token.p, token.len);
    secret_free(&token);
    if (st != SR_OK) {
        int code = lib_fail(cmd, st, *v);
        sr_vault_close(*v);
        *v = NULL;
        return code;
    }
    return 0;
}

int open_vault(const char *cmd, const common *c, unsigned flags, sr_vault **v)
{
    return open_vault_as(cmd, c, flags, true, v);
}

bool parse_people(const char *cmd, const char *list,
                  uint8_t (*ids)[SR_ID_BYTES], size_t max, size_t *n)
{
    for (const char *s = list;; s++) {
        const char *end = strchr(s, ',');
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        size_t got = 0;
        if (*n == max) {
            fprintf(stderr, "strongroom %s: at most %zu people\n", cmd, max);
            return false;
        }
        if (len != SR_ID_STR_LEN ||
            sodium_hex2bin(ids[*n], SR_ID_BYTES, s, len, NULL, &got, NULL) !=
                0 ||
            got != SR_ID_BYTES) {
            fprintf(stderr,
                    "strongroom %s: a person id is %d hexadecimal digits\n",
                    cmd, SR_ID_STR_LEN);
            return false;
        }
        (*n)++;
        if (end == NULL)
            return true;
        s = end;
    }
}

bool parse_duration(const char *s, uint64_t *secs)
{
    static const struct {
        char unit;
        uint64_t mul;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    char num[24];
    size_t n = s != NULL ? strlen(s) : 0;
    uint64_t mul = 1, v;
    if (n == 0 || n >= sizeof num)
        return false;
    memcpy(num, s, n + 1);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (num[n - 1] == units[i].unit) {
            mul = units[i].mul;
            num[--n] = '\0';
        }
    }
    if (!parse_u64(num, &v) || v == 0 || v > UINT64_MAX / mul ||
        v * mul > 100ull * 365 * 86400)
        return false;
    *secs = v * mul;
    return true;
}

/* On a terminal, say which audit entry recorded the access: the receipt
 * an auditor can ask an inclusion proof for. */
static void receipt(const sr_vault *v)
{
    uint64_t e = sr_vault_last_entry(v);
    if (e != UINT64_MAX && isatty(STDERR_FILENO))
        fprintf(stderr, "(recorded as audit entry %" PRIu64 ")\n", e);
}

/* Read all of stdin (at most STDIN_MAX bytes) into locked memory. */
bool read_stdin(const char *cmd, char **out, size_t *len)
{
    size_t cap = STDIN_MAX, n = 0;
    char *p = sodium_malloc(cap);
    if (p == NULL) {
        fprintf(stderr, "strongroom %s: cannot allocate memory\n", cmd);
        return false;
    }
    for (;;) {
        ssize_t r = read(STDIN_FILENO, p + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "strongroom %s: cannot read stdin: %s\n", cmd,
                    strerror(errno));
            sodium_free(p);
            return false;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            fprintf(stderr, "strongroom %s: stdin is larger than %u bytes\n",
                    cmd, STDIN_MAX);
            sodium_free(p);
            return false;
        }
    }
    *out = p;
    *len = n;
    return true;
}

bool read_small_file(const char *path, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || (n += (size_t)r) == cap - 1)
            break;
    }
    close(fd);
    if (n == cap - 1 || memchr(buf, '\0', n) != NULL) {
        errno = EFBIG;
        return false;
    }
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return true;
}

sr_status print_line(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF)
        return SR_ERR_IO;
    return SR_OK;
}

/* ---- commands ------------------------------------------------------------ */

const command *find_command(const char *name);

/* Parse the common options only; positional arguments stay in argv from
 * optind. Returns -1 to go on, else an exit code. */
int parse_simple(const char *cmd, int argc, char **argv, common *c)
{
    static const struct option opts[] = {
        COMMON_OPTIONS, ACCESS_OPTIONS, {0, 0, 0, 0}};
    int o;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(find_command(cmd)->help, stdout);
            return 0;
        }
        if (!common_option(c, o, optarg, &bad) || bad)
            return fail(cmd, "bad option; see --help");
    }
    return -1;
}

bool out_begin(const char *cmd, const char *out, char tmp[PATH_MAX])
{
    if (out == NULL)
        return true;
    int w = snprintf(tmp, PATH_MAX, "%s.partial", out);
    int fd = w > 0 && w < PATH_MAX
                 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
                 : -1;
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        fprintf(stderr, "strongroom %s: cannot create %s: %s\n", cmd, tmp,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

sr_status out_end(const char *out, const char *tmp, sr_status st)
{
    if (st == SR_OK &&
        (fflush(stdout) != 0 || (out != NULL && fsync(STDOUT_FILENO) != 0)))
        st = SR_ERR_IO;
    if (st == SR_OK && out != NULL && rename(tmp, out) != 0)
        st = SR_ERR_IO;
    if (st != SR_OK && out != NULL)
        (void)unlink(tmp);
    return st;
}

static const char help_init[] =
    "usage: strongroom init [--kdf PROFILE] [--expected-people N]\n"
    "                       [--admin NAME] [--log-origin ORIGIN]\n"
    "                       [--decoy-every N | --no-decoys]\n"
    "                       [--store CONNINFO]\n"
    "\n"
    "Create a new vault in --vault DIR (new or empty): a random root key,\n"
    "sealed under the passphrase with Argon2id, an empty store, the default\n"
    "policy (docs/policy.md), an empty audit log with its verifier key in\n"
    "DIR/log.vkey, and the first administrator. The administrator's API\n"
    "token is printed once, on stdout: keep it (only its hash is stored).\n"
    "\n"
    "  --admin NAME           the administrator's name (default admin)\n"
    "  --log-origin ORIGIN    the audit log's name in its checkpoints\n"
    "                         (default strongroom/<vault id>)\n"
    "  --kdf PROFILE          moderate (default: 256 MiB, 3 passes),\n"
    "                         interactive (64 MiB, 2) or sensitive (1 GiB, 4)\n"
    "  --expected-people N    size the blind indexes for N people, so that\n"
    "                         2 to 4 people share each index value at that "
    "size\n"
    "                         (default 25000000; see "
    "docs/crypto.md)\n"
    "  --decoy-every N        decoy people: the vault starts with one, and\n"
    "                         each person stored brings another with\n"
    "                         chance 1/N (default 10000). Reading a decoy\n"
    "                         freezes the reader (docs/policy.md)\n"
    "  --no-decoys            no decoy people at all\n"
    "  --store CONNINFO       keep the people in a PostgreSQL 15 database\n"
    "                         (or $STRONGROOM_STORE): a libpq connection\n"
    "                         string, e.g. \"host=/run/postgresql dbname=sr\"\n"
    "                         or postgresql://db.example/sr, for an empty\n"
    "                         database. Kept in DIR/store, so without a\n"
    "                         password: use ~/.pgpass. Default: SQLite, in\n"
    "                         DIR/vault.db (docs/storage.md)\n" COMMON_HELP
    "\nexample: STRONGROOM_VAULT=/srv/vault strongroom init --expected-people "
    "1000000\n";

static int cmd_init(int argc, char **argv)
{
    enum {
        OPT_KDF = 1,
        OPT_EXPECTED,
        OPT_ADMIN,
        OPT_ORIGIN,
        OPT_DECOY_EVERY,
        OPT_NO_DECOYS,
        OPT_STORE
    };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        {"kdf", required_argument, NULL, OPT_KDF},
        {"decoy-every", required_argument, NULL, OPT_DECOY_EVERY},
        {"no-decoys", no_argument, NULL, OPT_NO_DECOYS},
        {"expected-people", required_argument, NULL, OPT_EXPECTED},
        {"admin", required_argument, NULL, OPT_ADMIN},
        {"log-origin", required_argument, NULL, OPT_ORIGIN},
        {"store", required_argument, NULL, OPT_STORE},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    sr_init_options io = {SR_KDF_MODERATE, 0, NULL, 0, NULL, 0, NULL};
    io.store = getenv("STRONGROOM_STORE");
    char token[SR_TOKEN_MAX];
    int o;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_init, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        if (o == OPT_KDF) {
            if (strcmp(optarg, "moderate") == 0)
                io.kdf = SR_KDF_MODERATE;
            else if (strcmp(optarg, "interactive") == 0)
                io.kdf = SR_KDF_INTERACTIVE;
            else if (strcmp(optarg, "sensitive") == 0)
                io.kdf = SR_KDF_SENSITIVE;
            else
                return fail("init",
                            "--kdf is moderate, interactive or sensitive");
        } else if (o == OPT_ADMIN) {
            io.admin_name = optarg;
        } else if (o == OPT_ORIGIN) {
            io.log_origin = optarg;
        } else if (o == OPT_DECOY_EVERY) {
            uint64_t n = 0;
            if (!parse_u64(optarg, &n) || n == 0 || n >= SR_DECOYS_NONE)
                return fail("init", "--decoy-every takes a positive number "
                                    "(or give --no-decoys)");
            io.decoy_every = (uint32_t)n;
        } else if (o == OPT_NO_DECOYS) {
            io.decoy_every = SR_DECOYS_NONE;
        } else if (o == OPT_STORE) {
            io.store = optarg;
        } else if (o == OPT_EXPECTED) {
            if (!parse_u64(optarg, &io.expected_people) ||
                io.expected_people == 0)
                return fail("init",
                            "--expected-people takes a positive number");
        } else {
            return fail("init", "bad option; see --help");
        }
    }
    if (bad || optind != argc)
        return fail("init", "bad arguments; see --help");
    if (c.vault == NULL)
        return fail("init",
                    "no vault: give --vault DIR or set STRONGROOM_VAULT");
    secret pass;
    if (!get_pass("init", &c, true, &pass))
        return EXIT_USAGE;
    sr_vault *v = NULL;
    sr_status st = sr_vault_create(&v, c.vault, pass.p, pass.len, &io, token);
    secret_free(&pass);
    int code = st == SR_OK ? 0 : lib_fail("init", st, v);
    if (st == SR_OK) {
        sr_vault_stats s;
        if (sr_vault_stats_get(v, &s) == SR_OK)
            fprintf(stderr,
                    "created vault %s (id %s)\n"
                    "the administrator %s's API token follows on stdout; it "
                    "is shown only now\n",
                    c.vault, s.vault_id, sr_vault_principal(v));
        printf("%s\n", token);
    }
    sodium_memzero(token, sizeof token);
    sr_vault_close(v);
    return code;
}

static const char help_put[] =
    "usage: strongroom put --purpose P < person.json\n"
    "\n"
    "Store one person, given on stdin in the exchange form\n"
    "(docs/formats/person.schema.json), and print its new id.\n" ACCESS_HELP
        COMMON_HELP
    "\nexample: strongroom put --purpose hr-action < alice.json\n";

static int cmd_put(int argc, char **argv)
{
    common c = COMMON_INIT;
    int r = parse_simple("put", argc, argv, &c);
    if (r >= 0)
        return r;
    if (optind != argc)
        return fail("put", "put takes no arguments; the person comes on stdin");
    char *in;
    size_t len;
    sr_vault *v;
    if (!read_stdin("put", &in, &len))
        return EXIT_USAGE;
    r = open_vault("put", &c, SR_OPEN_WRITE, &v);
    if (r == 0) {
        char id[SR_ID_STR_LEN + 1];
        sr_access acc = {c.purpose, c.case_id, c.approval};
        sr_status st = sr_vault_put(v, &acc, in, len, id);
        if (st == SR_OK)
            printf("%s\n", id);
        else
            r = lib_fail("put", st, v);
    }
    sodium_free(in);
    sr_vault_close(v);
    return r;
}

static const char help_get[] =
    "usage: strongroom get ID --purpose P [--case CASE] [--class CLASS]...\n"
    "\n"
    "Print one person in the exchange form: the field classes your role may\n"
    "read, or with --class only those (identity, name, contact, employment,\n"
    "investigation, biometric). The read is recorded in the audit log\n"
    "before anything is shown.\n" ACCESS_HELP COMMON_HELP
    "\nexample: strongroom get 3f2a...c9 --purpose adjudication --case "
    "C-2026-17 --class name\n";

static int cmd_get(int argc, char **argv)
{
    enum { OPT_CLASS = 1 };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        ACCESS_OPTIONS,
        {"class", required_argument, NULL, OPT_CLASS},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    unsigned mask = 0;
    int o;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_get, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        sr_class cls;
        if (o != OPT_CLASS || sr_class_parse(optarg, &cls) != SR_OK)
            return fail("get", "--class is identity, name, contact, "
                               "employment, investigation or biometric");
        mask |= SR_CLASS_BIT(cls);
    }
    if (bad || optind != argc - 1)
        return fail("get", "give exactly one person id; see --help");
    sr_vault *v;
    int r = open_vault("get", &c, SR_OPEN_READ, &v);
    if (r != 0)
        return r;
    char *json = NULL;
    size_t len = 0;
    sr_access acc = {c.purpose, c.case_id, c.approval};
    sr_status st = sr_vault_get(v, &acc, argv[optind], mask, &json, &len);
    if (st == SR_OK) {
        r = print_line(NULL, json, len) == SR_OK ? 0 : exit_for(SR_ERR_IO);
        receipt(v);
    } else {
        r = lib_fail("get", st, v);
    }
    sr_secret_free(json);
    sr_vault_close(v);
    return r;
}

static const char help_find[] =
    "usage: strongroom find --ssn SSN --purpose P [--case CASE]\n"
    "       strongroom find --name FAMILY --dob YYYY-MM-DD --purpose P ...\n"
    "\n"
    "Print one JSON line {\"id\":...,\"name\":{...}} per matching person;\n"
    "nothing (and exit 0) when nobody matches. Family names match current\n"
    "and former names, ignoring case, spaces, punctuation and accents.\n"
    "A caseload role (investigators) sees only people on its case. The\n"
    "search and the people found are recorded in the audit log "
    "first.\n" ACCESS_HELP COMMON_HELP
    "\nexamples: strongroom find --ssn 123-45-6789 --purpose hr-action\n"
    "          strongroom find --name \"o'brien\" --dob 1971-03-09 \\\n"
    "                          --purpose initial-investigation --case C-17\n";

static int cmd_find(int argc, char **argv)
{
    enum { OPT_SSN = 1, OPT_NAME, OPT_DOB };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        ACCESS_OPTIONS,
        {"ssn", required_argument, NULL, OPT_SSN},
        {"name", required_argument, NULL, OPT_NAME},
        {"dob", required_argument, NULL, OPT_DOB},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    const char *ssn = NULL, *name = NULL, *dob = NULL;
    int o;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_find, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        if (o == OPT_SSN)
            ssn = optarg;
        else if (o == OPT_NAME)
            name = optarg;
        else if (o == OPT_DOB)
            dob = optarg;
        else
            return fail("find", "bad option; see --help");
    }
    if (bad || optind != argc ||
        !((ssn && !name && !dob) || (!ssn && name && dob)))
        return fail("find", "give --ssn, or --name with --dob; see --help");
    sr_vault *v;
    int r = open_vault("find", &c, SR_OPEN_READ, &v);
    if (r != 0)
        return r;
    sr_access acc = {c.purpose, c.case_id, c.approval};
    sr_status st = ssn ? sr_vault_find_ssn(v, &acc, ssn, print_line, NULL, NULL)
                       : sr_vault_find_name_dob(v, &acc, name, dob, print_line,
                                                NULL, NULL);
    r = st == SR_OK ? 0 : lib_fail("find", st, v);
    if (st == SR_OK)
        receipt(v);
    sr_vault_close(v);
    return r;
}

static const char help_update[] =
    "usage: strongroom update ID --purpose P [--case CASE] < patch.json\n"
    "\n"
    "Apply a JSON merge patch (RFC 7386) from stdin to one person; null\n"
    "removes a member. The result must still be a valid person.\n" ACCESS_HELP
        COMMON_HELP
    "\nexample: echo '{\"sex\":null,\"phones\":[\"+1 202 555 0100\"]}' | "
    "strongroom update 3f2a...c9\n";

static int cmd_update(int argc, char **argv)
{
    common c = COMMON_INIT;
    int r = parse_simple("update", argc, argv, &c);
    if (r >= 0)
        return r;
    if (optind != argc - 1)
        return fail("update", "give exactly one person id; see --help");
    char *in;
    size_t len;
    sr_vault *v;
    if (!read_stdin("update", &in, &len))
        return EXIT_USAGE;
    r = open_vault("update", &c, SR_OPEN_WRITE, &v);
    if (r == 0) {
        sr_access acc = {c.purpose, c.case_id, c.approval};
        sr_status st = sr_vault_update(v, &acc, argv[optind], in, len);
        if (st != SR_OK)
            r = lib_fail("update", st, v);
    }
    sodium_free(in);
    sr_vault_close(v);
    return r;
}

/* ---- import with a progress bar ------------------------------------------ */

typedef struct progress {
    uint64_t start_ns;
    bool shown;
} progress;

uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void show_progress(void *ctx, const sr_import_progress *p)
{
    progress *pg = ctx;
    double secs = (double)(mono_ns() - pg->start_ns) / 1e9;
    double done =
        p->bytes_total ? (double)p->bytes_done / (double)p->bytes_total : 0.0;
    double rate = secs > 0 ? (double)p->lines / secs : 0.0;
    char bar[31];
    unsigned fill = (unsigned)(done * 30.0);
    for (unsigned i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    if (p->bytes_total) {
        double eta = done > 0 ? secs * (1.0 - done) / done : 0.0;
        fprintf(stderr,
                "\r[%s] %5.1f%%  %" PRIu64 " stored  %" PRIu64
                " rejected  %.0f/s  ETA %u:%02u ",
                bar, done * 100.0, p->stored, p->rejected, rate,
                (unsigned)(eta / 60), (unsigned)eta % 60);
    } else {
        fprintf(stderr, "\r%" PRIu64 " lines  %" PRIu64 " stored  %.0f/s ",
                p->lines, p->stored, rate);
    }
    pg->shown = true;
}

static const char help_import[] =
    "usage: strongroom import FILE --purpose P [--format jsonl|csv]\n"
    "                         [--rejects FILE] [--threads N] [--batch N]\n"
    "                         [--quiet]\n"
    "\n"
    "Import people from a JSONL file (one person per line in the exchange\n"
    "form) or a CSV file (the subset in docs/csv.md); FILE - is stdin.\n"
    "Invalid lines are rejected and listed, by line number and reason, in the\n"
    "reject file (default FILE.rejects; never the data itself). A person "
    "whose\n"
    "SSN is already stored with the same content is skipped, so re-running an\n"
    "interrupted import resumes it. Shows a progress bar on a terminal.\n"
    "Exit 0 if every line was stored or skipped, 1 if some were rejected.\n"
    "\n"
    "  --format F     jsonl or csv (default: from the file name)\n"
    "  --rejects F    where to list rejected lines\n"
    "  --threads N    workers that parse and encrypt (default: one per core)\n"
    "  --batch N      people per transaction (default 50000)\n"
    "  --quiet        no progress bar\n" ACCESS_HELP COMMON_HELP
    "\nexample: strongroom import people.jsonl --purpose hr-action\n";

static int cmd_import(int argc, char **argv)
{
    enum { OPT_FORMAT = 1, OPT_REJECTS, OPT_THREADS, OPT_BATCH, OPT_QUIET };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        ACCESS_OPTIONS,
        {"format", required_argument, NULL, OPT_FORMAT},
        {"rejects", required_argument, NULL, OPT_REJECTS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    sr_import_options io = {SR_FORMAT_AUTO, NULL, 0, 0, NULL, NULL};
    bool quiet = false, bad = false;
    uint64_t n;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_import, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        switch (o) {
        case OPT_FORMAT:
            if (strcmp(optarg, "jsonl") == 0)
                io.format = SR_FORMAT_JSONL;
            else if (strcmp(optarg, "csv") == 0)
                io.format = SR_FORMAT_CSV;
            else
                return fail("import", "--format is jsonl or csv");
            break;
        case OPT_REJECTS:
            io.reject_path = optarg;
            break;
        case OPT_THREADS:
            if (!parse_u64(optarg, &n) || n == 0 || n > 64)
                return fail("import", "--threads takes 1 to 64");
            io.threads = (unsigned)n;
            break;
        case OPT_BATCH:
            if (!parse_u64(optarg, &n) || n == 0 || n > 10000000)
                return fail("import", "--batch takes 1 to 10000000");
            io.batch = (size_t)n;
            break;
        case OPT_QUIET:
            quiet = true;
            break;
        default:
            return fail("import", "bad option; see --help");
        }
    }
    if (bad || optind != argc - 1)
        return fail("import", "give exactly one input file; see --help");
    const char *path = argv[optind];
    char rejects[PATH_MAX];
    if (io.reject_path == NULL) {
        int w = snprintf(rejects, sizeof rejects, "%s.rejects",
                         strcmp(path, "-") == 0 ? "stdin" : path);
        if (w < 0 || (size_t)w >= sizeof rejects)
            return fail("import", "the input path is too long");
        io.reject_path = rejects;
    }
    progress pg = {mono_ns(), false};
    if (!quiet && isatty(STDERR_FILENO)) {
        io.progress = show_progress;
        io.progress_ctx = &pg;
    }
    sr_vault *v;
    int r = open_vault("import", &c, SR_OPEN_WRITE, &v);
    if (r != 0)
        return r;
    sr_import_summary sum;
    sr_access acc = {c.purpose, c.case_id, c.approval};
    sr_status st = sr_vault_import(v, &acc, path, &io, &sum);
    if (pg.shown)
        fputc('\n', stderr);
    double secs = (double)(mono_ns() - pg.start_ns) / 1e9;
    fprintf(stderr,
            "%" PRIu64 " lines: %" PRIu64 " stored, %" PRIu64
            " already stored (skipped), %" PRIu64 " rejected, in %.1f s\n",
            sum.lines, sum.stored, sum.skipped, sum.rejected, secs);
    if (sum.rejected > 0)
        fprintf(stderr, "rejected lines are listed in %s\n", io.reject_path);
    if (st != SR_OK)
        r = lib_fail("import", st, v);
    else
        r = sum.rejected ? EXIT_REJECTS : 0;
    sr_vault_close(v);
    return r;
}

static const char help_export[] =
    "usage: strongroom export --purpose P [--out FILE]\n"
    "\n"
    "Write every person in the exchange form, one JSON line each, to stdout\n"
    "or FILE (created with mode 0600; replaced only when complete): the\n"
    "classes your role may read. Each group of 256 people is recorded in\n"
    "the audit log before it is written.\n" ACCESS_HELP COMMON_HELP
    "\nexample: strongroom export --purpose audit --out backup.jsonl\n";

static int cmd_export(int argc, char **argv)
{
    enum { OPT_OUT = 1 };
    static const struct option opts[] = {
        COMMON_OPTIONS,
        ACCESS_OPTIONS,
        {"out", required_argument, NULL, OPT_OUT},
        {0, 0, 0, 0}};
    common c = COMMON_INIT;
    const char *out = NULL;
    int o;
    bool bad = false;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_export, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        if (o != OPT_OUT)
            return fail("export", "bad option; see --help");
        out = optarg;
    }
    if (bad || optind != argc)
        return fail("export", "bad arguments; see --help");
    sr_vault *v;
    int r = open_vault("export", &c, SR_OPEN_READ, &v);
    if (r != 0)
        return r;
    char tmp[PATH_MAX];
    if (!out_begin("export", out, tmp)) {
        sr_vault_close(v);
        return exit_for(SR_ERR_IO);
    }
    uint64_t count = 0;
    sr_access acc = {c.purpose, c.case_id, c.approval};
    sr_status st =
        out_end(out, tmp, sr_vault_export(v, &acc, print_line, NULL, &count));
    if (st != SR_OK) {
        r = lib_fail("export", st, v);
    } else {
        fprintf(stderr, "exported %" PRIu64 " people\n", count);
    }
    sr_vault_close(v);
    return r;
}

static const char help_gen[] =
    "usage: strongroom gen --count N [--seed S] [--start I] [--format "
    "jsonl|csv]\n"
    "\n"
    "Write N synthetic people (valid against the exchange schema) to stdout:\n"
    "realistic names, addresses, employment and investigations, valid and\n"
    "distinct SSNs, random fingerprint templates. Person I of seed S is\n"
    "always the same, so --start I --count N makes any slice. Needs no\n"
    "vault and takes constant memory.\n"
    "\n"
    "  --count N      how many people\n"
    "  --seed S       the population (default 1)\n"
    "  --start I      the first person's number (default 0)\n"
    "  --format F     jsonl (default) or csv (the subset in docs/csv.md)\n"
    "  --help         this help\n"
    "\nexample: strongroom gen --count 100000 --seed 7 > people.jsonl\n";

static int cmd_gen(int argc, char **argv)
{
    enum { OPT_COUNT = 1, OPT_SEED, OPT_START, OPT_FORMAT };
    static const struct option opts[] = {
        {"count", required_argument, NULL, OPT_COUNT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"start", required_argument, NULL, OPT_START},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, OPT_HELP},
        {0, 0, 0, 0}};
    uint64_t count = 0, seed = 1, start = 0;
    bool have_count = false, csv = false;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case OPT_HELP:
            fputs(help_gen, stdout);
            return 0;
        case OPT_COUNT:
            if (!parse_u64(optarg, &count))
                return fail("gen", "--count takes a number");
            have_count = true;
            break;
        case OPT_SEED:
            if (!parse_u64(optarg, &seed))
                return fail("gen", "--seed takes a number");
            break;
        case OPT_START:
            if (!parse_u64(optarg, &start))
                return fail("gen", "--start takes a number");
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "csv") == 0)
                csv = true;
            else if (strcmp(optarg, "jsonl") != 0)
                return fail("gen", "--format is jsonl or csv");
            break;
        default:
            return fail("gen", "bad option; see --help");
        }
    }
    if (!have_count || optind != argc)
        return fail("gen", "give --count N; see --help");
    if (start > UINT64_MAX - count)
        return fail("gen", "--start plus --count is too large");
    sr_gen *g;
    sr_status st = sr_gen_new(&g, seed);
    if (st != SR_OK)
        return lib_fail("gen", st, NULL);
    if (csv && printf("%s\n", sr_gen_csv_header()) < 0)
        st = SR_ERR_IO;
    for (uint64_t i = start; i < start + count && st == SR_OK; i++) {
        const char *line;
        size_t len;
        st = csv ? sr_gen_person_csv(g, i, &line, &len)
                 : sr_gen_person_json(g, i, &line, &len);
        if (st == SR_OK)
            st = print_line(NULL, line, len);
    }
    if (st == SR_OK && fflush(stdout) != 0)
        st = SR_ERR_IO;
    sr_gen_free(g);
    if (st != SR_OK) {
        fprintf(stderr, "strongroom gen: %s\n",
                st == SR_ERR_IO ? strerror(errno) : sr_status_str(st));
        return exit_for(st);
    }
    return 0;
}

static const char help_stats[] =
    "usage: strongroom stats [--json]\n"
    "\n"
    "Counts, sizes and key versions of the vault; never an "
    "identifier.\n" COMMON_HELP
    "  --json               one JSON object instead of text\n"
    "\nexample: strongroom stats --json\n";

static int cmd_stats(int argc, char **argv)
{
    enum { OPT_JSON = 1 };
    static const struct option opts[] = {
        COMMON_OPTIONS, {"json", no_argument, NULL, OPT_JSON}, {0, 0, 0, 0}};
    common c = COMMON_INIT;
    bool json = false, bad = false;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            fputs(help_stats, stdout);
            return 0;
        }
        if (common_option(&c, o, optarg, &bad))
            continue;
        if (o != OPT_JSON)
            return fail("stats", "bad option; see --help");
        json = true;
    }
    if (bad || optind != argc)
        return fail("stats", "bad arguments; see --help");
    sr_vault *v;
    int r = open_vault("stats", &c, SR_OPEN_READ, &v);
    if (r != 0)
        return r;
    sr_vault_stats s;
    sr_status st = sr_vault_stats_get(v, &s);
    if (st != SR_OK) {
        r = lib_fail("stats", st, v);
        sr_vault_close(v);
        return r;
    }
    double per =
        s.people ? (double)(s.db_bytes + s.wal_bytes) / (double)s.people : 0.0;
    if (json) {
        printf(
            "{\"vault_id\":\"%s\",\"people\":%" PRIu64
            ",\"index_entries\":%" PRIu64 ",\"db_bytes\":%" PRIu64
            ",\"wal_bytes\":%" PRIu64 ",\"ciphertext_bytes\":%" PRIu64
            ",\"bytes_per_person\":%.1f,\"schema_version\":%u"
            ",\"kek_version\":%u,\"index_bits\":%u,\"expected_people\":%" PRIu64
            ",\"kdf\":{\"alg\":\"argon2id13\",\"opslimit\":%" PRIu64
            ",\"memlimit\":%" PRIu64 "},\"people_by_kek_version\":{",
            s.vault_id, s.people, s.index_entries, s.db_bytes, s.wal_bytes,
            s.ciphertext_bytes, per, s.schema_version, s.kek_version,
            s.index_bits, s.expected_people, s.kdf_opslimit, s.kdf_memlimit);
        bool first = true;
        for (unsigned i = 0; i < 8; i++) {
            if (s.people_by_kek[i] == 0)
                continue;
            printf("%s\"%u\":%" PRIu64, first ? "" : ",", i + 1,
                   s.people_by_kek[i]);
            first = false;
        }
        printf("}}\n");
    } else {
        printf("vault id:           %s\n"
               "people:             %" PRIu64 "\n"
               "index entries:      %" PRIu64 "\n"
               "database bytes:     %" PRIu64 " (+ %" PRIu64 " in the WAL)\n"
               "ciphertext bytes:   %" PRIu64 "\n"
               "bytes per person:   %.1f\n"
               "schema version:     %u\n"
               "key version:        %u (KEK)\n"
               "index bits:         %u (sized for %" PRIu64 " people)\n"
               "passphrase KDF:     Argon2id, %" PRIu64 " passes, %" PRIu64
               " MiB\n",
               s.vault_id, s.people, s.index_entries, s.db_bytes, s.wal_bytes,
               s.ciphertext_bytes, per, s.schema_version, s.kek_version,
               s.index_bits, s.expected_people, s.kdf_opslimit,
               s.kdf_memlimit >> 20);
        for (unsigned i = 0; i < 8; i++)
            if (s.people_by_kek[i])
                printf("people on key v%u:  %" PRIu64 "\n", i + 1,
                       s.people_by_kek[i]);
    }
    sr_vault_close(v);
    return 0;
}

static const command commands[] = {
    {"init", "create a vault", help_init, cmd_init},
    {"put", "store one person from stdin", help_put, cmd_put},
    {"get", "print one person", help_get, cmd_get},
    {"find", "search by SSN, or family name and birth date", help_find,
     cmd_find},
    {"update", "apply a JSON merge patch to one person", help_update,
     cmd_update},
    {"import", "import a JSONL or CSV file", help_import, cmd_import},
    {"export", "write every person as JSONL", help_export, cmd_export},
    {"gen", "write a synthetic population", help_gen, cmd_gen},
    {"stats", "counts, sizes and key versions", help_stats, cmd_stats},
    {"user", "add, list and disable principals", help_user, cmd_user},
    {"principal", "freeze and unfreeze principals", help_principal,
     cmd_principal},
    {"decoy", "list the decoy people (security officer)", help_decoy,
     cmd_decoy},
    {"approval", "ask for, give and list two-person approvals", help_approval,
     cmd_approval},
    {"breach", "report who and what a breach revealed; write to them",
     help_breach, cmd_breach},
    {"shred", "destroy one person for good (crypto-shredding)", help_shred,
     cmd_shred},
    {"retention", "destroy everyone past the policy's retention",
     help_retention, cmd_retention},
    {"backup", "back up, and restore, without the shredded", help_backup,
     cmd_backup},
    {"store", "compact the vault's file, or move it onto PostgreSQL",
     help_store, cmd_store},
    {"token", "create, list and revoke API tokens", help_token, cmd_token},
    {"login", "sign in with a passphrase; prints a token", help_login,
     cmd_login},
    {"case", "open cases, assign them, put people on them", help_case,
     cmd_case},
    {"policy", "show or replace the access policy", help_policy, cmd_policy},
    {"audit", "checkpoints, proofs, entries; verify the log", help_audit,
     cmd_audit},
    {"witness", "cosign a log's checkpoints after checking them", help_witness,
     cmd_witness},
    {"hotline", "a node of the case exchange with partners: keys, peers",
     help_hotline, cmd_hotline},
    {"serve", "serve the vault over HTTPS (the /v1 API and the log)",
     help_serve, cmd_serve},
};

const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: strongroom COMMAND [OPTIONS]\n\n"
            "Strongroom %s: personnel and investigation records, every\n"
            "field class sealed under each person's own key.\n\n"
            "commands:\n",
            SR_VERSION_STRING);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'strongroom COMMAND --help' explains one command.\n"
               "The vault is --vault DIR or $STRONGROOM_VAULT; the passphrase\n"
               "comes from --passphrase-fd N, $STRONGROOM_PASSPHRASE or a\n"
               "prompt, never from the command line; your API token from\n"
               "--token-fd N or $STRONGROOM_TOKEN. Reads need --purpose (and\n"
               "--case for investigations); every access is recorded in the\n"
               "vault's audit log. Exit codes: docs/cli.md.\n");
}

int main(int argc, char **argv)
{
    /* A core dump would hold keys and plaintext. */
    struct rlimit no_core = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &no_core);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf) != 0 ||
        atexit(wipe_stdout) != 0)
        return EXIT_STATUS_BASE + SR_ERR_INTERNAL;
    if (sr_init() != SR_OK) {
        fputs("strongroom: libsodium failed to start\n", stderr);
        return EXIT_STATUS_BASE + SR_ERR_INTERNAL;
    }
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("strongroom %s\n", SR_VERSION_STRING);
        return 0;
    }
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], "--passphrase=", 13) == 0 ||
            strcmp(argv[i], "--passphrase") == 0 ||
            strncmp(argv[i], "--token=", 8) == 0 ||
            strcmp(argv[i], "--token") == 0) {
            fputs("strongroom: a passphrase or token is never taken from the "
                  "command line (other users can read it); use "
                  "--passphrase-fd N / $STRONGROOM_PASSPHRASE or --token-fd "
                  "N / $STRONGROOM_TOKEN\n",
                  stderr);
            return EXIT_USAGE;
        }
    const command *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "strongroom: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
