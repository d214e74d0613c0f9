"""Alertmanager as a receiver: Inferwatch's alerts posted to ``POST /api/v2/alerts``, so teams route,
silence, inhibit and group them with the Alertmanager configuration they already run.

Each alert becomes an Alertmanager alert whose labels are the alert's own (``alertname``, ``severity``,
``deployment`` and ``service`` or ``collector``, and the rule's labels), with ``summary``, ``value``,
``inferwatch_status`` and a ``dashboard`` link as annotations. A ``nodata`` or ``error`` notice is an alert
of its own, labelled ``inferwatch_state="nodata"`` (or ``"error"``), so a route can send it elsewhere
than the problem itself; the notice it replaces is resolved in the same post.

Why every run re-posts: Alertmanager resolves an alert once its ``endsAt`` passes. A problem is posted
with ``endsAt`` = now + ``hold_for`` (5 minutes by default) and, like Prometheus re-sending its firing
alerts every minute, the alert job re-posts every problem it has announced on each run
(:meth:`AlertmanagerNotifier.refresh`), well before that. The outbox's own ``repeat_interval`` (hours) is
for chat and mail; Alertmanager applies its own to its receivers. If the job stops, Alertmanager resolves
the alerts after ``hold_for``, as it would for a Prometheus that stopped. A resolve posts ``endsAt`` = the
time the alert ended.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from alerts.http_post import post_json, redact_url, split_credentials
from inferwatch.schema import AlertState, OutboxMessage

STATE_LABEL = "inferwatch_state"
PROBLEMS = ("firing", "nodata", "error")  # the alerts an Inferwatch alert can be in Alertmanager
ANNOUNCED = ("firing", "flapping", "nodata", "error")  # what the notification log may say of a problem


def variant(status: str) -> str | None:
    """Which Alertmanager alert stands for a notification status (None: no problem)."""
    return "firing" if status in ("firing", "flapping") else status if status in PROBLEMS else None


def label_name(name: str) -> str:
    """A valid Alertmanager label name (``[a-zA-Z_][a-zA-Z0-9_]*``): other characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
    return f"_{cleaned}" if cleaned[0].isdigit() else cleaned


def dashboard_link(base: str | None, labels: Mapping[str, str]) -> str | None:
    if base is None:
        return None
    if "deployment" in labels:
        return f"{base}/deployment?d={quote(labels['deployment'], safe=':')}"
    return f"{base}/sources" if "collector" in labels else f"{base}/alerts"


def iso(epoch_s: float) -> str:
    """Whole seconds, as the outbox writes its times (so two of them compare as strings)."""
    return datetime.fromtimestamp(int(epoch_s), tz=UTC).isoformat().replace("+00:00", "Z")


class AlertmanagerNotifier:
    """Posts to one Alertmanager (for an HA pair, configure one notifier per instance: each has its
    own outbox row and retries)."""

    def __init__(self, name: str, url: str, *, hold_s: int = 300, dashboard_url: str | None = None,
                 timeout_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.name, self.hold_s, self.dashboard_url, self.timeout_s = name, hold_s, dashboard_url, timeout_s
        base, self._headers = split_credentials(url)
        self._endpoint = base.rstrip("/") + "/api/v2/alerts"
        self._clock = clock

    def __repr__(self) -> str:
        return f"AlertmanagerNotifier({self.name!r}, {redact_url(self._endpoint)!r}, hold_s={self.hold_s})"

    def send(self, message: OutboxMessage) -> None:
        """The message's news: each problem posted (and the notice it replaces resolved), each resolve
        posted with the time it ended."""
        now = self._clock()
        alerts = [a for item in message.payload["alerts"] for a in self._news(item, now)]
        self._post(alerts)

    def refresh(self, states: Sequence[AlertState]) -> int:
        """Re-post every problem the notification log says was announced (``states`` already filtered
        by this receiver's severities), so Alertmanager keeps it active; how many were posted."""
        now = self._clock()
        alerts = [self._alert(s.labels, v, summary=s.summary, value=s.value, status=s.notified,
                              starts=iso(s.since_s), ends=iso(now + self.hold_s))
                  for s in states if (v := variant(s.notified)) is not None]
        self._post(alerts)
        return len(alerts)

    def _news(self, item: Mapping[str, Any], now: float) -> Iterator[dict[str, Any]]:
        status, at = str(item["status"]), str(item["at"])
        labels = {str(k): str(v) for k, v in dict(item["labels"]).items()}
        current = variant(status)
        summary, value = str(item["summary"]), item.get("value")
        if current is not None:
            yield self._alert(labels, current, summary=summary, value=value, status=status, starts=str(item["since"]),
                              ends=iso(now + self.hold_s))
        before = variant(str(item.get("previous", "ok")))
        # Resolved: what was announced ends, whichever alert stood for it (all, from an older outbox row);
        # a change of problem (nodata -> firing) ends the alert of the one before.
        ended = ([before] if before is not None else list(PROBLEMS)) if current is None else (
            [before] if before is not None and before != current else [])
        for problem in ended:
            yield self._alert(labels, problem, summary=summary, value=value, status=status, starts=at, ends=at)

    def _alert(self, labels: Mapping[str, str], problem: str, *, summary: str, value: Any, status: str,
               starts: str, ends: str) -> dict[str, Any]:
        named = {label_name(k): v for k, v in labels.items() if v != ""}
        if problem != "firing":
            named[STATE_LABEL] = problem
        annotations = {"summary": summary, "inferwatch_status": status}
        if isinstance(value, int | float):
            annotations["value"] = f"{value:g}"
        link = dashboard_link(self.dashboard_url, labels)
        alert: dict[str, Any] = {"labels": named, "annotations": annotations, "startsAt": min(starts, ends),
                                 "endsAt": ends}
        if link is not None:
            annotations["dashboard"] = link
            alert["generatorURL"] = link
        return alert

    def _post(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        if alerts:
            post_json(self.name, self._endpoint, json.dumps(list(alerts)).encode(), self._headers, self.timeout_s)
