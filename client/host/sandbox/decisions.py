"""The two outcomes of a host call that did not succeed.

``PolicyDenied``: the sandbox refused the call (audited as *denied*).
``HostCallFailed``: the call was permitted but failed (a 404, a missing file; audited as
*permitted* with the error).
"""

from __future__ import annotations


class PolicyDenied(Exception):
    """The sandbox refused the call; the message says which rule."""


class HostCallFailed(Exception):
    """The call was permitted but did not succeed."""
