/* handshake.h -- the authenticated, encrypted peer session (proto/SPEC.md §11).
 *
 * One kula_hs per connection side.  The handshake is a pure state machine:
 * the caller moves bytes, the object decides.  It never touches a socket,
 * a clock or global state.
 *
 *   1. Both sides call kula_hs_start, which yields the HELLO frame
 *      [1, chain_id, ephemeral X25519 key, nonce] (§11.2).
 *   2. Each frame received from the peer goes to kula_hs_receive, which may
 *      yield frames to send: on the peer's HELLO, this side's secretstream
 *      header and its AUTH (identity key and BIP-340 signature over the
 *      transcript), sealed in the secretstream (§11.3, §11.4).
 *   3. When the peer's AUTH verifies and the admission policy accepts the
 *      peer's identity key, kula_hs_done() is true.  From then on frames
 *      are sealed with kula_hs_seal and opened with kula_hs_open.
 *
 * Every output frame is appended to a kula_buf complete with its 4-byte
 * length prefix (kula/frame.h), ready to write to the stream as is; every
 * input is the payload of one frame as kula_frame_feed returns it.
 *
 * Any error is final: the object records it, wipes its secrets and returns
 * the same error from every later call, and the caller MUST close the
 * connection without sending anything more (§11.5).
 *
 * Call kula_crypto_init() before any function here. */
#ifndef KULA_HANDSHAKE_H
#define KULA_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"

/* The version in HELLO. */
#define KULA_HS_VERSION 1
/* Lengths of the handshake's fixed fields. */
#define KULA_HS_KX_LEN 32      /* X25519 public key (crypto_kx_PUBLICKEYBYTES) */
#define KULA_HS_NONCE_LEN 32
#define KULA_HS_HEADER_LEN 24  /* crypto_secretstream_xchacha20poly1305_HEADERBYTES */
/* Exact payload lengths of the handshake frames. */
#define KULA_HS_HELLO_LEN 104  /* 94 01 c4 20 <32> c4 20 <32> c4 20 <32> */
#define KULA_HS_AUTH_LEN 101   /* 92 c4 20 <32> c4 40 <64> */
#define KULA_HS_AUTH_SEALED_LEN (KULA_HS_AUTH_LEN + 17)
/* A limit for the frame decoder until the handshake is done: no handshake
 * frame is longer (§11.1). */
#define KULA_HS_MAX_FRAME 256u

/* "kula/handshake/1": exactly 16 bytes, so no NUL padding (§3.2, §11.4). */
extern const uint8_t KULA_TAG_HANDSHAKE[KULA_TAG_LEN];

enum kula_hs_role {
    KULA_HS_INITIATOR = 0, /* dialed the connection; its AUTH has role byte 0x00 */
    KULA_HS_RESPONDER = 1, /* accepted it; role byte 0x01 */
};

/* The admission policy (§11.4): called once per handshake, with the peer's
 * identity key after its AUTH signature has verified.
 * Returns: true to admit the peer (the node admits the keys of members and
 *          the observer keys of its configuration), false to refuse it. */
typedef bool (*kula_hs_policy_fn)(void *ctx, const kula_pubkey *peer);

typedef struct kula_hs kula_hs;

/* Creates the state of one side of a handshake.
 * Out: *hs, owned by the caller, freed with kula_hs_free.
 * In:  chain_id, the network's chain id; sk, this node's identity secret
 *      key (copied; the copy is wiped as soon as AUTH is signed); policy,
 *      never NULL, with policy_ctx passed to it unchanged.
 * Returns: 0, KULA_EINVAL (bad role, NULL argument), KULA_EBADKEY (sk is not
 *          a valid secret key), KULA_ENOMEM, KULA_ECRYPTO. */
KULA_MUST_CHECK
int kula_hs_new(kula_hs **hs, enum kula_hs_role role, const kula_hash *chain_id,
                const kula_seckey *sk, kula_hs_policy_fn policy, void *policy_ctx);

