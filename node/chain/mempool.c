/* mempool.c -- transactions waiting for a block. */
#include "kula/chain/mempool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

typedef struct entry {
    uint8_t *bytes;
    size_t len;
    kula_tx tx;                          /* borrows bytes */
    kula_pubkey keys[KULA_MAX_PARTIES];  /* verified keys, in sigs order */
    bool verified;
    bool dead;                           /* dropped, awaiting compaction */
    bool applied;                        /* valid in the view: a candidate */
    uint64_t seq;                        /* arrival number, ascending in list */
    uint64_t vseq;                       /* place in the view's order, if applied */
    uint64_t since;                      /* chain height at admission */
    bool gapped;                         /* waits for an earlier nonce of its
                                          * sender, since gap_since (a height) */
    uint64_t gap_since;
} entry;

struct kula_mempool {
    entry **list;          /* arrival order */
    size_t n, cap;
    entry **set;           /* open addressing by id */
    entry **nonces;        /* open addressing by (sender, nonce), sequenced only */
    size_t set_cap;
    size_t bytes, max_txs, max_bytes;
    uint64_t next_seq;
    unsigned char hkey[KULA_TABLE_KEY_LEN];
    /* The view: the committed state with the applied entries applied in
     * vseq order (kula_mempool_track).  NULL without a chain, or while it
     * could not be made (then admission checks what it can without it). */
    kula_chain *chain;
    kula_ledger *view;
    uint64_t view_height;  /* the chain's height the view was built on */
    bool view_stale;       /* an applied entry left without a block */
    uint64_t next_vseq;
    kula_mempool_drop_fn on_drop;
    void *drop_ctx;
    kula_sigcache *sigs;   /* verified by a proposal's check (sigcache.h) */
};

/* The keyed hash of an id, whole: each table masks it to its own size. */
static size_t id_hash(const kula_mempool *mp, const kula_hash *id)
{
    return (size_t)kula_table_hash(mp->hkey, id->b, KULA_HASH_LEN);
}

