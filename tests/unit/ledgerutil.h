/* ledgerutil.h -- helpers shared by the ledger, chain and mempool tests:
 * deterministic member keys, a genesis built in code, transaction building
 * and signing, and a check that a rejected transaction changed nothing.
 *
 * Only the test sources include this header (the CMake glob adds just
 * testutil.c to each test), so everything here is static inline. */
#ifndef KULA_LEDGERUTIL_H
#define KULA_LEDGERUTIL_H

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/ledger/ledger.h"
#include "kula/types/records.h"
#include "kula/ledger/state.h"
#include "kula/types/types.h"

/* The ledger's private struct, so a test can read its state overlay and
 * check with kula_state_diff that a rejected transaction left no trace. */
#include "../../node/ledger/ledger_internal.h"

#define LU_GENESIS_TIME 1795478400000ull /* 2026-11-24T00:00:00Z */

/* ---- keys: secret of member N = BLAKE2b-256("member N") ---- */

static inline void lu_key_from(kula_seckey *sk, kula_pubkey *pk, const char *text)
{
    kula_hash h;
    kula_hash_bytes(&h, text, strlen(text));
    memcpy(sk->b, h.b, KULA_SECKEY_LEN);
    cr_assert_eq(kula_key_public(pk, sk), 0, "key from \"%s\"", text);
}

static inline void lu_member_key(uint32_t n, kula_seckey *sk, kula_pubkey *pk)
{
    char text[64];
    snprintf(text, sizeof(text), "member %u", n);
    lu_key_from(sk, pk, text);
}

/* ---- genesis ---- */

static inline void lu_default_params(kula_params *p)
{
    memset(p, 0, sizeof(*p)); /* the parameters after the ninth: 0 */
    p->default_credit_limit = 1000;
    p->threshold_num = 2;
    p->threshold_den = 3;
    p->proposal_ttl = 5;
    p->block_interval_ms = 1000;
    p->timeout_propose_ms = 3000;
    p->timeout_vote_ms = 1000;
    p->timeout_delta_ms = 500;
    p->max_block_txs = 10000;
}

/* n members "member 1".."member n", each with credit limit `limit`; member i
 * has voting power powers[i-1] (powers NULL: only member 1, power 1).
 * Computes the chain id from the canonical encoding. */
static inline void lu_genesis(kula_genesis *g, uint32_t n, int64_t limit, const uint64_t *powers)
{
    memset(g, 0, sizeof(*g));
    strcpy(g->network, "kula-test");
    strcpy(g->unit, "KULA");
    g->decimals = 2;
    g->time_ms = LU_GENESIS_TIME;
    lu_default_params(&g->params);
    g->nmembers = n;
    g->members = calloc(n, sizeof(*g->members));
    cr_assert_not_null(g->members);
    for (uint32_t i = 0; i < n; i++) {
        kula_seckey sk;
        lu_member_key(i + 1, &sk, &g->members[i].pubkey);
        snprintf(g->members[i].name, sizeof(g->members[i].name), "Business %u", i + 1);
        snprintf(g->members[i].sector, sizeof(g->members[i].sector), "sector %u", i % 3);
        g->members[i].credit_limit = limit;
        g->members[i].voting_power = powers != NULL ? powers[i] : (i == 0 ? 1 : 0);
    }
    kula_error err;
    cr_assert_eq(kula_genesis_validate(g, &err), 0, "genesis: %s", err.what);
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, g), 0);
    kula_hash_bytes(&g->chain_id, b.data, b.len);
    kula_buf_free(&b);
}

/* ---- in-memory ledger ---- */

typedef struct lu_net {
    kula_genesis g;
    kula_ledger *l;
    uint64_t time_ms;
    kula_hash genesis_root;
    /* bodies of the transactions built by lu_tx (tx.body borrows them) */
    kula_buf *bodies;
    size_t nbodies, bodies_cap;
} lu_net;

/* A new in-memory ledger over g (taken over by net), with the genesis
 * state written and finished. */
static inline void lu_net_open(lu_net *net, const kula_genesis *g)
{
    memset(net, 0, sizeof(*net));
    net->g = *g;
    net->time_ms = g->time_ms;
    cr_assert_eq(kula_ledger_new(&net->l, &g->chain_id, NULL, NULL, 0, NULL), 0);
    const kula_state_write *w;
    size_t n;
    cr_assert_eq(kula_ledger_genesis(net->l, g, &net->genesis_root, &w, &n), 0);
    cr_assert_gt(n, 0);
    kula_ledger_finish_block(net->l);
    cr_assert_eq(kula_ledger_height(net->l), 0);
    cr_assert_eq(memcmp(kula_ledger_state_root(net->l)->b, net->genesis_root.b, 32), 0);
}

