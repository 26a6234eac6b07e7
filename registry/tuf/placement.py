"""Where a plugin's files go in the hash bins: all in one bin, its index's.

``SuccinctRoles`` puts a target in the bin named by the first bits of the SHA-256 of its
path, so the component, manifest, bundle and index of one version would land in up to four
bins, and an approval would re-sign each. A file's target path therefore carries a salt
(``plugins/<namespace>/<name>/<version>/<salt>/<file>``): the smallest one that hashes the
path into the bin of the plugin's index. An approval then re-signs one bin (two for a plugin's
first version, whose namespace index changes too), whatever the bin count. Devices never
compute these paths: they read them from the signed plugin index.

Finding a salt costs about as many SHA-256 computations as there are bins (256 by default:
well under a millisecond); a version's paths are found once, when it is first listed.
"""

from __future__ import annotations

import hashlib

from tuf.api.metadata import SuccinctRoles

from client.sync.schemas import plugin_index_path

__all__ = ["plugin_file_path"]

_SALTS_PER_BIN = 64
"""Salts tried per bin before giving up: the chance that none fits is about e**-64."""


def plugin_file_path(
    bins: SuccinctRoles, namespace: str, name: str, version: str, filename: str
) -> str:
    """The target path of one file of ``namespace/name@version``, in its plugin's bin."""
    home = _bin_number(bins, plugin_index_path(namespace, name).encode("utf-8"))
    prefix = hashlib.sha256(f"plugins/{namespace}/{name}/{version}/".encode())
    suffix = f"/{filename}".encode()
    shift = 32 - bins.bit_length
    for salt in range(bins.number_of_bins * _SALTS_PER_BIN):
        label = b"%x" % salt
        hasher = prefix.copy()
        hasher.update(label)
        hasher.update(suffix)
        if int.from_bytes(hasher.digest()[:4], "big") >> shift == home:
            return f"plugins/{namespace}/{name}/{version}/{label.decode()}/{filename}"
    raise RuntimeError(  # pragma: no cover - e**-64
        f"no salt puts {namespace}/{name}@{version}/{filename} in its plugin's bin"
    )


def _bin_number(bins: SuccinctRoles, path: bytes) -> int:
    return int.from_bytes(hashlib.sha256(path).digest()[:4], "big") >> (32 - bins.bit_length)
