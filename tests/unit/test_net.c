/* test_net.c -- the transport over real loopback sockets, in one libuv loop:
 * two nodes connect and exchange sealed messages; a peer that breaks the
 * protocol is disconnected, redials, and is banned when it does it again;
 * a node of another chain is refused; a node never keeps a connection to
 * itself. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kula/base/error.h"
#include "kula/net/frame.h"
#include "kula/net/net.h"

typedef struct side {
    const char *name;
    kula_net *net;
    kula_seckey sk;
    kula_pubkey pk;
    int connects, disconnects, messages;
    uint32_t last_peer;
    bool punish; /* penalise every message as a protocol violation */
    bool numbered; /* messages carry their index (4 bytes): check the order */
    uint32_t next, out_of_order;
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
    if (s->numbered) {
        uint32_t i = 0;
        if (len == sizeof(i))
            memcpy(&i, msg, sizeof(i));
        s->out_of_order += len != sizeof(i) || i != s->next;
        s->next++;
    }
    if (s->punish) {
        int before = s->disconnects;
        kula_net_misbehave(s->net, peer, KULA_NET_VIOLATION, "a test violation");
        /* never from inside the call: the caller's peer must stay valid */
        cr_assert_eq(s->disconnects, before, "on_disconnect ran inside kula_net_misbehave");
        cr_assert_neq(kula_net_send(s->net, peer, (const uint8_t *)"x", 1), 0,
                      "a closing peer took a send");
    }
}

static void start(side *s, uv_loop_t *loop, const kula_hash *chain, uint16_t listen,
                  const kula_hostport *peer)
{
    kula_pubkey pk;
    if (s->net == NULL)
        cr_assert_eq(kula_key_generate(&s->sk, &pk), 0);
    cr_assert_eq(kula_key_public(&s->pk, &s->sk), 0);
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
    kula_error err;
    cr_assert_eq(kula_net_start(&s->net, loop, &cfg, chain, &s->sk, &cb, &err), 0,
                 "%s", err.what);
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
static bool a_disconnects(void *x) { return A_->disconnects >= *(int *)x; }
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

    /* a burst sent in one turn of the loop arrives whole and in order, and
     * goes to the socket as one write (gossip's cost: issue 17) */
    cr_assert_eq(kula_net_peers(b.net, info, 4), 1);
    uint64_t writes0 = info[0].writes_out, bytes0 = info[0].bytes_out;
    a.numbered = true;
    for (uint32_t i = 0; i < 200; i++)
        cr_assert_eq(kula_net_send(b.net, b.last_peer, (const uint8_t *)&i, sizeof(i)), 0);
    cr_assert_eq(kula_net_peers(b.net, info, 4), 1);
    cr_assert_eq(info[0].queued, 200 * (KULA_FRAME_PREFIX + sizeof(uint32_t) + KULA_SEAL_OVERHEAD),
                 "queued %zu before the flush", info[0].queued);
    want = 201;
    cr_assert(run_until(&loop, a_got_message, &want, 5000), "the burst did not arrive");
    cr_assert_eq(a.out_of_order, 0, "%u of 200 messages out of order", a.out_of_order);
    cr_assert_eq(kula_net_peers(b.net, info, 4), 1);
    cr_assert_eq(info[0].writes_out - writes0, 1, "200 messages took %llu writes",
                 (unsigned long long)(info[0].writes_out - writes0));
    cr_assert_eq(info[0].bytes_out - bytes0, 200 * (KULA_FRAME_PREFIX + sizeof(uint32_t) + KULA_SEAL_OVERHEAD));
    a.numbered = false;

    /* a first violation: disconnected, remembered, redialed */
    a.punish = true;
    cr_assert_eq(kula_net_send(b.net, b.last_peer, (const uint8_t *)"bad", 3), 0);
    want = 202;
    cr_assert(run_until(&loop, a_got_message, &want, 5000));
    want = 1;
    cr_assert(run_until(&loop, a_disconnects, &want, 5000), "no disconnect");
    cr_assert_eq(a.disconnects, 1);
    want = 2;
    cr_assert(run_until(&loop, a_connects, &want, 5000), "b did not redial");
    cr_assert_eq(kula_net_peers(a.net, info, 4), 1);
    cr_assert_eq(info[0].score, KULA_NET_VIOLATION, "score %d", info[0].score);

    /* a second one: banned; b's redials are refused */
    want = 2;
    cr_assert(run_until(&loop, b_connects, &want, 5000));
    cr_assert_eq(kula_net_send(b.net, b.last_peer, (const uint8_t *)"bad", 3), 0);
    want = 203;
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

/* ---- the handshake pool (net.h: Slots) ---- */

/* A TCP connection to 127.0.0.1:port from the address `from` that never
 * sends a byte: an unauthenticated handshake that never finishes. */
static int raw_connect(const char *from, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in src = { .sin_family = AF_INET };
    cr_assert_eq(inet_pton(AF_INET, from, &src.sin_addr), 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0, "bind %s", from);
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    /* completes in the kernel's backlog, before the loop accepts it */
    cr_assert_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    return fd;
}

/* True when the node closed fd (end of stream or reset), without waiting.
 * Whatever it sent first (its HELLO) is read and dropped. */
static bool raw_closed(int fd)
{
    uint8_t buf[512];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0)
            continue;
        return r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
}

