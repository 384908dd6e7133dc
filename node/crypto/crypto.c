/* crypto.c -- BLAKE2b-256 (libsodium) and BIP-340 Schnorr (libsecp256k1). */
#include "kula/crypto/crypto.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "kula/base/error.h"
#include "crypto_testing.h"

static secp256k1_context *ctx;
static int init_result = KULA_ECRYPTO;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(((kula_hasher *)0)->state),
               "kula_hasher too small for crypto_generichash_state");

static void do_init(void)
{
    if (sodium_init() < 0)
        return;
    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (ctx == NULL)
        return;
    unsigned char seed[32];
    randombytes_buf(seed, sizeof(seed));
    /* Blinding against side channels in signing; verification is unaffected. */
    int ok = secp256k1_context_randomize(ctx, seed);
    sodium_memzero(seed, sizeof(seed));
    if (!ok)
        return;
    init_result = KULA_OK;
}

int kula_crypto_init(void)
{
    pthread_once(&init_once, do_init);
    return init_result;
}

_Static_assert(KULA_TABLE_KEY_LEN == crypto_shorthash_KEYBYTES, "a SipHash key");

uint64_t kula_table_hash(const unsigned char key[KULA_TABLE_KEY_LEN], const void *data,
                         size_t len)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, data, len, key);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return v;
}

void kula_table_key(unsigned char key[KULA_TABLE_KEY_LEN]) { crypto_shorthash_keygen(key); }

void kula_hash_bytes(kula_hash *out, const void *data, size_t len)
{
    crypto_generichash(out->b, KULA_HASH_LEN, data, len, NULL, 0);
}

void kula_hasher_init(kula_hasher *h)
{
    crypto_generichash_init((crypto_generichash_state *)h->state, NULL, 0, KULA_HASH_LEN);
}

void kula_hasher_update(kula_hasher *h, const void *data, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)h->state, data, len);
}

void kula_hasher_final(kula_hasher *h, kula_hash *out)
{
    crypto_generichash_final((crypto_generichash_state *)h->state, out->b, KULA_HASH_LEN);
}

void kula_signing_digest(kula_hash *out, const uint8_t tag[KULA_TAG_LEN],
                         const kula_hash *chain_id, const void *bytes, size_t len)
{
    kula_hasher h;
    kula_hasher_init(&h);
    kula_hasher_update(&h, tag, KULA_TAG_LEN);
    if (chain_id != NULL)
        kula_hasher_update(&h, chain_id->b, KULA_HASH_LEN);
    kula_hasher_update(&h, bytes, len);
    kula_hasher_final(&h, out);
}

int kula_key_public(kula_pubkey *pk, const kula_seckey *sk)
{
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xpk;
    int rc = KULA_OK;
    if (!secp256k1_keypair_create(ctx, &kp, sk->b) ||
        !secp256k1_keypair_xonly_pub(ctx, &xpk, NULL, &kp) ||
        !secp256k1_xonly_pubkey_serialize(ctx, pk->b, &xpk))
        rc = KULA_EBADKEY;
    sodium_memzero(&kp, sizeof(kp));
    return rc;
}

int kula_key_generate(kula_seckey *sk, kula_pubkey *pk)
{
    /* A uniformly random 32-byte string is a valid key except with
     * probability ~2^-128; loop anyway rather than assume. */
    for (int i = 0; i < 16; i++) {
        randombytes_buf(sk->b, sizeof(sk->b));
        if (kula_key_public(pk, sk) == KULA_OK)
            return KULA_OK;
    }
    kula_seckey_wipe(sk);
    return KULA_ECRYPTO;
}

bool kula_pubkey_valid(const kula_pubkey *pk)
{
    secp256k1_xonly_pubkey xpk;
    return secp256k1_xonly_pubkey_parse(ctx, &xpk, pk->b) == 1;
}

void kula_seckey_wipe(kula_seckey *sk) { sodium_memzero(sk->b, sizeof(sk->b)); }

_Static_assert(sizeof(secp256k1_keypair) == sizeof(kula_keypair),
               "kula_keypair holds a secp256k1_keypair");

int kula_keypair_make(kula_keypair *kp, const kula_seckey *sk)
{
    secp256k1_keypair k;
    if (!secp256k1_keypair_create(ctx, &k, sk->b))
        return KULA_EBADKEY;
    memcpy(kp->b, &k, sizeof(k));
    sodium_memzero(&k, sizeof(k));
    return KULA_OK;
}

