/* chain.c -- blocks in and out of the ledger and the store. */
#include "kula/chain/chain.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/chain/snapcheck.h"
#include "chain_testing.h"

struct kula_chain {
    kula_store *store;
    kula_ledger *ledger;
    kula_hash chain_id;
    uint64_t height;
    kula_hash tip_hash;
    uint64_t tip_time;
    /* a block built by kula_chain_build_block, not yet committed */
    bool building;
    uint64_t built_height;
    uint64_t built_time;
    kula_buf built;
    kula_hash built_hash;
    kula_tx_entry *entries;
    size_t entries_cap;
    uint32_t nentries;
    const kula_state_write *writes;
    size_t nwrites;
    /* the commit this node holds for its tip (empty at height 0) */
    kula_buf tip_commit;
};

static int state_base(void *ctx, const uint8_t *key, size_t klen, kula_buf *out)
{
    return kula_store_state_get(ctx, key, klen, out);
}

static int state_scan(void *ctx, const uint8_t *prefix, size_t plen, kula_state_fn fn,
                      void *fnctx)
{
    return kula_store_state_scan(ctx, prefix, plen, fn, fnctx);
}

static void fail_msg(kula_error *e, int code, int32_t tx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_msg(kula_error *e, int code, int32_t tx, const char *fmt, ...)
{
    if (e == NULL)
        return;
    e->code = code;
    e->tx_index = tx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->what, sizeof(e->what), fmt, ap);
    va_end(ap);
}

/* root_0: the genesis state hashed from nothing. */
static int genesis_root(const kula_genesis *g, kula_hash *root)
{
    kula_ledger *l;
    int rc = kula_ledger_new(&l, &g->chain_id, NULL, NULL, 0, NULL);
    if (rc != 0)
        return rc;
    const kula_state_write *w;
    size_t n;
    rc = kula_ledger_genesis(l, g, root, &w, &n);
    kula_ledger_free(l);
    return rc;
}

/* A store started from a snapshot (kula_chain_install_snapshot) has no
 * block at its tip while the tip is that snapshot's height: the header
 * kept beside it gives the tip's hash, time and state root. */
static int tip_from_base(kula_chain *c, kula_hash *root)
{
    uint64_t base, below;
    kula_buf hb;
    kula_buf_init(&hb);
    int rc = kula_store_base(c->store, &base, &below, &hb);
    kula_header h;
    if (rc == 0 && base != c->height)
        rc = KULA_ENOTFOUND;
    if (rc == 0)
        rc = kula_header_decode(&h, hb.data, hb.len);
    if (rc == 0) {
        kula_header_hash(&c->tip_hash, &h);
        c->tip_time = h.time_ms;
        *root = h.state_root;
    }
    kula_buf_free(&hb);
    return rc;
}

int kula_chain_open(kula_chain **out, kula_store *store, const kula_genesis *g, kula_error *e)
{
    kula_chain *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory opening the chain");
    c->store = store;
    c->chain_id = g->chain_id;
    kula_buf_init(&c->built);
    kula_buf_init(&c->tip_commit);
    int rc = kula_store_tip(store, &c->height);
    kula_hash root;
    if (rc != 0) {
        kula_error_set(e, rc, "cannot read the store's tip: %s", kula_strerror(rc));
        goto fail;
    }
    if (c->height == 0) {
        c->tip_time = g->time_ms;
        if ((rc = genesis_root(g, &root)) != 0) {
            kula_error_set(e, rc, "cannot compute the genesis state: %s", kula_strerror(rc));
            goto fail;
        }
    } else {
        kula_buf b;
        kula_buf_init(&b);
        kula_block blk;
        rc = kula_store_block(store, c->height, &b);
        if (rc == KULA_ENOTFOUND)
            rc = tip_from_base(c, &root);
        else if (rc == 0)
            rc = kula_block_decode(&blk, b.data, b.len);
        if (rc == 0 && b.len > 0) {
            c->tip_hash = blk.hash;
            c->tip_time = blk.header.time_ms;
            root = blk.header.state_root;
            kula_block_free(&blk);
        }
        /* The stored commit of the tip must finalise exactly that block. */
        kula_commit *cm = rc == 0 ? malloc(sizeof(*cm)) : NULL;
        if (rc == 0) {
            kula_buf_reset(&b);
            rc = cm == NULL ? KULA_ENOMEM : kula_store_tip_commit(store, &b);
            if (rc == 0)
                rc = kula_commit_decode(cm, b.data, b.len);
            if (rc == 0) {
                kula_buf_append(&c->tip_commit, b.data, b.len);
                rc = c->tip_commit.err;
            }
            if (rc == 0 && (cm->height != c->height ||
                            memcmp(cm->block_hash.b, c->tip_hash.b, KULA_HASH_LEN) != 0))
                rc = KULA_ECOMMIT;
        }
        free(cm);
        kula_buf_free(&b);
        if (rc != 0) {
            kula_error_set(e, rc, "cannot read the tip block %llu: %s",
                     (unsigned long long)c->height, kula_strerror(rc));
            goto fail;
        }
    }
    rc = kula_ledger_new(&c->ledger, &g->chain_id, state_base, store, c->height, &root);
    if (rc != 0) {
        kula_error_set(e, rc, "cannot create the ledger: %s", kula_strerror(rc));
        goto fail;
    }
    kula_ledger_set_scan(c->ledger, state_scan);
    kula_ledger_use_arena(c->ledger);
    if (c->height == 0 && !kula_store_has_state(store)) {
        const kula_state_write *w;
        size_t n;
        rc = kula_ledger_genesis(c->ledger, g, &root, &w, &n);
        if (rc == 0)
            rc = kula_store_init_state(store, w, n);
        if (rc != 0) {
            kula_error_set(e, rc, "cannot record the genesis state: %s", kula_strerror(rc));
            goto fail;
        }
        kula_ledger_finish_block(c->ledger);
    }
    *out = c;
    return KULA_OK;
fail:
    kula_chain_free(c);
    return rc;
}

