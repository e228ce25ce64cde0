"""Home Assistant's MQTT discovery: the topics and payloads of one account's device, pure.

One device per account, named after it; one sensor per metric of the catalog the account has
data for, and a `problem` binary sensor. Discovery configs and states are retained, so Home
Assistant finds them whenever it starts; withdrawing is an empty retained payload on each topic
(https://www.home-assistant.io/integrations/mqtt/#discovery-messages). Every id and topic is
derived from the database's install id and the account's name, never from the host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from configuration.logs import redact
from configuration.version import __version__
from readers import metrics

ONLINE, OFFLINE = "online", "offline"
PROBLEM = "problem"
IN_BED = "in_bed"  # Withings' in/out-of-bed pushes (sync/events.py); published when one arrives
MANUFACTURER = "whoop-etl"
# Home Assistant's sensor device classes for the catalog's units (its documented unit for each);
# a metric whose unit has none (a score, bpm, mmHg) gets no class.
DEVICE_CLASS_OF_UNIT = {"kg": "weight", "°C": "temperature", "h": "duration", "km": "distance"}
# Units Home Assistant shows as they are; the catalog's scales ("WHOOP strain (0-21)", "0-100")
# are descriptions, not units, and would make Home Assistant plot the sensor as text-unit.
PLAIN_UNITS = {"%", "ms", "bpm", "°C", "h", "breaths/min", "steps", "km", "kg", "mmHg"}


@dataclass(frozen=True)
class Message:
    """One MQTT message: its topic and payload (empty: withdraw what the topic held), retained."""

    topic: str
    payload: str
    retain: bool = True


@dataclass(frozen=True)
class Topics:
    """Where one install's messages go: the discovery prefix, our base topic, the install id."""

    discovery_prefix: str
    base_topic: str
    install: str

    def node(self, account: str) -> str:
        """The device's id: install and account (Home Assistant's node_id and device identifier)."""
        return f"whoop_etl_{self.install}_{account}"

    def config(self, account: str, component: str, name: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node(account)}/{name}/config"

    def state(self, account: str, name: str) -> str:
        return f"{self.base_topic}/{self.install}/{account}/{name}"

    @property
    def availability(self) -> str:
        return f"{self.base_topic}/{self.install}/availability"

    @property
    def home_assistant_status(self) -> str:
        """Where Home Assistant announces `online` when it starts (its birth message)."""
        return f"{self.discovery_prefix}/status"


def _json(value) -> str:
    # No secret ever belongs in a payload: whatever text reaches one is masked like a log line.
    return redact(json.dumps(value, default=_iso, sort_keys=True))


def _iso(value) -> str:
    """Times and days as ISO 8601 (RFC 3339 for times), which Home Assistant's templates parse."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _device(topics: Topics, account: str, providers: list[str]) -> dict:
    return {
        "identifiers": [topics.node(account)],
        "name": f"whoop-etl {account}",
        "manufacturer": MANUFACTURER,
        "model": " + ".join(p.capitalize() if p != "whoop" else "WHOOP" for p in providers) or "no provider yet",
        "sw_version": __version__,
    }


def _common(topics: Topics, account: str, name: str, providers: list[str]) -> dict:
    state = topics.state(account, name)
    return {
        "unique_id": f"{topics.node(account)}_{name}",
        "state_topic": state,
        "value_template": "{{ value_json.value }}",
        "json_attributes_topic": state,
        "json_attributes_template": "{{ value_json.attributes | tojson }}",
        "availability_topic": topics.availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": _device(topics, account, providers),
        "origin": {"name": MANUFACTURER, "sw_version": __version__},
    }


def sensor_config(topics: Topics, account: str, metric: metrics.Metric, providers: list[str]) -> dict:
    """The discovery config of one metric's sensor."""
    config = _common(topics, account, metric.name, providers) | {
        "name": metric.meaning[:1].upper() + metric.meaning[1:],
    }
    if metric.numeric:  # Home Assistant takes a word's state as text only without a state class
        config["state_class"] = "measurement"
    if metric.unit in PLAIN_UNITS:
        config["unit_of_measurement"] = metric.unit
    if metric.unit in DEVICE_CLASS_OF_UNIT:
        config["device_class"] = DEVICE_CLASS_OF_UNIT[metric.unit]
    return config


def problem_config(topics: Topics, account: str, providers: list[str]) -> dict:
    """The discovery config of the account's `problem` binary sensor (`status --check` failing)."""
    return _common(topics, account, PROBLEM, providers) | {
        "name": "Sync problem",
        "device_class": "problem",
        "value_template": "{{ value_json.state }}",
        "payload_on": "ON",
        "payload_off": "OFF",
    }


def in_bed_config(topics: Topics, account: str, providers: list[str]) -> dict:
    """The discovery config of the account's `in_bed` binary sensor (Withings' bed pushes)."""
    return _common(topics, account, IN_BED, providers) | {
        "name": "In bed",
        "device_class": "occupancy",
        "value_template": "{{ value_json.state }}",
        "payload_on": "ON",
        "payload_off": "OFF",
    }


def in_bed_messages(topics: Topics, account: str, providers: list[str], in_bed: bool, at) -> list[Message]:
    """The `in_bed` sensor's config and its state: ON or OFF since `at`."""
    state = {"state": "ON" if in_bed else "OFF", "attributes": {"since": at, "source": "withings"}}
    return [
        Message(topics.config(account, "binary_sensor", IN_BED), _json(in_bed_config(topics, account, providers))),
        Message(topics.state(account, IN_BED), _json(state)),
    ]


def account_messages(topics: Topics, snapshot) -> list[Message]:
    """Discovery configs, then states, of one account's sensors (`publish.snapshot.AccountSnapshot`)."""
    account, providers = snapshot.account, snapshot.providers
    configs, states = [], []
    for name, reading in snapshot.values.items():
        configs.append(
            Message(
                topics.config(account, "sensor", name),
                _json(sensor_config(topics, account, metrics.get(name), providers)),
            )
        )
        states.append(Message(topics.state(account, name), _json(reading)))
    configs.append(
        Message(topics.config(account, "binary_sensor", PROBLEM), _json(problem_config(topics, account, providers)))
    )
    states.append(Message(topics.state(account, PROBLEM), _json(snapshot.problem)))
    return configs + states


def withdrawal(topics: Topics, account: str) -> list[Message]:
    """Empty retained payloads on every topic the account's device may have: each catalog metric
    (published or not), the problem and in-bed sensors, configs first, so Home Assistant removes them."""
    configs = [Message(topics.config(account, "sensor", m.name), "") for m in metrics.METRICS]
    configs += [Message(topics.config(account, "binary_sensor", name), "") for name in (PROBLEM, IN_BED)]
    states = [Message(topics.state(account, m.name), "") for m in metrics.METRICS]
    states += [Message(topics.state(account, name), "") for name in (PROBLEM, IN_BED)]
    return configs + states


def availability(topics: Topics, online: bool | None) -> Message:
    """The install's availability: online, offline, or (None) withdrawn."""
    return Message(topics.availability, "" if online is None else ONLINE if online else OFFLINE)
