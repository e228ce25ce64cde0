"""Messages name the command the user ran (`whoop-etl` or `python etl.py`) and the `.env` they edit."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

import etl
from api_clients.errors import reconnect_command
from commands.mcp import MCP_REQUIREMENT, missing_extra
from configuration import invocation, settings
from dashboard import render
from storage import accounts
from tests.helpers.etl import run_etl


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """This copy laid out as pip installs it (no pyproject.toml beside it), with XDG folders in tmp_path."""
    monkeypatch.setattr(settings, "PROJECT_DIR", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setattr(invocation, "_program", None)
    return tmp_path / "config" / "whoop-etl" / ".env"


@pytest.mark.parametrize(
    "argv0, expected",
    [
        ("/home/me/.local/bin/whoop-etl", "whoop-etl connect whoop"),
        ("C:\\venv\\Scripts\\whoop-etl.exe", "whoop-etl connect whoop"),
        ("etl.py", "python etl.py connect whoop"),
    ],
)
def test_the_command_follows_how_etl_main_was_started(monkeypatch, argv0, expected):
    monkeypatch.setattr(invocation, "_program", None)
    invocation.note_invocation(argv0.replace("\\", "/"))
    assert reconnect_command("whoop") == expected


def test_a_checkout_says_python_etl_py_and_points_at_env_example(monkeypatch):
    monkeypatch.setattr(invocation, "_program", None)
    assert invocation.command("status") == "python etl.py status"
    assert invocation.env_file_hint() == f"{settings.PROJECT_DIR / '.env'} (see .env.example)"


def test_an_installed_user_sees_whoop_etl_and_the_real_path_of_their_env(installed, monkeypatch, capsys):
    for name in ("WHOOP_CLIENT_ID", "WHOOP_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "argv", ["/opt/venv/bin/whoop-etl", "connect", "whoop"])
    with pytest.raises(SystemExit) as exited:
        etl.main()
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET in {installed} first" in err
    assert ".env.example" not in err and reconnect_command("whoop") == "whoop-etl connect whoop"


def test_an_installed_run_without_a_provider_names_the_env_path(installed, db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    for name in ("WHOOP_CLIENT_ID", "WITHINGS_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run_etl()
    assert code == 2 and f"in {installed}" in err and ".env.example" not in err


def test_an_installed_status_check_names_the_installed_connect_command(installed, etl_env, monkeypatch):
    monkeypatch.delenv("WHOOP_REFRESH_TOKEN")
    result = CliRunner().invoke(etl.cli, ["status", "--check", "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 3
    assert {
        "source": "whoop",
        "resource": "*",
        "kind": "reconnect",
        "message": "whoop is not connected: run `whoop-etl connect whoop`",
        "account": "default",
    } in report["problems"]


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("/home/me/.local/share/pipx/venvs/whoop-etl", "`pipx inject whoop-etl 'mcp==2.3.0'`"),
        ("/home/me/.local/share/uv/tools/whoop-etl", "`uv tool install --force '/path/to/whoop-data-platform[mcp]'`"),
        ("/home/me/venvs/whoop", "-m pip install 'mcp==2.3.0'`"),
    ],
)
def test_the_mcp_extras_hint_fits_how_the_command_was_installed(installed, monkeypatch, prefix, expected):
    monkeypatch.setattr(sys, "prefix", prefix)
    assert expected in missing_extra()


def test_a_checkouts_mcp_hint_names_its_requirements_file_and_the_pin_is_that_files():
    assert "`.venv/bin/pip install -r requirements-mcp.txt`" in missing_extra()
    pins = (settings.PROJECT_DIR / "requirements-mcp.txt").read_text().split()
    assert MCP_REQUIREMENT in pins


def test_an_installed_empty_dashboard_never_offers_the_checkouts_demo(installed):
    card = render._empty_card()
    assert "whoop-etl connect whoop" in card and "demo" not in card


def test_a_checkouts_empty_dashboard_offers_the_demo_script(monkeypatch):
    monkeypatch.setattr(invocation, "_program", None)
    assert "<code>./scripts/demo.sh</code>" in render._empty_card() and "make demo" not in render._empty_card()


def test_an_account_held_by_another_names_the_full_remove_command(engine):
    with engine.begin() as conn:
        alice, default = (accounts.ensure(conn, name) for name in ("alice", "default"))
        accounts.link(conn, default, "whoop", 7)
        with pytest.raises(accounts.AccountConflict, match="`python etl.py accounts remove default`"):
            accounts.link(conn, alice, "whoop", 7)


def test_inside_the_menu_the_next_step_after_a_connect_is_choose_1(monkeypatch):
    monkeypatch.setattr(invocation, "_program", None)
    assert invocation.sync_step() == "run `python etl.py`"
    monkeypatch.setattr(invocation, "_in_menu", False)
    invocation.note_menu()
    assert invocation.sync_step() == "choose 1"
