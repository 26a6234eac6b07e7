"""The one settings tree: a bad value of any setting is one error naming its variable, the
TOML file is checked key by key, and ``worker`` runs with the limits it was given."""

from __future__ import annotations

import contextlib
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
            "CLAWFT_BROKER_URL": "redis://127.0.0.1:1/0",  # task.apply() below connects to none
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


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("bogus://u:pw-9f3@h/0", "it must start redis://"),
        ("memory://", "it must start redis://"),
        ("sqla+sqlite:///tmp/pw-9f3.db", "it must start redis://"),
        ("redis://u:pw-9f3@h:notaport/0", "host and port cannot be read"),
        ("redis://u:pw-9f3@[::1/0", "host and port cannot be read"),
        ("rediss://u:pw-9f3@h:6380/0", "needs ?ssl_cert_reqs="),
    ],
)
def test_a_broker_celery_could_not_use_is_refused_at_start(url: str, problem: str) -> None:
    """Not a traceback when the worker first connects, and never the password."""
    with pytest.raises(ValueError, match="CLAWFT_BROKER_URL is not a URL") as refused:
        RegistrySettings.from_env({"CLAWFT_BROKER_URL": url})
    assert problem in str(refused.value) and "pw-9f3" not in str(refused.value)
    with (
        pytest.raises(ValueError, match="CLAWFT_RESULT_BACKEND")
        if "redis" in url
        else (contextlib.nullcontext())
    ):
        RegistrySettings.from_env({"CLAWFT_RESULT_BACKEND": url})


def test_the_broker_may_be_redis_valkey_over_tls_or_a_socket() -> None:
    for url in (
        "redis://:pw@valkey:6379/0",
        "rediss://valkey:6380/0?ssl_cert_reqs=required",
        "redis+socket:///run/valkey.sock",
    ):
        assert RegistrySettings.from_env({"CLAWFT_BROKER_URL": url}).worker.broker_url == url


@pytest.mark.parametrize("port", ["０９８", "٩٨٠٨", "9_808", "+9808", "98 08"])
def test_a_number_is_ascii_digits_only(port: str) -> None:
    """int() would take most of these (the first as 98). Spaces around a value are dropped, as
    for every setting."""
    with pytest.raises(ValueError, match="CLAWFT_WORKER_METRICS_PORT must be a whole number"):
        RegistrySettings.from_env({"CLAWFT_WORKER_METRICS_PORT": port})


@pytest.mark.parametrize("host", ["[::1]", "%", "[", ":", "127.0.0.1:80", "-x", "a b", "é.test"])
def test_the_worker_metrics_address_is_one_a_socket_can_bind(host: str) -> None:
    with pytest.raises(ValueError, match="CLAWFT_WORKER_METRICS_HOST must be"):
        RegistrySettings.from_env({"CLAWFT_WORKER_METRICS_HOST": host})


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::1", "::", "localhost", "worker-1"])
def test_the_worker_metrics_address_takes_names_and_addresses(host: str) -> None:
    assert RegistrySettings.from_env({"CLAWFT_WORKER_METRICS_HOST": host}).worker_metrics_host == (
        host
    )
