/* clearing_csv.h -- obligations read from CSV, for kula clearing solve.
 *
 * The file (proto/SPEC.md §14.5): a header line `id,debtor,creditor,amount`,
 * then one obligation a line, four fields separated by commas, no quotes and
 * no spaces; lines end in LF or CRLF, the last one may lack it.
 *   id        64 hex digits (an invoice's id as kula export writes it), or
 *             else a whole number from 0 to 2^64-1 in decimal
 *   debtor    the member who owes, a whole number from 0 to 2^32-1
 *   creditor  the member owed, the same, not the debtor
 *   amount    what the debtor still owes, in minor units, 0 to 2^63-1
 * The reader is for untrusted bytes: every field is bounded, every error is
 * returned with the row (a spreadsheet's row: the header is row 1), never a
 * crash.  Ids must also differ; the reader leaves that to the solver
 * (kula_clearing_solve's KULA_EEXIST) and kula_clearing_csv_explain names
 * the two rows. */
#ifndef KULA_CLEARING_CSV_H
#define KULA_CLEARING_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/ledger/clearing.h"

/* A decimal id v is the 32-byte id whose first 24 bytes are 0 and whose last
 * 8 are v in big-endian, so decimal ids sort as numbers (SPEC §14.5). */
typedef struct kula_clearing_csv {
    kula_obligation *obs; /* [n], in the file's order: obs[i] is row i + 2 */
    bool *hex;            /* [n]: whether obs[i]'s id was written in hex */
    size_t n;
} kula_clearing_csv;

/* Parses the CSV text buf[0..len).
 * Out: out (free with kula_clearing_csv_free), untouched on failure;
 *      e: on failure one line naming the row, what is wrong with it and
 *      what to do, e->tx_index = the row (or -1).
 * In:  buf need not be NUL terminated.
 * Returns: KULA_OK; KULA_EINVAL for a malformed header, row or field;
 *          KULA_EAMOUNT for a negative amount; KULA_EOVERFLOW for a number
 *          too large for its field; KULA_ESELF for a debtor that is its own
 *          creditor; KULA_ETOOBIG for more than KULA_CLEARING_MAX_OBLIGATIONS
 *          rows; KULA_ENOMEM. */
KULA_MUST_CHECK int kula_clearing_csv_read(kula_clearing_csv *out, kula_error *e,
                                           const char *buf, size_t len);

/* Rewrites e, an error of kula_clearing_solve on in->obs, in terms of the
 * file's rows (for KULA_EEXIST: both rows with the same id).  Returns: e->code. */
int kula_clearing_csv_explain(kula_error *e, const kula_clearing_csv *in);

/* Writes obligation i's id as it was given (decimal or 64 hex digits).
 * Out: buf, NUL terminated.  In: cap >= 65.  Returns: the length. */
int kula_clearing_csv_id(char *buf, size_t cap, const kula_clearing_csv *in, size_t i);

/* Frees what kula_clearing_csv_read allocated; in may be zeroed. */
void kula_clearing_csv_free(kula_clearing_csv *in);

#endif /* KULA_CLEARING_CSV_H */
