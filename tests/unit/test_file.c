/* test_file.c -- durable file writes (node/base/file.c): a replaced file
 * holds exactly the new bytes with mode 0600 and no temporary file is left,
 * whatever a crash left behind; a failed replace leaves the old file; a
 * write of many bytes through a pipe arrives whole; errors come back with
 * errno, never silently. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "kula/base/file.h"
#include "testutil.h"

static char dir[64];
static char path[128];
static char tmp[160];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kula-file-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
}

static void teardown(void)
{
    unlink(tmp);
    unlink(path);
    rmdir(path); /* the test that makes it a directory */
    rmdir(dir);
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s: %s", p, strerror(errno));
    return st.st_mode & 07777;
}

static void write_text(const char *p, const char *text, mode_t mode)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0);
    cr_assert_eq(kula_write_all(fd, text, strlen(text)), 0);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

TestSuite(file, .init = setup, .fini = teardown);

Test(file, replace_writes_exactly_the_bytes_mode_0600_no_tmp_left)
{
    static const char text[] = "height 12\0round 3";
    cr_assert_eq(kula_file_replace(path, text, sizeof(text)), 0, "%s", strerror(errno));
    size_t len;
    char *got = tu_read_file(path, &len);
    cr_assert_eq(len, sizeof(text));
    cr_assert_arr_eq(got, text, sizeof(text));
    free(got);
    cr_assert_eq(mode_of(path), 0600);
    cr_assert_eq(access(tmp, F_OK), -1, "path.tmp was left behind");
}

Test(file, replace_over_an_old_file_and_a_crash_leftover)
{
    write_text(path, "old bytes, longer than the new ones", 0644);
    write_text(tmp, "a torn write of an earlier crash", 0644);
    cr_assert_eq(kula_file_replace(path, "new", 3), 0, "%s", strerror(errno));
    size_t len;
    char *got = tu_read_file(path, &len);
    cr_assert_eq(len, 3);
    cr_assert_arr_eq(got, "new", 3);
    free(got);
    cr_assert_eq(mode_of(path), 0600, "the leftover's mode 0644 was kept");
    cr_assert_eq(access(tmp, F_OK), -1);
}

Test(file, replace_in_a_missing_directory_fails_with_errno)
{
    char missing[200];
    snprintf(missing, sizeof(missing), "%s/no/such/dir/state", dir);
    errno = 0;
    cr_assert_eq(kula_file_replace(missing, "x", 1), -1);
    cr_assert_eq(errno, ENOENT, "errno %d (%s)", errno, strerror(errno));
}

Test(file, a_failed_rename_leaves_the_target_and_removes_the_tmp)
{
    /* path is a directory: rename(2) of a file over it fails */
    cr_assert_eq(mkdir(path, 0700), 0);
    errno = 0;
    cr_assert_eq(kula_file_replace(path, "x", 1), -1);
    cr_assert_eq(errno, EISDIR, "errno %d (%s)", errno, strerror(errno));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode), "the target was replaced");
    cr_assert_eq(access(tmp, F_OK), -1, "path.tmp was left behind");
}

#define PIPE_BYTES (16u << 20) /* far more than a pipe holds */

/* Reads the pipe to its end in odd-sized pieces, counting the bytes and
 * those that differ from what the writer sends (byte i is i * 131). */
typedef struct drained {
    int fd;
    uint64_t n, wrong;
} drained;

static void *drain(void *arg)
{
    drained *d = arg;
    uint8_t buf[777];
    ssize_t k;
    while ((k = read(d->fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < k; i++, d->n++)
            d->wrong += buf[i] != (uint8_t)(d->n * 131u);
    return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* A timer signal every 100 us, without SA_RESTART, interrupts the blocked
 * writes: each returns a partial count or fails with EINTR, and every byte
 * must still arrive once, in order. */
Test(file, write_all_through_a_pipe_arrives_whole_despite_signals)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    drained d = {.fd = p[0]};
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    cr_assert_eq(pthread_sigmask(SIG_BLOCK, &alrm, &old), 0); /* the reader inherits it */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, drain, &d), 0);
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval every = {.it_interval = {0, 100}, .it_value = {0, 100}};
    cr_assert_eq(setitimer(ITIMER_REAL, &every, NULL), 0);
    cr_assert_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);

    uint8_t *data = malloc(PIPE_BYTES);
    cr_assert_not_null(data);
    for (uint32_t i = 0; i < PIPE_BYTES; i++)
        data[i] = (uint8_t)(i * 131u);
    int rc = kula_write_all(p[1], data, PIPE_BYTES);
    int err = errno;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    close(p[1]);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(rc, 0, "%s", strerror(err));
    cr_assert_gt(alarms, 0, "no signal came during the write: the test proved nothing");
    cr_assert_eq(d.n, PIPE_BYTES, "%llu bytes arrived", (unsigned long long)d.n);
    cr_assert_eq(d.wrong, 0, "%llu bytes differ", (unsigned long long)d.wrong);
    free(data);
    close(p[0]);
}

Test(file, write_all_reports_errors)
{
    int fd = open("/dev/full", O_WRONLY);
    cr_assert_geq(fd, 0);
    errno = 0;
    cr_assert_eq(kula_write_all(fd, "x", 1), -1);
    cr_assert_eq(errno, ENOSPC);
    close(fd);
    errno = 0;
    cr_assert_eq(kula_write_all(-1, "x", 1), -1);
    cr_assert_eq(errno, EBADF);
    cr_assert_eq(kula_write_all(-1, "x", 0), 0, "writing nothing is not an error");
}

Test(file, sync_dir_and_parent)
{
    cr_assert_eq(kula_sync_dir(dir), 0);
    cr_assert_eq(kula_sync_parent(path), 0); /* dir */
    cr_assert_eq(kula_sync_parent("state"), 0); /* "." */
    cr_assert_eq(kula_sync_parent("/state"), 0); /* "/" */
    errno = 0;
    char missing[200];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    cr_assert_eq(kula_sync_dir(missing), -1);
    cr_assert_eq(errno, ENOENT);
    snprintf(missing, sizeof(missing), "%s/none/state", dir);
    cr_assert_eq(kula_sync_parent(missing), -1);
    cr_assert_eq(errno, ENOENT);
}