int kula_chain_open_memory(kula_chain **out, const kula_genesis *g, kula_error *e)
{
    kula_chain *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory opening the chain");
    c->chain_id = g->chain_id;
    c->tip_time = g->time_ms;
    kula_buf_init(&c->built);
    kula_buf_init(&c->tip_commit);
    int rc = kula_ledger_new_genesis(&c->ledger, g);
    if (rc != 0) {
        kula_error_set(e, rc, "cannot build the genesis state: %s", kula_strerror(rc));
        kula_chain_free(c);
        return rc;
    }
    *out = c;
    return KULA_OK;
}

void kula_chain_free(kula_chain *c)
{
    if (c == NULL)
        return;
    if (c->building)
        kula_chain_abandon_built(c);
    kula_ledger_free(c->ledger);
    kula_buf_free(&c->built);
    kula_buf_free(&c->tip_commit);
    free(c->entries);
    free(c);
}

kula_ledger *kula_chain_ledger(kula_chain *c) { return c->ledger; }
uint64_t kula_chain_height(const kula_chain *c) { return c->height; }
const kula_hash *kula_chain_tip_hash(const kula_chain *c) { return &c->tip_hash; }
uint64_t kula_chain_tip_time(const kula_chain *c) { return c->tip_time; }

int kula_chain_new_view(kula_chain *c, uint64_t time_ms, kula_ledger **out)
{
    *out = NULL;
    if (c->store == NULL)
        return KULA_EINVAL; /* a memory chain's state lives in its own ledger */
    kula_ledger *l;
    int rc = kula_ledger_new(&l, &c->chain_id, state_base, c->store, c->height,
                             kula_ledger_state_root(c->ledger));
    if (rc != 0)
        return rc;
    kula_ledger_set_scan(l, state_scan);
    if ((rc = kula_ledger_begin_block(l, c->height + 1,
                                      time_ms > c->tip_time ? time_ms : c->tip_time)) != 0) {
        kula_ledger_free(l);
        return rc;
    }
    *out = l;
    return KULA_OK;
}

/* ---- commits ---- */

int kula_commit_verify(const kula_commit *commit, const kula_hash *chain_id,
                       const kula_valset *vs, kula_ledger *l, uint64_t height,
                       const kula_hash *block_hash, bool check_sigs)
{
    if (commit->height != height ||
        memcmp(commit->block_hash.b, block_hash->b, KULA_HASH_LEN) != 0)
        return KULA_ECOMMIT;
    uint64_t power = 0;
    uint32_t j = 0;
    for (uint32_t i = 0; i < commit->nsigs; i++) {
        /* strictly ascending: a validator counts once */
        if (i > 0 && commit->sigs[i].validator <= commit->sigs[i - 1].validator)
            return KULA_ECOMMIT;
        /* both lists ascend by id: one merge pass */
        while (j < vs->n && vs->v[j].id < commit->sigs[i].validator)
            j++;
        if (j == vs->n || vs->v[j].id != commit->sigs[i].validator)
            return KULA_ECOMMIT;
        if (check_sigs) {
            kula_member m;
            if (kula_ledger_member(l, vs->v[j].id, &m) != 0)
                return KULA_ECOMMIT;
            kula_vote v = { .type = KULA_VOTE_PRECOMMIT, .height = height,
                            .round = commit->round, .has_block = true,
                            .block_hash = *block_hash, .validator = vs->v[j].id };
            kula_hash digest;
            kula_vote_sighash(&digest, chain_id, &v);
            if (!kula_verify(&m.pubkey, digest.b, &commit->sigs[i].sig))
                return KULA_ECOMMIT;
        }
        power += vs->v[j].power;
    }
    /* more than 2/3 of the voting power */
    if (power * 3 <= vs->total_power * 2)
        return KULA_ECOMMIT;
    return KULA_OK;
}

