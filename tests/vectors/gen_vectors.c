/* gen_vectors.c -- writes the protocol test vectors and the fuzz seed corpora.
 *
 * Not part of the CMake build: the vectors are data checked into the
 * repository, and this program is how they were made.  From the repository
 * root:
 *
 *   gcc -std=c11 -O1 -Wall -Wextra -D_GNU_SOURCE -Iinclude -o /tmp/gen_vectors \
 *       tests/vectors/gen_vectors.c node/codec/codec.c node/crypto/crypto.c node/types/tx.c node/types/txkind.c \
 *       tests/vectors/vecjson.c node/types/txjson.c node/types/records.c \
 *       node/types/block.c node/types/genesis.c node/base/error.c node/net/wire.c node/types/proposal.c \
 *       $(pkg-config --cflags --libs libsodium libsecp256k1 msgpack jansson)
 *   /tmp/gen_vectors .
 *
 * It rewrites proto/vectors/{genesis,tx_*,header,block,vote,commit,wire,proposal}.json and
 * tests/fuzz/corpus/fuzz_{tx,block,vote,commit,genesis,genesis_json,codec,wire,proposal}/.
 * The output is deterministic (fixed keys, BIP-340 signatures with 32 zero
 * bytes of auxiliary randomness), so running it again on an unchanged
 * protocol gives byte-identical files and `git diff` shows nothing.
 *
 * Every vector is checked here before it is written: valid ones must decode,
 * re-encode to the same bytes and verify; invalid ones must make the decoder
 * return exactly the error the vector names.  What each file holds is
 * described in proto/vectors/README.md. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kula/codec/codec.h"
#include "kula/crypto/crypto.h"
#include "kula/base/error.h"
#include "kula/types/genesis.h"
#include "kula/types/types.h"
#include "kula/net/wire.h" /* wire.json */
#include "kula/types/proposal.h" /* wire.json: the PROPOSAL message */
#include "vecjson.h"

#define VECGEN_NAME "gen_vectors"
#include "vecgen.h"

/* ---- keys, chain ids, failure ---- */

#define NKEYS 7
/* Key i is BLAKE2b-256("kula vector key i"); genesis member i (1..4) holds key i. */
static kula_seckey sk[NKEYS + 1];
static kula_pubkey pk[NKEYS + 1];
static kula_hash chain_id;       /* of the genesis vector "main" */
static kula_hash other_chain_id; /* of the genesis vector "single-validator-dev" */
static const uint8_t zero_aux[32];
static const char *root_dir;
static const uint64_t genesis_time_ms = UINT64_C(1735689600000); /* 2025-01-01T00:00:00Z */

static void make_keys(void) { vecgen_keys(sk, pk, NKEYS, "kula vector key"); }

static void sign(kula_sig *sig, uint32_t key, const kula_hash *digest)
{
    if (key < 1 || key > NKEYS || kula_sign_aux(sig, &sk[key], digest->b, zero_aux) != 0)
        die("cannot sign with key %u", key);
}

/* ---- JSON helpers (and vecjson.h) ---- */

static json_t *j_tag(const uint8_t tag[KULA_TAG_LEN])
{
    return json_stringn((const char *)tag, strnlen((const char *)tag, KULA_TAG_LEN));
}

/* ---- raw msgpack pieces for hand-made invalid encodings ---- */

typedef struct raw {
    uint8_t b[1024];
    size_t n;
} raw;

static raw raw_of(const void *p, size_t n)
{
    raw r;
    if (n > sizeof(r.b))
        die("raw value too long");
    memcpy(r.b, p, n);
    r.n = n;
    return r;
}

static raw raw_hex(const char *hex)
{
    raw r;
    r.n = strlen(hex) / 2;
    if (r.n > sizeof(r.b) || kula_hex_decode(r.b, r.n, hex) != 0)
        die("bad hex %s", hex);
    return r;
}

enum rawkind { RK_UINT, RK_INT, RK_STR, RK_BIN, RK_NIL, RK_ARRAY };

static raw raw_w(enum rawkind k, uint64_t u, int64_t i, const void *p, size_t n)
{
    kula_buf b;
    kula_writer w;
    kula_buf_init(&b);
    kula_writer_init(&w, &b);
    switch (k) {
    case RK_UINT: kula_w_uint(&w, u); break;
    case RK_INT: kula_w_int(&w, i); break;
    case RK_STR: kula_w_str(&w, p, n); break;
    case RK_BIN: kula_w_bin(&w, p, n); break;
    case RK_NIL: kula_w_nil(&w); break;
    case RK_ARRAY: kula_w_array(&w, (uint32_t)u); break;
    }
    raw r = raw_of(b.data, b.len);
    kula_buf_free(&b);
    return r;
}

static raw r_uint(uint64_t v) { return raw_w(RK_UINT, v, 0, NULL, 0); }
static raw r_int(int64_t v) { return raw_w(RK_INT, 0, v, NULL, 0); }
static raw r_str(const char *s) { return raw_w(RK_STR, 0, 0, s, strlen(s)); }
static raw r_strn(const char *s, size_t n) { return raw_w(RK_STR, 0, 0, s, n); }
static raw r_bin(const void *p, size_t n) { return raw_w(RK_BIN, 0, 0, p, n); }
static raw r_nil(void) { return raw_w(RK_NIL, 0, 0, NULL, 0); }
static raw r_arrayhdr(uint32_t n) { return raw_w(RK_ARRAY, n, 0, NULL, 0); }

/* v in the next larger unsigned form than the canonical one (non-canonical). */
static raw r_uint_wide(uint64_t v)
{
    uint8_t b[9];
    if (v < 0x80) {
        b[0] = 0xcc;
        b[1] = (uint8_t)v;
        return raw_of(b, 2);
    }
    if (v < 0x100) {
        b[0] = 0xcd;
        b[1] = 0;
        b[2] = (uint8_t)v;
        return raw_of(b, 3);
    }
    die("r_uint_wide: %llu not handled", (unsigned long long)v);
}

/* A string of n bytes: `unit` repeated, then 'x' to fill. */
static char *repeat(const char *unit, size_t n)
{
    char *s = malloc(n + 1);
    size_t u = strlen(unit), i = 0;
    if (s == NULL)
        die("out of memory");
    while (i + u <= n) {
        memcpy(s + i, unit, u);
        i += u;
    }
    while (i < n)
        s[i++] = 'x';
    s[n] = '\0';
    return s;
}

/* ---- a tiny msgpack tree for mutating canonical encodings ----
 *
 * Arrays are split into elements; every other value is a leaf holding its
 * bytes.  An array may carry a header to write instead of its canonical one. */

typedef struct mnode {
    bool array;
    kula_buf bytes; /* leaf: the value; array: a header override (empty: canonical) */
    struct mnode **kids;
    uint32_t nkids;
} mnode;

static mnode *m_parse(kula_reader *r)
{
    mnode *m = calloc(1, sizeof(*m));
    if (m == NULL || r->p >= r->end)
        die("m_parse: out of memory or input");
    kula_buf_init(&m->bytes);
    uint8_t t = *r->p;
    if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
        m->array = true;
        m->nkids = kula_r_array(r, UINT32_MAX);
        m->kids = calloc(m->nkids + 1, sizeof(*m->kids));
        if (m->kids == NULL)
            die("out of memory");
        for (uint32_t i = 0; i < m->nkids; i++)
            m->kids[i] = m_parse(r);
    } else {
        const uint8_t *p;
        size_t n;
        kula_r_value(r, &p, &n);
        kula_buf_append(&m->bytes, p, n);
    }
    if (!kula_reader_ok(r))
        die("m_parse: not canonical (%s)", kula_errname(r->err));
    return m;
}

static mnode *m_from(const uint8_t *p, size_t n)
{
    kula_reader r;
    kula_reader_init(&r, p, n);
    mnode *m = m_parse(&r);
    if (kula_reader_finish(&r) != 0)
        die("m_from: trailing bytes");
    return m;
}

static void m_free(mnode *m)
{
    for (uint32_t i = 0; i < m->nkids; i++)
        m_free(m->kids[i]);
    free(m->kids);
    kula_buf_free(&m->bytes);
    free(m);
}

static void m_emit(const mnode *m, kula_buf *out)
{
    if (!m->array) {
        kula_buf_append(out, m->bytes.data, m->bytes.len);
        return;
    }
    if (m->bytes.len > 0) {
        kula_buf_append(out, m->bytes.data, m->bytes.len);
    } else {
        kula_writer w;
        kula_writer_init(&w, out);
        kula_w_array(&w, m->nkids);
    }
    for (uint32_t i = 0; i < m->nkids; i++)
        m_emit(m->kids[i], out);
}

/* The node at a dotted path of indexes ("0.4.1"; "" is the root). */
static mnode *m_at(mnode *m, const char *path)
{
    const char *s = path;
    while (*s != '\0') {
        char *end;
        unsigned long i = strtoul(s, &end, 10);
        if (end == s || !m->array || i >= m->nkids)
            die("m_at: no node %s", path);
        m = m->kids[i];
        s = *end == '.' ? end + 1 : end;
    }
    return m;
}

static void m_set(mnode *m, raw v)
{
    for (uint32_t i = 0; i < m->nkids; i++)
        m_free(m->kids[i]);
    free(m->kids);
    m->kids = NULL;
    m->nkids = 0;
    m->array = false;
    kula_buf_reset(&m->bytes);
    kula_buf_append(&m->bytes, v.b, v.n);
}

static void m_append(mnode *m, raw v)
{
    mnode **k = realloc(m->kids, (m->nkids + 2) * sizeof(*k));
    mnode *leaf = calloc(1, sizeof(*leaf));
    if (!m->array || k == NULL || leaf == NULL)
        die("m_append");
    kula_buf_init(&leaf->bytes);
    kula_buf_append(&leaf->bytes, v.b, v.n);
    m->kids = k;
    m->kids[m->nkids++] = leaf;
}

static void m_drop(mnode *m)
{
    if (!m->array || m->nkids == 0)
        die("m_drop");
    m_free(m->kids[--m->nkids]);
}

static void m_header(mnode *m, raw v)
{
    if (!m->array)
        die("m_header");
    kula_buf_reset(&m->bytes);
    kula_buf_append(&m->bytes, v.b, v.n);
}

/* ---- vector files ---- */

typedef int (*decode_fn)(const uint8_t *p, size_t n);

typedef struct vfile {
    char file[64];      /* "tx_transfer.json" */
    const char *target; /* fuzz corpus for the valid vectors' bytes */
    decode_fn decode;
    json_t *root, *valid, *invalid;
} vfile;

static void mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                die("mkdir %s: %s", tmp, strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        die("mkdir %s: %s", tmp, strerror(errno));
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die("cannot write %s", path);
}

static void seed(const char *target, const char *name, const void *p, size_t n)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", root_dir, target);
    mkdirs(dir);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    write_file(path, p, n);
}

static void vf_open(vfile *vf, const char *file, const char *structure, const char *kind,
                    const char *description, const char *target, decode_fn decode)
{
    snprintf(vf->file, sizeof(vf->file), "%s", file);
    vf->target = target;
    vf->decode = decode;
    vf->root = json_object();
    json_object_set_new(vf->root, "structure", json_string(structure));
    if (kind != NULL)
        json_object_set_new(vf->root, "kind", json_string(kind));
    json_object_set_new(vf->root, "description", json_string(description));
    json_object_set_new(vf->root, "generator", json_string("tests/vectors/gen_vectors.c"));
    json_object_set_new(vf->root, "chain_id", vj_hash(&chain_id));
    vf->valid = json_array();
    vf->invalid = json_array();
    json_object_set(vf->root, "valid", vf->valid);
    json_object_set(vf->root, "invalid", vf->invalid);
}

static void vf_close(vfile *vf)
{
    char path[4096];
    char *text = json_dumps(vf->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        die("json_dumps %s", vf->file);
    snprintf(path, sizeof(path), "%s/proto/vectors/%s", root_dir, vf->file);
    size_t n = strlen(text);
    text = realloc(text, n + 2);
    text[n] = '\n';
    write_file(path, text, n + 1);
    printf("%-26s %3zu valid %3zu invalid\n", vf->file, json_array_size(vf->valid),
           json_array_size(vf->invalid));
    free(text);
    json_decref(vf->valid);
    json_decref(vf->invalid);
    json_decref(vf->root);
}

/* Starts a valid vector: {name, description, fields, hex, ...}.  Seeds the
 * vector's fuzz corpus with its bytes. */
static json_t *vf_valid(vfile *vf, const char *name, const char *description, json_t *fields,
                        const uint8_t *p, size_t n)
{
    int rc = vf->decode(p, n);
    if (rc != 0)
        die("%s %s: valid vector does not decode (%s)", vf->file, name, kula_errname(rc));
    json_t *v = json_object();
    json_object_set_new(v, "name", json_string(name));
    json_object_set_new(v, "description", json_string(description));
    json_object_set_new(v, "fields", fields);
    json_object_set_new(v, "hex", vj_hex(p, n));
    json_array_append_new(vf->valid, v);
    if (vf->target != NULL) {
        char sname[160], base[64];
        snprintf(base, sizeof(base), "%s", vf->file);
        *strchr(base, '.') = '\0';
        snprintf(sname, sizeof(sname), "%s-%s", base, name);
        seed(vf->target, sname, p, n);
    }
    return v;
}

static void vf_invalid(vfile *vf, const char *name, const uint8_t *p, size_t n, int expect,
                       const char *why)
{
    int rc = vf->decode(p, n);
    if (rc != expect)
        die("%s %s: decoder returns %s, vector says %s", vf->file, name, kula_errname(rc),
            kula_errname(expect));
    json_t *v = json_object();
    json_object_set_new(v, "name", json_string(name));
    json_object_set_new(v, "hex", vj_hex(p, n));
    json_object_set_new(v, "error", json_string(kula_errname(expect)));
    json_object_set_new(v, "why", json_string(why));
    json_array_append_new(vf->invalid, v);
}

/* An invalid vector from a mutated tree (consumed). */
static void vf_invalid_m(vfile *vf, const char *name, mnode *m, int expect, const char *why)
{
    kula_buf b;
    kula_buf_init(&b);
    m_emit(m, &b);
    m_free(m);
    vf_invalid(vf, name, b.data, b.len, expect, why);
    kula_buf_free(&b);
}

/* An invalid vector that decodes but whose signatures must not verify.
 * signers: [{member, pubkey, sighash, signed_tag, signed_chain_id, signed_digest, sig}]. */
static void vf_badsig(vfile *vf, const char *name, const uint8_t *p, size_t n, json_t *signers,
                      const char *why)
{
    int rc = vf->decode(p, n);
    if (rc != 0)
        die("%s %s: EBADSIG vector does not decode (%s)", vf->file, name, kula_errname(rc));
    json_t *v = json_object();
    json_object_set_new(v, "name", json_string(name));
    json_object_set_new(v, "hex", vj_hex(p, n));
    json_object_set_new(v, "error", json_string("EBADSIG"));
    json_object_set_new(v, "why", json_string(why));
    json_object_set_new(v, "signers", signers);
    json_array_append_new(vf->invalid, v);
}

static json_t *signer_json(uint32_t member, uint32_t key, const kula_hash *sighash,
                           const kula_sig *sig)
{
    if (!kula_verify(&pk[key], sighash->b, sig))
        die("signature of member %u does not verify", member);
    json_t *s = json_object();
    json_object_set_new(s, "member", json_integer(member));
    json_object_set_new(s, "pubkey", vj_hex(pk[key].b, KULA_PUBKEY_LEN));
    json_object_set_new(s, "sighash", vj_hash(sighash));
    json_object_set_new(s, "sig", vj_hex(sig->b, KULA_SIG_LEN));
    return s;
}

/* A signature of the wrong digest, described for an EBADSIG vector. */
static json_t *badsigner_json(uint32_t member, uint32_t key, const kula_hash *sighash,
                              const uint8_t tag[KULA_TAG_LEN], const kula_hash *chain,
                              const kula_hash *signed_digest, const kula_sig *sig)
{
    if (!kula_verify(&pk[key], signed_digest->b, sig) || kula_verify(&pk[key], sighash->b, sig))
        die("bad signature vector of member %u is not what it claims", member);
    json_t *s = json_object();
    json_object_set_new(s, "member", json_integer(member));
    json_object_set_new(s, "pubkey", vj_hex(pk[key].b, KULA_PUBKEY_LEN));
    json_object_set_new(s, "sighash", vj_hash(sighash));
    json_object_set_new(s, "signed_tag", j_tag(tag));
    json_object_set_new(s, "signed_chain_id", vj_hash(chain));
    json_object_set_new(s, "signed_digest", vj_hash(signed_digest));
    json_object_set_new(s, "sig", vj_hex(sig->b, KULA_SIG_LEN));
    return s;
}

/* ---- decoders under test ---- */

static int dec_tx(const uint8_t *p, size_t n)
{
    kula_tx tx;
    int rc = kula_tx_decode(&tx, p, n);
    if (rc == 0) {
        kula_buf b;
        kula_buf_init(&b);
        if (kula_tx_encode(&b, &tx) != 0 || b.len != n || memcmp(b.data, p, n) != 0)
            die("transaction does not re-encode to its bytes");
        kula_buf_free(&b);
    }
    return rc;
}

static int dec_header(const uint8_t *p, size_t n)
{
    kula_header h;
    return kula_header_decode(&h, p, n);
}

static int dec_block(const uint8_t *p, size_t n)
{
    kula_block b;
    int rc = kula_block_decode(&b, p, n);
    if (rc == 0)
        kula_block_free(&b);
    return rc;
}

static int dec_vote(const uint8_t *p, size_t n)
{
    kula_vote v;
    return kula_vote_decode(&v, p, n);
}

static int dec_proposal(const uint8_t *p, size_t n)
{
    kula_block_proposal q;
    int rc = kula_block_proposal_decode(&q, p, n);
    if (rc == 0) {
        kula_buf b;
        kula_buf_init(&b);
        if (kula_block_proposal_encode(&b, &q) != 0 || b.len != n || memcmp(b.data, p, n) != 0)
            die("proposal does not re-encode to its bytes");
        kula_buf_free(&b);
    }
    return rc;
}

static kula_commit scratch_commit;

static int dec_commit(const uint8_t *p, size_t n)
{
    return kula_commit_decode(&scratch_commit, p, n);
}

static int dec_genesis(const uint8_t *p, size_t n)
{
    kula_genesis g;
    int rc = kula_genesis_decode(&g, p, n);
    if (rc == 0)
        kula_genesis_free(&g);
    return rc;
}

/* ---- genesis ---- */

typedef struct gmember {
    const char *name, *sector;
    uint32_t key;
    int64_t credit_limit; /* -1: omitted from the JSON (takes the default) */
    int64_t voting_power; /* -1: omitted from the JSON (0) */
} gmember;

typedef struct gspec {
    const char *network, *unit;
    uint32_t decimals;
    const char *time;
    int64_t params[KULA_PARAM_COUNT];
    const gmember *members;
    uint32_t nmembers;
    int dev_key; /* 0: none */
} gspec;

static json_t *genesis_json(const gspec *s)
{
    json_t *root = json_object(), *params = json_object(), *members = json_array();
    json_object_set_new(root, "network", json_string(s->network));
    json_object_set_new(root, "unit", json_pack("{s:s, s:i}", "name", s->unit, "decimals",
                                                (int)s->decimals));
    json_object_set_new(root, "genesis_time", json_string(s->time));
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++)
        if (id <= KULA_PARAM_COUNT_BASE || s->params[id - 1] != 0) /* SPEC §8.2 */
            json_object_set_new(params, kula_param_name(id), json_integer(s->params[id - 1]));
    json_object_set_new(root, "params", params);
    for (uint32_t i = 0; i < s->nmembers; i++) {
        const gmember *m = &s->members[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(m->name));
        json_object_set_new(o, "sector", json_string(m->sector));
        json_object_set_new(o, "pubkey", vj_hex(pk[m->key].b, KULA_PUBKEY_LEN));
        if (m->credit_limit >= 0)
            json_object_set_new(o, "credit_limit", json_integer(m->credit_limit));
        if (m->voting_power >= 0)
            json_object_set_new(o, "voting_power", json_integer(m->voting_power));
        json_array_append_new(members, o);
    }
    json_object_set_new(root, "members", members);
    if (s->dev_key != 0) {
        json_t *dev = json_object();
        json_object_set_new(dev, "warning", json_string("published key: development only"));
        json_object_set_new(dev, "validator_secret_key", vj_hex(sk[s->dev_key].b, KULA_SECKEY_LEN));
        json_object_set_new(root, "development_only", dev);
    }
    return root;
}

static json_t *genesis_fields(const kula_genesis *g)
{
    json_t *f = json_object(), *params = json_object(), *members = json_array();
    json_object_set_new(f, "version", json_integer(KULA_VERSION));
    json_object_set_new(f, "network", json_string(g->network));
    json_object_set_new(f, "unit", json_pack("{s:s, s:i}", "name", g->unit, "decimals",
                                             (int)g->decimals));
    json_object_set_new(f, "time_ms", kula_json_u64(g->time_ms));
    for (uint32_t id = 1; id <= kula_params_encoded_count(&g->params); id++) {
        int64_t v = 0;
        kula_params_get(&g->params, id, &v);
        json_object_set_new(params, kula_param_name(id), json_integer(v));
    }
    json_object_set_new(f, "params", params);
    for (uint32_t i = 0; i < g->nmembers; i++) {
        const kula_genesis_member *m = &g->members[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(i + 1));
        json_object_set_new(o, "pubkey", vj_hex(m->pubkey.b, KULA_PUBKEY_LEN));
        json_object_set_new(o, "name", json_string(m->name));
        json_object_set_new(o, "sector", json_string(m->sector));
        json_object_set_new(o, "credit_limit", json_integer(m->credit_limit));
        json_object_set_new(o, "voting_power", kula_json_u64(m->voting_power));
        json_array_append_new(members, o);
    }
    json_object_set_new(f, "members", members);
    return f;
}

/* Builds the genesis from spec twice -- directly and through GENESIS.json --
 * and checks both give the same canonical bytes.  Out: bytes, chain id. */
