"""What a device asks to run: ``--select`` entries and the version ranges they may carry.

``NAMESPACE`` selects every plugin of a namespace; ``NAMESPACE/NAME`` one plugin;
``NAMESPACE/NAME@RANGE`` one plugin within a range of versions:

* ``1.2.3``: exactly that version;
* ``^1.2.3``: the same major version, at least 1.2.3 (``^0.2.3``: the same minor, below 1.0);
* ``~1.2.3``: the same major and minor, at least 1.2.3;
* comparators joined by commas: ``>=1.2.0,<2.0.0`` (``>``, ``>=``, ``<``, ``<=``, ``=``).

Pre-releases are chosen only when the range names a pre-release itself, as in npm and Cargo.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from client.manifest import PLUGIN_NAME_PATTERN, SEMVER_PATTERN, version_precedence

__all__ = ["Selection", "SelectionError", "VersionRange", "newest", "parse_selection"]

_NAMESPACE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_PLUGIN = re.compile(PLUGIN_NAME_PATTERN)
_SEMVER = re.compile(SEMVER_PATTERN)
_COMPARATOR = re.compile(r"(>=|<=|>|<|=)?(.+)")
MAX_SELECTION_CHARS = 300

Key = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


class SelectionError(ValueError):
    """A ``--select`` entry or version range that cannot be read."""


@dataclass(frozen=True)
class VersionRange:
    """A set of versions, as the comparators that bound it."""

    text: str
    bounds: tuple[tuple[str, Key], ...]
    allows_prerelease: bool

    def __contains__(self, version: str) -> bool:
        if not _SEMVER.fullmatch(version):
            return False
        key = version_precedence(version)
        if _is_prerelease(key) and not self.allows_prerelease:
            return False
        return all(_COMPARE[op](key, bound) for op, bound in self.bounds)

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        text = text.strip()
        if not text or len(text) > MAX_SELECTION_CHARS:
            raise SelectionError("give a version range after @, such as ^1.2.0 or >=1.0.0,<2.0.0")
        if text[0] in "^~":
            base = _version(text[1:], text)
            major, minor, patch = base[:3]
            if text[0] == "~":
                upper = (major, minor + 1, 0)
            elif major > 0:
                upper = (major + 1, 0, 0)
            elif minor > 0:
                upper = (0, minor + 1, 0)
            else:
                upper = (0, 0, patch + 1)
            ceiling: Key = (*upper, 0, ((0, 0, ""),))  # below every pre-release of `upper`
            return cls(text, ((">=", base), ("<", ceiling)), _is_prerelease(base))
        bounds: list[tuple[str, Key]] = []
        for part in text.split(","):
            found = _COMPARATOR.fullmatch(part.strip())
            if found is None:
                raise SelectionError(f"{text!r} is not a version range")
            op = found.group(1) or "="
            bounds.append((op, _version(found.group(2).strip(), text)))
        return cls(text, tuple(bounds), any(_is_prerelease(bound) for _, bound in bounds))


@dataclass(frozen=True)
class Selection:
    """One ``--select`` entry."""

    namespace: str
    name: str | None = None
    versions: VersionRange | None = None

    def __str__(self) -> str:
        text = self.namespace if self.name is None else f"{self.namespace}/{self.name}"
        return text if self.versions is None else f"{text}@{self.versions.text}"


def parse_selection(text: str) -> Selection:
    """``acme``, ``acme/weather`` or ``acme/weather@^1.2``."""
    if len(text) > MAX_SELECTION_CHARS:
        raise SelectionError("a --select entry is at most 300 characters")
    target, at, versions = text.partition("@")
    if at and "/" not in target:
        raise SelectionError(f"{text!r}: a version range selects one plugin, NAMESPACE/NAME@RANGE")
    if "/" in target:
        if not _PLUGIN.fullmatch(target):
            raise SelectionError(
                f"{target!r} is not a plugin name: namespace/name, each lowercase a-z, 0-9 and -"
            )
        namespace, name = target.split("/")
        return Selection(namespace, name, VersionRange.parse(versions) if at else None)
    if not _NAMESPACE.fullmatch(target):
        raise SelectionError(f"{target!r} is not a namespace: lowercase a-z, 0-9 and -")
    return Selection(target)


def newest(versions: list[str], within: VersionRange | None) -> str | None:
    """The highest version in ``within`` (releases only, without a range); ``None`` if none."""
    candidates = [
        v
        for v in versions
        if (
            v in within
            if within is not None
            else _SEMVER.fullmatch(v) and not _is_prerelease(version_precedence(v))
        )
    ]
    return max(candidates, key=version_precedence, default=None)


def _version(text: str, whole: str) -> Key:
    if not _SEMVER.fullmatch(text):
        raise SelectionError(f"{whole!r}: {text!r} is not a semantic version such as 1.2.0")
    return version_precedence(text)


def _is_prerelease(key: Key) -> bool:
    return key[3] == 0


_COMPARE: dict[str, Callable[[Key, Key], bool]] = {
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
