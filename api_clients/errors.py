"""One exception family for both providers; messages never carry a token or a secret."""
from __future__ import annotations


class ApiError(Exception):
    """A WHOOP or Withings call failed; `.provider` says which, `.status` the HTTP/body status."""

    def __init__(self, provider: str, message: str, status: int | None = None):
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class ReconnectRequired(ApiError):
    """The refresh token is dead or missing: only the user can fix it, by connecting again."""

    def __init__(self, provider: str, reason: str):
        super().__init__(provider, f"{reason}; re-connect with `python etl.py connect {provider}`")
        self.command = f"python etl.py connect {provider}"


class RateLimited(ApiError):
    """The rate limit stayed exhausted longer than the run is willing to wait."""


class TransientError(ApiError):
    """Timeouts, dropped connections, 5xx, Withings 522: retried, then raised."""


class InvalidRequest(ApiError):
    """The API rejected the request's parameters (HTTP 400, Withings 201-213 / 501-511)."""


class NotImplementedByApi(ApiError):
    """Withings status 2554: the service or action does not exist."""


class Unauthorized(ApiError):
    """The app may not call this service (Withings 214, 2553, 2555; a missing scope)."""


class ScopeMissing(ApiError):
    """The token was granted without the scope this resource needs: the resource is skipped, the run
    goes on (the user re-connects to grant it)."""

    skips_resource = True  # the runner reports the resource as skipped, not failed

    def __init__(self, provider: str, scope: str, what: str = "this data"):
        self.command = f"python etl.py connect {provider}"
        super().__init__(provider, f"re-connect {provider} to allow {what}: run `{self.command}` "
                                   f"(the token lacks the `{scope}` scope)", 403)
        self.scope = scope
