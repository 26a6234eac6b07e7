"""Signing: a plugin's statement as a DSSE envelope, certified and logged by a Sigstore instance."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jwt
import requests
from sigstore._internal.fulcio.client import ExpiredCertificate, FulcioClientError
from sigstore._internal.rekor import RekorClientError
from sigstore.errors import Error as SigstoreError
from sigstore.models import Bundle
from sigstore.oidc import ExpiredIdentity, IdentityError, IdentityToken, Issuer, detect_credential
from sigstore.sign import SigningContext

from client.signing.errors import IdentityTokenError, SigningServiceError
from client.signing.instance import SigstoreInstance
from client.signing.limits import DEFAULT_LIMITS, SigningLimits
from client.signing.plugin_files import PluginFiles, default_bundle_path, read_plugin_files
from client.signing.statement import build_statement


def parse_identity_token(raw: str) -> IdentityToken:
    """An OIDC identity token from its compact JWT form (claims are checked by the CA).

    An expired token is named as such, with how long ago and where a fresh one comes from
    (sigstore-python calls it "malformed or missing claims")."""
    _refuse_expired(raw.strip())
    try:
        return IdentityToken(raw.strip())
    except IdentityError as exc:
        raise IdentityTokenError(
            f"the identity token is unusable ({exc}): obtain a fresh one for audience 'sigstore'"
        ) from exc


def _refuse_expired(raw: str) -> None:
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return  # malformed: IdentityToken says how
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or expires > time.time():
        return
    ago = int(time.time() - expires)
    when = datetime.fromtimestamp(expires, UTC).strftime("%H:%M:%S UTC")
    raise IdentityTokenError(
        f"the identity token expired {ago // 60} min {ago % 60} s ago (at {when}): obtain a "
        "fresh one. A local `clawft-registry serve` keeps a fresh development token in "
        "DATA_DIR/dev-identity-token: read the file again"
    )


def obtain_identity_token(instance: SigstoreInstance, explicit: str | None) -> IdentityToken:
    """The token to sign with: ``explicit``, else an ambient CI credential, else interactive."""
    if explicit is not None:
        return parse_identity_token(explicit)
    try:
        ambient = detect_credential()
    except IdentityError as exc:
        raise IdentityTokenError(f"ambient credential detection failed: {exc}") from exc
    if ambient is not None:
        return parse_identity_token(ambient)
    url = instance.oidc_url()
    if url is None:
        raise IdentityTokenError(
            f"{instance.description} names no OIDC provider to log in with: pass "
            "--identity-token (for the local authority: clawft-registry dev-authority token "
            "--identity EMAIL --state-dir DIR)"
        )
    try:
        return Issuer(url).identity_token()
    except (SigstoreError, requests.RequestException) as exc:
        raise IdentityTokenError(f"interactive login at {url} failed: {exc}") from exc


def _http_message(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    response = getattr(cause, "response", None)
    if response is not None:
        try:
            message = response.json().get("message")
        except (ValueError, AttributeError):
            message = None
        return f"HTTP {response.status_code}: {message or response.reason}"
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def _service_errors(instance: str) -> Iterator[None]:
    """Turn sigstore's signing-time failures into ``IdentityTokenError``/``SigningServiceError``."""
    try:
        yield
    except ExpiredIdentity as exc:
        raise IdentityTokenError("the identity token has expired: obtain a new one") from exc
    except ExpiredCertificate as exc:
        raise SigningServiceError("the signing certificate expired while signing: retry") from exc
    except (FulcioClientError, RekorClientError) as exc:
        raise SigningServiceError(f"{instance} refused to sign: {_http_message(exc)}") from exc
    except requests.ConnectionError as exc:
        raise SigningServiceError(
            f"cannot reach {instance}: is it running, and is the trust config current? ({exc})"
        ) from exc
    except requests.RequestException as exc:
        raise SigningServiceError(f"{instance} failed: {exc}") from exc
    except SigstoreError as exc:
        raise SigningServiceError(
            f"{instance} issued something the trust config does not vouch for ({exc}): the "
            "trust config is stale or belongs to another instance; regenerate it"
        ) from exc


def sign_plugin_files(
    files: PluginFiles,
    *,
    context: SigningContext,
    identity_token: IdentityToken,
    service: str = "the Sigstore instance",
) -> Bundle:
    """Sign the statement over ``files``; return the Sigstore bundle."""
    statement = build_statement(files)
    with _service_errors(service), context.signer(identity_token) as signer:
        return signer.sign_dsse(statement)


def write_bundle(bundle: Bundle, path: Path) -> None:
    """Write ``bundle`` to ``path`` atomically (a reader never sees half a bundle)."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(bundle.to_json())
        Path(tmp_name).chmod(0o644)
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def sign_plugin(
    path: Path,
    *,
    instance: SigstoreInstance,
    identity_token: IdentityToken,
    output: Path | None = None,
    limits: SigningLimits = DEFAULT_LIMITS,
) -> Path:
    """Sign the plugin at ``path`` (directory or manifest); write ``<component>.sigstore.json``.

    Returns the path of the bundle written.
    """
    files = read_plugin_files(path, limits=limits)
    bundle = sign_plugin_files(
        files,
        context=instance.signing_context(),
        identity_token=identity_token,
        service=instance.description,
    )
    destination = output or default_bundle_path(path, files.plugin)
    write_bundle(bundle, destination)
    return destination
