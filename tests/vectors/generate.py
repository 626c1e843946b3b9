"""Shared test vectors for cobo-oauth, made by an implementation independent of the core.

Writes signing.json, keys.json and verify.json next to this script. The expected values
come from PyNaCl (libsodium Ed25519) and hashlib, never from the code under test.
Everything is fixed (key seeds, nonces, timestamps), so a run gives byte-identical files.

Run from the repository root:

    python -m venv /tmp/vec && /tmp/vec/bin/pip install pynacl && /tmp/vec/bin/python tests/vectors/generate.py

Check the committed files without rewriting them (recomputes every case, checks each
expected validity with PyNaCl, and checks that generating again gives the same bytes):

    /tmp/vec/bin/python tests/vectors/generate.py --check
"""

import hashlib
import json
import re
import sys
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

HERE = Path(__file__).resolve().parent

# Values from Cobo's API reference examples (seeds/ in the project notes).
CLIENT_ID = "pvSwS8iFrfK0oZrB0ugG54XPDOLEv0Ij"
ORG_ID = "e3986401-4aec-480a-973d-e775a4518413"
ACCESS_TOKEN = "AnCEPEp5Q8qjAOA1Lb6kVd2OlkCyJnMTeMPdLbPOM8cz176Eb5y7EJoUjJJ0vkzz"
REFRESH_TOKEN = "rK49jI0zt49gsttzscscik15Asmlpu1TdcxqguJJS8B9f6ilJEC0y3PbVqwsEAw5"
TOKEN_PATH = "/v2/oauth/token"

HEX64 = re.compile(r"[0-9a-fA-F]{64}")
HEX128 = re.compile(r"[0-9a-fA-F]{128}")
# What the core trims from a key input: ASCII space, tab, line feed, form feed, carriage
# return (Rust's u8::is_ascii_whitespace; vertical tab is not in it).
ASCII_WS = " \t\n\x0c\r"


def seed_for(label: str) -> bytes:
    """A fixed 32-byte Ed25519 seed: SHA-256 of a label."""
    return hashlib.sha256(label.encode("utf-8")).digest()


APP_SEED_A = seed_for("cobo-oauth test vectors: app key A")
APP_SEED_B = seed_for("cobo-oauth test vectors: app key B")
COBO_SEED = seed_for("cobo-oauth test vectors: Cobo response key")
OTHER_SEED = seed_for("cobo-oauth test vectors: some other key")


def public_hex(seed: bytes) -> str:
    return SigningKey(seed).verify_key.encode().hex()


def double_sha256(text: str) -> bytes:
    return hashlib.sha256(hashlib.sha256(text.encode("utf-8")).digest()).digest()


def sign_digest(seed: bytes, digest: bytes) -> str:
    return SigningKey(seed).sign(digest).signature.hex()


def verify_sig(public_key_hex: str, body: str, timestamp: str, signature: str) -> bool:
    """Reference response check: strict hex (either case), 64 bytes, Ed25519 over the digest."""
    if not HEX128.fullmatch(signature):
        return False
    digest = double_sha256(body + "|" + timestamp)
    try:
        VerifyKey(bytes.fromhex(public_key_hex)).verify(digest, bytes.fromhex(signature))
    except BadSignatureError:
        return False
    return True


def parse_key(text: str):
    """Reference key parser: returns the public key hex, or None when the key is invalid."""
    text = text.strip(ASCII_WS)
    if HEX64.fullmatch(text):
        return public_hex(bytes.fromhex(text))
    if HEX128.fullmatch(text):
        pub = public_hex(bytes.fromhex(text[:64]))
        return pub if pub == text[64:].lower() else None
    return None


# --- signing.json ---------------------------------------------------------------------

def long_body() -> str:
    """A deterministic JSON body of exactly 4096 bytes."""
    head, tail = '{"blob":"', '"}'
    chunks, block = [], b"cobo-oauth long body"
    while sum(map(len, chunks)) < 4096:
        block = hashlib.sha256(block).digest()
        chunks.append(block.hex())
    return head + "".join(chunks)[: 4096 - len(head) - len(tail)] + tail


