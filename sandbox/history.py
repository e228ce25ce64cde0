"""A sandbox person's history on a virtual clock, with the mutations tests and the demo need."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from .person import Identity, Person, day_rng
from .store import RecordCollection
from .timeutil import UTC, epoch_ms, from_unix, iso_ms, parse_iso, unix
from .whoop_data import WhoopDay, close_cycle, generate_whoop_day
from .withings_data import (
    ATTRIB_DEVICE,
    ATTRIB_MANUAL,
    body_measures,
    device_id,
    extra_weigh_in,
    generate_withings_day,
    grpid_for,
    make_group,
    manual_measures,
    set_weight,
)

WHOOP_RESOURCES = ("cycle", "recovery", "sleep", "workout")
TICK = timedelta(seconds=60)  # each mutation moves the clock on, so `modified` always increases


class History:
    """Seeded, deterministic records of one person, the newest day still PENDING_SCORE.

    The clock (`now`) starts at `now` (default: the real current time) and only moves through
    advance_day() and the mutations. Days are whole: the newest day is the last whose 22:00 local
    lies before the clock, so its cycle stays open (no `end`) until the next day is added, even
    when the real next bedtime has passed (a simplification).
    """

    def __init__(
        self, seed: int = 42, days: int = 1095, now: datetime | None = None, who: Identity | None = None
    ) -> None:
        self.seed = seed
        self.person = Person(seed, who) if who else Person(seed)
        self.now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        last = self.now.date() + timedelta(days=1)
        while self.person.day_end(last) > self.now:
            last -= timedelta(days=1)
        self.first_day = last - timedelta(days=max(1, days) - 1)
        self.last_day = self.first_day - timedelta(days=1)
        self.collections = {name: RecordCollection() for name in WHOOP_RESOURCES}
        self.groups: list[dict] = []
        self._groups_by_id: dict[int, dict] = {}
        self._unsynced: list[dict] = []  # measured, but the device has not synced yet
        self._days: dict[date, WhoopDay] = {}
        self._pending: list[tuple[dict, str, dict | None]] = []
        self._rescores = 0
        day = self.first_day
        while day <= last:
            self._materialize(day)
            day += timedelta(days=1)
        self._hold_scores(self._days[last])

    def _materialize(self, day: date, ensure: bool = False) -> WhoopDay:
        """Generate `day`, close the previous cycle at its bedtime and store everything.

        `ensure` (advance_day) promises a workout and a weigh-in that has synced by day's end.
        """
        whoop = generate_whoop_day(self.person, day, self.first_day, ensure_workout=ensure)
        previous = self._days.get(day - timedelta(days=1))
        if previous is not None:
            close_cycle(previous.cycle, parse_iso(whoop.cycle["start"]), day_rng(self.seed, "close", day))
        self.collections["cycle"].add(
            epoch_ms(parse_iso(whoop.cycle["start"])), f"{whoop.cycle['id']:020d}", whoop.cycle, whoop.cycle["id"]
        )
        for sleep in whoop.sleeps:
            self.collections["sleep"].add(epoch_ms(parse_iso(sleep["start"])), sleep["id"], sleep, sleep["id"])
        # Recovery is ordered (and, here, filtered) by the start of its sleep, per WHOOP-SPEC.
        main_start = epoch_ms(parse_iso(whoop.sleeps[0]["start"]))
        self.collections["recovery"].add(
            main_start, whoop.recovery["sleep_id"], whoop.recovery, whoop.recovery["cycle_id"]
        )
        for workout in whoop.workouts:
            self.collections["workout"].add(
                epoch_ms(parse_iso(workout["start"])), workout["id"], workout, workout["id"]
            )
        wake = parse_iso(whoop.sleeps[0]["end"])
        groups = generate_withings_day(self.person, day, wake)
        synced_by = unix(self.person.day_end(day))
        if ensure and not any(g["created"] <= synced_by and g["measures"][0]["type"] == 1 for g in groups):
            groups += extra_weigh_in(self.person, day, wake)
        self._unsynced.extend(groups)
        self._days[day] = whoop
        self.last_day = day
        self._sync_devices()
        return whoop

    def _sync_devices(self) -> None:
        """Publish the groups whose device has synced by now (`created` <= now)."""
        cutoff = unix(self.now)
        waiting = []
        for group in self._unsynced:
            if group["created"] <= cutoff:
                self._store_group(group)
            else:
                waiting.append(group)
        self._unsynced = waiting

    def _store_group(self, group: dict) -> None:
        while group["grpid"] in self._groups_by_id:
            group["grpid"] += 1
        self.groups.append(group)
        self._groups_by_id[group["grpid"]] = group

    def _set_now(self, moment: datetime) -> None:
        self.now = moment.astimezone(UTC).replace(microsecond=0)
        self._sync_devices()

    def _day_records(self, whoop: WhoopDay) -> list[dict]:
        return [whoop.cycle, *whoop.sleeps, whoop.recovery, *whoop.workouts]

    def _hold_scores(self, whoop: WhoopDay) -> None:
        """Turn the newest day into PENDING_SCORE: no `score`, updated_at = created_at."""
        for record in self._day_records(whoop):
            self._pending.append((record, record["score_state"], record.pop("score", None)))
            record["score_state"] = "PENDING_SCORE"
            record["updated_at"] = record["created_at"]

    def _release_scores(self, since: datetime) -> None:
        """Score the held records (or mark them UNSCORABLE), with a later `updated_at`."""
        rng = random.Random(f"{self.seed}:release:{self.last_day.toordinal()}")
        for record, state, score in self._pending:
            record["score_state"] = state
            if score is not None:
                record["score"] = score
            scored_at = iso_ms(since + timedelta(minutes=rng.uniform(10, 120)))
            record["updated_at"] = max(record["updated_at"], scored_at)  # a closed cycle may be later
        self._pending = []

    def advance_day(self) -> dict:
        """Add the next day; the day that was PENDING_SCORE becomes SCORED with a newer updated_at."""
        before = self.now
        whoop = self._materialize(self.last_day + timedelta(days=1), ensure=True)
        self._release_scores(before)
        after = max(before + timedelta(days=1), self.person.day_end(self.last_day) + timedelta(minutes=5))
        self._set_now(after)
        self._hold_scores(whoop)
        return {
            "day": self.last_day.isoformat(),
            "now": iso_ms(self.now),
            "cycle_id": whoop.cycle["id"],
            "sleeps": len(whoop.sleeps),
            "workouts": len(whoop.workouts),
        }

    def _tick(self) -> int:
        self._set_now(self.now + TICK)
        return unix(self.now)

    def rescore_latest(self) -> int:
        """Re-score the newest SCORED day (late rescoring): new values, updated_at = now; its cycle id."""
        day = self.last_day - timedelta(days=1) if self._pending else self.last_day
        whoop = self._days[day]
        self._rescores += 1
        rng = random.Random(f"{self.seed}:rescore:{day.toordinal()}:{self._rescores}")
        stamp = iso_ms(from_unix(self._tick()))
        for record in self._day_records(whoop):
            score = record.get("score")
            if not score:
                continue
            if "recovery_score" in score:
                score["recovery_score"] = float(max(1, min(99, score["recovery_score"] + rng.choice((-6, -3, 4, 7)))))
                score["hrv_rmssd_milli"] = round(score["hrv_rmssd_milli"] * rng.uniform(0.93, 1.07), 6)
            if "strain" in score:
                score["strain"] = round(min(21.0, score["strain"] + rng.uniform(0.1, 0.8)), 7)
            if "sleep_performance_percentage" in score:
                score["sleep_performance_percentage"] = float(max(1, score["sleep_performance_percentage"] - 2))
            record["updated_at"] = stamp
        return whoop.cycle["id"]

    def add_weigh_in(self, kg: float, at: datetime | int | None = None, manual: bool = False) -> int:
        """A new weigh-in (scale with body composition, or a manual attrib-2 entry); its grpid."""
        created = self._tick()
        when = created if at is None else (at if isinstance(at, int) else unix(at))
        rng = random.Random(f"{self.seed}:weigh-in:{created}")
        day = from_unix(when).date()
        if manual:
            group = make_group(0, ATTRIB_MANUAL, when, created, None, manual_measures(kg, rng))
        else:
            model, modelid = self.person.scale_model(day)
            device = (model, modelid, device_id(self.seed, model))
            group = make_group(0, ATTRIB_DEVICE, when, created, device, body_measures(kg, self.person.fat_ratio(day)))
        group["grpid"] = max(grpid_for(created, rng, self.person), max(self._groups_by_id, default=0) + 1)
        self._store_group(group)
        return group["grpid"]

    def edit_weigh_in(self, grpid: int, kg: float) -> int:
        """Change the weight of an existing group; `modified` moves to now. Returns the new modified."""
        group = self._groups_by_id.get(int(grpid))
        if group is None or not any(m["type"] == 1 for m in group["measures"]):
            raise KeyError(f"no weight group with grpid {grpid}")
        set_weight(group, kg)
        group["modified"] = self._tick()
        return group["modified"]

    def delete_whoop(self, collection: str, record_id: object) -> dict:
        """Delete a WHOOP record as the app does; a deleted sleep takes its recovery with it."""
        record = self.collections[collection].remove(record_id)
        if collection == "sleep":
            for recovery in self.collections["recovery"].all():
                if recovery["sleep_id"] == record_id:
                    self.collections["recovery"].remove(recovery["cycle_id"])
        return record

    def delete_group(self, grpid: int) -> None:
        """Delete a Withings measure group as Health Mate does: it stops being listed."""
        group = self._groups_by_id.pop(int(grpid))
        self.groups.remove(group)

    def latest_weight(self) -> dict | None:
        """The newest published weight: {grpid, date, kg}."""
        weighed = [g for g in self.groups if any(m["type"] == 1 for m in g["measures"])]
        if not weighed:
            return None
        group = max(weighed, key=lambda g: (g["date"], g["grpid"]))
        measure = next(m for m in group["measures"] if m["type"] == 1)
        return {
            "grpid": group["grpid"],
            "date": group["date"],
            "kg": round(measure["value"] * 10 ** measure["unit"], 4),
        }

    def summary(self) -> dict:
        """Counts, clock and newest day, for GET /_sandbox/state."""
        return {
            "seed": self.seed,
            "now": iso_ms(self.now),
            "now_unix": unix(self.now),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "counts": {
                **{name: len(c) for name, c in self.collections.items()},
                "measuregrps": len(self.groups),
                "unsynced_measuregrps": len(self._unsynced),
            },
            "pending_cycle_id": self._days[self.last_day].cycle["id"] if self._pending else None,
            "latest_weight": self.latest_weight(),
        }
