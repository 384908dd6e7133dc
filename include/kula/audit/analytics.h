/* analytics.h -- ecosystem analytics computed from the ledger alone, by
 * replaying it from the genesis (kula report, kula graph).
 *
 * Presentation only: the ratios below are floating point and never feed
 * back into the ledger.  Sums of amounts are exact (kula_sum, 128 bits), so
 * a long ledger cannot overflow them.
 *
 * Definitions.  A *value flow* is value that one member hands to another:
 *   - transfer:   `amount` from `from` to `to`;
 *   - exchange:   `gives_value` (in kind) from `from` to the counterparty and
 *                 `receives_value` (in kind) back, plus the settled
 *                 difference |gives - receives| in credit from the side that
 *                 received more value to the side that delivered more; so
 *                 each side hands over max(gives, receives);
 *   - conversion: the referral fee, from the lead's receiver to the referrer
 *                 (a fee of 0 is a flow of value 0: the pair still traded);
 *   - invoice pay: the amount, from the debtor to the invoice's issuer;
 *   - a payment of a clearing's settlement (proto/LEDGER.md §9.6, no
 *                 transaction): the same, paid at the clearing from the
 *                 debtor's credit; it counts in no `txs` but in
 *                 `settled` (of its period and in all) and makes both
 *                 members active in its period.
 * Benefits paid into an agreement's pool and settlements paid out of it go
 * between a member and an agreement, not between two members: they count
 * in a member's value given (benefit) and received (settlement), and in the
 * period's `benefits` and `distributed`, but not in volume or the graph.
 *
 *   volume          the sum of all value flows (of the period, or in all);
 *   active members  members that initiated, signed, were the counterparty of
 *                   (payee, rated member, referral receiver or referrer) or
 *                   received a settlement share of at least one transaction
 *                   in the period;
 *   trading pair    two members with at least one value flow between them
 *                   (exactly the "completed exchanges" of proto/LEDGER.md §3.4);
 *   density         trading pairs / (n (n - 1) / 2), n the number of members
 *                   ever admitted (removed ones included); 0 when n < 2;
 *   partners        the trading pairs a member is in;
 *   given/received  a member's outgoing/incoming value flows, plus benefits
 *                   it paid in (given) and settlement shares (received);
 *   benefit share   of a party in an agreement: received_i / sum(received);
 *   contribution    of a party: contributed_i / sum(contributed)
 *     share         (both from the agreement's record; -1 when the sum is 0);
 *   Gini, HHI       over the settlement benefits received, in total over all
 *                   agreements, by each member that is a party to at least
 *                   one agreement (members outside every agreement are not
 *                   counted as zeros): Gini = sum_i sum_j |x_i - x_j| /
 *                   (2 n sum x) in [0, 1 - 1/n]; HHI = sum (x_i / sum x)^2 in
 *                   [1/n, 1]; both 0 when nothing was received;
 *   rating          rating_sum / rating_count of the member's record (0 when
 *                   it has no rating).
 *
 * Clearings (proto/LEDGER.md §9), from their records in the final state; a
 * clearing counts in the period of its block's time:
 *   debt at clearings  the sum of the clearings' total debt (what the
 *                   obligations each took still owed before it);
 *   cleared         the sum of their set-offs;
 *   share cleared   cleared / debt at clearings: exact integers, shown as a
 *                   percentage with one decimal rounded down
 *                   (kula_share_format), never floating point;
 *   creditors,      after the latest clearing: for each member, what the
 *   debtors         obligations that clearing took still owe it (creditors)
 *                   or it still owes on them (debtors), their `before` less
 *                   their set-off; the KULA_ANALYTICS_TOP largest, ties by
 *                   the lower member id; members with nothing left out. */
#ifndef KULA_ANALYTICS_H
#define KULA_ANALYTICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/audit/audit.h"
#include "kula/types/records.h"

__extension__ typedef unsigned __int128 kula_sum;

enum kula_period_kind { KULA_PERIOD_DAY = 0, KULA_PERIOD_WEEK = 1, KULA_PERIOD_MONTH = 2 };

/* Returns: "day", "week", "month"; never NULL. */
const char *kula_period_name(enum kula_period_kind p);

typedef struct kula_period_stats {
    char label[16];          /* UTC: "2026-01-17", ISO week "2026-W03", "2026-01" */
    uint64_t start_ms;       /* the period's first millisecond (UTC) */
    uint64_t txs;
    kula_sum volume;
    kula_sum settled;        /* paid from credit at clearings (in volume) */
    uint64_t payments;       /* ... by so many payments */
    kula_sum benefits;       /* paid into agreement pools */
    kula_sum distributed;    /* paid out by settlements */
    uint32_t active_members;
    uint32_t clearings;      /* clearings in the period (see above) */
    kula_sum clearing_debt;  /* debt at those clearings */
    kula_sum cleared;        /* set off by them */
} kula_period_stats;

typedef struct kula_member_stats {
    uint32_t id;
    char name[KULA_MAX_NAME + 1];
    char sector[KULA_MAX_NAME + 1];
    uint32_t status;         /* enum kula_member_status */
    int64_t balance;
    uint64_t txs;            /* transactions it was active in (see above) */
    kula_sum given, received;
    kula_sum benefits;       /* settlement shares received */
    kula_sum contributed;    /* contributions it made to agreements */
    uint32_t partners;
    uint64_t rating_sum, rating_count;
    double rating;           /* rating_sum / rating_count, 0 without ratings */
    bool in_agreement;       /* a party to at least one agreement */
} kula_member_stats;

