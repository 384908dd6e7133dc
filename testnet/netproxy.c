/* netproxy.c -- kula-netproxy: a TCP relay that gives the testnet's peer
 * connections the latency, jitter and loss of a real network (this kernel
 * has no netem).  testnet/up --netns runs one in each node's namespace, in
 * front of the node's peer port.
 *
 * Each accepted connection is relayed to --to; every chunk read in either
 * direction is held for --delay ms plus a uniform jitter of at most --jitter
 * ms, and never released before the chunk read before it, so each direction
 * keeps its order as TCP does.  TCP loses no bytes, so a lost packet is
 * modelled by what TCP makes of it: with probability --loss % a chunk waits a
 * retransmission timeout more (--stall-ms, default 200 ms, Linux's smallest),
 * holding up what follows it.  --reset-every S resets each connection after a
 * random time of 0.5 to 1.5 S seconds (a link that drops its connections).
 * Memory is bounded: a direction that holds --buffer-kib KiB (queued and
 * being written) stops reading until half of it is written.
 *
 * One thread, libuv.  SIGTERM or SIGINT prints the totals and exits 0. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "kula/base/hostport.h"

#define READ_BUF 65536

typedef struct chunk {
    struct chunk *next;
    uint64_t release_ms;   /* when it may be written */
    uv_write_t req;
    struct dir *d;
    size_t len;
    char data[];
} chunk;

struct pair;

/* One direction of a relayed connection: bytes read from src, written to dst. */
typedef struct dir {
    struct pair *p;
    uv_tcp_t *src, *dst;
    uv_timer_t timer;
    chunk *head, *tail;    /* waiting for their release time */
    uint64_t last_release; /* release time of the last chunk queued */
    size_t held;           /* bytes queued plus bytes being written */
    bool reading, eof, shut;
    char buf[READ_BUF];
} dir;

typedef struct pair {
    unsigned id;
    uv_tcp_t client, upstream;
    uv_connect_t connect_req;
    uv_shutdown_t shut_req[2];
    uv_timer_t reset_timer;
    dir d[2];              /* d[0]: client -> upstream, d[1]: upstream -> client */
    int open_handles;
    bool closing;
} pair;

static struct {
    kula_hostport listen, to;
    struct sockaddr_storage to_sa;
    unsigned delay_ms, jitter_ms, stall_ms;
    double loss;           /* 0..1 */
    unsigned reset_every_s;
    size_t buffer;         /* bytes per direction */
    uint64_t seed;
} opt;

/* The options that take a number, in one table: name, largest value and
 * where it goes (with its default). */
static unsigned long n_delay, n_jitter, n_loss, n_stall = 200, n_reset, n_buffer = 1024, n_seed;
static const struct {
    const char *name;
    unsigned long max;
    unsigned long *dst;
} numeric[] = {
    { "delay", 60000, &n_delay },       { "jitter", 60000, &n_jitter },
    { "loss", 100, &n_loss },           { "stall-ms", 60000, &n_stall },
    { "reset-every", 86400, &n_reset }, { "buffer-kib", 1048576, &n_buffer },
    { "seed", ULONG_MAX, &n_seed },
};
#define N_NUMERIC (sizeof(numeric) / sizeof(numeric[0]))

static struct {
    unsigned accepted, active, refused_upstream, resets, stalls;
    uint64_t bytes[2];
    size_t max_held;
} stats;

static uv_loop_t *loop;
static uv_tcp_t server;
static unsigned next_id = 1;
static uint64_t rng_state;

static void say(const char *fmt, ...)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s kula-netproxy: ", when);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t rng(void) /* xorshift64*: not for secrets, only for delays */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static double rng_unit(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

/* ---- closing ---- */

static void pair_handle_closed(pair *p)
{
    if (--p->open_handles > 0)
        return;
    for (int i = 0; i < 2; i++) {
        chunk *c = p->d[i].head;
        while (c != NULL) {
            chunk *next = c->next;
            free(c);
            c = next;
        }
    }
    stats.active--;
    free(p);
}

/* The sockets' and the reset timer's data is their pair, a direction's
 * timer's is its direction. */
static void on_handle_closed(uv_handle_t *h) { pair_handle_closed(h->data); }
static void on_dir_timer_closed(uv_handle_t *h) { pair_handle_closed(((dir *)h->data)->p); }

/* Closes both sockets (with a reset when asked) and the timers.  Chunks
 * being written are freed by their write callback (libuv calls it with
 * UV_ECANCELED before the socket's close callback); those still queued are
 * freed with the pair. */
