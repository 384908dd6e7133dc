/* gen_ledger_vectors.c -- writes the ledger conformance vectors, proto/vectors/ledger/.
 *
 * Built with the suite (CMake target gen_ledger_vectors).  From the
 * repository root, after a build:
 *
 *   build/tests/gen_ledger_vectors proto/vectors/ledger
 *
 * Each scenario starts from a genesis and applies one block per step
 * through the real ledger (kula_ledger_begin_block, _apply_tx, _end_block),
 * at most one transaction per block.  A step that the ledger refuses is
 * written with its error and the state root before it, and its block is
 * thrown away; every other step with the state root after its block.  The
 * generator states the outcome it expects for every step and stops if the
 * ledger disagrees, so each vector exercises the rule its "rule" field
 * names.  The output is deterministic (fixed keys, BIP-340 signatures with
 * 32 zero bytes of auxiliary randomness): the ctest vectors_ledger_regen runs
 * it again and compares.  What the files hold: proto/vectors/ledger/README.md. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/ledger/ledger.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"

#define VECGEN_NAME "gen_ledger_vectors"
#include "vecgen.h"

#define NKEYS 9
/* Key i is BLAKE2b-256("kula ledger vector key i"). */
static kula_seckey sk[NKEYS + 1];
static kula_pubkey pk[NKEYS + 1];
static const uint8_t zero_aux[32];
static const char *out_dir;
static const uint64_t genesis_time_ms = UINT64_C(1735689600000); /* 2025-01-01T00:00:00Z */
static const uint64_t block_ms = 1000;

/* ---- geneses ---- */

/* "four": members 1-3 validators (power 10, 10, 5), member 4 not, with a
 * smaller credit limit.  "solo": two members, member 1 the only validator. */
typedef struct gspec {
    const char *name;
    uint32_t n;
    int64_t limit[4];
    uint64_t power[4];
    uint64_t snapshot_interval; /* parameter 11 (SPEC §10.3); 0 for most */
} gspec;

static const gspec G_FOUR = { "four", 4, { 10000, 10000, 10000, 5000 }, { 10, 10, 5, 0 }, 0 };
static const gspec G_SOLO = { "solo", 2, { 10000, 10000 }, { 1, 0 }, 0 };
/* "four" with a snapshot height every second block */
static const gspec G_FOUR_SNAP = { "four-snapshots", 4, { 10000, 10000, 10000, 5000 },
                                   { 10, 10, 5, 0 }, 2 };

static const char *const member_names[] = { "Bakery", "Agency", "Logistics", "Printer" };

static void make_genesis(kula_genesis *g, kula_buf *canon, const gspec *s)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->network, sizeof(g->network), "kula-ledger-vectors-%s", s->name);
    snprintf(g->unit, sizeof(g->unit), "KULA");
    g->decimals = 2;
    g->time_ms = genesis_time_ms;
    g->params = (kula_params){ .default_credit_limit = 10000, .threshold_num = 2,
                               .threshold_den = 3, .proposal_ttl = 6,
                               .block_interval_ms = block_ms, .timeout_propose_ms = 3000,
                               .timeout_vote_ms = 1000, .timeout_delta_ms = 500,
                               .max_block_txs = 100,
                               .snapshot_interval = s->snapshot_interval };
    g->nmembers = s->n;
    g->members = calloc(s->n, sizeof(*g->members));
    if (g->members == NULL)
        die("out of memory");
    for (uint32_t i = 0; i < s->n; i++) {
        g->members[i].pubkey = pk[i + 1];
        snprintf(g->members[i].name, sizeof(g->members[i].name), "%s", member_names[i]);
        snprintf(g->members[i].sector, sizeof(g->members[i].sector), "sector %u", i + 1);
        g->members[i].credit_limit = s->limit[i];
        g->members[i].voting_power = s->power[i];
    }
    kula_error err;
    if (kula_genesis_validate(g, &err) != 0)
        die("genesis %s: %s", s->name, err.what);
    kula_buf_init(canon);
    if (kula_genesis_encode(canon, g) != 0)
        die("genesis %s: encode", s->name);
    kula_hash_bytes(&g->chain_id, canon->data, canon->len);
}

/* ---- scenarios ---- */

typedef struct scen {
    const char *file;
    kula_genesis g;
    kula_ledger *l;
    uint64_t time_ms; /* of the last block tried */
    json_t *doc, *steps;
    uint32_t key[NKEYS + 1]; /* member -> the key it signs with now */
    kula_buf body, bytes;
} scen;

static void scen_open(scen *s, const char *file, const gspec *gs, const char *description)
{
    memset(s, 0, sizeof(*s));
    s->file = file;
    kula_buf canon;
    make_genesis(&s->g, &canon, gs);
    kula_hash root;
    const kula_state_write *w;
    size_t n;
    if (kula_ledger_new(&s->l, &s->g.chain_id, NULL, NULL, 0, NULL) != 0 ||
        kula_ledger_genesis(s->l, &s->g, &root, &w, &n) != 0)
        die("%s: genesis state", file);
    kula_ledger_finish_block(s->l);
    s->time_ms = genesis_time_ms;
    for (uint32_t i = 1; i <= NKEYS; i++)
        s->key[i] = i;
    s->doc = json_object();
    json_object_set_new(s->doc, "structure", json_string("ledger"));
    json_object_set_new(s->doc, "description", json_string(description));
    json_object_set_new(s->doc, "generator", json_string("tests/vectors/gen_ledger_vectors.c"));
    json_t *gj = json_object();
    json_object_set_new(gj, "name", json_string(gs->name));
    json_object_set_new(gj, "hex", j_hex(canon.data, canon.len));
    json_object_set_new(gj, "chain_id", j_hex(s->g.chain_id.b, KULA_HASH_LEN));
    json_object_set_new(gj, "state_root", j_hex(root.b, KULA_HASH_LEN));
    json_object_set_new(s->doc, "genesis", gj);
    s->steps = json_array();
    json_object_set(s->doc, "steps", s->steps);
    kula_buf_free(&canon);
    kula_buf_init(&s->body);
    kula_buf_init(&s->bytes);
}

static void scen_close(scen *s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", out_dir, s->file);
    char *text = json_dumps(s->doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    FILE *f = fopen(path, "wb");
    if (text == NULL || f == NULL || fputs(text, f) < 0 || fputc('\n', f) == EOF ||
        fclose(f) != 0)
        die("cannot write %s", path);
    printf("%-22s %3zu steps\n", s->file, json_array_size(s->steps));
    free(text);
    json_decref(s->steps);
    json_decref(s->doc);
    kula_ledger_free(s->l);
    kula_genesis_free(&s->g);
    kula_buf_free(&s->body);
    kula_buf_free(&s->bytes);
}

/* The next block's time. */
static uint64_t next_time(const scen *s) { return s->time_ms + block_ms; }

/* A transaction of kind from `from`, with its next nonce. */
static kula_tx tx_new(scen *s, uint8_t kind, uint32_t from)
{
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.kind = kind;
    tx.from = from;
    kula_member m;
    tx.nonce = kula_ledger_member(s->l, from, &m) == 0 ? m.nonce + 1 : 1;
    return tx;
}

/* A signer: a member id, or BY(member, key) to sign in member's place with
 * another key. */
#define BY(member, key) ((member) | ((uint32_t)(key) << 16))
#define SIGNERS(...) (const uint32_t[]){ __VA_ARGS__ }, \
    sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t)

static void sign_tx(scen *s, kula_tx *tx, const uint32_t *signers, size_t n)
{
    if (kula_tx_seal(tx, &s->body) != 0)
        die("%s: seal", s->file);
    kula_hash d;
    kula_tx_sighash(&d, &s->g.chain_id, tx);
    for (size_t i = 0; i < n; i++) {
        uint32_t member = signers[i] & 0xffff, key = signers[i] >> 16;
        kula_sig sig;
        if (kula_sign_aux(&sig, &sk[key ? key : s->key[member]], d.b, zero_aux) != 0 ||
            kula_tx_add_sig(tx, member, &sig) != 0)
            die("%s: sign", s->file);
    }
}

/* One block at the next height holding tx (NULL: an empty block), which the
 * ledger must answer with `expect`.  Returns: the tx id (an agreement's,
 * referral's or proposal's id). */
static kula_hash step_raw(scen *s, const uint8_t *p, size_t n, int expect, const char *rule,
                          const char *description)
{
    uint64_t height = kula_ledger_height(s->l) + 1;
    s->time_ms = next_time(s);
    kula_tx tx;
    memset(&tx, 0, sizeof(tx));
    if (kula_ledger_begin_block(s->l, height, s->time_ms) != 0)
        die("%s: begin block", s->file);
    int rc = 0;
    if (p != NULL && (rc = kula_tx_decode(&tx, p, n)) != 0)
        die("%s: %s: decode: %s", s->file, description, kula_errname(rc));
    if (p != NULL)
        rc = kula_ledger_apply_tx(s->l, &tx, NULL, NULL);
    if (rc != expect)
        die("%s: %s: the ledger says %s, not %s", s->file, description, kula_errname(rc),
            kula_errname(expect));
    kula_hash root = *kula_ledger_state_root(s->l);
    if (rc == 0) {
        const kula_state_write *w;
        size_t nw;
        if (kula_ledger_end_block(s->l, &root, &w, &nw) != 0)
            die("%s: end block", s->file);
        kula_ledger_finish_block(s->l);
    } else {
        kula_ledger_abort_block(s->l);
    }
    json_t *j = json_object();
    json_object_set_new(j, "height", json_integer((json_int_t)height));
    json_object_set_new(j, "time_ms", json_integer((json_int_t)s->time_ms));
    json_object_set_new(j, "rule", json_string(rule));
    json_object_set_new(j, "description", json_string(description));
    json_object_set_new(j, "kind", p ? json_string(kula_tx_kind_name(tx.kind)) : json_null());
    json_object_set_new(j, "tx", p ? j_hex(p, n) : json_null());
    json_object_set_new(j, "tx_id", p ? j_hex(tx.id.b, KULA_HASH_LEN) : json_null());
    json_object_set_new(j, "error", rc ? json_string(kula_errname(rc)) : json_null());
    json_object_set_new(j, "code", json_integer(rc));
    json_object_set_new(j, "state_root", j_hex(root.b, KULA_HASH_LEN));
    /* SPEC §10.3: at a snapshot height, the parts of the root */
    const kula_snapshot_commit *sc = rc == 0 ? kula_ledger_snapshot(s->l) : NULL;
    if (sc != NULL) {
        json_t *sj = json_object();
        json_object_set_new(sj, "diff_root", j_hex(sc->diff_root.b, KULA_HASH_LEN));
        json_object_set_new(sj, "vals", j_hex(sc->vals.data, sc->vals.len));
        json_object_set_new(sj, "state_hash", j_hex(sc->state_hash.b, KULA_HASH_LEN));
        json_object_set_new(j, "snapshot", sj);
    }
    json_array_append_new(s->steps, j);
    return tx.id;
}

