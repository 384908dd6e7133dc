# clearing_lib.bash -- what the clearing black-box tests share (clearing.sh,
# clearing_settle.sh): the transactions of invoices and proposals they make
# and the node with dev, alice and bob.  Sourced after single_node.bash.
# shellcheck shell=bash

# txid NAME: the id of the transaction NAME.out says committed.
txid() { sed -n 's/^transaction \([0-9a-f]\{64\}\) committed.*/\1/p' "$TMP/$1.out"; }

# owe NAME DEBTOR CREDITOR AMOUNT: CREDITOR bills DEBTOR, who accepts.
# Prints the invoice's id.
owe() {
    local to=$2
    [ "$to" != dev ] || to=1 # the development member's name is Dev Validator
    k_ok "$1" invoice issue --key "$3" --to "$to" "$4" --due 30d --ref "$1"
    local id
    id=$(txid "$1")
    [ -n "$id" ] || fail "invoice issue printed no committed transaction" "$TMP/$1.out"
    k_ok "$1-acc" invoice accept --key "$2" "$id"
    echo "$id"
}

# pass NAME ID: the members vote yes on proposal ID until it passes.
pass() {
    local who
    for who in alice bob; do
        k "$1-$who" --json proposal "$2"
        grep -q '"status": *"passed"' "$TMP/$1-$who.out" && return 0
        k_ok "$1-v$who" vote --key "$who" --proposal "$2" yes
    done
}

# wait_clearing NAME N SECONDS: waits until clearing N is on the ledger.
wait_clearing() {
    local tenths=$(($3 * 10))
    while :; do
        k "$1" --json clearing show "$2"
        [ "$CODE" -eq 0 ] && return 0
        running || fail "kulad stopped" "$TMP/$1.err"
        tenths=$((tenths - 1))
        [ "$tenths" -gt 0 ] || fail "no clearing $2 after $3 s" "$TMP/$1.out" "$TMP/$1.err"
        sleep 0.1
    done
}

# start_alice_bob: starts the node, imports dev's key and has governance
# admit alice and bob (credit limit 500.00 each): members 1, 2 and 3.
start_alice_bob() {
    start_node
    k_ok kdev keys import dev --dev "$GENESIS"
    for who in alice bob; do
        k_ok "k$who" keys new --kdf-opslimit 1 --kdf-memlimit-mib 1 "$who"
        PK=$(sed -n 's/^public key \([0-9a-f]\{64\}\)$/\1/p' "$TMP/k$who.out")
        k_ok "adm$who" propose --key dev admit --pubkey "$PK" --name "$who" --sector food \
            --credit-limit 500
        P=$(txid "adm$who")
        [ "$who" = alice ] || pass "padm$who" "$P"
    done
    k_ok mem --json member bob
    ok "alice and bob admitted"
}
