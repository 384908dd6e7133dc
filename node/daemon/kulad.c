/* kulad.c -- entry point of the Kula ledger node. */
#include <stdio.h>
#include <string.h>

#include "kula/audit/backup.h"
#include "kula/base/log.h"
#include "kula/crypto/crypto.h"
#include "kula/daemon/config.h"
#include "kula/daemon/node.h"

/* kulad --restore BACKUP --datadir D: fills D, says what, and exits. */
static int restore(const kula_config *cfg)
{
    kula_backup_manifest m;
    kula_error e;
    if (kula_crypto_init() != 0) { /* the copied ledger's genesis is checked */
        fprintf(stderr, "kulad: restore: cannot initialise the cryptographic libraries\n");
        return 1;
    }
    if (kula_backup_restore(&m, cfg->restore, cfg->datadir, &e) != 0) {
        fprintf(stderr, "kulad: restore: %s\n", e.what);
        return e.code == KULA_EIO || e.code == KULA_ESTORE ? 1 : 2;
    }
    char root[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(root, m.state_root.b, KULA_HASH_LEN);
    printf("restored %s into %s: network %s, height %llu, state root %.16s, %zu wallet keys.\n"
           "Start kulad with --datadir %s: it catches up with its peers, and a validator\n"
           "signs again only after the network has decided one more block without it.\n",
           cfg->restore, cfg->datadir, m.network, (unsigned long long)m.height, root, m.keys,
           cfg->datadir);
    return 0;
}

/* kulad --check-config: the settings in force, in kulad.conf's syntax. */
static int check_config(const kula_config *cfg)
{
    char a[128];
    printf("# the settings of kulad --datadir %s (command line over %s/kulad.conf over "
           "defaults)\n",
           cfg->datadir, cfg->datadir);
    printf("genesis = %s\n", cfg->genesis);
    kula_hostport_format(a, sizeof(a), &cfg->listen);
    printf("listen = %s\n", a);
    kula_hostport_format(a, sizeof(a), &cfg->rpc);
    printf("rpc = %s\n", a);
    printf("rpc-allow-remote = %s\n", cfg->rpc_allow_remote ? "yes" : "no");
    for (size_t i = 0; i < cfg->npeers; i++) {
        kula_hostport_format(a, sizeof(a), &cfg->peers[i]);
        printf("peer = %s\n", a);
    }
    for (size_t i = 0; i < cfg->nobservers; i++) {
        char hex[65];
        kula_hex_encode(hex, cfg->observers[i], 32);
        printf("observer = %s\n", hex);
    }
    printf("max-inbound = %u\nmax-outbound = %u\n", cfg->max_inbound, cfg->max_outbound);
    printf("key = %s\n", cfg->key_file);
    if (cfg->passphrase_file[0] != '\0')
        printf("passphrase-file = %s\n", cfg->passphrase_file);
    else
        printf("# passphrase-file: none (the KULA_PASSPHRASE environment variable)\n");
    if (cfg->notify[0] != '\0')
        printf("notify = %s\n", cfg->notify);
    else
        printf("# notify: none\n");
    printf("log-level = %s\n", kula_log_level_name(cfg->log_level));
    char list[256];
    kula_log_debug_format(list, sizeof(list), cfg->log_debug);
    printf("debug = %s\n", list);
    if (cfg->log_file[0] != '\0')
        printf("log-file = %s\n", cfg->log_file);
    else
        printf("# log-file: none (standard error)\n");
    printf("state-sync = %s\nsnapshots-kept = %u\ngossip-batches = %s\n",
           cfg->state_sync ? "yes" : "no", cfg->snapshots_kept,
           cfg->gossip_batches ? "yes" : "no");
    return 0;
}

int main(int argc, char **argv)
{
    static kula_config cfg;
    kula_error e;
    if (kula_config_load(&cfg, argc, argv, &e) != 0) {
        fprintf(stderr, "kulad: %s\n", e.what);
        return 2;
    }
    if (cfg.help) {
        fputs(kula_config_usage, stdout);
        return 0;
    }
    if (cfg.version) {
        printf("kulad %s\n", KULA_VERSION_STRING);
        return 0;
    }
    if (cfg.restore[0] != '\0')
        return restore(&cfg);
    if (cfg.check_config)
        return check_config(&cfg);
    kula_log_set_level(cfg.log_level);
    kula_log_set_debug(cfg.log_debug);
    int rc = kula_log_set_file(cfg.log_file);
    if (rc != 0) {
        fprintf(stderr, "kulad: log-file %s: cannot open it: %s (the folder must exist and be "
                        "writable by kulad)\n",
                cfg.log_file, strerror(-rc));
        return 2;
    }
    return kula_node_run(&cfg);
}
