"""The ``[alerts]`` and ``[notifiers]`` tables of inferwatch.toml, validated here with errors that
name the bad field (``alerts.rules[2].window``). Durations are seconds or ``"30s"``, ``"5m"``,
``"1h"``, ``"1d"``. Secrets are never read from the file: notifiers name environment variables."""

from __future__ import annotations

import math
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.errors import AlertConfigError
from alerts.evaluate import Policy
from alerts.rules import KIND_VARIABLES, QUALITY_METRICS, QUALITY_SOURCES, MissingData, OnError, Rule, Severity

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_SECRET_KEYS = ("url", "password", "secret", "token", "webhook_url", "routing_key")
# No alert setting means anything beyond a year, and every time computed from one (a back-off, a
# next attempt) then stays a small integer that any store column holds.
MAX_DURATION_S = 366 * 86_400
# Summaries are one line of a page; width and precision beyond this are a typo (or a way to make
# every evaluation build a gigabyte string).
MAX_SUMMARY_CHARS = 1000
_MAX_FORMAT_DIGITS = 3


def parse_duration(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 300, '5m', '1h'")  # noqa: TRY004 (pydantic)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration (use a finite number of seconds)")
        seconds = int(value)
    else:
        match = re.fullmatch(r"\s*(\d{1,12})\s*([smhd]?)\s*", str(value))
        if not match:
            raise ValueError(f"{str(value)[:80]!r} is not a duration (use seconds or a number with s, m, h or d)")
        seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{value!r:.80} is longer than the longest duration allowed, 366d")
    return seconds


Duration = Annotated[int, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


# What a kind's variables hold when a summary is formatted (the rest are numbers): a template is
# tried on these at load, so it cannot fail at evaluation time.
_TEXT_VARIABLES = frozenset({"entity", "window", "short_window", "signals", "last_error", "metric", "source"})


def check_summary(summary: str, kind: str) -> None:
    """Refuse a template that names what the kind does not offer, reaches into attributes or
    items (``{value.__class__}``), nests fields in a format spec, or would not format."""
    allowed = set(KIND_VARIABLES[kind])
    try:
        parsed = list(string.Formatter().parse(summary))
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from exc
    for _, name, spec, _ in parsed:
        if name is None:
            continue
        if name not in allowed:
            base = re.split(r"[.\[]", name, maxsplit=1)[0]
            if base in allowed:
                raise ValueError(f"uses {{{name}}}: name a variable, without attributes or items")
            raise ValueError(f"uses {{{name}}}; a {kind} rule offers {', '.join(sorted(allowed))}")
        if spec and ("{" in spec or re.search(rf"\d{{{_MAX_FORMAT_DIGITS + 1},}}", spec)):
            raise ValueError(f"the format {{{name}:{spec}}} is not allowed (no nested fields, "
                             f"at most {_MAX_FORMAT_DIGITS} digits of width or precision)")
    sample = {v: ("text" if v in _TEXT_VARIABLES else 0.5) for v in allowed}
    try:
        summary.format_map(sample)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"does not format: {exc}") from exc


class RuleConfig(_Model):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    kind: Literal[tuple(KIND_VARIABLES)]  # type: ignore[valid-type]
    severity: Severity = Severity.TICKET
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)
    window: Duration = Field(300, ge=60, le=7 * 86_400)
    for_: Duration = Field(0, ge=0, alias="for")
    keep_firing_for: Duration = Field(0, ge=0)
    threshold: float | None = None
    short_window: Duration | None = Field(None, ge=60)
    factor: float | None = Field(None, gt=0)
    min_requests: int = Field(0, ge=0)
    failures: int = Field(3, ge=1, le=100)
    metric: str = Field("accuracy", min_length=1, max_length=300)
    source: Literal[QUALITY_SOURCES] = "either"  # type: ignore[valid-type]
    below_baseline: float | None = Field(None, ge=0)
    missing_data: MissingData = MissingData.NOT_BREACHING
    on_error: OnError = OnError.ERROR
    repeat_interval: Duration | None = Field(None, ge=60)
    labels: dict[str, str] = Field(default_factory=dict)
    match: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    @model_validator(mode="after")
    def _kind_fields(self) -> RuleConfig:
        if self.kind == "burn_rate" and (self.factor is None or self.short_window is None):
            raise ValueError("a burn_rate rule needs factor and short_window")
        if self.short_window is not None and self.short_window >= self.window:
            raise ValueError("short_window must be shorter than window")
        if self.kind == "quality_below" and (self.threshold is None) == (self.below_baseline is None):
            raise ValueError("a quality_below rule needs threshold (an absolute floor) or below_baseline "
                             "(a floor under the baseline's level), one of them")
        return self

    @field_validator("metric")
    @classmethod
    def _metric(cls, metric: str) -> str:
        name, _, cls_name = metric.partition(":")
        if name not in QUALITY_METRICS or (":" in metric and (not cls_name or name not in ("precision", "recall"))):
            raise ValueError(f"{metric[:80]!r} is not a quality metric (use one of: {', '.join(QUALITY_METRICS)}, "
                             "or precision:<class>, recall:<class>)")
        return metric

    @field_validator("summary")
    @classmethod
    def _summary(cls, summary: str, info: ValidationInfo) -> str:
        if "kind" in info.data:  # else kind is refused on its own
            check_summary(summary, info.data["kind"])
        return summary

    def to_rule(self) -> Rule:
        return Rule(name=self.name, kind=self.kind, severity=self.severity, summary=self.summary,
                    window_s=self.window, for_s=self.for_, keep_firing_for_s=self.keep_firing_for,
                    threshold=self.threshold, short_window_s=self.short_window, factor=self.factor,
                    min_requests=self.min_requests, failures=self.failures, metric=self.metric, source=self.source,
                    below_baseline=self.below_baseline, missing_data=self.missing_data,
                    on_error=self.on_error, repeat_interval_s=self.repeat_interval, labels=dict(self.labels),
                    match=tuple(self.match))


