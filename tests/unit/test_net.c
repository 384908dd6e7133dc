/* test_net.c -- the transport over real loopback sockets, in one libuv loop:
 * two nodes connect and exchange sealed messages; a peer that breaks the
 * protocol is disconnected, redials, and is banned when it does it again;
 * a node of another chain is refused; a node never keeps a connection to
 * itself. */
#include <criterion/criterion.h>

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kula/error.h"
#include "kula/net.h"

typedef struct side {
    const char *name;
    kula_net *net;
    kula_seckey sk;
    kula_pubkey pk;
    int connects, disconnects, messages;
    uint32_t last_peer;
    bool punish; /* penalise every message as a protocol violation */
} side;

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static bool admit_all(void *ctx, const kula_pubkey *key) { return true; }

static void on_connect(void *ctx, uint32_t peer)
{
    side *s = ctx;
    s->connects++;
    s->last_peer = peer;
}

static void on_disconnect(void *ctx, uint32_t peer) { ((side *)ctx)->disconnects++; }

static void on_message(void *ctx, uint32_t peer, const uint8_t *msg, size_t len)
{
    side *s = ctx;
    s->messages++;
    if (s->punish)
        kula_net_misbehave(s->net, peer, KULA_NET_VIOLATION, "a test violation");
}

static void start(side *s, uv_loop_t *loop, const kula_hash *chain, uint16_t listen,
                  const kula_hostport *peer)
{
    kula_pubkey pk;
    if (s->net == NULL)
        cr_assert_eq(kula_key_generate(&s->sk, &pk), 0);
    kula_key_public(&s->pk, &s->sk);
    kula_net_config cfg = { .max_inbound = 8, .max_outbound = 8 };
    if (listen != 0) {
        strcpy(cfg.listen.host, "127.0.0.1");
        cfg.listen.port = listen;
    }
    if (peer != NULL) {
        cfg.peers = peer;
        cfg.npeers = 1;
    }
    kula_net_callbacks cb = { .ctx = s, .admit = admit_all, .on_connect = on_connect,
                              .on_message = on_message, .on_disconnect = on_disconnect };
    char err[256];
    cr_assert_eq(kula_net_start(&s->net, loop, &cfg, chain, &s->sk, &cb, err, sizeof(err)), 0,
                 "%s", err);
}

/* Runs the loop until cond(ctx) holds, at most ms milliseconds. */
static bool run_until(uv_loop_t *loop, bool (*cond)(void *), void *ctx, unsigned ms)
{
    uint64_t end = uv_now(loop) + ms;
    while (!cond(ctx) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    return cond(ctx);
}

static void stop_all(uv_loop_t *loop, side *a, side *b)
{
    kula_net_stop(a->net);
    kula_net_stop(b->net);
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "handles left open");
}

static side *A_, *B_;
static bool both_connected(void *x) { return A_->connects >= 1 && B_->connects >= 1; }
static bool a_got_message(void *x) { return A_->messages >= *(int *)x; }
static bool a_connects(void *x) { return A_->connects >= *(int *)x; }
static bool b_connects(void *x) { return B_->connects >= *(int *)x; }

TestSuite(net, .timeout = 60);

Test(net, connect_exchange_punish_and_ban)
{
    cr_assert_eq(kula_crypto_init(), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    kula_hash chain;
    memset(&chain, 7, sizeof(chain));
    side a = { .name = "a" }, b = { .name = "b" };
    A_ = &a;
    B_ = &b;
    uint16_t port = free_port();
    start(&a, &loop, &chain, port, NULL);
    kula_hostport hp = { .host = "127.0.0.1", .port = port };
    start(&b, &loop, &chain, 0, &hp);
    cr_assert(run_until(&loop, both_connected, NULL, 5000), "no connection");
    cr_assert_eq(memcmp(kula_net_peer_key(a.net, a.last_peer)->b, b.pk.b, 32), 0);
    cr_assert_eq(memcmp(kula_net_peer_key(b.net, b.last_peer)->b, a.pk.b, 32), 0);

    /* sealed messages arrive, in order, intact */
    cr_assert_eq(kula_net_send(b.net, b.last_peer, (const uint8_t *)"hello", 5), 0);
    int want = 1;
    cr_assert(run_until(&loop, a_got_message, &want, 5000));
    kula_net_peer_info info[4];
    cr_assert_eq(kula_net_peers(a.net, info, 4), 1);
    cr_assert(!info[0].outbound);
    cr_assert_eq(info[0].score, 0);

    /* a first violation: disconnected, remembered, redialed */
    a.punish = true;
    cr_assert_eq(kula_net_send(b.net, b.last_peer, (const uint8_t *)"bad", 3), 0);
    want = 2;
    cr_assert(run_until(&loop, a_got_message, &want, 5000));
    cr_assert_eq(a.disconnects, 1);
    want = 2;
    cr_assert(run_until(&loop, a_connects, &want, 5000), "b did not redial");
    cr_assert_eq(kula_net_peers(a.net, info, 4), 1);
    cr_assert_eq(info[0].score, KULA_NET_VIOLATION, "score %d", info[0].score);

    /* a second one: banned; b's redials are refused */
    want = 2;
    cr_assert(run_until(&loop, b_connects, &want, 5000));
    cr_assert_eq(kula_net_send(b.net, b.last_peer, (const uint8_t *)"bad", 3), 0);
    want = 3;
    cr_assert(run_until(&loop, a_got_message, &want, 5000));
    int never = 3;
    cr_assert_not(run_until(&loop, a_connects, &never, 2500), "a banned key reconnected");
    cr_assert_eq(a.connects, 2);
    stop_all(&loop, &a, &b);
}

Test(net, other_chain_and_self_are_refused)
{
    cr_assert_eq(kula_crypto_init(), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    kula_hash chain, other;
    memset(&chain, 7, sizeof(chain));
    memset(&other, 8, sizeof(other));
    side a = { .name = "a" }, b = { .name = "b" };
    A_ = &a;
    B_ = &b;
    uint16_t port = free_port();
    /* a dials its own listening address: never connected to itself */
    kula_hostport self = { .host = "127.0.0.1", .port = port };
    start(&a, &loop, &chain, port, &self);
    kula_hostport hp = { .host = "127.0.0.1", .port = port };
    start(&b, &loop, &other, 0, &hp);
    int one = 1;
    cr_assert_not(run_until(&loop, a_connects, &one, 2500), "a connected to itself or b");
    cr_assert_eq(b.connects, 0);
    stop_all(&loop, &a, &b);
}
