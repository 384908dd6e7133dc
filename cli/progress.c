/* progress.c -- where a proposal stands, in words (progress.h). */
#include "progress.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int64_t jint(const json_t *o, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(o, key));
}

const char *progress_words(char *buf, size_t cap, const json_t *p)
{
    const json_t *d = json_object_get(p, "decision");
    const char *status = json_string_value(json_object_get(p, "status"));
    int64_t yes = jint(p, "yes"), no = jint(p, "no");
    int64_t a = jint(d, "active_members"), num = jint(d, "threshold_num");
    int64_t den = jint(d, "threshold_den");
    if (status == NULL)
        status = "?";
    if (strcmp(status, "open") != 0 || d == NULL || den <= 0 || a <= 0 || num < 0) {
        const char *failure = json_string_value(json_object_get(p, "failure"));
        snprintf(buf, cap, "%s with %" PRId64 " yes and %" PRId64 " no%s%s%s", status, yes, no,
                 failure != NULL ? " (executing it failed: " : "",
                 failure != NULL ? failure : "", failure != NULL ? ")" : "");
        return buf;
    }
    /* it passes as soon as yes * den > A * num: at the least yes votes
     * floor(A * num / den) + 1; it is rejected as soon as even every vote
     * still to come could not reach them */
    int64_t need = a * num / den + 1;
    int64_t open = a - yes - no;
    int64_t more = need > yes ? need - yes : 0;
    int64_t no_left = a - need - no; /* no votes it can still take */
    snprintf(buf, cap,
             "%" PRId64 " of %" PRId64 " active members voted yes, %" PRId64 " no; it passes "
             "when more than %" PRId64 "/%" PRId64 " of the active members vote yes: %" PRId64
             " yes votes (%" PRId64 " more of the %" PRId64 " still to vote); it is rejected "
             "after %" PRId64 " more no vote%s",
             yes, a, no, num, den, need, more, open, no_left + 1, no_left + 1 == 1 ? "" : "s");
    return buf;
}
