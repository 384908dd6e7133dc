/* rx_state.c -- the state a reindex writes, kept in memory.
 *
 * A reindex begins with the state empty and replays every block into it.
 * The blocks' state writes go into a hash table here instead of LMDB, and
 * the reads are answered from it: each read was a B-tree search of LMDB
 * (perf of the 1 M replay: a third of the applying thread, most of it
 * cache misses in the binary searches of the pages) and each write another
 * search and a put.  The table goes to LMDB sorted by key, so that the
 * puts walk the tree in order:
 *   - at the end of the session, into its last batch;
 *   - before a scan of the state (a scan reads LMDB); the entries stay;
 *   - when the table's memory passes its budget; then the table is
 *     emptied, and a later read of a key it lacks goes to the reindex's
 *     filter and LMDB, as it would without the table.
 * The memory is mapped, not malloc'd, so that all of it goes back to the
 * system when the session ends (a kulad started with --reindex goes on
 * running). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "kula/base/error.h"

#include "store_internal.h"

/* One key's entry: the header, the key, then room for vcap bytes of value.
 * Entries lie one after the other in their chunk. */
typedef struct rx_rec {
    uint32_t klen, vlen, vcap;
    bool present;  /* false: deleted */
    bool dirty;    /* not yet in LMDB */
    bool live;     /* false: replaced by a larger one */
    uint8_t data[];
} rx_rec;

typedef struct rx_chunk {
    struct rx_chunk *next;
    size_t size, used; /* bytes mapped, bytes handed out (this header included) */
} rx_chunk;

#define RX_CHUNK_BYTES (4u << 20)
#define CHUNK_HEAD ((sizeof(rx_chunk) + 15) & ~(size_t)15)
/* What writing out an entry takes (the write, and its sort's scratch),
 * counted in the budget beforehand. */
#define FLUSH_BYTES (sizeof(kula_state_write) + KULA_WSORT_SCRATCH)

/* Pages are mapped populated: touched first by a read, an anonymous page
 * faults twice (the zero page, then a copy on the write, each with a TLB
 * shootdown across the process's threads). */
static void *map(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* keyed for the session: the blocks' keys cannot be chosen to collide */
static uint64_t key_hash(const rx_state *t, const uint8_t *key, size_t klen)
{
    return kula_table_hash(t->hkey, key, klen);
}

static size_t rec_size(const rx_rec *r) { return offsetof(rx_rec, data) + r->klen + r->vcap; }

/* A loop over the live entries r, walking the chunks in memory order. */
#define EACH_REC(t, r)                                                                    \
    for (rx_chunk *c_ = (t)->chunks; c_ != NULL; c_ = c_->next)                           \
        for (rx_rec *r = (rx_rec *)((uint8_t *)c_ + CHUNK_HEAD);                          \
             (uint8_t *)r < (uint8_t *)c_ + c_->used;                                      \
             r = (rx_rec *)((uint8_t *)r + rec_size(r)))                                   \
            if (r->live)

/* Empties the table and gives its memory back. */
static void clear(rx_state *t)
{
    if (t->slots != NULL)
        munmap(t->slots, (t->mask + 1) * sizeof(*t->slots));
    t->slots = NULL;
    t->mask = 0;
    t->count = t->ndirty = 0;
    while (t->chunks != NULL) {
        rx_chunk *c = t->chunks;
        t->chunks = c->next;
        munmap(c, c->size);
    }
    t->mem = 0;
}

void store_rxs_init(rx_state *t, size_t budget)
{
    clear(t);
    t->on = budget > 0;
    t->budget = budget;
    t->complete = true;
    kula_table_key(t->hkey);
}

void store_rxs_free(rx_state *t)
{
    clear(t);
    t->on = false;
}

static rx_rec *alloc_rec(rx_state *t, const uint8_t *key, size_t klen, size_t vlen)
{
    size_t n = (offsetof(rx_rec, data) + klen + vlen + 15) & ~(size_t)15;
    rx_chunk *c = t->chunks;
    if (c == NULL || c->size - c->used < n) {
        size_t size = CHUNK_HEAD + n > RX_CHUNK_BYTES ? (CHUNK_HEAD + n + 4095) & ~(size_t)4095
                                                      : RX_CHUNK_BYTES;
        if ((c = map(size)) == NULL)
            return NULL;
        c->size = size;
        c->used = CHUNK_HEAD;
        c->next = t->chunks;
        t->chunks = c;
        t->mem += size;
    }
    rx_rec *r = (rx_rec *)((uint8_t *)c + c->used);
    c->used += n;
    r->klen = (uint32_t)klen;
    r->vcap = (uint32_t)(n - offsetof(rx_rec, data) - klen); /* the rounding's spare too */
    r->dirty = false;
    r->live = true;
    memcpy(r->data, key, klen);
    return r;
}

/* The slot of key, or of the free slot where it would go. */
static rx_slot *find(const rx_state *t, uint64_t h, const uint8_t *key, size_t klen)
{
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        rx_slot *sl = &t->slots[i];
        if (sl->r == NULL)
            return sl;
        if (sl->h == h && sl->r->klen == klen && memcmp(sl->r->data, key, klen) == 0)
            return sl;
    }
}

