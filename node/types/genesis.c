/* genesis.c -- GENESIS.json parsing, validation and canonical encoding. */
#include "kula/types/genesis.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kula/base/error.h"

/* Says in e what is wrong with the genesis.  Returns: KULA_EGENESIS. */
#define fail(e, ...) kula_error_set((e), KULA_EGENESIS, __VA_ARGS__)

/* ---- parameters ---- */

/* One table: id, JSON name, bounds.  proto/SPEC.md §8.2 lists the same. */
static const struct {
    const char *name;
    int64_t min, max;
} param_spec[KULA_PARAM_COUNT + 1] = {
    [KULA_PARAM_DEFAULT_CREDIT_LIMIT] = { "default_credit_limit", 0, INT64_MAX / 4 },
    [KULA_PARAM_THRESHOLD_NUM] = { "threshold_num", 1, 999 },
    [KULA_PARAM_THRESHOLD_DEN] = { "threshold_den", 2, 1000 },
    [KULA_PARAM_PROPOSAL_TTL] = { "proposal_ttl_blocks", 1, 10000000 },
    [KULA_PARAM_BLOCK_INTERVAL_MS] = { "block_interval_ms", 10, 600000 },
    [KULA_PARAM_TIMEOUT_PROPOSE_MS] = { "timeout_propose_ms", 10, 600000 },
    [KULA_PARAM_TIMEOUT_VOTE_MS] = { "timeout_vote_ms", 10, 600000 },
    [KULA_PARAM_TIMEOUT_DELTA_MS] = { "timeout_delta_ms", 0, 600000 },
    [KULA_PARAM_MAX_BLOCK_TXS] = { "max_block_txs", 1, KULA_MAX_BLOCK_TXS },
    [KULA_PARAM_CLEARING_INTERVAL] = { "clearing_interval_blocks", 0, 10000000 },
    [KULA_PARAM_SNAPSHOT_INTERVAL] = { "snapshot_interval_blocks", 0, 10000000 },
};

const char *kula_param_name(uint32_t id)
{
    if (id < 1 || id > KULA_PARAM_COUNT)
        return NULL;
    return param_spec[id].name;
}

int kula_params_get(const kula_params *p, uint32_t id, int64_t *value)
{
    switch ((enum kula_param_id)id) {
    case KULA_PARAM_DEFAULT_CREDIT_LIMIT: *value = p->default_credit_limit; return 0;
    case KULA_PARAM_THRESHOLD_NUM: *value = p->threshold_num; return 0;
    case KULA_PARAM_THRESHOLD_DEN: *value = p->threshold_den; return 0;
    case KULA_PARAM_PROPOSAL_TTL: *value = (int64_t)p->proposal_ttl; return 0;
    case KULA_PARAM_BLOCK_INTERVAL_MS: *value = p->block_interval_ms; return 0;
    case KULA_PARAM_TIMEOUT_PROPOSE_MS: *value = p->timeout_propose_ms; return 0;
    case KULA_PARAM_TIMEOUT_VOTE_MS: *value = p->timeout_vote_ms; return 0;
    case KULA_PARAM_TIMEOUT_DELTA_MS: *value = p->timeout_delta_ms; return 0;
    case KULA_PARAM_MAX_BLOCK_TXS: *value = p->max_block_txs; return 0;
    case KULA_PARAM_CLEARING_INTERVAL: *value = (int64_t)p->clearing_interval; return 0;
    case KULA_PARAM_SNAPSHOT_INTERVAL: *value = (int64_t)p->snapshot_interval; return 0;
    }
    return KULA_EPARAM;
}

/* Parameter id of p, for an id in 1..KULA_PARAM_COUNT: every such id
 * exists, so kula_params_get cannot fail. */
static int64_t param_value(const kula_params *p, uint32_t id)
{
    int64_t v = 0;
    kula_result_ignored(kula_params_get(p, id, &v));
    return v;
}

