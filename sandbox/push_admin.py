"""Admin for the pushes: set targets and faults, read the delivery log; every data change pushes.

`POST /_sandbox/push` (JSON or query: whoop_url, withings_url, time_scale), `POST
/_sandbox/push-fault` (kind, times, provider), `GET /_sandbox/push` (targets, faults, pending),
`GET /_sandbox/push-log`, `POST /_sandbox/push-wait?timeout=` (returns once nothing is in flight).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .push_events import events_between, snapshot

if TYPE_CHECKING:
    from .app import SandboxApp

# Admin calls that change no data (or only tokens and faults): no snapshot, nothing pushed.
QUIET = frozenset(
    {"fault", "reset-faults", "faults", "latency", "refresh-token", "expire-tokens", "token-clock", "token-ttl",
     "env", "sign-in", "people", "state", "requests", "clear-requests", "deny-scope", "device"}
)  # fmt: skip


def pushing(app: SandboxApp, route: str, action: Callable[[SandboxApp, dict], dict], params: dict) -> dict:
    """Run admin `action`; when pushing is on, deliver what it changed."""
    if route in QUIET or route.startswith("push") or not app.push.enabled:
        return action(app, params)
    app.people.life(int(params.get("person", 0)))  # built before, so its change is a change, not a birth
    before = snapshot(app)
    result = action(app, params)
    app.push.deliver(events_between(app, route, params, before, snapshot(app)))
    return result


def _configure(app: SandboxApp, p: dict) -> dict:
    return app.push.configure(p.get("whoop_url"), p.get("withings_url"), p.get("time_scale"))


def _fault(app: SandboxApp, p: dict) -> dict:
    return {"fault": app.push.add_fault(str(p["kind"]), int(p.get("times", 1)), p.get("provider")).as_dict()}


def _wait(app: SandboxApp, p: dict) -> dict:
    return {"idle": app.push.wait_idle(float(p.get("timeout", 10)))}


ROUTES: dict[tuple[str, str], Callable[[SandboxApp, dict], dict]] = {
    ("POST", "push"): _configure,
    ("GET", "push"): lambda app, p: app.push.state(),
    ("POST", "push-fault"): _fault,
    ("GET", "push-log"): lambda app, p: {"deliveries": list(app.push.log)},
    ("POST", "push-wait"): _wait,
}