/* Makes room for `more` entries, doubling the table (or making its first)
 * as needed.  Returns: false if out of memory. */
static bool reserve(rx_state *t, size_t more)
{
    size_t ncap = t->slots == NULL ? 4096 : t->mask + 1;
    while ((t->count + more) * 2 > ncap)
        ncap *= 2;
    if (t->slots != NULL && ncap == t->mask + 1)
        return true;
    rx_slot *ns = map(ncap * sizeof(*ns));
    if (ns == NULL)
        return false;
    rx_slot *old = t->slots;
    size_t ocap = old == NULL ? 0 : t->mask + 1;
    t->slots = ns;
    t->mask = ncap - 1;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].r == NULL)
            continue;
        size_t j = old[i].h & t->mask;
        while (ns[j].r != NULL)
            j = (j + 1) & t->mask;
        ns[j] = old[i];
    }
    if (old != NULL)
        munmap(old, ocap * sizeof(*old));
    t->mem += (ncap - ocap) * sizeof(*ns);
    return true;
}

int store_rxs_get(const rx_state *t, const uint8_t *key, size_t klen, const uint8_t **val,
                  size_t *vlen)
{
    if (t->count == 0)
        return -1;
    const rx_slot *sl = find(t, key_hash(t, key, klen), key, klen);
    if (sl->r == NULL)
        return -1;
    if (!sl->r->present)
        return 0;
    *val = sl->r->data + sl->r->klen;
    *vlen = sl->r->vlen;
    return 1;
}

/* Sets the value of w's key, hashed h, in the table (w->val NULL: deletes
 * it); room for it is reserved.  Returns: 0 or KULA_ENOMEM. */
static int put(rx_state *t, uint64_t h, const kula_state_write *w)
{
    rx_slot *sl = find(t, h, w->key, w->klen);
    rx_rec *r = sl->r;
    if (r == NULL || (w->val != NULL && r->vcap < w->vlen)) {
        rx_rec *nr = alloc_rec(t, w->key, w->klen, w->val != NULL ? w->vlen : 0);
        if (nr == NULL)
            return KULA_ENOMEM;
        if (r != NULL) {
            nr->dirty = r->dirty;
            r->live = false;
        } else {
            sl->h = h;
            t->count++;
        }
        sl->r = r = nr;
    }
    if (!r->dirty)
        t->ndirty++;
    r->dirty = true;
    r->present = w->val != NULL;
    r->vlen = w->val != NULL ? (uint32_t)w->vlen : 0;
    if (r->vlen > 0)
        memcpy(r->data + r->klen, w->val, r->vlen);
    return KULA_OK;
}

