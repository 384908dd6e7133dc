/* cmd_keys.c -- kula keys: the wallet's encrypted keys. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rpc_client.h"
#include "kula/base/error.h"
#include "kula/base/file.h"
#include "kula/types/genesis.h"
#include "kula/crypto/keystore.h"

static const char keys_usage[] =
    "Usage: kula keys new NAME [--kdf-opslimit N] [--kdf-memlimit-mib M]\n"
    "       kula keys list\n"
    "       kula keys show NAME\n"
    "       kula keys import NAME [--from FILE | --dev GENESIS.json]\n"
    "       kula keys export NAME\n"
    "       kula keys passwd NAME [--new-passphrase-file FILE]\n"
    "\n"
    "Keys live in the wallet directory (--wallet, default DATADIR/wallet), one\n"
    "file per key, encrypted with a passphrase (Argon2id + XChaCha20-Poly1305;\n"
    "proto/KEYSTORE.md).  The passphrase comes from --passphrase-file, else\n"
    "$KULA_PASSPHRASE, else a prompt.\n"
    "\n"
    "  new      create a key; the KDF cost defaults to 3 passes over 64 MiB\n"
    "  list     the wallet's keys with their public keys (no passphrase needed)\n"
    "  show     one key's public key and file\n"
    "  import   store an existing secret key, read as 64 hex digits from FILE\n"
    "           (or standard input); --dev takes the published development key\n"
    "           of a development GENESIS.json\n"
    "  export   print the secret key as hex (keep it offline!)\n"
    "  passwd   change a key's passphrase: the old one as for any key, the new\n"
    "           one from FILE or a prompt (asked twice); the file is replaced\n"
    "           atomically and the secret is never written unencrypted\n"
    "\n"
    "Passphrases: never empty; a new one has at least 8 characters.\n";

static int save_new(const cli *c, const char *name, const kula_seckey *sk,
                    const kula_keystore_params *params)
{
    char path[1300];
    int rc = cli_key_path(c, name, path, sizeof(path));
    if (rc != 0)
        return rc;
    if (cli_mkdirs(c->wallet) != 0)
        return cli_fail(CLI_REFUSED, "cannot create the wallet %s: %s", c->wallet, strerror(errno));
    char pass[1024];
    char prompt[128];
    snprintf(prompt, sizeof(prompt), "New passphrase for key '%s': ", name);
    if ((rc = cli_passphrase(c, prompt, true, pass, sizeof(pass))) != 0)
        return rc;
    kula_buf file;
    kula_buf_init(&file);
    rc = kula_keystore_seal(&file, sk, name, pass, strlen(pass), params);
    explicit_bzero(pass, sizeof(pass));
    if (rc == 0)
        rc = kula_keystore_save(path, &file);
    kula_buf_free(&file);
    if (rc == KULA_EEXIST)
        return cli_fail(CLI_REFUSED, "a key named '%s' already exists (%s)", name, path);
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "cannot save %s: %s", path, kula_strerror(rc));
    kula_pubkey pk;
    if (kula_key_public(&pk, sk) != 0)
        return cli_fail(CLI_REFUSED, "%s: the key is not a valid key", path);
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, pk.b, KULA_PUBKEY_LEN);
    if (c->json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "name", name, "pubkey", hex, "file", path));
    else
        printf("key '%s' saved to %s\npublic key %s\n", name, path, hex);
    return CLI_OK;
}

static int keys_new(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "kdf-opslimit", required_argument, NULL, 'o' },
        { "kdf-memlimit-mib", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    kula_keystore_params params = KULA_KEYSTORE_DEFAULT;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        char *end;
        unsigned long v;
        switch (opt) {
        case 'o':
            v = strtoul(optarg, &end, 10);
            if (*end || v < KULA_KEYSTORE_OPSLIMIT_MIN || v > KULA_KEYSTORE_OPSLIMIT_MAX)
                return cli_fail(CLI_USAGE, "--kdf-opslimit: a number from %u to %u",
                                KULA_KEYSTORE_OPSLIMIT_MIN, KULA_KEYSTORE_OPSLIMIT_MAX);
            params.opslimit = v;
            break;
        case 'm':
            v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > 1024)
                return cli_fail(CLI_USAGE, "--kdf-memlimit-mib: a number from 1 to 1024");
            params.memlimit = (uint64_t)v << 20;
            break;
        default:
            return cli_fail(CLI_USAGE, "keys new: bad option '%s' (see kula keys --help)",
                            argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_fail(CLI_USAGE, "keys new: expected one NAME (see kula keys --help)");
    kula_seckey sk;
    kula_pubkey pk;
    if (kula_key_generate(&sk, &pk) != 0)
        return cli_fail(CLI_REFUSED, "cannot generate a key");
    int rc = save_new(c, argv[optind], &sk, &params);
    kula_seckey_wipe(&sk);
    return rc;
}

static int list_one(const cli *c, const char *file, bool *first)
{
    char path[2400];
    snprintf(path, sizeof(path), "%s/%s", c->wallet, file);
    kula_buf b;
    kula_buf_init(&b);
    kula_pubkey pk;
    char label[KULA_KEYSTORE_MAX_LABEL + 1];
    int rc = kula_keystore_load(&b, path);
    if (rc == 0)
        rc = kula_keystore_peek(&pk, label, b.data, b.len);
    kula_buf_free(&b);
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) - 4), file);
    if (rc != 0) {
        fprintf(stderr, "kula: %s: %s (skipped)\n", path, kula_strerror(rc));
        return 0;
    }
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, pk.b, KULA_PUBKEY_LEN);
    if (c->json) {
        char *one = json_dumps(json_pack("{s:s, s:s}", "name", name, "pubkey", hex),
                               JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s%s", *first ? "" : ",", one != NULL ? one : "{}");
        free(one);
    } else
        printf("%-24s %s\n", name, hex);
    *first = false;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int keys_list(cli *c)
{
    DIR *d = opendir(c->wallet);
    if (d == NULL && errno != ENOENT)
        return cli_fail(CLI_REFUSED, "cannot read the wallet %s: %s", c->wallet, strerror(errno));
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && n < 4096) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".key") == 0 && e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    }
    if (d != NULL)
        closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    bool first = true;
    if (c->json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        if (names[i] != NULL)
            list_one(c, names[i], &first);
        free(names[i]);
    }
    if (c->json)
        printf("]\n");
    else if (n == 0)
        printf("no keys in %s (create one with 'kula keys new NAME')\n", c->wallet);
    return CLI_OK;
}

static int keys_show(cli *c, const char *name)
{
    char path[1300];
    kula_pubkey pk;
    int rc = cli_key_pubkey(c, name, &pk, path);
    if (rc != 0)
        return rc;
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, pk.b, KULA_PUBKEY_LEN);
    if (c->json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "name", name, "pubkey", hex, "file", path));
    else
        printf("name       %s\npublic key %s\nfile       %s\n", name, hex, path);
    return CLI_OK;
}

static int keys_import(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' },
        { "dev", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    const char *from = NULL, *dev = NULL;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case 'f': from = optarg; break;
        case 'd': dev = optarg; break;
        default:
            return cli_fail(CLI_USAGE, "keys import: bad option '%s' (see kula keys --help)",
                            argv[optind - 1]);
        }
    }
    if (argc - optind != 1 || (from != NULL && dev != NULL))
        return cli_fail(CLI_USAGE, "keys import: expected NAME and at most one of --from, --dev");
    kula_seckey sk;
    if (dev != NULL) {
        kula_genesis g;
        kula_error err;
        if (kula_genesis_load(&g, dev, &err) != 0)
            return cli_fail(CLI_REFUSED, "%s: %s", dev, err.what);
        if (!g.has_dev_key) {
            kula_genesis_free(&g);
            return cli_fail(CLI_REFUSED, "%s has no development key", dev);
        }
        sk = g.dev_key;
        kula_genesis_free(&g);
        fprintf(stderr, "kula: importing the PUBLISHED development key: for development only\n");
    } else {
        FILE *f = from != NULL ? fopen(from, "r") : stdin;
        if (f == NULL)
            return cli_fail(CLI_USAGE, "--from %s: %s", from, strerror(errno));
        char line[256] = "";
        char *got = fgets(line, sizeof(line), f);
        if (f != stdin)
            fclose(f);
        size_t n = got != NULL ? strcspn(line, "\r\n") : 0;
        line[n] = '\0';
        int bad = kula_hex_decode(sk.b, KULA_SECKEY_LEN, line);
        explicit_bzero(line, sizeof(line));
        if (bad)
            return cli_fail(CLI_REFUSED, "the secret key must be 64 hex digits on one line");
    }
    kula_pubkey pk;
    if (kula_key_public(&pk, &sk) != 0) {
        kula_seckey_wipe(&sk);
        return cli_fail(CLI_REFUSED, "not a valid secret key");
    }
    int rc = save_new(c, argv[optind], &sk, NULL);
    kula_seckey_wipe(&sk);
    return rc;
}

static int keys_export(cli *c, const char *name)
{
    kula_seckey sk;
    kula_pubkey pk;
    int rc = cli_unlock(c, name, &sk, &pk);
    if (rc != 0)
        return rc;
    char hex[2 * KULA_SECKEY_LEN + 1];
    kula_hex_encode(hex, sk.b, KULA_SECKEY_LEN);
    kula_seckey_wipe(&sk);
    fprintf(stderr, "kula: this is the SECRET key of '%s': anyone who sees it can sign as you\n",
            name);
    printf("%s\n", hex);
    explicit_bzero(hex, sizeof(hex));
    return CLI_OK;
}

/* Replaces path by file: the new bytes go to path.new (kula_keystore_save:
 * synced, never over an existing file), then rename(2) swaps them in, so the
 * key is at every moment either the old file or the new one. */
