"""`status --check` for cron and monitors: the problems worth an alert, and the exit code they map to."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from api_clients.errors import naming_provider, reconnect_command
from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT
from configuration.exits import EXIT_FAILED as EXIT_STALE  # the check's 1: data is stale
from configuration.exits import EXIT_OK, EXIT_RECONNECT, EXIT_USAGE
from configuration.invocation import command, env_file_hint
from readers import read_model
from readers.push import applis_named, hours, push_report
from storage import account_policy
from sync import resources


@dataclass
class Problem:
    """One line of `status --check`: what is wrong with which resource ("*" for a whole provider)."""

    source: str
    resource: str
    kind: str  # "reconnect" | "stale" | "device" | "quarantine" | "push" | "configuration" | "database"
    message: str


# The worst account's code is the check's, in the order a run uses: usage, re-connect, stale.
SEVERITY = (EXIT_USAGE, EXIT_RECONNECT, EXIT_STALE, EXIT_OK)


def worst(codes) -> int:
    """The most severe of the accounts' exit codes (SEVERITY order; 0 for none)."""
    codes = set(codes)
    return next((code for code in SEVERITY if code in codes), EXIT_OK)


def check_accounts(engine: Engine, settings, names=(), now: datetime | None = None) -> dict:
    """`check` of each account named (none named: every account) in one report: the problems and
    resources of all, each entry naming its account, per-account verdicts under `accounts`, and
    the worst account's exit code. UnknownAccount for a name that does not exist."""
    now = now or clock.utcnow()
    with engine.connect() as conn:
        chosen = account_policy.to_read(conn, names)
    reports = [check(engine, settings, now, scope) for scope in chosen]
    combined = {"checked_at": now, "exit_code": worst(r["exit_code"] for r in reports)}
    for key in ("problems", "resources", "flagged", "quarantine"):
        combined[key] = [entry for r in reports for entry in r[key]]
    if len(reports) == 1:  # one account: its latest values where they always were
        combined["latest"] = reports[0]["latest"]
    combined["accounts"] = [
        {"account": r["account"], "exit_code": r["exit_code"], "problems": len(r["problems"]), "latest": r["latest"]}
        for r in reports
    ]
    return combined


def check(engine: Engine, settings, now: datetime | None = None, scope: account_policy.Scope | None = None) -> dict:
    """Problems of one account (by default the whole database) for the providers configured
    here or held in it (tokens or data); `exit_code` 0 fresh, 1 stale/quarantine, 2 nothing to
    check, 3 re-connect."""
    now = now or clock.utcnow()
    account, name = (scope.id, scope.name) if scope else (None, None)
    with engine.connect() as conn:
        rows = read_model.freshness(conn, now, account)
        tokens = {t["provider"] for t in read_model.stored_tokens(conn, account)}
        held = read_model.quarantined(conn, account)
        latest, flagged = read_model.headline(conn, now, account), read_model.flagged(conn, account)
        devices = read_model.device_notes(conn, now, account)
        # A reader handed a settings stand-in without the push settings judges no push.
        push_sources = getattr(settings, "push_providers", ())
        pushed = push_report(conn, account, settings, now, push_sources) if push_sources else []
    # A monitoring host may hold no client ids at all: the database says which providers are in use.
    in_use = tokens | {r["source"] for r in rows if r["last_success_at"] or r["newest_record"]}
    configured = [s for s in resources.SOURCES if getattr(settings, s).configured or s in in_use]
    if scope is not None and not scope.alone and account is not None and in_use:
        # One of several accounts is judged on the providers it uses: a person with a WHOOP and
        # no scale is not "not connected" to Withings because another account has one.
        configured = [s for s in configured if s in in_use]
    if not configured:
        return failed_check(
            EXIT_USAGE,
            "configuration",
            nothing_configured("check"),
            now,
            name,
        )
    problems = _reconnect_problems(configured, rows, tokens, settings, name)
    blocked = {p.source for p in problems}  # a provider that must re-connect: its stale rows add nothing
    for row in rows:
        if row["source"] in configured and row["source"] not in blocked and row["stale"]:
            problems.append(Problem(row["source"], row["resource"], "stale", f"{row['label']} {row['problem']}"))
    if "withings" in configured and "withings" not in blocked:
        # The likely cause of quiet Withings data, each device on a line of its own.
        problems += [Problem("withings", "devices", "device", note["message"]) for note in devices]
    held = [q for q in held if q["source"] in configured]
    problems += _quarantine_problems(held)
    problems += push_problems([p for p in pushed if p["provider"] in configured and p["provider"] not in blocked], name)
    kinds = {p.kind for p in problems}
    code = EXIT_RECONNECT if "reconnect" in kinds else EXIT_STALE if problems else EXIT_OK
    return {
        "account": name,
        "checked_at": now,
        "exit_code": code,
        "problems": [asdict(p) | {"account": name} for p in problems],
        "resources": [_public(row) | {"account": name} for row in rows if row["source"] in configured],
        # What a monitor may show beside the verdict; flagged values are a note, never a problem.
        "latest": latest,
        "flagged": [f | {"account": name} for f in flagged],
        "quarantine": [
            {k: q[k] for k in ("source", "resource", "count", "new", "acknowledged")} | {"account": name} for q in held
        ],
    }


