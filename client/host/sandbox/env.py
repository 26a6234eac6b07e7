"""``get-env``: the manifest's allowlist, a deny list that wins, and an operator-given environment.

Values come from the mapping the operator hands the host, never from the host process's own
environment unless the operator passes it in explicitly.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from client.host.sandbox.decisions import PolicyDenied

# Names no plugin may read, whatever its manifest says: the process's own identity and
# search paths, cloud and tool credentials, and anything that by its name holds a secret,
# a password, a private key or a connection string with credentials in it. Patterns are
# fnmatch-style, matched against the upper-cased name.
DENIED_ENV_PATTERNS: tuple[str, ...] = (
    # the process itself
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "LD_*",
    "DYLD_*",
    "PYTHON*",
    "CLAWFT_*",
    # agents and cloud providers
    "SSH_*",
    "GPG_*",
    "AWS_*",
    "AZURE_*",
    "GOOGLE_*",
    "GCP_*",
    "KUBECONFIG",
    "DOCKER_*",
    "NETRC",
    "GIT_ASKPASS",
    # names that say they hold a secret
    "*API_KEY*",
    "*APIKEY*",
    "*_KEY",
    "*PRIVATE_KEY*",
    "*_TOKEN",
    "*_TOKEN_*",
    "TOKEN",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*_PWD",
    "*CREDENTIAL*",
    "*_AUTH",
    # database and service connection strings, which carry their passwords
    "PGPASSWORD",
    "PGPASSFILE",
    "MYSQL_PWD",
    "*DATABASE_URL*",
    "*_DSN",
    "DSN",
    "*_CONNECTION_STRING",
    "*_CONN_STR",
    "REDIS_URL",
    "*_REDIS_URL",
    "MONGODB_URI",
    "*_MONGODB_URI",
    "AMQP_URL",
    "*_BROKER_URL",
    # proxies, whose URLs may carry credentials
    "*_PROXY",
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