static size_t slot_of(const kula_mempool *mp, const kula_hash *id)
{
    return id_hash(mp, id) & (mp->set_cap - 1);
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

static size_t nonce_slot(const kula_mempool *mp, uint32_t from, uint64_t nonce)
{
    unsigned char in[12];
    kula_put_be32(in, from);
    kula_put_be64(in + 4, nonce);
    return (size_t)kula_table_hash(mp->hkey, in, sizeof(in)) & (mp->set_cap - 1);
}

/* The slot of the sequenced entry (from, nonce), or the empty one where it
 * would go. */
static entry **find_nonce(const kula_mempool *mp, uint32_t from, uint64_t nonce)
{
    size_t i = nonce_slot(mp, from, nonce);
    for (;;) {
        entry **s = &mp->nonces[i];
        if (*s == NULL || ((*s)->tx.from == from && (*s)->tx.nonce == nonce))
            return s;
        i = (i + 1) & (mp->set_cap - 1);
    }
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The two indexes are sized to the entries the mempool holds, not to
 * max_txs: with a few thousand entries they stay in the processor's cache,
 * and the rebuild after each block (compact) clears a few pages, not the
 * tables of a full mempool (2 MiB each at KULA_MEMPOOL_MAX_TXS; issue
 * 17's profile had that memset and the cache misses of find at 2-3 % of a
 * validator's CPU).  Returns: the capacity for n entries: at most half
 * full, at least INDEX_MIN_CAP, at most what max_txs entries need. */
#define INDEX_MIN_CAP 1024u
/* 4,096 signatures verified by proposals' checks (516 KiB): a few blocks'
 * worth of transactions that reached a proposal before their gossip. */
#define MEMPOOL_SIGCACHE_BITS 12

static size_t index_cap(const kula_mempool *mp, size_t n)
{
    size_t top = INDEX_MIN_CAP, cap = INDEX_MIN_CAP;
    while (top < mp->max_txs * 2)
        top *= 2;
    while (cap < n * 2 && cap < top)
        cap *= 2;
    return cap;
}

/* Puts every entry of the list in both indexes (empty before). */
static void fill_index(kula_mempool *mp)
{
    for (size_t i = 0; i < mp->n; i++) {
        entry *e = mp->list[i];
        *find(mp, &e->tx.id) = e;
        if (e->tx.nonce != 0)
            *find_nonce(mp, e->tx.from, e->tx.nonce) = e;
    }
}

/* Moves both indexes to tables of cap slots holding every entry of the list
 * (dead ones too: they stay findable until compact drops them).  Returns: 0,
 * or KULA_ENOMEM with the old tables kept. */
static int reindex(kula_mempool *mp, size_t cap)
{
    entry **set = calloc(cap, sizeof(*set)), **nonces = calloc(cap, sizeof(*nonces));
    if (set == NULL || nonces == NULL) {
        free(set);
        free(nonces);
        return KULA_ENOMEM;
    }
    free(mp->set);
    free(mp->nonces);
    mp->set = set;
    mp->nonces = nonces;
    mp->set_cap = cap;
    fill_index(mp);
    return KULA_OK;
}

int kula_mempool_new(kula_mempool **out, size_t max_txs, size_t max_bytes)
{
    kula_mempool *mp = calloc(1, sizeof(*mp));
    if (mp == NULL)
        return KULA_ENOMEM;
    mp->max_txs = max_txs;
    mp->max_bytes = max_bytes;
    mp->set_cap = index_cap(mp, 0);
    mp->set = calloc(mp->set_cap, sizeof(*mp->set));
    mp->nonces = calloc(mp->set_cap, sizeof(*mp->nonces));
    if (mp->set == NULL || mp->nonces == NULL ||
        kula_sigcache_new(&mp->sigs, MEMPOOL_SIGCACHE_BITS) != 0) {
        free(mp->set);
        free(mp->nonces);
        free(mp);
        return KULA_ENOMEM;
    }
    kula_table_key(mp->hkey);
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
    kula_ledger_free(mp->view);
    free(mp->list);
    free(mp->set);
    free(mp->nonces);
    kula_sigcache_free(mp->sigs);
    free(mp);
}

void kula_mempool_track(kula_mempool *mp, kula_chain *chain, kula_mempool_drop_fn fn, void *ctx)
{
    mp->chain = chain;
    mp->on_drop = fn;
    mp->drop_ctx = ctx;
    mp->view_stale = true;
}

size_t kula_mempool_size(const kula_mempool *mp) { return mp->n; }
size_t kula_mempool_bytes(const kula_mempool *mp) { return mp->bytes; }
bool kula_mempool_viewed(const kula_mempool *mp) { return mp->view != NULL; }

bool kula_mempool_contains(const kula_mempool *mp, const kula_hash *id)
{
    return *find(mp, id) != NULL;
}

kula_sigcache *kula_mempool_sigcache(kula_mempool *mp) { return mp->sigs; }

const kula_pubkey *kula_mempool_keys(const kula_mempool *mp, const kula_hash *id,
                                     const uint8_t *tx, size_t len)
{
    entry *e = *find(mp, id);
    if (e == NULL || !e->verified || e->dead)
        return NULL;
    /* the same body with other signatures verified nothing here */
    return e->len == len && memcmp(e->bytes, tx, len) == 0 ? e->keys : NULL;
}

static int push(kula_mempool *mp, entry *e)
{
    if (*find(mp, &e->tx.id) != NULL)
        return KULA_EDUPTX;
    if (e->tx.nonce != 0 && *find_nonce(mp, e->tx.from, e->tx.nonce) != NULL)
        return KULA_ENONCEPENDING;
    if ((mp->n + 1) * 2 > mp->set_cap && reindex(mp, mp->set_cap * 2) != 0)
        return KULA_ENOMEM;
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
    if (e->tx.nonce != 0)
        *find_nonce(mp, e->tx.from, e->tx.nonce) = e;
    mp->bytes += e->len;
    return KULA_OK;
}

/* Compacts the list, dropping dead entries, and rebuilds both indexes. */
static void compact(kula_mempool *mp)
{
    size_t k = 0;
    mp->bytes = 0;
    for (size_t i = 0; i < mp->n; i++) {
        entry *e = mp->list[i];
        if (e->dead) {
            if (e->applied)
                mp->view_stale = true; /* its effects are in the view */
            entry_free(e);
            continue;
        }
        mp->list[k++] = e;
        mp->bytes += e->len;
    }
    mp->n = k;
    /* Room for twice the survivors, so that the next block's worth of
     * arrivals rarely has to grow the tables again. */
    size_t cap = index_cap(mp, 2 * k);
    if (cap == mp->set_cap || reindex(mp, cap) != 0) {
        memset(mp->set, 0, mp->set_cap * sizeof(*mp->set)); /* same size (or no memory) */
        memset(mp->nonces, 0, mp->set_cap * sizeof(*mp->nonces));
        fill_index(mp);
    }
}

/* ---- the view ---- */

/* Applies e to the view.  Returns: 0 (e is now applied), or the ledger's
 * error (the view is unchanged). */
static int view_apply(kula_mempool *mp, entry *e)
{
    kula_apply_opts o = { .verified = e->verified ? e->keys : NULL };
    int rc = kula_ledger_apply_tx(mp->view, &e->tx, &o, NULL);
    if (rc == 0) {
        e->applied = true;
        e->vseq = mp->next_vseq++;
        e->gapped = false;
    }
    return rc;
}

/* After e applied: its sender's next nonces that were waiting for it. */
static void view_apply_followers(kula_mempool *mp, const entry *e)
{
    uint32_t from = e->tx.from;
    for (uint64_t nonce = e->tx.nonce + 1; e->tx.nonce != 0; nonce++) {
        entry *f = *find_nonce(mp, from, nonce);
        if (f == NULL || f->dead || f->applied || view_apply(mp, f) != 0)
            return;
    }
}

/* Whether a transaction refused by the view with ENONCE waits for an
 * earlier nonce of its sender (true) or reuses a spent one (false). */
static bool nonce_ahead(kula_mempool *mp, const kula_tx *tx)
{
    kula_member m;
    return tx->nonce != 0 && kula_ledger_member(mp->view, tx->from, &m) == 0 &&
           m.nonce != UINT64_MAX && tx->nonce > m.nonce + 1;
}

static void drop(kula_mempool *mp, entry *e, int why)
{
    e->dead = true;
    if (mp->on_drop != NULL)
        mp->on_drop(mp->drop_ctx, &e->tx.id, why);
}

static int by_view_then_arrival(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    if (x->applied != y->applied)
        return x->applied ? -1 : 1;
    uint64_t kx = x->applied ? x->vseq : x->seq, ky = y->applied ? y->vseq : y->seq;
    return kx < ky ? -1 : kx > ky;
}

/* Makes the view current: after a block (or the loss of an applied entry)
 * it is rebuilt from the committed state, the entries applied again in
 * their old order, then those that waited.  What can no longer commit
 * leaves with its reason (proto/LEDGER.md's errors, or the mempool's own:
 * ENONCEGAP, EPENDINGEXPIRED). */
static void view_sync(kula_mempool *mp)
{
    if (mp->chain == NULL)
        return;
    uint64_t height = kula_chain_height(mp->chain);
    if (mp->view != NULL && !mp->view_stale && mp->view_height == height)
        return;
    kula_ledger_free(mp->view);
    mp->view = NULL;
    mp->view_height = height;
    mp->view_stale = false;
    if (kula_chain_new_view(mp->chain, wall_ms(), &mp->view) != 0)
        return; /* admission checks without it */
    entry **order = malloc((mp->n ? mp->n : 1) * sizeof(*order));
    if (order == NULL) {
        kula_ledger_free(mp->view);
        mp->view = NULL;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < mp->n; i++)
        if (!mp->list[i]->dead)
            order[k++] = mp->list[i];
    qsort(order, k, sizeof(*order), by_view_then_arrival);
    for (size_t i = 0; i < k; i++)
        order[i]->applied = false;
    mp->next_vseq = 0;
    bool any = false;
    for (size_t i = 0; i < k; i++) {
        entry *e = order[i];
        if (e->dead || e->applied)
            continue; /* dropped, or applied as a follower of an earlier one */
        if (height >= e->since + KULA_MEMPOOL_TTL_BLOCKS) {
            drop(mp, e, KULA_EPENDINGEXPIRED);
            any = true;
            continue;
        }
        int rc = view_apply(mp, e);
        if (rc == 0) {
            view_apply_followers(mp, e);
            continue;
        }
        if (rc == KULA_ENONCE && nonce_ahead(mp, &e->tx)) {
            if (!e->gapped) {
                e->gapped = true;
                e->gap_since = height;
            }
            if (height < e->gap_since + KULA_MEMPOOL_GAP_BLOCKS)
                continue; /* its predecessor may still arrive */
            rc = KULA_ENONCEGAP;
        }
        drop(mp, e, rc);
        any = true;
    }
    free(order);
    if (any)
        compact(mp);
    mp->view_stale = false;
}

/* ---- admission ---- */

/* The ids seen in one batch: a small open-addressing set, so a batch of n
 * is checked in O(n) rather than by comparing every pair.  It keeps copies
 * of the ids: an entry refused in the batch's first pass is freed there,
 * after its id joined the set. */
typedef struct batch_slot {
    kula_hash id;
    bool used;
} batch_slot;

typedef struct batch_set {
    batch_slot *slots;
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
    /* its own mask: the index's may be smaller than this set (the index
     * follows the entries held), and every id would crowd its first slots */
    size_t i = id_hash(mp, id) & (b->cap - 1);
    while (b->slots[i].used) {
        if (memcmp(b->slots[i].id.b, id->b, KULA_HASH_LEN) == 0)
            return true;
        i = (i + 1) & (b->cap - 1);
    }
    b->slots[i].id = *id;
    b->slots[i].used = true;
    return false;
}

/* The view's verdict on a verified entry about to be admitted: 0 (applied,
 * or waiting for an earlier nonce of its sender), or why it is refused. */
static int view_admit(kula_mempool *mp, entry *e)
{
    if (mp->view == NULL)
        return 0;
    int rc = view_apply(mp, e);
    if (rc == KULA_ENONCE && nonce_ahead(mp, &e->tx)) {
        e->gapped = true;
        e->gap_since = mp->view_height;
        return 0;
    }
    return rc;
}

struct kula_mempool_batch {
    size_t n;
    int *results;
    kula_hash *ids;
    entry **pending;        /* decoded and checked: waits for its verdict */
    size_t *first_job;      /* its first job, or SIZE_MAX: nothing to verify */
    kula_verify_job *jobs;
    size_t njobs;
    uint64_t height;        /* the chain's, when the signers' keys were read */
};

void kula_mempool_batch_free(kula_mempool_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        if (b->pending[i] != NULL)
            entry_free(b->pending[i]);
    free(b->pending);
    free(b->first_job);
    free(b->jobs);
    free(b);
}

kula_verify_job *kula_mempool_batch_jobs(kula_mempool_batch *b, size_t *n)
{
    *n = b->njobs;
    return b->jobs;
}

kula_mempool_batch *kula_mempool_prepare(kula_mempool *mp, kula_ledger *l,
                                         const uint8_t *const *txs, const size_t *lens,
                                         size_t n, int *results, kula_hash *ids)
{
    batch_set seen = { NULL, 0 };
    kula_mempool_batch *b = calloc(1, sizeof(*b));
    if (b != NULL) {
        b->n = n;
        b->results = results;
        b->ids = ids;
        b->pending = calloc(n ? n : 1, sizeof(*b->pending));
        b->first_job = calloc(n ? n : 1, sizeof(*b->first_job));
        b->jobs = calloc(n ? n * 2 : 1, sizeof(*b->jobs));
    }
    if (b == NULL || b->pending == NULL || b->first_job == NULL || b->jobs == NULL) {
        if (b != NULL)
            b->n = 0;
        kula_mempool_batch_free(b);
        for (size_t i = 0; i < n; i++)
            results[i] = KULA_ENOMEM;
        return NULL;
    }
    entry **pending = b->pending;
    size_t *first_job = b->first_job;
    size_t njobs = 0, jobs_cap = n * 2;
    view_sync(mp);
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
        if (rc == 0 && e->tx.nonce != 0 && *find_nonce(mp, e->tx.from, e->tx.nonce) != NULL)
            rc = KULA_ENONCEPENDING;
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
            kula_verify_job *nj = realloc(b->jobs, ncap * sizeof(*nj));
            if (nj == NULL) {
                results[i] = KULA_ENOMEM;
                continue;
            }
            b->jobs = nj;
            jobs_cap = ncap;
        }
        kula_verify_job *jobs = b->jobs;
        rc = kula_ledger_sig_jobs(l, &e->tx, &jobs[njobs]);
        if (rc == KULA_EUNKNOWNAGREEMENT)
            continue; /* opened by a pending tx: the ledger verifies later */
        if (rc != 0) {
            results[i] = rc;
            continue;
        }
        bool known = true; /* every signature verified in a proposal's check */
        for (uint32_t k = 0; k < e->tx.nsigs; k++) {
            e->keys[k] = jobs[njobs + k].key;
            known = known && kula_sigcache_has(mp->sigs, &jobs[njobs + k].key,
                                               jobs[njobs + k].digest.b, &jobs[njobs + k].sig);
        }
        if (known)
            first_job[i] = SIZE_MAX; /* its jobs are dropped: nothing to check */
        else
            njobs += e->tx.nsigs;
        e->verified = true;
    }
    free(seen.slots);
    b->njobs = njobs;
    b->height = mp->chain != NULL ? kula_chain_height(mp->chain) : 0;
    return b;
}

size_t kula_mempool_admit(kula_mempool *mp, kula_mempool_batch *b)
{
    size_t admitted = 0;
    int *results = b->results;
    /* A block may have committed since the batch was prepared. */
    view_sync(mp);
    uint64_t height = mp->chain != NULL ? kula_chain_height(mp->chain) : 0;
    /* In arrival order: each is checked by the view after those before it. */
    for (size_t i = 0; i < b->n; i++) {
        entry *e = b->pending[i];
        if (e == NULL)
            continue;
        b->pending[i] = NULL;
        if (results[i] == 0 && e->verified && b->first_job[i] != SIZE_MAX)
            for (uint32_t k = 0; k < e->tx.nsigs; k++)
                if (!b->jobs[b->first_job[i] + k].ok)
                    results[i] = KULA_EBADSIG;
        if (results[i] == KULA_EBADSIG && height != b->height) {
            /* checked under the keys of a state a block has since changed
             * (a signer's new key): the view verifies it with today's */
            results[i] = 0;
            e->verified = false;
        }
        /* Room is taken only by what is admitted; another batch may have
         * brought it, or a transaction of the same nonce, meanwhile. */
        if (results[i] == 0 && kula_mempool_contains(mp, &e->tx.id))
            results[i] = KULA_EDUPTX;
        if (results[i] == 0 &&
            (mp->n >= mp->max_txs || e->len > mp->max_bytes - mp->bytes))
            results[i] = KULA_EMEMPOOLFULL;
        if (results[i] == 0 && e->tx.nonce != 0 &&
            *find_nonce(mp, e->tx.from, e->tx.nonce) != NULL)
            results[i] = KULA_ENONCEPENDING; /* taken earlier in this batch */
        e->since = height;
        if (results[i] == 0)
            results[i] = view_admit(mp, e);
        if (results[i] == 0)
            results[i] = push(mp, e);
        if (results[i] != 0) {
            if (e->applied) /* applied, then not pushed (out of memory) */
                mp->view_stale = true;
            entry_free(e);
        } else {
            admitted++;
            if (e->applied)
                view_apply_followers(mp, e);
        }
    }
    kula_mempool_batch_free(b);
    return admitted;
}

size_t kula_mempool_add_batch(kula_mempool *mp, kula_ledger *l, kula_verifier *v,
                              const uint8_t *const *txs, const size_t *lens, size_t n,
                              int *results, kula_hash *ids)
{
    kula_mempool_batch *b = kula_mempool_prepare(mp, l, txs, lens, n, results, ids);
    if (b == NULL)
        return 0;
    if (b->njobs > 0)
        kula_verifier_run(v, b->jobs, b->njobs);
    return kula_mempool_admit(mp, b);
}

/* ---- queries ---- */

/* Fills in the signatures tx lacks with placeholders and applies it to the
 * view without checking any (those it has are checked first): the view is
 * then rebuilt, as after the loss of an applied entry, so it is as before. */
int kula_mempool_check(kula_mempool *mp, const kula_tx *tx)
{
    view_sync(mp);
    if (mp->view == NULL)
        return KULA_ENOTFOUND;
    if (*find(mp, &tx->id) != NULL)
        return KULA_EDUPTX;
    uint32_t ids[KULA_MAX_PARTIES], n;
    kula_pubkey keys[KULA_MAX_PARTIES];
    int rc = kula_ledger_signers(mp->view, tx, ids, keys, &n);
    if (rc != 0)
        return rc;
    kula_tx *full = malloc(sizeof(*full));
    if (full == NULL)
        return KULA_ENOMEM;
    *full = *tx; /* borrows what tx borrows */
    kula_hash digest;
    kula_tx_sighash(&digest, kula_ledger_chain_id(mp->view), tx);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        full->sigs[i] = (kula_tx_sig){ .signer = ids[i] };
        if (k < tx->nsigs && tx->sigs[k].signer == ids[i]) {
            if (!kula_verify(&keys[i], digest.b, &tx->sigs[k].sig))
                rc = KULA_EBADSIG;
            full->sigs[i] = tx->sigs[k++];
        }
    }
    full->nsigs = n;
    if (rc == 0 && k != tx->nsigs)
        rc = KULA_ESIGNERS; /* a signature by a member who need not sign */
    if (rc == 0) {
        kula_apply_opts o = { .skip_sigs = true };
        rc = kula_ledger_apply_tx(mp->view, full, &o, NULL);
        if (rc == 0)
            mp->view_stale = true; /* it changed the view: rebuilt when next asked */
    }
    free(full);
    return rc;
}