static json_t *genesis_vector(vfile *vf, const char *name, const char *description,
                              const gspec *s, kula_buf *bytes, kula_hash *id)
{
    kula_genesis g;
    memset(&g, 0, sizeof(g));
    snprintf(g.network, sizeof(g.network), "%s", s->network);
    snprintf(g.unit, sizeof(g.unit), "%s", s->unit);
    g.decimals = s->decimals;
    if (kula_parse_utc(s->time, &g.time_ms) != 0 || kula_params_assign(&g.params, s->params) != 0)
        die("genesis %s: bad time or params", name);
    g.nmembers = s->nmembers;
    g.members = calloc(s->nmembers, sizeof(*g.members));
    for (uint32_t i = 0; i < s->nmembers; i++) {
        const gmember *m = &s->members[i];
        kula_genesis_member *gm = &g.members[i];
        gm->pubkey = pk[m->key];
        snprintf(gm->name, sizeof(gm->name), "%s", m->name);
        snprintf(gm->sector, sizeof(gm->sector), "%s", m->sector);
        gm->credit_limit = m->credit_limit >= 0 ? m->credit_limit : s->params[0];
        gm->voting_power = m->voting_power >= 0 ? (uint64_t)m->voting_power : 0;
    }
    kula_error err;
    if (kula_genesis_validate(&g, &err) != 0)
        die("genesis %s: %s", name, err.what);
    kula_buf_init(bytes);
    if (kula_genesis_encode(bytes, &g) != 0)
        die("genesis %s: encode", name);
    kula_hash_bytes(id, bytes->data, bytes->len);

    json_t *js = genesis_json(s);
    char *text = json_dumps(js, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    kula_genesis fromjson;
    if (kula_genesis_parse_json(&fromjson, text, strlen(text), &err) != 0)
        die("genesis %s: GENESIS.json does not parse: %s", name, err.what);
    if (memcmp(fromjson.chain_id.b, id->b, KULA_HASH_LEN) != 0)
        die("genesis %s: GENESIS.json gives another chain id", name);
    kula_genesis_free(&fromjson);
    free(text);

    json_t *v = vf_valid(vf, name, description, genesis_fields(&g), bytes->data, bytes->len);
    json_object_set_new(v, "hash", vj_hash(id));
    json_object_set_new(v, "json", js);
    if (vf->target != NULL) {
        char *t = json_dumps(js, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        char sname[128];
        snprintf(sname, sizeof(sname), "genesis-%s.json", name);
        seed("fuzz_genesis_json", sname, t, strlen(t));
        free(t);
    }
    kula_genesis_free(&g);
    return v;
}

#define STD_PARAMS { 100000, 2, 3, 1000, 1000, 3000, 1000, 500, 1000 }

static const gmember main_members[] = {
    { "Bäckerei Müller", "food", 1, 100000, 10 },
    { "Agence Créative", "marketing", 2, 250000, 10 },
    { "Logistik Nord", "logistics", 3, 0, 5 },
    { "Imprenta Ñandú", "printing", 4, -1, -1 },
};

static void gen_genesis(void)
{
    vfile vf;
    kula_buf main_bytes, other, limits;
    kula_hash id;
    static const gspec main_spec = {
        "kula-vectors", "KULA", 2, "2025-01-01T00:00:00Z", STD_PARAMS, main_members, 4, 0,
    };
    static const gmember dev_members[] = { { "Solo Validator", "testing", 4, 0, 1 } };
    static const gspec dev_spec = {
        "kula-vectors-other", "KULA", 2, "2025-01-01T00:00:00Z", STD_PARAMS, dev_members, 1, 4,
    };

    /* The chain id of "main" is every other file's chain id: compute it
     * before opening the file, whose header records it. */
    chain_id = (kula_hash){ { 0 } };
    vf_open(&vf, "genesis.json", "genesis", NULL,
            "Canonical genesis (SPEC §8): [version, network, [unit, decimals], time_ms, "
            "params[9], members[[pubkey, name, sector, credit_limit, voting_power]...]]. "
            "hash is the chain id, BLAKE2b-256 of hex. json is the GENESIS.json that "
            "kula_genesis_parse_json turns into the same bytes.",
            "fuzz_genesis", dec_genesis);
    genesis_vector(&vf, "main",
                   "The network of every other vector file: four members (ids 1-4 hold "
                   "keys 1-4), three validators (power 10, 10, 5). Member 4 takes the "
                   "default credit limit and no voting power by omission.",
                   &main_spec, &main_bytes, &id);
    chain_id = id;
    json_object_set_new(vf.root, "chain_id", vj_hash(&chain_id));
    genesis_vector(&vf, "single-validator-dev",
                   "One validator with a published development key (not part of the chain "
                   "id). Its chain id is the 'other chain id' of the wrong-chain-id vectors.",
                   &dev_spec, &other, &id);
    other_chain_id = id;

    char net64[KULA_MAX_NETWORK_NAME + 1], unit16[KULA_MAX_UNIT_NAME + 1];
    char name64[KULA_MAX_NAME + 1];
    char *s = repeat("ñ", KULA_MAX_NETWORK_NAME);
    snprintf(net64, sizeof(net64), "%s", s);
    free(s);
    s = repeat("€", KULA_MAX_UNIT_NAME);
    snprintf(unit16, sizeof(unit16), "%s", s);
    free(s);
    s = repeat("member with a name of exactly sixty-four bytes ", KULA_MAX_NAME);
    snprintf(name64, sizeof(name64), "%s", s);
    free(s);
    gmember limit_members[] = {
        { name64, "sector", 5, INT64_MAX / 4, INT64_C(1) << 48 },
        { "b", "s", 6, 0, 1 },
    };
    gspec limits_spec = {
        net64, unit16, KULA_MAX_DECIMALS, "2106-02-07T06:28:15Z",
        { INT64_MAX / 4, 999, 1000, 10000000, 600000, 600000, 600000, 600000,
          KULA_MAX_BLOCK_TXS },
        limit_members, 2, 0,
    };
    genesis_vector(&vf, "limits",
                   "Every field at its largest: 64-byte network name, 16-byte unit, 18 "
                   "decimals, parameters and credit limit at their maxima, voting power 2^48, "
                   "a time past 2^32 seconds.",
                   &limits_spec, &limits, &id);

    const uint8_t *b = main_bytes.data;
    size_t n = main_bytes.len;
    mnode *m;

    m = m_from(b, n);
    m_set(m_at(m, "2.1"), raw_hex("cc02"));
    vf_invalid_m(&vf, "decimals-noncanonical-uint8", m, KULA_ENONCANON,
                 "decimals 2 written as uint8 (cc 02) instead of positive fixint 02");
    m = m_from(b, n);
    m_set(m_at(m, "1"), raw_hex("d90c6b756c612d766563746f7273"));
    vf_invalid_m(&vf, "network-noncanonical-str8", m, KULA_ENONCANON,
                 "a 12-byte string with a str8 header (d9 0c) instead of fixstr (ac)");
    m = m_from(b, n);
    m_header(m_at(m, "4"), raw_hex("dc0009"));
    vf_invalid_m(&vf, "params-noncanonical-array16", m, KULA_ENONCANON,
                 "params array of 9 with an array16 header (dc 00 09) instead of fixarray");
    {
        kula_buf t;
        kula_buf_init(&t);
        kula_buf_append(&t, b, n);
        kula_buf_append(&t, "\xc0", 1);
        vf_invalid(&vf, "trailing-byte", t.data, t.len, KULA_ETRAILING,
                   "a nil byte after the genesis");
        vf_invalid(&vf, "truncated", b, n - 1, KULA_ETRUNC, "the last byte is missing");
        kula_buf_free(&t);
    }
    s = repeat("n", KULA_MAX_NETWORK_NAME + 1);
    m = m_from(b, n);
    m_set(m_at(m, "1"), r_str(s));
    vf_invalid_m(&vf, "network-too-long", m, KULA_ETOOBIG,
                 "network name of 65 bytes (limit 64)");
    free(s);
    s = repeat("u", KULA_MAX_UNIT_NAME + 1);
    m = m_from(b, n);
    m_set(m_at(m, "2.0"), r_str(s));
    vf_invalid_m(&vf, "unit-too-long", m, KULA_ETOOBIG, "unit name of 17 bytes (limit 16)");
    free(s);
    m = m_from(b, n);
    m_set(m_at(m, "0"), r_uint(2));
    vf_invalid_m(&vf, "version-2", m, KULA_EVERSION, "version 2 is unknown");
    m = m_from(b, n);
    m_append(m, r_nil());
    vf_invalid_m(&vf, "arity-7", m, KULA_EARITY, "a seventh top-level field");
    m = m_from(b, n);
    m_set(m_at(m, "0"), r_uint(2));
    m_append(m, r_nil());
    vf_invalid_m(&vf, "version-2-with-7-fields", m, KULA_EVERSION,
                 "a version 2 genesis with a seventh field: the version is checked first");
    m = m_from(b, n);
    m_set(m_at(m, "1"), r_strn("kula-vector\0", 12));
    vf_invalid_m(&vf, "network-with-nul", m, KULA_ENONCANON,
                 "network \"kula-vector\\0\": valid UTF-8, but text with U+0000 does not "
                 "encode back to the same bytes (SPEC §8.1)");
    m = m_from(b, n);
    m_set(m_at(m, "5.2.1"), r_strn("Logistik\0Nord", 13));
    vf_invalid_m(&vf, "member-name-with-nul", m, KULA_ENONCANON,
                 "member name with U+0000 inside (SPEC §8.1)");
    m = m_from(b, n);
    m_drop(m_at(m, "4"));
    vf_invalid_m(&vf, "params-arity-8", m, KULA_EARITY, "8 parameters instead of 9");
    m = m_from(b, n);
    m_drop(m_at(m, "5.0"));
    vf_invalid_m(&vf, "member-arity-4", m, KULA_EARITY, "member 1 without voting_power");
    m = m_from(b, n);
    m_set(m_at(m, "1"), r_strn("kula-\xc3\x28vectors", 14));
    vf_invalid_m(&vf, "network-bad-utf8", m, KULA_EUTF8,
                 "network name with c3 28 (a lead byte without continuation)");
    m = m_from(b, n);
    m_set(m_at(m, "5.1.1"), r_strn("Agence Cr\xc3\xa9\xed\xa0\x80tive", 19));
    vf_invalid_m(&vf, "member-name-surrogate", m, KULA_EUTF8,
                 "member name containing an encoded UTF-16 surrogate (ed a0 80)");
    m = m_from(b, n);
    m_set(m_at(m, "2.1"), r_uint(19));
    vf_invalid_m(&vf, "decimals-19", m, KULA_ERANGE, "decimals above 18");
    m = m_from(b, n);
    m_set(m_at(m, "4.2"), r_uint(1001));
    vf_invalid_m(&vf, "threshold-den-1001", m, KULA_ERANGE, "threshold_den above 1000");
    m = m_from(b, n);
    m_set(m_at(m, "5.0.3"), r_int(-1));
    vf_invalid_m(&vf, "credit-limit-negative", m, KULA_ERANGE, "member credit limit -1");
    m = m_from(b, n);
    m_set(m_at(m, "3"), raw_hex("cb4279425c3e000000"));
    vf_invalid_m(&vf, "time-float", m, KULA_ETYPE, "genesis time as a float64");
    m = m_from(b, n);
    m_set(m_at(m, "5.0.0"), r_bin(pk[1].b, 31));
    vf_invalid_m(&vf, "pubkey-31-bytes", m, KULA_ERANGE, "a 31-byte public key");
    m = m_from(b, n);
    m_set(m_at(m, "5.0.1"), r_str("B\xc3\xa4""ckerei\tM\xc3\xbcller"));
    vf_invalid_m(&vf, "member-name-control-char", m, KULA_EGENESIS,
                 "member name with a TAB (validation: printable text only)");
    m = m_from(b, n);
    m_set(m_at(m, "5.1.1"), r_str("B\xc3\xa4""ckerei M\xc3\xbcller"));
    vf_invalid_m(&vf, "member-name-duplicate", m, KULA_EGENESIS, "two members named alike");
    m = m_from(b, n);
    m_set(m_at(m, "5.1.0"), r_bin(pk[1].b, KULA_PUBKEY_LEN));
    vf_invalid_m(&vf, "member-pubkey-duplicate", m, KULA_EGENESIS, "two members, one key");
    {
        uint8_t off[32];
        /* BIP-340 test vector 5: an x coordinate with no point on the curve. */
        kula_hex_decode(off, 32, "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34");
        m = m_from(b, n);
        m_set(m_at(m, "5.0.0"), r_bin(off, 32));
        vf_invalid_m(&vf, "member-pubkey-not-on-curve", m, KULA_EGENESIS,
                     "public key that is not an x coordinate on secp256k1");
    }
    m = m_from(b, n);
    for (int i = 0; i < 4; i++) {
        char path[16];
        snprintf(path, sizeof(path), "5.%d.4", i);
        m_set(m_at(m, path), r_uint(0));
    }
    vf_invalid_m(&vf, "no-validator", m, KULA_EGENESIS, "no member has voting power");
    m = m_from(b, n);
    m_set(m_at(m, "5"), r_arrayhdr(0));
    vf_invalid_m(&vf, "no-members", m, KULA_EGENESIS, "empty member list");
    m = m_from(b, n);
    m_set(m_at(m, "4.1"), r_uint(1));
    vf_invalid_m(&vf, "threshold-below-half", m, KULA_EGENESIS,
                 "threshold 1/3: each in range, but below the required 1/2");
    m = m_from(b, n);
    m_set(m_at(m, "5.0.3"), r_int(INT64_MAX / 4 + 1));
    vf_invalid_m(&vf, "credit-limit-above-max", m, KULA_EGENESIS,
                 "member credit limit INT64_MAX/4 + 1");
    m = m_from(b, n);
    m_set(m_at(m, "5.0.4"), r_uint((UINT64_C(1) << 48) + 1));
    vf_invalid_m(&vf, "voting-power-above-2^48", m, KULA_EGENESIS, "voting power 2^48 + 1");

    /* GENESIS.json that kula_genesis_parse_json must reject. */
    static const struct {
        const char *name, *why, *text;
    } bad_json[] = {
        { "json-unknown-field", "a field the format does not define",
          "{\"network\":\"n\",\"unit\":{\"name\":\"U\",\"decimals\":0},\"genesis_time\":"
          "\"2025-01-01T00:00:00Z\",\"params\":{},\"members\":[],\"colour\":\"red\"}" },
        { "json-duplicate-key", "the same key twice",
          "{\"network\":\"n\",\"network\":\"m\"}" },
        { "json-bad-date", "31 February",
          "{\"network\":\"n\",\"unit\":{\"name\":\"U\",\"decimals\":0},\"genesis_time\":"
          "\"2025-02-31T00:00:00Z\"}" },
        { "json-not-an-object", "top level is an array", "[1,2,3]" },
    };
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        kula_genesis g;
        kula_error err;
        if (kula_genesis_parse_json(&g, bad_json[i].text, strlen(bad_json[i].text), &err) !=
            KULA_EGENESIS)
            die("genesis %s: parsed", bad_json[i].name);
        json_t *v = json_object();
        json_object_set_new(v, "name", json_string(bad_json[i].name));
        json_object_set_new(v, "json_text", json_string(bad_json[i].text));
        json_object_set_new(v, "error", json_string("EGENESIS"));
        json_object_set_new(v, "why", json_string(bad_json[i].why));
        json_array_append_new(vf.invalid, v);
    }
    {
        /* The development key must belong to a validator: key 4 is member
         * 4 of "main", who has no voting power. */
        gspec devbad = main_spec;
        devbad.dev_key = 4;
        json_t *js = genesis_json(&devbad);
        char *text = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER);
        kula_genesis g;
        if (kula_genesis_parse_json(&g, text, strlen(text), NULL) != KULA_EGENESIS)
            die("genesis json-dev-key-not-validator parsed");
        json_t *v = json_object();
        json_object_set_new(v, "name", json_string("json-dev-key-not-validator"));
        json_object_set_new(v, "json_text", json_string(text));
        json_object_set_new(v, "error", json_string("EGENESIS"));
        json_object_set_new(v, "why", json_string("development key of a member who is not a "
                                                  "validator"));
        json_array_append_new(vf.invalid, v);
        free(text);
        json_decref(js);
    }
    seed("fuzz_codec", "genesis-main", main_bytes.data, main_bytes.len);
    vf_close(&vf);
    kula_buf_free(&main_bytes);
    kula_buf_free(&other);
    kula_buf_free(&limits);
}

/* ---- transactions ---- */

/* A signed transaction kept for invalid vectors and blocks. */
typedef struct txv {
    kula_tx tx;       /* body and text fields point into storage that lives to exit */
    kula_buf body;
    kula_buf bytes;   /* the signed encoding */
} txv;

/* Encodes tx, has it signed by each member of who[] (member i holds key i),
 * checks the result and adds it as a valid vector. */
static txv *tx_vector(vfile *vf, const char *name, const char *description, const kula_tx *in,
                      const uint32_t *who, uint32_t nwho)
{
    txv *t = calloc(1, sizeof(*t));
    if (t == NULL)
        die("out of memory");
    t->tx = *in;
    kula_buf_init(&t->body);
    kula_buf_init(&t->bytes);
    if (kula_tx_encode_body(&t->body, &t->tx) != 0)
        die("tx %s: encode body", name);
    kula_tx_set_id(&t->tx, t->body.data, t->body.len);
    kula_hash sighash;
    kula_tx_sighash(&sighash, &chain_id, &t->tx);
    t->tx.nsigs = 0;
    json_t *signers = json_array();
    for (uint32_t i = 0; i < nwho; i++) {
        kula_sig sig;
        sign(&sig, who[i], &sighash);
        if (kula_tx_add_sig(&t->tx, who[i], &sig) != 0)
            die("tx %s: add sig", name);
    }
    for (uint32_t i = 0; i < t->tx.nsigs; i++)
        json_array_append_new(signers, signer_json(t->tx.sigs[i].signer, t->tx.sigs[i].signer,
                                                   &sighash, &t->tx.sigs[i].sig));
    if (kula_tx_encode(&t->bytes, &t->tx) != 0)
        die("tx %s: encode", name);
    kula_tx check;
    if (kula_tx_decode(&check, t->bytes.data, t->bytes.len) != 0 ||
        memcmp(check.id.b, t->tx.id.b, KULA_HASH_LEN) != 0)
        die("tx %s: does not decode to itself", name);
    json_t *v = vf_valid(vf, name, description, vj_tx(&t->tx), t->bytes.data, t->bytes.len);
    json_object_set_new(v, "hash", vj_hash(&t->tx.id));
    json_object_set_new(v, "body_hex", vj_hex(t->body.data, t->body.len));
    json_object_set_new(v, "signers", signers);
    return t;
}

/* The base transaction re-signed over a wrong digest, as an EBADSIG vector. */
static void tx_badsig(vfile *vf, const txv *t, const char *name, const uint8_t tag[KULA_TAG_LEN],
                      const kula_hash *chain, const char *why)
{
    kula_tx tx = t->tx;
    kula_hash right, wrong;
    kula_tx_sighash(&right, &chain_id, &tx);
    kula_signing_digest(&wrong, tag, chain, t->body.data, t->body.len);
    json_t *signers = json_array();
    for (uint32_t i = 0; i < tx.nsigs; i++) {
        sign(&tx.sigs[i].sig, tx.sigs[i].signer, &wrong);
        json_array_append_new(signers, badsigner_json(tx.sigs[i].signer, tx.sigs[i].signer, &right,
                                                      tag, chain, &wrong, &tx.sigs[i].sig));
    }
    kula_buf b;
    kula_buf_init(&b);
    if (kula_tx_encode(&b, &tx) != 0)
        die("tx_badsig encode");
    vf_badsig(vf, name, b.data, b.len, signers, why);
    kula_buf_free(&b);
}

/* The invalid vectors every transaction kind has, made from its first
 * valid vector t (whose nonce is below 128), of body version 1 (6 fields)
 * or 2 (7 fields). */
