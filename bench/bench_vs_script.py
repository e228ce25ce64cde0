"""The project side by side with a per-row script (bench/peer_script.py) on the same sandbox.

    python bench/bench_vs_script.py routine      # `etl.py --since 7d` vs the script, 2 and 10 y, 50 ms per answer
    python bench/bench_vs_script.py first-load   # 10 y of WHOOP into an empty database, no latency
    python bench/bench_vs_script.py all          # both, in one run

Both sides run as new processes with pacing lifted (the client's limit and the sandbox's raised),
bytecode cached outside the checkout (PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE unset; one
warm-up run each first), interleaved with alternating order so that a shared machine's load falls
on both alike. The peer gets the access tokens the project stored, so neither side refreshes.
Prints the medians, the ratios project / script, the requests each side made and the 10y/2y flatness.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
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
ROUTINE_TARGET, FIRST_LOAD_TARGET, FLAT_TARGET = 0.8, 0.2, 1.1
KEPT_TABLES = ("oauth_token", "alembic_version")  # what a database holds after `connect`, before any sync


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
    """One warm-up run each, then `repeat` measured rounds, the order alternating every round."""
    for side in sides:
        run_once(sb, side)
    for round_number in range(repeat):
        for side in sides if round_number % 2 == 0 else sides[::-1]:
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
    with sqlite3.connect(project_db) as conn:
        tokens = dict(conn.execute("SELECT provider, access_token FROM oauth_token").fetchall())
    return {
        **base,
        "PEER_WHOOP_ACCESS_TOKEN": tokens["whoop"],
        "PEER_WITHINGS_ACCESS_TOKEN": tokens.get("withings", ""),
    }


def peer_command(sb, db_path: Path, *args: str) -> list[str]:
    """The peer's command line against this sandbox."""
    return [sys.executable, str(PEER), "--quiet", "--db", str(db_path), "--base-url", sb.url, *args]


@contextmanager
def routine_sides(years: int, latency_ms: int, base: dict) -> Iterator[tuple[object, Side, Side]]:
    """A sandbox of `years` with both sides loaded, `latency_ms` added: (sandbox, script, project)."""
    with tempfile.TemporaryDirectory() as tmp:
        sb = sandbox(365 * years, **UNLIMITED_SANDBOX)
        try:
            project_db, peer_db = Path(tmp, "project.db"), Path(tmp, "peer.db")
            seed_project(sb, base, project_db)
            env = peer_env(base, project_db)
            subprocess.run(peer_command(sb, peer_db, "--full"), cwd=PROJECT, env=env, check=True)
            sb.app.faults.latency_ms = latency_ms
            script = Side("script", peer_command(sb, peer_db, "--since-days", "7"), env)
            project = Side(
                "project", [sys.executable, "etl.py", "--quiet", "--since", "7d"], project_env(sb, base, project_db)
            )
            yield sb, script, project
        finally:
            sb.stop()


def routine(years: int, repeat: int, latency_ms: int, base: dict) -> tuple[Side, Side]:
    """`--since 7d` on both sides over a loaded history of `years`, `latency_ms` added to every answer."""
    with routine_sides(years, latency_ms, base) as (sb, script, project):
        interleave(sb, [script, project], repeat)
    return script, project


def make_template(seed_db: Path, template: Path) -> None:
    """A copy of the project's database as `connect` leaves it: schema and tokens, no data, no sync state."""
    with sqlite3.connect(seed_db) as source, sqlite3.connect(template) as target:
        source.backup(target)
    with sqlite3.connect(template) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            if table not in KEPT_TABLES:
                conn.execute(f'DELETE FROM "{table}"')
    with sqlite3.connect(template) as conn:
        conn.execute("VACUUM")


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


def first_load(years: int, repeat: int, base: dict) -> tuple[Side, Side]:
    """WHOOP's whole history of `years` into an empty database on both sides, no added latency."""
    with first_load_sides(years, base) as (sb, script, project):
        interleave(sb, [script, project], repeat)
    return script, project


def row(label: str, script: Side, project: Side, target: float) -> str:
    """One table row: medians, ratio against its target, requests per run."""
    ratio = project.median() / script.median()
    return (
        f"| {label} | {script.median():.2f} s | {project.median():.2f} s | **{ratio:.2f}x** "
        f"(target <= {target}) | {script.median_cpu():.2f} s | {project.median_cpu():.2f} s "
        f"| {max(script.requests)} / {max(project.requests)} |"
    )


def runs(label: str, script: Side, project: Side) -> str:
    """Every measured run, for the record."""

    def fmt(side: Side) -> str:
        return " ".join(f"{s:.2f}" for s in side.seconds)

    def cpu(side: Side) -> str:
        return " ".join(f"{s:.2f}" for s in side.cpu)

    loads = " ".join(f"{v:.1f}" for v in script.load + project.load)
    return (
        f"- {label}: script {fmt(script)} s; project {fmt(project)} s\n"
        f"  CPU: script {cpu(script)} s; project {cpu(project)} s; load average after each run: {loads}"
    )


def main() -> None:
    """Run the chosen comparisons and print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["routine", "first-load", "all"])
    parser.add_argument("--years", type=int, nargs="+", default=[2, 10], help="histories of the routine run")
    parser.add_argument("--first-load-years", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    print(f"# Side by side with a per-row script ({machine()}; load average {os.getloadavg()[0]:.1f})")
    results = []
    with tempfile.TemporaryDirectory(prefix="pycache-") as pycache:
        base = measured_env(pycache)
        if args.what in ("routine", "all"):
            for years in args.years:
                label = f"`--since 7d`, {years} y, {args.latency_ms} ms per answer"
                results.append((label, *routine(years, args.repeat, args.latency_ms, base), ROUTINE_TARGET))
        if args.what in ("first-load", "all"):
            label = f"first load, {args.first_load_years} y of WHOOP, no latency"
            results.append((label, *first_load(args.first_load_years, args.repeat, base), FIRST_LOAD_TARGET))
    print(
        f"\n| run (median of {args.repeat}) | script | project | project / script "
        "| CPU script | CPU project | requests script / project |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, script, project, target in results:
        print(row(label, script, project, target))
    routine_rows = [(s, p) for label, s, p, _ in results if label.startswith("`--since")]
    if len(routine_rows) >= 2:
        (s_low, p_low), (s_high, p_high) = routine_rows[0], routine_rows[-1]
        print(
            f"\n{args.years[-1]}y/{args.years[0]}y: script {s_high.median() / s_low.median():.2f}, "
            f"project {p_high.median() / p_low.median():.2f} (target <= {FLAT_TARGET})"
        )
    print(f"\nEvery run (seconds, in order; load average at the end {os.getloadavg()[0]:.1f}):")
    for label, script, project, _ in results:
        print(runs(label, script, project))


if __name__ == "__main__":
    main()
