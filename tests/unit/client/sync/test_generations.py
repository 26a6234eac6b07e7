"""Generations on a real filesystem: hostile input first, then a power cut at every step of
commit and rollback, then the ordinary life of a device (install, update, roll back, prune).

Nothing of ``client.sync.generations`` is mocked. A crash is simulated by making ``os.fsync``,
``os.rename``, ``os.replace`` and ``os.symlink`` raise from the k-th call on (the process is
dead: nothing after it runs), for every k until commit gets through.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from client.sync import (
    RECORD_FILE_NAME,
    GenerationError,
    GenerationLimits,
    Generations,
    InstalledPlugin,
    Staging,
)

SHA_OF_NOTHING = hashlib.sha256(b"").hexdigest()
State = dict[str, dict[str, bytes]]
"""What a device runs: plugin name → file name → bytes, read through ``DEST/current``."""


@dataclass(frozen=True)
class Release:
    """A plugin as a sync downloaded and verified it, waiting to be added."""

    plugin: InstalledPlugin
    files: dict[str, Path]
    contents: dict[str, bytes]


@pytest.fixture
def release(tmp_path: Path) -> Callable[[str, str], Release]:
    def make(name: str, version: str) -> Release:
        component = f"{name.partition('/')[2]}.wasm"
        contents = {
            component: f"\0asm component of {name} {version}".encode(),
            "clawft-plugin.toml": f'name = "{name}"\nversion = "{version}"\n'.encode(),
            f"{component}.sigstore.json": f'{{"bundle": "{name}@{version}"}}'.encode(),
        }
        directory = tmp_path / "downloads" / name / version
        directory.mkdir(parents=True, exist_ok=True)
        for file_name, data in contents.items():
            (directory / file_name).write_bytes(data)
        plugin = InstalledPlugin(
            name, version, {f: hashlib.sha256(d).hexdigest() for f, d in contents.items()}
        )
        return Release(plugin, {f: directory / f for f in contents}, contents)

    return make


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "device"


def install(dest: Path, *, keep: tuple[str, ...] = (), add: tuple[Release, ...] = ()) -> Path:
    with Generations(dest).stage() as staging:
        stage_into(staging, keep=keep, add=add)
        return staging.commit()


def stage_into(staging: Staging, *, keep: tuple[str, ...], add: tuple[Release, ...]) -> None:
    for name in keep:
        staging.keep(name)
    for item in add:
        staging.add(item.plugin, item.files)


def expected(*releases: Release) -> State:
    return {item.plugin.name: item.contents for item in releases}


def contents_of(generation: Path) -> State:
    """Every plugin file of a generation directory, as the device would read it."""
    state: State = {}
    for plugin_dir in sorted(p for p in generation.glob("*/*") if p.is_dir()):
        name = f"{plugin_dir.parent.name}/{plugin_dir.name}"
        state[name] = {f.name: f.read_bytes() for f in sorted(plugin_dir.iterdir())}
    return state


def runs(dest: Path) -> State:
    """What the device runs, read through the stable ``DEST/current/...`` paths."""
    return contents_of(dest / "current") if os.path.lexists(dest / "current") else {}


def generation_dirs(dest: Path) -> set[str]:
    return {p.name for p in (dest / "generations").iterdir() if not p.name.startswith(".")}


def leftovers(dest: Path) -> list[str]:
    hidden = [p.name for p in (dest / "generations").iterdir() if p.name.startswith(".")]
    return hidden + [p.name for p in dest.iterdir() if p.name.startswith(".link-")]


def generation(dest: Path, number: int) -> Path:
    return (dest / "generations" / str(number)).resolve()


def overwrite(path: Path, data: bytes) -> None:
    """Replace a file of a generation (read-only, so not written in place) with ``data``."""
    path.unlink()
    path.write_bytes(data)


# Hostile names: plugin names, file names, versions, digests.

BAD_PLUGIN_NAMES = [
    "../x",
    "acme/..",
    "acme/../x",
    "a/b/c",
    "A/b",
    "acme/Hello",
    "/etc/passwd",
    "/acme/x",
    "acme/",
    "/x",
    "acme",
    "",
    "acme//x",
    "acme\\x",
    "acme/x\n",
    "acme/x y",
    "acme/.x",
    "acme/-x",
    "acme/x-",
    "\uff41cme/x",  # a fullwidth "a"
    "acme/" + "x" * 65,
]


@pytest.mark.parametrize("name", BAD_PLUGIN_NAMES)
def test_a_bad_plugin_name_is_refused_everywhere(
    name: str, dest: Path, release: Callable[[str, str], Release], tmp_path: Path
) -> None:
    with pytest.raises(GenerationError, match="is not a plugin name"):
        InstalledPlugin(name, "1.0.0", {"x.wasm": SHA_OF_NOTHING})
    good = release("acme/hello", "1.0.0")
    install(dest, add=(good,))
    with Generations(dest).stage() as staging:
        with pytest.raises(GenerationError, match="is not a plugin name"):
            staging.keep(name)
        sneaky = release("acme/sneaky", "1.0.0")
        object.__setattr__(sneaky.plugin, "name", name)  # past the constructor's check
        with pytest.raises(GenerationError, match="is not a plugin name"):
            staging.add(sneaky.plugin, sneaky.files)
        staging.keep("acme/hello")
        staging.commit()
    assert runs(dest) == expected(good)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device", "downloads"]


BAD_FILE_NAMES = [
    "../x",
    "..",
    ".",
    "a/b",
    "/etc/passwd",
    ".hidden",
    "",
    "x\0y",
    "x\\y",
    "x\n",
    "a..b",
    "x y",
    "x" * 129,
]


@pytest.mark.parametrize("file_name", BAD_FILE_NAMES)
def test_a_bad_file_name_is_refused(
    file_name: str, dest: Path, release: Callable[[str, str], Release]
) -> None:
    with pytest.raises(GenerationError, match="is not a plain file name"):
        InstalledPlugin("acme/hello", "1.0.0", {file_name: SHA_OF_NOTHING})
    item = release("acme/hello", "1.0.0")
    item.plugin.files[file_name] = SHA_OF_NOTHING  # the dict is mutable after construction
    with Generations(dest).stage() as staging, pytest.raises(GenerationError, match="plain file"):
        staging.add(item.plugin, {**item.files, file_name: item.files["hello.wasm"]})
    assert not (dest / "generations" / "x").exists() and not (dest.parent / "x").exists()


@pytest.mark.parametrize("version", ["latest", "1.0", "v1.0.0", "1.0.0\n", "\uff11.0.0", ""])
def test_a_bad_version_is_refused(version: str) -> None:
    with pytest.raises(GenerationError, match="is not a semantic version"):
        InstalledPlugin("acme/hello", version, {"hello.wasm": SHA_OF_NOTHING})


@pytest.mark.parametrize("digest", [SHA_OF_NOTHING.upper(), SHA_OF_NOTHING[:63], "z" * 64, ""])
def test_a_bad_digest_is_refused(digest: str) -> None:
    with pytest.raises(GenerationError, match="64 lowercase hex"):
        InstalledPlugin("acme/hello", "1.0.0", {"hello.wasm": digest})


def test_a_plugin_lists_at_least_one_file() -> None:
    with pytest.raises(GenerationError, match="at least one file"):
        InstalledPlugin("acme/hello", "1.0.0", {})


# Hostile files: what add() is given, and what keep() finds in the current generation.


def test_add_refuses_a_file_whose_sha256_does_not_match(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    old = release("acme/alpha", "1.0.0")
    install(dest, add=(old,))
    new = release("acme/alpha", "2.0.0")
    new.files["alpha.wasm"].write_bytes(b"\0asm swapped after verification")
    with Generations(dest).stage() as staging:
        with pytest.raises(GenerationError, match=r"alpha\.wasm: its sha256 is .* refusing it"):
            staging.add(new.plugin, new.files)
        assert not list((dest / "generations").glob(".staging-*/acme/alpha"))  # nothing half-in
        assert runs(dest) == expected(old)
        staging.keep("acme/alpha")  # the staging is still usable
        staging.commit()
    assert Generations(dest).installed() == {"acme/alpha": old.plugin}


def test_add_refuses_files_that_are_not_the_files_listed(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    item = release("acme/alpha", "1.0.0")
    missing = {f: p for f, p in item.files.items() if f != "alpha.wasm"}
    extra = {**item.files, "extra.wasm": item.files["alpha.wasm"]}
    with Generations(dest).stage() as staging:
        with pytest.raises(GenerationError, match=r"missing: \['alpha.wasm'\]"):
            staging.add(item.plugin, missing)
        with pytest.raises(GenerationError, match=r"not listed: \['extra.wasm'\]"):
            staging.add(item.plugin, extra)
        with pytest.raises(GenerationError, match="cannot read"):
            staging.add(item.plugin, {**item.files, "alpha.wasm": dest / "nowhere"})


def test_keep_refuses_a_file_changed_in_the_current_generation(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    item, other = release("acme/alpha", "1.0.0"), release("acme/beta", "1.0.0")
    install(dest, add=(item, other))
    overwrite(dest / "current" / "acme" / "alpha" / "alpha.wasm", b"tampered")
    with Generations(dest).stage() as staging:
        with pytest.raises(GenerationError, match="no longer matches its recorded sha256"):
            staging.keep("acme/alpha")
        staging.add(item.plugin, item.files)  # the way out: add it again
        staging.keep("acme/beta")
        staging.commit()
    assert runs(dest) == expected(item, other)


def test_keep_refuses_a_file_replaced_by_a_symbolic_link(
    dest: Path, release: Callable[[str, str], Release], tmp_path: Path
) -> None:
    item = release("acme/alpha", "1.0.0")
    install(dest, add=(item,))
    planted = dest / "current" / "acme" / "alpha" / "alpha.wasm"
    planted.unlink()
    planted.symlink_to(item.files["alpha.wasm"])  # same bytes, but a link out of DEST
    with Generations(dest).stage() as staging, pytest.raises(GenerationError, match="cannot read"):
        staging.keep("acme/alpha")


def record_with(**changes: Any) -> bytes:
    entry = {"name": "acme/alpha", "version": "1.0.0", "files": {"alpha.wasm": SHA_OF_NOTHING}}
    record: dict[str, Any] = {"format": 1, "plugins": [entry]}
    for key, value in changes.items():
        if key in entry:
            entry[key] = value
        else:
            record[key] = value
    return msgspec.json.encode(record)


TAMPERED_RECORDS = {
    "not-json": (b"\x89PNG not json", "not valid JSON"),
    "empty": (b"", "not valid JSON"),
    "an-array": (b"[]", "expected shape"),
    "deeply-nested": (b'{"format": 1, "plugins": ' + b"[" * 50_000, "generation.json"),
    "unknown-field": (record_with(owner="mallory"), "expected shape"),
    "future-format": (record_with(format=2), "has format 2"),
    "traversing-name": (record_with(name="../../etc"), "is not a plugin name"),
    "absolute-name": (record_with(name="/etc/passwd"), "is not a plugin name"),
    "traversing-file": (record_with(files={"../../../x": SHA_OF_NOTHING}), "plain file name"),
    "bad-digest": (record_with(files={"alpha.wasm": "0" * 63}), "64 lowercase hex"),
    "wrong-types": (record_with(files=["alpha.wasm"]), "expected shape"),
    "duplicate": (
        msgspec.json.encode(
            {"format": 1, "plugins": msgspec.json.decode(record_with())["plugins"] * 2}
        ),
        "twice",
    ),
}


@pytest.fixture
def installed_alpha(dest: Path, release: Callable[[str, str], Release]) -> Release:
    item = release("acme/alpha", "1.0.0")
    install(dest, add=(item,))
    return item


@pytest.mark.parametrize("scenario", sorted(TAMPERED_RECORDS))
def test_a_tampered_generation_json_is_a_clear_error_and_a_fresh_set_repairs_it(
    scenario: str, dest: Path, installed_alpha: Release
) -> None:
    data, message = TAMPERED_RECORDS[scenario]
    overwrite(dest / "current" / RECORD_FILE_NAME, data)
    generations = Generations(dest)
    with pytest.raises(GenerationError, match=message) as refused:
        generations.installed()
    assert "stage a complete set" in str(refused.value)  # says what to do
    with generations.stage() as staging:
        with pytest.raises(GenerationError, match=message):
            staging.keep("acme/alpha")
        staging.add(installed_alpha.plugin, installed_alpha.files)
        staging.commit()
    assert generations.installed() == {"acme/alpha": installed_alpha.plugin}


def test_a_missing_generation_json_is_a_clear_error(dest: Path, installed_alpha: Release) -> None:
    (dest / "current" / RECORD_FILE_NAME).unlink()
    with pytest.raises(GenerationError, match=r"generation\.json is missing"):
        Generations(dest).installed()


def test_a_generation_json_that_is_a_symbolic_link_is_not_followed(
    dest: Path, installed_alpha: Release, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(record_with())
    record = dest / "current" / RECORD_FILE_NAME
    record.unlink()
    record.symlink_to(elsewhere)
    with pytest.raises(GenerationError, match="it is a symbolic link"):
        Generations(dest).installed()


def test_an_oversized_generation_json_is_refused_unread(
    dest: Path, installed_alpha: Release
) -> None:
    overwrite(dest / "current" / RECORD_FILE_NAME, b" " * 2000 + record_with())
    generations = Generations(dest, limits=GenerationLimits(max_record_bytes=1024))
    with pytest.raises(GenerationError, match="larger than the 1024-byte limit"):
        generations.installed()


# Hostile links: DEST/current and DEST/previous must name a generation inside DEST.


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside DEST laid out like a generation, with a file that must survive."""
    directory = tmp_path / "outside"
    (directory / "acme" / "alpha").mkdir(parents=True)
    (directory / "acme" / "alpha" / "alpha.wasm").write_bytes(b"not ours")
    (directory / ".staging-precious").mkdir()
    (directory / RECORD_FILE_NAME).write_bytes(record_with())
    return directory


