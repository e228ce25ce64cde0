"""The routine run against its floor and a per-row script; the first load against the script.

    python bench/bench_vs_script.py all          # everything below, in one run: the table for docs/BENCHMARKS.md
    python bench/bench_vs_script.py routine      # `etl.py --since 7d` vs its floor and the script, 2 and 10 y, 50 ms per answer
    python bench/bench_vs_script.py first-load   # 10 y of WHOOP into an empty database, no latency

The floor (bench/floor_script.py) is what a routine run on this stack cannot avoid: the
interpreter, the imports the design card mandates (SQLAlchemy, requests), the run's own requests
sent at once (recorded from the project's run by the sandbox, so the count is the same) and one
transaction of the records they returned. The per-row script (bench/peer_script.py) is what a
user would write with the standard library and requests.

Every side runs as a new process with pacing lifted (the client's limit and the sandbox's
raised), bytecode cached outside the checkout (PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE
unset; one warm-up run each first), interleaved with the order rotating every round so that a
shared machine's load falls on every side alike. The script and the floor get the access tokens
the project stored, so no side refreshes. Prints the rows of the current table (target, figure,
command, date, machine and the load seen), then each side's median, spread and CPU time, then
every run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.bench_etl import (  # noqa: E402 - imported once the checkout is on sys.path
    DATA_PREFIXES,
    UNLIMITED,
    UNLIMITED_SANDBOX,
    machine,
    sandbox,
)

PEER = PROJECT / "bench" / "peer_script.py"
FLOOR = PROJECT / "bench" / "floor_script.py"
COMMAND = ".venv/bin/python bench/bench_vs_script.py all"
FLOOR_TARGET, FIRST_LOAD_TARGET, FLAT_TARGET = 1.1, 0.2, 1.1
SCRIPT_GOAL = 0.8  # the routine run against the per-row script: out of reach on this stack, reported only
TOKEN_PATHS = ("/oauth/oauth2/token", "/v2/oauth2")
BARE = "floor, collector paused"
# What a database holds after `connect`, before any sync.
KEPT_TABLES = ("oauth_token", "account", "account_provider", "alembic_version")


@dataclass
class Side:
    """One side's command, environment and measured runs (seconds, requests)."""

    name: str
    command: list[str]
    env: dict
    prepare: object = None  # called before every run (a fresh database for a first load)
    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the side's process
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average after each run

    def median(self) -> float:
        """Median wall time of the measured runs."""
        return statistics.median(self.seconds)

    def median_cpu(self) -> float:
        """Median CPU time of the measured runs: steadier than the wall time on a shared machine."""
        return statistics.median(self.cpu)

    def spread(self) -> str:
        """The fastest and slowest measured run."""
        return f"{min(self.seconds):.2f}-{max(self.seconds):.2f} s"