def nothing_configured(what: str) -> str:
    """The one line for a `status` (or `status --check`) with no provider configured and nothing in
    the database: what to set, where, and the command that follows."""
    return (
        f"no source is configured and the database holds none: nothing to {what}; set WHOOP_CLIENT_ID "
        f"and WHOOP_CLIENT_SECRET (or the WITHINGS_ pair) in {env_file_hint()}, "
        f"then run `{command('connect', 'whoop')}` (or withings)"
    )


def holds_nothing(settings, reports: list[dict]) -> bool:
    """Whether `status` has nothing to show: no provider configured, no token, nothing ever synced."""
    if any(getattr(settings, source).configured for source in resources.SOURCES):
        return False
    return not any(
        report["tokens"] or any(row["last_success_at"] or row["newest_record"] for row in report["resources"])
        for report in reports
    )


def _quarantine_problems(held: list[dict]) -> list[Problem]:
    """One problem per resource with items new since they were last acknowledged; acknowledged ones
    stay listed in the JSON and fail nothing."""
    return [
        Problem(
            q["source"],
            q["resource"],
            "quarantine",
            f"{q['source']} {q['resource']}: {q['new']} new record{'' if q['new'] == 1 else 's'} "
            f"quarantined ({command('quarantine')} lists them)",
        )
        for q in held
        if q["new"]
    ]


def push_problems(pushed: list[dict], account: str | None = None) -> list[Problem]:
    """One line per provider whose push is on and broken: a Withings subscription missing, or no
    event for longer than PUSH_SILENT_AFTER. Each names what to run or look at."""
    which = f" --account {account}" if account and account != DEFAULT_ACCOUNT else ""
    problems = []
    for entry in pushed:
        source = entry["provider"]
        if entry.get("missing"):
            problems.append(
                Problem(
                    source,
                    "*",
                    "push",
                    f"{source} push: {applis_named(entry['missing'])} not subscribed: run "
                    f"`{command('webhooks', 'subscribe')}{which} --url https://<your host>/webhooks/withings/<secret>`",
                )
            )
        elif entry["silent"]:
            where = (
                "the Webhook URL in the WHOOP developer dashboard"
                if source == "whoop"
                else f"`{command('webhooks', 'status')}{which}` (Withings drops a subscription that keeps failing)"
            )
            quiet = (
                "has brought no event yet"
                if entry["last_event"] is None
                else f"is silent: no event for {hours(entry['hours_since_last_event'])} (PUSH_SILENT_AFTER)"
            )
            problems.append(Problem(source, "*", "push", f"{source} push {quiet}: check that `serve` runs and {where}"))
    return problems


def failed_check(
    exit_code: int, kind: str, message: str, now: datetime | None = None, account: str | None = None
) -> dict:
    """The check's report when it cannot judge the data (a setting, the database): the same shape, one problem."""
    return {
        "account": account,
        "checked_at": now or clock.utcnow(),
        "exit_code": exit_code,
        "problems": [asdict(Problem("*", "*", kind, message)) | {"account": account}],
        "resources": [],
        "latest": {},
        "flagged": [],
        "quarantine": [],
        "accounts": [],
    }


def _reconnect_problems(
    configured: list[str], rows: list[dict], tokens: set[str], settings, account: str | None = None
) -> list[Problem]:
    problems = []
    for source in configured:
        failing = next((r for r in rows if r["source"] == source and r["reconnect"]), None)
        if failing is not None:
            problems.append(Problem(source, "*", "reconnect", naming_provider(source, failing["error"])))
        elif source not in tokens and not getattr(settings, source).seed_refresh_token:
            problems.append(
                Problem(
                    source, "*", "reconnect", f"{source} is not connected: run `{reconnect_command(source, account)}`"
                )
            )
    return problems


def _public(row: dict) -> dict:
    return {
        "source": row["source"],
        "resource": row["resource"],
        "label": row["label"],
        "last_success_at": row["last_success_at"],
        "newest_record": row["newest_record"],
        "stale_after_hours": row["stale_after"].total_seconds() / 3600,
        "stale": row["stale"],
        "problem": row["problem"],
        "status": row["status"],
        "error": row["error"],
    }
