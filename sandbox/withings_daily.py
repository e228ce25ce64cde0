"""The Withings v2 stand-ins for daily activity (getactivity) and sleep summaries (getsummary).

Each day's record is a pure function of (seed, date); edits are kept beside them and move the
record's `modified` to the clock. Today's partial day grows with the clock and is re-`modified`
whenever the clock moves, as a watch syncing through the day would.
"""

from __future__ import annotations

from datetime import date, timedelta

from .history import History
from .person import day_rng, device_id
from .timeutil import local_at, unix

ACTIVITY_DEFAULT_FIELDS = (
    "steps",
    "distance",
    "elevation",
    "soft",
    "moderate",
    "intense",
    "active",
    "calories",
    "totalcalories",
)
SLEEP_DEFAULT_FIELDS = (
    "total_timeinbed",
    "total_sleep_time",
    "lightsleepduration",
    "deepsleepduration",
    "remsleepduration",
    "wakeupduration",
    "wakeupcount",
    "sleep_score",
    "hr_average",
    "rr_average",
    "snoring",
)
# Every `data` field a sleep monitor's night carries here; Withings returns only those named in
# `data_fields` (SLEEP_DEFAULT_FIELDS without it), so a client that leaves one out never gets it.
SLEEP_MAT_FIELDS = SLEEP_DEFAULT_FIELDS + (
    "sleep_efficiency",
    "sleep_latency",
    "hr_min",
    "hr_max",
    "rr_min",
    "rr_max",
    "snoringepisodecount",
    "wakeup_latency",
    "waso",
    "nb_rem_episodes",
    "out_of_bed_count",
    "breathing_disturbances_intensity",
    "apnea_hypopnea_index",
    "durationtosleep",
    "durationtowakeup",
    "night_events",
)
# Heart-rate fields that getactivity and getworkouts share.
HR_FIELDS = ("hr_average", "hr_min", "hr_max", "hr_zone_0", "hr_zone_1", "hr_zone_2", "hr_zone_3")
ACTIVITY_TRACKER_FIELDS = ACTIVITY_DEFAULT_FIELDS + HR_FIELDS
WATCH = ("ScanWatch", 93)
SLEEP_MAT_MODEL, SLEEP_MAT_MODEL_ID = 32, 63  # a sleep monitor (Sleep Analyzer / Aura Sensor V2)
INSUFFICIENT_SCOPE = (
    "XRequestID: Not provided insufficient_scope: The request requires higher privileges "
    "than provided by the access token"
)


def _fields(requested: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f.strip() for f in requested.split(",") if f.strip()) if requested else default


