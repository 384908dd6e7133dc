/* export.c -- the ledger's transactions as CSV or JSON lines (fields in
 * include/kula/audit/export.h). */
#include "kula/audit/export.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/records.h"
#include "kula/types/txkind.h"

/* One record, gathered from a replayed transaction. */
typedef struct row {
    const kula_replay_tx *t;
    uint32_t nto;
    uint32_t to[KULA_MAX_PARTIES];
    bool has_amount, has_value, has_value_received;
    int64_t amount, value, value_received;
    uint32_t rating;
    kula_text description, description_received;
    char desc[256];
} row;

typedef struct exporter {
    FILE *out;
    const kula_export_opts *opts;
    unsigned decimals;
    uint64_t rows;
    bool header;  /* the CSV header is written */
    bool found;   /* the agreement asked for was opened */
} exporter;

static const char *const columns[] = {
    "height", "time", "tx_id", "kind", "from", "from_name", "to", "to_name", "amount", "value",
    "value_received", "agreement", "shares", "rating", "description", "description_received",
    "memo",
};
#define NCOLUMNS (sizeof(columns) / sizeof(columns[0]))

static void set_amount(bool *has, int64_t *dst, int64_t v)
{
    *has = true;
    *dst = v;
}

/* A proposal's row says in words what it would do: each action's sentence
 * is its own, so this stays a switch. */