static void params_put(kula_params *p, uint32_t id, int64_t v)
{
    switch ((enum kula_param_id)id) {
    case KULA_PARAM_DEFAULT_CREDIT_LIMIT: p->default_credit_limit = v; return;
    case KULA_PARAM_THRESHOLD_NUM: p->threshold_num = (uint32_t)v; return;
    case KULA_PARAM_THRESHOLD_DEN: p->threshold_den = (uint32_t)v; return;
    case KULA_PARAM_PROPOSAL_TTL: p->proposal_ttl = (uint64_t)v; return;
    case KULA_PARAM_BLOCK_INTERVAL_MS: p->block_interval_ms = (uint32_t)v; return;
    case KULA_PARAM_TIMEOUT_PROPOSE_MS: p->timeout_propose_ms = (uint32_t)v; return;
    case KULA_PARAM_TIMEOUT_VOTE_MS: p->timeout_vote_ms = (uint32_t)v; return;
    case KULA_PARAM_TIMEOUT_DELTA_MS: p->timeout_delta_ms = (uint32_t)v; return;
    case KULA_PARAM_MAX_BLOCK_TXS: p->max_block_txs = (uint32_t)v; return;
    case KULA_PARAM_CLEARING_INTERVAL: p->clearing_interval = (uint64_t)v; return;
    case KULA_PARAM_SNAPSHOT_INTERVAL: p->snapshot_interval = (uint64_t)v; return;
    }
}

int kula_params_validate(const kula_params *p, kula_error *e)
{
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++) {
        int64_t v = param_value(p, id);
        if (v < param_spec[id].min || v > param_spec[id].max) {
            return kula_error_set(e, KULA_EPARAM, "%s: %lld is outside [%lld, %lld]",
                                  param_spec[id].name, (long long)v,
                                  (long long)param_spec[id].min, (long long)param_spec[id].max);
        }
    }
    /* A proposal must need at least half of the active members and be
     * passable at all: 1/2 <= num/den < 1. */
    if ((uint64_t)p->threshold_num * 2 < p->threshold_den || p->threshold_num >= p->threshold_den) {
        return kula_error_set(e, KULA_EPARAM,
                              "governance threshold %u/%u must be at least 1/2 and below 1",
                              p->threshold_num, p->threshold_den);
    }
    return KULA_OK;
}

int kula_params_set(kula_params *p, uint32_t id, int64_t value)
{
    if (id < 1 || id > KULA_PARAM_COUNT)
        return KULA_EPARAM;
    kula_params next = *p;
    params_put(&next, id, value);
    if (param_value(&next, id) != value || kula_params_validate(&next, NULL) != 0)
        return KULA_EPARAM;
    *p = next;
    return KULA_OK;
}

uint32_t kula_params_encoded_count(const kula_params *p)
{
    uint32_t n = KULA_PARAM_COUNT;
    while (n > KULA_PARAM_COUNT_BASE && param_value(p, n) == 0)
        n--;
    return n;
}

int kula_params_assign(kula_params *p, const int64_t *vals)
{
    kula_params next;
    memset(&next, 0, sizeof(next));
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++) {
        if (vals[id - 1] < param_spec[id].min || vals[id - 1] > param_spec[id].max)
            return KULA_EPARAM;
        params_put(&next, id, vals[id - 1]);
    }
    if (kula_params_validate(&next, NULL) != 0)
        return KULA_EPARAM;
    *p = next;
    return KULA_OK;
}

/* ---- time ---- */

int kula_parse_utc(const char *s, uint64_t *ms)
{
    /* Exactly YYYY-MM-DDTHH:MM:SSZ: every digit where a digit belongs. */
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (s == NULL || strlen(s) != 20)
        return KULA_EINVAL;
    for (size_t i = 0; i < 20; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return KULA_EINVAL;
    int Y, M, D, h, m, sec;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &Y, &M, &D, &h, &m, &sec) != 6)
        return KULA_EINVAL;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 59 ||
        h < 0 || m < 0 || sec < 0)
        return KULA_EINVAL;
    struct tm tm = { 0 };
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    /* timegm normalises 31 February to March; reject such dates. */
    if (t == (time_t)-1 || tm.tm_mday != D || tm.tm_mon != M - 1)
        return KULA_EINVAL;
    *ms = (uint64_t)t * 1000;
    return KULA_OK;
}

