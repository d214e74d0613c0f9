"""The Prometheus text exposition (format 0.0.4) of what the exporter serves
(:class:`readmodels.exposition.Exposition`): metric names, help, labels and units, in one table.

Every per-deployment series carries the same six labels (``deployment``, ``service``, ``provider``,
``region``, ``model_version``, ``role``), so a query can filter or group by any of them without a join.
Written here rather than through prometheus_client's ``generate_latest``: with six labels on every series,
that re-escapes and formats each label of each sample, 0.3 s for 1,000 deployments; building each
deployment's label set once, and each family's lines in one comprehension, makes the page several times
cheaper (bench/exporter_scrape.py). ``promtool check metrics`` passes on the output (tests).

Series per deployment (docs/integrations.md, "Cardinality"): 24 at most, plus one per advice kind, per
quality metric and two per shown drift signal (at most ``drift_signals_bound``, the most flagged first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from readmodels.exposition import DeploymentExposition, Exposition
from readmodels.exposition_kept import CAUSES, WINDOW_TOPIC

LABELS = ("deployment", "service", "provider", "region", "model_version", "role")
PARTS = ("window", "figures", "drift", "alerts", "sources", "alert_job")
# What each kept part is called in inferwatch_numbers_timestamp_seconds{numbers=...}.
AS_OF_NAMES = {"window": "overview", WINDOW_TOPIC: "figures", "advice": "advice", "quality": "quality",
               "alert_job": "alert_job"}

Sample = tuple[str, float]  # (extra labels, already escaped and comma-led; value)
Scalar = Callable[[DeploymentExposition], float | None]
Samples = Callable[[DeploymentExposition], Iterable[Sample]]


@dataclass(frozen=True, slots=True)
class Family:
    """A per-deployment family: one value per deployment (``value``), or several with more labels."""

    name: str
    help: str
    value: Scalar | None = None
    samples: Samples | None = None


@lru_cache(maxsize=65_536)  # label values repeat on every scrape (names from the configuration), and are bounded
def escape(value: str) -> str:
    """A label value as the text format wants it."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labelled(label: str, values: Mapping[str, float]) -> Iterator[Sample]:
    for key, value in sorted(values.items()):
        yield f',{label}="{escape(key)}"', value


def _latency(d: DeploymentExposition) -> Iterator[Sample]:
    for percentile, ms in (("50", d.p50_ms), ("95", d.p95_ms), ("99", d.p99_ms)):
        if ms is not None:
            yield f',percentile="{percentile}"', ms / 1000


def _errors(window_s: int) -> Samples:
    def samples(d: DeploymentExposition) -> Iterator[Sample]:
        for cause in CAUSES:
            count = d.figures.get(f"{cause}_count")
            if count is not None:
                yield f',cause="{cause}"', count / window_s
    return samples


def _drift(field: str) -> Samples:
    def samples(d: DeploymentExposition) -> Iterator[Sample]:
        for s in d.drift_signals:
            yield (f',signal="{escape(s.signal)}",check="{escape(s.check)}",statistic="{escape(s.statistic)}"'
                   f',status="{escape(s.status)}"'), getattr(s, field)
    return samples


def _per_s(name: str, window_s: int) -> Scalar:
    def value(d: DeploymentExposition) -> float | None:
        count = d.figures.get(name)
        return None if count is None else count / window_s
    return value


def _figure(name: str) -> Scalar:
    return lambda d: d.figures.get(name)