static void pair_close(pair *p, bool reset, const char *why)
{
    if (p->closing)
        return;
    p->closing = true;
    if (why != NULL)
        say("connection %u closed: %s", p->id, why);
    uv_tcp_t *socks[2] = { &p->client, &p->upstream };
    for (int i = 0; i < 2; i++) {
        if (reset && uv_tcp_close_reset(socks[i], on_handle_closed) == 0)
            continue;
        uv_close((uv_handle_t *)socks[i], on_handle_closed);
    }
    uv_close((uv_handle_t *)&p->d[0].timer, on_dir_timer_closed);
    uv_close((uv_handle_t *)&p->d[1].timer, on_dir_timer_closed);
    uv_close((uv_handle_t *)&p->reset_timer, on_handle_closed);
}

/* ---- one direction ---- */

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void dir_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    pair *p = h->data;
    dir *d = (uv_tcp_t *)h == &p->client ? &p->d[0] : &p->d[1];
    *buf = uv_buf_init(d->buf, sizeof(d->buf));
}

static void dir_read(dir *d, bool on)
{
    if (d->reading == on || d->eof || d->p->closing)
        return;
    if (on)
        uv_read_start((uv_stream_t *)d->src, dir_alloc, on_read);
    else
        uv_read_stop((uv_stream_t *)d->src);
    d->reading = on;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    pair *p = req->data;
    if (status < 0 && status != UV_ECANCELED)
        pair_close(p, false, uv_strerror(status));
    else if (p->d[0].shut && p->d[1].shut)
        pair_close(p, false, NULL);
}

/* The source said end of file and every byte is written: pass it on. */
static void dir_maybe_shut(dir *d)
{
    pair *p = d->p;
    if (!d->eof || d->shut || d->held > 0 || p->closing)
        return;
    d->shut = true;
    uv_shutdown_t *req = &p->shut_req[d - p->d];
    req->data = p;
    if (uv_shutdown(req, (uv_stream_t *)d->dst, on_shutdown) != 0)
        pair_close(p, false, "shutdown failed");
}

static void on_written(uv_write_t *req, int status)
{
    chunk *c = req->data;
    dir *d = c->d;
    pair *p = d->p;
    d->held -= c->len;
    free(c);
    if (p->closing)
        return;
    if (status < 0) {
        pair_close(p, false, uv_strerror(status));
        return;
    }
    if (d->held <= opt.buffer / 2)
        dir_read(d, true);
    dir_maybe_shut(d);
}

static void dir_arm(dir *d);

static void on_due(uv_timer_t *t)
{
    dir *d = t->data;
    uint64_t now = uv_now(loop);
    while (d->head != NULL && d->head->release_ms <= now && !d->p->closing) {
        chunk *c = d->head;
        d->head = c->next;
        if (d->head == NULL)
            d->tail = NULL;
        c->req.data = c;
        uv_buf_t b = uv_buf_init(c->data, (unsigned)c->len);
        if (uv_write(&c->req, (uv_stream_t *)d->dst, &b, 1, on_written) != 0) {
            d->held -= c->len;
            free(c);
            pair_close(d->p, false, "write failed");
            return;
        }
    }
    dir_arm(d);
}

static void dir_arm(dir *d)
{
    if (d->head == NULL || d->p->closing)
        return;
    uint64_t now = uv_now(loop);
    uint64_t wait = d->head->release_ms > now ? d->head->release_ms - now : 0;
    uv_timer_start(&d->timer, on_due, wait, 0);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    pair *p = s->data;
    dir *d = (uv_tcp_t *)s == &p->client ? &p->d[0] : &p->d[1];
    if (n == 0)
        return;
    if (n == UV_EOF) {
        uv_read_stop(s);
        d->reading = false;
        d->eof = true;
        dir_maybe_shut(d);
        return;
    }
    if (n < 0) {
        pair_close(p, false, uv_strerror((int)n));
        return;
    }
    chunk *c = malloc(sizeof(*c) + (size_t)n);
    if (c == NULL) {
        pair_close(p, true, "out of memory");
        return;
    }
    memcpy(c->data, d->buf, (size_t)n);
    c->len = (size_t)n;
    c->d = d;
    c->next = NULL;
    /* the delay of this chunk; never before the previous one (FIFO) */
    int64_t delay = opt.delay_ms;
    if (opt.jitter_ms > 0)
        delay += (int64_t)(rng() % (2 * (uint64_t)opt.jitter_ms + 1)) - opt.jitter_ms;
    if (opt.loss > 0 && rng_unit() < opt.loss) {
        delay += opt.stall_ms;
        stats.stalls++;
    }
    uint64_t now = uv_now(loop);
    uint64_t at = delay > 0 ? now + (uint64_t)delay : now;
    if (at < d->last_release)
        at = d->last_release;
    c->release_ms = d->last_release = at;
    if (d->tail != NULL)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->held += c->len;
    stats.bytes[d - p->d] += c->len;
    if (d->held > stats.max_held)
        stats.max_held = d->held;
    if (d->held >= opt.buffer)
        dir_read(d, false); /* back-pressure: the sender's TCP window fills */
    if (d->head == c)
        dir_arm(d);
}

