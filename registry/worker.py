"""The Celery app of ``clawft-registry worker``: the verifier task over the registry's database
and blob store, and the TUF tasks, built from the one settings tree.

Everything the worker applies (broker, task time limits, the verifier's isolation limits, the
Sigstore instance) comes from ``settings.worker``; nothing is read from the environment here.
"""

from __future__ import annotations

import re

from celery import Celery
from celery.signals import worker_process_init
from celery.utils.nodenames import default_nodename, host_format

from registry.metrics import serve_worker_metrics
from registry.queue import CeleryQueue
from registry.settings import RegistrySettings
from registry.tuf.tasks import lazy_tuf_services, register_tuf_tasks
from registry.verification import verification_services
from verifier.celery_app import create_celery

_NODE_NAME_PART = r"(?:[A-Za-z0-9_.-]|%[hnd])+"


def worker_node_name(name: str) -> str:
    """The node name a worker answers to (``NAME@HOST``), from ``--name`` as Celery's ``-n``
    takes it: ``%h`` is the host name, ``%n`` its first label, ``%d`` its domain. Two workers
    with one name make Celery's remote control (``inspect``, ``ping``) merge their replies.
    Raises ``ValueError`` for anything else."""
    problem = (
        f"--name must be NAME@HOST of letters, digits, '.', '_', '-' and %h, %n or %d "
        f"(e.g. worker-2@%h), not {name[:60]!r}"
    )
    if not re.fullmatch(f"{_NODE_NAME_PART}(?:@{_NODE_NAME_PART})?", name):
        raise ValueError(problem)
    expanded = host_format(default_nodename(name))
    # %d of a host without a domain is empty: the name must still have both halves.
    if len(expanded) > 200 or not re.fullmatch(r"[A-Za-z0-9_.-]+@[^\s@]+", expanded):
        raise ValueError(f"{problem} (on this host it is {expanded[:80]!r})")
    return expanded


def create_worker_app(settings: RegistrySettings) -> Celery:
    """The worker's app. Raises ``ValueError`` when no broker is set (``CLAWFT_BROKER_URL``)."""
    queue = CeleryQueue(settings.worker.broker, settings.worker.result_backend)
    # Built in each worker process after the fork: connections are never shared.
    app = create_celery(
        settings.worker,
        services=lambda: verification_services(settings, on_approved=queue.request_publish),
        warm_processes=True,
    )
    register_tuf_tasks(app, lazy_tuf_services(settings))
    return app


def start_worker_metrics(settings: RegistrySettings) -> None:
    """Serve the worker's ``/metrics`` on ``CLAWFT_WORKER_METRICS_PORT`` when it is set (from
    this, the main process; the pool processes it forks close their copy of the socket).
    Raises ``ValueError`` without ``PROMETHEUS_MULTIPROC_DIR``, ``OSError`` when the address
    cannot be bound."""
    if settings.worker_metrics_port is None:
        return
    server = serve_worker_metrics(settings.worker_metrics_host, settings.worker_metrics_port)

    def close_inherited_socket(**_: object) -> None:
        server.socket.close()

    worker_process_init.connect(close_inherited_socket, weak=False)
