"""The Grafana pack (docs/deploy/grafana): every panel's SQL runs on both databases against two synced
sandbox people, with the columns the panel expects, and the documented way to open the SQLite
database on a read-only mount works (a live WAL database does not)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from readers import metrics
from scripts import grafana_dashboards as pack
from storage import account_policy
from storage.engine import make_engine
from tests.conftest import PROJECT_DIR
from tests.helpers.accounts import fill_two_accounts

GRAFANA = PROJECT_DIR / "docs" / "deploy" / "grafana"
FROM, TO = datetime(2000, 1, 1), datetime(2100, 1, 1)
# What each panel shows: its columns, in order (a time series' first is `time`).
COLUMNS = {panel.title: ["time", *panel.columns] if panel.columns else None for panel in pack.PANELS} | {
    "Body composition": ["time", "fat_mass_kg", "muscle_mass_kg", "bone_mass_kg", "hydration_kg"],
    "Freshness of every resource": ["source", "resource", "last_success", "hours_since", "status", "error"],
}
SQLITE_MACROS = {"timeFilter", "unixEpochGroupSeconds", "from", "to"}  # all the SQLite plugin expands


def _dashboard(dialect: str) -> dict:
    return json.loads((GRAFANA / "dashboards" / f"whoop-{dialect}.json").read_text())


def _sql(target: dict) -> str:
    return target.get("rawSql") or target["queryText"]


def _expand(sql: str, dialect: str, account: str) -> str:
    """The SQL the database receives: the person chosen, and `$__timeFilter` as each plugin writes it."""
    sql = sql.replace("$account", account)
    if dialect == "postgresql":  # Grafana's SQL datasources: the column between two RFC 3339 literals
        between = f"BETWEEN '{FROM.isoformat()}Z' AND '{TO.isoformat()}Z'"
        return re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 {between}", sql)
    # frser-sqlite-datasource's own expansion (pkg/plugin/macros.go): epoch seconds of the column.
    epoch = (int(FROM.timestamp()), int(TO.timestamp()))
    return re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: (
            f"CAST(CASE WHEN typeof({m[1]}) = 'integer' THEN {m[1]} ELSE strftime(\"%s\", {m[1]}) END AS INTEGER) "
            f"BETWEEN {epoch[0]} AND {epoch[1]}"
        ),
        sql,
    )


def test_the_dashboards_are_the_scripts_output_and_name_the_provisioned_datasources():
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "whoop.yaml").read_text())
    uids = {source["type"]: source["uid"] for source in provisioned["datasources"]}
    for dialect, (kind, uid) in pack.DATASOURCES.items():
        assert _dashboard(dialect) == json.loads(json.dumps(pack.dashboard(dialect))), (
            "run scripts/grafana_dashboards.py"
        )
        assert uids[kind] == uid
        for panel in _dashboard(dialect)["panels"]:
            assert panel["datasource"]["uid"] == uid and panel["targets"][0]["datasource"]["uid"] == uid
            if dialect == "sqlite":  # the plugin reads `queryText` and expands only its four macros
                assert set(re.findall(r"\$__(\w+)", panel["targets"][0]["queryText"])) <= SQLITE_MACROS


@pytest.fixture
def two_synced(db_url, monkeypatch):
    fill_two_accounts(db_url, monkeypatch)
    return db_url


def test_every_panel_runs_on_both_databases_with_the_columns_it_expects(two_synced):
    dialect = make_url(two_synced).get_backend_name()
    dashboard = _dashboard(dialect)
    engine = make_engine(two_synced)
    try:
        with engine.connect() as conn:
            names = conn.exec_driver_sql(dashboard["templating"]["list"][0]["definition"]).scalars().all()
            assert names == ["alice", "bob"]
            latest = metrics.latest(conn, "weight", account=account_policy.to_read(conn, ("alice",))[0].id)
            for panel in dashboard["panels"]:
                result = conn.exec_driver_sql(_expand(_sql(panel["targets"][0]), dialect, "alice"))
                columns, rows = list(result.keys()), [dict(r._mapping) for r in result]
                assert columns == COLUMNS[panel["title"]], panel["title"]
                assert rows, f"{panel['title']}: no rows for a synced person"
                if columns[0] == "time":
                    _check_series(panel["title"], rows, dialect)
                if panel["title"] == "Weight and body fat":  # the panel's last weigh-in is the read model's
                    assert [r["weight"] for r in rows if r["weight"] is not None][-1] == pytest.approx(latest["value"])
    finally:
        engine.dispose()


def _check_series(title: str, rows: list[dict], dialect: str) -> None:
    """Time as the plugin reads it (epoch seconds on SQLite, a timestamp on PostgreSQL), numbers after."""
    for row in rows:
        time, *values = row.values()
        assert isinstance(time, int) if dialect == "sqlite" else isinstance(time, (datetime, date)), (title, time)
        assert all(v is None or isinstance(v, (int, float)) or hasattr(v, "is_finite") for v in values), (title, row)
    assert any(v is not None for row in rows for v in list(row.values())[1:]), title


def _read_only_namespace() -> bool:
    """Whether this machine lets a test make a read-only bind mount (a user and mount namespace)."""
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


def _documented_snapshot() -> str:
    """The snapshot command docs/deploy/grafana/README.md gives."""
    text = (GRAFANA / "README.md").read_text()
    return next(line.strip() for line in text.splitlines() if line.strip().startswith("sqlite3 data/whoop.db"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_documented_snapshot_opens_on_a_read_only_mount(two_synced, tmp_path):
    if not _read_only_namespace():
        pytest.skip("no user namespaces here: cannot make a read-only mount without root")
    live = Path(make_url(two_synced).database)
    home = tmp_path / "checkout"
    (home / "data" / "grafana").mkdir(parents=True)
    shutil.copy(live, home / "data" / "whoop.db")
    assert open(home / "data" / "whoop.db", "rb").read(20)[18:20] == b"\x02\x02"  # a WAL database
    command = _documented_snapshot()
    if shutil.which("sqlite3"):
        subprocess.run(["sh", "-c", command], cwd=home, check=True)
    else:  # the same statement through Python's SQLite, and the same rename
        statement = re.search(r'"(VACUUM INTO [^"]+)"', command)[1]
        with sqlite3.connect(home / "data" / "whoop.db") as conn:
            conn.execute(statement)
        (home / "data" / "grafana" / "whoop.db.tmp").rename(home / "data" / "grafana" / "whoop.db")
    weight = next(p for p in _dashboard("sqlite")["panels"] if p["title"] == "Weight and body fat")
    sql = _expand(_sql(weight["targets"][0]), "sqlite", "alice")
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "whoop.yaml").read_text())
    options = next(s for s in datasource["datasources"] if s["uid"] == "whoop-sqlite")["jsonData"]
    mount = tmp_path / "mnt"
    mount.mkdir()
    probe = (
        "import sqlite3, sys\n"
        "try:\n"
        "    rows = sqlite3.connect(sys.argv[1], uri=True).execute(sys.argv[2]).fetchall()\n"
        "    print(len(rows))\n"
        "except sqlite3.Error as exc:\n"
        "    print('error', exc)\n"
    )

    def read_only(folder: Path, name: str) -> str:
        uri = f"{options['pathPrefix']}{mount / name}?{options['pathOptions']}"
        script = f'mount --bind {folder} {mount} && mount -o remount,ro,bind {mount} && exec "$0" -c "$1" "$2" "$3"'
        result = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script, sys.executable, probe, uri, sql],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    assert int(read_only(home / "data" / "grafana", "whoop.db")) > 0  # the snapshot, as the datasource opens it
    # The live WAL file, its writer gone, cannot be opened read-only: the reason for the snapshot.
    assert read_only(home / "data", "whoop.db").startswith("error")
