/* web_session.c -- the web wallet's login tokens, sessions and CSRF tokens
 * (web_session.h). */
#include "web_session.h"

#include <sodium.h>
#include <string.h>

#include "kula/base/error.h"

static void random_hex(char out[KULA_WEB_TOKEN_HEX + 1])
{
    uint8_t b[KULA_WEB_TOKEN_HEX / 2];
    randombytes_buf(b, sizeof(b));
    kula_hex_encode(out, b, sizeof(b));
    sodium_memzero(b, sizeof(b));
}

/* Constant time: a token's holder learns nothing from how long a wrong
 * guess took. */
static bool same_token(const char *known, const char *given)
{
    return given != NULL && known[0] != '\0' && strlen(given) == KULA_WEB_TOKEN_HEX &&
           sodium_memcmp(known, given, KULA_WEB_TOKEN_HEX) == 0;
}

int kula_web_login_new(kula_web_sessions *w, char *token, const char *key,
                       const kula_pubkey *pk, uint64_t now_ms)
{
    size_t n = strlen(key);
    if (n == 0 || n > KULA_WEB_KEY_MAX)
        return KULA_EINVAL;
    kula_web_login *slot = &w->logins[0];
    for (size_t i = 0; i < KULA_WEB_MAX_LOGINS; i++) {
        kula_web_login *l = &w->logins[i];
        if (l->token[0] == '\0' || now_ms - l->made_ms > KULA_WEB_LOGIN_TTL_MS) {
            slot = l;
            break;
        }
        if (l->made_ms < slot->made_ms)
            slot = l;
    }
    random_hex(slot->token);
    memcpy(slot->key, key, n + 1);
    slot->pk = *pk;
    slot->made_ms = now_ms;
    memcpy(token, slot->token, KULA_WEB_TOKEN_HEX + 1);
    return 0;
}

static bool expired(const kula_web_session *s, uint64_t now_ms)
{
    return now_ms - s->seen_ms > KULA_WEB_SESSION_IDLE_MS ||
           now_ms - s->started_ms > KULA_WEB_SESSION_MAX_MS;
}

kula_web_session *kula_web_login_use(kula_web_sessions *w, const char *token, uint64_t now_ms)
{
    kula_web_login *l = NULL;
    for (size_t i = 0; i < KULA_WEB_MAX_LOGINS; i++)
        if (same_token(w->logins[i].token, token))
            l = &w->logins[i];
    if (l == NULL)
        return NULL;
    bool fresh = now_ms - l->made_ms <= KULA_WEB_LOGIN_TTL_MS;
    kula_web_login used = *l;
    sodium_memzero(l, sizeof(*l)); /* once, even when it came too late */
    if (!fresh)
        return NULL;
    kula_web_session *s = &w->s[0];
    for (size_t i = 0; i < KULA_WEB_MAX_SESSIONS; i++) {
        kula_web_session *t = &w->s[i];
        if (t->id[0] == '\0' || expired(t, now_ms)) {
            s = t;
            break;
        }
        if (t->seen_ms < s->seen_ms)
            s = t;
    }
    memset(s, 0, sizeof(*s));
    random_hex(s->id);
    random_hex(s->csrf);
    memcpy(s->key, used.key, sizeof(s->key));
    s->pk = used.pk;
    s->started_ms = s->seen_ms = now_ms;
    return s;
}

kula_web_session *kula_web_session_find(kula_web_sessions *w, const char *id, uint64_t now_ms)
{
    for (size_t i = 0; i < KULA_WEB_MAX_SESSIONS; i++) {
        kula_web_session *s = &w->s[i];
        if (!same_token(s->id, id))
            continue;
        if (expired(s, now_ms)) {
            kula_web_session_end(s);
            return NULL;
        }
        s->seen_ms = now_ms;
        return s;
    }
    return NULL;
}

bool kula_web_csrf_ok(const kula_web_session *s, const char *csrf)
{
    return same_token(s->csrf, csrf);
}

void kula_web_session_end(kula_web_session *s) { sodium_memzero(s, sizeof(*s)); }

uint64_t kula_web_session_left_ms(const kula_web_session *s, uint64_t now_ms)
{
    uint64_t idle = s->seen_ms + KULA_WEB_SESSION_IDLE_MS,
             hard = s->started_ms + KULA_WEB_SESSION_MAX_MS, end = idle < hard ? idle : hard;
    return end > now_ms ? end - now_ms : 0;
}
