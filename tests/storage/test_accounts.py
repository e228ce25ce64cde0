"""Accounts in the database: the upgrade files everything under `default`, tokens are per account,
and one provider user belongs to one account."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from api_clients.oauth import Token
from models import Base
from storage import accounts, migrate
from storage.engine import make_engine
from storage.tokens import DbTokenStore

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _insert(conn, table, **values):
    conn.execute(Base.metadata.tables[table].insert().values(**values))


def _fill_a_1_2_0_database(engine) -> None:
    """What a 1.2.0 database holds: one person's tokens, sync states, quarantine and rows, and
    rows of a Withings user whose token was deleted."""
    with engine.begin() as conn:
        for provider, user in (("whoop", 10129), ("withings", 7)):
            conn.execute(
                text(
                    "INSERT INTO oauth_token (provider, user_id, access_token, refresh_token, expires_at, updated_at) "
                    "VALUES (:p, :u, 'a', 'r', :t, :t)"
                ),
                {"p": provider, "u": user, "t": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO sync_state (source, resource, user_id, status, last_success_at) "
                    "VALUES (:p, 'x', :u, 'ok', :t)"
                ),
                {"p": provider, "u": user, "t": T0},
            )
        conn.execute(
            text(
                "INSERT INTO quarantine (source, resource, fingerprint, user_id, payload, reason, first_seen_at, "
                "last_seen_at, attempts) VALUES ('whoop', 'recovery', 'id=1', 10129, '{}', 'bad', :t, :t, 1)"
            ),
            {"t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO withings_weight (user_id, grpid, measured_at, weight_kg, attrib, raw, synced_at) "
                "VALUES (99, 5, :t, 80.5, 0, :raw, :t)"
            ),
            {"t": T0, "raw": json.dumps({})},
        )


def test_a_1_2_0_database_upgrades_into_the_default_account_with_nothing_lost(empty_db_url):
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine, "0007_daily_view")
    _fill_a_1_2_0_database(engine)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        default = accounts.find(conn, "default")
        assert default is not None
        for table, count in (("oauth_token", 2), ("sync_state", 2), ("quarantine", 1), ("withings_weight", 1)):
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == count
        for table in ("oauth_token", "sync_state", "quarantine"):
            assert set(conn.execute(text(f"SELECT account_id FROM {table}")).scalars()) == {default}
        [row] = accounts.list_accounts(conn)
    assert row.name == "default"
    # The rows of a user whose token is gone still have an owner.
    assert row.users == {"whoop": [10129], "withings": [7, 99]}
    store = DbTokenStore(engine)
    assert store.load("whoop").refresh_token == "r"
    engine.dispose()


def _token(user_id: int, refresh: str) -> Token:
    return Token(
        access_token="a-" + refresh,
        refresh_token=refresh,
        expires_at=T0 + timedelta(hours=1),
        scope=None,
        user_id=user_id,
    )


def test_tokens_belong_to_their_account(engine):
    alice, bob = DbTokenStore(engine, "alice"), DbTokenStore(engine, "bob")
    alice.save("whoop", _token(1, "alice-refresh"))
    bob.save("whoop", _token(2, "bob-refresh"))
    assert alice.load("whoop").refresh_token == "alice-refresh"
    assert bob.load("whoop").refresh_token == "bob-refresh"
    assert DbTokenStore(engine).load("whoop") is None  # the default account holds none
    bob.delete("whoop")
    assert bob.load("whoop") is None and alice.load("whoop") is not None
    with engine.connect() as conn:
        listed = {a.name: a.users for a in accounts.list_accounts(conn)}
    assert listed["alice"] == {"whoop": [1]} and listed["bob"] == {"whoop": [2]}  # links outlive a token


def test_a_provider_user_of_another_account_is_refused_and_nothing_is_saved(engine):
    DbTokenStore(engine, "alice").save("whoop", _token(1, "alice-refresh"))
    with pytest.raises(accounts.AccountConflict, match="alice"):
        DbTokenStore(engine, "bob").save("whoop", _token(1, "bob-refresh"))
    assert DbTokenStore(engine, "bob").load("whoop") is None
    assert DbTokenStore(engine, "alice").load("whoop").refresh_token == "alice-refresh"


def test_sync_state_and_quarantine_are_filed_under_the_users_account(engine):
    from sqlalchemy.orm import Session

    from storage.quarantine import Rejected, quarantine_records
    from storage.sync_state import record_sync_failure

    DbTokenStore(engine, "alice").save("withings", _token(7, "r"))
    with Session(engine) as session:
        record_sync_failure(session, "withings", "weight", 7, "boom")
        record_sync_failure(session, "withings", "weight", 8, "boom")  # a user no account holds
        quarantine_records(session, "withings", "weight", [Rejected({"grpid": 1}, "bad")], key_field="grpid", user_id=7)
        session.commit()
    with engine.connect() as conn:
        alice = accounts.find(conn, "alice")
        states = dict(conn.execute(text("SELECT user_id, account_id FROM sync_state")).all())
        held = conn.execute(text("SELECT account_id FROM quarantine")).scalar()
    assert states == {7: alice, 8: None}
    assert held == alice


def test_removing_an_account_keeps_its_rows_unfiled(engine):
    DbTokenStore(engine, "alice").save("whoop", _token(1, "r"))
    with engine.begin() as conn:
        accounts.remove(conn, accounts.require(conn, "alice"))
    with engine.connect() as conn:
        assert accounts.find(conn, "alice") is None
        assert conn.execute(text("SELECT COUNT(*) FROM oauth_token")).scalar() == 0
        with pytest.raises(accounts.UnknownAccount, match="accounts: default"):
            accounts.require(conn, "alice")


def test_account_names_follow_the_rule():
    from configuration.accounts import check_account_name

    assert check_account_name("alice-2") == "alice-2"
    for bad in ("", "Alice", "-x", "a b", "x" * 65):
        with pytest.raises(ValueError):
            check_account_name(bad)


def test_seeds_of_several_accounts_wait_for_their_user_ids_side_by_side(engine):
    seed = Token(access_token="", refresh_token="seed", expires_at=T0, scope=None, user_id=None)
    for name in ("alice", "bob"):
        DbTokenStore(engine, name).save("whoop", seed)
    assert DbTokenStore(engine, "alice").load("whoop").user_id is None
    DbTokenStore(engine, "bob").save("whoop", _token(2, "bob-refresh"))  # refreshed: the id is known
    assert DbTokenStore(engine, "bob").load("whoop").user_id == 2
    with engine.connect() as conn:
        assert {a.name: a.users for a in accounts.list_accounts(conn)}["bob"] == {"whoop": [2]}
