"""The registry client: the HTTP API (``RegistryClient``) and verified installs (``pull``)."""

from client.registry.client import RegistryClient, split_name
from client.registry.config import ClientConfig, load_client_config
from client.registry.errors import (
    DownloadRejected,
    RegistryClientError,
    RegistryRequestFailed,
    RegistryUnreachable,
)
from client.registry.install import InstalledPlugin, parse_reference, pull

__all__ = [
    "ClientConfig",
    "DownloadRejected",
    "InstalledPlugin",
    "RegistryClient",
    "RegistryClientError",
    "RegistryRequestFailed",
    "RegistryUnreachable",
    "load_client_config",
    "parse_reference",
    "pull",
    "split_name",
]
