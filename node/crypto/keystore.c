/* keystore.c -- secret keys sealed with Argon2id and XChaCha20-Poly1305. */
#include "kula/crypto/keystore.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/base/error.h"
#include "kula/base/file.h"
#include "keystore_testing.h"

/* proto/KEYSTORE.md §2: algorithm "2: Argon2id version 1.3". */
#define KDF_ARGON2ID13 2u
#define KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define CT_LEN (KULA_SECKEY_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)

_Static_assert(crypto_pwhash_SALTBYTES == KULA_KEYSTORE_SALT_LEN, "salt length");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == KULA_KEYSTORE_NONCE_LEN,
               "nonce length");
_Static_assert(KEY_LEN == 32 && CT_LEN == 48, "XChaCha20-Poly1305 sizes");

const kula_keystore_params KULA_KEYSTORE_DEFAULT = { 3, 64u * 1024u * 1024u };

/* The fields of a version 1 file.  label points into the decoded input (or
 * the caller's string when sealing). */
typedef struct ks_fields {
    const char *label;
    size_t label_len;
    kula_pubkey pk;
    uint64_t opslimit;
    uint64_t memlimit;
    uint8_t salt[KULA_KEYSTORE_SALT_LEN];
    uint8_t nonce[KULA_KEYSTORE_NONCE_LEN];
    uint8_t ct[CT_LEN];
} ks_fields;

static bool params_ok(uint64_t opslimit, uint64_t memlimit)
{
    /* proto/KEYSTORE.md §4: "opslimit MUST be in [1, 16], memlimit MUST be in
     * [8192, 1073741824]". */
    return opslimit >= KULA_KEYSTORE_OPSLIMIT_MIN && opslimit <= KULA_KEYSTORE_OPSLIMIT_MAX &&
           memlimit >= KULA_KEYSTORE_MEMLIMIT_MIN && memlimit <= KULA_KEYSTORE_MEMLIMIT_MAX;
}

/* Writes [version, label, public key, kdf, salt, nonce] as the first six
 * elements of an array of `arity` elements: 6 for the AEAD additional data,
 * 7 for the file (the caller then writes the ciphertext). */
static void write_head(kula_writer *w, uint32_t arity, const ks_fields *f)
{
    kula_w_array(w, arity);
    kula_w_uint(w, KULA_KEYSTORE_VERSION);
    kula_w_str(w, f->label, f->label_len);
    kula_w_bin(w, f->pk.b, sizeof(f->pk.b));
    kula_w_array(w, 3);
    kula_w_uint(w, KDF_ARGON2ID13);
    kula_w_uint(w, f->opslimit);
    kula_w_uint(w, f->memlimit);
    kula_w_bin(w, f->salt, sizeof(f->salt));
    kula_w_bin(w, f->nonce, sizeof(f->nonce));
}

/* proto/KEYSTORE.md §3: "Encode the header H as the canonical encoding of
 * the 6-element array [version, label, public key, kdf, salt, nonce]".
 * Out: ad (initialized by the caller).  Returns: 0 or KULA_ENOMEM. */
static int encode_ad(kula_buf *ad, const ks_fields *f)
{
    kula_writer w;
    kula_writer_init(&w, ad);
    write_head(&w, 6, f);
    return ad->err != 0 ? KULA_ENOMEM : KULA_OK;
}

/* Out: key = Argon2id13(pass, salt, opslimit, memlimit).  Returns: 0, or
 * KULA_ENOMEM when libsodium fails (the parameters are checked before, so
 * the only cause left is memory). */