TOKEN_QUERY = f"client_id={CLIENT_ID}&org_id={ORG_ID}&grant_type=org_implicit"
REFRESH_BODY = (
    f'{{"client_id": "{CLIENT_ID}", "grant_type": "refresh_token", '
    f'"refresh_token": "{REFRESH_TOKEN}"}}'
)

# (name, seed, method, path, nonce, query, body)
SIGNING_INPUTS = [
    ("get_org_token", APP_SEED_A, "GET", TOKEN_PATH, "1718000000000", TOKEN_QUERY, ""),
    ("refresh_org_token", APP_SEED_A, "POST", TOKEN_PATH, "1718000000001", "", REFRESH_BODY),
    ("empty_query_and_body", APP_SEED_A, "GET", TOKEN_PATH, "1718000000002", "", ""),
    ("percent_encoded_query", APP_SEED_A, "GET", TOKEN_PATH, "1718000000003", "a=b%20c&x=%2B", ""),
    ("non_ascii_body", APP_SEED_A, "POST", TOKEN_PATH, "1718000000004", "", '{"memo":"付款 ✓"}'),
    ("body_with_pipes", APP_SEED_A, "POST", TOKEN_PATH, "1718000000005", "", '{"note":"a|b||c|"}'),
    ("query_and_body", APP_SEED_A, "POST", TOKEN_PATH, "1718000000006", "dry_run=true", '{"k":"v"}'),
    ("get_org_token_same_nonce_key_b", APP_SEED_B, "GET", TOKEN_PATH, "1718000000000", TOKEN_QUERY, ""),
    ("get_org_token_next_nonce", APP_SEED_A, "GET", TOKEN_PATH, "1718000000007", TOKEN_QUERY, ""),
    ("long_body_4096_bytes", APP_SEED_B, "POST", TOKEN_PATH, "1718000000008", "", long_body()),
]


def signing_case(name, seed, method, path, nonce, query, body):
    content = "|".join([method, path, nonce, query, body])
    digest = double_sha256(content)
    return {
        "name": name,
        "private_key_hex": seed.hex(),
        "api_key": public_hex(seed),
        "method": method,
        "path": path,
        "nonce": nonce,
        "query": query,
        "body": body,
        "content": content,
        "digest": digest.hex(),
        "signature": sign_digest(seed, digest),
    }


def signing_doc():
    return {
        "description": (
            "CoboAuth request signing. content = METHOD|PATH|nonce|QUERY|BODY; "
            "digest = hex(SHA-256(SHA-256(content as UTF-8))); signature = hex(Ed25519 "
            "signature of the 32 raw digest bytes with the seed private_key_hex); api_key = "
            "hex public key. Query and body are exactly as sent. Made by generate.py "
            "(PyNaCl + hashlib)."
        ),
        "cases": [signing_case(*args) for args in SIGNING_INPUTS],
    }


# --- keys.json ------------------------------------------------------------------------

def keys_doc():
    seed = APP_SEED_A.hex()
    pub = public_hex(APP_SEED_A)
    other_pub = public_hex(OTHER_SEED)
    inputs = [
        ("seed_64_hex_lower", seed),
        ("seed_64_hex_upper", seed.upper()),
        ("seed_and_public_128_hex", seed + pub),
        ("seed_and_public_128_hex_upper", (seed + pub).upper()),
        ("seed_and_mismatched_public_128_hex", seed + other_pub),
        ("length_63", seed[:63]),
        ("length_65", seed + "0"),
        ("empty", ""),
        ("whitespace_only", " \n"),
        ("non_hex_char_g", "g" + seed[1:]),
        ("inner_space_64_chars", seed[:32] + " " + seed[33:]),
        ("seed_with_trailing_newline", seed + "\n"),
        ("seed_with_surrounding_whitespace", " \t" + seed + " \r\n"),
        ("prefixed_0x", "0x" + seed),
        ("length_127", (seed + pub)[:127]),
    ]
    cases = []
    for name, text in inputs:
        api_key = parse_key(text)
        case = {"name": name, "input": text, "valid": api_key is not None}
        if api_key is None:
            case["error"] = "InvalidKey"
        else:
            case["api_key"] = api_key
        cases.append(case)
    return {
        "description": (
            "App key parsing. Valid inputs, after trimming surrounding ASCII whitespace, are a "
            "64-hex-char Ed25519 seed or the 128-hex-char seed||public form whose public half "
            "matches the seed (hex in either case); api_key is the lower-case public key hex. "
            "Anything else is rejected with InvalidKey."
        ),
        "cases": cases,
    }