static void describe_action(row *r, const kula_action *act)
{
    switch ((enum kula_action_kind)act->kind) {
    case KULA_ACT_ADMIT:
        snprintf(r->desc, sizeof(r->desc), "admit %.*s (%.*s), voting power %llu",
                 (int)act->name.n, act->name.p, (int)act->sector.n, act->sector.p,
                 (unsigned long long)act->voting_power);
        set_amount(&r->has_value, &r->value, act->credit_limit);
        break;
    case KULA_ACT_REMOVE:
        snprintf(r->desc, sizeof(r->desc), "remove member %u", act->member);
        r->to[r->nto++] = act->member;
        break;
    case KULA_ACT_CREDIT_LIMIT:
        snprintf(r->desc, sizeof(r->desc), "set the credit limit of member %u", act->member);
        set_amount(&r->has_value, &r->value, act->credit_limit);
        r->to[r->nto++] = act->member;
        break;
    case KULA_ACT_PARAM: {
        const char *name = kula_param_name(act->param);
        snprintf(r->desc, sizeof(r->desc), "set %s to %lld", name ? name : "?",
                 (long long)act->value);
        break;
    }
    case KULA_ACT_ROTATE_KEY: {
        char hex[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(hex, act->pubkey.b, KULA_PUBKEY_LEN);
        snprintf(r->desc, sizeof(r->desc), "rotate the key of member %u to %s", act->member, hex);
        r->to[r->nto++] = act->member;
        break;
    }
    case KULA_ACT_CLEAR:
        snprintf(r->desc, sizeof(r->desc), "clear the accepted invoices now");
        break;
    case KULA_ACT_ADMIT_OBSERVER:
    case KULA_ACT_REMOVE_OBSERVER: {
        char hex[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(hex, act->pubkey.b, KULA_PUBKEY_LEN);
        if (act->kind == KULA_ACT_ADMIT_OBSERVER)
            snprintf(r->desc, sizeof(r->desc), "admit the observer %.*s, key %s",
                     (int)act->name.n, act->name.p, hex);
        else
            snprintf(r->desc, sizeof(r->desc), "remove the observer with key %s", hex);
        break;
    }
    }
    r->description.p = r->desc;
    r->description.n = strlen(r->desc);
}

/* An invoice's row: its reference and id in words, what happened to it,
 * the invoice's amount as the value and a payment as the amount. */
static void describe_invoice(row *r, kula_ledger *l, const kula_replay_tx *t)
{
    const kula_tx *tx = t->tx;
    kula_invoice v;
    if (kula_ledger_invoice(l, &t->invoice, &v) != 0)
        return;
    if (tx->kind != KULA_TX_INVOICE)
        r->to[r->nto++] = t->invoice_other;
    char id[9];
    kula_hex_encode(id, t->invoice.b, 4);
    const char *what = tx->kind == KULA_TX_INVOICE          ? "issued"
                       : tx->kind == KULA_TX_INVOICE_ACCEPT  ? "accepted"
                       : tx->kind == KULA_TX_INVOICE_DISPUTE ? "disputed: "
                       : tx->kind == KULA_TX_INVOICE_CANCEL  ? "cancelled"
                       : v.residual == 0                     ? "paid in full"
                                                             : "paid in part";
    snprintf(r->desc, sizeof(r->desc), "invoice %s (%s) %s%.*s", v.reference, id, what,
             tx->kind == KULA_TX_INVOICE_DISPUTE ? (int)tx->u.inv.reason.n : 0,
             tx->kind == KULA_TX_INVOICE_DISPUTE ? tx->u.inv.reason.p : "");
    r->description.p = r->desc;
    r->description.n = strlen(r->desc);
    set_amount(&r->has_value, &r->value, v.amount);
    if (tx->kind == KULA_TX_INVOICE_PAY)
        set_amount(&r->has_amount, &r->amount, tx->u.inv.amount);
}

/* A payment of a clearing's settlement (proto/LEDGER.md §9.6), which is no
 * transaction: from the debtor to the invoice's issuer, in the statement's
 * words (node/audit/statement.c), the invoice's amount as the value. */
static void fill_payment(row *r, kula_ledger *l, const kula_replay_tx *t)
{
    kula_invoice v;
    char id[9];
    bool known = kula_ledger_invoice(l, &t->invoice, &v) == 0;
    kula_hex_encode(id, t->invoice.b, 4);
    r->to[r->nto++] = t->moves[0].payee;
    set_amount(&r->has_amount, &r->amount, t->moves[0].amount);
    if (known)
        set_amount(&r->has_value, &r->value, v.amount);
    snprintf(r->desc, sizeof(r->desc), "clearing %llu: invoice %s (%s) paid from credit",
             (unsigned long long)t->clearing, known ? v.reference : "?", id);
    r->description.p = r->desc;
    r->description.n = strlen(r->desc);
}

static void fill_row(row *r, kula_ledger *l, const kula_replay_tx *t)
{
    memset(r, 0, sizeof(*r));
    r->t = t;
    const kula_tx *tx = t->tx;
    if (tx == NULL) {
        fill_payment(r, l, t);
        return;
    }
    kula_agreement a;
    /* "to": the member the kind names on the other side (txkind.h); the
     * cases below add those a kind reaches otherwise. */
    uint32_t other = kula_tx_other(tx);
    if (other != 0)
        r->to[r->nto++] = other;
    /* Which column holds what is each kind's meaning, so it stays a switch. */
    switch ((enum kula_tx_kind)tx->kind) {
    case KULA_TX_TRANSFER:
        set_amount(&r->has_amount, &r->amount, tx->u.transfer.amount);
        break;
    case KULA_TX_EXCHANGE: {
        int64_t g = tx->u.exchange.gives_value, rv = tx->u.exchange.receives_value;
        /* both are >= 0, so the difference cannot overflow */
        set_amount(&r->has_amount, &r->amount, rv - g);
        set_amount(&r->has_value, &r->value, g);
        set_amount(&r->has_value_received, &r->value_received, rv);
        r->description = tx->u.exchange.gives;
        r->description_received = tx->u.exchange.receives;
        break;
    }
    case KULA_TX_REFERRAL:
        set_amount(&r->has_value, &r->value, tx->u.referral.fee);
        break;
    case KULA_TX_CONVERSION:
        r->to[r->nto++] = t->referrer;
        set_amount(&r->has_amount, &r->amount, t->fee);
        set_amount(&r->has_value, &r->value, tx->u.conversion.value);
        break;
    case KULA_TX_INVOICE:
    case KULA_TX_INVOICE_ACCEPT:
    case KULA_TX_INVOICE_DISPUTE:
    case KULA_TX_INVOICE_CANCEL:
    case KULA_TX_INVOICE_PAY:
        describe_invoice(r, l, t);
        break;
    case KULA_TX_AGREEMENT_OPEN:
        for (uint32_t i = 0; i < tx->u.open.nparties; i++)
            r->to[r->nto++] = tx->u.open.parties[i];
        snprintf(r->desc, sizeof(r->desc), "%.*s: %.*s", (int)tx->u.open.label.n,
                 tx->u.open.label.p, (int)tx->u.open.title.n, tx->u.open.title.p);
        r->description.p = r->desc;
        r->description.n = strlen(r->desc);
        break;
    case KULA_TX_AGREEMENT_AMEND:
    case KULA_TX_AGREEMENT_CLOSE:
        if (tx->kind == KULA_TX_AGREEMENT_AMEND)
            r->description = tx->u.amend.title;
        if (kula_ledger_agreement(l, &t->agreement, &a) == 0)
            for (uint32_t i = 0; i < a.nparties; i++)
                r->to[r->nto++] = a.parties[i];
        break;
    case KULA_TX_CONTRIBUTE:
        set_amount(&r->has_value, &r->value, tx->u.contribute.value);
        r->description = tx->u.contribute.description;
        break;
    case KULA_TX_BENEFIT:
        set_amount(&r->has_amount, &r->amount, tx->u.benefit.amount);
        r->description = tx->u.benefit.description;
        break;
    case KULA_TX_SETTLE: {
        kula_amount total = kula_amount_of(0);
        for (uint32_t i = 0; i < t->nshares; i++) {
            r->to[r->nto++] = t->share_party[i];
            /* the shares sum to the pool, an int64 */
            if (!kula_amount_add(&total, total, kula_amount_of(t->shares[i])))
                total = kula_amount_of(INT64_MAX);
        }
        set_amount(&r->has_amount, &r->amount, total.v);
        break;
    }
    case KULA_TX_FEEDBACK:
        r->rating = tx->u.feedback.rating;
        r->description = tx->u.feedback.comment;
        break;
    case KULA_TX_PROPOSE:
        describe_action(r, &tx->u.propose.action);
        break;
    case KULA_TX_VOTE:
        break;
    case KULA_TX_CLEARING_SETTLE:
        r->description.p = tx->u.csettle.on ? "pays what it still owes at clearings from credit"
                                            : "stops paying what it still owes at clearings";
        r->description.n = strlen(r->description.p);
        break;
    case KULA_TX_EVIDENCE: {
        const kula_vote *v = &tx->u.evidence.a;
        r->to[r->nto++] = v->validator;
        snprintf(r->desc, sizeof(r->desc),
                 "evidence: validator %u signed two different %ss at height %llu, round %u",
                 v->validator, v->type == KULA_VOTE_PREVOTE ? "prevote" : "precommit",
                 (unsigned long long)v->height, v->round);
        r->description.p = r->desc;
        r->description.n = strlen(r->desc);
        break;
    }
    }
}

static const char *name_of(kula_ledger *l, uint32_t id, kula_member *m)
{
    return kula_ledger_member(l, id, m) == 0 ? m->name : "";
}

/* ---- CSV ---- */

/* A cell a spreadsheet would evaluate as a formula (OWASP, CSV injection). */
static bool formula_like(const char *s, size_t n)
{
    return n > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                     s[0] == '\t' || s[0] == '\r');
}

void kula_csv_field(FILE *out, const char *s, size_t n)
{
    bool formula = formula_like(s, n), quote = formula;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        fwrite(s, 1, n, out);
        return;
    }
    fputc('"', out);
    if (formula)
        fputc('\'', out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            fputc('"', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

void kula_csv_text(FILE *out, const char *s, bool comma)
{
    if (comma)
        fputc(',', out);
    kula_csv_field(out, s, strlen(s));
}

void kula_csv_amount(FILE *out, bool has, int64_t v, unsigned decimals)
{
    char buf[64];
    fputc(',', out);
    if (has && kula_amount_format(buf, sizeof(buf), kula_amount_of(v), decimals) > 0)
        fputs(buf, out);
}

static void csv_header(FILE *out)
{
    for (size_t i = 0; i < NCOLUMNS; i++)
        kula_csv_text(out, columns[i], i > 0);
    fputs("\r\n", out);
}

static uint32_t from_of(const kula_replay_tx *t)
{
    return t->tx != NULL ? t->tx->from : t->moves[0].payer;
}

static kula_text memo_of(const kula_replay_tx *t)
{
    return t->tx != NULL ? t->tx->memo : (kula_text){ "", 0 };
}

static void write_csv(exporter *x, kula_ledger *l, const row *r)
{
    const kula_replay_tx *t = r->t;
    FILE *out = x->out;
    char buf[512], hex[2 * KULA_HASH_LEN + 1];
    kula_member m;
    fprintf(out, "%llu", (unsigned long long)t->height);
    kula_format_utc(buf, sizeof(buf), t->time_ms);
    kula_csv_text(out, buf, true);
    kula_csv_text(out, kula_replay_tx_id(t, hex), true);
    kula_csv_text(out, kula_replay_tx_kind(t), true);
    fprintf(out, ",%u", from_of(t));
    kula_csv_text(out, name_of(l, from_of(t), &m), true);
    /* to and to_name: ';'-separated lists */
    size_t p = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < r->nto && p < sizeof(buf); i++)
        p += (size_t)snprintf(buf + p, sizeof(buf) - p, "%s%u", i ? ";" : "", r->to[i]);
    kula_csv_text(out, buf, true);
    char names[KULA_MAX_PARTIES * (KULA_MAX_NAME + 1) + 1];
    size_t q = 0;
    names[0] = '\0';
    for (uint32_t i = 0; i < r->nto && q < sizeof(names); i++)
        q += (size_t)snprintf(names + q, sizeof(names) - q, "%s%s", i ? ";" : "",
                              name_of(l, r->to[i], &m));
    kula_csv_text(out, names, true);
    kula_csv_amount(out, r->has_amount, r->amount, x->decimals);
    kula_csv_amount(out, r->has_value, r->value, x->decimals);
    kula_csv_amount(out, r->has_value_received, r->value_received, x->decimals);
    fputc(',', out);
    if (t->has_agreement) {
        kula_hex_encode(hex, t->agreement.b, KULA_HASH_LEN);
        fputs(hex, out);
    }
    fputc(',', out);
    for (uint32_t i = 0; i < t->nshares; i++) {
        kula_amount_format(buf, sizeof(buf), kula_amount_of(t->shares[i]), x->decimals);
        fprintf(out, "%s%u:%s", i ? ";" : "", t->share_party[i], buf);
    }
    fputc(',', out);
    if (r->rating > 0)
        fprintf(out, "%u", r->rating);
    fputc(',', out);
    kula_csv_field(out, r->description.p ? r->description.p : "", r->description.n);
    fputc(',', out);
    kula_csv_field(out, r->description_received.p ? r->description_received.p : "",
                   r->description_received.n);
    fputc(',', out);
    kula_text memo = memo_of(t);
    kula_csv_field(out, memo.p ? memo.p : "", memo.n);
    fputs("\r\n", out);
}

/* ---- JSON lines ---- */

static json_t *json_amount(int64_t v, unsigned decimals)
{
    char buf[64];
    if (kula_amount_format(buf, sizeof(buf), kula_amount_of(v), decimals) < 0)
        return json_null();
    return json_string(buf);
}

static json_t *json_text(kula_text t)
{
    return json_stringn(t.p != NULL ? t.p : "", t.n);
}

static int write_json(exporter *x, kula_ledger *l, const row *r)
{
    const kula_replay_tx *t = r->t;
    const kula_tx *tx = t->tx;
    char buf[64], hex[2 * KULA_HASH_LEN + 1];
    kula_member m;
    json_t *o = json_object();
    if (o == NULL)
        return KULA_ENOMEM;
    json_object_set_new(o, "height", json_integer((json_int_t)t->height));
    json_object_set_new(o, "index", json_integer(t->index));
    kula_format_utc(buf, sizeof(buf), t->time_ms);
    json_object_set_new(o, "time", json_string(buf));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)t->time_ms));
    json_object_set_new(o, "tx_id", json_string(kula_replay_tx_id(t, hex)));
    json_object_set_new(o, "kind", json_string(kula_replay_tx_kind(t)));
    if (tx == NULL)
        json_object_set_new(o, "clearing", json_integer((json_int_t)t->clearing));
    json_object_set_new(o, "from", json_integer(from_of(t)));
    json_object_set_new(o, "from_name", json_string(name_of(l, from_of(t), &m)));
    if (tx != NULL)
        json_object_set_new(o, "nonce", json_integer((json_int_t)tx->nonce));
    if (tx != NULL && tx->expires != 0 && tx->expires <= INT64_MAX) /* ms; dated (SPEC §6.1) */
        json_object_set_new(o, "expires", json_integer((json_int_t)tx->expires));
    bool list = tx != NULL && (tx->kind == KULA_TX_AGREEMENT_OPEN ||
                               tx->kind == KULA_TX_AGREEMENT_AMEND ||
                               tx->kind == KULA_TX_AGREEMENT_CLOSE || tx->kind == KULA_TX_SETTLE);
    if (list) {
        json_t *to = json_array(), *names = json_array();
        for (uint32_t i = 0; i < r->nto; i++) {
            json_array_append_new(to, json_integer(r->to[i]));
            json_array_append_new(names, json_string(name_of(l, r->to[i], &m)));
        }
        json_object_set_new(o, "to", to);
        json_object_set_new(o, "to_name", names);
    } else if (r->nto > 0) {
        json_object_set_new(o, "to", json_integer(r->to[0]));
        json_object_set_new(o, "to_name", json_string(name_of(l, r->to[0], &m)));
    }
    if (r->has_amount)
        json_object_set_new(o, "amount", json_amount(r->amount, x->decimals));
    if (r->has_value)
        json_object_set_new(o, "value", json_amount(r->value, x->decimals));
    if (r->has_value_received)
        json_object_set_new(o, "value_received", json_amount(r->value_received, x->decimals));
    if (t->has_agreement) {
        kula_hex_encode(hex, t->agreement.b, KULA_HASH_LEN);
        json_object_set_new(o, "agreement", json_string(hex));
    }
    if (tx != NULL && tx->kind == KULA_TX_SETTLE) {
        json_t *shares = json_array();
        for (uint32_t i = 0; i < t->nshares; i++) {
            json_t *s = json_object();
            json_object_set_new(s, "member", json_integer(t->share_party[i]));
            json_object_set_new(s, "name", json_string(name_of(l, t->share_party[i], &m)));
            json_object_set_new(s, "amount", json_amount(t->shares[i], x->decimals));
            json_array_append_new(shares, s);
        }
        json_object_set_new(o, "shares", shares);
    }
    if (r->rating > 0)
        json_object_set_new(o, "rating", json_integer(r->rating));
    if (r->description.p != NULL)
        json_object_set_new(o, "description", json_text(r->description));
    if (r->description_received.p != NULL)
        json_object_set_new(o, "description_received", json_text(r->description_received));
    json_object_set_new(o, "memo", json_text(memo_of(t)));
    json_t *signers = json_array(); /* a clearing's payment: none */
    for (uint32_t i = 0; tx != NULL && i < tx->nsigs; i++)
        json_array_append_new(signers, json_integer(tx->sigs[i].signer));
    json_object_set_new(o, "signers", signers);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return KULA_ENOMEM;
    fputs(line, x->out);
    fputc('\n', x->out);
    free(line);
    return KULA_OK;
}

