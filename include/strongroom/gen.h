/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/gen.h - a synthetic population in the exchange form.
 *
 * Person i of seed s is a pure function of (s, i): the same seed always
 * gives the same people, any slice can be produced alone, and producing
 * 22 million people takes constant memory. Every person is valid against
 * person.schema.json, SSNs are valid and distinct within a seed, and all
 * dates lie on or before a fixed reference date (SR_GEN_REFERENCE_DATE), so
 * output does not change with the day it is made.
 */
#ifndef STRONGROOM_GEN_H
#define STRONGROOM_GEN_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SR_GEN_REFERENCE_DATE "2026-01-01"

typedef struct sr_gen sr_gen;

/* A generator for one seed. Errors: SR_ERR_NOMEM. */
SR_API SR_WARN_UNUSED sr_status sr_gen_new(sr_gen **out, uint64_t seed);
/* Accepts NULL. */
SR_API void sr_gen_free(sr_gen *g);

/*
 * Person number index (0-based) as one compact JSON line without a newline,
 * in a buffer owned by g that stays valid until the next call on g.
 */
SR_API SR_WARN_UNUSED sr_status sr_gen_person_json(sr_gen *g, uint64_t index,
                                                   const char **line,
                                                   size_t *len);

/* The CSV subset (docs/csv.md): the header line, then person index as one
 * row (without newline), same ownership as above. */
SR_API const char *sr_gen_csv_header(void);
SR_API SR_WARN_UNUSED sr_status sr_gen_person_csv(sr_gen *g, uint64_t index,
                                                  const char **line,
                                                  size_t *len);

#ifdef __cplusplus
}
#endif
#endif
