/* crypto.h -- hashing (BLAKE2b-256) and BIP-340 Schnorr keys and signatures.
 *
 * Call kula_crypto_init() once before anything else in this header; it is
 * idempotent and thread safe.  After it, every function here may be called
 * from any thread. */
#ifndef KULA_CRYPTO_H
#define KULA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"

#define KULA_HASH_LEN 32
#define KULA_PUBKEY_LEN 32 /* BIP-340 x-only public key */
#define KULA_SECKEY_LEN 32
#define KULA_SIG_LEN 64
#define KULA_TAG_LEN 16    /* domain tags are exactly 16 bytes, NUL padded */

typedef struct kula_hash { uint8_t b[KULA_HASH_LEN]; } kula_hash;
typedef struct kula_pubkey { uint8_t b[KULA_PUBKEY_LEN]; } kula_pubkey;
typedef struct kula_seckey { uint8_t b[KULA_SECKEY_LEN]; } kula_seckey;
typedef struct kula_sig { uint8_t b[KULA_SIG_LEN]; } kula_sig;

/* Returns: 0, or KULA_ECRYPTO if libsodium or libsecp256k1 cannot start. */
KULA_MUST_CHECK
int kula_crypto_init(void);

/* Out: out = BLAKE2b-256(data). */
void kula_hash_bytes(kula_hash *out, const void *data, size_t len);

/* The keyed 64-bit hash (SipHash-2-4) of len bytes, for hash tables whose
 * keys come from others: with a key drawn at random for the table, they
 * cannot choose keys that collide.  Not a digest: never stored or sent. */
#define KULA_TABLE_KEY_LEN 16
uint64_t kula_table_hash(const unsigned char key[KULA_TABLE_KEY_LEN], const void *data,
                         size_t len);
/* Out: key, drawn at random. */
void kula_table_key(unsigned char key[KULA_TABLE_KEY_LEN]);

/* Incremental BLAKE2b-256. */
typedef struct kula_hasher { _Alignas(64) unsigned char state[384]; } kula_hasher;
void kula_hasher_init(kula_hasher *h);
void kula_hasher_update(kula_hasher *h, const void *data, size_t len);
void kula_hasher_final(kula_hasher *h, kula_hash *out);

/* The digest every Kula signature signs (proto/SPEC.md §3):
 *   BLAKE2b-256(tag || chain_id || bytes)
 * In: tag, exactly KULA_TAG_LEN bytes (see the KULA_TAG_* constants in
 *     kula/types.h); chain_id, the network's chain id (NULL hashes no chain
 *     id, for structures that precede a chain, such as the peer handshake's
 *     identity proof before the chain is known). */
void kula_signing_digest(kula_hash *out, const uint8_t tag[KULA_TAG_LEN],
                         const kula_hash *chain_id, const void *bytes, size_t len);

/* Generates a fresh key pair from the OS's random source.
 * Out: sk (wipe it with kula_seckey_wipe when done), pk. Returns: 0 or KULA_ECRYPTO. */
KULA_MUST_CHECK
int kula_key_generate(kula_seckey *sk, kula_pubkey *pk);
/* Out: pk, the x-only public key of sk.  Returns: 0, or KULA_EBADKEY if sk is
 *      zero or not below the group order. */
KULA_MUST_CHECK
int kula_key_public(kula_pubkey *pk, const kula_seckey *sk);
/* Returns: true if pk is a valid x-only public key (a point on the curve). */
bool kula_pubkey_valid(const kula_pubkey *pk);
void kula_seckey_wipe(kula_seckey *sk);

/* BIP-340 signature of a 32-byte message with fresh auxiliary randomness.
 * Returns: 0, KULA_EBADKEY for an invalid sk, KULA_ECRYPTO otherwise. */
KULA_MUST_CHECK
int kula_sign(kula_sig *sig, const kula_seckey *sk, const uint8_t msg[32]);
/* As kula_sign with caller-chosen auxiliary data (test vectors; aux may be NULL). */
KULA_MUST_CHECK
int kula_sign_aux(kula_sig *sig, const kula_seckey *sk, const uint8_t msg[32],
                  const uint8_t aux[32]);
/* A secret key with its public point computed once (libsecp256k1's
 * keypair), for a program that signs many messages with few keys: deriving
 * the public point is half of kula_sign's work.  It holds the secret: wipe
 * it with kula_keypair_wipe when done. */
typedef struct kula_keypair { _Alignas(8) uint8_t b[96]; } kula_keypair;
/* Returns: 0, or KULA_EBADKEY if sk is zero or not below the group order. */
KULA_MUST_CHECK
int kula_keypair_make(kula_keypair *kp, const kula_seckey *sk);
/* As kula_sign, with the key of kp: the same signature kula_sign_aux makes
 * with the same auxiliary data.  Returns: 0 or KULA_ECRYPTO. */
KULA_MUST_CHECK
int kula_keypair_sign(kula_sig *sig, const kula_keypair *kp, const uint8_t msg[32]);
void kula_keypair_wipe(kula_keypair *kp);

/* Returns: true if sig is a valid BIP-340 signature of msg (32 bytes) by pk. */
bool kula_verify(const kula_pubkey *pk, const uint8_t msg[32], const kula_sig *sig);

/* Hex helpers (lowercase out).  kula_hex_decode returns 0 or KULA_EINVAL
 * unless hex is exactly 2*n hex digits. */
void kula_hex_encode(char *out, const uint8_t *in, size_t n); /* out: 2n+1 bytes */
KULA_MUST_CHECK
int kula_hex_decode(uint8_t *out, size_t n, const char *hex);

#endif /* KULA_CRYPTO_H */
