/* progress.h -- where a proposal stands, in words (proto/LEDGER.md §6.2). */
#ifndef KULA_CLI_PROGRESS_H
#define KULA_CLI_PROGRESS_H

#include <jansson.h>
#include <stddef.h>

/* The proposal p (the node's method "proposal", with its "decision": the
 * active members and the threshold now) in a sentence: its votes so far
 * and how many yes votes make it pass, or how it was decided.
 * Out: buf[cap], always terminated.  Returns: buf. */
const char *progress_words(char *buf, size_t cap, const json_t *p);

#endif