/* ---- connections ---- */

static void on_reset_due(uv_timer_t *t)
{
    pair *p = t->data;
    stats.resets++;
    pair_close(p, true, "reset (--reset-every)");
}

static void on_upstream(uv_connect_t *req, int status)
{
    pair *p = req->data;
    if (p->closing)
        return;
    if (status < 0) {
        stats.refused_upstream++;
        pair_close(p, true, status == UV_ECONNREFUSED ? "the node behind --to refused it "
                                                        "(not listening: stopped or restarting?)"
                                                      : uv_strerror(status));
        return;
    }
    dir_read(&p->d[0], true);
    dir_read(&p->d[1], true);
    if (opt.reset_every_s > 0) {
        uint64_t ms = (uint64_t)(opt.reset_every_s * 1000.0 * (0.5 + rng_unit()));
        uv_timer_start(&p->reset_timer, on_reset_due, ms, 0);
    }
}

static void on_accept(uv_stream_t *srv, int status)
{
    if (status < 0) {
        say("accept: %s", uv_strerror(status));
        return;
    }
    pair *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        say("out of memory: a connection refused");
        return;
    }
    p->id = next_id++;
    uv_tcp_init(loop, &p->client);
    p->client.data = p;
    p->open_handles = 1;
    if (uv_accept(srv, (uv_stream_t *)&p->client) != 0) {
        p->closing = true;
        stats.active++;
        uv_close((uv_handle_t *)&p->client, on_handle_closed);
        return;
    }
    stats.accepted++;
    stats.active++;
    uv_tcp_init(loop, &p->upstream);
    p->upstream.data = p;
    uv_timer_init(loop, &p->reset_timer);
    p->reset_timer.data = p;
    p->open_handles = 5;
    for (int i = 0; i < 2; i++) {
        dir *d = &p->d[i];
        d->p = p;
        d->src = i == 0 ? &p->client : &p->upstream;
        d->dst = i == 0 ? &p->upstream : &p->client;
        uv_timer_init(loop, &d->timer);
        d->timer.data = d;
    }
    uv_tcp_nodelay(&p->client, 1);
    uv_tcp_nodelay(&p->upstream, 1);
    p->connect_req.data = p;
    if (uv_tcp_connect(&p->connect_req, &p->upstream, (struct sockaddr *)&opt.to_sa,
                       on_upstream) != 0)
        pair_close(p, true, "cannot connect to --to");
}

/* ---- main ---- */

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    say("%s: %u connections (%u refused by the node, %u reset), %u stalls, "
        "%" PRIu64 " bytes in, %" PRIu64 " bytes out, at most %zu bytes held in one "
        "direction; exiting",
        signum == SIGTERM ? "SIGTERM" : "SIGINT", stats.accepted, stats.refused_upstream,
        stats.resets, stats.stalls, stats.bytes[0], stats.bytes[1], stats.max_held);
    exit(0);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: kula-netproxy --listen HOST:PORT --to HOST:PORT [options]\n"
        "\n"
        "Relays every TCP connection accepted on --listen to --to, holding each chunk\n"
        "of bytes for a delay in each direction, order kept (testnet/up --netns runs\n"
        "one in front of each node's peer port; see testnet/README.md).\n"
        "\n"
        "  --listen HOST:PORT   where to accept connections (an IP literal)\n"
        "  --to HOST:PORT       where to relay them\n"
        "  --delay MS           delay of each direction, in milliseconds (default 0)\n"
        "  --jitter MS          plus or minus up to MS ms, uniform (default 0; at most\n"
        "                       --delay); a chunk is never released before the one\n"
        "                       read before it\n"
        "  --loss PCT           percentage of chunks (0 to 100, default 0) that wait a\n"
        "                       retransmission more, as TCP does for a lost packet\n"
        "  --stall-ms MS        that retransmission time (default 200)\n"
        "  --reset-every S      reset each connection after 0.5 S to 1.5 S seconds\n"
        "                       (default 0: never)\n"
        "  --buffer-kib K       most bytes held per direction before it stops reading\n"
        "                       (default 1024 KiB)\n"
        "  --seed N             seed of the random delays (default: from the clock)\n"
        "  -h, --help           this text\n"
        "\n"
        "It logs to standard error; SIGTERM prints the totals and exits 0.\n"
        "Exit status: 0 on SIGTERM/SIGINT, 2 on a bad option, 1 if it cannot listen.\n");
}

