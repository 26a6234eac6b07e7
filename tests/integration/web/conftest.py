"""A live embedded registry (uvicorn on 127.0.0.1) with a small marketplace in it, shared by
the page tests of a module: plugins approved, one yanked, one rejected, hostile descriptions.

The content is published and verified once per module (the verifier runs every plugin in its
sandbox); tests only read, except where they say otherwise.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.signing import sign_plugin
from tests.conftest import RunningAuthority
from tests.integration.registry.harness import (
    Registry,
    embedded_shape,
    publish,
    serve_registry,
    signed,
)

HOSTILE_HTML = (
    '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
    "<b>bold</b> & </p><style>body{display:none}</style>"
)
"""An approvable description (the verifier refuses control and bidi characters, not HTML)."""
HOSTILE_TEXT = HOSTILE_HTML + " \x1b[31mred\x1b[0m \u202eevil\u202c"
"""A description the verifier rejects (ANSI and a bidi override); its version page shows it."""
YANK_REASON = "greets the wrong person <b>oops</b>"


@dataclass(frozen=True)
class Marketplace:
    registry: Registry

    @property
    def url(self) -> str:
        return self.registry.url


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\' or ord(ch) < 0x20 or ord(ch) in (0x7F, 0x202E, 0x202C):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def plugin_from_hello(
    built: dict[str, Path],
    authority: RunningAuthority,
    dest: Path,
    *,
    name: str,
    version: str,
    description: str,
    permissions: str = "",
) -> Path:
    """The hello example renamed, re-described and given ``permissions``, signed by ALICE."""
    plugin = dest / f"{name.replace('/', '-')}-{version}"
    shutil.copytree(built["hello"], plugin)
    manifest = plugin / "clawft-plugin.toml"
    text = manifest.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("description = "))
    text = (
        text.replace('name = "clawft/hello"', f'name = "{name}"')
        .replace('version = "0.1.0"', f'version = "{version}"')
        .replace(old, f"description = {_toml_string(description)}")
        .replace("[permissions]\n", f"[permissions]\n{permissions}")
    )
    manifest.write_text(text, encoding="utf-8")
    sign_plugin(plugin, instance=authority.instance, identity_token=authority.token())
    return plugin


@pytest.fixture(scope="module")
def marketplace(
    tmp_path_factory: pytest.TempPathFactory,
    built: dict[str, Path],
    dev_authority: RunningAuthority,
) -> Iterator[Marketplace]:
    tmp = tmp_path_factory.mktemp("marketplace")
    data = tmp / "registry-data"
    cleanups: list[Callable[[], None]] = []
    try:
        settings, queue = embedded_shape(data)
        registry = serve_registry(
            settings,
            queue,
            dev_authority,
            cleanups,
            data=data,
            mode="embedded",
            workers=None,
            client_trust=tmp / "trust",
        )
        _publish_content(registry, built, dev_authority, tmp / "src")
        yield Marketplace(registry)
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


def _publish_content(
    registry: Registry, built: dict[str, Path], authority: RunningAuthority, src: Path
) -> None:
    loop = src / "loop"
    shutil.copytree(built["infinite-loop"], loop)
    manifest = loop / "clawft-plugin.toml"
    manifest.write_text(
        manifest.read_text().replace('name = "test/infinite-loop"', 'name = "clawft/loop"')
    )
    sign_plugin(loop, instance=authority.instance, identity_token=authority.token())
    plugins = [
        signed(built, "hello", authority, src),
        plugin_from_hello(
            built,
            authority,
            src,
            name="clawft/hello",
            version="0.1.1",
            description="Greets someone by name, badly",
        ),
        plugin_from_hello(
            built,
            authority,
            src,
            name="clawft/weather",
            version="1.2.0",
            description="Forecasts for the clawft agent",
            permissions=(
                'network = ["api.weather.com"]\nfilesystem = ["data/"]\nenv = ["WEATHER_UNITS"]\n'
            ),
        ),
        plugin_from_hello(
            built, authority, src, name="clawft/hostile", version="0.1.0", description=HOSTILE_HTML
        ),
        plugin_from_hello(
            built, authority, src, name="clawft/hostile", version="0.2.0", description=HOSTILE_TEXT
        ),
        loop,
    ]
    with registry.client() as client:
        for plugin in plugins:
            publish(client, plugin)
        registry.verify_queued()
        client.yank("clawft/hello", "0.1.1", YANK_REASON)
        registry.settle_tuf()
        statuses = {
            (p.name, v.version): v.status
            for p in (
                client.plugin(n)
                for n in ("clawft/hello", "clawft/weather", "clawft/hostile", "clawft/loop")
            )
            for v in p.versions
        }
    assert statuses == {
        ("clawft/hello", "0.1.0"): "approved",
        ("clawft/hello", "0.1.1"): "yanked",
        ("clawft/weather", "1.2.0"): "approved",
        ("clawft/hostile", "0.1.0"): "approved",
        ("clawft/hostile", "0.2.0"): "rejected",
        ("clawft/loop", "0.1.0"): "rejected",
    }, statuses
