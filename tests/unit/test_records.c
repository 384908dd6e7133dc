/* test_records.c -- the decoders of the ledger's state records take only
 * what encodes again to the same bytes (tests/fuzz/fuzz_records.c checks it
 * on any input; these are the cases it found). */
#include <criterion/criterion.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/codec/codec.h"
#include "kula/types/records.h"

/* A member named name, encoded. */
static void member_bytes(kula_buf *out, const char *name)
{
    kula_member m;
    memset(&m, 0, sizeof(m));
    strcpy(m.name, name);
    strcpy(m.sector, "bakery");
    m.credit_limit = 1000;
    m.status = KULA_MEMBER_ACTIVE;
    kula_buf_init(out);
    cr_assert_eq(kula_member_encode(out, &m), KULA_OK);
}

Test(records, member_round_trips)
{
    kula_buf b;
    member_bytes(&b, "alice");
    kula_member m;
    cr_assert_eq(kula_member_decode(&m, b.data, b.len), KULA_OK);
    cr_assert_str_eq(m.name, "alice");
    kula_buf c;
    kula_buf_init(&c);
    cr_assert_eq(kula_member_encode(&c, &m), KULA_OK);
    cr_assert(c.len == b.len && memcmp(c.data, b.data, b.len) == 0);
    kula_buf_free(&b);
    kula_buf_free(&c);
}

Test(records, a_name_holding_a_nul_byte_is_refused)
{
    /* "alice" becomes "al\0ce": still a canonical msgpack string of 5 bytes,
     * but a C string would keep "al" and encode again otherwise */
    kula_buf b;
    member_bytes(&b, "alice");
    uint8_t *at = memmem(b.data, b.len, "alice", 5);
    cr_assert_not_null(at);
    at[2] = '\0';
    kula_member m;
    cr_assert_eq(kula_member_decode(&m, b.data, b.len), KULA_ENONCANON);
    kula_buf_free(&b);
}
