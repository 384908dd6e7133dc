/* test_observers.c -- observers admitted by governance (proto/LEDGER.md
 * §6.4, SPEC §6.16 actions 7 and 8, §10.1 record "O"): admitting and
 * removing, every refusal at proposing and at passing, the standing the
 * peer layer admits by, and the record's strict decoder.
 *
 * Every refused transaction goes through lu_reject(), which also checks
 * that the block's diff is byte for byte what it was before. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
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

TestSuite(observers, .init = setup, .fini = teardown);

#define SIGN(tx, ...) lu_sealsign(&net, (tx), LU_SIGNERS(__VA_ARGS__))

/* four members, member 1 the only validator: three yes votes pass */
static void open_net(void)
{
    kula_genesis g;
    lu_genesis(&g, 4, 1000, NULL);
    lu_net_open(&net, &g);
}

static kula_action a_obs(uint8_t kind, const kula_pubkey *pk, const char *name)
{
    kula_action a;
    memset(&a, 0, sizeof(a));
    a.kind = kind;
    a.pubkey = *pk;
    a.name = lu_text(name);
    return a;
}

static kula_pubkey key_of(const char *text)
{
    kula_seckey sk;
    kula_pubkey pk;
    lu_key_from(&sk, &pk, text);
    return pk;
}

static void f_propose(kula_tx *tx, uint32_t from, const kula_action *a)
{
    lu_tx(&net, tx, KULA_TX_PROPOSE, from);
    tx->u.propose.action = *a;
}

static kula_hash propose(const kula_action *a)
{
    kula_tx tx;
    f_propose(&tx, 1, a);
    lu_ok(&net, SIGN(&tx, 1));
    return tx.id;
}

static void vote(uint32_t from, const kula_hash *id)
{
    kula_tx tx;
    lu_tx(&net, &tx, KULA_TX_VOTE, from);
    tx.u.vote.proposal = *id;
    tx.u.vote.approve = true;
    lu_ok(&net, SIGN(&tx, from));
}

static kula_proposal proposal(const kula_hash *id)
{
    kula_proposal q;
    int rc = kula_ledger_proposal(net.l, id, &q);
    cr_assert_eq(rc, 0, "proposal: %s", kula_errname(rc));
    return q;
}

/* proposed by 1, passed by the votes of 2 and 3 */
static kula_proposal pass(const kula_action *a)
{
    kula_hash id = propose(a);
    vote(2, &id);
    vote(3, &id);
    return proposal(&id);
}

static void refused(const kula_action *a, int err)
{
    kula_tx tx;
    f_propose(&tx, 1, a);
    lu_reject(&net, SIGN(&tx, 1), err);
}

static kula_observers observers(void)
{
    kula_observers os;
    int rc = kula_ledger_observers(net.l, &os);
    cr_assert_eq(rc, 0, "observers: %s", kula_errname(rc));
    return os;
}

Test(observers, admitted_then_removed_at_the_block_the_proposal_passes)
{
    open_net();
    lu_begin(&net);
    kula_pubkey pk = key_of("auditor");
    kula_action adm = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, "Ledger Audit Ltd");
    kula_hash id = propose(&adm);
    vote(2, &id);
    cr_assert_eq(observers().n, 0, "not before it passes");
    cr_assert_eq(kula_key_standing(net.l, &pk, NULL), KULA_STANDING_UNKNOWN);
    vote(3, &id);
    cr_assert_eq(proposal(&id).status, KULA_PROPOSAL_PASSED);
    kula_observers os = observers();
    cr_assert_eq(os.n, 1);
    cr_assert_eq(memcmp(os.v[0].pubkey.b, pk.b, 32), 0);
    cr_assert_str_eq(os.v[0].name, "Ledger Audit Ltd");
    cr_assert_eq(os.v[0].admitted, 1);
    kula_member m;
    cr_assert_eq(kula_key_standing(net.l, &pk, &m), KULA_STANDING_OBSERVER);
    cr_assert_str_eq(m.name, "Ledger Audit Ltd");
    cr_assert_eq(m.id, 0, "an observer is no member");
    kula_hash with_observer;
    lu_end(&net, &with_observer);

    lu_begin(&net);
    kula_action rm = a_obs(KULA_ACT_REMOVE_OBSERVER, &pk, "");
    cr_assert_eq(pass(&rm).status, KULA_PROPOSAL_PASSED);
    cr_assert_eq(observers().n, 0);
    cr_assert_eq(kula_key_standing(net.l, &pk, NULL), KULA_STANDING_UNKNOWN);
    /* a removed observer's key holds nothing on the ledger: it may be
     * admitted again */
    cr_assert_eq(pass(&adm).status, KULA_PROPOSAL_PASSED);
    cr_assert_eq(observers().v[0].admitted, 2);
    lu_end(&net, NULL);
}

