/* audit.c -- the auditor's tools: a ledger opened read-only, its full
 * verification from the genesis, and a replay that reports what every
 * transaction did. */
#include "kula/audit/audit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/types/records.h"
#include "kula/crypto/verifier.h"

/* ==== the archive ==== */

struct kula_archive {
    kula_store *store;
    kula_genesis g;
    bool have_genesis;
    uint64_t tip;
    char path[1100];
};

static void say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int kula_archive_open(kula_archive **out, const char *datadir, char *err, size_t errlen)
{
    *out = NULL;
    if (!is_dir(datadir)) {
        say(err, errlen, "%s: %s", datadir,
            exists(datadir) ? "not a directory" : "no such directory");
        return KULA_ENOTFOUND;
    }
    kula_archive *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        say(err, errlen, "out of memory");
        return KULA_ENOMEM;
    }
    char probe[1200];
    snprintf(probe, sizeof(probe), "%s/data.mdb", datadir);
    if (exists(probe))
        snprintf(a->path, sizeof(a->path), "%s", datadir);
    else
        snprintf(a->path, sizeof(a->path), "%s/ledger", datadir);
    int rc;
    kula_buf gbuf;
    kula_buf_init(&gbuf);
    if (!is_dir(a->path)) {
        say(err, errlen, "no ledger in %s (%s does not exist)", datadir, a->path);
        rc = KULA_ENOTFOUND;
        goto fail;
    }
    rc = kula_store_open(&a->store, a->path, KULA_STORE_RDONLY);
    if (rc == KULA_ENOTFOUND) {
        say(err, errlen, "%s is not a Kula ledger (no LMDB environment with its databases)",
            a->path);
        goto fail;
    }
    if (rc != 0) {
        say(err, errlen, "%s: cannot open the ledger read-only: %s", a->path, kula_strerror(rc));
        goto fail;
    }
    rc = kula_store_genesis(a->store, &gbuf);
    if (rc == KULA_ENOTFOUND) {
        say(err, errlen, "%s is not a Kula ledger (it holds no genesis)", a->path);
        rc = KULA_EGENESIS;
        goto fail;
    }
    if (rc != 0) {
        say(err, errlen, "%s: cannot read the genesis: %s", a->path, kula_strerror(rc));
        goto fail;
    }
    rc = kula_genesis_decode(&a->g, gbuf.data, gbuf.len);
    if (rc != 0) {
        say(err, errlen, "%s: the stored genesis is invalid: %s", a->path, kula_strerror(rc));
        rc = KULA_EGENESIS;
        goto fail;
    }
    a->have_genesis = true;
    /* Read-only, kula_store_bind only compares the stored chain id. */
    rc = kula_store_bind(a->store, gbuf.data, gbuf.len, &a->g.chain_id);
    if (rc == KULA_ECHAIN) {
        say(err, errlen, "%s: the stored chain id is not the hash of the stored genesis",
            a->path);
        goto fail;
    }
    if (rc == KULA_ENOTFOUND) {
        say(err, errlen, "%s is not a Kula ledger (it holds no chain id)", a->path);
        rc = KULA_EGENESIS;
        goto fail;
    }
    if (rc == 0)
        rc = kula_store_tip(a->store, &a->tip);
    if (rc != 0) {
        say(err, errlen, "%s: cannot read the ledger: %s", a->path, kula_strerror(rc));
        goto fail;
    }
    kula_buf_free(&gbuf);
    *out = a;
    return KULA_OK;
fail:
    kula_buf_free(&gbuf);
    kula_archive_close(a);
    return rc;
}

void kula_archive_close(kula_archive *a)
{
    if (a == NULL)
        return;
    kula_store_close(a->store);
    if (a->have_genesis)
        kula_genesis_free(&a->g);
    free(a);
}

const kula_genesis *kula_archive_genesis(const kula_archive *a) { return &a->g; }
uint64_t kula_archive_tip(const kula_archive *a) { return a->tip; }
kula_store *kula_archive_store(kula_archive *a) { return a->store; }
const char *kula_archive_path(const kula_archive *a) { return a->path; }

int kula_archive_block(kula_archive *a, uint64_t height, kula_buf *out)
{
    if (height == 0)
        return KULA_ENOTFOUND;
    return kula_store_block(a->store, height, out);
}

/* The parent's commit carried by block height + 1, re-encoded (the decoder
 * accepts only the canonical form, so these are the stored bytes). */
static int next_block_commit(kula_archive *a, uint64_t height, kula_buf *out)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_block blk;
    int rc = kula_store_block(a->store, height + 1, &b);
    if (rc == 0 && (rc = kula_block_decode(&blk, b.data, b.len)) != 0)
        rc = KULA_EBLOCK;
    if (rc == 0) {
        rc = blk.has_last_commit ? kula_commit_encode(out, blk.last_commit) : KULA_EBLOCK;
        kula_block_free(&blk);
    }
    kula_buf_free(&b);
    return rc;
}

