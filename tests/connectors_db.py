"""Database servers for the connector tests: URLs, availability, throw-away table names.

Locally a missing server skips its tests with the reason; under ``CI=true`` it fails them (``.ci/run``
starts PostgreSQL and MariaDB, so a missing server there is a broken CI, not a reason to pass).
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("GRIDHUB_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get(
    "GRIDHUB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
)


def unique_name(prefix: str = "gh_conn") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def require_server(url: str) -> sa.Engine:
    """An engine for ``url``, or skip (locally) / fail (CI=true) with the reason the server is unusable."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as e:
        engine.dispose()
        reason = (
            f"database server for {engine.url.render_as_string(hide_password=True)} is not reachable: "
            + str(e.orig).splitlines()[0]
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: .ci/run must start it)")
        pytest.skip(reason)
    return engine
