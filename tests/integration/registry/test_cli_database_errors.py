"""Every command that opens the registry's database stops with one line naming it (password
hidden) and exit status 1 when the database is down, missing, not a database, or at a schema
the code cannot run on; never with the driver's or Alembic's traceback, and ``serve`` lets go of
what it had started (the data directory's lock).

The databases are real: a closed loopback port, the session's PostgreSQL (a database that does
not exist on it), and SQLite files that are a directory, not a database, or under a file.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from client.cli.main import main
from registry.db import Database, DatabaseSettings, DatabaseUnavailable
from registry.db.migrate import upgrade
from registry.db.session import START_CHECK_DEADLINE_S, database_cause
from registry.embedded_broker import LOCK_FILE, hold_data_directory

pytestmark = pytest.mark.usefixtures("root_logger_restored")  # serve and worker run in-process

PASSWORD = "s3cret-Pw"  # must never be printed

# Every command that opens the database, with what it needs to get that far.
COMMANDS: dict[str, list[str]] = {
    "serve": ["serve"],
    "worker": ["worker"],
    "mirror": ["mirror", "--to", "{tmp}/mirror"],
    "migrate": ["admin", "migrate"],
    "create-publisher": ["admin", "create-publisher", "acme", "--namespace", "acme"],
    "tuf-init": [
        "admin",
        "tuf-init",
        "--root-key",
        "{tmp}/root.pem",
        "--targets-key",
        "{tmp}/targets.pem",
        "--root-out",
        "{tmp}/root.json",
    ],
    "sign-signers": ["admin", "sign-signers", "--targets-key", "{tmp}/targets.pem"],
    "rotate-key": [
        "admin",
        "rotate-key",
        "online",
        "--root-key",
        "{tmp}/root.pem",
        "--new-key",
        "{tmp}/new.pem",
    ],
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A data directory, and a broker URL (``worker`` needs one; nothing connects to it)."""
    for name in ("CLAWFT_CONFIG", "CLAWFT_DATABASE_URL_FILE", "CLAWFT_BROKER_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAWFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLAWFT_BROKER_URL", f"redis://:{PASSWORD}@127.0.0.1:{closed_port()}/0")
    return tmp_path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def run(command: str, tmp: Path) -> int:
    return main([part.replace("{tmp}", str(tmp)) for part in COMMANDS[command]])


