/* test_asked.c -- which BLOCKs from a peer answer what this node asked of it
 * (kula/net/asked.h; SPEC §12.2, §12.3): a late answer is harmless, a flood
 * is not. */
#include <criterion/criterion.h>

#include "kula/net/asked.h"
#include "kula/net/p2p.h"

/* Feeds blocks lo..hi at time t; returns how many were taken as answers. */
static uint64_t feed(kula_asked *a, uint64_t lo, uint64_t hi, uint64_t t)
{
    uint64_t ok = 0;
    for (uint64_t h = lo; h <= hi; h++)
        ok += kula_asked_block(a, h, t);
    return ok;
}

Test(asked, nothing_asked_is_unsolicited)
{
    kula_asked a = { 0 };
    cr_assert_not(kula_asked_block(&a, 1, 0));
    cr_assert_not(kula_asked_block(&a, 100, 5000));
}

Test(asked, answers_in_flight)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 10, 64, 1000);
    cr_assert_eq(feed(&a, 10, 73, 2000), 64);
    /* in flight, the time does not matter: the sync deadline ends it */
    kula_asked b = { 0 };
    kula_asked_request(&b, 10, 2, 0);
    cr_assert(kula_asked_block(&b, 11, UINT64_C(1) << 40));
}

/* The request timed out after 11 blocks (the node was slow, or the peer's
 * queue was long); the other 53 come afterwards, and the node meanwhile
 * asked another peer. */
Test(asked, late_answer_after_timeout_is_not_punished)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 10, 64, 0);
    cr_assert_eq(feed(&a, 10, 20, 1000), 11);
    kula_asked_end(&a, KULA_SYNC_TIMEOUT_MS + 1000);
    cr_assert_eq(feed(&a, 21, 73, KULA_SYNC_TIMEOUT_MS + 2000), 53);
}

/* The node was stopped (SIGSTOP) for longer than the window: on waking up
 * it gives the request up, then reads the blocks that came meanwhile. */
Test(asked, late_answer_after_the_node_slept_is_not_punished)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 500, 64, 0);
    uint64_t woke = 10u * KULA_SYNC_LATE_MS;
    kula_asked_end(&a, woke);
    cr_assert_eq(feed(&a, 500, 563, woke + 5), 64);
}

/* Given up, then asked of the same peer again from where the node got to:
 * the peer's queue still holds the first answer, then sends the second. */
Test(asked, asked_again_of_the_same_peer)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 10, 64, 0);
    cr_assert_eq(feed(&a, 10, 20, 100), 11);
    kula_asked_end(&a, 15000);
    kula_asked_request(&a, 21, 64, 15000);
    cr_assert_eq(feed(&a, 21, 73, 15100), 53); /* the rest of the first */
    cr_assert_eq(feed(&a, 21, 84, 15200), 64); /* the second */
    cr_assert_not(kula_asked_block(&a, 84, 15300), "more than asked");
}

Test(asked, flood_is_punished)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 10, 64, 0);
    cr_assert_eq(feed(&a, 10, 73, 100), 64);
    /* the same blocks again, and the ones after: never asked */
    cr_assert_eq(feed(&a, 10, 73, 200), 0);
    cr_assert_not(kula_asked_block(&a, 74, 200));
    /* after the request ends, too */
    kula_asked_end(&a, 300);
    cr_assert_eq(feed(&a, 10, 200, 400), 0);
}

Test(asked, outside_the_heights_asked_is_punished)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 10, 4, 0);
    cr_assert_not(kula_asked_block(&a, 9, 1));
    cr_assert_not(kula_asked_block(&a, 14, 1));
    cr_assert(kula_asked_block(&a, 13, 1));
    /* the budget is what was asked, not what is left in order */
    cr_assert_eq(feed(&a, 10, 13, 2), 3);
    cr_assert_not(kula_asked_block(&a, 10, 3));
}

Test(asked, late_answers_count_for_a_bounded_time)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 10, 64, 0);
    kula_asked_end(&a, 1000);
    cr_assert(kula_asked_block(&a, 10, 1000 + KULA_SYNC_LATE_MS));
    cr_assert_not(kula_asked_block(&a, 11, 1001 + KULA_SYNC_LATE_MS));
    /* and stay forgotten */
    cr_assert_not(kula_asked_block(&a, 12, 1002 + KULA_SYNC_LATE_MS));
    /* a new request after the window counts alone */
    kula_asked_request(&a, 100, 2, 2000 + KULA_SYNC_LATE_MS);
    cr_assert_not(kula_asked_block(&a, 13, 2001 + KULA_SYNC_LATE_MS));
    cr_assert_eq(feed(&a, 99, 102, 2002 + KULA_SYNC_LATE_MS), 2);
}

Test(asked, ending_twice_keeps_the_first_end)
{
    kula_asked a = { 0 };
    kula_asked_request(&a, 10, 2, 0);
    kula_asked_end(&a, 100);
    kula_asked_end(&a, 100 + KULA_SYNC_LATE_MS);
    cr_assert_not(kula_asked_block(&a, 10, 101 + KULA_SYNC_LATE_MS));
}
