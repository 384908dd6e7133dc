/* file.c -- durable file writes (kula/base/file.h). */
#include "kula/base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kula_write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

int kula_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int kula_sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return kula_sync_dir(".");
    if (slash == path)
        return kula_sync_dir("/");
    char *dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return -1;
    int rc = kula_sync_dir(dir);
    int saved = errno;
    free(dir);
    errno = saved;
    return rc;
}

int kula_file_replace(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(".tmp"));
    if (tmp == NULL)
        return -1;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", sizeof(".tmp"));
    /* fchmod: O_TRUNC keeps the mode of a .tmp left by a crash. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 || fchmod(fd, S_IRUSR | S_IWUSR) != 0 || kula_write_all(fd, data, len) != 0 ||
                     fsync(fd) != 0
                 ? -1
                 : 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        (void)unlink(tmp);
    free(tmp);
    if (rc == 0 && kula_sync_parent(path) != 0)
        return -1;
    errno = saved;
    return rc;
}
