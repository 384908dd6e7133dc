/* test_audit.c -- kula audit's library (node/audit/verify.c) and the export
 * (node/audit/export.c) on a small real ledger: a clean ledger passes; a byte
 * changed in a stored block, a forged signature, a bad commit make the
 * audit fail naming the height and the check; every transaction exports
 * to CSV and JSON lines that parse back to what was committed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kula/base/amount.h"
#include "kula/audit/audit.h"
#include "kula/audit/analytics.h"
#include "kula/audit/export.h"
#include "kula/audit/report.h"
#include "kula/audit/statement.h"
#include "ledgerfix.h"

/* Byte positions tried per block by every_single_byte_flip...: about 17
 * spread over each block; build with -DFLIP_STEP=1 to try every byte (all
 * pass; ~15 s with ASan). */
#ifndef FLIP_STEP
#define FLIP_STEP (len / 17 + 1)
#endif
static lf F;

static void setup(void) { lf_init(&F); }
static void teardown(void) { lf_free(&F); }

TestSuite(audit, .init = setup, .fini = teardown, .timeout = 120);

static kula_archive *open_archive(const char *dir)
{
    if (F.store != NULL)
        lf_close(&F);
    kula_archive *a = NULL;
    kula_error err;
    int rc = kula_archive_open(&a, dir, &err);
    cr_assert_eq(rc, 0, "archive open: %s", err.what);
    return a;
}

/* LMDB forbids opening one environment twice in a process: the fixture's
 * store is closed before the archive opens it (a node runs in another
 * process; see beside_a_writer_in_another_process). */
static char *export_text(const kula_export_opts *o, int expect_rc, uint64_t expect_rows);

static kula_audit_result run_audit(void)
{
    if (F.store != NULL)
        lf_close(&F);
    kula_archive *a = open_archive(F.dir);
    kula_audit_opts o = { .threads = 2 };
    kula_audit_result r;
    int rc = kula_audit_run(a, &o, &r);
    cr_assert_eq(rc == 0, r.ok, "return %d vs ok %d", rc, r.ok);
    kula_archive_close(a);
    return r;
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *calls = ctx;
    calls[0]++;
    calls[1] = done;
    calls[2] = total;
}

Test(audit, clean_ledger_passes)
{
    lf_scenario(&F);
    kula_hash tip = *kula_chain_tip_hash(F.chain);
    kula_hash root = *kula_ledger_state_root(kula_chain_ledger(F.chain));
    kula_archive *a = open_archive(F.dir);
    cr_assert_eq(kula_archive_tip(a), 5);
    cr_assert_eq(memcmp(kula_archive_genesis(a)->chain_id.b, F.g.chain_id.b, KULA_HASH_LEN), 0);
    uint64_t calls[3] = { 0 };
    kula_audit_opts o = { .threads = 2, .progress = progress, .ctx = calls };
    kula_audit_result r;
    int rc = kula_audit_run(a, &o, &r);
    cr_assert_eq(rc, 0, "audit failed at %llu: %s", (unsigned long long)r.failed_height,
                 r.error.what);
    cr_assert(r.ok);
    cr_assert_eq(r.check, KULA_AUDIT_OK);
    cr_assert_eq(r.tip, 5);
    cr_assert_eq(r.height, 5);
    cr_assert_eq(r.failed_height, 0);
    cr_assert_eq(r.blocks, 5);
    cr_assert_eq(r.txs, 15);
    cr_assert_eq(r.tx_signatures, 23);
    cr_assert_eq(r.commit_signatures, 5); /* four carried, and the tip's */
    cr_assert_eq(r.settlements, 2);
    cr_assert_eq(r.threads, 2);
    cr_assert_eq(calls[0], 5);
    cr_assert_eq(calls[1], 5);
    cr_assert_eq(calls[2], 5);
    cr_assert_eq(memcmp(r.tip_hash.b, tip.b, KULA_HASH_LEN), 0);
    cr_assert_eq(memcmp(r.state_root.b, root.b, KULA_HASH_LEN), 0);
    kula_archive_close(a);
}

Test(audit, empty_ledger_passes)
{
    kula_audit_result r = run_audit();
    cr_assert(r.ok);
    cr_assert_eq(r.height, 0);
    cr_assert_eq(r.blocks, 0);
}

Test(audit, also_the_ledger_directory_itself)
{
    lf_scenario(&F);
    kula_archive *a = open_archive(F.ledger);
    kula_audit_result r;
    cr_assert_eq(kula_audit_run(a, NULL, &r), 0, "%s", r.error.what);
    cr_assert_geq(r.threads, 2);
    kula_archive_close(a);
}

Test(audit, beside_a_writer_in_another_process)
{
    lf_scenario(&F); /* the store stays open for writing, as in a running node */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        kula_archive *a;
        kula_error err;
        kula_audit_result r;
        if (kula_archive_open(&a, F.dir, &err) != 0)
            _exit(2);
        int rc = kula_audit_run(a, NULL, &r);
        kula_archive_close(a);
        _exit(rc == 0 && r.ok && r.blocks == 5 ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0);
    /* and the node goes on committing */
    lf_transfer(&F, 2, 1, 1, "");
    lf_block(&F, F.g.time_ms + 42 * LF_DAY);
    kula_audit_result r = run_audit();
    cr_assert(r.ok);
    cr_assert_eq(r.height, 6);
}

Test(audit, flipped_memo_byte_fails_at_its_block)
{
    lf_scenario(&F);
    lf_close(&F);
    lf_flip_memo(&F);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 1);
    cr_assert_eq(r.height, 0);
    cr_assert_eq(r.check, KULA_AUDIT_TXS_ROOT);
    cr_assert_eq(r.error.code, KULA_ETXROOT);
    cr_assert_str_eq(r.error.what, "transactions root does not match");
}

