/* audit.h -- the auditor's view of a ledger: a node's data directory opened
 * read-only, a full verification from the genesis, and a replay that
 * reports every committed transaction with the credit it moved.
 *
 * Everything here reads the store read-only, so it works beside a running
 * node (LMDB readers never block the writer) and never changes a byte of
 * the ledger.  The tip is fixed when the archive is opened: blocks the node
 * commits afterwards are not looked at. */
#ifndef KULA_AUDIT_H
#define KULA_AUDIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/chain/chain.h"
#include "kula/codec/codec.h"
#include "kula/types/genesis.h"
#include "kula/ledger/ledger.h"
#include "kula/store/store.h"
#include "kula/types/types.h"

/* ---- the archive: a ledger opened read-only ---- */

typedef struct kula_archive kula_archive;

/* Opens the ledger of a data directory read-only: DATADIR/ledger, or DATADIR
 * itself when it is the LMDB environment (holds data.mdb).  Reads the
 * stored canonical genesis, decodes and validates it, and checks that the
 * chain id the store is bound to is the hash of that genesis.
 * Out: *out (close with kula_archive_close); e (may be NULL), on failure
 *      one line naming the folder and what is wrong with it.
 * Returns: 0; KULA_ENOTFOUND (no ledger there); KULA_EGENESIS (no genesis,
 *          or one that does not decode: not a Kula ledger); KULA_ECHAIN (the
 *          stored chain id is not the genesis's); KULA_ESTORE; KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_archive_open(kula_archive **out, const char *datadir, kula_error *e);
/* As kula_archive_open, on a store already open: a reader of the running
 * node's own environment (kula_store_reader_open), which the archive owns
 * from now on, even on failure; path names the ledger in messages.
 * Returns: 0; KULA_EGENESIS; KULA_ECHAIN; KULA_ESTORE; KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_archive_open_store(kula_archive **out, kula_store *store, const char *path,
                            kula_error *e);
void kula_archive_close(kula_archive *a);

/* The decoded genesis (its chain_id set), valid until the archive closes. */
const kula_genesis *kula_archive_genesis(const kula_archive *a);
/* The height of the last committed block when the archive was opened. */
uint64_t kula_archive_tip(const kula_archive *a);
/* The store, for reads the other functions do not cover. */
kula_store *kula_archive_store(kula_archive *a);
/* Path of the LMDB environment opened (static for the archive's life). */
const char *kula_archive_path(const kula_archive *a);

/* Out: the canonical block at height (1 <= height <= tip) appended to out.
 * Returns: 0, KULA_ENOTFOUND, KULA_ESTORE. */
KULA_MUST_CHECK
int kula_archive_block(kula_archive *a, uint64_t height, kula_buf *out);
/* Out: *ms, the time of block `height` (1 <= height <= tip).
 * Returns: 0, KULA_ENOTFOUND, KULA_EBLOCK (it does not decode), KULA_ESTORE. */
KULA_MUST_CHECK
int kula_archive_block_time(kula_archive *a, uint64_t height, uint64_t *ms);
/* Out: the canonical commit that finalised block `height` appended to out:
 * the last_commit the next block carries, or the store's tip commit for the
 * newest block (re-read from the next block if the node moved on meanwhile).
 * Returns: 0, KULA_ENOTFOUND, KULA_EBLOCK (the next block does not decode),
 *          KULA_ESTORE. */
KULA_MUST_CHECK
int kula_archive_commit(kula_archive *a, uint64_t height, kula_buf *out);

/* ---- audit ---- */

/* Which check failed: a stable name for each in kula_audit_check_name(). */
enum kula_audit_check {
    KULA_AUDIT_OK = 0,
    KULA_AUDIT_STORE,        /* a block is missing or unreadable */
    KULA_AUDIT_DECODE,       /* a block or transaction does not decode */
    KULA_AUDIT_LINK,         /* chain id, height, previous hash, time, proposer */
    KULA_AUDIT_TXS_ROOT,     /* the transactions root */
    KULA_AUDIT_COMMIT,       /* a commit: hash, 2/3 of power, precommit signatures */
    KULA_AUDIT_SIGNATURE,    /* a transaction signature or signer set */
    KULA_AUDIT_TRANSACTION,  /* a transaction breaks a ledger rule */
    KULA_AUDIT_STATE_ROOT,   /* the state root after the block */
    KULA_AUDIT_DISTRIBUTION, /* a settlement's shares, recomputed independently */
    KULA_AUDIT_INTERNAL,     /* the audit itself could not go on (memory) */
};

