"""The scheduled alert job: rules -> state machine -> outbox -> notifiers.

``rules``, ``series`` and ``evaluate`` are pure (no clock, SDK or environment reads); the store
(``outbox``, ``loading``), the notifiers (``notify``), the lock and the job (``job``) are the edges.

Entry points other packages use:
    ``alerts.job.run_once(runtime, *, dry_run=False, clock=...) -> JobResult`` (the demo, the CLI)
    ``alerts.outbox.load_states(store)``, ``load_outbox(store, status=...)``, ``load_events(store)``,
    ``load_runs(store)`` (the dashboard)
    ``alerts.evaluate.evaluate(rules, data, previous, now, policy) -> Evaluation`` (pure)
    ``alerts.rules_test.run_file(path)`` (``inferwatch alerts test``)
See docs/alerts.md.
"""
