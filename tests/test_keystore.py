"""The encrypted key file: sealed with scrypt + AES-GCM, refused when the passphrase is wrong or the file
was changed, never holding the key or mnemonic in plain text, and written 0600 atomically."""

import json
import os
import stat
import subprocess
import sys

import pytest

from addon.farm.keystore import (
    KeystoreError,
    WrongPassphrase,
    create_keystore,
    load_keystore,
    read_passphrase,
)
from addon.stacks import keys

# Cheap KDF for tests; the default (2**17) is checked once in test_default_kdf_cost.
FAST = {"scrypt_n": 2**10}
MNEMONIC = ("twice kind fence tip hidden tilt action fragile skin nothing glory cousin green tomorrow "
            "spring wrist shed math olympic multiply hip blue scout claw")


def test_round_trip_with_mnemonic(tmp_path):
    path = tmp_path / "provider.key"
    store = create_keystore(path, "correct horse", mnemonic=MNEMONIC, **FAST)
    expected_key = keys.derive_private_key(MNEMONIC, 0)
    assert store.address == keys.address_from_private_key(expected_key, "testnet")
    loaded = load_keystore(path)
    assert loaded.address == store.address and loaded.network == "testnet"
    unlocked = loaded.unlock("correct horse")
    assert unlocked.private_key == expected_key
    assert unlocked.mnemonic == MNEMONIC
    assert "hidden" in repr(unlocked) and expected_key not in repr(unlocked)


def test_fresh_key_and_given_key(tmp_path):
    fresh = create_keystore(tmp_path / "a.key", "pw", **FAST)
    assert fresh.unlock("pw").mnemonic is None
    assert keys.address_from_private_key(fresh.unlock("pw").private_key, "testnet") == fresh.address
    given = keys.make_private_key()
    store = create_keystore(tmp_path / "b.key", "pw", private_key=given, network="mainnet", **FAST)
    assert store.address.startswith("SP")
    assert load_keystore(tmp_path / "b.key").unlock("pw").private_key == given


def test_secrets_never_in_plain_text(tmp_path):
    path = tmp_path / "provider.key"
    create_keystore(path, "pw", mnemonic=MNEMONIC, **FAST)
    raw = path.read_bytes()
    secret = keys.derive_private_key(MNEMONIC, 0)
    for needle in (secret, secret[:64], bytes.fromhex(secret[:64]).hex().upper()):
        assert needle.encode() not in raw
    assert bytes.fromhex(secret[:64]) not in raw
    words = MNEMONIC.split()
    for pair in zip(words, words[1:], strict=False):  # single words like "kind" may appear in the JSON keys
        assert " ".join(pair).encode() not in raw, pair
    assert b"twice" not in raw and b"olympic" not in raw
    doc = json.loads(raw)
    assert set(doc) == {"version", "kind", "network", "address", "kdf", "cipher", "check", "ciphertext"}


def test_file_is_owner_only_and_not_overwritten(tmp_path):
    path = tmp_path / "sub" / "provider.key"
    create_keystore(path, "pw", **FAST)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["provider.key"]  # no temp file left behind
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="already exists"):
        create_keystore(path, "pw", **FAST)
    assert path.read_bytes() == before


def test_wrong_passphrase_refused(tmp_path):
    store = create_keystore(tmp_path / "k", "right", **FAST)
    with pytest.raises(WrongPassphrase, match="wrong passphrase.*" + store.address):
        store.unlock("wrong")
    with pytest.raises(WrongPassphrase):
        store.unlock("")


@pytest.mark.parametrize("field", ["ciphertext", "address", "network_kdf_salt", "nonce"])
def test_tampered_file_refused(tmp_path, field):
    path = tmp_path / "k"
    create_keystore(path, "pw", **FAST)
    doc = json.loads(path.read_text())
    if field == "ciphertext":
        ct = bytearray.fromhex(doc["ciphertext"])
        ct[5] ^= 1
        doc["ciphertext"] = ct.hex()
    elif field == "address":  # an attacker swaps in their own address to receive the earnings
        doc["address"] = keys.address_from_private_key(keys.make_private_key(), "testnet")
    elif field == "network_kdf_salt":
        doc["kdf"]["salt"] = "00" * 16
    else:
        doc["cipher"]["nonce"] = "11" * 12
    path.write_text(json.dumps(doc))
    with pytest.raises(KeystoreError) as info:
        load_keystore(path).unlock("pw")
    if field == "network_kdf_salt":  # a different salt stretches to a different key: looks like a wrong passphrase
        assert isinstance(info.value, WrongPassphrase)
    else:
        assert not isinstance(info.value, WrongPassphrase)
        assert "altered" in str(info.value)


