/* log.h -- the node's log: one line per event, UTC timestamps, the level and
 * the subsystem that wrote it, on stderr (for the journal) or in a file that
 * SIGHUP reopens (for logrotate).
 *
 * A line reads  2026-12-05T08:01:02.345Z info  p2p: connected to ...
 *
 * The subsystem of a call is the KULA_LOG_SUBSYS of its file: the build sets
 * it per layer and per file (CMakeLists.txt), so call sites stay as they are.
 * Lines below the level are dropped, except debug lines of the subsystems
 * named by kula_log_set_debug ("debug = net,p2p" in kulad.conf). */
#ifndef KULA_LOG_H
#define KULA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kula_log_level { KULA_LOG_DEBUG = 0, KULA_LOG_INFO = 1, KULA_LOG_WARN = 2, KULA_LOG_ERROR = 3 };

/* Every subsystem, in the order of the debug mask's bits: what kulad.conf's
 * `debug =` accepts, and the names the build gives (CMakeLists.txt). */
#define KULA_LOG_SUBSYSTEMS(X)                                                                    \
    X(base) X(codec) X(crypto) X(types) X(store) X(ledger) X(chain) X(consensus) X(audit)         \
    X(net) X(p2p) X(rpc) X(node) X(sim)

#ifndef KULA_LOG_SUBSYS
#define KULA_LOG_SUBSYS "node"
#endif

/* Lines below level are dropped (a level above KULA_LOG_ERROR drops all). */
void kula_log_set_level(enum kula_log_level level);

/* Returns: the level's name (error, warn, info, debug). */
const char *kula_log_level_name(enum kula_log_level level);

/* Parses a level's name (error, warn, info, debug) into *out.
 * Returns: true, or false for any other word. */
bool kula_log_level_parse(enum kula_log_level *out, const char *name);

/* Parses a comma-separated list of subsystems ("net,p2p", "all", "" for
 * none) into a mask for kula_log_set_debug.  Out: *mask; on failure, in
 * why (cap bytes), the word not known and the known names.
 * Returns: true, or false when a word is not a subsystem. */
bool kula_log_debug_parse(uint32_t *mask, const char *list, char *why, size_t cap);

/* Writes the names of mask's subsystems, comma-separated ("" for none),
 * into out (cap bytes, cut to fit): what kula_log_debug_parse reads. */
void kula_log_debug_format(char *out, size_t cap, uint32_t mask);

/* Debug lines of the subsystems in mask are written whatever the level. */
void kula_log_set_debug(uint32_t mask);

/* Writes the log to path (appended, created 0640) instead of stderr; NULL
 * or "" goes back to stderr.  Returns: 0, or -errno when path cannot be
 * opened (the log stays where it was). */
int kula_log_set_file(const char *path);

/* Closes and opens again the file of kula_log_set_file (after logrotate
 * moved it); a line says so in the new file.  Safe to call from the event
 * loop, not from a signal handler.  Returns: 0, or -errno (the old file is
 * kept open and the failure logged there). */
int kula_log_reopen(void);

void kula_log_at(const char *subsys, enum kula_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define kula_log(level, ...) kula_log_at(KULA_LOG_SUBSYS, level, __VA_ARGS__)
#define kula_debug(...) kula_log_at(KULA_LOG_SUBSYS, KULA_LOG_DEBUG, __VA_ARGS__)
#define kula_info(...) kula_log_at(KULA_LOG_SUBSYS, KULA_LOG_INFO, __VA_ARGS__)
#define kula_warn(...) kula_log_at(KULA_LOG_SUBSYS, KULA_LOG_WARN, __VA_ARGS__)
#define kula_error(...) kula_log_at(KULA_LOG_SUBSYS, KULA_LOG_ERROR, __VA_ARGS__)

#endif /* KULA_LOG_H */
