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
#include "cmd_genesis.h"
#include "rpc_client.h"
#include "kula/base/amount.h"
#include "kula/base/error.h"
#include "kula/base/file.h"
#include "kula/types/genesis.h"
#include "kula/crypto/keystore.h"

static const char genesis_usage[] =
    "Usage: kula genesis new --network NAME --out DIR --member NAME[:SECTOR[:POWER[:PUBKEY]]]...\n"
    "                        [--unit NAME] [--decimals N] [--credit-limit AMOUNT]\n"
    "                        [--block-interval-ms MS] [--snapshot-interval BLOCKS]\n"
    "                        [--time YYYY-MM-DDTHH:MM:SSZ]\n"
    "                        [--kdf-opslimit N] [--kdf-memlimit-mib M]\n"
    "       kula genesis check FILE\n"
    "\n"
    "  new    creates DIR/GENESIS.json for a new network, the members in the order\n"
    "         given (the first is member 1).  NAME and SECTOR are up to 64 bytes of\n"
    "         any language, spaces included (\"Boulangerie Dupont\", \"café\"); SECTOR\n"
    "         defaults to general.  POWER > 0 makes the member a validator (default\n"
    "         1 for the first member, else 0).\n"
    "         A member who brings its own key gives PUBKEY, the 64 hex digits its\n"
    "         kula keys show prints, so that nobody else ever holds its secret key.\n"
    "         For every other member a fresh key is made in DIR/keys/LABEL.key,\n"
    "         LABEL being its name in A-Z a-z 0-9 . _ - (\"Boulangerie-Dupont\",\n"
    "         \"cafe\"), encrypted with the passphrase (--passphrase-file,\n"
    "         $KULA_PASSPHRASE or a prompt); keep DIR/keys private and give each\n"
    "         member its own key file.  Keys are never written into the genesis.\n"
    "         A NAME may contain ':': kula reads --member from the right, the\n"
    "         fields after NAME never contain one.  With 3 or more ':' and a\n"
    "         number before the last field, the form is NAME:SECTOR:POWER:PUBKEY;\n"
    "         else with 2 or more ':' and a number last, NAME:SECTOR:POWER; else\n"
    "         NAME:SECTOR; so \"Chez: Nous:food\" is the member \"Chez: Nous\".\n"
    "         --credit-limit: every member's credit limit, an amount in the unit\n"
    "         (2000 or 2000.00; at most --decimals digits after the point, nothing\n"
    "         is rounded; default 1000.00).  --unit (default KULA) and --decimals\n"
    "         (default 2) name the unit and its minor units.\n"
    "         --snapshot-interval: every this many blocks the state root commits to\n"
    "         the whole state, so that a new node can start from a copy of it\n"
    "         (default 1000; 0: never; the members can change it by a proposal,\n"
    "         parameter snapshot_interval_blocks).\n"
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
    if (kula_write_all(fd, text, strlen(text)) != 0 || kula_write_all(fd, "\n", 1) != 0 ||
        fsync(fd) != 0) {
        int err = errno;
        close(fd);
        unlink(path);
        errno = err;
        return -1;
    }
    return close(fd);
}

/* Refuses a second member of the same name or public key, naming both. */
static int check_duplicates(const genesis_member_spec *m, const char *const *spec, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(m[i].name, m[j].name) == 0)
                return cli_fail(CLI_USAGE, "--member '%s': the name '%s' is already member %u's "
                                           "(--member '%s'); give each member its own name",
                                spec[i], m[i].name, j + 1, spec[j]);
            if (m[i].has_pubkey && m[j].has_pubkey &&
                memcmp(m[i].pubkey.b, m[j].pubkey.b, KULA_PUBKEY_LEN) == 0)
                return cli_fail(CLI_USAGE, "--member '%s': its PUBKEY is already member %u's "
                                           "(--member '%s'); each member has a key of its own",
                                spec[i], j + 1, spec[j]);
        }
    return CLI_OK;
}

/* The labels of the keys made here: a member's from its name; one already
 * taken gets "-ID" (its member id) at its end.
 * Returns: CLI_OK, or CLI_USAGE when even that is taken. */
