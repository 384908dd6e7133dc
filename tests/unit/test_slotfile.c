/* test_slotfile.c -- the two-slot files of a validator's consensus state
 * (node/daemon/slotfile.c, node/daemon/consfile.c): a record survives a
 * torn write of the next one; both slots damaged read as no record; the
 * newest slot is found across a wrap of the sequence number; an unchanged
 * record is not written again; files of the older single-record format are
 * read, and kept until the new record is durable. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kula/base/bytes.h"
#include "kula/daemon/consfile.h"
#include "kula/daemon/slotfile.h"
#include "testutil.h"

#define MAX_LEN 100u
#define SPAN 4096u /* MAX_LEN's slot rounded up to 4096 */

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kula-slot-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
}

static void teardown(void)
{
    char p[160];
    unlink(path);
    snprintf(p, sizeof(p), "%s/consensus.state", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/consensus.blocks", dir);
    unlink(p);
    rmdir(dir);
}

TestSuite(slotfile, .init = setup, .fini = teardown);

static kula_slotfile open_f(kula_buf *out, bool *found)
{
    kula_slotfile f;
    cr_assert_eq(kula_slotfile_open(&f, path, "TESTSL01", MAX_LEN, out, found), 0, "%s",
                 strerror(errno));
    return f;
}

/* The record read from a fresh open of the file, as a string ("" when
 * there is none). */
static char *reopen_text(void)
{
    kula_buf out;
    kula_buf_init(&out);
    bool found;
    kula_slotfile f = open_f(&out, &found);
    kula_slotfile_close(&f);
    char *s = calloc(1, out.len + 1);
    if (found)
        memcpy(s, out.data, out.len);
    kula_buf_free(&out);
    return s;
}

static void put(kula_slotfile *f, const char *text)
{
    cr_assert_eq(kula_slotfile_write(f, text, strlen(text)), 0, "%s", strerror(errno));
}

static void poke(uint64_t off, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void peek(uint64_t off, void *p, size_t n)
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, p, n, (off_t)off), (ssize_t)n);
    close(fd);
}

/* Writes a valid slot i by hand, with sequence seq. */
static void forge_slot(int i, uint64_t seq, const char *text)
{
    size_t n = strlen(text);
    uint8_t rec[KULA_SLOT_HEADER + MAX_LEN + KULA_HASH_LEN];
    memcpy(rec, "TESTSL01", 8);
    kula_put_be64(rec + 8, seq);
    kula_put_be64(rec + 16, n);
    memcpy(rec + KULA_SLOT_HEADER, text, n);
    kula_hash sum;
    kula_hash_bytes(&sum, rec, KULA_SLOT_HEADER + n);
    memcpy(rec + KULA_SLOT_HEADER + n, sum.b, KULA_HASH_LEN);
    poke((uint64_t)i * SPAN, rec, KULA_SLOT_HEADER + n + KULA_HASH_LEN);
}

