"""Checks an uploaded plugin must pass before the registry serves it (see issue: the verifier)."""

__all__: list[str] = []
