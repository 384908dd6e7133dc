/* test_health.c -- the node's health states from what it observes: each
 * state, its reason, and which one wins when several hold. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "kula/api/health.h"

/* A healthy validator of a 4-validator network, one block 500 ms ago. */
static kula_health_input base(void)
{
    return (kula_health_input){ .now_ms = 100000, .last_block_ms = 99500, .interval_ms = 1000,
                                .height = 50, .target = 50, .peers = 3, .needs_peers = true,
                                .key = KULA_KEY_ACTIVE, .member = 2 };
}

static kula_health eval(const kula_health_input *in)
{
    kula_health h;
    memset(&h, 0x55, sizeof(h));
    kula_health_eval(&h, in);
    return h;
}

Test(health, ok)
{
    kula_health_input in = base();
    kula_health h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_OK);
    cr_assert_str_eq(h.reason, "");
    cr_assert_str_eq(kula_health_name(h.state), "ok");
    /* a single validator needs no peer */
    in.peers = 0;
    in.needs_peers = false;
    cr_assert_eq(eval(&in).state, KULA_HEALTH_OK);
    /* one block behind is normal between announcements */
    in.target = 51;
    cr_assert_eq(eval(&in).state, KULA_HEALTH_OK);
}

Test(health, stalled_after_several_intervals)
{
    kula_health_input in = base();
    in.last_block_ms = in.now_ms - 9999; /* 10 intervals of 1 s, or 10 s: not yet */
    cr_assert_eq(eval(&in).state, KULA_HEALTH_OK);
    in.last_block_ms = in.now_ms - 30000;
    kula_health h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_STALLED);
    cr_assert_str_eq(kula_health_name(h.state), "stalled");
    cr_assert(strstr(h.reason, "no block for 30 s") != NULL, "%s", h.reason);
    /* a slow network's threshold is ten of its intervals */
    in.interval_ms = 5000;
    cr_assert_eq(eval(&in).state, KULA_HEALTH_OK);
    in.last_block_ms = in.now_ms - 50000;
    cr_assert_eq(eval(&in).state, KULA_HEALTH_STALLED);
}

Test(health, syncing_while_blocks_arrive)
{
    kula_health_input in = base();
    in.target = 90;
    kula_health h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_SYNCING);
    cr_assert(strstr(h.reason, "40 blocks behind") != NULL, "%s", h.reason);
    /* behind and no progress: stalled, saying so */
    in.last_block_ms = in.now_ms - 60000;
    h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_STALLED);
    cr_assert(strstr(h.reason, "40 blocks behind") != NULL, "%s", h.reason);
}

Test(health, isolated_without_peers)
{
    kula_health_input in = base();
    in.peers = 0;
    in.last_block_ms = in.now_ms - 60000;
    kula_health h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_ISOLATED, "isolated explains the stall");
    cr_assert(strstr(h.reason, "no peer") != NULL, "%s", h.reason);
}

Test(health, not_a_member)
{
    kula_health_input in = base();
    in.key = KULA_KEY_REMOVED;
    kula_health h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_NOT_MEMBER);
    cr_assert(strstr(h.reason, "member 2 was removed") != NULL, "%s", h.reason);
    in.key = KULA_KEY_ROTATED;
    h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_NOT_MEMBER);
    cr_assert(strstr(h.reason, "new key") != NULL, "%s", h.reason);
    in.key = KULA_KEY_UNKNOWN;
    cr_assert_eq(eval(&in).state, KULA_HEALTH_NOT_MEMBER);
    in.key = KULA_KEY_NONE; /* an observer */
    cr_assert_eq(eval(&in).state, KULA_HEALTH_OK);
    /* it wins over isolation: the cause, not the symptom */
    in.key = KULA_KEY_REMOVED;
    in.peers = 0;
    cr_assert_eq(eval(&in).state, KULA_HEALTH_NOT_MEMBER);
}

Test(health, storage_error_names_a_full_disk)
{
    kula_health_input in = base();
    in.write_errno = ENOSPC;
    kula_health h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_STORAGE);
    cr_assert_str_eq(kula_health_name(h.state), "storage-error");
    cr_assert(strstr(h.reason, "disk is full") != NULL, "%s", h.reason);
    cr_assert(strstr(h.reason, "block 51") != NULL, "%s", h.reason);
    /* EIO on a file system with no room left is a full disk too */
    in.write_errno = EIO;
    in.disk_full = true;
    cr_assert(strstr(eval(&in).reason, "disk is full") != NULL);
    in.disk_full = false;
    h = eval(&in);
    cr_assert_eq(h.state, KULA_HEALTH_STORAGE);
    cr_assert(strstr(h.reason, strerror(EIO)) != NULL, "%s", h.reason);
    /* it wins over everything */
    in.key = KULA_KEY_REMOVED;
    in.peers = 0;
    in.last_block_ms = 0;
    cr_assert_eq(eval(&in).state, KULA_HEALTH_STORAGE);
}
