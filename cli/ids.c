/* ids.c -- ids by unique prefix or label (ids.h). */
#include "ids.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kula/crypto/crypto.h"

unsigned ids_prefix_len(const char *text)
{
    size_t n = text != NULL ? strlen(text) : 0;
    if (n < IDS_MIN_PREFIX || n > 2 * KULA_HASH_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)text[i]))
            return 0;
    return (unsigned)n;
}

int ids_pick(const char *what, const char *kind, const char *text, const json_t *ids, bool more,
             kula_hash *out, char *err, size_t cap)
{
    size_t n = json_array_size(ids);
    if (strcmp(kind, "tx") == 0) { /* in words: a transaction */
        kind = "transaction";
        if (n == 0) {
            snprintf(err, cap, "%s %s: no transaction's id starts with %s (kula history MEMBER "
                               "shows the ids of a member's transactions; this node knows the "
                               "committed ones, the pending and the recently refused)",
                     what, text, text);
            return -1;
        }
    }
    if (n == 0) {
        snprintf(err, cap, "%s %s: no %s's id starts with %s (%s lists them)", what, text, kind,
                 text,
                 strcmp(kind, "agreement") == 0  ? "kula agreement list"
                 : strcmp(kind, "referral") == 0 ? "kula referrals"
                 : strcmp(kind, "invoice") == 0  ? "kula invoice list"
                                                 : "kula proposals");
        return -1;
    }
    if (n == 1 && !more) {
        const char *hex = json_string_value(json_array_get(ids, 0));
        if (hex != NULL && strncasecmp(hex, text, strlen(text)) == 0 &&
            kula_hex_decode(out->b, KULA_HASH_LEN, hex) == 0)
            return 0;
        snprintf(err, cap, "%s %s: the node answered an id that does not start with it", what,
                 text);
        return -1;
    }
    int at = snprintf(err, cap, "%s %s is ambiguous: %s%zu %ss start with it; type more digits:",
                      what, text, more ? "more than " : "", n, kind);
    for (size_t i = 0; i < n && at >= 0 && (size_t)at < cap; i++)
        at += snprintf(err + at, cap - (size_t)at, "\n  %s",
                       json_string_value(json_array_get(ids, i)));
    return -1;
}

