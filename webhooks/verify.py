"""Pure checks of what a webhook carries: WHOOP's signature and timestamp, the Withings path secret.

WHOOP signs each delivery: `X-WHOOP-Signature` is base64(HMAC-SHA256(client secret,
`X-WHOOP-Signature-Timestamp` + raw body)), the timestamp in milliseconds
(developer.whoop.com/docs/developing/webhooks). Withings signs nothing, so the notification URL
carries a secret of ours. Every comparison runs in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

MAX_SKEW_SECONDS = 300  # a signed delivery older or newer than this is refused (a replay)
_MAX_TIMESTAMP_DIGITS = 16  # milliseconds until the year 318857: anything longer is not a timestamp
_MAX_SIGNATURE_LENGTH = 128  # base64 of a SHA-256 digest is 44 characters
SECRET_BYTES = 32  # `webhooks secret`: 256 bits, 43 URL-safe base64 characters


def whoop_signature(client_secret: str, timestamp: str, body: bytes) -> str:
    """The X-WHOOP-Signature WHOOP sends for `body` at `timestamp` (milliseconds, as text)."""
    digest = hmac.new(client_secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def whoop_refusal(
    client_secret: str, timestamp: str | None, signature: str | None, body: bytes, now: datetime
) -> str | None:
    """Why a WHOOP delivery is refused (a reason for the log, never for the sender), or None to accept."""
    if not timestamp or not signature:
        return "no signature headers"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return "a signature timestamp that is not milliseconds"
    if len(signature) > _MAX_SIGNATURE_LENGTH:
        return "a bad signature"
    expected = whoop_signature(client_secret, timestamp, body)
    # Latin-1 holds every header value the server decoded, so any input compares (and fails) in constant time.
    if not hmac.compare_digest(expected.encode("latin-1"), signature.strip().encode("latin-1", "replace")):
        return "a bad signature"
    skew_ms = abs(int(now.timestamp() * 1000) - int(timestamp))
    if skew_ms > MAX_SKEW_SECONDS * 1000:
        return f"a signature timestamp {skew_ms // 1000} s from now (at most {MAX_SKEW_SECONDS})"
    return None


def path_secret_matches(given: str, expected: str | None) -> bool:
    """Whether the notification URL's secret is ours (constant time; False when none is configured)."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def generate_secret() -> str:
    """A fresh WITHINGS_WEBHOOK_SECRET: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(SECRET_BYTES)
