/* game.h -- a Shapley game as a business writes it: one coalition a line,
 * named by its parties, with its value in units:
 *
 *     # the bakery and the mill
 *     alice: 50.00
 *     bob: 30
 *     alice+bob: 120.00
 *
 * The empty coalition is worth 0 and is not written.  A coalition not
 * listed is worth the most of the listed coalitions inside it (0 if none):
 * adding a party never lowers a value (proto/LEDGER.md §5.1 asks v
 * monotone), so only the coalitions that create more need a line.  Blank
 * lines and lines starting with '#' are skipped. */
#ifndef KULA_CLI_GAME_H
#define KULA_CLI_GAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GAME_MAX_PARTIES 16   /* proto/LEDGER.md §5: an agreement has 2 to 16 */
#define GAME_MAX_BYTES (8u << 20) /* a game file, at most */

/* Parses text (len bytes) against the parties names[0..n) (in ascending
 * member id: bit k of a coalition is names[k]), amounts with `decimals`.
 * Out: values[2^n] (the caller's, minor units, by bitmask); on error, err
 * (a sentence naming the line and what to do).  Returns: 0, or -1. */
int game_parse(const char *text, size_t len, const char *const *names, unsigned n,
               unsigned decimals, int64_t *values, char *err, size_t errcap);

/* Reads a whole file (path "-": standard input), at most GAME_MAX_BYTES.
 * Out: *text (malloc'd, NUL terminated), *len; err on failure.
 * Returns: 0, or -1. */
int game_read(const char *path, char **text, size_t *len, char *err, size_t errcap);

#endif
