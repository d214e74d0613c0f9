"""Every provider, once: how to build its collectors for the configured deployments and how to check
that it can collect (``inferwatch config check``). A meta-test checks that every provider module is here.

The cloud providers' modules are imported by their own two functions, not at the top of this file: the
Google clients take about a second to import and boto3 a few tenths, and commands that touch no cloud
(or only one) should not pay for the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from collectors import local
from collectors.base import Collector, CollectorContext, ProviderCheck
from inferwatch.config import Settings
from inferwatch.schema import Provider as ProviderName


@dataclass(frozen=True, slots=True)
class Provider:
    """A source of records: its collectors for the configured deployments, and its ``config check``."""

    name: ProviderName
    from_settings: Callable[[Settings, CollectorContext], Sequence[Collector]]
    check: Callable[[Settings, CollectorContext], Sequence[ProviderCheck]]


def _aws_collectors(settings: Settings, ctx: CollectorContext) -> Sequence[Collector]:
    from collectors import aws  # boto3: only when AWS deployments are configured

    return aws.from_settings(settings, ctx)


def _aws_check(settings: Settings, ctx: CollectorContext) -> Sequence[ProviderCheck]:
    from collectors import aws  # boto3: only when AWS deployments are configured

    return aws.check(settings, ctx)


def _gcp_collectors(settings: Settings, ctx: CollectorContext) -> Sequence[Collector]:
    from collectors import gcp  # Google clients: ~1 s to import, only when GCP is configured

    return gcp.from_settings(settings, ctx)


def _gcp_check(settings: Settings, ctx: CollectorContext) -> Sequence[ProviderCheck]:
    from collectors import gcp  # Google clients: ~1 s to import, only when GCP is configured

    return gcp.check(settings, ctx)


PROVIDERS: dict[ProviderName, Provider] = {
    ProviderName.LOCAL: Provider(ProviderName.LOCAL, local.from_settings, local.check),
    ProviderName.AWS: Provider(ProviderName.AWS, _aws_collectors, _aws_check),
    ProviderName.GCP: Provider(ProviderName.GCP, _gcp_collectors, _gcp_check),
}


def build_collectors(settings: Settings, ctx: CollectorContext) -> list[Collector]:
    """The collectors of every provider that has at least one configured deployment."""
    out: list[Collector] = []
    for name, provider in PROVIDERS.items():
        if settings.of_provider(name):
            out.extend(provider.from_settings(settings, ctx))
    return out


def check_providers(settings: Settings, ctx: CollectorContext) -> list[ProviderCheck]:
    """``config check``: per configured provider, whether it can collect. A check reports, never raises."""
    out: list[ProviderCheck] = []
    for name, provider in PROVIDERS.items():
        if not settings.of_provider(name):
            continue
        try:
            out.extend(provider.check(settings, ctx))
        except Exception as exc:  # noqa: BLE001  a check must report, never crash the command
            out.append(ProviderCheck(name, "-", False, f"check failed: {type(exc).__name__}: {exc}"))
    return out
