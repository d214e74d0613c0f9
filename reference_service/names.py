"""The rule for names that become file names, deployment ids and metric dimensions on the function side
(deployment, service, model version, instance id).

A name is 1-64 letters, digits, '_' or '-', starting with a letter or digit. So it can never climb out
of a folder (no '/', no '..'), never hides a file (no leading '.'), and never holds the '.' that
separates an instance id from the rotation number in ``<instance_id>.<n>.jsonl``, nor the ':' that
separates the parts of a deployment id. Every cloud's function and service names fit the rule. An
instance id (``<deployment>-<pid>-<suffix>``) follows the same rule with room for its suffix.

The shell (``inferwatch.names``) keeps its own copy, since this package imports nothing of the rest;
a test checks that both accept and refuse exactly the same names.
"""

from __future__ import annotations

import re

NAME_MAX_CHARS = 64
INSTANCE_ID_MAX_CHARS = NAME_MAX_CHARS + 32
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def name_rule(max_chars: int = NAME_MAX_CHARS) -> str:
    return f"1-{max_chars} letters, digits, '_' or '-', starting with a letter or digit"


def name_problem(value: object, *, max_chars: int = NAME_MAX_CHARS) -> str | None:
    """Why ``value`` cannot be a name, or None when it can."""
    if not isinstance(value, str) or len(value) > max_chars or _NAME.fullmatch(value) is None:
        return f"{value!r} is not a valid name: use {name_rule(max_chars)}"
    return None
