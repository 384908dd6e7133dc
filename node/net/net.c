/* net.c -- peer connections over libuv TCP: listen, dial, handshake, frames. */
#include "kula/net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kula/base/error.h"
#include "kula/net/frame.h"
#include "kula/net/handshake.h"
#include "kula/base/log.h"

#define TICK_MS 250u
#define MAX_BANS 128u
#define REPORT_MS 60000u /* the pool's refusals are logged at most this often */

typedef struct conn conn;

/* An address this node dials: configured, or learnt from peers. */
typedef struct addr_entry {
    struct sockaddr_storage sa;
    char text[72];
    bool configured;
    bool self;            /* it turned out to be this node */
    bool has_key;         /* the key of the node found there */
    kula_pubkey key;
    uint64_t next_ms;     /* next attempt, monotonic */
    uint32_t backoff_ms;
    uint32_t conn_id;     /* the connection dialing or connected, 0 none */
} addr_entry;

struct conn {
    kula_net *net;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uint32_t id;
    bool outbound, established, closing;
    int addr_index;       /* outbound: its addrs[] entry, else -1 */
    char addr[72];
    struct sockaddr_storage remote;
    kula_hs *hs;
    kula_frame_decoder dec;
    kula_buf msg;         /* the message being delivered */
    uint64_t started_ms, connected_ms;
    uint64_t height;
    uint16_t listen_port;
    int score;
    uint64_t bytes_in, bytes_out, msgs_in, msgs_out, writes_out;
    size_t queued;        /* bytes handed to libuv and not yet written */
    kula_buf pend;        /* sealed frames of this loop turn, not yet handed over */
    conn *next;
};

/* One queued write: the sealed frame it owns. */
typedef struct write_req {
    uv_write_t req;
    conn *c;
    kula_buf buf;
} write_req;

struct kula_net {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listening;
    uint16_t listen_port;
    uv_timer_t timer;
    uv_prepare_t flusher; /* hands each connection's pend to libuv before the loop polls */
    bool flusher_on;
    kula_hash chain_id;
    kula_seckey key;
    kula_pubkey pubkey;
    kula_net_callbacks cb;
    unsigned max_inbound, max_outbound;
    conn *conns;
    uint32_t next_id;
    addr_entry addrs[KULA_NET_MAX_ADDRS];
    size_t naddrs;
    struct { kula_pubkey key; uint64_t until; } bans[MAX_BANS];
    size_t nbans;
    struct { kula_pubkey key; int score; } scores[KULA_NET_MAX_SCORED];
    size_t nscores, next_score; /* next_score: the slot reused when full */
    kula_net_stats stats;
    uint64_t reported_ms; /* when the pool's refusals were last logged */
    uint64_t reported;    /* ... and how many there were by then */
    bool stopping;
    int handles;          /* open uv handles; freed at 0 once stopping */
    uint8_t rbuf[64 * 1024];
};

static void conn_close(conn *c, const char *why);
static int *score_of(kula_net *n, const kula_pubkey *key, bool create);

static uint64_t now_ms(kula_net *n) { return uv_now(n->loop); }

