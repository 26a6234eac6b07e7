"""The local authority's parts, used directly (no HTTP)."""

from tests.signing_fixtures import _isolated_sigstore_cache, local_authority  # noqa: F401
