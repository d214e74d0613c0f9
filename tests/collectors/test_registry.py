"""Meta-test: every provider module is in the one registry, and the registry builds collectors and
checks for exactly the providers that have deployments configured (prometheus' registry, httpx's
transports)."""

from __future__ import annotations

import ast
from pathlib import Path

from collectors.base import CollectorContext
from collectors.registry import PROVIDERS, build_collectors, check_providers
from inferwatch.config import parse_settings

COLLECTORS = Path(__file__).resolve().parents[2] / "collectors"


def _provider_modules() -> set[str]:
    """Modules defining the two functions a provider offers: ``from_settings`` and ``check``."""
    found = set()
    for path in COLLECTORS.glob("*.py"):
        names = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        if {"from_settings", "check"} <= names:
            found.add(path.stem)
    return found


def test_every_provider_module_is_registered_under_its_name() -> None:
    assert _provider_modules() == {str(name) for name in PROVIDERS} == {"local", "aws", "gcp"}


def test_only_configured_providers_are_built_and_checked(tmp_path: Path) -> None:
    settings = parse_settings({"deployments": [{"provider": "local", "name": "only-local"}]})
    ctx = CollectorContext(home=tmp_path)
    assert [c.name for c in build_collectors(settings, ctx)] == ["local"]
    assert [c.provider for c in check_providers(settings, ctx)] == ["local"]