static kula_hash step(scen *s, kula_tx *tx, const uint32_t *signers, size_t n, int expect,
                      const char *rule, const char *description)
{
    sign_tx(s, tx, signers, n);
    kula_buf_reset(&s->bytes);
    if (kula_tx_encode(&s->bytes, tx) != 0)
        die("%s: %s: encode", s->file, description);
    return step_raw(s, s->bytes.data, s->bytes.len, expect, rule, description);
}

static void empty_block(scen *s, const char *description)
{
    step_raw(s, NULL, 0, 0, "LEDGER §1.4", description);
}

/* ---- transaction builders ---- */

static kula_tx transfer(scen *s, uint32_t from, uint32_t to, int64_t amount)
{
    kula_tx tx = tx_new(s, KULA_TX_TRANSFER, from);
    tx.u.transfer.to = to;
    tx.u.transfer.amount = amount;
    return tx;
}

static kula_tx exchange(scen *s, uint32_t from, uint32_t cp, const char *gives,
                        int64_t gives_value, const char *receives, int64_t receives_value)
{
    kula_tx tx = tx_new(s, KULA_TX_EXCHANGE, from);
    tx.u.exchange.counterparty = cp;
    tx.u.exchange.gives = T(gives);
    tx.u.exchange.gives_value = gives_value;
    tx.u.exchange.receives = T(receives);
    tx.u.exchange.receives_value = receives_value;
    return tx;
}

static kula_tx referral(scen *s, uint32_t from, uint32_t to, const char *lead, int64_t fee,
                        const kula_hash *agreement)
{
    kula_tx tx = tx_new(s, KULA_TX_REFERRAL, from);
    tx.u.referral.receiver = to;
    tx.u.referral.lead = hash_of(lead);
    tx.u.referral.fee = fee;
    tx.u.referral.has_agreement = agreement != NULL;
    if (agreement != NULL)
        tx.u.referral.agreement = *agreement;
    return tx;
}

static kula_tx conversion(scen *s, uint32_t from, const kula_hash *ref, int64_t value)
{
    kula_tx tx = tx_new(s, KULA_TX_CONVERSION, from);
    tx.u.conversion.referral = *ref;
    tx.u.conversion.value = value;
    return tx;
}

static kula_rule rule_of(uint8_t kind, uint32_t n, const uint32_t *weights)
{
    kula_rule r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    r.nweights = weights ? n : 0;
    for (uint32_t i = 0; weights != NULL && i < n; i++)
        r.weights[i] = weights[i];
    return r;
}

/* The Shapley rule over values[0..n) (n = 2^parties); raw keeps the encoding. */
static kula_rule shapley(kula_buf *raw, const int64_t *values, uint32_t n)
{
    kula_rule r = rule_of(KULA_RULE_SHAPLEY, 0, NULL);
    kula_writer w;
    kula_buf_reset(raw);
    kula_writer_init(&w, raw);
    kula_w_array(&w, n);
    for (uint32_t i = 0; i < n; i++)
        kula_w_int(&w, values[i]);
    r.nvalues = n;
    r.values_raw = raw->data;
    r.values_raw_len = raw->len;
    return r;
}

static kula_tx agreement_open(scen *s, uint32_t from, const char *label,
                              const uint32_t *parties, uint32_t n, kula_rule rule,
                              uint64_t term_end, uint32_t bps)
{
    kula_tx tx = tx_new(s, KULA_TX_AGREEMENT_OPEN, from);
    tx.u.open.label = T(label);
    tx.u.open.title = T("Joint venture");
    tx.u.open.nparties = n;
    memcpy(tx.u.open.parties, parties, n * sizeof(*parties));
    tx.u.open.rule = rule;
    tx.u.open.term_end = term_end;
    tx.u.open.referral_fee_bps = bps;
    return tx;
}

/* contribute, benefit, settle and close name the agreement first. */
static kula_tx on_agreement(scen *s, uint8_t kind, uint32_t from, const kula_hash *a,
                            int64_t value, uint32_t acknowledger)
{
    kula_tx tx = tx_new(s, kind, from);
    switch (kind) {
    case KULA_TX_CONTRIBUTE:
        tx.u.contribute.agreement = *a;
        tx.u.contribute.value = value;
        tx.u.contribute.description = T("two days of delivery");
        tx.u.contribute.acknowledger = acknowledger;
        break;
    case KULA_TX_BENEFIT:
        tx.u.benefit.agreement = *a;
        tx.u.benefit.amount = value;
        tx.u.benefit.description = T("customer order");
        break;
    default:
        tx.u.settle.agreement = *a;
        break;
    }
    return tx;
}

static kula_tx feedback(scen *s, uint32_t from, uint32_t about, uint32_t rating,
                        const char *comment)
{
    kula_tx tx = tx_new(s, KULA_TX_FEEDBACK, from);
    tx.u.feedback.about = about;
    tx.u.feedback.rating = rating;
    tx.u.feedback.comment = T(comment);
    return tx;
}

static kula_tx propose(scen *s, uint32_t from, kula_action a)
{
    kula_tx tx = tx_new(s, KULA_TX_PROPOSE, from);
    tx.u.propose.action = a;
    return tx;
}

static kula_action admit(uint32_t key, const char *name, int64_t limit, uint64_t power)
{
    return (kula_action){ .kind = KULA_ACT_ADMIT, .pubkey = pk[key], .name = T(name),
                          .sector = T("florist"), .credit_limit = limit,
                          .voting_power = power };
}

static kula_action observer(uint8_t kind, uint32_t key, const char *name)
{
    return (kula_action){ .kind = kind, .pubkey = pk[key], .name = T(name) };
}

static kula_tx vote(scen *s, uint32_t from, const kula_hash *proposal, bool approve)
{
    kula_tx tx = tx_new(s, KULA_TX_VOTE, from);
    tx.u.vote.proposal = *proposal;
    tx.u.vote.approve = approve;
    return tx;
}

static kula_vote cvote(const scen *s, uint32_t validator, uint32_t key, uint8_t type,
                       uint64_t height, uint32_t round, const char *block)
{
    kula_hash h = block != NULL ? hash_of(block) : (kula_hash){ { 0 } };
    return vecgen_vote(&s->g.chain_id, &sk[key], type, height, round, block ? &h : NULL,
                       validator);
}

static kula_tx evidence(scen *s, uint32_t from, kula_vote a, kula_vote b)
{
    kula_tx tx = tx_new(s, KULA_TX_EVIDENCE, from);
    bool swap = kula_vote_cmp(&a, &b) > 0;
    tx.u.evidence.a = swap ? b : a;
    tx.u.evidence.b = swap ? a : b;
    return tx;
}

/* ---- the scenarios ---- */

static void gen_transfer(void)
{
    scen s;
    scen_open(&s, "transfer.json", &G_FOUR,
              "Transfers, mutual credit and the checks every transaction passes, in order");
    kula_tx t;
    t = transfer(&s, 1, 2, 2500);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §4.1, §3.1", "member 1 pays member 2 25.00");
    kula_buf first;
    kula_buf_init(&first);
    kula_buf_append(&first, s.bytes.data, s.bytes.len);
    t = transfer(&s, 4, 1, 5001);
    step(&s, &t, SIGNERS(4), KULA_ECREDIT, "LEDGER §3.2", "one unit beyond member 4's limit");
    t = transfer(&s, 4, 1, 5000);
    step(&s, &t, SIGNERS(4), 0, "LEDGER §3.2", "member 4's balance reaches exactly -limit");
    t = transfer(&s, 4, 1, 1);
    step(&s, &t, SIGNERS(4), KULA_ECREDIT, "LEDGER §3.2", "at its limit member 4 pays nothing");
    t = transfer(&s, 1, 2, 0);
    step(&s, &t, SIGNERS(1), KULA_EAMOUNT, "LEDGER §3.2", "amount 0");
    t = transfer(&s, 1, 2, -1);
    step(&s, &t, SIGNERS(1), KULA_EAMOUNT, "LEDGER §3.2", "negative amount");
    t = transfer(&s, 1, 1, 10);
    step(&s, &t, SIGNERS(1), KULA_ESELF, "LEDGER §3.3", "a member pays itself");
    t = transfer(&s, 1, 9, 10);
    step(&s, &t, SIGNERS(1), KULA_EUNKNOWNMEMBER, "LEDGER §4.1", "to a member that does not exist");
    t = transfer(&s, 9, 1, 10);
    step(&s, &t, SIGNERS(BY(9, 5)), KULA_EUNKNOWNMEMBER, "LEDGER §2.1",
         "from a member that does not exist");
    t = transfer(&s, 1, 2, 10);
    t.nonce++;
    step(&s, &t, SIGNERS(1), KULA_ENONCE, "LEDGER §2.2", "a nonce that skips one");
    step_raw(&s, first.data, first.len, KULA_ENONCE, "LEDGER §2.2",
             "the first transfer again: its nonce is spent");
    kula_buf_free(&first);
    t = transfer(&s, 1, 2, 10);
    step(&s, &t, SIGNERS(1, 2), KULA_ESIGNERS, "LEDGER §2.3", "an extra signature");
    t = transfer(&s, 1, 2, 10);
    step(&s, &t, SIGNERS(2), KULA_ESIGNERS, "LEDGER §2.3", "signed by the payee instead");
    t = transfer(&s, 1, 2, 10);
    step(&s, &t, SIGNERS(BY(1, 2)), KULA_EBADSIG, "LEDGER §2.3",
         "member 1's signature made with member 2's key");
    t = transfer(&s, 1, 2, 10);
    t.memo = T("bell\a");
    step(&s, &t, SIGNERS(1), KULA_ETEXT, "LEDGER §2.4", "a control character in the memo");
    t = transfer(&s, 1, 2, 10);
    t.memo = T("invoice 17\nthank you");
    step(&s, &t, SIGNERS(1), 0, "LEDGER §2.4", "a memo with a newline");
    t = transfer(&s, 1, 2, 1000000);
    t.nonce += 1;
    step(&s, &t, SIGNERS(BY(1, 2)), KULA_ENONCE, "LEDGER §2",
         "wrong nonce, bad signature and beyond the limit: the nonce is checked first");
    t = transfer(&s, 1, 2, 1000000);
    step(&s, &t, SIGNERS(BY(1, 2)), KULA_EBADSIG, "LEDGER §2",
         "bad signature and beyond the limit: the signature is checked first");
    t = transfer(&s, 1, 2, 1000000);
    t.memo = T("\x1b[2J");
    step(&s, &t, SIGNERS(1), KULA_ETEXT, "LEDGER §2",
         "bad memo and beyond the limit: the text is checked first");
    empty_block(&s, "an empty block: the root chains over an empty diff");
    t = transfer(&s, 2, 4, 7500);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §3.1", "member 2 pays member 4 75.00");
    scen_close(&s);
}

