"""Secrets read from files (``CLAWFT_<NAME>_FILE``), as Docker and Kubernetes mount them: the
value is the file's one line, and a path that is not such a file is one clear error at start,
which never blocks, never reads without end, and never shows the secret."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from registry.embedded import worker_environment
from registry.serving import apply_environment
from registry.settings import RegistrySettings
from verifier.settings_source import MAX_SECRET_FILE_BYTES, SECRET_FILES

S3 = {"CLAWFT_STORAGE_BACKEND": "s3", "CLAWFT_S3_BUCKET": "clawft-blobs"}
PASSWORD = "s3cr3t-pa55word"


def secret_file(directory: Path, name: str, content: bytes) -> Path:
    path = directory / name
    path.write_bytes(content)
    return path


def test_every_secret_is_read_from_its_file(tmp_path: Path) -> None:
    files = {
        "CLAWFT_DATABASE_URL_FILE": b"postgresql://clawft:" + PASSWORD.encode() + b"@db/clawft\n",
        "CLAWFT_BROKER_URL_FILE": b"redis://:" + PASSWORD.encode() + b"@valkey:6379/0\r\n",
        "CLAWFT_RESULT_BACKEND_FILE": b"  redis://:" + PASSWORD.encode() + b"@valkey:6379/1  ",
        "CLAWFT_S3_ACCESS_KEY_ID_FILE": b"clawft-access\n",
        "CLAWFT_S3_SECRET_ACCESS_KEY_FILE": PASSWORD.encode() + b"\n",
    }
    env = {name: str(secret_file(tmp_path, name, data)) for name, data in files.items()}
    settings = RegistrySettings.from_env({**S3, **env})
    assert settings.database.url == f"postgresql+psycopg://clawft:{PASSWORD}@db/clawft"
    assert settings.worker.broker_url == f"redis://:{PASSWORD}@valkey:6379/0"
    assert settings.worker.result_backend == f"redis://:{PASSWORD}@valkey:6379/1"
    s3 = settings.storage.s3
    assert s3 is not None
    assert (s3.access_key_id, s3.secret_access_key) == ("clawft-access", PASSWORD)
    assert set(files) == set(SECRET_FILES.values())


def test_a_secret_file_may_be_a_symlink_as_kubernetes_mounts_them(tmp_path: Path) -> None:
    real = secret_file(tmp_path, "..data-secret", PASSWORD.encode())
    link = tmp_path / "s3-secret"
    link.symlink_to(real)
    env = {
        **S3,
        "CLAWFT_S3_ACCESS_KEY_ID": "clawft-access",
        "CLAWFT_S3_SECRET_ACCESS_KEY_FILE": str(link),
    }
    s3 = RegistrySettings.from_env(env).storage.s3
    assert s3 is not None and s3.secret_access_key == PASSWORD


def test_the_toml_file_may_name_a_secret_file(tmp_path: Path) -> None:
    url = secret_file(tmp_path, "broker-url", b"redis://valkey:6379/0\n")
    config = tmp_path / "registry.toml"
    config.write_text(f'broker_url_file = "{url}"\n')
    settings = RegistrySettings.from_env({"CLAWFT_CONFIG": str(config)})
    assert settings.worker.broker_url == "redis://valkey:6379/0"


def test_the_environment_wins_over_the_toml_file_whichever_form_each_uses(
    tmp_path: Path,
) -> None:
    from_file = secret_file(tmp_path, "database-url", b"postgresql://env-file@db/clawft\n")
    config = tmp_path / "registry.toml"
    config.write_text(
        'database_url = "postgresql://toml@db/clawft"\nbroker_url_file = "/no/such/file"\n'
    )
    settings = RegistrySettings.from_env(
        {
            "CLAWFT_CONFIG": str(config),
            "CLAWFT_DATABASE_URL_FILE": str(from_file),
            "CLAWFT_BROKER_URL": "redis://valkey:6379/0",
        }
    )
    assert settings.database.url == "postgresql+psycopg://env-file@db/clawft"
    assert settings.worker.broker_url == "redis://valkey:6379/0"


def test_a_value_and_its_file_together_in_the_toml_file_are_refused(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "broker-url", b"redis://valkey:6379/0\n")
    config = tmp_path / "registry.toml"
    config.write_text(f'broker_url = "redis://valkey:6379/0"\nbroker_url_file = "{path}"\n')
    with pytest.raises(ValueError, match=r"both set in .*registry\.toml \(CLAWFT_CONFIG\)"):
        RegistrySettings.from_env({"CLAWFT_CONFIG": str(config)})


@pytest.mark.parametrize(("name", "file_variable"), sorted(SECRET_FILES.items()))
def test_a_value_and_its_file_together_are_refused(
    tmp_path: Path, name: str, file_variable: str
) -> None:
    path = secret_file(tmp_path, "secret", b"redis://valkey:6379/0\n")
    with pytest.raises(ValueError, match=f"{name} and {file_variable} are both set"):
        RegistrySettings.from_env({**S3, name: "redis://valkey:6379/0", file_variable: str(path)})


def refused(tmp_path: Path, path: str | Path) -> str:
    """The error reading the database URL from ``path`` gives (it must be one line)."""
    with pytest.raises(ValueError, match="CLAWFT_DATABASE_URL") as raised:
        RegistrySettings.from_env(
            {"CLAWFT_DATA_DIR": str(tmp_path), "CLAWFT_DATABASE_URL_FILE": str(path)}
        )
    message = str(raised.value)
    assert "\n" not in message
    assert PASSWORD not in message
    return message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    assert "cannot read" in refused(tmp_path, tmp_path / "no-such-secret")


def test_a_dangling_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").symlink_to(tmp_path / "gone")
    assert "cannot read" in refused(tmp_path, tmp_path / "secret")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "not a regular file" in refused(tmp_path, tmp_path)


def test_a_fifo_with_no_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "secret"
    os.mkfifo(fifo)
    outcome: list[str] = []
    reader = threading.Thread(target=lambda: outcome.append(refused(tmp_path, fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # unblock the reader so the test run can end, then fail
        with fifo.open("wb"):
            pass
        pytest.fail("reading the secret from a FIFO blocked")
    assert outcome and "not a regular file" in outcome[0]


def test_an_endless_device_is_refused_before_it_is_read(tmp_path: Path) -> None:
    assert "not a regular file" in refused(tmp_path, "/dev/zero")


def test_a_file_too_large_for_a_secret_is_refused(tmp_path: Path) -> None:
    large = secret_file(tmp_path, "secret", b"p" * (MAX_SECRET_FILE_BYTES + 1))
    assert "larger than" in refused(tmp_path, large)


def test_a_secret_as_large_as_allowed_is_read(tmp_path: Path) -> None:
    key = "k" * (MAX_SECRET_FILE_BYTES - 1)
    path = secret_file(tmp_path, "secret", key.encode() + b"\n")
    env = {**S3, "CLAWFT_S3_ACCESS_KEY_ID": "id", "CLAWFT_S3_SECRET_ACCESS_KEY_FILE": str(path)}
    s3 = RegistrySettings.from_env(env).storage.s3
    assert s3 is not None and s3.secret_access_key == key


def test_a_byte_order_mark_is_not_part_of_the_secret(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "key-id", "\ufeffclawft-access\r\n".encode())
    env = {**S3, "CLAWFT_S3_ACCESS_KEY_ID_FILE": str(path), "CLAWFT_S3_SECRET_ACCESS_KEY": "s"}
    s3 = RegistrySettings.from_env(env).storage.s3
    assert s3 is not None and s3.access_key_id == "clawft-access"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b" \n\t\n", "is empty"),
        (b"\xff\xfepostgresql://db/clawft", "not UTF-8"),
        (b"postgresql://db/clawft\nDROP TABLE plugins;\n", "on one line"),
        (b"postgresql://db/clawft\rextra", "on one line"),
        ("postgresql://db/clawft\u2028extra".encode(), "on one line"),
        (b"postgresql://db/clawft\x0bextra", "on one line"),
        (b"postgresql://db\x00/clawft", "NUL"),
    ],
)
def test_a_file_that_does_not_hold_one_secret_is_refused(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    assert problem in refused(tmp_path, secret_file(tmp_path, "secret", content))


def test_a_path_with_a_nul_is_refused(tmp_path: Path) -> None:
    assert "NUL" in refused(tmp_path, "/run/secrets/db\x00url")


def test_a_path_with_a_line_break_is_named_on_one_line(tmp_path: Path) -> None:
    assert "cannot read" in refused(tmp_path, tmp_path / "db\nurl")


def test_a_malformed_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "broker", f"valkey:{PASSWORD}@6379\n".encode())
    with pytest.raises(ValueError, match="CLAWFT_BROKER_URL must be a URL") as raised:
        RegistrySettings.from_env({"CLAWFT_BROKER_URL_FILE": str(path)})
    assert PASSWORD not in str(raised.value)
    with pytest.raises(ValueError, match="CLAWFT_BROKER_URL must be a URL") as raised:
        RegistrySettings.from_env({"CLAWFT_BROKER_URL": f"valkey:{PASSWORD}@6379"})
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://clawft:p@ss:{PASSWORD}@db/clawft",  # '@' and ':' not percent-encoded
        f"postgresql://clawft:{PASSWORD}@db:port/clawft",
    ],
)
def test_a_database_url_sqlalchemy_cannot_read_is_refused_without_showing_it(
    tmp_path: Path, url: str
) -> None:
    path = secret_file(tmp_path, "database-url", url.encode())
    for env in ({"CLAWFT_DATABASE_URL": url}, {"CLAWFT_DATABASE_URL_FILE": str(path)}):
        with pytest.raises(ValueError, match="CLAWFT_DATABASE_URL is not a URL") as raised:
            RegistrySettings.from_env(env)
        assert PASSWORD not in str(raised.value)


def test_no_repr_of_the_settings_shows_a_secret() -> None:
    settings = RegistrySettings.from_env(
        {
            **S3,
            "CLAWFT_DATABASE_URL": f"postgresql://clawft:{PASSWORD}@db/clawft",
            "CLAWFT_BROKER_URL": f"redis://:{PASSWORD}@valkey:6379/0",
            "CLAWFT_RESULT_BACKEND": f"redis://:{PASSWORD}@valkey:6379/1",
            "CLAWFT_S3_ACCESS_KEY_ID": f"id-{PASSWORD}",
            "CLAWFT_S3_SECRET_ACCESS_KEY": PASSWORD,
        }
    )
    shown = [settings, settings.database, settings.worker, settings.storage, settings.storage.s3]
    for part in shown:
        assert PASSWORD not in repr(part), type(part).__name__


def test_the_file_is_read_as_the_variable_would_be(tmp_path: Path) -> None:
    path = secret_file(tmp_path, "database", b"mysql://clawft@db/clawft\n")
    with pytest.raises(ValueError, match="CLAWFT_DATABASE_URL must be sqlite"):
        RegistrySettings.from_env({"CLAWFT_DATABASE_URL_FILE": str(path)})


def test_serve_copies_only_the_embedded_broker_to_its_workers(tmp_path: Path) -> None:
    """A broker the operator gave stays where it was given (its password out of the HTTP
    workers' environment); the embedded one, which only ``serve`` knows, is handed over."""
    given = RegistrySettings.from_env(
        {"CLAWFT_DATA_DIR": str(tmp_path), "CLAWFT_BROKER_URL": f"redis://:{PASSWORD}@v:6379/0"}
    )
    production = worker_environment(given, embedded_broker=False)
    assert "CLAWFT_BROKER_URL" not in production and "CLAWFT_RESULT_BACKEND" not in production
    assert PASSWORD not in "".join(production.values())
    started = RegistrySettings.from_env({"CLAWFT_DATA_DIR": str(tmp_path)}).with_broker(
        "redis://127.0.0.1:6390/0"
    )
    embedded = worker_environment(started, embedded_broker=True)
    assert embedded["CLAWFT_BROKER_URL"] == embedded["CLAWFT_RESULT_BACKEND"]


def test_a_worker_reads_the_embedded_broker_over_a_file_the_toml_file_names(
    tmp_path: Path,
) -> None:
    """What a granian worker of ``serve`` reads: the embedded broker in its environment wins
    over the ``broker_url_file`` of the settings file (no "both set")."""
    path = secret_file(tmp_path, "broker-url", b"redis://valkey:6379/0\n")
    config = tmp_path / "registry.toml"
    config.write_text(f'broker_url_file = "{path}"\nresult_backend_file = "{path}"\n')
    environ = {"CLAWFT_CONFIG": str(config)}
    apply_environment(
        {
            "CLAWFT_BROKER_URL": "redis://127.0.0.1:6390/0",
            "CLAWFT_RESULT_BACKEND": "redis://127.0.0.1:6390/0",
        },
        environ,
    )
    worker = RegistrySettings.from_env(environ).worker
    assert worker.broker_url == worker.result_backend == "redis://127.0.0.1:6390/0"


def test_serve_hands_its_workers_a_resolved_secret_in_place_of_its_file() -> None:
    """``serve`` gives its granian workers the broker it settled on; the file the environment
    named for it must go, or each worker would find both set and refuse to start."""
    environ = {
        "CLAWFT_BROKER_URL_FILE": "/run/secrets/broker-url",
        "CLAWFT_DATABASE_URL_FILE": "/run/secrets/database-url",
    }
    apply_environment({"CLAWFT_BROKER_URL": "redis://127.0.0.1:6390/0"}, environ)
    assert environ == {
        "CLAWFT_BROKER_URL": "redis://127.0.0.1:6390/0",
        "CLAWFT_DATABASE_URL_FILE": "/run/secrets/database-url",
    }