def plant_link(dest: Path, which: str, target: str) -> None:
    link = dest / which
    if os.path.lexists(link):
        link.unlink()
    link.symlink_to(target)


@pytest.mark.parametrize(
    "target",
    [
        "OUTSIDE",
        "../outside",
        "generations/../../outside",
        "generations/1/../../../outside",
        "generations/01",
        "generations/1/",
        "./generations/1",
        "generations/0",
        "generations/99",
    ],
)
def test_a_current_link_that_leads_anywhere_else_is_refused(
    target: str, dest: Path, installed_alpha: Release, outside: Path
) -> None:
    plant_link(dest, "current", str(outside) if target == "OUTSIDE" else target)
    generations = Generations(dest)
    with pytest.raises(GenerationError, match="refusing to use it"):
        generations.current()
    with pytest.raises(GenerationError, match="refusing to use it"):
        generations.installed()
    with pytest.raises(GenerationError, match="refusing to use it"):
        generations.stage()
    assert (outside / ".staging-precious").is_dir()  # stage() cleaned nothing outside DEST
    assert (outside / "acme" / "alpha" / "alpha.wasm").read_bytes() == b"not ours"


def test_a_generation_that_is_a_symbolic_link_is_refused(
    dest: Path, installed_alpha: Release, outside: Path
) -> None:
    (dest / "generations" / "7").symlink_to(outside)
    plant_link(dest, "current", "generations/7")
    with pytest.raises(GenerationError, match="missing or a symbolic link"):
        Generations(dest).installed()


