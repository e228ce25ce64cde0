"""`webhooks subscribe|list|revoke|status` against the sandbox, and `status --check` when push is on.

The sandbox answers Withings' `notify` like Withings: it sends a HEAD to the callback before it
accepts a subscription, so these tests subscribe the running receiver's real notification URL.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import etl
import models
from configuration import clock
from configuration.push import WITHINGS_APPLIS
from storage.inbound import InboundEvent, store_event
from sync import resources
from tests.helpers.etl import run_etl
from tests.webhooks.conftest import PATH_SECRET, WHOOP_USER, WITHINGS_USER

ALL = sorted(WITHINGS_APPLIS)


@pytest.fixture
def env(etl_env, receiver, monkeypatch):
    """The ETL's settings against the sandbox, the receiver's secret configured."""
    monkeypatch.setenv("WITHINGS_WEBHOOK_SECRET", PATH_SECRET)
    for resource in resources.RESOURCES:  # the sandbox's clock runs a day behind ours
        monkeypatch.setenv(f"STALE_AFTER_{resource.source.upper()}_{resource.name.upper()}", "7d")
    return etl_env


def cli(*args: str):
    result = CliRunner().invoke(etl.cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def held(sandbox, url=None) -> list[tuple[int, str]]:
    """The sandbox's subscriptions (of `url` only, when given), sorted."""
    subs = sandbox.app.push.subscriptions
    return sorted((s["appli"], s["callbackurl"]) for s in subs if url is None or s["callbackurl"] == url)


def stored(engine) -> list[tuple[int, str]]:
    table = models.push_subscription
    with engine.connect() as conn:
        return sorted(conn.execute(select(table.c.appli, table.c.callback)).all())


def heads(caplog) -> int:
    """HEAD requests the receiver answered (its access log names the route, never the secret)."""
    return sum('"HEAD /webhooks/withings/[secret]" 200' in r.getMessage() for r in caplog.records)


def test_subscribing_twice_holds_one_subscription_per_category_and_never_shows_the_secret(env, receiver, caplog):
    caplog.set_level(logging.INFO)
    url = receiver.withings_url
    code, out, err = cli("webhooks", "subscribe", "--url", url, "--restricted")
    assert code == 0, out + err
    assert held(env) == [(appli, url) for appli in ALL]
    assert heads(caplog) == len(ALL)  # Withings (the sandbox) checked the URL before each subscription
    assert "subscribed" in out and "restricted mode" in err
    code, again, err = cli("webhooks", "subscribe", "--url", url, "--restricted")
    assert code == 0 and "nothing to do" in again, again + err
    assert held(env) == [(appli, url) for appli in ALL]  # listed first: nothing subscribed twice
    assert heads(caplog) == len(ALL)
    assert PATH_SECRET not in caplog.text
    masked = url.replace(PATH_SECRET, PATH_SECRET[:4] + "…")
    assert stored(receiver.engine) == [(appli, masked) for appli in ALL]
    for text in (out, again, err):
        assert PATH_SECRET not in text
    code, listed, _ = cli("webhooks", "list")
    assert code == 0 and listed.count("->") == len(ALL) and PATH_SECRET not in listed


def test_revoke_removes_only_that_urls_subscriptions(env, receiver):
    url = receiver.withings_url
    other = url.replace("127.0.0.1", "localhost")  # the same receiver, another callback URL
    assert cli("webhooks", "subscribe", "--url", other, "--restricted")[0] == 0
    assert cli("webhooks", "subscribe", "--url", url, "--restricted")[0] == 0
    code, out, err = cli("webhooks", "revoke", "--url", url, "--restricted")
    assert code == 0 and "revoked" in out, out + err
    assert "8 subscription(s) to other URLs left as they are" in out
    assert held(env) == [(appli, other) for appli in ALL]
    assert [appli for appli, _callback in stored(receiver.engine)] == ALL
    code, out, _ = cli("webhooks", "revoke", "--url", url, "--restricted")
    assert code == 0 and "held no subscription" in out


