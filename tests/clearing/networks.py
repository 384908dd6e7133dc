"""networks.py -- seeded random obligation networks and networkx's optimum,
for the clearing property test (property.py) and benchmark
(tests/bench/bench_clearing.sh).

A network is a list of (id, debtor, creditor, amount)."""
import random

import networkx as nx

HEADER = "id,debtor,creditor,amount\n"
SHAPES = ("cycle", "hub", "chain", "parallel", "mixed")


def amount(r, huge):
    """An amount in minor units; up to 2^62 when huge."""
    if huge:
        return r.choice((r.randrange(0, 1 << 62) + 1, 1 << 62, r.randrange(1, 1000)))
    return r.randrange(1, 1000)


def network(seed):
    """A small network of one of SHAPES, by seed (the same seed, the same
    network).  Returns: (shape, [(id, debtor, creditor, amount)])."""
    r = random.Random(seed)
    shape = SHAPES[seed % len(SHAPES)]
    huge = seed % 3 == 0
    n = r.randrange(2, 30)
    firms = r.sample(range(1, 1000), n)  # member ids: not 0..n-1, not sorted
    arcs = []

    def add(d, c):
        if d != c:
            arcs.append((d, c, amount(r, huge)))

    if shape == "cycle":  # one or more cycles, of any length
        for _ in range(r.randrange(1, 4)):
            k = r.randrange(2, n + 1)
            ring = r.sample(firms, k)
            for i in range(k):
                add(ring[i], ring[(i + 1) % k])
    elif shape == "hub":  # one firm owes many and is owed by many
        hub = firms[0]
        for f in firms[1:]:
            if r.random() < 0.5:
                add(hub, f)
            if r.random() < 0.5:
                add(f, hub)
    elif shape == "chain":  # a long chain, its ends sometimes closed
        order = firms[:]
        r.shuffle(order)
        for i in range(len(order) - 1):
            add(order[i], order[i + 1])
        if r.random() < 0.5:
            add(order[-1], order[0])
    elif shape == "parallel":  # several obligations between the same pairs
        for _ in range(r.randrange(1, 3 * n)):
            d, c = r.sample(firms[: max(2, n // 3)], 2)
            for _ in range(r.randrange(1, 4)):
                add(d, c)
    else:
        for _ in range(r.randrange(1, 4 * n)):
            d, c = r.sample(firms, 2)
            add(d, c)
    if not arcs:
        add(firms[0], firms[1])
    ids = r.sample(range(1, 1 << 40), len(arcs))
    return shape, [(ids[i], d, c, a) for i, (d, c, a) in enumerate(arcs)]


def large(m, n, seed):
    """m obligations among n firms, uniformly at random, amounts 1 to 10^6."""
    r = random.Random(seed)
    out = []
    for i in range(m):
        d = r.randrange(n)
        c = r.randrange(n - 1)
        if c >= d:
            c += 1
        out.append((i + 1, d + 1, c + 1, r.randrange(1, 1000001)))
    return out


def write_csv(path, obs):
    with open(path, "w") as f:
        f.write(HEADER)
        f.writelines(f"{i},{d},{c},{a}\n" for i, d, c, a in obs)


def net_positions(obs, amounts):
    """Each firm's net position (owed minus owing) under amounts[i] for obs[i]."""
    net = {}
    for (_, d, c, _), a in zip(obs, amounts):
        net[d] = net.get(d, 0) - a
        net[c] = net.get(c, 0) + a
    return net


def networkx_remaining(obs):
    """The least remaining debt, by networkx's network simplex: the min cost
    of a flow from the net debtors to the net creditors over the obligations,
    capacity their amounts, cost 1 each."""
    g = nx.MultiDiGraph()
    for firm, net in net_positions(obs, [a for _, _, _, a in obs]).items():
        g.add_node(firm, demand=net)
    for _, d, c, a in obs:
        g.add_edge(d, c, capacity=a, weight=1)
    return nx.min_cost_flow_cost(g)