static void gen_dated(void)
{
    scen s;
    scen_open(&s, "dated.json", &G_FOUR, "Expiry and unsequenced transactions (body version 2)");
    kula_tx t = exchange(&s, 1, 2, "bread", 300, "flyers", 100);
    t.nonce = 0;
    t.expires = next_time(&s) + 10 * block_ms;
    step(&s, &t, SIGNERS(1, 2), 0, "LEDGER §2.2 unsequenced",
         "an unsequenced exchange: the \"D\" record of its id is written");
    kula_buf once;
    kula_buf_init(&once);
    kula_buf_append(&once, s.bytes.data, s.bytes.len);
    t = transfer(&s, 1, 2, 100);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §2.2 unsequenced",
         "member 1's nonce 1 is still free: the unsequenced one did not take it");
    step_raw(&s, once.data, once.len, KULA_EREPLAYED, "LEDGER §2.2 unsequenced",
             "the unsequenced exchange again");
    kula_buf_free(&once);
    t = transfer(&s, 2, 3, 100);
    t.nonce = 0;
    t.expires = next_time(&s) - 1;
    step(&s, &t, SIGNERS(2), KULA_ETXEXPIRED, "LEDGER §2.2 expiry",
         "expires one millisecond before the block's time");
    t = transfer(&s, 2, 3, 100);
    t.nonce = 0;
    t.expires = next_time(&s);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §2.2 expiry", "expires at exactly the block's time");
    t = transfer(&s, 2, 3, 100);
    t.nonce = 0;
    step(&s, &t, SIGNERS(2), KULA_ENONCE, "LEDGER §2.2 unsequenced",
         "nonce 0 without an expiry (version 1)");
    t = transfer(&s, 3, 1, 100);
    t.expires = next_time(&s) + block_ms;
    step(&s, &t, SIGNERS(3), 0, "LEDGER §2.2 sequenced", "a sequenced transfer with an expiry");
    t = transfer(&s, 3, 1, 100);
    t.expires = next_time(&s) - block_ms;
    step(&s, &t, SIGNERS(3), KULA_ETXEXPIRED, "LEDGER §2.2 expiry",
         "a sequenced transfer past its expiry");
    t = transfer(&s, 3, 1, 100);
    t.expires = next_time(&s) - block_ms;
    t.nonce += 1;
    step(&s, &t, SIGNERS(3), KULA_ETXEXPIRED, "LEDGER §2.2",
         "expired and a wrong nonce: the expiry is checked first");
    t = transfer(&s, 9, 1, 100);
    t.expires = next_time(&s) - block_ms;
    step(&s, &t, SIGNERS(BY(9, 5)), KULA_EUNKNOWNMEMBER, "LEDGER §2",
         "expired and from no member: the member is checked first");
    t = transfer(&s, 4, 1, 6000);
    t.nonce = 0;
    t.expires = next_time(&s);
    step(&s, &t, SIGNERS(4), KULA_ECREDIT, "LEDGER §2.6",
         "an unsequenced transfer beyond the limit: no \"D\" record is left");
    t.u.transfer.amount = 5000;
    t.nsigs = 0;
    t.expires = next_time(&s);
    step(&s, &t, SIGNERS(4), 0, "LEDGER §2.6", "within the limit it commits");
    scen_close(&s);
}

static void gen_exchange(void)
{
    scen s;
    scen_open(&s, "exchange.json", &G_FOUR, "Barter, completed exchanges and feedback");
    kula_tx t = exchange(&s, 1, 2, "bread", 300, "flyers", 100);
    step(&s, &t, SIGNERS(1, 2), 0, "LEDGER §4.2, §3.4",
         "member 2 owes member 1 the difference, 2.00");
    t = exchange(&s, 2, 1, "website", 50, "cakes", 50);
    step(&s, &t, SIGNERS(1, 2), 0, "LEDGER §4.2, §3.4", "equal values: no credit moves");
    t = exchange(&s, 1, 2, "", 0, "a logo", 70);
    step(&s, &t, SIGNERS(1, 2), 0, "LEDGER §4.2", "one side of value 0 with no description");
    t = exchange(&s, 1, 2, "", 0, "", 0);
    step(&s, &t, SIGNERS(1, 2), KULA_EAMOUNT, "LEDGER §4.2", "both values 0");
    t = exchange(&s, 1, 2, "bread", -5, "flyers", 10);
    step(&s, &t, SIGNERS(1, 2), KULA_EAMOUNT, "LEDGER §4.2", "a negative value");
    t = exchange(&s, 1, 2, "", 5, "flyers", 10);
    step(&s, &t, SIGNERS(1, 2), KULA_ETEXT, "LEDGER §2.4, §4.2",
         "a side of value 5 without a description");
    t = exchange(&s, 1, 1, "bread", 5, "flyers", 10);
    step(&s, &t, SIGNERS(1), KULA_ESELF, "LEDGER §3.3", "a barter with itself");
    t = exchange(&s, 1, 2, "bread", 5, "flyers", 10);
    step(&s, &t, SIGNERS(1), KULA_ESIGNERS, "LEDGER §2.3, §4.2", "the counterparty did not sign");
    t = exchange(&s, 4, 3, "", 0, "transport", 6000);
    step(&s, &t, SIGNERS(3, 4), KULA_ECREDIT, "LEDGER §3.2, §4.2",
         "member 4 would owe 60.00, beyond its limit");
    t = feedback(&s, 1, 2, 5, "on time");
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.5", "member 1 rates member 2");
    t = feedback(&s, 1, 2, 0, "");
    step(&s, &t, SIGNERS(1), KULA_ERATING, "LEDGER §6.5", "rating 0");
    t = feedback(&s, 1, 1, 5, "");
    step(&s, &t, SIGNERS(1), KULA_ESELF, "LEDGER §3.3, §6.5", "a rating of itself");
    t = feedback(&s, 1, 3, 4, "");
    step(&s, &t, SIGNERS(1), KULA_ENOEXCHANGE, "LEDGER §6.5", "no exchange with member 3");
    t = feedback(&s, 1, 2, 3, "ok\x7f");
    step(&s, &t, SIGNERS(1), KULA_ETEXT, "LEDGER §2.4, §6.5", "a control character in the comment");
    t = feedback(&s, 1, 2, 4, "");
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.5", "second rating of three exchanges");
    t = feedback(&s, 2, 1, 2, "late");
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.5", "member 2 rates member 1: its own allowance");
    t = feedback(&s, 1, 2, 1, "");
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.5", "third rating of three exchanges");
    t = feedback(&s, 1, 2, 5, "");
    step(&s, &t, SIGNERS(1), KULA_ENOEXCHANGE, "LEDGER §6.5", "a fourth rating");
    t = transfer(&s, 2, 1, 10);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §3.4", "a transfer is a completed exchange too");
    t = feedback(&s, 1, 2, 5, "");
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.5", "which allows one more rating");
    scen_close(&s);
}