def test_a_generations_directory_that_is_a_symbolic_link_is_refused(
    dest: Path, outside: Path
) -> None:
    dest.mkdir()
    (dest / "generations").symlink_to(outside)
    with pytest.raises(GenerationError, match="symbolic link"):
        Generations(dest).stage()
    (outside / "1").mkdir()
    plant_link(dest, "current", "generations/1")
    with pytest.raises(GenerationError, match="symbolic link"):
        Generations(dest).current()
    assert (outside / ".staging-precious").is_dir()


def test_a_current_that_is_not_a_link_is_refused(dest: Path, installed_alpha: Release) -> None:
    (dest / "current").unlink()
    (dest / "current").mkdir()
    with pytest.raises(GenerationError, match="is not a symbolic link"):
        Generations(dest).current()


def test_a_previous_link_that_leads_outside_is_refused_for_rollback(
    dest: Path, installed_alpha: Release, outside: Path
) -> None:
    plant_link(dest, "previous", str(outside))
    with pytest.raises(GenerationError, match="refusing to use it"):
        Generations(dest).rollback()
    assert runs(dest) == expected(installed_alpha)


# A power cut at every step.

DURABLE_STEPS = ("fsync", "rename", "replace", "symlink")


class PowerCut(BaseException):
    """The power went out: a BaseException, so no ``except Exception`` or ``except OSError``
    in the code under test carries on past it."""


