/* p2p_members.c -- membership on live sessions (proto/SPEC.md §11.4,
 * §12.2): which keys may hold a session, checked again after every block,
 * and what a peer whose key lost its membership may still do. */
#include <stdio.h>
#include <string.h>

#include "kula/base/log.h"

#include "p2p_internal.h"

static bool is_observer(const kula_p2p *p, const kula_pubkey *key)
{
    for (size_t i = 0; i < p->env.nobservers; i++)
        if (memcmp(p->env.observers[i].b, key->b, KULA_PUBKEY_LEN) == 0)
            return true;
    return false;
}

/* proto/SPEC.md §11.4: "a node MUST refuse every identity that is neither
 * the key of a member of the network in its current state, nor an observer
 * key the members admitted (LEDGER.md §6.4), nor one listed in its
 * configuration". */
bool p2p_admitted(kula_p2p *p, const kula_pubkey *key, kula_standing *st, kula_member *m)
{
    *st = kula_key_standing(kula_chain_ledger(p->env.chain), key, m);
    return *st == KULA_STANDING_MEMBER || *st == KULA_STANDING_OBSERVER || is_observer(p, key);
}

void p2p_log_refused(kula_p2p *p, const kula_pubkey *key, kula_standing st,
                     const kula_member *m)
{
    (void)p;
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, key->b, KULA_PUBKEY_LEN);
    if (st == KULA_STANDING_REMOVED || st == KULA_STANDING_ROTATED)
        kula_info("peer key %s refused: it was member %s's (%u), %s", hex, m->name, m->id,
                  st == KULA_STANDING_REMOVED ? "whom the members removed"
                                              : "before the members rotated it");
    else
        kula_info("peer key %s refused: not a member nor an admitted observer (the members "
                  "admit it with: kula propose admit-observer --pubkey %s --name NAME)",
                  hex, hex);
}

#define DROPPED_SAY_MS 60000u

void p2p_on_dropped(void *ctx, const char *addr, const kula_pubkey *self)
{
    kula_p2p *p = ctx;
    kula_standing st;
    kula_member m;
    uint64_t now = uv_now(p->loop);
    if (p2p_admitted(p, self, &st, &m) ||
        (p->dropped_said_ms != 0 && now - p->dropped_said_ms < DROPPED_SAY_MS))
        return;
    p->dropped_said_ms = now;
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, self->b, KULA_PUBKEY_LEN);
    kula_warn("peer %s closed the connection at once: this node's key is not a member nor an "
              "admitted observer: ask the members to admit %s (kula propose admit-observer "
              "--pubkey %s --name NAME)",
              addr, hex, hex);
}

/* Why a key that was admitted no longer is, at block h. */
static void revoke_reason(char *out, size_t len, kula_standing st, const kula_member *m,
                          const kula_pubkey *key, uint64_t h)
{
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, key->b, KULA_PUBKEY_LEN);
    switch (st) {
    case KULA_STANDING_REMOVED:
        snprintf(out, len, "member %s (%u) was removed at block %llu", m->name, m->id,
                 (unsigned long long)h);
        return;
    case KULA_STANDING_ROTATED:
        snprintf(out, len, "the key %.16s of member %s (%u) was rotated at block %llu", hex,
                 m->name, m->id, (unsigned long long)h);
        return;
    case KULA_STANDING_UNKNOWN:
    case KULA_STANDING_MEMBER:
    case KULA_STANDING_OBSERVER:
        break;
    }
    snprintf(out, len,
             "the key %.16s is no longer a member's nor an admitted observer's at block %llu",
             hex, (unsigned long long)h);
}

/* Ends the sessions of ids (the peers stay until the loop has closed their
 * connections and called on_disconnect).  x->why outlives the call: the
 * transport logs it at once. */
static void disconnect_revoked(kula_p2p *p, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        peer *x = p2p_find_peer(p, ids[i]);
        if (x != NULL)
            kula_net_disconnect(p->net, x->id, x->why);
    }
}

/* Checks every established peer's key against the state after block h,
 * the tip (p2p.h): a peer no longer admitted is sent nothing more but the
 * blocks up to h, and its session ends once it has h, or at its deadline.
 * Cheap enough to run after every block without looking at what it changed:
 * two look-ups in the state per peer, about 0.3 us each, 70-90 us for 256
 * peers (tests/bench/bench_recheck.c). */
void p2p_recheck_sessions(kula_p2p *p)
{
    uint64_t h = kula_chain_height(p->env.chain);
    uint32_t now_gone[MAX_PEERS];
    size_t ngone = 0;
    for (peer *x = p->peers; x != NULL; x = x->next) {
        const kula_pubkey *key = kula_net_peer_key(p->net, x->id);
        kula_standing st;
        kula_member m;
        if (x->revoked_at != 0 || key == NULL || p2p_admitted(p, key, &st, &m))
            continue;
        x->revoked_at = h;
        x->revoke_deadline = uv_now(p->loop) + KULA_P2P_REVOKE_MS;
        revoke_reason(x->why, sizeof(x->why), st, &m, key, h);
        x->offering = false;
        if (x->serve_end > h)
            x->serve_end = h;
        if (p->sync_peer == x->id)
            p->sync_peer = 0; /* asked again of another peer (on_tick) */
        kula_info("peer %u: %s: it is sent nothing more but the blocks up to %llu, and its "
                  "session ends",
                  x->id, x->why, (unsigned long long)h);
        if (x->height >= h) {
            if (ngone < MAX_PEERS)
                now_gone[ngone++] = x->id;
        } else {
            p2p_send_status(p, x); /* it learns that block h is here to fetch */
        }
    }
    disconnect_revoked(p, now_gone, ngone);
}

/* What a peer whose key lost its membership may still do: say its height
 * (its session ends once it has the block that revoked it) and fetch the
 * blocks up to that one (serve clamps them).  The rest is ignored. */
void p2p_on_revoked_msg(kula_p2p *p, peer *x, const kula_msg *m)
{
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
        x->height = m->u.status.height;
        if (x->height >= x->revoked_at)
            kula_net_disconnect(p->net, x->id, x->why);
        return;
    case KULA_MSG_GET_BLOCKS:
        x->serve_next = m->u.get_blocks.from;
        x->serve_end = m->u.get_blocks.from + m->u.get_blocks.count - 1;
        if (x->serve_end > x->revoked_at)
            x->serve_end = x->revoked_at;
        if (x->serve_next <= x->serve_end)
            p2p_serve(p, x);
        else
            x->serve_end = 0;
        return;
    case KULA_MSG_TX:
    case KULA_MSG_PROPOSAL:
    case KULA_MSG_VOTE:
    case KULA_MSG_BLOCK:
    case KULA_MSG_GET_PEERS:
    case KULA_MSG_PEERS:
    case KULA_MSG_EVIDENCE:
    case KULA_MSG_GET_SNAPSHOTS:
    case KULA_MSG_SNAPSHOTS:
    case KULA_MSG_GET_CHUNK:
    case KULA_MSG_CHUNK:
    case KULA_MSG_TX_BATCH:
        return;
    }
}

void p2p_end_revoked(kula_p2p *p)
{
    uint32_t gone[MAX_PEERS];
    size_t ngone = 0;
    for (peer *x = p->peers; x != NULL && ngone < MAX_PEERS; x = x->next)
        if (x->revoked_at != 0 && uv_now(p->loop) >= x->revoke_deadline)
            gone[ngone++] = x->id;
    disconnect_revoked(p, gone, ngone);
}