static int derive(uint8_t key[KEY_LEN], const char *pass, size_t passlen, const ks_fields *f)
{
    if (crypto_pwhash(key, KEY_LEN, passlen != 0 ? pass : "", passlen, f->salt,
                      f->opslimit, (size_t)f->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(key, KEY_LEN);
        return KULA_ENOMEM;
    }
    return KULA_OK;
}

int kula_keystore_seal_with(kula_buf *out, const kula_seckey *sk, const char *label,
                            const char *pass, size_t passlen,
                            const kula_keystore_params *params,
                            const uint8_t salt[KULA_KEYSTORE_SALT_LEN],
                            const uint8_t nonce[KULA_KEYSTORE_NONCE_LEN])
{
    if (out == NULL || sk == NULL || label == NULL || salt == NULL || nonce == NULL ||
        (pass == NULL && passlen != 0))
        return KULA_EINVAL;
    if (out->err != 0)
        return KULA_ENOMEM;
    if (params == NULL)
        params = &KULA_KEYSTORE_DEFAULT;
    if (!params_ok(params->opslimit, params->memlimit))
        return KULA_EINVAL;

    ks_fields f;
    memset(&f, 0, sizeof(f));
    f.label = label;
    f.label_len = strnlen(label, KULA_KEYSTORE_MAX_LABEL + 1);
    if (f.label_len > KULA_KEYSTORE_MAX_LABEL || !kula_utf8_valid(label, f.label_len))
        return KULA_EINVAL;
    int rc = kula_key_public(&f.pk, sk);
    if (rc != KULA_OK)
        return rc;
    f.opslimit = params->opslimit;
    f.memlimit = params->memlimit;
    memcpy(f.salt, salt, sizeof(f.salt));
    memcpy(f.nonce, nonce, sizeof(f.nonce));

    uint8_t key[KEY_LEN];
    kula_buf ad;
    kula_buf_init(&ad);
    rc = derive(key, pass, passlen, &f);
    if (rc == KULA_OK)
        rc = encode_ad(&ad, &f);
    if (rc == KULA_OK &&
        crypto_aead_xchacha20poly1305_ietf_encrypt(f.ct, NULL, sk->b, KULA_SECKEY_LEN,
                                                   ad.data, ad.len, NULL, f.nonce, key) != 0)
        rc = KULA_ECRYPTO;
    sodium_memzero(key, sizeof(key));
    kula_buf_free(&ad);
    if (rc != KULA_OK)
        return rc;

    size_t start = out->len;
    kula_writer w;
    kula_writer_init(&w, out);
    write_head(&w, 7, &f);
    kula_w_bin(&w, f.ct, sizeof(f.ct));
    if (out->err != 0) {
        out->len = start;
        return KULA_ENOMEM;
    }
    return KULA_OK;
}

int kula_keystore_seal(kula_buf *out, const kula_seckey *sk, const char *label,
                       const char *pass, size_t passlen,
                       const kula_keystore_params *params)
{
    uint8_t salt[KULA_KEYSTORE_SALT_LEN], nonce[KULA_KEYSTORE_NONCE_LEN];
    randombytes_buf(salt, sizeof(salt));
    randombytes_buf(nonce, sizeof(nonce));
    return kula_keystore_seal_with(out, sk, label, pass, passlen, params, salt, nonce);
}

/* Decodes a file and checks everything that can be checked without the
 * passphrase.  Returns: 0, KULA_EVERSION or KULA_EKEYSTORE. */
static int parse(ks_fields *f, const uint8_t *data, size_t len)
{
    memset(f, 0, sizeof(*f));
    /* The largest valid file is about 220 bytes. */
    if (data == NULL || len == 0 || len > KULA_KEYSTORE_MAX_FILE)
        return KULA_EKEYSTORE;

    kula_reader r;
    kula_reader_init(&r, data, len);
    /* proto/KEYSTORE.md §2: "A reader looks at the version before the number
     * of elements: a later version may have a different number of elements." */
    uint32_t n = kula_r_array(&r, UINT32_MAX);
    uint64_t version = kula_r_uint(&r, UINT64_MAX);
    if (!kula_reader_ok(&r))
        return KULA_EKEYSTORE;
    if (version != KULA_KEYSTORE_VERSION)
        return KULA_EVERSION;
    if (n != 7)
        return KULA_EKEYSTORE;

    f->label_len = kula_r_str(&r, &f->label, KULA_KEYSTORE_MAX_LABEL);
    /* proto/KEYSTORE.md §4: "the label MUST NOT contain U+0000". */
    if (kula_reader_ok(&r) && f->label_len != 0 && memchr(f->label, 0, f->label_len) != NULL)
        kula_reader_fail(&r, KULA_EKEYSTORE);
    kula_r_bin_exact(&r, f->pk.b, sizeof(f->pk.b));
    kula_r_array_exact(&r, 3);
    uint64_t alg = kula_r_uint(&r, UINT64_MAX);
    f->opslimit = kula_r_uint(&r, UINT64_MAX);
    f->memlimit = kula_r_uint(&r, UINT64_MAX);
    kula_r_bin_exact(&r, f->salt, sizeof(f->salt));
    kula_r_bin_exact(&r, f->nonce, sizeof(f->nonce));
    kula_r_bin_exact(&r, f->ct, sizeof(f->ct));
    /* proto/KEYSTORE.md §4: every decoding error is reported as EKEYSTORE. */
    if (kula_reader_finish(&r) != KULA_OK)
        return KULA_EKEYSTORE;
    if (alg != KDF_ARGON2ID13 || !params_ok(f->opslimit, f->memlimit) ||
        !kula_pubkey_valid(&f->pk))
        return KULA_EKEYSTORE;
    return KULA_OK;
}

int kula_keystore_peek(kula_pubkey *pk, char label[KULA_KEYSTORE_MAX_LABEL + 1],
                       const uint8_t *data, size_t len)
{
    ks_fields f;
    int rc = parse(&f, data, len);
    if (pk != NULL) {
        if (rc == KULA_OK)
            *pk = f.pk;
        else
            memset(pk, 0, sizeof(*pk));
    }
    if (label != NULL) {
        if (rc == KULA_OK && f.label_len != 0)
            memcpy(label, f.label, f.label_len);
        label[rc == KULA_OK ? f.label_len : 0] = '\0';
    }
    return rc;
}

int kula_keystore_open(kula_seckey *sk, kula_pubkey *pk, const uint8_t *data, size_t len,
                       const char *pass, size_t passlen)
{
    if (sk == NULL)
        return KULA_EINVAL;
    kula_seckey_wipe(sk);
    if (pk != NULL)
        memset(pk, 0, sizeof(*pk));
    if (pass == NULL && passlen != 0)
        return KULA_EINVAL;

    ks_fields f;
    int rc = parse(&f, data, len);
    if (rc != KULA_OK)
        return rc;

    uint8_t key[KEY_LEN];
    kula_seckey plain;
    kula_pubkey derived_pk;
    kula_buf ad;
    kula_buf_init(&ad);
    rc = derive(key, pass, passlen, &f);
    if (rc == KULA_OK)
        rc = encode_ad(&ad, &f);
    if (rc == KULA_OK &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(plain.b, NULL, NULL, f.ct, sizeof(f.ct),
                                                   ad.data, ad.len, f.nonce, key) != 0)
        rc = KULA_EPASSPHRASE;
    sodium_memzero(key, sizeof(key));
    kula_buf_free(&ad);
    /* proto/KEYSTORE.md §4 step 5: the decrypted secret key "MUST be a valid
     * BIP-340 secret key ... whose x-only public key equals the stored public
     * key. Otherwise EKEYSTORE, not EPASSPHRASE". */
    if (rc == KULA_OK &&
        (kula_key_public(&derived_pk, &plain) != KULA_OK ||
         sodium_memcmp(derived_pk.b, f.pk.b, KULA_PUBKEY_LEN) != 0))
        rc = KULA_EKEYSTORE;
    if (rc == KULA_OK) {
        *sk = plain;
        if (pk != NULL)
            *pk = f.pk;
    }
    kula_seckey_wipe(&plain);
    return rc;
}

/* ---- files ---- */

int kula_keystore_save(const char *path, const kula_buf *file)
{
    if (path == NULL || file == NULL || file->err != 0 || file->len == 0 ||
        file->len > KULA_KEYSTORE_MAX_FILE)
        return KULA_EINVAL;

    static const char suffix[] = ".tmp-XXXXXX";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof(suffix));
    if (tmp == NULL)
        return KULA_ENOMEM;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof(suffix));

    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        free(tmp);
        return KULA_EIO;
    }
    int rc = KULA_OK;
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || kula_write_all(fd, file->data, file->len) != 0 ||
        fsync(fd) != 0)
        rc = KULA_EIO;
    if (close(fd) != 0 && rc == KULA_OK)
        rc = KULA_EIO;
    /* link(2), unlike rename(2), fails when the target exists: an existing
     * keystore is never replaced, even by a concurrent writer. */
    if (rc == KULA_OK && link(tmp, path) != 0)
        rc = errno == EEXIST ? KULA_EEXIST : KULA_EIO;
    unlink(tmp);
    free(tmp);
    if (rc == KULA_OK && kula_sync_parent(path) != 0)
        rc = KULA_EIO;
    return rc;
}