@dataclass
class Breaker:
    """Counts the durable filesystem steps and fails every one from the ``at``-th on."""

    at: int
    calls: int = 0

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls >= self.at:
                raise PowerCut(f"power cut at durable step {self.calls}")
            return real(*args, **kwargs)

        return step


def cut_power_at(patch: pytest.MonkeyPatch, at: int) -> Breaker:
    breaker = Breaker(at)
    for name in DURABLE_STEPS:
        patch.setattr(os, name, breaker.wrap(getattr(os, name)))
    return breaker


History = list[tuple[tuple[str, ...], tuple[Release, ...]]]
"""Installs in order: the names each one keeps, the releases it adds."""


def installed_after(history: History) -> dict[str, Release]:
    installed: dict[str, Release] = {}
    for kept, added in history:
        installed = {n: r for n, r in installed.items() if n in kept}
        installed.update({r.plugin.name: r for r in added})
    return installed


@pytest.mark.parametrize("history", ["first-install", "third-install"])
def test_a_power_cut_at_any_step_of_commit_leaves_a_complete_generation_current(
    history: str, tmp_path: Path, release: Callable[[str, str], Release]
) -> None:
    alpha, beta1, beta2 = (
        release("acme/alpha", "1.0.0"),
        release("acme/beta", "1.0.0"),
        release("acme/beta", "2.0.0"),
    )
    gamma, delta = release("tools/gamma", "0.1.0"), release("tools/delta", "3.1.4")
    before: History = []
    keep: tuple[str, ...] = ()
    add: tuple[Release, ...] = (alpha, delta)
    if history == "third-install":  # 1: alpha, beta 1, gamma; 2: keeps alpha, beta 2, no gamma
        before = [((), (alpha, beta1, gamma)), (("acme/alpha",), (beta2,))]
        keep, add = ("acme/alpha",), (delta,)
    by_number = {
        n: expected(*installed_after(before[:n]).values()) for n in range(1, len(before) + 1)
    }
    old_state, new_state = expected(*installed_after(before).values()), expected(alpha, delta)
    outcomes: list[str] = []
    left_behind: list[Path] = []  # staging directories and temporary links of crashed commits

    for k in itertools.count(1):
        dest = tmp_path / f"cut-at-{k}"
        for kept, added in before:
            install(dest, keep=kept, add=added)
        old_current, old_previous = Generations(dest).current(), Generations(dest).previous()
        staging = Generations(dest).stage()
        stage_into(staging, keep=keep, add=add)
        with pytest.MonkeyPatch.context() as patch:
            breaker = cut_power_at(patch, k)
            try:
                staging.commit()
            except PowerCut:
                crashed = True
            else:
                crashed = False
        if not crashed:
            assert breaker.calls < k
            break

        # The device boots again: it runs the old set or the new one, each complete.
        generations = Generations(dest)
        state = runs(dest)
        if state == old_state:
            outcomes.append("old")
            assert generations.current() == old_current
            assert generations.installed() == {
                n: r.plugin for n, r in installed_after(before).items()
            }
            assert generations.previous() in {old_previous, old_current}
            for number, contents in by_number.items():  # nothing is pruned before the switch
                assert contents_of(generation(dest, number)) == contents
        else:
            assert state == new_state, f"a power cut at step {k} left a set that is neither"
            outcomes.append("new")
            assert generations.installed() == {r.plugin.name: r.plugin for r in (alpha, delta)}
            assert generations.previous() == old_current
        previous = generations.previous()
        if previous is not None:  # what previous names is complete, ready for rollback
            assert contents_of(previous) == by_number[int(previous.name)]
        current_after_crash = generations.current()
        numbers_after_crash = {int(n) for n in generation_dirs(dest)}
        crashed_leftovers = [*(dest / "generations").glob(".staging-*"), *dest.glob(".link-*")]
        left_behind += crashed_leftovers

        # The next sync removes what the crash left behind and gets through.
        recovered = Generations(dest)
        with recovered.stage() as again:
            assert not any(os.path.lexists(p) for p in crashed_leftovers)
            assert len(leftovers(dest)) == 1  # its own staging directory
            stage_into(again, keep=keep, add=add)
            committed = again.commit()
        assert runs(dest) == new_state
        assert recovered.current() == committed
        assert int(committed.name) > max(numbers_after_crash, default=0)  # never reused
        previous = recovered.previous()
        if current_after_crash is None:
            assert previous is None and generation_dirs(dest) == {committed.name}
        else:
            assert previous == current_after_crash and contents_of(previous) == state
            assert generation_dirs(dest) == {committed.name, previous.name}
        assert leftovers(dest) == []

    assert k > 10, "commit should take more durable steps than this"
    assert outcomes == sorted(outcomes, key=["old", "new"].index), "a later cut went back"
    assert "old" in outcomes and "new" in outcomes
    assert any(p.name.startswith(".staging-") for p in left_behind)
    assert any(p.name.startswith(".link-") for p in left_behind)
    final = tmp_path / f"cut-at-{k}"
    assert runs(final) == new_state and leftovers(final) == []


