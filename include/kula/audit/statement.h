/* statement.h -- one member's account statement and the double-entry
 * journal of a ledger, for accounting packages (kula export --member,
 * kula export --format journal).
 *
 * Both are built from the replay's credit movements (kula_replay_tx.moves):
 * every transaction that moved credit, and every payment a clearing's
 * settlement made (proto/LEDGER.md §9.6, after its block's transactions),
 * in chain order.
 *
 * Statement (one member M), one row per posting, columns in this order:
 *   date           the block time, UTC ISO 8601 ("2026-01-05T00:00:00Z")
 *   tx_id          the transaction id (hex; empty on the opening row and
 *                  for a settlement's payment, which is no transaction)
 *   kind           kula_tx_kind_name(), "opening balance", or
 *                  "clearing-settlement" (JSON lines add "clearing": N)
 *   counterparty   the other side's name, or "pool of agreement LABEL"
 *   description    the memo; else what the kind says (exchange: what was
 *                  given and received; benefit: its description; a
 *                  settlement: "clearing N: invoice REF (ID) paid from credit")
 *   debit          credit M paid out (units, the genesis's decimals)
 *   credit         credit M received
 *   balance        M's balance after the posting
 *   currency       the network's unit (the genesis's unit name)
 * The first row is the opening balance at opts.from, or at the genesis time
 * when that is later (M's balance after every movement before it); then the postings with from <= time < to.  A
 * transaction moving credit to and from M twice gives two rows.
 *
 * Journal (opts.journal), two postings per movement, columns:
 *   date, tx_id, kind, account, description, debit, credit, currency
 * the payee's account is debited and the payer's credited by the amount, so
 * each movement (and the whole journal) sums to zero.  Accounts are
 * "member:NAME" and "pool:LABEL" (an agreement's pool).  With a member,
 * only the movements that member paid or received.
 *
 * CSV: RFC 4180 with a header row, CRLF line ends, and every text cell that
 * a spreadsheet would evaluate (starting with =, +, -, @, tab or CR)
 * neutralised by a leading single quote and quoted (kula_csv_cell).
 * JSON lines keep exact fields: amounts in minor units (JSON integers), the
 * member and counterparty ids, height, index, time_ms, agreement id. */
#ifndef KULA_STATEMENT_H
#define KULA_STATEMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kula/base/error.h"
#include "kula/audit/audit.h"

enum kula_statement_format { KULA_STATEMENT_CSV = 0, KULA_STATEMENT_JSONL = 1 };

typedef struct kula_statement_opts {
    enum kula_statement_format format;
    bool journal;      /* the double-entry journal instead of a statement */
    uint32_t member;   /* the statement's member; 0 (journal only): everyone */
    uint64_t from_ms;  /* the period [from_ms, to_ms) in ms since the epoch */
    uint64_t to_ms;    /* 0: up to the tip */
    bool local;        /* dates in the local time zone (ISO 8601 with offset) */
    /* Called (may be NULL) with (height, tip) when the replay reaches a
     * block with a movement of credit: how far it is. */
    kula_progress_fn progress;
    void *ctx;
} kula_statement_opts;

/* A bound of the period as kula export --from and --to read it: "YYYY-MM-DD"
 * (UTC; the day's start, or with `end` the next day's, so that --to DAY
 * includes DAY) or "YYYY-MM-DDTHH:MM:SSZ".
 * Returns: 0 with *ms, or KULA_EINVAL. */
KULA_MUST_CHECK
int kula_statement_date(const char *s, bool end, uint64_t *ms);

/* Replays the archive and writes the statement or journal to out.
 * Out: *rows (may be NULL), the data rows written (the opening row counts);
 *      on failure *e and *bad_height (may be NULL), as kula_replay_run.
 * In: opts->member, for a statement, a member id (kula_statement_member).
 * Returns: 0; KULA_EINVAL (a statement without a member; nothing written);
 *          KULA_EIO; KULA_ENOMEM; or the replay's error. */
KULA_MUST_CHECK
int kula_statement_run(kula_archive *a, FILE *out, const kula_statement_opts *opts,
                       uint64_t *rows, kula_error *e, uint64_t *bad_height);

/* Resolves a member given as a decimal id or a name (as at the tip).
 * Returns: 0 with *id, KULA_ENOTFOUND, or the replay's error. */
KULA_MUST_CHECK
int kula_statement_member(kula_archive *a, const char *who, uint32_t *id);

#endif /* KULA_STATEMENT_H */
