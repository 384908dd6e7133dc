/* cmd_genesis.c -- kula genesis: create a real network's genesis and keys, or check one. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "rpc_client.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/crypto/keystore.h"

static const char genesis_usage[] =
    "Usage: kula genesis new --network NAME --out DIR --member NAME[:SECTOR[:POWER]]...\n"
    "                        [--unit NAME] [--decimals N] [--credit-limit MINOR]\n"
    "                        [--block-interval-ms MS] [--time YYYY-MM-DDTHH:MM:SSZ]\n"
    "                        [--kdf-opslimit N] [--kdf-memlimit-mib M]\n"
    "       kula genesis check FILE\n"
    "\n"
    "  new    creates DIR/GENESIS.json for a new network and one fresh key per\n"
    "         member in DIR/keys/NAME.key, encrypted with the passphrase\n"
    "         (--passphrase-file, $KULA_PASSPHRASE or a prompt).  POWER > 0 makes\n"
    "         the member a validator (default 1 for the first member, else 0).\n"
    "         Member names become key file names, so use A-Z a-z 0-9 . _ -.\n"
    "         Keys are never written into the genesis: keep DIR/keys private and\n"
    "         give each member its own key file.\n"
    "  check  validates FILE and prints its chain id.\n";

static int genesis_check(cli *c, const char *path)
{
    kula_genesis g;
    kula_error err;
    if (kula_genesis_load(&g, path, &err) != 0)
        return cli_fail(CLI_REFUSED, "%s: %s", path, err.what);
    char chain[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(chain, g.chain_id.b, KULA_HASH_LEN);
    if (c->json)
        cli_print_json(json_pack("{s:s, s:s, s:I, s:b}", "network", g.network, "chain_id", chain,
                                 "members", (json_int_t)g.nmembers, "development",
                                 g.has_dev_key));
    else
        printf("%s: valid\nnetwork  %s\nchain id %s\nmembers  %u%s\n", path, g.network, chain,
               g.nmembers, g.has_dev_key ? "\nWARNING  carries a published development key" : "");
    kula_genesis_free(&g);
    return CLI_OK;
}

static int write_new_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        off += (size_t)w;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return -1;
    }
    return close(fd);
}

static int genesis_new(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "network", required_argument, NULL, 'n' },
        { "out", required_argument, NULL, 'o' },
        { "member", required_argument, NULL, 'm' },
        { "unit", required_argument, NULL, 'u' },
        { "decimals", required_argument, NULL, 'd' },
        { "credit-limit", required_argument, NULL, 'c' },
        { "block-interval-ms", required_argument, NULL, 'b' },
        { "time", required_argument, NULL, 't' },
        { "kdf-opslimit", required_argument, NULL, 'O' },
        { "kdf-memlimit-mib", required_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    kula_genesis g;
    memset(&g, 0, sizeof(g));
    static kula_genesis_member members[KULA_MAX_VALIDATORS * 4];
    const char *out = NULL;
    uint32_t nm = 0;
    kula_keystore_params kdf = KULA_KEYSTORE_DEFAULT;
    strcpy(g.unit, "KULA");
    g.decimals = 2;
    g.params = (kula_params){ .default_credit_limit = 100000, .threshold_num = 2,
                              .threshold_den = 3, .proposal_ttl = 10000,
                              .block_interval_ms = 1000, .timeout_propose_ms = 3000,
                              .timeout_vote_ms = 1000, .timeout_delta_ms = 500,
                              .max_block_txs = 10000 };
    g.time_ms = (uint64_t)time(NULL) * 1000;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        char *end;
        long long v;
        switch (opt) {
        case 'n':
            if (strlen(optarg) > KULA_MAX_NETWORK_NAME)
                return cli_fail(CLI_USAGE, "--network: at most %u bytes", KULA_MAX_NETWORK_NAME);
            strcpy(g.network, optarg);
            break;
        case 'o': out = optarg; break;
        case 'u':
            if (strlen(optarg) > KULA_MAX_UNIT_NAME)
                return cli_fail(CLI_USAGE, "--unit: at most %u bytes", KULA_MAX_UNIT_NAME);
            strcpy(g.unit, optarg);
            break;
        case 'd':
            v = strtoll(optarg, &end, 10);
            if (*end || v < 0 || v > KULA_MAX_DECIMALS)
                return cli_fail(CLI_USAGE, "--decimals: 0 to %u", KULA_MAX_DECIMALS);
            g.decimals = (uint32_t)v;
            break;
        case 'c':
            v = strtoll(optarg, &end, 10);
            if (*end || v < 0)
                return cli_fail(CLI_USAGE, "--credit-limit: a whole number of minor units >= 0");
            g.params.default_credit_limit = v;
            break;
        case 'b':
            v = strtoll(optarg, &end, 10);
            if (*end || v < 10 || v > 600000)
                return cli_fail(CLI_USAGE, "--block-interval-ms: 10 to 600000");
            g.params.block_interval_ms = (uint32_t)v;
            break;
        case 't':
            if (kula_parse_utc(optarg, &g.time_ms) != 0)
                return cli_fail(CLI_USAGE, "--time: UTC as YYYY-MM-DDTHH:MM:SSZ");
            break;
        case 'O':
            v = strtoll(optarg, &end, 10);
            if (*end || v < KULA_KEYSTORE_OPSLIMIT_MIN || v > KULA_KEYSTORE_OPSLIMIT_MAX)
                return cli_fail(CLI_USAGE, "--kdf-opslimit: 1 to 16");
            kdf.opslimit = (uint64_t)v;
            break;
        case 'M':
            v = strtoll(optarg, &end, 10);
            if (*end || v < 1 || v > 1024)
                return cli_fail(CLI_USAGE, "--kdf-memlimit-mib: 1 to 1024");
            kdf.memlimit = (uint64_t)v << 20;
            break;
        case 'm': {
            if (nm >= sizeof(members) / sizeof(members[0]))
                return cli_fail(CLI_USAGE, "--member: too many members");
            kula_genesis_member *m = &members[nm];
            memset(m, 0, sizeof(*m));
            char spec[256];
            snprintf(spec, sizeof(spec), "%s", optarg);
            char *sector = strchr(spec, ':'), *power = NULL;
            if (sector != NULL) {
                *sector++ = '\0';
                power = strchr(sector, ':');
                if (power != NULL)
                    *power++ = '\0';
            }
            char path[1300];
            int rc = cli_key_path(c, spec, path, sizeof(path));
            if (rc != 0)
                return rc;
            const char *sec = sector != NULL && *sector ? sector : "general";
            if (strlen(sec) > KULA_MAX_NAME)
                return cli_fail(CLI_USAGE, "--member %s: SECTOR is over %u bytes", optarg,
                                KULA_MAX_NAME);
            snprintf(m->name, sizeof(m->name), "%.64s", spec);
            snprintf(m->sector, sizeof(m->sector), "%.64s", sec);
            m->voting_power = nm == 0 ? 1 : 0;
            if (power != NULL) {
                v = strtoll(power, &end, 10);
                if (*end || v < 0 || v > (1LL << 48))
                    return cli_fail(CLI_USAGE, "--member %s: POWER must be 0 to 2^48", optarg);
                m->voting_power = (uint64_t)v;
            }
            nm++;
            break;
        }
        default:
            return cli_fail(CLI_USAGE, "genesis new: bad option '%s' (see kula genesis --help)",
                            argv[optind - 1]);
        }
    }
    if (optind != argc || out == NULL || g.network[0] == '\0' || nm == 0)
        return cli_fail(CLI_USAGE,
                        "genesis new: --network, --out and at least one --member are required");
    for (uint32_t i = 0; i < nm; i++)
        members[i].credit_limit = g.params.default_credit_limit;
    g.members = members;
    g.nmembers = nm;

    /* Generate the keys first, so validation sees real public keys. */
    static kula_seckey secrets[sizeof(members) / sizeof(members[0])];
    for (uint32_t i = 0; i < nm; i++)
        if (kula_key_generate(&secrets[i], &members[i].pubkey) != 0)
            return cli_fail(CLI_REFUSED, "cannot generate keys");
    kula_error err;
    int rc = kula_genesis_validate(&g, &err);
    if (rc == 0) {
        kula_buf canon;
        kula_buf_init(&canon);
        rc = kula_genesis_encode(&canon, &g);
        kula_hash_bytes(&g.chain_id, canon.data, canon.len);
        kula_buf_free(&canon);
    } else {
        for (uint32_t i = 0; i < nm; i++)
            kula_seckey_wipe(&secrets[i]);
        return cli_fail(CLI_USAGE, "genesis new: %s", err.what);
    }

    char gpath[1200];
    snprintf(gpath, sizeof(gpath), "%s/GENESIS.json", out);
    if (access(gpath, F_OK) == 0)
        return cli_fail(CLI_REFUSED, "%s already exists; choose another --out", gpath);
    cli sub = *c;
    snprintf(sub.wallet, sizeof(sub.wallet), "%s/keys", out);
    if (cli_mkdirs(sub.wallet) != 0)
        return cli_fail(CLI_REFUSED, "cannot create %s: %s", sub.wallet, strerror(errno));
    char pass[1024];
    if ((rc = cli_passphrase(c, "Passphrase for the new keys: ", true, pass, sizeof(pass))) != 0)
        return rc;
    for (uint32_t i = 0; i < nm && rc == 0; i++) {
        char path[1300];
        cli_key_path(&sub, members[i].name, path, sizeof(path));
        kula_buf file;
        kula_buf_init(&file);
        int krc = kula_keystore_seal(&file, &secrets[i], members[i].name, pass, strlen(pass), &kdf);
        if (krc == 0)
            krc = kula_keystore_save(path, &file);
        kula_buf_free(&file);
        if (krc != 0)
            rc = cli_fail(CLI_REFUSED, "cannot write %s: %s", path, kula_strerror(krc));
    }
    explicit_bzero(pass, sizeof(pass));
    for (uint32_t i = 0; i < nm; i++)
        kula_seckey_wipe(&secrets[i]);
    if (rc != 0)
        return rc;
    char *json = kula_genesis_to_json(&g);
    if (json == NULL || write_new_file(gpath, json) != 0) {
        free(json);
        return cli_fail(CLI_REFUSED, "cannot write %s: %s", gpath, strerror(errno));
    }
    free(json);
    char chain[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(chain, g.chain_id.b, KULA_HASH_LEN);
    if (c->json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "genesis", gpath, "keys", sub.wallet,
                                 "chain_id", chain));
    else
        printf("wrote %s (%u members)\nkeys in %s\nchain id %s\n", gpath, nm, sub.wallet, chain);
    return CLI_OK;
}

int cmd_genesis(cli *c)
{
    if (c->argc < 2 || cli_wants_help(c->argc, c->argv)) {
        fputs(genesis_usage, c->argc < 2 ? stderr : stdout);
        return c->argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = c->argv[1];
    if (strcmp(sub, "new") == 0)
        return genesis_new(c, c->argc - 1, c->argv + 1);
    if (strcmp(sub, "check") == 0) {
        if (c->argc != 3)
            return cli_fail(CLI_USAGE, "genesis check: expected one FILE");
        return genesis_check(c, c->argv[2]);
    }
    return cli_fail(CLI_USAGE, "genesis: unknown subcommand '%s' (see kula genesis --help)", sub);
}
