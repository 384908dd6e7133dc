/* engine.c -- the consensus driver (kula/consensus/driver.h) on the live
 * network: its io table made of libuv timers, the node's key, the
 * DATADIR/consensus.state and DATADIR/consensus.blocks files
 * (kula/daemon/consfile.h) and the peers (kula/net/p2p.h).
 *
 * Lifetime: the engine owns three timer handles; kula_engine_stop frees the
 * driver at once (no callback can reach it after uv_close) and the engine
 * itself when the loop has closed the last handle (on_closed). */
#include "kula/daemon/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kula/base/error.h"
#include "kula/base/log.h"
#include "kula/consensus/driver.h"
#include "kula/daemon/consfile.h"
#include "kula/net/wire.h"

#define GOSSIP_MS 1000u

struct kula_engine {
    kula_engine_env env;
    kula_p2p *p2p;            /* NULL until attached, and after stop */
    kula_driver *driver;
    uv_timer_t timers[2];     /* by enum kula_driver_timer */
    uv_timer_t gossip_timer;
    int handles;              /* open timer handles */
    kula_consfile files;      /* consensus.state and consensus.blocks */
    int file_errno[2];        /* of each file's last write (state, blocks), 0 when it worked */
    uint64_t save_failures;   /* failed writes of either since start */
    kula_buf buf;             /* a wire message being sent */
};

enum { STATE_FILE, BLOCKS_FILE };

/* Logs and counts a failed write of file `which` at path (errno e) or,
 * after failures, its first write that works again.  Each file says so
 * once in a row (an error, then debug lines): the driver tries again every
 * block interval, and the node's health says storage-error meanwhile.
 * Returns: KULA_EIO, or KULA_OK when e is 0. */
static int note_write(kula_engine *v, int which, const char *path, int e)
{
    int *last = &v->file_errno[which];
    if (e != 0) {
        if (*last == 0)
            kula_error("cannot write %s: %s", path, strerror(e));
        else
            kula_debug("cannot write %s: %s", path, strerror(e));
        *last = e;
        v->save_failures++;
        return KULA_EIO;
    }
    if (*last != 0)
        kula_info("%s written again", path);
    *last = 0;
    return KULA_OK;
}

/* ---- DATADIR/consensus.state and consensus.blocks (kula/daemon/consfile.h) ---- */

static int write_saved(void *ctx, const kula_cons_saved *s)
{
    kula_engine *v = ctx;
    int rc = kula_consfile_write_state(&v->files, s);
    return note_write(v, STATE_FILE, v->files.state_path, rc == 0 ? 0 : errno ? errno : EIO);
}

static int write_blocks(void *ctx, const kula_held_block *b, size_t n)
{
    kula_engine *v = ctx;
    int rc = kula_consfile_write_blocks(&v->files, b, n);
    return note_write(v, BLOCKS_FILE, v->files.blocks_path, rc == 0 ? 0 : errno ? errno : EIO);
}

/* ---- the io table ---- */

static uint64_t io_now_ms(void *ctx)
{
    kula_engine *v = ctx;
    return uv_now(v->env.loop);
}

static uint64_t io_wall_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_timer(uv_timer_t *t)
{
    kula_engine *v = t->data;
    kula_driver_on_timer(v->driver, (enum kula_driver_timer)(t - v->timers));
}

static void io_arm(void *ctx, enum kula_driver_timer t, uint64_t delay_ms)
{
    kula_engine *v = ctx;
    uv_timer_start(&v->timers[t], on_timer, delay_ms, 0);
}

static void io_disarm(void *ctx, enum kula_driver_timer t)
{
    kula_engine *v = ctx;
    uv_timer_stop(&v->timers[t]);
}

static int io_sign(void *ctx, const kula_hash *digest, kula_sig *sig)
{
    kula_engine *v = ctx;
    return kula_sign(sig, &v->env.key, digest->b);
}

static bool io_verify(void *ctx, const kula_pubkey *pk, const kula_hash *digest,
                      const kula_sig *sig)
{
    (void)ctx;
    return kula_verify(pk, digest->b, sig);
}

