"""Database settings: SQLite under the data directory by default, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from verifier.settings_source import SettingsError, SettingsSource

DEFAULT_FILE_NAME = "registry.db"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """Where the registry's metadata lives and how connections to it behave."""

    url: str = field(repr=False)
    """SQLAlchemy URL (``CLAWFT_DATABASE_URL``): ``sqlite:///PATH`` (the embedded default,
    ``<data dir>/registry.db``) or ``postgresql+psycopg://USER:PASSWORD@HOST/DB``
    (``postgresql://`` is accepted and given the psycopg 3 driver). Never shown in ``repr``: it
    may hold the password."""
    echo: bool = False
    """Log every SQL statement (``CLAWFT_DATABASE_ECHO=1``)."""
    pool_size: int = 5
    """Connections kept open to PostgreSQL (``CLAWFT_DATABASE_POOL_SIZE``)."""
    max_overflow: int = 10
    """Extra PostgreSQL connections allowed beyond ``pool_size`` under load."""
    connect_timeout_s: int = 5
    """How long opening a PostgreSQL connection may take before the database counts as down."""
    busy_timeout_s: float = 10.0
    """How long SQLite waits for another writer's lock before giving up."""

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, data_dir: Path) -> DatabaseSettings:
        return cls.from_source(SettingsSource(environ), data_dir=data_dir)

    @classmethod
    def from_source(cls, source: SettingsSource, *, data_dir: Path) -> DatabaseSettings:
        url = source.text("CLAWFT_DATABASE_URL") or f"sqlite:///{data_dir / DEFAULT_FILE_NAME}"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise SettingsError(
                "CLAWFT_DATABASE_URL must be sqlite:///PATH or postgresql://USER@HOST/DB"
            )
        if not url.isprintable():  # a NUL, a line break, an escape, a lone surrogate
            raise SettingsError(
                "CLAWFT_DATABASE_URL holds a control character or text that is not UTF-8 (not "
                "shown: it may hold a password)"
            )
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):  # its message may quote the password: not shown
            raise SettingsError(
                "CLAWFT_DATABASE_URL is not a URL SQLAlchemy can read (not shown: it may hold a "
                "password); percent-encode '@', ':' and '/' in the user name and password"
            ) from None
        if parsed.get_backend_name() == "sqlite":
            _check_sqlite_path(parsed.database, bool(parsed.query))
        return cls(
            url=url,
            echo=source.flag("CLAWFT_DATABASE_ECHO"),
            pool_size=source.integer("CLAWFT_DATABASE_POOL_SIZE", 5, low=1, high=1000),
        )


def _check_sqlite_path(path: str | None, has_options: bool) -> None:
    """A SQLite URL names one file by its path: no options (``?mode=ro`` would be ignored,
    ``uri=true`` would read the path as a URI), no in-memory database (nothing would persist)."""
    if has_options:
        raise SettingsError(
            "CLAWFT_DATABASE_URL: a sqlite:/// URL takes no options (?...); give the file's path"
        )
    if not path or path == ":memory:" or path.startswith("file:"):
        raise SettingsError(
            "CLAWFT_DATABASE_URL: sqlite:/// must be followed by the database file's path, such "
            "as sqlite:////var/lib/clawft/registry.db (not an in-memory or file: URI database)"
        )
