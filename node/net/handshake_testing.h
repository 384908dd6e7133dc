/* handshake_testing.h -- a handshake with fixed inputs, for the handshake
 * vector (proto/SPEC.md §11.6), its generator and the fuzz target.  Not part
 * of the public API (include/kula/): no node may use it */
#ifndef KULA_HANDSHAKE_TESTING_H
#define KULA_HANDSHAKE_TESTING_H

#include "kula/net/handshake.h"

/* Fixed inputs for test vectors.  Never use outside tests: a handshake
 * whose ephemeral key, nonce and header repeat is not fresh. */
typedef struct kula_hs_fixed {
    uint8_t kx_seed[32];                  /* crypto_kx_seed_keypair seed */
    uint8_t nonce[KULA_HS_NONCE_LEN];
    uint8_t header[KULA_HS_HEADER_LEN];   /* this side's secretstream header */
} kula_hs_fixed;

/* As kula_hs_new, with the ephemeral key pair, nonce and secretstream header
 * taken from fixed, and AUTH signed with 32 zero bytes of auxiliary
 * randomness (§3.3), so the whole exchange is reproducible (§11.6). */
int kula_hs_new_fixed(kula_hs **hs, enum kula_hs_role role, const kula_hash *chain_id,
                      const kula_seckey *sk, kula_hs_policy_fn policy, void *policy_ctx,
                      const kula_hs_fixed *fixed);

#endif /* KULA_HANDSHAKE_TESTING_H */
