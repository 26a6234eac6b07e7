"""Each namespace's signer policy as a target of the top-level targets role: who may sign the
namespace's plugins, in metadata only the offline targets key signs.

The policy document is a :class:`~client.sync.schemas.SignerPolicy`; it is both the target
file (served under ``/tuf/targets/policy/``) and its ``custom`` metadata, so a device reads it
straight from the verified targets metadata.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import Session
from tuf.api.metadata import TargetFile, Targets

from client.sync.schemas import CUSTOM_KEY, PolicySigner, SignerPolicy, policy_path
from registry.db import Namespace, SignerRequest, TrustedSigner, TufTarget
from registry.tuf.keys import RepositoryKeys
from registry.tuf.repository import PluginRepository
from registry.tuf.settings import TufSettings

__all__ = ["policy_targets", "sign_policies", "sign_signer_requests"]


def policy_targets(session: Session, namespaces: Iterable[str] | None = None) -> list[TargetFile]:
    """The signer policy targets of ``namespaces`` (every namespace when ``None``), each also
    stored in ``tuf_targets`` so it can be served."""
    query = sa.select(Namespace).order_by(Namespace.name)
    if namespaces is not None:
        query = query.where(Namespace.name.in_(list(namespaces)))
    out: list[TargetFile] = []
    for namespace in session.scalars(query):
        policy = SignerPolicy(
            namespace=namespace.name,
            signers=[PolicySigner(s.identity, s.issuer) for s in namespace.signers],
        )
        content = msgspec.json.encode(policy)
        path = policy_path(namespace.name)
        custom = {CUSTOM_KEY: msgspec.to_builtins(policy)}
        target = TargetFile.from_data(path, content, ["sha256"])
        target.unrecognized_fields["custom"] = custom
        out.append(target)
        sha256 = hashlib.sha256(content).hexdigest()
        row = session.get(TufTarget, path)
        if row is None:
            row = TufTarget(path=path, bin=Targets.type, dirty=False)
            session.add(row)
        row.sha256, row.length, row.custom, row.content = sha256, len(content), custom, content
        row.removed = False
    session.flush()
    return out


def sign_policies(
    session: Session, keys: RepositoryKeys, settings: TufSettings, namespaces: Iterable[str]
) -> int:
    """Sign the current signer policies of ``namespaces`` into the top-level targets (with the
    offline targets key), then snapshot and timestamp; returns the new targets version."""
    repo = PluginRepository(session, keys, settings)
    with repo.edit_targets() as targets:
        for policy in policy_targets(session, namespaces):
            targets.targets[policy.path] = policy
    repo.do_snapshot()
    repo.do_timestamp()
    return repo.latest_versions()[Targets.type]


def sign_signer_requests(
    session: Session,
    keys: RepositoryKeys,
    settings: TufSettings,
    namespaces: Iterable[str] | None = None,
) -> list[str]:
    """Apply the pending signer requests (of ``namespaces``, or all of them) to the database
    and sign every policy they change, with the offline targets key; ``namespaces`` named
    explicitly are signed even without a request (a namespace created since). Returns the
    namespaces signed."""
    query = sa.select(SignerRequest).join(Namespace)
    if namespaces is not None:
        wanted = sorted(set(namespaces))
        query = query.where(Namespace.name.in_(wanted))
    else:
        wanted = []
    changed = set(wanted)
    for request in session.scalars(query):
        namespace = request.namespace
        namespace.signers.clear()
        session.flush()  # the old rows go before the new ones (a signer may stay)
        namespace.signers.extend(
            TrustedSigner(identity=s["identity"], issuer=s["issuer"]) for s in request.signers
        )
        changed.add(namespace.name)
        session.delete(request)
    session.flush()
    if changed:
        sign_policies(session, keys, settings, sorted(changed))
    return sorted(changed)
