"""Shared fixtures. ``store_url``: a fresh, empty store, once on SQLite and once on PostgreSQL.

PostgreSQL comes from ``INFERWATCH_TEST_PG_URL``, else the local socket URL that ``.ci/postgres.sh``
prints. It is never skipped: an unreachable server fails the PostgreSQL half with a message saying how
to start it (locally, ``-m "not postgres"`` deselects that half). Each test gets its own schema.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tests.homes import use_home
from tests.own_models import OwnModel, build_own_models


def default_test_pg_url() -> str:
    return f"postgresql+psycopg://{getpass.getuser()}@/inferwatch_test?host=/var/run/postgresql"


@pytest.fixture(scope="session")
def _pg_server() -> tuple[str, str | None]:
    """(base URL, None) when the server answers, else (base URL, why not). Checked once per session."""
    url = os.environ.get("INFERWATCH_TEST_PG_URL") or default_test_pg_url()
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        cause = getattr(exc, "orig", None) or exc
        return url, (f"PostgreSQL is not reachable at {shown} ({type(cause).__name__}: "
                     f"{str(cause).strip()}). Run `bash .ci/postgres.sh` and export "
                     "INFERWATCH_TEST_PG_URL with the URL it prints; locally, -m 'not postgres' deselects.")
    finally:
        engine.dispose()
    return url, None


def _pg_schema_url(base: str, schema: str) -> str:
    url = make_url(base)
    # libpq options: every connection of the store under test lands in its own schema, and is
    # tagged so that teardown can close connections a test leaked.
    query = dict(url.query) | {"options": f"-csearch_path={schema}", "application_name": schema}
    return url.set(query=query).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for ``Store.open``: an empty SQLite file, or an empty schema in the test database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inferwatch.db'}"
        return
    base, problem = request.getfixturevalue("_pg_server")
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _pg_schema_url(base, schema)
        with admin.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = :s AND pid <> pg_backend_pid()"), {"s": schema})
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Inferwatch home (and working folder) with no store URL or config from the environment."""
    return use_home(tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def own_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OwnModel]:
    """Three models that are not the demo's (tests/own_models.py), with their reference data, made once."""
    return build_own_models(tmp_path_factory.mktemp("own-models"))
