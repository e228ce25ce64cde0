"""Exit codes and the errors a command stops with, declared once for every command and service.

They sit in the base layer because every floor that decides an exit code imports them: the sync
layer's run outcome and `watch`, the readers' `status --check`, the commands and the menu. The
errors need only click and the secret masking, both of this layer already.
"""

from __future__ import annotations

import click

from configuration.logs import redact

EXIT_OK = 0  # everything synced (or fresh, for `status --check`)
EXIT_FAILED = 1  # a resource failed, a database is unusable, data is stale
EXIT_USAGE = 2  # a usage or configuration error the user fixes
EXIT_RECONNECT = 3  # a provider must be re-connected
EXIT_LOCKED = 75  # another process holds the lock (EX_TEMPFAIL: cron tries again later)


class CommandError(click.ClickException):
    """A one-line error whose text never shows a registered secret."""

    def format_message(self) -> str:
        return redact(super().format_message())


class ConfigError(CommandError):
    """A configuration or usage problem the user fixes (in `.env`, or by naming an account that exists)."""

    exit_code = EXIT_USAGE


class LockedError(CommandError):
    """Another process holds what the command needs (a run, an account)."""

    exit_code = EXIT_LOCKED


class FailedError(CommandError):
    """The command could not do its work (a database that cannot be opened, a connection that failed)."""

    exit_code = EXIT_FAILED