class WithingsDaily:
    """Activity days and sleep nights of the sandbox person, with their edits."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.activity_edits: dict[date, dict] = {}
        self.sleep_edits: dict[date, dict] = {}

    # ---- records ----
    def _activity_values(self, day: date) -> dict:
        rng = day_rng(self.history.seed, "activity", day)
        steps = max(800, int(rng.gauss(9000, 2600)))
        moderate, intense = rng.randrange(600, 3600), rng.randrange(0, 1800)
        calories = round(steps * 0.045 + intense * 0.12, 2)
        hr_average = rng.randint(64, 80)
        return {
            "steps": steps,
            "distance": round(steps * 0.76, 2),
            "elevation": rng.randrange(0, 24),
            "soft": rng.randrange(1800, 9000),
            "moderate": moderate,
            "intense": intense,
            "active": moderate + intense,
            "calories": calories,
            "totalcalories": round(calories + 1780.5, 2),
            "hr_average": hr_average,
            "hr_min": hr_average - rng.randint(14, 22),
            "hr_max": hr_average + rng.randint(60, 100),
            "hr_zone_0": rng.randrange(30000, 52000),
            "hr_zone_1": rng.randrange(1800, 7200),
            "hr_zone_2": rng.randrange(0, 1800),
            "hr_zone_3": rng.randrange(0, 300),
        }

    def _activity(self, day: date, fraction: float, modified: int, fields: tuple[str, ...]) -> dict:
        person = self.history.person
        values = self._activity_values(day)
        if fraction < 1:  # today so far: the counters grow through the day
            values = {
                k: (round(v * fraction, 2) if isinstance(v, float) else int(v * fraction))
                if not k.startswith("hr_")
                else v
                for k, v in values.items()
            }
        edit = self.activity_edits.get(day, {})
        values.update(edit.get("values", {}))
        watch = device_id(self.history.seed, WATCH[0])
        record = {
            "date": day.isoformat(),
            "timezone": person.zone_for(day),
            "deviceid": watch,
            "hash_deviceid": watch,
            "brand": 1,
            "is_tracker": True,
            "modified": max(modified, edit.get("modified", 0)),
            "model": WATCH[0],
            "modelid": WATCH[1],
        }
        record.update({k: values[k] for k in fields if k in values})
        return record

    def activities(self, fields: tuple[str, ...] = ACTIVITY_DEFAULT_FIELDS, since: int | None = None) -> list[dict]:
        """Every day from the first to the newest, then today's partial day when it has begun.

        With `since`, days whose `modified` is surely older are not built at all: a routine
        `lastupdate` read then costs the same for 10 years of history as for 2."""
        history, person = self.history, self.history.person
        days = []
        day = history.first_day
        while day <= history.last_day:
            ended = unix(person.day_end(day))
            if since is None or max(ended, self.activity_edits.get(day, {}).get("modified", 0)) >= since:
                days.append(self._activity(day, 1.0, ended, fields))
            day += timedelta(days=1)
        midnight = local_at(day, 0.0, person.zone_for(day))
        if midnight < history.now:
            span = (person.day_end(day) - midnight).total_seconds()
            fraction = min(1.0, (history.now - midnight).total_seconds() / span)
            days.append(self._activity(day, fraction, unix(history.now), fields))
        return days

    def _night(self, day: date, fields: tuple[str, ...]) -> dict:
        person, rng = self.history.person, day_rng(self.history.seed, "withings-sleep", day)
        start = person.bedtime(day) + timedelta(minutes=rng.randrange(-10, 10))
        in_bed = rng.randrange(6 * 3600, 9 * 3600)
        latency, awake = rng.randrange(300, 1500), rng.randrange(600, 2400)
        asleep = in_bed - latency - awake
        light, deep = int(asleep * rng.uniform(0.5, 0.6)), int(asleep * rng.uniform(0.15, 0.22))
        hr, rr = rng.randint(50, 60), rng.randint(13, 16)
        data = {
            "total_timeinbed": in_bed,
            "total_sleep_time": asleep,
            "lightsleepduration": light,
            "deepsleepduration": deep,
            "remsleepduration": asleep - light - deep,
            "wakeupduration": awake,
            "wakeupcount": rng.randint(0, 4),
            "sleep_efficiency": round(asleep / in_bed, 2),
            "sleep_latency": latency,
            "sleep_score": rng.randint(58, 94),
            "hr_average": hr,
            "hr_min": hr - rng.randint(4, 9),
            "hr_max": hr + rng.randint(15, 32),
            "rr_average": rr,
            "rr_min": rr - rng.randint(1, 3),
            "rr_max": rr + rng.randint(2, 5),
            "snoring": rng.randrange(0, 1800),
            "snoringepisodecount": rng.randint(0, 6),
        }
        data.update(self._night_extras(day, latency, awake, in_bed))
        edit = self.sleep_edits.get(day, {})
        data.update(edit.get("values", {}))
        end = unix(start) + in_bed
        created = end + rng.randrange(600, 3600)
        mat, night_id = device_id(self.history.seed, "Sleep Analyzer"), person.who.id_offset + 3_000_000_000
        return {
            "id": night_id + day.toordinal(),
            "timezone": person.zone_for(day),
            "model": SLEEP_MAT_MODEL,
            "model_id": SLEEP_MAT_MODEL_ID,
            "hash_deviceid": mat,
            "startdate": unix(start),
            "enddate": end,
            "date": day.isoformat(),
            "created": created,
            "modified": max(created, edit.get("modified", 0)),
            "completed": True,
            "data": {k: data[k] for k in fields if k in data},
        }

    def night_span(self, day: date) -> tuple[int, int]:
        """(startdate, enddate) of the night ending on `day`, as its summary gives them."""
        night = self._night(day, ())
        return night["startdate"], night["enddate"]

    def _night_extras(self, day: date, latency: int, awake: int, in_bed: int) -> dict:
        """The less common getsummary fields, from a generator of their own (older values stay put)."""
        rng = day_rng(self.history.seed, "withings-sleep-extra", day)
        wakeup_latency = rng.randrange(60, 900)
        return {
            "wakeup_latency": wakeup_latency,
            "waso": max(0, awake - wakeup_latency),
            "nb_rem_episodes": rng.randint(3, 6),
            "out_of_bed_count": rng.randint(0, 2),
            "breathing_disturbances_intensity": rng.randint(0, 30),
            "apnea_hypopnea_index": round(rng.uniform(0, 8), 1),
            "durationtosleep": latency,
            "durationtowakeup": wakeup_latency,
            "night_events": {"1": [0], "2": [latency], "3": [in_bed - wakeup_latency], "4": [in_bed]},
        }

    def nights(self, fields: tuple[str, ...] = SLEEP_DEFAULT_FIELDS, since: int | None = None) -> list[dict]:
        """One summary per night, the night ending on each generated day (with `since`, only the
        nights whose `modified` may be that recent are built)."""
        first, last = self.history.first_day, self.history.last_day
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [self._night(day, fields) for day in days if since is None or self._may_be_modified_since(day, since)]

    def _may_be_modified_since(self, day: date, since: int) -> bool:
        # A night's `created` is at most bedtime + 10 min + 9 h in bed + 1 h (see _night).
        latest_created = unix(self.history.person.bedtime(day)) + 600 + 9 * 3600 + 3600
        return max(latest_created, self.sleep_edits.get(day, {}).get("modified", 0)) >= since

    # ---- mutations ----
    def edit_activity(self, day: date, steps: int) -> int:
        """Change a day's steps (and distance); its `modified` moves to now, which is returned."""
        if not self.history.first_day <= day <= self.history.last_day + timedelta(days=1):
            raise KeyError(f"no activity on {day}")
        modified = self.history._tick()
        self.activity_edits[day] = {
            "values": {"steps": int(steps), "distance": round(steps * 0.76, 2)},
            "modified": modified,
        }
        return modified

    def edit_sleep_score(self, day: date, score: int) -> int:
        """Change the sleep score of the night ending on `day`; returns the new `modified`."""
        if not self.history.first_day <= day <= self.history.last_day:
            raise KeyError(f"no night ending on {day}")
        modified = self.history._tick()
        self.sleep_edits[day] = {"values": {"sleep_score": int(score)}, "modified": modified}
        return modified

    # ---- the endpoints ----
    def query(self, path: str, params: dict[str, str]) -> tuple[str, list[dict]] | None:
        """(records key, matching records) of a getactivity/getsummary call; None for another action."""
        action = params.get("action")
        if (path, action) not in (("/v2/measure", "getactivity"), ("/v2/sleep", "getsummary")):
            return None
        # "data that were updated or created after this date"; it replaces the date params.
        since = int(params["lastupdate"]) if params.get("lastupdate") not in (None, "") else None
        if action == "getactivity":
            fields = _fields(params.get("data_fields"), ACTIVITY_DEFAULT_FIELDS)
            key, records = "activities", self.activities(fields, since)
        else:
            key, records = "series", self.nights(_fields(params.get("data_fields"), SLEEP_DEFAULT_FIELDS), since)
        if since is not None:
            records = [r for r in records if r["modified"] >= since]
        else:
            first, last = params.get("startdateymd"), params.get("enddateymd")
            if not first or not last:
                raise ValueError("startdateymd and enddateymd, or lastupdate, are required")
            records = [r for r in records if first <= r["date"] <= last]
        return key, records