def one_line_error(stderr: str) -> str:
    """The one line that says what is wrong (``serve`` logs its start above it)."""
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("INFO ")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and PASSWORD not in stderr
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_database_nobody_listens_on(
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = closed_port()
    monkeypatch.setenv(
        "CLAWFT_DATABASE_URL", f"postgresql://clawft:{PASSWORD}@127.0.0.1:{port}/registry"
    )
    assert run(command, environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert f"the database at postgresql+psycopg://clawft:***@127.0.0.1:{port}/registry" in error
    assert "is unavailable" in error and "refused" in error.lower()
    assert "CLAWFT_DATABASE_URL" in error


@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "sign-signers"])
def test_a_database_the_server_does_not_have(
    command: str,
    environment: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = sa.make_url(postgres_url).set(database="no_such_registry", password=PASSWORD)
    monkeypatch.setenv("CLAWFT_DATABASE_URL", url.render_as_string(hide_password=False))
    assert run(command, environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert 'database "no_such_registry" does not exist' in error


@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "create-publisher"])
def test_a_sqlite_file_that_is_not_a_database(
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = environment / "registry.db"
    before = b"\x7fELF not a database, but long enough to look like a header" * 20
    path.write_bytes(before)
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{path}")
    assert run(command, environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert f"the database at sqlite:///{path} is unavailable" in error
    assert path.read_bytes() == before  # nothing written into it


@pytest.mark.parametrize("where", ["a directory", "/dev/null"])
@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "create-publisher"])
def test_a_sqlite_path_that_is_not_a_regular_file(
    command: str,
    where: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SQLite would open /dev/null as an empty database and leave /dev/null-journal beside it."""
    path = environment / "registry.db" if where == "a directory" else Path(where)
    if where == "a directory":
        path.mkdir()
    journal_before = Path("/dev/null-journal").exists()
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{path}")
    assert run(command, environment) == 2
    assert "is not a regular file" in one_line_error(capsys.readouterr().err)
    assert Path("/dev/null-journal").exists() == journal_before


@pytest.mark.parametrize("command", ["serve", "migrate", "worker"])
def test_a_sqlite_path_under_a_file(
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (environment / "a-file").write_text("in the way")
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{environment}/a-file/db/registry.db")
    if command == "worker":  # it creates no database: there is none there to use
        assert run(command, environment) == 1
        assert "there is no database at" in one_line_error(capsys.readouterr().err)
    else:
        assert run(command, environment) == 2  # a setting that cannot work: the usage status
        error = one_line_error(capsys.readouterr().err)
        assert "cannot create the directory of the SQLite database" in error
        assert "CLAWFT_DATABASE_URL" in error
    assert (environment / "a-file").read_text() == "in the way"


@pytest.mark.parametrize("command", ["worker", "mirror", "create-publisher", "sign-signers"])
def test_only_migrate_and_serve_create_a_database(
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A mistyped path must not become a new, empty database (and its directories)."""
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{environment}/new/sub/typo.db")
    assert run(command, environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert "there is no database at" in error and "admin migrate" in error
    assert not (environment / "new").exists()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/registry.db?mode=ro",
        "sqlite:///file:{tmp}/registry.db?mode=ro&uri=true",
        "sqlite:///file:{tmp}/registry.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///{tmp}/a\x1b[2Jb.db",
        "postgresql://u:pw@h/db\udcff",
    ],
)
def test_a_database_url_that_names_no_file_or_holds_junk_is_refused(
    url: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Options SQLite would ignore or read as a URI, a database that would not persist, and
    characters no database name has: refused as settings, nothing created."""
    monkeypatch.chdir(environment)
    monkeypatch.setenv("CLAWFT_DATABASE_URL", url.replace("{tmp}", str(environment)))
    assert run("migrate", environment) == 2
    assert "CLAWFT_DATABASE_URL" in one_line_error(capsys.readouterr().err)
    assert sorted(p.name for p in environment.iterdir()) == []


def test_a_password_in_the_url_s_query_is_not_shown(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its message is also what /readyz, which the proxy serves publicly, says."""
    port = closed_port()
    monkeypatch.setenv(
        "CLAWFT_DATABASE_URL",
        f"postgresql://u@127.0.0.1:{port}/db?password={PASSWORD}&sslpassword={PASSWORD}",
    )
    assert run("migrate", environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert f"the database at postgresql+psycopg://u@127.0.0.1:{port}/db is unavailable" in error


def _migrated_sqlite(path: Path) -> None:
    db = Database(DatabaseSettings(url=f"sqlite:///{path}"))
    try:
        upgrade(db.engine)
    finally:
        db.dispose()


@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "create-publisher"])
def test_a_corrupt_sqlite_database(
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = environment / "corrupt.db"
    _migrated_sqlite(path)
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xa5" * 4096  # page 1, the header and schema root, stays readable
    path.write_bytes(bytes(data))
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{path}")
    assert run(command, environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert "malformed" in error or "not a database" in error, error


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_a_schema_record_with_two_revisions(
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = environment / "two.db"
    _migrated_sqlite(path)
    with sa.create_engine(f"sqlite:///{path}").begin() as connection:
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0004')"))
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{path}")
    assert run(command, environment) == 1
    assert "alembic_version" in one_line_error(capsys.readouterr().err)


def test_a_huge_revision_is_shown_shortened(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = environment / "huge.db"
    _migrated_sqlite(path)
    with sa.create_engine(f"sqlite:///{path}").begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = :v"), {"v": "X" * 10**6}
        )
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{path}")
    for command in ("migrate", "worker"):
        assert run(command, environment) == 1
        error = one_line_error(capsys.readouterr().err)
        assert "migrated by a newer release" in error and len(error) < 600


@pytest.mark.parametrize("command", ["migrate", "create-publisher", "sign-signers"])
def test_a_role_without_privileges(
    command: str,
    environment: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PostgreSQL refuses the statements (permission denied): one line, not a traceback."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name, role = f"p_{uuid.uuid4().hex[:12]}", f"r_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        connection.execute(sa.text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{PASSWORD}'"))
    owner_url = sa.make_url(postgres_url).set(database=name)
    try:
        db = Database(DatabaseSettings(url=owner_url.render_as_string(hide_password=False)))
        upgrade(db.engine)  # the tables are the owner's: the role may connect, not read them
        db.dispose()
        url = owner_url.set(username=role, password=PASSWORD)
        monkeypatch.setenv("CLAWFT_DATABASE_URL", url.render_as_string(hide_password=False))
        assert run(command, environment) == 1
        assert "permission denied" in one_line_error(capsys.readouterr().err)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


@pytest.fixture
def database_of_a_newer_release(environment: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite database whose schema a later release migrated (a revision this code lacks,
    named with a terminal escape, as a hostile database could)."""
    path = environment / "newer.db"
    db = Database(DatabaseSettings(url=f"sqlite:///{path}"))
    try:
        upgrade(db.engine)
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d\x1b[2J'"))
    finally:
        db.dispose()
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{path}")
    return path


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_a_schema_migrated_by_a_newer_release(
    command: str,
    database_of_a_newer_release: Path,
    environment: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(command, environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert "migrated by a newer release" in error
    assert "\x1b" not in error and "f00d" in error
    with sa.create_engine(f"sqlite:///{database_of_a_newer_release}").connect() as connection:
        assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == (
            "f00d\x1b[2J"
        )


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_a_database_whose_schema_record_is_mangled(
    command: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = environment / "mangled.db"
    db = Database(DatabaseSettings(url=f"sqlite:///{path}"))
    try:
        upgrade(db.engine)
        with db.engine.begin() as connection:
            connection.execute(
                sa.text("ALTER TABLE alembic_version RENAME COLUMN version_num TO v")
            )
    finally:
        db.dispose()
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{path}")
    assert run(command, environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert "the database refused the command" in error and "version_num" in error


def test_a_worker_on_an_empty_database_says_to_migrate_it(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{environment}/empty.db")
    assert run("worker", environment) == 1
    error = one_line_error(capsys.readouterr().err)
    assert "run `clawft-registry admin migrate`" in error


@pytest.fixture
def data_directory_released(environment: Path) -> Iterator[Path]:
    data = environment / "data"
    yield data
    release = hold_data_directory(data)  # raises when a failed serve still holds it
    release()


def test_serve_lets_go_of_the_data_directory_when_the_database_is_down(
    data_directory_released: Path,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(
        "CLAWFT_DATABASE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:{closed_port()}/r"
    )
    assert run("serve", environment) == 1
    one_line_error(capsys.readouterr().err)
    assert run("serve", environment) == 1  # not "another serve is running"
    assert "another clawft-registry serve" not in capsys.readouterr().err


@pytest.mark.parametrize("planted", ["a file in the way", "a symlink for the lock"])
def test_serve_refuses_a_data_directory_it_cannot_use(
    planted: str,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = environment / "precious"
    target.write_text("keep me")
    if planted == "a file in the way":
        data = target / "data"
    else:
        data = environment / "data"
        data.mkdir()
        (data / LOCK_FILE).symlink_to(target)
    monkeypatch.setenv("CLAWFT_DATA_DIR", str(data))
    monkeypatch.delenv("CLAWFT_BROKER_URL")
    assert run("serve", environment) == 2
    error = one_line_error(capsys.readouterr().err)
    assert f"cannot use the data directory {data}" in error and "--data-dir" in error
    assert target.read_text() == "keep me"


def test_a_worker_refuses_a_data_directory_under_a_file(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = environment / "registry.db"
    db = Database(DatabaseSettings(url=f"sqlite:///{database}"))
    upgrade(db.engine)
    db.dispose()
    (environment / "a-file").write_text("in the way")
    monkeypatch.setenv("CLAWFT_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("CLAWFT_DATA_DIR", str(environment / "a-file" / "data"))
    assert run("worker", environment) == 2
    error = one_line_error(capsys.readouterr().err)
    assert "cannot use the data directory" in error and "CLAWFT_DATA_DIR" in error


def test_the_driver_s_words_come_on_one_bounded_line() -> None:
    class Driver(Exception):
        pass

    class Wrapped(Exception):
        orig = Driver(
            "Multiple connection attempts failed. All failures were:\n"
            "- host: 'localhost', port: 1, hostaddr: '::1': connection failed: refused\n"
            "- host: 'localhost', port: 1, hostaddr: '127.0.0.1': connection failed: refused\n"
            + "\tIs the server running on that host and accepting TCP/IP connections?"
            * 10
        )

    cause = database_cause(Wrapped())
    assert "\n" not in cause and "\t" not in cause
    assert cause.startswith("Multiple connection attempts failed. All failures were: - host")
    assert "hostaddr: '127.0.0.1'" in cause and len(cause) == 300 and cause.endswith("…")
    assert database_cause(Exception("")) == "Exception"


@pytest.fixture
def hung_postgres() -> Iterator[int]:
    """A loopback server that lets a PostgreSQL client in (no TLS, no password) and then never
    answers: a hung database, which connect_timeout does not cover."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)
            with contextlib.suppress(OSError):
                while True:
                    length = int.from_bytes(connection.recv(4), "big")
                    body = connection.recv(max(0, length - 4))
                    if body[:4] in (b"\x04\xd2\x16\x2f", b"\x04\xd2\x16\x30"):  # SSL, GSS
                        connection.sendall(b"N")
                        continue
                    ready = b"R" + (8).to_bytes(4, "big") + (0).to_bytes(4, "big")
                    connection.sendall(ready + b"Z" + (5).to_bytes(4, "big") + b"I")
                    break

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for connection in held:
            connection.close()


def test_a_check_gives_up_on_a_database_that_never_answers(hung_postgres: int) -> None:
    db = Database(
        DatabaseSettings(url=f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:{hung_postgres}/r")
    )
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="did not answer a query within 1 s") as down:
        db.check(deadline_s=1.0)
    assert time.monotonic() - started < 5 and PASSWORD not in str(down.value)


def test_a_command_gives_up_on_a_database_that_never_answers(
    hung_postgres: int,
    environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(
        "CLAWFT_DATABASE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:{hung_postgres}/registry"
    )
    started = time.monotonic()
    assert run("migrate", environment) == 1
    assert time.monotonic() - started < START_CHECK_DEADLINE_S + 10
    assert "did not answer a query within" in one_line_error(capsys.readouterr().err)
