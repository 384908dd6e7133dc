/* statement.c -- a member's account statement and the double-entry journal,
 * from the replay's credit movements (format in
 * include/kula/audit/statement.h). */
#include "kula/audit/statement.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/audit/export.h"
#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/records.h"
#include "kula/types/txkind.h"

typedef struct stmt {
    FILE *out;
    const kula_statement_opts *o;
    const kula_genesis *g;
    int64_t balance;  /* the member's balance after the movements seen */
    bool opened;      /* the opening row is written */
    uint64_t rows;
    uint64_t height;  /* of the last block reported to opts.progress */
    uint64_t tip;
} stmt;

static const char *const statement_columns =
    "date,tx_id,kind,counterparty,description,debit,credit,balance,currency\r\n";
static const char *const journal_columns =
    "date,tx_id,kind,account,description,debit,credit,currency\r\n";

/* ISO 8601: UTC "...Z", or local time with its offset "+01:00". */
static void format_date(char *buf, size_t len, uint64_t ms, bool local)
{
    if (!local) {
        kula_format_utc(buf, len, ms);
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char off[8];
    localtime_r(&t, &tm);
    strftime(off, sizeof(off), "%z", &tm); /* "+0100" */
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (strlen(off) == 5)
        snprintf(buf + n, len - n, "%.3s:%s", off, off + 3);
}

/* The name of a side of a movement: a member's name, or the pool's label. */
static void side_name(kula_ledger *l, const kula_replay_tx *t, uint32_t id, bool account,
                      char *buf, size_t len)
{
    if (id == 0) {
        kula_agreement a;
        const char *label = t->has_agreement && kula_ledger_agreement(l, &t->agreement, &a) == 0
                                ? a.label
                                : "?";
        snprintf(buf, len, account ? "pool:%s" : "pool of agreement %s", label);
        return;
    }
    kula_member m;
    if (kula_ledger_member(l, id, &m) != 0)
        snprintf(m.name, sizeof(m.name), "member %u", id);
    snprintf(buf, len, account ? "member:%s" : "%s", m.name);
}

/* The memo; else what the kind itself says (an invoice's payment: the
 * invoice's reference and the start of its id; a clearing's settlement:
 * also the clearing's number). */
static void describe(kula_ledger *l, const kula_replay_tx *t, char *buf, size_t len)
{
    const kula_tx *tx = t->tx;
    kula_invoice v;
    char id[9];
    if (tx == NULL) {
        kula_hex_encode(id, t->invoice.b, 4);
        snprintf(buf, len, "clearing %llu: invoice %s (%s) paid from credit",
                 (unsigned long long)t->clearing,
                 kula_ledger_invoice(l, &t->invoice, &v) == 0 ? v.reference : "?", id);
    } else if (tx->kind == KULA_TX_INVOICE_PAY && kula_ledger_invoice(l, &t->invoice, &v) == 0) {
        kula_hex_encode(id, t->invoice.b, 4);
        snprintf(buf, len, "invoice %s (%s)%s%.*s", v.reference, id, tx->memo.n ? ": " : "",
                 (int)tx->memo.n, tx->memo.p);
    } else if (tx->memo.n > 0)
        snprintf(buf, len, "%.*s", (int)tx->memo.n, tx->memo.p);
    else if (tx->kind == KULA_TX_EXCHANGE)
        snprintf(buf, len, "gave %.*s, received %.*s", (int)tx->u.exchange.gives.n,
                 tx->u.exchange.gives.p, (int)tx->u.exchange.receives.n,
                 tx->u.exchange.receives.p);
    else if (tx->kind == KULA_TX_BENEFIT)
        snprintf(buf, len, "%.*s", (int)tx->u.benefit.description.n,
                 tx->u.benefit.description.p);
    else
        buf[0] = '\0';
}

static int put_json(stmt *s, json_t *o)
{
    if (o == NULL)
        return KULA_ENOMEM;
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return KULA_ENOMEM;
    fputs(line, s->out);
    fputc('\n', s->out);
    free(line);
    return KULA_OK;
}

static json_t *json_posting(const kula_replay_tx *t, const char *date, const char *desc)
{
    char hex[2 * KULA_HASH_LEN + 1];
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "date", json_string(date));
    json_object_set_new(o, "height", json_integer((json_int_t)t->height));
    json_object_set_new(o, "index", json_integer(t->index));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)t->time_ms));
    json_object_set_new(o, "tx_id", json_string(kula_replay_tx_id(t, hex)));
    json_object_set_new(o, "kind", json_string(kula_replay_tx_kind(t)));
    if (t->tx == NULL)
        json_object_set_new(o, "clearing", json_integer((json_int_t)t->clearing));
    if (t->has_agreement) {
        kula_hex_encode(hex, t->agreement.b, KULA_HASH_LEN);
        json_object_set_new(o, "agreement", json_string(hex));
    }
    json_object_set_new(o, "description", json_string(desc));
    return o;
}

