/* test_evidence.c -- building evidence transactions for the node
 * (node/types/evidence.c) and their JSON view: what kula_evidence_tx makes is
 * canonical, decodes to itself and applies on a ledger. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <string.h>

#include "kula/types/evidence.h"
#include "kula/types/txjson.h"
#include "ledgerutil.h"

static lu_net net;

static void setup(void) { cr_assert_eq(kula_crypto_init(), 0); }

static void teardown(void)
{
    if (net.l != NULL)
        lu_net_close(&net);
}

TestSuite(evidence, .init = setup, .fini = teardown);

static kula_vote vote(uint32_t validator, uint8_t type, uint64_t height, uint32_t round,
                      const char *block)
{
    kula_vote v;
    memset(&v, 0, sizeof(v));
    v.type = type;
    v.height = height;
    v.round = round;
    v.has_block = block != NULL;
    if (block != NULL)
        kula_hash_bytes(&v.block_hash, block, strlen(block));
    v.validator = validator;
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(validator, &sk, &pk);
    kula_hash d;
    kula_vote_sighash(&d, &net.g.chain_id, &v);
    cr_assert_eq(kula_sign(&v.sig, &sk, d.b), 0);
    return v;
}

/* Members 1 and 2 validators, member 3 not; block 1 is empty. */
static void open_net(void)
{
    kula_genesis g;
    lu_genesis(&g, 3, 1000, (const uint64_t[]){ 1, 1, 0 });
    lu_net_open(&net, &g);
    lu_begin(&net);
    lu_end(&net, NULL);
}

Test(evidence, built_in_either_order_and_applied)
{
    open_net();
    kula_seckey sk3;
    kula_pubkey pk3;
    lu_member_key(3, &sk3, &pk3);
    kula_vote x = vote(2, KULA_VOTE_PRECOMMIT, 1, 0, "block A");
    kula_vote y = vote(2, KULA_VOTE_PRECOMMIT, 1, 0, NULL);
    kula_tx t1, t2;
    kula_buf body1, body2, out1, out2;
    kula_buf_init(&body1);
    kula_buf_init(&body2);
    kula_buf_init(&out1);
    kula_buf_init(&out2);
    kula_buf_append(&out1, "junk", 4); /* out is reset first */
    cr_assert_eq(kula_evidence_tx(&t1, &body1, &out1, &net.g.chain_id, 3, 1, &sk3, &x, &y), 0);
    cr_assert_eq(kula_evidence_tx(&t2, &body2, &out2, &net.g.chain_id, 3, 1, &sk3, &y, &x), 0);
    /* One piece of evidence, one body (the signatures differ: BIP-340 with
     * fresh auxiliary randomness); its votes in ascending order (a nil
     * vote's c4 00 sorts before a hash's c4 20). */
    cr_assert_eq(body1.len, body2.len);
    cr_assert_eq(memcmp(body1.data, body2.data, body1.len), 0);
    cr_assert_eq(memcmp(t1.id.b, t2.id.b, 32), 0);
    cr_assert_eq(out1.len, out2.len);
    cr_assert_lt(kula_vote_cmp(&t1.u.evidence.a, &t1.u.evidence.b), 0);
    cr_assert_not(t1.u.evidence.a.has_block);
    cr_assert(t1.u.evidence.b.has_block);
    cr_assert_eq(t1.nsigs, 1);
    cr_assert_eq(t1.sigs[0].signer, 3);
    kula_tx d;
    cr_assert_eq(kula_tx_decode(&d, out1.data, out1.len), 0);
    cr_assert_eq(memcmp(d.id.b, t1.id.b, 32), 0);
    cr_assert_eq(d.kind, KULA_TX_EVIDENCE);
    cr_assert_eq(d.memo.n, 0);
    cr_assert_eq(memcmp(d.u.evidence.b.sig.b, x.sig.b, KULA_SIG_LEN), 0);

    lu_begin(&net);
    kula_tx_effects fx;
    int rc = kula_ledger_apply_tx(net.l, &d, NULL, &fx);
    cr_assert_eq(rc, 0, "apply: %s", kula_errname(rc));
    kula_evidence e;
    cr_assert_eq(kula_ledger_evidence(net.l, 2, 1, 0, KULA_VOTE_PRECOMMIT, &e), 0);
    cr_assert_eq(e.reporter, 3);
    cr_assert_eq(e.recorded, 2);
    /* The same offence again, whoever reports it: refused. */
    kula_seckey sk1;
    kula_pubkey pk1;
    lu_member_key(1, &sk1, &pk1);
    cr_assert_eq(kula_evidence_tx(&t2, &body2, &out2, &net.g.chain_id, 1, 1, &sk1, &x, &y), 0);
    cr_assert_eq(kula_tx_decode(&d, out2.data, out2.len), 0);
    lu_reject(&net, &d, KULA_EEXIST);
    lu_end(&net, NULL);
    kula_buf_free(&body1);
    kula_buf_free(&body2);
    kula_buf_free(&out1);
    kula_buf_free(&out2);
}

