"""What a layer above the sync asks to be told: an account's sync committed, an account was removed.

The sync cannot import what reads its data (nothing imports upwards), so a reader that reacts to
a sync, the MQTT publisher, installs a listener factory here once (`commands/__init__.py` does). Every
run, `watch` and worker opens the installed listeners for its lifetime (`listening`) and tells
them of each account whose sync it committed (`account_synced`). A listener's failure is logged
and goes no further: the sync's exit code and data never depend on it.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Protocol

log = logging.getLogger("etl")


class Listener(Protocol):
    """Told of what the sync did; `close` once the run, watch or worker ends."""

    def account_synced(self, engine, account: str) -> None: ...

    def account_removed(self, engine, account: str) -> None: ...

    def close(self) -> None: ...


# factory(settings, engine, long_lived=bool) -> a Listener, or None when it has nothing to do
Factory = Callable[..., "Listener | None"]
_factories: list[Factory] = []
_open: list[Listener] = []
_lock = threading.Lock()


def install(factory: Factory) -> None:
    """Open `factory`'s listener with every run, watch and worker from now on (once, however often called)."""
    with _lock:
        if factory not in _factories:
            _factories.append(factory)


def uninstall(factory: Factory) -> None:
    """Stop opening `factory`'s listener."""
    with _lock:
        if factory in _factories:
            _factories.remove(factory)


@contextmanager
def listening(settings, engine, *, long_lived: bool = False) -> Iterator[list[Listener]]:
    """The installed listeners, open while the block runs: a run's (`long_lived` False) or a
    watch's or worker's, whose listeners may hold a connection and say when they stop."""
    with _lock:
        factories = list(_factories)
    opened = [listener for factory in factories if (listener := _open_one(factory, settings, engine, long_lived))]
    with _lock:
        _open.extend(opened)
    try:
        yield opened
    finally:
        with _lock:
            for listener in opened:
                _open.remove(listener)
        for listener in opened:
            _tell(listener.close)


def account_synced(engine, account: str) -> None:
    """Tell the open listeners that `account`'s sync has committed."""
    with _lock:
        listeners = list(_open)
    for listener in listeners:
        _tell(listener.account_synced, engine, account)


def bed_changed(engine, account: str, in_bed: bool, at) -> None:
    """Tell the open listeners that keep an `in_bed` state (the MQTT publisher) that `account`
    got into (True) or out of bed at `at`: a Withings push the sync stored (sync/events.py)."""
    with _lock:
        listeners = list(_open)
    for listener in listeners:
        call = getattr(listener, "bed_changed", None)
        if call is not None:
            _tell(call, engine, account, in_bed, at)


def account_removed(settings, engine, account: str) -> None:
    """Tell the installed listeners (opened for this) that `account` is gone."""
    with listening(settings, engine) as listeners:
        for listener in listeners:
            _tell(listener.account_removed, engine, account)


def _open_one(factory: Factory, settings, engine, long_lived: bool) -> Listener | None:
    try:
        return factory(settings, engine, long_lived=long_lived)
    except Exception as exc:  # a listener that cannot start is left out; the sync goes on
        log.warning("%s could not start: %s", getattr(factory, "__qualname__", factory), exc)
        log.debug("listener start failed", exc_info=exc)
        return None


def _tell(call, *args) -> None:
    try:
        call(*args)
    except Exception as exc:  # a listener's own failure: logged, and the sync's outcome stays as it is
        log.warning("%s failed: %s", getattr(call, "__qualname__", call), exc)
        log.debug("listener failed", exc_info=exc)
