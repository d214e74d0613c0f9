"""Read models: the numbers the surfaces share, computed from the store with the domain packages.

The CLI, the alert job, the dashboard and (later) the exporters all show the same numbers because they
call the same functions here: a deployment's status over a window (``status``), the Overview's rows
and the numbers collection keeps for it (``overview``), drift decided from the stored histograms
(``drift_status``), versions and canary verdicts (``versions``, ``canary``), collector health
(``sources``), baselines as the surfaces see them (``baselines``), costs and advice over a window
(``costs``) and what the alert rules evaluate (``alert_inputs``, ``alert_sources``).

Layer: above the domain packages (collectors, drift, quality, costs, alerts) and the foundation
(``inferwatch``); below the shell (``shell``, ``dashboard``, ``app``). Nothing here reads the
environment or the clock: callers pass ``now`` and the validated settings.
"""
