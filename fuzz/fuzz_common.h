/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_common.h - what every libFuzzer harness does before its first input:
 * start the library (libsodium, the wiping jansson allocator) once.
 */
#ifndef SR_FUZZ_COMMON_H
#define SR_FUZZ_COMMON_H

#include <stdlib.h>

#include "strongroom/strongroom.h"

static inline void fuzz_init_once(void)
{
    static int ready;
    if (!ready) {
        if (sr_init() != SR_OK)
            abort();
        ready = 1;
    }
}

#endif
