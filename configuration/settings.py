"""Configuration from the environment (and `.env`), range-checked once and never echoing secrets."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from configuration.logs import register_secret

PROJECT_DIR = Path(__file__).resolve().parents[1]  # the checkout (or site-packages when installed)
APP_NAME = "whoop-etl"

WHOOP_DEFAULT_BASE_URL = "https://api.prod.whoop.com"
WITHINGS_DEFAULT_BASE_URL = "https://wbsapi.withings.net"
WITHINGS_DEFAULT_AUTH_URL = "https://account.withings.com"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"

# (default, lowest, highest) of every whole-number setting; README and .env.example state the same.
RANGES = {
    "ETL_LOOKBACK_DAYS": (7, 0, 3650),
    "ETL_FETCH_CONCURRENCY": (0, 0, 64),
    "ETL_ACCOUNT_CONCURRENCY": (4, 1, 64),
    "ETL_MAX_MINUTES": (120, 1, 10080),
    "ETL_ACCOUNT_INTERVAL_MINUTES": (60, 1, 10080),
    "HTTP_TIMEOUT_SECONDS": (30, 1, 600),
    "RATE_LIMIT_MAX_WAIT_SECONDS": (300, 0, 86400),
    "DB_CONNECT_TIMEOUT_SECONDS": (10, 1, 300),
    "DB_STATEMENT_TIMEOUT_SECONDS": (300, 1, 86400),
    "DASHBOARD_PORT": (8050, 0, 65535),
    "HEALTHCHECK_ACCOUNT_NAMES": (0, 0, 1),
    "WHOOP_REQUESTS_PER_MINUTE": (None, 1, 100000),
    "WHOOP_REQUESTS_PER_DAY": (9500, 1, 10000000),
    "WITHINGS_REQUESTS_PER_MINUTE": (None, 1, 100000),
    "DASHBOARD_WEIGHT_JUMP_KG": (3, 1, 100),
    "MQTT_TIMEOUT_SECONDS": (5, 1, 60),
}
SUPPORTED_DATABASES = "sqlite:///path/to/file.db or postgresql+psycopg2://user@host/dbname"
_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg2")}


class SettingError(ValueError):
    """A setting that no retry can fix; the message names it and what it accepts (exit 2)."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_int(name: str) -> int | None:
    """The whole-number setting `name`, checked against RANGES; unset gives its default."""
    default, low, high = RANGES[name]
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise SettingError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return value


def _env_url(name: str, default: str) -> str:
    value = _env(name, default)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(f"{name} must be an http:// or https:// URL with a host, got {value!r}")
    return value.rstrip("/")


def check_ping_url(value: str | None, name: str = "HEALTHCHECK_URL") -> str | None:
    """A monitor's ping URL (http or https, with a host), masked in every output; None when unset.

    The URL's path (healthchecks.io's uuid, Uptime Kuma's push token) and its query (a monitor's
    `?key=`) are the monitor's secret, so neither the message below nor any log line shows them:
    each is registered whole, as HTTP libraries quote it (the path and query without the host).
    """
    if not value:
        return None
    refused = SettingError(
        f"{name} must be an http:// or https:// URL with a host (the value is not shown: it holds the monitor's secret)"
    )
    if any(c.isspace() or not c.isprintable() for c in value):
        raise refused
    try:
        parts = urlsplit(value)
        _port = parts.port  # a ValueError for "host:abc" or a port beyond 65535
    except ValueError:
        raise refused from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refused
    register_secret(value)
    register_secret(parts.path.rstrip("/"))  # an HTTP error names the path without the host
    if parts.query:
        register_secret(parts.query)
        for _key, secret in parse_qsl(parts.query, keep_blank_values=True):
            register_secret(secret)
    return value


