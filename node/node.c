/* node.c -- kulad's runtime: open everything, run the loop, close cleanly. */
#include "kula/node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "kula/crypto.h"
#include "kula/error.h"
#include "kula/genesis.h"
#include "kula/log.h"
#include "kula/store.h"

typedef struct node {
    const kula_config *cfg;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    kula_genesis genesis;
    kula_store *store;
    int lock_fd;
    int exit_code;
} node;

static void on_signal(uv_signal_t *h, int signum)
{
    node *n = h->data;
    kula_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_stop(&n->loop);
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
    rc = kula_genesis_encode(&canon, &n->genesis);
    if (rc == 0)
        rc = kula_store_bind(n->store, canon.data, canon.len, &n->genesis.chain_id);
    kula_buf_free(&canon);
    if (rc == KULA_ECHAIN) {
        kula_error("data directory %s holds another network's ledger (genesis %s does not "
                   "match); use another --datadir",
                   n->cfg->datadir, n->cfg->genesis);
        return 2;
    }
    if (rc != 0) {
        kula_error("cannot record the genesis in the store: %s (%s)", kula_strerror(rc),
                   kula_store_last_error(n->store));
        return 1;
    }
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
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
    if (mkdir(cfg->datadir, 0700) != 0 && errno != EEXIST) {
        kula_error("cannot create data directory %s: %s", cfg->datadir, strerror(errno));
        return 2;
    }
    char err[512];
    if (kula_genesis_load(&n.genesis, cfg->genesis, err, sizeof(err)) != 0) {
        kula_error("%s: %s", cfg->genesis, err);
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
    uint64_t tip = 0;
    kula_store_tip(n.store, &tip);
    kula_info("data directory %s, ledger height %llu", cfg->datadir, (unsigned long long)tip);

    uv_loop_init(&n.loop);
    n.loop.data = &n;
    uv_signal_init(&n.loop, &n.sigint);
    uv_signal_init(&n.loop, &n.sigterm);
    n.sigint.data = n.sigterm.data = &n;
    uv_signal_start(&n.sigint, on_signal, SIGINT);
    uv_signal_start(&n.sigterm, on_signal, SIGTERM);
    kula_info("running; stop with SIGINT or SIGTERM");
    uv_run(&n.loop, UV_RUN_DEFAULT);

    /* Close every handle in its close callback, then let the loop drain. */
    uv_walk(&n.loop, close_walk, NULL);
    uv_run(&n.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&n.loop) != 0)
        kula_warn("event loop closed with handles still open");
    code = n.exit_code;
    kula_info("stopped cleanly");
out:
    kula_store_close(n.store);
    kula_genesis_free(&n.genesis);
    if (n.lock_fd >= 0)
        close(n.lock_fd);
    return code;
}