Test(audit, flipped_state_root_fails_at_its_block)
{
    lf_scenario(&F);
    kula_buf raw;
    kula_buf_init(&raw);
    cr_assert_eq(kula_store_block(F.store, 3, &raw), 0);
    kula_block blk;
    cr_assert_eq(kula_block_decode(&blk, raw.data, raw.len), 0);
    long at = lf_find(raw.data, raw.len, blk.header.state_root.b, KULA_HASH_LEN);
    kula_block_free(&blk);
    kula_buf_free(&raw);
    cr_assert_geq(at, 0);
    lf_close(&F);
    lf_flip_block(&F, 3, at + 7, 0x80);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 3);
    cr_assert_eq(r.height, 2);
    cr_assert_eq(r.check, KULA_AUDIT_STATE_ROOT);
    cr_assert_eq(r.blocks, 2);
}

Test(audit, flipped_byte_in_a_carried_commit_names_the_carrying_block)
{
    lf_scenario(&F);
    lf_close(&F);
    /* the last bytes of block 4 are the signature of block 3's commit */
    lf_flip_block(&F, 4, -3, 0x10);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 4);
    cr_assert_eq(r.check, KULA_AUDIT_COMMIT);
}

Test(audit, every_single_byte_flip_is_caught_at_its_height)
{
    lf_scenario(&F);
    lf_close(&F);
    for (uint64_t h = 1; h <= 5; h++) {
        size_t len;
        uint8_t *orig = lf_read_block(&F, h, &len);
        /* a spread of positions: header, transactions, commit */
        for (size_t at = 0; at < len; at += FLIP_STEP) {
            lf_flip_block(&F, h, (long)at, 0x01);
            kula_audit_result r = run_audit();
            cr_assert_not(r.ok, "block %llu byte %zu: not caught", (unsigned long long)h, at);
            cr_assert_eq(r.failed_height, h, "block %llu byte %zu: failed at %llu (%s)",
                         (unsigned long long)h, at, (unsigned long long)r.failed_height,
                         r.error.what);
            lf_flip_block(&F, h, (long)at, 0x01);
        }
        free(orig);
    }
    kula_audit_result r = run_audit();
    cr_assert(r.ok, "restored ledger: %s", r.error.what);
}

/* More blocks than one batch of the pipeline holds (512): the blocks'
 * array grows while a batch is read, and the commit of a batch's last block
 * comes from the next batch's first. */
Test(audit, many_blocks_across_batches)
{
    for (uint64_t h = 1; h <= 600; h++) {
        if (h % 50 == 0)
            lf_transfer(&F, 1 + (uint32_t)(h / 50) % 4, 1 + (uint32_t)(h / 50 + 1) % 4, 1, "");
        lf_block(&F, F.g.time_ms + h * 1000);
    }
    kula_audit_result r = run_audit();
    cr_assert(r.ok, "failed at %llu: %s", (unsigned long long)r.failed_height, r.error.what);
    cr_assert_eq(r.blocks, 600);
    cr_assert_eq(r.txs, 12);
    cr_assert_eq(r.commit_signatures, 600);
    /* the commit of block 512 (the first batch's last), carried by 513 */
    lf_flip_block(&F, 513, -3, 0x04);
    r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 513);
    cr_assert_eq(r.check, KULA_AUDIT_COMMIT);
    lf_flip_block(&F, 513, -3, 0x04);
    lf_flip_block(&F, 512, 20, 0x01);
    r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 512);
}

/* A signature byte changed in the store: the transactions root commits to
 * the signatures, so the block no longer matches its header. */
Test(audit, flipped_stored_signature_fails_at_its_block)
{
    lf_scenario(&F);
    kula_buf raw;
    kula_buf_init(&raw);
    cr_assert_eq(kula_store_block(F.store, 2, &raw), 0);
    kula_block blk;
    cr_assert_eq(kula_block_decode(&blk, raw.data, raw.len), 0);
    kula_tx tx;
    cr_assert_eq(kula_tx_decode(&tx, blk.txs[0], blk.tx_lens[0]), 0); /* the open, 3 sigs */
    long at = lf_find(raw.data, raw.len, tx.sigs[1].sig.b, KULA_SIG_LEN);
    kula_block_free(&blk);
    kula_buf_free(&raw);
    cr_assert_geq(at, 0);
    lf_close(&F);
    lf_flip_block(&F, 2, at + 10, 0x20);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 2);
    cr_assert_eq(r.check, KULA_AUDIT_TXS_ROOT);
}

Test(audit, forged_signature_fails_with_a_signature_error)
{
    lf_scenario(&F);
    /* block 6: a valid transfer, then one whose signature a faulty proposer
     * let through (the builder was told it was verified) */
    lf_transfer(&F, 2, 1, 5, "");
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 4;
    tx.memo = lf_text("forged");
    tx.u.transfer.to = 1;
    tx.u.transfer.amount = 7;
    uint32_t s[] = { 4 };
    lf_add(&F, &tx, s, 1, true);
    lf_block(&F, F.g.time_ms + 50 * LF_DAY);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 6);
    cr_assert_eq(r.height, 5);
    cr_assert_eq(r.check, KULA_AUDIT_SIGNATURE);
    cr_assert_eq(r.error.code, KULA_EBADSIG);
    cr_assert_eq(r.error.tx_index, 1);
    cr_assert_str_eq(r.error.what, "transaction 1: invalid signature");
}

Test(audit, bad_tip_commit_fails_at_the_tip)
{
    lf_scenario(&F);
    lf_close(&F);
    lf_env e;
    lf_env_open(&F, &e, "meta");
    size_t len;
    uint8_t *c = lf_get(&e, "tip_commit", 10, &len);
    c[len - 1] ^= 0x01; /* the validator's signature */
    lf_put(&e, "tip_commit", 10, c, len);
    free(c);
    lf_env_close(&e);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 5);
    cr_assert_eq(r.height, 4);
    cr_assert_eq(r.check, KULA_AUDIT_COMMIT);
}

Test(audit, missing_tip_commit_fails_at_the_tip)
{
    lf_scenario(&F);
    lf_close(&F);
    lf_env e;
    lf_env_open(&F, &e, "meta");
    MDB_val k = { 10, "tip_commit" };
    cr_assert_eq(mdb_del(e.txn, e.dbi, &k, NULL), 0);
    lf_env_close(&e);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 5);
    cr_assert_eq(r.check, KULA_AUDIT_COMMIT);
}

