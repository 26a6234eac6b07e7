"""The registry server: a Litestar app (``registry.app.create_app``) over a database
(``registry.db``) and a blob store (``registry.storage``), with the domain packages
(``registry.domain``), the verifier's seams (``registry.verification``) and the embedded
default (``registry.embedded``, what ``clawft-registry serve`` runs)."""

__all__: list[str] = []