static void tx_common_invalid(vfile *vf, const txv *t)
{
    const uint8_t *b = t->bytes.data;
    size_t n = t->bytes.len;
    mnode *m;
    char *s;
    char name[64], why[160];
    unsigned fields = t->tx.expires != 0 ? 7 : 6;
    static const char *const nth[] = { "seventh", "eighth" };

    m = m_from(b, n);
    m_set(m_at(m, "0.3"), r_uint_wide(t->tx.nonce));
    vf_invalid_m(vf, "nonce-noncanonical-uint8", m, KULA_ENONCANON,
                 "the nonce written as uint8 (cc) although it fits a positive fixint");
    {
        kula_buf x;
        kula_buf_init(&x);
        kula_buf_append(&x, b, n);
        kula_buf_append(&x, "\x00", 1);
        vf_invalid(vf, "trailing-byte", x.data, x.len, KULA_ETRAILING,
                   "one byte (00) after the signed transaction");
        kula_buf_free(&x);
    }
    s = repeat("m", KULA_MAX_MEMO + 1);
    m = m_from(b, n);
    m_set(m_at(m, "0.5"), r_str(s));
    vf_invalid_m(vf, "memo-too-long", m, KULA_ETOOBIG, "memo of 257 bytes (limit 256)");
    free(s);
    m = m_from(b, n);
    m_set(m_at(m, "0.0"), r_uint(3));
    vf_invalid_m(vf, "version-3", m, KULA_EVERSION, "body version 3 is unknown");
    m = m_from(b, n);
    m_append(m_at(m, "0"), r_nil());
    snprintf(name, sizeof(name), "body-arity-%u", fields + 1);
    snprintf(why, sizeof(why), "a%s %s body field (nil)", fields == 6 ? "" : "n", nth[fields - 6]);
    vf_invalid_m(vf, name, m, KULA_EARITY, why);
    m = m_from(b, n);
    m_set(m_at(m, "0.0"), r_uint(3));
    m_append(m_at(m, "0"), r_nil());
    snprintf(name, sizeof(name), "version-3-with-%u-fields", fields + 1);
    snprintf(why, sizeof(why),
             "a version 3 body with a%s %s field: the version is checked before the field count "
             "(SPEC §2.5)", fields == 6 ? "" : "n", nth[fields - 6]);
    vf_invalid_m(vf, name, m, KULA_EVERSION, why);
    m = m_from(b, n);
    m_set(m_at(m, "0"), raw_hex("dc004101"));
    vf_invalid_m(vf, "body-65-fields", m, KULA_ETOOBIG,
                 "a body header of 65 elements: versioned structures are read as arrays of at "
                 "most 64 (SPEC §2.5); the elements are left out");
    m = m_from(b, n);
    m_append(m_at(m, "0.4"), r_uint(0));
    vf_invalid_m(vf, "payload-arity", m, KULA_EARITY,
                 "one payload field too many (an extra 0 at the end)");
    m = m_from(b, n);
    m_set(m_at(m, "0.5"), r_strn("caf\xc3\x28", 5));
    vf_invalid_m(vf, "memo-bad-utf8", m, KULA_EUTF8,
                 "memo with c3 28: a lead byte not followed by a continuation byte");
    m = m_from(b, n);
    m_set(m_at(m, "0.5"), r_strn("\xc0\xaf", 2));
    vf_invalid_m(vf, "memo-overlong-utf8", m, KULA_EUTF8, "memo with an overlong '/' (c0 af)");
    {
        /* Two signatures in descending signer order (the second signer is
         * made up: the order is checked before any signer is looked up). */
        uint32_t a = t->tx.sigs[0].signer;
        kula_buf sigs;
        kula_writer w;
        kula_buf_init(&sigs);
        kula_writer_init(&w, &sigs);
        kula_w_array(&w, 2);
        kula_w_array(&w, 2);
        kula_w_uint(&w, a + 1);
        kula_w_bin(&w, t->tx.sigs[0].sig.b, KULA_SIG_LEN);
        kula_w_array(&w, 2);
        kula_w_uint(&w, a);
        kula_w_bin(&w, t->tx.sigs[0].sig.b, KULA_SIG_LEN);
        m = m_from(b, n);
        m_set(m_at(m, "1"), raw_of(sigs.data, sigs.len));
        vf_invalid_m(vf, "signatures-descending", m, KULA_EORDER,
                     "signatures of members a+1 then a: must be strictly ascending");
        kula_buf_reset(&sigs);
        kula_w_array(&w, 2);
        for (int i = 0; i < 2; i++) {
            kula_w_array(&w, 2);
            kula_w_uint(&w, a);
            kula_w_bin(&w, t->tx.sigs[0].sig.b, KULA_SIG_LEN);
        }
        m = m_from(b, n);
        m_set(m_at(m, "1"), raw_of(sigs.data, sigs.len));
        vf_invalid_m(vf, "signatures-duplicate", m, KULA_EORDER,
                     "the same signer twice: must be strictly ascending");
        kula_buf_free(&sigs);
    }
    m = m_from(b, n);
    m_set(m_at(m, "1"), r_arrayhdr(0));
    vf_invalid_m(vf, "no-signatures", m, KULA_EARITY, "an empty signature list");
    tx_badsig(vf, t, "wrong-tag", KULA_TAG_VOTE, &chain_id,
              "signed over BLAKE2b-256(\"kula/vote/v1\" || chain id || body): the vote tag "
              "instead of the transaction tag");
    tx_badsig(vf, t, "wrong-chain-id", KULA_TAG_TX, &other_chain_id,
              "signed under the chain id of genesis vector single-validator-dev");
}

/* Text that vectors' kula_tx fields point to until exit: never freed. */
static const char *keep_str(char *s) { return s; }

/* The transfer file also checks what holds for every transaction. */
static void gen_transfer(txv **basic_out)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_transfer.json", "tx", "transfer",
            "Transfer (kind 1): payload [to, amount]. Signed by from.", "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 1;
    tx.nonce = 5;
    tx.memo = T("Rechnung 2025-001: Brot für die Messe");
    tx.u.transfer.to = 2;
    tx.u.transfer.amount = 1500;
    static const uint32_t w1[] = { 1 };
    txv *basic = tx_vector(&vf, "basic", "Member 1 pays member 2 15.00 KULA.", &tx, w1, 1);
    *basic_out = basic;

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 2;
    tx.nonce = 1;
    tx.memo = T("");
    tx.u.transfer.to = 3;
    tx.u.transfer.amount = 0;
    static const uint32_t w2[] = { 2 };
    tx_vector(&vf, "empty-memo-zero-amount",
              "Empty memo and amount 0: valid encoding (the ledger rejects amount 0).", &tx, w2, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 1;
    tx.nonce = UINT64_MAX;
    tx.memo.p = keep_str(repeat("ü", KULA_MAX_MEMO));
    tx.memo.n = KULA_MAX_MEMO;
    tx.u.transfer.to = UINT32_MAX;
    tx.u.transfer.amount = INT64_MAX;
    tx_vector(&vf, "largest-values",
              "nonce 2^64-1 (uint64), to 2^32-1 (uint32), amount INT64_MAX, a memo of exactly "
              "256 bytes (str16).", &tx, w1, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 3;
    tx.nonce = 200;
    tx.memo = T("refund");
    tx.u.transfer.to = 1;
    tx.u.transfer.amount = -33;
    static const uint32_t w3[] = { 3 };
    tx_vector(&vf, "negative-amount-int8",
              "amount -33, the first value that needs int8 (d0 df); nonce 200 is uint8. A valid "
              "encoding that the ledger rejects (amounts must be positive).", &tx, w3, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 3;
    tx.nonce = 65536;
    tx.memo = T("x");
    tx.u.transfer.to = 1;
    tx.u.transfer.amount = INT64_MIN;
    tx_vector(&vf, "min-int64-amount", "amount INT64_MIN (int64), nonce 65536 (uint32).", &tx,
              w3, 1);

    tx_common_invalid(&vf, basic);

    const uint8_t *b = basic->bytes.data;
    size_t n = basic->bytes.len;
    mnode *m;
    m = m_from(b, n);
    char unk_name[32], unk_why[64];
    snprintf(unk_name, sizeof(unk_name), "unknown-kind-%u", KULA_TX_KIND_MAX + 1);
    snprintf(unk_why, sizeof(unk_why), "transaction kind %u does not exist", KULA_TX_KIND_MAX + 1);
    m_set(m_at(m, "0.1"), r_uint(KULA_TX_KIND_MAX + 1));
    vf_invalid_m(&vf, keep_str(unk_name), m, KULA_ERANGE, keep_str(unk_why));
    m = m_from(b, n);
    m_set(m_at(m, "0.1"), r_uint(0));
    vf_invalid_m(&vf, "kind-0", m, KULA_ERANGE, "transaction kind 0 does not exist");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.1"), raw_hex("d1fff0"));
    vf_invalid_m(&vf, "amount-noncanonical-int16", m, KULA_ENONCANON,
                 "-16 written as int16 (d1 ff f0) instead of negative fixint f0");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.1"), raw_hex("d100dc"));
    vf_invalid_m(&vf, "amount-positive-as-signed", m, KULA_ENONCANON,
                 "220 written as int16 (d1 00 dc): non-negative values must use unsigned forms");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.1"), raw_hex("cf8000000000000000"));
    vf_invalid_m(&vf, "amount-above-int64", m, KULA_ERANGE, "amount 2^63 does not fit int64");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0"), raw_hex("cf0000000100000000"));
    vf_invalid_m(&vf, "to-above-uint32", m, KULA_ERANGE, "member id 2^32 does not fit uint32");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.1"), raw_hex("cb4097700000000000"));
    vf_invalid_m(&vf, "amount-float", m, KULA_ETYPE, "amount 1500.0 as float64");
    m = m_from(b, n);
    m_set(m_at(m, "0.5"), r_bin("memo", 4));
    vf_invalid_m(&vf, "memo-as-bin", m, KULA_ETYPE, "memo as bin instead of str");
    m = m_from(b, n);
    m_set(m_at(m, "0.4"), raw_hex("82000201cd05dc"));
    vf_invalid_m(&vf, "payload-as-map", m, KULA_ETYPE, "payload as the map {0: 2, 1: 1500}");
    m = m_from(b, n);
    m_header(m, raw_hex("dc0002"));
    vf_invalid_m(&vf, "outer-array16", m, KULA_ENONCANON,
                 "outer array of 2 with an array16 header");
    m = m_from(b, n);
    m_set(m_at(m, "1.0.1"), r_bin(basic->tx.sigs[0].sig.b, 63));
    vf_invalid_m(&vf, "signature-63-bytes", m, KULA_ERANGE, "a 63-byte signature");
    m = m_from(b, n);
    {
        uint8_t sig65[65] = { 0 };
        memcpy(sig65, basic->tx.sigs[0].sig.b, 64);
        m_set(m_at(m, "1.0.1"), r_bin(sig65, 65));
    }
    vf_invalid_m(&vf, "signature-65-bytes", m, KULA_ETOOBIG, "a 65-byte signature");
    m = m_from(b, n);
    m_set(m_at(m, "1"), raw_hex("dc0011"));
    vf_invalid_m(&vf, "seventeen-signatures", m, KULA_ETOOBIG,
                 "a signature list header of 17 entries (limit 16); the decoder stops at "
                 "the header, so the entries are left out");
    m = m_from(b, n);
    m_append(m_at(m, "1.0"), r_nil());
    vf_invalid_m(&vf, "signature-entry-arity-3", m, KULA_EARITY, "[signer, sig, nil]");
    vf_invalid(&vf, "truncated", b, n - 1, KULA_ETRUNC, "the last signature byte is missing");
    vf_invalid(&vf, "empty", (const uint8_t *)"", 0, KULA_ETRUNC, "no bytes at all");
    vf_close(&vf);
}

/* The invalid vectors for a text field at path of the base transaction. */
static void text_invalid(vfile *vf, const txv *t, const char *path, const char *field, size_t max)
{
    char name[64], why[128];
    char *s = repeat("t", max + 1);
    mnode *m = m_from(t->bytes.data, t->bytes.len);
    m_set(m_at(m, path), r_str(s));
    snprintf(name, sizeof(name), "%s-too-long", field);
    snprintf(why, sizeof(why), "%s of %zu bytes (limit %zu)", field, max + 1, max);
    vf_invalid_m(vf, name, m, KULA_ETOOBIG, why);
    free(s);
    m = m_from(t->bytes.data, t->bytes.len);
    m_set(m_at(m, path), r_strn("ok\xed\xbf\xbf", 5));
    snprintf(name, sizeof(name), "%s-surrogate", field);
    snprintf(why, sizeof(why), "%s containing the surrogate U+DFFF (ed bf bf)", field);
    vf_invalid_m(vf, name, m, KULA_EUTF8, why);
}

typedef struct ids {
    kula_hash open_equal, open_weights, open_shapley, referral, propose_admit;
} known_ids;

static void gen_exchange(txv **out)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_exchange.json", "tx", "exchange",
            "Bilateral exchange (kind 2): payload [counterparty, gives, gives_value, receives, "
            "receives_value]. Signed by from and counterparty.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_EXCHANGE;
    tx.from = 1;
    tx.nonce = 6;
    tx.memo = T("barter 2025/Q1");
    tx.u.exchange.counterparty = 2;
    tx.u.exchange.gives = T("bread for the office, 12 months");
    tx.u.exchange.gives_value = 120000;
    tx.u.exchange.receives = T("website redesign");
    tx.u.exchange.receives_value = 120000;
    static const uint32_t w12[] = { 1, 2 };
    txv *basic = tx_vector(&vf, "basic", "Members 1 and 2 barter goods for a service.", &tx, w12, 2);
    *out = basic;

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_EXCHANGE;
    tx.from = 3;
    tx.nonce = 1;
    tx.memo = T("");
    tx.u.exchange.counterparty = 1;
    tx.u.exchange.gives = T("Lieferung Köln → Hamburg");
    tx.u.exchange.gives_value = 45000;
    tx.u.exchange.receives = T("Brötchen");
    tx.u.exchange.receives_value = 30000;
    static const uint32_t w13[] = { 3, 1 };
    tx_vector(&vf, "counterparty-below-from",
              "from 3, counterparty 1: signatures are still ascending by member (1, then 3).",
              &tx, w13, 2);

    tx_common_invalid(&vf, basic);
    text_invalid(&vf, basic, "0.4.1", "gives", KULA_MAX_DESC);
    text_invalid(&vf, basic, "0.4.3", "receives", KULA_MAX_DESC);
    vf_close(&vf);
}

static void gen_referral(txv **out, known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_referral.json", "tx", "referral",
            "Referral (kind 3): payload [receiver, lead (32-byte hash), fee, agreement (32 bytes "
            "or empty bin)]. Signed by from.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_REFERRAL;
    tx.from = 2;
    tx.nonce = 3;
    tx.memo = T("new customer for the bakery");
    tx.u.referral.receiver = 1;
    tx.u.referral.lead = hash_of("lead: Café Aurora, catering for 40");
    tx.u.referral.fee = 5000;
    static const uint32_t w2[] = { 2 };
    txv *basic = tx_vector(&vf, "basic",
                           "Member 2 refers a lead (a hash of its description) to member 1, fee "
                           "50.00; no agreement (empty bin c4 00).", &tx, w2, 1);
    *out = basic;
    ids->referral = basic->tx.id;

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_REFERRAL;
    tx.from = 1;
    tx.nonce = 7;
    tx.memo = T("under the joint campaign");
    tx.u.referral.receiver = 3;
    tx.u.referral.lead = hash_of("lead: Nordsee Fisch GmbH");
    tx.u.referral.fee = 0;
    tx.u.referral.has_agreement = true;
    tx.u.referral.agreement = ids->open_weights;
    static const uint32_t w1[] = { 1 };
    tx_vector(&vf, "with-agreement",
              "A referral under an agreement (the id of agreement-open vector 'weights').", &tx,
              w1, 1);

    tx_common_invalid(&vf, basic);
    const uint8_t *b = basic->bytes.data;
    size_t n = basic->bytes.len;
    mnode *m = m_from(b, n);
    m_set(m_at(m, "0.4.3"), r_bin("12345", 5));
    vf_invalid_m(&vf, "agreement-5-bytes", m, KULA_ERANGE,
                 "agreement must be empty or exactly 32 bytes");
    m = m_from(b, n);
    {
        uint8_t a33[33] = { 0 };
        m_set(m_at(m, "0.4.3"), r_bin(a33, 33));
    }
    vf_invalid_m(&vf, "agreement-33-bytes", m, KULA_ETOOBIG, "agreement of 33 bytes");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.1"), r_bin(basic->tx.u.referral.lead.b, 31));
    vf_invalid_m(&vf, "lead-31-bytes", m, KULA_ERANGE, "lead hash of 31 bytes");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.3"), r_nil());
    vf_invalid_m(&vf, "agreement-nil", m, KULA_ETYPE,
                 "no agreement written as nil instead of an empty bin");
    vf_close(&vf);
}

static void gen_conversion(const known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_conversion.json", "tx", "conversion",
            "Referral conversion (kind 4): payload [referral (tx id), value]. Signed by from.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_CONVERSION;
    tx.from = 1;
    tx.nonce = 8;
    tx.memo = T("catering booked");
    tx.u.conversion.referral = ids->referral;
    tx.u.conversion.value = 30000;
    static const uint32_t w1[] = { 1 };
    txv *basic = tx_vector(&vf, "basic",
                           "Member 1 reports the referral of tx_referral 'basic' converted, "
                           "value 300.00.", &tx, w1, 1);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_CONVERSION;
    tx.from = 1;
    tx.nonce = 300;
    tx.memo = T("");
    tx.u.conversion.referral = ids->referral;
    tx.u.conversion.value = 4294967296;
    tx_vector(&vf, "large-value", "value 2^32 (uint64 form), nonce 300 (uint16).", &tx, w1, 1);

    tx_common_invalid(&vf, basic);
    mnode *m = m_from(basic->bytes.data, basic->bytes.len);
    uint8_t h33[33] = { 0 };
    m_set(m_at(m, "0.4.0"), r_bin(h33, 33));
    vf_invalid_m(&vf, "referral-33-bytes", m, KULA_ETOOBIG, "referral id of 33 bytes");
    vf_close(&vf);
}

static uint8_t shapley_raw[256];

static void gen_open(known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_agreement_open.json", "tx", "agreement-open",
            "Agreement open (kind 5): payload [label, title, parties, rule, term_end, "
            "referral_fee_bps]; rule is [0] equal, [1, weights] weights, [2] pro rata or "
            "[3, values] Shapley (2^n coalition values, bit i of the index = parties[i]). "
            "Signed by every party.",
            "fuzz_tx", dec_tx);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_OPEN;
    tx.from = 1;
    tx.nonce = 9;
    tx.memo = T("");
    tx.u.open.label = T("stand");
    tx.u.open.title = T("Shared stand at the spring fair");
    tx.u.open.nparties = 2;
    tx.u.open.parties[0] = 1;
    tx.u.open.parties[1] = 2;
    tx.u.open.rule.kind = KULA_RULE_EQUAL;
    tx.u.open.term_end = 0;
    tx.u.open.referral_fee_bps = 0;
    static const uint32_t w12[] = { 1, 2 };
    txv *equal = tx_vector(&vf, "equal", "Two parties, equal split, no term end.", &tx, w12, 2);
    ids->open_equal = equal->tx.id;

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_OPEN;
    tx.from = 2;
    tx.nonce = 4;
    tx.memo = T("joint campaign, see contract #17");
    tx.u.open.label = T("campaign");
    tx.u.open.title = T("Spring campaign «Kauf lokal»");
    tx.u.open.nparties = 3;
    tx.u.open.parties[0] = 1;
    tx.u.open.parties[1] = 2;
    tx.u.open.parties[2] = 3;
    tx.u.open.rule.kind = KULA_RULE_WEIGHTS;
    tx.u.open.rule.nweights = 3;
    tx.u.open.rule.weights[0] = 50;
    tx.u.open.rule.weights[1] = 30;
    tx.u.open.rule.weights[2] = 20;
    tx.u.open.term_end = 100000;
    tx.u.open.referral_fee_bps = 250;
    static const uint32_t w213[] = { 2, 1, 3 };
    txv *weights = tx_vector(&vf, "weights",
                             "Opened by member 2 for parties 1, 2, 3 (ascending, SPEC §6.6) with "
                             "weights 50/30/20 in that order; term ends at height 100000; 2.5% "
                             "referral fee.", &tx, w213, 3);
    ids->open_weights = weights->tx.id;

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_OPEN;
    tx.from = 3;
    tx.nonce = 2;
    tx.memo = T("");
    tx.u.open.label = T("truck");
    tx.u.open.title = T("Shared delivery truck");
    tx.u.open.nparties = 2;
    tx.u.open.parties[0] = 2;
    tx.u.open.parties[1] = 3;
    tx.u.open.rule.kind = KULA_RULE_PRORATA;
    tx.u.open.term_end = UINT64_MAX;
    tx.u.open.referral_fee_bps = KULA_BPS_DENOM;
    static const uint32_t w32[] = { 3, 2 };
    tx_vector(&vf, "pro-rata",
              "Opened by member 3 for parties 2 and 3, pro rata to contributions; term_end "
              "2^64-1 and referral fee 10000 bps (the largest values the decoder accepts).",
              &tx, w32, 2);

    /* Shapley with 3 parties: 8 coalition values v(S), S as a bit set over
     * parties[] (bit 0 = parties[0]). */
    static const int64_t values[8] = { 0, 100, 120, 300, 50, 200, 220, 500 };
    kula_buf vb;
    kula_writer w;
    kula_buf_init(&vb);
    kula_writer_init(&w, &vb);
    kula_w_array(&w, 8);
    for (int i = 0; i < 8; i++)
        kula_w_int(&w, values[i] * 1000);
    memcpy(shapley_raw, vb.data, vb.len);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_OPEN;
    tx.from = 1;
    tx.nonce = 10;
    tx.memo = T("coalition values in minor units");
    tx.u.open.label = T("venture");
    tx.u.open.title = T("Catering joint venture");
    tx.u.open.nparties = 3;
    tx.u.open.parties[0] = 1;
    tx.u.open.parties[1] = 2;
    tx.u.open.parties[2] = 3;
    tx.u.open.rule.kind = KULA_RULE_SHAPLEY;
    tx.u.open.rule.nvalues = 8;
    tx.u.open.rule.values_raw = shapley_raw;
    tx.u.open.rule.values_raw_len = vb.len;
    tx.u.open.term_end = 500000;
    tx.u.open.referral_fee_bps = 100;
    kula_buf_free(&vb);
    static const uint32_t w123[] = { 1, 2, 3 };
    txv *shapley = tx_vector(&vf, "shapley",
                             "Three parties, Shapley rule with 8 coalition values "
                             "v({})=0, v({1})=100000, v({2})=120000, v({1,2})=300000, "
                             "v({3})=50000, v({1,3})=200000, v({2,3})=220000, v({1,2,3})=500000.",
                             &tx, w123, 3);
    ids->open_shapley = shapley->tx.id;

    tx_common_invalid(&vf, equal);
    text_invalid(&vf, equal, "0.4.0", "label", KULA_MAX_LABEL);
    text_invalid(&vf, equal, "0.4.1", "title", KULA_MAX_NAME);
    const uint8_t *b = equal->bytes.data;
    size_t n = equal->bytes.len;
    const uint8_t *sb = shapley->bytes.data;
    size_t sn = shapley->bytes.len;
    const uint8_t *wb = weights->bytes.data;
    size_t wn = weights->bytes.len;
    mnode *m;

    m = m_from(b, n);
    m_set(m_at(m, "0.4.2"), raw_hex("dc0011"));
    vf_invalid_m(&vf, "seventeen-parties", m, KULA_ETOOBIG,
                 "a parties header of 17 entries (limit 16); entries left out");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.3"), raw_hex("9104"));
    vf_invalid_m(&vf, "rule-kind-4", m, KULA_ERANGE, "distribution rule 4 does not exist");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.3"), raw_hex("90"));
    vf_invalid_m(&vf, "rule-empty", m, KULA_EARITY, "rule []");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.3"), raw_hex("920090"));
    vf_invalid_m(&vf, "rule-equal-arity-2", m, KULA_EARITY, "rule [0, []]: equal takes no data");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.3"), raw_hex("9101"));
    vf_invalid_m(&vf, "rule-weights-arity-1", m, KULA_EARITY, "rule [1] without weights");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.3"), raw_hex("930100"));
    vf_invalid_m(&vf, "rule-arity-3", m, KULA_ETOOBIG,
                 "rule of 3 elements: the decoder reads the rule as an array of at most 2");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.5"), r_uint(KULA_BPS_DENOM + 1));
    vf_invalid_m(&vf, "referral-fee-10001", m, KULA_ERANGE, "referral fee above 10000 bps");
    m = m_from(wb, wn);
    m_set(m_at(m, "0.4.3.1"), raw_hex("dc0011"));
    vf_invalid_m(&vf, "weights-seventeen", m, KULA_ETOOBIG,
                 "a weights header of 17 entries (limit 16); entries left out");
    m = m_from(wb, wn);
    m_set(m_at(m, "0.4.3.1.0"), r_int(-1));
    vf_invalid_m(&vf, "weight-negative", m, KULA_ERANGE, "weight -1");
    m = m_from(sb, sn);
    m_drop(m_at(m, "0.4.3.1"));
    vf_invalid_m(&vf, "shapley-7-values", m, KULA_EARITY,
                 "7 coalition values: the count must be a power of two, at least 2");
    m = m_from(sb, sn);
    m_set(m_at(m, "0.4.3.1"), raw_hex("9100"));
    vf_invalid_m(&vf, "shapley-1-value", m, KULA_EARITY, "1 coalition value (2^0: no party)");
    m = m_from(sb, sn);
    m_set(m_at(m, "0.4.3.1.1"), raw_hex("cd0064"));
    vf_invalid_m(&vf, "shapley-value-noncanonical", m, KULA_ENONCANON,
                 "coalition value 100 written as uint16 (cd 00 64)");
    vf_close(&vf);
}

