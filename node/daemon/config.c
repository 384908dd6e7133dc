/* config.c -- kulad's command line and configuration file. */
#include "kula/daemon/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kula/crypto/crypto.h"
#include "kula/base/error.h"

const char kula_config_usage[] =
    "Usage: kulad [OPTIONS]\n"
    "Run a Kula ledger node.\n"
    "\n"
    "Options (each may also be set in DATADIR/kulad.conf as 'name = value'):\n"
    "  --datadir DIR         data directory (default ./" KULA_DEFAULT_DATADIR ")\n"
    "  --genesis FILE        network genesis (default ./" KULA_DEFAULT_GENESIS ")\n"
    "  --listen HOST:PORT    address for peers (default " KULA_DEFAULT_LISTEN ")\n"
    "  --rpc HOST:PORT       local API address (default " KULA_DEFAULT_RPC "); an\n"
    "                        address beyond loopback needs --rpc-allow-remote\n"
    "  --rpc-allow-remote    serve the API on a non-loopback --rpc address (plain\n"
    "                        HTTP: put TLS in front of it)\n"
    "  --peer HOST:PORT      a peer to connect to; repeatable.  Peers given on the\n"
    "                        command line replace those of the config file\n"
    "  --observer KEY        admit the peer with this identity key (64 hex digits)\n"
    "                        besides the members: an auditor's or a non-member's\n"
    "                        following node; repeatable (kulad logs its own key)\n"
    "  --max-inbound N       most peers accepted (default 32)\n"
    "  --max-outbound N      most peers dialed (default 8)\n"
    "  --key FILE            validator keystore (default DATADIR/node.key)\n"
    "  --passphrase-file F   file holding the keystore passphrase (else the\n"
    "                        KULA_PASSPHRASE environment variable)\n"
    "  --notify CMD          run CMD for each event of this node's members (payment,\n"
    "                        invoice, settled) and of the network (proposal,\n"
    "                        health); an argument %s becomes the event and its\n"
    "                        id; no shell\n"
    "  --reindex             rebuild the state from the stored blocks, checking\n"
    "                        every state root, then run\n"
    "  --state-sync          an empty data directory starts from a copy of the\n"
    "                        state that peers keep at a recent snapshot height,\n"
    "                        checked from the genesis validators on, instead of\n"
    "                        replaying every block; the blocks before it are\n"
    "                        fetched afterwards (state-sync = yes)\n"
    "  --snapshots-kept N    copies of the state at snapshot heights kept in\n"
    "                        DATADIR/snapshots for peers (default 2; 0: none)\n"
    "  --gossip-batches      send the transactions admitted together to each peer\n"
    "                        in one message (TX_BATCH) instead of one each; only\n"
    "                        once every node of the network runs a kulad that\n"
    "                        knows it (gossip-batches = yes)\n"
    "  --log-level LEVEL     error, warn, info (default) or debug\n"
    "  --debug LIST          debug lines of these subsystems whatever the level\n"
    "                        (comma-separated: net,p2p; all)\n"
    "  --log-file FILE       log to FILE (appended; SIGHUP reopens it, for\n"
    "                        logrotate) instead of standard error\n"
    "  --restore BACKUP      fill the empty --datadir from a folder 'kula backup'\n"
    "                        wrote, then exit (start kulad again to run)\n"
    "  --check-config        read the settings, print each one's value and exit\n"
    "                        (0 if they are valid, 2 naming the first bad one)\n"
    "  -v, --verbose         debug logging (--log-level debug)\n"
    "  -h, --help            show this help and exit\n"
    "  --version             show the version and exit\n"
    "\n"
    "Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 1 on a runtime\n"
    "failure, 2 for a bad option, setting or genesis.\n";

/* Says in e what is wrong with a setting.  Returns: KULA_ECONFIG. */
#define cfail(e, ...) kula_error_set((e), KULA_ECONFIG, __VA_ARGS__)

/* Which settings the command line fixed, so the file does not override. */
struct seen {
    bool genesis, listen, rpc, rpc_remote, peers, key, passfile, observers, max_in, max_out;
    bool notify;
    bool log_level, log_debug, log_file;
    bool state_sync, snapshots_kept, gossip_batches;
};

static int set_path(char *dst, size_t cap, const char *val, const char *name, kula_error *e)
{
    if (val[0] == '\0')
        return cfail(e, "%s: empty value", name);
    if (strlen(val) >= cap)
        return cfail(e, "%s: path longer than %zu bytes", name, cap - 1);
    strcpy(dst, val);
    return KULA_OK;
}

