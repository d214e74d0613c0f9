"""`inferwatch config check`: each provider module answers with ``check(settings, ctx)``."""

from __future__ import annotations

import importlib

from collectors.base import CollectorContext, ProviderCheck
from inferwatch.runtime import Runtime

CHECK_MODULES = {"local": "collectors.local", "aws": "collectors.aws", "gcp": "collectors.gcp"}


def check_providers(rt: Runtime) -> list[ProviderCheck]:
    ctx = CollectorContext(home=rt.home, env=rt.env)
    out: list[ProviderCheck] = []
    for provider, module_name in CHECK_MODULES.items():
        if not rt.settings.of_provider(provider):
            continue
        module = importlib.import_module(module_name)
        try:
            out.extend(module.check(rt.settings, ctx))
        except Exception as exc:  # noqa: BLE001  a check must report, never crash the command
            out.append(ProviderCheck(provider, "-", False, f"check failed: {type(exc).__name__}: {exc}"))
    return out
