"""Where the time of a run goes: import time, a timeline of both sides, per-thread cProfiles.

    python bench/profile_run.py importtime    # -X importtime of the routine `etl.py --since 7d`, top entries
    python bench/profile_run.py timeline      # script, floors, project: start-up, network phase, after the last answer, exit
    python bench/profile_run.py cprofile      # one routine run, each thread profiled apart
    python bench/profile_run.py cprofile --first-load   # the 10-year WHOOP first load, each thread apart

Same conditions as bench/bench_vs_script.py (the same sandbox setup, pacing lifted, bytecode cached
outside the checkout, 50 ms per answer for the routine run).
"""

from __future__ import annotations

import argparse
import json
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from bench.bench_etl import machine  # noqa: E402 - imported once the checkout is on sys.path
from bench.bench_vs_script import (  # noqa: E402 - imported once the checkout is on sys.path
    BARE,
    Side,
    first_load_sides,
    measured_env,
    routine_sides,
)

PROBE = PROJECT / "bench" / "child_probe.py"
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", re.MULTILINE)
PHASES = (
    "interpreter start-up",
    "imports and planning, to the first request",
    "network phase",
    "after the last answer, to main's return",
    "interpreter exit",
)


def probe_command(side: Side, marks: Path, profile_dir: Path | None = None, *flags: str) -> list[str]:
    """The side's command run under bench/child_probe.py."""
    extra = [str(profile_dir)] if profile_dir else []
    return [side.command[0], *flags, str(PROBE), str(marks), *extra, "--", *side.command[1:]]


def importtime(args, base: dict) -> None:
    """Median cumulative import time per module over `repeat` runs; the top entries at any depth."""
    cumulative, depth = defaultdict(list), {}
    with routine_sides(args.years, args.latency_ms, base) as (sb, _script, project, *_floors):
        _fresh_run(project)  # warms the bytecode cache
        for _ in range(args.repeat):
            done = subprocess.run(
                [project.command[0], "-X", "importtime", *project.command[1:]],
                cwd=PROJECT,
                env=project.env,
                capture_output=True,
                text=True,
                check=True,
            )
            for _self_us, cumulative_us, indent, name in IMPORT_LINE.findall(done.stderr):
                cumulative[name].append(int(cumulative_us) / 1000)
                depth[name] = (len(indent) - 1) // 2
    top_level = sum(statistics.median(v) for n, v in cumulative.items() if depth[n] == 0)
    print(f"# -X importtime, `etl.py --since 7d`, {args.years} y (median of {args.repeat}; {machine()})")
    print(f"sum of top-level imports: {top_level:.0f} ms\n\n| module | depth | cumulative ms |\n|---|---|---|")
    for name, values in sorted(cumulative.items(), key=lambda i: -statistics.median(i[1]))[: args.top]:
        print(f"| {name} | {depth[name]} | {statistics.median(values):.1f} |")


def _stamp_requests(sb) -> list[tuple[float, float]]:
    """Record (arrival, answer) on the monotonic clock for every API request the sandbox serves."""
    stamps: list[tuple[float, float]] = []
    dispatch = sb.app.dispatch

    def timed(request):
        arrived = time.monotonic()
        response = dispatch(request)
        if not request.path.startswith("/_sandbox/"):
            stamps.append((arrived, time.monotonic()))
        return response

    sb.app.dispatch = timed
    return stamps


