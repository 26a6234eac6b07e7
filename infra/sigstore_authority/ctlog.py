"""A certificate-transparency log that only signs: it issues the SCTs Fulcio embeds.

The signed structure is RFC 6962's ``digitally-signed`` precertificate entry, exactly what
``sigstore._internal.sct.verify_sct`` rebuilds from a certificate and checks.
"""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from infra.sigstore_authority.keys import key_id

_SCT_V1 = 0
_CERTIFICATE_TIMESTAMP = 0
_PRECERT_ENTRY = 1
_HASH_SHA256 = 4
_SIGNATURE_ECDSA = 3


def _u24(n: int) -> bytes:
    if not 0 <= n < 1 << 24:
        raise ValueError("value does not fit in 24 bits")
    return n.to_bytes(3, "big")


def der_length(n: int) -> bytes:
    """DER definite length octets for ``n``."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_octet_string(data: bytes) -> bytes:
    return b"\x04" + der_length(len(data)) + data


def der_utf8_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return b"\x0c" + der_length(len(data)) + data


class CTLog:
    """Signs precertificate SCTs with the CT log key."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.log_id = key_id(key.public_key())

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign_precertificate(
        self, *, tbs_precertificate: bytes, issuer_key_id: bytes, timestamp_ms: int
    ) -> bytes:
        """A serialized SCT over ``tbs_precertificate`` issued under ``issuer_key_id``."""
        if len(issuer_key_id) != 32:
            raise ValueError("issuer key ID must be a SHA-256 digest")
        extensions = b""
        signed = (
            struct.pack("!BBQH", _SCT_V1, _CERTIFICATE_TIMESTAMP, timestamp_ms, _PRECERT_ENTRY)
            + issuer_key_id
            + _u24(len(tbs_precertificate))
            + tbs_precertificate
            + struct.pack("!H", len(extensions))
            + extensions
        )
        signature = self._key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return (
            struct.pack("!B", _SCT_V1)
            + self.log_id
            + struct.pack("!Q", timestamp_ms)
            + struct.pack("!H", len(extensions))
            + extensions
            + struct.pack("!BBH", _HASH_SHA256, _SIGNATURE_ECDSA, len(signature))
            + signature
        )


def sct_list_extension_value(scts: list[bytes]) -> bytes:
    """The DER value of the X.509 SCT-list extension (1.3.6.1.4.1.11129.2.4.2)."""
    serialized = b"".join(struct.pack("!H", len(sct)) + sct for sct in scts)
    return der_octet_string(struct.pack("!H", len(serialized)) + serialized)
