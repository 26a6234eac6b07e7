"""``get-env``: the manifest's allowlist, a deny list that wins, and an operator-given environment.

Values come from the mapping the operator hands the host, never from the host process's own
environment unless the operator passes it in explicitly.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from client.host.sandbox.decisions import PolicyDenied

# Names no plugin may read, whatever its manifest says. Patterns are fnmatch-style, matched
# against the upper-cased name.
DENIED_ENV_PATTERNS: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "LD_*",
    "DYLD_*",
    "PYTHON*",
    "SSH_*",
    "GPG_*",
    "AWS_*",
    "AZURE_*",
    "GOOGLE_*",
    "GCP_*",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "*_API_KEY",
    "*_APIKEY",
    "*_KEY",
    "*_TOKEN",
    "*_SECRET",
    "*_SECRETS",
    "*_PASSWORD",
    "*_PASSWD",
    "*_CREDENTIALS",
    "*_PRIVATE_KEY",
    "CLAWFT_*",
)


def is_denied_env(name: str) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in DENIED_ENV_PATTERNS)


class EnvPolicy:
    """Decides ``get-env`` calls for one plugin."""

    def __init__(self, allowed: Iterable[str], environment: Mapping[str, str]) -> None:
        self._allowed = frozenset(allowed)
        self._environment = dict(environment)

    def get(self, name: str) -> str | None:
        """The value, ``None`` when unset; raises :class:`PolicyDenied` when not permitted."""
        if is_denied_env(name):
            raise PolicyDenied(f"environment variable {name!r} is on the host's deny list")
        if name not in self._allowed:
            raise PolicyDenied(
                f"environment variable {name!r} is not declared in the manifest's [permissions] env"
            )
        return self._environment.get(name)
