#!/usr/bin/env bash
# mempool_restart.sh -- pending transactions survive a clean restart of a
# real kulad (proto/SPEC.md §9.1): 5,000 payments accepted as pending while
# no block can be made, SIGTERM, DATADIR/mempool.dat written, a restart that
# reloads every one, and all of them committed with the payee's balance the
# exact sum.
#
# Blocks are held back honestly: the network's only validator key is not in
# the data directory for the first run, so the node follows without signing
# (height stays 0) while the API admits payments to its mempool; the key is
# put in place for the restart.  Twenty payments go through 'kula pay
# --no-wait'; the rest are signed here (BIP-340 with python3-cryptography
# for the curve, proto/SPEC.md §6.1, checked first against the example of
# §6.17) and submitted in JSON-RPC batches: 'kula pay' unlocks a key per
# call, about 30 ms under the sanitizers, so 5,000 would take minutes.
#
# Usage: bash mempool_restart.sh PATH/TO/kulad PATH/TO/kula
set -euo pipefail

TEST=mempool_restart
# shellcheck source=single_node.bash
. "$(dirname "${BASH_SOURCE[0]}")/single_node.bash" "$@"
export KULA_PASSPHRASE="mempool restart"

N=${MEMPOOL_RESTART_TXS:-5000}
PAYERS=5
WALLET=20 # of the N, paid by p1 with 'kula pay --no-wait' after the others
if [ $(((N - WALLET) % PAYERS)) -ne 0 ] || [ "$N" -le "$WALLET" ]; then
    fail "MEMPOOL_RESTART_TXS - $WALLET must be a positive multiple of $PAYERS"
fi
PER=$(((N - WALLET) / PAYERS))
T0=$SECONDS

members=(--member v:ops:1 --member payee:retail)
for i in $(seq 1 $PAYERS); do members+=(--member "p$i:retail"); done
"$KULA" genesis new --network mempool-restart --out "$TMP/net" "${members[@]}" \
    --credit-limit 1000000 --block-interval-ms 200 --kdf-opslimit 1 --kdf-memlimit-mib 8 \
    >"$TMP/genesis.out" 2>&1 || fail "kula genesis new failed" "$TMP/genesis.out"
GENESIS=$TMP/net/GENESIS.json
CHAIN=$(awk '$1 == "chain" && $2 == "id" {print $3}' "$TMP/genesis.out")
[[ "$CHAIN" =~ ^[0-9a-f]{64}$ ]] || fail "kula genesis new printed no chain id" "$TMP/genesis.out"

# kw NAME ARGS...: kula with the network's keys (as k).
kw() {
    local name=$1
    shift
    k "$name" --wallet "$TMP/net/keys" "$@"
}

# Member ids follow the genesis order: v 1, payee 2, p1.. 3..
: >"$TMP/payers.txt"
for i in $(seq 1 $PAYERS); do
    kw "exp$i" keys export "p$i"
    [ "$CODE" -eq 0 ] || fail "kula keys export p$i exited $CODE" "$TMP/exp$i.err"
    echo "$((i + 2)) $(cat "$TMP/exp$i.out")" >>"$TMP/payers.txt"
done
PAYEE=2

# ---- the signer (standard library and python3-cryptography) ----

cat >"$TMP/pay.py" <<'PY'
"""Signs transfers (proto/SPEC.md §6.1, §6.2) and submits them in JSON-RPC
batches.  Usage: pay.py CHAIN_ID PAYERS_FILE PAYEE PER_PAYER COOKIE OUT"""
import hashlib, json, sys, urllib.request
from cryptography.hazmat.primitives.asymmetric import ec

N_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

def point(k):  # k*G on secp256k1, by the library
    pub = ec.derive_private_key(k, ec.SECP256K1()).public_key().public_numbers()
    return pub.x, pub.y

def tagged(tag, msg):
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + msg).digest()

def bip340_sign(seckey, msg, aux):  # BIP-340's reference algorithm
    d0 = int.from_bytes(seckey, "big")
    px, py = point(d0)
    d = d0 if py % 2 == 0 else N_ORDER - d0
    t = (d ^ int.from_bytes(tagged("BIP0340/aux", aux), "big")).to_bytes(32, "big")
    pxb = px.to_bytes(32, "big")
    k0 = int.from_bytes(tagged("BIP0340/nonce", t + pxb + msg), "big") % N_ORDER
    rx, ry = point(k0)
    k = k0 if ry % 2 == 0 else N_ORDER - k0
    rxb = rx.to_bytes(32, "big")
    e = int.from_bytes(tagged("BIP0340/challenge", rxb + pxb + msg), "big") % N_ORDER
    return rxb + ((k + e * d) % N_ORDER).to_bytes(32, "big")