static unsigned long num(const char *name, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max) {
        fprintf(stderr, "kula-netproxy: --%s: expected a whole number from 0 to %lu, got '%s'\n",
                name, max, s);
        exit(2);
    }
    return v;
}

static void addr_of(const char *name, const char *s, kula_hostport *hp)
{
    if (kula_hostport_parse(hp, s) != 0) {
        fprintf(stderr, "kula-netproxy: %s: expected HOST:PORT with an IP address "
                        "(such as 10.77.1.2:28002), got '%s'\n", name, s);
        exit(2);
    }
}

static int sockaddr_of(const kula_hostport *hp, struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof(*sa));
    if (uv_ip4_addr(hp->host, hp->port, (struct sockaddr_in *)sa) == 0)
        return 0;
    return uv_ip6_addr(hp->host, hp->port, (struct sockaddr_in6 *)sa);
}

int main(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_TO, O_NUMERIC };
    struct option longopts[N_NUMERIC + 4] = {
        { "listen", required_argument, NULL, O_LISTEN },
        { "to", required_argument, NULL, O_TO },
        { "help", no_argument, NULL, 'h' },
    }; /* then the numeric ones, then the zeroed end */
    for (size_t i = 0; i < N_NUMERIC; i++)
        longopts[3 + i] = (struct option){ numeric[i].name, required_argument, NULL,
                                           O_NUMERIC + (int)i };
    bool have_listen = false, have_to = false, have_seed = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c >= O_NUMERIC && c < O_NUMERIC + (int)N_NUMERIC) {
            size_t i = (size_t)(c - O_NUMERIC);
            *numeric[i].dst = num(numeric[i].name, optarg, numeric[i].max);
            have_seed = have_seed || numeric[i].dst == &n_seed;
        } else if (c == O_LISTEN) {
            addr_of("--listen", optarg, &opt.listen);
            have_listen = true;
        } else if (c == O_TO) {
            addr_of("--to", optarg, &opt.to);
            have_to = true;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    opt.delay_ms = (unsigned)n_delay;
    opt.jitter_ms = (unsigned)n_jitter;
    opt.loss = (double)n_loss / 100.0;
    opt.stall_ms = (unsigned)n_stall;
    opt.reset_every_s = (unsigned)n_reset;
    opt.buffer = (size_t)n_buffer * 1024;
    opt.seed = n_seed;
    if (optind < argc) {
        fprintf(stderr, "kula-netproxy: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (!have_listen || !have_to) {
        fprintf(stderr, "kula-netproxy: give both --listen and --to (see --help)\n");
        return 2;
    }
    if (opt.jitter_ms > opt.delay_ms) {
        fprintf(stderr, "kula-netproxy: --jitter %u is more than --delay %u: a chunk cannot "
                        "leave before it arrives; lower --jitter\n", opt.jitter_ms, opt.delay_ms);
        return 2;
    }
    if (opt.buffer < 16 * 1024) {
        fprintf(stderr, "kula-netproxy: --buffer-kib must be at least 16\n");
        return 2;
    }
    rng_state = have_seed ? opt.seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (rng_state == 0)
        rng_state = 0x9e3779b97f4a7c15ull;

    struct sockaddr_storage listen_sa;
    char ltext[80], ttext[80];
    kula_hostport_format(ltext, sizeof(ltext), &opt.listen);
    kula_hostport_format(ttext, sizeof(ttext), &opt.to);
    if (sockaddr_of(&opt.listen, &listen_sa) != 0 || sockaddr_of(&opt.to, &opt.to_sa) != 0) {
        fprintf(stderr, "kula-netproxy: cannot use %s or %s as an address\n", ltext, ttext);
        return 2;
    }
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (struct sockaddr *)&listen_sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 128, on_accept);
    if (rc != 0) {
        fprintf(stderr, "kula-netproxy: cannot listen on %s: %s\n", ltext, uv_strerror(rc));
        return 1;
    }
    uv_signal_t sig_term, sig_int;
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    say("relaying %s -> %s: delay %u ms +- %u ms, loss %.0f %% (stall %u ms), reset every "
        "%u s, %zu KiB per direction", ltext, ttext, opt.delay_ms, opt.jitter_ms,
        opt.loss * 100, opt.stall_ms, opt.reset_every_s, opt.buffer / 1024);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
