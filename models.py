"""SQLAlchemy models: one table per API collection, each with its natural key from the API."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Surrogate keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")


class _RawJSON(TypeDecorator):
    """JSON; JSONB on PostgreSQL. The PostgreSQL dialect is imported only there (about 40 ms a
    SQLite run would otherwise pay at start-up, docs/BENCHMARKS.md section 6)."""

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: RawJSON}


class _Row:
    """Columns every data table has: surrogate key, owner, the raw API record, write time."""

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[dict[str, Any]]
    # When this row was last inserted or changed by the ETL (not an API field).
    synced_at: Mapped[datetime]
    # Set when the API stopped returning the record inside a window it re-read in full; the row
    # is kept (never a hard delete) and cleared when the record comes back.
    deleted_at: Mapped[datetime | None]
    # Why the values look implausible (the API sent them so); NULL when nothing does. The row is
    # kept exactly as sent, and readers leave it out of charts and "latest" with a visible note.
    flag: Mapped[str | None] = mapped_column(Text)


class _WhoopRow(_Row):
    """WHOOP fields shared by every collection; a score exists only when SCORED."""

    score_state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    timezone_offset: Mapped[str | None] = mapped_column(String(8))


class Cycle(_WhoopRow, Base):
    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("user_id", "whoop_id"),)

    whoop_id: Mapped[int] = mapped_column(BigInteger)
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime | None]  # absent while the user is in this cycle
    strain: Mapped[float | None] = mapped_column(Float)
    kilojoule: Mapped[float | None] = mapped_column(Float)
    average_heart_rate: Mapped[int | None] = mapped_column(Integer)
    max_heart_rate: Mapped[int | None] = mapped_column(Integer)


class Sleep(_WhoopRow, Base):
    __tablename__ = "sleep"
    __table_args__ = (UniqueConstraint("user_id", "whoop_id"),)

    whoop_id: Mapped[str] = mapped_column(String(36))  # a UUID since v2
    whoop_cycle_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    v1_id: Mapped[int | None] = mapped_column(BigInteger)  # legacy, gone after 2025-09-01
    nap: Mapped[bool | None] = mapped_column(Boolean)  # NULL: the API did not say
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime]
    respiratory_rate: Mapped[float | None] = mapped_column(Float)
    sleep_performance_percentage: Mapped[float | None] = mapped_column(Float)
    sleep_consistency_percentage: Mapped[float | None] = mapped_column(Float)
    sleep_efficiency_percentage: Mapped[float | None] = mapped_column(Float)
    total_in_bed_time_milli: Mapped[int | None] = mapped_column(BigInteger)
    total_awake_time_milli: Mapped[int | None] = mapped_column(BigInteger)
    total_no_data_time_milli: Mapped[int | None] = mapped_column(BigInteger)
    total_light_sleep_time_milli: Mapped[int | None] = mapped_column(BigInteger)
    total_slow_wave_sleep_time_milli: Mapped[int | None] = mapped_column(BigInteger)
    total_rem_sleep_time_milli: Mapped[int | None] = mapped_column(BigInteger)
    sleep_cycle_count: Mapped[int | None] = mapped_column(Integer)
    disturbance_count: Mapped[int | None] = mapped_column(Integer)
    baseline_milli: Mapped[int | None] = mapped_column(BigInteger)
    need_from_sleep_debt_milli: Mapped[int | None] = mapped_column(BigInteger)
    need_from_recent_strain_milli: Mapped[int | None] = mapped_column(BigInteger)
    need_from_recent_nap_milli: Mapped[int | None] = mapped_column(BigInteger)


class Recovery(_WhoopRow, Base):
    """A recovery has no id of its own: it is keyed by its cycle, and its sleep is unique too."""

    __tablename__ = "recovery"
    __table_args__ = (
        UniqueConstraint("user_id", "whoop_cycle_id"),
        UniqueConstraint("user_id", "whoop_sleep_id"),
    )

    whoop_cycle_id: Mapped[int] = mapped_column(BigInteger)
    whoop_sleep_id: Mapped[str] = mapped_column(String(36))
    user_calibrating: Mapped[bool | None] = mapped_column(Boolean)
    recovery_score: Mapped[float | None] = mapped_column(Float)
    resting_heart_rate: Mapped[float | None] = mapped_column(Float)
    hrv_rmssd_milli: Mapped[float | None] = mapped_column(Float)
    spo2_percentage: Mapped[float | None] = mapped_column(Float)
    skin_temp_celsius: Mapped[float | None] = mapped_column(Float)


class Workout(_WhoopRow, Base):
    __tablename__ = "workout"
    __table_args__ = (UniqueConstraint("user_id", "whoop_id"),)

    whoop_id: Mapped[str] = mapped_column(String(36))
    v1_id: Mapped[int | None] = mapped_column(BigInteger)
    sport_name: Mapped[str | None] = mapped_column(String(100))
    sport_id: Mapped[int | None] = mapped_column(Integer)
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime]
    strain: Mapped[float | None] = mapped_column(Float)
    average_heart_rate: Mapped[int | None] = mapped_column(Integer)
    max_heart_rate: Mapped[int | None] = mapped_column(Integer)
    kilojoule: Mapped[float | None] = mapped_column(Float)
    percent_recorded: Mapped[float | None] = mapped_column(Float)
    distance_meter: Mapped[float | None] = mapped_column(Float)
    altitude_gain_meter: Mapped[float | None] = mapped_column(Float)
    altitude_change_meter: Mapped[float | None] = mapped_column(Float)
    zone_zero_milli: Mapped[int | None] = mapped_column(BigInteger)
    zone_one_milli: Mapped[int | None] = mapped_column(BigInteger)
    zone_two_milli: Mapped[int | None] = mapped_column(BigInteger)
    zone_three_milli: Mapped[int | None] = mapped_column(BigInteger)
    zone_four_milli: Mapped[int | None] = mapped_column(BigInteger)
    zone_five_milli: Mapped[int | None] = mapped_column(BigInteger)


class _WithingsRow(_Row):
    """One Withings measure group: `grpid` is its id; `modified` moves on every edit."""

    grpid: Mapped[int] = mapped_column(BigInteger)
    measured_at: Mapped[datetime] = mapped_column(index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name from the response body
    created_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]
    attrib: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(100))


class WithingsWeight(_WithingsRow, Base):
    __tablename__ = "withings_weight"
    __table_args__ = (UniqueConstraint("user_id", "grpid"),)

    # The day of measured_at in `timezone` (migration 0007): the `daily` view's day, which SQLite
    # could not compute from an IANA name.
    local_date: Mapped[date | None] = mapped_column(Date)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    fat_free_mass_kg: Mapped[float | None] = mapped_column(Float)
    fat_ratio_pct: Mapped[float | None] = mapped_column(Float)
    fat_mass_kg: Mapped[float | None] = mapped_column(Float)
    muscle_mass_kg: Mapped[float | None] = mapped_column(Float)
    hydration_kg: Mapped[float | None] = mapped_column(Float)
    bone_mass_kg: Mapped[float | None] = mapped_column(Float)


class WithingsHeartRate(_WithingsRow, Base):
    __tablename__ = "withings_heart_rate"
    __table_args__ = (UniqueConstraint("user_id", "grpid"),)

    local_date: Mapped[date | None] = mapped_column(Date)  # as on withings_weight
    heart_rate_bpm: Mapped[float | None] = mapped_column(Float)
    systolic_mmhg: Mapped[float | None] = mapped_column(Float)
    diastolic_mmhg: Mapped[float | None] = mapped_column(Float)
    pulse_wave_velocity_m_s: Mapped[float | None] = mapped_column(Float)
    vascular_age: Mapped[float | None] = mapped_column(Float)


class WithingsMeasure(_WithingsRow, Base):
    """One measure of a group: every type Withings sends, whole body or one body segment.

    `value` is `value_raw x 10^unit` (the nearest double of the exact decimal); `position` is
    the API's, or -1 when it sent none (docs/WITHINGS_MEASURES.md); `raw` is the measure object.
    """

    __tablename__ = "withings_measure"
    __table_args__ = (UniqueConstraint("user_id", "grpid", "meastype", "position"),)

    meastype: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    value_raw: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[int] = mapped_column(Integer)


class Quarantine(Base):
    """An API record the platform could not store, kept verbatim with its reason and retried."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("source", "resource", "fingerprint"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    resource: Mapped[str] = mapped_column(String(32))
    # The record's API key when it has a readable one ("id=93845", "grpid=51"), else NULL.
    record_key: Mapped[str | None] = mapped_column(String(100))
    # record_key, or "sha256:<hash of the payload>" for a record without a readable key.
    fingerprint: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    # As on sync_state: the account of the provider user, NULL when no account holds it.
    account_id: Mapped[int | None] = mapped_column(SurrogateKey, ForeignKey("account.id"), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))  # Withings: the response's timezone
    # JSON text, ASCII-escaped and with NaN/Infinity kept, so that any payload survives.
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer)
    # A person has seen the item: `status --check` no longer alerts on it (until it changes).
    acknowledged_at: Mapped[datetime | None]
    # A person decided the record will never be stored: not retried, not listed by default.
    dismissed_at: Mapped[datetime | None]


