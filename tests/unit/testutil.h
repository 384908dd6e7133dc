/* testutil.h -- small helpers shared by the Criterion unit tests. */
#ifndef KULA_TESTUTIL_H
#define KULA_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Reads a whole file into a NUL-terminated malloc'd buffer; aborts the test
 * run if it cannot.  Out: *len (may be NULL). */
char *tu_read_file(const char *path, size_t *len);
/* Decodes hex into a malloc'd buffer.  Out: *len.  Aborts on bad hex. */
uint8_t *tu_unhex(const char *hex, size_t *len);
/* Path of a file under the source tree (static buffer). */
const char *tu_src(const char *rel);

#endif
