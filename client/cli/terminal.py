"""Text from outside (plugins, registries, certificates) made safe to show on a terminal.

A plugin's error, log line or description, a registry's reason or a signer's identity can
carry ANSI escape sequences (which move the cursor, recolour, or forge a ``verdict: approved``
line), carriage returns that overwrite a line, and bidirectional or invisible format
characters that reorder or hide what is read. :func:`shown` writes every such character as a
visible escape (``\\x1b``, ``\\u202e``); everything else is shown as is. JSON output (``--json``)
is not passed through here: it stays exact for machines.
"""

from __future__ import annotations

import unicodedata

__all__ = ["shown"]

# C0 and C1 controls, DEL; then the format characters (bidi embeddings, overrides and
# isolates, zero-width characters, …) and the line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(text: object, *, newlines: bool = False) -> str:
    """``text`` with control, format and bidi characters written as escapes.

    ``newlines=True`` keeps ``\\n`` (for multi-line messages meant as such); tabs are always
    kept.
    """
    value = str(text)
    if value.isascii() and value.isprintable():  # the common case, at C speed
        return value
    kept = "\t\n" if newlines else "\t"
    return "".join(
        ch if ch in kept or unicodedata.category(ch) not in _ESCAPED_CATEGORIES else _escape(ch)
        for ch in value
    )
