#!/usr/bin/python3
"""crosscheck_ledger.py -- the ledger vectors' state roots, recomputed without Kula's code.

A small reference of proto/SPEC.md section 10 and of the rules of
proto/LEDGER.md that change the state, written from the two documents with
Debian's python3-msgpack and hashlib's BLAKE2b.  For each scenario of
proto/vectors/ledger/ it checks:

  - the genesis: its bytes repack canonically, hash to its chain id, and its
    records (SPEC 10.1) give its state root (SPEC 10.2);
  - every step in order:
      * a refused transaction: the step's root must be the root before it.
        The reference does NOT check the refusal itself: it neither decides
        that the transaction is invalid nor which error the ledger gives
        (no signatures, nonces, credit limits, text rules... are checked);
      * an accepted transaction or an empty block: the transaction's bytes
        repack canonically and hash to its tx_id; the reference applies the
        effect of its kind (all 20 kinds; a passed proposal's action
        executes, and fails only for an admit whose key was bound
        meanwhile), the nonce or "D" record (LEDGER 2.2), runs a clearing
        the block asks for (LEDGER 9.1) with its settlement (9.6), moves
        the validator sets on (LEDGER 7.3), and recomputes the diff and
        the state root, folding in the whole state and the validator sets
        at a snapshot height (SPEC 10.3), which must be the step's byte for
        byte.
        The clearing's set-off is NOT recomputed (the solver of SPEC 14
        is not in this reference): on obligations without a cycle it is 0
        for every one (a set-off is a circulation), and a clearing over a
        cycle stops the check of its file with a failure that says so.

    /usr/bin/python3 tests/vectors/crosscheck_ledger.py [LEDGER-VECTOR-DIR]

Exit status: 0 if every check of every file passed, 1 otherwise (or if there
is no file), 2 if msgpack is missing.
"""
import glob
import hashlib
import json
import math
import os
import struct
import sys

try:
    import msgpack
except ImportError:
    print("crosscheck_ledger: python3-msgpack is not installed (apt-get install python3-msgpack)",
          file=sys.stderr)
    sys.exit(2)

STATE_TAG = b"kula/state/v1".ljust(16, b"\0")
SNAPSHOT_TAG = b"kula/snapshot/v1"                # SPEC 3.2: exactly 16 bytes
SNAPDATA_TAG = b"kula/snapdata/v1"
NEXT, LAST, LIVE = 0, 1, 2                      # "W" || which
PUBKEY, LIMIT, STATUS, BALANCE, NONCE, RATING_SUM, RATING_COUNT = 0, 3, 4, 6, 7, 9, 10  # member
I_STATUS, I_RESIDUAL, I_PAID, I_CHANGED, I_REASON = 6, 7, 8, 10, 11  # invoice record
A_RULE, A_BPS, A_POOL, A_STATUS, A_CONTRIBUTED, A_RECEIVED, A_BENEFITS, A_SETTLEMENTS = \
    3, 5, 6, 7, 8, 9, 10, 12                    # agreement record fields


def H(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack_canonical(data):
    """Unpacks data, which must pack back to exactly the same bytes."""
    obj = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    if pack(obj) != data:
        raise ValueError("not canonical: %s" % data.hex())
    return obj


def be32(n):
    return struct.pack(">I", n)


class State:
    """SPEC 10.1: the records as a map from key to value bytes."""

    def __init__(self, genesis):
        self.clear_asked = False
        _, _, _, _, params, members = genesis
        self.rec = {b"P": pack(params), b"G": pack([len(members) + 1, len(members), 0])}
        vals = []
        for i, (pubkey, name, sector, limit, power) in enumerate(members, 1):
            self.rec[b"M" + be32(i)] = pack([pubkey, name, sector, limit, 1, power, 0, 0, 0, 0, 0])
            self.rec[b"K" + pubkey] = pack([i])
            if power > 0:
                vals.append([i, power])
        for which in (NEXT, LAST, LIVE):
            self.rec[b"W" + bytes([which])] = pack(vals)

    def get(self, key, default=None):
        v = self.rec.get(key)
        return default if v is None else msgpack.unpackb(v, raw=False)

    def put(self, key, obj):
        if obj is None:
            self.rec.pop(key, None)
        else:
            self.rec[key] = pack(obj)

    def edit_member(self, i, field, value=None, add=0):
        """Sets member i's field to value, or adds add to it."""
        m = self.get(b"M" + be32(i))
        m[field] = m[field] + add if value is None else value
        self.put(b"M" + be32(i), m)

    def pay(self, payer, payee, amount):
        self.edit_member(payer, BALANCE, add=-amount)
        self.edit_member(payee, BALANCE, add=amount)

    def pair(self, a, b):
        key = b"X" + be32(min(a, b)) + be32(max(a, b))
        return key, self.get(key, [0, 0, 0])

    def count_exchange(self, a, b):
        key, x = self.pair(a, b)
        x[0] += 1
        self.put(key, x)


def root_of(prev_root, before, after):
    """SPEC 10.2: H(tag || previous root || diff), the diff sorted by key."""
    diff = [[k, after.get(k)] for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)]
    return H(STATE_TAG + prev_root + pack(diff))


