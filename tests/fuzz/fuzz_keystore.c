/* fuzz_keystore.c -- libFuzzer target for the keystore decoder (peek and open). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/crypto/keystore.h"

/* Opening runs Argon2id with the file's parameters, up to 16 passes over
 * 1 GiB: legal, but far too slow for fuzzing.  Returns: true if the input's
 * KDF parameters (read here independently of keystore.c) are cheap. */
static bool cheap_kdf(const uint8_t *data, size_t len)
{
    kula_reader r;
    const char *s;
    const uint8_t *b;
    kula_reader_init(&r, data, len);
    kula_r_array(&r, UINT32_MAX);
    kula_r_uint(&r, UINT64_MAX);
    kula_r_str(&r, &s, UINT32_MAX);
    kula_r_bin(&r, &b, UINT32_MAX);
    kula_r_array(&r, UINT32_MAX);
    kula_r_uint(&r, UINT64_MAX);
    uint64_t ops = kula_r_uint(&r, UINT64_MAX);
    uint64_t mem = kula_r_uint(&r, UINT64_MAX);
    return kula_reader_ok(&r) && ops <= 2 && mem <= 64 * 1024;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (kula_crypto_init() != KULA_OK)
            abort();
        ready = 1;
    }
    if (size == 0)
        data = (const uint8_t *)""; /* never hand the codec a NULL pointer */

    kula_pubkey pk;
    char label[KULA_KEYSTORE_MAX_LABEL + 1];
    int peek = kula_keystore_peek(&pk, label, data, size);
    if (peek != KULA_OK && peek != KULA_EKEYSTORE && peek != KULA_EVERSION)
        abort();
    if (peek == KULA_OK && strlen(label) > KULA_KEYSTORE_MAX_LABEL)
        abort();

    if (peek != KULA_OK || cheap_kdf(data, size)) {
        kula_seckey sk;
        kula_pubkey opk, check;
        int rc = kula_keystore_open(&sk, &opk, data, size, "pw", 2);
        /* Everything peek rejects, open rejects the same way, before the KDF. */
        if (peek != KULA_OK && rc != peek)
            abort();
        if (rc == KULA_OK) {
            if (memcmp(opk.b, pk.b, sizeof(pk.b)) != 0 || kula_key_public(&check, &sk) != 0 ||
                memcmp(check.b, pk.b, sizeof(pk.b)) != 0)
                abort();
        } else if (rc != KULA_EPASSPHRASE && rc != KULA_EKEYSTORE && rc != KULA_EVERSION &&
                   rc != KULA_ENOMEM) {
            abort();
        }
        kula_seckey_wipe(&sk);
    }
    return 0;
}