def test_a_url_the_head_check_cannot_reach_subscribes_nothing_and_says_why(env, receiver):
    wrong = receiver.withings_url.replace(PATH_SECRET, "Wr0ngSecretWr0ngSecretWr0ngSecret")  # HEAD: 404
    code, out, err = cli("webhooks", "subscribe", "--url", wrong, "--restricted")
    assert code == 1 and held(env) == []
    assert "subscribing appli 1 (weight and body measures): " in err and "status 293" in err, err
    assert "HEAD check" in err and "is `serve` running" in err, err
    assert "Wr0ngSecretWr0ng" not in out + err and PATH_SECRET not in out + err


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"http://push.example.org/webhooks/withings/{PATH_SECRET}", "not HTTPS"),
        (f"https://203.0.113.9/webhooks/withings/{PATH_SECRET}", "IP address or localhost"),
        (f"https://push.example.org:8443/webhooks/withings/{PATH_SECRET}", "port is 8443"),
        ("https://push.example.org/" + "a/" * 130, "over 255"),
    ],
)
def test_a_url_withings_would_refuse_is_refused_before_any_request(env, url, why):
    before = len(env.app.requests) if hasattr(env.app, "requests") else None
    code, out, err = cli("webhooks", "subscribe", "--url", url)
    assert code == 2 and why in err and "--restricted" in err, err
    assert PATH_SECRET not in out + err
    if before is not None:
        assert len(env.app.requests) == before


def test_an_https_url_on_a_domain_passes_the_rule():
    from configuration.push import check_callback

    assert check_callback(f"https://push.example.org/webhooks/withings/{PATH_SECRET}") == []
    assert check_callback(f"https://push.example.org:443/webhooks/withings/{PATH_SECRET}") == []


def test_webhooks_status_shows_each_provider_its_subscriptions_and_its_last_event(env, receiver, monkeypatch):
    monkeypatch.setenv("PUSH_PROVIDERS", "whoop,withings")
    assert cli("webhooks", "subscribe", "--url", receiver.withings_url, "--restricted")[0] == 0
    env.app.push.subscriptions[:] = [s for s in env.app.push.subscriptions if s["appli"] != 50]  # Withings dropped one
    code, out, err = cli("webhooks", "status")
    assert code == 0, out + err
    assert "whoop: push on, silent; last event never" in out
    assert "WHOOP developer dashboard" in out
    assert "withings: push on, silent; last event never" in out and "missing: 50" in out
    assert PATH_SECRET not in out
    two_hours_ago = clock.utcnow() - timedelta(hours=2)
    store_event(receiver.engine, _whoop_event(), two_hours_ago)
    code, out, _ = cli("webhooks", "status", "--stored", "--json")
    whoop, withings = json.loads(out)["accounts"][0]["providers"]
    assert (whoop["push"], whoop["silent"], whoop["last_event"][:16]) == (True, False, two_hours_ago.isoformat()[:16])
    assert withings["missing"] == [50] and withings["subscribed"] == [a for a in ALL if a != 50]
    code, utc, _ = cli("webhooks", "status", "--stored")
    assert code == 0 and "default (times in UTC)" in utc
    assert f"whoop: push on; last event {two_hours_ago:%Y-%m-%d %H:%M} (2 h ago)" in utc
    code, local, _ = cli("webhooks", "status", "--stored", "--local-time")
    assert code == 0 and "the dashboard's zone" in local.splitlines()[0]


def _whoop_event(trace: str = "trace-1") -> InboundEvent:
    return InboundEvent(
        provider="whoop",
        dedupe_key=f"whoop:{trace}",
        user_id=WHOOP_USER,
        payload={"user_id": WHOOP_USER, "id": "x", "type": "sleep.updated", "trace_id": trace},
        event_type="sleep.updated",
        object_id="x",
        trace_id=trace,
    )


