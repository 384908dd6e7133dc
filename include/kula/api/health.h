/* health.h -- a node's state in one word and a reason, from what it can
 * observe: its blocks, its peers, its key's membership and its disk.
 *
 * A pure function of its input (no clock, no I/O), so that each state is
 * unit-tested; the node fills the input every second and serves the result
 * on GET /health, in `kula status` and in /metrics. */
#ifndef KULA_HEALTH_H
#define KULA_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In order of precedence: when several hold, the first is reported. */
typedef enum kula_health_state {
    KULA_HEALTH_OK = 0,
    KULA_HEALTH_STORAGE,     /* the last block could not be written */
    KULA_HEALTH_NOT_MEMBER,  /* the node's member key was removed or rotated out */
    KULA_HEALTH_ISOLATED,    /* no peer, where peers are needed */
    KULA_HEALTH_STALLED,     /* no block for several intervals */
    KULA_HEALTH_SYNCING,     /* peers are ahead; catching up */
} kula_health_state;

/* A node is stalled after this many block intervals without a block, and
 * never before KULA_HEALTH_STALL_MIN_MS (a consensus round with a timeout
 * takes a few seconds). */
#define KULA_HEALTH_STALL_INTERVALS 10u
#define KULA_HEALTH_STALL_MIN_MS 10000u

typedef enum kula_key_membership {
    KULA_KEY_NONE = 0,       /* no member key (an observer, a follower) */
    KULA_KEY_ACTIVE,         /* an active member's current key */
    KULA_KEY_REMOVED,        /* its member was removed */
    KULA_KEY_ROTATED,        /* its member rotated to another key */
    KULA_KEY_UNKNOWN,        /* no member's key (never admitted) */
} kula_key_membership;

typedef struct kula_health_input {
    uint64_t now_ms;          /* monotonic */
    uint64_t last_block_ms;   /* monotonic time of the last new block (or of start) */
    uint32_t interval_ms;     /* the network's block interval */
    uint64_t height;          /* this node's */
    uint64_t target;          /* the highest a peer announced */
    uint32_t peers;           /* established */
    bool needs_peers;         /* cannot finalise blocks alone */
    kula_key_membership key;
    uint32_t member;          /* the key's member, if any */
    int write_errno;          /* the last block write's error, 0 if it worked */
    bool disk_full;           /* the data directory's file system has no room */
} kula_health_input;

typedef struct kula_health {
    kula_health_state state;
    char reason[192];         /* in words; empty when ok */
} kula_health;

/* Out: *out, the state and its reason. */
void kula_health_eval(kula_health *out, const kula_health_input *in);

/* Returns: the state's name ("ok", "storage-error", "not-a-member",
 *          "isolated", "stalled", "syncing"); never NULL. */
const char *kula_health_name(kula_health_state s);

#endif /* KULA_HEALTH_H */
