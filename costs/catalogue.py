"""Price catalogues as data: the list prices live in ``costs/catalogues/*.json`` with their source URL and
the date they were checked; ``[prices]`` in inferwatch.toml overrides any field (deep-merged, then
validated, errors name the field). The formulas that use them are in :mod:`costs.formulas` (over arrays)
and :mod:`costs.pricing` (per deployment)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from costs.errors import PriceCatalogueError, UnknownPriceError

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
