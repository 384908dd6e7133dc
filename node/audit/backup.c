/* backup.c -- a data directory copied while its node runs, and put back. */
#include "kula/audit/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kula/audit/audit.h"
#include "kula/base/file.h"
#include "kula/crypto/crypto.h"

#define PATHCAP 1200
#define MANIFEST_MAX (64 * 1024)
#define MANIFEST_FORMAT 1

/* The files of a data directory that a backup carries besides the ledger
 * (those that exist).  Not consensus.state (see backup.h), nor what a
 * start rewrites (rpc.cookie, kulad.lock) or a clean stop (mempool.dat). */
static const char *const node_files[] = { "node.key", "p2p.key", "kulad.conf" };
#define NNODE_FILES (sizeof(node_files) / sizeof(node_files[0]))

static int join(char *out, const char *a, const char *b, kula_error *e)
{
    if (snprintf(out, PATHCAP, "%s/%s", a, b) >= PATHCAP)
        return kula_error_set(e, KULA_EINVAL, "%s: path too long", a);
    return KULA_OK;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Copies src to dst (which must not exist), mode 0600, synced. */
static int copy_file(const char *src, const char *dst, kula_error *e)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return kula_error_set(e, KULA_EIO, "cannot read %s: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        int err = errno;
        close(in);
        return kula_error_set(e, KULA_EIO, "cannot create %s: %s", dst, strerror(err));
    }
    static char buf[1 << 16];
    ssize_t n;
    int rc = KULA_OK;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        if (kula_write_all(out, buf, (size_t)n) != 0) {
            rc = kula_error_set(e, KULA_EIO, "cannot write %s: %s", dst, strerror(errno));
            break;
        }
    }
    if (rc == KULA_OK && n < 0)
        rc = kula_error_set(e, KULA_EIO, "cannot read %s: %s", src, strerror(errno));
    if (rc == KULA_OK && fsync(out) != 0)
        rc = kula_error_set(e, KULA_EIO, "cannot write %s: %s", dst, strerror(errno));
    close(in);
    if (close(out) != 0 && rc == KULA_OK)
        rc = kula_error_set(e, KULA_EIO, "cannot write %s: %s", dst, strerror(errno));
    return rc;
}

/* Copies the node files of from_dir that exist into to_dir. */
static int copy_node_files(const char *from_dir, const char *to_dir, kula_error *e)
{
    char src[PATHCAP], dst[PATHCAP];
    for (size_t i = 0; i < NNODE_FILES; i++) {
        int rc;
        if ((rc = join(src, from_dir, node_files[i], e)) != 0 ||
            (rc = join(dst, to_dir, node_files[i], e)) != 0)
            return rc;
        if (exists(src) && (rc = copy_file(src, dst, e)) != 0)
            return rc;
    }
    return KULA_OK;
}

/* Copies every NAME.key of from_dir (a missing folder: none) into to_dir,
 * made 0700.  Out: *count. */