static int verify_with_last(kula_chain *c, const kula_commit *cm, uint64_t height,
                            const kula_hash *hash, bool sigs)
{
    kula_valset *vs = malloc(sizeof(*vs));
    if (vs == NULL)
        return KULA_ENOMEM;
    int rc = kula_ledger_valset(c->ledger, KULA_VALSET_LAST, vs);
    if (rc == 0)
        rc = kula_commit_verify(cm, &c->chain_id, vs, c->ledger, height, hash, sigs);
    free(vs);
    return rc;
}

/* ---- preparing blocks ---- */

/* A block decoded, with the work that depends on its bytes alone done: its
 * transactions root and, if asked, each transaction's id.  Preparing touches
 * no chain, so a reindex prepares the next block on another thread while
 * this one applies the current block. */
typedef struct prepared {
    int rc;             /* 0, or why the block does not decode */
    kula_block b;       /* when rc == 0 */
    kula_hash txs_root;
    kula_hash *ids;     /* NULL, or b.ntxs ids (left zero where a tx does not
                         * decode: applying decodes it again and fails) */
} prepared;

static void prepare(prepared *p, const uint8_t *block, size_t len, bool ids)
{
    memset(p, 0, sizeof(*p));
    /* Each transaction read once: decoded for its id as the block is.  A
     * block where one does not decode takes the two readings below, which
     * say whether the block decodes and leave that transaction's id zero. */
    if (ids && kula_block_decode_txs(&p->b, block, len, &p->ids) == 0) {
        kula_txs_root(&p->txs_root, p->b.txs, p->b.tx_lens, p->b.ntxs);
        return;
    }
    if ((p->rc = kula_block_decode(&p->b, block, len)) != 0)
        return;
    kula_txs_root(&p->txs_root, p->b.txs, p->b.tx_lens, p->b.ntxs);
    if (!ids || p->b.ntxs == 0)
        return;
    kula_tx *tx = malloc(sizeof(*tx));
    p->ids = calloc(p->b.ntxs, sizeof(*p->ids));
    if (tx == NULL || p->ids == NULL) {
        free(p->ids); /* the ids are then hashed while applying */
        p->ids = NULL;
    } else {
        for (uint32_t i = 0; i < p->b.ntxs; i++)
            if (kula_tx_decode(tx, p->b.txs[i], p->b.tx_lens[i]) == 0)
                p->ids[i] = tx->id;
    }
    free(tx);
}

static void prepared_free(prepared *p)
{
    if (p->rc == 0)
        kula_block_free(&p->b);
    free(p->ids);
    p->ids = NULL;
}

/* ---- applying blocks ---- */

static int reserve_entries(kula_chain *c, size_t n)
{
    if (n <= c->entries_cap)
        return KULA_OK;
    kula_tx_entry *ne = realloc(c->entries, n * sizeof(*ne));
    if (ne == NULL)
        return KULA_ENOMEM;
    c->entries = ne;
    c->entries_cap = n;
    return KULA_OK;
}

static void set_entry(kula_tx_entry *en, const kula_tx *tx, const kula_tx_effects *fx)
{
    en->id = tx->id;
    en->nparties = fx->nparties;
    memcpy(en->parties, fx->parties, fx->nparties * sizeof(fx->parties[0]));
}

static bool is_proposer(kula_chain *c, uint32_t id)
{
    kula_valset *vs = malloc(sizeof(*vs));
    bool found = false;
    if (vs != NULL && kula_ledger_valset(c->ledger, KULA_VALSET_NEXT, vs) == 0)
        for (uint32_t i = 0; i < vs->n; i++)
            if (vs->v[i].id == id)
                found = true;
    free(vs);
    return found;
}

