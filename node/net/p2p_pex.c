/* p2p_pex.c -- peer exchange (proto/SPEC.md §12): a node asks each new peer
 * once for the addresses it listens on and knows, and answers whoever asks. */
#include "p2p_internal.h"

void p2p_pex_ask(kula_p2p *p, peer *x)
{
    kula_msg m = { .type = KULA_MSG_GET_PEERS };
    if (p2p_encode(p, &m) == 0 && kula_net_send(p->net, x->id, p->out.data, p->out.len) == 0)
        x->asked_peers = true;
}

void p2p_on_get_peers(kula_p2p *p, uint32_t id)
{
    kula_msg r = { .type = KULA_MSG_PEERS };
    r.u.peers.n = (uint32_t)kula_net_listen_addrs(p->net, r.u.peers.addrs, KULA_MAX_PEER_ADDRS);
    if (p2p_encode(p, &r) == 0)
        p2p_send(p, id, p->out.data, p->out.len);
}

/* One answer per question: PEERS never asked for, or a second one, would let
 * a peer fill the node's list of addresses to dial with its own. */
void p2p_on_peers(kula_p2p *p, peer *x, const kula_msg *m)
{
    if (!x->asked_peers || x->got_peers) {
        kula_net_misbehave(p->net, x->id, KULA_SCORE_UNSOLICITED, "peers not asked for");
        return;
    }
    x->got_peers = true;
    for (uint32_t i = 0; i < m->u.peers.n; i++)
        kula_net_add_addr(p->net, &m->u.peers.addrs[i]);
}
