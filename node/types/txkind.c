/* txkind.c -- the fields of each transaction kind and governance action
 * (proto/SPEC.md §6.2-§6.18), in wire order. */
#include "kula/types/txkind.h"

#include <stdbool.h>

#define TX(field) offsetof(kula_tx, u.field)
#define ACT(field) offsetof(kula_action, field)
#define N(fields) (uint32_t)(sizeof(fields) / sizeof(fields[0])), fields

/* ---- transaction payloads ---- */

static const kula_field f_TRANSFER[] = {
    { "to", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, TX(transfer.to), 0 },
    { "amount", KULA_F_AMOUNT, 0, 0, TX(transfer.amount), 0 },
};
static const kula_field f_EXCHANGE[] = {
    { "counterparty", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, TX(exchange.counterparty), 0 },
    { "gives", KULA_F_TEXT, 0, KULA_MAX_DESC, TX(exchange.gives), 0 },
    { "gives_value", KULA_F_AMOUNT, 0, 0, TX(exchange.gives_value), 0 },
    { "receives", KULA_F_TEXT, 0, KULA_MAX_DESC, TX(exchange.receives), 0 },
    { "receives_value", KULA_F_AMOUNT, 0, 0, TX(exchange.receives_value), 0 },
};
static const kula_field f_REFERRAL[] = {
    { "receiver", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, TX(referral.receiver), 0 },
    { "lead", KULA_F_HASH, 0, 0, TX(referral.lead), 0 },
    { "fee", KULA_F_AMOUNT, 0, 0, TX(referral.fee), 0 },
    { "agreement", KULA_F_OPT_HASH, KULA_ROLE_AGREEMENT, 0, TX(referral.agreement),
      TX(referral.has_agreement) },
};
static const kula_field f_CONVERSION[] = {
    { "referral", KULA_F_HASH, 0, 0, TX(conversion.referral), 0 },
    { "value", KULA_F_AMOUNT, 0, 0, TX(conversion.value), 0 },
};
static const kula_field f_AGREEMENT_OPEN[] = {
    { "label", KULA_F_TEXT, 0, KULA_MAX_LABEL, TX(open.label), 0 },
    { "title", KULA_F_TEXT, 0, KULA_MAX_NAME, TX(open.title), 0 },
    { "parties", KULA_F_PARTIES, 0, 0, TX(open.parties), TX(open.nparties) },
    { "rule", KULA_F_RULE, 0, 0, TX(open.rule), 0 },
    { "term_end", KULA_F_U64, 0, 0, TX(open.term_end), 0 },
    { "referral_fee_bps", KULA_F_U32, 0, KULA_BPS_DENOM, TX(open.referral_fee_bps), 0 },
};
static const kula_field f_AGREEMENT_AMEND[] = {
    { "agreement", KULA_F_HASH, KULA_ROLE_AGREEMENT, 0, TX(amend.agreement), 0 },
    { "title", KULA_F_TEXT, 0, KULA_MAX_NAME, TX(amend.title), 0 },
    { "rule", KULA_F_RULE, 0, 0, TX(amend.rule), 0 },
    { "term_end", KULA_F_U64, 0, 0, TX(amend.term_end), 0 },
    { "referral_fee_bps", KULA_F_U32, 0, KULA_BPS_DENOM, TX(amend.referral_fee_bps), 0 },
};
static const kula_field f_CONTRIBUTE[] = {
    { "agreement", KULA_F_HASH, KULA_ROLE_AGREEMENT, 0, TX(contribute.agreement), 0 },
    { "value", KULA_F_AMOUNT, 0, 0, TX(contribute.value), 0 },
    { "description", KULA_F_TEXT, 0, KULA_MAX_DESC, TX(contribute.description), 0 },
    { "acknowledger", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, TX(contribute.acknowledger), 0 },
};
static const kula_field f_BENEFIT[] = {
    { "agreement", KULA_F_HASH, KULA_ROLE_AGREEMENT, 0, TX(benefit.agreement), 0 },
    { "amount", KULA_F_AMOUNT, 0, 0, TX(benefit.amount), 0 },
    { "description", KULA_F_TEXT, 0, KULA_MAX_DESC, TX(benefit.description), 0 },
};
static const kula_field f_SETTLE[] = {
    { "agreement", KULA_F_HASH, KULA_ROLE_AGREEMENT, 0, TX(settle.agreement), 0 },
};
static const kula_field f_FEEDBACK[] = {
    { "about", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, TX(feedback.about), 0 },
    { "rating", KULA_F_U32, 0, 5, TX(feedback.rating), 0 },
    { "comment", KULA_F_TEXT, 0, KULA_MAX_COMMENT, TX(feedback.comment), 0 },
};
static const kula_field f_PROPOSE[] = {
    { "action", KULA_F_ACTION, 0, 0, TX(propose.action), 0 },
};
static const kula_field f_VOTE[] = {
    { "proposal", KULA_F_HASH, 0, 0, TX(vote.proposal), 0 },
    { "approve", KULA_F_BOOL, 0, 0, TX(vote.approve), 0 },
};
static const kula_field f_EVIDENCE[] = {
    { "vote_a", KULA_F_VOTE, 0, 0, TX(evidence.a), 0 },
    { "vote_b", KULA_F_VOTE_NEXT, 0, 0, TX(evidence.b), 0 },
};
static const kula_field f_INVOICE[] = {
    { "debtor", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, TX(invoice.debtor), 0 },
    { "amount", KULA_F_AMOUNT, 0, 0, TX(invoice.amount), 0 },
    { "due", KULA_F_U64, 0, 0, TX(invoice.due), 0 },
    { "reference", KULA_F_TEXT, 0, KULA_MAX_INVOICE_REF, TX(invoice.reference), 0 },
    { "document", KULA_F_OPT_HASH, 0, 0, TX(invoice.document), TX(invoice.has_document) },
};
static const kula_field f_INVOICE_ACCEPT[] = {
    { "invoice", KULA_F_HASH, KULA_ROLE_INVOICE, 0, TX(inv.invoice), 0 },
};
static const kula_field f_INVOICE_DISPUTE[] = {
    { "invoice", KULA_F_HASH, KULA_ROLE_INVOICE, 0, TX(inv.invoice), 0 },
    { "reason", KULA_F_TEXT, 0, KULA_MAX_DESC, TX(inv.reason), 0 },
};
static const kula_field f_INVOICE_PAY[] = {
    { "invoice", KULA_F_HASH, KULA_ROLE_INVOICE, 0, TX(inv.invoice), 0 },
    { "amount", KULA_F_AMOUNT, 0, 0, TX(inv.amount), 0 },
};
static const kula_field f_CLEARING_SETTLE[] = {
    { "settle", KULA_F_BOOL, 0, 0, TX(csettle.on), 0 },
};

