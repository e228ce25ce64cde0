"""Publish accounts to Home Assistant after each sync commits, and withdraw them; never at the sync's cost.

A `Publisher` is the sync layer's listener (sync/hooks.py, opened by `publish.listener.open_listener`): a run opens one, `watch` and
`worker` one each for their lifetime. The first account to publish connects; a broker that is
down, refuses us or hangs costs one warning per run (whatever the number of accounts), a wait
of MQTT_TIMEOUT_SECONDS and nothing else: the sync's exit code and data stay as they are, and
`publish_state` records when each account was last published, which `status` shows.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import datetime

from sqlalchemy.engine import Engine

from configuration import clock
from configuration.invocation import command
from configuration.logs import redact
from publish import discovery
from publish.broker import Broker, BrokerError
from publish.snapshot import account_names, account_snapshots, linked_providers
from storage import publish_state

log = logging.getLogger("etl.mqtt")
RETRY_SECONDS = 60.0  # watch and worker: after a failure, the next publish tries the broker this much later


class Publisher:
    """One run's (or one watch's or worker's) connection to the broker, opened on first use."""

    def __init__(self, settings, engine: Engine, *, long_lived: bool = False):
        self.settings, self.engine, self.long_lived = settings, engine, long_lived
        self.mqtt = settings.mqtt
        self._lock = threading.RLock()
        self._broker: Broker | None = None
        self._topics: discovery.Topics | None = None
        self._published: set[str] = set()  # accounts this publisher keeps current (re-announced on HA start)
        self._failure: tuple[float, str] | None = None  # when the broker last failed us, and why
        self._warned = False
        self.republished = threading.Event()  # set after each re-announcement (tests wait on it)

    # ---- the sync layer's listener ----------------------------------------------------------

    def account_synced(self, engine: Engine, account: str) -> None:
        self.publish((account,))

    def account_removed(self, engine: Engine, account: str) -> None:
        self.withdraw((account,))

    def bed_changed(self, engine: Engine, account: str, in_bed: bool, at: datetime) -> None:
        """A Withings in/out-of-bed push: the account's `in_bed` binary sensor, ON or OFF."""
        with self._lock:
            try:
                broker = self._connected()
                with self.engine.connect() as conn:
                    providers = linked_providers(conn, account)
                broker.publish(
                    [discovery.availability(self._topics, True)]
                    + discovery.in_bed_messages(self._topics, account, providers, in_bed, at)
                )
            except BrokerError as exc:
                self._failed(exc, (account,))

    def close(self) -> None:
        with self._lock:
            if self._broker is not None:
                # watch and worker say goodbye: their entities go unavailable; a run leaves them available.
                goodbye = [discovery.availability(self._topics, False)] if self.long_lived else []
                self._broker.close(goodbye)
                self._broker = None

    # ---- publishing -------------------------------------------------------------------------

    def publish(self, names=(), now: datetime | None = None) -> list[str]:
        """Publish the accounts named (none: every account); the names published. A broker
        failure is a warning (once) and an entry in `publish_state`, never an exception."""
        with self._lock:
            names = tuple(names) or tuple(account_names(self.engine))
            try:
                broker = self._connected()
                snapshots = account_snapshots(self.engine, self.settings, names, now)
                messages = [discovery.availability(self._topics, True)]
                for snapshot in snapshots:
                    messages += discovery.account_messages(self._topics, snapshot)
                broker.publish(messages)
            except BrokerError as exc:
                self._failed(exc, names)
                return []
            published = [s.account for s in snapshots]
            self._published.update(published)
            self._file(published, None)
            self._failure, self._warned = None, False
            return published

    def withdraw(self, names=(), everything: bool = False) -> bool:
        """Empty retained payloads on every topic of the accounts named (and, with `everything`,
        the install's availability); False (and a warning) when the broker failed."""
        with self._lock:
            try:
                broker = self._connected()
                messages = [m for name in names for m in discovery.withdrawal(self._topics, name)]
                if everything:
                    messages.append(discovery.availability(self._topics, None))
                broker.publish(messages)
            except BrokerError as exc:
                picked = () if everything else tuple(f"--account {name}" for name in names)
                again = command("mqtt", "remove", *picked)
                self._warn(f"MQTT: {exc}; nothing was withdrawn (run `{again}` when the broker is back)")
                return False
            self._published.difference_update(names)
            with self.engine.begin() as conn:
                for name in names:
                    publish_state.forget(conn, name)
            return True

    def _connected(self) -> Broker:
        if self._broker is not None and self._broker.connected:
            return self._broker
        if self._failure is not None and (not self.long_lived or time.monotonic() - self._failure[0] < RETRY_SECONDS):
            raise BrokerError(self._failure[1])  # a run tries once; watch and worker again a minute on
        if self._topics is None:
            with self.engine.begin() as conn:
                install = publish_state.ensure_install_id(conn)
            self._topics = discovery.Topics(self.mqtt.discovery_prefix, self.mqtt.base_topic, install)
        if self._broker is not None:
            self._broker.close()
        broker = Broker(
            self.mqtt,
            f"whoop-etl-{self._topics.install}-{secrets.token_hex(4)}",  # two workers never kick each other off
            will_topic=self._topics.availability if self.long_lived else None,
            birth_topic=self._topics.home_assistant_status,
            on_birth=self._home_assistant_started,
        )
        try:
            broker.connect()
        except BrokerError as exc:
            self._failure = (time.monotonic(), str(exc))
            raise
        self._broker = broker
        return broker

    def _home_assistant_started(self) -> None:
        # Called on paho's network thread, which must stay free to read the broker's confirmations.
        threading.Thread(target=self._republish, name="mqtt-rediscovery", daemon=True).start()

    def _republish(self) -> None:
        with self._lock:
            names = tuple(sorted(self._published))
        if names:
            log.info("MQTT: Home Assistant started; publishing discovery again for %s", ", ".join(names))
            self.publish(names)
        self.republished.set()

    def _failed(self, exc: BrokerError, names) -> None:
        self._warn(f"MQTT: {exc}; not published (the sync itself is unaffected; `status` shows the last publish)")
        self._file(names, str(exc))

    def _warn(self, message: str) -> None:
        # One warning per run (and per outage for watch and worker), however many accounts.
        (log.debug if self._warned else log.warning)(redact(message))
        self._warned = True

    def _file(self, names, error: str | None) -> None:
        at = clock.utcnow()
        with self.engine.begin() as conn:
            for name in names:
                publish_state.record(conn, name, error=None if error is None else redact(error), at=at)
