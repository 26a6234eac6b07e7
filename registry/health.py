"""``/healthz`` (the process is up) and ``/readyz`` (database, blobs and broker reachable)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from registry.services import RegistryServices

__all__ = ["HealthController", "Liveness", "Readiness"]


class Liveness(msgspec.Struct, frozen=True):
    status: str
    """``ok``."""


class Readiness(msgspec.Struct, frozen=True):
    status: str
    """``ready`` or ``not ready``."""
    checks: dict[str, str]
    """``database``, ``blobs``, ``broker``: ``ok`` or why not."""


class HealthController(Controller):
    tags = ["health"]  # noqa: RUF012 - Litestar reads this class attribute

    @get("/healthz", sync_to_thread=False, operation_id="getHealth")
    def healthz(self) -> Liveness:
        """The process is up."""
        return Liveness("ok")

    @get(
        "/readyz",
        sync_to_thread=True,
        operation_id="getReadiness",
        responses={
            503: ResponseSpec(
                data_container=Readiness,
                description="Something the registry needs is down: the checks say which.",
                generate_examples=False,
            )
        },
    )
    def readyz(self, services: NamedDependency[RegistryServices]) -> Response[Readiness]:
        """The database, the blob store and the broker answer."""
        checks = services.readiness()
        ready = all(value == "ok" for value in checks.values())
        return Response(
            Readiness("ready" if ready else "not ready", checks),
            status_code=200 if ready else 503,
        )
