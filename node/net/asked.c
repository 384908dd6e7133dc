/* asked.c -- the blocks a node asked of one peer, and whether a BLOCK
 * answers them (kula/net/asked.h). */
#include "kula/net/asked.h"

#include <string.h>

static bool expired(const kula_asked *a, uint64_t now_ms)
{
    return !a->in_flight && now_ms > a->until_ms;
}

void kula_asked_request(kula_asked *a, uint64_t from, uint32_t count, uint64_t now_ms)
{
    uint64_t end = from + count - 1;
    if (a->hi == 0 || expired(a, now_ms)) {
        a->lo = from;
        a->hi = end;
        a->budget = count;
    } else {
        if (from < a->lo)
            a->lo = from;
        if (end > a->hi)
            a->hi = end;
        a->budget += count;
    }
    a->in_flight = true;
}

void kula_asked_end(kula_asked *a, uint64_t now_ms)
{
    if (!a->in_flight)
        return;
    a->in_flight = false;
    a->until_ms = now_ms + KULA_SYNC_LATE_MS;
}

bool kula_asked_block(kula_asked *a, uint64_t h, uint64_t now_ms)
{
    if (a->hi != 0 && expired(a, now_ms))
        memset(a, 0, sizeof(*a));
    if (a->hi == 0 || h < a->lo || h > a->hi || a->budget == 0)
        return false;
    a->budget--;
    return true;
}
