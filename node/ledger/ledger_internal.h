/* ledger_internal.h -- struct kula_ledger, for ledger.c and for the tests,
 * which read its state overlay.  The rules never include it: they see the
 * records through lrecords.h (rules.h). */
#ifndef KULA_LEDGER_INTERNAL_H
#define KULA_LEDGER_INTERNAL_H

#include "kula/codec/codec.h"
#include "kula/ledger/ledger.h"
#include "lrecords.h"

struct kula_ledger {
    kula_state *st;
    lrecords *rec;        /* the records, over st */
    kula_hash chain_id;
    uint64_t height;      /* last finished block */
    kula_hash root;       /* state root after it */
    bool in_block;
    bool genesis_done;    /* kula_ledger_genesis ran */
    uint64_t bheight, btime;
    kula_hash pending_root;
    kula_buf diffbuf;     /* scratch for the state root */
    bool snap_at;         /* the block in progress is at a snapshot height */
    kula_snapshot_commit snap;
};

#endif