static void gen_referral(void)
{
    scen s;
    scen_open(&s, "referral.json", &G_FOUR, "Referrals with a stated fee and their conversion");
    kula_tx t = referral(&s, 1, 2, "lead 1", 150, NULL);
    kula_hash r1 = step(&s, &t, SIGNERS(1), 0, "LEDGER §4.3", "member 1 refers a customer to 2");
    t = referral(&s, 1, 2, "lead 2", 0, NULL);
    step(&s, &t, SIGNERS(1), KULA_EAMOUNT, "LEDGER §4.3", "no fee and no agreement");
    t = referral(&s, 1, 2, "lead 2", -3, NULL);
    step(&s, &t, SIGNERS(1), KULA_EAMOUNT, "LEDGER §4.3", "a negative fee");
    t = referral(&s, 1, 1, "lead 2", 10, NULL);
    step(&s, &t, SIGNERS(1), KULA_ESELF, "LEDGER §3.3", "a referral to itself");
    t = referral(&s, 1, 9, "lead 2", 10, NULL);
    step(&s, &t, SIGNERS(1), KULA_EUNKNOWNMEMBER, "LEDGER §4.3", "to no member");
    t = conversion(&s, 1, &r1, 1000);
    step(&s, &t, SIGNERS(1), KULA_ESIGNERS, "LEDGER §4.4", "the referrer cannot convert");
    t = conversion(&s, 2, &r1, 0);
    step(&s, &t, SIGNERS(2), KULA_EAMOUNT, "LEDGER §4.4", "a sale of value 0");
    t = conversion(&s, 2, &r1, 1000);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §4.4", "member 2 converts and pays the fee, 1.50");
    t = conversion(&s, 2, &r1, 1000);
    step(&s, &t, SIGNERS(2), KULA_EUNKNOWNREFERRAL, "LEDGER §4.4", "a second conversion");
    t = feedback(&s, 2, 1, 5, "good lead");
    step(&s, &t, SIGNERS(2), 0, "LEDGER §4.4, §6.5", "the conversion allows one rating");
    kula_hash unknown = hash_of("no such referral");
    t = conversion(&s, 2, &unknown, 1000);
    step(&s, &t, SIGNERS(2), KULA_EUNKNOWNREFERRAL, "LEDGER §4.4", "a referral never made");
    t = referral(&s, 1, 4, "lead 3", 6000, NULL);
    kula_hash r3 = step(&s, &t, SIGNERS(1), 0, "LEDGER §4.3", "a fee of 60.00 to member 4");
    t = conversion(&s, 4, &r3, 90000);
    step(&s, &t, SIGNERS(4), KULA_ECREDIT, "LEDGER §3.2, §4.4", "beyond member 4's limit");
    scen_close(&s);
}

/* The invoice scenario, a step a row: an invoice (kind INVOICE: from bills
 * `to` amount under reference text, with a document when doc) that becomes
 * invoice `slot` if accepted; or a transaction of from on invoice `slot`
 * (-1: one never issued) with amount and the reason text. */
static const struct invoice_step {
    uint8_t kind;
    uint32_t from, to;
    int slot;
    int64_t amount;
    const char *text, *doc;
    int expect;
    const char *rule, *description;
} invoice_steps[] = {
    { KULA_TX_INVOICE, 1, 2, 0, 9000, "2025-001", "invoice 2025-001.pdf", 0, "LEDGER §8.1",
      "member 1 bills member 2 90.00, with its document's hash" },
    { KULA_TX_INVOICE, 1, 1, 3, 100, "2025-002", NULL, KULA_ESELF, "LEDGER §8.1",
      "an invoice to itself" },
    { KULA_TX_INVOICE, 1, 9, 3, 100, "2025-002", NULL, KULA_EUNKNOWNMEMBER, "LEDGER §8.1",
      "to no member" },
    { KULA_TX_INVOICE, 1, 2, 3, 0, "2025-002", NULL, KULA_EAMOUNT, "LEDGER §8.1",
      "an amount of 0" },
    { KULA_TX_INVOICE, 1, 2, 3, 100, "", NULL, KULA_ETEXT, "LEDGER §8.1, §2.4",
      "an empty reference" },
    { KULA_TX_INVOICE_ACCEPT, 2, 0, -1, 0, "", NULL, KULA_EUNKNOWNINVOICE, "LEDGER §8.2",
      "an invoice never issued" },
    { KULA_TX_INVOICE_ACCEPT, 3, 0, 0, 0, "", NULL, KULA_ENOTDEBTOR, "LEDGER §8.2",
      "a member not billed accepts" },
    { KULA_TX_INVOICE_ACCEPT, 2, 0, 0, 0, "", NULL, 0, "LEDGER §8.2", "member 2 accepts" },
    { KULA_TX_INVOICE_ACCEPT, 2, 0, 0, 0, "", NULL, KULA_EACCEPTED, "LEDGER §8.2",
      "accepted twice" },
    { KULA_TX_INVOICE_DISPUTE, 2, 0, 0, 0, "late", NULL, KULA_EACCEPTED, "LEDGER §8.3",
      "disputed once accepted" },
    { KULA_TX_INVOICE_PAY, 2, 0, 0, 4000, "", NULL, 0, "LEDGER §8.5, §3.2",
      "member 2 pays 40.00 of it" },
    { KULA_TX_INVOICE_PAY, 2, 0, 0, 5001, "", NULL, KULA_EOVERPAY, "LEDGER §8.5",
      "0.01 more than the 50.00 owed" },
    { KULA_TX_INVOICE_PAY, 1, 0, 0, 100, "", NULL, KULA_ENOTDEBTOR, "LEDGER §8.5",
      "the issuer pays its own invoice" },
    { KULA_TX_INVOICE_CANCEL, 1, 0, 0, 0, "", NULL, KULA_EPARTPAID, "LEDGER §8.4",
      "cancelled after a payment" },
    { KULA_TX_INVOICE_PAY, 2, 0, 0, 5000, "", NULL, 0, "LEDGER §8.5",
      "member 2 pays the remaining 50.00: paid" },
    { KULA_TX_INVOICE_PAY, 2, 0, 0, 1, "", NULL, KULA_EINVOICECLOSED, "LEDGER §8",
      "a paid invoice takes nothing" },
    { KULA_TX_INVOICE, 3, 4, 1, 3000, "L-77", NULL, 0, "LEDGER §8.1",
      "member 3 bills member 4 30.00" },
    { KULA_TX_INVOICE_DISPUTE, 4, 0, 1, 0, "", NULL, KULA_ETEXT, "LEDGER §8.3",
      "a dispute without a reason" },
    { KULA_TX_INVOICE_DISPUTE, 4, 0, 1, 0, "two pallets were missing", NULL, 0, "LEDGER §8.3",
      "member 4 disputes it" },
    { KULA_TX_INVOICE_DISPUTE, 4, 0, 1, 0, "again", NULL, KULA_EDISPUTED, "LEDGER §8.3",
      "disputed twice" },
    { KULA_TX_INVOICE_PAY, 4, 0, 1, 100, "", NULL, KULA_EDISPUTED, "LEDGER §8.5",
      "paying a disputed invoice" },
    { KULA_TX_INVOICE_CANCEL, 4, 0, 1, 0, "", NULL, KULA_ENOTISSUER, "LEDGER §8.4",
      "the debtor cancels" },
    { KULA_TX_INVOICE_CANCEL, 3, 0, 1, 0, "", NULL, 0, "LEDGER §8.4", "member 3 cancels it" },
    { KULA_TX_INVOICE_ACCEPT, 4, 0, 1, 0, "", NULL, KULA_EINVOICECLOSED, "LEDGER §8",
      "accepting a cancelled invoice" },
    { KULA_TX_INVOICE, 4, 1, 2, 2000, "P-5", NULL, 0, "LEDGER §8.1",
      "member 4 bills member 1 20.00" },
    { KULA_TX_INVOICE_PAY, 1, 0, 2, 2000, "", NULL, 0, "LEDGER §8.5",
      "member 1 pays it at once, unaccepted: paid" },
};

static void gen_invoice(void)
{
    scen s;
    scen_open(&s, "invoice.json", &G_FOUR,
              "Invoices: issued, accepted, paid in part and in full, disputed, cancelled, "
              "and every refusal of LEDGER §8");
    kula_hash ids[4], none = hash_of("no such invoice");
    for (size_t i = 0; i < sizeof(invoice_steps) / sizeof(invoice_steps[0]); i++) {
        const struct invoice_step *st = &invoice_steps[i];
        kula_tx t;
        if (st->kind == KULA_TX_INVOICE) {
            t = tx_new(&s, KULA_TX_INVOICE, st->from);
            t.u.invoice.debtor = st->to;
            t.u.invoice.amount = st->amount;
            t.u.invoice.due = genesis_time_ms + 30 * UINT64_C(86400000);
            t.u.invoice.reference = T(st->text);
            t.u.invoice.has_document = st->doc != NULL;
            if (st->doc != NULL)
                t.u.invoice.document = hash_of(st->doc);
        } else {
            t = tx_new(&s, st->kind, st->from);
            t.u.inv.invoice = st->slot < 0 ? none : ids[st->slot];
            t.u.inv.amount = st->amount;
            t.u.inv.reason = T(st->text);
        }
        kula_hash id = step(&s, &t, (const uint32_t[]){ st->from }, 1, st->expect, st->rule,
                            st->description);
        if (st->kind == KULA_TX_INVOICE && st->expect == 0)
            ids[st->slot] = id;
    }
    scen_close(&s);
}

