/* txview.h -- a transaction for people: in words, member names and the
 * network's units.  kula tx, kula sign and kulad's web wallet show a transaction through this
 * one formatter; it asks nothing of the node itself (names come through a
 * callback), so it is tested without one. */
#ifndef KULA_TXVIEW_H
#define KULA_TXVIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Returns: the name of member id (borrowed until the next call), or NULL
 * when it is not known. */
typedef const char *(*txview_name_fn)(void *ctx, int64_t id);

/* Writes the time ms (since the Unix epoch, >= 0) for people into buf[cap],
 * with its seconds or not.  Returns: buf. */
typedef const char *(*txview_time_fn)(char *buf, size_t cap, int64_t ms, bool seconds);

/* What the formatter needs to know of the network. */
typedef struct txview {
    unsigned decimals;  /* of the unit, <= 18 */
    const char *unit;   /* its name, e.g. "KULA" */
    txview_name_fn name;
    void *ctx;
    txview_time_fn time; /* NULL: UTC, "2026-12-11 17:19:03 UTC" (kula passes
                          * its local time, cli_local_time) */
} txview;

/* Copies ledger text for a terminal: control characters become '?' and a
 * newline "\n".  Out: out[cap], always terminated.  Returns: out. */
const char *txview_clean(char *out, size_t cap, const char *in);
/* Minor units in the network's unit ("-12.50").  Returns: buf. */
const char *txview_amount(char *buf, size_t cap, int64_t v, unsigned decimals);
/* "#2 Alice Bakery" (or "#2" for a member without a known name).  Returns: buf. */
const char *txview_who(char *buf, size_t cap, const txview *v, int64_t id);
/* Whether the value of governance parameter `name` (proto/SPEC.md §8.2) is
 * an amount of minor units rather than a count. */
int txview_param_is_amount(const char *name);

/* Prints, a sentence a line each starting with indent, what the
 * transaction tx (kula_tx_to_json's object) does: who pays whom how much,
 * what each signer commits to, and under a rule of distribution each
 * party's share of every 100 units paid in and of the pool now.
 * agreement (may be NULL) is the node's record of the agreement tx is
 * about (method "agreement"): its parties, contributions, rule and pool. */
void txview_words(FILE *out, const txview *v, const json_t *tx, const json_t *agreement,
                  const char *indent);
/* Prints the fields of tx, one a line ("amount  12.50"). */
void txview_fields(FILE *out, const txview *v, const json_t *tx, const char *indent);

#endif /* KULA_TXVIEW_H */
