"""Price catalogues as data and the cost formulas that use them.

The list prices live in ``costs/catalogues/*.json`` with their source URL and the date they were
checked; ``[prices]`` in inferwatch.toml overrides any field (deep-merged, then validated, errors name
the field). The formulas here are plain arithmetic over usage quantities so that each one can be
checked by hand against the published price pages.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from costs.errors import PriceCatalogueError, UnknownPriceError
from costs.formulas import CostArrays, cloud_run_cost_arrays, lambda_cost_arrays

SECONDS_PER_MONTH = 730 * 3600  # AWS and Google both price a month as 730 hours
MB_PER_GB = 1024  # Lambda's GB-second and Cloud Run's GiB-second both use 1024 MB
ARCHITECTURES = ("x86_64", "arm64")
BILLING_MODES = ("request", "instance")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # a price of inf is no price


class DurationTier(_Model):
    up_to_gb_s: float | None = Field(None, gt=0)  # cumulative monthly GB-s; None = no upper bound
    usd_per_gb_s: float = Field(ge=0)


class LambdaArchPrices(_Model):
    request_usd_per_million: float = Field(ge=0)
    duration_tiers: tuple[DurationTier, ...] = Field(min_length=1)
    provisioned_usd_per_gb_s: float = Field(ge=0)
    provisioned_duration_usd_per_gb_s: float = Field(ge=0)
    ephemeral_storage_usd_per_gb_s: float = Field(ge=0)

    @model_validator(mode="after")
    def _tiers_ascend(self) -> LambdaArchPrices:
        bounds = [t.up_to_gb_s for t in self.duration_tiers]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError("only the last duration tier may (and must) have up_to_gb_s = null")
        finite = [b for b in bounds if b is not None]
        if finite != sorted(finite) or len(set(finite)) != len(finite):
            raise ValueError("duration tiers must have strictly ascending up_to_gb_s")
        return self

    @property
    def duration_usd_per_gb_s(self) -> float:
        """The first-tier rate: the marginal price of a function below the volume discounts."""
        return self.duration_tiers[0].usd_per_gb_s


class LambdaFreeTier(_Model):
    requests_per_month: float = Field(ge=0)
    gb_s_per_month: float = Field(ge=0)


class LambdaRounding(_Model):
    duration_ms: int = Field(ge=1)
    provisioned_s: int = Field(ge=1)


class InitBilling(_Model):
    """Since ``billed_since`` (2025-08-01) Lambda bills the INIT phase of every configuration, and
    REPORT's ``Billed Duration`` includes it. Before, an on-demand function packaged as a ZIP on a
    managed runtime initialised for free."""

    billed_since: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    source_url: str = Field(pattern="^https://")

    @property
    def billed_since_s(self) -> int:
        """``billed_since`` as epoch seconds (00:00 UTC)."""
        return int(datetime.combine(date.fromisoformat(self.billed_since), time(), tzinfo=UTC).timestamp())


class LambdaCatalogue(_Model):
    provider: str
    service: str
    currency: str = Field(pattern="^USD$")
    source_url: str = Field(pattern="^https://")
    checked_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    notes: str = ""
    default_region: str
    architectures: dict[str, LambdaArchPrices]
    free_tier: LambdaFreeTier
    rounding: LambdaRounding
    included_ephemeral_storage_mb: int = Field(ge=0)
    init_billing: InitBilling
    regions: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _both_architectures(self) -> LambdaCatalogue:
        missing = [a for a in ARCHITECTURES if a not in self.architectures]
        if missing:
            raise ValueError(f"architectures must price {', '.join(missing)}")
        return self


class CloudRunRates(_Model):
    vcpu_usd_per_s: float = Field(ge=0)
    gib_usd_per_s: float = Field(ge=0)
    request_usd_per_million: float = Field(0.0, ge=0)


class CloudRunTier(_Model):
    request_based: CloudRunRates
    idle_min_instance: CloudRunRates
    instance_based: CloudRunRates


class CloudRunFree(_Model):
    vcpu_s_per_month: float = Field(ge=0)
    gib_s_per_month: float = Field(ge=0)
    requests_per_month: float = Field(ge=0)


class CloudRunCatalogue(_Model):
    provider: str
    service: str
    currency: str = Field(pattern="^USD$")
    source_url: str = Field(pattern="^https://")
    checked_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    notes: str = ""
    tiers: dict[str, CloudRunTier]
    tier1_regions: tuple[str, ...]
    free_tier: dict[str, CloudRunFree]
    rounding: dict[str, int]
    default_vcpu: float = Field(gt=0)

    @model_validator(mode="after")
    def _both_tiers(self) -> CloudRunCatalogue:
        if not {"tier1", "tier2"} <= set(self.tiers):
            raise ValueError("tiers must contain tier1 and tier2")
        return self


class PriceCatalogue(_Model):
    """Both providers' list prices. Local emulated deployments are priced as the Lambda function they
    emulate (same memory and architecture) in ``aws_lambda.default_region``."""

    aws_lambda: LambdaCatalogue
    gcp_cloud_run: CloudRunCatalogue

    def lambda_prices(self, architecture: str, region: str | None = None) -> LambdaArchPrices:
        if architecture not in self.aws_lambda.architectures:
            raise UnknownPriceError(f"no Lambda price for architecture {architecture!r} (known: "
                                    f"{', '.join(sorted(self.aws_lambda.architectures))})",
                                    provider="aws", key=architecture)
        base = self.aws_lambda.architectures[architecture]
        override = self.aws_lambda.regions.get(region or "", {}).get(architecture)
        if not override:
            return base
        return LambdaArchPrices.model_validate({**base.model_dump(), **override})

    def cloud_run_tier(self, region: str) -> CloudRunTier:
        tier = "tier1" if region in self.gcp_cloud_run.tier1_regions else "tier2"
        return self.gcp_cloud_run.tiers[tier]

    @property
    def sources(self) -> tuple[tuple[str, str, str], ...]:
        """(service, source URL, checked date) of every price table, for reports."""
        return tuple((c.service, c.source_url, c.checked_date) for c in (self.aws_lambda, self.gcp_cloud_run))


_FILES = {"aws_lambda": "aws_lambda.json", "gcp_cloud_run": "gcp_cloud_run.json"}


def load_catalogue(overrides: Mapping[str, Any] | None = None) -> PriceCatalogue:
    """The packaged price catalogue with ``overrides`` (the ``[prices]`` table) deep-merged over it.

    Parameters
    ----------
    overrides
        The raw ``[prices]`` table of inferwatch.toml: ``aws_lambda`` and/or ``gcp_cloud_run`` sections
        shaped like the JSON catalogues.

    Returns
    -------
    PriceCatalogue
        The validated catalogue.

    Raises
    ------
    PriceCatalogueError
        When a key is unknown or a value is invalid; ``field`` is its dotted path under ``prices``.
    """
    raw: dict[str, Any] = {}
    for key, filename in _FILES.items():
        text = resources.files("costs").joinpath("catalogues", filename).read_text(encoding="utf-8")
        raw[key] = json.loads(text)
    for key, value in (overrides or {}).items():
        if key not in _FILES:
            raise PriceCatalogueError(f"prices.{key}: unknown price table (known: {', '.join(_FILES)})",
                                      field=f"prices.{key}")
        if not isinstance(value, Mapping):
            raise PriceCatalogueError(f"prices.{key}: must be a table", field=f"prices.{key}")
        raw[key] = _deep_merge(raw[key], value)
    try:
        catalogue = PriceCatalogue.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "prices" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise PriceCatalogueError(f"{field}: {first['msg']}", field=field) from exc
    for region, archs in catalogue.aws_lambda.regions.items():
        for arch in archs:
            try:
                catalogue.lambda_prices(arch, region)
            except (ValidationError, UnknownPriceError) as exc:
                field = f"prices.aws_lambda.regions.{region}.{arch}"
                raise PriceCatalogueError(f"{field}: {exc}", field=field) from exc
    return catalogue


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost of one deployment over one period, split by what it pays for (USD)."""

    request_usd: float = 0.0  # per-request fees
    compute_usd: float = 0.0  # duration (Lambda) or instance time while serving (Cloud Run)
    init_usd: float = 0.0  # billed initialisation (Lambda on-demand cold starts)
    warm_capacity_usd: float = 0.0  # provisioned concurrency or idle min instances, used or not
    idle_usd: float = 0.0  # the part of warm_capacity_usd that served nothing (included above)
    restore_usd: float = 0.0  # billed SnapStart restore time (Lambda cold starts of the other kind)

    @property
    def total_usd(self) -> float:
        return self.request_usd + self.compute_usd + self.init_usd + self.restore_usd + self.warm_capacity_usd

    def __add__(self, other: CostBreakdown) -> CostBreakdown:
        return CostBreakdown(self.request_usd + other.request_usd, self.compute_usd + other.compute_usd,
                             self.init_usd + other.init_usd, self.warm_capacity_usd + other.warm_capacity_usd,
                             self.idle_usd + other.idle_usd, self.restore_usd + other.restore_usd)


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def breakdown(arrays: CostArrays) -> CostBreakdown:
    """The components of ``arrays`` summed over their steps."""
    return CostBreakdown(float(arrays.request.sum()), float(arrays.compute.sum()), float(arrays.init.sum()),
                         float(arrays.warm_capacity.sum()), float(arrays.idle.sum()), float(arrays.restore.sum()))