Test(slotfile, a_new_file_has_no_record_then_holds_each_write)
{
    kula_buf out;
    kula_buf_init(&out);
    bool found = true;
    kula_slotfile f = open_f(&out, &found);
    cr_assert_not(found);
    cr_assert_eq(out.len, 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    const char *texts[] = { "first", "second, longer", "3" };
    for (size_t i = 0; i < 3; i++) {
        put(&f, texts[i]);
        char *got = reopen_text();
        cr_assert_str_eq(got, texts[i]);
        free(got);
    }
    /* slot 1, then 0, then 1: sequence 3 in slot 1, 2 in slot 0 */
    uint8_t head[KULA_SLOT_HEADER];
    peek(SPAN, head, sizeof(head));
    cr_assert_eq(kula_get_be64(head + 8), 3);
    peek(0, head, sizeof(head));
    cr_assert_eq(kula_get_be64(head + 8), 2);
    kula_slotfile_close(&f);
    kula_buf_free(&out);
}

Test(slotfile, a_torn_write_leaves_the_previous_record)
{
    kula_buf out;
    kula_buf_init(&out);
    bool found;
    kula_slotfile f = open_f(&out, &found);
    put(&f, "the state before");
    put(&f, "the state being written"); /* slot 0 */
    kula_slotfile_close(&f);
    /* a crash tore it: its second half never reached the disk */
    uint8_t zeros[32] = { 0 };
    poke(KULA_SLOT_HEADER + 10, zeros, sizeof(zeros));
    char *got = reopen_text();
    cr_assert_str_eq(got, "the state before");
    free(got);
    /* torn inside the header too */
    poke(3, zeros, 4);
    got = reopen_text();
    cr_assert_str_eq(got, "the state before");
    free(got);
    /* the next write goes to the damaged slot, never over the good one */
    f = open_f(&out, &found);
    cr_assert(found);
    put(&f, "after the restart");
    kula_slotfile_close(&f);
    got = reopen_text();
    cr_assert_str_eq(got, "after the restart");
    free(got);
    poke(KULA_SLOT_HEADER + 2, zeros, 8); /* tear it again (slot 0) */
    got = reopen_text();
    cr_assert_str_eq(got, "the state before");
    free(got);
    kula_buf_free(&out);
}

Test(slotfile, both_slots_damaged_is_no_record_and_the_next_write_is_read)
{
    kula_buf out;
    kula_buf_init(&out);
    bool found;
    kula_slotfile f = open_f(&out, &found);
    put(&f, "one");
    put(&f, "two");
    kula_slotfile_close(&f);
    uint8_t x = 0xff;
    poke(KULA_SLOT_HEADER, &x, 1);
    poke(SPAN + KULA_SLOT_HEADER, &x, 1);
    f = open_f(&out, &found);
    cr_assert_not(found);
    cr_assert_eq(out.len, 0);
    uint8_t before[8], after[8];
    peek(0, before, sizeof(before));
    put(&f, "three");
    peek(0, after, sizeof(after));
    cr_assert_arr_eq(before, after, 8, "the first write after no valid slot goes to slot 1");
    kula_slotfile_close(&f);
    char *got = reopen_text();
    cr_assert_str_eq(got, "three");
    free(got);
    kula_buf_free(&out);
}

Test(slotfile, the_newest_slot_wins_across_a_wrap_of_the_sequence)
{
    cr_assert(kula_slot_newer(2, 1));
    cr_assert_not(kula_slot_newer(1, 2));
    cr_assert_not(kula_slot_newer(7, 7));
    cr_assert(kula_slot_newer(0, UINT64_MAX));
    cr_assert_not(kula_slot_newer(UINT64_MAX, 0));
    forge_slot(0, UINT64_MAX, "before the wrap");
    forge_slot(1, 0, "after the wrap");
    char *got = reopen_text();
    cr_assert_str_eq(got, "after the wrap");
    free(got);
    forge_slot(0, 41, "older");
    forge_slot(1, 40, "oldest");
    got = reopen_text();
    cr_assert_str_eq(got, "older");
    free(got);
    /* the next write follows the newest: sequence 42, into slot 1 */
    kula_buf out;
    kula_buf_init(&out);
    bool found;
    kula_slotfile f = open_f(&out, &found);
    put(&f, "newest");
    kula_slotfile_close(&f);
    uint8_t head[KULA_SLOT_HEADER];
    peek(SPAN, head, sizeof(head));
    cr_assert_eq(kula_get_be64(head + 8), 42);
    got = reopen_text();
    cr_assert_str_eq(got, "newest");
    free(got);
    kula_buf_free(&out);
}

Test(slotfile, an_unchanged_record_is_not_written_again)
{
    kula_buf out;
    kula_buf_init(&out);
    bool found;
    kula_slotfile f = open_f(&out, &found);
    put(&f, "same");
    put(&f, "same");
    cr_assert_eq(f.writes, 1);
    kula_slotfile_close(&f);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, SPAN + KULA_SLOT_HEADER + 4 + KULA_HASH_LEN,
                 "slot 0 was written");
    f = open_f(&out, &found); /* also what a restart read */
    put(&f, "same");
    cr_assert_eq(f.writes, 0);
    put(&f, "other");
    cr_assert_eq(f.writes, 1);
    kula_slotfile_close(&f);
    kula_buf_free(&out);
}

Test(slotfile, lengths_are_bounded)
{
    kula_buf out;
    kula_buf_init(&out);
    bool found;
    kula_slotfile f = open_f(&out, &found);
    char big[MAX_LEN + 1];
    memset(big, 'x', sizeof(big));
    errno = 0;
    cr_assert_eq(kula_slotfile_write(&f, big, sizeof(big)), -1);
    cr_assert_eq(errno, EINVAL);
    kula_slotfile_close(&f);
    /* a slot whose length field exceeds max_len is not read */
    uint8_t head[KULA_SLOT_HEADER];
    memcpy(head, "TESTSL01", 8);
    kula_put_be64(head + 8, 1);
    kula_put_be64(head + 16, UINT64_MAX);
    poke(0, head, sizeof(head));
    f = open_f(&out, &found);
    cr_assert_not(found);
    kula_slotfile_close(&f);
    kula_buf_free(&out);
}

/* ---- consensus.state and consensus.blocks ---- */

static kula_cons_saved a_state(uint64_t height)
{
    kula_cons_saved s;
    memset(&s, 0, sizeof(s));
    s.height = height;
    s.round = 2;
    s.step = 3;
    s.locked_round = 1;
    memset(s.locked_hash.b, 0xab, KULA_HASH_LEN);
    s.valid_round = -1;
    s.has_precommit = true;
    s.precommit_height = height;
    s.precommit_round = 1;
    return s;
}

