/* fuzz_clearing_csv.c -- libFuzzer target for the obligations' CSV reader
 * and the clearing solver behind it (proto/SPEC.md §14).
 *
 * Property: the reader accepts or refuses with one line naming the row;
 * what it accepts (up to 512 obligations) the solver clears with every
 * set-off in [0, amount], every net position unchanged, totals that add up,
 * and the same set-offs when the obligations come in reverse order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kula/audit/clearing_csv.h"
#include "kula/base/error.h"
#include "kula/ledger/clearing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__extension__ typedef __int128 i128;

/* Returns: the net position of member `who` under amounts a[i] for obs[i]. */
static i128 net_of(const kula_obligation *obs, const int64_t *a, size_t n, uint32_t who)
{
    i128 net = 0;
    for (size_t i = 0; i < n; i++) {
        if (obs[i].creditor == who)
            net += a[i];
        if (obs[i].debtor == who)
            net -= a[i];
    }
    return net;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kula_clearing_csv in;
    kula_error e = { 0 };
    int rc = kula_clearing_csv_read(&in, &e, (const char *)data, size);
    if (rc != KULA_OK) {
        if (rc == KULA_ENOMEM)
            return 0;
        if (strncmp(e.what, "row ", 4) != 0 || strchr(e.what, '\n') != NULL)
            abort(); /* every refusal names its row, on one line */
        return 0;
    }
    size_t n = in.n;
    if (n > 512) {
        kula_clearing_csv_free(&in);
        return 0;
    }
    int64_t *s = malloc((n + 1) * sizeof(*s)), *r = malloc((n + 1) * sizeof(*r));
    int64_t *rem = malloc((n + 1) * sizeof(*rem)), *amt = malloc((n + 1) * sizeof(*amt));
    kula_obligation *rev = malloc((n + 1) * sizeof(*rev));
    if (s == NULL || r == NULL || rem == NULL || amt == NULL || rev == NULL)
        abort();
    kula_clearing_totals t;
    rc = kula_clearing_solve(s, &t, &e, in.obs, n);
    if (rc == KULA_EEXIST) {
        if (kula_clearing_csv_explain(&e, &in) != KULA_EEXIST || strncmp(e.what, "row ", 4) != 0)
            abort();
    }
    else if (rc != KULA_OK) {
        abort(); /* the reader let through what the solver refuses */
    }
    else {
        kula_u128 total = 0, cleared = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < 0 || s[i] > in.obs[i].amount)
                abort();
            amt[i] = in.obs[i].amount;
            rem[i] = amt[i] - s[i];
            total += (kula_u128)amt[i];
            cleared += (kula_u128)s[i];
        }
        for (size_t i = 0; i < n; i++)
            for (int side = 0; side < 2; side++) {
                uint32_t who = side ? in.obs[i].creditor : in.obs[i].debtor;
                if (net_of(in.obs, amt, n, who) != net_of(in.obs, rem, n, who))
                    abort();
            }
        if (t.total_debt != total || t.cleared != cleared || t.remaining != total - cleared ||
            t.obligations != n || t.remaining < t.net_internal_debt)
            abort();
        for (size_t i = 0; i < n; i++)
            rev[i] = in.obs[n - 1 - i];
        if (kula_clearing_solve(r, NULL, &e, rev, n) != KULA_OK)
            abort();
        for (size_t i = 0; i < n; i++)
            if (r[n - 1 - i] != s[i])
                abort();
    }
    free(s);
    free(r);
    free(rem);
    free(amt);
    free(rev);
    kula_clearing_csv_free(&in);
    return 0;
}
