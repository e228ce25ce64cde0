"""The `connect` command: OAuth in the browser, the token stored under an account."""

from __future__ import annotations

import click

from configuration.accounts import DEFAULT_ACCOUNT, account_option
from configuration.exits import ConfigError, FailedError
from configuration.invocation import env_file_hint, sync_step
from sync.resources import SOURCES


@click.command()
@click.argument("provider", type=click.Choice(SOURCES))
@click.option("--no-browser", is_flag=True, help="Print the authorization URL instead of opening a browser.")
@click.option(
    "--timeout",
    type=click.IntRange(min=10),
    default=300,
    show_default=True,
    help="Seconds to wait for the browser to come back to the local callback.",
)
@account_option(
    multiple=False,
    help=f"Store the token under this account, created if needed (default: {DEFAULT_ACCOUNT}). "
    "A provider user already connected under another account is refused (exit 2).",
)
def connect(provider, no_browser, timeout, account):
    """Connect a WHOOP or Withings account (OAuth in the browser, callback on 127.0.0.1)."""
    from api_clients.errors import ApiError
    from api_clients.oauth_flow import connect as oauth_connect
    from storage.accounts import AccountConflict
    from storage.tokens import DbTokenStore
    from sync import resources
    from sync.service import load_settings, open_database

    settings = load_settings()
    provider_settings = getattr(settings, provider)
    if not provider_settings.configured:
        raise ConfigError(
            f"set {provider.upper()}_CLIENT_ID and {provider.upper()}_CLIENT_SECRET in {env_file_hint()} first"
        )
    account = account or DEFAULT_ACCOUNT
    engine = open_database(settings)
    store = DbTokenStore(engine, account)
    try:
        token = oauth_connect(
            provider_settings,
            store,
            scopes=resources.scopes_of(provider),
            open_browser=not no_browser,
            timeout=timeout,
            print_fn=click.echo,
        )
    except AccountConflict as exc:  # nothing was saved: the account's transaction rolled back
        raise ConfigError(f"{provider}: not connected: {exc}") from None
    except (ApiError, TimeoutError, ValueError) as exc:
        # An API error names its provider already: this line names it once, before what failed.
        raise FailedError(f"{provider}: connection failed: {getattr(exc, 'detail', exc)}") from None
    finally:
        engine.dispose()
    under = "" if account == DEFAULT_ACCOUNT else f" under account {account!r}"
    step = sync_step()
    click.echo(f"{provider} connected (user {token.user_id}){under}. {step[0].upper()}{step[1:]} to sync.")
