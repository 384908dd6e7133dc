/* clearing.c -- multilateral clearing of obligations: the minimum-cost flow of
 * proto/SPEC.md §14, every tie-break as the spec fixes it.
 *
 * Direction: called by the ledger's clearing and by kula clearing solve;
 * calls only the layers below.
 *
 * The remaining debt r (0 <= r <= amount on each obligation) is a flow from
 * the net debtors to the net creditors; its cost is sum(r), one per unit on
 * each obligation.  Primal-dual successive shortest paths from r = 0 (SPEC
 * §14.3): a phase computes shortest distances in reduced costs (Dijkstra;
 * the distances are unique, so its order does not matter), raises the
 * potentials, then sends a maximum flow over the arcs of reduced cost 0 in
 * Dinic rounds (a BFS for levels, a blocking flow by depth-first search).
 * Only the depth-first search decides which obligation carries which flow,
 * so that is where the spec fixes every order: sources by member id, each
 * node's arcs forward first (by creditor, id) then backward (by debtor, id),
 * and a search restarts from its source after every augmentation. */
#include "kula/ledger/clearing.h"

#include <stdlib.h>
#include <string.h>

#include "kula/base/amount.h"

__extension__ typedef __int128 i128;

#define INF_DIST INT64_MAX

/* ---- sorting (stable, so every order below is a pure function of the input) ---- */

/* Stable counting sort of idx[0..m-1] by key[idx[i]] (keys < nkeys).
 * Out: out[m].  Needs count[nkeys + 1].  Returns nothing: cannot fail. */
static void counting_sort(uint32_t *out, const uint32_t *idx, size_t m, const uint32_t *key,
                          uint32_t nkeys, uint32_t *count)
{
    memset(count, 0, (size_t)(nkeys + 1) * sizeof(*count));
    for (size_t i = 0; i < m; i++)
        count[key[idx[i]] + 1]++;
    for (uint32_t k = 0; k < nkeys; k++)
        count[k + 1] += count[k];
    for (size_t i = 0; i < m; i++)
        out[count[key[idx[i]]]++] = idx[i];
}

/* LSD radix sort of 32-bit values, two passes of 16 bits.  Out: a sorted;
 * tmp[n] scratch; count[65537] scratch. */
static void radix_sort_u32(uint32_t *a, uint32_t *tmp, size_t n, uint32_t *count)
{
    for (unsigned shift = 0; shift < 32; shift += 16) {
        memset(count, 0, 65537 * sizeof(*count));
        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 0xffff) + 1]++;
        for (unsigned k = 0; k < 65536; k++)
            count[k + 1] += count[k];
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i] >> shift) & 0xffff]++] = a[i];
        memcpy(a, tmp, n * sizeof(*a));
    }
}

static int id_cmp(const kula_obligation *obs, uint32_t a, uint32_t b)
{
    return memcmp(obs[a].id.b, obs[b].id.b, KULA_HASH_LEN);
}

