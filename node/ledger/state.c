/* state.c -- the ledger's overlay of records over the committed state.
 *
 * Direction: called by lrecords.c and ledger.c; calls only the layers
 * below, never a rule (rules.h). */
#include "kula/ledger/state.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

/* Under AddressSanitizer the arena's free bytes are poisoned, so that a
 * read of an entry after its block ended is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define KULA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KULA_ASAN 1
#endif
#endif
#ifdef KULA_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct entry {
    uint8_t *key;
    size_t klen;
    uint8_t *val;       /* current value, when present */
    size_t vlen;
    bool present;
    bool touched;       /* written since the block started */
    bool listed;        /* in st->touched (may outlive a rollback of touched) */
    bool orig_present;  /* value at block start, kept once touched */
    uint8_t *orig;
    size_t olen;
} entry;

typedef struct undo {
    entry *e;
    uint8_t *val;
    size_t vlen;
    bool present;
    bool touched;
} undo;

/* The arena's memory: chunks of ARENA_CHUNK bytes (or one allocation's
 * size, if larger), bumped. */
#define ARENA_CHUNK (256u * 1024u)
#define ARENA_SPARE 64u /* standard chunks kept for the next block: 16 MiB */
typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
} chunk;

struct kula_state {
    kula_state_base_fn base;
    kula_state_scan_fn base_scan;
    void *base_ctx;
    entry **slots;        /* open addressing, linear probing */
    size_t cap, count;
    entry **order;        /* entries in insertion order, for iteration */
    size_t norder, order_cap;
    entry **touched;      /* entries written in this block: all per-block work */
    size_t ntouched, touched_cap;
    size_t tombstones;    /* deleted entries kept in memory (no base) */
    unsigned char hash_key[KULA_TABLE_KEY_LEN];
    undo *journal;
    size_t njournal, journal_cap;
    bool in_tx;
    kula_state_write *diff;
    size_t diff_cap;
    kula_wsort sort;      /* the diff's sort */
    kula_buf scratch;
    bool arena;           /* entries and values from the chunks below */
    chunk *chunks;        /* in use, newest first */
    chunk *spare;         /* standard chunks for reuse */
    size_t nspare;
};

static uint64_t hash_key(const kula_state *st, const uint8_t *key, size_t klen)
{
    /* keyed at random: a peer cannot choose keys that collide.  Only
     * lookups depend on it; every output is sorted. */
    return kula_table_hash(st->hash_key, key, klen);
}

int kula_state_new(kula_state **out, kula_state_base_fn base, void *ctx)
{
    kula_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return KULA_ENOMEM;
    st->base = base;
    st->base_ctx = ctx;
    st->cap = 1024;
    st->slots = calloc(st->cap, sizeof(*st->slots));
    if (st->slots == NULL) {
        free(st);
        return KULA_ENOMEM;
    }
    kula_table_key(st->hash_key);
    kula_buf_init(&st->scratch);
    *out = st;
    return KULA_OK;
}

/* ---- memory: malloc, or the arena ---- */

static void *st_alloc(kula_state *st, size_t n)
{
    if (!st->arena)
        return malloc(n ? n : 1);
    if (n > SIZE_MAX / 2)
        return NULL; /* no record is near that; the rounding must not wrap */
    n = n == 0 ? 16 : (n + 15) & ~(size_t)15;
    chunk *c = st->chunks;
    if (c == NULL || c->cap - c->used < n) {
        if (n <= ARENA_CHUNK && st->spare != NULL) {
            c = st->spare;
            st->spare = c->next;
            st->nspare--;
        } else {
            size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
            if ((c = malloc(sizeof(*c) + cap)) == NULL)
                return NULL;
            c->cap = cap;
            POISON(c->data, cap);
        }
        c->used = 0;
        c->next = st->chunks;
        st->chunks = c;
    }
    void *p = (uint8_t *)c->data + c->used;
    c->used += n;
    UNPOISON(p, n);
    return p;
}

/* Frees p (from st_alloc); in the arena, p stays until the arena resets. */
static void st_free(kula_state *st, void *p)
{
    if (!st->arena)
        free(p);
}

/* Frees everything st_alloc gave out, keeping some chunks for reuse. */
static void arena_reset(kula_state *st)
{
    while (st->chunks != NULL) {
        chunk *c = st->chunks;
        st->chunks = c->next;
        POISON(c->data, c->cap);
        if (c->cap == ARENA_CHUNK && st->nspare < ARENA_SPARE) {
            c->next = st->spare;
            st->spare = c;
            st->nspare++;
        } else {
            UNPOISON(c->data, c->cap);
            free(c);
        }
    }
}