# WITHINGS_WEBHOOK_SECRET: Withings signs nothing, so the notification URL's path carries this
# secret. At least 128 bits, counted by the alphabet the value is written in (a value from
# `webhooks secret` is 43 URL-safe base64 characters, 256 bits); only characters that stand in a
# URL path unescaped, so the secret the URL carries is the one configured.
WEBHOOK_SECRET_BITS = 128
_SECRET_ALPHABETS = (  # (characters, bits each), the narrowest first
    (frozenset("0123456789"), 3.32),
    (frozenset("0123456789abcdef"), 4.0),
    (frozenset("0123456789ABCDEF"), 4.0),
    (frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 6.0),
)


def check_webhook_secret(value: str | None, name: str = "WITHINGS_WEBHOOK_SECRET") -> str | None:
    """The Withings notification path secret, masked in every output; SettingError if weak; None when unset."""
    if not value:
        return None
    register_secret(value)  # before any message: none below shows it
    hint = f"generate one with `{APP_NAME} webhooks secret`"
    bits = next((len(value) * each for chars, each in _SECRET_ALPHABETS if set(value) <= chars), None)
    if bits is None:
        raise SettingError(f"{name} may hold only letters, digits, '-' and '_' (the value is not shown); {hint}")
    if bits < WEBHOOK_SECRET_BITS or len(set(value)) < 8:
        raise SettingError(
            f"{name} is too guessable: it must carry at least {WEBHOOK_SECRET_BITS} bits "
            f"(22 URL-safe base64 or 32 hex characters, chosen at random); {hint}"
        )
    return value


@dataclass(frozen=True)
class ProviderSettings:
    """OAuth and API settings of one provider; secrets are hidden from repr."""

    name: str
    api_base_url: str
    auth_base_url: str
    redirect_uri: str
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    seed_refresh_token: str | None = field(default=None, repr=False)
    requests_per_minute: int | None = None  # None: the provider's documented default limit
    # The app's daily budget, shared by every process using the database; None: no daily limit.
    requests_per_day: int | None = None

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class MqttSettings:
    """Where Home Assistant's MQTT broker is (unset: nothing is published); the password is hidden from repr."""

    host: str | None = None
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # mqtts: the CA that signed the broker's certificate (default: the system's)
    discovery_prefix: str = "homeassistant"
    base_topic: str = APP_NAME
    timeout: float = 5.0  # the longest a run waits for the broker, per connection and per publish

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class Settings:
    """Everything the platform reads from its environment."""

    database_url: str
    whoop: ProviderSettings
    withings: ProviderSettings
    lookback_days: int = 7
    http_timeout: float = 30.0
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8050
    fetch_concurrency: int = 0  # resources fetched at once; 0 = all (each client keeps its rate limit)
    account_concurrency: int = 4  # accounts synced at once by one run (the providers' limits are shared)
    rate_limit_max_wait: float = 300.0  # longest wait for a rate-limit window; beyond it the resource fails
    max_minutes: float = 120.0  # overall run deadline
    account_interval_minutes: int = 60  # `worker`: an account is due again this long after its run
    db_connect_timeout: int = 10
    db_statement_timeout: int = 300
    healthcheck_url: str | None = field(default=None, repr=False)  # the monitor pinged by each run
    weight_jump_kg: int = 3  # the dashboard flags a weigh-in this far from the one before it
    healthcheck_account_names: bool = False  # whether the monitor's pings may name accounts
    mqtt: MqttSettings = field(default_factory=MqttSettings)  # Home Assistant's broker (MQTT_URL)
    withings_webhook_secret: str | None = field(default=None, repr=False)  # `serve`'s notification path
    # The providers whose push is relied on (PUSH_PROVIDERS): `watch` slows down for them while
    # their events come, and `status --check` fails when they stop (configuration/push.py).
    push_providers: tuple[str, ...] = ()
    push_silent_after: timedelta = timedelta(hours=26)  # PUSH_SILENT_AFTER


def is_checkout() -> bool:
    """Whether this copy runs from a checkout (rather than an installed package)."""
    return (PROJECT_DIR / "pyproject.toml").is_file()