def snapshot_root(diff_root, st, height, step):
    """SPEC 10.3: at a snapshot height, the whole state and both validator
    sets (with each validator's key after the block) fold into the root.
    A step at a snapshot height lists the parts ("snapshot"): each must be
    what this reference computes, and a step elsewhere lists none."""
    params = st.get(b"P")
    interval = params[10] if len(params) > 10 else 0        # parameter 11
    if interval == 0 or height % interval != 0:
        if "snapshot" in step:
            raise ValueError("snapshot parts at height %d, not a snapshot height" % height)
        return diff_root
    vals = []
    for which in (LAST, NEXT):
        vals.append([[m, power, st.get(b"M" + be32(m))[PUBKEY]]
                     for m, power in st.get(b"W" + bytes([which]))])
    state_hash = H(SNAPDATA_TAG + b"".join(pack([k, st.rec[k]]) for k in sorted(st.rec)))
    got = {"diff_root": diff_root.hex(), "vals": pack(vals).hex(), "state_hash": state_hash.hex()}
    if step.get("snapshot") != got:
        raise ValueError("snapshot parts at height %d: the vector says %s, the reference %s" % (
            height, step.get("snapshot"), got))
    return H(SNAPSHOT_TAG + diff_root + H(pack(vals)) + state_hash)


def apply_tx(st, body, tx_id, height):
    """Applies a valid transaction of a kind the reference knows."""
    kind, frm, nonce, payload = body[1], body[2], body[3], body[4]
    if kind == 1:                                   # transfer: LEDGER 4.1, 3.4
        to, amount = payload
        st.pay(frm, to, amount)
        st.count_exchange(frm, to)
    elif kind == 2:                                 # exchange: LEDGER 4.2, 3.4
        cp, _, gives, _, receives = payload
        if gives > receives:
            st.pay(cp, frm, gives - receives)
        elif receives > gives:
            st.pay(frm, cp, receives - gives)
        st.count_exchange(frm, cp)
    elif kind == 3:                                 # referral: LEDGER 4.3
        receiver, lead, fee, agreement = payload
        st.put(b"R" + tx_id, [frm, receiver, lead, fee, agreement, height])
    elif kind == 4:                                 # conversion: LEDGER 4.4
        referrer, receiver, _, fee, agreement, _ = st.get(b"R" + payload[0])
        if agreement != b"":                        # the agreement's current terms
            fee = payload[1] * st.get(b"A" + agreement)[A_BPS] // 10000
        if fee > 0:
            st.pay(receiver, referrer, fee)
        st.put(b"R" + payload[0], None)
        st.count_exchange(referrer, receiver)
    elif 5 <= kind <= 10:
        apply_agreement(st, kind, frm, payload, tx_id, height)
    elif kind == 11:                                # feedback: LEDGER 6.5
        about, rating, _ = payload
        key, x = st.pair(frm, about)
        x[1 if frm < about else 2] += 1
        st.put(key, x)
        st.edit_member(about, RATING_SUM, add=rating)
        st.edit_member(about, RATING_COUNT, add=1)
    elif kind in (12, 13):
        apply_governance(st, kind, frm, payload, tx_id, height)
    elif kind == 14:                                # evidence: LEDGER 7.5
        vtype, vheight, vround, _, validator = payload[0][0]
        key = b"E" + be32(validator) + struct.pack(">QI", vheight, vround) + bytes([vtype])
        st.put(key, [frm, height])
    elif 15 <= kind <= 19:
        apply_invoice(st, kind, frm, payload, tx_id, height)
    elif kind == 20:                                # clearing settle: LEDGER 9.6
        st.put(b"S" + be32(frm), [height] if payload[0] else None)
    else:
        raise ValueError("kind %d is not a transaction kind" % kind)
    if nonce == 0:                                  # LEDGER 2.2: unsequenced
        st.put(b"D" + tx_id, [height])
    else:
        st.edit_member(frm, NONCE, nonce)


