"""Decoding outside data (JSON, TOML) so that every failure is one clear error.

Deeply nested input (``[[[[…`` thirty thousand deep) makes msgspec and ``tomllib`` raise
``RecursionError``, which is not a ``ValueError`` and escaped every ``except`` written for bad
input: a traceback from ``run``, a 500 from the registry, a verification that never ended.
Decoders of outside data go through here: the decoders' own recursion limit is the nesting
bound (about a thousand levels, far past any honest tool input, manifest or API body), and
going past it is a :class:`Undecodable` like any other malformed input. The happy path costs
nothing extra: no pre-scan, one ``try``.
"""

from __future__ import annotations

import tomllib
from typing import Any, TypeVar, overload

import msgspec

T = TypeVar("T")

__all__ = ["Undecodable", "decode_json", "decode_toml", "loads_toml"]

NESTING_TOO_DEEP = "nests too deeply (arrays or tables more than about a thousand levels deep)"


class Undecodable(ValueError):
    """Outside data that is not valid JSON or TOML of the expected shape; ``str()`` says why."""


@overload
def decode_json(data: bytes | str, *, what: str = "input") -> Any: ...
@overload
def decode_json(data: bytes | str, *, type: type[T], what: str = "input") -> T: ...
def decode_json(data: bytes | str, *, type: Any = Any, what: str = "input") -> Any:
    """``msgspec.json.decode`` with every failure an :class:`Undecodable` naming ``what``."""
    try:
        decoded = msgspec.json.decode(data, type=type)
    except msgspec.ValidationError as exc:
        raise Undecodable(f"{what} does not have the expected shape: {exc}") from None
    except msgspec.DecodeError as exc:
        raise Undecodable(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise Undecodable(f"{what} {NESTING_TOO_DEEP}") from None
    return decoded


def decode_toml(data: bytes, *, type: type[T], what: str = "input") -> T:
    """``msgspec.toml.decode`` with every failure an :class:`Undecodable` naming ``what``."""
    try:
        return msgspec.toml.decode(data, type=type)
    except msgspec.ValidationError as exc:
        raise Undecodable(f"{what} is not valid: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise Undecodable(f"{what} is not valid TOML: {exc}") from None
    except RecursionError:
        raise Undecodable(f"{what} {NESTING_TOO_DEEP}") from None


def loads_toml(text: str, *, what: str = "input") -> dict[str, Any]:
    """``tomllib.loads`` with every failure an :class:`Undecodable` naming ``what``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Undecodable(f"{what} is not valid TOML: {exc}") from None
    except RecursionError:
        raise Undecodable(f"{what} {NESTING_TOO_DEEP}") from None
