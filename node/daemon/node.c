/* node.c -- kulad's runtime: open everything, run the loop, close cleanly. */
#include "kula/daemon/node.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <sodium.h>
#include <uv.h>

#include <time.h>

#include "kula/chain/chain.h"
#include "kula/chain/snapfile.h"
#include "kula/ledger/ledger.h"
#include "kula/daemon/engine.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/base/file.h"
#include "kula/types/genesis.h"
#include "kula/api/health.h"
#include "kula/crypto/keystore.h"
#include "kula/base/log.h"
#include "kula/chain/mempool.h"
#include "kula/chain/mempool_file.h"
#include "kula/net/p2p.h"
#include "kula/api/rpc.h"
#include "kula/audit/backup.h"
#include "kula/store/store.h"
#include "kula/crypto/verifier.h"

typedef struct node {
    const kula_config *cfg;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t block_timer;
    uv_timer_t health_timer;
    uint64_t seen_height;          /* the height the health timer last saw */
    uint64_t last_block_mono;      /* ms (monotonic) when it changed */
    kula_genesis genesis;
    char snapdir[1100];            /* DATADIR/snapshots */
    kula_store *store;
    kula_chain *chain;
    kula_mempool *mempool;
    kula_verifier *verifier;
    bool has_key;
    kula_seckey key;
    kula_pubkey pubkey;
    bool key_lost;                 /* the members removed or rotated it (logged) */
    kula_rpc *rpc;
    kula_rpc_env rpc_env;
    kula_p2p *p2p;
    kula_engine *engine;           /* consensus, when the validators must agree */
    kula_seckey identity;          /* the key peers know this node by */
    kula_pubkey observers[KULA_MAX_OBSERVERS];
    /* committed tx counts per block over the last minute, for tx/s */
    struct { uint64_t ms, txs; } recent[128];
    size_t nrecent, recent_at;
    int lock_fd;
    int exit_code;
    /* Restored from a backup (DATADIR/restored, kula/audit/backup.h): no
     * signing until the network has decided, without this node, the height
     * after the one it found its peers at. */
    bool restore_hold;
    uint64_t hold_until;           /* 0 until caught up with the peers */
} node;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_signal(uv_signal_t *h, int signum)
{
    node *n = h->data;
    kula_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_stop(&n->loop);
}

/* SIGHUP: logrotate moved the log file; write to a new one. */
static void on_sighup(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    (void)kula_log_reopen(); /* a failure is logged by it, in the old file */
}

/* One kulad per data directory: a second one would fight over the store. */
static int lock_datadir(node *n)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/kulad.lock", n->cfg->datadir);
    n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (n->lock_fd < 0) {
        kula_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        kula_error("data directory %s is in use by another kulad", n->cfg->datadir);
        close(n->lock_fd);
        n->lock_fd = -1;
        return -1;
    }
    return 0;
}

static int open_store(node *n)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/ledger", n->cfg->datadir);
    int rc = kula_store_open(&n->store, path, 0);
    if (rc != 0) {
        kula_error("cannot open the ledger store in %s: %s", path, kula_strerror(rc));
        return 1;
    }
    kula_buf canon;
    kula_buf_init(&canon);
    kula_error e;
    rc = kula_genesis_encode(&canon, &n->genesis);
    if (rc != 0)
        kula_error_set(&e, rc, "cannot encode the genesis");
    else
        rc = kula_store_bind(n->store, canon.data, canon.len, &n->genesis.chain_id, &e);
    kula_buf_free(&canon);
    if (rc == KULA_ECHAIN) {
        kula_error("data directory %s holds another network's ledger (genesis %s does not "
                   "match); use another --datadir",
                   n->cfg->datadir, n->cfg->genesis);
        return 2;
    }
    if (rc != 0) {
        kula_error("cannot record the genesis in the store: %s (%s)", kula_strerror(rc), e.what);
        return 1;
    }
    return 0;
}

/* The validator key: DATADIR/node.key (or --key), else the published
 * development key of a development genesis.  Without either the node
 * follows the chain without signing. */
