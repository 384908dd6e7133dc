/* error.h -- the one error enum of Kula, its messages, and the one channel
 * for an error's details.
 *
 * Every fallible function returns 0 (KULA_OK) on success or a negative
 * kula_err value.  The X-macro below defines codes and messages together, so
 * they can never drift apart.  Codes are appended only: their numeric values
 * appear in RPC responses and must stay stable.
 *
 * A function that has more to say than its code (which file, which field,
 * which transaction of a block) takes a `kula_error *` and fills it; the
 * code is still its return value, and the same code is in the kula_error. */
#ifndef KULA_ERROR_H
#define KULA_ERROR_H

#include <stdint.h>

#define KULA_ERRORS(X)                                                        \
    X(OK, 0, "success")                                                       \
    X(ENOMEM, 1, "out of memory")                                             \
    X(EINVAL, 2, "invalid argument")                                          \
    X(EIO, 3, "input/output error")                                           \
    X(ENOTFOUND, 4, "not found")                                              \
    X(EEXIST, 5, "already exists")                                            \
    X(EOVERFLOW, 6, "arithmetic overflow")                                    \
    /* codec */                                                               \
    X(ETRUNC, 10, "truncated input")                                          \
    X(ENONCANON, 11, "non-canonical encoding")                                \
    X(ETYPE, 12, "unexpected type")                                           \
    X(ETRAILING, 13, "trailing bytes after structure")                        \
    X(EVERSION, 14, "unknown version")                                        \
    X(ETOOBIG, 15, "input exceeds size limit")                                \
    X(EUTF8, 16, "string is not valid UTF-8")                                 \
    X(ERANGE, 17, "value out of range")                                       \
    X(EARITY, 18, "wrong number of fields")                                   \
    X(EORDER, 19, "entries not in strictly ascending order")                  \
    /* crypto and keys */                                                     \
    X(EBADKEY, 30, "invalid public or secret key")                            \
    X(EBADSIG, 31, "invalid signature")                                       \
    X(EPASSPHRASE, 32, "wrong passphrase or corrupted keystore")              \
    X(EKEYSTORE, 33, "malformed keystore file")                               \
    X(ECRYPTO, 34, "cryptographic library failure")                           \
    /* genesis and configuration */                                           \
    X(EGENESIS, 40, "invalid genesis")                                        \
    X(ECONFIG, 41, "invalid configuration")                                   \
    X(ECHAIN, 42, "wrong chain id")                                           \
    /* ledger rules */                                                        \
    X(EUNKNOWNMEMBER, 50, "unknown member")                                   \
    X(EINACTIVE, 51, "member is not active")                                  \
    X(ENONCE, 52, "wrong nonce")                                              \
    X(ESIGNERS, 53, "wrong set of signers")                                   \
    X(ECREDIT, 54, "insufficient credit")                                     \
    X(EAMOUNT, 55, "bad amount")                                              \
    X(ESELF, 56, "a member cannot transact with itself")                      \
    X(EUNKNOWNAGREEMENT, 57, "unknown agreement")                             \
    X(ENOTPARTY, 58, "member is not a party to the agreement")                \
    X(ECLOSED, 59, "agreement is closed")                                     \
    X(EPOOL, 60, "agreement pool is not empty")                               \
    X(ERULE, 61, "invalid distribution rule")                                 \
    X(ENOCONTRIB, 62, "no contributions recorded")                            \
    X(EUNKNOWNREFERRAL, 63, "unknown or already converted referral")          \
    X(ENOEXCHANGE, 64, "no completed exchange left to rate")                  \
    X(EUNKNOWNPROPOSAL, 65, "unknown proposal")                               \
    X(EEXPIRED, 66, "proposal has expired")                                   \
    X(EVOTED, 67, "member has already voted")                                 \
    X(EPARAM, 68, "invalid parameter")                                        \
    X(EDUPKEY, 69, "key already belongs to a member")                         \
    X(ELASTVALIDATOR, 70, "change would leave no validator")                  \
    X(ETERM, 71, "agreement term has ended")                                  \
    X(EDECIDED, 72, "proposal is already decided")                            \
    X(EEMPTYPOOL, 73, "agreement pool is empty")                              \
    X(ERATING, 74, "rating must be 1 to 5")                                   \
    X(ETEXT, 75, "text field is empty or has control characters")            \
    /* blocks and store */                                                    \
    X(EBLOCK, 80, "invalid block")                                            \
    X(EHEIGHT, 81, "unexpected block height")                                 \
    X(EPREVHASH, 82, "previous block hash does not match")                    \
    X(ESTATEROOT, 83, "state root mismatch")                                  \
    X(ETXROOT, 84, "transactions root mismatch")                              \
    X(ECOMMIT, 85, "invalid commit")                                          \
    X(ESTORE, 86, "storage error")                                            \
    X(EMEMPOOLFULL, 87, "mempool is full")                                    \
    X(EDUPTX, 88, "transaction already known")                               \
    /* ledger rules, later additions */                                      \
    X(EEVIDENCE, 89, "votes are not evidence of equivocation")               \
    X(ETXEXPIRED, 90, "transaction has expired")                             \
    X(EREPLAYED, 91, "transaction was already committed")                    \
    /* mempool policy (not ledger rules) */                                  \
    X(ENONCEPENDING, 92, "another transaction with this nonce is pending")   \
    X(ENONCEGAP, 93, "an earlier transaction of this sender was rejected")   \
    X(EPENDINGEXPIRED, 94, "waited too long for a block")                \
    /* ledger rules: invoices (proto/LEDGER.md §8) */                        \
    X(EUNKNOWNINVOICE, 95, "unknown invoice")                                \
    X(ENOTDEBTOR, 96, "only the invoice's debtor may do this")               \
    X(ENOTISSUER, 97, "only the invoice's issuer may do this")               \
    X(EINVOICECLOSED, 98, "invoice is already paid or cancelled")            \
    X(EDISPUTED, 99, "invoice is disputed")                                  \
    X(EACCEPTED, 100, "invoice is already accepted")                         \
    X(EPARTPAID, 101, "invoice is partly paid or set off")                   \
    X(EOVERPAY, 102, "payment exceeds what the invoice still owes")          \
    /* ledger rules: settlement at clearings (proto/LEDGER.md §9.6) */       \
    X(ESETTLES, 103, "member already settles its remainder at clearings")    \
    X(ENOTSETTLES, 104, "member does not settle its remainder at clearings") \
    /* observers admitted by governance (proto/LEDGER.md §6.4) */             \
    X(EOBSERVERMEMBER, 110, "key belongs to a member, not an observer")       \
    X(EDUPOBSERVER, 111, "key is already an admitted observer's")             \
    X(EOBSERVERNAME, 112, "another observer already has this name")           \
    X(EUNKNOWNOBSERVER, 113, "key is not an admitted observer's")             \
    X(ETOOMANYOBSERVERS, 114, "the network already admits 64 observers")

