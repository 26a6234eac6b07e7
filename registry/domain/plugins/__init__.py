"""Plugins and their versions: publish, read, download, yank."""

__all__: list[str] = []
