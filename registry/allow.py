"""OPTIONS answers list every method of their path in ``Allow``.

Litestar 2 builds one OPTIONS handler per route while a controller's handlers are registered
one at a time, so a path served by two handlers (``GET`` and ``POST /api/v1/plugins``) answered
OPTIONS with the methods of only the first (litestar-org/litestar#4169, fixed in Litestar 3).
This ``before_send`` hook rewrites the header from the application's route map, which holds
every method of every path once the application is built.
"""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.types import Message, Scope

__all__ = ["allow_every_method"]


_TYPED_PARAMETER = re.compile(r"\{(\w+):[^}]*\}")


def _methods_of(app: Litestar, template: str) -> set[str]:
    """The methods of the path ``template`` (as routed: ``{name}``, without its type)."""
    return {
        method
        for path, handlers in app.route_handler_method_map.items()
        if _TYPED_PARAMETER.sub(r"{\1}", path) == template
        for method in handlers
    }


async def allow_every_method(message: Message, scope: Scope) -> None:
    """Set ``Allow`` of an OPTIONS answer to every method its path supports."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    methods = _methods_of(Litestar.from_scope(scope), scope.get("path_template", ""))
    if not methods:
        return
    allow = ", ".join(sorted({*methods, "OPTIONS"})).encode("latin-1")
    headers = [(name, value) for name, value in message["headers"] if name.lower() != b"allow"]
    message["headers"] = [*headers, (b"allow", allow)]
