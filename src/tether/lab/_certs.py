"""Certificates for the lab's TLS scenarios, made fresh for every lab.

trustme makes the CA-issued ones (valid, expired, not yet valid, wrong host,
unknown CA, one without its intermediate); a self-signed leaf and a chain
through an expired intermediate are what it cannot make, so those come from
cryptography directly.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

# Names every valid lab certificate answers to.
IDENTITIES = ("localhost", "127.0.0.1", "::1", "ok.lab.test")


@dataclass(frozen=True, slots=True)
class LabCerts:
    """Paths of the PEM files a lab's TLS servers use."""

    directory: Path
    ca_file: Path
    """The CA that clients trust to reach the lab's healthy TLS server."""
    valid: Path
    expired: Path
    not_yet_valid: Path
    wrong_host: Path
    unknown_ca: Path
    self_signed: Path
    no_intermediate: Path
    """A leaf signed by an intermediate of the lab CA, served without the intermediate."""
    expired_intermediate: Path
    """A valid leaf served with its intermediate, which expired yesterday."""
    weak_key: Path
    """A leaf of the lab CA with a 1024-bit RSA key, too weak for OpenSSL's default level."""
    expired_root: Path
    """A valid leaf of a root CA that expired yesterday (key and leaf)."""
    expired_root_ca: Path
    """That root alone: the only CA of a client whose bundle lacks its successor."""

    def server_context(
        self,
        chain: Path,
        *,
        maximum: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
        client_ca: Path | None = None,
    ) -> ssl.SSLContext:
        """A server context presenting ``chain`` (key and certificates in one PEM).

        ``ciphers`` restricts TLS 1.2 to those suites (and turns TLS 1.3 off);
        ``client_ca`` makes the server require a client certificate it signed.
        """
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if ciphers is not None:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(ciphers)
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        if maximum is not None:
            # An old-protocol server: OpenSSL 3 refuses TLS < 1.2 at the default
            # security level, so lower it the way legacy servers are configured.
            with warnings.catch_warnings():  # deliberately old: that is the scenario
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = maximum
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        if chain == self.weak_key:  # OpenSSL's default level will not even load it
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.load_cert_chain(chain)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the lab CA (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_certs(directory: Path | None = None) -> LabCerts:
    """Write a fresh set of lab certificates into ``directory`` (a new temp dir by default,
    which is the caller's to remove, and is removed here if writing fails)."""
    if directory is not None:
        return _make_certs(Path(directory))
    root = Path(tempfile.mkdtemp(prefix="tether-lab-"))
    try:
        return _make_certs(root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _make_certs(root: Path) -> LabCerts:
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)
    ca = trustme.CA(organization_name="tether lab CA")
    stranger = trustme.CA(organization_name="tether lab unknown CA")

    def write(name: str, leaf: trustme.LeafCert) -> Path:
        path = root / f"{name}.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(path))
        return path

    ca_file = root / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    self_signed = root / "self_signed.pem"
    self_signed.write_bytes(_self_signed_pem(now))
    orphan = ca.create_child_ca().issue_cert(*IDENTITIES, not_before=now - day)
    no_intermediate = root / "no_intermediate.pem"
    no_intermediate.write_bytes(orphan.private_key_pem.bytes() + orphan.cert_chain_pems[0].bytes())
    old_root, old_leaf = _expired_root_pems(now)
    return LabCerts(
        directory=root,
        ca_file=ca_file,
        # 397 days, as long as a public CA may issue one: a real number of days left.
        valid=write(
            "valid", ca.issue_cert(*IDENTITIES, not_before=now - day, not_after=now + 397 * day)
        ),
        expired=write(
            "expired",
            ca.issue_cert(*IDENTITIES, not_before=now - 30 * day, not_after=now - day),
        ),
        not_yet_valid=write(
            "not_yet_valid",
            ca.issue_cert(*IDENTITIES, not_before=now + day, not_after=now + 30 * day),
        ),
        wrong_host=write("wrong_host", ca.issue_cert("wrong.lab.test", not_before=now - day)),
        unknown_ca=write("unknown_ca", stranger.issue_cert(*IDENTITIES, not_before=now - day)),
        self_signed=self_signed,
        no_intermediate=no_intermediate,
        expired_intermediate=_write(
            root / "expired_intermediate.pem", _expired_intermediate_pem(ca, now)
        ),
        weak_key=_write(root / "weak_key.pem", _weak_key_pem(ca, now)),
        expired_root=_write(root / "expired_root.pem", old_leaf),
        expired_root_ca=_write(root / "expired_root_ca.pem", old_root),
    )


def _write(path: Path, pem: bytes) -> Path:
    path.write_bytes(pem)
    return path


def _weak_key_pem(ca: trustme.CA, now: dt.datetime) -> bytes:
    """Key and leaf: a lab CA certificate for a 1024-bit RSA key."""
    root_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    sans: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName("ok.lab.test")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + leaf.public_bytes(serialization.Encoding.PEM)


_CA_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
"""What a CA certificate may do: sign certificates and revocation lists."""


def _lab_leaf(
    issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> tuple[bytes, x509.Certificate]:
    """A server certificate for the lab's names, valid from a day ago for 30 days, signed by
    ``issuer``: its key as PEM, and the certificate."""
    day = dt.timedelta(days=1)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName("ok.lab.test")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(issuer)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day)
        .not_valid_after(now + 30 * day)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .sign(issuer_key, hashes.SHA256())
    )
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, leaf


def _expired_intermediate_pem(ca: trustme.CA, now: dt.datetime) -> bytes:
    """Key, leaf and intermediate: the leaf is valid, the intermediate expired a day ago."""
    day = dt.timedelta(days=1)
    root_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    middle_key = ec.generate_private_key(ec.SECP256R1())
    middle_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "tether lab old intermediate")]
    )
    middle = (
        x509.CertificateBuilder()
        .subject_name(middle_name)
        .issuer_name(root.subject)
        .public_key(middle_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 30 * day)
        .not_valid_after(now - day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _CA_USAGE,
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(middle_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    key_pem, leaf = _lab_leaf(middle_name, middle_key, now)
    return key_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, middle))


def _expired_root_pems(now: dt.datetime) -> tuple[bytes, bytes]:
    """A root CA that expired a day ago, and key and leaf it signed, valid today.

    What a client with an outdated CA bundle meets: the server's chain is fine
    for clients that trust the root's successor, but the only anchor this one
    has has run out (the AddTrust root in 2020, ISRG's DST Root CA X3 in 2021).
    """
    day = dt.timedelta(days=1)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tether lab old root CA")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 3650 * day)
        .not_valid_after(now - day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            _CA_USAGE,
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key_pem, leaf = _lab_leaf(root_name, root_key, now)
    pem = serialization.Encoding.PEM
    return root.public_bytes(pem), key_pem + leaf.public_bytes(pem)


def _self_signed_pem(now: dt.datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    sans: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName("ok.lab.test")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "::1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)