/* Returns: "ok", "store", "decode", "link", "txs_root", "commit",
 *          "signature", "transaction", "state_root", "distribution",
 *          "internal"; never NULL. */
const char *kula_audit_check_name(enum kula_audit_check check);

typedef struct kula_audit_opts {
    /* Verifier threads; 0: one per online CPU, at least 2. */
    unsigned threads;
    /* Called (may be NULL) after each verified block with (height, tip). */
    kula_progress_fn progress;
    void *ctx;
    /* May be NULL.  Once *stop is true (set on any thread), the audit ends
     * before its next block: not ok, check KULA_AUDIT_INTERNAL, code
     * KULA_EINVAL, failed_height the first block it did not verify. */
    const atomic_bool *stop;
} kula_audit_opts;

typedef struct kula_audit_result {
    bool ok;                   /* every check held for blocks 1..tip */
    uint64_t tip;              /* the archive's tip: what was to be verified */
    uint64_t height;           /* the last block that passed every check */
    uint64_t failed_height;    /* the first block that failed (0 when ok) */
    enum kula_audit_check check; /* what failed (KULA_AUDIT_OK when ok) */
    kula_error error;    /* its code, transaction index (or -1) and a line */
    /* Counts over the blocks that passed: */
    uint64_t blocks;
    uint64_t txs;
    uint64_t tx_signatures;     /* transaction signatures verified */
    uint64_t commit_signatures; /* precommit signatures of the commits verified */
    uint64_t settlements;       /* settlements whose shares were recomputed */
    double seconds;             /* wall time of the audit */
    unsigned threads;           /* verifier threads used */
    kula_hash tip_hash;         /* hash and state root of block `height` */
    kula_hash state_root;       /* (the genesis root at height 0) */
} kula_audit_result;

/* Verifies the archive from the genesis to its tip, replaying every block
 * into a chain in memory (the store is only read):
 *   - every block decodes, has the network's chain id, the next height, the
 *     previous block's hash, a time not before its parent's, a proposer of
 *     the validator set, and the transactions root of its transactions;
 *   - every commit -- the one each block carries for its parent and the
 *     store's commit for the tip -- hashes to the header's last_commit_hash
 *     and holds valid precommit signatures of more than 2/3 of the voting
 *     power of the validator set that signed that height;
 *   - every transaction signature verifies (on opts->threads worker threads,
 *     the next blocks' signatures while the current ones are applied), with
 *     exactly the required signers, and every transaction obeys the rules;
 *   - every state root equals the replay's;
 *   - every settlement's shares, recomputed apart from the ledger from the
 *     agreement's rule, contributions and pool as of that transaction, are
 *     what each party's received total grew by.
 * Stops at the first failure, or when opts->stop is set.
 * Out: *res, always filled in.  In: opts may be NULL (defaults).
 * Returns: 0 if everything holds; otherwise the failure's error code (also in
 *          res->error.code): a kula_err of the failed check, KULA_ENOMEM, or
 *          KULA_EINVAL (opts->stop was set). */
KULA_MUST_CHECK
int kula_audit_run(kula_archive *a, const kula_audit_opts *opts, kula_audit_result *res);

/* ---- replay: every transaction with its effects ---- */

/* Credit moved by a transaction; member 0 stands for the agreement's pool. */
typedef struct kula_credit_move {
    uint32_t payer;
    uint32_t payee;
    int64_t amount; /* > 0 */
} kula_credit_move;