Test(observers, kept_in_ascending_key_order_whatever_the_order_admitted)
{
    open_net();
    lu_begin(&net);
    char name[32];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "observer %d", i);
        kula_pubkey pk = key_of(name);
        kula_action a = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, name);
        cr_assert_eq(pass(&a).status, KULA_PROPOSAL_PASSED);
    }
    kula_observers os = observers();
    cr_assert_eq(os.n, 6);
    for (uint32_t i = 1; i < os.n; i++)
        cr_assert(memcmp(os.v[i - 1].pubkey.b, os.v[i].pubkey.b, 32) < 0);
    lu_end(&net, NULL);
}

Test(observers, every_refusal_at_proposing)
{
    open_net();
    lu_begin(&net);
    kula_pubkey pk = key_of("auditor");
    kula_action adm = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, "Audit");
    /* an invalid key, a member's key, an empty name, a control character */
    kula_pubkey bad;
    memset(bad.b, 0xff, 32);
    kula_action a = a_obs(KULA_ACT_ADMIT_OBSERVER, &bad, "Audit");
    refused(&a, KULA_EBADKEY);
    kula_seckey sk2;
    kula_pubkey pk2;
    lu_member_key(2, &sk2, &pk2);
    a = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk2, "Audit");
    refused(&a, KULA_EOBSERVERMEMBER);
    a = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, "");
    refused(&a, KULA_ETEXT);
    a = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, "Au\001dit");
    refused(&a, KULA_ETEXT);
    /* removing a key that is no observer's */
    a = a_obs(KULA_ACT_REMOVE_OBSERVER, &pk, "");
    refused(&a, KULA_EUNKNOWNOBSERVER);
    cr_assert_eq(pass(&adm).status, KULA_PROPOSAL_PASSED);
    /* the same key again; another key under the same name */
    refused(&adm, KULA_EDUPOBSERVER);
    kula_pubkey other = key_of("another auditor");
    a = a_obs(KULA_ACT_ADMIT_OBSERVER, &other, "Audit");
    refused(&a, KULA_EOBSERVERNAME);
    /* an observer's key may not become a member's, by admission or rotation */
    kula_action mem;
    memset(&mem, 0, sizeof(mem));
    mem.kind = KULA_ACT_ADMIT;
    mem.pubkey = pk;
    mem.name = lu_text("New Bakery");
    mem.sector = lu_text("food");
    mem.credit_limit = 500;
    refused(&mem, KULA_EDUPOBSERVER);
    kula_action rot;
    memset(&rot, 0, sizeof(rot));
    rot.kind = KULA_ACT_ROTATE_KEY;
    rot.member = 2;
    rot.pubkey = pk;
    refused(&rot, KULA_EDUPOBSERVER);
    lu_end(&net, NULL);
}

Test(observers, at_most_64)
{
    open_net();
    lu_begin(&net);
    char name[32];
    for (int i = 0; i < KULA_MAX_LEDGER_OBSERVERS; i++) {
        snprintf(name, sizeof(name), "observer %d", i);
        kula_pubkey pk = key_of(name);
        kula_action a = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, name);
        cr_assert_eq(pass(&a).status, KULA_PROPOSAL_PASSED, "observer %d", i);
    }
    cr_assert_eq(observers().n, KULA_MAX_LEDGER_OBSERVERS);
    kula_pubkey pk = key_of("one too many");
    kula_action a = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, "one too many");
    refused(&a, KULA_ETOOMANYOBSERVERS);
    lu_end(&net, NULL);
}