static void net_free_if_done(kula_net *n)
{
    if (n->stopping && n->handles == 0) {
        kula_seckey_wipe(&n->key);
        free(n);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    kula_net *n = h->data;
    n->handles--;
    net_free_if_done(n);
}

static void format_addr(char *out, size_t len, const struct sockaddr_storage *sa)
{
    char ip[64] = "?";
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        uv_ip4_name(s4, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(s6, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        snprintf(out, len, "?");
    }
}

static int hostport_sockaddr(const kula_hostport *hp, struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof(*sa));
    if (strchr(hp->host, ':') != NULL)
        return uv_ip6_addr(hp->host, hp->port, (struct sockaddr_in6 *)sa);
    return uv_ip4_addr(hp->host, hp->port, (struct sockaddr_in *)sa);
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return false;
}

static bool same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static conn *find_conn(kula_net *n, uint32_t id)
{
    for (conn *c = n->conns; c != NULL; c = c->next)
        if (c->id == id && !c->closing)
            return c;
    return NULL;
}

static bool banned(kula_net *n, const kula_pubkey *key)
{
    uint64_t now = now_ms(n);
    for (size_t i = 0; i < n->nbans; i++)
        if (n->bans[i].until > now && memcmp(n->bans[i].key.b, key->b, KULA_PUBKEY_LEN) == 0)
            return true;
    return false;
}

static void ban(kula_net *n, const kula_pubkey *key)
{
    uint64_t now = now_ms(n);
    size_t slot = n->nbans;
    for (size_t i = 0; i < n->nbans; i++)
        if (n->bans[i].until <= now || memcmp(n->bans[i].key.b, key->b, KULA_PUBKEY_LEN) == 0) {
            slot = i;
            break;
        }
    if (slot == MAX_BANS) {
        /* full of live bans: replace the one that ends first */
        slot = 0;
        for (size_t i = 1; i < MAX_BANS; i++)
            if (n->bans[i].until < n->bans[slot].until)
                slot = i;
    } else if (slot == n->nbans) {
        n->nbans++;
    }
    n->bans[slot].key = *key;
    n->bans[slot].until = now + KULA_NET_BAN_MS;
}

/* ---- writing ---- */

/* libuv is done with w (written, failed, or cancelled by the close of c:
 * UV_ECANCELED; libuv calls these before c's close callback, so c is still
 * allocated here, only closing).  The
 * queue count falls as writes finish; crossing KULA_NET_LOW_WATER tells the
 * layer above it may send more (on_drain). */
static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    conn *c = w->c;
    size_t before = c->queued;
    c->queued -= w->buf.len;
    kula_buf_free(&w->buf);
    free(w);
    kula_net *n = c->net;
    if (before >= KULA_NET_LOW_WATER && c->queued < KULA_NET_LOW_WATER && status == 0 &&
        !c->closing && c->established && n->cb.on_drain != NULL)
        n->cb.on_drain(n->cb.ctx, c->id);
    if (status < 0 && status != UV_ECANCELED && !c->closing) {
        kula_debug("peer %s: write failed: %s", c->addr, uv_strerror(status));
        conn_close(c, NULL);
    }
}

/* Queues w's bytes; takes w in every case. */
static int queue_write(conn *c, write_req *w)
{
    if (w->buf.err != 0 || c->closing) {
        int rc = w->buf.err != 0 ? w->buf.err : KULA_EIO;
        kula_buf_free(&w->buf);
        free(w);
        return rc;
    }
    if (c->queued + w->buf.len > KULA_NET_MAX_SEND_QUEUE) {
        kula_buf_free(&w->buf);
        free(w);
        kula_warn("peer %s reads too slowly (%zu bytes queued): disconnecting", c->addr,
                  c->queued);
        conn_close(c, NULL);
        return KULA_EIO;
    }
    w->c = c;
    uv_buf_t b = uv_buf_init((char *)w->buf.data, (unsigned)w->buf.len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc != 0) {
        kula_buf_free(&w->buf);
        free(w);
        conn_close(c, NULL);
        return KULA_EIO;
    }
    c->queued += w->buf.len;
    c->bytes_out += w->buf.len;
    c->writes_out++;
    return KULA_OK;
}

static write_req *new_write(void)
{
    write_req *w = calloc(1, sizeof(*w));
    if (w != NULL)
        kula_buf_init(&w->buf);
    return w;
}

/* Before the loop polls (so in the same turn, no added delay): every
 * message sealed for a peer during this turn goes to libuv as one write, so
 * a burst of gossip (one TX message per transaction, to each peer) costs one
 * write system call per peer and turn instead of one per message. */
static void on_flush(uv_prepare_t *h)
{
    kula_net *n = h->data;
    uv_prepare_stop(h);
    n->flusher_on = false;
    for (conn *c = n->conns; c != NULL; c = c->next) {
        if (c->pend.len == 0 || c->closing)
            continue;
        write_req *w = new_write();
        if (w == NULL) {
            conn_close(c, "out of memory");
            continue;
        }
        w->buf = c->pend; /* w takes the bytes; pend starts empty */
        kula_buf_init(&c->pend);
        kula_result_ignored(queue_write(c, w)); /* a failure closes c */
    }
}

/* ---- closing ---- */

/* The loop has closed c's handle: c leaves the list and memory, and only
 * now does the layer above hear that its peer is gone.  Calling
 * on_disconnect here, from the loop and never from inside a kula_net_*
 * call, is what lets a caller walk its peers and send to each: a send that
 * closes one connection cannot free the caller's peer under its feet.
 * Until then the closing connection takes no more writes (queue_write). */