def shares(agreement, pool):
    """LEDGER 5.1: floor(P * w_i / W), the units left over one each to the
    largest remainders P * w_i mod W, ties to the lower member id."""
    parties, rule, contributed = agreement[2], agreement[A_RULE], agreement[A_CONTRIBUTED]
    n = len(parties)
    if rule[0] == 0:                                # equal
        w = [1] * n
    elif rule[0] == 1:                              # weights
        w = rule[1]
    elif rule[0] == 2:                              # pro rata
        w = contributed
    else:                                           # Shapley numerators n! * phi_i
        v = rule[1]
        fact = [math.factorial(k) for k in range(n + 1)]
        w = [sum(fact[bin(S).count("1")] * fact[n - 1 - bin(S).count("1")] *
                 (v[S | 1 << i] - v[S]) for S in range(1 << n) if not S & 1 << i)
             for i in range(n)]
    total = sum(w)
    out = [pool * wi // total for wi in w]
    order = sorted(range(n), key=lambda i: (-(pool * w[i] % total), parties[i]))
    for i in order[:pool - sum(out)]:
        out[i] += 1
    return out


def apply_agreement(st, kind, frm, payload, tx_id, height):
    """LEDGER 5.2-5.7 on the "A" record and the "G" pools total."""
    if kind == 5:                                   # open
        label, title, parties, rule, term_end, bps = payload
        n = len(parties)
        st.put(b"A" + tx_id, [label, title, parties, rule, term_end, bps, 0, 1, [0] * n,
                              [0] * n, 0, height, 0])
        return
    key = b"A" + payload[0]
    a = st.get(key)
    g = st.get(b"G")
    if kind == 6:                                   # amend
        a[1], a[A_RULE], a[4], a[A_BPS] = payload[1:]
    elif kind == 7:                                 # contribute
        a[A_CONTRIBUTED][a[2].index(frm)] += payload[1]
    elif kind == 8:                                 # benefit
        st.edit_member(frm, BALANCE, add=-payload[1])
        a[A_POOL] += payload[1]
        a[A_BENEFITS] += payload[1]
        g[2] += payload[1]
    elif kind == 9:                                 # settle
        for i, share in enumerate(shares(a, a[A_POOL])):
            if share:
                st.edit_member(a[2][i], BALANCE, add=share)
                a[A_RECEIVED][i] += share
        g[2] -= a[A_POOL]
        a[A_POOL] = 0
        a[A_SETTLEMENTS] += 1
    else:                                           # close
        a[A_STATUS] = 2
    st.put(key, a)
    st.put(b"G", g)


def run_action(st, action, height):
    """LEDGER 6.4: executes a passed action.  Returns 0, or the negated error
    of an admit whose key was bound meanwhile, or of an observer action that
    no longer holds (the failures the vectors hold; any other would show as
    a wrong root)."""
    kind, args = action[0], action[1:]
    g = st.get(b"G")
    live = st.get(b"W" + bytes([LIVE]))
    if kind == 1:                                   # admit
        pubkey, name, sector, limit, power = args
        if st.get(b"K" + pubkey) is not None:
            return -69                              # EDUPKEY
        if any(o[0] == pubkey for o in st.get(b"O", [])):
            return -111                             # EDUPOBSERVER
        mid = g[0]
        st.put(b"M" + be32(mid), [pubkey, name, sector, limit, 1, power, 0, 0, height, 0, 0])
        st.put(b"K" + pubkey, [mid])
        g[0] += 1
        g[1] += 1
        if power > 0:
            live.append([mid, power])
    elif kind == 2:                                 # remove
        st.edit_member(args[0], STATUS, 2)
        live = [v for v in live if v[0] != args[0]]
        g[1] -= 1
    elif kind == 3:                                 # credit limit
        st.edit_member(args[0], LIMIT, args[1])
    elif kind == 4:                                 # param
        params = st.get(b"P")
        params[args[0] - 1] = args[1]
        st.put(b"P", params)
    elif kind == 5:                                 # rotate key
        st.edit_member(args[0], PUBKEY, args[1])
        st.put(b"K" + args[1], [args[0]])
    elif kind == 6:                                 # clear: at the end of the block
        st.clear_asked = True
    elif kind == 7:                                 # admit observer: "O" ascending key
        pubkey, name = args
        obs = st.get(b"O", [])
        if st.get(b"K" + pubkey) is not None:
            return -110                             # EOBSERVERMEMBER
        if any(o[0] == pubkey for o in obs):
            return -111                             # EDUPOBSERVER
        if any(o[1] == name for o in obs):
            return -112                             # EOBSERVERNAME
        if len(obs) >= 64:
            return -114                             # ETOOMANYOBSERVERS
        st.put(b"O", sorted(obs + [[pubkey, name, height]]))
    elif kind == 8:                                 # remove observer; none: no record
        obs = st.get(b"O", [])
        if not any(o[0] == args[0] for o in obs):
            return -113                             # EUNKNOWNOBSERVER
        st.put(b"O", [o for o in obs if o[0] != args[0]] or None)
    else:
        raise ValueError("action kind %d: not in this reference" % kind)
    st.put(b"G", g)
    st.put(b"W" + bytes([LIVE]), live)
    return 0


def apply_governance(st, kind, frm, payload, tx_id, height):
    """LEDGER 6.1-6.3: the "Q" proposal and "V" vote records."""
    if kind == 12:                                  # propose: the proposer votes yes
        key = b"Q" + tx_id
        q = [frm, payload[0], height, height + st.get(b"P")[3], 1, 0, 1, 0, 0]
        approve = True
    else:
        key = b"Q" + payload[0]
        q = st.get(key)
        approve = payload[1]
        q[4 if approve else 5] += 1
    st.put(b"V" + key[1:] + be32(frm), [approve])
    active = st.get(b"G")[1]
    num, den = st.get(b"P")[1:3]
    yes, no = q[4], q[5]
    if yes * den > active * num:                    # LEDGER 6.2: passed
        q[6], q[7] = 2, height
        q[8] = run_action(st, q[1], height)
        if q[8]:
            q[6] = 4                                # failed
    elif (yes + max(active - yes - no, 0)) * den <= active * num:
        q[6], q[7] = 3, height                      # rejected
    st.put(key, q)


def apply_invoice(st, kind, frm, payload, tx_id, height):
    """LEDGER 8: the invoice record "I" || id (SPEC 10.1)."""
    if kind == 15:                                  # issue: LEDGER 8.1
        debtor, amount, due, reference, document = payload
        st.put(b"I" + tx_id, [frm, debtor, amount, due, reference, document, 1, amount, 0,
                              height, height, ""])
        return
    key = b"I" + payload[0]
    v = st.get(key)
    v[I_CHANGED] = height
    if kind == 16:                                  # accept: LEDGER 8.2
        v[I_STATUS], v[I_REASON] = 2, ""
    elif kind == 17:                                # dispute: LEDGER 8.3
        v[I_STATUS], v[I_REASON] = 3, payload[1]
    elif kind == 18:                                # cancel: LEDGER 8.4
        v[I_STATUS], v[I_RESIDUAL] = 5, 0
    else:                                           # pay: LEDGER 8.5, 3.4
        amount = payload[1]
        st.pay(frm, v[0], amount)
        st.count_exchange(frm, v[0])
        v[I_RESIDUAL] -= amount
        v[I_PAID] += amount
        v[I_STATUS] = 4 if v[I_RESIDUAL] == 0 else 2
    st.put(key, v)


def has_cycle(obligations):
    """Whether the graph debtor -> creditor of the obligations has a cycle."""
    out = {}
    for _, d, c, _ in obligations:
        out.setdefault(d, set()).add(c)
    state = {}
    for start in sorted(out):
        stack = [(start, iter(sorted(out.get(start, ()))))]
        if state.get(start):
            continue
        state[start] = 1                            # on the path
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2                     # done
                stack.pop()
            elif state.get(nxt) == 1:
                return True
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(out.get(nxt, ())))))
    return False