uint64_t kula_mempool_next_nonce(kula_mempool *mp, kula_ledger *l, uint32_t member)
{
    kula_member m;
    if (kula_ledger_member(l, member, &m) != 0 || m.nonce == UINT64_MAX)
        return 0;
    uint64_t next = m.nonce + 1;
    while (next != 0 && *find_nonce(mp, member, next) != NULL)
        next++;
    return next;
}

bool kula_mempool_pending(kula_mempool *mp, const kula_hash *id, kula_pending_info *out)
{
    view_sync(mp);
    entry *e = *find(mp, id);
    if (e == NULL || e->dead)
        return false;
    memset(out, 0, sizeof(*out));
    out->since = e->since;
    out->waiting = mp->view != NULL && !e->applied;
    if (out->waiting) {
        kula_member m;
        if (kula_ledger_member(mp->view, e->tx.from, &m) == 0)
            out->missing_nonce = m.nonce + 1;
    }
    return true;
}

size_t kula_mempool_candidates(kula_mempool *mp, kula_candidate *out, size_t max)
{
    view_sync(mp);
    size_t k = 0;
    if (mp->view == NULL) {
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
    /* With a view: the applied entries, in the order the view applied
     * them, so that each is valid after those before it. */
    entry **order = malloc((mp->n ? mp->n : 1) * sizeof(*order));
    if (order == NULL)
        return 0;
    size_t m = 0;
    for (size_t i = 0; i < mp->n; i++)
        if (mp->list[i]->applied && !mp->list[i]->dead)
            order[m++] = mp->list[i];
    qsort(order, m, sizeof(*order), by_view_then_arrival);
    for (size_t i = 0; i < m && k < max; i++) {
        entry *e = order[i];
        out[k].bytes = e->bytes;
        out[k].len = e->len;
        out[k].tx = &e->tx;
        out[k].verified = e->verified ? e->keys : NULL;
        out[k].result = KULA_ETOOBIG;
        k++;
    }
    free(order);
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

/* ---- removal ---- */

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

/* The live entry of the block's transaction tx (decoded without its id),
 * or NULL.  A sequenced one is found by its sender and nonce and compared
 * by body (the id is the body's hash), so the block's transactions the
 * mempool holds are not hashed again; the others are hashed and found by
 * id (issue 17: the removal was 1.1 % of a validator's CPU, the hashing
 * about 0.4 %).  tx->id is set only on that second path. */
static entry *block_tx_entry(const kula_mempool *mp, kula_tx *tx)
{
    if (tx->nonce != 0) {
        entry *e = *find_nonce(mp, tx->from, tx->nonce);
        if (e != NULL && !e->dead && e->tx.body_len == tx->body_len &&
            memcmp(e->tx.body, tx->body, tx->body_len) == 0)
            return e;
    }
    kula_tx_set_id(tx, tx->body, tx->body_len);
    entry *e = *find(mp, &tx->id);
    return e != NULL && !e->dead ? e : NULL;
}

size_t kula_mempool_remove_block(kula_mempool *mp, const uint8_t *block, size_t len)
{
    kula_block b;
    if (kula_block_decode(&b, block, len) != 0)
        return 0;
    size_t n = b.ntxs, cap = 16;
    while (cap < n * 2)
        cap *= 2;
    sender_nonce *top = calloc(cap, sizeof(*top));
    static const kula_hash unknown; /* the id, computed only if needed */
    for (uint32_t i = 0; top != NULL && i < b.ntxs; i++) {
        kula_tx tx;
        if (kula_tx_decode_known_id(&tx, b.txs[i], b.tx_lens[i], &unknown) != 0)
            continue;
        entry *e = block_tx_entry(mp, &tx);
        if (e != NULL)
            e->dead = true; /* the block's own: it leaves without a word */
        if (tx.nonce == 0)
            continue;
        size_t k = (tx.from * 2654435761u) & (cap - 1);
        while (top[k].member != 0 && top[k].member != tx.from)
            k = (k + 1) & (cap - 1);
        top[k].member = tx.from;
        if (tx.nonce > top[k].nonce)
            top[k].nonce = tx.nonce;
    }
    for (size_t i = 0; top != NULL && i < mp->n; i++) {
        entry *e = mp->list[i];
        if (e->tx.nonce == 0)
            continue;
        size_t k = (e->tx.from * 2654435761u) & (cap - 1);
        while (top[k].member != 0 && top[k].member != e->tx.from)
            k = (k + 1) & (cap - 1);
        if (top[k].member != 0 && e->tx.nonce <= top[k].nonce && !e->dead) {
            /* not the block's own (those are dead already): another
             * transaction with a nonce the block spent */
            e->dead = true;
            if (mp->on_drop != NULL)
                mp->on_drop(mp->drop_ctx, &e->tx.id, KULA_ENONCE);
        }
    }
    compact(mp);
    mp->view_stale = true;
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
    mp->view_stale = true;
}
