/* store_recent.c -- the transaction index's recent entries (txrecent).
 *
 * Transaction ids are random keys.  Put into txindex a block at a time,
 * each lands on a leaf of its own, and the block's commit copies, writes and
 * syncs about one 4 KiB page per transaction (issue 17: some 8 % of a
 * validator's CPU under load).  So a block appends its entries to txrecent
 * instead, keyed by be64 height || be32 index, which only ever grows at its
 * end (MDB_APPEND: a page per ~80 entries); and the block that brings
 * txrecent to recent_max entries moves them all into txindex, in id order,
 * in its own write transaction, where many of them share each leaf.  Either
 * way a block still commits in one transaction, and every committed
 * transaction is in exactly one of the two.
 *
 * The store that writes keeps txrecent's entries in a hash by id, loaded
 * at open and changed only after a commit succeeds, so a lookup scans
 * nothing; its readers in the same process read that hash under its
 * lock; a read-only handle of another process scans txrecent (at most
 * recent_max entries).  A reindex writes txindex directly; one that keeps
 * the indexes checks the entries of both. */
#include <errno.h>
#include <stdlib.h>

#include "kula/base/bytes.h"
#include "kula/base/error.h"
#include "store_internal.h"
#include "store_testing.h"

/* txrecent's value: the id; its key: be64 height || be32 index. */
#define RECENT_KEY_LEN 12

static void entry_key(uint8_t key[RECENT_KEY_LEN], uint64_t height, uint32_t index)
{
    kula_put_be64(key, height);
    kula_put_be32(key + 8, index);
}

/* ---- the hash (the writer's copy of txrecent) ---- */

static size_t slot_of(const store_recent *r, const kula_hash *id)
{
    return (size_t)kula_get_be64(id->b) & r->mask; /* ids are uniform */
}

static void clear(store_recent *r)
{
    r->n = 0;
    if (r->slots != NULL)
        memset(r->slots, 0, (r->mask + 1) * sizeof(*r->slots));
}

static void place(store_recent *r, size_t pos)
{
    size_t i = slot_of(r, &r->ents[pos].id);
    while (r->slots[i] != 0)
        i = (i + 1) & r->mask;
    r->slots[i] = (uint32_t)pos + 1;
}

/* Room for n more entries, the slots at most half full.
 * Returns: 0 or ENOMEM (nothing changed). */
static int reserve(store_recent *r, size_t more)
{
    size_t need = r->n + more;
    if (need <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 1024;
    while (cap < need)
        cap *= 2;
    recent_ent *ents = realloc(r->ents, cap * sizeof(*ents));
    if (ents == NULL)
        return ENOMEM;
    r->ents = ents;
    uint32_t *slots = calloc(2 * cap, sizeof(*slots));
    if (slots == NULL)
        return ENOMEM;
    free(r->slots);
    r->slots = slots;
    r->mask = 2 * cap - 1;
    r->cap = cap;
    for (size_t i = 0; i < r->n; i++)
        place(r, i);
    return 0;
}

static void add(store_recent *r, const kula_hash *id, uint64_t height, uint32_t index)
{
    r->ents[r->n] = (recent_ent){ *id, height, index };
    place(r, r->n++);
}

static const recent_ent *find(const store_recent *r, const kula_hash *id)
{
    if (r->n == 0)
        return NULL;
    for (size_t i = slot_of(r, id); r->slots[i] != 0; i = (i + 1) & r->mask) {
        const recent_ent *e = &r->ents[r->slots[i] - 1];
        if (memcmp(e->id.b, id->b, KULA_HASH_LEN) == 0)
            return e;
    }
    return NULL;
}

/* Reads an entry of txrecent.  Returns: 0 or MDB_CORRUPTED (not 12 -> 32
 * bytes). */
static int read_entry(const MDB_val *k, const MDB_val *v, recent_ent *e)
{
    if (k->mv_size != RECENT_KEY_LEN || v->mv_size != KULA_HASH_LEN)
        return MDB_CORRUPTED;
    memcpy(e->id.b, v->mv_data, KULA_HASH_LEN);
    e->height = kula_get_be64(k->mv_data);
    e->index = kula_get_be32((const uint8_t *)k->mv_data + 8);
    return 0;
}

/* Fills r from txrecent through cur.  Returns: 0 or an LMDB code. */
static int load(store_recent *r, MDB_cursor *cur)
{
    clear(r);
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        recent_ent e;
        if ((mrc = read_entry(&k, &v, &e)) != 0 || (mrc = reserve(r, 1)) != 0)
            break;
        add(r, &e.id, e.height, e.index);
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (mrc != MDB_NOTFOUND) {
        clear(r);
        return mrc;
    }
    r->stale = false;
    return 0;
}

static int load_txn(kula_store *s, MDB_txn *txn)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->txrecent, &cur);
    if (mrc != 0)
        return mrc;
    mrc = load(&s->recent, cur);
    mdb_cursor_close(cur);
    return mrc;
}