static inline void lu_net_close(lu_net *net)
{
    kula_ledger_free(net->l);
    for (size_t i = 0; i < net->nbodies; i++)
        kula_buf_free(&net->bodies[i]);
    free(net->bodies);
    kula_genesis_free(&net->g);
    memset(net, 0, sizeof(*net));
}

static inline kula_buf *lu_body(lu_net *net)
{
    if (net->nbodies == net->bodies_cap) {
        net->bodies_cap = net->bodies_cap ? net->bodies_cap * 2 : 64;
        net->bodies = realloc(net->bodies, net->bodies_cap * sizeof(*net->bodies));
        cr_assert_not_null(net->bodies);
    }
    kula_buf *b = &net->bodies[net->nbodies++];
    kula_buf_init(b);
    return b;
}

static inline void lu_begin(lu_net *net)
{
    net->time_ms += 1000;
    int rc = kula_ledger_begin_block(net->l, kula_ledger_height(net->l) + 1, net->time_ms);
    cr_assert_eq(rc, 0, "begin_block: %s", kula_errname(rc));
}

/* Ends and finishes the block.  Out: root (may be NULL). */
static inline void lu_end(lu_net *net, kula_hash *root)
{
    kula_hash r;
    const kula_state_write *w;
    size_t n;
    int rc = kula_ledger_end_block(net->l, &r, &w, &n);
    cr_assert_eq(rc, 0, "end_block: %s", kula_errname(rc));
    kula_ledger_finish_block(net->l);
    cr_assert_eq(memcmp(kula_ledger_state_root(net->l)->b, r.b, 32), 0);
    if (root != NULL)
        *root = r;
}

static inline kula_member lu_member(lu_net *net, uint32_t id)
{
    kula_member m;
    int rc = kula_ledger_member(net->l, id, &m);
    cr_assert_eq(rc, 0, "member %u: %s", id, kula_errname(rc));
    return m;
}

static inline int64_t lu_balance(lu_net *net, uint32_t id) { return lu_member(net, id).balance; }

static inline uint64_t lu_next_nonce(lu_net *net, uint32_t id)
{
    kula_member m;
    if (kula_ledger_member(net->l, id, &m) != 0)
        return 1;
    return m.nonce + 1;
}

static inline kula_globals lu_globals(lu_net *net)
{
    kula_globals g;
    cr_assert_eq(kula_ledger_globals(net->l, &g), 0);
    return g;
}

/* A zeroed transaction of `kind` from `from` with its next nonce. */
static inline void lu_tx(lu_net *net, kula_tx *tx, uint8_t kind, uint32_t from)
{
    memset(tx, 0, sizeof(*tx));
    tx->kind = kind;
    tx->from = from;
    tx->nonce = lu_next_nonce(net, from);
}

static inline kula_text lu_text(const char *s)
{
    kula_text t = { s, strlen(s) };
    return t;
}

/* Seals tx and signs it with the secret key of each listed member (0 ends
 * the list), using the key "member N".  Returns tx for chaining. */
static inline kula_tx *lu_seal(lu_net *net, kula_tx *tx)
{
    tx->nsigs = 0;
    int rc = kula_tx_seal(tx, lu_body(net));
    cr_assert_eq(rc, 0, "seal: %s", kula_errname(rc));
    return tx;
}

static inline void lu_sign_with(const kula_hash *chain_id, kula_tx *tx, uint32_t signer,
                                const kula_seckey *sk)
{
    int rc = kula_tx_sign(tx, chain_id, signer, sk);
    cr_assert_eq(rc, 0, "sign: %s", kula_errname(rc));
}

static inline void lu_sign(lu_net *net, kula_tx *tx, uint32_t signer)
{
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(signer, &sk, &pk);
    lu_sign_with(&net->g.chain_id, tx, signer, &sk);
}

/* Seals and signs by every member in the 0-terminated list. */
static inline kula_tx *lu_sealsign(lu_net *net, kula_tx *tx, const uint32_t *signers)
{
    lu_seal(net, tx);
    for (size_t i = 0; signers[i] != 0; i++)
        lu_sign(net, tx, signers[i]);
    return tx;
}

#define LU_SIGNERS(...) ((const uint32_t[]){ __VA_ARGS__, 0 })

/* The canonical bytes of tx signed for chain_id by every member of the
 * 0-terminated list (test keys, lu_member_key), appended to out (which the
 * caller has initialised).  tx is sealed and signed on return (its body
 * borrows a buffer freed here: use tx->id, not tx->body, afterwards). */
