/* test_seen.c -- the two-generation memory of recent hashes. */
#include <criterion/criterion.h>

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
