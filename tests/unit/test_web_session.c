/* test_web_session.c -- the web wallet's login tokens, sessions and CSRF
 * tokens (node/api/web_session.c): one use, expiry, limits. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/web_session.h"
#include "kula/base/error.h"
#include "kula/crypto/crypto.h"

static kula_web_sessions w;
static const kula_pubkey PK = { { 7 } };

static void setup(void)
{
    cr_assert_eq(kula_crypto_init(), 0);
    memset(&w, 0, sizeof(w));
}

TestSuite(web_session, .init = setup);

Test(web_session, a_login_token_opens_one_session_once)
{
    char tok[KULA_WEB_TOKEN_HEX + 1];
    cr_assert_eq(kula_web_login_new(&w, tok, "alice", &PK, 1000), 0);
    cr_assert_eq(strlen(tok), KULA_WEB_TOKEN_HEX);
    kula_web_session *s = kula_web_login_use(&w, tok, 2000);
    cr_assert_not_null(s);
    cr_assert_str_eq(s->key, "alice");
    cr_assert_eq(memcmp(s->pk.b, PK.b, sizeof(PK.b)), 0);
    cr_assert_str_neq(s->id, tok);
    cr_assert_str_neq(s->csrf, s->id);
    cr_assert_null(kula_web_login_use(&w, tok, 2001), "a login token works once");
    cr_assert_eq(kula_web_session_find(&w, s->id, 3000), s);
}

Test(web_session, a_login_token_expires_after_60_s)
{
    char tok[KULA_WEB_TOKEN_HEX + 1];
    cr_assert_eq(kula_web_login_new(&w, tok, "alice", &PK, 1000), 0);
    cr_assert_null(kula_web_login_use(&w, tok, 1000 + KULA_WEB_LOGIN_TTL_MS + 1));
    cr_assert_eq(kula_web_login_new(&w, tok, "alice", &PK, 1000), 0);
    cr_assert_not_null(kula_web_login_use(&w, tok, 1000 + KULA_WEB_LOGIN_TTL_MS));
}

Test(web_session, wrong_tokens_and_keys_are_refused)
{
    char tok[KULA_WEB_TOKEN_HEX + 1];
    cr_assert_eq(kula_web_login_new(&w, tok, "", &PK, 0), KULA_EINVAL);
    char longkey[KULA_WEB_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    cr_assert_eq(kula_web_login_new(&w, tok, longkey, &PK, 0), KULA_EINVAL);
    cr_assert_null(kula_web_login_use(&w, NULL, 0));
    cr_assert_null(kula_web_login_use(&w, "", 0), "an empty token matches no free slot");
    cr_assert_eq(kula_web_login_new(&w, tok, "alice", &PK, 0), 0);
    char bad[KULA_WEB_TOKEN_HEX + 1];
    memcpy(bad, tok, sizeof(bad));
    bad[0] = bad[0] == 'a' ? 'b' : 'a';
    cr_assert_null(kula_web_login_use(&w, bad, 1));
    cr_assert_null(kula_web_login_use(&w, "abc", 1), "a short token");
    cr_assert_not_null(kula_web_login_use(&w, tok, 1), "a wrong guess does not spend it");
}

Test(web_session, csrf_token_must_match)
{
    char tok[KULA_WEB_TOKEN_HEX + 1];
    kula_web_login_new(&w, tok, "alice", &PK, 0);
    kula_web_session *s = kula_web_login_use(&w, tok, 0);
    cr_assert(kula_web_csrf_ok(s, s->csrf));
    cr_assert_not(kula_web_csrf_ok(s, NULL));
    cr_assert_not(kula_web_csrf_ok(s, ""));
    cr_assert_not(kula_web_csrf_ok(s, s->id));
}

Test(web_session, sessions_end_when_idle_and_after_their_maximum)
{
    char tok[KULA_WEB_TOKEN_HEX + 1];
    kula_web_login_new(&w, tok, "alice", &PK, 0);
    kula_web_session *s = kula_web_login_use(&w, tok, 0);
    char id[KULA_WEB_TOKEN_HEX + 1];
    memcpy(id, s->id, sizeof(id));
    cr_assert_eq(kula_web_session_left_ms(s, 0), KULA_WEB_SESSION_IDLE_MS);
    /* requests every 20 minutes keep it for 12 hours, not longer */
    uint64_t t = 0;
    while (t + 20 * 60000 <= KULA_WEB_SESSION_MAX_MS) {
        t += 20 * 60000;
        cr_assert_not_null(kula_web_session_find(&w, id, t), "at %llu ms", (unsigned long long)t);
    }
    cr_assert_null(kula_web_session_find(&w, id, KULA_WEB_SESSION_MAX_MS + 1));
    cr_assert_null(kula_web_session_find(&w, id, KULA_WEB_SESSION_MAX_MS + 2), "ended for good");

    kula_web_login_new(&w, tok, "alice", &PK, 0);
    s = kula_web_login_use(&w, tok, 0);
    memcpy(id, s->id, sizeof(id));
    cr_assert_null(kula_web_session_find(&w, id, KULA_WEB_SESSION_IDLE_MS + 1), "idle 30 min");
}

Test(web_session, bounded_the_oldest_gives_way)
{
    char tok[KULA_WEB_TOKEN_HEX + 1], first[KULA_WEB_TOKEN_HEX + 1];
    kula_web_login_new(&w, first, "alice", &PK, 0);
    for (unsigned i = 1; i <= KULA_WEB_MAX_LOGINS; i++)
        kula_web_login_new(&w, tok, "alice", &PK, i);
    cr_assert_null(kula_web_login_use(&w, first, 100), "the oldest token was replaced");
    char ids[KULA_WEB_MAX_SESSIONS + 1][KULA_WEB_TOKEN_HEX + 1];
    for (unsigned i = 0; i <= KULA_WEB_MAX_SESSIONS; i++) {
        kula_web_login_new(&w, tok, "alice", &PK, 1000 + i);
        kula_web_session *s = kula_web_login_use(&w, tok, 1000 + i);
        cr_assert_not_null(s);
        memcpy(ids[i], s->id, sizeof(ids[i]));
    }
    cr_assert_null(kula_web_session_find(&w, ids[0], 2000), "the least recently seen ended");
    for (unsigned i = 1; i <= KULA_WEB_MAX_SESSIONS; i++)
        cr_assert_not_null(kula_web_session_find(&w, ids[i], 2000));
}

Test(web_session, logout_ends_it)
{
    char tok[KULA_WEB_TOKEN_HEX + 1];
    kula_web_login_new(&w, tok, "alice", &PK, 0);
    kula_web_session *s = kula_web_login_use(&w, tok, 0);
    char id[KULA_WEB_TOKEN_HEX + 1];
    memcpy(id, s->id, sizeof(id));
    kula_web_session_end(s);
    cr_assert_null(kula_web_session_find(&w, id, 1));
}