int kula_keystore_load(kula_buf *out, const char *path)
{
    if (out == NULL || path == NULL)
        return KULA_EINVAL;
    /* O_NONBLOCK: opening a FIFO must not hang; it is rejected below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? KULA_ENOTFOUND : KULA_EIO;

    uint8_t buf[KULA_KEYSTORE_MAX_FILE + 1];
    size_t n = 0;
    int rc = KULA_OK;
    struct stat st;
    if (fstat(fd, &st) != 0)
        rc = KULA_EIO;
    else if (!S_ISREG(st.st_mode) || st.st_size > KULA_KEYSTORE_MAX_FILE)
        rc = KULA_EKEYSTORE;
    /* Read one byte past the limit: the file may have grown since fstat. */
    while (rc == KULA_OK && n < sizeof(buf)) {
        ssize_t k = read(fd, buf + n, sizeof(buf) - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            rc = KULA_EIO;
        } else if (k == 0) {
            break;
        } else {
            n += (size_t)k;
        }
    }
    close(fd);
    if (rc == KULA_OK && n > KULA_KEYSTORE_MAX_FILE)
        rc = KULA_EKEYSTORE;
    if (rc == KULA_OK) {
        size_t start = out->len;
        kula_buf_append(out, buf, n);
        if (out->err != 0) {
            out->len = start;
            rc = KULA_ENOMEM;
        }
    }
    return rc;
}