static int check_header(kula_chain *c, const prepared *p, unsigned flags, kula_error *e)
{
    const kula_block *b = &p->b;
    const kula_header *h = &b->header;
    bool sigs = (flags & KULA_APPLY_SKIP_SIGS) == 0;
    if (memcmp(h->chain_id.b, c->chain_id.b, KULA_HASH_LEN) != 0) {
        fail_msg(e, KULA_ECHAIN, -1, "block is for another chain");
        return KULA_ECHAIN;
    }
    if (h->height != c->height + 1) {
        fail_msg(e, KULA_EHEIGHT, -1, "height %llu, expected %llu",
                 (unsigned long long)h->height, (unsigned long long)c->height + 1);
        return KULA_EHEIGHT;
    }
    if (memcmp(h->prev_hash.b, c->tip_hash.b, KULA_HASH_LEN) != 0) {
        fail_msg(e, KULA_EPREVHASH, -1, "previous block hash does not match the chain");
        return KULA_EPREVHASH;
    }
    if (h->time_ms < c->tip_time) {
        fail_msg(e, KULA_EBLOCK, -1, "block time is before its parent's");
        return KULA_EBLOCK;
    }
    if (!is_proposer(c, h->proposer)) {
        fail_msg(e, KULA_EBLOCK, -1, "proposer %u is not a validator", h->proposer);
        return KULA_EBLOCK;
    }
    kula_hash zero;
    memset(&zero, 0, sizeof(zero));
    if (h->height == 1) {
        if (b->has_last_commit || memcmp(h->last_commit_hash.b, zero.b, KULA_HASH_LEN) != 0) {
            fail_msg(e, KULA_ECOMMIT, -1, "the first block carries no parent commit");
            return KULA_ECOMMIT;
        }
    } else {
        kula_hash ch;
        if (!b->has_last_commit) {
            fail_msg(e, KULA_ECOMMIT, -1, "missing the parent's commit");
            return KULA_ECOMMIT;
        }
        kula_commit_hash(&ch, b->last_commit);
        if (memcmp(ch.b, h->last_commit_hash.b, KULA_HASH_LEN) != 0) {
            fail_msg(e, KULA_ECOMMIT, -1, "last_commit_hash does not match the commit carried");
            return KULA_ECOMMIT;
        }
        int rc = verify_with_last(c, b->last_commit, c->height, &c->tip_hash, sigs);
        if (rc != 0) {
            fail_msg(e, rc, -1, "the parent's commit does not hold 2/3 of valid precommits");
            return rc;
        }
    }
    if (memcmp(p->txs_root.b, h->txs_root.b, KULA_HASH_LEN) != 0) {
        fail_msg(e, KULA_ETXROOT, -1, "transactions root does not match");
        return KULA_ETXROOT;
    }
    return KULA_OK;
}

/* The block is final: it becomes the tip, and commit the tip's commit. */
static int set_tip(kula_chain *c, uint64_t height, const kula_hash *hash, uint64_t time_ms,
                   const uint8_t *commit, size_t commit_len)
{
    c->height = height;
    c->tip_hash = *hash;
    c->tip_time = time_ms;
    kula_buf_reset(&c->tip_commit);
    if (commit != NULL)
        kula_buf_append(&c->tip_commit, commit, commit_len);
    return c->tip_commit.err;
}

/* The snapshot parts of the block in progress, if it is at a snapshot
 * height, to be written with it (SPEC §9, §10.3). */
static int stage_snapshot(kula_chain *c)
{
    const kula_snapshot_commit *sc = kula_ledger_snapshot(c->ledger);
    if (c->store == NULL || sc == NULL)
        return KULA_OK;
    kula_buf b;
    kula_buf_init(&b);
    int rc = kula_snap_parts_encode(&b, sc);
    if (rc == 0)
        rc = kula_store_stage_snapshot(c->store, sc->height, b.data, b.len);
    kula_buf_free(&b);
    return rc;
}

int kula_chain_install_snapshot(kula_chain *c, const kula_snap_item *target,
                                const kula_store_snap_proof *proofs, size_t nproofs,
                                kula_store_fill_fn fill, void *ctx, kula_error *e)
{
    if (c->store == NULL || c->building || c->height != 0)
        return kula_error_set(e, KULA_EINVAL, "only an empty chain over a store starts from a "
                                              "snapshot");
    kula_header h;
    int rc = kula_header_decode(&h, target->header, target->header_len);
    if (rc != 0)
        return kula_error_set(e, rc, "the snapshot's header does not decode");
    rc = kula_store_install_snapshot(c->store, target->height, target->header,
                                     target->header_len, target->commit, target->commit_len,
                                     proofs, nproofs, fill, ctx, e);
    if (rc != 0)
        return rc;
    kula_ledger *l;
    if ((rc = kula_ledger_new(&l, &c->chain_id, state_base, c->store, target->height,
                              &h.state_root)) != 0)
        return kula_error_set(e, rc, "cannot create the ledger: %s", kula_strerror(rc));
    kula_ledger_set_scan(l, state_scan);
    kula_ledger_use_arena(l);
    kula_ledger_free(c->ledger);
    c->ledger = l;
    kula_hash hash;
    kula_header_hash(&hash, &h);
    if ((rc = set_tip(c, target->height, &hash, h.time_ms, target->commit, target->commit_len)) !=
        0)
        return kula_error_set(e, rc, "out of memory");
    return KULA_OK;
}

/* Checks prepared block p as the next block and applies its transactions
 * and the end of the block.  On success the ledger holds the block in
 * progress and *w, *nw its writes; on failure the ledger is as it was and
 * *e says why. */