/* One committed transaction, as the replay applies it. */
typedef struct kula_replay_tx {
    uint64_t height;
    uint64_t time_ms;       /* the block's time */
    uint32_t index;         /* position in the block, from 0 (a settlement's
                             * payment: after the block's transactions) */
    const kula_tx *tx;      /* decoded; borrowed for the call only */
    const uint8_t *raw;     /* the signed transaction's bytes (borrowed) */
    size_t raw_len;
    /* The agreement it concerns: open (its own id), amend, contribute,
     * benefit, settle, close, and referrals and conversions under one. */
    bool has_agreement;
    kula_hash agreement;
    /* CONVERSION: the referrer, and the fee actually paid (0 allowed). */
    uint32_t referrer;
    int64_t fee;
    /* The invoice it concerns (every invoice kind), and the member on its
     * other side: the debtor for the issuer's kinds (invoice, cancel), the
     * issuer for the debtor's (accept, dispute, pay). */
    bool has_invoice;
    kula_hash invoice;
    uint32_t invoice_other;
    /* SETTLE: the agreement's parties and what each received (may be 0). */
    uint32_t nshares;
    uint32_t share_party[KULA_MAX_PARTIES];
    int64_t shares[KULA_MAX_PARTIES];
    /* Every movement of credit, in order: transfer (from -> to), exchange
     * (the settled difference, by whoever received less value), conversion
     * (the fee, receiver -> referrer), benefit (from -> pool), settle (pool
     * -> each party with a non-zero share), invoice payment (debtor ->
     * issuer). */
    uint32_t nmoves;
    kula_credit_move moves[KULA_MAX_PARTIES];
    /* A payment of the settlement of clearing number `clearing` (proto/
     * LEDGER.md §9.6), made at the end of the block, not a transaction:
     * tx and raw are NULL, the invoice and its issuer (invoice_other) are
     * set, moves[0] is the payment.  Only kula_replay_on_payment's function
     * gets these; 0 for a transaction. */
    uint64_t clearing;
} kula_replay_tx;

/* Called for each transaction right after it was applied; the ledger then
 * shows the state up to and including it.  A non-zero return stops the
 * replay, which returns that value. */
typedef int (*kula_replay_fn)(void *ctx, kula_ledger *l, const kula_replay_tx *t);

typedef struct kula_replay kula_replay;

/* A replay of the archive into a ledger in memory, at the genesis state.
 * Returns: 0 or KULA_ENOMEM (KULA_EGENESIS). */
KULA_MUST_CHECK
int kula_replay_new(kula_replay **out, kula_archive *a);
void kula_replay_free(kula_replay *r);

/* Applies blocks up to height `to` (capped at the archive's tip), calling fn
 * (may be NULL) for every transaction.  Checks each block's chain id,
 * height, previous hash, transactions root and state root -- enough to
 * refuse a damaged ledger -- but not signatures or commits: that is
 * kula_audit_run's job.
 * Out: on failure *e (may be NULL) and *bad_height (may be NULL).
 * Returns: 0, fn's non-zero value, or the error (KULA_ENOTFOUND for a
 *          missing block, a decode error, KULA_ECHAIN, KULA_EHEIGHT,
 *          KULA_EPREVHASH, KULA_ETXROOT, KULA_ESTATEROOT, a rule's error). */
KULA_MUST_CHECK
int kula_replay_run(kula_replay *r, uint64_t to, kula_replay_fn fn, void *ctx,
                    kula_error *e, uint64_t *bad_height);

/* Has kula_replay_run call fn (NULL: none) with ctx, after each block's
 * transactions, for every payment its clearing's settlement made (proto/
 * LEDGER.md §9.6), in the order made; the ledger then shows the state after
 * the block. */
void kula_replay_on_payment(kula_replay *r, kula_replay_fn fn, void *ctx);

/* What t is in an export's or a statement's columns: its transaction's kind
 * name, or "clearing-settlement" for a clearing's payment (no transaction). */
const char *kula_replay_tx_kind(const kula_replay_tx *t);
/* Its transaction id in hex into hex (returned), or "" for a payment. */
const char *kula_replay_tx_id(const kula_replay_tx *t, char hex[2 * KULA_HASH_LEN + 1]);

/* The replay's ledger (state after the last block replayed). */
kula_ledger *kula_replay_ledger(kula_replay *r);
/* Height and time of the last block replayed (0 and the genesis time before any). */
uint64_t kula_replay_height(const kula_replay *r);
uint64_t kula_replay_time(const kula_replay *r);

#endif /* KULA_AUDIT_H */
