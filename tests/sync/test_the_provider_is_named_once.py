"""A provider that cannot start (its refresh token refused) is named once in the line about it:
the API error's own message already begins with the provider."""

from __future__ import annotations

from datetime import datetime, timezone

from api_clients.errors import ReconnectRequired, classify_error
from sync.report import account_line
from sync.run import RunOutcome
from sync.runner import ResourceResult

REFUSED = ReconnectRequired("whoop", "the refresh token was refused (invalid_grant)", "alice")


def test_a_refused_provider_in_a_run_of_several_accounts_is_named_once():
    message, reconnect = classify_error(REFUSED)
    failed = ResourceResult("whoop", "*", status="failed", error=message, reconnect=reconnect)
    line = account_line(RunOutcome([failed], 3, [], "alice"), {}, datetime.now(timezone.utc))
    assert "whoop: whoop:" not in line
    assert line.splitlines()[1].strip() == message


def test_a_message_that_does_not_name_its_provider_gets_it():
    from api_clients.errors import naming_provider

    assert naming_provider("withings", "no token") == "withings: no token"
    assert naming_provider("whoop", str(REFUSED)) == str(REFUSED)


def test_a_refused_re_connect_names_the_provider_once(etl_env, monkeypatch):
    from click.testing import CliRunner

    import etl
    from api_clients.errors import ApiError

    def refused(*args, **kwargs):
        raise ApiError("whoop", "the authorization code was refused (invalid_grant)", 400)

    monkeypatch.setattr("api_clients.oauth_flow.connect", refused)
    result = CliRunner().invoke(etl.cli, ["connect", "whoop", "--no-browser", "--account", "alice"])
    assert result.exit_code == 1, result.output
    assert "whoop: connection failed: the authorization code was refused (invalid_grant)" in result.output
    assert result.output.count("whoop:") == 1, result.output
