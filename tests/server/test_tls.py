"""`dsc serve` speaks HTTPS itself with server.tls_cert/tls_key; the client checks the certificate."""

import datetime
import ipaddress

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from datastation.client import Client
from serving import Served


def self_signed(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_https_with_the_configured_certificate(tmp_path):
    served = Served(tmp_path / "site", tls=self_signed(tmp_path))
    try:
        alice = served.agent("alice")
        assert served.url.startswith("https://") and alice.contracts() == []
        with pytest.raises(httpx.ConnectError):  # an unknown certificate is refused by default
            Client(served.url, "alice", keyring=alice.keyring).info()
        with pytest.raises(httpx.HTTPError):  # and plain HTTP gets no escrow
            httpx.get(served.url.replace("https", "http") + "/v1/escrow", timeout=5)
    finally:
        served.stop()
