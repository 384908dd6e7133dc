/* export.h -- every committed transaction of a ledger as CSV or JSON lines,
 * for accounting software (kula export).
 *
 * One record per transaction, in chain order, and one per payment of a
 * clearing's settlement (proto/LEDGER.md §9.6), after its block's
 * transactions, as in kula statement: kind "clearing-settlement", no tx_id,
 * from the debtor to the invoice's issuer, amount what was paid, value the
 * invoice's amount, description "clearing N: invoice REF (ID) paid from
 * credit" (JSON: "clearing": N, no nonce, "signers": []).  Fields (CSV
 * columns, in this order; JSON keys of the same names, present only when
 * they apply):
 *   height          the block height
 *   time            the block time, UTC, ISO 8601 ("2026-01-17T09:30:00Z")
 *   tx_id           the transaction id (hex; empty for a clearing's payment)
 *   kind            kula_tx_kind_name(): transfer, exchange, ...,
 *                   or clearing-settlement
 *   from, from_name the initiating member (id and name)
 *   to, to_name     the other member(s): transfer payee; exchange
 *                   counterparty; referral receiver; conversion referrer;
 *                   contribute acknowledger; feedback rated member; propose
 *                   the member the action concerns; agreement open, amend,
 *                   settle and close: the parties (CSV: ';'-separated;
 *                   JSON: arrays); empty for benefit and vote
 *   amount          credit the transaction moved, in units (decimal with the
 *                   genesis's decimals): transfer amount; exchange the
 *                   settled difference, positive when `from` paid the
 *                   counterparty, negative when the counterparty paid
 *                   `from`; conversion the fee `from` paid the referrer;
 *                   benefit the amount `from` paid into the pool; settle the
 *                   pool paid out to the parties (split in `shares`)
 *   value           exchange: value of what `from` gave; contribute: the
 *                   contribution; conversion: the sale's value; referral:
 *                   the stated fee (0 under an agreement); propose: the
 *                   credit limit or parameter value
 *   value_received  exchange: value of what `from` received
 *   agreement       the agreement concerned (hex id)
 *   shares          settle: each party's share, "member:amount;..." (JSON:
 *                   [{"member", "name", "amount"}])
 *   rating          feedback: 1-5
 *   description     exchange: what `from` gave; contribute, benefit: the
 *                   description; feedback: the comment; open, amend: the
 *                   title (open: "label: title"); propose: the action
 *   description_received  exchange: what `from` received
 *   memo            the transaction's memo
 * JSON lines carry, besides, "index" (in the block), "time_ms", "nonce",
 * "expires" (ms, only for a dated transaction) and "signers"; amounts are
 * JSON strings (exact decimals).  CSV follows
 * RFC 4180: a header row, CRLF line ends, and fields holding a comma, a
 * quote, CR or LF quoted with quotes doubled; text cells a spreadsheet would
 * evaluate are neutralised (kula_csv_field).
 *
 * Only committed transactions exist in a ledger: a rejected one never
 * reaches a block, so it is never exported. */
#ifndef KULA_EXPORT_H
#define KULA_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kula/base/error.h"
#include "kula/audit/audit.h"

enum kula_export_format { KULA_EXPORT_CSV = 0, KULA_EXPORT_JSONL = 1 };

typedef struct kula_export_opts {
    enum kula_export_format format;
    /* Only the transactions of one agreement: its open, amends,
     * contributions, benefits, settlements (with the shares), close, and
     * the referrals under it and their conversions. */
    bool has_agreement;
    kula_hash agreement;
} kula_export_opts;

/* Replays the archive and writes every transaction (or the agreement's) to
 * out.  Out: *rows (may be NULL), the records written; on failure *e and
 * *bad_height (may be NULL), as kula_replay_run.
 * Returns: 0; KULA_EUNKNOWNAGREEMENT if opts names an agreement the ledger
 *          never opened (nothing is written then);
 *          KULA_EIO if writing failed; KULA_ENOMEM; or the replay's error. */
KULA_MUST_CHECK
int kula_export_run(kula_archive *a, FILE *out, const kula_export_opts *opts, uint64_t *rows,
                    kula_error *e, uint64_t *bad_height);

/* Writes every obligation of every clearing of the ledger (proto/LEDGER.md
 * §9; its state after the last block), one record each, by clearing number
 * then as the clearing took them (ascending id).  Fields (CSV columns in
 * this order, JSON keys of the same names):
 *   clearing        the clearing's number
 *   height, time    its block's height and time (UTC, ISO 8601)
 *   id              the invoice (hex): with debtor, creditor and before, a
 *                   row of kula clearing solve's input (SPEC §14.5)
 *   debtor, debtor_name, creditor, creditor_name   ids and names
 *   before          what the invoice still owed before the clearing
 *   setoff          what the clearing set off
 *   after           before - setoff
 * Amounts in units, exact decimals (JSON strings).  CSV as above.
 * Out: *rows (may be NULL); on failure *e and *bad_height (may be NULL).
 * Returns: 0; KULA_EIO if writing failed; KULA_ENOMEM; the replay's or the
 *          store's error. */
KULA_MUST_CHECK
int kula_export_clearings(kula_archive *a, FILE *out, enum kula_export_format format,
                          uint64_t *rows, kula_error *e, uint64_t *bad_height);

/* Writes the text s[0..n) as one RFC 4180 CSV field, quoted when it holds a
 * comma, quote, CR or LF (quotes doubled).  A text a spreadsheet would
 * evaluate -- starting with =, +, -, @, tab or CR -- is neutralised as OWASP
 * recommends: a single quote put before it, and the cell quoted
 * ("=1+1" is written "'=1+1" in quotes).  Numbers are not written with it. */
void kula_csv_field(FILE *out, const char *s, size_t n);

/* Writes a ',' first when comma, then the text s as kula_csv_field. */
void kula_csv_text(FILE *out, const char *s, bool comma);
/* Writes ',' and, when has, v in units with `decimals` (a number: never
 * quoted or neutralised, so a negative amount stays a number). */
void kula_csv_amount(FILE *out, bool has, int64_t v, unsigned decimals);

#endif /* KULA_EXPORT_H */
