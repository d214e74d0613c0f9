"""The shell: the ``inferwatch`` command and everything that runs things.

``cli`` assembles the commands (``commands/``, one module per verb) and maps each package's error base
to one line and an exit code (``exits``); ``runtime`` reads the environment once and validates every
config section (``sections``); ``collect`` runs a collection round (collectors, then the numbers kept
for the pages); ``alert_job`` is the scheduled alert entry point (``python -m shell.alert_job`` or
``inferwatch alerts run``); ``demo`` starts the local stack; ``dashboard_server`` starts Streamlit
(``app.py`` and ``dashboard/`` are the rest of this layer).

Layer: the top, with the dashboard. It may import every layer below; nothing imports it but
``dashboard`` and ``app``.
"""
