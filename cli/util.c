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

#include <jansson.h>
#include <stdint.h>

#include "cli.h"
#include "kula/base/error.h"
#include "kula/crypto/keystore.h"

#define KEY_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

static bool json_errors; /* --json: errors go to stdout as JSON too */

void cli_set_json_errors(bool on)
{
    json_errors = on;
}

int cli_fail(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "kula: %s\n", msg);
    if (json_errors) {
        json_t *j = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", code, "name",
                              cli_exit_name(code), "message", msg);
        char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        if (text != NULL)
            printf("%s\n", text);
        free(text);
        json_decref(j);
        fflush(stdout);
    }
    return code;
}

json_t *cli_member_param(const cli *c, const char *s)
{
    size_t n = strlen(s);
    if (n > 0 && n <= 10 && strspn(s, "0123456789") == n) {
        unsigned long long v = strtoull(s, NULL, 10);
        if (v > 0 && v <= UINT32_MAX)
            return json_integer((json_int_t)v);
    }
    /* A wallet key's name stands for its public key (kula balance dev). */
    char path[1300];
    kula_buf b;
    kula_buf_init(&b);
    kula_pubkey pk;
    bool is_key = n <= KULA_KEYSTORE_MAX_LABEL && strspn(s, KEY_NAME_CHARS) == n && s[0] != '.' &&
                  snprintf(path, sizeof(path), "%s/%s.key", c->wallet, s) < (int)sizeof(path) &&
                  kula_keystore_load(&b, path) == 0 &&
                  kula_keystore_peek(&pk, NULL, b.data, b.len) == 0;
    kula_buf_free(&b);
    if (is_key) {
        char hex[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(hex, pk.b, KULA_PUBKEY_LEN);
        return json_string(hex);
    }
    return json_string(s);
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

/* The rules of a passphrase (README "Passphrases"): never empty; a new one
 * (confirm) has at least CLI_PASSPHRASE_MIN characters. */
static int passphrase_rules(bool is_new, char *buf, size_t cap)
{
    if (buf[0] == '\0') {
        explicit_bzero(buf, cap);
        return cli_fail(CLI_USAGE, "the passphrase is empty: a key needs a passphrase");
    }
    if (is_new && strlen(buf) < CLI_PASSPHRASE_MIN) {
        explicit_bzero(buf, cap);
        return cli_fail(CLI_USAGE, "the new passphrase is too short: use at least %d characters",
                        CLI_PASSPHRASE_MIN);
    }
    return 0;
}

/* From file if not NULL, else $KULA_PASSPHRASE when use_env, else the terminal. */
static int read_passphrase(const char *file, bool use_env, const char *prompt, bool confirm,
                           char *buf, size_t cap);

int cli_passphrase(const cli *c, const char *prompt, bool confirm, char *buf, size_t cap)
{
    const char *file = c->passphrase_file[0] != '\0' ? c->passphrase_file : NULL;
    int rc = read_passphrase(file, true, prompt, confirm, buf, cap);
    return rc != 0 ? rc : passphrase_rules(confirm, buf, cap);
}

int cli_passphrase_from(const char *file, const char *prompt, bool confirm, char *buf, size_t cap)
{
    int rc = read_passphrase(file, false, prompt, confirm, buf, cap);
    return rc != 0 ? rc : passphrase_rules(confirm, buf, cap);
}

static int read_passphrase(const char *file, bool use_env, const char *prompt, bool confirm,
                           char *buf, size_t cap)
{
    if (file != NULL) {
        FILE *f = fopen(file, "r");
        if (f == NULL)
            return cli_fail(CLI_USAGE, "passphrase file %s: %s", file,
                            strerror(errno));
        if (fgets(buf, (int)cap, f) == NULL)
            buf[0] = '\0';
        fclose(f);
        chomp(buf);
        return 0;
    }
    const char *env = use_env ? getenv("KULA_PASSPHRASE") : NULL;
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

int cli_read_file(const char *path, size_t max, char **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char *b = malloc(max + 2);
    size_t got = b != NULL ? fread(b, 1, max + 1, f) : 0;
    int err = b == NULL ? 0 : ferror(f) ? EIO : -1;
    fclose(f);
    if (err >= 0) {
        free(b);
        errno = err;
        return -1;
    }
    if (got > max) {
        free(b);
        return 1;
    }
    b[got] = '\0';
    *buf = b;
    *n = got;
    return 0;
}
