/* mempool.c -- transactions waiting for a block. */
#include "kula/mempool.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kula/error.h"

typedef struct entry {
    uint8_t *bytes;
    size_t len;
    kula_tx tx;                          /* borrows bytes */
    kula_pubkey keys[KULA_MAX_PARTIES];  /* verified keys, in sigs order */
    bool verified;
    bool dead;                           /* dropped, awaiting compaction */
    uint64_t seq;                        /* arrival number, ascending in list */
} entry;

struct kula_mempool {
    entry **list;          /* arrival order */
    size_t n, cap;
    entry **set;           /* open addressing by id */
    size_t set_cap;
    size_t bytes, max_txs, max_bytes;
    uint64_t next_seq;
    unsigned char hkey[crypto_shorthash_KEYBYTES];
};

static size_t slot_of(const kula_mempool *mp, const kula_hash *id)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, id->b, KULA_HASH_LEN, mp->hkey);
    size_t v;
    memcpy(&v, h, sizeof(v));
    return v & (mp->set_cap - 1);
}

static entry **find(const kula_mempool *mp, const kula_hash *id)
{
    size_t i = slot_of(mp, id);
    for (;;) {
        entry **s = &mp->set[i];
        if (*s == NULL || memcmp((*s)->tx.id.b, id->b, KULA_HASH_LEN) == 0)
            return s;
        i = (i + 1) & (mp->set_cap - 1);
    }
}

int kula_mempool_new(kula_mempool **out, size_t max_txs, size_t max_bytes)
{
    kula_mempool *mp = calloc(1, sizeof(*mp));
    if (mp == NULL)
        return KULA_ENOMEM;
    mp->max_txs = max_txs;
    mp->max_bytes = max_bytes;
    mp->set_cap = 1;
    while (mp->set_cap < max_txs * 2)
        mp->set_cap *= 2;
    mp->set = calloc(mp->set_cap, sizeof(*mp->set));
    if (mp->set == NULL) {
        free(mp);
        return KULA_ENOMEM;
    }
    crypto_shorthash_keygen(mp->hkey);
    *out = mp;
    return KULA_OK;
}

static void entry_free(entry *e)
{
    if (e != NULL) {
        free(e->bytes);
        free(e);
    }
}

void kula_mempool_free(kula_mempool *mp)
{
    if (mp == NULL)
        return;
    for (size_t i = 0; i < mp->n; i++)
        entry_free(mp->list[i]);
    free(mp->list);
    free(mp->set);
    free(mp);
}

size_t kula_mempool_size(const kula_mempool *mp) { return mp->n; }
size_t kula_mempool_bytes(const kula_mempool *mp) { return mp->bytes; }

bool kula_mempool_contains(const kula_mempool *mp, const kula_hash *id)
{
    return *find(mp, id) != NULL;
}

const kula_pubkey *kula_mempool_keys(const kula_mempool *mp, const kula_hash *id)
{
    entry *e = *find(mp, id);
    return e != NULL && e->verified && !e->dead ? e->keys : NULL;
}

static int push(kula_mempool *mp, entry *e)
{
    if (*find(mp, &e->tx.id) != NULL)
        return KULA_EDUPTX;
    if (mp->n == mp->cap) {
        size_t ncap = mp->cap ? mp->cap * 2 : 1024;
        entry **nl = realloc(mp->list, ncap * sizeof(*nl));
        if (nl == NULL)
            return KULA_ENOMEM;
        mp->list = nl;
        mp->cap = ncap;
    }
    e->seq = mp->next_seq++;
    mp->list[mp->n++] = e;
    *find(mp, &e->tx.id) = e;
    mp->bytes += e->len;
    return KULA_OK;
}

/* The ids seen in one batch: a small open-addressing set, so a batch of n
 * is checked in O(n) rather than by comparing every pair. */
typedef struct batch_set {
    const kula_hash **slots;
    size_t cap;
} batch_set;

static void batch_set_init(batch_set *b, size_t n)
{
    b->cap = 16;
    while (b->cap < n * 2)
        b->cap *= 2;
    b->slots = calloc(b->cap, sizeof(*b->slots));
}

/* Returns: true if id was already in the set (adds it otherwise).  Without
 * memory for the set, falls back to "not seen": the mempool's own set still
 * refuses the second copy when it is pushed. */
static bool batch_seen(batch_set *b, const kula_mempool *mp, const kula_hash *id)
{
    if (b->slots == NULL)
        return false;
    size_t i = slot_of(mp, id) & (b->cap - 1);
    while (b->slots[i] != NULL) {
        if (memcmp(b->slots[i]->b, id->b, KULA_HASH_LEN) == 0)
            return true;
        i = (i + 1) & (b->cap - 1);
    }
    b->slots[i] = id;
    return false;
}

