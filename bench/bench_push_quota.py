"""WHOOP requests per account a day: `watch` polling against `watch` with push, and people per WHOOP app.

Counted, not timed: the watch's own timetable (sync/cadence.py) runs a day on a fake clock, and
the events a day brings are the sandbox's (`advance` for `--days` days, diffed as its pusher does).
Each event costs what the event processor fetches for it: a sleep or a workout by id (1 request),
a recovery through its sleep, its cycle's recovery and the cycle (3), a deletion nothing. A
token refresh is counted whenever requests come more than a token lifetime after the last one.
Results go to docs/BENCHMARKS.md and docs/SCALE.md by hand.

    python bench/bench_push_quota.py [--days 30] [--people 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from api_clients.whoop import WhoopClient  # noqa: E402 - imported once the checkout is on sys.path
from sandbox import SandboxServer  # noqa: E402 - imported once the checkout is on sys.path
from sandbox.push_events import events_between, snapshot  # noqa: E402 - imported once the checkout is on sys.path
from sync import resources  # noqa: E402 - imported once the checkout is on sys.path
from sync.cadence import Timing  # noqa: E402 - imported once the checkout is on sys.path
from sync.watch import Schedule  # noqa: E402 - imported once the checkout is on sys.path

DAY = 86_400.0
APP_DAILY_LIMIT = 10_000  # WHOOP's default per app (docs/SCALE.md, section 1)
REQUESTS_PER_EVENT = {"sleep.updated": 1, "workout.updated": 1, "recovery.updated": 3}
# When in the day events come: a night's sleep and recovery on waking, workouts later (hours, UTC).
WAKE_HOUR, WORKOUT_HOUR = 7.0, 18.0


def sandbox_events(days: int, people: int) -> list[Counter]:
    """WHOOP event types per person-day, as the sandbox would push them for `days` new days."""
    per_day = []
    with SandboxServer(days=30, seed=11, people=people, now=datetime.now(timezone.utc) - timedelta(days=1)) as sb:
        app = sb.app
        for person in range(people):
            app.people.life(person)
        for _ in range(days):
            before = snapshot(app)
            app.advance_day()
            events = events_between(app, "advance", {}, before, snapshot(app))
            for person in range(people):
                per_day.append(
                    Counter(e.fields["type"] for e in events if e.provider == "whoop" and e.person == person)
                )
    return per_day


def day_of_cycles(live: bool) -> list[tuple[float, str]]:
    """(second, kind) of the WHOOP cycles of a watch's second day (the first starts with a reconcile
    whatever the cadence), push live or not."""
    timing, now, cycles = Timing(Schedule()), 0.0, []
    while now < 2 * DAY:
        due = timing.due(["whoop"], {"whoop": live}, now)
        if due is not None:
            if now >= DAY:
                cycles.append((now - DAY, due[0]))
            timing.ran(*due, now)
        now += max(1.0, timing.wait(["whoop"], {"whoop": live}, now))
    return cycles


def count(cycles: list[tuple[float, str]], events: Counter) -> dict[str, int]:
    """Requests of a day: the cycles' pages, what the events fetch, and the token refreshes."""
    polled, declared = len(resources.polled("whoop")), len(resources.of_source("whoop"))
    bursts = [(t, polled if kind == "poll" else declared) for t, kind in cycles]
    morning = sum(n * REQUESTS_PER_EVENT.get(kind, 0) for kind, n in events.items() if not kind.startswith("workout"))
    workouts = events["workout.updated"] * REQUESTS_PER_EVENT["workout.updated"]
    bursts += [(WAKE_HOUR * 3600, morning), (WORKOUT_HOUR * 3600, workouts)]
    lifetime, refreshes, valid_until = WhoopClient.token_lifetime.total_seconds(), 0, -1.0
    for at, requests in sorted(bursts):
        if requests and at >= valid_until:
            refreshes, valid_until = refreshes + 1, at + lifetime
    sweep = sum(n for (t, kind), (_, n) in zip(cycles, bursts, strict=False) if kind == "reconcile")
    polls = sum(n for (t, kind), (_, n) in zip(cycles, bursts, strict=False) if kind == "poll")
    return {"polls": polls, "sweeps": sweep, "events": morning + workouts, "refreshes": refreshes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="sandbox days whose events are counted")
    parser.add_argument("--people", type=int, default=3, help="sandbox people")
    args = parser.parse_args()
    days = sandbox_events(args.days, args.people)
    mean = Counter()
    for day in days:
        mean.update(day)
    typical = Counter({kind: round(n / len(days)) for kind, n in mean.items()})
    print(f"WHOOP events per person-day over {len(days)} sandbox person-days:")
    for kind in sorted(mean):
        print(f"  {kind}: mean {mean[kind] / len(days):.2f}")
    watch = count(day_of_cycles(live=False), Counter())
    totals = [sum(count(day_of_cycles(live=True), day).values()) for day in days]
    push = count(day_of_cycles(live=True), typical)
    watch_total, push_total = sum(watch.values()), sum(push.values())
    print(f"watch, polling: {watch_total} requests a day {watch}")
    print(f"watch with push live, a typical day: {push_total} {push}")
    print(f"  over every person-day: median {statistics.median(totals)}, worst {max(totals)}")
    print(f"ratio: {push_total / watch_total:.3f} (1/{watch_total / push_total:.0f}); goal <= 0.2")
    for label, per_day in (("polling", watch_total), ("push", push_total), ("push, worst day", max(totals))):
        print(f"people one WHOOP app keeps fresh ({APP_DAILY_LIMIT:,} a day), {label}: {APP_DAILY_LIMIT // per_day}")


if __name__ == "__main__":
    main()