/* Stable merge sort of idx[0..n-1] by obligation id.  tmp[n] scratch. */
static void merge_sort_by_id(uint32_t *idx, uint32_t *tmp, size_t n, const kula_obligation *obs)
{
    for (size_t i = 1; i < n; i++) { /* runs of 16 by insertion */
        if (i % 16 == 0)
            continue;
        uint32_t x = idx[i];
        size_t j = i;
        while (j % 16 != 0 && id_cmp(obs, idx[j - 1], x) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
    for (size_t w = 16; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = id_cmp(obs, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof(*idx));
    }
}

/* ---- the solver's graph ---- */

typedef struct graph {
    uint32_t n, m;      /* firms (nodes), obligations (arcs) */
    uint32_t *tail;     /* [m] debtor's node, arcs in SPEC order (debtor, creditor, id) */
    uint32_t *head;     /* [m] creditor's node */
    int64_t *cap;       /* [m] the amount */
    int64_t *rem;       /* [m] remaining debt: the flow */
    uint32_t *adj_off;  /* [n+1] node u's arcs are adj[adj_off[u] .. adj_off[u+1]) */
    uint32_t *adj;      /* [2m] 2k: obligation k forward, 2k+1: backward */
    i128 *supply;       /* [n] what a net debtor has still to send */
    i128 *demand;       /* [n] what a net creditor has still to receive */
    int64_t *pot;       /* [n] potentials */
    int64_t *dist;      /* [n] */
    int32_t *level;     /* [n] Dinic levels; -1 unlabelled or dead */
    uint32_t *cur;      /* [n] current arc */
    uint32_t *queue;    /* [n] BFS queue; also the DFS's nodes */
    uint32_t *path;     /* [n] the DFS's arcs (positions in adj) */
    uint64_t *heap;     /* [m + n] Dijkstra: (dist << 32) | node; lazy deletion */
    /* The phase's arcs of reduced cost 0, each node's in the order of adj:
     * potentials change only between phases, so within one these are the
     * only arcs the BFS and the DFS can use. */
    uint32_t *zero_off; /* [n+1] */
    uint32_t *zero;     /* [2m] arcs as in adj */
    uint32_t *zero_to;  /* [2m] the arc's other end */
} graph;

static uint32_t other_end(const graph *g, uint32_t a)
{
    return a & 1 ? g->tail[a >> 1] : g->head[a >> 1];
}

static int64_t residual(const graph *g, uint32_t a)
{
    uint32_t k = a >> 1;
    return a & 1 ? g->rem[k] : g->cap[k] - g->rem[k];
}

/* The reduced cost of residual arc a out of u: cost + pot[u] - pot[v], where
 * a forward arc costs 1 and a backward arc -1 (SPEC §14.3). */
static int64_t reduced(const graph *g, uint32_t u, uint32_t a)
{
    return (a & 1 ? -1 : 1) + g->pot[u] - g->pot[other_end(g, a)];
}

/* ---- Dijkstra over reduced costs, with a binary heap ----
 * Keys are (distance, node): distances stay below 2^31 (a potential is at
 * most the cost of a path, fewer than n hops, so reduced costs and distances
 * are below 2n < 2^24), so a key fits 64 bits. */

static void heap_push(uint64_t *h, size_t *len, uint64_t key)
{
    size_t i = (*len)++;
    while (i > 0 && h[(i - 1) / 2] > key) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = key;
}

static uint64_t heap_pop(uint64_t *h, size_t *len)
{
    uint64_t top = h[0], last = h[--*len];
    size_t i = 0, n = *len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1] < h[c])
            c++;
        if (h[c] >= last)
            break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0)
        h[i] = last;
    return top;
}

/* Shortest distances from the sources that still have supply, then the
 * potentials raised by min(dist, D), D the distance of the nearest node that
 * still has demand (SPEC §14.3 step 1).
 * Returns: false when no such node is reachable (cannot happen: r = amount
 *          is feasible, so some path always remains while supply does). */
static bool dijkstra(graph *g)
{
    size_t len = 0;
    for (uint32_t u = 0; u < g->n; u++) {
        g->dist[u] = INF_DIST;
        if (g->supply[u] > 0) {
            g->dist[u] = 0;
            heap_push(g->heap, &len, u);
        }
    }
    int64_t D = INF_DIST;
    while (len > 0) {
        uint64_t key = heap_pop(g->heap, &len);
        uint32_t u = (uint32_t)key;
        int64_t d = (int64_t)(key >> 32);
        if (d > D)
            break;
        if (d != g->dist[u])
            continue; /* stale */
        if (g->demand[u] > 0 && D == INF_DIST)
            D = d;
        for (uint32_t j = g->adj_off[u]; j < g->adj_off[u + 1]; j++) {
            uint32_t a = g->adj[j];
            if (residual(g, a) == 0)
                continue;
            uint32_t v = other_end(g, a);
            int64_t nd = d + reduced(g, u, a);
            if (nd < g->dist[v] && nd <= D) {
                g->dist[v] = nd;
                heap_push(g->heap, &len, ((uint64_t)nd << 32) | v);
            }
        }
    }
    if (D == INF_DIST)
        return false;
    for (uint32_t u = 0; u < g->n; u++)
        g->pot[u] += g->dist[u] < D ? g->dist[u] : D;
    return true;
}

/* Collects the arcs of reduced cost 0 (zero_off, zero, zero_to). */
static void zero_arcs(graph *g)
{
    uint32_t pos = 0;
    for (uint32_t u = 0; u < g->n; u++) {
        g->zero_off[u] = pos;
        for (uint32_t j = g->adj_off[u]; j < g->adj_off[u + 1]; j++) {
            uint32_t a = g->adj[j];
            if (reduced(g, u, a) == 0) {
                g->zero[pos] = a;
                g->zero_to[pos++] = other_end(g, a);
            }
        }
    }
    g->zero_off[g->n] = pos;
}