static void gen_agreement(void)
{
    scen s;
    scen_open(&s, "agreement.json", &G_FOUR, "Agreements: open, amend, contribute, benefit, "
              "settle, close, and referrals under an agreement's terms");
    static const uint32_t p123[] = { 1, 2, 3 }, p13[] = { 1, 3 }, p24[] = { 2, 4 },
                          p21[] = { 2, 1 }, p1[] = { 1 };
    kula_buf raw;
    kula_buf_init(&raw);
    kula_tx t = agreement_open(&s, 1, "coop", p123, 3, rule_of(KULA_RULE_EQUAL, 0, NULL), 0, 500);
    kula_hash a = step(&s, &t, SIGNERS(1, 2, 3), 0, "LEDGER §5.2", "equal rule, three parties");
    t = agreement_open(&s, 2, "pair", p24, 2, rule_of(KULA_RULE_WEIGHTS, 2,
                       (const uint32_t[]){ 3, 1 }), 0, 0);
    kula_hash w = step(&s, &t, SIGNERS(2, 4), 0, "LEDGER §5.1, §5.2",
                       "weights 3:1, no referral fee");
    t = agreement_open(&s, 3, "share", p13, 2, rule_of(KULA_RULE_PRORATA, 0, NULL), 0, 0);
    kula_hash p = step(&s, &t, SIGNERS(1, 3), 0, "LEDGER §5.1, §5.2", "pro rata");
    static const int64_t v3[8] = { 0, 10, 20, 40, 30, 50, 60, 100 };
    t = agreement_open(&s, 1, "venture", p123, 3, shapley(&raw, v3, 8), 0, 0);
    kula_hash sh = step(&s, &t, SIGNERS(1, 2, 3), 0, "LEDGER §5.1, §5.2", "Shapley, 8 values");
    t = agreement_open(&s, 2, "x", p21, 2, rule_of(KULA_RULE_EQUAL, 0, NULL), 0, 0);
    step(&s, &t, SIGNERS(1, 2), KULA_EORDER, "LEDGER §5", "parties not ascending");
    t = agreement_open(&s, 4, "x", p123, 3, rule_of(KULA_RULE_EQUAL, 0, NULL), 0, 0);
    step(&s, &t, SIGNERS(1, 2, 3, 4), KULA_ENOTPARTY, "LEDGER §5.2", "from is not a party");
    t = agreement_open(&s, 1, "x", p123, 3, rule_of(KULA_RULE_EQUAL, 0, NULL), 0, 0);
    step(&s, &t, SIGNERS(1, 2), KULA_ESIGNERS, "LEDGER §2.3, §5.2", "party 3 did not sign");
    t = agreement_open(&s, 1, "x", p123, 3, rule_of(KULA_RULE_WEIGHTS, 2,
                       (const uint32_t[]){ 1, 1 }), 0, 0);
    step(&s, &t, SIGNERS(1, 2, 3), KULA_ERULE, "LEDGER §5.1, §5.2",
         "two weights for three parties");
    t = agreement_open(&s, 1, "x", p13, 2, rule_of(KULA_RULE_WEIGHTS, 2,
                       (const uint32_t[]){ 0, 0 }), 0, 0);
    step(&s, &t, SIGNERS(1, 3), KULA_ERULE, "LEDGER §5.1", "all weights 0");
    static const int64_t nonmono[8] = { 0, 10, 20, 40, 30, 50, 5, 100 };
    t = agreement_open(&s, 1, "x", p123, 3, shapley(&raw, nonmono, 8), 0, 0);
    step(&s, &t, SIGNERS(1, 2, 3), KULA_ERULE, "LEDGER §5.1", "Shapley values not monotone");
    static const int64_t nonzero[4] = { 1, 10, 20, 40 };
    t = agreement_open(&s, 1, "x", p13, 2, shapley(&raw, nonzero, 4), 0, 0);
    step(&s, &t, SIGNERS(1, 3), KULA_ERULE, "LEDGER §5.1", "Shapley v(empty) is not 0");
    t = agreement_open(&s, 1, "x", p13, 2, rule_of(KULA_RULE_EQUAL, 0, NULL), 1, 0);
    step(&s, &t, SIGNERS(1, 3), KULA_ETERM, "LEDGER §5.2", "a term that ended before the block");
    t = agreement_open(&s, 1, "", p13, 2, rule_of(KULA_RULE_EQUAL, 0, NULL), 0, 0);
    step(&s, &t, SIGNERS(1, 3), KULA_ETEXT, "LEDGER §2.4, §5.2", "an empty label");
    t = agreement_open(&s, 1, "x", p1, 1, rule_of(KULA_RULE_EQUAL, 0, NULL), 0, 0);
    step(&s, &t, SIGNERS(1), KULA_ENOTPARTY, "LEDGER §5", "one party");

    /* amend: the equal agreement becomes weights 1:1:2 with a 10 % fee */
    t = tx_new(&s, KULA_TX_AGREEMENT_AMEND, 2);
    t.u.amend.agreement = a;
    t.u.amend.title = T("Joint venture, year 2");
    t.u.amend.rule = rule_of(KULA_RULE_WEIGHTS, 3, (const uint32_t[]){ 1, 1, 2 });
    t.u.amend.referral_fee_bps = 1000;
    kula_tx amend = t;
    step(&s, &t, SIGNERS(1, 2), KULA_ESIGNERS, "LEDGER §5.3", "party 3 did not sign");
    t = amend;
    t.nsigs = 0;
    t.u.amend.rule = rule_of(KULA_RULE_WEIGHTS, 2, (const uint32_t[]){ 1, 1 });
    step(&s, &t, SIGNERS(1, 2, 3), KULA_ERULE, "LEDGER §5.3", "the rule must fit the parties");
    t = amend;
    t.nsigs = 0;
    step(&s, &t, SIGNERS(1, 2, 3), 0, "LEDGER §5.3", "weights 1:1:2, fee 10 %");

    /* contributions and benefits */
    t = on_agreement(&s, KULA_TX_BENEFIT, 4, &p, 600, 0);
    step(&s, &t, SIGNERS(4), 0, "LEDGER §5.5", "a non-party pays 6.00 into the pro rata pool");
    t = on_agreement(&s, KULA_TX_SETTLE, 1, &p, 0, 0);
    step(&s, &t, SIGNERS(1), KULA_ENOCONTRIB, "LEDGER §5.1, §5.6", "pro rata with no contribution");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &p, 400, 1);
    step(&s, &t, SIGNERS(1), KULA_ESELF, "LEDGER §5.4", "acknowledged by the contributor");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &p, 400, 2);
    step(&s, &t, SIGNERS(1, 2), KULA_ENOTPARTY, "LEDGER §5.4", "acknowledged by a non-party");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &p, 0, 3);
    step(&s, &t, SIGNERS(1, 3), KULA_EAMOUNT, "LEDGER §5.4", "value 0");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &p, 400, 3);
    step(&s, &t, SIGNERS(1), KULA_ESIGNERS, "LEDGER §2.3, §5.4", "not acknowledged");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &p, 400, 3);
    step(&s, &t, SIGNERS(1, 3), 0, "LEDGER §5.4", "member 1 contributes 400, 3 acknowledges");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 3, &p, 200, 1);
    step(&s, &t, SIGNERS(1, 3), 0, "LEDGER §5.4", "member 3 contributes 200, 1 acknowledges");
    t = on_agreement(&s, KULA_TX_SETTLE, 4, &p, 0, 0);
    step(&s, &t, SIGNERS(4), KULA_ENOTPARTY, "LEDGER §5.6", "settled by a non-party");
    t = on_agreement(&s, KULA_TX_SETTLE, 3, &p, 0, 0);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §5.1, §5.6", "pro rata 400:200 of 6.00: 4.00 and 2.00");
    t = on_agreement(&s, KULA_TX_SETTLE, 3, &p, 0, 0);
    step(&s, &t, SIGNERS(3), KULA_EEMPTYPOOL, "LEDGER §5.6", "the pool is empty");
    t = on_agreement(&s, KULA_TX_BENEFIT, 4, &a, 1001, 0);
    step(&s, &t, SIGNERS(4), 0, "LEDGER §5.5", "10.01 into the amended agreement's pool");
    t = on_agreement(&s, KULA_TX_BENEFIT, 4, &a, 5000, 0);
    step(&s, &t, SIGNERS(4), KULA_ECREDIT, "LEDGER §3.2, §5.5", "beyond member 4's limit");
    t = on_agreement(&s, KULA_TX_BENEFIT, 4, &a, 0, 0);
    step(&s, &t, SIGNERS(4), KULA_EAMOUNT, "LEDGER §5.5", "amount 0");
    kula_hash none = hash_of("no such agreement");
    t = on_agreement(&s, KULA_TX_BENEFIT, 4, &none, 10, 0);
    step(&s, &t, SIGNERS(4), KULA_EUNKNOWNAGREEMENT, "LEDGER §5.5", "an agreement never opened");
    t = on_agreement(&s, KULA_TX_SETTLE, 2, &a, 0, 0);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §5.1, §5.6",
         "weights 1:1:2 of 10.01: 2.50, 2.50, 5.00 and the unit left over to party 3 "
         "(largest remainder)");
    t = on_agreement(&s, KULA_TX_BENEFIT, 2, &sh, 999, 0);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §5.5", "9.99 into the Shapley pool");
    t = on_agreement(&s, KULA_TX_SETTLE, 1, &sh, 0, 0);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §5.1, §5.6", "Shapley split of 9.99");

    /* referrals under the agreement's terms */
    t = referral(&s, 1, 2, "lead a", 0, &a);
    kula_hash ra = step(&s, &t, SIGNERS(1), 0, "LEDGER §4.3", "fee from the agreement's terms");
    t = referral(&s, 1, 2, "lead b", 0, &a);
    kula_hash rb = step(&s, &t, SIGNERS(1), 0, "LEDGER §4.3", "another, converted after the close");
    t = referral(&s, 1, 2, "lead c", 5, &a);
    step(&s, &t, SIGNERS(1), KULA_EAMOUNT, "LEDGER §4.3", "a stated fee and an agreement");
    t = referral(&s, 1, 4, "lead c", 0, &a);
    step(&s, &t, SIGNERS(1), KULA_ENOTPARTY, "LEDGER §4.3", "the receiver is not a party");
    t = referral(&s, 2, 4, "lead c", 0, &w);
    step(&s, &t, SIGNERS(2), KULA_ERULE, "LEDGER §4.3", "the agreement has no referral fee");
    t = referral(&s, 2, 4, "lead c", 0, &none);
    step(&s, &t, SIGNERS(2), KULA_EUNKNOWNAGREEMENT, "LEDGER §4.3", "no such agreement");
    t = conversion(&s, 2, &ra, 2005);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §4.4", "fee floor(2005 * 1000 / 10000) = 2.00");
    t = referral(&s, 1, 2, "lead e", 0, &a);
    kula_hash re = step(&s, &t, SIGNERS(1), 0, "LEDGER §4.3", "a lead that brings a small sale");
    t = conversion(&s, 2, &re, 9);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §4.4",
         "fee floor(9 * 1000 / 10000) = 0: no credit moves, the exchange counts");

    /* a term ends */
    uint64_t h = kula_ledger_height(s.l) + 1;
    t = agreement_open(&s, 1, "season", p13, 2, rule_of(KULA_RULE_EQUAL, 0, NULL), h + 1, 0);
    kula_hash tm = step(&s, &t, SIGNERS(1, 3), 0, "LEDGER §5.2", "a term ending at the next block");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &tm, 10, 3);
    step(&s, &t, SIGNERS(1, 3), 0, "LEDGER §5.4", "a contribution in the term's last block");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &tm, 10, 3);
    step(&s, &t, SIGNERS(1, 3), KULA_ETERM, "LEDGER §5.4", "a contribution after the term");
    t = on_agreement(&s, KULA_TX_BENEFIT, 4, &tm, 10, 0);
    step(&s, &t, SIGNERS(4), 0, "LEDGER §5.5", "a benefit after the term");

    /* close */
    t = on_agreement(&s, KULA_TX_AGREEMENT_CLOSE, 1, &tm, 0, 0);
    step(&s, &t, SIGNERS(1, 3), KULA_EPOOL, "LEDGER §5.7", "the pool is not empty");
    t = on_agreement(&s, KULA_TX_AGREEMENT_CLOSE, 1, &a, 0, 0);
    step(&s, &t, SIGNERS(1, 3), KULA_ESIGNERS, "LEDGER §5.7", "party 2 did not sign");
    t = on_agreement(&s, KULA_TX_AGREEMENT_CLOSE, 1, &a, 0, 0);
    step(&s, &t, SIGNERS(1, 2, 3), 0, "LEDGER §5.7", "closed with an empty pool");
    t = on_agreement(&s, KULA_TX_BENEFIT, 4, &a, 10, 0);
    step(&s, &t, SIGNERS(4), KULA_ECLOSED, "LEDGER §5.7", "a benefit to a closed agreement");
    t = on_agreement(&s, KULA_TX_CONTRIBUTE, 1, &a, 10, 2);
    step(&s, &t, SIGNERS(1, 2), KULA_ECLOSED, "LEDGER §5.7", "a contribution to it");
    t = referral(&s, 1, 2, "lead d", 0, &a);
    step(&s, &t, SIGNERS(1), KULA_ECLOSED, "LEDGER §4.3", "a referral under it");
    t = conversion(&s, 2, &rb, 1000);
    step(&s, &t, SIGNERS(2), KULA_ECLOSED, "LEDGER §4.4", "a conversion under its terms");
    t = on_agreement(&s, KULA_TX_AGREEMENT_CLOSE, 1, &a, 0, 0);
    step(&s, &t, SIGNERS(1, 2, 3), KULA_ECLOSED, "LEDGER §5.7", "closed twice");
    t = amend;
    t.nsigs = 0;
    t.nonce = tx_new(&s, KULA_TX_AGREEMENT_AMEND, 2).nonce;
    step(&s, &t, SIGNERS(1, 2, 3), KULA_ECLOSED, "LEDGER §5.3", "amending a closed agreement");
    kula_buf_free(&raw);
    scen_close(&s);
}