def deployment_families(window_s: int) -> list[Family]:
    """Every per-deployment family, in the order served."""
    window = f"over the last {window_s // 60} minutes as of the last collection round"
    return [
        Family("inferwatch_deployment_info", "A deployment Inferwatch watches (always 1).", lambda d: 1.0),
        Family("inferwatch_deployment_health", "Health as on the Overview (always 1; health: ok, warn, bad, no_data).",
               samples=lambda d: ((f',health="{d.health}"', 1.0),)),
        Family("inferwatch_latency_seconds", f"Invocation-weighted latency percentile (percentile: 50, 95, 99) "
                                             f"{window}.", samples=_latency),
        Family("inferwatch_latency_slo_p99_seconds", "The deployment's p99 latency SLO.",
               lambda d: d.slo_p99_ms / 1000),
        Family("inferwatch_requests_per_second", f"Invocations per second {window}.",
               lambda d: d.invocations / window_s),
        Family("inferwatch_predictions_per_second", f"Predictions (rows) per second {window}.",
               lambda d: d.predictions / window_s),
        Family("inferwatch_error_ratio", f"Server errors, timeouts and degraded answers over invocations {window}.",
               lambda d: d.error_rate),
        Family("inferwatch_errors_per_second", f"Errors per second by cause {window} (an oom_kill is also a "
                                               "server_error; client_error is the caller's).",
               samples=_errors(window_s)),
        Family("inferwatch_cold_start_ratio", f"Cold starts over invocations {window}.", lambda d: d.cold_start_rate),
        Family("inferwatch_throttles_per_second", f"Throttled requests per second {window}.",
               _per_s("throttles_count", window_s)),
        Family("inferwatch_concurrency_max", f"Peak concurrent executions {window}.", _figure("concurrency_max")),
        Family("inferwatch_warm_capacity", "Warm capacity kept: provisioned concurrency or minimum instances.",
               _figure("warm_capacity")),
        Family("inferwatch_warm_capacity_utilization_ratio", f"Mean utilisation of the warm capacity {window}.",
               _figure("warm_utilization_ratio")),
        Family("inferwatch_cost_per_1k_predictions_usd", f"Estimated cost per 1,000 predictions {window}.",
               lambda d: d.cost_per_1k_usd),
        Family("inferwatch_cost_per_hour_usd", f"Estimated cost per hour at the rate {window}.",
               lambda d: d.cost_per_hour_usd),
        Family("inferwatch_drift_status", "Drift decided by the last round (always 1; status: ok, warn, drift, "
                                          "no_data).",
               samples=lambda d: ((f',status="{escape(d.drift_status)}"', 1.0),)),
        Family("inferwatch_drift_flagged_signals", "Signals at warn or drift in the newest drift window.",
               lambda d: d.drift_flagged),
        Family("inferwatch_drift_signal_effect", "Effect of a flagged drift signal (the most flagged few per "
                                                 "deployment).", samples=_drift("effect")),
        Family("inferwatch_drift_signal_threshold", "Threshold the effect of that signal is compared with.",
               samples=_drift("threshold")),
        Family("inferwatch_alerts_firing", "Alerts firing about the deployment.", lambda d: d.firing_alerts),
        Family("inferwatch_advice_savings_usd_per_month", "Monthly saving of each kind of advice over the last week "
                                                          "(negative: costs more, e.g. more warm capacity).",
               samples=lambda d: _labelled("kind", d.advice_savings_usd)),
        Family("inferwatch_quality_estimate", "Estimated model quality by metric (empty until quality estimates are "
                                              "kept).", samples=lambda d: _labelled("metric", d.quality)),
    ]


def _base_labels(d: DeploymentExposition) -> str:
    return _label_set(d.deployment, d.service, d.provider, d.region, d.model_version, d.role)


@lru_cache(maxsize=65_536)  # the same deployments on every page
def _label_set(*values: str) -> str:
    return ",".join(f'{k}="{escape(v)}"' for k, v in zip(LABELS, values, strict=True))


def _family(out: list[str], name: str, help_text: str, kind: str = "gauge") -> None:
    out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")


