"""The schema: one table per API collection, each with its natural key from the API.

The tables are SQLAlchemy Core `Table`s: the ETL's run path (loader, write path, sync state,
quarantine, tokens) works on them with connections and never loads the ORM. The ORM classes the
dashboard, the readers and the tests use (`models.Cycle`, ...) are mapped onto these same Table
objects the first time one of them is asked for (`__getattr__` at the end of this module).
"""

from __future__ import annotations

import threading
from datetime import timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

# Surrogate keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")


class _RawJSON(TypeDecorator):
    """JSON; JSONB on PostgreSQL. The PostgreSQL dialect is imported only there (a SQLite run
    would otherwise pay for that import at start-up)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


RawJSON = _RawJSON()


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every dialect (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Named constraints keep Alembic's SQLite batch migrations and PostgreSQL in step.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _at(name: str, nullable: bool = True, **kw: Any) -> Column:
    """A timestamp column (UTC, timezone-aware on every dialect)."""
    return Column(name, UTCDateTime(), nullable=nullable, **kw)


def _id() -> Column:
    return Column("id", SurrogateKey, primary_key=True, autoincrement=True)


# Column order is the one the declarative models had (a table's own columns first, then the
# shared ones), so `SELECT *`, the CSV export and the schema read exactly as before.
def _row_columns() -> list[Column]:
    """Columns every data table has: surrogate key, owner, the raw API record, write time."""
    return [
        _id(),
        Column("user_id", BigInteger, nullable=False),
        Column("raw", RawJSON, nullable=False),
        # When this row was last inserted or changed by the ETL (not an API field).
        _at("synced_at", nullable=False),
        # Set when the API stopped returning the record inside a window it re-read in full; the row
        # is kept (never a hard delete) and cleared when the record comes back.
        _at("deleted_at"),
        # Why the values look implausible (the API sent them so); NULL when nothing does. The row is
        # kept exactly as sent, and readers leave it out of charts and "latest" with a visible note.
        Column("flag", Text),
    ]


def _whoop_columns() -> list[Column]:
    """WHOOP fields shared by every collection; a score exists only when SCORED."""
    return [
        Column("score_state", String(32), nullable=False),
        _at("created_at", nullable=False),
        _at("updated_at", nullable=False),
        Column("timezone_offset", String(8)),
        *_row_columns(),
    ]


def _withings_columns() -> list[Column]:
    """One Withings measure group: `grpid` is its id; `modified` moves on every edit."""
    return [
        Column("grpid", BigInteger, nullable=False),
        _at("measured_at", nullable=False, index=True),
        Column("timezone", String(64)),  # IANA name from the response body
        _at("created_at"),
        _at("modified_at"),
        Column("attrib", Integer),
        Column("category", Integer),
        Column("device_id", String(64)),
        Column("model", String(100)),
        *_row_columns(),
    ]


# A table's first UNIQUE constraint is its natural key (storage.write.target_of reads them in
# declaration order).
cycles = Table(
    "cycles",
    metadata,
    Column("whoop_id", BigInteger, nullable=False),
    _at("start", nullable=False, index=True),
    _at("end"),  # absent while the user is in this cycle
    Column("strain", Float),
    Column("kilojoule", Float),
    Column("average_heart_rate", Integer),
    Column("max_heart_rate", Integer),
    *_whoop_columns(),
    UniqueConstraint("user_id", "whoop_id"),
)

sleep = Table(
    "sleep",
    metadata,
    Column("whoop_id", String(36), nullable=False),  # a UUID since v2
    Column("whoop_cycle_id", BigInteger, index=True),
    Column("v1_id", BigInteger),  # legacy, gone after 2025-09-01
    Column("nap", Boolean),  # NULL: the API did not say
    _at("start", nullable=False, index=True),
    _at("end", nullable=False),
    Column("respiratory_rate", Float),
    Column("sleep_performance_percentage", Float),
    Column("sleep_consistency_percentage", Float),
    Column("sleep_efficiency_percentage", Float),
    Column("total_in_bed_time_milli", BigInteger),
    Column("total_awake_time_milli", BigInteger),
    Column("total_no_data_time_milli", BigInteger),
    Column("total_light_sleep_time_milli", BigInteger),
    Column("total_slow_wave_sleep_time_milli", BigInteger),
    Column("total_rem_sleep_time_milli", BigInteger),
    Column("sleep_cycle_count", Integer),
    Column("disturbance_count", Integer),
    Column("baseline_milli", BigInteger),
    Column("need_from_sleep_debt_milli", BigInteger),
    Column("need_from_recent_strain_milli", BigInteger),
    Column("need_from_recent_nap_milli", BigInteger),
    *_whoop_columns(),
    UniqueConstraint("user_id", "whoop_id"),
)

# A recovery has no id of its own: it is keyed by its cycle, and its sleep is unique too.
recovery = Table(
    "recovery",
    metadata,
    Column("whoop_cycle_id", BigInteger, nullable=False),
    Column("whoop_sleep_id", String(36), nullable=False),
    Column("user_calibrating", Boolean),
    Column("recovery_score", Float),
    Column("resting_heart_rate", Float),
    Column("hrv_rmssd_milli", Float),
    Column("spo2_percentage", Float),
    Column("skin_temp_celsius", Float),
    *_whoop_columns(),
    UniqueConstraint("user_id", "whoop_cycle_id"),
    UniqueConstraint("user_id", "whoop_sleep_id"),
)

workout = Table(
    "workout",
    metadata,
    Column("whoop_id", String(36), nullable=False),
    Column("v1_id", BigInteger),
    Column("sport_name", String(100)),
    Column("sport_id", Integer),
    _at("start", nullable=False, index=True),
    _at("end", nullable=False),
    Column("strain", Float),
    Column("average_heart_rate", Integer),
    Column("max_heart_rate", Integer),
    Column("kilojoule", Float),
    Column("percent_recorded", Float),
    Column("distance_meter", Float),
    Column("altitude_gain_meter", Float),
    Column("altitude_change_meter", Float),
    Column("zone_zero_milli", BigInteger),
    Column("zone_one_milli", BigInteger),
    Column("zone_two_milli", BigInteger),
    Column("zone_three_milli", BigInteger),
    Column("zone_four_milli", BigInteger),
    Column("zone_five_milli", BigInteger),
    *_whoop_columns(),
    UniqueConstraint("user_id", "whoop_id"),
)

withings_weight = Table(
    "withings_weight",
    metadata,
    # The day of measured_at in `timezone` (migration 0007): the `daily` view's day, which SQLite
    # could not compute from an IANA name.
    Column("local_date", Date),
    Column("weight_kg", Float),
    Column("fat_free_mass_kg", Float),
    Column("fat_ratio_pct", Float),
    Column("fat_mass_kg", Float),
    Column("muscle_mass_kg", Float),
    Column("hydration_kg", Float),
    Column("bone_mass_kg", Float),
    *_withings_columns(),
    UniqueConstraint("user_id", "grpid"),
)

withings_heart_rate = Table(
    "withings_heart_rate",
    metadata,
    Column("local_date", Date),  # as on withings_weight
    Column("heart_rate_bpm", Float),
    Column("systolic_mmhg", Float),
    Column("diastolic_mmhg", Float),
    Column("pulse_wave_velocity_m_s", Float),
    Column("vascular_age", Float),
    *_withings_columns(),
    UniqueConstraint("user_id", "grpid"),
)

# One measure of a group: every type Withings sends, whole body or one body segment. `value` is
# `value_raw x 10^unit` (the nearest double of the exact decimal); `position` is the API's, or -1
# when it sent none (docs/WITHINGS_MEASURES.md); `raw` is the measure object.
withings_measure = Table(
    "withings_measure",
    metadata,
    Column("meastype", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("value", Float, nullable=False),
    Column("value_raw", BigInteger, nullable=False),
    Column("unit", Integer, nullable=False),
    *_withings_columns(),
    UniqueConstraint("user_id", "grpid", "meastype", "position"),
)

# A run reads one user's last days of each table it reconciles (db_loader.reconcile_window), and
# the readers read a user's days: with only the unique (user_id, API id) key to start from, SQLite
# read that user's whole history each time (migration 0009_user_time_indexes, which adds these).
for _table, _column in (
    (cycles, "start"),
    (sleep, "start"),
    (recovery, "created_at"),
    (workout, "start"),
    (withings_weight, "measured_at"),
    (withings_heart_rate, "measured_at"),
    (withings_measure, "measured_at"),
):
    Index(f"ix_{_table.name}_user_id_{_column}", _table.c.user_id, _table.c[_column])
del _table, _column

# An API record the platform could not store, kept verbatim with its reason and retried.
quarantine = Table(
    "quarantine",
    metadata,
    _id(),
    Column("source", String(16), nullable=False),
    Column("resource", String(32), nullable=False),
    # The record's API key when it has a readable one ("id=93845", "grpid=51"), else NULL.
    Column("record_key", String(100)),
    # record_key, or "sha256:<hash of the payload>" for a record without a readable key.
    Column("fingerprint", String(100), nullable=False),
    Column("user_id", BigInteger),
    # As on sync_state: the account of the provider user, NULL when no account holds it.
    Column("account_id", SurrogateKey, ForeignKey("account.id"), index=True),
    Column("timezone", String(64)),  # Withings: the response's timezone
    # JSON text, ASCII-escaped and with NaN/Infinity kept, so that any payload survives.
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=False),
    _at("first_seen_at", nullable=False),
    _at("last_seen_at", nullable=False),
    Column("attempts", Integer, nullable=False),
    # A person has seen the item: `status --check` no longer alerts on it (until it changes).
    _at("acknowledged_at"),
    # A person decided the record will never be stored: not retried, not listed by default.
    _at("dismissed_at"),
    UniqueConstraint("source", "resource", "fingerprint"),
)

# WHOOP's body measurement has no history of its own: one row per distinct value, with when the
# ETL first and last saw it (the newest `last_seen_at` is the current value).
whoop_body_measurement = Table(
    "whoop_body_measurement",
    metadata,
    Column("value_key", String(64), nullable=False),  # the three values, canonical: the natural key
    Column("height_meter", Float),
    Column("weight_kilogram", Float),
    Column("max_heart_rate", Integer),
    _at("first_seen_at", nullable=False),
    _at("last_seen_at", nullable=False, index=True),
    *_row_columns(),
    UniqueConstraint("user_id", "value_key"),
)

# Withings getactivity: one row per local date; today's partial day is updated in place.
withings_activity = Table(
    "withings_activity",
    metadata,
    Column("date", Date, nullable=False),  # the local calendar day, in `timezone`
    Column("timezone", String(64)),
    _at("modified_at", index=True),
    Column("device_id", String(64)),
    Column("model", String(100)),
    Column("model_id", Integer),
    Column("brand", Integer),  # 1 Withings, 18 external
    Column("is_tracker", Boolean),
    Column("steps", Integer),
    Column("distance_m", Float),
    Column("elevation_floors", Float),
    Column("soft_s", Integer),
    Column("moderate_s", Integer),
    Column("intense_s", Integer),
    Column("active_s", Integer),
    Column("calories_kcal", Float),
    Column("total_calories_kcal", Float),
    Column("hr_average", Integer),
    Column("hr_min", Integer),
    Column("hr_max", Integer),
    Column("hr_zone_0_s", Integer),
    Column("hr_zone_1_s", Integer),
    Column("hr_zone_2_s", Integer),
    Column("hr_zone_3_s", Integer),
    *_row_columns(),
    UniqueConstraint("user_id", "date"),
)

# Withings Sleep v2 getsummary: one row per night, keyed by Withings' own id.
withings_sleep_summary = Table(
    "withings_sleep_summary",
    metadata,
    Column("withings_id", BigInteger, nullable=False),
    _at("start", nullable=False, index=True),
    _at("end", nullable=False, index=True),
    Column("date", Date),  # the night's local date, as Withings gives it
    Column("timezone", String(64)),
    # The day `end` fell on in `timezone`: the wake-up day the `daily` view files the night under.
    Column("local_date", Date),
    _at("created_at"),
    _at("modified_at"),
    Column("model", Integer),  # 16 tracker, 32 sleep monitor
    Column("model_id", Integer),
    Column("device_id", String(64)),
    Column("total_timeinbed_s", Integer),
    Column("total_sleep_time_s", Integer),
    Column("light_sleep_s", Integer),
    Column("deep_sleep_s", Integer),
    Column("rem_sleep_s", Integer),
    Column("awake_s", Integer),
    Column("wakeup_count", Integer),
    Column("sleep_efficiency", Float),
    Column("sleep_latency_s", Integer),
    Column("sleep_score", Integer),
    Column("hr_average", Integer),
    Column("hr_min", Integer),
    Column("hr_max", Integer),
    Column("rr_average", Integer),
    Column("rr_min", Integer),
    Column("rr_max", Integer),
    Column("snoring_s", Integer),
    Column("snoring_episodes", Integer),
    Column("asleep_s", Integer),  # nights from an external source (no stages)
    Column("wakeup_latency_s", Integer),  # in bed after waking up
    Column("waso_s", Integer),  # awake in bed after first falling asleep
    Column("rem_episodes", Integer),
    Column("out_of_bed_count", Integer),
    Column("breathing_disturbances_intensity", Float),
    Column("apnea_hypopnea_index", Float),  # events an hour; EU/AU devices only
    *_row_columns(),
    UniqueConstraint("user_id", "withings_id"),
)


# ---- Withings high-frequency series: sleep states, sleep series, intraday activity ----------------
# Hundreds of thousands of rows a year: no `raw` copy per row (every documented field has a
# column, anything else the API sends is kept in `extra`), and written by db_loader's series path.
def _series_columns() -> list[Column]:
    """A series row's surrogate key, owner, unknown fields, write time, deletion mark and flag."""
    return [
        _id(),
        Column("user_id", BigInteger, nullable=False),
        Column("extra", RawJSON),  # fields the API sent that have no column; NULL: none
        _at("synced_at", nullable=False),
        _at("deleted_at"),
        Column("flag", Text),  # values below zero (a -1 sentinel), stored as sent
    ]


