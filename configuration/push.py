"""Push facts every layer asks: the Withings notification categories, the callback URL rule, its masking.

Withings' rule for a callback URL (notify-subscribe, "Callback URL requirements"): HTTPS only, a
domain name (no IP address, no localhost), port 443 or 80, at most 255 characters, answering a
HEAD. An application in Withings' restricted (development) mode may use other URLs, for at most
10 linked users; `--restricted` allows them for that case and the sandbox.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from configuration.logs import register_secret

# appli -> what it notifies (docs/API_NOTES.md, Withings "Notifications"; partly unconfirmed).
WITHINGS_APPLIS = {
    1: "weight and body measures",
    4: "blood pressure",
    16: "activity",
    44: "sleep",
    46: "user actions, such as an unlink",
    50: "in bed",
    51: "out of bed",
    54: "ECG",
}
MAX_CALLBACK_LENGTH = 255
# A path segment this long in the secret's alphabet is taken for a secret and masked.
_SECRET_MIN = 16
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_SHOWN = 4  # leading characters of a secret shown, enough to tell two URLs apart


class CallbackRefused(ValueError):
    """A callback URL Withings would refuse; the message says why (the secret never shown)."""


def _is_secret(segment: str, known: str | None) -> bool:
    return segment == known or (len(segment) >= _SECRET_MIN and set(segment) <= _SECRET_CHARS)


def mask_callback(url: str, secret: str | None = None) -> str:
    """`url` with every secret-looking path segment (and `secret`) cut to its first characters."""
    parts = urlsplit(url)
    segments = [f"{s[:_SHOWN]}…" if _is_secret(s, secret) else s for s in parts.path.split("/")]
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "", ""))


def register_callback_secrets(url: str, secret: str | None = None) -> None:
    """Mask the URL's secret-looking path segments in every log line and output from now on."""
    register_secret(url)
    for segment in urlsplit(url).path.split("/"):
        if _is_secret(segment, secret):
            register_secret(segment)


def check_callback(url: str, *, restricted: bool = False) -> list[str]:
    """The problems Withings' callback rule finds in `url` (empty when it passes); CallbackRefused
    for what no mode accepts. With `restricted`, the rule's problems are returned for a warning
    instead of refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CallbackRefused("--url is not a URL (a port that is not a number?)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("--url must be an https:// URL with a host name")
    if parts.query or parts.fragment:
        raise CallbackRefused("--url must carry no query or fragment: the secret goes in the path")
    problems = []
    if parts.scheme != "https":
        problems.append("it is not HTTPS")
    if parts.hostname == "localhost" or _is_ip(parts.hostname):
        problems.append("its host is an IP address or localhost, not a domain name")
    if port not in (None, 443, 80):
        problems.append(f"its port is {port}, not 443 or 80")
    if len(url) > MAX_CALLBACK_LENGTH:
        problems.append(f"it is {len(url)} characters long, over {MAX_CALLBACK_LENGTH}")
    if problems and not restricted:
        raise CallbackRefused(
            "Withings refuses this callback URL: "
            + "; ".join(problems)
            + ". It needs HTTPS on a domain name, port 443 or 80 (docs/deploy/README.md puts `serve` "
            "behind one); an app in Withings' restricted mode (10 users at most) may pass --restricted"
        )
    return problems


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def strip_url(url: str) -> str:
    """The URL as Withings lists it back, for comparing: no trailing slash difference."""
    return url.rstrip("/")


def push_live(source: str, settings, last_event: datetime | None, now: datetime) -> bool:
    """Whether `source`'s push is relied on and its last event for the account came within
    PUSH_SILENT_AFTER: then `watch` polls it once a day only (sync/watch.py, `cadence`)."""
    if source not in settings.push_providers or last_event is None:
        return False
    return now - last_event <= settings.push_silent_after
