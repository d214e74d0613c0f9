"""Any line of the function side, told apart and parsed by the one parser of its kind (docs/telemetry.md):

- an object with ``_aws`` is EMF: Inferwatch's invocation contract when it has ``Schema`` or ``Status``
  (:mod:`collectors.local_telemetry`), else a line of another tool (:mod:`collectors.emf_tools`);
- an object with ``kind``/``schema`` and no ``_aws`` is a probe's window line (:mod:`collectors.window_lines`);
- anything else raises :class:`TelemetryLineError` (not EMF).

The local collector and `inferwatch telemetry validate` both read lines through :func:`read_line`, so a
line is accepted, refused and explained the same way by both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collectors.emf_tools import ColdStartOnly, NothingUsable, read_tool_line
from collectors.local_telemetry import (
    TelemetryLineError,
    TelemetryRecord,
    decode_line,
    is_invocation_contract,
    parse_invocation,
)
from collectors.window_lines import WindowLine, parse_window_line

__all__ = ["ColdStartOnly", "Invocations", "NothingUsable", "ParsedLine", "kind_of", "line_kind", "read_line"]


@dataclass(frozen=True, slots=True)
class Invocations:
    """The invocations one EMF line records: one for Inferwatch's lines, one per latency value for
    another tool's (``from_tool``)."""

    records: tuple[TelemetryRecord, ...]
    from_tool: bool = False


ParsedLine = Invocations | WindowLine | ColdStartOnly | NothingUsable


def line_kind(doc: Mapping[str, Any]) -> str:
    """What a line's object claims to be: ``invocation``, ``window``, ``third-party EMF`` or ``not EMF``."""
    if "_aws" not in doc and ("kind" in doc or "schema" in doc):
        return "window"
    if not isinstance(doc.get("_aws"), dict):
        return "not EMF"
    return "invocation" if is_invocation_contract(doc) else "third-party EMF"


def read_line(line: str | bytes) -> ParsedLine:
    """One line -> what it holds, or :class:`TelemetryLineError` naming every member at fault."""
    return read_object(decode_line(line))


def read_object(doc: Mapping[str, Any]) -> ParsedLine:
    """:func:`read_line` for a line already decoded."""
    kind = line_kind(doc)
    if kind == "window":
        return parse_window_line(doc)
    if kind == "not EMF":
        raise TelemetryLineError("missing _aws metadata: neither an EMF line nor a window line (kind 'window')",
                                 field="_aws")
    if kind == "invocation":
        return Invocations((parse_invocation(doc),))
    found = read_tool_line(doc)
    return Invocations(found, from_tool=True) if isinstance(found, tuple) else found


def kind_of(parsed: ParsedLine) -> str:
    """``invocation``, ``window`` or ``third-party EMF`` (what `telemetry validate` prints)."""
    if isinstance(parsed, WindowLine):
        return "window"
    if isinstance(parsed, Invocations) and not parsed.from_tool:
        return "invocation"
    return "third-party EMF"
