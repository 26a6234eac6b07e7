"""The ``PluginSandbox``: every host call of one plugin passes through it (see
:mod:`client.host.sandbox.plugin_sandbox`); the modules beside it hold each function's policy."""

from client.host.sandbox.decisions import HostCallFailed, PolicyDenied
from client.host.sandbox.plugin_sandbox import (
    LOG_LEVELS,
    CallOutOfTime,
    LogSink,
    PluginSandbox,
    cut_utf8,
)

__all__ = [
    "LOG_LEVELS",
    "CallOutOfTime",
    "HostCallFailed",
    "LogSink",
    "PluginSandbox",
    "PolicyDenied",
    "cut_utf8",
]
