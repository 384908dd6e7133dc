/* fuzz_ids.c -- libFuzzer target for GET /ids's parameters
 * (kula_ids_args, kula/api/bulk.h), the query any client with the API's
 * token may send.  The input is `from`, then, after a NUL byte, `blocks`
 * (absent without one).
 *
 * Properties: the parser returns 0 or KULA_EINVAL; on 0, from is at least
 * 1 and blocks 1 .. KULA_IDS_MAX_BLOCKS (the default without one), and each
 * is the decimal value of its text (digits only, leading zeros allowed);
 * on KULA_EINVAL the sentence names the parameter. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/api/bulk.h"
#include "kula/base/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The value of a text of digits, with its leading zeros dropped. */
static const char *digits(const char *s)
{
    while (s[0] == '0' && s[1] != '\0')
        s++;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char text[258];
    memcpy(text, data, size);
    text[size] = '\0';
    const char *from = text, *blocks = NULL;
    size_t n = strlen(text);
    if (n < size)
        blocks = text + n + 1; /* up to its own NUL, or the end */
    uint64_t h = 0;
    uint32_t b = 0;
    char why[160] = "";
    int rc = kula_ids_args(from, blocks, &h, &b, why, sizeof(why));
    if (rc == KULA_EINVAL) {
        if (strstr(why, "'from'") == NULL && strstr(why, "'blocks'") == NULL)
            abort();
        return 0;
    }
    if (rc != 0 || h == 0 || b == 0 || b > KULA_IDS_MAX_BLOCKS)
        abort();
    char back[32];
    snprintf(back, sizeof(back), "%" PRIu64, h);
    if (strcmp(back, digits(from)) != 0)
        abort();
    if (blocks == NULL ? b != KULA_IDS_DEFAULT_BLOCKS : (snprintf(back, sizeof(back), "%u", b),
                                                         strcmp(back, digits(blocks)) != 0))
        abort();
    return 0;
}