Test(audit, missing_block_fails_at_its_height)
{
    lf_scenario(&F);
    lf_close(&F);
    lf_env e;
    lf_env_open(&F, &e, "blocks");
    uint8_t key[8];
    kula_put_be64(key, 3);
    MDB_val k = { 8, key };
    cr_assert_eq(mdb_del(e.txn, e.dbi, &k, NULL), 0);
    lf_env_close(&e);
    kula_audit_result r = run_audit();
    cr_assert_not(r.ok);
    cr_assert_eq(r.failed_height, 3);
    cr_assert_eq(r.check, KULA_AUDIT_STORE);
}

static void add_rule_tx(kula_tx *tx, uint8_t kind, const uint32_t *parties, uint32_t n,
                        kula_rule *rule)
{
    memset(tx, 0, sizeof(*tx));
    tx->kind = kind;
    tx->from = parties[0];
    tx->memo = lf_text("");
    if (kind == KULA_TX_AGREEMENT_OPEN) {
        tx->u.open.label = lf_text("venture");
        tx->u.open.title = lf_text("A joint venture");
        tx->u.open.nparties = n;
        memcpy(tx->u.open.parties, parties, n * sizeof(*parties));
        tx->u.open.rule = *rule;
    } else {
        tx->u.amend.title = lf_text("The joint venture, amended");
        tx->u.amend.rule = *rule;
    }
}

Test(audit, settlements_of_every_rule_recomputed_in_busy_blocks)
{
    static const uint32_t parties[] = { 2, 3, 4 };
    /* Shapley over {2,3,4}: v by bitmask (bit k: the k-th party) */
    static const int64_t v[8] = { 0, 10, 20, 40, 0, 10, 30, 60 };
    kula_buf values;
    kula_buf_init(&values);
    kula_writer w;
    kula_writer_init(&w, &values);
    kula_w_array(&w, 8);
    for (int i = 0; i < 8; i++)
        kula_w_int(&w, v[i]);
    kula_rule shapley = { .kind = KULA_RULE_SHAPLEY, .nvalues = 8, .values_raw = values.data,
                          .values_raw_len = values.len };
    /* block 1: opened, paid and settled twice in the same block */
    kula_tx tx;
    add_rule_tx(&tx, KULA_TX_AGREEMENT_OPEN, parties, 3, &shapley);
    kula_hash ag = lf_add(&F, &tx, parties, 3, false);
    lf_benefit(&F, &ag, 1, 1000);
    uint32_t two[] = { 2 }, three[] = { 3 };
    lf_settle(&F, &ag, KULA_TX_SETTLE, 2, two, 1);
    lf_benefit(&F, &ag, 1, 7);
    lf_settle(&F, &ag, KULA_TX_SETTLE, 3, three, 1);
    lf_block(&F, F.g.time_ms + LF_DAY);
    /* block 2: amended to fixed weights, paid, settled; amended to pro rata,
     * contributions, paid, settled; all in one block */
    kula_rule weights = { .kind = KULA_RULE_WEIGHTS, .nweights = 3, .weights = { 1, 2, 4 } };
    add_rule_tx(&tx, KULA_TX_AGREEMENT_AMEND, parties, 3, &weights);
    tx.u.amend.agreement = ag;
    lf_add(&F, &tx, parties, 3, false);
    lf_benefit(&F, &ag, 1, 701);
    lf_settle(&F, &ag, KULA_TX_SETTLE, 4, (uint32_t[]){ 4 }, 1);
    kula_rule prorata = { .kind = KULA_RULE_PRORATA };
    add_rule_tx(&tx, KULA_TX_AGREEMENT_AMEND, parties, 3, &prorata);
    tx.u.amend.agreement = ag;
    lf_add(&F, &tx, parties, 3, false);
    lf_contribute(&F, &ag, 2, 3, 5, "time");
    lf_contribute(&F, &ag, 4, 2, 1, "paper");
    lf_benefit(&F, &ag, 1, 100);
    lf_settle(&F, &ag, KULA_TX_SETTLE, 2, two, 1);
    lf_contribute(&F, &ag, 3, 4, 6, "space");
    lf_benefit(&F, &ag, 1, 120);
    lf_settle(&F, &ag, KULA_TX_SETTLE, 3, three, 1);
    lf_block(&F, F.g.time_ms + 2 * LF_DAY);
    kula_buf_free(&values);
    kula_agreement a;
    int rc = kula_ledger_agreement(kula_chain_ledger(F.chain), &ag, &a);
    cr_assert_eq(rc, 0, "agreement: %s", kula_strerror(rc));
    kula_audit_result r = run_audit();
    cr_assert(r.ok, "failed at %llu: %s", (unsigned long long)r.failed_height, r.error.what);
    cr_assert_eq(r.settlements, 5);
    /* Shapley: phi_2 = 10/3 + 20/6 + 10/6 + 30/3 = 18 1/3, phi_3 = 20/3 + 30/6 +
     * 30/6 + 50/3 = 33 1/3, phi_4 = 10/6 + 20/3 = 8 1/3 (of v(all) = 60), so
     * 1000 -> 305.56/555.56/138.89 -> 305/555/138 and the 2 units left go
     * to the largest remainders: 4 (.89), then 2 (.56, tie with 3 broken by
     * the lower id) -> 306/555/139; 7 -> 2.14/3.89/0.97 -> 2/4/1; weights
     * 1:2:4 of 701 -> 100.14/200.29/400.57 -> 100/200/401; pro rata 5:0:1 of
     * 100 -> 83.33/0/16.67 -> 83/0/17; 5:6:1 of 120 -> 50/60/10 */
    static const int64_t want[3] = { 306 + 2 + 100 + 83 + 50, 555 + 4 + 200 + 0 + 60,
                                     139 + 1 + 401 + 17 + 10 };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(a.received[i], want[i], "party %d received %lld", i,
                     (long long)a.received[i]);
    /* the export's shares of each settlement add up to the same */
    kula_export_opts o = { .format = KULA_EXPORT_JSONL, .has_agreement = true, .agreement = ag };
    char *text = export_text(&o, 0, 16);
    int64_t got[3] = { 0 };
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j);
        json_t *shares = json_object_get(j, "shares");
        for (size_t i = 0; i < json_array_size(shares); i++) {
            kula_amount x;
            const char *amt = json_string_value(json_object_get(json_array_get(shares, i), "amount"));
            cr_assert_eq(kula_amount_parse(&x, amt, 2), 0);
            got[i] += x.v;
        }
        json_decref(j);
    }
    free(text);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(got[i], want[i], "export: party %d got %lld", i, (long long)got[i]);
}