int kula_archive_commit(kula_archive *a, uint64_t height, kula_buf *out)
{
    kula_commit *cm = malloc(sizeof(*cm));
    if (cm == NULL)
        return KULA_ENOMEM;
    kula_buf raw;
    kula_buf_init(&raw);
    int rc = KULA_ENOTFOUND;
    /* The node may commit between our reads: the tip commit then belongs
     * to a newer block, and ours is inside the next block. */
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t now;
        if ((rc = kula_store_tip(a->store, &now)) != 0)
            break;
        if (height == 0 || height > now) {
            rc = KULA_ENOTFOUND;
            break;
        }
        if (height < now) {
            rc = next_block_commit(a, height, out);
            break;
        }
        kula_buf_reset(&raw);
        if ((rc = kula_store_tip_commit(a->store, &raw)) != 0)
            break;
        if (kula_commit_decode(cm, raw.data, raw.len) != 0) {
            rc = KULA_ECOMMIT;
            break;
        }
        if (cm->height == height) {
            kula_buf_append(out, raw.data, raw.len);
            rc = out->err;
            break;
        }
        rc = KULA_ENOTFOUND;
    }
    kula_buf_free(&raw);
    free(cm);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ==== independent recomputation of settlements ==== */

/* An agreement followed through one block apart from the ledger: the state
 * before the block, then each of the block's transactions on it in order,
 * with the pool split recomputed at each settle. */
typedef struct shadow {
    kula_hash id;
    kula_agreement a;   /* a.rule's Shapley values point into raw */
    kula_buf raw;       /* owned canonical rule */
    int err;            /* could not follow it: checked after the block */
    uint32_t settles;   /* settle transactions in the block */
    int32_t last_settle; /* index of the last one */
} shadow;

typedef struct shadows {
    shadow *v;
    size_t n, cap;
    kula_hash *settled; /* agreements the block settles */
    size_t nsettled, settled_cap;
} shadows;

static void shadows_free(shadows *s)
{
    for (size_t i = 0; i < s->cap; i++)
        kula_buf_free(&s->v[i].raw);
    free(s->v);
    free(s->settled);
    memset(s, 0, sizeof(*s));
}

static bool settled_in_block(const shadows *s, const kula_hash *id)
{
    for (size_t i = 0; i < s->nsettled; i++)
        if (memcmp(s->settled[i].b, id->b, KULA_HASH_LEN) == 0)
            return true;
    return false;
}

static int shadow_set_rule(shadow *sh, const kula_rule *r)
{
    kula_buf_reset(&sh->raw);
    int rc = kula_rule_encode(&sh->raw, r);
    if (rc == 0)
        rc = kula_rule_decode(&sh->a.rule, sh->raw.data, sh->raw.len);
    sh->a.rule_raw = sh->raw.data;
    sh->a.rule_raw_len = sh->raw.len;
    return rc;
}

/* The agreement a transaction concerns (open: the one it creates). */
static const kula_hash *tx_agreement(const kula_tx *tx)
{
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_AGREEMENT_OPEN: return &tx->id;
    case KULA_TX_AGREEMENT_AMEND: return &tx->u.amend.agreement;
    case KULA_TX_CONTRIBUTE: return &tx->u.contribute.agreement;
    case KULA_TX_BENEFIT: return &tx->u.benefit.agreement;
    case KULA_TX_SETTLE:
    case KULA_TX_AGREEMENT_CLOSE: return &tx->u.settle.agreement;
    case KULA_TX_REFERRAL:
        return tx->u.referral.has_agreement ? &tx->u.referral.agreement : NULL;
    case KULA_TX_TRANSFER:
    case KULA_TX_EXCHANGE:
    case KULA_TX_CONVERSION:
    case KULA_TX_FEEDBACK:
    case KULA_TX_PROPOSE:
    case KULA_TX_VOTE:
    case KULA_TX_EVIDENCE: return NULL;
    }
    return NULL;
}

static shadow *shadow_get(shadows *s, kula_ledger *l, const kula_tx *tx, const kula_hash *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->v[i].id.b, id->b, KULA_HASH_LEN) == 0)
            return &s->v[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        shadow *nv = realloc(s->v, cap * sizeof(*nv));
        if (nv == NULL)
            return NULL;
        for (size_t i = s->cap; i < cap; i++)
            kula_buf_init(&nv[i].raw);
        s->v = nv;
        s->cap = cap;
    }
    shadow *sh = &s->v[s->n++];
    kula_buf raw = sh->raw;
    memset(sh, 0, sizeof(*sh));
    sh->raw = raw;
    sh->id = *id;
    sh->last_settle = -1;
    if (tx->kind == KULA_TX_AGREEMENT_OPEN) {
        sh->a.id = *id;
        sh->a.nparties = tx->u.open.nparties;
        memcpy(sh->a.parties, tx->u.open.parties, sizeof(sh->a.parties));
        sh->a.status = KULA_AGREEMENT_OPEN;
        sh->err = shadow_set_rule(sh, &tx->u.open.rule);
        return sh;
    }
    kula_agreement a;
    sh->err = kula_ledger_agreement(l, id, &a);
    if (sh->err == 0) {
        sh->a = a;
        sh->err = shadow_set_rule(sh, &a.rule);
    }
    return sh;
}

