"""Where settings come from: ``CLAWFT_*`` environment variables over an optional TOML file
(named by ``CLAWFT_CONFIG``), read through one parser per kind of value.

A secret (:data:`SECRET_FILES`: the database and broker URLs, the S3 keys) may instead be given
as the path of a file that holds it, in ``<NAME>_FILE``, as Docker and Kubernetes secrets are
mounted: setting both in one place is an error, and the environment (either form) wins over the
TOML file (either form).

Every parser raises :class:`SettingsError` (a ``ValueError``) naming the variable and saying what
it must be, so a bad value stops ``serve``, ``worker`` or ``celery -A verifier.standalone`` at
start with one line an operator can act on. An empty value counts as unset. The registry's
settings tree (:mod:`registry.settings`) and the standalone verifier read through this class,
so a variable is parsed the same way wherever it is read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from client.decoding import Undecodable, loads_toml

PREFIX = "CLAWFT_"
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")

SECRET_FILES: Mapping[str, str] = {
    "CLAWFT_DATABASE_URL": "CLAWFT_DATABASE_URL_FILE",
    "CLAWFT_BROKER_URL": "CLAWFT_BROKER_URL_FILE",
    "CLAWFT_RESULT_BACKEND": "CLAWFT_RESULT_BACKEND_FILE",
    "CLAWFT_S3_ACCESS_KEY_ID": "CLAWFT_S3_ACCESS_KEY_ID_FILE",
    "CLAWFT_S3_SECRET_ACCESS_KEY": "CLAWFT_S3_SECRET_ACCESS_KEY_FILE",
}
"""Each secret setting, and the variable that may name a file holding its value instead."""
MAX_SECRET_FILE_BYTES = 64 * 1024
"""A secret file holds one value: a file larger than this is a wrong path, not a secret."""


class SettingsError(ValueError):
    """A setting is malformed, out of range, retired, unknown, or inconsistent with another."""


class SettingsSource:
    """The ``CLAWFT_*`` values of one start-up, and which of them were read."""

    def __init__(self, values: Mapping[str, str], *, file: Path | None = None) -> None:
        self._values = dict(values)
        self._file = file
        self._file_names: set[str] = set()
        self._read: set[str] = set()
        self._layers: tuple[tuple[Mapping[str, str], str], ...] = (
            (self._values, "the environment"),
        )
        """Where values come from, the one that wins first (a secret is chosen layer by layer)."""

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
        source._layers = ((env, "the environment"), (from_file, f"{path} (CLAWFT_CONFIG)"))
        return source

    # -- parsers -------------------------------------------------------------------------------

    def text(self, name: str, default: str | None = None) -> str | None:
        """The value as given (stripped); ``default`` when unset or empty."""
        self._read.add(name)
        file_variable = SECRET_FILES.get(name)
        if file_variable is not None:
            value = self._secret(name, file_variable)
        else:
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
            secret = name in SECRET_FILES
            given = "the value given (not shown: a secret)" if secret else repr(value[:60])
            raise SettingsError(f"{name} must be {what}, not {given}")
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

    def _secret(self, name: str, file_variable: str) -> str:
        """The secret ``name``, given outright or as the file ``file_variable`` names: from
        the environment if it sets either, else from the settings file; both in one place is
        an error."""
        self._read.add(file_variable)
        for values, where in self._layers:
            given = values.get(name, "").strip()
            path = values.get(file_variable, "").strip()
            if given and path:
                raise SettingsError(
                    f"{name} and {file_variable} are both set in {where}: set only one of them"
                )
            if path:
                return read_secret_file(file_variable, path)
            if given:
                return given
        return ""

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


def read_secret_file(variable: str, where: str) -> str:
    """The one-line secret in the regular file at ``where`` (named by ``variable``), without
    the whitespace around it (or a UTF-8 byte order mark). A FIFO, a device or a directory is
    refused before it is opened (a read could block for ever, or never end), and so is a file
    of more than :data:`MAX_SECRET_FILE_BYTES`, text that is not UTF-8, an empty file or more
    than one line."""
    if "\x00" in where:
        raise SettingsError(f"{variable} must not contain a NUL character")
    shown = repr(where[:200])  # one line, whatever the path holds
    not_regular = SettingsError(f"{variable}: {shown} is not a regular file")
    try:
        if not stat.S_ISREG(Path(where).stat().st_mode):  # a device is never even opened
            raise not_regular
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SettingsError(f"{variable}: cannot read {shown}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the check above
            raise not_regular
        data = b""
        while len(data) <= MAX_SECRET_FILE_BYTES:
            chunk = os.read(fd, MAX_SECRET_FILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise SettingsError(f"{variable}: cannot read {shown}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise SettingsError(
            f"{variable}: {shown} is larger than {MAX_SECRET_FILE_BYTES:,} bytes; "
            "it must hold only the secret"
        )
    try:
        value = data.decode("utf-8-sig").strip()  # without the byte order mark some editors add
    except UnicodeDecodeError:
        raise SettingsError(f"{variable}: {shown} is not UTF-8 text") from None
    if not value:
        raise SettingsError(f"{variable}: {shown} is empty; write the secret into it")
    if len(value.splitlines()) > 1:  # any line break Python knows, U+2028 included
        raise SettingsError(f"{variable}: {shown} must hold the secret on one line")
    return value


def _whole_number(name: str, value: str, low: int, high: int | None) -> int:
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    problem = f"{name} must be a whole number {bounds}, not {value[:40]!r}"
    if not re.fullmatch(r"-?[0-9]+", value):  # int() also takes spaces, "_" and non-ASCII digits
        raise SettingsError(problem)
    number = int(value)
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