Test(audit, not_a_ledger)
{
    kula_archive *a = NULL;
    kula_error err;
    cr_assert_eq(kula_archive_open(&a, "/nonexistent/kula", &err), KULA_ENOTFOUND);
    cr_assert_null(a);
    cr_assert(strstr(err.what, "no such directory") != NULL, "%s", err.what);
    char empty[300];
    snprintf(empty, sizeof(empty), "%s/empty", F.dir);
    cr_assert_eq(mkdir(empty, 0700), 0);
    cr_assert_eq(kula_archive_open(&a, empty, &err), KULA_ENOTFOUND);
    cr_assert(strstr(err.what, "no ledger") != NULL, "%s", err.what);
    /* an LMDB environment that is not a Kula ledger */
    char other[320];
    snprintf(other, sizeof(other), "%s/ledger", empty);
    cr_assert_eq(mkdir(other, 0700), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_open(env, other, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = { 3, "abc" }, v = { 3, "def" };
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    int rc = kula_archive_open(&a, empty, &err);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(err.what, "not a Kula ledger") != NULL, "%s", err.what);
}

/* ---- export ---- */

/* A minimal RFC 4180 reader: rows of fields. */
typedef struct csv {
    char ***rows;
    size_t *nfields;
    size_t nrows;
} csv;

static void csv_parse(const char *s, csv *out)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    while (*s) {
        char **fields = NULL;
        size_t nf = 0;
        for (;;) {
            char *f = malloc(strlen(s) + 1);
            size_t n = 0;
            if (*s == '"') {
                s++;
                for (;;) {
                    cr_assert(*s != '\0', "unterminated quoted field");
                    if (*s == '"' && s[1] == '"') {
                        f[n++] = '"';
                        s += 2;
                    } else if (*s == '"') {
                        s++;
                        break;
                    } else {
                        f[n++] = *s++;
                    }
                }
            } else {
                while (*s && *s != ',' && *s != '\r' && *s != '\n') {
                    cr_assert(*s != '"', "a quote inside an unquoted field");
                    f[n++] = *s++;
                }
            }
            f[n] = '\0';
            fields = realloc(fields, (nf + 1) * sizeof(*fields));
            fields[nf++] = f;
            if (*s == ',') {
                s++;
                continue;
            }
            cr_assert(s[0] == '\r' && s[1] == '\n', "rows end with CRLF");
            s += 2;
            break;
        }
        if (out->nrows == cap) {
            cap = cap ? 2 * cap : 16;
            out->rows = realloc(out->rows, cap * sizeof(*out->rows));
            out->nfields = realloc(out->nfields, cap * sizeof(*out->nfields));
        }
        out->rows[out->nrows] = fields;
        out->nfields[out->nrows++] = nf;
    }
}

static void csv_free(csv *c)
{
    for (size_t i = 0; i < c->nrows; i++) {
        for (size_t j = 0; j < c->nfields[i]; j++)
            free(c->rows[i][j]);
        free(c->rows[i]);
    }
    free(c->rows);
    free(c->nfields);
}

static char *export_text(const kula_export_opts *o, int expect_rc, uint64_t expect_rows)
{
    kula_archive *a = open_archive(F.dir);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    cr_assert_not_null(mem);
    uint64_t rows = 0;
    kula_error e;
    int rc = kula_export_run(a, mem, o, &rows, &e, NULL);
    fclose(mem);
    kula_archive_close(a);
    cr_assert_eq(rc, expect_rc, "export: %s (%s)", kula_strerror(rc), e.what);
    cr_assert_eq(rows, expect_rows);
    return text;
}

static int column(const csv *c, const char *name)
{
    for (size_t j = 0; j < c->nfields[0]; j++)
        if (strcmp(c->rows[0][j], name) == 0)
            return (int)j;
    cr_assert_fail("no column %s", name);
    return -1;
}

static const char *cell(const csv *c, size_t row, const char *name)
{
    return c->rows[row][column(c, name)];
}

Test(audit, export_csv_parses_back)
{
    kula_hash ag = lf_scenario(&F);
    kula_export_opts o = { .format = KULA_EXPORT_CSV };
    char *text = export_text(&o, 0, 15);
    csv c;
    csv_parse(text, &c);
    cr_assert_eq(c.nrows, 16);
    for (size_t i = 0; i < c.nrows; i++)
        cr_assert_eq(c.nfields[i], 17, "row %zu has %zu fields", i, c.nfields[i]);
    static const char *const kinds[] = {
        "transfer", "exchange", "agreement-open", "contribute", "contribute", "contribute",
        "benefit", "settle", "feedback", "feedback", "benefit", "benefit", "settle", "transfer",
        "agreement-close",
    };
    static const char *const heights[] = { "1", "1", "2", "2", "2", "2", "3", "3",
                                           "3", "3", "4", "4", "4", "4", "5" };
    for (size_t i = 0; i < 15; i++) {
        cr_assert_str_eq(cell(&c, i + 1, "kind"), kinds[i]);
        cr_assert_str_eq(cell(&c, i + 1, "height"), heights[i]);
        cr_assert_eq(strlen(cell(&c, i + 1, "tx_id")), 64);
    }
    /* the first transfer, with a memo that needs quoting */
    cr_assert_str_eq(cell(&c, 1, "time"), "2026-01-05T00:00:00Z");
    cr_assert_str_eq(cell(&c, 1, "from"), "1");
    cr_assert_str_eq(cell(&c, 1, "from_name"), "Bakery");
    cr_assert_str_eq(cell(&c, 1, "to"), "2");
    cr_assert_str_eq(cell(&c, 1, "to_name"), "Agency");
    cr_assert_str_eq(cell(&c, 1, "amount"), "10.00");
    cr_assert_str_eq(cell(&c, 1, "memo"), LF_MEMO);
    /* the exchange: 2 gave more, so 3 paid the difference */
    cr_assert_str_eq(cell(&c, 2, "amount"), "-20.00");
    cr_assert_str_eq(cell(&c, 2, "value"), "50.00");
    cr_assert_str_eq(cell(&c, 2, "value_received"), "30.00");
    cr_assert_str_eq(cell(&c, 2, "description"), "logo design");
    cr_assert_str_eq(cell(&c, 2, "description_received"), "delivery, March");
    /* the agreement */
    char hex[65];
    kula_hex_encode(hex, ag.b, KULA_HASH_LEN);
    cr_assert_str_eq(cell(&c, 3, "tx_id"), hex);
    cr_assert_str_eq(cell(&c, 3, "agreement"), hex);
    cr_assert_str_eq(cell(&c, 3, "to"), "1;2;3");
    cr_assert_str_eq(cell(&c, 3, "to_name"), "Bakery;Agency;Logistics");
    cr_assert_str_eq(cell(&c, 3, "description"), "fair: Joint stand at the fair");
    cr_assert_str_eq(cell(&c, 4, "value"), "60.00");
    cr_assert_str_eq(cell(&c, 4, "to"), "2");
    cr_assert_str_eq(cell(&c, 7, "amount"), "100.00");
    cr_assert_str_eq(cell(&c, 8, "amount"), "100.00");
    cr_assert_str_eq(cell(&c, 8, "shares"), "1:60.00;2:30.00;3:10.00");
    cr_assert_str_eq(cell(&c, 9, "rating"), "5");
    cr_assert_str_eq(cell(&c, 13, "shares"), "1:6.00;2:3.00;3:1.00");
    cr_assert_str_eq(cell(&c, 13, "amount"), "10.00");
    cr_assert_str_eq(cell(&c, 14, "memo"), "a,b");
    cr_assert_str_eq(cell(&c, 14, "amount"), "5.00");
    cr_assert_str_eq(cell(&c, 15, "to"), "1;2;3");
    csv_free(&c);
    free(text);
}

