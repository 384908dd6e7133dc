/* fuzz_words.c -- libFuzzer target for the words people type: amounts
 * (kula_amount_parse, every decimals setting a network may have), UTC times
 * (kula_parse_utc) and network addresses (kula_hostport_parse).  They come
 * from command lines, kulad.conf and the web wallet's forms.
 *
 * Property: each parser accepts or refuses, never reads past the text; what
 * it accepts formats back to text that parses to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/base/hostport.h"
#include "kula/types/genesis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_amount(const char *text, unsigned decimals)
{
    kula_amount a;
    int rc = kula_amount_parse(&a, text, decimals);
    if (rc != 0) {
        if (rc != KULA_EINVAL && rc != KULA_EOVERFLOW)
            abort();
        return;
    }
    char buf[64];
    if (kula_amount_format(buf, sizeof(buf), a, decimals) < 0)
        abort();
    kula_amount b;
    if (kula_amount_parse(&b, buf, decimals) != 0 || b.v != a.v)
        abort(); /* the formatted form parses to the same amount */
}

static void check_utc(const char *text)
{
    uint64_t ms;
    if (kula_parse_utc(text, &ms) != 0)
        return;
    char buf[32];
    kula_format_utc(buf, sizeof(buf), ms);
    uint64_t again;
    if (kula_parse_utc(buf, &again) != 0 || again != ms)
        abort();
}

static void check_hostport(const char *text)
{
    kula_hostport hp;
    if (kula_hostport_parse(&hp, text) != 0)
        return;
    char buf[96];
    kula_hostport_format(buf, sizeof(buf), &hp);
    kula_hostport again;
    if (kula_hostport_parse(&again, buf) != 0 || again.port != hp.port ||
        strcmp(again.host, hp.host) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    /* an exact-size copy, so ASan sees any read past the terminator */
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (unsigned d = 0; d <= 18; d += 2)
        check_amount(text, d);
    check_utc(text);
    check_hostport(text);
    free(text);
    return 0;
}
