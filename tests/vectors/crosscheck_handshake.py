#!/usr/bin/python3
"""crosscheck_handshake.py -- proto/vectors/handshake.json without libsodium.

Recomputes, with Python's hashlib and the 'cryptography' package (Debian's
python3-cryptography) plus a hand-written HChaCha20 and secretstream, what
tests/vectors/gen_handshake.c made with libsodium (proto/SPEC.md section 11):

  - the ephemeral X25519 key pairs from their seeds and the crypto_kx session
    keys (BLAKE2b-512 of the shared secret and both public keys);
  - the HELLOs, the transcript H(HELLO_i || HELLO_r), the AUTH encodings and
    their signing digests;
  - every sealed frame: both AUTHs, the application messages, the sealed
    invalid AUTHs (including the FINAL and REKEY tags), and the two whole
    streams byte for byte.

BIP-340 signatures are not recomputed here (tests/unit/test_handshake.c
verifies them with libsecp256k1).

    /usr/bin/python3 tests/vectors/crosscheck_handshake.py [proto/vectors/handshake.json]

Exit status: 0 if everything matched, 1 otherwise, 2 if 'cryptography' is
missing.
"""
import hashlib
import json
import os
import struct
import sys

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
    from cryptography.hazmat.primitives.poly1305 import Poly1305
except ImportError:
    print("crosscheck_handshake: python3-cryptography is not installed", file=sys.stderr)
    sys.exit(2)

TAG_MESSAGE, TAG_REKEY = 0, 2


def H(b):
    return hashlib.blake2b(b, digest_size=32).digest()


def rotl(v, c):
    return ((v << c) & 0xffffffff) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = rotl(s[b] ^ s[c], 7)


def hchacha20(key, n16):
    s = list(struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) +
             struct.unpack("<4I", n16))
    for _ in range(10):
        quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13)
        quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12)
        quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def chacha20(key, counter, nonce12, data):
    enc = Cipher(algorithms.ChaCha20(key, struct.pack("<I", counter) + nonce12), None).encryptor()
    return enc.update(data)


class SecretStream:
    """libsodium's crypto_secretstream_xchacha20poly1305, push side, no AD."""

    def __init__(self, key, header):
        self.k = hchacha20(key, header[:16])
        self.inonce = header[16:24]
        self.counter = 1
        self.rekeyed = False

    def push(self, m, tag=TAG_MESSAGE):
        if self.rekeyed:
            raise ValueError("the state after a rekey is not modelled (the vectors need none)")
        nonce = struct.pack("<I", self.counter) + self.inonce
        poly = Poly1305(chacha20(self.k, 0, nonce, bytes(64))[:32])
        block = chacha20(self.k, 1, nonce, bytes([tag]) + bytes(63))
        c = chacha20(self.k, 2, nonce, m)
        poly.update(block)
        poly.update(c)
        # libsodium pads with (0x10 - sizeof block + mlen) & 0xf bytes: mlen mod 16.
        poly.update(bytes((0x10 - 64 + len(m)) & 0xf))
        poly.update(struct.pack("<QQ", 0, 64 + len(m)))
        mac = poly.finalize()
        self.inonce = bytes(a ^ b for a, b in zip(self.inonce, mac[:8]))
        self.counter = (self.counter + 1) & 0xffffffff
        # REKEY and FINAL (which has the REKEY bit) rekey after the frame.
        self.rekeyed = bool(tag & TAG_REKEY) or self.counter == 0
        return bytes([block[0]]) + c + mac


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "proto",
                                                               "vectors", "handshake.json")
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    x = bytes.fromhex
    checks = 0

    def same(what, got, want):
        nonlocal checks
        if got != want:
            raise AssertionError("%s: got %s, want %s" % (what, got.hex(), want.hex()))
        checks += 1

    sides = {"initiator": d["initiator"], "responder": d["responder"]}
    for name, s in sides.items():
        sk = hashlib.blake2b(x(s["kx_seed"]), digest_size=32).digest()
        same(name + " kx secret key", sk, x(s["kx_secret_key"]))
        pk = X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        same(name + " kx public key", pk, x(s["kx_public_key"]))
    ini, res = sides["initiator"], sides["responder"]
    q = X25519PrivateKey.from_private_bytes(x(ini["kx_secret_key"])).exchange(
        X25519PublicKey.from_public_bytes(x(res["kx_public_key"])))
    keys = hashlib.blake2b(q + x(ini["kx_public_key"]) + x(res["kx_public_key"]),
                           digest_size=64).digest()
    same("initiator rx", keys[:32], x(ini["rx"]))
    same("initiator tx", keys[32:], x(ini["tx"]))
    same("responder rx", keys[32:], x(res["rx"]))
    same("responder tx", keys[:32], x(res["tx"]))

    valid = {v["name"]: v for v in d["valid"]}
    tag = x(d["tag"])
    same("tag", tag, b"kula/handshake/1")
    hellos = {}
    for name, s in sides.items():
        hello = (b"\x94\x01\xc4\x20" + x(d["chain_id"]) + b"\xc4\x20" + x(s["kx_public_key"]) +
                 b"\xc4\x20" + x(s["nonce"]))
        same("HELLO " + name, hello, x(valid["hello-" + name]["hex"]))
        hellos[name] = hello
    transcript = H(hellos["initiator"] + hellos["responder"])
    same("transcript", transcript, x(d["transcript"]))

    for role, name in enumerate(("initiator", "responder")):
        s, v = sides[name], valid["auth-" + name]
        same("signed bytes " + name, transcript + bytes([role]), x(v["signed_bytes"]))
        same("sighash " + name, H(tag + x(d["chain_id"]) + transcript + bytes([role])),
             x(v["sighash"]))
        auth = b"\x92\xc4\x20" + x(s["public_key"]) + b"\xc4\x40" + x(v["fields"]["sig"])
        same("AUTH " + name, auth, x(v["hex"]))
        ss = SecretStream(x(s["tx"]), x(s["header"]))
        sealed = ss.push(auth)
        same("sealed AUTH " + name, sealed, x(v["sealed_hex"]))
        stream = b""
        for frame in (hellos[name], x(s["header"]), sealed):
            stream += struct.pack(">I", len(frame)) + frame
        for m in d["messages"]:
            if m["from"] == name:
                c = ss.push(x(m["plaintext_hex"]))
                same("sealed message", c, x(m["sealed_hex"]))
                stream += struct.pack(">I", len(c)) + c
        same(name + " stream", stream, x(d[name + "_stream"]))

    for v in d["invalid"]:
        if "auth_hex" not in v:
            continue
        peer = res if v["target"] == "initiator" else ini
        c = SecretStream(x(peer["tx"]), x(peer["header"])).push(x(v["auth_hex"]),
                                                                 v["stream_tag"])
        same("invalid " + v["name"], c, x(v["hex"]))
    print("crosscheck_handshake: %d checks passed" % checks)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("crosscheck_handshake: FAIL %s" % e)
        sys.exit(1)
