/* web_requests.h -- transaction files left with the node for the members
 * who still have to sign them: the web wallet's "To sign" list.  Pure
 * bookkeeping (no HTTP, no clock: the caller gives the time, in ms since
 * the epoch, as a transaction's expiry is written), so that it is
 * tested without a browser.  Private to node/api.
 *
 * A file is left by a member who signed it (in the web wallet, or with
 * `kula submit FILE --ask-others`); each member still to sign then finds it
 * in its list and gets the event "signature" (events.h).  One entry per
 * transaction (its id, the hash of its body): a file of the same
 * transaction left again brings its signatures into the entry, so no
 * signature is lost whichever copy was signed.  An entry is forgotten when
 * its transaction is submitted, when it expires (the transaction's own
 * expiry, else KULA_WEB_REQUEST_TTL_MS after it was left), or, when
 * KULA_WEB_REQUESTS_MAX are held, to make room for a new one (the oldest
 * goes).  The list lives in memory: a restart of kulad forgets it (the
 * files themselves stay with whoever wrote them). */
#ifndef KULA_WEB_REQUESTS_H
#define KULA_WEB_REQUESTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "web_form.h"

#define KULA_WEB_REQUESTS_MAX 32u
#define KULA_WEB_REQUEST_TTL_MS (7ull * 24u * 3600u * 1000u)

typedef struct kula_web_request {
    bool used;
    kula_hash id;             /* the transaction's id */
    json_t *file;             /* owned: the file with every signature known */
    uint64_t added_ms, expires_ms; /* ms since the epoch */
    uint32_t from;            /* who left it */
    uint32_t nreq;
    uint32_t req[KULA_MAX_PARTIES];
    bool has_signed[KULA_MAX_PARTIES];
} kula_web_request;

typedef struct kula_web_requests {
    kula_web_request r[KULA_WEB_REQUESTS_MAX];
} kula_web_requests;

/* Leaves the file t (decoded and checked by kula_web_form_parse) from
 * member `from`, merging the signatures of an entry of the same
 * transaction.  Out: asked[KULA_MAX_PARTIES], *nasked: the members still
 * to sign who were not asked before (to notify); e on failure.
 * Returns: 0; KULA_EEXIST when every required member has signed (submit it
 *          instead); KULA_ETXEXPIRED when it expired; KULA_ENOMEM. */
KULA_MUST_CHECK
int kula_web_requests_put(kula_web_requests *q, const kula_web_txfile *t, uint32_t from,
                          uint64_t now_ms, uint32_t *asked, uint32_t *nasked, kula_error *e);

/* Forgets the entry of transaction id (it was submitted), if any. */
void kula_web_requests_drop(kula_web_requests *q, const kula_hash *id);

/* The files that wait for member's signature, oldest first: a new array of
 * {"id", "from", "left_ms", "expires_ms", "file"}; expired entries are
 * forgotten first.  NULL: out of memory. */
json_t *kula_web_requests_for(kula_web_requests *q, uint32_t member, uint64_t now_ms);

void kula_web_requests_free(kula_web_requests *q);

#endif /* KULA_WEB_REQUESTS_H */