def uint(v):  # canonical msgpack (§2.2), non-negative integers
    if v < 0x80: return bytes([v])
    if v < 0x100: return b"\xcc" + v.to_bytes(1, "big")
    if v < 0x10000: return b"\xcd" + v.to_bytes(2, "big")
    if v < 0x100000000: return b"\xce" + v.to_bytes(4, "big")
    return b"\xcf" + v.to_bytes(8, "big")

def signed_transfer(chain, member, seckey, nonce, to, amount, memo, aux):
    memo = memo.encode()
    assert len(memo) < 32
    body = (b"\x96" + uint(1) + uint(1) + uint(member) + uint(nonce) +
            b"\x92" + uint(to) + uint(amount) + bytes([0xa0 + len(memo)]) + memo)
    tag = b"kula/tx/v1".ljust(16, b"\0")
    digest = hashlib.blake2b(tag + chain + body, digest_size=32).digest()
    sig = bip340_sign(seckey, digest, aux)
    return b"\x92" + body + b"\x91\x92" + uint(member) + b"\xc4\x40" + sig

# The example of §6.17, with its auxiliary randomness of 32 zero bytes.
devnet = bytes.fromhex("f2a61e22c3da52027b5f15b2f9cf4c8737388d52d38734483d3061b5b70e8e63")
devkey = bytes.fromhex("15f3bbfe3346d48d8a3960f649c6eef253c0e8475bf26b15a24a9b855f4afa77")
want = ("9296010101019202cd09c4a472656e74919201c44053a47f13a47dee7076fd81d6e17d3fa10095"
        "cad95c71c8a53d386aa803896be04975fa594ed21f41b24fe79926554bd9808ba10dbf7fe53f78b"
        "ad27700eebe21")
got = signed_transfer(devnet, 1, devkey, 1, 2, 2500, "rent", bytes(32)).hex()
if got != want:
    sys.exit("signer: the example of proto/SPEC.md §6.17 comes out as " + got)

chain = bytes.fromhex(sys.argv[1])
payers = [(int(m), bytes.fromhex(k)) for m, k in
          (line.split() for line in open(sys.argv[2]) if line.strip())]
payee, per = int(sys.argv[3]), int(sys.argv[4])
cookie = dict(line.strip().split("=", 1) for line in open(sys.argv[5]) if "=" in line)
txs = []  # round robin over the payers, each in nonce order
for i in range(1, per + 1):
    for member, seckey in payers:
        aux = hashlib.sha256(b"%d/%d" % (member, i)).digest()
        txs.append(signed_transfer(chain, member, seckey, i, payee, i, "r%d" % i, aux))
