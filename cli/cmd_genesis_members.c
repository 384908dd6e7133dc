/* cmd_genesis_members.c -- kula genesis new's --member values and the labels of their keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_genesis.h"
#include "kula/codec/codec.h"

/* What is wrong with s as a member's NAME or SECTOR, or NULL if nothing:
 * the ledger's limit and valid UTF-8 without control characters (C0, DEL, C1). */
static const char *text_problem(const char *s, size_t n)
{
    if (n == 0)
        return "is empty";
    if (n > KULA_MAX_NAME)
        return "is too long";
    if (!kula_utf8_valid(s, n))
        return "is not valid UTF-8";
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 || b == 0x7f || (b == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0))
            return "holds a control character (a tab, a newline...)";
    }
    return NULL;
}

static bool all_digits(const char *s, size_t n)
{
    return n > 0 && n <= 15 && strspn(s, "0123456789") >= n;
}

/* The start of the field before the ':' at end, or s when there is none.
 * Sets *colon to that ':' (NULL when none). */
static const char *field_before(const char *s, const char *end, const char **colon)
{
    const char *p = end;
    while (p > s && p[-1] != ':')
        p--;
    *colon = p > s ? p - 1 : NULL;
    return p;
}

int genesis_member_parse(genesis_member_spec *out, const char *spec, char *err, size_t cap)
{
    memset(out, 0, sizeof(*out));
    size_t n = strlen(spec);
    /* Up to three fields from the right: f[0] the last. */
    const char *f[3], *colon[3];
    size_t flen[3];
    const char *end = spec + n;
    int nf = 0;
    for (; nf < 3; nf++) {
        f[nf] = field_before(spec, end, &colon[nf]);
        flen[nf] = (size_t)(end - f[nf]);
        if (colon[nf] == NULL)
            break;
        end = colon[nf];
    }
    /* nf: how many ':' were found, at most 3 counted.  A last field of 32 or
     * more hex digits is meant as a PUBKEY: it must come in the long form. */
    bool hexy = flen[0] >= 32 && strspn(f[0], "0123456789abcdefABCDEF") >= flen[0];
    if (hexy && nf > 0 && !(nf >= 3 && all_digits(f[1], flen[1]))) {
        snprintf(err, cap, "--member '%s': a PUBKEY comes after SECTOR and POWER: "
                           "NAME:SECTOR:POWER:PUBKEY (POWER a number, 0 for a member who does "
                           "not validate)", spec);
        return -1;
    }
    const char *name_end = spec + n, *sector = NULL, *power = NULL, *pubkey = NULL;
    size_t sector_len = 0, pubkey_len = 0;
    if (nf >= 3 && all_digits(f[1], flen[1])) {
        pubkey = f[0], pubkey_len = flen[0];
        power = f[1];
        sector = f[2], sector_len = flen[2];
        name_end = colon[2];
    } else if (nf >= 2 && all_digits(f[0], flen[0])) {
        power = f[0];
        sector = f[1], sector_len = flen[1];
        name_end = colon[1];
    } else if (nf >= 1) {
        sector = f[0], sector_len = flen[0];
        name_end = colon[0];
    }
    size_t name_len = (size_t)(name_end - spec);
    const char *why = text_problem(spec, name_len);
    if (why != NULL) {
        snprintf(err, cap, "--member '%s': NAME %s (1 to %u bytes of UTF-8 without control "
                           "characters)", spec, why, KULA_MAX_NAME);
        return -1;
    }
    memcpy(out->name, spec, name_len);
    if (sector == NULL || sector_len == 0) {
        strcpy(out->sector, "general");
    } else if ((why = text_problem(sector, sector_len)) != NULL) {
        snprintf(err, cap, "--member '%s': SECTOR %s (1 to %u bytes of UTF-8 without control "
                           "characters)", spec, why, KULA_MAX_NAME);
        return -1;
    } else {
        memcpy(out->sector, sector, sector_len);
    }
    if (power != NULL) {
        unsigned long long v = strtoull(power, NULL, 10); /* all_digits: at most 15 */
        if (v > (1ULL << 48)) {
            snprintf(err, cap, "--member '%s': POWER %llu is over 2^48", spec, v);
            return -1;
        }
        out->power = v;
        out->has_power = true;
    }
    if (pubkey != NULL) {
        char hex[2 * KULA_PUBKEY_LEN + 1];
        bool ok = pubkey_len == 2 * KULA_PUBKEY_LEN;
        if (ok) {
            memcpy(hex, pubkey, pubkey_len);
            hex[pubkey_len] = '\0';
            ok = kula_hex_decode(out->pubkey.b, KULA_PUBKEY_LEN, hex) == 0 &&
                 kula_pubkey_valid(&out->pubkey);
        }
        if (!ok) {
            snprintf(err, cap, "--member '%s': PUBKEY '%.*s' is not a public key (the 64 hex "
                               "digits kula keys show prints)",
                     spec, (int)(pubkey_len > 80 ? 80 : pubkey_len), pubkey);
            return -1;
        }
        out->has_pubkey = true;
    }
    return 0;
}

/* Latin-1 letters U+00C0..U+00FF without their accents ('-': not a letter). */
static const char latin1[] = "AAAAAAACEEEEIIIIDNOOOOO-OUUUUYTsaaaaaaaceeeeiiiidnooooo-ouuuuyty";

void genesis_key_label(char out[KULA_KEYSTORE_MAX_LABEL + 1], const char *name)
{
    size_t o = 0;
    bool dash = false; /* a '-' is owed before the next character kept */
    for (const unsigned char *p = (const unsigned char *)name; *p && o < KULA_KEYSTORE_MAX_LABEL;) {
        char keep = 0;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-') {
            keep = (char)*p++;
        } else if (*p == 0xc3 && p[1] >= 0x80 && p[1] <= 0xbf) {
            keep = latin1[p[1] - 0x80];
            p += 2;
        } else {
            p++;
            while ((*p & 0xc0) == 0x80) /* the rest of a UTF-8 sequence */
                p++;
        }
        if (keep == 0 || keep == '-') {
            dash = o > 0;
            continue;
        }
        if (dash && o + 1 < KULA_KEYSTORE_MAX_LABEL)
            out[o++] = '-';
        dash = false;
        out[o++] = keep;
    }
    out[o] = '\0';
    if (o == 0)
        strcpy(out, "member");
    else if (out[0] == '.') /* a hidden file, or "..": not a key's name */
        out[0] = '_';
}
