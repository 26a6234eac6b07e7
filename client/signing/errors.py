"""Errors of the signing library. Every message is written for the person at the terminal.

::

    SigningError                      base: anything this package refuses or fails to do
    ├── PluginFilesError              the manifest or component cannot be read or makes no sense
    ├── TrustConfigError              the trust configuration cannot be loaded
    ├── IdentityTokenError            no usable OIDC identity token
    ├── SigningServiceError           the Sigstore instance refused or could not be reached:
    │                                 the data may be fine, try again or fix the service
    └── SignatureVerificationError    the bundle does not prove what it must: reject it
                                      (``reason`` says which check failed)

The last two are the two families that matter to callers: "the service failed, retry" versus
"the data is bad, reject".
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Any


class FailureReason(StrEnum):
    """Which check rejected a bundle; stable strings, for logs, reports and tests."""

    MALFORMED_BUNDLE = "malformed-bundle"
    WRONG_BUNDLE_KIND = "wrong-bundle-kind"
    CERTIFICATE_CHAIN = "certificate-chain"
    CERTIFICATE = "certificate"
    SCT = "sct"
    IDENTITY_MISMATCH = "identity-mismatch"
    ISSUER_MISMATCH = "issuer-mismatch"
    UNTRUSTED_NAMESPACE = "untrusted-namespace"
    INCLUSION_PROOF = "inclusion-proof"
    SIGNED_ENTRY_TIMESTAMP = "signed-entry-timestamp"
    LOG_ENTRY_MISMATCH = "log-entry-mismatch"
    SIGNATURE = "signature"
    ARTIFACT_MISMATCH = "artifact-mismatch"
    WRONG_PAYLOAD = "wrong-payload"
    WRONG_PLUGIN = "wrong-plugin"
    SUBJECT_MISSING = "subject-missing"
    DIGEST_MISMATCH = "digest-mismatch"
    OTHER = "other"


class SigningError(Exception):
    """Base of every error in ``client.signing``; ``str(error)`` is the user-facing message."""


class PluginFilesError(SigningError):
    """The plugin's manifest or component cannot be read, or the manifest makes no sense."""


class TrustConfigError(SigningError):
    """The trust configuration (trusted root and signing config) cannot be loaded."""


class IdentityTokenError(SigningError):
    """No usable OIDC identity token: missing, malformed or expired."""


class SigningServiceError(SigningError):
    """The Sigstore instance (CA or transparency log) refused the request or was unreachable."""


class SignatureVerificationError(SigningError):
    """The bundle does not verify; ``reason`` names the failed check."""

    def __init__(self, message: str, *, reason: FailureReason) -> None:
        super().__init__(message)
        self.reason = reason


def exception_summary(exc: BaseException, *, limit: int = 400) -> str:
    """``exc`` on one line of at most ``limit`` characters, for an error message that may be
    stored and shown anywhere. A pydantic ``ValidationError`` (what sigstore's models raise,
    often wrapped in sigstore's own error) becomes where and what its first three problems
    are, without the input it quotes or its links; anything else, its type and text. Runs of
    whitespace become one space, and control, format and bidi characters (which a hostile
    document's keys can carry into pydantic's locations) are written as escapes."""
    found = _validation_problems(exc)
    if found:
        shown = [
            f"{_location(problem.get('loc'))}: {problem.get('msg', 'invalid')}"
            for problem in found[:3]
        ]
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        count = "1 problem" if len(found) == 1 else f"{len(found)} problems"
        return _bounded(f"{count}: {'; '.join(shown)}{more}", limit)
    return _bounded(f"{type(exc).__name__}: {_text(exc)}", limit)


def _location(loc: object) -> str:
    if isinstance(loc, tuple | list):
        return ".".join(str(part) for part in loc) or "the document"
    return "the document" if loc is None else str(loc)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ fails
        return "(its message cannot be read)"


def _validation_problems(exc: BaseException) -> list[dict[str, Any]]:
    """The problems of the pydantic ``ValidationError`` that is ``exc`` or caused it."""
    seen: BaseException | None = exc
    for _ in range(5):  # sigstore wraps once; a cycle or a long chain is not followed far
        if seen is None:
            break
        problems = getattr(seen, "errors", None)
        if callable(problems):
            try:
                found = problems(include_url=False, include_input=False)
            except Exception:  # an ``errors`` that is not pydantic's
                found = None
            if isinstance(found, list) and found:
                return [problem for problem in found if isinstance(problem, dict)]
        seen = seen.__cause__ or seen.__context__
    return []


def _bounded(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if not (text.isascii() and text.isprintable()):
        text = "".join(
            ch if ch.isprintable() and unicodedata.category(ch) != "Cf" else f"\\u{ord(ch):04x}"
            for ch in text
        )
    return text if len(text) <= limit else text[: limit - 1] + "…"