pending, answers = 0, {}
for at in range(0, len(txs), 1000):
    batch = [{"jsonrpc": "2.0", "method": "submit", "id": at + j, "params": {"tx": tx.hex()}}
             for j, tx in enumerate(txs[at:at + 1000])]
    req = urllib.request.Request(cookie["url"], data=json.dumps(batch).encode(),
                                 headers={"Authorization": "Bearer " + cookie["token"],
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        for reply in json.load(r):
            ok = reply.get("result", {}).get("status") == "pending"
            pending += ok
            if not ok:
                answers[str(reply.get("error"))] = answers.get(str(reply.get("error")), 0) + 1
with open(sys.argv[6], "w") as out:
    out.write("%d %d\n" % (len(txs), pending))
    for why, n in answers.items():
        out.write("%d refused: %s\n" % (n, why))
PY

# start_follower: starts kulad on free ports without waiting for a block
# (it has no validator key); waits (<= 20 s) for its cookie.  As
# single_node.bash's start_node otherwise.
start_follower() {
    local _
    for _ in 1 2 3 4 5 6 7 8; do
        PORT=$((17000 + RANDOM % 20000))
        if port_busy "$PORT" || port_busy $((PORT + 1)); then
            continue
        fi
        "$KULAD" --datadir "$D" --genesis "$GENESIS" --rpc "127.0.0.1:$PORT" \
            --listen "127.0.0.1:$((PORT + 1))" >"$TMP/kulad.out" 2>"$TMP/kulad.log" &
        KPID=$!
        local tenths=200
        while [ ! -f "$D/rpc.cookie" ] && running && [ "$tenths" -gt 0 ]; do
            tenths=$((tenths - 1))
            sleep 0.1
        done
        if running; then
            [ -f "$D/rpc.cookie" ] || fail "kulad wrote no $D/rpc.cookie within 20 s"
            return 0
        fi
        wait "$KPID" 2>/dev/null || true
        KPID=
        grep -q "in use" "$TMP/kulad.log" || fail "kulad exited at start" "$TMP/kulad.log"
    done
    fail "no free pair of loopback ports after 8 tries"
}

# status_of FIELD: a field of 'kula status --json'.
status_of() {
    k st status --json
    [ "$CODE" -eq 0 ] || fail "kula status exited $CODE" "$TMP/st.err"
    jv "$TMP/st.out" "d[\"$1\"]"
}

# ---- first run: no validator key, so no block ----

mkdir -p "$D"
start_follower
grep -q "following the chain without signing" "$TMP/kulad.log" ||
    fail "kulad without its key should follow without signing" "$TMP/kulad.log"
t=$SECONDS
/usr/bin/python3 "$TMP/pay.py" "$CHAIN" "$TMP/payers.txt" "$PAYEE" "$PER" "$D/rpc.cookie" \
    "$TMP/submitted.txt" >"$TMP/pay.out" 2>&1 || fail "signing or submitting failed" "$TMP/pay.out"
read -r made accepted <"$TMP/submitted.txt"
if [ "$made" -ne $((N - WALLET)) ] || [ "$accepted" -ne "$made" ]; then
    fail "$accepted of $made payments accepted as pending" "$TMP/submitted.txt"
fi
for i in $(seq 1 $WALLET); do
    kw "w$i" pay --key p1 --to payee 0.01 --no-wait
    [ "$CODE" -eq 0 ] || fail "kula pay --no-wait $i exited $CODE" "$TMP/w$i.out" "$TMP/w$i.err"
    grep -q "accepted, waiting for a block" "$TMP/w$i.out" || fail "payment $i not pending" "$TMP/w$i.out"
done
[ "$(status_of mempool_size)" -eq "$N" ] || fail "the mempool does not hold $N transactions" "$TMP/st.out"
[ "$(status_of height)" -eq 0 ] || fail "a block was made without the validator key" "$TMP/st.out"
ok "$N payments accepted as pending in $((SECONDS - t)) s ($((N - WALLET)) signed here, $WALLET by kula pay --no-wait); height 0"

t=$SECONDS
stop_node
grep -q "mempool: saved $N pending transactions to $D/mempool.dat" "$TMP/kulad.log" ||
    fail "kulad did not log that it saved $N pending transactions" "$TMP/kulad.log"
[ -s "$D/mempool.dat" ] || fail "no $D/mempool.dat after SIGTERM"
[ ! -e "$D/mempool.dat.tmp" ] || fail "$D/mempool.dat.tmp left behind"
ok "SIGTERM: exit 0 in $((SECONDS - t)) s, $N transactions saved to mempool.dat ($(stat -c %s "$D/mempool.dat") bytes)"

# ---- restart with the key: reloaded, then committed ----

cp "$TMP/net/keys/v.key" "$D/node.key"
mv "$TMP/kulad.log" "$TMP/kulad1.log"
t=$SECONDS
start_node
grep -q "mempool: reloaded $N of $N pending transactions (0 already committed, 0 refused)" \
    "$TMP/kulad.log" || fail "kulad did not reload all $N transactions" "$TMP/kulad.log"
[ ! -e "$D/mempool.dat" ] || fail "mempool.dat is still there once the node runs"
ok "restart: all $N reloaded, mempool.dat removed once running"

SUM=$((PAYERS * PER * (PER + 1) / 2 + WALLET))
deadline=$((SECONDS + 180))
while :; do
    k bal balance --json "$PAYEE"
    got=-1
    [ "$CODE" -eq 0 ] && got=$(jv "$TMP/bal.out" 'd["balance"]')
    [ "$got" = "$SUM" ] && break
    running || fail "kulad stopped" "$TMP/kulad.log"
    [ "$SECONDS" -lt "$deadline" ] || fail "the payee's balance is $got after 180 s, expected $SUM" "$TMP/bal.out"
    sleep 0.2
done
[ "$(status_of mempool_size)" -eq 0 ] || fail "transactions left in the mempool" "$TMP/st.out"
for i in $(seq 1 $PAYERS); do
    k m member "p$i" --json
    [ "$CODE" -eq 0 ] || fail "kula member p$i exited $CODE" "$TMP/m.err"
    want=$PER
    [ "$i" -eq 1 ] && want=$((PER + WALLET))
    [ "$(jv "$TMP/m.out" 'd["nonce"]')" -eq "$want" ] || fail "p$i has not used its $want nonces" "$TMP/m.out"
done
ok "all $N committed $((SECONDS - t)) s after the restart: the payee holds $SUM, every nonce used"

stop_node
grep -q "mempool: saved 0 pending transactions" "$TMP/kulad.log" ||
    fail "the second stop did not save an empty mempool" "$TMP/kulad.log"
ok "second stop: an empty mempool saved"
echo "$TEST: $passed passed, 0 failed ($((SECONDS - T0)) s)"
