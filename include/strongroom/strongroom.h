/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strongroom/strongroom.h - the umbrella header: include this one.
 *
 * Strongroom stores personnel and background-investigation records so that
 * the database alone reveals nothing: every field class of every person is
 * sealed under that person's own key, and search runs on keyed, truncated
 * blind indexes. See README.md and docs/.
 */
#ifndef STRONGROOM_H
#define STRONGROOM_H

#include "audit.h"
#include "common.h"
#include "gen.h"
#include "hotline.h"
#include "notify.h"
#include "vault.h"
#include "witness.h"

#define SR_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialise the library (libsodium). Call once before anything else;
 * safe to call again. Errors: SR_ERR_INTERNAL if libsodium cannot start. */
SR_API SR_WARN_UNUSED sr_status sr_init(void);

#ifdef __cplusplus
}
#endif
#endif
