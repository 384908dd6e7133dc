/* asked.h -- the blocks a node asked of one peer in catch-up sync, and
 * whether a BLOCK from that peer answers them (proto/SPEC.md §12.2, §12.3).
 *
 * A node asks one peer at a time (GET_BLOCKS) and gives a request up when
 * it is answered, when its peer is slow (KULA_SYNC_TIMEOUT_MS), or when a
 * block leaves a gap.  Blocks of a request given up may still arrive: they
 * were in the peer's send queue or on the wire, or the node itself was not
 * running (stopped, swapped out, starved of CPU) while they came.  They are
 * late, not misbehaviour.  So a BLOCK from a peer is unsolicited only when
 *   - its height is outside every request the node made of that peer while
 *     one was in flight or in the KULA_SYNC_LATE_MS since the last one ended,
 *   - or the peer already sent as many blocks as those requests asked for
 *     (an honest peer sends each block asked at most once),
 * which bounds what a peer can send unpunished by what this node asked.
 *
 * Pure: no I/O and no clock (the caller gives the time, monotonic ms). */
#ifndef KULA_ASKED_H
#define KULA_ASKED_H

#include <stdbool.h>
#include <stdint.h>

/* How long after a request ends (answered, given up) its late answers are
 * still harmless: twice the time a peer has to answer. */
#define KULA_SYNC_LATE_MS 30000u

typedef struct kula_asked {
    uint64_t lo, hi;   /* heights asked recently, lo..hi (hi 0: none) */
    uint64_t budget;   /* blocks asked in that time and not yet received */
    bool in_flight;    /* a request to this peer is out */
    uint64_t until_ms; /* when none is: late answers harmless until then */
} kula_asked;

/* A peer's record starts zeroed ({ 0 }: nothing asked).  now_ms is the
 * caller's monotonic time in ms, never decreasing across calls. */

/* The node asks the peer for count blocks from height from.
 * In: from >= 1, 1 <= count <= KULA_MAX_GET_BLOCKS. */
void kula_asked_request(kula_asked *a, uint64_t from, uint32_t count, uint64_t now_ms);
/* The request in flight is over (answered or given up); no-op if none:
 * its late answers are harmless for KULA_SYNC_LATE_MS from now. */
void kula_asked_end(kula_asked *a, uint64_t now_ms);
/* A BLOCK of height h came from the peer.  Returns: true if it answers a
 * recent request (and counts it: each block asked is harmless once), false
 * if it is unsolicited (misbehaviour, SPEC §12.3). */
bool kula_asked_block(kula_asked *a, uint64_t h, uint64_t now_ms);

#endif /* KULA_ASKED_H */