withings_sleep_segment = Table(
    "withings_sleep_segment",
    metadata,
    _at("start", nullable=False),
    _at("end", nullable=False, index=True),
    Column("state", Integer, nullable=False),  # 0 awake, 1 light, 2 deep, 3 REM, 4 manual, 5 unspecified
    Column("model", String(100)),  # the device model's name, e.g. "Aura Sensor V2"
    Column("model_id", Integer, nullable=False),  # e.g. 63 Aura Sensor V2, 93 ScanWatch
    Column("raw", RawJSON, nullable=False),  # the segment without its series
    _id(),
    Column("user_id", BigInteger, nullable=False),
    _at("synced_at", nullable=False),
    _at("deleted_at"),
    Column("flag", Text),
    # Segments of one night can overlap: each (start, end, state) of a device is a row.
    UniqueConstraint("user_id", "start", "end", "state", "model_id"),
)

withings_sleep_series = Table(
    "withings_sleep_series",
    metadata,
    _at("measured_at", nullable=False),
    Column("model_id", Integer, nullable=False),
    Column("hr", Integer),  # bpm
    Column("snoring", Integer),  # seconds
    Column("hrv_quality", Integer),
    Column("mvt_score", Integer),  # 0-255
    Column("breathing_sounds", Integer),  # seconds
    Column("rr", Float),  # breaths/min
    Column("sdnn_1", Float),  # ms
    Column("rmssd", Float),  # ms
    Column("chest_movement_rate", Float),  # events/min
    Column("withings_index", Float),  # breathing events an hour
    *_series_columns(),
    UniqueConstraint("user_id", "measured_at", "model_id"),
)

