/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert.h - alerts for the people who respond to incidents (internal): a
 * principal frozen, and later a read budget spent or a decoy touched. Each
 * alert is one JSON line appended to <vault>/alerts/alerts.jsonl (written
 * and fdatasync'd before the call returns) and sent to syslog (LOG_AUTH,
 * LOG_ALERT); the process counts them by kind (/metrics). An alert names
 * principals, rules and audit entries, never a person or a value.
 */
#ifndef SR_ALERT_H
#define SR_ALERT_H

#include <stdint.h>

#include "strongroom/common.h"

typedef struct alert {
    const char *kind;      /* "principal.frozen", "principal.unfrozen", ... */
    const char *principal; /* whom it is about */
    const char *by;        /* who acted ("" for the vault itself) */
    const char *reason;    /* a name: the reason given, or the rule */
    uint64_t entry;        /* its audit entry, UINT64_MAX if none */
} alert;

/* Append a to the vault's alert file and send it to syslog. A file that
 * cannot be written is SR_ERR_IO (with errno kept); syslog cannot fail. */
SR_WARN_UNUSED sr_status alert_emit(const char *vault_dir, const alert *a);

#endif