static int validate(kula_chain *c, const prepared *p, unsigned flags,
                    const kula_block_keys *keys, kula_error *e,
                    const kula_state_write **w, size_t *nw)
{
    const kula_block *b = &p->b;
    int rc;
    if ((rc = check_header(c, p, flags, e)) != 0)
        return rc;
    if ((rc = reserve_entries(c, b->ntxs)) != 0)
        return rc;
    if ((rc = kula_ledger_begin_block(c->ledger, b->header.height, b->header.time_ms)) != 0)
        return rc;
    kula_apply_opts opts = { .skip_sigs = (flags & KULA_APPLY_SKIP_SIGS) != 0,
                             .sigcache = keys != NULL ? keys->sigcache : NULL };
    for (uint32_t i = 0; i < b->ntxs; i++) {
        kula_tx tx;
        kula_tx_effects fx;
        rc = p->ids != NULL ? kula_tx_decode_known_id(&tx, b->txs[i], b->tx_lens[i], &p->ids[i])
                            : kula_tx_decode(&tx, b->txs[i], b->tx_lens[i]);
        opts.verified = NULL;
        if (keys != NULL && keys->verified != NULL)
            opts.verified = i < keys->n ? keys->verified[i] : NULL;
        else if (rc == 0 && keys != NULL && keys->lookup != NULL)
            opts.verified = keys->lookup(keys->ctx, &tx.id, b->txs[i], b->tx_lens[i]);
        if (rc == 0)
            rc = kula_ledger_apply_tx(c->ledger, &tx, &opts, &fx);
        if (rc != 0) {
            fail_msg(e, rc, (int32_t)i, "transaction %u is invalid: %s", i, kula_strerror(rc));
            kula_ledger_abort_block(c->ledger);
            return rc;
        }
        set_entry(&c->entries[i], &tx, &fx);
    }
    kula_hash root;
    if ((rc = kula_ledger_end_block(c->ledger, &root, w, nw)) != 0) {
        kula_ledger_abort_block(c->ledger);
        return rc;
    }
    if (memcmp(root.b, b->header.state_root.b, KULA_HASH_LEN) != 0) {
        char want[65], got[65];
        kula_hex_encode(want, b->header.state_root.b, KULA_HASH_LEN);
        kula_hex_encode(got, root.b, KULA_HASH_LEN);
        fail_msg(e, KULA_ESTATEROOT, -1, "state root mismatch: header %.16s..., replay %.16s...",
                 want, got);
        kula_ledger_abort_block(c->ledger);
        return KULA_ESTATEROOT;
    }
    return KULA_OK;
}

/* The common start of applying and checking: nothing held, e cleared, the
 * block prepared. */
static int begin_block(kula_chain *c, const prepared *p, kula_error *e)
{
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    if (c->building)
        return KULA_EINVAL;
    if (p->rc != 0)
        fail_msg(e, p->rc, -1, "block does not decode: %s", kula_strerror(p->rc));
    return p->rc;
}

/* kula_chain_apply_block_keys for a prepared block. */
static int apply_prepared(kula_chain *c, const prepared *p, const uint8_t *block, size_t len,
                          const uint8_t *commit, size_t commit_len, unsigned flags,
                          const kula_block_keys *keys, kula_error *e)
{
    kula_error se; /* the store's words, when it fails */
    int rc = begin_block(c, p, e);
    if (rc != 0)
        return rc;
    const kula_block *b = &p->b;
    kula_commit *cm = NULL;
    if (commit != NULL) {
        cm = malloc(sizeof(*cm));
        if (cm == NULL)
            return KULA_ENOMEM;
        if ((rc = kula_commit_decode(cm, commit, commit_len)) != 0) {
            fail_msg(e, KULA_ECOMMIT, -1, "commit does not decode: %s", kula_strerror(rc));
            rc = KULA_ECOMMIT;
            goto out;
        }
    } else if ((flags & KULA_APPLY_REINDEX) == 0) {
        fail_msg(e, KULA_ECOMMIT, -1, "a new block needs its commit");
        return KULA_ECOMMIT;
    }
    const kula_state_write *w;
    size_t nw;
    if ((rc = validate(c, p, flags, keys, e, &w, &nw)) != 0)
        goto out;
    /* A block's commit is signed with the keys of the state after it, by
     * the set that was to sign it (now LAST). */
    if (cm != NULL &&
        (rc = verify_with_last(c, cm, b->header.height, &b->hash,
                               (flags & KULA_APPLY_SKIP_SIGS) == 0)) != 0) {
        fail_msg(e, rc, -1, "the block's commit does not hold 2/3 of valid precommits");
        kula_ledger_abort_block(c->ledger);
        goto out;
    }
    if (c->store == NULL)
        rc = KULA_OK; /* in memory: the state is all there is */
    else if ((rc = stage_snapshot(c)) != 0)
        kula_error_set(&se, rc, "out of memory");
    else if (flags & KULA_APPLY_REINDEX)
        rc = kula_store_reindex_block(c->store, b->header.height, &b->hash, c->entries, b->ntxs,
                                      w, nw, &se);
    else
        rc = kula_store_commit_block(c->store, b->header.height, &b->hash, block, len, c->entries,
                                     b->ntxs, w, nw, commit, commit_len, &se);
    if (rc != 0) {
        fail_msg(e, rc, -1, "cannot store the block: %s (%s)", kula_strerror(rc), se.what);
        kula_ledger_abort_block(c->ledger);
        goto out;
    }
    kula_ledger_finish_block(c->ledger);
    rc = set_tip(c, b->header.height, &b->hash, b->header.time_ms, commit, commit_len);
out:
    free(cm);
    return rc;
}