class AlertsSection(_Model):
    default_rules: bool = True
    disable: list[str] = Field(default_factory=list)
    repeat_interval: Duration = Field(4 * 3600, ge=60)
    flap_window: Duration = Field(3600, ge=60)
    flap_threshold: int = Field(6, ge=2)
    max_attempts: int = Field(10, ge=1)
    dead_letter_after: Duration = Field(86_400, ge=60)
    backoff_base: Duration = Field(60, ge=1)
    backoff_max: Duration = Field(3600, ge=1)
    send_timeout: Duration = Field(10, ge=1, le=300)
    run_deadline: Duration = Field(45, ge=1)


class _NotifierBase(_Model):
    severities: list[Severity] = Field(default_factory=lambda: list(Severity))
    send_resolved: bool = True
    timeout: Duration = Field(10, ge=1, le=300)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, raw: Any) -> Any:
        if isinstance(raw, Mapping):
            for key in _SECRET_KEYS:
                if key in raw:
                    raise ValueError(f"{key} must not be in the file: name an environment variable with {key}_env")
        return raw


class SlackNotifierConfig(_NotifierBase):
    type: Literal["slack"]
    url_env: str = "INFERWATCH_SLACK_WEBHOOK_URL"


class WebhookNotifierConfig(_NotifierBase):
    type: Literal["webhook"]
    url_env: str = "INFERWATCH_WEBHOOK_URL"
    secret_env: str | None = "INFERWATCH_WEBHOOK_SECRET"  # HMAC-SHA256 signature when set


class EmailNotifierConfig(_NotifierBase):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    starttls: bool = True
    username_env: str = "INFERWATCH_SMTP_USERNAME"
    password_env: str = "INFERWATCH_SMTP_PASSWORD"
    ca_file: str | None = None  # trust this CA (a private relay); default: the system store


class FileNotifierConfig(_NotifierBase):
    type: Literal["file"]
    path: str | None = None  # "-" is stdout; default <home>/alerts/notifications.jsonl


