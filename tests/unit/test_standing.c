/* test_standing.c -- where a key stands in the ledger's state
 * (kula_key_standing, include/kula/chain/standing.h): the admission rule of
 * proto/SPEC.md §11.4 that the handshake, the re-check of live sessions
 * after every block, the consensus engine (may this node vote?) and the
 * single-validator producer all ask.  A rotated-out key stays bound to its
 * member (proto/LEDGER.md) but is no longer the member's; a removed
 * member's key is no member's either. */
#include <criterion/criterion.h>

#include <string.h>

#include "kula/chain/standing.h"
#include "ledgerutil.h"

static lu_net net;

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

static void teardown(void)
{
    if (net.l != NULL)
        lu_net_close(&net);
}

TestSuite(standing, .init = setup, .fini = teardown);

#define SIGN(tx, ...) lu_sealsign(&net, (tx), LU_SIGNERS(__VA_ARGS__))

/* Proposed by 1 with yes from 2 and 3: passes among 4 active members, or 3. */
static void pass4(const kula_action *a)
{
    kula_tx tx;
    lu_tx(&net, &tx, KULA_TX_PROPOSE, 1);
    tx.u.propose.action = *a;
    lu_ok(&net, SIGN(&tx, 1));
    kula_hash id = tx.id;
    for (uint32_t from = 2; from <= 3; from++) {
        lu_tx(&net, &tx, KULA_TX_VOTE, from);
        tx.u.vote.proposal = id;
        tx.u.vote.approve = true;
        lu_ok(&net, SIGN(&tx, from));
    }
    kula_proposal q;
    cr_assert_eq(kula_ledger_proposal(net.l, &id, &q), 0);
    cr_assert_eq(q.status, KULA_PROPOSAL_PASSED, "status %u", q.status);
}

static kula_pubkey key_of(uint32_t n)
{
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(n, &sk, &pk);
    return pk;
}

Test(standing, members_rotated_removed_and_unknown)
{
    kula_genesis g;
    lu_genesis(&g, 4, 1000, NULL);
    lu_net_open(&net, &g);
    kula_member m;
    for (uint32_t id = 1; id <= 4; id++) {
        kula_pubkey k = key_of(id);
        cr_assert_eq(kula_key_standing(net.l, &k, &m), KULA_STANDING_MEMBER);
        cr_assert_eq(m.id, id);
    }
    kula_pubkey stranger = key_of(9);
    cr_assert_eq(kula_key_standing(net.l, &stranger, NULL), KULA_STANDING_UNKNOWN);

    /* member 4 is removed: its key is bound to it, and no member's */
    lu_begin(&net);
    kula_action rm;
    memset(&rm, 0, sizeof(rm));
    rm.kind = KULA_ACT_REMOVE;
    rm.member = 4;
    pass4(&rm);
    lu_end(&net, NULL);
    kula_pubkey k4 = key_of(4);
    cr_assert_eq(kula_key_standing(net.l, &k4, &m), KULA_STANDING_REMOVED);
    cr_assert_eq(m.id, 4);
    cr_assert_eq(m.status, KULA_MEMBER_REMOVED);

    /* member 3 rotates to key 7: key 3 is bound to it, but no longer its */
    lu_begin(&net);
    kula_action rot;
    memset(&rot, 0, sizeof(rot));
    rot.kind = KULA_ACT_ROTATE_KEY;
    rot.member = 3;
    rot.pubkey = key_of(7);
    pass4(&rot);
    lu_end(&net, NULL);
    kula_pubkey k3 = key_of(3), k7 = key_of(7);
    memset(&m, 0, sizeof(m));
    cr_assert_eq(kula_key_standing(net.l, &k3, &m), KULA_STANDING_ROTATED);
    cr_assert_eq(m.id, 3, "the member the old key stays bound to");
    cr_assert_eq(memcmp(m.pubkey.b, k7.b, 32), 0, "and its current key");
    cr_assert_eq(kula_key_standing(net.l, &k7, &m), KULA_STANDING_MEMBER);
    cr_assert_eq(m.id, 3);

    /* the others are untouched */
    kula_pubkey k1 = key_of(1), k2 = key_of(2);
    cr_assert_eq(kula_key_standing(net.l, &k1, NULL), KULA_STANDING_MEMBER);
    cr_assert_eq(kula_key_standing(net.l, &k2, NULL), KULA_STANDING_MEMBER);
}