# --- verify.json ----------------------------------------------------------------------

TOKEN_BODY = (
    f'{{"access_token": "{ACCESS_TOKEN}", "token_type": "Bearer", "scope": "", '
    f'"expires_in": 43199, "refresh_token": "{REFRESH_TOKEN}"}}'
)


def flip_hex_digit(sig: str, index: int) -> str:
    return sig[:index] + format(int(sig[index], 16) ^ 0x1, "x") + sig[index + 1:]


def verify_doc():
    cobo_pub = public_hex(COBO_SEED)
    other_pub = public_hex(OTHER_SEED)

    def sign(body, ts):
        return sign_digest(COBO_SEED, double_sha256(body + "|" + ts))

    ts = "1718000000123"
    non_ascii = '{"memo":"付款 ✓","note":"a|b"}'
    token_sig = sign(TOKEN_BODY, ts)
    rows = [
        ("token_body", cobo_pub, TOKEN_BODY, ts, token_sig),
        ("empty_body", cobo_pub, "", ts, sign("", ts)),
        ("non_ascii_body", cobo_pub, non_ascii, ts, sign(non_ascii, ts)),
        ("tampered_body", cobo_pub, TOKEN_BODY.replace("43199", "43198"), ts, token_sig),
        ("tampered_timestamp", cobo_pub, TOKEN_BODY, "1718000000124", token_sig),
        ("wrong_public_key", other_pub, TOKEN_BODY, ts, token_sig),
        ("signature_one_hex_digit_flipped", cobo_pub, TOKEN_BODY, ts, flip_hex_digit(token_sig, 10)),
        ("signature_truncated_126_hex", cobo_pub, TOKEN_BODY, ts, token_sig[:126]),
        ("signature_non_hex", cobo_pub, TOKEN_BODY, ts, token_sig[:-1] + "z"),
        ("signature_upper_case_hex", cobo_pub, TOKEN_BODY, ts, token_sig.upper()),
    ]
    return {
        "description": (
            "Response and webhook signature verification. signature = hex(Ed25519 over "
            "SHA-256(SHA-256(body + '|' + timestamp)), body as UTF-8 bytes) made with the "
            "Cobo test key whose public half is public_key_hex (except in wrong_public_key). "
            "valid says whether a verifier must accept it; hex in either case is accepted, "
            "any other length or character is rejected."
        ),
        "cases": [
            {
                "name": name,
                "public_key_hex": pub,
                "body": body,
                "timestamp": tstamp,
                "signature": sig,
                "valid": verify_sig(pub, body, tstamp, sig),
            }
            for name, pub, body, tstamp, sig in rows
        ],
    }


# --- output and checks ----------------------------------------------------------------

EXPECTED_VALID = {
    "token_body": True,
    "empty_body": True,
    "non_ascii_body": True,
    "tampered_body": False,
    "tampered_timestamp": False,
    "wrong_public_key": False,
    "signature_one_hex_digit_flipped": False,
    "signature_truncated_126_hex": False,
    "signature_non_hex": False,
    "signature_upper_case_hex": True,
}
EXPECTED_KEY_VALID = {
    "seed_64_hex_lower", "seed_64_hex_upper", "seed_and_public_128_hex",
    "seed_and_public_128_hex_upper", "seed_with_trailing_newline",
    "seed_with_surrounding_whitespace",
}


def render(doc) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def documents():
    return {
        "signing.json": signing_doc(),
        "keys.json": keys_doc(),
        "verify.json": verify_doc(),
    }


