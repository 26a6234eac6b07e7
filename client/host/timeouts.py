"""How a call's timeout is enforced.

By default the engine's epoch interruption stops a call at its deadline (see
:mod:`client.host.engine`). An engine built without epochs, which compiles faster, must be given
a :class:`CallWatch` instead: something that ends a call that outlives its timeout by other
means (the verifier's isolation child ends its own process, see
:mod:`verifier.isolation.watchdog`). A host never runs plugins with neither.
"""

from __future__ import annotations

from typing import Protocol


class CallWatch(Protocol):
    """Watches one plugin call at a time on behalf of a :class:`~client.host.PluginHost`."""

    def arm(self, plugin: str, what: str, timeout_s: float) -> None:
        """A call of ``plugin`` (``what``: e.g. ``tool 'greet'``) starts; it may take
        ``timeout_s``."""

    def disarm(self) -> None:
        """The call armed last has ended (returned, trapped or raised)."""


def timeout_message(plugin: str, what: str, timeout_s: float) -> str:
    """The one wording of a call that ran past its timeout, however it was stopped."""
    return (
        f"plugin {plugin} ran past its timeout of {timeout_s:g} s in {what}; "
        "raise [resources] timeout_s (at most 300) only if the tool really needs longer"
    )
