/* ledger_scenario.h -- replays a ledger conformance scenario
 * (proto/vectors/ledger/README.md) through the reference ledger, and says
 * where the two disagree.
 *
 * Used by test_ledger_vectors (every file in proto/vectors/ledger/ must
 * replay) and by fuzz_ledger_vectors (any bytes: a verdict, never a crash).
 * The document is untrusted: at most LS_MAX_BYTES, LS_MAX_STEPS steps,
 * every field checked for its type, hex strictly even and bounded, heights
 * consecutive; what does not fit is malformed, with the reason in words. */
#ifndef KULA_LEDGER_SCENARIO_H
#define KULA_LEDGER_SCENARIO_H

#include <stddef.h>

#define LS_MAX_BYTES (4u << 20)
#define LS_MAX_STEPS 10000u

enum ls_verdict {
    LS_MALFORMED = -1, /* not a scenario the README describes */
    LS_REPLAYS = 0,    /* every step: the error and the state root the file says */
    LS_DIFFERS = 1,    /* a step where the ledger and the file disagree */
    LS_NOT_SAME = 2,   /* ls_replay_twice: the two replays' verdicts differ */
};

/* Called with the error code of each refused step (a kula_err value). */
typedef void (*ls_refusal_fn)(void *ctx, int code);

/* Replays the JSON document doc (len bytes, need not end in NUL).
 * Out: why (why_len bytes, always terminated): the file's name, the step and
 *      what differs or what is malformed; "" when it replays.
 * Returns: an ls_verdict. */
int ls_replay(const char *doc, size_t len, const char *name, ls_refusal_fn on_refusal, void *ctx,
              char *why, size_t why_len);

/* As ls_replay with no callback, but replays the document twice, each time
 * from a new ledger, parsing it once (the fuzz target's determinism check).
 * Out: why and again (why_len bytes each): each replay's reason.
 * Returns: the verdict of both, or LS_NOT_SAME if they differ. */
int ls_replay_twice(const char *doc, size_t len, const char *name, char *why, char *again,
                    size_t why_len);

#endif /* KULA_LEDGER_SCENARIO_H */