static int copy_keys(const char *from_dir, const char *to_dir, size_t *count, kula_error *e)
{
    *count = 0;
    DIR *d = opendir(from_dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return KULA_OK;
        return kula_error_set(e, KULA_EIO, "cannot read the wallet %s: %s", from_dir,
                              strerror(errno));
    }
    int rc = KULA_OK;
    if (mkdir(to_dir, 0700) != 0)
        rc = kula_error_set(e, KULA_EIO, "cannot create %s: %s", to_dir, strerror(errno));
    struct dirent *ent;
    while (rc == KULA_OK && (ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len <= 4 || strcmp(ent->d_name + len - 4, ".key") != 0)
            continue;
        char src[PATHCAP], dst[PATHCAP];
        struct stat st;
        if ((rc = join(src, from_dir, ent->d_name, e)) != 0 ||
            (rc = join(dst, to_dir, ent->d_name, e)) != 0)
            break;
        if (lstat(src, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if ((rc = copy_file(src, dst, e)) == 0)
            (*count)++;
    }
    closedir(d);
    if (rc == KULA_OK && *count > 0 && kula_sync_dir(to_dir) != 0)
        rc = kula_error_set(e, KULA_EIO, "cannot sync %s: %s", to_dir, strerror(errno));
    return rc;
}

/* Removes dir and what it holds, two levels deep (a backup or a data
 * directory being restored holds no deeper folders). */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        char p[PATHCAP];
        if (snprintf(p, sizeof(p), "%s/%s", dir, ent->d_name) >= (int)sizeof(p))
            continue;
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
            remove_tree(p, depth - 1);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* The LMDB environment of datadir copied into dir, compacted, inside one
 * read transaction of this process: LMDB's readers take no lock the node's
 * writer waits for, so the node goes on committing. */
static int copy_ledger(const char *datadir, const char *dir, kula_error *e)
{
    char src[PATHCAP], probe[PATHCAP];
    int rc;
    if ((rc = join(src, datadir, "ledger", e)) != 0 || (rc = join(probe, src, "data.mdb", e)) != 0)
        return rc;
    if (!exists(probe))
        return kula_error_set(e, KULA_ENOTFOUND,
                              "%s holds no ledger (no ledger/data.mdb): give the node's data "
                              "directory with --datadir",
                              datadir);
    MDB_env *env;
    int mrc = mdb_env_create(&env);
    if (mrc == 0)
        mrc = mdb_env_set_maxdbs(env, 64);
    if (mrc == 0)
        mrc = mdb_env_open(env, src, MDB_RDONLY, 0600);
    if (mrc == 0)
        mrc = mdb_env_copy2(env, dir, MDB_CP_COMPACT);
    mdb_env_close(env);
    if (mrc != 0)
        return kula_error_set(e, KULA_ESTORE, "cannot copy the ledger %s: %s", src,
                              mdb_strerror(mrc));
    return KULA_OK;
}

/* Reads height, tip, state root and network from the ledger in dir. */
static int describe(kula_backup_manifest *m, const char *dir, kula_error *e)
{
    kula_archive *a;
    kula_error oe;
    int rc = kula_archive_open(&a, dir, &oe);
    if (rc != 0)
        return kula_error_set(e, rc, "the copied ledger in %s does not open: %s", dir, oe.what);
    const kula_genesis *g = kula_archive_genesis(a);
    snprintf(m->network, sizeof(m->network), "%.*s", (int)sizeof(m->network) - 1, g->network);
    m->chain_id = g->chain_id;
    m->height = kula_archive_tip(a);
    memset(&m->tip, 0, sizeof(m->tip));
    memset(&m->state_root, 0, sizeof(m->state_root));
    if (m->height > 0) {
        kula_buf raw;
        kula_buf_init(&raw);
        kula_block b;
        rc = kula_archive_block(a, m->height, &raw);
        if (rc == 0 && (rc = kula_block_decode(&b, raw.data, raw.len)) == 0) {
            m->tip = b.hash;
            m->state_root = b.header.state_root;
            kula_block_free(&b);
        }
        kula_buf_free(&raw);
        if (rc != 0)
            rc = kula_error_set(e, rc, "the copied ledger in %s: block %llu does not read: %s",
                                dir, (unsigned long long)m->height, kula_strerror(rc));
    }
    kula_archive_close(a);
    return rc;
}

static void hex32(char out[65], const kula_hash *h) { kula_hex_encode(out, h->b, KULA_HASH_LEN); }

static int write_manifest(const kula_backup_manifest *m, const char *dir, kula_error *e)
{
    char chain[65], tip[65], root[65], when[32];
    hex32(chain, &m->chain_id);
    hex32(tip, &m->tip);
    hex32(root, &m->state_root);
    time_t t = (time_t)m->time;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s, s:I}", "format",
                          MANIFEST_FORMAT, "network", m->network, "chain_id", chain, "height",
                          (json_int_t)m->height, "tip_hash", tip, "state_root", root, "time",
                          when, "unix_time", (json_int_t)m->time, "version", KULA_VERSION_STRING,
                          "wallet_keys", (json_int_t)m->keys);
    char path[PATHCAP];
    int rc = join(path, dir, KULA_BACKUP_MANIFEST, e);
    if (rc == 0 && (j == NULL || json_dump_file(j, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0))
        rc = kula_error_set(e, KULA_EIO, "cannot write %s", path);
    json_decref(j);
    return rc;
}

int kula_backup_make(kula_backup_manifest *m, const char *datadir, const char *wallet,
                     const char *dest, kula_error *e)
{
    memset(m, 0, sizeof(*m));
    if (exists(dest))
        return kula_error_set(e, KULA_EEXIST,
                              "%s already exists: give a new folder for the backup", dest);
    char part[PATHCAP], ledger[PATHCAP], wdir[PATHCAP], wdst[PATHCAP];
    if (snprintf(part, sizeof(part), "%s.partial", dest) >= (int)sizeof(part))
        return kula_error_set(e, KULA_EINVAL, "%s: path too long", dest);
    if (exists(part))
        return kula_error_set(e, KULA_EEXIST,
                              "%s is left from a backup that did not finish: remove it and "
                              "try again",
                              part);
    int rc;
    if ((rc = join(ledger, part, "ledger", e)) != 0 || (rc = join(wdst, part, "wallet", e)) != 0)
        return rc;
    if (wallet == NULL || wallet[0] == '\0') {
        if ((rc = join(wdir, datadir, "wallet", e)) != 0)
            return rc;
    } else if (snprintf(wdir, sizeof(wdir), "%s", wallet) >= (int)sizeof(wdir)) {
        return kula_error_set(e, KULA_EINVAL, "%s: path too long", wallet);
    }
    if (mkdir(part, 0700) != 0 || mkdir(ledger, 0700) != 0)
        return kula_error_set(e, KULA_EIO, "cannot create %s: %s", ledger, strerror(errno));
    m->time = (int64_t)time(NULL);
    char lock[PATHCAP];
    if ((rc = join(lock, ledger, "lock.mdb", e)) != 0)
        return rc;
    /* describe() opens the copy, which leaves its lock file: not kept */
    if ((rc = copy_ledger(datadir, ledger, e)) == 0 && (rc = describe(m, ledger, e)) == 0 &&
        (unlink(lock) == 0 || errno == ENOENT) &&
        (rc = copy_node_files(datadir, part, e)) == 0 &&
        (rc = copy_keys(wdir, wdst, &m->keys, e)) == 0 &&
        (rc = write_manifest(m, part, e)) == 0) {
        if (kula_sync_dir(ledger) != 0 || kula_sync_dir(part) != 0 || rename(part, dest) != 0 ||
            kula_sync_parent(dest) != 0)
            rc = kula_error_set(e, KULA_EIO, "cannot complete %s: %s", dest, strerror(errno));
    }
    if (rc != 0)
        remove_tree(part, 1);
    return rc;
}

/* ---- restore ---- */

static int read_hash(kula_hash *out, json_t *j, const char *name)
{
    const char *s = json_string_value(json_object_get(j, name));
    return s != NULL && strlen(s) == 64 && kula_hex_decode(out->b, KULA_HASH_LEN, s) == 0 ? 0
                                                                                         : -1;
}

static int read_manifest(kula_backup_manifest *m, const char *backup, kula_error *e)
{
    char path[PATHCAP];
    int rc = join(path, backup, KULA_BACKUP_MANIFEST, e);
    if (rc != 0)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0)
        return kula_error_set(e, KULA_ENOTFOUND,
                              "%s is not a backup: no %s (make one with kula backup DEST)",
                              backup, KULA_BACKUP_MANIFEST);
    if (!S_ISREG(st.st_mode) || st.st_size > MANIFEST_MAX)
        return kula_error_set(e, KULA_EINVAL, "%s: not a manifest (over %d bytes)", path,
                              MANIFEST_MAX);
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return kula_error_set(e, KULA_EINVAL, "%s:%d: %s", path, je.line, je.text);
    json_t *h = json_object_get(j, "height");
    json_t *f = json_object_get(j, "format");
    const char *net = json_string_value(json_object_get(j, "network"));
    rc = KULA_OK;
    if (!json_is_integer(f) || json_integer_value(f) != MANIFEST_FORMAT)
        rc = kula_error_set(e, KULA_EINVAL, "%s: format is not %d: made by another version",
                            path, MANIFEST_FORMAT);
    else if (!json_is_integer(h) || json_integer_value(h) < 0 || net == NULL ||
             strlen(net) >= sizeof(m->network) || read_hash(&m->chain_id, j, "chain_id") != 0 ||
             read_hash(&m->tip, j, "tip_hash") != 0 ||
             read_hash(&m->state_root, j, "state_root") != 0)
        rc = kula_error_set(e, KULA_EINVAL,
                            "%s: a field (network, chain_id, height, tip_hash, state_root) is "
                            "missing or not of its type",
                            path);
    if (rc == KULA_OK) {
        m->height = (uint64_t)json_integer_value(h);
        strcpy(m->network, net);
        m->time = (int64_t)json_integer_value(json_object_get(j, "unix_time"));
    }
    json_decref(j);
    return rc;
}