/* consensus.state as the versions before the slots wrote it. */
static void write_old_state(const kula_cons_saved *s)
{
    uint8_t rec[8 + sizeof(*s) + KULA_HASH_LEN];
    memcpy(rec, "KULACS01", 8);
    memcpy(rec + 8, s, sizeof(*s));
    kula_hash sum;
    kula_hash_bytes(&sum, rec, 8 + sizeof(*s));
    memcpy(rec + 8 + sizeof(*s), sum.b, KULA_HASH_LEN);
    char p[160];
    snprintf(p, sizeof(p), "%s/consensus.state", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
    close(fd);
}

static bool read_state(kula_cons_saved *s)
{
    kula_consfile c;
    kula_consfile_init(&c, dir);
    memset(s, 0, sizeof(*s));
    bool ok = kula_consfile_read_state(&c, s);
    kula_consfile_close(&c);
    return ok;
}

Test(slotfile, the_older_state_format_is_read_and_kept_until_the_new_one_is_durable)
{
    kula_cons_saved old = a_state(10), got;
    write_old_state(&old);
    cr_assert(read_state(&got));
    cr_assert_arr_eq(&got, &old, sizeof(old));
    /* a crash right after reading it: it is still there */
    cr_assert(read_state(&got));
    cr_assert_arr_eq(&got, &old, sizeof(old));
    /* the first change is written as a slot (slot 1): the older record
     * stays at offset 0 until then */
    kula_consfile c;
    kula_consfile_init(&c, dir);
    cr_assert(kula_consfile_read_state(&c, &got));
    kula_cons_saved next = a_state(11);
    cr_assert_eq(kula_consfile_write_state(&c, &next), 0);
    kula_consfile_close(&c);
    cr_assert(read_state(&got));
    cr_assert_arr_eq(&got, &next, sizeof(next));
    char p[160];
    snprintf(p, sizeof(p), "%s/consensus.state", dir);
    size_t n;
    char *raw = tu_read_file(p, &n);
    cr_assert_not_null(raw);
    cr_assert_eq(memcmp(raw, "KULACS01", 8), 0);
    free(raw);
}

Test(slotfile, a_damaged_or_missing_state_is_no_state)
{
    kula_cons_saved got;
    cr_assert_not(read_state(&got)); /* missing: created empty */
    cr_assert_not(read_state(&got)); /* empty */
    kula_cons_saved old = a_state(10);
    write_old_state(&old);
    char p[160];
    snprintf(p, sizeof(p), "%s/consensus.state", dir);
    int fd = open(p, O_WRONLY);
    cr_assert_eq(pwrite(fd, "X", 1, 100), 1);
    close(fd);
    cr_assert_not(read_state(&got));
    /* and a state written then is read */
    kula_consfile c;
    kula_consfile_init(&c, dir);
    cr_assert_not(kula_consfile_read_state(&c, &got));
    cr_assert_eq(kula_consfile_write_state(&c, &old), 0);
    kula_consfile_close(&c);
    cr_assert(read_state(&got));
    cr_assert_arr_eq(&got, &old, sizeof(old));
}

Test(slotfile, held_blocks_in_both_formats)
{
    uint8_t b1[300], b2[5];
    memset(b1, 1, sizeof(b1));
    memset(b2, 2, sizeof(b2));
    kula_held_block in[2] = { { .height = 7, .p = b1, .n = sizeof(b1) },
                              { .height = 8, .p = b2, .n = sizeof(b2) } };
    memset(in[0].hash.b, 0x11, KULA_HASH_LEN);
    memset(in[1].hash.b, 0x22, KULA_HASH_LEN);
    /* the older format: the encoding alone */
    kula_buf enc;
    kula_buf_init(&enc);
    cr_assert_eq(kula_held_blocks_encode(&enc, in, 2), 0);
    char p[160];
    snprintf(p, sizeof(p), "%s/consensus.blocks", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_eq(write(fd, enc.data, enc.len), (ssize_t)enc.len);
    close(fd);
    kula_buf_free(&enc);
    for (int round = 0; round < 2; round++) {
        kula_consfile c;
        kula_consfile_init(&c, dir);
        kula_buf file;
        kula_buf_init(&file);
        kula_held_block out[KULA_HELD_BLOCKS_MAX];
        size_t n = kula_consfile_read_blocks(&c, &file, out);
        cr_assert_eq(n, round == 0 ? 2 : 1, "round %d", round);
        cr_assert_eq(out[0].height, 7);
        cr_assert_eq(out[0].n, sizeof(b1));
        cr_assert_arr_eq(out[0].p, b1, sizeof(b1));
        if (round == 0) /* then as slots: one block fewer */
            cr_assert_eq(kula_consfile_write_blocks(&c, in, 1), 0);
        kula_buf_free(&file);
        kula_consfile_close(&c);
    }
}
