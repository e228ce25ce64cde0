"""Write the Grafana pack's two dashboards (docs/deploy/grafana/dashboards/), one per database.

The panels are declared once here, with the SQL that differs between the dialects written as
fragments: PostgreSQL's `day` is a date and its times timestamps; the SQLite plugin
(frser-sqlite-datasource) reads time only as epoch numbers or RFC 3339 text, so its queries turn
the stored `YYYY-MM-DD` days and `YYYY-MM-DD HH:MM:SS` times into epoch seconds. Both read the
`daily` view and the documented tables, filtered to the person chosen in the `account` variable.
tests/e2e/test_grafana_pack.py checks the committed files are this script's output and runs
every panel's SQL on both databases. Usage: python scripts/grafana_dashboards.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "deploy" / "grafana" / "dashboards"
DATASOURCES = {  # dialect -> (plugin type, the provisioned datasource's fixed uid)
    "postgresql": ("grafana-postgresql-datasource", "whoop-postgresql"),
    "sqlite": ("frser-sqlite-datasource", "whoop-sqlite"),
}
# Per dialect: a `day` and a stored timestamp as the panel's time, and hours since a timestamp.
DAY_TIME = {"postgresql": "CAST(day AS timestamp)", "sqlite": "CAST(strftime('%s', day) AS INTEGER)"}
AT_TIME = {"postgresql": "{0}", "sqlite": "CAST(strftime('%s', {0}) AS INTEGER)"}
RFC3339 = {"postgresql": "{0}", "sqlite": "strftime('%Y-%m-%dT%H:%M:%SZ', {0})"}
HOURS_SINCE = {
    "postgresql": "ROUND(CAST(EXTRACT(EPOCH FROM (now() - {0})) / 3600.0 AS numeric), 1)",
    "sqlite": "ROUND((julianday('now') - julianday({0})) * 24.0, 1)",
}


def users_of(provider: str) -> str:
    """The chosen person's user ids of one provider (the same SQL on both databases)."""
    return (
        "(SELECT ap.user_id FROM account_provider ap JOIN account a ON a.id = ap.account_id "
        f"WHERE a.name = '$account' AND ap.provider = '{provider}')"
    )


@dataclass(frozen=True)
class Panel:
    """One panel: its title, unit and the columns it shows (`daily` columns by provider, or its own SQL)."""

    title: str
    unit: str
    columns: dict[str, str] = field(default_factory=dict)  # daily column -> provider
    sql: dict[str, str] | None = None  # dialect -> SQL, for a panel not on the `daily` view
    kind: str = "timeseries"


def daily_sql(panel: Panel, dialect: str) -> str:
    """Per local day, the person's value of each column: each provider's columns from rows of
    the person's own user ids of that provider (the view pairs every user of a day with every other)."""
    values = ",\n       ".join(
        f"MAX(CASE WHEN {provider}_user_id IN {users_of(provider)} THEN {column} END) AS {column}"
        for column, provider in panel.columns.items()
    )
    whose = " OR ".join(f"{p}_user_id IN {users_of(p)}" for p in dict.fromkeys(panel.columns.values()))
    return (
        f"SELECT {DAY_TIME[dialect]} AS time,\n       {values}\n"
        f"FROM daily\nWHERE $__timeFilter(day) AND ({whose})\nGROUP BY day\nORDER BY day"
    )


def body_composition_sql(dialect: str) -> str:
    return (
        f"SELECT {AT_TIME[dialect].format('measured_at')} AS time, fat_mass_kg, muscle_mass_kg, bone_mass_kg, "
        "hydration_kg\nFROM withings_weight\n"
        f"WHERE $__timeFilter(measured_at) AND deleted_at IS NULL AND flag IS NULL\n"
        f"  AND user_id IN {users_of('withings')}\n  AND (fat_mass_kg IS NOT NULL OR muscle_mass_kg IS NOT NULL)\n"
        "ORDER BY measured_at"
    )