static void arena_free(kula_state *st)
{
    arena_reset(st);
    while (st->spare != NULL) {
        chunk *c = st->spare;
        st->spare = c->next;
        UNPOISON(c->data, c->cap); /* free() may write there */
        free(c);
    }
    st->nspare = 0;
}

static void entry_free(kula_state *st, entry *e)
{
    st_free(st, e->key);
    st_free(st, e->val);
    st_free(st, e->orig);
    st_free(st, e);
}

static void drop_journal(kula_state *st)
{
    for (size_t i = 0; i < st->njournal; i++)
        st_free(st, st->journal[i].val);
    st->njournal = 0;
}

static void clear_entries(kula_state *st)
{
    if (st->arena)
        arena_reset(st); /* every entry, key and value at once */
    else
        for (size_t i = 0; i < st->norder; i++)
            entry_free(st, st->order[i]);
    st->norder = 0;
    st->count = 0;
    st->ntouched = 0;
    st->tombstones = 0;
    memset(st->slots, 0, st->cap * sizeof(*st->slots));
}

void kula_state_free(kula_state *st)
{
    if (st == NULL)
        return;
    drop_journal(st);
    clear_entries(st);
    free(st->slots);
    free(st->order);
    free(st->touched);
    free(st->journal);
    free(st->diff);
    kula_wsort_free(&st->sort);
    kula_buf_free(&st->scratch);
    arena_free(st);
    free(st);
}

size_t kula_state_size(const kula_state *st) { return st->count; }

void kula_state_use_arena(kula_state *st)
{
    if (st->base != NULL && st->norder == 0)
        st->arena = true;
}

static entry **find_slot(kula_state *st, const uint8_t *key, size_t klen)
{
    size_t mask = st->cap - 1;
    size_t i = (size_t)hash_key(st, key, klen) & mask;
    for (;;) {
        entry *e = st->slots[i];
        if (e == NULL || (e->klen == klen && memcmp(e->key, key, klen) == 0))
            return &st->slots[i];
        i = (i + 1) & mask;
    }
}

static int grow(kula_state *st)
{
    size_t ncap = st->cap * 2;
    entry **ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return KULA_ENOMEM;
    entry **old = st->slots;
    st->slots = ns;
    st->cap = ncap;
    for (size_t i = 0; i < st->norder; i++)
        *find_slot(st, st->order[i]->key, st->order[i]->klen) = st->order[i];
    free(old);
    return KULA_OK;
}

static uint8_t *dup_bytes(kula_state *st, const uint8_t *p, size_t n)
{
    uint8_t *d = st_alloc(st, n);
    if (d != NULL && n > 0)
        memcpy(d, p, n);
    return d;
}

/* Finds or loads the entry for key.  Out: *out (NULL never on success). */
static int lookup(kula_state *st, const uint8_t *key, size_t klen, entry **out)
{
    entry **slot = find_slot(st, key, klen);
    if (*slot != NULL) {
        *out = *slot;
        return KULA_OK;
    }
    if ((st->count + 1) * 4 > st->cap * 3) {
        if (grow(st) != 0)
            return KULA_ENOMEM;
        slot = find_slot(st, key, klen);
    }
    if (st->norder == st->order_cap) {
        size_t ncap = st->order_cap ? st->order_cap * 2 : 256;
        entry **no = realloc(st->order, ncap * sizeof(*no));
        if (no == NULL)
            return KULA_ENOMEM;
        st->order = no;
        st->order_cap = ncap;
    }
    entry *e = st_alloc(st, sizeof(*e));
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    if (e == NULL || (e->key = dup_bytes(st, key, klen)) == NULL) {
        st_free(st, e);
        return KULA_ENOMEM;
    }
    e->klen = klen;
    if (st->base != NULL) {
        kula_buf_reset(&st->scratch);
        int rc = st->base(st->base_ctx, key, klen, &st->scratch);
        if (rc == 0) {
            if ((e->val = dup_bytes(st, st->scratch.data, st->scratch.len)) == NULL) {
                entry_free(st, e);
                return KULA_ENOMEM;
            }
            e->vlen = st->scratch.len;
            e->present = true;
        } else if (rc != KULA_ENOTFOUND) {
            entry_free(st, e);
            return rc;
        }
    }
    *slot = e;
    st->order[st->norder++] = e;
    st->count++;
    *out = e;
    return KULA_OK;
}

int kula_state_get(kula_state *st, const uint8_t *key, size_t klen, const uint8_t **val,
                   size_t *vlen)
{
    entry *e;
    int rc = lookup(st, key, klen, &e);
    if (rc != 0)
        return rc;
    if (!e->present) {
        *val = NULL;
        *vlen = 0;
        return KULA_ENOTFOUND;
    }
    *val = e->val;
    *vlen = e->vlen;
    return KULA_OK;
}

