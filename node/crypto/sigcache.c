/* sigcache.c -- signatures already verified (see sigcache.h). */
#include "kula/crypto/sigcache.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    bool used;
    uint8_t digest[32];
    kula_pubkey pk;
    kula_sig sig;
} slot;

struct kula_sigcache {
    slot *slots;
    size_t mask;
    uint64_t hits, adds;
};

int kula_sigcache_new(kula_sigcache **out, unsigned bits)
{
    *out = NULL;
    if (bits < 1 || bits > 20)
        return KULA_EINVAL;
    kula_sigcache *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->slots = calloc((size_t)1 << bits, sizeof(slot))) == NULL) {
        free(c);
        return KULA_ENOMEM;
    }
    c->mask = ((size_t)1 << bits) - 1;
    *out = c;
    return KULA_OK;
}

void kula_sigcache_free(kula_sigcache *c)
{
    if (c == NULL)
        return;
    free(c->slots);
    free(c);
}

/* The digest is a hash and a signature's first half the x of a random
 * point: their first bytes are uniform, and a proposer who grinds its own
 * transactions into one slot only evicts. */
static slot *slot_of(const kula_sigcache *c, const uint8_t digest[32], const kula_sig *sig)
{
    uint64_t a, b;
    memcpy(&a, digest, sizeof(a));
    memcpy(&b, sig->b, sizeof(b));
    return &c->slots[(size_t)(a ^ b) & c->mask];
}

void kula_sigcache_add(kula_sigcache *c, const kula_pubkey *pk, const uint8_t digest[32],
                       const kula_sig *sig)
{
    slot *s = slot_of(c, digest, sig);
    s->used = true;
    memcpy(s->digest, digest, sizeof(s->digest));
    s->pk = *pk;
    s->sig = *sig;
    c->adds++;
}

bool kula_sigcache_has(kula_sigcache *c, const kula_pubkey *pk, const uint8_t digest[32],
                       const kula_sig *sig)
{
    const slot *s = slot_of(c, digest, sig);
    bool hit = s->used && memcmp(s->sig.b, sig->b, KULA_SIG_LEN) == 0 &&
               memcmp(s->digest, digest, sizeof(s->digest)) == 0 &&
               memcmp(s->pk.b, pk->b, KULA_PUBKEY_LEN) == 0;
    c->hits += hit;
    return hit;
}

uint64_t kula_sigcache_hits(const kula_sigcache *c) { return c->hits; }
uint64_t kula_sigcache_adds(const kula_sigcache *c) { return c->adds; }