static void gen_amend(const known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_agreement_amend.json", "tx", "agreement-amend",
            "Agreement amend (kind 6): payload [agreement, title, rule, term_end, "
            "referral_fee_bps]. Signed by every party of the agreement.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_AMEND;
    tx.from = 1;
    tx.nonce = 11;
    tx.memo = T("new split after Q1 review");
    tx.u.amend.agreement = ids->open_weights;
    tx.u.amend.title = T("Spring campaign «Kauf lokal» (extended)");
    tx.u.amend.rule.kind = KULA_RULE_WEIGHTS;
    tx.u.amend.rule.nweights = 3;
    tx.u.amend.rule.weights[0] = 40;
    tx.u.amend.rule.weights[1] = 40;
    tx.u.amend.rule.weights[2] = 20;
    tx.u.amend.term_end = 200000;
    tx.u.amend.referral_fee_bps = 300;
    static const uint32_t w123[] = { 1, 2, 3 };
    txv *basic = tx_vector(&vf, "weights",
                           "Amends agreement-open 'weights': weights 40/40/20, later term end.",
                           &tx, w123, 3);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_AMEND;
    tx.from = 2;
    tx.nonce = 5;
    tx.memo = T("");
    tx.u.amend.agreement = ids->open_equal;
    tx.u.amend.title = T("Shared stand at the spring fair");
    tx.u.amend.rule.kind = KULA_RULE_PRORATA;
    tx.u.amend.term_end = 0;
    tx.u.amend.referral_fee_bps = 0;
    static const uint32_t w12[] = { 1, 2 };
    tx_vector(&vf, "to-pro-rata", "Amends agreement-open 'equal' to pro rata.", &tx, w12, 2);

    tx_common_invalid(&vf, basic);
    text_invalid(&vf, basic, "0.4.1", "title", KULA_MAX_NAME);
    mnode *m = m_from(basic->bytes.data, basic->bytes.len);
    m_set(m_at(m, "0.4.0"), r_bin("", 0));
    vf_invalid_m(&vf, "agreement-empty", m, KULA_ERANGE, "agreement id of 0 bytes");
    vf_close(&vf);
}

static void gen_contribute(const known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_contribute.json", "tx", "contribute",
            "Contribution (kind 7): payload [agreement, value, description, acknowledger]. "
            "Signed by from and acknowledger.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_CONTRIBUTE;
    tx.from = 2;
    tx.nonce = 6;
    tx.memo = T("");
    tx.u.contribute.agreement = ids->open_weights;
    tx.u.contribute.value = 25000;
    tx.u.contribute.description = T("flyer design, 3 iterations");
    tx.u.contribute.acknowledger = 1;
    static const uint32_t w21[] = { 2, 1 };
    txv *basic = tx_vector(&vf, "basic",
                           "Member 2 contributes 250.00 to 'weights', acknowledged by member 1.",
                           &tx, w21, 2);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_CONTRIBUTE;
    tx.from = 3;
    tx.nonce = 3;
    tx.memo = T("Fahrten KW 12");
    tx.u.contribute.agreement = ids->open_shapley;
    tx.u.contribute.value = 12345;
    tx.u.contribute.description = T("deliveries, week 12");
    tx.u.contribute.acknowledger = 2;
    static const uint32_t w32[] = { 3, 2 };
    tx_vector(&vf, "shapley-agreement", "A contribution to agreement-open 'shapley'.", &tx, w32,
              2);
    tx_common_invalid(&vf, basic);
    text_invalid(&vf, basic, "0.4.2", "description", KULA_MAX_DESC);
    vf_close(&vf);
}

static void gen_benefit(const known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_benefit.json", "tx", "benefit",
            "Benefit (kind 8): payload [agreement, amount, description]. Signed by from.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_BENEFIT;
    tx.from = 1;
    tx.nonce = 12;
    tx.memo = T("");
    tx.u.benefit.agreement = ids->open_weights;
    tx.u.benefit.amount = 90000;
    tx.u.benefit.description = T("sales attributed to the campaign, March");
    static const uint32_t w1[] = { 1 };
    txv *basic = tx_vector(&vf, "basic", "Member 1 records a benefit of 900.00 in the pool.", &tx,
                           w1, 1);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_BENEFIT;
    tx.from = 2;
    tx.nonce = 7;
    tx.memo = T("");
    tx.u.benefit.agreement = ids->open_shapley;
    tx.u.benefit.amount = 127;
    tx.u.benefit.description = T("");
    static const uint32_t w2[] = { 2 };
    tx_vector(&vf, "fixint-amount",
              "amount 127, the largest positive fixint; empty description.", &tx, w2, 1);
    tx_common_invalid(&vf, basic);
    text_invalid(&vf, basic, "0.4.2", "description", KULA_MAX_DESC);
    vf_close(&vf);
}

static void gen_settle_close(const known_ids *ids)
{
    for (int close = 0; close <= 1; close++) {
        vfile vf;
        kula_tx tx;
        if (close)
            vf_open(&vf, "tx_agreement_close.json", "tx", "agreement-close",
                    "Agreement close (kind 10): payload [agreement]. Signed by every party.",
                    "fuzz_tx", dec_tx);
        else
            vf_open(&vf, "tx_settle.json", "tx", "settle",
                    "Settle (kind 9): payload [agreement]. Signed by from.", "fuzz_tx", dec_tx);
        memset(&tx, 0, sizeof(tx));
        tx.kind = close ? KULA_TX_AGREEMENT_CLOSE : KULA_TX_SETTLE;
        tx.from = 1;
        tx.nonce = close ? 14 : 13;
        tx.memo = T(close ? "campaign finished" : "");
        tx.u.settle.agreement = ids->open_weights;
        static const uint32_t w1[] = { 1 };
        static const uint32_t w123[] = { 1, 2, 3 };
        txv *basic = tx_vector(&vf, "basic",
                               close ? "Closes agreement-open 'weights'; all three parties sign."
                                     : "Member 1 settles the pool of agreement-open 'weights'.",
                               &tx, close ? w123 : w1, close ? 3 : 1);
        memset(&tx, 0, sizeof(tx));
        tx.kind = close ? KULA_TX_AGREEMENT_CLOSE : KULA_TX_SETTLE;
        tx.from = 2;
        tx.nonce = 8;
        tx.memo = T("");
        tx.u.settle.agreement = ids->open_equal;
        static const uint32_t w2[] = { 2 };
        static const uint32_t w12[] = { 1, 2 };
        tx_vector(&vf, "equal",
                  close ? "Closes agreement-open 'equal' (parties 1 and 2)."
                        : "Member 2 settles agreement-open 'equal'.",
                  &tx, close ? w12 : w2, close ? 2 : 1);
        tx_common_invalid(&vf, basic);
        mnode *m = m_from(basic->bytes.data, basic->bytes.len);
        m_append(m_at(m, "0.4"), r_bin("", 0));
        vf_invalid_m(&vf, "payload-arity-2", m, KULA_EARITY, "[agreement, <empty bin>]");
        vf_close(&vf);
    }
}

static void gen_feedback(void)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_feedback.json", "tx", "feedback",
            "Feedback (kind 11): payload [about, rating 1..5, comment]. Signed by from.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_FEEDBACK;
    tx.from = 1;
    tx.nonce = 15;
    tx.memo = T("");
    tx.u.feedback.about = 2;
    tx.u.feedback.rating = 5;
    tx.u.feedback.comment = T("Excellent work — on time and on budget 👍");
    static const uint32_t w1[] = { 1 };
    txv *basic = tx_vector(&vf, "basic", "Member 1 rates member 2 five stars (4-byte UTF-8 "
                           "emoji in the comment).", &tx, w1, 1);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_FEEDBACK;
    tx.from = 2;
    tx.nonce = 9;
    tx.memo = T("");
    tx.u.feedback.about = 3;
    tx.u.feedback.rating = 0;
    tx.u.feedback.comment.p = keep_str(repeat("late ", KULA_MAX_COMMENT));
    tx.u.feedback.comment.n = KULA_MAX_COMMENT;
    static const uint32_t w2[] = { 2 };
    tx_vector(&vf, "rating-0-longest-comment",
              "Rating 0 decodes (the ledger requires 1..5: ERATING); comment of exactly 140 "
              "bytes.", &tx, w2, 1);
    tx_common_invalid(&vf, basic);
    text_invalid(&vf, basic, "0.4.2", "comment", KULA_MAX_COMMENT);
    mnode *m = m_from(basic->bytes.data, basic->bytes.len);
    m_set(m_at(m, "0.4.1"), r_uint(6));
    vf_invalid_m(&vf, "rating-6", m, KULA_ERANGE, "rating above 5");
    vf_close(&vf);
}

/* Invoices (kinds 15-19, SPEC §6.19-§6.23): one file per kind; the other
 * four name the invoice of tx_invoice.json 'basic'. */
