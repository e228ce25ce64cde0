"""Messages agree with exit codes: no source configured, busy ports, a dashboard open to the network."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

import etl
from tests.conftest import PROJECT_DIR


@pytest.fixture
def busy_port():
    """A loopback port another program is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("WHOOP_", "WITHINGS_", "DATABASE_URL", "DASHBOARD_"))
    }
    return {**env, "WHOOP_PLATFORM_NO_DOTENV": "1", **extra}


def test_no_source_configured_json_and_log_line_carry_exit_2(tmp_path, monkeypatch):
    """Before: "run finished: exit 0" and "exit_code": 0, then the process exited 2."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    as_json = CliRunner().invoke(etl.cli, ["--json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["exit_code"] == 2
    plain = CliRunner().invoke(etl.cli, [])
    assert plain.exit_code == 2
    assert "run finished: exit 2" in plain.stderr and "exit 0" not in plain.stderr


def test_menu_says_no_source_is_configured_instead_of_all_synced(tmp_path):
    result = subprocess.run(
        [sys.executable, "run_app.py"],
        input="1\nq\n",
        text=True,
        capture_output=True,
        cwd=PROJECT_DIR,
        env=_env(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "No source is configured" in result.stdout and "WHOOP_CLIENT_ID" in result.stdout
    assert "All synced." not in result.stdout


def test_dashboard_on_a_busy_port_names_the_port(busy_port, db_url):
    """Before: "'DashboardServer' object has no attribute 'engine'"."""
    result = CliRunner().invoke(etl.cli, ["dashboard", "--port", str(busy_port)], env={"DATABASE_URL": db_url})
    assert result.exit_code == 1
    assert f"port {busy_port}" in result.output and "attribute" not in result.output
    module = subprocess.run(
        [sys.executable, "-m", "dashboard", "--port", str(busy_port), "--database-url", db_url],
        cwd=PROJECT_DIR,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert module.returncode == 1
    assert f"port {busy_port}" in module.stderr and "Traceback" not in module.stderr


@pytest.mark.parametrize("command", [["etl.py", "dashboard"], ["-m", "dashboard"]])
@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("127.0.0.1", False)])
def test_non_loopback_host_warns_that_the_page_has_no_authentication(command, host, warned, tmp_path):
    env = _env(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    proc = subprocess.Popen(
        [sys.executable, *command, "--host", host, "--port", "0"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("Dashboard on http://")
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert ("no authentication" in stderr and "health data" in stderr) == warned, stderr


def _demo_module():
    spec = importlib.util.spec_from_file_location("demo_script", PROJECT_DIR / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which", ["callback", "dashboard"])
def test_demo_names_the_busy_port_before_deleting_anything(which, busy_port, tmp_path, monkeypatch):
    """Before: "[Errno 98] Address already in use", after deleting the previous demo database."""
    demo = _demo_module()
    previous = tmp_path / "data" / "demo.db"
    previous.parent.mkdir()
    previous.write_text("the previous demo's data")
    monkeypatch.setattr(demo, "DEMO_DB", previous)
    if which == "callback":
        monkeypatch.setattr(demo, "CALLBACK_URI", f"http://127.0.0.1:{busy_port}/callback")
    else:
        monkeypatch.setattr(demo, "CALLBACK_URI", "http://127.0.0.1:0/callback")  # port 0 is always free
        monkeypatch.setenv("DASHBOARD_PORT", str(busy_port))
    monkeypatch.setattr(demo, "start_sandbox", lambda *_: pytest.fail("the demo started after a port check failed"))
    with pytest.raises(SystemExit) as stopped:
        demo.main()
    assert f"port {busy_port}" in str(stopped.value.code)
    assert previous.read_text() == "the previous demo's data"
