/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.h - the web console's files, compiled in from web/ by CMake
 * (gen/console_files.c): name, content type and bytes, ended by a NULL
 * name.
 */
#ifndef SR_SERVER_CONSOLE_H
#define SR_SERVER_CONSOLE_H

#include <stddef.h>

#include "server/server.h"

/* The routes (routes.c's table): GET / (index.html), GET /console/NAME,
 * POST /v1/session (sign in), GET /v1/session (who, and the CSRF token
 * again, for a page loaded anew), POST /v1/session/end (sign out). */
void console_page(req *r);
void console_asset(req *r);
void console_session_open(req *r);
void console_session_info(req *r);
void console_session_end(req *r);

typedef struct console_file {
    const char *name;
    const char *ctype;
    const unsigned char *data;
    size_t len;
} console_file;

extern const console_file console_files[];

#endif