/* 0 when dir is missing (then made) or empty; *made says which. */
static int empty_datadir(const char *dir, bool *made, kula_error *e)
{
    *made = false;
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno != ENOENT)
            return kula_error_set(e, KULA_EIO, "cannot read %s: %s", dir, strerror(errno));
        if (mkdir(dir, 0700) != 0)
            return kula_error_set(e, KULA_EIO, "cannot create %s: %s", dir, strerror(errno));
        *made = true;
        return KULA_OK;
    }
    struct dirent *ent;
    const char *found = NULL;
    char name[256];
    while (found == NULL && (ent = readdir(d)) != NULL)
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
            snprintf(name, sizeof(name), "%s", ent->d_name);
            found = name;
        }
    closedir(d);
    if (found != NULL)
        return kula_error_set(e, KULA_EEXIST,
                              "%s is not empty (it holds %s): a restore never overwrites a data "
                              "directory; give a new or empty --datadir",
                              dir, found);
    return KULA_OK;
}

static bool same_hash(const kula_hash *a, const kula_hash *b)
{
    return memcmp(a->b, b->b, KULA_HASH_LEN) == 0;
}

int kula_backup_restore(kula_backup_manifest *m, const char *backup, const char *datadir,
                        kula_error *e)
{
    memset(m, 0, sizeof(*m));
    int rc = read_manifest(m, backup, e);
    if (rc != 0)
        return rc;
    char src[PATHCAP], ledger[PATHCAP], dst[PATHCAP], wsrc[PATHCAP], wdst[PATHCAP];
    if ((rc = join(src, backup, "ledger/data.mdb", e)) != 0 ||
        (rc = join(ledger, datadir, "ledger", e)) != 0 ||
        (rc = join(dst, ledger, "data.mdb", e)) != 0 ||
        (rc = join(wsrc, backup, "wallet", e)) != 0 || (rc = join(wdst, datadir, "wallet", e)) != 0)
        return rc;
    if (!exists(src))
        return kula_error_set(e, KULA_ENOTFOUND, "%s is not a whole backup: no ledger/data.mdb",
                              backup);
    bool made;
    if ((rc = empty_datadir(datadir, &made, e)) != 0)
        return rc;
    kula_backup_manifest got = *m;
    if (mkdir(ledger, 0700) != 0)
        rc = kula_error_set(e, KULA_EIO, "cannot create %s: %s", ledger, strerror(errno));
    if (rc == 0)
        rc = copy_file(src, dst, e);
    if (rc == 0)
        rc = describe(&got, ledger, e);
    if (rc == 0 && (!same_hash(&got.chain_id, &m->chain_id) || got.height != m->height ||
                    !same_hash(&got.tip, &m->tip) || !same_hash(&got.state_root, &m->state_root)))
        rc = kula_error_set(e, KULA_EINVAL,
                            "%s: the ledger is not the one its manifest describes (height %llu "
                            "there, %llu in the ledger): the backup is damaged; use another",
                            backup, (unsigned long long)m->height,
                            (unsigned long long)got.height);
    if (rc == 0)
        rc = copy_node_files(backup, datadir, e);
    if (rc == 0)
        rc = copy_keys(wsrc, wdst, &m->keys, e);
    char marker[PATHCAP];
    if (rc == 0 && (rc = join(marker, datadir, KULA_BACKUP_RESTORED, e)) == 0) {
        FILE *f = fopen(marker, "w");
        if (f == NULL || fprintf(f, "restored from %s at height %llu\n", backup,
                                 (unsigned long long)m->height) < 0 ||
            fclose(f) != 0)
            rc = kula_error_set(e, KULA_EIO, "cannot write %s: %s", marker, strerror(errno));
    }
    if (rc == 0 && kula_sync_dir(datadir) != 0)
        rc = kula_error_set(e, KULA_EIO, "cannot sync %s: %s", datadir, strerror(errno));
    if (rc != 0) {
        /* Back to what was there: nothing (the directory was empty). */
        remove_tree(datadir, 1);
        if (!made)
            mkdir(datadir, 0700);
    }
    return rc;
}

bool kula_backup_restored(const char *datadir)
{
    char path[PATHCAP];
    return snprintf(path, sizeof(path), "%s/%s", datadir, KULA_BACKUP_RESTORED) <
               (int)sizeof(path) &&
           exists(path);
}
