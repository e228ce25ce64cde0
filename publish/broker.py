"""One connection to the MQTT broker (paho-mqtt 2.x), every wait bounded by MQTT_TIMEOUT_SECONDS.

A broker that is down, refuses the credentials or accepts the connection and never answers is
a `BrokerError` within the timeout, whose one-line message names the host and port and never
the password. paho's network thread reads and writes; this module only waits on it.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from typing import Callable

from configuration.settings import MqttSettings
from publish.discovery import OFFLINE, Message

log = logging.getLogger("etl.mqtt")
KEEPALIVE_SECONDS = 60
QOS = 1  # the broker confirms every message (PUBACK): "published" means the broker holds it


class BrokerError(Exception):
    """The broker could not be reached, refused us, or did not confirm in time (one line, no secret)."""


class Broker:
    """A connected client: `connect`, `publish` (waits for the broker's confirmations), `close`.

    `will_topic`: the broker publishes `offline` there, retained, if this process dies without
    saying goodbye (watch and worker). `on_birth`: called, on paho's thread, when Home Assistant
    announces `online` on `birth_topic` after it started."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        *,
        will_topic: str | None = None,
        birth_topic: str | None = None,
        on_birth: Callable[[], None] | None = None,
    ):
        from paho.mqtt import client as paho  # imported when something is published, never at start-up

        self.settings, self.where = settings, f"{settings.host}:{settings.port}"
        self.birth_topic, self.on_birth = birth_topic, on_birth
        # A long-lived publisher (a will) lets paho reconnect after a broker restart; a run does not.
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv311,
            reconnect_on_failure=will_topic is not None,
        )
        self._client.connect_timeout = settings.timeout
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            self._client.tls_set(ca_certs=settings.ca_file)
        if will_topic:
            self._client.will_set(will_topic, OFFLINE, qos=QOS, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._answered = threading.Event()
        self._refused: str | None = None
        self._started = False

    def connect(self) -> None:
        """Connect and wait for the broker's answer; BrokerError within the timeout otherwise."""
        try:
            self._client.connect(self.settings.host, self.settings.port, keepalive=KEEPALIVE_SECONDS)
        except (OSError, ssl.SSLError) as exc:  # refused, unreachable, unknown host, TLS, connect timeout
            raise BrokerError(f"cannot reach the MQTT broker at {self.where}: {exc.strerror or exc}") from None
        self._client.loop_start()
        self._started = True
        if not self._answered.wait(self.settings.timeout):
            self.close()
            raise BrokerError(f"the MQTT broker at {self.where} did not answer within {self.settings.timeout:g} s")
        if self._refused:
            self.close()
            raise BrokerError(f"the MQTT broker at {self.where} refused the connection: {self._refused}")

    @property
    def connected(self) -> bool:
        return self._started and self._client.is_connected()

    def publish(self, messages: list[Message]) -> None:
        """Publish every message; BrokerError unless the broker confirmed them all within the timeout."""
        infos = [self._client.publish(m.topic, m.payload, qos=QOS, retain=m.retain) for m in messages]
        deadline = time.monotonic() + self.settings.timeout
        for info in infos:
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.0))
            except (RuntimeError, ValueError) as exc:  # not connected, or paho's queue refused it
                raise BrokerError(f"the MQTT broker at {self.where} took no message: {exc}") from None
            if not info.is_published():
                raise BrokerError(
                    f"the MQTT broker at {self.where} did not confirm the messages within {self.settings.timeout:g} s"
                )

    def close(self, goodbye: list[Message] = ()) -> None:
        """Publish `goodbye` (best effort: an `offline` for a watch that stops), disconnect, stop paho's thread."""
        if goodbye and self.connected:
            try:
                self.publish(list(goodbye))
            except BrokerError as exc:
                log.info("MQTT: %s", exc)
        if self._started:
            self._client.disconnect()
            self._client.loop_stop()
            self._started = False

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
        elif self.birth_topic and self.on_birth:
            client.subscribe(self.birth_topic, qos=QOS)
            if self._answered.is_set():  # paho reconnected after the broker came back: announce again
                self.on_birth()
        self._answered.set()

    def _on_message(self, client, userdata, message) -> None:
        # A retained `online` is Home Assistant's old news: what we just published already holds.
        if message.topic == self.birth_topic and message.payload == b"online" and not message.retain:
            self.on_birth()
