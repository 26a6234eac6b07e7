"""The thin client library an edge device installs: the plugin host, manifests, the CLI."""

__all__: list[str] = []