static void gen_invoices(void)
{
    vfile vf;
    kula_tx tx;
    static const uint32_t w1[] = { 1 }, w2[] = { 2 };
    vf_open(&vf, "tx_invoice.json", "tx", "invoice",
            "Invoice (kind 15): payload [debtor, amount, due (ms), reference, document (empty "
            "or 32 bytes)]. Signed by from, the issuer.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_INVOICE;
    tx.from = 1;
    tx.nonce = 21;
    tx.memo = T("Brot und Brötchen, November");
    tx.u.invoice.debtor = 2;
    tx.u.invoice.amount = 125000;
    tx.u.invoice.due = UINT64_C(1767225600000); /* 2026-01-01T00:00:00Z */
    tx.u.invoice.reference = T("2026-117");
    tx.u.invoice.has_document = true;
    kula_hash_bytes(&tx.u.invoice.document, "%PDF-1.7 invoice 2026-117", 25);
    txv *basic = tx_vector(&vf, "basic",
                           "Member 1 bills member 2 1250.00 KULA, due 2026-01-01, reference "
                           "2026-117, with the BLAKE2b-256 of its document.",
                           &tx, w1, 1);
    kula_hash invoice_id = basic->tx.id;
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_INVOICE;
    tx.from = 3;
    tx.nonce = 1;
    tx.memo = T("");
    tx.u.invoice.debtor = 1;
    tx.u.invoice.amount = 1;
    tx.u.invoice.due = 0;
    tx.u.invoice.reference.p = keep_str(repeat("R", KULA_MAX_INVOICE_REF));
    tx.u.invoice.reference.n = KULA_MAX_INVOICE_REF;
    static const uint32_t w3[] = { 3 };
    tx_vector(&vf, "no-document-no-due",
              "No document (empty bin c4 00), no due date (0), a reference of exactly 64 bytes.",
              &tx, w3, 1);
    tx_common_invalid(&vf, basic);
    text_invalid(&vf, basic, "0.4.3", "reference", KULA_MAX_INVOICE_REF);
    const uint8_t *b = basic->bytes.data;
    size_t n = basic->bytes.len;
    mnode *m = m_from(b, n);
    m_set(m_at(m, "0.4.4"), r_bin(basic->tx.u.invoice.document.b, 31));
    vf_invalid_m(&vf, "document-31-bytes", m, KULA_ERANGE,
                 "document must be empty or exactly 32 bytes");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.4"), r_nil());
    vf_invalid_m(&vf, "document-nil", m, KULA_ETYPE,
                 "no document written as nil instead of an empty bin");
    m = m_from(b, n);
    m_append(m_at(m, "0.4"), r_uint(0));
    vf_invalid_m(&vf, "payload-arity-6", m, KULA_EARITY, "a sixth payload field");
    vf_close(&vf);

    static const struct {
        uint8_t kind;
        const char *file, *what;
    } others[] = {
        { KULA_TX_INVOICE_ACCEPT, "tx_invoice_accept.json",
          "Invoice accept (kind 16): payload [invoice]. Signed by from, the invoice's debtor." },
        { KULA_TX_INVOICE_DISPUTE, "tx_invoice_dispute.json",
          "Invoice dispute (kind 17): payload [invoice, reason]. Signed by from, the invoice's "
          "debtor." },
        { KULA_TX_INVOICE_CANCEL, "tx_invoice_cancel.json",
          "Invoice cancel (kind 18): payload [invoice]. Signed by from, the invoice's issuer." },
        { KULA_TX_INVOICE_PAY, "tx_invoice_pay.json",
          "Invoice pay (kind 19): payload [invoice, amount]. Signed by from, the invoice's "
          "debtor." },
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        uint8_t kind = others[i].kind;
        vf_open(&vf, others[i].file, "tx", kula_tx_kind_name(kind), others[i].what, "fuzz_tx",
                dec_tx);
        memset(&tx, 0, sizeof(tx));
        tx.kind = kind;
        tx.from = kind == KULA_TX_INVOICE_CANCEL ? 1 : 2;
        tx.nonce = 4;
        tx.memo = T("");
        tx.u.inv.invoice = invoice_id;
        if (kind == KULA_TX_INVOICE_DISPUTE)
            tx.u.inv.reason = T("only 40 of the 50 loaves arrived");
        if (kind == KULA_TX_INVOICE_PAY)
            tx.u.inv.amount = 50000;
        char why[160];
        snprintf(why, sizeof(why), "Member %u: %s of tx_invoice.json 'basic'%s.", tx.from,
                 kula_tx_kind_name(kind),
                 kind == KULA_TX_INVOICE_PAY ? ", 500.00 KULA of the 1250.00" : "");
        txv *v = tx_vector(&vf, "basic", why, &tx, tx.from == 1 ? w1 : w2, 1);
        tx_common_invalid(&vf, v);
        m = m_from(v->bytes.data, v->bytes.len);
        m_set(m_at(m, "0.4.0"), r_bin(invoice_id.b, 31));
        vf_invalid_m(&vf, "invoice-31-bytes", m, KULA_ERANGE, "an invoice id of 31 bytes");
        if (kind == KULA_TX_INVOICE_DISPUTE)
            text_invalid(&vf, v, "0.4.1", "reason", KULA_MAX_DESC);
        if (kind == KULA_TX_INVOICE_PAY) {
            m = m_from(v->bytes.data, v->bytes.len);
            m_set(m_at(m, "0.4.1"), r_str("500.00"));
            vf_invalid_m(&vf, "amount-text", m, KULA_ETYPE, "the amount written as text");
        }
        vf_close(&vf);
    }
}

static void gen_propose(known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_propose.json", "tx", "propose",
            "Governance proposal (kind 12): payload [action]; action is [1, pubkey, name, "
            "sector, credit_limit, voting_power] admit, [2, member] remove, [3, member, "
            "credit_limit] credit limit, [4, param, value] parameter, [5, member, pubkey] "
            "rotate key. Signed by from.",
            "fuzz_tx", dec_tx);
    static const uint32_t w1[] = { 1 }, w2[] = { 2 }, w3[] = { 3 };
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 1;
    tx.nonce = 16;
    tx.memo = T("admit the new café");
    tx.u.propose.action.kind = KULA_ACT_ADMIT;
    tx.u.propose.action.pubkey = pk[5];
    tx.u.propose.action.name = T("Café Aurora");
    tx.u.propose.action.sector = T("hospitality");
    tx.u.propose.action.credit_limit = 50000;
    tx.u.propose.action.voting_power = 0;
    txv *admit = tx_vector(&vf, "admit", "Admit key 5 as 'Café Aurora', credit limit 500.00, "
                           "not a validator.", &tx, w1, 1);
    ids->propose_admit = admit->tx.id;

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 2;
    tx.nonce = 10;
    tx.memo = T("");
    tx.u.propose.action.kind = KULA_ACT_REMOVE;
    tx.u.propose.action.member = 4;
    tx_vector(&vf, "remove", "Remove member 4.", &tx, w2, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 3;
    tx.nonce = 4;
    tx.memo = T("");
    tx.u.propose.action.kind = KULA_ACT_CREDIT_LIMIT;
    tx.u.propose.action.member = 3;
    tx.u.propose.action.credit_limit = 500000;
    tx_vector(&vf, "credit-limit", "Set member 3's credit limit to 5000.00.", &tx, w3, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 1;
    tx.nonce = 17;
    tx.memo = T("");
    tx.u.propose.action.kind = KULA_ACT_PARAM;
    tx.u.propose.action.param = KULA_PARAM_PROPOSAL_TTL;
    tx.u.propose.action.value = 2000;
    tx_vector(&vf, "param", "Set parameter 4 (proposal_ttl_blocks) to 2000.", &tx, w1, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 2;
    tx.nonce = 11;
    tx.memo = T("key of member 2 was on a stolen laptop");
    tx.u.propose.action.kind = KULA_ACT_ROTATE_KEY;
    tx.u.propose.action.member = 2;
    tx.u.propose.action.pubkey = pk[6];
    tx_vector(&vf, "rotate-key", "Give member 2 key 6.", &tx, w2, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 3;
    tx.nonce = 5;
    tx.memo = T("our auditor's node");
    tx.u.propose.action.kind = KULA_ACT_ADMIT_OBSERVER;
    tx.u.propose.action.pubkey = pk[7];
    tx.u.propose.action.name = T("Ledger Audit Ltd");
    txv *obs = tx_vector(&vf, "admit-observer", "Admit key 7 as the observer 'Ledger Audit Ltd'.",
                         &tx, w3, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 3;
    tx.nonce = 6;
    tx.memo = T("");
    tx.u.propose.action.kind = KULA_ACT_REMOVE_OBSERVER;
    tx.u.propose.action.pubkey = pk[7];
    tx_vector(&vf, "remove-observer", "Remove the observer with key 7.", &tx, w3, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_PROPOSE;
    tx.from = 3;
    tx.nonce = 7;
    tx.memo = T("clear the open invoices now");
    tx.u.propose.action.kind = KULA_ACT_CLEAR;
    tx_vector(&vf, "clear", "Run a multilateral clearing at the block that passes it.", &tx, w3,
              1);

    tx_common_invalid(&vf, admit);
    const uint8_t *b = admit->bytes.data;
    size_t n = admit->bytes.len;
    text_invalid(&vf, admit, "0.4.0.2", "admit-name", KULA_MAX_NAME);
    text_invalid(&vf, admit, "0.4.0.3", "admit-sector", KULA_MAX_NAME);
    mnode *m = m_from(b, n);
    m_set(m_at(m, "0.4.0"), raw_hex("9218c804"));
    vf_invalid_m(&vf, "action-kind-200", m, KULA_ERANGE, "action kind 200 does not exist");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0"), raw_hex("920604"));
    vf_invalid_m(&vf, "clear-arity-2", m, KULA_EARITY, "clear takes no field: [6, 4]");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0"), raw_hex("90"));
    vf_invalid_m(&vf, "action-empty", m, KULA_EARITY, "action []");
    m = m_from(b, n);
    m_drop(m_at(m, "0.4.0"));
    vf_invalid_m(&vf, "admit-arity-5", m, KULA_EARITY, "admit without voting_power");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0"), raw_hex("93020401"));
    vf_invalid_m(&vf, "remove-arity-3", m, KULA_EARITY, "[2, 4, 1]: remove takes one member");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0.1"), r_bin(pk[5].b, 31));
    vf_invalid_m(&vf, "admit-pubkey-31-bytes", m, KULA_ERANGE, "a 31-byte public key");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0"), raw_hex("970100000000000000"));
    vf_invalid_m(&vf, "action-arity-7", m, KULA_ETOOBIG,
                 "an action of 7 elements: the decoder reads actions of at most 6");
    text_invalid(&vf, obs, "0.4.0.2", "admit-observer-name", KULA_MAX_NAME);
    m = m_from(obs->bytes.data, obs->bytes.len);
    m_drop(m_at(m, "0.4.0"));
    vf_invalid_m(&vf, "admit-observer-arity-2", m, KULA_EARITY,
                 "[7, pubkey]: admit observer takes a key and a name");
    m = m_from(obs->bytes.data, obs->bytes.len);
    m_set(m_at(m, "0.4.0.0"), r_uint(8));
    vf_invalid_m(&vf, "remove-observer-arity-3", m, KULA_EARITY,
                 "[8, pubkey, name]: remove observer takes a key only");
    m = m_from(obs->bytes.data, obs->bytes.len);
    m_set(m_at(m, "0.4.0.0"), r_uint(9));
    vf_invalid_m(&vf, "action-kind-9", m, KULA_ERANGE, "action kind 9 does not exist");
    vf_close(&vf);
}

static void gen_vote_tx(const known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_vote.json", "tx", "vote",
            "Governance vote (kind 13): payload [proposal (tx id), approve (bool)]. Signed by "
            "from.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_VOTE;
    tx.from = 2;
    tx.nonce = 12;
    tx.memo = T("");
    tx.u.vote.proposal = ids->propose_admit;
    tx.u.vote.approve = true;
    static const uint32_t w2[] = { 2 }, w3[] = { 3 };
    txv *yes = tx_vector(&vf, "approve", "Member 2 approves tx_propose 'admit'.", &tx, w2, 1);
    tx.from = 3;
    tx.nonce = 5;
    tx.memo = T("not before the trial month");
    tx.u.vote.approve = false;
    tx_vector(&vf, "reject", "Member 3 rejects it.", &tx, w3, 1);
    tx_common_invalid(&vf, yes);
    mnode *m = m_from(yes->bytes.data, yes->bytes.len);
    m_set(m_at(m, "0.4.1"), r_uint(1));
    vf_invalid_m(&vf, "approve-as-int", m, KULA_ETYPE, "approve written as 1 instead of true");
    m = m_from(yes->bytes.data, yes->bytes.len);
    m_set(m_at(m, "0.4.1"), r_nil());
    vf_invalid_m(&vf, "approve-nil", m, KULA_ETYPE, "approve written as nil");
    vf_close(&vf);
}

static void gen_clearing_settle(void)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_clearing_settle.json", "tx", "clearing-settle",
            "Clearing settle (kind 20): payload [settle (bool)]; true opts from in to have "
            "what it still owes after each clearing paid from its credit, false opts it out. "
            "Signed by from.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_CLEARING_SETTLE;
    tx.from = 2;
    tx.nonce = 7;
    tx.memo = T("pay our suppliers at each clearing");
    tx.u.csettle.on = true;
    static const uint32_t w2[] = { 2 };
    txv *on = tx_vector(&vf, "on", "Member 2 opts in.", &tx, w2, 1);
    tx.nonce = 8;
    tx.memo = T("");
    tx.u.csettle.on = false;
    tx_vector(&vf, "off", "Member 2 opts out again.", &tx, w2, 1);
    tx_common_invalid(&vf, on);
    mnode *m = m_from(on->bytes.data, on->bytes.len);
    m_set(m_at(m, "0.4.0"), r_uint(1));
    vf_invalid_m(&vf, "settle-as-int", m, KULA_ETYPE, "settle written as 1 instead of true");
    m = m_from(on->bytes.data, on->bytes.len);
    m_set(m_at(m, "0.4.0"), r_nil());
    vf_invalid_m(&vf, "settle-nil", m, KULA_ETYPE, "settle written as nil");
    m = m_from(on->bytes.data, on->bytes.len);
    m_append(m_at(m, "0.4"), r_uint(0));
    vf_invalid_m(&vf, "payload-arity-2", m, KULA_EARITY, "a second payload field");
    vf_close(&vf);
}

/* A vote signed by its validator (key = member id) under the vectors'
 * chain id; block NULL is a vote for nil. */
static kula_vote ev_vote(uint8_t type, uint64_t height, uint32_t round, const char *block,
                         uint32_t validator)
{
    if (validator < 1 || validator > NKEYS)
        die("no key for validator %u", validator);
    kula_hash h = block != NULL ? hash_of(block) : (kula_hash){ { 0 } };
    return vecgen_vote(&chain_id, &sk[validator], type, height, round, block ? &h : NULL,
                       validator);
}

/* An evidence vector: the votes put in canonical order, and the votes'
 * signers ("vote_signers": their sighash under the vote tag). */
static txv *ev_vector(vfile *vf, const char *name, const char *description, kula_tx *tx,
                      const uint32_t *who)
{
    if (kula_vote_cmp(&tx->u.evidence.a, &tx->u.evidence.b) > 0) {
        kula_vote t = tx->u.evidence.a;
        tx->u.evidence.a = tx->u.evidence.b;
        tx->u.evidence.b = t;
    }
    txv *t = tx_vector(vf, name, description, tx, who, 1);
    json_t *v = json_array_get(vf->valid, json_array_size(vf->valid) - 1);
    json_t *vs = json_array();
    const kula_vote *votes[2] = { &tx->u.evidence.a, &tx->u.evidence.b };
    for (int i = 0; i < 2; i++) {
        kula_hash d;
        kula_vote_sighash(&d, &chain_id, votes[i]);
        json_array_append_new(vs, signer_json(votes[i]->validator, votes[i]->validator, &d,
                                              &votes[i]->sig));
    }
    json_object_set_new(v, "vote_signers", vs);
    return t;
}

static void gen_evidence(void)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_evidence.json", "tx", "evidence",
            "Evidence (kind 14): payload [vote_a, vote_b], two signed votes (SPEC §7.1) nested "
            "as values, vote_a's encoding bytewise before vote_b's. Signed by from (the "
            "reporter). vote_signers gives each vote's signature and its sighash under the "
            "vote tag. That the votes conflict, verify and are not in the future is the "
            "ledger's check (LEDGER.md §7.5), not the decoder's.",
            "fuzz_tx", dec_tx);
    static const uint32_t w3[] = { 3 }, w1[] = { 1 };
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_EVIDENCE;
    tx.from = 3;
    tx.nonce = 6;
    tx.memo = T("");
    tx.u.evidence.a = ev_vote(KULA_VOTE_PREVOTE, 1, 0, "block 1", 2);
    tx.u.evidence.b = ev_vote(KULA_VOTE_PREVOTE, 1, 0, NULL, 2);
    txv *basic = ev_vector(&vf, "prevote-block-and-nil",
                           "Member 3 reports that validator 2 prevoted both H(\"block 1\") and "
                           "nil at height 1, round 0. The nil vote (c4 00) sorts first.",
                           &tx, w3);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_EVIDENCE;
    tx.from = 1;
    tx.nonce = 18;
    tx.memo = T("caught by node 1");
    tx.u.evidence.a = ev_vote(KULA_VOTE_PRECOMMIT, UINT64_MAX, UINT32_MAX, "block x", 2);
    tx.u.evidence.b = ev_vote(KULA_VOTE_PRECOMMIT, UINT64_MAX, UINT32_MAX, "block y", 2);
    ev_vector(&vf, "precommit-two-blocks-largest-values",
              "Validator 2 precommitted two blocks at height 2^64-1, round 2^32-1 (decodes; the "
              "ledger refuses evidence above the current height: EHEIGHT).", &tx, w1);

    tx_common_invalid(&vf, basic);
    const uint8_t *b = basic->bytes.data;
    size_t n = basic->bytes.len;
    kula_buf va, vb, x;
    kula_buf_init(&va);
    kula_buf_init(&vb);
    kula_buf_init(&x);
    kula_vote_encode(&va, &basic->tx.u.evidence.a);
    kula_vote_encode(&vb, &basic->tx.u.evidence.b);
    kula_writer w;
    mnode *m;

    kula_writer_init(&w, &x);
    kula_w_array(&w, 2);
    kula_buf_append(&x, vb.data, vb.len);
    kula_buf_append(&x, va.data, va.len);
    m = m_from(b, n);
    m_set(m_at(m, "0.4"), raw_of(x.data, x.len));
    vf_invalid_m(&vf, "votes-descending", m, KULA_EORDER,
                 "[vote_b, vote_a]: the votes must be in ascending order of their encodings");
    kula_buf_reset(&x);
    kula_w_array(&w, 2);
    kula_buf_append(&x, va.data, va.len);
    kula_buf_append(&x, va.data, va.len);
    m = m_from(b, n);
    m_set(m_at(m, "0.4"), raw_of(x.data, x.len));
    vf_invalid_m(&vf, "same-vote-twice", m, KULA_EORDER,
                 "[vote_a, vote_a]: strictly ascending, so the same vote twice has no encoding");
    m = m_from(b, n);
    m_drop(m_at(m, "0.4"));
    vf_invalid_m(&vf, "payload-arity-1", m, KULA_EARITY, "[vote_a]: one vote");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0"), r_bin(va.data, va.len));
    vf_invalid_m(&vf, "vote-as-bin", m, KULA_ETYPE,
                 "vote_a as a bin holding its encoding: a vote is nested as a value");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0.0.0"), r_uint(3));
    vf_invalid_m(&vf, "vote-type-3", m, KULA_ERANGE, "vote_a of type 3");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0.0.0"), r_uint(0));
    vf_invalid_m(&vf, "vote-type-0", m, KULA_ERANGE, "vote_a of type 0");
    m = m_from(b, n);
    m_set(m_at(m, "0.4.0.0.1"), raw_hex("cc01"));
    vf_invalid_m(&vf, "vote-height-noncanonical", m, KULA_ENONCANON,
                 "vote_a's height 1 as uint8 (cc 01)");
    m = m_from(b, n);
    m_append(m_at(m, "0.4.0.0"), r_nil());
    vf_invalid_m(&vf, "vote-body-arity-6", m, KULA_EARITY, "a sixth field in vote_a's body");
    m = m_from(b, n);
    m_append(m_at(m, "0.4.0"), r_nil());
    vf_invalid_m(&vf, "vote-arity-3", m, KULA_EARITY, "vote_a as [body, sig, nil]");
    {
        uint8_t h[33] = { 0 };
        m = m_from(b, n);
        m_set(m_at(m, "0.4.0.0.3"), r_bin(h, 31));
        vf_invalid_m(&vf, "vote-block-hash-31-bytes", m, KULA_ERANGE,
                     "vote_a's block_hash of 31 bytes (32, or empty for nil)");
        m = m_from(b, n);
        m_set(m_at(m, "0.4.0.0.3"), r_nil());
        vf_invalid_m(&vf, "vote-nil-block-as-nil", m, KULA_ETYPE,
                     "vote_a for nil written as nil instead of an empty bin");
        m = m_from(b, n);
        m_set(m_at(m, "0.4.1.1"), r_bin(h, 33));
        vf_invalid_m(&vf, "vote-signature-33-bytes", m, KULA_ERANGE,
                     "vote_b's signature of 33 bytes (64)");
    }
    m = m_from(b, n);
    m_set(m_at(m, "0.4.1.0.4"), raw_hex("ff"));
    vf_invalid_m(&vf, "vote-validator-negative", m, KULA_ERANGE, "vote_b's validator -1");
    kula_buf_free(&va);
    kula_buf_free(&vb);
    kula_buf_free(&x);
    vf_close(&vf);
}

/* Dated transactions (SPEC §6.1, body version 2): the expiry is the last
 * block time, in ms since the Unix epoch, at which the transaction may
 * commit; nonce 0 makes it unsequenced (LEDGER.md §2.2).  Of any kind. */
static void gen_dated(const known_ids *ids)
{
    vfile vf;
    kula_tx tx;
    vf_open(&vf, "tx_dated.json", "tx", NULL,
            "Dated transactions (SPEC §6.1): body version 2, [2, kind, from, nonce, payload, "
            "memo, expires], expires >= 1 (ms since the Unix epoch); nonce 0 makes a dated "
            "transaction unsequenced. Of any kind: the file has no \"kind\", each vector's "
            "fields name theirs.",
            "fuzz_tx", dec_tx);
    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_EXCHANGE;
    tx.from = 1;
    tx.nonce = 0;
    tx.expires = genesis_time_ms + 7 * UINT64_C(86400000); /* 2025-01-08T00:00:00Z */
    tx.memo = T("offer valid for a week");
    tx.u.exchange.counterparty = 2;
    tx.u.exchange.gives = T("bread for the office, 12 months");
    tx.u.exchange.gives_value = 120000;
    tx.u.exchange.receives = T("website redesign");
    tx.u.exchange.receives_value = 120000;
    static const uint32_t w12[] = { 1, 2 };
    txv *basic = tx_vector(&vf, "exchange-unsequenced",
                           "The barter of tx_exchange.json 'basic' (another memo), unsequenced "
                           "(nonce 0) and dated: it commits in no block whose time is after "
                           "2025-01-08T00:00:00Z, and at most once (the ledger records its id). "
                           "Signed by members 1 and 2.",
                           &tx, w12, 2);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_TRANSFER;
    tx.from = 3;
    tx.nonce = 7;
    tx.expires = genesis_time_ms + 3600000; /* 2025-01-01T01:00:00Z */
    tx.memo = T("today only");
    tx.u.transfer.to = 1;
    tx.u.transfer.amount = 2500;
    static const uint32_t w3[] = { 3 };
    tx_vector(&vf, "transfer-sequenced",
              "A sequenced transfer (nonce 7) with an expiry, 2025-01-01T01:00:00Z: the nonce "
              "rule applies as without one.",
              &tx, w3, 1);

    memset(&tx, 0, sizeof(tx));
    tx.kind = KULA_TX_AGREEMENT_CLOSE;
    tx.from = 2;
    tx.nonce = 0;
    tx.expires = 1;
    tx.memo = T("");
    tx.u.settle.agreement = ids->open_equal;
    tx_vector(&vf, "smallest-expiry",
              "Closes agreement-open 'equal' (parties 1 and 2), unsequenced, with expires 1 "
              "(positive fixint 01), the smallest: a valid encoding that every real block "
              "refuses as expired.",
              &tx, w12, 2);
    tx.expires = UINT64_MAX;
    tx.memo = T("x");
    tx_vector(&vf, "largest-expiry",
              "The same close with expires 2^64-1 (uint64, cf ff ff ff ff ff ff ff ff) and "
              "memo \"x\".",
              &tx, w12, 2);

    tx_common_invalid(&vf, basic);

    const uint8_t *b = basic->bytes.data;
    size_t n = basic->bytes.len;
    mnode *m;
    m = m_from(b, n);
    m_set(m_at(m, "0.6"), r_uint(0));
    vf_invalid_m(&vf, "expires-0", m, KULA_ERANGE,
                 "version 2 with expires 0: no expiry is written as version 1, so that a "
                 "transaction has one encoding");
    m = m_from(b, n);
    m_drop(m_at(m, "0"));
    vf_invalid_m(&vf, "version-2-with-6-fields", m, KULA_EARITY,
                 "a version 2 body without its expiry (6 fields)");
    m = m_from(b, n);
    m_set(m_at(m, "0.0"), r_uint(1));
    vf_invalid_m(&vf, "version-1-with-7-fields", m, KULA_EARITY,
                 "a version 1 body with an expiry (7 fields)");
    m = m_from(b, n);
    m_set(m_at(m, "0.6"), raw_hex("cd0001"));
    vf_invalid_m(&vf, "expires-noncanonical", m, KULA_ENONCANON,
                 "expires 1 written as uint16 (cd 00 01) instead of positive fixint 01");
    m = m_from(b, n);
    m_set(m_at(m, "0.6"), r_int(-1));
    vf_invalid_m(&vf, "expires-negative", m, KULA_ERANGE, "expires -1 (negative fixint ff)");
    m = m_from(b, n);
    m_set(m_at(m, "0.6"), r_nil());
    vf_invalid_m(&vf, "expires-nil", m, KULA_ETYPE, "expires nil instead of an integer");
    m = m_from(b, n);
    m_set(m_at(m, "0.6"), r_str("2025-01-08"));
    vf_invalid_m(&vf, "expires-as-text", m, KULA_ETYPE, "expires as a date in text");
    vf_close(&vf);
}

/* ---- votes, commits, headers, blocks ---- */

/* The precommit whose signature a commit entry carries. */
static void commit_sighash(kula_hash *out, const kula_hash *chain, const kula_commit *c,
                           uint32_t validator, const uint8_t tag[KULA_TAG_LEN], uint8_t type)
{
    kula_vote v;
    memset(&v, 0, sizeof(v));
    v.type = type;
    v.height = c->height;
    v.round = c->round;
    v.has_block = true;
    v.block_hash = c->block_hash;
    v.validator = validator;
    kula_buf b;
    kula_buf_init(&b);
    kula_vote_encode_body(&b, &v);
    kula_signing_digest(out, tag, chain, b.data, b.len);
    kula_buf_free(&b);
}

static void make_commit(kula_commit *c, uint64_t height, uint32_t round, const kula_hash *block,
                        const uint32_t *vals, uint32_t n)
{
    memset(c, 0, sizeof(*c));
    c->height = height;
    c->round = round;
    c->block_hash = *block;
    c->nsigs = n;
    for (uint32_t i = 0; i < n; i++) {
        kula_hash h;
        commit_sighash(&h, &chain_id, c, vals[i], KULA_TAG_VOTE, KULA_VOTE_PRECOMMIT);
        c->sigs[i].validator = vals[i];
        sign(&c->sigs[i].sig, vals[i], &h);
    }
}

static json_t *commit_signers(const kula_commit *c)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < c->nsigs; i++) {
        kula_hash h;
        commit_sighash(&h, &chain_id, c, c->sigs[i].validator, KULA_TAG_VOTE,
                       KULA_VOTE_PRECOMMIT);
        json_array_append_new(a, signer_json(c->sigs[i].validator, c->sigs[i].validator, &h,
                                             &c->sigs[i].sig));
    }
    return a;
}

typedef struct chain {
    kula_header h[4];          /* blocks 1..3 */
    kula_hash hash[4];
    kula_commit commit[4];     /* commit[i]: of block i */
    kula_buf block[4];
    const uint8_t *txs[4][2];
    size_t lens[4][2];
    uint32_t ntxs[4];
} chain_data;

static chain_data C;

static void build_chain(const txv *transfer, const txv *exchange, const txv *referral)
{
    static const uint32_t vals123[] = { 1, 2, 3 }, vals12[] = { 1, 2 };
    for (int i = 1; i <= 3; i++) {
        kula_header *h = &C.h[i];
        memset(h, 0, sizeof(*h));
        h->version = KULA_VERSION;
        h->chain_id = chain_id;
        h->height = (uint64_t)i;
        h->time_ms = genesis_time_ms + 1000u * (uint64_t)i;
        h->proposer = (uint32_t)i;
        char s[64];
        snprintf(s, sizeof(s), "kula vector state root %d", i);
        h->state_root = hash_of(s);
        if (i == 1) {
            C.txs[1][0] = transfer->bytes.data;
            C.lens[1][0] = transfer->bytes.len;
            C.txs[1][1] = exchange->bytes.data;
            C.lens[1][1] = exchange->bytes.len;
            C.ntxs[1] = 2;
        } else if (i == 2) {
            C.txs[2][0] = referral->bytes.data;
            C.lens[2][0] = referral->bytes.len;
            C.ntxs[2] = 1;
        }
        kula_txs_root(&h->txs_root, C.txs[i], C.lens[i], C.ntxs[i]);
        const kula_commit *last = NULL;
        if (i > 1) {
            h->prev_hash = C.hash[i - 1];
            last = &C.commit[i - 1];
            kula_commit_hash(&h->last_commit_hash, last);
        }
        kula_header_hash(&C.hash[i], h);
        kula_buf_init(&C.block[i]);
        if (kula_block_encode(&C.block[i], h, C.txs[i], C.lens[i], C.ntxs[i], last) != 0)
            die("block %d encode", i);
        if (i == 1)
            make_commit(&C.commit[1], 1, 0, &C.hash[1], vals123, 3);
        else
            make_commit(&C.commit[i], (uint64_t)i, 1, &C.hash[i], vals12, 2);
    }
}

static void gen_header(void)
{
    vfile vf;
    kula_buf b;
    vf_open(&vf, "header.json", "header", NULL,
            "Block header (SPEC §5): [version, chain_id, height, time_ms, prev_hash, txs_root, "
            "state_root, proposer, last_commit_hash]. hash is the block hash, BLAKE2b-256 of "
            "hex. state_root values are arbitrary (BLAKE2b-256 of \"kula vector state root "
            "<height>\"): the codec does not compute them.",
            "fuzz_codec", dec_header);
    static const char *const desc[4] = {
        NULL,
        "Header of block 1 (block.json 'height-1'): zero prev_hash and last_commit_hash.",
        "Header of block 2: prev_hash is block 1's hash, last_commit_hash the hash of "
        "commit.json 'block-1'.",
        "Header of block 3: no transactions, so txs_root is BLAKE2b-256 of no bytes.",
    };
    for (int i = 1; i <= 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "height-%d", i);
        kula_buf_init(&b);
        kula_header_encode(&b, &C.h[i]);
        json_t *v = vf_valid(&vf, name, desc[i], vj_header(&C.h[i]), b.data, b.len);
        json_object_set_new(v, "hash", vj_hash(&C.hash[i]));
        kula_buf_free(&b);
    }
    kula_header big = C.h[2];
    big.height = UINT64_MAX;
    big.time_ms = (UINT64_C(1) << 63) + 1;
    big.proposer = UINT32_MAX;
    kula_hash bh;
    kula_header_hash(&bh, &big);
    kula_buf_init(&b);
    kula_header_encode(&b, &big);
    json_t *v = vf_valid(&vf, "largest-values",
                         "height 2^64-1, time 2^63+1, proposer 2^32-1 (JSON: decimal strings "
                         "where above 2^63-1).", vj_header(&big), b.data, b.len);
    json_object_set_new(v, "hash", vj_hash(&bh));
    kula_buf_free(&b);

    kula_buf_init(&b);
    kula_header_encode(&b, &C.h[1]);
    const uint8_t *p = b.data;
    size_t n = b.len;
    uint8_t h33[33] = { 0 };
    mnode *m;
    m = m_from(p, n);
    m_set(m_at(m, "2"), raw_hex("cc01"));
    vf_invalid_m(&vf, "height-noncanonical-uint8", m, KULA_ENONCANON, "height 1 as uint8 (cc 01)");
    m = m_from(p, n);
    m_set(m_at(m, "7"), raw_hex("cd0001"));
    vf_invalid_m(&vf, "proposer-noncanonical-uint16", m, KULA_ENONCANON,
                 "proposer 1 as uint16 (cd 00 01)");
    {
        kula_buf x;
        kula_buf_init(&x);
        kula_buf_append(&x, p, n);
        kula_buf_append(&x, "\x90", 1);
        vf_invalid(&vf, "trailing-byte", x.data, x.len, KULA_ETRAILING,
                   "an empty array (90) after the header");
        kula_buf_free(&x);
    }
    vf_invalid(&vf, "truncated", p, n - 1, KULA_ETRUNC, "the last byte is missing");
    m = m_from(p, n);
    m_set(m_at(m, "1"), r_bin(h33, 33));
    vf_invalid_m(&vf, "chain-id-33-bytes", m, KULA_ETOOBIG, "a 33-byte chain id (limit 32)");
    m = m_from(p, n);
    m_set(m_at(m, "4"), r_bin(h33, 31));
    vf_invalid_m(&vf, "prev-hash-31-bytes", m, KULA_ERANGE, "a 31-byte previous hash");
    m = m_from(p, n);
    m_set(m_at(m, "0"), r_uint(2));
    vf_invalid_m(&vf, "version-2", m, KULA_EVERSION, "header version 2 is unknown");
    m = m_from(p, n);
    m_set(m_at(m, "0"), r_uint(0));
    vf_invalid_m(&vf, "version-0", m, KULA_EVERSION, "header version 0 is unknown");
    m = m_from(p, n);
    m_append(m, r_nil());
    vf_invalid_m(&vf, "arity-10", m, KULA_EARITY, "a tenth field");
    m = m_from(p, n);
    m_set(m_at(m, "0"), r_uint(2));
    m_append(m, r_nil());
    vf_invalid_m(&vf, "version-2-with-10-fields", m, KULA_EVERSION,
                 "a version 2 header with a tenth field: the version is checked first");
    m = m_from(p, n);
    m_drop(m);
    vf_invalid_m(&vf, "arity-8", m, KULA_EARITY, "last_commit_hash missing");
    m = m_from(p, n);
    m_set(m_at(m, "7"), r_int(-1));
    vf_invalid_m(&vf, "proposer-negative", m, KULA_ERANGE, "proposer -1");
    m = m_from(p, n);
    m_set(m_at(m, "3"), raw_hex("cb4279425c3e000000"));
    vf_invalid_m(&vf, "time-float", m, KULA_ETYPE, "time as a float64");
    m = m_from(p, n);
    m_set(m_at(m, "2"), r_nil());
    vf_invalid_m(&vf, "height-nil", m, KULA_ETYPE, "height nil");
    vf_close(&vf);
    kula_buf_free(&b);
}

