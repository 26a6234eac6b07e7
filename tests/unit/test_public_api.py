"""Each package's public API is its ``__all__``, kept honest both ways: every name in it exists,
and every public name the package defines or re-exports is in it (anything else is private,
and named so)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import client
import infra
import registry
import verifier

NOT_AN_API = ("registry.db.migrations",)  # Alembic's scripts: loaded by path, not imported


def packages() -> list[str]:
    found = []
    for root in (client, verifier, registry, infra):
        found.append(root.__name__)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{root.__name__}."):
            if info.ispkg and not info.name.startswith(NOT_AN_API):
                found.append(info.name)
    return sorted(found)


def public_names(module: ModuleType) -> set[str]:
    """What the package's ``__init__`` defines or imports, other than modules and
    ``from __future__`` features."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }


@pytest.mark.parametrize("package", packages())
def test_all_is_the_public_api(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), f"{package} has no __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not have: {missing}"
    unlisted = sorted(public_names(module) - set(exported))
    assert not unlisted, f"{package} has public names outside __all__: {unlisted}"
    assert len(set(exported)) == len(exported), f"{package}.__all__ repeats a name"
