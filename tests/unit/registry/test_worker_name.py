"""``clawft-registry worker --name``: the node name a worker answers Celery's remote control to.
Several workers on one host each need their own; a malformed name is refused at start."""

from __future__ import annotations

import socket

import pytest

from client.cli.main import main
from registry.worker import worker_node_name

HOST = socket.gethostname()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("celery@%h", f"celery@{HOST}"),
        ("worker-2@%h", f"worker-2@{HOST}"),
        ("edge-7", "celery@edge-7"),  # as Celery's -n: a name without "@" is the host
        ("w@edge-7.example", "w@edge-7.example"),
    ],
)
def test_a_worker_name(given: str, expected: str) -> None:
    assert worker_node_name(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "worker 2@%h",
        "worker@a@b",
        "worker-%x@%h",  # Celery knows %h, %n, %d (and %i, %I, which mean nothing here)
        "worker-%i@%h",
        "$(reboot)@%h",
        "worker\n@%h",
        "w@",
        "@%h",
        "w" * 201,
        "wörker@%h",
    ],
)
def test_a_malformed_worker_name_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="--name must be NAME@HOST"):
        worker_node_name(given)


@pytest.mark.parametrize("given", ["w@%d", "%n@%d"])
def test_a_name_empty_on_this_host_is_refused(given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("celery.utils.nodenames.gethostname", lambda: "edge-7")  # no domain
    with pytest.raises(ValueError, match="on this host it is"):
        worker_node_name(given)


def test_the_worker_command_refuses_a_malformed_name_before_it_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAWFT_BROKER_URL", "redis://127.0.0.1:1/0")
    assert main(["worker", "--name", "worker 2@%h"]) == 2
    assert "--name must be NAME@HOST" in capsys.readouterr().err