def test_a_power_cut_at_any_step_of_rollback_leaves_a_complete_generation_current(
    tmp_path: Path, release: Callable[[str, str], Release]
) -> None:
    one, two = release("acme/alpha", "1.0.0"), release("acme/alpha", "2.0.0")
    by_number = {1: expected(one), 2: expected(two)}
    outcomes: list[str] = []
    for k in itertools.count(1):
        dest = tmp_path / f"cut-at-{k}"
        install(dest, add=(one,))
        install(dest, add=(two,))
        with pytest.MonkeyPatch.context() as patch:
            breaker = cut_power_at(patch, k)
            try:
                Generations(dest).rollback()
            except PowerCut:
                crashed = True
            else:
                crashed = False
        if not crashed:
            assert breaker.calls < k
            break
        generations = Generations(dest)
        current, previous = generations.current(), generations.previous()
        assert current is not None and previous is not None
        assert runs(dest) == by_number[int(current.name)]
        assert contents_of(previous) == by_number[int(previous.name)]
        outcomes.append(current.name)
        if current == previous:
            with pytest.raises(GenerationError, match="nothing to roll back to"):
                generations.rollback()
        else:
            generations.rollback()  # and rolling back works again
        install(dest, keep=("acme/alpha",))  # so does the next sync
        assert leftovers(dest) == []
    final = Generations(tmp_path / f"cut-at-{k}")
    assert final.current() == generation(tmp_path / f"cut-at-{k}", 1)
    assert k > 4 and outcomes == sorted(outcomes, reverse=True) and {"1", "2"} <= set(outcomes)


