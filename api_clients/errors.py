"""One exception family for both providers, and how a failure reads; messages never carry a token or a secret."""

from __future__ import annotations

from datetime import datetime

from configuration.invocation import command, env_file_hint
from configuration.logs import redact


def reconnect_command(provider: str) -> str:
    """The one command that fixes a dead or missing token: `whoop-etl connect <provider>` (or `python etl.py ...`)."""
    return command("connect", provider)


def format_wait(seconds: float) -> str:
    """A wait for people: "45 s", "12 min", "23 h 59 min"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class ApiError(Exception):
    """A WHOOP or Withings call failed; `.provider` says which, `.status` the HTTP/body status."""

    def __init__(self, provider: str, message: str, status: int | None = None):
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class ReconnectRequired(ApiError):
    """The refresh token is dead or missing: only the user can fix it, by connecting again."""

    def __init__(self, provider: str, reason: str):
        self.command = reconnect_command(provider)
        super().__init__(provider, f"{reason}; re-connect with `{self.command}`")


class ClientRejected(ApiError):
    """The provider refused the app's own credentials (OAuth `invalid_client`): the fix is the
    client id or secret setting, so the stored token is neither blamed nor replaced."""

    def __init__(self, provider: str, what: str, status: int | None = None):
        prefix = provider.upper()
        super().__init__(
            provider,
            f"{what} was refused because the app's client id or secret is wrong (invalid_client): "
            f"check {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET in {env_file_hint()}; the stored token is kept",
            status,
        )


class RateLimited(ApiError):
    """The rate limit stays exhausted longer than the run may wait; `.retry_after` in seconds."""

    def __init__(self, provider: str, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(provider, message, status)
        self.retry_after = retry_after


class DailyBudgetReached(ApiError):
    """The provider's daily request budget, shared by every process of the install, is spent.

    Not a failure: the resource stops at a page boundary, keeps what it committed and is
    deferred to `.until` (the next day window); `.reason` is the line the run reports.
    """

    defers_resource = True  # the runner reports the resource as deferred, not failed

    def __init__(self, provider: str, label: str, used: int, budget: int, until: datetime):
        self.used, self.budget, self.until = used, budget, until
        self.reason = f"{label} daily budget reached ({used:,} of {budget:,}): deferred to {until:%H:%M} UTC"
        super().__init__(provider, self.reason, 429)


class TransientError(ApiError):
    """Timeouts, dropped connections, 5xx, Withings 522, a missed deadline: retried, then raised."""


class InvalidRequest(ApiError):
    """The API rejected the request's parameters (HTTP 400, Withings 201-213 / 501-511)."""


class NotImplementedByApi(ApiError):
    """Withings status 2554: the service or action does not exist."""


class Unauthorized(ApiError):
    """The app may not call this service (Withings 214, 2553, 2555; a missing scope)."""


class ScopeMissing(Unauthorized):
    """The token was granted without the scope this endpoint needs; `.scope` names it.

    Only that resource is affected: the runner reports it as skipped and the run goes on;
    re-connecting (which asks for every scope) fixes it.
    """

    skips_resource = True  # the runner reports the resource as skipped, not failed

    def __init__(self, provider: str, scope: str | None, what: str = "this data", status: int | None = 403):
        self.command = reconnect_command(provider)
        self.scope = scope
        answered = f"; the API answered status {status}" if status is not None else ""
        super().__init__(
            provider,
            f"re-connect {provider} to allow {what}: run `{self.command}` "
            f"(the token lacks the `{scope or 'needed'}` scope{answered})",
            status,
        )


class NotConnected(RuntimeError):
    """A configured provider without a stored token or a seed refresh token."""


def classify_error(exc: BaseException) -> tuple[str, bool]:
    """A one-line message for a failed resource or provider, and whether the user must re-connect."""
    reconnect = isinstance(exc, (ReconnectRequired, NotConnected))
    message = redact(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
    if not reconnect and not message.startswith(type(exc).__name__):
        message = f"{type(exc).__name__}: {message}"
    return message, reconnect