def freshness_sql(dialect: str) -> str:
    last = "MAX(s.last_success_at)"
    return (
        f"SELECT s.source, s.resource, {RFC3339[dialect].format(last)} AS last_success,\n"
        f"       {HOURS_SINCE[dialect].format(last)} AS hours_since, MAX(s.status) AS status, MAX(s.error) AS error\n"
        "FROM sync_state s JOIN account a ON a.id = s.account_id\n"
        "WHERE a.name = '$account'\nGROUP BY s.source, s.resource\nORDER BY s.source, s.resource"
    )


PANELS = (
    Panel("Recovery", "percent", {"recovery": "whoop"}),
    Panel("Heart rate variability (HRV)", "ms", {"hrv": "whoop"}),
    Panel("Resting heart rate", "bpm", {"resting_hr": "whoop", "heart_rate": "withings"}),
    Panel("Sleep", "h", {"sleep_hours": "whoop", "withings_sleep_hours": "withings"}),
    Panel("Sleep scores", "none", {"sleep_performance": "whoop", "sleep_score": "withings"}),
    Panel("Strain", "none", {"strain": "whoop"}),
    Panel("Weight and body fat", "none", {"weight": "withings", "body_fat": "withings"}),
    Panel("Body composition", "masskg", sql={d: body_composition_sql(d) for d in DATASOURCES}),
    Panel("Blood pressure", "mmHg", {"bp_systolic": "withings", "bp_diastolic": "withings"}),
    Panel("Steps", "none", {"steps": "withings"}),
    Panel("Freshness of every resource", "none", sql={d: freshness_sql(d) for d in DATASOURCES}, kind="table"),
)


def _target(panel: Panel, dialect: str) -> dict:
    kind, uid = DATASOURCES[dialect]
    sql = panel.sql[dialect] if panel.sql else daily_sql(panel, dialect)
    target = {"refId": "A", "datasource": {"type": kind, "uid": uid}}
    if dialect == "postgresql":
        fmt = "table" if panel.kind == "table" else "time_series"
        return target | {"editorMode": "code", "format": fmt, "rawQuery": True, "rawSql": sql}
    # The plugin's frontend fills `queryText` from `rawQueryText` with the variables replaced.
    return target | {
        "queryType": "table",
        "rawQueryText": sql,
        "queryText": sql,
        "timeColumns": ["time", "last_success"],
    }


def dashboard(dialect: str) -> dict:
    """The dashboard of one database: a person variable and every panel."""
    kind, uid = DATASOURCES[dialect]
    panels = []
    for index, panel in enumerate(PANELS):
        wide = panel.kind == "table"
        panels.append(
            {
                "id": index + 1,
                "type": panel.kind,
                "title": panel.title,
                "datasource": {"type": kind, "uid": uid},
                "gridPos": {
                    "h": 8,
                    "w": 24 if wide else 12,
                    "x": 0 if wide else 12 * (index % 2),
                    "y": 8 * (index // 2),
                },
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "options": {} if wide else {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [_target(panel, dialect)],
            }
        )
    names = "SELECT name FROM account ORDER BY id"
    variable = {
        "name": "account",
        "label": "Person",
        "type": "query",
        "datasource": {"type": kind, "uid": uid},
        "query": names if dialect == "sqlite" else {"rawSql": names, "refId": "accounts"},
        "definition": names,
        "refresh": 1,
        "sort": 0,
        "includeAll": False,
        "multi": False,
    }
    return {
        "uid": f"whoop-etl-{dialect}",
        "title": f"WHOOP and Withings ({'PostgreSQL' if dialect == 'postgresql' else 'SQLite'})",
        "tags": ["whoop-etl"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-90d", "to": "now"},
        "templating": {"list": [variable]},
        "panels": panels,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for dialect in DATASOURCES:
        (OUT / f"whoop-{dialect}.json").write_text(json.dumps(dashboard(dialect), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
