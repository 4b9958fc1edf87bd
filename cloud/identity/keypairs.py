"""Key pairs: the SSH public keys (and x509 certificates) users give to their servers by name.

This module owns everything about them: validating names, parsing keys and
certificates, fingerprints as Nova computes them (MD5 of the SSH key blob,
SHA-1 of the certificate's DER, colon-separated hex), generating key pairs
server-side, and the per-user reads and writes of KeyPair rows. Key pairs
belong to a user, not a project: nobody else sees them unless an admin names
the user. A generated private key is returned once and never stored.
"""

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.identity.models import KeyPair, User

SSH = "ssh"
X509 = "x509"
TYPES = (SSH, X509)

# What OpenSSH guests accept in authorized_keys and the cryptography package parses.
# DSA (dropped by OpenSSH) and certificates (not a key) are refused.
SSH_KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)

NAME_MAX = 255
# Nova's name patterns: 2.92 added '@' and '.'; a name never starts or ends with a space.
_NAME_RE = re.compile(r"^[_\- a-zA-Z0-9]+$")
_NAME_RE_292 = re.compile(r"^[_\-@. a-zA-Z0-9]+$")

GENERATED_KEY_BITS = 2048
# Nova's comment on the keys it generates; tools that look for it keep working.
GENERATED_COMMENT = "Generated-by-Nova"
X509_VALID_DAYS = 3650
# Microsoft's User Principal Name, which WinRM certificate authentication maps to a user.
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")


class InvalidKeypair(BadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Keypair data is invalid: {reason}")


class KeypairNotFound(NotFound):
    def __init__(self, *, name: str, user_id: str) -> None:
        super().__init__(f"Keypair {name} not found for user {user_id}")


class KeyPairExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"Key pair '{name}' already exists.")


@dataclass(frozen=True)
class GeneratedKeyPair:
    private_key: str
    public_key: str
    fingerprint: str


def name_validate(name: object, *, allow_at_and_dot: bool) -> str:
    """The name, if Nova's schema accepts it at this microversion (2.92 allows '@' and '.')."""
    if not isinstance(name, str):
        raise BadRequest(f"Invalid input for field/attribute name. Value: {name!r} is not a string")
    if not 1 <= len(name) <= NAME_MAX:
        raise BadRequest(
            f"Invalid input for field/attribute name. Value: {name}. "
            f"The name must be 1 to {NAME_MAX} characters long."
        )
    pattern = _NAME_RE_292 if allow_at_and_dot else _NAME_RE
    if not pattern.match(name) or name[0] == " " or name[-1] == " ":
        allowed = "letters, digits, spaces, '_', '-'" + (", '@', '.'" if allow_at_and_dot else "")
        raise BadRequest(
            f"Invalid input for field/attribute name. Value: {name}. "
            f"A key pair name may hold only {allowed}, and cannot start or end with a space."
        )
    return name


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def ssh_fingerprint(public_key: str) -> str:
    """Parse an OpenSSH public key line; its MD5 fingerprint as `ssh-keygen -l -E md5` prints it."""
    fields = public_key.split(" ")
    if fields[0] not in SSH_KEY_TYPES:
        supported = ", ".join(sorted(SSH_KEY_TYPES))
        raise InvalidKeypair(
            f"failed to generate fingerprint: key type {fields[0][:40]!r} is not one of {supported}"
        )
    try:
        serialization.load_ssh_public_key(public_key.encode())
        blob = base64.b64decode(fields[1])
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKeypair(f"failed to generate fingerprint: {exc}") from exc
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(certificate: str) -> str:
    """Parse a PEM certificate; the SHA-1 of its DER, colon-separated hex."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidKeypair(f"failed to generate X509 fingerprint. Error message: {exc}") from exc
    # SHA-1 because that is the fingerprint Nova shows, not for any security purpose.
    return _colon_hex(cert.fingerprint(hashes.SHA1()))


def fingerprint(public_key: str, key_type: str = SSH) -> str:
    """The fingerprint of a key (or certificate) about to be stored."""
    if "\x00" in public_key:
        # Parsers ignore a comment or text around a PEM block; the database refuses NUL.
        raise InvalidKeypair("the key contains a NUL character")
    return x509_fingerprint(public_key) if key_type == X509 else ssh_fingerprint(public_key)


def generate_ssh() -> GeneratedKeyPair:
    """A new RSA key pair: the private key in PEM, the public key as an OpenSSH line."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=GENERATED_KEY_BITS)
    private_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    public_key = f"{line.decode()} {GENERATED_COMMENT}"
    return GeneratedKeyPair(private_key, public_key, ssh_fingerprint(public_key))