def clearing(st, height):
    """LEDGER 9.1-9.6, set-off 0 only (see the docstring at the top)."""
    params = st.get(b"P")
    k = params[9] if len(params) > 9 else 0
    if not st.clear_asked and (k == 0 or height % k != 0):
        return
    st.clear_asked = False
    obs = []                                        # LEDGER 9.2: ascending id
    for key in sorted(kk for kk in st.rec if kk[:1] == b"I"):
        v = st.get(key)
        if v[I_STATUS] == 2 and v[I_RESIDUAL] > 0:
            obs.append((key[1:], v[1], v[0], v[I_RESIDUAL]))
    if has_cycle(obs):
        raise NotImplementedError("a clearing over a cycle: the set-off is not recomputed")
    opted = {int.from_bytes(kk[1:], "big") for kk in st.rec if kk[:1] == b"S"}
    paid = []                                       # LEDGER 9.6
    for oid, debtor, creditor, residual in sorted(
            (o for o in obs if o[1] in opted), key=lambda o: (o[1], o[0])):
        d, c = st.get(b"M" + be32(debtor)), st.get(b"M" + be32(creditor))
        if d[STATUS] != 1 or c[STATUS] != 1:
            continue
        amount = min(residual, d[BALANCE] + d[LIMIT], 2**63 - 1 - c[BALANCE])
        if amount <= 0:
            continue
        st.pay(debtor, creditor, amount)
        key, x = st.pair(debtor, creditor)
        x[0] = min(x[0] + 1, 2**64 - 1)
        st.put(key, x)
        v = st.get(b"I" + oid)
        v[I_RESIDUAL] -= amount
        v[I_PAID] += amount
        v[I_STATUS] = 4 if v[I_RESIDUAL] == 0 else 2
        v[I_CHANGED] = height
        st.put(b"I" + oid, v)
        paid.append([oid, debtor, creditor, amount])
    if not paid:                                    # nothing set off, nothing paid
        return
    n = st.get(b"L", [0])[0] + 1
    total = sum(o[3] for o in obs)
    st.put(b"C" + struct.pack(">Q", n), [height, total.to_bytes(16, "big"), bytes(16),
                                         total.to_bytes(16, "big"),
                                         [[o[0], o[1], o[2], o[3], 0] for o in obs]])
    st.put(b"L", [n])
    st.put(b"Z" + struct.pack(">Q", n), paid)


