"""Where settings come from: ``CLAWFT_*`` environment variables over an optional TOML file
(named by ``CLAWFT_CONFIG``), read through one parser per kind of value.

Every parser raises :class:`SettingsError` (a ``ValueError``) naming the variable and saying what
it must be, so a bad value stops ``serve``, ``worker`` or ``celery -A verifier.standalone`` at
start with one line an operator can act on. An empty value counts as unset. The registry's
settings tree (:mod:`registry.settings`) and the standalone verifier read through this class,
so a variable is parsed the same way wherever it is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from client.decoding import Undecodable, loads_toml

PREFIX = "CLAWFT_"
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


class SettingsError(ValueError):
    """A setting is malformed, out of range, retired, unknown, or inconsistent with another."""


class SettingsSource:
    """The ``CLAWFT_*`` values of one start-up, and which of them were read."""

    def __init__(self, values: Mapping[str, str], *, file: Path | None = None) -> None:
        self._values = dict(values)
        self._file = file
        self._file_names: set[str] = set()
        self._read: set[str] = set()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SettingsSource:
        """The environment, over the TOML file ``CLAWFT_CONFIG`` names (if it names one)."""
        env = dict(os.environ if environ is None else environ)
        config = env.get("CLAWFT_CONFIG", "").strip()
        if not config:
            return cls(env)
        path = Path(config)
        from_file = _toml_as_env(path)
        source = cls({**from_file, **env}, file=path)
        source._file_names = set(from_file)
        return source

    # -- parsers -------------------------------------------------------------------------------

    def text(self, name: str, default: str | None = None) -> str | None:
        """The value as given (stripped); ``default`` when unset or empty."""
        self._read.add(name)
        value = self._values.get(name, "").strip()
        if "\x00" in value:
            raise SettingsError(f"{name} must not contain a NUL character")
        return value or default

    def matching(
        self, name: str, pattern: str, what: str, default: str | None = None
    ) -> str | None:
        """Text that matches ``pattern`` in full; ``what`` says what it must be."""
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(pattern, value):
            raise SettingsError(f"{name} must be {what}, not {value[:60]!r}")
        return value

    def url(self, name: str, default: str | None = None) -> str | None:
        """A URL with a scheme, e.g. ``redis://host:6379/0``."""
        return self.matching(
            name, r"[a-z][a-z0-9+.-]*://\S*", "a URL such as redis://host:6379/0", default
        )

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return Path(value) if value is not None else None

    def flag(self, name: str, default: bool = False) -> bool:
        """Exactly 1/0, true/false or yes/no, in any case."""
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise SettingsError(f"{name} must be 1, 0, true, false, yes or no, not {value[:40]!r}")

    def integer(self, name: str, default: int, *, low: int, high: int | None = None) -> int:
        """A whole number from ``low`` to ``high`` (no upper bound when ``None``)."""
        value = self.text(name)
        if value is None:
            return default
        return _whole_number(name, value, low, high)

    def optional_integer(self, name: str, *, low: int, high: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        return _whole_number(name, value, low, high)

    def seconds(self, name: str, default: float, *, high: float = 3600.0) -> float:
        """A number of seconds, more than 0 and at most ``high``."""
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not 0 < number <= high:  # also false for NaN
            raise SettingsError(
                f"{name} must be a number of seconds, more than 0 and at most {high:g}, "
                f"not {value[:40]!r}"
            )
        return number

    def retired(self, name: str, *, use: str) -> None:
        """Refuse a name that was replaced, saying which name to use instead."""
        self._read.add(name)
        if self._values.get(name, "").strip():
            raise SettingsError(f"{name} is no longer read: set {use} instead")

    # -- the file ------------------------------------------------------------------------------

    def check_file_was_read(self) -> None:
        """Every key of the TOML file names a setting that was read; call after reading all."""
        unknown = sorted(self._file_names - self._read)
        if unknown:
            key = unknown[0].removeprefix(PREFIX).lower()
            raise SettingsError(
                f"{self._file} (CLAWFT_CONFIG): unknown setting {key!r}: {unknown[0]} is not a "
                "setting (see the settings table in the README)"
            )


def _whole_number(name: str, value: str, low: int, high: int | None) -> int:
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    problem = f"{name} must be a whole number {bounds}, not {value[:40]!r}"
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(problem) from None
    if number < low or (high is not None and number > high):
        raise SettingsError(problem)
    return number


def _toml_as_env(path: Path) -> dict[str, str]:
    """A TOML file of ``key = value`` pairs, as ``CLAWFT_KEY`` environment entries."""
    try:
        data = loads_toml(path.read_text(encoding="utf-8"), what=str(path))
    except (OSError, UnicodeDecodeError, Undecodable) as exc:
        raise SettingsError(f"CLAWFT_CONFIG: cannot read the settings file {path}: {exc}") from None
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict | list):
            raise SettingsError(f"{path} (CLAWFT_CONFIG): {key} must be a plain value")
        out[f"{PREFIX}{key.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return out