int kula_chain_apply_block(kula_chain *c, const uint8_t *block, size_t len,
                           const uint8_t *commit, size_t commit_len, unsigned flags,
                           kula_error *e)
{
    return kula_chain_apply_block_keys(c, block, len, commit, commit_len, flags, NULL, e);
}

int kula_chain_apply_block_keys(kula_chain *c, const uint8_t *block, size_t len,
                                const uint8_t *commit, size_t commit_len, unsigned flags,
                                const kula_block_keys *keys, kula_error *e)
{
    prepared p;
    prepare(&p, block, len, false);
    int rc = apply_prepared(c, &p, block, len, commit, commit_len, flags, keys, e);
    prepared_free(&p);
    return rc;
}

int kula_chain_check_block(kula_chain *c, const uint8_t *block, size_t len,
                           const kula_block_keys *keys, kula_hash *hash, kula_error *e)
{
    prepared p;
    /* the ids once, for the lookups and the application alike */
    prepare(&p, block, len, keys != NULL && keys->lookup != NULL);
    const kula_block *b = &p.b;
    int rc = begin_block(c, &p, e);
    if (rc != 0)
        goto out;
    if ((rc = validate(c, &p, 0, keys, e, &c->writes, &c->nwrites)) != 0)
        goto out;
    kula_buf_reset(&c->built);
    kula_buf_append(&c->built, block, len);
    if ((rc = c->built.err) != 0) {
        kula_ledger_abort_block(c->ledger);
        goto out;
    }
    c->building = true;
    c->built_hash = b->hash;
    c->built_height = b->header.height;
    c->built_time = b->header.time_ms;
    c->nentries = b->ntxs;
    if (hash != NULL)
        *hash = b->hash;
out:
    prepared_free(&p);
    return rc;
}

bool kula_chain_holding(const kula_chain *c) { return c->building; }

int kula_chain_tip_commit(const kula_chain *c, kula_buf *out)
{
    if (c->height == 0)
        return KULA_ENOTFOUND;
    kula_buf_append(out, c->tip_commit.data, c->tip_commit.len);
    return out->err;
}

/* ---- building blocks ---- */

int kula_chain_build_block(kula_chain *c, uint64_t time_ms, uint32_t proposer,
                           kula_candidate *cands, size_t ncands, kula_buf *block,
                           kula_hash *hash)
{
    if (c->building)
        return KULA_EINVAL;
    if (time_ms < c->tip_time)
        time_ms = c->tip_time;
    kula_params params;
    int rc = kula_ledger_params(c->ledger, &params);
    if (rc != 0)
        return rc;
    size_t max_txs = params.max_block_txs;
    const uint8_t **txs = malloc((ncands ? ncands : 1) * sizeof(*txs));
    size_t *lens = malloc((ncands ? ncands : 1) * sizeof(*lens));
    kula_commit *last = NULL;
    const kula_buf *commit_raw = &c->tip_commit;
    if (txs == NULL || lens == NULL || reserve_entries(c, ncands) != 0) {
        rc = KULA_ENOMEM;
        goto out;
    }
    if (c->height > 0) {
        last = malloc(sizeof(*last));
        if (last == NULL) {
            rc = KULA_ENOMEM;
            goto out;
        }
        if ((rc = kula_commit_decode(last, commit_raw->data, commit_raw->len)) != 0)
            goto out;
    }
    uint64_t height = c->height + 1;
    if ((rc = kula_ledger_begin_block(c->ledger, height, time_ms)) != 0)
        goto out;
    /* Leave room for the header and the commit in the size bound. */
    size_t budget = KULA_MAX_BLOCK_BYTES - 64 * 1024 - commit_raw->len, used = 0;
    uint32_t n = 0;
    for (size_t i = 0; i < ncands; i++) {
        if (n >= max_txs || used + cands[i].len > budget) {
            cands[i].result = KULA_ETOOBIG; /* block full: try the next block */
            continue;
        }
        kula_apply_opts opts = { .verified = cands[i].verified };
        kula_tx_effects fx;
        cands[i].result = kula_ledger_apply_tx(c->ledger, cands[i].tx, &opts, &fx);
        if (cands[i].result != 0)
            continue;
        txs[n] = cands[i].bytes;
        lens[n] = cands[i].len;
        set_entry(&c->entries[n], cands[i].tx, &fx);
        used += cands[i].len;
        n++;
    }
    kula_header h;
    memset(&h, 0, sizeof(h));
    h.version = KULA_VERSION;
    h.chain_id = c->chain_id;
    h.height = height;
    h.time_ms = time_ms;
    h.prev_hash = c->tip_hash;
    h.proposer = proposer;
    kula_txs_root(&h.txs_root, txs, lens, n);
    if (last != NULL)
        kula_commit_hash(&h.last_commit_hash, last);
    if ((rc = kula_ledger_end_block(c->ledger, &h.state_root, &c->writes, &c->nwrites)) != 0) {
        kula_ledger_abort_block(c->ledger);
        goto out;
    }
    kula_buf_reset(&c->built);
    if ((rc = kula_block_encode(&c->built, &h, txs, lens, n, last)) != 0) {
        kula_ledger_abort_block(c->ledger);
        goto out;
    }
    kula_header_hash(&c->built_hash, &h);
    c->building = true;
    c->built_height = height;
    c->built_time = time_ms;
    c->nentries = n;
    kula_buf_append(block, c->built.data, c->built.len);
    *hash = c->built_hash;
    rc = block->err;
out:
    free(txs);
    free(lens);
    free(last);
    return rc;
}

