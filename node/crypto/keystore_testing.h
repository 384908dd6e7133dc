/* keystore_testing.h -- sealing with a chosen salt and nonce, for the keystore
 * tests and vectors.  Not part of the public API (include/kula/) */
#ifndef KULA_KEYSTORE_TESTING_H
#define KULA_KEYSTORE_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "kula/crypto/keystore.h"

/* As kula_keystore_seal, with a caller-chosen salt and nonce.  For test
 * vectors only: reusing a salt and nonce with the same passphrase reuses the
 * XChaCha20 keystream. */
int kula_keystore_seal_with(kula_buf *out, const kula_seckey *sk, const char *label,
                            const char *pass, size_t passlen,
                            const kula_keystore_params *params,
                            const uint8_t salt[KULA_KEYSTORE_SALT_LEN],
                            const uint8_t nonce[KULA_KEYSTORE_NONCE_LEN]);

#endif /* KULA_KEYSTORE_TESTING_H */