/* Follows tx on its agreement's shadow. */
static void shadow_step(shadow *sh, const kula_tx *tx, uint32_t index)
{
    if (sh->err != 0)
        return;
    kula_agreement *a = &sh->a;
    kula_amount sum;
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_AGREEMENT_AMEND:
        sh->err = shadow_set_rule(sh, &tx->u.amend.rule);
        return;
    case KULA_TX_CONTRIBUTE: {
        int who = kula_agreement_party(a, tx->from);
        if (who < 0)
            sh->err = KULA_ENOTPARTY;
        else if (!kula_amount_add(&sum, kula_amount_of(a->contributed[who]),
                                  kula_amount_of(tx->u.contribute.value)))
            sh->err = KULA_EOVERFLOW;
        else
            a->contributed[who] = sum.v;
        return;
    }
    case KULA_TX_BENEFIT:
        if (!kula_amount_add(&sum, kula_amount_of(a->pool), kula_amount_of(tx->u.benefit.amount)))
            sh->err = KULA_EOVERFLOW;
        else
            a->pool = sum.v;
        return;
    case KULA_TX_SETTLE: {
        /* proto/LEDGER.md §5.6: the pool is paid out by the rule (§5.1). */
        int64_t shares[KULA_MAX_PARTIES];
        sh->settles++;
        sh->last_settle = (int32_t)index;
        if (a->pool <= 0) {
            sh->err = KULA_EEMPTYPOOL;
            return;
        }
        int rc = kula_ledger_distribution(a, a->pool, shares);
        if (rc != 0) {
            sh->err = rc;
            return;
        }
        for (uint32_t i = 0; i < a->nparties; i++) {
            if (!kula_amount_add(&sum, kula_amount_of(a->received[i]), kula_amount_of(shares[i]))) {
                sh->err = KULA_EOVERFLOW;
                return;
            }
            a->received[i] = sum.v;
        }
        a->pool = 0;
        return;
    }
    case KULA_TX_AGREEMENT_OPEN:
    case KULA_TX_AGREEMENT_CLOSE:
    case KULA_TX_TRANSFER:
    case KULA_TX_EXCHANGE:
    case KULA_TX_REFERRAL:
    case KULA_TX_CONVERSION:
    case KULA_TX_FEEDBACK:
    case KULA_TX_PROPOSE:
    case KULA_TX_VOTE:
    case KULA_TX_EVIDENCE:
        return;
    }
}

/* Before a block: recomputes every settlement in it on shadows of the
 * agreements it settles.  Returns: 0 or KULA_ENOMEM (a transaction that
 * does not decode is left to the chain, which rejects the block). */
static int shadows_before(shadows *s, kula_ledger *l, const uint8_t *block, size_t len)
{
    s->n = 0;
    s->nsettled = 0;
    kula_block b;
    if (kula_block_decode(&b, block, len) != 0)
        return KULA_OK;
    int rc = KULA_OK;
    kula_tx *tx = malloc(sizeof(*tx));
    if (tx == NULL)
        rc = KULA_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < b.ntxs; i++) {
        if (kula_tx_decode(tx, b.txs[i], b.tx_lens[i]) != 0 || tx->kind != KULA_TX_SETTLE ||
            settled_in_block(s, &tx->u.settle.agreement))
            continue;
        if (s->nsettled == s->settled_cap) {
            size_t cap = s->settled_cap ? s->settled_cap * 2 : 4;
            kula_hash *ns = realloc(s->settled, cap * sizeof(*ns));
            if (ns == NULL) {
                rc = KULA_ENOMEM;
                break;
            }
            s->settled = ns;
            s->settled_cap = cap;
        }
        s->settled[s->nsettled++] = tx->u.settle.agreement;
    }
    for (uint32_t i = 0; rc == 0 && s->nsettled > 0 && i < b.ntxs; i++) {
        if (kula_tx_decode(tx, b.txs[i], b.tx_lens[i]) != 0)
            continue;
        const kula_hash *id = tx_agreement(tx);
        if (id == NULL || tx->kind == KULA_TX_REFERRAL || !settled_in_block(s, id))
            continue;
        shadow *sh = shadow_get(s, l, tx, id);
        if (sh == NULL) {
            rc = KULA_ENOMEM;
            break;
        }
        shadow_step(sh, tx, i);
    }
    free(tx);
    kula_block_free(&b);
    return rc;
}

/* After the block applied: every settled agreement's received totals and
 * pool must be the shadow's.  Out: *settles, the settlements checked.
 * Returns: 0, or KULA_ERULE with the first mismatch described in e. */
static int shadows_after(shadows *s, kula_ledger *l, unsigned decimals, uint64_t *settles,
                         kula_block_error *e)
{
    for (size_t k = 0; k < s->n; k++) {
        const shadow *sh = &s->v[k];
        if (sh->settles == 0)
            continue;
        char hex[2 * KULA_HASH_LEN + 1];
        kula_hex_encode(hex, sh->id.b, KULA_HASH_LEN);
        e->code = KULA_ERULE;
        e->tx_index = sh->last_settle;
        if (sh->err != 0) {
            snprintf(e->what, sizeof(e->what),
                     "settle transaction %d (agreement %.16s): the distribution cannot be "
                     "recomputed: %s", sh->last_settle, hex, kula_strerror(sh->err));
            return KULA_ERULE;
        }
        kula_agreement after;
        int rc = kula_ledger_agreement(l, &sh->id, &after);
        if (rc != 0) {
            snprintf(e->what, sizeof(e->what), "settle transaction %d (agreement %.16s): %s",
                     sh->last_settle, hex, kula_strerror(rc));
            return KULA_ERULE;
        }
        for (uint32_t i = 0; i < sh->a.nparties; i++) {
            if (after.nparties == sh->a.nparties && after.parties[i] == sh->a.parties[i] &&
                after.received[i] == sh->a.received[i])
                continue;
            char got[24], want[24]; /* at most 21 characters */
            kula_amount_format(got, sizeof(got), kula_amount_of(after.received[i]), decimals);
            kula_amount_format(want, sizeof(want), kula_amount_of(sh->a.received[i]), decimals);
            snprintf(e->what, sizeof(e->what),
                     "settle tx %d (agreement %.16s): member %u received %s, recomputed %s",
                     sh->last_settle, hex, sh->a.parties[i], got, want);
            return KULA_ERULE;
        }
        if (after.pool != sh->a.pool) {
            snprintf(e->what, sizeof(e->what),
                     "settle transaction %d (agreement %.16s): the pool was not emptied",
                     sh->last_settle, hex);
            return KULA_ERULE;
        }
        *settles += sh->settles;
    }
    e->code = 0;
    e->tx_index = -1;
    e->what[0] = '\0';
    return KULA_OK;
}