static void on_conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    kula_net *n = c->net;
    for (conn **p = &n->conns; *p != NULL; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (c->established && n->cb.on_disconnect != NULL && !n->stopping)
        n->cb.on_disconnect(n->cb.ctx, c->id);
    kula_hs_free(c->hs);
    kula_frame_decoder_free(&c->dec);
    kula_buf_free(&c->msg);
    kula_buf_free(&c->pend);
    free(c);
    n->handles--;
    net_free_if_done(n);
}

static void schedule_retry(kula_net *n, addr_entry *a, bool was_up)
{
    a->conn_id = 0;
    if (was_up || a->backoff_ms == 0)
        a->backoff_ms = KULA_NET_BACKOFF_MIN_MS;
    else if (a->backoff_ms < KULA_NET_BACKOFF_MAX_MS)
        a->backoff_ms = a->backoff_ms * 2 > KULA_NET_BACKOFF_MAX_MS ? KULA_NET_BACKOFF_MAX_MS
                                                                    : a->backoff_ms * 2;
    a->next_ms = now_ms(n) + a->backoff_ms;
}

/* Closes c; why (may be NULL) is logged for an established peer.  c stays
 * allocated (marked closing) until the loop runs on_conn_closed. */
static void conn_close(conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    kula_net *n = c->net;
    if (c->established) {
        if (why != NULL)
            kula_info("peer %u %s disconnected: %s", c->id, c->addr, why);
        else
            kula_info("peer %u %s disconnected", c->id, c->addr);
    } else if (why != NULL) {
        kula_debug("connection %s closed: %s", c->addr, why);
    }
    /* A connection the peer drops at once (it refuses or banned this node)
     * counts as a failure: the backoff grows. */
    bool was_up = c->established && now_ms(n) - c->connected_ms > 5000;
    if (c->addr_index >= 0 && n->addrs[c->addr_index].conn_id == c->id)
        schedule_retry(n, &n->addrs[c->addr_index], was_up);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* ---- handshake and messages ---- */

static bool policy(void *ctx, const kula_pubkey *peer)
{
    conn *c = ctx;
    kula_net *n = c->net;
    if (memcmp(peer->b, n->pubkey.b, KULA_PUBKEY_LEN) == 0)
        return true; /* this node itself: found out and closed when done */
    if (banned(n, peer))
        return false;
    return n->cb.admit(n->cb.ctx, peer);
}

static unsigned count_conns(kula_net *n, bool outbound)
{
    unsigned k = 0;
    for (conn *c = n->conns; c != NULL; c = c->next)
        if (!c->closing && c->outbound == outbound)
            k++;
    return k;
}

/* Inbound connections in their handshake, other than c; those from c's IP
 * address in *same. */
static unsigned count_handshakes(kula_net *n, const conn *c, unsigned *same)
{
    unsigned k = 0;
    *same = 0;
    for (conn *x = n->conns; x != NULL; x = x->next)
        if (x != c && !x->closing && !x->outbound && !x->established) {
            k++;
            if (same_ip(&x->remote, &c->remote))
                (*same)++;
        }
    return k;
}

/* Established inbound peers other than those with key (a second connection
 * of one peer replaces the first or is dropped: it needs no slot). */
static unsigned count_inbound(kula_net *n, const kula_pubkey *key)
{
    unsigned k = 0;
    for (conn *x = n->conns; x != NULL; x = x->next)
        if (!x->closing && !x->outbound && x->established &&
            (key == NULL || memcmp(kula_hs_peer_key(x->hs)->b, key->b, KULA_PUBKEY_LEN) != 0))
            k++;
    return k;
}

/* The handshake is done: keep the connection unless it is this node, a
 * second connection to a peer already connected, or an inbound peer for
 * which no slot is free. */
static void established(conn *c)
{
    kula_net *n = c->net;
    const kula_pubkey *key = kula_hs_peer_key(c->hs);
    if (c->addr_index >= 0) {
        addr_entry *a = &n->addrs[c->addr_index];
        a->has_key = true;
        a->key = *key;
    }
    if (memcmp(key->b, n->pubkey.b, KULA_PUBKEY_LEN) == 0) {
        if (c->addr_index >= 0)
            n->addrs[c->addr_index].self = true;
        conn_close(c, "connected to itself");
        return;
    }
    /* Only proven, admitted keys take the max_inbound slots (net.h). */
    if (!c->outbound && count_inbound(n, key) >= n->max_inbound) {
        n->stats.refused_slots++;
        kula_info("peer %s refused: no inbound slot is free (--max-inbound %u)", c->addr,
                  n->max_inbound);
        conn_close(c, "too many inbound peers");
        return;
    }
    /* Two connections between the same two nodes (each dialed the other):
     * both sides keep the one whose initiator has the smaller key. */
    bool own_smaller = memcmp(n->pubkey.b, key->b, KULA_PUBKEY_LEN) < 0;
    for (conn *x = n->conns; x != NULL; x = x->next) {
        if (x == c || x->closing || !x->established ||
            memcmp(kula_hs_peer_key(x->hs)->b, key->b, KULA_PUBKEY_LEN) != 0)
            continue;
        bool keep_new = c->outbound != x->outbound && c->outbound == own_smaller;
        if (keep_new) {
            conn_close(x, "replaced by a second connection");
            break;
        }
        conn_close(c, "already connected");
        return;
    }
    c->established = true;
    c->connected_ms = now_ms(n);
    int *known = score_of(n, key, false);
    c->score = known != NULL ? *known : 0;
    kula_frame_decoder_set_max(&c->dec, KULA_MAX_FRAME);
    char hex[2 * KULA_PUBKEY_LEN + 1];
    kula_hex_encode(hex, key->b, KULA_PUBKEY_LEN);
    kula_info("peer %u %s connected (%s, key %.16s)", c->id, c->addr,
              c->outbound ? "outbound" : "inbound", hex);
    if (n->cb.on_connect != NULL)
        n->cb.on_connect(n->cb.ctx, c->id);
}

/* One whole frame from c.  Before the handshake is done it feeds the
 * handshake (whose answer, if any, is queued before the session counts as
 * established, so the peer always reads it first); after, it is opened and
 * handed up.  c->msg is reused for every message: on_message must copy what
 * it keeps.  Whatever the callee does (even close c), c stays allocated
 * until the loop runs on_conn_closed, so on_read's loop may look at
 * c->closing afterwards. */
static void handle_frame(conn *c, const uint8_t *f, size_t flen)
{
    kula_net *n = c->net;
    if (!kula_hs_done(c->hs)) {
        write_req *w = new_write();
        if (w == NULL) {
            conn_close(c, "out of memory");
            return;
        }
        int rc = kula_hs_receive(c->hs, &w->buf, f, flen);
        if (rc < 0) {
            kula_buf_free(&w->buf);
            free(w);
            char why[96];
            snprintf(why, sizeof(why), "handshake failed: %s", kula_strerror(rc));
            /* a refused key is logged by the policy, with the key */
            if (rc == KULA_ECHAIN || rc == KULA_EBADSIG)
                kula_info("peer %s refused: %s", c->addr, why + 18);
            conn_close(c, why);
            return;
        }
        if (w->buf.len > 0) {
            if (queue_write(c, w) != 0)
                return;
        } else {
            kula_buf_free(&w->buf);
            free(w);
        }
        if (kula_hs_done(c->hs))
            established(c);
        return;
    }
    kula_buf_reset(&c->msg);
    int rc = kula_hs_open(c->hs, &c->msg, f, flen);
    if (rc < 0) {
        kula_net_misbehave(n, c->id, KULA_NET_VIOLATION, "a sealed frame does not open");
        return;
    }
    c->msgs_in++;
    n->cb.on_message(n->cb.ctx, c->id, c->msg.data, c->msg.len);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    kula_net *n = c->net;
    /* One read at a time on the loop thread: on_read consumes the buffer
     * before the next allocation, so all connections share it. */
    *buf = uv_buf_init((char *)n->rbuf, sizeof(n->rbuf));
}

/* Bytes from c: cut into frames, each handled before the next is cut.  The
 * loop stops as soon as c is closing (a violation, a refusal upstream): the
 * rest of what the peer sent is never looked at. */
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    kula_net *n = c->net;
    if (nread < 0) {
        if (nread == UV_EOF && c->outbound && c->msgs_in == 0 && n->cb.on_dropped != NULL)
            n->cb.on_dropped(n->cb.ctx, c->addr, &n->pubkey);
        conn_close(c, nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
        return;
    }
    const uint8_t *data = (const uint8_t *)buf->base;
    size_t len = (size_t)nread;
    c->bytes_in += len;
    while (len > 0 && !c->closing) {
        size_t used;
        const uint8_t *f;
        size_t flen;
        int rc = kula_frame_feed(&c->dec, &used, &f, &flen, data, len);
        if (rc < 0) {
            if (c->established)
                kula_net_misbehave(n, c->id, KULA_NET_VIOLATION, kula_strerror(rc));
            else
                conn_close(c, kula_strerror(rc));
            return;
        }
        data += used;
        len -= used;
        if (rc == 1)
            handle_frame(c, f, flen);
    }
}

static conn *new_conn(kula_net *n, bool outbound)
{
    conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->net = n;
    c->id = ++n->next_id;
    c->outbound = outbound;
    c->addr_index = -1;
    c->started_ms = now_ms(n);
    kula_frame_decoder_init(&c->dec);
    kula_frame_decoder_set_max(&c->dec, KULA_HS_MAX_FRAME);
    kula_buf_init(&c->msg);
    kula_buf_init(&c->pend);
    uv_tcp_init(n->loop, &c->tcp);
    c->tcp.data = c;
    n->handles++;
    c->next = n->conns;
    n->conns = c;
    return c;
}

/* Starts the handshake on a connected socket.  The first handshake message
 * is queued before reading starts, so a peer's reply can never arrive
 * before this side has spoken.  The frame limit stays the handshake's
 * (KULA_HS_MAX_FRAME) until established() raises it: an unauthenticated
 * peer cannot make the node buffer a large frame. */
static void begin(conn *c)
{
    kula_net *n = c->net;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    int rc = kula_hs_new(&c->hs, c->outbound ? KULA_HS_INITIATOR : KULA_HS_RESPONDER,
                         &n->chain_id, &n->key, policy, c);
    write_req *w = rc == 0 ? new_write() : NULL;
    if (w == NULL) {
        conn_close(c, "cannot start the handshake");
        return;
    }
    rc = kula_hs_start(c->hs, &w->buf);
    if (rc != 0) {
        kula_buf_free(&w->buf);
        free(w);
        conn_close(c, "cannot start the handshake");
        return;
    }
    if (queue_write(c, w) != 0)
        return;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_connection(uv_stream_t *server, int status)
{
    kula_net *n = server->data;
    if (status < 0 || n->stopping)
        return;
    conn *c = new_conn(n, false);
    if (c == NULL)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, NULL);
        return;
    }
    int namelen = sizeof(c->remote);
    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->remote, &namelen);
    format_addr(c->addr, sizeof(c->addr), &c->remote);
    /* Unauthenticated connections have their own pool (net.h); one over its
     * limits is closed at once, having been accepted, so that the listen
     * backlog never fills. */
    unsigned same;
    unsigned pool = count_handshakes(n, c, &same);
    if (pool >= KULA_NET_MAX_HANDSHAKES) {
        n->stats.refused_pool++;
        conn_close(c, "the handshake pool is full");
        return;
    }
    if (same >= KULA_NET_MAX_HANDSHAKES_ADDR) {
        n->stats.refused_addr++;
        conn_close(c, "too many handshakes from its address");
        return;
    }
    begin(c);
}