# The life of a device.


def test_nothing_installed(dest: Path) -> None:
    generations = Generations(dest)
    assert generations.current() is None and generations.previous() is None
    assert generations.installed() == {}
    assert not dest.exists()  # reading creates nothing
    with pytest.raises(GenerationError, match="no previous generation"):
        generations.rollback()


def test_first_install(dest: Path, release: Callable[[str, str], Release]) -> None:
    alpha, hello = release("acme/alpha", "1.0.0"), release("clawft/hello", "0.1.0")
    generations = Generations(dest)
    committed = install(dest, add=(alpha, hello))
    assert committed == generation(dest, 1) == generations.current()
    assert os.readlink(dest / "current") == "generations/1"  # noqa: PTH115 (the exact text)
    assert generations.previous() is None and not os.path.lexists(dest / "previous")
    assert generations.installed() == {"acme/alpha": alpha.plugin, "clawft/hello": hello.plugin}
    hello_wasm = dest / "current" / "clawft" / "hello" / "hello.wasm"
    assert hello_wasm.read_bytes() == hello.contents["hello.wasm"]
    assert runs(dest) == expected(alpha, hello)
    assert stat.S_IMODE(hello_wasm.stat().st_mode) & 0o222 == 0  # shared by later generations
    assert leftovers(dest) == [] and generation_dirs(dest) == {"1"}
    record = msgspec.json.decode((committed / RECORD_FILE_NAME).read_bytes())
    assert record["format"] == 1
    assert [p["name"] for p in record["plugins"]] == ["acme/alpha", "clawft/hello"]