static int replace_keystore(const char *path, const kula_buf *file)
{
    char tmp[1400];
    if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
        return cli_fail(CLI_REFUSED, "%s: path too long", path);
    (void)unlink(tmp); /* a leftover of an interrupted passwd holds no secret in clear */
    int rc = kula_keystore_save(tmp, file);
    if (rc != 0)
        return cli_fail(CLI_REFUSED, "cannot write %s: %s", tmp, kula_strerror(rc));
    if (rename(tmp, path) != 0) {
        int err = errno;
        (void)unlink(tmp);
        return cli_fail(CLI_REFUSED, "cannot replace %s: %s", path, strerror(err));
    }
    if (kula_sync_parent(path) != 0)
        return cli_fail(CLI_REFUSED, "%s was replaced, but its directory cannot be synced: %s",
                        path, strerror(errno));
    return 0;
}

static int keys_passwd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "new-passphrase-file", required_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 },
    };
    const char *newfile = NULL;
    int opt;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': newfile = optarg; break;
        case ':':
            return cli_fail(CLI_USAGE, "keys passwd: %s expects a FILE (see kula help keys)",
                            argv[optind - 1]);
        default:
            return cli_fail(CLI_USAGE, "keys passwd: unknown option '%s' (see kula help keys)",
                            argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_fail(CLI_USAGE, "keys passwd: expected one NAME (see kula help keys)");
    const char *name = argv[optind];
    char path[1300];
    int rc = cli_key_path(c, name, path, sizeof(path));
    if (rc != 0)
        return rc;
    kula_seckey sk;
    kula_pubkey pk;
    if ((rc = cli_unlock(c, name, &sk, &pk)) != 0)
        return rc;
    char pass[1024], prompt[128];
    snprintf(prompt, sizeof(prompt), "New passphrase for key '%s': ", name);
    rc = cli_passphrase_from(newfile, prompt, true, pass, sizeof(pass));
    kula_buf file;
    kula_buf_init(&file);
    if (rc == 0) {
        kula_keystore_params params = KULA_KEYSTORE_DEFAULT;
        int sr = kula_keystore_seal(&file, &sk, name, pass, strlen(pass), &params);
        rc = sr != 0 ? cli_fail(CLI_REFUSED, "cannot encrypt key '%s': %s", name,
                                kula_strerror(sr))
                     : replace_keystore(path, &file);
    }
    explicit_bzero(pass, sizeof(pass));
    kula_seckey_wipe(&sk);
    kula_buf_free(&file);
    if (rc != 0)
        return rc;
    if (c->json)
        cli_print_json(json_pack("{s:s, s:s}", "name", name, "file", path));
    else
        printf("key '%s': passphrase changed (%s)\n", name, path);
    return CLI_OK;
}

int cmd_keys(cli *c)
{
    if (c->argc < 2 || cli_wants_help(c->argc, c->argv)) {
        fputs(keys_usage, c->argc < 2 ? stderr : stdout);
        return c->argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = c->argv[1];
    int argc = c->argc - 1;
    char **argv = c->argv + 1;
    if (strcmp(sub, "new") == 0)
        return keys_new(c, argc, argv);
    if (strcmp(sub, "list") == 0) {
        if (argc != 1)
            return cli_fail(CLI_USAGE, "keys list takes no arguments");
        return keys_list(c);
    }
    if (strcmp(sub, "import") == 0)
        return keys_import(c, argc, argv);
    if (strcmp(sub, "passwd") == 0)
        return keys_passwd(c, argc, argv);
    if (strcmp(sub, "show") == 0 || strcmp(sub, "export") == 0) {
        if (argc != 2)
            return cli_fail(CLI_USAGE, "keys %s: expected one NAME", sub);
        return sub[0] == 's' ? keys_show(c, argv[1]) : keys_export(c, argv[1]);
    }
    return cli_fail(CLI_USAGE, "keys: unknown subcommand '%s' (see kula keys --help)", sub);
}
