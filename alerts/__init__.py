"""The scheduled alert job: rules -> state machine -> outbox -> notifiers.

``rules``, ``series`` and ``evaluate`` are pure (no clock, SDK or environment reads); the store
(``outbox``), the notifiers (``notify``), the lock and the job (``job``) are the edges.
"""
