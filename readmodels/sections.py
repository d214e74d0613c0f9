"""The sections of inferwatch.toml that domain packages own (``[drift]``, ``[alerts]``,
``[notifiers]``, ``[prices]``), validated once, each by its own package's parser, whenever a
:class:`~shell.runtime.Runtime` is made.

Why here: ``inferwatch/config.py`` is the foundation and may not import drift/, alerts/ or costs/,
so it keeps those sections as raw tables (refusing only what no section accepts: inf and nan).
The shell may import them, and every verb, ``inferwatch config check`` and the alert job get their
Runtime the same way: they accept the same files and refuse the others with the same one line,
naming the field (``inferwatch.toml: alerts.rules[2].kind: Field required``).

What depends on the machine rather than the file (a notifier's environment variable, its CA
file, the store answering) is checked by the verbs that use it, and by ``config check``.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.errors import AlertConfigError
from alerts.settings import AlertSettings, parse_alert_settings
from costs.catalogue import PriceCatalogue, load_catalogue
from costs.errors import PriceCatalogueError
from drift.errors import InvalidInputError
from drift.settings import DriftSettings, settings_from_mapping
from inferwatch.config import Settings
from inferwatch.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Sections:
    """The domain sections, parsed: what verbs use instead of the raw tables of :class:`Settings`."""
    drift: DriftSettings
    alerts: AlertSettings
    prices: PriceCatalogue


def validate_sections(settings: Settings) -> Sections:
    """Parse every domain section; :class:`ConfigError` (with ``field``) for the first bad one."""
    # Imported here, not at the top: `inferwatch --help` and the function side need none of them.

    source = settings.source_path or "<config>"
    try:
        return Sections(drift=settings_from_mapping(settings.drift),
                        alerts=parse_alert_settings(settings.alerts, settings.notifiers),
                        prices=load_catalogue(settings.prices))
    except (InvalidInputError, AlertConfigError, PriceCatalogueError) as exc:
        raise ConfigError(f"{source}: {exc}", field=exc.field, path=source) from exc