int store_recent_open(kula_store *s, MDB_txn *txn)
{
    if (pthread_mutex_init(&s->recent_mu, NULL) != 0)
        return ENOMEM;
    s->recent_mu_ok = true;
    if (s->rdonly || !s->has_recent)
        return 0;
    s->recent.on = true;
    /* A txrecent that cannot be read fails the writes and lookups that
     * need it, not the open: a reindex finds it wrong and rebuilds it. */
    if (load_txn(s, txn) != 0)
        s->recent.stale = true;
    return 0;
}

void store_recent_free(kula_store *s)
{
    free(s->recent.ents);
    free(s->recent.slots);
    memset(&s->recent, 0, sizeof(s->recent));
    if (s->recent_mu_ok)
        pthread_mutex_destroy(&s->recent_mu);
    s->recent_mu_ok = false;
}

void store_recent_forget(kula_store *s)
{
    pthread_mutex_lock(&s->recent_mu);
    s->recent.stale = true;
    pthread_mutex_unlock(&s->recent_mu);
}

/* ---- lookups ---- */

/* The store whose hash s reads (itself or its owner), or NULL: scan. */
static kula_store *hash_of(kula_store *s)
{
    kula_store *o = s->owner != NULL ? s->owner : s;
    return o->recent.on ? o : NULL;
}

/* Makes o's hash current (under o->recent_mu), reading through s.
 * Returns: 0 or a kula error. */
static int sync_locked(kula_store *s, kula_store *o)
{
    if (!o->recent.stale)
        return 0;
    MDB_cursor *cur;
    int rc = store_read_cursor(s, s->txrecent, &cur);
    if (rc != 0)
        return rc;
    int mrc = load(&o->recent, cur);
    return store_cursor_done(s, cur, 0, mrc == 0 ? MDB_NOTFOUND : mrc);
}

/* Calls fn for each entry of txrecent read through s (no hash).
 * Returns: 0, fn's non-zero value, or a kula error. */
static int scan_db(kula_store *s, int (*fn)(void *, const recent_ent *), void *ctx)
{
    if (!s->has_recent)
        return 0;
    MDB_cursor *cur;
    int rc = store_read_cursor(s, s->txrecent, &cur);
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0 && rc == 0) {
        recent_ent e;
        if ((mrc = read_entry(&k, &v, &e)) != 0)
            break;
        if ((rc = fn(ctx, &e)) == 0)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return store_cursor_done(s, cur, rc, mrc);
}

struct find_ctx {
    const kula_hash *id;
    recent_ent found;
};

static int find_one(void *ctx, const recent_ent *e)
{
    struct find_ctx *f = ctx;
    if (memcmp(e->id.b, f->id->b, KULA_HASH_LEN) != 0)
        return 0;
    f->found = *e;
    return 1;
}

int store_recent_find(kula_store *s, const kula_hash *id, uint64_t *height, uint32_t *index)
{
    kula_store *o = hash_of(s);
    if (o == NULL) {
        struct find_ctx f = { id, { { { 0 } }, 0, 0 } };
        int rc = scan_db(s, find_one, &f);
        if (rc == 1) {
            *height = f.found.height;
            *index = f.found.index;
            return 0;
        }
        return rc != 0 ? rc : KULA_ENOTFOUND;
    }
    pthread_mutex_lock(&o->recent_mu);
    int rc = sync_locked(s, o);
    const recent_ent *e = rc == 0 ? find(&o->recent, id) : NULL;
    if (e != NULL) {
        *height = e->height;
        *index = e->index;
    }
    pthread_mutex_unlock(&o->recent_mu);
    return rc != 0 ? rc : e != NULL ? 0 : KULA_ENOTFOUND;
}

struct prefix_ctx {
    const uint8_t *prefix;
    size_t plen;
    recent_ent *out;
    size_t n, cap;
};

static int take_prefixed(void *ctx, const recent_ent *e)
{
    struct prefix_ctx *p = ctx;
    if (p->plen > 0 && memcmp(e->id.b, p->prefix, p->plen) != 0)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        recent_ent *out = realloc(p->out, cap * sizeof(*out));
        if (out == NULL)
            return KULA_ENOMEM;
        p->out = out;
        p->cap = cap;
    }
    p->out[p->n++] = *e;
    return 0;
}