static int on_tx(void *ctx, kula_ledger *l, const kula_replay_tx *t)
{
    exporter *x = ctx;
    if (x->opts->has_agreement) {
        if (!t->has_agreement ||
            memcmp(t->agreement.b, x->opts->agreement.b, KULA_HASH_LEN) != 0)
            return KULA_OK;
        if (t->tx->kind == KULA_TX_AGREEMENT_OPEN)
            x->found = true;
    }
    row r;
    fill_row(&r, l, t);
    int rc = KULA_OK;
    if (x->opts->format == KULA_EXPORT_CSV && !x->header) {
        csv_header(x->out);
        x->header = true;
    }
    if (x->opts->format == KULA_EXPORT_CSV)
        write_csv(x, l, &r);
    else
        rc = write_json(x, l, &r);
    if (rc == 0 && ferror(x->out))
        rc = KULA_EIO;
    if (rc == 0)
        x->rows++;
    return rc;
}

int kula_export_run(kula_archive *a, FILE *out, const kula_export_opts *opts, uint64_t *rows,
                    kula_error *e, uint64_t *bad_height)
{
    exporter x = { .out = out, .opts = opts, .decimals = kula_archive_genesis(a)->decimals };
    if (rows != NULL)
        *rows = 0;
    kula_replay *r;
    int rc = kula_replay_new(&r, a);
    if (rc != 0)
        return rc;
    /* proto/LEDGER.md §9.6: the settlements' payments are records too */
    kula_replay_on_payment(r, on_tx, &x);
    rc = kula_replay_run(r, kula_archive_tip(a), on_tx, &x, e, bad_height);
    kula_replay_free(r);
    if (rc == 0 && opts->has_agreement && !x.found)
        rc = KULA_EUNKNOWNAGREEMENT;
    /* A ledger without transactions still gets its header. */
    if (rc == 0 && opts->format == KULA_EXPORT_CSV && !x.header)
        csv_header(out);
    if (rc == 0 && fflush(out) != 0)
        rc = KULA_EIO;
    if (rows != NULL)
        *rows = x.rows;
    return rc;
}