/* The opening row, dated --from (or the genesis when --from is earlier). */
static int write_opening(stmt *s, uint64_t ms)
{
    char date[40];
    if (ms < s->g->time_ms)
        ms = s->g->time_ms;
    format_date(date, sizeof(date), ms, s->o->local);
    s->opened = true;
    s->rows++;
    if (s->o->format == KULA_STATEMENT_JSONL) {
        json_t *o = json_object();
        if (o == NULL)
            return KULA_ENOMEM;
        json_object_set_new(o, "date", json_string(date));
        json_object_set_new(o, "time_ms", json_integer((json_int_t)ms));
        json_object_set_new(o, "kind", json_string("opening balance"));
        json_object_set_new(o, "member", json_integer(s->o->member));
        json_object_set_new(o, "balance", json_integer(s->balance));
        json_object_set_new(o, "currency", json_string(s->g->unit));
        return put_json(s, o);
    }
    kula_csv_text(s->out, date, false);
    fputs(",,", s->out);
    kula_csv_field(s->out, "opening balance", 15);
    fputs(",,,,", s->out);
    kula_csv_amount(s->out, true, s->balance, s->g->decimals);
    kula_csv_text(s->out, s->g->unit, true);
    fputs("\r\n", s->out);
    return KULA_OK;
}

/* One row of the statement: M paid (debit) or received (credit) `amount`. */
static int write_posting(stmt *s, kula_ledger *l, const kula_replay_tx *t,
                         const kula_credit_move *mv, bool debit)
{
    char date[40], hex[2 * KULA_HASH_LEN + 1], other[KULA_MAX_NAME + 64], desc[1024];
    uint32_t cp = debit ? mv->payee : mv->payer;
    format_date(date, sizeof(date), t->time_ms, s->o->local);
    side_name(l, t, cp, false, other, sizeof(other));
    describe(l, t, desc, sizeof(desc));
    s->rows++;
    if (s->o->format == KULA_STATEMENT_JSONL) {
        json_t *o = json_posting(t, date, desc);
        if (o == NULL)
            return KULA_ENOMEM;
        json_object_set_new(o, "member", json_integer(s->o->member));
        json_object_set_new(o, "counterparty", json_integer(cp));
        json_object_set_new(o, "counterparty_name", json_string(other));
        json_object_set_new(o, "debit", json_integer(debit ? mv->amount : 0));
        json_object_set_new(o, "credit", json_integer(debit ? 0 : mv->amount));
        json_object_set_new(o, "balance", json_integer(s->balance));
        json_object_set_new(o, "currency", json_string(s->g->unit));
        return put_json(s, o);
    }
    kula_csv_text(s->out, date, false);
    kula_csv_text(s->out, kula_replay_tx_id(t, hex), true);
    kula_csv_text(s->out, kula_replay_tx_kind(t), true);
    kula_csv_text(s->out, other, true);
    kula_csv_text(s->out, desc, true);
    kula_csv_amount(s->out, debit, mv->amount, s->g->decimals);
    kula_csv_amount(s->out, !debit, mv->amount, s->g->decimals);
    kula_csv_amount(s->out, true, s->balance, s->g->decimals);
    kula_csv_text(s->out, s->g->unit, true);
    fputs("\r\n", s->out);
    return KULA_OK;
}

/* The two postings of one movement: the payee's account debited, the
 * payer's credited. */
static int write_journal(stmt *s, kula_ledger *l, const kula_replay_tx *t,
                         const kula_credit_move *mv)
{
    char date[40], hex[2 * KULA_HASH_LEN + 1], acct[KULA_MAX_NAME + 64], desc[1024];
    format_date(date, sizeof(date), t->time_ms, s->o->local);
    describe(l, t, desc, sizeof(desc));
    for (int leg = 0; leg < 2; leg++) {
        uint32_t who = leg == 0 ? mv->payee : mv->payer;
        side_name(l, t, who, true, acct, sizeof(acct));
        s->rows++;
        if (s->o->format == KULA_STATEMENT_JSONL) {
            json_t *o = json_posting(t, date, desc);
            if (o == NULL)
                return KULA_ENOMEM;
            json_object_set_new(o, "account", json_string(acct));
            json_object_set_new(o, "member", json_integer(who));
            json_object_set_new(o, "debit", json_integer(leg == 0 ? mv->amount : 0));
            json_object_set_new(o, "credit", json_integer(leg == 0 ? 0 : mv->amount));
            json_object_set_new(o, "currency", json_string(s->g->unit));
            int rc = put_json(s, o);
            if (rc != 0)
                return rc;
            continue;
        }
        kula_csv_text(s->out, date, false);
        kula_csv_text(s->out, kula_replay_tx_id(t, hex), true);
        kula_csv_text(s->out, kula_replay_tx_kind(t), true);
        kula_csv_text(s->out, acct, true);
        kula_csv_text(s->out, desc, true);
        kula_csv_amount(s->out, leg == 0, mv->amount, s->g->decimals);
        kula_csv_amount(s->out, leg == 1, mv->amount, s->g->decimals);
        kula_csv_text(s->out, s->g->unit, true);
        fputs("\r\n", s->out);
    }
    return KULA_OK;
}