withings_intraday = Table(
    "withings_intraday",
    metadata,
    _at("measured_at", nullable=False, index=True),  # freshness over every account
    Column("device_id", String(64)),
    Column("model", String(100)),
    Column("model_id", Integer),
    Column("steps", Integer),
    Column("stroke", Integer),
    Column("pool_lap", Integer),
    Column("duration", Integer),  # seconds the sample covers
    Column("heart_rate", Integer),  # bpm
    Column("hrv_quality", Integer),
    Column("elevation", Float),  # floors
    Column("calories", Float),  # active kcal
    Column("distance", Float),  # metres
    Column("spo2_auto", Float),  # percent
    Column("rmssd", Float),  # ms
    Column("sdnn1", Float),  # ms
    Column("core_body_temperature", Float),  # degrees Celsius
    Column("rr", Float),  # breaths/min
    Column("chest_movement_rate", Float),  # events/min
    *_series_columns(),
    UniqueConstraint("user_id", "measured_at"),
)

# Withings Measure v2 getworkouts: one row per workout, keyed by Withings' own id. Every documented
# `data` field has a column; what a device does not measure is NULL, a phone's 0 bpm is kept as sent.
withings_workout = Table(
    "withings_workout",
    metadata,
    Column("withings_id", BigInteger, nullable=False),
    Column("category", Integer),
    Column("category_name", String(64)),  # NULL for a code the reference does not name
    _at("start", nullable=False, index=True),
    _at("end"),
    Column("date", Date),  # the local day, as Withings gives it
    Column("timezone", String(64)),
    Column("model", Integer),
    Column("attrib", Integer),
    Column("device_id", String(64)),  # NULL for a workout tracked by a phone
    _at("modified_at", index=True),
    Column("calories_kcal", Float),
    Column("intensity", Integer),
    Column("manual_intensity", Integer),
    Column("manual_distance_m", Float),
    Column("manual_calories_kcal", Float),
    Column("hr_average", Integer),
    Column("hr_min", Integer),
    Column("hr_max", Integer),
    Column("hr_zone_0_s", Integer),
    Column("hr_zone_1_s", Integer),
    Column("hr_zone_2_s", Integer),
    Column("hr_zone_3_s", Integer),
    Column("pause_duration_s", Integer),
    Column("algo_pause_duration_s", Integer),
    Column("spo2_average", Float),
    Column("core_body_temperature_avg", Float),
    Column("core_body_temperature_min", Float),
    Column("core_body_temperature_max", Float),
    Column("core_body_temperature_status", String(32)),
    Column("steps", Integer),
    Column("distance_m", Float),
    Column("elevation_floors", Float),
    Column("pool_laps", Integer),
    Column("strokes", Integer),
    Column("pool_length_m", Float),
    *_row_columns(),
    UniqueConstraint("user_id", "withings_id"),
)