/* Wraps m into a wire message and gossips it. */
static void io_send(void *ctx, const kula_driver_msg *m, uint32_t except)
{
    kula_engine *v = ctx;
    kula_msg w;
    memset(&w, 0, sizeof(w));
    switch ((enum kula_driver_msg_type)m->type) {
    case KULA_DRIVER_PROPOSAL:
        w.type = KULA_MSG_PROPOSAL;
        w.u.proposal.proposal = m->a;
        w.u.proposal.proposal_len = m->alen;
        w.u.proposal.block = m->b;
        w.u.proposal.block_len = m->blen;
        break;
    case KULA_DRIVER_VOTE:
        w.type = KULA_MSG_VOTE;
        w.u.vote.vote = m->a;
        w.u.vote.len = m->alen;
        break;
    case KULA_DRIVER_EVIDENCE:
        w.type = KULA_MSG_EVIDENCE;
        w.u.evidence.a = m->a;
        w.u.evidence.a_len = m->alen;
        w.u.evidence.b = m->b;
        w.u.evidence.b_len = m->blen;
        break;
    }
    kula_buf_reset(&v->buf);
    if (kula_msg_encode(&v->buf, &w) != 0)
        return;
    if (m->resend)
        kula_p2p_resend(v->p2p, v->buf.data, v->buf.len);
    else
        kula_p2p_gossip(v->p2p, v->buf.data, v->buf.len, except);
}

static void io_relay_tx(void *ctx, const uint8_t *tx, size_t len)
{
    kula_engine *v = ctx;
    kula_p2p_relay_tx(v->p2p, tx, len);
}

static void io_punish(void *ctx, uint32_t peer, const char *why)
{
    kula_engine *v = ctx;
    kula_p2p_punish(v->p2p, peer, KULA_SCORE_MALFORMED, why);
}

static void io_committed(void *ctx, const kula_driver_commit *c)
{
    kula_engine *v = ctx;
    if (v->env.on_commit != NULL)
        v->env.on_commit(v->env.ctx, c->height, c->txs, (double)c->ms / 1000.0);
    kula_p2p_tip_changed(v->p2p);
}

static void io_dropped(void *ctx, const kula_hash *id, int result)
{
    kula_engine *v = ctx;
    if (v->env.on_dropped != NULL)
        v->env.on_dropped(v->env.ctx, id, result);
}

static void on_gossip(uv_timer_t *t)
{
    kula_engine *v = t->data;
    kula_driver_regossip(v->driver);
}

/* ---- the p2p hooks ---- */

void kula_engine_on_proposal(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                             const uint8_t *proposal, size_t proposal_len,
                             const uint8_t *block, size_t block_len)
{
    (void)msg;
    (void)msg_len;
    kula_engine *v = ctx;
    kula_driver_on_proposal(v->driver, peer, proposal, proposal_len, block, block_len);
}

void kula_engine_on_vote(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                         const uint8_t *vote, size_t vote_len)
{
    (void)msg;
    (void)msg_len;
    kula_engine *v = ctx;
    kula_driver_on_vote(v->driver, peer, vote, vote_len);
}

void kula_engine_on_evidence(void *ctx, uint32_t peer, const uint8_t *msg, size_t msg_len,
                             const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    (void)msg;
    (void)msg_len;
    kula_engine *v = ctx;
    kula_driver_on_evidence(v->driver, peer, a, a_len, b, b_len);
}

void kula_engine_before_apply(void *ctx)
{
    kula_engine *v = ctx;
    kula_driver_before_apply(v->driver);
}

void kula_engine_on_block(void *ctx, uint64_t height, const uint8_t *block, size_t len)
{
    kula_engine *v = ctx;
    kula_driver_on_block(v->driver, height, block, len);
}

/* ---- life ---- */


