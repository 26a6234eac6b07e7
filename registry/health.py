"""``/healthz`` (the process is up) and ``/readyz`` (database, blobs and broker reachable)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from registry.services import RegistryServices


class HealthController(Controller):
    tags = ["health"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=True)
    def readyz(self, services: NamedDependency[RegistryServices]) -> Response[dict[str, Any]]:
        checks = services.readiness()
        ready = all(value == "ok" for value in checks.values())
        return Response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )
