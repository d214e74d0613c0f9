"""PagerDuty's Events API v2: each alert of a message is one event, ``trigger`` for a problem (firing,
flapping, nodata, error) and ``resolve`` when it ends, with ``dedup_key`` = the alert's fingerprint, so
PagerDuty keeps one alert per Inferwatch alert however often it is re-sent (a retry, a repeat), and the
resolve closes it. The severity is mapped from the rule's (page -> critical, ticket -> warning, notice ->
info by default); links go to the dashboard when its URL is configured. The routing key comes from the
environment and appears in no error or log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from alerts.alertmanager import dashboard_link
from alerts.http_post import post_json, redact_url
from inferwatch.schema import OutboxMessage

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_MAX_CHARS = 1024  # PagerDuty truncates longer summaries
DEFAULT_SEVERITY = {"page": "critical", "ticket": "warning", "notice": "info"}
CLIENT = "Inferwatch"


class PagerDutyNotifier:
    def __init__(self, name: str, routing_key: str, *, url: str | None = None,
                 severity_map: Mapping[str, str] | None = None, dashboard_url: str | None = None,
                 timeout_s: float = 10.0) -> None:
        self.name, self.timeout_s, self.dashboard_url = name, timeout_s, dashboard_url
        self._routing_key, self._url = routing_key, url or EVENTS_URL
        self._severity = {str(k): v for k, v in (severity_map or DEFAULT_SEVERITY).items()}

    def __repr__(self) -> str:
        return f"PagerDutyNotifier({self.name!r}, {redact_url(self._url)!r})"

    def send(self, message: OutboxMessage) -> None:
        """One event per alert, in order. A retry re-sends them all: PagerDuty merges a repeated trigger
        into the open alert of its dedup_key, and a repeated resolve changes nothing."""
        for item in message.payload["alerts"]:
            post_json(self.name, self._url, json.dumps(self.event(item)).encode(),
                      {"Idempotency-Key": str(item["key"])}, self.timeout_s)

    def event(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The Events API v2 body for one alert of a message (``alerts[]`` of the outbox payload)."""
        base: dict[str, Any] = {"routing_key": self._routing_key, "dedup_key": str(item["fingerprint"])}
        if item["status"] == "resolved":
            return {**base, "event_action": "resolve"}
        labels = {str(k): str(v) for k, v in dict(item["labels"]).items()}
        status = str(item["status"])
        summary = str(item["summary"]) if status == "firing" else f"[{status}] {item['summary']}"
        details = {"status": status, "rule": item["rule"], "value": item.get("value"), "since": item["since"],
                   "repeat": bool(item.get("repeat")), "labels": labels, "notification_key": item["key"]}
        payload = {"summary": summary[:SUMMARY_MAX_CHARS], "source": str(item["entity"]),
                   "severity": self._severity.get(str(item["severity"]), "error"), "timestamp": str(item["at"]),
                   "class": str(item["rule"]), "custom_details": details}
        if "service" in labels:
            payload["group"] = labels["service"]
        event = {**base, "event_action": "trigger", "payload": payload, "client": CLIENT}
        link = dashboard_link(self.dashboard_url, labels)
        if link is not None:
            event["client_url"] = self.dashboard_url
            event["links"] = [{"href": link, "text": f"Inferwatch: {item['entity']}"}]
        return event