# Withings Heart v2: one row per ECG recording, its signal in the same row (packed little-endian
# integers, mapping.ecg.decode_signal reads them back). A failed attempt has no signal id and no
# signal, so a recording is keyed by its `timestamp` (unix seconds, as sent).
withings_ecg = Table(
    "withings_ecg",
    metadata,
    Column("timestamp", BigInteger, nullable=False),
    _at("recorded_at", nullable=False, index=True),
    _at("modified_at"),
    Column("device_id", String(64)),
    Column("model", Integer),  # 44 BPM Core, 91 Move ECG, 93 ScanWatch
    Column("signal_id", BigInteger),  # NULL for a failed recording
    Column("afib", Integer),  # 0 negative, 1 positive, 2 inconclusive
    Column("afib_name", String(16)),
    Column("heart_rate", Integer),
    Column("systole", Integer),  # BPM Core only
    Column("diastole", Integer),
    Column("wear_position", Integer),
    Column("sampling_frequency", Integer),  # Hz
    Column("sample_count", Integer),
    Column("sample_bytes", Integer),  # 2 (int16) or 4 (int32) per sample
    Column("signal", LargeBinary),  # microvolts; NULL when there is none
    *_row_columns(),
    UniqueConstraint("user_id", "timestamp"),
)

# Withings User v2 getdevice: the latest state of each device linked to the account, kept after
# the device leaves the list (its model is named nowhere else). `fetched_at` is when these values
# were first fetched: a run that finds them unchanged writes nothing.
withings_device = Table(
    "withings_device",
    metadata,
    Column("device_key", String(64), nullable=False),  # hash_deviceid
    Column("type", String(64)),
    Column("model", String(100)),
    Column("model_id", Integer),
    Column("battery", String(16)),  # "high", "medium", "low" as sent
    Column("firmware", String(64)),  # partner apps only: NULL for a public app
    _at("first_session_at"),
    _at("last_session_at", index=True),
    Column("timezone", String(64)),
    _at("fetched_at", nullable=False),
    *_row_columns(),
    UniqueConstraint("user_id", "device_key"),
    info={"not_compared": ("fetched_at",)},
)

