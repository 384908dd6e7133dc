/* vecgen.h -- what the vector generators share: failing loudly, keys from a
 * text seed, hashes of text, text values and hex in JSON.
 *
 * Header only, since each generator is its own program and uses some of
 * these; define VECGEN_NAME (the program's name, for its error messages)
 * before including it, and VECGEN_NO_VOTES in a program that does not link
 * node/types (vecgen_vote signs with kula_vote_sighash). */
#ifndef KULA_VECGEN_H
#define KULA_VECGEN_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/crypto/crypto.h"
#include "kula/types/types.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn, unused));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(VECGEN_NAME ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Keys 1 … n: secret key i is BLAKE2b-256 of the ASCII text "<seed> i".
 * Out: sk[1..n], pk[1..n]. */
__attribute__((unused)) static void vecgen_keys(kula_seckey *sk, kula_pubkey *pk, int n,
                                                const char *seed)
{
    for (int i = 1; i <= n; i++) {
        char text[64];
        int len = snprintf(text, sizeof(text), "%s %d", seed, i);
        kula_hash h;
        kula_hash_bytes(&h, text, (size_t)len);
        memcpy(sk[i].b, h.b, KULA_SECKEY_LEN);
        if (kula_key_public(&pk[i], &sk[i]) != 0)
            die("key %d is not a valid secret key", i);
    }
}

__attribute__((unused)) static kula_hash hash_of(const char *s)
{
    kula_hash h;
    kula_hash_bytes(&h, s, strlen(s));
    return h;
}

__attribute__((unused)) static kula_text T(const char *s)
{
    kula_text t = { s, strlen(s) };
    return t;
}

#ifndef VECGEN_NO_VOTES
/* A consensus vote (SPEC §7.1) signed with sk under chain_id, with 32 zero
 * bytes of auxiliary randomness; block NULL is a vote for nil. */
__attribute__((unused)) static kula_vote vecgen_vote(const kula_hash *chain_id,
                                                     const kula_seckey *sk, uint8_t type,
                                                     uint64_t height, uint32_t round,
                                                     const kula_hash *block, uint32_t validator)
{
    static const uint8_t zero[32];
    kula_vote v;
    memset(&v, 0, sizeof(v));
    v.type = type;
    v.height = height;
    v.round = round;
    v.has_block = block != NULL;
    if (block != NULL)
        v.block_hash = *block;
    v.validator = validator;
    kula_hash d;
    kula_vote_sighash(&d, chain_id, &v);
    if (kula_sign_aux(&v.sig, sk, d.b, zero) != 0)
        die("cannot sign a vote of validator %u", validator);
    return v;
}
#endif

__attribute__((unused)) static json_t *j_hex(const void *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        die("out of memory");
    kula_hex_encode(s, p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

#endif /* KULA_VECGEN_H */
