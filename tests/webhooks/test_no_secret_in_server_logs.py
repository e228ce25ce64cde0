"""On uvicorn for real: no log line of the server or the receiver carries the Withings path secret."""

from __future__ import annotations

import logging
import socket

import requests

from tests.webhooks.conftest import PATH_SECRET


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_no_log_line_names_the_path_secret(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    base = f"{receiver.url}/webhooks/withings/{PATH_SECRET}"
    assert requests.head(base, timeout=5).status_code == 200
    form = {"userid": "3141592", "appli": "1", "startdate": "1", "enddate": "2"}
    assert requests.post(base, data=form, timeout=5).status_code == 200
    assert requests.post(base + "?again=" + PATH_SECRET, data=form, timeout=5).status_code == 200
    assert requests.post(base + "/extra", data=form, timeout=5).status_code == 404
    assert requests.get(base, timeout=5).status_code == 405
    for request in (
        f"POST /webhooks/withings/{PATH_SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n".encode(),
        f"GARBAGE /webhooks/withings/{PATH_SECRET} NOT-HTTP\r\n\r\n".encode(),
        f"POST /webhooks/withings/{PATH_SECRET} HTTP/1.1\r\nHost: x\r\n{'X' * 20000}: y\r\n\r\n".encode(),
    ):
        answer = _raw(receiver.url, request)
        assert PATH_SECRET.encode() not in answer
    server = [record for record in caplog.records if not record.name.startswith("urllib3")]  # not the test's client
    lines = [record.getMessage() + (record.exc_text or "") for record in server]
    assert any("/webhooks/withings/[secret]" in line for line in lines)
    assert not [line for line in lines if PATH_SECRET in line]