int kula_keypair_sign_aux(kula_sig *sig, const kula_keypair *kp, const uint8_t msg[32],
                          const uint8_t aux[32])
{
    secp256k1_keypair k;
    memcpy(&k, kp->b, sizeof(k));
    int ok = secp256k1_schnorrsig_sign32(ctx, sig->b, msg, &k, aux);
    sodium_memzero(&k, sizeof(k));
    return ok ? KULA_OK : KULA_ECRYPTO;
}

int kula_keypair_sign(kula_sig *sig, const kula_keypair *kp, const uint8_t msg[32])
{
    uint8_t aux[32];
    randombytes_buf(aux, sizeof(aux));
    int rc = kula_keypair_sign_aux(sig, kp, msg, aux);
    sodium_memzero(aux, sizeof(aux));
    return rc;
}

void kula_keypair_wipe(kula_keypair *kp) { sodium_memzero(kp->b, sizeof(kp->b)); }

/* One signature with a key prepared for it alone: with fresh auxiliary
 * randomness, or else with aux (BIP-340 allows none: NULL). */
static int sign_once(kula_sig *sig, const kula_seckey *sk, const uint8_t msg[32],
                     const uint8_t aux[32], bool fresh)
{
    kula_keypair kp;
    int rc = kula_keypair_make(&kp, sk);
    if (rc == 0)
        rc = fresh ? kula_keypair_sign(sig, &kp, msg) : kula_keypair_sign_aux(sig, &kp, msg, aux);
    kula_keypair_wipe(&kp);
    return rc;
}

int kula_sign_aux(kula_sig *sig, const kula_seckey *sk, const uint8_t msg[32],
                  const uint8_t aux[32])
{
    return sign_once(sig, sk, msg, aux, false);
}

int kula_sign(kula_sig *sig, const kula_seckey *sk, const uint8_t msg[32])
{
    return sign_once(sig, sk, msg, NULL, true);
}

/* Parsing an x-only key (lifting x to a curve point: a square root) is
 * ~11 % of a BIP-340 verification (callgrind: 48,000 of 448,000
 * instructions), and a network has few keys, each signing many
 * transactions.  So each thread keeps the last parsed key per slot (slot from
 * the key's first bytes; a collision only costs a parse).  Only keys that
 * parsed are kept, compared in full, and parsing is a pure function: the
 * verdict is the same as without the cache. */
#define KEY_CACHE_SLOTS 256u
typedef struct key_slot {
    bool used;
    uint8_t key[KULA_PUBKEY_LEN];
    secp256k1_xonly_pubkey xpk;
} key_slot;
static _Thread_local key_slot key_cache[KEY_CACHE_SLOTS];

static bool parse_key(secp256k1_xonly_pubkey *xpk, const kula_pubkey *pk)
{
    key_slot *s = &key_cache[(pk->b[0] | (unsigned)pk->b[1] << 8) % KEY_CACHE_SLOTS];
    if (s->used && memcmp(s->key, pk->b, KULA_PUBKEY_LEN) == 0) {
        *xpk = s->xpk;
        return true;
    }
    if (!secp256k1_xonly_pubkey_parse(ctx, xpk, pk->b))
        return false;
    s->used = true;
    memcpy(s->key, pk->b, KULA_PUBKEY_LEN);
    s->xpk = *xpk;
    return true;
}

static atomic_uint_fast64_t verify_count;

uint64_t kula_verify_count(void) { return atomic_load_explicit(&verify_count, memory_order_relaxed); }

bool kula_verify_msg(const kula_pubkey *pk, const uint8_t *msg, size_t len,
                     const kula_sig *sig)
{
    atomic_fetch_add_explicit(&verify_count, 1, memory_order_relaxed);
    secp256k1_xonly_pubkey xpk;
    if (!parse_key(&xpk, pk))
        return false;
    return secp256k1_schnorrsig_verify(ctx, sig->b, msg, len, &xpk) == 1;
}

bool kula_verify(const kula_pubkey *pk, const uint8_t msg[32], const kula_sig *sig)
{
    return kula_verify_msg(pk, msg, 32, sig);
}

void kula_hex_encode(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* One more than the value of each hex digit, either case; 0 for every
 * other byte.  A table: the JSON submission path decodes every
 * transaction's hex (issue 17's profile had the branches of a
 * digit-by-digit test at 0.7 % of a validator's CPU). */
static const uint8_t hexval[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
    ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
    ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
    ['F'] = 16,
};

int kula_hex_decode(uint8_t *out, size_t n, const char *hex)
{
    if (hex == NULL || strlen(hex) != 2 * n)
        return KULA_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval[(unsigned char)hex[2 * i]], lo = hexval[(unsigned char)hex[2 * i + 1]];
        if (hi == 0 || lo == 0)
            return KULA_EINVAL;
        out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return KULA_OK;
}
