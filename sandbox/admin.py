"""Admin endpoints under /_sandbox/: move the clock, mutate data, inject faults, inspect requests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Callable

from .push_admin import ROUTES as PUSH_ROUTES
from .push_admin import pushing
from .timeutil import parse_iso
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .app import SandboxApp

FAULT_OPTIONS = ("times", "probability", "status", "reset", "ms", "style", "wait_seconds")


def _params(req: Request) -> dict:
    """Query, form and a JSON object body, merged."""
    params: dict = {**req.query, **req.form}
    if req.body and "json" in (req.header("content-type") or "json"):
        params.update(req.json())
    return params


def _flag(value: object) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def _when(value: object):
    """`at` as unix seconds or an ISO date-time; None when absent."""
    if value in (None, ""):
        return None
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else parse_iso(text)


def _person(p: dict) -> int:
    """The `person` parameter (default 0: the single member of old)."""
    return int(p.get("person", 0))


def _advance(app: SandboxApp, p: dict) -> dict:
    return {"advanced": app.advance_day(int(p.get("days", 1))), "state": app.history.summary()}


def _weigh_in(app: SandboxApp, p: dict) -> dict:
    grpid = app.add_weigh_in(float(p["kg"]), _when(p.get("at")), _flag(p.get("manual", "0")), _person(p))
    return {"grpid": grpid}


def _edit(app: SandboxApp, p: dict) -> dict:
    return {"grpid": int(p["grpid"]), "modified": app.edit_weigh_in(int(p["grpid"]), float(p["kg"]), _person(p))}


def _delete(app: SandboxApp, p: dict) -> dict:
    """Delete a WHOOP record (`collection` sleep, workout, recovery or cycle; `id` as the API names it)."""
    ident = str(p["id"])
    record = app.delete_record(str(p["collection"]), int(ident) if ident.isdigit() else ident, _person(p))
    return {"deleted": {"collection": str(p["collection"]), "id": ident, "found": bool(record)}}


def _fault(app: SandboxApp, p: dict) -> dict:
    cast = {"probability": float, "style": str}
    options = {key: cast.get(key, int)(p[key]) for key in FAULT_OPTIONS if p.get(key) not in (None, "")}
    return {"fault": app.faults.add(str(p["kind"]), str(p.get("path", "/")), **options).as_dict()}


def _reset_faults(app: SandboxApp, p: dict) -> dict:
    app.faults.reset()
    return {"faults": []}


def _latency(app: SandboxApp, p: dict) -> dict:
    app.faults.latency_ms = int(p.get("ms", 0))
    return {"latency_ms": app.faults.latency_ms}


def _refresh_token(app: SandboxApp, p: dict) -> dict:
    provider = str(p.get("provider", "whoop"))
    return {"provider": provider, "person": _person(p), "refresh_token": app.mint_refresh_token(provider, _person(p))}


def _expire_tokens(app: SandboxApp, p: dict) -> dict:
    app.expire_access_tokens(p.get("provider") or None)
    return {"expired": p.get("provider") or "all"}


def _token_clock(app: SandboxApp, p: dict) -> dict:
    app.token_clock.advance(float(p.get("seconds", 0)))
    return {"token_clock_offset": app.token_clock.offset}


def _token_ttl(app: SandboxApp, p: dict) -> dict:
    app.set_access_ttl(float(p["seconds"]), p.get("provider") or None)
    return {"access_ttl": float(p["seconds"]), "provider": p.get("provider") or "all"}


def _clear_requests(app: SandboxApp, p: dict) -> dict:
    app.clear_requests()
    return {"requests": []}


def _day(value: object):
    from datetime import date

    return date.fromisoformat(str(value))


def _edit_activity(app: SandboxApp, p: dict) -> dict:
    return {"date": str(p["date"]), "modified": app.edit_activity(_day(p["date"]), int(p["steps"]), _person(p))}


def _edit_sleep(app: SandboxApp, p: dict) -> dict:
    return {"date": str(p["date"]), "modified": app.edit_sleep_score(_day(p["date"]), int(p["score"]), _person(p))}


def _device(app: SandboxApp, p: dict) -> dict:
    last = _when(p.get("last_session"))
    last_session = last if last is None or isinstance(last, int) else int(last.timestamp())
    return {"device": app.set_device(str(p["model"]), p.get("battery") or None, last_session, _person(p))}


def _sign_in(app: SandboxApp, p: dict) -> dict:
    app.sign_in(_person(p))
    return {"signed_in": _person(p)}


def _people(app: SandboxApp, p: dict) -> dict:
    return {"people": [vars(app.people.identity(index)) for index in range(app.people.count)]}


def _deny_scope(app: SandboxApp, p: dict) -> dict:
    app.deny_scope(str(p["provider"]), str(p["scope"]), not _flag(p.get("grant", "0")))
    return {"provider": p["provider"], "scope": p["scope"], "denied": not _flag(p.get("grant", "0"))}


ROUTES: dict[tuple[str, str], Callable[[SandboxApp, dict], dict]] = {
    ("POST", "advance"): _advance,
    ("POST", "weigh-in"): _weigh_in,
    ("POST", "edit-weigh-in"): _edit,
    ("POST", "delete"): _delete,
    ("POST", "rescore"): lambda app, p: {"cycle_id": app.rescore_latest(_person(p))},
    ("POST", "edit-activity"): _edit_activity,
    ("POST", "edit-sleep"): _edit_sleep,
    ("POST", "deny-scope"): _deny_scope,
    ("POST", "device"): _device,
    ("POST", "fault"): _fault,
    ("POST", "reset-faults"): _reset_faults,
    ("GET", "faults"): lambda app, p: {"faults": app.faults.rules()},
    ("POST", "latency"): _latency,
    ("POST", "refresh-token"): _refresh_token,
    ("POST", "expire-tokens"): _expire_tokens,
    ("POST", "token-clock"): _token_clock,
    ("POST", "token-ttl"): _token_ttl,
    ("POST", "env"): lambda app, p: app.environment(mint_tokens=not p.get("no_tokens"), person=_person(p)),
    ("POST", "sign-in"): _sign_in,
    ("GET", "people"): _people,
    ("GET", "state"): lambda app, p: app.state(),
    ("GET", "requests"): lambda app, p: {"requests": app.requests},
    ("POST", "clear-requests"): _clear_requests,
    **PUSH_ROUTES,
}


def handle(app: SandboxApp, req: Request) -> Response:
    """Run one admin call; a bad or missing parameter is HTTP 400 with the reason."""
    name = req.path[len("/_sandbox/") :].strip("/")
    action = ROUTES.get((req.method, name))
    if action is None:
        known = sorted(f"{method} /_sandbox/{path}" for method, path in ROUTES)
        return json_response({"error": f"no admin endpoint {req.method} {req.path}", "endpoints": known}, 404)
    try:
        return json_response(pushing(app, name, action, _params(req)))
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)