def home_dirs() -> tuple[Path, Path]:
    """(folder of `.env`, folder relative SQLite paths start from): the checkout, or per-user folders."""
    if is_checkout():  # a checkout: everything stays beside the code
        return PROJECT_DIR, PROJECT_DIR
    # Installed (pip/pipx): site-packages is no place for a database. platformdirs knows each
    # platform's convention (XDG on Linux, ~/Library/Application Support, %LOCALAPPDATA%).
    from platformdirs import user_config_path, user_data_path

    return user_config_path(APP_NAME, appauthor=False), user_data_path(APP_NAME, appauthor=False)


def load_dotenv_once() -> None:
    """Read `.env` from the checkout or the user's config folder (existing environment variables win)."""
    if os.environ.get("WHOOP_PLATFORM_NO_DOTENV"):  # tests: never the developer's own .env
        return
    from dotenv import load_dotenv

    load_dotenv(home_dirs()[0] / ".env", override=False)


# Tests point this at a temporary file; None means the per-home default below.
DEFAULT_SQLITE_PATH: Path | None = None


def default_sqlite_path() -> Path:
    """The default SQLite file: `data/whoop.db` in the checkout, or in the user's data folder."""
    return DEFAULT_SQLITE_PATH or home_dirs()[1] / "data" / "whoop.db"


def default_database_url() -> str:
    return f"sqlite:///{default_sqlite_path()}"


def _absolute_sqlite(url: str) -> str:
    # `sqlite:///data/whoop.db` is relative to the home folder, not to wherever cron starts us.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(home_dirs()[1] / url[len(prefix) :])
    return url