/* ==== the audit ==== */

/* Limits of one batch of blocks verified together. */
#define BATCH_SIGS 4096u
#define BATCH_BLOCKS 512u
#define BATCH_BYTES (32u << 20)

typedef struct ablock {
    uint64_t height;
    kula_buf bytes;
    kula_buf commit;     /* the commit that finalised it; empty: not known */
    int read_rc;         /* reading the block failed */
    int commit_rc;       /* the tip: why its commit is not known */
    uint32_t commit_sigs;
    uint32_t ntxs;
    size_t first_tx;     /* its transactions' slots in the batch */
    uint64_t nsigs;      /* transaction signatures */
    bool settles;
} ablock;

typedef struct abatch {
    ablock *blocks;
    size_t n, cap;
    size_t bytes;
    kula_verify_job *jobs;
    kula_pubkey *keys;   /* keys[j] = jobs[j].key, contiguous per transaction */
    size_t njobs, jobs_cap;
    size_t *tx_job;      /* first job of each transaction */
    uint32_t *tx_nsigs;  /* its jobs; 0: verified inline by the ledger */
    const kula_pubkey **verified;
    size_t ntx, tx_cap;
    bool running;        /* started on the verifier, not yet waited for */
} abatch;

typedef struct auditor {
    kula_archive *a;
    kula_chain *chain;
    kula_verifier *v;
    uint64_t next;       /* next height to prepare */
    bool stop;           /* a block could not be read or decoded: go no further */
    shadows sh;
    kula_tx *tx;         /* scratch */
    kula_audit_result *res;
    const kula_audit_opts *opts;
} auditor;

static void batch_free(abatch *b)
{
    for (size_t i = 0; i < b->cap; i++) {
        kula_buf_free(&b->blocks[i].bytes);
        kula_buf_free(&b->blocks[i].commit);
    }
    free(b->blocks);
    free(b->jobs);
    free(b->keys);
    free(b->tx_job);
    free(b->tx_nsigs);
    free(b->verified);
    memset(b, 0, sizeof(*b));
}

static ablock *batch_push(abatch *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        ablock *nb = realloc(b->blocks, cap * sizeof(*nb));
        if (nb == NULL)
            return NULL;
        for (size_t i = b->cap; i < cap; i++) {
            memset(&nb[i], 0, sizeof(nb[i]));
            kula_buf_init(&nb[i].bytes);
            kula_buf_init(&nb[i].commit);
        }
        b->blocks = nb;
        b->cap = cap;
    }
    ablock *x = &b->blocks[b->n++];
    kula_buf bytes = x->bytes, commit = x->commit;
    memset(x, 0, sizeof(*x));
    x->bytes = bytes;
    x->commit = commit;
    kula_buf_reset(&x->bytes);
    kula_buf_reset(&x->commit);
    x->first_tx = b->ntx;
    return x;
}

static int batch_reserve(abatch *b, size_t ntx, size_t njobs)
{
    if (b->ntx + ntx > b->tx_cap) {
        size_t cap = b->tx_cap ? b->tx_cap : 256;
        while (cap < b->ntx + ntx)
            cap *= 2;
        size_t *tj = realloc(b->tx_job, cap * sizeof(*tj));
        if (tj != NULL)
            b->tx_job = tj;
        uint32_t *tn = realloc(b->tx_nsigs, cap * sizeof(*tn));
        if (tn != NULL)
            b->tx_nsigs = tn;
        const kula_pubkey **vk = realloc(b->verified, cap * sizeof(*vk));
        if (vk != NULL)
            b->verified = vk;
        if (tj == NULL || tn == NULL || vk == NULL)
            return KULA_ENOMEM;
        b->tx_cap = cap;
    }
    if (b->njobs + njobs > b->jobs_cap) {
        size_t cap = b->jobs_cap ? b->jobs_cap : 1024;
        while (cap < b->njobs + njobs)
            cap *= 2;
        kula_verify_job *nj = realloc(b->jobs, cap * sizeof(*nj));
        if (nj != NULL)
            b->jobs = nj;
        kula_pubkey *nk = realloc(b->keys, cap * sizeof(*nk));
        if (nk != NULL)
            b->keys = nk;
        if (nj == NULL || nk == NULL)
            return KULA_ENOMEM;
        b->jobs_cap = cap;
    }
    return KULA_OK;
}

/* Queues the signatures of one decoded transaction for the workers, with
 * the signers' keys as the ledger now knows them.  Keys may be a batch or
 * two stale; the ledger re-verifies inline any signature whose signer's key
 * has changed since, and a transaction left out (its signers cannot be
 * known yet, or the set is not the required one) is verified inline. */
