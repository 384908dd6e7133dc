/* fuzz_game.c -- libFuzzer target for the reader of Shapley game files
 * (cli/game.c, `kula agreement open --game FILE`): a game file travels
 * between businesses like a transaction file does.
 *
 * The first byte picks the number of parties (2 to 5, named alice, bob,
 * carol, dave, erin) and the decimals (0 to 3); the rest is the file.
 * Property: game_parse returns 0 or -1; -1 comes with a message; on 0 the
 * empty coalition is worth 0, none is worth less than 0, and the game
 * written out whole (every coalition on a line with its value) reads back
 * as the same values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "game.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "alice", "bob", "carol", "dave", "erin" };
    if (size < 1)
        return 0;
    unsigned n = 2u + (data[0] & 3u), decimals = (data[0] >> 2) & 3u;
    size_t len = size - 1;
    char *text = malloc(len ? len : 1); /* exactly len bytes: no terminator */
    if (text == NULL)
        abort();
    memcpy(text, data + 1, len);
    int64_t values[1u << 5];
    char err[256] = "";
    int rc = game_parse(text, len, names, n, decimals, values, err, sizeof(err));
    if (rc != 0 && rc != -1)
        abort();
    if (rc == -1 && err[0] == '\0')
        abort();
    if (rc == 0) {
        if (values[0] != 0)
            abort();
        /* the whole game, one line per coalition, read again */
        static char whole[(1u << 5) * 64];
        size_t at = 0;
        int64_t unit = 1;
        for (unsigned d = 0; d < decimals; d++)
            unit *= 10;
        for (unsigned m = 1; m < (1u << n); m++) {
            if (values[m] < 0)
                abort();
            for (unsigned k = 0, first = 1; k < n; k++)
                if (m >> k & 1u) {
                    at += (size_t)snprintf(whole + at, sizeof(whole) - at, "%s%s",
                                           first ? "" : "+", names[k]);
                    first = 0;
                }
            at += (size_t)snprintf(whole + at, sizeof(whole) - at, ": %lld",
                                   (long long)(values[m] / unit));
            if (decimals > 0)
                at += (size_t)snprintf(whole + at, sizeof(whole) - at, ".%0*lld", (int)decimals,
                                       (long long)(values[m] % unit));
            at += (size_t)snprintf(whole + at, sizeof(whole) - at, "\n");
        }
        int64_t again[1u << 5];
        if (game_parse(whole, at, names, n, decimals, again, err, sizeof(err)) != 0 ||
            memcmp(again, values, sizeof(values[0]) << n) != 0) {
            fprintf(stderr, "the game written out does not read back: %s\n%s", err, whole);
            abort();
        }
    }
    free(text);
    return 0;
}
