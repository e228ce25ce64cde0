"""The provider objects by name: each client class knows its own URLs, scopes, tokens and paging."""

from __future__ import annotations

from api_clients.oauth import TokenStore
from api_clients.whoop import WhoopClient
from api_clients.withings import WithingsClient

CLIENTS = {WhoopClient.name: WhoopClient, WithingsClient.name: WithingsClient}


def client_class(name: str) -> type:
    """WhoopClient or WithingsClient by provider name."""
    try:
        return CLIENTS[name]
    except KeyError:
        raise ValueError(f"unknown provider {name!r}; use one of {', '.join(CLIENTS)}") from None


def make_client(settings, store: TokenStore, **options):
    """The client of `settings.name` (ProviderSettings), with the usual client options."""
    return client_class(settings.name)(settings, store, **options)
