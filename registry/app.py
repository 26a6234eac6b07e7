"""``create_app(settings)``: the registry's Litestar application.

Wiring mistakes fail here, when the app is built: an unreadable setting, a database whose
schema is behind the code, a blob store that cannot be constructed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from registry.allow import allow_every_method
from registry.db import Database
from registry.db.migrate import check_at_head
from registry.domain.plugins.blobs import blob_download
from registry.domain.plugins.controllers import PluginController
from registry.domain.publishers.controllers import NamespaceController, TokenController
from registry.errors import error_handlers
from registry.health import HealthController
from registry.logs import RequestIdMiddleware, echo_request_id
from registry.metrics import MetricsController, count_answers
from registry.openapi import openapi_config
from registry.queue import CeleryQueue, VerificationQueue
from registry.ratelimit import shared_limiter
from registry.requests import RegistryRequest
from registry.services import RegistryServices
from registry.settings import RegistrySettings
from registry.storage import create_blob_store
from registry.tuf.controllers import TufController
from registry.web import template_config, web_handlers


def build_services(
    settings: RegistrySettings, *, queue: VerificationQueue | None = None
) -> RegistryServices:
    """The services ``settings`` describe (the database must already be migrated)."""
    broker = settings.worker.broker_url
    db = Database(settings.database)
    check_at_head(db.engine)
    if queue is None:
        if settings.worker.broker_url is None:
            raise ValueError(
                "no broker: set CLAWFT_BROKER_URL, or run `clawft-registry serve`, which starts one"
            )
        queue = CeleryQueue(settings.worker.broker_url, settings.worker.result_backend)
    return RegistryServices(
        settings=settings,
        db=db,
        blobs=create_blob_store(settings.storage),
        queue=queue,
        publish_limiter=shared_limiter(broker, "publish", settings.rates.publish_per_minute),
        token_limiter=shared_limiter(broker, "tokens", settings.rates.tokens_per_minute),
    )


def create_app(
    settings: RegistrySettings,
    *,
    services: RegistryServices | None = None,
    on_shutdown: Sequence[Callable[[], None]] = (),
) -> Litestar:
    """The app; ``on_shutdown`` callbacks run when the server stops gracefully."""
    built = services or build_services(settings)
    return Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            PluginController,
            NamespaceController,
            TokenController,
            TufController,
            blob_download,
            *web_handlers(built),
        ],
        template_config=template_config(),
        exception_handlers=error_handlers(),
        state=State({"services": built}),
        dependencies={
            "services": Provide(lambda: built, sync_to_thread=False, use_cache=True),
            "downloads": Provide(built.download_service, sync_to_thread=False),
        },
        request_class=RegistryRequest,
        before_send=[allow_every_method, echo_request_id, count_answers],
        middleware=[RequestIdMiddleware()],
        openapi_config=openapi_config(),
        request_max_body_size=settings.uploads.max_body_bytes,
        on_startup=[built.download_counts.start],
        on_shutdown=[*on_shutdown, built.download_counts.stop, built.db.dispose],
    )