/* agreement-close names its agreement as settle does; invoice-cancel its
 * invoice as invoice-accept does */
#define f_INVOICE_CANCEL f_INVOICE_ACCEPT
#define f_AGREEMENT_CLOSE f_SETTLE

/* Indexed by kind; f_KIND must exist for every kind of KULA_TX_KINDS. */
static const kula_kind_desc tx_kinds[KULA_TX_KIND_COUNT] = {
#define KULA_X_(id, num, name) [num] = { name, N(f_##id) },
    KULA_TX_KINDS(KULA_X_)
#undef KULA_X_
};

/* ---- governance actions (§6.14) ---- */

static const kula_field f_ADMIT[] = {
    { "pubkey", KULA_F_PUBKEY, 0, 0, ACT(pubkey), 0 },
    { "name", KULA_F_TEXT, 0, KULA_MAX_NAME, ACT(name), 0 },
    { "sector", KULA_F_TEXT, 0, KULA_MAX_NAME, ACT(sector), 0 },
    { "credit_limit", KULA_F_AMOUNT, 0, 0, ACT(credit_limit), 0 },
    { "voting_power", KULA_F_U64, 0, 0, ACT(voting_power), 0 },
};
static const kula_field f_REMOVE[] = {
    { "member", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, ACT(member), 0 },
};
static const kula_field f_CREDIT_LIMIT[] = {
    { "member", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, ACT(member), 0 },
    { "credit_limit", KULA_F_AMOUNT, 0, 0, ACT(credit_limit), 0 },
};
static const kula_field f_PARAM[] = {
    { "param", KULA_F_PARAM, 0, 0, ACT(param), 0 },
    { "value", KULA_F_AMOUNT, 0, 0, ACT(value), 0 },
};
static const kula_field f_ROTATE_KEY[] = {
    { "member", KULA_F_MEMBER, KULA_ROLE_OTHER, 0, ACT(member), 0 },
    { "pubkey", KULA_F_PUBKEY, 0, 0, ACT(pubkey), 0 },
};