def measured_env(pycache: str) -> dict:
    """The environment both measured processes share: bytecode cached outside the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    for variable in ("WHOOP_REFRESH_TOKEN", "WITHINGS_REFRESH_TOKEN", "DATABASE_URL"):
        env.pop(variable, None)
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(sb, side: Side) -> tuple[float, int, float]:
    """One cold run of a side: (seconds, data and token requests, CPU seconds of its process); a
    failing run stops the benchmark. The sandbox runs in this process, so the child's CPU time is
    the side's own work alone."""
    if side.prepare:
        side.prepare()
    sb.clear_requests()
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(side.command, cwd=PROJECT, env=side.env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"{side.name} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    made = sum(1 for r in sb.requests if r["path"].startswith(DATA_PREFIXES))
    return seconds, made, cpu


def interleave(sb, sides: list[Side], repeat: int) -> None:
    """One warm-up run each, then `repeat` measured rounds, each side first in turn."""
    for side in sides:
        run_once(sb, side)
    for round_number in range(repeat):
        turn = round_number % len(sides)
        for side in sides[turn:] + sides[:turn]:
            seconds, made, cpu = run_once(sb, side)
            side.seconds.append(seconds)
            side.requests.append(made)
            side.cpu.append(cpu)
            side.load.append(os.getloadavg()[0])


def project_env(sb, base: dict, db_path: Path) -> dict:
    """The project's environment against the sandbox, pacing lifted."""
    return {
        **base,
        **sb.environment(mint_tokens=False),
        **UNLIMITED,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "WHOOP_PLATFORM_NO_DOTENV": "1",
    }


def seed_project(sb, base: dict, db_path: Path, *args: str) -> None:
    """The project's first run with fresh refresh tokens, as after `connect`: tokens and history stored."""
    env = {
        **project_env(sb, base, db_path),
        "WHOOP_REFRESH_TOKEN": sb.mint_refresh_token("whoop"),
        "WITHINGS_REFRESH_TOKEN": sb.mint_refresh_token("withings"),
    }
    subprocess.run([sys.executable, "etl.py", "--quiet", *args], cwd=PROJECT, env=env, check=True)


def peer_env(base: dict, project_db: Path) -> dict:
    """The peer's environment: the access tokens the project stored (never printed)."""
    with closing(sqlite3.connect(project_db)) as conn:
        tokens = dict(conn.execute("SELECT provider, access_token FROM oauth_token").fetchall())
    return {
        **base,
        "PEER_WHOOP_ACCESS_TOKEN": tokens["whoop"],
        "PEER_WITHINGS_ACCESS_TOKEN": tokens.get("withings", ""),
    }


def peer_command(sb, db_path: Path, *args: str) -> list[str]:
    """The peer's command line against this sandbox."""
    return [sys.executable, str(PEER), "--quiet", "--db", str(db_path), "--base-url", sb.url, *args]


def record_requests(sb, project: Side, listing: Path) -> None:
    """Run the project once and write the data requests it sent (no token) to `listing`, for the floor."""
    sb.clear_requests()
    subprocess.run(project.command, cwd=PROJECT, env=project.env, check=True)
    sent = [
        {key: request[key] for key in ("provider", "method", "path", "query", "form")}
        for request in sb.requests
        if request["path"].startswith(DATA_PREFIXES) and not request["path"].startswith(TOKEN_PATHS)
    ]
    listing.write_text(json.dumps(sent), encoding="utf-8")


def floor_command(sb, db_path: Path, listing: Path, *args: str) -> list[str]:
    """The floor's command line against this sandbox."""
    return [sys.executable, str(FLOOR), "--db", str(db_path), "--base-url", sb.url, "--requests", str(listing), *args]


@contextmanager
def routine_sides(years: int, latency_ms: int, base: dict) -> Iterator[tuple[object, Side, Side, Side, Side]]:
    """A sandbox of `years` with every side loaded, `latency_ms` added: (sandbox, script, project, the
    floor, the floor with the collector paused)."""
    with tempfile.TemporaryDirectory() as tmp:
        sb = sandbox(365 * years, **UNLIMITED_SANDBOX)
        try:
            project_db, peer_db, floor_db = Path(tmp, "project.db"), Path(tmp, "peer.db"), Path(tmp, "floor.db")
            seed_project(sb, base, project_db)
            env = peer_env(base, project_db)
            subprocess.run(peer_command(sb, peer_db, "--full"), cwd=PROJECT, env=env, check=True)
            sb.app.faults.latency_ms = latency_ms
            script = Side("script", peer_command(sb, peer_db, "--since-days", "7"), env)
            project = Side(
                "project", [sys.executable, "etl.py", "--quiet", "--since", "7d"], project_env(sb, base, project_db)
            )
            listing = Path(tmp, "requests.json")
            record_requests(sb, project, listing)
            floor = Side("floor", floor_command(sb, floor_db, listing), env)
            bare = Side(BARE, floor_command(sb, floor_db, listing, "--pause-collector"), env)
            yield sb, script, project, floor, bare
        finally:
            sb.stop()


def routine(years: int, repeat: int, latency_ms: int, base: dict) -> dict[str, Side]:
    """`--since 7d` on every side over a loaded history of `years`, `latency_ms` added to every answer."""
    with routine_sides(years, latency_ms, base) as (sb, script, project, floor, bare):
        interleave(sb, [floor, project, bare, script], repeat)
    return {side.name: side for side in (floor, bare, project, script)}


def make_template(seed_db: Path, template: Path) -> None:
    """A copy of the project's database as `connect` leaves it: schema, account and tokens, no data, no sync state.

    Every connection is closed before the copy is used: the last one to close checkpoints the
    write-ahead log into the file, which is all a copy of the file takes along."""
    with closing(sqlite3.connect(seed_db)) as source, closing(sqlite3.connect(template)) as target:
        source.backup(target)
    with closing(sqlite3.connect(template)) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            if table not in KEPT_TABLES:
                conn.execute(f'DELETE FROM "{table}"')
        conn.commit()
        conn.execute("VACUUM")
    if Path(f"{template}-wal").exists():
        raise SystemExit(f"{template}: the write-ahead log outlived its connections; the copy would miss it")


def _fresh(path: Path, template: Path | None = None) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if template is not None:
        shutil.copyfile(template, path)
        path.chmod(0o600)


@contextmanager
def first_load_sides(years: int, base: dict) -> Iterator[tuple[object, Side, Side]]:
    """A sandbox of `years`; each side starts every run from an empty database: (sandbox, script, project)."""
    with tempfile.TemporaryDirectory() as tmp:
        sb = sandbox(365 * years, **UNLIMITED_SANDBOX)
        try:
            seed_db, template = Path(tmp, "seed.db"), Path(tmp, "template.db")
            project_db, peer_db = Path(tmp, "project.db"), Path(tmp, "peer.db")
            seed_project(sb, base, seed_db, "--source", "whoop")
            make_template(seed_db, template)
            script = Side(
                "script",
                peer_command(sb, peer_db, "--full", "--whoop-only"),
                peer_env(base, seed_db),
                prepare=lambda: _fresh(peer_db),
            )
            project = Side(
                "project",
                [sys.executable, "etl.py", "--quiet", "--source", "whoop"],
                project_env(sb, base, project_db),
                prepare=lambda: _fresh(project_db, template),
            )
            yield sb, script, project
        finally:
            sb.stop()


def first_load(years: int, repeat: int, base: dict) -> dict[str, Side]:
    """WHOOP's whole history of `years` into an empty database on both sides, no added latency."""
    with first_load_sides(years, base) as (sb, script, project):
        interleave(sb, [script, project], repeat)
    return {side.name: side for side in (project, script)}


@dataclass
class Measured:
    """One measured comparison: its label, its history in years and its sides by name."""

    label: str
    years: int
    sides: dict[str, Side]


@dataclass
class Report:
    """What the runs measured, and the load average the machine showed throughout."""

    repeat: int
    measured: list[Measured] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def seen_load(self) -> str:
        """The lowest and highest 1-minute load average seen, the start and every run included."""
        every = self.loads + [v for m in self.measured for side in m.sides.values() for v in side.load]
        return f"{min(every):.1f}-{max(every):.1f}"


def ratio(run: Side, against: Side) -> float:
    """The run's median over the other side's."""
    return run.median() / against.median()


def round_ratios(run: Side, against: Side) -> str:
    """The range of the ratio taken round by round (both sides ran within seconds of each other)."""
    ratios = [a / b for a, b in zip(run.seconds, against.seconds, strict=True)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def current_row(report: Report, what: str, target: str, figure: str, met: bool | None) -> str:
    """One row of the current table, as docs/BENCHMARKS.md opens with it."""
    verdict = {True: "yes", False: "**no**", None: "reported"}[met]
    return (
        f"| {what} | {target} | {figure} | {verdict} | `{COMMAND}` | {time.strftime('%Y-%m-%d')} "
        f"| {machine(dated=False)}, load average {report.seen_load()} |"
    )


def cpu_ratio(run: Side, against: Side) -> float:
    """The run's median CPU time over the other side's: steadier than the wall time under load."""
    return run.median_cpu() / against.median_cpu()


def routine_rows(report: Report, measured: Measured) -> list[str]:
    """The routine run of one history against its floor, the floor with the collector paused, and the script."""
    floor, bare, project, script = (measured.sides[name] for name in ("floor", BARE, "project", "script"))
    against_floor = ratio(project, floor)
    return [
        current_row(
            report,
            f"routine run (`--since 7d`, {measured.label}) against its floor",
            f"<= {FLOOR_TARGET}x",
            f"**{against_floor:.2f}x** ({project.median():.2f} s vs {floor.median():.2f} s; round by round "
            f"{round_ratios(project, floor)}; CPU {cpu_ratio(project, floor):.2f}x)",
            against_floor <= FLOOR_TARGET,
        ),
        current_row(
            report,
            f"routine run, {measured.years} y, against the floor with the collector paused",
            "reported",
            f"{ratio(project, bare):.2f}x ({bare.median():.2f} s; CPU {cpu_ratio(project, bare):.2f}x)",
            None,
        ),
        current_row(
            report,
            f"routine run, {measured.years} y, against the per-row script (out of reach: see below)",
            f"{SCRIPT_GOAL}x (no longer a target)",
            f"{ratio(project, script):.2f}x; the floor alone {ratio(floor, script):.2f}x, "
            f"collector paused {ratio(bare, script):.2f}x",
            None,
        ),
    ]


def current_table(report: Report) -> list[str]:
    """The rows for docs/BENCHMARKS.md's current table, from whatever was measured."""
    lines = ["| benchmark | target | figure | met | command | date | machine |", "|---|---|---|---|---|---|---|"]
    routines = [m for m in report.measured if "floor" in m.sides]
    for measured in routines:
        lines += routine_rows(report, measured)
    if len(routines) >= 2:
        low, high = routines[0], routines[-1]
        flat = ratio(high.sides["project"], low.sides["project"])
        lines.append(
            current_row(
                report,
                f"routine run flat in history: {high.years} y / {low.years} y",
                f"<= {FLAT_TARGET}",
                f"**{flat:.2f}** (floor {ratio(high.sides['floor'], low.sides['floor']):.2f})",
                flat <= FLAT_TARGET,
            )
        )
    for measured in (m for m in report.measured if "floor" not in m.sides):
        project, script = measured.sides["project"], measured.sides["script"]
        first = ratio(project, script)
        lines.append(
            current_row(
                report,
                f"first load, {measured.label}, against the per-row script",
                f"<= {FIRST_LOAD_TARGET}x",
                f"**{first:.2f}x** ({project.median():.2f} s vs {script.median():.2f} s; "
                f"CPU {cpu_ratio(project, script):.2f}x)",
                first <= FIRST_LOAD_TARGET,
            )
        )
    return lines


def detail_table(report: Report) -> list[str]:
    """Every side's median, spread, CPU time and requests."""
    lines = [
        f"| run (median of {report.repeat}) | side | median | spread | CPU (median) | requests |",
        "|---|---|---|---|---|---|",
    ]
    for measured in report.measured:
        for side in measured.sides.values():
            lines.append(
                f"| {measured.label} | {side.name} | {side.median():.2f} s | {side.spread()} "
                f"| {side.median_cpu():.2f} s | {max(side.requests)} |"
            )
    return lines


def every_run(report: Report) -> list[str]:
    """Every measured run in order, with its CPU time and the load average after it, for the record."""
    lines = []
    for measured in report.measured:
        for side in measured.sides.values():
            runs = " ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in zip(side.seconds, side.cpu, strict=True))
            loads = " ".join(f"{v:.1f}" for v in side.load)
            lines.append(f"- {measured.label}, {side.name} (wall/CPU s): {runs}; load after each: {loads}")
    return lines


def measure(args, base: dict) -> Report:
    """Run the chosen comparisons."""
    report = Report(args.repeat, loads=[os.getloadavg()[0]])
    if args.what in ("routine", "all"):
        for years in args.years:
            label = f"{years} y, {args.latency_ms} ms per answer"
            report.measured.append(Measured(label, years, routine(years, args.repeat, args.latency_ms, base)))
    if args.what in ("first-load", "all"):
        years = args.first_load_years
        label = f"{years} y of WHOOP, no latency"
        report.measured.append(Measured(label, years, first_load(years, args.repeat, base)))
    report.loads.append(os.getloadavg()[0])
    return report


def main() -> None:
    """Run the chosen comparisons and print the current table, the medians and every run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["routine", "first-load", "all"])
    parser.add_argument("--years", type=int, nargs="+", default=[2, 10], help="histories of the routine run")
    parser.add_argument("--first-load-years", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pycache-") as pycache:
        report = measure(args, measured_env(pycache))
    print(f"# {machine()}; load average {report.seen_load()} while measuring\n")
    print("\n".join(current_table(report)))
    print()
    print("\n".join(detail_table(report)))
    print("\nEvery run, in order:")
    print("\n".join(every_run(report)))


if __name__ == "__main__":
    main()
