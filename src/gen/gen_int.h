/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen_int.h - internals of the synthetic population generator (gen.c):
 * the embedded word lists (gen_data.c) and two probes the unit tests use,
 * the JSON string escaper and the capacity of the generator's one buffer.
 *
 * Internal: not part of the installed API.
 */
#ifndef SR_GEN_INT_H
#define SR_GEN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "strongroom/gen.h"
#include "util/util.h"

/* A word list: n entries, the most frequent first (picks are skewed
 * towards the front where a list says so). */
typedef struct gen_list {
    const char *const *v;
    uint32_t n;
} gen_list;

/* A real US city with a ZIP code in it and its main area code; weight is
 * a relative frequency (the federal workforce clusters around Washington). */
typedef struct gen_city {
    const char *city;
    const char *state;
    const char *zip;
    const char *area;
    uint32_t weight;
} gen_city;

/* A place abroad: region may be NULL; phone is the country calling code
 * with a fictional-looking subscriber prefix. */
typedef struct gen_place {
    const char *city;
    const char *region;
    const char *country;
    const char *postal;
    const char *phone;
} gen_place;

/* A federal agency: full name, the short form used in e-mail domains and a
 * relative weight roughly following workforce size. */
typedef struct gen_agency {
    const char *name;
    const char *abbr;
    uint32_t weight;
} gen_agency;

/* A foreign contact: a plausible full name and its country. */
typedef struct gen_contact {
    const char *name;
    const char *country;
} gen_contact;

extern const gen_list gen_given_female;
extern const gen_list gen_given_male;
extern const gen_list gen_family;
extern const gen_list gen_streets;
extern const gen_list gen_street_types;
extern const gen_list gen_positions;
extern const gen_list gen_contractors;

extern const gen_city gen_cities[];
extern const uint32_t gen_cities_n;
extern const gen_place gen_places[];
extern const uint32_t gen_places_n;
extern const gen_agency gen_agencies[];
extern const uint32_t gen_agencies_n;
extern const gen_contact gen_contacts[];
extern const uint32_t gen_contacts_n;

/* Append s (n bytes of UTF-8) to b as a JSON string, quotes included:
 * '"' and '\\' escaped, control characters as \b \f \n \r \t or \u00XX.
 * Errors: those of buf_append (b's cap, SR_ERR_NOMEM). */
SR_WARN_UNUSED sr_status gen_json_string(sr_buf *b, const char *s, size_t n);

/* The allocated size of g's output buffer, for the constant-memory test. */
size_t gen_buffer_capacity(const sr_gen *g);

#endif
