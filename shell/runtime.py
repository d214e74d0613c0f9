"""What every command needs: the validated settings, the home folder and the store.

Only the edges read the environment; they do it here, through ``from_env(env)``, so tests pass a dict.
Environment variables (all optional):
  INFERWATCH_HOME       state folder (default ./.inferwatch): SQLite store, telemetry, DLQ, reports
  INFERWATCH_CONFIG     path of inferwatch.toml (default ./inferwatch.toml if present)
  INFERWATCH_STORE_URL  SQLAlchemy URL of the store (default SQLite under INFERWATCH_HOME)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inferwatch.config import Settings, config_path_from_env, home_from_env, load_settings
from inferwatch.errors import ConfigError
from inferwatch.paths import usable_folder
from inferwatch.store import Store, StoreConfigError, parse_store_url, store_url_from_env
from readmodels.sections import Sections, validate_sections


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    home: Path
    store_url: str = field(repr=False)  # may carry a password from the environment
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    # [drift], [alerts], [notifiers] and [prices] parsed by their packages. Made here, so no Runtime
    # exists for a config any part of Inferwatch would refuse (readmodels/sections.py says why).
    sections: Sections = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sections", validate_sections(self.settings))

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] = os.environ,
        *,
        config: Path | None = None,
        home: Path | None = None,
    ) -> Runtime:
        what = "--home" if home else "INFERWATCH_HOME" if env.get("INFERWATCH_HOME") else "home folder"
        home = usable_folder(home or home_from_env(env), what=what)
        settings = load_settings(config or config_path_from_env(env), env)
        url = env.get("INFERWATCH_STORE_URL") or settings.store.url or store_url_from_env(home, {})
        try:
            parse_store_url(url)
        except StoreConfigError as exc:
            source = settings.source_path or "<config>"
            where = "INFERWATCH_STORE_URL" if env.get("INFERWATCH_STORE_URL") else f"{source}: store.url"
            raise ConfigError(f"{where}: {exc}", field=where.rpartition(": ")[2], path=source) from exc
        return cls(settings=settings, home=home, store_url=url, env=dict(env))

    def open_store(self) -> Store:
        usable_folder(self.home, what="home folder", create=True)
        return Store.open(self.store_url)
