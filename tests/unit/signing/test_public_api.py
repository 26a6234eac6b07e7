"""``__all__`` is the public API: every name in it exists, and nothing public is missing."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["client.signing", "infra.sigstore_authority"])
def test_all_names_exist_and_are_sorted(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for name in exported:
        assert hasattr(module, name), name


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
