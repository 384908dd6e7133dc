/* file.h -- writing files so that a crash leaves the old bytes or the new
 * ones, never torn ones, and a renamed file survives a power loss.
 *
 * Every function sets errno on failure and returns -1; none logs: the
 * caller names the file in its own message. */
#ifndef KULA_FILE_H
#define KULA_FILE_H

#include <stddef.h>

#include "kula/base/error.h"

/* Writes all n bytes of p to fd, again after a partial write or a signal.
 * Returns: 0, or -1 with errno set (nothing says how much was written). */
KULA_MUST_CHECK
int kula_write_all(int fd, const void *p, size_t n);

/* fsyncs the directory dir, so that an entry created, renamed or linked in
 * it is durable.  Returns: 0 or -1 (errno). */
KULA_MUST_CHECK
int kula_sync_dir(const char *dir);

/* fsyncs the directory holding path ("." for a bare name).
 * Returns: 0 or -1 (errno). */
KULA_MUST_CHECK
int kula_sync_parent(const char *path);

/* Replaces path with the len bytes of data, mode 0600: writes path.tmp,
 * fsyncs it, renames it over path and fsyncs the directory.  After a crash
 * at any point path holds its old bytes or the new ones.  On failure path
 * is unchanged and path.tmp is removed.  Returns: 0 or -1 (errno). */
KULA_MUST_CHECK
int kula_file_replace(const char *path, const void *data, size_t len);

#endif /* KULA_FILE_H */