static void gen_governance(void)
{
    scen s;
    scen_open(&s, "governance.json", &G_FOUR, "Proposals, votes, every action, and the "
              "validator sets (four members, threshold 2/3)");
    kula_tx t = propose(&s, 1, admit(5, "Florist", 3000, 0));
    kula_hash q1 = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "admit key 5: 1 yes of 4");
    t = vote(&s, 2, &q1, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "2 yes of 4: 2 * 3 > 4 * 2 is false");
    t = vote(&s, 2, &q1, true);
    step(&s, &t, SIGNERS(2), KULA_EVOTED, "LEDGER §6.3", "member 2 votes again");
    t = vote(&s, 1, &q1, false);
    step(&s, &t, SIGNERS(1), KULA_EVOTED, "LEDGER §6.1, §6.3", "the proposer's vote is counted");
    t = vote(&s, 3, &q1, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.2, §6.4 admit", "3 yes of 4 pass: member 5 is admitted");
    t = vote(&s, 4, &q1, true);
    step(&s, &t, SIGNERS(4), KULA_EDECIDED, "LEDGER §6.3", "a vote on a passed proposal");
    kula_hash none = hash_of("no such proposal");
    t = vote(&s, 4, &none, true);
    step(&s, &t, SIGNERS(4), KULA_EUNKNOWNPROPOSAL, "LEDGER §6.3", "a proposal never made");
    t = transfer(&s, 5, 1, 3000);
    step(&s, &t, SIGNERS(5), 0, "LEDGER §6.4 admit", "the new member pays within its limit");

    /* actions that could not execute are refused when proposed */
    t = propose(&s, 1, admit(1, "Again", 0, 0));
    step(&s, &t, SIGNERS(1), KULA_EDUPKEY, "LEDGER §6.1, §6.4 admit", "a member's key");
    kula_action bad = admit(6, "Bad key", 0, 0);
    memset(bad.pubkey.b, 0xff, sizeof(bad.pubkey.b));
    t = propose(&s, 1, bad);
    step(&s, &t, SIGNERS(1), KULA_EBADKEY, "LEDGER §6.1, §6.4 admit", "not a curve point");
    t = propose(&s, 1, admit(6, "", 0, 0));
    step(&s, &t, SIGNERS(1), KULA_ETEXT, "LEDGER §6.1, §6.4 admit", "an empty name");
    t = propose(&s, 1, admit(6, "Big", INT64_MAX / 4 + 1, 0));
    step(&s, &t, SIGNERS(1), KULA_EAMOUNT, "LEDGER §6.1, §6.4 admit", "credit limit 2^61");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_PARAM, .param = KULA_PARAM_BLOCK_INTERVAL_MS,
                                      .value = 5 });
    step(&s, &t, SIGNERS(1), KULA_EPARAM, "LEDGER §6.1, §6.4 parameter", "below its bound");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_PARAM, .param = KULA_PARAM_THRESHOLD_NUM,
                                      .value = 1 });
    step(&s, &t, SIGNERS(1), KULA_EPARAM, "LEDGER §6.1, §6.4 parameter", "threshold 1/3 < 1/2");
    t = propose(&s, 1, admit(6, "Heavy", 0, (UINT64_C(1) << 48) + 1));
    step(&s, &t, SIGNERS(1), KULA_EPARAM, "LEDGER §6.1, §6.4 admit", "voting power 2^48 + 1");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_CREDIT_LIMIT, .member = 9,
                                      .credit_limit = 10 });
    step(&s, &t, SIGNERS(1), KULA_EUNKNOWNMEMBER, "LEDGER §6.1, §6.4 credit limit",
         "no such member");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_CREDIT_LIMIT, .member = 3,
                                      .credit_limit = -1 });
    step(&s, &t, SIGNERS(1), KULA_EAMOUNT, "LEDGER §6.1, §6.4 credit limit", "a negative limit");
    kula_action badkey = { .kind = KULA_ACT_ROTATE_KEY, .member = 3 };
    memset(badkey.pubkey.b, 0xff, sizeof(badkey.pubkey.b));
    t = propose(&s, 1, badkey);
    step(&s, &t, SIGNERS(1), KULA_EBADKEY, "LEDGER §6.1, §6.4 rotate key", "not a curve point");
    static const uint32_t p34[] = { 3, 4 };
    t = agreement_open(&s, 3, "delivery", p34, 2, rule_of(KULA_RULE_EQUAL, 0, NULL), 0, 0);
    kula_hash a34 = step(&s, &t, SIGNERS(3, 4), 0, "LEDGER §5.2", "an agreement with member 4");
    t = on_agreement(&s, KULA_TX_BENEFIT, 1, &a34, 100, 0);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §5.5", "1.00 into its pool");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_REMOVE, .member = 9 });
    step(&s, &t, SIGNERS(1), KULA_EUNKNOWNMEMBER, "LEDGER §6.1, §6.4 remove", "no such member");

    /* five members: 4 yes needed (4 * 3 > 5 * 2) */
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_REMOVE, .member = 4 });
    kula_hash q2 = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "remove member 4");
    t = vote(&s, 2, &q2, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "2 yes of 5");
    t = vote(&s, 3, &q2, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.3", "3 yes of 5: not yet");
    t = vote(&s, 5, &q2, true);
    step(&s, &t, SIGNERS(5), 0, "LEDGER §6.2, §6.4 remove", "4 yes of 5: member 4 is removed");
    t = transfer(&s, 4, 1, 10);
    step(&s, &t, SIGNERS(4), KULA_EINACTIVE, "LEDGER §2.1", "a removed member acts");
    t = transfer(&s, 1, 4, 10);
    step(&s, &t, SIGNERS(1), KULA_EINACTIVE, "LEDGER §4.1", "a payment to a removed member");
    t = exchange(&s, 1, 4, "bread", 10, "flyers", 10);
    step(&s, &t, SIGNERS(1, 4), KULA_EINACTIVE, "LEDGER §2.3", "a removed member signs");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_REMOVE, .member = 4 });
    step(&s, &t, SIGNERS(1), KULA_EINACTIVE, "LEDGER §6.1, §6.4 remove", "removed twice");
    t = on_agreement(&s, KULA_TX_SETTLE, 3, &a34, 0, 0);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §5.6", "the removed party 4 is paid its share");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_ROTATE_KEY, .member = 4, .pubkey = pk[9] });
    step(&s, &t, SIGNERS(1), KULA_EINACTIVE, "LEDGER §6.1, §6.4 rotate key",
         "a removed member's key");
    t = evidence(&s, 1, cvote(&s, 4, 4, KULA_VOTE_PRECOMMIT, 1, 0, "block A"),
                 cvote(&s, 4, 4, KULA_VOTE_PRECOMMIT, 1, 0, NULL));
    step(&s, &t, SIGNERS(1), 0, "LEDGER §7.5", "the offence of a removed member is recorded");

    /* four active members again: 3 yes needed */
    t = propose(&s, 2, (kula_action){ .kind = KULA_ACT_CREDIT_LIMIT, .member = 5,
                                      .credit_limit = 1000 });
    kula_hash q3 = step(&s, &t, SIGNERS(2), 0, "LEDGER §6.1", "lower member 5's limit to 10.00");
    t = vote(&s, 1, &q3, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q3, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.4 credit limit",
         "passes: member 5 is below its new limit");
    t = transfer(&s, 5, 1, 1);
    step(&s, &t, SIGNERS(5), KULA_ECREDIT, "LEDGER §6.4 credit limit", "so it cannot pay");
    t = propose(&s, 3, (kula_action){ .kind = KULA_ACT_PARAM, .param = KULA_PARAM_MAX_BLOCK_TXS,
                                      .value = 200 });
    kula_hash q4 = step(&s, &t, SIGNERS(3), 0, "LEDGER §6.1", "max_block_txs 200");
    t = vote(&s, 1, &q4, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 2, &q4, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.4 parameter", "passes");

    t = propose(&s, 2, (kula_action){ .kind = KULA_ACT_ROTATE_KEY, .member = 2, .pubkey = pk[7] });
    kula_hash q5 = step(&s, &t, SIGNERS(2), 0, "LEDGER §6.1", "rotate member 2 to key 7");
    t = vote(&s, 1, &q5, false);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.2", "1 yes 1 no of 4: still possible");
    t = vote(&s, 3, &q5, false);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.2",
         "1 yes 2 no: (1 + 1) * 3 <= 4 * 2, rejected at once");
    t = vote(&s, 5, &q5, true);
    step(&s, &t, SIGNERS(5), KULA_EDECIDED, "LEDGER §6.3", "a vote on a rejected proposal");

    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_CREDIT_LIMIT, .member = 3,
                                      .credit_limit = 20000 });
    kula_hash q6 = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "a proposal left to expire");
    for (int i = 0; i < 5; i++)
        empty_block(&s, "an empty block: the proposal waits");
    t = vote(&s, 2, &q6, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "a vote at its expiry height");
    t = vote(&s, 3, &q6, true);
    step(&s, &t, SIGNERS(3), KULA_EEXPIRED, "LEDGER §6.3", "a vote after its expiry height");

    t = propose(&s, 2, (kula_action){ .kind = KULA_ACT_ROTATE_KEY, .member = 2, .pubkey = pk[7] });
    kula_hash q7 = step(&s, &t, SIGNERS(2), 0, "LEDGER §6.1", "rotate member 2 to key 7 again");
    t = vote(&s, 1, &q7, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q7, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.4 rotate key", "passes: member 2 signs with key 7");
    t = transfer(&s, 2, 1, 10);
    step(&s, &t, SIGNERS(BY(2, 2)), KULA_EBADSIG, "LEDGER §2.3, §6.4 rotate key",
         "the old key signs nothing more");
    s.key[2] = 7;
    t = transfer(&s, 2, 1, 10);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.4 rotate key", "the new key signs");
    t = propose(&s, 1, admit(2, "Old key", 0, 0));
    step(&s, &t, SIGNERS(1), KULA_EDUPKEY, "LEDGER §6.4 rotate key", "the old key stays bound");

    /* two proposals to admit one key: the second passes and fails */
    t = propose(&s, 1, admit(8, "Caterer", 1000, 3));
    kula_hash q8 = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "admit key 8 as a validator");
    t = propose(&s, 3, admit(8, "Caterer too", 1000, 0));
    kula_hash q9 = step(&s, &t, SIGNERS(3), 0, "LEDGER §6.1", "admit key 8 again, while open");
    t = vote(&s, 2, &q8, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q8, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.4 admit, §7.3",
         "passes: member 6 joins the live validator set, next at the block's end");
    empty_block(&s, "last becomes the old next (LEDGER §7.3)");
    t = vote(&s, 1, &q9, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "2 yes of 5");
    t = vote(&s, 2, &q9, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "3 yes of 5");
    t = vote(&s, 5, &q9, true);
    step(&s, &t, SIGNERS(5), 0, "LEDGER §6.2",
         "4 yes of 5: passes, but the key is taken: the proposal fails, the vote counts");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_REMOVE, .member = 6 });
    kula_hash q10 = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "remove validator 6");
    for (uint32_t m = 2; m <= 5; m++) {
        if (m == 4)
            continue;
        t = vote(&s, m, &q10, true);
        step(&s, &t, SIGNERS(m), 0, m == 5 ? "LEDGER §6.4 remove, §7.3" : "LEDGER §6.3",
             m == 5 ? "passes: member 6 leaves the validator sets" : "a yes vote");
    }
    empty_block(&s, "last becomes the old next (LEDGER §7.3)");
    scen_close(&s);
}

