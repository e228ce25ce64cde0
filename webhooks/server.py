"""`serve`: the receiver on uvicorn, with uvicorn's access log replaced by one that names no secret."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from contextlib import ExitStack, contextmanager

from configuration.logs import register_secret
from configuration.settings import Settings
from storage.engine import make_engine
from sync import hooks
from sync.events import processing
from webhooks import DEFAULT_TRUSTED_PROXIES
from webhooks.receiver import ReceiverConfig, create_app
from webhooks.sink import DatabaseSink

log = logging.getLogger("webhooks")


def receiver_config(settings: Settings, rate_per_minute: int) -> ReceiverConfig:
    """What the receiver verifies against, from the settings."""
    register_secret(settings.withings_webhook_secret)
    return ReceiverConfig(
        whoop_client_secret=settings.whoop.client_secret,
        withings_path_secret=settings.withings_webhook_secret,
        rate_per_minute=rate_per_minute,
    )


def uvicorn_server(app, sock: socket.socket, trusted_proxies: str = DEFAULT_TRUSTED_PROXIES):
    """A uvicorn Server for `app` on a bound socket, logging through our (masking) handlers only."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self):
            # uvicorn raises a caught SIGTERM/SIGINT again once it has shut down, which kills the
            # process before `serve` stops its processor and closes the database; a signal here
            # only ends serving, and `serve` then returns (exit 0, as `watch` and `worker`).
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(
        app,
        access_log=False,  # it prints the request path, which holds the Withings secret
        log_config=None,  # the root logger's handlers: every line masked (configuration.logs)
        proxy_headers=True,
        forwarded_allow_ips=trusted_proxies,
        server_header=False,
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers
        lifespan="off",
    )
    return Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket: connections queue from now on, before the server's loop runs."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: an answer's head and body go out in two writes, and with
    # Nagle's algorithm on the body would wait for the sender's delayed ACK on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: Settings, host: str, port: int, rate_per_minute: int, trusted_proxies: str, *, process: bool = True
) -> None:
    """Receive webhooks until interrupted, processing the events on a thread of this process
    (`process`; off for a receiver whose database role may only insert, with `worker` or `watch`
    processing); OSError when the port cannot be bound."""
    engine = make_engine(
        settings.database_url,
        connect_timeout=settings.db_connect_timeout,
        statement_timeout=settings.db_statement_timeout,
    )
    sink = DatabaseSink(engine)
    app = create_app(receiver_config(settings, rate_per_minute), sink)
    sock = bind(host, port)
    where = f"http://{'[' + host + ']' if ':' in host else host}:{sock.getsockname()[1]}"
    log.info("receiving webhooks on %s: POST /webhooks/whoop, HEAD|POST /webhooks/withings/<secret>", where)
    try:
        with ExitStack() as stack:
            if process:
                # The processor's requests and writes run on its own thread: the receiver's answers
                # never wait for them (its commits queue behind a load of a few rows at most).
                stack.enter_context(hooks.listening(settings, engine, long_lived=True))
                sink.on_stored = stack.enter_context(processing(settings, engine)).wake
            uvicorn_server(app, sock, trusted_proxies).run(sockets=[sock])
    finally:
        sock.close()
        engine.dispose()
