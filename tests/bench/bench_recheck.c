/* bench_recheck.c -- the cost of re-checking every live session's key after
 * each committed block (node/net/p2p.c, recheck_sessions): one
 * kula_key_standing per established peer, against a stored chain.
 *
 * A genesis of --members members (bench_util.h), its store in a new
 * directory under /tmp.  Timed: --blocks times, building and committing an
 * empty block, then one round of --peers look-ups (members 1 .. --peers,
 * the keys of the peers a node would hold), as the node does after every
 * block; then --rounds more rounds on the last state (the ledger's caches
 * warm).
 *
 * Usage: bench_recheck [--members M] [--peers P] [--blocks B] [--rounds R] */
#include "bench_util.h"
#include "kula/net/p2p.h"

int main(int argc, char **argv)
{
    uint32_t members = 1000, peers = 256, blocks = 20, rounds = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        unsigned long v = strtoul(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--members") == 0)
            members = (uint32_t)v;
        else if (strcmp(argv[i], "--peers") == 0)
            peers = (uint32_t)v;
        else if (strcmp(argv[i], "--blocks") == 0)
            blocks = (uint32_t)v;
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = (uint32_t)v;
        else
            bu_die("usage: bench_recheck [--members M] [--peers P] [--blocks B] [--rounds R]");
    }
    if (peers > members || peers == 0 || blocks == 0 || rounds == 0)
        bu_die("need 1 <= peers <= members, blocks >= 1, rounds >= 1");
    if (kula_crypto_init() != 0)
        bu_die("kula_crypto_init");
    bu_net net;
    bu_net_init(&net, members, 100000, 1000);
    char dir[] = "/tmp/kula-bench-recheck.XXXXXX";
    if (mkdtemp(dir) == NULL)
        bu_die("mkdtemp: %s", strerror(errno));
    kula_store *store;
    kula_chain *chain;
    bu_open_chain(&net, dir, &store, &chain);
    kula_buf block;
    kula_buf_init(&block);
    double commit_s = 0, first_s = 0;
    kula_ledger *l = kula_chain_ledger(chain);
    uint64_t members_ok = 0;
    for (uint32_t h = 1; h <= blocks; h++) {
        kula_hash hash;
        kula_buf_reset(&block);
        double t = bu_now();
        int rc = kula_chain_build_block(chain, bu_block_time(&net, h), net.validator, NULL, 0,
                                        &block, &hash);
        if (rc == 0)
            rc = bu_commit_built(&net, chain, &hash);
        commit_s += bu_now() - t;
        if (rc != 0)
            bu_die("block %u: %s", h, kula_strerror(rc));
        t = bu_now();
        for (uint32_t id = 1; id <= peers; id++) {
            kula_member m;
            members_ok += kula_key_standing(l, &net.pk[id], &m) == KULA_STANDING_MEMBER;
        }
        first_s += bu_now() - t;
    }
    double t = bu_now();
    for (uint32_t r = 0; r < rounds; r++)
        for (uint32_t id = 1; id <= peers; id++) {
            kula_member m;
            members_ok += kula_key_standing(l, &net.pk[id], &m) == KULA_STANDING_MEMBER;
        }
    double recheck_s = bu_now() - t;
    if (members_ok != ((uint64_t)rounds + blocks) * peers)
        bu_die("a member's key was not found as a member's");
    double after_block_us = first_s / blocks * 1e6;
    double warm_us = recheck_s / rounds * 1e6;
    double block_us = commit_s / blocks * 1e6;
    printf("recheck of %u peers (%u members): %.0f us right after a block (%.2f us a peer), "
           "%.0f us warm; an empty block takes %.0f us to build and commit here (the recheck "
           "adds %.1f%%)\n",
           peers, members, after_block_us, after_block_us / peers, warm_us, block_us,
           100 * after_block_us / block_us);
    kula_buf_free(&block);
    kula_chain_free(chain);
    kula_store_close(store);
    bu_net_free(&net);
    bu_rmtree(dir);
    return 0;
}