Test(evidence, votes_that_do_not_conflict_are_refused)
{
    open_net();
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(3, &sk, &pk);
    kula_vote a = vote(2, KULA_VOTE_PREVOTE, 1, 0, "block A");
    kula_vote others[] = {
        a,
        vote(2, KULA_VOTE_PREVOTE, 1, 0, "block A"), /* re-signed */
        vote(1, KULA_VOTE_PREVOTE, 1, 0, "block B"),
        vote(2, KULA_VOTE_PRECOMMIT, 1, 0, "block B"),
        vote(2, KULA_VOTE_PREVOTE, 2, 0, "block B"),
        vote(2, KULA_VOTE_PREVOTE, 1, 1, "block B"),
    };
    kula_tx tx;
    kula_buf body, out;
    kula_buf_init(&body);
    kula_buf_init(&out);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        cr_assert_eq(kula_evidence_tx(&tx, &body, &out, &net.g.chain_id, 3, 1, &sk, &a,
                                      &others[i]),
                     KULA_EEVIDENCE, "case %zu", i);
    kula_vote n1 = vote(2, KULA_VOTE_PREVOTE, 1, 0, NULL), n2 = vote(2, KULA_VOTE_PREVOTE, 1, 0, NULL);
    cr_assert_eq(kula_evidence_tx(&tx, &body, &out, &net.g.chain_id, 3, 1, &sk, &n1, &n2),
                 KULA_EEVIDENCE);
    kula_buf_free(&body);
    kula_buf_free(&out);
}

Test(evidence, json_view)
{
    open_net();
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(3, &sk, &pk);
    kula_vote a = vote(2, KULA_VOTE_PREVOTE, 7, 3, "block A");
    kula_vote b = vote(2, KULA_VOTE_PREVOTE, 7, 3, NULL);
    kula_tx tx;
    kula_buf body, out;
    kula_buf_init(&body);
    kula_buf_init(&out);
    cr_assert_eq(kula_evidence_tx(&tx, &body, &out, &net.g.chain_id, 3, 4, &sk, &a, &b), 0);
    json_t *j = kula_tx_to_json(&tx);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "evidence");
    cr_assert_eq(json_integer_value(json_object_get(j, "from")), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "validator")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(j, "vote_type")), "prevote");
    cr_assert_eq(json_integer_value(json_object_get(j, "vote_height")), 7);
    cr_assert_eq(json_integer_value(json_object_get(j, "vote_round")), 3);
    cr_assert(json_is_null(json_object_get(j, "block_a")));
    char hex[65];
    kula_hex_encode(hex, a.block_hash.b, 32);
    cr_assert_str_eq(json_string_value(json_object_get(j, "block_b")), hex);
    cr_assert_null(json_object_get(j, "vote_b"));
    json_decref(j);
    kula_buf_free(&body);
    kula_buf_free(&out);
}
