/* sigcache.h -- signatures already verified, so that one is not verified twice.
 *
 * A validator that checks a proposal before a transaction in it reaches its
 * mempool verifies that transaction's signatures in the proposal; when the
 * transaction then arrives by gossip, the mempool would verify them again
 * (issue 17: 3.3 % of a validator's verifications under load).  The check
 * remembers each signature that verified here, as the whole triple (key,
 * digest, signature), and the mempool looks the triple up first.
 *
 * Direct-mapped: a triple lands in one slot (from the digest and the
 * signature, both uniform), a newer one takes the slot over, and a lookup
 * compares the whole triple.  So a hit is exactly a triple that verified
 * (verification is a pure function), and a miss costs only the
 * verification it would have cost anyway; nothing anyone sends can make a
 * signature pass that does not verify.  Only signatures that verified are
 * added.
 *
 * Threading: none; one thread (kulad's loop) adds and looks up. */
#ifndef KULA_SIGCACHE_H
#define KULA_SIGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

typedef struct kula_sigcache kula_sigcache;

/* A cache of 2^bits slots (bits 1..20; 129 bytes each).
 * Returns: 0, KULA_EINVAL for bits out of range, or KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_sigcache_new(kula_sigcache **out, unsigned bits);
void kula_sigcache_free(kula_sigcache *c);
/* Remembers that sig verifies for pk over digest; the caller has verified it. */
void kula_sigcache_add(kula_sigcache *c, const kula_pubkey *pk, const uint8_t digest[32],
                       const kula_sig *sig);
/* Returns: true if that very triple was added and is still held. */
bool kula_sigcache_has(kula_sigcache *c, const kula_pubkey *pk, const uint8_t digest[32],
                       const kula_sig *sig);
/* Counts since kula_sigcache_new: lookups that hit, and triples added. */
uint64_t kula_sigcache_hits(const kula_sigcache *c);
uint64_t kula_sigcache_adds(const kula_sigcache *c);

#endif /* KULA_SIGCACHE_H */