void kula_format_utc(char *buf, size_t len, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- validation ---- */

static const kula_genesis *sort_g;
static int sort_by_key;

static int cmp_members(const void *a, const void *b)
{
    const kula_genesis_member *x = &sort_g->members[*(const uint32_t *)a];
    const kula_genesis_member *y = &sort_g->members[*(const uint32_t *)b];
    int c = sort_by_key ? memcmp(x->pubkey.b, y->pubkey.b, KULA_PUBKEY_LEN)
                        : strcmp(x->name, y->name);
    if (c != 0)
        return c;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    return i < j ? -1 : i > j;
}

/* Duplicate keys or names, found by sorting (O(n log n) for large networks).
 * Reports the later member of the first duplicate pair in file order. */
static int find_duplicates(const kula_genesis *g, kula_error *e)
{
    uint32_t *idx = malloc(g->nmembers * sizeof(*idx));
    if (idx == NULL)
        return kula_error_set(e, KULA_ENOMEM, "out of memory checking the members");
    int rc = KULA_OK;
    for (int pass = 1; pass >= 0 && rc == KULA_OK; pass--) {
        for (uint32_t i = 0; i < g->nmembers; i++)
            idx[i] = i;
        sort_g = g;
        sort_by_key = pass;
        qsort(idx, g->nmembers, sizeof(*idx), cmp_members);
        uint32_t best_i = UINT32_MAX, best_j = 0;
        for (uint32_t k = 1; k < g->nmembers; k++) {
            const kula_genesis_member *x = &g->members[idx[k - 1]], *y = &g->members[idx[k]];
            bool same = pass ? memcmp(x->pubkey.b, y->pubkey.b, KULA_PUBKEY_LEN) == 0
                             : strcmp(x->name, y->name) == 0;
            if (same && idx[k] < best_i) {
                best_i = idx[k];
                best_j = idx[k - 1];
            }
        }
        if (best_i != UINT32_MAX)
            rc = fail(e, "members[%u].%s: duplicate of members[%u]", best_i,
                      pass ? "pubkey" : "name", best_j);
    }
    free(idx);
    return rc;
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !kula_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int kula_genesis_validate(const kula_genesis *g, kula_error *e)
{
    kula_error perr;
    if (!text_ok(g->network, KULA_MAX_NETWORK_NAME))
        return fail(e, "network: must be 1-%u bytes of printable UTF-8",
                    KULA_MAX_NETWORK_NAME);
    if (!text_ok(g->unit, KULA_MAX_UNIT_NAME))
        return fail(e, "unit.name: must be 1-%u bytes of printable UTF-8",
                    KULA_MAX_UNIT_NAME);
    /* GENESIS.json writes the time as YYYY-...: years 1970-9999 only. */
    if (g->time_ms % 1000 != 0 || g->time_ms >= UINT64_C(253402300800000))
        return fail(e, "genesis_time: must be a whole second before year 10000");
    if (g->decimals > KULA_MAX_DECIMALS)
        return fail(e, "unit.decimals: %u is above %u", g->decimals, KULA_MAX_DECIMALS);
    if (kula_params_validate(&g->params, &perr) != 0)
        return fail(e, "params.%s", perr.what);
    if (g->nmembers == 0)
        return fail(e, "members: at least one member is required");
    if (g->nmembers > KULA_MAX_MEMBERS)
        return fail(e, "members: more than %u", KULA_MAX_MEMBERS);
    uint32_t validators = 0;
    uint64_t power = 0;
    for (uint32_t i = 0; i < g->nmembers; i++) {
        const kula_genesis_member *m = &g->members[i];
        if (!kula_pubkey_valid(&m->pubkey))
            return fail(e, "members[%u].pubkey: not a valid BIP-340 public key", i);
        if (!text_ok(m->name, KULA_MAX_NAME))
            return fail(e, "members[%u].name: must be 1-%u bytes of printable UTF-8",
                        i, KULA_MAX_NAME);
        if (!text_ok(m->sector, KULA_MAX_NAME))
            return fail(e, "members[%u].sector: must be 1-%u bytes of printable UTF-8",
                        i, KULA_MAX_NAME);
        if (m->credit_limit < 0 || m->credit_limit > INT64_MAX / 4)
            return fail(e, "members[%u].credit_limit: must be in [0, %lld]", i,
                        (long long)(INT64_MAX / 4));
        if (m->voting_power > (UINT64_C(1) << 48))
            return fail(e, "members[%u].voting_power: above 2^48", i);
        if (m->voting_power > 0) {
            validators++;
            power += m->voting_power;
        }
    }
    int rc = find_duplicates(g, e);
    if (rc != 0)
        return rc;
    if (validators == 0)
        return fail(e, "members: no member has voting_power > 0, so no validator");
    if (validators > KULA_MAX_VALIDATORS)
        return fail(e, "members: more than %u validators", KULA_MAX_VALIDATORS);
    (void)power;
    return KULA_OK;
}

/* ---- canonical encoding (proto/SPEC.md §8.1) ---- */

int kula_genesis_encode(kula_buf *out, const kula_genesis *g)
{
    kula_writer w;
    kula_writer_init(&w, out);
    kula_w_array(&w, 6);
    kula_w_uint(&w, KULA_VERSION);
    kula_w_str(&w, g->network, strlen(g->network));
    kula_w_array(&w, 2);
    kula_w_str(&w, g->unit, strlen(g->unit));
    kula_w_uint(&w, g->decimals);
    kula_w_uint(&w, g->time_ms);
    uint32_t np = kula_params_encoded_count(&g->params);
    kula_w_array(&w, np);
    for (uint32_t id = 1; id <= np; id++)
        kula_w_int(&w, param_value(&g->params, id));
    kula_w_array(&w, g->nmembers);
    for (uint32_t i = 0; i < g->nmembers; i++) {
        const kula_genesis_member *m = &g->members[i];
        kula_w_array(&w, 5);
        kula_w_bin(&w, m->pubkey.b, KULA_PUBKEY_LEN);
        kula_w_str(&w, m->name, strlen(m->name));
        kula_w_str(&w, m->sector, strlen(m->sector));
        kula_w_int(&w, m->credit_limit);
        kula_w_uint(&w, m->voting_power);
    }
    return out->err;
}

static void copy_text(char *dst, size_t cap, const char *p, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static int compute_chain_id(kula_genesis *g)
{
    kula_buf b;
    kula_buf_init(&b);
    int rc = kula_genesis_encode(&b, g);
    if (rc == 0)
        kula_hash_bytes(&g->chain_id, b.data, b.len);
    kula_buf_free(&b);
    return rc;
}

int kula_genesis_decode(kula_genesis *g, const uint8_t *data, size_t len)
{
    memset(g, 0, sizeof(*g));
    kula_reader r;
    kula_reader_init(&r, data, len);
    uint32_t fields = kula_r_array(&r, 64);
    if (kula_reader_ok(&r) && fields == 0)
        kula_reader_fail(&r, KULA_EARITY);
    if (kula_reader_ok(&r) && kula_r_uint(&r, UINT64_MAX) != KULA_VERSION)
        kula_reader_fail(&r, KULA_EVERSION);
    if (kula_reader_ok(&r) && fields != 6)
        kula_reader_fail(&r, KULA_EARITY);
    const char *s;
    size_t n = kula_r_str(&r, &s, KULA_MAX_NETWORK_NAME);
    if (kula_reader_ok(&r))
        copy_text(g->network, sizeof(g->network), s, n);
    kula_r_array_exact(&r, 2);
    n = kula_r_str(&r, &s, KULA_MAX_UNIT_NAME);
    if (kula_reader_ok(&r))
        copy_text(g->unit, sizeof(g->unit), s, n);
    g->decimals = (uint32_t)kula_r_uint(&r, KULA_MAX_DECIMALS);
    g->time_ms = kula_r_uint(&r, UINT64_MAX);
    uint32_t np = kula_r_array(&r, KULA_PARAM_COUNT);
    if (kula_reader_ok(&r) && np < KULA_PARAM_COUNT_BASE)
        kula_reader_fail(&r, KULA_EARITY);
    for (uint32_t id = 1; id <= np && kula_reader_ok(&r); id++)
        params_put(&g->params, id,
                   kula_r_int(&r, param_spec[id].min, param_spec[id].max));
    /* SPEC §8.1: a trailing parameter is present only when not 0 */
    if (kula_reader_ok(&r) && kula_params_encoded_count(&g->params) != np)
        kula_reader_fail(&r, KULA_ENONCANON);
    g->nmembers = kula_r_array(&r, KULA_MAX_MEMBERS);
    if (kula_reader_ok(&r) && g->nmembers > 0) {
        g->members = calloc(g->nmembers, sizeof(*g->members));
        if (g->members == NULL)
            kula_reader_fail(&r, KULA_ENOMEM);
    }
    for (uint32_t i = 0; i < g->nmembers && kula_reader_ok(&r); i++) {
        kula_genesis_member *m = &g->members[i];
        kula_r_array_exact(&r, 5);
        kula_r_bin_exact(&r, m->pubkey.b, KULA_PUBKEY_LEN);
        n = kula_r_str(&r, &s, KULA_MAX_NAME);
        if (kula_reader_ok(&r))
            copy_text(m->name, sizeof(m->name), s, n);
        n = kula_r_str(&r, &s, KULA_MAX_NAME);
        if (kula_reader_ok(&r))
            copy_text(m->sector, sizeof(m->sector), s, n);
        m->credit_limit = kula_r_int(&r, 0, INT64_MAX);
        m->voting_power = kula_r_uint(&r, UINT64_MAX);
    }
    int rc = kula_reader_finish(&r);
    if (rc == 0 && kula_genesis_validate(g, NULL) != 0)
        rc = KULA_EGENESIS;
    if (rc == 0) {
        /* Text with a NUL byte would be cut short in the struct: require the
         * decoded genesis to encode back to exactly the input. */
        kula_buf again;
        kula_buf_init(&again);
        rc = kula_genesis_encode(&again, g);
        if (rc == 0 && (again.len != len || memcmp(again.data, data, len) != 0))
            rc = KULA_ENONCANON;
        kula_buf_free(&again);
    }
    if (rc == 0)
        rc = compute_chain_id(g);
    if (rc != 0)
        kula_genesis_free(g);
    return rc;
}

void kula_genesis_free(kula_genesis *g)
{
    free(g->members);
    kula_seckey_wipe(&g->dev_key);
    memset(g, 0, sizeof(*g));
}

/* ---- JSON ---- */

/* Rejects keys of obj not in allowed (NULL terminated). */
static int check_keys(json_t *obj, const char *where, const char *const *allowed,
                      kula_error *e)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = true;
        if (!ok)
            return fail(e, "%s%s%s: unknown field", where, *where ? "." : "", key);
    }
    return KULA_OK;
}

static int get_string(json_t *obj, const char *where, const char *key, char *out,
                      size_t cap, kula_error *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return fail(e, "%s%s%s: missing field", where, *where ? "." : "", key);
    if (!json_is_string(v))
        return fail(e, "%s%s%s: must be a string", where, *where ? "." : "", key);
    size_t n = json_string_length(v);
    if (n >= cap || strlen(json_string_value(v)) != n)
        return fail(e, "%s%s%s: longer than %zu bytes or contains NUL", where,
                    *where ? "." : "", key, cap - 1);
    memcpy(out, json_string_value(v), n + 1);
    return KULA_OK;
}

/* Integers must be JSON integers within [min, max]; optional ones take dflt. */
static int get_int(json_t *obj, const char *where, const char *key, bool required,
                   int64_t dflt, int64_t min, int64_t max, int64_t *out, kula_error *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            return fail(e, "%s%s%s: missing field", where, *where ? "." : "", key);
        *out = dflt;
        return KULA_OK;
    }
    if (!json_is_integer(v))
        return fail(e, "%s%s%s: must be an integer", where, *where ? "." : "", key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return fail(e, "%s%s%s: %lld is outside [%lld, %lld]", where,
                    *where ? "." : "", key, (long long)x, (long long)min, (long long)max);
    *out = (int64_t)x;
    return KULA_OK;
}

static int parse_members(kula_genesis *g, json_t *arr, kula_error *e)
{
    static const char *const member_keys[] = { "name", "sector", "pubkey", "credit_limit",
                                               "voting_power", NULL };
    if (!json_is_array(arr))
        return fail(e, "members: must be an array");
    size_t n = json_array_size(arr);
    if (n == 0)
        return fail(e, "members: at least one member is required");
    if (n > KULA_MAX_MEMBERS)
        return fail(e, "members: more than %u", KULA_MAX_MEMBERS);
    g->members = calloc(n, sizeof(*g->members));
    if (g->members == NULL)
        return KULA_ENOMEM;
    g->nmembers = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(arr, i);
        kula_genesis_member *gm = &g->members[i];
        char where[32], hex[2 * KULA_PUBKEY_LEN + 2];
        snprintf(where, sizeof(where), "members[%zu]", i);
        if (!json_is_object(m))
            return fail(e, "%s: must be an object", where);
        int rc;
        int64_t v;
        if ((rc = check_keys(m, where, member_keys, e)) != 0 ||
            (rc = get_string(m, where, "name", gm->name, sizeof(gm->name), e)) != 0 ||
            (rc = get_string(m, where, "sector", gm->sector, sizeof(gm->sector), e)) != 0 ||
            (rc = get_string(m, where, "pubkey", hex, sizeof(hex), e)) != 0)
            return rc;
        if (kula_hex_decode(gm->pubkey.b, KULA_PUBKEY_LEN, hex) != 0)
            return fail(e, "%s.pubkey: must be 64 hex digits", where);
        if ((rc = get_int(m, where, "credit_limit", false, g->params.default_credit_limit, 0,
                          INT64_MAX / 4, &v, e)) != 0)
            return rc;
        gm->credit_limit = v;
        if ((rc = get_int(m, where, "voting_power", false, 0, 0, INT64_C(1) << 48, &v, e)) != 0)
            return rc;
        gm->voting_power = (uint64_t)v;
    }
    return KULA_OK;
}