Test(observers, checked_again_when_the_proposal_passes)
{
    open_net();
    lu_begin(&net);
    kula_pubkey pk = key_of("auditor");
    kula_action adm = a_obs(KULA_ACT_ADMIT_OBSERVER, &pk, "Audit");
    cr_assert_eq(pass(&adm).status, KULA_PROPOSAL_PASSED);
    /* two removals open at once: the second fails when it passes */
    kula_action rm = a_obs(KULA_ACT_REMOVE_OBSERVER, &pk, "");
    kula_hash first = propose(&rm), second = propose(&rm);
    vote(2, &first);
    vote(3, &first);
    cr_assert_eq(proposal(&first).status, KULA_PROPOSAL_PASSED);
    vote(2, &second);
    vote(3, &second);
    kula_proposal q = proposal(&second);
    cr_assert_eq(q.status, KULA_PROPOSAL_FAILED);
    cr_assert_eq(q.failure, KULA_EUNKNOWNOBSERVER);
    /* an admission overtaken by the same key becoming a member's */
    kula_pubkey nk = key_of("new member");
    kula_action obs = a_obs(KULA_ACT_ADMIT_OBSERVER, &nk, "Audit 2");
    kula_hash o = propose(&obs);
    kula_action mem;
    memset(&mem, 0, sizeof(mem));
    mem.kind = KULA_ACT_ADMIT;
    mem.pubkey = nk;
    mem.name = lu_text("New Bakery");
    mem.sector = lu_text("food");
    mem.credit_limit = 500;
    cr_assert_eq(pass(&mem).status, KULA_PROPOSAL_PASSED);
    vote(2, &o);
    vote(3, &o);
    vote(4, &o); /* five members now: four yes votes pass */
    q = proposal(&o);
    cr_assert_eq(q.status, KULA_PROPOSAL_FAILED);
    cr_assert_eq(q.failure, KULA_EOBSERVERMEMBER);
    cr_assert_eq(observers().n, 0);
    /* and a name taken meanwhile */
    kula_pubkey k1 = key_of("k1"), k2 = key_of("k2");
    kula_action a1 = a_obs(KULA_ACT_ADMIT_OBSERVER, &k1, "Same"),
                a2 = a_obs(KULA_ACT_ADMIT_OBSERVER, &k2, "Same");
    kula_hash h2 = propose(&a2), h1 = propose(&a1);
    vote(2, &h1);
    vote(3, &h1);
    vote(4, &h1);
    cr_assert_eq(proposal(&h1).status, KULA_PROPOSAL_PASSED);
    vote(2, &h2);
    vote(3, &h2);
    vote(4, &h2);
    cr_assert_eq(proposal(&h2).status, KULA_PROPOSAL_FAILED);
    cr_assert_eq(proposal(&h2).failure, KULA_EOBSERVERNAME);
    lu_end(&net, NULL);
}

/* ---- the record ---- */

static size_t encode(kula_buf *b, const kula_observers *os)
{
    kula_buf_reset(b);
    cr_assert_eq(kula_observers_encode(b, os), 0);
    return b->len;
}

Test(observers, record_round_trip_and_strict_decoder)
{
    kula_observers os, back;
    memset(&os, 0, sizeof(os));
    os.n = 2;
    memset(os.v[0].pubkey.b, 1, 32);
    memset(os.v[1].pubkey.b, 2, 32);
    strcpy(os.v[0].name, "A");
    strcpy(os.v[1].name, "B");
    os.v[1].admitted = 7;
    kula_buf b;
    kula_buf_init(&b);
    encode(&b, &os);
    cr_assert_eq(kula_observers_decode(&back, b.data, b.len), 0);
    cr_assert_eq(back.n, 2);
    cr_assert_str_eq(back.v[1].name, "B");
    cr_assert_eq(back.v[1].admitted, 7);
    /* out of order, twice the same key, an empty name */
    kula_observers bad = os;
    bad.v[0].pubkey = os.v[1].pubkey;
    bad.v[1].pubkey = os.v[0].pubkey;
    encode(&b, &bad);
    cr_assert_eq(kula_observers_decode(&back, b.data, b.len), KULA_EORDER);
    bad = os;
    bad.v[1].pubkey = os.v[0].pubkey;
    encode(&b, &bad);
    cr_assert_eq(kula_observers_decode(&back, b.data, b.len), KULA_EORDER);
    bad = os;
    bad.v[0].name[0] = '\0';
    encode(&b, &bad);
    cr_assert_eq(kula_observers_decode(&back, b.data, b.len), KULA_EORDER);
    /* more than 64 */
    kula_buf_reset(&b);
    kula_writer w;
    kula_writer_init(&w, &b);
    kula_w_array(&w, KULA_MAX_LEDGER_OBSERVERS + 1);
    cr_assert_neq(kula_observers_decode(&back, b.data, b.len), 0);
    kula_buf_free(&b);
}
