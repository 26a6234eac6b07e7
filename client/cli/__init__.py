"""The ``clawft-registry`` command: one module per command group, composed in ``main``."""

from client.cli.main import main

__all__ = ["main"]
