/* genesis.h -- the genesis of a network: GENESIS.json and its canonical form.
 *
 * The chain id is BLAKE2b-256 of the canonical encoding of the genesis
 * content (proto/SPEC.md §8).  The JSON file is what operators write; the
 * canonical msgpack form is what is hashed.  Members are numbered 1..n in the
 * order the file lists them; those ids are permanent. */
#ifndef KULA_GENESIS_H
#define KULA_GENESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

/* Network parameters: set in genesis, changed later by governance. */
typedef struct kula_params {
    int64_t default_credit_limit; /* minor units, >= 0 */
    uint32_t threshold_num;       /* a proposal passes when yes * den > */
    uint32_t threshold_den;       /*   active members * num              */
    uint64_t proposal_ttl;        /* blocks a proposal stays open */
    uint32_t block_interval_ms;   /* target time between blocks */
    uint32_t timeout_propose_ms;  /* consensus round timeouts ... */
    uint32_t timeout_vote_ms;
    uint32_t timeout_delta_ms;    /* ... growing by delta each round */
    uint32_t max_block_txs;
    uint64_t clearing_interval;   /* blocks between clearings; 0: on demand only */
    uint64_t snapshot_interval;   /* blocks between snapshot roots (SPEC §10.3); 0: none */
} kula_params;

/* Out: e (may be NULL), on failure which parameter is out of its range.
 * Returns: 0 or KULA_EPARAM. */
KULA_MUST_CHECK
int kula_params_validate(const kula_params *p, kula_error *e);
/* Reads parameter `id` (enum kula_param_id) as an int64.  Returns 0 or KULA_EPARAM. */
KULA_MUST_CHECK
int kula_params_get(const kula_params *p, uint32_t id, int64_t *value);
/* Sets parameter `id` after range checks.  Returns 0 or KULA_EPARAM (p unchanged). */
KULA_MUST_CHECK
int kula_params_set(kula_params *p, uint32_t id, int64_t value);
/* Sets every parameter from vals[0..KULA_PARAM_COUNT) (in id order), with
 * all range checks.  Returns: 0 or KULA_EPARAM (p unchanged). */
KULA_MUST_CHECK
int kula_params_assign(kula_params *p, const int64_t *vals);
/* Returns: how many parameters the canonical encodings hold (SPEC §8.1):
 * KULA_PARAM_COUNT_BASE, plus those after it up to the last that is not 0. */
uint32_t kula_params_encoded_count(const kula_params *p);
/* Returns: the JSON/CLI name of parameter id, or NULL. */
const char *kula_param_name(uint32_t id);

typedef struct kula_genesis_member {
    kula_pubkey pubkey;
    char name[KULA_MAX_NAME + 1];
    char sector[KULA_MAX_NAME + 1];
    int64_t credit_limit;
    uint64_t voting_power; /* > 0 makes the member a validator */
} kula_genesis_member;

typedef struct kula_genesis {
    char network[KULA_MAX_NETWORK_NAME + 1];
    char unit[KULA_MAX_UNIT_NAME + 1];
    uint32_t decimals;
    uint64_t time_ms;
    kula_params params;
    uint32_t nmembers;
    kula_genesis_member *members;   /* owned; member id i+1 is members[i] */
    /* A published development key, from the file's "development_only"
     * section.  Never part of the canonical genesis or the chain id. */
    bool has_dev_key;
    kula_seckey dev_key;
    kula_hash chain_id;
} kula_genesis;

/* Parses and validates GENESIS.json text, then computes the chain id.
 * Out: g (free with kula_genesis_free); e (may be NULL), on failure one line
 *      naming the field (e.g. "members[1].pubkey: not a valid BIP-340 public
 *      key").
 * Returns: 0 or KULA_EGENESIS (KULA_ENOMEM). */
KULA_MUST_CHECK
int kula_genesis_parse_json(kula_genesis *g, const char *text, size_t len, kula_error *e);
/* As kula_genesis_parse_json, reading the file at path (at most 16 MiB). */
KULA_MUST_CHECK
int kula_genesis_load(kula_genesis *g, const char *path, kula_error *e);
/* Appends the canonical encoding. */
KULA_MUST_CHECK
int kula_genesis_encode(kula_buf *out, const kula_genesis *g);
/* Decodes and validates a canonical genesis (as stored by the node). */
KULA_MUST_CHECK
int kula_genesis_decode(kula_genesis *g, const uint8_t *data, size_t len);
/* Writes g as GENESIS.json text (without any development key). Caller frees. */
char *kula_genesis_to_json(const kula_genesis *g);
/* Validates a structurally complete genesis (also after decode).
 * Out: e (may be NULL), on failure one line naming the field.
 * Returns: 0 or KULA_EGENESIS (KULA_ENOMEM). */
KULA_MUST_CHECK
int kula_genesis_validate(const kula_genesis *g, kula_error *e);
void kula_genesis_free(kula_genesis *g);

/* Parses "YYYY-MM-DDTHH:MM:SSZ" (UTC) into ms since the epoch.
 * Returns: 0 or KULA_EINVAL. */
KULA_MUST_CHECK
int kula_parse_utc(const char *s, uint64_t *ms);
/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (buf >= 21 bytes). */
void kula_format_utc(char *buf, size_t len, uint64_t ms);

#endif /* KULA_GENESIS_H */
