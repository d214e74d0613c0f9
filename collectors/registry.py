"""Every provider, by name: factories that build the collectors for the configured deployments.

Cloud SDKs are imported inside the factories, so commands that never touch a cloud never pay
for importing boto3 or the Google clients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from collectors.base import Collector, CollectorContext
from inferwatch.config import Settings

ProviderFactory = Callable[[Settings, CollectorContext], Sequence[Collector]]


def _local(settings: Settings, ctx: CollectorContext) -> Sequence[Collector]:
    from collectors.local import from_settings

    return from_settings(settings, ctx)


def _aws(settings: Settings, ctx: CollectorContext) -> Sequence[Collector]:
    from collectors.aws import from_settings

    return from_settings(settings, ctx)


def _gcp(settings: Settings, ctx: CollectorContext) -> Sequence[Collector]:
    from collectors.gcp import from_settings

    return from_settings(settings, ctx)


PROVIDERS: dict[str, ProviderFactory] = {"local": _local, "aws": _aws, "gcp": _gcp}


def build_collectors(settings: Settings, ctx: CollectorContext) -> list[Collector]:
    """The collectors for every provider that has at least one configured deployment."""
    out: list[Collector] = []
    for provider, factory in PROVIDERS.items():
        if settings.of_provider(provider):
            out.extend(factory(settings, ctx))
    return out
