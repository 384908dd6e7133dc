/* test_driver.c -- the consensus driver (node/consensus/driver.c) across a
 * crash: a single validator killed after it precommitted a block (its
 * consensus state stored, locked on the block) and before the block's
 * commit reached the chain must, on restart with no peers, propose that
 * same block again and commit it; and the file of the blocks the saved
 * state names (kula/consensus/held_blocks.h) round-trips and refuses what
 * is damaged. */
#include <criterion/criterion.h>

#include <string.h>

#include "kula/chain/chain.h"
#include "kula/chain/mempool.h"
#include "kula/consensus/driver.h"
#include "kula/consensus/held_blocks.h"
#include "ledgerutil.h"

/* ---- one validator, virtual time, storage in memory ---- */

typedef struct world {
    kula_genesis g;
    kula_seckey sk;
    kula_pubkey pk;
    kula_chain *chain;
    kula_mempool *mp;
    kula_driver *drv;
    uint64_t now;
    bool armed[2];
    uint64_t due[2];
    /* "disk": what io.save and io.save_blocks stored */
    kula_cons_saved saved;
    bool has_saved;
    kula_buf held_file;
    /* the last block committed */
    uint64_t committed;
    kula_hash committed_hash;
} world;

static uint64_t io_now(void *ctx) { return ((world *)ctx)->now; }
static uint64_t io_wall(void *ctx) { return LU_GENESIS_TIME + ((world *)ctx)->now; }

static void io_arm(void *ctx, enum kula_driver_timer t, uint64_t delay)
{
    world *w = ctx;
    w->armed[t] = true;
    w->due[t] = w->now + delay;
}

static void io_disarm(void *ctx, enum kula_driver_timer t) { ((world *)ctx)->armed[t] = false; }

static int io_sign(void *ctx, const kula_hash *digest, kula_sig *sig)
{
    return kula_sign(sig, &((world *)ctx)->sk, digest->b);
}

static bool io_verify(void *ctx, const kula_pubkey *pk, const kula_hash *digest,
                      const kula_sig *sig)
{
    (void)ctx;
    return kula_verify(pk, digest->b, sig);
}

static int io_save(void *ctx, const kula_cons_saved *s)
{
    world *w = ctx;
    w->saved = *s;
    w->has_saved = true;
    return 0;
}

static int io_save_blocks(void *ctx, const kula_held_block *b, size_t n)
{
    return kula_held_blocks_encode(&((world *)ctx)->held_file, b, n);
}

static void io_send(void *ctx, const kula_driver_msg *m, uint32_t except)
{
    (void)ctx, (void)m, (void)except; /* no peers */
}

static void io_relay_tx(void *ctx, const uint8_t *tx, size_t len) { (void)ctx, (void)tx, (void)len; }

static void io_punish(void *ctx, uint32_t peer, const char *why)
{
    (void)ctx;
    cr_assert_fail("punished peer %u: %s", peer, why);
}

static void io_committed(void *ctx, const kula_driver_commit *c)
{
    world *w = ctx;
    cr_assert_not_null(c->block, "block %llu committed without its bytes",
                       (unsigned long long)c->height);
    kula_block b;
    cr_assert_eq(kula_block_decode(&b, c->block, c->block_len), 0);
    w->committed = c->height;
    w->committed_hash = b.hash;
    kula_block_free(&b);
}

/* Starts a node on a chain from genesis (a crash lost every block not
 * committed) with what the "disk" holds. */
static void boot(world *w)
{
    kula_error oe;
    cr_assert_eq(kula_chain_open_memory(&w->chain, &w->g, &oe), 0, "%s", oe.what);
    cr_assert_eq(kula_mempool_new(&w->mp, 1000, 1u << 22), 0);
    kula_held_block held[KULA_HELD_BLOCKS_MAX];
    size_t nheld = 0;
    if (w->held_file.len > 0)
        cr_assert_eq(kula_held_blocks_decode(w->held_file.data, w->held_file.len, held, &nheld), 0);
    kula_driver_env env = {
        .chain = w->chain, .mempool = w->mp, .chain_id = w->g.chain_id, .has_key = true,
        .pubkey = w->pk, .saved = w->has_saved ? &w->saved : NULL, .saved_blocks = held,
        .nsaved_blocks = nheld,
        .io = { .ctx = w, .now_ms = io_now, .wall_ms = io_wall, .arm = io_arm,
                .disarm = io_disarm, .sign = io_sign, .verify = io_verify, .save = io_save,
                .save_blocks = io_save_blocks, .send = io_send, .relay_tx = io_relay_tx,
                .punish = io_punish, .committed = io_committed },
    };
    cr_assert_eq(kula_driver_new(&w->drv, &env), 0);
    w->armed[0] = w->armed[1] = false;
    kula_driver_start(w->drv);
}

/* kill -9: memory is gone, the "disk" stays. */
static void crash(world *w)
{
    kula_driver_free(w->drv);
    kula_mempool_free(w->mp);
    kula_chain_free(w->chain);
    w->drv = NULL;
}

