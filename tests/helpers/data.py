"""A small database with every kind of row, and a token whose value must never come out."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from configuration import clock
from models import Account, OAuthToken
from storage.engine import make_engine
from tests.helpers import factories as f
from tests.helpers import loaders
from tests.helpers.accounts import file_under_default

SECRET = "tok-SECRET-never-exported-4711"


def fill(url: str, days: int = 5) -> None:
    """Cycles, recoveries, sleeps, workouts, weigh-ins, blood pressure, and one OAuth token, all
    of the `default` account (its provider users linked, as a token save links them)."""
    file_under_default(url, {"whoop": f.USER_ID, "withings": f.USER_ID})
    engine = make_engine(url)
    with Session(engine) as session:
        loaders.load_cycles(session, [f.cycle(n) for n in range(days)])
        loaders.load_recovery(session, [f.recovery(n) for n in range(days)])
        loaders.load_sleep(session, [f.sleep(n) for n in range(days)])
        loaders.load_workout(session, [f.workout(n) for n in range(days)])
        loaders.load_withings_measures(
            session,
            [f.weight_group(100 + n, day=n) for n in range(days)] + [f.bp_group(200 + n, day=n) for n in range(days)],
            user_id=f.USER_ID,
            timezone="Europe/Paris",
        )
        session.execute(
            insert(OAuthToken).values(
                account_id=select(Account.id).where(Account.name == "default").scalar_subquery(),
                provider="whoop",
                user_id=f.USER_ID,
                access_token=SECRET,
                refresh_token=SECRET,
                expires_at=clock.utcnow() + timedelta(hours=1),
                scope="read:cycles",
                updated_at=clock.utcnow(),
            )
        )
        session.commit()
    engine.dispose()


def readme_roles_recipe() -> list[str]:
    """The SQL blocks of the README's "PostgreSQL roles" section, as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### PostgreSQL roles", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


def revoke_advisory_locks(conn) -> None:
    """The recipe's REVOKE of the advisory-lock functions from PUBLIC, in the database of `conn`."""
    first = readme_roles_recipe()[0]
    revoke = first[first.index("REVOKE EXECUTE ON FUNCTION") :]
    conn.exec_driver_sql(revoke[: revoke.index(";")])


@contextmanager
def reader_role(url: str) -> Iterator[str]:
    """A URL for a PostgreSQL login role made by the README's recipe (SELECT on all but oauth_token,
    no advisory lock)."""
    role = f"whoop_reader_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        revoke_advisory_locks(conn)
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        conn.exec_driver_sql(f"REVOKE SELECT ON oauth_token FROM {role}")
    try:
        yield make_url(url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()
