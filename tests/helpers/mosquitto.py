"""A real Mosquitto for the MQTT tests, started on a free port with a temporary config, and a
subscriber that reads what the broker holds; plus the brokers that fail: down, hanging."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import IN_CI

MOSQUITTO = next((p for p in ("/usr/sbin/mosquitto", shutil.which("mosquitto")) if p and os.path.exists(p)), None)
START_SECONDS = 15.0
# The tests' own observer, allowed on every broker started here (the user under test may be refused).
OBSERVER = ("observer", "observer-password")


def mosquitto_or_skip() -> str:
    """The broker's path, or skip (fail under CI=true, where scripts/test.sh installs it)."""
    if MOSQUITTO is None:
        message = "mosquitto is not installed (apt-get install mosquitto)"
        if IN_CI:
            pytest.fail(f"{message}; CI=true: the MQTT tests must not be skipped")
        pytest.skip(message)
    return MOSQUITTO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def broker(folder: Path, users: dict[str, str] | None = None):
    """A Mosquitto on 127.0.0.1 (anonymous, or only `users` with their passwords); yields its port."""
    binary = mosquitto_or_skip()
    port = free_port()
    lines = [f"listener {port} 127.0.0.1", "persistence false", "log_dest stderr"]
    if os.geteuid() == 0:
        lines.append("user root")  # as root Mosquitto drops to a `mosquitto` user that cannot read our files
    if users:
        passwords = folder / "passwords"
        passwords.write_text("")
        for user, password in {**users, OBSERVER[0]: OBSERVER[1]}.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
        lines += ["allow_anonymous false", f"password_file {passwords}"]
    else:
        lines.append("allow_anonymous true")
    config = folder / f"mosquitto-{port}.conf"
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {process.stderr.read().decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            threading.Event().wait(0.05)  # the broker is binding its port: look again
    raise RuntimeError(f"mosquitto did not listen on {port} within {START_SECONDS:g} s")


@contextmanager
def hanging_broker():
    """A TCP listener that takes connections (the kernel's backlog) and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


class Subscriber:
    """A client subscribed to `#`: what the broker holds (retained) and every message since."""

    def __init__(self, port: int, topics=("#",)):
        from paho.mqtt import client as paho

        self.messages: list[tuple[str, str, bool]] = []
        self._changed = threading.Condition()
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}")
        self._client.on_message = self._on_message
        self._client.username_pw_set(*OBSERVER)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        for topic in topics:
            self._client.subscribe(topic, qos=1)
        self.sync()

    def _on_message(self, client, userdata, message) -> None:
        with self._changed:
            self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))
            self._changed.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> list:
        """The messages once `predicate(messages)` holds; AssertionError after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.messages), timeout):
                raise AssertionError(f"not seen within {timeout} s; messages: {self.messages[-20:]}")
            return list(self.messages)

    def sync(self) -> None:
        """Wait until every message the broker sent before now has arrived (a marker goes round)."""
        marker = f"test-marker/{uuid.uuid4().hex}"
        self._client.subscribe(marker, qos=1)
        self._client.publish(marker, "x", qos=1).wait_for_publish(10)
        self.wait_for(lambda messages: any(t == marker for t, _, _ in messages))

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def retained(port: int) -> dict[str, str]:
    """What the broker holds now, topic by topic (a fresh subscription receives it all)."""
    fresh = Subscriber(port)
    try:
        return {t: p for t, p, retain in fresh.messages if retain}
    finally:
        fresh.close()