/* Invoices in the export: the bill (its amount as the value, the debtor
 * as "to"), each payment (its amount, the issuer as "to"), a dispute with
 * its reason, a cancel; and the payments in the debtor's statement and
 * the audit's replay. */
Test(audit, export_invoices)
{
    uint64_t t0 = F.g.time_ms;
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_INVOICE;
    tx.from = 1;
    tx.u.invoice.debtor = 2;
    tx.u.invoice.amount = 8000;
    tx.u.invoice.due = t0 + 30 * LF_DAY;
    tx.u.invoice.reference = lf_text("2026-117");
    kula_hash a = lf_add(&F, &tx, (uint32_t[]){ 1 }, 1, false);
    tx.u.invoice.reference = lf_text("2026-118");
    kula_hash b = lf_add(&F, &tx, (uint32_t[]){ 1 }, 1, false);
    lf_block(&F, t0 + LF_DAY);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_INVOICE_PAY;
    tx.from = 2;
    tx.u.inv.invoice = a;
    tx.u.inv.amount = 3000;
    lf_add(&F, &tx, (uint32_t[]){ 2 }, 1, false);
    tx.u.inv.amount = 5000;
    lf_add(&F, &tx, (uint32_t[]){ 2 }, 1, false);
    tx.kind = KULA_TX_INVOICE_DISPUTE;
    tx.u.inv.invoice = b;
    tx.u.inv.amount = 0;
    tx.u.inv.reason = lf_text("not ordered");
    lf_add(&F, &tx, (uint32_t[]){ 2 }, 1, false);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_INVOICE_CANCEL;
    tx.from = 1;
    tx.u.inv.invoice = b;
    lf_add(&F, &tx, (uint32_t[]){ 1 }, 1, false);
    lf_block(&F, t0 + 2 * LF_DAY);

    kula_export_opts o = { .format = KULA_EXPORT_CSV };
    char *text = export_text(&o, 0, 6);
    csv c;
    csv_parse(text, &c);
    char ida[9], idb[9], want[128];
    kula_hex_encode(ida, a.b, 4);
    kula_hex_encode(idb, b.b, 4);
    cr_assert_str_eq(cell(&c, 1, "kind"), "invoice");
    cr_assert_str_eq(cell(&c, 1, "to_name"), "Agency");
    cr_assert_str_eq(cell(&c, 1, "value"), "80.00");
    cr_assert_str_eq(cell(&c, 1, "amount"), "");
    snprintf(want, sizeof(want), "invoice 2026-117 (%s) issued", ida);
    cr_assert_str_eq(cell(&c, 1, "description"), want);
    cr_assert_str_eq(cell(&c, 3, "kind"), "invoice-pay");
    cr_assert_str_eq(cell(&c, 3, "to_name"), "Bakery");
    cr_assert_str_eq(cell(&c, 3, "amount"), "30.00");
    cr_assert_str_eq(cell(&c, 4, "amount"), "50.00");
    snprintf(want, sizeof(want), "invoice 2026-117 (%s) paid in full", ida);
    cr_assert_str_eq(cell(&c, 4, "description"), want);
    snprintf(want, sizeof(want), "invoice 2026-118 (%s) disputed: not ordered", idb);
    cr_assert_str_eq(cell(&c, 5, "description"), want);
    cr_assert_str_eq(cell(&c, 5, "to_name"), "Bakery");
    cr_assert_str_eq(cell(&c, 6, "to_name"), "Agency", "the issuer cancels: the debtor is 'to'");
    csv_free(&c);
    free(text);

    /* the debtor's statement: two debits to the issuer, named by the invoice */
    kula_archive *ar = open_archive(F.dir);
    char *st = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&st, &len);
    kula_statement_opts so = { .member = 2, .format = KULA_STATEMENT_CSV };
    uint64_t rows = 0;
    cr_assert_eq(kula_statement_run(ar, mem, &so, &rows, NULL, NULL), 0);
    fclose(mem);
    kula_archive_close(ar);
    snprintf(want, sizeof(want), "invoice-pay,Bakery,invoice 2026-117 (%s),50.00,,-80.00,KULA",
             ida);
    cr_assert(strstr(st, want) != NULL, "no '%s' in\n%s", want, st);
    free(st);
}

