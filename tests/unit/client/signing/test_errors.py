"""The signing errors form one hierarchy under ``SigningError`` (``__all__`` itself is checked
for every package by tests/unit/test_public_api.py)."""

from __future__ import annotations

import pytest

from client.signing.errors import SignatureVerificationError, exception_summary
from client.signing.verify import load_bundle


def test_errors_form_one_hierarchy() -> None:
    from client.signing import (
        IdentityTokenError,
        PluginFilesError,
        SignatureVerificationError,
        SigningError,
        SigningServiceError,
        TrustConfigError,
    )

    for error in (
        IdentityTokenError,
        PluginFilesError,
        SignatureVerificationError,
        SigningServiceError,
        TrustConfigError,
    ):
        assert issubclass(error, SigningError)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}', "verificationMaterial"),
        (b"{}", "mediaType: Field required; verificationMaterial"),
        (b"[]", "the document: Input should be an object"),
        (b"\xff\xfe", "the document: Invalid JSON"),
        (b'{"mediaType": "' + b"\x1b[2J\n" * 20_000 + b'"}', "Invalid JSON"),
    ],
)
def test_a_malformed_bundle_says_where_on_one_short_line(data: bytes, where: str) -> None:
    """pydantic's own text runs over many lines, quotes the input and links to its site."""
    with pytest.raises(SignatureVerificationError) as refused:
        load_bundle(data)
    message = str(refused.value)
    assert where in message and message.startswith("the bundle is malformed")
    assert "\n" not in message and "\x1b" not in message and len(message) < 400
    assert "input_value" not in message and "errors.pydantic.dev" not in message


def test_a_summary_follows_the_cause_and_counts_the_rest() -> None:
    from pydantic import BaseModel

    class Model(BaseModel):
        a: int
        b: int
        c: int
        d: int

    try:
        try:
            Model.model_validate({"a": "x" * 10_000})
        except ValueError as invalid:
            raise RuntimeError("failed to load") from invalid
    except RuntimeError as wrapped:
        summary = exception_summary(wrapped)
    assert summary == (
        "4 problems: a: Input should be a valid integer, unable to parse string as an integer; "
        "b: Field required; c: Field required (and 1 more)"
    )
    assert exception_summary(OSError("two\nlines\tand  spaces")) == "OSError: two lines and spaces"
    assert exception_summary(ValueError("x" * 1000), limit=50) == "ValueError: " + "x" * 37 + "…"


def test_a_bundle_s_hostile_keys_reach_the_reason_escaped() -> None:
    """pydantic names an unexpected key in its location: the reason is stored in the verdict
    and shown by pages and JSON alike, so no terminal escape, bidi override or NUL in it."""
    key = "\\u001b[2J\\u001b]0;pwn\\u0007\\u202eevil\\u0000"
    data = '{"' + key + '": 1, "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}'
    with pytest.raises(SignatureVerificationError) as refused:
        load_bundle(data.encode())
    message = str(refused.value)
    assert "\\u001b[2J" in message and "\\u202e" in message and "\\u0000" in message
    assert all(ch.isprintable() for ch in message)


def test_a_summary_of_an_odd_exception_does_not_fail() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    class FailingErrors(Exception):
        def errors(self, **_: object) -> list[object]:
            raise ValueError("no")

    class OddLocations(Exception):
        def errors(self, **_: object) -> list[object]:
            return [{"loc": 5, "msg": "m"}, {"loc": None, "msg": "n"}, "not a dict"]

    assert exception_summary(Unprintable()) == "Unprintable: (its message cannot be read)"
    assert exception_summary(FailingErrors("plain")) == "FailingErrors: plain"
    assert exception_summary(OddLocations()) == "2 problems: 5: m; the document: n"
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = Unprintable()
    assert exception_summary(wrapped) == "RuntimeError: outer"
