/* proposal.c -- canonical encoding of the consensus block proposal
 * (proto/SPEC.md §7.3). */
#include <string.h>

#include "kula/base/error.h"
#include "kula/types/proposal.h"

/* SPEC §7.3: pol_round is -1 (negative fixint ff) or 0 <= pol_round < round. */
static bool pol_ok(int64_t pol, uint32_t round) { return pol == -1 || (pol >= 0 && pol < round); }

static void w_body(kula_writer *w, const kula_block_proposal *p)
{
    kula_w_array(w, 6);
    kula_w_uint(w, KULA_PROPOSAL_VERSION);
    kula_w_uint(w, p->height);
    kula_w_uint(w, p->round);
    kula_w_int(w, p->pol_round);
    kula_w_bin(w, p->block_hash.b, KULA_HASH_LEN);
    kula_w_uint(w, p->proposer);
}

int kula_block_proposal_encode_body(kula_buf *out, const kula_block_proposal *p)
{
    if (!pol_ok(p->pol_round, p->round))
        return KULA_ERANGE;
    kula_writer w;
    kula_writer_init(&w, out);
    w_body(&w, p);
    return out->err;
}

int kula_block_proposal_encode(kula_buf *out, const kula_block_proposal *p)
{
    if (!pol_ok(p->pol_round, p->round))
        return KULA_ERANGE;
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 2);
    w_body(&w, p);
    kula_w_bin(&w, p->sig.b, KULA_SIG_LEN);
    return out->err;
}

int kula_block_proposal_decode(kula_block_proposal *p, const uint8_t *data, size_t len)
{
    memset(p, 0, sizeof(*p));
    kula_reader r;
    kula_reader_init(&r, data, len);
    kula_r_array_exact(&r, 2);
    /* As the header (§5.1): the version is read before the arity is judged,
     * so a future version with more fields is reported as EVERSION. */
    uint32_t fields = kula_r_array(&r, 64);
    if (kula_reader_ok(&r) && fields == 0)
        kula_reader_fail(&r, KULA_EARITY);
    uint64_t version = kula_r_uint(&r, UINT64_MAX);
    if (kula_reader_ok(&r) && version != KULA_PROPOSAL_VERSION)
        kula_reader_fail(&r, KULA_EVERSION);
    if (kula_reader_ok(&r) && fields != 6)
        kula_reader_fail(&r, KULA_EARITY);
    p->height = kula_r_uint(&r, UINT64_MAX);
    p->round = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    p->pol_round = kula_r_int(&r, -1, (int64_t)UINT32_MAX - 1);
    if (kula_reader_ok(&r) && !pol_ok(p->pol_round, p->round))
        kula_reader_fail(&r, KULA_ERANGE);
    kula_r_bin_exact(&r, p->block_hash.b, KULA_HASH_LEN);
    p->proposer = (uint32_t)kula_r_uint(&r, UINT32_MAX);
    kula_r_bin_exact(&r, p->sig.b, KULA_SIG_LEN);
    int rc = kula_reader_finish(&r);
    if (rc != 0)
        memset(p, 0, sizeof(*p));
    return rc;
}

void kula_block_proposal_sighash(kula_hash *out, const kula_hash *chain_id,
                                 const kula_block_proposal *p)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_encoded_or_abort(kula_block_proposal_encode_body(&b, p), "a block proposal");
    kula_signing_digest(out, KULA_TAG_PROPOSAL, chain_id, b.data, b.len);
    kula_buf_free(&b);
}
