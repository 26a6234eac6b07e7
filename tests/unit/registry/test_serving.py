"""Which event loop ``serve``'s granian workers run (registry.serving.event_loop)."""

from __future__ import annotations

import sys

import pytest
from granian.constants import Loops

from registry.serving import event_loop


def test_uvloop_where_installed() -> None:
    assert event_loop() is Loops.uvloop


def test_asyncio_without_uvloop_never_another_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvloop, asyncio's own loop: never granian's "auto", which takes whatever other
    loop (rloop, …) happens to be installed."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert event_loop() is Loops.asyncio