int kula_engine_start(kula_engine **out, const kula_engine_env *env, kula_error *e)
{
    kula_engine *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    v->env = *env;
    kula_buf_init(&v->buf);
    kula_consfile_init(&v->files, env->datadir);
    kula_cons_saved saved;
    bool has_saved = kula_consfile_read_state(&v->files, &saved);
    kula_buf blocks_file;
    kula_buf_init(&blocks_file);
    kula_held_block blocks[KULA_HELD_BLOCKS_MAX];
    size_t nblocks = has_saved ? kula_consfile_read_blocks(&v->files, &blocks_file, blocks) : 0;
    kula_driver_env de = {
        .chain = env->chain, .mempool = env->mempool, .verifier = env->verifier,
        .chain_id = env->chain_id, .has_key = env->has_key,
        .saved = has_saved ? &saved : NULL, .saved_blocks = blocks, .nsaved_blocks = nblocks,
        .io = { .ctx = v, .now_ms = io_now_ms, .wall_ms = io_wall_ms, .arm = io_arm,
                .disarm = io_disarm, .sign = io_sign, .verify = io_verify,
                .save = write_saved, .save_blocks = write_blocks, .send = io_send,
                .relay_tx = io_relay_tx, .punish = io_punish, .committed = io_committed, .dropped = io_dropped },
    };
    int rc = env->has_key ? kula_key_public(&de.pubkey, &env->key) : KULA_OK;
    if (rc != 0) {
        kula_buf_free(&blocks_file);
        kula_consfile_close(&v->files);
        kula_seckey_wipe(&v->env.key);
        free(v);
        return kula_error_set(e, rc, "the node's key is not valid: %s", kula_strerror(rc));
    }
    rc = kula_driver_new(&v->driver, &de); /* copies the blocks */
    kula_buf_free(&blocks_file);
    if (rc != 0) {
        kula_error_set(e, rc, "cannot start consensus: %s", kula_strerror(rc));
        kula_consfile_close(&v->files);
        kula_seckey_wipe(&v->env.key);
        free(v);
        return rc;
    }
    uv_timer_init(env->loop, &v->timers[0]);
    uv_timer_init(env->loop, &v->timers[1]);
    uv_timer_init(env->loop, &v->gossip_timer);
    v->timers[0].data = v->timers[1].data = v->gossip_timer.data = v;
    v->handles = 3;
    uv_timer_start(&v->gossip_timer, on_gossip, GOSSIP_MS, GOSSIP_MS);
    *out = v;
    return KULA_OK;
}

void kula_engine_attach(kula_engine *v, kula_p2p *p)
{
    v->p2p = p;
    kula_driver_start(v->driver);
}

static void on_closed(uv_handle_t *h)
{
    kula_engine *v = h->data;
    if (--v->handles > 0)
        return;
    kula_buf_free(&v->buf);
    kula_seckey_wipe(&v->env.key);
    free(v);
}

void kula_engine_stop(kula_engine *v)
{
    if (v == NULL)
        return;
    kula_driver_free(v->driver);
    v->driver = NULL;
    v->p2p = NULL;
    kula_consfile_close(&v->files);
    uv_close((uv_handle_t *)&v->timers[0], on_closed);
    uv_close((uv_handle_t *)&v->timers[1], on_closed);
    uv_close((uv_handle_t *)&v->gossip_timer, on_closed);
}

bool kula_engine_voting(const kula_engine *v) { return v != NULL && kula_driver_voting(v->driver); }
uint64_t kula_engine_evidence(const kula_engine *v)
{
    return v != NULL ? kula_driver_evidence(v->driver) : 0;
}
int kula_engine_save_errno(const kula_engine *v)
{
    if (v == NULL)
        return 0;
    return v->file_errno[STATE_FILE] ? v->file_errno[STATE_FILE] : v->file_errno[BLOCKS_FILE];
}
uint64_t kula_engine_save_failures(const kula_engine *v)
{
    return v != NULL ? v->save_failures : 0;
}
uint32_t kula_engine_round(const kula_engine *v)
{
    return v != NULL ? kula_driver_round(v->driver) : 0;
}
