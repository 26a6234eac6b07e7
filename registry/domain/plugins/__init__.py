"""Plugins and their versions: publish, read, download, yank."""
