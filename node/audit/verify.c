/* verify.c -- a ledger's full verification from its genesis: the hash
 * chain, signatures, commits, state roots, and every settlement recomputed
 * apart from the ledger. */
#include "kula/audit/audit.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/crypto/verifier.h"
#include "kula/types/records.h"
#include "kula/types/txkind.h"

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
    /* What a kind does to an agreement is the ledger's rule (LEDGER.md §5),
     * recomputed here apart from it, so it stays a switch. */
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
    case KULA_TX_INVOICE:
    case KULA_TX_INVOICE_ACCEPT:
    case KULA_TX_INVOICE_DISPUTE:
    case KULA_TX_INVOICE_CANCEL:
    case KULA_TX_CLEARING_SETTLE:
    case KULA_TX_INVOICE_PAY:
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
        const kula_hash *id = kula_tx_agreement(tx);
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
                         kula_error *e)
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
    uint64_t tip = kula_archive_tip(au->a);
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

static enum kula_audit_check classify(const kula_error *e)
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
        if (au->opts != NULL && au->opts->stop != NULL && atomic_load(au->opts->stop))
            return fail(au, x->height, KULA_AUDIT_INTERNAL, KULA_EINVAL, -1,
                        "stopped before block %llu, as asked", (unsigned long long)x->height);
        uint64_t base = 0, below = 0;
        if (x->read_rc == KULA_ENOTFOUND &&
            kula_store_base(kula_archive_store(au->a), &base, &below, NULL) == 0 &&
            below > x->height)
            return fail(au, x->height, KULA_AUDIT_STORE, x->read_rc, -1,
                        "block %llu is not stored yet: this ledger started from a snapshot at "
                        "height %llu and is still fetching the blocks below it (it holds them "
                        "down to %llu); audit again once kulad logs that every block from the "
                        "genesis is stored",
                        (unsigned long long)x->height, (unsigned long long)base,
                        (unsigned long long)below);
        if (x->read_rc != 0)
            return fail(au, x->height, KULA_AUDIT_STORE, x->read_rc, -1,
                        "block %llu cannot be read from the store: %s",
                        (unsigned long long)x->height, kula_strerror(x->read_rc));
        int rc = x->settles ? shadows_before(&au->sh, l, x->bytes.data, x->bytes.len) : 0;
        if (rc != 0)
            return fail(au, x->height, KULA_AUDIT_INTERNAL, rc, -1, "%s", kula_strerror(rc));
        kula_block_keys keys = { NULL, 0, NULL, NULL, NULL };
        if (x->ntxs > 0) {
            keys.verified = b->verified + x->first_tx;
            keys.n = x->ntxs;
        }
        bool with_commit = x->commit.len > 0;
        kula_error e;
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
        if (!with_commit && x->height == kula_archive_tip(au->a))
            return fail(au, x->height, KULA_AUDIT_COMMIT, KULA_ECOMMIT, -1,
                        "the store holds no commit for the tip block (%s)",
                        kula_strerror(x->commit_rc ? x->commit_rc : KULA_ENOTFOUND));
        if (x->settles &&
            shadows_after(&au->sh, l, kula_archive_genesis(au->a)->decimals, &res->settlements, &e) != 0)
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
            au->opts->progress(au->opts->ctx, x->height, kula_archive_tip(au->a));
    }
    return KULA_OK;
}

int kula_audit_run(kula_archive *a, const kula_audit_opts *opts, kula_audit_result *res)
{
    memset(res, 0, sizeof(*res));
    res->tip = kula_archive_tip(a);
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
    kula_error oe;
    int rc = kula_chain_open_memory(&au.chain, kula_archive_genesis(a), &oe);
    if (rc != 0) {
        fail(&au, 0, KULA_AUDIT_INTERNAL, rc, -1, "%s", oe.what);
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