static void on_connected(uv_connect_t *req, int status)
{
    conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, uv_strerror(status));
        return;
    }
    begin(c);
}

static void dial(kula_net *n, size_t i)
{
    addr_entry *a = &n->addrs[i];
    conn *c = new_conn(n, true);
    if (c == NULL)
        return;
    c->addr_index = (int)i;
    c->remote = a->sa;
    snprintf(c->addr, sizeof(c->addr), "%s", a->text);
    a->conn_id = c->id;
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&a->sa,
                            on_connected);
    if (rc != 0)
        conn_close(c, uv_strerror(rc));
}

static bool key_connected(kula_net *n, const kula_pubkey *key)
{
    for (conn *c = n->conns; c != NULL; c = c->next)
        if (!c->closing && c->established &&
            memcmp(kula_hs_peer_key(c->hs)->b, key->b, KULA_PUBKEY_LEN) == 0)
            return true;
    return false;
}

static void on_tick(uv_timer_t *t)
{
    kula_net *n = t->data;
    uint64_t now = now_ms(n);
    /* Handshakes that take too long. */
    for (conn *c = n->conns; c != NULL; c = c->next)
        if (!c->closing && !c->established && now - c->started_ms > KULA_NET_HANDSHAKE_MS) {
            if (!c->outbound)
                n->stats.timed_out++;
            conn_close(c, "handshake timed out");
        }
    /* Connections the pool refused are each only closed (debug); an attack
     * shows in the log at most once a minute. */
    uint64_t refused = n->stats.refused_pool + n->stats.refused_addr;
    if (refused != n->reported && (n->reported == 0 || now - n->reported_ms >= REPORT_MS)) {
        kula_warn("handshake pool: %llu unauthenticated connections closed at once since %s; "
                  "in all %llu with the pool full (%u), %llu with %u from their address in it, "
                  "%llu handshakes timed out (%u s)",
                  (unsigned long long)(refused - n->reported),
                  n->reported == 0 ? "the start" : "the last report",
                  (unsigned long long)n->stats.refused_pool, KULA_NET_MAX_HANDSHAKES,
                  (unsigned long long)n->stats.refused_addr, KULA_NET_MAX_HANDSHAKES_ADDR,
                  (unsigned long long)n->stats.timed_out, KULA_NET_HANDSHAKE_MS / 1000);
        n->reported = refused;
        n->reported_ms = now;
    }
    /* Dial what is due while outbound slots are free, configured first. */
    unsigned out = count_conns(n, true);
    for (size_t i = 0; i < n->naddrs && out < n->max_outbound; i++) {
        addr_entry *a = &n->addrs[i];
        if (a->self || a->conn_id != 0 || a->next_ms > now)
            continue;
        if (a->has_key && key_connected(n, &a->key))
            continue;
        dial(n, i);
        out++;
    }
}

