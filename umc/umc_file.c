/* Files: small state files and mapped backing files (real backend), or the
 * simulator's crash-surviving store when the node has an fs backend. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "umc/umc.h"
#include "umc/umc_internal.h"

void *umc_map_file(struct umc_node *n, const char *path, size_t size, int *err)
{
    if (n->fs) {
        *err = -ENOTSUP;
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (S_ISREG(st.st_mode) && (size_t)st.st_size < size &&
                                ftruncate(fd, (off_t)size) < 0)) {
        *err = -errno;
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    umc_track_mapping(n, p, size);
    *err = 0;
    return p;
}

int umc_sync_file(struct umc_node *n, void *p, size_t size)
{
    return msync(p, size, MS_SYNC) < 0 ? -errno : 0;
}

void umc_unmap_file(struct umc_node *n, void *p, size_t size) { umc_unmap_tracked(n, p, size); }

char *umc_read_file(struct umc_node *n, const char *path, size_t *len, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (n->fs) {
        char *data = NULL;
        *err = n->fs->read(n->fs_ctx, path, &data, len, n);
        return *err ? NULL : data;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
        *err = S_ISDIR(st.st_mode) ? -EISDIR : -EFBIG;
        close(fd);
        return NULL;
    }
    char *data = umc_alloc(n, (size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    data[got] = '\0';
    if (len)
        *len = got;
    *err = 0;
    return data;
}

int umc_write_file(struct umc_node *n, const char *path, const void *data, size_t len)
{
    if (n->fs)
        return n->fs->write(n->fs_ctx, path, data, len);
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = -errno;
            close(fd);
            unlink(tmp);
            return e ? e : -EIO;
        }
        p += w;
        left -= (size_t)w;
    }
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}
