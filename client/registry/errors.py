"""Errors of the registry client.

RegistryClientError            base; str() is meant for the user
 ├── RegistryRequestFailed     the registry answered with an error ({"error", "detail"})
 ├── RegistryUnreachable       the network failed or the registry did not answer: retry
 └── DownloadRejected          bytes did not match the registry's record, or the signature
                               did not verify: nothing was installed
"""

from __future__ import annotations


class RegistryClientError(Exception):
    """Base of the client's errors."""


class RegistryRequestFailed(RegistryClientError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"the registry refused the request ({status} {code}): {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class RegistryUnreachable(RegistryClientError):
    """The registry could not be reached or did not answer in time; try again."""


class DownloadRejected(RegistryClientError):
    """What was downloaded does not match the registry's record or its signature."""
