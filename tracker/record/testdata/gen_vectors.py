#!/usr/bin/env python3
"""Regenerates vectors.json independently of the Go code (python3 with the
`cryptography` package), so the known-answer test checks Go against a second
implementation of the spec in record's package doc, not against itself."""
import base64, hashlib, json, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw

def key(seed):
    k = Ed25519PrivateKey.from_private_bytes(seed)
    return k, k.public_key().public_bytes(*RAW)

def canonical(name, pub, addrs, seq, expires):
    b = b"p2pchat/record/v1\x00" + bytes([len(name)]) + name.encode() + pub + bytes([len(addrs)])
    for a in addrs:
        b += struct.pack(">H", len(a)) + a.encode()
    return b + struct.pack(">Q", seq) + struct.pack(">q", expires)

def fingerprint(pub):
    h = hashlib.sha256(b"p2pchat/fingerprint/v1\x00" + pub).digest()[:20]
    s = base64.b32encode(h).decode().rstrip("=")
    return "-".join(s[i:i + 4] for i in range(0, len(s), 4))

records_in = [
    ("ed25519 seed 00..1f, two addrs (IPv4 and IPv6 literal)", bytes(range(32)), "alice",
     ["192.0.2.1:7000", "[2001:db8::1]:7000"], 1, 1700000000),
    ("seed all 0x42, no addrs, maximum seq", bytes([0x42]) * 32, "bob_2-x", [], 2**64 - 1, 4102444800),
    ("seed ff..e0, 32-char name, host name address", bytes(range(255, 223, -1)), "z" + "a1_-" * 7 + "xyz",
     ["chat.example.org:65535", "198.51.100.7:1"], 42, 1),
]
out = {"records": [], "rotations": [], "deletions": []}
for comment, seed, name, addrs, seq, exp in records_in:
    k, pub = key(seed)
    c = canonical(name, pub, addrs, seq, exp)
    sig = k.sign(c)
    wire = json.dumps({"name": name, "public_key": base64.b64encode(pub).decode(), "addrs": addrs,
                       "seq": seq, "expires": exp, "signature": base64.b64encode(sig).decode()},
                      separators=(",", ":"))
    out["records"].append({"comment": comment, "seed_hex": seed.hex(), "name": name, "addrs": addrs,
                           "seq": seq, "expires": exp, "public_key_hex": pub.hex(),
                           "canonical_hex": c.hex(), "signature_hex": sig.hex(),
                           "fingerprint": fingerprint(pub), "json": wire})

# The key of record 0 authorises record 1's key (rotation), and record 0's
# owner deletes "alice" at seq 2.
old, _ = key(records_in[0][1])
rot = b"p2pchat/rotate/v1\x00" + bytes.fromhex(out["records"][1]["canonical_hex"])
out["rotations"].append({"comment": "seed 00..1f authorises record 1", "old_seed_hex": records_in[0][1].hex(),
                         "record_index": 1, "message_hex": rot.hex(), "signature_hex": old.sign(rot).hex()})
_, pub0 = key(records_in[0][1])
d = b"p2pchat/delete/v1\x00" + bytes([5]) + b"alice" + pub0 + struct.pack(">Q", 2)
out["deletions"].append({"comment": "seed 00..1f deletes alice at seq 2", "seed_hex": records_in[0][1].hex(),
                         "name": "alice", "seq": 2, "canonical_hex": d.hex(), "signature_hex": old.sign(d).hex()})
print(json.dumps(out, indent=2))
