"""Database settings: SQLite under the data directory by default, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str
    """SQLAlchemy URL (``CLAWFT_DATABASE_URL``): ``sqlite:///path`` or
    ``postgresql+psycopg://user:pass@host/db``."""
    echo: bool = False
    """Log every SQL statement (``CLAWFT_DATABASE_ECHO=1``)."""
    pool_size: int = 5
    """Connections kept open to PostgreSQL."""
    busy_timeout_s: float = 10.0
    """How long SQLite waits for a lock before giving up."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, data_dir: Path) -> DatabaseSettings:
        url = environ.get("CLAWFT_DATABASE_URL", "").strip()
        if not url:
            url = f"sqlite:///{data_dir / 'registry.sqlite3'}"
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError(
                "CLAWFT_DATABASE_URL must be sqlite:///PATH or postgresql://USER@HOST/DB"
            )
        return cls(url=url, echo=environ.get("CLAWFT_DATABASE_ECHO", "") in ("1", "true"))
