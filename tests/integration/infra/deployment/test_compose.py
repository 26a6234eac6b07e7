"""docker-compose.yml: valid Compose, and shaped as the production guide says (README:
Production): one published port on 127.0.0.1, health checks, pinned images, settings the code
really reads, an image that provides what the services run."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from client.cli.main import build_parser
from tests.integration.infra.deployment.conftest import (
    COMPOSE_FILE,
    DOCKERFILE,
    NGINX_CONF,
    ROOT,
    compose_config,
    project_copy,
)

APP_SERVICES = ("registry", "worker", "beat", "migrate")
ONE_SHOT = ("migrate", "minio-init")
CODE_DIRS = ("registry", "verifier", "client")


def test_the_compose_file_is_valid(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) == {
        *APP_SERVICES,
        "valkey",
        "postgres",
        "minio",
        "minio-init",
        "proxy",
    }


@pytest.mark.parametrize(
    ("mistake", "replace", "by"),
    [
        ("an unknown key", "    restart: unless-stopped\n", "    restrat: unless-stopped\n"),
        ("a dependency on no service", "postgres: {condition: service_healthy}",
         "postgress: {condition: service_healthy}"),
        ("an unknown condition", "{condition: service_completed_successfully}",
         "{condition: service_completed}"),
    ],
)  # fmt: skip
def test_the_validator_refuses_a_broken_file(
    tmp_path: Path, mistake: str, replace: str, by: str
) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert replace in text, mistake
    result = compose_config(project_copy(tmp_path, text.replace(replace, by, 1)))
    assert result.returncode != 0, f"{mistake} was accepted"


def test_only_the_proxy_publishes_a_port_and_on_loopback_by_default(
    resolved: dict[str, Any],
) -> None:
    for name, service in resolved["services"].items():
        if name != "proxy":
            assert not service.get("ports"), f"{name} publishes {service['ports']}"
            assert not service.get("network_mode"), f"{name} shares a network namespace"
    (published,) = resolved["services"]["proxy"]["ports"]
    assert str(published).startswith("127.0.0.1:"), published
    assert "${PROXY_BIND:-127.0.0.1}:" in COMPOSE_FILE.read_text(encoding="utf-8")


def test_every_long_running_service_has_a_health_check(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name} is one-shot: it must not restart"
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
        assert service.get("restart") == "unless-stopped", name


def test_the_application_starts_after_the_migration_and_the_stores(
    resolved: dict[str, Any],
) -> None:
    for name in ("registry", "worker", "beat"):
        depends = resolved["services"][name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["minio-init"] == {"condition": "service_completed_successfully"}
        for store in ("postgres", "valkey"):
            assert depends[store] == {"condition": "service_healthy"}, (name, store)


def test_workers_scale_and_beat_is_one(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        assert "container_name" not in service, f"{name} could not be scaled or run twice"
    assert "--beat" in resolved["services"]["beat"]["command"]
    assert "--beat" not in resolved["services"]["worker"]["command"]
    assert resolved["services"]["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert "EXACTLY ONE" in COMPOSE_FILE.read_text(encoding="utf-8")


def test_every_piece_of_state_has_a_volume(resolved: dict[str, Any]) -> None:
    where = {
        "registry": "/var/lib/clawft",
        "valkey": "/data",
        "postgres": "/var/lib/postgresql/data",
        "minio": "/data",
    }
    for name, path in where.items():
        volumes = [str(v) for v in resolved["services"][name]["volumes"]]
        named = [v for v in volumes if v.endswith(f":{path}:rw") or v.endswith(f":{path}")]
        assert named and not named[0].startswith("/"), f"{name}: {path} is not a named volume"
    assert "--appendonly" in resolved["services"]["valkey"]["command"]


def test_every_image_is_pinned(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", _dockerfile(), re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base[1])


def test_every_clawft_setting_is_one_the_code_reads(resolved: dict[str, Any]) -> None:
    """A misspelt variable would be ignored silently: each one must appear in the code."""
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for directory in CODE_DIRS
        for path in (ROOT / directory).rglob("*.py")
    )
    names = {
        name
        for service in resolved["services"].values()
        for name in service.get("environment", {})
        if name.startswith("CLAWFT_")
    }
    assert {"CLAWFT_DATABASE_URL", "CLAWFT_S3_SECRET_ACCESS_KEY", "CLAWFT_BROKER_URL"} <= names
    unread = sorted(n for n in names if not re.search(rf"\b{n}\b", code))
    assert not unread, f"set by docker-compose.yml but read nowhere: {unread}"


def test_the_registry_listens_inside_its_container_only(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        host = service.get("environment", {}).get("CLAWFT_HOST")
        assert host == ("0.0.0.0" if name == "registry" else None), name
        metrics_host = service.get("environment", {}).get("CLAWFT_WORKER_METRICS_HOST")
        assert metrics_host == ("0.0.0.0" if name in ("worker", "beat") else None), name
    env = resolved["services"]["registry"]["environment"]
    assert env["CLAWFT_BLOB_ACCEL_PREFIX"] == "/_blobs/"
    assert "/readyz" in " ".join(resolved["services"]["registry"]["healthcheck"]["test"])


def test_the_proxy_sends_blobs_from_the_bucket_the_registry_writes(
    resolved: dict[str, Any],
) -> None:
    env = resolved["services"]["registry"]["environment"]
    bucket, prefix = env["CLAWFT_S3_BUCKET"], env.get("CLAWFT_S3_PREFIX", "")
    nginx = NGINX_CONF.read_text(encoding="utf-8")
    accel = env["CLAWFT_BLOB_ACCEL_PREFIX"]
    assert f'location ~ "^{accel}(?<blob_digest>[0-9a-f]{{64}})$"' in nginx
    # registry.storage: blobs live at <prefix>blobs/sha256/<hex> in the bucket.
    assert f"proxy_pass http://$blob_store/{bucket}/{prefix}blobs/sha256/$blob_digest;" in nginx
    assert f"set $blob_store {_host(env['CLAWFT_S3_ENDPOINT_URL'])};" in nginx
    init = resolved["services"]["minio-init"]["command"]
    init = init if isinstance(init, str) else " ".join(init)
    assert f"mc mb --ignore-existing store/{bucket}" in init
    assert f"mc anonymous set download store/{bucket}/{prefix}blobs" in init


def test_the_image_provides_what_the_services_run(resolved: dict[str, Any]) -> None:
    """The extras the Dockerfile installs cover each service's command (the extra its command
    group asks for), the packages its settings select, and the tools its health check runs."""
    installed = _dockerfile_extras()
    requirements = _requirements(installed)
    parser = build_parser()
    for name in APP_SERVICES:
        service = resolved["services"][name]
        argv = shlex.split(service["command"])
        assert argv[0] == "clawft-registry", name
        args = parser.parse_args(argv[1:])  # a misspelt command or flag exits here
        module = __import__(args.handler.__module__, fromlist=["_"])
        needs = re.search(r"clawft-registry\[(\w+)\]", getattr(module, "SERVER_EXTRA", ""))
        if needs is not None:
            assert needs[1] in installed, f"{name} runs `{argv[1]}`, which needs [{needs[1]}]"
        env = service["environment"]
        if env.get("CLAWFT_DATABASE_URL", "").startswith("postgresql"):
            assert "psycopg" in requirements, name
        if env.get("CLAWFT_STORAGE_BACKEND") == "s3":
            assert "boto3" in requirements, name
        if env.get("CLAWFT_BROKER_URL", "").startswith("redis://"):
            assert {"redis", "celery"} <= requirements, name
        check = " ".join(service.get("healthcheck", {}).get("test", []))
        if "celery " in check:
            assert "celery" in requirements, name
    server_code = "\n".join(
        (ROOT / path).read_text(encoding="utf-8")
        for path in ("client/cli/server.py", "registry/serving.py")
    )
    for http_server in ("granian", "uvicorn"):
        if re.search(rf"^\s*(import|from) {http_server}\b", server_code, re.MULTILINE):
            assert http_server in requirements, f"`serve` runs on {http_server}"


def test_the_dockerfile_builds_a_wheel_and_runs_unprivileged() -> None:
    text = _dockerfile()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) == 2, "a builder stage and a runtime stage"
    builder, runtime = stages
    assert "pip wheel . --no-deps" in builder
    assert "--no-index" in runtime and "clawft-registry[" in runtime
    assert not re.search(r"\b(gcc|build-essential|apt-get install)\b", runtime)
    user = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", ".venv", "build", "**/__pycache__", "infra/secrets"} <= ignored


def _dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


def _dockerfile_extras() -> set[str]:
    """The extras of the runtime stage's ``pip install … clawft-registry[extra,…]``."""
    text = _dockerfile().replace("\\\n", " ")
    runtime = re.split(r"^FROM ", text, flags=re.MULTILINE)[-1]
    installs = [line for line in runtime.splitlines() if "pip install" in line]
    found = re.findall(r"clawft-registry\[([\w,\s]+)\]", " ".join(installs))
    assert len(found) == 1, installs
    return {extra.strip() for extra in found[0].split(",")}


