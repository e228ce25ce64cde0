"""Where accepted events go: the `inbound_event` table, for users an account holds.

Whether a user id is ours is asked of a cached set of (provider, user_id), read again when an
unknown id arrives and the copy is older than KNOWN_USERS_TTL, so an account linked while
`serve` runs is accepted within a minute and a flood of unknown ids costs one read a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import Enum
from typing import Callable

from sqlalchemy.engine import Engine

from configuration import clock
from storage.inbound import InboundEvent, known_users, store_event

log = logging.getLogger(__name__)
KNOWN_USERS_TTL = 60.0  # seconds


class Outcome(Enum):
    """What became of an accepted delivery (the sender gets the same 200 for each)."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    UNKNOWN_USER = "unknown user"


class DatabaseSink:
    """Commits events to `inbound_event`; the receiver calls `accept` on a worker thread."""

    def __init__(
        self,
        engine: Engine,
        monotonic: Callable[[], float] = time.monotonic,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.on_stored = on_stored  # told of each new event once committed (the processor wakes)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._known: set[tuple[str, int]] = set()
        self._read_at: float | None = None

    def _is_known(self, provider: str, user_id: int) -> bool:
        with self._lock:
            if (provider, user_id) in self._known:
                return True
            stale = self._read_at is None or self._monotonic() - self._read_at >= KNOWN_USERS_TTL
            if stale:
                self._known = known_users(self.engine)
                self._read_at = self._monotonic()
            return (provider, user_id) in self._known

    def accept(self, event: InboundEvent) -> Outcome:
        """Store `event` (committed when this returns) unless no account holds its user."""
        if not self._is_known(event.provider, event.user_id):
            return Outcome.UNKNOWN_USER
        stored = store_event(self.engine, event, clock.utcnow())
        if stored and self.on_stored is not None:
            self.on_stored()
        return Outcome.STORED if stored else Outcome.DUPLICATE