static void queue_tx(auditor *au, abatch *b, const kula_tx *tx)
{
    size_t t = b->ntx++;
    b->tx_nsigs[t] = 0;
    if (batch_reserve(b, 0, KULA_MAX_PARTIES) != 0 ||
        kula_ledger_sig_jobs(kula_chain_ledger(au->chain), tx, &b->jobs[b->njobs]) != 0)
        return; /* inline, then */
    uint32_t n = tx->nsigs;
    b->tx_job[t] = b->njobs;
    for (uint32_t s = 0; s < n; s++)
        b->keys[b->njobs++] = b->jobs[b->tx_job[t] + s].key;
    b->tx_nsigs[t] = n;
}

/* Reads and prepares the next batch of blocks.  prev: the last block of
 * the batch before (its commit is carried by this batch's first block);
 * within the batch, the block before is found by index, as the array may
 * move.
 * Returns: 0 or KULA_ENOMEM. */
static int prepare(auditor *au, abatch *b, ablock *prev)
{
    b->n = 0;
    b->bytes = 0;
    b->njobs = 0;
    b->ntx = 0;
    uint64_t tip = au->a->tip;
    while (!au->stop && au->next <= tip && b->n < BATCH_BLOCKS && b->njobs < BATCH_SIGS &&
           b->bytes < BATCH_BYTES) {
        uint64_t h = au->next++;
        ablock *x = batch_push(b); /* may move the batch's blocks */
        if (x == NULL)
            return KULA_ENOMEM;
        if (b->n > 1)
            prev = &b->blocks[b->n - 2];
        x->height = h;
        if ((x->read_rc = kula_archive_block(au->a, h, &x->bytes)) != 0) {
            au->stop = true;
            break;
        }
        b->bytes += x->bytes.len;
        kula_block blk;
        if (kula_block_decode(&blk, x->bytes.data, x->bytes.len) != 0) {
            au->stop = true; /* the chain reports why */
            break;
        }
        /* The commit of the block before, if its hash is the one this
         * header names (else that block goes unconfirmed and this one
         * fails its own check, naming the right height). */
        if (prev != NULL && prev->height + 1 == h && blk.has_last_commit) {
            kula_hash ch;
            kula_commit_hash(&ch, blk.last_commit);
            if (memcmp(ch.b, blk.header.last_commit_hash.b, KULA_HASH_LEN) == 0) {
                prev->commit_sigs = blk.last_commit->nsigs;
                if (kula_commit_encode(&prev->commit, blk.last_commit) != 0)
                    kula_buf_reset(&prev->commit);
            }
        }
        if (h == tip) {
            x->commit_rc = kula_archive_commit(au->a, h, &x->commit);
            if (x->commit_rc == 0) {
                kula_commit *cm = malloc(sizeof(*cm));
                if (cm != NULL && kula_commit_decode(cm, x->commit.data, x->commit.len) == 0)
                    x->commit_sigs = cm->nsigs;
                free(cm);
            } else {
                kula_buf_reset(&x->commit);
            }
        }
        int rc = batch_reserve(b, blk.ntxs, 0);
        if (rc != 0) {
            kula_block_free(&blk);
            return rc;
        }
        x->ntxs = blk.ntxs;
        x->first_tx = b->ntx;
        for (uint32_t i = 0; i < blk.ntxs; i++) {
            if (kula_tx_decode(au->tx, blk.txs[i], blk.tx_lens[i]) != 0) {
                b->tx_nsigs[b->ntx++] = 0; /* the chain reports it */
                continue;
            }
            x->nsigs += au->tx->nsigs;
            if (au->tx->kind == KULA_TX_SETTLE)
                x->settles = true;
            queue_tx(au, b, au->tx);
        }
        kula_block_free(&blk);
    }
    return KULA_OK;
}

/* After the workers: a transaction whose every signature verified passes
 * its keys to the ledger; any other is verified again inline, so the
 * ledger's own check names the failure. */
static void collect(abatch *b)
{
    for (size_t t = 0; t < b->ntx; t++) {
        b->verified[t] = NULL;
        uint32_t n = b->tx_nsigs[t];
        if (n == 0)
            continue;
        bool ok = true;
        for (uint32_t s = 0; s < n; s++)
            ok = ok && b->jobs[b->tx_job[t] + s].ok;
        if (ok)
            b->verified[t] = &b->keys[b->tx_job[t]];
    }
}

static enum kula_audit_check classify(const kula_block_error *e)
{
    int code = e->code;
    if (code == KULA_ENOMEM)
        return KULA_AUDIT_INTERNAL;
    if (code <= KULA_ETRUNC && code >= KULA_EORDER)
        return KULA_AUDIT_DECODE;
    switch (code) {
    case KULA_ECHAIN:
    case KULA_EHEIGHT:
    case KULA_EPREVHASH:
    case KULA_EBLOCK:
        return e->tx_index < 0 ? KULA_AUDIT_LINK : KULA_AUDIT_TRANSACTION;
    case KULA_ETXROOT: return KULA_AUDIT_TXS_ROOT;
    case KULA_ECOMMIT: return KULA_AUDIT_COMMIT;
    case KULA_ESTATEROOT: return KULA_AUDIT_STATE_ROOT;
    case KULA_EBADSIG:
    case KULA_ESIGNERS: return e->tx_index >= 0 ? KULA_AUDIT_SIGNATURE : KULA_AUDIT_LINK;
    case KULA_ESTORE: return KULA_AUDIT_INTERNAL;
    default: break;
    }
    return e->tx_index >= 0 ? KULA_AUDIT_TRANSACTION : KULA_AUDIT_LINK;
}