class WhoopBodyMeasurement(_Row, Base):
    """WHOOP's body measurement has no history of its own: one row per distinct value, with when
    the ETL first and last saw it (the newest `last_seen_at` is the current value)."""

    __tablename__ = "whoop_body_measurement"
    __table_args__ = (UniqueConstraint("user_id", "value_key"),)

    value_key: Mapped[str] = mapped_column(String(64))  # the three values, canonical: the natural key
    height_meter: Mapped[float | None] = mapped_column(Float)
    weight_kilogram: Mapped[float | None] = mapped_column(Float)
    max_heart_rate: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)


class WithingsActivity(_Row, Base):
    """Withings getactivity: one row per local date; today's partial day is updated in place."""

    __tablename__ = "withings_activity"
    __table_args__ = (UniqueConstraint("user_id", "date"),)

    date: Mapped[date] = mapped_column(Date)  # the local calendar day, in `timezone`
    timezone: Mapped[str | None] = mapped_column(String(64))
    modified_at: Mapped[datetime | None] = mapped_column(index=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(100))
    model_id: Mapped[int | None] = mapped_column(Integer)
    brand: Mapped[int | None] = mapped_column(Integer)  # 1 Withings, 18 external
    is_tracker: Mapped[bool | None] = mapped_column(Boolean)
    steps: Mapped[int | None] = mapped_column(Integer)
    distance_m: Mapped[float | None] = mapped_column(Float)
    elevation_floors: Mapped[float | None] = mapped_column(Float)
    soft_s: Mapped[int | None] = mapped_column(Integer)
    moderate_s: Mapped[int | None] = mapped_column(Integer)
    intense_s: Mapped[int | None] = mapped_column(Integer)
    active_s: Mapped[int | None] = mapped_column(Integer)
    calories_kcal: Mapped[float | None] = mapped_column(Float)
    total_calories_kcal: Mapped[float | None] = mapped_column(Float)
    hr_average: Mapped[int | None] = mapped_column(Integer)
    hr_min: Mapped[int | None] = mapped_column(Integer)
    hr_max: Mapped[int | None] = mapped_column(Integer)
    hr_zone_0_s: Mapped[int | None] = mapped_column(Integer)
    hr_zone_1_s: Mapped[int | None] = mapped_column(Integer)
    hr_zone_2_s: Mapped[int | None] = mapped_column(Integer)
    hr_zone_3_s: Mapped[int | None] = mapped_column(Integer)