static void gen_solo(void)
{
    scen s;
    scen_open(&s, "solo.json", &G_SOLO, "One validator of two members: the last validator");
    kula_tx t = propose(&s, 2, (kula_action){ .kind = KULA_ACT_REMOVE, .member = 1 });
    step(&s, &t, SIGNERS(2), KULA_ELASTVALIDATOR, "LEDGER §6.1, §6.4 remove",
         "removing the only validator");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_REMOVE, .member = 2 });
    kula_hash q = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "remove member 2: 1 yes of 2");
    t = vote(&s, 2, &q, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.2, §6.4 remove", "2 yes of 2: member 2 is removed");
    t = propose(&s, 1, admit(3, "Newcomer", 100, 2));
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.2, §6.4 admit, §7.3",
         "alone, member 1's proposal passes at once; member 3 joins as a validator");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_REMOVE, .member = 1 });
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.4 remove, §7.3",
         "with two validators member 1 may leave: 1 yes of 2 active, not yet passed");
    scen_close(&s);
}

static void gen_evidence(void)
{
    scen s;
    scen_open(&s, "evidence.json", &G_FOUR, "Evidence of equivocation");
    kula_tx t = transfer(&s, 1, 2, 10);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §4.1", "block 1");
    const uint8_t PC = KULA_VOTE_PRECOMMIT, PV = KULA_VOTE_PREVOTE;
    t = evidence(&s, 4, cvote(&s, 1, 1, PC, 1, 0, "block A"), cvote(&s, 1, 1, PC, 1, 0, NULL));
    step(&s, &t, SIGNERS(4), 0, "LEDGER §7.5", "precommits for a block and for nil");
    t = evidence(&s, 2, cvote(&s, 1, 1, PC, 1, 0, "block A"), cvote(&s, 1, 1, PC, 1, 0, "block B"));
    step(&s, &t, SIGNERS(2), KULA_EEXIST, "LEDGER §7.5", "the same offence, another pair");
    t = evidence(&s, 2, cvote(&s, 1, 1, PV, 1, 0, "block A"), cvote(&s, 1, 1, PV, 1, 1, "block B"));
    step(&s, &t, SIGNERS(2), KULA_EEVIDENCE, "LEDGER §7.5", "two rounds");
    t = evidence(&s, 2, cvote(&s, 1, 1, PV, 1, 0, "block A"), cvote(&s, 3, 3, PV, 1, 0, "block B"));
    step(&s, &t, SIGNERS(2), KULA_EEVIDENCE, "LEDGER §7.5", "two validators");
    t = evidence(&s, 2, cvote(&s, 1, 1, PV, 1, 0, "block A"), cvote(&s, 1, 1, PC, 1, 0, "block B"));
    step(&s, &t, SIGNERS(2), KULA_EEVIDENCE, "LEDGER §7.5", "a prevote and a precommit");
    t = evidence(&s, 2, cvote(&s, 1, 1, PV, 1, 0, "block A"), cvote(&s, 1, 2, PV, 1, 0, "block A"));
    step(&s, &t, SIGNERS(2), KULA_EEVIDENCE, "LEDGER §7.5",
         "one block, signed with two keys: not two blocks");
    t = evidence(&s, 2, cvote(&s, 1, 1, PV, 4, 0, "block A"), cvote(&s, 1, 1, PV, 4, 0, "block B"));
    step(&s, &t, SIGNERS(2), KULA_EHEIGHT, "LEDGER §7.5", "votes of height 4 in block 3");
    t = evidence(&s, 2, cvote(&s, 9, 5, PV, 1, 0, "block A"), cvote(&s, 9, 5, PV, 1, 0, "block B"));
    step(&s, &t, SIGNERS(2), KULA_EUNKNOWNMEMBER, "LEDGER §7.5", "a validator that does not exist");
    t = evidence(&s, 2, cvote(&s, 3, 1, PV, 1, 0, "block A"), cvote(&s, 3, 1, PV, 1, 0, "block B"));
    step(&s, &t, SIGNERS(2), KULA_EBADSIG, "LEDGER §7.5", "votes of 3 signed with member 1's key");
    t = evidence(&s, 2, cvote(&s, 3, 3, PV, 3, 1, "block A"), cvote(&s, 3, 3, PV, 3, 1, "block B"));
    step(&s, &t, SIGNERS(2), 0, "LEDGER §7.5", "prevotes of height 3, round 1, in block 3");
    scen_close(&s);
}

/* Observers admitted and removed by governance (LEDGER §6.4): every
 * refusal, the "O" record in ascending key order, a removal that fails when
 * it passes, and the record deleted with the last observer. */