/* Levels by BFS over the zero arcs with residual capacity, from the sources
 * that still have supply, up to the first level L that holds a node with
 * demand (SPEC §14.3 step 2); every current arc back at its list's start.
 * Returns: L, or -1 when no such node is reachable. */
static int32_t levels(graph *g)
{
    uint32_t qh = 0, qt = 0;
    for (uint32_t u = 0; u < g->n; u++) {
        g->level[u] = -1;
        g->cur[u] = g->zero_off[u];
        if (g->supply[u] > 0) {
            g->level[u] = 0;
            g->queue[qt++] = u;
        }
    }
    int32_t L = -1;
    while (qh < qt) {
        uint32_t u = g->queue[qh++];
        if (L >= 0 && g->level[u] >= L)
            break; /* the BFS is in level order: nothing deeper is needed */
        for (uint32_t j = g->zero_off[u]; j < g->zero_off[u + 1]; j++) {
            uint32_t v = g->zero_to[j];
            if (g->level[v] != -1 || residual(g, g->zero[j]) == 0)
                continue;
            g->level[v] = g->level[u] + 1;
            g->queue[qt++] = v;
            if (L < 0 && g->demand[v] > 0)
                L = g->level[v];
        }
    }
    /* Nothing is labelled beyond L; a node at level L without demand is a
     * dead end for the blocking flow. */
    return L;
}

static i128 min128(i128 a, i128 b)
{
    return a < b ? a : b;
}

/* The blocking flow of one Dinic round (SPEC §14.3 step 3): for each source
 * in member order, depth-first searches from it, each restarting from the
 * source after it augments, until its supply is sent or it is dead. */
static void blocking_flow(graph *g, int32_t L)
{
    uint32_t *node = g->queue, *path = g->path; /* path: the arcs taken */
    for (uint32_t s = 0; s < g->n; s++) {
        while (g->supply[s] > 0 && g->level[s] == 0) {
            uint32_t depth = 0, u = s;
            for (;;) {
                if (g->level[u] == L && g->demand[u] > 0)
                    break;
                bool found = false;
                if (g->level[u] < L) {
                    int32_t next = g->level[u] + 1;
                    for (; g->cur[u] < g->zero_off[u + 1]; g->cur[u]++) {
                        uint32_t j = g->cur[u];
                        if (g->level[g->zero_to[j]] == next && residual(g, g->zero[j]) > 0) {
                            found = true;
                            break;
                        }
                    }
                }
                if (found) {
                    node[depth] = u;
                    path[depth++] = g->zero[g->cur[u]];
                    u = g->zero_to[g->cur[u]];
                    continue;
                }
                g->level[u] = -1; /* dead for the rest of the round */
                if (depth == 0)
                    break;
                u = node[--depth];
                g->cur[u]++;
            }
            if (g->level[s] != 0)
                break; /* s is dead */
            /* augment along path[0..depth) from s to u */
            i128 f = min128(g->supply[s], g->demand[u]);
            for (uint32_t i = 0; i < depth; i++)
                f = min128(f, residual(g, path[i]));
            int64_t f64 = (int64_t)f; /* <= a residual, so it fits */
            for (uint32_t i = 0; i < depth; i++) {
                uint32_t a = path[i];
                g->rem[a >> 1] += a & 1 ? -f64 : f64;
            }
            g->supply[s] -= f64;
            g->demand[u] -= f64;
        }
    }
}

/* ---- building the graph ---- */

static void graph_free(graph *g)
{
    free(g->tail); free(g->head); free(g->cap); free(g->rem); free(g->adj_off);
    free(g->adj); free(g->supply); free(g->demand); free(g->pot); free(g->dist);
    free(g->level); free(g->cur); free(g->queue); free(g->path); free(g->heap);
    free(g->zero_off); free(g->zero); free(g->zero_to);
}

