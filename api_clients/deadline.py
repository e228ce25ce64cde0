"""A total deadline per HTTP request: a watchdog closes the socket of a request that overruns it.

requests' `timeout` bounds each socket read, not the whole answer: a server trickling one byte
per second never trips a read timeout. The watchdog shuts the request's socket down at the
deadline, which makes the blocked read return at once (plain HTTP and TLS alike).

One daemon thread watches every request of the process: a timer thread per request would cost
each request a thread start, and the wait for that thread to run.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies, get_netrc_auth
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the watchdog of the request this thread is sending


class _Watcher:
    """The one thread that fires the watchdogs whose deadline passed, started on first use."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, Watchdog]] = []  # a heap by deadline
        self._order = itertools.count()  # ties: the earlier armed first, never a Watchdog compared
        self._thread: threading.Thread | None = None

    def arm(self, watchdog: Watchdog, deadline: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (deadline, next(self._order), watchdog))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-watchdog", daemon=True)
                self._thread.start()
            elif self._due[0][2] is watchdog:  # earlier than what the thread sleeps towards
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _deadline, _order, watchdog = heapq.heappop(self._due)
            watchdog._fire()  # outside the lock: a request arming meanwhile does not wait for it


_WATCHER = _Watcher()


class Watchdog:
    """Arms a deadline for one request; at the deadline every socket the request used is shut down."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.fired = False
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._done = False

    def watch(self, connection: HTTPConnection) -> None:
        """Called by the connection as it sends the request."""
        with self._lock:
            self._connections.append(connection)

    def __enter__(self) -> Watchdog:
        _current.watchdog = self
        _WATCHER.arm(self, time.monotonic() + self.seconds)
        return self

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._done = True  # its entry leaves the watcher's heap when the deadline comes
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


class _EnvironmentOnce(requests.Session):
    """A Session that reads the environment once per host, not on every request.

    With `trust_env` (the default) requests reads the proxy variables (walking the whole
    environment twice), the CA bundle variables and ~/.netrc for every request it sends. This
    session asks requests the same questions, with requests' own functions, the first time it
    talks to a scheme and host, and keeps the answers: a proxy, NO_PROXY, a CA bundle or a
    .netrc entry works as before, and a change to them is seen by the next session (each run,
    each fetch thread has its own). A request that passes its own `proxies` is left to requests.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], tuple[dict, object]] = {}
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")

    def _of_host(self, url: str) -> tuple[dict, object]:
        host = urlsplit(url)[:2]
        found = self._environment.get(host)
        if found is None:
            found = self._environment[host] = (get_environ_proxies(url), get_netrc_auth(url))
        return found

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if self.trust_env and not request.auth and not self.auth:
            # requests would look ~/.netrc up now: an entry found once is used, and no entry is
            # a no-op auth, so that requests does not look again.
            request.auth = self._of_host(request.url)[1] or _no_auth
        return super().prepare_request(request)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env or (proxies and "no_proxy" in proxies):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        # requests.Session.merge_environment_settings, with the environment read once per host.
        proxies = dict(proxies or {})
        for scheme, proxy in self._of_host(url)[0].items():
            proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = self._ca_bundle or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def deadline_session(user_agent: str) -> requests.Session:
    """A requests.Session whose requests can be stopped by a Watchdog; it reads the environment
    (proxies, CA bundle, .netrc) once per host."""
    session = _EnvironmentOnce()
    session.headers["User-Agent"] = user_agent
    for prefix in ("http://", "https://"):
        session.mount(prefix, DeadlineAdapter())
    return session
