"""The alert rules and what happens to their news: rules -> state machine -> outbox -> notifiers.

``rules``, ``series`` and ``evaluate`` are pure (no clock, SDK or environment reads); ``outbox`` builds the
messages and decides retries, the store keeps them (``inferwatch.store``); ``notify`` sends. The scheduled
job that runs all this is in the shell (``shell.alert_job``: ``inferwatch alerts run`` or
``python -m shell.alert_job``), and what the rules evaluate is read by ``readmodels.alert_inputs``.

Entry points:
    ``alerts.evaluate.evaluate(rules, data, previous, now, policy) -> Evaluation`` (pure)
    ``alerts.outbox.build_messages(notifications, routes, now_s, store_id=...)`` (pure)
    ``alerts.rule_replay.run_file(path)`` (``inferwatch alerts test``)
See docs/alerts.md.
"""
