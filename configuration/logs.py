"""Logging for the three ways the ETL runs, with every known secret masked in every line."""

from __future__ import annotations

import logging
import os
import re
import stat
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


# Fields whose value is a credential whatever it holds (a payload can carry one we never saw):
# access_token, refresh_token, id_token, client_secret, password, api_key, authorization...
_SECRET_FIELD = re.compile(r"(^|_)(token|secret|password|passwd|authorization|api_?key|cookie)s?$", re.IGNORECASE)


def redact_json(value):
    """A JSON value with every registered secret masked in its text, and the whole value of any
    field named like a credential (`access_token`, `client_secret`, `password`, ...) masked."""
    if isinstance(value, dict):
        return {
            key: MASK if isinstance(key, str) and _SECRET_FIELD.search(key) and value[key] else redact_json(value[key])
            for key in value
        }
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never contains a registered secret (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class LogFileRefused(ValueError):
    """`--log-file` names something other than a regular file (a symlink, a folder, a device)."""


def open_log_file(path: str) -> logging.Handler:
    """A handler appending to `path`, a regular file of the user's alone (0600).

    Opened as export opens its files: never through a symlink (a planted `logs/etl.log ->
    victim` would otherwise be chmod-ed and appended to), and only when it is a regular file, so
    a FIFO or a device cannot take the log lines. An existing file made 0644 by an older release
    or a shell redirect is tightened.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if os.path.islink(path):
            raise LogFileRefused(f"--log-file {path} is a symbolic link; name the log file itself") from None
        if os.path.exists(path) and not os.path.isfile(path):
            raise LogFileRefused(f"--log-file {path} is not a regular file") from None
        raise LogFileRefused(f"--log-file {path} cannot be opened: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LogFileRefused(f"--log-file {path} is not a regular file")
    os.set_blocking(fd, True)
    os.fchmod(fd, 0o600)
    return _FileHandler(os.fdopen(fd, "a", encoding="utf-8"))


class _FileHandler(logging.StreamHandler):
    """A StreamHandler on a file we opened, which it closes with itself."""

    def close(self) -> None:
        with self.lock:
            if not self.stream.closed:
                self.stream.close()
        super().close()


def setup_logging(*, verbose: bool = False, quiet: bool = False, log_file: str | None = None) -> None:
    """Timestamped lines on stderr (and in `log_file`, kept 0600); --quiet: errors only.
    LogFileRefused when `log_file` is a symlink or not a regular file."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        handlers.append(open_log_file(log_file))
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