static int load_key(node *n)
{
    kula_buf file;
    kula_buf_init(&file);
    int rc = kula_keystore_load(&file, n->cfg->key_file);
    if (rc == KULA_ENOTFOUND) {
        kula_buf_free(&file);
        if (n->genesis.has_dev_key) {
            n->key = n->genesis.dev_key;
            if (kula_key_public(&n->pubkey, &n->key) != 0) {
                kula_error("%s: the development key is not a valid key", n->cfg->genesis);
                return 2;
            }
            n->has_key = true;
            kula_warn("signing with the published development key: development only");
        } else {
            kula_info("no validator key at %s: following the chain without signing",
                      n->cfg->key_file);
        }
        return 0;
    }
    if (rc != 0) {
        kula_error("%s: %s", n->cfg->key_file, kula_strerror(rc));
        kula_buf_free(&file);
        return 2;
    }
    char pass[1024] = "";
    if (n->cfg->passphrase_file[0] != '\0') {
        FILE *f = fopen(n->cfg->passphrase_file, "r");
        if (f == NULL) {
            kula_error("--passphrase-file %s: %s", n->cfg->passphrase_file, strerror(errno));
            kula_buf_free(&file);
            return 2;
        }
        if (fgets(pass, sizeof(pass), f) == NULL)
            pass[0] = '\0';
        fclose(f);
        pass[strcspn(pass, "\r\n")] = '\0';
    } else if (getenv("KULA_PASSPHRASE") != NULL) {
        snprintf(pass, sizeof(pass), "%s", getenv("KULA_PASSPHRASE"));
    }
    rc = kula_keystore_open(&n->key, &n->pubkey, file.data, file.len, pass, strlen(pass));
    sodium_memzero(pass, sizeof(pass));
    kula_buf_free(&file);
    if (rc != 0) {
        kula_error("%s: %s", n->cfg->key_file,
                   rc == KULA_EPASSPHRASE ? "wrong passphrase (set --passphrase-file or "
                                            "KULA_PASSPHRASE)"
                                          : kula_strerror(rc));
        return 2;
    }
    n->has_key = true;
    return 0;
}

/* True when this node's key alone holds more than 2/3 of the voting power
 * of the set that signs the next block: it can then finalise blocks by
 * itself (the single-validator development network). */
static bool can_commit_alone(node *n, uint32_t *my_id)
{
    if (!n->has_key)
        return false;
    kula_ledger *l = kula_chain_ledger(n->chain);
    kula_member me;
    if (kula_key_standing(l, &n->pubkey, &me) != KULA_STANDING_MEMBER)
        return false; /* only a member's current key signs for it */
    *my_id = me.id;
    kula_valset *vs = malloc(sizeof(*vs));
    bool alone = false;
    if (vs != NULL && kula_ledger_valset(l, KULA_VALSET_NEXT, vs) == 0)
        for (uint32_t i = 0; i < vs->n; i++)
            if (vs->v[i].id == *my_id && vs->v[i].power * 3 > vs->total_power * 2)
                alone = true;
    free(vs);
    return alone;
}

/* True when no single validator of the set that signs the next block holds
 * more than 2/3 of its power: blocks need the consensus of several. */
static bool needs_consensus(node *n)
{
    kula_valset *vs = malloc(sizeof(*vs));
    bool need = false;
    if (vs != NULL && kula_ledger_valset(kula_chain_ledger(n->chain), KULA_VALSET_NEXT, vs) == 0) {
        need = true;
        for (uint32_t i = 0; i < vs->n; i++)
            if (vs->v[i].power * 3 > vs->total_power * 2)
                need = false;
    }
    free(vs);
    return need;
}

