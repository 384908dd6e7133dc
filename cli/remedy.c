/* remedy.c -- what to do about a refusal (remedy.h). */
#include "remedy.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/types/types.h"

/* One row a refusal: the rule's code and what to do. */
static const struct {
    int code;
    const char *remedy;
} remedies[] = {
    { KULA_EUNKNOWNMEMBER, "check the member (kula members lists them)" },
    { KULA_EINACTIVE, "the member was removed by governance and can sign or receive nothing; "
                      "deal with an active member (kula members)" },
    { KULA_ENONCE, "kula numbers your transactions itself: send it again with kula; if "
                   "another program uses the same key, let its transactions commit first" },
    { KULA_ESIGNERS, "the members who must sign it sign it, each once, and nobody else: a "
                     "file with kula sign FILE --key NAME, a command with that member's key" },
    { KULA_ECREDIT, "receive payments first, pay a smaller amount, or ask the network for a "
                    "higher credit limit (kula propose credit-limit)" },
    { KULA_EAMOUNT, "give an amount above 0 in units, e.g. 12.50" },
    { KULA_ESELF, "name another member as the counterparty" },
    { KULA_EUNKNOWNAGREEMENT, "check the agreement's id or label (kula agreement list)" },
    { KULA_ENOTPARTY, "only the agreement's parties may do this: use a party's key (kula "
                      "agreement show ID lists them)" },
    { KULA_ECLOSED, "a closed agreement takes nothing more: open a new one" },
    { KULA_EPOOL, "settle the pool first (kula agreement settle), then close" },
    { KULA_ERULE, "a rule must be able to split a pool: weights not all 0, one per party; a "
                  "Shapley game with v(nobody) = 0, never smaller for a larger coalition, and "
                  "v(everyone) > 0 (kula agreement --help)" },
    { KULA_ENOCONTRIB, "a pro-rata pool is split by acknowledged contributions: record one "
                       "first (kula agreement contribute)" },
    { KULA_EUNKNOWNREFERRAL, "check the referral's id (kula referrals lists the open ones; a "
                             "converted one is gone)" },
    { KULA_ENOEXCHANGE, "each completed exchange with a member allows one rating of it: trade "
                        "first, then rate" },
    { KULA_EUNKNOWNPROPOSAL, "check the proposal's id (kula proposals)" },
    { KULA_EEXPIRED, "the proposal's time ran out: propose it again" },
    { KULA_EVOTED, "a member votes once on a proposal; nothing more to do" },
    { KULA_EPARAM, "give a parameter of proto/SPEC.md §8.2 within its bounds" },
    { KULA_EDUPKEY, "a key serves one member for ever: make a new key (kula keys new)" },
    { KULA_ELASTVALIDATOR, "admit another validator first, then remove or change this one" },
    { KULA_ETERM, "the agreement's term has ended: amend it with a later --term-end, or open a "
                  "new one" },
    { KULA_EDECIDED, "the proposal is decided already (kula proposal ID shows how)" },
    { KULA_EEMPTYPOOL, "nothing to settle: the pool is 0 (kula agreement benefit pays into it)" },
    { KULA_ERATING, "give --rating 1 to 5" },
    { KULA_ETEXT, "write the text without control characters, and not empty" },
    { KULA_EBADSIG, "sign with the member's current key (kula keys list); a key rotated away "
                    "signs nothing more" },
    { KULA_EBADKEY, "give a valid public key (64 hex digits) or a wallet key's name" },
    { KULA_EEVIDENCE, "evidence needs two different signed votes of one validator for the same "
                      "height, round and type" },
    { KULA_ETXEXPIRED, "it waited past its expiry: write it again (--expires for more time) and "
                       "have it signed again" },
    { KULA_EREPLAYED, "it is in the ledger already: nothing more to do (kula tx ID)" },
    { KULA_EDUPTX, "it is waiting for a block already: nothing more to do (kula tx ID)" },
    { KULA_ENONCEPENDING, "another transaction of yours with this number is waiting: let it "
                          "commit, then send again (kula does this itself)" },
    { KULA_ENONCEGAP, "an earlier transaction of yours was refused: send that one again or "
                      "send this one again with kula, which numbers it anew" },
    { KULA_EPENDINGEXPIRED, "the network made no block for it in time: check kula status, then "
                            "send it again" },
    { KULA_EMEMPOOLFULL, "the node is busy: send it again in a moment" },
    { KULA_EUNKNOWNINVOICE, "check the invoice's id (kula invoice list shows yours)" },
    { KULA_ENOTDEBTOR, "only the member billed accepts, disputes or pays an invoice: use its "
                       "key (kula invoice show ID names it)" },
    { KULA_ENOTISSUER, "only the member who issued an invoice cancels it: use its key (kula "
                       "invoice show ID names it)" },
    { KULA_EINVOICECLOSED, "the invoice is settled or cancelled: nothing more to do (kula "
                           "invoice show ID)" },
    { KULA_EDISPUTED, "the debtor disputes it: agree with the debtor, who then accepts it, or "
                      "cancel it and issue a corrected one" },
    { KULA_EACCEPTED, "the invoice is accepted already: pay it (kula pay --invoice ID)" },
    { KULA_EPARTPAID, "part of it is paid: an invoice is cancelled only while nothing is paid; "
                      "settle the rest with the debtor instead" },
    { KULA_EOVERPAY, "pay at most what it still owes (kula invoice show ID), or leave the "
                     "amount out to pay exactly that" },
    { KULA_ESETTLES, "nothing to do: what you still owe after a clearing is paid from your "
                     "credit already (kula clearing settle off stops it)" },
    { KULA_ENOTSETTLES, "nothing to do: what you still owe after a clearing is not paid from "
                        "your credit (kula clearing settle on starts it)" },
    { KULA_EOVERFLOW, "an amount or total would exceed what the ledger can count: use smaller "
                      "amounts" },
    { KULA_EOBSERVERMEMBER, "a member's node needs no admission: an observer's node shows its "
                            "own key (the line 'peers know this node by the key' of its log)" },
    { KULA_EDUPOBSERVER, "the key is an admitted observer's (kula observers): remove it as an "
                         "observer first, or use another key" },
    { KULA_EOBSERVERNAME, "give the observer a name no other observer has (kula observers)" },
    { KULA_EUNKNOWNOBSERVER, "check the key against kula observers: it is not admitted, or "
                             "another proposal removed it already" },
    { KULA_ETOOMANYOBSERVERS, "remove an observer the network no longer needs (kula observers) "
                              "before admitting another" },
};