@pytest.mark.parametrize("content, reason", [
    (b"not json", "not a valid key file"),
    (json.dumps({"kind": "something else"}).encode(), "not a render-farm keystore"),
    (None, "scrypt parameters out of range"),
])
def test_malformed_files_refused(tmp_path, content, reason):
    path = tmp_path / "k"
    create_keystore(path, "pw", **FAST)
    if content is None:  # a hostile file asking for a gigantic scrypt cost is refused before any work
        doc = json.loads(path.read_text())
        doc["kdf"]["n"] = 2**30
        content = json.dumps(doc).encode()
    path.write_bytes(content)
    with pytest.raises(KeystoreError, match=reason):
        load_keystore(path)


def test_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(KeystoreError, match="keygen"):
        load_keystore(tmp_path / "nope.key")


def test_bad_inputs(tmp_path):
    with pytest.raises(KeystoreError, match="empty passphrase"):
        create_keystore(tmp_path / "k", "", **FAST)
    with pytest.raises(KeystoreError, match="not a valid BIP-39"):
        create_keystore(tmp_path / "k", "pw", mnemonic="twice kind fence", **FAST)
    with pytest.raises(KeystoreError, match="not account 0"):
        create_keystore(tmp_path / "k", "pw", mnemonic=MNEMONIC, private_key=keys.make_private_key(), **FAST)
    with pytest.raises(KeystoreError, match="cannot store this key"):
        create_keystore(tmp_path / "k", "pw", private_key="abcd", **FAST)
    assert not (tmp_path / "k").exists()


def test_default_kdf_cost(tmp_path):
    store = create_keystore(tmp_path / "k", "pw")
    assert store.document["kdf"]["n"] == 2**17
    assert load_keystore(tmp_path / "k").unlock("pw").private_key


def test_read_passphrase_sources(monkeypatch):
    read_end, write_end = os.pipe()
    os.write(write_end, b"from fd\nsecond line\n")
    os.close(write_end)
    monkeypatch.setenv("TEST_FARM_PASS", "from env")
    assert read_passphrase(env_var="TEST_FARM_PASS", fd=read_end) == "from fd"  # fd wins
    os.close(read_end)
    assert read_passphrase(env_var="TEST_FARM_PASS") == "from env"
    monkeypatch.delenv("TEST_FARM_PASS")
    with pytest.raises(KeystoreError, match="TEST_FARM_PASS"):
        read_passphrase(env_var="TEST_FARM_PASS", prompt=False)


def test_read_passphrase_prompts_on_a_terminal(tmp_path):
    """getpass on a real pseudo-terminal: the passphrase typed is what comes back."""
    script = ("from addon.farm.keystore import read_passphrase; "
              "print('GOT', repr(read_passphrase(env_var=None)))")
    pid, fd = os.forkpty()
    if pid == 0:  # child: run the prompt on the pty
        os.execv(sys.executable, [sys.executable, "-c", script])
    try:
        out = b""
        while b"passphrase" not in out:
            out += os.read(fd, 1024)
        os.write(fd, b"typed secret\n")
        while b"GOT" not in out or not out.rstrip().endswith(b"'"):
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            out += chunk
    finally:
        _, status = os.waitpid(pid, 0)
    assert b"GOT 'typed secret'" in out
    assert os.waitstatus_to_exitcode(status) == 0


def test_nothing_secret_in_subprocess_env_when_using_fd(tmp_path):
    """The documented service pattern: the passphrase on fd 3 from a file, nothing in the environment."""
    path = tmp_path / "k"
    create_keystore(path, "pw", **FAST)
    secret_file = tmp_path / "pass"
    secret_file.write_text("pw\n")
    code = ("import sys; from addon.farm.keystore import load_keystore, read_passphrase; "
            f"print(load_keystore({str(path)!r}).unlock(read_passphrase(fd=int(sys.argv[1]), prompt=False))"
            ".private_key[:4])")
    with open(secret_file) as f:
        result = subprocess.run([sys.executable, "-c", code, str(f.fileno())], pass_fds=(f.fileno(),),
                                capture_output=True, text=True, cwd=os.getcwd(),
                                env={k: v for k, v in os.environ.items() if "PASS" not in k})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == load_keystore(path).unlock("pw").private_key[:4]