def end_block(st, height):
    """LEDGER 9.1: the clearing; 7.3: last becomes the old next, next becomes live."""
    clearing(st, height)
    nxt, live = st.rec[b"W" + bytes([NEXT])], st.rec[b"W" + bytes([LIVE])]
    st.rec[b"W" + bytes([LAST])] = nxt
    st.rec[b"W" + bytes([NEXT])] = live


def check_file(path):
    """Returns (state roots recomputed, failures)."""
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    fails = []
    gbytes = bytes.fromhex(doc["genesis"]["hex"])
    if H(gbytes).hex() != doc["genesis"]["chain_id"]:
        fails.append("%s: genesis chain id" % name)
    st = State(unpack_canonical(gbytes))
    root = root_of(b"\0" * 32, {}, st.rec)
    if root.hex() != doc["genesis"]["state_root"]:
        return 0, fails + ["%s: genesis state root is %s" % (name, root.hex())]
    recomputed = 1
    for i, s in enumerate(doc["steps"]):
        where = "%s step %d (%s)" % (name, i, s["description"])
        want = bytes.fromhex(s["state_root"])
        if s["error"] is not None:                  # refused: nothing changes
            if want != root:
                fails.append("%s: refused, yet the root changes" % where)
            continue
        before = dict(st.rec)
        if s["tx"] is not None:
            body = unpack_canonical(bytes.fromhex(s["tx"]))[0]
            if H(pack(body)).hex() != s["tx_id"]:
                return recomputed, fails + ["%s: tx id" % where]
            apply_tx(st, body, bytes.fromhex(s["tx_id"]), s["height"])
        try:
            end_block(st, s["height"])
        except NotImplementedError as e:
            return recomputed, fails + ["%s: cannot recompute: %s" % (where, e)]
        try:
            root = snapshot_root(root_of(root, before, st.rec), st, s["height"], s)
        except ValueError as e:
            return recomputed, fails + ["%s: %s" % (where, e)]
        recomputed += 1
        if root != want:                            # the states differ from here on
            return recomputed, fails + ["%s: state root is %s, the vector says %s" % (
                where, root.hex(), s["state_root"])]
    return recomputed, fails


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    vdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "proto",
                                                               "vectors", "ledger")
    files = sorted(glob.glob(os.path.join(vdir, "*.json")))
    failed = not files
    for path in files:
        recomputed, fails = check_file(path)
        for f in fails:
            print("crosscheck_ledger: FAIL %s" % f)
        print("crosscheck_ledger: %s: %d state roots recomputed" % (os.path.basename(path),
                                                                   recomputed))
        failed = failed or bool(fails)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
