/* health.c -- a node's state in one word and a reason. */
#include "kula/api/health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kula_health_name(kula_health_state s)
{
    switch (s) {
    case KULA_HEALTH_OK: return "ok";
    case KULA_HEALTH_STORAGE: return "storage-error";
    case KULA_HEALTH_NOT_MEMBER: return "not-a-member";
    case KULA_HEALTH_ISOLATED: return "isolated";
    case KULA_HEALTH_STALLED: return "stalled";
    case KULA_HEALTH_SYNCING: return "syncing";
    }
    return "?";
}

static void set(kula_health *out, kula_health_state s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set(kula_health *out, kula_health_state s, const char *fmt, ...)
{
    out->state = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

void kula_health_eval(kula_health *out, const kula_health_input *in)
{
    uint64_t age = in->now_ms > in->last_block_ms ? in->now_ms - in->last_block_ms : 0;
    uint64_t stall = (uint64_t)in->interval_ms * KULA_HEALTH_STALL_INTERVALS;
    if (stall < KULA_HEALTH_STALL_MIN_MS)
        stall = KULA_HEALTH_STALL_MIN_MS;
    uint64_t behind = in->target > in->height ? in->target - in->height : 0;
    if (in->write_errno != 0) {
        if (in->disk_full || in->write_errno == ENOSPC || in->write_errno == EDQUOT)
            set(out, KULA_HEALTH_STORAGE,
                "the disk is full: block %llu cannot be written; free space in the data "
                "directory's file system",
                (unsigned long long)in->height + 1);
        else
            set(out, KULA_HEALTH_STORAGE, "block %llu cannot be written: %s",
                (unsigned long long)in->height + 1, strerror(in->write_errno));
    } else if (in->key == KULA_KEY_REMOVED) {
        set(out, KULA_HEALTH_NOT_MEMBER,
            "member %u was removed by governance: this node's key signs nothing more",
            in->member);
    } else if (in->key == KULA_KEY_ROTATED) {
        set(out, KULA_HEALTH_NOT_MEMBER,
            "member %u rotated to another key: restart this node with the new key",
            in->member);
    } else if (in->key == KULA_KEY_UNKNOWN) {
        set(out, KULA_HEALTH_NOT_MEMBER, "this node's key belongs to no member");
    } else if (in->needs_peers && in->peers == 0) {
        set(out, KULA_HEALTH_ISOLATED, "no peer connected; no block for %llu s",
            (unsigned long long)(age / 1000));
    } else if (age >= stall) {
        if (behind > 0)
            set(out, KULA_HEALTH_STALLED, "no block for %llu s, %llu blocks behind a peer",
                (unsigned long long)(age / 1000), (unsigned long long)behind);
        else
            set(out, KULA_HEALTH_STALLED,
                "no block for %llu s (one is due every %u ms); %u peers connected",
                (unsigned long long)(age / 1000), in->interval_ms, in->peers);
    } else if (behind > 1) {
        set(out, KULA_HEALTH_SYNCING, "%llu blocks behind (height %llu of %llu)",
            (unsigned long long)behind, (unsigned long long)in->height,
            (unsigned long long)in->target);
    } else {
        out->state = KULA_HEALTH_OK;
        out->reason[0] = '\0';
    }
}
