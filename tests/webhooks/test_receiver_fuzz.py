"""Malformed, huge and hostile input: never a crash, never a 5xx, never the secret or the input back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import string
import time
from contextlib import contextmanager
from typing import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import WHOOP_CLIENT_SECRET
from storage.inbound import InboundEvent
from tests.webhooks.conftest import PATH_SECRET, asgi_call, config
from webhooks.receiver import MAX_BODY, create_app
from webhooks.sink import Outcome

ANSWERS = {  # every body the receiver may send: constants, so nothing a sender wrote comes back
    b"ok\n",
    b"Bad Request\n",
    b"Unauthorized\n",
    b"Payload Too Large\n",
    b"Too Many Requests\n",
    b"Service Unavailable\n",
    b"Not Found",
    b"Not Found\n",
    b"Method Not Allowed",
}


class _MemorySink:
    """Stores in a dict: the fuzz test exercises the receiver, not the database."""

    def __init__(self) -> None:
        self.events: dict[str, InboundEvent] = {}

    def accept(self, event: InboundEvent) -> Outcome:
        if event.user_id != 10129 and event.user_id != 3141592:
            return Outcome.UNKNOWN_USER
        new = event.dedupe_key not in self.events
        self.events.setdefault(event.dedupe_key, event)
        return Outcome.STORED if new else Outcome.DUPLICATE


SINK = _MemorySink()
APP = create_app(config(rate_per_minute=100_000), SINK)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=200)
hostile_text = st.one_of(
    header_text,
    st.sampled_from(["", "0", "-1", "9" * 40, "NaN", "1e309", "\u00ff" * 20, PATH_SECRET, "../" * 20]),
)
bodies = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda n, b: b * n, st.integers(1, 3 * MAX_BODY), st.sampled_from([b"a", b"{", b"[", b"%", b"\x00"])),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=50)),
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
        max_leaves=30,
    ).map(lambda value: repr(value).encode()),
    st.just(b"[" * 100_000),  # a nesting bomb
)
json_fields = st.fixed_dictionaries(
    {},
    optional={
        "user_id": st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=30), st.booleans(), st.none()),
        "id": st.one_of(st.integers(), st.text(max_size=80), st.lists(st.integers(), max_size=3)),
        "type": st.one_of(
            st.sampled_from(["sleep.updated", "recovery.deleted", "cycle.updated"]), st.text(max_size=20)
        ),
        "trace_id": st.one_of(st.text(max_size=200), st.integers(), st.none()),
    },
)


def _sign(body: bytes, stamp: str) -> str:
    return base64.b64encode(
        hmac.new(WHOOP_CLIENT_SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    ).decode()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every message the receiver logs in the block, at any level (a fresh list per example)."""
    lines, logger = _Lines(), logging.getLogger("webhooks")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines.messages
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)


def _check(status: int, body: bytes, sent: list[bytes], logged: list[str]) -> None:
    assert status < 500
    assert body in ANSWERS
    for message in logged:
        assert PATH_SECRET not in message and WHOOP_CLIENT_SECRET not in message
        for item in sent:  # no input echoed into a log line either (numbers a log names are ours)
            if len(item) >= 12:
                assert item.decode("latin-1") not in message


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "X" * 30]),
    path=st.one_of(
        st.sampled_from(["/webhooks/whoop", f"/webhooks/withings/{PATH_SECRET}", "/healthz", "/"]),
        st.builds(lambda s: f"/webhooks/withings/{s}", hostile_text),
        st.builds(lambda s: f"/webhooks/withings/{PATH_SECRET}{s}", hostile_text),
        st.text(max_size=100).map(lambda s: "/" + s),
    ),
    headers=st.dictionaries(
        st.sampled_from(
            ["x-whoop-signature", "x-whoop-signature-timestamp", "content-length", "content-type", "x-forwarded-for"]
        ),
        hostile_text,
        max_size=5,
    ),
    body=bodies,
    chunk=st.sampled_from([0, 1, 7, 4096]),
)
def test_any_request_gets_a_constant_answer_below_500(method, path, headers, body, chunk):
    with captured_logs() as logged:
        status, _, answer = asgi_call(APP, method, path, headers, body, chunk=chunk if len(body) < 20_000 else 4096)
    _check(status, answer, [body, *[v.encode("latin-1") for v in headers.values()]], logged)


@FUZZ
@given(fields=json_fields, skew_s=st.integers(-1000, 1000), extra=st.binary(max_size=64))
def test_signed_hostile_json_is_stored_or_refused_never_a_crash(fields, skew_s, extra):
    import json

    body = json.dumps(fields).encode() + extra
    stamp = str(int(time.time() * 1000) + skew_s * 1000)
    headers = {"x-whoop-signature": _sign(body, stamp), "x-whoop-signature-timestamp": stamp}
    with captured_logs() as logged:
        status, _, answer = asgi_call(APP, "POST", "/webhooks/whoop", headers, body)
    _check(status, answer, [body], logged)
    if abs(skew_s) > 301:
        assert status == 401


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(["userid", "appli", "startdate", "enddate", "date", "action", "x" * 20]),
        st.one_of(st.text(max_size=40), st.integers(-(2**70), 2**70).map(str)),
        max_size=7,
    ),
    raw=st.binary(max_size=200),
)
def test_hostile_withings_forms_are_stored_or_refused_never_a_crash(form, raw):
    from urllib.parse import urlencode

    for body in (urlencode(form).encode(), raw):
        with captured_logs() as logged:
            status, _, answer = asgi_call(APP, "POST", f"/webhooks/withings/{PATH_SECRET}", {}, body)
        _check(status, answer, [body], logged)
        assert status in (200, 400)


def test_the_path_secret_never_reaches_a_log_line_or_an_answer():
    paths = [f"/webhooks/withings/{PATH_SECRET}", f"/webhooks/withings/{PATH_SECRET}/more", f"/{PATH_SECRET}"]
    with captured_logs() as messages:
        for path in paths + [f"/webhooks/withings/{PATH_SECRET[:-1]}"]:
            for method in ("HEAD", "POST", "GET"):
                form = b"userid=10129&appli=1&startdate=1&enddate=2"
                status, headers, answer = asgi_call(APP, method, path, {}, form)
                assert PATH_SECRET.encode() not in answer + b"".join(headers.values())
    logged = "\n".join(messages)
    assert "/webhooks/withings/[secret]" in logged and PATH_SECRET not in logged
    assert set(string.ascii_letters) & set(logged)  # the log did say something
