"""Strict readers of the members of one telemetry line, shared by every parser of the function side's lines
(invocation lines, window lines, EMF from other tools), so that a member means and refuses the same thing
wherever it is read.

A :class:`FieldReader` reads member after member and *collects* what is wrong instead of stopping at the
first problem: ``check()`` then raises one :class:`TelemetryLineError` naming the first field in its message
and every field in ``problems``. The collector quarantines the line with that message; `inferwatch
telemetry validate` lists every problem. A reader that meets a problem returns a neutral value of the right
type (``""``, ``0``, ``{}``), which is never used: ``check()`` raises before a record is built.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

Problem = tuple[str, str]  # (field, what is wrong with it)


class TelemetryLineError(ValueError):
    """A line that does not follow docs/telemetry.md: ``field`` is the first member at fault, ``problems``
    every (field, message) found."""

    def __init__(self, message: str, *, field: str | None = None, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.problems: tuple[Problem, ...] = tuple(problems) or ((field or "<line>", message),)


def finite(value: object) -> float | None:
    """The value as a finite float, or None (not a number, a bool, NaN, inf, or beyond the float range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def shown(value: object, limit: int = 40) -> str:
    """A value as a message may quote it: repr (escapes NULs and odd characters), cut at ``limit``."""
    text = repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FieldReader:
    """Reads members of a line, collecting problems; ``check()`` raises them as one error."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append((field, f"{field} {message}"))

    def check(self) -> None:
        if not self.problems:
            return
        field, message = self.problems[0]
        if len(self.problems) > 1:
            others = [f for f, _ in self.problems[1:]]
            listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            message += f" (and {len(others)} more: {listed})"
        raise TelemetryLineError(message, field=field, problems=self.problems)

    def text(self, doc: Mapping[str, Any], key: str, where: str = "", *, pattern: re.Pattern[str] | None = None,
             rule: str = "a non-empty string", choices: Collection[str] | None = None,
             max_chars: int = 256) -> str:
        """A required string member (a ``pattern`` it must match, described by ``rule``, or ``choices``)."""
        value = doc.get(key)
        name = where + key
        if key not in doc:
            self.add(name, "is missing")
        elif not isinstance(value, str) or not value or len(value) > max_chars:
            self.add(name, f"must be {rule}" if pattern is not None else f"must be a string of 1-{max_chars} "
                     "characters")
        elif pattern is not None and not pattern.fullmatch(value):
            self.add(name, f"must be {rule}, got {shown(value)}")
        elif choices is not None and value not in choices:
            self.add(name, f"{shown(value)} is not one of {sorted(choices)}")
        else:
            return value
        return ""

    def opt_text(self, doc: Mapping[str, Any], key: str, where: str = "", *, pattern: re.Pattern[str] | None = None,
                 rule: str = "a string", max_chars: int = 1024) -> str | None:
        """An optional string member (may be empty): None when absent or null."""
        value = doc.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > max_chars:
            self.add(where + key, f"must be a string of at most {max_chars} characters, got {shown(value)}")
        elif value and pattern is not None and not pattern.fullmatch(value):
            self.add(where + key, f"must be {rule}, got {shown(value)}")
        else:
            return value
        return None

    def integer(self, doc: Mapping[str, Any], key: str, where: str = "", *, maximum: int = 2**53,
                default: int | None = None) -> int:
        """A JSON integer in [0, maximum] (a bool is not one); ``default`` when absent, if given."""
        name = where + key
        if key not in doc and default is not None:
            return default
        value = doc.get(key)
        if key not in doc:
            self.add(name, "is missing")
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            self.add(name, f"must be a whole number in [0, {maximum}], got {shown(value)}")
        else:
            return value
        return 0

    def number(self, doc: Mapping[str, Any], key: str, where: str = "", *, maximum: float,
               default: float | None = None, emf: bool = False) -> float:
        """A finite number in [0, maximum]; ``default`` when absent, if given. ``emf``: a one-element array
        is the number (EMF allows an array for any metric value, and Powertools always writes one)."""
        name = where + key
        if key not in doc and default is not None:
            return default
        value = doc.get(key)
        if emf and isinstance(value, list) and len(value) == 1:
            value = value[0]
        number = finite(value)
        if key not in doc:
            self.add(name, "is missing")
        elif number is None or not 0 <= number <= maximum:
            self.add(name, f"must be a finite number in [0, {maximum:g}], got {shown(value)}")
        else:
            return number
        return 0.0

    def mapping(self, doc: Mapping[str, Any], key: str, where: str = "", *, required: bool = True
                ) -> Mapping[str, Any]:
        """An object member; ``{}`` when absent and not required."""
        value = doc.get(key)
        if key not in doc and not required:
            return {}
        if key not in doc:
            self.add(where + key, "is missing")
        elif not isinstance(value, dict):
            self.add(where + key, f"must be an object, got {shown(value)}")
        else:
            return value
        return {}

    def array(self, doc: Mapping[str, Any], key: str, where: str = "", *, required: bool = True,
              max_items: int = 100_000) -> list[Any]:
        """An array member; ``[]`` when absent and not required."""
        value = doc.get(key)
        if key not in doc and not required:
            return []
        if key not in doc:
            self.add(where + key, "is missing")
        elif not isinstance(value, list) or len(value) > max_items:
            self.add(where + key, f"must be an array of at most {max_items} items, got {shown(value)}")
        else:
            return value
        return []
