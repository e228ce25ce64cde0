"""Logging for the three ways the ETL runs, with every known secret masked in every line."""

from __future__ import annotations

import logging
import os
import threading
from urllib.parse import quote, quote_plus

_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "[redacted]"
MIN_SECRET_LENGTH = 6
_installed: list[logging.Handler] = []


def register_secret(value: str | None) -> None:
    """Mask `value` (and its URL-encoded form, as in a form body) in every output from now on."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.update({value, quote(value, safe=""), quote_plus(value)})


def redact(text: str) -> str:
    """`text` with every registered secret replaced by a mask."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never contains a registered secret (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(*, verbose: bool = False, quiet: bool = False, log_file: str | None = None) -> None:
    """Timestamped lines on stderr (and in `log_file`, kept 0600); --quiet: errors only."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        fd = os.open(log_file, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        try:
            os.fchmod(fd, 0o600)  # a file an older release or a shell redirect made 0644 is tightened
        finally:
            os.close(fd)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    root = logging.getLogger()
    for handler in _installed:  # ours from an earlier call; others' handlers (pytest's) stay
        root.removeHandler(handler)
        handler.close()
    _installed[:] = handlers
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "sqlalchemy", "alembic", "filelock"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose and noisy == "urllib3" else logging.WARNING)