class WithingsSleepSummary(_Row, Base):
    """Withings Sleep v2 getsummary: one row per night, keyed by Withings' own id."""

    __tablename__ = "withings_sleep_summary"
    __table_args__ = (UniqueConstraint("user_id", "withings_id"),)

    withings_id: Mapped[int] = mapped_column(BigInteger)
    start: Mapped[datetime] = mapped_column(index=True)
    end: Mapped[datetime] = mapped_column(index=True)
    date: Mapped[date | None] = mapped_column(Date)  # the night's local date, as Withings gives it
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The day `end` fell on in `timezone`: the wake-up day the `daily` view files the night under.
    local_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]
    model: Mapped[int | None] = mapped_column(Integer)  # 16 tracker, 32 sleep monitor
    model_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[str | None] = mapped_column(String(64))
    total_timeinbed_s: Mapped[int | None] = mapped_column(Integer)
    total_sleep_time_s: Mapped[int | None] = mapped_column(Integer)
    light_sleep_s: Mapped[int | None] = mapped_column(Integer)
    deep_sleep_s: Mapped[int | None] = mapped_column(Integer)
    rem_sleep_s: Mapped[int | None] = mapped_column(Integer)
    awake_s: Mapped[int | None] = mapped_column(Integer)
    wakeup_count: Mapped[int | None] = mapped_column(Integer)
    sleep_efficiency: Mapped[float | None] = mapped_column(Float)
    sleep_latency_s: Mapped[int | None] = mapped_column(Integer)
    sleep_score: Mapped[int | None] = mapped_column(Integer)
    hr_average: Mapped[int | None] = mapped_column(Integer)
    hr_min: Mapped[int | None] = mapped_column(Integer)
    hr_max: Mapped[int | None] = mapped_column(Integer)
    rr_average: Mapped[int | None] = mapped_column(Integer)
    rr_min: Mapped[int | None] = mapped_column(Integer)
    rr_max: Mapped[int | None] = mapped_column(Integer)
    snoring_s: Mapped[int | None] = mapped_column(Integer)
    snoring_episodes: Mapped[int | None] = mapped_column(Integer)
    asleep_s: Mapped[int | None] = mapped_column(Integer)  # nights from an external source (no stages)
    wakeup_latency_s: Mapped[int | None] = mapped_column(Integer)  # in bed after waking up
    waso_s: Mapped[int | None] = mapped_column(Integer)  # awake in bed after first falling asleep
    rem_episodes: Mapped[int | None] = mapped_column(Integer)
    out_of_bed_count: Mapped[int | None] = mapped_column(Integer)
    breathing_disturbances_intensity: Mapped[float | None] = mapped_column(Float)
    apnea_hypopnea_index: Mapped[float | None] = mapped_column(Float)  # events an hour; EU/AU devices only