typedef struct raw_set {
    const int *fds;
    int n;      /* how many of fds ... */
    int want;   /* ... must be closed */
} raw_set;

static bool raws_closed(void *x)
{
    const raw_set *r = x;
    int k = 0;
    for (int i = 0; i < r->n; i++)
        k += raw_closed(r->fds[i]);
    return k >= r->want;
}

static kula_net *stats_net_;
static unsigned want_handshakes_;
static bool handshakes_at(void *x)
{
    kula_net_stats st;
    kula_net_get_stats(stats_net_, &st);
    return st.handshakes == want_handshakes_;
}
static bool slots_refused(void *x)
{
    kula_net_stats st;
    kula_net_get_stats(stats_net_, &st);
    return st.refused_slots >= 1;
}
static bool timed_out_at(void *x)
{
    kula_net_stats st;
    kula_net_get_stats(stats_net_, &st);
    return st.timed_out >= *(unsigned *)x;
}

/* 10 connections from one address that never finish their handshake: 4 are
 * in the pool, 6 are closed at once.  A peer from another address still
 * gets the only inbound slot (max_inbound 1: the handshakes take none), a
 * second peer finds it taken, and the 4 are closed at the deadline. */
Test(net, handshake_pool_per_address_and_deadline)
{
    cr_assert_eq(kula_crypto_init(), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    kula_hash chain;
    memset(&chain, 7, sizeof(chain));
    side a = { .name = "a" }, b = { .name = "b" }, c = { .name = "c" };
    A_ = &a;
    B_ = &b;
    uint16_t port = free_port();
    kula_pubkey pk;
    cr_assert_eq(kula_key_generate(&a.sk, &pk), 0);
    cr_assert_eq(kula_key_public(&a.pk, &a.sk), 0);
    kula_net_config cfg = { .max_inbound = 1, .max_outbound = 8 };
    strcpy(cfg.listen.host, "127.0.0.1");
    cfg.listen.port = port;
    kula_net_callbacks cb = { .ctx = &a, .admit = admit_all, .on_connect = on_connect,
                              .on_message = on_message, .on_disconnect = on_disconnect };
    kula_error err;
    cr_assert_eq(kula_net_start(&a.net, &loop, &cfg, &chain, &a.sk, &cb, &err), 0);
    stats_net_ = a.net;

    int fds[10];
    for (int i = 0; i < 10; i++)
        fds[i] = raw_connect("127.0.0.2", port);
    uint64_t t0 = uv_now(&loop);
    want_handshakes_ = KULA_NET_MAX_HANDSHAKES_ADDR;
    raw_set six = { fds + KULA_NET_MAX_HANDSHAKES_ADDR, 10 - KULA_NET_MAX_HANDSHAKES_ADDR,
                    10 - KULA_NET_MAX_HANDSHAKES_ADDR };
    cr_assert(run_until(&loop, raws_closed, &six, 3000), "the connections over 4 stay open");
    cr_assert(run_until(&loop, handshakes_at, NULL, 3000));
    kula_net_stats st;
    kula_net_get_stats(a.net, &st);
    cr_assert_eq(st.refused_addr, 6, "%llu refused", (unsigned long long)st.refused_addr);
    cr_assert_eq(st.refused_pool, 0);
    raw_set four = { fds, KULA_NET_MAX_HANDSHAKES_ADDR, 1 };
    cr_assert_not(raws_closed(&four), "a connection within the pool was closed at once");

    /* a peer from 127.0.0.1 takes the one inbound slot */
    kula_hostport hp = { .host = "127.0.0.1", .port = port };
    start(&b, &loop, &chain, 0, &hp);
    cr_assert(run_until(&loop, both_connected, NULL, 5000), "the peer was kept out");
    kula_net_get_stats(a.net, &st);
    cr_assert_eq(st.inbound, 1);

    /* ... and a second peer finds it taken, after its handshake */
    start(&c, &loop, &chain, 0, &hp);
    cr_assert(run_until(&loop, slots_refused, NULL, 5000), "a second peer took a slot");
    cr_assert_eq(a.connects, 1);
    kula_net_get_stats(a.net, &st);
    cr_assert_eq(st.inbound, 1);

    /* the 4 in the pool are closed at the deadline, not before */
    unsigned want = KULA_NET_MAX_HANDSHAKES_ADDR;
    cr_assert(run_until(&loop, timed_out_at, &want, KULA_NET_HANDSHAKE_MS + 3000));
    cr_assert_geq(uv_now(&loop) - t0, KULA_NET_HANDSHAKE_MS - 250);
    four.want = KULA_NET_MAX_HANDSHAKES_ADDR;
    cr_assert(run_until(&loop, raws_closed, &four, 2000));
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    kula_net_stop(c.net);
    stop_all(&loop, &a, &b);
}

/* 4 connections from each of 4 addresses fill the pool: the 17th, from a
 * fifth address, is closed at once. */
Test(net, handshake_pool_is_bounded)
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
    stats_net_ = a.net;
    int fds[KULA_NET_MAX_HANDSHAKES + 1];
    const char *from[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5" };
    for (unsigned i = 0; i < KULA_NET_MAX_HANDSHAKES; i++)
        fds[i] = raw_connect(from[i / KULA_NET_MAX_HANDSHAKES_ADDR], port);
    want_handshakes_ = KULA_NET_MAX_HANDSHAKES;
    cr_assert(run_until(&loop, handshakes_at, NULL, 3000));
    fds[KULA_NET_MAX_HANDSHAKES] = raw_connect("127.0.0.6", port);
    raw_set last = { fds + KULA_NET_MAX_HANDSHAKES, 1, 1 };
    cr_assert(run_until(&loop, raws_closed, &last, 3000), "the 17th handshake was kept");
    kula_net_stats st;
    kula_net_get_stats(a.net, &st);
    cr_assert_eq(st.refused_pool, 1);
    cr_assert_eq(st.refused_addr, 0);
    cr_assert_eq(st.handshakes, KULA_NET_MAX_HANDSHAKES);
    raw_set pool = { fds, KULA_NET_MAX_HANDSHAKES, 1 };
    cr_assert_not(raws_closed(&pool));
    for (unsigned i = 0; i <= KULA_NET_MAX_HANDSHAKES; i++)
        close(fds[i]);
    kula_net_stop(a.net);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
}
