"""The one settings tree: a bad value of any setting is one error naming its variable, the
TOML file is checked key by key, and ``worker`` runs with the limits it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.logs import log_format
from registry.settings import RegistrySettings
from registry.worker import create_worker_app
from tests.unit.test_settings_table import table_rows
from verifier.tasks import VERIFY_UPLOAD, VerificationOutcome, VerificationServices

S3 = {"CLAWFT_STORAGE_BACKEND": "s3", "CLAWFT_S3_BUCKET": "clawft-blobs"}
BAD: dict[str, tuple[str, dict[str, str]]] = {
    "CLAWFT_CONFIG": ("/no/such/settings.toml", {}),
    "CLAWFT_DATA_DIR": ("data\x00dir", {}),
    "CLAWFT_HOST": ("local host", {}),
    "CLAWFT_PORT": ("70000", {}),
    "CLAWFT_WORKER_METRICS_PORT": ("0", {}),
    "CLAWFT_WORKER_METRICS_HOST": ("0.0.0.0;curl evil", {}),
    "CLAWFT_WORKERS": ("0", {}),
    "CLAWFT_HTTP_HEADER_TIMEOUT_S": ("61", {}),
    "CLAWFT_HTTP_KEEP_ALIVE_S": ("5", {}),
    "CLAWFT_HTTP_UPLOAD_BODY_TIMEOUT_S": ("-1", {}),
    "CLAWFT_HTTP_JSON_BODY_TIMEOUT_S": ("nan", {}),
    "CLAWFT_DATABASE_URL": ("mysql://db/registry", {}),
    "CLAWFT_DATABASE_URL_FILE": ("/no/such/database-url", {}),
    "CLAWFT_DATABASE_POOL_SIZE": ("0", {}),
    "CLAWFT_DATABASE_ECHO": ("on", {}),
    "CLAWFT_STORAGE_BACKEND": ("gcs", {}),
    "CLAWFT_STORAGE_DIR": ("blobs\x00", {}),
    "CLAWFT_S3_BUCKET": ("No_Such", {"CLAWFT_STORAGE_BACKEND": "s3"}),
    "CLAWFT_S3_ENDPOINT_URL": ("minio:9000", S3),
    "CLAWFT_S3_REGION": ("EU North", S3),
    "CLAWFT_S3_ACCESS_KEY_ID": ("key", S3),
    "CLAWFT_S3_ACCESS_KEY_ID_FILE": ("/dev/null", S3),
    "CLAWFT_S3_SECRET_ACCESS_KEY": ("secret", S3),
    "CLAWFT_S3_SECRET_ACCESS_KEY_FILE": ("/proc/self", S3),
    "CLAWFT_S3_PREFIX": ("../escape", S3),
    "CLAWFT_S3_CREATE_BUCKET": ("maybe", {}),
    "CLAWFT_S3_PRESIGN": ("enabled", {}),
    "CLAWFT_BLOB_ACCEL_PREFIX": ("/_blobs", {}),
    "CLAWFT_BROKER_URL": ("valkey:6379", {}),
    "CLAWFT_BROKER_URL_FILE": ("/", {}),
    "CLAWFT_RESULT_BACKEND": ("valkey:6379", {}),
    "CLAWFT_RESULT_BACKEND_FILE": ("secret\x00file", {}),
    "CLAWFT_BROKER_VISIBILITY_TIMEOUT_S": ("100", {}),
    "CLAWFT_BROKER_RESTORE_INTERVAL_S": ("0", {}),
    "CLAWFT_TASK_SOFT_TIME_LIMIT_S": ("30", {}),
    "CLAWFT_TASK_TIME_LIMIT_S": ("80", {}),
    "CLAWFT_TASK_MAX_RETRIES": ("-1", {}),
    "CLAWFT_TASK_RETRY_BACKOFF_S": ("90", {}),
    "CLAWFT_TASK_RETRY_BACKOFF_MAX_S": ("1000", {}),
    "CLAWFT_WORKER_MAX_TASKS_PER_CHILD": ("0", {}),
    "CLAWFT_TRUST_CONFIG": ("/no/such/trust-config.json", {}),
    "CLAWFT_VERIFIER_TRUST_CONFIG": ("trust-config.json", {}),
    "CLAWFT_VERIFIER_STAGING": ("Y", {}),
    "CLAWFT_VERIFIER_CPU_SECONDS": ("0", {}),
    "CLAWFT_VERIFIER_MEMORY_BYTES": ("1GiB", {}),
    "CLAWFT_VERIFIER_WALL_SECONDS": ("0", {}),
    "CLAWFT_VERIFIER_SCRATCH_BYTES": ("-1", {}),
    "CLAWFT_VERIFIER_SCRATCH_ENTRIES": ("many", {}),
    "CLAWFT_VERIFIER_SCRATCH_DIR": ("/no/such/dir", {}),
    "CLAWFT_TUF_BINS": ("100", {}),
    "CLAWFT_TUF_ONLINE_KEY_URI": ("/keys/online.pem", {}),
    "CLAWFT_UPLOADS_DIR": ("uploads\x00", {}),
    "CLAWFT_VERDICTS_DB": ("verdicts\x00.sqlite3", {}),
    "CLAWFT_VERDICTS_BUSY_TIMEOUT_S": ("forever", {}),
    "CLAWFT_MAX_UPLOAD_FILE_BYTES": ("0", {}),
}
CLIENT = {"CLAWFT_REGISTRY_URL", "CLAWFT_REGISTRY_TOKEN"}


def test_every_setting_in_the_table_has_a_bad_value_here() -> None:
    assert set(BAD) | {"CLAWFT_LOG_FORMAT"} == set(table_rows()) - CLIENT


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_is_one_error_naming_the_variable(name: str) -> None:
    value, context = BAD[name]
    with pytest.raises(ValueError, match=name) as raised:
        RegistrySettings.from_env({**context, name: value})
    assert "\n" not in str(raised.value)


def test_a_bad_log_format_names_the_variable() -> None:
    # Read by registry.logs.configure_logging before the settings (logging comes first).
    with pytest.raises(ValueError, match="CLAWFT_LOG_FORMAT"):
        log_format({"CLAWFT_LOG_FORMAT": "xml"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1", True), ("YES", True), ("True", True), ("0", False), ("no", False), ("FALSE", False)],
)
def test_yes_no_settings_take_exactly_six_words(given: str, expected: bool) -> None:
    settings = RegistrySettings.from_env({**S3, "CLAWFT_S3_PRESIGN": given})
    assert settings.presign_downloads is expected
    assert settings.storage.s3 is not None and settings.storage.s3.presign_downloads is expected


def test_the_new_settings(tmp_path: Path) -> None:
    settings = RegistrySettings.from_env(
        {"CLAWFT_WORKERS": "4", "CLAWFT_BLOB_ACCEL_PREFIX": "/_blobs/"}
    )
    assert settings.http.workers == 4 and settings.blob_accel_prefix == "/_blobs/"
    assert settings.http.header_timeout_s == 10.0


def test_settings_from_a_toml_file_under_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "registry.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\nverifier_staging = true\ntuf_bins = 512\n')
    settings = RegistrySettings.from_env({"CLAWFT_CONFIG": str(config), "CLAWFT_PORT": "9100"})
    assert (settings.port, settings.host, settings.tuf.bins) == (9100, "0.0.0.0", 512)
    assert settings.worker.verifier.staging is True


def test_an_unknown_key_in_the_toml_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "registry.toml"
    config.write_text("port = 9000\nverifier_wall_second = 7\n")
    with pytest.raises(ValueError, match="unknown setting 'verifier_wall_second'"):
        RegistrySettings.from_env({"CLAWFT_CONFIG": str(config)})


def test_the_worker_applies_the_verifier_limits_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``clawft-registry worker`` builds its app from the one tree: the task runs with the
    CLAWFT_VERIFIER_* and CLAWFT_TASK_* values of the environment, not the defaults."""
    settings = RegistrySettings.from_env(
        {
            "CLAWFT_DATA_DIR": str(tmp_path),
            "CLAWFT_BROKER_URL": "memory://",
            "CLAWFT_RESULT_BACKEND": "cache+memory://",
            "CLAWFT_VERIFIER_WALL_SECONDS": "7",
            "CLAWFT_VERIFIER_CPU_SECONDS": "5",
            "CLAWFT_TASK_SOFT_TIME_LIMIT_S": "30",
            "CLAWFT_TASK_TIME_LIMIT_S": "40",
        }
    )
    app = create_worker_app(settings)  # what run_worker does
    seen: list[VerificationServices] = []

    def run_verification(upload_id: str, services: VerificationServices) -> VerificationOutcome:
        seen.append(services)
        return VerificationOutcome(upload_id=upload_id, verdict="approved", recorded=True)

    monkeypatch.setattr("verifier.tasks.run_verification", run_verification)
    task = app.tasks[VERIFY_UPLOAD]
    assert (task.soft_time_limit, task.time_limit) == (30, 40)
    task.apply(args=["0" * 32]).get()
    isolation = seen[0].settings.isolation
    assert (isolation.wall_seconds, isolation.cpu_seconds) == (7.0, 5)
