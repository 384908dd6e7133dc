/* driver_evidence.c -- the consensus driver's evidence of equivocation
 * (driver_evidence.h): pairs of conflicting votes gossiped, checked when a
 * peer sends them, and submitted as evidence transactions until the chain
 * records them. */
#include "driver_evidence.h"

#include <string.h>

#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/chain/standing.h"
#include "kula/types/evidence.h"

#define EVIDENCE_TRIES 8

void drv_evidence_init(drv_evidence *ev, const kula_driver_env *env, const kula_driver_io *io,
                       drv_signed_fn signed_by, void *ctx)
{
    memset(ev, 0, sizeof(*ev));
    ev->env = env;
    ev->io = io;
    ev->signed_by = signed_by;
    ev->ctx = ctx;
}

/* Signs an evidence transaction for the pair (a, b) as member me with
 * io.sign, into out. */
static int evidence_tx(drv_evidence *ev, uint32_t me, uint64_t nonce, const kula_vote *a,
                       const kula_vote *b, kula_buf *out)
{
    kula_tx tx;
    kula_buf body;
    kula_buf_init(&body);
    int rc = kula_evidence_tx_unsigned(&tx, &body, me, nonce, a, b);
    kula_hash digest;
    kula_sig sig;
    if (rc == 0) {
        kula_tx_sighash(&digest, &ev->env->chain_id, &tx);
        rc = ev->io->sign(ev->io->ctx, &digest, &sig);
    }
    if (rc == 0)
        rc = kula_tx_add_sig(&tx, me, &sig);
    if (rc == 0)
        rc = kula_tx_encode(out, &tx);
    kula_buf_free(&body);
    return rc;
}

/* Adds one evidence transaction to the mempool and relays it. */
static void submit_one(drv_evidence *ev, kula_ledger *l, uint32_t me, const kula_vote *a,
                       const kula_vote *b)
{
    uint64_t nonce = kula_mempool_next_nonce(ev->env->mempool, l, me);
    if (nonce == 0)
        return;
    kula_buf out;
    kula_buf_init(&out);
    if (evidence_tx(ev, me, nonce, a, b, &out) == 0) {
        const uint8_t *txs[1] = { out.data };
        size_t lens[1] = { out.len };
        int result;
        kula_mempool_add_batch(ev->env->mempool, l, ev->env->verifier, txs, lens, 1, &result,
                               NULL);
        if (result == 0)
            ev->io->relay_tx(ev->io->ctx, out.data, out.len);
        else if (result != KULA_EDUPTX)
            kula_debug("consensus: evidence transaction refused: %s", kula_strerror(result));
    }
    kula_buf_free(&out);
}

void drv_evidence_submit(drv_evidence *ev)
{
    if (ev->n == 0)
        return;
    kula_ledger *l = kula_chain_ledger(ev->env->chain);
    kula_member mine;
    if (!ev->env->has_key ||
        kula_key_standing(l, &ev->env->pubkey, &mine) != KULA_STANDING_MEMBER)
        return; /* only a member's current key signs for it */
    size_t k = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const kula_vote *a = &ev->q[i].a;
        kula_evidence rec;
        if (kula_ledger_evidence(l, a->validator, a->height, a->round, a->type, &rec) == 0) {
            kula_info("consensus: the equivocation of validator %u at height %llu is on the "
                      "chain (block %llu)",
                      a->validator, (unsigned long long)a->height,
                      (unsigned long long)rec.recorded);
            continue;
        }
        if (ev->q[i].tries >= EVIDENCE_TRIES)
            continue;
        ev->q[i].tries++;
        ev->q[k++] = ev->q[i];
        submit_one(ev, l, mine.id, a, &ev->q[i].b);
    }
    ev->n = k;
}

/* Counts the offence and, unless it is queued already or the queue is
 * full, queues it and submits its evidence transaction. */
static void queue(drv_evidence *ev, const kula_vote *a, const kula_vote *b)
{
    ev->seen++;
    for (size_t i = 0; i < ev->n; i++)
        if (ev->q[i].a.validator == a->validator && ev->q[i].a.height == a->height &&
            ev->q[i].a.round == a->round && ev->q[i].a.type == a->type)
            return;
    if (ev->n == DRV_MAX_EVIDENCE)
        return;
    ev->q[ev->n].a = *a;
    ev->q[ev->n].b = *b;
    ev->q[ev->n].tries = 0;
    ev->n++;
    drv_evidence_submit(ev);
}

void drv_evidence_caught(drv_evidence *ev, const kula_vote *a, const kula_vote *b)
{
    kula_warn("consensus: validator %u signed two different %s votes at height %llu round %u "
              "(evidence gossiped)",
              a->validator, a->type == KULA_VOTE_PREVOTE ? "prevote" : "precommit",
              (unsigned long long)a->height, a->round);
    kula_buf ea, eb;
    kula_buf_init(&ea);
    kula_buf_init(&eb);
    if (kula_vote_encode(&ea, a) == 0 && kula_vote_encode(&eb, b) == 0) {
        kula_driver_msg m = { .type = KULA_DRIVER_EVIDENCE, .height = a->height,
                              .round = a->round, .a = ea.data, .alen = ea.len, .b = eb.data,
                              .blen = eb.len };
        ev->io->send(ev->io->ctx, &m, 0);
    }
    kula_buf_free(&ea);
    kula_buf_free(&eb);
    queue(ev, a, b);
}

/* True when x and y are two different signed votes of one validator for one
 * height, round and step. */
static bool conflict(const drv_evidence *ev, const kula_vote *x, const kula_vote *y)
{
    if (x->validator != y->validator || x->type != y->type || x->height != y->height ||
        x->round != y->round ||
        (x->has_block == y->has_block &&
         memcmp(x->block_hash.b, y->block_hash.b, KULA_HASH_LEN) == 0))
        return false;
    kula_hash dx, dy;
    kula_vote_sighash(&dx, &ev->env->chain_id, x);
    kula_vote_sighash(&dy, &ev->env->chain_id, y);
    return ev->signed_by(ev->ctx, x->validator, &dx, &x->sig) &&
           ev->signed_by(ev->ctx, y->validator, &dy, &y->sig);
}

void drv_evidence_received(drv_evidence *ev, uint32_t peer, const uint8_t *a, size_t a_len,
                           const uint8_t *b, size_t b_len)
{
    kula_vote x, y;
    if (kula_vote_decode(&x, a, a_len) != 0 || kula_vote_decode(&y, b, b_len) != 0) {
        ev->io->punish(ev->io->ctx, peer, "malformed evidence");
        return;
    }
    if (!conflict(ev, &x, &y)) {
        ev->io->punish(ev->io->ctx, peer, "false evidence");
        return;
    }
    kula_warn("consensus: evidence from a peer: validator %u signed two different votes at "
              "height %llu round %u",
              x.validator, (unsigned long long)x.height, x.round);
    kula_driver_msg m = { .type = KULA_DRIVER_EVIDENCE, .height = x.height, .round = x.round,
                          .a = a, .alen = a_len, .b = b, .blen = b_len };
    ev->io->send(ev->io->ctx, &m, peer);
    queue(ev, &x, &y);
}
