/* test_sigcache.c -- the memory of signatures already verified. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/crypto/sigcache.h"

/* A signature that verifies: key i signs digest BLAKE2b("message j"). */
static void triple(uint32_t i, uint32_t j, kula_pubkey *pk, kula_hash *digest, kula_sig *sig)
{
    char seed[32];
    snprintf(seed, sizeof(seed), "sigcache key %u", i);
    kula_hash s;
    kula_hash_bytes(&s, seed, strlen(seed));
    kula_seckey sk;
    memcpy(sk.b, s.b, sizeof(sk.b));
    cr_assert_eq(kula_key_public(pk, &sk), 0);
    char msg[32];
    snprintf(msg, sizeof(msg), "message %u", j);
    kula_hash_bytes(digest, msg, strlen(msg));
    cr_assert_eq(kula_sign(sig, &sk, digest->b), 0);
    cr_assert(kula_verify(pk, digest->b, sig));
}

Test(sigcache, holds_exactly_the_triples_added)
{
    cr_assert_eq(kula_crypto_init(), 0);
    kula_sigcache *c;
    cr_assert_eq(kula_sigcache_new(&c, 10), 0);
    kula_pubkey pk, pk2;
    kula_hash d, d2;
    kula_sig sig, sig2;
    triple(1, 1, &pk, &d, &sig);
    triple(2, 2, &pk2, &d2, &sig2);
    cr_assert_not(kula_sigcache_has(c, &pk, d.b, &sig), "empty");
    kula_sigcache_add(c, &pk, d.b, &sig);
    cr_assert(kula_sigcache_has(c, &pk, d.b, &sig));
    /* any part of the triple changed is another triple */
    cr_assert_not(kula_sigcache_has(c, &pk2, d.b, &sig), "another key");
    cr_assert_not(kula_sigcache_has(c, &pk, d2.b, &sig), "another digest");
    kula_sig bad = sig;
    bad.b[63] ^= 1;
    cr_assert_not(kula_sigcache_has(c, &pk, d.b, &bad), "another signature (same slot)");
    cr_assert_eq(kula_sigcache_hits(c), 1);
    cr_assert_eq(kula_sigcache_adds(c), 1);
    kula_sigcache_free(c);
}

Test(sigcache, a_newer_triple_takes_the_slot)
{
    cr_assert_eq(kula_crypto_init(), 0);
    kula_sigcache *c;
    cr_assert_eq(kula_sigcache_new(&c, 1), 0); /* two slots */
    kula_pubkey pk[8];
    kula_hash d[8];
    kula_sig sig[8];
    for (uint32_t i = 0; i < 8; i++) {
        triple(i, i, &pk[i], &d[i], &sig[i]);
        kula_sigcache_add(c, &pk[i], d[i].b, &sig[i]);
        cr_assert(kula_sigcache_has(c, &pk[i], d[i].b, &sig[i]), "the last one, %u", i);
    }
    size_t held = 0;
    for (uint32_t i = 0; i < 8; i++)
        held += kula_sigcache_has(c, &pk[i], d[i].b, &sig[i]);
    cr_assert_leq(held, 2, "two slots hold at most two");
    cr_assert_geq(held, 1);
    kula_sigcache_free(c);
}

Test(sigcache, size_out_of_range)
{
    kula_sigcache *c = (kula_sigcache *)1;
    cr_assert_eq(kula_sigcache_new(&c, 0), KULA_EINVAL);
    cr_assert_null(c);
    cr_assert_eq(kula_sigcache_new(&c, 21), KULA_EINVAL);
    cr_assert_null(c);
    kula_sigcache_free(NULL);
}