def lambda_cost(
    prices: LambdaArchPrices,
    *,
    memory_mb: float,
    invocations: float,
    billed_duration_ms: float,
    init_ms: float = 0.0,
    restore_ms: float = 0.0,
    provisioned_concurrency: float = 0.0,
    period_s: float = 0.0,
    provisioned_share: float = 0.0,
    provisioned_utilization: float | None = None,
) -> CostBreakdown:
    """Cost of a Lambda function (one version or alias) over a period, at first-tier list prices.

    Parameters
    ----------
    prices
        The architecture's (and region's) prices.
    memory_mb
        Configured memory.
    invocations
        Billed requests.
    billed_duration_ms
        Billed duration summed over the invocations, the billed init time excluded.
    init_ms
        Billed initialisation time summed over on-demand cold starts.
    restore_ms
        Billed restore time summed over SnapStart restores.
    provisioned_concurrency
        Configured provisioned concurrency during the period.
    period_s
        Length of the period (what provisioned concurrency is billed for).
    provisioned_share
        Share (0..1) of the invocations served by provisioned concurrency (the rest spilled over).
    provisioned_utilization
        Average utilisation (0..1) of the provisioned concurrency; sets ``idle_usd``.

    Returns
    -------
    CostBreakdown

    Raises
    ------
    ValueError
        When a quantity is negative or not finite, or a share is outside 0..1.
    """
    return breakdown(lambda_cost_arrays(
        prices, memory_mb=memory_mb, invocations=invocations, billed_duration_ms=billed_duration_ms,
        init_ms=init_ms, restore_ms=restore_ms, provisioned_concurrency=provisioned_concurrency, period_s=period_s,
        provisioned_share=provisioned_share, provisioned_utilization=provisioned_utilization))