Test(audit, export_jsonl_parses_back)
{
    lf_scenario(&F);
    kula_export_opts o = { .format = KULA_EXPORT_JSONL };
    char *text = export_text(&o, 0, 15);
    size_t n = 0;
    char *save = NULL;
    int64_t total_settled = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        cr_assert_not_null(j, "line %zu: %s", n, err.text);
        cr_assert(json_is_string(json_object_get(j, "kind")));
        cr_assert(json_is_integer(json_object_get(j, "height")));
        cr_assert_eq(strlen(json_string_value(json_object_get(j, "tx_id"))), 64);
        const char *kind = json_string_value(json_object_get(j, "kind"));
        if (n == 0) {
            cr_assert_str_eq(kind, "transfer");
            cr_assert_str_eq(json_string_value(json_object_get(j, "memo")), LF_MEMO);
            cr_assert_str_eq(json_string_value(json_object_get(j, "amount")), "10.00");
            cr_assert_eq(json_integer_value(json_object_get(j, "to")), 2);
            cr_assert_eq(json_integer_value(json_object_get(j, "nonce")), 1);
        }
        if (strcmp(kind, "settle") == 0) {
            json_t *shares = json_object_get(j, "shares");
            cr_assert_eq(json_array_size(shares), 3);
            for (size_t i = 0; i < 3; i++) {
                json_t *s = json_array_get(shares, i);
                cr_assert_eq(json_integer_value(json_object_get(s, "member")), (json_int_t)i + 1);
                kula_amount v;
                cr_assert_eq(kula_amount_parse(&v, json_string_value(json_object_get(s, "amount")),
                                               2),
                             0);
                total_settled += v.v;
            }
        }
        if (strcmp(kind, "agreement-open") == 0)
            cr_assert_eq(json_array_size(json_object_get(j, "signers")), 3);
        json_decref(j);
        n++;
    }
    cr_assert_eq(n, 15);
    cr_assert_eq(total_settled, 11000);
    free(text);
}

Test(audit, export_one_agreement)
{
    kula_hash ag = lf_scenario(&F);
    kula_export_opts o = { .format = KULA_EXPORT_CSV, .has_agreement = true, .agreement = ag };
    char *text = export_text(&o, 0, 10);
    csv c;
    csv_parse(text, &c);
    cr_assert_eq(c.nrows, 11);
    static const char *const kinds[] = { "agreement-open", "contribute", "contribute",
                                         "contribute", "benefit", "settle", "benefit",
                                         "benefit", "settle", "agreement-close" };
    for (size_t i = 0; i < 10; i++)
        cr_assert_str_eq(cell(&c, i + 1, "kind"), kinds[i]);
    csv_free(&c);
    free(text);
    /* an id no agreement has */
    o.agreement.b[0] ^= 1;
    text = export_text(&o, KULA_EUNKNOWNAGREEMENT, 0);
    free(text);
}

Test(audit, csv_field_quoting)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    kula_csv_field(mem, "plain", 5);
    fputc('|', mem);
    kula_csv_field(mem, "a,b", 3);
    fputc('|', mem);
    kula_csv_field(mem, "say \"hi\"", 8);
    fputc('|', mem);
    kula_csv_field(mem, "two\nlines", 9);
    fclose(mem);
    cr_assert_str_eq(text, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
    free(text);
}

/* OWASP: a cell a spreadsheet evaluates gets a leading quote and quotes. */
Test(audit, csv_field_neutralises_formulas)
{
    static const char *const in[] = { "=HYPERLINK(\"http://x\",\"y\")", "+1", "-2+3", "@SUM(A1)",
                                      "\tx", "\rx", "a=b", "" };
    static const char *const want[] = { "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
                                        "\"'+1\"", "\"'-2+3\"", "\"'@SUM(A1)\"", "\"'\tx\"",
                                        "\"'\rx\"", "a=b", "" };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        kula_csv_field(mem, in[i], strlen(in[i]));
        fclose(mem);
        cr_assert_str_eq(text, want[i], "cell %zu: %s", i, text);
        free(text);
    }
}

/* ---- statement and journal (node/audit/statement.c) ---- */

static char *statement_text(const kula_statement_opts *o, uint64_t expect_rows)
{
    kula_archive *a = open_archive(F.dir);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    uint64_t rows = 0;
    kula_error e;
    int rc = kula_statement_run(a, mem, o, &rows, &e, NULL);
    fclose(mem);
    kula_archive_close(a);
    cr_assert_eq(rc, 0, "statement: %s (%s)", kula_strerror(rc), e.what);
    cr_assert_eq(rows, expect_rows, "rows %llu", (unsigned long long)rows);
    return text;
}

static int64_t units(const char *s)
{
    kula_amount v = kula_amount_of(0);
    if (*s)
        cr_assert_eq(kula_amount_parse(&v, s, 2), 0, "not an amount: '%s'", s);
    return v.v;
}

/* Agency (2): +10.00 (transfer), +20.00 (exchange), +30.00 and +3.00
 * (settlements); its balance at the tip is the last row's. */