int kula_chain_commit_built(kula_chain *c, const uint8_t *commit, size_t commit_len)
{
    if (!c->building)
        return KULA_EINVAL;
    /* The commit must finalise exactly this block, signed by the set that
     * was to sign it (signatures are the caller's: it built the commit
     * from votes it verified). */
    kula_commit *cm = malloc(sizeof(*cm));
    int rc = KULA_ENOMEM;
    if (cm != NULL) {
        rc = kula_commit_decode(cm, commit, commit_len) == 0 ? KULA_OK : KULA_ECOMMIT;
        if (rc == 0)
            rc = verify_with_last(c, cm, c->built_height, &c->built_hash, false);
        free(cm);
    }
    if (rc == 0 && c->store != NULL)
        rc = stage_snapshot(c);
    if (rc == 0 && c->store != NULL)
        rc = kula_store_commit_block(c->store, c->built_height, &c->built_hash, c->built.data,
                                     c->built.len, c->entries, c->nentries, c->writes,
                                     c->nwrites, commit, commit_len, NULL);
    if (rc != 0) {
        kula_chain_abandon_built(c);
        return rc;
    }
    kula_ledger_finish_block(c->ledger);
    c->building = false;
    return set_tip(c, c->built_height, &c->built_hash, c->built_time, commit, commit_len);
}

void kula_chain_abandon_built(kula_chain *c)
{
    if (!c->building)
        return;
    kula_ledger_abort_block(c->ledger);
    c->building = false;
}

/* ---- reindex ---- */

/* The stored blocks read ahead: while this thread applies block h, a
 * worker thread prepares block h + 1 (the decoding and hashing that take
 * about a third of a replay).  One block is in the worker's hands at a time. */
typedef struct slot {
    kula_buf bytes;
    int read_rc;
    prepared p;
    bool ready; /* under ahead.mu */
} slot;

typedef struct ahead {
    slot slots[2];
    pthread_t thread;
    bool threaded;  /* false: blocks are prepared on the caller's thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *job;      /* the slot to prepare next, or NULL */
    bool stop;
} ahead;

static void *ahead_main(void *arg)
{
    ahead *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->job == NULL && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->job == NULL)
            break;
        slot *sl = a->job;
        pthread_mutex_unlock(&a->mu);
        prepare(&sl->p, sl->bytes.data, sl->bytes.len, true);
        pthread_mutex_lock(&a->mu);
        sl->ready = true;
        a->job = NULL;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static void ahead_init(ahead *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < 2; i++) {
        kula_buf_init(&a->slots[i].bytes);
        a->slots[i].p.rc = KULA_ENOTFOUND; /* nothing to free */
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->threaded = pthread_create(&a->thread, NULL, ahead_main, a) == 0;
}

size_t kula_reindex_ahead_min = 8u * 1024u;

/* Reads block h into its slot and has it prepared: on the worker if the
 * block is large enough for that to pay (waking a thread takes tens of
 * microseconds on a VM), else here. */
