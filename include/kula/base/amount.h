/* amount.h -- amounts of mutual credit in minor units, with checked arithmetic.
 *
 * An amount is a signed 64-bit count of minor units (for a unit with two
 * decimals, 1 = 0.01).  Overflow in a ledger is a consensus bug, so nobody
 * adds or subtracts raw amounts outside amount.c: every operation here reports
 * overflow and leaves its output untouched when it does.  The return values
 * are marked so that the compiler complains when they are ignored. */
#ifndef KULA_AMOUNT_H
#define KULA_AMOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"

typedef struct kula_amount { int64_t v; } kula_amount;

static inline kula_amount kula_amount_of(int64_t v) { kula_amount a = { v }; return a; }

/* Out: *out = a + b.  Returns: true on success, false on overflow (*out unchanged). */
KULA_MUST_CHECK bool kula_amount_add(kula_amount *out, kula_amount a, kula_amount b);
/* Out: *out = a - b.  Returns: true on success, false on overflow (*out unchanged). */
KULA_MUST_CHECK bool kula_amount_sub(kula_amount *out, kula_amount a, kula_amount b);
/* Out: *out = -a.  Returns: false for INT64_MIN, whose negation overflows. */
KULA_MUST_CHECK bool kula_amount_neg(kula_amount *out, kula_amount a);

/* Formats a as a decimal with `decimals` digits after the point ("-12.50").
 * Out: buf, NUL terminated.  In: len >= 24 + decimals is always enough.
 * Returns: the string length, or -1 if buf is too small or decimals > 18. */
int kula_amount_format(char *buf, size_t len, kula_amount a, unsigned decimals);

/* Parses a decimal such as "12", "12.5" or "-0.01" with at most `decimals`
 * fractional digits into minor units.  No exponent, no thousands separator,
 * no leading '+', no surrounding space.
 * Returns: 0, KULA_EINVAL for malformed text or too many decimals,
 *          KULA_EOVERFLOW if the value does not fit. */
KULA_MUST_CHECK
int kula_amount_parse(kula_amount *out, const char *text, unsigned decimals);

#endif /* KULA_AMOUNT_H */