class _DashboardLinks(_NotifierBase):
    # Where the dashboard is served, for links in alerts (not a secret; put credentials nowhere here).
    dashboard_url: str | None = Field(None, max_length=500)

    @field_validator("dashboard_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValueError("must be an http(s) URL without credentials, e.g. https://inferwatch.example.com")
        return value.rstrip("/")


class AlertmanagerNotifierConfig(_DashboardLinks):
    type: Literal["alertmanager"]
    url_env: str = "INFERWATCH_ALERTMANAGER_URL"  # base URL; user:password@ in it for basic auth
    # endsAt of a problem posted now: every run re-posts what is still a problem before that expires
    # (keep it above 3x the job's period, as Prometheus keeps 4x its evaluation interval).
    hold_for: Duration = Field(300, ge=60, le=86_400)


PagerDutySeverity = Literal["critical", "error", "warning", "info"]
DEFAULT_PAGERDUTY_SEVERITY: Mapping[Severity, PagerDutySeverity] = {
    Severity.PAGE: "critical", Severity.TICKET: "warning", Severity.NOTICE: "info"}


class PagerDutyNotifierConfig(_DashboardLinks):
    type: Literal["pagerduty"]
    routing_key_env: str = "INFERWATCH_PAGERDUTY_ROUTING_KEY"
    url_env: str | None = None  # default: PagerDuty's Events API v2 (https://events.pagerduty.com/v2/enqueue)
    severity_map: dict[Severity, PagerDutySeverity] = Field(default_factory=lambda: dict(DEFAULT_PAGERDUTY_SEVERITY))

    @field_validator("severity_map")
    @classmethod
    def _every_severity(cls, value: dict[Severity, PagerDutySeverity]) -> dict[Severity, PagerDutySeverity]:
        missing = [s.value for s in Severity if s not in value]
        if missing:
            raise ValueError(f"maps no PagerDuty severity for {', '.join(missing)}")
        return value


AnyNotifierConfig = (SlackNotifierConfig | WebhookNotifierConfig | EmailNotifierConfig | FileNotifierConfig
                     | AlertmanagerNotifierConfig | PagerDutyNotifierConfig)
NotifierConfig = Annotated[AnyNotifierConfig, Field(discriminator="type")]


class _Notifiers(_Model):
    notifiers: dict[str, NotifierConfig]

    @field_validator("notifiers")
    @classmethod
    def _names(cls, value: dict[str, NotifierConfig]) -> dict[str, NotifierConfig]:
        for name in value:  # a name is a receiver in every message and outbox row
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ValueError(f"notifier name {name[:80]!r}: use 1 to 64 letters, digits, '_', '.' or '-'")
        return value


@dataclass(frozen=True, slots=True)
class AlertSettings:
    rules: tuple[Rule, ...]
    notifiers: Mapping[str, AnyNotifierConfig]
    section: AlertsSection

    @property
    def policy(self) -> Policy:
        s = self.section
        return Policy(repeat_interval_s=s.repeat_interval, flap_window_s=s.flap_window,
                      flap_threshold=s.flap_threshold)


def _error(exc: ValidationError, prefix: str) -> AlertConfigError:
    first = exc.errors()[0]
    loc = prefix
    for part in first["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        elif part not in ("slack", "webhook", "email", "file", "alertmanager", "pagerduty",
                          "function-after[_kind_fields()]"):
            loc += f".{'for' if part == 'for_' else part}" if loc else str(part)
    msg = first["msg"].removeprefix("Value error, ")
    return AlertConfigError(f"{loc}: {msg}", field=loc)


def parse_rules(raw: list[Any], prefix: str) -> tuple[Rule, ...]:
    class _Rules(_Model):
        rules: list[RuleConfig]

    try:
        parsed = _Rules.model_validate({"rules": raw})
    except ValidationError as exc:
        raise _error(exc, prefix.removesuffix(".rules")) from exc
    names = [r.name for r in parsed.rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise AlertConfigError(f"{prefix}: rule {dupes[0]} is defined twice", field=prefix)
    return tuple(r.to_rule() for r in parsed.rules)


def default_rules() -> tuple[Rule, ...]:
    text = resources.files("alerts").joinpath("default_rules.toml").read_text(encoding="utf-8")
    return parse_rules(tomllib.loads(text)["rules"], "default_rules.toml:rules")


def parse_alert_settings(alerts: Mapping[str, Any], notifiers: Mapping[str, Any]) -> AlertSettings:
    """Validate ``[alerts]`` and ``[notifiers]``; user rules replace default rules of the same name."""
    raw = dict(alerts)
    rules = raw.pop("rules", [])
    if not isinstance(rules, list):
        raise AlertConfigError("alerts.rules: expected an array of tables ([[alerts.rules]])", field="alerts.rules")
    user_rules = parse_rules(rules, "alerts.rules")
    try:
        section = AlertsSection.model_validate(raw)
    except ValidationError as exc:
        raise _error(exc, "alerts") from exc
    try:
        parsed = _Notifiers.model_validate({"notifiers": dict(notifiers)})
    except ValidationError as exc:
        raise _error(exc, "") from exc
    by_name = {r.name: r for r in (default_rules() if section.default_rules else ())}
    by_name.update({r.name: r for r in user_rules})
    unknown = [n for n in section.disable if n not in by_name]
    if unknown:
        raise AlertConfigError(f"alerts.disable: no rule named {unknown[0]}", field="alerts.disable")
    rules = tuple(r for n, r in by_name.items() if n not in section.disable)
    return AlertSettings(rules=rules, notifiers=dict(parsed.notifiers), section=section)