const char *kula_audit_check_name(enum kula_audit_check check)
{
    switch (check) {
    case KULA_AUDIT_OK: return "ok";
    case KULA_AUDIT_STORE: return "store";
    case KULA_AUDIT_DECODE: return "decode";
    case KULA_AUDIT_LINK: return "link";
    case KULA_AUDIT_TXS_ROOT: return "txs_root";
    case KULA_AUDIT_COMMIT: return "commit";
    case KULA_AUDIT_SIGNATURE: return "signature";
    case KULA_AUDIT_TRANSACTION: return "transaction";
    case KULA_AUDIT_STATE_ROOT: return "state_root";
    case KULA_AUDIT_DISTRIBUTION: return "distribution";
    case KULA_AUDIT_INTERNAL: return "internal";
    }
    return "internal";
}

static int fail(auditor *au, uint64_t height, enum kula_audit_check check, int code,
                int32_t tx, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(auditor *au, uint64_t height, enum kula_audit_check check, int code,
                int32_t tx, const char *fmt, ...)
{
    kula_audit_result *res = au->res;
    res->ok = false;
    res->failed_height = height;
    res->check = check;
    res->error.code = code;
    res->error.tx_index = tx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error.what, sizeof(res->error.what), fmt, ap);
    va_end(ap);
    return code != 0 ? code : KULA_EINVAL;
}

/* Applies a prepared (and verified) batch, block by block. */
static int apply(auditor *au, abatch *b)
{
    kula_audit_result *res = au->res;
    kula_ledger *l = kula_chain_ledger(au->chain);
    for (size_t k = 0; k < b->n; k++) {
        ablock *x = &b->blocks[k];
        if (x->read_rc != 0)
            return fail(au, x->height, KULA_AUDIT_STORE, x->read_rc, -1,
                        "block %llu cannot be read from the store: %s",
                        (unsigned long long)x->height, kula_strerror(x->read_rc));
        int rc = x->settles ? shadows_before(&au->sh, l, x->bytes.data, x->bytes.len) : 0;
        if (rc != 0)
            return fail(au, x->height, KULA_AUDIT_INTERNAL, rc, -1, "%s", kula_strerror(rc));
        kula_block_keys keys = { NULL, 0 };
        if (x->ntxs > 0) {
            keys.verified = b->verified + x->first_tx;
            keys.n = x->ntxs;
        }
        bool with_commit = x->commit.len > 0;
        kula_block_error e;
        rc = kula_chain_apply_block_keys(au->chain, x->bytes.data, x->bytes.len,
                                         with_commit ? x->commit.data : NULL, x->commit.len,
                                         with_commit ? 0 : KULA_APPLY_REINDEX,
                                         x->ntxs > 0 ? &keys : NULL, &e);
        if (rc != 0) {
            if (e.code == 0)
                e.code = rc;
            enum kula_audit_check check = classify(&e);
            if (e.tx_index >= 0)
                return fail(au, x->height, check, e.code, e.tx_index, "transaction %d: %s",
                            e.tx_index, kula_strerror(e.code));
            return fail(au, x->height, check, e.code, -1, "%s", e.what);
        }
        if (!with_commit && x->height == au->a->tip)
            return fail(au, x->height, KULA_AUDIT_COMMIT, KULA_ECOMMIT, -1,
                        "the store holds no commit for the tip block (%s)",
                        kula_strerror(x->commit_rc ? x->commit_rc : KULA_ENOTFOUND));
        if (x->settles &&
            shadows_after(&au->sh, l, au->a->g.decimals, &res->settlements, &e) != 0)
            return fail(au, x->height, KULA_AUDIT_DISTRIBUTION, e.code, e.tx_index, "%s",
                        e.what);
        res->height = x->height;
        res->blocks++;
        res->txs += x->ntxs;
        res->tx_signatures += x->nsigs;
        res->commit_signatures += x->commit_sigs;
        res->tip_hash = *kula_chain_tip_hash(au->chain);
        res->state_root = *kula_ledger_state_root(l);
        if (au->opts != NULL && au->opts->progress != NULL)
            au->opts->progress(au->opts->ctx, x->height, au->a->tip);
    }
    return KULA_OK;
}

int kula_audit_run(kula_archive *a, const kula_audit_opts *opts, kula_audit_result *res)
{
    memset(res, 0, sizeof(*res));
    res->tip = a->tip;
    res->error.tx_index = -1;
    double t0 = now_s();
    auditor au;
    memset(&au, 0, sizeof(au));
    au.a = a;
    au.res = res;
    au.opts = opts;
    au.next = 1;
    unsigned threads = opts != NULL ? opts->threads : 0;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 2 ? (unsigned)n : 2;
    }
    abatch batches[2];
    memset(batches, 0, sizeof(batches));
    char err[256];
    int rc = kula_chain_open_memory(&au.chain, &a->g, err, sizeof(err));
    if (rc != 0) {
        fail(&au, 0, KULA_AUDIT_INTERNAL, rc, -1, "%s", err);
        goto out;
    }
    res->state_root = *kula_ledger_state_root(kula_chain_ledger(au.chain));
    au.tx = malloc(sizeof(*au.tx));
    if (au.tx == NULL || (rc = kula_verifier_new(&au.v, threads)) != 0) {
        rc = KULA_ENOMEM;
        fail(&au, 0, KULA_AUDIT_INTERNAL, rc, -1, "%s", kula_strerror(rc));
        goto out;
    }
    res->threads = kula_verifier_threads(au.v);
    /* The pipeline: while the workers verify batch k+1, this thread applies
     * batch k; it prepares batch k+2 while they verify k+1. */
    abatch *cur = &batches[0], *nxt = &batches[1];
    if ((rc = prepare(&au, cur, NULL)) != 0)
        goto oom;
    if (cur->njobs > 0) {
        kula_verifier_start(au.v, cur->jobs, cur->njobs);
        cur->running = true;
    }
    while (cur->n > 0) {
        rc = prepare(&au, nxt, &cur->blocks[cur->n - 1]);
        if (cur->running) {
            kula_verifier_wait(au.v);
            cur->running = false;
        }
        if (rc != 0)
            goto oom;
        collect(cur);
        if (nxt->njobs > 0) {
            kula_verifier_start(au.v, nxt->jobs, nxt->njobs);
            nxt->running = true;
        }
        if ((rc = apply(&au, cur)) != 0)
            goto out;
        abatch *t = cur;
        cur = nxt;
        nxt = t;
    }
    res->ok = true;
    rc = KULA_OK;
    goto out;