int store_rxs_writes(kula_store *s, MDB_txn *txn, const kula_state_write *w, size_t n)
{
    rx_state *t = &s->rxs;
    enum { BATCH = 16 };
    uint64_t h[BATCH];
    for (size_t at = 0; at < n; at += BATCH) {
        size_t m = n - at < BATCH ? n - at : BATCH;
        for (size_t i = 0; i < m; i++)
            if (w[at + i].klen > UINT32_MAX || w[at + i].vlen > UINT32_MAX)
                return EINVAL;
        if (!reserve(t, m)) {
            /* out of memory: the table goes to LMDB, emptied, and again */
            int mrc = store_rxs_flush(s, txn, true);
            if (mrc != 0)
                return mrc;
            if (!reserve(t, m))
                return ENOMEM;
        }
        /* The batch's slots, then their entries, are fetched while the
         * next are hashed: each is a cache miss in a table of megabytes. */
        for (size_t i = 0; i < m; i++) {
            h[i] = key_hash(t, w[at + i].key, w[at + i].klen);
            __builtin_prefetch(&t->slots[h[i] & t->mask]);
        }
        for (size_t i = 0; i < m; i++) {
            const rx_rec *r = t->slots[h[i] & t->mask].r;
            if (r != NULL)
                __builtin_prefetch(r);
        }
        for (size_t i = 0; i < m; i++) {
            if (put(t, h[i], &w[at + i]) == 0)
                continue;
            /* out of memory: as above (the hashes stay valid) */
            int mrc = store_rxs_flush(s, txn, true);
            if (mrc != 0)
                return mrc;
            if (!reserve(t, m - i) || put(t, h[i], &w[at + i]) != 0)
                return ENOMEM;
        }
    }
    return t->mem + t->ndirty * FLUSH_BYTES > t->budget ? store_rxs_flush(s, txn, true) : 0;
}

int store_rxs_flush(kula_store *s, MDB_txn *txn, bool empty)
{
    rx_state *t = &s->rxs;
    int mrc = 0;
    if (t->ndirty > 0) {
        kula_state_write *w = malloc(t->ndirty * sizeof(*w));
        if (w == NULL)
            return ENOMEM;
        size_t n = 0;
        EACH_REC(t, r)
        {
            if (r->dirty)
                w[n++] = (kula_state_write){ r->data, r->klen,
                                             r->present ? r->data + r->klen : NULL, r->vlen };
        }
        kula_wsort ws = { 0 }; /* megabytes, seldom needed: not kept */
        if (kula_state_writes_sort(&ws, w, n) != 0) {
            free(w);
            return ENOMEM;
        }
        kula_wsort_free(&ws);
        MDB_stat st;
        MDB_cursor *cur = NULL;
        if ((mrc = mdb_stat(txn, s->state, &st)) == 0)
            mrc = mdb_cursor_open(txn, s->state, &cur);
        /* Into an empty state, every put goes after the last key. */
        unsigned flags = mrc == 0 && st.ms_entries == 0 ? MDB_APPEND : 0;
        size_t bytes = 0;
        for (size_t i = 0; i < n && mrc == 0; i++) {
            MDB_val k = val_of(w[i].key, w[i].klen), v;
            if (w[i].val != NULL) {
                v = val_of(w[i].val, w[i].vlen);
                mrc = mdb_cursor_put(cur, &k, &v, flags);
                bytes += w[i].klen + w[i].vlen + 16;
            } else if (flags == 0) {
                mrc = mdb_cursor_get(cur, &k, &v, MDB_SET);
                if (mrc == 0)
                    mrc = mdb_cursor_del(cur, 0);
                else if (mrc == MDB_NOTFOUND)
                    mrc = 0;
            }
        }
        if (cur != NULL)
            mdb_cursor_close(cur);
        if (mrc == 0 && s->bloom.bits != NULL)
            store_bloom_add_writes(&s->bloom, s->rx_seed, w, n);
        free(w);
        if (mrc != 0)
            return mrc;
        s->rx_bytes += bytes;
        EACH_REC(t, r) r->dirty = false;
        t->ndirty = 0;
    }
    if (empty && t->count > 0) {
        clear(t);
        t->complete = false;
    }
    return 0;
}