static int parse_dev(kula_genesis *g, json_t *dev, kula_error *e)
{
    static const char *const dev_keys[] = { "warning", "validator_secret_key", NULL };
    char hex[2 * KULA_SECKEY_LEN + 2];
    int rc;
    if (!json_is_object(dev))
        return fail(e, "development_only: must be an object");
    json_t *warning = json_object_get(dev, "warning");
    if (warning != NULL && !json_is_string(warning))
        return fail(e, "development_only.warning: must be a string");
    if ((rc = check_keys(dev, "development_only", dev_keys, e)) != 0 ||
        (rc = get_string(dev, "development_only", "validator_secret_key", hex, sizeof(hex),
                         e)) != 0)
        return rc;
    if (kula_hex_decode(g->dev_key.b, KULA_SECKEY_LEN, hex) != 0)
        return fail(e, "development_only.validator_secret_key: must be 64 hex digits");
    kula_pubkey pk;
    if (kula_key_public(&pk, &g->dev_key) != 0)
        return fail(e, "development_only.validator_secret_key: not a valid key");
    g->has_dev_key = true;
    return KULA_OK;
}

static int parse_root(kula_genesis *g, json_t *root, kula_error *e)
{
    static const char *const root_keys[] = { "network", "unit", "genesis_time", "params",
                                             "members", "development_only", NULL };
    static const char *const unit_keys[] = { "name", "decimals", NULL };
    int rc;
    int64_t v;
    char when[32];
    if (!json_is_object(root))
        return fail(e, "top level: must be a JSON object");
    if ((rc = check_keys(root, "", root_keys, e)) != 0 ||
        (rc = get_string(root, "", "network", g->network, sizeof(g->network), e)) != 0)
        return rc;
    json_t *unit = json_object_get(root, "unit");
    if (unit == NULL)
        return fail(e, "unit: missing field");
    if (!json_is_object(unit))
        return fail(e, "unit: must be an object");
    if ((rc = check_keys(unit, "unit", unit_keys, e)) != 0 ||
        (rc = get_string(unit, "unit", "name", g->unit, sizeof(g->unit), e)) != 0 ||
        (rc = get_int(unit, "unit", "decimals", true, 0, 0, KULA_MAX_DECIMALS, &v, e)) != 0)
        return rc;
    g->decimals = (uint32_t)v;
    if ((rc = get_string(root, "", "genesis_time", when, sizeof(when), e)) != 0)
        return rc;
    if (kula_parse_utc(when, &g->time_ms) != 0)
        return fail(e, "genesis_time: must be UTC as YYYY-MM-DDTHH:MM:SSZ");

    json_t *params = json_object_get(root, "params");
    if (params == NULL)
        return fail(e, "params: missing field");
    if (!json_is_object(params))
        return fail(e, "params: must be an object");
    const char *param_keys[KULA_PARAM_COUNT + 1];
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++)
        param_keys[id - 1] = param_spec[id].name;
    param_keys[KULA_PARAM_COUNT] = NULL;
    if ((rc = check_keys(params, "params", param_keys, e)) != 0)
        return rc;
    for (uint32_t id = 1; id <= KULA_PARAM_COUNT; id++) {
        /* parameters after the first nine may be left out: 0 */
        if ((rc = get_int(params, "params", param_spec[id].name, id <= KULA_PARAM_COUNT_BASE, 0,
                          param_spec[id].min,
                          param_spec[id].max, &v, e)) != 0)
            return rc;
        params_put(&g->params, id, v);
    }
    json_t *members = json_object_get(root, "members");
    if (members == NULL)
        return fail(e, "members: missing field");
    if ((rc = parse_members(g, members, e)) != 0)
        return rc;
    json_t *dev = json_object_get(root, "development_only");
    if (dev != NULL && (rc = parse_dev(g, dev, e)) != 0)
        return rc;
    if ((rc = kula_genesis_validate(g, e)) != 0)
        return rc;
    if (g->has_dev_key) {
        kula_pubkey pk;
        if (kula_key_public(&pk, &g->dev_key) != 0)
            return fail(e, "development_only.validator_secret_key: not a valid key");
        bool found = false;
        for (uint32_t i = 0; i < g->nmembers; i++)
            if (memcmp(pk.b, g->members[i].pubkey.b, KULA_PUBKEY_LEN) == 0 &&
                g->members[i].voting_power > 0)
                found = true;
        if (!found)
            return fail(e, "development_only.validator_secret_key: belongs to no validator");
    }
    return compute_chain_id(g);
}

