/* words.h -- pure helpers of the kula command: exit-code names, "did you mean",
 * amounts as people type them, times as people read them. */
#ifndef KULA_CLI_WORDS_H
#define KULA_CLI_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes of kula (README "kula exit codes", kula help).  Every command
 * returns one of these; cli_fail prints the message (and its JSON under --json). */
enum {
    CLI_OK = 0,
    CLI_REFUSED = 1,     /* the node, or a local check, refused the operation */
    CLI_UNREACHABLE = 2, /* cannot reach the node */
    CLI_USAGE = 3,       /* bad command line: see kula help COMMAND */
};

/* The name of an exit code for the JSON error ("refused", "unreachable",
 * "usage"; "ok" for 0).  Returns: a static string; "error" for an unknown code. */
const char *cli_exit_name(int code);

/* The Levenshtein distance between a and b (insert, delete, substitute; each
 * costs 1), counted in bytes.  Strings longer than 64 bytes count as far
 * from everything: returns 1000.  Returns: the distance. */
size_t cli_edit_distance(const char *a, const char *b);

/* The name of names[0..n-1] nearest to word, if it is at most 2 edits away
 * (and fewer edits than word's length); ties go to the first.
 * Returns: a pointer into names, or NULL when none is near enough. */
const char *cli_nearest(const char *const *names, size_t n, const char *word);

/* Parses text, an amount a person typed for option `what` ("--credit-limit",
 * "AMOUNT"), in units of a network counting in `unit` with `decimals`
 * digits after the point: "2000", "2000.00", "12.5".  More decimals than
 * the unit has are refused, never rounded.
 * Out: *minor, the amount in minor units; or msg[cap], one line naming
 * what, text and what to give instead.
 * Returns: 0, or -1 (then the exit code is CLI_USAGE: a bad command line). */
int cli_amount_parse(int64_t *minor, const char *what, const char *text, const char *network,
                     const char *unit, unsigned decimals, char *msg, size_t cap);

/* A time for a person to read: ms (since the epoch, UTC) in the local time
 * zone, $TZ honoured, with its offset from UTC so that it is never
 * ambiguous: "2026-12-05 09:14 +01:00", or with seconds
 * "2026-12-05 09:14:03 +01:00".  JSON output keeps times as they are (ms,
 * UTC); only screens in words use this.
 * Out: buf[cap] (32 bytes are enough).  Returns: buf; "?" in it when ms is
 * negative or beyond what the system can show. */
const char *cli_local_time(char *buf, size_t cap, int64_t ms, bool seconds);

#endif /* KULA_CLI_WORDS_H */