/* ---- the API ---- */

static int add_entry(kula_net *n, const struct sockaddr_storage *sa, bool configured)
{
    for (size_t i = 0; i < n->naddrs; i++)
        if (same_sockaddr(&n->addrs[i].sa, sa))
            return (int)i;
    if (n->naddrs >= KULA_NET_MAX_ADDRS)
        return -1;
    addr_entry *a = &n->addrs[n->naddrs];
    memset(a, 0, sizeof(*a));
    a->sa = *sa;
    a->configured = configured;
    format_addr(a->text, sizeof(a->text), sa);
    return (int)n->naddrs++;
}

int kula_net_start(kula_net **out, uv_loop_t *loop, const kula_net_config *cfg,
                   const kula_hash *chain_id, const kula_seckey *identity,
                   const kula_net_callbacks *cb, kula_error *e)
{
    kula_net *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    n->loop = loop;
    n->chain_id = *chain_id;
    n->key = *identity;
    if (kula_key_public(&n->pubkey, &n->key) != 0) {
        kula_seckey_wipe(&n->key);
        free(n);
        return kula_error_set(e, KULA_EBADKEY, "the node's identity key is not valid");
    }
    n->cb = *cb;
    n->max_inbound = cfg->max_inbound;
    n->max_outbound = cfg->max_outbound;
    for (size_t i = 0; i < cfg->npeers; i++) {
        struct sockaddr_storage sa;
        if (hostport_sockaddr(&cfg->peers[i], &sa) == 0)
            add_entry(n, &sa, true);
    }
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    n->handles++;
    uv_prepare_init(loop, &n->flusher);
    n->flusher.data = n;
    n->handles++;
    if (cfg->listen.port != 0) {
        struct sockaddr_storage sa;
        uv_tcp_init(loop, &n->listener);
        n->listener.data = n;
        n->handles++;
        int rc = hostport_sockaddr(&cfg->listen, &sa);
        if (rc == 0)
            rc = uv_tcp_bind(&n->listener, (const struct sockaddr *)&sa, 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
        if (rc != 0) {
            char hp[80];
            kula_hostport_format(hp, sizeof(hp), &cfg->listen);
            kula_error_set(e, KULA_EIO, "cannot listen for peers on %s: %s", hp, uv_strerror(rc));
            n->stopping = true;
            uv_close((uv_handle_t *)&n->listener, on_handle_closed);
            uv_close((uv_handle_t *)&n->timer, on_handle_closed);
            uv_close((uv_handle_t *)&n->flusher, on_handle_closed);
            return KULA_EIO;
        }
        n->listening = true;
        struct sockaddr_storage bound;
        int namelen = sizeof(bound);
        uv_tcp_getsockname(&n->listener, (struct sockaddr *)&bound, &namelen);
        n->listen_port = bound.ss_family == AF_INET
                             ? ntohs(((struct sockaddr_in *)&bound)->sin_port)
                             : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        /* This node's own address is never dialed. */
        int self = add_entry(n, &sa, false);
        if (self >= 0)
            n->addrs[self].self = true;
    }
    uv_timer_start(&n->timer, on_tick, 0, TICK_MS);
    *out = n;
    return KULA_OK;
}

void kula_net_stop(kula_net *n)
{
    if (n == NULL)
        return;
    n->stopping = true;
    for (conn *c = n->conns; c != NULL; c = c->next)
        conn_close(c, NULL);
    uv_close((uv_handle_t *)&n->timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->flusher, on_handle_closed);
    if (n->listening)
        uv_close((uv_handle_t *)&n->listener, on_handle_closed);
}

int kula_net_send(kula_net *n, uint32_t peer, const uint8_t *msg, size_t len)
{
    conn *c = find_conn(n, peer);
    if (c == NULL || !c->established)
        return KULA_ENOTFOUND;
    if (c->closing)
        return KULA_EIO;
    if (len > KULA_MAX_MESSAGE)
        return KULA_ETOOBIG;
    size_t before = c->pend.len;
    int rc = kula_hs_seal(c->hs, &c->pend, msg, len); /* appends; on failure pend is as before */
    if (rc != 0)
        return rc;
    if (c->queued + c->pend.len > KULA_NET_MAX_SEND_QUEUE) {
        c->pend.len = before;
        kula_warn("peer %s reads too slowly (%zu bytes queued): disconnecting", c->addr,
                  c->queued + before);
        conn_close(c, NULL);
        return KULA_EIO;
    }
    c->msgs_out++;
    if (!n->flusher_on) {
        uv_prepare_start(&n->flusher, on_flush);
        n->flusher_on = true;
    }
    return KULA_OK;
}

/* The remembered score of key (0 for a key not seen misbehaving). */
static int *score_of(kula_net *n, const kula_pubkey *key, bool create)
{
    for (size_t i = 0; i < n->nscores; i++)
        if (memcmp(n->scores[i].key.b, key->b, KULA_PUBKEY_LEN) == 0)
            return &n->scores[i].score;
    if (!create)
        return NULL;
    size_t slot = n->nscores;
    if (slot < KULA_NET_MAX_SCORED) {
        n->nscores++;
    } else {
        slot = n->next_score; /* full: the oldest entry goes */
        n->next_score = (n->next_score + 1) % KULA_NET_MAX_SCORED;
    }
    n->scores[slot].key = *key;
    n->scores[slot].score = 0;
    return &n->scores[slot].score;
}

void kula_net_misbehave(kula_net *n, uint32_t peer, int points, const char *why)
{
    conn *c = find_conn(n, peer);
    if (c == NULL)
        return;
    int *score = c->established ? score_of(n, kula_hs_peer_key(c->hs), true) : NULL;
    if (score != NULL) {
        *score += points;
        c->score = *score;
    } else {
        c->score += points;
    }
    char msg[200];
    if (c->established && c->score >= KULA_NET_BAN_SCORE) {
        snprintf(msg, sizeof(msg), "%s; score %d: banned for %u s", why, c->score,
                 KULA_NET_BAN_MS / 1000);
        ban(n, kula_hs_peer_key(c->hs));
    } else if (points >= KULA_NET_VIOLATION || !c->established) {
        snprintf(msg, sizeof(msg), "%s; score %d", why, c->score);
    } else {
        kula_debug("peer %u %s: %s (score %d)", c->id, c->addr, why, c->score);
        return;
    }
    kula_warn("peer %u %s misbehaved: %s", c->id, c->addr, msg);
    conn_close(c, msg);
}

void kula_net_disconnect(kula_net *n, uint32_t peer, const char *why)
{
    conn *c = find_conn(n, peer);
    if (c != NULL)
        conn_close(c, why);
}

void kula_net_set_status(kula_net *n, uint32_t peer, uint64_t height, uint16_t listen_port)
{
    conn *c = find_conn(n, peer);
    if (c == NULL || !c->established)
        return;
    c->height = height;
    if (listen_port == 0 || listen_port == c->listen_port)
        return;
    c->listen_port = listen_port;
    /* Remember where it listens, with its key, so that this node does not
     * dial it again while connected, and can tell others. */
    struct sockaddr_storage sa = c->remote;
    if (sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&sa)->sin_port = htons(listen_port);
    else if (sa.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons(listen_port);
    else
        return;
    int i = add_entry(n, &sa, false);
    if (i >= 0) {
        n->addrs[i].has_key = true;
        n->addrs[i].key = *kula_hs_peer_key(c->hs);
    }
}

void kula_net_add_addr(kula_net *n, const kula_peer_addr *a)
{
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof(sa));
    if (a->ip_len == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->ip, 4);
        s4->sin_port = htons(a->port);
    } else if (a->ip_len == 16) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->ip, 16);
        s6->sin6_port = htons(a->port);
    } else {
        return;
    }
    add_entry(n, &sa, false);
}

