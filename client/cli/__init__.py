"""The ``clawft-registry`` command: one module per command group, composed in ``main``."""

__all__: list[str] = []