/* The commit c with every signature made over a wrong digest: the vote body
 * of type `type` under tag and chain.  Out: bad (the commit), signers JSON. */
static json_t *commit_resign(kula_commit *bad, const kula_commit *c,
                             const uint8_t tag[KULA_TAG_LEN], const kula_hash *chain,
                             uint8_t type)
{
    json_t *signers = json_array();
    *bad = *c;
    for (uint32_t i = 0; i < c->nsigs; i++) {
        kula_hash right, wrong;
        uint32_t val = c->sigs[i].validator;
        commit_sighash(&right, &chain_id, c, val, KULA_TAG_VOTE, KULA_VOTE_PRECOMMIT);
        commit_sighash(&wrong, chain, c, val, tag, type);
        sign(&bad->sigs[i].sig, val, &wrong);
        json_t *s = badsigner_json(val, val, &right, tag, chain, &wrong, &bad->sigs[i].sig);
        json_object_set_new(s, "signed_vote_type",
                            json_string(type == KULA_VOTE_PREVOTE ? "prevote" : "precommit"));
        json_array_append_new(signers, s);
    }
    return signers;
}

static const struct badsig_case {
    const char *name, *why;
    const uint8_t *tag;
    int other_chain;
    uint8_t type;
} commit_badsigs[] = {
    { "wrong-tag", "precommits signed under the transaction tag \"kula/tx/v1\"", KULA_TAG_TX, 0,
      KULA_VOTE_PRECOMMIT },
    { "wrong-chain-id", "precommits signed under the chain id of genesis vector "
      "single-validator-dev", KULA_TAG_VOTE, 1, KULA_VOTE_PRECOMMIT },
    { "prevote-signatures", "the signatures are of prevotes for the block, not precommits",
      KULA_TAG_VOTE, 0, KULA_VOTE_PREVOTE },
};

static void gen_commit(void)
{
    vfile vf;
    vf_open(&vf, "commit.json", "commit", NULL,
            "Commit (SPEC §7): [height, round, block_hash, [[validator, sig]...]], validators "
            "strictly ascending. Each sig is the validator's precommit: BIP-340 over "
            "BLAKE2b-256(\"kula/vote/v1\" || chain id || [2, height, round, block_hash, "
            "validator]) (the vote body, vote.json). hash is BLAKE2b-256 of hex.",
            "fuzz_commit", dec_commit);
    kula_buf b[3];
    for (int i = 1; i <= 2; i++) {
        char name[32];
        snprintf(name, sizeof(name), "block-%d", i);
        kula_buf_init(&b[i]);
        kula_commit_encode(&b[i], &C.commit[i]);
        kula_hash h;
        kula_commit_hash(&h, &C.commit[i]);
        json_t *v = vf_valid(&vf, name,
                             i == 1 ? "Commit of block 1, round 0, by validators 1, 2, 3 (carried "
                                      "by block 2)."
                                    : "Commit of block 2, round 1, by validators 1 and 2 (20 of "
                                      "25 voting power; carried by block 3).",
                             vj_commit(&C.commit[i]), b[i].data, b[i].len);
        json_object_set_new(v, "hash", vj_hash(&h));
        json_object_set_new(v, "signers", commit_signers(&C.commit[i]));
    }
    const uint8_t *p = b[1].data;
    size_t n = b[1].len;
    uint8_t h33[33] = { 0 };
    mnode *m;
    m = m_from(p, n);
    m_set(m_at(m, "1"), raw_hex("cc00"));
    vf_invalid_m(&vf, "round-noncanonical-uint8", m, KULA_ENONCANON, "round 0 as uint8 (cc 00)");
    m = m_from(p, n);
    m_set(m_at(m, "3.1.0"), raw_hex("d000"));
    vf_invalid_m(&vf, "validator-as-int8", m, KULA_ENONCANON,
                 "the second validator written as int8 d0 00: signed forms are for negative "
                 "values only");
    {
        kula_buf x;
        kula_buf_init(&x);
        kula_buf_append(&x, p, n);
        kula_buf_append(&x, "\xc0", 1);
        vf_invalid(&vf, "trailing-byte", x.data, x.len, KULA_ETRAILING, "nil after the commit");
        kula_buf_free(&x);
    }
    vf_invalid(&vf, "truncated", p, n - 1, KULA_ETRUNC, "the last byte is missing");
    m = m_from(p, n);
    m_set(m_at(m, "3"), raw_hex("dc0101"));
    vf_invalid_m(&vf, "257-signatures", m, KULA_ETOOBIG,
                 "a signature list header of 257 entries (limit 256 validators); entries "
                 "left out");
    m = m_from(p, n);
    m_set(m_at(m, "2"), r_bin(h33, 33));
    vf_invalid_m(&vf, "block-hash-33-bytes", m, KULA_ETOOBIG, "a 33-byte block hash");
    m = m_from(p, n);
    m_append(m, r_nil());
    vf_invalid_m(&vf, "arity-5", m, KULA_EARITY, "a fifth field");
    m = m_from(p, n);
    m_drop(m);
    vf_invalid_m(&vf, "arity-3", m, KULA_EARITY, "the signatures are missing");
    m = m_from(p, n);
    m_set(m_at(m, "3"), r_arrayhdr(0));
    vf_invalid_m(&vf, "no-signatures", m, KULA_EARITY, "an empty signature list");
    m = m_from(p, n);
    m_append(m_at(m, "3.0"), r_nil());
    vf_invalid_m(&vf, "signature-entry-arity-3", m, KULA_EARITY, "[validator, sig, nil]");
    {
        kula_commit c = C.commit[1];
        kula_commit_sig t = c.sigs[0];
        c.sigs[0] = c.sigs[1];
        c.sigs[1] = t;
        kula_buf x;
        kula_buf_init(&x);
        kula_commit_encode(&x, &c);
        vf_invalid(&vf, "signatures-descending", x.data, x.len, KULA_EORDER,
                   "validators 2, 1, 3: must be strictly ascending");
        c = C.commit[1];
        c.sigs[1] = c.sigs[0];
        kula_buf_reset(&x);
        kula_commit_encode(&x, &c);
        vf_invalid(&vf, "signatures-duplicate", x.data, x.len, KULA_EORDER,
                   "validator 1 twice: must be strictly ascending");
        kula_buf_free(&x);
    }
    for (size_t i = 0; i < sizeof(commit_badsigs) / sizeof(commit_badsigs[0]); i++) {
        const struct badsig_case *k = &commit_badsigs[i];
        kula_commit bad;
        json_t *signers = commit_resign(&bad, &C.commit[1], k->tag,
                                        k->other_chain ? &other_chain_id : &chain_id, k->type);
        kula_buf x;
        kula_buf_init(&x);
        kula_commit_encode(&x, &bad);
        vf_badsig(&vf, k->name, x.data, x.len, signers, k->why);
        kula_buf_free(&x);
    }
    vf_close(&vf);
    kula_buf_free(&b[1]);
    kula_buf_free(&b[2]);
}

static void gen_block(void)
{
    vfile vf;
    vf_open(&vf, "block.json", "block", NULL,
            "Block (SPEC §5): [header, [tx...], last_commit or nil]. txs are signed "
            "transactions of the tx_*.json files; txs_root is the Merkle root of §5.3; "
            "last_commit is the commit of the parent (commit.json), whose hash the header "
            "carries. hash is the block hash (of the header alone). signers are the "
            "last_commit's precommit signatures.",
            "fuzz_block", dec_block);
    static const char *const desc[4] = {
        NULL,
        "Height 1: tx_transfer 'basic' and tx_exchange 'basic', no commit (nil).",
        "Height 2: tx_referral 'basic' and the commit of block 1.",
        "Height 3: no transactions and the commit of block 2.",
    };
    for (int i = 1; i <= 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "height-%d", i);
        json_t *f = json_object(), *txs = json_array();
        json_object_set_new(f, "header", vj_header(&C.h[i]));
        for (uint32_t k = 0; k < C.ntxs[i]; k++)
            json_array_append_new(txs, vj_hex(C.txs[i][k], C.lens[i][k]));
        json_object_set_new(f, "txs", txs);
        json_object_set_new(f, "last_commit", i > 1 ? vj_commit(&C.commit[i - 1])
                                                    : json_null());
        json_t *v = vf_valid(&vf, name, desc[i], f, C.block[i].data, C.block[i].len);
        json_object_set_new(v, "hash", vj_hash(&C.hash[i]));
        json_object_set_new(v, "signers", i > 1 ? commit_signers(&C.commit[i - 1])
                                                : json_array());
    }
    const uint8_t *p1 = C.block[1].data, *p2 = C.block[2].data;
    size_t n1 = C.block[1].len, n2 = C.block[2].len;
    mnode *m;
    m = m_from(p1, n1);
    m_set(m_at(m, "0.2"), raw_hex("cc01"));
    vf_invalid_m(&vf, "header-height-noncanonical", m, KULA_ENONCANON,
                 "header height 1 as uint8 (cc 01)");
    m = m_from(p1, n1);
    m_set(m_at(m, "1.0.0.3"), raw_hex("cc05"));
    vf_invalid_m(&vf, "tx-noncanonical", m, KULA_ENONCANON,
                 "the first transaction's nonce 5 as uint8 (cc 05): each tx must be one "
                 "canonical value");
    {
        kula_buf x;
        kula_buf_init(&x);
        kula_buf_append(&x, p1, n1);
        kula_buf_append(&x, "\xc0", 1);
        vf_invalid(&vf, "trailing-byte", x.data, x.len, KULA_ETRAILING, "nil after the block");
        kula_buf_free(&x);
    }
    vf_invalid(&vf, "truncated", p2, n2 - 1, KULA_ETRUNC, "the last byte is missing");
    m = m_from(p1, n1);
    m_set(m_at(m, "1"), raw_hex("dc4e21"));
    vf_invalid_m(&vf, "20001-txs", m, KULA_ETOOBIG,
                 "a transaction list header of 20001 entries (limit 20000); entries left out");
    m = m_from(p1, n1);
    m_set(m_at(m, "0.0"), r_uint(2));
    vf_invalid_m(&vf, "header-version-2", m, KULA_EVERSION, "header version 2 is unknown");
    m = m_from(p1, n1);
    m_append(m, r_nil());
    vf_invalid_m(&vf, "arity-4", m, KULA_EARITY, "a fourth field");
    m = m_from(p1, n1);
    m_drop(m);
    vf_invalid_m(&vf, "arity-2", m, KULA_EARITY, "no last_commit field (not even nil)");
    m = m_from(p1, n1);
    m_set(m_at(m, "1.0.0.5"), r_strn("Rechnung \xff", 10));
    vf_invalid_m(&vf, "tx-memo-bad-utf8", m, KULA_EUTF8,
                 "the first transaction's memo contains byte ff");
    m = m_from(p1, n1);
    m_set(m_at(m, "1.1"), raw_hex("80"));
    vf_invalid_m(&vf, "tx-map", m, KULA_ETYPE, "the second transaction is an empty map");
    m = m_from(p1, n1);
    m_set(m_at(m, "1.1"), raw_hex("919191919191919191919191919191919100"));
    vf_invalid_m(&vf, "tx-nested-17-deep", m, KULA_ETOOBIG,
                 "the second transaction is 17 nested arrays around 0: deeper than the 16 "
                 "a value of unknown shape may nest (SPEC §2.4)");
    m = m_from(p2, n2);
    {
        mnode *sigs = m_at(m, "2.3");
        mnode *t = sigs->kids[0];
        sigs->kids[0] = sigs->kids[1];
        sigs->kids[1] = t;
    }
    vf_invalid_m(&vf, "commit-signatures-descending", m, KULA_EORDER,
                 "last_commit signatures of validators 2, 1, 3");
    m = m_from(p2, n2);
    m_set(m_at(m, "2.3"), r_arrayhdr(0));
    vf_invalid_m(&vf, "commit-no-signatures", m, KULA_EARITY, "a last_commit without signatures");
    m = m_from(p2, n2);
    m_set(m_at(m, "2"), raw_hex("c2"));
    vf_invalid_m(&vf, "commit-false", m, KULA_ETYPE, "last_commit false instead of nil");
    for (size_t i = 0; i < sizeof(commit_badsigs) / sizeof(commit_badsigs[0]); i++) {
        const struct badsig_case *k = &commit_badsigs[i];
        kula_commit bad;
        json_t *signers = commit_resign(&bad, &C.commit[1], k->tag,
                                        k->other_chain ? &other_chain_id : &chain_id, k->type);
        /* The header names the bad commit's hash, so the signatures are the
         * only thing wrong with the block. */
        kula_header h = C.h[2];
        kula_commit_hash(&h.last_commit_hash, &bad);
        kula_buf x;
        kula_buf_init(&x);
        kula_block_encode(&x, &h, C.txs[2], C.lens[2], C.ntxs[2], &bad);
        char name[64];
        snprintf(name, sizeof(name), "commit-%s", k->name);
        vf_badsig(&vf, name, x.data, x.len, signers, k->why);
        kula_buf_free(&x);
    }
    vf_close(&vf);
}

static void vote_vector(vfile *vf, const char *name, const char *description, uint8_t type,
                        uint64_t height, uint32_t round, const kula_hash *block,
                        uint32_t validator, kula_vote *out)
{
    if (validator < 1 || validator > NKEYS)
        die("no key for validator %u", validator);
    kula_vote v = vecgen_vote(&chain_id, &sk[validator], type, height, round, block, validator);
    kula_hash sighash;
    kula_vote_sighash(&sighash, &chain_id, &v);
    kula_buf b, body;
    kula_buf_init(&b);
    kula_buf_init(&body);
    kula_vote_encode(&b, &v);
    kula_vote_encode_body(&body, &v);
    json_t *x = vf_valid(vf, name, description, kula_vote_to_json(&v, false), b.data, b.len);
    json_object_set_new(x, "body_hex", vj_hex(body.data, body.len));
    json_t *signers = json_array();
    json_array_append_new(signers, signer_json(validator, validator, &sighash, &v.sig));
    json_object_set_new(x, "signers", signers);
    kula_buf_free(&b);
    kula_buf_free(&body);
    if (out != NULL)
        *out = v;
}

static void vote_badsig(vfile *vf, const kula_vote *v, const char *name,
                        const uint8_t tag[KULA_TAG_LEN], const kula_hash *chain, uint8_t type,
                        const char *why)
{
    kula_vote signed_as = *v, bad = *v;
    kula_hash right, wrong;
    signed_as.type = type;
    kula_vote_sighash(&right, &chain_id, v);
    kula_buf body;
    kula_buf_init(&body);
    kula_vote_encode_body(&body, &signed_as);
    kula_signing_digest(&wrong, tag, chain, body.data, body.len);
    kula_buf_free(&body);
    sign(&bad.sig, v->validator, &wrong);
    json_t *signers = json_array();
    json_t *s = badsigner_json(v->validator, v->validator, &right, tag, chain, &wrong, &bad.sig);
    json_object_set_new(s, "signed_vote_type",
                        json_string(type == KULA_VOTE_PREVOTE ? "prevote" : "precommit"));
    json_array_append_new(signers, s);
    kula_buf b;
    kula_buf_init(&b);
    kula_vote_encode(&b, &bad);
    vf_badsig(vf, name, b.data, b.len, signers, why);
    kula_buf_free(&b);
}

static void gen_vote(void)
{
    vfile vf;
    kula_vote pre, pc;
    vf_open(&vf, "vote.json", "vote", NULL,
            "Consensus vote (SPEC §7): [[type, height, round, block_hash, validator], sig]; "
            "type 1 prevote, 2 precommit; block_hash is 32 bytes or an empty bin for a vote "
            "for nil. sig is BIP-340 over BLAKE2b-256(\"kula/vote/v1\" || chain id || body) "
            "(body_hex). Votes and commits carry no version field, so there are no EVERSION "
            "vectors; they carry no text, so no EUTF8 vectors.",
            "fuzz_vote", dec_vote);
    vote_vector(&vf, "prevote", "Validator 2 prevotes for block 1 in round 0.",
                KULA_VOTE_PREVOTE, 1, 0, &C.hash[1], 2, &pre);
    vote_vector(&vf, "precommit", "Validator 3 precommits block 1 in round 0 (its signature is "
                "the one in commit.json 'block-1').", KULA_VOTE_PRECOMMIT, 1, 0, &C.hash[1], 3,
                &pc);
    vote_vector(&vf, "nil-prevote", "Validator 1 prevotes nil at height 2, round 1 (empty bin "
                "c4 00).", KULA_VOTE_PREVOTE, 2, 1, NULL, 1, NULL);
    vote_vector(&vf, "nil-precommit", "Validator 2 precommits nil at height 2, round 3.",
                KULA_VOTE_PRECOMMIT, 2, 3, NULL, 2, NULL);
    vote_vector(&vf, "largest-values", "height 2^64-1, round 2^32-1.", KULA_VOTE_PRECOMMIT,
                UINT64_MAX, UINT32_MAX, &C.hash[2], 1, NULL);

    kula_buf b;
    kula_buf_init(&b);
    kula_vote_encode(&b, &pre);
    const uint8_t *p = b.data;
    size_t n = b.len;
    uint8_t h33[65] = { 0 };
    mnode *m;
    m = m_from(p, n);
    m_set(m_at(m, "0.1"), raw_hex("cc01"));
    vf_invalid_m(&vf, "height-noncanonical-uint8", m, KULA_ENONCANON, "height 1 as uint8 (cc 01)");
    {
        kula_buf x;
        kula_buf_init(&x);
        kula_buf_append(&x, p, n);
        kula_buf_append(&x, "\x00", 1);
        vf_invalid(&vf, "trailing-byte", x.data, x.len, KULA_ETRAILING, "00 after the vote");
        kula_buf_free(&x);
    }
    vf_invalid(&vf, "truncated", p, n - 1, KULA_ETRUNC, "the last byte is missing");
    m = m_from(p, n);
    m_set(m_at(m, "0.3"), r_bin(h33, 33));
    vf_invalid_m(&vf, "block-hash-33-bytes", m, KULA_ETOOBIG, "a 33-byte block hash (limit 32)");
    m = m_from(p, n);
    m_set(m_at(m, "0.3"), r_bin(h33, 31));
    vf_invalid_m(&vf, "block-hash-31-bytes", m, KULA_ERANGE, "a 31-byte block hash");
    m = m_from(p, n);
    m_set(m_at(m, "0.3"), r_nil());
    vf_invalid_m(&vf, "nil-block-as-nil", m, KULA_ETYPE,
                 "a vote for nil must carry an empty bin, not nil");
    m = m_from(p, n);
    m_set(m_at(m, "1"), r_bin(h33, 65));
    vf_invalid_m(&vf, "signature-65-bytes", m, KULA_ETOOBIG, "a 65-byte signature");
    m = m_from(p, n);
    m_append(m_at(m, "0"), r_nil());
    vf_invalid_m(&vf, "body-arity-6", m, KULA_EARITY, "a sixth body field");
    m = m_from(p, n);
    m_append(m, r_nil());
    vf_invalid_m(&vf, "arity-3", m, KULA_EARITY, "[body, sig, nil]");
    m = m_from(p, n);
    m_set(m_at(m, "0.0"), r_uint(0));
    vf_invalid_m(&vf, "type-0", m, KULA_ERANGE, "vote type 0");
    m = m_from(p, n);
    m_set(m_at(m, "0.0"), r_uint(3));
    vf_invalid_m(&vf, "type-3", m, KULA_ERANGE, "vote type 3");
    vote_badsig(&vf, &pre, "wrong-tag", KULA_TAG_TX, &chain_id, KULA_VOTE_PREVOTE,
                "signed under the transaction tag \"kula/tx/v1\"");
    vote_badsig(&vf, &pre, "wrong-chain-id", KULA_TAG_VOTE, &other_chain_id, KULA_VOTE_PREVOTE,
                "signed under the chain id of genesis vector single-validator-dev");
    vote_badsig(&vf, &pc, "precommit-with-prevote-signature", KULA_TAG_VOTE, &chain_id,
                KULA_VOTE_PREVOTE,
                "a precommit carrying the validator's prevote signature for the same block");
    vf_close(&vf);
    kula_buf_free(&b);
}
/* ---- wire.json: peer messages (SPEC §12) ---- */