const char *remedy_text(int code)
{
    for (size_t i = 0; i < sizeof(remedies) / sizeof(remedies[0]); i++)
        if (remedies[i].code == code)
            return remedies[i].remedy;
    return NULL;
}

int remedy_code_of(const char *name)
{
    for (int code = -1; name != NULL && code > -128; code--)
        if (strcmp(kula_errname(code), name) == 0)
            return code;
    return 0;
}

static int64_t jint(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

/* The numbers behind the refusal, a sentence ending in a space; "" when
 * data carries none. */
static void numbers(char *buf, size_t cap, int code, const json_t *data, const txview *v)
{
    char w[240], a1[64], a2[64], a3[64], a4[64], a5[64];
    buf[0] = '\0';
    if (code == KULA_ECREDIT && json_is_integer(json_object_get(data, "available"))) {
        int64_t avail = jint(data, "available"), amount = jint(data, "amount");
        __extension__ __int128 short_by = (__int128)amount - avail;
        snprintf(buf, cap, "%s has %s %s of credit available (balance %s, credit limit %s); "
                           "this needs %s: %s short. ",
                 txview_who(w, sizeof(w), v, jint(data, "payer")),
                 txview_amount(a1, sizeof(a1), avail, v->decimals), v->unit,
                 txview_amount(a2, sizeof(a2), jint(data, "balance"), v->decimals),
                 txview_amount(a3, sizeof(a3), jint(data, "credit_limit"), v->decimals),
                 txview_amount(a4, sizeof(a4), amount, v->decimals),
                 short_by > 0 && short_by <= INT64_MAX
                     ? txview_amount(a5, sizeof(a5), (int64_t)short_by, v->decimals)
                     : "?");
    } else if (code == KULA_ENONCE && json_is_integer(json_object_get(data, "next_nonce"))) {
        snprintf(buf, cap, "The ledger expects transaction number %" PRId64 " of %s next; this "
                           "one is number %" PRId64 ". ",
                 jint(data, "next_nonce"), txview_who(w, sizeof(w), v, jint(data, "member")),
                 jint(data, "nonce"));
    } else if (code == KULA_ESIGNERS && json_array_size(json_object_get(data, "signers")) > 0) {
        const json_t *s = json_object_get(data, "signers");
        bool conversion = jint(data, "kind") == KULA_TX_CONVERSION && json_array_size(s) == 1;
        size_t at = (size_t)snprintf(buf, cap, "%s",
                                     conversion ? "Only the referral's receiver may confirm "
                                                  "it: "
                                                : "It must be signed by exactly: ");
        for (size_t i = 0; i < json_array_size(s) && at < cap; i++)
            at += (size_t)snprintf(buf + at, cap - at, "%s%s", i > 0 ? ", " : "",
                                   txview_who(w, sizeof(w), v,
                                              (int64_t)json_integer_value(json_array_get(s, i))));
        if (at < cap)
            snprintf(buf + at, cap - at, "%s", conversion ? " (with that member's key). " : ". ");
    }
}

const char *remedy_words(char *buf, size_t cap, int code, const json_t *data, const txview *v)
{
    const char *r = remedy_text(code);
    char n[1200];
    numbers(n, sizeof(n), code, data, v);
    if (r == NULL && n[0] == '\0')
        snprintf(buf, cap, "%s", "");
    else
        snprintf(buf, cap, "%sWhat to do: %s.", n, r != NULL ? r : "see proto/LEDGER.md");
    return buf;
}
