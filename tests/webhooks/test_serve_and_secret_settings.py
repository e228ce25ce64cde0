"""`webhooks secret`, WITHINGS_WEBHOOK_SECRET's check, and `serve`'s refusals: clear, never showing the secret."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import etl
from configuration import logs, settings
from configuration.settings import SettingError, check_webhook_secret


def test_webhooks_secret_prints_a_fresh_secret_the_setting_accepts():
    first, second = (CliRunner().invoke(etl.cli, ["webhooks", "secret"]) for _ in range(2))
    assert first.exit_code == 0 and first.output.startswith("WITHINGS_WEBHOOK_SECRET=")
    value = first.output.strip().split("=", 1)[1]
    assert check_webhook_secret(value) == value and len(value) >= 43
    assert second.output != first.output


@pytest.mark.parametrize(
    "value",
    ["Xq3vT9mKp2Lw8Zr5Nb7Yc4", "0123456789abcdef0123456789abcdef"[::-1], "a1b2c3d4e5f60718293a4b5c6d7e8f90"],
)
def test_secrets_of_128_bits_are_accepted(value):
    assert check_webhook_secret(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "Xq3vT9mKp2Lw8Zr5Nb7Yc",  # 21 base64 characters: 126 bits
        "a1b2c3d4e5f60718293a4b5c6d7e8f9",  # 31 hex characters: 124 bits
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  # long, but one character
        "Xq3vT9mKp2Lw8Zr5Nb7Yc4/secret",  # a slash would end the URL's path segment
        "Xq3vT9mKp2Lw8Zr5Nb7Yc4%20x",
    ],
)
def test_weak_or_unsafe_secrets_are_refused_without_showing_them(value):
    with pytest.raises(SettingError) as refused:
        check_webhook_secret(value)
    assert value not in str(refused.value) and "webhooks secret" in str(refused.value)


def test_the_secret_is_masked_once_read(monkeypatch):
    monkeypatch.setenv("WITHINGS_WEBHOOK_SECRET", "Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A")
    loaded = settings.get_settings(read_dotenv=False)
    assert "Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A" not in repr(loaded)
    assert (
        logs.redact("path /webhooks/withings/Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A") == "path /webhooks/withings/[redacted]"
    )


def test_serve_with_nothing_to_receive_says_what_to_set(monkeypatch, db_url):
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(etl.cli, ["serve"])
    assert result.exit_code == 2 and "WITHINGS_WEBHOOK_SECRET" in result.output and "webhooks secret" in result.output


def test_serve_with_a_weak_secret_exits_2_naming_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("WITHINGS_WEBHOOK_SECRET", "short-secret")
    result = CliRunner().invoke(etl.cli, ["serve"])
    assert result.exit_code == 2 and "WITHINGS_WEBHOOK_SECRET is too guessable" in result.output
    assert "short-secret" not in result.output


def test_serve_refuses_a_database_behind_this_release(monkeypatch, empty_db_url):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    monkeypatch.setenv("WITHINGS_WEBHOOK_SECRET", "Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A")
    result = CliRunner().invoke(etl.cli, ["serve"])
    assert result.exit_code == 1 and ("upgrade" in result.output or "create and fill" in result.output)


def test_the_listening_socket_sends_answers_without_waiting_for_acks():
    import socket

    from webhooks.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