def lambda_monthly_duration_usd(prices: LambdaArchPrices, gb_s_per_month: float) -> float:
    """On-demand duration cost of a month's GB-seconds across the volume tiers (account-wide)."""
    _check_non_negative(gb_s_per_month=gb_s_per_month)
    total, lower = 0.0, 0.0
    for tier in prices.duration_tiers:
        upper = math.inf if tier.up_to_gb_s is None else tier.up_to_gb_s
        if gb_s_per_month <= lower:
            break
        total += (min(gb_s_per_month, upper) - lower) * tier.usd_per_gb_s
        lower = upper
    return total


def cloud_run_cost(
    tier: CloudRunTier,
    *,
    billing_mode: str,
    vcpu: float,
    memory_mb: float,
    requests: float,
    serving_instance_s: float,
    idle_instance_s: float = 0.0,
) -> CostBreakdown:
    """Cost of a Cloud Run service or revision over a period.

    Parameters
    ----------
    tier
        The region's price tier.
    billing_mode
        ``request`` (billed while starting, serving and stopping, plus idle min instances at the idle
        rate, plus request fees) or ``instance`` (billed for the whole instance lifetime, no request fee).
    vcpu
        vCPUs per instance.
    memory_mb
        Memory per instance (MiB; priced per GiB-second).
    requests
        Requests served.
    serving_instance_s
        Instance-seconds spent serving (Cloud Run's billable instance time in request-based mode).
    idle_instance_s
        Instance-seconds kept warm without serving (min instances).

    Returns
    -------
    CostBreakdown

    Raises
    ------
    ValueError
        When a quantity is negative or not finite, or the billing mode is unknown.
    """
    return breakdown(cloud_run_cost_arrays(
        tier, billing_mode=billing_mode, vcpu=vcpu, memory_mb=memory_mb, requests=requests,
        serving_instance_s=serving_instance_s, idle_instance_s=idle_instance_s))


def provisioned_monthly_usd(prices: LambdaArchPrices, *, level: float, memory_mb: float) -> float:
    """What ``level`` provisioned environments of ``memory_mb`` cost per month, used or not."""
    return level * memory_mb / MB_PER_GB * SECONDS_PER_MONTH * prices.provisioned_usd_per_gb_s


def min_instance_monthly_usd(tier: CloudRunTier, *, billing_mode: str, vcpu: float, memory_mb: float) -> float:
    """What one idle Cloud Run min instance costs per month."""
    return cloud_run_cost(tier, billing_mode=billing_mode, vcpu=vcpu, memory_mb=memory_mb, requests=0.0,
                          serving_instance_s=0.0, idle_instance_s=SECONDS_PER_MONTH).warm_capacity_usd