static void gen_observers(void)
{
    const uint8_t ADM = KULA_ACT_ADMIT_OBSERVER, RM = KULA_ACT_REMOVE_OBSERVER;
    const char *rule = "LEDGER §6.1, §6.4 admit observer";
    scen s;
    scen_open(&s, "observers.json", &G_FOUR, "Observers admitted and removed by governance");
    kula_tx t = propose(&s, 1, observer(ADM, 6, "Audit Co"));
    kula_hash q1 = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "admit key 6 as an observer");
    t = propose(&s, 1, observer(ADM, 2, "A member"));
    step(&s, &t, SIGNERS(1), KULA_EOBSERVERMEMBER, rule, "a member's key");
    kula_action bad = observer(ADM, 7, "Bad key");
    memset(bad.pubkey.b, 0xff, sizeof(bad.pubkey.b));
    t = propose(&s, 1, bad);
    step(&s, &t, SIGNERS(1), KULA_EBADKEY, rule, "not a curve point");
    t = propose(&s, 1, observer(ADM, 7, ""));
    step(&s, &t, SIGNERS(1), KULA_ETEXT, rule, "an empty name");
    t = propose(&s, 1, observer(RM, 6, ""));
    step(&s, &t, SIGNERS(1), KULA_EUNKNOWNOBSERVER, "LEDGER §6.1, §6.4 remove observer",
         "not an observer yet");
    t = vote(&s, 2, &q1, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q1, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.2, §6.4 admit observer",
         "3 yes of 4 pass: the record \"O\" holds key 6");
    t = propose(&s, 1, observer(ADM, 6, "Again"));
    step(&s, &t, SIGNERS(1), KULA_EDUPOBSERVER, rule, "the same key again");
    t = propose(&s, 1, observer(ADM, 7, "Audit Co"));
    step(&s, &t, SIGNERS(1), KULA_EOBSERVERNAME, rule, "another key, the same name");
    t = propose(&s, 1, admit(6, "Observer as member", 0, 0));
    step(&s, &t, SIGNERS(1), KULA_EDUPOBSERVER, "LEDGER §6.1, §6.4 admit", "an observer's key");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_ROTATE_KEY, .member = 2, .pubkey = pk[6] });
    step(&s, &t, SIGNERS(1), KULA_EDUPOBSERVER, "LEDGER §6.1, §6.4 rotate key",
         "an observer's key");

    t = propose(&s, 2, observer(ADM, 7, "Second auditor"));
    kula_hash q2 = step(&s, &t, SIGNERS(2), 0, "LEDGER §6.1", "admit key 7 as an observer");
    t = vote(&s, 1, &q2, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 4, &q2, true);
    step(&s, &t, SIGNERS(4), 0, "LEDGER §6.4 admit observer",
         "passes: two observers, in ascending key order");

    /* two removals of key 6 open at once: the second fails when it passes */
    t = propose(&s, 1, observer(RM, 6, ""));
    kula_hash q3 = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "remove the observer with key 6");
    t = propose(&s, 2, observer(RM, 6, ""));
    kula_hash q4 = step(&s, &t, SIGNERS(2), 0, "LEDGER §6.1", "and again, while open");
    t = vote(&s, 2, &q3, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q3, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.4 remove observer", "passes: key 6 is removed");
    t = vote(&s, 1, &q4, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q4, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.2, §6.4 remove observer",
         "passes and fails: EUNKNOWNOBSERVER recorded");
    t = propose(&s, 3, observer(RM, 7, ""));
    kula_hash q5 = step(&s, &t, SIGNERS(3), 0, "LEDGER §6.1", "remove the last observer");
    t = vote(&s, 1, &q5, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 2, &q5, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.4 remove observer",
         "passes: the record \"O\" is deleted");
    t = propose(&s, 1, admit(6, "Former observer", 100, 0));
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.4 remove observer",
         "a removed observer's key may become a member's");
    scen_close(&s);
}

/* Settlement of the remainder at a clearing (LEDGER §9.6): an open chain
 * Printer (4) -> Agency (2) -> Logistics (3), no cycle, so nothing is set
 * off; both debtors opted in; the clearing pays Agency's 25.00 in full and
 * 50.00 of Printer's 60.00, its credit limit. */
static kula_tx settle_opt(scen *s, uint32_t from, bool on)
{
    kula_tx tx = tx_new(s, KULA_TX_CLEARING_SETTLE, from);
    tx.u.csettle.on = on;
    return tx;
}

static kula_hash bill(scen *s, uint32_t issuer, uint32_t debtor, int64_t amount, const char *ref,
                      bool accept)
{
    kula_tx t = tx_new(s, KULA_TX_INVOICE, issuer);
    t.u.invoice.debtor = debtor;
    t.u.invoice.amount = amount;
    t.u.invoice.reference = T(ref);
    char what[96];
    snprintf(what, sizeof(what), "member %u bills member %u %lld.%02lld", issuer, debtor,
             (long long)(amount / 100), (long long)(amount % 100));
    kula_hash id = step(s, &t, SIGNERS(issuer), 0, "LEDGER §8.1", what);
    if (accept) {
        t = tx_new(s, KULA_TX_INVOICE_ACCEPT, debtor);
        t.u.inv.invoice = id;
        step(s, &t, SIGNERS(debtor), 0, "LEDGER §8.2", "accepted: an obligation");
    }
    return id;
}

static void gen_settle(void)
{
    scen s;
    scen_open(&s, "settle.json", &G_FOUR,
              "Settlement of the remainder at a clearing: opting in and out, and a clearing "
              "that sets off nothing but pays what opted-in members owe, within their credit "
              "limits (§9.6)");
    const char *rule = "LEDGER §9.6";
    bill(&s, 2, 4, 6000, "S-1", true);
    bill(&s, 3, 2, 2500, "S-2", true);
    bill(&s, 1, 4, 1000, "S-3", false);
    kula_tx t = settle_opt(&s, 4, false);
    step(&s, &t, SIGNERS(4), KULA_ENOTSETTLES, rule, "member 4 opts out while not in");
    t = settle_opt(&s, 4, true);
    step(&s, &t, SIGNERS(4), 0, rule, "member 4 opts in: \"S\" || be32(4)");
    t = settle_opt(&s, 4, true);
    step(&s, &t, SIGNERS(4), KULA_ESETTLES, rule, "member 4 opts in again");
    t = settle_opt(&s, 2, true);
    step(&s, &t, SIGNERS(2), 0, rule, "member 2 opts in");
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_CLEAR });
    kula_hash q = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "member 1 proposes a clearing");
    t = vote(&s, 2, &q, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.4 clear, §9.1-§9.6",
         "passes: clearing 1 sets off nothing; member 2 pays its 25.00 to member 3, member 4 "
         "pays 50.00 of its 60.00 to member 2 (its credit limit); the unaccepted 10.00 waits");
    kula_settlement z = { 0 };
    if (kula_ledger_settlement(s.l, 1, &z) != 0 || z.n != 2 || z.items[0].debtor != 2 ||
        z.items[0].amount != 2500 || z.items[1].debtor != 4 || z.items[1].amount != 5000)
        die("%s: the clearing did not pay 25.00 and 50.00", s.file);
    kula_settlement_free(&z);
    t = settle_opt(&s, 4, false);
    step(&s, &t, SIGNERS(4), 0, rule, "member 4 opts out: its record is deleted");
    empty_block(&s, "an empty block");
    scen_close(&s);
}

/* Snapshot heights (SPEC §10.3): with snapshot_interval_blocks 2, every
 * even block's root folds the whole state and both validator sets with
 * their keys; a validator admitted, a key rotated and the interval moved
 * by governance change what they hold, and a refused transaction at a
 * snapshot height leaves the root as it was. */
static void gen_snapshot(void)
{
    const char *rule = "SPEC §10.3";
    scen s;
    scen_open(&s, "snapshot.json", &G_FOUR_SNAP,
              "Snapshot heights: the whole state and the validator sets in the root");
    kula_tx t = transfer(&s, 1, 2, 10);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §4.1", "block 1: not a snapshot height");
    t = transfer(&s, 2, 3, 5);
    step(&s, &t, SIGNERS(2), 0, rule, "block 2: a snapshot height");
    t = transfer(&s, 4, 1, 50000);
    step(&s, &t, SIGNERS(4), KULA_ECREDIT, rule,
         "refused at block 3: the root before it stays");
    empty_block(&s, "block 3, empty");
    empty_block(&s, "block 4, empty: a snapshot height over an empty diff");
    empty_block(&s, "block 5, empty");
    t = propose(&s, 1, admit(5, "Caterer", 1000, 4));
    kula_hash q = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "admit key 5 as a validator");
    t = vote(&s, 2, &q, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "2 yes of 4");
    t = vote(&s, 3, &q, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.4 admit, §7.3, SPEC §10.3",
         "block 8 passes it, a snapshot height: last without member 5, next with it");
    empty_block(&s, "block 9");
    empty_block(&s, "block 10: a snapshot height; both sets with member 5");
    t = propose(&s, 3, (kula_action){ .kind = KULA_ACT_ROTATE_KEY, .member = 3, .pubkey = pk[6] });
    q = step(&s, &t, SIGNERS(3), 0, "LEDGER §6.1", "rotate validator 3 to key 6");
    t = vote(&s, 1, &q, true);
    step(&s, &t, SIGNERS(1), 0, "LEDGER §6.3", "block 12: 2 yes of 5");
    t = vote(&s, 2, &q, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "3 yes of 5");
    t = vote(&s, 5, &q, true);
    step(&s, &t, SIGNERS(5), 0, "LEDGER §6.4 rotate key, SPEC §10.3",
         "block 14 passes it: both sets list member 3 with key 6");
    s.key[3] = 6;
    t = propose(&s, 1, (kula_action){ .kind = KULA_ACT_PARAM, .param = KULA_PARAM_SNAPSHOT_INTERVAL,
                                      .value = 3 });
    q = step(&s, &t, SIGNERS(1), 0, "LEDGER §6.1", "snapshot_interval_blocks 3");
    t = vote(&s, 2, &q, true);
    step(&s, &t, SIGNERS(2), 0, "LEDGER §6.3", "block 16: 2 yes of 5");
    t = vote(&s, 3, &q, true);
    step(&s, &t, SIGNERS(3), 0, "LEDGER §6.3", "3 yes of 5");
    empty_block(&s, "block 18: a snapshot height (the interval is still 2)");
    t = vote(&s, 5, &q, true);
    step(&s, &t, SIGNERS(5), 0, "LEDGER §6.4 param, SPEC §10.3",
         "block 19 passes it: the interval is 3 from the block's end; 19 is no snapshot height");
    empty_block(&s, "block 20: not a snapshot height any more");
    empty_block(&s, "block 21: a snapshot height (3 divides it)");
    scen_close(&s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_ledger_vectors OUT-DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (kula_crypto_init() != 0)
        die("crypto init");
    vecgen_keys(sk, pk, NKEYS, "kula ledger vector key");
    gen_transfer();
    gen_dated();
    gen_exchange();
    gen_referral();
    gen_agreement();
    gen_governance();
    gen_solo();
    gen_evidence();
    gen_invoice();
    gen_observers();
    gen_settle();
    gen_snapshot();
    return 0;
}