def check_primitives():
    """Known answers, so a broken PyNaCl or hashlib cannot pass silently."""
    assert hashlib.sha256(b"abc").hexdigest() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    # RFC 8032, section 7.1, TEST 1 (empty message).
    sk = SigningKey(bytes.fromhex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    assert sk.verify_key.encode().hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    assert sk.sign(b"").signature.hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def check_signing(doc):
    cases = doc["cases"]
    assert len(cases) >= 8
    assert len({c["name"] for c in cases}) == len(cases)
    for c in cases:
        seed = bytes.fromhex(c["private_key_hex"])
        assert len(c["private_key_hex"]) == 64 and len(c["api_key"]) == 64, c["name"]
        assert public_hex(seed) == c["api_key"], c["name"]
        assert c["method"] in ("GET", "POST"), c["name"]
        content = f'{c["method"]}|{c["path"]}|{c["nonce"]}|{c["query"]}|{c["body"]}'
        assert content == c["content"], c["name"]
        digest = hashlib.sha256(hashlib.sha256(content.encode("utf-8")).digest()).digest()
        assert digest.hex() == c["digest"], c["name"]
        sig = bytes.fromhex(c["signature"])
        assert len(sig) == 64, c["name"]
        VerifyKey(bytes.fromhex(c["api_key"])).verify(digest, sig)  # raises if wrong
        assert SigningKey(seed).sign(digest).signature == sig, c["name"]
    by_name = {c["name"]: c for c in cases}
    assert len(by_name["long_body_4096_bytes"]["body"].encode("utf-8")) == 4096
    assert len({c["api_key"] for c in cases}) == 2
    assert by_name["get_org_token"]["signature"] != by_name["get_org_token_same_nonce_key_b"]["signature"]
    assert by_name["get_org_token"]["signature"] != by_name["get_org_token_next_nonce"]["signature"]
    assert any(ord(ch) > 127 for ch in by_name["non_ascii_body"]["body"])


def check_keys(doc):
    for c in doc["cases"]:
        name, valid = c["name"], c["valid"]
        assert valid == (name in EXPECTED_KEY_VALID), name
        if valid:
            assert "error" not in c and c["api_key"] == parse_key(c["input"]), name
            seed_hex = c["input"].strip(ASCII_WS)[:64]
            assert public_hex(bytes.fromhex(seed_hex)) == c["api_key"], name
        else:
            assert "api_key" not in c and c["error"] == "InvalidKey", name
            assert parse_key(c["input"]) is None, name
    lengths = {c["name"]: len(c["input"]) for c in doc["cases"]}
    assert lengths["length_63"] == 63 and lengths["length_65"] == 65
    assert lengths["length_127"] == 127 and lengths["inner_space_64_chars"] == 64


def check_verify(doc):
    assert {c["name"] for c in doc["cases"]} == set(EXPECTED_VALID)
    for c in doc["cases"]:
        got = verify_sig(c["public_key_hex"], c["body"], c["timestamp"], c["signature"])
        assert got == c["valid"] == EXPECTED_VALID[c["name"]], c["name"]
        if c["valid"]:
            # Independently of verify_sig: the signature is Cobo's, by re-signing.
            digest = double_sha256(c["body"] + "|" + c["timestamp"])
            assert sign_digest(COBO_SEED, digest) == c["signature"].lower(), c["name"]


def main(argv):
    check_primitives()
    docs = documents()
    if argv[1:] == ["--check"]:
        for fname, doc in docs.items():
            on_disk = (HERE / fname).read_text(encoding="utf-8")
            assert on_disk == render(doc), f"{fname} differs from a fresh generation"
        loaded = {f: json.loads((HERE / f).read_text(encoding="utf-8")) for f in docs}
        check_signing(loaded["signing.json"])
        check_keys(loaded["keys.json"])
        check_verify(loaded["verify.json"])
        counts = ", ".join(f"{f}: {len(d['cases'])} cases" for f, d in loaded.items())
        print(f"vectors OK ({counts})")
        return 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    check_signing(docs["signing.json"])
    check_keys(docs["keys.json"])
    check_verify(docs["verify.json"])
    for fname, doc in docs.items():
        (HERE / fname).write_text(render(doc), encoding="utf-8", newline="\n")
        print(f"wrote {HERE / fname}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
