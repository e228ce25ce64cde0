"""A total deadline per HTTP request: a watchdog closes the socket of a request that overruns it.

requests' `timeout` bounds each socket read, not the whole answer: a server trickling one byte
per second never trips a read timeout. The watchdog shuts the request's socket down at the
deadline, which makes the blocked read return at once (plain HTTP and TLS alike).
"""

from __future__ import annotations

import socket
import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the watchdog of the request this thread is sending


class Watchdog:
    """Arms a timer for one request; at the deadline every socket the request used is shut down."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.fired = False
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def watch(self, connection: HTTPConnection) -> None:
        """Called by the connection as it sends the request."""
        with self._lock:
            self._connections.append(connection)

    def __enter__(self) -> Watchdog:
        _current.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        _current.watchdog = None

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for connection in self._connections:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    try:
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # also for TLS sockets
                    except OSError:
                        continue  # already closed: nothing left to stop


class _Watched:
    def request(self, *args, **kwargs):  # urllib3 calls this once per request on a connection
        watchdog = getattr(_current, "watchdog", None)
        if watchdog is not None:
            watchdog.watch(self)
        return super().request(*args, **kwargs)


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections report to the current Watchdog."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def deadline_session(user_agent: str) -> requests.Session:
    """A requests.Session whose requests can be stopped by a Watchdog."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    for prefix in ("http://", "https://"):
        session.mount(prefix, DeadlineAdapter())
    return session