/* On every public function that returns a kula_err code: a call that drops
 * the result does not compile (-Werror), so no failure goes unseen. */
#define KULA_MUST_CHECK __attribute__((warn_unused_result))

/* The one way to drop such a result, where nothing can be done about a
 * failure and nothing depends on it; the call site says why in a comment.
 * (GCC does not let a cast to void silence warn_unused_result.) */
static inline void kula_result_ignored(int rc)
{
    (void)rc;
}

#define KULA_ERR_ENUM_(name, num, msg) KULA_##name = -(num),
enum kula_err { KULA_ERRORS(KULA_ERR_ENUM_) };
#undef KULA_ERR_ENUM_

/* The details of a failure, for a person to read.  Owned by the caller
 * (usually on its stack); a function that takes one fills it when it fails
 * and leaves it as it was when it succeeds, unless its comment says
 * otherwise. */
typedef struct kula_error {
    int code;          /* the code the function returned (a kula_err) */
    int32_t tx_index;  /* the failing transaction of a block, or -1 */
    char what[1400];   /* one line for humans, without a final newline (room
                        * for a path of 1023 bytes and what went wrong) */
} kula_error;

/* Fills *e (e may be NULL: then only returns code): e->code = code,
 * e->tx_index = -1, e->what = the formatted text, cut to fit.
 * Returns: code, so a failure reads `return kula_error_set(e, rc, ...);`. */
int kula_error_set(kula_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns: a static, human-readable message for err (0 or a negative
 *          kula_err); "unknown error" for any other value.  Never NULL. */
const char *kula_strerror(int err);

/* Returns: the symbolic name of err without prefix ("ENONCE"), or "?". */
const char *kula_errname(int err);

/* Returns: whether err says that bytes do not decode (a codec error,
 *          KULA_ETRUNC to KULA_EORDER), a fault of whoever sent them. */
static inline int kula_is_codec_error(int err)
{
    return err <= KULA_ETRUNC && err >= KULA_EORDER;
}

#endif /* KULA_ERROR_H */