size_t kula_net_listen_addrs(kula_net *n, kula_peer_addr *out, size_t max)
{
    size_t k = 0;
    for (conn *c = n->conns; c != NULL && k < max; c = c->next) {
        if (c->closing || !c->established || c->listen_port == 0)
            continue;
        kula_peer_addr *a = &out[k];
        memset(a, 0, sizeof(*a));
        if (c->remote.ss_family == AF_INET) {
            a->ip_len = 4;
            memcpy(a->ip, &((struct sockaddr_in *)&c->remote)->sin_addr, 4);
        } else if (c->remote.ss_family == AF_INET6) {
            a->ip_len = 16;
            memcpy(a->ip, &((struct sockaddr_in6 *)&c->remote)->sin6_addr, 16);
        } else {
            continue;
        }
        a->port = c->listen_port;
        k++;
    }
    return k;
}

void kula_net_get_stats(kula_net *n, kula_net_stats *out)
{
    *out = n->stats;
    out->handshakes = 0;
    for (conn *c = n->conns; c != NULL; c = c->next)
        if (!c->closing && !c->outbound && !c->established)
            out->handshakes++;
    out->inbound = count_inbound(n, NULL);
    out->outbound = count_conns(n, true);
}

size_t kula_net_established(kula_net *n, uint32_t *ids, size_t max)
{
    size_t k = 0;
    for (conn *c = n->conns; c != NULL; c = c->next)
        if (!c->closing && c->established && k < max)
            ids[k++] = c->id;
    /* the list is newest first: sort ascending (few peers) */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint32_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    return k;
}

