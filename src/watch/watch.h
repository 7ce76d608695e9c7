/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watch.h - what the vault watches per principal (internal): the people it
 * has read and the searches it has made in the last day, counted against
 * its role's read budget, and whether it is frozen.
 *
 * Each principal has one append-only file, <vault>/watch/<name>: a 16-byte
 * header ("SRWATCH1" and eight zero bytes), then records of
 * WATCH_RECORD_BYTES:
 *
 *   0..7    time, milliseconds since 1970 (little-endian)
 *   8       kind (watch_kind)
 *   9..15   zero
 *   16..31  a person's keyed reference (WATCH_PERSON), else zero
 *   32..95  a reason, NUL-padded (WATCH_FREEZE, WATCH_UNFREEZE), else zero
 *
 * The file lives beside the store, not in it, so any handle can freeze a
 * principal: a read-only one, or a process that does not hold the vault's
 * write lock (a CLI reading while the server runs). Writers hold flock on
 * it; a file grown past WATCH_COMPACT_BYTES is rewritten with only the
 * last day and renamed into place. A freeze and an unfreeze are synced
 * before the call returns; the usage records are not (a crash of the
 * machine, not of the process, can forget the last moments of reads).
 *
 * Nothing here names a person: references are keyed BLAKE2b of ids
 * (crypto_person_ref), and reasons are names or rule ids.
 */
#ifndef SR_WATCH_H
#define SR_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "strongroom/common.h"

#define WATCH_MAGIC "SRWATCH1"
#define WATCH_HEADER_BYTES 16u
#define WATCH_RECORD_BYTES 96u
#define WATCH_REF_BYTES 16u
#define WATCH_REASON_MAX 64u
#define WATCH_COMPACT_BYTES (256u * 1024u)
#define WATCH_HOUR_MS (3600u * 1000u)
#define WATCH_DAY_MS (24u * WATCH_HOUR_MS)
/* Room for a message from the file layer, with its NUL. */
#define WATCH_MSG_MAX 320

typedef enum watch_kind {
    WATCH_PERSON = 1,  /* a person read, charged to the budget */
    WATCH_SEARCH = 2,  /* a search made */
    WATCH_FREEZE = 3,  /* frozen, with the reason */
    WATCH_UNFREEZE = 4 /* unfrozen: the budget starts afresh */
} watch_kind;

typedef struct watch_record {
    uint64_t ms;
    watch_kind kind;
    uint8_t ref[WATCH_REF_BYTES];
    char reason[WATCH_REASON_MAX + 1];
} watch_record;

/* One charge of a person to the budget. */
typedef struct watch_charge {
    uint64_t ms;
    uint8_t ref[WATCH_REF_BYTES];
} watch_charge;

/* A person charged since the table was last rebuilt. */
typedef struct watch_slot {
    bool used;
    uint32_t day_charges; /* charges of theirs in the last day */
    uint64_t last_ms;     /* their last charge */
    uint8_t ref[WATCH_REF_BYTES];
} watch_slot;

/* What the records say, as of the last watch_prune: the charges of the
 * last day in time order (a person is charged at most once an hour, so
 * those of the last hour are distinct people), each person's charges by
 * reference (an open-addressing table), the searches of the last hour,
 * and the freeze. Every check is O(1) in the size of the budget. */
typedef struct watch_state {
    bool frozen;
    uint64_t frozen_ms;
    char reason[WATCH_REASON_MAX + 1];
    uint64_t last_ms; /* the latest record */
    watch_charge *charges;
    size_t ncharges, charges_cap, day_start, hour_start;
    uint64_t *searches;
    size_t nsearches, searches_cap, search_start;
    watch_slot *table;
    size_t table_cap, table_used;
    size_t day_people; /* distinct people charged in the last day */
} watch_state;

/* People charged in the last hour, and searches made in it (as of the
 * last prune). */
size_t watch_hour_people(const watch_state *s);
size_t watch_hour_searches(const watch_state *s);

void watch_state_init(watch_state *s);
void watch_state_free(watch_state *s);

/* Encode one record into out (WATCH_RECORD_BYTES). */
void watch_record_encode(const watch_record *r,
                         uint8_t out[WATCH_RECORD_BYTES]);

