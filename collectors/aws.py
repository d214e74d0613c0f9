"""The AWS provider: one collector per account and region, composing CloudWatch metrics
(:mod:`collectors.aws_cloudwatch`), REPORT log records (:mod:`collectors.aws_logs`), Lambda
configuration (:mod:`collectors.aws_lambda_config`) and Cost Explorer (:mod:`collectors.aws_billing`),
all through the clients and error translation of :mod:`collectors.aws_client`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from collectors import aws_cloudwatch as cw
from collectors.aws_billing import CostExplorerReader, cost_request, costs_due, fetch_costs
from collectors.aws_client import PROVIDER, AwsClients, ClientSettings, Hook, call_aws, translate_error
from collectors.aws_lambda_config import (
    ConfigCache,
    FunctionConfig,
    LambdaConfigReader,
    build_deployments,
    provisioned_points,
)
from collectors.aws_logs import LogsReader, merge_log_counts
from collectors.aws_logs import to_points as log_points
from collectors.aws_windows import (
    CLOUD_METRICS,
    REPORT_METRICS,
    FunctionLogs,
    count_window_lines,
    lambda_function_id,
    read_function_logs,
    window_points,
)
from collectors.base import BaselineLookup, CollectorContext, ProbeBinsLookup, ProviderCheck, Window, plan_window
from collectors.errors import CollectorError, ProviderAuthError, ProviderDataError
from collectors.window_merge import cloud_due, combine, cursor_time
from inferwatch.config import AwsDeploymentConfig, Settings
from inferwatch.schema import CollectionBatch, CostRecord, Deployment, HistogramPoint, MetricPoint

HISTOGRAM_STEP_S = 3600
# A function that wrote window lines this recently is still read as probe-instrumented when idle (no lines):
# its AWS/Lambda metrics then stay on their interval instead of being read every run.
PROBE_MEMORY_S = 86_400
# Per-function calls (configurations, log groups) of one unit in flight at once: with 100 functions a unit
# is hundreds of calls, each a round trip; four at a time stays far below the Lambda and Logs rate limits
# of one account and region, which the retries of collectors.aws_client absorb if ever reached.
PARALLEL_CALLS = 4
_In = TypeVar("_In")
_Out = TypeVar("_Out")


@dataclass(frozen=True, slots=True)
class _Function:
    cfg: AwsDeploymentConfig
    config: FunctionConfig
    deployments: tuple[Deployment, ...]


class AwsCollector:
    """Everything for the configured functions of one account and region, one window per run.

    The cursor is ``{"complete_until", "histograms_complete_until", "costs_fetched_at"}`` (epochs) and
    ``configs``, the functions' configurations with the time each was read (:class:`ConfigCache`); a
    window re-collected yields the same records (the store upserts them). Prediction histograms cost
    ~200 metrics per model version per call, so each hour is read once: 12x cheaper than per 5 min.
    """

    def __init__(self, name: str, clients: AwsClients, configs: Sequence[AwsDeploymentConfig], *, step_s: int,
                 lateness_s: int, lookback_s: int, baselines: BaselineLookup | None = None,
                 probe_bins: ProbeBinsLookup | None = None, cloud_metrics_interval_s: int = 0,
                 parallel_calls: int = PARALLEL_CALLS) -> None:
        self.name, self.clients, self.configs = name, clients, list(configs)
        self.step_s, self.lateness_s, self.lookback_s = step_s, lateness_s, lookback_s
        self.baselines, self.probe_bins, self.parallel_calls = baselines, probe_bins, parallel_calls
        self.cloud_metrics_interval_s = cloud_metrics_interval_s
        self._account: str | None = None

    def collect(self, now: datetime, cursor: Mapping[str, Any] | None) -> CollectionBatch:
        window = plan_window(now, cursor, step_s=self.step_s, lateness_s=self.lateness_s, lookback_s=self.lookback_s)
        warnings: list[str] = []
        configs = ConfigCache(clock=now.timestamp, state=(cursor or {}).get("configs"))
        functions = self._functions(configs, warnings)
        cloud = self._cloud_window(now, cursor, window)
        cloud_until = cloud.end if cloud is not None else cursor_time(cursor, "cloud_complete_until")
        seen = _seen(cursor, now)
        points, histograms, probed = self._telemetry(functions, window, cloud, cloud_until, seen, warnings)
        # an hour is read once, lateness_s after it ends (re-reading it would cost its ~200 metrics again)
        hist_window = plan_window(now - timedelta(seconds=self.lateness_s), _renamed(cursor,
                                                                                     "histograms_complete_until"),
                                  step_s=HISTOGRAM_STEP_S, lateness_s=0, lookback_s=max(self.lookback_s,
                                                                                        HISTOGRAM_STEP_S))
        legacy = [f for f in functions if f.cfg.function not in probed]  # window lines carry the histograms
        if hist_window.end > hist_window.start and legacy and self.baselines is not None:
            histograms += self._histograms(legacy, hist_window, warnings)
        if window.end > window.start and functions:
            steps = cw.window_steps(window.start, window.end, window.step_s)
            points += provisioned_points([d for f in functions for d in f.deployments], steps, window.step_s)
        costs, fetched_at = self._costs(now, cursor, functions, warnings)
        next_cursor: dict[str, Any] = {"complete_until": int(window.end.timestamp()), "costs_fetched_at": fetched_at,
                       "histograms_complete_until": int(hist_window.end.timestamp()),
                       "configs": configs.state(cfg.function for cfg in self.configs)}
        # when the probe-instrumented functions' AWS/Lambda metrics are complete until (none: nothing to keep)
        kept = cloud_until if probed else cursor_time(cursor, "cloud_complete_until")
        if kept is not None:
            next_cursor["cloud_complete_until"] = int(kept.timestamp())
        if seen:
            next_cursor["window_lines_seen"] = seen
        return CollectionBatch(collector=self.name, deployments=tuple(d for f in functions for d in f.deployments),
                               points=tuple(points), histograms=tuple(histograms), costs=tuple(costs),
                               cursor=next_cursor, warnings=tuple(warnings))

    def _cloud_window(self, now: datetime, cursor: Mapping[str, Any] | None, window: Window) -> Window | None:
        """The steps to read the AWS/Lambda metrics of probe-instrumented functions for, when due: at most
        every ``cloud_metrics_interval_s`` (GetMetricData is billed per metric, whatever the steps read)."""
        if not cloud_due(cursor_time(cursor, "cloud_complete_until"), window.end, self.cloud_metrics_interval_s):
            return None
        cloud = plan_window(now, _renamed(cursor, "cloud_complete_until"), step_s=self.step_s,
                            lateness_s=self.lateness_s, lookback_s=self.lookback_s)
        return cloud if cloud.end > cloud.start else None

    def _telemetry(self, functions: Sequence[_Function], window: Window, cloud: Window | None,
                   cloud_until: datetime | None, seen: dict[str, int],
                   warnings: list[str]) -> tuple[list[MetricPoint], list[HistogramPoint], set[str]]:
        """Log records (window lines, REPORTs) and CloudWatch metrics of every function, combined. A function
        is probe-instrumented when it wrote window lines in this window or the last ``PROBE_MEMORY_S``
        (``seen``, updated here): an idle one keeps its metrics on their interval."""
        if not functions or window.end <= window.start:
            return [], [], set()
        logs_start = min(window.start, cloud.start) if cloud is not None else window.start
        reader = LogsReader(self.clients.client("logs"))

        def read_one(f: _Function) -> tuple[_Function, FunctionLogs, list[str]]:
            notes: list[str] = []
            logs = read_function_logs(reader, f.cfg.log_group or f"/aws/lambda/{f.cfg.function}",
                                      lambda_function_id(f.cfg.region, f.cfg.function), logs_start, window.end, notes,
                                      known_probed=f.cfg.function in seen)
            return f, logs, notes

        read = []
        for f, logs, notes in self._each(read_one, functions):  # per-function reads, parallel_calls at a time
            read.append((f, logs))
            warnings += notes
        seen.update({f.cfg.function: int(window.end.timestamp()) for f, logs in read if logs.lines})
        probed = {f.cfg.function for f in functions if f.cfg.function in seen}
        legacy = [f for f in functions if f.cfg.function not in probed]
        points = self._metrics(legacy, window, emf=True)
        points += self._metrics([f for f in functions if f.cfg.function in probed], cloud, emf=False) if cloud else []
        log_pts: list[MetricPoint] = []
        line_pts: list[MetricPoint] = []
        histograms: list[HistogramPoint] = []
        for f, logs in read:
            start = window.start if f.cfg.function not in probed else logs_start
            steps = cw.window_steps(start, window.end, window.step_s)
            deployment_of = self._log_targets(f, warnings)
            log_pts += log_points(logs.reports, deployment_of, f.deployments[0].id, steps, window.step_s,
                                  every_report=logs.every_report)
            if logs.lines:
                pts, hists = window_points(logs, f.deployments, deployment_of, start=start, end=window.end,
                                           step_s=window.step_s, baselines=self.baselines,
                                           probe_bins=self.probe_bins, warnings=warnings)
                line_pts += pts
                histograms += hists
        merged = combine(merge_log_counts(points, log_pts), line_pts, cloud_metrics=CLOUD_METRICS,
                         platform_only=REPORT_METRICS, cloud_until=cloud_until)
        return merged, histograms, probed

    def _functions(self, cache: ConfigCache, warnings: list[str]) -> list[_Function]:
        reader = LambdaConfigReader(self.clients.client("lambda"))

        def read(cfg: AwsDeploymentConfig) -> _Function | str:
            try:
                config = cache.get(reader, cfg.function)
            except ProviderDataError as exc:  # e.g. the function was deleted: the others still land
                return f"{cfg.function}: configuration unreadable, skipped: {exc}"
            deps = build_deployments(cfg.region, config, cfg.aliases, service=cfg.service, role=cfg.role,
                                     slo_p99_ms=cfg.slo_p99_ms, labels=cfg.labels)
            return _Function(cfg, config, tuple(deps))

        out = []
        for item in self._each(read, self.configs):
            if isinstance(item, str):
                warnings.append(item)
            else:
                out.append(item)
        return out

    def _each(self, work: Callable[[_In], _Out], items: Iterable[_In]) -> list[_Out]:
        """``work`` of each item, in order, ``parallel_calls`` at a time; the first error is raised once
        the calls in flight are done, and the ones not started are dropped."""
        items = list(items)
        if self.parallel_calls <= 1 or len(items) <= 1:
            return [work(item) for item in items]
        pool = ThreadPoolExecutor(min(self.parallel_calls, len(items)), thread_name_prefix=self.name)
        try:
            return list(pool.map(work, items))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _histograms(self, functions: Sequence[_Function], window: Window, warnings: list[str]) -> list[HistogramPoint]:
        reader = cw.CloudWatchReader(self.clients.client("cloudwatch"))
        plans, queries = cw.histogram_plans(reader, [(f.deployments[0].id, cw.emf_deployment(f.cfg),
                                                      f.deployments[0].service) for f in functions],
                                            self.baselines, warnings)
        if not queries:
            return []
        series = reader.fetch(queries, window.start, window.end, window.step_s)
        steps = cw.window_steps(window.start, window.end, window.step_s)
        return cw.to_histograms(plans, cw.by_key(queries, series), steps, window.step_s, warnings)

    def _metrics(self, functions: Sequence[_Function], window: Window, *, emf: bool) -> list[MetricPoint]:
        """AWS/Lambda metrics of the functions (and the pre-probe reference service's EMF ones with ``emf``)."""
        if not functions or window.end <= window.start:
            return []
        queries: list[cw.MetricQuery] = []
        for f in functions:
            whole = f.deployments[0].id
            queries += cw.lambda_queries(whole, f.cfg.function)
            queries += cw.emf_queries(whole, cw.emf_deployment(f.cfg)) if emf else []
            for dep, qualifier in zip(f.deployments[1:], f.cfg.aliases, strict=True):
                queries += cw.lambda_queries(dep.id, f.cfg.function, qualifier,
                                          provisioned=dep.provisioned_concurrency > 0)
        series = cw.CloudWatchReader(self.clients.client("cloudwatch")).fetch(queries, window.start, window.end,
                                                                              window.step_s)
        return cw.to_points(queries, series, cw.window_steps(window.start, window.end, window.step_s), window.step_s)

    @staticmethod
    def _log_targets(f: _Function, warnings: list[str]) -> dict[str, list[str]]:
        targets = zip(f.cfg.aliases, (d.id for d in f.deployments[1:]), strict=True)
        deployment_of, weighted = f.config.log_targets(targets)
        warnings += [f"{d}: weighted alias, its log records stay with the function" for d in weighted]
        return deployment_of

    def _costs(self, now: datetime, cursor: Mapping[str, Any] | None, functions: Sequence[_Function],
               warnings: list[str]) -> tuple[list[CostRecord], int | None]:
        raw = (cursor or {}).get("costs_fetched_at")
        last = int(raw) if raw is not None else None
        if not functions or not costs_due(now, last):
            return [], last
        tags = [f.cfg.cost_allocation_tag for f in functions]
        scope_of_tag = {f.cfg.function: f.deployments[0].id for f in functions}
        reader = CostExplorerReader(self.clients.client("ce"))
        costs = fetch_costs(reader, now, last, region=self.clients.settings.region, tags=tags,
                            scope_of_tag=scope_of_tag, account=self._account_id, warnings=warnings)
        return costs, int(now.timestamp())

    def _account_id(self) -> str:
        if self._account is None:
            identity = call_aws(self.clients.client("sts"), "sts", "get_caller_identity", {})
            self._account = str(identity["Account"])
        return self._account


def _seen(cursor: Mapping[str, Any] | None, now: datetime) -> dict[str, int]:
    """Function -> when its window lines were last seen, for those seen in the last ``PROBE_MEMORY_S``."""
    raw = (cursor or {}).get("window_lines_seen") or {}
    return {str(fn): int(at) for fn, at in raw.items() if now.timestamp() - int(at) < PROBE_MEMORY_S}


def _renamed(cursor: Mapping[str, Any] | None, key: str) -> dict[str, Any] | None:
    """``cursor[key]`` as the ``complete_until`` plan_window reads."""
    return {"complete_until": cursor[key]} if cursor and cursor.get(key) is not None else None


def _groups(settings: Settings, ctx: CollectorContext) -> dict[tuple[str, str | None, str | None],
                                                               tuple[ClientSettings, list[AwsDeploymentConfig]]]:
    out: dict[tuple[str, str | None, str | None], tuple[ClientSettings, list[AwsDeploymentConfig]]] = {}
    for cfg in settings.of_provider(PROVIDER):
        client_settings = ClientSettings.from_config(cfg, ctx)
        out.setdefault(client_settings.group_key, (client_settings, []))[1].append(cfg)
    return out


def unit_name(region: str, profile: str | None, role_arn: str | None) -> str:
    """The collector's name, unique per account and region (its cursor, runs and lease are keyed on it):
    ``aws:<profile>:<region>``, ``aws:default:<region>``, or for an assumed role
    ``aws:<role name>@<account>:<region>``, since accounts read through one role share its name."""
    if profile:
        return f"aws:{profile}:{region}"
    if role_arn:
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        name = role_arn.rsplit("/", 1)[-1]
        return f"aws:{name}@{account}:{region}" if account else f"aws:{name}:{region}"
    return f"aws:default:{region}"


def from_settings(settings: Settings, ctx: CollectorContext, *, hooks: Sequence[Hook] = ()) -> list[AwsCollector]:
    """One collector per (region, profile, role): they run in parallel in the runner."""
    collectors = []
    for (region, profile, role), (client_settings, configs) in _groups(settings, ctx).items():
        collectors.append(AwsCollector(
            unit_name(region, profile, role), AwsClients(client_settings, hooks), configs,
            step_s=settings.collect.step_s, lateness_s=settings.collect.lateness_s,
            lookback_s=settings.collect.lookback_s, baselines=ctx.baselines, probe_bins=ctx.probe_bins,
            cloud_metrics_interval_s=settings.collect.cloud_metrics_interval_s))
    return collectors


def check(settings: Settings, ctx: CollectorContext, *, hooks: Sequence[Hook] = ()) -> list[ProviderCheck]:
    """Per account and region: credentials found, each API answers, each permission granted.

    Every action the collector calls is tried once with the smallest request (GetCostAndUsage costs
    $0.01). No traceback reaches the user: each failure becomes a line of the check."""
    out = []
    for (region, profile, role), (client_settings, configs) in _groups(settings, ctx).items():
        scope = f"{profile or role or 'default credentials'} / {region}"
        quick = replace(client_settings, max_attempts=min(2, client_settings.max_attempts))  # answer fast
        out.append(_probe_group(scope, AwsClients(quick, hooks), configs))
    return out


def _probe_group(scope: str, clients: AwsClients, configs: Sequence[AwsDeploymentConfig]) -> ProviderCheck:
    identity = _probe("sts:GetCallerIdentity", lambda: clients.client("sts").get_caller_identity())
    if isinstance(identity, ProviderAuthError):
        return ProviderCheck(PROVIDER, scope, False, f"no usable AWS credentials: {identity}")
    if identity is not None:
        return ProviderCheck(PROVIDER, scope, False, f"AWS did not answer: {identity}")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    query = [{"Id": "q0", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations"},
                                         "Period": 60, "Stat": "Sum"}}]
    probes: list[tuple[str, Callable[[], Any]]] = [
        ("cloudwatch:GetMetricData", lambda: clients.client("cloudwatch").get_metric_data(
            MetricDataQueries=query, StartTime=now - timedelta(minutes=5), EndTime=now)),
        ("ce:GetCostAndUsage", lambda: clients.client("ce").get_cost_and_usage(
            **cost_request(clients.settings.region, now.date() - timedelta(days=1), now.date(), None))),
    ]
    for cfg in configs:
        fn, lam, logs = cfg.function, clients.client("lambda"), clients.client("logs")
        probes += [
            ("lambda:ListVersionsByFunction", partial(lam.list_versions_by_function, FunctionName=fn, MaxItems=1)),
            ("lambda:ListAliases", partial(lam.list_aliases, FunctionName=fn, MaxItems=1)),
            ("lambda:GetFunctionConcurrency", partial(lam.get_function_concurrency, FunctionName=fn)),
            ("lambda:ListProvisionedConcurrencyConfigs",
             partial(lam.list_provisioned_concurrency_configs, FunctionName=fn, MaxItems=1)),
            ("logs:FilterLogEvents", partial(logs.filter_log_events, logGroupName=cfg.log_group or f"/aws/lambda/{fn}",
                                             limit=1, startTime=int(now.timestamp() * 1000) - 60_000)),
        ]
    missing: list[str] = []
    problems: list[str] = []
    for action, call in probes:
        error = _probe(action, call)
        if isinstance(error, ProviderAuthError):
            missing += [action] if action not in missing else []
        elif error is not None and "ResourceNotFound" not in str(error):
            problems.append(str(error))
        elif error is not None and action.startswith("lambda:"):
            problems.append(f"{action}: function not found ({error})")
    if "logs:FilterLogEvents" not in missing:
        problems += [p for cfg in configs if (p := _telemetry_problem(clients, cfg, now)) is not None]
    ok = not missing and not problems
    detail = "credentials found; every API answered; window lines arrive" if ok else "; ".join(
        ([f"access denied for {', '.join(missing)}"] if missing else []) + problems)
    return ProviderCheck(PROVIDER, scope, ok, detail, missing_permissions=tuple(missing))


