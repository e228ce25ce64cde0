"""How often `watch` reads each provider: the schedule's polls, or with push live none and a sweep a day.

A pure timetable over monotonic seconds, so a test drives days of it with a fake clock; the
watch loop (sync/watch.py) asks it what is due, runs that, and tells it what ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.watch import Schedule

# With push live for a provider (configuration/push.py, `push_live`), its polls stop and one
# reconciliation a day sweeps the lookback: it fetches what a dropped delivery missed, and the
# deletions and rescores that went unannounced, so nothing stays missing for more than a day.
SWEEP_SECONDS = 24 * 3600.0
# What one account's events cost a day with push live, token refreshes included. WHOOP: a night's
# sleep and recovery, each sent again once scored (2 x 1 and 2 x 3 requests: a recovery goes
# through its sleep to its cycle), two workouts, in about three bursts an hour apart or more
# (bench/bench_push_quota.py counts it from the sandbox's events). Withings: a weigh-in, a day
# of activity and a night, one request each, twice over, and the sweep's list of the account's
# subscriptions. For planning; the shared budget still holds.
EVENT_REQUESTS_PER_DAY = {"whoop": 13, "withings": 7}
# How often a watch relying on push looks again whether events still come (or started coming).
PUSH_RECHECK_SECONDS = 300.0


@dataclass(frozen=True)
class Cadence:
    """How often one provider is read: polls (None: none, push brings the changes) and reconciliations."""

    poll_seconds: float | None
    reconcile_seconds: float


def cadence(schedule: Schedule, source: str, live: bool) -> Cadence:
    """The provider's cadence: the schedule's, or with push live no polls and a daily sweep."""
    if live:
        return Cadence(None, max(schedule.reconcile_seconds, SWEEP_SECONDS))
    return Cadence(schedule.poll_seconds[source], schedule.reconcile_seconds)


@dataclass
class Timing:
    """When each provider was last polled and reconciled (monotonic seconds), and what is due next.

    Kept as times of the last cycles rather than due times, so a change of cadence (push starting
    or stopping) moves what is due at once: a provider whose push falls silent is polled, and
    reconciled if its last sweep is older than the schedule's interval, on the next wake-up."""

    schedule: Schedule
    last_poll: dict[str, float] = field(default_factory=dict)
    last_reconcile: dict[str, float] = field(default_factory=dict)

    def _due(self, source: str, live: bool) -> tuple[float, float]:
        pace = cadence(self.schedule, source, live)
        reconcile = self.last_reconcile.get(source, float("-inf")) + pace.reconcile_seconds
        poll = (
            float("inf") if pace.poll_seconds is None else self.last_poll.get(source, float("-inf")) + pace.poll_seconds
        )
        return poll, reconcile

    def due(self, sources, live: dict[str, bool], now: float) -> tuple[str, list[str]] | None:
        """("reconcile", sources) when any reconciliation is due, else ("poll", sources) when a poll is; else None."""
        dues = {s: self._due(s, live.get(s, False)) for s in sources}
        reconcile = [s for s, (_poll, rec) in dues.items() if now >= rec]
        if reconcile:
            return "reconcile", reconcile
        poll = [s for s, (p, _rec) in dues.items() if now >= p]
        return ("poll", poll) if poll else None

    def ran(self, kind: str, sources, now: float) -> None:
        """Record a cycle of `kind` over `sources` that started at `now` (a reconciliation polls too)."""
        for source in sources:
            self.last_poll[source] = now
            if kind == "reconcile":
                self.last_reconcile[source] = now

    def wait(self, sources, live: dict[str, bool], now: float, recheck: float | None = None) -> float:
        """Seconds until the next cycle is due; at most `recheck` (whether push still works may change)."""
        next_due = min((min(self._due(s, live.get(s, False))) for s in sources), default=now)
        return max(0.0, min(next_due - now, recheck if recheck is not None else float("inf")))