oom:
    fail(&au, au.res->height + 1, KULA_AUDIT_INTERNAL, rc, -1, "%s", kula_strerror(rc));
out:
    for (int i = 0; i < 2; i++)
        if (batches[i].running)
            kula_verifier_wait(au.v);
    for (int i = 0; i < 2; i++)
        batch_free(&batches[i]);
    kula_verifier_free(au.v);
    kula_chain_free(au.chain);
    shadows_free(&au.sh);
    free(au.tx);
    res->seconds = now_s() - t0;
    return rc;
}

/* ==== replay ==== */

struct kula_replay {
    kula_archive *a;
    kula_ledger *l;
    uint64_t height;
    uint64_t time_ms;
    kula_hash tip_hash;
    kula_buf block;
    kula_tx *tx;
};

int kula_replay_new(kula_replay **out, kula_archive *a)
{
    kula_replay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return KULA_ENOMEM;
    r->a = a;
    r->time_ms = a->g.time_ms;
    kula_buf_init(&r->block);
    r->tx = malloc(sizeof(*r->tx));
    kula_hash root;
    const kula_state_write *w;
    size_t n;
    int rc = r->tx == NULL ? KULA_ENOMEM
                           : kula_ledger_new(&r->l, &a->g.chain_id, NULL, NULL, 0, NULL);
    if (rc == 0)
        rc = kula_ledger_genesis(r->l, &a->g, &root, &w, &n);
    if (rc != 0) {
        kula_replay_free(r);
        return rc;
    }
    kula_ledger_finish_block(r->l);
    *out = r;
    return KULA_OK;
}

void kula_replay_free(kula_replay *r)
{
    if (r == NULL)
        return;
    kula_ledger_free(r->l);
    kula_buf_free(&r->block);
    free(r->tx);
    free(r);
}

kula_ledger *kula_replay_ledger(kula_replay *r) { return r->l; }
uint64_t kula_replay_height(const kula_replay *r) { return r->height; }
uint64_t kula_replay_time(const kula_replay *r) { return r->time_ms; }

static void add_move(kula_replay_tx *t, uint32_t payer, uint32_t payee, int64_t amount)
{
    if (amount <= 0 || t->nmoves >= KULA_MAX_PARTIES)
        return;
    t->moves[t->nmoves].payer = payer;
    t->moves[t->nmoves].payee = payee;
    t->moves[t->nmoves].amount = amount;
    t->nmoves++;
}

/* Applies one transaction, describing its effects in t. */
static int replay_tx(kula_ledger *l, const kula_tx *tx, kula_replay_tx *t)
{
    int rc;
    const kula_hash *ag = tx_agreement(tx);
    if (ag != NULL) {
        t->has_agreement = true;
        t->agreement = *ag;
    }
    kula_agreement before;
    kula_member referrer_before;
    referrer_before.balance = 0;
    if (tx->kind == KULA_TX_SETTLE &&
        (rc = kula_ledger_agreement(l, &tx->u.settle.agreement, &before)) != 0)
        return rc;
    if (tx->kind == KULA_TX_CONVERSION) {
        kula_referral ref;
        if ((rc = kula_ledger_referral(l, &tx->u.conversion.referral, &ref)) != 0)
            return rc;
        t->referrer = ref.referrer;
        if (ref.has_agreement) {
            t->has_agreement = true;
            t->agreement = ref.agreement;
        }
        if ((rc = kula_ledger_member(l, ref.referrer, &referrer_before)) != 0)
            return rc;
    }
    kula_apply_opts opts = { .skip_sigs = true };
    if ((rc = kula_ledger_apply_tx(l, tx, &opts, NULL)) != 0)
        return rc;
    int64_t g, r;
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER:
        add_move(t, tx->from, tx->u.transfer.to, tx->u.transfer.amount);
        break;
    case KULA_TX_EXCHANGE:
        g = tx->u.exchange.gives_value;
        r = tx->u.exchange.receives_value;
        if (g > r)
            add_move(t, tx->u.exchange.counterparty, tx->from, g - r);
        else if (r > g)
            add_move(t, tx->from, tx->u.exchange.counterparty, r - g);
        break;
    case KULA_TX_CONVERSION: {
        kula_member after;
        if ((rc = kula_ledger_member(l, t->referrer, &after)) != 0)
            return rc;
        kula_amount fee;
        if (!kula_amount_sub(&fee, kula_amount_of(after.balance),
                             kula_amount_of(referrer_before.balance)))
            return KULA_EOVERFLOW;
        t->fee = fee.v;
        add_move(t, tx->from, t->referrer, fee.v);
        break;
    }
    case KULA_TX_BENEFIT:
        add_move(t, tx->from, 0, tx->u.benefit.amount);
        break;
    case KULA_TX_SETTLE: {
        kula_agreement after;
        if ((rc = kula_ledger_agreement(l, &tx->u.settle.agreement, &after)) != 0)
            return rc;
        t->nshares = after.nparties;
        for (uint32_t i = 0; i < after.nparties; i++) {
            kula_amount d;
            if (!kula_amount_sub(&d, kula_amount_of(after.received[i]),
                                 kula_amount_of(before.received[i])))
                return KULA_EOVERFLOW;
            t->share_party[i] = after.parties[i];
            t->shares[i] = d.v;
            add_move(t, 0, after.parties[i], d.v);
        }
        break;
    }
    case KULA_TX_REFERRAL:
    case KULA_TX_AGREEMENT_OPEN:
    case KULA_TX_AGREEMENT_AMEND:
    case KULA_TX_CONTRIBUTE:
    case KULA_TX_AGREEMENT_CLOSE:
    case KULA_TX_FEEDBACK:
    case KULA_TX_PROPOSE:
    case KULA_TX_VOTE:
    case KULA_TX_EVIDENCE:
        break;
    }
    return KULA_OK;
}