/* ---- clearings ---- */

static const char *const clearing_columns[] = { "clearing", "height", "time", "id", "debtor",
                                                "debtor_name", "creditor", "creditor_name",
                                                "before", "setoff", "after" };

static int write_clearing(FILE *out, enum kula_export_format format, kula_ledger *l,
                          const kula_clearing *c, uint64_t ms, unsigned decimals, uint64_t *rows)
{
    char t[32], hex[2 * KULA_HASH_LEN + 1];
    kula_format_utc(t, sizeof(t), ms);
    for (uint32_t i = 0; i < c->nitems; i++) {
        const kula_clearing_item *it = &c->items[i];
        kula_member md, mc;
        const char *dn = name_of(l, it->debtor, &md), *cn = name_of(l, it->creditor, &mc);
        kula_hex_encode(hex, it->id.b, KULA_HASH_LEN);
        int64_t after = it->before - it->setoff;
        if (format == KULA_EXPORT_CSV) {
            fprintf(out, "%llu,%llu", (unsigned long long)c->number,
                    (unsigned long long)c->height);
            kula_csv_text(out, t, true);
            kula_csv_text(out, hex, true);
            fprintf(out, ",%u", it->debtor);
            kula_csv_text(out, dn, true);
            fprintf(out, ",%u", it->creditor);
            kula_csv_text(out, cn, true);
            kula_csv_amount(out, true, it->before, decimals);
            kula_csv_amount(out, true, it->setoff, decimals);
            kula_csv_amount(out, true, after, decimals);
            fputs("\r\n", out);
        } else {
            json_t *o = json_object();
            json_object_set_new(o, "clearing", json_integer((json_int_t)c->number));
            json_object_set_new(o, "height", json_integer((json_int_t)c->height));
            json_object_set_new(o, "time", json_string(t));
            json_object_set_new(o, "id", json_string(hex));
            json_object_set_new(o, "debtor", json_integer(it->debtor));
            json_object_set_new(o, "debtor_name", json_string(dn));
            json_object_set_new(o, "creditor", json_integer(it->creditor));
            json_object_set_new(o, "creditor_name", json_string(cn));
            json_object_set_new(o, "before", json_amount(it->before, decimals));
            json_object_set_new(o, "setoff", json_amount(it->setoff, decimals));
            json_object_set_new(o, "after", json_amount(after, decimals));
            char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
            if (line == NULL)
                return KULA_ENOMEM;
            fputs(line, out);
            fputc('\n', out);
            free(line);
        }
        if (ferror(out))
            return KULA_EIO;
        (*rows)++;
    }
    return KULA_OK;
}

