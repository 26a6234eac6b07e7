"""The README's settings tables and the code agree: every ``CLAWFT_*`` variable the code reads
is in a table, every variable in a table is read, and the defaults shown are the dataclasses'."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry.settings import RegistrySettings
from verifier.celery_app import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("client", "registry", "verifier", "infra")
ROW = re.compile(r"^\| `(CLAWFT_[A-Z0-9_]+)` \| (.*?) \| (.*) \|$")

DEFAULTS = RegistrySettings()
FIELD: dict[str, Callable[[RegistrySettings], Any]] = {
    "CLAWFT_DATA_DIR": lambda s: s.data_dir,
    "CLAWFT_HOST": lambda s: s.host,
    "CLAWFT_PORT": lambda s: s.port,
    "CLAWFT_HTTP_HEADER_TIMEOUT_S": lambda s: s.http.header_timeout_s,
    "CLAWFT_HTTP_UPLOAD_BODY_TIMEOUT_S": lambda s: s.http.upload_body_timeout_s,
    "CLAWFT_HTTP_JSON_BODY_TIMEOUT_S": lambda s: s.http.json_body_timeout_s,
    "CLAWFT_DATABASE_POOL_SIZE": lambda s: s.database.pool_size,
    "CLAWFT_DATABASE_ECHO": lambda s: s.database.echo,
    "CLAWFT_STORAGE_BACKEND": lambda s: s.storage.backend,
    "CLAWFT_BROKER_VISIBILITY_TIMEOUT_S": lambda s: s.worker.visibility_timeout_s,
    "CLAWFT_BROKER_RESTORE_INTERVAL_S": lambda s: s.worker.restore_interval_s,
    "CLAWFT_TASK_SOFT_TIME_LIMIT_S": lambda s: s.worker.soft_time_limit_s,
    "CLAWFT_TASK_TIME_LIMIT_S": lambda s: s.worker.time_limit_s,
    "CLAWFT_TASK_MAX_RETRIES": lambda s: s.worker.max_retries,
    "CLAWFT_TASK_RETRY_BACKOFF_S": lambda s: s.worker.retry_backoff_s,
    "CLAWFT_TASK_RETRY_BACKOFF_MAX_S": lambda s: s.worker.retry_backoff_max_s,
    "CLAWFT_WORKER_MAX_TASKS_PER_CHILD": lambda s: s.worker.max_tasks_per_child,
    "CLAWFT_VERIFIER_STAGING": lambda s: s.worker.verifier.staging,
    "CLAWFT_VERIFIER_CPU_SECONDS": lambda s: s.worker.verifier.isolation.cpu_seconds,
    "CLAWFT_VERIFIER_MEMORY_BYTES": lambda s: s.worker.verifier.isolation.memory_bytes,
    "CLAWFT_VERIFIER_WALL_SECONDS": lambda s: s.worker.verifier.isolation.wall_seconds,
    "CLAWFT_VERIFIER_SCRATCH_BYTES": lambda s: s.worker.verifier.isolation.scratch_bytes,
    "CLAWFT_VERIFIER_SCRATCH_ENTRIES": lambda s: s.worker.verifier.isolation.scratch_entries,
    "CLAWFT_TUF_BINS": lambda s: s.tuf.bins,
    "CLAWFT_UPLOADS_DIR": lambda s: s.worker.uploads_dir,
    "CLAWFT_VERDICTS_DB": lambda s: s.worker.verdicts_db,
    "CLAWFT_VERDICTS_BUSY_TIMEOUT_S": lambda s: s.worker.verdicts_busy_timeout_s,
    "CLAWFT_MAX_UPLOAD_FILE_BYTES": lambda s: s.worker.max_upload_file_bytes,
    "CLAWFT_WORKER_METRICS_HOST": lambda s: s.worker_metrics_host,
}
"""The settings whose default is a plain value; the others show "—" (unset) in the table."""
UNSET: dict[str, Callable[[RegistrySettings], Any]] = {
    "CLAWFT_WORKERS": lambda s: s.http.workers,
    "CLAWFT_BLOB_ACCEL_PREFIX": lambda s: s.blob_accel_prefix,
    "CLAWFT_BROKER_URL": lambda s: s.worker.broker_url,
    "CLAWFT_RESULT_BACKEND": lambda s: s.worker.result_backend,
    "CLAWFT_TRUST_CONFIG": lambda s: s.worker.verifier.trust_config,
    "CLAWFT_VERIFIER_SCRATCH_DIR": lambda s: s.worker.verifier.isolation.scratch_root,
    "CLAWFT_TUF_ONLINE_KEY_URI": lambda s: s.tuf.online_key_uri,
    "CLAWFT_WORKER_METRICS_PORT": lambda s: s.worker_metrics_port,
}


def table_rows() -> dict[str, tuple[str, str]]:
    """Every row of the README's settings tables: variable -> (default cell, meaning)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            assert match[1] not in rows, f"{match[1]} is in the README's tables twice"
            rows[match[1]] = (match[2], match[3])
    return rows


