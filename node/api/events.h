/* events.h -- what concerns a member, as it happens: the web wallet's
 * server-sent event stream (GET /events) and kulad --notify.  Private to
 * node/api.
 *
 * Every EVENTS_TICK_MS a timer reads the blocks committed since its last
 * look (at most EVENTS_BLOCKS_PER_TICK a tick, so a node catching up never
 * holds its loop) and the node's health, and makes events:
 *   payment   a transfer to the member (to its receiver only);
 *   invoice   an invoice to the member (a payment request, to its debtor);
 *   proposal  a proposal opened (to everyone);
 *   settled   an agreement settled (to its parties);
 *   health    the node's health changed (to everyone);
 *   signature a transaction file waits for the member's signature (to that
 *             member: kula_events_signature, web_requests.h);
 *   block     a block was committed (to everyone: pages refresh).
 * A stream is held by MHD suspended while it has nothing to send, so it
 * costs no loop time; it gets a comment line every EVENTS_HEARTBEAT_MS; at
 * most EVENTS_MAX_STREAMS are open (one more is refused with 503), and one
 * whose reader falls EVENTS_MAX_QUEUE bytes behind is ended (the page
 * reconnects and reloads what it shows).
 *
 * kulad --notify CMD runs CMD for the events payment, invoice, signature and settled of the
 * node's own members (the keys of DATADIR/wallet and DATADIR/node.key),
 * proposal and health: split at spaces by kulad (no shell), an argument
 * "%s" replaced by two, the event's word and its id (a transaction id in
 * hex; for health, the state).  At most NOTIFY_RUNNING runs at once (uv_spawn,
 * never waited for on the loop); NOTIFY_QUEUE events wait, more are
 * dropped with a warning. */
#ifndef KULA_EVENTS_H
#define KULA_EVENTS_H

#include <microhttpd.h>
#include <uv.h>

#include "kula/api/rpc.h"
#include "kula/crypto/crypto.h"

#define EVENTS_TICK_MS 250u
#define EVENTS_BLOCKS_PER_TICK 16u
#define EVENTS_HEARTBEAT_MS 15000u
#define EVENTS_MAX_STREAMS 32u
#define EVENTS_MAX_QUEUE (256u * 1024u)
#define NOTIFY_RUNNING 4u
#define NOTIFY_QUEUE 64u
#define NOTIFY_MAX_ARGS 32u

typedef struct kula_events kula_events;

/* Returns: 0 or KULA_ENOMEM.  loop and env are borrowed; env->notify is
 * the --notify command (NULL: none); datadir holds the node's keys. */
int kula_events_new(kula_events **out, uv_loop_t *loop, kula_rpc_env *env,
                    const char *datadir);
/* Ends every stream (resumed, so that MHD closes them in its next run) and
 * stops the timer; e is freed once the loop has closed it. */
void kula_events_stop(kula_events *e);
/* Answers conn with a stream of the events of the member of key pk, for
 * the session named sid (the stream ends with it). */
enum MHD_Result kula_events_stream(kula_events *e, struct MHD_Connection *conn,
                                   const kula_pubkey *pk, const char *sid);
/* A transaction file (its transaction's id, hex) left by member `from`
 * waits for member `to`'s signature: the event "signature" {"id", "from":
 * {"id", "name"}} to `to`'s streams, and --notify "signature ID" when `to` is
 * one of the node's members. */
void kula_events_signature(kula_events *e, uint32_t to, const char *id, uint32_t from);
/* Ends the streams of session sid (logout). */
void kula_events_end_session(kula_events *e, const char *sid);

#endif /* KULA_EVENTS_H */