/* Checks each obligation on its own.  Returns: 0 or the error. */
static int check_each(kula_error *e, const kula_obligation *obs, size_t n)
{
    if (n > KULA_CLEARING_MAX_OBLIGATIONS)
        return kula_error_set(e, KULA_ETOOBIG, "%zu obligations, more than the %u one clearing takes",
                              n, KULA_CLEARING_MAX_OBLIGATIONS);
    for (size_t i = 0; i < n; i++) {
        int rc = 0;
        if (obs[i].amount < 0)
            rc = kula_error_set(e, KULA_EAMOUNT, "obligation %zu has a negative amount", i);
        else if (obs[i].debtor == obs[i].creditor)
            rc = kula_error_set(e, KULA_ESELF, "obligation %zu has member %u as both debtor and creditor",
                                i, obs[i].debtor);
        if (rc != 0) {
            if (e != NULL)
                e->tx_index = (int32_t)i;
            return rc;
        }
    }
    return 0;
}

/* Returns: the index of u in the sorted members[0..n-1]. */
static uint32_t node_of(const uint32_t *members, uint32_t n, uint32_t id)
{
    uint32_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (members[mid] <= id)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int kula_clearing_solve(int64_t *setoff, kula_clearing_totals *totals, kula_error *e,
                        const kula_obligation *obs, size_t n)
{
    int rc = check_each(e, obs, n);
    if (rc != 0)
        return rc;
    uint32_t m = (uint32_t)n;
    graph g = { 0 };
    size_t cells = 2 * (size_t)m + 1;
    uint32_t *order = malloc(cells * sizeof(*order));
    uint32_t *tmp = malloc(cells * sizeof(*tmp));
    uint32_t *key = malloc(cells * sizeof(*key));
    uint32_t *count = malloc((cells > 65537 ? cells : 65537) * sizeof(*count) + sizeof(*count));
    uint32_t *members = malloc(cells * sizeof(*members));
    rc = KULA_ENOMEM;
    if (order == NULL || tmp == NULL || key == NULL || count == NULL || members == NULL)
        goto out;

    /* Ids are distinct (SPEC §14.2): sorted by id, equal ids are adjacent. */
    for (uint32_t i = 0; i < m; i++)
        order[i] = i;
    merge_sort_by_id(order, tmp, m, obs);
    for (uint32_t i = 1; i < m; i++)
        if (id_cmp(obs, order[i - 1], order[i]) == 0) {
            uint32_t a = order[i - 1], b = order[i]; /* stable: a < b */
            rc = kula_error_set(e, KULA_EEXIST, "obligation %u has the id of obligation %u", b, a);
            if (e != NULL)
                e->tx_index = (int32_t)b;
            goto out;
        }

    /* The firms, by member id (SPEC §14.2). */
    for (uint32_t i = 0; i < m; i++) {
        members[2 * i] = obs[i].debtor;
        members[2 * i + 1] = obs[i].creditor;
    }
    radix_sort_u32(members, tmp, 2 * (size_t)m, count);
    uint32_t nn = 0;
    for (size_t i = 0; i < 2 * (size_t)m; i++)
        if (nn == 0 || members[nn - 1] != members[i])
            members[nn++] = members[i];
    g.n = nn;
    g.m = m;

    /* The arcs in the order (debtor, creditor, id): sorted by id already, then
     * stably by creditor, then stably by debtor. */
    uint32_t *dnode = key, *cnode = key + m; /* node of each obligation, input order */
    for (uint32_t i = 0; i < m; i++) {
        dnode[i] = node_of(members, nn, obs[i].debtor);
        cnode[i] = node_of(members, nn, obs[i].creditor);
    }
    counting_sort(tmp, order, m, cnode, nn, count);
    counting_sort(order, tmp, m, dnode, nn, count);

    g.tail = malloc((m + 1) * sizeof(*g.tail));
    g.head = malloc((m + 1) * sizeof(*g.head));
    g.cap = malloc((m + 1) * sizeof(*g.cap));
    g.rem = calloc(m + 1, sizeof(*g.rem));
    g.adj_off = malloc(((size_t)nn + 2) * sizeof(*g.adj_off));
    g.adj = malloc(cells * sizeof(*g.adj));
    g.supply = calloc((size_t)nn + 1, sizeof(*g.supply));
    g.demand = calloc((size_t)nn + 1, sizeof(*g.demand));
    g.pot = calloc((size_t)nn + 1, sizeof(*g.pot));
    g.dist = malloc(((size_t)nn + 1) * sizeof(*g.dist));
    g.level = malloc(((size_t)nn + 1) * sizeof(*g.level));
    g.cur = malloc(((size_t)nn + 1) * sizeof(*g.cur));
    g.queue = malloc(((size_t)nn + 1) * sizeof(*g.queue));
    g.path = malloc(((size_t)nn + 1) * sizeof(*g.path));
    g.heap = malloc((cells + nn) * sizeof(*g.heap));
    g.zero_off = malloc(((size_t)nn + 2) * sizeof(*g.zero_off));
    g.zero = malloc(cells * sizeof(*g.zero));
    g.zero_to = malloc(cells * sizeof(*g.zero_to));
    if (g.tail == NULL || g.head == NULL || g.cap == NULL || g.rem == NULL ||
        g.adj_off == NULL || g.adj == NULL || g.supply == NULL || g.demand == NULL ||
        g.pot == NULL || g.dist == NULL || g.level == NULL || g.cur == NULL ||
        g.queue == NULL || g.path == NULL || g.heap == NULL || g.zero_off == NULL ||
        g.zero == NULL || g.zero_to == NULL)
        goto out;

    kula_u128 total = 0;
    for (uint32_t k = 0; k < m; k++) {
        uint32_t i = order[k];
        g.tail[k] = dnode[i];
        g.head[k] = cnode[i];
        g.cap[k] = obs[i].amount;
        total += (kula_u128)obs[i].amount; /* < 2^22 * 2^63: no overflow */
        g.supply[dnode[i]] += obs[i].amount; /* what it owes, for now */
        g.demand[cnode[i]] += obs[i].amount; /* what it is owed */
    }
    /* Net positions: a net debtor supplies what it owes beyond what it is
     * owed, a net creditor demands the rest. */
    kula_u128 nid = 0;
    for (uint32_t u = 0; u < nn; u++) {
        i128 net = g.demand[u] - g.supply[u];
        g.supply[u] = net < 0 ? -net : 0;
        g.demand[u] = net > 0 ? net : 0;
        nid += (kula_u128)g.demand[u];
    }

    /* Each node's arcs: forward ones (the node as debtor) in arc order, which
     * is (creditor, id); then backward ones (as creditor) in arc order, which
     * is (debtor, id) (SPEC §14.2). */
    memset(count, 0, ((size_t)nn + 1) * sizeof(*count)); /* backward arcs per node */
    for (uint32_t k = 0; k < m; k++)
        count[g.head[k]]++;
    uint32_t *fill = tmp; /* [nn]: where the next arc of each node goes */
    uint32_t pos = 0;
    for (uint32_t u = 0, k = 0; u < nn; u++) {
        g.adj_off[u] = pos;
        while (k < m && g.tail[k] == u)
            g.adj[pos++] = 2 * k++;
        fill[u] = pos;
        pos += count[u];
    }
    g.adj_off[nn] = pos;
    for (uint32_t k = 0; k < m; k++)
        g.adj[fill[g.head[k]]++] = 2 * k + 1;

    /* Successive shortest paths in phases (SPEC §14.3). */
    uint32_t phases = 0;
    for (;;) {
        bool left = false;
        for (uint32_t u = 0; u < nn && !left; u++)
            left = g.supply[u] > 0;
        if (!left)
            break;
        if (!dijkstra(&g)) {
            rc = kula_error_set(e, KULA_EINVAL, "clearing found no path for a net debtor's debt");
            goto out;
        }
        phases++;
        zero_arcs(&g);
        int32_t L;
        while ((L = levels(&g)) >= 0)
            blocking_flow(&g, L);
    }

    kula_u128 remaining = 0;
    for (uint32_t k = 0; k < m; k++) {
        setoff[order[k]] = g.cap[k] - g.rem[k];
        remaining += (kula_u128)g.rem[k];
    }
    if (totals != NULL) {
        totals->firms = nn;
        totals->obligations = n;
        totals->total_debt = total;
        totals->net_internal_debt = nid;
        totals->cleared = total - remaining;
        totals->remaining = remaining;
        totals->phases = phases;
    }
    rc = KULA_OK;
out:
    graph_free(&g);
    free(order); free(tmp); free(key); free(count); free(members);
    return rc;
}