size_t kula_net_peers(kula_net *n, kula_net_peer_info *out, size_t max)
{
    size_t k = 0;
    for (conn *c = n->conns; c != NULL && k < max; c = c->next) {
        if (c->closing)
            continue;
        kula_net_peer_info *p = &out[k++];
        memset(p, 0, sizeof(*p));
        p->id = c->id;
        snprintf(p->addr, sizeof(p->addr), "%s", c->addr);
        p->outbound = c->outbound;
        p->established = c->established;
        if (c->established)
            p->key = *kula_hs_peer_key(c->hs);
        p->height = c->height;
        p->listen_port = c->listen_port;
        p->score = c->score;
        p->connected_ms = c->connected_ms;
        p->bytes_in = c->bytes_in;
        p->bytes_out = c->bytes_out;
        p->msgs_in = c->msgs_in;
        p->msgs_out = c->msgs_out;
        p->writes_out = c->writes_out;
        p->queued = c->queued + c->pend.len;
    }
    return k;
}

size_t kula_net_queued(kula_net *n, uint32_t peer)
{
    conn *c = find_conn(n, peer);
    return c != NULL ? c->queued + c->pend.len : 0;
}

const kula_pubkey *kula_net_peer_key(kula_net *n, uint32_t peer)
{
    conn *c = find_conn(n, peer);
    return c != NULL && c->established ? kula_hs_peer_key(c->hs) : NULL;
}

uint16_t kula_net_listen_port(const kula_net *n) { return n->listen_port; }
