/* test_seen.c -- the two-generation memory of recent hashes. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/net/seen.h"

static kula_hash H(uint32_t i)
{
    kula_hash h;
    kula_hash_bytes(&h, &i, sizeof(i));
    return h;
}

Test(seen, remembers_at_least_capacity_and_forgets_older)
{
    kula_seen *s;
    cr_assert_eq(kula_seen_new(&s, 100), 0);
    for (uint32_t i = 0; i < 1000; i++) {
        kula_hash h = H(i);
        cr_assert(kula_seen_add(s, &h), "%u is new", i);
        cr_assert_not(kula_seen_add(s, &h), "%u again", i);
        /* the last 100 are always there */
        for (uint32_t j = i >= 99 ? i - 99 : 0; j <= i; j++) {
            kula_hash x = H(j);
            cr_assert(kula_seen_has(s, &x), "%u after %u", j, i);
        }
        /* nothing older than 200 inserts */
        if (i >= 200) {
            kula_hash x = H(i - 200);
            cr_assert_not(kula_seen_has(s, &x), "%u after %u", i - 200, i);
        }
    }
    kula_hash never = H(5000);
    cr_assert_not(kula_seen_has(s, &never));
    kula_seen_free(s);
}

Test(seen, colliding_prefixes_are_told_apart)
{
    kula_seen *s;
    cr_assert_eq(kula_seen_new(&s, 8), 0);
    kula_hash a, b;
    memset(&a, 7, sizeof(a));
    b = a;
    b.b[31] ^= 1; /* same slot, different hash */
    cr_assert(kula_seen_add(s, &a));
    cr_assert_not(kula_seen_has(s, &b));
    cr_assert(kula_seen_add(s, &b));
    cr_assert(kula_seen_has(s, &a));
    cr_assert(kula_seen_has(s, &b));
    kula_seen_free(s);
}

/* This process's resident heap (RssAnon), in KiB. */
static long rss_anon_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
            break;
    fclose(f);
    cr_assert_geq(kib, 0, "no RssAnon in /proc/self/status");
    return kib;
}

/* Issue 18: the node's set (65,536) is 8.25 MiB; its second generation was
 * first touched after 65,536 messages, a step in every soak.  All of it is
 * resident once made: filling both generations, twice over, adds nothing. */
Test(seen, resident_memory_does_not_grow_as_generations_fill)
{
    kula_seen *s;
    cr_assert_eq(kula_seen_new(&s, 65536), 0);
    long before = rss_anon_kib();
    for (uint32_t i = 0; i < 3 * 65536; i++) {
        kula_hash h = H(i);
        cr_assert(kula_seen_add(s, &h));
    }
    long after = rss_anon_kib();
    cr_assert_lt(after - before, 512, "RssAnon grew by %ld KiB while filling", after - before);
    kula_seen_free(s);
}
