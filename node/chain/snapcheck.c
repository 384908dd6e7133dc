/* snapcheck.c -- the light check of a header at a snapshot height
 * (include/kula/chain/snapcheck.h, proto/SPEC.md §10.3).
 *
 * Direction: calls the ledger's kula_snapshot_root and the types and
 * crypto layers; nothing here touches a store or a peer. */
#include "kula/chain/snapcheck.h"

#include <stdlib.h>
#include <string.h>

#include "kula/codec/codec.h"
#include "kula/ledger/ledger.h"

#define MAX_POWER (UINT64_C(1) << 48)

void kula_snap_trust_genesis(const kula_genesis *g, kula_keyed_valset *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < g->nmembers && out->n < KULA_MAX_VALIDATORS; i++) {
        if (g->members[i].voting_power == 0)
            continue;
        out->v[out->n].id = i + 1;
        out->v[out->n].power = g->members[i].voting_power;
        out->v[out->n].key = g->members[i].pubkey;
        out->total_power += g->members[i].voting_power;
        out->n++;
    }
}

static void read_set(kula_reader *r, kula_keyed_valset *vs)
{
    memset(vs, 0, sizeof(*vs));
    uint32_t n = kula_r_array(r, KULA_MAX_VALIDATORS);
    if (kula_reader_ok(r) && n == 0)
        kula_reader_fail(r, KULA_EARITY);
    for (uint32_t i = 0; i < n && kula_reader_ok(r); i++) {
        kula_r_array_exact(r, 3);
        uint32_t id = (uint32_t)kula_r_uint(r, UINT32_MAX);
        uint64_t power = kula_r_uint(r, MAX_POWER);
        kula_r_bin_exact(r, vs->v[i].key.b, KULA_PUBKEY_LEN);
        if (!kula_reader_ok(r))
            return;
        if (power == 0)
            kula_reader_fail(r, KULA_ERANGE);
        else if (i > 0 && id <= vs->v[i - 1].id)
            kula_reader_fail(r, KULA_EORDER);
        vs->v[i].id = id;
        vs->v[i].power = power;
        vs->total_power += power; /* at most 256 * 2^48: no overflow */
        vs->n = i + 1;
    }
}

int kula_snap_vals_decode(const uint8_t *vals, size_t len, kula_keyed_valset *last,
                          kula_keyed_valset *next)
{
    kula_reader r;
    kula_reader_init(&r, vals, len);
    kula_r_array_exact(&r, 2);
    read_set(&r, last);
    read_set(&r, next);
    return kula_reader_finish(&r);
}

/* The power of set's members whose precommit in cm verifies with the key
 * the set gives them. */
static uint64_t signed_power(const kula_hash *chain_id, const kula_commit *cm,
                             const kula_keyed_valset *set)
{
    uint64_t power = 0;
    uint32_t j = 0;
    for (uint32_t i = 0; i < cm->nsigs; i++) {
        while (j < set->n && set->v[j].id < cm->sigs[i].validator)
            j++;
        if (j == set->n)
            break;
        if (set->v[j].id != cm->sigs[i].validator)
            continue;
        kula_vote v = { .type = KULA_VOTE_PRECOMMIT, .height = cm->height, .round = cm->round,
                        .has_block = true, .block_hash = cm->block_hash,
                        .validator = set->v[j].id };
        kula_hash digest;
        kula_vote_sighash(&digest, chain_id, &v);
        if (kula_verify(&set->v[j].key, digest.b, &cm->sigs[i].sig))
            power += set->v[j].power;
    }
    return power;
}

int kula_snap_check_header(const kula_hash *chain_id, const kula_keyed_valset *trusted,
                           const uint8_t *header, size_t header_len, const uint8_t *commit,
                           size_t commit_len, const kula_hash *diff_root, const uint8_t *vals,
                           size_t vals_len, const kula_hash *state_hash, uint64_t *height,
                           kula_keyed_valset *next, kula_error *e)
{
    kula_header h;
    int rc = kula_header_decode(&h, header, header_len);
    if (rc != 0)
        return kula_error_set(e, rc, "the header does not decode: %s", kula_strerror(rc));
    if (memcmp(h.chain_id.b, chain_id->b, KULA_HASH_LEN) != 0)
        return kula_error_set(e, KULA_ECHAIN, "the header at height %llu is of another network",
                              (unsigned long long)h.height);
    kula_hash root;
    kula_snapshot_root(diff_root, vals, vals_len, state_hash, &root);
    if (memcmp(root.b, h.state_root.b, KULA_HASH_LEN) != 0)
        return kula_error_set(e, KULA_ESTATEROOT,
                              "the snapshot's parts do not give the state root of the header "
                              "at height %llu",
                              (unsigned long long)h.height);
    kula_keyed_valset *last = malloc(sizeof(*last)), *nx = malloc(sizeof(*nx));
    kula_commit *cm = malloc(sizeof(*cm));
    if (last == NULL || nx == NULL || cm == NULL) {
        free(last);
        free(nx);
        free(cm);
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    }
    if ((rc = kula_snap_vals_decode(vals, vals_len, last, nx)) != 0) {
        kula_error_set(e, rc, "the validator sets at height %llu do not decode: %s",
                       (unsigned long long)h.height, kula_strerror(rc));
        goto out;
    }
    if ((rc = kula_commit_decode(cm, commit, commit_len)) != 0) {
        kula_error_set(e, rc, "the commit does not decode: %s", kula_strerror(rc));
        goto out;
    }
    kula_hash hash;
    kula_header_hash(&hash, &h);
    if (cm->height != h.height || memcmp(cm->block_hash.b, hash.b, KULA_HASH_LEN) != 0) {
        rc = kula_error_set(e, KULA_ECOMMIT, "the commit is not for the header at height %llu",
                            (unsigned long long)h.height);
        goto out;
    }
    uint64_t by_trusted = signed_power(chain_id, cm, trusted);
    if (by_trusted * 3 <= trusted->total_power) {
        rc = kula_error_set(e, KULA_ECOMMIT,
                            "the header at height %llu is signed by validators the node trusts "
                            "with %llu of their %llu voting power, not more than 1/3",
                            (unsigned long long)h.height, (unsigned long long)by_trusted,
                            (unsigned long long)trusted->total_power);
        goto out;
    }
    uint64_t by_last = signed_power(chain_id, cm, last);
    if (by_last * 3 <= last->total_power * 2) {
        rc = kula_error_set(e, KULA_ECOMMIT,
                            "the header at height %llu is signed by its validators with %llu of "
                            "their %llu voting power, not more than 2/3",
                            (unsigned long long)h.height, (unsigned long long)by_last,
                            (unsigned long long)last->total_power);
        goto out;
    }
    *height = h.height;
    *next = *nx;
    rc = KULA_OK;
out:
    free(last);
    free(nx);
    free(cm);
    return rc;
}