static void on_dropped(void *ctx, const kula_hash *id, int result)
{
    node *n = ctx;
    char hex[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(hex, id->b, KULA_HASH_LEN);
    kula_debug("tx %.16s rejected: %s", hex, kula_strerror(result));
    kula_rpc_note_rejected(n->rpc, id, result);
}

/* Says once, as an error, that the members removed this node's member or
 * rotated its key: from then on the node signs nothing (the engine and
 * can_commit_alone ask the same question) and its peers close its sessions
 * (p2p.h).  Called at start and after every committed block. */
static void check_own_key(node *n)
{
    if (!n->has_key || n->key_lost)
        return;
    kula_member m;
    kula_standing st = kula_key_standing(kula_chain_ledger(n->chain), &n->pubkey, &m);
    if (st != KULA_STANDING_REMOVED && st != KULA_STANDING_ROTATED)
        return;
    n->key_lost = true;
    /* after a block: that block did it; at start: it or one before */
    char when[64];
    snprintf(when, sizeof(when), "%s block %llu", n->p2p != NULL ? "at" : "by",
             (unsigned long long)kula_chain_height(n->chain));
    if (st == KULA_STANDING_REMOVED) {
        kula_error("this node's key is no longer an active member's: the members removed "
                   "member %s (%u) %s. The node signs nothing more and its peers close its "
                   "sessions; ask the members to admit you again (with a new key: this one "
                   "stays bound to member %u)",
                   m.name, m.id, when, m.id);
    } else {
        char hex[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(hex, m.pubkey.b, KULA_PUBKEY_LEN);
        kula_error("this node's key is no longer an active member's: the members rotated the "
                   "key of member %s (%u) to %.16s %s. The node signs nothing more and its "
                   "peers close its sessions; restart it with the new key (--key FILE)",
                   m.name, m.id, hex, when);
    }
}

/* One line at start: who this node is among the members. */
static void say_who(node *n)
{
    char hex[2 * KULA_PUBKEY_LEN + 1];
    if (!n->has_key) {
        kula_info("this node is a follower: it holds no member key and signs nothing");
        return;
    }
    kula_hex_encode(hex, n->pubkey.b, KULA_PUBKEY_LEN);
    kula_member m;
    if (kula_key_standing(kula_chain_ledger(n->chain), &n->pubkey, &m) != KULA_STANDING_MEMBER) {
        kula_info("this node holds the key %s, which is no active member's: it follows and "
                  "signs nothing",
                  hex);
        return;
    }
    kula_valset *vs = malloc(sizeof(*vs));
    uint64_t power = 0, total = 0;
    if (vs != NULL && kula_ledger_valset(kula_chain_ledger(n->chain), KULA_VALSET_NEXT, vs) == 0) {
        total = vs->total_power;
        for (uint32_t i = 0; i < vs->n; i++)
            if (vs->v[i].id == m.id)
                power = vs->v[i].power;
    }
    free(vs);
    if (power > 0)
        kula_info("this node is member #%u %s (%s), key %s: a validator with voting power "
                  "%llu of %llu",
                  m.id, m.name, m.sector, hex, (unsigned long long)power,
                  (unsigned long long)total);
    else
        kula_info("this node is member #%u %s (%s), key %s: not a validator, it follows the "
                  "chain",
                  m.id, m.name, m.sector, hex);
}

/* True while a validator restored from a backup must not sign: the node it
 * replaces may have voted up to the height after its peers' tip when it
 * was lost, and signing there again could be a second, different vote
 * (equivocation, which the members punish).  So it waits until it has
 * caught up with its peers (tip T), then until the network has decided
 * T + 1 without it; from T + 2 on nothing it may have signed is ahead. */
static bool restore_holds(node *n)
{
    if (!n->restore_hold)
        return false;
    kula_sync_status st = { .height = kula_chain_height(n->chain) };
    if (n->p2p != NULL)
        kula_p2p_sync_status(n->p2p, &st);
    uint32_t me;
    bool decides = can_commit_alone(n, &me);
    if (!n->has_key) {
        /* a follower signs nothing: there is nothing to hold */
    } else if (decides && n->cfg->npeers == 0) {
        /* Nobody else holds the chain: the blocks the lost node made after
         * the backup are gone with it, and this node makes them again. */
        kula_warn("restored: this validator decides blocks alone and has no peers: blocks "
                  "made after the backup (height %llu) were lost with the old node",
                  (unsigned long long)st.height);
    } else if (n->hold_until == 0) {
        if (st.peers == 0 || st.height < st.target)
            return true;
        /* A validator that decides alone only had to learn the chain its
         * followers hold: it made every block, none is in progress. */
        n->hold_until = decides ? st.height : st.height + 1;
        if (!decides) {
            kula_info("restored: caught up with the peers at height %llu; signing resumes "
                      "once the network has decided height %llu without this node",
                      (unsigned long long)st.height, (unsigned long long)n->hold_until);
            return true;
        }
    } else if (st.height < n->hold_until) {
        return true;
    }
    char path[1100];
    snprintf(path, sizeof(path), "%s/" KULA_BACKUP_RESTORED, n->cfg->datadir);
    if (unlink(path) != 0 && errno != ENOENT) {
        kula_warn("restored: cannot remove %s (%s): still not signing", path, strerror(errno));
        return true;
    }
    n->restore_hold = false;
    if (n->has_key)
        kula_info("restored: this validator signs again from height %llu",
                  (unsigned long long)st.height + 1);
    return false;
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mono_ms(void);

/* After a block at a snapshot height: a copy of the state for the peers
 * that start from one (kula/chain/snapfile.h), the oldest beyond
 * snapshots-kept deleted.  On the loop thread, right after the commit and
 * before the next block, so that the state read is the block's. */
static void keep_snapshot(node *n)
{
    const kula_snapshot_commit *sc = kula_ledger_snapshot(kula_chain_ledger(n->chain));
    if (sc == NULL || n->cfg->snapshots_kept == 0 || sc->height != kula_chain_height(n->chain))
        return;
    uint64_t t0 = mono_ms(), size;
    kula_error e;
    if (kula_snapfile_write(n->store, n->snapdir, sc->height, &sc->state_hash, &size, &e) != 0) {
        kula_error("snapshot: cannot keep the state at height %llu: %s",
                   (unsigned long long)sc->height, e.what);
        return;
    }
    int pruned = kula_snapfile_prune(n->snapdir, n->cfg->snapshots_kept);
    kula_info("snapshot: kept the state at height %llu for peers (%llu bytes, %llu ms%s)",
              (unsigned long long)sc->height, (unsigned long long)size,
              (unsigned long long)(mono_ms() - t0), pruned > 0 ? ", an older copy deleted" : "");
}

/* Metrics for the API: totals, commit latency, tx/s over the last minute. */
static void note_block(node *n, size_t txs, double seconds)
{
    keep_snapshot(n);
    kula_rpc_env *env = &n->rpc_env;
    env->committed_txs += txs;
    env->committed_blocks++;
    env->last_commit_seconds = seconds;
    uint64_t now = now_ms();
    n->recent[n->recent_at].ms = now;
    n->recent[n->recent_at].txs = txs;
    n->recent_at = (n->recent_at + 1) % 128;
    if (n->nrecent < 128)
        n->nrecent++;
    uint64_t total = 0, oldest = now;
    for (size_t i = 0; i < n->nrecent; i++) {
        if (now - n->recent[i].ms <= 60000) {
            total += n->recent[i].txs;
            if (n->recent[i].ms < oldest)
                oldest = n->recent[i].ms;
        }
    }
    double span = (double)(now - oldest) / 1000.0;
    env->tx_rate = span > 0 ? (double)total / span : 0;
}

static void start_engine(node *n);

static uint64_t mono_ms(void) { return (uint64_t)(mono_seconds() * 1000); }

/* What the node's own key is to the ledger now. */
static kula_key_membership key_membership(node *n, uint32_t *member)
{
    *member = 0;
    if (!n->has_key)
        return KULA_KEY_NONE;
    kula_ledger *l = kula_chain_ledger(n->chain);
    kula_member m;
    if (kula_ledger_member_by_key(l, &n->pubkey, member) != 0 ||
        kula_ledger_member(l, *member, &m) != 0)
        return KULA_KEY_UNKNOWN;
    if (m.status != KULA_MEMBER_ACTIVE)
        return KULA_KEY_REMOVED;
    if (memcmp(m.pubkey.b, n->pubkey.b, KULA_PUBKEY_LEN) != 0)
        return KULA_KEY_ROTATED;
    return KULA_KEY_ACTIVE;
}

/* Whether the data directory's file system has less than 1 MiB free. */
static bool disk_full(const char *dir)
{
    struct statvfs v;
    return statvfs(dir, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < (1u << 20);
}

/* Every second: the node's state from what it observes (include/kula/api/health.h),
 * for /health, `kula status` and /metrics; a change is logged once. */
static void update_health(node *n)
{
    kula_rpc_env *env = &n->rpc_env;
    uint64_t now = mono_ms(), height = kula_chain_height(n->chain);
    if (height != n->seen_height) {
        n->seen_height = height;
        n->last_block_mono = now;
    }
    kula_params p;
    uint32_t me;
    kula_health_input in = { .now_ms = now, .last_block_ms = n->last_block_mono,
                             .interval_ms = n->genesis.params.block_interval_ms,
                             .height = height, .target = height,
                             .needs_peers = !can_commit_alone(n, &me) };
    if (kula_ledger_params(kula_chain_ledger(n->chain), &p) == 0)
        in.interval_ms = p.block_interval_ms;
    kula_sync_status st = { .height = height, .target = height };
    if (n->p2p != NULL)
        kula_p2p_sync_status(n->p2p, &st);
    in.target = st.target;
    in.peers = st.peers;
    in.key = key_membership(n, &in.member);
    kula_store_write_health(n->store, &env->commit_failures, &in.write_errno);
    /* A block is decided only once the consensus state is written. */
    env->commit_failures += kula_engine_save_failures(n->engine);
    if (in.write_errno == 0)
        in.write_errno = kula_engine_save_errno(n->engine);
    in.disk_full = in.write_errno != 0 && disk_full(n->cfg->datadir);
    kula_health was = env->health;
    kula_health_eval(&env->health, &in);
    env->last_block_age_ms = now - n->last_block_mono;
    env->round = kula_engine_round(n->engine);
    env->peers = st.peers;
    if (env->health.state == was.state)
        return;
    if (env->health.state == KULA_HEALTH_OK)
        kula_info("health: ok again (was %s)", kula_health_name(was.state));
    else
        kula_warn("health: %s: %s", kula_health_name(env->health.state), env->health.reason);
}

static void on_health_timer(uv_timer_t *t) { update_health(t->data); }

/* Every block interval: starts consensus once this node can take part in
 * deciding blocks (alone, or with the other validators). */
static void on_block_timer(uv_timer_t *t)
{
    node *n = t->data;
    uint32_t my_id;
    if (n->engine == NULL && !restore_holds(n) &&
        (can_commit_alone(n, &my_id) || needs_consensus(n)))
        start_engine(n);
    n->rpc_env.producing = kula_engine_voting(n->engine);
}

/* ---- the network ---- */

/* The key this node shows its peers: its member key, else DATADIR/p2p.key
 * (made on first start), which members' nodes admit with --observer. */
static int load_identity(node *n)
{
    if (n->has_key) {
        n->identity = n->key;
        return 0;
    }
    char path[1100];
    snprintf(path, sizeof(path), "%s/p2p.key", n->cfg->datadir);
    uint8_t raw[KULA_SECKEY_LEN + 1];
    FILE *f = fopen(path, "rb");
    if (f != NULL) {
        size_t got = fread(raw, 1, sizeof(raw), f);
        fclose(f);
        if (got != KULA_SECKEY_LEN) {
            kula_error("%s: not a %d-byte key; delete it to make a new one", path,
                       KULA_SECKEY_LEN);
            sodium_memzero(raw, sizeof(raw));
            return 2;
        }
        memcpy(n->identity.b, raw, KULA_SECKEY_LEN);
        sodium_memzero(raw, sizeof(raw));
    } else {
        kula_pubkey pk;
        if (kula_key_generate(&n->identity, &pk) != 0) {
            kula_error("cannot make a peer identity key");
            return 1;
        }
        if (kula_file_replace(path, n->identity.b, KULA_SECKEY_LEN) != 0) {
            kula_error("cannot write %s: %s", path, strerror(errno));
            return 1;
        }
    }
    kula_pubkey pk;
    if (kula_key_public(&pk, &n->identity) != 0) {
        kula_error("%s: not a valid key; delete it to make a new one", path);
        return 2;
    }
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, pk.b, KULA_PUBKEY_LEN);
    kula_info("not a member: peers know this node by the key %s (members admit it with "
              "--observer %s)",
              hex, hex);
    return 0;
}

/* Sync is about to apply a block: a block built here and not committed
 * is dropped. */
static void before_sync_apply(void *ctx)
{
    node *n = ctx;
    kula_chain_abandon_built(n->chain);
    if (n->engine != NULL)
        kula_engine_before_apply(n->engine);
}

/* State sync started the chain from a snapshot: the node is at its height. */
static void on_state_synced(void *ctx, uint64_t height)
{
    node *n = ctx;
    n->last_block_mono = mono_ms();
    check_own_key(n);
    if (n->engine != NULL)
        kula_engine_on_block(n->engine, height, (const uint8_t *)"", 0);
}

static void on_synced_block(void *ctx, uint64_t height, const uint8_t *block, size_t len)
{
    node *n = ctx;
    kula_block b;
    size_t txs = 0;
    if (kula_block_decode(&b, block, len) == 0) {
        txs = b.ntxs;
        kula_block_free(&b);
    }
    note_block(n, txs, 0);
    check_own_key(n);
    if (n->engine != NULL)
        kula_engine_on_block(n->engine, height, block, len);
}

/* Consensus messages go to the engine, when there is one. */
static void hook_proposal(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                          const uint8_t *p, size_t plen, const uint8_t *b, size_t blen)
{
    node *n = ctx;
    if (n->engine != NULL)
        kula_engine_on_proposal(n->engine, peer, msg, msg_len, p, plen, b, blen);
}

static void hook_vote(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                      const uint8_t *v, size_t vlen)
{
    node *n = ctx;
    if (n->engine != NULL)
        kula_engine_on_vote(n->engine, peer, msg, msg_len, v, vlen);
}

static void hook_evidence(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                          const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    node *n = ctx;
    if (n->engine != NULL)
        kula_engine_on_evidence(n->engine, peer, msg, msg_len, a, alen, b, blen);
}

static void on_engine_commit(void *ctx, uint64_t height, size_t txs, double seconds)
{
    note_block(ctx, txs, seconds);
    check_own_key(ctx);
}

static void start_engine(node *n)
{
    kula_engine_env env = { .loop = &n->loop, .chain = n->chain, .mempool = n->mempool,
                            .verifier = n->verifier,
                            .chain_id = n->genesis.chain_id, .datadir = n->cfg->datadir,
                            .has_key = n->has_key, .key = n->key,
                            .on_commit = on_engine_commit, .on_dropped = on_dropped, .ctx = n };
    kula_error e;
    if (kula_engine_start(&n->engine, &env, &e) != 0) {
        kula_error("%s", e.what);
        n->engine = NULL;
        return;
    }
    uint32_t my_id;
    if (!can_commit_alone(n, &my_id))
        kula_info("the validators decide blocks by consensus (Tendermint); this node %s",
                  n->has_key ? "takes part if its key is a validator's" : "follows");
    kula_engine_attach(n->engine, n->p2p);
    n->rpc_env.producing = kula_engine_voting(n->engine);
}

static int start_p2p(node *n)
{
    const kula_config *cfg = n->cfg;
    for (size_t i = 0; i < cfg->nobservers; i++)
        memcpy(n->observers[i].b, cfg->observers[i], KULA_PUBKEY_LEN);
    kula_net_config nc = { .listen = cfg->listen, .peers = cfg->peers, .npeers = cfg->npeers,
                           .max_inbound = cfg->max_inbound, .max_outbound = cfg->max_outbound };
    kula_p2p_env env = { .chain = n->chain, .store = n->store, .mempool = n->mempool,
                         .verifier = n->verifier, .chain_id = n->genesis.chain_id,
                         .observers = n->observers, .nobservers = cfg->nobservers,
                         .genesis = &n->genesis, .state_sync = cfg->state_sync,
                         .gossip_batches = cfg->gossip_batches,
                         .snapshot_dir = n->snapdir };
    kula_p2p_hooks hooks = { .ctx = n, .before_apply = before_sync_apply,
                             .on_block = on_synced_block, .on_proposal = hook_proposal,
                             .on_vote = hook_vote, .on_evidence = hook_evidence,
                             .on_state_synced = on_state_synced };
    if (cfg->state_sync && kula_chain_height(n->chain) > 0)
        kula_info("state sync: not needed, the ledger is at height %llu already",
                  (unsigned long long)kula_chain_height(n->chain));
    kula_error e;
    if (kula_p2p_start(&n->p2p, &n->loop, &nc, &n->identity, &env, &hooks, &e) != 0) {
        kula_error("%s", e.what);
        return 1;
    }
    char hp[80];
    kula_hostport_format(hp, sizeof(hp), &cfg->listen);
    kula_info("peers: listening on %s, %zu configured", hp, cfg->npeers);
    return 0;
}

static void reindex_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    kula_info("reindex: %llu/%llu blocks (%llu%%)", (unsigned long long)done,
              (unsigned long long)total, (unsigned long long)(total ? done * 100 / total : 100));
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* ---- the mempool across a clean restart (proto/SPEC.md §9.1) ---- */

/* Offers again the transactions the last clean shutdown saved, each checked
 * as a new submission.  A file that cannot be loaded is set aside and the
 * node starts with an empty mempool.  The file is removed only once the
 * node serves (kula_node_run), so that a start failing before keeps it. */
static void reload_mempool(node *n)
{
    const char *dir = n->cfg->datadir;
    kula_mempool_file f;
    kula_error e;
    int rc = kula_mempool_file_load(&f, dir, &n->genesis.chain_id, &e);
    if (rc == KULA_ENOTFOUND)
        return;
    if (rc != 0) {
        if (kula_mempool_file_set_aside(dir) == 0)
            kula_warn("mempool: %s; renamed to %s.bad, starting with an empty mempool", e.what,
                      KULA_MEMPOOL_FILE_NAME);
        else
            kula_warn("mempool: %s; cannot rename it to %s.bad (%s), starting with an empty "
                      "mempool",
                      e.what, KULA_MEMPOOL_FILE_NAME, strerror(errno));
        return;
    }
    kula_mempool_reload rep;
    rc = kula_mempool_file_readmit(n->mempool, &rep, n->chain, n->store, n->verifier, &f);
    kula_mempool_file_free(&f);
    if (rc != 0) {
        kula_error("mempool: cannot reload the saved transactions: %s", kula_strerror(rc));
        return;
    }
    char why[512];
    kula_mempool_reload_reasons(why, sizeof(why), &rep);
    kula_info("mempool: reloaded %zu of %zu pending transactions (%zu already committed, %zu "
              "refused%s%s)",
              rep.admitted, rep.total, rep.committed, rep.refused, rep.refused > 0 ? ": " : "",
              why);
}

/* At a clean shutdown, once nothing is left that could admit a transaction:
 * the pending ones go to DATADIR/mempool.dat for the next start.  A failure
 * is logged; it does not change the exit status. */
static void save_mempool(node *n)
{
    size_t saved;
    kula_error e;
    if (kula_mempool_file_save(n->mempool, &saved, n->cfg->datadir, &n->genesis.chain_id, &e) ==
        0)
        kula_info("mempool: saved %zu pending transactions to %s/%s", saved, n->cfg->datadir,
                  KULA_MEMPOOL_FILE_NAME);
    else
        kula_error("mempool: cannot save the pending transactions: %s", e.what);
}

int kula_node_run(const kula_config *cfg)
{
    node n;
    memset(&n, 0, sizeof(n));
    n.cfg = cfg;
    n.lock_fd = -1;
    if (kula_crypto_init() != 0) {
        kula_error("cannot initialise the cryptographic libraries");
        return 1;
    }
    /* A peer that closes its end makes writes fail with EPIPE, which the
     * transport handles; the signal would kill the node instead. */
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(cfg->datadir, 0700) != 0 && errno != EEXIST) {
        kula_error("cannot create data directory %s: %s", cfg->datadir, strerror(errno));
        return 2;
    }
    kula_error ge;
    if (kula_genesis_load(&n.genesis, cfg->genesis, &ge) != 0) {
        kula_error("%s: %s", cfg->genesis, ge.what);
        return 2;
    }
    if (lock_datadir(&n) != 0) {
        kula_genesis_free(&n.genesis);
        return 1;
    }
    char chain[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(chain, n.genesis.chain_id.b, KULA_HASH_LEN);
    kula_info("network %s, chain id %s", n.genesis.network, chain);
    if (n.genesis.has_dev_key)
        kula_warn("%s carries a published development key: this network is for development "
                  "only, never for real value",
                  cfg->genesis);
    int code = open_store(&n);
    if (code != 0)
        goto out;
    if (snprintf(n.snapdir, sizeof(n.snapdir), "%s/snapshots", cfg->datadir) >=
        (int)sizeof(n.snapdir)) {
        kula_error("--datadir: path too long");
        code = 2;
        goto out;
    }
    bool rx_pending = kula_store_reindex_pending(n.store);
    bool outdated = kula_store_outdated(n.store);
    uint64_t snap_base = 0, missing_below = 0;
    if ((cfg->reindex || rx_pending || outdated) &&
        kula_store_base(n.store, &snap_base, &missing_below, NULL) == 0 && missing_below > 1) {
        kula_error("reindex needs every block from the genesis: this ledger started from a "
                   "snapshot at height %llu and holds the blocks from %llu only; run kulad "
                   "without --reindex until it logs that every block from the genesis is stored",
                   (unsigned long long)snap_base, (unsigned long long)missing_below);
        code = 1;
        goto out;
    }
    if (cfg->reindex || rx_pending || outdated) {
        uint64_t bad;
        kula_error e;
        if (rx_pending && !cfg->reindex)
            kula_warn("reindex: the last reindex did not finish; running it again");
        else if (outdated && !cfg->reindex)
            kula_warn("reindex: an older kulad wrote this ledger's indexes (store schema 1): "
                      "rebuilding them once, so that history lists the payments of "
                      "clearings' settlements");
        kula_info("reindex: rebuilding the state from the stored blocks");
        if (kula_chain_reindex(n.store, &n.genesis, reindex_progress, &n, &bad, &e) != 0) {
            kula_error("reindex FAILED at height %llu: %s", (unsigned long long)bad, e.what);
            code = 1;
            goto out;
        }
        kula_info("reindex: every hash link, transactions root and state root checked");
    }
    kula_error e2;
    if (kula_chain_open(&n.chain, n.store, &n.genesis, &e2) != 0) {
        kula_error("%s", e2.what);
        code = 1;
        goto out;
    }
    if ((code = load_key(&n)) != 0 || (code = load_identity(&n)) != 0)
        goto out;
    check_own_key(&n);
    say_who(&n);
    n.restore_hold = kula_backup_restored(cfg->datadir);
    if (n.restore_hold && n.has_key)
        kula_info("restored from a backup: this node signs nothing until it has caught up "
                  "with its peers and the network has decided one more block without it");
    if (kula_mempool_new(&n.mempool, KULA_MEMPOOL_MAX_TXS, KULA_MEMPOOL_MAX_BYTES) != 0 ||
        kula_verifier_new(&n.verifier, 0) != 0) {
        kula_error("out of memory");
        code = 1;
        goto out;
    }
    /* Submissions are checked against the ledger's rules on the pending
     * state; what later can no longer commit is reported as rejected. */
    kula_mempool_track(n.mempool, n.chain, on_dropped, &n);
    reload_mempool(&n);

    uv_loop_init(&n.loop);
    n.loop.data = &n;
    uv_signal_init(&n.loop, &n.sigint);
    uv_signal_init(&n.loop, &n.sigterm);
    uv_signal_init(&n.loop, &n.sighup);
    n.sigint.data = n.sigterm.data = &n;
    uv_signal_start(&n.sigint, on_signal, SIGINT);
    uv_signal_start(&n.sigterm, on_signal, SIGTERM);
    uv_signal_start(&n.sighup, on_sighup, SIGHUP);
    /* Said once SIGINT and SIGTERM are caught (a stop request from here on
     * is a clean stop: tests and scripts wait for this line). */
    char root[2 * KULA_HASH_LEN + 1];
    kula_hex_encode(root, kula_ledger_state_root(kula_chain_ledger(n.chain))->b, KULA_HASH_LEN);
    kula_info("data directory %s, ledger height %llu, state root %.16s", cfg->datadir,
              (unsigned long long)kula_chain_height(n.chain), root);
    n.rpc_env = (kula_rpc_env){ .chain = n.chain, .store = n.store, .mempool = n.mempool,
                                .verifier = n.verifier, .genesis = &n.genesis,
                                .notify = cfg->notify[0] != '\0' ? cfg->notify : NULL };
    uint32_t me;
    n.rpc_env.producing = can_commit_alone(&n, &me);
    if (kula_rpc_start(&n.rpc, &n.loop, &cfg->rpc, cfg->datadir, &n.rpc_env, &e2) != 0) {
        kula_error("%s", e2.what);
        code = 1;
        uv_walk(&n.loop, close_walk, NULL);
        uv_run(&n.loop, UV_RUN_DEFAULT);
        uv_loop_close(&n.loop);
        goto out;
    }
    if (start_p2p(&n) != 0) {
        code = 1;
        kula_rpc_stop(n.rpc);
        uv_walk(&n.loop, close_walk, NULL);
        uv_run(&n.loop, UV_RUN_DEFAULT);
        uv_loop_close(&n.loop);
        goto out;
    }
    n.rpc_env.p2p = n.p2p;
    n.last_block_mono = mono_ms();
    n.seen_height = kula_chain_height(n.chain);
    update_health(&n);
    uv_timer_init(&n.loop, &n.health_timer);
    n.health_timer.data = &n;
    uv_timer_start(&n.health_timer, on_health_timer, 1000, 1000);
    uv_timer_init(&n.loop, &n.block_timer);
    n.block_timer.data = &n;
    uv_timer_start(&n.block_timer, on_block_timer, n.genesis.params.block_interval_ms,
                   n.genesis.params.block_interval_ms);
    /* Alone, the first block comes after one block interval (on_block_timer),
     * as every next one. */
    uint32_t my_id;
    if (restore_holds(&n))
        ; /* on_block_timer starts consensus once the hold ends */
    else if (can_commit_alone(&n, &my_id))
        kula_info("validator %u holds more than 2/3 of the voting power: it decides a block "
                  "every %u ms by itself",
                  my_id, n.genesis.params.block_interval_ms);
    else if (needs_consensus(&n))
        start_engine(&n);
    else
        kula_info("not able to finalise blocks alone: following the chain");
    /* Serving now: from here a crash must not offer the reloaded
     * transactions again (they are pending; the next clean stop saves them). */
    if (kula_mempool_file_remove(cfg->datadir) != 0)
        kula_warn("mempool: cannot remove %s/%s: %s", cfg->datadir, KULA_MEMPOOL_FILE_NAME,
                  strerror(errno));
    kula_info("running; stop with SIGINT or SIGTERM");
    uv_run(&n.loop, UV_RUN_DEFAULT);

    /* Close every handle in its close callback, then let the loop drain. */
    kula_rpc_stop(n.rpc);
    kula_engine_stop(n.engine);
    n.engine = NULL;
    kula_p2p_stop(n.p2p);
    n.rpc_env.p2p = NULL;
    uv_walk(&n.loop, close_walk, NULL);
    uv_run(&n.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&n.loop) != 0)
        kula_warn("event loop closed with handles still open");
    save_mempool(&n);
    code = n.exit_code;
    kula_info("stopped cleanly");
out:
    kula_chain_free(n.chain);
    kula_mempool_free(n.mempool);
    kula_verifier_free(n.verifier);
    kula_seckey_wipe(&n.key);
    kula_seckey_wipe(&n.identity);
    kula_store_close(n.store);
    kula_genesis_free(&n.genesis);
    if (n.lock_fd >= 0)
        close(n.lock_fd);
    return code;
}
