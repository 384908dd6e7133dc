/* crypto_testing.h -- BIP-340 over messages of any length, for the BIP-340
 * test vectors (Kula signs only 32-byte digests).  Not part of the public API
 * (include/kula/) */
#ifndef KULA_CRYPTO_TESTING_H
#define KULA_CRYPTO_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/crypto/crypto.h"

/* BIP-340 verification of a message of any length (test vectors only). */
bool kula_verify_msg(const kula_pubkey *pk, const uint8_t *msg, size_t len,
                     const kula_sig *sig);
/* The verifications this process has made (all threads): for tests that a
 * check was skipped. */
uint64_t kula_verify_count(void);
/* kula_keypair_sign with caller-chosen auxiliary data (test vectors). */
KULA_MUST_CHECK
int kula_keypair_sign_aux(kula_sig *sig, const kula_keypair *kp, const uint8_t msg[32],
                          const uint8_t aux[32]);

#endif /* KULA_CRYPTO_TESTING_H */
