"""Start-up of an incremental `etl.py --since 7d` (1 y of history, 50 ms per request) and where it goes.

    python bench/bench_startup.py                       # this checkout: wall time and -X importtime
    python bench/bench_startup.py --compare /tmp/old    # interleaved A/B against another checkout

Runs are interleaved so that a shared machine's load drifts on both sides alike.
"""

from __future__ import annotations

import argparse
import os
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

from bench.bench_etl import machine, sandbox, seed_tokens  # noqa: E402 - imported once the checkout is on sys.path

TOP_LEVEL = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", re.MULTILINE)


def run(checkout: Path, env: dict, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *flags, "etl.py", "-q", "--since", "7d"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def imports(checkout: Path, env: dict, repeat: int) -> tuple[float, dict[str, float]]:
    """Median total of top-level imports (s), and the median per top-level module (ms)."""
    totals, per_module = [], defaultdict(list)
    for _ in range(repeat):
        found = TOP_LEVEL.findall(run(checkout, env, "-X", "importtime").stderr)
        totals.append(sum(int(us) for us, _ in found) / 1e6)
        for us, name in found:
            per_module[name].append(int(us) / 1000)
    return statistics.median(totals), {n: statistics.median(v) for n, v in per_module.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, help="another checkout to measure alongside this one")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    checkouts = {"this": PROJECT, **({"compare": args.compare} if args.compare else {})}
    print(f"# Incremental start-up, 50 ms per request ({machine()})")
    with tempfile.TemporaryDirectory() as tmp:
        sb = sandbox(365)
        db_url = f"sqlite:///{tmp}/startup.db"
        seed_tokens(sb, db_url)
        env = {
            **os.environ,
            **sb.environment(mint_tokens=False),
            "DATABASE_URL": db_url,
            "WHOOP_PLATFORM_NO_DOTENV": "1",
        }
        subprocess.run([sys.executable, "etl.py", "-q"], cwd=PROJECT, env=env, check=True)
        sb.app.faults.latency_ms = 50
        wall = defaultdict(list)
        for _ in range(args.repeat):
            for name, checkout in checkouts.items():
                started = time.perf_counter()
                run(checkout, env)
                wall[name].append(time.perf_counter() - started)
        for name, checkout in checkouts.items():
            total, per_module = imports(checkout, env, 5)
            top = ", ".join(f"{n} {ms:.0f}" for n, ms in sorted(per_module.items(), key=lambda i: -i[1])[:6])
            print(
                f"| {name} ({checkout}) | median {statistics.median(wall[name]):.3f} s | min "
                f"{min(wall[name]):.3f} s | imports {total:.3f} s | top-level ms: {top} |"
            )
        sb.stop()


if __name__ == "__main__":
    main()
