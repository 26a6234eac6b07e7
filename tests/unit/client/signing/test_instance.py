"""Trust configuration: the three instance choices, and unusable trust configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sigstore.sign import SigningContext
from sigstore.verify import Verifier

from client.signing import SigningLimits, SigstoreInstance, TrustConfigError
from infra.sigstore_authority import SigningAuthority


def test_local_authority_trust_config_loads(local_authority: SigningAuthority) -> None:
    config = json.dumps(local_authority.trust_config("http://127.0.0.1:1"))
    instance = SigstoreInstance.from_trust_config(config)
    assert instance.kind == "custom"
    assert isinstance(instance.verifier(), Verifier)
    assert isinstance(instance.signing_context(), SigningContext)
    assert instance.oidc_url() is None  # tokens come from `dev-authority token`


def test_public_instances_load_offline() -> None:
    for instance in (SigstoreInstance.production(), SigstoreInstance.staging()):
        assert isinstance(instance.verifier(offline=True), Verifier)


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b"{}", b'{"mediaType": "x"}', b"\xff\xfe", b'{"trustedRoot": 5}'],
)
def test_garbage_trust_configs_say_how_to_regenerate(data: bytes) -> None:
    with pytest.raises(TrustConfigError, match="dev-authority --out"):
        SigstoreInstance.from_trust_config(data)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"{", "the document: Invalid JSON"),
        (b'{"mediaType": "x"}', "mediaType: Input should be"),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", '
            b'"trustedRoot": {"tlogs": [{"baseUrl": 5}]}}',
            "trustedRoot.mediaType: Field required; trustedRoot.tlogs.0.baseUrl: Input should "
            "be a valid string; trustedRoot.tlogs.0.hashAlgorithm: Field required (and 5 more)",
        ),
        (b'{"mediaType": "\u001b[2J' + b"A" * 100_000 + b'"}', "mediaType: Input should be"),
    ],
)
def test_a_malformed_trust_config_says_where_on_one_short_line(data: bytes, where: str) -> None:
    """Not pydantic's own text: a line per field and per link, quoting the input."""
    with pytest.raises(TrustConfigError) as refused:
        SigstoreInstance.from_trust_config(data, source="trust.json")
    message = str(refused.value)
    assert message.startswith("trust.json is not a valid Sigstore ClientTrustConfig (")
    assert where in message and message.endswith("dev-authority --out FILE)")
    assert "\n" not in message and "\x1b" not in message and len(message) < 600
    assert "input_value" not in message and "errors.pydantic.dev" not in message


def test_trust_config_without_certificate_authority_is_refused(
    local_authority: SigningAuthority,
) -> None:
    config = local_authority.trust_config("http://127.0.0.1:1")
    config["trustedRoot"]["certificateAuthorities"] = []
    with pytest.raises(TrustConfigError):
        SigstoreInstance.from_trust_config(json.dumps(config))


def test_trust_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(TrustConfigError, match="cannot read"):
        SigstoreInstance.from_trust_config_file(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(TrustConfigError, match="larger than"):
        SigstoreInstance.from_trust_config_file(
            big, limits=SigningLimits(max_trust_config_bytes=1024)
        )
