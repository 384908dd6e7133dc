"""reference.py -- the clearing algorithm of proto/SPEC.md §14.3, written
again from the spec alone, plainly and slowly: the property test and the
vectors' check compare kula's set-offs with these, byte for byte.

solve(obs) takes [(id, debtor, creditor, amount)] with integer ids (decimal
ids are 32-byte big-endian numbers, so they order as integers) and returns
the set-off of each, in the input's order."""
import heapq


def solve(obs):
    firms = sorted({o[1] for o in obs} | {o[2] for o in obs})
    index = {f: i for i, f in enumerate(firms)}
    n = len(firms)
    # §14.2: arcs in the order (debtor, creditor, id)
    order = sorted(range(len(obs)), key=lambda i: (obs[i][1], obs[i][2], obs[i][0]))
    tail = [index[obs[i][1]] for i in order]
    head = [index[obs[i][2]] for i in order]
    amount = [obs[i][3] for i in order]
    m = len(order)
    r = [0] * m  # the remaining debt on each arc, the flow
    # each firm's list: its forward arcs, then its backward arcs, in arc order
    lists = [[] for _ in range(n)]
    for k in range(m):
        lists[tail[k]].append((k, +1))
    for k in range(m):
        lists[head[k]].append((k, -1))
    net = [0] * n
    for k in range(m):
        net[tail[k]] -= amount[k]
        net[head[k]] += amount[k]
    supply = [max(0, -x) for x in net]
    demand = [max(0, x) for x in net]
    p = [0] * n

    def other(u, arc):
        k, direction = arc
        return head[k] if direction > 0 else tail[k]

    def capacity(arc):
        k, direction = arc
        return amount[k] - r[k] if direction > 0 else r[k]

    def reduced(u, arc):
        return arc[1] + p[u] - p[other(u, arc)]

    while any(s > 0 for s in supply):
        # step 1: shortest distances in reduced costs, potentials raised
        inf = float("inf")
        d = [inf] * n
        heap = []
        for u in range(n):
            if supply[u] > 0:
                d[u] = 0
                heap.append((0, u))
        heapq.heapify(heap)
        while heap:
            du, u = heapq.heappop(heap)
            if du > d[u]:
                continue
            for arc in lists[u]:
                if capacity(arc) > 0:
                    v = other(u, arc)
                    if du + reduced(u, arc) < d[v]:
                        d[v] = du + reduced(u, arc)
                        heapq.heappush(heap, (d[v], v))
        D = min(d[t] for t in range(n) if demand[t] > 0)
        assert D != inf
        for u in range(n):
            p[u] += min(d[u], D)
        # step 2: rounds of levels and blocking flows over the zero arcs
        while True:
            level = [None] * n
            frontier = [u for u in range(n) if supply[u] > 0]
            for u in frontier:
                level[u] = 0
            L = None
            depth = 0
            while frontier and L is None:
                nxt = []
                for u in frontier:
                    for arc in lists[u]:
                        v = other(u, arc)
                        if level[v] is None and capacity(arc) > 0 and reduced(u, arc) == 0:
                            level[v] = depth + 1
                            nxt.append(v)
                depth += 1
                if any(demand[v] > 0 for v in nxt):
                    L = depth
                frontier = nxt
            if L is None:
                break
            # step 3: the blocking flow
            cur = [0] * n
            dead = [False] * n
            for s in range(n):
                while supply[s] > 0 and level[s] == 0 and not dead[s]:
                    path, u = [], s
                    while True:
                        if level[u] == L and demand[u] > 0:
                            break
                        found = None
                        while level[u] < L and cur[u] < len(lists[u]):
                            arc = lists[u][cur[u]]
                            v = other(u, arc)
                            if (capacity(arc) > 0 and reduced(u, arc) == 0 and not dead[v]
                                    and level[v] == level[u] + 1):
                                found = arc
                                break
                            cur[u] += 1
                        if found is not None:
                            path.append((u, found))
                            u = other(u, found)
                            continue
                        dead[u] = True
                        if not path:
                            break
                        u, _ = path.pop()
                        cur[u] += 1
                    if dead[s]:
                        break
                    f = min([supply[s], demand[u]] + [capacity(a) for _, a in path])
                    for _, (k, direction) in path:
                        r[k] += f * direction
                    supply[s] -= f
                    demand[u] -= f
    setoff = [0] * len(obs)
    for k, i in enumerate(order):
        setoff[i] = amount[k] - r[k]
    return setoff