/* Wipes every secret hs holds (sodium_memzero) and frees it.  NULL is a no-op. */
void kula_hs_free(kula_hs *hs);

/* Starts the handshake: appends the HELLO frame to out.  Call once, first.
 * Returns: 0, KULA_EINVAL (called twice or after an error: the recorded
 *          error is returned instead), KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_hs_start(kula_hs *hs, kula_buf *out);

/* Consumes the payload of one frame received during the handshake.
 * Out: appends to out the frames to send now, each with its prefix.
 * Returns: the number of frames appended (0 or 2: the secretstream header
 *          and AUTH, in that order) when all is well; or an error:
 *          codec errors and KULA_EVERSION for a malformed HELLO or AUTH;
 *          KULA_ECHAIN, a HELLO for another chain id;
 *          KULA_ECRYPTO, a peer ephemeral key that yields no session keys
 *            (small order, or this side's own key reflected);
 *          KULA_ETRUNC / KULA_ETRAILING, a header frame shorter / longer
 *            than 24 bytes;
 *          KULA_EBADSIG, a sealed AUTH that does not decrypt, or whose
 *            signature does not verify;
 *          KULA_ETYPE, a sealed AUTH whose secretstream tag is not MESSAGE;
 *          KULA_EBADKEY, an AUTH identity key that is not a valid key;
 *          KULA_EUNKNOWNMEMBER, the policy refused the peer's identity;
 *          KULA_EINVAL, called before kula_hs_start or after done (the
 *            state is unchanged: this is the caller's bug, not the peer's);
 *          KULA_ENOMEM.
 *          Every error but KULA_EINVAL is final (see above). */
KULA_MUST_CHECK
int kula_hs_receive(kula_hs *hs, kula_buf *out, const uint8_t *payload, size_t len);

/* Returns: true once the peer's AUTH has verified and the policy admitted
 *          it; only then may application messages be sealed or opened. */
bool kula_hs_done(const kula_hs *hs);
/* Returns: the error that ended the handshake or session, or 0. */
int kula_hs_error(const kula_hs *hs);
enum kula_hs_role kula_hs_role(const kula_hs *hs);
/* Returns: the peer's verified and admitted identity key, or NULL before done. */
const kula_pubkey *kula_hs_peer_key(const kula_hs *hs);
/* Returns: this side's identity key (valid from kula_hs_new on). */
const kula_pubkey *kula_hs_own_key(const kula_hs *hs);
/* Returns: the transcript hash H(initiator HELLO || responder HELLO), or
 *          NULL before the peer's HELLO has been accepted. */
const kula_hash *kula_hs_transcript(const kula_hs *hs);
/* Returns: true if hs no longer holds its identity secret key, ephemeral
 *          secret key or raw session keys (after done, and after any error);
 *          the secretstream states live until kula_hs_free (or an error). */
bool kula_hs_wiped(const kula_hs *hs);

/* Seals one application message (after done) and appends it as a frame.
 * In:  len at most KULA_MAX_MESSAGE; msg may be NULL when len is 0, and
 *      must not point into out (out may move as it grows).
 * Returns: 0, KULA_EINVAL (not done), KULA_ETOOBIG, KULA_ENOMEM, or the
 *          recorded error. */
KULA_MUST_CHECK
int kula_hs_seal(kula_hs *hs, kula_buf *out, const uint8_t *msg, size_t len);

/* Opens the payload of one received frame (after done) and appends the
 * message to out.  Frames must be opened in the order they were sealed.
 * In:  frame must not point into out.
 * Returns: 0; KULA_EBADSIG, a frame that does not authenticate (forged,
 *          altered, replayed, reordered or from another session);
 *          KULA_ETYPE, a secretstream tag other than MESSAGE; KULA_ETOOBIG;
 *          KULA_EINVAL (not done); KULA_ENOMEM; or the recorded error.
 *          Every error but KULA_EINVAL is final. */
KULA_MUST_CHECK
int kula_hs_open(kula_hs *hs, kula_buf *out, const uint8_t *frame, size_t len);

#endif /* KULA_HANDSHAKE_H */