static int set_addr(kula_hostport *dst, const char *val, const char *name, kula_error *e)
{
    if (kula_hostport_parse(dst, val) != 0)
        return cfail(e, "%s: '%s' is not HOST:PORT with an IP address and a port 1-65535",
                     name, val);
    return KULA_OK;
}

static int set_bool(bool *dst, const char *val, const char *name, kula_error *e)
{
    if (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
        *dst = true;
    else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
        *dst = false;
    else
        return cfail(e, "%s: '%s' is not yes or no", name, val);
    return KULA_OK;
}

static int add_peer(kula_config *cfg, const char *val, kula_error *e)
{
    if (cfg->npeers >= KULA_MAX_PEERS_CONFIGURED)
        return cfail(e, "peer: more than %d peers", KULA_MAX_PEERS_CONFIGURED);
    int rc = set_addr(&cfg->peers[cfg->npeers], val, "peer", e);
    if (rc == 0)
        cfg->npeers++;
    return rc;
}

static int add_observer(kula_config *cfg, const char *val, const char *name, kula_error *e)
{
    if (cfg->nobservers >= KULA_MAX_OBSERVERS)
        return cfail(e, "%s: more than %d observers", name, KULA_MAX_OBSERVERS);
    if (strlen(val) != 64 || kula_hex_decode(cfg->observers[cfg->nobservers], 32, val) != 0)
        return cfail(e, "%s: '%s' is not a key of 64 hex digits", name, val);
    cfg->nobservers++;
    return KULA_OK;
}

static int set_count(unsigned *dst, const char *val, const char *name, kula_error *e)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(val, &end, 10);
    if (val[0] < '0' || val[0] > '9' || *end != '\0' || errno != 0 || v > 1024)
        return cfail(e, "%s: '%s' is not a number from 0 to 1024", name, val);
    *dst = (unsigned)v;
    return KULA_OK;
}

static int set_level(enum kula_log_level *dst, const char *val, const char *name, kula_error *e)
{
    if (!kula_log_level_parse(dst, val))
        return cfail(e, "%s: '%s' is not a level: error, warn, info or debug", name,
                     val);
    return KULA_OK;
}

