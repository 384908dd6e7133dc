/* web_session.h -- the web wallet's login tokens, sessions and CSRF tokens:
 * bookkeeping only (no HTTP, no clock: the caller gives the time), so that
 * expiry and limits are tested without a browser.  Private to node/api.
 *
 * A login token is made for one wallet key at the request of a client that
 * holds the API's bearer token (method web_login, `kula web`), lives
 * KULA_WEB_LOGIN_TTL_MS and is used at most once: using it opens a session.
 * A session is named by a random id (the cookie) and carries a CSRF token
 * (sent back by the page in X-CSRF-Token on every state-changing request);
 * it ends KULA_WEB_SESSION_IDLE_MS after its last request, and in every
 * case KULA_WEB_SESSION_MAX_MS after it began.  At most KULA_WEB_MAX_LOGINS
 * tokens and KULA_WEB_MAX_SESSIONS sessions exist: a new one replaces the
 * oldest.  Tokens and ids are 64 hex digits of libsodium's randomness,
 * compared in constant time. */
#ifndef KULA_WEB_SESSION_H
#define KULA_WEB_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "kula/crypto/crypto.h"

#define KULA_WEB_LOGIN_TTL_MS 60000u
#define KULA_WEB_MAX_LOGINS 8u
#define KULA_WEB_MAX_SESSIONS 16u
#define KULA_WEB_SESSION_IDLE_MS (30u * 60u * 1000u)
#define KULA_WEB_SESSION_MAX_MS (12u * 3600u * 1000u)
#define KULA_WEB_TOKEN_HEX 64u  /* a token, a session id, a CSRF token */
#define KULA_WEB_KEY_MAX 64u    /* a wallet key's name */

typedef struct kula_web_session {
    char id[KULA_WEB_TOKEN_HEX + 1];   /* "": a free slot */
    char csrf[KULA_WEB_TOKEN_HEX + 1];
    char key[KULA_WEB_KEY_MAX + 1];    /* the wallet key it acts with */
    kula_pubkey pk;                    /* that key's public key */
    uint64_t started_ms, seen_ms;
} kula_web_session;

typedef struct kula_web_login {
    char token[KULA_WEB_TOKEN_HEX + 1]; /* "": a free slot */
    char key[KULA_WEB_KEY_MAX + 1];
    kula_pubkey pk;
    uint64_t made_ms;
} kula_web_login;

typedef struct kula_web_sessions {
    kula_web_login logins[KULA_WEB_MAX_LOGINS];
    kula_web_session s[KULA_WEB_MAX_SESSIONS];
} kula_web_sessions;

/* Makes a login token for wallet key `key` (its public key pk), replacing
 * the oldest when KULA_WEB_MAX_LOGINS exist.
 * Out: token[KULA_WEB_TOKEN_HEX + 1].
 * Returns: 0, or KULA_EINVAL when key is empty or longer than
 *          KULA_WEB_KEY_MAX. */
int kula_web_login_new(kula_web_sessions *w, char *token, const char *key,
                       const kula_pubkey *pk, uint64_t now_ms);

/* Uses a login token once: when it is known and younger than
 * KULA_WEB_LOGIN_TTL_MS it is forgotten and a session opened for its key.
 * Returns: the session (owned by w, valid until it ends), or NULL when the
 *          token is unknown, used or expired. */
kula_web_session *kula_web_login_use(kula_web_sessions *w, const char *token, uint64_t now_ms);

/* Finds the session named id and marks it seen now; a session past its
 * idle or absolute limit ends here instead.
 * Returns: the session, or NULL. */
kula_web_session *kula_web_session_find(kula_web_sessions *w, const char *id, uint64_t now_ms);

/* Whether csrf (a header's value, may be NULL) is s's CSRF token. */
bool kula_web_csrf_ok(const kula_web_session *s, const char *csrf);

/* Ends s (logout). */
void kula_web_session_end(kula_web_session *s);

/* Milliseconds s has left before it ends, if no request comes. */
uint64_t kula_web_session_left_ms(const kula_web_session *s, uint64_t now_ms);

#endif /* KULA_WEB_SESSION_H */