def names_in_code() -> set[str]:
    """Every ``"CLAWFT_...`` string literal of the sources, but prefixes that build names."""
    found: set[str] = set()
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            found |= set(re.findall(r"[\"'](CLAWFT_[A-Z0-9_]+)", path.read_text("utf-8")))
    return {name for name in found if not name.endswith("_")}


def test_every_variable_the_code_reads_is_in_the_table() -> None:
    missing = names_in_code() - set(table_rows())
    assert not missing, f"add these to the README's settings table: {sorted(missing)}"


def test_every_variable_in_the_table_is_read_by_the_code() -> None:
    unread = set(table_rows()) - names_in_code()
    assert not unread, f"the README lists variables nothing reads: {sorted(unread)}"


def test_every_registry_setting_has_a_checked_default() -> None:
    registry_names = set(table_rows()) - {
        "CLAWFT_CONFIG",
        "CLAWFT_REGISTRY_URL",
        "CLAWFT_REGISTRY_TOKEN",
        "CLAWFT_VERIFIER_TRUST_CONFIG",
        "CLAWFT_HTTP_KEEP_ALIVE_S",
        "CLAWFT_LOG_FORMAT",
        "CLAWFT_DATABASE_URL",
        "CLAWFT_STORAGE_DIR",
        "CLAWFT_S3_BUCKET",
        "CLAWFT_S3_ENDPOINT_URL",
        "CLAWFT_S3_REGION",
        "CLAWFT_S3_ACCESS_KEY_ID",
        "CLAWFT_S3_SECRET_ACCESS_KEY",
        "CLAWFT_S3_PREFIX",
        "CLAWFT_S3_CREATE_BUCKET",
        "CLAWFT_S3_PRESIGN",
        # a file holding a secret: read as the setting it names, never a field of its own
        "CLAWFT_DATABASE_URL_FILE",
        "CLAWFT_S3_ACCESS_KEY_ID_FILE",
        "CLAWFT_S3_SECRET_ACCESS_KEY_FILE",
        "CLAWFT_BROKER_URL_FILE",
        "CLAWFT_RESULT_BACKEND_FILE",
    }  # the S3 settings live in storage.s3, which the local default does not have
    assert registry_names == set(FIELD) | set(UNSET)


@pytest.mark.parametrize("name", sorted(FIELD))
def test_the_default_in_the_table_is_the_dataclass_default(name: str) -> None:
    cell = table_rows()[name][0]
    shown = re.fullmatch(r"`([^`]*)`", cell)
    assert shown, f"{name}: the default cell {cell!r} is not one `value`"
    value = FIELD[name](DEFAULTS)
    if isinstance(value, bool):
        assert shown[1] == str(value).lower()
    elif isinstance(value, int | float):
        assert float(shown[1]) == value
    else:
        assert shown[1] == str(value)


@pytest.mark.parametrize("name", sorted(UNSET))
def test_a_setting_shown_unset_is_none_by_default(name: str) -> None:
    assert table_rows()[name][0] == "—"
    assert UNSET[name](DEFAULTS) is None


def test_the_s3_defaults_in_the_table() -> None:
    rows = table_rows()
    s3 = RegistrySettings.from_env(
        {"CLAWFT_STORAGE_BACKEND": "s3", "CLAWFT_S3_BUCKET": "clawft-blobs"}
    ).storage.s3
    assert s3 is not None
    assert rows["CLAWFT_S3_REGION"][0] == f"`{s3.region}`"
    assert rows["CLAWFT_S3_CREATE_BUCKET"][0] == f"`{str(s3.create_bucket).lower()}`"
    assert rows["CLAWFT_S3_PRESIGN"][0] == f"`{str(s3.presign_downloads).lower()}`"
    assert WorkerSettings().broker_url is None