static int on_tx(void *ctx, kula_ledger *l, const kula_replay_tx *t)
{
    stmt *s = ctx;
    const kula_statement_opts *o = s->o;
    bool in_period = t->time_ms >= o->from_ms && (o->to_ms == 0 || t->time_ms < o->to_ms);
    int rc = KULA_OK;
    if (o->progress != NULL && t->height != s->height) {
        s->height = t->height;
        o->progress(o->ctx, t->height, s->tip);
    }
    if (!o->journal && !s->opened && t->time_ms >= o->from_ms)
        rc = write_opening(s, o->from_ms);
    for (uint32_t i = 0; i < t->nmoves && rc == 0; i++) {
        const kula_credit_move *mv = &t->moves[i];
        bool payer = mv->payer == o->member, payee = mv->payee == o->member;
        if (o->journal) {
            if (in_period && (o->member == 0 || payer || payee))
                rc = write_journal(s, l, t, mv);
            continue;
        }
        if (!payer && !payee)
            continue;
        /* amounts are > 0 and balances stay within the credit limits */
        s->balance += payee ? mv->amount : -mv->amount;
        if (in_period)
            rc = write_posting(s, l, t, mv, payer);
    }
    if (rc == 0 && ferror(s->out))
        rc = KULA_EIO;
    return rc;
}

int kula_statement_run(kula_archive *a, FILE *out, const kula_statement_opts *opts,
                       uint64_t *rows, kula_error *e, uint64_t *bad_height)
{
    stmt s = { .out = out, .o = opts, .g = kula_archive_genesis(a), .tip = kula_archive_tip(a) };
    if (rows != NULL)
        *rows = 0;
    if (e != NULL)
        memset(e, 0, sizeof(*e));
    if (bad_height != NULL)
        *bad_height = 0;
    if (!opts->journal && opts->member == 0)
        return KULA_EINVAL;
    kula_replay *r;
    int rc = kula_replay_new(&r, a);
    if (rc != 0)
        return rc;
    kula_member m;
    if (!opts->journal && kula_ledger_member(kula_replay_ledger(r), opts->member, &m) == 0)
        s.balance = m.balance; /* a genesis member's starting balance */
    if (opts->format == KULA_STATEMENT_CSV)
        fputs(opts->journal ? journal_columns : statement_columns, out);
    /* proto/LEDGER.md §9.6: the settlements' payments are postings too */
    kula_replay_on_payment(r, on_tx, &s);
    rc = kula_replay_run(r, kula_archive_tip(a), on_tx, &s, e, bad_height);
    kula_replay_free(r);
    /* no posting at or after --from: the opening row still comes */
    if (rc == 0 && !opts->journal && !s.opened)
        rc = write_opening(&s, opts->from_ms);
    if (rc == 0 && fflush(out) != 0)
        rc = KULA_EIO;
    if (rows != NULL)
        *rows = s.rows;
    return rc;
}

int kula_statement_date(const char *s, bool end, uint64_t *ms)
{
    char full[32];
    if (strlen(s) == 10) {
        snprintf(full, sizeof(full), "%sT00:00:00Z", s);
        if (kula_parse_utc(full, ms) != 0)
            return KULA_EINVAL;
        if (end)
            *ms += 86400000ull;
        return KULA_OK;
    }
    return kula_parse_utc(s, ms) == 0 ? KULA_OK : KULA_EINVAL;
}

int kula_statement_member(kula_archive *a, const char *who, uint32_t *id)
{
    kula_replay *r;
    int rc = kula_replay_new(&r, a);
    if (rc != 0)
        return rc;
    rc = kula_replay_run(r, kula_archive_tip(a), NULL, NULL, NULL, NULL);
    kula_ledger *l = kula_replay_ledger(r);
    kula_globals gl;
    if (rc == 0)
        rc = kula_ledger_globals(l, &gl);
    char *end;
    unsigned long n = strtoul(who, &end, 10);
    kula_member m;
    if (rc == 0) {
        rc = KULA_ENOTFOUND;
        if (*who != '\0' && *end == '\0') {
            if (n > 0 && n <= UINT32_MAX && kula_ledger_member(l, (uint32_t)n, &m) == 0) {
                *id = (uint32_t)n;
                rc = KULA_OK;
            }
        } else {
            for (uint32_t i = 1; i < gl.next_member && rc != 0; i++)
                if (kula_ledger_member(l, i, &m) == 0 && strcmp(m.name, who) == 0) {
                    *id = i;
                    rc = KULA_OK;
                }
        }
    }
    kula_replay_free(r);
    return rc;
}
