"""The marketplace on the web: server-rendered pages over the registry's data (home and
search, plugin and version pages, namespace pages), and their static files.

:func:`web_handlers` gives :func:`registry.app.create_app` the routes; :func:`template_config`
the Jinja environment they render with.
"""

from __future__ import annotations

from registry.web.pages import Marketplace
from registry.web.responses import template_config
from registry.web.routes import web_handlers

__all__ = ["Marketplace", "template_config", "web_handlers"]
