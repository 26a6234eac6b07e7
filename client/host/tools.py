"""A plugin's description of its tools (``describe()``'s JSON), parsed one way for everyone.

``describe`` returns a JSON array of ``{"name", "description", "input_schema"}`` objects. The
verifier judges it (every problem named), its isolation child reads the names it probes, and an
agent lists them; all through :func:`parse_describe`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from client.decoding import Undecodable, decode_json

__all__ = ["DescribedTools", "parse_describe"]


@dataclass(frozen=True, slots=True)
class DescribedTools:
    """The tool names a ``describe()`` output gives, in order and each once, and every way in
    which it misses the expected shape (empty when it has none)."""

    names: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_describe(text: str | None, *, max_tools: int) -> DescribedTools:
    if text is None:
        return DescribedTools(problems=["describe() produced no output"])
    try:
        tools = decode_json(text, what="describe()'s output")
    except Undecodable as exc:
        return DescribedTools(problems=[str(exc)])
    if not isinstance(tools, list):
        return DescribedTools(problems=["describe() must return a JSON array of tools"])
    if not tools:
        return DescribedTools(problems=["describe() lists no tools"])
    if len(tools) > max_tools:
        return DescribedTools(
            problems=[f"describe() lists {len(tools)} tools; at most {max_tools} are allowed"]
        )
    problems: list[str] = []
    names: list[str] = []
    for index, tool in enumerate(tools):
        where = f"describe()[{index}]"
        if not isinstance(tool, dict):
            problems.append(f"{where} is not an object")
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where} has no string 'name'")
            continue
        names.append(name)
        if not isinstance(tool.get("description"), str):
            problems.append(f"tool {name!r} has no string 'description'")
        if not isinstance(tool.get("input_schema"), dict):
            problems.append(f"tool {name!r} has no object 'input_schema'")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"describe() lists tools more than once: {', '.join(duplicates)}")
    return DescribedTools(names=list(dict.fromkeys(names)), problems=problems)
