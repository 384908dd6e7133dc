/* config.h -- kulad's settings: command line over DATADIR/kulad.conf over defaults. */
#ifndef KULA_CONFIG_H
#define KULA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/base/hostport.h"
#include "kula/base/log.h"

#define KULA_MAX_PEERS_CONFIGURED 64
#define KULA_MAX_OBSERVERS 64
#define KULA_DEFAULT_MAX_INBOUND 32
#define KULA_DEFAULT_MAX_OUTBOUND 8
#define KULA_DEFAULT_SNAPSHOTS_KEPT 2
#define KULA_DEFAULT_DATADIR "kula-data"
#define KULA_DEFAULT_GENESIS "GENESIS.json"
#define KULA_DEFAULT_LISTEN "127.0.0.1:7400"
#define KULA_DEFAULT_RPC "127.0.0.1:7401"


typedef struct kula_config {
    char datadir[1024];
    char genesis[1024];
    kula_hostport listen;
    kula_hostport rpc;
    bool rpc_allow_remote;      /* serve the API beyond loopback (explicitly) */
    kula_hostport peers[KULA_MAX_PEERS_CONFIGURED];
    size_t npeers;
    /* identity keys (32-byte x-only, hex) admitted besides the members' */
    uint8_t observers[KULA_MAX_OBSERVERS][32];
    size_t nobservers;
    unsigned max_inbound;       /* peers that dialed this node */
    unsigned max_outbound;      /* peers this node dials */
    char key_file[1024];        /* validator keystore; default DATADIR/node.key */
    char passphrase_file[1024]; /* passphrase for key_file; else $KULA_PASSPHRASE */
    char notify[1024];          /* --notify CMD: run for each event (node/api/events.h) */
    bool reindex;
    bool help;
    bool version;
    int verbosity;              /* 0 normal, 1 debug */
    enum kula_log_level log_level; /* lines below it are dropped (default info) */
    uint32_t log_debug;         /* subsystems logged at debug whatever the level */
    char log_file[1024];        /* "" (default): stderr; else appended, reopened on SIGHUP */
    char restore[1024];         /* --restore BACKUP: fill an empty --datadir, then exit */
    bool check_config;          /* --check-config: print the settings, then exit */
    bool state_sync;            /* an empty node starts from a peer's snapshot */
    unsigned snapshots_kept;    /* copies of the state kept for peers (default 2) */
    bool gossip_batches;        /* transactions gossiped as TX_BATCH (default no) */
} kula_config;

/* Fills cfg from argv, then from DATADIR/kulad.conf for anything the command
 * line did not set, then from defaults.
 * Out: e (may be NULL), on failure one line naming the option or the line of
 *      kulad.conf and what is wrong with it.
 * Returns: 0 or KULA_ECONFIG. */
KULA_MUST_CHECK
int kula_config_load(kula_config *cfg, int argc, char **argv, kula_error *e);

/* The --help text of kulad. */
extern const char kula_config_usage[];

#endif /* KULA_CONFIG_H */
