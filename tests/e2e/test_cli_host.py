"""`clawft-registry run` and `inspect`, as a user runs them: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import component_of

# The console script pip installed next to this interpreter: what a user runs.
CLAWFT_REGISTRY = Path(sys.executable).parent / "clawft-registry"


def cli(
    *args: str | Path, cache: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLAWFT_REGISTRY), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_CACHE_HOME": str(cache), **(env or {})},
        check=False,
    )


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "xdg-cache"


def test_run_prints_the_tool_output(built: dict[str, Path], cache: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    result = cli(
        "run",
        component_of(built["hello"]),
        "--tool",
        "greet",
        "--input",
        '{"name": "Oslo"}',
        "--audit",
        audit,
        cache=cache,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"greeting": "Hello, Oslo!"}
    assert "[clawft/hello] info: greeting Oslo" in result.stderr
    (entry,) = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    assert entry["function"] == "log" and entry["permitted"] is True
    assert any(cache.rglob("*.cwasm"))  # compiled once, cached for the next run


def test_run_with_data_dir_and_env(built: dict[str, Path], cache: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    saved = cli(
        "run",
        component_of(built["notes"]),
        "--tool",
        "save",
        "--input",
        '{"path": "notes/a.txt", "text": "hi"}',
        "--data-dir",
        data,
        cache=cache,
    )
    assert saved.returncode == 0, saved.stderr
    assert (data / "notes" / "a.txt").read_text(encoding="utf-8") == "hi"
    env = cli(
        "run",
        component_of(built["env-probe"]),
        "--tool",
        "get",
        "--input",
        '{"name": "PROBE_VISIBLE"}',
        "--env",
        "PROBE_VISIBLE=yes",
        cache=cache,
        env={"PROBE_VISIBLE": "from the parent process"},
    )
    assert env.returncode == 0, env.stderr
    assert json.loads(env.stdout) == {"value": "yes"}


@pytest.mark.parametrize(
    ("plugin", "tool", "message"),
    [
        ("infinite-loop", "spin", "fuel budget"),
        ("deep-recursion", "recurse", "call stack"),
        ("forbidden-import", "greet", "wasi:sockets/tcp"),
        ("core-module", "x", "core WebAssembly module"),
        ("over-budget", "size", "over the budget"),
        ("hello", "nope", "unknown tool: nope"),
    ],
)
def test_run_failures_exit_1_with_a_reason(
    built: dict[str, Path], cache: Path, plugin: str, tool: str, message: str
) -> None:
    result = cli("run", component_of(built[plugin]), "--tool", tool, "--input", "{}", cache=cache)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("until", ["later", "date"])
def test_a_plugin_that_would_sleep_a_year_ends_at_once_with_a_reason(
    built: dict[str, Path], cache: Path, tmp_path: Path, until: str
) -> None:
    """`run` and `verify` both refuse the sleeper for its timer imports, well within its
    timeout of 30 s + 1 s (before, `run` slept for the year and `verify` approved it)."""
    started = time.monotonic()
    ran = cli(
        "run",
        component_of(built["sleeper"]),
        "--tool",
        "nap",
        "--input",
        json.dumps({"until": until}),
        cache=cache,
    )
    assert time.monotonic() - started < 31
    assert ran.returncode == 1 and ran.stdout == ""
    reason = "wasi:clocks/monotonic-clock@0.2.0#subscribe-duration (makes a timer to wait on"
    assert ran.stderr.startswith("error: ") and reason in ran.stderr
    verified = cli("verify", built["sleeper"], cache=cache)
    assert verified.returncode == 1
    assert verified.stdout.splitlines()[0].startswith("FAIL imports")
    assert reason in verified.stdout.splitlines()[0]
    assert verified.stdout.splitlines()[-1].startswith("verdict: rejected")


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["run", "{hello}", "--input", "{}"],  # no --tool
        ["run", "{hello}", "--tool", "greet", "--input", "not json"],
        ["run", "{hello}", "--tool", "greet", "--input", "[" * 30_000 + "]" * 30_000],
        ["run", "/nonexistent/x.wasm", "--tool", "greet", "--input", "{}"],
        ["run", "{hello}", "--tool", "greet", "--input", "{}", "--env", "NOEQUALS"],
        ["run", "{hello}", "--tool", "greet", "--input", "{}", "--manifest", "/nonexistent.toml"],
        ["run", "{hello}", "--tool", "greet", "--input", "{}", "--config", "/nonexistent.toml"],
        ["inspect", "/nonexistent/x.wasm"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(built: dict[str, Path], cache: Path, args: list[str]) -> None:
    hello = str(component_of(built["hello"]))
    result = cli(*[hello if a == "{hello}" else a for a in args], cache=cache)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(("error: ", "usage: ")), result.stderr[-300:]


def test_inspect_text_and_json(built: dict[str, Path], cache: Path) -> None:
    text = cli("inspect", component_of(built["hello"]), cache=cache)
    assert text.returncode == 0, text.stderr
    assert "clawft:plugin/tool@0.1.0" in text.stdout
    assert "invoke: func(name: string, input: string) -> result<string, string>" in text.stdout
    assert "loads in the sandbox: yes" in text.stdout
    report = json.loads(cli("inspect", component_of(built["hello"]), "--json", cache=cache).stdout)
    assert report["kind"] == "component" and report["problems"] == []
    assert report["size"] == component_of(built["hello"]).stat().st_size
    assert set(report["imports"]["clawft:plugin/host@0.1.0"]) == {
        "http-request",
        "read-file",
        "write-file",
        "get-env",
        "log",
    }


@pytest.mark.parametrize(
    ("plugin", "problem"),
    [
        ("forbidden-import", "forbidden import: wasi:sockets/tcp@0.2.0"),
        ("missing-export", "#invoke is missing"),
        ("over-gzip-budget", "gzipped size"),
        ("core-module", "core WebAssembly module"),
    ],
)
def test_inspect_lists_every_problem(
    built: dict[str, Path], cache: Path, plugin: str, problem: str
) -> None:
    result = cli("inspect", component_of(built[plugin]), "--json", cache=cache)
    assert result.returncode == 1
    assert any(problem in p for p in json.loads(result.stdout)["problems"])


def test_plugin_text_reaches_the_terminal_escaped(built: dict[str, Path], cache: Path) -> None:
    """A plugin's log lines, errors and non-JSON output cannot move the cursor, recolour or
    reorder what a person reads: every control and bidi character is shown as an escape."""
    component = component_of(built["terminal-forger"])
    lied = cli("run", component, "--tool", "lie", "--input", "{}", cache=cache)
    assert lied.returncode == 1
    for raw in ("\x1b", "\r", "\u202e"):
        assert raw not in lied.stderr
    assert "info: \\x1b[2K\\x0dverdict: approved" in lied.stderr
    assert "failed: \\x1b[1A\\x1b[2K\\x1b[32mok   behaviour all good\\x1b[0m \\u202eexe.txt" in (
        lied.stderr
    )
    raw = cli("run", component, "--tool", "raw", "--input", "{}", cache=cache)
    assert raw.returncode == 0 and raw.stdout == "\\x1b[2J\\x1b[Hall clear\n"
    verified = cli("verify", component.parent, cache=cache)
    assert verified.returncode == 1
    assert "\x1b" not in verified.stdout
    assert verified.stdout.splitlines()[0].startswith("FAIL behaviour")
    assert "\\x1b[32mok   behaviour all good" in verified.stdout
    assert json.loads(cli("verify", component.parent, "--json", cache=cache).stdout)["checks"]