/* ---- items and stored parts ---- */

int kula_snap_item_encode(kula_buf *out, const kula_snap_item *it)
{
    if (it->height == 0 || it->header_len == 0 || it->header_len > KULA_SNAP_MAX_HEADER ||
        it->commit_len == 0 || it->commit_len > KULA_SNAP_MAX_COMMIT || it->vals_len == 0 ||
        it->vals_len > KULA_SNAP_MAX_VALS)
        return KULA_EINVAL;
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 7);
    kula_w_uint(&w, it->height);
    kula_w_bin(&w, it->header, it->header_len);
    kula_w_bin(&w, it->commit, it->commit_len);
    kula_w_bin(&w, it->diff_root.b, KULA_HASH_LEN);
    kula_w_bin(&w, it->vals, it->vals_len);
    kula_w_bin(&w, it->state_hash.b, KULA_HASH_LEN);
    kula_w_uint(&w, it->size);
    return out->err;
}

/* A bin of 1 .. max bytes. */
static size_t read_some(kula_reader *r, const uint8_t **p, size_t max)
{
    size_t n = kula_r_bin(r, p, max);
    if (kula_reader_ok(r) && n == 0)
        kula_reader_fail(r, KULA_ERANGE);
    return n;
}

int kula_snap_item_decode(kula_snap_item *it, const uint8_t *data, size_t len)
{
    memset(it, 0, sizeof(*it));
    kula_reader r;
    kula_reader_init(&r, data, len);
    kula_r_array_exact(&r, 7);
    it->height = kula_r_uint(&r, UINT64_MAX);
    if (kula_reader_ok(&r) && it->height == 0)
        kula_reader_fail(&r, KULA_ERANGE);
    it->header_len = read_some(&r, &it->header, KULA_SNAP_MAX_HEADER);
    it->commit_len = read_some(&r, &it->commit, KULA_SNAP_MAX_COMMIT);
    kula_r_bin_exact(&r, it->diff_root.b, KULA_HASH_LEN);
    it->vals_len = read_some(&r, &it->vals, KULA_SNAP_MAX_VALS);
    kula_r_bin_exact(&r, it->state_hash.b, KULA_HASH_LEN);
    it->size = kula_r_uint(&r, UINT64_MAX);
    return kula_reader_finish(&r);
}

int kula_snap_parts_encode(kula_buf *out, const kula_snapshot_commit *sc)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 3);
    kula_w_bin(&w, sc->diff_root.b, KULA_HASH_LEN);
    kula_w_bin(&w, sc->vals.data, sc->vals.len);
    kula_w_bin(&w, sc->state_hash.b, KULA_HASH_LEN);
    return out->err;
}

int kula_snap_stored_encode(kula_buf *out, const kula_snap_item *it)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 5);
    kula_w_bin(&w, it->diff_root.b, KULA_HASH_LEN);
    kula_w_bin(&w, it->vals, it->vals_len);
    kula_w_bin(&w, it->state_hash.b, KULA_HASH_LEN);
    kula_w_bin(&w, it->header, it->header_len);
    kula_w_bin(&w, it->commit, it->commit_len);
    return out->err;
}

int kula_snap_parts_decode(kula_snap_item *it, const uint8_t *data, size_t len)
{
    kula_reader r;
    kula_reader_init(&r, data, len);
    uint32_t n = kula_r_array(&r, 5);
    if (kula_reader_ok(&r) && n != 3 && n != 5)
        kula_reader_fail(&r, KULA_EARITY);
    kula_r_bin_exact(&r, it->diff_root.b, KULA_HASH_LEN);
    it->vals_len = read_some(&r, &it->vals, KULA_SNAP_MAX_VALS);
    kula_r_bin_exact(&r, it->state_hash.b, KULA_HASH_LEN);
    it->header = it->commit = NULL;
    it->header_len = it->commit_len = 0;
    if (n == 5) {
        it->header_len = read_some(&r, &it->header, KULA_SNAP_MAX_HEADER);
        it->commit_len = read_some(&r, &it->commit, KULA_SNAP_MAX_COMMIT);
    }
    return kula_reader_finish(&r);
}