static inline void lu_signed_bytes(kula_buf *out, kula_tx *tx, const kula_hash *chain_id,
                                   const uint32_t *signers)
{
    kula_buf body;
    kula_buf_init(&body);
    cr_assert_eq(kula_tx_seal(tx, &body), 0);
    tx->nsigs = 0;
    for (size_t i = 0; signers[i] != 0; i++) {
        kula_seckey sk;
        kula_pubkey pk;
        lu_member_key(signers[i], &sk, &pk);
        lu_sign_with(chain_id, tx, signers[i], &sk);
    }
    cr_assert_eq(kula_tx_encode(out, tx), 0);
    kula_buf_free(&body);
    tx->body = NULL;
    tx->body_len = 0;
}

/* The commit of block `hash` at (height, round) with one precommit, by
 * `validator` signing with sk for chain_id, encoded into out (reset first):
 * what a single validator's block carries. */
static inline void lu_commit_one(kula_buf *out, const kula_hash *chain_id, uint64_t height,
                                 uint32_t round, const kula_hash *hash, uint32_t validator,
                                 const kula_seckey *sk)
{
    kula_vote v = { .type = KULA_VOTE_PRECOMMIT, .height = height, .round = round,
                    .has_block = true, .block_hash = *hash, .validator = validator };
    kula_hash d;
    kula_vote_sighash(&d, chain_id, &v);
    kula_commit *cm = calloc(1, sizeof(*cm));
    cr_assert_not_null(cm);
    cm->height = height;
    cm->round = round;
    cm->block_hash = *hash;
    cm->nsigs = 1;
    cm->sigs[0].validator = validator;
    cr_assert_eq(kula_sign(&cm->sigs[0].sig, sk, d.b), 0);
    kula_buf_reset(out);
    cr_assert_eq(kula_commit_encode(out, cm), 0);
    free(cm);
}

/* lu_commit_one by member 1 (test key lu_member_key(1)). */
static inline void lu_commit_by_1(kula_buf *out, const kula_hash *chain_id, uint64_t height,
                                  const kula_hash *hash)
{
    kula_seckey sk;
    kula_pubkey pk;
    lu_member_key(1, &sk, &pk);
    lu_commit_one(out, chain_id, height, 0, hash, 1, &sk);
}

/* Applies tx (in the open block) and requires success. */
static inline void lu_ok(lu_net *net, const kula_tx *tx)
{
    kula_tx_effects fx;
    int rc = kula_ledger_apply_tx(net->l, tx, NULL, &fx);
    cr_assert_eq(rc, 0, "%s from %u: %s", kula_tx_kind_name(tx->kind), tx->from,
                 kula_errname(rc));
    cr_assert_geq(fx.nparties, 1);
    cr_assert_eq(fx.parties[0], tx->from);
}

/* ---- "a rejected transaction changes nothing" ---- */

/* A deep copy of the block's diff so far, as one byte string. */
static inline void lu_diff_snapshot(kula_ledger *l, kula_buf *out)
{
    const kula_state_write *w;
    size_t n;
    kula_buf_reset(out);
    cr_assert_eq(kula_state_diff(l->st, &w, &n), 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t hdr[17];
        kula_put_be64(hdr, w[i].klen);
        hdr[8] = w[i].val != NULL;
        kula_put_be64(hdr + 9, w[i].vlen);
        kula_buf_append(out, hdr, sizeof(hdr));
        kula_buf_append(out, w[i].key, w[i].klen);
        if (w[i].val != NULL)
            kula_buf_append(out, w[i].val, w[i].vlen);
    }
    cr_assert_eq(out->err, 0);
}

/* Applies tx expecting error `want`, and checks the state (the block's diff
 * and the ledger's queries) is exactly as before. */
static inline void lu_reject_l(kula_ledger *l, const kula_tx *tx, const kula_apply_opts *opts,
                               int want, const char *where)
{
    kula_buf before, after;
    kula_buf_init(&before);
    kula_buf_init(&after);
    lu_diff_snapshot(l, &before);
    kula_tx_effects fx;
    fx.nparties = 7;
    int rc = kula_ledger_apply_tx(l, tx, opts, &fx);
    cr_assert_eq(rc, want, "%s: %s from %u: got %s, want %s", where,
                 kula_tx_kind_name(tx->kind), tx->from, kula_errname(rc), kula_errname(want));
    cr_assert_eq(fx.nparties, 0, "%s: effects of a rejected tx", where);
    lu_diff_snapshot(l, &after);
    cr_assert(before.len == after.len &&
                  (before.len == 0 || memcmp(before.data, after.data, before.len) == 0),
              "%s: rejected %s changed the state", where, kula_tx_kind_name(tx->kind));
    kula_buf_free(&before);
    kula_buf_free(&after);
}

#define lu_reject(net, tx, want) lu_reject_l((net)->l, (tx), NULL, (want), #want)

#endif /* KULA_LEDGERUTIL_H */
