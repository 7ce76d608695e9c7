/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.c - the few file operations whose crash behaviour the vault and the
 * audit log depend on: whole writes, atomic replacement with the fsyncs
 * that make it durable, and directory creation.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* nftw */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

bool fd_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (w == 0) {
            errno = ENOSPC;
            return false;
        }
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static sr_status errno_status(int e)
{
    return e == ENOSPC || e == EDQUOT ? SR_ERR_FULL : SR_ERR_IO;
}

static sr_status path_sync(const char *path, int flags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return SR_ERR_IO;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc == 0 ? SR_OK : SR_ERR_IO;
}

sr_status dir_sync(const char *dir)
{
    return path_sync(dir, O_DIRECTORY);
}

sr_status file_sync(const char *path)
{
    return path_sync(path, O_NOFOLLOW);
}

sr_status file_write_atomic(const char *path, const void *p, size_t n, int mode)
{
    char tmp[PATH_MAX];
    int len = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof tmp)
        return SR_ERR_INVALID;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return errno_status(errno);
    if (!fd_write_all(fd, p, n) || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        (void)unlink(tmp);
        errno = e;
        return errno_status(e);
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        (void)unlink(tmp);
        errno = e;
        return errno_status(e);
    }
    return parent_sync(path);
}

sr_status parent_sync(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return dir_sync(".");
    size_t dl = (size_t)(slash - path);
    if (dl >= sizeof dir)
        return SR_ERR_INVALID;
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    return dir_sync(dl == 0 ? "/" : dir);
}

sr_status fd_zero(int fd)
{
    static const uint8_t zeros[1u << 16];
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return errno_status(errno);
    for (off_t at = 0; at < sb.st_size;) {
        size_t n = sb.st_size - at < (off_t)sizeof zeros
                       ? (size_t)(sb.st_size - at)
                       : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno_status(w < 0 ? errno : EIO);
        at += w;
    }
    return fdatasync(fd) == 0 ? SR_OK : errno_status(errno);
}

sr_status file_wipe(const char *path)
{
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SR_OK : errno_status(errno);
    sr_status st = fd_zero(fd);
    if (close(fd) != 0 && st == SR_OK)
        st = errno_status(errno);
    if (unlink(path) != 0 && st == SR_OK)
        st = errno_status(errno);
    return st;
}

sr_status file_read(const char *path, sr_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    sr_status st = SR_OK;

    if (fd < 0)
        return errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO;
    if (fstat(fd, &sb) != 0) {
        st = SR_ERR_IO;
        goto cleanup;
    }
    if ((uint64_t)sb.st_size > out->max - out->len) {
        st = SR_ERR_INVALID;
        goto cleanup;
    }
    st = buf_reserve(out, (size_t)sb.st_size);
    if (st != SR_OK)
        goto cleanup;
    for (;;) {
        size_t room = out->cap - out->len;
        if (room == 0) {
            /* The file grew while read: take what fits the cap. */
            st = buf_reserve(out, 4096);
            if (st != SR_OK)
                goto cleanup;
            room = out->cap - out->len;
        }
        ssize_t r = read(fd, out->p + out->len, room);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            st = SR_ERR_IO;
            goto cleanup;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
    }
cleanup:
    close(fd);
    return st;
}

sr_status dir_make(const char *path, int mode)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof p)
        return SR_ERR_INVALID;
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
            return errno_status(errno);
        p[i] = c;
    }
    return SR_OK;
}

sr_status dirs_for_file(const char *path, int mode)
{
    char p[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return SR_OK;
    size_t n = (size_t)(slash - path);
    if (n >= sizeof p)
        return SR_ERR_INVALID;
    memcpy(p, path, n);
    p[n] = '\0';
    struct stat sb;
    if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
        return SR_OK;
    return dir_make(p, mode);
}

static sr_status file_copy(const char *src, const char *dst, mode_t mode)
{
    char buf[1u << 16];
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0)
        return SR_ERR_IO;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   mode & 0777);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return e == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO;
    }
    sr_status st = SR_OK;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = SR_ERR_IO;
            break;
        }
        if (n == 0)
            break;
        if (!fd_write_all(out, buf, (size_t)n)) {
            st = errno == ENOSPC ? SR_ERR_FULL : SR_ERR_IO;
            break;
        }
    }
    if (st == SR_OK && fsync(out) != 0)
        st = SR_ERR_IO;
    int e = errno;
    close(in);
    if (close(out) != 0 && st == SR_OK)
        st = SR_ERR_IO;
    if (st != SR_OK)
        (void)unlink(dst);
    errno = e;
    return st;
}

sr_status path_copy(const char *src, const char *dst)
{
    struct stat sb;
    if (lstat(src, &sb) != 0)
        return errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO;
    if (S_ISREG(sb.st_mode))
        return file_copy(src, dst, sb.st_mode);
    if (!S_ISDIR(sb.st_mode))
        return SR_ERR_INVALID;
    if (mkdir(dst, sb.st_mode & 0777) != 0)
        return errno == EEXIST ? SR_ERR_EXISTS : SR_ERR_IO;
    DIR *d = opendir(src);
    if (d == NULL)
        return SR_ERR_IO;
    sr_status st = SR_OK;
    struct dirent *e;
    char a[PATH_MAX], b[PATH_MAX];
    while (st == SR_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int n1 = snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        int n2 = snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof a ||
            (size_t)n2 >= sizeof b)
            st = SR_ERR_INVALID;
        else
            st = path_copy(a, b);
    }
    closedir(d);
    if (st == SR_OK)
        st = dir_sync(dst);
    return st;
}

sr_status file_lines(const char *path, size_t max, file_line_fn fn, void *ctx,
                     uint64_t *lineno)
{
    size_t have = 0, cap = max + 1;
    sr_status st = SR_OK;
    *lineno = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SR_ERR_NOT_FOUND : SR_ERR_IO;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return SR_ERR_NOMEM;
    }
    /* Whole lines out of a buffer of at most one line's length. */
    for (bool eof = false; st == SR_OK && !(eof && have == 0);) {
        if (!eof) {
            ssize_t got = read(fd, buf + have, cap - have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                st = SR_ERR_IO;
                break;
            }
            have += (size_t)got;
            eof = got == 0;
        }
        size_t off = 0;
        char *nl;
        while (st == SR_OK &&
               (nl = memchr(buf + off, '\n', have - off)) != NULL) {
            st =
                fn(ctx, buf + off, (size_t)(nl - (buf + off)), true, ++*lineno);
            off = (size_t)(nl - buf) + 1;
        }
        if (st == SR_OK && off == 0 && have == cap) {
            ++*lineno;
            st = SR_ERR_INVALID; /* longer than max */
        } else if (st == SR_OK && eof && off == 0 && have > 0) {
            st = fn(ctx, buf, have, false, ++*lineno);
            off = have;
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return st;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

void dir_remove_tree(const char *dir)
{
    (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
