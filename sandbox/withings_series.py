"""One person's high-frequency Withings data and devices: the sleep series, intraday, workouts,
ECG and getdevice stand-ins, with their parameters, paging and the device admin changes.

Docs: docs/API_NOTES.md (Withings: Sleep series, Intraday activity, Workouts, ECG, Devices).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .history import History
from .person import device_id
from .timeutil import UTC, unix
from .withings_daily import SLEEP_MAT_MODEL_ID, WithingsDaily
from .withings_heart import day_of_signal, recording_on, signal_of
from .withings_intraday import INTRADAY_DEFAULT_FIELDS, answer_intraday
from .withings_nights import MAX_SPAN, SLEEP_MONITOR, SLEEP_SERIES_DEFAULT, night_segments, select_fields
from .withings_workouts import WORKOUT_DEFAULT_FIELDS, with_fields, workouts_between

# (path, action) -> the scope a token needs for it (reference, "Get access" page).
SERIES_ACTIONS = {
    ("/v2/sleep", "get"): "user.activity",
    ("/v2/measure", "getintradayactivity"): "user.activity",
    ("/v2/measure", "getworkouts"): "user.activity",
    ("/v2/heart", "list"): "user.metrics",
    ("/v2/heart", "get"): "user.metrics",
    ("/v2/user", "getdevice"): "user.info",
}
# The watch and the sleep monitor were set up this many days before the sandbox's start: the
# days before have sleep summaries but no series, where a first run's walk back ends. None by
# default (a run's series calls stay few); the demo (`python -m sandbox`) and the series tests ask for some.
DEFAULT_SERIES_DAYS = 0
BATTERY_LEVELS = ("high", "medium", "low")  # "high (> 75%), medium (> 30%) or low"
# (type, model, model_id, battery) of the devices besides the scale; each device id is the one
# the other endpoints report for its data.
DEVICES = (
    ("Activity Tracker", "ScanWatch", 93, "high", "ScanWatch"),
    ("Sleep Monitor", "Aura Sensor V2", SLEEP_MAT_MODEL_ID, "high", "Sleep Analyzer"),
    ("Blood Pressure Monitor", "BPM Connect", 45, "high", "BPM Connect"),
)


def _fields(params: dict[str, str], default: tuple[str, ...]) -> tuple[str, ...]:
    requested = params.get("data_fields")
    return tuple(f.strip() for f in requested.split(",") if f.strip()) if requested else default


def _unix_param(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    return int(value) if value not in (None, "") else None


def _utc_day(seconds: int) -> date:
    return datetime.fromtimestamp(seconds, UTC).date()


class WithingsSeries:
    """Answers the five high-frequency endpoints for one sandbox person, and keeps device changes."""

    def __init__(self, history: History, daily: WithingsDaily, series_from: date | None = None) -> None:
        self.history, self.daily = history, daily
        # The first day with sleep series and intraday samples.
        self.series_from = max(history.first_day, series_from or history.first_day)
        self.device_changes: dict[str, dict] = {}
        self.workout_changes: dict[int, dict | None] = {}  # id -> fields changed, None: deleted

    # ---- devices ----
    def _group_sessions(self, devid: str) -> tuple[int | None, int | None]:
        created = [g["created"] for g in self.history.groups if g.get("deviceid") == devid]
        return (min(created), max(created)) if created else (None, None)

    def devices(self) -> list[dict]:
        """getdevice's `devices`: the watch, the sleep mat, the BPM and every scale the person used."""
        history, person = self.history, self.history.person
        now, first_day = unix(history.now), history.first_day
        scales = {person.scale_model(first_day), person.scale_model(history.last_day)}
        rows = [("Scale", model, model_id, "medium", model) for model, model_id in sorted(scales)]
        devices = []
        for kind, model, model_id, battery, seed_name in rows + list(DEVICES):
            devid = device_id(person.seed, seed_name)
            first, last = self._group_sessions(devid)
            if model == "ScanWatch":
                first, last = unix(person.day_end(first_day)) - 12 * 3600, now - 1500
            elif model_id == SLEEP_MAT_MODEL_ID:
                first, last = self.daily.night_span(first_day)[0], self.daily.night_span(history.last_day)[1] + 900
            device = {
                "type": kind,
                "battery": battery,
                "model": model,
                "model_id": model_id,
                "timezone": person.zone_for(history.last_day),
                "first_session_date": first,
                "last_session_date": last,
                "deviceid": devid,
                "hash_deviceid": devid,
            }
            device.update(self.device_changes.get(model, {}))
            devices.append(device)
        return devices

    def set_device(self, model: str, battery: str | None = None, last_session: int | None = None) -> dict:
        """Change a device's battery level and/or last session (unix seconds); returns the device."""
        known = [d["model"] for d in self.devices()]
        if model not in known:
            raise KeyError(f"no device {model!r}; the devices are {', '.join(known)}")
        if battery is not None and battery not in BATTERY_LEVELS:
            raise ValueError(f"battery must be one of {', '.join(BATTERY_LEVELS)}, not {battery!r}")
        change = self.device_changes.setdefault(model, {})
        if battery is not None:
            change["battery"] = battery
        if last_session is not None:
            change["last_session_date"] = int(last_session)
        return next(d for d in self.devices() if d["model"] == model)

    # ---- workout edits ----
    def edit_workout(self, workout_id: int, calories: int) -> int:
        """Change a workout's calories as Health Mate does; its `modified` moves to now (returned)."""
        self._workout(workout_id)
        modified = unix(self.history.now)
        self.workout_changes[workout_id] = {"calories": calories, "modified": modified}
        return modified

    def delete_workout(self, workout_id: int) -> None:
        """Delete a workout: it is no longer listed (nothing announces it)."""
        self._workout(workout_id)
        self.workout_changes[workout_id] = None

    def _workout(self, workout_id: int) -> dict:
        history = self.history
        for record in workouts_between(history.person, history.first_day, history.last_day):
            if record["id"] == workout_id:
                return record
        raise KeyError(f"no workout {workout_id}")

    def _changed_workouts(self, records: list[dict]) -> list[dict]:
        out = []
        for record in records:
            if record["id"] not in self.workout_changes:
                out.append(record)
            elif (change := self.workout_changes[record["id"]]) is not None:
                data = {**record["data"], "calories": change["calories"]}
                out.append({**record, "modified": change["modified"], "data": data})
        return out

    # ---- the endpoints ----
    def answer(self, path: str, action: str, params: dict[str, str], page_size: int) -> tuple[int, dict]:
        """(body status, body) of one call; ValueError for a missing or malformed parameter."""
        if action == "get" and path == "/v2/sleep":
            return 0, self._sleep(params)
        if action == "getintradayactivity":
            return 0, self._intraday(params)
        if action == "getworkouts":
            return 0, _page("series", self._workouts(params), params, page_size)
        if action == "list":
            return 0, _page("series", self._ecg_list(params), params, page_size)
        if action == "get":
            return self._ecg_get(params)
        return 0, {"devices": self.devices()}

    def _nights_between(self, start: int, end: int):
        """(day, startdate, enddate) of every generated night that touches start..end."""
        day, last = max(self.series_from, _utc_day(start)), _utc_day(end) + timedelta(days=1)
        while day <= min(last, self.history.last_day):
            night_start, night_end = self.daily.night_span(day)
            if night_end > start and night_start <= end:
                yield day, night_start, night_end
            day += timedelta(days=1)

    def _sleep(self, params: dict[str, str]) -> dict:
        start, end = _unix_param(params, "startdate"), _unix_param(params, "enddate")
        if start is None or end is None:
            raise ValueError("startdate and enddate are required")
        end = min(end, start + MAX_SPAN)
        fields, series = _fields(params, SLEEP_SERIES_DEFAULT), []
        for day, night_start, night_end in self._nights_between(start, end):
            for segment in night_segments(self.history.seed, day, night_start, night_end):
                if segment["enddate"] > start and segment["startdate"] <= end:
                    series.append(select_fields(segment, fields))
        return {"series": series, "model": SLEEP_MONITOR}

    def _intraday(self, params: dict[str, str]) -> dict:
        now = unix(self.history.now)
        start, end = _unix_param(params, "startdate"), _unix_param(params, "enddate")
        if start is None:  # "the most recent activity data will be returned"
            start = (end if end is not None else now) - MAX_SPAN
        end = now if end is None else end
        series = answer_intraday(
            self.history.person, start, end, _fields(params, INTRADAY_DEFAULT_FIELDS), self.series_from, now
        )
        # An empty answer is written `[]`: a PHP-built JSON object with no keys looks like that.
        return {"series": series or []}

    def _workouts(self, params: dict[str, str]) -> list[dict]:
        history, fields = self.history, _fields(params, WORKOUT_DEFAULT_FIELDS)
        since, now = _unix_param(params, "lastupdate"), unix(history.now)
        records = self._changed_workouts(workouts_between(history.person, history.first_day, history.last_day))
        if since is not None:
            records = [r for r in records if since <= r["modified"] <= now]
        else:
            first, last = params.get("startdateymd"), params.get("enddateymd")
            if not first or not last:
                raise ValueError("startdateymd and enddateymd, or lastupdate, are required")
            records = [r for r in records if first <= r["date"] <= last and r["modified"] <= now]
        return [with_fields(r, fields) for r in records]

    def _ecg_list(self, params: dict[str, str]) -> list[dict]:
        start, now = _unix_param(params, "startdate"), unix(self.history.now)
        if start is None:
            return []  # the list comes back empty without a startdate (see API_NOTES, ECG)
        end = min(_unix_param(params, "enddate") or now, now)
        day, last = max(self.history.first_day, _utc_day(start) - timedelta(days=1)), self.history.last_day
        records = []
        while day <= min(last, _utc_day(end) + timedelta(days=1)):
            record = recording_on(self.history.person, day)
            if record and start <= record["timestamp"] <= end and record["modified"] <= now:
                records.append(record)
            day += timedelta(days=1)
        return records

    def _ecg_get(self, params: dict[str, str]) -> tuple[int, dict]:
        signalid = _unix_param(params, "signalid")
        if signalid is None:
            raise ValueError("signalid is required")
        day = day_of_signal(self.history.person, signalid)
        if day is None or not self.history.first_day <= day <= self.history.last_day:
            return 503, {}  # the real answer to an unknown signal is not documented
        return 0, signal_of(self.history.person, day)


def _page(key: str, records: list[dict], params: dict[str, str], page_size: int) -> dict:
    """One page: `more` (a boolean on these endpoints) and the `offset` of the next page."""
    offset = _unix_param(params, "offset") or 0
    page = records[offset : offset + page_size]
    more = offset + page_size < len(records)
    return {key: page, "more": more, "offset": offset + len(page) if more else 0}