def phases(sb, side: Side, stamps: list, tmp: Path) -> list[float]:
    """One probed run of `side`: the seconds of each of PHASES."""
    marks_path = tmp / "marks.json"
    stamps.clear()
    spawned = time.monotonic()
    done = subprocess.run(probe_command(side, marks_path), cwd=PROJECT, env=side.env, capture_output=True, text=True)
    exited = time.monotonic()
    if done.returncode != 0:
        raise SystemExit(f"{side.name} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    marks = json.loads(marks_path.read_text())
    first, last = min(a for a, _ in stamps), max(b for _, b in stamps)
    points = [spawned, marks["started"], first, last, marks["main_returned"], exited]
    return [b - a for a, b in zip(points, points[1:], strict=False)] + [marks["gc_tracked_objects"]]


def timeline(args, base: dict) -> None:
    """Median phases of every side of the routine run (the script, its floors, the project), interleaved."""
    names = ("script", "floor", BARE, "project")
    measured = {name: [] for name in names}
    with (
        routine_sides(args.years, args.latency_ms, base) as (sb, script, project, floor, bare),
        tempfile.TemporaryDirectory() as tmp,
    ):
        stamps = _stamp_requests(sb)
        sides = [script, floor, bare, project]
        for side in sides:  # warm-up
            phases(sb, side, stamps, Path(tmp))
        for number in range(args.repeat):
            turn = number % len(sides)
            for side in sides[turn:] + sides[:turn]:
                measured[side.name].append(phases(sb, side, stamps, Path(tmp)))
    print(
        f"# Timeline of `--since 7d`, {args.years} y, {args.latency_ms} ms per answer "
        f"(median of {args.repeat}; {machine()})"
    )
    print(f"\n| phase | script ms | floor ms | {BARE} ms | project ms |\n|---|---|---|---|---|")
    for index, phase in enumerate(PHASES):
        values = [statistics.median(run[index] for run in measured[name]) * 1000 for name in names]
        print(f"| {phase} | " + " | ".join(f"{v:.0f}" for v in values) + " |")
    objects = [statistics.median(run[-1] for run in measured[name]) for name in names]
    print("| objects the collector tracks at main's return | " + " | ".join(f"{v:,.0f}" for v in objects) + " |")


# Wrappers around the whole run, and the import machinery (the importtime table shows the imports).
SKIPPED = ("<frozen runpy>", "child_probe.py", "builtins.exec", "<frozen importlib", "builtins.__import__")
LIBRARY = re.compile(r".*/(site-packages|lib/python3\.\d+)/")


def _where(filename: str, line: int, function: str) -> str:
    filename = LIBRARY.sub("", filename.replace(str(PROJECT) + "/", ""))
    return f"{function}" if filename == "~" else f"{filename}:{line}({function})"


def print_profile(title: str, files: list[Path], top: int) -> None:
    """The top functions of one or more (merged) thread profiles, by cumulative and by own time."""
    stats = pstats.Stats(*(str(f) for f in files)).stats
    total = sum(tt for _cc, _nc, tt, _ct, _callers in stats.values())
    print(f"\n## {title}: {len(files)} thread(s), {total * 1000:.0f} ms of own time profiled")
    for column, label in ((3, "cumulative"), (2, "own")):
        print(f"\n| function (top by {label} time) | calls | own ms | cumulative ms |\n|---|---|---|---|")
        entries = [(_where(*key), value) for key, value in stats.items()]
        entries = [e for e in entries if not any(skip in e[0] for skip in SKIPPED)]
        for where, (_cc, calls, own, cumulative, _callers) in sorted(entries, key=lambda e: -e[1][column])[:top]:
            print(f"| `{where}` | {calls} | {own * 1000:.0f} | {cumulative * 1000:.0f} |")


def _fresh_run(side: Side) -> None:
    if side.prepare:
        side.prepare()
    subprocess.run(side.command, cwd=PROJECT, env=side.env, check=True)


def cprofile(args, base: dict) -> None:
    """One project run under per-thread cProfile; the main thread (planning, writing) and the fetchers apart."""
    sides = first_load_sides(10, base) if args.first_load else routine_sides(args.years, args.latency_ms, base)
    what = "first load, 10 y of WHOOP, no latency" if args.first_load else f"`--since 7d`, {args.years} y"
    with sides as (sb, _script, project, *_floor), tempfile.TemporaryDirectory() as tmp:
        _fresh_run(project)  # warms the bytecode cache
        if project.prepare:
            project.prepare()
        profile_dir = Path(tmp)
        started = time.perf_counter()
        subprocess.run(
            probe_command(project, profile_dir / "marks.json", profile_dir), cwd=PROJECT, env=project.env, check=True
        )
        print(
            f"# cProfile of the project, {what}: {time.perf_counter() - started:.2f} s under the profiler ({machine()})"
        )
        files = sorted(profile_dir.glob("*.prof"))
        print_profile(
            "main thread: start-up, planning, the writer", [f for f in files if "MainThread" in f.name], args.top
        )
        print_profile("fetch threads, merged", [f for f in files if "-fetch-" in f.name], args.top)


def main() -> None:
    """Run the chosen measurement."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["importtime", "timeline", "cprofile"])
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--first-load", action="store_true", help="cprofile: the 10-year first load instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pycache-") as pycache:
        base = measured_env(pycache)
        {"importtime": importtime, "timeline": timeline, "cprofile": cprofile}[args.what](args, base)


if __name__ == "__main__":
    main()
