"""The deployment files (docker-compose.yml, infra/Dockerfile, infra/nginx/nginx.conf), checked
with the real tools and without a Docker daemon.

The compose file is validated by Debian's ``docker-compose`` (Compose v1.29, Python): its
``config`` command checks the file against the Compose specification's schema (unknown keys,
wrong types, ``depends_on`` conditions, undefined services) and resolves anchors, defaults and
``env_file`` entries, all without a daemon. PyPI's ``docker-compose`` (v1) no longer installs on
Python 3.11 (it pins PyYAML 5), and Compose v2 is a Docker CLI plugin that no registry we use
ships. ``make test`` installs the Debian package (and ``nginx-light``, for ``nginx -t``) when
missing; a machine without them fails these tests with that instruction, never skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
NGINX_CONF = ROOT / "infra" / "nginx" / "nginx.conf"
ENV_EXAMPLES = {
    "infra/compose.env": ROOT / "infra" / "compose.env.example",
    "infra/stores.env": ROOT / "infra" / "stores.env.example",
}
_SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def tool(name: str, package: str) -> str:
    """The path of a Debian tool these tests need, or a failure that says how to get it."""
    found = shutil.which(name, path=_SBIN)
    if found is None:
        pytest.fail(
            f"{name} is not installed: `make test` installs it, or "
            f"`apt-get install --no-install-recommends {package}`"
        )
    return found


def compose_config(project: Path) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` of ``project``/docker-compose.yml, with a clean environment
    (no PROXY_BIND or COMPOSE_* of the caller's changes what is checked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env.pop("PROXY_BIND", None)
    return subprocess.run(
        [tool("docker-compose", "docker-compose"), "--project-directory", str(project),
         "-f", str(project / "docker-compose.yml"), "config"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def project_copy(tmp: Path, compose_text: str | None = None) -> Path:
    """A copy of the deployment files as an operator has them after the documented step
    (the env files copied from their examples), with ``compose_text`` as the compose file."""
    (tmp / "infra" / "nginx").mkdir(parents=True)
    (tmp / "docker-compose.yml").write_text(
        COMPOSE_FILE.read_text(encoding="utf-8") if compose_text is None else compose_text,
        encoding="utf-8",
    )
    shutil.copy(NGINX_CONF, tmp / "infra" / "nginx" / "nginx.conf")
    shutil.copy(DOCKERFILE, tmp / "infra" / "Dockerfile")
    for target, example in ENV_EXAMPLES.items():
        shutil.copy(example, tmp / target)
    return tmp


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The compose file as Compose resolves it (anchors merged, defaults filled in)."""
    project = project_copy(tmp_path_factory.mktemp("compose"))
    result = compose_config(project)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict)
    yield config
