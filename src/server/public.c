/* SPDX-License-Identifier: Apache-2.0 */
/*
 * public.c - the routes anyone may call: liveness and readiness, metrics,
 * the OpenAPI description, and the audit log as static C2SP tlog-tiles
 * under /log/ (a monitor or witness needs no account). Full tiles and old
 * checkpoints never change and are served as immutable; partial tiles
 * give way to full ones and the checkpoint moves on, so they are cached
 * briefly or revalidated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server/server.h"

#define LOG_FILE_MAX (64u << 20)

extern const unsigned char srv_openapi[];
extern const size_t srv_openapi_len;

void public_healthz(req *r);
void public_readyz(req *r);
void public_metrics(req *r);
void public_openapi(req *r);
void public_log(req *r);

void public_healthz(req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    reply_text(r, 200, "application/json", ok, sizeof ok - 1);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

void public_readyz(req *r)
{
    static const char ready[] = "{\"status\":\"ready\"}";
    if (srv_draining(r->s)) {
        reply_problem(r, P_UNAVAILABLE, "draining: not taking new requests");
        return;
    }
    reply_text(r, 200, "application/json", ready, sizeof ready - 1);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

void public_metrics(req *r)
{
    const char *names[64];
    unsigned n = srv_route_count < 64 ? srv_route_count : 64;
    for (unsigned i = 0; i < n; i++)
        names[i] = srv_routes[i].path;
    size_t len = 0;
    char err[SRV_ERR_MAX];
    /* A handle of its own: the figures read the store (principals). */
    uint64_t gen = 0;
    sr_vault *v = pool_reader(srv_handles(r->s), &gen, err);
    char *text = metrics_render(names, n, v, &len);
    pool_put_reader(srv_handles(r->s), v, gen);
    if (text == NULL) {
        reply_problem(r, P_INTERNAL, NULL);
        return;
    }
    reply_owned(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

void public_openapi(req *r)
{
    reply_text(r, 200, "application/json", (const char *)srv_openapi,
               srv_openapi_len);
}

/* The log's files: checkpoint, witnesses, history/<size>, and
 * tile/<L>/<N...>[.p/<W>], tile/entries/<N...>[.p/<W>]. Segments of
 * [0-9a-z.] only, no empty or dot-only segment, nothing else. */
static bool log_path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 200)
        return false;
    if (strcmp(p, "checkpoint") == 0 || strcmp(p, "witnesses") == 0)
        return true;
    if (strncmp(p, "tile/", 5) != 0 && strncmp(p, "history/", 8) != 0)
        return false;
    const char *seg = p;
    for (size_t i = 0; i <= n; i++) {
        char c = p[i];
        if (c == '/' || c == '\0') {
            size_t len = (size_t)(p + i - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') ||
                (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            seg = p + i + 1;
            continue;
        }
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.'))
            return false;
    }
    return true;
}

struct MHD_Response *srv_log_file(const char *log_dir, const char *tail)
{
    char path[SRV_PATH_MAX + 256];
    if (!log_path_ok(tail))
        return NULL;
    int n = snprintf(path, sizeof path, "%s/%s", log_dir, tail);
    if (n < 0 || (size_t)n >= sizeof path)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        sb.st_size > (off_t)LOG_FILE_MAX) {
        if (fd >= 0)
            (void)close(fd);
        return NULL;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (resp == NULL) {
        (void)close(fd);
        return NULL;
    }
    bool text = strncmp(tail, "tile/", 5) != 0;
    const char *cache;
    if (strcmp(tail, "checkpoint") == 0 || strcmp(tail, "witnesses") == 0)
        cache = "no-cache";
    else if (strstr(tail, ".p/") != NULL)
        cache = "public, max-age=60";
    else
        cache = "public, max-age=31536000, immutable";
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  text ? "text/plain; charset=utf-8"
                                       : "application/octet-stream");
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    (void)MHD_add_response_header(
        resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    return resp;
}

void public_log(req *r)
{
    struct MHD_Response *resp =
        srv_log_file(srv_log_dir(r->s), r->tail != NULL ? r->tail : "");
    if (resp == NULL) {
        reply_problem(r, P_NOT_FOUND, "no such log file");
        return;
    }
    r->resp = resp;
    r->status = 200;
}