/* Fires timers in order until block `height` is committed or `ms` of
 * virtual time have passed. */
static void run_until(world *w, uint64_t height, uint64_t ms)
{
    uint64_t end = w->now + ms;
    while (w->committed < height && w->now < end) {
        int t = -1;
        for (int i = 0; i < 2; i++)
            if (w->armed[i] && (t < 0 || w->due[i] < w->due[t]))
                t = i;
        if (t < 0)
            break;
        w->now = w->due[t] > w->now ? w->due[t] : w->now;
        w->armed[t] = false;
        kula_driver_on_timer(w->drv, (enum kula_driver_timer)t);
    }
}

static world W;

static void setup(void)
{
    cr_assert_eq(kula_crypto_init(), 0);
    memset(&W, 0, sizeof(W));
    lu_genesis(&W.g, 2, 1000, NULL); /* member 1 alone holds the power */
    lu_member_key(1, &W.sk, &W.pk);
    kula_buf_init(&W.held_file);
    W.now = 1000;
}

static void teardown(void)
{
    if (W.drv != NULL)
        crash(&W);
    kula_buf_free(&W.held_file);
    kula_genesis_free(&W.g);
}

TestSuite(driver, .init = setup, .fini = teardown, .timeout = 60);

/* The crash of issue 18: the single validator precommitted block 1 (its
 * state, locked on the block, is stored) and died before the block reached
 * the chain.  Before the fix it restarted locked on a block whose bytes
 * nobody had ("cannot re-propose ... the block is not at hand") and never
 * committed again. */
Test(driver, restart_after_precommit_proposes_the_locked_block_again)
{
    boot(&W);
    run_until(&W, 1, 10000);
    cr_assert_eq(W.committed, 1, "the single validator commits block 1");
    kula_hash first = W.committed_hash;
    /* the scenario is the one we mean: the stored state is locked on it */
    cr_assert(W.has_saved && W.saved.height == 1 && W.saved.locked_round >= 0);
    cr_assert_eq(memcmp(W.saved.locked_hash.b, first.b, KULA_HASH_LEN), 0);

    crash(&W); /* before the commit reached the chain: it restarts at height 0 */
    W.committed = 0;
    W.now += 5000;
    boot(&W);
    run_until(&W, 1, 60000);
    cr_assert_eq(W.committed, 1, "after the restart block 1 is committed again (within 60 s)");
    cr_assert_eq(memcmp(W.committed_hash.b, first.b, KULA_HASH_LEN), 0,
                 "the block committed is the one it was locked on");
    run_until(&W, 3, 60000);
    cr_assert_eq(W.committed, 3, "and the chain goes on");
}

/* ---- the file of held blocks ---- */

Test(driver, held_blocks_round_trip_and_refuse_damage)
{
    static const uint8_t a[] = { 1, 2, 3 }, b[] = { 9 };
    kula_held_block in[2] = { { .height = 7, .p = a, .n = sizeof(a) },
                              { .height = 8, .p = b, .n = sizeof(b) } };
    memset(in[0].hash.b, 0xaa, KULA_HASH_LEN);
    memset(in[1].hash.b, 0xbb, KULA_HASH_LEN);
    kula_buf f;
    kula_buf_init(&f);
    cr_assert_eq(kula_held_blocks_encode(&f, in, 2), 0);
    kula_held_block out[KULA_HELD_BLOCKS_MAX];
    size_t n = 99;
    cr_assert_eq(kula_held_blocks_decode(f.data, f.len, out, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[1].height, 8);
    cr_assert_eq(out[0].n, 3);
    cr_assert_eq(memcmp(out[0].p, a, 3), 0);
    cr_assert_eq(memcmp(out[1].hash.b, in[1].hash.b, KULA_HASH_LEN), 0);
    /* any flipped byte: refused (checksum, or magic) */
    for (size_t i = 0; i < f.len; i++) {
        f.data[i] ^= 0x40;
        cr_assert_neq(kula_held_blocks_decode(f.data, f.len, out, &n), 0, "byte %zu", i);
        cr_assert_eq(n, 0);
        f.data[i] ^= 0x40;
    }
    /* truncated: refused */
    for (size_t len = 0; len < f.len; len++)
        cr_assert_neq(kula_held_blocks_decode(f.data, len, out, &n), 0, "length %zu", len);
    /* too many blocks: not encoded */
    kula_held_block many[KULA_HELD_BLOCKS_MAX + 1];
    for (size_t i = 0; i <= KULA_HELD_BLOCKS_MAX; i++)
        many[i] = in[0];
    cr_assert_eq(kula_held_blocks_encode(&f, many, KULA_HELD_BLOCKS_MAX + 1), KULA_EINVAL);
    /* none: a valid, empty file */
    cr_assert_eq(kula_held_blocks_encode(&f, NULL, 0), 0);
    cr_assert_eq(kula_held_blocks_decode(f.data, f.len, out, &n), 0);
    cr_assert_eq(n, 0);
    kula_buf_free(&f);
}