def test_second_install_keeps_adds_and_removes(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    alpha, beta1, gamma = (
        release("acme/alpha", "1.0.0"),
        release("acme/beta", "1.0.0"),
        release("tools/gamma", "0.1.0"),
    )
    beta2, delta = release("acme/beta", "2.0.0"), release("tools/delta", "3.1.4")
    install(dest, add=(alpha, beta1, gamma))
    stable = dest / "current" / "acme" / "beta" / "beta.wasm"
    assert stable.read_bytes() == beta1.contents["beta.wasm"]

    generations = Generations(dest)
    install(dest, keep=("acme/alpha",), add=(beta2, delta))  # gamma is not kept: removed

    assert generations.current() == generation(dest, 2)
    assert generations.previous() == generation(dest, 1)
    assert os.readlink(dest / "previous") == "generations/1"  # noqa: PTH115 (the exact text)
    assert generations.installed() == {
        "acme/alpha": alpha.plugin,
        "acme/beta": beta2.plugin,
        "tools/delta": delta.plugin,
    }
    assert stable.read_bytes() == beta2.contents["beta.wasm"]  # same path, new set
    assert runs(dest) == expected(alpha, beta2, delta)
    assert not (dest / "current" / "tools" / "gamma").exists()
    assert contents_of(generation(dest, 1)) == expected(alpha, beta1, gamma)  # for rollback
    kept_now = (dest / "current" / "acme" / "alpha" / "alpha.wasm").stat()
    kept_before = (generation(dest, 1) / "acme" / "alpha" / "alpha.wasm").stat()
    assert kept_now.st_ino == kept_before.st_ino  # a hard link, not a copy


def test_keep_copies_when_the_filesystem_will_not_link(
    dest: Path, release: Callable[[str, str], Release], monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = release("acme/alpha", "1.0.0")
    install(dest, add=(alpha,))

    def cross_device(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    install(dest, keep=("acme/alpha",))
    copied = (dest / "current" / "acme" / "alpha" / "alpha.wasm").stat()
    original = (generation(dest, 1) / "acme" / "alpha" / "alpha.wasm").stat()
    assert copied.st_ino != original.st_ino
    assert runs(dest) == expected(alpha)


def test_an_empty_set_is_a_generation_too(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    alpha = release("acme/alpha", "1.0.0")
    install(dest, add=(alpha,))
    install(dest)
    assert Generations(dest).installed() == {} and runs(dest) == {}
    assert Generations(dest).rollback() == generation(dest, 1)
    assert runs(dest) == expected(alpha)


def test_rollback_swaps_current_and_previous(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    one, two = release("acme/alpha", "1.0.0"), release("acme/alpha", "2.0.0")
    install(dest, add=(one,))
    install(dest, add=(two,))
    generations = Generations(dest)

    assert generations.rollback() == generation(dest, 1)
    assert generations.current() == generation(dest, 1)
    assert generations.previous() == generation(dest, 2)
    assert generations.installed() == {"acme/alpha": one.plugin} and runs(dest) == expected(one)

    assert generations.rollback() == generation(dest, 2)  # and back again
    assert runs(dest) == expected(two) and generations.previous() == generation(dest, 1)


def test_rollback_without_a_previous_generation_is_a_clear_error(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    install(dest, add=(release("acme/alpha", "1.0.0"),))
    with pytest.raises(GenerationError, match="has no previous generation to roll back to"):
        Generations(dest).rollback()


def test_rollback_when_previous_is_current_is_a_clear_error(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    install(dest, add=(release("acme/alpha", "1.0.0"),))
    plant_link(dest, "previous", "generations/1")
    with pytest.raises(GenerationError, match="nothing to roll back to"):
        Generations(dest).rollback()


def test_pruning_keeps_exactly_current_and_previous(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    for version in ("1.0.0", "2.0.0", "3.0.0", "4.0.0"):
        install(dest, add=(release("acme/alpha", version),))
    assert generation_dirs(dest) == {"3", "4"}
    generations = Generations(dest)
    generations.rollback()  # current 3, previous 4
    install(dest, keep=("acme/alpha",))
    assert generation_dirs(dest) == {"3", "5"}  # 4 is pruned and its number not reused
    assert generations.current() == generation(dest, 5)
    assert generations.previous() == generation(dest, 3)
    assert leftovers(dest) == []


def test_a_stale_previous_is_dropped_by_a_fresh_install(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    one, two = release("acme/alpha", "1.0.0"), release("acme/alpha", "2.0.0")
    install(dest, add=(one,))
    install(dest, add=(two,))
    (dest / "current").unlink()  # an operator starts over, but forgets previous
    install(dest, add=(one,))
    generations = Generations(dest)
    assert generations.current() == generation(dest, 3) and generations.previous() is None
    assert generation_dirs(dest) == {"3"}


def test_leaving_the_block_without_commit_removes_the_staging(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    alpha = release("acme/alpha", "1.0.0")
    install(dest, add=(alpha,))
    with pytest.raises(RuntimeError), Generations(dest).stage() as staging:
        staging.add(release("acme/beta", "1.0.0").plugin, release("acme/beta", "1.0.0").files)
        raise RuntimeError("the sync gave up")
    with Generations(dest).stage() as staging:
        staging.keep("acme/alpha")  # and no commit()
    assert leftovers(dest) == [] and generation_dirs(dest) == {"1"}
    assert runs(dest) == expected(alpha)


def test_leftovers_of_a_crashed_sync_are_removed_when_staging(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    install(dest, add=(release("acme/alpha", "1.0.0"),))
    (dest / "generations" / ".staging-0123456789abcdef" / "acme" / "x").mkdir(parents=True)
    (dest / "generations" / ".trash-7-abcd").mkdir()
    (dest / ".link-current-0123456789abcdef").symlink_to("generations/1")
    with Generations(dest).stage():
        assert [p for p in leftovers(dest) if p != staging_name(dest)] == []


def staging_name(dest: Path) -> str:
    (only,) = (dest / "generations").glob(".staging-*")
    return only.name


def test_one_sync_at_a_time(dest: Path, release: Callable[[str, str], Release]) -> None:
    one, two = release("acme/alpha", "1.0.0"), release("acme/alpha", "2.0.0")
    install(dest, add=(one,))
    install(dest, add=(two,))
    first = Generations(dest).stage()
    with pytest.raises(GenerationError, match="another sync or rollback holds"):
        Generations(dest).stage()
    with pytest.raises(GenerationError, match="another sync or rollback holds"):
        Generations(dest).rollback()
    assert len(list((dest / "generations").glob(".staging-*"))) == 1  # the first one survives
    first.discard()
    Generations(dest).rollback()
    assert runs(dest) == expected(one)


def test_a_staging_is_used_once(dest: Path, release: Callable[[str, str], Release]) -> None:
    alpha = release("acme/alpha", "1.0.0")
    with Generations(dest).stage() as staging:
        staging.add(alpha.plugin, alpha.files)
        with pytest.raises(GenerationError, match="already staged"):
            staging.add(alpha.plugin, alpha.files)
        staging.commit()
        with pytest.raises(GenerationError, match="committed or discarded"):
            staging.keep("acme/alpha")
        with pytest.raises(GenerationError, match="committed or discarded"):
            staging.commit()


def test_keep_needs_the_plugin_in_the_current_generation(
    dest: Path, release: Callable[[str, str], Release]
) -> None:
    with (
        Generations(dest).stage() as staging,
        pytest.raises(GenerationError, match="nothing is installed yet"),
    ):
        staging.keep("acme/alpha")
    install(dest, add=(release("acme/alpha", "1.0.0"),))
    with (
        Generations(dest).stage() as staging,
        pytest.raises(GenerationError, match="is not in the current generation"),
    ):
        staging.keep("acme/beta")


def test_the_limits_hold(dest: Path, release: Callable[[str, str], Release]) -> None:
    alpha, beta = release("acme/alpha", "1.0.0"), release("acme/beta", "1.0.0")
    with Generations(dest, limits=GenerationLimits(max_plugins=1)).stage() as staging:
        staging.add(alpha.plugin, alpha.files)
        with pytest.raises(GenerationError, match="at most 1 plugins"):
            staging.add(beta.plugin, beta.files)
    few_files = GenerationLimits(max_files_per_plugin=2)
    with (
        Generations(dest, limits=few_files).stage() as staging,
        pytest.raises(GenerationError, match="more than 2 files"),
    ):
        staging.add(alpha.plugin, alpha.files)
    install(dest, add=(alpha, beta))
    with pytest.raises(GenerationError, match="lists more than 1 plugins"):
        Generations(dest, limits=GenerationLimits(max_plugins=1)).installed()
