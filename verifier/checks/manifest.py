"""Check 1, the manifest: shape, names without confusables, well-formed permissions, resource
requests within the hard maxima, and the component it names is the one uploaded."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from typing import Any

from client.decoding import Undecodable, decode_json, loads_toml
from client.host.limits import HARD_MAXIMA, MIB
from client.host.sandbox.addresses import blocked_reason
from client.host.sandbox.env import is_denied_env
from client.manifest import ManifestInvalid, PluginManifest, parse_manifest, parse_network_entry
from verifier.report import CheckResult
from verifier.settings import VerifierSettings

NAME = "manifest"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_NAMES = frozenset({"localhost", "local", "internal", "localdomain", "home", "lan"})
# Characters that change how text is displayed without being seen: bidi overrides and
# isolates, zero-width characters, and other format controls (Unicode category Cf).
_INVISIBLE_CATEGORIES = {"Cf", "Cc", "Co", "Cs", "Cn"}


def _describe_char(ch: str) -> str:
    name = unicodedata.name(ch, "unnamed character")
    return f"U+{ord(ch):04X} {name}"


# Letters of other scripts that render like Latin ones (a subset of Unicode's confusables).
_HOMOGLYPHS = dict(
    zip(
        "аеорсухіјѕԁһӏԛԝаоαβεικνορτυχℓı",
        "aeopcyxijsdhlqwaoabeiknoptuxli",
        strict=True,
    )
)


def confusable_problem(text: str, field: str) -> str | None:
    """Why a name is confusable (non-ASCII, mixed scripts, invisible characters), or None."""
    for ch in text:
        if ord(ch) > 0x7F:
            skeleton = _HOMOGLYPHS.get(ch) or (
                unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            )
            looks = f", which looks like {skeleton!r}" if skeleton else ""
            return (
                f"{field} contains {_describe_char(ch)}{looks}; plugin names are lowercase "
                "ASCII letters, digits and hyphens, so they cannot be confused with others"
            )
    return None


def _invisible(text: str) -> str | None:
    for ch in text:
        if ch in "\n\t":
            continue
        if unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
            return _describe_char(ch)
    return None


def valid_host_pattern(entry: str) -> str | None:
    """Why a ``[permissions] network`` entry names no host a plugin could reach, or None.

    The entry's grammar (``host``, ``*.domain``, ``:port``) is the manifest parser's; this is
    the policy over the host it names."""
    try:
        grant = parse_network_entry(entry)
    except ValueError as exc:
        return str(exc)
    host = grant.host[2:] if grant.host.startswith("*.") else grant.host
    if _is_ip(host):
        if grant.host.startswith("*."):
            return f"network entry {entry!r}: a wildcard needs a domain, not an address"
        reason = blocked_reason(ipaddress.ip_address(host))
        if reason:
            return f"network entry {entry!r} can never be reached by a plugin: {reason}"
        return None
    if host != host.lower() or not host.isascii():
        return f"network entry {entry!r} must be lowercase ASCII (use punycode for IDNs)"
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return f"network entry {entry!r} is not a valid host name"
    if grant.host.startswith("*.") and len(labels) < 2:
        return f"network entry {entry!r}: a wildcard must cover a domain like *.example.com"
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        return (
            f"network entry {entry!r} looks like a numeric address in disguise; "
            "name hosts by their DNS names"
        )
    if labels[-1] in _LOCAL_NAMES or host in _LOCAL_NAMES:
        return f"network entry {entry!r} names a local host, which plugins may never reach"
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def valid_env(entry: str) -> str | None:
    if is_denied_env(entry):
        return f"env entry {entry!r} is on the host's deny list: plugins never receive it"
    return None


def _resource_problems(manifest: PluginManifest) -> list[str]:
    resources = manifest.resources
    problems = []
    if resources.max_fuel is not None and resources.max_fuel > HARD_MAXIMA.fuel:
        problems.append(f"max_fuel {resources.max_fuel:,} is over the maximum {HARD_MAXIMA.fuel:,}")
    top_mb = HARD_MAXIMA.memory_bytes // MIB
    if resources.max_memory_mb is not None and resources.max_memory_mb > top_mb:
        problems.append(f"max_memory_mb {resources.max_memory_mb} is over the maximum {top_mb}")
    if resources.timeout_s is not None and resources.timeout_s > HARD_MAXIMA.timeout_s:
        problems.append(
            f"timeout_s {resources.timeout_s:g} is over the maximum {HARD_MAXIMA.timeout_s:g}"
        )
    elements = resources.max_table_elements
    if elements is not None and elements > HARD_MAXIMA.table_elements:
        problems.append(
            f"max_table_elements {elements:,} is over the maximum {HARD_MAXIMA.table_elements:,}"
        )
    return problems


def _raw_name(data: bytes) -> str | None:
    try:
        value = loads_toml(data.decode("utf-8")).get("name")
    except (UnicodeDecodeError, Undecodable):
        return None
    return value if isinstance(value, str) else None


def check_manifest(
    manifest_bytes: bytes,
    component_name: str,
    component_bytes: bytes,
    settings: VerifierSettings,
) -> tuple[CheckResult, PluginManifest | None]:
    """The manifest check, and the parsed manifest when it passed."""
    details: dict[str, Any] = {
        "component_sha256": hashlib.sha256(component_bytes).hexdigest(),
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
    }

    def fail(reason: str) -> tuple[CheckResult, None]:
        return CheckResult(name=NAME, passed=False, reason=reason, details=details), None

    if len(manifest_bytes) > settings.max_manifest_bytes:
        return fail(
            f"manifest is {len(manifest_bytes):,} bytes; the limit is "
            f"{settings.max_manifest_bytes:,}"
        )
    raw_name = _raw_name(manifest_bytes)
    if raw_name is not None:
        problem = confusable_problem(raw_name, "name")
        if problem:
            return fail(problem)
    try:
        manifest = parse_manifest(manifest_bytes)
    except ManifestInvalid as exc:
        return fail(str(exc))
    details.update(name=manifest.name, version=manifest.version, component=manifest.component)
    namespace, _, plugin = manifest.name.partition("/")
    for part, label in ((namespace, "namespace"), (plugin, "plugin name")):
        if len(part) > settings.max_name_chars:
            return fail(f"{label} {part!r} is longer than {settings.max_name_chars} characters")
    if len(manifest.description) > settings.max_description_chars:
        return fail(f"description is longer than {settings.max_description_chars} characters")
    hidden = _invisible(manifest.description)
    if hidden:
        return fail(f"description contains the invisible or control character {hidden}")
    problems: list[str] = []
    perms = manifest.permissions
    problems += [p for p in map(valid_host_pattern, perms.network) if p]
    problems += [p for p in map(valid_env, perms.env) if p]
    problems += _resource_problems(manifest)
    for vector in manifest.tests:
        try:
            decode_json(vector.input, what=f"the input of the test vector for {vector.tool!r}")
        except Undecodable as exc:
            problems.append(str(exc))
    if manifest.component != component_name:
        problems.append(
            f"manifest names component {manifest.component!r} but the upload's component is "
            f"{component_name!r}"
        )
    if problems:
        details["problems"] = problems
        return fail(
            problems[0] if len(problems) == 1 else f"{problems[0]} (and {len(problems) - 1} more)"
        )
    return (
        CheckResult(
            name=NAME,
            passed=True,
            reason=f"{manifest.name} {manifest.version} is well formed",
            details=details,
        ),
        manifest,
    )
