/* store_scan.c -- the scan of the kept indexes during a reindex, on a thread
 * of its own while the blocks are replayed. */
#include "store_internal.h"

/* The thread's body.  Its read transaction is its own (the environment is
 * opened MDB_NOTLS, so any thread may hold one), a snapshot taken before
 * any batch changes the indexes: a session that keeps them never writes
 * them.  It writes only s->scan, which nobody reads before
 * store_scan_join. */
static void *scan_main(void *arg)
{
    kula_store *s = arg;
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0)
        txn = NULL;
    for (int i = 0; i < IX_COUNT && mrc == 0; i++)
        mrc = store_ix_sum(s, txn, i, &s->scan.got[i]);
    if (txn != NULL)
        mdb_txn_abort(txn);
    s->scan.mrc = mrc;
    return NULL;
}

void store_scan_start(kula_store *s)
{
    memset(&s->scan, 0, sizeof(s->scan));
    s->scan.mrc = -1; /* not run: the session end scans itself */
    if (pthread_create(&s->scan.thread, NULL, scan_main, s) == 0)
        s->scan.running = true;
}

/* Called before the map grows (mdb_env_set_mapsize wants no transaction
 * open in the process) and before the session reads s->scan. */
void store_scan_join(kula_store *s)
{
    if (s->scan.running) {
        pthread_join(s->scan.thread, NULL);
        s->scan.running = false;
    }
}
