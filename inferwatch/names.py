"""The one rule for names that become file names, deployment ids and metric dimensions: deployments,
services, model versions, Lambda functions and aliases, Cloud Run services, regions.

A name is 1-64 letters, digits, '_' or '-', starting with a letter or digit: it cannot climb out of a
folder ('/', '..'), hide a file (a leading '.'), break the ':' of ``provider:region:name`` ids, or
hold the '.' that ends an instance id in a telemetry file name (``<deployment>-<pid>-<n>.jsonl``).

The function side (``reference_service/names.py``) ships alone and keeps its own copy of this rule;
``tests/inferwatch/test_names.py`` checks that both accept and refuse exactly the same names.
"""

from __future__ import annotations

import re

from inferwatch.errors import InvalidNameError

NAME_MAX_CHARS = 64
NAME_RULE = f"1-{NAME_MAX_CHARS} letters, digits, '_' or '-', starting with a letter or digit"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def name_problem(value: object) -> str | None:
    """Why ``value`` cannot be a name, or None when it can."""
    if not isinstance(value, str) or len(value) > NAME_MAX_CHARS or _NAME.fullmatch(value) is None:
        return f"{value!r} is not a valid name: use {NAME_RULE}"
    return None


def check_name(field: str, value: str) -> str:
    """``value`` when it is a valid name; else InvalidNameError naming ``field``."""
    problem = name_problem(value)
    if problem:
        raise InvalidNameError(f"{field}: {problem}", field=field, value=value)
    return value