size_t kula_mempool_add_batch(kula_mempool *mp, kula_ledger *l, kula_verifier *v,
                              const uint8_t *const *txs, const size_t *lens, size_t n,
                              int *results, kula_hash *ids)
{
    batch_set seen = { NULL, 0 };
    entry **pending = calloc(n ? n : 1, sizeof(*pending));
    size_t *first_job = calloc(n ? n : 1, sizeof(*first_job));
    kula_verify_job *jobs = calloc(n ? n * 2 : 1, sizeof(*jobs));
    size_t njobs = 0, jobs_cap = n * 2, admitted = 0;
    if (pending == NULL || first_job == NULL || jobs == NULL) {
        for (size_t i = 0; i < n; i++)
            results[i] = KULA_ENOMEM;
        goto out;
    }
    batch_set_init(&seen, n);
    size_t room_txs = mp->max_txs > mp->n ? mp->max_txs - mp->n : 0;
    size_t room_bytes = mp->max_bytes > mp->bytes ? mp->max_bytes - mp->bytes : 0;
    for (size_t i = 0; i < n; i++) {
        results[i] = 0;
        if (lens[i] > room_bytes || room_txs == 0) {
            results[i] = KULA_EMEMPOOLFULL;
            continue;
        }
        entry *e = calloc(1, sizeof(*e));
        if (e == NULL || (e->bytes = malloc(lens[i] ? lens[i] : 1)) == NULL) {
            free(e);
            results[i] = KULA_ENOMEM;
            continue;
        }
        memcpy(e->bytes, txs[i], lens[i]);
        e->len = lens[i];
        int rc = kula_tx_decode(&e->tx, e->bytes, e->len);
        if (rc == 0 && ids != NULL)
            ids[i] = e->tx.id;
        if (rc == 0 && kula_mempool_contains(mp, &e->tx.id))
            rc = KULA_EDUPTX;
        if (rc == 0 && batch_seen(&seen, mp, &e->tx.id))
            rc = KULA_EDUPTX; /* twice in this batch */
        kula_member from;
        if (rc == 0 && kula_ledger_member(l, e->tx.from, &from) == 0 &&
            e->tx.nonce > from.nonce + KULA_MEMPOOL_NONCE_AHEAD)
            rc = KULA_ENONCE;
        if (rc != 0) {
            results[i] = rc;
            entry_free(e);
            continue;
        }
        pending[i] = e;
        /* Look the signers up now; if the state cannot tell yet, the ledger
         * verifies at apply time instead. */
        first_job[i] = njobs;
        if (njobs + KULA_MAX_PARTIES > jobs_cap) {
            size_t ncap = (njobs + KULA_MAX_PARTIES) * 2;
            kula_verify_job *nj = realloc(jobs, ncap * sizeof(*nj));
            if (nj == NULL) {
                results[i] = KULA_ENOMEM;
                continue;
            }
            jobs = nj;
            jobs_cap = ncap;
        }
        rc = kula_ledger_sig_jobs(l, &e->tx, &jobs[njobs]);
        if (rc == KULA_EUNKNOWNAGREEMENT)
            continue; /* opened by a pending tx: the ledger verifies later */
        if (rc != 0) {
            results[i] = rc;
            continue;
        }
        for (uint32_t k = 0; k < e->tx.nsigs; k++)
            e->keys[k] = jobs[njobs + k].key;
        njobs += e->tx.nsigs;
        e->verified = true;
    }
    if (njobs > 0)
        kula_verifier_run(v, jobs, njobs);
    for (size_t i = 0; i < n; i++) {
        entry *e = pending[i];
        if (e == NULL)
            continue;
        if (results[i] == 0 && e->verified)
            for (uint32_t k = 0; k < e->tx.nsigs; k++)
                if (!jobs[first_job[i] + k].ok)
                    results[i] = KULA_EBADSIG;
        /* Room is taken only by what is admitted. */
        if (results[i] == 0 &&
            (mp->n >= mp->max_txs || e->len > mp->max_bytes - mp->bytes))
            results[i] = KULA_EMEMPOOLFULL;
        if (results[i] == 0)
            results[i] = push(mp, e);
        if (results[i] != 0)
            entry_free(e);
        else
            admitted++;
    }
out:
    free(seen.slots);
    free(pending);
    free(first_job);
    free(jobs);
    return admitted;
}

