"""Infrastructure that sits beside the registry: service configs and development tools.

``infra.sigstore_authority`` is a local, Sigstore-compatible signing authority for offline
development and the test suite. It is not part of any production deployment.
"""

__all__: list[str] = []