static void ahead_start(ahead *a, kula_store *store, uint64_t h)
{
    slot *sl = &a->slots[h % 2];
    prepared_free(&sl->p);
    memset(&sl->p, 0, sizeof(sl->p));
    sl->p.rc = KULA_ENOTFOUND;
    sl->ready = false;
    kula_buf_reset(&sl->bytes);
    if ((sl->read_rc = kula_store_block(store, h, &sl->bytes)) != 0) {
        sl->ready = true;
        return;
    }
    if (!a->threaded || sl->bytes.len < kula_reindex_ahead_min) {
        prepare(&sl->p, sl->bytes.data, sl->bytes.len, false);
        sl->ready = true;
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->job = sl;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Waits until block h is prepared.  Returns: its slot. */
static slot *ahead_wait(ahead *a, uint64_t h)
{
    slot *sl = &a->slots[h % 2];
    pthread_mutex_lock(&a->mu);
    while (!sl->ready)
        pthread_cond_wait(&a->cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    return sl;
}

static void ahead_free(ahead *a)
{
    if (a->threaded) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL); /* it finishes its job first */
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    for (int i = 0; i < 2; i++) {
        prepared_free(&a->slots[i].p);
        kula_buf_free(&a->slots[i].bytes);
    }
}

/* One replay of the stored blocks inside a store reindex session.
 * Out: *indexes_ok (see kula_store_reindex_end), *retry (the map was full
 * and has grown).  Returns: 0 or the first failure, as kula_chain_reindex. */
static int reindex_pass(kula_store *store, const kula_genesis *g, unsigned flags,
                        kula_progress_fn progress, void *ctx, uint64_t *bad_height,
                        kula_error *e, bool *indexes_ok, bool *retry)
{
    *indexes_ok = false;
    *retry = false;
    uint64_t last;
    kula_error se;
    int rc = kula_store_last_block(store, &last);
    if (rc != 0)
        kula_error_set(&se, rc, "cannot read the last block's height");
    else
        rc = kula_store_reindex_begin(store, flags, &se);
    if (rc != 0) {
        fail_msg(e, rc, -1, "cannot reset the state: %s (%s)", kula_strerror(rc), se.what);
        return rc;
    }
    kula_chain *c;
    if ((rc = kula_chain_open(&c, store, g, e)) != 0) {
        *retry = kula_store_reindex_abort(store);
        return rc;
    }
    /* Block h is applied while block h + 1 is read and prepared. */
    ahead *a = malloc(sizeof(*a));
    if (a == NULL) {
        kula_chain_free(c);
        *retry = kula_store_reindex_abort(store);
        return KULA_ENOMEM;
    }
    ahead_init(a);
    if (last >= 1)
        ahead_start(a, store, 1);
    uint64_t every = last / 100 + 1;
    for (uint64_t h = 1; h <= last; h++) {
        slot *sl = ahead_wait(a, h);
        if ((rc = sl->read_rc) != 0) {
            fail_msg(e, rc, -1, "block %llu is missing from the store",
                     (unsigned long long)h);
            *bad_height = h;
            break;
        }
        if (h < last)
            ahead_start(a, store, h + 1);
        /* The last block is checked against the stored commit of the tip
         * (height, hash, validators, power); the others are checked by the
         * next block's prev_hash and last_commit. */
        kula_buf tipc;
        kula_buf_init(&tipc);
        if (h == last && (rc = kula_store_tip_commit(store, &tipc)) != 0) {
            fail_msg(e, KULA_ECOMMIT, -1, "the tip's commit is missing from the store");
            kula_buf_free(&tipc);
            *bad_height = h;
            break;
        }
        rc = apply_prepared(c, &sl->p, sl->bytes.data, sl->bytes.len,
                            h == last ? tipc.data : NULL, h == last ? tipc.len : 0,
                            KULA_APPLY_REINDEX | KULA_APPLY_SKIP_SIGS, NULL, e);
        kula_buf_free(&tipc);
        if (rc != 0) {
            *bad_height = h;
            break;
        }
        if (progress != NULL && (h % every == 0 || h == last))
            progress(ctx, h, last);
    }
    ahead_free(a);
    free(a);
    kula_chain_free(c);
    if (rc != 0) {
        *retry = kula_store_reindex_abort(store);
        return rc;
    }
    if ((rc = kula_store_reindex_end(store, indexes_ok, &se)) != 0)
        fail_msg(e, rc, -1, "cannot finish the reindex: %s (%s)", kula_strerror(rc), se.what);
    return rc;
}

/* The state is always rebuilt.  The indexes (hashes, txindex, history) are
 * a function of the blocks alone, which a reindex never changes, and were
 * written in the same transaction as their block: the first pass keeps
 * them and checks them against the replayed blocks instead of rewriting
 * them (LMDB would copy most of their randomly keyed pages again); only if
 * they differ does a second pass drop and rewrite them. */
int kula_chain_reindex(kula_store *store, const kula_genesis *g, kula_progress_fn progress,
                       void *ctx, uint64_t *bad_height, kula_error *e)
{
    *bad_height = 0;
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    unsigned flags = 0;
    int rc = KULA_ESTORE;
    for (int attempt = 0; attempt < 8; attempt++) {
        bool indexes_ok, retry;
        if (e != NULL)
            memset(e, 0, sizeof(*e));
        *bad_height = 0;
        rc = reindex_pass(store, g, flags, progress, ctx, bad_height, e, &indexes_ok, &retry);
        if (rc != 0 && retry)
            continue; /* the map was full: it has grown, start over */
        if (rc == 0 && !indexes_ok && (flags & KULA_REINDEX_INDEXES) == 0) {
            flags |= KULA_REINDEX_INDEXES;
            continue;
        }
        if (rc == 0 && !indexes_ok) {
            fail_msg(e, KULA_ESTORE, -1, "the rebuilt indexes do not match the blocks");
            rc = KULA_ESTORE;
        }
        return rc;
    }
    return rc;
}
