/* keystore.h -- a secret key encrypted with a passphrase (proto/KEYSTORE.md).
 *
 * A keystore file holds one BIP-340 secret key, encrypted with XChaCha20-
 * Poly1305 under a key derived from a passphrase with Argon2id.  Next to the
 * ciphertext it carries, in clear but authenticated, a label chosen by the
 * user and the public key, so that a wallet can list its keys without asking
 * for passphrases (kula_keystore_peek).
 *
 * The file is a few hundred bytes of canonical msgpack; the functions here
 * turn a secret key into those bytes and back, and move the bytes to and from
 * disk.  Call kula_crypto_init() before any of them.
 *
 * Errors a caller should expect when opening a file:
 *   KULA_EVERSION    the file is a keystore of a version this code does not know;
 *   KULA_EKEYSTORE   the bytes are not a well-formed version 1 keystore (every
 *                    decoding error of the codec is reported as this);
 *   KULA_EPASSPHRASE the passphrase is wrong, or an authenticated byte of the
 *                    file was changed (the two cannot be told apart). */
#ifndef KULA_KEYSTORE_H
#define KULA_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"

#define KULA_KEYSTORE_VERSION 1
#define KULA_KEYSTORE_MAX_LABEL 64     /* bytes of UTF-8, no NUL */
#define KULA_KEYSTORE_SALT_LEN 16
#define KULA_KEYSTORE_NONCE_LEN 24
#define KULA_KEYSTORE_MAX_FILE 4096    /* kula_keystore_load refuses larger files */

/* Bounds on the Argon2id cost, enforced when sealing and when reading a file
 * (a hostile file must not make the reader spend minutes or gigabytes). */
#define KULA_KEYSTORE_OPSLIMIT_MIN 1u
#define KULA_KEYSTORE_OPSLIMIT_MAX 16u
#define KULA_KEYSTORE_MEMLIMIT_MIN 8192u              /* bytes */
#define KULA_KEYSTORE_MEMLIMIT_MAX (1024u * 1024u * 1024u) /* 1 GiB */

/* The Argon2id cost: opslimit passes over memlimit bytes of memory. */
typedef struct kula_keystore_params {
    uint64_t opslimit;
    uint64_t memlimit; /* bytes; Argon2id uses floor(memlimit / 1024) KiB */
} kula_keystore_params;

/* Default cost for new keystores: opslimit 3, memlimit 64 MiB.  Sealing or
 * opening needs 64 MiB of memory and takes ~0.1-1 s depending on the CPU
 * (0.08 s measured on a 2-core x86-64 with AVX2; slower on small ARM boards). */
extern const kula_keystore_params KULA_KEYSTORE_DEFAULT;

/* Encrypts sk into a new keystore file with a fresh random salt and nonce.
 * Returns: 0;
 *          KULA_EINVAL if label is longer than KULA_KEYSTORE_MAX_LABEL bytes or
 *            not valid UTF-8, or params are outside the bounds above;
 *          KULA_EBADKEY if sk is not a valid secret key;
 *          KULA_ENOMEM if out could not grow or Argon2id could not get its
 *            memory; KULA_ECRYPTO if encryption failed.
 * Out: out, initialized by the caller; the file is appended to it.  On error
 *      out->len is left as it was (out->err may be set).
 * In:  sk, the secret key (not kept); label, a NUL-terminated string ("" for
 *      none); pass, passlen, the passphrase as bytes, used as given (no
 *      normalization; pass may be NULL when passlen is 0); params, the cost
 *      (NULL for KULA_KEYSTORE_DEFAULT). */
KULA_MUST_CHECK
int kula_keystore_seal(kula_buf *out, const kula_seckey *sk, const char *label,
                       const char *pass, size_t passlen,
                       const kula_keystore_params *params);

/* Reads the clear part of a keystore file, without the passphrase.  The
 * values are not authenticated until kula_keystore_open succeeds.
 * Returns: 0, KULA_EVERSION or KULA_EKEYSTORE (see the top of this file).
 * Out: pk, the public key (may be NULL); label, the label NUL-terminated
 *      (may be NULL).  On error both are zeroed.
 * In:  data, len, the file's bytes. */
KULA_MUST_CHECK
int kula_keystore_peek(kula_pubkey *pk, char label[KULA_KEYSTORE_MAX_LABEL + 1],
                       const uint8_t *data, size_t len);

/* Decrypts a keystore file.  The file is decoded and its cost bounds checked
 * before Argon2id runs.
 * Returns: 0;
 *          KULA_EVERSION or KULA_EKEYSTORE for a file that does not decode;
 *          KULA_EPASSPHRASE if the passphrase is wrong or the file was changed;
 *          KULA_EKEYSTORE also if the decrypted secret key is invalid or does
 *            not match the stored public key (the file decrypted, so it was
 *            written by someone who knew the passphrase: a broken writer, not
 *            a wrong passphrase);
 *          KULA_ENOMEM if Argon2id could not get its memory.
 * Out: sk, the secret key (wipe it with kula_seckey_wipe when done); pk, its
 *      public key (may be NULL).  On error both are zeroed.
 * In:  data, len, the file's bytes; pass, passlen, the passphrase (pass may be
 *      NULL when passlen is 0). */
KULA_MUST_CHECK
int kula_keystore_open(kula_seckey *sk, kula_pubkey *pk, const uint8_t *data, size_t len,
                       const char *pass, size_t passlen);

/* Writes a keystore file to disk, never replacing an existing one: the bytes
 * go to a temporary file (mode 0600) in the same directory, which is synced,
 * then linked to path (link(2) fails if path exists, atomically) and
 * removed; the directory is synced.  The filesystem must support hard links.
 * Returns: 0; KULA_EEXIST if path exists; KULA_EINVAL if file holds no bytes
 *          or more than KULA_KEYSTORE_MAX_FILE; KULA_EIO otherwise.
 * In:  path; file, the bytes (typically from kula_keystore_seal). */
KULA_MUST_CHECK
int kula_keystore_save(const char *path, const kula_buf *file);

/* Reads a keystore file from disk (its contents are not checked).
 * Returns: 0; KULA_ENOTFOUND if path does not exist; KULA_EKEYSTORE if it is
 *          not a regular file or is larger than KULA_KEYSTORE_MAX_FILE bytes;
 *          KULA_ENOMEM; KULA_EIO for any other failure.
 * Out: out, initialized by the caller; the bytes are appended to it.  On error
 *      out->len is left as it was. */
KULA_MUST_CHECK
int kula_keystore_load(kula_buf *out, const char *path);

#endif /* KULA_KEYSTORE_H */