def _der_utf8(text: str) -> bytes:
    """DER encoding of an ASN.1 UTF8String (an OtherName's value must be DER)."""
    data = text.encode()
    if len(data) < 0x80:
        length = bytes([len(data)])
    else:
        size = (len(data).bit_length() + 7) // 8
        length = bytes([0x80 | size]) + len(data).to_bytes(size, "big")
    return b"\x0c" + length + data


def generate_x509(user_id: str) -> GeneratedKeyPair:
    """A self-signed client certificate for WinRM, as Nova makes: CN and UPN name the user.

    The private key comes back as base64 of a PKCS#12 bundle holding key and certificate.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=GENERATED_KEY_BITS)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=X509_VALID_DAYS))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.OtherName(UPN_OID, _der_utf8(f"{user_id}@localhost"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certificate = cert.public_bytes(serialization.Encoding.PEM).decode()
    bundle = pkcs12.serialize_key_and_certificates(
        None, key, cert, None, serialization.NoEncryption()
    )
    return GeneratedKeyPair(
        base64.b64encode(bundle).decode(), certificate, x509_fingerprint(certificate)
    )


# --- reads ---------------------------------------------------------------------------


def keypair_list(*, user_id: str, marker: str | None = None) -> QuerySet[KeyPair]:
    """A user's key pairs by name; with a marker, those after the named one (400 if unknown)."""
    qs = KeyPair.objects.filter(user_id=user_id).order_by("name")
    if marker is not None:
        if not qs.filter(name=marker).exists():
            raise BadRequest(f"Marker {marker} could not be found.")
        qs = qs.filter(name__gt=marker)
    return qs


def keypair_get(*, user_id: str, name: str) -> KeyPair:
    keypair = KeyPair.objects.filter(user_id=user_id, name=name).first()
    if keypair is None:
        raise KeypairNotFound(name=name, user_id=user_id)
    return keypair


# --- writes --------------------------------------------------------------------------


def _insert(*, user_id: str, name: str, key_type: str, public_key: str, fp: str) -> KeyPair:
    """Insert in a savepoint, so a concurrent twin's unique violation becomes a clean 409."""
    try:
        with transaction.atomic():
            return KeyPair.objects.create(
                user_id=user_id, name=name, type=key_type, public_key=public_key, fingerprint=fp
            )
    except IntegrityError as exc:
        raise KeyPairExists(name) from exc


def _user_check(user_id: str) -> None:
    if not User.objects.filter(id=user_id).exists():
        raise BadRequest(f"User {user_id} could not be found.")


def keypair_import(
    *, context: RequestContext, user_id: str, name: str, public_key: str, key_type: str = SSH
) -> KeyPair:
    """Store a user's existing public key or certificate under a name.

    Checks in Nova's order: quota (403), the key itself (400), the name's uniqueness (409).
    """
    _user_check(user_id)
    with transaction.atomic():
        quotas.quota_enforce(
            project_id=context.project_id, user_id=user_id, deltas={"key_pairs": 1}
        )
        fp = fingerprint(public_key, key_type)
        return _insert(user_id=user_id, name=name, key_type=key_type, public_key=public_key, fp=fp)


def keypair_generate(
    *, context: RequestContext, user_id: str, name: str, key_type: str = SSH
) -> tuple[KeyPair, str]:
    """Generate a key pair and store its public half; the private key is the caller's to hand
    back once."""
    _user_check(user_id)
    generated = generate_x509(user_id) if key_type == X509 else generate_ssh()
    with transaction.atomic():
        quotas.quota_enforce(
            project_id=context.project_id, user_id=user_id, deltas={"key_pairs": 1}
        )
        keypair = _insert(
            user_id=user_id,
            name=name,
            key_type=key_type,
            public_key=generated.public_key,
            fp=generated.fingerprint,
        )
    return keypair, generated.private_key


def keypair_delete(*, user_id: str, name: str) -> None:
    deleted, _ = KeyPair.objects.filter(user_id=user_id, name=name).delete()
    if not deleted:
        raise KeypairNotFound(name=name, user_id=user_id)