int kula_export_clearings(kula_archive *a, FILE *out, enum kula_export_format format,
                          uint64_t *rows, kula_error *e, uint64_t *bad_height)
{
    uint64_t nrows = 0;
    unsigned decimals = kula_archive_genesis(a)->decimals;
    kula_replay *r;
    int rc = kula_replay_new(&r, a);
    if (rc != 0)
        return rc;
    rc = kula_replay_run(r, kula_archive_tip(a), NULL, NULL, e, bad_height);
    uint64_t n = 0;
    kula_ledger *l = kula_replay_ledger(r);
    if (rc == 0)
        rc = kula_ledger_clearings(l, &n);
    if (rc == 0 && format == KULA_EXPORT_CSV) {
        for (size_t i = 0; i < sizeof(clearing_columns) / sizeof(clearing_columns[0]); i++)
            kula_csv_text(out, clearing_columns[i], i > 0);
        fputs("\r\n", out);
    }
    for (uint64_t k = 1; rc == 0 && k <= n; k++) {
        kula_clearing c;
        uint64_t ms = 0;
        if ((rc = kula_ledger_clearing(l, k, &c)) != 0)
            break;
        rc = kula_archive_block_time(a, c.height, &ms);
        if (rc == 0)
            rc = write_clearing(out, format, l, &c, ms, decimals, &nrows);
        kula_clearing_free(&c);
    }
    kula_replay_free(r);
    if (rc == 0 && fflush(out) != 0)
        rc = KULA_EIO;
    if (rows != NULL)
        *rows = nrows;
    return rc;
}