/* Decode one record into r: NULL, or the fault that makes it invalid
 * ("an unknown kind", "non-zero padding", "a reason that is not a name").
 * A valid record encodes back to the same bytes. */
const char *watch_record_decode(const uint8_t in[WATCH_RECORD_BYTES],
                                watch_record *r);

/*
 * Apply records (whole ones, n a multiple of WATCH_RECORD_BYTES) to s.
 * Records older than a day (than now_ms) are skipped. SR_ERR_CORRUPT with
 * msg naming the record (first_index + its position) and the fault for an
 * unknown kind, a non-zero pad or a reason that is not a name; the records
 * before it are applied. SR_ERR_NOMEM.
 */
SR_WARN_UNUSED sr_status watch_apply(watch_state *s, const uint8_t *p, size_t n,
                                     uint64_t first_index, uint64_t now_ms,
                                     char msg[WATCH_MSG_MAX]);

/* Move the windows on to end at now_ms (never back): what left them is
 * forgotten. The checks below read the state as of the last prune. */
SR_WARN_UNUSED sr_status watch_prune(watch_state *s, uint64_t now_ms);

/* Was the person charged in the hour before now_ms? */
bool watch_charged(const watch_state *s, const uint8_t ref[WATCH_REF_BYTES],
                   uint64_t now_ms);

/*
 * Would reading the people refs (n of them; repeats allowed) and making
 * `searches` searches at now_ms stay within the budget b (a role's, from the
 * policy)? NULL if so, else the rule that would be broken:
 * "budget.people_per_hour", "budget.people_per_day" or
 * "budget.searches_per_hour". A person already charged in the last hour costs
 * nothing again. need_room: also refuse when not one more new person would fit
 * (a search, before it knows whom it finds).
 */
const char *watch_over_budget(const watch_state *s, const policy_budget *b,
                              uint64_t now_ms,
                              const uint8_t (*refs)[WATCH_REF_BYTES], size_t n,
                              unsigned searches, bool need_room);

/* ---- the freeze generation -------------------------------------------- */

/*
 * <vault>/watch/.gen: eight bytes, mapped shared by every process that
 * has the vault open: a counter each freeze and unfreeze raises once its
 * record is synced. A check whose copy of a principal's file was read
 * when the counter stood where it stands now knows that no freeze or
 * unfreeze came since, without a system call; a counter that moved sends
 * it back to the file.
 */
typedef struct watch_gen watch_gen;

/* Open (creating) and map the counter; NULL in *out (and SR_OK) when it
 * cannot be, e.g. a vault directory this process may not write: then
 * watch_gen_load never matches and every check reads its file. */
void watch_gen_open(const char *vault_dir, watch_gen **out);
void watch_gen_close(watch_gen *g);
/* The counter (UINT64_MAX for a NULL g: never a value seen). */
uint64_t watch_gen_load(const watch_gen *g);
void watch_gen_bump(watch_gen *g);

/* ---- the file --------------------------------------------------------- */

typedef struct watch_file watch_file;

/* Open (creating if need be) the file of principal `name` (a valid
 * principal name) under <vault_dir>/watch/. Nothing is read yet. */
SR_WARN_UNUSED sr_status watch_file_open(const char *vault_dir,
                                         const char *name, watch_file **out,
                                         char msg[WATCH_MSG_MAX]);
void watch_file_close(watch_file *w);

/*
 * Lock the file (flock, exclusive) and bring the state up to date with
 * what other handles and processes have appended, following a rewrite
 * (compaction) to the new file. A torn record at the end (a crash
 * mid-append) is cut off. Every successful lock is matched by
 * watch_file_unlock. The file is not thread-safe: one thread at a time.
 */
SR_WARN_UNUSED sr_status watch_file_lock(watch_file *w, uint64_t now_ms,
                                         char msg[WATCH_MSG_MAX]);
void watch_file_unlock(watch_file *w);

/* The state as of the last lock (valid while locked, and after). */
const watch_state *watch_file_state(const watch_file *w);

/* Append records while locked, apply them to the state, and fdatasync if
 * sync. Compacts the file afterwards once it is past
 * WATCH_COMPACT_BYTES. */
SR_WARN_UNUSED sr_status watch_file_append(watch_file *w,
                                           const watch_record *recs, size_t n,
                                           bool sync, uint64_t now_ms,
                                           char msg[WATCH_MSG_MAX]);

#endif