int kula_genesis_parse_json(kula_genesis *g, const char *text, size_t len, kula_error *e)
{
    memset(g, 0, sizeof(*g));
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return fail(e, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    int rc = parse_root(g, root, e);
    json_decref(root);
    if (rc != 0)
        kula_genesis_free(g);
    return rc;
}

int kula_genesis_load(kula_genesis *g, const char *path, kula_error *e)
{
    memset(g, 0, sizeof(*g));
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(e, "cannot open: %s", strerror(errno));
    const size_t max = 16u << 20;
    char *text = malloc(max + 1);
    if (text == NULL) {
        fclose(f);
        return kula_error_set(e, KULA_ENOMEM, "out of memory reading the genesis");
    }
    size_t n = fread(text, 1, max + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    int rc;
    if (bad)
        rc = fail(e, "read error");
    else if (n > max)
        rc = fail(e, "larger than 16 MiB");
    else
        rc = kula_genesis_parse_json(g, text, n, e);
    free(text);
    return rc;
}

char *kula_genesis_to_json(const kula_genesis *g)
{
    json_t *root = json_object();
    char when[32];
    kula_format_utc(when, sizeof(when), g->time_ms);
    json_object_set_new(root, "network", json_string(g->network));
    json_object_set_new(root, "unit", json_pack("{s:s, s:i}", "name", g->unit, "decimals",
                                                (int)g->decimals));
    json_object_set_new(root, "genesis_time", json_string(when));
    json_t *params = json_object();
    for (uint32_t id = 1; id <= kula_params_encoded_count(&g->params); id++)
        json_object_set_new(params, param_spec[id].name,
                            json_integer(param_value(&g->params, id)));
    json_object_set_new(root, "params", params);
    json_t *members = json_array();
    for (uint32_t i = 0; i < g->nmembers; i++) {
        const kula_genesis_member *m = &g->members[i];
        char hex[2 * KULA_PUBKEY_LEN + 1];
        kula_hex_encode(hex, m->pubkey.b, KULA_PUBKEY_LEN);
        json_array_append_new(members,
                              json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", m->name, "sector",
                                        m->sector, "pubkey", hex, "credit_limit",
                                        (json_int_t)m->credit_limit, "voting_power",
                                        (json_int_t)m->voting_power));
    }
    json_object_set_new(root, "members", members);
    char *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return out;
}
