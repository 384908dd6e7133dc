/* archive.c -- a node's ledger opened read-only, for the auditor's tools. */
#include "kula/audit/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kula/base/error.h"

struct kula_archive {
    kula_store *store;
    kula_genesis g;
    bool have_genesis;
    uint64_t tip;
    char path[1100];
};

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Reads and checks the genesis of a->store and its tip (a->path names it
 * in the messages).  Returns: 0 or the error, e filled. */
static int archive_load(kula_archive *a, kula_error *e)
{
    kula_buf gbuf;
    kula_buf_init(&gbuf);
    int rc = kula_store_genesis(a->store, &gbuf);
    if (rc == KULA_ENOTFOUND) {
        rc = kula_error_set(e, KULA_EGENESIS, "%s is not a Kula ledger (it holds no genesis)",
                            a->path);
        goto out;
    }
    if (rc != 0) {
        kula_error_set(e, rc, "%s: cannot read the genesis: %s", a->path, kula_strerror(rc));
        goto out;
    }
    rc = kula_genesis_decode(&a->g, gbuf.data, gbuf.len);
    if (rc != 0) {
        rc = kula_error_set(e, KULA_EGENESIS, "%s: the stored genesis is invalid: %s", a->path,
                            kula_strerror(rc));
        goto out;
    }
    a->have_genesis = true;
    /* Read-only, kula_store_bind only compares the stored chain id. */
    rc = kula_store_bind(a->store, gbuf.data, gbuf.len, &a->g.chain_id, NULL);
    if (rc == KULA_ECHAIN) {
        kula_error_set(e, rc, "%s: the stored chain id is not the hash of the stored genesis",
                       a->path);
        goto out;
    }
    if (rc == KULA_ENOTFOUND) {
        rc = kula_error_set(e, KULA_EGENESIS, "%s is not a Kula ledger (it holds no chain id)",
                            a->path);
        goto out;
    }
    if (rc == 0)
        rc = kula_store_tip(a->store, &a->tip);
    if (rc != 0)
        kula_error_set(e, rc, "%s: cannot read the ledger: %s", a->path, kula_strerror(rc));
out:
    kula_buf_free(&gbuf);
    return rc;
}

int kula_archive_open(kula_archive **out, const char *datadir, kula_error *e)
{
    *out = NULL;
    if (!is_dir(datadir)) {
        return kula_error_set(e, KULA_ENOTFOUND, "%s: %s", datadir,
                              exists(datadir) ? "not a directory" : "no such directory");
    }
    kula_archive *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    char probe[1200];
    snprintf(probe, sizeof(probe), "%s/data.mdb", datadir);
    if (exists(probe))
        snprintf(a->path, sizeof(a->path), "%s", datadir);
    else
        snprintf(a->path, sizeof(a->path), "%s/ledger", datadir);
    int rc;
    if (!is_dir(a->path)) {
        rc = kula_error_set(e, KULA_ENOTFOUND, "no ledger in %s (%s does not exist)", datadir,
                            a->path);
        goto fail;
    }
    rc = kula_store_open(&a->store, a->path, KULA_STORE_RDONLY);
    if (rc == KULA_ENOTFOUND) {
        kula_error_set(e, rc, "%s is not a Kula ledger (no LMDB environment with its databases)",
                       a->path);
        goto fail;
    }
    if (rc != 0) {
        kula_error_set(e, rc, "%s: cannot open the ledger read-only: %s", a->path,
                       kula_strerror(rc));
        goto fail;
    }
    if ((rc = archive_load(a, e)) != 0)
        goto fail;
    *out = a;
    return KULA_OK;
fail:
    kula_archive_close(a);
    return rc;
}

int kula_archive_open_store(kula_archive **out, kula_store *store, const char *path,
                            kula_error *e)
{
    *out = NULL;
    kula_archive *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        kula_store_close(store);
        return kula_error_set(e, KULA_ENOMEM, "out of memory");
    }
    a->store = store;
    snprintf(a->path, sizeof(a->path), "%s", path);
    int rc = archive_load(a, e);
    if (rc != 0) {
        kula_archive_close(a);
        return rc;
    }
    *out = a;
    return KULA_OK;
}

void kula_archive_close(kula_archive *a)
{
    if (a == NULL)
        return;
    kula_store_close(a->store);
    if (a->have_genesis)
        kula_genesis_free(&a->g);
    free(a);
}

const kula_genesis *kula_archive_genesis(const kula_archive *a) { return &a->g; }
uint64_t kula_archive_tip(const kula_archive *a) { return a->tip; }
kula_store *kula_archive_store(kula_archive *a) { return a->store; }
const char *kula_archive_path(const kula_archive *a) { return a->path; }

int kula_archive_block(kula_archive *a, uint64_t height, kula_buf *out)
{
    if (height == 0)
        return KULA_ENOTFOUND;
    return kula_store_block(a->store, height, out);
}

int kula_archive_block_time(kula_archive *a, uint64_t height, uint64_t *ms)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_block blk;
    int rc = kula_archive_block(a, height, &b);
    if (rc == 0 && (rc = b.err) == 0 && kula_block_decode(&blk, b.data, b.len) != 0)
        rc = KULA_EBLOCK;
    else if (rc == 0) {
        *ms = blk.header.time_ms;
        kula_block_free(&blk);
    }
    kula_buf_free(&b);
    return rc;
}

/* The parent's commit carried by block height + 1, re-encoded (the decoder
 * accepts only the canonical form, so these are the stored bytes). */
static int next_block_commit(kula_archive *a, uint64_t height, kula_buf *out)
{
    kula_buf b;
    kula_buf_init(&b);
    kula_block blk;
    int rc = kula_store_block(a->store, height + 1, &b);
    if (rc == 0 && (rc = kula_block_decode(&blk, b.data, b.len)) != 0)
        rc = KULA_EBLOCK;
    if (rc == 0) {
        rc = blk.has_last_commit ? kula_commit_encode(out, blk.last_commit) : KULA_EBLOCK;
        kula_block_free(&blk);
    }
    kula_buf_free(&b);
    return rc;
}

int kula_archive_commit(kula_archive *a, uint64_t height, kula_buf *out)
{
    kula_commit *cm = malloc(sizeof(*cm));
    if (cm == NULL)
        return KULA_ENOMEM;
    kula_buf raw;
    kula_buf_init(&raw);
    int rc = KULA_ENOTFOUND;
    /* The node may commit between our reads: the tip commit then belongs
     * to a newer block, and ours is inside the next block. */
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t now;
        if ((rc = kula_store_tip(a->store, &now)) != 0)
            break;
        if (height == 0 || height > now) {
            rc = KULA_ENOTFOUND;
            break;
        }
        if (height < now) {
            rc = next_block_commit(a, height, out);
            break;
        }
        kula_buf_reset(&raw);
        if ((rc = kula_store_tip_commit(a->store, &raw)) != 0)
            break;
        if (kula_commit_decode(cm, raw.data, raw.len) != 0) {
            rc = KULA_ECOMMIT;
            break;
        }
        if (cm->height == height) {
            kula_buf_append(out, raw.data, raw.len);
            rc = out->err;
            break;
        }
        rc = KULA_ENOTFOUND;
    }
    kula_buf_free(&raw);
    free(cm);
    return rc;
}