Test(audit, statement_running_and_opening_balance)
{
    lf_scenario(&F);
    kula_member m;
    cr_assert_eq(kula_ledger_member(kula_chain_ledger(F.chain), 2, &m), 0);
    int64_t tip_balance = m.balance, start = m.balance - 6300;
    kula_statement_opts o = { .member = 2 };
    char *text = statement_text(&o, 5);
    csv c;
    csv_parse(text, &c);
    cr_assert_eq(c.nrows, 6);
    cr_assert_str_eq(c.rows[0][0], "date");
    cr_assert_str_eq(cell(&c, 1, "kind"), "opening balance");
    cr_assert_eq(units(cell(&c, 1, "balance")), start);
    static const int64_t credit[] = { 1000, 2000, 3000, 300 };
    static const char *const cp[] = { "Bakery", "Logistics", "pool of agreement fair",
                                      "pool of agreement fair" };
    int64_t bal = start;
    for (size_t i = 0; i < 4; i++) {
        bal += credit[i];
        cr_assert_eq(units(cell(&c, i + 2, "credit")), credit[i], "row %zu", i);
        cr_assert_str_eq(cell(&c, i + 2, "debit"), "");
        cr_assert_eq(units(cell(&c, i + 2, "balance")), bal, "row %zu", i);
        cr_assert_str_eq(cell(&c, i + 2, "counterparty"), cp[i]);
        cr_assert_str_eq(cell(&c, i + 2, "currency"), F.g.unit);
    }
    cr_assert_eq(bal, tip_balance);
    cr_assert_str_eq(cell(&c, 2, "description"), LF_MEMO);
    cr_assert_str_eq(cell(&c, 3, "description"), "gave logo design, received delivery, March");
    csv_free(&c);
    free(text);
    /* from Feb 1: the opening balance carries the January postings */
    cr_assert_eq(kula_parse_utc("2026-02-01T00:00:00Z", &o.from_ms), 0);
    text = statement_text(&o, 3);
    csv_parse(text, &c);
    cr_assert_str_eq(cell(&c, 1, "date"), "2026-02-01T00:00:00Z");
    cr_assert_eq(units(cell(&c, 1, "balance")), start + 3000);
    cr_assert_eq(units(cell(&c, 3, "balance")), tip_balance);
    csv_free(&c);
    free(text);
    /* a period with no postings: only the opening row */
    cr_assert_eq(kula_parse_utc("2027-01-01T00:00:00Z", &o.from_ms), 0);
    text = statement_text(&o, 1);
    csv_parse(text, &c);
    cr_assert_eq(units(cell(&c, 1, "balance")), tip_balance);
    csv_free(&c);
    free(text);
}

/* Logistics (3) pays: debits; the JSON form keeps minor units and ids. */
Test(audit, statement_debits_and_jsonl)
{
    lf_scenario(&F);
    kula_statement_opts o = { .member = 3, .format = KULA_STATEMENT_JSONL };
    char *text = statement_text(&o, 5);
    char *save = NULL;
    int64_t debit = 0, credit = 0, last = 0, first = 0;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j);
        if (n == 0)
            first = json_integer_value(json_object_get(j, "balance"));
        else {
            debit += json_integer_value(json_object_get(j, "debit"));
            credit += json_integer_value(json_object_get(j, "credit"));
            cr_assert(json_is_integer(json_object_get(j, "counterparty")));
        }
        last = json_integer_value(json_object_get(j, "balance"));
        json_decref(j);
        n++;
    }
    cr_assert_eq(debit, 2000 + 500);
    cr_assert_eq(credit, 1000 + 100);
    cr_assert_eq(last, first - debit + credit);
    free(text);
}

Test(audit, journal_balances_to_zero)
{
    lf_scenario(&F);
    kula_statement_opts o = { .journal = true };
    char *text = statement_text(&o, 24);
    csv c;
    csv_parse(text, &c);
    cr_assert_eq(c.nrows, 25);
    int64_t sum = 0;
    for (size_t i = 1; i < c.nrows; i += 2) {
        /* each movement: two postings of one transaction, balancing */
        cr_assert_str_eq(cell(&c, i, "tx_id"), cell(&c, i + 1, "tx_id"));
        int64_t d = units(cell(&c, i, "debit")) - units(cell(&c, i, "credit")) +
                    units(cell(&c, i + 1, "debit")) - units(cell(&c, i + 1, "credit"));
        cr_assert_eq(d, 0, "movement at row %zu does not balance", i);
        sum += units(cell(&c, i, "debit")) + units(cell(&c, i + 1, "debit"));
    }
    cr_assert_eq(sum, 1000 + 2000 + 10000 + 10000 + 999 + 1 + 1000 + 500);
    cr_assert_str_eq(cell(&c, 5, "account"), "pool:fair");
    cr_assert_str_eq(cell(&c, 6, "account"), "member:Printer");
    csv_free(&c);
    free(text);
    /* one member's movements only */
    o.member = 4;
    free(statement_text(&o, 6));
}

/* ---- the signed audit report (node/audit/report.c) ---- */

/* proto/vectors/audit_report.json: each file verifies, its document and
 * digest are what the library computes from the fields it read, and every
 * single flipped bit of it is refused. */
Test(audit, report_vector_verifies_and_every_flip_fails)
{
    json_error_t je;
    json_t *v = json_load_file(KULA_SOURCE_DIR "/proto/vectors/audit_report.json", 0, &je);
    cr_assert_not_null(v, "%s", je.text);
    json_t *valid = json_object_get(v, "valid");
    cr_assert_eq(json_array_size(valid), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *x = json_array_get(valid, i);
        const char *file = json_string_value(json_object_get(x, "file"));
        size_t n = strlen(file);
        kula_report rep;
        char *doc, hex[65];
        kula_error err;
        cr_assert_eq(kula_report_verify(&rep, file, n, &err), 0, "%s", err.what);
        cr_assert_eq(rep.ok, i == 0);
        kula_hash digest;
        cr_assert_eq(kula_report_digest(&doc, &digest, &rep), 0);
        cr_assert_str_eq(doc, json_string_value(json_object_get(x, "unsigned_document")));
        kula_hex_encode(hex, digest.b, KULA_HASH_LEN);
        cr_assert_str_eq(hex, json_string_value(json_object_get(x, "digest")));
        free(doc);
        /* signed again from the secret key, the file is the same bytes */
        kula_seckey sk;
        static const uint8_t aux[32] = { 0 };
        cr_assert_eq(kula_hex_decode(sk.b, 32, json_string_value(json_object_get(v, "secret_key"))),
                     0);
        char *again = NULL;
        cr_assert_eq(kula_report_sign(&again, &rep, &sk, aux), 0);
        cr_assert_str_eq(again, file);
        free(again);
        char *b = malloc(n);
        for (size_t k = 0; k < n; k++) {
            memcpy(b, file, n);
            b[k] ^= 1;
            kula_report r2;
            int rc = kula_report_verify(&r2, b, n, &err);
            cr_assert(rc == KULA_EINVAL || rc == KULA_EBADSIG, "byte %zu flipped: %d", k, rc);
        }
        free(b);
    }
    json_decref(v);
}

/* A report signs what the audit found; another key than the auditor's is
 * refused. */
