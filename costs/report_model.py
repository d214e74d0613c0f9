"""The weekly report's records: the ISO week, one row per deployment, the report itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from costs.advice_model import Advice
from costs.errors import ReportInputError
from costs.per_prediction import CostWindow
from costs.pricing import CostBreakdown

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, slots=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, label: str) -> IsoWeek:
        """``2026-W47`` -> IsoWeek; errors name the ``week`` field."""
        match = _WEEK.match(label.strip())
        if not match:
            raise ReportInputError(f"week {label!r} is not of the form YYYY-Www (e.g. 2026-W47)", field="week")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise ReportInputError(f"week {label!r} does not exist: {exc}", field="week") from exc
        return cls(year, week)

    @classmethod
    def containing(cls, ts: datetime) -> IsoWeek:
        iso = ts.astimezone(UTC).isocalendar()
        return cls(iso.year, iso.week)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> datetime:
        return datetime.combine(date.fromisocalendar(self.year, self.week, 1), datetime.min.time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=7)

    def previous(self) -> IsoWeek:
        return IsoWeek.containing(self.start - timedelta(days=1))


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One deployment's week."""

    deployment: str
    name: str
    provider: str
    region: str
    service: str
    model_version: str
    cost: CostBreakdown
    prev_cost_usd: float | None  # None: no data the week before
    predictions: float
    invocations: float
    days_with_data: int
    billed_usd: float | None  # from billing records, where collected
    status: str  # ok | new | partial | removed
    top_advice: str
    top_saving_usd: float  # per month

    @property
    def cost_usd(self) -> float:
        return self.cost.total_usd

    @property
    def delta_usd(self) -> float | None:
        return None if self.prev_cost_usd is None else self.cost_usd - self.prev_cost_usd

    @property
    def delta_pct(self) -> float | None:
        """None when the previous week cost nothing (a new deployment is not an infinite change)."""
        if self.prev_cost_usd is None or self.prev_cost_usd <= 0:
            return None
        return 100.0 * (self.cost_usd - self.prev_cost_usd) / self.prev_cost_usd

    @property
    def cost_per_1k_usd(self) -> float | None:
        return 1000.0 * self.cost_usd / self.predictions if self.predictions > 0 else None

    @property
    def gap_usd(self) -> float | None:
        return None if self.billed_usd is None else self.billed_usd - self.cost_usd


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    week: IsoWeek
    rows: tuple[ReportRow, ...]
    daily: tuple[CostWindow, ...]  # per deployment per day
    advice: tuple[Advice, ...]
    unpriced: tuple[tuple[str, str], ...]
    sources: tuple[tuple[str, str, str], ...]  # (service, price source URL, checked date)

    @property
    def is_empty(self) -> bool:
        return not self.rows

    @property
    def total_usd(self) -> float:
        return sum(r.cost_usd for r in self.rows)

    @property
    def prev_total_usd(self) -> float:
        return sum(r.prev_cost_usd or 0.0 for r in self.rows)

    @property
    def total_predictions(self) -> float:
        return sum(r.predictions for r in self.rows)

    @property
    def total_idle_usd(self) -> float:
        return sum(r.cost.idle_usd for r in self.rows)

    def share_pct(self, row: ReportRow) -> float | None:
        return 100.0 * row.cost_usd / self.total_usd if self.total_usd > 0 else None

    @property
    def stem(self) -> str:
        return f"inferwatch-cost-{self.week.label}"