def check_database_url(url: str) -> str:
    """`url` made absolute, or SettingError for a URL no retry can fix (the password never shown)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = _absolute_sqlite(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise SettingError(f"DATABASE_URL is not a database URL; expected {SUPPORTED_DATABASES}") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name() if "+" in parsed.drivername else ""
    if driver not in _DRIVERS.get(backend, ()):
        raise SettingError(
            f"DATABASE_URL: unsupported database driver {parsed.drivername!r}; use {SUPPORTED_DATABASES}"
        )
    if not parsed.database or parsed.database == ":memory:":
        # A bare postgresql:// would fall back to libpq's defaults: a database named after the OS user.
        raise SettingError(f"DATABASE_URL names no database; expected {SUPPORTED_DATABASES}")
    if backend == "sqlite":
        folder = Path(parsed.database).parent
        if not folder.is_dir() and folder != default_sqlite_path().parent:
            raise SettingError(
                f"DATABASE_URL: the folder {folder} of the SQLite database does not exist; "
                f"create it (mkdir -p {folder}) or fix the path"
            )
    return url


_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_DURATION_HOURS = {"h": 1, "d": 24, "w": 24 * 7}
STALE_AFTER_PREFIX = "STALE_AFTER_"


def parse_duration(text: str) -> timedelta | None:
    """`36h`, `7d` or `2w` as a timedelta; None when the text is not such a duration."""
    match = _DURATION.match(text)
    if not match:
        return None
    return timedelta(hours=int(match.group(1)) * _DURATION_HOURS[match.group(2).lower()])


# "<source>_<resource>" of every declared resource; sync/resources.py declares them when it is
# imported (this layer sits below the declarations and cannot read them itself).
_STALE_AFTER_KEYS: tuple[str, ...] = ()


def declare_stale_after_keys(keys: tuple[str, ...]) -> None:
    """The resources a STALE_AFTER_ setting may name, e.g. ("whoop_cycles", ...)."""
    global _STALE_AFTER_KEYS
    _STALE_AFTER_KEYS = tuple(keys)


def stale_after_names() -> list[str]:
    """Every STALE_AFTER_<SOURCE>_<RESOURCE> setting name there is."""
    return [STALE_AFTER_PREFIX + key.upper() for key in _STALE_AFTER_KEYS]


def stale_after_overrides() -> dict[str, timedelta]:
    """`STALE_AFTER_<SOURCE>_<RESOURCE>=7d` settings, keyed "withings_measures"; SettingError if
    malformed or naming no resource (a misspelt name would otherwise be ignored without a word)."""
    overrides = {}
    for name, raw in os.environ.items():
        if not name.startswith(STALE_AFTER_PREFIX) or not raw.strip():
            continue
        key = name[len(STALE_AFTER_PREFIX) :].lower()
        if _STALE_AFTER_KEYS and key not in _STALE_AFTER_KEYS:
            raise SettingError(f"{name} names no resource; the settings are {', '.join(stale_after_names())}")
        duration = parse_duration(raw)
        if duration is None:
            raise SettingError(f"{name} must be a duration like 36h, 7d or 2w, got {raw!r}")
        overrides[key] = duration
    return overrides


PUSH_SOURCES = ("whoop", "withings")
DEFAULT_PUSH_SILENT_AFTER = timedelta(hours=26)  # a day's events, and two hours of WHOOP's retries


def check_push_providers(value: str | None) -> tuple[str, ...]:
    """PUSH_PROVIDERS (`whoop`, `withings` or `whoop,withings`) in that order; () when unset."""
    if not value:
        return ()
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in PUSH_SOURCES]
    if unknown:
        raise SettingError(
            f"PUSH_PROVIDERS names {', '.join(map(repr, unknown))}; it takes whoop, withings or whoop,withings"
        )
    return tuple(source for source in PUSH_SOURCES if source in names)


def check_push_silent_after(value: str | None) -> timedelta:
    """PUSH_SILENT_AFTER: how long push may stay quiet before `watch` polls again and the check fails."""
    if not value:
        return DEFAULT_PUSH_SILENT_AFTER
    duration = parse_duration(value)
    if duration is None or not timedelta(hours=1) <= duration <= timedelta(weeks=2):
        raise SettingError(f"PUSH_SILENT_AFTER must be a duration from 1h to 2w, like 26h or 3d, got {value!r}")
    return duration


_TOPIC = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")
MQTT_SCHEMES = {"mqtt": (False, 1883), "mqtts": (True, 8883)}


def _env_topic(name: str, default: str) -> str:
    value = _env(name, default)
    if not _TOPIC.fullmatch(value):
        raise SettingError(
            f"{name} must be an MQTT topic of letters, digits, '_' and '-' levels joined by '/' "
            f"(no wildcard, no leading or trailing '/'), got {value!r}"
        )
    return value


def check_mqtt(url: str | None) -> MqttSettings:
    """MQTT_URL (`mqtt://user:pass@host:1883`, `mqtts://` for TLS) and the other MQTT_* settings;
    the URL and its password are masked in every output, and no message shows them. The topics
    and the timeout are checked when no URL is set too: a typo is found before it matters."""
    topics = {
        "discovery_prefix": _env_topic("MQTT_DISCOVERY_PREFIX", "homeassistant"),
        "base_topic": _env_topic("MQTT_BASE_TOPIC", APP_NAME),
        "timeout": float(_env_int("MQTT_TIMEOUT_SECONDS")),
    }
    if not url:
        return MqttSettings(**topics)
    register_secret(url)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in MQTT_SCHEMES or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        raise SettingError(
            "MQTT_URL must look like mqtt://user:password@host:1883 (or mqtts:// for TLS); "
            "the value is not shown: it may hold the broker's password"
        )
    register_secret(parts.password)
    tls, default_port = MQTT_SCHEMES[parts.scheme]
    ca_file = _env("MQTT_CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        raise SettingError(f"MQTT_CA_FILE: no file at {ca_file}")
    if ca_file and not tls:
        raise SettingError("MQTT_CA_FILE is set but MQTT_URL is mqtt://, not mqtts://: use mqtts:// for TLS")
    return MqttSettings(
        host=parts.hostname,
        port=port or default_port,
        tls=tls,
        username=parts.username,
        password=parts.password,
        ca_file=ca_file,
        **topics,
    )


def _provider(name: str, default_base: str, auth_default: str | None) -> ProviderSettings:
    prefix = name.upper()
    base = _env_url(f"{prefix}_API_BASE_URL", default_base)
    provider = ProviderSettings(
        name=name,
        api_base_url=base,
        auth_base_url=_env_url(f"{prefix}_AUTH_BASE_URL", auth_default or base),
        redirect_uri=_env_url(f"{prefix}_REDIRECT_URI", DEFAULT_REDIRECT_URI),
        client_id=_env(f"{prefix}_CLIENT_ID"),
        client_secret=_env(f"{prefix}_CLIENT_SECRET"),
        seed_refresh_token=_env(f"{prefix}_REFRESH_TOKEN"),
        requests_per_minute=_env_int(f"{prefix}_REQUESTS_PER_MINUTE"),
        requests_per_day=_env_int(f"{prefix}_REQUESTS_PER_DAY") if f"{prefix}_REQUESTS_PER_DAY" in RANGES else None,
    )
    register_secret(provider.client_secret)  # masked in every line from now on, even a traceback's
    register_secret(provider.seed_refresh_token)
    return provider


def get_settings(read_dotenv: bool = True) -> Settings:
    """Build Settings from the environment; SettingError (a ValueError) names a bad setting."""
    if read_dotenv:
        load_dotenv_once()
    stale_after_overrides()  # a malformed threshold is a configuration error now, not at `status`
    return Settings(
        database_url=check_database_url(_env("DATABASE_URL", default_database_url())),
        whoop=_provider("whoop", WHOOP_DEFAULT_BASE_URL, auth_default=None),
        withings=_provider("withings", WITHINGS_DEFAULT_BASE_URL, auth_default=WITHINGS_DEFAULT_AUTH_URL),
        lookback_days=_env_int("ETL_LOOKBACK_DAYS"),
        http_timeout=float(_env_int("HTTP_TIMEOUT_SECONDS")),
        dashboard_host=_env("DASHBOARD_HOST", "127.0.0.1"),
        dashboard_port=_env_int("DASHBOARD_PORT"),
        fetch_concurrency=_env_int("ETL_FETCH_CONCURRENCY"),
        account_concurrency=_env_int("ETL_ACCOUNT_CONCURRENCY"),
        rate_limit_max_wait=float(_env_int("RATE_LIMIT_MAX_WAIT_SECONDS")),
        max_minutes=float(_env_int("ETL_MAX_MINUTES")),
        account_interval_minutes=_env_int("ETL_ACCOUNT_INTERVAL_MINUTES"),
        db_connect_timeout=_env_int("DB_CONNECT_TIMEOUT_SECONDS"),
        db_statement_timeout=_env_int("DB_STATEMENT_TIMEOUT_SECONDS"),
        healthcheck_url=check_ping_url(_env("HEALTHCHECK_URL")),
        weight_jump_kg=weight_jump_kg(),
        healthcheck_account_names=bool(_env_int("HEALTHCHECK_ACCOUNT_NAMES")),
        mqtt=check_mqtt(_env("MQTT_URL")),
        withings_webhook_secret=check_webhook_secret(_env("WITHINGS_WEBHOOK_SECRET")),
        push_providers=check_push_providers(_env("PUSH_PROVIDERS")),
        push_silent_after=check_push_silent_after(_env("PUSH_SILENT_AFTER")),
    )


def weight_jump_kg() -> int:
    """DASHBOARD_WEIGHT_JUMP_KG: the change between two weigh-ins the dashboard flags beside the later one."""
    return _env_int("DASHBOARD_WEIGHT_JUMP_KG")