Test(audit, report_of_an_audit)
{
    lf_scenario(&F);
    kula_audit_result r = run_audit();
    kula_seckey sk, other;
    kula_pubkey pk, opk;
    cr_assert_eq(kula_key_generate(&sk, &pk), 0);
    cr_assert_eq(kula_key_generate(&other, &opk), 0);
    kula_report rep, back;
    kula_report_of(&rep, &F.g, &r, 1764900000123ull, &pk);
    char *text = NULL;
    kula_error err;
    cr_assert_eq(kula_report_sign(&text, &rep, &other, NULL), KULA_EBADKEY);
    cr_assert_eq(kula_report_sign(&text, &rep, &sk, NULL), 0);
    cr_assert_eq(kula_report_verify(&back, text, strlen(text), &err), 0, "%s", err.what);
    cr_assert(back.ok);
    cr_assert_eq(back.tip_height, 5);
    cr_assert_eq(back.txs, 15);
    cr_assert_eq(back.settlements, 2);
    cr_assert_eq(back.time_ms, 1764900000000ull);
    cr_assert_eq(memcmp(back.state_root.b, r.state_root.b, KULA_HASH_LEN), 0);
    cr_assert_eq(memcmp(back.chain_id.b, F.g.chain_id.b, KULA_HASH_LEN), 0);
    /* pretty-printed, the same JSON is not the signed report */
    json_t *j = json_loads(text, 0, NULL);
    char *pretty = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    cr_assert_eq(kula_report_verify(&back, pretty, strlen(pretty), &err), KULA_EINVAL);
    cr_assert(strstr(err.what, "canonical") != NULL, "%s", err.what);
    free(pretty);
    json_decref(j);
    free(text);
}

/* ---- the payments of a clearing's settlement (proto/LEDGER.md §9.6) ---- */

static kula_hash one_signer(kula_tx *tx)
{
    uint32_t s[] = { tx->from };
    tx->memo = lf_text("");
    return lf_add(&F, tx, s, 1, false);
}

/* A network clearing every 3 blocks: Logistics (3) owes Agency (2) 300 on
 * an accepted invoice and opted in; the clearing of block 3 pays it. */
static void clearing_pays(void)
{
    lf_close(&F);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", F.ledger);
    cr_assert_eq(system(cmd), 0);
    F.g.params.clearing_interval = 3;
    kula_buf b;
    kula_buf_init(&b);
    cr_assert_eq(kula_genesis_encode(&b, &F.g), 0);
    kula_hash_bytes(&F.g.chain_id, b.data, b.len);
    kula_buf_free(&b);
    lf_open(&F);
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_INVOICE;
    tx.from = 2;
    tx.u.invoice.debtor = 3;
    tx.u.invoice.amount = 300;
    tx.u.invoice.reference = lf_text("inv-1");
    kula_hash inv = one_signer(&tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_CLEARING_SETTLE;
    tx.from = 3;
    tx.u.csettle.on = true;
    one_signer(&tx);
    lf_block(&F, F.g.time_ms + 1000);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_INVOICE_ACCEPT;
    tx.from = 3;
    tx.u.inv.invoice = inv;
    one_signer(&tx);
    lf_block(&F, F.g.time_ms + 2000);
    lf_transfer(&F, 1, 4, 10, "");
    lf_block(&F, F.g.time_ms + 3000);
}

/* The export lists the payment after its block's transactions, as the
 * statement does: no tx id, kind clearing-settlement, debtor to issuer,
 * the amount paid, the invoice's amount, the words; analytics count it in
 * the volume and the flows, and apart as settled, but not as a
 * transaction. */
Test(audit, clearing_payments_exported_and_counted)
{
    clearing_pays();
    kula_export_opts o = { .format = KULA_EXPORT_CSV };
    char *text = export_text(&o, 0, 5);
    csv c;
    csv_parse(text, &c);
    cr_assert_eq(c.nrows, 6);
    cr_assert_str_eq(cell(&c, 4, "kind"), "transfer");
    cr_assert_str_eq(cell(&c, 5, "height"), "3");
    cr_assert_str_eq(cell(&c, 5, "tx_id"), "");
    cr_assert_str_eq(cell(&c, 5, "kind"), "clearing-settlement");
    cr_assert_str_eq(cell(&c, 5, "from"), "3");
    cr_assert_str_eq(cell(&c, 5, "from_name"), "Logistics");
    cr_assert_str_eq(cell(&c, 5, "to"), "2");
    cr_assert_str_eq(cell(&c, 5, "amount"), "3.00");
    cr_assert_str_eq(cell(&c, 5, "value"), "3.00");
    cr_assert(strncmp(cell(&c, 5, "description"), "clearing 1: invoice inv-1 (", 27) == 0 &&
                  strstr(cell(&c, 5, "description"), ") paid from credit") != NULL,
              "%s", cell(&c, 5, "description"));
    csv_free(&c);
    free(text);

    o.format = KULA_EXPORT_JSONL;
    text = export_text(&o, 0, 5);
    const char *last = strrchr(text, '{');
    json_error_t je;
    json_t *j = json_loads(last, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "clearing-settlement");
    cr_assert_eq(json_integer_value(json_object_get(j, "clearing")), 1);
    cr_assert_eq(json_integer_value(json_object_get(j, "index")), 1, "after block 3's one tx");
    cr_assert_str_eq(json_string_value(json_object_get(j, "amount")), "3.00");
    cr_assert_null(json_object_get(j, "nonce"));
    json_decref(j);
    free(text);

    kula_archive *a = open_archive(F.dir);
    kula_analytics an;
    kula_error e;
    cr_assert_eq(kula_analytics_compute(&an, a, KULA_PERIOD_MONTH, &e, NULL), 0, "%s", e.what);
    cr_assert_eq(an.txs, 4);
    cr_assert(an.settled == 300 && an.payments == 1);
    cr_assert(an.volume == 310);
    cr_assert_eq(an.nperiods, 1);
    cr_assert(an.periods[0].settled == 300 && an.periods[0].payments == 1);
    cr_assert_eq(an.periods[0].active_members, 4, "1, 2 and 3 acted; 4 was paid");
    const kula_flow *fl = kula_analytics_flow(&an, 3, 2);
    cr_assert(fl != NULL && fl->value == 300);
    cr_assert_eq(an.members[2].txs, 3, "the invoice to it, its opt-in, its accept; no payment");
    kula_analytics_free(&an);
    kula_archive_close(a);
}
