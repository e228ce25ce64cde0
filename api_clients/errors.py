"""One exception family for both providers, and how a failure reads; messages never carry a token or a secret."""

from __future__ import annotations

from datetime import datetime

from configuration.accounts import DEFAULT_ACCOUNT
from configuration.invocation import command, env_file_hint
from configuration.logs import redact


def reconnect_command(provider: str, account: str | None = None) -> str:
    """The one command that fixes a dead or missing token: `whoop-etl connect <provider>` (or
    `python etl.py ...`), with `--account NAME` for any account but `default` (a provider user
    belongs to one account: connecting it under `default` is refused)."""
    named = () if account in (None, DEFAULT_ACCOUNT) else ("--account", account)
    return command("connect", provider, *named)


def format_wait(seconds: float) -> str:
    """A wait for people: "45 s", "12 min", "23 h 59 min"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class ApiError(Exception):
    """A WHOOP or Withings call failed; `.provider` says which, `.status` the HTTP/body status,
    `.detail` the message without the provider (for a line that names the provider itself)."""

    def __init__(self, provider: str, message: str, status: int | None = None):
        super().__init__(f"{provider}: {message}")
        self.provider, self.detail = provider, message
        self.status = status


class ReconnectRequired(ApiError):
    """The refresh token is dead or missing: only the user can fix it, by connecting again."""

    def __init__(self, provider: str, reason: str, account: str | None = None):
        self.reason, self.command = reason, reconnect_command(provider, account)
        super().__init__(provider, f"{reason}; re-connect with `{self.command}`")

    def of_account(self, account: str | None) -> ReconnectRequired:
        """The same error, its command naming `account`'s own connect."""
        return ReconnectRequired(self.provider, self.reason, account)


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


class ServerLimitReached(DailyBudgetReached):
    """The provider itself said its daily limit is spent (`X-RateLimit-Remaining: 0` with a reset
    beyond this minute), whatever our own count: deferred to the reset the server named."""

    def __init__(self, provider: str, label: str, used: int, budget: int, until: datetime):
        super().__init__(provider, label, used, budget, until)
        self.reason = (
            f"{label} says its daily limit is spent (X-RateLimit-Remaining: 0; {used:,} of our {budget:,} "
            f"requests used today): deferred to its reset at {until:%Y-%m-%d %H:%M} UTC"
        )
        self.args = (f"{provider}: {self.reason}",)


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

    def __init__(
        self, provider: str, scope: str | None, what: str = "this data", status: int | None = 403, account=None
    ):
        self.command = reconnect_command(provider, account)
        self.scope, self.what = scope, what
        answered = f"; the API answered status {status}" if status is not None else ""
        super().__init__(
            provider,
            f"re-connect {provider} to allow {what}: run `{self.command}` "
            f"(the token lacks the `{scope or 'needed'}` scope{answered})",
            status,
        )

    def of_account(self, account: str | None) -> ScopeMissing:
        """The same error, its command naming `account`'s own connect."""
        return ScopeMissing(self.provider, self.scope, self.what, self.status, account)


class NotConnected(RuntimeError):
    """A configured provider without a stored token or a seed refresh token."""


def naming_provider(provider: str, message: str) -> str:
    """`message` as a line about `provider`: an API error's message names its provider already
    ("whoop: ..."), so it is prefixed only when it does not."""
    return message if message.startswith(f"{provider}:") else f"{provider}: {message}"


def of_account(exc: BaseException, account: str | None) -> BaseException:
    """`exc`, a re-connect hint in it naming `account`'s own command (the account is known where
    the error is reported, not in the HTTP client that raised it)."""
    if account is None or not isinstance(exc, (ReconnectRequired, ScopeMissing)):
        return exc
    return exc.of_account(account)


def classify_error(exc: BaseException, account: str | None = None) -> tuple[str, bool]:
    """A one-line message for a failed resource or provider of `account`, and whether the user
    must re-connect."""
    exc = of_account(exc, account)
    reconnect = isinstance(exc, (ReconnectRequired, NotConnected))
    message = redact(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
    if not reconnect and not message.startswith(type(exc).__name__):
        message = f"{type(exc).__name__}: {message}"
    return message, reconnect
