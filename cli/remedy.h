/* remedy.h -- what to do about a refusal: one table from the ledger's and
 * the mempool's error codes (include/kula/base/error.h; proto/LEDGER.md
 * says why each rule exists) to the rule in words and the remedy, with
 * the numbers the node puts in the error's data (payer, available credit
 * and amount; the nonce expected; who must sign) in units and names. */
#ifndef KULA_CLI_REMEDY_H
#define KULA_CLI_REMEDY_H

#include <jansson.h>
#include <stddef.h>

#include "kula/audit/txview.h"

/* Returns: the remedy for code (a negative kula_err), or NULL when the
 *          table has none. */
const char *remedy_text(int code);

/* Returns: the code of the symbolic name of an error ("ENONCEGAP"), or 0. */
int remedy_code_of(const char *name);

/* The rule's numbers from data (may be NULL) and the remedy, in a
 * paragraph for a person ("" when the table has nothing for code).
 * Out: buf[cap], always terminated.  Returns: buf. */
const char *remedy_words(char *buf, size_t cap, int code, const json_t *data, const txview *v);

#endif
