"""A small database with every kind of row, and a token whose value must never come out."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session

from storage.engine import make_engine
from configuration.clock import utcnow
from models import OAuthToken
from tests import factories as f
from tests import loaders

SECRET = "tok-SECRET-never-exported-4711"


def fill(url: str, days: int = 5) -> None:
    """Cycles, recoveries, sleeps, workouts, weigh-ins, blood pressure, and one OAuth token."""
    engine = make_engine(url)
    with Session(engine) as session:
        loaders.load_cycles(session, [f.cycle(n) for n in range(days)])
        loaders.load_recovery(session, [f.recovery(n) for n in range(days)])
        loaders.load_sleep(session, [f.sleep(n) for n in range(days)])
        loaders.load_workout(session, [f.workout(n) for n in range(days)])
        loaders.load_withings_measures(session, [f.weight_group(100 + n, day=n) for n in range(days)]
                                         + [f.bp_group(200 + n, day=n) for n in range(days)],
                                         user_id=f.USER_ID, timezone="Europe/Paris")
        session.execute(insert(OAuthToken).values(
            provider="whoop", user_id=f.USER_ID, access_token=SECRET, refresh_token=SECRET,
            expires_at=utcnow() + timedelta(hours=1), scope="read:cycles", updated_at=utcnow()))
        session.commit()
    engine.dispose()
