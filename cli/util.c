/* util.c -- helpers shared by kula's commands: errors, passphrases, wallet paths. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "kula/base/error.h"
#include "kula/crypto/keystore.h"

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kula: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static int prompt_tty(const char *prompt, char *buf, size_t cap)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return -1;
    struct termios old, quiet;
    int fd = fileno(tty);
    bool echo_off = tcgetattr(fd, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fprintf(tty, "%s", prompt);
    fflush(tty);
    char *got = fgets(buf, (int)cap, tty);
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    if (got == NULL)
        return -1;
    chomp(buf);
    return 0;
}

int cli_passphrase(const cli *c, const char *prompt, bool confirm, char *buf, size_t cap)
{
    if (c->passphrase_file[0] != '\0') {
        FILE *f = fopen(c->passphrase_file, "r");
        if (f == NULL)
            return cli_fail(CLI_USAGE, "--passphrase-file %s: %s", c->passphrase_file,
                            strerror(errno));
        if (fgets(buf, (int)cap, f) == NULL)
            buf[0] = '\0';
        fclose(f);
        chomp(buf);
        return 0;
    }
    const char *env = getenv("KULA_PASSPHRASE");
    if (env != NULL) {
        if (strlen(env) >= cap)
            return cli_fail(CLI_USAGE, "KULA_PASSPHRASE is too long");
        strcpy(buf, env);
        return 0;
    }
    if (prompt_tty(prompt, buf, cap) != 0)
        return cli_fail(CLI_USAGE, "no passphrase: not on a terminal, and neither "
                                   "--passphrase-file nor KULA_PASSPHRASE is set");
    if (confirm) {
        char again[1024];
        if (prompt_tty("Repeat the passphrase: ", again, sizeof(again)) != 0 ||
            strcmp(again, buf) != 0) {
            explicit_bzero(again, sizeof(again));
            return cli_fail(CLI_USAGE, "the passphrases do not match");
        }
        explicit_bzero(again, sizeof(again));
    }
    return 0;
}

int cli_key_path(const cli *c, const char *label, char *out, size_t cap)
{
    size_t n = strlen(label);
    if (n == 0 || n > KULA_KEYSTORE_MAX_LABEL || label[0] == '.')
        return cli_fail(CLI_USAGE, "key name '%s': use 1-64 of A-Z a-z 0-9 . _ -", label);
    for (size_t i = 0; i < n; i++) {
        char ch = label[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return cli_fail(CLI_USAGE, "key name '%s': use 1-64 of A-Z a-z 0-9 . _ -", label);
    }
    if (snprintf(out, cap, "%s/%s.key", c->wallet, label) >= (int)cap)
        return cli_fail(CLI_USAGE, "wallet path too long");
    return 0;
}

int cli_key_pubkey(const cli *c, const char *label, kula_pubkey *pk, char *path)
{
    char local[1300];
    if (path == NULL)
        path = local;
    int rc = cli_key_path(c, label, path, 1300);
    if (rc != 0)
        return rc;
    kula_buf b;
    kula_buf_init(&b);
    rc = kula_keystore_load(&b, path);
    if (rc == 0)
        rc = kula_keystore_peek(pk, NULL, b.data, b.len);
    kula_buf_free(&b);
    if (rc == KULA_ENOTFOUND)
        return cli_fail(CLI_REFUSED, "no key named '%s' in the wallet %s", label, c->wallet);
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "%s: %s", path, kula_strerror(rc));
    return 0;
}

int cli_unlock(const cli *c, const char *label, kula_seckey *sk, kula_pubkey *pk)
{
    char path[1300];
    int rc = cli_key_path(c, label, path, sizeof(path));
    if (rc != 0)
        return rc;
    kula_buf file;
    kula_buf_init(&file);
    rc = kula_keystore_load(&file, path);
    if (rc == KULA_ENOTFOUND) {
        kula_buf_free(&file);
        return cli_fail(CLI_REFUSED, "no key named '%s' in the wallet %s", label, c->wallet);
    }
    if (rc != 0) {
        kula_buf_free(&file);
        return cli_fail(CLI_REFUSED, "%s: %s", path, kula_strerror(rc));
    }
    char prompt[128], pass[1024];
    snprintf(prompt, sizeof(prompt), "Passphrase for key '%s': ", label);
    if ((rc = cli_passphrase(c, prompt, false, pass, sizeof(pass))) != 0) {
        kula_buf_free(&file);
        return rc;
    }
    rc = kula_keystore_open(sk, pk, file.data, file.len, pass, strlen(pass));
    explicit_bzero(pass, sizeof(pass));
    kula_buf_free(&file);
    if (rc == KULA_EPASSPHRASE)
        return cli_fail(CLI_REFUSED, "key '%s': wrong passphrase (or the file was altered)",
                        label);
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "key '%s': %s", label, kula_strerror(rc));
    return 0;
}

int cli_mkdirs(const char *path)
{
    char tmp[1300];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}