static int replay_fail(kula_block_error *e, int code, int32_t tx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int replay_fail(kula_block_error *e, int code, int32_t tx, const char *fmt, ...)
{
    if (e != NULL) {
        e->code = code;
        e->tx_index = tx;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->what, sizeof(e->what), fmt, ap);
        va_end(ap);
    }
    return code;
}

static int replay_block(kula_replay *r, uint64_t h, kula_replay_fn fn, void *ctx,
                        kula_block_error *e)
{
    kula_buf_reset(&r->block);
    int rc = kula_archive_block(r->a, h, &r->block);
    if (rc != 0)
        return replay_fail(e, rc, -1, "block %llu cannot be read from the store: %s",
                           (unsigned long long)h, kula_strerror(rc));
    kula_block b;
    if ((rc = kula_block_decode(&b, r->block.data, r->block.len)) != 0)
        return replay_fail(e, rc, -1, "block does not decode: %s", kula_strerror(rc));
    const kula_header *hd = &b.header;
    if (memcmp(hd->chain_id.b, r->a->g.chain_id.b, KULA_HASH_LEN) != 0)
        rc = replay_fail(e, KULA_ECHAIN, -1, "block is for another chain");
    else if (hd->height != h)
        rc = replay_fail(e, KULA_EHEIGHT, -1, "height %llu, expected %llu",
                         (unsigned long long)hd->height, (unsigned long long)h);
    else if (memcmp(hd->prev_hash.b, r->tip_hash.b, KULA_HASH_LEN) != 0)
        rc = replay_fail(e, KULA_EPREVHASH, -1, "previous block hash does not match the chain");
    if (rc == 0) {
        kula_hash root;
        kula_txs_root(&root, b.txs, b.tx_lens, b.ntxs);
        if (memcmp(root.b, hd->txs_root.b, KULA_HASH_LEN) != 0)
            rc = replay_fail(e, KULA_ETXROOT, -1, "transactions root does not match");
    }
    if (rc == 0)
        rc = kula_ledger_begin_block(r->l, h, hd->time_ms);
    if (rc != 0) {
        kula_block_free(&b);
        return rc;
    }
    for (uint32_t i = 0; i < b.ntxs; i++) {
        kula_replay_tx t;
        memset(&t, 0, sizeof(t));
        rc = kula_tx_decode(r->tx, b.txs[i], b.tx_lens[i]);
        if (rc == 0)
            rc = replay_tx(r->l, r->tx, &t);
        if (rc != 0) {
            replay_fail(e, rc, (int32_t)i, "transaction %u: %s", i, kula_strerror(rc));
            break;
        }
        t.height = h;
        t.time_ms = hd->time_ms;
        t.index = i;
        t.tx = r->tx;
        t.raw = b.txs[i];
        t.raw_len = b.tx_lens[i];
        if (fn != NULL && (rc = fn(ctx, r->l, &t)) != 0)
            break;
    }
    kula_hash root;
    const kula_state_write *w;
    size_t nw;
    if (rc == 0 && (rc = kula_ledger_end_block(r->l, &root, &w, &nw)) != 0)
        replay_fail(e, rc, -1, "%s", kula_strerror(rc));
    if (rc == 0 && memcmp(root.b, hd->state_root.b, KULA_HASH_LEN) != 0)
        rc = replay_fail(e, KULA_ESTATEROOT, -1, "state root does not match the replay");
    if (rc != 0) {
        kula_ledger_abort_block(r->l);
    } else {
        kula_ledger_finish_block(r->l);
        r->height = h;
        r->time_ms = hd->time_ms;
        r->tip_hash = b.hash;
    }
    kula_block_free(&b);
    return rc;
}

int kula_replay_run(kula_replay *r, uint64_t to, kula_replay_fn fn, void *ctx,
                    kula_block_error *e, uint64_t *bad_height)
{
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    if (bad_height != NULL)
        *bad_height = 0;
    if (to > r->a->tip)
        to = r->a->tip;
    for (uint64_t h = r->height + 1; h <= to; h++) {
        int rc = replay_block(r, h, fn, ctx, e);
        if (rc != 0) {
            if (bad_height != NULL)
                *bad_height = h;
            return rc;
        }
    }
    return KULA_OK;
}