size_t kula_mempool_candidates(kula_mempool *mp, kula_candidate *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < mp->n && k < max; i++) {
        entry *e = mp->list[i];
        out[k].bytes = e->bytes;
        out[k].len = e->len;
        out[k].tx = &e->tx;
        out[k].verified = e->verified ? e->keys : NULL;
        out[k].result = KULA_ETOOBIG;
        k++;
    }
    return k;
}

size_t kula_mempool_walk(const kula_mempool *mp, uint64_t *cursor, kula_mempool_walk_fn fn,
                         void *ctx)
{
    /* the first entry at or after *cursor: the list is in arrival order */
    size_t lo = 0, hi = mp->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mp->list[mid]->seq < *cursor)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t visited = 0;
    for (size_t i = lo; i < mp->n; i++) {
        const entry *e = mp->list[i];
        if (e->dead)
            continue;
        if (!fn(ctx, e->bytes, e->len))
            return visited;
        *cursor = e->seq + 1;
        visited++;
    }
    *cursor = mp->next_seq;
    return visited;
}

/* Compacts the list, dropping dead entries, and rebuilds the id set. */
static void compact(kula_mempool *mp)
{
    size_t k = 0;
    memset(mp->set, 0, mp->set_cap * sizeof(*mp->set));
    mp->bytes = 0;
    for (size_t i = 0; i < mp->n; i++) {
        entry *e = mp->list[i];
        if (e->dead) {
            entry_free(e);
            continue;
        }
        mp->list[k++] = e;
        *find(mp, &e->tx.id) = e;
        mp->bytes += e->len;
    }
    mp->n = k;
}

void kula_mempool_remove(kula_mempool *mp, const kula_hash *id)
{
    kula_mempool_remove_batch(mp, id, 1);
}

void kula_mempool_remove_batch(kula_mempool *mp, const kula_hash *ids, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        entry **s = find(mp, &ids[i]);
        if (*s != NULL && !(*s)->dead) {
            (*s)->dead = true;
            any = true;
        }
    }
    if (any)
        compact(mp); /* once for the batch: it rebuilds the index */
}

/* The highest nonce of each sender in a block: open addressing by member. */
typedef struct sender_nonce {
    uint32_t member; /* 0: empty (member ids start at 1) */
    uint64_t nonce;
} sender_nonce;

size_t kula_mempool_remove_block(kula_mempool *mp, const uint8_t *block, size_t len)
{
    kula_block b;
    if (kula_block_decode(&b, block, len) != 0)
        return 0;
    size_t n = b.ntxs, cap = 16;
    while (cap < n * 2)
        cap *= 2;
    sender_nonce *top = calloc(cap, sizeof(*top));
    for (uint32_t i = 0; top != NULL && i < b.ntxs; i++) {
        kula_tx tx;
        if (kula_tx_decode(&tx, b.txs[i], b.tx_lens[i]) != 0)
            continue;
        size_t k = (tx.from * 2654435761u) & (cap - 1);
        while (top[k].member != 0 && top[k].member != tx.from)
            k = (k + 1) & (cap - 1);
        top[k].member = tx.from;
        if (tx.nonce > top[k].nonce)
            top[k].nonce = tx.nonce;
    }
    bool any = false;
    for (size_t i = 0; top != NULL && i < mp->n; i++) {
        entry *e = mp->list[i];
        size_t k = (e->tx.from * 2654435761u) & (cap - 1);
        while (top[k].member != 0 && top[k].member != e->tx.from)
            k = (k + 1) & (cap - 1);
        /* the block's own transactions included: each is at or below its
         * sender's highest nonce in the block */
        if (top[k].member != 0 && e->tx.nonce <= top[k].nonce && !e->dead) {
            e->dead = true;
            any = true;
        }
    }
    if (any)
        compact(mp);
    free(top);
    kula_block_free(&b);
    return n;
}

void kula_mempool_update(kula_mempool *mp, kula_ledger *l, const kula_candidate *cands,
                         size_t n, kula_mempool_drop_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        int r = cands[i].result;
        /* A future nonce may become valid; a full block leaves it for the next. */
        if (r == KULA_ETOOBIG)
            continue;
        if (r == KULA_ENONCE) {
            kula_member m;
            if (kula_ledger_member(l, cands[i].tx->from, &m) == 0 &&
                cands[i].tx->nonce > m.nonce)
                continue; /* still ahead of (or now exactly at) the next nonce */
        }
        entry **s = find(mp, &cands[i].tx->id);
        if (*s == NULL)
            continue;
        (*s)->dead = true;
        if (fn != NULL && r != 0)
            fn(ctx, &(*s)->tx.id, r);
    }
    compact(mp);
}
