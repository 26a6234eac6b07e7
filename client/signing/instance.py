"""Which Sigstore instance to trust: public Sigstore, its staging instance, or a custom one.

A custom instance (private, or the local development authority) is a ``ClientTrustConfig``
JSON file: trusted root plus signing config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sigstore.errors import Error as SigstoreError
from sigstore.models import ClientTrustConfig
from sigstore.sign import SigningContext
from sigstore.verify import Verifier

from client.signing.errors import TrustConfigError, exception_summary
from client.signing.limits import DEFAULT_LIMITS, SigningLimits, read_bounded


@dataclass(frozen=True)
class SigstoreInstance:
    """A Sigstore instance to sign with and verify against. Use the named constructors."""

    kind: Literal["production", "staging", "custom"]
    description: str
    trust_config: ClientTrustConfig | None = field(default=None, repr=False)

    @classmethod
    def production(cls) -> SigstoreInstance:
        """The public-good instance (trusted root via TUF, or the copy sigstore-python ships)."""
        return cls("production", "public Sigstore")

    @classmethod
    def staging(cls) -> SigstoreInstance:
        """Sigstore's staging instance."""
        return cls("staging", "Sigstore staging")

    @classmethod
    def choose(cls, *, trust_config: Path | None, staging: bool) -> SigstoreInstance:
        """The instance a user picked: a trust config file, staging, or public Sigstore."""
        if trust_config is not None:
            return cls.from_trust_config_file(trust_config)
        return cls.staging() if staging else cls.production()

    @classmethod
    def from_trust_config(
        cls, data: bytes | str, *, source: str = "trust config"
    ) -> SigstoreInstance:
        """A private or local instance described by a ``ClientTrustConfig`` JSON document."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            config = ClientTrustConfig.from_json(text)
            config.trusted_root.get_fulcio_certs()
        except Exception as exc:  # sigstore-models raises pydantic, ValueError, sigstore Error
            raise TrustConfigError(
                f"{source} is not a valid Sigstore ClientTrustConfig ({exception_summary(exc)}); "
                "regenerate it (for the local authority: clawft-registry dev-authority --out FILE)"
            ) from exc
        return cls("custom", f"the instance of {source}", config)

    @classmethod
    def from_trust_config_file(
        cls, path: Path, *, limits: SigningLimits = DEFAULT_LIMITS
    ) -> SigstoreInstance:
        try:
            data = read_bounded(path, limits.max_trust_config_bytes, "trust config")
        except (OSError, ValueError) as exc:
            raise TrustConfigError(f"cannot read trust config {path}: {exc}") from exc
        return cls.from_trust_config(data, source=str(path))

    def client_trust_config(self, *, offline: bool = False) -> ClientTrustConfig:
        """The trust config; for public instances ``offline`` skips the TUF refresh."""
        if self.trust_config is not None:
            return self.trust_config
        try:
            if self.kind == "staging":
                return ClientTrustConfig.staging(offline=offline)
            return ClientTrustConfig.production(offline=offline)
        except SigstoreError as exc:
            hint = "" if offline else "; pass --offline to use the copy sigstore-python ships"
            raise TrustConfigError(
                f"cannot load the trusted root of {self.description}: {exc}{hint}"
            ) from exc

    def verifier(self, *, offline: bool = False) -> Verifier:
        """A verifier trusting this instance; ``offline`` skips the TUF refresh (cached root,
        else the copy sigstore-python ships)."""
        try:
            if self.trust_config is None:
                if self.kind == "staging":
                    return Verifier.staging(offline=offline)
                return Verifier.production(offline=offline)
            return Verifier(trusted_root=self.trust_config.trusted_root)
        except SigstoreError as exc:
            if self.trust_config is None and not offline:
                raise TrustConfigError(
                    f"cannot load the trusted root of {self.description}: {exc}; pass "
                    "--offline to use the copy sigstore-python ships"
                ) from exc
            raise TrustConfigError(
                f"the trusted root of {self.description} is unusable: {exc}"
            ) from exc

    def signing_context(self) -> SigningContext:
        """A signing context for this instance's CA and transparency log."""
        config = self.client_trust_config()
        try:
            return SigningContext.from_trust_config(config)
        except (SigstoreError, ValueError) as exc:
            raise TrustConfigError(
                f"the signing config of {self.description} is unusable: {exc}"
            ) from exc

    def oidc_url(self) -> str | None:
        """Where to log in interactively, if the instance names an OIDC provider."""
        try:
            return self.client_trust_config().signing_config.get_oidc_url()
        except SigstoreError:
            return None