static int by_id(const void *a, const void *b)
{
    return memcmp(((const recent_ent *)a)->id.b, ((const recent_ent *)b)->id.b, KULA_HASH_LEN);
}

int store_recent_prefix(kula_store *s, const uint8_t *prefix, size_t plen, recent_ent **out,
                        size_t *n)
{
    struct prefix_ctx p = { prefix, plen, NULL, 0, 0 };
    kula_store *o = hash_of(s);
    int rc = 0;
    if (o == NULL) {
        rc = scan_db(s, take_prefixed, &p);
    } else {
        pthread_mutex_lock(&o->recent_mu);
        rc = sync_locked(s, o);
        for (size_t i = 0; i < o->recent.n && rc == 0; i++)
            rc = take_prefixed(&p, &o->recent.ents[i]);
        pthread_mutex_unlock(&o->recent_mu);
    }
    if (rc != 0) {
        free(p.out);
        return rc;
    }
    if (p.n > 1)
        qsort(p.out, p.n, sizeof(*p.out), by_id);
    *out = p.out;
    *n = p.n;
    return 0;
}

/* ---- a block's entries ---- */

/* The block's entries and the held ones, in id order, into txindex; then
 * txrecent emptied.  Returns: 0 or an LMDB code. */
static int move_all(kula_store *s, MDB_txn *txn, uint64_t height, const kula_tx_entry *txs,
                    uint32_t ntxs)
{
    store_recent *r = &s->recent;
    size_t n = r->n + ntxs;
    recent_ent *all = malloc((n ? n : 1) * sizeof(*all));
    if (all == NULL)
        return ENOMEM;
    if (r->n > 0)
        memcpy(all, r->ents, r->n * sizeof(*all));
    for (uint32_t i = 0; i < ntxs; i++)
        all[r->n + i] = (recent_ent){ txs[i].id, height, i };
    qsort(all, n, sizeof(*all), by_id);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, s->txindex, &cur);
    if (mrc == 0) {
        for (size_t i = 0; i < n && mrc == 0; i++) {
            uint8_t loc[12];
            entry_key(loc, all[i].height, all[i].index);
            MDB_val k = val_of(all[i].id.b, KULA_HASH_LEN), v = val_of(loc, sizeof(loc));
            mrc = mdb_cursor_put(cur, &k, &v, 0);
        }
        mdb_cursor_close(cur);
    }
    free(all);
    return mrc != 0 ? mrc : mdb_drop(txn, s->txrecent, 0);
}

int store_recent_put(kula_store *s, MDB_txn *txn, uint64_t height, const kula_tx_entry *txs,
                     uint32_t ntxs, bool *moved)
{
    *moved = false;
    if (ntxs == 0)
        return 0;
    store_recent *r = &s->recent;
    /* Only this thread changes the hash; readers read it under the lock. */
    pthread_mutex_lock(&s->recent_mu);
    int mrc = r->stale ? load_txn(s, txn) : 0;
    size_t max = r->max ? r->max : STORE_RECENT_MAX;
    bool move = mrc == 0 && r->n + ntxs >= max;
    if (mrc == 0 && !move)
        mrc = reserve(r, ntxs);
    pthread_mutex_unlock(&s->recent_mu);
    if (mrc != 0)
        return mrc;
    if (move) {
        *moved = true;
        return move_all(s, txn, height, txs, ntxs);
    }
    MDB_cursor *cur;
    if ((mrc = mdb_cursor_open(txn, s->txrecent, &cur)) != 0)
        return mrc;
    for (uint32_t i = 0; i < ntxs && mrc == 0; i++) {
        uint8_t key[RECENT_KEY_LEN];
        entry_key(key, height, i);
        MDB_val k = val_of(key, sizeof(key)), v = val_of(txs[i].id.b, KULA_HASH_LEN);
        mrc = mdb_cursor_put(cur, &k, &v, MDB_APPEND);
    }
    mdb_cursor_close(cur);
    return mrc;
}

void store_recent_done(kula_store *s, uint64_t height, const kula_tx_entry *txs, uint32_t ntxs,
                       bool moved)
{
    store_recent *r = &s->recent;
    if (ntxs == 0)
        return;
    pthread_mutex_lock(&s->recent_mu);
    if (moved) {
        clear(r);
    } else {
        /* room was reserved by store_recent_put */
        for (uint32_t i = 0; i < ntxs; i++)
            add(r, &txs[i].id, height, i);
    }
    pthread_mutex_unlock(&s->recent_mu);
}

void kula_store_set_recent_max(kula_store *s, size_t n)
{
    s->recent.max = n;
}
