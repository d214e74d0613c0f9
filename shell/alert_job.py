"""The scheduled entry point: ``python -m shell.alert_job`` / ``inferwatch alerts run``.

One run: validate settings -> take the lock -> load data and state -> evaluate (pure) -> save
state, history and outbox in one transaction -> send what is due from the outbox -> exit.
Nothing is sent before it is recorded. Exit codes (cron-friendly; a firing alert is not a failure):

    0   evaluated, and every message is delivered
    1   evaluated, but messages stay queued or were dead-lettered, or a rule could not be evaluated
    2   configuration error: nothing evaluated
    75  another run holds the lock, or the store is unreachable (EX_TEMPFAIL): try again later
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alerts.alertmanager import ANNOUNCED, AlertmanagerNotifier
from alerts.errors import AlertConfigError, DeliveryError, LockHeldError
from alerts.evaluate import evaluate
from alerts.notify import Notifier, build_notifier
from alerts.outbox import Route, build_messages, mark_failed, save_evaluation
from alerts.settings import AlertSettings, FileNotifierConfig
from inferwatch.errors import ConfigError, PathError
from inferwatch.schema import AlertState, AlertStatus, OutboxMessage
from inferwatch.store import Store, StoreError
from readmodels.alert_inputs import load_data
from shell.alert_lock import job_lock
from shell.runtime import Runtime

log = logging.getLogger("inferwatch.alerts")

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_TEMPFAIL = 0, 1, 2, 75
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class JobResult:
    exit_code: int
    message: str  # one line for cron's mail / the terminal
    counts: Mapping[str, int] = field(default_factory=dict)
    messages: tuple[OutboxMessage, ...] = ()  # this run's new messages (what a dry run would send)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def load_settings(rt: Runtime) -> AlertSettings:
    """``[alerts]`` and ``[notifiers]``, validated when the Runtime was made (as for every verb)."""
    return rt.sections.alerts


def build_notifiers(settings: AlertSettings, rt: Runtime) -> dict[str, Notifier]:
    """The configured notifiers; with none configured, the file sink under the home folder."""
    if not settings.notifiers:
        return {"file": build_notifier("file", FileNotifierConfig.model_validate({"type": "file"}), rt.env, rt.home)}
    return {name: build_notifier(name, cfg, rt.env, rt.home) for name, cfg in settings.notifiers.items()}


def routes(settings: AlertSettings, notifiers: Mapping[str, Notifier]) -> list[Route]:
    out = []
    for name in notifiers:
        cfg = settings.notifiers.get(name)
        severities = frozenset(s.value for s in cfg.severities) if cfg else frozenset(("page", "ticket", "notice"))
        out.append(Route(name, severities, cfg.send_resolved if cfg else True))
    return out


def secret_scrubber(settings: AlertSettings, env: Mapping[str, str]) -> Callable[[str], str]:
    """Replace every notifier secret found in the environment by ``***`` in a text."""
    names = [getattr(cfg, attr, None) for cfg in settings.notifiers.values()
             for attr in ("url_env", "secret_env", "password_env", "routing_key_env")]
    secrets = sorted({env[n] for n in names if n and env.get(n)}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return scrub


def _no_scrub(text: str) -> str:
    return text


def deliver(store: Store, notifiers: Mapping[str, Notifier], settings: AlertSettings, now_s: int,
            deadline: float, scrub: Callable[[str], str] = _no_scrub) -> dict[str, int]:
    """Send every due message; each outcome is recorded before the next send."""
    counts = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    for message in store.load_outbox(status="pending", due_at_s=now_s):
        if time.monotonic() > deadline:
            counts["skipped"] += 1  # stays due: the next run sends it
            continue
        notifier = notifiers.get(message.receiver)
        try:
            if notifier is None:
                raise DeliveryError(f"receiver {message.receiver} is no longer configured", receiver=message.receiver)
            notifier.send(message)
        except DeliveryError as exc:
            outcome = mark_failed(store, message, now_s, str(exc), settings.section, exc.retry_after_s)
            counts["dead" if outcome == "dead" else "failed"] += 1
            log.warning("delivery failed: %s", exc)
            continue
        except Exception as exc:  # noqa: BLE001  a notifier bug must not stop the others; it is recorded
            # Unknown errors may quote a URL or password: record the type and a scrubbed text, no traceback.
            error = scrub(f"internal error {type(exc).__name__}: {exc}")
            outcome = mark_failed(store, message, now_s, error, settings.section)
            counts["dead" if outcome == "dead" else "failed"] += 1
            log.error("notifier %s crashed: %s", message.receiver, error)
            continue
        store.mark_delivered(message.id, now_s)
        counts["sent"] += 1
    return counts


def refresh_receivers(notifiers: Mapping[str, Notifier], route_list: Sequence[Route],
                      states: Sequence[AlertState]) -> dict[str, int]:
    """Re-post every announced problem to the receivers that forget alerts unless reminded (Alertmanager:
    alerts.alertmanager says why). A failure is counted and logged; the next run re-posts anyway."""
    counts = {"refreshed": 0, "refresh_failed": 0}
    announced = [s for s in states if s.notified in ANNOUNCED]
    for route in route_list:
        notifier = notifiers.get(route.receiver)
        if not isinstance(notifier, AlertmanagerNotifier):
            continue
        try:
            counts["refreshed"] += notifier.refresh([s for s in announced if s.severity in route.severities])
        except DeliveryError as exc:
            counts["refresh_failed"] += 1
            log.warning("refresh failed: %s", exc)
    return counts


def _state_counts(states: Sequence[str]) -> dict[str, int]:
    return {s.value: sum(1 for x in states if x == s.value) for s in (AlertStatus.FIRING, AlertStatus.PENDING,
                                                                      AlertStatus.NODATA,
                                                                       AlertStatus.ERROR)}


def _evaluate_and_deliver(store: Store, rt: Runtime, settings: AlertSettings, notifiers: Mapping[str, Notifier],
                          now: datetime, dry_run: bool) -> JobResult:
    started = time.monotonic()
    now_s = int(now.timestamp())
    data = load_data(store, settings, now, config=rt.settings, sections=rt.sections)
    evaluation = evaluate(settings.rules, data, store.load_alert_states(), now, settings.policy)
    messages = build_messages(evaluation.notifications, routes(settings, notifiers), now_s,
                              store_id=store.load_store_id())
    counts: dict[str, int] = {"rules": len(settings.rules), "alerts": len(evaluation.states),
                              **_state_counts([s.state for s in evaluation.states.values()]),
                              "rule_errors": evaluation.errors, "notifications": len(evaluation.notifications),
                              "messages": len(messages)}
    if dry_run:
        return JobResult(EXIT_OK, f"dry run: {counts['firing']} firing, {counts['pending']} pending, "
                                  f"{len(messages)} messages would be sent", counts, tuple(messages))
    save_evaluation(store, evaluation, messages)
    counts |= deliver(store, notifiers, settings, now_s, started + settings.section.run_deadline,
                      secret_scrubber(settings, rt.env))
    counts |= refresh_receivers(notifiers, routes(settings, notifiers), list(evaluation.states.values()))
    counts["queued"] = len(store.load_outbox(status="pending"))
    problems = []
    if counts["queued"]:
        problems.append(f"{counts['queued']} messages undelivered (kept in the outbox, retried next run)")
    if counts["dead"]:
        problems.append(f"{counts['dead']} messages dead-lettered (see `inferwatch alerts outbox`)")
    if evaluation.errors:
        problems.append(f"{evaluation.errors} alerts could not be evaluated")
    if counts["refresh_failed"]:
        problems.append(f"{counts['refresh_failed']} Alertmanager receivers not refreshed (retried next run)")
    summary = f"{counts['firing']} firing, {counts['pending']} pending, {counts['sent']} sent"
    if problems:
        return JobResult(EXIT_PARTIAL, f"{summary}; " + "; ".join(problems), counts, tuple(messages))
    return JobResult(EXIT_OK, summary, counts, tuple(messages))


def run_once(rt: Runtime, *, dry_run: bool = False, clock: Clock = _utcnow) -> JobResult:
    """Evaluate once and deliver; never raises for expected failures (the result says what happened).

    The demo calls this every minute; ``inferwatch alerts run`` and ``python -m shell.alert_job`` too.
    """
    try:
        settings = load_settings(rt)
        notifiers = build_notifiers(settings, rt)
    except AlertConfigError as exc:
        return JobResult(EXIT_CONFIG, f"configuration error: {exc}")
    run_id = uuid.uuid4().hex
    try:
        store = rt.open_store()
        try:
            with job_lock(store, rt.home):
                now = clock()
                result = _evaluate_and_deliver(store, rt, settings, notifiers, now, dry_run)
                if not dry_run:
                    store.record_alert_run(run_id, int(now.timestamp()), int(clock().timestamp()), result.exit_code,
                               result.message, result.counts)
        finally:
            store.dispose()
    except LockHeldError as exc:
        return JobResult(EXIT_TEMPFAIL, f"skipped: {exc}")
    except StoreError as exc:
        return JobResult(EXIT_TEMPFAIL, f"store unavailable: {exc}")
    log.info(json.dumps({"event": "alerts_run", "exit_code": result.exit_code, **result.counts}))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shell.alert_job", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="evaluate and print; save and send nothing")
    parser.add_argument("--config", type=Path, default=None, help="inferwatch.toml (default $INFERWATCH_CONFIG)")
    parser.add_argument("--home", type=Path, default=None, help="state folder (default $INFERWATCH_HOME)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        rt = Runtime.from_env(config=args.config, home=args.home)
    except (ConfigError, PathError) as exc:
        print(f"inferwatch alerts: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    result = run_once(rt, dry_run=args.dry_run)
    print(f"inferwatch alerts: {result.message}", file=sys.stderr if result.exit_code else sys.stdout)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
