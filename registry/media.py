"""Media types of request bodies, parsed by the grammar of RFC 9110 (section 8.3.1).

``type "/" subtype *( OWS ";" OWS parameter )``, where type, subtype and parameter names are
tokens (case-insensitive) and a parameter value is a token or a quoted string. A prefix match
is not a parse: ``multipart/form-databogus`` is not ``multipart/form-data``, and
``Application/JSON; charset=utf-8`` is ``application/json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TYPE = re.compile(rf"^\s*({_TCHARS})/({_TCHARS})\s*")
_PARAMETER = re.compile(rf';\s*({_TCHARS})=(?:({_TCHARS})|"((?:[^"\\\x00-\x1f\x7f]|\\.)*)")\s*')
MAX_MEDIA_TYPE_CHARS = 1024


class MediaTypeInvalid(ValueError):
    """A ``Content-Type`` header that is not a media type."""


@dataclass(frozen=True, slots=True)
class MediaType:
    type: str
    """``type/subtype``, lower case."""
    parameters: dict[str, str] = field(default_factory=dict)
    """Parameter names in lower case; values as sent (unquoted)."""

    @property
    def is_json(self) -> bool:
        """``application/json`` or a ``+json`` type of ``application``."""
        return self.type == "application/json" or (
            self.type.startswith("application/") and self.type.endswith("+json")
        )


def parse_media_type(value: str | None) -> MediaType:
    """The media type of a ``Content-Type`` header; :class:`MediaTypeInvalid` if malformed."""
    if not value:
        raise MediaTypeInvalid("the request has no Content-Type")
    if len(value) > MAX_MEDIA_TYPE_CHARS:
        raise MediaTypeInvalid(f"the Content-Type is longer than {MAX_MEDIA_TYPE_CHARS} characters")
    match = _TYPE.match(value)
    if match is None:
        raise MediaTypeInvalid(f"the Content-Type {value[:80]!r} is not a media type")
    parameters: dict[str, str] = {}
    position = match.end()
    while position < len(value):
        parameter = _PARAMETER.match(value, position)
        if parameter is None:
            raise MediaTypeInvalid(f"the Content-Type {value[:80]!r} has a malformed parameter")
        name = parameter.group(1).lower()
        if name in parameters:
            raise MediaTypeInvalid(f"the Content-Type names the parameter {name!r} twice")
        quoted = parameter.group(3)
        parameters[name] = parameter.group(2) if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
        position = parameter.end()
    return MediaType(f"{match.group(1)}/{match.group(2)}".lower(), parameters)
