"""Advice: each piece names what to change, the numbers behind it, what it saves per month, what it
does to latency and cold starts, and how sure it is.

One module per kind of advice (``warm_capacity``, ``right_sizing``, ``cloud_run_advice``), over the
record and policy of :mod:`costs.advice_model`; this one runs them all (:func:`advise`) and says why
when there is no advice (:class:`AdviceResult`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from costs.advice_model import Advice, AdvicePolicy
from costs.catalogue import PriceCatalogue
from costs.cloud_run_advice import advise_cloud_run
from costs.right_sizing import advise_architecture, advise_memory, sibling_memory_options
from costs.usage import Usage
from costs.warm_capacity import advise_warm_capacity


def advise(
    usages: Sequence[Usage],
    catalogue: PriceCatalogue,
    policy: AdvicePolicy | None = None,
    *,
    memory_options: Mapping[str, Sequence[tuple[float, float, str]]] | None = None,
) -> list[Advice]:
    """All advice for the deployments' usage, biggest monthly saving first.

    Parameters
    ----------
    usages
        :class:`costs.usage.Usage` of each deployment over the same window.
    catalogue
        Prices.
    policy
        Thresholds; the defaults follow the seed's practices.
    memory_options
        Per deployment id, measured ``(memory_mb, avg_duration_ms, source)`` at other memory sizes
        (e.g. from :func:`costs.power_tuning.memory_options`); sibling deployments of the same service
        and architecture at other sizes are added automatically.

    Returns
    -------
    list of Advice
    """
    policy = policy or AdvicePolicy()
    items = list(usages)
    out: list[Advice] = []
    for u in items:
        if u.deployment.provider in ("aws", "local"):
            out += advise_warm_capacity(u, catalogue, policy)
            options = list((memory_options or {}).get(u.deployment.id, ())) + sibling_memory_options(u, items)
            out += advise_memory(u, catalogue, policy, options)
            out += advise_architecture(u, items, catalogue, policy)
        elif u.deployment.provider == "gcp":
            out += advise_cloud_run(u, catalogue, policy)
    out = [a for a in out if worth_a_line(a, policy)]
    return sorted(out, key=lambda a: (-a.monthly_saving_usd, a.deployment, a.kind))


def worth_a_line(a: Advice, policy: AdvicePolicy) -> bool:
    """Information and raises always are (they buy latency, not savings); the rest must move the
    monthly bill by at least the policy's minimum."""
    return a.action in ("info", "raise") or abs(a.monthly_saving_usd) >= policy.min_saving_usd


NO_DATA, TOO_LITTLE_DATA, BELOW_MINIMUM = "no_data", "too_little_data", "below_minimum"


@dataclass(frozen=True, slots=True)
class AdviceResult:
    """The advice over one window, or exactly why there is none."""

    start: datetime  # where the metrics begin within the window asked for (its start when there are none)
    end: datetime  # the end asked for (exclusive)
    advice: tuple[Advice, ...]
    reason: str | None  # None when there is advice, else NO_DATA, TOO_LITTLE_DATA or BELOW_MINIMUM
    explanation: str  # the reason as one sentence with its numbers ("" when there is advice)

    @property
    def observed_s(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)

    @property
    def window_label(self) -> str:
        """``2026-12-06 23:30 to 23:35 UTC (5 minutes of metrics)``."""
        last = f"{self.end:%H:%M}" if self.start.date() == self.end.date() else f"{self.end:%Y-%m-%d %H:%M}"
        held = "" if self.reason == NO_DATA else f" ({_duration(self.observed_s)} of metrics)"
        return f"{self.start:%Y-%m-%d %H:%M} to {last} UTC{held}"


def advise_window(
    usages: Sequence[Usage],
    catalogue: PriceCatalogue,
    policy: AdvicePolicy | None = None,
    *,
    start: datetime,
    end: datetime,
    memory_options: Mapping[str, Sequence[tuple[float, float, str]]] | None = None,
) -> AdviceResult:
    """:func:`advise` over the window [start, end), saying why when it has nothing to say.

    Parameters
    ----------
    usages
        Usage of each priced deployment over the window (``period_s`` = its length).
    catalogue
        Prices.
    policy
        Thresholds, including the least window worth advising on and the least saving worth a line.
    start, end
        The window: from where its metrics begin to its end.
    memory_options
        As for :func:`advise`.

    Returns
    -------
    AdviceResult
    """
    policy = policy or AdvicePolicy()
    observed_s = (end - start).total_seconds()
    if not usages:
        return AdviceResult(start, end, (), NO_DATA, "no deployment has priced metrics in the window")
    if observed_s < policy.min_observed_s:
        return AdviceResult(start, end, (), TOO_LITTLE_DATA,
                            f"the window holds {_duration(observed_s)} of metrics; advice needs at least "
                            f"{_duration(policy.min_observed_s)}")
    if sum(u.invocations for u in usages) <= 0 and not any(u.provisioned_concurrency > 0 for u in usages):
        return AdviceResult(start, end, (), TOO_LITTLE_DATA,
                            f"no deployment was invoked in the {_duration(observed_s)} of metrics")
    advice = advise(usages, catalogue, replace(policy, min_saving_usd=0.0), memory_options=memory_options)
    kept = tuple(a for a in advice if worth_a_line(a, policy))
    if kept:
        return AdviceResult(start, end, kept, None, "")
    smaller = len(advice)
    return AdviceResult(start, end, (), BELOW_MINIMUM,
                        f"nothing to change saves at least ${policy.min_saving_usd:,.2f} a month over "
                        f"{_duration(observed_s)} of metrics from {_count(len(usages), 'deployment')}"
                        + (f" ({_count(smaller, 'smaller saving')} left out)" if smaller else ""))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} seconds"


def top_advice(advice: Sequence[Advice]) -> dict[str, Advice]:
    """The advice saving the most per deployment (ties: the first in ``advice``)."""
    best: dict[str, Advice] = {}
    for a in advice:
        if a.monthly_saving_usd > 0 and (a.deployment not in best
                                         or a.monthly_saving_usd > best[a.deployment].monthly_saving_usd):
            best[a.deployment] = a
    return best