def render_exposition(exp: Exposition) -> str:
    """The text of every Inferwatch family (the exporter's own process metrics are added apart)."""
    out: list[str] = []
    bases = [(d, _base_labels(d)) for d in exp.deployments]
    for f in deployment_families(exp.window_s):
        _family(out, f.name, f.help)
        head = f.name + "{"
        # Seven significant digits (ample for rates, ratios and dollars; the read model gives no inf or nan):
        # four times faster to format than Python's shortest repr or prometheus_client's floatToGoString, and
        # the page compresses better.
        if f.value is not None:
            get = f.value
            out += [f"{head}{base}}} {v:.7g}\n" for d, base in bases if (v := get(d)) is not None]
        elif f.samples is not None:
            more = f.samples
            out += [f"{head}{base}{extra}}} {v:.7g}\n" for d, base in bases for extra, v in more(d)]
    _alerts_and_sources(out, exp)
    _exporter(out, exp)
    return "".join(out)


def _alerts_and_sources(out: list[str], exp: Exposition) -> None:
    _family(out, "inferwatch_alert", "An alert that is not ok (always 1; state: pending, firing, nodata, error).")
    out += [f'inferwatch_alert{{alertname="{escape(a.alertname)}",entity="{escape(a.entity)}",'
            f'severity="{escape(a.severity)}",state="{escape(a.state)}"}} 1.0\n' for a in exp.alerts]
    sources = [(s, f'collector="{escape(s.collector)}"') for s in exp.sources]
    _family(out, "inferwatch_collector_last_run_timestamp_seconds", "When the collector's last run finished.")
    out += [f"inferwatch_collector_last_run_timestamp_seconds{{{c}}} {s.last_run.timestamp()}\n" for s, c in sources]
    _family(out, "inferwatch_collector_last_success_timestamp_seconds",
            "When the collector's last run that was not a failure finished.")
    out += [f"inferwatch_collector_last_success_timestamp_seconds{{{c}}} {s.last_success.timestamp()}\n"
            for s, c in sources if s.last_success is not None]
    _family(out, "inferwatch_collector_consecutive_failures", "Failed runs of the collector in a row, newest first.")
    out += [f"inferwatch_collector_consecutive_failures{{{c}}} {s.consecutive_failures}\n" for s, c in sources]
    _family(out, "inferwatch_collector_state", "The collector's state (always 1; state: ok, degraded, failing).")
    out += [f'inferwatch_collector_state{{{c},state="{s.state}"}} 1.0\n' for s, c in sources]
    _family(out, "inferwatch_collector_quarantined_inputs", "Inputs the collector set aside, ever.")
    out += [f"inferwatch_collector_quarantined_inputs{{{c}}} {s.quarantined_count}\n" for s, c in sources]
    _family(out, "inferwatch_numbers_timestamp_seconds",
            "When each kept set of numbers was computed (numbers: overview, figures, advice, quality, alert_job).")
    out += [f'inferwatch_numbers_timestamp_seconds{{numbers="{AS_OF_NAMES.get(part, escape(part))}"}} '
            f"{at.timestamp()}\n" for part, at in sorted(exp.as_of.items())]


def _exporter(out: list[str], exp: Exposition) -> None:
    _family(out, "inferwatch_window_seconds", "The window the per-deployment rates and ratios are over.")
    out.append(f"inferwatch_window_seconds {exp.window_s}\n")
    _family(out, "inferwatch_exporter_store_up", "1 when the store answered this scrape, else 0.")
    out.append(f"inferwatch_exporter_store_up {int(exp.store_up)}\n")
    _family(out, "inferwatch_exporter_part_up", "1 when this part of the kept numbers could be read, else 0.")
    out += [f'inferwatch_exporter_part_up{{part="{part}"}} '
            f"{int(part not in exp.unavailable and exp.store_up)}\n" for part in PARTS]
    _family(out, "inferwatch_exporter_deployments", "Deployments served.")
    out.append(f"inferwatch_exporter_deployments {len(exp.deployments)}\n")
    _family(out, "inferwatch_exporter_drift_signals_bound", "At most this many drift signals per deployment.")
    out.append(f"inferwatch_exporter_drift_signals_bound {exp.drift_signals_bound}\n")