def _telemetry_problem(clients: AwsClients, cfg: AwsDeploymentConfig, now: datetime) -> str | None:
    """What is missing for this function's telemetry: its log group, or the probe's window lines of the last
    hour (matched by the ``function`` member the probe writes, docs/cloud.md); None when they arrive."""
    group = cfg.log_group or f"/aws/lambda/{cfg.function}"
    try:
        count = count_window_lines(clients.client("logs"), group, lambda_function_id(cfg.region, cfg.function),
                                   now - timedelta(hours=1), now + timedelta(minutes=1))
    except CollectorError as exc:
        return f"{cfg.function}: window lines not checked: {exc}"
    if count is None:
        return (f"{cfg.function}: log group {group} does not exist (the function has not run yet, or it logs "
                "elsewhere: set log_group)")
    if count == 0:
        return (f"{cfg.function}: no probe window line for aws:{cfg.region}:{cfg.function} in {group} in the last "
                "hour (install the probe and set its environment: `inferwatch setup aws`; or no traffic)")
    return None


def _probe(action: str, call: Callable[[], Any]) -> CollectorError | None:
    from botocore.exceptions import (  # config check only (see collectors.aws_client)
        BotoCoreError,
        ClientError,
    )

    try:
        call()
    except (BotoCoreError, ClientError) as exc:
        return translate_error(exc, action)
    except CollectorError as exc:  # building the clients failed (profile, assumed role)
        return exc
    return None
