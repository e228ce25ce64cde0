"""The sync layer's listener factory: a publisher when MQTT_URL is set, else nothing to do.

Every door (etl.py and the menu) imports the commands package, which installs this factory in
sync/hooks.py once, so every run, `watch` and `worker` publishes after it commits.
"""

from __future__ import annotations


def open_listener(settings, engine, *, long_lived: bool = False):
    """A Publisher for this run, watch or worker; None when MQTT_URL is not set."""
    mqtt_settings = getattr(settings, "mqtt", None)
    if mqtt_settings is None or not mqtt_settings.configured:
        return None
    from publish.publisher import Publisher  # the read model loads only when something is published

    return Publisher(settings, engine, long_lived=long_lived)
