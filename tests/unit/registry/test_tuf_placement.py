"""A plugin's files are placed in its index's hash bin, as python-tuf's own ``SuccinctRoles``
computes bins (the device resolves them that way), for every bin count the settings allow."""

from __future__ import annotations

import pytest
from tuf.api.metadata import SuccinctRoles

from client.sync.schemas import plugin_index_path
from registry.tuf.placement import plugin_file_path

FILES = ("weather.wasm", "clawft-plugin.toml", "weather.wasm.sigstore.json")


@pytest.mark.parametrize("bit_length", [1, 2, 5, 8, 12, 16])
def test_every_file_of_a_plugin_lands_in_the_bin_of_its_index(bit_length: int) -> None:
    bins = SuccinctRoles([], 1, bit_length, "bins")
    for p in range(3 if bit_length == 16 else 40):
        namespace, name = f"ns-{p % 7}", f"plugin-{p}"
        home = bins.get_role_for_target(plugin_index_path(namespace, name))
        for version in ("0.1.0", "1.0.0-rc.1+build.5"):
            for filename in FILES:
                path = plugin_file_path(bins, namespace, name, version, filename)
                assert bins.get_role_for_target(path) == home, path
                prefix, salt, last = path.rsplit("/", 2)
                assert (prefix, last) == (f"plugins/{namespace}/{name}/{version}", filename)
                assert salt == format(int(salt, 16), "x")


def test_the_path_is_the_same_every_time_and_differs_per_file() -> None:
    bins = SuccinctRoles([], 1, 8, "bins")
    paths = {plugin_file_path(bins, "acme", "weather", "1.2.0", f) for f in FILES}
    assert len(paths) == len(FILES)
    again = {plugin_file_path(bins, "acme", "weather", "1.2.0", f) for f in FILES}
    assert paths == again
