"""The sandbox's tiny request/response model, independent of the socket server."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl


@dataclass
class Request:
    """One parsed HTTP request: query and urlencoded form kept apart, `params` merges them."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    @property
    def params(self) -> dict[str, str]:
        """Query and form together (Withings accepts parameters in either)."""
        return {**self.query, **self.form}

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return self.headers.get(name.lower())

    def bearer(self) -> str | None:
        """The token of an `Authorization: Bearer ...` header."""
        value = self.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def basic(self) -> tuple[str, str] | None:
        """(user, password) of an `Authorization: Basic ...` header."""
        value = self.header("authorization") or ""
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except ValueError:
            return None
        return user, password

    def json(self) -> dict:
        """The body as a JSON object ({} when empty)."""
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    """What to send back; `drop` closes the connection without any response; `trickle_ms` sends
    the whole answer one byte at a time, that many milliseconds apart. `person` (for the request
    log, never sent) is the sandbox person whose token the request carried or obtained."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    trickle_ms: int = 0
    person: int | None = None


def parse_pairs(text: str) -> dict[str, str]:
    """A query string or urlencoded body as a dict (the last value of a repeated key wins)."""
    return dict(parse_qsl(text, keep_blank_values=True))


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def text_response(text: str, status: int) -> Response:
    """A plain-text response."""
    return Response(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


def redirect(location: str) -> Response:
    """A 302 to `location`."""
    return Response(302, b"", {"Location": location})