int kula_state_put(kula_state *st, const uint8_t *key, size_t klen, const uint8_t *val,
                   size_t vlen)
{
    entry *e;
    int rc = lookup(st, key, klen, &e);
    if (rc != 0)
        return rc;
    if (!e->listed) {
        if (st->ntouched == st->touched_cap) {
            size_t ncap = st->touched_cap ? st->touched_cap * 2 : 256;
            entry **nt = realloc(st->touched, ncap * sizeof(*nt));
            if (nt == NULL)
                return KULA_ENOMEM;
            st->touched = nt;
            st->touched_cap = ncap;
        }
        st->touched[st->ntouched++] = e;
        e->listed = true;
    }
    uint8_t *nv = NULL;
    if (val != NULL && (nv = dup_bytes(st, val, vlen)) == NULL)
        return KULA_ENOMEM;
    if (st->in_tx) {
        if (st->njournal == st->journal_cap) {
            size_t ncap = st->journal_cap ? st->journal_cap * 2 : 64;
            undo *nj = realloc(st->journal, ncap * sizeof(*nj));
            if (nj == NULL) {
                st_free(st, nv);
                return KULA_ENOMEM;
            }
            st->journal = nj;
            st->journal_cap = ncap;
        }
        /* The journal takes ownership of the old value. */
        st->journal[st->njournal++] = (undo){ e, e->val, e->vlen, e->present, e->touched };
    } else if (e->touched) {
        st_free(st, e->val);
    }
    if (!e->touched) {
        /* First write in this block: the current value is the baseline.
         * Outside a transaction the old buffer moves to orig; inside, the
         * journal owns it, so orig gets its own copy. */
        e->orig_present = e->present;
        e->olen = e->vlen;
        if (st->in_tx) {
            e->orig = e->present ? dup_bytes(st, e->val, e->vlen) : NULL;
            if (e->present && e->orig == NULL) {
                st->njournal--;
                st_free(st, nv);
                return KULA_ENOMEM;
            }
        } else {
            e->orig = e->val;
        }
        e->touched = true;
    }
    e->val = nv;
    e->vlen = val != NULL ? vlen : 0;
    e->present = val != NULL;
    return KULA_OK;
}

void kula_state_set_scan(kula_state *st, kula_state_scan_fn scan) { st->base_scan = scan; }

typedef struct scan_ctx {
    kula_state *st;
    kula_state_fn fn;
    void *ctx;
} scan_ctx;

/* A committed entry: the overlay's value wins where it has one. */
static int scan_base_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                           size_t vlen)
{
    scan_ctx *sc = ctx;
    if (*find_slot(sc->st, key, klen) != NULL)
        return 0;
    return sc->fn(sc->ctx, key, klen, val, vlen);
}

int kula_state_scan(kula_state *st, const uint8_t *prefix, size_t plen, kula_state_fn fn,
                    void *ctx)
{
    int rc;
    if (st->base != NULL) {
        if (st->base_scan == NULL)
            return KULA_EINVAL;
        scan_ctx sc = { st, fn, ctx };
        if ((rc = st->base_scan(st->base_ctx, prefix, plen, scan_base_entry, &sc)) != 0)
            return rc;
    }
    for (size_t i = 0; i < st->norder; i++) {
        const entry *e = st->order[i];
        if (e->present && e->klen >= plen && memcmp(e->key, prefix, plen) == 0 &&
            (rc = fn(ctx, e->key, e->klen, e->val, e->vlen)) != 0)
            return rc;
    }
    return KULA_OK;
}

/* kula_state_walk: the entries in memory, sorted, merged into the base's
 * ordered scan.  Where both have a key, memory's value (or its deletion)
 * is the current one. */
typedef struct walk_ctx {
    entry **mem;
    size_t n, i;
    kula_state_fn fn;
    void *ctx;
} walk_ctx;

static int cmp_key(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int cmp_entry(const void *x, const void *y)
{
    const entry *a = *(entry *const *)x, *b = *(entry *const *)y;
    return cmp_key(a->key, a->klen, b->key, b->klen);
}

/* Emits the entries in memory that sort before key (all of them: NULL). */
static int walk_mem_before(walk_ctx *w, const uint8_t *key, size_t klen)
{
    for (; w->i < w->n; w->i++) {
        const entry *e = w->mem[w->i];
        if (key != NULL && cmp_key(e->key, e->klen, key, klen) >= 0)
            break;
        int rc;
        if (e->present && (rc = w->fn(w->ctx, e->key, e->klen, e->val, e->vlen)) != 0)
            return rc;
    }
    return 0;
}

static int walk_base_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                           size_t vlen)
{
    walk_ctx *w = ctx;
    int rc = walk_mem_before(w, key, klen);
    if (rc != 0)
        return rc;
    if (w->i < w->n && cmp_key(w->mem[w->i]->key, w->mem[w->i]->klen, key, klen) == 0) {
        const entry *e = w->mem[w->i++];
        return e->present ? w->fn(w->ctx, e->key, e->klen, e->val, e->vlen) : 0;
    }
    return w->fn(w->ctx, key, klen, val, vlen);
}