static int dec_wire(const uint8_t *p, size_t n)
{
    kula_msg m;
    int rc = kula_msg_decode(&m, p, n);
    if (rc == 0) {
        kula_buf b;
        kula_buf_init(&b);
        if (kula_msg_encode(&b, &m) != 0 || b.len != n || memcmp(b.data, p, n) != 0)
            die("message does not re-encode to its bytes");
        kula_buf_free(&b);
    }
    return rc;
}

static json_t *wire_fields(const kula_msg *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(kula_msg_type_name(m->type)));
    switch ((enum kula_msg_type)m->type) {
    case KULA_MSG_STATUS:
        json_object_set_new(o, "height", kula_json_u64(m->u.status.height));
        json_object_set_new(o, "tip", vj_hash(&m->u.status.tip));
        json_object_set_new(o, "listen_port", json_integer(m->u.status.listen_port));
        break;
    case KULA_MSG_TX:
        json_object_set_new(o, "tx", vj_hex(m->u.tx.tx, m->u.tx.len));
        break;
    case KULA_MSG_PROPOSAL:
        json_object_set_new(o, "proposal", vj_hex(m->u.proposal.proposal,
                                                 m->u.proposal.proposal_len));
        json_object_set_new(o, "block", vj_hex(m->u.proposal.block, m->u.proposal.block_len));
        break;
    case KULA_MSG_VOTE:
        json_object_set_new(o, "vote", vj_hex(m->u.vote.vote, m->u.vote.len));
        break;
    case KULA_MSG_GET_BLOCKS:
        json_object_set_new(o, "from", kula_json_u64(m->u.get_blocks.from));
        json_object_set_new(o, "count", json_integer(m->u.get_blocks.count));
        break;
    case KULA_MSG_BLOCK:
        json_object_set_new(o, "height", kula_json_u64(m->u.block.height));
        json_object_set_new(o, "block", vj_hex(m->u.block.block, m->u.block.block_len));
        json_object_set_new(o, "commit", vj_hex(m->u.block.commit, m->u.block.commit_len));
        break;
    case KULA_MSG_GET_PEERS:
        break;
    case KULA_MSG_PEERS: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < m->u.peers.n; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "ip", vj_hex(m->u.peers.addrs[i].ip,
                                               m->u.peers.addrs[i].ip_len));
            json_object_set_new(e, "port", json_integer(m->u.peers.addrs[i].port));
            json_array_append_new(a, e);
        }
        json_object_set_new(o, "addrs", a);
        break;
    }
    case KULA_MSG_EVIDENCE:
        json_object_set_new(o, "vote_a", vj_hex(m->u.evidence.a, m->u.evidence.a_len));
        json_object_set_new(o, "vote_b", vj_hex(m->u.evidence.b, m->u.evidence.b_len));
        break;
    case KULA_MSG_GET_SNAPSHOTS:
        json_object_set_new(o, "from", kula_json_u64(m->u.get_snapshots.from));
        break;
    case KULA_MSG_SNAPSHOTS: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < m->u.snapshots.n; i++)
            json_array_append_new(a, vj_hex(m->u.snapshots.items[i].p,
                                            m->u.snapshots.items[i].len));
        json_object_set_new(o, "items", a);
        break;
    }
    case KULA_MSG_GET_CHUNK:
        json_object_set_new(o, "height", kula_json_u64(m->u.get_chunk.height));
        json_object_set_new(o, "index", json_integer(m->u.get_chunk.index));
        break;
    case KULA_MSG_CHUNK:
        json_object_set_new(o, "height", kula_json_u64(m->u.chunk.height));
        json_object_set_new(o, "index", json_integer(m->u.chunk.index));
        json_object_set_new(o, "total", json_integer(m->u.chunk.total));
        json_object_set_new(o, "data", vj_hex(m->u.chunk.data, m->u.chunk.len));
        break;
    case KULA_MSG_TX_BATCH: {
        json_t *a = json_array();
        size_t off = 0, len, ilen;
        const uint8_t *tx, *item;
        while (kula_msg_batch_next(m, &off, &tx, &len, &item, &ilen))
            json_array_append_new(a, vj_hex(tx, len));
        json_object_set_new(o, "txs", a);
        break;
    }
    }
    return o;
}

/* Encodes m as a valid vector.  Out: *out, its bytes (may be NULL). */
static void wire_vector(vfile *vf, const char *name, const char *description, const kula_msg *m,
                        kula_buf *out)
{
    kula_buf b;
    kula_buf_init(&b);
    if (kula_msg_encode(&b, m) != 0)
        die("wire.json %s: does not encode", name);
    vf_valid(vf, name, description, wire_fields(m), b.data, b.len);
    if (out != NULL)
        *out = b;
    else
        kula_buf_free(&b);
}

/* The signed vote of validator v for block (NULL: nil), prevote, round 0. */
static void wire_vote(kula_buf *out, uint64_t height, const kula_hash *block, uint32_t v)
{
    if (v < 1 || v > NKEYS)
        die("no key for validator %u", v);
    kula_vote x = vecgen_vote(&chain_id, &sk[v], KULA_VOTE_PREVOTE, height, 0, block, v);
    kula_buf_init(out);
    kula_vote_encode(out, &x);
}

/* A message by hand: hex of the array header and type, then raw pieces. */
static void wire_invalid_hex(vfile *vf, const char *name, const char *hex, int expect,
                             const char *why)
{
    raw r = raw_hex(hex);
    vf_invalid(vf, name, r.b, r.n, expect, why);
}

static void gen_wire(const txv *transfer, const txv *exchange)
{
    vfile vf;
    vf_open(&vf, "wire.json", "message", NULL,
            "Peer messages (SPEC §12): [type, ...fields]; nested structures are bin holding "
            "their canonical encoding: tx_transfer 'basic', vote.json 'prevote', block.json "
            "'height-2' with its proposal (SPEC §7.3, by validator 2, round 0, no proof of "
            "lock), block.json 'height-1' and 'height-3' with commit.json's commit of each "
            "block (block 3's commit is the one made in build_chain, round 1, validators 1 "
            "and 2). fields.type is kula_msg_type_name; byte fields are hex; an ip is 4 or 16 "
            "bytes in network byte order. SNAPSHOTS items and CHUNK data are placeholder "
            "bytes (a snapshot proof's layout is SPEC §12.2's; the wire checks only their "
            "lengths).",
            "fuzz_wire", dec_wire);
    kula_msg m;
    kula_buf status, tx, get_blocks, peers, block, evidence, getpeers;
    kula_buf get_snapshots, snapshots, get_chunk, chunk;

    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_STATUS;
    wire_vector(&vf, "status-genesis", "A node at height 0 that does not listen: the tip is 32 "
                "zero bytes.", &m, NULL);
    m.u.status.height = 3;
    m.u.status.tip = C.hash[3];
    m.u.status.listen_port = 7401;
    wire_vector(&vf, "status", "A node at height 3 (block.json 'height-3') listening on port "
                "7401.", &m, &status);
    m.u.status.height = UINT64_MAX;
    m.u.status.listen_port = 65535;
    wire_vector(&vf, "status-largest-values", "height 2^64-1, listen port 65535.", &m, NULL);

    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_TX;
    m.u.tx.tx = transfer->bytes.data;
    m.u.tx.len = transfer->bytes.len;
    wire_vector(&vf, "tx", "tx_transfer.json 'basic'.", &m, &tx);

    kula_block_proposal prop;
    memset(&prop, 0, sizeof(prop));
    prop.height = 2;
    prop.round = 0;
    prop.pol_round = -1;
    prop.block_hash = C.hash[2];
    prop.proposer = C.h[2].proposer;
    kula_hash ph;
    kula_block_proposal_sighash(&ph, &chain_id, &prop);
    sign(&prop.sig, prop.proposer, &ph);
    kula_buf pbytes;
    kula_buf_init(&pbytes);
    if (kula_block_proposal_encode(&pbytes, &prop) != 0)
        die("wire.json: proposal does not encode");
    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_PROPOSAL;
    m.u.proposal.proposal = pbytes.data;
    m.u.proposal.proposal_len = pbytes.len;
    m.u.proposal.block = C.block[2].data;
    m.u.proposal.block_len = C.block[2].len;
    wire_vector(&vf, "proposal", "Validator 2 proposes block 2 (block.json 'height-2') in round "
                "0 with pol_round -1.", &m, NULL);

    kula_buf va, vb;
    wire_vote(&va, 1, &C.hash[1], 2);
    wire_vote(&vb, 1, NULL, 2);
    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_VOTE;
    m.u.vote.vote = va.data;
    m.u.vote.len = va.len;
    wire_vector(&vf, "vote", "vote.json 'prevote': validator 2 prevotes block 1 in round 0.", &m,
                NULL);

    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_GET_BLOCKS;
    m.u.get_blocks.from = 1;
    m.u.get_blocks.count = KULA_MAX_GET_BLOCKS;
    wire_vector(&vf, "get-blocks", "Asks for blocks 1 ... 64.", &m, &get_blocks);
    m.u.get_blocks.from = UINT64_MAX;
    m.u.get_blocks.count = 1;
    wire_vector(&vf, "get-blocks-largest-from", "Asks for the block of height 2^64-1.", &m, NULL);

    kula_buf cb[4];
    for (int i = 1; i <= 3; i += 2) {
        kula_buf_init(&cb[i]);
        kula_commit_encode(&cb[i], &C.commit[i]);
    }
    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_BLOCK;
    m.u.block.height = 1;
    m.u.block.block = C.block[1].data;
    m.u.block.block_len = C.block[1].len;
    m.u.block.commit = cb[1].data;
    m.u.block.commit_len = cb[1].len;
    wire_vector(&vf, "block-1", "Block 1 with its commit (commit.json 'block-1', also block 2's "
                "last_commit).", &m, &block);
    m.u.block.height = 3;
    m.u.block.block = C.block[3].data;
    m.u.block.block_len = C.block[3].len;
    m.u.block.commit = cb[3].data;
    m.u.block.commit_len = cb[3].len;
    wire_vector(&vf, "block-3", "Block 3, the tip, with its tip commit (round 1, validators 1 "
                "and 2).", &m, NULL);

    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_GET_PEERS;
    wire_vector(&vf, "get-peers", "Asks for peer addresses.", &m, &getpeers);

    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_PEERS;
    wire_vector(&vf, "peers-empty", "No address to give.", &m, NULL);
    static const uint8_t v4[4] = { 127, 0, 0, 1 }, v4b[4] = { 192, 0, 2, 10 };
    static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    m.u.peers.n = 3;
    m.u.peers.addrs[0] = (kula_peer_addr){ .ip_len = 4, .port = 7401 };
    memcpy(m.u.peers.addrs[0].ip, v4, 4);
    m.u.peers.addrs[1] = (kula_peer_addr){ .ip_len = 16, .port = 7402 };
    memcpy(m.u.peers.addrs[1].ip, v6, 16);
    m.u.peers.addrs[2] = (kula_peer_addr){ .ip_len = 4, .port = 65535 };
    memcpy(m.u.peers.addrs[2].ip, v4b, 4);
    wire_vector(&vf, "peers", "127.0.0.1:7401, [2001:db8::1]:7402, 192.0.2.10:65535.", &m,
                &peers);
    m.u.peers.n = KULA_MAX_PEER_ADDRS;
    for (uint32_t i = 0; i < KULA_MAX_PEER_ADDRS; i++) {
        kula_peer_addr *a = &m.u.peers.addrs[i];
        memset(a, 0, sizeof(*a));
        a->ip_len = i % 2 ? 16 : 4;
        memcpy(a->ip, i % 2 ? v6 : v4b, a->ip_len);
        a->ip[a->ip_len - 1] = (uint8_t)(i + 1);
        a->port = (uint16_t)(1 + i);
    }
    wire_vector(&vf, "peers-32", "32 addresses (the limit): 192.0.2.i and 2001:db8::i "
                "alternately, ports 1 ... 32.", &m, NULL);

    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_EVIDENCE;
    m.u.evidence.a = va.data;
    m.u.evidence.a_len = va.len;
    m.u.evidence.b = vb.data;
    m.u.evidence.b_len = vb.len;
    wire_vector(&vf, "evidence", "Validator 2 prevoted both block 1 and nil at height 1, round "
                "0.", &m, &evidence);

    /* State sync (SPEC §12.1).  The items and the data are placeholders:
     * "kula vector snapshot proof i" and 40 bytes 0, 1, ..., 39. */
    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_GET_SNAPSHOTS;
    m.u.get_snapshots.from = 1;
    wire_vector(&vf, "get-snapshots", "Asks for every snapshot height the receiver can prove "
                "(from 1).", &m, &get_snapshots);
    m.u.get_snapshots.from = UINT64_MAX;
    wire_vector(&vf, "get-snapshots-largest-from", "Asks for the snapshot heights at or above "
                "2^64-1.", &m, NULL);

    static const char *const proof[2] = { "kula vector snapshot proof 1",
                                          "kula vector snapshot proof 2" };
    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_SNAPSHOTS;
    wire_vector(&vf, "snapshots-empty", "No snapshot to offer: 0 items.", &m, NULL);
    m.u.snapshots.n = 2;
    for (uint32_t i = 0; i < 2; i++) {
        m.u.snapshots.items[i].p = (const uint8_t *)proof[i];
        m.u.snapshots.items[i].len = strlen(proof[i]);
    }
    wire_vector(&vf, "snapshots", "Two items, placeholders for snapshot proofs: the ASCII of "
                "'kula vector snapshot proof 1' and '... 2'.", &m, &snapshots);

    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_GET_CHUNK;
    m.u.get_chunk.height = 1000;
    m.u.get_chunk.index = 0;
    wire_vector(&vf, "get-chunk", "Asks for the first piece of the copy of the state at height "
                "1000.", &m, &get_chunk);
    m.u.get_chunk.height = UINT64_MAX;
    m.u.get_chunk.index = UINT32_MAX;
    wire_vector(&vf, "get-chunk-largest-values", "height 2^64-1, index 2^32-1.", &m, NULL);

    uint8_t piece[40];
    for (size_t i = 0; i < sizeof(piece); i++)
        piece[i] = (uint8_t)i;
    memset(&m, 0, sizeof(m));
    m.type = KULA_MSG_CHUNK;
    m.u.chunk.height = 1000;
    wire_vector(&vf, "chunk-none", "total 0 and no data: the sender keeps no copy of the state "
                "at height 1000.", &m, NULL);
    m.u.chunk.index = 1;
    m.u.chunk.total = 3;
    m.u.chunk.data = piece;
    m.u.chunk.len = sizeof(piece);
    wire_vector(&vf, "chunk", "Piece 1 of 3 of the copy of the state at height 1000: 40 "
                "placeholder bytes 00 01 ... 27.", &m, &chunk);
    m.u.chunk.height = UINT64_MAX;
    m.u.chunk.index = UINT32_MAX;
    m.u.chunk.total = UINT32_MAX;
    m.u.chunk.len = 1;
    wire_vector(&vf, "chunk-largest-values", "height 2^64-1, index and total 2^32-1, one byte "
                "of data.", &m, NULL);

    kula_buf tx_batch, items;
    kula_buf_init(&items);
    {
        kula_writer iw;
        kula_writer_init(&iw, &items);
        kula_w_bin(&iw, transfer->bytes.data, transfer->bytes.len);
        size_t first = items.len;
        kula_w_bin(&iw, exchange->bytes.data, exchange->bytes.len);
        memset(&m, 0, sizeof(m));
        m.type = KULA_MSG_TX_BATCH;
        m.u.tx_batch.n = 2;
        m.u.tx_batch.items = items.data;
        m.u.tx_batch.len = items.len;
        wire_vector(&vf, "tx-batch", "Two transactions, tx_transfer.json 'basic' and "
                    "tx_exchange.json 'basic': a list of their bins.", &m, &tx_batch);
        m.u.tx_batch.n = 1;
        m.u.tx_batch.len = first;
        wire_vector(&vf, "tx-batch-one", "One transaction, tx_transfer.json 'basic' (the message "
                    "TX is the same transaction, 92 02 and its bin).", &m, NULL);
    }

    /* ---- invalid ---- */
    mnode *x;
    wire_invalid_hex(&vf, "type-0", "9100", KULA_EVERSION, "message type 0 is unknown");
    wire_invalid_hex(&vf, "type-15", "910f", KULA_EVERSION, "message type 15 is unknown");
    wire_invalid_hex(&vf, "type-15-with-fields", "930f0102", KULA_EVERSION,
                     "a later message type with more fields: the type is checked before the "
                     "element count");
    wire_invalid_hex(&vf, "type-negative", "91ff", KULA_ERANGE, "message type -1");
    wire_invalid_hex(&vf, "type-as-str", "91a107", KULA_ETYPE, "the type as text");
    wire_invalid_hex(&vf, "type-noncanonical", "91cc07", KULA_ENONCANON,
                     "GET_PEERS with its type 7 as uint8 (cc 07)");
    wire_invalid_hex(&vf, "empty-array", "90", KULA_EARITY, "no type");
    wire_invalid_hex(&vf, "nine-elements", "990700000000000000", KULA_ETOOBIG,
                     "an array of 9 elements (no message has more than 8)");
    wire_invalid_hex(&vf, "not-an-array", "07", KULA_ETYPE, "a bare integer");
    wire_invalid_hex(&vf, "map", "810701", KULA_ETYPE, "a map {7: 1}");
    wire_invalid_hex(&vf, "empty", "", KULA_ETRUNC, "no bytes at all");
    wire_invalid_hex(&vf, "get-peers-arity-2", "9207c0", KULA_EARITY, "GET_PEERS with a field");
    wire_invalid_hex(&vf, "array-header-noncanonical", "dc000107", KULA_ENONCANON,
                     "GET_PEERS with an array16 header");
    {
        kula_buf t;
        kula_buf_init(&t);
        kula_buf_append(&t, getpeers.data, getpeers.len);
        kula_buf_append(&t, "\xc0", 1);
        vf_invalid(&vf, "trailing-byte", t.data, t.len, KULA_ETRAILING, "nil after GET_PEERS");
        kula_buf_reset(&t);
        kula_buf_append(&t, status.data, status.len);
        kula_buf_append(&t, "\x00", 1);
        vf_invalid(&vf, "status-trailing-byte", t.data, t.len, KULA_ETRAILING,
                   "00 after STATUS");
        kula_buf_free(&t);
    }
    wire_invalid_hex(&vf, "tx-batch-empty", "920e90", KULA_ERANGE,
                     "TX_BATCH without a transaction");
    wire_invalid_hex(&vf, "tx-batch-empty-tx", "920e91c400", KULA_ERANGE,
                     "TX_BATCH holding an empty bin");
    wire_invalid_hex(&vf, "tx-batch-1025", "920edc0401", KULA_ETOOBIG,
                     "a list header of 1025 transactions (KULA_MAX_TX_BATCH is 1024), refused "
                     "from the header; the transactions left out");
    wire_invalid_hex(&vf, "tx-batch-over-limit", "920e91c600100001", KULA_ETOOBIG,
                     "a bin header of 2^20 + 1 bytes (KULA_MAX_TX_BYTES is 2^20); bytes left out");
    wire_invalid_hex(&vf, "tx-batch-not-bin", "920e9190", KULA_ETYPE,
                     "an array where a transaction's bin belongs");
    wire_invalid_hex(&vf, "tx-batch-not-list", "920ec401aa", KULA_ETYPE,
                     "a bin where the list of transactions belongs");
    wire_invalid_hex(&vf, "tx-batch-arity-3", "930e91c401aac0", KULA_EARITY,
                     "TX_BATCH with a third field");
    wire_invalid_hex(&vf, "tx-batch-list-noncanonical", "920edc0001c401aa", KULA_ENONCANON,
                     "a list of one transaction with an array16 header");
    vf_invalid(&vf, "tx-batch-truncated", tx_batch.data, tx_batch.len - 1, KULA_ETRUNC,
               "TX_BATCH without the last byte of its second transaction");
    vf_invalid(&vf, "tx-truncated", tx.data, tx.len - 1, KULA_ETRUNC,
               "TX without the last byte of its transaction");
    vf_invalid(&vf, "status-truncated", status.data, status.len - 1, KULA_ETRUNC,
               "STATUS without the last byte of its listen port");

    x = m_from(status.data, status.len);
    m_drop(x);
    vf_invalid_m(&vf, "status-arity-3", x, KULA_EARITY, "STATUS without its listen port field");
    x = m_from(status.data, status.len);
    m_append(x, r_uint(0));
    vf_invalid_m(&vf, "status-arity-5", x, KULA_EARITY, "STATUS with a fifth field");
    x = m_from(status.data, status.len);
    m_set(m_at(x, "1"), raw_hex("cc03"));
    vf_invalid_m(&vf, "status-height-noncanonical", x, KULA_ENONCANON, "height 3 as uint8");
    x = m_from(status.data, status.len);
    m_set(m_at(x, "3"), raw_hex("cd0050"));
    vf_invalid_m(&vf, "status-port-noncanonical", x, KULA_ENONCANON, "listen port 80 as uint16");
    x = m_from(status.data, status.len);
    m_set(m_at(x, "3"), r_uint(65536));
    vf_invalid_m(&vf, "status-port-65536", x, KULA_ERANGE, "listen port above 65535");
    x = m_from(status.data, status.len);
    m_set(m_at(x, "2"), r_bin(C.hash[3].b, 31));
    vf_invalid_m(&vf, "status-tip-31-bytes", x, KULA_ERANGE, "a 31-byte tip hash");
    {
        uint8_t t33[33] = { 0 };
        x = m_from(status.data, status.len);
        m_set(m_at(x, "2"), r_bin(t33, 33));
        vf_invalid_m(&vf, "status-tip-33-bytes", x, KULA_ETOOBIG, "a 33-byte tip hash");
    }
    x = m_from(status.data, status.len);
    m_set(m_at(x, "2"), r_nil());
    vf_invalid_m(&vf, "status-tip-nil", x, KULA_ETYPE, "the tip at height 0 is 32 zero bytes, "
                 "not nil");

    x = m_from(tx.data, tx.len);
    m_set(m_at(x, "1"), r_bin(NULL, 0));
    vf_invalid_m(&vf, "tx-empty", x, KULA_ERANGE, "TX with an empty bin");
    x = m_from(tx.data, tx.len);
    m_set(m_at(x, "1"), raw_hex("c600100001"));
    vf_invalid_m(&vf, "tx-over-limit", x, KULA_ETOOBIG,
                 "a bin header of 2^20 + 1 bytes (KULA_MAX_TX_BYTES is 2^20); bytes left out");
    x = m_from(tx.data, tx.len);
    m_append(x, r_nil());
    vf_invalid_m(&vf, "tx-arity-3", x, KULA_EARITY, "TX with a third field");
    {
        /* The transaction itself, unwrapped: an array where a bin belongs. */
        kula_buf t;
        kula_buf_init(&t);
        kula_buf_append(&t, "\x92\x02", 2);
        kula_buf_append(&t, transfer->bytes.data, transfer->bytes.len);
        vf_invalid(&vf, "tx-not-bin", t.data, t.len, KULA_ETYPE,
                   "the transaction as an array instead of a bin holding it");
        kula_buf_free(&t);
    }
    {
        /* c4 n -> c5 00 n: the same bytes with a longer length header. */
        kula_buf t;
        kula_buf_init(&t);
        if (transfer->bytes.len > 0xff)
            die("wire.json: tx_transfer basic is longer than 255 bytes");
        uint8_t h[5] = { 0x92, 0x02, 0xc5, 0x00, (uint8_t)transfer->bytes.len };
        kula_buf_append(&t, h, sizeof(h));
        kula_buf_append(&t, transfer->bytes.data, transfer->bytes.len);
        vf_invalid(&vf, "tx-bin-header-noncanonical", t.data, t.len, KULA_ENONCANON,
                   "the transaction's bin with a bin16 length header (c5 00 n)");
        kula_buf_free(&t);
    }

    wire_invalid_hex(&vf, "vote-over-limit", "9204c50101", KULA_ETOOBIG,
                     "a vote bin header of 257 bytes (KULA_MAX_VOTE_BYTES is 256); bytes left "
                     "out");
    wire_invalid_hex(&vf, "vote-nil", "9204c0", KULA_ETYPE, "VOTE with nil");
    wire_invalid_hex(&vf, "proposal-over-limit", "9303c50201", KULA_ETOOBIG,
                     "a proposal bin header of 513 bytes (KULA_MAX_PROPOSAL_BYTES is 512); "
                     "bytes left out");
    wire_invalid_hex(&vf, "proposal-empty", "9303c400c40101", KULA_ERANGE,
                     "PROPOSAL with an empty proposal");
    wire_invalid_hex(&vf, "proposal-block-over-limit", "9303c40101c601000001", KULA_ETOOBIG,
                     "a block bin header of 2^24 + 1 bytes (KULA_MAX_BLOCK_BYTES is 2^24); "
                     "bytes left out");
    wire_invalid_hex(&vf, "evidence-empty-vote", "9309c40101c400", KULA_ERANGE,
                     "EVIDENCE whose second vote is an empty bin");
    wire_invalid_hex(&vf, "evidence-arity-2", "9209c40101", KULA_EARITY,
                     "EVIDENCE with one vote");

    x = m_from(get_blocks.data, get_blocks.len);
    m_set(m_at(x, "2"), r_uint(0));
    vf_invalid_m(&vf, "get-blocks-count-0", x, KULA_ERANGE, "count 0 (1 ... 64)");
    x = m_from(get_blocks.data, get_blocks.len);
    m_set(m_at(x, "2"), r_uint(KULA_MAX_GET_BLOCKS + 1));
    vf_invalid_m(&vf, "get-blocks-count-65", x, KULA_ERANGE, "count 65 (1 ... 64)");
    x = m_from(get_blocks.data, get_blocks.len);
    m_set(m_at(x, "1"), r_uint(0));
    vf_invalid_m(&vf, "get-blocks-from-0", x, KULA_ERANGE, "from 0: the genesis is no block");
    x = m_from(get_blocks.data, get_blocks.len);
    m_set(m_at(x, "2"), raw_hex("cc40"));
    vf_invalid_m(&vf, "get-blocks-count-noncanonical", x, KULA_ENONCANON, "count 64 as uint8");
    x = m_from(get_blocks.data, get_blocks.len);
    m_set(m_at(x, "1"), r_int(-1));
    vf_invalid_m(&vf, "get-blocks-from-negative", x, KULA_ERANGE, "from -1");

    x = m_from(block.data, block.len);
    m_set(m_at(x, "1"), r_uint(0));
    vf_invalid_m(&vf, "block-height-0", x, KULA_ERANGE, "BLOCK at height 0");
    x = m_from(block.data, block.len);
    m_set(m_at(x, "3"), r_bin(NULL, 0));
    vf_invalid_m(&vf, "block-empty-commit", x, KULA_ERANGE, "BLOCK with an empty commit");
    x = m_from(block.data, block.len);
    m_set(m_at(x, "3"), r_nil());
    vf_invalid_m(&vf, "block-commit-nil", x, KULA_ETYPE, "BLOCK with a nil commit");
    x = m_from(block.data, block.len);
    m_set(m_at(x, "3"), raw_hex("c55081"));
    vf_invalid_m(&vf, "block-commit-over-limit", x, KULA_ETOOBIG,
                 "a commit bin header of 20609 bytes (KULA_MAX_COMMIT_BYTES is 20608); bytes "
                 "left out");
    x = m_from(block.data, block.len);
    m_drop(x);
    vf_invalid_m(&vf, "block-arity-3", x, KULA_EARITY, "BLOCK without a commit");

    x = m_from(peers.data, peers.len);
    m_set(m_at(x, "1.0.0"), raw_hex("c4057f00000101"));
    vf_invalid_m(&vf, "peers-ip-5-bytes", x, KULA_ERANGE, "an ip of 5 bytes (4 or 16)");
    x = m_from(peers.data, peers.len);
    m_set(m_at(x, "1.1.0"), raw_hex("c400"));
    vf_invalid_m(&vf, "peers-ip-empty", x, KULA_ERANGE, "an empty ip");
    x = m_from(peers.data, peers.len);
    m_set(m_at(x, "1.1.0"), raw_hex("c41120010db800000000000000000000000001"));
    vf_invalid_m(&vf, "peers-ip-17-bytes", x, KULA_ETOOBIG, "an ip of 17 bytes");
    x = m_from(peers.data, peers.len);
    m_set(m_at(x, "1.2.1"), r_uint(0));
    vf_invalid_m(&vf, "peers-port-0", x, KULA_ERANGE, "port 0 (1 ... 65535)");
    x = m_from(peers.data, peers.len);
    m_set(m_at(x, "1.2.1"), r_uint(65536));
    vf_invalid_m(&vf, "peers-port-65536", x, KULA_ERANGE, "port 65536");
    x = m_from(peers.data, peers.len);
    m_append(m_at(x, "1.0"), r_nil());
    vf_invalid_m(&vf, "peers-entry-arity-3", x, KULA_EARITY, "an address [ip, port, nil]");
    x = m_from(peers.data, peers.len);
    m_set(m_at(x, "1.0.0"), r_str("127.0.0.1"));
    vf_invalid_m(&vf, "peers-ip-as-str", x, KULA_ETYPE, "an ip as text");
    wire_invalid_hex(&vf, "peers-33", "9208dc0021", KULA_ETOOBIG,
                     "an address list header of 33 entries (KULA_MAX_PEER_ADDRS is 32); entries "
                     "left out");
    x = m_from(evidence.data, evidence.len);
    m_set(m_at(x, "1"), raw_hex("c50101"));
    vf_invalid_m(&vf, "evidence-vote-over-limit", x, KULA_ETOOBIG,
                 "vote_a with a bin header of 257 bytes (KULA_MAX_VOTE_BYTES is 256), its "
                 "bytes left out");

    x = m_from(get_snapshots.data, get_snapshots.len);
    m_set(m_at(x, "1"), r_uint(0));
    vf_invalid_m(&vf, "get-snapshots-from-0", x, KULA_ERANGE,
                 "from 0: the genesis is never a snapshot height");
    x = m_from(get_snapshots.data, get_snapshots.len);
    m_set(m_at(x, "1"), r_int(-1));
    vf_invalid_m(&vf, "get-snapshots-from-negative", x, KULA_ERANGE, "from -1");
    x = m_from(get_snapshots.data, get_snapshots.len);
    m_append(x, r_uint(1));
    vf_invalid_m(&vf, "get-snapshots-arity-3", x, KULA_EARITY, "GET_SNAPSHOTS with a third field");

    wire_invalid_hex(&vf, "snapshots-17", "920bdc0011", KULA_ETOOBIG,
                     "an item list header of 17 entries (KULA_MAX_SNAPSHOT_ITEMS is 16); items "
                     "left out");
    x = m_from(snapshots.data, snapshots.len);
    m_set(m_at(x, "1.1"), r_bin(NULL, 0));
    vf_invalid_m(&vf, "snapshots-empty-item", x, KULA_ERANGE,
                 "an empty item: an item carries a structure");
    x = m_from(snapshots.data, snapshots.len);
    m_set(m_at(x, "1.0"), raw_hex("c600010001"));
    vf_invalid_m(&vf, "snapshots-item-over-limit", x, KULA_ETOOBIG,
                 "an item bin header of 65537 bytes (KULA_MAX_SNAPSHOT_ITEM_BYTES is 65536); "
                 "bytes left out");
    x = m_from(snapshots.data, snapshots.len);
    m_set(m_at(x, "1.0"), r_nil());
    vf_invalid_m(&vf, "snapshots-item-nil", x, KULA_ETYPE, "an item nil");
    x = m_from(snapshots.data, snapshots.len);
    m_header(m_at(x, "1"), raw_hex("dc0002"));
    vf_invalid_m(&vf, "snapshots-list-noncanonical", x, KULA_ENONCANON,
                 "the list of 2 items with an array16 header");

    x = m_from(get_chunk.data, get_chunk.len);
    m_set(m_at(x, "1"), r_uint(0));
    vf_invalid_m(&vf, "get-chunk-height-0", x, KULA_ERANGE, "GET_CHUNK at height 0");
    x = m_from(get_chunk.data, get_chunk.len);
    m_set(m_at(x, "2"), r_uint(UINT64_C(1) << 32));
    vf_invalid_m(&vf, "get-chunk-index-4294967296", x, KULA_ERANGE, "index 2^32 (0 ... 2^32-1)");
    x = m_from(get_chunk.data, get_chunk.len);
    m_drop(x);
    vf_invalid_m(&vf, "get-chunk-arity-2", x, KULA_EARITY, "GET_CHUNK without its index");

    x = m_from(chunk.data, chunk.len);
    m_set(m_at(x, "1"), r_uint(0));
    vf_invalid_m(&vf, "chunk-height-0", x, KULA_ERANGE, "CHUNK at height 0");
    x = m_from(chunk.data, chunk.len);
    m_set(m_at(x, "3"), r_uint(UINT64_C(1) << 32));
    vf_invalid_m(&vf, "chunk-total-4294967296", x, KULA_ERANGE, "total 2^32 (0 ... 2^32-1)");
    x = m_from(chunk.data, chunk.len);
    m_set(m_at(x, "4"), raw_hex("c600100001"));
    vf_invalid_m(&vf, "chunk-data-over-limit", x, KULA_ETOOBIG,
                 "a data bin header of 2^20 + 1 bytes (KULA_SNAPSHOT_CHUNK_BYTES is 2^20); "
                 "bytes left out");
    x = m_from(chunk.data, chunk.len);
    m_set(m_at(x, "4"), r_nil());
    vf_invalid_m(&vf, "chunk-data-nil", x, KULA_ETYPE, "no data is an empty bin, not nil");
    x = m_from(chunk.data, chunk.len);
    m_drop(x);
    vf_invalid_m(&vf, "chunk-arity-4", x, KULA_EARITY, "CHUNK without its data");

    vf_close(&vf);
    kula_buf_free(&get_snapshots);
    kula_buf_free(&snapshots);
    kula_buf_free(&get_chunk);
    kula_buf_free(&chunk);
    kula_buf_free(&tx_batch);
    kula_buf_free(&items);
    kula_buf_free(&status);
    kula_buf_free(&tx);
    kula_buf_free(&get_blocks);
    kula_buf_free(&peers);
    kula_buf_free(&block);
    kula_buf_free(&evidence);
    kula_buf_free(&getpeers);
    kula_buf_free(&pbytes);
    kula_buf_free(&va);
    kula_buf_free(&vb);
    kula_buf_free(&cb[1]);
    kula_buf_free(&cb[3]);
}