static const kula_field f_ADMIT_OBSERVER[] = {
    { "pubkey", KULA_F_PUBKEY, 0, 0, ACT(pubkey), 0 },
    { "name", KULA_F_TEXT, 0, KULA_MAX_NAME, ACT(name), 0 },
};
static const kula_field f_REMOVE_OBSERVER[] = {
    { "pubkey", KULA_F_PUBKEY, 0, 0, ACT(pubkey), 0 },
};
/* clear has no fields (its encoding is [6]); C has no empty arrays. */
static const kula_field f_CLEAR[1];
#define ACT_NFIELDS(id) \
    (KULA_ACT_##id == KULA_ACT_CLEAR ? 0u : (uint32_t)(sizeof(f_##id) / sizeof(f_##id[0])))

static const kula_kind_desc action_kinds[KULA_ACT_KIND_MAX + 1] = {
#define KULA_X_(id, num, name) [num] = { name, ACT_NFIELDS(id), f_##id },
    KULA_ACTION_KINDS(KULA_X_)
#undef KULA_X_
};

const kula_kind_desc *kula_tx_kind_desc(unsigned kind)
{
    return kind < KULA_TX_KIND_COUNT && tx_kinds[kind].name != NULL ? &tx_kinds[kind] : NULL;
}

const kula_kind_desc *kula_action_kind_desc(unsigned kind)
{
    return kind <= KULA_ACT_KIND_MAX && action_kinds[kind].name != NULL ? &action_kinds[kind]
                                                                       : NULL;
}

const char *kula_tx_kind_name(unsigned kind)
{
    const kula_kind_desc *d = kula_tx_kind_desc(kind);
    return d != NULL ? d->name : NULL;
}

const char *kula_action_kind_name(unsigned kind)
{
    const kula_kind_desc *d = kula_action_kind_desc(kind);
    return d != NULL ? d->name : NULL;
}

const char *kula_rule_kind_name(unsigned kind)
{
    static const char *const names[] = {
#define KULA_X_(id, num, name) [num] = name,
        KULA_RULE_KINDS(KULA_X_)
#undef KULA_X_
    };
    return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : NULL;
}

/* The first field of tx's kind with role, or NULL. */
static const kula_field *with_role(const kula_tx *tx, enum kula_field_role role)
{
    const kula_kind_desc *d = kula_tx_kind_desc(tx->kind);
    for (uint32_t i = 0; d != NULL && i < d->nfields; i++)
        if (d->fields[i].role == role)
            return &d->fields[i];
    return NULL;
}

uint32_t kula_tx_other(const kula_tx *tx)
{
    const kula_field *f = with_role(tx, KULA_ROLE_OTHER);
    return f != NULL ? *KULA_CFIELD(uint32_t, tx, f) : 0;
}

const kula_hash *kula_tx_invoice(const kula_tx *tx)
{
    if (tx->kind == KULA_TX_INVOICE)
        return &tx->id;
    const kula_field *f = with_role(tx, KULA_ROLE_INVOICE);
    return f != NULL ? KULA_CFIELD(kula_hash, tx, f) : NULL;
}

const kula_hash *kula_tx_agreement(const kula_tx *tx)
{
    if (tx->kind == KULA_TX_AGREEMENT_OPEN)
        return &tx->id;
    const kula_field *f = with_role(tx, KULA_ROLE_AGREEMENT);
    if (f == NULL || (f->type == KULA_F_OPT_HASH && !*KULA_CFIELD_AUX(bool, tx, f)))
        return NULL;
    return KULA_CFIELD(kula_hash, tx, f);
}
