/* backup.h -- a node's data directory saved while the node runs, and put
 * back into an empty one.
 *
 * A backup is a folder:
 *   ledger/data.mdb  the LMDB environment, copied (compacted) inside one
 *                    read transaction: the ledger as of one committed block,
 *                    whatever the node writes meanwhile (LMDB readers never
 *                    block the writer, from any process)
 *   node.key, p2p.key, kulad.conf   those of the data directory that exist
 *   wallet/NAME.key  the wallet's keys (encrypted, as they are)
 *   MANIFEST.json    what the copy holds: network, chain id, height, tip
 *                    hash, state root, the time and kula's version
 * It holds no consensus.state: a validator's last signed votes are newer
 * than any backup, so the restored node is held from signing instead (the
 * marker DATADIR/restored; kulad.8 and the README say why). */
#ifndef KULA_BACKUP_H
#define KULA_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "kula/base/error.h"
#include "kula/types/types.h"

/* Both kula_backup_make and kula_backup_restore open the copied ledger
 * (kula_archive_open): call kula_crypto_init() first. */
#define KULA_BACKUP_MANIFEST "MANIFEST.json"
#define KULA_BACKUP_RESTORED "restored" /* in a restored data directory */

typedef struct kula_backup_manifest {
    char network[64];
    kula_hash chain_id;
    uint64_t height;       /* of the last block in the copy (0: only the genesis) */
    kula_hash tip;         /* that block's hash (zero at height 0) */
    kula_hash state_root;  /* the state root after it (zero at height 0) */
    int64_t time;          /* seconds since 1970 (UTC) when the copy was made */
    size_t keys;           /* wallet keys copied */
} kula_backup_manifest;

/* Writes a backup of datadir (its ledger, node keys and kulad.conf) and of
 * the wallet folder wallet (NULL: DATADIR/wallet; a missing one is no
 * error) into dest, which must not exist yet (it is made, mode 0700).  The
 * node may run meanwhile.  Nothing half-written is left: the backup is
 * made in dest.partial and renamed to dest when complete.
 * Out: *m; on failure e names the file and what to do.
 * Returns: 0; KULA_EEXIST (dest exists); KULA_ENOTFOUND (no ledger in
 *          datadir); KULA_EIO; KULA_ESTORE; KULA_ENOMEM. */
int kula_backup_make(kula_backup_manifest *m, const char *datadir, const char *wallet,
                     const char *dest, kula_error *e);

/* Fills the data directory datadir (made if missing; refused unless empty)
 * from the backup folder backup, after checking that the copied ledger
 * opens and is the one its manifest describes; then writes the marker
 * DATADIR/restored.  Out: *m.  On failure nothing is left in datadir but
 * what was there (a half-restored directory is removed again).
 * Returns: 0; KULA_EEXIST (datadir not empty); KULA_ENOTFOUND (no backup
 *          there, or no manifest); KULA_EINVAL (a manifest that does not
 *          read, or does not match the copied ledger);
 *          KULA_EIO; KULA_ESTORE; KULA_ENOMEM. */
int kula_backup_restore(kula_backup_manifest *m, const char *backup, const char *datadir,
                        kula_error *e);

/* True when datadir was restored from a backup and its validator has not
 * yet signed again (the marker exists). */
bool kula_backup_restored(const char *datadir);

#endif /* KULA_BACKUP_H */