# WHOOP /v2/user/profile/basic: the member's name, one row per distinct value seen. The email
# address is not kept (neither here nor in `raw`): nothing in the platform needs it.
whoop_profile = Table(
    "whoop_profile",
    metadata,
    Column("value_key", String(64), nullable=False),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    _at("first_seen_at", nullable=False),
    _at("last_seen_at", nullable=False, index=True),
    *_row_columns(),
    UniqueConstraint("user_id", "value_key"),
)

# What was synced, per (source, resource, user): the cursor never passes uncommitted rows.
sync_state = Table(
    "sync_state",
    metadata,
    _id(),
    Column("source", String(16), nullable=False),
    Column("resource", String(32), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    # The account the provider user is linked to (account_provider), set on every write; NULL
    # only for a user no account holds (data kept after its account was removed).
    Column("account_id", SurrogateKey, ForeignKey("account.id"), index=True),
    _at("window_start"),  # last successful window (None: from the beginning)
    _at("window_end"),
    Column("cursor", String(64)),  # Withings: the body's `updatetime`
    # A backfill the daily budget stopped (migration 0013_backfill_resume): it stored its window from
    # `resume_end` back to `resume_before`, and the next run reads only what lies before.
    _at("resume_before"),
    _at("resume_end"),
    _at("last_attempt_at"),
    _at("last_success_at"),
    Column("status", String(16), nullable=False, default="never"),
    Column("error", Text),
    Column("counts", RawJSON),
    UniqueConstraint("source", "resource", "user_id"),
)

# The current OAuth pair per provider and user; refresh tokens rotate, so it is rewritten.
oauth_token = Table(
    "oauth_token",
    metadata,
    _id(),
    # Whose token: one current token per account and provider.
    Column("account_id", SurrogateKey, ForeignKey("account.id"), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text),
    _at("expires_at"),
    Column("scope", Text),
    _at("updated_at", nullable=False),
    UniqueConstraint("provider", "user_id"),
    UniqueConstraint("account_id", "provider"),
)

# A named person whose WHOOP and Withings data this install syncs ("default" for one person).
account = Table(
    "account",
    metadata,
    _id(),
    Column("name", String(64), nullable=False),  # [a-z0-9][a-z0-9_-]*, configuration/accounts.py
    _at("created_at", nullable=False),
    # When a worker should sync it next (NULL: due now); moved only after a run, never at claim.
    _at("due_at"),
    _at("last_run_at"),
    Column("last_status", String(16)),
    UniqueConstraint("name", name="uq_account_name"),
)

# Which provider user ids belong to which account: one provider user belongs to one account, so
# two accounts never mix rows. Kept apart from the tokens: removing a token must not forget whose
# rows are whose.
account_provider = Table(
    "account_provider",
    metadata,
    _id(),
    Column("account_id", SurrogateKey, ForeignKey("account.id"), nullable=False, index=True),
    Column("provider", String(16), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    _at("linked_at", nullable=False),
    UniqueConstraint("provider", "user_id"),
)

# Requests taken from a provider's app-wide limit per fixed window, shared by every process using
# the database: one atomic upsert takes a slot (docs/SCALE.md).
rate_budget = Table(
    "rate_budget",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("window_kind", String(8), primary_key=True),  # minute | day
    _at("window_start", nullable=False, primary_key=True),
    Column("used", Integer, nullable=False),
    Column("budget", Integer, nullable=False),
)


# One row: this database's install id (migration 0011_publish_state). Home Assistant's unique ids
# derive from it, so every host publishing from one database publishes the same entities.
installation = Table(
    "installation",
    metadata,
    Column("id", String(32), primary_key=True),
    _at("created_at", nullable=False),
)

# Per publish target ("mqtt") and account name: the last attempt, success and error `status` shows.
publish_state = Table(
    "publish_state",
    metadata,
    Column("target", String(16), primary_key=True),
    Column("account", String(64), primary_key=True),
    _at("last_attempt_at"),
    _at("last_success_at"),
    Column("error", Text),
)

# A webhook or notification the receiver accepted, committed before it answers (`serve`). One
# row per event: `dedupe_key` is WHOOP's trace_id, or Withings' (userid, appli, startdate,
# enddate), so a redelivery stores nothing. `processed_at`, `attempts` and `last_error` belong
# to whatever later fetches what the event names; the receiver only inserts.
inbound_event = Table(
    "inbound_event",
    metadata,
    _id(),
    Column("provider", String(16), nullable=False),
    Column("dedupe_key", String(200), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("event_type", String(32)),  # WHOOP: "recovery.updated", ...
    # WHOOP: the id the event names (for recovery.* the SLEEP's UUID, not the cycle's id).
    Column("object_id", String(64)),
    Column("trace_id", String(128)),
    Column("appli", Integer),  # Withings: the notification category
    Column("startdate", BigInteger),  # Withings: unix seconds
    Column("enddate", BigInteger),
    Column("payload", Text, nullable=False),  # the fields as received, JSON
    _at("received_at", nullable=False),
    _at("processed_at"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    # When a processor may claim it next (NULL: now): a claim sets it a lease ahead, a failure a
    # backoff ahead (sync/events.py).
    _at("next_attempt_at"),
    # What processing made of it: stored, deleted, gone, ignored, in_bed, out_of_bed, reconnect,
    # quarantined; NULL while it waits.
    Column("outcome", String(16)),
    UniqueConstraint("dedupe_key", name="uq_inbound_event_dedupe_key"),
    Index("ix_inbound_event_processed_at", "processed_at"),
)

# Withings' in-bed (appli 50) and out-of-bed (appli 51) notifications, which exist only as push:
# one row per user, time and direction (a redelivery adds nothing), from the event it came in.
withings_bed_event = Table(
    "withings_bed_event",
    metadata,
    _id(),
    Column("user_id", BigInteger, nullable=False),
    Column("in_bed", Boolean, nullable=False),
    _at("event_at", nullable=False),
    _at("received_at", nullable=False),
    Column("inbound_event_id", SurrogateKey),
    UniqueConstraint("user_id", "event_at", "in_bed"),
)


# The Withings notification subscriptions an account was last seen to hold (migration
# 0016_push_subscription): replaced whole by each `notify list` that `webhooks` makes. The callback
# is stored masked (configuration/push.py): its path secret never reaches a table.
push_subscription = Table(
    "push_subscription",
    metadata,
    _id(),
    Column("account_id", SurrogateKey, ForeignKey("account.id"), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("appli", Integer, nullable=False),
    Column("callback", String(300), nullable=False),
    _at("listed_at", nullable=False),
    UniqueConstraint("account_id", "provider", "appli", "callback"),
)


# ---- ORM classes, mapped on first use ---------------------------------------------------------
# The ORM (sqlalchemy.orm and the mapper set-up, a large share of start-up) loads only when one of
# these names is read: the dashboard, the readers and the tests use them; the ETL's run never
# does. `from models import Cycle` works as before (a module __getattr__).
_ORM_NAMES = (
    "Base",
    "Cycle",
    "Sleep",
    "Recovery",
    "Workout",
    "WithingsWeight",
    "WithingsHeartRate",
    "WithingsMeasure",
    "Quarantine",
    "WhoopBodyMeasurement",
    "WithingsActivity",
    "WithingsSleepSummary",
    "WithingsWorkout",
    "WithingsEcg",
    "WithingsDevice",
    "WhoopProfile",
    "SyncState",
    "OAuthToken",
    "Account",
    "AccountProvider",
    "RateBudget",
    "InboundEvent",
)
_orm_lock = threading.Lock()


def _map_orm_classes() -> dict[str, Any]:
    """The declarative classes, each mapped onto its Table above (so one schema, one metadata)."""
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        metadata = metadata

    class Cycle(Base):
        __table__ = cycles

    class Sleep(Base):
        __table__ = sleep

    class Recovery(Base):
        __table__ = recovery

    class Workout(Base):
        __table__ = workout

    class WithingsWeight(Base):
        __table__ = withings_weight

    class WithingsHeartRate(Base):
        __table__ = withings_heart_rate

    class WithingsMeasure(Base):
        __table__ = withings_measure

    class Quarantine(Base):
        __table__ = quarantine

    class WhoopBodyMeasurement(Base):
        __table__ = whoop_body_measurement

    class WithingsActivity(Base):
        __table__ = withings_activity

    class WithingsSleepSummary(Base):
        __table__ = withings_sleep_summary

    class WithingsWorkout(Base):
        __table__ = withings_workout

    class WithingsEcg(Base):
        __table__ = withings_ecg

    class WithingsDevice(Base):
        __table__ = withings_device

    class WhoopProfile(Base):
        __table__ = whoop_profile

    class SyncState(Base):
        __table__ = sync_state

    class OAuthToken(Base):
        __table__ = oauth_token

        def __repr__(self) -> str:  # tokens never reach a log or a traceback
            return f"OAuthToken(provider={self.provider!r}, user_id={self.user_id!r}, expires_at={self.expires_at!r})"

    class Account(Base):
        __table__ = account

    class AccountProvider(Base):
        __table__ = account_provider

    class RateBudget(Base):
        __table__ = rate_budget

    class InboundEvent(Base):
        __table__ = inbound_event

    classes = {name: cls for name, cls in locals().items() if name in _ORM_NAMES}
    for cls in classes.values():
        cls.__module__, cls.__qualname__ = __name__, cls.__name__  # they read as models.Cycle, ...
        if cls is not Base:
            cls.__tablename__ = cls.__table__.name  # as a declarative class has it
    return classes


def __getattr__(name: str) -> Any:
    if name not in _ORM_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _orm_lock:  # two threads asking at once map the classes once
        if name not in globals():
            globals().update(_map_orm_classes())
    return globals()[name]


def __dir__() -> list[str]:
    return sorted([*globals(), *_ORM_NAMES])
