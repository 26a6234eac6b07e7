"""The signing errors form one hierarchy under ``SigningError`` (``__all__`` itself is checked
for every package by tests/unit/test_public_api.py)."""

from __future__ import annotations


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
