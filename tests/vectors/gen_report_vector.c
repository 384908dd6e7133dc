/* gen_report_vector.c -- writes proto/vectors/audit_report.json: two signed
 * audit reports (proto/SPEC.md §13), one of a ledger that passed and one of
 * a ledger that failed (its error text pins the escaping of quotes and of
 * non-ASCII), signed with the secret key of BIP-340 test vector 1 and
 * auxiliary randomness of 32 zero bytes, so the signatures are reproducible.
 *
 * Usage: gen_report_vector FILE   (ctest vectors_report_regen writes it again
 * and fails on any difference from the committed file) */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/audit/report.h"
#include "kula/crypto/crypto.h"
#include "kula/types/genesis.h"

static void hexset(json_t *o, const char *key, const uint8_t *b, size_t n)
{
    char s[2 * 64 + 1];
    kula_hex_encode(s, b, n);
    json_object_set_new(o, key, json_string(s));
}

static void need(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "gen_report_vector: %s\n", what);
        exit(1);
    }
}

static json_t *vector(const char *name, const kula_report *rep, const kula_seckey *sk)
{
    static const uint8_t aux[32] = { 0 };
    char *file = NULL, *doc = NULL;
    kula_error err;
    kula_hash digest;
    need(kula_report_sign(&file, rep, sk, aux) == 0, "sign");
    need(kula_report_digest(&doc, &digest, rep) == 0, "digest");
    kula_report back;
    need(kula_report_verify(&back, file, strlen(file), &err) == 0, err.what);
    json_t *v = json_object();
    json_object_set_new(v, "name", json_string(name));
    json_object_set_new(v, "unsigned_document", json_string(doc));
    hexset(v, "digest", digest.b, KULA_HASH_LEN);
    json_object_set_new(v, "file", json_string(file));
    free(file);
    free(doc);
    return v;
}

int main(int argc, char **argv)
{
    need(argc == 2, "usage: gen_report_vector FILE");
    need(kula_crypto_init() == 0, "crypto init");
    kula_seckey sk;
    kula_pubkey pk;
    need(kula_hex_decode(sk.b, 32, "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef") == 0, "key");
    need(kula_key_public(&pk, &sk) == 0, "public key");
    kula_report rep;
    memset(&rep, 0, sizeof(rep));
    snprintf(rep.network, sizeof(rep.network), "kula-devnet");
    need(kula_hex_decode(rep.chain_id.b, 32, "f2a61e22c3da52027b5f15b2f9cf4c8737388d52d38734483d3061b5b70e8e63") == 0, "chain");
    need(kula_hex_decode(rep.tip_hash.b, 32, "482db2e5673396538b26a9dae6517f4b27c08aef862764e11b8d6bea0a67eb4f") == 0, "tip");
    need(kula_hex_decode(rep.state_root.b, 32, "2fbb4ef3ab868d979888e46ffa4ec715fbb9a8de68b2263176822f19929f3135") == 0, "root");
    rep.ok = true;
    rep.tip_height = 4;
    rep.blocks = 4;
    rep.txs = 2;
    rep.tx_signatures = 2;
    rep.commit_signatures = 4;
    need(kula_parse_utc("2026-12-05T06:16:17Z", &rep.time_ms) == 0, "time");
    rep.auditor = pk;
    json_t *root = json_object(), *valid = json_array();
    json_object_set_new(root, "description",
                        json_string("Signed audit reports (proto/SPEC.md section 13): each "
                                    "'file' is a report file byte for byte; 'unsigned_document' "
                                    "the canonical document without the signature and 'digest' "
                                    "what the signature signs. Written by "
                                    "tests/vectors/gen_report_vector.c."));
    json_object_set_new(root, "key_source", json_string("BIP-340 test vector 1 (secret key)"));
    hexset(root, "secret_key", sk.b, 32);
    hexset(root, "public_key", pk.b, 32);
    json_object_set_new(root, "aux_rand", json_string("0000000000000000000000000000000000000000000000000000000000000000"));
    json_array_append_new(valid, vector("a ledger that passed", &rep, &sk));
    rep.ok = false;
    rep.failed = true;
    rep.tip_height = 2;
    rep.blocks = 2;
    rep.txs = 1;
    rep.tx_signatures = 1;
    rep.commit_signatures = 2;
    rep.failed_height = 3;
    snprintf(rep.failed_check, sizeof(rep.failed_check), "state_root");
    snprintf(rep.error, sizeof(rep.error), "state root does not match the replay (\"caf\xc3\xa9\")");
    json_array_append_new(valid, vector("a ledger that failed at height 3", &rep, &sk));
    json_object_set_new(root, "valid", valid);
    need(json_dump_file(root, argv[1], JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0, "write");
    json_decref(root);
    FILE *f = fopen(argv[1], "a");
    need(f != NULL && fputc('\n', f) != EOF && fclose(f) == 0, "write");
    return 0;
}