static int make_labels(char (*label)[KULA_KEYSTORE_MAX_LABEL + 1],
                       const genesis_member_spec *m, const char *const *spec, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        label[i][0] = '\0';
        if (m[i].has_pubkey)
            continue;
        genesis_key_label(label[i], m[i].name);
        for (int round = 0; round < 2; round++) {
            uint32_t j = 0;
            while (j < i && strcmp(label[i], label[j]) != 0)
                j++;
            if (j == i)
                break;
            if (round == 1)
                return cli_fail(CLI_USAGE, "--member '%s': its key's file name %s.key is "
                                           "also member %u's; give it another name",
                                spec[i], label[i], j + 1);
            char id[16];
            int k = snprintf(id, sizeof(id), "-%u", i + 1);
            size_t at = strlen(label[i]);
            if (at + (size_t)k > KULA_KEYSTORE_MAX_LABEL)
                at = KULA_KEYSTORE_MAX_LABEL - (size_t)k;
            memcpy(label[i] + at, id, (size_t)k + 1);
        }
    }
    return CLI_OK;
}

/* What kula genesis new made: the file, each member and its key, the chain id. */
static void print_new(const cli *c, const kula_genesis *g,
                      const char (*label)[KULA_KEYSTORE_MAX_LABEL + 1], const char *gpath,
                      const char *keys)
{
    char chain[2 * KULA_HASH_LEN + 1], limit[64];
    kula_hex_encode(chain, g->chain_id.b, KULA_HASH_LEN);
    kula_amount_format(limit, sizeof(limit), (kula_amount){ g->params.default_credit_limit },
                       g->decimals);
    json_t *list = json_array();
    if (!c->json)
        printf("wrote %s: network %s, %u members, a credit limit of %s %s each\n", gpath,
               g->network, g->nmembers, limit, g->unit);
    for (uint32_t i = 0; i < g->nmembers; i++) {
        const kula_genesis_member *m = &g->members[i];
        char pk[2 * KULA_PUBKEY_LEN + 1], file[1300] = "";
        kula_hex_encode(pk, m->pubkey.b, KULA_PUBKEY_LEN);
        if (label[i][0] != '\0')
            snprintf(file, sizeof(file), "%s/%s.key", keys, label[i]);
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:I, s:s, s:s?}", "id",
                                              (json_int_t)(i + 1), "name", m->name, "sector",
                                              m->sector, "voting_power",
                                              (json_int_t)m->voting_power, "pubkey", pk,
                                              "key_file", file[0] ? file : NULL));
        if (c->json)
            continue;
        char role[48] = "member";
        if (m->voting_power > 0)
            snprintf(role, sizeof(role), "validator (power %llu)",
                     (unsigned long long)m->voting_power);
        if (file[0])
            printf("  #%u %s (%s), %s: new key %s\n", i + 1, m->name, m->sector, role, file);
        else
            printf("  #%u %s (%s), %s: its own key %.16s..\n", i + 1, m->name, m->sector, role,
                   pk);
    }
    if (c->json)
        cli_print_json(json_pack("{s:s, s:s?, s:s, s:o}", "genesis", gpath, "keys", keys,
                                 "chain_id", chain, "members", list));
    else {
        json_decref(list);
        printf("chain id %s\n", chain);
        if (keys != NULL)
            printf("keys in %s: give each member its own key file, and keep the folder "
                   "private\n", keys);
    }
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
        { "snapshot-interval", required_argument, NULL, 's' },
        { "time", required_argument, NULL, 't' },
        { "kdf-opslimit", required_argument, NULL, 'O' },
        { "kdf-memlimit-mib", required_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    enum { MAX_MEMBERS = KULA_MAX_VALIDATORS * 4 };
    kula_genesis g;
    memset(&g, 0, sizeof(g));
    static kula_genesis_member members[MAX_MEMBERS];
    static genesis_member_spec specs[MAX_MEMBERS];
    static const char *spec_text[MAX_MEMBERS];
    static char label[MAX_MEMBERS][KULA_KEYSTORE_MAX_LABEL + 1];
    const char *out = NULL, *credit = "1000";
    uint32_t nm = 0;
    kula_keystore_params kdf = KULA_KEYSTORE_DEFAULT;
    strcpy(g.unit, "KULA");
    g.decimals = 2;
    g.params = (kula_params){ .threshold_num = 2, .threshold_den = 3, .proposal_ttl = 10000,
                              .block_interval_ms = 1000, .timeout_propose_ms = 3000,
                              .timeout_vote_ms = 1000, .timeout_delta_ms = 500,
                              .max_block_txs = 10000, .snapshot_interval = 1000 };
    g.time_ms = (uint64_t)time(NULL) * 1000;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        char *end;
        long long v;
        char err[512];
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
        case 'c': credit = optarg; break; /* read once --decimals is known */
        case 'b':
            v = strtoll(optarg, &end, 10);
            if (*end || v < 10 || v > 600000)
                return cli_fail(CLI_USAGE, "--block-interval-ms: 10 to 600000");
            g.params.block_interval_ms = (uint32_t)v;
            break;
        case 's':
            v = strtoll(optarg, &end, 10);
            if (*end || end == optarg || v < 0 || v > 10000000)
                return cli_fail(CLI_USAGE, "--snapshot-interval: 0 to 10000000 blocks (0: never)");
            g.params.snapshot_interval = (uint64_t)v;
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
        case 'm':
            if (nm >= MAX_MEMBERS)
                return cli_fail(CLI_USAGE, "--member '%s': at most %u members in a genesis; "
                                           "admit the others by vote", optarg, MAX_MEMBERS);
            if (genesis_member_parse(&specs[nm], optarg, err, sizeof(err)) != 0)
                return cli_fail(CLI_USAGE, "%s", err);
            spec_text[nm++] = optarg;
            break;
        case ':':
            return cli_fail(CLI_USAGE, "genesis new: %s expects a value (see kula genesis --help)",
                            argv[optind - 1]);
        default:
            return cli_fail(CLI_USAGE, "genesis new: bad option '%s' (see kula genesis --help)",
                            argv[optind - 1]);
        }
    }
    if (optind != argc || out == NULL || g.network[0] == '\0' || nm == 0)
        return cli_fail(CLI_USAGE,
                        "genesis new: --network, --out and at least one --member are required");
    char msg[512];
    if (cli_amount_parse(&g.params.default_credit_limit, "--credit-limit", credit, g.network,
                         g.unit, g.decimals, msg, sizeof(msg)) != 0)
        return cli_fail(CLI_USAGE, "%s", msg);
    if (g.params.default_credit_limit < 0)
        return cli_fail(CLI_USAGE, "--credit-limit: '%s' is below 0", credit);
    if (check_duplicates(specs, spec_text, nm) != CLI_OK ||
        make_labels(label, specs, spec_text, nm) != CLI_OK)
        return CLI_USAGE;
    uint32_t nkeys = 0;
    for (uint32_t i = 0; i < nm; i++) {
        kula_genesis_member *m = &members[i];
        memset(m, 0, sizeof(*m));
        strcpy(m->name, specs[i].name);
        strcpy(m->sector, specs[i].sector);
        m->voting_power = specs[i].has_power ? specs[i].power : i == 0;
        m->credit_limit = g.params.default_credit_limit;
        m->pubkey = specs[i].pubkey;
        nkeys += !specs[i].has_pubkey;
    }
    g.members = members;
    g.nmembers = nm;

    /* Generate the keys first, so validation sees real public keys. */
    static kula_seckey secrets[MAX_MEMBERS];
    for (uint32_t i = 0; i < nm; i++)
        if (!specs[i].has_pubkey && kula_key_generate(&secrets[i], &members[i].pubkey) != 0)
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

    if (rc != 0) { /* out of memory */
        for (uint32_t i = 0; i < nm; i++)
            kula_seckey_wipe(&secrets[i]);
        return cli_fail(CLI_REFUSED, "cannot encode the genesis: %s", kula_strerror(rc));
    }

    char gpath[1200];
    snprintf(gpath, sizeof(gpath), "%s/GENESIS.json", out);
    if (access(gpath, F_OK) == 0)
        return cli_fail(CLI_REFUSED, "%s already exists; choose another --out", gpath);
    cli sub = *c;
    snprintf(sub.wallet, sizeof(sub.wallet), "%s/keys", out);
    if (cli_mkdirs(nkeys > 0 ? sub.wallet : out) != 0)
        return cli_fail(CLI_REFUSED, "cannot create %s: %s", nkeys > 0 ? sub.wallet : out,
                        strerror(errno));
    char pass[1024] = "";
    if (nkeys > 0 &&
        (rc = cli_passphrase(c, "Passphrase for the new keys: ", true, pass, sizeof(pass))) != 0)
        return rc;
    for (uint32_t i = 0; i < nm && rc == 0; i++) {
        if (specs[i].has_pubkey)
            continue;
        char path[1300];
        if ((rc = cli_key_path(&sub, label[i], path, sizeof(path))) != 0)
            break;
        kula_buf file;
        kula_buf_init(&file);
        int krc = kula_keystore_seal(&file, &secrets[i], label[i], pass, strlen(pass), &kdf);
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
    print_new(c, &g, label, gpath, nkeys > 0 ? sub.wallet : NULL);
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