class SyncState(Base):
    """What was synced, per (source, resource, user): the cursor never passes uncommitted rows."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("source", "resource", "user_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))
    resource: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(BigInteger)
    # The account the provider user is linked to (account_provider), set on every write; NULL
    # only for a user no account holds (data kept after its account was removed).
    account_id: Mapped[int | None] = mapped_column(SurrogateKey, ForeignKey("account.id"), index=True)
    window_start: Mapped[datetime | None]  # last successful window (None: from the beginning)
    window_end: Mapped[datetime | None]
    cursor: Mapped[str | None] = mapped_column(String(64))  # Withings: the body's `updatetime`
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="never")
    error: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any] | None]


class OAuthToken(Base):
    """The current OAuth pair per provider and user; refresh tokens rotate, so it is rewritten."""

    __tablename__ = "oauth_token"
    __table_args__ = (UniqueConstraint("provider", "user_id"), UniqueConstraint("account_id", "provider"))

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    # Whose token: one current token per account and provider.
    account_id: Mapped[int] = mapped_column(SurrogateKey, ForeignKey("account.id"))
    provider: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(BigInteger)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    scope: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:  # tokens never reach a log or a traceback
        return f"OAuthToken(provider={self.provider!r}, user_id={self.user_id!r}, expires_at={self.expires_at!r})"


class Account(Base):
    """A named person whose WHOOP and Withings data this install syncs ("default" for one person)."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("name", name="uq_account_name"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))  # [a-z0-9][a-z0-9_-]*, configuration/accounts.py
    created_at: Mapped[datetime]
    # When a worker should sync it next (NULL: due now); moved only after a run, never at claim.
    due_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(16))


class AccountProvider(Base):
    """Which provider user ids belong to which account: one provider user belongs to one account,
    so two accounts never mix rows. Kept apart from the tokens: removing a token must not forget
    whose rows are whose."""

    __tablename__ = "account_provider"
    __table_args__ = (UniqueConstraint("provider", "user_id"),)

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(SurrogateKey, ForeignKey("account.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(BigInteger)
    linked_at: Mapped[datetime]


class RateBudget(Base):
    """Requests taken from a provider's app-wide limit per fixed window, shared by every process
    using the database: one atomic upsert takes a slot (docs/SCALE.md, section 5)."""

    __tablename__ = "rate_budget"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    window_kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # minute | day
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    used: Mapped[int] = mapped_column(Integer)
    budget: Mapped[int] = mapped_column(Integer)
