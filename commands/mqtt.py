"""The `mqtt` command: publish the latest values once, or withdraw them. Nothing of paho or the
read model is imported until something is published."""

from __future__ import annotations

import click

from configuration.accounts import account_option
from configuration.exits import ConfigError
from configuration.invocation import env_file_hint


def _open(*, read_only: bool = True):
    """(settings, engine at this release's schema); a ConfigError when MQTT_URL is not set."""
    from commands.common import open_engine, settings

    current = settings()
    if not current.mqtt.configured:
        raise ConfigError(f"MQTT_URL is not set: add MQTT_URL=mqtt://user:password@host:1883 to {env_file_hint()}")
    return current, open_engine(current.database_url, read_only=read_only, at_head=True)


@click.group()
def mqtt():
    """Home Assistant over MQTT discovery (MQTT_URL): publish the latest values once, or withdraw them."""


@mqtt.command()
@account_option()
def publish(accounts):
    """Publish each account's device (or only these): discovery, latest values, the problem sensor."""
    from publish.publisher import Publisher
    from storage.accounts import UnknownAccount

    current, engine = _open(read_only=False)  # it files when each account was published
    publisher = Publisher(current, engine)
    try:
        published = publisher.publish(accounts)
    except UnknownAccount as exc:
        raise ConfigError(str(exc)) from None
    finally:
        publisher.close()
        engine.dispose()
    if not published:
        raise click.ClickException("nothing was published: the broker failed (see the warning above)")
    where = f"{current.mqtt.host}:{current.mqtt.port}"
    click.echo(f"published {', '.join(published)} to {where} (discovery prefix {current.mqtt.discovery_prefix})")


@mqtt.command()
@account_option(help="Withdraw only this account's device (repeatable; a removed account's name works too).")
def remove(accounts):
    """Withdraw what was published (empty retained payloads): every account's device, or only these."""
    from publish.publisher import Publisher
    from publish.snapshot import account_names
    from storage import publish_state

    current, engine = _open(read_only=False)
    publisher = Publisher(current, engine)
    try:
        names = list(accounts)
        if not names:  # every account, and every name published before (removed accounts too)
            with engine.connect() as conn:
                names = list(dict.fromkeys([*account_names(engine), *publish_state.names(conn)]))
        done = publisher.withdraw(names, everything=not accounts)
    finally:
        publisher.close()
        engine.dispose()
    if not done:
        raise click.ClickException("nothing was withdrawn: the broker failed (see the warning above)")
    click.echo(f"withdrew {', '.join(names)} from {current.mqtt.host}:{current.mqtt.port}")
