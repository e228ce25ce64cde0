"""Configuration from the environment (and `.env`), read once and never echoing secrets."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_SQLITE_PATH = PROJECT_DIR / "data" / "whoop.db"

WHOOP_DEFAULT_BASE_URL = "https://api.prod.whoop.com"
WITHINGS_DEFAULT_BASE_URL = "https://wbsapi.withings.net"
WITHINGS_DEFAULT_AUTH_URL = "https://account.withings.com"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


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

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


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


def load_dotenv_once() -> None:
    """Read `.env` from the project folder (existing environment variables win)."""
    if os.environ.get("WHOOP_PLATFORM_NO_DOTENV"):  # tests: never the developer's own .env
        return
    from dotenv import load_dotenv

    load_dotenv(PROJECT_DIR / ".env", override=False)


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _absolute_sqlite(url: str) -> str:
    # `sqlite:///data/whoop.db` is relative to the project, not to wherever cron starts us.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(PROJECT_DIR / url[len(prefix):])
    return url


_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_DURATION_HOURS = {"h": 1, "d": 24, "w": 24 * 7}
STALE_AFTER_PREFIX = "STALE_AFTER_"


def stale_after_overrides() -> dict[str, timedelta]:
    """`STALE_AFTER_<SOURCE>_<RESOURCE>=7d` settings, keyed "withings_measures"; ValueError if malformed."""
    overrides = {}
    for name, raw in os.environ.items():
        if not name.startswith(STALE_AFTER_PREFIX) or not raw.strip():
            continue
        match = _DURATION.match(raw)
        if not match:
            raise ValueError(f"{name} must be a duration like 36h, 7d or 2w, got {raw!r}")
        hours = int(match.group(1)) * _DURATION_HOURS[match.group(2).lower()]
        overrides[name[len(STALE_AFTER_PREFIX):].lower()] = timedelta(hours=hours)
    return overrides


def _provider(name: str, default_base: str, auth_default: str | None) -> ProviderSettings:
    prefix = name.upper()
    base = _env(f"{prefix}_API_BASE_URL", default_base).rstrip("/")
    return ProviderSettings(
        name=name,
        api_base_url=base,
        auth_base_url=_env(f"{prefix}_AUTH_BASE_URL", auth_default or base).rstrip("/"),
        redirect_uri=_env(f"{prefix}_REDIRECT_URI", DEFAULT_REDIRECT_URI),
        client_id=_env(f"{prefix}_CLIENT_ID"),
        client_secret=_env(f"{prefix}_CLIENT_SECRET"),
        seed_refresh_token=_env(f"{prefix}_REFRESH_TOKEN"),
        requests_per_minute=_env_int(f"{prefix}_REQUESTS_PER_MINUTE", 0) or None,
    )


def get_settings(read_dotenv: bool = True) -> Settings:
    """Build Settings from the environment; raises ValueError on a malformed value."""
    if read_dotenv:
        load_dotenv_once()
    stale_after_overrides()  # a malformed threshold is a configuration error now, not at `status`
    return Settings(
        database_url=_absolute_sqlite(_env("DATABASE_URL", default_database_url())),
        whoop=_provider("whoop", WHOOP_DEFAULT_BASE_URL, auth_default=None),
        withings=_provider("withings", WITHINGS_DEFAULT_BASE_URL, auth_default=WITHINGS_DEFAULT_AUTH_URL),
        lookback_days=_env_int("ETL_LOOKBACK_DAYS", 7),
        http_timeout=float(_env_int("HTTP_TIMEOUT_SECONDS", 30)),
        dashboard_host=_env("DASHBOARD_HOST", "127.0.0.1"),
        dashboard_port=_env_int("DASHBOARD_PORT", 8050),
        fetch_concurrency=_env_int("ETL_FETCH_CONCURRENCY", 0),
    )