static int set_debug(uint32_t *dst, const char *val, const char *name, kula_error *e)
{
    char why[400];
    if (!kula_log_debug_parse(dst, val, why, sizeof(why)))
        return cfail(e, "%s: %s", name, why);
    return KULA_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static int load_file(kula_config *cfg, const struct seen *seen, kula_error *e)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/kulad.conf", cfg->datadir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return KULA_OK;
        return cfail(e, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cfail(e, "%s: not a regular file", path);
    }
    char line[2048];
    int lineno = 0, rc = KULA_OK;
    while (rc == KULA_OK && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = cfail(e, "%s:%d: line too long", path, lineno);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = cfail(e, "%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        *eq = '\0';
        char *name = trim(s), *val = trim(eq + 1);
        char where[1200];
        snprintf(where, sizeof(where), "%s:%d: %s", path, lineno, name);
        if (strcmp(name, "genesis") == 0) {
            if (!seen->genesis)
                rc = set_path(cfg->genesis, sizeof(cfg->genesis), val, where, e);
        } else if (strcmp(name, "listen") == 0) {
            if (!seen->listen)
                rc = set_addr(&cfg->listen, val, where, e);
        } else if (strcmp(name, "rpc") == 0) {
            if (!seen->rpc)
                rc = set_addr(&cfg->rpc, val, where, e);
        } else if (strcmp(name, "rpc-allow-remote") == 0) {
            if (!seen->rpc_remote)
                rc = set_bool(&cfg->rpc_allow_remote, val, where, e);
        } else if (strcmp(name, "peer") == 0) {
            if (!seen->peers)
                rc = add_peer(cfg, val, e);
        } else if (strcmp(name, "observer") == 0) {
            if (!seen->observers)
                rc = add_observer(cfg, val, where, e);
        } else if (strcmp(name, "max-inbound") == 0) {
            if (!seen->max_in)
                rc = set_count(&cfg->max_inbound, val, where, e);
        } else if (strcmp(name, "max-outbound") == 0) {
            if (!seen->max_out)
                rc = set_count(&cfg->max_outbound, val, where, e);
        } else if (strcmp(name, "key") == 0) {
            if (!seen->key)
                rc = set_path(cfg->key_file, sizeof(cfg->key_file), val, where, e);
        } else if (strcmp(name, "passphrase-file") == 0) {
            if (!seen->passfile)
                rc = set_path(cfg->passphrase_file, sizeof(cfg->passphrase_file), val, where,
                              e);
        } else if (strcmp(name, "notify") == 0) {
            if (!seen->notify)
                rc = set_path(cfg->notify, sizeof(cfg->notify), val, where, e);
        } else if (strcmp(name, "log-level") == 0) {
            if (!seen->log_level)
                rc = set_level(&cfg->log_level, val, where, e);
        } else if (strcmp(name, "debug") == 0) {
            if (!seen->log_debug)
                rc = set_debug(&cfg->log_debug, val, where, e);
        } else if (strcmp(name, "log-file") == 0) {
            if (!seen->log_file)
                rc = set_path(cfg->log_file, sizeof(cfg->log_file), val, where, e);
        } else if (strcmp(name, "state-sync") == 0) {
            if (!seen->state_sync)
                rc = set_bool(&cfg->state_sync, val, where, e);
        } else if (strcmp(name, "gossip-batches") == 0) {
            if (!seen->gossip_batches)
                rc = set_bool(&cfg->gossip_batches, val, where, e);
        } else if (strcmp(name, "snapshots-kept") == 0) {
            if (!seen->snapshots_kept)
                rc = set_count(&cfg->snapshots_kept, val, where, e);
        } else {
            rc = cfail(e, "%s:%d: unknown setting '%s'", path, lineno, name);
        }
    }
    fclose(f);
    return rc;
}

int kula_config_load(kula_config *cfg, int argc, char **argv, kula_error *e)
{
    enum { O_DATADIR = 256, O_GENESIS, O_LISTEN, O_RPC, O_PEER, O_KEY, O_PASSFILE, O_REINDEX,
           O_VERSION, O_OBSERVER, O_MAX_IN, O_MAX_OUT, O_RPC_REMOTE, O_LOG_LEVEL, O_DEBUG,
           O_LOG_FILE, O_RESTORE, O_CHECK_CONFIG, O_NOTIFY, O_STATE_SYNC, O_SNAPS_KEPT,
           O_GOSSIP_BATCHES };
    static const struct option opts[] = {
        { "datadir", required_argument, NULL, O_DATADIR },
        { "genesis", required_argument, NULL, O_GENESIS },
        { "listen", required_argument, NULL, O_LISTEN },
        { "rpc", required_argument, NULL, O_RPC },
        { "rpc-allow-remote", no_argument, NULL, O_RPC_REMOTE },
        { "peer", required_argument, NULL, O_PEER },
        { "observer", required_argument, NULL, O_OBSERVER },
        { "max-inbound", required_argument, NULL, O_MAX_IN },
        { "max-outbound", required_argument, NULL, O_MAX_OUT },
        { "key", required_argument, NULL, O_KEY },
        { "passphrase-file", required_argument, NULL, O_PASSFILE },
        { "notify", required_argument, NULL, O_NOTIFY },
        { "reindex", no_argument, NULL, O_REINDEX },
        { "log-level", required_argument, NULL, O_LOG_LEVEL },
        { "debug", required_argument, NULL, O_DEBUG },
        { "log-file", required_argument, NULL, O_LOG_FILE },
        { "restore", required_argument, NULL, O_RESTORE },
        { "check-config", no_argument, NULL, O_CHECK_CONFIG },
        { "state-sync", no_argument, NULL, O_STATE_SYNC },
        { "gossip-batches", no_argument, NULL, O_GOSSIP_BATCHES },
        { "snapshots-kept", required_argument, NULL, O_SNAPS_KEPT },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    memset(cfg, 0, sizeof(*cfg));
    struct seen seen = { 0 };
    strcpy(cfg->datadir, KULA_DEFAULT_DATADIR);
    cfg->max_inbound = KULA_DEFAULT_MAX_INBOUND;
    cfg->max_outbound = KULA_DEFAULT_MAX_OUTBOUND;
    cfg->log_level = KULA_LOG_INFO;
    cfg->snapshots_kept = KULA_DEFAULT_SNAPSHOTS_KEPT;
    int rc = KULA_OK, c;
    opterr = 0;
    optind = 0; /* glibc: 0 re-initialises getopt fully, also after an error */
    while (rc == KULA_OK && (c = getopt_long(argc, argv, ":hv", opts, NULL)) != -1) {
        switch (c) {
        case O_DATADIR:
            rc = set_path(cfg->datadir, sizeof(cfg->datadir), optarg, "--datadir", e);
            break;
        case O_GENESIS:
            seen.genesis = true;
            rc = set_path(cfg->genesis, sizeof(cfg->genesis), optarg, "--genesis", e);
            break;
        case O_LISTEN:
            seen.listen = true;
            rc = set_addr(&cfg->listen, optarg, "--listen", e);
            break;
        case O_RPC:
            seen.rpc = true;
            rc = set_addr(&cfg->rpc, optarg, "--rpc", e);
            break;
        case O_RPC_REMOTE:
            seen.rpc_remote = true;
            cfg->rpc_allow_remote = true;
            break;
        case O_PEER:
            seen.peers = true;
            rc = add_peer(cfg, optarg, e);
            break;
        case O_OBSERVER:
            seen.observers = true;
            rc = add_observer(cfg, optarg, "--observer", e);
            break;
        case O_MAX_IN:
            seen.max_in = true;
            rc = set_count(&cfg->max_inbound, optarg, "--max-inbound", e);
            break;
        case O_MAX_OUT:
            seen.max_out = true;
            rc = set_count(&cfg->max_outbound, optarg, "--max-outbound", e);
            break;
        case O_KEY:
            seen.key = true;
            rc = set_path(cfg->key_file, sizeof(cfg->key_file), optarg, "--key", e);
            break;
        case O_PASSFILE:
            seen.passfile = true;
            rc = set_path(cfg->passphrase_file, sizeof(cfg->passphrase_file), optarg,
                          "--passphrase-file", e);
            break;
        case O_NOTIFY:
            seen.notify = true;
            rc = set_path(cfg->notify, sizeof(cfg->notify), optarg, "--notify", e);
            break;
        case O_LOG_LEVEL:
            seen.log_level = true;
            rc = set_level(&cfg->log_level, optarg, "--log-level", e);
            break;
        case O_DEBUG:
            seen.log_debug = true;
            rc = set_debug(&cfg->log_debug, optarg, "--debug", e);
            break;
        case O_LOG_FILE:
            seen.log_file = true;
            rc = set_path(cfg->log_file, sizeof(cfg->log_file), optarg, "--log-file", e);
            break;
        case O_RESTORE:
            rc = set_path(cfg->restore, sizeof(cfg->restore), optarg, "--restore", e);
            break;
        case O_CHECK_CONFIG: cfg->check_config = true; break;
        case O_STATE_SYNC:
            seen.state_sync = true;
            cfg->state_sync = true;
            break;
        case O_GOSSIP_BATCHES:
            seen.gossip_batches = true;
            cfg->gossip_batches = true;
            break;
        case O_SNAPS_KEPT:
            seen.snapshots_kept = true;
            rc = set_count(&cfg->snapshots_kept, optarg, "--snapshots-kept", e);
            break;
        case O_REINDEX: cfg->reindex = true; break;
        case O_VERSION: cfg->version = true; break;
        case 'v':
            cfg->verbosity = 1;
            seen.log_level = true;
            cfg->log_level = KULA_LOG_DEBUG;
            break;
        case 'h': cfg->help = true; break;
        case ':':
            rc = cfail(e, "%s: missing value", argv[optind - 1]);
            break;
        default:
            rc = cfail(e, "unknown option '%s' (see kulad --help)", argv[optind - 1]);
            break;
        }
    }
    if (rc != KULA_OK)
        return rc;
    if (optind < argc)
        return cfail(e, "unexpected argument '%s' (see kulad --help)", argv[optind]);
    if (cfg->help || cfg->version || cfg->restore[0] != '\0')
        return KULA_OK;
    if ((rc = load_file(cfg, &seen, e)) != KULA_OK)
        return rc;
    if (cfg->genesis[0] == '\0')
        strcpy(cfg->genesis, KULA_DEFAULT_GENESIS);
    /* The defaults are valid addresses (test_config checks them). */
    if (cfg->listen.port == 0)
        kula_result_ignored(kula_hostport_parse(&cfg->listen, KULA_DEFAULT_LISTEN));
    if (cfg->rpc.port == 0)
        kula_result_ignored(kula_hostport_parse(&cfg->rpc, KULA_DEFAULT_RPC));
    if (!cfg->rpc_allow_remote && !kula_hostport_is_loopback(&cfg->rpc)) {
        /* the API's token travels in plain HTTP: only on purpose beyond loopback */
        char where[128];
        kula_hostport_format(where, sizeof(where), &cfg->rpc);
        return cfail(e, "--rpc %s is not a loopback address: the API (a bearer token over plain "
                     "HTTP) would be reachable from other machines; add --rpc-allow-remote "
                     "(rpc-allow-remote = yes) if that is meant",
                     where);
    }
    if (cfg->key_file[0] == '\0' &&
        snprintf(cfg->key_file, sizeof(cfg->key_file), "%s/node.key", cfg->datadir) >=
            (int)sizeof(cfg->key_file))
        return cfail(e, "--datadir: path too long");
    return KULA_OK;
}