int kula_state_walk(kula_state *st, kula_state_fn fn, void *ctx)
{
    if (st->base != NULL && st->base_scan == NULL)
        return KULA_EINVAL;
    walk_ctx w = { .n = st->norder, .fn = fn, .ctx = ctx };
    if (w.n > 0) {
        if ((w.mem = malloc(w.n * sizeof(*w.mem))) == NULL)
            return KULA_ENOMEM;
        memcpy(w.mem, st->order, w.n * sizeof(*w.mem));
        qsort(w.mem, w.n, sizeof(*w.mem), cmp_entry);
    }
    int rc = 0;
    if (st->base != NULL)
        rc = st->base_scan(st->base_ctx, (const uint8_t *)"", 0, walk_base_entry, &w);
    if (rc == 0)
        rc = walk_mem_before(&w, NULL, 0);
    free(w.mem);
    return rc;
}

void kula_state_tx_begin(kula_state *st)
{
    drop_journal(st);
    st->in_tx = true;
}

void kula_state_tx_rollback(kula_state *st)
{
    while (st->njournal > 0) {
        undo *u = &st->journal[--st->njournal];
        entry *e = u->e;
        st_free(st, e->val);
        e->val = u->val;
        e->vlen = u->vlen;
        e->present = u->present;
        if (!u->touched && e->touched) {
            st_free(st, e->orig);
            e->orig = NULL;
            e->touched = false;
        }
    }
    st->in_tx = false;
}

void kula_state_tx_commit(kula_state *st)
{
    drop_journal(st);
    st->in_tx = false;
}

int kula_state_diff(kula_state *st, const kula_state_write **writes, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < st->ntouched; i++) {
        entry *e = st->touched[i];
        if (!e->touched)
            continue;
        if (e->present == e->orig_present &&
            (!e->present || (e->vlen == e->olen && memcmp(e->val, e->orig, e->vlen) == 0)))
            continue;
        if (k == st->diff_cap) {
            size_t ncap = st->diff_cap ? st->diff_cap * 2 : 256;
            kula_state_write *nd = realloc(st->diff, ncap * sizeof(*nd));
            if (nd == NULL)
                return KULA_ENOMEM;
            st->diff = nd;
            st->diff_cap = ncap;
        }
        st->diff[k++] = (kula_state_write){ e->key, e->klen, e->present ? e->val : NULL,
                                            e->vlen };
    }
    if (kula_state_writes_sort(&st->sort, st->diff, k) != 0)
        return KULA_ENOMEM;
    *writes = st->diff;
    *n = k;
    return KULA_OK;
}

/* Drops deleted entries from memory: a full rebuild, done only when they
 * are at least half of all entries, so its cost is amortised. */
static void compact(kula_state *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->norder; i++) {
        entry *e = st->order[i];
        if (e->present)
            st->order[k++] = e;
        else
            entry_free(st, e);
    }
    st->norder = k;
    st->count = k;
    st->tombstones = 0;
    memset(st->slots, 0, st->cap * sizeof(*st->slots));
    for (size_t i = 0; i < k; i++)
        *find_slot(st, st->order[i]->key, st->order[i]->klen) = st->order[i];
}

void kula_state_end_block(kula_state *st)
{
    drop_journal(st);
    st->in_tx = false;
    if (st->base != NULL) {
        clear_entries(st);
        return;
    }
    /* In memory: the current values become the baseline.  Only the entries
     * the block touched need work. */
    for (size_t i = 0; i < st->ntouched; i++) {
        entry *e = st->touched[i];
        if (e->touched && !e->present && e->orig_present)
            st->tombstones++;
        st_free(st, e->orig);
        e->orig = NULL;
        e->touched = false;
        e->listed = false;
    }
    st->ntouched = 0;
    if (st->tombstones * 2 >= st->count && st->tombstones > 0)
        compact(st);
}

void kula_state_discard(kula_state *st)
{
    kula_state_tx_rollback(st);
    if (st->arena) {
        /* the replaced values are only freed by a reset: drop the cache */
        clear_entries(st);
        return;
    }
    for (size_t i = 0; i < st->ntouched; i++) {
        entry *e = st->touched[i];
        e->listed = false;
        if (!e->touched)
            continue;
        st_free(st, e->val);
        e->val = e->orig;
        e->vlen = e->olen;
        e->present = e->orig_present;
        e->orig = NULL;
        e->touched = false;
    }
    st->ntouched = 0;
}