/* Value that flowed from one member to another, in total. */
typedef struct kula_flow {
    uint32_t from, to;
    kula_sum value;
    uint64_t txs;            /* transactions (and clearings' payments) with a
                              * flow from `from` to `to` */
} kula_flow;

typedef struct kula_agreement_stats {
    kula_hash id;
    char label[KULA_MAX_LABEL + 1];
    char title[KULA_MAX_NAME + 1];
    uint32_t status;         /* enum kula_agreement_status */
    uint8_t rule;            /* enum kula_rule_kind */
    uint64_t opened;         /* height */
    uint64_t settlements;
    int64_t benefits;        /* total paid into the pool */
    int64_t pool;            /* still to distribute */
    uint32_t nparties;
    uint32_t parties[KULA_MAX_PARTIES];
    int64_t contributed[KULA_MAX_PARTIES];
    int64_t received[KULA_MAX_PARTIES];
    double contribution_share[KULA_MAX_PARTIES]; /* -1: nothing contributed */
    double benefit_share[KULA_MAX_PARTIES];      /* -1: nothing received */
} kula_agreement_stats;

/* A member and what it is owed or owes after the latest clearing. */
typedef struct kula_debt_rank {
    uint32_t member;
    kula_sum amount;
} kula_debt_rank;

#define KULA_ANALYTICS_TOP 5

/* The clearings of the ledger (definitions above). */
typedef struct kula_clearing_stats {
    uint64_t count;
    kula_sum debt, cleared;        /* over every clearing */
    uint64_t last;                 /* the latest clearing's number; 0: none */
    uint64_t last_height, last_ms; /* its block's height and time */
    kula_sum last_debt, last_cleared, last_remaining;
    uint32_t ncreditors, ndebtors;
    kula_debt_rank creditors[KULA_ANALYTICS_TOP]; /* largest first */
    kula_debt_rank debtors[KULA_ANALYTICS_TOP];
} kula_clearing_stats;

struct kula_analytics_acc; /* private accumulators */

typedef struct kula_analytics {
    enum kula_period_kind period;
    uint64_t height;         /* the last block counted */
    uint64_t first_ms, last_ms; /* times of the first and last transaction */
    uint64_t txs;
    kula_sum volume, benefits, distributed;
    kula_sum settled;        /* paid from credit at clearings (in volume) */
    uint64_t payments;       /* ... by so many payments */
    uint32_t nmembers;
    kula_member_stats *members;        /* members[i].id == i + 1 */
    size_t nperiods;
    kula_period_stats *periods;        /* in time order; only periods with txs
                                        * or clearings */
    size_t nflows;
    kula_flow *flows;                  /* ascending (from, to) */
    size_t nagreements;
    kula_agreement_stats *agreements;  /* in the order they were opened */
    uint64_t pairs;
    double density;
    uint32_t benefit_members;          /* the population of gini and hhi */
    double gini, hhi;
    kula_clearing_stats clearing;
    struct kula_analytics_acc *acc;
} kula_analytics;

/* Starts empty analytics.  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_analytics_init(kula_analytics *an, enum kula_period_kind period);
/* Counts one replayed transaction, or a payment of a clearing's settlement
 * (t->tx NULL; kula_replay_on_payment); l is the ledger right after it (as
 * kula_replay_run passes it).  Returns: 0 or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_analytics_add(kula_analytics *an, kula_ledger *l, const kula_replay_tx *t);
/* Completes the figures from the final state l at `height`: members' names,
 * balances and ratings, agreements, partners, density, Gini, HHI.
 * Returns: 0, KULA_ENOMEM, or a ledger error. */
KULA_MUST_CHECK
int kula_analytics_finish(kula_analytics *an, kula_ledger *l, uint64_t height);
void kula_analytics_free(kula_analytics *an);

/* Counts the clearings of the final state l (after kula_analytics_finish):
 * per period (each clearing's block time read from a), in all, and the
 * creditors and debtors after the latest.  Returns: 0, KULA_ENOMEM, or a
 * ledger or archive error. */
KULA_MUST_CHECK
int kula_analytics_clearings(kula_analytics *an, kula_ledger *l, kula_archive *a);

/* init + replay of the whole archive (its transactions and the payments of
 * clearings' settlements) + finish + clearings.
 * Out: an; on a damaged ledger *e and *bad_height (each may be NULL).
 * Returns: 0 or the error (see kula_replay_run). */
KULA_MUST_CHECK
int kula_analytics_compute(kula_analytics *an, kula_archive *a, enum kula_period_kind period,
                           kula_error *e, uint64_t *bad_height);

/* The flow from -> to, or NULL. */
const kula_flow *kula_analytics_flow(const kula_analytics *an, uint32_t from, uint32_t to);

/* Formats an exact sum with `decimals` digits after the point ("1234.50").
 * Returns: the length, or -1 if buf is too small (48 + decimals is enough). */
int kula_sum_format(char *buf, size_t len, kula_sum v, unsigned decimals);

/* Formats part / whole as a percentage with one decimal, rounded down (so
 * 100.0 means all of it), in integers ("80.0"; part <= whole < 2^100); "-"
 * when whole is 0.  kula clearing solve's summary uses it too.
 * Returns: the length, or -1 if buf is too small (8 is enough). */
int kula_share_format(char *buf, size_t len, kula_sum part, kula_sum whole);

/* Gini coefficient and Herfindahl-Hirschman index of x[0..n) (x_i >= 0), as
 * defined above; 0 for n == 0 or a zero sum. */
double kula_gini(const double *x, size_t n);
double kula_hhi(const double *x, size_t n);

#endif /* KULA_ANALYTICS_H */