def _withings_event(startdate: int) -> InboundEvent:
    fields = {"userid": WITHINGS_USER, "appli": 1, "startdate": startdate, "enddate": startdate + 1}
    return InboundEvent(
        provider="withings",
        dedupe_key=f"withings:{WITHINGS_USER}:1:{startdate}",
        user_id=WITHINGS_USER,
        payload=fields,
        appli=1,
        startdate=startdate,
        enddate=startdate + 1,
    )


def check() -> tuple[int, list[str]]:
    code, _out, err = cli("status", "--check")
    return code, [line for line in err.splitlines() if line.strip()]


def test_status_check_fails_on_a_missing_subscription_then_on_a_silent_push(env, receiver, monkeypatch):
    assert run_etl()[0] == 0
    assert check() == (0, [])  # push off: nothing about it
    monkeypatch.setenv("PUSH_PROVIDERS", "withings")
    code, lines = check()
    assert code == 1 and len(lines) == 1, lines
    assert "not subscribed" in lines[0] and "webhooks subscribe" in lines[0]
    assert cli("webhooks", "subscribe", "--url", receiver.withings_url, "--restricted")[0] == 0
    code, lines = check()
    assert code == 1 and len(lines) == 1 and "has brought no event yet" in lines[0], lines
    store_event(receiver.engine, _withings_event(1), clock.utcnow() - timedelta(hours=27))
    code, lines = check()
    assert code == 1 and len(lines) == 1 and "silent: no event for 27 h" in lines[0], lines
    assert "webhooks status" in lines[0]
    monkeypatch.setenv("PUSH_SILENT_AFTER", "2d")
    assert check() == (0, [])
    monkeypatch.setenv("PUSH_SILENT_AFTER", "26h")
    store_event(receiver.engine, _withings_event(2), clock.utcnow() - timedelta(minutes=5))
    assert check() == (0, [])


def test_a_whoop_push_that_stops_fails_the_check_naming_the_dashboard(env, receiver, monkeypatch):
    assert run_etl()[0] == 0
    monkeypatch.setenv("PUSH_PROVIDERS", "whoop")
    store_event(receiver.engine, _whoop_event(), clock.utcnow() - timedelta(hours=30))
    code, lines = check()
    assert code == 1 and len(lines) == 1, lines
    assert "whoop push is silent: no event for 30 h" in lines[0] and "WHOOP developer dashboard" in lines[0]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PUSH_PROVIDERS", "whoop,garmin", "whoop, withings or whoop,withings"),
        ("PUSH_SILENT_AFTER", "26", "a duration from 1h to 2w"),
        ("PUSH_SILENT_AFTER", "3w", "a duration from 1h to 2w"),
    ],
)
def test_a_bad_push_setting_is_named(monkeypatch, name, value, message):
    from configuration.settings import SettingError, get_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=name) as refused:
        get_settings(read_dotenv=False)
    assert message in str(refused.value)


def test_removing_an_account_forgets_its_stored_subscriptions(engine):
    from storage import accounts, subscriptions

    with engine.begin() as conn:
        alice, bob = accounts.ensure(conn, "alice"), accounts.ensure(conn, "bob")
        for account in (alice, bob):
            subscriptions.replace(
                conn, account, "withings", [(1, "https://a.example/x"), (44, "https://a.example/x")], clock.utcnow()
            )
    with engine.begin() as conn:
        accounts.remove(conn, alice)
    with engine.connect() as conn:
        assert [s["appli"] for s in subscriptions.stored(conn, bob)] == [1, 44]
        assert subscriptions.stored(conn, alice) == []


def test_a_named_account_without_withings_is_told_to_connect_and_an_unknown_one_is_refused(env, receiver):
    from storage import accounts

    with receiver.engine.begin() as conn:
        accounts.ensure(conn, "bob")
    code, out, err = cli("webhooks", "list", "--account", "bob")
    assert code == 3 and "connect withings --account bob" in err, out + err
    code, _out, err = cli("webhooks", "status", "--account", "carol")
    assert code == 2 and "carol" in err
