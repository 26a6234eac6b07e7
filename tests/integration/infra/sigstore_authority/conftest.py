"""The local authority served over HTTP, and plugins to sign with it."""

from tests.signing_fixtures import _isolated_sigstore_cache, make_plugin  # noqa: F401