/* ---- end of wire.json ---- */

/* ---- proposals (SPEC §7.3) ---- */

static json_t *proposal_fields(const kula_block_proposal *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(KULA_PROPOSAL_VERSION));
    json_object_set_new(o, "height", kula_json_u64(p->height));
    json_object_set_new(o, "round", json_integer(p->round));
    json_object_set_new(o, "pol_round", json_integer(p->pol_round));
    json_object_set_new(o, "block_hash", vj_hash(&p->block_hash));
    json_object_set_new(o, "proposer", json_integer(p->proposer));
    return o;
}

static void proposal_vector(vfile *vf, const char *name, const char *description,
                            uint64_t height, uint32_t round, int64_t pol,
                            const kula_hash *block, uint32_t proposer, kula_block_proposal *out)
{
    kula_block_proposal p;
    memset(&p, 0, sizeof(p));
    p.height = height;
    p.round = round;
    p.pol_round = pol;
    p.block_hash = *block;
    p.proposer = proposer;
    kula_hash sighash;
    kula_block_proposal_sighash(&sighash, &chain_id, &p);
    sign(&p.sig, proposer, &sighash);
    kula_buf b, body;
    kula_buf_init(&b);
    kula_buf_init(&body);
    if (kula_block_proposal_encode(&b, &p) != 0 || kula_block_proposal_encode_body(&body, &p) != 0)
        die("proposal %s does not encode", name);
    json_t *x = vf_valid(vf, name, description, proposal_fields(&p), b.data, b.len);
    json_object_set_new(x, "body_hex", vj_hex(body.data, body.len));
    json_t *signers = json_array();
    json_array_append_new(signers, signer_json(proposer, proposer, &sighash, &p.sig));
    json_object_set_new(x, "signers", signers);
    kula_buf_free(&b);
    kula_buf_free(&body);
    if (out != NULL)
        *out = p;
}

static void proposal_badsig(vfile *vf, const kula_block_proposal *p, const char *name,
                            const uint8_t tag[KULA_TAG_LEN], const kula_hash *chain,
                            const char *why)
{
    kula_block_proposal bad = *p;
    kula_hash right, wrong;
    kula_block_proposal_sighash(&right, &chain_id, p);
    kula_buf body;
    kula_buf_init(&body);
    kula_block_proposal_encode_body(&body, p);
    kula_signing_digest(&wrong, tag, chain, body.data, body.len);
    kula_buf_free(&body);
    sign(&bad.sig, p->proposer, &wrong);
    json_t *signers = json_array();
    json_array_append_new(signers, badsigner_json(p->proposer, p->proposer, &right, tag, chain,
                                                  &wrong, &bad.sig));
    kula_buf b;
    kula_buf_init(&b);
    kula_block_proposal_encode(&b, &bad);
    vf_badsig(vf, name, b.data, b.len, signers, why);
    kula_buf_free(&b);
}

static void gen_proposal(void)
{
    vfile vf;
    kula_block_proposal first;
    vf_open(&vf, "proposal.json", "proposal", NULL,
            "Consensus block proposal (SPEC §7.3): [[version, height, round, pol_round, "
            "block_hash, proposer], sig]; version 1; pol_round is -1 (negative fixint ff) for "
            "none, else 0 <= pol_round < round; block_hash is always 32 bytes. sig is BIP-340 "
            "over BLAKE2b-256(\"kula/proposal/v1\" || chain id || body) (body_hex). Proposals "
            "carry no text, so there are no EUTF8 vectors.",
            "fuzz_proposal", dec_proposal);
    proposal_vector(&vf, "proposal", "Validator 2 proposes block 1 at height 1, round 0, "
                    "without a proof of lock (pol_round -1).", 1, 0, -1, &C.hash[1], 2, &first);
    proposal_vector(&vf, "pol-round", "Validator 3 re-proposes block 2 at height 2, round 3, "
                    "locked by the prevotes of round 1.", 2, 3, 1, &C.hash[2], 3, NULL);
    proposal_vector(&vf, "largest-values", "height 2^64-1, round 2^32-1, pol_round 2^32-2.",
                    UINT64_MAX, UINT32_MAX, (int64_t)UINT32_MAX - 1, &C.hash[2], 1, NULL);

    kula_buf b;
    kula_buf_init(&b);
    kula_block_proposal_encode(&b, &first);
    const uint8_t *p = b.data;
    size_t n = b.len;
    uint8_t h33[65] = { 0 };
    mnode *m;
    m = m_from(p, n);
    m_set(m_at(m, "0.1"), raw_hex("cc01"));
    vf_invalid_m(&vf, "height-noncanonical-uint8", m, KULA_ENONCANON, "height 1 as uint8 (cc 01)");
    m = m_from(p, n);
    m_set(m_at(m, "0.3"), raw_hex("d0ff"));
    vf_invalid_m(&vf, "pol-round-noncanonical-int8", m, KULA_ENONCANON,
                 "pol_round -1 as int8 (d0 ff) instead of the negative fixint ff");
    {
        kula_buf x;
        kula_buf_init(&x);
        kula_buf_append(&x, p, n);
        kula_buf_append(&x, "\x00", 1);
        vf_invalid(&vf, "trailing-byte", x.data, x.len, KULA_ETRAILING, "00 after the proposal");
        kula_buf_free(&x);
    }
    vf_invalid(&vf, "truncated", p, n - 1, KULA_ETRUNC, "the last byte is missing");
    m = m_from(p, n);
    m_set(m_at(m, "0.4"), r_bin(h33, 33));
    vf_invalid_m(&vf, "block-hash-33-bytes", m, KULA_ETOOBIG, "a 33-byte block hash (limit 32)");
    m = m_from(p, n);
    m_set(m_at(m, "0.4"), r_bin(h33, 0));
    vf_invalid_m(&vf, "block-hash-empty", m, KULA_ERANGE,
                 "an empty block hash: a proposal is always for a block");
    m = m_from(p, n);
    m_set(m_at(m, "0.3"), r_uint(0));
    vf_invalid_m(&vf, "pol-round-equals-round", m, KULA_ERANGE,
                 "pol_round 0 in round 0: the proof of lock must be of an earlier round");
    m = m_from(p, n);
    m_set(m_at(m, "0.3"), r_int(-2));
    vf_invalid_m(&vf, "pol-round-minus-2", m, KULA_ERANGE, "pol_round -2");
    m = m_from(p, n);
    m_set(m_at(m, "0.3"), r_nil());
    vf_invalid_m(&vf, "pol-round-nil", m, KULA_ETYPE, "no proof of lock is -1, not nil");
    m = m_from(p, n);
    m_set(m_at(m, "0.0"), r_uint(2));
    vf_invalid_m(&vf, "version-2", m, KULA_EVERSION, "body version 2");
    m = m_from(p, n);
    m_append(m_at(m, "0"), r_nil());
    vf_invalid_m(&vf, "body-arity-7", m, KULA_EARITY, "a seventh body field");
    m = m_from(p, n);
    m_append(m, r_nil());
    vf_invalid_m(&vf, "arity-3", m, KULA_EARITY, "[body, sig, nil]");
    m = m_from(p, n);
    m_set(m_at(m, "1"), r_bin(h33, 65));
    vf_invalid_m(&vf, "signature-65-bytes", m, KULA_ETOOBIG, "a 65-byte signature");
    proposal_badsig(&vf, &first, "wrong-tag", KULA_TAG_VOTE, &chain_id,
                    "signed under the vote tag \"kula/vote/v1\"");
    proposal_badsig(&vf, &first, "wrong-chain-id", KULA_TAG_PROPOSAL, &other_chain_id,
                    "signed under the chain id of genesis vector single-validator-dev");
    vf_close(&vf);
    kula_buf_free(&b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s REPOSITORY-ROOT\n", argv[0]);
        return 2;
    }
    root_dir = argv[1];
    if (kula_crypto_init() != 0)
        die("crypto init");
    make_keys();
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/proto/vectors", root_dir);
    mkdirs(dir);

    known_ids ids;
    memset(&ids, 0, sizeof(ids));
    txv *transfer, *exchange, *referral;
    gen_genesis();
    gen_transfer(&transfer);
    gen_exchange(&exchange);
    gen_open(&ids);
    gen_referral(&referral, &ids);
    gen_conversion(&ids);
    gen_amend(&ids);
    gen_contribute(&ids);
    gen_benefit(&ids);
    gen_settle_close(&ids);
    gen_feedback();
    gen_propose(&ids);
    gen_vote_tx(&ids);
    gen_evidence();
    gen_invoices();
    gen_clearing_settle();
    gen_dated(&ids);
    build_chain(transfer, exchange, referral);
    gen_header();
    gen_vote();
    gen_proposal();
    gen_commit();
    gen_block();
    gen_wire(transfer, exchange);
    seed("fuzz_codec", "block-2", C.block[2].data, C.block[2].len);
    seed("fuzz_codec", "tx-transfer", transfer->bytes.data, transfer->bytes.len);
    seed("fuzz_codec", "tx-exchange", exchange->bytes.data, exchange->bytes.len);
    return 0;
}
