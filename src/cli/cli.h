/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - what the command files of the strongroom tool share: the common
 * options (vault, passphrase, token, purpose, case), reading secrets,
 * opening an authenticated vault, and the exit-code rules (docs/cli.md).
 * The tool calls only the public API (strongroom/strongroom.h).
 */
#ifndef SR_CLI_H
#define SR_CLI_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "strongroom/strongroom.h"

#define PASS_MAX 1024u
#define STDIN_MAX (8u * 1024u * 1024u)

/* Exit codes: 0 success; 1 an import rejected some lines, or a
 * verification failed; 2 usage; and 10 + the library status for a
 * failure (docs/cli.md lists them). */
enum { EXIT_REJECTS = 1, EXIT_USAGE = 2, EXIT_STATUS_BASE = 10 };

typedef struct common {
    const char *vault;
    int pass_fd;  /* -1: environment or prompt */
    int token_fd; /* -1: $STRONGROOM_TOKEN */
    const char *purpose;
    const char *case_id;
    const char *approval;
} common;

#define COMMON_INIT                                                            \
    {                                                                          \
        getenv("STRONGROOM_VAULT"), -1, -1, NULL, NULL, NULL                   \
    }

enum {
    OPT_VAULT = 1000,
    OPT_PASS_FD,
    OPT_TOKEN_FD,
    OPT_PURPOSE,
    OPT_CASE,
    OPT_APPROVAL,
    OPT_HELP
};

/* clang-format off */
#define COMMON_OPTIONS                                                       \
    {"vault", required_argument, NULL, OPT_VAULT},                           \
        {"passphrase-fd", required_argument, NULL, OPT_PASS_FD},             \
        {"token-fd", required_argument, NULL, OPT_TOKEN_FD},                 \
        {"help", no_argument, NULL, OPT_HELP}

#define ACCESS_OPTIONS                                                       \
    {"purpose", required_argument, NULL, OPT_PURPOSE},                       \
        {"case", required_argument, NULL, OPT_CASE},                         \
        {"approval", required_argument, NULL, OPT_APPROVAL}

#define COMMON_HELP                                                          \
    "  --vault DIR          the vault directory (default: $STRONGROOM_VAULT)\n" \
    "  --passphrase-fd N    read the vault passphrase from file descriptor N\n" \
    "                       (else $STRONGROOM_PASSPHRASE, else a prompt)\n"  \
    "  --token-fd N         read your API token from file descriptor N\n"   \
    "                       (else $STRONGROOM_TOKEN)\n"                      \
    "  --help               this help\n"

#define ACCESS_HELP                                                          \
    "  --purpose P          why: a purpose of the policy, e.g.\n"           \
    "                       initial-investigation, adjudication, hr-action\n" \
    "  --case CASE          the case, for purposes and roles that need one\n" \
    "  --approval ID        a second person's approval, for an export or a\n" \
    "                       search matching more people than the policy's\n" \
    "                       bulk_threshold (strongroom approval --help)\n"
/* clang-format on */

typedef struct secret {
    char *p; /* sodium_malloc, PASS_MAX + 1 */
    size_t len;
} secret;

typedef struct command {
    const char *name;
    const char *summary;
    const char *help;
    int (*run)(int argc, char **argv);
} command;

int exit_for(sr_status st);
int fail(const char *cmd, const char *msg);
int lib_fail(const char *cmd, sr_status st, const sr_vault *v);
bool parse_u64(const char *s, uint64_t *out);
/* Handle a common or access option; false if opt is not one. */
bool common_option(common *c, int opt, const char *arg, bool *bad);
void secret_free(secret *s);
bool read_fd_pass(int fd, secret *s);
bool prompt_pass(const char *prompt, secret *s);
bool get_pass(const char *cmd, const common *c, bool confirm, secret *s);
/* Open the vault and, when auth, authenticate with the caller's token. */
int open_vault(const char *cmd, const common *c, unsigned flags, sr_vault **v);
int open_vault_as(const char *cmd, const common *c, unsigned flags, bool auth,
                  sr_vault **v);
bool read_stdin(const char *cmd, char **out, size_t *len);
/* Read a small text file (a key) into buf, NUL-terminated, and its length
 * into *len (may be NULL); false if it cannot be read, holds a NUL, or
 * does not fit in cap - 1 bytes. */
bool read_small_file(const char *path, char *buf, size_t cap, size_t *len);
sr_status print_line(void *ctx, const char *line, size_t len);
int parse_simple(const char *cmd, int argc, char **argv, common *c);
const command *find_command(const char *name);
uint64_t mono_ns(void);
/* "90d", "12h", "30m", "45s" or plain seconds; false if malformed. */
bool parse_duration(const char *s, uint64_t *secs);
/* Add the person ids of list ("ID" or "ID,ID,...", each 32 hexadecimal
 * digits) to ids[*n..max); false, with the message printed, for a bad id
 * or more than max. */
bool parse_people(const char *cmd, const char *list,
                  uint8_t (*ids)[SR_ID_BYTES], size_t max, size_t *n);
/* "2026-11-25", "2026-11-25T14:03:00Z" or Unix seconds, as nanoseconds. */
bool parse_time(const char *s, uint64_t *ns);
/* With --out FILE: send stdout to FILE.partial (mode 0600), false with
 * the message printed if it cannot be made; without (out NULL), nothing.
 * out_end flushes, syncs and renames it into place when st is SR_OK, and
 * removes it otherwise; it returns st, or SR_ERR_IO. */
bool out_begin(const char *cmd, const char *out, char tmp[PATH_MAX]);
sr_status out_end(const char *out, const char *tmp, sr_status st);

/* The command groups (admin.c, audit.c, witness.c). */
int cmd_user(int argc, char **argv);
int cmd_principal(int argc, char **argv);
int cmd_decoy(int argc, char **argv);
int cmd_approval(int argc, char **argv);
int cmd_breach(int argc, char **argv);
/* breach notify (notify.c), from cmd_breach. */
int cmd_breach_notify(int argc, char **argv);
int cmd_shred(int argc, char **argv);
int cmd_retention(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_case(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_audit(int argc, char **argv);
extern const char help_user[], help_principal[], help_decoy[], help_approval[],
    help_breach[], help_shred[], help_retention[], help_token[], help_login[],
    help_case[], help_policy[], help_audit[];
int cmd_witness(int argc, char **argv);
extern const char help_witness[];
int cmd_hotline(int argc, char **argv);
extern const char help_hotline[];
int cmd_backup(int argc, char **argv); /* backup.c */
extern const char help_backup[];
int cmd_store(int argc, char **argv); /* backup.c */
extern const char help_store[];
int cmd_serve(int argc, char **argv);
extern const char help_serve[];

#endif