def _requirements(extras: set[str]) -> set[str]:
    """Names of the distributions the base install and ``extras`` require (pyproject.toml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return {re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower() for spec in specs}


def _host(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/")


def test_each_worker_container_serves_the_metrics_of_its_own_processes(
    resolved: dict[str, Any],
) -> None:
    """The registry's /metrics adds up its own container's processes only: a worker in
    another container serves its verdicts itself, from a directory emptied at every start."""
    for name in ("worker", "beat"):
        service = resolved["services"][name]
        env = service["environment"]
        assert env["CLAWFT_WORKER_METRICS_PORT"] == "9808", name
        assert env["PROMETHEUS_MULTIPROC_DIR"] in service["tmpfs"], name
        assert [str(port) for port in service["expose"]] == ["9808"], name
        assert not service.get("ports"), name
    registry = resolved["services"]["registry"]
    assert "CLAWFT_WORKER_METRICS_PORT" not in registry["environment"]


def test_the_stack_the_tests_run_uses_the_settings_the_compose_file_gives(
    resolved: dict[str, Any], tmp_path: Path
) -> None:
    """infra/stack.py (the production shape as processes) sets what the compose file sets for
    the worker, apart from what only a container needs or the deployment tunes."""
    from infra.stack import registry_environment

    composed = set(resolved["services"]["worker"].get("environment", {}))
    ours = set(
        registry_environment(
            data=tmp_path,
            database_url="postgresql+psycopg://db/x",
            s3_url="http://127.0.0.1:9000",
            bucket="b",
            broker_url="redis://127.0.0.1:6379/0",
            trust=tmp_path / "trust.json",
        )
    )
    tuned = {"CLAWFT_BROKER_VISIBILITY_TIMEOUT_S", "CLAWFT_S3_REGION"}
    made_here = {"CLAWFT_S3_CREATE_BUCKET", "CLAWFT_RESULT_BACKEND"}  # compose: minio-init
    # Each container serves its own worker metrics; the stack's processes share one machine
    # and one PROMETHEUS_MULTIPROC_DIR, which the registry's /metrics adds up.
    per_container = {"CLAWFT_WORKER_METRICS_HOST", "CLAWFT_WORKER_METRICS_PORT"}
    assert {n for n in composed if n.startswith("CLAWFT_")} - tuned - per_container == (
        ours - made_here
    )
