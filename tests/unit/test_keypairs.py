"""cloud.identity.keypairs without a database: names, key parsing and fingerprints, checked
against what `ssh-keygen` and `openssl` print for real keys and certificates."""

import base64
import hashlib
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from cloud.api.errors import BadRequest
from cloud.identity import keypairs
from cloud.identity.keypairs import InvalidKeypair

KEY_KINDS = [
    ("rsa", "2048", "RSA"),
    ("rsa", "4096", "RSA"),
    ("ed25519", None, "ED25519"),
    ("ecdsa", "256", "ECDSA"),
    ("ecdsa", "384", "ECDSA"),
    ("ecdsa", "521", "ECDSA"),
]


def _keygen(directory: Path, kind: str, bits: str | None) -> Path:
    path = directory / f"id_{kind}{bits or ''}"
    argv = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "tester@example", "-f", str(path)]
    if bits:
        argv += ["-b", bits]
    subprocess.run(argv, check=True, capture_output=True)
    return path.with_suffix(".pub")


def _ssh_keygen_md5(path: Path) -> tuple[str, str]:
    """(fingerprint, key kind) from `ssh-keygen -l -E md5 -f`:
    '2048 MD5:aa:bb:... tester@example (RSA)'."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out[1].startswith("MD5:")
    return out[1].removeprefix("MD5:"), out[-1].strip("()")


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory) -> dict[tuple[str, str | None], Path]:
    directory = tmp_path_factory.mktemp("keys")
    return {(kind, bits): _keygen(directory, kind, bits) for kind, bits, _ in KEY_KINDS}


@pytest.mark.parametrize(("kind", "bits", "label"), KEY_KINDS)
def test_fingerprint_matches_ssh_keygen(ssh_keys, kind, bits, label):
    path = ssh_keys[(kind, bits)]
    expected, printed_kind = _ssh_keygen_md5(path)
    assert printed_kind == label
    assert keypairs.ssh_fingerprint(path.read_text()) == expected
    assert keypairs.fingerprint(path.read_text(), keypairs.SSH) == expected


def test_key_without_comment_or_newline(ssh_keys):
    path = ssh_keys[("ed25519", None)]
    key_type, blob, _ = path.read_text().split(" ")
    expected, _ = _ssh_keygen_md5(path)
    assert keypairs.ssh_fingerprint(f"{key_type} {blob}") == expected
    assert keypairs.ssh_fingerprint(f"{key_type} {blob}\n") == expected


def _sk_ed25519_line() -> str:
    """A FIDO security-key public key (made without a token: only its public half matters)."""

    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    blob = string(b"sk-ssh-ed25519@openssh.com") + string(b"\x01" * 32) + string(b"ssh:")
    return f"sk-ssh-ed25519@openssh.com {base64.b64encode(blob).decode()} fido@example"


def test_security_key_types_are_accepted(tmp_path):
    path = tmp_path / "sk.pub"
    path.write_text(_sk_ed25519_line() + "\n")
    expected, label = _ssh_keygen_md5(path)
    assert label == "ED25519-SK"
    assert keypairs.ssh_fingerprint(path.read_text()) == expected


def _corrupt(line: str) -> str:
    key_type, blob, *_ = line.split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-3:] = b"\xff\xff\xff"
    return f"{key_type} {base64.b64encode(bytes(raw[:-10])).decode()}"


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda keys: "",
        lambda keys: "not a key",
        lambda keys: "ssh-rsa",
        lambda keys: "ssh-rsa !!!notbase64!!!",
        lambda keys: "ssh-rsa AAAA",
        # The header names one type, the blob holds another.
        lambda keys: "ssh-rsa " + keys[("ed25519", None)].read_text().split(" ")[1],
        lambda keys: "ecdsa-sha2-nistp384 " + keys[("ecdsa", "256")].read_text().split(" ")[1],
        # Truncated blob.
        lambda keys: _corrupt(keys[("rsa", "2048")].read_text()),
        # A private key is not a public key.
        lambda keys: keys[("ed25519", None)].with_suffix("").read_text(),
        # DSA (removed from OpenSSH) and key types nobody has heard of.
        lambda keys: "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        lambda keys: "ssh-foo " + keys[("rsa", "2048")].read_text().split(" ")[1],
        lambda keys: " " + keys[("rsa", "2048")].read_text(),
    ],
)
def test_invalid_ssh_keys_are_rejected(ssh_keys, make_bad):
    with pytest.raises(InvalidKeypair) as caught:
        keypairs.ssh_fingerprint(make_bad(ssh_keys))
    assert caught.value.status_code == 400
    assert str(caught.value.detail).startswith("Keypair data is invalid: failed to generate")


def test_ssh_certificate_is_not_a_key(tmp_path, ssh_keys):
    ca = _keygen(tmp_path, "ed25519", None).with_suffix("")
    user = ssh_keys[("ed25519", None)]
    copy = tmp_path / "user.pub"
    copy.write_text(user.read_text())
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", "id", "-n", "tester", str(copy)],
        check=True,
        capture_output=True,
    )
    certificate = (tmp_path / "user-cert.pub").read_text()
    with pytest.raises(InvalidKeypair):
        keypairs.ssh_fingerprint(certificate)


def _openssl_sha1(pem: str) -> str:
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha1"],
        input=pem,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.strip().split("=", 1)[1].lower()


def test_x509_fingerprint_matches_openssl(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "2"]
        + ["-subj", "/CN=tester", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    pem = cert.read_text()
    assert keypairs.x509_fingerprint(pem) == _openssl_sha1(pem)
    assert keypairs.fingerprint(pem, keypairs.X509) == _openssl_sha1(pem)


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "ssh-rsa AAAA",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    ],
)
def test_invalid_certificates_are_rejected(pem):
    with pytest.raises(InvalidKeypair) as caught:
        keypairs.x509_fingerprint(pem)
    assert str(caught.value.detail).startswith(
        "Keypair data is invalid: failed to generate X509 fingerprint"
    )


def test_generated_ssh_key_pair_is_consistent(tmp_path):
    generated = keypairs.generate_ssh()
    assert generated.public_key.startswith("ssh-rsa ")
    assert generated.public_key.endswith(" Generated-by-Nova")
    private = serialization.load_pem_private_key(generated.private_key.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    derived = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert generated.public_key.startswith(derived.decode())
    path = tmp_path / "generated.pub"
    path.write_text(generated.public_key + "\n")
    assert generated.fingerprint == _ssh_keygen_md5(path)[0]
    assert keypairs.generate_ssh().public_key != generated.public_key


def test_generated_x509_certificate_names_the_user():
    generated = keypairs.generate_x509("0123abcd")
    cert = x509.load_pem_x509_certificate(generated.public_key.encode())
    assert cert.subject.rfc4514_string() == "CN=0123abcd"
    upn = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value[0]
    assert upn.type_id == keypairs.UPN_OID
    assert upn.value == b"\x0c" + bytes([len("0123abcd@localhost")]) + b"0123abcd@localhost"
    assert generated.fingerprint == _openssl_sha1(generated.public_key)
    key, bundled, _ = pkcs12.load_key_and_certificates(
        base64.b64decode(generated.private_key), None
    )
    assert bundled == cert
    assert key.public_key() == cert.public_key()


@pytest.mark.parametrize("length", [1, 127, 128, 300])
def test_der_utf8_lengths(length):
    encoded = keypairs._der_utf8("a" * length)
    assert encoded[0] == 0x0C and encoded.endswith(b"a" * length)
    header = encoded[1 : len(encoded) - length]
    if length < 128:
        assert header == bytes([length])
    else:
        assert header[0] & 0x80 and int.from_bytes(header[1:], "big") == length


GOOD_NAMES = ["k", "my key", "key_1-A", "x" * 255, "0"]
BAD_EVERYWHERE = [
    "",
    "x" * 256,
    " lead",
    "trail ",
    "tab\tname",
    "slash/name",
    "ünï",
    "a:b",
    None,
    7,
]


@pytest.mark.parametrize("name", GOOD_NAMES)
@pytest.mark.parametrize("v292", [False, True])
def test_good_names(name, v292):
    assert keypairs.name_validate(name, allow_at_and_dot=v292) == name


@pytest.mark.parametrize("name", BAD_EVERYWHERE)
@pytest.mark.parametrize("v292", [False, True])
def test_bad_names(name, v292):
    with pytest.raises(BadRequest) as caught:
        keypairs.name_validate(name, allow_at_and_dot=v292)
    assert "field/attribute name" in str(caught.value.detail)


@pytest.mark.parametrize("name", ["me@example.com", "key.pub", "a.b@c"])
def test_at_and_dot_only_from_2_92(name):
    with pytest.raises(BadRequest):
        keypairs.name_validate(name, allow_at_and_dot=False)
    assert keypairs.name_validate(name, allow_at_and_dot=True) == name


def test_fingerprint_is_md5_of_the_blob(ssh_keys):
    line = ssh_keys[("rsa", "2048")].read_text()
    digest = hashlib.md5(base64.b64decode(line.split(" ")[1])).hexdigest()
    assert keypairs.ssh_fingerprint(line).replace(":", "") == digest


def test_nul_characters_are_refused_before_they_reach_the_database(ssh_keys, tmp_path):
    line = ssh_keys[("ed25519", None)].read_text().strip()
    with pytest.raises(InvalidKeypair):
        keypairs.fingerprint(line + "\x00", keypairs.SSH)
    with pytest.raises(InvalidKeypair):
        keypairs.fingerprint("\x00" + line, keypairs.X509)
